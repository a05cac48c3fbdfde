//! The circuit breaker around a real Redis tier, under a tiered cache of
//! memory + disk + breaker(Redis), with Redis killed, restarted on the same
//! port and stalled: the breaker opens, the memory and disk tiers keep
//! serving, no request waits on Redis, queued writes land when it is back,
//! and a slow Redis trips the breaker on latency.
//!
//! Each test has its own `redis-server` on its own port. Real time passes
//! here only where Redis is involved (its stalls, the open interval before
//! it is probed again); the cache's clock is manual.
#![cfg(all(feature = "redis", feature = "disk"))]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::backplane::{eventually, heard};
use common::proxy::Proxy;
use common::redis_server::{RedisServer, tier_builder};
use strata::tier::breaker::{BreakerBuilder, BreakerState, BreakerTier, TransitionReason};
use strata::tier::disk::DiskTier;
use strata::tier::redis::{RedisBackplane, RedisTier};
use strata::{EntryOptions, ManualClock, MemoryCache, Tier, TierHealth, TieredCache};
use tempfile::TempDir;

/// The Redis tier's command timeout: the "soft timeout" the latency target
/// is stated against (no request may wait on Redis longer than this).
const COMMAND_TIMEOUT: Duration = Duration::from_millis(200);
/// A generous bound on any one request while Redis is dead or stalled: its
/// timeout plus scheduling slack on a loaded two-core machine. A bound,
/// not a measurement: it fails only if a request hangs.
const FAIL_WITHIN: Duration = Duration::from_millis(600);
/// The cache's calendar time (any fixed date: Redis gets relative TTLs).
const T0: u64 = 1_700_000_000_000;
const PREFIX: &str = "breaker:";

fn redis(server: &RedisServer) -> strata::tier::redis::RedisTierBuilder {
    tier_builder(&server.url(), PREFIX, COMMAND_TIMEOUT)
}

/// A breaker that opens after a handful of calls, so the tests need little
/// traffic to trip it.
fn breaker_settings() -> BreakerBuilder {
    BreakerBuilder::new()
        .min_calls(5)
        .failure_rate(0.5)
        .latency_budget(Duration::from_millis(50))
        .open_interval(Duration::from_secs(60))
}

/// A memory tier of 16 entries over a disk tier over the breaker over
/// Redis: most keys written are served from disk.
struct Stack {
    cache: TieredCache<String>,
    breaker: BreakerTier<RedisTier>,
    clock: Arc<ManualClock>,
    _dir: TempDir,
}

/// The cache's clock, manual. Tests that give the breaker the same one
/// move it past the breaker's window after filling the cache, as if the
/// writes were made more than a window before Redis went away; otherwise
/// the breaker judges those writes' successes together with the failures
/// (as it would in production during the first window of an outage).
fn manual_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::at_unix_millis(T0))
}

async fn stack(server: &RedisServer, clock: Arc<ManualClock>, settings: BreakerBuilder) -> Stack {
    let dir = tempfile::tempdir().unwrap();
    let disk = DiskTier::builder(dir.path().join("store"))
        .clock(clock.clone())
        .open()
        .unwrap();
    let breaker = settings
        .build(redis(server).connect().await.unwrap())
        .unwrap();
    let memory = MemoryCache::builder()
        .max_entries(16)
        .clock(clock.clone())
        .build()
        .unwrap();
    let cache = TieredCache::builder(memory)
        .tier(Arc::new(disk))
        .tier(Arc::new(breaker.clone()))
        .clock(clock.clone())
        .build()
        .unwrap();
    Stack {
        cache,
        breaker,
        clock,
        _dir: dir,
    }
}

fn value(i: usize) -> String {
    format!("value {i}")
}

/// Writes `n` keys through every tier; every fourth carries a tag.
async fn fill(cache: &TieredCache<String>, n: usize) {
    for i in 0..n {
        let options = if i % 4 == 0 {
            EntryOptions::new().with_tag("users")
        } else {
            EntryOptions::new()
        };
        cache
            .set_with(format!("k{i}"), value(i), options)
            .await
            .unwrap();
    }
}

/// Latencies of a run of reads, and how many of those the memory or disk
/// tier could serve came back wrong or missing.
#[derive(Debug, Default)]
struct Run {
    latencies: Vec<Duration>,
    errors: usize,
    served: usize,
}

impl Run {
    fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }

    fn max(&self) -> Duration {
        self.latencies.iter().copied().max().unwrap_or_default()
    }
}

