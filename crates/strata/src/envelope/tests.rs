//! Unit tests of `Envelope`: the compression skip rule, the size limits on
//! opening a value, and records built by hand to break one rule each.

use super::*;

/// Varied, deterministic text that compresses well.
fn text(words: usize) -> Vec<u8> {
    let vocabulary = [
        "user", "order", "cache", "tier", "shipped", "pending", "42", "id:",
    ];
    let mut out = Vec::new();
    let mut state = 1u32;
    for _ in 0..words {
        // A small LCG, so the text is the same on every run.
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        out.extend_from_slice(vocabulary[(state >> 16) as usize % vocabulary.len()].as_bytes());
        out.push(b' ');
    }
    out
}

/// Bytes that no compressor can shrink: a xorshift stream.
fn noise(len: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Truncation intended: one byte of the state.
            x as u8
        })
        .collect()
}

fn stored(raw: &[u8], level: CompressionLevel) -> Envelope {
    let mut envelope = Envelope::default();
    envelope
        .set_value_bytes(raw.to_vec(), level)
        .expect("compressible");
    envelope
}

#[test]
fn incompressible_values_are_stored_as_is() {
    let raw = noise(4096);
    for level in [
        CompressionLevel::None,
        CompressionLevel::Fast,
        CompressionLevel::Default,
        CompressionLevel::Max,
    ] {
        let envelope = stored(&raw, level);
        assert_eq!(envelope.compression, Compression::None, "{level:?}");
        assert_eq!(envelope.payload, raw);
        assert_eq!(envelope.raw_len, 4096);
        assert!(matches!(envelope.value_bytes(4096), Ok(Cow::Borrowed(b)) if b == raw));
    }
}

#[test]
fn repetitive_text_is_compressed_and_comes_back() {
    let raw = text(5_000);
    for (level, algorithm) in [
        (CompressionLevel::Fast, Compression::Lz4),
        (CompressionLevel::Default, Compression::Zstd),
        (CompressionLevel::Max, Compression::Zstd),
    ] {
        let envelope = stored(&raw, level);
        assert_eq!(envelope.compression, algorithm, "{level:?}");
        assert!(envelope.payload.len() < raw.len() / 2, "{level:?}");
        assert_eq!(envelope.raw_len as usize, raw.len());
        assert_eq!(
            envelope.value_bytes(raw.len()).expect("opens"),
            raw.as_slice()
        );
    }
    assert_eq!(
        stored(&raw, CompressionLevel::None).compression,
        Compression::None
    );
}

#[test]
fn max_is_not_larger_than_default() {
    let raw = text(20_000);
    let default = stored(&raw, CompressionLevel::Default).payload.len();
    let max = stored(&raw, CompressionLevel::Max).payload.len();
    assert!(max <= default, "max {max} > default {default}");
}

#[test]
fn a_value_over_u32_max_is_too_large() {
    // Checked on the length alone: a 4 GiB buffer is not needed to test it.
    assert_eq!(raw_len_of(5).ok(), Some(5));
    assert_eq!(raw_len_of(u32::MAX as usize).ok(), Some(u32::MAX));
    let err = raw_len_of(u32::MAX as usize + 1).expect_err("over");
    assert!(matches!(err, EnvelopeError::TooLarge { len, limit }
        if len == u64::from(u32::MAX) + 1 && limit == u64::from(u32::MAX)));
    assert!(!err.is_corruption());
}

#[test]
fn raw_len_over_the_limit_is_refused_before_decompressing() {
    let raw = text(1_000);
    for level in [
        CompressionLevel::None,
        CompressionLevel::Fast,
        CompressionLevel::Default,
    ] {
        let mut envelope = stored(&raw, level);
        let limit = raw.len() - 1;
        let err = envelope.value_bytes(limit).expect_err("over the limit");
        assert!(matches!(err, EnvelopeError::RawLenTooLarge { max_len, .. } if max_len == limit));
        // A claim of 4 GiB is refused at once, whatever the payload.
        envelope.raw_len = u32::MAX;
        let err = envelope.value_bytes(1 << 20).expect_err("hostile");
        assert!(matches!(
            err,
            EnvelopeError::RawLenTooLarge {
                raw_len: u32::MAX,
                ..
            }
        ));
        assert!(err.is_corruption());
    }
}

