//! The client-tracking half of a [`RedisBackplane`](super::RedisBackplane):
//! one RESP3 connection with `CLIENT TRACKING on BCAST PREFIX {prefix}v:
//! PREFIX {prefix}tags`, whose `invalidate` pushes become backplane events.
//!
//! In BCAST mode Redis reports every change to a key under a tracked prefix
//! to every tracking connection, whoever made it: another Strata instance,
//! `redis-cli`, a script, an expiry or an eviction. It sends them after the
//! command that made the change has run, so a read made after the event
//! sees the change.
//!
//! The connection is this module's only: it writes nothing, so `NOLOOP`
//! (which hides a connection's *own* writes from itself) would change
//! nothing, and the instance's own writes, made on the tier's connection,
//! come back too. `docs/backplane.md` says why that is accepted.
//!
//! Losses: a dropped connection (the driver's `Disconnection` push, or a
//! `PING` not answered within the command timeout every heartbeat) means
//! changes may go unseen. The listener reports [`BackplaneEvent::Lost`] at
//! once, again every heartbeat while it cannot re-establish tracking, and
//! once more when tracking is back, since what the instance filled while
//! deaf may already be stale.

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

use ::redis::aio::MultiplexedConnection;
use ::redis::{AsyncConnectionConfig, ProtocolVersion, PushInfo, PushKind, RedisResult};
use tokio::sync::mpsc;

use super::errors::{TIER, from_redis, timeout};
use super::invalidations::{Invalidation, TagSnapshot, read_push};
use super::keys::KeyLayout;
use crate::tier::TierError;
use crate::tiered::{BackplaneEvent, BackplaneMessage};

/// How long a failed attempt to re-establish tracking waits before the
/// next: as the pub/sub listener's resubscription, short (the instance
/// keeps dropping its memory tier meanwhile) but not a spin.
const RETRY_AFTER: Duration = Duration::from_millis(100);

/// Why tracking could not be turned on.
#[derive(Debug)]
pub(super) enum OpenError {
    /// The server answered, but not RESP3 or `CLIENT TRACKING`: older
    /// than Redis 6, or a Redis-compatible server without them, or a user
    /// whose ACL denies them. The reply, in words.
    Unsupported(String),
    /// The server could not be reached or did not answer in time.
    Failed(TierError),
}

/// A connection with tracking on, and what it has heard so far.
pub(super) struct Tracked {
    connection: MultiplexedConnection,
    pushes: mpsc::UnboundedReceiver<PushInfo>,
    tags: TagSnapshot,
}

/// How to (re-)establish tracking for one key prefix.
pub(super) struct Tracker {
    /// The same server and credentials as the backplane's, speaking RESP3:
    /// invalidations arrive as pushes on the connection that asked for
    /// them (RESP2 would need a second, subscribed connection and
    /// `REDIRECT`).
    client: ::redis::Client,
    layout: KeyLayout,
    command_timeout: Duration,
    heartbeat: Duration,
}

/// How a period of serving ended.
enum Served {
    /// The backplane's receiver is gone: stop.
    Closed,
    /// Tracking is lost: re-establish it.
    Broken,
}

impl Tracker {
    /// A tracker for the values and tags of `key_prefix` on the server of
    /// `client`.
    ///
    /// # Errors
    /// [`TierError::Config`] when the client's settings cannot be reused
    /// with RESP3 (they came from a URL already parsed, so this is not
    /// expected).
    pub(super) fn new(
        client: &::redis::Client,
        key_prefix: &str,
        command_timeout: Duration,
        heartbeat: Duration,
    ) -> Result<Self, TierError> {
        let info = client.get_connection_info().clone();
        let resp3 = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let client = ::redis::Client::open(info.set_redis_settings(resp3)).map_err(|error| {
            TierError::Config {
                tier: TIER.to_owned(),
                source: Box::new(error),
            }
        })?;
        Ok(Self {
            client,
            layout: KeyLayout::new(key_prefix),
            command_timeout,
            heartbeat,
        })
    }

    /// Connects with RESP3, turns tracking on and reads the tags hash.
    /// Once this returns, every later change is reported on the pushes.
    pub(super) async fn open(&self) -> Result<Tracked, OpenError> {
        let (push_tx, pushes) = mpsc::unbounded_channel();
        let config = AsyncConnectionConfig::new()
            .set_push_sender(push_tx)
            .set_connection_timeout(Some(self.command_timeout))
            .set_response_timeout(Some(self.command_timeout));
        let connecting = self
            .client
            .get_multiplexed_async_connection_with_config(&config);
        let mut connection = self.bounded(connecting).await?;
        let mut tracking = ::redis::cmd("CLIENT");
        tracking
            .arg("TRACKING")
            .arg("ON")
            .arg("BCAST")
            .arg("PREFIX")
            .arg(self.layout.value_key(""))
            .arg("PREFIX")
            .arg(self.layout.tags_key());
        self.bounded(tracking.query_async::<()>(&mut connection))
            .await?;
        // Read after tracking is on: a bump between the two is both in
        // the snapshot and reported, which only names a tag twice.
        let tags = self
            .fetch_tags(&mut connection)
            .await
            .map_err(OpenError::Failed)?;
        Ok(Tracked {
            connection,
            pushes,
            tags,
        })
    }

