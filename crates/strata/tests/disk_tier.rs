//! The disk tier on real files: round trips, persistence, the byte bound and
//! eviction order, expiry with an injected clock, scans, tag epochs, group
//! commit and durability, closing.
#![cfg(feature = "disk")]

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use strata::tier::disk::{DiskConfigError, DiskTier, DiskTierBuilder, MAX_KEY_BYTES, OnDamage};
use strata::{
    KeyFilter, KeyPattern, ManualClock, Tier, TierError, TierHealth, TierWrite, WallClock,
};

/// Calendar time the manual clocks start at: any fixed date works.
const T0: u64 = 1_700_000_000_000;

fn builder(dir: &Path) -> DiskTierBuilder {
    DiskTier::builder(dir.join("store"))
}

/// One shard: for tests of the exact eviction order and byte budget, which
/// hold per shard.
fn one_shard(dir: &Path) -> DiskTierBuilder {
    builder(dir).shards(1)
}

fn write(key: &str, bytes: &[u8], expires_at_ms: Option<u64>) -> TierWrite {
    TierWrite {
        key: key.to_owned(),
        bytes: bytes.to_vec(),
        expires_at_ms,
    }
}

async fn assert_consistent(tier: &DiskTier) {
    let report = tier.verify().await.expect("verify reads the store");
    assert!(report.is_consistent(), "{:?}", report.problems);
    let stats = tier.stats();
    assert_eq!((stats.entries, stats.bytes), (report.entries, report.bytes));
}

#[tokio::test]
async fn put_get_delete_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let tier = builder(dir.path()).open().unwrap();
    assert_eq!(tier.name(), "disk");
    assert_eq!(tier.get("a").await.unwrap(), None);
    tier.put(write("a", b"one", None)).await.unwrap();
    tier.put(write("b", b"two", None)).await.unwrap();
    assert_eq!(tier.get("a").await.unwrap().as_deref(), Some(&b"one"[..]));
    tier.put(write("a", b"uno", None)).await.unwrap();
    let keys = ["a".to_owned(), "missing".to_owned(), "b".to_owned()];
    let many = tier.get_many(&keys).await.unwrap();
    assert_eq!(
        many,
        vec![Some(b"uno".to_vec()), None, Some(b"two".to_vec())]
    );
    assert_eq!(tier.stats().entries, 2);
    assert_eq!(tier.stats().bytes, 1 + 3 + 1 + 3);
    assert!(tier.delete("a").await.unwrap());
    assert!(!tier.delete("a").await.unwrap());
    assert_eq!(tier.get("a").await.unwrap(), None);
    assert_eq!(tier.health().await, TierHealth::Healthy);
    assert_consistent(&tier).await;
    tier.close().await.unwrap();
}

#[tokio::test]
async fn values_epochs_and_counters_survive_close_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let tier = builder(dir.path()).open().unwrap();
    for i in 0..100 {
        let key = format!("k{i}");
        tier.put(write(&key, key.repeat(10).as_bytes(), None))
            .await
            .unwrap();
    }
    assert_eq!(tier.bump_tag_epoch("users").await.unwrap(), 1);
    assert_eq!(tier.bump_tag_epoch("users").await.unwrap(), 2);
    tier.raise_tag_epoch("orders", 40).await.unwrap();
    let before = tier.stats();
    tier.close().await.unwrap();

    let tier = builder(dir.path()).open().unwrap();
    let after = tier.stats();
    assert_eq!((after.entries, after.bytes), (before.entries, before.bytes));
    assert_eq!(after.entries, 100);
    for i in [0, 42, 99] {
        let key = format!("k{i}");
        assert_eq!(
            tier.get(&key).await.unwrap(),
            Some(key.repeat(10).into_bytes())
        );
    }
    let tags = ["users".to_owned(), "orders".to_owned(), "never".to_owned()];
    assert_eq!(tier.tag_epochs(&tags).await.unwrap(), vec![2, 40, 0]);
    assert_eq!(tier.bump_tag_epoch("users").await.unwrap(), 3);
    assert_consistent(&tier).await;
}

