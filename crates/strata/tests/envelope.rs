//! The envelope format from the outside: every envelope roundtrips, every
//! kind of damage is an error (never a panic, never a different entry), and
//! docs/format.md shows the bytes the code really writes.

#![cfg(feature = "tiers")]

use std::collections::BTreeMap;

use proptest::prelude::*;
use strata::envelope::{Codec, CompressionLevel, Envelope, MAGIC, VERSION, encode_value};

/// The envelope of the worked example in docs/format.md.
fn example() -> Envelope {
    let mut envelope = Envelope {
        codec: Codec::Binary,
        created_at_ms: 1_700_000_000_000,
        expires_at_ms: Some(1_700_000_060_000),
        tags: vec![("user:42".to_string(), 7)],
        priority: 5,
        cost_micros: None,
        metadata: BTreeMap::from([("src".to_string(), "db".to_string())]),
        ..Envelope::default()
    };
    let raw = encode_value(Codec::Binary, "Ada").expect("a string serializes");
    envelope
        .set_value_bytes(raw, CompressionLevel::Fast)
        .expect("small");
    envelope
}

/// A compressed envelope, so flips and cuts reach a compressed payload too.
fn compressed() -> Envelope {
    let mut envelope = Envelope {
        codec: Codec::Json,
        cost_micros: Some(1_500),
        ..Envelope::default()
    };
    envelope
        .set_value(&vec!["abc"; 40], CompressionLevel::Default)
        .expect("serializes");
    assert_ne!(envelope.compression, strata::envelope::Compression::None);
    envelope
}

/// The bytes of the annotated example in docs/format.md: the code block
/// after the marker line, each line's leading two-digit hex tokens.
fn bytes_in_the_doc() -> Vec<u8> {
    let doc = include_str!("../../../docs/format.md");
    let marker = "<!-- worked example: checked by crates/strata/tests/envelope.rs -->";
    let after = doc.split_once(marker).expect("the doc has the marker").1;
    let block = after
        .split("```")
        .nth(1)
        .expect("a code block follows the marker");
    let mut out = Vec::new();
    for line in block.lines().skip(1) {
        for token in line.split_whitespace() {
            match u8::from_str_radix(token, 16) {
                Ok(byte) if token.len() == 2 => out.push(byte),
                _ => break,
            }
        }
    }
    out
}

#[test]
fn the_worked_example_in_the_doc_is_what_the_code_writes() {
    let encoded = example().encode();
    let documented = bytes_in_the_doc();
    let hex = |b: &[u8]| {
        b.iter()
            .map(|x| format!("{x:02x}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(hex(&documented), hex(&encoded), "update docs/format.md");
    assert_eq!(Envelope::decode(&documented).expect("valid"), example());
}

#[test]
fn every_single_bit_flip_is_detected() {
    for envelope in [example(), compressed(), Envelope::default()] {
        let bytes = envelope.encode();
        for bit in 0..bytes.len() * 8 {
            let mut damaged = bytes.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            let err = Envelope::decode(&damaged).expect_err("a flipped bit must not decode");
            assert!(err.is_corruption(), "bit {bit}: {err}");
        }
    }
}

#[test]
fn every_truncation_and_every_extension_is_detected() {
    for envelope in [example(), compressed(), Envelope::default()] {
        let bytes = envelope.encode();
        for len in 0..bytes.len() {
            let err = Envelope::decode(&bytes[..len]).expect_err("truncated");
            assert!(err.is_corruption(), "cut at {len}: {err}");
        }
        for extra in [0u8, 0xff] {
            let mut longer = bytes.clone();
            longer.push(extra);
            assert!(Envelope::decode(&longer).is_err(), "a byte appended");
        }
    }
}

#[test]
fn foreign_and_future_records_are_refused_by_name() {
    use strata::envelope::EnvelopeError as E;
    let mut bytes = example().encode();
    assert!(matches!(
        Envelope::decode(b"{\"json\":1}"),
        Err(E::BadMagic)
    ));
    assert!(matches!(Envelope::decode(&MAGIC), Err(E::Truncated { .. })));
    bytes[MAGIC.len()] = VERSION + 1;
    assert!(matches!(
        Envelope::decode(&bytes),
        Err(E::UnsupportedVersion(2))
    ));
}

/// Appends the CRC-32 the format expects, so a hand-made body gets past the
/// checksum and reaches the parser.
fn sealed(mut body: Vec<u8>) -> Vec<u8> {
    let crc = crc32(&body);
    body.extend_from_slice(&crc.to_le_bytes());
    body
}

/// CRC-32 (IEEE), bitwise: written out here rather than taken from the
/// crate's dependency, so the test checks the format, not the library call.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn the_checksum_is_crc32_ieee_over_every_byte_before_it() {
    let bytes = example().encode();
    let (body, _) = bytes.split_at(bytes.len() - 4);
    assert_eq!(sealed(body.to_vec()), bytes);
}

fn level() -> impl Strategy<Value = CompressionLevel> {
    prop_oneof![
        Just(CompressionLevel::None),
        Just(CompressionLevel::Fast),
        Just(CompressionLevel::Default),
        Just(CompressionLevel::Max),
    ]
}

fn raw_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        // Repetitive, so every level really compresses.
        (prop::collection::vec(any::<u8>(), 1..6), 1..300usize)
            .prop_map(|(unit, n)| unit.repeat(n)),
    ]
}

