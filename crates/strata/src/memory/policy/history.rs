//! The recent past of keys that left an `Adaptive` cache: when each was last
//! used, so a returning key's reuse interval is known at once.
//!
//! A direct-mapped table of `(check, time)` pairs, one slot per key hash:
//! a departing key overwrites whatever shared its slot. So the table
//! remembers roughly the last `capacity` departures, with one memory access
//! per operation and no allocation after creation. Being lossy is fine: a
//! forgotten key is judged by frequency instead, exactly as a key never seen
//! before would be. (An exact map with a queue did 0.07 point better on
//! average over the reference traces, at two hash-map operations and a
//! queue push per eviction; see docs/policies.md.)
//!
//! Each pair is two `u32`s, 8 bytes where full hashes and times took 16:
//! the history is sized by the capacity, so this is 8 to 16 bytes per cache
//! entry. The check is the hash folded to 32 bits (a stranger passes it
//! once in 2^32 looks, and is then judged by a wrong interval, no worse
//! than a forgotten key). Times are kept relative to a base; when one no
//! longer fits in 32 bits, every slot is forgotten and the base moves up.
//! That happens once per 2^32 ticks of the policy's clock (reads and
//! inserts of one shard), and only costs what losing the history costs.

#[derive(Debug, Clone)]
pub(crate) struct History {
    /// `(check, time - base + 1)`; 0 marks an empty slot.
    slots: Vec<(u32, u32)>,
    mask: usize,
    /// The time that `1` stands for.
    base: u64,
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
            base: 0,
        }
    }

    #[inline]
    fn slot(&self, hash: u64) -> usize {
        // High bits: the low ones also pick the cache's shard and bucket.
        (hash.rotate_left(23).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 17) as usize & self.mask
    }

    #[inline]
    fn check(hash: u64) -> u32 {
        (hash ^ (hash >> 32)) as u32
    }

    /// Remembers that the key of `hash` left, last used at `time`.
    #[inline]
    pub(crate) fn push(&mut self, hash: u64, time: u64) {
        if self.slots.is_empty() {
            return;
        }
        let Some(mut offset) = time.checked_sub(self.base) else {
            return; // used before everything was last forgotten
        };
        if offset >= u64::from(u32::MAX) {
            self.clear();
            self.base = time;
            offset = 0;
        }
        let at = self.slot(hash);
        self.slots[at] = (Self::check(hash), offset as u32 + 1);
    }

    /// When the key of `hash` was last used, if it is remembered.
    #[inline]
    pub(crate) fn last_use(&self, hash: u64) -> Option<u64> {
        let &(check, stored) = self.slots.get(self.slot(hash))?;
        (check == Self::check(hash) && stored != 0).then(|| self.base + u64::from(stored) - 1)
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
    fn a_time_past_32_bits_of_the_base_forgets_everything_before_it() {
        let mut h = History::new(1024);
        h.push(1, 5);
        let far = 5 + u64::from(u32::MAX);
        h.push(2, far);
        assert_eq!(h.last_use(1), None);
        assert_eq!(h.last_use(2), Some(far));
        h.push(3, far + 7);
        assert_eq!(h.last_use(3), Some(far + 7));
        // A use from before the base cannot be stored.
        h.push(4, 4);
        assert_eq!(h.last_use(4), None);
    }

    #[test]
    fn a_zero_capacity_history_remembers_nothing() {
        let mut h = History::new(0);
        h.push(1, 1);
        assert_eq!(h.last_use(1), None);
    }
}
