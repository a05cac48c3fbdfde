//! Eviction policies: which entry a full cache gives up.
//!
//! The list and ordered policies implement one internal trait,
//! `EvictionPolicy`, over slot numbers of one shard, and keep their own
//! per-slot state. `Adaptive`, the default, keeps none: it threads its queues
//! through the entries' own link words and keeps its per-entry state in their
//! stamps (through `Nodes`), so that a read records itself with one store
//! under the shard's shared lock. The shard calls the policy on every insert,
//! overwrite and removal (and on every read for the others), and asks it for
//! a victim when the cache is over capacity.
//!
//! **Priority** is handled the same way by every policy: entries form classes
//! by priority, and the victim always comes from the lowest non-empty class.
//! Within a class the policy's own order applies.
//!
//! **Demand fetch**: the entry being written is never chosen as its own victim
//! (unless it is in a strictly lower priority class than every other entry);
//! the shard enforces this by passing it as `skip`.

mod adaptive;
mod history;
mod hybrid;
mod lfu;
mod list;
mod lru;
mod mini;
mod ordered;
mod size;
mod sketch;
mod ttl;
mod tuner;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub(crate) use adaptive::Adaptive;
pub(crate) use tuner::Tuner;

use super::entry::{Link, Stamp};
pub(crate) use hybrid::Hybrid;
pub(crate) use lfu::Lfu;
pub(crate) use lru::Lru;
pub(crate) use size::SizePolicy;
pub(crate) use ttl::TtlPolicy;

/// The eviction policy of a [`MemoryCache`](crate::MemoryCache).
///
/// Under every policy, priority classes come first (an entry is evicted only
/// when no entry of lower priority remains) and ties are broken least recently
/// used first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Policy {
    /// The default, for the highest hit ratio: W-TinyLFU with reuse-aware
    /// admission. New entries enter a small LRU window; to stay, an entry
    /// pushed out of it must beat the entry it would displace — by a
    /// shorter reuse interval when it has one, else by a higher count in a
    /// compact, aging frequency sketch. The window's size and the admission
    /// rule are tuned as the cache runs, by miniature simulations of the
    /// alternatives on a sample of the keys. Resists scans and loops. Unlike
    /// the other policies it may turn away an entry leaving the window
    /// (never the entry just written). O(1) per operation, amortised. See
    /// `docs/policies.md`.
    #[default]
    Adaptive,
    /// Least recently used: evicts the entry read or written longest ago.
    /// O(1) per operation.
    Lru,
    /// Least frequently used, with dynamic aging (LFU-DA): an entry's key is
    /// `uses + L`, where `L` is raised to the key of each evicted entry. Fresh
    /// entries start at `L + 1`, so popularity earned long ago fades relative
    /// to what arrives later instead of pinning an entry forever.
    /// O(log n) per operation.
    Lfu,
    /// Soonest expiry first: evicts the entry whose TTL or idle deadline comes
    /// first; entries that never expire go last. O(log n) per operation.
    Ttl,
    /// Heaviest first: evicts the entry with the largest weight.
    /// O(log n) per operation.
    Size,
    /// Cost-aware (GreedyDual-Size-Frequency): evicts the entry of least value
    ///
    /// `value = L + (1 + hits) × (cost_µs + 1) / max(weight, 1)`
    ///
    /// where `cost_µs` is the time to recreate the entry in microseconds,
    /// `hits` the reads since it was written, and `L` the value of the last
    /// evicted entry (each access re-anchors the entry at the current `L`, so
    /// recent use raises value). Value grows with recreation cost, use and
    /// recency and shrinks with weight; priority ranks above all of it.
    /// O(log n) per operation.
    Hybrid,
}

impl Policy {
    /// Every policy, in declaration order.
    pub const ALL: [Policy; 6] = [
        Policy::Adaptive,
        Policy::Lru,
        Policy::Lfu,
        Policy::Ttl,
        Policy::Size,
        Policy::Hybrid,
    ];

