//! What can go wrong inside a lower tier.

use std::error::Error as StdError;

/// An error from a lower tier. The operation may or may not have happened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TierError {
    /// Reading or writing the tier's files failed.
    #[error("{tier} tier: I/O error: {source}")]
    Io {
        /// The tier's name.
        tier: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The tier was configured with a setting it cannot work with.
    #[error("{tier} tier: invalid configuration: {source}")]
    Config {
        /// The tier's name.
        tier: String,
        /// What is wrong with the setting.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    /// The storage engine behind the tier reported an error.
    #[error("{tier} tier: {source}")]
    Engine {
        /// The tier's name.
        tier: String,
        /// The engine's error.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    /// The entry is larger than the tier can ever hold.
    #[error("{tier} tier: entry of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The tier's name.
        tier: String,
        /// The entry's size in bytes (key and envelope).
        size: u64,
        /// The largest entry the tier accepts.
        limit: u64,
    },
    /// The tier did not answer within its timeout.
    #[error("{tier} tier: timed out after {millis} ms")]
    Timeout {
        /// The tier's name.
        tier: String,
        /// The timeout that passed.
        millis: u64,
    },
    /// The tier is unavailable (down, or its circuit breaker is open).
    #[error("{tier} tier is unavailable: {reason}")]
    Unavailable {
        /// The tier's name.
        tier: String,
        /// Why.
        reason: String,
    },
    /// The tier has been closed.
    #[error("{tier} tier is closed")]
    Closed {
        /// The tier's name.
        tier: String,
    },
}

impl TierError {
    /// Wraps an engine error for the tier named `tier`.
    pub fn engine(tier: &str, source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::Engine {
            tier: tier.to_owned(),
            source: source.into(),
        }
    }
}
