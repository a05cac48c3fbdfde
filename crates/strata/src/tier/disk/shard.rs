//! One store: a fjall database in one directory, its writer thread and its
//! readers. [`DiskTier`](super::DiskTier) spreads keys over several.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;

use parking_lot::Mutex;
use tokio::runtime::RuntimeFlavor;
use tokio::sync::oneshot;

use super::builder::ReadPath;
use super::request::{Ack, Op, Request};
use super::state::Shared;
use super::tables::{TIER, closed};
use super::verify::{self, VerifyReport};
use super::{Recovery, store, sweep};

use crate::tier::TierError;

/// One store of the tier. Cheap to clone: clones share the store.
#[derive(Clone)]
pub(super) struct Shard {
    pub(super) inner: Arc<Inner>,
}

/// One open store. Dropping it stops the writer thread.
pub(super) struct Inner {
    pub(super) shared: Arc<Shared>,
    /// To the writer thread. `std::sync::mpsc` because the writer is a plain
    /// thread that needs `recv_timeout`; unbounded, because each sender waits
    /// for its own answer, so the queue holds at most one request per
    /// waiting caller (plus lazy-expiry deletes, which do not wait: a few
    /// bytes each, one per read of an expired entry).
    pub(super) tx: Sender<Request>,
    pub(super) writer: Mutex<Option<JoinHandle<()>>>,
    pub(super) max_entry_bytes: u64,
    pub(super) read_path: ReadPath,
    pub(super) recovery: Option<Recovery>,
}

impl Shard {
    /// Whether this open found the store damaged and started a new one,
    /// and where the old one went. `None` after a normal open.
    pub(super) fn recovery(&self) -> Option<&Recovery> {
        self.inner.recovery.as_ref()
    }

    /// Removes every expired entry now, in bounded transactions, and returns
    /// how many it removed. The background sweep does the same every
    /// `sweep_interval`.
    ///
    /// # Errors
    /// [`TierError`] when the store cannot be written.
    pub(super) async fn sweep_now(&self) -> Result<u64, TierError> {
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
    pub(super) async fn verify(&self) -> Result<VerifyReport, TierError> {
        let db = self.inner.shared.db()?;
        blocking(move || verify::verify(&db)).await
    }

    /// Sends `op` to the writer and waits for its count.
    pub(super) async fn request_count(&self, op: Op) -> Result<u64, TierError> {
        let (tx, rx) = oneshot::channel();
        self.send(op, Ack::Count(tx))?;
        rx.await.map_err(|_| self.stopped())?
    }

    /// Sends `op` to the writer and waits for it to commit.
    pub(super) async fn request_unit(&self, op: Op) -> Result<(), TierError> {
        let (tx, rx) = oneshot::channel();
        self.send(op, Ack::Unit(tx))?;
        rx.await.map_err(|_| self.stopped())?
    }

    /// `Closed` once [`close`](Self::close) has been called.
    pub(super) fn check_open(&self) -> Result<(), TierError> {
        if self.inner.shared.closed.load(Ordering::Acquire) {
            Err(closed())
        } else {
            Ok(())
        }
    }

    pub(super) fn send(&self, op: Op, ack: Ack) -> Result<(), TierError> {
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
    pub(super) async fn read<T: Send + 'static>(
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
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, TierError> + Send + 'static,
) -> Result<T, TierError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|error| TierError::engine(TIER, error))?
}
