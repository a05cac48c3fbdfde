//! One shard of the memory tier: the slots of its entries, a hash table of
//! slot numbers, the entries' optional parts, the eviction policy, the
//! expiry queue and the tag index, all kept consistent under the shard's
//! lock.
//!
//! Slot numbers are `u32`s below [`MAX_SLOTS`] so that the table and the
//! policies' links stay small; `Shard::write` refuses an entry beyond them.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use foldhash::fast::FixedState;
use hashbrown::HashTable;
use hashbrown::hash_table::Entry as Place;

use super::entry::{Entry, LATEST, Link, Stamp};
use super::evict::Limits;
use super::expiry::ExpiryQueue;
use super::extras::{Extras, Rich};
use super::policy::{AnyPolicy, Facts, Nodes, Policy, Sizing, Tuner};
use super::removal::{RemovalCause, Removals};
use super::slots::Slots;
use super::snapshot::SnapshotEntry;
use super::tags::Tags;
use super::totals::Ledger;
use crate::error::InsertError;

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
    /// Whether the entry needs no optional parts at all.
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
    /// Only the value and the entry's use changed: a plain overwrite at the
    /// same weight. The shard's lowest priority is as it was.
    pub(crate) in_place: bool,
}

/// What [`Shard::read_plain`] found.
pub(crate) enum Plain<V> {
    Hit(V),
    Miss,
    /// An entry that can expire: read it with [`Shard::read`].
    Other,
}

/// What a shared-lock read found.
pub(crate) enum Read<K, V> {
    /// The value, and the key if asked for.
    Hit(V, Option<K>),
    Miss,
    /// The entry had expired: the caller removes it under the exclusive
    /// lock.
    Expired,
}

/// `repr(C)`, so that the fields lie in the order written:
///
/// * `clock`, which every read stores to, first: in the cache line of the
///   lock word, which every read writes anyway, rather than in a line of
///   its own that would move between cores too;
/// * then what every write reads, with the policy, before what only
///   entries with options need (`extras` past its weights, `tags`).
///
/// With many shards, one thread meets each shard's lines cold: a miss came
/// back to its shard after dozens of misses elsewhere. The write path's
/// fields packed together cost a P6 replay at 160,000 entries over 64
/// shards about one L1 miss fewer per miss than Rust's own order, which put
/// the hasher alone on a ninth line (cachegrind).
#[repr(C)]
pub(crate) struct Shard<K, V> {
    /// Requests seen (gets, hit or not): the policy's clock. Bumped by reads
    /// under the shared lock with a plain load and store, so it may lose a
    /// tick to a race; it only needs to move at about the request rate.
    clock: AtomicU64,
    /// From `clock` to the policy's ticks.
    shift: u32,
    /// Reads of an entry whose stamp is fewer than this many ticks old, with
    /// nothing else new to record, store nothing (see `Entry::touch`).
    fresh: u32,
    table: HashTable<u32>,
    slots: Slots<K, V>,
    /// The cache's hasher, for the paths that must hash a key again.
    hasher: FixedState,
    weight: u64,
    /// Entries that can expire; bounds the stale items of `expiry`.
    expiring: usize,
    expiry: ExpiryQueue,
    policy: AnyPolicy,
    extras: Extras,
    /// The cache's tag index, and this shard's number in it.
    tags: Arc<Tags>,
    index: usize,
}

/// The table's hasher: the hash of a slot's key, for when the table moves
/// its slot numbers as it grows.
fn rehash<'a, K: Hash, V>(
    slots: &'a Slots<K, V>,
    hasher: &'a FixedState,
) -> impl Fn(&u32) -> u64 + 'a {
    move |&slot| slots.get(slot).map_or(0, |e| hasher.hash_one(&e.key))
}

/// The policy's view of a shard's slots.
struct ShardNodes<'a, K, V> {
    slots: &'a mut Slots<K, V>,
    extras: &'a Extras,
    hasher: &'a FixedState,
    now: u32,
}

