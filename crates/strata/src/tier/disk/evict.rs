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

use super::tables::{self, IndexEntry, map_err};
use super::txn::{Ks, Txn};
use crate::tier::TierError;

/// The most keys recorded between two commits. Each costs the writer an
/// index read and three keyspace updates in its next batch, so this bounds the extra work a
/// read-heavy load adds to a commit and the memory of the set (a few tens of
/// KiB of keys).
pub(super) const TOUCH_CAPACITY: usize = 1024;

/// Eviction candidates read from `order` per range read. Creating a range
/// over an LSM tree costs a seek in every level; reading a few dozen rows
/// at once spreads that over as many evictions. Candidates are checked
/// against `index` before use, so one removed or moved since is skipped.
const VICTIM_BATCH: usize = 64;

/// Keys read since the last commit.
#[derive(Debug, Default)]
pub(super) struct Touches {
    // A mutex, not a concurrent set: the critical section is one hash lookup
    // (and an insert for a new key), far shorter than the read that precedes
    // it, and the writer swaps the whole set out in O(1).
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
            let Some(entry) = self.entry(&key)? else {
                continue;
            };
            let seq = self.take_seq();
            let moved = IndexEntry { seq, ..entry };
            self.del(Ks::Order, &tables::order_key(entry.seq));
            self.changes.added_order.remove(&entry.seq);
            self.set(Ks::Order, &tables::order_key(seq), key.as_bytes().to_vec());
            self.set(Ks::Index, key.as_bytes(), moved.encode().to_vec());
            self.changes.added_order.insert(seq, key);
        }
        Ok(())
    }

    /// Removes entries, in the documented order, until `incoming` more bytes
    /// fit within `max_bytes` (or nothing is left to remove).
    pub(super) fn make_room(&mut self, incoming: u64) -> Result<(), TierError> {
        while self.counters.bytes.saturating_add(incoming) > self.max_bytes {
            if self.remove_one_expired()?.is_some() {
                continue;
            }
            let Some((seq, key)) = self.next_victim()? else {
                // Nothing left: the counters say bytes remain but no entry
                // does, which only a damaged store can cause. Reset rather
                // than loop; verify() would have reported it.
                self.counters.bytes = 0;
                self.counters.entries = 0;
                break;
            };
            if self.entry(&key)?.is_some_and(|entry| entry.seq == seq) {
                if self.remove(&key)?.is_some() {
                    self.evictions += 1;
                }
            } else {
                // A candidate moved or removed since it was read (its row is
                // gone already, the delete is a no-op), or an order row
                // without an index row (damaged store): drop the row so the
                // loop makes progress.
                self.del(Ks::Order, &tables::order_key(seq));
            }
        }
        Ok(())
    }

    /// The oldest eviction candidate: committed `order` rows from the
    /// cursor on, then (when none is left) the rows this batch added, which
    /// all have higher seqs.
    fn next_victim(&mut self) -> Result<Option<(u64, String)>, TierError> {
        if self.victims.is_empty() {
            let from = tables::order_key(self.cursors.order);
            for guard in self.store.order.range(&from[..]..).take(VICTIM_BATCH) {
                let (seq, key) = guard.into_inner().map_err(map_err)?;
                let seq = tables::decode_order_key(&seq)?;
                self.victims.push_back((seq, tables::utf8(&key)?));
            }
        }
        let victim = match self.victims.pop_front() {
            Some(victim) => Some(victim),
            None => self
                .changes
                .added_order
                .first_key_value()
                .map(|(seq, key)| (*seq, key.clone())),
        };
        if let Some((seq, _)) = &victim {
            // Everything below `seq` is gone: the next search starts above.
            self.cursors.order = seq.saturating_add(1);
        }
        Ok(victim)
    }
}
