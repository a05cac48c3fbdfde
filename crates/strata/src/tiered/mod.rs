//! [`TieredCache`]: the memory tier in front of any number of lower tiers,
//! with one invalidation model for all of them.
//!
//! # How a read travels
//!
//! 1. The memory tier ([`MemoryCache`]) answers at in-process speed.
//! 2. On a miss, with write-back, the writes still queued for the lower
//!    tiers are checked, so a read never sees an older value than one
//!    written before it.
//! 3. Then each lower tier in order. What a tier returns is an
//!    [envelope](crate::envelope); it is a hit only if its checksum holds, it
//!    has not expired, and no tag it carries has been invalidated since it
//!    was written (its recorded tag epochs are current). Damaged, stale and
//!    undecodable entries are misses, counted per tier and deleted.
//! 4. A hit below is promoted: into the memory tier with its remaining TTL,
//!    tags, priority, cost and metadata, and into the tiers above the one
//!    that answered, as the same bytes.
//!
//! A promotion that races an invalidation or a write of the same key is
//! discarded, not stored: the key's generation is read before the tier and
//! again after the promotion, and every invalidation and write moves it
//! before and after touching the tiers, so any overlap is seen.
//!
//! # Writes
//!
//! [`WritePolicy::WriteThrough`] writes every lower tier, then the memory
//! tier, before returning. [`WritePolicy::WriteBack`] writes the memory tier
//! now and the lower tiers through a bounded queue, flushed by
//! [`TieredCache::flush`] and [`TieredCache::close`]. Cache-aside use is the
//! plain [`get`](TieredCache::get) / [`set`](TieredCache::set) pair with the
//! loading done by the caller; read-through is
//! [`get_or_compute`](TieredCache::get_or_compute), which runs its loader
//! only when every tier misses, once per key at a time.
//!
//! # Invalidation
//!
//! By key (deleted from every tier), by tag (one epoch bump per tier, O(1);
//! older envelopes are stale on read and dropped lazily; the memory tier
//! drops its tagged entries at once), by prefix and by glob pattern (a scan
//! of each tier's keys).

mod backplane;
mod builder;
mod epochs;
mod error;
mod flight;
mod generation;
mod invalidate;
mod private;
mod read;
mod resync;
mod stats;
mod write;
mod write_back;

pub use backplane::{Backplane, BackplaneEvent, BackplaneMessage};
pub use builder::{DEFAULT_EPOCH_REFRESH, DEFAULT_MAX_VALUE_BYTES, TieredCacheBuilder};
pub use error::CacheError;
pub use invalidate::Invalidation;
pub use stats::{BackplaneReport, TierReport, TieredStats, WriteBackReport};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::clock::WallClock;
use crate::envelope::{Codec, CompressionLevel};
use crate::memory::MemoryCache;
use crate::tier::{Tier, TierHealth};
use epochs::Epochs;
use flight::Flights;
use generation::Generations;
use stats::TierCounters;
use write_back::WriteBack;

/// How writes reach the lower tiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum WritePolicy {
    /// Every lower tier is written before the call returns; then the memory
    /// tier. A failure of any tier fails the call, after removing the key
    /// from every tier that can be reached, so no tier keeps serving the
    /// value the write meant to replace.
    #[default]
    WriteThrough,
    /// The memory tier is written now; the lower tiers from a queue of at
    /// most `queue` writes, in batches, by a background task. Reads see
    /// queued writes. When the queue is full, the caller writes through
    /// itself (counted as an overflow): the queue bounds memory and never
    /// drops a write. [`TieredCache::close`] flushes the queue.
    WriteBack {
        /// The most writes waiting at once.
        queue: usize,
    },
}

