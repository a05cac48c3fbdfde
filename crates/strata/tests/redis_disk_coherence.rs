//! Two instances of the recommended stack — memory, a local disk tier, then
//! the circuit breaker over one shared Redis — with a backplane: another
//! instance's write or invalidation, or a lost message, must not leave this
//! instance serving the old value from its own disk tier once its memory
//! tier has dropped it.
#![cfg(all(feature = "redis", feature = "disk"))]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::backplane::{DELIVERY, heard, received};
use common::proxy::Proxy;
use common::redis_server::{RedisServer, tier_builder};
use strata::tier::breaker::{BreakerBuilder, BreakerState, BreakerTier};
use strata::tier::disk::DiskTier;
use strata::tier::redis::{RedisBackplane, RedisTier, TransportMode};
use strata::{EntryOptions, ManualClock, MemoryCache, Tier, TieredCache};
use tempfile::TempDir;

const TIMEOUT: Duration = Duration::from_millis(300);
const PREFIX: &str = "app:";

/// One instance and the parts a test looks into.
struct Instance {
    cache: TieredCache<String>,
    disk: Arc<DiskTier>,
    breaker: BreakerTier<RedisTier>,
    _dir: TempDir,
}

/// Memory over its own disk over breaker(Redis at `tier_url`), with a
/// backplane on `bus_url` over `mode`.
async fn instance(
    tier_url: &str,
    bus_url: &str,
    mode: TransportMode,
    breaker: BreakerBuilder,
) -> Instance {
    let dir = tempfile::tempdir().unwrap();
    let disk = Arc::new(DiskTier::builder(dir.path().join("store")).open().unwrap());
    let redis = tier_builder(tier_url, PREFIX, TIMEOUT)
        .connect()
        .await
        .unwrap();
    let breaker = breaker.build(redis).unwrap();
    let backplane = RedisBackplane::builder(bus_url)
        .key_prefix(PREFIX)
        .heartbeat(Duration::from_millis(100))
        .command_timeout(TIMEOUT)
        .transport(mode)
        .connect()
        .await
        .unwrap();
    let memory = MemoryCache::builder().max_entries(100).build().unwrap();
    let cache = TieredCache::builder(memory)
        .tier(disk.clone())
        .tier(Arc::new(breaker.clone()))
        .backplane(Arc::new(backplane))
        .build()
        .unwrap();
    Instance {
        cache,
        disk,
        breaker,
        _dir: dir,
    }
}

async fn pair(server: &RedisServer, mode: TransportMode) -> (Instance, Instance) {
    let url = server.url();
    let a = instance(&url, &url, mode, BreakerBuilder::new()).await;
    let b = instance(&url, &url, mode, BreakerBuilder::new()).await;
    (a, b)
}

/// Whether `disk` holds `key`.
async fn on_disk(disk: &DiskTier, key: &str) -> bool {
    disk.get(key).await.unwrap().is_some()
}

