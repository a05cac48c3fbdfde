//! `get_or_compute` and friends: read through the cache, running a loader on
//! a miss, once per key at a time however many callers miss together (see
//! [`flight`](super::flight)).
//!
//! The loader's result is written with the given options; if no cost was
//! given, the time the loader took is recorded as the entry's cost (the
//! `Hybrid` policy uses it). A failed loader's error goes to the caller and to
//! every caller waiting on the same flight, and nothing is cached. A value
//! that cannot be cached (heavier than the whole cache) is still returned.

use std::convert::Infallible;
use std::hash::Hash;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::MemoryCache;
use super::flight::{LeaderGuard, Outcome, Role};
use super::removal::Removals;
use super::tally::Count;
use crate::options::EntryOptions;

/// What a waiter makes of a finished flight: `None` means try again.
fn settle<V, E: Send + Sync + 'static>(outcome: Outcome<V>) -> Option<Result<V, Arc<E>>> {
    match outcome {
        Outcome::Ready(value) => Some(Ok(value)),
        // An error of another call site's type cannot be returned here.
        Outcome::Failed(error) => error.downcast::<E>().ok().map(Err),
        Outcome::Running | Outcome::Abandoned => None,
    }
}

impl<K, V> MemoryCache<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Caches and publishes what the leader's loader produced.
    fn land<E: Send + Sync + 'static>(
        &self,
        guard: LeaderGuard<'_, K, V>,
        key: K,
        options: EntryOptions,
        took: Duration,
        result: Result<V, E>,
    ) -> Result<V, Arc<E>> {
        match result {
            Ok(value) => {
                // Too heavy to cache: still the caller's (and waiters') value.
                let mut removals = Removals::new();
                let _ = self.inner.write_quietly(
                    key,
                    value.clone(),
                    Some(options.or_cost(took)),
                    &mut removals,
                );
                // Finish the flight before the listener runs: a listener that
                // reads this key (it may have been evicted at once) would
                // otherwise wait on this very flight.
                guard.finish(Outcome::Ready(value.clone()));
                self.inner.notify(removals);
                Ok(value)
            }
            Err(error) => {
                let error = Arc::new(error);
                guard.finish(Outcome::Failed(error.clone()));
                Err(error)
            }
        }
    }

    /// The value of `key`, computing it with `loader` on a miss. Concurrent
    /// callers for the same missing key run one loader and share its value.
    pub fn get_or_compute(&self, key: K, loader: impl FnOnce() -> V) -> V {
        self.get_or_compute_with(key, EntryOptions::default(), loader)
    }

    /// [`get_or_compute`](Self::get_or_compute), writing with `options`.
    pub fn get_or_compute_with(
        &self,
        key: K,
        options: EntryOptions,
        loader: impl FnOnce() -> V,
    ) -> V {
        match self.try_get_or_compute_with(key, options, || Ok::<_, Infallible>(loader())) {
            Ok(value) => value,
            Err(never) => match *never {},
        }
    }

    /// The value of `key`, computing it with a loader that may fail.
    ///
    /// # Errors
    /// The loader's error, shared with every caller that waited on the same
    /// load. Errors are not cached: the next call loads again.
    pub fn try_get_or_compute<E: Send + Sync + 'static>(
        &self,
        key: K,
        loader: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, Arc<E>> {
        self.try_get_or_compute_with(key, EntryOptions::default(), loader)
    }

    /// [`try_get_or_compute`](Self::try_get_or_compute), writing with
    /// `options`.
    ///
    /// # Errors
    /// As [`try_get_or_compute`](Self::try_get_or_compute).
    pub fn try_get_or_compute_with<E: Send + Sync + 'static>(
        &self,
        key: K,
        options: EntryOptions,
        loader: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, Arc<E>> {
        let inner = &self.inner;
        let hash = inner.hash(&key);
        let idx = inner.shard_of(hash);
        loop {
            if let Some(value) = inner.get_hashed(hash, &key) {
                return Ok(value);
            }
            match inner.flights.join_or_lead(idx, hash, &key) {
                Role::Follower(flight) => {
                    inner.count(Count::LoadWaits);
                    if let Some(result) = settle(flight.wait()) {
                        return result;
                    }
                }
                Role::Leader(guard) => {
                    // A flight that ended just before we registered wrote its
                    // value before deregistering: look once more.
                    if let Some(value) = inner.peek_hashed(hash, &key) {
                        guard.finish(Outcome::Ready(value.clone()));
                        return Ok(value);
                    }
                    let started = Instant::now();
                    let result = loader();
                    return self.land(guard, key, options, started.elapsed(), result);
                }
            }
        }
    }

    /// The value of `key`, awaiting `init` on a miss. Concurrent callers
    /// (sync or async) for the same missing key share one load. If the
    /// leading caller's future is dropped, a waiting caller takes over.
    #[cfg(feature = "tokio")]
    pub async fn get_or_compute_async(
        &self,
        key: K,
        init: impl std::future::Future<Output = V>,
    ) -> V {
        self.get_or_compute_async_with(key, EntryOptions::default(), init)
            .await
    }

    /// [`get_or_compute_async`](Self::get_or_compute_async), writing with
    /// `options`.
    #[cfg(feature = "tokio")]
    pub async fn get_or_compute_async_with(
        &self,
        key: K,
        options: EntryOptions,
        init: impl std::future::Future<Output = V>,
    ) -> V {
        let init = async { Ok::<_, Infallible>(init.await) };
        match self.try_get_or_compute_async_with(key, options, init).await {
            Ok(value) => value,
            Err(never) => match *never {},
        }
    }

    /// The value of `key`, awaiting a fallible `init` on a miss.
    ///
    /// # Errors
    /// As [`try_get_or_compute`](Self::try_get_or_compute).
    #[cfg(feature = "tokio")]
    pub async fn try_get_or_compute_async<E: Send + Sync + 'static>(
        &self,
        key: K,
        init: impl std::future::Future<Output = Result<V, E>>,
    ) -> Result<V, Arc<E>> {
        self.try_get_or_compute_async_with(key, EntryOptions::default(), init)
            .await
    }

    /// [`try_get_or_compute_async`](Self::try_get_or_compute_async), writing
    /// with `options`.
    ///
    /// # Errors
    /// As [`try_get_or_compute`](Self::try_get_or_compute).
    #[cfg(feature = "tokio")]
    pub async fn try_get_or_compute_async_with<E: Send + Sync + 'static>(
        &self,
        key: K,
        options: EntryOptions,
        init: impl std::future::Future<Output = Result<V, E>>,
    ) -> Result<V, Arc<E>> {
        let inner = &self.inner;
        let hash = inner.hash(&key);
        let idx = inner.shard_of(hash);
        loop {
            if let Some(value) = inner.get_hashed(hash, &key) {
                return Ok(value);
            }
            match inner.flights.join_or_lead(idx, hash, &key) {
                Role::Follower(flight) => {
                    inner.count(Count::LoadWaits);
                    if let Some(result) = settle(flight.wait_async().await) {
                        return result;
                    }
                }
                Role::Leader(guard) => {
                    if let Some(value) = inner.peek_hashed(hash, &key) {
                        guard.finish(Outcome::Ready(value.clone()));
                        return Ok(value);
                    }
                    let started = Instant::now();
                    let result = init.await;
                    return self.land(guard, key, options, started.elapsed(), result);
                }
            }
        }
    }
}
