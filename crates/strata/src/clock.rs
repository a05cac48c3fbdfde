//! Where the cache reads the time: an injectable clock, so tests of TTL and
//! time-to-idle move time by hand instead of sleeping.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A monotonic time source, in nanoseconds since an origin of its choosing.
///
/// The cache stores every deadline as a nanosecond count from the same clock,
/// so one cache must keep one clock for its whole life.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Nanoseconds since this clock's origin. Must never go backwards.
    fn now_nanos(&self) -> u64;
}

/// The real clock: [`Instant`], with its origin when the clock was created.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    origin: Instant,
}

impl SystemClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now_nanos(&self) -> u64 {
        nanos(self.origin.elapsed())
    }
}

/// A clock that moves only when told to: for tests of expiry.
///
/// ```
/// use std::{sync::Arc, time::Duration};
/// use strata::{Clock, ManualClock};
///
/// let clock = Arc::new(ManualClock::new());
/// clock.advance(Duration::from_secs(5));
/// assert_eq!(clock.now_nanos(), 5_000_000_000);
/// ```
#[derive(Debug, Default)]
pub struct ManualClock {
    now: AtomicU64,
}

impl ManualClock {
    /// A clock standing at its origin (zero).
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `by` (saturating at `u64::MAX` nanoseconds).
    pub fn advance(&self, by: Duration) {
        let by = nanos(by);
        // fetch_update cannot fail here: the closure always returns Some.
        let _ = self
            .now
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |now| {
                Some(now.saturating_add(by))
            });
    }
}

impl Clock for ManualClock {
    fn now_nanos(&self) -> u64 {
        self.now.load(Ordering::Acquire)
    }
}

/// A duration in whole nanoseconds, saturating at `u64::MAX` (584 years).
pub(crate) fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced_and_saturates() {
        let clock = ManualClock::new();
        assert_eq!(clock.now_nanos(), 0);
        clock.advance(Duration::from_millis(3));
        assert_eq!(clock.now_nanos(), 3_000_000);
        clock.advance(Duration::MAX);
        assert_eq!(clock.now_nanos(), u64::MAX);
    }

    #[test]
    fn system_clock_is_monotonic() {
        let clock = SystemClock::new();
        let a = clock.now_nanos();
        let b = clock.now_nanos();
        assert!(b >= a);
    }
}
