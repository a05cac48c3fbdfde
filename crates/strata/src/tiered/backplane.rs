//! The cross-instance backplane: how one [`TieredCache`]'s mutations reach
//! the memory tiers (and private lower tiers) of the other instances that
//! share its lower tiers.
//!
//! A shared lower tier (Redis) is coherent by itself: every instance reads
//! the same entries and the same tag epochs. What it cannot reach is each
//! instance's own memory tier and its private lower tiers (a local disk,
//! [`TierScope::Private`](crate::tier::TierScope)). So every **mutation**
//! (`set`, `remove`, an invalidation by tag, prefix, pattern, or `clear`)
//! is published on the backplane after the lower tiers have it, and every
//! other instance drops what the message names from its memory tier at
//! once and from its private tiers in a task of its own (`private`). A fill after a miss
//! (promotion, `get_or_compute`) is never published: it changes nothing
//! another instance could hold stale.
//!
//! Messages can be lost (a dropped connection, a slow subscriber). A
//! backplane that cannot vouch for having delivered everything says so with
//! [`BackplaneEvent::Lost`], and the instance then clears its memory tier
//! and forgets its cached tag epochs, and clears its private tiers once a
//! shared tier can be reached: it serves from the shared tiers until it
//! warms up again, never stale data indefinitely.

use std::sync::Arc;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::Shared;
use super::private::Job;
use crate::pattern::KeyPattern;
use crate::tier::{KeyFilter, TierError};

/// A mutation, as other instances need to hear of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "arg", rename_all = "snake_case")]
#[non_exhaustive]
pub enum BackplaneMessage {
    /// The value under this key changed or was removed.
    Key(String),
    /// Entries with this tag were invalidated (its epoch was bumped).
    Tag(String),
    /// Keys with this prefix were removed.
    Prefix(String),
    /// Keys matching this glob pattern were removed.
    Pattern(String),
    /// Everything was removed.
    Clear,
}

/// What a backplane delivers to an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackplaneEvent {
    /// Another instance's mutation.
    Message(BackplaneMessage),
    /// Messages may have been lost (a gap in a sequence, a reconnection):
    /// the instance must drop what it cannot revalidate.
    Lost,
}

/// A channel between the instances that share lower tiers. Implemented by
/// [`RedisBackplane`](crate::tier::redis::RedisBackplane) over Redis pub/sub.
#[async_trait]
pub trait Backplane: Send + Sync + 'static {
    /// Sends `message` to every other instance (not back to this one).
    ///
    /// # Errors
    /// [`TierError`] when the message could not be sent. The backplane must
    /// make the loss visible to the others (a gap in its sequence), so they
    /// see [`BackplaneEvent::Lost`].
    async fn publish(&self, message: BackplaneMessage) -> Result<(), TierError>;

    /// The events for this instance: the receiver, once (the cache takes it
    /// when it is built); `None` after that.
    fn take_events(&self) -> Option<mpsc::UnboundedReceiver<BackplaneEvent>>;

    /// What carries the messages, for stats and logs (`"pub/sub"`,
    /// `"client tracking"`, …). Default: `"custom"`.
    fn transport(&self) -> String {
        "custom".to_owned()
    }
}

/// Where one cache publishes its mutations, with the counters of what it
/// sent and heard. Cheap to clone: the write-back task holds a clone, so
/// that it can publish a queued write once the lower tiers have it.
#[derive(Clone, Default)]
pub(super) struct Bus {
    pub(super) backplane: Option<SharedBackplane>,
    pub(super) counters: Arc<BusCounters>,
}

impl Bus {
    /// Publishes `message` if there is a backplane. A failure is counted,
    /// not returned: the mutation itself succeeded, and the backplane turns
    /// the lost message into a `Lost` event at the other instances.
    pub(super) async fn publish(&self, message: BackplaneMessage) {
        let Some(backplane) = &self.backplane else {
            return;
        };
        match backplane.publish(message).await {
            Ok(()) => self.counters.published.inc(),
            Err(_) => self.counters.publish_errors.inc(),
        }
    }
}

