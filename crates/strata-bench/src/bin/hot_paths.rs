//! `hot-paths`: instructions per operation of Strata's memory tier beside
//! quick_cache's, counted by callgrind.
//!
//! ```sh
//! cargo run --release -p strata-bench --bin hot-paths
//! ```
//!
//! Why instructions: this 2-core machine is shared, and the timed ratios of
//! `strata bench --compare` swing up to fourfold from one round to the
//! next. Callgrind counts the same instructions on every run (Strata with
//! stats within about 0.2%: it times one operation in so many, at a pace
//! set by the clock), so the count shows what a change of the code did,
//! and how far each path is from quick_cache's.
//! It does not show memory stalls (a cold cache line costs no instruction):
//! only the timed benchmarks show those.
//!
//! With no subcommand, runs every workload on every cache under
//! `valgrind --tool=callgrind`, counting only inside the operations (the
//! functions `op::op_*`, kept out of line), and prints a Markdown table
//! of instructions per operation. `hot-paths measure WORKLOAD CACHE` is the
//! run that valgrind executes; alone, it just runs the workload.
//!
//! The workloads are those of `strata bench --compare`: reads of a warmed
//! cache, overwrites of present keys, the 90/10 mix, and the replay of a
//! trace (get, then insert on a miss). Strata's caches are built with the
//! library's defaults (stats on, one of them with stats off) and hash seed
//! 0, and quick_cache with a fixed-seed hasher, so that two runs make the
//! same decisions.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(about = "Instructions per cache operation, Strata beside quick_cache (callgrind)")]
struct Args {
    #[command(subcommand)]
    command: Option<Run>,
    #[command(flatten)]
    sizes: Sizes,
}

#[derive(Debug, Subcommand)]
enum Run {
    /// Run one workload on one cache (what valgrind executes).
    Measure {
        workload: Workload,
        cache: Contender,
    },
}

/// How much each workload does; passed on to the measured runs. Global, so
/// that they may come before or after `measure`.
#[derive(Debug, Clone, clap::Args)]
struct Sizes {
    /// Measured operations of the read, overwrite and mixed workloads.
    #[arg(long, global = true, default_value_t = 1_000_000)]
    ops: usize,
    /// The trace replayed (any format `strata sim` reads).
    #[arg(long, global = true, default_value = "../shared/traces/arc/P6.lis.zst")]
    trace: PathBuf,
    /// Requests of the trace replayed, from its start.
    #[arg(long, global = true, default_value_t = 3_000_000)]
    replay_limit: usize,
    /// The replay's capacity, in entries.
    #[arg(long, global = true, default_value_t = 160_000)]
    replay_capacity: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Workload {
    /// `get` of Zipf-distributed keys (s = 1, over 10× as many keys as the
    /// capacity of 100,000) on a cache warmed with the same sequence.
    Get,
    /// `insert` of present keys: 100,000 keys in a cache of 200,000, then
    /// Zipf-distributed overwrites; nothing is evicted.
    Overwrite,
    /// 90% `get`, 10% `insert`, on the read workload's keys.
    Mixed,
    /// The trace: `get`, then `insert` on a miss.
    Replay,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Contender {
    /// Strata's `MemoryCache`, the library's defaults.
    Strata,
    /// The same with stats off.
    StrataNoStats,
    /// quick_cache's `sync::Cache`, its defaults.
    QuickCache,
}

const CAPACITY: u64 = 100_000;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let sizes = &args.sizes;
    if sizes.ops == 0 || sizes.replay_limit == 0 || sizes.replay_capacity == 0 {
        bail!("--ops, --replay-limit and --replay-capacity must be greater than zero");
    }
    match args.command {
        Some(Run::Measure { workload, cache }) => {
            let done = measure(workload, cache, sizes)?;
            println!("ops {} reads {} hits {}", done.ops, done.reads, done.hits);
            Ok(())
        }
        None => report(sizes),
    }
}

/// What a measured run did: operations, of which `get`s, of which hits.
struct Done {
    ops: u64,
    reads: u64,
    hits: u64,
}

/// quick_cache with its default weigher and lifecycle but a fixed-seed
/// hasher (its default, foldhash's quality hasher, is seeded at random per
/// process, which moved its counts by 1% between runs).
type Quick = quick_cache::sync::Cache<
    u64,
    u64,
    quick_cache::UnitWeighter,
    foldhash::quality::FixedState,
    quick_cache::sync::DefaultLifecycle<u64, u64>,
>;

/// The operations measured, out of line so that callgrind can count inside
/// them alone (`--toggle-collect=hot_paths::op::op_*`). Each is one call of
/// the cache.
mod op {
    use super::Quick;

