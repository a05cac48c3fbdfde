//! An entry as JSON: what `mget` and `export` return, what `mset`,
//! `warm-up` and `import` accept. JSON values travel as JSON, raw values as
//! base64 with their content type.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::options::{CostSpec, TtlSpec, WriteOptions, check_key};
use crate::config::Limits;
use crate::error::ApiError;
use crate::item::{Item, ItemKind, now_ms};

/// The JSON content type JSON values are stored with.
pub const JSON: &str = "application/json";

/// One entry to write: `POST /set`, and each entry of `mset`, `warm-up`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetBody {
    /// The key.
    pub key: String,
    /// Any JSON value, returned as JSON by `GET`.
    pub value: serde_json::Value,
    /// Seconds, a duration (`"90s"`, `"1h"`) or `"none"`; absent: the
    /// namespace's default.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub ttl: TtlSpec,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Eviction priority.
    #[serde(default)]
    pub priority: i32,
    /// Recreation cost: seconds or a duration.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub cost: Option<CostSpec>,
    /// String metadata.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

impl SetBody {
    /// Checks every entry of a batch before any is stored: one bad entry
    /// fails the whole request.
    ///
    /// # Errors
    /// The first bad entry's 400 or 413.
    pub fn prepare_all(entries: Vec<Self>, limits: &Limits) -> Result<Vec<Prepared>, ApiError> {
        entries.into_iter().map(|e| e.prepare(limits)).collect()
    }

    /// Checks the entry and encodes its value.
    ///
    /// # Errors
    /// 400 or 413 saying what is wrong.
    pub fn prepare(self, limits: &Limits) -> Result<Prepared, ApiError> {
        check_key(&self.key, limits.max_key_bytes)?;
        let body = serde_json::to_vec(&self.value)
            .map_err(|e| ApiError::bad_request(format!("the value cannot be encoded: {e}")))?;
        let options = WriteOptions {
            ttl: self.ttl,
            tags: self.tags,
            priority: self.priority,
            cost: self.cost,
            metadata: self.metadata,
        };
        Prepared::new(
            self.key,
            Bytes::from(body),
            ItemKind::Json,
            JSON.to_owned(),
            options,
            limits,
        )
    }
}

/// An entry checked and ready to store.
#[derive(Debug)]
pub struct Prepared {
    /// The key.
    pub key: String,
    body: Bytes,
    kind: ItemKind,
    content_type: String,
    options: WriteOptions,
}

impl Prepared {
    /// Checks the value's size and the options.
    ///
    /// # Errors
    /// 413 for a value over the limit, 400 for bad options.
    pub fn new(
        key: String,
        body: Bytes,
        kind: ItemKind,
        content_type: String,
        options: WriteOptions,
        limits: &Limits,
    ) -> Result<Self, ApiError> {
        if body.len() as u64 > limits.max_value_bytes {
            return Err(ApiError::too_large(format!(
                "the value of {key:?} is {} bytes, more than limits.max_value_bytes = {}",
                body.len(),
                limits.max_value_bytes
            )));
        }
        options.check()?;
        Ok(Self {
            key,
            body,
            kind,
            content_type,
            options,
        })
    }

    /// The item and options, with `default_ttl` for an entry without one.
    pub fn into_entry(
        self,
        default_ttl: Option<Duration>,
    ) -> (String, Arc<Item>, strata::EntryOptions) {
        let (item, options) =
            self.options
                .into_entry(self.body, self.kind, self.content_type, default_ttl);
        (self.key, item, options)
    }
}

/// An entry as returned by `mget` and `export`, and accepted by `import`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// The key.
    pub key: String,
    /// A JSON value (entries written with `set`/`mset`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
    /// A raw value, base64 (entries written with `PUT /keys`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_base64: Option<String>,
    /// The stored content type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Milliseconds left before expiry; `null` or absent for never.
    #[serde(default)]
    pub ttl_ms: Option<u64>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Eviction priority.
    #[serde(default)]
    pub priority: i32,
    /// Recreation cost in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_ms: Option<u64>,
    /// String metadata.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// The ETag (ignored by `import`: it is recomputed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

impl Record {
    /// The record of a stored item.
    pub fn of(key: String, item: &Item) -> Self {
        let (value, value_base64) = match item.kind {
            ItemKind::Json => match serde_json::from_slice(&item.body) {
                Ok(v) => (Some(v), None),
                // Not expected (JSON items are written from parsed JSON),
                // but never lose the bytes.
                Err(_) => (None, Some(BASE64.encode(&item.body))),
            },
            ItemKind::Raw => (None, Some(BASE64.encode(&item.body))),
        };
        Self {
            key,
            value,
            value_base64,
            content_type: Some(item.content_type.clone()),
            ttl_ms: item.ttl_left_ms(now_ms()),
            tags: item.tags.clone(),
            priority: item.priority,
            cost_ms: item.cost_ms,
            metadata: item.metadata.clone(),
            etag: Some(item.etag_hex()),
        }
    }

    /// The record as an entry to store.
    ///
    /// # Errors
    /// 400 when it has no value, two values or bad base64; as
    /// [`Prepared::new`] otherwise.
    pub fn prepare(self, limits: &Limits) -> Result<Prepared, ApiError> {
        check_key(&self.key, limits.max_key_bytes)?;
        let (body, kind, default_type) = match (self.value, self.value_base64) {
            (Some(value), None) => {
                let body = serde_json::to_vec(&value).map_err(|e| {
                    ApiError::bad_request(format!("the value cannot be encoded: {e}"))
                })?;
                (Bytes::from(body), ItemKind::Json, JSON)
            }
            (None, Some(encoded)) => {
                let body = BASE64.decode(encoded.as_bytes()).map_err(|e| {
                    ApiError::bad_request(format!("value_base64 of {:?}: {e}", self.key))
                })?;
                (Bytes::from(body), ItemKind::Raw, "application/octet-stream")
            }
            _ => {
                return Err(ApiError::bad_request(format!(
                    "entry {:?} needs exactly one of value and value_base64",
                    self.key
                )));
            }
        };
        let ttl = match self.ttl_ms {
            None => TtlSpec::Never,
            // An entry exported in its last millisecond is already gone.
            Some(0) => {
                return Err(ApiError::bad_request(format!(
                    "entry {:?} has expired",
                    self.key
                )));
            }
            Some(ms) => TtlSpec::parse(&format!("{ms}ms"))?,
        };
        let options = WriteOptions {
            ttl,
            tags: self.tags,
            priority: self.priority,
            cost: self.cost_ms.map(|ms| CostSpec(Duration::from_millis(ms))),
            metadata: self.metadata,
        };
        let content_type = self.content_type.unwrap_or_else(|| default_type.to_owned());
        if axum::http::HeaderValue::from_str(&content_type).is_err() {
            return Err(ApiError::bad_request(format!(
                "content_type of {:?} is not a header value",
                self.key
            )));
        }
        Prepared::new(self.key, body, kind, content_type, options, limits)
    }
}
