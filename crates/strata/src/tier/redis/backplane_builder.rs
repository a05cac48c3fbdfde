//! [`RedisBackplaneBuilder`]: the settings of a [`RedisBackplane`], and the
//! choice of its transport when it connects.

use std::fmt;
use std::time::Duration;

use super::backplane::RedisBackplane;
use super::errors::TIER;
use super::tracking::{OpenError, Tracker};
use super::transport::TransportMode;
use crate::tier::TierError;

/// Why a [`RedisBackplaneBuilder`] could not connect as configured.
/// Returned inside [`TierError::Config`]; downcast the source to tell which.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BackplaneConfigError {
    /// A setting that must be positive was zero.
    #[error("{0} must be greater than zero")]
    Zero(&'static str),
    /// The URL is not a Redis URL the client understands.
    #[error("invalid Redis URL: {0}")]
    Url(String),
    /// [`TransportMode::ClientTracking`] was required, and the server does
    /// not support it (its reply is given).
    #[error("the server does not support RESP3 client tracking: {0}")]
    TrackingUnsupported(String),
}

/// Settings of a [`RedisBackplane`]; see each setter for its default.
///
/// ```no_run
/// # async fn run() -> Result<(), strata::TierError> {
/// use strata::tier::redis::{BackplaneTransport, RedisBackplane};
///
/// let backplane = RedisBackplane::builder("redis://127.0.0.1:6379")
///     .key_prefix("shop:") // the RedisTier's prefix
///     .connect()
///     .await?;
/// println!("invalidations by {}", backplane.transport());
/// # Ok(()) }
/// ```
#[must_use = "a builder does nothing until `connect` is called"]
pub struct RedisBackplaneBuilder {
    url: String,
    key_prefix: String,
    channel: Option<String>,
    heartbeat: Duration,
    command_timeout: Duration,
    transport: TransportMode,
}

/// Leaves the URL out: it may hold a password.
impl fmt::Debug for RedisBackplaneBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBackplaneBuilder")
            .field("key_prefix", &self.key_prefix)
            .field("channel", &self.channel_name())
            .field("heartbeat", &self.heartbeat)
            .field("command_timeout", &self.command_timeout)
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

impl RedisBackplaneBuilder {
    pub(super) fn new(url: String) -> Self {
        Self {
            url,
            key_prefix: "strata:".to_owned(),
            channel: None,
            heartbeat: Duration::from_secs(1),
            command_timeout: Duration::from_millis(250),
            transport: TransportMode::Auto,
        }
    }

    /// The key prefix of the [`RedisTier`](super::RedisTier) the instances
    /// share: client tracking watches `{prefix}v:` (values) and
    /// `{prefix}tags` (tag epochs). It must be the tier's, or tracking
    /// watches the wrong keys.
    ///
    /// Default: `"strata:"`, the tier's default.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// The pub/sub channel of the instances' messages.
    ///
    /// Default: `{key_prefix}bus`.
    pub fn channel(mut self, channel: impl Into<String>) -> Self {
        self.channel = Some(channel.into());
        self
    }

    /// How often this instance publishes its sequence number (bounding how
    /// long the loss of its last message goes unseen), and how often the
    /// tracking connection is checked with a `PING`.
    ///
    /// Default: 1 s: a lost message or a silently dead connection costs at
    /// most a second of possibly stale reads, for one tiny command per
    /// second per instance.
    pub fn heartbeat(mut self, every: Duration) -> Self {
        self.heartbeat = every;
        self
    }

    /// How long connecting, each publish, each `PING` and each read of the
    /// tags hash may take.
    ///
    /// Default: 250 ms, as the tier's command timeout.
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = timeout;
        self
    }

    /// Which transport carries key and tag invalidations.
    ///
    /// Default: [`TransportMode::Auto`]: client tracking where the server
    /// supports it.
    pub fn transport(mut self, mode: TransportMode) -> Self {
        self.transport = mode;
        self
    }

    fn channel_name(&self) -> String {
        self.channel
            .clone()
            .unwrap_or_else(|| format!("{}bus", self.key_prefix))
    }

    /// Connects: turns on client tracking where the mode asks for it and
    /// the server supports it, subscribes to the channel, starts the
    /// heartbeat. Returns once all of it is in place, so that no change
    /// made after this returns is missed. Must run inside a tokio runtime.
    ///
    /// # Errors
    /// [`TierError::Config`] with a [`BackplaneConfigError`] for an invalid
    /// setting or URL, or when [`TransportMode::ClientTracking`] is asked of
    /// a server without it; [`TierError::Unavailable`] or
    /// [`TierError::Timeout`] when Redis cannot be reached.
    pub async fn connect(self) -> Result<RedisBackplane, TierError> {
        for (name, value) in [
            ("heartbeat", self.heartbeat),
            ("command_timeout", self.command_timeout),
        ] {
            if value.is_zero() {
                return Err(config(BackplaneConfigError::Zero(name)));
            }
        }
        let client = ::redis::Client::open(self.url.as_str())
            .map_err(|error| config(BackplaneConfigError::Url(error.to_string())))?;
        let tracking = match self.transport {
            TransportMode::PubSub => None,
            TransportMode::Auto | TransportMode::ClientTracking => {
                let tracker = Tracker::new(
                    &client,
                    &self.key_prefix,
                    self.command_timeout,
                    self.heartbeat,
                )?;
                match tracker.open().await {
                    Ok(tracked) => Some((tracker, tracked)),
                    Err(OpenError::Unsupported(_)) if self.transport == TransportMode::Auto => None,
                    Err(OpenError::Unsupported(reply)) => {
                        return Err(config(BackplaneConfigError::TrackingUnsupported(reply)));
                    }
                    Err(OpenError::Failed(error)) => return Err(error),
                }
            }
        };
        let channel = self.channel_name();
        RedisBackplane::start(
            client,
            &channel,
            self.heartbeat,
            self.command_timeout,
            tracking,
        )
        .await
    }
}

fn config(error: BackplaneConfigError) -> TierError {
    TierError::Config {
        tier: TIER.to_owned(),
        source: Box::new(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_channel_defaults_to_one_under_the_key_prefix() {
        let builder =
            RedisBackplaneBuilder::new("redis://127.0.0.1:1".to_owned()).key_prefix("app:");
        assert_eq!(builder.channel_name(), "app:bus");
        assert_eq!(builder.channel("other").channel_name(), "other");
    }

    #[tokio::test]
    async fn zero_durations_and_malformed_urls_are_config_errors() {
        let refused = |builder: RedisBackplaneBuilder| async move {
            let error = builder.connect().await.expect_err("refused");
            let TierError::Config { source, .. } = error else {
                panic!("expected a config error, got {error}");
            };
            source
                .downcast_ref::<BackplaneConfigError>()
                .cloned()
                .expect("a BackplaneConfigError")
        };
        let base = || RedisBackplaneBuilder::new("redis://127.0.0.1:1".to_owned());
        assert_eq!(
            refused(base().heartbeat(Duration::ZERO)).await,
            BackplaneConfigError::Zero("heartbeat")
        );
        assert_eq!(
            refused(base().command_timeout(Duration::ZERO)).await,
            BackplaneConfigError::Zero("command_timeout")
        );
        assert!(matches!(
            refused(RedisBackplaneBuilder::new("http://not-redis".to_owned())).await,
            BackplaneConfigError::Url(_)
        ));
    }
}
