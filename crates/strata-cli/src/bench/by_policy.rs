//! `strata bench` without `--compare`: every policy on the same Zipf workload.
//!
//! For each policy it measures, on a fresh cache:
//! * heap bytes per entry: heap growth while inserting `capacity` distinct
//!   `u64 -> u64` entries, divided by `capacity`;
//! * insert throughput: `ops` inserts of Zipf-distributed keys;
//! * get throughput and hit ratio: `ops` reads of Zipf-distributed keys on
//!   the cache those inserts warmed.
//!
//! Keys are drawn before timing starts; threads split the key sequence.
//! Throughput on a shared machine is noisy: compare policies within one run.

use std::fmt::Write as _;
use std::io::Write;

use strata::Policy;

use super::BenchArgs;
use super::contender::{Cache, strata};
use super::workload::{split_timed, zipf_keys};
use crate::heap;

/// One policy's results.
struct Row {
    policy: Policy,
    get: f64,
    insert: f64,
    hit_ratio: f64,
    heap_per_entry: f64,
}

/// Measures every policy of `policies` and prints the table.
pub(super) fn run(
    args: &BenchArgs,
    policies: &[Policy],
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let keys = zipf_keys(
        args.capacity * args.key_space,
        args.zipf,
        args.ops,
        args.seed,
    )?;
    writeln!(
        out,
        "strata bench: capacity {}, {} keys (Zipf s = {}), {} thread(s), {} operations per measurement, stats {}, {} shards",
        args.capacity,
        args.capacity * args.key_space,
        args.zipf,
        args.threads,
        args.ops,
        if args.no_stats { "off" } else { "on" },
        strata(Policy::Adaptive, args.capacity, args.strata_build())?.shard_count()
    )?;
    let mut rows = Vec::new();
    for &policy in policies {
        rows.push(measure(policy, args, &keys)?);
    }
    write!(out, "{}", table(&rows))?;
    Ok(())
}

fn measure(policy: Policy, args: &BenchArgs, keys: &[u64]) -> anyhow::Result<Row> {
    let heap_per_entry = {
        // Inserts run on this thread: its own counts see all they allocate.
        let before = heap::held_by_this_thread()?;
        let cache = strata(policy, args.capacity, args.strata_build())?;
        for k in 0..args.capacity {
            cache.insert(k, k)?;
        }
        let grown = (heap::held_by_this_thread()? - before).max(0);
        drop(cache);
        grown as f64 / args.capacity as f64
    };

    let cache = strata(policy, args.capacity, args.strata_build())?;
    let (insert, _) = split_timed(args.threads, keys, |part| {
        part.iter().for_each(|&k| Cache::insert(&cache, k, k));
    });
    // Counted here rather than read from the cache's stats, which may be off.
    let (get, hits) = split_timed(args.threads, keys, |part| {
        part.iter()
            .filter(|&&k| std::hint::black_box(Cache::get(&cache, k)).is_some())
            .count()
    });
    Ok(Row {
        policy,
        get,
        insert,
        hit_ratio: hits.iter().sum::<usize>() as f64 / keys.len() as f64,
        heap_per_entry,
    })
}

fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<8} {:>12} {:>14} {:>10} {:>14}",
        "policy", "get Mops/s", "insert Mops/s", "hit ratio", "heap B/entry"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:<8} {:>12.2} {:>14.2} {:>9.2}% {:>14.1}",
            r.policy.name(),
            r.get / 1e6,
            r.insert / 1e6,
            r.hit_ratio * 100.0,
            r.heap_per_entry
        );
    }
    out
}
