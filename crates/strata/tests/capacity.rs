//! Bounds: entry count, weight, both; oversized entries; heavy entries across
//! shards; and builder validation.

mod common;

use common::Removed;
use strata::{
    BuildError, EntryOptions, InsertError, MemoryBudget, MemoryCache, Policy, RemovalCause,
};

fn weighted(shards: usize, max_weight: u64, removed: &Removed<u32, u32>) -> MemoryCache<u32, u32> {
    MemoryCache::builder()
        .max_weight(max_weight)
        .shards(shards)
        .weigher(|_, v: &u32| *v)
        .removal_listener(removed.listener())
        .build()
        .expect("valid configuration")
}

#[test]
fn an_oversized_entry_is_refused_and_the_cache_is_unchanged() {
    let removed = Removed::default();
    let cache = weighted(1, 10, &removed);
    cache.insert(1, 4).expect("fits");
    cache.insert(2, 4).expect("fits");
    let err = cache
        .insert(1, 11)
        .expect_err("heavier than the whole cache");
    assert_eq!(
        err,
        InsertError::TooHeavy {
            weight: 11,
            capacity: 10
        }
    );
    assert!(err.to_string().contains("11"), "{err}");
    assert_eq!(cache.get(&1), Some(4), "the old value stays");
    assert_eq!(cache.weight(), 8);
    assert!(removed.take().is_empty());
    cache.insert(3, 10).expect("exactly the capacity fits");
    assert_eq!(cache.weight(), 10);
    cache.validate().expect("consistent");
}

#[test]
fn a_heavy_entry_fits_if_it_fits_the_whole_cache_whatever_the_shards() {
    let removed = Removed::default();
    let cache = weighted(16, 100, &removed);
    for k in 0..20 {
        cache.insert(k, 5).expect("fits");
    }
    assert_eq!(cache.weight(), 100);
    cache.insert(1_000, 90).expect("fits the whole cache");
    assert!(
        cache.contains(&1_000),
        "the heavy entry is never its own victim"
    );
    assert!(cache.weight() <= 100);
    assert_eq!(removed.take().len(), 18, "room was made in other shards");
    cache.validate().expect("consistent");
}

#[test]
fn both_bounds_hold_at_once() {
    let cache: MemoryCache<u32, u32> = MemoryCache::builder()
        .max_entries(10)
        .max_weight(30)
        .weigher(|_, v: &u32| *v)
        .shards(2)
        .build()
        .expect("valid configuration");
    for k in 0..100 {
        cache.insert(k, 1 + k % 5).expect("fits");
        assert!(cache.len() <= 10 && cache.weight() <= 30);
    }
    cache.validate().expect("consistent");
}

#[test]
fn the_written_entry_is_admitted_under_every_policy() {
    for policy in Policy::ALL {
        let removed = Removed::default();
        let cache: MemoryCache<u32, u32> = MemoryCache::builder()
            .max_weight(10)
            .weigher(|_, v: &u32| *v)
            .policy(policy)
            .shards(1)
            .removal_listener(removed.listener())
            .build()
            .expect("valid configuration");
        for k in 0..5 {
            cache.insert(k, 2).expect("fits");
        }
        // Heaviest and newest: Size would pick it, LFU would rank it lowest.
        cache.insert(99, 6).expect("fits");
        assert!(cache.contains(&99), "{policy}: the new entry was evicted");
        assert!(removed.take().iter().all(|r| r.2 == RemovalCause::Capacity));
    }
}

#[test]
fn the_size_policy_evicts_the_heaviest_first() {
    let removed = Removed::default();
    let cache: MemoryCache<u32, u32> = MemoryCache::builder()
        .max_weight(20)
        .weigher(|_, v: &u32| *v)
        .policy(Policy::Size)
        .shards(1)
        .removal_listener(removed.listener())
        .build()
        .expect("valid configuration");
    for (k, w) in [(1, 3), (2, 9), (3, 5), (4, 3)] {
        cache.insert(k, w).expect("fits");
    }
    cache.insert(5, 4).expect("fits");
    assert_eq!(removed.take(), [(2, 9, RemovalCause::Capacity)]);
}

#[test]
fn the_hybrid_policy_keeps_what_is_costly_to_recreate() {
    let removed = Removed::default();
    let cache: MemoryCache<u32, u32> = MemoryCache::builder()
        .max_entries(4)
        .policy(Policy::Hybrid)
        .shards(1)
        .removal_listener(removed.listener())
        .build()
        .expect("valid configuration");
    let costly = EntryOptions::new().with_cost(std::time::Duration::from_millis(500));
    cache.insert_with(0, 0, costly.clone()).expect("fits");
    cache.insert_with(1, 1, costly).expect("fits");
    for k in 2..20 {
        cache.insert(k, k).expect("fits");
    }
    assert!(cache.contains(&0) && cache.contains(&1));
    cache.validate().expect("consistent");
}

#[test]
fn the_builder_refuses_bad_settings_with_clear_errors() {
    let err = |b: strata::MemoryCacheBuilder<u32, u32>| b.build().expect_err("invalid");
    assert_eq!(err(MemoryCache::builder()), BuildError::NoCapacity);
    assert_eq!(
        err(MemoryCache::builder().max_entries(0)),
        BuildError::ZeroCapacity {
            what: "max_entries"
        }
    );
    assert_eq!(
        err(MemoryCache::builder().max_entries(10).max_weight(0)),
        BuildError::ZeroCapacity { what: "max_weight" }
    );
    assert_eq!(
        err(MemoryCache::builder().max_entries(10).shards(3)),
        BuildError::InvalidShards(3)
    );
    let thresholds = MemoryCache::builder()
        .max_entries(10)
        .memory_budget(MemoryBudget::Bytes(1 << 30))
        .pressure_thresholds(0.9, 0.8);
    assert!(matches!(
        err(thresholds),
        BuildError::InvalidThresholds { .. }
    ));
    let budget = MemoryCache::builder()
        .max_entries(10)
        .memory_budget(MemoryBudget::Bytes(0));
    assert_eq!(err(budget), BuildError::ZeroBudget);
    let shed = MemoryCache::builder()
        .max_entries(10)
        .memory_budget(MemoryBudget::Bytes(1))
        .shed_fraction(0.0);
    assert_eq!(err(shed), BuildError::InvalidShedFraction(0.0));
    let message = BuildError::NoCapacity.to_string();
    assert!(message.contains("max_entries"), "{message}");
}
