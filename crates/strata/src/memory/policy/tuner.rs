//! Choosing `Adaptive`'s setting by miniature simulation, once per cache.
//!
//! A tuner runs a few *miniature* caches (`Mini`): copies of the policy with
//! fixed settings, fed only the requests for a hashed sample of keys (one
//! key in `rate`) and sized `capacity / rate`. Spatial sampling of keys keeps
//! each key's reuse pattern intact, so a miniature cache's hit ratio tracks
//! the full cache's under the same setting (Waldspurger et al., *Cache
//! Modeling and Optimization using Miniature Simulations*, 2017). All
//! miniatures see the same requests, so comparing them measures the effect
//! of the setting alone: no workload drift between sample periods.
//!
//! Every epoch, each miniature's hits are added to a decaying score, and the
//! cache follows the best-scoring miniature's setting (moving its window
//! there gradually). The choice is published as one packed `u64` that every
//! shard reads at its next write.
//!
//! One tuner serves all of a cache's shards: its cost per sampled request is
//! six miniature requests, and one tuner sized by the whole cache
//! samples `shards` times fewer requests than a tuner per shard would.
//!
//! A read never does that work: it only queues its sampled hash (a
//! `try_lock` and a push), and the next write, once it has released its
//! shard, feeds the queue to the miniatures. Six miniature requests take a
//! microsecond or more, which in a read made one read in a few hundred
//! ten times slower than the rest: the cache's tail latency. Writes are
//! slow anyway, and this work holds no shard lock. When the queue is
//! full (a long run of reads without a write) or another thread holds it,
//! a sample is dropped rather than waited for: without writes nothing is
//! evicted, so the setting does not matter until writes come back, and
//! their samples with them.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crossbeam_utils::CachePadded;
use parking_lot::Mutex;

use super::adaptive::{Admission, Setting};
use super::mini::Mini;

/// The most sampled hashes waiting for a write to feed them to the
/// miniatures: 2 KiB. In a replay every miss writes, so a full queue needs
/// some 256 × `rate` hits in a row.
const QUEUE: usize = 256;

/// The settings tried: window fractions (from "one entry" to most of the
/// cache) with frequency admission and a large protected segment
/// (TinyLFU's), and with reuse admission and an even split of the main
/// region.
///
/// Why these six: each miniature costs a policy operation per sampled
/// request, the main cost of small caches' replay. Of the full grid (five
/// windows, 0 / 3 / 10 / 25 / 60%, under both rules), dropping the 10%
/// windows and reuse at 0% and 25% made replay 12% faster and lost no hit
/// ratio (6.73 points from OPT on average over six hash seeds, against
/// 6.72; on traces outside the reference set the mean hit ratio rose 0.1
/// point); every further drop lost at least 0.03 point.
const SETTINGS: [(f64, Admission, f64); 6] = [
    (0.0, Admission::Frequency, 0.8),
    (0.03, Admission::Frequency, 0.8),
    (0.25, Admission::Frequency, 0.8),
    (0.6, Admission::Frequency, 0.8),
    (0.03, Admission::Reuse, 0.5),
    (0.6, Admission::Reuse, 0.5),
];

fn settings() -> impl Iterator<Item = Setting> {
    SETTINGS
        .iter()
        .map(|&(window, admission, protected)| Setting {
            window,
            admission,
            protected,
        })
}

/// Even a small cache is simulated on a sample of one key in this many: a
/// whole-cache copy per setting made every request of a cache under 768
/// entries cost one policy operation more per setting. Sampling them too
/// halved that and did not lose hit ratio (6.77 against 6.85 points from
/// OPT on average over the reference traces, with ten settings; the small
/// rows moved both ways). One key in four lost 0.03–0.07 point with ten
/// settings, and more with six, because miniatures of under 128 entries
/// are too small to rank the settings; see [`MIN_SHADOW`].
const MIN_RATE: u64 = 2;

