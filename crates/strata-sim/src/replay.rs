//! Replaying a trace through a cache, by the protocol of
//! `../shared/traces/README.md`: every request is `get(key)`; on a miss,
//! `insert(key)`. Capacity is in entries; every entry weighs 1.

use std::time::{Duration, Instant};

use strata::{MemoryCache, Policy};

use crate::error::SimError;

/// A cache the simulator can drive.
pub trait Replayable {
    /// Serves one request; returns whether it hit.
    fn request(&mut self, key: u64) -> bool;
}

/// A Strata [`MemoryCache`] — the production code, with one shard so the
/// eviction order is exactly the policy's, stats off, and a fixed hash seed
/// so that replays are reproducible.
pub struct StrataCache(MemoryCache<u64, ()>);

impl StrataCache {
    /// A cache of `capacity` entries under `policy`, hash seed 0.
    ///
    /// # Errors
    /// [`SimError::Cache`] if the cache cannot be built (capacity 0).
    pub fn new(policy: Policy, capacity: u64) -> Result<Self, SimError> {
        Self::with_hash_seed(policy, capacity, 0)
    }

    /// [`new`](Self::new) with hash seed `seed`. The seed decides which
    /// keys the `Adaptive` tuner samples and where keys meet in its sketch
    /// and history, so a policy's hit ratio can move with it; replaying
    /// under several seeds shows by how much.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn with_hash_seed(policy: Policy, capacity: u64, seed: u64) -> Result<Self, SimError> {
        MemoryCache::builder()
            .max_entries(capacity)
            .policy(policy)
            .shards(1)
            .stats(false)
            // A fixed seed makes every replay reproducible.
            .hash_seed(seed)
            .build()
            .map(Self)
            .map_err(|e| SimError::Cache {
                capacity,
                message: e.to_string(),
            })
    }
}

impl Replayable for StrataCache {
    fn request(&mut self, key: u64) -> bool {
        if self.0.get(&key).is_some() {
            return true;
        }
        // Weight 1 against a capacity of at least 1: cannot be refused.
        let _ = self.0.insert(key, ());
        false
    }
}

/// What one replay measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    /// Requests that hit.
    pub hits: u64,
    /// Requests replayed.
    pub requests: u64,
    /// Wall time of the replay.
    pub elapsed: Duration,
}

impl Outcome {
    /// Hits per request, in percent.
    pub fn hit_ratio(&self) -> f64 {
        100.0 * self.hits as f64 / self.requests.max(1) as f64
    }

    /// Requests per second.
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// How many requests pass between progress reports.
pub const PROGRESS_STEP: usize = 1 << 16;

/// Replays `keys` through `cache`, calling `progress` with the number of
/// requests done every [`PROGRESS_STEP`] requests.
pub fn replay(cache: &mut dyn Replayable, keys: &[u64], progress: &mut dyn FnMut(u64)) -> Outcome {
    let started = Instant::now();
    let mut hits = 0u64;
    for chunk in keys.chunks(PROGRESS_STEP) {
        for &key in chunk {
            hits += u64::from(cache.request(key));
        }
        progress(chunk.len() as u64);
    }
    Outcome {
        hits,
        requests: keys.len() as u64,
        elapsed: started.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lru_on_a_loop_larger_than_the_cache_never_hits() {
        let keys = crate::synthetic::looping(10, 1_000);
        let mut lru = StrataCache::new(Policy::Lru, 9).expect("valid");
        let out = replay(&mut lru, &keys, &mut |_| {});
        assert_eq!((out.hits, out.requests), (0, 1_000));
        let mut big = StrataCache::new(Policy::Lru, 10).expect("valid");
        assert_eq!(replay(&mut big, &keys, &mut |_| {}).hits, 990);
    }

    #[test]
    fn a_replay_depends_on_its_hash_seed_only_through_the_policy() {
        let keys = crate::synthetic::zipf(50_000, 0.8, 200_000, 1);
        let hits = |policy, seed| {
            let mut cache = StrataCache::with_hash_seed(policy, 2_000, seed).expect("valid");
            replay(&mut cache, &keys, &mut |_| {}).hits
        };
        let mut default = StrataCache::new(Policy::Adaptive, 2_000).expect("valid");
        let seed_0 = replay(&mut default, &keys, &mut |_| {}).hits;
        // Reproducible for a seed, and `new` is seed 0.
        assert_eq!(hits(Policy::Adaptive, 0), seed_0);
        assert_eq!(hits(Policy::Adaptive, 7), hits(Policy::Adaptive, 7));
        // Adaptive's tuner samples keys by hash, and its sketch places them
        // by hash: another seed, other hits. Exact LRU orders by use alone.
        assert_ne!(hits(Policy::Adaptive, 7), seed_0);
        assert_eq!(hits(Policy::Lru, 7), hits(Policy::Lru, 0));
    }
}
