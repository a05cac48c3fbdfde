//! [`RedisBackplane`]: the cross-instance backplane over Redis pub/sub.
//!
//! Every instance publishes its mutations on one channel, as JSON
//! `{"o": origin, "s": seq, "m": message}`: `origin` is a random id per
//! instance (so it ignores its own messages), `seq` counts that instance's
//! messages from 1. A subscriber tracks the last `seq` of every origin it
//! has heard; a message whose `seq` is not the next one means messages were
//! lost, and it reports [`BackplaneEvent::Lost`].
//!
//! A lost *last* message has no successor to reveal the gap, so every
//! instance also publishes a **heartbeat** (`"m": null`) with its current
//! `seq` every `heartbeat` interval: a heartbeat ahead of what a subscriber
//! has heard reveals the loss within one interval. A publish that fails
//! still consumes its `seq`, so the next message or heartbeat reveals it.
//! When the subscription's connection drops, whatever was published
//! meanwhile is gone: the subscriber reports `Lost` as soon as it has
//! subscribed again.
//!
//! Pub/sub delivers to connected subscribers only and keeps nothing, which
//! is what a backplane needs: an instance that was away has nothing to
//! catch up on, because it clears its memory tier on `Lost`.
//!
//! With [`BackplaneTransport::ClientTracking`] (chosen by
//! [`RedisBackplaneBuilder`](super::RedisBackplaneBuilder) where the server
//! supports it), key and tag invalidations come from Redis's client
//! tracking instead (`tracking.rs`), and the `Key` and `Tag` messages heard
//! on the channel are skipped, their sequence numbers still counted. Every
//! instance still publishes every mutation, so instances on pub/sub alone
//! (an older build, a forced mode) hear everything.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt as _;
use parking_lot::Mutex;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::backplane_builder::RedisBackplaneBuilder;
use super::errors::{from_redis, timeout};
use super::tracking::{Tracked, Tracker};
use super::transport::{BackplaneTransport, TransportMode};
use crate::tier::TierError;
use crate::tiered::{Backplane, BackplaneEvent, BackplaneMessage};

/// How long a failed subscription waits before trying again: short, since
/// the instance drops its memory tier while it cannot hear the others, and
/// long enough not to spin against a Redis that is down.
const RESUBSCRIBE_AFTER: Duration = Duration::from_millis(100);

/// One message on the channel.
#[derive(Debug, Serialize, Deserialize)]
struct Wire {
    /// The sending instance.
    o: u64,
    /// Its sequence number: of this message, or for a heartbeat the last
    /// one it sent.
    s: u64,
    /// The mutation; `None` for a heartbeat.
    m: Option<BackplaneMessage>,
}

/// The cross-instance backplane on a Redis server's pub/sub. Give each
/// [`TieredCache`](crate::TieredCache) its own (the cache takes its events).
pub struct RedisBackplane {
    connection: ConnectionManager,
    channel: String,
    origin: u64,
    seq: Arc<AtomicU64>,
    /// Held from taking a seq until its PUBLISH is answered, by messages and
    /// heartbeats alike: seqs reach Redis in order, and a heartbeat never
    /// overtakes the message whose seq it carries (either would look like a
    /// loss to the others, and make them clear their memory tiers).
    sending: Arc<tokio::sync::Mutex<()>>,
    command_timeout: Duration,
    transport: BackplaneTransport,
    events: Mutex<Option<mpsc::UnboundedReceiver<BackplaneEvent>>>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for RedisBackplane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackplane")
            .field("channel", &self.channel)
            .field("origin", &self.origin)
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

impl Drop for RedisBackplane {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl RedisBackplane {
    /// Settings for a backplane on the Redis server at `url` (the URLs of
    /// [`RedisTier::builder`](super::RedisTier::builder)), choosing its
    /// transport when it connects.
    pub fn builder(url: impl Into<String>) -> RedisBackplaneBuilder {
        RedisBackplaneBuilder::new(url.into())
    }

