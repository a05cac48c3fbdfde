//! Opening and closing: the file, the tables of a new store, the writer
//! thread, and releasing all of it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use redb::{Database, ReadableDatabase, ReadableTable};
use tokio::sync::oneshot;

use super::builder::DiskTierBuilder;
use super::state::Shared;
use super::tables::{Counters, FORMAT_VERSION, META, META_FORMAT, TIER, closed, map_err};
use super::txn::Txn;
use super::writer::{Writer, WriterConfig};
use super::{Ack, DiskTier, Inner, Op, Request, blocking};
use crate::tier::TierError;

impl DiskTier {
    pub(super) fn open(builder: DiskTierBuilder) -> Result<Self, TierError> {
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
    pub(super) fn start(
        builder: DiskTierBuilder,
        db: Database,
        repaired: bool,
    ) -> Result<Self, TierError> {
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
        let tables = Txn::open(&txn, Counters::default(), 0, u64::MAX)?;
        tables.finish()?;
        let mut meta = txn.open_table(META).map_err(map_err)?;
        meta.insert(META_FORMAT, FORMAT_VERSION).map_err(map_err)?;
    }
    txn.commit().map_err(map_err)?;
    Ok(Counters::default())
}

fn check_format(meta: &impl ReadableTable<&'static str, u64>) -> Result<Counters, TierError> {
    let format = meta.get(META_FORMAT).map_err(map_err)?.map(|v| v.value());
    if format != Some(FORMAT_VERSION) {
        return Err(TierError::engine(
            TIER,
            format!("unsupported disk tier layout {format:?}; this build reads {FORMAT_VERSION}"),
        ));
    }
    Counters::load(meta)
}
