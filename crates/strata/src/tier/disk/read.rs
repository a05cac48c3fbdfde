//! The read path: lookups, scans and tag epochs. Readers never wait for the
//! writer: they read fjall's latest committed state, which includes every
//! acknowledged write (the writer acknowledges after the commit). A batch
//! read takes one snapshot, so its keys are read at one point in time.
//!
//! These functions block (a page-cache miss is a `pread`); the tier runs
//! them inline or on tokio's blocking pool as its
//! [`ReadPath`](super::ReadPath) says.

use fjall::Readable;

use super::builder::MAX_KEY_BYTES;
use super::store::{self, Store};
use super::tables::{self, IndexEntry, is_expired, map_err};
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

/// Looks up each of `keys` at `now_ms`. A key longer than
/// [`MAX_KEY_BYTES`] cannot have been stored: a miss, without asking fjall
/// (whose keys stop at 64 KiB).
pub(super) fn lookup<'k>(
    store: &Store,
    keys: impl ExactSizeIterator<Item = &'k str>,
    now_ms: u64,
) -> Result<Vec<Lookup>, TierError> {
    if keys.len() == 1 {
        // One key needs no snapshot: a point read is already atomic.
        return keys
            .map(|key| {
                if key.len() > MAX_KEY_BYTES {
                    return Ok(Lookup::Miss);
                }
                classify(key, store.values.get(key).map_err(map_err)?, now_ms)
            })
            .collect();
    }
    let snapshot = store.db.snapshot();
    keys.map(|key| {
        if key.len() > MAX_KEY_BYTES {
            return Ok(Lookup::Miss);
        }
        let record = snapshot.get(&store.values, key).map_err(map_err)?;
        classify(key, record, now_ms)
    })
    .collect()
}

fn classify(key: &str, record: Option<fjall::UserValue>, now_ms: u64) -> Result<Lookup, TierError> {
    let Some(record) = record else {
        return Ok(Lookup::Miss);
    };
    let (expires_at_ms, envelope) = tables::decode_value(key, &record)?;
    Ok(if is_expired(expires_at_ms, now_ms) {
        Lookup::Expired(expires_at_ms)
    } else {
        Lookup::Hit(envelope.to_vec())
    })
}

/// The live keys `filter` selects: a range of `index` from the filter's
/// literal prefix, never reading a value. Expired entries not yet swept are
/// left out, as `get` would miss them.
pub(super) fn scan(
    store: &Store,
    filter: &KeyFilter,
    now_ms: u64,
) -> Result<Vec<String>, TierError> {
    let snapshot = store.db.snapshot();
    let mut keys = Vec::new();
    for guard in snapshot.prefix(&store.index, filter.literal_prefix()) {
        let (key, record) = guard.into_inner().map_err(map_err)?;
        let entry = IndexEntry::decode(&key, &record)?;
        let key = tables::utf8(&key)?;
        if filter.matches(&key) && !is_expired(entry.expires_at_ms, now_ms) {
            keys.push(key);
        }
    }
    Ok(keys)
}

/// The epochs of `tags` (0 for a tag never bumped).
pub(super) fn tag_epochs(store: &Store, tags: &[String]) -> Result<Vec<u64>, TierError> {
    let snapshot = store.db.snapshot();
    tags.iter()
        .map(|tag| store::read_tag(&snapshot, store, tag))
        .collect()
}
