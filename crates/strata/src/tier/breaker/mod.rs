//! A circuit breaker around any tier: [`BreakerTier`].
//!
//! A remote tier that fails or stalls should cost its callers nothing more
//! than its absence: the memory and disk tiers keep serving, and no request
//! waits on a tier that is known to be down. `BreakerTier<T>` wraps a tier
//! (in practice the [Redis tier](crate::tier::redis::RedisTier)) and
//! implements [`Tier`] itself, so a [`TieredCache`](crate::TieredCache)
//! takes it in place of the tier it wraps. `docs/circuit-breaker.md` has
//! the design and the figures; in short:
//!
//! * **Closed** (normal): calls go through. Their outcomes fill a rolling
//!   [window](BreakerBuilder::window); once it holds
//!   [`min_calls`](BreakerBuilder::min_calls) calls, the breaker **opens**
//!   if the share of failures reaches
//!   [`failure_rate`](BreakerBuilder::failure_rate) or the share of calls
//!   slower than the [latency budget](BreakerBuilder::latency_budget)
//!   reaches [`slow_call_rate`](BreakerBuilder::slow_call_rate); and at
//!   once after [`consecutive_failures`](BreakerBuilder::consecutive_failures)
//!   failures in a row (a tier that fails every call).
//! * **Open**: nothing waits on the inner tier. Reads fail at once with
//!   [`TierError::Unavailable`] — a [`TieredCache`](crate::TieredCache)
//!   treats a failed tier read as a miss of that tier and asks the next, so
//!   the memory and disk tiers keep serving. Writes are queued (below).
//!   [`health`](Tier::health) reports `Down` with the reason.
//! * **Half-open**, after the [open interval](BreakerBuilder::open_interval):
//!   a background task calls the tier's `health` once without judging it
//!   (a tier that reconnects on demand fails the first call after an
//!   outage on the attempt that failed during it), then replays the queued
//!   writes, in order; then at most [`half_open_probes`](BreakerBuilder::half_open_probes)
//!   calls reach the tier as probes (callers' calls, or `health` calls of
//!   the breaker's own when there is no traffic). When that many have
//!   succeeded within the budget the breaker **closes**; one failed or slow
//!   probe, or a failed replay, opens it again. Every other call is treated
//!   as while open; `health` reports `Degraded`.
//!
//! # Writes while the tier is out of reach
//!
//! Every mutation — `put`/`put_many`, `delete`/`delete_many`,
//! `delete_matching`, `clear`, `bump_tag_epoch`, `raise_tag_epoch` — made
//! while the breaker is open (or half-open and not admitted as a probe) is
//! appended to **one ordered queue**, bounded by
//! [`max_queued_writes`](BreakerBuilder::max_queued_writes) and
//! [`max_queued_bytes`](BreakerBuilder::max_queued_bytes), and replayed in
//! that order before any call reaches the tier again. So a put queued
//! before a delete (or an invalidation by pattern, or a tag bump) of the
//! same key can never land after it.
//!
//! What the caller is told:
//!
//! | call while open | queued | queue full |
//! | --- | --- | --- |
//! | `put`, `put_many`, `raise_tag_epoch` | `Ok(())` | `Err(Unavailable)`, dropped, counted |
//! | `delete`, `delete_many`, `delete_matching`, `clear` | `Ok(0)` / `Ok(false)`: nothing *known* removed yet | as above |
//! | `bump_tag_epoch` | `Err(Unavailable)`: no epoch can be promised, but the bump is queued and will be applied | as above |
//! | `flush` | `Err(Unavailable)`, naming the writes still queued | — |
//!
//! A queued write is acknowledged (`Ok`) because the [`Tier`] contract
//! still holds: after `put` returns `Ok`, a later `get` sees that write, a
//! later one, or nothing — and while the write is queued, every read is
//! refused, and reads reach the tier again only after the queue has been
//! replayed. A write that cannot be queued gets an error, because an `Ok`
//! would break that contract (the tier would serve the value the write
//! meant to replace). So a [`TieredCache`](crate::TieredCache) with
//! write-through keeps accepting writes through an outage (they land in
//! memory and on disk now, in Redis on recovery), and reports the ones it
//! could not keep.
//!
//! Queued writes live in memory: if the process exits first they are lost,
//! and the breaker logs how many when it is dropped. Queued puts are
//! replayed with [`Tier::put_many_unless_newer`], so a put never replaces
//! a write of the same key that another process made while it waited
//! (counted in [`BreakerStats::superseded_at_replay`]).
//!
//! # Tag epochs
//!
//! When the tier cannot answer [`tag_epochs`](Tier::tag_epochs) (the
//! breaker refuses the call, or the call fails), the breaker answers, by
//! default, the highest epochs it has seen the tier hold
//! ([`EpochFallback`]): a tiered cache validates tagged entries from every
//! tier against every tier's epochs, so without this, tagged entries in the
//! memory and disk tiers would turn into misses during an outage.
//! Those answers may be behind the tier's, so each time the breaker closes
//! after an outage it says so ([`Tier::recoveries`]), and a tiered cache
//! then forgets its cached epochs and clears its memory tier.
//!
//! # Stats and logs
//!
//! [`BreakerTier::breaker_stats`] gives the state, the transitions and the
//! last one's reason, calls refused, and queued, replayed, refused and
//! dropped writes. Each transition is one `tracing` event (`warn` when the
//! breaker opens, `info` otherwise), with the tier's name and the reason.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use strata::tier::breaker::BreakerBuilder;
//! use strata::tier::redis::RedisTier;
//! use strata::{MemoryCache, TieredCache};
//!
//! let redis = RedisTier::builder("redis://127.0.0.1:6379")
//!     .command_timeout(Duration::from_millis(100))
//!     .connect()
//!     .await?;
//! let redis = BreakerBuilder::new()
//!     .latency_budget(Duration::from_millis(50))
//!     .build(redis)?;
//! let memory = MemoryCache::builder().max_entries(10_000).build()?;
//! let cache: TieredCache<String> = TieredCache::builder(memory)
//!     .tier(Arc::new(redis))
//!     .build()?;
//! # Ok(()) }
//! ```

