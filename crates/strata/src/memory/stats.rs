//! What the cache counts and how it reports it.
//!
//! Counts are exact, kept per thread without locked instructions (see
//! `tally`). Latency and hot keys are *sampled*: one operation in
//! [`LATENCY_SAMPLE`] is timed and one read hit in [`HOT_KEY_SAMPLE`] is
//! counted, on average, picked by a per-thread countdown of random length,
//! so the cost per operation is a few instructions. A cache whose threads
//! take samples less than 20 µs apart keeps fewer of the picks (down to one
//! operation in 4,096, at one pace for all its threads, `pace`): a sample
//! costs a few hundred nanoseconds, a tenth of a fast reader's time at one
//! in 64. With stats off, none of it runs.

use std::hash::Hash;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use parking_lot::Mutex;
use serde::Serialize;
use topk::FilteredSpaceSaving;

use super::MemoryCache;
use super::pace::Pacer;
use super::policy::Policy;
use super::pressure::PressureStats;
use super::removal::RemovalCause;
use super::tally::{Count, this_thread};

/// One operation in this many is timed (fewer when the cache's threads
/// together take more than one sample per 20 µs).
pub const LATENCY_SAMPLE: u32 = 64;
/// One read hit in this many is counted for the hot-key ranking (fewer in
/// a busy cache, as for [`LATENCY_SAMPLE`]).
pub const HOT_KEY_SAMPLE: u32 = LATENCY_SAMPLE;

/// Slowest latency the histograms keep distinct; slower ones count as this.
const LATENCY_CEILING_NS: u64 = 60_000_000_000;

/// Which optional measurements this operation takes part in, and the
/// calling thread's slot for counting it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    pub(crate) started: Option<Instant>,
    /// How many reads the operation stands for in the hot-key ranking (0:
    /// not sampled).
    pub(crate) weight: u32,
    pub(crate) slot: usize,
}

impl Sample {
    pub(crate) const NONE: Sample = Sample {
        started: None,
        weight: 0,
        slot: 0,
    };

    /// The calling thread's slot, and whether this operation is sampled at
    /// the pace of `pacer`, its cache's.
    #[inline]
    pub(crate) fn take(pacer: &Pacer) -> Sample {
        // One countdown for both: a sampled operation is timed, and if it
        // is a read hit its key is ranked. The two do not interfere.
        let (slot, picked) = this_thread(LATENCY_SAMPLE);
        if !picked {
            return Self::unsampled(slot);
        }
        Self::sampled(slot, pacer)
    }

    /// An operation not sampled, on the thread with `slot`.
    #[inline]
    pub(crate) fn unsampled(slot: usize) -> Sample {
        Sample {
            started: None,
            weight: 0,
            slot,
        }
    }

    /// An operation the thread's countdown picked: sampled, and timed from
    /// now, unless its cache's pace thins it out.
    #[cold]
    pub(crate) fn sampled(slot: usize, pacer: &Pacer) -> Sample {
        let Some(weight) = pacer.thin(LATENCY_SAMPLE) else {
            return Self::unsampled(slot);
        };
        let now = Instant::now();
        pacer.sampled(now);
        Sample {
            started: Some(now),
            weight,
            slot,
        }
    }
}

/// A ranking of frequent keys. Boxed behind this trait so that the bounds of
/// the ranking's type (`Hash + Eq`) do not spread to `MemoryCache` itself.
trait Ranking<K>: Send {
    fn count(&mut self, key: K);
    /// The `n` highest estimated counts, highest first.
    fn top(&self, n: usize) -> Vec<(K, u64)>;
}

impl<K: Hash + Eq + Clone + Send> Ranking<K> for FilteredSpaceSaving<K> {
    fn count(&mut self, key: K) {
        self.insert(key, 1);
    }

    fn top(&self, n: usize) -> Vec<(K, u64)> {
        self.clone()
            .into_sorted_vec()
            .into_iter()
            .take(n)
            .map(|(key, counter)| (key, counter.estimated_count()))
            .collect()
    }
}

/// The sampled measurements of a cache with stats on.
pub(crate) struct Recorder<K> {
    /// How many of the cache's operations are sampled.
    pub(crate) pacer: Pacer,
    get_latency: Mutex<Histogram<u64>>,
    insert_latency: Mutex<Histogram<u64>>,
    hot_keys: Option<Mutex<Hot<K>>>,
    hot_key_count: usize,
}

