//! What can go wrong in a [`TieredCache`](super::TieredCache) call.

use crate::envelope::EnvelopeError;
use crate::error::{InsertError, PatternError};
use crate::tier::TierError;

/// Why a [`TieredCache`](super::TieredCache) operation failed.
///
/// Reads never fail with this: a tier that cannot be read is a miss of that
/// tier. Writes and invalidations return it, saying which tier failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// The value could not be serialized with the cache's codec.
    #[error("the value could not be encoded: {0}")]
    Encode(#[source] EnvelopeError),
    /// The serialized value is larger than the cache's `max_value_bytes`.
    #[error("the encoded value is {size} bytes, more than the limit of {limit}")]
    TooLarge {
        /// The serialized value's size in bytes.
        size: u64,
        /// The configured limit.
        limit: u64,
    },
    /// The memory tier refused the entry (for example, heavier than the
    /// whole memory tier). No tier was written.
    #[error("the memory tier refused the entry: {0}")]
    Memory(#[source] InsertError),
    /// A lower tier failed. Tiers above it hold the new state; the failing
    /// tier and those below it may not.
    #[error("tier {tier} failed: {source}")]
    Tier {
        /// The failing tier's name.
        tier: String,
        /// What it reported.
        #[source]
        source: TierError,
    },
    /// A key pattern could not be compiled.
    #[error(transparent)]
    Pattern(#[from] PatternError),
    /// The cache has been closed.
    #[error("the cache is closed")]
    Closed,
}

impl CacheError {
    pub(crate) fn tier(tier: &str, source: TierError) -> Self {
        Self::Tier {
            tier: tier.to_owned(),
            source,
        }
    }
}
