//! Window tuning for `Adaptive` by miniature simulation.
//!
//! A tuner runs a few *shadow* caches: miniature `Adaptive` caches with fixed
//! window sizes, fed only the requests for a hashed sample of keys (one key
//! in `rate`) and sized `capacity / rate`. Spatial sampling of keys keeps
//! each key's reuse pattern intact, so a miniature cache's hit ratio tracks
//! the full cache's at the same window fraction (Waldspurger et al.,
//! *Cache Modeling and Optimization using Miniature Simulations*, 2017).
//! All shadows see the same requests, so comparing them measures the effect
//! of the window alone: no workload drift between sample periods.
//!
//! Every epoch, each shadow's hits are added to a decaying score, and the
//! main cache takes the window fraction of the best-scoring shadow.

use hashbrown::HashMap;

use super::adaptive::{Adaptive, Admission, Setting};
use super::{EvictionPolicy, Facts, Sizing};

/// The window fractions tried, from "one entry" to most of the cache.
const FRACTIONS: [f64; 5] = [0.0, 0.03, 0.2, 0.4, 0.8];

/// The settings tried: each window fraction with frequency admission and a
/// large protected segment (TinyLFU's), and with reuse admission and an even
/// split of the main region.
fn settings() -> impl Iterator<Item = Setting> {
    let frequency = FRACTIONS.iter().map(|&window| Setting {
        window,
        admission: Admission::Frequency,
        protected: 0.8,
    });
    let reuse = FRACTIONS.iter().map(|&window| Setting {
        window,
        admission: Admission::Reuse,
        protected: 0.5,
    });
    frequency.chain(reuse)
}

/// Shadows hold about this many entries (fewer only for smaller caches).
/// Larger shadows did not choose better on the reference traces (1,024 and
/// 4,096 were tried on P3) and cost more per sampled request.
const SHADOW_ENTRIES: u64 = 256;
/// Where the tuner starts: the setting with the best average over the
/// reference traces when fixed (reuse admission, a 3% window). Short traces
/// are decided mostly by this start, before the tuner has seen enough.
const START: usize = FRACTIONS.len() + 1;
/// A shadow must beat the followed one by this share of its score to be
/// followed instead: every change costs hits while the segments reshape, so
/// near-ties are not worth it.
const MARGIN: f64 = 0.02;
/// The weight of the past in each score, per epoch.
const DECAY: f64 = 0.9;
/// The share of the distance to the chosen window covered per epoch: moving
/// the whole way at once would flush the segments on every change of mind.
const PACE: f64 = 0.3;

/// One miniature cache.
#[derive(Debug)]
struct Shadow {
    policy: Adaptive,
    setting: Setting,
    slots: HashMap<u64, u32>,
    hashes: Vec<u64>,
    free: Vec<u32>,
    capacity: u64,
    hits: u64,
    score: f64,
}

impl Shadow {
    fn new(capacity: u64, setting: Setting) -> Self {
        Self {
            policy: Adaptive::fixed(Sizing::entries(capacity), setting),
            setting,
            slots: HashMap::with_capacity(capacity as usize + 1),
            hashes: Vec::new(),
            free: Vec::new(),
            capacity,
            hits: 0,
            score: 0.0,
        }
    }

    /// Replays one request by the simulator's protocol.
    fn request(&mut self, hash: u64) {
        if let Some(&slot) = self.slots.get(&hash) {
            self.policy.access(slot, &Facts::plain(hash));
            self.hits += 1;
            return;
        }
        let slot = self.free.pop().unwrap_or_else(|| {
            self.hashes.push(0);
            (self.hashes.len() - 1) as u32
        });
        self.hashes[slot as usize] = hash;
        self.slots.insert(hash, slot);
        self.policy.insert(slot, &Facts::plain(hash));
        while self.slots.len() as u64 > self.capacity {
            let Some(victim) = self.policy.victim(Some(slot)) else {
                break;
            };
            self.policy.evict(victim);
            self.slots.remove(&self.hashes[victim as usize]);
            self.free.push(victim);
        }
    }
}

#[derive(Debug)]
pub(crate) struct Tuner {
    shadows: Vec<Shadow>,
    /// One key in `rate` is sampled (a power of two).
    rate: u64,
    /// Sampled requests per epoch, and how many this epoch has seen.
    epoch: u64,
    seen: u64,
    /// The window fraction the main cache has now: it moves towards the
    /// chosen shadow's gradually.
    window: f64,
    /// The shadow currently followed.
    chosen: usize,
}

impl Tuner {
    pub(crate) fn new(capacity: u64) -> Self {
        let capacity = capacity.max(1);
        let rate = (capacity / SHADOW_ENTRIES).max(1).next_power_of_two() / 2;
        let rate = rate.max(1);
        let shadow_capacity = capacity.div_ceil(rate);
        let shadows: Vec<Shadow> = settings()
            .map(|setting| Shadow::new(shadow_capacity, setting))
            .collect();
        let chosen = START;
        Self {
            window: shadows[chosen].setting.window,
            shadows,
            rate,
            epoch: shadow_capacity.max(64),
            seen: 0,
            chosen,
        }
    }

    /// The setting the main cache should have now.
    pub(crate) fn setting(&self) -> Setting {
        Setting {
            window: self.window,
            ..self.shadows[self.chosen].setting
        }
    }

    /// Observes one request (a hit or a miss of the main cache); returns the
    /// new setting when it changes.
    #[inline]
    pub(crate) fn observe(&mut self, hash: u64) -> Option<Setting> {
        // A different mix from the sketch's, so sampling and counting are
        // independent.
        let sampled = (hash.wrapping_mul(0x94D0_49BB_1331_11EB) >> 40) & (self.rate - 1) == 0;
        if !sampled {
            return None;
        }
        for shadow in &mut self.shadows {
            shadow.request(hash);
        }
        self.seen += 1;
        if self.seen < self.epoch {
            return None;
        }
        self.seen = 0;
        self.end_epoch();
        Some(self.setting())
    }

    /// Scores the epoch's hits, follows the best shadow if it leads by more
    /// than the margin, and moves the window part of the way to its size.
    fn end_epoch(&mut self) {
        let mut best = (f64::MIN, 0);
        for (i, shadow) in self.shadows.iter_mut().enumerate() {
            shadow.score = shadow.score * DECAY + shadow.hits as f64;
            shadow.hits = 0;
            if shadow.score > best.0 {
                best = (shadow.score, i);
            }
        }
        if best.0 > self.shadows[self.chosen].score * (1.0 + MARGIN) {
            self.chosen = best.1;
        }
        let target = self.shadows[self.chosen].setting.window;
        self.window += (target - self.window) * PACE;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(key: u64) -> u64 {
        key.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (key << 7)
    }

    #[test]
    fn a_loop_larger_than_the_cache_gets_the_smallest_window() {
        // 300 keys in a loop, room for 200: every window but the smallest
        // loses hits, so the tuner must settle on it.
        let mut t = Tuner::new(200);
        for i in 0..200_000u64 {
            t.observe(hash(i % 300));
        }
        let s = t.setting();
        assert!(s.window < 0.01, "{s:?}");
    }

    #[test]
    fn a_recency_workload_gets_a_large_window() {
        // Every key is used twice, 250 new keys apart, and never again: a
        // key leaving a small window has no history to earn a place, so only
        // a window holding 250 keys hits.
        let mut t = Tuner::new(1_000);
        for i in 0..200_000u64 {
            t.observe(hash(i));
            if i >= 250 {
                t.observe(hash(i - 250));
            }
        }
        let s = t.setting();
        assert!(s.window >= 0.2, "{s:?}");
    }
}
