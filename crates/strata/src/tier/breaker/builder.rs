//! [`BreakerBuilder`]: the settings of a circuit breaker, validated when it
//! wraps a tier.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::BreakerTier;
use crate::clock::{Clock, SystemClock};
use crate::tier::{Tier, TierError};

const MIB: u64 = 1024 * 1024;

/// What [`tag_epochs`](crate::Tier::tag_epochs) answers when the inner
/// tier cannot: while the breaker refuses calls, and when a call that
/// reached the tier failed (Redis died, but the breaker has not opened
/// yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum EpochFallback {
    /// The highest epoch this breaker has seen the inner tier hold for each
    /// tag; the error if any tag asked for was never seen. Keeps tagged
    /// entries in the other tiers readable through an outage, at the cost
    /// of not seeing tag invalidations other processes make in the remote
    /// tier meanwhile (see `docs/circuit-breaker.md`).
    #[default]
    LastKnown,
    /// The error ([`TierError::Unavailable`] while refusing), like every
    /// other read: a tiered cache then treats tagged entries as misses once
    /// its own cached epochs are older than its `epoch_refresh`.
    /// Consistency over availability.
    Unavailable,
}

/// Why a [`BreakerBuilder`] configuration was refused. Returned inside
/// [`TierError::Config`] by [`BreakerBuilder::build`]; downcast the source
/// to tell which setting.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BreakerConfigError {
    /// A setting that must be positive was zero.
    #[error("{0} must be greater than zero")]
    Zero(&'static str),
    /// A rate outside `(0, 1]`.
    #[error("{name} must be in (0, 1], not {value}")]
    Rate {
        /// The setting.
        name: &'static str,
        /// The value given.
        value: f64,
    },
}

/// Settings of a [`BreakerTier`]; see each setter for its default.
///
/// ```no_run
/// # async fn run() -> Result<(), strata::TierError> {
/// use std::time::Duration;
/// use strata::tier::breaker::BreakerBuilder;
/// use strata::tier::redis::RedisTier;
///
/// let redis = RedisTier::builder("redis://127.0.0.1:6379").connect().await?;
/// let tier = BreakerBuilder::new()
///     .failure_rate(0.5)
///     .latency_budget(Duration::from_millis(50))
///     .open_interval(Duration::from_secs(5))
///     .build(redis)?;
/// # Ok(()) }
/// ```
#[must_use = "a builder does nothing until `build` is called"]
#[derive(Clone)]
pub struct BreakerBuilder {
    pub(super) window: Duration,
    pub(super) min_calls: u32,
    pub(super) consecutive_failures: u32,
    pub(super) failure_rate: f64,
    pub(super) latency_budget: Duration,
    pub(super) slow_call_rate: f64,
    pub(super) open_interval: Duration,
    pub(super) half_open_probes: u32,
    pub(super) max_queued_writes: u64,
    pub(super) max_queued_bytes: u64,
    pub(super) epoch_fallback: EpochFallback,
    pub(super) clock: Arc<dyn Clock>,
}

impl fmt::Debug for BreakerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakerBuilder")
            .field("window", &self.window)
            .field("min_calls", &self.min_calls)
            .field("consecutive_failures", &self.consecutive_failures)
            .field("failure_rate", &self.failure_rate)
            .field("latency_budget", &self.latency_budget)
            .field("slow_call_rate", &self.slow_call_rate)
            .field("open_interval", &self.open_interval)
            .field("half_open_probes", &self.half_open_probes)
            .field("max_queued_writes", &self.max_queued_writes)
            .field("max_queued_bytes", &self.max_queued_bytes)
            .field("epoch_fallback", &self.epoch_fallback)
            .finish_non_exhaustive()
    }
}

impl Default for BreakerBuilder {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(10),
            min_calls: 20,
            consecutive_failures: 20,
            failure_rate: 0.5,
            latency_budget: Duration::from_millis(100),
            slow_call_rate: 0.5,
            open_interval: Duration::from_secs(5),
            half_open_probes: 3,
            max_queued_writes: 10_000,
            max_queued_bytes: 64 * MIB,
            epoch_fallback: EpochFallback::LastKnown,
            clock: Arc::new(SystemClock::new()),
        }
    }
}

impl BreakerBuilder {
    /// Settings with every default; [`build`](Self::build) wraps a tier.
    pub fn new() -> Self {
        Self::default()
    }

