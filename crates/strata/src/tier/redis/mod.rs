//! The shared Redis tier: [`RedisTier`].
//!
//! A key → envelope store in a Redis server (or anything that speaks its
//! protocol: Valkey, Dragonfly), shared by every process configured with the
//! same server and [key prefix](RedisTierBuilder::key_prefix), with tag
//! epochs shared the same way. `docs/redis-tier.md` describes the design; in
//! short:
//!
//! * **Layout.** The envelope of `key` is a plain string value at
//!   `{prefix}v:{key}`; tag epochs are the fields of one hash,
//!   `{prefix}tags`. Nothing else is stored.
//! * **Expiry** is Redis's own: an entry expiring at `t` (calendar ms) is
//!   written with `SET … PX (t - now)`, `now` read from the tier's
//!   [clock](RedisTierBuilder::clock). An entry already expired when written
//!   is not stored, and any older value under its key is deleted.
//! * **Batches** are one round trip: `put_many` and `delete_many` are one
//!   pipeline (`SET`s and `UNLINK`s) or one `UNLINK`, `get_many` one `MGET`.
//! * **Replays** ([`put_many_unless_newer`](crate::Tier::put_many_unless_newer),
//!   used by a circuit breaker after an outage) run a Lua script that
//!   writes an entry only if Redis holds no envelope of its key written
//!   later (by `created_at_ms`), so a queued write never replaces another
//!   instance's newer one.
//! * **Tag epochs**: `bump_tag_epoch` is `HINCRBY` (atomic across every
//!   instance), `raise_tag_epoch` a Lua script that sets the field only if
//!   the new epoch is greater, `tag_epochs` one `HMGET`.
//! * **Scans** use `SCAN … MATCH` with a pattern derived from the filter
//!   (literal parts escaped; wildcards widened where Redis's glob differs),
//!   and every key is checked again with
//!   [`KeyFilter::matches`](crate::KeyFilter::matches), so a filter selects
//!   exactly the keys it selects in every other tier. Cost: one round trip
//!   per [`scan_count`](RedisTierBuilder::scan_count) keys *of the whole
//!   database*, since Redis scans all keys. `delete_matching` and `clear`
//!   `UNLINK` each page's matches as they go; `clear` keeps the epochs.
//! * **Timeouts and errors.** Every round trip is bounded by the
//!   [command timeout](RedisTierBuilder::command_timeout)
//!   ([`TierError::Timeout`]); a refused, reset or broken connection is
//!   [`TierError::Unavailable`] at once; no request waits longer than its
//!   timeout, whatever Redis does. The connection is re-made on demand when
//!   Redis comes back, and a request that met the dead connection is sent
//!   once more on the new one, so the first request after a restart is
//!   served (see [`RedisTierBuilder::connect`]).
//! * **Durability** is Redis's: `put` returns once Redis has applied the
//!   write, so [`flush`](crate::Tier::flush) has nothing to do. Whether the
//!   write survives a Redis restart depends on its persistence settings; a
//!   cache tier may lose entries, and the stack treats a lost entry as a
//!   miss.
//! * **The tags hash must outlive the values.** If Redis drops it while
//!   values stay (an `allkeys-*` eviction policy may evict it; it has no
//!   TTL), epochs restart from zero and entries invalidated by tag become
//!   valid again. Run the tier with `maxmemory-policy` `volatile-lru`,
//!   `volatile-lfu`, `volatile-ttl` or `noeviction` (give entries TTLs so
//!   the volatile policies can evict them); `docs/redis-tier.md` has the
//!   details.
//!
//! What one instance can count is its own traffic ([`RedisStats`]);
//! [`stats`](crate::Tier::stats) reports acknowledged writes as `commits`
//! and leaves entries and bytes at zero, because the store is shared.
//!
//! # Redis Cluster
//!
//! Not supported yet; this is what it would need. Multi-key commands (`MGET`,
//! a multi-key `UNLINK`) only work within one hash slot, so batches must be
//! split by slot (a cluster client does this per node), or keys given a hash
//! tag (`{prefix}v:{key}` with braces around a part) to keep them in one
//! slot, which puts every key of the tag on one node. The tags hash is one
//! key, so its commands and the Lua script work unchanged (it is one hot
//! key). `SCAN` walks one node: a scan must run on every master and merge.
//!
//! ```no_run
//! # async fn run() -> Result<(), strata::TierError> {
//! use std::time::Duration;
//! use strata::tier::redis::RedisTier;
//! use strata::{Tier, TierWrite};
//!
//! let tier = RedisTier::builder("redis://127.0.0.1:6379")
//!     .key_prefix("app:")
//!     .command_timeout(Duration::from_millis(100))
//!     .connect()
//!     .await?;
//! tier.put(TierWrite { key: "k".into(), bytes: b"envelope".to_vec(), expires_at_ms: None })
//!     .await?;
//! assert_eq!(tier.get("k").await?.as_deref(), Some(&b"envelope"[..]));
//! # Ok(()) }
//! ```

