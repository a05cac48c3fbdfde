//! Keeping the cache within its bounds, and shedding under memory pressure.
//!
//! Bounds are global (atomic totals), policies are per shard. A write makes
//! room in its own shard first, under the lock it already holds; that is the
//! common case and needs no other lock. It looks at other shards only when
//!
//! * its shard has nothing to evict but the entry just written (one heavy
//!   entry, or a nearly empty shard), or
//! * some entries have a non-zero priority and another shard holds a lower
//!   priority than the local victim (so that priority is honoured across the
//!   whole cache, not just within a shard).
//!
//! It then releases its shard and evicts from the shard with the lowest
//! published priority, one victim at a time, never holding two shard locks
//! (so no lock-order deadlock is possible). Shedding under memory pressure
//! takes victims the same way, lowest priority first across all shards.

use std::hash::Hash;
use std::sync::atomic::Ordering;

use super::cache::{EMPTY, Inner};
use super::pressure::PressureLevel;
use super::removal::{RemovalCause, Removals};
use super::shard::Shard;
use super::totals::Ledger;

/// The bounds one write must respect.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    entries: Option<u64>,
    weight: Option<u64>,
}

impl Limits {
    /// Whether the cache, as `ledger` counts it, is over these bounds.
    #[inline]
    pub(crate) fn exceeded(self, ledger: &Ledger<'_>) -> bool {
        self.entries.is_some_and(|m| ledger.len() > m)
            || self.weight.is_some_and(|m| ledger.weight() > m)
    }
}

