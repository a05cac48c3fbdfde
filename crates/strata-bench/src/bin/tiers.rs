//! `tiers`: the figures of Strata's tiered cache and disk tier, in one run.
//!
//! ```sh
//! cargo run --release -p strata-bench --bin tiers
//! ```
//!
//! Measures, and prints as one markdown table:
//! * the cost of an L1 hit through `TieredCache` over a bare `MemoryCache`
//!   hit on the same cache (alternating rounds, medians);
//! * the disk tier with `--value-bytes` values filling `--entries` keys
//!   (1 KiB × 1,000,000 ≈ 1 GB by default): batched `put_many` rate, random
//!   `get` rate on one thread with the page cache warm and its p50/p99, and
//!   the time from opening the closed store to its first hit.
//!
//! The store lives in a temp dir under `--dir`. The machine is shared and
//! noisy: compare figures within one run.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use hdrhistogram::Histogram;
use rand::rngs::SmallRng;
use rand::{Rng as _, RngExt as _, SeedableRng as _};
use strata::tier::disk::DiskTier;
use strata::{MemoryCache, Tier, TierWrite, TieredCache};
use strata_bench::workload::StoreShape;

#[derive(Debug, Parser)]
#[command(about = "Benchmarks of the tiered cache and the disk tier")]
struct Args {
    /// The disk store: entries, value bytes (random), `put_many` batch, and
    /// random gets timed.
    #[command(flatten)]
    shape: StoreShape,
    /// Hits timed per round of the L1 comparison.
    #[arg(long, default_value_t = 2_000_000)]
    l1_ops: usize,
    /// Where the temp dir of the store is made.
    #[arg(long, default_value = "/tmp")]
    dir: PathBuf,
    /// Seed of the key and value sequences.
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Arc::new(Args::parse());
    // A multi-thread runtime, as a server runs: the disk tier's reads then
    // use `block_in_place` instead of a hop to the blocking pool. The work
    // runs as one task on one worker, so every figure is single-threaded.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let rows = runtime.block_on(async {
        let args = Arc::clone(&args);
        tokio::spawn(async move {
            let mut rows = l1_overhead(&args).await?;
            rows.extend(disk(&args).await?);
            anyhow::Ok(rows)
        })
        .await
        .context("the benchmark task panicked")?
    })?;
    println!("{}", std::env::args().collect::<Vec<_>>().join(" "));
    println!("(2 shared cores; single thread; figures vary run to run)\n");
    println!("| measure | value |");
    println!("|---|---:|");
    for (name, value) in rows {
        println!("| {name} | {value} |");
    }
    Ok(())
}

/// The key of entry `i`: a bijective mix of `i`, so consecutive entries land
/// at random places in the key order, as real keys (ids, hashes, paths) do.
/// Sequential keys would flatter a B-tree with append-only inserts.
fn key(i: u64) -> String {
    // splitmix64's finaliser: a bijection on u64.
    let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    format!("bench:key:{:016x}", z ^ (z >> 31))
}

/// Medians of alternating rounds of bare and tiered L1 hits.
async fn l1_overhead(args: &Args) -> anyhow::Result<Vec<(String, String)>> {
    const KEYS: u64 = 100_000;
    let memory: MemoryCache<String, u64> = MemoryCache::builder().max_entries(KEYS * 2).build()?;
    let tiered = TieredCache::builder(memory.clone()).build()?;
    for i in 0..KEYS {
        memory.insert(key(i), i)?;
    }
    let mut rng = SmallRng::seed_from_u64(args.seed);
    let order: Vec<String> = (0..args.l1_ops)
        .map(|_| key(rng.random_range(0..KEYS)))
        .collect();
    let (mut bare, mut through) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let started = Instant::now();
        let mut sum = 0u64;
        for k in &order {
            sum = sum.wrapping_add(memory.get(k.as_str()).unwrap_or(0));
        }
        bare.push(started.elapsed().as_secs_f64() * 1e9 / order.len() as f64);
        std::hint::black_box(sum);

        let started = Instant::now();
        let mut sum = 0u64;
        for k in &order {
            sum = sum.wrapping_add(tiered.get(k).await.unwrap_or(0));
        }
        through.push(started.elapsed().as_secs_f64() * 1e9 / order.len() as f64);
        std::hint::black_box(sum);
    }
    let (bare, through) = (median(bare), median(through));
    Ok(vec![
        ("L1 hit, bare MemoryCache (ns)".into(), format!("{bare:.1}")),
        (
            "L1 hit, through TieredCache (ns)".into(),
            format!("{through:.1}"),
        ),
        (
            "L1 hit, TieredCache overhead (ns; target ≤ 100)".into(),
            format!("{:.1}", through - bare),
        ),
    ])
}

