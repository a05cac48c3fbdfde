//! The caches `strata bench --compare` measures, behind one trait.
//!
//! Every workload is a generic function over [`Cache`], so each cache gets
//! its own monomorphised loop: no virtual call in the timed code, which
//! would cost the fastest cache the most. Each cache is built with its own
//! defaults at the capacity asked for; only Strata's policy, stats switch
//! and shard count come from the command line.

use std::time::Duration;

use anyhow::Context as _;
use strata::{MemoryCache, Policy};

/// A `u64 → u64` cache as the workloads use it.
pub(super) trait Cache: Sync + Sized {
    /// The value of `key`, recording the access as the cache does.
    fn get(&self, key: u64) -> Option<u64>;
    /// Stores `key → value`.
    fn insert(&self, key: u64, value: u64);
    /// Applies work the cache has buffered (moka's pending policy
    /// updates and evictions); nothing for the others.
    fn settle(&self) {}
    /// Entries held.
    fn len(&self) -> u64;
}

/// Which cache: Strata with a policy, or a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Contender {
    /// Strata's `MemoryCache` with this policy.
    Strata(Policy),
    /// moka 0.12, `sync::Cache`.
    Moka,
    /// quick_cache 0.7, `sync::Cache`.
    QuickCache,
}

/// What a cache offers for the "one tag and a TTL per entry" measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tagged {
    /// Tags and a per-entry TTL (Strata).
    TagsAndTtl,
    /// A TTL only, set for the whole cache on its builder (moka has no
    /// tags; its per-entry `expire_after` needs an `Expiry` of the user's,
    /// while one TTL for all is what the measurement gives every entry).
    TtlOnly,
    /// Neither (quick_cache): no figure.
    Unsupported,
}

impl Contender {
    /// The name in the report's columns.
    pub(super) fn name(self) -> String {
        match self {
            Contender::Strata(Policy::Adaptive) => "strata".to_owned(),
            Contender::Strata(p) => format!("strata ({p})"),
            Contender::Moka => "moka".to_owned(),
            Contender::QuickCache => "quick_cache".to_owned(),
        }
    }

    /// How the cache takes a tag and a TTL.
    pub(super) fn tagged(self) -> Tagged {
        match self {
            Contender::Strata(_) => Tagged::TagsAndTtl,
            Contender::Moka => Tagged::TtlOnly,
            Contender::QuickCache => Tagged::Unsupported,
        }
    }
}

/// How Strata's cache is built, beyond its policy and capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct StrataBuild {
    /// Whether the cache keeps stats.
    pub(super) stats: bool,
    /// The shard count; `None` is the builder's default.
    pub(super) shards: Option<usize>,
}

/// Strata's cache with `policy` at `capacity` entries, its other settings
/// at their defaults apart from those of `build`.
pub(super) fn strata(
    policy: Policy,
    capacity: u64,
    build: StrataBuild,
) -> anyhow::Result<MemoryCache<u64, u64>> {
    let builder = MemoryCache::builder()
        .max_entries(capacity)
        .policy(policy)
        .stats(build.stats);
    let builder = match build.shards {
        Some(n) => builder.shards(n),
        None => builder,
    };
    builder.build().context("building Strata's cache")
}

/// moka at `capacity` entries; every entry lives `ttl` when given.
pub(super) fn moka(capacity: u64, ttl: Option<Duration>) -> moka::sync::Cache<u64, u64> {
    let builder = moka::sync::Cache::builder().max_capacity(capacity);
    match ttl {
        Some(ttl) => builder.time_to_live(ttl).build(),
        None => builder.build(),
    }
}

/// quick_cache at `capacity` entries.
pub(super) fn quick_cache(capacity: u64) -> quick_cache::sync::Cache<u64, u64> {
    quick_cache::sync::Cache::new(capacity as usize)
}

impl Cache for MemoryCache<u64, u64> {
    fn get(&self, key: u64) -> Option<u64> {
        MemoryCache::get(self, &key)
    }

    fn insert(&self, key: u64, value: u64) {
        // Every entry weighs 1 and capacities are non-zero, so TooHeavy
        // cannot happen; ShardFull needs 2^32 entries in a shard.
        let _ = MemoryCache::insert(self, key, value);
    }

    fn len(&self) -> u64 {
        MemoryCache::len(self)
    }
}

impl Cache for moka::sync::Cache<u64, u64> {
    fn get(&self, key: u64) -> Option<u64> {
        moka::sync::Cache::get(self, &key)
    }

    fn insert(&self, key: u64, value: u64) {
        moka::sync::Cache::insert(self, key, value);
    }

    fn settle(&self) {
        self.run_pending_tasks();
    }

    fn len(&self) -> u64 {
        self.entry_count()
    }
}

impl Cache for quick_cache::sync::Cache<u64, u64> {
    fn get(&self, key: u64) -> Option<u64> {
        quick_cache::sync::Cache::get(self, &key)
    }

    fn insert(&self, key: u64, value: u64) {
        quick_cache::sync::Cache::insert(self, key, value);
    }

    fn len(&self) -> u64 {
        quick_cache::sync::Cache::len(self) as u64
    }
}
