//! The recent past of keys that left an `Adaptive` cache: when each was last
//! used, so a returning key's reuse interval is known at once.
//!
//! A direct-mapped table of `(check, time)` pairs, one slot per key hash: a
//! departing key overwrites whatever shared its slot, so the table remembers
//! roughly the last `capacity` departures, with one memory access per
//! operation and no allocation after creation. Being lossy is fine: a
//! forgotten key is judged by frequency instead, exactly as a key never seen
//! before would be. (An exact map with a queue did 0.07 point better on
//! average over the reference traces, at two hash-map operations and a queue
//! push per eviction; see docs/policies.md.)
//!
//! Each pair is four bytes, a sixth of a `u64 → u64` entry's share of the
//! cache. The check is 16 bits of the hash with the low one set, so that 0
//! marks an empty slot (a stranger passes it once in 2^15 looks, and is then
//! judged by a wrong interval, no worse than a forgotten key). The time is
//! the policy's tick, coarsened so that 16 bits span the intervals the policy
//! compares (about 1,024 × capacity requests; finer than capacity / 64).
//! Pairs of `u32`s did 0.06 point better on average over the reference
//! traces, for twice the memory. The table is sized to any number of slots
//! (a slot is picked by multiplying, not masking).

#[derive(Debug, Clone)]
pub(crate) struct History {
    slots: Vec<(u16, u16)>,
    /// Ticks per unit of stored time, as a shift.
    shift: u32,
}

impl History {
    /// A history remembering about `len` departures, whose intervals of
    /// interest span up to `span` ticks.
    pub(crate) fn new(len: usize, span: u64) -> Self {
        let bits = 64 - span.max(1).leading_zeros();
        Self {
            slots: vec![(0, 0); len],
            shift: bits.saturating_sub(16),
        }
    }

    #[inline]
    fn slot(&self, hash: u64) -> usize {
        let mixed = hash.rotate_left(23).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
        ((mixed * self.slots.len() as u64) >> 32) as usize
    }

    #[inline]
    fn check(hash: u64) -> u16 {
        (hash >> 48) as u16 | 1
    }

    #[inline]
    fn coarse(&self, time: u32) -> u16 {
        (time >> self.shift) as u16
    }

    /// Remembers that the key of `hash` left, last used at `time` (ticks).
    #[inline]
    pub(crate) fn push(&mut self, hash: u64, time: u32) {
        if self.slots.is_empty() {
            return;
        }
        let at = self.slot(hash);
        self.slots[at] = (Self::check(hash), self.coarse(time));
    }

    /// How long before `time` the key of `hash` was last used, in ticks, if
    /// it is remembered.
    #[inline]
    pub(crate) fn since(&self, hash: u64, time: u32) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let (check, then) = self.slots[self.slot(hash)];
        (check == Self::check(hash))
            .then(|| u32::from(self.coarse(time).wrapping_sub(then)) << self.shift)
    }

    pub(crate) fn clear(&mut self) {
        self.slots.fill((0, 0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spread(k: u64) -> u64 {
        k.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    #[test]
    fn remembers_recent_departures_and_forgets_overwritten_ones() {
        let mut h = History::new(1000, 1 << 20);
        h.push(spread(1), 7 << 4);
        assert_eq!(h.since(spread(1), 107 << 4), Some(100 << 4));
        assert_eq!(h.since(spread(2), 9), None);
        for k in 2..100_000 {
            h.push(spread(k), 8);
        }
        // Long since overwritten by later departures.
        assert_eq!(h.since(spread(1), 9), None);
        h.clear();
        assert_eq!(h.since(spread(99_999), 9), None);
    }

    #[test]
    fn intervals_are_kept_to_the_span_s_resolution_and_wrap_with_it() {
        // A span of 2^20 ticks: 16 bits of time in units of 16 ticks.
        let mut h = History::new(10, 1 << 20);
        h.push(spread(3), (1 << 20) - 32);
        // 64 ticks later, past the 16-bit wrap of the coarse clock.
        assert_eq!(h.since(spread(3), (1 << 20) + 32), Some(64));
        // A small span keeps every tick.
        let mut fine = History::new(10, 1_000);
        fine.push(spread(3), 5);
        assert_eq!(fine.since(spread(3), 8), Some(3));
    }

    #[test]
    fn a_zero_capacity_history_remembers_nothing() {
        let mut h = History::new(0, 1);
        h.push(1, 1);
        assert_eq!(h.since(1, 2), None);
    }
}
