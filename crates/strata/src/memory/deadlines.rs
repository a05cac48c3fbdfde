//! The queue that finds expired entries without scanning the shard.
//!
//! A min-heap of `(deadline, slot)` hints. Removing an entry does not touch the
//! heap: its item goes stale and is skipped when it surfaces (the entry's
//! `queued_at` no longer matches, or the slot is empty). A read that extends an
//! entry's idle deadline does not touch the heap either: the queued deadline is
//! then a lower bound, and when it surfaces the entry is re-queued at its true
//! deadline. So reads stay cheap, and each expiry costs O(log n) once.
//!
//! Stale items are bounded by rebuilding the heap when it grows past twice the
//! number of entries that can expire (see `Shard::compact_deadlines`).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

#[derive(Debug, Default)]
pub(crate) struct DeadlineQueue {
    heap: BinaryHeap<Reverse<(u64, u32)>>,
}

impl DeadlineQueue {
    pub(crate) fn push(&mut self, deadline: u64, slot: u32) {
        self.heap.push(Reverse((deadline, slot)));
    }

    /// Pops the earliest item if it is due at `now`.
    pub(crate) fn pop_due(&mut self, now: u64) -> Option<(u64, u32)> {
        match self.heap.peek() {
            Some(Reverse((deadline, _))) if *deadline <= now => {
                self.heap.pop().map(|Reverse(item)| item)
            }
            _ => None,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    pub(crate) fn clear(&mut self) {
        self.heap.clear();
    }

    pub(crate) fn contains(&self, deadline: u64, slot: u32) -> bool {
        self.heap
            .iter()
            .any(|Reverse(item)| *item == (deadline, slot))
    }

    /// Replaces every item by `items` (used to drop stale items).
    pub(crate) fn rebuild(&mut self, items: impl Iterator<Item = (u64, u32)>) {
        self.heap = items.map(Reverse).collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_only_due_items_earliest_first() {
        let mut q = DeadlineQueue::default();
        q.push(30, 1);
        q.push(10, 2);
        q.push(20, 3);
        assert_eq!(q.pop_due(5), None);
        assert_eq!(q.pop_due(25), Some((10, 2)));
        assert_eq!(q.pop_due(25), Some((20, 3)));
        assert_eq!(q.pop_due(25), None);
        assert_eq!(q.len(), 1);
        q.rebuild([(1, 9)].into_iter());
        assert!(q.contains(1, 9) && !q.contains(30, 1));
    }
}
