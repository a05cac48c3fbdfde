//! Client tracking as the backplane's transport, against a real Redis
//! server: chosen automatically where the server has it (and pub/sub where
//! it does not); a write by one instance or by another program drops every
//! instance's memory copy; a tag bump by anyone is seen; a lost tracking
//! connection clears the memory tier and tracking comes back.
#![cfg(feature = "redis")]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::backplane::{DELIVERY, eventually, heard, received};
use common::redis_server::{RedisServer, tier_builder};
use redis::aio::MultiplexedConnection;
use strata::tier::redis::{
    BackplaneConfigError, BackplaneTransport, RedisBackplane, TransportMode,
};
use strata::{EntryOptions, MemoryCache, TierError, TieredCache};

const TIMEOUT: Duration = Duration::from_millis(300);
const PREFIX: &str = "app:";

async fn backplane(server: &RedisServer, mode: TransportMode) -> Result<RedisBackplane, TierError> {
    RedisBackplane::builder(server.url())
        .key_prefix(PREFIX)
        .heartbeat(Duration::from_millis(100))
        .command_timeout(TIMEOUT)
        .transport(mode)
        .connect()
        .await
}

/// One instance: its own memory tier, the shared Redis tier, a backplane
/// chosen automatically. Returns the transport it chose too.
async fn instance(server: &RedisServer) -> (TieredCache<String>, BackplaneTransport) {
    let tier = tier_builder(&server.url(), PREFIX, TIMEOUT)
        .connect()
        .await
        .unwrap();
    let backplane = backplane(server, TransportMode::Auto).await.unwrap();
    let transport = backplane.transport();
    let memory = MemoryCache::builder().max_entries(1_000).build().unwrap();
    let cache = TieredCache::builder(memory)
        .tier(Arc::new(tier))
        .backplane(Arc::new(backplane))
        .build()
        .unwrap();
    (cache, transport)
}

/// Two instances over one server, both on client tracking.
async fn pair(server: &RedisServer) -> (TieredCache<String>, TieredCache<String>) {
    let (a, a_transport) = instance(server).await;
    let (b, b_transport) = instance(server).await;
    assert_eq!(a_transport, BackplaneTransport::ClientTracking);
    assert_eq!(b_transport, BackplaneTransport::ClientTracking);
    (a, b)
}

async fn raw_query<T: redis::FromRedisValue>(
    connection: &mut MultiplexedConnection,
    args: &[&[u8]],
) -> T {
    let mut command = redis::cmd(std::str::from_utf8(args[0]).unwrap());
    for arg in &args[1..] {
        command.arg(*arg);
    }
    command.query_async(connection).await.unwrap()
}

