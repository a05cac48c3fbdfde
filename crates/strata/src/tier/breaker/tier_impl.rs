//! [`Tier`] for [`BreakerTier`]: every call admitted, queued or refused by
//! the state machine, and judged when it ends.

use async_trait::async_trait;

use super::queue::Mutation;
use super::{Admitted, BreakerTier, is_failure, machine};
use crate::tier::{KeyFilter, Tier, TierError, TierHealth, TierScope, TierStats, TierWrite};

#[async_trait]
impl<T: Tier> Tier for BreakerTier<T> {
    /// The inner tier's name: errors, stats and logs name the tier, not the
    /// breaker.
    fn name(&self) -> &str {
        self.shared.inner.name()
    }

    /// The inner tier's: the breaker stores nothing of its own.
    fn scope(&self) -> TierScope {
        self.shared.inner.scope()
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, TierError> {
        let s = &self.shared;
        let ticket = s.admit_read()?;
        s.run(ticket, s.inner.get(key)).await
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, TierError> {
        let s = &self.shared;
        let ticket = s.admit_read()?;
        s.run(ticket, s.inner.get_many(keys)).await
    }

    /// Queued while the tier is out of reach (`Ok`); see the
    /// [module documentation](super).
    async fn put_many(&self, writes: Vec<TierWrite>) -> Result<(), TierError> {
        if writes.is_empty() {
            return Ok(());
        }
        let s = &self.shared;
        match s.admit_write(writes, Mutation::Put)? {
            Admitted::Now(ticket, writes) => s.run(ticket, s.inner.put_many(writes)).await,
            Admitted::Queued => Ok(()),
        }
    }

    /// As [`put_many`](Tier::put_many); a write that goes to the tier now
    /// follows the tier's rule, and a queued one is replayed by that rule
    /// anyway (as every queued put is). Queued: `Ok(0)`, nothing known
    /// skipped.
    async fn put_many_unless_newer(&self, writes: Vec<TierWrite>) -> Result<u64, TierError> {
        if writes.is_empty() {
            return Ok(0);
        }
        let s = &self.shared;
        match s.admit_write(writes, Mutation::Put)? {
            Admitted::Now(ticket, writes) => {
                s.run(ticket, s.inner.put_many_unless_newer(writes)).await
            }
            Admitted::Queued => Ok(0),
        }
    }

    /// Queued while the tier is out of reach: `Ok(0)`, nothing known
    /// removed yet.
    async fn delete_many(&self, keys: &[String]) -> Result<u64, TierError> {
        if keys.is_empty() {
            return Ok(0);
        }
        let s = &self.shared;
        match s.admit_write(keys, |keys| Mutation::Delete(keys.to_vec()))? {
            Admitted::Now(ticket, keys) => s.run(ticket, s.inner.delete_many(keys)).await,
            Admitted::Queued => Ok(0),
        }
    }

    async fn scan(&self, filter: &KeyFilter) -> Result<Vec<String>, TierError> {
        let s = &self.shared;
        let ticket = s.admit_read()?;
        s.run(ticket, s.inner.scan(filter)).await
    }

    /// Queued while the tier is out of reach: `Ok(0)`.
    async fn delete_matching(&self, filter: &KeyFilter) -> Result<u64, TierError> {
        let s = &self.shared;
        match s.admit_write(filter, |filter| Mutation::DeleteMatching(filter.clone()))? {
            Admitted::Now(ticket, filter) => s.run(ticket, s.inner.delete_matching(filter)).await,
            Admitted::Queued => Ok(0),
        }
    }

    /// Queued while the tier is out of reach: `Ok(0)`.
    async fn clear(&self) -> Result<u64, TierError> {
        let s = &self.shared;
        match s.admit_write((), |()| Mutation::Clear)? {
            Admitted::Now(ticket, ()) => s.run(ticket, s.inner.clear()).await,
            Admitted::Queued => Ok(0),
        }
    }

    /// When the tier cannot answer (refused, or failed), the last known
    /// epochs, by default; see [`EpochFallback`](super::EpochFallback).
    async fn tag_epochs(&self, tags: &[String]) -> Result<Vec<u64>, TierError> {
        let s = &self.shared;
        let decision = s.with_machine(|machine, now| machine.admit_read(now));
        match decision {
            machine::ReadDecision::Pass(ticket) => {
                match s.run(ticket, s.inner.tag_epochs(tags)).await {
                    Ok(epochs) => {
                        s.known.lock().learn_all(tags, &epochs);
                        Ok(epochs)
                    }
                    // Counted against the tier all the same (by `run`).
                    Err(error) if is_failure(&error) => s.recall_epochs(tags, error),
                    Err(error) => Err(error),
                }
            }
            machine::ReadDecision::Refuse(reason) => s
                .recall_epochs(tags, s.unavailable(reason))
                .inspect_err(|_| {
                    s.with_machine(|machine, _| machine.count_rejected());
                }),
        }
    }

    /// While the tier is out of reach: queued, and
    /// [`TierError::Unavailable`] all the same, because the new epoch is
    /// only known once the tier applies the bump (a guess could repeat
    /// another process's). A [`TieredCache`](crate::TieredCache) then
    /// bumps its own cached epoch and the other tiers', and reports the
    /// error; the bump reaches this tier on recovery, so other processes
    /// see the invalidation too.
    async fn bump_tag_epoch(&self, tag: &str) -> Result<u64, TierError> {
        let s = &self.shared;
        match s.admit_write(tag, |tag| Mutation::BumpTag(tag.to_owned()))? {
            Admitted::Now(ticket, tag) => {
                let epoch = s.run(ticket, s.inner.bump_tag_epoch(tag)).await?;
                s.known.lock().learn(tag, epoch);
                Ok(epoch)
            }
            Admitted::Queued => Err(s.unavailable(format!(
                "circuit breaker {}: the bump of tag `{tag}` is queued for when the tier \
                 recovers; no epoch can be promised before",
                self.state()
            ))),
        }
    }

    /// Queued while the tier is out of reach (`Ok`).
    async fn raise_tag_epoch(&self, tag: &str, epoch: u64) -> Result<(), TierError> {
        let s = &self.shared;
        let admitted = s.admit_write((tag, epoch), |(tag, epoch)| {
            Mutation::RaiseTag(tag.to_owned(), epoch)
        })?;
        if let Admitted::Now(ticket, (tag, epoch)) = admitted {
            s.run(ticket, s.inner.raise_tag_epoch(tag, epoch)).await?;
        }
        // Applied, or queued to be applied before any read reaches the
        // tier: either way the tier holds at least this much for reads.
        s.known.lock().learn(tag, epoch);
        Ok(())
    }

    /// The inner tier's `flush` when closed. Otherwise
    /// [`TierError::Unavailable`]: the tier cannot be reached, and queued
    /// writes (the error says how many) are not durable until replayed.
    async fn flush(&self) -> Result<(), TierError> {
        let s = &self.shared;
        let open = s.with_machine(|machine, now| match machine.view(now) {
            machine::View::Closed => None,
            machine::View::Open(why) | machine::View::HalfOpen(why) => Some(format!(
                "{why}; flush not attempted, {} queued writes not yet in the tier",
                machine.queued_now()
            )),
        });
        match open {
            None => s.inner.flush().await,
            Some(reason) => Err(s.unavailable(reason)),
        }
    }

    /// The inner tier's stats; see [`BreakerTier::breaker_stats`] for the
    /// breaker's own.
    fn stats(&self) -> TierStats {
        self.shared.inner.stats()
    }

    /// Moves each time the breaker closes after being open or half-open;
    /// see [`Tier::recoveries`].
    fn recoveries(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        Some(self.shared.recoveries.subscribe())
    }

    /// The inner tier's health when closed; `Down` with the reason when
    /// open (without asking the tier), `Degraded` when half-open.
    async fn health(&self) -> TierHealth {
        let s = &self.shared;
        match s.with_machine(|machine, now| machine.view(now)) {
            machine::View::Closed => s.inner.health().await,
            machine::View::Open(why) => TierHealth::Down(why),
            machine::View::HalfOpen(why) => TierHealth::Degraded(why),
        }
    }
}