/// `reads` reads: nine in ten of keys the memory or disk tier holds (`k0`
/// .. `k{n-1}`), one in ten of keys no tier holds (those reach Redis).
async fn read_run(cache: &TieredCache<String>, n: usize, reads: usize) -> Run {
    let mut run = Run::default();
    for r in 0..reads {
        let started = Instant::now();
        if r % 10 == 9 {
            assert_eq!(cache.get(&format!("absent{r}")).await, None);
        } else {
            let i = (r * 7) % n;
            run.served += 1;
            if cache.get(&format!("k{i}")).await != Some(value(i)) {
                run.errors += 1;
            }
        }
        run.latencies.push(started.elapsed());
    }
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_opens_the_breaker_and_memory_and_disk_keep_serving() {
    let mut server = RedisServer::start();
    let clock = manual_clock();
    let stack = stack(&server, clock.clone(), breaker_settings().clock(clock)).await;
    fill(&stack.cache, 100).await;
    let redis = stack.breaker.inner().clone();

    server.stop();
    // Past the breaker's window, and past the cache's epoch refresh: tagged
    // entries read from disk need every tier's epochs again (the breaker
    // answers the last known).
    stack.clock.advance(Duration::from_secs(11));
    let run = read_run(&stack.cache, 100, 400).await;
    assert_eq!(
        run.errors, 0,
        "of {} reads the other tiers can serve",
        run.served
    );
    assert!(run.max() < FAIL_WITHIN, "a read took {:?}", run.max());
    assert_eq!(stack.breaker.state(), BreakerState::Open);
    assert!(matches!(
        stack
            .breaker
            .breaker_stats()
            .last_transition
            .unwrap()
            .reason,
        TransitionReason::ErrorRate { .. }
    ));

    // Open: misses do not touch Redis at all, and health says why.
    let round_trips = redis.redis_stats().round_trips;
    let run = read_run(&stack.cache, 100, 200).await;
    assert_eq!(run.errors, 0);
    assert_eq!(
        redis.redis_stats().round_trips,
        round_trips,
        "no call reached Redis"
    );
    assert!(stack.breaker.breaker_stats().rejected >= 20);
    let started = Instant::now();
    let health = stack.breaker.health().await;
    assert!(
        matches!(&health, TierHealth::Down(why) if why.contains("circuit breaker open")),
        "{health:?}"
    );
    assert!(started.elapsed() < FAIL_WITHIN);
    // Writes keep working: memory and disk now, Redis when it is back.
    stack.cache.set("new", "written".into()).await.unwrap();
    assert_eq!(stack.cache.get("new").await.as_deref(), Some("written"));
    assert_eq!(stack.breaker.breaker_stats().queued, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_closes_the_breaker_and_queued_writes_land() {
    let mut server = RedisServer::start();
    let settings = breaker_settings()
        .open_interval(Duration::from_millis(300))
        .half_open_probes(2);
    // The breaker keeps the real clock: its open interval passes in real
    // time, and its background task probes Redis when it has.
    let stack = stack(&server, manual_clock(), settings).await;
    let cache = &stack.cache;

    server.stop();
    for i in 0..10 {
        assert_eq!(cache.get(&format!("absent{i}")).await, None);
    }
    assert_eq!(stack.breaker.state(), BreakerState::Open);

    for i in 0..20 {
        cache.set(format!("queued{i}"), value(i)).await.unwrap();
    }
    // Put then delete while open: after the replay the key must be absent
    // (the restarted Redis is empty, so only a replay out of order could
    // leave it there).
    cache.set("doomed", "stale".into()).await.unwrap();
    assert!(
        cache.remove("doomed").await.unwrap(),
        "in memory and on disk"
    );
    let queued = stack.breaker.breaker_stats();
    assert_eq!((queued.queued, queued.dropped), (22, 0));

    let port = server.port();
    server.restart();
    assert_eq!(server.port(), port, "the address the tier knows");
    // The background task probes after each open interval; the first
    // attempt may still meet the connection that failed while Redis was
    // down, and open the breaker for one more interval.
    let started = Instant::now();
    while stack.breaker.state() != BreakerState::Closed {
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "never closed: {:?}",
            stack.breaker.breaker_stats()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stats = stack.breaker.breaker_stats();
    assert_eq!(
        (stats.replayed, stats.queued_now, stats.dropped),
        (22, 0, 0)
    );

    // What another instance reads from Redis now.
    let memory = MemoryCache::builder().max_entries(100).build().unwrap();
    let other: TieredCache<String> = TieredCache::builder(memory)
        .tier(Arc::new(redis(&server).connect().await.unwrap()))
        .build()
        .unwrap();
    for i in 0..20 {
        assert_eq!(
            other.get(&format!("queued{i}")).await,
            Some(value(i)),
            "queued{i}"
        );
    }
    assert_eq!(other.get("doomed").await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_redis_trips_the_breaker_on_latency() {
    let server = RedisServer::start();
    // Long enough that the stalled calls answer instead of timing out:
    // this is about latency, not errors.
    let redis = redis(&server)
        .command_timeout(Duration::from_secs(2))
        .connect()
        .await
        .unwrap();
    let breaker = Arc::new(
        breaker_settings()
            .min_calls(4)
            .slow_call_rate(0.5)
            .build(redis)
            .unwrap(),
    );
    for _ in 0..3 {
        assert_eq!(breaker.get("k").await.unwrap(), None);
    }

    server.pause();
    let mut stalled = Vec::new();
    for _ in 0..6 {
        let breaker = Arc::clone(&breaker);
        stalled.push(tokio::spawn(async move { breaker.get("k").await }));
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    server.resume();
    for call in stalled {
        assert_eq!(call.await.unwrap().unwrap(), None, "answered, slowly");
    }
    assert_eq!(breaker.state(), BreakerState::Open);
    let reason = breaker.breaker_stats().last_transition.unwrap().reason;
    assert!(
        matches!(reason, TransitionReason::SlowCalls { .. }),
        "{reason:?}"
    );
    let started = Instant::now();
    assert!(breaker.get("k").await.is_err());
    assert!(
        started.elapsed() < Duration::from_millis(50),
        "refused at once"
    );
}

/// How Redis goes away in the latency target.
#[derive(Debug, Clone, Copy)]
enum Outage {
    /// SIGKILL: connections refused at once.
    Killed,
    /// SIGSTOP: connections stay open and nothing answers, so requests wait
    /// for the command timeout until the breaker opens.
    Stalled,
}

/// The target: with Redis stopped (killed, or stalled), the p99 latency of
/// requests stays below twice the soft timeout (the Redis tier's command
/// timeout), and no read the memory or disk tier can serve fails. The
/// latency checks are generous bounds, not measurements; `strata-bench`'s
/// `redis-outage` measures the figures (docs/circuit-breaker.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_stopped_p99_stays_under_twice_the_soft_timeout_and_reads_do_not_fail() {
    for outage in [Outage::Killed, Outage::Stalled] {
        let mut server = RedisServer::start();
        let clock = manual_clock();
        let stack = stack(&server, clock.clone(), breaker_settings().clock(clock)).await;
        fill(&stack.cache, 200).await;
        match outage {
            Outage::Killed => server.stop(),
            Outage::Stalled => server.pause(),
        }
        stack.clock.advance(Duration::from_secs(11));
        let run = read_run(&stack.cache, 200, 2_000).await;
        if let Outage::Stalled = outage {
            server.resume();
        }

        let (p99, max) = (run.percentile(0.99), run.max());
        eprintln!(
            "redis {outage:?}: {} reads, p50 {:?}, p99 {p99:?}, max {max:?}, {} errors of {} \
             servable reads",
            run.latencies.len(),
            run.percentile(0.5),
            run.errors,
            run.served
        );
        assert_eq!(run.errors, 0, "{outage:?}");
        assert!(p99 < COMMAND_TIMEOUT * 2, "{outage:?}: p99 {p99:?}");
        assert!(max < FAIL_WITHIN, "{outage:?}: max {max:?}");
        assert_eq!(stack.breaker.state(), BreakerState::Open, "{outage:?}");
    }
}

/// An instance of many: memory over disk over breaker(Redis at `url`),
/// with a pub/sub backplane on `server` itself (so it keeps hearing the
/// others while its tier is cut off).
async fn instance_over(
    server: &RedisServer,
    url: &str,
    breaker: BreakerBuilder,
) -> (TieredCache<String>, BreakerTier<RedisTier>, TempDir) {
    instance_at(server, url, breaker, Arc::new(strata::SystemClock::new())).await
}

/// As `instance_over`, with the cache's clock (which stamps its envelopes).
async fn instance_at(
    server: &RedisServer,
    url: &str,
    breaker: BreakerBuilder,
    clock: Arc<dyn strata::WallClock>,
) -> (TieredCache<String>, BreakerTier<RedisTier>, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let disk = DiskTier::builder(dir.path().join("store")).open().unwrap();
    let redis = tier_builder(url, PREFIX, COMMAND_TIMEOUT)
        .connect()
        .await
        .unwrap();
    let breaker = breaker.build(redis).unwrap();
    let backplane = RedisBackplane::connect(
        &server.url(),
        "breaker:bus",
        Duration::from_secs(1),
        COMMAND_TIMEOUT,
    )
    .await
    .unwrap();
    let cache = TieredCache::builder(MemoryCache::builder().max_entries(100).build().unwrap())
        .tier(Arc::new(disk))
        .tier(Arc::new(breaker.clone()))
        .backplane(Arc::new(backplane))
        .clock(clock)
        .build()
        .unwrap();
    (cache, breaker, dir)
}

/// Calls through the breaker until it opens (its tier is cut off).
async fn open(breaker: &BreakerTier<RedisTier>) {
    for _ in 0..50 {
        if breaker.state() == BreakerState::Open {
            return;
        }
        let _ = breaker.get("probe").await;
    }
    panic!("never opened: {:?}", breaker.breaker_stats());
}

/// Moves the breaker's clock past its open interval and runs the recovery
/// until it closes.
async fn close(breaker: &BreakerTier<RedisTier>, clock: &ManualClock) {
    for _ in 0..5 {
        clock.advance(Duration::from_secs(61));
        if breaker.recover().await == BreakerState::Closed {
            return;
        }
    }
    panic!("never closed: {:?}", breaker.breaker_stats());
}

/// b is cut off from Redis (its breaker opens) while a invalidates a tag.
/// While open, b's breaker answers the epochs it last saw, so b serves its
/// disk copy of a tagged entry and promotes it into memory (the documented
/// outage window). Once the breaker closes, b must not keep trusting what it
/// validated with those epochs: the entry must not be served any more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_outage_entries_validated_with_last_known_epochs_are_not_served() {
    let server = RedisServer::start();
    let proxy = Proxy::start(server.port()).await;
    let b_clock = manual_clock();
    let (a, _a_breaker, _a_dir) = instance_over(&server, &server.url(), breaker_settings()).await;
    let (b, b_breaker, _b_dir) = instance_over(
        &server,
        &proxy.url(),
        breaker_settings().clock(b_clock.clone()),
    )
    .await;

    let tagged = EntryOptions::new().with_tag("users");
    a.set_with("user:1", "Ada".to_owned(), tagged)
        .await
        .unwrap();
    heard(&b, 1).await;
    // From Redis, promoted into b's memory and disk; b's breaker sees the
    // tag's epoch.
    assert_eq!(b.get("user:1").await.as_deref(), Some("Ada"));

    proxy.cut();
    open(&b_breaker).await;
    a.invalidate_tag("users").await.unwrap();
    heard(&b, 2).await;
    assert!(!b.memory().contains("user:1"), "the tag message dropped it");
    // The premise: while open, b validates its disk copy with the last
    // known epoch and promotes it into memory.
    assert_eq!(b.get("user:1").await.as_deref(), Some("Ada"));
    assert!(b.memory().contains("user:1"));
    assert!(b_breaker.breaker_stats().epochs_from_memory >= 1);

    proxy.restore();
    close(&b_breaker, &b_clock).await;
    assert!(
        eventually(|| !b.memory().contains("user:1")).await,
        "b still holds an entry it validated with an out-of-date epoch"
    );
    assert_eq!(b.get("user:1").await, None, "stale by Redis's epoch");
    assert_eq!(b.stats().await.resyncs, 1);
    assert_eq!(a.get("user:1").await, None);
}

/// b writes a key while cut off from Redis (queued by its breaker); a
/// writes the same key later, straight to Redis. When b's breaker replays
/// its queue, a's value is the newer one and must stay in Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_write_does_not_overwrite_a_newer_write_of_another_instance() {
    let server = RedisServer::start();
    let proxy = Proxy::start(server.port()).await;
    let b_clock = manual_clock();
    // b's envelopes are stamped T0, a's a second later: the order of the
    // calls below, on clocks a test controls.
    let (b, b_breaker, _b_dir) = instance_at(
        &server,
        &proxy.url(),
        breaker_settings().clock(b_clock.clone()),
        Arc::new(ManualClock::at_unix_millis(T0)),
    )
    .await;
    let (a, _a_breaker, _a_dir) = instance_at(
        &server,
        &server.url(),
        breaker_settings(),
        Arc::new(ManualClock::at_unix_millis(T0 + 1_000)),
    )
    .await;

    proxy.cut();
    open(&b_breaker).await;
    b.set("k", "from b".to_owned()).await.unwrap();
    b.set("only b", "from b".to_owned()).await.unwrap();
    assert_eq!(b_breaker.breaker_stats().queued, 2);
    a.set("k", "from a".to_owned()).await.unwrap();

    proxy.restore();
    close(&b_breaker, &b_clock).await;

    // What any instance reads from Redis now.
    let reader: TieredCache<String> =
        TieredCache::builder(MemoryCache::builder().max_entries(10).build().unwrap())
            .tier(Arc::new(redis(&server).connect().await.unwrap()))
            .build()
            .unwrap();
    assert_eq!(
        reader.get("k").await.as_deref(),
        Some("from a"),
        "b's replay overwrote a's newer value"
    );
    assert_eq!(reader.get("only b").await.as_deref(), Some("from b"));
    let stats = b_breaker.breaker_stats();
    assert_eq!(
        (stats.replayed, stats.superseded_at_replay, stats.queued_now),
        (2, 1, 0),
        "{stats:?}"
    );
}