/// Load, random gets, and reopen-to-first-hit of one disk store.
async fn disk(args: &Args) -> anyhow::Result<Vec<(String, String)>> {
    let dir = tempfile::tempdir_in(&args.dir).context("temp dir")?;
    let path = dir.path().join("store");
    let max_bytes = (args.shape.entries * (args.shape.value_bytes as u64 + 64)).max(1 << 20) * 2;
    let open = || {
        DiskTier::builder(&path)
            .max_bytes(max_bytes)
            .open()
            .context("open the disk tier")
    };
    let tier = open()?;
    let mut rng = SmallRng::seed_from_u64(args.seed);
    let mut value = vec![0u8; args.shape.value_bytes];

    // Only the time inside `put_many` counts: generating 1 KiB of random
    // bytes per value costs about as much as storing it, and is not the
    // tier's work (the `disk-engines` benchmark counts the same way).
    let mut load = Duration::ZERO;
    let mut next = 0u64;
    while next < args.shape.entries {
        let end = (next + args.shape.batch as u64).min(args.shape.entries);
        let writes = (next..end)
            .map(|i| {
                rng.fill_bytes(&mut value);
                TierWrite {
                    key: key(i),
                    bytes: value.clone(),
                    expires_at_ms: None,
                }
            })
            .collect();
        let started = Instant::now();
        tier.put_many(writes).await?;
        load += started.elapsed();
        next = end;
    }
    let put_rate = args.shape.entries as f64 / load.as_secs_f64();

    // Warm the page cache with one pass over a sample, then time.
    let sample: Vec<String> = (0..args.shape.gets)
        .map(|_| key(rng.random_range(0..args.shape.entries)))
        .collect();
    for k in &sample {
        tier.get(k).await?;
    }
    let mut histogram = Histogram::<u64>::new(3)?;
    let started = Instant::now();
    for k in &sample {
        let t = Instant::now();
        let found = tier.get(k).await?;
        histogram.record(t.elapsed().as_nanos() as u64)?;
        anyhow::ensure!(found.is_some(), "{k} missing from the store");
    }
    let get_rate = sample.len() as f64 / started.elapsed().as_secs_f64();
    let stats = tier.stats();
    tier.close().await?;
    drop(tier);

    let file_bytes = strata_bench::engines::dir_usage(&path)?.apparent;
    let started = Instant::now();
    let tier = open()?;
    let first = tier.get(&key(args.shape.entries / 2)).await?;
    let first_hit = started.elapsed();
    anyhow::ensure!(first.is_some(), "the reopened store lost its entries");
    tier.close().await?;

    let us = |q: f64| Duration::from_nanos(histogram.value_at_quantile(q)).as_secs_f64() * 1e6;
    Ok(vec![
        (
            "disk store: entries × value bytes".into(),
            format!("{} × {}", args.shape.entries, args.shape.value_bytes),
        ),
        (
            "disk store: size of its files (MB)".into(),
            format!("{:.0}", file_bytes as f64 / 1e6),
        ),
        (
            "disk store: logical bytes (MB)".into(),
            format!("{:.0}", stats.bytes as f64 / 1e6),
        ),
        (
            format!(
                "disk put_many, batches of {} (puts/s; target ≥ 100,000)",
                args.shape.batch
            ),
            format!("{put_rate:.0}"),
        ),
        (
            "disk random get, warm, 1 thread (gets/s; target ≥ 100,000)".into(),
            format!("{get_rate:.0}"),
        ),
        ("disk get p50 (µs)".into(), format!("{:.1}", us(0.5))),
        ("disk get p99 (µs)".into(), format!("{:.1}", us(0.99))),
        (
            "reopen to first hit (ms; target ≤ 1000)".into(),
            format!("{:.1}", first_hit.as_secs_f64() * 1e3),
        ),
    ])
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}