/// A multi-level cache: a [`MemoryCache`] in front of lower [`Tier`]s.
///
/// Keys are strings; values are any `V` that serde can encode (for the
/// lower tiers) and that is cheap to clone (for the memory tier: wrap large
/// values in an `Arc`). Cloning the cache is cheap and shares it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use strata::{EntryOptions, MemoryCache, TieredCache};
///
/// let memory = MemoryCache::builder().max_entries(10_000).build()?;
/// let cache: TieredCache<String> = TieredCache::builder(memory).build()?;
///
/// cache.set_with("user:42", "Ada".to_string(), EntryOptions::new().with_tag("users")).await?;
/// assert_eq!(cache.get("user:42").await.as_deref(), Some("Ada"));
///
/// let name = cache
///     .get_or_compute("user:7", EntryOptions::new(), || async {
///         Ok::<_, std::io::Error>("Grace".to_string())
///     })
///     .await?;
/// assert_eq!(name, "Grace");
///
/// cache.invalidate_tag("users").await?;
/// assert_eq!(cache.get("user:42").await, None);
/// # Ok(()) }
/// ```
pub struct TieredCache<V> {
    shared: Arc<Shared<V>>,
}

impl<V> Clone for TieredCache<V> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

/// Everything one cache's clones share.
pub(crate) struct Shared<V> {
    memory: MemoryCache<String, V>,
    tiers: Vec<Arc<dyn Tier>>,
    counters: Arc<[TierCounters]>,
    codec: Codec,
    compression: CompressionLevel,
    max_value_bytes: u64,
    clock: Arc<dyn WallClock>,
    epochs: Epochs,
    generations: Generations,
    flights: Flights<V>,
    write_back: Option<WriteBack>,
    misses: AtomicU64,
    discarded_fills: AtomicU64,
    loads: AtomicU64,
    /// Times a tier's recovery cleared the memory tier (see `resync`).
    resyncs: AtomicU64,
    closed: AtomicBool,
    /// Where mutations are published for other instances, if anywhere.
    bus: backplane::Bus,
    /// The lower tiers only this instance uses, which other instances'
    /// invalidations reach through a task of their own; `None` without a
    /// backplane or without private tiers.
    private: Option<private::PrivateTiers>,
}

impl<V> Shared<V>
where
    V: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
{
    fn new(
        memory: MemoryCache<String, V>,
        tiers: Vec<Arc<dyn Tier>>,
        codec: Codec,
        compression: CompressionLevel,
        max_value_bytes: u64,
        clock: Arc<dyn WallClock>,
        epoch_refresh: std::time::Duration,
    ) -> Self {
        let counters = tiers.iter().map(|_| TierCounters::default()).collect();
        Self {
            memory,
            tiers,
            counters,
            codec,
            compression,
            max_value_bytes,
            epochs: Epochs::new(clock.clone(), epoch_refresh),
            clock,
            generations: Generations::new(),
            flights: Flights::new(),
            write_back: None,
            misses: AtomicU64::new(0),
            discarded_fills: AtomicU64::new(0),
            loads: AtomicU64::new(0),
            resyncs: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            bus: backplane::Bus::default(),
            private: None,
        }
    }

    fn check_open(&self) -> Result<(), CacheError> {
        if self.closed.load(Ordering::Acquire) {
            Err(CacheError::Closed)
        } else {
            Ok(())
        }
    }
}

