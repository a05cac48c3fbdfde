//! `strata serve`: the HTTP server on the configured namespaces.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use strata_server::auth::{Tokens, check_listen};
use strata_server::config::{self, Overrides, Profile};
use strata_server::{AppState, run, shutdown_signal};
use tracing_subscriber::EnvFilter;

/// Options of `strata serve`. Each beats the same setting from
/// `STRATA_*` variables and the config file.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// A TOML config file.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:7070).
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// Directory for the namespaces' disk tiers (default ./strata-data).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Preset: development (default), production or ci.
    #[arg(long)]
    profile: Option<Profile>,
    /// Listen on a non-loopback address even without auth tokens.
    #[arg(long)]
    insecure: bool,
}

/// Runs the server until SIGTERM or Ctrl-C.
///
/// # Errors
/// A bad configuration, an address in use, a namespace that cannot open.
pub(crate) fn run_serve(args: &ServeArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("STRATA_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let flags = Overrides {
        profile: args.profile,
        listen: args.listen,
        data_dir: args.data_dir.clone(),
        insecure: args.insecure,
    };
    let config = config::load(args.config.as_deref(), &flags)?;
    let tokens = Tokens::from_config(&config.auth).map_err(anyhow::Error::msg)?;
    check_listen(config.listen, &tokens, config.insecure).map_err(anyhow::Error::msg)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let listen = config.listen;
        let profile = config.profile;
        let data_dir = config.data_dir.clone();
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr()?;
        let state = AppState::new(config).await?;
        say(&format!("Strata listening on http://{addr} (profile {}, data in {})", profile.name(), data_dir.display()));
        say(&format!("Dashboard: http://{addr}/   API: http://{addr}/openapi.json   Metrics: http://{addr}/metrics"));
        if !state.tokens.enabled() {
            say("No auth tokens configured: every request has every scope, so the server listens on loopback only.");
        }
        run(listener, state, shutdown_signal()).await?;
        say("Strata stopped: requests finished, queued writes flushed, disk tiers closed.");
        Ok(())
    })
}

/// Prints a line to stdout, ignoring a closed stdout: the server must not
/// die because whoever started it stopped reading (`println!` would panic).
fn say(line: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
