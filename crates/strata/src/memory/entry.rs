//! One cached entry: key, value and two 32-bit words of bookkeeping.
//!
//! Layout choice: an entry carries nothing but its key, its value, a [`Link`]
//! and a [`Stamp`], so a `u64 → u64` entry is 24 bytes. Everything optional
//! (expiry, tags, priority, cost, metadata, weight) lives beside the entries
//! in the shard's [`Extras`](super::extras::Extras), found by slot number,
//! and flags in the link say which of it an entry has: an entry written with
//! default options pays nothing for options it does not use, and a read of
//! such an entry touches one cache line of the slab.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};

/// The latest representable deadline (about 584 years after the clock's
/// origin); longer lives are cut to it.
pub(crate) const LATEST: u64 = u64::MAX - 1;

/// A resident entry. Stored in a shard's [`Slots`](super::slots::Slots)
/// and found through its table.
pub(crate) struct Entry<K, V> {
    pub(crate) key: K,
    pub(crate) value: V,
    pub(crate) link: Link,
    /// Written by reads under the shared lock, hence atomic.
    pub(crate) stamp: AtomicU32,
}

impl<K, V> Entry<K, V> {
    pub(crate) fn new(key: K, value: V, flags: u32) -> Self {
        Self {
            key,
            value,
            link: Link::new(NIL, Segment::Window, flags),
            stamp: AtomicU32::new(0),
        }
    }

    /// The entry's stamp as last stored.
    #[inline]
    pub(crate) fn stamp(&self) -> Stamp {
        Stamp(self.stamp.load(Ordering::Relaxed))
    }

    /// Records a read at `time` (in the policy's ticks): one more pending
    /// use, and the time of the last one.
    ///
    /// A load and a store rather than a read-modify-write: two readers of
    /// one entry may race and one use go uncounted, which costs the policy
    /// nothing measurable, while a locked instruction on every read would
    /// cost every read.
    ///
    /// A hot entry has nothing new to record most of the time: its pending
    /// count is full, its reference bit set, and only its time would move,
    /// by a few ticks. Then the store is skipped when the entry was last
    /// stamped fewer than `fresh` ticks ago (see [`fresh_ticks`]), so that
    /// threads reading the same hot keys keep its cache line shared instead
    /// of taking it from each other on every read: two threads reading a
    /// Zipf-distributed key set went from about 27 to 31 M reads per second.
    /// Two details make that free for one thread:
    ///
    /// * no branch: the store goes to a thread-local sink instead, picked
    ///   with [`std::hint::select_unpredictable`]. A branch mispredicts
    ///   with the key's heat and cost a quarter of one thread's reads.
    /// * the sink is thread-local, not on the stack: a stack slot is reused
    ///   by the next call's frame, and that aliasing cost a fifth of one
    ///   thread's reads.
    #[inline]
    pub(crate) fn touch(&self, time: u32, fresh: u32) {
        thread_local! {
            static SINK: AtomicU32 = const { AtomicU32::new(0) };
        }
        let stamp = self.stamp();
        // `&`, not `&&`: no branches.
        let idle = (stamp.pending() == Stamp::MAX_PENDING)
            & stamp.referenced()
            & ((time.wrapping_sub(stamp.time()) & Stamp::TIME_MASK) < fresh);
        SINK.with(|sink| {
            let target = std::hint::select_unpredictable(idle, sink, &self.stamp);
            target.store(stamp.used_at(time).0, Ordering::Relaxed);
        });
    }
}

/// How many ticks a read may leave an entry's stamped time behind (see
/// [`Entry::touch`]): 1/64 of the ticks a cache of `entries` entries takes
/// to see as many requests, so that the times the policy compares (reuse
/// intervals, the victim's age, on the scale of the cache's size) are off
/// by under 2%. On the reference traces the hit ratios did not move
/// (6.661 points from OPT on average, against 6.662 storing every time;
/// 1/32 gave 6.666 and 1/16 6.674).
pub(crate) fn fresh_ticks(entries: u64, shift: u32) -> u32 {
    u32::try_from((entries >> shift) / 64).unwrap_or(u32::MAX)
}

/// The end of a list, and "no next free slot".
pub(crate) const NIL: u32 = (1 << Link::NEXT_BITS) - 1;

/// The most slots a shard can hold: every value of a link's `next` field but
/// [`NIL`].
pub(crate) const MAX_SLOTS: u32 = NIL;

/// Where an entry sits in the `Adaptive` policy's segments (the other
/// policies keep their own order and leave it at `Window`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Segment {
    Window = 0,
    Candidate = 1,
    Probation = 2,
    Protected = 3,
}

impl Segment {
    pub(crate) const ALL: [Segment; 4] = [
        Segment::Window,
        Segment::Candidate,
        Segment::Probation,
        Segment::Protected,
    ];

    fn from_bits(bits: u32) -> Segment {
        match bits & 3 {
            0 => Segment::Window,
            1 => Segment::Candidate,
            2 => Segment::Probation,
            _ => Segment::Protected,
        }
    }
}

