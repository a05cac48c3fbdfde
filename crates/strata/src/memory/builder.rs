//! Building a [`MemoryCache`]: every setting, its default, and validation.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::MemoryCache;
use super::policy::Policy;
use super::pressure::{MemoryBudget, MemoryGauge, PressureConfig, ProcessMemory};
use super::removal::{Listener, RemovalCause};
use crate::clock::{Clock, SystemClock};
use crate::error::BuildError;

/// Measures an entry for the weight bound.
pub(crate) type Weigher<K, V> = Arc<dyn Fn(&K, &V) -> u32 + Send + Sync>;

/// The most shards a cache may have.
pub const MAX_SHARDS: usize = 1 << 16;

/// With an entry bound, the default shard count keeps at least this many
/// entries per shard, so that each shard's policy sees enough entries to
/// choose victims well.
const MIN_ENTRIES_PER_SHARD: u64 = 256;

/// Builds a [`MemoryCache`]. Get one from [`MemoryCache::builder`].
///
/// ```
/// use std::time::Duration;
/// use strata::{MemoryCache, Policy};
///
/// let cache: MemoryCache<String, Vec<u8>> = MemoryCache::builder()
///     .max_entries(10_000)
///     .max_weight(64 << 20)
///     .weigher(|_key, value: &Vec<u8>| value.len() as u32)
///     .policy(Policy::Lfu)
///     .default_ttl(Duration::from_secs(300))
///     .build()
///     .expect("valid configuration");
/// assert_eq!(cache.max_weight(), Some(64 << 20));
/// ```
pub struct MemoryCacheBuilder<K, V> {
    pub(crate) max_entries: Option<u64>,
    pub(crate) max_weight: Option<u64>,
    pub(crate) weigher: Option<Weigher<K, V>>,
    pub(crate) policy: Policy,
    pub(crate) default_ttl: Option<Duration>,
    pub(crate) default_tti: Option<Duration>,
    pub(crate) shards: Option<usize>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) listener: Option<Listener<K, V>>,
    pub(crate) stats: bool,
    pub(crate) hot_keys: usize,
    pub(crate) budget: Option<MemoryBudget>,
    pub(crate) soft: f64,
    pub(crate) hard: f64,
    pub(crate) check_interval: Duration,
    pub(crate) shed_fraction: f64,
    pub(crate) gauge: Arc<dyn MemoryGauge>,
    pub(crate) hash_seed: Option<u64>,
}

impl<K, V> Default for MemoryCacheBuilder<K, V> {
    fn default() -> Self {
        Self {
            max_entries: None,
            max_weight: None,
            weigher: None,
            policy: Policy::default(),
            default_ttl: None,
            default_tti: None,
            shards: None,
            clock: Arc::new(SystemClock::new()),
            listener: None,
            stats: true,
            hot_keys: 16,
            budget: None,
            soft: 0.8,
            hard: 0.9,
            check_interval: Duration::from_secs(1),
            shed_fraction: 0.05,
            gauge: Arc::new(ProcessMemory),
            hash_seed: None,
        }
    }
}

impl<K, V> fmt::Debug for MemoryCacheBuilder<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryCacheBuilder")
            .field("max_entries", &self.max_entries)
            .field("max_weight", &self.max_weight)
            .field("weigher", &self.weigher.is_some())
            .field("policy", &self.policy)
            .field("default_ttl", &self.default_ttl)
            .field("default_tti", &self.default_tti)
            .field("shards", &self.shards)
            .field("stats", &self.stats)
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

impl<K, V> MemoryCacheBuilder<K, V> {
    /// Bound the number of entries. Default: no entry bound (then
    /// `max_weight` is required).
    #[must_use]
    pub fn max_entries(mut self, n: u64) -> Self {
        self.max_entries = Some(n);
        self
    }

    /// Bound the total weight of the entries, as measured by the
    /// [`weigher`](Self::weigher). Default: no weight bound (then
    /// `max_entries` is required).
    #[must_use]
    pub fn max_weight(mut self, weight: u64) -> Self {
        self.max_weight = Some(weight);
        self
    }

    /// How much an entry weighs, typically its size in bytes. Called once
    /// per write, under no lock. Default: every entry weighs 1.
    #[must_use]
    pub fn weigher(mut self, weigher: impl Fn(&K, &V) -> u32 + Send + Sync + 'static) -> Self {
        self.weigher = Some(Arc::new(weigher));
        self
    }

