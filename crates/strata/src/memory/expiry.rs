//! The queue that finds expired entries without scanning the shard.
//!
//! A min-heap of hints, each a slot and its deadline in coarse ticks of
//! 2^24 ns (about 17 ms) packed into one `u64`: 8 bytes per expiring entry,
//! where `(u64, u32)` pairs took 16. An item surfaces once its tick has
//! begun; the shard then checks the entry's exact deadline and puts back
//! what is not due yet, so purging stays exact to the nanosecond.
//!
//! Hints go stale: removing an entry does not touch the heap, and a read
//! that extends an idle deadline does not either (the queued tick is then a
//! lower bound, and the entry is queued again at its real deadline when it
//! surfaces). The shard rebuilds the heap when stale items outnumber live
//! ones. Deadlines beyond the last tick a `u32` holds (about 2.3 years after
//! the clock's origin) are not queued: such entries are purged when read.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Nanoseconds per tick, as a shift.
const TICK_SHIFT: u32 = 24;

#[derive(Debug, Default)]
pub(crate) struct ExpiryQueue {
    heap: BinaryHeap<Reverse<u64>>,
}

/// The tick of `deadline`, if it fits in a hint.
fn tick(deadline: u64) -> Option<u32> {
    u32::try_from(deadline >> TICK_SHIFT).ok()
}

impl ExpiryQueue {
    /// Queues `slot` to be looked at from `deadline` on.
    pub(crate) fn push(&mut self, deadline: u64, slot: u32) {
        if let Some(t) = tick(deadline) {
            self.heap
                .push(Reverse(u64::from(t) << 32 | u64::from(slot)));
        }
    }

    /// Pops a slot whose tick has begun at `now`.
    pub(crate) fn pop_due(&mut self, now: u64) -> Option<u32> {
        let now = tick(now).unwrap_or(u32::MAX);
        match self.heap.peek() {
            Some(Reverse(item)) if (item >> 32) as u32 <= now => {
                self.heap.pop().map(|Reverse(item)| item as u32)
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

    /// Whether a hint for `slot` no later than `deadline` is queued, or the
    /// deadline is too far to queue. For `validate`.
    pub(crate) fn covers(&self, deadline: u64, slot: u32) -> bool {
        let Some(t) = tick(deadline) else {
            return true;
        };
        self.heap
            .iter()
            .any(|Reverse(item)| *item as u32 == slot && (item >> 32) as u32 <= t)
    }

    /// Replaces every hint by those of `items` (`(deadline, slot)`), to drop
    /// stale ones.
    pub(crate) fn rebuild(&mut self, items: impl Iterator<Item = (u64, u32)>) {
        self.heap.clear();
        for (deadline, slot) in items {
            self.push(deadline, slot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: u64 = 1 << TICK_SHIFT;

    #[test]
    fn pops_slots_once_their_tick_begins_earliest_first() {
        let mut q = ExpiryQueue::default();
        q.push(30 * T, 1);
        q.push(10 * T + 5, 2);
        q.push(20 * T, 3);
        assert_eq!(q.pop_due(9 * T), None);
        assert_eq!(q.pop_due(10 * T), Some(2), "its tick has begun");
        assert_eq!(q.pop_due(25 * T), Some(3));
        assert_eq!(q.pop_due(25 * T), None);
        assert_eq!(q.len(), 1);
        assert!(q.covers(30 * T, 1) && q.covers(31 * T, 1) && !q.covers(29 * T, 1));
        q.rebuild([(T, 9)].into_iter());
        assert!(q.covers(T, 9) && !q.covers(30 * T, 1));
    }

    #[test]
    fn deadlines_past_the_last_tick_are_not_queued() {
        let mut q = ExpiryQueue::default();
        q.push(u64::MAX - 1, 4);
        assert_eq!(q.len(), 0);
        assert!(q.covers(u64::MAX - 1, 4));
        assert_eq!(q.pop_due(u64::MAX), None);
    }
}
