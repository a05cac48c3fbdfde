//! Time to live and time to idle, driven by an injected clock (no sleeps).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::Removed;
use strata::{EntryOptions, ManualClock, MemoryCache, RemovalCause};

fn cache(
    clock: &Arc<ManualClock>,
    removed: &Removed<&'static str, u32>,
) -> MemoryCache<&'static str, u32> {
    MemoryCache::builder()
        .max_entries(100)
        .clock(clock.clone())
        .removal_listener(removed.listener())
        .build()
        .expect("valid configuration")
}

const S: fn(u64) -> Duration = Duration::from_secs;

#[test]
fn an_entry_lives_exactly_its_ttl() {
    let clock = Arc::new(ManualClock::new());
    let removed = Removed::default();
    let cache = cache(&clock, &removed);
    cache
        .insert_with("k", 1, EntryOptions::new().with_ttl(S(10)))
        .expect("fits");
    clock.advance(Duration::from_nanos(S(10).as_nanos() as u64 - 1));
    assert_eq!(cache.get("k"), Some(1), "alive one nanosecond before");
    clock.advance(Duration::from_nanos(1));
    assert!(!cache.contains("k"));
    assert_eq!(cache.peek("k"), None);
    assert_eq!(cache.get("k"), None, "expired at its deadline");
    assert_eq!(removed.take(), [("k", 1, RemovalCause::Expired)]);
    assert_eq!(cache.len(), 0, "the read purged it");
    cache.validate().expect("consistent");
}

#[test]
fn the_default_ttl_applies_unless_overridden() {
    let clock = Arc::new(ManualClock::new());
    let cache: MemoryCache<&str, u32> = MemoryCache::builder()
        .max_entries(10)
        .default_ttl(S(5))
        .clock(clock.clone())
        .build()
        .expect("valid configuration");
    cache.insert("default", 1).expect("fits");
    cache
        .insert_with("never", 2, EntryOptions::new().with_no_ttl())
        .expect("fits");
    cache
        .insert_with("longer", 3, EntryOptions::new().with_ttl(S(60)))
        .expect("fits");
    clock.advance(S(5));
    assert_eq!(cache.get("default"), None);
    assert_eq!(cache.get("never"), Some(2));
    assert_eq!(cache.get("longer"), Some(3));
    clock.advance(S(10_000));
    assert_eq!(cache.get("never"), Some(2));
    assert_eq!(cache.get("longer"), None);
}

#[test]
fn reads_extend_time_to_idle_but_peeks_do_not() {
    let clock = Arc::new(ManualClock::new());
    let removed = Removed::default();
    let cache = cache(&clock, &removed);
    cache
        .insert_with("read", 1, EntryOptions::new().with_tti(S(3)))
        .expect("fits");
    cache
        .insert_with("peeked", 2, EntryOptions::new().with_tti(S(3)))
        .expect("fits");
    for _ in 0..5 {
        clock.advance(S(2));
        assert_eq!(
            cache.get("read"),
            Some(1),
            "each read restarts the idle clock"
        );
        let _ = cache.peek("peeked");
    }
    assert_eq!(cache.peek("peeked"), None, "peeks never refreshed it");
    clock.advance(S(3));
    assert_eq!(cache.get("read"), None, "idle for 3 s");
}

#[test]
fn ttl_caps_time_to_idle() {
    let clock = Arc::new(ManualClock::new());
    let removed = Removed::default();
    let cache = cache(&clock, &removed);
    let options = EntryOptions::new().with_ttl(S(5)).with_tti(S(2));
    cache.insert_with("k", 1, options).expect("fits");
    for _ in 0..2 {
        clock.advance(S(2) - Duration::from_millis(1));
        assert_eq!(cache.get("k"), Some(1));
    }
    clock.advance(S(1) + Duration::from_millis(2)); // t = 5 s
    assert_eq!(cache.get("k"), None, "reads never outlive the TTL");
}

#[test]
fn writes_and_maintenance_purge_expired_entries() {
    let clock = Arc::new(ManualClock::new());
    let removed = Removed::default();
    let cache: MemoryCache<&str, u32> = MemoryCache::builder()
        .max_entries(100)
        .shards(1)
        .clock(clock.clone())
        .removal_listener(removed.listener())
        .build()
        .expect("valid configuration");
    for (key, ttl) in [("a", 1), ("b", 2), ("c", 3)] {
        cache
            .insert_with(key, 0, EntryOptions::new().with_ttl(S(ttl)))
            .expect("fits");
    }
    clock.advance(S(2));
    assert_eq!(cache.len(), 3, "nothing purged before a write");
    cache.insert("d", 0).expect("fits");
    let mut purged: Vec<_> = removed.take().into_iter().map(|r| (r.0, r.2)).collect();
    purged.sort();
    assert_eq!(
        purged,
        [("a", RemovalCause::Expired), ("b", RemovalCause::Expired)]
    );
    clock.advance(S(1));
    cache.run_maintenance();
    assert_eq!(removed.take(), [("c", 0, RemovalCause::Expired)]);
    assert_eq!(cache.len(), 1);
    cache.validate().expect("consistent");
}

#[test]
fn a_rewrite_restarts_the_ttl_and_zero_ttl_is_never_readable() {
    let clock = Arc::new(ManualClock::new());
    let removed = Removed::default();
    let cache = cache(&clock, &removed);
    cache
        .insert_with("k", 1, EntryOptions::new().with_ttl(S(2)))
        .expect("fits");
    clock.advance(S(1));
    cache
        .insert_with("k", 2, EntryOptions::new().with_ttl(S(2)))
        .expect("fits");
    clock.advance(S(1));
    assert_eq!(cache.get("k"), Some(2));
    cache
        .insert_with("zero", 3, EntryOptions::new().with_ttl(Duration::ZERO))
        .expect("fits");
    assert_eq!(cache.get("zero"), None);
}

#[test]
fn idle_deadlines_survive_many_reads_without_growing_the_queue() {
    // Reads do not push deadline items; validate() checks that every entry's
    // queued deadline is a lower bound that is actually in the queue.
    let clock = Arc::new(ManualClock::new());
    let removed = Removed::default();
    let cache = cache(&clock, &removed);
    cache
        .insert_with("k", 1, EntryOptions::new().with_tti(S(5)))
        .expect("fits");
    for _ in 0..1_000 {
        clock.advance(Duration::from_millis(10));
        assert_eq!(cache.get("k"), Some(1));
        cache.insert("other", 0).expect("fits"); // writes purge what is due
    }
    cache.validate().expect("consistent");
    clock.advance(S(5));
    cache.run_maintenance();
    assert!(removed.take().contains(&("k", 1, RemovalCause::Expired)));
}
