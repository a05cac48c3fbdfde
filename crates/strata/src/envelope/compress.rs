//! Per-entry compression: the level users choose and the algorithm applied.

use super::error::EnvelopeError;

/// What users choose: NONE / FAST / DEFAULT / MAX.
///
/// The level is a write-side setting only: each envelope stores the
/// [`Compression`] actually applied, so entries written at any level (or by
/// a process configured differently) are read back alike. Whatever the
/// level, an entry is stored uncompressed when compression does not make it
/// smaller.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[non_exhaustive]
pub enum CompressionLevel {
    /// Never compress.
    None,
    /// LZ4 (block format): compresses at hundreds of MB/s and decompresses
    /// at GB/s, so it costs less than the network or disk time it saves.
    /// Default: a cache is read far more often than written, and LZ4 keeps
    /// reads cheapest while still shrinking text-like values 2–4×.
    #[default]
    Fast,
    /// Zstandard level 3 (zstd's own default): a better ratio than LZ4 at a
    /// moderate write cost; reads stay fast.
    Default,
    /// Zstandard level 19: the best ratio for values that are written rarely
    /// and read often. Not 22: levels 20–22 are zstd's "ultra" levels, which
    /// allocate hundreds of MiB per compression and run several times slower
    /// than 19, for a gain that comes mostly from windows larger than 19's
    /// 8 MiB, so it shows only on inputs far larger than a cache value.
    Max,
}

/// The zstd level behind [`CompressionLevel::Default`]: zstd's own default,
/// its usual balance of speed and ratio.
const ZSTD_DEFAULT_LEVEL: i32 = 3;
/// The zstd level behind [`CompressionLevel::Max`]: the highest before the
/// "ultra" levels (see [`CompressionLevel::Max`]).
const ZSTD_MAX_LEVEL: i32 = 19;

/// The algorithm actually applied to one envelope's payload (stored per
/// entry, as the compression byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Compression {
    /// Stored as serialized.
    #[default]
    None,
    /// An LZ4 block (no frame: the envelope already stores the lengths and a
    /// checksum, so a frame would repeat them).
    Lz4,
    /// A Zstandard frame (any level: decompression does not need it).
    Zstd,
}

impl Compression {
    /// The compression byte stored in an envelope.
    pub(crate) fn to_byte(self) -> u8 {
        match self {
            Self::None => 0,
            Self::Lz4 => 1,
            Self::Zstd => 2,
        }
    }

    /// The algorithm a stored byte names.
    pub(crate) fn from_byte(byte: u8) -> Result<Self, EnvelopeError> {
        match byte {
            0 => Ok(Self::None),
            1 => Ok(Self::Lz4),
            2 => Ok(Self::Zstd),
            other => Err(EnvelopeError::UnknownCompression(other)),
        }
    }
}

/// Compresses `raw` at `level`. `None` when the level is
/// [`CompressionLevel::None`] or the result is not strictly smaller than
/// `raw`: then the value is stored as is, and reads skip decompression.
/// Any saving counts, since stored bytes cost memory in the tier for the
/// entry's whole life while decompressing costs a little time per read.
pub(crate) fn compress(
    raw: &[u8],
    level: CompressionLevel,
) -> Result<Option<(Compression, Vec<u8>)>, EnvelopeError> {
    let (compression, mut compressed) = match level {
        CompressionLevel::None => return Ok(None),
        CompressionLevel::Fast => (Compression::Lz4, lz4_flex::block::compress(raw)),
        CompressionLevel::Default => (Compression::Zstd, zstd_compress(raw, ZSTD_DEFAULT_LEVEL)?),
        CompressionLevel::Max => (Compression::Zstd, zstd_compress(raw, ZSTD_MAX_LEVEL)?),
    };
    if compressed.len() >= raw.len() {
        return Ok(None);
    }
    // zstd allocates its worst-case bound; the envelope may live a while.
    compressed.shrink_to_fit();
    Ok(Some((compression, compressed)))
}