/// Caches large enough to sample one key in four with miniatures of this
/// many entries or more do so, rather than one in two.
///
/// Why: the half-size miniatures of caches of 512 to 1,279 entries cost
/// three policy operations per request, two thirds of such a cache's
/// replay (`w106` at 1,000 entries: 61% of the instructions). Quarter-size
/// ones halve that and rank the settings as well: over eight hash seeds the
/// reference rows were 6.665 points from OPT on average against 6.661,
/// with 12 seed-rows more than 0.5 point behind the best peer against 14.
/// Below 512 entries the quarter-size miniatures (under 128 entries) lost
/// 0.03 point on average, with `OLTP` at 256 down 0.2.
const MIN_SHADOW: u64 = 128;

/// Miniatures hold about this many entries (fewer only for smaller caches).
const SHADOW_ENTRIES: u64 = 256;
/// Where the tuner starts: the setting with the best average over the
/// reference traces when fixed (reuse admission, a 3% window). Short traces
/// are decided mostly by this start, before the tuner has seen enough.
const START: Setting = Setting {
    window: 0.03,
    admission: Admission::Reuse,
    protected: 0.5,
};
/// A miniature must beat the followed one by this share of its score to be
/// followed instead: every change costs hits while the segments reshape, so
/// near-ties are not worth it.
const MARGIN: f64 = 0.02;
/// From this sampling rate up, a switch must also lead by more than noise.
///
/// Why: the fewer of the keys the miniatures see, the more their scores
/// depend on which keys happened to be sampled, an error that lasts the
/// whole run. On the reference traces' large rows (one key in 128 to 512)
/// the tuner's switches cost hits: over eight hash seeds, P6 at 160,000
/// entries scored 83.79% ± 0.75 tuned (the worst seed 2.0 points below the
/// best) and P3 at 160,000 53.73% ± 0.34, where the setting fixed at
/// [`START`] scores 84.23% and 54.04% (± 0.04 over other seeds). At small
/// caches the miniatures see a good part of the traffic and their leads
/// are real.
///
/// So a switch at one key in 2^(`NOISY_SHIFT` + `z`) must also lead by `z`
/// standard deviations of the score difference (√(a + b) for counts of
/// hits): by one at one key in 128, three at one in 512. Over eight seeds
/// the reference rows moved from 6.76 to 6.73 points from OPT on average,
/// the large rows' spread fell under 0.05 point, and the rows of smaller
/// caches did not change. The test at every rate cost the small caches
/// their agility (6.86); a flat 1 or 2 standard deviations from one key in
/// 128 on gave 6.74 and 6.75.
const NOISY_SHIFT: u32 = 6;
/// The weight of the past in each score, per epoch.
const DECAY: f64 = 0.9;
/// The share of the distance to the chosen window covered per epoch: moving
/// the whole way at once would flush the segments on every change of mind.
///
/// The first move away from [`START`] is taken whole: the start is a guess
/// made before any evidence, and the first choice usually comes before the
/// cache is full, when reshaping the segments costs little. Pacing it too
/// left short traces and few-epoch runs most of their length at a window
/// nobody chose: whole first moves took the reference rows from 6.71 to
/// 6.66 points from OPT (hash seed 0; 6.74 to 6.73 averaged over four
/// seeds), with fewer rows short of the best peer on every seed (P6 at
/// 160,000 entries 84.02% to 84.28%, `sprite` at 1,000 90.01% to 90.18%).
/// Whole moves in the first two to six epochs did worse (6.68–6.71).
const PACE: f64 = 0.3;

/// One miniature and its score.
struct Shadow {
    mini: Mini,
    setting: Setting,
    hits: u64,
    score: f64,
}

struct State {
    shadows: Vec<Shadow>,
    /// Sampled requests per epoch, and how many this epoch has seen.
    epoch: u64,
    seen: u64,
    /// The window fraction the cache has now: it moves towards the chosen
    /// miniature's gradually.
    window: f64,
    /// Whether the window has left [`START`]'s (see [`PACE`]).
    moved: bool,
    /// The miniature currently followed.
    chosen: usize,
    /// How many standard deviations a leader's lead must exceed to be
    /// followed (see [`NOISY_SHIFT`]).
    noise: f64,
    /// The batch being fed, swapped with the queue (so neither allocates
    /// once grown).
    batch: Vec<u64>,
}

