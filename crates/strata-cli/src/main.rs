//! The `strata` command: a thin shell over the library, one module per
//! subcommand.

mod bench;
mod client;
mod heap;
mod policies;
mod serve;
mod sim;

use clap::{Parser, Subcommand};

/// Strata: a multi-level cache.
#[derive(Debug, Parser)]
#[command(name = "strata", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    connection: client::Connection,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server (API, metrics, dashboard) until SIGTERM or
    /// Ctrl-C.
    Serve(serve::ServeArgs),
    /// Print the value of a key from a running server.
    Get {
        /// The key.
        key: String,
    },
    /// Store a value on a running server.
    Set(client::SetArgs),
    /// Delete a key on a running server.
    Del {
        /// The key.
        key: String,
    },
    /// Invalidate keys, tags, a prefix or a pattern on a running server.
    Invalidate(client::InvalidateArgs),
    /// Print a namespace's stats from a running server.
    Stats,
    /// Measure get/insert throughput and heap bytes per entry of every
    /// eviction policy on a Zipf workload, in this process.
    Bench(bench::BenchArgs),
    /// Replay an access trace through every policy, the peer caches and
    /// Belady's optimum, and print hit ratios by cache size.
    Sim(sim::SimArgs),
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // The reader went away (`strata bench | head`): nothing left to say.
        Err(e) if is_broken_pipe(&e) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The message and its causes, one line; no backtrace, even with
            // RUST_BACKTRACE set: these are a user's errors, not bugs.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut stdout = std::io::stdout().lock();
    match cli.command {
        Command::Bench(args) => bench::run(&args, &mut stdout),
        Command::Sim(args) => sim::run(&args, &mut stdout),
        Command::Serve(args) => serve::run_serve(&args),
        Command::Get { key } => {
            client::run(&cli.connection, client::Request::Get(key), &mut stdout)
        }
        Command::Set(args) => client::run(&cli.connection, client::Request::Set(args), &mut stdout),
        Command::Del { key } => {
            client::run(&cli.connection, client::Request::Del(key), &mut stdout)
        }
        Command::Invalidate(args) => client::run(
            &cli.connection,
            client::Request::Invalidate(args),
            &mut stdout,
        ),
        Command::Stats => client::run(&cli.connection, client::Request::Stats, &mut stdout),
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}