    /// The policy's lower-case name, as accepted by [`FromStr`].
    pub fn name(self) -> &'static str {
        match self {
            Policy::Adaptive => "adaptive",
            Policy::Lru => "lru",
            Policy::Lfu => "lfu",
            Policy::Ttl => "ttl",
            Policy::Size => "size",
            Policy::Hybrid => "hybrid",
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A policy name that is not one of [`Policy::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown policy {0:?}: expected one of adaptive, lru, lfu, ttl, size, hybrid")]
pub struct UnknownPolicy(pub String);

impl FromStr for Policy {
    type Err = UnknownPolicy;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Policy::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownPolicy(s.to_owned()))
    }
}

/// What a policy may know about an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Facts {
    pub(crate) priority: i32,
    pub(crate) weight: u32,
    /// Recreation cost in nanoseconds (0 = unknown).
    pub(crate) cost: u64,
    /// When the entry expires, in clock nanoseconds.
    pub(crate) deadline: Option<u64>,
    /// The key's hash (for frequency sketches).
    pub(crate) hash: u64,
}

impl Facts {
    /// A plain entry: weight 1, priority 0, no cost, no deadline (the
    /// replays of the simulator and of `Adaptive`'s tuner).
    pub(crate) fn plain(hash: u64) -> Self {
        Self {
            priority: 0,
            weight: 1,
            cost: 0,
            deadline: None,
            hash,
        }
    }
}

/// How big a policy's share of the cache is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sizing {
    /// The shard's share of the bound, in entries or in weight.
    pub(crate) capacity: u64,
    /// Whether `capacity` is a weight (else an entry count).
    pub(crate) by_weight: bool,
    /// About how many entries the shard holds at most: what a policy's
    /// per-entry structures (frequency sketch, departure history) are sized
    /// by. Equal to `capacity` when that counts entries; for a weight, the
    /// entry bound when there is one, else an estimate — sizing a sketch by
    /// bytes would give a 256 MiB cache a sketch of 2^28 words.
    pub(crate) entries: u64,
}

impl Sizing {
    /// A bound of `capacity` entries.
    pub(crate) fn entries(capacity: u64) -> Self {
        Self {
            capacity,
            by_weight: false,
            entries: capacity,
        }
    }
}

/// The contract between a shard and its eviction policy. Slots are the
/// shard's entry numbers; the shard guarantees it calls `insert` once before
/// any other call for a slot, and `remove` or `evict` once when it leaves.
pub(crate) trait EvictionPolicy {
    /// A new entry arrived in `slot`.
    fn insert(&mut self, slot: u32, facts: &Facts);
    /// The entry in `slot` was overwritten; its facts may have changed.
    fn update(&mut self, slot: u32, facts: &Facts);
    /// The entry in `slot` was read.
    fn access(&mut self, slot: u32, facts: &Facts);
    /// The entry left for a reason other than capacity.
    fn remove(&mut self, slot: u32);
    /// The entry was evicted for capacity. Policies that age learn from it.
    fn evict(&mut self, slot: u32) {
        self.remove(slot);
    }
    /// The next entry to evict: the coldest of the lowest priority class,
    /// other than `skip`.
    fn victim(&self, skip: Option<u32>) -> Option<u32>;
    /// The lowest priority among the entries, if any.
    fn min_priority(&self) -> Option<i32>;
    /// Forgets every entry.
    fn clear(&mut self);
    /// How many entries the policy tracks.
    fn len(&self) -> usize;
    /// Checks internal consistency and that exactly `resident` are tracked.
    fn validate(&self, resident: &[u32]) -> Result<(), String>;
}

/// What the `Adaptive` policy reads and writes of the entries it orders: its
/// queues are threaded through the entries' [`Link`]s and its per-entry
/// state is their [`Stamp`]s, so it keeps no per-slot table of its own. A
/// shard provides this over its slots; the tuner's miniature caches over
/// theirs.
pub(crate) trait Nodes {
    /// The current time, in the policy's ticks.
    fn now(&self) -> u32;
    /// The link of `slot`, live or left behind by a removal.
    fn link(&self, slot: u32) -> Link;
    fn set_link(&mut self, slot: u32, link: Link);
    /// Whether `slot` holds a live entry (else it is left behind).
    fn is_live(&self, slot: u32) -> bool;
    fn stamp(&self, slot: u32) -> Stamp;
    fn set_stamp(&mut self, slot: u32, stamp: Stamp);
    /// The key hash of the live entry in `slot`.
    fn hash(&self, slot: u32) -> u64;
    /// The weight of the live entry in `slot`.
    fn weight(&self, slot: u32) -> u32;
    /// Frees a left-behind slot that no queue holds any more.
    fn release(&mut self, slot: u32);
}

/// The policy of one shard. An enum rather than a trait object so the hot
/// paths inline. The list and ordered policies keep per-slot tables and
/// implement [`EvictionPolicy`]; `Adaptive` works through [`Nodes`].
pub(crate) enum AnyPolicy {
    Adaptive(Adaptive),
    Lru(Lru),
    Lfu(Lfu),
    Ttl(TtlPolicy),
    Size(SizePolicy),
    Hybrid(Hybrid),
}

macro_rules! others {
    ($self:ident, $p:ident => $call:expr) => {
        match $self {
            AnyPolicy::Adaptive(_) => unreachable!("handled above"),
            AnyPolicy::Lru($p) => $call,
            AnyPolicy::Lfu($p) => $call,
            AnyPolicy::Ttl($p) => $call,
            AnyPolicy::Size($p) => $call,
            AnyPolicy::Hybrid($p) => $call,
        }
    };
}

impl AnyPolicy {
    pub(crate) fn new(policy: Policy, sizing: Sizing, tuner: Option<Arc<Tuner>>) -> Self {
        match policy {
            Policy::Adaptive => AnyPolicy::Adaptive(Adaptive::new(sizing, tuner)),
            Policy::Lru => AnyPolicy::Lru(Lru::default()),
            Policy::Lfu => AnyPolicy::Lfu(Lfu::default()),
            Policy::Ttl => AnyPolicy::Ttl(TtlPolicy::default()),
            Policy::Size => AnyPolicy::Size(SizePolicy::default()),
            Policy::Hybrid => AnyPolicy::Hybrid(Hybrid::default()),
        }
    }

    /// Whether reads record themselves in the entries' stamps alone, under
    /// the shard's shared lock (else a read must call [`access`](Self::access)
    /// under the exclusive lock).
    #[inline]
    pub(crate) fn reads_are_shared(&self) -> bool {
        matches!(self, AnyPolicy::Adaptive(_))
    }

    /// Whether an overwrite that keeps the entry's weight and priority asks
    /// nothing of the policy: `Adaptive` learns of the write from the
    /// entry's stamp, where the others reorder on every write.
    #[inline]
    pub(crate) fn ignores_same_weight_updates(&self) -> bool {
        matches!(self, AnyPolicy::Adaptive(_))
    }

    /// Whether a removed entry's slot must keep its link until the policy
    /// releases it.
    #[inline]
    pub(crate) fn keeps_links(&self) -> bool {
        matches!(self, AnyPolicy::Adaptive(_))
    }

    /// The shift from the shard's request clock to the policy's ticks.
    pub(crate) fn tick_shift(&self) -> u32 {
        match self {
            AnyPolicy::Adaptive(p) => p.tick_shift(),
            _ => 0,
        }
    }

    /// A new entry arrived in `slot`. `room`: whether the whole cache is
    /// within its bounds with it. A shard under its share of the bound may
    /// sit in a full cache, and must then choose as a full one does.
    #[inline]
    pub(crate) fn insert<N: Nodes>(&mut self, slot: u32, facts: &Facts, room: bool, nodes: &mut N) {
        if let AnyPolicy::Adaptive(p) = self {
            return p.insert(slot, facts, Some(room), nodes);
        }
        others!(self, p => p.insert(slot, facts))
    }

    /// The entry in `slot` was overwritten, keeping its priority; its weight
    /// may have changed from `old`. `room` as for [`insert`](Self::insert),
    /// asked only if the policy needs it (an overwrite of the same weight
    /// moves nothing, and checking the bounds costs the write).
    #[inline]
    pub(crate) fn update<N: Nodes>(
        &mut self,
        slot: u32,
        old: &Facts,
        facts: &Facts,
        room: impl FnOnce() -> bool,
        nodes: &mut N,
    ) {
        if let AnyPolicy::Adaptive(p) = self {
            return p.update(slot, old, facts, room, nodes);
        }
        others!(self, p => p.update(slot, facts))
    }

    /// A read, for the policies whose reads take the exclusive lock.
    #[inline]
    pub(crate) fn access(&mut self, slot: u32, facts: &Facts) {
        if let AnyPolicy::Adaptive(_) = self {
            return;
        }
        others!(self, p => p.access(slot, facts))
    }

    /// The live entry in `slot` leaves for a reason other than capacity.
    /// Called before the shard vacates the slot; returns whether the slot
    /// must keep its link (an `Adaptive` queue still holds it).
    #[inline]
    pub(crate) fn remove<N: Nodes>(&mut self, slot: u32, facts: &Facts, nodes: &mut N) -> bool {
        if let AnyPolicy::Adaptive(p) = self {
            return p.remove(slot, facts, nodes);
        }
        others!(self, p => p.remove(slot));
        false
    }

    /// The live entry in `slot` is evicted for capacity. Called before the
    /// shard vacates the slot; returns as [`remove`](Self::remove).
    #[inline]
    pub(crate) fn evict<N: Nodes>(&mut self, slot: u32, facts: &Facts, nodes: &mut N) -> bool {
        if let AnyPolicy::Adaptive(p) = self {
            return p.evict(slot, facts, nodes);
        }
        others!(self, p => p.evict(slot));
        false
    }

    /// The next entry to evict: the coldest of the lowest priority class,
    /// other than `skip`. May reorder entries on the way (CLOCK).
    #[inline]
    pub(crate) fn victim<N: Nodes>(&mut self, skip: Option<u32>, nodes: &mut N) -> Option<u32> {
        if let AnyPolicy::Adaptive(p) = self {
            return p.victim(skip, nodes);
        }
        others!(self, p => p.victim(skip))
    }

    #[inline(always)]
    pub(crate) fn min_priority(&self) -> Option<i32> {
        if let AnyPolicy::Adaptive(p) = self {
            return p.min_priority();
        }
        others!(self, p => p.min_priority())
    }

    pub(crate) fn clear(&mut self) {
        if let AnyPolicy::Adaptive(p) = self {
            return p.clear();
        }
        others!(self, p => p.clear())
    }

    pub(crate) fn len(&self) -> usize {
        if let AnyPolicy::Adaptive(p) = self {
            return p.len();
        }
        others!(self, p => p.len())
    }

    pub(crate) fn validate<N: Nodes>(&self, resident: &[u32], nodes: &N) -> Result<(), String> {
        if let AnyPolicy::Adaptive(p) = self {
            return p.validate(resident, nodes);
        }
        others!(self, p => p.validate(resident))
    }
}

/// Grows a per-slot table so that `slot` is a valid index.
pub(crate) fn ensure_slot<T: Clone>(table: &mut Vec<T>, slot: u32, fill: T) {
    let needed = slot as usize + 1;
    if table.len() < needed {
        table.resize(needed, fill);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_clear_errors() {
        for p in Policy::ALL {
            assert_eq!(p.name().parse::<Policy>(), Ok(p));
        }
        assert_eq!("LRU".parse::<Policy>(), Ok(Policy::Lru));
        let err = "arc".parse::<Policy>().expect_err("not a policy");
        assert!(err.to_string().contains("adaptive, lru"), "{err}");
    }
}