    /// Connects a **pub/sub only** backplane to the Redis server at `url`,
    /// subscribes to `channel`, and starts the heartbeat. Returns once the
    /// subscription is in place, so that nothing published after this
    /// returns is missed. For client tracking where the server supports it,
    /// use [`builder`](Self::builder), which knows the tier's key prefix.
    ///
    /// `heartbeat` bounds how long the loss of a last message goes unseen;
    /// `command_timeout` bounds each publish.
    ///
    /// # Errors
    /// [`TierError::Config`] for a malformed URL or a zero duration;
    /// [`TierError::Unavailable`] or [`TierError::Timeout`] when Redis
    /// cannot be reached.
    pub async fn connect(
        url: &str,
        channel: &str,
        heartbeat: Duration,
        command_timeout: Duration,
    ) -> Result<Self, TierError> {
        Self::builder(url)
            .channel(channel)
            .heartbeat(heartbeat)
            .command_timeout(command_timeout)
            .transport(TransportMode::PubSub)
            .connect()
            .await
    }

    /// The transport of key and tag invalidations, chosen when it connected.
    pub fn transport(&self) -> BackplaneTransport {
        self.transport
    }

    /// Subscribes to `channel`, starts the heartbeat, and serves `tracking`
    /// (already on) when there is one.
    pub(super) async fn start(
        client: redis::Client,
        channel: &str,
        heartbeat: Duration,
        command_timeout: Duration,
        tracking: Option<(Tracker, Tracked)>,
    ) -> Result<Self, TierError> {
        let connecting = ConnectionManager::new(client.clone());
        let connection = tokio::time::timeout(command_timeout, connecting)
            .await
            .map_err(|_| timeout(command_timeout))?
            .map_err(|error| from_redis(error, command_timeout))?;
        let transport = match tracking {
            Some(_) => BackplaneTransport::ClientTracking,
            None => BackplaneTransport::PubSub,
        };
        let origin = rand_origin();
        let seq = Arc::new(AtomicU64::new(0));
        let (tx, rx) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let listener = tokio::spawn(listen(
            client,
            channel.to_owned(),
            origin,
            transport,
            tx.clone(),
            Some(ready_tx),
        ));
        match tokio::time::timeout(command_timeout, ready_rx).await {
            Ok(Ok(())) => {}
            _ => {
                listener.abort();
                return Err(timeout(command_timeout));
            }
        }
        let sending = Arc::new(tokio::sync::Mutex::new(()));
        let beat = tokio::spawn(heartbeat_loop(
            connection.clone(),
            channel.to_owned(),
            origin,
            Arc::clone(&seq),
            Arc::clone(&sending),
            heartbeat,
        ));
        let mut tasks = vec![listener, beat];
        if let Some((tracker, tracked)) = tracking {
            tasks.push(tokio::spawn(tracker.run(tracked, tx)));
        }
        Ok(Self {
            connection,
            channel: channel.to_owned(),
            origin,
            seq,
            sending,
            command_timeout,
            transport,
            events: Mutex::new(Some(rx)),
            tasks,
        })
    }
}

#[async_trait]
impl Backplane for RedisBackplane {
    async fn publish(&self, message: BackplaneMessage) -> Result<(), TierError> {
        let _sending = self.sending.lock().await;
        // Taken before sending: a failed send leaves a gap the others see.
        let s = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        let wire = Wire {
            o: self.origin,
            s,
            m: Some(message),
        };
        send(&self.connection, &self.channel, &wire, self.command_timeout).await
    }

    fn take_events(&self) -> Option<mpsc::UnboundedReceiver<BackplaneEvent>> {
        self.events.lock().take()
    }