/// The tuner of one cache.
pub(crate) struct Tuner {
    /// A request is sampled when its mixed hash has these bits clear.
    mask: u64,
    /// The current setting, packed ([`Setting::pack`]).
    current: AtomicU64,
    /// What sampled reads write, on cache lines of its own: beside the two
    /// words above, which every operation reads, each sample would take
    /// their line from every other thread.
    samples: CachePadded<Samples>,
    state: CachePadded<Mutex<State>>,
}

/// Sampled hashes queued by reads for the next write.
struct Samples {
    /// Oldest first.
    queue: Mutex<Vec<u64>>,
    /// Whether any are queued: what a write checks without taking the lock.
    queued: AtomicBool,
}

impl std::fmt::Debug for Tuner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tuner")
            .field("rate", &(self.mask + 1))
            .field(
                "current",
                &Setting::unpack(self.current.load(Ordering::Relaxed)),
            )
            .finish_non_exhaustive()
    }
}

/// One key in how many the miniatures of a cache of `entries` see: enough
/// for miniatures of about [`SHADOW_ENTRIES`], and at least [`MIN_RATE`]
/// (or 4, for caches of `4 × MIN_SHADOW` entries or more).
fn sampling_rate(entries: u64) -> u64 {
    let rate = (entries / SHADOW_ENTRIES).max(1).next_power_of_two() / 2;
    let least = if entries >= 4 * MIN_SHADOW {
        4
    } else {
        MIN_RATE
    };
    rate.max(least)
}

impl Tuner {
    /// A tuner for a cache of about `entries` entries.
    pub(crate) fn new(entries: u64) -> Self {
        let entries = entries.max(1);
        let rate = sampling_rate(entries);
        let capacity = entries.div_ceil(rate);
        let shadows: Vec<Shadow> = settings()
            .map(|setting| Shadow {
                mini: Mini::new(capacity, setting),
                setting,
                hits: 0,
                score: 0.0,
            })
            .collect();
        let chosen = shadows
            .iter()
            .position(|s| s.setting == START)
            .unwrap_or_default();
        Self {
            mask: rate - 1,
            current: AtomicU64::new(START.pack()),
            state: CachePadded::new(Mutex::new(State {
                window: START.window,
                moved: false,
                shadows,
                epoch: capacity.max(64),
                seen: 0,
                chosen,
                batch: Vec::new(),
                noise: f64::from(rate.trailing_zeros().saturating_sub(NOISY_SHIFT)),
            })),
            samples: CachePadded::new(Samples {
                queue: Mutex::new(Vec::new()),
                queued: AtomicBool::new(false),
            }),
        }
    }

    /// The current setting, packed.
    #[inline]
    pub(crate) fn current(&self) -> u64 {
        self.current.load(Ordering::Relaxed)
    }

    /// Whether the request for `hash` is in the sample. The cache keeps
    /// the mask itself ([`samples`](Self::samples)); tests ask here.
    #[cfg(test)]
    pub(crate) fn wants(&self, hash: u64) -> bool {
        Self::samples(hash, self.mask)
    }

    /// The sampling mask [`samples`](Self::samples) takes for this tuner.
    pub(crate) fn mask(&self) -> u64 {
        self.mask
    }

    /// Whether `mask` samples the request for `hash`. The cache keeps the
    /// tuner's mask itself, so that a read need not reach the tuner to
    /// learn it is not sampled.
    #[inline(always)]
    pub(crate) fn samples(hash: u64, mask: u64) -> bool {
        // A different mix from the sketch's and the shard choice's, so
        // sampling is independent of both.
        (hash.wrapping_mul(0x94D0_49BB_1331_11EB) >> 40) & mask == 0
    }

    /// Queues one sampled request (a hit or a miss of the cache) for the
    /// miniatures; dropped if the queue is full or busy.
    #[inline]
    pub(crate) fn record(&self, hash: u64) {
        if let Some(mut queue) = self.samples.queue.try_lock()
            && queue.len() < QUEUE
        {
            queue.push(hash);
            // Stored only when it changes: a store takes the line from the
            // writers that check it.
            if !self.samples.queued.load(Ordering::Relaxed) {
                self.samples.queued.store(true, Ordering::Relaxed);
            }
        }
    }

