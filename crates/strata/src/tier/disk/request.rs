//! The messages to the writer thread: what to do, and whom to answer.

use tokio::sync::oneshot;

use super::txn::Record;
use crate::tier::{KeyFilter, TierError};

/// What a request asks the writer to do.
#[derive(Debug)]
pub(super) enum Op {
    Put(Vec<Record>),
    Delete(Vec<String>),
    DeleteMatching(KeyFilter),
    Clear,
    BumpTag(String),
    RaiseTag(String, u64),
    /// Remove `key` if it still holds an entry with this (passed) deadline.
    Expire(String, u64),
    /// One bounded sweep step.
    Sweep,
    /// Commit now (applying recorded reads); nothing else.
    Flush,
    /// Commit what is queued, then stop the thread.
    Close,
}

impl Op {
    /// How much of `max_batch` this request uses: one per entry written or
    /// deleted, one for anything else.
    pub(super) fn weight(&self) -> usize {
        match self {
            Self::Put(writes) => writes.len().max(1),
            Self::Delete(keys) => keys.len().max(1),
            _ => 1,
        }
    }

    /// Whether the request should be committed without waiting for the
    /// rest of the flush interval.
    pub(super) fn is_urgent(&self) -> bool {
        matches!(self, Self::Flush | Self::Close)
    }
}

/// Where to send a request's outcome.
#[derive(Debug)]
pub(super) enum Ack {
    /// Nobody waits (lazy expiry, the background sweep, close from `Drop`).
    None,
    /// Waits for success or failure.
    Unit(oneshot::Sender<Result<(), TierError>>),
    /// Waits for a count or a new epoch.
    Count(oneshot::Sender<Result<u64, TierError>>),
}

impl Ack {
    pub(super) fn send(self, outcome: Result<u64, TierError>) {
        // A failed send means the waiter's future was dropped: nobody wants
        // the answer any more, and the work is done either way.
        match self {
            Self::None => {}
            Self::Unit(tx) => {
                let _ = tx.send(outcome.map(|_| ()));
            }
            Self::Count(tx) => {
                let _ = tx.send(outcome);
            }
        }
    }
}

/// One message to the writer.
#[derive(Debug)]
pub(super) struct Request {
    pub(super) op: Op,
    pub(super) ack: Ack,
}