    /// Serves `tracked`, re-establishing tracking whenever it is lost, until
    /// the receiver of `events` is gone.
    pub(super) async fn run(
        self,
        mut tracked: Tracked,
        events: mpsc::UnboundedSender<BackplaneEvent>,
    ) {
        loop {
            if let Served::Closed = self.serve(&mut tracked, &events).await {
                return;
            }
            // Changes from now until tracking is back go unseen: drop what
            // memory holds now…
            if events.send(BackplaneEvent::Lost).is_err() {
                return;
            }
            let mut last_lost = Instant::now();
            tracked = loop {
                tokio::time::sleep(RETRY_AFTER).await;
                if let Ok(tracked) = self.open().await {
                    break tracked;
                }
                // …and, while deaf, what was filled since.
                if last_lost.elapsed() >= self.heartbeat {
                    if events.send(BackplaneEvent::Lost).is_err() {
                        return;
                    }
                    last_lost = Instant::now();
                }
                if events.is_closed() {
                    return;
                }
            };
            // …and what was filled while deaf, once hearing again.
            if events.send(BackplaneEvent::Lost).is_err() {
                return;
            }
        }
    }

    /// Turns pushes into events until tracking breaks or the receiver goes.
    async fn serve(
        &self,
        tracked: &mut Tracked,
        events: &mpsc::UnboundedSender<BackplaneEvent>,
    ) -> Served {
        let mut ticks = tokio::time::interval(self.heartbeat);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                push = tracked.pushes.recv() => {
                    // No sender: the connection's driver is gone.
                    let Some(push) = push else { return Served::Broken };
                    let Ok(heard) = self.handle(tracked, push).await else {
                        return Served::Broken;
                    };
                    for event in heard {
                        if events.send(event).is_err() {
                            return Served::Closed;
                        }
                    }
                }
                _ = ticks.tick() => {
                    if events.is_closed() {
                        return Served::Closed;
                    }
                    // A connection can die without a word (a partition, a
                    // stalled server): an unanswered PING is a loss.
                    let ping = ::redis::cmd("PING");
                    let pinged = ping.query_async::<()>(&mut tracked.connection);
                    if !matches!(
                        tokio::time::timeout(self.command_timeout, pinged).await,
                        Ok(Ok(()))
                    ) {
                        return Served::Broken;
                    }
                }
            }
        }
    }

    /// The events one push means; `Err` when tracking is lost.
    async fn handle(
        &self,
        tracked: &mut Tracked,
        push: PushInfo,
    ) -> Result<Vec<BackplaneEvent>, ()> {
        match push.kind {
            PushKind::Disconnection => Err(()),
            PushKind::Invalidate => match read_push(&self.layout, &push.data) {
                Some(Invalidation::Keys { keys, tags }) => {
                    let mut heard: Vec<BackplaneEvent> = keys
                        .into_iter()
                        .map(|key| BackplaneEvent::Message(BackplaneMessage::Key(key)))
                        .collect();
                    if tags {
                        let fresh = self
                            .fetch_tags(&mut tracked.connection)
                            .await
                            .map_err(|_| ())?;
                        heard.extend(
                            tracked
                                .tags
                                .replace(fresh)
                                .into_iter()
                                .map(|tag| BackplaneEvent::Message(BackplaneMessage::Tag(tag))),
                        );
                    }
                    Ok(heard)
                }
                Some(Invalidation::Flushed) => {
                    // Clear drops every cached epoch too; the copy only
                    // needs to match Redis again (empty, unless refilled).
                    tracked.tags = self
                        .fetch_tags(&mut tracked.connection)
                        .await
                        .map_err(|_| ())?;
                    Ok(vec![BackplaneEvent::Message(BackplaneMessage::Clear)])
                }
                None => Ok(Vec::new()),
            },
            // Nothing else is asked for on this connection.
            _ => Ok(Vec::new()),
        }
    }

    /// `HGETALL {prefix}tags`, within the command timeout.
    async fn fetch_tags(
        &self,
        connection: &mut MultiplexedConnection,
    ) -> Result<TagSnapshot, TierError> {
        let mut command = ::redis::cmd("HGETALL");
        command.arg(self.layout.tags_key());
        // A map in RESP3; `HashMap` reads it (and RESP2's flat pairs).
        let fetch = command.query_async::<HashMap<Vec<u8>, Vec<u8>>>(connection);
        match tokio::time::timeout(self.command_timeout, fetch).await {
            Ok(Ok(fields)) => Ok(TagSnapshot::from_fields(fields)),
            Ok(Err(error)) => Err(from_redis(error, self.command_timeout)),
            Err(_) => Err(timeout(self.command_timeout)),
        }
    }

    /// One step of [`open`](Self::open), within the command timeout; an
    /// error reply means the server lacks what tracking needs.
    async fn bounded<T>(&self, step: impl Future<Output = RedisResult<T>>) -> Result<T, OpenError> {
        match tokio::time::timeout(self.command_timeout, step).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => {
                let reply = error.to_string();
                match from_redis(error, self.command_timeout) {
                    // Not Unavailable, not Timeout: the server answered no
                    // (`HELLO` or `CLIENT TRACKING` unknown, or refused).
                    TierError::Engine { .. } => Err(OpenError::Unsupported(reply)),
                    other => Err(OpenError::Failed(other)),
                }
            }
            Err(_) => Err(OpenError::Failed(timeout(self.command_timeout))),
        }
    }
}
