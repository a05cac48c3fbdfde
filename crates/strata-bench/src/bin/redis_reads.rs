//! `redis-reads`: read throughput of a `TieredCache` over a real Redis
//! server when 99% of reads hit the memory tier, against the same reads
//! sent straight to Redis through the same client (`RedisTier`), with the
//! same concurrency (the Redis issue's target: ≥ 30×).
//!
//! The 1% that miss the memory tier are keys that exist nowhere, so each
//! one costs a Redis round trip and fills nothing; the 99% are keys loaded
//! into both Redis and the memory tier beforehand.
//!
//! ```sh
//! cargo run --release -p strata-bench --bin redis-reads -- --seconds 3
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use strata::tier::redis::RedisTier;
use strata::{MemoryCache, Tier, TieredCache};
use strata_bench::redis_process::RedisProcess;

/// Measure reads through the tiered cache against direct Redis reads.
#[derive(Debug, Parser)]
#[command(name = "redis-reads")]
struct Args {
    /// Seconds each side runs.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Concurrent reading tasks, on both sides.
    #[arg(long, default_value_t = 2)]
    tasks: usize,
    /// Keys loaded (the hot set).
    #[arg(long, default_value_t = 10_000)]
    keys: u64,
}

/// The key a task reads at step `i`: one in 100 is a key stored nowhere.
fn key(keys: u64, task: usize, i: u64) -> String {
    let n = i
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(task as u64);
    if i % 100 == 99 {
        format!("absent:{n}")
    } else {
        format!("k:{}", n % keys)
    }
}

async fn run<F, Fut>(args: &Args, read: F) -> f64
where
    F: Fn(String) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let until = Instant::now() + Duration::from_secs_f64(args.seconds);
    let tasks: Vec<_> = (0..args.tasks)
        .map(|task| {
            let read = read.clone();
            let keys = args.keys;
            tokio::spawn(async move {
                let mut done = 0u64;
                while Instant::now() < until {
                    for _ in 0..64 {
                        read(key(keys, task, done)).await;
                        done += 1;
                    }
                }
                done
            })
        })
        .collect();
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap_or(0);
    }
    total as f64 / args.seconds
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let server = RedisProcess::start(dir.path())?;
    let url = server.url();
    let tier = RedisTier::builder(url.clone())
        .key_prefix("reads:")
        .connect()
        .await?;
    let memory = MemoryCache::builder().max_entries(args.keys * 2).build()?;
    let cache: TieredCache<u64> = TieredCache::builder(memory)
        .tier(Arc::new(tier.clone()))
        .build()?;
    for k in 0..args.keys {
        cache.set(format!("k:{k}"), k).await?;
    }

    let through = {
        let cache = cache.clone();
        run(&args, move |key| {
            let cache = cache.clone();
            async move {
                std::hint::black_box(cache.get(&key).await);
            }
        })
        .await
    };
    let direct = {
        let tier = tier.clone();
        run(&args, move |key| {
            let tier = tier.clone();
            async move {
                // The same stored key, as the tier names it.
                std::hint::black_box(tier.get(&key).await.ok());
            }
        })
        .await
    };
    let stats = cache.stats().await;
    let hit = stats.memory_hits as f64 / (stats.memory_hits + stats.memory_misses).max(1) as f64;
    println!(
        "command: `cargo run --release -p strata-bench --bin redis-reads -- --seconds {} --tasks {} --keys {}`",
        args.seconds, args.tasks, args.keys
    );
    println!("(2 shared cores; redis-server on this machine, loopback)\n");
    println!("| measure | value |\n|---|---:|");
    println!("| memory-tier hit ratio | {:.2}% |", hit * 100.0);
    println!("| TieredCache over Redis (reads/s) | {through:.0} |");
    println!("| direct RedisTier reads (reads/s) | {direct:.0} |");
    println!("| ratio (target ≥ 30×) | {:.1}× |", through / direct);
    Ok(())
}