    /// The eviction policy. Default: [`Policy::Adaptive`].
    #[must_use]
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Time to live of entries written without one. Default: none (entries
    /// live until evicted or invalidated).
    #[must_use]
    pub fn default_ttl(mut self, ttl: Duration) -> Self {
        self.default_ttl = Some(ttl);
        self
    }

    /// Time to idle of entries written without one. Default: none.
    #[must_use]
    pub fn default_tti(mut self, tti: Duration) -> Self {
        self.default_tti = Some(tti);
        self
    }

    /// How many independently locked shards the cache has: a power of two,
    /// 1 to 65,536. One shard makes eviction order exact (useful in tests and
    /// simulations); more shards let threads work in parallel.
    /// Default: thirty-two per available core, rounded up to a power of two,
    /// halved while an entry bound would leave fewer than 256 entries per
    /// shard.
    #[must_use]
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = Some(shards);
        self
    }

    /// The time source for expiry. Default: [`SystemClock`].
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Called with each entry that leaves the cache and why, after the cache
    /// has released its locks. Default: none.
    #[must_use]
    pub fn removal_listener(
        mut self,
        listener: impl Fn(K, V, RemovalCause) + Send + Sync + 'static,
    ) -> Self {
        self.listener = Some(Arc::new(listener));
        self
    }

    /// Whether to count hits, misses, removals, latency and hot keys. Off,
    /// none of that bookkeeping runs. Default: on.
    #[must_use]
    pub fn stats(mut self, enabled: bool) -> Self {
        self.stats = enabled;
        self
    }

    /// How many hot keys the stats report; 0 turns hot-key tracking off.
    /// Default: 16.
    #[must_use]
    pub fn hot_keys(mut self, n: usize) -> Self {
        self.hot_keys = n;
        self
    }

    /// Shed entries when the process's resident memory nears `budget` (see
    /// the [`pressure`](crate::memory::pressure) module). Default: no budget.
    #[must_use]
    pub fn memory_budget(mut self, budget: MemoryBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// The soft and hard thresholds, as fractions of the memory budget,
    /// with `0 < soft <= hard <= 1`. Default: 0.8 and 0.9.
    #[must_use]
    pub fn pressure_thresholds(mut self, soft: f64, hard: f64) -> Self {
        self.soft = soft;
        self.hard = hard;
        self
    }

    /// How often, at most, resident memory is read (on writes).
    /// Default: 1 second.
    #[must_use]
    pub fn pressure_check_interval(mut self, interval: Duration) -> Self {
        self.check_interval = interval;
        self
    }

    /// The part of each shard's weight shed per check under pressure, in
    /// (0, 1]. Default: 0.05.
    #[must_use]
    pub fn shed_fraction(mut self, fraction: f64) -> Self {
        self.shed_fraction = fraction;
        self
    }

    /// Seed the key hash with `seed`, making the cache's behaviour
    /// reproducible run to run (shard placement, and the frequency sketch of
    /// [`Policy::Adaptive`], depend on it). For simulations and tests; a
    /// predictable seed lets an adversary choose colliding keys.
    /// Default: a random seed per cache.
    #[must_use]
    pub fn hash_seed(mut self, seed: u64) -> Self {
        self.hash_seed = Some(seed);
        self
    }

    /// Where resident memory is read. Default: [`ProcessMemory`].
    #[must_use]
    pub fn memory_gauge(mut self, gauge: Arc<dyn MemoryGauge>) -> Self {
        self.gauge = gauge;
        self
    }

    /// The shard count this builder would use.
    pub(crate) fn shard_count(&self) -> Result<usize, BuildError> {
        match self.shards {
            Some(n) if n.is_power_of_two() && n <= MAX_SHARDS => Ok(n),
            Some(n) => Err(BuildError::InvalidShards(n)),
            None => Ok(default_shards(self.max_entries)),
        }
    }

    /// The pressure settings and resolved budget, if a budget was set.
    pub(crate) fn pressure(&self) -> Result<Option<(PressureConfig, u64)>, BuildError> {
        let Some(budget) = self.budget else {
            return Ok(None);
        };
        if !(self.soft > 0.0 && self.soft <= self.hard && self.hard <= 1.0) {
            return Err(BuildError::InvalidThresholds {
                soft: self.soft,
                hard: self.hard,
            });
        }
        if !(self.shed_fraction > 0.0 && self.shed_fraction <= 1.0) {
            return Err(BuildError::InvalidShedFraction(self.shed_fraction));
        }
        let bytes = budget.resolve().ok_or(BuildError::NoCgroupLimit)?;
        if bytes == 0 {
            return Err(BuildError::ZeroBudget);
        }
        let config = PressureConfig {
            soft: self.soft,
            hard: self.hard,
            interval: self.check_interval,
            shed_fraction: self.shed_fraction,
            gauge: Arc::clone(&self.gauge),
        };
        Ok(Some((config, bytes)))
    }

    /// Checks the bounds.
    pub(crate) fn check_capacity(&self) -> Result<(), BuildError> {
        match (self.max_entries, self.max_weight) {
            (None, None) => Err(BuildError::NoCapacity),
            (Some(0), _) => Err(BuildError::ZeroCapacity {
                what: "max_entries",
            }),
            (_, Some(0)) => Err(BuildError::ZeroCapacity { what: "max_weight" }),
            _ => Ok(()),
        }
    }
}

impl<K, V> MemoryCacheBuilder<K, V>
where
    K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Validates the settings and builds the cache.
    ///
    /// # Errors
    /// A [`BuildError`] naming the first setting that is missing or out of
    /// range: no bound, a zero bound, a shard count that is not a power of
    /// two, thresholds out of order, or a cgroup budget without a cgroup
    /// limit.
    pub fn build(self) -> Result<MemoryCache<K, V>, BuildError> {
        MemoryCache::from_builder(self)
    }
}

