//! What the tier's handles, its readers and its writer thread share: the
//! database handle, the clock, recorded reads, counters and health.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::{Mutex, RwLock};

use super::evict::Touches;
use super::store::Store;
use super::tables::{Counters, closed};
use crate::WallClock;
use crate::tier::{TierError, TierHealth, TierStats};

/// State shared by every handle and the writer thread.
pub(super) struct Shared {
    /// The open store; `None` once closed. Behind a lock only so that
    /// `close` can take it out and let the file close while handles remain:
    /// readers hold the read lock just long enough to clone the `Arc`
    /// (parking_lot's `RwLock`: no poisoning, and an uncontended read lock is
    /// one atomic operation).
    pub(super) db: RwLock<Option<Arc<Store>>>,
    pub(super) clock: Arc<dyn WallClock>,
    pub(super) touches: Touches,
    pub(super) stats: Stats,
    /// Set by `close` (and never cleared): later operations return `Closed`.
    pub(super) closed: AtomicBool,
    /// Why the last transaction failed, until one succeeds.
    failure: Mutex<Option<TierHealth>>,
    /// Fault injection for tests: how many more commits succeed before
    /// every commit fails (`u64::MAX`: no failures).
    #[cfg(test)]
    pub(super) commits_left: Arc<AtomicU64>,
}

impl Shared {
    pub(super) fn new(
        db: Arc<Store>,
        clock: Arc<dyn WallClock>,
        counters: Counters,
        max_bytes: u64,
    ) -> Self {
        let stats = Stats {
            max_bytes,
            ..Stats::default()
        };
        stats.publish(counters, 0, 0);
        // publish() counts a commit; opening is not one.
        stats.commits.store(0, Ordering::Relaxed);
        Self {
            db: RwLock::new(Some(db)),
            clock,
            touches: Touches::default(),
            stats,
            closed: AtomicBool::new(false),
            failure: Mutex::new(None),
            #[cfg(test)]
            commits_left: Arc::new(AtomicU64::new(u64::MAX)),
        }
    }

    /// The database, or `Closed`.
    pub(super) fn db(&self) -> Result<Arc<Store>, TierError> {
        self.db.read().clone().ok_or_else(closed)
    }

    /// Notes that a transaction failed: an I/O error makes the tier `Down`
    /// (the disk is failing or full; fjall refuses further writes after a
    /// failed journal write), anything else `Degraded`.
    pub(super) fn record_failure(&self, error: &TierError) {
        let health = match error {
            TierError::Io { .. } => TierHealth::Down(format!("last commit failed: {error}")),
            _ => TierHealth::Degraded(format!("last commit failed: {error}")),
        };
        *self.failure.lock() = Some(health);
    }

    /// Notes that a transaction committed: the tier is healthy again.
    pub(super) fn clear_failure(&self) {
        let mut failure = self.failure.lock();
        if failure.is_some() {
            *failure = None;
        }
    }

    /// The tier's health now.
    pub(super) fn health(&self) -> TierHealth {
        if self.closed.load(Ordering::Acquire) {
            return TierHealth::Down("closed".to_owned());
        }
        self.failure.lock().clone().unwrap_or(TierHealth::Healthy)
    }
}

/// The counters behind [`TierStats`]. Written only by the writer thread after
/// each commit, read by anyone; `Relaxed` because each value is a gauge or a
/// counter read on its own, never used to order other memory.
#[derive(Debug, Default)]
pub(super) struct Stats {
    max_bytes: u64,
    entries: AtomicU64,
    bytes: AtomicU64,
    evictions: AtomicU64,
    expirations: AtomicU64,
    commits: AtomicU64,
}

impl Stats {
    /// Publishes the state after a commit.
    pub(super) fn publish(&self, counters: Counters, evictions: u64, expirations: u64) {
        self.entries.store(counters.entries, Ordering::Relaxed);
        self.bytes.store(counters.bytes, Ordering::Relaxed);
        self.evictions.fetch_add(evictions, Ordering::Relaxed);
        self.expirations.fetch_add(expirations, Ordering::Relaxed);
        self.commits.fetch_add(1, Ordering::Relaxed);
    }

    /// A snapshot for [`Tier::stats`](crate::Tier::stats).
    pub(super) fn snapshot(&self) -> TierStats {
        TierStats {
            entries: self.entries.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            capacity_bytes: Some(self.max_bytes),
            evictions: self.evictions.load(Ordering::Relaxed),
            expirations: self.expirations.load(Ordering::Relaxed),
            commits: self.commits.load(Ordering::Relaxed),
        }
    }
}
