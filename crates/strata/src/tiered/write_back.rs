//! The write-back queue: the memory tier is written at once, the lower tiers
//! by a background task, in batches.
//!
//! Invariants, and how they are kept:
//! * **Reads never go back in time.** Every queued entry is also in
//!   `pending` (newest write per key) until the tiers have it, and reads
//!   check `pending` before the tiers.
//! * **Nothing lands after the invalidation that should have removed it.**
//!   The task picks its batch from `pending` and writes it while holding the
//!   `drain` lock; an invalidation removes matching keys from `pending` and
//!   deletes them from the tiers while holding the same lock. A write is
//!   thus either fully before the invalidation (and deleted by it) or sees
//!   that its key left `pending` and is skipped.
//! * **Other instances hear of a write once it has landed.** The task
//!   publishes each written key on the backplane after its batch reached
//!   the tiers, not when it was queued: a message sent earlier would let
//!   another instance drop its copy, re-read the old value from the shared
//!   tier and keep it, with no later message to drop it.
//! * **Bounded, and nothing dropped.** The channel holds at most `queue`
//!   writes; when it is full the caller writes through itself, under the
//!   `drain` lock so that it cannot overtake an older batch of the same key.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::BackplaneMessage;
use super::backplane::Bus;
use super::stats::{TierCounters, WriteBackReport};
use super::write::Sealed;
use crate::tier::{Tier, TierWrite};

/// The most writes one batch carries to the tiers: large enough that a
/// burst costs few commits, small enough that an invalidation waiting on
/// the `drain` lock waits for one modest batch.
const BATCH: usize = 512;

enum Job {
    Write { key: String, seq: u64 },
    Flush(oneshot::Sender<()>),
}

struct State {
    /// The newest queued write of each key, with its sequence number. A
    /// plain mutex: never held across an await.
    pending: Mutex<HashMap<String, (u64, Arc<Sealed>)>>,
    next_seq: AtomicU64,
    /// Held while a batch is picked and written, and by invalidations and
    /// overflowing writers.
    drain: tokio::sync::Mutex<()>,
    queued: AtomicU64,
    written: AtomicU64,
    overflows: AtomicU64,
    superseded: AtomicU64,
    failed_batches: AtomicU64,
}

