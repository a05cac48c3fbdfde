//! Priority is honoured by every policy: nothing is evicted for capacity
//! while an entry of lower priority remains, whatever its use, cost or size.

mod common;

use common::Removed;
use strata::{EntryOptions, MemoryCache, Policy, RemovalCause};

fn build(policy: Policy, shards: usize, removed: &Removed<u32, u32>) -> MemoryCache<u32, u32> {
    MemoryCache::builder()
        .max_entries(8)
        .shards(shards)
        .policy(policy)
        .removal_listener(removed.listener())
        .build()
        .expect("valid configuration")
}

#[test]
fn high_priority_entries_outlive_hot_low_priority_ones_under_every_policy() {
    for policy in Policy::ALL {
        for shards in [1, 4] {
            let removed = Removed::default();
            let cache = build(policy, shards, &removed);
            // Four precious entries, written first and never read.
            for k in 0..4 {
                cache
                    .insert_with(k, k, EntryOptions::new().with_priority(10))
                    .expect("fits");
            }
            // A stream of ordinary entries, each read often.
            for k in 100..160 {
                cache.insert(k, k).expect("fits");
                for _ in 0..3 {
                    let _ = cache.get(&k);
                }
            }
            for k in 0..4 {
                assert!(cache.contains(&k), "{policy}/{shards}: lost precious {k}");
            }
            let evicted = removed.take();
            assert!(
                evicted
                    .iter()
                    .all(|r| r.0 >= 100 && r.2 == RemovalCause::Capacity),
                "{policy}/{shards}: {evicted:?}"
            );
            assert_eq!(cache.len(), 8);
            cache.validate().expect("consistent");
        }
    }
}

#[test]
fn negative_priority_goes_first_and_a_lower_priority_newcomer_is_given_up() {
    for policy in Policy::ALL {
        let removed = Removed::default();
        let cache = build(policy, 1, &removed);
        for k in 0..7 {
            cache.insert(k, k).expect("fits");
        }
        cache
            .insert_with(7, 7, EntryOptions::new().with_priority(-1))
            .expect("fits");
        cache.insert(8, 8).expect("fits");
        assert_eq!(removed.take(), [(7, 7, RemovalCause::Capacity)], "{policy}");
        // The cache is full of priority-0 entries: a priority -1 newcomer is
        // the entry of least priority, so it is the one given up.
        cache
            .insert_with(9, 9, EntryOptions::new().with_priority(-1))
            .expect("accepted, then evicted");
        assert_eq!(removed.take(), [(9, 9, RemovalCause::Capacity)], "{policy}");
    }
}

#[test]
fn priority_holds_across_shards() {
    // With many shards, the write's own shard may hold only high-priority
    // entries; the low-priority victim must then come from another shard.
    let removed = Removed::default();
    let cache: MemoryCache<u32, u32> = MemoryCache::builder()
        .max_entries(64)
        .shards(16)
        .removal_listener(removed.listener())
        .build()
        .expect("valid configuration");
    for k in 0..63 {
        cache
            .insert_with(k, k, EntryOptions::new().with_priority(5))
            .expect("fits");
    }
    cache.insert(1_000, 0).expect("fits"); // the one ordinary entry
    for k in 63..200 {
        cache
            .insert_with(k, k, EntryOptions::new().with_priority(5))
            .expect("fits");
        // Only ordinary entries may have gone so far, until none remain.
        if k == 63 {
            assert_eq!(removed.take(), [(1_000, 0, RemovalCause::Capacity)]);
        }
    }
    assert_eq!(cache.len(), 64);
    cache.validate().expect("consistent");
}