/// Reads `key` on `b` until it answers `expected`, for at most
/// [`DELIVERY`]; whether it did.
async fn reads_eventually(b: &TieredCache<String>, key: &str, expected: Option<&str>) -> bool {
    let deadline = Instant::now() + DELIVERY;
    loop {
        if b.get(key).await.as_deref() == expected {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Waits until `b` has reported a loss, for at most [`DELIVERY`].
async fn wait_for_loss(b: &TieredCache<String>) {
    let deadline = Instant::now() + DELIVERY;
    while b.stats().await.backplane.unwrap().lost == 0 {
        assert!(Instant::now() < deadline, "no loss reported");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// b holds `key` = `value` in memory and on disk (read from Redis).
async fn b_holds(b: &Instance, key: &str, value: &str) {
    assert_eq!(b.cache.get(key).await.as_deref(), Some(value));
    assert!(b.cache.memory().contains(key), "{key} in b's memory");
    assert!(on_disk(&b.disk, key).await, "{key} on b's disk");
}

async fn a_write_is_not_served_stale_from_the_others_disk(mode: TransportMode) {
    let server = RedisServer::start();
    let (a, b) = pair(&server, mode).await;

    a.cache.set("k", "old".to_owned()).await.unwrap();
    heard(&b.cache, 1).await;
    b_holds(&b, "k", "old").await;

    let before = received(&b.cache).await;
    a.cache.set("k", "new".to_owned()).await.unwrap();
    heard(&b.cache, before + 1).await;
    assert!(!b.cache.memory().contains("k"));
    assert!(!on_disk(&b.disk, "k").await, "b's disk kept the old value");
    assert_eq!(b.cache.get("k").await.as_deref(), Some("new"));
    // Out of memory again: the read goes to b's disk, which has the new
    // value now (promoted from Redis).
    b.cache.memory().clear();
    assert_eq!(b.cache.get("k").await.as_deref(), Some("new"));

    let before = received(&b.cache).await;
    a.cache.remove("k").await.unwrap();
    heard(&b.cache, before + 1).await;
    b.cache.memory().clear();
    assert_eq!(b.cache.get("k").await, None, "b's disk kept a removed key");
    let stats = b.cache.stats().await.backplane.unwrap();
    assert_eq!(stats.local_tier_errors, 0, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_is_not_served_stale_from_the_others_disk_over_pub_sub() {
    a_write_is_not_served_stale_from_the_others_disk(TransportMode::PubSub).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_is_not_served_stale_from_the_others_disk_over_client_tracking() {
    a_write_is_not_served_stale_from_the_others_disk(TransportMode::ClientTracking).await;
}

/// Prefix, pattern and clear travel over pub/sub whatever the transport
/// (client tracking reports keys, not patterns), so pub/sub alone here.
/// Tags need nothing on disk: the entry there carries the tag's old epoch,
/// and every lower-tier read checks it against Redis's (checked too).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefix_pattern_tag_and_clear_are_not_served_stale_from_the_others_disk() {
    let server = RedisServer::start();
    let (a, b) = pair(&server, TransportMode::PubSub).await;
    let keys = ["order:1", "order:2", "cart:1", "misc", "user:1"];
    for key in keys {
        let options = if key == "user:1" {
            EntryOptions::new().with_tag("users")
        } else {
            EntryOptions::new()
        };
        a.cache
            .set_with(key, format!("{key} v1"), options)
            .await
            .unwrap();
    }
    heard(&b.cache, keys.len() as u64).await;
    for key in keys {
        b_holds(&b, key, &format!("{key} v1")).await;
    }

    let mut heard_so_far = received(&b.cache).await;

    a.cache.invalidate_prefix("order:").await.unwrap();
    next(&b, &mut heard_so_far).await;
    assert_eq!(b.cache.get("order:1").await, None, "stale from b's disk");
    assert_eq!(b.cache.get("order:2").await, None, "stale from b's disk");

    a.cache.invalidate_pattern("cart:*").await.unwrap();
    next(&b, &mut heard_so_far).await;
    assert_eq!(b.cache.get("cart:1").await, None, "stale from b's disk");
    assert!(
        on_disk(&b.disk, "misc").await,
        "what no message named stays"
    );

    a.cache.invalidate_tag("users").await.unwrap();
    next(&b, &mut heard_so_far).await;
    assert_eq!(b.cache.get("user:1").await, None, "stale by Redis's epoch");

    a.cache.clear().await.unwrap();
    next(&b, &mut heard_so_far).await;
    assert_eq!(b.cache.get("misc").await, None, "stale from b's disk");
    assert_eq!(b.disk.stats().entries, 0);
}

/// Waits for one more message at `b`, then empties its memory tier, so the
/// reads that follow go to its disk tier first.
async fn next(b: &Instance, heard_so_far: &mut u64) {
    *heard_so_far += 1;
    heard(&b.cache, *heard_so_far).await;
    b.cache.memory().clear();
}

/// b's backplane is cut while a writes: b misses the message. Pub/sub
/// reports the loss when b has subscribed again; b must then not serve its
/// disk copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_message_does_not_leave_the_old_value_on_disk() {
    let server = RedisServer::start();
    let proxy = Proxy::start(server.port()).await;
    let url = server.url();
    let a = instance(&url, &url, TransportMode::PubSub, BreakerBuilder::new()).await;
    let b = instance(
        &url,
        &proxy.url(),
        TransportMode::PubSub,
        BreakerBuilder::new(),
    )
    .await;
    a.cache.set("k", "old".to_owned()).await.unwrap();
    heard(&b.cache, 1).await;
    b_holds(&b, "k", "old").await;

    proxy.cut();
    a.cache.set("k", "new".to_owned()).await.unwrap();
    proxy.restore();
    wait_for_loss(&b.cache).await;
    assert!(
        reads_eventually(&b.cache, "k", Some("new")).await,
        "b kept serving the old value after losing the backplane"
    );
    assert!(b.cache.stats().await.backplane.unwrap().lost >= 1);
    b.cache.memory().clear();
    assert_eq!(b.cache.get("k").await.as_deref(), Some("new"));
}

/// b is cut off from Redis entirely (tier and backplane): its disk keeps
/// serving while its breaker is open, even after the loss is reported
/// (clearing it then would leave nothing to serve), and once the breaker
/// closes the loss is acted on: a's write
/// made during the outage is read, not b's disk copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loss_during_an_outage_clears_the_disk_once_redis_is_back() {
    let server = RedisServer::start();
    let proxy = Proxy::start(server.port()).await;
    let url = server.url();
    let clock = Arc::new(ManualClock::at_unix_millis(1_700_000_000_000));
    let settings = BreakerBuilder::new()
        .min_calls(5)
        .failure_rate(0.5)
        .open_interval(Duration::from_secs(60))
        .clock(clock.clone());
    let a = instance(&url, &url, TransportMode::PubSub, BreakerBuilder::new()).await;
    let b = instance(&proxy.url(), &proxy.url(), TransportMode::PubSub, settings).await;
    a.cache.set("k", "old".to_owned()).await.unwrap();
    heard(&b.cache, 1).await;
    b_holds(&b, "k", "old").await;

    proxy.cut();
    for _ in 0..50 {
        if b.breaker.state() == BreakerState::Open {
            break;
        }
        let _ = b.breaker.get("probe").await;
    }
    assert_eq!(b.breaker.state(), BreakerState::Open);
    a.cache.set("k", "new".to_owned()).await.unwrap();
    // b subscribes again and reports the loss while its breaker is still
    // open (its clock is manual): the disk still serves, fail-safe.
    proxy.restore();
    wait_for_loss(&b.cache).await;
    assert_eq!(b.cache.get("k").await.as_deref(), Some("old"));
    assert!(on_disk(&b.disk, "k").await);

    for _ in 0..5 {
        clock.advance(Duration::from_secs(61));
        if b.breaker.recover().await == BreakerState::Closed {
            break;
        }
    }
    assert_eq!(b.breaker.state(), BreakerState::Closed);
    assert!(
        reads_eventually(&b.cache, "k", Some("new")).await,
        "b kept serving its disk copy after the outage"
    );
    b.cache.memory().clear();
    assert_eq!(b.cache.get("k").await.as_deref(), Some("new"));
}
