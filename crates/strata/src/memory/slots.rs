//! A shard's entries, by slot number: a vector of slots with a free list.
//!
//! Why not the `slab` crate: a slab's vacant slots hold only a free-list
//! index, while the `Adaptive` policy's queues are singly linked through the
//! entries, so an entry removed from the middle of a queue must leave its
//! link behind until the queue reaches it (unlinking it at once would need a
//! back link in every entry, four more bytes each). A vacant slot here holds
//! either the next free slot or such a left-behind link, and the enum of the
//! two is no larger than an entry: the link's top bit is always set, which
//! gives the compiler a niche for the vacant variant.

use super::entry::{Entry, Link, MAX_SLOTS, NIL};

/// One slot: an entry, or a vacant word.
pub(crate) enum Slot<K, V> {
    Live(Entry<K, V>),
    /// A [`Link`] (top bit set) for a removed entry still threaded in a
    /// policy queue, else the next free slot (or [`NIL`]).
    Vacant(u32),
}

/// The slots of one shard.
pub(crate) struct Slots<K, V> {
    slots: Vec<Slot<K, V>>,
    /// The first free slot, or [`NIL`].
    free: u32,
    live: usize,
    /// Vacant slots still threaded in a queue.
    linked: usize,
    /// How many slots the shard is expected to need at most: growth stops
    /// doubling there (see [`Slots::grow`]).
    expected: usize,
    /// Slot numbers stay below this (and below [`MAX_SLOTS`]).
    limit: u32,
}

impl<K, V> Slots<K, V> {
    /// Slots for about `expected` entries, numbered below `limit`.
    pub(crate) fn new(expected: usize, limit: u32) -> Self {
        Self {
            slots: Vec::new(),
            free: NIL,
            live: 0,
            linked: 0,
            expected,
            limit: limit.min(MAX_SLOTS),
        }
    }

    /// Live entries.
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// Slots allocated: every slot number is below this, now and until the
    /// slots next grow. Columns kept beside the slots size themselves by it,
    /// so that they grow when the slots do, by the same steps.
    pub(crate) fn capacity(&self) -> usize {
        self.slots.capacity()
    }

    /// Vacant slots still threaded in a queue.
    #[cfg(test)]
    pub(crate) fn linked_vacancies(&self) -> usize {
        self.linked
    }

    #[inline]
    pub(crate) fn get(&self, slot: u32) -> Option<&Entry<K, V>> {
        match self.slots.get(slot as usize) {
            Some(Slot::Live(entry)) => Some(entry),
            _ => None,
        }
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, slot: u32) -> Option<&mut Entry<K, V>> {
        match self.slots.get_mut(slot as usize) {
            Some(Slot::Live(entry)) => Some(entry),
            _ => None,
        }
    }

    /// The link of `slot`, live or left behind by a removal.
    #[inline]
    pub(crate) fn link(&self, slot: u32) -> Option<Link> {
        match self.slots.get(slot as usize)? {
            Slot::Live(entry) => Some(entry.link),
            Slot::Vacant(word) => Link::from_bits(*word),
        }
    }

    /// Sets the link of `slot`, live or left behind.
    #[inline]
    pub(crate) fn set_link(&mut self, slot: u32, link: Link) {
        match self.slots.get_mut(slot as usize) {
            Some(Slot::Live(entry)) => entry.link = link,
            Some(Slot::Vacant(word)) if Link::from_bits(*word).is_some() => *word = link.bits(),
            _ => debug_assert!(false, "set_link on a free slot {slot}"),
        }
    }

    /// Stores `entry` in a free slot; `None` when the shard holds
    /// [`MAX_SLOTS`] already.
    pub(crate) fn insert(&mut self, entry: Entry<K, V>) -> Option<u32> {
        if self.free != NIL {
            let slot = self.free;
            let Some(Slot::Vacant(next)) = self.slots.get(slot as usize) else {
                debug_assert!(false, "free list points at a live slot");
                return None;
            };
            self.free = *next;
            self.slots[slot as usize] = Slot::Live(entry);
            self.live += 1;
            return Some(slot);
        }
        let slot = u32::try_from(self.slots.len())
            .ok()
            .filter(|&s| s < self.limit)?;
        self.grow();
        self.slots.push(Slot::Live(entry));
        self.live += 1;
        Some(slot)
    }

