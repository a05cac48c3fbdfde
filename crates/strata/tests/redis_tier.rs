//! The Redis tier against real `redis-server` processes, one per test on its
//! own port: round trips and batches, expiry, scans with glob
//! metacharacters, tag epochs shared across instances, size limits, a
//! server that dies, stalls and comes back, and the tiered cache on top.
#![cfg(feature = "redis")]

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::redis_server::RedisServer;
use redis::aio::MultiplexedConnection;
use strata::envelope::{CompressionLevel, Envelope};
use strata::tier::redis::{RedisStats, RedisTier, RedisTierBuilder};
use strata::{
    EntryOptions, KeyFilter, KeyPattern, ManualClock, MemoryCache, SystemClock, Tier, TierError,
    TierHealth, TierWrite, TieredCache, WallClock,
};

/// Calendar time the manual clocks start at: any fixed date works, because
/// the tier sends Redis relative TTLs computed on its own clock.
const T0: u64 = 1_700_000_000_000;

/// Short limits, so the failure tests run in well under a second each.
const COMMAND_TIMEOUT: Duration = Duration::from_millis(300);
const CONNECT_TIMEOUT: Duration = Duration::from_millis(300);
/// The longest any request may take while Redis is dead or stalled: its
/// timeout plus scheduling slack on a loaded two-core CI machine.
const FAIL_WITHIN: Duration = Duration::from_millis(800);

