//! The rolling window the closed breaker judges the inner tier by: calls,
//! failures and slow calls over the last `window` of time.
//!
//! The window is [`BUCKETS`] buckets of `window / BUCKETS` each, a ring
//! indexed by time: a count lands in the bucket of the moment it was made,
//! and a bucket is emptied when time comes round to it again. So the totals
//! cover between `window - window / BUCKETS` and `window` of history, at a
//! fixed memory and an O(`BUCKETS`) sum, whatever the call rate (a log of
//! every call would grow with traffic).

/// How many buckets a window is cut into: its resolution is a tenth of its
/// length, as in Hystrix's rolling statistics.
pub(super) const BUCKETS: usize = 10;

/// Counts of one bucket, or of the whole window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Counts {
    /// Calls that reached the inner tier and ended (with any outcome).
    pub(super) calls: u64,
    /// Of those, the ones that failed (see `is_failure`).
    pub(super) failures: u64,
    /// Of those, the ones slower than the latency budget.
    pub(super) slow: u64,
}

/// A ring of buckets over the breaker's clock, in nanoseconds.
#[derive(Debug)]
pub(super) struct Window {
    buckets: [Counts; BUCKETS],
    bucket_nanos: u64,
    /// The bucket that `current_start` begins.
    current: usize,
    /// When the current bucket began.
    current_start: u64,
}

impl Window {
    pub(super) fn new(window_nanos: u64, now: u64) -> Self {
        Self {
            buckets: [Counts::default(); BUCKETS],
            // At least 1 ns, so time always moves the ring.
            bucket_nanos: (window_nanos / BUCKETS as u64).max(1),
            current: 0,
            current_start: now,
        }
    }

    /// Counts one call that ended at `now`.
    pub(super) fn record(&mut self, now: u64, failed: bool, slow: bool) {
        self.advance(now);
        let bucket = &mut self.buckets[self.current];
        bucket.calls += 1;
        bucket.failures += u64::from(failed);
        bucket.slow += u64::from(slow);
    }

    /// The counts of the window ending at `now`.
    pub(super) fn totals(&mut self, now: u64) -> Counts {
        self.advance(now);
        self.buckets
            .iter()
            .fold(Counts::default(), |sum, b| Counts {
                calls: sum.calls + b.calls,
                failures: sum.failures + b.failures,
                slow: sum.slow + b.slow,
            })
    }

    /// Forgets everything: the breaker judges a closed tier afresh.
    pub(super) fn reset(&mut self, now: u64) {
        self.buckets = [Counts::default(); BUCKETS];
        self.current_start = now;
    }

    /// Moves the ring to the bucket holding `now`, emptying the buckets it
    /// passes. A `now` before the current bucket (the clock read by a racing
    /// caller) counts in the current bucket.
    fn advance(&mut self, now: u64) {
        let elapsed = now.saturating_sub(self.current_start);
        if elapsed < self.bucket_nanos {
            return;
        }
        let steps = elapsed / self.bucket_nanos;
        // Past a whole window every bucket is stale: empty each once.
        for _ in 0..steps.min(BUCKETS as u64) {
            self.current = (self.current + 1) % BUCKETS;
            self.buckets[self.current] = Counts::default();
        }
        self.current_start += steps * self.bucket_nanos;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn counts_add_up_within_the_window() {
        let mut window = Window::new(1_000 * MS, 0);
        window.record(0, true, false);
        window.record(150 * MS, false, true);
        window.record(999 * MS, false, false);
        assert_eq!(
            window.totals(999 * MS),
            Counts {
                calls: 3,
                failures: 1,
                slow: 1
            }
        );
    }

    #[test]
    fn old_buckets_fall_out_as_time_moves() {
        let mut window = Window::new(1_000 * MS, 0);
        window.record(50 * MS, true, false);
        window.record(550 * MS, true, true);
        // 1.05 s: the first bucket (0..100 ms) has come round again.
        assert_eq!(window.totals(1_050 * MS).calls, 1);
        assert_eq!(window.totals(1_050 * MS).slow, 1);
        // 1.6 s: everything is older than a window.
        assert_eq!(window.totals(1_600 * MS), Counts::default());
        // Long idle: one pass empties the ring, however far time jumped.
        window.record(1_000_000 * MS, false, false);
        assert_eq!(window.totals(1_000_000 * MS).calls, 1);
    }

    #[test]
    fn a_clock_read_before_the_current_bucket_counts_in_it_and_reset_forgets() {
        let mut window = Window::new(1_000 * MS, 500 * MS);
        window.record(400 * MS, true, false);
        assert_eq!(window.totals(500 * MS).failures, 1);
        window.reset(600 * MS);
        assert_eq!(window.totals(600 * MS), Counts::default());
    }
}
