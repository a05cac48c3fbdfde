//! The errors of this crate: one small enum per kind of operation.

/// Why [`MemoryCacheBuilder::build`](crate::MemoryCacheBuilder::build)
/// refused a configuration.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Neither `max_entries` nor `max_weight` was set: an unbounded cache is a
    /// memory leak, so a bound is required.
    #[error("the cache has no bound: set max_entries and/or max_weight")]
    NoCapacity,
    /// A capacity was set to zero.
    #[error("{what} must be greater than zero")]
    ZeroCapacity {
        /// Which setting was zero.
        what: &'static str,
    },
    /// The shard count is not a power of two between 1 and 65,536.
    #[error("shard count {0} must be a power of two between 1 and 65536")]
    InvalidShards(usize),
    /// The memory-pressure thresholds are out of order or out of range.
    #[error("memory pressure thresholds must satisfy 0 < soft ({soft}) <= hard ({hard}) <= 1")]
    InvalidThresholds {
        /// The soft threshold given.
        soft: f64,
        /// The hard threshold given.
        hard: f64,
    },
    /// The fraction of the cache shed per pressure check is not in (0, 1].
    #[error("the shed fraction must be in (0, 1], got {0}")]
    InvalidShedFraction(f64),
    /// A memory budget of zero bytes was given.
    #[error("the memory budget must be greater than zero bytes")]
    ZeroBudget,
    /// The budget was to come from the cgroup, but this process has no cgroup
    /// memory limit.
    #[error("no cgroup memory limit is set for this process (looked in /sys/fs/cgroup)")]
    NoCgroupLimit,
}

/// Why an insert was refused. A refused insert leaves the cache unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InsertError {
    /// The entry alone weighs more than the whole cache may hold.
    #[error("entry weighs {weight}, more than the cache's whole capacity of {capacity}")]
    TooHeavy {
        /// The entry's weight, as the weigher measured it.
        weight: u64,
        /// The cache's `max_weight`.
        capacity: u64,
    },
    /// One shard already holds `u32::MAX` entries, the most its index can
    /// address. Only reachable with hundreds of gigabytes of entries.
    #[error("a shard of the cache is full (2^32 entries)")]
    ShardFull,
}

/// A key pattern that could not be compiled.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum PatternError {
    /// The glob is malformed (for example an unclosed `[`).
    #[error("invalid key pattern {pattern:?}: {source}")]
    Invalid {
        /// The pattern as given.
        pattern: String,
        /// What the glob compiler said.
        #[source]
        source: globset::Error,
    },
}

/// An internal invariant does not hold: a bug in this crate. Returned by the
/// `validate` methods, which tests call after every step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cache invariant violated: {0}")]
pub struct InvariantError(pub String);