/// An entry's link word: the next slot of its policy queue, its segment, and
/// which optional parts it has.
///
/// `1 | segment (2 bits) | flags (3 bits) | next (26 bits)`, high to low.
/// The top bit is always set, so a link is never zero, and `Slot` (an enum
/// of an entry or a free slot) needs no tag of its own: it stays as small as
/// the entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Link(NonZeroU32);

impl Link {
    const NEXT_BITS: u32 = 26;
    const FLAG_SHIFT: u32 = Self::NEXT_BITS;
    const SEGMENT_SHIFT: u32 = Self::FLAG_SHIFT + 3;
    const TOP: u32 = 1 << 31;
    const TOP_BIT: NonZeroU32 = NonZeroU32::new(Self::TOP).expect("non-zero");

    /// The entry can expire: it has a deadline in `Extras::deadlines` or a
    /// time to idle in its rich options.
    pub(crate) const EXPIRES: u32 = 1 << 0;
    /// The entry has a first tag in `Extras::tags`.
    pub(crate) const TAGGED: u32 = 1 << 1;
    /// The entry has rich options in `Extras::rich`.
    pub(crate) const RICH: u32 = 1 << 2;

    pub(crate) fn new(next: u32, segment: Segment, flags: u32) -> Self {
        let bits = Self::TOP
            | (segment as u32) << Self::SEGMENT_SHIFT
            | (flags & 7) << Self::FLAG_SHIFT
            | (next & NIL);
        Self(NonZeroU32::new(bits).unwrap_or(NonZeroU32::MIN))
    }

    #[inline]
    pub(crate) fn next(self) -> u32 {
        self.0.get() & NIL
    }

    #[inline]
    pub(crate) fn segment(self) -> Segment {
        Segment::from_bits(self.0.get() >> Self::SEGMENT_SHIFT)
    }

    #[inline]
    pub(crate) fn flags(self) -> u32 {
        (self.0.get() >> Self::FLAG_SHIFT) & 7
    }

    #[inline]
    pub(crate) fn has(self, flag: u32) -> bool {
        self.flags() & flag != 0
    }

    /// The link with only the bits under `mask` replaced by `bits`'s. Bit
    /// operations rather than [`Link::new`]: queue moves do this several
    /// times per eviction, and taking the word apart and rebuilding it
    /// cost instructions there. The top bit is outside every mask.
    #[inline]
    fn with_bits(self, mask: u32, bits: u32) -> Self {
        debug_assert_eq!(mask & Self::TOP, 0);
        Self(Self::TOP_BIT | ((self.0.get() & !mask) | (bits & mask)))
    }

    #[inline]
    pub(crate) fn with_next(self, next: u32) -> Self {
        self.with_bits(NIL, next)
    }

    /// The link with both its next slot and its segment replaced.
    #[inline]
    pub(crate) fn with_next_in(self, next: u32, segment: Segment) -> Self {
        self.with_bits(
            NIL | 3 << Self::SEGMENT_SHIFT,
            (next & NIL) | (segment as u32) << Self::SEGMENT_SHIFT,
        )
    }

    pub(crate) fn with_flags(self, flags: u32) -> Self {
        Self::new(self.next(), self.segment(), flags)
    }

    /// The raw word, for a vacant slot that keeps its place in a queue.
    pub(crate) fn bits(self) -> u32 {
        self.0.get()
    }

    /// The link of a raw word, if it is one (its top bit set).
    pub(crate) fn from_bits(bits: u32) -> Option<Self> {
        (bits & Self::TOP != 0)
            .then(|| NonZeroU32::new(bits))
            .flatten()
            .map(Self)
    }
}

/// An entry's stamp: when it was last used and what the policy has yet to
/// learn about its uses.
///
/// `time (25 bits) | referenced (1 bit) | credit (2 bits) | pending (4 bits)`,
/// high to low.
///
/// * `time`: the last use, in the policy's ticks (wrapping);
/// * `referenced`: used since the policy last looked at the entry (CLOCK's
///   reference bit), set by reads;
/// * `credit`: the `Adaptive` policy's CLOCK credit, written only under the
///   shard's exclusive lock;
/// * `pending`: uses not yet added to the frequency sketch, counted by
///   reads (saturating at 15).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Stamp(pub(crate) u32);

impl Stamp {
    pub(crate) const TIME_BITS: u32 = 25;
    pub(crate) const TIME_MASK: u32 = (1 << Self::TIME_BITS) - 1;
    const TIME_SHIFT: u32 = 7;
    const REFERENCED: u32 = 1 << 6;
    const CREDIT_SHIFT: u32 = 4;
    pub(crate) const MAX_CREDIT: u32 = 3;
    pub(crate) const MAX_PENDING: u32 = 15;

    #[inline]
    pub(crate) fn new(time: u32) -> Self {
        Self((time & Self::TIME_MASK) << Self::TIME_SHIFT)
    }

