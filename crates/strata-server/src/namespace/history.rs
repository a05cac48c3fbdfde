//! A namespace's figures over time: one [`Sample`] per analytics interval,
//! in a ring of the last `samples`, for `/analytics` and the dashboard.

use std::collections::VecDeque;

use serde::Serialize;
use utoipa::ToSchema;

/// The figures of one interval.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct Sample {
    /// End of the interval, milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// Reads in the interval (memory hits, lower-tier hits and misses).
    pub reads: u64,
    /// Reads answered by some tier.
    pub hits: u64,
    /// Hits over reads in the interval; `null` without reads.
    pub hit_ratio: Option<f64>,
    /// Reads and writes per second over the interval.
    pub ops_per_sec: f64,
    /// Entries in the memory tier at the end.
    pub memory_entries: u64,
    /// Weight (bytes) of the memory tier at the end.
    pub memory_bytes: u64,
    /// Evictions in the interval by cause: expired, capacity, invalidated.
    pub evicted_expired: u64,
    /// See `evicted_expired`.
    pub evicted_capacity: u64,
    /// See `evicted_expired`.
    pub evicted_invalidated: u64,
    /// Memory-tier `get` p99 in microseconds (sampled).
    pub memory_p99_us: f64,
    /// Disk-tier `get` p99 in microseconds, when there is a disk tier.
    pub disk_p99_us: Option<f64>,
}

/// Cumulative counters at the last sample, to turn into per-interval ones.
#[derive(Debug, Clone, Copy, Default)]
pub struct Totals {
    /// Reads so far.
    pub reads: u64,
    /// Hits so far.
    pub hits: u64,
    /// Writes so far.
    pub writes: u64,
    /// Evictions so far by cause: expired, capacity, invalidated.
    pub evicted: [u64; 3],
    /// When, in milliseconds since the Unix epoch.
    pub at_ms: u64,
}

/// The ring of samples.
#[derive(Debug)]
pub struct History {
    samples: VecDeque<Sample>,
    capacity: usize,
    last: Option<Totals>,
}

impl History {
    /// An empty history keeping `capacity` samples.
    pub fn new(capacity: usize) -> Self {
        Self {
            samples: VecDeque::with_capacity(capacity.min(4096)),
            capacity: capacity.max(1),
            last: None,
        }
    }

    /// Records the interval ending at `now` (cumulative `totals`), filling
    /// the gauges from `gauges`. The first call only sets the baseline.
    pub fn record(&mut self, totals: Totals, gauges: Sample) {
        let Some(last) = self.last.replace(totals) else {
            return;
        };
        let reads = totals.reads.saturating_sub(last.reads);
        let hits = totals.hits.saturating_sub(last.hits);
        let writes = totals.writes.saturating_sub(last.writes);
        let seconds = (totals.at_ms.saturating_sub(last.at_ms) as f64 / 1000.0).max(1e-3);
        let delta = |i: usize| totals.evicted[i].saturating_sub(last.evicted[i]);
        let sample = Sample {
            at_ms: totals.at_ms,
            reads,
            hits,
            hit_ratio: (reads > 0).then(|| hits as f64 / reads as f64),
            ops_per_sec: (reads + writes) as f64 / seconds,
            evicted_expired: delta(0),
            evicted_capacity: delta(1),
            evicted_invalidated: delta(2),
            ..gauges
        };
        if self.samples.len() == self.capacity {
            self.samples.pop_front();
        }
        self.samples.push_back(sample);
    }

    /// The samples, oldest first.
    pub fn samples(&self) -> Vec<Sample> {
        self.samples.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_per_interval_and_bounded() {
        let mut h = History::new(2);
        let totals = |reads, hits, at_ms| Totals {
            reads,
            hits,
            writes: 0,
            evicted: [0, 0, 0],
            at_ms,
        };
        h.record(totals(10, 5, 1000), Sample::default());
        assert!(h.samples().is_empty(), "the first call is the baseline");
        h.record(totals(30, 20, 2000), Sample::default());
        h.record(totals(30, 20, 3000), Sample::default());
        h.record(totals(70, 50, 4000), Sample::default());
        let s = h.samples();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].reads, 0);
        assert_eq!(s[0].hit_ratio, None);
        assert_eq!((s[1].reads, s[1].hits), (40, 30));
        assert_eq!(s[1].hit_ratio, Some(0.75));
        assert!((s[1].ops_per_sec - 40.0).abs() < 1e-9);
    }
}
