//! Other instances' invalidations, applied to this instance's private lower
//! tiers (a local disk), off the backplane listener's loop.
//!
//! The memory tier is not the only copy an instance keeps: a disk tier
//! between memory and Redis ([`TierScope::Private`]) holds one too, and a
//! read that misses memory finds it there before Redis. So what the
//! backplane names is deleted from every private tier as well, never from a
//! shared one (Redis already has the change; deleting again could delete a
//! value written since).
//!
//! # Why a task of its own
//!
//! A disk delete goes through the disk tier's writer thread and waits for
//! its commit; a prefix, a pattern or a clear scans every key. Done on the
//! listener's loop, they would hold up the next messages' memory drops,
//! which are what keeps the invalidation lag low. So the listener drops
//! from memory at once and queues the rest here; this task takes what is
//! queued as one batch (a clear covers every delete before it, and keys are
//! deleted in one `delete_many`).
//!
//! # Fills racing it
//!
//! For each message the listener bumps the generations it covers and drops
//! the memory entries; this task deletes from the private tiers, then bumps
//! again and drops the memory entries again, in that order. A fill that
//! read a private tier before the delete either checks its stamp after the
//! second bump (and discards itself) or stored into memory before it (and
//! the second drop removes it).
//!
//! # Losses
//!
//! After a lost message ([`BackplaneEvent::Lost`](super::BackplaneEvent)) or
//! a shared tier back from an outage, nothing in a private tier can be
//! vouched for: every private tier is cleared. Not at once when no shared
//! tier can be reached (Redis is down, or this instance is cut off from it):
//! then the private tiers are all that can serve, and clearing them would
//! turn an outage into a miss for every key. The clear waits until every
//! shared tier answers its health check again, retried every
//! [`RETRY`]; until then reads may be as stale as the outage is long, as
//! with the tag epochs a circuit breaker answers from memory while open.
//!
//! A private tier that fails a delete is counted
//! ([`BackplaneReport::local_tier_errors`](super::BackplaneReport)), logged,
//! and owed a clear, retried as a loss is: the entry it could not delete
//! must not outlive the retry.

use std::sync::{Arc, Weak};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

use super::Shared;
use crate::tier::{KeyFilter, Tier, TierHealth, TierScope};

/// How often a clear owed to the private tiers is tried again while a
/// shared tier cannot be reached or a private one fails: the cadence at
/// which the Redis backplane retries its own connection.
const RETRY: Duration = Duration::from_millis(100);

/// The most jobs taken as one batch, so that a flood of messages still
/// yields bounded `delete_many` calls.
const MAX_BATCH: usize = 1_024;

/// What the private tiers owe for one backplane event.
#[derive(Debug)]
pub(super) enum Job {
    /// Another instance's `Key` message.
    Key(String),
    /// Another instance's `Prefix`, `Pattern` or `Clear` message (`All`).
    Filter(KeyFilter),
    /// A loss, or a shared tier's recovery: clear everything once a shared
    /// tier is reachable. Counted as received by the listener, not here.
    Forget,
}

/// The private tiers of a cache and the queue to their task.
pub(super) struct PrivateTiers {
    pub(super) tiers: Vec<Arc<dyn Tier>>,
    pub(super) jobs: mpsc::UnboundedSender<Job>,
}

impl PrivateTiers {
    /// The private tiers among `tiers`, with the receiving end of their
    /// queue; `None` when every tier is shared.
    pub(super) fn of(tiers: &[Arc<dyn Tier>]) -> Option<(Self, mpsc::UnboundedReceiver<Job>)> {
        let private: Vec<_> = tiers
            .iter()
            .filter(|t| t.scope() == TierScope::Private)
            .cloned()
            .collect();
        if private.is_empty() {
            return None;
        }
        let (jobs, rx) = mpsc::unbounded_channel();
        Some((
            Self {
                tiers: private,
                jobs,
            },
            rx,
        ))
    }
}

