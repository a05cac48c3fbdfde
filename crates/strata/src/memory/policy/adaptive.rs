//! `Adaptive`: W-TinyLFU on CLOCK-style FIFO queues, with reuse-aware
//! admission and a setting chosen by miniature simulation; the default
//! policy.
//!
//! Entries live in four segments per priority class, each a FIFO queue
//! threaded through the entries' own [`Link`]s:
//!
//! * **window** — takes every new entry, so a key written is readable at
//!   once and recency-driven workloads get a recency cache;
//! * **candidates** — entries pushed out of the window that must wait for a
//!   later duel for a place in the main region (the entry being written,
//!   when it is the window's overflow; then the overflow of the writes
//!   after it, in order). Usually empty: the overflow duels from the
//!   window's head, where it stands;
//! * **probation** and **protected** — the main region: an entry found at
//!   probation's head with uses since it was queued moves to protected
//!   (bounded by a share of the main region), whose overflow drops back to
//!   probation.
//!
//! Reads never move anything: a read only records itself in the entry's
//! [`Stamp`] (time of use, reference bit, one more pending use), with one
//! store under the shard's shared lock. The write path acts on the stamps it
//! meets at the queues' heads, CLOCK fashion: an entry referenced since it
//! was last looked at gets a second chance (window), a promotion
//! (probation) or another lap (protected, as long as its 2-bit credit
//! lasts). An insert starts its entry with one pending use, the write
//! itself. Pending uses are added to the frequency sketch ("folded") when
//! the sketch is about to read the key's count (a duel folds a side as it
//! reads it), when an entry leaves, and when 15 have piled up. So the
//! sketch learns every use, late but before any decision that depends on
//! it.
//!
//! When room is needed, the oldest candidate duels probation's head, by the
//! setting's [`Admission`] rule:
//!
//! * **frequency** (TinyLFU): the more frequent of the two stays, by a 4-bit
//!   count-min sketch that halves itself every `20 × capacity` uses;
//! * **reuse** (LIRS's test): if the candidate's reuse interval is known (it
//!   was used again while in the window, or it came back soon after leaving,
//!   which the [`History`] of departed keys tells), it stays when that
//!   interval is shorter than the time since the victim was last used;
//!   otherwise the frequencies decide.
//!
//! Ties go against the candidate. So a scan or a loop larger than the cache
//! passes through the window and out without displacing the working set.
//! While the cache is not yet full, candidates are admitted without a duel.
//!
//! The [`Tuner`] picks the setting (window share, admission rule, protected
//! share) for the whole cache by running miniature copies of this policy on
//! a sample of the keys, one per setting, and following the best.
//!
//! Sizes are counted in entries, or in weight when the cache is bounded by
//! weight. The capacity is the shard's share of the cache's bound.

use std::sync::Arc;

use super::super::entry::{Link, NIL, Segment, Stamp};
use super::history::History;
use super::sketch::Sketch;
use super::tuner::Tuner;
use super::{Facts, Nodes, Sizing};

/// How a candidate leaving the window is judged against its victim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// TinyLFU: the candidate stays only if the sketch says it is used more
    /// often than the victim.
    Frequency,
    /// By reuse interval when the candidate's is known, else by frequency.
    Reuse,
}

/// One setting of the policy's knobs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Setting {
    /// The window's share of the capacity.
    pub(crate) window: f64,
    pub(crate) admission: Admission,
    /// The protected segment's share of the main region.
    pub(crate) protected: f64,
}

impl Setting {
    /// The setting packed into a non-zero `u64`, so that shards can read
    /// the tuner's choice with one atomic load.
    pub(crate) fn pack(self) -> u64 {
        let window = u64::from((self.window as f32).to_bits());
        let protected = (self.protected.clamp(0.0, 1.0) * f64::from(u16::MAX)).round() as u64;
        let admission = match self.admission {
            Admission::Frequency => 0,
            Admission::Reuse => 1,
        };
        window << 32 | protected << 16 | admission << 8 | 1
    }

    pub(crate) fn unpack(packed: u64) -> Setting {
        Setting {
            window: f64::from(f32::from_bits((packed >> 32) as u32)),
            admission: match (packed >> 8) & 0xFF {
                0 => Admission::Frequency,
                _ => Admission::Reuse,
            },
            protected: ((packed >> 16) & 0xFFFF) as f64 / f64::from(u16::MAX),
        }
    }
}

/// The sketch count from which a candidate that loses on frequency may
/// still win on reuse interval (see `admits`). Caffeine uses the same
/// threshold against hash flooding; 4, 5, 7 and 8 did worse on the
/// reference traces.
const HOT: u8 = 6;

/// How long departed keys are remembered, as a multiple of the capacity.
const HISTORY_FACTOR: f64 = 1.0;

/// One FIFO queue of a segment, threaded through the entries' links. It may
/// hold slots left behind by removals; `len` and `units` count only live
/// entries.
#[derive(Debug, Clone, Copy)]
struct Queue {
    head: u32,
    tail: u32,
    len: usize,
    units: u64,
}

impl Queue {
    const EMPTY: Queue = Queue {
        head: NIL,
        tail: NIL,
        len: 0,
        units: 0,
    };

    /// Appends `slot` at the tail, marking it as in `segment`.
    fn push<N: Nodes>(&mut self, slot: u32, segment: Segment, nodes: &mut N) {
        let link = nodes.link(slot);
        self.append(slot, link, segment, nodes);
    }

    /// [`push`](Self::push) for a caller that has read `slot`'s `link`.
    #[inline]
    fn append<N: Nodes>(&mut self, slot: u32, link: Link, segment: Segment, nodes: &mut N) {
        nodes.set_link(slot, link.with_next_in(NIL, segment));
        if self.tail == NIL {
            self.head = slot;
        } else {
            let tail = nodes.link(self.tail);
            nodes.set_link(self.tail, tail.with_next(slot));
        }
        self.tail = slot;
    }

    /// Unlinks the head, live or not.
    fn pop<N: Nodes>(&mut self, nodes: &N) -> Option<u32> {
        if self.head == NIL {
            return None;
        }
        let slot = self.head;
        self.unlink_head(nodes.link(slot));
        Some(slot)
    }

    /// Unlinks the head, whose link is `link`.
    #[inline]
    fn unlink_head(&mut self, link: Link) {
        self.head = link.next();
        if self.head == NIL {
            self.tail = NIL;
        }
    }
}

/// The four segments of one priority class.
#[derive(Debug, Clone)]
struct Class {
    priority: i32,
    queues: [Queue; 4],
}

impl Class {
    fn new(priority: i32) -> Self {
        Self {
            priority,
            queues: [Queue::EMPTY; 4],
        }
    }

    #[inline]
    fn live(&self) -> usize {
        self.queues.iter().map(|q| q.len).sum()
    }

    fn is_unlinked(&self) -> bool {
        self.queues.iter().all(|q| q.head == NIL)
    }
}

