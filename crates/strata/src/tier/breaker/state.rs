//! The breaker's states and the record of why it moved between them.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

/// Where a [`BreakerTier`](super::BreakerTier) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub enum BreakerState {
    /// Calls go to the inner tier; their errors and latencies are counted
    /// in the rolling window.
    Closed,
    /// Calls fail at once (reads) or are queued (writes); nothing waits on
    /// the inner tier until the open interval has passed.
    Open,
    /// A bounded number of probe calls reach the inner tier (after any
    /// queued writes have been replayed); every other call is treated as
    /// while open.
    HalfOpen,
}

impl fmt::Display for BreakerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half-open",
        })
    }
}

/// Why the breaker changed state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum TransitionReason {
    /// Closed → open: at least `failure_rate` of the calls in the window
    /// failed, over at least `min_calls` calls.
    ErrorRate {
        /// Failed calls in the window.
        failures: u64,
        /// Calls in the window.
        calls: u64,
    },
    /// Closed → open: `consecutive_failures` calls failed in a row.
    ConsecutiveFailures {
        /// Failures in a row.
        failures: u64,
    },
    /// Closed → open: at least `slow_call_rate` of the calls in the window
    /// took longer than the latency budget, over at least `min_calls` calls.
    SlowCalls {
        /// Calls slower than `budget` in the window.
        slow: u64,
        /// Calls in the window.
        calls: u64,
        /// The latency budget.
        budget: Duration,
    },
    /// Open → half-open: the open interval passed.
    OpenIntervalPassed,
    /// Half-open → open: a probe failed.
    ProbeFailed {
        /// The probe's error (or the inner tier's health report).
        error: String,
    },
    /// Half-open → open: a probe answered, but slower than the budget.
    ProbeSlow {
        /// How long the probe took.
        took: Duration,
        /// The latency budget.
        budget: Duration,
    },
    /// Half-open → open: replaying the queued writes failed; what was not
    /// replayed stays queued.
    ReplayFailed {
        /// The inner tier's error.
        error: String,
    },
    /// Half-open → closed: the queue was replayed and enough probes
    /// succeeded.
    Recovered {
        /// Probe calls (and replayed batches) that succeeded.
        probes: u32,
    },
}

impl fmt::Display for TransitionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ErrorRate { failures, calls } => write!(
                f,
                "{failures} of the last {calls} calls failed ({}%)",
                percent(*failures, *calls)
            ),
            Self::ConsecutiveFailures { failures } => {
                write!(f, "the last {failures} calls failed in a row")
            }
            Self::SlowCalls {
                slow,
                calls,
                budget,
            } => write!(
                f,
                "{slow} of the last {calls} calls took longer than {budget:?} ({}%)",
                percent(*slow, *calls)
            ),
            Self::OpenIntervalPassed => f.write_str("the open interval passed; probing"),
            Self::ProbeFailed { error } => write!(f, "a probe failed: {error}"),
            Self::ProbeSlow { took, budget } => {
                write!(f, "a probe took {took:?}, over the budget of {budget:?}")
            }
            Self::ReplayFailed { error } => write!(f, "replaying queued writes failed: {error}"),
            Self::Recovered { probes } => write!(f, "{probes} probes succeeded"),
        }
    }
}

fn percent(part: u64, whole: u64) -> u64 {
    part.saturating_mul(100).checked_div(whole).unwrap_or(0)
}

/// One change of state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Transition {
    /// The state left.
    pub from: BreakerState,
    /// The state entered.
    pub to: BreakerState,
    /// Why.
    pub reason: TransitionReason,
    /// When, on the breaker's [clock](super::BreakerBuilder::clock) (time
    /// since its origin).
    pub at: Duration,
}

impl fmt::Display for Transition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -> {}: {}", self.from, self.to, self.reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_as_sentences() {
        let rate = TransitionReason::ErrorRate {
            failures: 6,
            calls: 10,
        };
        assert_eq!(rate.to_string(), "6 of the last 10 calls failed (60%)");
        let transition = Transition {
            from: BreakerState::Closed,
            to: BreakerState::Open,
            reason: TransitionReason::SlowCalls {
                slow: 3,
                calls: 4,
                budget: Duration::from_millis(50),
            },
            at: Duration::ZERO,
        };
        assert_eq!(
            transition.to_string(),
            "closed -> open: 3 of the last 4 calls took longer than 50ms (75%)"
        );
    }
}