mod builder;
mod epochs;
mod machine;
mod queue;
mod recovery;
mod state;
mod stats;
mod tier_impl;
mod window;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;

pub use builder::{BreakerBuilder, BreakerConfigError, EpochFallback};
pub use state::{BreakerState, Transition, TransitionReason};
pub use stats::BreakerStats;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

use crate::clock::{Clock, nanos};
use crate::tier::{Tier, TierError};
use epochs::KnownEpochs;
use machine::{Effects, Machine, Settings, Ticket, WriteDecision};
use queue::{Mutation, WriteQueue};

/// A [`Tier`] that wraps another behind a circuit breaker; see the
/// [module documentation](self).
///
/// Build with [`BreakerBuilder`]. Cheap to clone: clones share one breaker.
/// It reports the inner tier's [name](Tier::name) and
/// [stats](Tier::stats), so a tiered cache's figures read the same with or
/// without it.
pub struct BreakerTier<T: Tier> {
    shared: Arc<Shared<T>>,
}

impl<T: Tier> Clone for BreakerTier<T> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T: Tier> fmt::Debug for BreakerTier<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakerTier")
            .field("tier", &self.shared.inner.name())
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

impl<T: Tier> BreakerTier<T> {
    pub(super) fn from_parts(builder: BreakerBuilder, inner: T) -> Self {
        let settings = Settings {
            window_nanos: nanos(builder.window),
            min_calls: u64::from(builder.min_calls),
            consecutive_failures: u64::from(builder.consecutive_failures),
            failure_rate: builder.failure_rate,
            budget: builder.latency_budget,
            slow_call_rate: builder.slow_call_rate,
            open_nanos: nanos(builder.open_interval),
            probes: builder.half_open_probes,
        };
        let queue = WriteQueue::new(builder.max_queued_writes, builder.max_queued_bytes);
        let now = builder.clock.now_nanos();
        Self {
            shared: Arc::new(Shared {
                inner,
                machine: Mutex::new(Machine::new(settings, queue, now)),
                clock: builder.clock,
                open_interval: builder.open_interval,
                epoch_fallback: builder.epoch_fallback,
                known: Mutex::new(KnownEpochs::default()),
                epochs_from_memory: AtomicU64::new(0),
                superseded_at_replay: AtomicU64::new(0),
                driver: tokio::sync::Mutex::new(()),
                kicked: AtomicBool::new(false),
                recoveries: tokio::sync::watch::Sender::new(0),
            }),
        }
    }

