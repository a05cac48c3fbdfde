//! Strata's memory tier beside moka and quick_cache: the same operations,
//! on the same pre-drawn Zipf keys, at the same capacity, one thread.
//!
//! `cargo bench -p strata-bench --bench memory`. Criterion reports each
//! cache's time per operation with its confidence interval; compare the
//! three lines of a group. `strata bench --compare` runs the multi-threaded
//! workloads, the trace replay, latency percentiles and memory, and prints
//! the ratios.
//!
//! * `get`: reads of a warmed cache (Zipf s = 1 over ten times as many keys
//!   as the capacity, so about 15% miss);
//! * `mixed`: the same keys, one write in ten;
//! * `miss`: a read, then a write on a miss, of keys a cache of this size
//!   holds half of: the path of a cache filling from its backing store.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_main};
use rand::rngs::SmallRng;
use rand::{RngExt as _, SeedableRng as _};
use rand_distr::{Distribution as _, Zipf};

const CAPACITY: u64 = 100_000;
const KEYS: usize = 1 << 20;

/// The operations each cache is measured with.
trait Cache: Sync {
    fn get(&self, key: u64) -> Option<u64>;
    fn insert(&self, key: u64, value: u64);
}

impl Cache for strata::MemoryCache<u64, u64> {
    fn get(&self, key: u64) -> Option<u64> {
        strata::MemoryCache::get(self, &key)
    }
    fn insert(&self, key: u64, value: u64) {
        // Weight 1 against a non-zero capacity: cannot be refused.
        let _ = strata::MemoryCache::insert(self, key, value);
    }
}

impl Cache for moka::sync::Cache<u64, u64> {
    fn get(&self, key: u64) -> Option<u64> {
        moka::sync::Cache::get(self, &key)
    }
    fn insert(&self, key: u64, value: u64) {
        moka::sync::Cache::insert(self, key, value);
    }
}

impl Cache for quick_cache::sync::Cache<u64, u64> {
    fn get(&self, key: u64) -> Option<u64> {
        quick_cache::sync::Cache::get(self, &key)
    }
    fn insert(&self, key: u64, value: u64) {
        quick_cache::sync::Cache::insert(self, key, value);
    }
}

/// `KEYS` keys drawn from `0..key_count` with Zipf exponent 1.
fn zipf_keys(key_count: u64, seed: u64) -> Vec<u64> {
    let zipf = Zipf::new(key_count as f64, 1.0).unwrap_or_else(|e| panic!("{e}"));
    let mut rng = SmallRng::seed_from_u64(seed);
    (0..KEYS).map(|_| zipf.sample(&mut rng) as u64).collect()
}

/// The three caches, each built with its defaults at `capacity`.
fn caches(capacity: u64) -> Vec<(&'static str, Box<dyn Cache>)> {
    let strata: strata::MemoryCache<u64, u64> = strata::MemoryCache::builder()
        .max_entries(capacity)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    vec![
        ("strata", Box::new(strata)),
        ("moka", Box::new(moka::sync::Cache::new(capacity))),
        (
            "quick_cache",
            Box::new(quick_cache::sync::Cache::new(capacity as usize)),
        ),
    ]
}

/// Runs `op` on successive keys of `keys`, one per iteration.
fn per_key(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    keys: &[u64],
    op: impl Fn(u64),
) {
    group.bench_function(BenchmarkId::from_parameter(name), |b| {
        let mut at = 0usize;
        b.iter(|| {
            op(black_box(keys[at]));
            at = (at + 1) & (KEYS - 1);
        });
    });
}

fn get(c: &mut Criterion) {
    let keys = zipf_keys(10 * CAPACITY, 42);
    let mut group = c.benchmark_group("get");
    group.throughput(Throughput::Elements(1));
    for (name, cache) in caches(CAPACITY) {
        for &k in &keys {
            cache.insert(k, k);
        }
        per_key(&mut group, name, &keys, |k| {
            black_box(cache.get(k));
        });
    }
    group.finish();
}

fn mixed(c: &mut Criterion) {
    let keys = zipf_keys(10 * CAPACITY, 43);
    // Every tenth key is written instead of read.
    let mut group = c.benchmark_group("mixed");
    group.throughput(Throughput::Elements(1));
    for (name, cache) in caches(CAPACITY) {
        for &k in &keys {
            cache.insert(k, k);
        }
        let mut n = 0u32;
        let mut rng = SmallRng::seed_from_u64(7);
        let writes: Vec<bool> = (0..KEYS).map(|_| rng.random_bool(0.1)).collect();
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                let at = n as usize & (KEYS - 1);
                let k = black_box(keys[at]);
                if writes[at] {
                    cache.insert(k, k);
                } else {
                    black_box(cache.get(k));
                }
                n = n.wrapping_add(1);
            });
        });
    }
    group.finish();
}

fn miss(c: &mut Criterion) {
    // A cache of a tenth of the capacity over the same keys: half the
    // requests miss and are written, each write evicting.
    let keys = zipf_keys(10 * CAPACITY, 44);
    let mut group = c.benchmark_group("miss");
    group.throughput(Throughput::Elements(1));
    for (name, cache) in caches(CAPACITY / 10) {
        per_key(&mut group, name, &keys, |k| {
            if cache.get(k).is_none() {
                cache.insert(k, k);
            }
        });
    }
    group.finish();
}

// The macro defines an undocumented public function; the lint is about
// library APIs, and this is a benchmark's entry point.
#[allow(missing_docs)]
mod entry {
    criterion::criterion_group!(benches, super::get, super::mixed, super::miss);
}
criterion_main!(entry::benches);