#[derive(Debug)]
pub(crate) struct Adaptive {
    /// Classes by ascending priority, each with its queues. Usually one.
    classes: Vec<Class>,
    sketch: Sketch,
    history: History,
    sizing: Sizing,
    /// The window's size, in capacity units (at least 1).
    window: u64,
    admission: Admission,
    /// The protected segment's bound, in capacity units.
    protected: u64,
    /// Chooses the setting (shared by the cache's shards); `None` when the
    /// setting is fixed (the tuner's miniatures).
    tuner: Option<Arc<Tuner>>,
    /// The tuner's packed setting last applied.
    applied: u64,
    units: u64,
    len: usize,
    /// Slots left behind in the queues by removals.
    dead: usize,
    /// From the shard's request clock to ticks.
    shift: u32,
    /// The last duel whose candidate won: (candidate, victim).
    duel: Option<(u32, u32)>,
    /// The count last read for a duel's victim: (slot, count). Valid while
    /// the slot holds the same entry, with no pending use, and the sketch
    /// has not changed the block it was read from (`Sketch::watch`).
    victim_count: Option<(u32, u8)>,
}

/// The shift that makes 2^26 ticks cover at least 1,024 × `entries`
/// requests: enough for any interval the policy compares, fine enough to
/// tell intervals apart.
fn tick_shift(entries: u64) -> u32 {
    let span = entries.max(1).saturating_mul(1024);
    let ticks = 1u64 << Stamp::TIME_BITS;
    if span <= ticks {
        0
    } else {
        span.div_ceil(ticks).next_power_of_two().trailing_zeros()
    }
}

const W: usize = Segment::Window as usize;
const C: usize = Segment::Candidate as usize;
const PROBATION: usize = Segment::Probation as usize;
const PROTECTED: usize = Segment::Protected as usize;

impl Adaptive {
    pub(crate) fn new(sizing: Sizing, tuner: Option<Arc<Tuner>>) -> Self {
        let setting = tuner.as_ref().map_or(
            Setting {
                window: 0.03,
                admission: Admission::Reuse,
                protected: 0.5,
            },
            |t| Setting::unpack(t.current()),
        );
        let mut policy = Self::fixed(sizing, setting);
        policy.applied = setting.pack();
        policy.tuner = tuner;
        policy
    }

    /// A policy whose setting never changes (the tuner's miniatures).
    pub(crate) fn fixed(sizing: Sizing, setting: Setting) -> Self {
        let history = (sizing.entries as f64 * HISTORY_FACTOR) as usize;
        let shift = tick_shift(sizing.entries);
        let span = sizing.entries.max(1).saturating_mul(1024) >> shift;
        let mut policy = Self {
            classes: Vec::new(),
            sketch: Sketch::new(sizing.entries),
            history: History::new(history, span),
            sizing,
            window: 1,
            admission: setting.admission,
            protected: 0,
            tuner: None,
            applied: 0,
            units: 0,
            len: 0,
            dead: 0,
            shift,
            duel: None,
            victim_count: None,
        };
        policy.apply(setting);
        policy
    }

    pub(crate) fn tick_shift(&self) -> u32 {
        self.shift
    }

    fn apply(&mut self, setting: Setting) {
        let capacity = self.sizing.capacity as f64;
        self.window = ((capacity * setting.window).round() as u64).max(1);
        self.admission = setting.admission;
        let main = self.sizing.capacity.saturating_sub(self.window);
        self.protected = (main as f64 * setting.protected) as u64;
    }

    /// The units of the entry in `slot`; its weight is looked up only
    /// when the cache is bounded by weight.
    #[inline]
    fn units_at<N: Nodes>(&self, slot: u32, nodes: &N) -> u64 {
        if self.sizing.by_weight {
            u64::from(nodes.weight(slot))
        } else {
            1
        }
    }

    fn units_of(&self, weight: u32) -> u64 {
        if self.sizing.by_weight {
            u64::from(weight)
        } else {
            1
        }
    }

    #[inline]
    fn class_of(&self, priority: i32) -> Option<usize> {
        // The usual case: one class, no search.
        if let [only] = self.classes.as_slice() {
            return (only.priority == priority).then_some(0);
        }
        self.classes
            .binary_search_by_key(&priority, |c| c.priority)
            .ok()
    }

    #[inline]
    fn class_at(&mut self, priority: i32) -> usize {
        if let [only] = self.classes.as_slice()
            && only.priority == priority
        {
            return 0;
        }
        match self.classes.binary_search_by_key(&priority, |c| c.priority) {
            Ok(at) => at,
            Err(at) => {
                self.classes.insert(at, Class::new(priority));
                at
            }
        }
    }

    /// Applies a new setting of the tuner, and compacts the queues when
    /// left-behind slots outnumber live entries.
    #[inline]
    fn maintain<N: Nodes>(&mut self, nodes: &mut N) {
        let changed = self
            .tuner
            .as_ref()
            .is_some_and(|t| t.current() != self.applied);
        if changed || (self.dead > 64 && self.dead > self.len) {
            self.catch_up(nodes);
        }
    }

    #[cold]
    fn catch_up<N: Nodes>(&mut self, nodes: &mut N) {
        if let Some(current) = self.tuner.as_ref().map(|t| t.current())
            && current != self.applied
        {
            self.applied = current;
            self.apply(Setting::unpack(current));
            self.shrink_window(nodes);
            // A smaller protected share applies at once too, so that every
            // bound holds after any operation (`update` relies on it).
            for at in 0..self.classes.len() {
                self.trim_protected(at, nodes);
            }
        }
        if self.dead > 64 && self.dead > self.len {
            self.compact(nodes);
        }
    }

    /// The first live slot of a queue, releasing left-behind slots at its
    /// head.
    ///
    /// Inlined for the usual case, a live head or an empty queue: a miss
    /// looks at four or five fronts, and the call cost a quarter of each
    /// look.
    #[inline]
    fn front<N: Nodes>(&mut self, at: usize, segment: usize, nodes: &mut N) -> Option<u32> {
        let head = self.classes[at].queues[segment].head;
        if head == NIL {
            return None;
        }
        if nodes.is_live(head) {
            return Some(head);
        }
        self.release_front(at, segment, nodes)
    }

    /// [`front`](Self::front) past left-behind slots at the head.
    #[cold]
    fn release_front<N: Nodes>(&mut self, at: usize, segment: usize, nodes: &mut N) -> Option<u32> {
        let queue = &mut self.classes[at].queues[segment];
        let mut released = 0;
        let found = loop {
            if queue.head == NIL {
                break None;
            }
            if nodes.is_live(queue.head) {
                break Some(queue.head);
            }
            let Some(gone) = queue.pop(nodes) else {
                break None;
            };
            nodes.release(gone);
            released += 1;
        };
        self.dead -= released;
        found
    }