    #[inline]
    pub(crate) fn time(self) -> u32 {
        self.0 >> Self::TIME_SHIFT
    }

    #[inline]
    pub(crate) fn referenced(self) -> bool {
        self.0 & Self::REFERENCED != 0
    }

    #[inline]
    pub(crate) fn credit(self) -> u32 {
        (self.0 >> Self::CREDIT_SHIFT) & Self::MAX_CREDIT
    }

    #[inline]
    pub(crate) fn pending(self) -> u32 {
        self.0 & Self::MAX_PENDING
    }

    /// One more use at `time`.
    #[inline]
    #[must_use]
    pub(crate) fn used_at(self, time: u32) -> Self {
        let pending = (self.pending() + 1).min(Self::MAX_PENDING);
        Self(
            (time & Self::TIME_MASK) << Self::TIME_SHIFT
                | Self::REFERENCED
                | self.credit() << Self::CREDIT_SHIFT
                | pending,
        )
    }

    #[inline]
    #[must_use]
    pub(crate) fn with_credit(self, credit: u32) -> Self {
        Self(
            self.0 & !(Self::MAX_CREDIT << Self::CREDIT_SHIFT)
                | credit.min(Self::MAX_CREDIT) << Self::CREDIT_SHIFT,
        )
    }

    /// The stamp with `pending` uses to add (saturating at 15).
    #[inline]
    #[must_use]
    pub(crate) fn with_pending(self, pending: u32) -> Self {
        Self(self.0 & !Self::MAX_PENDING | pending.min(Self::MAX_PENDING))
    }

    #[inline]
    #[must_use]
    pub(crate) fn without_pending(self) -> Self {
        Self(self.0 & !Self::MAX_PENDING)
    }

    #[inline]
    #[must_use]
    pub(crate) fn unreferenced(self) -> Self {
        Self(self.0 & !Self::REFERENCED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_of_a_hot_entry_stamped_moments_ago_stores_nothing() {
        let entry = Entry::new(1u64, 1u64, 0);
        // Reads with uses still to count always store.
        for t in 0..Stamp::MAX_PENDING {
            entry.touch(100 + t, 8);
            assert_eq!(entry.stamp().time(), 100 + t);
        }
        let full = entry.stamp();
        assert_eq!(full.pending(), Stamp::MAX_PENDING);
        assert!(full.referenced());
        let at = full.time();
        // Nothing new but a time under `fresh` ticks later: no store.
        entry.touch(at + 7, 8);
        assert_eq!(entry.stamp(), full);
        // `fresh` ticks or more: the time moves.
        entry.touch(at + 8, 8);
        assert_eq!(entry.stamp().time(), at + 8);
        // With `fresh` 0 (writes) every touch stores.
        entry.touch(at + 9, 0);
        assert_eq!(entry.stamp().time(), at + 9);
    }

    #[test]
    fn a_read_of_an_entry_not_referenced_since_the_policy_looked_stores() {
        let entry = Entry::new(1u64, 1u64, 0);
        for t in 0..Stamp::MAX_PENDING {
            entry.touch(t, 100);
        }
        // The policy's CLOCK hand cleared the reference bit.
        let looked = entry.stamp().unreferenced();
        entry.stamp.store(looked.0, Ordering::Relaxed);
        entry.touch(looked.time() + 1, 100);
        assert!(entry.stamp().referenced());
        assert_eq!(entry.stamp().time(), looked.time() + 1);
    }

    #[test]
    fn links_pack_next_segment_and_flags() {
        let link = Link::new(12_345, Segment::Probation, Link::EXPIRES | Link::RICH);
        assert_eq!(link.next(), 12_345);
        assert_eq!(link.segment(), Segment::Probation);
        assert!(link.has(Link::EXPIRES) && link.has(Link::RICH) && !link.has(Link::TAGGED));
        let moved = link.with_next_in(NIL, Segment::Protected);
        assert_eq!((moved.next(), moved.segment()), (NIL, Segment::Protected));
        assert_eq!(moved.flags(), link.flags());
        let relinked = moved.with_next(7);
        assert_eq!(
            (relinked.next(), relinked.segment()),
            (7, Segment::Protected)
        );
        assert_eq!(relinked.flags(), link.flags());
        assert_eq!(Link::from_bits(moved.bits()), Some(moved));
        assert_eq!(Link::from_bits(7), None, "no top bit: a free-list word");
    }

    #[test]
    fn stamps_count_pending_uses_and_keep_credit() {
        let mut s = Stamp::new(5).with_credit(2);
        assert!(!s.referenced());
        for t in 0..20 {
            s = s.used_at(100 + t);
        }
        assert_eq!((s.time(), s.credit(), s.pending()), (119, 2, 15));
        assert!(s.referenced());
        let s = s.without_pending().with_credit(7).unreferenced();
        assert_eq!((s.time(), s.credit(), s.pending()), (119, 3, 0));
        assert!(!s.referenced());
        assert_eq!(Stamp::new(Stamp::TIME_MASK + 3).time(), 2, "time wraps");
    }
}