mod backplane;
mod backplane_builder;
mod builder;
mod epochs;
mod errors;
mod invalidations;
mod keys;
mod scan;
mod stats;
mod tier_impl;
mod tracking;
mod transport;
mod unless_newer;

pub use backplane::RedisBackplane;
pub use backplane_builder::{BackplaneConfigError, RedisBackplaneBuilder};
pub use builder::{MAX_ENTRY_LIMIT, RedisConfigError, RedisTierBuilder};
pub use stats::RedisStats;
pub use transport::{BackplaneTransport, TransportMode};

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::ConnectionManager;
use ::redis::{Cmd, FromRedisValue, RedisResult};

use crate::WallClock;
use crate::tier::TierError;
use errors::{from_redis, timeout};
use keys::KeyLayout;
use stats::Counters;

/// The shared Redis tier. Cheap to clone: clones share one connection and
/// one set of counters.
///
/// Connect with [`RedisTier::builder`]; it implements [`Tier`](crate::Tier).
/// There is nothing to close: the connection closes when the last clone is
/// dropped, and every acknowledged write is already in Redis.
#[derive(Clone)]
pub struct RedisTier {
    inner: Arc<Inner>,
}

/// Leaves the URL out: it may hold a password.
impl std::fmt::Debug for RedisTier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTier")
            .field("key_prefix", &self.inner.layout.prefix())
            .field("command_timeout", &self.inner.command_timeout)
            .finish_non_exhaustive()
    }
}

/// One connected tier.
struct Inner {
    /// Multiplexed: every request of every clone shares one connection, and
    /// the manager re-makes it after a failure. Cloning it is an `Arc`
    /// clone; each request takes its own clone because sending needs `&mut`.
    connection: ConnectionManager,
    layout: KeyLayout,
    command_timeout: Duration,
    connect_timeout: Duration,
    max_entry_bytes: u64,
    scan_count: usize,
    clock: Arc<dyn WallClock>,
    /// Built once: it hashes its source for `EVALSHA`.
    raise_script: ::redis::Script,
    /// The conditional put of a replay (`unless_newer.rs`).
    unless_newer_script: ::redis::Script,
    counters: Counters,
}

/// Whether a request may be sent again after the connection dropped under
/// it, when Redis may or may not have run it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resend {
    /// Running it twice leaves Redis as running it once: reads, `SET`,
    /// `UNLINK`, the scripts that only raise or only write the newer.
    Safe,
    /// Running it twice would change the result (`HINCRBY`).
    Never,
}

/// Whether a round trip changes data: acknowledged writes are counted
/// separately (they are the tier's `commits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
}