fn builder(server: &RedisServer, prefix: &str) -> RedisTierBuilder {
    RedisTier::builder(server.url())
        .key_prefix(prefix)
        .command_timeout(COMMAND_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
}

async fn connect(server: &RedisServer, prefix: &str) -> RedisTier {
    builder(server, prefix)
        .connect()
        .await
        .expect("connect to the test server")
}

async fn raw_query<T: redis::FromRedisValue>(
    connection: &mut MultiplexedConnection,
    args: &[&str],
) -> T {
    let mut command = redis::cmd(args[0]);
    for arg in &args[1..] {
        command.arg(*arg);
    }
    command.query_async(connection).await.unwrap()
}

fn write(key: &str, bytes: &[u8], expires_at_ms: Option<u64>) -> TierWrite {
    TierWrite {
        key: key.to_owned(),
        bytes: bytes.to_vec(),
        expires_at_ms,
    }
}

fn keys(names: &[&str]) -> Vec<String> {
    names.iter().map(|&name| name.to_owned()).collect()
}

/// A filter, shortly (a compiled pattern's Debug shows its automaton).
fn describe(filter: &KeyFilter) -> String {
    match filter {
        KeyFilter::Pattern(pattern) => format!("pattern {:?}", pattern.as_str()),
        other => format!("{other:?}"),
    }
}

fn pattern(glob: &str) -> KeyFilter {
    KeyFilter::Pattern(KeyPattern::new(glob).unwrap())
}

/// Round trips since `before`.
fn trips(tier: &RedisTier, before: &RedisStats) -> u64 {
    tier.redis_stats().round_trips - before.round_trips
}

fn is_down(error: &TierError) -> bool {
    matches!(
        error,
        TierError::Unavailable { .. } | TierError::Timeout { .. }
    )
}

#[tokio::test]
async fn put_get_delete_round_trip_under_the_documented_layout() {
    let server = RedisServer::start();
    let tier = connect(&server, "ns:").await;
    assert_eq!(tier.name(), "redis");
    assert_eq!(tier.key_prefix(), "ns:");
    assert_eq!(tier.get("a").await.unwrap(), None);
    tier.put(write("a", b"one", None)).await.unwrap();
    tier.put(write("b", b"two", None)).await.unwrap();
    assert_eq!(tier.get("a").await.unwrap().as_deref(), Some(&b"one"[..]));
    tier.put(write("a", b"uno", None)).await.unwrap();
    assert_eq!(tier.get("a").await.unwrap().as_deref(), Some(&b"uno"[..]));

    let mut redis = server.connection().await;
    let stored: Vec<u8> = raw_query(&mut redis, &["GET", "ns:v:a"]).await;
    assert_eq!(
        stored, b"uno",
        "the envelope is a plain string at {{prefix}}v:{{key}}"
    );

    assert!(tier.delete("a").await.unwrap());
    assert!(!tier.delete("a").await.unwrap());
    assert_eq!(tier.get("a").await.unwrap(), None);
    assert_eq!(tier.health().await, TierHealth::Healthy);
    tier.flush().await.unwrap();
    // Five acknowledged writes: three puts and two deletes (a delete that
    // finds nothing is still a write Redis acknowledged).
    assert_eq!(tier.stats().commits, 5);
    assert_eq!(tier.redis_stats().errors, 0);
}

#[tokio::test]
async fn batches_take_one_round_trip_each_and_keep_their_order() {
    let server = RedisServer::start();
    let tier = connect(&server, "ns:").await;

    let before = tier.redis_stats();
    let mut batch: Vec<TierWrite> = (0..100)
        .map(|i| write(&format!("k{i}"), format!("v{i}").as_bytes(), None))
        .collect();
    // Later writes to the same key win.
    batch.push(write("k7", b"last", None));
    tier.put_many(batch).await.unwrap();
    assert_eq!(trips(&tier, &before), 1, "put_many is one pipeline");

    let before = tier.redis_stats();
    let wanted = keys(&["k1", "missing", "k7", "k99"]);
    let found = tier.get_many(&wanted).await.unwrap();
    assert_eq!(
        found,
        vec![
            Some(b"v1".to_vec()),
            None,
            Some(b"last".to_vec()),
            Some(b"v99".to_vec())
        ]
    );
    assert_eq!(trips(&tier, &before), 1, "get_many is one MGET");

    let before = tier.redis_stats();
    let gone = keys(&["k1", "k2", "missing", "k1"]);
    assert_eq!(tier.delete_many(&gone).await.unwrap(), 2);
    assert_eq!(trips(&tier, &before), 1, "delete_many is one UNLINK");

    let before = tier.redis_stats();
    tier.put_many(Vec::new()).await.unwrap();
    assert_eq!(
        tier.get_many(&[]).await.unwrap(),
        Vec::<Option<Vec<u8>>>::new()
    );
    assert_eq!(tier.delete_many(&[]).await.unwrap(), 0);
    assert_eq!(tier.tag_epochs(&[]).await.unwrap(), Vec::<u64>::new());
    assert_eq!(trips(&tier, &before), 0, "empty batches send nothing");
}

#[tokio::test]
async fn redis_expiry_follows_the_tier_clock() {
    let server = RedisServer::start();
    let clock = Arc::new(ManualClock::at_unix_millis(T0));
    let tier = builder(&server, "ns:")
        .clock(clock.clone())
        .connect()
        .await
        .unwrap();
    let mut redis = server.connection().await;

    tier.put_many(vec![
        write("minute", b"v", Some(T0 + 60_000)),
        write("never", b"v", None),
        write("far", b"v", Some(u64::MAX)),
        write("edge", b"v", Some(i64::MAX as u64)),
    ])
    .await
    .unwrap();
    let ttl: i64 = raw_query(&mut redis, &["PTTL", "ns:v:minute"]).await;
    assert!((59_000..=60_000).contains(&ttl), "PTTL {ttl}");
    for key in ["ns:v:never", "ns:v:far", "ns:v:edge"] {
        let ttl: i64 = raw_query(&mut redis, &["PTTL", key]).await;
        assert_eq!(ttl, -1, "{key} has no TTL");
    }

    // Time moves on the tier's clock only: the relative TTL shrinks with it.
    clock.advance(Duration::from_secs(50));
    tier.put(write("minute", b"v2", Some(T0 + 60_000)))
        .await
        .unwrap();
    let ttl: i64 = raw_query(&mut redis, &["PTTL", "ns:v:minute"]).await;
    assert!((9_000..=10_000).contains(&ttl), "PTTL {ttl}");

    // Expired when written (the deadline itself counts): not stored, and
    // what was stored under the key is gone.
    tier.put(write("never", b"v", Some(T0 + 50_000)))
        .await
        .unwrap();
    tier.put(write("fresh", b"v", Some(T0))).await.unwrap();
    assert_eq!(tier.get("never").await.unwrap(), None);
    assert_eq!(tier.get("fresh").await.unwrap(), None);
    let exists: i64 = raw_query(&mut redis, &["EXISTS", "ns:v:never", "ns:v:fresh"]).await;
    assert_eq!(exists, 0);
}

#[tokio::test]
async fn redis_drops_an_entry_when_its_ttl_runs_out() {
    let server = RedisServer::start();
    let clock = SystemClock::new();
    let tier = builder(&server, "ns:")
        .clock(Arc::new(clock))
        .connect()
        .await
        .unwrap();
    tier.put(write("short", b"v", Some(clock.unix_millis() + 100)))
        .await
        .unwrap();
    tier.put(write("long", b"v", Some(clock.unix_millis() + 60_000)))
        .await
        .unwrap();
    assert!(tier.get("short").await.unwrap().is_some());
    // The one real wait of the suite: Redis's own expiry has no clock to
    // inject. Polled, so it takes ~100 ms, at most a second.
    let started = Instant::now();
    while tier.get("short").await.unwrap().is_some() {
        assert!(started.elapsed() < Duration::from_secs(1), "never expired");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(tier.get("long").await.unwrap().is_some());
}

#[tokio::test]
async fn scans_select_exactly_what_the_filter_selects_even_with_glob_characters() {
    let server = RedisServer::start();
    // A prefix with glob characters of its own, escaped like the keys.
    let tier = connect(&server, "n*[s]?:").await;
    let other = connect(&server, "other:").await;
    let names = [
        "user:1", "user:2", "user:*", "user:?x", "user:[a]", r"user:\", "order:1", "漢:1", "plain",
    ];
    tier.put_many(names.iter().map(|k| write(k, b"v", None)).collect())
        .await
        .unwrap();
    // Same keys under another prefix, and a key that a prefix-blind glob
    // would confuse with this prefix.
    other
        .put_many(names.iter().map(|k| write(k, b"v", None)).collect())
        .await
        .unwrap();
    let mut redis = server.connection().await;
    let _: () = raw_query(&mut redis, &["SET", "nXsY:v:user:1", "v"]).await;

    let cases: Vec<(KeyFilter, Vec<&str>)> = vec![
        (KeyFilter::All, {
            let mut all = names.to_vec();
            all.sort_unstable();
            all
        }),
        (
            KeyFilter::Prefix("user:".into()),
            vec![
                "user:*", "user:1", "user:2", "user:?x", "user:[a]", r"user:\",
            ],
        ),
        (KeyFilter::Prefix("user:*".into()), vec!["user:*"]),
        (KeyFilter::Prefix("user:[".into()), vec!["user:[a]"]),
        (pattern(r"user:\*"), vec!["user:*"]),
        (pattern(r"user:\\"), vec![r"user:\"]),
        (
            pattern("user:?"),
            vec!["user:*", "user:1", "user:2", r"user:\"],
        ),
        (pattern("user:[[]*"), vec!["user:[a]"]),
        (pattern("user:[!0-9]"), vec!["user:*", r"user:\"]),
        (pattern("*1"), vec!["order:1", "user:1", "漢:1"]),
        (pattern("{order,plain}*"), vec!["order:1", "plain"]),
        (pattern("nothing*"), vec![]),
    ];
    // `?` is one byte to KeyPattern, so `???:1` is the three bytes of 漢:
    // whatever the filter's semantics, the tier returns what it selects.
    let multibyte = pattern("???:1");
    assert!(multibyte.matches("漢:1"));
    for (filter, expected) in cases.iter().chain([&(multibyte, vec!["漢:1"])]) {
        let found = tier.scan(filter).await.unwrap();
        assert_eq!(found, *expected, "{}", describe(filter));
        let mut selected: Vec<&str> = names
            .iter()
            .copied()
            .filter(|k| filter.matches(k))
            .collect();
        selected.sort_unstable();
        assert_eq!(found, selected, "{}", describe(filter));
    }

    assert_eq!(tier.delete_matching(&pattern("user:?")).await.unwrap(), 4);
    assert_eq!(
        tier.delete_matching(&KeyFilter::Prefix("user:[".into()))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        tier.scan(&KeyFilter::Prefix("user:".into())).await.unwrap(),
        vec!["user:?x"]
    );
    // Nothing of the other prefix, nor the look-alike key, was touched.
    assert_eq!(
        other.scan(&KeyFilter::All).await.unwrap().len(),
        names.len()
    );
    let exists: i64 = raw_query(&mut redis, &["EXISTS", "nXsY:v:user:1"]).await;
    assert_eq!(exists, 1);
}

#[tokio::test]
async fn a_scan_walks_every_page_and_returns_each_key_once() {
    let server = RedisServer::start();
    let tier = builder(&server, "ns:")
        .scan_count(10)
        .connect()
        .await
        .unwrap();
    let batch = (0..500)
        .map(|i| write(&format!("k{i:03}"), b"v", None))
        .collect();
    tier.put_many(batch).await.unwrap();

    let before = tier.redis_stats();
    let found = tier.scan(&KeyFilter::Prefix("k".into())).await.unwrap();
    let expected: Vec<String> = (0..500).map(|i| format!("k{i:03}")).collect();
    assert_eq!(found, expected);
    assert!(
        trips(&tier, &before) > 10,
        "many pages, one round trip each"
    );

    assert_eq!(tier.delete_matching(&pattern("k1*")).await.unwrap(), 100);
    assert_eq!(tier.scan(&KeyFilter::All).await.unwrap().len(), 400);
}

#[tokio::test]
async fn clear_removes_this_prefixs_values_and_keeps_the_epochs() {
    let server = RedisServer::start();
    let tier = connect(&server, "ns:").await;
    let other = connect(&server, "other:").await;
    for tier in [&tier, &other] {
        tier.put_many(
            (0..20)
                .map(|i| write(&format!("k{i}"), b"v", None))
                .collect(),
        )
        .await
        .unwrap();
    }
    assert_eq!(tier.bump_tag_epoch("users").await.unwrap(), 1);
    tier.raise_tag_epoch("orders", 7).await.unwrap();

    assert_eq!(tier.clear().await.unwrap(), 20);
    assert_eq!(
        tier.scan(&KeyFilter::All).await.unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(
        tier.tag_epochs(&keys(&["users", "orders"])).await.unwrap(),
        vec![1, 7],
        "epochs survive a clear, so old envelopes can never come back"
    );
    assert_eq!(other.scan(&KeyFilter::All).await.unwrap().len(), 20);
    assert_eq!(tier.clear().await.unwrap(), 0);
}

#[tokio::test]
async fn instances_with_one_prefix_share_values_and_epochs_and_other_prefixes_are_isolated() {
    let server = RedisServer::start();
    let a = connect(&server, "app:").await;
    let b = connect(&server, "app:").await;
    let c = connect(&server, "else:").await;

    a.put(write("k", b"from a", None)).await.unwrap();
    assert_eq!(b.get("k").await.unwrap().as_deref(), Some(&b"from a"[..]));
    assert_eq!(c.get("k").await.unwrap(), None);
    assert!(b.delete("k").await.unwrap());
    assert_eq!(a.get("k").await.unwrap(), None);

    assert_eq!(a.bump_tag_epoch("users").await.unwrap(), 1);
    assert_eq!(b.bump_tag_epoch("users").await.unwrap(), 2);
    let tags = keys(&["users", "never"]);
    assert_eq!(a.tag_epochs(&tags).await.unwrap(), vec![2, 0]);
    assert_eq!(c.tag_epochs(&tags).await.unwrap(), vec![0, 0]);

    // Raises never lower, and a bump continues from the raised epoch.
    b.raise_tag_epoch("users", 1).await.unwrap();
    b.raise_tag_epoch("users", 0).await.unwrap();
    assert_eq!(a.tag_epochs(&tags).await.unwrap(), vec![2, 0]);
    b.raise_tag_epoch("users", 9).await.unwrap();
    assert_eq!(a.bump_tag_epoch("users").await.unwrap(), 10);

    // Exact beyond 2^53, where a Lua number would round.
    let big = (1u64 << 53) + 1;
    a.raise_tag_epoch("big", big).await.unwrap();
    a.raise_tag_epoch("big", big - 1).await.unwrap();
    assert_eq!(b.tag_epochs(&keys(&["big"])).await.unwrap(), vec![big]);
    assert_eq!(b.bump_tag_epoch("big").await.unwrap(), big + 1);
    // Beyond what HINCRBY can count: refused, nothing changed.
    assert!(matches!(
        a.raise_tag_epoch("big", u64::MAX).await,
        Err(TierError::Engine { .. })
    ));
    assert_eq!(b.tag_epochs(&keys(&["big"])).await.unwrap(), vec![big + 1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_bumps_from_two_instances_return_distinct_epochs() {
    let server = RedisServer::start();
    let a = connect(&server, "app:").await;
    let b = connect(&server, "app:").await;
    let mut tasks = Vec::new();
    for tier in [a.clone(), b.clone()] {
        for _ in 0..50 {
            let tier = tier.clone();
            tasks.push(tokio::spawn(async move {
                tier.bump_tag_epoch("hot").await.unwrap()
            }));
        }
    }
    let mut epochs = HashSet::new();
    for task in tasks {
        assert!(
            epochs.insert(task.await.unwrap()),
            "an epoch was returned twice"
        );
    }
    assert_eq!(epochs, (1..=100).collect::<HashSet<u64>>());
    assert_eq!(b.tag_epochs(&keys(&["hot"])).await.unwrap(), vec![100]);
}

#[tokio::test]
async fn an_oversized_entry_refuses_its_whole_batch_and_stores_nothing() {
    let server = RedisServer::start();
    let tier = builder(&server, "ns:")
        .max_entry_bytes(100)
        .connect()
        .await
        .unwrap();
    let before = tier.redis_stats();
    let error = tier
        .put_many(vec![
            write("small", b"v", None),
            write("big", &[0; 98], None),
        ])
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            TierError::TooLarge {
                size: 101,
                limit: 100,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(trips(&tier, &before), 0, "refused before sending");
    assert_eq!(tier.redis_stats().refused_too_large, 1);
    assert_eq!(
        tier.get_many(&keys(&["small", "big"])).await.unwrap(),
        vec![None, None]
    );
    // Exactly at the limit is accepted.
    tier.put(write("fits", &[0; 96], None)).await.unwrap();
    assert!(tier.get("fits").await.unwrap().is_some());
}

/// Every operation of the trait, once, with the time it took.
async fn every_operation(tier: &RedisTier) -> Vec<(&'static str, Result<(), TierError>, Duration)> {
    let mut outcomes = Vec::new();
    macro_rules! time {
        ($name:literal, $op:expr) => {{
            let started = Instant::now();
            let outcome = $op.await.map(|_| ());
            outcomes.push(($name, outcome, started.elapsed()));
        }};
    }
    time!("get", tier.get("k"));
    time!("get_many", tier.get_many(&keys(&["k", "j"])));
    time!("put", tier.put(write("k", b"v", None)));
    time!("delete", tier.delete("k"));
    time!("scan", tier.scan(&KeyFilter::All));
    time!("delete_matching", tier.delete_matching(&pattern("k*")));
    time!("tag_epochs", tier.tag_epochs(&keys(&["t"])));
    time!("bump_tag_epoch", tier.bump_tag_epoch("t"));
    time!("raise_tag_epoch", tier.raise_tag_epoch("t", 50));
    outcomes
}

#[tokio::test]
async fn a_killed_server_fails_every_request_fast_and_a_restarted_one_serves_again() {
    let mut server = RedisServer::start();
    let tier = connect(&server, "ns:").await;
    tier.put(write("k", b"v", None)).await.unwrap();

    server.stop();
    for (name, outcome, took) in every_operation(&tier).await {
        let error = outcome.expect_err(name);
        assert!(is_down(&error), "{name}: {error}");
        assert!(took < FAIL_WITHIN, "{name} took {took:?}");
    }
    let started = Instant::now();
    let health = tier.health().await;
    assert!(matches!(health, TierHealth::Down(_)), "{health:?}");
    assert!(started.elapsed() < FAIL_WITHIN);
    let stats = tier.redis_stats();
    assert!(stats.unavailable + stats.timeouts >= 10, "{stats:?}");

    // Same port, fresh (empty) server: the tier reconnects on demand, and
    // the first request is served.
    let port = server.port();
    server.restart();
    assert_eq!(server.port(), port, "the address the tier knows");
    tier.put(write("k", b"again", None)).await.unwrap();
    assert_eq!(tier.get("k").await.unwrap().as_deref(), Some(&b"again"[..]));
    for (name, outcome, _) in every_operation(&tier).await {
        outcome.unwrap_or_else(|error| panic!("{name} after the restart: {error}"));
    }
    assert_eq!(tier.health().await, TierHealth::Healthy);
}

#[tokio::test]
async fn a_stalled_server_times_requests_out_and_serves_them_again_when_it_resumes() {
    let server = RedisServer::start();
    let tier = connect(&server, "ns:").await;
    tier.put(write("k", b"v", None)).await.unwrap();

    server.pause();
    let started = Instant::now();
    let error = tier.get("k").await.unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(error, TierError::Timeout { millis: 300, .. }),
        "{error}"
    );
    assert!(took >= COMMAND_TIMEOUT && took < FAIL_WITHIN, "{took:?}");
    let started = Instant::now();
    assert!(matches!(tier.health().await, TierHealth::Down(_)));
    assert!(started.elapsed() < FAIL_WITHIN);
    assert_eq!(tier.redis_stats().timeouts, 2);

    // The connection survived: no reconnection needed.
    server.resume();
    assert_eq!(tier.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(tier.health().await, TierHealth::Healthy);
}

#[tokio::test]
async fn connecting_fails_clearly_when_redis_is_absent_or_stalled() {
    let mut server = RedisServer::start();
    server.pause();
    let started = Instant::now();
    let error = connect_error(&server).await;
    assert!(matches!(error, TierError::Timeout { .. }), "{error}");
    assert!(started.elapsed() < FAIL_WITHIN);

    server.resume();
    server.stop();
    let started = Instant::now();
    let error = connect_error(&server).await;
    assert!(matches!(error, TierError::Unavailable { .. }), "{error}");
    assert!(
        started.elapsed() < FAIL_WITHIN,
        "no retries while connecting"
    );
    assert!(error.to_string().contains("redis"), "{error}");
}

async fn connect_error(server: &RedisServer) -> TierError {
    builder(server, "ns:")
        .connect()
        .await
        .expect_err("nothing serves")
}

/// One of several caches (processes, in effect) over one Redis: its own
/// memory tier and connection, the prefix `shared:`, the test's clock.
async fn shared_cache(server: &RedisServer, clock: &Arc<ManualClock>) -> TieredCache<String> {
    let tier = builder(server, "shared:")
        .clock(clock.clone())
        .connect()
        .await
        .unwrap();
    let memory = MemoryCache::builder()
        .max_entries(1_000)
        .clock(clock.clone())
        .build()
        .unwrap();
    TieredCache::builder(memory)
        .tier(Arc::new(tier))
        .clock(clock.clone())
        .build()
        .unwrap()
}

/// Two caches (two processes, in effect), each with its own memory tier and
/// its own connection, over one Redis.
#[tokio::test]
async fn tiered_caches_share_entries_and_invalidations_through_redis() {
    let server = RedisServer::start();
    let clock = Arc::new(ManualClock::at_unix_millis(T0));
    let a = shared_cache(&server, &clock).await;
    let b = shared_cache(&server, &clock).await;

    let users = EntryOptions::new()
        .with_tag("users")
        .with_ttl(Duration::from_secs(60));
    a.set_with("user:1", "Ada".into(), users.clone())
        .await
        .unwrap();
    assert_eq!(
        b.get("user:1").await.as_deref(),
        Some("Ada"),
        "read from Redis"
    );
    assert!(
        b.memory().contains("user:1"),
        "and promoted into b's memory"
    );

    // A tag invalidated on one cache: the other misses the entries it reads
    // from Redis afterwards.
    let orders = EntryOptions::new().with_tag("orders");
    a.set_with("order:1", "pen".into(), orders.clone())
        .await
        .unwrap();
    a.set_with("order:2", "ink".into(), orders).await.unwrap();
    assert_eq!(
        a.invalidate_tag("orders").await.unwrap(),
        2,
        "dropped from a's memory"
    );
    assert_eq!(b.get("order:1").await, None);
    assert_eq!(b.get("order:2").await, None);

    // A key removed on one cache is gone for the other's next Redis read.
    a.set("user:2", "Grace".into()).await.unwrap();
    assert!(a.remove("user:2").await.unwrap());
    assert_eq!(b.get("user:2").await, None);

    // The stack checks expiry on the envelope with its own clock: Redis
    // still holds the entry (its TTL runs in real time), yet it is a miss.
    clock.advance(Duration::from_secs(61));
    b.memory().clear();
    assert_eq!(b.get("user:1").await, None, "expired");
    assert_eq!(a.get("user:1").await, None, "expired");
}

/// A cache that has already read a tag's epoch trusts it for
/// `epoch_refresh` only: after that it reads the epoch again from Redis and
/// sees another cache's bump, so it no longer serves, from Redis, entries
/// the bump invalidated. (Entries already in its memory tier are the
/// backplane's job.)
#[tokio::test]
async fn a_cache_sees_another_caches_tag_bump_after_the_epoch_refresh() {
    let server = RedisServer::start();
    let clock = Arc::new(ManualClock::at_unix_millis(T0));
    let a = shared_cache(&server, &clock).await;
    let b = shared_cache(&server, &clock).await;
    let users = EntryOptions::new().with_tag("users");
    a.set_with("user:1", "Ada".into(), users.clone())
        .await
        .unwrap();
    a.set_with("user:2", "Grace".into(), users).await.unwrap();
    assert_eq!(b.get("user:1").await.as_deref(), Some("Ada"));
    a.invalidate_tag("users").await.unwrap();
    clock.advance(strata::DEFAULT_EPOCH_REFRESH);
    assert_eq!(
        b.get("user:2").await,
        None,
        "b served an invalidated entry from Redis"
    );
}

/// An envelope written at `created_at_ms` holding `value`.
fn envelope_at(created_at_ms: u64, value: &[u8]) -> Vec<u8> {
    let mut envelope = Envelope {
        created_at_ms,
        ..Envelope::default()
    };
    envelope
        .set_value_bytes(value.to_vec(), CompressionLevel::None)
        .unwrap();
    envelope.encode()
}

/// The replay rule: a put that arrives late never replaces a value written
/// after it (by `created_at_ms`); an older, equal or absent one it does,
/// and so does anything that is not an envelope.
#[tokio::test]
async fn a_conditional_put_never_replaces_a_newer_envelope() {
    let server = RedisServer::start();
    let tier = connect(&server, "ns:").await;
    let (old, newer, newest) = (
        envelope_at(T0, b"old"),
        envelope_at(T0 + 1, b"newer"),
        envelope_at(T0 + 256, b"newest"),
    );
    // 256 ms apart differ only in the second byte of the stamp: the
    // comparison must not stop at the low byte.
    tier.put(write("k", &newest, None)).await.unwrap();
    tier.put(write("absent-before", &newer, None))
        .await
        .unwrap();
    tier.delete("absent-before").await.unwrap();
    let mut connection = server.connection().await;
    let _: () = raw_query(&mut connection, &["SET", "ns:v:foreign", "not an envelope"]).await;
    let skipped = tier
        .put_many_unless_newer(vec![
            write("k", &old, None),
            write("k", &newer, None),
            write("absent-before", &old, None),
            write("foreign", &old, None),
        ])
        .await
        .unwrap();
    assert_eq!(skipped, 2, "both older writes of k");
    assert_eq!(tier.get("k").await.unwrap(), Some(newest.clone()));
    assert_eq!(tier.get("absent-before").await.unwrap(), Some(old.clone()));
    assert_eq!(tier.get("foreign").await.unwrap(), Some(old.clone()));

    // Equal or later stamps write; an expired one deletes, as a put does;
    // the TTL is set as a put sets it.
    let later = SystemClock::new().unix_millis() + 60_000;
    let skipped = tier
        .put_many_unless_newer(vec![
            write("k", &newest, Some(later)),
            write("absent-before", &newer, Some(1)),
        ])
        .await
        .unwrap();
    assert_eq!(skipped, 0);
    assert_eq!(tier.get("k").await.unwrap(), Some(newest));
    let ttl: i64 = raw_query(&mut connection, &["PTTL", "ns:v:k"]).await;
    // About a minute (the two clocks are read a moment apart).
    assert!((50_000..=61_000).contains(&ttl), "{ttl}");
    assert_eq!(tier.get("absent-before").await.unwrap(), None);
}

/// Redis restarts on the same port. The connection the tier held is dead,
/// but the first request after the server is back must not fail for it:
/// neither when nothing was asked while it was down, nor when requests
/// failed meanwhile (each of which tried to reconnect and failed).
#[tokio::test]
async fn the_first_request_after_a_restart_succeeds() {
    let mut server = RedisServer::start();
    let tier = connect(&server, "ns:").await;
    tier.put(write("k", b"v", None)).await.unwrap();

    // Nothing asked while it was down.
    server.restart();
    assert_eq!(tier.get("k").await.unwrap(), None, "a fresh, empty server");

    // Requests failed while it was down.
    tier.put(write("k", b"v", None)).await.unwrap();
    server.stop();
    for _ in 0..3 {
        assert!(is_down(&tier.get("k").await.unwrap_err()));
    }
    server.restart();
    tier.put(write("k", b"again", None)).await.unwrap();
    assert_eq!(tier.get("k").await.unwrap().as_deref(), Some(&b"again"[..]));
}
