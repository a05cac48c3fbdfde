//! The tiered cache over real disk tiers in temp dirs: read path and
//! promotion, persistence, write policies, single flight, invalidation by
//! key, tag, prefix and pattern, stats, and a fill racing an invalidation.
#![cfg(feature = "disk")]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::tiers::GatedTier;
use serde::{Deserialize, Serialize};
use strata::envelope::{Codec, CompressionLevel, Envelope, decode_value};
use strata::tier::disk::{DiskTier, OnDamage};
use strata::{CacheError, EntryOptions, ManualClock, MemoryCache, Tier, TieredCache, WritePolicy};
use tokio::sync::Barrier;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct User {
    id: u64,
    name: String,
}

fn user(id: u64) -> User {
    User {
        id,
        name: format!("user number {id}"),
    }
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::at_unix_millis(1_700_000_000_000))
}

fn disk(path: &Path, clock: &Arc<ManualClock>) -> Arc<DiskTier> {
    Arc::new(
        DiskTier::builder(path)
            .clock(clock.clone())
            .flush_interval(Duration::ZERO)
            .open()
            .expect("open disk tier"),
    )
}

fn memory<V: Clone + Send + Sync + 'static>(clock: &Arc<ManualClock>) -> MemoryCache<String, V> {
    MemoryCache::builder()
        .max_entries(1_000)
        .clock(clock.clone())
        .build()
        .expect("memory tier")
}

fn cache<V>(
    clock: &Arc<ManualClock>,
    tiers: Vec<Arc<dyn Tier>>,
    policy: WritePolicy,
) -> TieredCache<V>
where
    V: Clone + Send + Sync + Serialize + for<'de> Deserialize<'de> + 'static,
{
    let mut builder = TieredCache::builder(memory(clock))
        .clock(clock.clone())
        .write_policy(policy);
    for tier in tiers {
        builder = builder.tier(tier);
    }
    builder.build().expect("tiered cache")
}

#[tokio::test]
async fn a_disk_hit_is_promoted_with_its_remaining_ttl_and_options() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let disk: Arc<dyn Tier> = disk(&dir.path().join("db"), &clock);
    let cache = cache::<User>(&clock, vec![disk.clone()], WritePolicy::WriteThrough);

    let options = EntryOptions::new()
        .with_ttl(Duration::from_secs(60))
        .with_tag("users")
        .with_priority(3)
        .with_metadata("source", "db");
    cache.set_with("u:1", user(1), options).await.unwrap();
    assert!(
        disk.get("u:1").await.unwrap().is_some(),
        "write-through reached disk"
    );

    cache.memory().clear();
    clock.advance(Duration::from_secs(20));
    assert_eq!(cache.get("u:1").await, Some(user(1)));
    assert!(cache.memory().contains("u:1"), "promoted into memory");
    let promoted = cache
        .memory()
        .snapshot()
        .into_iter()
        .find(|e| e.key == "u:1")
        .unwrap();
    let options = promoted.options();
    assert_eq!(options.tags(), ["users"]);
    assert_eq!(options.priority(), 3);
    assert_eq!(
        options.metadata().get("source").map(String::as_str),
        Some("db")
    );

    // 40 s were left: at 41 s more, every tier has it expired.
    clock.advance(Duration::from_secs(41));
    assert_eq!(cache.get("u:1").await, None);
    let stats = cache.stats().await;
    assert_eq!(stats.tiers[0].hits, 1);
    // The disk tier drops expired entries itself, so the stack sees a miss
    // (a tier that returned the entry would have it counted as expired).
    assert_eq!(stats.tiers[0].misses + stats.tiers[0].expired, 1);
}

#[tokio::test]
async fn a_hit_in_the_second_tier_is_promoted_into_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let near: Arc<dyn Tier> = disk(&dir.path().join("near"), &clock);
    let far: Arc<dyn Tier> = disk(&dir.path().join("far"), &clock);
    let cache = cache::<u64>(
        &clock,
        vec![near.clone(), far.clone()],
        WritePolicy::WriteThrough,
    );
    cache.set("k", 7).await.unwrap();
    near.delete("k").await.unwrap();
    cache.memory().clear();

    assert_eq!(cache.get("k").await, Some(7));
    assert!(
        near.get("k").await.unwrap().is_some(),
        "copied up into the near tier"
    );
    let stats = cache.stats().await;
    assert_eq!((stats.tiers[0].misses, stats.tiers[1].hits), (1, 1));
}

