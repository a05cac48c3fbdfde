//! Two `TieredCache` instances sharing one real Redis server (tier and
//! backplane): a mutation on one is not served stale from the other's
//! memory tier after the backplane delay; fills do not broadcast; lost
//! messages clear the memory tier.
#![cfg(feature = "redis")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::backplane::{eventually, heard, received};
use common::redis_server::{RedisServer, tier_builder};
use common::tiers::GatedTier;
use strata::tier::redis::{RedisBackplane, RedisTier};
use strata::{EntryOptions, MemoryCache, TieredCache, WritePolicy};

const TIMEOUT: Duration = Duration::from_millis(300);

/// One instance: its own memory tier, the shared Redis tier, a backplane.
async fn instance(server: &RedisServer, heartbeat: Duration) -> TieredCache<String> {
    let tier = tier_builder(&server.url(), "app:", TIMEOUT)
        .connect()
        .await
        .unwrap();
    let backplane = RedisBackplane::connect(&server.url(), "app:bus", heartbeat, TIMEOUT)
        .await
        .unwrap();
    let memory = MemoryCache::builder().max_entries(1_000).build().unwrap();
    TieredCache::builder(memory)
        .tier(Arc::new(tier))
        .backplane(Arc::new(backplane))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_on_one_instance_drops_the_others_memory_copy() {
    let server = RedisServer::start();
    let a = instance(&server, Duration::from_secs(1)).await;
    let b = instance(&server, Duration::from_secs(1)).await;

    a.set("user:1", "Ada".to_owned()).await.unwrap();
    heard(&b, 1).await;
    assert_eq!(b.get("user:1").await.as_deref(), Some("Ada"));
    assert!(b.memory().contains("user:1"), "b holds it in memory");

    a.set("user:1", "Ada Lovelace".to_owned()).await.unwrap();
    assert!(
        eventually(|| !b.memory().contains("user:1")).await,
        "b still holds the old value in memory"
    );
    assert_eq!(b.get("user:1").await.as_deref(), Some("Ada Lovelace"));

    a.remove("user:1").await.unwrap();
    assert!(eventually(|| !b.memory().contains("user:1")).await);
    assert_eq!(b.get("user:1").await, None);

    // Fills never broadcast: b's read of a key a wrote is no mutation.
    a.set("user:2", "Grace".to_owned()).await.unwrap();
    let published = b.stats().await.backplane.unwrap().published;
    assert_eq!(b.get("user:2").await.as_deref(), Some("Grace"));
    assert_eq!(b.stats().await.backplane.unwrap().published, published);
    assert_eq!(a.stats().await.backplane.unwrap().publish_errors, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_prefix_pattern_and_clear_invalidations_reach_the_other_instance() {
    let server = RedisServer::start();
    let a = instance(&server, Duration::from_secs(1)).await;
    let b = instance(&server, Duration::from_secs(1)).await;
    let tagged = EntryOptions::new().with_tag("users");
    for (key, options) in [
        ("user:1", tagged.clone()),
        ("user:2", tagged),
        ("order:1", EntryOptions::new()),
        ("order:2", EntryOptions::new()),
        ("cart:1", EntryOptions::new()),
        ("misc", EntryOptions::new()),
    ] {
        a.set_with(key, key.to_owned(), options).await.unwrap();
    }
    heard(&b, 6).await;
    for key in ["user:1", "user:2", "order:1", "order:2", "cart:1", "misc"] {
        assert!(b.get(key).await.is_some());
    }
    let held = |key: &'static str| {
        let memory = b.memory().clone();
        move || memory.contains(key)
    };

    a.invalidate_tag("users").await.unwrap();
    assert!(eventually(|| !held("user:1")() && !held("user:2")()).await);
    assert_eq!(b.get("user:1").await, None, "stale in Redis too, by epoch");

    a.invalidate_prefix("order:").await.unwrap();
    assert!(eventually(|| !held("order:1")() && !held("order:2")()).await);

    a.invalidate_pattern("cart:*").await.unwrap();
    assert!(eventually(|| !held("cart:1")()).await);
    assert!(held("misc")(), "what no message named stays");

    a.clear().await.unwrap();
    assert!(eventually(|| b.memory().is_empty()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_subscription_clears_the_memory_tier_instead_of_serving_stale() {
    let mut server = RedisServer::start();
    let a = instance(&server, Duration::from_millis(50)).await;
    let b = instance(&server, Duration::from_millis(50)).await;
    a.set("k", "v1".to_owned()).await.unwrap();
    heard(&b, 1).await;
    assert_eq!(b.get("k").await.as_deref(), Some("v1"));
    assert!(b.memory().contains("k"));

    // Redis restarts: whatever was published meanwhile is gone, so b must
    // drop what it cannot revalidate once it has subscribed again.
    server.stop();
    server.restart();
    assert!(
        eventually(|| !b.memory().contains("k")).await,
        "b kept serving from memory after losing the backplane"
    );
    let stats = b.stats().await.backplane.unwrap();
    assert!(stats.lost >= 1, "{stats:?}");
}

/// An instance like `instance`'s whose Redis tier can be held mid-read or
/// mid-write (`GatedTier`), to force races.
async fn gated_instance(server: &RedisServer) -> (TieredCache<String>, Arc<GatedTier>) {
    gated_instance_with(server, WritePolicy::WriteThrough).await
}

async fn gated_instance_with(
    server: &RedisServer,
    policy: WritePolicy,
) -> (TieredCache<String>, Arc<GatedTier>) {
    let redis = RedisTier::builder(server.url())
        .key_prefix("app:")
        .command_timeout(TIMEOUT)
        .connect()
        .await
        .unwrap();
    let gate = GatedTier::new(Arc::new(redis));
    let backplane =
        RedisBackplane::connect(&server.url(), "app:bus", Duration::from_secs(1), TIMEOUT)
            .await
            .unwrap();
    let cache = TieredCache::builder(MemoryCache::builder().max_entries(1_000).build().unwrap())
        .tier(gate.clone())
        .backplane(Arc::new(backplane))
        .write_policy(policy)
        .build()
        .unwrap();
    (cache, gate)
}

/// The race of a fill and a remote invalidation, forced: b's read has
/// fetched the old value from Redis and is held; a writes a new value; the
/// message reaches b; then b's read resumes. Its fill must be discarded,
/// never stored, or b would serve the old value from memory until it
/// expired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fill_that_races_a_remote_write_is_discarded() {
    let server = RedisServer::start();
    let a = instance(&server, Duration::from_secs(1)).await;
    let (b, gate) = gated_instance(&server).await;

    a.set("k", "old".to_owned()).await.unwrap();
    // b hears the write before its read starts.
    heard(&b, 1).await;

    gate.armed.store(true, std::sync::atomic::Ordering::SeqCst);
    let reading = {
        let b = b.clone();
        tokio::spawn(async move { b.get("k").await })
    };
    gate.reached.notified().await;
    a.set("k", "new".to_owned()).await.unwrap();
    heard(&b, 2).await;
    assert_eq!(received(&b).await, 2, "b heard the second write");
    gate.release.notify_one();
    // The held read returns what it read; it must not be stored.
    assert_eq!(reading.await.unwrap().as_deref(), Some("old"));
    assert!(!b.memory().contains("k"), "the racing fill was stored");
    assert!(b.stats().await.discarded_fills >= 1);
    assert_eq!(b.get("k").await.as_deref(), Some("new"));
}

/// Two instances write one key at once, forced: a's value reaches Redis,
/// then b's write lands and its message reaches a, and only then does a's
/// `set` store its value in memory. a must not keep its older value in
/// memory while Redis holds b's (it would serve it until it expired).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_racing_another_instances_write_does_not_stay_stale_in_memory() {
    let server = RedisServer::start();
    let b = instance(&server, Duration::from_secs(1)).await;
    let (a, gate) = gated_instance(&server).await;

    gate.armed_put
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let writing = {
        let a = a.clone();
        tokio::spawn(async move { a.set("k", "from a".to_owned()).await })
    };
    // a's value is in Redis; a has not stored it in memory yet.
    gate.reached.notified().await;
    b.set("k", "from b".to_owned()).await.unwrap();
    heard(&a, 1).await;
    gate.release.notify_one();
    writing.await.unwrap().unwrap();

    assert!(
        !a.memory().contains("k"),
        "a kept its older value in memory"
    );
    assert_eq!(a.get("k").await.as_deref(), Some("from b"));
    assert_eq!(b.get("k").await.as_deref(), Some("from b"));
}

/// Write-back over pub/sub, forced: a's write is queued and held before it
/// reaches Redis, and meanwhile b reads the key from Redis. Had a told the
/// others when it queued the write, b would have dropped its copy, re-read
/// the old value and kept it, with no later message to drop it. The message
/// must leave once the write is in Redis, and then b drops the old value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_back_write_is_announced_only_once_it_is_in_redis() {
    let server = RedisServer::start();
    let (a, gate) = gated_instance_with(&server, WritePolicy::WriteBack { queue: 64 }).await;
    let b = instance(&server, Duration::from_secs(1)).await;

    a.set("k", "old".to_owned()).await.unwrap();
    a.set_with(
        "marker",
        "m".to_owned(),
        EntryOptions::new().with_tag("marker"),
    )
    .await
    .unwrap();
    a.flush().await.unwrap();
    heard(&b, 2).await;
    assert_eq!(b.get("k").await.as_deref(), Some("old"));
    assert_eq!(b.get("marker").await.as_deref(), Some("m"));

    gate.armed_put_before
        .store(true, std::sync::atomic::Ordering::SeqCst);
    a.set("k", "new".to_owned()).await.unwrap();
    // The write-back task holds "new" before Redis has it.
    gate.reached.notified().await;
    // a's messages reach b in the order a sent them: once b has applied the
    // tag message sent after the write was queued, it has applied any
    // message about the write that was sent with it.
    a.invalidate_tag("marker").await.unwrap();
    assert!(eventually(|| !b.memory().contains("marker")).await);
    // Redis still holds the old value: that is what b serves now, whether
    // from memory or re-read.
    assert_eq!(b.get("k").await.as_deref(), Some("old"));

    gate.release.notify_one();
    a.flush().await.unwrap();
    assert!(
        eventually(|| !b.memory().contains("k")).await,
        "b kept the old value: the write was announced before it reached Redis"
    );
    assert_eq!(b.get("k").await.as_deref(), Some("new"));
    let a_stats = a.stats().await.backplane.unwrap();
    assert_eq!(a_stats.publish_errors, 0, "{a_stats:?}");
}
