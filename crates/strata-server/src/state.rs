//! What every handler shares.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Semaphore;

use crate::auth::Tokens;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::namespace::{Registry, RegistryError};

/// The server's state, cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// The inside of [`AppState`].
pub struct Inner {
    /// The configuration the server started with.
    pub config: Arc<Config>,
    /// The namespaces.
    pub registry: Registry,
    /// The accepted tokens.
    pub tokens: Tokens,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// Requests in flight, bounded by `limits.max_concurrent_requests`.
    pub in_flight: Arc<Semaphore>,
    /// One benchmark at a time: it is CPU-bound and would starve requests.
    /// Shared so the running benchmark holds it until it really ends, even
    /// when its request was abandoned (timed out, client gone).
    pub benchmark: Arc<tokio::sync::Mutex<()>>,
    /// When the server started.
    pub started: Instant,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// A token could not be resolved, or the listen address is unsafe.
    #[error("{0}")]
    Config(String),
    /// A namespace could not be opened.
    #[error(transparent)]
    Namespace(#[from] RegistryError),
}

impl AppState {
    /// Opens every namespace of `config` and prepares the shared parts.
    ///
    /// # Errors
    /// [`StartError`] saying what to fix.
    pub async fn new(config: Config) -> Result<Self, StartError> {
        // Configs built in code skip `config::load`; check them here too.
        crate::config::validate(&config).map_err(|e| StartError::Config(e.to_string()))?;
        let tokens = Tokens::from_config(&config.auth).map_err(StartError::Config)?;
        let config = Arc::new(config);
        let registry = Registry::open(Arc::clone(&config)).await?;
        Ok(Self(Arc::new(Inner {
            in_flight: Arc::new(Semaphore::new(config.limits.max_concurrent_requests)),
            config,
            registry,
            tokens,
            metrics: Metrics::new(),
            benchmark: Arc::new(tokio::sync::Mutex::new(())),
            started: Instant::now(),
        })))
    }
}

impl Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}
