//! `get` latency under the mixed load: the load of
//! [`throughput::mixed`](super::throughput::mixed), with one `get` in
//! [`SAMPLE_EVERY`] timed.
//!
//! Why a sample: reading the clock twice costs about as much as a cached
//! `get` (two vDSO `clock_gettime` calls, some tens of nanoseconds), so
//! timing every `get` would change the load being measured. Timing one in
//! 16 keeps the load within a few percent of the untimed mix while still
//! taking about 56,000 samples per 1,000,000 operations (90% of them
//! gets), enough for a p99.9. Each figure includes one clock read's cost, the same for
//! every cache.

use std::hint::black_box;
use std::time::Instant;

use anyhow::Context as _;
use hdrhistogram::Histogram;

use super::contender::Cache;
use super::workload::{Op, split_timed};

/// One `get` in this many is timed.
pub(super) const SAMPLE_EVERY: usize = 16;

/// Percentiles of the sampled `get`s, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Percentiles {
    /// Median.
    pub(super) p50: f64,
    /// 99th percentile.
    pub(super) p99: f64,
    /// 99.9th percentile.
    pub(super) p999: f64,
}

/// Runs `ops` on `threads` threads, timing one `get` in [`SAMPLE_EVERY`].
///
/// # Errors
/// If the histogram cannot be built or merged (not expected: the bounds
/// are constants and every thread's histogram has the same ones).
pub(super) fn sampled_gets<C: Cache>(
    cache: &C,
    ops: &[Op],
    threads: usize,
) -> anyhow::Result<Percentiles> {
    let (_, histograms) = split_timed(threads, ops, |part| {
        // 1 ns to 10 s at three significant digits: a sample beyond that
        // is clamped rather than lost (saturating_record).
        let mut histogram = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3)?;
        let mut gets = 0_usize;
        for &op in part {
            match op {
                Op::Get(k) => {
                    gets += 1;
                    if gets.is_multiple_of(SAMPLE_EVERY) {
                        let started = Instant::now();
                        black_box(cache.get(k));
                        let took = started.elapsed().as_nanos();
                        histogram.saturating_record(u64::try_from(took).unwrap_or(u64::MAX));
                    } else {
                        black_box(cache.get(k));
                    }
                }
                Op::Insert(k) => cache.insert(k, k),
            }
        }
        Ok::<_, hdrhistogram::CreationError>(histogram)
    });
    let mut all = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3)
        .context("building the latency histogram")?;
    for histogram in histograms {
        let histogram = histogram.context("building the latency histogram")?;
        all.add(&histogram).context("merging latency histograms")?;
    }
    let at = |q: f64| all.value_at_quantile(q) as f64;
    Ok(Percentiles {
        p50: at(0.5),
        p99: at(0.99),
        p999: at(0.999),
    })
}