#[test]
fn a_hostile_raw_len_with_a_valid_checksum_is_refused() {
    let raw = text(1_000);
    for level in [CompressionLevel::Fast, CompressionLevel::Default] {
        for raw_len in [u32::MAX, raw.len() as u32 * 2, raw.len() as u32 - 1, 0] {
            // Built through `encode`, so the checksum is right for the lie.
            let mut envelope = stored(&raw, level);
            envelope.raw_len = raw_len;
            let decoded = Envelope::decode(&envelope.encode()).expect("checksum holds");
            let err = decoded.value_bytes(1 << 20).expect_err("lying raw_len");
            assert!(err.is_corruption(), "{level:?} {raw_len}: {err}");
        }
    }
}

#[test]
fn an_uncompressed_payload_must_match_raw_len() {
    let mut envelope = stored(b"hello", CompressionLevel::None);
    envelope.raw_len = 4;
    assert!(matches!(
        envelope.value_bytes(100),
        Err(EnvelopeError::RawLenMismatch {
            expected: 4,
            actual: 5
        })
    ));
    assert!(matches!(
        Envelope::decode(&envelope.encode()),
        Err(EnvelopeError::Malformed { .. })
    ));
}

#[test]
fn a_failed_set_leaves_the_envelope_unchanged() {
    let mut envelope = stored(b"kept", CompressionLevel::None);
    let before = envelope.clone();
    // A map with non-string keys cannot be JSON.
    envelope.codec = Codec::Json;
    let value = BTreeMap::from([((1, 2), 3)]);
    let err = envelope
        .set_value(&value, CompressionLevel::Fast)
        .expect_err("not JSON");
    assert!(matches!(
        err,
        EnvelopeError::Encode {
            codec: Codec::Json,
            ..
        }
    ));
    envelope.codec = before.codec;
    assert_eq!(envelope, before);
}

#[test]
fn typed_values_roundtrip_through_the_record_with_both_codecs() {
    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Order {
        id: u64,
        lines: Vec<(String, u32)>,
        note: Option<String>,
    }
    let order = Order {
        id: 9,
        lines: vec![("book".into(), 2); 50],
        note: Some("gift ✓".into()),
    };
    for codec in [Codec::Binary, Codec::Json] {
        let mut envelope = Envelope {
            codec,
            ..Envelope::default()
        };
        envelope
            .set_value(&order, CompressionLevel::Fast)
            .expect("ok");
        let read = Envelope::decode(&envelope.encode()).expect("valid");
        assert_eq!(read.value::<Order>(1 << 20).expect("an Order"), order);
        let err = read.value::<Vec<bool>>(1 << 20).expect_err("not bools");
        assert!(!err.is_corruption(), "a type mismatch is not damage");
    }
}

#[test]
fn expiry_is_at_the_deadline() {
    let mut envelope = Envelope::default();
    assert!(!envelope.is_expired(u64::MAX), "no expiry: never");
    envelope.expires_at_ms = Some(1_000);
    assert!(!envelope.is_expired(999));
    assert!(envelope.is_expired(1_000));
    assert!(envelope.is_expired(1_001));
}

#[test]
fn absent_fields_cost_nothing() {
    let empty = Envelope::default().encode();
    assert_eq!(empty.len(), wire::MIN_LEN);
    let full = Envelope {
        expires_at_ms: Some(1),
        priority: -1,
        cost_micros: Some(1),
        ..Envelope::default()
    }
    .encode();
    assert_eq!(full.len(), wire::MIN_LEN + 8 + 4 + 8);
}
