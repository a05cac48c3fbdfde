//! `Adaptive`: W-TinyLFU with reuse-aware admission and a window tuned by
//! miniature simulation; the default policy.
//!
//! Entries live in four segments per priority class:
//!
//! * **window** — an LRU that admits every new entry, so a key written is
//!   readable at once, and recency-driven workloads get a recency cache;
//! * **candidates** — entries pushed out of the window, waiting for a place
//!   in the main region;
//! * **probation** and **protected** — the main region, a segmented LRU: an
//!   entry hit in probation moves to protected (bounded by a share of the
//!   main region); protected's overflow drops back to probation.
//!
//! When room is needed, the oldest candidate duels probation's least recent
//! entry. Under [`Admission::Frequency`] the more frequently used one stays,
//! by a 4-bit count-min sketch that halves itself every `20 × capacity`
//! uses. Under [`Admission::Reuse`], a candidate whose reuse interval is
//! known (it was used twice, or it returned soon after leaving, which a
//! small [`History`] of departed keys tells) stays if that interval is
//! shorter than the time since the victim was last used; otherwise the
//! frequencies decide. Ties go against the candidate. So a scan or a loop
//! larger than the cache passes through the window and out without
//! displacing the established working set. While the cache is not yet full,
//! candidates are admitted without a duel.
//!
//! The [`Tuner`] picks the setting (window size, admission rule, protected
//! share) by running miniature copies of this policy on a sample of the
//! keys, one per setting, and following the best.
//!
//! Sizes are counted in entries, or in weight when the cache is bounded by
//! weight. The capacity is the shard's share of the cache's bound.

use super::history::History;
use super::list::{Link, Linked, List};
use super::sketch::Sketch;
use super::tuner::Tuner;
use super::{EvictionPolicy, Facts, Sizing, ensure_slot};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Segment {
    Window = 0,
    Candidate = 1,
    Probation = 2,
    Protected = 3,
}

const SEGMENTS: [Segment; 4] = [
    Segment::Window,
    Segment::Candidate,
    Segment::Probation,
    Segment::Protected,
];

#[derive(Debug, Clone, Copy)]
struct Node {
    link: Link,
    hash: u64,
    priority: i32,
    units: u32,
    segment: Option<Segment>,
    /// Logical time of the last access.
    last: u64,
    /// The last interval between two uses (`UNKNOWN` until there is one).
    irr: u64,
    /// Its segment's push count when it was pushed to that segment's
    /// front: how far it is from the front is the count now minus this.
    placed: u32,
}

const EMPTY_NODE: Node = Node {
    link: Link::NONE,
    hash: 0,
    priority: 0,
    units: 0,
    segment: None,
    last: 0,
    irr: UNKNOWN,
    placed: 0,
};

/// An interval not yet observed.
const UNKNOWN: u64 = u64::MAX;

impl Linked for Node {
    fn link(&self) -> Link {
        self.link
    }
    fn link_mut(&mut self) -> &mut Link {
        &mut self.link
    }
}

/// The four segments of one priority class.
#[derive(Debug, Clone)]
struct Class {
    priority: i32,
    lists: [List; 4],
    units: [u64; 4],
    /// Pushes to the front of each segment so far (wrapping).
    pushes: [u32; 4],
}

impl Class {
    fn new(priority: i32) -> Self {
        Self {
            priority,
            lists: [List::default(); 4],
            units: [0; 4],
            pushes: [0; 4],
        }
    }

    fn is_empty(&self) -> bool {
        self.lists.iter().all(List::is_empty)
    }
}

/// How a candidate leaving the window is judged against its victim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// TinyLFU: the candidate stays only if the sketch says it is used more
    /// often than the victim.
    Frequency,
    /// By reuse interval when the candidate's is known (it was used twice
    /// while in the window, or it returned soon after leaving the cache): it
    /// stays if that interval is shorter than the time since the victim's
    /// last use, as LIRS would judge it. Otherwise by frequency.
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

