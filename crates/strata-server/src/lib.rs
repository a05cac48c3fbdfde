//! # strata-server
//!
//! Strata's HTTP face: the tiered cache behind a JSON API, for services in
//! any language. `strata serve` runs it; tests and embedders use
//! [`app`] and [`run`] directly.
//!
//! ## How it fits
//!
//! * [`Config`](config::Config): a profile's presets, then a TOML file,
//!   `STRATA_*` variables and flags ([`config::load`]).
//! * [`AppState`]: the [`namespace::Registry`] (each namespace a
//!   `TieredCache` — memory tier over its own disk tier under `data_dir`),
//!   the tokens, the metrics recorder and the limits.
//! * [`app`]: the axum `Router` — every route under `/v1`, `/health`,
//!   `/metrics`, `/openapi.json`, the dashboard at `/` — with the
//!   middleware that bounds requests (concurrency, deadline, body size)
//!   and turns every failure into `{"error": {"code", "message"}}`.
//! * [`run`]: serves a bound listener until `shutdown` resolves, then
//!   finishes the requests in flight, flushes write-back queues and closes
//!   every disk tier, so a restart serves the same data.
//!
//! The API is described in `docs/server.md` and, machine-readably, at
//! `/openapi.json`.

pub mod auth;
pub mod config;
mod dashboard;
pub mod error;
pub mod item;
mod limits;
pub mod metrics;
pub mod namespace;
mod openapi;
pub mod routes;
mod state;

use std::future::Future;

use axum::Router;
use tokio::net::TcpListener;

pub use openapi::ApiDoc;
pub use state::{AppState, Inner, StartError};

/// The API's router over `state`.
pub fn app(state: AppState) -> Router {
    routes::router(state)
}

/// Why serving stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// Accepting or serving connections failed.
    #[error("serving failed: {0}")]
    Io(#[from] std::io::Error),
    /// Some namespaces could not be closed cleanly (their queued writes may
    /// be lost); each message names one.
    #[error("closing namespaces failed: {}", .0.join("; "))]
    Close(Vec<String>),
}

/// Serves `state` on `listener` until `shutdown` resolves; then stops
/// accepting, lets the requests in flight finish, flushes every
/// namespace's queued writes and closes its disk tier.
///
/// # Errors
/// [`ServeError`] when serving or closing failed.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let sampler = tokio::spawn(routes::stats::sampler(state.clone()));
    let served = axum::serve(listener, app(state.clone()))
        .with_graceful_shutdown(shutdown)
        .await;
    sampler.abort();
    let closed = state.registry.close_all().await;
    served?;
    closed.map_err(ServeError::Close)
}

/// Resolves on SIGTERM or Ctrl-C (SIGINT).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
