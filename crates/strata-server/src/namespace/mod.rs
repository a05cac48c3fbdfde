//! Namespaces: independent caches under one server, each a
//! [`TieredCache`](strata::TieredCache) (memory tier over its own disk tier) with its own
//! policy, capacity, default TTL and compression.

mod engine;
pub mod history;
mod registry;

use std::sync::Arc;

use axum::http::StatusCode;
use strata::tier::disk::DiskTier;

use crate::config::NamespaceSettings;
use crate::error::ApiError;

pub use engine::Engine;
pub use history::{History, Sample};
pub use registry::{Registry, RegistryError};

/// The longest namespace name.
pub const MAX_NAME_LEN: usize = 64;

/// Checks a namespace name: 1–64 of `A–Z a–z 0–9 _ - .`, not starting with
/// `.` or `_` (so a name is always a safe directory name, and `_`-names stay
/// free for the server's own use).
///
/// # Errors
/// 400 saying what a name may contain.
pub fn check_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && !name.starts_with(['.', '_'])
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_namespace",
            format!(
                "namespace {name:?} is not valid: use 1 to {MAX_NAME_LEN} of A-Z a-z 0-9 _ - ., \
                 not starting with . or _"
            ),
        ))
    }
}

/// One namespace.
pub struct Namespace {
    name: String,
    /// The engine, replaced whole when the configuration changes at run
    /// time. A request clones the `Arc` (the lock is held for that only:
    /// the read path stays one uncontended atomic, not an async lock), and
    /// a change waits for those clones to drop before closing the old one.
    engine: parking_lot::RwLock<Arc<Engine>>,
    /// Serialises configuration changes and closing.
    changing: tokio::sync::Mutex<()>,
    /// The disk tier outlives engine changes: entries stay on disk while
    /// the memory tier is rebuilt.
    disk: Option<DiskTier>,
    /// Figures over time, for `/analytics` and the dashboard.
    history: parking_lot::Mutex<History>,
}

impl Namespace {
    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The engine, for the duration of one request.
    pub fn engine(&self) -> Arc<Engine> {
        Arc::clone(&self.engine.read())
    }

    /// The disk tier, when the namespace has one.
    pub fn disk(&self) -> Option<&DiskTier> {
        self.disk.as_ref()
    }

    /// The recorded history.
    pub fn history(&self) -> &parking_lot::Mutex<History> {
        &self.history
    }

    /// Replaces the engine with one built from `settings`. The memory tier
    /// starts empty; entries on disk are promoted again as they are read.
    /// The old engine is closed (its write-back queue flushed) once the
    /// requests using it finish, or after `drain` at most.
    ///
    /// # Errors
    /// 400 when `settings` change what cannot change at run time (whether
    /// there is a disk tier, its budget) or are refused by the builder.
    pub async fn reconfigure(
        &self,
        settings: NamespaceSettings,
        memory: &crate::config::MemoryConfig,
        limits: &crate::config::Limits,
    ) -> Result<(), ApiError> {
        let _changing = self.changing.lock().await;
        let current = self.engine();
        if settings.disk != current.settings.disk
            || settings.disk_max_bytes != current.settings.disk_max_bytes
        {
            return Err(ApiError::bad_request(
                "disk and disk_max_bytes cannot change at run time; change the config and restart",
            ));
        }
        let engine = Engine::build(&settings, self.disk.clone(), memory, limits).map_err(|e| {
            ApiError::bad_request(format!("the new configuration is not valid: {e}"))
        })?;
        let old = std::mem::replace(&mut *self.engine.write(), Arc::new(engine));
        drop(current);
        drain(&old, limits.request_timeout).await;
        old.cache.close().await.map_err(ApiError::from)
    }

    /// Flushes queued writes and closes the disk tier cleanly.
    ///
    /// # Errors
    /// A message naming what failed.
    pub async fn close(&self) -> Result<(), String> {
        let _changing = self.changing.lock().await;
        let engine = self.engine();
        engine
            .cache
            .close()
            .await
            .map_err(|e| format!("namespace {}: {e}", self.name))?;
        if let Some(disk) = &self.disk {
            disk.close()
                .await
                .map_err(|e| format!("namespace {}: closing the disk tier: {e}", self.name))?;
        }
        Ok(())
    }
}

/// Waits until `engine` is held only by the caller (the requests that
/// cloned it have finished), for `limit` at most: a long export stream
/// must not block a configuration change forever. Writes that arrive after
/// that are refused (`Closed`, a 503 the client retries).
async fn drain(engine: &Arc<Engine>, limit: std::time::Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    while Arc::strong_count(engine) > 1 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
}

impl std::fmt::Debug for Namespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Namespace")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The namespace the server's guard found for a request, handed to the
/// handler in the request's extensions so it need not look it up again.
#[derive(Clone)]
pub struct Resolved(Arc<Namespace>);

impl Resolved {
    pub(crate) fn new(namespace: Arc<Namespace>) -> Self {
        Self(namespace)
    }

    /// The namespace `name`: the one the guard resolved when it is that
    /// one (the guard reads the raw path; a handler's `name` is
    /// percent-decoded), else looked up.
    ///
    /// # Errors
    /// As [`Registry::get`].
    pub fn namespace(
        resolved: Option<axum::Extension<Resolved>>,
        state: &crate::AppState,
        name: &str,
    ) -> Result<Arc<Namespace>, ApiError> {
        match resolved {
            Some(axum::Extension(Resolved(ns))) if ns.name() == name => Ok(ns),
            _ => state.registry.get(name),
        }
    }
}
