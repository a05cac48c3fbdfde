//! The layout of the store: six fjall keyspaces, the record formats in them,
//! the persisted counters, and how fjall errors become [`TierError`]s.
//!
//! | keyspace | key → value | what for |
//! | --- | --- | --- |
//! | `values` | key → `[expires_at_ms: u64 LE][envelope]` | `get`: one lookup answers hit, miss or expired |
//! | `index` | key → `[seq][expires_at_ms][size]` (3 × u64 LE) | the writer's view of an entry, without touching its value; `scan` |
//! | `order` | seq (u64 BE) → key | eviction order: lowest seq = least recently written or read |
//! | `expiry` | `[expires_at_ms: u64 BE][key]` → empty | the sweep and expired-first eviction, soonest first |
//! | `tags` | tag → epoch (u64 LE) | tag epochs |
//! | `meta` | name → u64 LE | format version and the counters below |
//!
//! Big-endian where a key is a number, so that byte order is numeric order.
//! Every writer transaction updates all of them together in one atomic,
//! journaled batch, so after a crash fjall's journal replay hands back a
//! state in which they agree (the crash test checks it with
//! [`verify`](super::DiskTier::verify)). `values` keeps records of 1 KiB
//! and more (header included) in blob files (fjall's key-value separation), which compactions
//! of the key tree do not rewrite: see `docs/disk-tier.md`.

use std::io;

use crate::tier::TierError;

/// The tier's name, in stats, logs and errors.
pub(super) const TIER: &str = "disk";

/// Keyspace names, in the table above.
pub(super) const VALUES: &str = "values";
pub(super) const INDEX: &str = "index";
pub(super) const ORDER: &str = "order";
pub(super) const EXPIRY: &str = "expiry";
pub(super) const TAGS: &str = "tags";
pub(super) const META: &str = "meta";

/// The version of this layout, stored under [`META_FORMAT`]. Opening a store
/// with another version fails rather than misreading it. Version 1 was the
/// redb file of Strata 0.1; this layout is a directory, so the two never
/// meet at the same path unless a user points one at the other.
pub(super) const FORMAT_VERSION: u64 = 2;
pub(super) const META_FORMAT: &str = "format";
pub(super) const META_BYTES: &str = "bytes";
pub(super) const META_ENTRIES: &str = "entries";
pub(super) const META_NEXT_SEQ: &str = "next_seq";

/// `expires_at_ms` of an entry that never expires. An entry given an expiry
/// of `u64::MAX` ms (half a billion years) is treated the same way.
pub(super) const NEVER: u64 = u64::MAX;

/// Bytes of the expiry header in front of each envelope in `values`.
pub(super) const HEADER: usize = 8;

/// What `index` says about one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct IndexEntry {
    /// Position in `order`.
    pub(super) seq: u64,
    /// Expiry in unix ms, [`NEVER`] for none.
    pub(super) expires_at_ms: u64,
    /// Logical size: key length + envelope length.
    pub(super) size: u64,
}

impl IndexEntry {
    /// The `index` record.
    pub(super) fn encode(self) -> [u8; 24] {
        let mut out = [0; 24];
        out[..8].copy_from_slice(&self.seq.to_le_bytes());
        out[8..16].copy_from_slice(&self.expires_at_ms.to_le_bytes());
        out[16..].copy_from_slice(&self.size.to_le_bytes());
        out
    }

    /// Reads an `index` record.
    ///
    /// # Errors
    /// [`TierError::Engine`] when the record is not 24 bytes, which only a
    /// damaged store can produce.
    pub(super) fn decode(key: &[u8], record: &[u8]) -> Result<Self, TierError> {
        let (Some(seq), Some(expires_at_ms), Some(size)) =
            (u64_at(record, 0), u64_at(record, 8), u64_at(record, 16))
        else {
            return Err(damaged(key, "index", record.len()));
        };
        if record.len() != 24 {
            return Err(damaged(key, "index", record.len()));
        }
        Ok(Self {
            seq,
            expires_at_ms,
            size,
        })
    }
}

