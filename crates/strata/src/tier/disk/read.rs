//! The read path: lookups, scans and tag epochs, each in one redb read
//! transaction. Readers never wait for the writer: redb's MVCC gives each
//! read transaction the last committed state, which includes every
//! acknowledged write (the writer acknowledges after the commit).
//!
//! These functions block (a page-cache miss is a `pread`); the tier runs
//! them inline or on tokio's blocking pool as its
//! [`ReadPath`](super::ReadPath) says.

use redb::{Database, ReadTransaction, ReadableDatabase};

use super::tables::{self, INDEX, IndexEntry, TAGS, VALUES, is_expired, map_err};
use crate::tier::{KeyFilter, TierError};

/// What a lookup found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Lookup {
    /// A live entry: its envelope.
    Hit(Vec<u8>),
    /// No entry.
    Miss,
    /// An entry whose deadline (the payload) has passed: a miss for the
    /// caller, and a lazy delete for the writer.
    Expired(u64),
}

fn begin(db: &Database) -> Result<ReadTransaction, TierError> {
    db.begin_read().map_err(map_err)
}

/// Looks up each of `keys` at `now_ms`, in one read transaction.
pub(super) fn lookup<'k>(
    db: &Database,
    keys: impl IntoIterator<Item = &'k str>,
    now_ms: u64,
) -> Result<Vec<Lookup>, TierError> {
    let txn = begin(db)?;
    let values = txn.open_table(VALUES).map_err(map_err)?;
    keys.into_iter()
        .map(|key| {
            let Some(record) = values.get(key).map_err(map_err)? else {
                return Ok(Lookup::Miss);
            };
            let (expires_at_ms, envelope) = tables::decode_value(key, record.value())?;
            Ok(if is_expired(expires_at_ms, now_ms) {
                Lookup::Expired(expires_at_ms)
            } else {
                Lookup::Hit(envelope.to_vec())
            })
        })
        .collect()
}

/// The live keys `filter` selects: a range of `index` from the filter's
/// literal prefix, never reading a value. Expired entries not yet swept are
/// left out, as `get` would miss them.
pub(super) fn scan(
    db: &Database,
    filter: &KeyFilter,
    now_ms: u64,
) -> Result<Vec<String>, TierError> {
    let txn = begin(db)?;
    let index = txn.open_table(INDEX).map_err(map_err)?;
    let prefix = filter.literal_prefix();
    let mut keys = Vec::new();
    for row in index.range::<&str>(prefix..).map_err(map_err)? {
        let (key, entry) = row.map_err(map_err)?;
        let key = key.value();
        if !key.starts_with(prefix) {
            break;
        }
        let entry = IndexEntry::from_tuple(entry.value());
        if filter.matches(key) && !is_expired(entry.expires_at_ms, now_ms) {
            keys.push(key.to_owned());
        }
    }
    Ok(keys)
}

/// The epochs of `tags` (0 for a tag never bumped).
pub(super) fn tag_epochs(db: &Database, tags: &[String]) -> Result<Vec<u64>, TierError> {
    let txn = begin(db)?;
    let table = txn.open_table(TAGS).map_err(map_err)?;
    tags.iter()
        .map(|tag| {
            Ok(table
                .get(tag.as_str())
                .map_err(map_err)?
                .map_or(0, |guard| guard.value()))
        })
        .collect()
}