    /// The first live slot of a queue other than `skip`.
    #[inline]
    fn front_except<N: Nodes>(
        &mut self,
        at: usize,
        segment: usize,
        skip: Option<u32>,
        nodes: &mut N,
    ) -> Option<u32> {
        let first = self.front(at, segment, nodes)?;
        if Some(first) != skip {
            return Some(first);
        }
        Self::live_after(first, nodes)
    }

    /// The first live slot after `slot` in its queue.
    #[cold]
    fn live_after<N: Nodes>(slot: u32, nodes: &N) -> Option<u32> {
        let mut next = nodes.link(slot).next();
        while next != NIL && !nodes.is_live(next) {
            next = nodes.link(next).next();
        }
        (next != NIL).then_some(next)
    }

    /// Moves `slot`, the live head of queue `from`, to the tail of `to`.
    ///
    /// Always inlined: left to the compiler it stayed a call, and a miss
    /// makes two or three moves; inlining cut 1.4–1.7% of a replay's
    /// instructions.
    #[inline(always)]
    fn move_head<N: Nodes>(&mut self, at: usize, from: usize, to: usize, slot: u32, nodes: &mut N) {
        debug_assert_eq!(self.classes[at].queues[from].head, slot);
        let units = self.units_at(slot, nodes);
        let class = &mut self.classes[at];
        // One read of the slot's link serves both the pop and the push.
        let link = nodes.link(slot);
        let source = &mut class.queues[from];
        source.unlink_head(link);
        source.len -= 1;
        source.units -= units;
        let target = &mut class.queues[to];
        target.append(slot, link, Segment::ALL[to], nodes);
        target.len += 1;
        target.units += units;
    }

    /// Sends `slot`, the live head of queue `segment`, round to its tail:
    /// a CLOCK lap. The queue's counts do not change, which a move from a
    /// queue to itself would subtract and add back.
    #[inline]
    fn rotate<N: Nodes>(&mut self, at: usize, segment: usize, slot: u32, nodes: &mut N) {
        debug_assert_eq!(self.classes[at].queues[segment].head, slot);
        self.rotate_run(at, segment, slot, nodes);
    }

    /// Sends the entries from the head of queue `segment` to `last`
    /// round to its tail, in order: the CLOCK laps of a run of entries
    /// with two relinks, where rotating them one at a time made two each.
    #[inline]
    fn rotate_run<N: Nodes>(&mut self, at: usize, segment: usize, last: u32, nodes: &mut N) {
        let queue = &mut self.classes[at].queues[segment];
        if last == queue.tail {
            // The whole queue: the same order once round.
            return;
        }
        let first = queue.head;
        let link = nodes.link(last);
        queue.head = link.next();
        nodes.set_link(last, link.with_next(NIL));
        let tail = nodes.link(queue.tail);
        nodes.set_link(queue.tail, tail.with_next(first));
        queue.tail = last;
    }

    /// The live entry after `slot` in its queue, or `None` at the tail or
    /// before a left-behind slot (which only [`front`](Self::front)
    /// releases).
    #[inline]
    fn next_live<N: Nodes>(slot: u32, nodes: &N) -> Option<u32> {
        let next = nodes.link(slot).next();
        (next != NIL && nodes.is_live(next)).then_some(next)
    }

    /// Adds the pending uses of `slot` to the sketch; returns the stamp
    /// after.
    #[inline]
    fn fold<N: Nodes>(&mut self, slot: u32, nodes: &mut N) -> Stamp {
        let stamp = nodes.stamp(slot);
        let pending = stamp.pending();
        if pending == 0 {
            return stamp;
        }
        let _ = self.sketch.increment_by(nodes.hash(slot), pending);
        let folded = stamp.without_pending();
        nodes.set_stamp(slot, folded);
        folded
    }

    /// The sketch's count of `slot`'s key (of hash `hash`), with its pending
    /// uses folded in first: one pass over the sketch either way.
    #[inline]
    fn estimate<N: Nodes>(&mut self, slot: u32, hash: u64, nodes: &mut N) -> u8 {
        let stamp = nodes.stamp(slot);
        let pending = stamp.pending();
        if pending == 0 {
            return self.sketch.frequency(hash);
        }
        nodes.set_stamp(slot, stamp.without_pending());
        self.sketch.increment_by(hash, pending)
    }

    /// CLOCK's look at `slot`: if it was used since the last look, it earns
    /// a credit and its reference is cleared. Pending uses are folded into
    /// the sketch only once their count is full: the sketch is read only in
    /// duels, which fold both sides first, so folding at every look would
    /// cost a sketch access (a cache miss, in a large cache) per promotion
    /// for nothing. Returns whether it was used, and the stamp after.
    #[inline]
    fn look<N: Nodes>(&mut self, slot: u32, nodes: &mut N) -> (bool, Stamp) {
        let mut stamp = nodes.stamp(slot);
        if stamp.pending() == Stamp::MAX_PENDING {
            stamp = self.fold(slot, nodes);
        }
        if !stamp.referenced() {
            return (false, stamp);
        }
        let looked = stamp.unreferenced().with_credit(stamp.credit() + 1);
        nodes.set_stamp(slot, looked);
        (true, looked)
    }

    /// Restores the window and protected bounds of class `at`: window
    /// overflow goes straight to probation while the cache has room, else
    /// waits to be dueled (see below); protected overflow goes back to
    /// probation. `room` is
    /// whether the whole cache is within its bounds, as the shard knows it;
    /// `None` (the tuner's miniatures, which are whole caches) judges by
    /// this policy's own size.
    fn rebalance<N: Nodes>(&mut self, at: usize, room: Option<bool>, nodes: &mut N) {
        // Warm-up: while the cache has room, the window's overflow goes
        // straight to probation; there is nothing to duel. It is the whole
        // cache's room that counts: bounds are global, so a shard under its
        // share may be part of a full cache, and judging by the share made
        // such shards admit everything (P6 at 20,000 entries in 8 shards:
        // 12.7% against 18.2% in one).
        let room = room.unwrap_or(self.units <= self.sizing.capacity);
        // In a full cache the overflow is the next candidate. It waits at
        // the window's head for the eviction that will duel it, unless
        // candidates already wait in their own queue: then it joins them,
        // in order. Why not always queue it there: every miss of a full
        // cache would move one entry from the window to that queue and
        // look at it again there, 2% of a replay's instructions, for the
        // same duels.
        let to = if room {
            Some(PROBATION)
        } else if self.classes[at].queues[C].head != NIL {
            Some(C)
        } else {
            None
        };
        if let Some(to) = to {
            let mut laps = self.classes[at].queues[W].len;
            while let Some(slot) = self.window_candidate(at, &mut laps, nodes) {
                if to == PROBATION {
                    let stamp = nodes.stamp(slot);
                    nodes.set_stamp(slot, stamp.with_credit(0));
                }
                self.move_head(at, W, to, slot, nodes);
            }
        }
        self.trim_protected(at, nodes);
    }

