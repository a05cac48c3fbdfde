//! The value the server stores under each key: the bytes as the client sent
//! them plus what the API returns about them (content type, ETag, tags,
//! expiry, metadata). The tiers also keep TTL and tags in each entry's
//! envelope; the server keeps its own copy here so that `GET` can answer
//! with them without a second lookup.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::HeaderValue;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// One stored entry. Shared as `Arc<Item>` so a memory-tier hit clones a
/// pointer, not the body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// The value's bytes (JSON text for [`ItemKind::Json`]).
    pub body: Bytes,
    /// How the value was written.
    pub kind: ItemKind,
    /// The `Content-Type` it was stored with.
    pub content_type: String,
    /// The strong ETag: 128 bits of BLAKE3 of the type and body, kept as
    /// bytes (16, where hex text would take a 24-byte `String` and its own
    /// allocation per entry); [`Item::etag_hex`] writes it.
    pub etag: [u8; 16],
    /// Tags, as given.
    pub tags: Vec<String>,
    /// Caller's metadata.
    pub metadata: BTreeMap<String, String>,
    /// Eviction priority.
    pub priority: i32,
    /// Recreation cost in milliseconds, if given.
    pub cost_ms: Option<u64>,
    /// Expiry, in milliseconds since the Unix epoch; `None` for never.
    pub expires_at_ms: Option<u64>,
    /// When it was written, in milliseconds since the Unix epoch.
    pub stored_at_ms: u64,
    /// The `ETag` and `Content-Type` header values, made on the first read
    /// and shared by every later one (cloning a `HeaderValue` is a
    /// reference count, making one is a validation and a copy). Boxed, so
    /// an entry never read this way carries 16 bytes for it, not 88. Not
    /// stored.
    #[serde(skip)]
    pub headers: std::sync::OnceLock<Box<(HeaderValue, HeaderValue)>>,
}

/// How a value was written, and so how it is returned in JSON answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ItemKind {
    /// Raw bytes from `PUT /keys/{key}`.
    Raw,
    /// A JSON value from `/set` or `/mset`.
    Json,
}

impl Item {
    /// The ETag of `body` stored as `content_type`: 128 bits of BLAKE3, so
    /// a collision (a wrong `304`) is not a practical concern.
    pub fn etag_of(content_type: &str, body: &[u8]) -> [u8; 16] {
        let mut hasher = blake3::Hasher::new();
        hasher.update(content_type.as_bytes());
        hasher.update(&[0]);
        hasher.update(body);
        let mut etag = [0; 16];
        etag.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
        etag
    }

    /// The ETag as 32 lower-case hex digits (without quotes).
    pub fn etag_hex(&self) -> String {
        use std::fmt::Write as _;
        self.etag
            .iter()
            .fold(String::with_capacity(32), |mut out, b| {
                let _ = write!(out, "{b:02x}");
                out
            })
    }

    /// The `ETag` (quoted) and `Content-Type` header values.
    pub fn header_values(&self) -> &(HeaderValue, HeaderValue) {
        self.headers.get_or_init(|| {
            let etag =
                HeaderValue::from_maybe_shared(Bytes::from(format!("\"{}\"", self.etag_hex())))
                    // Hex digits and quotes are always a valid header value.
                    .unwrap_or_else(|_| HeaderValue::from_static("\"\""));
            // The content type was a header value (PUT) or checked to be
            // one (import), or is a constant; the fallback is never used.
            let content_type = HeaderValue::from_str(&self.content_type)
                .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
            Box::new((etag, content_type))
        })
    }

    /// Milliseconds left before expiry at `now_ms`; `None` for never.
    pub fn ttl_left_ms(&self, now_ms: u64) -> Option<u64> {
        self.expires_at_ms.map(|at| at.saturating_sub(now_ms))
    }

    /// The weight of this entry in the memory tier: key, body and the
    /// fixed part, so `max_memory` bounds what the entries really take.
    pub fn weight(key: &str, item: &Arc<Item>) -> u32 {
        let extra: usize = item.tags.iter().map(String::len).sum::<usize>()
            + item
                .metadata
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>();
        let total = key.len() + item.body.len() + item.content_type.len() + extra + 160;
        u32::try_from(total).unwrap_or(u32::MAX)
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
