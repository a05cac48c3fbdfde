//! `strata sim`: replay an access trace through every policy, the peer
//! caches and Belady's optimum; print hit ratios, optionally as CSV and SVG.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use strata::Policy;
use strata_sim::{Contender, Format, Lab, Results, Trace, reference, report, trace};

use crate::policies::PolicyList;

/// Options of `strata sim`.
#[derive(Debug, Args)]
pub(crate) struct SimArgs {
    /// The trace file (zstd, gzip or xz compressed, or plain).
    #[arg(long, required_unless_present = "reference")]
    trace: Option<PathBuf>,
    /// The trace format: auto, arc, lirs, bin32, bin64 or text.
    #[arg(long, default_value = "auto")]
    format: String,
    /// Cache capacities to replay, in entries, comma-separated.
    #[arg(long, value_delimiter = ',', required_unless_present = "reference")]
    sizes: Vec<u64>,
    /// Strata policies: `all` or a comma-separated list.
    #[arg(long, default_value = "all")]
    policies: PolicyList,
    /// Leave out the peer caches (moka, quick_cache, foyer).
    #[arg(long)]
    no_peers: bool,
    /// Also write the results as CSV to this file.
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Also draw hit ratio against size as SVG into this file.
    #[arg(long)]
    svg: Option<PathBuf>,
    /// Replay every reference row of the traces README in this directory
    /// (e.g. ../shared/traces) and score Adaptive against the hit-ratio
    /// targets, printing Markdown. Takes the place of --trace and --sizes.
    #[arg(long, value_name = "TRACES_DIR", conflicts_with_all = ["trace", "sizes", "csv", "svg"])]
    reference: Option<PathBuf>,
    /// Hash seed of Strata's caches (the peers keep theirs). Replays are
    /// reproducible for any one seed; several seeds show how much a
    /// policy's hit ratio depends on which keys meet in its structures.
    #[arg(long, default_value_t = 0)]
    hash_seed: u64,
}

pub(crate) fn run(args: &SimArgs, out: &mut impl std::io::Write) -> anyhow::Result<()> {
    if let Some(dir) = &args.reference {
        return run_reference(args, dir, out);
    }
    let Some(trace_path) = &args.trace else {
        anyhow::bail!("--trace is required");
    };
    let format = match args.format.as_str() {
        "auto" => None,
        name => Some(name.parse::<Format>()?),
    };
    if args.sizes.contains(&0) {
        anyhow::bail!("--sizes must all be greater than zero");
    }
    let trace = trace::read(trace_path, format)?;
    let contenders = contenders(args);
    let results = replay(trace, &args.sizes, &contenders, args.hash_seed)?;

    write!(out, "{}", report::table(&results))?;
    if let Some(path) = &args.csv {
        std::fs::write(path, report::csv(&results))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.svg {
        report::svg(&results, path).map_err(anyhow::Error::msg)?;
    }
    Ok(())
}

/// The chosen Strata policies, the peers unless left out, and OPT.
fn contenders(args: &SimArgs) -> Vec<Contender> {
    let mut contenders: Vec<Contender> = args
        .policies
        .0
        .iter()
        .map(|&p| Contender::Strata(p))
        .collect();
    if !args.no_peers {
        contenders.extend(Contender::peers());
    }
    contenders.push(Contender::Opt);
    contenders
}

/// Replays `trace` at every size through every contender, with a progress
/// bar on stderr.
fn replay(
    trace: Trace,
    sizes: &[u64],
    contenders: &[Contender],
    seed: u64,
) -> anyhow::Result<Results> {
    let total = trace.keys.len() as u64 * sizes.len() as u64 * contenders.len() as u64;
    // Drawn only when stderr is a terminal, so logs and pipes stay clean.
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {percent}% ({eta} left)")
            .context("progress template")?
            .progress_chars("=> "),
    );
    bar.set_message(format!("replaying {}", trace.name));
    let lab = Lab::new(trace.name.clone(), trace.keys).with_hash_seed(seed);
    let results = lab.run_all(sizes, contenders, &mut |n| bar.inc(n))?;
    bar.finish_and_clear();
    Ok(results)
}

/// `--reference`: every reference row, each trace's table, then Adaptive's
/// scorecard.
fn run_reference(
    args: &SimArgs,
    dir: &std::path::Path,
    out: &mut impl std::io::Write,
) -> anyhow::Result<()> {
    let mut contenders = contenders(args);
    let adaptive = Contender::Strata(Policy::Adaptive);
    // The scorecard needs its candidate and LRU whatever --policies says.
    for needed in [Contender::Strata(Policy::Lru), adaptive] {
        if !contenders.contains(&needed) {
            contenders.insert(0, needed);
        }
    }
    if args.hash_seed != 0 {
        writeln!(out, "Strata's caches hash with seed {}.\n", args.hash_seed)?;
    }
    let mut all = Vec::new();
    for (file, rows) in reference::by_trace() {
        let path = dir.join(file);
        let trace = trace::read(&path, None)
            .with_context(|| format!("reading the reference trace {}", path.display()))?;
        let sizes: Vec<u64> = rows.iter().map(|r| r.capacity).collect();
        let results = replay(trace, &sizes, &contenders, args.hash_seed)?;
        writeln!(out, "```\n{}```\n", report::table(&results))?;
        all.push(results);
    }
    let card = reference::Scorecard::new(adaptive, &all);
    write!(out, "{}", card.markdown())?;
    Ok(())
}
