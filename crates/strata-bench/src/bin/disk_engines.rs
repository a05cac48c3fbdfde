//! `disk-engines`: redb against fjall on the workload of Strata's disk tier.
//!
//! For each engine, in one run and one process (plus a child process for
//! the unclean end), on a fresh store in a temporary directory:
//!
//! 1. load `--entries` entries in durable batches of `--batch` (value and
//!    two index entries per put, in one atomic commit);
//! 2. `--gets` random gets on one thread, page cache warm;
//! 3. reopen after a clean close, and after an unclean end (a child process
//!    commits one batch and exits without closing), timed to the first hit;
//! 4. evict the oldest 30%, then reclaim the space (redb `compact`, fjall
//!    major compaction), then churn 30% more at a constant live size.
//!
//! It prints the command, a note on the machine and two markdown tables.
//! Progress goes to stderr.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail, ensure};
use clap::Parser;
use strata_bench::disk_run::{self, EngineReport, RunConfig};
use strata_bench::engines::{EngineKind, EngineOptions};
use strata_bench::workload::StoreShape;

/// Measure redb against fjall on the workload of Strata's disk tier.
#[derive(Debug, Parser)]
#[command(name = "disk-engines")]
struct Args {
    /// Entries, value size (half random, half repeated text), batch (also
    /// the eviction batch) and measured gets (after a warm-up of as many).
    #[command(flatten)]
    shape: StoreShape,
    /// Directory in which the temporary stores are created. Default: the
    /// system temporary directory.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Engines to run, in order, comma-separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "redb,redb-quick-repair,fjall,fjall-journal-64m"
    )]
    engines: Vec<EngineKind>,
    /// Cache size of every engine, in MiB. Default: each engine's own
    /// (redb 1 GiB, fjall 32 MiB).
    #[arg(long)]
    cache_mb: Option<u64>,
    /// Seed of values and key choices.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Skip the unclean end and its reopen.
    #[arg(long)]
    no_unclean: bool,
    /// Internal: run as the child of the unclean end, on the store in this
    /// directory, for the single engine of `--engines`.
    #[arg(long, hide = true)]
    crash_child: Option<PathBuf>,
}