/// In a shard sized for at least `LARGE` entries, a read moves an entry to
/// its segment's front only if it is past the first `1 / RECENT_DIVISOR`
/// of it; see `Adaptive::is_recent`.
const RECENT_DIVISOR: usize = 2;

/// The shard size from which reads skip moves of recent entries. Below it
/// the policy's nodes (48 bytes each) fit in a core's L2 cache, a move
/// costs no cache miss, and exact LRU order is kept: on the small reference
/// rows (`sprite`, `multi2`, `OLTP`) skipping cost up to half a point.
const LARGE: u64 = 8_192;

/// How long departed keys are remembered, as a multiple of the capacity.
const HISTORY_FACTOR: f64 = 1.0;

#[derive(Debug)]
pub(crate) struct Adaptive {
    nodes: Vec<Node>,
    /// Non-empty classes, by ascending priority. Usually one.
    classes: Vec<Class>,
    sketch: Sketch,
    /// Chooses the setting; `None` when it is fixed (the tuner's shadows).
    tuner: Option<Box<Tuner>>,
    /// The window's size, in capacity units (at least 1).
    window: u64,
    admission: Admission,
    /// The protected segment's bound, in capacity units.
    protected: u64,
    sizing: Sizing,
    units: u64,
    len: usize,
    /// Logical time: one tick per insert or read.
    clock: u64,
    /// Whether reads leave recent entries in place (`is_recent`).
    lazy: bool,
    history: History,
}

impl Adaptive {
    pub(crate) fn new(sizing: Sizing) -> Self {
        let tuner = Tuner::new(sizing.entries);
        let setting = tuner.setting();
        let mut policy = Self::fixed(sizing, setting);
        policy.tuner = Some(Box::new(tuner));
        policy
    }

    /// A policy whose setting never changes (the tuner's shadows).
    pub(crate) fn fixed(sizing: Sizing, setting: Setting) -> Self {
        let history = (sizing.entries as f64 * HISTORY_FACTOR) as usize;
        let mut policy = Self {
            nodes: Vec::new(),
            classes: Vec::new(),
            sketch: Sketch::new(sizing.entries),
            tuner: None,
            window: 1,
            admission: setting.admission,
            protected: 0,
            sizing,
            units: 0,
            len: 0,
            clock: 0,
            lazy: sizing.entries >= LARGE,
            history: History::new(history),
        };
        policy.apply(setting);
        policy
    }

    fn apply(&mut self, setting: Setting) {
        let capacity = self.sizing.capacity as f64;
        self.window = ((capacity * setting.window).round() as u64).max(1);
        self.admission = setting.admission;
        let main = self.sizing.capacity.saturating_sub(self.window);
        self.protected = (main as f64 * setting.protected) as u64;
    }

    /// Tells the tuner about one request.
    #[inline]
    fn observe(&mut self, hash: u64) {
        if let Some(tuner) = &mut self.tuner
            && let Some(setting) = tuner.observe(hash)
        {
            self.apply(setting);
            self.shrink_window();
        }
    }

    /// Hands what a smaller window no longer holds to probation, oldest
    /// first, as Caffeine does when its climber shrinks the window.
    ///
    /// Why not let `rebalance` queue them as candidates: each eviction
    /// settles one candidate and each insert queues one, so a queue that
    /// grew by the window's shrinkage would never drain; it would act as a
    /// second, untuned window for the rest of the run. (Left that way, one
    /// spell of a large window cost P3 at 20,000 entries three points.)
    fn shrink_window(&mut self) {
        let w = Segment::Window as usize;
        for at in 0..self.classes.len() {
            loop {
                // Moving between segments never empties a class, so `at`
                // stays valid.
                let class = &self.classes[at];
                if class.units[w] <= self.window || class.lists[w].len <= 1 {
                    break;
                }
                let Some(oldest) = class.lists[w].back() else {
                    break;
                };
                self.move_to(oldest, Segment::Probation);
            }
        }
    }