impl<V> TieredCache<V>
where
    V: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
{
    /// A builder over `memory`, the memory tier.
    pub fn builder(memory: MemoryCache<String, V>) -> TieredCacheBuilder<V> {
        TieredCacheBuilder::new(memory)
    }

    fn start(
        mut shared: Shared<V>,
        policy: WritePolicy,
        backplane: Option<backplane::SharedBackplane>,
    ) -> Self {
        let events = backplane.as_ref().and_then(|b| b.take_events());
        shared.bus.backplane = backplane;
        // Only other instances' invalidations and losses need the private
        // tiers' task: a lone cache (no backplane) never queues a job, but
        // a tier's recovery does, so it depends on the recoveries too.
        let needs_private =
            events.is_some() || shared.tiers.iter().any(|t| t.recoveries().is_some());
        let private_jobs = if needs_private {
            private::PrivateTiers::of(&shared.tiers).map(|(private, jobs)| {
                shared.private = Some(private);
                jobs
            })
        } else {
            None
        };
        if let WritePolicy::WriteBack { queue } = policy {
            shared.write_back = Some(WriteBack::start(
                queue,
                shared.tiers.clone(),
                Arc::clone(&shared.counters),
                shared.bus.clone(),
            ));
        }
        let shared = Arc::new(shared);
        if let Some(jobs) = private_jobs {
            tokio::spawn(private::run(Arc::downgrade(&shared), jobs));
        }
        if let Some(events) = events {
            tokio::spawn(backplane::listen(Arc::downgrade(&shared), events));
        }
        for recoveries in shared.tiers.iter().filter_map(|t| t.recoveries()) {
            tokio::spawn(resync::watch_recoveries(
                Arc::downgrade(&shared),
                recoveries,
            ));
        }
        Self { shared }
    }

    /// The memory tier.
    pub fn memory(&self) -> &MemoryCache<String, V> {
        &self.shared.memory
    }

    /// The lower tiers' names, in read order.
    pub fn tier_names(&self) -> Vec<String> {
        self.shared
            .tiers
            .iter()
            .map(|t| t.name().to_owned())
            .collect()
    }

    /// Each lower tier's health, in read order.
    pub async fn health(&self) -> Vec<(String, TierHealth)> {
        let mut out = Vec::with_capacity(self.shared.tiers.len());
        for tier in &self.shared.tiers {
            out.push((tier.name().to_owned(), tier.health().await));
        }
        out
    }

    /// A snapshot of the cache's figures, asking every tier for its own.
    pub async fn stats(&self) -> TieredStats {
        let started = Instant::now();
        let s = &self.shared;
        let memory = s.memory.stats();
        let mut tiers = Vec::with_capacity(s.tiers.len());
        for (tier, counters) in s.tiers.iter().zip(s.counters.iter()) {
            tiers.push(counters.report(tier.name(), tier.stats(), tier.health().await));
        }
        TieredStats {
            memory_hits: memory.hits,
            memory_misses: memory.misses,
            memory_entries: memory.entries,
            tiers,
            misses: s.misses.load(Ordering::Relaxed),
            discarded_fills: s.discarded_fills.load(Ordering::Relaxed),
            loads: s.loads.load(Ordering::Relaxed),
            resyncs: s.resyncs.load(Ordering::Relaxed),
            write_back: s.write_back.as_ref().map(WriteBack::report),
            backplane: s.bus.backplane.as_ref().map(|b| BackplaneReport {
                transport: b.transport(),
                published: s.bus.counters.published.get(),
                publish_errors: s.bus.counters.publish_errors.get(),
                received: s.bus.counters.received.get(),
                lost: s.bus.counters.lost.get(),
                local_tier_errors: s.bus.counters.local_tier_errors.get(),
            }),
            gathered_in: started.elapsed(),
        }
    }

    /// Writes every queued write-back entry to the lower tiers and asks each
    /// tier to make its acknowledged writes durable.
    ///
    /// # Errors
    /// [`CacheError::Tier`] naming the first tier that failed to flush.
    pub async fn flush(&self) -> Result<(), CacheError> {
        if let Some(wb) = &self.shared.write_back {
            wb.flush().await;
        }
        for tier in &self.shared.tiers {
            tier.flush()
                .await
                .map_err(|e| CacheError::tier(tier.name(), e))?;
        }
        Ok(())
    }

    /// Flushes (as [`flush`](Self::flush)), stops the write-back task and
    /// refuses further writes with [`CacheError::Closed`]. Reads keep
    /// working from the memory tier and any tier still open. Closing twice
    /// is harmless.
    ///
    /// # Errors
    /// As [`flush`](Self::flush).
    pub async fn close(&self) -> Result<(), CacheError> {
        self.shared.closed.store(true, Ordering::Release);
        if let Some(wb) = &self.shared.write_back {
            wb.close().await;
        }
        self.flush().await
    }
}
