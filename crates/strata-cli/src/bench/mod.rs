//! `strata bench`: Strata's policies on a Zipf workload, in one process;
//! with `--compare`, Strata side by side with moka and quick_cache.
//!
//! | module | idea |
//! | --- | --- |
//! | [`by_policy`] | the per-policy table (throughput, hit ratio, heap per entry) |
//! | [`compare`] | `--compare`: every workload on every cache, ratios, targets |
//! | [`contender`] | the caches compared, behind one generic trait |
//! | [`throughput`] | the timed workloads: read-heavy, mixed, trace replay |
//! | [`latency`] | sampled `get` latency under the mixed load |
//! | [`memory`] | heap bytes per entry |
//! | [`targets`] | the [speed] issue's targets, checked against a run |
//! | [`report`] | the Markdown tables |
//! | [`workload`] | key sequences drawn before timing; threads splitting them |

mod by_policy;
mod compare;
mod contender;
mod latency;
mod memory;
mod report;
mod targets;
mod throughput;
mod workload;

use std::io::Write;

use anyhow::bail;
use clap::Args;
use strata::Policy;

use crate::policies::PolicyList;

/// Options of `strata bench`.
#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// Cache capacity in entries (with --compare: of the throughput and
    /// latency workloads).
    #[arg(long, default_value_t = 100_000)]
    capacity: u64,
    /// Distinct keys, as a multiple of the capacity.
    #[arg(long, default_value_t = 10)]
    key_space: u64,
    /// Zipf exponent of key popularity.
    #[arg(long, default_value_t = 1.0)]
    zipf: f64,
    /// Operations per measurement.
    #[arg(long, default_value_t = 2_000_000)]
    ops: usize,
    /// Threads sharing the cache (--compare always runs 1 and 2).
    #[arg(long, default_value_t = 1, conflicts_with = "compare")]
    threads: usize,
    /// Policies to run: `all` or a comma-separated list
    /// (adaptive,lru,lfu,ttl,size,hybrid). Default: all; with --compare,
    /// adaptive (the default policy, the one the targets are for).
    #[arg(long)]
    policies: Option<PolicyList>,
    /// Seed of the key sequence.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Turn the caches' stats off (the hit ratio is then counted by the
    /// benchmark itself).
    #[arg(long)]
    no_stats: bool,
    /// Shards of Strata's cache (a power of two). Default: the builder's,
    /// which depends on the cores and the capacity. More shards make
    /// threads meet less on a lock; fewer keep each shard's own lines
    /// (lock, table header, policy, queue ends) in cache for one thread.
    #[arg(long)]
    shards: Option<usize>,
    #[command(flatten)]
    compare: compare::CompareArgs,
}

impl BenchArgs {
    /// How Strata's caches are built in this run.
    fn strata_build(&self) -> contender::StrataBuild {
        contender::StrataBuild {
            stats: !self.no_stats,
            shards: self.shards,
        }
    }
}

pub(crate) fn run(args: &BenchArgs, out: &mut impl Write) -> anyhow::Result<()> {
    if args.capacity == 0 || args.ops == 0 || args.threads == 0 || args.key_space == 0 {
        bail!("--capacity, --key-space, --ops and --threads must be greater than zero");
    }
    if args.compare.compare {
        let policies = match &args.policies {
            Some(list) => list.0.clone(),
            None => vec![Policy::Adaptive],
        };
        compare::run(args, &policies, out)
    } else {
        let policies = match &args.policies {
            Some(list) => list.0.clone(),
            None => Policy::ALL.to_vec(),
        };
        by_policy::run(args, &policies, out)
    }
}