    fn units_of(&self, facts: &Facts) -> u32 {
        if self.sizing.by_weight {
            facts.weight
        } else {
            1
        }
    }

    fn class_at(&mut self, priority: i32) -> usize {
        match self.classes.binary_search_by_key(&priority, |c| c.priority) {
            Ok(at) => at,
            Err(at) => {
                self.classes.insert(at, Class::new(priority));
                at
            }
        }
    }

    /// Links `slot` into `segment` of its class: at the front (most recent)
    /// or, for candidates, at the back of the queue.
    fn attach(&mut self, slot: u32, segment: Segment) {
        let node = self.nodes[slot as usize];
        let at = self.class_at(node.priority);
        let class = &mut self.classes[at];
        if segment == Segment::Candidate {
            class.lists[segment as usize].push_back(&mut self.nodes, slot);
        } else {
            class.lists[segment as usize].push_front(&mut self.nodes, slot);
            let pushes = &mut class.pushes[segment as usize];
            self.nodes[slot as usize].placed = *pushes;
            *pushes = pushes.wrapping_add(1);
        }
        class.units[segment as usize] += u64::from(node.units);
        self.nodes[slot as usize].segment = Some(segment);
        self.units += u64::from(node.units);
        self.len += 1;
    }

    /// Unlinks `slot`, dropping its class if that empties it.
    fn detach(&mut self, slot: u32) -> Option<Segment> {
        let node = *self.nodes.get(slot as usize)?;
        let segment = node.segment?;
        let at = self
            .classes
            .binary_search_by_key(&node.priority, |c| c.priority)
            .ok()?;
        let class = &mut self.classes[at];
        class.lists[segment as usize].unlink(&mut self.nodes, slot);
        class.units[segment as usize] -= u64::from(node.units);
        if class.is_empty() {
            self.classes.remove(at);
        }
        self.nodes[slot as usize].segment = None;
        self.units -= u64::from(node.units);
        self.len -= 1;
        Some(segment)
    }

    fn move_to(&mut self, slot: u32, segment: Segment) {
        self.detach(slot);
        self.attach(slot, segment);
    }

    /// Restores the segment bounds of the class of `priority`: window
    /// overflow goes to the candidates (or straight to probation while the
    /// cache has room), protected overflow back to probation.
    fn rebalance(&mut self, priority: i32) {
        let window_max = self.window;
        let protected_max = self.protected;
        loop {
            let Ok(at) = self.classes.binary_search_by_key(&priority, |c| c.priority) else {
                return;
            };
            let class = &self.classes[at];
            let w = Segment::Window as usize;
            let p = Segment::Protected as usize;
            if class.units[w] > window_max && class.lists[w].len > 1 {
                let Some(oldest) = class.lists[w].back() else {
                    return;
                };
                let room = self.units <= self.sizing.capacity;
                self.move_to(
                    oldest,
                    if room {
                        Segment::Probation
                    } else {
                        Segment::Candidate
                    },
                );
            } else if class.units[p] > protected_max {
                let Some(oldest) = class.lists[p].back() else {
                    return;
                };
                self.move_to(oldest, Segment::Probation);
            } else {
                return;
            }
        }
    }

    /// While the cache has room, waiting candidates are admitted.
    fn admit_candidates(&mut self) {
        for at in 0..self.classes.len() {
            while self.units <= self.sizing.capacity {
                let Some(class) = self.classes.get(at) else {
                    return;
                };
                let Some(first) = class.lists[Segment::Candidate as usize].front() else {
                    break;
                };
                self.move_to(first, Segment::Probation);
            }
        }
    }