/// The hot-key ranking, and the weights of the samples it counted.
///
/// Keys are ranked by how often they were sampled, one each: every thread
/// samples at the cache's one pace (`pace::Pacer`), so all keys are
/// sampled at the same rate at any one time and that order is the order of
/// their reads. Weighing each sample by its weight instead (it varies as
/// the pace moves) made the ranking's over-estimates as large as the
/// largest weight, and a cold key read once outranked keys read thousands
/// of times. The estimates are scaled by the samples' mean weight.
struct Hot<K> {
    ranking: Box<dyn Ranking<K>>,
    samples: u64,
    weight: u64,
}

pub(crate) fn histogram() -> Histogram<u64> {
    // Two significant digits from 1 ns to a minute: about 3,500 counters.
    // The bounds are constants that hdrhistogram accepts (low >= 1, high >=
    // 2 * low, 0 <= sigfig <= 5), so this cannot fail.
    Histogram::new_with_bounds(1, LATENCY_CEILING_NS, 2)
        .unwrap_or_else(|_| unreachable!("constant histogram bounds are valid"))
}

impl<K: Hash + Eq + Clone + Send + 'static> Recorder<K> {
    pub(crate) fn new(hot_key_count: usize) -> Self {
        Self {
            pacer: Pacer::default(),
            get_latency: Mutex::new(histogram()),
            insert_latency: Mutex::new(histogram()),
            // Track four times as many candidates as reported, so that the
            // reported ones are stable against the algorithm's churn.
            hot_keys: (hot_key_count > 0).then(|| {
                let ranking: Box<dyn Ranking<K>> =
                    Box::new(FilteredSpaceSaving::new(hot_key_count * 4));
                Mutex::new(Hot {
                    ranking,
                    samples: 0,
                    weight: 0,
                })
            }),
            hot_key_count,
        }
    }

    #[cold]
    fn record(histogram: &Mutex<Histogram<u64>>, started: Instant) {
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        // A contended histogram drops the sample rather than make a cache
        // operation wait on bookkeeping.
        if let Some(mut h) = histogram.try_lock() {
            h.saturating_record(nanos.clamp(1, LATENCY_CEILING_NS));
        }
    }

    #[inline]
    pub(crate) fn record_get(&self, sample: Sample) {
        if let Some(started) = sample.started {
            Self::record(&self.get_latency, started);
        }
    }

    #[inline]
    pub(crate) fn record_insert(&self, sample: Sample) {
        if let Some(started) = sample.started {
            Self::record(&self.insert_latency, started);
        }
    }

    #[cold]
    pub(crate) fn record_hot(&self, key: K, weight: u32) {
        if let Some(hot) = &self.hot_keys {
            let mut hot = hot.lock();
            hot.ranking.count(key);
            hot.samples += 1;
            hot.weight += u64::from(weight);
        }
    }

    pub(crate) fn wants_hot_keys(&self) -> bool {
        self.hot_keys.is_some()
    }

    pub(crate) fn get_latency(&self) -> LatencySummary {
        LatencySummary::of(&self.get_latency.lock())
    }

    pub(crate) fn insert_latency(&self) -> LatencySummary {
        LatencySummary::of(&self.insert_latency.lock())
    }

    pub(crate) fn hot_keys(&self) -> Vec<HotKey<K>> {
        let Some(hot) = &self.hot_keys else {
            return Vec::new();
        };
        let (top, samples, weight) = {
            let hot = hot.lock();
            (hot.ranking.top(self.hot_key_count), hot.samples, hot.weight)
        };
        let scale = weight as f64 / samples.max(1) as f64;
        top.into_iter()
            .map(|(key, count)| HotKey {
                key,
                estimated_reads: (count as f64 * scale).round() as u64,
            })
            .collect()
    }
}

/// Latency percentiles of one operation, from a sample of operations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct LatencySummary {
    /// How many operations were timed (about one in [`LATENCY_SAMPLE`], or
    /// fewer in a busy cache).
    pub samples: u64,
    /// Median.
    #[serde(serialize_with = "as_nanos")]
    pub p50: Duration,
    /// 95th percentile.
    #[serde(serialize_with = "as_nanos")]
    pub p95: Duration,
    /// 99th percentile.
    #[serde(serialize_with = "as_nanos")]
    pub p99: Duration,
    /// Slowest sampled operation.
    #[serde(serialize_with = "as_nanos")]
    pub max: Duration,
}

fn as_nanos<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

impl LatencySummary {
    pub(crate) fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        let q = |q: f64| Duration::from_nanos(h.value_at_quantile(q));
        Self {
            samples: h.len(),
            p50: q(0.50),
            p95: q(0.95),
            p99: q(0.99),
            max: Duration::from_nanos(h.max()),
        }
    }
}