impl<K, V> Inner<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// The configured bounds, lowered to the current size under hard memory
    /// pressure so that a write must first make room for itself.
    pub(crate) fn limits(&self) -> Limits {
        let mut limits = Limits {
            entries: self.max_entries,
            weight: self.max_weight,
        };
        if self
            .pressure
            .as_ref()
            .is_some_and(|p| p.level() == PressureLevel::Hard)
        {
            let len = self.totals.len.load(Ordering::Relaxed);
            let weight = self.totals.weight();
            limits.entries = Some(limits.entries.map_or(len, |m| m.min(len)));
            limits.weight = Some(limits.weight.map_or(weight, |m| m.min(weight)));
        }
        limits
    }

    /// The lowest priority published by any shard other than `home`.
    fn lowest_elsewhere(&self, home: usize) -> Option<i64> {
        self.shards
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != home)
            .map(|(_, c)| c.min_priority.load(Ordering::Relaxed))
            .filter(|&p| p != EMPTY)
            .min()
    }

    /// Evicts from `shard` (number `idx`, locked by the caller) until the
    /// cache is within `limits`. `new` is the slot just written, spared
    /// unless its priority is strictly the lowest in the cache. Returns
    /// `false` when the rest must come from other shards.
    pub(crate) fn make_room_locally(
        &self,
        idx: usize,
        shard: &mut Shard<K, V>,
        mut new: Option<u32>,
        limits: Limits,
        ledger: &Ledger<'_>,
        out: &mut Removals<K, V>,
    ) -> bool {
        while limits.exceeded(ledger) {
            let spared = new.map(|slot| (slot, shard.priority(slot)));
            let (slot, priority) = match (shard.victim(new), spared) {
                (Some((_, p)), Some((slot, np))) if np < p => {
                    // The newcomer is the lowest here; it goes only if no
                    // other shard holds anything of its priority or lower.
                    if self
                        .lowest_elsewhere(idx)
                        .is_some_and(|p| p <= i64::from(np))
                    {
                        return false;
                    }
                    (slot, np)
                }
                (Some(victim), _) => victim,
                (None, spared) => {
                    // Nothing here but the new entry (or nothing at all).
                    if self.lowest_elsewhere(idx).is_some() {
                        return false;
                    }
                    match spared {
                        Some(s) => s,
                        None => return true, // empty everywhere
                    }
                }
            };
            if Some(slot) != new
                && ledger.prioritized() > 0
                && self
                    .lowest_elsewhere(idx)
                    .is_some_and(|p| p < i64::from(priority))
            {
                return false;
            }
            shard.remove_into(slot, RemovalCause::Capacity, ledger, out);
            if new == Some(slot) {
                new = None;
            }
        }
        true
    }

    /// The shard to evict from next: lowest published priority; among equals,
    /// shards other than `home` first, then in rotation.
    fn pick_shard(&self, home: Option<usize>) -> Option<usize> {
        let n = self.shards.len();
        let start = self.evict_cursor.fetch_add(1, Ordering::Relaxed);
        (0..n)
            .map(|i| (start + i) % n)
            .map(|i| (i, self.shards[i].min_priority.load(Ordering::Relaxed)))
            .filter(|&(_, p)| p != EMPTY)
            .min_by_key(|&(i, p)| (p, Some(i) == home))
            .map(|(i, _)| i)
    }

    /// Evicts one victim from the shard `pick_shard` chooses, sparing `new`
    /// (slot and hash of an entry in `home`) unless it is strictly the
    /// lowest there. Returns how many entries and how much weight left (0
    /// when there was nothing to evict).
    fn evict_one(
        &self,
        home: Option<usize>,
        new: Option<(u32, u64)>,
        out: &mut Removals<K, V>,
    ) -> Option<(u64, u64)> {
        let target = self.pick_shard(home)?;
        let mut shard = self.shards[target].lock.write();
        let spared = new
            .filter(|_| Some(target) == home)
            .and_then(|(slot, hash)| shard.still_holds(slot, hash));
        let victim = match (shard.victim(spared), spared) {
            (Some((_, p)), Some(s)) if shard.priority(s) < p => Some(s),
            (Some((slot, _)), _) => Some(slot),
            (None, spared) => spared,
        };
        let freed = victim.map(|slot| {
            let weight = u64::from(shard.weight_of(slot));
            shard.remove_into(
                slot,
                RemovalCause::Capacity,
                &Ledger::new(&self.totals),
                out,
            );
            (1, weight)
        });
        self.publish(target, &shard);
        freed
    }

    /// Evicts from any shard until the cache is within `limits`. `new` is
    /// the slot and hash of the entry just written in shard `home`.
    pub(crate) fn make_room_elsewhere(
        &self,
        home: usize,
        new: Option<(u32, u64)>,
        limits: Limits,
        out: &mut Removals<K, V>,
    ) {
        self.purge_all(out);
        let mut fruitless = 0;
        while limits.exceeded(&Ledger::new(&self.totals)) && fruitless <= self.shards.len() {
            match self.evict_one(Some(home), new, out) {
                Some(_) => fruitless = 0,
                None => fruitless += 1,
            }
        }
    }

    /// Purges expired entries from every shard, one lock at a time.
    fn purge_all(&self, out: &mut Removals<K, V>) {
        let now = self.clock.now_nanos();
        for (idx, cell) in self.shards.iter().enumerate() {
            let mut shard = cell.lock.write();
            shard.purge_expired(now, &Ledger::new(&self.totals), out);
            self.publish(idx, &shard);
        }
    }

    /// Runs a pressure check if one is due at `now`.
    pub(crate) fn maybe_check_pressure(&self, now: u64) {
        if self.pressure.as_ref().is_some_and(|p| p.claim_check(now)) {
            self.check_pressure();
        }
    }

    /// Reads memory and, past the soft threshold, sheds: every expired entry,
    /// then the coldest entries of the lowest priority across all shards,
    /// until `shed_fraction` of the entries and of the weight are gone.
    pub(crate) fn check_pressure(&self) {
        let Some(pressure) = &self.pressure else {
            return;
        };
        if pressure.measure() == PressureLevel::Normal {
            return;
        }
        let share = |total: u64| (total as f64 * pressure.shed_fraction).ceil() as u64;
        let (len, weight) = (
            self.totals.len.load(Ordering::Relaxed),
            self.totals.weight(),
        );
        let (want_entries, want_weight) = (share(len), share(weight));
        let mut out = Removals::new();
        self.purge_all(&mut out);
        let (mut entries, mut freed) = (
            len.saturating_sub(self.totals.len.load(Ordering::Relaxed)),
            weight.saturating_sub(self.totals.weight()),
        );
        let mut shed = 0;
        while entries < want_entries || freed < want_weight {
            let Some((n, w)) = self.evict_one(None, None, &mut out) else {
                break;
            };
            entries += n;
            freed += w;
            shed += n;
        }
        pressure.count_shed(shed);
        // Removals from any shard are counted under shard 0: stats sum them.
        self.notify(out);
    }
}
