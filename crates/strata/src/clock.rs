//! Where the cache reads the time: an injectable clock, so tests of TTL and
//! time-to-idle move time by hand instead of sleeping.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A monotonic time source, in nanoseconds since an origin of its choosing.
///
/// The cache stores every deadline as a nanosecond count from the same clock,
/// so one cache must keep one clock for its whole life.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Nanoseconds since this clock's origin. Must never go backwards.
    fn now_nanos(&self) -> u64;
}

/// A clock that also tells the calendar time, for deadlines that outlive the
/// process: lower tiers store expiry as milliseconds since the Unix epoch.
pub trait WallClock: Clock {
    /// Milliseconds since 1970-01-01T00:00:00Z. Moves with
    /// [`now_nanos`](Clock::now_nanos), so the two never disagree about how
    /// much time has passed.
    fn unix_millis(&self) -> u64;
}

/// The real clock: [`Instant`], with its origin when the clock was created.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    origin: Instant,
    /// The calendar time at `origin`, in ms since the Unix epoch. Wall time is
    /// derived from the monotonic clock so that an NTP step never makes an
    /// entry live longer or shorter than its TTL within one process.
    origin_unix_millis: u64,
}

impl SystemClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Self {
            origin: Instant::now(),
            origin_unix_millis: millis(since_epoch),
        }
    }
}

impl WallClock for SystemClock {
    fn unix_millis(&self) -> u64 {
        self.origin_unix_millis
            .saturating_add(millis(self.origin.elapsed()))
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
    origin_unix_millis: u64,
}

impl ManualClock {
    /// A clock standing at its origin (zero), which is also the Unix epoch
    /// for [`WallClock::unix_millis`].
    pub fn new() -> Self {
        Self::default()
    }

    /// A clock standing at its origin, which is `unix_millis` milliseconds
    /// after the Unix epoch in calendar time.
    pub fn at_unix_millis(unix_millis: u64) -> Self {
        Self {
            now: AtomicU64::new(0),
            origin_unix_millis: unix_millis,
        }
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

impl WallClock for ManualClock {
    fn unix_millis(&self) -> u64 {
        self.origin_unix_millis
            .saturating_add(self.now_nanos() / 1_000_000)
    }
}

/// A duration in whole milliseconds, saturating at `u64::MAX`.
pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
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
    fn manual_wall_time_moves_with_the_clock() {
        let clock = ManualClock::at_unix_millis(1_000);
        clock.advance(Duration::from_millis(2_500));
        assert_eq!(clock.unix_millis(), 3_500);
    }

    #[test]
    fn system_wall_time_is_near_the_calendar() {
        let clock = SystemClock::new();
        let calendar = millis(SystemTime::now().duration_since(UNIX_EPOCH).unwrap());
        assert!(clock.unix_millis().abs_diff(calendar) < 5_000);
    }

    #[test]
    fn system_clock_is_monotonic() {
        let clock = SystemClock::new();
        let a = clock.now_nanos();
        let b = clock.now_nanos();
        assert!(b >= a);
    }
}
