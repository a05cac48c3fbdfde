//! Least frequently used with dynamic aging (LFU-DA, Arlitt et al., 2000).
//!
//! Each entry's key is `uses + L`. `L`, the cache age, is raised to the key of
//! every evicted entry, and a new or re-used entry is keyed against the
//! current `L`. An entry that was popular long ago keeps its old key while the
//! age rises past it, so it is eventually evicted: popularity fades.

use super::ordered::OrderedIndex;
use super::{EvictionPolicy, Facts, ensure_slot};

#[derive(Debug, Default)]
pub(crate) struct Lfu {
    index: OrderedIndex<u64>,
    uses: Vec<u64>,
    age: u64,
}

impl Lfu {
    fn used(&mut self, slot: u32, facts: &Facts) {
        let uses = &mut self.uses[slot as usize];
        *uses = uses.saturating_add(1);
        let key = self.age.saturating_add(*uses);
        self.index.put(slot, facts.priority, key);
    }
}

impl EvictionPolicy for Lfu {
    fn insert(&mut self, slot: u32, facts: &Facts) {
        ensure_slot(&mut self.uses, slot, 0);
        self.uses[slot as usize] = 0;
        self.used(slot, facts);
    }

    fn update(&mut self, slot: u32, facts: &Facts) {
        // An overwrite is a use: the key stays popular.
        self.used(slot, facts);
    }

    fn access(&mut self, slot: u32, facts: &Facts) {
        self.used(slot, facts);
    }

    fn remove(&mut self, slot: u32) {
        self.index.remove(slot);
    }

    fn evict(&mut self, slot: u32) {
        if let Some(key) = self.index.remove(slot) {
            // max: a victim from a higher class may carry a smaller key.
            self.age = self.age.max(key);
        }
    }

    fn victim(&self, skip: Option<u32>) -> Option<u32> {
        self.index.victim(skip)
    }

    fn min_priority(&self) -> Option<i32> {
        self.index.min_priority()
    }

    fn clear(&mut self) {
        self.index.clear();
        self.uses.clear();
        self.age = 0;
    }

    fn len(&self) -> usize {
        self.index.len()
    }

    fn validate(&self, resident: &[u32]) -> Result<(), String> {
        self.index.validate("lfu", resident)?;
        for &slot in resident {
            let uses = self.uses.get(slot as usize).copied().unwrap_or(0);
            if uses == 0 {
                return Err(format!("lfu: resident slot {slot} has no uses"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: Facts = Facts {
        priority: 0,
        weight: 1,
        cost: 0,
        deadline: None,
        hash: 0,
    };

    #[test]
    fn evicts_least_used_and_ages_old_popularity_away() {
        let mut lfu = Lfu::default();
        lfu.insert(0, &F);
        for _ in 0..3 {
            lfu.access(0, &F); // key 4
        }
        lfu.insert(1, &F); // key 1
        assert_eq!(lfu.victim(None), Some(1));
        // Evicting newcomers raises the age until the old favourite is the
        // least valuable entry.
        let mut slot = 1;
        loop {
            let victim = lfu.victim(None).expect("entries remain");
            if victim == 0 {
                break;
            }
            lfu.evict(victim);
            slot += 1;
            lfu.insert(slot, &F);
            assert!(slot < 10, "aging never caught up with the old entry");
        }
        lfu.validate(&[0, slot]).expect("consistent");
    }
}
