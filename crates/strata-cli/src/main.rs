//! The `strata` command: a thin shell over the library, one module per
//! subcommand.

mod bench;
mod heap;

use clap::{Parser, Subcommand};

/// Strata: a multi-level cache.
#[derive(Debug, Parser)]
#[command(name = "strata", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Measure get/insert throughput and heap bytes per entry of every
    /// eviction policy on a Zipf workload, in this process.
    Bench(bench::BenchArgs),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Bench(args) => bench::run(&args),
    }
}