#[tokio::test]
async fn dropping_the_last_handle_commits_and_closes_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let tier = builder(dir.path()).open().unwrap();
    let clone = tier.clone();
    tier.put(write("kept", b"v", None)).await.unwrap();
    drop(tier);
    // The clone still works: dropping one handle closes nothing.
    assert!(clone.get("kept").await.unwrap().is_some());
    drop(clone);
    let tier = builder(dir.path()).open().expect("the file was released");
    assert_eq!(tier.get("kept").await.unwrap().as_deref(), Some(&b"v"[..]));
}

#[tokio::test]
async fn stored_bytes_stay_within_max_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let max = 64 * 1024;
    let tier = one_shard(dir.path()).max_bytes(max).open().unwrap();
    let value = vec![7u8; 1000];
    for round in 0..20 {
        let writes = (0..20)
            .map(|i| write(&format!("r{round}-{i:02}"), &value, None))
            .collect();
        tier.put_many(writes).await.unwrap();
        assert!(tier.stats().bytes <= max, "{:?}", tier.stats());
    }
    let stats = tier.stats();
    assert!(stats.evictions > 0);
    assert!(
        stats.bytes > max - 1010,
        "eviction stops once the entry fits"
    );
    assert_eq!(stats.capacity_bytes, Some(max));
    // The newest round is intact; the oldest is gone.
    assert!(tier.get("r19-19").await.unwrap().is_some());
    assert!(tier.get("r0-00").await.unwrap().is_none());
    assert_consistent(&tier).await;
}

#[tokio::test]
async fn expired_entries_are_evicted_before_live_ones() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::at_unix_millis(T0));
    let tier = one_shard(dir.path())
        .max_bytes(10 * 101)
        .max_entry_bytes(101)
        .clock(clock.clone())
        .open()
        .unwrap();
    let value = [1u8; 100];
    // "x" is written last, so it is the most recently used, but it expires:
    // it goes first.
    for i in 0..9 {
        tier.put(write(&format!("{i}"), &value, None))
            .await
            .unwrap();
    }
    tier.put(write("x", &value, Some(T0 + 1_000)))
        .await
        .unwrap();
    clock.advance(Duration::from_secs(1));
    tier.put(write("y", &value, None)).await.unwrap();
    let stats = tier.stats();
    assert_eq!((stats.expirations, stats.evictions), (1, 0));
    for i in 0..9 {
        assert!(
            tier.get(&format!("{i}")).await.unwrap().is_some(),
            "{i} kept"
        );
    }
    // Now there is nothing expired: the least recently used goes.
    tier.flush().await.unwrap();
    tier.put(write("z", &value, None)).await.unwrap();
    assert_eq!(tier.stats().evictions, 1);
    assert!(
        tier.get("y").await.unwrap().is_none(),
        "y was the only key not read"
    );
    assert_consistent(&tier).await;
}

#[tokio::test]
async fn read_keys_survive_a_wave_of_inserts_that_evicts_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let tier = builder(dir.path())
        .max_bytes(20 * 100)
        .max_entry_bytes(100)
        .open()
        .unwrap();
    let value = [0u8; 96];
    let key = |i: usize| format!("k{i:03}");
    for i in 0..20 {
        tier.put(write(&key(i), &value, None)).await.unwrap();
    }
    // Read the older half (which is first in line), and commit the reads.
    for i in 0..10 {
        assert!(tier.get(&key(i)).await.unwrap().is_some());
    }
    tier.flush().await.unwrap();
    // Ten new entries evict ten: the unread ones.
    for i in 100..110 {
        tier.put(write(&key(i), &value, None)).await.unwrap();
    }
    assert_eq!(tier.stats().evictions, 10);
    let keys = tier.scan(&KeyFilter::All).await.unwrap();
    let expected: Vec<String> = (0..10).chain(100..110).map(key).collect();
    assert_eq!(keys, expected);
    assert_consistent(&tier).await;
}