impl<V> Shared<V>
where
    V: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
{
    /// Publishes `message` on the cache's bus; see [`Bus::publish`].
    pub(super) async fn publish(&self, message: BackplaneMessage) {
        self.bus.publish(message).await;
    }

    /// Applies another instance's mutation to this instance's memory tier,
    /// and queues it for the private lower tiers (`private`).
    fn apply(&self, event: BackplaneEvent) {
        // Generations move before and after, as for a local invalidation:
        // a fill that read a lower tier before the message is discarded.
        // The second bump comes once the private tiers have the change too
        // (`private`), or at once when there are none.
        match event {
            BackplaneEvent::Message(BackplaneMessage::Key(key)) => {
                self.generations.bump_key(&key);
                self.memory.remove(&key);
                if !self.queue_private(Job::Key(key.clone())) {
                    self.generations.bump_key(&key);
                    self.bus.counters.received.inc();
                }
            }
            BackplaneEvent::Message(BackplaneMessage::Tag(tag)) => {
                // Nothing for the private tiers: their entries carry the
                // tag's epoch at write time, and every read from a lower
                // tier checks it against the highest epoch any tier holds,
                // Redis's included, asked afresh once forgotten here.
                self.generations.bump_all();
                self.epochs.forget(&tag);
                self.memory.invalidate_tag(&tag);
                self.generations.bump_all();
                self.bus.counters.received.inc();
            }
            BackplaneEvent::Message(BackplaneMessage::Prefix(prefix)) => {
                self.generations.bump_all();
                self.memory.invalidate_prefix(&prefix);
                self.finish_wide(Job::Filter(KeyFilter::Prefix(prefix)));
            }
            BackplaneEvent::Message(BackplaneMessage::Pattern(pattern)) => {
                self.generations.bump_all();
                let filter = match KeyPattern::new(&pattern) {
                    Ok(pattern) => {
                        self.memory.invalidate_if(|key| pattern.is_match(key));
                        KeyFilter::Pattern(pattern)
                    }
                    // Another build sent a pattern this one cannot parse:
                    // dropping everything is the only safe reading.
                    Err(_) => {
                        self.memory.clear();
                        KeyFilter::All
                    }
                };
                self.finish_wide(Job::Filter(filter));
            }
            BackplaneEvent::Message(BackplaneMessage::Clear) => {
                self.generations.bump_all();
                self.epochs.forget_all();
                self.memory.clear();
                self.finish_wide(Job::Filter(KeyFilter::All));
            }
            BackplaneEvent::Lost => {
                self.bus.counters.lost.inc();
                self.bus.counters.received.inc();
                self.lost_track();
            }
        }
    }

    /// Queues a message that covers many keys for the private tiers, or
    /// finishes it now when there are none.
    fn finish_wide(&self, job: Job) {
        if !self.queue_private(job) {
            self.generations.bump_all();
            self.bus.counters.received.inc();
        }
    }

    /// For when the cache cannot vouch for what it holds (a lost message, a
    /// tier back from an outage): [`forget_unverifiable`] now, and a clear
    /// of the private tiers, once the shared ones can be reached (`private`).
    ///
    /// [`forget_unverifiable`]: Self::forget_unverifiable
    pub(super) fn lost_track(&self) {
        self.forget_unverifiable();
        self.queue_private(Job::Forget);
    }

    /// Clears the memory tier and forgets every cached tag epoch. Fills in
    /// flight are discarded.
    pub(super) fn forget_unverifiable(&self) {
        self.generations.bump_all();
        self.epochs.forget_all();
        self.memory.clear();
        self.generations.bump_all();
    }
}

/// Applies every event of `events` to the cache behind `shared`, until the
/// backplane stops or the cache is dropped.
pub(super) async fn listen<V>(
    shared: std::sync::Weak<Shared<V>>,
    mut events: mpsc::UnboundedReceiver<BackplaneEvent>,
) where
    V: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
{
    while let Some(event) = events.recv().await {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        shared.apply(event);
    }
}

/// Counters of the backplane, in [`TieredStats`](super::TieredStats).
#[derive(Debug, Default)]
pub(super) struct BusCounters {
    pub(super) published: Counter,
    pub(super) publish_errors: Counter,
    pub(super) received: Counter,
    pub(super) lost: Counter,
    pub(super) local_tier_errors: Counter,
}

/// A relaxed event counter.
#[derive(Debug, Default)]
pub(super) struct Counter(std::sync::atomic::AtomicU64);

impl Counter {
    pub(super) fn inc(&self) {
        self.add(1);
    }

    pub(super) fn add(&self, n: u64) {
        self.0.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }

    pub(super) fn get(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// A shared backplane handle.
pub(super) type SharedBackplane = Arc<dyn Backplane>;
