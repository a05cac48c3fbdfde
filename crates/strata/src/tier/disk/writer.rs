//! The writer thread: group commit.
//!
//! Every change to the store (puts, deletes, tag epochs, lazy expiry, the
//! sweep) is a [`Request`] on one channel to one thread. The thread takes the
//! first request, keeps collecting for up to `flush_interval` or until the
//! batch holds `max_batch` writes (a flush or close ends the wait at once),
//! applies them all as **one** atomic fjall batch (see [`txn`](super::txn)),
//! commits it to the journal with one `fdatasync`, and only then answers
//! each waiter. So:
//!
//! * `put` returning `Ok` means the write is on disk, and every later read
//!   sees it (fjall publishes a batch to readers before the commit returns);
//! * one caller writing in sequence gets at most one put per
//!   `flush_interval + commit time`; many callers share each commit, so the
//!   rate grows with concurrency up to `max_batch` per commit;
//! * a failed commit fails every request of its batch (each may or may not
//!   have happened, as the [`Tier`](crate::Tier) contract allows).
//!
//! One thread, not a lock around the database: each operation reads the
//! committed state plus its batch's own changes, which is the batch's view
//! only if nothing else writes; a single owner also makes the batching, the
//! counters, the eviction cursors and the eviction order free of races. It
//! is a plain OS thread, not a tokio blocking task, so it needs no runtime
//! and `Drop` can stop it from anywhere.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use super::request::{Ack, Op, Request};
use super::state::Shared;
use super::store::{self, Store};
use super::sweep::SWEEP_BATCH;
use super::tables::{Counters, replicate};
use super::txn::{Committed, Cursors, Txn};
use crate::tier::TierError;

/// The writer's settings, fixed at open.
#[derive(Debug, Clone, Copy)]
pub(super) struct WriterConfig {
    pub(super) flush_interval: Duration,
    pub(super) max_batch: usize,
    /// `None`: no background sweep.
    pub(super) sweep_interval: Option<Duration>,
    pub(super) max_bytes: u64,
}

/// The state owned by the writer thread.
pub(super) struct Writer {
    pub(super) db: Arc<Store>,
    pub(super) shared: Arc<Shared>,
    pub(super) rx: Receiver<Request>,
    /// The counters as of the last successful commit.
    pub(super) counters: Counters,
    /// Where searches of `order` and `expiry` start, as of the last
    /// successful commit.
    pub(super) cursors: Cursors,
    pub(super) config: WriterConfig,
}

/// What one committed batch did.
struct Applied {
    outputs: Vec<u64>,
    committed: Committed,
    swept: u64,
}