/// Keys beyond what the tier stores (fjall's own limit is 64 KiB, and the
/// expiry keyspace adds 8 bytes): refused on put, a miss on get, nothing to
/// delete; never a panic from the engine.
#[tokio::test]
async fn a_key_too_long_to_store_is_refused_and_never_reaches_the_engine() {
    let dir = tempfile::tempdir().unwrap();
    let tier = builder(dir.path()).open().unwrap();
    let long = "k".repeat(MAX_KEY_BYTES + 1);
    let beyond_fjall = "k".repeat(70 * 1024);
    for key in [&long, &beyond_fjall] {
        match tier.put(write(key, b"v", None)).await {
            Err(TierError::TooLarge { size, limit, .. }) => {
                assert_eq!((size, limit), (key.len() as u64, MAX_KEY_BYTES as u64));
            }
            other => panic!("expected TooLarge, got {other:?}"),
        }
        assert_eq!(tier.get(key).await.unwrap(), None);
        assert_eq!(
            tier.delete_many(std::slice::from_ref(key)).await.unwrap(),
            0
        );
    }
    let keys = vec![long.clone(), "short".to_owned(), beyond_fjall];
    tier.put(write("short", b"v", None)).await.unwrap();
    assert_eq!(
        tier.get_many(&keys).await.unwrap(),
        vec![None, Some(b"v".to_vec()), None]
    );
    // The longest storable key works.
    let longest = "k".repeat(MAX_KEY_BYTES);
    tier.put(write(&longest, b"v", None)).await.unwrap();
    assert_eq!(
        tier.get(&longest).await.unwrap().as_deref(),
        Some(&b"v"[..])
    );
    assert_consistent(&tier).await;
}

#[tokio::test]
async fn a_too_large_entry_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let tier = builder(dir.path())
        .max_bytes(4096)
        .max_entry_bytes(1000)
        .open()
        .unwrap();
    tier.put(write("k", b"old", None)).await.unwrap();
    let before = tier.stats();
    let big = vec![0u8; 1000];
    match tier.put(write("k", &big, None)).await {
        Err(TierError::TooLarge { size, limit, .. }) => assert_eq!((size, limit), (1001, 1000)),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    // A batch with one entry too large stores none of it.
    let batch = vec![write("fits", b"v", None), write("big", &big, None)];
    assert!(matches!(
        tier.put_many(batch).await,
        Err(TierError::TooLarge { .. })
    ));
    assert_eq!(tier.get("k").await.unwrap().as_deref(), Some(&b"old"[..]));
    assert_eq!(tier.get("fits").await.unwrap(), None);
    assert_eq!(tier.stats(), before);
    // Exactly the limit fits.
    tier.put(write("k", &big[..999], None)).await.unwrap();
    assert_consistent(&tier).await;
}

#[tokio::test]
async fn an_expired_entry_is_a_miss_and_is_deleted_lazily() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::at_unix_millis(T0));
    let tier = builder(dir.path()).clock(clock.clone()).open().unwrap();
    tier.put(write("session", b"s", Some(T0 + 1_000)))
        .await
        .unwrap();
    tier.put(write("forever", b"f", None)).await.unwrap();
    clock.advance(Duration::from_millis(999));
    assert!(tier.get("session").await.unwrap().is_some());
    clock.advance(Duration::from_millis(1));
    assert_eq!(
        tier.get("session").await.unwrap(),
        None,
        "the deadline itself is expired"
    );
    assert_eq!(
        tier.scan(&KeyFilter::All).await.unwrap(),
        vec!["forever".to_owned()]
    );
    // The delete was queued before the flush, so it is committed by now.
    tier.flush().await.unwrap();
    let stats = tier.stats();
    assert_eq!((stats.entries, stats.expirations), (1, 1));
    assert_consistent(&tier).await;
}

