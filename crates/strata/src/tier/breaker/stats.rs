//! What a breaker counts: its state and transitions, what it refused, and
//! what became of the writes it queued.

use serde::Serialize;

use super::state::{BreakerState, Transition};

/// A snapshot of one [`BreakerTier`](super::BreakerTier)'s figures (shared
/// by its clones), since it was built.
///
/// Every write accepted while the tier was out of reach ends in exactly one
/// of `replayed`, `refused_at_replay` or still `queued_now` (or is lost
/// with the process, which logs how many); every write that could not be
/// queued is in `dropped` and its caller got an error. Nothing is lost
/// without being counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct BreakerStats {
    /// The state now.
    pub state: BreakerState,
    /// State changes so far.
    pub transitions: u64,
    /// The latest state change, with its reason.
    pub last_transition: Option<Transition>,
    /// Reads refused at once while open or half-open, without reaching the
    /// inner tier (writes are queued instead).
    pub rejected: u64,
    /// Epoch reads answered from the last known epochs because the tier
    /// could not answer (refused, or failed).
    pub epochs_from_memory: u64,
    /// Writes accepted into the queue (each entry put or key deleted counts
    /// one; any other mutation one).
    pub queued: u64,
    /// Queued writes the inner tier has applied.
    pub replayed: u64,
    /// Queued writes the inner tier refused at replay for a reason retrying
    /// cannot fix (an entry too large for it, an error reply), dropped
    /// then and logged.
    pub refused_at_replay: u64,
    /// Queued puts that the tier skipped at replay because it held a value
    /// of the key written later (by another process, during the outage).
    /// They count in `replayed` too: the replay was applied, by that rule.
    pub superseded_at_replay: u64,
    /// Writes refused because the queue was full; their callers got
    /// [`TierError::Unavailable`](crate::TierError::Unavailable).
    pub dropped: u64,
    /// Writes waiting in the queue now.
    pub queued_now: u64,
    /// Bytes (keys and envelopes) waiting in the queue now.
    pub queued_bytes_now: u64,
}

/// The counters behind [`BreakerStats`], kept under the breaker's lock
/// with the state they describe, so a snapshot is consistent.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) transitions: u64,
    pub(super) last_transition: Option<Transition>,
    pub(super) rejected: u64,
    pub(super) queued: u64,
    pub(super) replayed: u64,
    pub(super) refused_at_replay: u64,
    pub(super) dropped: u64,
}
