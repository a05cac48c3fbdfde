//! `redis-outage`: what a Redis outage costs the callers of a tiered cache
//! of memory, disk and Redis behind a circuit breaker.
//!
//! ```sh
//! cargo run --release -p strata-bench --bin redis-outage
//! ```
//!
//! Starts a `redis-server` of its own (`scripts/ensure-redis.sh` installs
//! it), fills `--keys` keys through every tier, then runs `--tasks`
//! concurrent callers for `--phase-secs` in each phase: Redis healthy,
//! Redis killed, Redis restarted (healthy again), Redis stalled (SIGSTOP).
//! Callers read keys the memory or disk tier holds (servable), keys no tier
//! holds (`--miss-percent`: those reach Redis) and write
//! (`--write-percent`). Every setting not given is the library's default.
//!
//! A write that fails (Redis failing before the breaker opens) removes its
//! key from every tier — write-through's rule, so no tier keeps the value
//! the write meant to replace — so that key is no longer servable until a
//! later write succeeds: reads of it are counted apart, not as failures.
//!
//! Prints one markdown table row per phase — request latency p50/p99/max,
//! servable reads that failed, writes that failed, when the breaker opened
//! — and the target: with Redis stopped, p99 request latency below twice
//! the soft timeout (the Redis tier's command timeout) and no servable read
//! failing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use hdrhistogram::Histogram;
use rand::rngs::SmallRng;
use rand::{RngExt as _, SeedableRng as _};
use strata::tier::breaker::{BreakerBuilder, BreakerState, BreakerTier};
use strata::tier::disk::DiskTier;
use strata::tier::redis::RedisTier;
use strata::{MemoryCache, TieredCache};
use strata_bench::redis_process::RedisProcess;

#[derive(Debug, Parser)]
#[command(about = "Request latency and errors of a tiered cache while Redis is down")]
struct Args {
    /// Keys written through every tier before the phases.
    #[arg(long, default_value_t = 20_000)]
    keys: u64,
    /// Bytes of each value.
    #[arg(long, default_value_t = 512)]
    value_bytes: usize,
    /// Entries the memory tier holds (the rest of the keys are on disk).
    #[arg(long, default_value_t = 2_000)]
    memory_entries: u64,
    /// Concurrent callers.
    #[arg(long, default_value_t = 4)]
    tasks: usize,
    /// Seconds each phase runs.
    #[arg(long, default_value_t = 10.0)]
    phase_secs: f64,
    /// Percent of requests that read keys no tier holds.
    #[arg(long, default_value_t = 10)]
    miss_percent: u32,
    /// Percent of requests that write a servable key.
    #[arg(long, default_value_t = 2)]
    write_percent: u32,
    /// The Redis tier's command timeout, the "soft timeout" of the target
    /// (default: the library's, 250 ms).
    #[arg(long)]
    command_timeout_ms: Option<u64>,
    /// The breaker's window (default: the library's, 10 s).
    #[arg(long)]
    window_ms: Option<u64>,
    /// The breaker's open interval (default: the library's, 5 s).
    #[arg(long)]
    open_interval_ms: Option<u64>,
    /// Where the disk store and Redis's directory are made.
    #[arg(long, default_value = "/tmp")]
    dir: std::path::PathBuf,
    /// Seed of the request mix.
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

/// The library's default command timeout, for the report when none is
/// given (`RedisTierBuilder::command_timeout`).
const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_millis(250);

struct Bench {
    args: Args,
    cache: TieredCache<String>,
    breaker: BreakerTier<RedisTier>,
    /// Keys whose latest write failed (so no tier holds them), or is in
    /// flight (and may fail).
    removed: Vec<AtomicBool>,
}

/// What one phase measured.
struct Phase {
    name: &'static str,
    latency: Histogram<u64>,
    servable: u64,
    servable_failed: u64,
    /// Reads of keys a failed write had removed from every tier.
    removed_reads: u64,
    writes: u64,
    writes_failed: u64,
    opened_after: Option<Duration>,
    state_at_end: BreakerState,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // Two workers: the machine's cores, as a server would run.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("tokio runtime")?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let root = tempfile::tempdir_in(&args.dir).context("temp dir")?;
    let mut redis = RedisProcess::start(root.path())?;
    let command_timeout = args
        .command_timeout_ms
        .map_or(DEFAULT_COMMAND_TIMEOUT, Duration::from_millis);
    let bench = Arc::new(build(args, &redis, root.path()).await?);
    let fill_started = Instant::now();
    for i in 0..bench.args.keys {
        bench
            .cache
            .set(key(i), value(i, bench.args.value_bytes))
            .await?;
    }
    let fill = fill_started.elapsed();

