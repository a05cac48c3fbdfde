//! # Strata
//!
//! A multi-level cache. This crate is its library face: the in-process
//! memory tier, [`MemoryCache`], and (feature `tiers`) the `TieredCache`
//! that stacks it in front of lower tiers — a persistent disk tier (feature
//! `disk`), a shared Redis tier (feature `redis`) and any store implementing
//! the `Tier` trait — with one invalidation model for all of them.
//!
//! ## Main types and how they fit
//!
//! * [`MemoryCache<K, V>`](MemoryCache): typed, synchronous, bounded; the
//!   eviction [`Policy`] decides what stays.
//! * `TieredCache<V>` (async): a `MemoryCache<String, V>` on top, lower tiers
//!   below in a configured order, a write policy (write-through or
//!   write-back), single-flight loading across the stack, and invalidation
//!   by key, tag (epochs), prefix and pattern applied to every tier.
//! * `Tier`: the trait of a lower tier, a store of envelopes (`envelope`:
//!   the versioned, checksummed binary record of one entry) with tag epochs.
//! * `tier::disk::DiskTier`: the persistent disk tier, on fjall.
//! * `tier::redis::RedisTier`: the shared tier, on a Redis server; values
//!   and tag epochs shared by every instance with the same key prefix.
//! * `Backplane` (`tier::redis::RedisBackplane` over Redis pub/sub): carries
//!   each instance's mutations to the others' memory tiers; a lost message
//!   clears the memory tier rather than leave it stale.
//! * `tier::breaker::BreakerTier`: a circuit breaker around any tier (in
//!   practice the Redis tier): fails fast while the tier is down, so the
//!   memory and disk tiers keep serving, and queues writes for it.
//!
//! ## What the memory tier does
//!
//! * **Bounded** by entry count and/or total weight (a weigher you supply),
//!   with a choice of eviction [`Policy`]: `Lru`, `Lfu` (with aging), `Ttl`
//!   (soonest expiry first), `Size` (heaviest first) and `Hybrid`
//!   (cost-aware: keeps what is expensive to recreate, small and used).
//! * **Per entry**: time to live, time to idle, tags, a priority honoured by
//!   every policy, a recreation cost, and string metadata ([`EntryOptions`]).
//! * **Loading**: [`MemoryCache::get_or_compute`] and its fallible and async
//!   variants run one loader per missing key however many callers miss at
//!   once (single flight).
//! * **Invalidation** by key, tag, key prefix and glob pattern
//!   ([`KeyPattern`]); a removal listener told the [`RemovalCause`].
//! * **Memory pressure**: given a memory budget, the cache sheds expired and
//!   then cold entries as the process nears it.
//! * **Stats**: hits, misses, removals by cause, sampled latency percentiles
//!   and hot keys ([`CacheStats`]); off, they cost nothing.
//! * **Testable time**: every expiry reads an injected [`Clock`];
//!   [`ManualClock`] moves only when told to.
//!
//! ## Example
//!
//! ```
//! use std::time::Duration;
//! use strata::{EntryOptions, MemoryCache, Policy};
//!
//! let cache: MemoryCache<String, String> = MemoryCache::builder()
//!     .max_entries(10_000)
//!     .policy(Policy::Lru)
//!     .build()?;
//!
//! cache.insert_with(
//!     "user:42".to_string(),
//!     "Ada".to_string(),
//!     EntryOptions::new().with_ttl(Duration::from_secs(60)).with_tag("users"),
//! )?;
//! assert_eq!(cache.get("user:42").as_deref(), Some("Ada"));
//!
//! // One loader call, however many threads ask at once.
//! let name = cache.get_or_compute("user:7".to_string(), || "Grace".to_string());
//! assert_eq!(name, "Grace");
//!
//! assert_eq!(cache.invalidate_tag("users"), 1);
//! assert!(cache.get("user:42").is_none());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Cargo features
//!
//! | feature | adds |
//! | --- | --- |
//! | `tokio` | the async loaders (`get_or_compute_async` and friends) |
//! | `tiers` | `TieredCache`, the `Tier` trait, envelopes, codecs (postcard, JSON) and compression (lz4, zstd), the circuit breaker (logs through `tracing`) |
//! | `disk` | `tiers` and the persistent disk tier, `tier::disk::DiskTier` (fjall) |
//! | `redis` | `tiers` and the shared Redis tier, `tier::redis::RedisTier` (the `redis` crate, tokio) |

#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod clock;
#[cfg(feature = "tiers")]
pub mod envelope;
pub mod error;
pub mod memory;
pub mod options;
pub mod pattern;
#[cfg(feature = "tiers")]
pub mod tier;
#[cfg(feature = "tiers")]
mod tiered;

pub use clock::{Clock, ManualClock, SystemClock, WallClock};
pub use error::{BuildError, InsertError, InvariantError, PatternError};
pub use memory::{
    CacheStats, EvictionCounts, HotKey, ImportReport, LatencySummary, MemoryBudget, MemoryCache,
    MemoryCacheBuilder, MemoryGauge, Policy, PressureLevel, PressureStats, ProcessMemory,
    RemovalCause, SnapshotEntry,
};
pub use options::{EntryOptions, Ttl};
pub use pattern::KeyPattern;
#[cfg(feature = "tiers")]
pub use tier::{KeyFilter, Tier, TierError, TierHealth, TierScope, TierStats, TierWrite};
#[cfg(feature = "tiers")]
pub use tiered::{
    Backplane, BackplaneEvent, BackplaneMessage, BackplaneReport, CacheError,
    DEFAULT_EPOCH_REFRESH, DEFAULT_MAX_VALUE_BYTES, Invalidation, TierReport, TieredCache,
    TieredCacheBuilder, TieredStats, WriteBackReport, WritePolicy,
};

/// The README's examples, compiled and run as doctests (they use the disk
/// tier, so with every feature on, as the test command runs them).
#[cfg(all(doctest, feature = "disk"))]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
