//! The envelope: the versioned binary record every lower tier stores.
//!
//! A tier below the memory tier (disk, Redis) stores bytes, not values. The
//! [`Envelope`] is what those bytes say: one cache entry's serialized value
//! (the payload, compressed or not) with everything the stack needs to
//! trust and use it without the memory tier: when it was written, when it
//! expires, its tags and their epochs, its priority, cost and metadata.
//!
//! Making one is two steps: the value becomes bytes with a [`Codec`]
//! ([`encode_value`]), then [`Envelope::set_value_bytes`] compresses them at
//! a [`CompressionLevel`], keeping them uncompressed when that would not
//! shrink them. [`Envelope::encode`] writes the record; [`Envelope::decode`]
//! verifies and parses it; [`Envelope::value_bytes`] decompresses the value
//! within a size limit, and [`decode_value`] turns it back into a value.
//!
//! The byte layout, its checksum and versioning rule, and what a reader does
//! with damaged records are documented in `docs/format.md`.
//!
//! ```
//! use strata::envelope::{Codec, CompressionLevel, Envelope};
//!
//! let mut envelope = Envelope {
//!     codec: Codec::Binary,
//!     created_at_ms: 1_700_000_000_000,
//!     expires_at_ms: Some(1_700_000_060_000),
//!     tags: vec![("users".to_string(), 3)],
//!     ..Envelope::default()
//! };
//! envelope.set_value(&vec!["Ada".to_string(); 100], CompressionLevel::Fast)?;
//! let bytes = envelope.encode();
//!
//! let read = Envelope::decode(&bytes)?;
//! assert_eq!(read, envelope);
//! assert!(!read.is_expired(1_700_000_059_999));
//! let names: Vec<String> = read.value(1 << 20)?;
//! assert_eq!(names.len(), 100);
//! # Ok::<(), strata::envelope::EnvelopeError>(())
//! ```

mod codec;
mod compress;
mod error;
mod reader;
mod wire;

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use codec::{Codec, decode_value, encode_value};
pub use compress::{Compression, CompressionLevel};
pub use error::EnvelopeError;
pub use wire::{MAGIC, VERSION};

/// One cache entry as a lower tier stores it.
///
/// The fields are public so the stack can fill them from
/// [`EntryOptions`](crate::EntryOptions); [`set_value_bytes`](Self::set_value_bytes)
/// keeps `compression`, `raw_len` and `payload` consistent. A record whose
/// fields disagree (an uncompressed payload whose length is not `raw_len`)
/// encodes, but fails to decode and to open.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Envelope {
    /// How the value was serialized.
    pub codec: Codec,
    /// The algorithm applied to `payload`. Default: [`Compression::None`].
    pub compression: Compression,
    /// When the entry was written, in ms since the Unix epoch: the version
    /// stamp that orders two writes of one key.
    pub created_at_ms: u64,
    /// When the entry expires, in ms since the Unix epoch; `None` for never.
    pub expires_at_ms: Option<u64>,
    /// Each tag with its epoch at write time: the entry is stale once a
    /// tag's epoch has moved past the one stored here.
    pub tags: Vec<(String, u64)>,
    /// The entry's priority (see
    /// [`EntryOptions::with_priority`](crate::EntryOptions::with_priority)).
    pub priority: i32,
    /// The time to recreate the value, in microseconds, if known.
    pub cost_micros: Option<u64>,
    /// The entry's metadata pairs.
    pub metadata: BTreeMap<String, String>,
    /// The length of the serialized value: of `payload` after decompression.
    pub raw_len: u32,
    /// The value as stored: compressed when `compression` is not `None`.
    pub payload: Vec<u8>,
}

impl Envelope {
    /// Sets payload/compression/raw_len from the serialized value,
    /// compressing at `level` and falling back to [`Compression::None`] when
    /// compression does not make it smaller.
    ///
    /// # Errors
    /// [`EnvelopeError::TooLarge`] when `raw.len() > u32::MAX`;
    /// [`EnvelopeError::Compress`] when the compressor fails. On error the
    /// envelope is unchanged.
    pub fn set_value_bytes(
        &mut self,
        raw: Vec<u8>,
        level: CompressionLevel,
    ) -> Result<(), EnvelopeError> {
        let raw_len = raw_len_of(raw.len())?;
        // Every fallible step comes before the first assignment, so an error
        // leaves the envelope as it was.
        let (compression, payload) = match compress::compress(&raw, level)? {
            Some(compressed) => compressed,
            None => (Compression::None, raw),
        };
        self.compression = compression;
        self.payload = payload;
        self.raw_len = raw_len;
        Ok(())
    }