    /// Whether `slot`, in `segment`, is still in the front part of it, so
    /// that a read need not move it to the front.
    ///
    /// Why: moving an entry to the front unlinks and relinks it, touching
    /// its two neighbours and the old front, each a likely cache miss in a
    /// large cache; that was most of the cost of a hit. An entry pushed to
    /// the front less than `len / RECENT_DIVISOR` pushes ago is left where
    /// it is, so a hot key moves about once per that many pushes instead
    /// of on every read. Its place is then at most that far from where
    /// exact LRU would put it. Deferring every move instead (a read mark
    /// acted on at the segment's end, as CLOCK does) cost 0.23 point of
    /// distance to OPT on the reference traces, 0.9 on `sprite`.
    fn is_recent(&self, slot: u32, segment: Segment) -> bool {
        if !self.lazy {
            return false;
        }
        let node = &self.nodes[slot as usize];
        let Ok(at) = self
            .classes
            .binary_search_by_key(&node.priority, |c| c.priority)
        else {
            return false;
        };
        let class = &self.classes[at];
        let age = class.pushes[segment as usize].wrapping_sub(node.placed);
        (age as usize) < class.lists[segment as usize].len / RECENT_DIVISOR
    }

    /// The duel of a class: (candidate, victim), skipping `skip`.
    fn duelists(&self, class: &Class, skip: Option<u32>) -> (Option<u32>, Option<u32>) {
        let oldest = |segment: Segment| {
            let list = &class.lists[segment as usize];
            let back = list.back()?;
            if Some(back) != skip {
                return Some(back);
            }
            let before = self.nodes[back as usize].link.prev;
            (before != super::list::NIL).then_some(before)
        };
        let candidates = &class.lists[Segment::Candidate as usize];
        let candidate = candidates.front().and_then(|first| {
            if Some(first) != skip {
                return Some(first);
            }
            let after = self.nodes[first as usize].link.next;
            (after != super::list::NIL).then_some(after)
        });
        let victim = oldest(Segment::Probation)
            .or_else(|| oldest(Segment::Protected))
            .or_else(|| oldest(Segment::Window));
        (candidate, victim)
    }

    fn frequency(&self, slot: u32) -> u8 {
        self.sketch.frequency(self.nodes[slot as usize].hash)
    }

    /// Whether `candidate` wins its duel against `victim`. Ties go against
    /// the candidate: an unproven key must not displace an equal.
    fn admits(&self, candidate: u32, victim: u32) -> bool {
        let c = &self.nodes[candidate as usize];
        if self.admission == Admission::Reuse && c.irr != UNKNOWN {
            let idle = self.clock - self.nodes[victim as usize].last;
            return c.irr < idle;
        }
        self.frequency(candidate) > self.frequency(victim)
    }
}

impl EvictionPolicy for Adaptive {
    fn insert(&mut self, slot: u32, facts: &Facts) {
        ensure_slot(&mut self.nodes, slot, EMPTY_NODE);
        self.detach(slot);
        self.clock += 1;
        let irr = self
            .history
            .last_use(facts.hash)
            .map_or(UNKNOWN, |t| self.clock - t);
        self.nodes[slot as usize] = Node {
            hash: facts.hash,
            priority: facts.priority,
            units: self.units_of(facts),
            last: self.clock,
            irr,
            ..EMPTY_NODE
        };
        self.sketch.increment(facts.hash);
        self.observe(facts.hash);
        self.attach(slot, Segment::Window);
        self.admit_candidates();
        self.rebalance(facts.priority);
    }

    fn update(&mut self, slot: u32, facts: &Facts) {
        // An overwrite is a use; its priority or weight may have changed.
        let segment = self.detach(slot).unwrap_or(Segment::Window);
        let node = &mut self.nodes[slot as usize];
        node.priority = facts.priority;
        node.units = if self.sizing.by_weight {
            facts.weight
        } else {
            1
        };
        self.sketch.increment(facts.hash);
        let next = match segment {
            Segment::Window => Segment::Window,
            _ => Segment::Protected,
        };
        self.attach(slot, next);
        self.rebalance(facts.priority);
    }