impl<K: Hash, V> Nodes for ShardNodes<'_, K, V> {
    #[inline]
    fn now(&self) -> u32 {
        self.now
    }
    #[inline]
    fn link(&self, slot: u32) -> Link {
        // The policy only names linked slots; a stray name reads as the end
        // of a queue rather than a panic.
        self.slots.link(slot).unwrap_or(Link::new(
            super::entry::NIL,
            super::entry::Segment::Window,
            0,
        ))
    }
    #[inline]
    fn set_link(&mut self, slot: u32, link: Link) {
        self.slots.set_link(slot, link);
    }
    #[inline]
    fn is_live(&self, slot: u32) -> bool {
        self.slots.get(slot).is_some()
    }
    #[inline]
    fn stamp(&self, slot: u32) -> Stamp {
        self.slots.get(slot).map_or(Stamp::default(), Entry::stamp)
    }
    #[inline]
    fn set_stamp(&mut self, slot: u32, stamp: Stamp) {
        if let Some(entry) = self.slots.get(slot) {
            entry.stamp.store(stamp.0, Ordering::Relaxed);
        }
    }
    #[inline]
    fn hash(&self, slot: u32) -> u64 {
        self.slots
            .get(slot)
            .map_or(0, |e| self.hasher.hash_one(&e.key))
    }
    #[inline]
    fn weight(&self, slot: u32) -> u32 {
        self.extras.weight(slot)
    }
    #[inline]
    fn release(&mut self, slot: u32) {
        self.slots.release(slot);
    }
}

impl<K: Hash + Eq, V> Shard<K, V> {
    /// Shard number `index` of a cache whose shards share `tags` (and the
    /// tuner, for `Adaptive`).
    pub(crate) fn new(
        index: usize,
        policy: Policy,
        sizing: Sizing,
        hasher: FixedState,
        weighted: bool,
        tags: Arc<Tags>,
        tuner: Option<Arc<Tuner>>,
    ) -> Self {
        let policy = AnyPolicy::new(policy, sizing, tuner);
        let shift = policy.tick_shift();
        Self {
            table: HashTable::new(),
            clock: AtomicU64::new(0),
            shift,
            fresh: super::entry::fresh_ticks(sizing.entries, shift),
            slots: Slots::new(sizing.entries as usize, tags.slot_limit()),
            extras: Extras::new(weighted),
            policy,
            expiry: ExpiryQueue::default(),
            tags,
            index,
            weight: 0,
            expiring: 0,
            hasher,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    pub(crate) fn weight(&self) -> u64 {
        self.weight
    }

    /// Whether any entry of this shard can expire.
    pub(crate) fn can_expire(&self) -> bool {
        self.expiring > 0
    }

    /// Whether reads need only the shared lock.
    #[inline]
    pub(crate) fn reads_are_shared(&self) -> bool {
        self.policy.reads_are_shared()
    }

    /// Requests counted on the policy's clock so far.
    #[cfg(test)]
    pub(crate) fn requests(&self) -> u64 {
        self.clock.load(Ordering::Relaxed)
    }

    /// Counts one request on the policy's clock and returns the time in its
    /// ticks.
    #[inline]
    pub(crate) fn tick(&self) -> u32 {
        let clock = self.clock.load(Ordering::Relaxed).wrapping_add(1);
        self.clock.store(clock, Ordering::Relaxed);
        ((clock >> self.shift) as u32) & Stamp::TIME_MASK
    }

    fn now_ticks(&self) -> u32 {
        ((self.clock.load(Ordering::Relaxed) >> self.shift) as u32) & Stamp::TIME_MASK
    }

    #[inline]
    pub(crate) fn find<Q>(&self, hash: u64, key: &Q) -> Option<u32>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let slots = &self.slots;
        self.table
            .find(hash, |&slot| {
                slots.get(slot).is_some_and(|e| e.key.borrow() == key)
            })
            .copied()
    }

    /// The entry in `slot`, if live.
    pub(crate) fn entry(&self, slot: u32) -> Option<&Entry<K, V>> {
        self.slots.get(slot)
    }

    /// The priority of the entry in `slot` (0 if vacant).
    pub(crate) fn priority(&self, slot: u32) -> i32 {
        self.slots
            .get(slot)
            .map_or(0, |e| self.extras.priority(slot, e.link))
    }

    /// The weight of the entry in `slot`.
    pub(crate) fn weight_of(&self, slot: u32) -> u32 {
        self.extras.weight(slot)
    }

    /// The deadline of the entry in `slot`, if it can expire.
    pub(crate) fn deadline(&self, slot: u32) -> Option<u64> {
        let entry = self.slots.get(slot)?;
        self.extras.deadline(slot, entry.link)
    }

    /// Whether the entry in `slot` has expired by `now`.
    pub(crate) fn is_expired(&self, slot: u32, now: u64) -> bool {
        self.deadline(slot).is_some_and(|d| d <= now)
    }

    /// Whether reading the entry in `slot` needs the current time.
    pub(crate) fn needs_clock(&self, slot: u32) -> bool {
        self.slots
            .get(slot)
            .is_some_and(|e| e.link.has(Link::EXPIRES))
    }

    /// The slot holding an entry with `hash`, if `slot` still does.
    pub(crate) fn still_holds(&self, slot: u32, hash: u64) -> Option<u32> {
        self.slots
            .get(slot)
            .is_some_and(|e| self.hasher.hash_one(&e.key) == hash)
            .then_some(slot)
    }

    /// Reads `key` under the shared lock: records the use in the entry's
    /// stamp (and its idle clock), or reports a miss or an expired entry.
    /// `now` gives the time, read only for entries that can expire.
    #[inline]
    pub(crate) fn read<Q>(
        &self,
        hash: u64,
        key: &Q,
        want_key: bool,
        now: impl FnOnce() -> u64,
    ) -> Read<K, V>
    where
        K: Borrow<Q> + Clone,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        let ticks = self.tick();
        let Some(slot) = self.find(hash, key) else {
            return Read::Miss;
        };
        let Some(entry) = self.slots.get(slot) else {
            return Read::Miss;
        };
        if entry.link.has(Link::EXPIRES) {
            let now = now();
            if self.extras.is_expired(slot, entry.link, now) {
                return Read::Expired;
            }
            self.extras.touch(slot, entry.link, now);
        }
        entry.touch(ticks, self.fresh);
        Read::Hit(entry.value.clone(), want_key.then(|| entry.key.clone()))
    }