/// Runs the jobs of `jobs` until the cache is dropped.
pub(super) async fn run<V>(shared: Weak<Shared<V>>, mut jobs: mpsc::UnboundedReceiver<Job>)
where
    V: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
{
    // A clear the private tiers still owe (a loss while no shared tier
    // could be reached, or a failed delete).
    let mut owed = false;
    loop {
        let mut batch = Vec::new();
        if owed {
            tokio::select! {
                job = jobs.recv() => match job {
                    Some(job) => batch.push(job),
                    None => return,
                },
                () = tokio::time::sleep(RETRY) => {}
            }
        } else {
            match jobs.recv().await {
                Some(job) => batch.push(job),
                None => return,
            }
        }
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let Some(shared) = shared.upgrade() else {
            return;
        };
        owed = shared.apply_private(batch, owed).await;
    }
}

impl<V> Shared<V>
where
    V: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
{
    /// Queues `job` for the private tiers. Returns `false` when there are
    /// none (the caller finishes the event itself).
    pub(super) fn queue_private(&self, job: Job) -> bool {
        match &self.private {
            // The task lives as long as the cache: a failed send means it
            // is gone, and so is every private tier's reader.
            Some(private) => private.jobs.send(job).is_ok(),
            None => false,
        }
    }

    /// Applies one batch of jobs to the private tiers, then moves the
    /// generations and drops the memory entries again (see the module
    /// documentation). `owed`: a clear is owed from an earlier batch.
    /// Returns whether a clear is still owed.
    async fn apply_private(&self, batch: Vec<Job>, owed: bool) -> bool {
        let Some(private) = &self.private else {
            return false;
        };
        let messages = batch
            .iter()
            .filter(|job| !matches!(job, Job::Forget))
            .count() as u64;
        let forget = owed || batch.iter().any(|job| matches!(job, Job::Forget));
        // Another instance's clear emptied Redis: this one's private tiers
        // follow now, reachable or not.
        let cleared_remotely = batch
            .iter()
            .any(|job| matches!(job, Job::Filter(KeyFilter::All)));
        let clear = cleared_remotely || (forget && self.shared_tiers_reachable().await);
        let mut failed = false;
        if clear {
            for tier in &private.tiers {
                if let Err(error) = tier.clear().await {
                    failed = true;
                    self.private_error(tier.as_ref(), "clear", &error);
                }
            }
            self.generations.bump_all();
            self.epochs.forget_all();
            self.memory.clear();
        } else {
            let keys: Vec<String> = batch
                .iter()
                .filter_map(|job| match job {
                    Job::Key(key) => Some(key.clone()),
                    _ => None,
                })
                .collect();
            let filters: Vec<&KeyFilter> = batch
                .iter()
                .filter_map(|job| match job {
                    Job::Filter(filter) => Some(filter),
                    _ => None,
                })
                .collect();
            for tier in &private.tiers {
                if !keys.is_empty()
                    && let Err(error) = tier.delete_many(&keys).await
                {
                    failed = true;
                    self.private_error(tier.as_ref(), "delete", &error);
                }
                for filter in &filters {
                    if let Err(error) = tier.delete_matching(filter).await {
                        failed = true;
                        self.private_error(tier.as_ref(), "delete_matching", &error);
                    }
                }
            }
            // Bump, then drop: see the module documentation.
            for key in &keys {
                self.generations.bump_key(key);
                self.memory.remove(key);
            }
            if !filters.is_empty() {
                self.generations.bump_all();
                for filter in filters {
                    match filter {
                        KeyFilter::All => self.memory.clear(),
                        KeyFilter::Prefix(prefix) => self.memory.invalidate_prefix(prefix),
                        KeyFilter::Pattern(pattern) => {
                            self.memory.invalidate_if(|key| pattern.is_match(key))
                        }
                    };
                }
            }
        }
        self.bus.counters.received.add(messages);
        // Still owed: a loss not yet cleared for, or a failure to retry.
        (forget && !clear) || failed
    }

    /// Whether every shared tier answers as healthy now (true when there is
    /// none). A half-open breaker is `Degraded`: not yet.
    async fn shared_tiers_reachable(&self) -> bool {
        for tier in self.tiers.iter().filter(|t| t.scope() == TierScope::Shared) {
            if tier.health().await != TierHealth::Healthy {
                return false;
            }
        }
        true
    }

    fn private_error(&self, tier: &dyn Tier, operation: &str, error: &crate::tier::TierError) {
        self.bus.counters.local_tier_errors.inc();
        tracing::warn!(
            tier = tier.name(),
            operation,
            %error,
            "could not apply another instance's invalidation to a private tier; \
             clearing it is retried (BackplaneReport::local_tier_errors)"
        );
    }
}