    /// How far back the closed breaker looks when it judges the error rate
    /// and the share of slow calls, to a tenth of this length.
    ///
    /// Default: 10 s (as Hystrix): long enough to hold [`min_calls`]
    /// calls at modest traffic, short enough that an outage trips the
    /// breaker within seconds and old trouble is forgotten.
    ///
    /// [`min_calls`]: Self::min_calls
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// The fewest calls in the window before the breaker judges at all, so
    /// two failures out of three calls do not trip it.
    ///
    /// Default: 20 (as Hystrix). Against a dead Redis each call fails in
    /// microseconds, so the breaker opens after the first 20 calls that
    /// reach it; against a stalled one, after 20 timeouts' worth of
    /// concurrent calls.
    pub fn min_calls(mut self, calls: u32) -> Self {
        self.min_calls = calls;
        self
    }

    /// How many failures in a row open the breaker at once, whatever else
    /// the window holds. The rates judge a tier that fails part of the
    /// time; this catches one that fails every call, without waiting for
    /// its failures to outweigh the window's earlier successes (with
    /// steady traffic, about half a window: seconds in which every write
    /// fails). Any call that does not fail resets the count.
    ///
    /// Default: 20, as [`min_calls`](Self::min_calls): more than a burst
    /// of concurrent calls caught by one dropped connection, and a
    /// fraction of a second of traffic at a few hundred calls a second.
    pub fn consecutive_failures(mut self, failures: u32) -> Self {
        self.consecutive_failures = failures;
        self
    }

    /// The share of failed calls in the window, in `(0, 1]`, at which the
    /// breaker opens. Failures are [`TierError::Timeout`],
    /// [`TierError::Unavailable`] and [`TierError::Io`]: the tier could not
    /// serve. An error reply ([`TierError::Engine`]) or a refused entry
    /// ([`TierError::TooLarge`]) means the tier answered, and does not
    /// count.
    ///
    /// Default: 0.5 (as Hystrix and resilience4j): a tier failing every
    /// other call costs more than it saves.
    pub fn failure_rate(mut self, rate: f64) -> Self {
        self.failure_rate = rate;
        self
    }

    /// A call slower than this is slow, whatever its outcome; see
    /// [`slow_call_rate`](Self::slow_call_rate). In half-open state a probe
    /// slower than this counts as failed. `Duration::MAX` disables tripping
    /// on latency.
    ///
    /// Default: 100 ms. A healthy Redis answers in well under a millisecond
    /// on a LAN; a cache call slower than 100 ms is worth less than the
    /// memory and disk tiers' answer (or a miss), and the budget stays
    /// below the Redis tier's default command timeout (250 ms), so a
    /// stalling server trips the breaker on latency before timeouts pile up.
    pub fn latency_budget(mut self, budget: Duration) -> Self {
        self.latency_budget = budget;
        self
    }

    /// The share of calls in the window, in `(0, 1]`, slower than the
    /// [latency budget](Self::latency_budget) at which the breaker opens.
    ///
    /// Default: 0.5, as the failure rate: half the calls over budget means
    /// the tier is slow, not that a few values are large.
    pub fn slow_call_rate(mut self, rate: f64) -> Self {
        self.slow_call_rate = rate;
        self
    }

    /// How long the breaker stays open before it probes the tier again.
    /// A background task (on the tokio runtime the breaker opened in)
    /// starts the probing when it passes; any call after it does too.
    ///
    /// Default: 5 s (as Hystrix): a restarted Redis is back within seconds,
    /// and a dead one costs one round of probes per interval.
    pub fn open_interval(mut self, interval: Duration) -> Self {
        self.open_interval = interval;
        self
    }

    /// How many probe calls the half-open breaker lets through, and how
    /// many must succeed (queued writes replayed count too) before it
    /// closes. Calls beyond it are treated as while open; one failed or
    /// slow probe opens the breaker again. With no traffic, the breaker
    /// probes with [`health`](crate::Tier::health) calls of its own.
    ///
    /// Default: 3: one lucky call does not close the breaker, and a tier
    /// still down sees three calls per open interval, not a stampede.
    pub fn half_open_probes(mut self, probes: u32) -> Self {
        self.half_open_probes = probes;
        self
    }