    /// Serializes `value` with `self.codec`, then stores it as
    /// [`set_value_bytes`](Self::set_value_bytes) does.
    ///
    /// # Errors
    /// [`EnvelopeError::Encode`] when the codec refuses the value; otherwise
    /// as [`set_value_bytes`](Self::set_value_bytes).
    pub fn set_value<V: Serialize + ?Sized>(
        &mut self,
        value: &V,
        level: CompressionLevel,
    ) -> Result<(), EnvelopeError> {
        let raw = encode_value(self.codec, value)?;
        self.set_value_bytes(raw, level)
    }

    /// The serialized value, decompressed. `max_len` bounds the decompressed
    /// size, so a corrupt or hostile `raw_len` can never make us allocate
    /// gigabytes. Borrowed when the payload is stored uncompressed.
    ///
    /// # Errors
    /// [`EnvelopeError::RawLenTooLarge`] when `raw_len > max_len`, checked
    /// before anything is allocated; [`EnvelopeError::Decompress`] when the
    /// payload does not decompress within `raw_len` bytes;
    /// [`EnvelopeError::RawLenMismatch`] when it yields other than `raw_len`
    /// bytes.
    pub fn value_bytes(&self, max_len: usize) -> Result<Cow<'_, [u8]>, EnvelopeError> {
        if usize::try_from(self.raw_len).map_or(true, |len| len > max_len) {
            return Err(EnvelopeError::RawLenTooLarge {
                raw_len: self.raw_len,
                max_len,
            });
        }
        match self.compression {
            Compression::None => {
                if usize::try_from(self.raw_len).ok() != Some(self.payload.len()) {
                    return Err(EnvelopeError::RawLenMismatch {
                        expected: self.raw_len,
                        actual: self.payload.len(),
                    });
                }
                Ok(Cow::Borrowed(&self.payload))
            }
            compression => {
                compress::decompress(compression, &self.payload, self.raw_len).map(Cow::Owned)
            }
        }
    }

    /// The value, decompressed within `max_len` bytes and deserialized with
    /// `self.codec`.
    ///
    /// # Errors
    /// As [`value_bytes`](Self::value_bytes), then
    /// [`EnvelopeError::Decode`] when the bytes are not a `V`.
    pub fn value<V: DeserializeOwned>(&self, max_len: usize) -> Result<V, EnvelopeError> {
        decode_value(self.codec, &self.value_bytes(max_len)?)
    }

    /// The record, byte for byte as `docs/format.md` describes, ending in a
    /// CRC-32 checksum of every byte before it.
    pub fn encode(&self) -> Vec<u8> {
        wire::encode(self)
    }

    /// Parses and verifies a record: magic, version, then the checksum
    /// before any length field is trusted, then every length bounded by the
    /// bytes that remain. Never panics, and never allocates more than a
    /// small multiple of `bytes.len()`.
    ///
    /// # Errors
    /// [`EnvelopeError::BadMagic`], [`EnvelopeError::UnsupportedVersion`],
    /// [`EnvelopeError::ChecksumMismatch`], [`EnvelopeError::Truncated`],
    /// [`EnvelopeError::UnknownFlags`], [`EnvelopeError::UnknownCodec`],
    /// [`EnvelopeError::UnknownCompression`] and
    /// [`EnvelopeError::Malformed`] (trailing bytes, invalid UTF-8, a
    /// non-canonical field), each as its name says. Every one is
    /// [corruption](EnvelopeError::is_corruption).
    pub fn decode(bytes: &[u8]) -> Result<Envelope, EnvelopeError> {
        wire::decode(bytes)
    }

    /// Whether the entry has expired at `now_ms`: at its deadline or after,
    /// as in the memory tier.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expires_at_ms.is_some_and(|at| at <= now_ms)
    }
}

/// The `raw_len` of a value `len` bytes long.
fn raw_len_of(len: usize) -> Result<u32, EnvelopeError> {
    u32::try_from(len).map_err(|_| EnvelopeError::TooLarge {
        // usize fits in u64 on every target Rust supports.
        len: len as u64,
        limit: u64::from(u32::MAX),
    })
}

#[cfg(test)]
mod tests;