impl Args {
    fn config(&self) -> RunConfig {
        RunConfig {
            entries: self.shape.entries,
            value_bytes: self.shape.value_bytes,
            batch: self.shape.batch,
            gets: self.shape.gets,
            seed: self.seed,
            engine: EngineOptions {
                cache_bytes: self.cache_mb.map(|mb| mb << 20),
            },
        }
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(
        args.shape.entries > 0
            && args.shape.batch > 0
            && args.shape.gets > 0
            && args.shape.value_bytes > 0,
        "--entries, --batch, --gets and --value-bytes must be greater than zero"
    );
    if let Some(dir) = &args.crash_child {
        let [kind] = args.engines[..] else {
            bail!("--crash-child takes exactly one engine");
        };
        let opened = disk_run::crash_child(kind, dir, &args.config())?;
        // `exit` runs no destructor: the engine is neither dropped nor
        // closed, and the store is left as `kill -9` right after the commit
        // returned would leave it (the OS closes the descriptors; the page
        // cache keeps what was written).
        let _still_open = opened;
        std::process::exit(0);
    }

    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let base = match &args.dir {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir(),
    };
    let root = tempfile::Builder::new()
        .prefix("disk-engines-")
        .tempdir_in(&base)
        .with_context(|| format!("creating a temporary directory in {}", base.display()))?;
    eprintln!("stores under {}", root.path().display());

    let config = args.config();
    let mut reports = Vec::new();
    for &kind in &args.engines {
        let dir = root.path().join(kind.name());
        let crash = |dir: &Path| run_crash_child(&args, kind, dir);
        let crash_hook: Option<disk_run::CrashHook<'_>> =
            if args.no_unclean { None } else { Some(&crash) };
        reports.push(disk_run::run_engine(kind, &dir, &config, crash_hook)?);
        // Each engine's store is deleted before the next runs, so the next
        // one has the page cache and the disk to itself.
        std::fs::remove_dir_all(&dir)?;
    }

    print!("{}", render(&command, &args, &reports)?);
    Ok(())
}

/// Runs this binary as the child of the unclean end of `kind` on `dir`,
/// and waits for it.
fn run_crash_child(args: &Args, kind: EngineKind, dir: &Path) -> anyhow::Result<()> {
    let mut command = Command::new(std::env::current_exe()?);
    command
        .arg("--crash-child")
        .arg(dir)
        .args(["--engines", kind.name()])
        .args(["--entries", &args.shape.entries.to_string()])
        .args(["--value-bytes", &args.shape.value_bytes.to_string()])
        .args(["--batch", &args.shape.batch.to_string()])
        .args(["--seed", &args.seed.to_string()]);
    if let Some(mb) = args.cache_mb {
        command.args(["--cache-mb", &mb.to_string()]);
    }
    let status = command.status()?;
    ensure!(status.success(), "the crash child failed: {status}");
    Ok(())
}

/// Bytes as decimal megabytes.
fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// The machine note: cores and memory, and that the machine is shared.
fn machine_note() -> String {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    // MemTotal from /proc/meminfo; absent outside Linux, and only a note.
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("MemTotal:"))
                .map(|line| line.trim_start_matches("MemTotal:").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    format!(
        "{cores} cores (available_parallelism), {memory} RAM, shared with other builds: \
         compare engines within one run, not across runs"
    )
}

/// The report: command, machine note, the main table and the details.
/// Disk figures in the main table are allocated blocks (`du`); the details
/// give the files' lengths.
fn render(command: &str, args: &Args, reports: &[EngineReport]) -> anyhow::Result<String> {
    let mut out = String::new();
    writeln!(out, "command: `{command}`")?;
    writeln!(out, "machine: {}", machine_note())?;
    writeln!(
        out,
        "workload: {} entries of {} B, batches of {}, {} gets, caches: {}",
        args.shape.entries,
        args.shape.value_bytes,
        args.shape.batch,
        args.shape.gets,
        args.cache_mb.map_or_else(
            || "engine defaults".to_owned(),
            |mb| format!("{mb} MiB each")
        )
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "| engine | load put/s | get/s | get p50 µs | get p99 µs | reopen→first hit ms (clean) | (unclean) | disk MB after load | after −30% | after reclaim | after churn |"
    )?;
    writeln!(out, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")?;
    for r in reports {
        let unclean = r
            .unclean
            .map_or_else(|| "–".to_owned(), |u| format!("{:.1}", u.first_hit_ms));
        writeln!(
            out,
            "| {} | {:.0} | {:.0} | {:.1} | {:.1} | {:.1} | {} | {:.0} | {:.0} | {:.0} | {:.0} |",
            r.kind.name(),
            r.load_puts_per_sec,
            r.gets_per_sec,
            r.get_p50_ns as f64 / 1e3,
            r.get_p99_ns as f64 / 1e3,
            r.clean_first_hit_ms,
            unclean,
            mb(r.disk_after_load.allocated),
            mb(r.disk_after_evict.allocated),
            mb(r.disk_after_reclaim.allocated),
            mb(r.disk_after_churn.allocated),
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "| engine | commit p50 ms | commit p99 ms | prefix scan keys/s | close ms | open ms (clean) | open ms (unclean) | repaired | crashed batch kept | evict 30% s | oldest lookup µs | reclaim s | churn put/s | file length MB: load / −30% / reclaim / churn |"
    )?;
    writeln!(
        out,
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
    )?;
    for r in reports {
        let (open, repaired, kept) = match r.unclean {
            None => ("–".to_owned(), "–".to_owned(), "–".to_owned()),
            Some(u) => (
                format!("{:.1}", u.open_ms),
                u.repaired
                    .map_or_else(|| "not reported".to_owned(), |r| r.to_string()),
                u.last_batch_survived.to_string(),
            ),
        };
        writeln!(
            out,
            "| {} | {:.2} | {:.2} | {:.0} | {:.1} | {:.1} | {} | {} | {} | {:.1} | {:.0} | {:.1} | {:.0} | {:.0} / {:.0} / {:.0} / {:.0} |",
            r.kind.name(),
            r.batch_p50_ms,
            r.batch_p99_ms,
            r.prefix_keys_per_sec,
            r.clean_close_ms,
            r.clean_open_ms,
            open,
            repaired,
            kept,
            r.evict_secs,
            r.oldest_lookup_us,
            r.reclaim_secs,
            r.churn_puts_per_sec,
            mb(r.disk_after_load.apparent),
            mb(r.disk_after_evict.apparent),
            mb(r.disk_after_reclaim.apparent),
            mb(r.disk_after_churn.apparent),
        )?;
    }
    writeln!(out)?;
    writeln!(out, "space, in each engine's own words:")?;
    writeln!(out)?;
    for r in reports {
        writeln!(
            out,
            "* {} after load: {}",
            r.kind.name(),
            r.space_after_load
        )?;
        writeln!(
            out,
            "* {} before the clean close: {}",
            r.kind.name(),
            r.space_before_close
        )?;
        writeln!(
            out,
            "* {} after churn: {}",
            r.kind.name(),
            r.space_after_churn
        )?;
    }
    Ok(out)
}
