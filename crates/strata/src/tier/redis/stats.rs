//! What a Redis tier counts, and what it reports as [`TierStats`].
//!
//! A Redis tier cannot count entries or bytes: the store is shared by every
//! instance with the same prefix, and Redis expires and evicts entries on
//! its own. What one instance can count honestly is its own traffic: round
//! trips, and how many failed and why.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::tier::{TierError, TierStats};

/// Counters of one [`RedisTier`](super::RedisTier) (shared by its clones),
/// since it connected. Each is one instance's own traffic, not the state of
/// the shared store: ask Redis (`INFO`, `DBSIZE`) for that.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisStats {
    /// Round trips sent: one command, one pipeline (a whole `put_many`,
    /// `get_many` or `delete_many`), one script call or one `SCAN` page.
    pub round_trips: u64,
    /// Round trips that changed data (writes, deletes, epoch changes) and
    /// that Redis acknowledged.
    pub writes_acknowledged: u64,
    /// Round trips that failed, for any reason (the three below and error
    /// replies).
    pub errors: u64,
    /// Failures because the command timeout passed
    /// ([`TierError::Timeout`]).
    pub timeouts: u64,
    /// Failures because Redis could not be reached or could not serve
    /// ([`TierError::Unavailable`]).
    pub unavailable: u64,
    /// Writes refused before any round trip because an entry was larger
    /// than `max_entry_bytes` ([`TierError::TooLarge`]).
    pub refused_too_large: u64,
}

/// The live counters behind [`RedisStats`]. Relaxed atomics: each counter is
/// independent, and a snapshot need not be consistent across them.
#[derive(Debug, Default)]
pub(super) struct Counters {
    round_trips: AtomicU64,
    writes_acknowledged: AtomicU64,
    errors: AtomicU64,
    timeouts: AtomicU64,
    unavailable: AtomicU64,
    refused_too_large: AtomicU64,
}

impl Counters {
    pub(super) fn round_trip(&self) {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn write_acknowledged(&self) {
        self.writes_acknowledged.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts `error` as the failure of a round trip and hands it back.
    pub(super) fn failed(&self, error: TierError) -> TierError {
        self.errors.fetch_add(1, Ordering::Relaxed);
        match error {
            TierError::Timeout { .. } => {
                self.timeouts.fetch_add(1, Ordering::Relaxed);
            }
            TierError::Unavailable { .. } => {
                self.unavailable.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
        error
    }

    pub(super) fn refused_too_large(&self) {
        self.refused_too_large.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn snapshot(&self) -> RedisStats {
        RedisStats {
            round_trips: self.round_trips.load(Ordering::Relaxed),
            writes_acknowledged: self.writes_acknowledged.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            timeouts: self.timeouts.load(Ordering::Relaxed),
            unavailable: self.unavailable.load(Ordering::Relaxed),
            refused_too_large: self.refused_too_large.load(Ordering::Relaxed),
        }
    }

    /// The [`TierStats`] view: entries, bytes, evictions and expirations
    /// are unknown to one instance and reported as zero; `commits` counts
    /// acknowledged write round trips (Redis applies each write when it
    /// answers, so every acknowledged write is a commit).
    pub(super) fn tier_stats(&self) -> TierStats {
        TierStats {
            commits: self.writes_acknowledged.load(Ordering::Relaxed),
            ..TierStats::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_counted_by_kind() {
        let counters = Counters::default();
        counters.round_trip();
        counters.round_trip();
        counters.write_acknowledged();
        let _ = counters.failed(super::super::errors::timeout(
            std::time::Duration::from_millis(5),
        ));
        let _ = counters.failed(TierError::Unavailable {
            tier: "redis".into(),
            reason: "refused".into(),
        });
        let _ = counters.failed(TierError::engine("redis", "WRONGTYPE"));
        counters.refused_too_large();
        let stats = counters.snapshot();
        assert_eq!(
            stats,
            RedisStats {
                round_trips: 2,
                writes_acknowledged: 1,
                errors: 3,
                timeouts: 1,
                unavailable: 1,
                refused_too_large: 1,
            }
        );
        assert_eq!(counters.tier_stats().commits, 1);
        assert_eq!(counters.tier_stats().entries, 0);
    }
}