    /// The common read, under the shared lock: an entry that cannot
    /// expire, read without its key. [`Plain::Other`] for an entry that can
    /// expire, which [`read`](Self::read) handles.
    #[inline]
    pub(crate) fn read_plain<Q>(&self, hash: u64, key: &Q) -> Plain<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        let Some(entry) = self.find(hash, key).and_then(|slot| self.slots.get(slot)) else {
            self.tick();
            return Plain::Miss;
        };
        if entry.link.has(Link::EXPIRES) {
            // `read` counts this request on the clock: once per read.
            return Plain::Other;
        }
        let ticks = self.tick();
        entry.touch(ticks, self.fresh);
        Plain::Hit(entry.value.clone())
    }

    /// The facts the policy may know of the entry in `slot`.
    #[inline]
    fn facts(&self, slot: u32, hash: u64) -> Facts {
        let link = self.slots.get(slot).map_or(
            Link::new(super::entry::NIL, super::entry::Segment::Window, 0),
            |e| e.link,
        );
        if link.flags() == 0 {
            return Facts {
                priority: 0,
                weight: self.extras.weight(slot),
                cost: 0,
                deadline: None,
                hash,
            };
        }
        self.rich_facts(slot, link, hash)
    }

    /// [`facts`](Self::facts) of an entry with options: out of line, so
    /// that the plain case inlines into the write paths.
    #[inline(never)]
    fn rich_facts(&self, slot: u32, link: Link, hash: u64) -> Facts {
        Facts {
            priority: self.extras.priority(slot, link),
            weight: self.extras.weight(slot),
            cost: self.extras.cost(slot, link),
            deadline: self.extras.deadline(slot, link),
            hash,
        }
    }

    /// Records a read of `slot` at `now` with a policy that needs the
    /// exclusive lock for it (and refreshes the idle clock).
    pub(crate) fn access(&mut self, slot: u32, hash: u64, now: u64) {
        let Some(entry) = self.slots.get(slot) else {
            return;
        };
        self.extras.touch(slot, entry.link, now);
        let facts = self.facts(slot, hash);
        self.policy.access(slot, &facts);
    }

    /// Runs `f` with the policy and its view of the slots.
    fn with_policy<R>(
        &mut self,
        f: impl FnOnce(&mut AnyPolicy, &mut ShardNodes<'_, K, V>) -> R,
    ) -> R {
        let now = self.now_ticks();
        let mut nodes = ShardNodes {
            slots: &mut self.slots,
            extras: &self.extras,
            hasher: &self.hasher,
            now,
        };
        f(&mut self.policy, &mut nodes)
    }

    /// Stores the options of `spec` for the entry in `slot` and indexes its
    /// tags and deadline; returns the link flags that say what it has.
    #[inline]
    fn store_options(&mut self, slot: u32, spec: Option<&mut Spec>, now: u64) -> u32 {
        match spec {
            Some(spec) if !spec.is_plain() => self.store_rich_options(slot, spec, now),
            _ => 0,
        }
    }

    // Out of line so that `store_options`, which plain writes call for
    // nothing, inlines into them.
    #[inline(never)]
    fn store_rich_options(&mut self, slot: u32, spec: &mut Spec, now: u64) -> u32 {
        let mut flags = 0;
        let mut ids: Vec<u32> = spec
            .tags
            .iter()
            .map(|t| self.tags.add(t, self.index, slot))
            .collect();
        ids.dedup();
        let first_tag = ids.first().copied();
        if first_tag.is_some() {
            flags |= Link::TAGGED;
        }
        if spec.expires_at.is_some() || spec.tti.is_some() {
            flags |= Link::EXPIRES;
        }
        let rich = Rich {
            tti: spec.tti,
            last_access: AtomicU64::new(now),
            priority: spec.priority,
            cost: spec.cost,
            more_tags: ids.get(1..).unwrap_or_default().into(),
            metadata: std::mem::take(&mut spec.metadata),
        };
        let rich = rich.is_needed().then(|| Box::new(rich));
        if rich.is_some() {
            flags |= Link::RICH;
        }
        let capacity = self.slots.capacity();
        self.extras
            .set_columns(slot, spec.expires_at, first_tag, capacity);
        self.extras.set_rich(slot, rich);
        if flags & Link::EXPIRES != 0 {
            self.expiring += 1;
            let link = Link::new(0, super::entry::Segment::Window, flags);
            if let Some(deadline) = self.extras.deadline(slot, link) {
                self.expiry.push(deadline, slot);
            }
        }
        flags
    }

    /// Forgets the options of the entry in `slot` (its tags leave the
    /// index; its expiry item goes stale).
    #[inline]
    fn clear_options(&mut self, slot: u32, link: Link) {
        if link.flags() != 0 {
            self.clear_rich_options(slot, link);
        }
    }

    #[inline(never)]
    fn clear_rich_options(&mut self, slot: u32, link: Link) {
        for id in self.extras.tag_ids(slot, link) {
            self.tags.remove(id, self.index, slot);
        }
        if link.has(Link::EXPIRES) {
            self.expiring -= 1;
        }
        self.extras.take(slot);
    }

    /// Inserts or overwrites `key`. An overwritten value goes to `out` as
    /// [`RemovalCause::Replaced`], with the key given here.
    ///
    /// # Errors
    /// [`InsertError::ShardFull`] at the shard's slot limit; the shard is
    /// unchanged.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn write(
        &mut self,
        hash: u64,
        key: K,
        value: V,
        weight: u32,
        spec: Option<&mut Spec>,
        now: u64,
        limits: Limits,
        totals: &Ledger<'_>,
        out: &mut Removals<K, V>,
    ) -> Result<Written, InsertError> {
        // One probe of the table finds the key or the place for it: a find
        // and then an insert probed twice on every miss.
        let slots = &self.slots;
        let found = self.table.entry(
            hash,
            |&s| slots.get(s).is_some_and(|e| e.key == key),
            rehash(slots, &self.hasher),
        );
        let (slot, replaced) = match found {
            Place::Vacant(place) => {
                let slot = self
                    .slots
                    .insert(Entry::new(key, value, 0))
                    .ok_or(InsertError::ShardFull)?;
                place.insert(slot);
                (slot, false)
            }
            Place::Occupied(at) => {
                let slot = *at.get();
                let old = self.facts(slot, hash);
                let priority = spec.as_ref().map_or(0, |s| s.priority);
                // The Adaptive policy's queues are per priority class and
                // singly linked, so an entry cannot change class in place:
                // it leaves and comes back as new.
                if !(self.policy.keeps_links() && old.priority != priority) {
                    return Ok(self.overwrite(
                        slot, hash, key, value, weight, spec, now, old, limits, totals, out,
                    ));
                }
                if let Some((old_key, old_value)) =
                    self.remove_slot(slot, RemovalCause::Replaced, totals)
                {
                    out.push((old_key, old_value, RemovalCause::Replaced));
                }
                let slot = self
                    .slots
                    .insert(Entry::new(key, value, 0))
                    .ok_or(InsertError::ShardFull)?;
                self.table
                    .insert_unique(hash, slot, rehash(&self.slots, &self.hasher));
                (slot, true)
            }
        };
        self.extras.set_weight(slot, weight, self.slots.capacity());
        let flags = self.store_options(slot, spec, now);
        if let Some(entry) = self.slots.get_mut(slot) {
            entry.link = entry.link.with_flags(flags);
        }
        let priority = self.priority(slot);
        totals.add(weight, priority);
        self.weight += u64::from(weight);
        let facts = self.facts(slot, hash);
        let room = !limits.exceeded(totals);
        self.with_policy(|policy, nodes| policy.insert(slot, &facts, room, nodes));
        Ok(Written {
            slot,
            replaced,
            in_place: false,
        })
    }

    /// Overwrites the live entry in `slot` in place.
    #[allow(clippy::too_many_arguments)]
    fn overwrite(
        &mut self,
        slot: u32,
        hash: u64,
        key: K,
        value: V,
        weight: u32,
        spec: Option<&mut Spec>,
        now: u64,
        old: Facts,
        limits: Limits,
        totals: &Ledger<'_>,
        out: &mut Removals<K, V>,
    ) -> Written {
        // The usual overwrite, a plain entry rewritten plainly at the same
        // weight, changes only the value and the entry's use: no options to
        // clear or store, no totals, nothing for the policy (whose bounds
        // still hold, see `Adaptive::update`). A third of an overwrite's
        // instructions went to that bookkeeping.
        if spec.is_none() && old.weight == weight && self.policy.ignores_same_weight_updates() {
            let ticks = self.now_ticks();
            if let Some(entry) = self.slots.get_mut(slot)
                && entry.link.flags() == 0
            {
                // A write is a use.
                entry.touch(ticks, 0);
                let old_value = std::mem::replace(&mut entry.value, value);
                out.push((key, old_value, RemovalCause::Replaced));
                return Written {
                    slot,
                    replaced: true,
                    in_place: true,
                };
            }
        }
        let link = self.slots.get(slot).map(|e| e.link);
        if let Some(link) = link {
            self.clear_options(slot, link);
        }
        totals.sub(old.weight, old.priority);
        self.weight -= u64::from(old.weight);
        self.extras.set_weight(slot, weight, self.slots.capacity());
        let flags = self.store_options(slot, spec, now);
        let ticks = self.now_ticks();
        let old_value = match self.slots.get_mut(slot) {
            Some(entry) => {
                entry.link = entry.link.with_flags(flags);
                // A write is a use.
                entry.touch(ticks, 0);
                Some(std::mem::replace(&mut entry.value, value))
            }
            None => None,
        };
        let facts = self.facts(slot, hash);
        totals.add(weight, facts.priority);
        self.weight += u64::from(weight);
        let room = || !limits.exceeded(totals);
        self.with_policy(|policy, nodes| policy.update(slot, &old, &facts, room, nodes));
        if let Some(old_value) = old_value {
            out.push((key, old_value, RemovalCause::Replaced));
        }
        Written {
            slot,
            replaced: true,
            in_place: false,
        }
    }

    /// Removes the entry in `slot` for `cause` and returns its key and value.
    pub(crate) fn remove_slot(
        &mut self,
        slot: u32,
        cause: RemovalCause,
        totals: &Ledger<'_>,
    ) -> Option<(K, V)> {
        let entry = self.slots.get(slot)?;
        let (hash, link) = (self.hasher.hash_one(&entry.key), entry.link);
        let facts = self.facts(slot, hash);
        let keep_link = self.with_policy(|policy, nodes| {
            if cause == RemovalCause::Capacity {
                policy.evict(slot, &facts, nodes)
            } else {
                policy.remove(slot, &facts, nodes)
            }
        });
        self.clear_options(slot, link);
        let entry = self.slots.remove(slot, keep_link)?;
        if let Ok(found) = self.table.find_entry(hash, |&s| s == slot) {
            found.remove();
        }
        self.weight -= u64::from(facts.weight);
        totals.sub(facts.weight, facts.priority);
        Some((entry.key, entry.value))
    }

    /// Removes `slot` for `cause`, or for [`RemovalCause::Expired`] if it had
    /// expired by `now` (so the listener learns why it really went).
    /// Returns whether it was live.
    pub(crate) fn remove_live(
        &mut self,
        slot: u32,
        cause: RemovalCause,
        now: u64,
        totals: &Ledger<'_>,
        out: &mut Removals<K, V>,
    ) -> bool {
        let live = !self.is_expired(slot, now);
        let cause = if live { cause } else { RemovalCause::Expired };
        self.remove_into(slot, cause, totals, out);
        live
    }

    /// Removes `slot` for `cause`, recording it in `out`.
    pub(crate) fn remove_into(
        &mut self,
        slot: u32,
        cause: RemovalCause,
        totals: &Ledger<'_>,
        out: &mut Removals<K, V>,
    ) {
        if let Some((key, value)) = self.remove_slot(slot, cause, totals) {
            out.push((key, value, cause));
        }
    }

    /// Removes every entry whose deadline has passed at `now`.
    #[inline]
    pub(crate) fn purge_expired(
        &mut self,
        now: u64,
        totals: &Ledger<'_>,
        out: &mut Removals<K, V>,
    ) {
        if self.expiring > 0 || self.expiry.len() > 0 {
            self.purge_due(now, totals, out);
        }
    }

    fn purge_due(&mut self, now: u64, totals: &Ledger<'_>, out: &mut Removals<K, V>) {
        let mut later = Vec::new();
        while let Some(slot) = self.expiry.pop_due(now) {
            match self.deadline(slot) {
                Some(deadline) if deadline <= now => {
                    self.remove_into(slot, RemovalCause::Expired, totals, out);
                }
                // Not due yet (its tick has begun, or a read extended its
                // idle deadline): queue it again at its real deadline, after
                // this loop, which would otherwise pop it again.
                Some(deadline) => later.push((deadline, slot)),
                None => {} // stale: the slot is empty or reused without expiry
            }
        }
        for (deadline, slot) in later {
            self.expiry.push(deadline, slot);
        }
        self.compact_expiry();
    }

    /// Drops stale expiry items once they outnumber live ones.
    fn compact_expiry(&mut self) {
        if self.expiry.len() <= 2 * self.expiring + 64 {
            return;
        }
        let live: Vec<(u64, u32)> = self
            .slots
            .iter()
            .filter_map(|(slot, e)| Some((self.extras.deadline(slot, e.link)?, slot)))
            .collect();
        self.expiry.rebuild(live.into_iter());
    }

    /// The next entry to evict other than `skip`, with its priority.
    pub(crate) fn victim(&mut self, skip: Option<u32>) -> Option<(u32, i32)> {
        let slot = self.with_policy(|policy, nodes| policy.victim(skip, nodes))?;
        Some((slot, self.priority(slot)))
    }

    #[inline(always)]
    pub(crate) fn min_priority(&self) -> Option<i32> {
        self.policy.min_priority()
    }

    /// Whether the entry in `slot` carries tag `id`.
    pub(crate) fn carries(&self, slot: u32, id: u32) -> bool {
        self.slots
            .get(slot)
            .is_some_and(|e| self.extras.tag_ids(slot, e.link).any(|t| t == id))
    }

    /// The slots of entries whose key satisfies `pred`.
    pub(crate) fn matching(&self, mut pred: impl FnMut(&K) -> bool) -> Vec<u32> {
        self.slots
            .iter()
            .filter(|(_, e)| pred(&e.key))
            .map(|(slot, _)| slot)
            .collect()
    }

    /// Entries with a priority other than 0. For `validate`.
    pub(crate) fn prioritized(&self) -> u64 {
        self.slots
            .iter()
            .filter(|&(slot, e)| self.extras.priority(slot, e.link) != 0)
            .count() as u64
    }

    /// Appends every entry live at `now`, with its options, to `out`.
    pub(crate) fn snapshot_into(&self, now: u64, out: &mut Vec<SnapshotEntry<K, V>>)
    where
        K: Clone,
        V: Clone,
    {
        for (slot, e) in self.slots.iter() {
            if self.extras.is_expired(slot, e.link, now) {
                continue;
            }
            let mut entry = SnapshotEntry::new(e.key.clone(), e.value.clone());
            entry.expires_in = self
                .extras
                .ttl_deadline(slot, e.link)
                .map(|at| Duration::from_nanos(at.saturating_sub(now)));
            entry.tags = self
                .extras
                .tag_ids(slot, e.link)
                .filter_map(|id| self.tags.name(id).map(|n| n.to_string()))
                .collect();
            if let Some(rich) = self.extras.rich(slot, e.link) {
                entry.tti = rich.tti.map(Duration::from_nanos);
                entry.priority = rich.priority;
                entry.cost = (rich.cost > 0).then(|| Duration::from_nanos(rich.cost));
                entry.metadata = rich.metadata.clone();
            }
            out.push(entry);
        }
    }

    /// Removes everything, recording each entry in `out` with `cause` (or
    /// [`RemovalCause::Expired`] if it had expired by `now`). Returns how
    /// many live entries it removed.
    pub(crate) fn drain(
        &mut self,
        cause: RemovalCause,
        now: u64,
        totals: &Ledger<'_>,
        out: &mut Removals<K, V>,
    ) -> u64 {
        let mut live = 0;
        for (slot, e) in self.slots.iter() {
            for id in self.extras.tag_ids(slot, e.link) {
                self.tags.remove(id, self.index, slot);
            }
        }
        let doomed: Vec<(u32, bool, u32, i32)> = self
            .slots
            .iter()
            .map(|(slot, e)| {
                (
                    slot,
                    self.extras.is_expired(slot, e.link, now),
                    self.extras.weight(slot),
                    self.extras.priority(slot, e.link),
                )
            })
            .collect();
        for (entry, (_, expired, weight, priority)) in self.slots.drain().zip(doomed) {
            totals.sub(weight, priority);
            let cause = if expired {
                RemovalCause::Expired
            } else {
                live += 1;
                cause
            };
            out.push((entry.key, entry.value, cause));
        }
        self.table.clear();
        self.extras.clear();
        self.policy.clear();
        self.expiry.clear();
        self.weight = 0;
        self.expiring = 0;
        live
    }

    /// Checks every invariant of the shard. O(n log n); for tests.
    pub(crate) fn validate(&self) -> Result<(), String> {
        self.slots.validate()?;
        if self.table.len() != self.slots.len() {
            return Err(format!(
                "table holds {} slots, the shard {}",
                self.table.len(),
                self.slots.len()
            ));
        }
        let mut weight = 0u64;
        let mut expiring = 0usize;
        let mut resident = Vec::with_capacity(self.slots.len());
        for (slot, entry) in self.slots.iter() {
            resident.push(slot);
            weight += u64::from(self.extras.weight(slot));
            if self.find(self.hasher.hash_one(&entry.key), &entry.key) != Some(slot) {
                return Err(format!("slot {slot} is not found by its key"));
            }
            for id in self.extras.tag_ids(slot, entry.link) {
                if !self.tags.contains(id, self.index, slot) {
                    return Err(format!("slot {slot}: tag {id} not indexed"));
                }
            }
            if entry.link.has(Link::EXPIRES) {
                expiring += 1;
            }
            if let Some(deadline) = self.extras.deadline(slot, entry.link)
                && deadline < LATEST
                && !self.expiry.covers(deadline, slot)
            {
                return Err(format!("slot {slot}: deadline {deadline} not queued"));
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
        if self.policy.len() != self.slots.len() {
            return Err(format!(
                "policy tracks {}, shard holds {}",
                self.policy.len(),
                self.slots.len()
            ));
        }
        let nodes = ReadNodes {
            slots: &self.slots,
            extras: &self.extras,
            hasher: &self.hasher,
        };
        self.policy.validate(&resident, &nodes)
    }
}

/// A read-only view of a shard's slots, for `validate`.
struct ReadNodes<'a, K, V> {
    slots: &'a Slots<K, V>,
    extras: &'a Extras,
    hasher: &'a FixedState,
}

impl<K: Hash, V> Nodes for ReadNodes<'_, K, V> {
    fn now(&self) -> u32 {
        0
    }
    fn link(&self, slot: u32) -> Link {
        self.slots.link(slot).unwrap_or(Link::new(
            super::entry::NIL,
            super::entry::Segment::Window,
            0,
        ))
    }
    fn set_link(&mut self, _slot: u32, _link: Link) {}
    fn is_live(&self, slot: u32) -> bool {
        self.slots.get(slot).is_some()
    }
    fn stamp(&self, slot: u32) -> Stamp {
        self.slots.get(slot).map_or(Stamp::default(), Entry::stamp)
    }
    fn set_stamp(&mut self, _slot: u32, _stamp: Stamp) {}
    fn hash(&self, slot: u32) -> u64 {
        self.slots
            .get(slot)
            .map_or(0, |e| self.hasher.hash_one(&e.key))
    }
    fn weight(&self, slot: u32) -> u32 {
        self.extras.weight(slot)
    }
    fn release(&mut self, _slot: u32) {}
}
