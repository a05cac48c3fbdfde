//! What entries may carry besides key and value, kept beside the slots and
//! found by slot number.
//!
//! Layout choice: the two options most entries that have any carry, a time
//! to live and one tag, are columns (a deadline and a tag id per slot,
//! allocated when the shard first needs them); everything rarer (time to
//! idle, priority, cost, metadata, further tags) is one boxed [`Rich`] per
//! entry that has it, in a map. Weights are a column only in a cache with a
//! weigher; without one every entry weighs 1. Flags in each entry's
//! [`Link`] say which of these hold anything for it, so a plain entry's read
//! never looks here.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use hashbrown::HashMap;

use super::entry::{LATEST, Link};

/// "No deadline" in the deadline column.
const NO_DEADLINE: u64 = u64::MAX;

/// The rarer options of one entry.
#[derive(Debug)]
pub(crate) struct Rich {
    /// Time to idle, in nanoseconds.
    pub(crate) tti: Option<u64>,
    /// When the entry was last read (or written), for the time to idle.
    /// Atomic because reads refresh it under the shared lock.
    pub(crate) last_access: AtomicU64,
    pub(crate) priority: i32,
    /// Recreation cost in nanoseconds (0 = unknown).
    pub(crate) cost: u64,
    /// Tag ids after the first (which is in the tag column).
    pub(crate) more_tags: Box<[u32]>,
    pub(crate) metadata: BTreeMap<String, String>,
}

impl Rich {
    /// Whether these options hold anything an entry needs a box for.
    pub(crate) fn is_needed(&self) -> bool {
        self.tti.is_some()
            || self.priority != 0
            || self.cost != 0
            || !self.more_tags.is_empty()
            || !self.metadata.is_empty()
    }
}

/// The optional parts of a shard's entries, by slot.
///
/// `repr(C)` with `weights` first: the only field that the write of an
/// entry without options reads, next to the policy in the shard's layout.
#[derive(Debug, Default)]
#[repr(C)]
pub(crate) struct Extras {
    weights: Option<Vec<u32>>,
    deadlines: Vec<u64>,
    tags: Vec<u32>,
    rich: HashMap<u32, Box<Rich>>,
}

/// Sets `column[slot]`, growing the column to `capacity` slots first (the
/// slots' allocation, so a column never holds more than they do).
fn put<T: Copy>(column: &mut Vec<T>, slot: u32, value: T, fill: T, capacity: usize) {
    let at = slot as usize;
    if column.len() <= at {
        let target = capacity.max(at + 1);
        column.reserve_exact(target - column.len());
        column.resize(target, fill);
    }
    column[at] = value;
}

impl Extras {
    pub(crate) fn new(weighted: bool) -> Self {
        Self {
            weights: weighted.then(Vec::new),
            ..Self::default()
        }
    }

    /// The weight of the entry in `slot`.
    #[inline]
    pub(crate) fn weight(&self, slot: u32) -> u32 {
        self.weights
            .as_ref()
            .map_or(1, |w| w.get(slot as usize).copied().unwrap_or(1))
    }

    /// Sets the weight of `slot`; `capacity` is the shard's slot count, to
    /// grow the column once rather than slot by slot.
    #[inline]
    pub(crate) fn set_weight(&mut self, slot: u32, weight: u32, capacity: usize) {
        if let Some(column) = &mut self.weights {
            put(column, slot, weight, 1, capacity);
        }
    }

    /// Stores the time-to-live deadline and first tag of `slot` (the caller
    /// sets the matching flags).
    pub(crate) fn set_columns(
        &mut self,
        slot: u32,
        deadline: Option<u64>,
        tag: Option<u32>,
        capacity: usize,
    ) {
        if let Some(d) = deadline {
            put(
                &mut self.deadlines,
                slot,
                d.min(LATEST),
                NO_DEADLINE,
                capacity,
            );
        } else if let Some(d) = self.deadlines.get_mut(slot as usize) {
            *d = NO_DEADLINE;
        }
        if let Some(id) = tag {
            put(&mut self.tags, slot, id, 0, capacity);
        } else if let Some(t) = self.tags.get_mut(slot as usize) {
            *t = 0;
        }
    }

    pub(crate) fn set_rich(&mut self, slot: u32, rich: Option<Box<Rich>>) {
        match rich {
            Some(r) => {
                self.rich.insert(slot, r);
            }
            None => {
                self.rich.remove(&slot);
            }
        }
    }

    /// Forgets everything about `slot` but its weight, returning its rich
    /// options.
    pub(crate) fn take(&mut self, slot: u32) -> Option<Box<Rich>> {
        if let Some(d) = self.deadlines.get_mut(slot as usize) {
            *d = NO_DEADLINE;
        }
        if let Some(t) = self.tags.get_mut(slot as usize) {
            *t = 0;
        }
        self.rich.remove(&slot)
    }

    #[inline]
    pub(crate) fn rich(&self, slot: u32, link: Link) -> Option<&Rich> {
        if link.has(Link::RICH) {
            self.rich.get(&slot).map(|r| &**r)
        } else {
            None
        }
    }

    /// The time-to-live deadline of `slot`.
    #[inline]
    pub(crate) fn ttl_deadline(&self, slot: u32, link: Link) -> Option<u64> {
        if !link.has(Link::EXPIRES) {
            return None;
        }
        self.deadlines
            .get(slot as usize)
            .copied()
            .filter(|&d| d != NO_DEADLINE)
    }

    /// The moment the entry in `slot` expires: the earlier of its TTL
    /// deadline and its idle deadline, capped at [`LATEST`].
    #[inline]
    pub(crate) fn deadline(&self, slot: u32, link: Link) -> Option<u64> {
        if !link.has(Link::EXPIRES) {
            return None;
        }
        let idle = self.rich(slot, link).and_then(|r| {
            r.tti
                .map(|tti| r.last_access.load(Ordering::Relaxed).saturating_add(tti))
        });
        let deadline = match (self.ttl_deadline(slot, link), idle) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        deadline.map(|d| d.min(LATEST))
    }

    /// Expired at `now`: a deadline equal to `now` counts as passed.
    #[inline]
    pub(crate) fn is_expired(&self, slot: u32, link: Link, now: u64) -> bool {
        self.deadline(slot, link).is_some_and(|d| d <= now)
    }

    /// Records a read at `now` for the time-to-idle clock.
    #[inline]
    pub(crate) fn touch(&self, slot: u32, link: Link, now: u64) {
        if let Some(r) = self.rich(slot, link)
            && r.tti.is_some()
        {
            r.last_access.store(now, Ordering::Relaxed);
        }
    }

    #[inline]
    pub(crate) fn priority(&self, slot: u32, link: Link) -> i32 {
        self.rich(slot, link).map_or(0, |r| r.priority)
    }

    #[inline]
    pub(crate) fn cost(&self, slot: u32, link: Link) -> u64 {
        self.rich(slot, link).map_or(0, |r| r.cost)
    }

    /// The tag ids of `slot`.
    pub(crate) fn tag_ids(&self, slot: u32, link: Link) -> impl Iterator<Item = u32> + '_ {
        let first = link
            .has(Link::TAGGED)
            .then(|| self.tags.get(slot as usize).copied())
            .flatten()
            .filter(|&id| id != 0);
        let more = self.rich(slot, link).map_or(&[][..], |r| &r.more_tags[..]);
        first.into_iter().chain(more.iter().copied())
    }

    pub(crate) fn clear(&mut self) {
        self.deadlines.clear();
        self.tags.clear();
        self.rich.clear();
        if let Some(w) = &mut self.weights {
            w.clear();
        }
    }
}
