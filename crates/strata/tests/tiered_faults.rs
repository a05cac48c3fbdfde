//! The tiered cache when a lower tier fails: reads degrade to misses of that
//! tier, write-through reports the failing tier and leaves no tier serving
//! the replaced value, write-back counts refused batches. The faults are
//! switched on by the test, which a real store cannot do on demand.
#![cfg(feature = "tiers")]

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use common::tiers::FaultyTier;
use strata::{CacheError, MemoryCache, Tier, TieredCache, WritePolicy};

fn cache(tiers: &[Arc<FaultyTier>], policy: WritePolicy) -> TieredCache<u64> {
    let memory = MemoryCache::builder().max_entries(100).build().unwrap();
    let mut builder = TieredCache::builder(memory).write_policy(policy);
    for tier in tiers {
        builder = builder.tier(tier.clone() as Arc<dyn Tier>);
    }
    builder.build().unwrap()
}

#[tokio::test]
async fn a_failing_tier_is_a_miss_of_that_tier_and_the_next_one_answers() {
    let (near, far) = (FaultyTier::new("near"), FaultyTier::new("far"));
    let cache = cache(&[near.clone(), far.clone()], WritePolicy::WriteThrough);
    cache.set("k", 1).await.unwrap();
    cache.memory().clear();
    near.fail_reads.store(true, Ordering::SeqCst);

    assert_eq!(cache.get("k").await, Some(1));
    let stats = cache.stats().await;
    assert_eq!(stats.tiers[0].read_errors, 1);
    assert_eq!(stats.tiers[1].hits, 1);
    assert!(!stats.tiers[0].healthy);
}

#[tokio::test]
async fn a_failed_write_through_names_the_tier_and_leaves_no_old_value() {
    let (near, far) = (FaultyTier::new("near"), FaultyTier::new("far"));
    let cache = cache(&[near.clone(), far.clone()], WritePolicy::WriteThrough);
    cache.set("k", 1).await.unwrap();
    far.fail_writes.store(true, Ordering::SeqCst);

    let err = cache.set("k", 2).await.unwrap_err();
    assert!(
        matches!(&err, CacheError::Tier { tier, .. } if tier == "far"),
        "{err}"
    );
    assert!(
        near.raw("k").is_none(),
        "the near tier no longer serves the old value"
    );
    assert!(!cache.memory().contains("k"));
    assert_eq!(cache.stats().await.tiers[1].write_errors, 1);

    far.fail_writes.store(false, Ordering::SeqCst);
    cache.set("k", 3).await.unwrap();
    assert_eq!(cache.get("k").await, Some(3));
}

#[tokio::test]
async fn a_refused_write_back_batch_is_counted_and_memory_keeps_the_value() {
    let tier = FaultyTier::new("flaky");
    let cache = cache(
        std::slice::from_ref(&tier),
        WritePolicy::WriteBack { queue: 64 },
    );
    tier.fail_writes.store(true, Ordering::SeqCst);
    cache.set("k", 1).await.unwrap();
    cache.flush().await.unwrap();

    let report = cache.stats().await.write_back.unwrap();
    assert_eq!(report.failed_batches, 1);
    assert_eq!(cache.get("k").await, Some(1));
    assert!(tier.raw("k").is_none());
}

#[tokio::test]
async fn a_failed_tag_bump_is_reported_but_this_process_stops_trusting_old_entries() {
    let tier = FaultyTier::new("flaky");
    let cache = cache(std::slice::from_ref(&tier), WritePolicy::WriteThrough);
    let tagged = strata::EntryOptions::new().with_tag("t");
    cache.set_with("k", 1, tagged).await.unwrap();
    tier.fail_writes.store(true, Ordering::SeqCst);

    let err = cache.invalidate_tag("t").await.unwrap_err();
    assert!(matches!(err, CacheError::Tier { .. }), "{err}");
    cache.memory().clear();
    assert_eq!(cache.get("k").await, None);
}

#[tokio::test]
async fn garbage_in_a_tier_is_a_counted_miss() {
    let tier = FaultyTier::new("store");
    let cache = cache(std::slice::from_ref(&tier), WritePolicy::WriteThrough);
    for (key, bytes) in [("empty", vec![]), ("noise", vec![0xAB; 100])] {
        tier.set_raw(key, bytes);
        assert_eq!(cache.get(key).await, None, "{key}");
        assert!(tier.raw(key).is_none(), "{key} deleted");
    }
    assert_eq!(cache.stats().await.tiers[0].corrupt, 2);
}
