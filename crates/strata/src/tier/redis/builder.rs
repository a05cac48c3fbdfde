//! [`RedisTierBuilder`]: the settings of a Redis tier, validated when it
//! connects.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::RedisTier;
use super::errors::{TIER, from_redis, timeout};
use crate::tier::TierError;
use crate::{SystemClock, WallClock};

const MIB: u64 = 1024 * 1024;

/// The largest `max_entry_bytes` accepted: 512 MiB, the largest string a
/// Redis server accepts by default (`proto-max-bulk-len`).
pub const MAX_ENTRY_LIMIT: u64 = 512 * MIB;

/// Why a [`RedisTierBuilder`] configuration was refused. Returned inside
/// [`TierError::Config`] by [`RedisTierBuilder::connect`]; downcast the
/// source to tell which setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RedisConfigError {
    /// A setting that must be positive was zero.
    #[error("{0} must be greater than zero")]
    Zero(&'static str),
    /// `max_entry_bytes` is above [`MAX_ENTRY_LIMIT`].
    #[error("max_entry_bytes ({0}) must be at most {MAX_ENTRY_LIMIT}")]
    EntryLimit(u64),
    /// The URL is not a Redis URL the client understands.
    #[error("invalid Redis URL: {0}")]
    Url(String),
}

/// Settings of a [`RedisTier`]; see each setter for its default.
///
/// ```no_run
/// # async fn run() -> Result<(), strata::TierError> {
/// use std::time::Duration;
/// use strata::tier::redis::RedisTier;
///
/// let tier = RedisTier::builder("redis://127.0.0.1:6379/0")
///     .key_prefix("shop:")
///     .command_timeout(Duration::from_millis(100))
///     .connect()
///     .await?;
/// # Ok(()) }
/// ```
#[must_use = "a builder does nothing until `connect` is called"]
pub struct RedisTierBuilder {
    pub(super) url: String,
    pub(super) key_prefix: String,
    pub(super) connect_timeout: Duration,
    pub(super) command_timeout: Duration,
    pub(super) max_entry_bytes: u64,
    pub(super) scan_count: usize,
    pub(super) clock: Arc<dyn WallClock>,
}

/// Leaves the URL out: it may hold a password.
impl fmt::Debug for RedisTierBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisTierBuilder")
            .field("key_prefix", &self.key_prefix)
            .field("connect_timeout", &self.connect_timeout)
            .field("command_timeout", &self.command_timeout)
            .field("max_entry_bytes", &self.max_entry_bytes)
            .field("scan_count", &self.scan_count)
            .finish_non_exhaustive()
    }
}

impl RedisTierBuilder {
    pub(super) fn new(url: String) -> Self {
        Self {
            url,
            key_prefix: "strata:".to_owned(),
            connect_timeout: Duration::from_secs(1),
            command_timeout: Duration::from_millis(250),
            max_entry_bytes: 16 * MIB,
            scan_count: 1000,
            clock: Arc::new(SystemClock::new()),
        }
    }