prop_compose! {
    fn envelope()(
        codec in prop_oneof![Just(Codec::Binary), Just(Codec::Json)],
        level in level(),
        created_at_ms in any::<u64>(),
        expires_at_ms in any::<Option<u64>>(),
        tags in prop::collection::vec((".{0,12}", any::<u64>()), 0..4),
        priority in any::<i32>(),
        cost_micros in any::<Option<u64>>(),
        metadata in prop::collection::btree_map(".{0,8}", ".{0,16}", 0..4),
        raw in raw_value(),
    ) -> (Envelope, Vec<u8>) {
        let mut envelope = Envelope {
            codec, created_at_ms, expires_at_ms, tags, priority, cost_micros, metadata,
            ..Envelope::default()
        };
        envelope.set_value_bytes(raw.clone(), level).expect("small");
        (envelope, raw)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn every_envelope_roundtrips((envelope, raw) in envelope()) {
        let bytes = envelope.encode();
        let read = Envelope::decode(&bytes).expect("valid");
        prop_assert_eq!(&read, &envelope);
        let value = read.value_bytes(raw.len()).expect("opens");
        prop_assert_eq!(value.as_ref(), raw.as_slice());
        prop_assert!(read.payload.len() <= raw.len(), "compression never grows a value");
    }

    #[test]
    fn a_flipped_bit_or_burst_is_always_detected(
        (envelope, _) in envelope(),
        at in any::<prop::sample::Index>(),
        burst in 1u32..=u32::MAX,
    ) {
        // CRC-32 detects every error burst of up to 32 bits.
        let mut bytes = envelope.encode();
        let start = at.index(bytes.len() - 3);
        for (i, b) in burst.to_le_bytes().iter().enumerate() {
            bytes[start + i] ^= b;
        }
        prop_assert!(Envelope::decode(&bytes).is_err());
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = Envelope::decode(&bytes);
        let mut framed = MAGIC.to_vec();
        framed.push(VERSION);
        framed.extend_from_slice(&bytes);
        let _ = Envelope::decode(&framed);
    }

    #[test]
    fn garbage_with_a_valid_checksum_is_refused_or_read_canonically(
        bytes in prop::collection::vec(any::<u8>(), 0..120),
    ) {
        let mut body = MAGIC.to_vec();
        body.push(VERSION);
        body.extend_from_slice(&bytes);
        let record = sealed(body);
        if let Ok(read) = Envelope::decode(&record) {
            prop_assert_eq!(read.encode(), record, "one encoding per envelope");
            let _ = read.value_bytes(1 << 16);
        }
    }

    #[test]
    fn resealed_damage_never_panics_and_never_reads_differently(
        (envelope, _) in envelope(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        // Damage the body and recompute the checksum, as a buggy or hostile
        // writer would: the parser alone must then hold the line.
        let bytes = envelope.encode();
        let mut body = bytes[..bytes.len() - 4].to_vec();
        for (at, value) in edits {
            let i = MAGIC.len() + 1 + at.index(body.len() - MAGIC.len() - 1);
            body[i] = value;
        }
        let record = sealed(body);
        if let Ok(read) = Envelope::decode(&record) {
            prop_assert_eq!(read.encode(), record, "one encoding per envelope");
            let _ = read.value_bytes(1 << 16);
        }
    }
}
