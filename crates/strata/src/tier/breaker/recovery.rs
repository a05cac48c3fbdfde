//! The recovery driver: after the open interval, wakes the tier with one
//! unjudged call, replays the queued writes in order and probes the tier
//! until the breaker closes or opens again.
//!
//! It runs as a tokio task, so no caller waits for a replay: while it runs
//! the breaker is half-open with a non-empty queue, which refuses reads and
//! queues writes at once. One driver runs at a time (an async lock), and a
//! kick while one is pending starts no other, so a burst of calls costs one
//! task.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::runtime::Handle;

use super::machine::{Replayed, Step, Ticket};
use super::queue::Mutation;
use super::{Call, Shared, is_failure};
use crate::tier::{Tier, TierError, TierHealth, TierWrite};

impl<T: Tier> Shared<T> {
    /// Starts a driver run on the current tokio runtime, unless one is
    /// pending. Outside a runtime it does nothing: the next call made inside
    /// one, or [`recover`](super::BreakerTier::recover), will.
    pub(super) fn kick(self: &Arc<Self>) {
        if self.kicked.swap(true, Ordering::AcqRel) {
            return;
        }
        match Handle::try_current() {
            Ok(runtime) => {
                let shared = Arc::clone(self);
                runtime.spawn(async move { shared.drive().await });
            }
            Err(_) => self.kicked.store(false, Ordering::Release),
        }
    }

    /// Wakes the driver when the open interval has passed, so a breaker
    /// recovers even if no call comes (every read served by the memory tier,
    /// say) and queued writes do not wait for traffic. It holds the breaker
    /// weakly: a dropped breaker is not kept alive for its timer.
    pub(super) fn arm_timer(self: &Arc<Self>) {
        let Ok(runtime) = Handle::try_current() else {
            return;
        };
        let shared = Arc::downgrade(self);
        let interval = self.open_interval;
        runtime.spawn(async move {
            tokio::time::sleep(interval).await;
            if let Some(shared) = shared.upgrade() {
                shared.drive().await;
            }
        });
    }

    /// Does whatever the recovery needs now, until there is nothing left to
    /// do: moves an open breaker whose interval passed to half-open,
    /// replays the queue batch by batch, sends probes.
    pub(super) async fn drive(self: &Arc<Self>) {
        let _exclusive = self.driver.lock().await;
        // Cleared once this run holds the lock: a kick from now on starts
        // another run after this one, so no work signalled meanwhile is
        // missed.
        self.kicked.store(false, Ordering::Release);
        loop {
            match self.with_machine(|machine, now| machine.next_step(now)) {
                Step::Done => return,
                Step::Wake { generation } => {
                    // Its outcome is not judged (see `Step::Wake`): the
                    // probes and the replay that follow are.
                    let _ = self.inner.health().await;
                    self.with_machine(|machine, _| machine.woke(generation));
                }
                Step::Replay { batch, generation } => {
                    let result = self.replay(batch.mutation, batch.entries).await;
                    let (items, entries) = (batch.items, batch.entries);
                    self.with_machine(|machine, now| {
                        machine.replayed(items, entries, generation, result, now);
                    });
                }
                Step::Probe(ticket) => self.probe(ticket).await,
            }
        }
    }

    /// A probe of the driver's own: the tier's `health`. `Down` fails it;
    /// it is slow if it takes longer than the latency budget.
    async fn probe(self: &Arc<Self>, ticket: Ticket) {
        let call = Call::new(self, ticket);
        let failure = match self.inner.health().await {
            TierHealth::Down(why) => Some(why),
            _ => None,
        };
        call.end(failure);
    }

    /// Applies one batch. A failure (see `is_failure`) leaves it queued; any
    /// other error means the tier refused it for good (retrying cannot
    /// help, and would block the queue forever): it is dropped, counted and
    /// logged.
    async fn replay(&self, mutation: Mutation, entries: u64) -> Replayed {
        let inner = &self.inner;
        let outcome = match mutation {
            Mutation::Put(writes) => return self.replay_puts(writes).await,
            Mutation::Delete(keys) => inner.delete_many(&keys).await.map(drop),
            Mutation::DeleteMatching(filter) => inner.delete_matching(&filter).await.map(drop),
            Mutation::Clear => inner.clear().await.map(drop),
            Mutation::BumpTag(tag) => inner
                .bump_tag_epoch(&tag)
                .await
                .map(|epoch| self.known.lock().learn(&tag, epoch)),
            Mutation::RaiseTag(tag, epoch) => inner.raise_tag_epoch(&tag, epoch).await,
        };
        match outcome {
            Ok(()) => Replayed::Applied { refused: 0 },
            Err(error) if is_failure(&error) => Replayed::Failed(error.to_string()),
            Err(error) => {
                self.refused(&error, entries);
                Replayed::Applied { refused: entries }
            }
        }
    }

    /// Puts as one batch; if the tier refuses the batch for good, one by
    /// one, so only the entries it refuses are dropped (the Redis tier
    /// refuses a whole batch that holds one oversized entry).
    ///
    /// Each put lands only if the tier holds nothing written later under
    /// its key ([`Tier::put_many_unless_newer`]): while these waited,
    /// another process may have written the key, and its value is newer
    /// than this one (counted in `superseded_at_replay`).
    async fn replay_puts(&self, writes: Vec<TierWrite>) -> Replayed {
        let one_by_one = (writes.len() > 1).then(|| writes.clone());
        let error = match self.inner.put_many_unless_newer(writes).await {
            Ok(skipped) => {
                self.superseded(skipped);
                return Replayed::Applied { refused: 0 };
            }
            Err(error) if is_failure(&error) => return Replayed::Failed(error.to_string()),
            Err(error) => error,
        };
        let Some(writes) = one_by_one else {
            self.refused(&error, 1);
            return Replayed::Applied { refused: 1 };
        };
        let mut refused = 0;
        for write in writes {
            match self.inner.put_many_unless_newer(vec![write]).await {
                Ok(skipped) => self.superseded(skipped),
                // Those already put are put again by the next replay:
                // a put is idempotent.
                Err(error) if is_failure(&error) => return Replayed::Failed(error.to_string()),
                Err(error) => {
                    self.refused(&error, 1);
                    refused += 1;
                }
            }
        }
        Replayed::Applied { refused }
    }

    fn superseded(&self, skipped: u64) {
        self.superseded_at_replay
            .fetch_add(skipped, Ordering::Relaxed);
    }

    fn refused(&self, error: &TierError, writes: u64) {
        tracing::warn!(
            tier = self.inner.name(),
            writes,
            %error,
            "the tier refused queued writes at replay; dropped (BreakerStats::refused_at_replay)"
        );
    }
}
