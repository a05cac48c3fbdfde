//! The record layout: `Envelope` to bytes and back, as `docs/format.md`
//! describes byte by byte.

use std::collections::BTreeMap;

use super::Envelope;
use super::codec::Codec;
use super::compress::Compression;
use super::error::EnvelopeError;
use super::reader::{Reader, put_len};

/// The first four bytes of every envelope: "STRE", for STRata Envelope.
/// ASCII so it reads in `redis-cli` and hex dumps; four bytes so a foreign
/// value in the same key space is refused at once (a 1 in 2^32 chance of a
/// false match, and then the version and checksum still refuse it).
pub const MAGIC: [u8; 4] = *b"STRE";

/// The format version this code writes and the only one it reads. A separate
/// byte from the magic, so "not ours" and "ours, but from a newer writer"
/// are different errors.
pub const VERSION: u8 = 1;

/// Flag bits: each marks an optional field as present, so absent fields cost
/// nothing. Bits not listed here are an error (see [`FLAGS_KNOWN`]).
const HAS_EXPIRY: u8 = 1 << 0;
const HAS_PRIORITY: u8 = 1 << 1;
const HAS_COST: u8 = 1 << 2;
const HAS_TAGS: u8 = 1 << 3;
const HAS_METADATA: u8 = 1 << 4;
/// Every bit this version defines. A reader refuses others rather than
/// guess at a field it cannot skip: a newer format is a miss, never a
/// misread (it is a cache, so a miss loses nothing).
const FLAGS_KNOWN: u8 = HAS_EXPIRY | HAS_PRIORITY | HAS_COST | HAS_TAGS | HAS_METADATA;

/// The fixed part: magic, version, flags, codec, compression, created_at.
const HEADER_LEN: usize = 16;
const CRC_LEN: usize = 4;
/// The smallest record: the header, raw_len, a one-byte payload length of
/// zero, and the checksum.
pub(super) const MIN_LEN: usize = HEADER_LEN + 4 + 1 + CRC_LEN;
/// The fewest bytes a tag takes: a one-byte length (empty name) and its epoch.
const MIN_TAG_LEN: usize = 1 + 8;
/// The fewest bytes a metadata pair takes: two one-byte lengths.
const MIN_PAIR_LEN: usize = 2;
/// Room for the fixed fields and the varints, so one allocation usually fits.
const SLACK: usize = 64;

/// Writes `envelope` as a record, checksum last.
pub(super) fn encode(envelope: &Envelope) -> Vec<u8> {
    let strings: usize = envelope
        .tags
        .iter()
        .map(|(t, _)| t.len() + 18)
        .sum::<usize>()
        + envelope
            .metadata
            .iter()
            .map(|(k, v)| k.len() + v.len() + 20)
            .sum::<usize>();
    let mut out = Vec::with_capacity(SLACK + strings + envelope.payload.len());

    let mut flags = 0;
    for (present, bit) in [
        (envelope.expires_at_ms.is_some(), HAS_EXPIRY),
        (envelope.priority != 0, HAS_PRIORITY),
        (envelope.cost_micros.is_some(), HAS_COST),
        (!envelope.tags.is_empty(), HAS_TAGS),
        (!envelope.metadata.is_empty(), HAS_METADATA),
    ] {
        if present {
            flags |= bit;
        }
    }
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&[
        VERSION,
        flags,
        envelope.codec.to_byte(),
        envelope.compression.to_byte(),
    ]);
    out.extend_from_slice(&envelope.created_at_ms.to_le_bytes());
    if let Some(at) = envelope.expires_at_ms {
        out.extend_from_slice(&at.to_le_bytes());
    }
    if envelope.priority != 0 {
        out.extend_from_slice(&envelope.priority.to_le_bytes());
    }
    if let Some(cost) = envelope.cost_micros {
        out.extend_from_slice(&cost.to_le_bytes());
    }
    if !envelope.tags.is_empty() {
        put_len(&mut out, envelope.tags.len());
        for (tag, epoch) in &envelope.tags {
            put_len(&mut out, tag.len());
            out.extend_from_slice(tag.as_bytes());
            out.extend_from_slice(&epoch.to_le_bytes());
        }
    }
    if !envelope.metadata.is_empty() {
        put_len(&mut out, envelope.metadata.len());
        for (key, value) in &envelope.metadata {
            put_len(&mut out, key.len());
            out.extend_from_slice(key.as_bytes());
            put_len(&mut out, value.len());
            out.extend_from_slice(value.as_bytes());
        }
    }
    out.extend_from_slice(&envelope.raw_len.to_le_bytes());
    put_len(&mut out, envelope.payload.len());
    out.extend_from_slice(&envelope.payload);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Parses and verifies a record. Order matters: the magic and version say
