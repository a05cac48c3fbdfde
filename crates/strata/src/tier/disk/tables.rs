//! The layout of the database file: six redb tables, the record formats in
//! them, the persisted counters, and how redb errors become [`TierError`]s.
//!
//! | table | key → value | what for |
//! | --- | --- | --- |
//! | `values` | key → `[expires_at_ms: u64 LE][envelope]` | `get`: one lookup answers hit, miss or expired |
//! | `index` | key → `(seq, expires_at_ms, size)` | the writer's view of an entry, without touching its value; `scan` |
//! | `order` | seq → key | eviction order: lowest seq = least recently written or read |
//! | `expiry` | `(expires_at_ms, key)` → `()` | the sweep and expired-first eviction, soonest first |
//! | `tags` | tag → epoch | tag epochs |
//! | `meta` | name → u64 | format version and the counters below |
//!
//! Every write transaction updates all of them together, so after a crash
//! redb hands back a state in which they agree (the crash test checks it with
//! [`verify`](super::DiskTier::verify)).

use std::io;

use redb::{ReadableTable, TableDefinition};

use crate::tier::TierError;

/// The tier's name, in stats, logs and errors.
pub(super) const TIER: &str = "disk";

/// Key → expiry header + envelope. The expiry is duplicated here (it is also
/// in `index`) so that a `get` needs one B-tree lookup, not two.
pub(super) const VALUES: TableDefinition<'static, &'static str, &'static [u8]> =
    TableDefinition::new("values");
/// Key → `(seq, expires_at_ms, size)`; see [`IndexEntry`].
pub(super) const INDEX: TableDefinition<'static, &'static str, (u64, u64, u64)> =
    TableDefinition::new("index");
/// Sequence number → key: the eviction order.
pub(super) const ORDER: TableDefinition<'static, u64, &'static str> = TableDefinition::new("order");
/// `(expires_at_ms, key)` → nothing: entries that expire, soonest first.
pub(super) const EXPIRY: TableDefinition<'static, (u64, &'static str), ()> =
    TableDefinition::new("expiry");
/// Tag → epoch.
pub(super) const TAGS: TableDefinition<'static, &'static str, u64> = TableDefinition::new("tags");
/// Counter name → value.
pub(super) const META: TableDefinition<'static, &'static str, u64> = TableDefinition::new("meta");

/// The version of this layout, stored under [`META_FORMAT`]. Opening a file
/// with another version fails rather than misreading it.
pub(super) const FORMAT_VERSION: u64 = 1;
pub(super) const META_FORMAT: &str = "format";
const META_BYTES: &str = "bytes";
const META_ENTRIES: &str = "entries";
const META_NEXT_SEQ: &str = "next_seq";

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
    pub(super) fn from_tuple((seq, expires_at_ms, size): (u64, u64, u64)) -> Self {
        Self {
            seq,
            expires_at_ms,
            size,
        }
    }

    pub(super) fn to_tuple(self) -> (u64, u64, u64) {
        (self.seq, self.expires_at_ms, self.size)
    }
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
/// only a damaged file can produce.
pub(super) fn decode_value<'a>(key: &str, record: &'a [u8]) -> Result<(u64, &'a [u8]), TierError> {
    match record.split_first_chunk::<HEADER>() {
        Some((header, envelope)) => Ok((u64::from_le_bytes(*header), envelope)),
        None => Err(TierError::engine(
            TIER,
            format!(
                "record of key {key:?} is {} bytes, shorter than its header",
                record.len()
            ),
        )),
    }
}

/// The counters kept in `meta`, so that opening reads three numbers instead
/// of counting the tables.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Counters {
    /// Sum of `size` over `index`.
    pub(super) bytes: u64,
    /// Rows in `index`.
    pub(super) entries: u64,
    /// The next sequence number to hand out; above every key of `order`.
    pub(super) next_seq: u64,
}

impl Counters {
    /// Reads the counters from `meta` (zero for a new file).
    pub(super) fn load(meta: &impl ReadableTable<&'static str, u64>) -> Result<Self, TierError> {
        let read = |name: &str| -> Result<u64, TierError> {
            Ok(meta.get(name).map_err(map_err)?.map_or(0, |v| v.value()))
        };
        Ok(Self {
            bytes: read(META_BYTES)?,
            entries: read(META_ENTRIES)?,
            next_seq: read(META_NEXT_SEQ)?,
        })
    }

    /// Writes the counters to `meta`, inside the caller's transaction.
    pub(super) fn store(
        &self,
        meta: &mut redb::Table<'_, &'static str, u64>,
    ) -> Result<(), TierError> {
        meta.insert(META_BYTES, self.bytes).map_err(map_err)?;
        meta.insert(META_ENTRIES, self.entries).map_err(map_err)?;
        meta.insert(META_NEXT_SEQ, self.next_seq).map_err(map_err)?;
        Ok(())
    }
}

/// Converts any redb error into a [`TierError`]: I/O errors keep their
/// `io::Error` (so the caller can tell a full disk from a bug), everything
/// else is an engine error. Used for every redb call: nothing here panics
/// on an engine error.
pub(super) fn map_err(error: impl Into<redb::Error>) -> TierError {
    match error.into() {
        redb::Error::Io(source) => TierError::Io {
            tier: TIER.to_owned(),
            source,
        },
        // redb latches an I/O failure and refuses writes until the file is
        // reopened: still an I/O error, so health reports the tier down.
        redb::Error::PreviousIo => TierError::Io {
            tier: TIER.to_owned(),
            source: io::Error::other("an earlier I/O error; close and reopen the store"),
        },
        other => TierError::engine(TIER, other),
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