/// A frequently read key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct HotKey<K> {
    /// The key.
    pub key: K,
    /// Estimated reads that hit it: its count in the sample, times the
    /// samples' mean weight ([`HOT_KEY_SAMPLE`], or more while the cache is
    /// busy enough to sample less). An over-estimate by at most the
    /// smallest count the ranking tracks (Filtered Space-Saving's
    /// guarantee), times that weight.
    pub estimated_reads: u64,
}

/// Removals counted by cause.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct EvictionCounts {
    /// Time to live or time to idle ran out.
    pub expired: u64,
    /// Evicted for capacity or memory pressure.
    pub capacity: u64,
    /// Invalidated by tag, prefix or pattern.
    pub invalidated: u64,
    /// Overwritten by a write to the same key.
    pub replaced: u64,
    /// Removed explicitly (`remove`, `clear`).
    pub removed: u64,
}

impl EvictionCounts {
    /// The count for one cause.
    pub fn get(&self, cause: RemovalCause) -> u64 {
        match cause {
            RemovalCause::Expired => self.expired,
            RemovalCause::Capacity => self.capacity,
            RemovalCause::Invalidated => self.invalidated,
            RemovalCause::Replaced => self.replaced,
            RemovalCause::Removed => self.removed,
        }
    }

    pub(crate) fn from_array(a: [u64; 5]) -> Self {
        Self {
            expired: a[0],
            capacity: a[1],
            invalidated: a[2],
            replaced: a[3],
            removed: a[4],
        }
    }
}

/// A snapshot of a cache's statistics.
///
/// Counts are since the cache was built. With stats off (see
/// [`MemoryCacheBuilder::stats`](crate::MemoryCacheBuilder::stats)) only the
/// sizes and limits are filled in and `enabled` is false.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct CacheStats<K> {
    /// Whether the cache counts at all.
    pub enabled: bool,
    /// The eviction policy.
    pub policy: Policy,
    /// Reads (`get` and the loaders' lookups) that found a live entry.
    pub hits: u64,
    /// Reads that found nothing live.
    pub misses: u64,
    /// `hits / (hits + misses)`, or 0 before any read.
    pub hit_ratio: f64,
    /// Writes of a key that was absent.
    pub inserts: u64,
    /// Writes over a key that was present.
    pub updates: u64,
    /// Loader calls (`get_or_compute` and friends) that found another
    /// caller already loading the same key and waited for its outcome
    /// instead of running their own loader: the loads stampede protection
    /// saved.
    pub load_waits: u64,
    /// Entries that left, by cause.
    pub evictions: EvictionCounts,
    /// Entries now resident (including expired ones not yet purged).
    pub entries: u64,
    /// Total weight of resident entries.
    pub weight: u64,
    /// The entry-count bound, if any.
    pub max_entries: Option<u64>,
    /// The weight bound, if any.
    pub max_weight: Option<u64>,
    /// Latency of `get`, sampled.
    pub get_latency: LatencySummary,
    /// Latency of writes, sampled.
    pub insert_latency: LatencySummary,
    /// The most read keys, hottest first (approximate; see [`HotKey`]).
    pub hot_keys: Vec<HotKey<K>>,
    /// Memory-pressure state, when a memory budget is set.
    pub pressure: Option<PressureStats>,
}

impl<K, V> MemoryCache<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// A snapshot of the statistics. See [`CacheStats`].
    pub fn stats(&self) -> CacheStats<K> {
        let inner = &self.inner;
        let tally = &inner.tally;
        let [hits, misses, inserts, updates, load_waits] = [
            Count::Hits,
            Count::Misses,
            Count::Inserts,
            Count::Updates,
            Count::LoadWaits,
        ]
        .map(|c| tally.sum(c, 0));
        let removals = RemovalCause::ALL.map(|c| tally.sum(Count::Removals, c.index()));
        let reads = hits + misses;
        CacheStats {
            enabled: inner.recorder.is_some(),
            policy: inner.policy,
            hits,
            misses,
            hit_ratio: if reads == 0 {
                0.0
            } else {
                hits as f64 / reads as f64
            },
            inserts,
            updates,
            load_waits,
            evictions: EvictionCounts::from_array(removals),
            entries: self.len(),
            weight: self.weight(),
            max_entries: inner.max_entries,
            max_weight: inner.max_weight,
            get_latency: inner
                .recorder
                .as_ref()
                .map(|r| r.get_latency())
                .unwrap_or_default(),
            insert_latency: inner
                .recorder
                .as_ref()
                .map(|r| r.insert_latency())
                .unwrap_or_default(),
            hot_keys: inner
                .recorder
                .as_ref()
                .map(|r| r.hot_keys())
                .unwrap_or_default(),
            pressure: inner.pressure.as_ref().map(|p| p.stats()),
        }
    }
}