/// the bytes are ours and how to check them, then the checksum proves them
/// intact before any length field is trusted.
pub(super) fn decode(bytes: &[u8]) -> Result<Envelope, EnvelopeError> {
    match bytes.get(..MAGIC.len()) {
        None => return Err(EnvelopeError::Truncated { what: "magic" }),
        Some(magic) if magic != MAGIC => return Err(EnvelopeError::BadMagic),
        Some(_) => {}
    }
    match bytes.get(MAGIC.len()) {
        None => return Err(EnvelopeError::Truncated { what: "version" }),
        Some(&VERSION) => {}
        Some(&other) => return Err(EnvelopeError::UnsupportedVersion(other)),
    }
    if bytes.len() < MIN_LEN {
        return Err(EnvelopeError::Truncated { what: "header" });
    }
    let (body, stored) = bytes.split_at(bytes.len() - CRC_LEN);
    let mut crc = [0u8; CRC_LEN];
    crc.copy_from_slice(stored);
    let stored = u32::from_le_bytes(crc);
    let computed = crc32fast::hash(body);
    if stored != computed {
        return Err(EnvelopeError::ChecksumMismatch { stored, computed });
    }

    let mut r = Reader::new(&body[MAGIC.len() + 1..]);
    let flags = r.u8("flags")?;
    if flags & !FLAGS_KNOWN != 0 {
        return Err(EnvelopeError::UnknownFlags(flags & !FLAGS_KNOWN));
    }
    let codec = Codec::from_byte(r.u8("codec")?)?;
    let compression = Compression::from_byte(r.u8("compression")?)?;
    let created_at_ms = r.u64("created_at")?;
    let expires_at_ms = (flags & HAS_EXPIRY != 0)
        .then(|| r.u64("expires_at"))
        .transpose()?;
    let priority = if flags & HAS_PRIORITY != 0 {
        match r.i32("priority")? {
            // The writer sets the flag only for a non-zero priority; refusing
            // the other form keeps one encoding per envelope.
            0 => return Err(malformed("priority flag set for priority 0")),
            p => p,
        }
    } else {
        0
    };
    let cost_micros = (flags & HAS_COST != 0).then(|| r.u64("cost")).transpose()?;
    let tags = if flags & HAS_TAGS != 0 {
        read_tags(&mut r)?
    } else {
        Vec::new()
    };
    let metadata = if flags & HAS_METADATA != 0 {
        read_metadata(&mut r)?
    } else {
        BTreeMap::new()
    };
    let raw_len = r.u32("raw_len")?;
    let payload_len = r.len(1, "payload")?;
    let payload = r.take(payload_len, "payload")?.to_vec();
    if r.remaining() != 0 {
        return Err(malformed("bytes after the payload"));
    }
    // Only compressed payloads differ in length from the value.
    if compression == Compression::None && usize::try_from(raw_len).ok() != Some(payload.len()) {
        return Err(malformed(
            "raw_len differs from an uncompressed payload's length",
        ));
    }
    Ok(Envelope {
        codec,
        compression,
        created_at_ms,
        expires_at_ms,
        tags,
        priority,
        cost_micros,
        metadata,
        raw_len,
        payload,
    })
}

fn malformed(what: &'static str) -> EnvelopeError {
    EnvelopeError::Malformed { what }
}

fn read_tags(r: &mut Reader<'_>) -> Result<Vec<(String, u64)>, EnvelopeError> {
    // `len` bounds the count by the bytes left, so this allocation is at
    // most a small multiple of the record's size.
    let count = r.len(MIN_TAG_LEN, "tag count")?;
    if count == 0 {
        return Err(malformed("tag flag set for no tags"));
    }
    let mut tags = Vec::with_capacity(count);
    for _ in 0..count {
        let tag = r.string("tag")?;
        tags.push((tag, r.u64("tag epoch")?));
    }
    Ok(tags)
}

fn read_metadata(r: &mut Reader<'_>) -> Result<BTreeMap<String, String>, EnvelopeError> {
    let count = r.len(MIN_PAIR_LEN, "metadata count")?;
    if count == 0 {
        return Err(malformed("metadata flag set for no metadata"));
    }
    let mut metadata = BTreeMap::new();
    for _ in 0..count {
        let key = r.string("metadata key")?;
        // Written in map order, so each key is above the last one inserted.
        // A repeated key would be silently merged away: refused instead.
        if metadata
            .last_key_value()
            .is_some_and(|(prev, _)| *prev >= key)
        {
            return Err(malformed("metadata keys repeated or out of order"));
        }
        let value = r.string("metadata value")?;
        metadata.insert(key, value);
    }
    Ok(metadata)
}
