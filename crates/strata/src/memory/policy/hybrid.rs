//! Cost-aware eviction, GreedyDual-Size-Frequency (Cherkasova, 1998):
//!
//! `value = L + (1 + hits) × (cost_µs + 1) / max(weight, 1)`
//!
//! The entry of least value goes first; `L` rises to the value of each evicted
//! entry, and every access re-anchors the entry at the current `L`, which is
//! how recency enters. The `+ 1` on cost keeps entries of unknown cost ranked
//! by use and size rather than all tied at zero.

use std::cmp::Ordering;

use super::ordered::OrderedIndex;
use super::{EvictionPolicy, Facts, ensure_slot};

/// A value that orders totally (values are finite and non-negative, so
/// `total_cmp` agrees with `<`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Score(f64);

impl Eq for Score {}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

#[derive(Debug, Default)]
pub(crate) struct Hybrid {
    index: OrderedIndex<Score>,
    hits: Vec<u64>,
    age: f64,
}

/// The value of an entry (see the module docs), without the age term.
pub(crate) fn worth(hits: u64, facts: &Facts) -> f64 {
    let cost_us = facts.cost as f64 / 1_000.0;
    (1.0 + hits as f64) * (cost_us + 1.0) / f64::from(facts.weight.max(1))
}

impl Hybrid {
    fn put(&mut self, slot: u32, facts: &Facts) {
        let value = self.age + worth(self.hits[slot as usize], facts);
        self.index.put(slot, facts.priority, Score(value));
    }
}

impl EvictionPolicy for Hybrid {
    fn insert(&mut self, slot: u32, facts: &Facts) {
        ensure_slot(&mut self.hits, slot, 0);
        self.hits[slot as usize] = 0;
        self.put(slot, facts);
    }

    fn update(&mut self, slot: u32, facts: &Facts) {
        // An overwrite brings a new value: its hits start again.
        self.hits[slot as usize] = 0;
        self.put(slot, facts);
    }

    fn access(&mut self, slot: u32, facts: &Facts) {
        let hits = &mut self.hits[slot as usize];
        *hits = hits.saturating_add(1);
        self.put(slot, facts);
    }

    fn remove(&mut self, slot: u32) {
        self.index.remove(slot);
    }

    fn evict(&mut self, slot: u32) {
        if let Some(Score(value)) = self.index.remove(slot) {
            self.age = self.age.max(value);
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
        self.hits.clear();
        self.age = 0.0;
    }

    fn len(&self) -> usize {
        self.index.len()
    }

    fn validate(&self, resident: &[u32]) -> Result<(), String> {
        self.index.validate("hybrid", resident)?;
        match resident
            .iter()
            .filter_map(|&s| self.index.key(s))
            .find(|(_, Score(v), _)| !v.is_finite() || *v < 0.0)
        {
            Some(key) => Err(format!("hybrid: invalid value {:?}", key.1)),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(weight: u32, cost_us: u64) -> Facts {
        Facts {
            priority: 0,
            weight,
            cost: cost_us * 1_000,
            deadline: None,
            hash: 0,
        }
    }

    #[test]
    fn keeps_costly_small_and_used_entries() {
        let mut p = Hybrid::default();
        p.insert(0, &facts(1, 1_000)); // costly
        p.insert(1, &facts(1, 0)); // cheap
        assert_eq!(p.victim(None), Some(1));
        p.insert(2, &facts(100, 1_000)); // costly but heavy
        assert_eq!(p.victim(None), Some(1));
        p.evict(1);
        assert_eq!(p.victim(None), Some(2));
        // Use raises value: hits on the heavy entry move it past the light one.
        for _ in 0..200 {
            p.access(2, &facts(100, 1_000));
        }
        assert_eq!(p.victim(None), Some(0));
        p.validate(&[0, 2]).expect("consistent");
    }
}