    /// The window's oldest entry beyond its bound, after the CLOCK laps on
    /// the way (at most `laps`, counted down): the next candidate for the
    /// main region, left at the window's head. `None` while the window is
    /// within its bound.
    fn window_candidate<N: Nodes>(
        &mut self,
        at: usize,
        laps: &mut usize,
        nodes: &mut N,
    ) -> Option<u32> {
        loop {
            let window = &self.classes[at].queues[W];
            if window.units <= self.window || window.len <= 1 {
                return None;
            }
            let slot = self.front(at, W, nodes)?;
            // A window entry used since it was queued gets one more lap: the
            // CLOCK form of an LRU window. Bounded, so an all-hot window
            // still yields one. The credit (any use in the window) stays
            // with the candidate: it tells the reuse rule its interval is
            // known.
            let (used, _) = self.look(slot, nodes);
            if used && *laps > 1 {
                *laps -= 1;
                self.rotate(at, W, slot, nodes);
                continue;
            }
            return Some(slot);
        }
    }

    /// The candidate to duel in class `at`, other than `skip`: the oldest
    /// in the candidates' queue, else the window's overflow.
    fn candidate<N: Nodes>(&mut self, at: usize, skip: Option<u32>, nodes: &mut N) -> Option<u32> {
        if self.classes[at].queues[C].head != NIL {
            return self.front_except(at, C, skip, nodes);
        }
        let mut laps = self.classes[at].queues[W].len;
        let candidate = self.window_candidate(at, &mut laps, nodes)?;
        if Some(candidate) == skip {
            // The entry being written, which must stay: it waits in the
            // candidates' queue for the next eviction.
            self.move_head(at, W, C, candidate, nodes);
            return None;
        }
        Some(candidate)
    }

    /// Drops protected's overflow back to probation, CLOCK fashion: an entry
    /// with credit left spends one and goes round again. The usual call finds
    /// nothing to drop, so only that check is inlined.
    #[inline]
    fn trim_protected<N: Nodes>(&mut self, at: usize, nodes: &mut N) {
        if self.classes[at].queues[PROTECTED].units > self.protected {
            self.drop_protected_overflow(at, nodes);
        }
    }

    /// [`trim_protected`](Self::trim_protected)'s work.
    ///
    /// The entries that go round are walked as a run from the head and
    /// relinked once ([`rotate_run`](Self::rotate_run)): in a cache whose
    /// protected entries are mostly hot, several go round per entry that
    /// drops, and rotating them one by one cost half of this function.
    fn drop_protected_overflow<N: Nodes>(&mut self, at: usize, nodes: &mut N) {
        let mut laps = self.classes[at].queues[PROTECTED].len;
        while self.classes[at].queues[PROTECTED].units > self.protected {
            let Some(mut slot) = self.front(at, PROTECTED, nodes) else {
                break;
            };
            let mut last = NIL;
            let drops = loop {
                let (_, stamp) = self.look(slot, nodes);
                let credit = stamp.credit();
                if credit == 0 || laps == 0 {
                    break true;
                }
                laps -= 1;
                nodes.set_stamp(slot, stamp.with_credit(credit - 1));
                last = slot;
                match Self::next_live(slot, nodes) {
                    Some(next) => slot = next,
                    None => break false,
                }
            };
            if last != NIL {
                self.rotate_run(at, PROTECTED, last, nodes);
            }
            if drops {
                // The run went round: `slot` is the head now.
                self.move_head(at, PROTECTED, PROBATION, slot, nodes);
            }
        }
    }

    /// Hands what a smaller window no longer holds to probation, oldest
    /// first, as Caffeine does when its climber shrinks the window.
    ///
    /// Why not queue them as candidates: each eviction settles one candidate
    /// and each insert queues one, so a queue that grew by the window's
    /// shrinkage would never drain; it would act as a second, untuned window
    /// for the rest of the run.
    fn shrink_window<N: Nodes>(&mut self, nodes: &mut N) {
        for at in 0..self.classes.len() {
            while self.classes[at].queues[W].units > self.window
                && self.classes[at].queues[W].len > 1
            {
                let Some(slot) = self.front(at, W, nodes) else {
                    break;
                };
                let (_, stamp) = self.look(slot, nodes);
                nodes.set_stamp(slot, stamp.with_credit(0));
                self.move_head(at, W, PROBATION, slot, nodes);
            }
        }
    }

    /// The main region's victim in class `at`, left at probation's head
    /// after the CLOCK promotions on the way; never `skip`.
    fn main_victim<N: Nodes>(
        &mut self,
        at: usize,
        skip: Option<u32>,
        nodes: &mut N,
    ) -> Option<u32> {
        loop {
            let Some(slot) = self.front(at, PROBATION, nodes) else {
                // Probation is empty: the oldest protected entry drops to it.
                self.demote(at, nodes)?;
                continue;
            };
            if Some(slot) == skip {
                if self.classes[at].queues[PROBATION].len == 1 {
                    // Only the spared entry is on probation: demote one.
                    self.demote(at, nodes)?;
                }
                // A write is a use: the spared entry goes round.
                self.rotate(at, PROBATION, slot, nodes);
                continue;
            }
            let (_, stamp) = self.look(slot, nodes);
            if stamp.credit() == 0 {
                return Some(slot);
            }
            nodes.set_stamp(slot, stamp.with_credit(0));
            self.move_head(at, PROBATION, PROTECTED, slot, nodes);
            self.trim_protected(at, nodes);
        }
    }

    /// Drops protected's oldest entry to probation, its credit spent.
    fn demote<N: Nodes>(&mut self, at: usize, nodes: &mut N) -> Option<u32> {
        let slot = self.front(at, PROTECTED, nodes)?;
        let (_, stamp) = self.look(slot, nodes);
        nodes.set_stamp(slot, stamp.with_credit(0));
        self.move_head(at, PROTECTED, PROBATION, slot, nodes);
        Some(slot)
    }

    fn age<N: Nodes>(time: u32, nodes: &N) -> u32 {
        nodes.now().wrapping_sub(time) & Stamp::TIME_MASK
    }

    /// The candidate's last reuse interval, if known: used again since it
    /// arrived (then at most the time since that use), or back soon after
    /// leaving (the history says when it was last used before).
    fn reuse_interval<N: Nodes>(&self, candidate: u32, nodes: &N) -> Option<u32> {
        let stamp = nodes.stamp(candidate);
        if stamp.credit() > 0 || stamp.referenced() {
            return Some(Self::age(stamp.time(), nodes));
        }
        self.history.since(nodes.hash(candidate), stamp.time())
    }

