//! Soonest expiry first. The rank is the entry's deadline (TTL or idle,
//! whichever is earlier); entries that never expire rank last. A read moves
//! an idle deadline, so reads re-rank the entry.

use super::ordered::OrderedIndex;
use super::{EvictionPolicy, Facts};

#[derive(Debug, Default)]
pub(crate) struct TtlPolicy {
    index: OrderedIndex<u64>,
}

impl TtlPolicy {
    fn put(&mut self, slot: u32, facts: &Facts) {
        self.index
            .put(slot, facts.priority, facts.deadline.unwrap_or(u64::MAX));
    }
}

impl EvictionPolicy for TtlPolicy {
    fn insert(&mut self, slot: u32, facts: &Facts) {
        self.put(slot, facts);
    }

    fn update(&mut self, slot: u32, facts: &Facts) {
        self.put(slot, facts);
    }

    fn access(&mut self, slot: u32, facts: &Facts) {
        self.put(slot, facts);
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
        self.index.validate("ttl", resident)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expiring(deadline: Option<u64>) -> Facts {
        Facts {
            priority: 0,
            weight: 1,
            cost: 0,
            deadline,
            hash: 0,
        }
    }

    #[test]
    fn soonest_deadline_first_and_never_expiring_last() {
        let mut p = TtlPolicy::default();
        p.insert(0, &expiring(None));
        p.insert(1, &expiring(Some(50)));
        p.insert(2, &expiring(Some(10)));
        assert_eq!(p.victim(None), Some(2));
        p.access(2, &expiring(Some(90))); // idle deadline moved
        assert_eq!(p.victim(None), Some(1));
        p.remove(1);
        assert_eq!(p.victim(None), Some(2));
        assert_eq!(p.victim(Some(2)), Some(0));
    }
}