    fn transport(&self) -> String {
        self.transport.to_string()
    }
}

async fn send(
    connection: &ConnectionManager,
    channel: &str,
    wire: &Wire,
    limit: Duration,
) -> Result<(), TierError> {
    let payload = serde_json::to_string(wire).map_err(|e| TierError::engine("redis", e))?;
    let mut connection = connection.clone();
    let mut command = redis::cmd("PUBLISH");
    command.arg(channel).arg(payload);
    let publish = command.query_async::<i64>(&mut connection);
    match tokio::time::timeout(limit, publish).await {
        Ok(Ok(_receivers)) => Ok(()),
        Ok(Err(error)) => Err(from_redis(error, limit)),
        Err(_) => Err(timeout(limit)),
    }
}

/// Publishes this instance's current seq every `every`, until aborted.
async fn heartbeat_loop(
    connection: ConnectionManager,
    channel: String,
    origin: u64,
    seq: Arc<AtomicU64>,
    sending: Arc<tokio::sync::Mutex<()>>,
    every: Duration,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let _sending = sending.lock().await;
        let wire = Wire {
            o: origin,
            s: seq.load(Ordering::SeqCst),
            m: None,
        };
        // A failed heartbeat is harmless: the next one carries the same seq.
        let _ = send(&connection, &channel, &wire, every).await;
    }
}

/// Subscribes (again after every failure) and turns messages into events,
/// until the receiver is gone.
async fn listen(
    client: redis::Client,
    channel: String,
    origin: u64,
    transport: BackplaneTransport,
    tx: mpsc::UnboundedSender<BackplaneEvent>,
    mut ready: Option<tokio::sync::oneshot::Sender<()>>,
) {
    let mut heard: HashMap<u64, u64> = HashMap::new();
    loop {
        if let Ok(mut pubsub) = client.get_async_pubsub().await
            && pubsub.subscribe(&channel).await.is_ok()
        {
            match ready.take() {
                Some(ready) => {
                    let _ = ready.send(());
                }
                // A resubscription: anything sent while away is lost.
                None => {
                    heard.clear();
                    if tx.send(BackplaneEvent::Lost).is_err() {
                        return;
                    }
                }
            }
            let mut messages = pubsub.on_message();
            while let Some(message) = messages.next().await {
                let Ok(payload) = message.get_payload::<String>() else {
                    continue;
                };
                let Ok(wire) = serde_json::from_str::<Wire>(&payload) else {
                    continue;
                };
                for event in classify(&mut heard, origin, wire) {
                    if carried_by_tracking(transport, &event) {
                        continue;
                    }
                    if tx.send(event).is_err() {
                        return;
                    }
                }
            }
        }
        if tx.is_closed() {
            return;
        }
        tokio::time::sleep(RESUBSCRIBE_AFTER).await;
    }
}

/// Whether `event` reaches this instance by client tracking already: a
/// change to a value key or to the tags hash is reported by Redis itself,
/// so the message would only apply it twice.
fn carried_by_tracking(transport: BackplaneTransport, event: &BackplaneEvent) -> bool {
    transport == BackplaneTransport::ClientTracking
        && matches!(
            event,
            BackplaneEvent::Message(BackplaneMessage::Key(_) | BackplaneMessage::Tag(_))
        )
}

/// The events one wire message means for this instance, given the last seq
/// heard from each origin.
fn classify(heard: &mut HashMap<u64, u64>, me: u64, wire: Wire) -> Vec<BackplaneEvent> {
    if wire.o == me {
        return Vec::new();
    }
    let mut events = Vec::new();
    let last = heard.get(&wire.o).copied();
    match (&wire.m, last) {
        // A message that is not the next one: some were lost.
        (Some(_), Some(last)) if wire.s != last + 1 => events.push(BackplaneEvent::Lost),
        // A heartbeat ahead of what was heard: the last ones were lost.
        (None, Some(last)) if wire.s > last => events.push(BackplaneEvent::Lost),
        // First word from this origin: nothing before it concerns this
        // instance, which was not listening (or cleared on `Lost`).
        _ => {}
    }
    heard.insert(wire.o, last.map_or(wire.s, |last| last.max(wire.s)));
    if let Some(message) = wire.m {
        events.push(BackplaneEvent::Message(message));
    }
    events
}

/// A random instance id. std's `RandomState` keys come from OS randomness
/// once per thread and change with every `new()`, so the hash of nothing
/// under fresh keys differs per instance and per process.
fn rand_origin() -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(o: u64, s: u64, m: Option<BackplaneMessage>) -> Wire {
        Wire { o, s, m }
    }

    #[test]
    fn gaps_and_heartbeats_ahead_are_losses_and_own_messages_are_ignored() {
        let key = || Some(BackplaneMessage::Key("k".into()));
        let mut heard = HashMap::new();
        assert!(classify(&mut heard, 1, wire(1, 1, key())).is_empty());
        let first = classify(&mut heard, 1, wire(2, 5, key()));
        assert_eq!(
            first,
            vec![BackplaneEvent::Message(BackplaneMessage::Key("k".into()))]
        );
        assert_eq!(classify(&mut heard, 1, wire(2, 6, key())).len(), 1);
        let gap = classify(&mut heard, 1, wire(2, 8, key()));
        assert_eq!(gap[0], BackplaneEvent::Lost);
        assert!(classify(&mut heard, 1, wire(2, 8, None)).is_empty());
        assert_eq!(
            classify(&mut heard, 1, wire(2, 9, None)),
            vec![BackplaneEvent::Lost]
        );
    }
}