impl Writer {
    /// The thread's body: runs until a close request or until every sender
    /// is gone, committing what was queued before stopping.
    pub(super) fn run(mut self) {
        let mut next_sweep = self
            .config
            .sweep_interval
            .map(|every| Instant::now() + every);
        let mut close_acks = Vec::new();
        loop {
            // Checked before every batch, not only when the channel is idle:
            // under a steady stream of requests the wait below never times
            // out, and the sweep must still run.
            if next_sweep.is_some_and(|at| Instant::now() >= at) {
                let swept = self.execute(vec![Request {
                    op: Op::Sweep,
                    ack: Ack::None,
                }]);
                // A full step may have left more: go again right after the
                // next batch of requests, so the two alternate.
                let wait = if swept >= SWEEP_BATCH {
                    Some(Duration::ZERO)
                } else {
                    self.config.sweep_interval
                };
                next_sweep = wait.map(|wait| Instant::now() + wait);
            }
            let received = match next_sweep {
                Some(at) => self
                    .rx
                    .recv_timeout(at.saturating_duration_since(Instant::now())),
                None => self.rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            let first = match received {
                Ok(request) => request,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let (batch, stop) = self.collect(first, &mut close_acks);
            self.execute(batch);
            if stop {
                break;
            }
        }
        // Close the writer's handle on the file before answering `close`, so
        // that when `close` returns only readers can still hold it.
        drop(self.db);
        for ack in close_acks {
            ack.send(Ok(0));
        }
    }

    /// Collects a batch starting with `first`. Returns it and whether the
    /// thread should stop after committing it.
    fn collect(&self, first: Request, close_acks: &mut Vec<Ack>) -> (Vec<Request>, bool) {
        let deadline = Instant::now() + self.config.flush_interval;
        let mut weight = 0;
        let mut urgent = false;
        let mut stop = false;
        let mut batch = Vec::new();
        let mut next = Some(first);
        while let Some(request) = next.take() {
            weight += request.op.weight();
            urgent |= request.op.is_urgent();
            if matches!(request.op, Op::Close) {
                stop = true;
                close_acks.push(request.ack);
                // One last commit, so that reads recorded since the previous
                // one still move their keys in the persisted order.
                batch.push(Request {
                    op: Op::Flush,
                    ack: Ack::None,
                });
            } else {
                batch.push(request);
            }
            if stop || urgent || weight >= self.config.max_batch {
                break;
            }
            let now = Instant::now();
            let received = if now >= deadline {
                self.rx
                    .try_recv()
                    .map_err(|e| e == TryRecvError::Disconnected)
            } else {
                self.rx
                    .recv_timeout(deadline - now)
                    .map_err(|e| e == RecvTimeoutError::Disconnected)
            };
            match received {
                Ok(request) => next = Some(request),
                Err(disconnected) => stop |= disconnected,
            }
        }
        (batch, stop)
    }

    /// Applies and commits `batch`, answers its waiters, publishes the
    /// counters. Returns how many entries its sweep steps removed.
    fn execute(&mut self, batch: Vec<Request>) -> u64 {
        if batch.is_empty() {
            return 0;
        }
        let (ops, acks): (Vec<Op>, Vec<Ack>) = batch
            .into_iter()
            .map(|request| (request.op, request.ack))
            .unzip();
        match self.apply(ops) {
            Ok(applied) => {
                let Committed {
                    counters,
                    cursors,
                    evictions,
                    expirations,
                } = applied.committed;
                self.counters = counters;
                self.cursors = cursors;
                self.shared.stats.publish(counters, evictions, expirations);
                self.shared.clear_failure();
                for (ack, output) in acks.into_iter().zip(applied.outputs) {
                    ack.send(Ok(output));
                }
                applied.swept
            }
            Err(error) => {
                self.shared.record_failure(&error);
                self.resync();
                for ack in acks {
                    ack.send(Err(replicate(&error)));
                }
                0
            }
        }
    }

    /// After a failed batch: part of it may have committed (a large delete
    /// commits in steps), so the counters are read back from the store, and
    /// the cursors restart from the beginning (always correct, at the price
    /// of one walk over tombstones).
    fn resync(&mut self) {
        let snapshot = self.db.db.snapshot();
        if let Ok(counters) = store::read_counters(&snapshot, &self.db) {
            self.counters = counters;
        }
        self.cursors = Cursors::default();
    }

    /// One write transaction for `ops`, committed durably.
    fn apply(&self, ops: Vec<Op>) -> Result<Applied, TierError> {
        let now_ms = self.shared.clock.unix_millis();
        let touched = self.shared.touches.take();
        let mut outputs = Vec::with_capacity(ops.len());
        let mut swept = 0;
        let mut txn = Txn::open(
            &self.db,
            self.counters,
            self.cursors.clone(),
            now_ms,
            self.config.max_bytes,
        );
        #[cfg(test)]
        {
            txn.commits_left = Some(Arc::clone(&self.shared.commits_left));
        }
        txn.apply_touches(touched)?;
        for op in ops {
            outputs.push(match op {
                Op::Put(records) => {
                    for record in records {
                        txn.put(record)?;
                    }
                    0
                }
                Op::Delete(keys) => txn.delete(&keys)?,
                Op::DeleteMatching(filter) => txn.delete_matching(&filter)?,
                Op::Clear => txn.clear()?,
                Op::BumpTag(tag) => txn.bump_tag(&tag)?,
                Op::RaiseTag(tag, epoch) => {
                    txn.raise_tag(&tag, epoch)?;
                    0
                }
                Op::Expire(key, expires_at_ms) => {
                    txn.expire_if_unchanged(&key, expires_at_ms)?;
                    0
                }
                Op::Sweep => {
                    let removed = txn.sweep(SWEEP_BATCH)?;
                    swept += removed;
                    removed
                }
                Op::Flush | Op::Close => 0,
            });
        }
        Ok(Applied {
            outputs,
            committed: txn.commit()?,
            swept,
        })
    }
}