#[tokio::test]
async fn sweep_now_removes_every_expired_entry_in_batches() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::at_unix_millis(T0));
    let tier = builder(dir.path()).clock(clock.clone()).open().unwrap();
    // More than one sweep batch (1000), with different deadlines.
    let writes = (0..2_500u64)
        .map(|i| write(&format!("e{i}"), b"x", Some(T0 + 10 + i % 7)))
        .chain((0..10).map(|i| write(&format!("live{i}"), b"y", Some(T0 + 60_000))))
        .collect();
    tier.put_many(writes).await.unwrap();
    assert_eq!(
        tier.sweep_now().await.unwrap(),
        0,
        "nothing has expired yet"
    );
    clock.advance(Duration::from_millis(20));
    assert_eq!(tier.sweep_now().await.unwrap(), 2_500);
    let stats = tier.stats();
    assert_eq!((stats.entries, stats.expirations), (10, 2_500));
    assert_consistent(&tier).await;
}

#[tokio::test]
async fn the_background_sweep_removes_expired_entries() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::at_unix_millis(T0));
    let tier = builder(dir.path())
        .clock(clock.clone())
        .sweep_interval(Duration::from_millis(10))
        .open()
        .unwrap();
    let writes = (0..10)
        .map(|i| write(&format!("e{i}"), b"x", Some(T0 + 5)))
        .collect();
    tier.put_many(writes).await.unwrap();
    tier.put(write("live", b"y", None)).await.unwrap();
    // Expiry follows the manual clock; only the sweep's schedule is real
    // time, so wait (bounded) for the writer thread to run it.
    clock.advance(Duration::from_millis(5));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tier.stats().expirations < 10 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let stats = tier.stats();
    assert_eq!((stats.entries, stats.expirations), (1, 10));
    assert_consistent(&tier).await;
}

#[tokio::test]
async fn a_store_open_elsewhere_or_not_a_store_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let tier = builder(dir.path()).open().unwrap();
    let again = builder(dir.path()).open();
    assert!(matches!(again, Err(TierError::Engine { .. })), "{again:?}");
    tier.close().await.unwrap();
    // A file where the store's directory should be.
    let garbage = dir.path().join("garbage");
    std::fs::write(&garbage, vec![0x5a; 10_000]).unwrap();
    assert!(DiskTier::builder(&garbage).open().is_err());
    // A directory of something else: files fjall cannot read as its own.
    // Refused when asked to fail; by default moved aside, kept, and replaced
    // by a new store.
    let other = dir.path().join("other");
    std::fs::create_dir_all(other.join("shard-0")).unwrap();
    std::fs::write(other.join("shards"), "1\n").unwrap();
    std::fs::write(other.join("shard-0").join("version"), vec![0x5a; 100]).unwrap();
    let refused = DiskTier::builder(&other).on_damage(OnDamage::Fail).open();
    assert!(
        matches!(refused, Err(TierError::Engine { .. })),
        "{refused:?}"
    );
    let fresh = DiskTier::builder(&other).open().unwrap();
    let recovery = fresh.recovery().expect("moved aside").clone();
    assert_eq!(
        std::fs::read(recovery.moved_to.join("version")).unwrap(),
        vec![0x5a; 100]
    );
    assert_eq!(fresh.stats().entries, 0);
    fresh.put(write("k", b"v", None)).await.unwrap();
    assert_consistent(&fresh).await;
}

#[tokio::test]
async fn scan_selects_by_prefix_and_pattern_and_delete_matching_removes_them() {
    let dir = tempfile::tempdir().unwrap();
    let tier = builder(dir.path()).open().unwrap();
    let keys = [
        "order:1",
        "user:1",
        "user:1:name",
        "user:2",
        "user:2:name",
        "users",
    ];
    let writes = keys.iter().map(|k| write(k, b"v", None)).collect();
    tier.put_many(writes).await.unwrap();
    let prefix = KeyFilter::Prefix("user:".to_owned());
    assert_eq!(
        tier.scan(&prefix).await.unwrap(),
        vec!["user:1", "user:1:name", "user:2", "user:2:name"]
    );
    let names = KeyFilter::Pattern(KeyPattern::new("user:*:name").unwrap());
    assert_eq!(
        tier.scan(&names).await.unwrap(),
        vec!["user:1:name", "user:2:name"]
    );
    let anywhere = KeyFilter::Pattern(KeyPattern::new("*:1").unwrap());
    assert_eq!(
        tier.scan(&anywhere).await.unwrap(),
        vec!["order:1", "user:1"]
    );
    assert_eq!(tier.scan(&KeyFilter::All).await.unwrap().len(), keys.len());
    assert_eq!(tier.delete_matching(&names).await.unwrap(), 2);
    assert_eq!(tier.scan(&prefix).await.unwrap(), vec!["user:1", "user:2"]);
    assert_consistent(&tier).await;
}