    /// Makes room for one more slot. Doubling, as `Vec` does, until the
    /// expected size; then straight to it (plus a sixteenth, as the shards
    /// of one cache do not fill evenly), and by an eighth beyond it. A
    /// shard of a full cache so holds about 6% more slots than entries,
    /// where doubling would waste up to half. Each size is then rounded up
    /// to what the allocator hands out anyway (see [`block_size`]), so the
    /// slots use all of the block they get.
    fn grow(&mut self) {
        let (len, cap) = (self.slots.len(), self.slots.capacity());
        if len < cap {
            return;
        }
        let size = std::mem::size_of::<Slot<K, V>>().max(1);
        let target = if len < self.expected / 2 {
            (len * 2).max(16)
        } else if len < self.expected {
            // The smaller block below expected + 1/16 when it still leaves
            // 2% to spare, else the block above it.
            let want = self.expected + self.expected / 16;
            let below = block_floor(want * size) / size;
            if below >= self.expected + self.expected / 50 {
                below
            } else {
                want
            }
        } else {
            len + len / 8
        };
        let target = block_size(target.max(len + 1) * size) / size;
        self.slots.reserve_exact(target.max(len + 1) - len);
    }

    /// Takes the entry out of `slot`. With `keep_link`, the slot keeps the
    /// entry's link until [`release`](Self::release)d; else it is free at
    /// once.
    pub(crate) fn remove(&mut self, slot: u32, keep_link: bool) -> Option<Entry<K, V>> {
        let place = self.slots.get_mut(slot as usize)?;
        if !matches!(place, Slot::Live(_)) {
            return None;
        }
        let word = match place {
            Slot::Live(entry) if keep_link => entry.link.bits(),
            _ => self.free,
        };
        let Slot::Live(entry) = std::mem::replace(place, Slot::Vacant(word)) else {
            return None;
        };
        self.live -= 1;
        if keep_link {
            self.linked += 1;
        } else {
            self.free = slot;
        }
        Some(entry)
    }

    /// Frees a vacant slot whose link was kept, once its queue let go of it.
    pub(crate) fn release(&mut self, slot: u32) {
        let free = self.free;
        match self.slots.get_mut(slot as usize) {
            Some(Slot::Vacant(word)) if Link::from_bits(*word).is_some() => {
                *word = free;
                self.free = slot;
                self.linked -= 1;
            }
            _ => debug_assert!(false, "release of slot {slot}, which kept no link"),
        }
    }

    /// Whether `slot` is vacant but still threaded in a queue.
    pub(crate) fn is_left_behind(&self, slot: u32) -> bool {
        matches!(self.slots.get(slot as usize), Some(Slot::Vacant(w)) if Link::from_bits(*w).is_some())
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &Entry<K, V>)> {
        self.slots.iter().enumerate().filter_map(|(i, s)| match s {
            Slot::Live(entry) => Some((i as u32, entry)),
            Slot::Vacant(_) => None,
        })
    }

    /// Removes every slot, returning the live entries.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = Entry<K, V>> + '_ {
        self.free = NIL;
        self.live = 0;
        self.linked = 0;
        self.slots.drain(..).filter_map(|s| match s {
            Slot::Live(entry) => Some(entry),
            Slot::Vacant(_) => None,
        })
    }

    /// Checks the free list and the counts. For tests.
    pub(crate) fn validate(&self) -> Result<(), String> {
        let mut free = 0usize;
        let mut at = self.free;
        while at != NIL {
            match self.slots.get(at as usize) {
                Some(Slot::Vacant(next)) if Link::from_bits(*next).is_none() => {
                    free += 1;
                    at = *next;
                }
                _ => return Err(format!("free list reaches slot {at}, not free")),
            }
            if free > self.slots.len() {
                return Err("free list loops".into());
            }
        }
        let live = self.iter().count();
        let linked = (0..self.slots.len() as u32)
            .filter(|&s| self.is_left_behind(s))
            .count();
        if (live, linked, live + linked + free) != (self.live, self.linked, self.slots.len()) {
            return Err(format!(
                "slots: {live} live ({}), {linked} left behind ({}), {free} free, {} in all",
                self.live,
                self.linked,
                self.slots.len()
            ));
        }
        Ok(())
    }
}

