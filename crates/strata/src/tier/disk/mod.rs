//! The persistent disk tier, on [redb](https://docs.rs/redb): [`DiskTier`].
//!
//! A key → envelope store in one file that survives restarts, bounded by
//! bytes, with group commit, expiry and tag epochs. `docs/disk-tier.md`
//! describes the design and its measurements; in short:
//!
//! * **Writes** go to one writer thread that commits them in batches with
//!   `fsync`; `put` returns once its batch is durable ([`writer`]).
//! * **Reads** use redb read transactions and never wait for the writer.
//! * **Bounded** by `max_bytes` of keys plus envelopes: expired entries
//!   leave first, then the least recently used ([`evict`]).
//! * **Expiry**: lazily on `get`, by a background sweep, and for room
//!   ([`sweep`]).
//! * **Opening** reads a few counters, never the values ([`tables`]).
//!
//! ```no_run
//! # async fn run() -> Result<(), strata::TierError> {
//! use strata::tier::disk::DiskTier;
//! use strata::{Tier, TierWrite};
//!
//! let tier = DiskTier::builder("/tmp/strata-example/cache.redb")
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
mod read;
mod state;
mod sweep;
mod tables;
mod tier_impl;
mod txn;
mod verify;
mod writer;

pub use builder::{DiskConfigError, DiskTierBuilder, MAX_ENTRY_LIMIT, ReadPath};
pub use verify::VerifyReport;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::Mutex;
use redb::{Database, ReadableDatabase};
use tokio::runtime::RuntimeFlavor;
use tokio::sync::oneshot;

use state::Shared;
use tables::{Counters, FORMAT_VERSION, META, META_FORMAT, TIER, closed, map_err};
use writer::{Ack, Op, Request, Writer, WriterConfig};

use crate::tier::TierError;

/// The persistent disk tier. Cheap to clone: clones share one store.
///
/// Open it with [`DiskTier::builder`]; it implements [`Tier`](crate::Tier).
/// Call [`close`](Self::close) before exit to flush and close the file
/// cleanly; dropping the last handle without it also commits what is
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
    /// for its own answer, so the queue never holds more than one request
    /// per waiting caller.
    tx: Sender<Request>,
    writer: Mutex<Option<JoinHandle<()>>>,
    max_entry_bytes: u64,
    read_path: ReadPath,
    repaired: bool,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if !self.shared.closed.load(Ordering::Acquire) {
            // Best effort: the writer commits what is queued, then stops. If
            // it is already gone the send fails, which is fine.
            let _ = self.tx.send(Request {
                op: Op::Close,
                ack: Ack::None,
            });
        }
        if let Some(handle) = self.writer.lock().take() {
            // Waits for at most the batch in progress plus one commit. A
            // panicked writer (a bug) has nothing left to flush: ignore it.
            let _ = handle.join();
        }
    }
}

impl DiskTier {
    /// Settings for a store in the file at `path` (created, with its parent
    /// directory, if missing).
    pub fn builder(path: impl Into<PathBuf>) -> DiskTierBuilder {
        DiskTierBuilder::new(path.into())
    }