    fn access(&mut self, slot: u32, facts: &Facts) {
        self.clock += 1;
        {
            let node = &mut self.nodes[slot as usize];
            node.irr = self.clock - node.last;
            node.last = self.clock;
        }
        self.sketch.increment(facts.hash);
        self.observe(facts.hash);
        let Some(segment) = self.nodes[slot as usize].segment else {
            return;
        };
        let next = match segment {
            Segment::Window | Segment::Protected if self.is_recent(slot, segment) => return,
            Segment::Window => Segment::Window,
            // A hit while on probation, or while waiting, earns protection.
            Segment::Candidate | Segment::Probation | Segment::Protected => Segment::Protected,
        };
        self.move_to(slot, next);
        if next == Segment::Protected && segment != Segment::Protected {
            self.rebalance(facts.priority);
        }
    }

    fn remove(&mut self, slot: u32) {
        self.detach(slot);
    }

    fn evict(&mut self, slot: u32) {
        let node = self.nodes[slot as usize];
        self.history.push(node.hash, node.last);
        // If this is a duel's victim, its candidate won: admit it.
        if let Some(class) = self.classes.first()
            && let (Some(candidate), Some(victim)) = self.duelists(class, None)
            && victim == slot
            && candidate != slot
        {
            self.move_to(candidate, Segment::Probation);
        }
        self.detach(slot);
    }

    fn victim(&self, skip: Option<u32>) -> Option<u32> {
        self.classes
            .iter()
            .find_map(|class| match self.duelists(class, skip) {
                (Some(c), Some(v)) if c != v => Some(if self.admits(c, v) { v } else { c }),
                (c, v) => c.or(v),
            })
    }

    fn min_priority(&self) -> Option<i32> {
        self.classes.first().map(|c| c.priority)
    }

    fn clear(&mut self) {
        self.nodes.clear();
        self.classes.clear();
        self.sketch.clear();
        self.history.clear();
        if let Some(tuner) = &mut self.tuner {
            **tuner = Tuner::new(self.sizing.entries);
            let setting = tuner.setting();
            self.apply(setting);
        }
        self.units = 0;
        self.len = 0;
    }

    fn len(&self) -> usize {
        self.len
    }