    /// What every Redis key of this tier starts with. Instances with the
    /// same prefix (on the same server and database) share values and tag
    /// epochs; instances with different prefixes are isolated, provided
    /// neither prefix starts with the other followed by `v:` (`app:` and
    /// `app:v:` would see each other's values): end prefixes with a
    /// separator and do not nest them.
    ///
    /// Default: `"strata:"`.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// How long [`connect`](Self::connect), and each reconnection attempt
    /// after Redis went away, may take.
    ///
    /// Default: 1 s, the `redis` crate's own default: enough for a TLS
    /// handshake across a region, and short enough that startup against a
    /// dead address fails quickly.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long one request may take: one command, one pipeline (a whole
    /// batch) or one `SCAN` page, including waiting for a reconnection.
    /// When it passes the request fails with [`TierError::Timeout`]; the
    /// command may still run on the server.
    ///
    /// Default: 250 ms. Redis answers in well under a millisecond on a LAN
    /// and in a few across zones; a quarter second leaves room for a 16 MiB
    /// value at 1 Gbit/s, yet bounds what a stalled Redis adds to a read
    /// that then falls through to the loader.
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = timeout;
        self
    }

    /// The largest entry (key plus envelope) accepted; a batch holding a
    /// larger one is refused with [`TierError::TooLarge`] before anything is
    /// sent, so nothing of it is stored. At most [`MAX_ENTRY_LIMIT`].
    ///
    /// Default: 16 MiB. Redis serves one command at a time, so a large value
    /// delays every client of the server while it is copied; larger entries
    /// belong in the disk tier.
    pub fn max_entry_bytes(mut self, bytes: u64) -> Self {
        self.max_entry_bytes = bytes;
        self
    }

    /// The `COUNT` hint of each `SCAN` page: about how many keys Redis
    /// examines per round trip of [`scan`](crate::Tier::scan),
    /// [`delete_matching`](crate::Tier::delete_matching) and
    /// [`clear`](crate::Tier::clear).
    ///
    /// Default: 1000: a page takes Redis well under a millisecond, and a
    /// million keys take a thousand round trips.
    pub fn scan_count(mut self, count: usize) -> Self {
        self.scan_count = count;
        self
    }

    /// The clock that turns an entry's expiry (calendar milliseconds) into
    /// the time to live sent to Redis: an entry expiring at `t` is stored
    /// with `PX t - now`, and one already expired is not stored. Relative
    /// TTLs make Redis expire entries when this clock says, whatever the
    /// server's own clock says.
    ///
    /// Default: [`SystemClock`].
    pub fn clock(mut self, clock: Arc<dyn WallClock>) -> Self {
        self.clock = clock;
        self
    }

    /// Connects to Redis and returns once it has answered a `PING`.
    ///
    /// The connection is multiplexed (every request of every clone shares
    /// it) and is re-made on demand after Redis goes away: a request that
    /// finds it broken starts a reconnection that later requests wait for
    /// (each within its command timeout), and is sent once more on it
    /// (except a tag bump, which must not run twice); it fails with
    /// [`TierError::Unavailable`] if Redis is still down. Must run inside a
    /// tokio runtime.
    ///
    /// # Errors
    /// [`TierError::Config`] with a [`RedisConfigError`] for an invalid
    /// setting or URL; [`TierError::Unavailable`] when Redis refuses the
    /// connection or cannot serve; [`TierError::Timeout`] when connecting
    /// takes longer than `connect_timeout` or the `PING` longer than
    /// `command_timeout`; [`TierError::Engine`] when Redis answers with an
    /// error (such as a failed `AUTH`).
    pub async fn connect(self) -> Result<RedisTier, TierError> {
        self.validate().map_err(config)?;
        let client = ::redis::Client::open(self.url.as_str())
            .map_err(|error| config(RedisConfigError::Url(error.to_string())))?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.connect_timeout))
            // The tier bounds every request itself (command_timeout), so the
            // driver's own response timer would only race it.
            .set_response_timeout(None)
            // No retries inside a reconnection: while Redis is down each
            // request should fail at once (Unavailable) rather than sleep
            // through a backoff until its timeout. Requests that fail start
            // the next attempt; the circuit breaker will pace them.
            .set_number_of_retries(0);
        let connecting = ConnectionManager::new_with_config(client, manager_config);
        let manager = match tokio::time::timeout(self.connect_timeout, connecting).await {
            Ok(Ok(manager)) => manager,
            Ok(Err(error)) => return Err(from_redis(error, self.connect_timeout)),
            Err(_) => return Err(timeout(self.connect_timeout)),
        };
        let tier = RedisTier::from_parts(self, manager);
        tier.ping().await?;
        Ok(tier)
    }

    fn validate(&self) -> Result<(), RedisConfigError> {
        if self.connect_timeout.is_zero() {
            return Err(RedisConfigError::Zero("connect_timeout"));
        }
        if self.command_timeout.is_zero() {
            return Err(RedisConfigError::Zero("command_timeout"));
        }
        if self.max_entry_bytes == 0 {
            return Err(RedisConfigError::Zero("max_entry_bytes"));
        }
        if self.max_entry_bytes > MAX_ENTRY_LIMIT {
            return Err(RedisConfigError::EntryLimit(self.max_entry_bytes));
        }
        if self.scan_count == 0 {
            return Err(RedisConfigError::Zero("scan_count"));
        }
        Ok(())
    }
}

fn config(error: RedisConfigError) -> TierError {
    TierError::Config {
        tier: TIER.to_owned(),
        source: Box::new(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> RedisTierBuilder {
        RedisTierBuilder::new("redis://127.0.0.1:1".to_owned())
    }

    #[test]
    fn invalid_settings_are_refused_with_the_setting_named() {
        assert_eq!(
            base().connect_timeout(Duration::ZERO).validate(),
            Err(RedisConfigError::Zero("connect_timeout"))
        );
        assert_eq!(
            base().command_timeout(Duration::ZERO).validate(),
            Err(RedisConfigError::Zero("command_timeout"))
        );
        assert_eq!(
            base().max_entry_bytes(0).validate(),
            Err(RedisConfigError::Zero("max_entry_bytes"))
        );
        assert_eq!(
            base().max_entry_bytes(MAX_ENTRY_LIMIT + 1).validate(),
            Err(RedisConfigError::EntryLimit(MAX_ENTRY_LIMIT + 1))
        );
        assert_eq!(
            base().scan_count(0).validate(),
            Err(RedisConfigError::Zero("scan_count"))
        );
        assert_eq!(base().validate(), Ok(()));
    }

    #[test]
    fn debug_leaves_out_the_url_and_its_password() {
        let builder = RedisTierBuilder::new("redis://:hunter2@cache:6379".to_owned());
        let shown = format!("{builder:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("strata:"), "{shown}");
    }

    #[tokio::test]
    async fn a_malformed_url_is_a_config_error() {
        let error = RedisTierBuilder::new("http://not-redis".to_owned())
            .connect()
            .await
            .expect_err("not a Redis URL");
        let TierError::Config { source, .. } = error else {
            panic!("expected a config error, got {error}");
        };
        assert!(matches!(
            source.downcast_ref::<RedisConfigError>(),
            Some(RedisConfigError::Url(_))
        ));
    }
}
