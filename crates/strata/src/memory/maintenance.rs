//! Upkeep and self-checks of a [`MemoryCache`]: purging expired entries on
//! demand, and `validate`, which tests call after every step.

use std::hash::Hash;
use std::sync::atomic::Ordering;

use super::MemoryCache;
use super::removal::Removals;
use super::totals::Ledger;
use crate::error::InvariantError;

impl<K, V> MemoryCache<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Purges every expired entry now and, with a memory budget, checks
    /// memory pressure now (shedding if needed). Writes already do both
    /// incrementally; call this from a timer to reclaim memory while idle.
    pub fn run_maintenance(&self) {
        let inner = &self.inner;
        let now = inner.clock.now_nanos();
        // Pressure first: its shedding counts expired entries towards what it
        // must free, so purging them beforehand would shed live ones too.
        inner.check_pressure();
        for idx in 0..inner.shards.len() {
            let mut out = Removals::new();
            {
                let mut shard = inner.shards[idx].lock.write();
                shard.purge_expired(now, &Ledger::new(&inner.totals), &mut out);
                inner.publish(idx, &shard);
            }
            inner.notify(out);
        }
    }

    /// Checks every internal invariant: each shard's table, slots, policy,
    /// expiry queue and tag index agree; weights add up; the totals match
    /// the shards; the bounds hold. O(n log n). Meant for tests: call it when
    /// no write is in flight, or the totals may be caught mid-update.
    ///
    /// # Errors
    /// An [`InvariantError`] describing the first violation found.
    pub fn validate(&self) -> Result<(), InvariantError> {
        let inner = &self.inner;
        let (mut len, mut weight, mut prioritized) = (0u64, 0u64, 0u64);
        for (i, cell) in inner.shards.iter().enumerate() {
            let shard = cell.lock.read();
            shard
                .validate()
                .map_err(|e| InvariantError(format!("shard {i}: {e}")))?;
            len += shard.len() as u64;
            weight += shard.weight();
            prioritized += shard.prioritized();
            let published = cell.min_priority.load(Ordering::Relaxed);
            if published != shard.min_priority().map_or(super::cache::EMPTY, i64::from) {
                return Err(InvariantError(format!(
                    "shard {i}: published lowest priority {published} is stale"
                )));
            }
        }
        for (id, idx, slot) in inner.tags.all() {
            let carried = inner
                .shards
                .get(idx)
                .is_some_and(|cell| cell.lock.read().carries(slot, id));
            if !carried {
                return Err(InvariantError(format!(
                    "tag {id} indexes slot {slot} of shard {idx}, which does not carry it"
                )));
            }
        }
        let totals = (
            inner.totals.len.load(Ordering::Relaxed),
            inner.totals.weight(),
            inner.totals.prioritized.load(Ordering::Relaxed),
        );
        if totals != (len, weight, prioritized) {
            return Err(InvariantError(format!(
                "totals (len, weight, prioritized) {totals:?} but shards hold {:?}",
                (len, weight, prioritized)
            )));
        }
        if inner.max_entries.is_some_and(|m| len > m)
            || inner.max_weight.is_some_and(|m| weight > m)
        {
            return Err(InvariantError(format!(
                "over capacity: {len} entries weighing {weight}"
            )));
        }
        Ok(())
    }
}
