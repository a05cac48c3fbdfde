//! Waiting for backplane deliveries, shared by the backplane and client
//! tracking tests.

use std::time::{Duration, Instant};

use strata::TieredCache;

/// How long a test waits for an invalidation: generous, for a loaded 2-core
/// machine (the lag itself is measured by the lag test and the bench).
pub(crate) const DELIVERY: Duration = Duration::from_secs(3);

/// Backplane events `cache` has received.
pub(crate) async fn received(cache: &TieredCache<String>) -> u64 {
    cache.stats().await.backplane.expect("a backplane").received
}

/// Waits until `cache` has received `n` events, for at most [`DELIVERY`]. A
/// read must come after the invalidation of the write it reads, or the late
/// invalidation would (rightly) drop what it just filled.
pub(crate) async fn heard(cache: &TieredCache<String>, n: u64) {
    let deadline = Instant::now() + DELIVERY;
    while received(cache).await < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert!(received(cache).await >= n, "invalidations not delivered");
}

/// Waits until `done` holds, for at most [`DELIVERY`].
pub(crate) async fn eventually(mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + DELIVERY;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    done()
}
