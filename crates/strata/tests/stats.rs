//! The stats snapshot: counts, hit ratio, latency percentiles, hot keys, and
//! stats turned off.

use strata::{MemoryCache, Policy};

fn cache(stats: bool) -> MemoryCache<String, u32> {
    MemoryCache::builder()
        .max_entries(1_000)
        .stats(stats)
        .hot_keys(3)
        .build()
        .expect("valid configuration")
}

#[test]
fn counts_and_hit_ratio() {
    let cache = cache(true);
    cache.insert("a".into(), 1).expect("fits");
    cache.insert("a".into(), 2).expect("fits");
    cache.insert("b".into(), 3).expect("fits");
    for _ in 0..3 {
        let _ = cache.get("a");
    }
    let _ = cache.get("missing");
    let _ = cache.peek("a"); // peeks are not counted
    let s = cache.stats();
    assert!(s.enabled);
    assert_eq!(s.policy, Policy::Adaptive, "the default");
    assert_eq!((s.hits, s.misses, s.inserts, s.updates), (3, 1, 2, 1));
    assert_eq!(s.hit_ratio, 0.75);
    assert_eq!(s.evictions.replaced, 1);
    assert_eq!((s.entries, s.weight, s.max_entries), (2, 2, Some(1_000)));
}

#[test]
fn evictions_are_counted_by_cause_with_or_without_a_listener() {
    // Without a listener the write path counts its removals itself, with
    // one the listener's path does: both must count every one.
    for listened in [false, true] {
        let mut builder = MemoryCache::<u32, u32>::builder().max_entries(10);
        if listened {
            builder = builder.removal_listener(|_, _, _| {});
        }
        let cache = builder.build().expect("valid configuration");
        for k in 0..25 {
            cache.insert(k, k).expect("fits");
        }
        cache.insert(24, 0).expect("fits");
        let s = cache.stats();
        assert_eq!(s.evictions.capacity, 15, "listener: {listened}");
        assert_eq!(s.evictions.replaced, 1, "listener: {listened}");
        assert_eq!(s.entries, 10);
    }
}

#[test]
fn latency_percentiles_are_sampled_and_ordered() {
    let cache = cache(true);
    for i in 0..20_000u32 {
        cache.insert(format!("k{}", i % 500), i).expect("fits");
        let _ = cache.get(&format!("k{}", i % 700));
    }
    let s = cache.stats();
    for latency in [s.get_latency, s.insert_latency] {
        assert!(latency.samples > 0, "{latency:?}");
        assert!(latency.samples < 20_000, "sampled, not every operation");
        assert!(latency.p50 <= latency.p95 && latency.p95 <= latency.p99);
        assert!(latency.p99 <= latency.max && !latency.max.is_zero());
    }
}

#[test]
fn hot_keys_rank_the_most_read_keys_first() {
    let cache = cache(true);
    for k in ["hot", "warm", "cool"] {
        cache.insert(k.into(), 0).expect("fits");
    }
    for i in 0..200 {
        cache.insert(format!("cold{i}"), 0).expect("fits");
    }
    for round in 0..200_000 {
        let _ = cache.get("hot");
        if round % 2 == 0 {
            let _ = cache.get("warm");
        }
        if round % 4 == 0 {
            let _ = cache.get("cool");
        }
        let _ = cache.get(&format!("cold{}", round % 200));
    }
    let hot = cache.stats().hot_keys;
    let keys: Vec<&str> = hot.iter().map(|h| h.key.as_str()).collect();
    assert_eq!(keys, ["hot", "warm", "cool"]);
    // Estimates are scaled from a sample (one read in 64, or fewer in a
    // busy cache, each counted once and scaled by the samples' mean
    // weight): within a factor of two.
    assert!(
        (100_000..400_000).contains(&hot[0].estimated_reads),
        "{hot:?}"
    );
}

#[test]
fn with_stats_off_nothing_is_counted_but_sizes_are_reported() {
    let cache = cache(false);
    cache.insert("a".into(), 1).expect("fits");
    for _ in 0..1_000 {
        let _ = cache.get("a");
        let _ = cache.get("b");
    }
    let s = cache.stats();
    assert!(!s.enabled);
    assert_eq!((s.hits, s.misses, s.inserts), (0, 0, 0));
    assert_eq!(s.get_latency.samples, 0);
    assert!(s.hot_keys.is_empty());
    assert_eq!(s.entries, 1);
}

#[test]
fn stats_serialize_to_json() {
    let cache = cache(true);
    cache.insert("a".into(), 1).expect("fits");
    let _ = cache.get("a");
    let json = serde_json::to_value(cache.stats()).expect("serializable");
    assert_eq!(json["hits"], 1);
    assert_eq!(json["policy"], "adaptive");
    assert!(json["get_latency"]["p99"].is_u64());
}