    /// The wrapped tier, for its own figures (such as
    /// [`RedisTier::redis_stats`](crate::tier::redis::RedisTier::redis_stats)).
    /// Calls made on it directly bypass the breaker.
    pub fn inner(&self) -> &T {
        &self.shared.inner
    }

    /// The state now (an open breaker whose interval has passed reports
    /// `Open` until a call or the background task moves it).
    pub fn state(&self) -> BreakerState {
        self.shared.machine.lock().state()
    }

    /// The breaker's figures.
    pub fn breaker_stats(&self) -> BreakerStats {
        let from_memory = self.shared.epochs_from_memory.load(Ordering::Relaxed);
        let mut stats = self.shared.machine.lock().stats(from_memory);
        stats.superseded_at_replay = self.shared.superseded_at_replay.load(Ordering::Relaxed);
        stats
    }

    /// Runs the recovery now, if it is due, and returns the state after:
    /// an open breaker whose interval has passed goes half-open, replays
    /// its queued writes and probes the tier until it closes or opens
    /// again. Waits for a recovery already running in the background.
    ///
    /// The breaker does this on its own (a tokio task started when it
    /// opens); call it where that cannot happen: with a
    /// [`ManualClock`](crate::ManualClock), or outside a tokio runtime.
    pub async fn recover(&self) -> BreakerState {
        self.shared.drive().await;
        self.state()
    }
}

/// Everything the clones of one breaker share.
struct Shared<T: Tier> {
    inner: T,
    clock: Arc<dyn Clock>,
    open_interval: Duration,
    epoch_fallback: EpochFallback,
    /// State, window, queue and counters under one lock: each call changes
    /// several of them together (admit and enqueue; record and trip), and
    /// the critical sections are a few comparisons. It is never held across
    /// an `.await` (the inner call runs between two short sections).
    machine: Mutex<Machine>,
    /// A separate lock: epochs are learnt after calls end, and need not be
    /// consistent with the state.
    known: Mutex<KnownEpochs>,
    epochs_from_memory: AtomicU64,
    /// Replayed puts the tier skipped because it held a newer write.
    superseded_at_replay: AtomicU64,
    /// Held by the one recovery driver running (an async lock: the driver
    /// awaits the inner tier while holding it).
    driver: tokio::sync::Mutex<()>,
    /// A driver run is pending: further kicks need not start another.
    kicked: AtomicBool,
    /// Counts closings after an outage ([`Tier::recoveries`]).
    recoveries: tokio::sync::watch::Sender<u64>,
}

/// A write either goes to the tier now (with its payload back) or was
/// queued.
enum Admitted<P> {
    Now(Ticket, P),
    Queued,
}

impl<T: Tier> Shared<T> {
    /// Runs `f` on the state machine with the time now, then carries out
    /// what it asked for once the lock is released.
    fn with_machine<R>(self: &Arc<Self>, f: impl FnOnce(&mut Machine, u64) -> R) -> R {
        let (result, effects) = {
            let mut machine = self.machine.lock();
            // Read under the lock, so the machine sees time move forward
            // in the order it is called.
            let now = self.clock.now_nanos();
            let result = f(&mut machine, now);
            (result, machine.take_effects())
        };
        self.apply(effects);
        result
    }

    fn apply(self: &Arc<Self>, effects: Effects) {
        let tier = self.inner.name();
        for transition in &effects.log {
            let (from, to, reason) = (transition.from, transition.to, &transition.reason);
            match to {
                BreakerState::Open => {
                    tracing::warn!(tier, %from, %to, %reason, "circuit breaker opened");
                }
                _ => tracing::info!(tier, %from, %to, %reason, "circuit breaker {to}"),
            }
            // Back after an outage: epochs answered from memory meanwhile
            // may be behind the tier's, and caches above must stop trusting
            // what they validated with them. Every closing counts, not only
            // those after a fallback answer: a fallback racing the close
            // would otherwise go unseen, and a close is rare next to reads.
            if to == BreakerState::Closed && from != BreakerState::Closed {
                self.recoveries.send_modify(|n| *n += 1);
            }
        }
        if let Some(reason) = effects.first_drop {
            tracing::warn!(
                tier,
                %reason,
                "dropping writes until the tier recovers; each is counted in BreakerStats::dropped and fails its caller"
            );
        }
        if effects.arm_timer {
            self.arm_timer();
        }
        if effects.kick {
            self.kick();
        }
    }

