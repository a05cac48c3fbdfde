//! The `strata` command: a thin shell over the library, one module per
//! subcommand.

mod bench;
mod heap;
mod policies;
mod sim;

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
    /// Replay an access trace through every policy, the peer caches and
    /// Belady's optimum, and print hit ratios by cache size.
    Sim(sim::SimArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut stdout = std::io::stdout().lock();
    let result = match cli.command {
        Command::Bench(args) => bench::run(&args, &mut stdout),
        Command::Sim(args) => sim::run(&args, &mut stdout),
    };
    match result {
        // The reader went away (`strata bench | head`): nothing left to say.
        Err(e) if is_broken_pipe(&e) => Ok(()),
        other => other,
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}