#[tokio::test]
async fn clear_removes_entries_and_keeps_tag_epochs() {
    let dir = tempfile::tempdir().unwrap();
    let tier = builder(dir.path()).open().unwrap();
    let writes = (0..50)
        .map(|i| write(&format!("k{i}"), b"v", None))
        .collect();
    tier.put_many(writes).await.unwrap();
    tier.bump_tag_epoch("t").await.unwrap();
    tier.bump_tag_epoch("t").await.unwrap();
    assert_eq!(tier.clear().await.unwrap(), 50);
    assert_eq!((tier.stats().entries, tier.stats().bytes), (0, 0));
    assert_eq!(tier.get("k1").await.unwrap(), None);
    assert_eq!(tier.tag_epochs(&["t".to_owned()]).await.unwrap(), vec![2]);
    tier.put(write("after", b"v", None)).await.unwrap();
    assert_consistent(&tier).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_bumps_return_distinct_epochs() {
    let dir = tempfile::tempdir().unwrap();
    let tier = builder(dir.path()).open().unwrap();
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let tier = tier.clone();
            tokio::spawn(async move { tier.bump_tag_epoch("hot").await.unwrap() })
        })
        .collect();
    let mut epochs = HashSet::new();
    for task in tasks {
        assert!(
            epochs.insert(task.await.unwrap()),
            "an epoch was returned twice"
        );
    }
    assert_eq!(epochs, (1..=64).collect());
}

#[tokio::test]
async fn raise_never_lowers_an_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let tier = builder(dir.path()).open().unwrap();
    let tag = ["t".to_owned()];
    tier.raise_tag_epoch("t", 10).await.unwrap();
    assert_eq!(tier.tag_epochs(&tag).await.unwrap(), vec![10]);
    tier.raise_tag_epoch("t", 5).await.unwrap();
    assert_eq!(tier.tag_epochs(&tag).await.unwrap(), vec![10]);
    assert_eq!(tier.bump_tag_epoch("t").await.unwrap(), 11);
    tier.raise_tag_epoch("t", 11).await.unwrap();
    assert_eq!(tier.tag_epochs(&tag).await.unwrap(), vec![11]);
}

