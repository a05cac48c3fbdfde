//! Building a [`TieredCache`]: the memory tier, the lower tiers in order,
//! and how values are written to them.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Backplane, Shared, TieredCache, WritePolicy};
use crate::clock::{SystemClock, WallClock};
use crate::envelope::{Codec, CompressionLevel};
use crate::error::BuildError;
use crate::memory::MemoryCache;
use crate::tier::Tier;

/// The default largest serialized value: 64 MiB. Large enough for any
/// reasonable cached object, small enough that a damaged length field can
/// never make a read allocate gigabytes.
pub const DEFAULT_MAX_VALUE_BYTES: u64 = 64 << 20;

/// The default [`epoch_refresh`](TieredCacheBuilder::epoch_refresh): 1 s.
/// Reading the epochs of a hit's tags costs one round trip to each lower
/// tier; once a second per tag keeps that off the hot path, and bounds how
/// long another process's tag invalidation goes unseen in a shared tier.
pub const DEFAULT_EPOCH_REFRESH: Duration = Duration::from_secs(1);

/// Configures a [`TieredCache`]. Made by [`TieredCache::builder`].
pub struct TieredCacheBuilder<V> {
    memory: MemoryCache<String, V>,
    tiers: Vec<Arc<dyn Tier>>,
    write_policy: WritePolicy,
    codec: Codec,
    compression: CompressionLevel,
    max_value_bytes: u64,
    clock: Arc<dyn WallClock>,
    epoch_refresh: Duration,
    backplane: Option<Arc<dyn Backplane>>,
}

impl<V> TieredCacheBuilder<V>
where
    V: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
{
    pub(super) fn new(memory: MemoryCache<String, V>) -> Self {
        Self {
            memory,
            tiers: Vec::new(),
            write_policy: WritePolicy::WriteThrough,
            codec: Codec::default(),
            compression: CompressionLevel::default(),
            max_value_bytes: DEFAULT_MAX_VALUE_BYTES,
            clock: Arc::new(SystemClock::new()),
            epoch_refresh: DEFAULT_EPOCH_REFRESH,
            backplane: None,
        }
    }

    /// Adds a lower tier below those added before: reads try tiers in the
    /// order they were added. Default: no lower tiers (the cache is then its
    /// memory tier with an async face).
    #[must_use]
    pub fn tier(mut self, tier: Arc<dyn Tier>) -> Self {
        self.tiers.push(tier);
        self
    }

    /// How writes reach the lower tiers. Default: [`WritePolicy::WriteThrough`].
    #[must_use]
    pub fn write_policy(mut self, policy: WritePolicy) -> Self {
        self.write_policy = policy;
        self
    }

    /// How values are serialized for the lower tiers. Default:
    /// [`Codec::Binary`] (compact; JSON is readable by other programs).
    #[must_use]
    pub fn codec(mut self, codec: Codec) -> Self {
        self.codec = codec;
        self
    }

    /// How envelopes are compressed; skipped per entry when it does not
    /// shrink the value. Default: [`CompressionLevel::Fast`] (lz4).
    #[must_use]
    pub fn compression(mut self, level: CompressionLevel) -> Self {
        self.compression = level;
        self
    }

    /// The largest serialized value accepted; larger writes fail with
    /// [`CacheError::TooLarge`](super::CacheError::TooLarge) and change
    /// nothing. Also bounds what a read will decompress. Default:
    /// [`DEFAULT_MAX_VALUE_BYTES`] (64 MiB).
    #[must_use]
    pub fn max_value_bytes(mut self, bytes: u64) -> Self {
        self.max_value_bytes = bytes;
        self
    }

    /// The clock for expiry in the lower tiers (calendar milliseconds, as
    /// stored in envelopes). Use the same clock as the memory tier in tests.
    /// Default: [`SystemClock`].
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn WallClock>) -> Self {
        self.clock = clock;
        self
    }

    /// How long a tag's epoch, once read from the lower tiers, is trusted
    /// before it is read again. A lower tier shared with other processes
    /// (Redis) holds epochs they bump; an entry one of them invalidated by
    /// tag is served from a shared tier for at most this long. Zero reads
    /// the epochs of an entry's tags on every lower-tier hit. Invalidations
    /// made by this cache apply at once, whatever the setting.
    ///
    /// Default: [`DEFAULT_EPOCH_REFRESH`] (1 s).
    #[must_use]
    pub fn epoch_refresh(mut self, refresh: Duration) -> Self {
        self.epoch_refresh = refresh;
        self
    }

    /// The channel on which this cache publishes its mutations and hears
    /// other instances' (see [`Backplane`]): for instances that share lower
    /// tiers, so that each drops from its memory tier what another changed.
    /// Building with a backplane spawns its listener task, so it must run
    /// inside a tokio runtime.
    ///
    /// Default: none (a cache alone, or instances that accept stale memory
    /// tiers until entries expire).
    #[must_use]
    pub fn backplane(mut self, backplane: Arc<dyn Backplane>) -> Self {
        self.backplane = Some(backplane);
        self
    }

    /// Builds the cache. With a write-back policy this spawns the queue's
    /// writer task, so it must run inside a tokio runtime.
    ///
    /// # Errors
    /// [`BuildError::ZeroCapacity`] when `max_value_bytes` or the write-back
    /// queue capacity is zero.
    pub fn build(self) -> Result<TieredCache<V>, BuildError> {
        if self.max_value_bytes == 0 {
            return Err(BuildError::ZeroCapacity {
                what: "max_value_bytes",
            });
        }
        if let WritePolicy::WriteBack { queue } = self.write_policy
            && queue == 0
        {
            return Err(BuildError::ZeroCapacity {
                what: "the write-back queue",
            });
        }
        let shared = Shared::new(
            self.memory,
            self.tiers,
            self.codec,
            self.compression,
            self.max_value_bytes,
            self.clock,
            self.epoch_refresh,
        );
        Ok(TieredCache::start(
            shared,
            self.write_policy,
            self.backplane,
        ))
    }
}