    fn unavailable(&self, reason: String) -> TierError {
        TierError::Unavailable {
            tier: self.inner.name().to_owned(),
            reason,
        }
    }

    /// Admits a read, or refuses it at once (counted).
    fn admit_read(self: &Arc<Self>) -> Result<Ticket, TierError> {
        self.with_machine(|machine, now| match machine.admit_read(now) {
            machine::ReadDecision::Pass(ticket) => Ok(ticket),
            machine::ReadDecision::Refuse(reason) => {
                machine.count_rejected();
                Err(reason)
            }
        })
        .map_err(|reason| self.unavailable(reason))
    }

    /// Admits a write now, or queues `into(payload)`; the error is a write
    /// dropped because the queue is full.
    fn admit_write<P>(
        self: &Arc<Self>,
        payload: P,
        into: impl FnOnce(P) -> Mutation,
    ) -> Result<Admitted<P>, TierError> {
        self.with_machine(|machine, now| match machine.admit_write(now) {
            WriteDecision::Pass(ticket) => Ok(Admitted::Now(ticket, payload)),
            WriteDecision::Queue => machine.enqueue(into(payload)).map(|()| Admitted::Queued),
        })
        .map_err(|reason| self.unavailable(reason))
    }

    /// The last known epochs of `tags` in place of `error`, if the
    /// fallback allows and every tag is known; `error` otherwise.
    fn recall_epochs(&self, tags: &[String], error: TierError) -> Result<Vec<u64>, TierError> {
        if self.epoch_fallback == EpochFallback::LastKnown
            && let Some(epochs) = self.known.lock().recall(tags)
        {
            self.epochs_from_memory.fetch_add(1, Ordering::Relaxed);
            return Ok(epochs);
        }
        Err(error)
    }

    /// Runs one admitted call of the inner tier and judges its outcome.
    async fn run<R>(
        self: &Arc<Self>,
        ticket: Ticket,
        call: impl Future<Output = Result<R, TierError>>,
    ) -> Result<R, TierError> {
        let guard = Call::new(self, ticket);
        let result = call.await;
        guard.end(
            result
                .as_ref()
                .err()
                .filter(|e| is_failure(e))
                .map(ToString::to_string),
        );
        result
    }
}

/// Whether an error says the tier could not serve: what the breaker counts
/// against it. An error reply ([`TierError::Engine`]), an entry too large
/// or a bad setting means the tier answered; opening the breaker would not
/// help, and a replay must not retry them forever.
fn is_failure(error: &TierError) -> bool {
    matches!(
        error,
        TierError::Timeout { .. } | TierError::Unavailable { .. } | TierError::Io { .. }
    )
}

/// One admitted call in flight. Dropped without [`end`](Self::end) (the
/// caller's future was cancelled), it gives a probe's place back.
struct Call<'a, T: Tier> {
    shared: &'a Arc<Shared<T>>,
    ticket: Ticket,
    ended: bool,
}

impl<'a, T: Tier> Call<'a, T> {
    fn new(shared: &'a Arc<Shared<T>>, ticket: Ticket) -> Self {
        Self {
            shared,
            ticket,
            ended: false,
        }
    }

    /// Judges the call: `failure` is why it failed, if it did.
    fn end(mut self, failure: Option<String>) {
        self.ended = true;
        let ticket = self.ticket;
        self.shared
            .with_machine(|machine, now| machine.finish(ticket, now, failure));
    }
}

impl<T: Tier> Drop for Call<'_, T> {
    fn drop(&mut self) {
        if !self.ended {
            let ticket = self.ticket;
            self.shared
                .with_machine(|machine, now| machine.cancel(ticket, now));
        }
    }
}

impl<T: Tier> Drop for Shared<T> {
    fn drop(&mut self) {
        let queued = self.machine.get_mut().queued_now();
        if queued > 0 {
            tracing::warn!(
                tier = self.inner.name(),
                queued,
                "circuit breaker dropped with writes still queued: they never reached the tier"
            );
        }
    }
}