/// Default shards per available core. A read that meets a write on its
/// shard waits for it, and an `Adaptive` write holds the lock for hundreds of
/// nanoseconds (admission duel, sketch, queues); past spinning the reader
/// parks, for tens of microseconds. So more shards, fewer such meetings
/// (`strata bench --compare`, 2 cores, median of 3 rounds):
///
/// * four per core (quick_cache's choice): p99.9 of `get` under a 2-thread
///   90/10 load 20 µs, 3.4× quick_cache's;
/// * sixteen: p99.9 5.6 µs, p99 1.5× → 1.2× quick_cache's, 2-thread mixed
///   throughput up a third;
/// * thirty-two, once reads of hot entries stopped storing into them
///   (`Entry::touch`), in alternated runs against sixteen: 2-thread mixed
///   15.1 → 18.0 M ops/s, 2-thread reads 25.5 → 30.0 M/s, p99 562 → 465 ns,
///   p99.9 1,340 → 1,154 ns, one-thread reads and replay within noise.
///
/// More shards cost one thread something the instruction count does not
/// show (criterion's `get`, 8 against 32 shards: 26.3–27.2 against
/// 28.8–31.7 ns): L1 misses, cachegrind says, as each shard's metadata
/// (lock, table header, policy, queue ends) falls out of L1 between two
/// visits to that shard (performance.md, "Where the time goes"). Misses
/// pay most: replaying P6 at 160,000 entries, 64 shards take 9.6 L1 misses
/// a request against 5.0 for one, and 16 shards replayed 11.0 and 10.7 M
/// requests a second against 9.4 and 9.0 for 64 (`bench --compare
/// --shards`, two alternated runs each), but two-thread reads fell from
/// 1.06× and 0.97× quick_cache's to 0.90× and 0.88×, and p99.9 of `get`
/// doubled (performance.md, "How many shards"). A cache shared by threads
/// is the common case. Hit ratio does not depend on the count (within 0.2
/// point from 1 to 64 shards on the reference traces' large rows).
const SHARDS_PER_CORE: usize = 32;

fn default_shards(max_entries: Option<u64>) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut shards = (cores * SHARDS_PER_CORE)
        .next_power_of_two()
        .min(MAX_SHARDS);
    if let Some(n) = max_entries {
        while shards > 1 && n / (shards as u64) < MIN_ENTRIES_PER_SHARD {
            shards /= 2;
        }
    }
    shards
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_caches_get_fewer_shards() {
        assert_eq!(default_shards(Some(100)), 1);
        assert!(default_shards(Some(10_000_000)) >= 4);
        assert!(default_shards(None).is_power_of_two());
    }
}