fn zstd_compress(raw: &[u8], level: i32) -> Result<Vec<u8>, EnvelopeError> {
    zstd::bulk::compress(raw, level).map_err(|e| EnvelopeError::Compress {
        compression: Compression::Zstd,
        source: e.into(),
    })
}

/// Decompresses `payload` into exactly `raw_len` bytes. The caller has
/// already bounded `raw_len`; both decoders are given it as their output
/// capacity and fail rather than write past it, so a hostile payload cannot
/// make us allocate more than `raw_len`.
pub(crate) fn decompress(
    compression: Compression,
    payload: &[u8],
    raw_len: u32,
) -> Result<Vec<u8>, EnvelopeError> {
    // u32 -> usize cannot truncate on the 32- and 64-bit targets we build for.
    let capacity = raw_len as usize;
    let out = match compression {
        Compression::None => Ok(payload.to_vec()),
        // With `checked-decode`, lz4_flex returns `OutputTooSmall` instead of
        // writing past `capacity`.
        Compression::Lz4 => lz4_flex::block::decompress(payload, capacity).map_err(Into::into),
        Compression::Zstd => zstd::bulk::decompress(payload, capacity).map_err(Into::into),
    }
    .map_err(|source| EnvelopeError::Decompress {
        compression,
        source,
    })?;
    if out.len() != capacity {
        return Err(EnvelopeError::RawLenMismatch {
            expected: raw_len,
            actual: out.len(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text() -> Vec<u8> {
        let words = [
            "cache", "tier", "envelope", "strata", "lz4", "zstd", "entry",
        ];
        let mut out = Vec::new();
        let mut state = 7u32;
        for _ in 0..2_000 {
            // A small LCG: varied but deterministic text.
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            out.extend_from_slice(words[(state >> 16) as usize % words.len()].as_bytes());
            out.push(b' ');
        }
        out
    }

    #[test]
    fn each_level_uses_its_algorithm_and_roundtrips() {
        let raw = text();
        for (level, expected) in [
            (CompressionLevel::Fast, Compression::Lz4),
            (CompressionLevel::Default, Compression::Zstd),
            (CompressionLevel::Max, Compression::Zstd),
        ] {
            let (compression, payload) = compress(&raw, level).expect("ok").expect("shrinks");
            assert_eq!(compression, expected);
            assert!(
                payload.len() < raw.len() / 2,
                "{level:?}: {}",
                payload.len()
            );
            let len = u32::try_from(raw.len()).expect("small");
            assert_eq!(decompress(compression, &payload, len).expect("ok"), raw);
        }
        assert!(
            compress(&raw, CompressionLevel::None)
                .expect("ok")
                .is_none()
        );
    }

    #[test]
    fn values_that_do_not_shrink_are_not_compressed() {
        for level in [
            CompressionLevel::Fast,
            CompressionLevel::Default,
            CompressionLevel::Max,
        ] {
            assert!(compress(b"", level).expect("ok").is_none());
            assert!(compress(b"abc", level).expect("ok").is_none());
        }
    }

    #[test]
    fn a_wrong_raw_len_is_detected_both_ways() {
        let raw = text();
        let len = u32::try_from(raw.len()).expect("small");
        for compression in [Compression::Lz4, Compression::Zstd] {
            let level = match compression {
                Compression::Lz4 => CompressionLevel::Fast,
                _ => CompressionLevel::Default,
            };
            let (_, payload) = compress(&raw, level).expect("ok").expect("shrinks");
            let short = decompress(compression, &payload, len - 1).expect_err("too small");
            assert!(short.is_corruption(), "{short}");
            let long = decompress(compression, &payload, len + 1).expect_err("too big");
            assert!(
                matches!(long, EnvelopeError::RawLenMismatch { actual, .. } if actual == raw.len()),
                "{long}"
            );
        }
    }

    #[test]
    fn compression_bytes_roundtrip_and_unknown_is_an_error() {
        for c in [Compression::None, Compression::Lz4, Compression::Zstd] {
            assert_eq!(Compression::from_byte(c.to_byte()).ok(), Some(c));
        }
        assert!(matches!(
            Compression::from_byte(3),
            Err(EnvelopeError::UnknownCompression(3))
        ));
    }
}
