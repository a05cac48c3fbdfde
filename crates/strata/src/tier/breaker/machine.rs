//! The breaker's state machine: admission of calls, the outcomes that move
//! it, and what the recovery driver should do next.
//!
//! It is synchronous and takes the time as an argument, so every transition
//! is tested without a runtime or a clock. It never performs I/O or logs:
//! what must happen outside its lock (log a transition, arm the open
//! interval's timer, start the recovery driver) is left in [`Effects`] for
//! the caller to carry out once the lock is released.
//!
//! ```text
//!     failure rate or slow-call rate over min_calls; consecutive failures
//!   Closed ────────────────────────────────────────────────▶ Open
//!     ▲                                                   │   ▲
//!     │ queue replayed and                open interval   │   │ a probe failed or was
//!     │ `half_open_probes` probes ok      passed          ▼   │ slow; replay failed
//!     └──────────────────────────────────────────────── HalfOpen
//! ```
//!
//! **Generations.** Every transition starts a new generation, and every
//! admitted call carries the generation it was admitted in. An outcome from
//! an earlier generation (a slow call admitted while closed that ends after
//! the breaker opened) is ignored: it says nothing about the tier since.

use std::time::Duration;

use super::queue::{Batch, Full, Mutation, WriteQueue};
use super::state::{BreakerState, Transition, TransitionReason};
use super::stats::{BreakerStats, Counters};
use super::window::Window;

/// The thresholds, in the machine's units.
#[derive(Debug, Clone)]
pub(super) struct Settings {
    pub(super) window_nanos: u64,
    pub(super) min_calls: u64,
    pub(super) consecutive_failures: u64,
    pub(super) failure_rate: f64,
    pub(super) budget: Duration,
    pub(super) slow_call_rate: f64,
    pub(super) open_nanos: u64,
    pub(super) probes: u32,
}

#[derive(Debug)]
enum Phase {
    Closed,
    Open {
        /// When the open interval ends.
        until: u64,
        reason: TransitionReason,
    },
    HalfOpen {
        /// Whether the driver's wake-up call has ended (see
        /// [`Step::Wake`]); nothing else reaches the tier before it.
        awake: bool,
        /// Probe calls let through so far (at most `probes`); a cancelled
        /// probe gives its place back.
        admitted: u32,
        /// Probe calls let through and not yet ended.
        in_flight: u32,
        /// Probes, and replayed batches, that succeeded.
        succeeded: u32,
    },
}

/// Permission to call the inner tier, and what to judge the call by.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ticket {
    generation: u64,
    probe: bool,
    started: u64,
}

/// Whether a read may reach the inner tier.
#[derive(Debug)]
pub(super) enum ReadDecision {
    Pass(Ticket),
    /// Refused at once, with why.
    Refuse(String),
}

/// Whether a write goes to the inner tier now or into the queue.
#[derive(Debug)]
pub(super) enum WriteDecision {
    Pass(Ticket),
    Queue,
}

/// What the recovery driver should do next.
#[derive(Debug)]
pub(super) enum Step {
    /// Nothing, for now.
    Done,
    /// Call the tier once, without judging the outcome, before anything
    /// else of this half-open period reaches it. A tier that reconnects on
    /// demand (the Redis tier) fails the first call after an outage on the
    /// connection attempt that failed during it, and starts a fresh one
    /// that the next call uses: judged, that first call would keep the
    /// breaker open one more interval after every outage.
    Wake { generation: u64 },
    /// Apply the front of the queue.
    Replay { batch: Batch, generation: u64 },
    /// Send a probe of the driver's own (the tier's `health`).
    Probe(Ticket),
}

/// How replaying one batch ended.
#[derive(Debug)]
pub(super) enum Replayed {
    /// Applied, except `refused` writes the tier refused for good.
    Applied { refused: u64 },
    /// The tier could not serve: nothing leaves the queue.
    Failed(String),
}

/// The state as [`health`](crate::Tier::health) reports it.
#[derive(Debug)]
pub(super) enum View {
    Closed,
    Open(String),
    HalfOpen(String),
}

/// What the caller must do once the lock is released.
#[derive(Debug, Default)]
pub(super) struct Effects {
    /// Transitions to log, in order.
    pub(super) log: Vec<Transition>,
    /// The breaker opened: wake the driver when the open interval passes.
    pub(super) arm_timer: bool,
    /// The driver has work (replay or probe): start it.
    pub(super) kick: bool,
    /// The first write dropped since the breaker last closed (logged once
    /// per outage; the rest are counted).
    pub(super) first_drop: Option<String>,
}

