//! The shared engine of the policies that evict "the entry with the smallest
//! key": an ordered set of `(priority, rank, tick, slot)` plus each slot's
//! current key. The policy supplies the rank; `tick` is a logical clock bumped
//! on every put, so equal ranks fall back to least recently used.

use std::collections::BTreeSet;

use super::ensure_slot;

pub(crate) type Key<R> = (i32, R, u64);

#[derive(Debug)]
pub(crate) struct OrderedIndex<R> {
    set: BTreeSet<(i32, R, u64, u32)>,
    keys: Vec<Option<Key<R>>>,
    tick: u64,
}

impl<R> Default for OrderedIndex<R> {
    fn default() -> Self {
        Self {
            set: BTreeSet::new(),
            keys: Vec::new(),
            tick: 0,
        }
    }
}

impl<R: Ord + Copy> OrderedIndex<R> {
    /// Inserts `slot`, or moves it, with a fresh tick.
    pub(crate) fn put(&mut self, slot: u32, priority: i32, rank: R) {
        ensure_slot(&mut self.keys, slot, None);
        if let Some((p, r, t)) = self.keys[slot as usize].take() {
            self.set.remove(&(p, r, t, slot));
        }
        self.tick += 1;
        self.set.insert((priority, rank, self.tick, slot));
        self.keys[slot as usize] = Some((priority, rank, self.tick));
    }

    /// Removes `slot`, returning its rank if it was present.
    pub(crate) fn remove(&mut self, slot: u32) -> Option<R> {
        let (p, r, t) = self.keys.get_mut(slot as usize)?.take()?;
        self.set.remove(&(p, r, t, slot));
        Some(r)
    }

    pub(crate) fn key(&self, slot: u32) -> Option<Key<R>> {
        self.keys.get(slot as usize).copied().flatten()
    }

    pub(crate) fn victim(&self, skip: Option<u32>) -> Option<u32> {
        // At most two steps: the skipped slot can be only one of them. The
        // set orders by priority first, so this stays in the lowest class
        // unless that class holds nothing but `skip`.
        self.set
            .iter()
            .map(|&(_, _, _, slot)| slot)
            .find(|&slot| Some(slot) != skip)
    }

    pub(crate) fn min_priority(&self) -> Option<i32> {
        self.set.first().map(|e| e.0)
    }

    pub(crate) fn clear(&mut self) {
        self.set.clear();
        self.keys.clear();
    }

    pub(crate) fn len(&self) -> usize {
        self.set.len()
    }

    pub(crate) fn validate(&self, name: &str, resident: &[u32]) -> Result<(), String> {
        let present = self.keys.iter().filter(|k| k.is_some()).count();
        if present != self.set.len() || present != resident.len() {
            return Err(format!(
                "{name}: {} ordered, {present} keyed, {} resident",
                self.set.len(),
                resident.len()
            ));
        }
        for &slot in resident {
            let (p, r, t) = self
                .key(slot)
                .ok_or_else(|| format!("{name}: resident slot {slot} has no key"))?;
            if !self.set.contains(&(p, r, t, slot)) {
                return Err(format!("{name}: key of slot {slot} missing from the order"));
            }
        }
        Ok(())
    }
}