/// Reads `key` on `cache` until it is held in its memory tier (a fill may
/// be discarded when an invalidation races it), for at most [`DELIVERY`].
async fn hold(cache: &TieredCache<String>, key: &str, expected: &str) {
    let deadline = Instant::now() + DELIVERY;
    loop {
        assert_eq!(cache.get(key).await.as_deref(), Some(expected));
        if cache.memory().contains(key) {
            return;
        }
        assert!(Instant::now() < deadline, "{key} never stayed in memory");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_selection_chooses_tracking_where_the_server_has_it_and_pub_sub_where_not() {
    let server = RedisServer::start();
    let auto = backplane(&server, TransportMode::Auto).await.unwrap();
    assert_eq!(auto.transport(), BackplaneTransport::ClientTracking);
    let forced = backplane(&server, TransportMode::PubSub).await.unwrap();
    assert_eq!(forced.transport(), BackplaneTransport::PubSub);

    // A server that refuses CLIENT TRACKING (here by ACL; an older Redis
    // answers an unknown command the same way), then one that refuses
    // RESP3 itself (HELLO).
    let mut admin = server.connection().await;
    for rule in ["-client|tracking", "-hello"] {
        raw_query::<()>(
            &mut admin,
            &[b"ACL", b"SETUSER", b"default", rule.as_bytes()],
        )
        .await;
        let auto = backplane(&server, TransportMode::Auto).await.unwrap();
        assert_eq!(auto.transport(), BackplaneTransport::PubSub, "{rule}");
        let error = backplane(&server, TransportMode::ClientTracking)
            .await
            .expect_err("tracking was required");
        let TierError::Config { source, .. } = error else {
            panic!("expected a config error, got {error}");
        };
        assert!(
            matches!(
                source.downcast_ref::<BackplaneConfigError>(),
                Some(BackplaneConfigError::TrackingUnsupported(_))
            ),
            "{source}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_on_one_instance_is_not_served_stale_by_the_other() {
    let server = RedisServer::start();
    let (a, b) = pair(&server).await;
    // The stats say which transport was chosen.
    let report = a.stats().await.backplane.expect("a backplane report");
    assert_eq!(report.transport, "client tracking");

    a.set("user:1", "Ada".to_owned()).await.unwrap();
    heard(&b, 1).await;
    hold(&b, "user:1", "Ada").await;

    a.set("user:1", "Ada Lovelace".to_owned()).await.unwrap();
    assert!(
        eventually(|| !b.memory().contains("user:1")).await,
        "b still holds the old value in memory"
    );
    assert_eq!(b.get("user:1").await.as_deref(), Some("Ada Lovelace"));

    a.remove("user:1").await.unwrap();
    assert!(eventually(|| !b.memory().contains("user:1")).await);
    assert_eq!(b.get("user:1").await, None);
    // The writer is never stale either, though it hears its own writes
    // (tracking cannot tell writers apart; docs/backplane.md).
    assert_eq!(a.get("user:1").await, None);
    assert!(received(&a).await >= 1, "a heard its own writes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_by_another_program_drops_every_instances_memory_copy() {
    let server = RedisServer::start();
    let (a, b) = pair(&server).await;
    let mut other = server.connection().await;

    a.set("k", "mine".to_owned()).await.unwrap();
    a.set("src", "theirs".to_owned()).await.unwrap();
    heard(&a, 2).await;
    heard(&b, 2).await;
    hold(&a, "k", "mine").await;
    hold(&b, "k", "mine").await;

    // Another program copies the envelope of `src` over `k`: SET.
    let envelope: Vec<u8> = raw_query(&mut other, &[b"GET", b"app:v:src"]).await;
    raw_query::<()>(&mut other, &[b"SET", b"app:v:k", &envelope]).await;
    assert!(
        eventually(|| !a.memory().contains("k") && !b.memory().contains("k")).await,
        "a memory tier kept the value another program replaced"
    );
    assert_eq!(a.get("k").await.as_deref(), Some("theirs"));
    assert_eq!(b.get("k").await.as_deref(), Some("theirs"));
    hold(&b, "k", "theirs").await;

    // EXPIRE changes the key too (it will vanish): dropped.
    raw_query::<()>(&mut other, &[b"PEXPIRE", b"app:v:k", b"60000"]).await;
    assert!(
        eventually(|| !b.memory().contains("k")).await,
        "EXPIRE unseen"
    );
    hold(&b, "k", "theirs").await;

    // DEL: gone everywhere.
    raw_query::<()>(&mut other, &[b"DEL", b"app:v:k"]).await;
    assert!(eventually(|| !a.memory().contains("k") && !b.memory().contains("k")).await);
    assert_eq!(b.get("k").await, None);
    assert_eq!(a.get("k").await, None);
    // Keys outside the prefix are not tracked, and nothing was lost.
    raw_query::<()>(&mut other, &[b"SET", b"elsewhere:v:src", b"x"]).await;
    assert_eq!(b.stats().await.backplane.unwrap().lost, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tag_bump_by_anyone_is_seen_at_once() {
    let server = RedisServer::start();
    let (a, b) = pair(&server).await;
    let mut other = server.connection().await;
    let users = EntryOptions::new().with_tag("users");
    let orders = EntryOptions::new().with_tag("orders");
    a.set_with("user:1", "Ada".to_owned(), users.clone())
        .await
        .unwrap();
    a.set_with("order:1", "book".to_owned(), orders)
        .await
        .unwrap();
    a.set_with("user:2", "Grace".to_owned(), users)
        .await
        .unwrap();
    heard(&b, 3).await;
    for (key, value) in [("user:1", "Ada"), ("order:1", "book"), ("user:2", "Grace")] {
        hold(&b, key, value).await;
    }

    // Another program bumps `users` in the tags hash.
    raw_query::<()>(&mut other, &[b"HINCRBY", b"app:tags", b"users", b"1"]).await;
    assert!(
        eventually(|| !b.memory().contains("user:1") && !b.memory().contains("user:2")).await,
        "b kept entries of a tag bumped by another program"
    );
    assert!(
        b.memory().contains("order:1"),
        "an unbumped tag's entry stays"
    );
    // Stale in Redis too: b forgot its cached epoch, so it checks at once.
    assert_eq!(b.get("user:1").await, None);

    // And a bump by another instance.
    a.invalidate_tag("orders").await.unwrap();
    assert!(eventually(|| !b.memory().contains("order:1")).await);
    assert_eq!(b.get("order:1").await, None);
}

/// Messages (not losses) `cache` has received.
async fn messages(cache: &TieredCache<String>) -> u64 {
    let stats = cache.stats().await.backplane.unwrap();
    stats.received - stats.lost
}

/// Whether `cache` hears, by tracking, a write another program makes to a
/// value key: pub/sub alone never reports one. Tries again until
/// [`DELIVERY`] has passed, since tracking may still be coming back.
async fn tracking_works(cache: &TieredCache<String>, other: &mut MultiplexedConnection) -> bool {
    let deadline = Instant::now() + DELIVERY;
    while Instant::now() < deadline {
        let before = messages(cache).await;
        raw_query::<()>(other, &[b"SET", b"app:v:probe", b"x"]).await;
        let round = Instant::now() + Duration::from_millis(200);
        while Instant::now() < round {
            if messages(cache).await > before {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_tracking_connection_clears_memory_and_tracking_comes_back() {
    let mut server = RedisServer::start();
    let (a, b) = pair(&server).await;
    let mut other = server.connection().await;
    assert!(tracking_works(&b, &mut other).await);
    let events = received(&b).await;
    a.set("k", "v1".to_owned()).await.unwrap();
    heard(&b, events + 1).await;
    hold(&b, "k", "v1").await;

    // Only the tracking connections die; Redis and pub/sub stay up.
    let clients: String = raw_query(&mut other, &[b"CLIENT", b"LIST"]).await;
    let tracking: Vec<&str> = clients
        .lines()
        .filter(|line| {
            line.split(' ')
                .any(|f| f.starts_with("flags=") && f.contains('t'))
        })
        .filter_map(|line| line.split(' ').find_map(|f| f.strip_prefix("id=")))
        .collect();
    assert_eq!(tracking.len(), 2, "one tracking connection each: {clients}");
    for id in tracking {
        raw_query::<()>(&mut other, &[b"CLIENT", b"KILL", b"ID", id.as_bytes()]).await;
    }
    assert!(
        eventually(|| !b.memory().contains("k")).await,
        "b kept its memory tier after losing tracking"
    );
    assert!(b.stats().await.backplane.unwrap().lost >= 1);
    assert!(
        tracking_works(&b, &mut other).await,
        "tracking never came back"
    );

    // The server dies: Lost again, and tracking comes back once it is
    // restarted.
    hold(&b, "k", "v1").await;
    let before = b.stats().await.backplane.unwrap().lost;
    server.stop();
    assert!(
        eventually(|| !b.memory().contains("k")).await,
        "b kept its memory tier after the server died"
    );
    assert!(b.stats().await.backplane.unwrap().lost > before);
    server.restart();
    let mut other = server.connection().await;
    assert!(
        tracking_works(&b, &mut other).await,
        "tracking never came back after the restart"
    );
    // The restarted server is empty; a write lands again, b reads it, and
    // another program's DEL drops b's copy.
    let deadline = Instant::now() + DELIVERY;
    while a.set("k", "v2".to_owned()).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "no write landed after the restart"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    hold(&b, "k", "v2").await;
    raw_query::<()>(&mut other, &[b"DEL", b"app:v:k"]).await;
    assert!(eventually(|| !b.memory().contains("k")).await);
    assert_eq!(b.get("k").await, None);
}

/// Prints the invalidation lag over tracking (a's `set` call to the key
/// leaving b's memory tier, including a's write to Redis); asserts only
/// that every round arrives within [`DELIVERY`].
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalidation_lag_over_tracking() {
    const ROUNDS: usize = 200;
    let server = RedisServer::start();
    let (a, b) = pair(&server).await;
    let mut lags = Vec::with_capacity(ROUNDS);
    // One event at b per write of a.
    let mut events = received(&b).await;
    for round in 0..ROUNDS {
        let value = format!("v{round}");
        a.set("k", value.clone()).await.unwrap();
        events += 1;
        heard(&b, events).await;
        hold(&b, "k", &value).await;
        let started = Instant::now();
        a.set("k", format!("{value}'")).await.unwrap();
        assert!(
            eventually(|| !b.memory().contains("k")).await,
            "round {round}"
        );
        lags.push(started.elapsed());
        events += 1;
        heard(&b, events).await;
    }
    lags.sort_unstable();
    let at = |q: f64| lags[((ROUNDS as f64 - 1.0) * q).round() as usize];
    eprintln!(
        "tracking lag over {ROUNDS} rounds: p50 {:?}, p99 {:?}, max {:?}",
        at(0.5),
        at(0.99),
        lags[ROUNDS - 1]
    );
}
