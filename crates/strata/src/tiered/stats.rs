//! Per-tier counters of a [`TieredCache`](super::TieredCache), and the
//! snapshot they report.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use parking_lot::Mutex;
use serde::Serialize;

use crate::memory::LatencySummary;
use crate::memory::stats::histogram;
use crate::tier::{TierHealth, TierStats};

/// How one lookup in a lower tier ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// A valid entry: returned and promoted.
    Hit,
    /// No entry.
    Miss,
    /// An entry past its expiry.
    Expired,
    /// An entry written before one of its tags was invalidated.
    Stale,
    /// Bytes that failed the envelope's checks: deleted.
    Corrupt,
    /// An intact envelope whose value does not decode as this cache's type.
    Undecodable,
    /// The tier returned an error.
    Error,
}

/// The counters the stack keeps for one lower tier.
#[derive(Default)]
pub(crate) struct TierCounters {
    hits: AtomicU64,
    misses: AtomicU64,
    expired: AtomicU64,
    stale: AtomicU64,
    corrupt: AtomicU64,
    undecodable: AtomicU64,
    read_errors: AtomicU64,
    write_errors: AtomicU64,
    writes: AtomicU64,
    raw_bytes_written: AtomicU64,
    stored_bytes_written: AtomicU64,
    get_latency: Mutex<Option<Histogram<u64>>>,
}

impl TierCounters {
    pub(crate) fn record_lookup(&self, outcome: Lookup, started: Instant) {
        let counter = match outcome {
            Lookup::Hit => &self.hits,
            Lookup::Miss => &self.misses,
            Lookup::Expired => &self.expired,
            Lookup::Stale => &self.stale,
            Lookup::Corrupt => &self.corrupt,
            Lookup::Undecodable => &self.undecodable,
            Lookup::Error => &self.read_errors,
        };
        counter.fetch_add(1, Relaxed);
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        // Every lower-tier read is timed: each costs microseconds at least,
        // so the histogram's lock is noise next to it.
        let mut h = self.get_latency.lock();
        h.get_or_insert_with(histogram)
            .saturating_record(nanos.max(1));
    }

    /// Counts one envelope written: `raw` value bytes stored as `stored`.
    pub(crate) fn record_write(&self, raw: u64, stored: u64) {
        self.writes.fetch_add(1, Relaxed);
        self.raw_bytes_written.fetch_add(raw, Relaxed);
        self.stored_bytes_written.fetch_add(stored, Relaxed);
    }

    pub(crate) fn record_write_error(&self) {
        self.write_errors.fetch_add(1, Relaxed);
    }

    pub(crate) fn report(&self, name: &str, tier: TierStats, health: TierHealth) -> TierReport {
        let raw = self.raw_bytes_written.load(Relaxed);
        let stored = self.stored_bytes_written.load(Relaxed);
        let latency = self
            .get_latency
            .lock()
            .as_ref()
            .map(LatencySummary::of)
            .unwrap_or_default();
        TierReport {
            name: name.to_owned(),
            hits: self.hits.load(Relaxed),
            misses: self.misses.load(Relaxed),
            expired: self.expired.load(Relaxed),
            stale: self.stale.load(Relaxed),
            corrupt: self.corrupt.load(Relaxed),
            undecodable: self.undecodable.load(Relaxed),
            read_errors: self.read_errors.load(Relaxed),
            write_errors: self.write_errors.load(Relaxed),
            writes: self.writes.load(Relaxed),
            get_latency: latency,
            compression_ratio: if stored == 0 {
                1.0
            } else {
                raw as f64 / stored as f64
            },
            entries: tier.entries,
            bytes: tier.bytes,
            capacity_bytes: tier.capacity_bytes,
            evictions: tier.evictions,
            healthy: health.is_up(),
            health: match health {
                TierHealth::Healthy => "healthy".to_owned(),
                TierHealth::Degraded(why) => format!("degraded: {why}"),
                TierHealth::Down(why) => format!("down: {why}"),
            },
        }
    }
}

