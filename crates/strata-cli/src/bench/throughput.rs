//! The timed workloads of `--compare`: reads of a warmed cache, a 90/10
//! read/write mix, and a trace replay. Each returns its rate and the hit
//! ratio it saw, so a reader can tell a fast cache from one that is fast
//! because it holds different keys.

use std::hint::black_box;

use super::contender::Cache;
use super::workload::{Op, per_second, split_timed};

/// A rate (operations per second) and the hit ratio of its gets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Rate {
    /// Operations per second, over all threads.
    pub(super) per_second: f64,
    /// Hits over gets.
    pub(super) hit_ratio: f64,
}

/// Inserts every key of `keys`, in order, then lets the cache apply what it
/// buffered, so the timed run starts from the state the keys left.
pub(super) fn warm<C: Cache>(cache: &C, keys: &[u64]) {
    for &k in keys {
        cache.insert(k, k);
    }
    cache.settle();
}

/// `get` of every key of `keys` on `threads` threads.
pub(super) fn read_heavy<C: Cache>(cache: &C, keys: &[u64], threads: usize) -> Rate {
    let (per_second, hits) = split_timed(threads, keys, |part| {
        part.iter()
            .filter(|&&k| black_box(cache.get(k)).is_some())
            .count()
    });
    Rate {
        per_second,
        hit_ratio: hits.iter().sum::<usize>() as f64 / keys.len() as f64,
    }
}

/// Every operation of `ops` on `threads` threads.
pub(super) fn mixed<C: Cache>(cache: &C, ops: &[Op], threads: usize) -> Rate {
    let (per_second, tallies) = split_timed(threads, ops, |part| {
        let (mut hits, mut gets) = (0_usize, 0_usize);
        for &op in part {
            match op {
                Op::Get(k) => {
                    gets += 1;
                    hits += usize::from(black_box(cache.get(k)).is_some());
                }
                Op::Insert(k) => cache.insert(k, k),
            }
        }
        (hits, gets)
    });
    let (hits, gets) = tallies
        .iter()
        .fold((0, 0), |(h, g), &(th, tg)| (h + th, g + tg));
    Rate {
        per_second,
        hit_ratio: hits as f64 / gets.max(1) as f64,
    }
}

/// The replay protocol of `strata sim`: `get`, then `insert` on a miss,
/// for every request of `keys`, on this thread. Unlike `strata sim`, moka
/// is not made to apply its pending work after each insert: this measures
/// speed as a user would see it, and `run_pending_tasks` on every miss
/// would cost moka more than its own housekeeping does.
pub(super) fn replay<C: Cache>(cache: &C, keys: &[u64]) -> Rate {
    let started = std::time::Instant::now();
    let mut hits = 0_usize;
    for &k in keys {
        if black_box(cache.get(k)).is_some() {
            hits += 1;
        } else {
            cache.insert(k, k);
        }
    }
    Rate {
        per_second: per_second(keys.len(), started.elapsed()),
        hit_ratio: hits as f64 / keys.len().max(1) as f64,
    }
}