/// The size of the block an allocator hands out for a request of `bytes`:
/// four sizes per power of two (`2^k × 1.25, 1.5, 1.75, 2`), as jemalloc —
/// the `strata` binary's allocator — does for large requests. A vector
/// sized to fill such a block wastes nothing; one sized a little above a
/// step wastes up to a fifth of its memory in the block's unused tail. For
/// small requests, or another allocator, the rounding costs at most that.
pub(crate) fn block_size(bytes: usize) -> usize {
    if bytes <= 4096 {
        return bytes;
    }
    let step = 1usize << (usize::BITS - 1 - (bytes - 1).leading_zeros() - 2);
    bytes.div_ceil(step) * step
}

/// The largest block size (see [`block_size`]) no larger than `bytes`.
fn block_floor(bytes: usize) -> usize {
    if bytes <= 4096 {
        return bytes;
    }
    let step = 1usize << (usize::BITS - 1 - bytes.leading_zeros() - 2);
    bytes / step * step
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_come_in_four_sizes_per_power_of_two() {
        assert_eq!(block_size(100), 100);
        assert_eq!(block_size(1 << 20), 1 << 20);
        assert_eq!(block_size((1 << 20) + 1), (1 << 20) + (1 << 18));
        assert_eq!(block_size(3_187_488), 3_670_016, "3.5 MiB");
        assert_eq!(block_size(1_310_721), 1_572_864, "1.5 MiB");
        assert_eq!(block_floor(3_187_488), 3 << 20);
        assert_eq!(block_floor(3 << 20), 3 << 20);
        assert_eq!(block_floor(100), 100);
    }

    fn entry(key: u64) -> Entry<u64, u64> {
        Entry::new(key, key, 0)
    }

    #[test]
    fn a_slot_is_no_larger_than_its_entry() {
        // The vacant variant lives in the link's niche. This is what keeps a
        // `u64 → u64` entry at 24 bytes; if a compiler ever lays it out
        // differently, this test says so.
        assert_eq!(std::mem::size_of::<Entry<u64, u64>>(), 24);
        assert_eq!(std::mem::size_of::<Slot<u64, u64>>(), 24);
        assert_eq!(
            std::mem::size_of::<Slot<String, std::sync::Arc<str>>>(),
            std::mem::size_of::<Entry<String, std::sync::Arc<str>>>()
        );
    }

    #[test]
    fn removed_slots_are_reused_unless_they_keep_their_link() {
        let mut slots = Slots::new(8, MAX_SLOTS);
        let a = slots.insert(entry(1)).expect("room");
        let b = slots.insert(entry(2)).expect("room");
        assert_eq!(slots.remove(a, false).map(|e| e.key), Some(1));
        assert_eq!(slots.insert(entry(3)), Some(a), "reused at once");
        assert_eq!(slots.remove(b, true).map(|e| e.key), Some(2));
        assert!(slots.is_left_behind(b));
        assert!(slots.link(b).is_some(), "the link stays readable");
        assert_eq!(slots.insert(entry(4)), Some(2), "not reused while linked");
        slots.release(b);
        assert_eq!(slots.insert(entry(5)), Some(b));
        assert_eq!(slots.len(), 3);
        slots.validate().expect("consistent");
        assert_eq!(slots.remove(b, false).map(|e| e.key), Some(5));
        assert!(slots.remove(b, false).is_none(), "already vacant");
        slots.validate().expect("consistent");
    }

    #[test]
    fn growth_stops_doubling_at_the_expected_size() {
        let mut slots = Slots::new(1_000, MAX_SLOTS);
        for k in 0..1_000 {
            slots.insert(entry(k)).expect("room");
        }
        let bytes = slots.slots.capacity() * std::mem::size_of::<Slot<u64, u64>>();
        assert!(bytes <= block_size((1_000 + 1_000 / 16) * 24), "{bytes}");
        for k in 0..200 {
            slots.insert(entry(k)).expect("room");
        }
        assert!(slots.slots.capacity() >= 1_200);
    }
}