    /// The most writes queued while the tier is out of reach (each entry
    /// put or key deleted counts one; a pattern delete, clear or epoch
    /// change one). Past it, writes are dropped, counted, and their callers
    /// get [`TierError::Unavailable`]. 0 queues nothing: every write while
    /// open is dropped that way.
    ///
    /// Default: 10,000: a minute of an outage at over 150 writes a second,
    /// replayed in about 40 batches.
    pub fn max_queued_writes(mut self, writes: u64) -> Self {
        self.max_queued_writes = writes;
        self
    }

    /// The most bytes (keys and envelopes) queued while the tier is out of
    /// reach; past it, writes are dropped as for
    /// [`max_queued_writes`](Self::max_queued_writes).
    ///
    /// Default: 64 MiB: 10,000 writes of 6 KiB, and a bound on what an
    /// outage costs in memory whatever the entries weigh.
    pub fn max_queued_bytes(mut self, bytes: u64) -> Self {
        self.max_queued_bytes = bytes;
        self
    }

    /// What [`tag_epochs`](crate::Tier::tag_epochs) answers when the
    /// inner tier cannot.
    ///
    /// Default: [`EpochFallback::LastKnown`], so tagged entries in the
    /// memory and disk tiers stay readable through an outage.
    pub fn epoch_fallback(mut self, policy: EpochFallback) -> Self {
        self.epoch_fallback = policy;
        self
    }

    /// The clock the window, latencies and the open interval are measured
    /// on. Tests inject a [`ManualClock`](crate::ManualClock) and move it
    /// by hand; the background probe after the open interval still waits in
    /// real time (use [`BreakerTier::recover`] with a manual clock).
    ///
    /// Default: [`SystemClock`].
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Wraps `inner` in a breaker with these settings, closed.
    ///
    /// # Errors
    /// [`TierError::Config`] with a [`BreakerConfigError`] for an invalid
    /// setting.
    pub fn build<T: Tier>(self, inner: T) -> Result<BreakerTier<T>, TierError> {
        if let Err(error) = self.validate() {
            return Err(TierError::Config {
                tier: inner.name().to_owned(),
                source: Box::new(error),
            });
        }
        Ok(BreakerTier::from_parts(self, inner))
    }

    fn validate(&self) -> Result<(), BreakerConfigError> {
        let zero = [
            ("window", self.window.is_zero()),
            ("min_calls", self.min_calls == 0),
            ("consecutive_failures", self.consecutive_failures == 0),
            ("latency_budget", self.latency_budget.is_zero()),
            ("open_interval", self.open_interval.is_zero()),
            ("half_open_probes", self.half_open_probes == 0),
        ];
        if let Some((name, _)) = zero.into_iter().find(|(_, is_zero)| *is_zero) {
            return Err(BreakerConfigError::Zero(name));
        }
        for (name, value) in [
            ("failure_rate", self.failure_rate),
            ("slow_call_rate", self.slow_call_rate),
        ] {
            // Written so that NaN fails too.
            if !(value > 0.0 && value <= 1.0) {
                return Err(BreakerConfigError::Rate { name, value });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_settings_are_refused_with_the_setting_named() {
        let base = BreakerBuilder::default;
        assert_eq!(
            base().window(Duration::ZERO).validate(),
            Err(BreakerConfigError::Zero("window"))
        );
        assert_eq!(
            base().min_calls(0).validate(),
            Err(BreakerConfigError::Zero("min_calls"))
        );
        assert_eq!(
            base().consecutive_failures(0).validate(),
            Err(BreakerConfigError::Zero("consecutive_failures"))
        );
        assert_eq!(
            base().latency_budget(Duration::ZERO).validate(),
            Err(BreakerConfigError::Zero("latency_budget"))
        );
        assert_eq!(
            base().open_interval(Duration::ZERO).validate(),
            Err(BreakerConfigError::Zero("open_interval"))
        );
        assert_eq!(
            base().half_open_probes(0).validate(),
            Err(BreakerConfigError::Zero("half_open_probes"))
        );
        assert_eq!(
            base().failure_rate(0.0).validate(),
            Err(BreakerConfigError::Rate {
                name: "failure_rate",
                value: 0.0
            })
        );
        assert!(matches!(
            base().slow_call_rate(f64::NAN).validate(),
            Err(BreakerConfigError::Rate {
                name: "slow_call_rate",
                ..
            })
        ));
        assert_eq!(
            base().failure_rate(1.0).max_queued_writes(0).validate(),
            Ok(())
        );
    }
}