    let mut phases = vec![phase(&bench, "healthy").await?];
    redis.stop();
    phases.push(phase(&bench, "killed").await?);
    let replayed_before = bench.breaker.breaker_stats().replayed;
    redis.restart()?;
    let (closed_after_kill, replayed) = until_closed(&bench).await?;
    let replayed = replayed - replayed_before;
    phases.push(phase(&bench, "restarted").await?);
    redis.pause()?;
    let stalled = phase(&bench, "stalled").await;
    redis.resume()?;
    phases.push(stalled?);
    let (closed_after_stall, _) = until_closed(&bench).await?;

    println!("{}", std::env::args().collect::<Vec<_>>().join(" "));
    println!(
        "({} keys filled in {:.1} s; {} callers; 2 shared cores; figures vary run to run)\n",
        bench.args.keys,
        fill.as_secs_f64(),
        bench.args.tasks
    );
    println!(
        "| Redis | requests | p50 (µs) | p99 (µs) | max (ms) | servable reads failed | reads of keys a failed write removed | writes failed | breaker opened after | breaker at end |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for p in &phases {
        let us = |q: f64| p.latency.value_at_quantile(q) as f64 / 1e3;
        println!(
            "| {} | {} | {:.1} | {:.1} | {:.1} | {} of {} | {} | {} of {} | {} | {} |",
            p.name,
            p.latency.len(),
            us(0.5),
            us(0.99),
            p.latency.max() as f64 / 1e6,
            p.servable_failed,
            p.servable,
            p.removed_reads,
            p.writes_failed,
            p.writes,
            p.opened_after.map_or("—".to_owned(), |d| format!(
                "{:.0} ms",
                d.as_secs_f64() * 1e3
            )),
            p.state_at_end,
        );
    }
    println!(
        "\nrecovery: closed {:.0} ms after the restart ({replayed} queued writes replayed), \
         {:.0} ms after the stall ended",
        closed_after_kill.as_secs_f64() * 1e3,
        closed_after_stall.as_secs_f64() * 1e3,
    );
    let limit = command_timeout * 2;
    let met = phases
        .iter()
        .filter(|p| matches!(p.name, "killed" | "stalled"))
        .all(|p| {
            Duration::from_nanos(p.latency.value_at_quantile(0.99)) < limit
                && p.servable_failed == 0
        });
    println!(
        "target: with Redis stopped, p99 < 2 × soft timeout ({} ms) and no servable read failing: {}",
        limit.as_millis(),
        if met { "met" } else { "NOT met" }
    );
    Ok(())
}

async fn build(args: Args, redis: &RedisProcess, root: &std::path::Path) -> anyhow::Result<Bench> {
    let disk = DiskTier::builder(root.join("store")).open()?;
    let mut tier = RedisTier::builder(redis.url()).key_prefix("outage:");
    if let Some(ms) = args.command_timeout_ms {
        tier = tier.command_timeout(Duration::from_millis(ms));
    }
    let mut settings = BreakerBuilder::new();
    if let Some(ms) = args.window_ms {
        settings = settings.window(Duration::from_millis(ms));
    }
    if let Some(ms) = args.open_interval_ms {
        settings = settings.open_interval(Duration::from_millis(ms));
    }
    let breaker = settings.build(tier.connect().await?)?;
    let memory = MemoryCache::builder()
        .max_entries(args.memory_entries)
        .build()?;
    let cache = TieredCache::builder(memory)
        .tier(Arc::new(disk))
        .tier(Arc::new(breaker.clone()))
        .build()?;
    Ok(Bench {
        removed: (0..args.keys).map(|_| AtomicBool::new(false)).collect(),
        args,
        cache,
        breaker,
    })
}

impl Phase {
    fn new(name: &'static str) -> anyhow::Result<Self> {
        Ok(Self {
            name,
            // 1 ns to an hour, 3 significant digits.
            latency: Histogram::new_with_bounds(1, 3_600_000_000_000, 3)?,
            servable: 0,
            servable_failed: 0,
            removed_reads: 0,
            writes: 0,
            writes_failed: 0,
            opened_after: None,
            state_at_end: BreakerState::Closed,
        })
    }
}

/// Runs the request mix from every caller for one phase.
async fn phase(bench: &Arc<Bench>, name: &'static str) -> anyhow::Result<Phase> {
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(bench.args.phase_secs);
    let monitor = {
        let bench = Arc::clone(bench);
        tokio::spawn(async move {
            while Instant::now() < deadline {
                if bench.breaker.state() == BreakerState::Open {
                    return Some(started.elapsed());
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            None
        })
    };
    let callers: Vec<_> = (0..bench.args.tasks)
        .map(|task| {
            let bench = Arc::clone(bench);
            tokio::spawn(async move { caller(&bench, task as u64, deadline).await })
        })
        .collect();
    let mut phase = Phase::new(name)?;
    for caller in callers {
        let part = caller.await.context("a caller panicked")??;
        phase.latency.add(&part.latency)?;
        phase.servable += part.servable;
        phase.servable_failed += part.servable_failed;
        phase.removed_reads += part.removed_reads;
        phase.writes += part.writes;
        phase.writes_failed += part.writes_failed;
    }
    phase.opened_after = monitor.await.context("the monitor panicked")?;
    phase.state_at_end = bench.breaker.state();
    Ok(phase)
}

/// One caller's loop until `deadline`.
async fn caller(bench: &Bench, task: u64, deadline: Instant) -> anyhow::Result<Phase> {
    let args = &bench.args;
    let mut rng = SmallRng::seed_from_u64(args.seed ^ task.wrapping_mul(0x9E37_79B9));
    let mut part = Phase::new("")?;
    let mut n = 0u64;
    while Instant::now() < deadline {
        let roll = rng.random_range(0..100);
        let i = rng.random_range(0..args.keys);
        let started = Instant::now();
        if roll < args.miss_percent {
            // No tier holds it: a miss everywhere, which reaches Redis.
            let _ = bench.cache.get(&format!("absent:{task}:{n}")).await;
        } else if roll < args.miss_percent + args.write_percent {
            part.writes += 1;
            // Marked before the write: while it runs, a failure may remove
            // the key from every tier before the write returns.
            let removed = &bench.removed[i as usize];
            removed.store(true, Ordering::SeqCst);
            let written = bench.cache.set(key(i), value(i, args.value_bytes)).await;
            part.writes_failed += u64::from(written.is_err());
            removed.store(written.is_err(), Ordering::SeqCst);
        } else {
            let removed = || bench.removed[i as usize].load(Ordering::SeqCst);
            let removed_before = removed();
            let read = bench.cache.get(&key(i)).await;
            // Checked on both sides: a write of the key may race the read.
            if removed_before || removed() {
                part.removed_reads += 1;
            } else {
                part.servable += 1;
                part.servable_failed += u64::from(read != Some(value(i, args.value_bytes)));
            }
        }
        part.latency
            .saturating_record(started.elapsed().as_nanos() as u64);
        n += 1;
    }
    Ok(part)
}

/// Waits until the breaker has closed again; returns how long it took and
/// the breaker's replayed writes by then.
async fn until_closed(bench: &Bench) -> anyhow::Result<(Duration, u64)> {
    let started = Instant::now();
    while bench.breaker.state() != BreakerState::Closed {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(120),
            "the breaker did not close: {:?}",
            bench.breaker.breaker_stats()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok((started.elapsed(), bench.breaker.breaker_stats().replayed))
}

fn key(i: u64) -> String {
    format!("outage:key:{i}")
}

/// The value of key `i`: its number, padded to `bytes`.
fn value(i: u64, bytes: usize) -> String {
    let mut value = format!("{i}:");
    let pad = bytes.saturating_sub(value.len());
    value.extend(std::iter::repeat_n('x', pad));
    value
}