    /// Whether `candidate` wins its duel against `victim`. Ties go against
    /// the candidate: an unproven key must not displace an equal. A side's
    /// pending uses are folded into the sketch only when its count is read
    /// (see `estimate`): a duel the reuse rule settles reads no count.
    fn admits<N: Nodes>(&mut self, candidate: u32, victim: u32, nodes: &mut N) -> bool {
        match self.admission {
            Admission::Reuse => match self.reuse_interval(candidate, nodes) {
                Some(interval) => interval < Self::age(nodes.stamp(victim).time(), nodes),
                None => self.more_frequent(candidate, victim, nodes),
            },
            Admission::Frequency => {
                let candidate_uses = self.estimate(candidate, nodes.hash(candidate), nodes);
                if candidate_uses > self.victim_estimate(victim, nodes) {
                    return true;
                }
                // A victim whose count saturated while it was hot can turn
                // every candidate away for a long time after it went cold
                // (on w106 at 50,000 entries, no candidate was admitted for
                // 2 M requests). A hot candidate that is reused sooner than
                // the victim was last used gets in anyway.
                candidate_uses >= HOT
                    && self
                        .reuse_interval(candidate, nodes)
                        .is_some_and(|interval| {
                            interval < Self::age(nodes.stamp(victim).time(), nodes)
                        })
            }
        }
    }

    fn more_frequent<N: Nodes>(&mut self, candidate: u32, victim: u32, nodes: &mut N) -> bool {
        self.estimate(candidate, nodes.hash(candidate), nodes) > self.victim_estimate(victim, nodes)
    }

    /// [`estimate`](Self::estimate) of a duel's victim, read again only if
    /// it may have changed since the last duel read it.
    ///
    /// Why: a victim usually fights several duels before it loses one (on
    /// a miss-heavy trace most candidates are new keys that lose), and
    /// reading its count means hashing its key and reading its sketch
    /// block (a cache miss in a large cache) each time. The count is the
    /// same unless the victim was used since (a pending use) or the block
    /// changed, which the sketch tracks, so the duels end the same.
    #[inline]
    fn victim_estimate<N: Nodes>(&mut self, victim: u32, nodes: &mut N) -> u8 {
        if let Some((slot, count)) = self.victim_count
            && slot == victim
            && self.sketch.unchanged()
            && nodes.stamp(victim).pending() == 0
        {
            return count;
        }
        let hash = nodes.hash(victim);
        let count = self.estimate(victim, hash, nodes);
        self.sketch.watch(hash);
        self.victim_count = Some((victim, count));
        count
    }

    /// Relinks every queue without its left-behind slots, releasing them.
    fn compact<N: Nodes>(&mut self, nodes: &mut N) {
        let mut released = 0;
        for class in &mut self.classes {
            for (segment, queue) in class.queues.iter_mut().enumerate() {
                let mut at = queue.head;
                let mut kept = Queue {
                    len: queue.len,
                    units: queue.units,
                    ..Queue::EMPTY
                };
                while at != NIL {
                    let next = nodes.link(at).next();
                    if nodes.is_live(at) {
                        kept.push(at, Segment::ALL[segment], nodes);
                    } else {
                        nodes.release(at);
                        released += 1;
                    }
                    at = next;
                }
                *queue = kept;
            }
        }
        self.dead -= released;
        self.classes.retain(|c| !c.is_unlinked());
    }

    /// A new entry arrived in `slot`; `room` as for `rebalance`.
    pub(crate) fn insert<N: Nodes>(
        &mut self,
        slot: u32,
        facts: &Facts,
        room: Option<bool>,
        nodes: &mut N,
    ) {
        self.maintain(nodes);
        self.duel = None;
        // The write that brought the key is its first use, and it waits in
        // the stamp like any other: the sketch learns it at the first duel
        // or eviction that reads the key's count, in the same pass over the
        // key's block. Counting it here cost every miss one more sketch
        // access (a cache miss in a large cache, about 90 instructions),
        // and the late count also measured better: 6.66 points from OPT on
        // average over eight hash seeds, against 6.73.
        nodes.set_stamp(slot, Stamp::new(nodes.now()).with_pending(1));
        let units = self.units_of(facts.weight);
        let at = self.class_at(facts.priority);
        let queue = &mut self.classes[at].queues[W];
        queue.push(slot, Segment::Window, nodes);
        queue.len += 1;
        queue.units += units;
        self.units += units;
        self.len += 1;
        self.rebalance(at, room, nodes);
    }

    /// The entry in `slot` was overwritten (the shard records the write as a
    /// use in its stamp); its weight may have changed, its priority not.
    /// `room` as for `rebalance`, asked only when the weight changed.
    #[inline]
    pub(crate) fn update<N: Nodes>(
        &mut self,
        slot: u32,
        old: &Facts,
        facts: &Facts,
        room: impl FnOnce() -> bool,
        nodes: &mut N,
    ) {
        let Some(at) = self.class_of(facts.priority) else {
            return;
        };
        let (before, after) = (self.units_of(old.weight), self.units_of(facts.weight));
        if before == after {
            // The usual overwrite: every segment still holds what it did,
            // so their bounds, which held before, still hold.
            return;
        }
        let segment = nodes.link(slot).segment() as usize;
        let queue = &mut self.classes[at].queues[segment];
        queue.units = queue.units - before + after;
        self.units = self.units - before + after;
        self.rebalance(at, Some(room()), nodes);
    }

    /// The live entry in `slot` leaves; the shard then vacates the slot.
    /// Returns whether the slot must keep its link: at the head of its
    /// queue it is unlinked at once, anywhere else it stays in the queue,
    /// left behind until a look at the head releases it.
    ///
    /// Why unlink heads: evictions take them (the candidate at the head of
    /// its queue, or probation's head), so nearly every eviction used to
    /// leave a slot behind that a later look had to skip and release,
    /// about 50 instructions per miss.
    pub(crate) fn remove<N: Nodes>(&mut self, slot: u32, facts: &Facts, nodes: &mut N) -> bool {
        self.unqueue(slot, facts, nodes)
    }

    /// [`remove`](Self::remove)'s work, inlined into evictions, one per
    /// miss of a full cache.
    #[inline(always)]
    fn unqueue<N: Nodes>(&mut self, slot: u32, facts: &Facts, nodes: &mut N) -> bool {
        let Some(at) = self.class_of(facts.priority) else {
            debug_assert!(false, "removal from a class that does not exist");
            return true;
        };
        let units = self.units_of(facts.weight);
        let link = nodes.link(slot);
        let queue = &mut self.classes[at].queues[link.segment() as usize];
        queue.len -= 1;
        queue.units -= units;
        let at_head = queue.head == slot;
        if at_head {
            queue.unlink_head(link);
            // A class whose queues are all empty goes, as compaction would
            // drop it: with heads unlinked at once, a class emptied by
            // evictions leaves nothing behind to trigger a compaction, and
            // caches that use many priorities over time would keep them all.
            // The usual lone class stays: evictions empty one of its queues
            // often, and checking the class each time cost 0.7% of a
            // replay's instructions.
            if queue.head == NIL && self.classes.len() > 1 {
                self.drop_class_if_empty(at);
            }
        } else {
            self.dead += 1;
        }
        self.units -= units;
        self.len -= 1;
        if self.duel.is_some_and(|(c, v)| c == slot || v == slot) {
            self.duel = None;
        }
        if self.victim_count.is_some_and(|(v, _)| v == slot) {
            self.victim_count = None;
        }
        !at_head
    }

