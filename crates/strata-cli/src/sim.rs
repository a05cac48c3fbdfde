//! `strata sim`: replay an access trace through every policy, the peer
//! caches and Belady's optimum; print hit ratios, optionally as CSV and SVG.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use strata_sim::{Contender, Format, Lab, report, trace};

use crate::policies::PolicyList;

/// Options of `strata sim`.
#[derive(Debug, Args)]
pub(crate) struct SimArgs {
    /// The trace file (zstd, gzip or xz compressed, or plain).
    #[arg(long)]
    trace: PathBuf,
    /// The trace format: auto, arc, lirs, bin32, bin64 or text.
    #[arg(long, default_value = "auto")]
    format: String,
    /// Cache capacities to replay, in entries, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
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
}

pub(crate) fn run(args: &SimArgs, out: &mut impl std::io::Write) -> anyhow::Result<()> {
    let format = match args.format.as_str() {
        "auto" => None,
        name => Some(name.parse::<Format>()?),
    };
    if args.sizes.contains(&0) {
        anyhow::bail!("--sizes must all be greater than zero");
    }
    let trace = trace::read(&args.trace, format)?;
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

    let total = trace.keys.len() as u64 * args.sizes.len() as u64 * contenders.len() as u64;
    // Drawn only when stderr is a terminal, so logs and pipes stay clean.
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {percent}% ({eta} left)")
            .context("progress template")?
            .progress_chars("=> "),
    );
    bar.set_message(format!("replaying {}", trace.name));
    let lab = Lab::new(trace.name.clone(), trace.keys);
    let results = lab.run_all(&args.sizes, &contenders, &mut |n| bar.inc(n))?;
    bar.finish_and_clear();

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
