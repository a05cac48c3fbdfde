//! Eviction: which entries leave when a write needs room, and how reads move
//! keys to the back of the line without a write per read.
//!
//! # Order
//!
//! When storing an entry would take the stored bytes over `max_bytes`, the
//! writer removes, in the same transaction as the write, until it fits:
//!
//! 1. **expired entries**, soonest deadline first (counted as expirations);
//! 2. then the entry with the **lowest sequence number** in `order`
//!    (counted as evictions).
//!
//! Every write gives its key the next sequence number. A read that hits
//! records the key in a bounded in-memory set ([`Touches`]); at the start of
//! its next transaction the writer gives every recorded key that still exists
//! a new sequence number, before any eviction decision in that transaction.
//! So the order is least-recently-used, where "used" is a write, or a read
//! that happened before the last commit and found room in the set. Reads made
//! while the set is full are not recorded (the key keeps its place), and
//! recorded reads are lost in a crash; both only make the order less exact.

use hashbrown::HashSet;
use parking_lot::Mutex;
use redb::ReadableTable;

use super::tables::{IndexEntry, map_err};
use super::txn::Txn;
use crate::tier::TierError;

/// The most keys recorded between two commits. Each costs the writer four
/// B-tree updates in its next transaction, so this bounds the extra work a
/// read-heavy load adds to a commit (about a millisecond at this size) and
/// the memory of the set (a few tens of KiB of keys).
pub(super) const TOUCH_CAPACITY: usize = 1024;

/// Keys read since the last commit.
#[derive(Debug, Default)]
pub(super) struct Touches {
    // A mutex, not a concurrent set: the critical section is one hash lookup
    // (and an insert for a new key), far shorter than the redb read that
    // precedes it, and the writer swaps the whole set out in O(1).
    keys: Mutex<HashSet<String>>,
}

impl Touches {
    /// Records a read of `key`, unless the set is full or has it already.
    pub(super) fn record(&self, key: &str) {
        let mut keys = self.keys.lock();
        if keys.len() < TOUCH_CAPACITY && !keys.contains(key) {
            keys.insert(key.to_owned());
        }
    }

    /// Takes the recorded keys, leaving the set empty.
    pub(super) fn take(&self) -> HashSet<String> {
        std::mem::take(&mut *self.keys.lock())
    }
}

impl Txn<'_> {
    /// Moves each key of `touched` still present to the back of the eviction
    /// order.
    pub(super) fn apply_touches(&mut self, touched: HashSet<String>) -> Result<(), TierError> {
        for key in touched {
            let Some(entry) = self
                .index
                .get(key.as_str())
                .map_err(map_err)?
                .map(|guard| IndexEntry::from_tuple(guard.value()))
            else {
                continue;
            };
            let seq = self.take_seq();
            self.order.remove(entry.seq).map_err(map_err)?;
            self.order.insert(seq, key.as_str()).map_err(map_err)?;
            let moved = IndexEntry { seq, ..entry };
            self.index
                .insert(key.as_str(), moved.to_tuple())
                .map_err(map_err)?;
        }
        Ok(())
    }

    /// Removes entries, in the documented order, until `incoming` more bytes
    /// fit within `max_bytes` (or nothing is left to remove).
    pub(super) fn make_room(&mut self, incoming: u64) -> Result<(), TierError> {
        while self.counters.bytes.saturating_add(incoming) > self.max_bytes {
            if self.remove_one_expired()? {
                continue;
            }
            let victim = self
                .order
                .first()
                .map_err(map_err)?
                .map(|(_, key)| key.value().to_owned());
            let Some(victim) = victim else {
                // Nothing left: the counters say bytes remain but no entry
                // does, which only a damaged file can cause. Reset rather
                // than loop; verify() would have reported it.
                self.counters.bytes = 0;
                self.counters.entries = 0;
                break;
            };
            if self.remove(&victim)?.is_some() {
                self.evictions += 1;
            } else {
                // An order row without an index row (damaged file): drop the
                // row so the loop makes progress.
                let orphan = self
                    .order
                    .first()
                    .map_err(map_err)?
                    .map(|(seq, _)| seq.value());
                if let Some(seq) = orphan {
                    self.order.remove(seq).map_err(map_err)?;
                }
            }
        }
        Ok(())
    }
}
