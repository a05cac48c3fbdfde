//! `backplane-lag`: how long a mutation on one `TieredCache` takes to drop
//! the copy in another instance's memory tier, over a real Redis server's
//! pub/sub (the Redis issue's target: p99 ≤ 10 ms on loopback).
//!
//! Starts its own `redis-server` (from PATH; `scripts/ensure-redis.sh`
//! installs it) on a free port with no persistence, builds two instances
//! (memory tier + Redis tier + `RedisBackplane`), and for each round: `b`
//! reads the key (so its memory tier holds it), `a` writes a new value, and
//! the time from `a`'s write call to the key leaving `b`'s memory tier is
//! recorded.
//!
//! ```sh
//! cargo run --release -p strata-bench --bin backplane-lag -- --rounds 2000
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use hdrhistogram::Histogram;
use strata::tier::redis::{RedisBackplane, RedisTier};
use strata::{MemoryCache, TieredCache};
use strata_bench::redis_process::RedisProcess;

/// Measure the backplane's invalidation lag between two instances.
#[derive(Debug, Parser)]
#[command(name = "backplane-lag")]
struct Args {
    /// Write-then-drop rounds timed.
    #[arg(long, default_value_t = 2000)]
    rounds: u32,
}

async fn instance(url: &str) -> anyhow::Result<TieredCache<String>> {
    let timeout = Duration::from_millis(500);
    let tier = RedisTier::builder(url.to_owned())
        .key_prefix("lag:")
        .command_timeout(timeout)
        .connect()
        .await?;
    let backplane =
        RedisBackplane::connect(url, "lag:bus", Duration::from_secs(1), timeout).await?;
    let memory = MemoryCache::builder().max_entries(10_000).build()?;
    Ok(TieredCache::builder(memory)
        .tier(Arc::new(tier))
        .backplane(Arc::new(backplane))
        .build()?)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let server = RedisProcess::start(dir.path())?;
    let url = server.url();
    let a = instance(&url).await?;
    let b = instance(&url).await?;
    let mut lag = Histogram::<u64>::new(3)?;
    let key = "lag:key";
    for round in 0..args.rounds {
        a.set(key, format!("v{round}")).await?;
        // Wait until b has heard this write (its copy, if any, is gone),
        // then fill b's memory tier with the value a just wrote.
        let settle = Instant::now() + Duration::from_secs(5);
        loop {
            if b.get(key).await.as_deref() == Some(format!("v{round}").as_str()) {
                break;
            }
            anyhow::ensure!(Instant::now() < settle, "b never read round {round}");
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        // Let the message of a's write land first, so the next drop is the
        // one being timed.
        tokio::time::sleep(Duration::from_millis(1)).await;
        anyhow::ensure!(b.get(key).await.is_some() && b.memory().contains(key));
        let started = Instant::now();
        a.set(key, format!("w{round}")).await?;
        while b.memory().contains(key) {
            anyhow::ensure!(started.elapsed() < Duration::from_secs(5), "never dropped");
            tokio::task::yield_now().await;
        }
        lag.record(started.elapsed().as_micros() as u64)?;
    }
    let ms = |q: f64| lag.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "command: `cargo run --release -p strata-bench --bin backplane-lag -- --rounds {}`",
        args.rounds
    );
    println!("(2 shared cores; loopback; both instances and redis-server on this machine)\n");
    println!("| measure | value |\n|---|---:|");
    println!("| rounds | {} |", lag.len());
    println!("| lag p50 (ms) | {:.3} |", ms(0.5));
    println!("| lag p99 (ms; target ≤ 10) | {:.3} |", ms(0.99));
    println!("| lag max (ms) | {:.3} |", lag.max() as f64 / 1000.0);
    println!(
        "| messages lost (b) | {} |",
        b.stats().await.backplane.map_or(0, |r| r.lost)
    );
    Ok(())
}