/// The little-endian u64 at `at` in `bytes`, if there are 8 bytes there.
fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    let chunk = bytes.get(at..at.checked_add(8)?)?;
    Some(u64::from_le_bytes(chunk.try_into().ok()?))
}

/// A little-endian u64 value (`tags`, `meta`).
///
/// # Errors
/// [`TierError::Engine`] when the value is not 8 bytes.
pub(super) fn decode_u64(key: &[u8], value: &[u8]) -> Result<u64, TierError> {
    match value.try_into() {
        Ok(bytes) => Ok(u64::from_le_bytes(bytes)),
        Err(_) => Err(damaged(key, "u64", value.len())),
    }
}

/// The `order` key of a seq.
pub(super) fn order_key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

/// The seq of an `order` key.
///
/// # Errors
/// [`TierError::Engine`] when the key is not 8 bytes.
pub(super) fn decode_order_key(key: &[u8]) -> Result<u64, TierError> {
    match key.try_into() {
        Ok(bytes) => Ok(u64::from_be_bytes(bytes)),
        Err(_) => Err(damaged(key, "order key", key.len())),
    }
}

/// The `expiry` key of an entry: deadline first, so the keyspace is sorted
/// soonest first.
pub(super) fn expiry_key(expires_at_ms: u64, key: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + key.len());
    out.extend_from_slice(&expires_at_ms.to_be_bytes());
    out.extend_from_slice(key.as_bytes());
    out
}

/// Splits an `expiry` key into deadline and entry key.
///
/// # Errors
/// [`TierError::Engine`] when the key is shorter than 8 bytes or the entry
/// key is not UTF-8.
pub(super) fn decode_expiry_key(raw: &[u8]) -> Result<(u64, String), TierError> {
    let Some((deadline, key)) = raw.split_first_chunk::<8>() else {
        return Err(damaged(raw, "expiry key", raw.len()));
    };
    Ok((u64::from_be_bytes(*deadline), utf8(key)?))
}

/// An entry key read back from the store.
///
/// # Errors
/// [`TierError::Engine`] when the bytes are not UTF-8 (every key was written
/// from a `&str`, so only a damaged store can hold one).
pub(super) fn utf8(key: &[u8]) -> Result<String, TierError> {
    String::from_utf8(key.to_vec())
        .map_err(|_| TierError::engine(TIER, format!("key {key:?} is not UTF-8")))
}

/// Whether an entry expiring at `expires_at_ms` is expired at `now_ms`: the
/// deadline itself counts as expired, as in the memory tier.
pub(super) fn is_expired(expires_at_ms: u64, now_ms: u64) -> bool {
    expires_at_ms != NEVER && expires_at_ms <= now_ms
}

/// The `values` record for an envelope: expiry header, then the bytes.
pub(super) fn encode_value(expires_at_ms: u64, envelope: &[u8]) -> Vec<u8> {
    let mut record = Vec::with_capacity(HEADER + envelope.len());
    record.extend_from_slice(&expires_at_ms.to_le_bytes());
    record.extend_from_slice(envelope);
    record
}

/// Splits a `values` record into its expiry and envelope.
///
/// # Errors
/// [`TierError::Engine`] when the record is shorter than its header, which
/// only a damaged store can produce.
pub(super) fn decode_value<'a>(key: &str, record: &'a [u8]) -> Result<(u64, &'a [u8]), TierError> {
    match record.split_first_chunk::<HEADER>() {
        Some((header, envelope)) => Ok((u64::from_le_bytes(*header), envelope)),
        None => Err(damaged(key.as_bytes(), "value", record.len())),
    }
}

/// The error for a record of the wrong shape.
fn damaged(key: &[u8], what: &str, len: usize) -> TierError {
    TierError::engine(
        TIER,
        format!(
            "{what} record of key {:?} has a bad length ({len} bytes): the store is damaged",
            String::from_utf8_lossy(key)
        ),
    )
}

