//! Single flight: concurrent callers for one missing key run one loader and
//! share its outcome. The loaders below wait until every other caller has
//! joined their flight (`load_waits` in the stats), so the followers really
//! do wait on it. Waiting for misses alone is not enough: a caller that has
//! missed but not yet joined when a failed flight ends rightly loads again.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use strata::MemoryCache;

const THREADS: usize = 16;

fn cache() -> MemoryCache<String, u64> {
    MemoryCache::builder()
        .max_entries(100)
        .build()
        .expect("valid configuration")
}

/// Runs `f` on `n` threads released together; returns each thread's outcome.
fn together<T: Send>(n: usize, f: impl Fn() -> T + Sync) -> Vec<thread::Result<T>> {
    let barrier = Barrier::new(n);
    thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    f()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join()).collect()
    })
}

/// Blocks until `n` callers wait on a flight in `cache` (or fails after 10 s).
fn wait_for_waiters(cache: &MemoryCache<String, u64>, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while cache.stats().load_waits < n {
        assert!(Instant::now() < deadline, "callers never all joined");
        thread::yield_now();
    }
}

#[test]
fn sixteen_threads_one_loader_call() {
    let cache = cache();
    let calls = AtomicUsize::new(0);
    let results: Vec<u64> = together(THREADS, || {
        cache.get_or_compute("k".to_owned(), || {
            calls.fetch_add(1, Ordering::SeqCst);
            wait_for_waiters(&cache, THREADS as u64 - 1);
            42
        })
    })
    .into_iter()
    .map(|r| r.expect("no panic"))
    .collect();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(results.iter().all(|&v| v == 42));
    assert_eq!(cache.get("k"), Some(42), "the value was cached");
    // Loaders record how long they ran as the entry's cost.
    let cost = cache.snapshot()[0].cost;
    assert!(cost.is_some_and(|c| c > Duration::ZERO), "{cost:?}");
}

#[derive(Debug, PartialEq)]
struct LoadError(&'static str);

#[test]
fn a_failure_reaches_every_waiter_and_is_not_cached() {
    let cache = cache();
    let calls = AtomicUsize::new(0);
    let errors: Vec<Arc<LoadError>> = together(8, || {
        cache
            .try_get_or_compute("k".to_owned(), || {
                calls.fetch_add(1, Ordering::SeqCst);
                wait_for_waiters(&cache, 7);
                Err(LoadError("database down"))
            })
            .expect_err("the loader failed")
    })
    .into_iter()
    .map(|r| r.expect("no panic"))
    .collect();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(
        errors.iter().all(|e| Arc::ptr_eq(e, &errors[0])),
        "one shared error"
    );
    assert_eq!(*errors[0], LoadError("database down"));
    assert!(!cache.contains("k"), "errors are not cached");
    let value = cache.try_get_or_compute("k".to_owned(), || Ok::<_, LoadError>(7));
    assert_eq!(value, Ok(7), "the next call loads again");
}

#[test]
fn when_the_leader_panics_a_waiter_takes_over() {
    let cache = cache();
    let calls = AtomicUsize::new(0);
    let outcomes = together(4, || {
        cache.get_or_compute("k".to_owned(), || {
            if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                wait_for_waiters(&cache, 3);
                panic!("loader bug");
            }
            9
        })
    });
    assert_eq!(calls.load(Ordering::SeqCst), 2, "one panic, one retry");
    assert_eq!(outcomes.iter().filter(|o| o.is_err()).count(), 1);
    assert!(outcomes.iter().flatten().all(|&v| v == 9));
    cache.validate().expect("consistent");
}

#[test]
fn an_infallible_waiter_retries_when_the_leader_fails() {
    let cache = cache();
    let barrier = Barrier::new(2);
    thread::scope(|s| {
        let failing = s.spawn(|| {
            barrier.wait();
            cache.try_get_or_compute("k".to_owned(), || {
                wait_for_waiters(&cache, 1);
                Err(LoadError("no"))
            })
        });
        let infallible = s.spawn(|| {
            barrier.wait();
            cache.get_or_compute("k".to_owned(), || 5)
        });
        let failed = failing.join().expect("no panic");
        let value = infallible.join().expect("no panic");
        // Either order is possible; both callers must get an answer of
        // their own type.
        assert_eq!(value, 5);
        assert!(failed == Err(Arc::new(LoadError("no"))) || failed == Ok(5));
    });
}

#[test]
fn distinct_keys_load_in_parallel() {
    let cache = cache();
    let calls = AtomicUsize::new(0);
    thread::scope(|s| {
        for i in 0..8 {
            let (cache, calls) = (&cache, &calls);
            s.spawn(move || {
                cache.get_or_compute(format!("k{i}"), || {
                    calls.fetch_add(1, Ordering::SeqCst);
                    i
                })
            });
        }
    });
    assert_eq!(calls.load(Ordering::SeqCst), 8);
    assert_eq!(cache.len(), 8);
}

#[cfg(feature = "tokio")]
mod async_loaders {
    use super::*;
    use strata::CacheStats;

    /// Waits until `ready` holds for the stats of `cache` (or fails after 10 s).
    async fn wait_until(
        cache: &MemoryCache<String, u64>,
        ready: impl Fn(&CacheStats<String>) -> bool,
    ) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ready(&cache.stats()) {
            assert!(Instant::now() < deadline, "the callers never got there");
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sixteen_tasks_one_loader_call() {
        let cache = cache();
        let calls = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..THREADS)
            .map(|_| {
                let (cache, calls) = (cache.clone(), Arc::clone(&calls));
                tokio::spawn(async move {
                    let loader_cache = cache.clone();
                    cache
                        .get_or_compute_async("k".to_owned(), async move {
                            calls.fetch_add(1, Ordering::SeqCst);
                            wait_until(&loader_cache, |s| s.load_waits >= THREADS as u64 - 1).await;
                            42
                        })
                        .await
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.expect("no panic"), 42);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cancelled_leader_hands_over_to_a_waiter() {
        let cache = cache();
        let leader = {
            let cache = cache.clone();
            tokio::spawn(async move {
                cache
                    .get_or_compute_async("k".to_owned(), std::future::pending())
                    .await
            })
        };
        wait_until(&cache, |s| s.misses >= 1).await;
        let follower = {
            let cache = cache.clone();
            tokio::spawn(async move {
                cache
                    .get_or_compute_async("k".to_owned(), async { 8 })
                    .await
            })
        };
        wait_until(&cache, |s| s.load_waits >= 1).await;
        leader.abort();
        let value = tokio::time::timeout(Duration::from_secs(10), follower)
            .await
            .expect("the follower was woken")
            .expect("no panic");
        assert_eq!(value, 8);
    }

    #[tokio::test]
    async fn async_errors_are_shared_and_not_cached() {
        let cache = cache();
        let err = cache
            .try_get_or_compute_async("k".to_owned(), async { Err(LoadError("down")) })
            .await
            .expect_err("failed");
        assert_eq!(*err, LoadError("down"));
        assert!(!cache.contains("k"));
    }
}
