//! The removal listener is told every cause, owns what it is given, and may
//! call back into the cache.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::Removed;
use strata::{EntryOptions, ManualClock, MemoryCache, RemovalCause};

#[test]
fn every_cause_reaches_the_listener() {
    let clock = Arc::new(ManualClock::new());
    let removed: Removed<String, u32> = Removed::default();
    // LRU, so that which entry the capacity eviction takes is obvious.
    let cache: MemoryCache<String, u32> = MemoryCache::builder()
        .max_entries(2)
        .shards(1)
        .policy(strata::Policy::Lru)
        .clock(clock.clone())
        .removal_listener(removed.listener())
        .build()
        .expect("valid configuration");
    let k = |s: &str| s.to_owned();

    cache.insert(k("a"), 1).expect("fits");
    cache.insert(k("a"), 2).expect("fits");
    assert_eq!(removed.take(), [(k("a"), 1, RemovalCause::Replaced)]);

    cache.insert(k("b"), 3).expect("fits");
    cache.insert(k("c"), 4).expect("fits");
    assert_eq!(removed.take(), [(k("a"), 2, RemovalCause::Capacity)]);

    assert_eq!(cache.remove("b"), Some(3));
    assert_eq!(removed.take(), [(k("b"), 3, RemovalCause::Removed)]);

    cache
        .insert_with(k("d"), 5, EntryOptions::new().with_tag("t"))
        .expect("fits");
    cache.invalidate_tag("t");
    assert_eq!(removed.take(), [(k("d"), 5, RemovalCause::Invalidated)]);

    cache
        .insert_with(
            k("e"),
            6,
            EntryOptions::new().with_ttl(Duration::from_secs(1)),
        )
        .expect("fits");
    clock.advance(Duration::from_secs(1));
    assert_eq!(cache.get("e"), None);
    assert_eq!(removed.take(), [(k("e"), 6, RemovalCause::Expired)]);

    cache.clear();
    assert_eq!(removed.take(), [(k("c"), 4, RemovalCause::Removed)]);

    let stats = cache.stats();
    for cause in RemovalCause::ALL {
        assert!(stats.evictions.get(cause) >= 1, "{cause:?} not counted");
    }
}

#[test]
fn the_listener_may_call_back_into_the_cache() {
    // The listener runs after the shard lock is released; a re-entrant call
    // that would deadlock under the lock must complete.
    let slot: Arc<std::sync::OnceLock<MemoryCache<u32, u32>>> = Arc::default();
    let seen = Arc::clone(&slot);
    let cache: MemoryCache<u32, u32> = MemoryCache::builder()
        .max_entries(1)
        .shards(1)
        .removal_listener(move |key, _value, _cause| {
            if let Some(cache) = seen.get() {
                let _ = cache.contains(&key);
                let _ = cache.len();
            }
        })
        .build()
        .expect("valid configuration");
    slot.set(cache.clone()).expect("set once");
    for i in 0..10 {
        cache.insert(i, i).expect("fits");
    }
    assert_eq!(cache.len(), 1);
}

#[test]
fn remove_of_an_expired_key_reports_expired_and_returns_nothing() {
    let clock = Arc::new(ManualClock::new());
    let removed: Removed<u32, u32> = Removed::default();
    let cache: MemoryCache<u32, u32> = MemoryCache::builder()
        .max_entries(4)
        .clock(clock.clone())
        .removal_listener(removed.listener())
        .build()
        .expect("valid configuration");
    cache
        .insert_with(1, 1, EntryOptions::new().with_ttl(Duration::from_secs(1)))
        .expect("fits");
    clock.advance(Duration::from_secs(2));
    assert_eq!(cache.remove(&1), None);
    assert_eq!(removed.take(), [(1, 1, RemovalCause::Expired)]);
}