/// The queue and its task.
pub(crate) struct WriteBack {
    state: Arc<State>,
    sender: Mutex<Option<mpsc::Sender<Job>>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl WriteBack {
    /// Starts the writer task. Must be called inside a tokio runtime.
    pub(crate) fn start(
        queue: usize,
        tiers: Vec<Arc<dyn Tier>>,
        counters: Arc<[TierCounters]>,
        bus: Bus,
    ) -> Self {
        let state = Arc::new(State {
            pending: Mutex::new(HashMap::new()),
            next_seq: AtomicU64::new(0),
            drain: tokio::sync::Mutex::new(()),
            queued: AtomicU64::new(0),
            written: AtomicU64::new(0),
            overflows: AtomicU64::new(0),
            superseded: AtomicU64::new(0),
            failed_batches: AtomicU64::new(0),
        });
        let (sender, receiver) = mpsc::channel(queue);
        let task = tokio::spawn(run(Arc::clone(&state), tiers, counters, bus, receiver));
        Self {
            state,
            sender: Mutex::new(Some(sender)),
            task: Mutex::new(Some(task)),
        }
    }

    /// Queues `sealed`. Gives it back when the queue is full or closed: the
    /// caller must then write it through under [`exclusive`](Self::exclusive).
    pub(crate) fn enqueue(&self, sealed: Sealed) -> Option<Sealed> {
        let Some(sender) = self.sender.lock().clone() else {
            return Some(sealed);
        };
        let seq = self.state.next_seq.fetch_add(1, Relaxed);
        let key = sealed.write.key.clone();
        let sealed = Arc::new(sealed);
        self.state
            .pending
            .lock()
            .insert(key.clone(), (seq, Arc::clone(&sealed)));
        match sender.try_send(Job::Write {
            key: key.clone(),
            seq,
        }) {
            Ok(()) => {
                self.state.queued.fetch_add(1, Relaxed);
                None
            }
            Err(_) => {
                self.state.overflows.fetch_add(1, Relaxed);
                let mut pending = self.state.pending.lock();
                if pending.get(&key).is_some_and(|(s, _)| *s == seq) {
                    pending.remove(&key);
                }
                Some(Arc::unwrap_or_clone(sealed))
            }
        }
    }

    /// The newest queued write of `key`.
    pub(crate) fn pending(&self, key: &str) -> Option<Arc<Sealed>> {
        self.state
            .pending
            .lock()
            .get(key)
            .map(|(_, s)| Arc::clone(s))
    }

    /// Excludes the writer task (and other holders) until dropped.
    pub(crate) async fn exclusive(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.state.drain.lock().await
    }

    /// Forgets queued writes whose key matches; returns how many. Call it
    /// under [`exclusive`](Self::exclusive).
    pub(crate) fn forget(&self, matches: impl Fn(&str) -> bool) -> u64 {
        let mut pending = self.state.pending.lock();
        let before = pending.len();
        pending.retain(|key, _| !matches(key));
        (before - pending.len()) as u64
    }

    /// Returns once every write queued before the call has been written.
    pub(crate) async fn flush(&self) {
        let Some(sender) = self.sender.lock().clone() else {
            return;
        };
        let (done, wait) = oneshot::channel();
        if sender.send(Job::Flush(done)).await.is_ok() {
            // An error means the task ended, which it does only after
            // draining the queue: flushed either way.
            let _ = wait.await;
        }
    }

    /// Flushes and stops the task.
    pub(crate) async fn close(&self) {
        self.flush().await;
        drop(self.sender.lock().take());
        let task = self.task.lock().take();
        if let Some(task) = task {
            // The task only returns; a join error would be a panic inside
            // it, already reported by tokio.
            let _ = task.await;
        }
    }

    pub(crate) fn report(&self) -> WriteBackReport {
        let s = &self.state;
        WriteBackReport {
            queued: s.queued.load(Relaxed),
            written: s.written.load(Relaxed),
            overflows: s.overflows.load(Relaxed),
            superseded: s.superseded.load(Relaxed),
            failed_batches: s.failed_batches.load(Relaxed),
        }
    }
}

/// The writer task: batches of queued writes to every tier, in order.
async fn run(
    state: Arc<State>,
    tiers: Vec<Arc<dyn Tier>>,
    counters: Arc<[TierCounters]>,
    bus: Bus,
    mut receiver: mpsc::Receiver<Job>,
) {
    while let Some(first) = receiver.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < BATCH {
            match receiver.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let guard = state.drain.lock().await;
        let mut batch: Vec<(u64, Arc<Sealed>)> = Vec::new();
        let mut flushes = Vec::new();
        {
            let pending = state.pending.lock();
            for job in jobs {
                match job {
                    Job::Write { key, seq } => {
                        state.queued.fetch_sub(1, Relaxed);
                        match pending.get(&key) {
                            Some((s, sealed)) if *s == seq => batch.push((seq, Arc::clone(sealed))),
                            _ => {
                                state.superseded.fetch_add(1, Relaxed);
                            }
                        }
                    }
                    Job::Flush(done) => flushes.push(done),
                }
            }
        }
        if !batch.is_empty() {
            write_batch(&state, &tiers, &counters, &batch).await;
            let mut pending = state.pending.lock();
            for (seq, sealed) in &batch {
                let key = &sealed.write.key;
                if pending.get(key).is_some_and(|(s, _)| s == seq) {
                    pending.remove(key);
                }
            }
        }
        drop(guard);
        // After the tiers have the batch (or, where a tier refused it, have
        // had its keys deleted): either way the shared tiers changed. Outside
        // the `drain` lock, so invalidations do not wait for the messages;
        // a message later than the write is harmless, it only drops copies.
        // Before the flushes are answered, so a flush also means the other
        // instances have been told.
        for (_, sealed) in &batch {
            bus.publish(BackplaneMessage::Key(sealed.write.key.clone()))
                .await;
        }
        for done in flushes {
            // The flusher may have given up waiting; nothing to tell then.
            let _ = done.send(());
        }
    }
}

/// Writes one batch to every tier. A tier that refuses the batch is asked
/// to delete its keys instead, so it cannot keep serving the values they
/// replaced; the memory tier still holds the new values.
async fn write_batch(
    state: &State,
    tiers: &[Arc<dyn Tier>],
    counters: &[TierCounters],
    batch: &[(u64, Arc<Sealed>)],
) {
    let writes: Vec<TierWrite> = batch.iter().map(|(_, s)| s.write.clone()).collect();
    for (tier, counter) in tiers.iter().zip(counters) {
        match tier.put_many(writes.clone()).await {
            Ok(()) => {
                for (_, sealed) in batch {
                    counter.record_write(sealed.raw_len, sealed.write.bytes.len() as u64);
                }
            }
            Err(_) => {
                state.failed_batches.fetch_add(1, Relaxed);
                counter.record_write_error();
                let keys: Vec<String> = writes.iter().map(|w| w.key.clone()).collect();
                let _ = tier.delete_many(&keys).await;
            }
        }
    }
    state.written.fetch_add(batch.len() as u64, Relaxed);
}
