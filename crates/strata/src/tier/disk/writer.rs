//! The writer thread: group commit.
//!
//! Every change to the store (puts, deletes, tag epochs, lazy expiry, the
//! sweep) is a [`Request`] on one channel to one thread. The thread takes the
//! first request, keeps collecting for up to `flush_interval` or until the
//! batch holds `max_batch` writes (a flush or close ends the wait at once),
//! applies them all in **one** redb write transaction with
//! [`Durability::Immediate`], commits (one `fsync`), and only then answers
//! each waiter. So:
//!
//! * `put` returning `Ok` means the write is on disk, and every later read
//!   sees it (readers open their transaction after the ack);
//! * one caller writing in sequence gets at most one put per
//!   `flush_interval + commit time`; many callers share each commit, so the
//!   rate grows with concurrency up to `max_batch` per commit;
//! * a failed transaction fails every request of its batch (each may or may
//!   not have happened, as the [`Tier`](crate::Tier) contract allows).
//!
//! One thread, not a lock around the database: redb allows one write
//! transaction at a time anyway, and a single owner makes the batching, the
//! counters and the eviction order free of races. It is a plain OS thread,
//! not a tokio blocking task, so it needs no runtime and `Drop` can stop it
//! from anywhere.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use redb::{Database, Durability};

use super::request::{Ack, Op, Request};
use super::state::Shared;
use super::sweep::SWEEP_BATCH;
use super::tables::{Counters, map_err, replicate};
use super::txn::Txn;
use crate::tier::TierError;

/// The writer's settings, fixed at open.
#[derive(Debug, Clone, Copy)]
pub(super) struct WriterConfig {
    pub(super) flush_interval: Duration,
    pub(super) max_batch: usize,
    /// `None`: no background sweep.
    pub(super) sweep_interval: Option<Duration>,
    pub(super) max_bytes: u64,
    pub(super) quick_repair: bool,
}

/// The state owned by the writer thread.
pub(super) struct Writer {
    pub(super) db: Arc<Database>,
    pub(super) shared: Arc<Shared>,
    pub(super) rx: Receiver<Request>,
    /// The counters as of the last successful commit.
    pub(super) counters: Counters,
    pub(super) config: WriterConfig,
}

/// What one committed transaction did.
struct Applied {
    outputs: Vec<u64>,
    counters: Counters,
    evictions: u64,
    expirations: u64,
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
        match self.apply(&ops) {
            Ok(applied) => {
                self.counters = applied.counters;
                self.shared
                    .stats
                    .publish(applied.counters, applied.evictions, applied.expirations);
                self.shared.clear_failure();
                for (ack, output) in acks.into_iter().zip(applied.outputs) {
                    ack.send(Ok(output));
                }
                applied.swept
            }
            Err(error) => {
                self.shared.record_failure(&error);
                for ack in acks {
                    ack.send(Err(replicate(&error)));
                }
                0
            }
        }
    }

    /// One write transaction for `ops`, committed durably.
    fn apply(&self, ops: &[Op]) -> Result<Applied, TierError> {
        let mut txn = self.db.begin_write().map_err(map_err)?;
        // Immediate is redb's default; set it anyway, since the promise of
        // `put` rests on it.
        txn.set_durability(Durability::Immediate).map_err(map_err)?;
        txn.set_quick_repair(self.config.quick_repair);
        let now_ms = self.shared.clock.unix_millis();
        let touched = self.shared.touches.take();
        let mut outputs = Vec::with_capacity(ops.len());
        let mut swept = 0;
        let (counters, evictions, expirations) = {
            let mut tables = Txn::open(&txn, self.counters, now_ms, self.config.max_bytes)?;
            tables.apply_touches(touched)?;
            for op in ops {
                outputs.push(match op {
                    Op::Put(writes) => {
                        for write in writes {
                            tables.put(write)?;
                        }
                        0
                    }
                    Op::Delete(keys) => tables.delete(keys)?,
                    Op::DeleteMatching(filter) => tables.delete_matching(filter)?,
                    Op::Clear => tables.clear()?,
                    Op::BumpTag(tag) => tables.bump_tag(tag)?,
                    Op::RaiseTag(tag, epoch) => {
                        tables.raise_tag(tag, *epoch)?;
                        0
                    }
                    Op::Expire(key, expires_at_ms) => {
                        tables.expire_if_unchanged(key, *expires_at_ms)?;
                        0
                    }
                    Op::Sweep => {
                        let removed = tables.sweep(SWEEP_BATCH)?;
                        swept += removed;
                        removed
                    }
                    Op::Flush | Op::Close => 0,
                });
            }
            let (evictions, expirations) = (tables.evictions, tables.expirations);
            (tables.finish()?, evictions, expirations)
        };
        txn.commit().map_err(map_err)?;
        Ok(Applied {
            outputs,
            counters,
            evictions,
            expirations,
            swept,
        })
    }
}