    /// Whether requests are queued for [`feed`](Self::feed).
    #[inline]
    pub(crate) fn has_queued(&self) -> bool {
        self.samples.queued.load(Ordering::Relaxed)
    }

    /// Feeds the queued requests to the miniatures, in order, unless
    /// another thread is doing so. Call with no shard lock held.
    #[cold]
    pub(crate) fn feed(&self) {
        let Some(mut state) = self.state.try_lock() else {
            return;
        };
        let mut batch = std::mem::take(&mut state.batch);
        batch.clear();
        {
            let mut queue = self.samples.queue.lock();
            std::mem::swap(&mut *queue, &mut batch);
            self.samples.queued.store(false, Ordering::Relaxed);
        }
        for &hash in &batch {
            if let Some(setting) = state.request(hash) {
                self.current.store(setting.pack(), Ordering::Relaxed);
            }
        }
        state.batch = batch;
    }

    /// Queues and feeds one request at once.
    #[cfg(test)]
    fn observe(&self, hash: u64) {
        self.record(hash);
        self.feed();
    }
}

impl State {
    /// One sampled request for every miniature; the new setting if it
    /// ended an epoch.
    fn request(&mut self, hash: u64) -> Option<Setting> {
        for shadow in &mut self.shadows {
            if shadow.mini.request(hash) {
                shadow.hits += 1;
            }
        }
        self.seen += 1;
        if self.seen < self.epoch {
            return None;
        }
        self.seen = 0;
        Some(self.end_epoch())
    }

