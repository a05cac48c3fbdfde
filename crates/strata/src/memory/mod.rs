//! The in-process memory tier: [`MemoryCache`] and what configures and
//! reports on it.
//!
//! # Architecture
//!
//! A cache is a fixed number of *shards* (a power of two), each behind its own
//! read-write lock and on its own cache lines. A key's hash picks its shard.
//! Inside a shard, entries live in a slab and are found through a
//! `hashbrown` table of slot numbers; the eviction policy, a queue of
//! deadlines and an index of tags refer to entries by slot number too, so
//! they stay compact and never hold keys.
//!
//! Bounds (entry count, total weight) are global, kept in atomic totals.
//! A write evicts from its own shard first and looks at other shards only
//! when it must (the `evict` module's notes say when): one heavy entry
//! still fits if it fits the whole cache, and priorities are honoured across
//! shards.
//!
//! Expired entries are purged on every write to their shard (popping due
//! items off the deadline queue, O(log n) each), when read, and by
//! [`MemoryCache::run_maintenance`]. A removed entry's key and value go to the
//! removal listener after the shard's lock is released.

mod builder;
mod cache;
mod entry;
mod evict;
mod expiry;
mod extras;
mod flight;
mod invalidate;
mod loader;
mod maintenance;
mod pace;
pub mod policy;
pub mod pressure;
#[cfg(test)]
mod regressions;
mod removal;
mod shard;
mod slots;
mod snapshot;
pub mod stats;
mod tags;
mod tally;
mod totals;

pub use builder::{MAX_SHARDS, MemoryCacheBuilder};
pub use cache::MemoryCache;
pub use policy::{Policy, UnknownPolicy};
pub use pressure::{MemoryBudget, MemoryGauge, PressureLevel, PressureStats, ProcessMemory};
pub use removal::RemovalCause;
pub use snapshot::{ImportReport, SnapshotEntry};
pub use stats::{CacheStats, EvictionCounts, HotKey, LatencySummary};