    type Strata = strata::MemoryCache<u64, u64>;

    #[inline(never)]
    pub(super) fn op_strata_get(c: &Strata, k: u64) -> bool {
        c.get(&k).is_some()
    }
    #[inline(never)]
    pub(super) fn op_strata_insert(c: &Strata, k: u64, v: u64) {
        // A refusal (an entry heavier than the cache) cannot happen here:
        // every entry weighs one.
        let _ = c.insert(k, v);
    }
    #[inline(never)]
    pub(super) fn op_quick_get(c: &Quick, k: u64) -> bool {
        c.get(&k).is_some()
    }
    #[inline(never)]
    pub(super) fn op_quick_insert(c: &Quick, k: u64, v: u64) {
        c.insert(k, v);
    }
}

/// One cache's operations, so that a workload is written once.
trait Ops {
    /// A measured `get`.
    fn get(&self, k: u64) -> bool;
    /// A measured `insert`.
    fn insert(&self, k: u64, v: u64);
    /// An `insert` that is not measured (warming, filling).
    fn fill(&self, k: u64, v: u64);
}

impl Ops for strata::MemoryCache<u64, u64> {
    fn get(&self, k: u64) -> bool {
        op::op_strata_get(self, k)
    }
    fn insert(&self, k: u64, v: u64) {
        op::op_strata_insert(self, k, v);
    }
    fn fill(&self, k: u64, v: u64) {
        // As in `op_strata_insert`, a refusal cannot happen here.
        let _ = strata::MemoryCache::insert(self, k, v);
    }
}

impl Ops for Quick {
    fn get(&self, k: u64) -> bool {
        op::op_quick_get(self, k)
    }
    fn insert(&self, k: u64, v: u64) {
        op::op_quick_insert(self, k, v);
    }
    fn fill(&self, k: u64, v: u64) {
        Quick::insert(self, k, v);
    }
}

fn measure(workload: Workload, cache: Contender, sizes: &Sizes) -> anyhow::Result<Done> {
    let capacity = match workload {
        Workload::Get | Workload::Mixed => CAPACITY,
        Workload::Overwrite => 2 * CAPACITY,
        Workload::Replay => sizes.replay_capacity,
    };
    // The keys are drawn before the cache is built: only the operations
    // are counted, but a smaller heap keeps the run short under valgrind.
    let keys = keys(workload, sizes)?;
    match cache {
        Contender::Strata | Contender::StrataNoStats => {
            let c = strata::MemoryCache::<u64, u64>::builder()
                .max_entries(capacity)
                .stats(cache == Contender::Strata)
                .hash_seed(0)
                .build()
                .context("building Strata's cache")?;
            Ok(run(workload, &c, &keys))
        }
        Contender::QuickCache => {
            let items = usize::try_from(capacity).context("capacity")?;
            let cache = Quick::with(
                items,
                capacity,
                quick_cache::UnitWeighter,
                foldhash::quality::FixedState::with_seed(0),
                quick_cache::sync::DefaultLifecycle::default(),
            );
            Ok(run(workload, &cache, &keys))
        }
    }
}

/// The keys of `workload`, in request order.
fn keys(workload: Workload, sizes: &Sizes) -> anyhow::Result<Vec<u64>> {
    Ok(match workload {
        Workload::Get | Workload::Mixed => {
            strata_sim::synthetic::zipf(CAPACITY * 10, 1.0, sizes.ops, 42)
        }
        Workload::Overwrite => strata_sim::synthetic::zipf(CAPACITY, 1.0, sizes.ops, 42),
        Workload::Replay => read_trace(&sizes.trace, sizes.replay_limit)?,
    })
}

fn read_trace(path: &Path, limit: usize) -> anyhow::Result<Vec<u64>> {
    let mut keys = strata_sim::trace::read(path, None)
        .with_context(|| format!("reading the trace {} (see --trace)", path.display()))?
        .keys;
    keys.truncate(limit);
    Ok(keys)
}

/// Whether the mixed workload's `i`-th operation is an insert: one in ten,
/// spread by a multiplicative hash rather than every tenth.
fn mixed_insert(i: usize) -> bool {
    (i as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .is_multiple_of(10)
}

fn run(workload: Workload, c: &impl Ops, keys: &[u64]) -> Done {
    let (mut reads, mut hits) = (0, 0);
    match workload {
        Workload::Get | Workload::Mixed => {
            // Warmed with the sequence itself, as `strata bench` warms.
            for &k in keys {
                c.fill(k, k);
            }
            for (i, &k) in keys.iter().enumerate() {
                if workload == Workload::Mixed && mixed_insert(i) {
                    c.insert(k, k ^ 1);
                } else {
                    reads += 1;
                    hits += u64::from(c.get(k));
                }
            }
        }
        Workload::Overwrite => {
            // The Zipf draws are 1 to CAPACITY.
            for k in 1..=CAPACITY {
                c.fill(k, k);
            }
            for &k in keys {
                c.insert(k, k ^ 1);
            }
        }
        Workload::Replay => {
            for &k in keys {
                reads += 1;
                if c.get(k) {
                    hits += 1;
                } else {
                    c.insert(k, k);
                }
            }
        }
    }
    Done {
        ops: keys.len() as u64,
        reads,
        hits,
    }
}

/// The caches of the report, in its columns' order.
const CACHES: [Contender; 3] = [
    Contender::Strata,
    Contender::StrataNoStats,
    Contender::QuickCache,
];
const WORKLOADS: [Workload; 4] = [
    Workload::Get,
    Workload::Overwrite,
    Workload::Mixed,
    Workload::Replay,
];

/// Every workload on every cache under callgrind, as a Markdown table.
fn report(sizes: &Sizes) -> anyhow::Result<()> {
    let valgrind = Command::new("valgrind").arg("--version").output();
    if !valgrind.is_ok_and(|o| o.status.success()) {
        bail!(
            "valgrind not found: install it (Debian: apt-get install valgrind) to count instructions"
        );
    }
    // Read once here, so that a missing trace fails before any run.
    read_trace(&sizes.trace, 1)?;
    let me = std::env::current_exe().context("this program's path")?;
    let dir = tempfile::tempdir().context("a temporary directory")?;
    println!(
        "Instructions per operation (callgrind, counted inside each `get` and `insert` call); \
         {} operations per workload, the replay of the first {} requests of {} at {} entries.\n",
        sizes.ops,
        sizes.replay_limit,
        sizes.trace.display(),
        sizes.replay_capacity
    );
    println!(
        "| workload | strata | strata, stats off | quick_cache | strata / quick_cache | stats off / quick_cache | hit ratio, strata / quick_cache |"
    );
    println!("|---|---:|---:|---:|---:|---:|---|");
    for workload in WORKLOADS {
        let mut counted = Vec::new();
        for cache in CACHES {
            eprintln!("hot-paths: {} on {}…", name(workload), name(cache));
            counted.push(count(&me, dir.path(), workload, cache, sizes)?);
        }
        let [strata, quiet, quick] = [&counted[0], &counted[1], &counted[2]];
        let hits = |c: &Counted| match c.done.reads {
            0 => "—".to_owned(),
            reads => format!("{:.2}%", 100.0 * c.done.hits as f64 / reads as f64),
        };
        println!(
            "| {} | {:.0} | {:.0} | {:.0} | {:.2} | {:.2} | {} / {} |",
            name(workload),
            strata.per_op(),
            quiet.per_op(),
            quick.per_op(),
            strata.per_op() / quick.per_op(),
            quiet.per_op() / quick.per_op(),
            hits(strata),
            hits(quick),
        );
    }
    Ok(())
}

/// A measured run's count, and what the run did.
struct Counted {
    instructions: u64,
    done: Done,
}

impl Counted {
    fn per_op(&self) -> f64 {
        self.instructions as f64 / self.done.ops.max(1) as f64
    }
}

/// Runs `measure` under callgrind and reads what it counted.
fn count(
    me: &Path,
    dir: &Path,
    workload: Workload,
    cache: Contender,
    sizes: &Sizes,
) -> anyhow::Result<Counted> {
    let output = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!(
            "--callgrind-out-file={}",
            dir.join("callgrind.out").display()
        ))
        // The measured functions only: a looser pattern (`*op_*`) also
        // matched `drop_in_place` and counted the caches' teardown.
        .arg("--toggle-collect=hot_paths::op::op_*")
        .arg(me)
        .args(["measure", &name(workload), &name(cache)])
        .args(["--ops", &sizes.ops.to_string()])
        .arg("--trace")
        .arg(&sizes.trace)
        .args(["--replay-limit", &sizes.replay_limit.to_string()])
        .args(["--replay-capacity", &sizes.replay_capacity.to_string()])
        .output()
        .context("running valgrind")?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!(
            "{} on {} failed under valgrind ({}):\n{stderr}",
            name(workload),
            name(cache),
            output.status
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let done = parse_done(&stdout).with_context(|| {
        format!("no \"ops N reads N hits N\" line in the run's output: {stdout}")
    })?;
    let instructions = parse_collected(&stderr)
        .with_context(|| format!("no \"Collected : N\" line in valgrind's output: {stderr}"))?;
    Ok(Counted { instructions, done })
}

/// The workload's or cache's name on the command line.
fn name(value: impl ValueEnum) -> String {
    value
        .to_possible_value()
        .map_or_else(|| "?".to_owned(), |v| v.get_name().to_owned())
}

/// `ops N reads N hits N`, as `measure` prints it.
fn parse_done(stdout: &str) -> Option<Done> {
    let line = stdout.lines().find(|l| l.starts_with("ops "))?;
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        ["ops", ops, "reads", reads, "hits", hits] => Some(Done {
            ops: ops.parse().ok()?,
            reads: reads.parse().ok()?,
            hits: hits.parse().ok()?,
        }),
        _ => None,
    }
}

/// The count in callgrind's `==PID== Collected : N` line.
fn parse_collected(stderr: &str) -> Option<u64> {
    stderr.lines().find_map(|l| {
        let (_, count) = l.split_once("Collected :")?;
        count.trim().replace(',', "").parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callgrind_and_run_lines_are_read() {
        let stderr = "==12== Events    : Ir\n==12== Collected : 1,234,567\n==12== \n";
        assert_eq!(parse_collected(stderr), Some(1_234_567));
        assert_eq!(parse_collected("==12== I   refs: 5"), None);
        let done = parse_done("ops 100 reads 90 hits 42\n").expect("a run line");
        assert_eq!((done.ops, done.reads, done.hits), (100, 90, 42));
        assert!(parse_done("ops 100 hits 42\n").is_none());
        assert_eq!(name(Contender::StrataNoStats), "strata-no-stats");
        assert_eq!(name(Workload::Replay), "replay");
    }

    #[test]
    fn one_insert_in_ten_of_the_mix() {
        let inserts = (0..100_000).filter(|&i| mixed_insert(i)).count();
        assert!((9_000..=11_000).contains(&inserts), "{inserts}");
    }
}