/// The counters kept in `meta`, so that opening reads three numbers instead
/// of counting the keyspaces.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Counters {
    /// Sum of `size` over `index`.
    pub(super) bytes: u64,
    /// Rows in `index`.
    pub(super) entries: u64,
    /// The next sequence number to hand out; above every key of `order`.
    pub(super) next_seq: u64,
}

/// Converts a fjall error into a [`TierError`]: I/O errors keep their
/// `io::Error` (so the caller can tell a full disk from a bug), everything
/// else is an engine error. Used for every fjall call: nothing here panics on
/// an engine error.
pub(super) fn map_err(error: fjall::Error) -> TierError {
    match error {
        fjall::Error::Io(source) => TierError::Io {
            tier: TIER.to_owned(),
            source,
        },
        // fjall refuses writes after a failed journal write or flush, until
        // the store is reopened: still an I/O error, so health reports the
        // tier down.
        fjall::Error::Poisoned => TierError::Io {
            tier: TIER.to_owned(),
            source: io::Error::other("an earlier write failed; close and reopen the store"),
        },
        other => TierError::engine(TIER, other.to_string()),
    }
}

/// A copy of `error` for each waiter of a failed batch: [`TierError`] is not
/// `Clone` (its sources are not), so the copy keeps the variant and the
/// message.
pub(super) fn replicate(error: &TierError) -> TierError {
    match error {
        TierError::Io { source, .. } => TierError::Io {
            tier: TIER.to_owned(),
            source: io::Error::new(source.kind(), source.to_string()),
        },
        TierError::Closed { .. } => TierError::Closed {
            tier: TIER.to_owned(),
        },
        other => TierError::engine(TIER, other.to_string()),
    }
}

/// The error of an operation on a closed tier.
pub(super) fn closed() -> TierError {
    TierError::Closed {
        tier: TIER.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_record_round_trips_and_a_short_one_is_an_error() {
        let record = encode_value(42, b"envelope");
        assert_eq!(decode_value("k", &record).unwrap(), (42, &b"envelope"[..]));
        assert!(decode_value("k", &record[..HEADER - 1]).is_err());
        assert_eq!(decode_value("k", &record[..HEADER]).unwrap().1, b"");
    }

    #[test]
    fn index_records_round_trip_and_bad_lengths_are_errors() {
        let entry = IndexEntry {
            seq: 7,
            expires_at_ms: NEVER,
            size: 1030,
        };
        assert_eq!(IndexEntry::decode(b"k", &entry.encode()).unwrap(), entry);
        assert!(IndexEntry::decode(b"k", &entry.encode()[..23]).is_err());
        assert!(IndexEntry::decode(b"k", &[0; 25]).is_err());
    }

    #[test]
    fn keys_sort_numerically_and_round_trip() {
        assert!(order_key(255) < order_key(256));
        assert_eq!(decode_order_key(&order_key(1 << 40)).unwrap(), 1 << 40);
        assert!(decode_order_key(b"short").is_err());
        assert!(expiry_key(9, "z") < expiry_key(10, "a"));
        assert_eq!(
            decode_expiry_key(&expiry_key(10, "k/é")).unwrap(),
            (10, "k/é".to_owned())
        );
        assert!(decode_expiry_key(b"1234567").is_err());
    }

    #[test]
    fn the_deadline_itself_is_expired_and_never_is_not() {
        assert!(is_expired(10, 10));
        assert!(!is_expired(11, 10));
        assert!(!is_expired(NEVER, u64::MAX));
    }

    #[test]
    fn replicated_errors_keep_their_kind() {
        let io = TierError::Io {
            tier: TIER.to_owned(),
            source: io::Error::new(io::ErrorKind::StorageFull, "disk full"),
        };
        match replicate(&io) {
            TierError::Io { source, .. } => assert_eq!(source.kind(), io::ErrorKind::StorageFull),
            other => panic!("expected an I/O error, got {other:?}"),
        }
        assert!(matches!(replicate(&closed()), TierError::Closed { .. }));
    }
}
