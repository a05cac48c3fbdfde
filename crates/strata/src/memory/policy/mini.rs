//! A miniature cache of key hashes under a fixed `Adaptive` setting: the
//! tuner's simulations, and the policy's unit tests.
//!
//! It runs the production policy over the production slot store, keyed by
//! hash (a key is its own hash), with the replay protocol of `strata sim`:
//! a request hits or is inserted, and inserts evict down to the capacity.

use hashbrown::HashTable;

use super::super::entry::{Entry, Link, NIL, Segment, Stamp, fresh_ticks};
use super::super::slots::Slots;
use super::adaptive::{Adaptive, Setting};
use super::{Facts, Nodes, Sizing};

pub(crate) struct Mini {
    table: HashTable<u32>,
    slots: Slots<u64, ()>,
    policy: Adaptive,
    capacity: u64,
    /// Requests so far: the policy's clock.
    clock: u64,
    /// As the real cache's shards: see `Entry::touch`.
    fresh: u32,
}

/// The policy's view of a miniature's slots.
struct View<'a> {
    slots: &'a mut Slots<u64, ()>,
    now: u32,
}

impl Nodes for View<'_> {
    fn now(&self) -> u32 {
        self.now
    }
    fn link(&self, slot: u32) -> Link {
        // The policy only names linked slots; a stray name reads as the end
        // of a queue rather than a panic.
        self.slots
            .link(slot)
            .unwrap_or(Link::new(NIL, Segment::Window, 0))
    }
    fn set_link(&mut self, slot: u32, link: Link) {
        self.slots.set_link(slot, link);
    }
    fn is_live(&self, slot: u32) -> bool {
        self.slots.get(slot).is_some()
    }
    fn stamp(&self, slot: u32) -> Stamp {
        self.slots.get(slot).map_or(Stamp::default(), Entry::stamp)
    }
    fn set_stamp(&mut self, slot: u32, stamp: Stamp) {
        if let Some(e) = self.slots.get(slot) {
            e.stamp.store(stamp.0, std::sync::atomic::Ordering::Relaxed);
        }
    }
    fn hash(&self, slot: u32) -> u64 {
        self.slots.get(slot).map_or(0, |e| e.key)
    }
    fn weight(&self, _slot: u32) -> u32 {
        1
    }
    fn release(&mut self, slot: u32) {
        self.slots.release(slot);
    }
}

impl std::fmt::Debug for Mini {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mini")
            .field("capacity", &self.capacity)
            .field("len", &self.slots.len())
            .finish_non_exhaustive()
    }
}

impl Mini {
    pub(crate) fn new(capacity: u64, setting: Setting) -> Self {
        let capacity = capacity.max(1);
        let policy = Adaptive::fixed(Sizing::entries(capacity), setting);
        let fresh = fresh_ticks(capacity, policy.tick_shift());
        Self {
            table: HashTable::with_capacity(capacity as usize + 1),
            slots: Slots::new(capacity as usize + 1, u32::MAX),
            policy,
            capacity,
            clock: 0,
            fresh,
        }
    }

    fn view(&mut self) -> (View<'_>, &mut Adaptive, &mut HashTable<u32>) {
        let now = ((self.clock >> self.policy.tick_shift()) as u32) & Stamp::TIME_MASK;
        (
            View {
                slots: &mut self.slots,
                now,
            },
            &mut self.policy,
            &mut self.table,
        )
    }

    fn find(&self, hash: u64) -> Option<u32> {
        let slots = &self.slots;
        self.table
            .find(hash, |&s| slots.get(s).is_some_and(|e| e.key == hash))
            .copied()
    }

    /// Serves one request; returns whether it hit.
    pub(crate) fn request(&mut self, hash: u64) -> bool {
        self.clock += 1;
        if let Some(slot) = self.find(hash) {
            let fresh = self.fresh;
            let (view, ..) = self.view();
            if let Some(entry) = view.slots.get(slot) {
                entry.touch(view.now, fresh);
            }
            return true;
        }
        let Some(slot) = self.slots.insert(Entry::new(hash, (), 0)) else {
            return false;
        };
        let capacity = self.capacity;
        let (mut view, policy, table) = self.view();
        {
            let slots = &*view.slots;
            table.insert_unique(hash, slot, |&s| slots.get(s).map_or(0, |e| e.key));
        }
        policy.insert(slot, &Facts::plain(hash), None, &mut view);
        while view.slots.len() as u64 > capacity {
            let Some(victim) = policy.victim(Some(slot), &mut view) else {
                break;
            };
            let key = view.hash(victim);
            let linked = policy.evict(victim, &Facts::plain(key), &mut view);
            if let Ok(found) = table.find_entry(key, |&s| s == victim) {
                found.remove();
            }
            view.slots.remove(victim, linked);
        }
        false
    }

    /// The sketch's count of the key of `hash`.
    #[cfg(test)]
    pub(crate) fn frequency(&self, hash: u64) -> u8 {
        self.policy.frequency(hash)
    }

    /// Removes the key of `hash`, if present.
    #[cfg(test)]
    pub(crate) fn remove(&mut self, hash: u64) {
        let Some(slot) = self.find(hash) else {
            return;
        };
        let (mut view, policy, table) = self.view();
        let linked = policy.remove(slot, &Facts::plain(hash), &mut view);
        if let Ok(found) = table.find_entry(hash, |&s| s == slot) {
            found.remove();
        }
        view.slots.remove(slot, linked);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    #[cfg(test)]
    pub(crate) fn left_behind(&self) -> usize {
        self.slots.linked_vacancies()
    }

    /// Checks the policy against the slots. For tests.
    #[cfg(test)]
    pub(crate) fn validate(&self) -> Result<(), String> {
        self.slots.validate()?;
        let resident: Vec<u32> = self.slots.iter().map(|(s, _)| s).collect();
        let nodes = ReadView(&self.slots);
        self.policy.validate(&resident, &nodes)
    }
}

/// A read-only view for validation.
#[cfg(test)]
struct ReadView<'a>(&'a Slots<u64, ()>);

#[cfg(test)]
impl Nodes for ReadView<'_> {
    fn now(&self) -> u32 {
        0
    }
    fn link(&self, slot: u32) -> Link {
        self.0
            .link(slot)
            .unwrap_or(Link::new(NIL, Segment::Window, 0))
    }
    fn set_link(&mut self, _slot: u32, _link: Link) {}
    fn is_live(&self, slot: u32) -> bool {
        self.0.get(slot).is_some()
    }
    fn stamp(&self, slot: u32) -> Stamp {
        self.0.get(slot).map_or(Stamp::default(), Entry::stamp)
    }
    fn set_stamp(&mut self, _slot: u32, _stamp: Stamp) {}
    fn hash(&self, slot: u32) -> u64 {
        self.0.get(slot).map_or(0, |e| e.key)
    }
    fn weight(&self, _slot: u32) -> u32 {
        1
    }
    fn release(&mut self, _slot: u32) {}
}
