//! One shard of the memory tier: a slab of entries, a hash table of slot
//! numbers, the eviction policy, the deadline queue and the tag index, all
//! kept consistent under the shard's lock.
//!
//! Slot numbers are `u32` so that the table and the policies' per-slot
//! tables stay small; `Shard::write` refuses the 2^32nd entry of a shard.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};

use foldhash::fast::FixedState;
use hashbrown::HashTable;
use slab::Slab;
use std::hash::BuildHasher;

use super::deadlines::DeadlineQueue;
use super::entry::{Entry, Meta};
use super::policy::{AnyPolicy, EvictionPolicy, Facts, Policy, Sizing};
use super::removal::{RemovalCause, Removals};
use super::tags::TagIndex;
use crate::error::InsertError;

/// Totals across all shards, kept by the shards as they change.
#[derive(Debug, Default)]
pub(crate) struct Totals {
    pub(crate) len: AtomicU64,
    pub(crate) weight: AtomicU64,
    /// Entries whose priority is not 0. While this is zero, every entry is in
    /// the same class and eviction never needs to look at other shards.
    pub(crate) prioritized: AtomicU64,
}

impl Totals {
    fn add(&self, weight: u32, priority: i32) {
        self.len.fetch_add(1, Ordering::Relaxed);
        self.weight.fetch_add(u64::from(weight), Ordering::Relaxed);
        if priority != 0 {
            self.prioritized.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn sub(&self, weight: u32, priority: i32) {
        self.len.fetch_sub(1, Ordering::Relaxed);
        self.weight.fetch_sub(u64::from(weight), Ordering::Relaxed);
        if priority != 0 {
            self.prioritized.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// A write's options with the cache's defaults applied and times made
/// absolute.
#[derive(Debug, Default)]
pub(crate) struct Spec {
    pub(crate) expires_at: Option<u64>,
    pub(crate) tti: Option<u64>,
    pub(crate) priority: i32,
    pub(crate) cost: u64,
    pub(crate) tags: Vec<String>,
    pub(crate) metadata: BTreeMap<String, String>,
}

impl Spec {
    /// Whether the entry needs no metadata box at all.
    fn is_plain(&self) -> bool {
        self.expires_at.is_none()
            && self.tti.is_none()
            && self.priority == 0
            && self.cost == 0
            && self.tags.is_empty()
            && self.metadata.is_empty()
    }
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Written {
    pub(crate) slot: u32,
    pub(crate) replaced: bool,
}

pub(crate) struct Shard<K, V> {
    table: HashTable<u32>,
    slab: Slab<Entry<K, V>>,
    policy: AnyPolicy,
    deadlines: DeadlineQueue,
    tags: TagIndex,
    weight: u64,
    /// Entries that can expire; bounds the stale items of `deadlines`.
    expiring: usize,
    /// The cache's hasher, for the paths that must hash a key again.
    hasher: FixedState,
}

impl<K: Hash + Eq, V> Shard<K, V> {
    pub(crate) fn new(policy: Policy, sizing: Sizing, hasher: FixedState) -> Self {
        Self {
            table: HashTable::new(),
            slab: Slab::new(),
            policy: AnyPolicy::new(policy, sizing),
            deadlines: DeadlineQueue::default(),
            tags: TagIndex::default(),
            weight: 0,
            expiring: 0,
            hasher,
        }
    }

    /// The hash of the key in `slot`.
    fn hash_of(&self, slot: u32) -> u64 {
        self.hasher.hash_one(&self.slab[slot as usize].key)
    }

    pub(crate) fn len(&self) -> usize {
        self.slab.len()
    }

    pub(crate) fn weight(&self) -> u64 {
        self.weight
    }

    /// Whether any entry of this shard can expire.
    pub(crate) fn can_expire(&self) -> bool {
        self.expiring > 0
    }

    pub(crate) fn find<Q>(&self, hash: u64, key: &Q) -> Option<u32>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.table
            .find(hash, |&slot| self.slab[slot as usize].key.borrow() == key)
            .copied()
    }

    /// The entry in `slot`. Slots come from `find`, `victim` or the tag
    /// index, all of which only hold occupied slots.
    pub(crate) fn entry(&self, slot: u32) -> &Entry<K, V> {
        &self.slab[slot as usize]
    }

    /// The slot holding an entry with `hash`, if `slot` still does.
    pub(crate) fn still_holds(&self, slot: u32, hash: u64) -> Option<u32> {
        self.slab
            .get(slot as usize)
            .is_some_and(|e| self.hasher.hash_one(&e.key) == hash)
            .then_some(slot)
    }

    pub(crate) fn entries(&self) -> impl Iterator<Item = &Entry<K, V>> {
        self.slab.iter().map(|(_, e)| e)
    }

    fn facts(&self, slot: u32, hash: u64) -> Facts {
        let entry = &self.slab[slot as usize];
        Facts {
            priority: entry.priority(),
            weight: entry.weight,
            cost: entry.meta.as_ref().map_or(0, |m| m.cost),
            deadline: entry.deadline(),
            hash,
        }
    }

    /// Records a read of `slot`, whose key has `hash`, at `now` (for the
    /// policy and time to idle).
    pub(crate) fn access(&mut self, slot: u32, hash: u64, now: u64) {
        self.slab[slot as usize].touch(now);
        let facts = self.facts(slot, hash);
        self.policy.access(slot, &facts);
    }

    fn make_meta(&self, spec: Spec, now: u64) -> Option<Box<Meta>> {
        if spec.is_plain() {
            return None;
        }
        let mut tags: Vec<_> = spec.tags.iter().map(|t| self.tags.intern(t)).collect();
        tags.dedup();
        Some(Box::new(Meta {
            expires_at: spec.expires_at,
            tti: spec.tti,
            last_access: AtomicU64::new(now),
            queued_at: u64::MAX,
            priority: spec.priority,
            cost: spec.cost,
            tags: tags.into_boxed_slice(),
            metadata: spec.metadata,
        }))
    }

    /// Indexes the tags and deadline of the entry in `slot`.
    fn index_entry(&mut self, slot: u32) {
        let entry = &mut self.slab[slot as usize];
        let Some(meta) = entry.meta.as_mut() else {
            return;
        };
        for tag in meta.tags.iter() {
            self.tags.add(tag, slot);
        }
        if meta.can_expire() {
            self.expiring += 1;
        }
        if let Some(deadline) = meta.deadline() {
            meta.queued_at = deadline;
            self.deadlines.push(deadline, slot);
        }
    }

    /// Removes the tags and expiry bookkeeping of the entry in `slot`.
    /// Its deadline-queue item goes stale and is skipped later.
    fn unindex_entry(&mut self, slot: u32) {
        let entry = &self.slab[slot as usize];
        let Some(meta) = entry.meta.as_ref() else {
            return;
        };
        for tag in meta.tags.iter() {
            self.tags.remove(tag, slot);
        }
        if meta.can_expire() {
            self.expiring -= 1;
        }
    }

    /// Inserts or overwrites `key`. An overwritten value goes to `out` as
    /// [`RemovalCause::Replaced`], with the key given here.
    ///
    /// # Errors
    /// [`InsertError::ShardFull`] at the 2^32nd entry; the shard is unchanged.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn write(
        &mut self,
        hash: u64,
        key: K,
        value: V,
        weight: u32,
        spec: Spec,
        now: u64,
        totals: &Totals,
        out: &mut Removals<K, V>,
    ) -> Result<Written, InsertError> {
        let meta = self.make_meta(spec, now);
        if let Some(slot) = self.find(hash, &key) {
            self.unindex_entry(slot);
            let entry = &mut self.slab[slot as usize];
            totals.sub(entry.weight, entry.priority());
            self.weight -= u64::from(entry.weight);
            let old = std::mem::replace(&mut entry.value, value);
            entry.weight = weight;
            entry.meta = meta;
            totals.add(weight, entry.priority());
            self.weight += u64::from(weight);
            self.index_entry(slot);
            let facts = self.facts(slot, hash);
            self.policy.update(slot, &facts);
            out.push((key, old, RemovalCause::Replaced));
            return Ok(Written {
                slot,
                replaced: true,
            });
        }
        let slot = u32::try_from(self.slab.vacant_key())
            .ok()
            .filter(|&s| s != u32::MAX)
            .ok_or(InsertError::ShardFull)?;
        let entry = Entry {
            key,
            value,
            weight,
            meta,
        };
        totals.add(weight, entry.priority());
        self.weight += u64::from(weight);
        let at = self.slab.insert(entry);
        debug_assert_eq!(at, slot as usize);
        let (slab, hasher) = (&self.slab, &self.hasher);
        self.table
            .insert_unique(hash, slot, |&s| hasher.hash_one(&slab[s as usize].key));
        self.index_entry(slot);
        let facts = self.facts(slot, hash);
        self.policy.insert(slot, &facts);
        Ok(Written {
            slot,
            replaced: false,
        })
    }

    /// Removes the entry in `slot` for `cause` and returns its key and value.
    pub(crate) fn remove_slot(
        &mut self,
        slot: u32,
        cause: RemovalCause,
        totals: &Totals,
    ) -> (K, V) {
        self.unindex_entry(slot);
        let hash = self.hash_of(slot);
        let entry = self.slab.remove(slot as usize);
        if let Ok(found) = self.table.find_entry(hash, |&s| s == slot) {
            found.remove();
        }
        if cause == RemovalCause::Capacity {
            self.policy.evict(slot);
        } else {
            self.policy.remove(slot);
        }
        self.weight -= u64::from(entry.weight);
        totals.sub(entry.weight, entry.priority());
        (entry.key, entry.value)
    }

    /// Removes `slot` for `cause`, or for [`RemovalCause::Expired`] if it had
    /// expired by `now` (so the listener learns why it really went).
    /// Returns whether it was live.
    pub(crate) fn remove_live(
        &mut self,
        slot: u32,
        cause: RemovalCause,
        now: u64,
        totals: &Totals,
        out: &mut Removals<K, V>,
    ) -> bool {
        let live = !self.entry(slot).is_expired(now);
        let cause = if live { cause } else { RemovalCause::Expired };
        self.remove_into(slot, cause, totals, out);
        live
    }

    /// Removes `slot` for `cause`, recording it in `out`.
    pub(crate) fn remove_into(
        &mut self,
        slot: u32,
        cause: RemovalCause,
        totals: &Totals,
        out: &mut Removals<K, V>,
    ) {
        let (key, value) = self.remove_slot(slot, cause, totals);
        out.push((key, value, cause));
    }

    /// Removes every entry whose deadline has passed at `now`.
    pub(crate) fn purge_expired(&mut self, now: u64, totals: &Totals, out: &mut Removals<K, V>) {
        while let Some((queued, slot)) = self.deadlines.pop_due(now) {
            let Some(meta) = self
                .slab
                .get_mut(slot as usize)
                .and_then(|e| e.meta.as_mut())
            else {
                continue; // stale: the slot is empty or reused without options
            };
            if meta.queued_at != queued {
                continue; // stale: the entry was re-queued or the slot reused
            }
            match meta.deadline() {
                Some(deadline) if deadline <= now => {
                    self.remove_into(slot, RemovalCause::Expired, totals, out);
                }
                Some(deadline) => {
                    // A read extended the idle deadline: wait for the real one.
                    meta.queued_at = deadline;
                    self.deadlines.push(deadline, slot);
                }
                None => meta.queued_at = u64::MAX,
            }
        }
        self.compact_deadlines();
    }

    /// Drops stale deadline items once they outnumber live ones.
    fn compact_deadlines(&mut self) {
        if self.deadlines.len() <= 2 * self.expiring + 64 {
            return;
        }
        let live = self.slab.iter().filter_map(|(slot, e)| {
            let meta = e.meta.as_ref()?;
            (meta.queued_at != u64::MAX).then_some((meta.queued_at, slot as u32))
        });
        let live: Vec<_> = live.collect();
        self.deadlines.rebuild(live.into_iter());
    }

    /// The next entry to evict other than `skip`, with its priority.
    pub(crate) fn victim(&self, skip: Option<u32>) -> Option<(u32, i32)> {
        self.policy
            .victim(skip)
            .map(|slot| (slot, self.slab[slot as usize].priority()))
    }

    pub(crate) fn min_priority(&self) -> Option<i32> {
        self.policy.min_priority()
    }

    /// The slots of entries carrying `tag`.
    pub(crate) fn tagged(&self, tag: &str) -> Vec<u32> {
        self.tags.slots(tag)
    }

    /// The slots of entries whose key satisfies `pred`.
    pub(crate) fn matching(&self, mut pred: impl FnMut(&K) -> bool) -> Vec<u32> {
        self.slab
            .iter()
            .filter(|(_, e)| pred(&e.key))
            .map(|(slot, _)| slot as u32)
            .collect()
    }

    /// Removes everything, recording each entry in `out` with `cause` (or
    /// [`RemovalCause::Expired`] if it had expired by `now`). Returns how
    /// many live entries it removed.
    pub(crate) fn drain(
        &mut self,
        cause: RemovalCause,
        now: u64,
        totals: &Totals,
        out: &mut Removals<K, V>,
    ) -> u64 {
        let mut live = 0;
        for entry in self.slab.drain() {
            totals.sub(entry.weight, entry.priority());
            let cause = if entry.is_expired(now) {
                RemovalCause::Expired
            } else {
                live += 1;
                cause
            };
            out.push((entry.key, entry.value, cause));
        }
        self.table.clear();
        self.policy.clear();
        self.deadlines.clear();
        self.tags.clear();
        self.weight = 0;
        self.expiring = 0;
        live
    }

    /// Checks every invariant of the shard. O(n log n); for tests.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.table.len() != self.slab.len() {
            return Err(format!(
                "table holds {} slots, slab {}",
                self.table.len(),
                self.slab.len()
            ));
        }
        let mut weight = 0u64;
        let mut expiring = 0usize;
        let mut resident = Vec::with_capacity(self.slab.len());
        for (slot, entry) in &self.slab {
            let slot = slot as u32;
            resident.push(slot);
            weight += u64::from(entry.weight);
            if self.find(self.hasher.hash_one(&entry.key), &entry.key) != Some(slot) {
                return Err(format!("slot {slot} is not found by its key"));
            }
            for tag in entry.tags() {
                if !self.tags.contains(tag, slot) {
                    return Err(format!("slot {slot}: tag {tag:?} not indexed"));
                }
            }
            if let Some(meta) = &entry.meta {
                if meta.can_expire() {
                    expiring += 1;
                }
                if let Some(deadline) = meta.deadline() {
                    // The queued deadline is a lower bound on the real one.
                    if meta.queued_at > deadline || !self.deadlines.contains(meta.queued_at, slot) {
                        return Err(format!("slot {slot}: deadline {deadline} not queued"));
                    }
                }
            }
        }
        for (tag, slots) in self.tags.iter() {
            for &slot in slots {
                let tagged = self
                    .slab
                    .get(slot as usize)
                    .is_some_and(|e| e.tags().iter().any(|t| t == tag));
                if !tagged {
                    return Err(format!("tag {tag:?} indexes slot {slot} without it"));
                }
            }
        }
        if weight != self.weight {
            return Err(format!(
                "weights sum to {weight}, shard says {}",
                self.weight
            ));
        }
        if expiring != self.expiring {
            return Err(format!(
                "{expiring} expiring entries, shard says {}",
                self.expiring
            ));
        }
        if self.policy.len() != self.slab.len() {
            return Err(format!(
                "policy tracks {}, shard holds {}",
                self.policy.len(),
                self.slab.len()
            ));
        }
        self.policy.validate(&resident)
    }
}
