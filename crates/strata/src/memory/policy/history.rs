//! The recent past of keys that left an `Adaptive` cache: when each was last
//! used, so a returning key's reuse interval is known at once.
//!
//! A direct-mapped table of `(hash, time)` pairs, one slot per key hash:
//! a departing key overwrites whatever shared its slot. So the table
//! remembers roughly the last `capacity` departures, in 16 bytes each, with
//! one memory access per operation and no allocation after creation. Being
//! lossy is fine: a forgotten key is judged by frequency instead, exactly as
//! a key never seen before would be. (An exact map with a queue did 0.07
//! point better on average over the reference traces, at two hash-map
//! operations and a queue push per eviction; see docs/policies.md.)

#[derive(Debug, Clone)]
pub(crate) struct History {
    /// `(hash, time)`; time 0 marks an empty slot (the clock starts at 1).
    slots: Vec<(u64, u64)>,
    mask: usize,
}

impl History {
    /// A history of about `capacity` departures (0: remembers nothing).
    pub(crate) fn new(capacity: usize) -> Self {
        let len = if capacity == 0 {
            0
        } else {
            capacity.next_power_of_two()
        };
        Self {
            slots: vec![(0, 0); len],
            mask: len.saturating_sub(1),
        }
    }

    #[inline]
    fn slot(&self, hash: u64) -> usize {
        // High bits: the low ones also pick the cache's shard and bucket.
        (hash.rotate_left(23).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 17) as usize & self.mask
    }

    /// Remembers that the key of `hash` left, last used at `time` (≥ 1).
    #[inline]
    pub(crate) fn push(&mut self, hash: u64, time: u64) {
        if self.slots.is_empty() {
            return;
        }
        let at = self.slot(hash);
        self.slots[at] = (hash, time);
    }

    /// When the key of `hash` was last used, if it is remembered.
    #[inline]
    pub(crate) fn last_use(&self, hash: u64) -> Option<u64> {
        let &(h, time) = self.slots.get(self.slot(hash))?;
        (h == hash && time != 0).then_some(time)
    }

    pub(crate) fn clear(&mut self) {
        self.slots.fill((0, 0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_departures_until_their_slot_is_reused() {
        let mut h = History::new(1024);
        h.push(1, 10);
        h.push(2, 20);
        h.push(1, 30); // departs again: the newer time
        assert_eq!(h.last_use(1), Some(30));
        assert_eq!(h.last_use(2), Some(20));
        assert_eq!(h.last_use(3), None);
        // Far more departures than slots: 1 is overwritten by now.
        for k in 100..100_000 {
            h.push(k, 40);
        }
        assert_eq!(h.last_use(1), None);
        h.clear();
        assert_eq!(h.last_use(99_999), None);
    }

    #[test]
    fn a_zero_capacity_history_remembers_nothing() {
        let mut h = History::new(0);
        h.push(1, 1);
        assert_eq!(h.last_use(1), None);
    }
}