/// The whole mutable state of one breaker, behind one lock.
#[derive(Debug)]
pub(super) struct Machine {
    settings: Settings,
    phase: Phase,
    generation: u64,
    window: Window,
    /// Failures in a row while closed (any other outcome resets it).
    failures_in_a_row: u64,
    queue: WriteQueue,
    counters: Counters,
    drop_logged: bool,
    effects: Effects,
}

impl Machine {
    pub(super) fn new(settings: Settings, queue: WriteQueue, now: u64) -> Self {
        Self {
            window: Window::new(settings.window_nanos, now),
            settings,
            phase: Phase::Closed,
            generation: 0,
            failures_in_a_row: 0,
            queue,
            counters: Counters::default(),
            drop_logged: false,
            effects: Effects::default(),
        }
    }

    pub(super) fn state(&self) -> BreakerState {
        match self.phase {
            Phase::Closed => BreakerState::Closed,
            Phase::Open { .. } => BreakerState::Open,
            Phase::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    pub(super) fn take_effects(&mut self) -> Effects {
        std::mem::take(&mut self.effects)
    }

    /// A read: through when closed, as one of the bounded probes when
    /// half-open with nothing queued, refused otherwise. A refusal is not
    /// counted here: the caller may still answer (epochs from memory).
    pub(super) fn admit_read(&mut self, now: u64) -> ReadDecision {
        match self.admit(now) {
            Some(ticket) => ReadDecision::Pass(ticket),
            None => ReadDecision::Refuse(self.refusal(now)),
        }
    }

    /// Counts a read refused at once.
    pub(super) fn count_rejected(&mut self) {
        self.counters.rejected += 1;
    }

    /// A write: as a read, except that instead of a refusal it is queued
    /// (by [`enqueue`](Self::enqueue), under the same lock, so nothing can
    /// change the state in between).
    pub(super) fn admit_write(&mut self, now: u64) -> WriteDecision {
        match self.admit(now) {
            Some(ticket) => WriteDecision::Pass(ticket),
            None => WriteDecision::Queue,
        }
    }

    fn admit(&mut self, now: u64) -> Option<Ticket> {
        self.poll(now);
        let generation = self.generation;
        let probes = self.settings.probes;
        let queue_empty = self.queue.is_empty();
        match &mut self.phase {
            Phase::Closed => Some(Ticket {
                generation,
                probe: false,
                started: now,
            }),
            // Nothing may reach the tier before the queue is replayed: a
            // read would see values older than queued writes, and a write
            // would overtake them.
            Phase::HalfOpen {
                awake: true,
                admitted,
                in_flight,
                ..
            } if queue_empty && *admitted < probes => {
                *admitted += 1;
                *in_flight += 1;
                Some(Ticket {
                    generation,
                    probe: true,
                    started: now,
                })
            }
            _ => None,
        }
    }

    /// Appends a write to the queue, or drops it (counted) when the queue
    /// is full; the error says why, for the caller.
    pub(super) fn enqueue(&mut self, mutation: Mutation) -> Result<(), String> {
        let entries = mutation.entries();
        match self.queue.push(mutation) {
            Ok(()) => {
                self.counters.queued += entries;
                self.kick_if_needed();
                Ok(())
            }
            Err(full) => {
                self.counters.dropped += entries;
                let bound = match full {
                    Full::Writes(max) => format!("{max} writes"),
                    Full::Bytes(max) => format!("{max} bytes"),
                };
                let reason = format!(
                    "circuit breaker {}: the write queue is full ({bound}); write dropped",
                    self.state()
                );
                if !self.drop_logged {
                    self.drop_logged = true;
                    self.effects.first_drop = Some(reason.clone());
                }
                Err(reason)
            }
        }
    }

    /// Judges a call that ended at `now`; `failure` is why it failed, if it
    /// did (see `is_failure`).
    pub(super) fn finish(&mut self, ticket: Ticket, now: u64, failure: Option<String>) {
        if ticket.generation != self.generation {
            return;
        }
        let took = now.saturating_sub(ticket.started);
        let slow = took > nanos(self.settings.budget);
        match &mut self.phase {
            Phase::Closed => {
                self.window.record(now, failure.is_some(), slow);
                self.failures_in_a_row = match failure {
                    Some(_) => self.failures_in_a_row + 1,
                    None => 0,
                };
                self.judge(now);
            }
            Phase::HalfOpen {
                in_flight,
                succeeded,
                ..
            } if ticket.probe => {
                *in_flight = in_flight.saturating_sub(1);
                if let Some(error) = failure {
                    self.trip(TransitionReason::ProbeFailed { error }, now);
                } else if slow {
                    let budget = self.settings.budget;
                    let took = Duration::from_nanos(took);
                    self.trip(TransitionReason::ProbeSlow { took, budget }, now);
                } else {
                    *succeeded += 1;
                    self.settle(now);
                }
            }
            _ => {}
        }
    }

    /// A call admitted but dropped before it ended (its future was
    /// cancelled): a probe gives its place back, so a cancelled probe
    /// cannot leave the breaker half-open for good.
    pub(super) fn cancel(&mut self, ticket: Ticket, now: u64) {
        if ticket.generation != self.generation || !ticket.probe {
            return;
        }
        if let Phase::HalfOpen {
            admitted,
            in_flight,
            ..
        } = &mut self.phase
        {
            *admitted = admitted.saturating_sub(1);
            *in_flight = in_flight.saturating_sub(1);
            self.settle(now);
        }
    }

    /// The recovery driver's next step. Replays only when no probe is in
    /// flight, so a queued write never overtakes a write let through as a
    /// probe before it.
    pub(super) fn next_step(&mut self, now: u64) -> Step {
        self.poll(now);
        let Phase::HalfOpen {
            awake,
            in_flight,
            succeeded,
            ..
        } = self.phase
        else {
            return Step::Done;
        };
        if !awake {
            return Step::Wake {
                generation: self.generation,
            };
        }
        if !self.queue.is_empty() {
            return match self.queue.front() {
                Some(batch) if in_flight == 0 => Step::Replay {
                    batch,
                    generation: self.generation,
                },
                _ => Step::Done,
            };
        }
        if succeeded >= self.settings.probes {
            self.settle(now);
            return Step::Done;
        }
        // A place among the probes, if traffic has not taken them all.
        self.admit(now).map_or(Step::Done, Step::Probe)
    }

    /// Records the end of the wake-up call of the half-open period
    /// `generation`.
    pub(super) fn woke(&mut self, generation: u64) {
        if generation == self.generation
            && let Phase::HalfOpen { awake, .. } = &mut self.phase
        {
            *awake = true;
        }
    }

    /// Records the end of replaying a batch of `items` queued mutations
    /// (`entries` writes).
    pub(super) fn replayed(
        &mut self,
        items: usize,
        entries: u64,
        generation: u64,
        result: Replayed,
        now: u64,
    ) {
        let current = generation == self.generation;
        match result {
            Replayed::Applied { refused } => {
                // Applied is applied, whatever happened to the state since.
                self.queue.pop(items);
                self.counters.replayed += entries.saturating_sub(refused);
                self.counters.refused_at_replay += refused;
                if current && let Phase::HalfOpen { succeeded, .. } = &mut self.phase {
                    *succeeded += 1;
                    self.settle(now);
                }
            }
            Replayed::Failed(error) => {
                if current && matches!(self.phase, Phase::HalfOpen { .. }) {
                    self.trip(TransitionReason::ReplayFailed { error }, now);
                }
            }
        }
    }

    /// The state for a health report (moving to half-open if it is time).
    pub(super) fn view(&mut self, now: u64) -> View {
        self.poll(now);
        match &self.phase {
            Phase::Closed => View::Closed,
            Phase::Open { .. } => View::Open(self.refusal(now)),
            Phase::HalfOpen { succeeded, .. } => View::HalfOpen(format!(
                "circuit breaker half-open: {succeeded} of {} probes succeeded, {} writes queued",
                self.settings.probes,
                self.queue.entries()
            )),
        }
    }

    /// Writes queued now, for `flush` to report.
    pub(super) fn queued_now(&self) -> u64 {
        self.queue.entries()
    }

    pub(super) fn stats(&self, epochs_from_memory: u64) -> BreakerStats {
        let c = &self.counters;
        BreakerStats {
            state: self.state(),
            transitions: c.transitions,
            last_transition: c.last_transition.clone(),
            rejected: c.rejected,
            epochs_from_memory,
            queued: c.queued,
            replayed: c.replayed,
            refused_at_replay: c.refused_at_replay,
            // Kept outside the lock; filled in by the caller.
            superseded_at_replay: 0,
            dropped: c.dropped,
            queued_now: self.queue.entries(),
            queued_bytes_now: self.queue.bytes(),
        }
    }

    /// Why a call is refused now.
    fn refusal(&self, now: u64) -> String {
        match &self.phase {
            Phase::Open { until, reason } => format!(
                "circuit breaker open ({reason}); probing again in {:?}",
                Duration::from_nanos(until.saturating_sub(now))
            ),
            Phase::HalfOpen { awake: false, .. } => {
                "circuit breaker half-open: waking the tier before probing it".to_owned()
            }
            Phase::HalfOpen { .. } if !self.queue.is_empty() => format!(
                "circuit breaker half-open: replaying {} queued writes first",
                self.queue.entries()
            ),
            Phase::HalfOpen { .. } => format!(
                "circuit breaker half-open: all {} probes taken",
                self.settings.probes
            ),
            Phase::Closed => "circuit breaker closed".to_owned(),
        }
    }

    /// Open → half-open once the open interval has passed.
    fn poll(&mut self, now: u64) {
        if let Phase::Open { until, .. } = self.phase
            && now >= until
        {
            self.enter(
                Phase::HalfOpen {
                    awake: false,
                    admitted: 0,
                    in_flight: 0,
                    succeeded: 0,
                },
                TransitionReason::OpenIntervalPassed,
                now,
            );
            self.effects.kick = true;
        }
    }

    /// Closed: opens if the window is over either threshold.
    fn judge(&mut self, now: u64) {
        if self.failures_in_a_row >= self.settings.consecutive_failures {
            let failures = self.failures_in_a_row;
            self.trip(TransitionReason::ConsecutiveFailures { failures }, now);
            return;
        }
        let counts = self.window.totals(now);
        if counts.calls < self.settings.min_calls {
            return;
        }
        let over = |part: u64, rate: f64| part as f64 >= rate * counts.calls as f64;
        let reason = if over(counts.failures, self.settings.failure_rate) {
            TransitionReason::ErrorRate {
                failures: counts.failures,
                calls: counts.calls,
            }
        } else if over(counts.slow, self.settings.slow_call_rate) {
            TransitionReason::SlowCalls {
                slow: counts.slow,
                calls: counts.calls,
                budget: self.settings.budget,
            }
        } else {
            return;
        };
        self.trip(reason, now);
    }

    /// Half-open: closes once the queue is replayed, enough probes
    /// succeeded and none is in flight; otherwise starts the driver if it
    /// has something to do.
    fn settle(&mut self, now: u64) {
        let Phase::HalfOpen {
            in_flight,
            succeeded,
            ..
        } = self.phase
        else {
            return;
        };
        if self.queue.is_empty() && succeeded >= self.settings.probes && in_flight == 0 {
            self.enter(
                Phase::Closed,
                TransitionReason::Recovered { probes: succeeded },
                now,
            );
            self.window.reset(now);
            self.failures_in_a_row = 0;
            self.drop_logged = false;
        } else {
            self.kick_if_needed();
        }
    }

    /// Half-open with work for the driver: a wake-up call, a queue to
    /// replay (once no probe is in flight), or probe places free.
    fn kick_if_needed(&mut self) {
        if let Phase::HalfOpen {
            awake,
            admitted,
            in_flight,
            ..
        } = self.phase
        {
            let replay = !self.queue.is_empty() && in_flight == 0;
            let probe = self.queue.is_empty() && admitted < self.settings.probes;
            if !awake || replay || probe {
                self.effects.kick = true;
            }
        }
    }

    fn trip(&mut self, reason: TransitionReason, now: u64) {
        let until = now.saturating_add(self.settings.open_nanos);
        self.enter(
            Phase::Open {
                until,
                reason: reason.clone(),
            },
            reason,
            now,
        );
        self.effects.arm_timer = true;
    }

    fn enter(&mut self, phase: Phase, reason: TransitionReason, now: u64) {
        let from = self.state();
        self.phase = phase;
        self.generation += 1;
        let transition = Transition {
            from,
            to: self.state(),
            reason,
            at: Duration::from_nanos(now),
        };
        self.counters.transitions += 1;
        self.counters.last_transition = Some(transition.clone());
        self.effects.log.push(transition);
    }
}

/// A duration in nanoseconds, saturating (`Duration::MAX` disables the
/// latency budget).
fn nanos(duration: Duration) -> u64 {
    crate::clock::nanos(duration)
}

#[cfg(test)]
mod tests;
