//! `strata bench`: every policy on the same Zipf workload, in one process.
//!
//! For each policy it measures, on a fresh cache:
//! * heap bytes per entry: heap growth while inserting `capacity` distinct
//!   `u64 -> u64` entries, divided by `capacity`;
//! * insert throughput: `ops` inserts of Zipf-distributed keys;
//! * get throughput and hit ratio: `ops` reads of Zipf-distributed keys on
//!   the cache those inserts warmed.
//!
//! Keys are drawn before timing starts; threads split the key sequence.
//! Throughput on a shared machine is noisy: compare policies within one run.

use std::fmt::Write as _;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Args;
use rand::SeedableRng as _;
use rand::rngs::SmallRng;
use rand_distr::{Distribution as _, Zipf};
use strata::{MemoryCache, Policy};

use crate::heap;
use crate::policies::PolicyList;

/// Options of `strata bench`.
#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// Cache capacity in entries.
    #[arg(long, default_value_t = 100_000)]
    capacity: u64,
    /// Distinct keys, as a multiple of the capacity.
    #[arg(long, default_value_t = 10)]
    key_space: u64,
    /// Zipf exponent of key popularity.
    #[arg(long, default_value_t = 1.0)]
    zipf: f64,
    /// Operations per measurement.
    #[arg(long, default_value_t = 2_000_000)]
    ops: usize,
    /// Threads sharing the cache.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Policies to run: `all` or a comma-separated list (lru,lfu,ttl,size,hybrid).
    #[arg(long, default_value = "all")]
    policies: PolicyList,
    /// Seed of the key sequence.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Turn the caches' stats off (the hit ratio is then counted by the
    /// benchmark itself).
    #[arg(long)]
    no_stats: bool,
}

/// One policy's results.
struct Row {
    policy: Policy,
    get: f64,
    insert: f64,
    hit_ratio: f64,
    heap_per_entry: f64,
}

pub(crate) fn run(args: &BenchArgs, out: &mut impl Write) -> anyhow::Result<()> {
    if args.capacity == 0 || args.ops == 0 || args.threads == 0 || args.key_space == 0 {
        bail!("--capacity, --key-space, --ops and --threads must be greater than zero");
    }
    let keys = zipf_keys(args)?;
    writeln!(
        out,
        "strata bench: capacity {}, {} keys (Zipf s = {}), {} thread(s), {} operations per measurement, stats {}",
        args.capacity,
        args.capacity * args.key_space,
        args.zipf,
        args.threads,
        args.ops,
        if args.no_stats { "off" } else { "on" }
    )?;
    let mut rows = Vec::new();
    for &policy in &args.policies.0 {
        rows.push(measure(policy, args, &keys)?);
    }
    write!(out, "{}", table(&rows))?;
    Ok(())
}

fn zipf_keys(args: &BenchArgs) -> anyhow::Result<Vec<u64>> {
    let n = (args.capacity * args.key_space) as f64;
    let zipf = Zipf::new(n, args.zipf).context("invalid Zipf parameters")?;
    let mut rng = SmallRng::seed_from_u64(args.seed);
    Ok((0..args.ops)
        .map(|_| zipf.sample(&mut rng) as u64)
        .collect())
}

fn build(policy: Policy, args: &BenchArgs) -> anyhow::Result<MemoryCache<u64, u64>> {
    MemoryCache::builder()
        .max_entries(args.capacity)
        .policy(policy)
        .stats(!args.no_stats)
        .build()
        .context("building the cache")
}

/// Runs `op` over `keys` split among `threads`; returns operations per second.
fn timed(threads: usize, keys: &[u64], op: impl Fn(u64) + Sync) -> f64 {
    let chunk = keys.len().div_ceil(threads);
    let started = Instant::now();
    thread::scope(|s| {
        for part in keys.chunks(chunk) {
            let op = &op;
            s.spawn(move || part.iter().for_each(|&k| op(k)));
        }
    });
    per_second(keys.len(), started.elapsed())
}

fn per_second(ops: usize, took: Duration) -> f64 {
    ops as f64 / took.as_secs_f64().max(f64::MIN_POSITIVE)
}

fn measure(policy: Policy, args: &BenchArgs, keys: &[u64]) -> anyhow::Result<Row> {
    let heap_per_entry = {
        // Inserts run on this thread: its own counts see all they allocate.
        let before = heap::held_by_this_thread()?;
        let cache = build(policy, args)?;
        for k in 0..args.capacity {
            cache.insert(k, k)?;
        }
        let grown = (heap::held_by_this_thread()? - before).max(0);
        drop(cache);
        grown as f64 / args.capacity as f64
    };

    let cache = build(policy, args)?;
    let insert = timed(args.threads, keys, |k| {
        // Every value weighs 1 and the capacity is non-zero: cannot fail.
        let _ = cache.insert(k, k);
    });
    // Counted here rather than read from the cache's stats, which may be off.
    let hits = AtomicU64::new(0);
    let get = timed(args.threads, keys, |k| {
        if std::hint::black_box(cache.get(&k)).is_some() {
            hits.fetch_add(1, Ordering::Relaxed);
        }
    });
    Ok(Row {
        policy,
        get,
        insert,
        hit_ratio: hits.into_inner() as f64 / keys.len() as f64,
        heap_per_entry,
    })
}

fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<8} {:>12} {:>14} {:>10} {:>14}",
        "policy", "get Mops/s", "insert Mops/s", "hit ratio", "heap B/entry"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:<8} {:>12.2} {:>14.2} {:>9.2}% {:>14.1}",
            r.policy.name(),
            r.get / 1e6,
            r.insert / 1e6,
            r.hit_ratio * 100.0,
            r.heap_per_entry
        );
    }
    out
}
