//! Workloads shared by both benchmarks: key sequences drawn before any
//! timing starts, and timed runs that split a sequence among threads.

use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rand::rngs::SmallRng;
use rand::{RngExt as _, SeedableRng as _};
use rand_distr::{Distribution as _, Zipf};

/// `ops` keys drawn from `0..key_count` with Zipf exponent `s`, from `seed`.
pub(super) fn zipf_keys(key_count: u64, s: f64, ops: usize, seed: u64) -> anyhow::Result<Vec<u64>> {
    let zipf = Zipf::new(key_count as f64, s).context("invalid Zipf parameters")?;
    let mut rng = SmallRng::seed_from_u64(seed);
    Ok((0..ops).map(|_| zipf.sample(&mut rng) as u64).collect())
}

/// One operation of a mixed workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    /// Read the key.
    Get(u64),
    /// Write the key (its value is the key itself).
    Insert(u64),
}

/// `keys` turned into gets, and into inserts with probability
/// `insert_share`, from `seed`.
pub(super) fn mixed_ops(keys: &[u64], insert_share: f64, seed: u64) -> Vec<Op> {
    // A stream of its own, so the choice of operation is independent of the
    // key drawn at the same step.
    let mut rng = SmallRng::seed_from_u64(seed ^ 0x005e_ed0f_0505);
    keys.iter()
        .map(|&k| {
            if rng.random_bool(insert_share) {
                Op::Insert(k)
            } else {
                Op::Get(k)
            }
        })
        .collect()
}

/// Runs `work` on `threads` scoped threads, each over its own contiguous
/// part of `items`. Returns the rate (items per second, over all threads)
/// and what each thread returned. Each thread keeps its own tallies and
/// returns them, rather than counting into a shared atomic: a counter
/// written by both threads would put a contended cache line in the timed
/// loop and slow the very thing being measured.
pub(super) fn split_timed<T: Sync, R: Send>(
    threads: usize,
    items: &[T],
    work: impl Fn(&[T]) -> R + Sync,
) -> (f64, Vec<R>) {
    let chunk = items.len().div_ceil(threads.max(1)).max(1);
    let started = Instant::now();
    let results = thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| {
                let work = &work;
                s.spawn(move || work(part))
            })
            .collect();
        handles
            .into_iter()
            // A panic in a worker is a bug in the benchmark: pass it on.
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    (per_second(items.len(), started.elapsed()), results)
}

/// `ops` over `took`, never dividing by zero.
pub(super) fn per_second(ops: usize, took: Duration) -> f64 {
    ops as f64 / took.as_secs_f64().max(f64::MIN_POSITIVE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_ops_are_reproducible_and_in_range() {
        let keys = zipf_keys(100, 1.0, 10_000, 7).expect("valid");
        assert_eq!(keys, zipf_keys(100, 1.0, 10_000, 7).expect("valid"));
        assert!(keys.iter().all(|&k| (1..=100).contains(&k)));
        let ops = mixed_ops(&keys, 0.1, 7);
        let inserts = ops.iter().filter(|o| matches!(o, Op::Insert(_))).count();
        assert!((800..1_200).contains(&inserts), "{inserts} inserts");
    }

    #[test]
    fn every_item_is_worked_on_once() {
        let items: Vec<u64> = (0..1_001).collect();
        let (rate, sums) = split_timed(2, &items, |part| part.iter().sum::<u64>());
        assert!(rate > 0.0);
        assert_eq!(sums.len(), 2);
        assert_eq!(sums.iter().sum::<u64>(), 1_000 * 1_001 / 2);
    }
}