#[tokio::test]
async fn entries_and_tag_invalidations_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let clock = clock();
    {
        let disk = disk(&path, &clock);
        let cache = cache::<User>(&clock, vec![disk.clone()], WritePolicy::WriteThrough);
        cache.set("kept", user(1)).await.unwrap();
        let tagged = EntryOptions::new().with_tag("team:7");
        cache.set_with("dropped", user(2), tagged).await.unwrap();
        cache.invalidate_tag("team:7").await.unwrap();
        cache.close().await.unwrap();
        disk.close().await.unwrap();
    }
    let disk = disk(&path, &clock);
    let cache = cache::<User>(&clock, vec![disk.clone()], WritePolicy::WriteThrough);
    assert_eq!(cache.get("kept").await, Some(user(1)));
    assert_eq!(cache.get("dropped").await, None, "the tag epoch persisted");
    assert_eq!(cache.stats().await.tiers[0].stale, 1);
    assert!(
        disk.get("dropped").await.unwrap().is_none(),
        "stale entry deleted on read"
    );
}

#[tokio::test]
async fn get_or_compute_runs_one_loader_for_many_callers_and_none_for_a_disk_hit() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let disk: Arc<dyn Tier> = disk(&dir.path().join("db"), &clock);
    let cache = cache::<u64>(&clock, vec![disk.clone()], WritePolicy::WriteThrough);

    let calls = Arc::new(AtomicU32::new(0));
    let barrier = Arc::new(Barrier::new(16));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (cache, calls, barrier) = (cache.clone(), calls.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            cache
                .get_or_compute("answer", EntryOptions::new(), || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    // Let every other caller arrive while this one loads.
                    for _ in 0..50 {
                        tokio::task::yield_now().await;
                    }
                    Ok::<_, std::io::Error>(42)
                })
                .await
                .unwrap()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 42);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(
        disk.get("answer").await.unwrap().is_some(),
        "loaded value written down"
    );

    cache.memory().clear();
    let value = cache
        .get_or_compute("answer", EntryOptions::new(), || async {
            Err::<u64, _>("the loader must not run when the disk has the value")
        })
        .await
        .unwrap();
    assert_eq!(value, 42);
}

#[tokio::test]
async fn a_loader_error_reaches_the_caller_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let disk: Arc<dyn Tier> = disk(&dir.path().join("db"), &clock);
    let cache = cache::<u64>(&clock, vec![disk.clone()], WritePolicy::WriteThrough);
    let err = cache
        .get_or_compute("k", EntryOptions::new(), || async {
            Err::<u64, _>("db down")
        })
        .await
        .unwrap_err();
    assert_eq!(*err, "db down");
    assert_eq!(cache.get("k").await, None);
    assert!(disk.get("k").await.unwrap().is_none());
}

#[tokio::test]
async fn write_back_serves_queued_writes_and_close_flushes_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let clock = clock();
    let disk = disk(&path, &clock);
    let tiers: Vec<Arc<dyn Tier>> = vec![disk.clone()];
    // A queue of 4 for 200 writes: most overflow, and are written through.
    let cache = cache::<u64>(&clock, tiers, WritePolicy::WriteBack { queue: 4 });
    for i in 0..200 {
        cache.set(format!("k{i}"), i).await.unwrap();
    }
    cache.memory().clear();
    for i in 0..200 {
        assert_eq!(cache.get(&format!("k{i}")).await, Some(i), "k{i}");
    }
    cache.close().await.unwrap();
    let report = cache.stats().await.write_back.unwrap();
    assert_eq!(report.queued, 0);
    assert_eq!(report.written + report.overflows, 200);
    assert!(matches!(
        cache.set("late", 1).await,
        Err(CacheError::Closed)
    ));
    for i in 0..200 {
        assert!(
            disk.get(&format!("k{i}")).await.unwrap().is_some(),
            "k{i} on disk"
        );
    }
}

#[tokio::test]
async fn an_invalidation_overtakes_nothing_queued_for_write_back() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let disk: Arc<dyn Tier> = disk(&dir.path().join("db"), &clock);
    let cache = cache::<u64>(
        &clock,
        vec![disk.clone()],
        WritePolicy::WriteBack { queue: 1024 },
    );
    for i in 0..100 {
        cache.set(format!("user:{i}"), i).await.unwrap();
    }
    let removed = cache.invalidate_prefix("user:").await.unwrap();
    assert_eq!(removed.memory, 100);
    cache.flush().await.unwrap();
    for i in 0..100 {
        let key = format!("user:{i}");
        assert_eq!(cache.get(&key).await, None, "{key}");
        assert!(disk.get(&key).await.unwrap().is_none(), "{key} on disk");
    }
}

