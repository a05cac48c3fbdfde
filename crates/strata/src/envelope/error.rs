//! What can go wrong making or reading an envelope.

use std::error::Error as StdError;

use super::codec::Codec;
use super::compress::Compression;

/// Why an envelope could not be built, encoded, parsed or opened.
///
/// Two families, told apart by [`is_corruption`](Self::is_corruption): the
/// stored bytes are unusable (damaged, truncated, foreign, from a newer
/// writer, or hostile), or a value could not be (de)serialized for a reason
/// of its type.
///
/// Errors from dependencies (serializers, compressors) are boxed as
/// `source`, so that the versions of postcard, serde_json, lz4_flex and zstd
/// stay out of our public API: upgrading one is not a breaking change.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// The record ended before `what` was complete.
    #[error("envelope truncated: it ends inside {what}")]
    Truncated {
        /// The field that ran past the end.
        what: &'static str,
    },
    /// The record does not start with the envelope magic: not an envelope.
    #[error("not an envelope: bad magic bytes")]
    BadMagic,
    /// The record was written in a format version this reader does not know
    /// (by a newer writer, during a rolling upgrade).
    #[error("unsupported envelope version {0}")]
    UnsupportedVersion(u8),
    /// The flags byte has bits set that this reader does not know.
    #[error("unknown envelope flag bits {0:#010b}")]
    UnknownFlags(u8),
    /// The checksum stored in the record is not that of its bytes.
    #[error("envelope checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    ChecksumMismatch {
        /// The CRC-32 read from the record's last four bytes.
        stored: u32,
        /// The CRC-32 of the bytes before it.
        computed: u32,
    },
    /// The record passed its checksum but breaks a rule of the format (a
    /// length past the end, bytes after the payload, a non-canonical field).
    #[error("malformed envelope: {what}")]
    Malformed {
        /// The rule that was broken.
        what: &'static str,
    },
    /// The codec byte names no codec this reader knows.
    #[error("unknown codec byte {0}")]
    UnknownCodec(u8),
    /// The compression byte names no algorithm this reader knows.
    #[error("unknown compression byte {0}")]
    UnknownCompression(u8),
    /// A serialized value is longer than an envelope can describe
    /// (`raw_len` is a `u32`).
    #[error("value of {len} bytes exceeds the envelope limit of {limit} bytes")]
    TooLarge {
        /// The value's serialized length.
        len: u64,
        /// The largest length allowed.
        limit: u64,
    },
    /// The record claims a decompressed value longer than the reader allows.
    /// Refused before anything is allocated.
    #[error("envelope claims a {raw_len}-byte value, more than the limit of {max_len} bytes")]
    RawLenTooLarge {
        /// The `raw_len` stored in the record.
        raw_len: u32,
        /// The limit the reader passed to `value_bytes`.
        max_len: usize,
    },
    /// The payload decompressed to a length other than the stored `raw_len`.
    #[error("payload decompressed to {actual} bytes, the envelope says {expected}")]
    RawLenMismatch {
        /// The `raw_len` stored in the record.
        expected: u32,
        /// The length actually produced.
        actual: usize,
    },
    /// Compressing a value failed.
    #[error("{compression:?} compression failed: {source}")]
    Compress {
        /// The algorithm that failed.
        compression: Compression,
        /// What it said.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    /// The payload could not be decompressed.
    #[error("{compression:?} decompression failed: {source}")]
    Decompress {
        /// The algorithm that failed.
        compression: Compression,
        /// What it said.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    /// The value could not be serialized with the codec.
    #[error("{codec:?} encoding failed: {source}")]
    Encode {
        /// The codec used.
        codec: Codec,
        /// What the serializer said.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    /// The bytes could not be deserialized into the requested type.
    #[error("{codec:?} decoding failed: {source}")]
    Decode {
        /// The codec used.
        codec: Codec,
        /// What the deserializer said.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
}

impl EnvelopeError {
    /// Whether this error means the stored bytes are damaged (corruption: the
    /// stack deletes and counts them) as opposed to a value that could not be
    /// (de)serialized for a type reason.
    ///
    /// A record from a newer writer ([`UnsupportedVersion`](Self::UnsupportedVersion),
    /// [`UnknownFlags`](Self::UnknownFlags), an unknown codec or compression
    /// byte) counts as corruption too: this reader can never use those bytes,
    /// and since this is a cache, dropping them costs a miss, never data.
    ///
    /// [`Decode`](Self::Decode) is not corruption: the bytes passed their
    /// checksum, so they are what a writer wrote; the reader's type differs
    /// (a schema change). [`Encode`](Self::Encode), [`Compress`](Self::Compress)
    /// and [`TooLarge`](Self::TooLarge) happen on the write side, before
    /// anything is stored.
    pub fn is_corruption(&self) -> bool {
        // Listed in full rather than with `_`, so that adding a variant forces
        // a decision here.
        match self {
            Self::Truncated { .. }
            | Self::BadMagic
            | Self::UnsupportedVersion(_)
            | Self::UnknownFlags(_)
            | Self::ChecksumMismatch { .. }
            | Self::Malformed { .. }
            | Self::UnknownCodec(_)
            | Self::UnknownCompression(_)
            | Self::RawLenTooLarge { .. }
            | Self::RawLenMismatch { .. }
            | Self::Decompress { .. } => true,
            Self::TooLarge { .. }
            | Self::Compress { .. }
            | Self::Encode { .. }
            | Self::Decode { .. } => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn damage_is_corruption_and_type_errors_are_not() {
        assert!(EnvelopeError::BadMagic.is_corruption());
        assert!(
            EnvelopeError::ChecksumMismatch {
                stored: 1,
                computed: 2
            }
            .is_corruption()
        );
        assert!(EnvelopeError::UnsupportedVersion(9).is_corruption());
        let decode = EnvelopeError::Decode {
            codec: Codec::Json,
            source: "expected a string".into(),
        };
        assert!(!decode.is_corruption());
        assert!(StdError::source(&decode).is_some(), "the cause is kept");
        assert!(!EnvelopeError::TooLarge { len: 1, limit: 0 }.is_corruption());
    }

    #[test]
    fn messages_name_the_problem() {
        let e = EnvelopeError::ChecksumMismatch {
            stored: 0xdead_beef,
            computed: 1,
        };
        assert_eq!(
            e.to_string(),
            "envelope checksum mismatch: stored 0xdeadbeef, computed 0x00000001"
        );
    }
}