    #[cold]
    fn drop_class_if_empty(&mut self, at: usize) {
        if self.classes[at].is_unlinked() {
            self.classes.remove(at);
        }
    }

    /// The live entry in `slot` is evicted: remembered in the history, and
    /// if it lost a duel, its candidate enters probation. Returns whether
    /// the slot must keep its link, as [`remove`](Self::remove).
    pub(crate) fn evict<N: Nodes>(&mut self, slot: u32, facts: &Facts, nodes: &mut N) -> bool {
        // Its uses go into the sketch, for when the key comes back; the
        // stamp itself leaves with the entry.
        let stamp = nodes.stamp(slot);
        if stamp.pending() > 0 {
            let _ = self.sketch.increment_by(facts.hash, stamp.pending());
        }
        self.history.push(facts.hash, stamp.time());
        let duel = self.duel.take();
        let linked = self.unqueue(slot, facts, nodes);
        if let Some((candidate, victim)) = duel
            && victim == slot
            && let Some(at) = self.class_of(facts.priority)
            && let from = nodes.link(candidate).segment() as usize
            && self.classes[at].queues[from].head == candidate
        {
            let stamp = nodes.stamp(candidate);
            nodes.set_stamp(candidate, stamp.with_credit(0));
            self.move_head(at, from, PROBATION, candidate, nodes);
        }
        linked
    }

    /// The next entry to evict, other than `skip`: the loser of the duel
    /// between the oldest candidate and the main region's victim, in the
    /// lowest class that has live entries.
    pub(crate) fn victim<N: Nodes>(&mut self, skip: Option<u32>, nodes: &mut N) -> Option<u32> {
        self.maintain(nodes);
        self.duel = None;
        for at in 0..self.classes.len() {
            if self.classes[at].live() == 0 {
                continue;
            }
            let candidate = self.candidate(at, skip, nodes);
            let victim = self.main_victim(at, skip, nodes);
            let chosen = match (candidate, victim) {
                (Some(c), Some(v)) if self.admits(c, v, nodes) => {
                    self.duel = Some((c, v));
                    Some(v)
                }
                (Some(c), _) => Some(c),
                (None, Some(v)) => Some(v),
                (None, None) => self.front_except(at, W, skip, nodes),
            };
            if chosen.is_some() {
                return chosen;
            }
        }
        None
    }

    /// The lowest priority of a live entry. Every write publishes it, so
    /// the usual single class is answered inline (with entries present, it
    /// holds them) and only several classes are searched, out of line.
    #[inline(always)]
    pub(crate) fn min_priority(&self) -> Option<i32> {
        if self.len == 0 {
            return None;
        }
        if let [only] = self.classes.as_slice() {
            return Some(only.priority);
        }
        self.lowest_live_class()
    }

    #[cold]
    fn lowest_live_class(&self) -> Option<i32> {
        self.classes
            .iter()
            .find(|c| c.live() > 0)
            .map(|c| c.priority)
    }