#[tokio::test]
async fn invalidation_by_key_tag_prefix_and_pattern_reaches_every_tier() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let disk: Arc<dyn Tier> = disk(&dir.path().join("db"), &clock);
    let cache = cache::<u64>(&clock, vec![disk.clone()], WritePolicy::WriteThrough);
    let keys = [
        "user:1:name",
        "user:1:mail",
        "user:2:name",
        "post:1",
        "post:2",
    ];
    for (i, key) in keys.iter().enumerate() {
        let tagged = EntryOptions::new().with_tag(if key.starts_with("post") {
            "posts"
        } else {
            "users"
        });
        cache.set_with(*key, i as u64, tagged).await.unwrap();
    }

    assert!(cache.remove("user:1:mail").await.unwrap());
    assert!(!cache.remove("user:1:mail").await.unwrap());
    let by_pattern = cache.invalidate_pattern("user:*:name").await.unwrap();
    assert_eq!((by_pattern.memory, by_pattern.lower.clone()), (2, vec![2]));
    assert!(matches!(
        cache.invalidate_pattern("user:[").await,
        Err(CacheError::Pattern(_))
    ));

    cache.memory().clear();
    assert_eq!(cache.get("post:1").await, Some(3), "other keys untouched");
    assert_eq!(cache.invalidate_tag("posts").await.unwrap(), 1);
    assert_eq!(cache.get("post:1").await, None);
    assert_eq!(cache.get("post:2").await, None);
    for key in keys {
        assert_eq!(cache.get(key).await, None, "{key}");
    }
    cache.set("a", 1).await.unwrap();
    assert_eq!(cache.clear().await.unwrap().lower, vec![1]);
    assert_eq!(cache.get("a").await, None);
}

#[tokio::test]
async fn a_fill_racing_an_invalidation_is_discarded() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let gate = GatedTier::new(disk(&dir.path().join("db"), &clock));
    let cache = cache::<u64>(&clock, vec![gate.clone()], WritePolicy::WriteThrough);
    cache.set("k", 1).await.unwrap();
    cache.memory().clear();

    // The read takes the old value from disk and is held there…
    gate.armed.store(true, Ordering::SeqCst);
    let reader = tokio::spawn({
        let cache = cache.clone();
        async move { cache.get("k").await }
    });
    gate.reached.notified().await;
    // …while the key is removed everywhere; then the read goes on.
    assert!(cache.remove("k").await.unwrap());
    gate.release.notify_one();
    assert_eq!(reader.await.unwrap(), Some(1), "the read itself came first");

    assert!(!cache.memory().contains("k"), "the stale fill was not kept");
    assert_eq!(cache.get("k").await, None);
    assert_eq!(cache.stats().await.discarded_fills, 1);
}

#[tokio::test]
async fn damaged_bytes_on_disk_are_a_counted_miss_and_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let disk: Arc<dyn Tier> = disk(&dir.path().join("db"), &clock);
    let cache = cache::<String>(&clock, vec![disk.clone()], WritePolicy::WriteThrough);
    cache.set("good", "intact".to_string()).await.unwrap();
    let mut bytes = disk.get("good").await.unwrap().unwrap();
    let truncated = bytes[..bytes.len() - 3].to_vec();
    let last = bytes.len() - 1;
    bytes[last / 2] ^= 0x10;
    for (key, damaged) in [("flipped", bytes), ("truncated", truncated)] {
        disk.put(strata::TierWrite {
            key: key.into(),
            bytes: damaged,
            expires_at_ms: None,
        })
        .await
        .unwrap();
        assert_eq!(cache.get(key).await, None, "{key}");
        assert!(disk.get(key).await.unwrap().is_none(), "{key} deleted");
    }
    let stats = cache.stats().await;
    assert_eq!(stats.tiers[0].corrupt, 2);
    cache.memory().clear();
    assert_eq!(cache.get("good").await.as_deref(), Some("intact"));
}

