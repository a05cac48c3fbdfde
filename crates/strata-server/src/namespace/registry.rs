//! The set of namespaces: those declared in the config and those created on
//! demand, reopened from the data directory at start-up so a restart serves
//! the same data.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use axum::http::StatusCode;
use strata::tier::disk::DiskTier;

use super::{Engine, History, Namespace, check_name};
use crate::config::Config;
use crate::error::ApiError;

/// Where namespaces live under the data directory.
const NAMESPACES_DIR: &str = "namespaces";

/// A namespace that could not be opened at start-up.
#[derive(Debug, thiserror::Error)]
#[error("namespace {name}: {message}")]
pub struct RegistryError {
    /// The namespace.
    pub name: String,
    /// What failed.
    pub message: String,
}

/// Every open namespace.
pub struct Registry {
    config: Arc<Config>,
    map: parking_lot::RwLock<BTreeMap<String, Arc<Namespace>>>,
    /// Serialises creation, so two first writes to one new namespace open
    /// its disk tier once.
    creating: tokio::sync::Mutex<()>,
}

impl Registry {
    /// Opens the declared namespaces and, when namespaces may be created on
    /// demand, every one found in the data directory.
    ///
    /// # Errors
    /// [`RegistryError`] for the first namespace that cannot be opened.
    pub async fn open(config: Arc<Config>) -> Result<Self, RegistryError> {
        let registry = Self {
            config: Arc::clone(&config),
            map: parking_lot::RwLock::new(BTreeMap::new()),
            creating: tokio::sync::Mutex::new(()),
        };
        let mut names: Vec<String> = config.namespaces.keys().cloned().collect();
        if let Ok(entries) = std::fs::read_dir(registry.root()) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if names.contains(&name) || check_name(&name).is_err() {
                    continue;
                }
                if config.create_on_demand {
                    names.push(name);
                } else {
                    tracing::warn!(namespace = %name, "not declared and create_on_demand is off: left closed");
                }
            }
        }
        for name in names {
            let ns = registry.open_one(&name).await?;
            registry.map.write().insert(name, ns);
        }
        Ok(registry)
    }

    fn root(&self) -> PathBuf {
        self.config.data_dir.join(NAMESPACES_DIR)
    }

    async fn open_one(&self, name: &str) -> Result<Arc<Namespace>, RegistryError> {
        let fail = |message: String| RegistryError {
            name: name.to_owned(),
            message,
        };
        let settings = self.config.namespace_settings(name).map_err(fail)?;
        let disk = if settings.disk {
            let builder =
                DiskTier::builder(self.root().join(name)).max_bytes(settings.disk_max_bytes);
            // Opening replays the journal: blocking work, off the runtime.
            let disk = tokio::task::spawn_blocking(move || builder.open())
                .await
                .map_err(|e| fail(format!("opening the disk tier panicked: {e}")))?
                .map_err(|e| fail(format!("opening the disk tier: {e}")))?;
            if let Some(recovery) = disk.recovery() {
                tracing::warn!(namespace = name, moved_to = %recovery.moved_to.display(), reason = %recovery.reason, "damaged disk store moved aside; starting cold");
            }
            Some(disk)
        } else {
            None
        };
        let engine = Engine::build(
            &settings,
            disk.clone(),
            &self.config.memory,
            &self.config.limits,
        )
        .map_err(|e| fail(e.to_string()))?;
        Ok(Arc::new(Namespace {
            name: name.to_owned(),
            engine: parking_lot::RwLock::new(Arc::new(engine)),
            changing: tokio::sync::Mutex::new(()),
            disk,
            history: parking_lot::Mutex::new(History::new(self.config.analytics.samples)),
        }))
    }

    /// The namespace `name`, if it is open.
    ///
    /// # Errors
    /// 400 for an invalid name, 404 `namespace_not_found` when it is not
    /// open.
    pub fn get(&self, name: &str) -> Result<Arc<Namespace>, ApiError> {
        check_name(name)?;
        self.map.read().get(name).cloned().ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "namespace_not_found",
                format!("namespace {name:?} does not exist"),
            )
        })
    }

    /// The namespace `name`, created with the default settings when it does
    /// not exist and creation on demand is on.
    ///
    /// # Errors
    /// 400 for an invalid name; 404 when creation on demand is off; 507
    /// when `limits.max_namespaces` are open; 500 when it cannot be opened.
    pub async fn get_or_create(&self, name: &str) -> Result<Arc<Namespace>, ApiError> {
        if let Ok(ns) = self.get(name) {
            return Ok(ns);
        }
        check_name(name)?;
        if !self.config.create_on_demand {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "namespace_not_found",
                format!(
                    "namespace {name:?} is not declared and create_on_demand is off; declare it in the config"
                ),
            ));
        }
        let _creating = self.creating.lock().await;
        if let Ok(ns) = self.get(name) {
            return Ok(ns);
        }
        if self.map.read().len() >= self.config.limits.max_namespaces {
            return Err(ApiError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "too_many_namespaces",
                format!(
                    "the server already has limits.max_namespaces = {} namespaces",
                    self.config.limits.max_namespaces
                ),
            ));
        }
        let ns = self
            .open_one(name)
            .await
            .map_err(|e| ApiError::internal("creating a namespace", &e))?;
        self.map.write().insert(name.to_owned(), Arc::clone(&ns));
        tracing::info!(namespace = name, "namespace created on demand");
        Ok(ns)
    }

    /// Every open namespace, by name.
    pub fn all(&self) -> Vec<Arc<Namespace>> {
        self.map.read().values().cloned().collect()
    }

    /// Closes every namespace (flushing queued writes, closing disk tiers).
    ///
    /// # Errors
    /// Every failure, one message each; the others are still closed.
    pub async fn close_all(&self) -> Result<(), Vec<String>> {
        let mut failures = Vec::new();
        for ns in self.all() {
            if let Err(e) = ns.close().await {
                failures.push(e);
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(failures)
        }
    }
}
