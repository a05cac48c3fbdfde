//! Other caches, replayed by the same protocol for comparison: moka (its
//! default TinyLFU policy), quick_cache (CLOCK-Pro-like), and foyer's
//! W-TinyLFU and S3-FIFO. Each is built with its defaults at the same
//! capacity, and with one shard where the cache lets us choose.
//!
//! moka and foyer hash keys with a randomly seeded hasher by default, which
//! made their hit ratios move by up to 0.7 point from run to run (their
//! frequency sketches and sampling depend on the hashes). Here they get a
//! hasher with the seed the lab is given instead, as Strata's own caches
//! do, so that a run is reproducible and several seeds can be averaged.

use foyer_memory::{Cache as FoyerCache, CacheBuilder, LfuConfig, S3FifoConfig};

use crate::replay::Replayable;

/// moka 0.12, `sync::Cache` with its defaults, held to its capacity.
///
/// moka applies evictions lazily, from buffers drained now and then; left
/// alone, a cache of capacity 100 held up to 153 entries during a replay of
/// `lirs/sprite` (and scored 34.8% instead of 30.7%). To compare every cache
/// at the same capacity, each insert is followed by `run_pending_tasks()`,
/// moka's documented way to apply pending work now.
pub struct Moka(moka::sync::Cache<u64, (), Fixed>);

/// The hasher of the peers that take one: seeded, for reproducible runs.
type Fixed = foldhash::fast::FixedState;

fn fixed(seed: u64) -> Fixed {
    Fixed::with_seed(seed)
}

impl Moka {
    /// A cache of `capacity` entries, hashing with `seed`.
    pub fn new(capacity: u64, seed: u64) -> Self {
        Self(
            moka::sync::Cache::builder()
                .max_capacity(capacity)
                .build_with_hasher(fixed(seed)),
        )
    }
}

impl Replayable for Moka {
    fn request(&mut self, key: u64) -> bool {
        if self.0.get(&key).is_some() {
            return true;
        }
        self.0.insert(key, ());
        self.0.run_pending_tasks();
        false
    }
}

/// quick_cache, its single-threaded `unsync::Cache` (one shard).
pub struct QuickCache(quick_cache::unsync::Cache<u64, ()>);

impl QuickCache {
    /// A cache of `capacity` entries.
    pub fn new(capacity: u64) -> Self {
        Self(quick_cache::unsync::Cache::new(capacity as usize))
    }
}

impl Replayable for QuickCache {
    fn request(&mut self, key: u64) -> bool {
        if self.0.get(&key).is_some() {
            return true;
        }
        self.0.insert(key, ());
        false
    }
}

/// foyer's in-memory cache, one shard, with a chosen eviction algorithm.
pub struct Foyer(FoyerCache<u64, (), Fixed>);

impl Foyer {
    /// W-TinyLFU (`LfuConfig::default()`), hashing with `seed`.
    pub fn w_tinylfu(capacity: u64, seed: u64) -> Self {
        Self(
            CacheBuilder::new(capacity as usize)
                .with_shards(1)
                .with_eviction_config(LfuConfig::default())
                .with_hash_builder(fixed(seed))
                .build(),
        )
    }

    /// S3-FIFO (`S3FifoConfig::default()`), hashing with `seed`.
    pub fn s3_fifo(capacity: u64, seed: u64) -> Self {
        Self(
            CacheBuilder::new(capacity as usize)
                .with_shards(1)
                .with_eviction_config(S3FifoConfig::default())
                .with_hash_builder(fixed(seed))
                .build(),
        )
    }
}

impl Replayable for Foyer {
    fn request(&mut self, key: u64) -> bool {
        if self.0.get(&key).is_some() {
            return true;
        }
        self.0.insert(key, ());
        false
    }
}