    fn validate(&self, resident: &[u32]) -> Result<(), String> {
        let (mut len, mut units) = (0usize, 0u64);
        for pair in self.classes.windows(2) {
            if pair[0].priority >= pair[1].priority {
                return Err("adaptive: classes out of order".into());
            }
        }
        for class in &self.classes {
            if class.is_empty() {
                return Err(format!("adaptive: empty class {} kept", class.priority));
            }
            for segment in SEGMENTS {
                let slots = class.lists[segment as usize]
                    .walk(&self.nodes)
                    .map_err(|e| format!("adaptive {segment:?}: {e}"))?;
                let mut sum = 0u64;
                for slot in &slots {
                    let node = self.nodes[*slot as usize];
                    if node.segment != Some(segment) || node.priority != class.priority {
                        return Err(format!("adaptive: slot {slot} misfiled in {segment:?}"));
                    }
                    sum += u64::from(node.units);
                }
                if sum != class.units[segment as usize] {
                    return Err(format!(
                        "adaptive: {segment:?} units {sum} != {}",
                        class.units[segment as usize]
                    ));
                }
                len += slots.len();
                units += sum;
            }
        }
        if len != self.len || units != self.units || len != resident.len() {
            return Err(format!(
                "adaptive: {len} linked ({}), {units} units ({}), {} resident",
                self.len,
                self.units,
                resident.len()
            ));
        }
        match resident.iter().find(|&&s| {
            self.nodes
                .get(s as usize)
                .is_none_or(|n| n.segment.is_none())
        }) {
            Some(slot) => Err(format!("adaptive: resident slot {slot} not linked")),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(key: u64) -> Facts {
        Facts::plain(key.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    /// Runs the replay protocol over `keys` with room for `capacity`.
    fn replay(keys: &[u64], capacity: u64) -> u64 {
        let mut p = Adaptive::new(Sizing::entries(capacity));
        let mut slots: hashbrown::HashMap<u64, u32> = hashbrown::HashMap::new();
        let mut free: Vec<u32> = Vec::new();
        let mut hits = 0;
        for &k in keys {
            if let Some(&slot) = slots.get(&k) {
                p.access(slot, &facts(k));
                hits += 1;
                continue;
            }
            let slot = free.pop().unwrap_or(slots.len() as u32 + free.len() as u32);
            slots.insert(k, slot);
            p.insert(slot, &facts(k));
            while slots.len() as u64 > capacity {
                let victim = p.victim(Some(slot)).expect("over capacity, so not empty");
                p.evict(victim);
                let key = *slots
                    .iter()
                    .find(|(_, s)| **s == victim)
                    .expect("tracked")
                    .0;
                slots.remove(&key);
                free.push(victim);
            }
            let resident: Vec<u32> = slots.values().copied().collect();
            p.validate(&resident).expect("consistent");
        }
        hits
    }

    #[test]
    fn a_loop_larger_than_the_cache_still_hits_on_what_stays() {
        // 120 keys in a loop, room for 100: LRU never hits; a frequency
        // filter keeps most of the loop resident.
        let keys: Vec<u64> = (0..6_000).map(|i| i % 120).collect();
        let hits = replay(&keys, 100);
        assert!(hits > 3_000, "{hits} hits");
    }

    #[test]
    fn a_shrinking_window_leaves_no_standing_queue_of_candidates() {
        let large = Setting {
            window: 0.8,
            admission: Admission::Frequency,
            protected: 0.8,
        };
        let mut p = Adaptive::fixed(Sizing::entries(100), large);
        for key in 0..100u32 {
            p.insert(key, &facts(u64::from(key)));
        }
        p.apply(Setting {
            window: 0.0,
            ..large
        });
        p.shrink_window();
        let waiting = |p: &Adaptive| p.classes[0].lists[Segment::Candidate as usize].len;
        for key in 100..300u32 {
            p.insert(key, &facts(u64::from(key)));
            while p.len() > 100 {
                let victim = p.victim(Some(key)).expect("over capacity");
                p.evict(victim);
            }
            // Each insert queues one candidate and its eviction settles it.
            assert_eq!(waiting(&p), 0, "after key {key}");
        }
    }

    /// Fills a window-only policy of `capacity` entries: window share 1, so
    /// every entry stays in the window, slot `i` pushed `i`-th.
    fn window_of(capacity: u32) -> Adaptive {
        let all_window = Setting {
            window: 1.0,
            admission: Admission::Frequency,
            protected: 0.8,
        };
        let mut p = Adaptive::fixed(Sizing::entries(u64::from(capacity)), all_window);
        for slot in 0..capacity {
            p.insert(slot, &facts(u64::from(slot)));
        }
        p
    }

    fn front(p: &Adaptive) -> Option<u32> {
        p.classes[0].lists[Segment::Window as usize].front()
    }

    #[test]
    fn in_a_large_shard_a_read_moves_only_entries_past_the_front_part() {
        let n = LARGE as u32;
        let mut p = window_of(n);
        // The newest entries are within the front half: left in place.
        p.access(n - 2, &facts(u64::from(n - 2)));
        assert_eq!(front(&p), Some(n - 1));
        // The oldest is past it: moved to the front, as LRU would.
        p.access(0, &facts(0));
        assert_eq!(front(&p), Some(0));
        p.validate(&(0..n).collect::<Vec<_>>()).expect("consistent");
    }

    #[test]
    fn in_a_small_shard_every_read_moves_its_entry_to_the_front() {
        let mut p = window_of(100);
        p.access(98, &facts(98));
        assert_eq!(front(&p), Some(98));
    }

    #[test]
    fn a_scan_does_not_flush_the_working_set() {
        let mut keys: Vec<u64> = Vec::new();
        for round in 0..30u64 {
            keys.extend(0..50); // the working set
            keys.extend((0..200).map(|i| 1_000_000 + round * 1_000 + i)); // a one-time scan
        }
        let hits = replay(&keys, 100);
        // After the first round, the 50 hot keys should almost always hit.
        assert!(hits >= 29 * 45, "{hits} hits");
    }
}