#[tokio::test]
async fn a_bit_flipped_in_the_store_files_is_never_returned() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let clock = clock();
    let marker: String = "0123456789abcdef".repeat(8);
    {
        let disk = disk(&path, &clock);
        let cache = TieredCache::builder(memory::<String>(&clock))
            .tier(disk.clone())
            .compression(CompressionLevel::None)
            .clock(clock.clone())
            .build()
            .unwrap();
        cache.set("k", marker.clone()).await.unwrap();
        cache.close().await.unwrap();
        disk.close().await.unwrap();
    }
    // The value is in the journal (a clean close does not flush memtables)
    // or in a table; flip one bit of it wherever it is.
    let mut flipped = false;
    for file in files_under(&path) {
        let mut bytes = std::fs::read(&file).unwrap();
        if let Some(at) = bytes
            .windows(marker.len())
            .position(|w| w == marker.as_bytes())
        {
            bytes[at + 5] ^= 0x01;
            std::fs::write(&file, bytes).unwrap();
            flipped = true;
        }
    }
    assert!(
        flipped,
        "the uncompressed value is in one of the store's files"
    );

    // fjall checksums its journal and its tables: the damage is found at
    // open. By default the store is moved aside and a new one opened, so
    // the cache starts cold instead of failing; the damaged value is never
    // returned, and the damaged files are kept.
    let refused = DiskTier::builder(&path)
        .on_damage(OnDamage::Fail)
        .clock(clock.clone())
        .open();
    assert!(
        matches!(refused, Err(strata::TierError::Engine { .. })),
        "{refused:?}"
    );
    let disk = Arc::new(
        DiskTier::builder(&path)
            .clock(clock.clone())
            .open()
            .unwrap(),
    );
    let recovery = disk.recovery().expect("the damaged store was moved aside");
    assert!(recovery.moved_to.is_dir(), "{recovery:?}");
    assert!(recovery.reason.contains("Checksum"), "{recovery:?}");
    let cache = cache::<String>(&clock, vec![disk.clone()], WritePolicy::WriteThrough);
    assert_eq!(cache.get("k").await, None);
    cache.set("k", "fresh".to_owned()).await.unwrap();
    assert_eq!(disk.stats().entries, 1);
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[tokio::test]
async fn stats_report_per_tier_counts_latency_bytes_and_compression() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let disk: Arc<dyn Tier> = disk(&dir.path().join("db"), &clock);
    let cache = TieredCache::builder(memory::<String>(&clock))
        .tier(disk.clone())
        .compression(CompressionLevel::Default)
        .clock(clock.clone())
        .build()
        .unwrap();
    let text = "the quick brown fox jumps over the lazy dog. ".repeat(100);
    for i in 0..10 {
        cache.set(format!("k{i}"), text.clone()).await.unwrap();
    }
    cache.memory().clear();
    for i in 0..12 {
        let _ = cache.get(&format!("k{i}")).await;
    }
    let stats = cache.stats().await;
    let tier = &stats.tiers[0];
    assert_eq!((tier.hits, tier.misses, tier.writes), (10, 2, 10));
    assert_eq!(stats.misses, 2);
    assert_eq!(tier.get_latency.samples, 12);
    assert!(tier.get_latency.p99 >= tier.get_latency.p50);
    assert!(
        tier.compression_ratio > 5.0,
        "ratio {}",
        tier.compression_ratio
    );
    assert_eq!(tier.entries, 10);
    assert!(tier.bytes > 0 && tier.bytes < 10 * text.len() as u64);
    assert!(tier.healthy);
}

#[tokio::test]
async fn json_envelopes_hold_plain_json() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let disk: Arc<dyn Tier> = disk(&dir.path().join("db"), &clock);
    let cache = TieredCache::builder(memory::<User>(&clock))
        .tier(disk.clone())
        .codec(Codec::Json)
        .compression(CompressionLevel::None)
        .clock(clock.clone())
        .build()
        .unwrap();
    cache.set("u", user(5)).await.unwrap();
    let envelope = Envelope::decode(&disk.get("u").await.unwrap().unwrap()).unwrap();
    assert_eq!(envelope.codec, Codec::Json);
    let raw = envelope.value_bytes(1 << 20).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(json["name"], "user number 5");
    assert_eq!(decode_value::<User>(Codec::Json, &raw).unwrap(), user(5));
}

#[tokio::test]
async fn oversized_values_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let disk: Arc<dyn Tier> = disk(&dir.path().join("db"), &clock);
    let cache = TieredCache::builder(memory::<Vec<u8>>(&clock))
        .tier(disk.clone())
        .max_value_bytes(1_000)
        .clock(clock.clone())
        .build()
        .unwrap();
    cache.set("k", vec![1; 10]).await.unwrap();
    let err = cache.set("k", vec![2; 5_000]).await.unwrap_err();
    assert!(
        matches!(err, CacheError::TooLarge { limit: 1_000, .. }),
        "{err}"
    );
    assert_eq!(cache.get("k").await, Some(vec![1; 10]));
    cache.memory().clear();
    assert_eq!(cache.get("k").await, Some(vec![1; 10]));
}