#[tokio::test]
async fn put_returns_only_once_the_write_is_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    // A long flush interval: if put answered before its commit, the copy
    // below would be taken before the write reached the file.
    let tier = builder(dir.path())
        .flush_interval(Duration::from_millis(300))
        .open()
        .unwrap();
    tier.put(write("durable", b"yes", None)).await.unwrap();
    // Copy the store as it is on disk now, while the tier keeps it open:
    // the copy is what a crash at this instant would leave.
    let copy = dir.path().join("copy");
    copy_dir(tier.path(), &copy);
    let crashed = DiskTier::builder(&copy).open().unwrap();
    assert_eq!(
        crashed.get("durable").await.unwrap().as_deref(),
        Some(&b"yes"[..])
    );
    assert_consistent(&crashed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_puts_share_commits() {
    let dir = tempfile::tempdir().unwrap();
    let tier = builder(dir.path())
        .flush_interval(Duration::from_millis(5))
        .open()
        .unwrap();
    let puts = 2_000;
    let tasks: Vec<_> = (0..puts)
        .map(|i| {
            let tier = tier.clone();
            tokio::spawn(async move { tier.put(write(&format!("k{i}"), b"v", None)).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let stats = tier.stats();
    assert_eq!(stats.entries, puts);
    assert!(
        stats.commits * 10 < puts,
        "{} commits for {puts} puts",
        stats.commits
    );
}

#[tokio::test]
async fn a_closed_tier_refuses_everything() {
    let dir = tempfile::tempdir().unwrap();
    let tier = builder(dir.path()).open().unwrap();
    let clone = tier.clone();
    tier.put(write("k", b"v", None)).await.unwrap();
    tier.close().await.unwrap();
    fn closed<T>(result: Result<T, TierError>) -> bool {
        matches!(result, Err(TierError::Closed { .. }))
    }
    assert!(closed(clone.get("k").await));
    assert!(closed(clone.put(write("k", b"v", None)).await));
    assert!(closed(clone.bump_tag_epoch("t").await));
    assert!(closed(clone.scan(&KeyFilter::All).await));
    assert!(closed(clone.sweep_now().await));
    assert!(closed(tier.close().await));
    assert!(!clone.health().await.is_up());
    // The file is closed: another open succeeds while the handles live.
    let again = builder(dir.path()).open().unwrap();
    assert_eq!(again.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
}

#[test]
fn invalid_settings_are_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let error = one_shard(dir.path())
        .max_bytes(100)
        .max_entry_bytes(200)
        .open()
        .unwrap_err();
    let TierError::Config { source, .. } = error else {
        panic!("expected a configuration error, got {error:?}");
    };
    assert!(matches!(
        source.downcast_ref::<DiskConfigError>(),
        Some(DiskConfigError::EntryLimit {
            entry: 200,
            max: 100
        })
    ));
    assert!(!dir.path().join("store").exists(), "nothing is created");
}

#[tokio::test]
async fn keys_spread_over_shards_and_a_store_keeps_its_shard_count() {
    let dir = tempfile::tempdir().unwrap();
    let tier = builder(dir.path()).shards(3).open().unwrap();
    assert_eq!(tier.shard_count(), 3);
    let writes = (0..300)
        .map(|i| write(&format!("k{i:03}"), b"v", None))
        .collect();
    tier.put_many(writes).await.unwrap();
    for shard in 0..3 {
        let files = std::fs::read_dir(dir.path().join("store").join(format!("shard-{shard}")))
            .unwrap()
            .count();
        assert!(files > 0, "shard {shard} is a database");
    }
    let all = tier.scan(&KeyFilter::All).await.unwrap();
    assert_eq!(all.len(), 300);
    assert!(all.windows(2).all(|w| w[0] < w[1]), "scan is sorted");
    let keys: Vec<String> = (0..300).map(|i| format!("k{i:03}")).collect();
    let found = tier.get_many(&keys).await.unwrap();
    assert!(found.iter().all(Option::is_some));
    tier.bump_tag_epoch("t").await.unwrap();
    tier.close().await.unwrap();

    // Another configured count does not remap the keys: the store keeps 3.
    let tier = builder(dir.path()).shards(2).open().unwrap();
    assert_eq!(tier.shard_count(), 3);
    assert_eq!(tier.get_many(&keys).await.unwrap(), found);
    assert_eq!(tier.tag_epochs(&["t".to_owned()]).await.unwrap(), vec![1]);
    assert_eq!(tier.delete_many(&keys[..10]).await.unwrap(), 10);
    assert_eq!(tier.clear().await.unwrap(), 290);
    assert_consistent(&tier).await;
}

#[tokio::test]
async fn lowering_max_bytes_on_reopen_evicts_at_the_next_put() {
    let dir = tempfile::tempdir().unwrap();
    let tier = one_shard(dir.path()).open().unwrap();
    let writes = (0..100)
        .map(|i| write(&format!("k{i:02}"), &[0; 97], None))
        .collect();
    tier.put_many(writes).await.unwrap();
    tier.close().await.unwrap();
    let tier = one_shard(dir.path()).max_bytes(5_000).open().unwrap();
    assert_eq!(tier.stats().bytes, 10_000, "opening evicts nothing");
    tier.put(write("new", &[0; 97], None)).await.unwrap();
    assert!(tier.stats().bytes <= 5_000);
    assert_consistent(&tier).await;
}

/// One step of the model test.
#[derive(Debug, Clone)]
enum Step {
    Put {
        key: u8,
        value: u8,
        ttl_ms: Option<u16>,
    },
    /// Several writes in one batch (one commit): keys may repeat, deadlines
    /// may be past already, and the batch alone may exceed the budget, so
    /// entries of the batch are evicted or expired by later ones.
    PutMany(Vec<(u8, u8, Option<i16>)>),
    Delete(u8),
    Get(u8),
    Advance(u16),
    Sweep,
    Flush,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0u8..16, any::<u8>(), proptest::option::of(1u16..500))
            .prop_map(|(key, value, ttl_ms)| Step::Put { key, value, ttl_ms }),
        2 => proptest::collection::vec(
            (0u8..16, any::<u8>(), proptest::option::of(-50i16..500)),
            1..16
        )
        .prop_map(Step::PutMany),
        1 => (0u8..16).prop_map(Step::Delete),
        3 => (0u8..16).prop_map(Step::Get),
        1 => (1u16..300).prop_map(Step::Advance),
        1 => Just(Step::Sweep),
        1 => Just(Step::Flush),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Random operations against a model, with a budget small enough to
    /// evict: a get returns the last value written under the key or
    /// nothing (never an older value, never an expired one), and the tables
    /// agree after every step.
    #[test]
    fn random_operations_keep_the_store_consistent(steps in proptest::collection::vec(step(), 1..40)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let clock = Arc::new(ManualClock::at_unix_millis(T0));
            let tier = builder(dir.path())
                .max_bytes(8 * 40)
                .max_entry_bytes(40)
                .clock(clock.clone())
                .open()
                .unwrap();
            let mut model: HashMap<String, (Vec<u8>, Option<u64>)> = HashMap::new();
            for step in steps {
                match step {
                    Step::Put { key, value, ttl_ms } => {
                        let key = format!("key{key}");
                        let bytes = vec![value; usize::from(value % 32)];
                        let expires = ttl_ms.map(|ttl| clock.unix_millis() + u64::from(ttl));
                        tier.put(write(&key, &bytes, expires)).await.unwrap();
                        model.insert(key, (bytes, expires));
                    }
                    Step::PutMany(writes) => {
                        let now = clock.unix_millis();
                        let mut batch = Vec::new();
                        for (key, value, ttl_ms) in writes {
                            let key = format!("key{key}");
                            let bytes = vec![value; usize::from(value % 32)];
                            let expires = ttl_ms.map(|ttl| now.saturating_add_signed(i64::from(ttl)));
                            batch.push(write(&key, &bytes, expires));
                            model.insert(key, (bytes, expires));
                        }
                        tier.put_many(batch).await.unwrap();
                    }
                    Step::Delete(key) => {
                        let key = format!("key{key}");
                        tier.delete(&key).await.unwrap();
                        model.remove(&key);
                    }
                    Step::Get(key) => {
                        let key = format!("key{key}");
                        let got = tier.get(&key).await.unwrap();
                        let now = clock.unix_millis();
                        match (&got, model.get(&key)) {
                            (None, _) => {}
                            (Some(bytes), Some((expected, expires))) => {
                                assert_eq!(bytes, expected, "{key}: stale or foreign value");
                                assert!(expires.is_none_or(|at| at > now), "{key}: expired value");
                            }
                            (Some(_), None) => panic!("{key}: deleted key came back"),
                        }
                    }
                    Step::Advance(ms) => clock.advance(Duration::from_millis(u64::from(ms))),
                    Step::Sweep => { tier.sweep_now().await.unwrap(); }
                    Step::Flush => tier.flush().await.unwrap(),
                }
                tier.flush().await.unwrap();
                assert_consistent(&tier).await;
                assert!(tier.stats().bytes <= 8 * 40);
            }
        });
    }
}

/// Copies the directory tree at `from` to `to`.
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
