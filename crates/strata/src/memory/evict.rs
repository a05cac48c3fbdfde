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
//! (so no lock-order deadlock is possible).

use std::hash::Hash;
use std::sync::atomic::Ordering;

use super::cache::Inner;
use super::pressure::PressureLevel;
use super::removal::{RemovalCause, Removals};
use super::shard::Shard;

/// The bounds one write must respect.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    entries: Option<u64>,
    weight: Option<u64>,
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
            let weight = self.totals.weight.load(Ordering::Relaxed);
            limits.entries = Some(limits.entries.map_or(len, |m| m.min(len)));
            limits.weight = Some(limits.weight.map_or(weight, |m| m.min(weight)));
        }
        limits
    }

    fn over(&self, limits: Limits) -> bool {
        limits
            .entries
            .is_some_and(|m| self.totals.len.load(Ordering::Relaxed) > m)
            || limits
                .weight
                .is_some_and(|m| self.totals.weight.load(Ordering::Relaxed) > m)
    }

    /// The lowest priority published by any shard other than `home`.
    fn lowest_elsewhere(&self, home: usize) -> Option<i32> {
        self.shards
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != home)
            .map(|(_, c)| c.min_priority.load(Ordering::Relaxed))
            .filter(|&p| p != i32::MAX)
            .min()
    }

    /// Evicts from `shard` (number `idx`, locked by the caller) until the
    /// cache is within `limits`. `new` is the slot just written, spared
    /// unless its priority is strictly the lowest. Returns `false` when the
    /// rest must come from other shards.
    pub(crate) fn make_room_locally(
        &self,
        idx: usize,
        shard: &mut Shard<K, V>,
        mut new: Option<u32>,
        limits: Limits,
        out: &mut Removals<K, V>,
    ) -> bool {
        while self.over(limits) {
            let spared = new.map(|slot| (slot, shard.entry(slot).priority()));
            let candidate = match (shard.victim(new), spared) {
                (Some((_, p)), Some((slot, np))) if np < p => Some((slot, np)),
                (Some(victim), _) => Some(victim),
                (None, spared) => {
                    // Nothing here but the new entry (or nothing at all).
                    if self.lowest_elsewhere(idx).is_some() {
                        return false;
                    }
                    spared
                }
            };
            let Some((slot, priority)) = candidate else {
                return true; // empty everywhere: nothing more to do
            };
            if self.totals.prioritized.load(Ordering::Relaxed) > 0
                && self.lowest_elsewhere(idx).is_some_and(|p| p < priority)
            {
                return false;
            }
            shard.remove_into(slot, RemovalCause::Capacity, &self.totals, out);
            if new == Some(slot) {
                new = None;
            }
        }
        true
    }

    /// The shard to evict from next: lowest published priority; among equals,
    /// shards other than `home` first, then in rotation.
    fn pick_shard(&self, home: usize) -> Option<usize> {
        let n = self.shards.len();
        let start = self.evict_cursor.fetch_add(1, Ordering::Relaxed);
        (0..n)
            .map(|i| (start + i) % n)
            .map(|i| (i, self.shards[i].min_priority.load(Ordering::Relaxed)))
            .filter(|&(_, p)| p != i32::MAX)
            .min_by_key(|&(i, p)| (p, i == home))
            .map(|(i, _)| i)
    }

    /// Evicts from any shard until the cache is within `limits`. `new` is
    /// the slot and hash of the entry just written in shard `home`, spared
    /// while anything else of no higher priority remains.
    pub(crate) fn make_room_elsewhere(
        &self,
        home: usize,
        new: Option<(u32, u64)>,
        limits: Limits,
        out: &mut Removals<K, V>,
    ) {
        let mut fruitless = 0;
        while self.over(limits) && fruitless <= self.shards.len() {
            let Some(target) = self.pick_shard(home) else {
                break;
            };
            let now = self.clock.now_nanos();
            let mut shard = self.shards[target].lock.write();
            let before = out.len();
            shard.purge_expired(now, &self.totals, out);
            if self.over(limits) {
                let spared = new
                    .filter(|_| target == home)
                    .and_then(|(slot, hash)| shard.still_holds(slot, hash));
                let victim = match (shard.victim(spared), spared) {
                    (Some((_, p)), Some(s)) if shard.entry(s).priority() < p => Some(s),
                    (Some((slot, _)), _) => Some(slot),
                    (None, spared) => spared,
                };
                if let Some(slot) = victim {
                    shard.remove_into(slot, RemovalCause::Capacity, &self.totals, out);
                }
            }
            self.publish(target, &shard);
            drop(shard);
            if out.len() == before {
                fruitless += 1;
            } else {
                fruitless = 0;
            }
        }
    }

    /// Runs a pressure check if one is due at `now`.
    pub(crate) fn maybe_check_pressure(&self, now: u64) {
        if self.pressure.as_ref().is_some_and(|p| p.claim_check(now)) {
            self.check_pressure(now);
        }
    }

    /// Reads memory and sheds if past the soft threshold.
    pub(crate) fn check_pressure(&self, now: u64) {
        let Some(pressure) = &self.pressure else {
            return;
        };
        if pressure.measure() == PressureLevel::Normal {
            return;
        }
        let fraction = pressure.shed_fraction;
        for idx in 0..self.shards.len() {
            let mut out = Removals::new();
            let mut shed = 0;
            {
                let mut shard = self.shards[idx].lock.write();
                let before = shard.weight();
                let target = (before as f64 * fraction).ceil() as u64;
                shard.purge_expired(now, &self.totals, &mut out);
                while before - shard.weight() < target {
                    let Some((slot, _)) = shard.victim(None) else {
                        break;
                    };
                    shard.remove_into(slot, RemovalCause::Capacity, &self.totals, &mut out);
                    shed += 1;
                }
                self.publish(idx, &shard);
            }
            pressure.count_shed(shed);
            self.notify(idx, out);
        }
    }
}