/// One lower tier's figures, as the stack saw them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct TierReport {
    /// The tier's name.
    pub name: String,
    /// Reads answered with a valid entry.
    pub hits: u64,
    /// Reads that found nothing.
    pub misses: u64,
    /// Reads that found an expired entry (a miss).
    pub expired: u64,
    /// Reads that found an entry older than an invalidation of one of its
    /// tags (a miss; the entry is deleted).
    pub stale: u64,
    /// Reads that found damaged bytes (a miss; the entry is deleted).
    pub corrupt: u64,
    /// Reads whose value did not decode as this cache's value type (a miss;
    /// the entry is deleted).
    pub undecodable: u64,
    /// Reads that failed with a tier error (a miss).
    pub read_errors: u64,
    /// Writes that failed with a tier error.
    pub write_errors: u64,
    /// Envelopes written.
    pub writes: u64,
    /// Latency of reads in this tier, every outcome included.
    pub get_latency: LatencySummary,
    /// Serialized value bytes over stored payload bytes, over every write
    /// (1.0 when nothing was compressed).
    pub compression_ratio: f64,
    /// Entries the tier holds now.
    pub entries: u64,
    /// Bytes the tier holds now.
    pub bytes: u64,
    /// The tier's byte budget, if any.
    pub capacity_bytes: Option<u64>,
    /// Entries the tier evicted for space.
    pub evictions: u64,
    /// Whether the tier serves requests.
    pub healthy: bool,
    /// Its health, in words.
    pub health: String,
}

/// The write-back queue's figures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct WriteBackReport {
    /// Writes waiting in the queue now.
    pub queued: u64,
    /// Writes the queue has passed to the lower tiers.
    pub written: u64,
    /// Writes that found the queue full and were written through by the
    /// caller instead (so nothing is dropped).
    pub overflows: u64,
    /// Writes superseded in the queue by a later write or an invalidation of
    /// the same key before they reached the tiers.
    pub superseded: u64,
    /// Batches that a lower tier refused (their entries are not in that
    /// tier; the memory tier keeps them).
    pub failed_batches: u64,
}

/// The backplane's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct BackplaneReport {
    /// What carries invalidations between instances, as the backplane
    /// names it (a Redis backplane: `pub/sub` or `client tracking`, chosen
    /// when it connected).
    pub transport: String,
    /// Mutations this instance published.
    pub published: u64,
    /// Mutations it could not publish (the others see a gap and drop their
    /// memory tiers).
    pub publish_errors: u64,
    /// Events received from other instances (messages and losses),
    /// counted once applied: a message once it is out of the memory tier
    /// and every private lower tier, a loss once the memory tier is
    /// cleared (the private tiers' clear may wait for a shared tier).
    pub received: u64,
    /// Times a loss was reported, each of which cleared the memory tier and
    /// (once a shared tier could be reached) the private lower tiers.
    pub lost: u64,
    /// Deletes and clears of a private lower tier (a local disk), made for
    /// another instance's invalidation or a loss, that failed. Each is
    /// logged, and the tier is cleared again until that succeeds.
    pub local_tier_errors: u64,
}

/// A snapshot of a [`TieredCache`](super::TieredCache)'s figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct TieredStats {
    /// Reads answered by the memory tier.
    pub memory_hits: u64,
    /// Reads the memory tier could not answer.
    pub memory_misses: u64,
    /// Entries in the memory tier.
    pub memory_entries: u64,
    /// Each lower tier, in order.
    pub tiers: Vec<TierReport>,
    /// Reads that no tier could answer.
    pub misses: u64,
    /// Fills discarded because an invalidation raced them.
    pub discarded_fills: u64,
    /// Loader calls made by `get_or_compute`.
    pub loads: u64,
    /// Times a lower tier came back from an outage (a circuit breaker
    /// closed) and the memory tier was cleared and cached tag epochs
    /// forgotten, because they may have been validated with out-of-date
    /// epochs meanwhile.
    pub resyncs: u64,
    /// The write-back queue, when the policy is write-back.
    pub write_back: Option<WriteBackReport>,
    /// The cross-instance backplane, when there is one.
    pub backplane: Option<BackplaneReport>,
    /// How long the snapshot took to gather (it asks every tier).
    pub gathered_in: Duration,
}
