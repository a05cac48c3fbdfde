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
    /// Hash seed of Strata's caches, moka and foyer (quick_cache keeps its
    /// own hasher). Replays are reproducible for any one seed; several seeds
    /// show how much a policy's hit ratio depends on which keys meet in its
    /// structures.
    #[arg(long, default_value_t = 0)]
    hash_seed: u64,
    /// Replay under this many hash seeds, from --hash-seed up, and report
    /// each hit ratio as their mean; with --reference, also each seed's
    /// verdicts. quick_cache and OPT, which take no seed, run once.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64))]
    seeds: u64,
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
    let runs = replay(trace, &args.sizes, &contenders, &seeds(args))?;
    let results = Results::mean(&runs).context("no run")?;

    write_seeds(args, out)?;
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

/// The hash seeds to replay under: `--seeds` of them from `--hash-seed`
/// (wrapping past the largest, so that any seed can start the run).
fn seeds(args: &SimArgs) -> Vec<u64> {
    (0..args.seeds.max(1))
        .map(|i| args.hash_seed.wrapping_add(i))
        .collect()
}

/// Names the seeds above the tables, unless it is the usual one.
fn write_seeds(args: &SimArgs, out: &mut impl std::io::Write) -> anyhow::Result<()> {
    let seeds = seeds(args);
    if let [first, .., last] = seeds.as_slice() {
        writeln!(
            out,
            "Hit ratios are means over {} hash seeds ({first} to {last}) of Strata's caches, moka \
             and foyer; quick_cache and OPT take no seed.\n",
            seeds.len(),
        )?;
    } else if args.hash_seed != 0 {
        writeln!(
            out,
            "Strata's caches, moka and foyer hash with seed {}.\n",
            args.hash_seed
        )?;
    }
    Ok(())
}

/// Replays `trace` at every size through every contender, once per seed,
/// with a progress bar on stderr: one complete result per seed (the
/// contenders that take no seed run under the first only, and their
/// outcomes complete the others).
fn replay(
    trace: Trace,
    sizes: &[u64],
    contenders: &[Contender],
    seeds: &[u64],
) -> anyhow::Result<Vec<Results>> {
    let seeded: Vec<Contender> = contenders
        .iter()
        .copied()
        .filter(|c| c.takes_seed())
        .collect();
    let later = seeds.len().saturating_sub(1) as u64;
    let per_size = contenders.len() as u64 + later * seeded.len() as u64;
    let total = trace.keys.len() as u64 * sizes.len() as u64 * per_size;
    // Drawn only when stderr is a terminal, so logs and pipes stay clean.
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {percent}% ({eta} left)")
            .context("progress template")?
            .progress_chars("=> "),
    );
    bar.set_message(format!("replaying {}", trace.name));
    let mut lab = Lab::new(trace.name.clone(), trace.keys);
    let mut runs: Vec<Results> = Vec::new();
    for &seed in seeds {
        lab.set_hash_seed(seed);
        let run = match runs.first() {
            None => lab.run_all(sizes, contenders, &mut |n| bar.inc(n))?,
            Some(first) => lab
                .run_all(sizes, &seeded, &mut |n| bar.inc(n))?
                .completed_from(first),
        };
        runs.push(run);
    }
    bar.finish_and_clear();
    Ok(runs)
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
    write_seeds(args, out)?;
    let seeds = seeds(args);
    let mut all = Vec::new();
    // by_seed[s][t]: trace t's results under the s-th seed.
    let mut by_seed: Vec<Vec<Results>> = vec![Vec::new(); seeds.len()];
    for (file, rows) in reference::by_trace() {
        let path = dir.join(file);
        let trace = trace::read(&path, None)
            .with_context(|| format!("reading the reference trace {}", path.display()))?;
        let sizes: Vec<u64> = rows.iter().map(|r| r.capacity).collect();
        let runs = replay(trace, &sizes, &contenders, &seeds)?;
        let results = Results::mean(&runs).context("no run")?;
        writeln!(out, "```\n{}```\n", report::table(&results))?;
        all.push(results);
        for (seed, run) in by_seed.iter_mut().zip(runs) {
            seed.push(run);
        }
    }
    let card = reference::Scorecard::new(adaptive, &all);
    write!(out, "{}", card.markdown())?;
    if by_seed.len() > 1 {
        let cards: Vec<(u64, reference::Scorecard)> = seeds
            .iter()
            .zip(&by_seed)
            .map(|(&seed, runs)| (seed, reference::Scorecard::new(adaptive, runs)))
            .collect();
        write!(out, "\n{}", reference::by_seed(&cards))?;
    }
    Ok(())
}
