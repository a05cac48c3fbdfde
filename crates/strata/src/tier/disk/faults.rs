//! Fault injection: commits that fail on demand, to check what a failing
//! disk does to `put`, to the waiters of a batch, to the counters and to
//! `health`. A real disk cannot be made to fail one commit on demand; the
//! failure is injected where fjall's commit would return its I/O error.

use std::sync::atomic::Ordering;

use super::DiskTier;
use super::shard::Shard;
use crate::tier::{Tier, TierError, TierHealth, TierWrite};

fn tier(dir: &tempfile::TempDir) -> Shard {
    Shard::open(DiskTier::builder(dir.path().join("store"))).unwrap()
}

fn write(key: &str) -> TierWrite {
    TierWrite {
        key: key.to_owned(),
        bytes: b"value".to_vec(),
        expires_at_ms: None,
    }
}

/// Lets `n` more commits succeed, then fails every one (`u64::MAX`: none).
fn commits_left(tier: &Shard, n: u64) {
    tier.inner.shared.commits_left.store(n, Ordering::SeqCst);
}

fn fail_commits(tier: &Shard, failing: bool) {
    commits_left(tier, if failing { 0 } else { u64::MAX });
}

#[tokio::test]
async fn a_failed_commit_fails_the_put_and_takes_the_tier_down_until_one_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let tier = tier(&dir);
    tier.put(write("before")).await.unwrap();
    assert_eq!(tier.health().await, TierHealth::Healthy);

    fail_commits(&tier, true);
    let error = tier.put(write("during")).await.unwrap_err();
    assert!(matches!(error, TierError::Io { .. }), "{error:?}");
    assert!(!tier.health().await.is_up());
    assert_eq!(tier.stats().entries, 1, "the failed batch is not counted");
    assert_eq!(tier.get("during").await.unwrap(), None);

    fail_commits(&tier, false);
    tier.put(write("after")).await.unwrap();
    assert_eq!(tier.health().await, TierHealth::Healthy);
    assert_eq!(tier.stats().entries, 2);
    tier.verify().await.unwrap().into_result().unwrap();
    tier.close().await.unwrap();
}

#[tokio::test]
async fn a_failed_batch_fails_every_waiter_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let tier = tier(&dir);
    fail_commits(&tier, true);
    let puts: Vec<_> = (0..8)
        .map(|i| {
            let tier = tier.clone();
            tokio::spawn(async move { tier.put(write(&format!("k{i}"))).await })
        })
        .collect();
    for put in puts {
        assert!(put.await.unwrap().is_err());
    }
    assert_eq!(tier.stats().entries, 0);
    fail_commits(&tier, false);
    tier.verify().await.unwrap().into_result().unwrap();
    tier.close().await.unwrap();
}

#[tokio::test]
async fn a_large_delete_that_fails_part_way_leaves_consistent_counters() {
    let dir = tempfile::tempdir().unwrap();
    let tier = tier(&dir);
    let writes: Vec<_> = (0..super::txn::DELETE_STEP * 2 + 10)
        .map(|i| write(&format!("k{i:06}")))
        .collect();
    tier.put_many(writes).await.unwrap();
    // The first step of the clear commits, the second fails.
    commits_left(&tier, 1);
    assert!(tier.clear().await.is_err());
    fail_commits(&tier, false);
    // The writer read its counters back: they agree with the store.
    tier.flush().await.unwrap();
    let report = tier.verify().await.unwrap().into_result().unwrap();
    assert_eq!(report.entries, super::txn::DELETE_STEP as u64 + 10);
    assert_eq!(tier.stats().entries, report.entries);
    assert_eq!(tier.clear().await.unwrap(), report.entries);
    assert_eq!(tier.stats().entries, 0);
    tier.close().await.unwrap();
}
