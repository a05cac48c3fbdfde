//! Heaviest first: the rank is the entry's weight, largest evicted first.

use std::cmp::Reverse;

use super::ordered::OrderedIndex;
use super::{EvictionPolicy, Facts};

#[derive(Debug, Default)]
pub(crate) struct SizePolicy {
    index: OrderedIndex<Reverse<u32>>,
}

impl EvictionPolicy for SizePolicy {
    fn insert(&mut self, slot: u32, facts: &Facts) {
        self.index.put(slot, facts.priority, Reverse(facts.weight));
    }

    fn update(&mut self, slot: u32, facts: &Facts) {
        self.insert(slot, facts);
    }

    fn access(&mut self, slot: u32, facts: &Facts) {
        // Re-put for the least-recently-used tie-break among equal weights.
        self.insert(slot, facts);
    }

    fn remove(&mut self, slot: u32) {
        self.index.remove(slot);
    }

    fn victim(&self, skip: Option<u32>) -> Option<u32> {
        self.index.victim(skip)
    }

    fn min_priority(&self) -> Option<i32> {
        self.index.min_priority()
    }

    fn clear(&mut self) {
        self.index.clear();
    }

    fn len(&self) -> usize {
        self.index.len()
    }

    fn validate(&self, resident: &[u32]) -> Result<(), String> {
        self.index.validate("size", resident)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weighing(weight: u32) -> Facts {
        Facts {
            priority: 0,
            weight,
            cost: 0,
            deadline: None,
            hash: 0,
        }
    }

    #[test]
    fn heaviest_first_then_least_recent() {
        let mut p = SizePolicy::default();
        p.insert(0, &weighing(5));
        p.insert(1, &weighing(9));
        p.insert(2, &weighing(9));
        assert_eq!(p.victim(None), Some(1));
        p.access(1, &weighing(9));
        assert_eq!(p.victim(None), Some(2));
        p.update(2, &weighing(1));
        assert_eq!(p.victim(None), Some(1));
    }
}
