//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test file uses a different subset

use std::sync::{Arc, Mutex};

#[cfg(feature = "redis")]
pub(crate) mod backplane;
#[cfg(feature = "redis")]
pub(crate) mod proxy;
#[cfg(feature = "redis")]
pub(crate) mod redis_server;
#[cfg(feature = "tiers")]
pub(crate) mod tiers;

use strata::RemovalCause;

/// A removal listener that records what it is told.
#[derive(Clone, Default)]
pub(crate) struct Removed<K, V>(Arc<Mutex<Vec<(K, V, RemovalCause)>>>);

impl<K: Send + 'static, V: Send + 'static> Removed<K, V> {
    pub(crate) fn listener(&self) -> impl Fn(K, V, RemovalCause) + Send + Sync + 'static {
        let sink = Arc::clone(&self.0);
        move |k, v, cause| sink.lock().expect("listener lock").push((k, v, cause))
    }

    /// Everything recorded since the last call.
    pub(crate) fn take(&self) -> Vec<(K, V, RemovalCause)> {
        std::mem::take(&mut *self.0.lock().expect("listener lock"))
    }
}