    pub(crate) fn clear(&mut self) {
        self.classes.clear();
        self.sketch.clear();
        self.history.clear();
        self.units = 0;
        self.len = 0;
        self.dead = 0;
        self.duel = None;
        self.victim_count = None;
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The sketch's count of the key of `hash`, folded uses only.
    #[cfg(test)]
    pub(crate) fn frequency(&self, hash: u64) -> u8 {
        self.sketch.frequency(hash)
    }

    /// Checks the queues against the counts and `resident`.
    pub(crate) fn validate<N: Nodes>(&self, resident: &[u32], nodes: &N) -> Result<(), String> {
        for pair in self.classes.windows(2) {
            if pair[0].priority >= pair[1].priority {
                return Err("adaptive: classes out of order".into());
            }
        }
        let (mut len, mut units, mut dead) = (0usize, 0u64, 0usize);
        let mut seen = Vec::with_capacity(resident.len());
        for class in &self.classes {
            for segment in Segment::ALL {
                let queue = &class.queues[segment as usize];
                let (mut n, mut u, mut last) = (0usize, 0u64, NIL);
                let mut at = queue.head;
                while at != NIL {
                    let link: Link = nodes.link(at);
                    if link.segment() != segment {
                        return Err(format!("adaptive: slot {at} misfiled in {segment:?}"));
                    }
                    if nodes.is_live(at) {
                        n += 1;
                        u += self.units_of(nodes.weight(at));
                        seen.push(at);
                    } else {
                        dead += 1;
                    }
                    last = at;
                    at = link.next();
                    if n + dead > resident.len() + self.dead + 1 {
                        return Err(format!("adaptive: {segment:?} loops"));
                    }
                }
                if last != queue.tail {
                    return Err(format!("adaptive: {segment:?} tail is not its last slot"));
                }
                if (n, u) != (queue.len, queue.units) {
                    return Err(format!(
                        "adaptive: {segment:?} holds {n} live ({}), {u} units ({})",
                        queue.len, queue.units
                    ));
                }
                len += n;
                units += u;
            }
        }
        if (len, units, dead) != (self.len, self.units, self.dead) {
            return Err(format!(
                "adaptive: {len} linked ({}), {units} units ({}), {dead} left behind ({})",
                self.len, self.units, self.dead
            ));
        }
        seen.sort_unstable();
        let mut want = resident.to_vec();
        want.sort_unstable();
        if seen != want {
            return Err("adaptive: the queues do not hold exactly the resident slots".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::mini::Mini;
    use super::*;

    fn hash(key: u64) -> u64 {
        key.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (key << 7)
    }

    #[test]
    fn settings_survive_packing() {
        for admission in [Admission::Frequency, Admission::Reuse] {
            let s = Setting {
                window: 0.03,
                admission,
                protected: 0.5,
            };
            let back = Setting::unpack(s.pack());
            assert_eq!(back.admission, admission);
            assert!((back.window - 0.03).abs() < 1e-6);
            assert!((back.protected - 0.5).abs() < 1e-4);
            assert_ne!(s.pack(), 0);
        }
    }

    #[test]
    fn ticks_cover_a_thousand_times_the_capacity() {
        assert_eq!(tick_shift(1_000), 0);
        for entries in [65_536, 160_000, 1 << 30] {
            let shift = tick_shift(entries);
            assert!(
                (1u64 << (Stamp::TIME_BITS + shift)) >= entries * 1024,
                "{entries}"
            );
            assert!(
                (1u64 << (Stamp::TIME_BITS + shift)) < entries * 4096,
                "{entries}"
            );
        }
    }

    fn replay(setting: Setting, keys: impl Iterator<Item = u64>, capacity: u64) -> (u64, Mini) {
        let mut mini = Mini::new(capacity, setting);
        let hits = keys.filter(|&k| mini.request(hash(k))).count() as u64;
        (hits, mini)
    }

    const REUSE: Setting = Setting {
        window: 0.03,
        admission: Admission::Reuse,
        protected: 0.5,
    };

    #[test]
    fn a_scan_does_not_flush_the_working_set() {
        // 100 hot keys, used over and over, then a scan of 10,000 cold keys
        // interleaved with them: the hot keys must keep hitting.
        let mut keys: Vec<u64> = Vec::new();
        for round in 0..50 {
            keys.extend(0..100);
            if round >= 10 {
                keys.extend((0..200).map(|i| 1_000_000 + round * 200 + i));
            }
        }
        for admission in [Admission::Frequency, Admission::Reuse] {
            let setting = Setting { admission, ..REUSE };
            let (hits, mini) = replay(setting, keys.iter().copied(), 150);
            // The hot set is 5,000 of the requests; nearly all must hit after
            // the first round.
            assert!(hits >= 4_500, "{admission:?}: {hits} hits");
            mini.validate().expect("consistent");
        }
    }

    #[test]
    fn a_loop_larger_than_the_cache_still_hits() {
        // LRU scores 0 on a loop of 300 keys with room for 200; an
        // admission filter keeps a stable part of it.
        let keys = (0..30_000u64).map(|i| i % 300);
        let (hits, mini) = replay(REUSE, keys, 200);
        assert!(hits > 30_000 * 4 / 10, "{hits} hits");
        mini.validate().expect("consistent");
    }

    #[test]
    fn a_write_counts_in_the_sketch_once_a_duel_reads_it() {
        let mut mini = Mini::new(1_000, REUSE);
        assert!(!mini.request(hash(1)));
        assert_eq!(mini.frequency(hash(1)), 0, "the write waits in the stamp");
        // Twice the capacity in new keys: once the cache is full, each
        // duels the oldest entry of the main region, key 1, which folds
        // the write in; the candidates lose on the tie.
        for k in 100..2_100 {
            mini.request(hash(k));
        }
        assert_eq!(mini.frequency(hash(1)), 1, "folded by a duel");
        assert!(mini.request(hash(1)), "key 1 kept its place");
        mini.validate().expect("consistent");
    }

    #[test]
    fn evictions_leave_no_slot_behind() {
        // Every request a new key: each one evicts a queue's head, which
        // is unlinked at once rather than left for a later look to release.
        for admission in [Admission::Frequency, Admission::Reuse] {
            let setting = Setting { admission, ..REUSE };
            let (hits, mini) = replay(setting, 0..10_000, 100);
            assert_eq!(hits, 0);
            assert_eq!(mini.len(), 100);
            assert_eq!(mini.left_behind(), 0, "{admission:?}");
            mini.validate().expect("consistent");
        }
    }

    /// Writes `slot` as new into `policy` (capacity `capacity`) and
    /// evicts down to the capacity, as a shard does.
    fn write(policy: &mut Adaptive, nodes: &mut TestNodes, slot: u32, capacity: usize) {
        nodes.add();
        let room = policy.len() < capacity;
        policy.insert(slot, &Facts::plain(u64::from(slot)), Some(room), nodes);
        while policy.len() > capacity {
            let victim = policy.victim(Some(slot), nodes).expect("a victim");
            policy.evict(victim, &Facts::plain(u64::from(victim)), nodes);
            nodes.live[victim as usize] = false;
        }
    }

    /// A policy of `entries` entries with the given window share, and its
    /// slots.
    fn with_window(window: f64, entries: u64) -> (Adaptive, TestNodes) {
        let setting = Setting { window, ..REUSE };
        let policy = Adaptive::fixed(Sizing::entries(entries), setting);
        (policy, TestNodes::default())
    }

    #[test]
    fn the_window_overflow_duels_from_the_window() {
        // A full cache's window overflow is dueled where it stands: no entry
        // passes through the candidates' queue, and the window keeps its
        // bound after every write.
        let (mut policy, mut nodes) = with_window(0.2, 10);
        for slot in 0..200 {
            write(&mut policy, &mut nodes, slot, 10);
            let class = &policy.classes[0];
            assert_eq!(class.queues[C].len, 0, "after {slot}");
            assert!(class.queues[W].units <= policy.window, "after {slot}");
            assert_eq!(policy.len(), (slot as usize + 1).min(10));
        }
        let resident: Vec<u32> = (0..200).filter(|&s| nodes.live[s as usize]).collect();
        policy.validate(&resident, &nodes).expect("consistent");
    }

    #[test]
    fn a_written_entry_that_is_the_overflow_waits_as_a_candidate() {
        // A window of one entry holding a used entry: the next write's laps
        // send the used one round, so the entry being written is the
        // overflow. It must stay, so it waits in the candidates' queue and
        // the main region gives the victim.
        let (mut policy, mut nodes) = with_window(0.0, 4);
        for slot in 0..4 {
            write(&mut policy, &mut nodes, slot, 4);
        }
        let in_window = policy.classes[0].queues[W].head;
        nodes.stamps[in_window as usize] = nodes.stamps[in_window as usize].used_at(0);
        write(&mut policy, &mut nodes, 4, 4);
        let class = &policy.classes[0];
        assert_eq!((class.queues[C].len, class.queues[C].head), (1, 4));
        assert!(nodes.live[4] && nodes.live[in_window as usize]);
        assert_eq!(policy.len(), 4);
        // The next write duels it first, from the candidates' queue, where
        // that write's overflow queues behind it: one in, one out.
        write(&mut policy, &mut nodes, 5, 4);
        let class = &policy.classes[0];
        assert_eq!(class.queues[C].len, 1);
        assert_ne!(class.queues[C].head, 4);
        let resident: Vec<u32> = (0..6).filter(|&s| nodes.live[s as usize]).collect();
        policy.validate(&resident, &nodes).expect("consistent");
    }

    #[test]
    fn a_class_emptied_by_evictions_goes() {
        // Entries of priority 1 and then 2, each evicted by the next
        // priority's: once priority 1 has no entries left, its class goes.
        let mut policy = Adaptive::fixed(Sizing::entries(4), REUSE);
        let mut nodes = TestNodes::default();
        let priority = |slot: u32| if slot < 2 { 1 } else { 2 };
        for slot in 0..6 {
            nodes.add();
            let facts = Facts {
                priority: priority(slot),
                ..Facts::plain(u64::from(slot))
            };
            let room = policy.len() < 4;
            policy.insert(slot, &facts, Some(room), &mut nodes);
            while policy.len() > 4 {
                let victim = policy.victim(Some(slot), &mut nodes).expect("a victim");
                let old = Facts {
                    priority: priority(victim),
                    ..Facts::plain(u64::from(victim))
                };
                let linked = policy.evict(victim, &old, &mut nodes);
                assert!(!linked, "a head is unlinked at once");
                nodes.live[victim as usize] = false;
            }
        }
        assert_eq!(policy.min_priority(), Some(2));
        assert_eq!(policy.classes.len(), 1, "priority 1's class is gone");
    }

    /// Slots for a policy driven directly: links, stamps and liveness.
    #[derive(Default)]
    struct TestNodes {
        links: Vec<Link>,
        stamps: Vec<Stamp>,
        live: Vec<bool>,
    }

    impl TestNodes {
        fn add(&mut self) {
            self.links.push(Link::new(NIL, Segment::Window, 0));
            self.stamps.push(Stamp::default());
            self.live.push(true);
        }
    }

    impl Nodes for TestNodes {
        fn now(&self) -> u32 {
            0
        }
        fn link(&self, slot: u32) -> Link {
            self.links[slot as usize]
        }
        fn set_link(&mut self, slot: u32, link: Link) {
            self.links[slot as usize] = link;
        }
        fn is_live(&self, slot: u32) -> bool {
            self.live[slot as usize]
        }
        fn stamp(&self, slot: u32) -> Stamp {
            self.stamps[slot as usize]
        }
        fn set_stamp(&mut self, slot: u32, stamp: Stamp) {
            self.stamps[slot as usize] = stamp;
        }
        fn hash(&self, slot: u32) -> u64 {
            u64::from(slot)
        }
        fn weight(&self, _slot: u32) -> u32 {
            1
        }
        fn release(&mut self, _slot: u32) {}
    }

    /// Protected as slots `0..credits.len()` in order, each with its
    /// credit (`None`: left behind by a removal), and every third live
    /// one used since its last look.
    fn protected_queue(credits: &[Option<u32>]) -> (Adaptive, TestNodes) {
        let (mut policy, mut nodes) = with_window(0.0, 64);
        policy.classes.push(Class::new(0));
        for (slot, credit) in (0u32..).zip(credits) {
            nodes.add();
            policy.classes[0].queues[PROTECTED].push(slot, Segment::Protected, &mut nodes);
            match credit {
                Some(credit) => {
                    let stamp = Stamp::default().with_credit(*credit);
                    let used = slot % 3 == 0;
                    nodes.stamps[slot as usize] = if used { stamp.used_at(0) } else { stamp };
                    policy.classes[0].queues[PROTECTED].len += 1;
                    policy.classes[0].queues[PROTECTED].units += 1;
                    policy.len += 1;
                    policy.units += 1;
                }
                None => {
                    nodes.live[slot as usize] = false;
                    policy.dead += 1;
                }
            }
        }
        (policy, nodes)
    }

    /// The live slots of queue `segment`, head first, with their credits.
    fn queued(policy: &Adaptive, nodes: &TestNodes, segment: usize) -> Vec<(u32, u32)> {
        let mut out = Vec::new();
        let mut at = policy.classes[0].queues[segment].head;
        while at != NIL {
            if nodes.live[at as usize] {
                out.push((at, nodes.stamps[at as usize].credit()));
            }
            at = nodes.links[at as usize].next();
        }
        out
    }

    /// The reference for protected's trim: CLOCK one entry at a time, as
    /// the trim is defined. An entry at the head is looked at (a use since
    /// the last look earns a credit); with credit left (and laps left) it
    /// spends one and goes to the tail, else it drops to probation. Returns
    /// what stays, head first with credits, and what dropped, in order.
    fn trim_one_at_a_time(credits: &[Option<u32>], bound: usize) -> (Vec<(u32, u32)>, Vec<u32>) {
        let mut queue: std::collections::VecDeque<(u32, u32, bool)> = (0u32..)
            .zip(credits)
            .filter_map(|(slot, c)| c.map(|c| (slot, c, slot % 3 == 0)))
            .collect();
        let mut laps = queue.len();
        let mut dropped = Vec::new();
        while queue.len() > bound {
            let Some((slot, mut credit, used)) = queue.pop_front() else {
                break;
            };
            if used {
                credit = (credit + 1).min(Stamp::MAX_CREDIT);
            }
            if credit > 0 && laps > 0 {
                laps -= 1;
                queue.push_back((slot, credit - 1, false));
            } else {
                dropped.push(slot);
            }
        }
        let kept = queue
            .into_iter()
            .map(|(slot, credit, _)| (slot, credit))
            .collect();
        (kept, dropped)
    }

    /// Trims the protected queue of `credits` to `bound` and compares the
    /// outcome with [`trim_one_at_a_time`].
    fn assert_trim_matches_one_at_a_time(credits: &[Option<u32>], bound: usize) {
        let (mut policy, mut nodes) = protected_queue(credits);
        policy.protected = bound as u64;
        policy.trim_protected(0, &mut nodes);
        let (kept, dropped) = trim_one_at_a_time(credits, bound);
        assert_eq!(
            queued(&policy, &nodes, PROTECTED),
            kept,
            "{credits:?} to {bound}"
        );
        let probation: Vec<u32> = queued(&policy, &nodes, PROBATION)
            .into_iter()
            .map(|(slot, _)| slot)
            .collect();
        assert_eq!(probation, dropped, "{credits:?} to {bound}");
        let resident: Vec<u32> = (0..credits.len() as u32)
            .filter(|&s| nodes.live[s as usize])
            .collect();
        policy.validate(&resident, &nodes).expect("consistent");
    }

    #[test]
    fn protected_overflow_goes_round_as_one_lap_at_a_time_would() {
        let cases: [&[Option<u32>]; 4] = [
            // Runs of credited entries between drops, one left behind.
            &[
                Some(2),
                Some(1),
                Some(0),
                Some(3),
                None,
                Some(1),
                Some(2),
                Some(0),
            ],
            // Every entry credited: the laps run out.
            &[Some(3), Some(3), None, None, Some(3), Some(3), Some(1)],
            // No credit but from uses.
            &[Some(0), Some(0), Some(1), Some(0)],
            &[
                Some(1),
                Some(2),
                Some(1),
                None,
                Some(2),
                Some(3),
                Some(2),
                Some(1),
                Some(1),
            ],
        ];
        for credits in cases {
            let live = credits.iter().flatten().count();
            for bound in 0..live {
                assert_trim_matches_one_at_a_time(credits, bound);
            }
        }
    }

    proptest::proptest! {
        /// The same, for any queue: credits 0 to 3, some slots left behind.
        #[test]
        fn any_protected_overflow_goes_round_as_one_lap_at_a_time_would(
            credits in proptest::collection::vec(
                proptest::option::weighted(0.85, 0..=Stamp::MAX_CREDIT),
                1..48,
            ),
            share in 0.0..1.0f64,
        ) {
            let live = credits.iter().flatten().count();
            let bound = (live as f64 * share) as usize;
            assert_trim_matches_one_at_a_time(&credits, bound);
        }
    }

    #[test]
    fn removals_leave_slots_behind_that_compaction_reclaims() {
        let mut mini = Mini::new(1_000, REUSE);
        for k in 0..1_000 {
            mini.request(hash(k));
        }
        for k in 0..900 {
            mini.remove(hash(k));
        }
        mini.validate().expect("consistent");
        for k in 5_000..6_000 {
            mini.request(hash(k));
        }
        mini.validate().expect("consistent");
        assert!(
            mini.left_behind() <= 64 + mini.len(),
            "{}",
            mini.left_behind()
        );
    }
}