    /// Scores the epoch's hits, follows the best miniature if it leads by
    /// more than the margin, and moves the window part of the way to its
    /// size.
    fn end_epoch(&mut self) -> Setting {
        let mut best = (f64::MIN, 0);
        for (i, shadow) in self.shadows.iter_mut().enumerate() {
            shadow.score = shadow.score * DECAY + shadow.hits as f64;
            shadow.hits = 0;
            if shadow.score > best.0 {
                best = (shadow.score, i);
            }
        }
        let followed = self.shadows[self.chosen].score;
        if best.0 > followed * (1.0 + MARGIN)
            && best.0 - followed > self.noise * (best.0 + followed).sqrt()
        {
            self.chosen = best.1;
        }
        let target = self.shadows[self.chosen].setting.window;
        if target != self.window {
            let pace = if self.moved { PACE } else { 1.0 };
            self.window += (target - self.window) * pace;
            self.moved = true;
        }
        Setting {
            window: self.window,
            ..self.shadows[self.chosen].setting
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(key: u64) -> u64 {
        key.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (key << 7)
    }

    fn setting(t: &Tuner) -> Setting {
        Setting::unpack(t.current())
    }

    #[test]
    fn miniatures_hold_128_to_about_512_entries() {
        // Small caches: half-size miniatures below 512 entries, quarter-size
        // from there; larger caches: `SHADOW_ENTRIES` to a little over twice
        // that (the rate is a power of two).
        for (entries, rate) in [
            (1, 2),
            (511, 2),
            (512, 4),
            (1_279, 4),
            (1_280, 4),
            (2_304, 8),
            (20_000, 64),
            (160_000, 512),
        ] {
            assert_eq!(sampling_rate(entries), rate, "{entries} entries");
        }
        for entries in (512..200_000).step_by(97) {
            let shadow = entries / sampling_rate(entries);
            let most = 2 * SHADOW_ENTRIES + SHADOW_ENTRIES / 4;
            assert!((MIN_SHADOW..=most).contains(&shadow), "{entries}: {shadow}");
        }
    }

    #[test]
    fn a_loop_larger_than_the_cache_gets_the_smallest_window() {
        // 300 keys in a loop, room for 200: every window but the smallest
        // loses hits, so the tuner must settle on it.
        let t = Tuner::new(200);
        for i in 0..200_000u64 {
            let h = hash(i % 300);
            if t.wants(h) {
                t.observe(h);
            }
        }
        let s = setting(&t);
        assert!(s.window < 0.01, "{s:?}");
    }

    /// Feeds `keys` one sampled request at a time until the cache's window
    /// changes; returns the window before and after, or `None` if it never
    /// changed.
    fn until_the_window_moves(t: &Tuner, keys: impl Iterator<Item = u64>) -> Option<(f64, f64)> {
        let before = setting(t).window;
        for k in keys {
            let h = hash(k);
            if t.wants(h) {
                t.observe(h);
                let now = setting(t).window;
                if now != before {
                    return Some((before, now));
                }
            }
        }
        None
    }

    #[test]
    fn the_first_move_of_the_window_is_whole_and_later_ones_paced() {
        let t = Tuner::new(200);
        // A loop larger than the cache: the window leaves the start's 3%
        // for another setting's, all the way in one epoch.
        let looping = (0..200_000u64).map(|i| i % 300);
        let (from, to) = until_the_window_moves(&t, looping).expect("the window moved");
        assert!((from - START.window).abs() < 1e-6, "{from}");
        assert!(
            SETTINGS.iter().any(|&(w, ..)| (to - w).abs() < 1e-6),
            "first move only part of the way: {from} -> {to}"
        );
        // Then a recency workload (every key used twice, 100 new keys
        // apart) makes the tuner change its mind: the next move covers
        // only part of the distance, so it stops short of every setting's
        // window.
        let recency = (0..400_000u64)
            .flat_map(|i| [Some(i + 1_000_000), (i + 1_000_000).checked_sub(100)])
            .flatten();
        let (from, to) = until_the_window_moves(&t, recency).expect("the window moved again");
        assert!(
            SETTINGS.iter().all(|&(w, ..)| (to - w).abs() > 1e-3),
            "a later move went all the way: {from} -> {to}"
        );
    }

    /// Ends an epoch in which the miniature after the followed one scored
    /// `lead` more hits (of about 2,500); returns whether the tuner then
    /// follows it.
    fn follows_a_lead_of(t: &Tuner, lead: f64) -> bool {
        let mut state = t.state.lock();
        let followed = state.chosen;
        let other = (followed + 1) % state.shadows.len();
        for shadow in &mut state.shadows {
            shadow.score = 0.0;
            shadow.hits = 0;
        }
        state.shadows[followed].hits = 2_500;
        state.shadows[other].hits = 2_500 + lead as u64;
        state.end_epoch();
        state.chosen == other
    }

    #[test]
    fn a_large_cache_follows_only_leads_beyond_noise() {
        // 200,000 entries: one key in 512 sampled, so a lead must exceed
        // three standard deviations, √(2 × 2,500) × 3 ≈ 212 hits.
        let large = Tuner::new(200_000);
        assert_eq!(large.mask + 1, 512);
        assert!(
            !follows_a_lead_of(&large, 150.0),
            "followed a lead within noise"
        );
        assert!(
            follows_a_lead_of(&large, 250.0),
            "ignored a lead beyond noise"
        );
        // A small cache's miniatures see half the keys: the 2% margin
        // alone decides.
        let small = Tuner::new(1_000);
        assert!(follows_a_lead_of(&small, 60.0));
    }

    /// Feeds the tuner of a cache of `entries` a recency workload: keys
    /// `0..keys`, each used twice, `gap` new keys apart, and never again.
    /// Returns the setting after.
    fn after_recency(entries: u64, keys: u64, gap: u64) -> Setting {
        let t = Tuner::new(entries);
        for i in 0..keys {
            for k in [Some(i), i.checked_sub(gap)].into_iter().flatten() {
                if t.wants(hash(k)) {
                    t.observe(hash(k));
                }
            }
        }
        setting(&t)
    }

    #[test]
    fn a_recency_workload_gets_a_large_window() {
        // A key leaving a small window has no history to earn a place, so
        // only a window holding 250 keys hits.
        let s = after_recency(1_000, 200_000, 250);
        assert!(s.window >= 0.2, "{s:?}");
    }

    #[test]
    fn a_large_cache_still_leaves_its_start_for_a_clear_winner() {
        // The same at 100,000 entries (one key in 256 sampled), 25,000 keys
        // apart: only a window that holds them hits, a lead no noise
        // explains.
        let s = after_recency(100_000, 1_000_000, 25_000);
        assert!(s.window >= 0.2, "{s:?}");
    }
}
