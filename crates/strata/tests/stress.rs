//! Eight threads of mixed operations on one cache, under every policy; then
//! every invariant must hold.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{RngExt as _, SeedableRng as _};
use strata::{EntryOptions, MemoryCache, Policy};

const THREADS: u64 = 8;
const OPS: u64 = 20_000;

fn hammer(cache: &MemoryCache<String, Arc<[u8]>>, seed: u64) {
    let mut rng = SmallRng::seed_from_u64(seed);
    for _ in 0..OPS {
        let key = format!("k{}", rng.random_range(0..2_000u32));
        match rng.random_range(0..100u32) {
            0..40 => {
                let _ = cache.get(&key);
            }
            40..65 => {
                let len = rng.random_range(1..64usize);
                let mut options = EntryOptions::new();
                if rng.random_bool(0.3) {
                    options = options.with_ttl(Duration::from_millis(rng.random_range(1..50)));
                }
                if rng.random_bool(0.2) {
                    options = options.with_tti(Duration::from_millis(rng.random_range(1..50)));
                }
                if rng.random_bool(0.3) {
                    options = options.with_tag(format!("t{}", rng.random_range(0..5u32)));
                }
                if rng.random_bool(0.2) {
                    options = options.with_priority(rng.random_range(-2..3));
                }
                cache
                    .insert_with(key, vec![0u8; len].into(), options)
                    .expect("lighter than the cache");
            }
            65..75 => {
                let _ = cache.get_or_compute(key, || vec![1u8; 8].into());
            }
            75..85 => {
                let _ = cache.remove(&key);
            }
            85..88 => {
                let _ = cache.invalidate_tag(&format!("t{}", rng.random_range(0..5u32)));
            }
            88..89 => {
                let _ = cache.invalidate_prefix(&format!("k{}", rng.random_range(0..9u32)));
            }
            89..92 => {
                let _ = cache.peek(&key);
            }
            92..93 => cache.run_maintenance(),
            _ => {
                let _ = cache.contains(&key);
            }
        }
    }
}

#[test]
fn eight_threads_of_mixed_operations_keep_every_invariant() {
    for policy in Policy::ALL {
        let cache: MemoryCache<String, Arc<[u8]>> = MemoryCache::builder()
            .max_entries(500)
            .max_weight(16 * 1024)
            .weigher(|k: &String, v: &Arc<[u8]>| (k.len() + v.len()) as u32)
            .policy(policy)
            .shards(8)
            .build()
            .expect("valid configuration");
        thread::scope(|s| {
            for seed in 0..THREADS {
                let cache = &cache;
                s.spawn(move || hammer(cache, seed));
            }
        });
        cache.validate().unwrap_or_else(|e| panic!("{policy}: {e}"));
        assert!(cache.len() <= 500 && cache.weight() <= 16 * 1024);
        let stats = cache.stats();
        assert!(stats.hits + stats.misses > 0);
    }
}