    fn open(builder: DiskTierBuilder) -> Result<Self, TierError> {
        if let Some(parent) = builder.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| TierError::Io {
                tier: TIER.to_owned(),
                source,
            })?;
        }
        let repaired = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&repaired);
        let db = Database::builder()
            .set_cache_size(builder.cache_size())
            .set_repair_callback(move |_| flag.store(true, Ordering::Relaxed))
            .create(&builder.path)
            .map_err(map_err)?;
        Self::start(builder, db, repaired.load(Ordering::Relaxed))
    }

    /// Prepares an open database and starts the writer thread. Separate from
    /// `open` so that unit tests can hand in a database on a faulty backend.
    fn start(builder: DiskTierBuilder, db: Database, repaired: bool) -> Result<Self, TierError> {
        let counters = prepare(&db)?;
        let db = Arc::new(db);
        let shared = Arc::new(Shared::new(
            Arc::clone(&db),
            Arc::clone(&builder.clock),
            counters,
            builder.max_bytes,
        ));
        let (tx, rx) = mpsc::channel();
        let writer = Writer {
            db,
            shared: Arc::clone(&shared),
            rx,
            counters,
            config: WriterConfig {
                flush_interval: builder.flush_interval,
                max_batch: builder.max_batch,
                sweep_interval: Some(builder.sweep_interval).filter(|every| !every.is_zero()),
                max_bytes: builder.max_bytes,
                quick_repair: builder.quick_repair,
            },
        };
        let handle = std::thread::Builder::new()
            .name("strata-disk-writer".to_owned())
            .spawn(move || writer.run())
            .map_err(|source| TierError::Io {
                tier: TIER.to_owned(),
                source,
            })?;
        Ok(Self {
            inner: Arc::new(Inner {
                path: builder.path.clone(),
                shared,
                tx,
                writer: Mutex::new(Some(handle)),
                max_entry_bytes: builder.entry_limit(),
                read_path: builder.read_path,
                repaired,
            }),
        })
    }

    /// The path of the database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Whether opening had to repair the file: the previous process did not
    /// close it cleanly (a crash, a kill, or a drop that could not flush).
    pub fn was_repaired(&self) -> bool {
        self.inner.repaired
    }

    /// Commits what is queued, stops the writer thread and the sweep, and
    /// closes the file cleanly (so the next open needs no repair). Later
    /// operations on any clone return [`TierError::Closed`].
    ///
    /// # Errors
    /// [`TierError::Closed`] if the tier was already closed.
    pub async fn close(&self) -> Result<(), TierError> {
        let shared = &self.inner.shared;
        if shared.closed.swap(true, Ordering::AcqRel) {
            return Err(closed());
        }
        let (tx, rx) = oneshot::channel();
        if self
            .inner
            .tx
            .send(Request {
                op: Op::Close,
                ack: Ack::Unit(tx),
            })
            .is_ok()
        {
            // An error here means the writer is gone already: nothing to wait for.
            let _ = rx.await;
        }
        let handle = self.inner.writer.lock().take();
        let db = shared.db.write().take();
        blocking(move || {
            if let Some(handle) = handle {
                // The writer answered close as its last act: this returns at once.
                let _ = handle.join();
            }
            if let Some(db) = db {
                release(db);
            }
            Ok(())
        })
        .await
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
    /// invariant checker for tests and tools. Reads every table, values
    /// included, in one read transaction (a consistent snapshot).
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

    fn send(&self, op: Op, ack: Ack) -> Result<(), TierError> {
        if self.inner.shared.closed.load(Ordering::Acquire) {
            return Err(closed());
        }
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
        f: impl FnOnce(&Database) -> Result<T, TierError> + Send + 'static,
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

/// Drops the last handle on the database once in-flight reads (which hold
/// clones for microseconds) have finished, so the file is closed when this
/// returns. Runs on a blocking thread: redb's close writes and syncs.
fn release(db: Arc<Database>) {
    let weak: Weak<Database> = Arc::downgrade(&db);
    drop(db);
    // Readers clone the Arc only while the slot holds it; the slot is empty
    // now, so the count can only fall, and it falls within microseconds
    // (a scan in flight: milliseconds). Poll rather than add a wake-up
    // mechanism to every read.
    while weak.strong_count() > 0 {
        std::thread::sleep(Duration::from_micros(100));
    }
}

/// Creates the tables of a new file, checks the layout version of an
/// existing one, and returns its counters: a read of one small table.
fn prepare(db: &Database) -> Result<Counters, TierError> {
    {
        let txn = db.begin_read().map_err(map_err)?;
        match txn.open_table(META) {
            Ok(meta) => return check_format(&meta),
            Err(redb::TableError::TableDoesNotExist(_)) => {}
            Err(error) => return Err(map_err(error)),
        }
    }
    let txn = db.begin_write().map_err(map_err)?;
    {
        let tables = txn::Txn::open(&txn, Counters::default(), 0, u64::MAX)?;
        tables.finish()?;
        let mut meta = txn.open_table(META).map_err(map_err)?;
        meta.insert(META_FORMAT, FORMAT_VERSION).map_err(map_err)?;
    }
    txn.commit().map_err(map_err)?;
    Ok(Counters::default())
}

fn check_format(meta: &impl redb::ReadableTable<&'static str, u64>) -> Result<Counters, TierError> {
    let format = meta.get(META_FORMAT).map_err(map_err)?.map(|v| v.value());
    if format != Some(FORMAT_VERSION) {
        return Err(TierError::engine(
            TIER,
            format!("unsupported disk tier layout {format:?}; this build reads {FORMAT_VERSION}"),
        ));
    }
    Counters::load(meta)
}