impl RedisTier {
    /// Settings for a tier on the Redis server at `url`
    /// (`redis://[:password@]host[:port][/db]`, `rediss://` for TLS where
    /// the `redis` crate is built with it, `redis+unix:///path`).
    pub fn builder(url: impl Into<String>) -> RedisTierBuilder {
        RedisTierBuilder::new(url.into())
    }

    /// The key prefix this tier reads and writes under.
    pub fn key_prefix(&self) -> &str {
        self.inner.layout.prefix()
    }

    /// This instance's traffic counters (shared by its clones).
    pub fn redis_stats(&self) -> RedisStats {
        self.inner.counters.snapshot()
    }

    fn from_parts(builder: RedisTierBuilder, connection: ConnectionManager) -> Self {
        Self {
            inner: Arc::new(Inner {
                connection,
                layout: KeyLayout::new(&builder.key_prefix),
                command_timeout: builder.command_timeout,
                connect_timeout: builder.connect_timeout,
                max_entry_bytes: builder.max_entry_bytes,
                scan_count: builder.scan_count,
                clock: builder.clock,
                raise_script: ::redis::Script::new(epochs::RAISE_SCRIPT),
                unless_newer_script: ::redis::Script::new(unless_newer::UNLESS_NEWER_SCRIPT),
                counters: Counters::default(),
            }),
        }
    }

    /// `PING`, within the command timeout.
    async fn ping(&self) -> Result<(), TierError> {
        self.query::<()>(Access::Read, &::redis::cmd("PING")).await
    }

    /// Runs one command as one round trip (two if the connection dropped
    /// under it; see [`bounded`](Self::bounded)). For commands that may run
    /// twice without harm.
    async fn query<T: FromRedisValue>(&self, access: Access, cmd: &Cmd) -> Result<T, TierError> {
        self.bounded(access, Resend::Safe, |mut connection| async move {
            cmd.query_async(&mut connection).await
        })
        .await
    }

    /// Runs one command that must not run twice (`HINCRBY`): never resent.
    async fn query_once<T: FromRedisValue>(
        &self,
        access: Access,
        cmd: &Cmd,
    ) -> Result<T, TierError> {
        self.bounded(access, Resend::Never, |mut connection| async move {
            cmd.query_async(&mut connection).await
        })
        .await
    }

    /// Runs one request (a command, a pipeline, a script call) within the
    /// command timeout, mapping and counting its outcome. `request` sends
    /// it on the connection it is given.
    ///
    /// The connection manager learns that its connection is dead only when
    /// a request fails on it (a Redis restart, a dropped socket): that
    /// request fails with a dropped-connection error, and the manager starts
    /// reconnecting. So a request that [`Resend::Safe`] allows is sent once
    /// more when that happens, on the connection being re-made; the first
    /// request after Redis comes back then succeeds instead of failing for
    /// the dead socket. Once only: a Redis that is still down refuses the
    /// second attempt at once. Both attempts share one command timeout.
    async fn bounded<T, F, Fut>(
        &self,
        access: Access,
        resend: Resend,
        mut request: F,
    ) -> Result<T, TierError>
    where
        F: FnMut(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let inner = &*self.inner;
        let attempts = async {
            inner.counters.round_trip();
            match request(inner.connection.clone()).await {
                Err(error) if resend == Resend::Safe && error.is_connection_dropped() => {
                    inner.counters.round_trip();
                    request(inner.connection.clone()).await
                }
                outcome => outcome,
            }
        };
        // Dropping the request on timeout is safe: the multiplexed
        // connection discards the reply when it comes.
        match tokio::time::timeout(inner.command_timeout, attempts).await {
            Ok(Ok(value)) => {
                if access == Access::Write {
                    inner.counters.write_acknowledged();
                }
                Ok(value)
            }
            Ok(Err(error)) => Err(inner
                .counters
                .failed(from_redis(error, inner.connect_timeout))),
            Err(_) => Err(inner.counters.failed(timeout(inner.command_timeout))),
        }
    }
}
