//! Opening and closing: the file, the tables of a new store, the writer
//! thread, and releasing all of it.

use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::{Arc, Weak};
use std::time::Duration;

use fjall::Readable;
use parking_lot::Mutex;
use tokio::sync::oneshot;

use super::Recovery;
use super::builder::{DiskTierBuilder, OnDamage};
use super::request::{Ack, Op, Request};
use super::shard::{Inner, Shard, blocking};
use super::state::Shared;
use super::store::{self, Store};
use super::tables::{Counters, FORMAT_VERSION, META_FORMAT, TIER, closed, map_err};
use super::txn::{Cursors, Txn};
use super::writer::{Writer, WriterConfig};
use crate::tier::TierError;

impl Shard {
    /// Opens the store in `builder.path` (one shard's directory) and
    /// starts its writer thread.
    pub(super) fn open(builder: DiskTierBuilder) -> Result<Self, TierError> {
        std::fs::create_dir_all(&builder.path).map_err(|source| TierError::Io {
            tier: TIER.to_owned(),
            source,
        })?;
        let (store, recovery) = open_or_move_aside(&builder)?;
        let counters = prepare(&store)?;
        let db = Arc::new(store);
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
            cursors: Cursors::default(),
            config: WriterConfig {
                flush_interval: builder.flush_interval,
                max_batch: builder.max_batch,
                sweep_interval: Some(builder.sweep_interval).filter(|every| !every.is_zero()),
                max_bytes: builder.max_bytes,
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
                shared,
                tx,
                writer: Mutex::new(Some(handle)),
                max_entry_bytes: builder.entry_limit(),
                read_path: builder.read_path,
                recovery,
            }),
        })
    }

    /// Commits what is queued, stops the writer thread and the sweep, and
    /// closes the store (fjall stops its workers and syncs its journal; the
    /// next open replays the journal, as after a crash). Later
    /// operations on any clone return [`TierError::Closed`].
    ///
    /// # Errors
    /// [`TierError::Closed`] if the tier was already closed.
    pub(super) async fn close(&self) -> Result<(), TierError> {
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

/// Opens the store; a damaged one is moved aside and replaced by a new one
/// when the builder says so.
fn open_or_move_aside(builder: &DiskTierBuilder) -> Result<(Store, Option<Recovery>), TierError> {
    let options = builder.store_options();
    let error = match Store::open(&builder.path, options) {
        Ok(store) => return Ok((store, None)),
        Err(error) => error,
    };
    if builder.on_damage == OnDamage::Fail || !store::is_damage(&error) {
        return Err(map_err(error));
    }
    let reason = error.to_string();
    let mut name = builder.path.file_name().unwrap_or_default().to_owned();
    name.push(format!(".damaged-{}", builder.clock.unix_millis()));
    let moved_to = builder.path.with_file_name(name);
    let io = |source| TierError::Io {
        tier: TIER.to_owned(),
        source,
    };
    std::fs::rename(&builder.path, &moved_to).map_err(io)?;
    std::fs::create_dir_all(&builder.path).map_err(io)?;
    let store = Store::open(&builder.path, options).map_err(map_err)?;
    Ok((store, Some(Recovery { moved_to, reason })))
}

/// Drops the last handle on the store once in-flight reads (which hold
/// clones for microseconds) have finished, so that fjall has stopped its
/// workers and synced its journal when this returns. Runs on a blocking
/// thread: fjall's shutdown joins threads and syncs.
fn release(db: Arc<Store>) {
    let weak: Weak<Store> = Arc::downgrade(&db);
    drop(db);
    // Readers clone the Arc only while the slot holds it; the slot is empty
    // now, so the count can only fall, and it falls within microseconds
    // (a scan in flight: milliseconds). Poll rather than add a wake-up
    // mechanism to every read.
    while weak.strong_count() > 0 {
        std::thread::sleep(Duration::from_micros(100));
    }
}

/// Writes the layout version of a new store, checks it in an existing one,
/// and returns the counters: a few reads of one small keyspace.
fn prepare(store: &Store) -> Result<Counters, TierError> {
    let snapshot = store.db.snapshot();
    match store::read_meta(&snapshot, store, META_FORMAT)? {
        Some(FORMAT_VERSION) => store::read_counters(&snapshot, store),
        Some(other) => Err(TierError::engine(
            TIER,
            format!("unsupported disk tier layout {other}; this build reads {FORMAT_VERSION}"),
        )),
        None if !snapshot.is_empty(&store.index).map_err(map_err)? => Err(TierError::engine(
            TIER,
            "the store has entries but no layout version: it is damaged or not a disk tier",
        )),
        None => {
            drop(snapshot);
            let mut txn = Txn::open(store, Counters::default(), Cursors::default(), 0, u64::MAX);
            txn.write_format(FORMAT_VERSION)?;
            Ok(Counters::default())
        }
    }
}
