//! The persistent disk tier, on [fjall](https://docs.rs/fjall): [`DiskTier`].
//!
//! A key → envelope store in one directory that survives restarts, bounded
//! by bytes, with group commit, expiry and tag epochs. `docs/disk-tier.md`
//! describes the design and its measurements, and `docs/disk-engines.md`
//! why fjall (an LSM tree) rather than redb (a B-tree); in short:
//!
//! * **Writes** go to one writer thread that commits them in batches, one
//!   journal `fdatasync` per batch; `put` returns once its batch is durable.
//! * **Reads** read the latest committed state and never wait for the
//!   writer.
//! * **Bounded** by `max_bytes` of keys plus envelopes: expired entries
//!   leave first, then the least recently used.
//! * **Expiry**: lazily on `get`, by a background sweep, and for room.
//! * **Opening** replays at most `max_journal_bytes` of journal and reads a
//!   few counters, never the values.
//!
//! ```no_run
//! # async fn run() -> Result<(), strata::TierError> {
//! use strata::tier::disk::DiskTier;
//! use strata::{Tier, TierWrite};
//!
//! let tier = DiskTier::builder("/tmp/strata-example/cache")
//!     .max_bytes(256 << 20)
//!     .open()?;
//! tier.put(TierWrite { key: "k".into(), bytes: b"envelope".to_vec(), expires_at_ms: None })
//!     .await?;
//! assert_eq!(tier.get("k").await?.as_deref(), Some(&b"envelope"[..]));
//! tier.close().await?;
//! # Ok(()) }
//! ```

mod builder;
mod evict;
#[cfg(test)]
mod faults;
mod lifecycle;
mod read;
mod request;
mod state;
mod store;
mod sweep;
mod tables;
mod tier_impl;
mod txn;
mod verify;
mod writer;

pub use builder::{
    DiskConfigError, DiskTierBuilder, MAX_ENTRY_LIMIT, MAX_KEY_BYTES, OnDamage, ReadPath,
};
pub use verify::VerifyReport;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;

use parking_lot::Mutex;
use tokio::runtime::RuntimeFlavor;
use tokio::sync::oneshot;

use request::{Ack, Op, Request};
use state::Shared;
use tables::{TIER, closed};

use crate::tier::TierError;

/// The persistent disk tier. Cheap to clone: clones share one store.
///
/// Open it with [`DiskTier::builder`]; it implements [`Tier`](crate::Tier).
/// Call [`close`](Self::close) before exit to commit what is queued and
/// close the store; dropping the last handle without it also commits what is
/// queued, best effort.
#[derive(Clone)]
pub struct DiskTier {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for DiskTier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskTier")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

/// One open store. Dropping it stops the writer thread.
struct Inner {
    path: PathBuf,
    shared: Arc<Shared>,
    /// To the writer thread. `std::sync::mpsc` because the writer is a plain
    /// thread that needs `recv_timeout`; unbounded, because each sender waits
    /// for its own answer, so the queue holds at most one request per
    /// waiting caller (plus lazy-expiry deletes, which do not wait: a few
    /// bytes each, one per read of an expired entry).
    tx: Sender<Request>,
    writer: Mutex<Option<JoinHandle<()>>>,
    max_entry_bytes: u64,
    read_path: ReadPath,
    recovery: Option<Recovery>,
}

/// What opening did with a damaged store (see [`OnDamage::MoveAside`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Recovery {
    /// Where the damaged directory now is.
    pub moved_to: PathBuf,
    /// The engine's account of the damage.
    pub reason: String,
}

impl DiskTier {
    /// Settings for a store in the directory `path` (created, with its
    /// parents, if missing). The directory belongs to the tier: put nothing
    /// else in it.
    pub fn builder(path: impl Into<PathBuf>) -> DiskTierBuilder {
        DiskTierBuilder::new(path.into())
    }

    /// The directory of the store.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Whether this open found the store damaged and started a new one,
    /// and where the old one went. `None` after a normal open.
    pub fn recovery(&self) -> Option<&Recovery> {
        self.inner.recovery.as_ref()
    }

    /// Removes every expired entry now, in bounded transactions, and returns
    /// how many it removed. The background sweep does the same every
    /// `sweep_interval`.
    ///
    /// # Errors
    /// [`TierError`] when the store cannot be written.
    pub async fn sweep_now(&self) -> Result<u64, TierError> {
        let mut total = 0;
        loop {
            let removed = self.request_count(Op::Sweep).await?;
            total += removed;
            if removed < sweep::SWEEP_BATCH {
                return Ok(total);
            }
        }
    }

    /// Recounts the store and checks that its tables and counters agree: the
    /// invariant checker for tests and tools. Reads every keyspace, values
    /// included, in one snapshot.
    ///
    /// # Errors
    /// [`TierError`] when the store cannot be read (a corrupt record is a
    /// read error, not a problem in the report).
    pub async fn verify(&self) -> Result<VerifyReport, TierError> {
        let db = self.inner.shared.db()?;
        blocking(move || verify::verify(&db)).await
    }

    /// Sends `op` to the writer and waits for its count.
    async fn request_count(&self, op: Op) -> Result<u64, TierError> {
        let (tx, rx) = oneshot::channel();
        self.send(op, Ack::Count(tx))?;
        rx.await.map_err(|_| self.stopped())?
    }

    /// Sends `op` to the writer and waits for it to commit.
    async fn request_unit(&self, op: Op) -> Result<(), TierError> {
        let (tx, rx) = oneshot::channel();
        self.send(op, Ack::Unit(tx))?;
        rx.await.map_err(|_| self.stopped())?
    }

    /// `Closed` once [`close`](Self::close) has been called.
    fn check_open(&self) -> Result<(), TierError> {
        if self.inner.shared.closed.load(Ordering::Acquire) {
            Err(closed())
        } else {
            Ok(())
        }
    }

    fn send(&self, op: Op, ack: Ack) -> Result<(), TierError> {
        self.check_open()?;
        self.inner
            .tx
            .send(Request { op, ack })
            .map_err(|_| self.stopped())
    }

    /// The error for a request the writer dropped unanswered.
    fn stopped(&self) -> TierError {
        if self.inner.shared.closed.load(Ordering::Acquire) {
            closed()
        } else {
            TierError::Unavailable {
                tier: TIER.to_owned(),
                reason: "the writer thread has stopped".to_owned(),
            }
        }
    }

    /// Runs a read as the configured [`ReadPath`] says.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&store::Store) -> Result<T, TierError> + Send + 'static,
    ) -> Result<T, TierError> {
        let db = self.inner.shared.db()?;
        let flavor = tokio::runtime::Handle::try_current().map(|handle| handle.runtime_flavor());
        match (self.inner.read_path, flavor) {
            (ReadPath::Inline, _) => f(&db),
            // Not polled by tokio: there is no executor of ours to protect,
            // and spawn_blocking would panic.
            (_, Err(_)) => f(&db),
            // block_in_place hands this worker's other tasks to another
            // thread and runs the read here, without a hand-off of the read
            // itself. It panics on the current-thread runtime, hence the
            // flavour check (the only flavour on which it works).
            (ReadPath::Auto, Ok(RuntimeFlavor::MultiThread)) => {
                tokio::task::block_in_place(move || f(&db))
            }
            (ReadPath::Auto | ReadPath::Blocking, Ok(_)) => blocking(move || f(&db)).await,
        }
    }
}

/// Runs `f` on tokio's blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, TierError> + Send + 'static,
) -> Result<T, TierError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|error| TierError::engine(TIER, error))?
}
