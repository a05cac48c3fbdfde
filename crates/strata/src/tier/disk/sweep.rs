//! Expiry: removing entries whose deadline has passed.
//!
//! Expired entries leave the store three ways, all in writer transactions:
//!
//! * **lazily**: a `get` that finds an expired entry answers a miss and
//!   queues an [`expire_if_unchanged`](Txn::expire_if_unchanged) for the
//!   writer without waiting for it;
//! * **by the sweep**: every `sweep_interval` the writer removes up to
//!   [`SWEEP_BATCH`] expired entries per transaction, soonest deadline first,
//!   reading only the `expiry` table to find them; while a step finds a full
//!   batch it runs another one right after serving the requests queued
//!   meanwhile;
//! * **for room**: eviction takes expired entries before live ones (see
//!   [`evict`](super::evict)).
//!
//! "Now" is the injected clock's [`unix_millis`](crate::WallClock::unix_millis)
//! when the transaction starts, so tests move time by hand.

use redb::ReadableTable;

use super::tables::{IndexEntry, is_expired, map_err};
use super::txn::Txn;
use crate::tier::TierError;

/// Expired entries removed per sweep transaction. Large enough that a sweep
/// keeps up with any realistic expiry rate (hundreds of thousands per
/// second), small enough that one step holds the writer for a few
/// milliseconds, so puts queued behind it wait little.
pub(super) const SWEEP_BATCH: u64 = 1_000;

impl Txn<'_> {
    /// Removes the expired entry with the soonest deadline, if any entry is
    /// expired; returns whether it removed one.
    pub(super) fn remove_one_expired(&mut self) -> Result<bool, TierError> {
        let first = self.expiry.first().map_err(map_err)?.map(|(row, _)| {
            let (expires_at_ms, key) = row.value();
            (expires_at_ms, key.to_owned())
        });
        let Some((expires_at_ms, key)) = first else {
            return Ok(false);
        };
        if !is_expired(expires_at_ms, self.now_ms) {
            return Ok(false);
        }
        if self.remove(&key)?.is_some() {
            self.expirations += 1;
        } else {
            // An expiry row without an entry (damaged file): drop the row so
            // the next call makes progress.
            self.expiry
                .remove((expires_at_ms, key.as_str()))
                .map_err(map_err)?;
        }
        Ok(true)
    }

    /// Removes up to `limit` expired entries; returns how many it removed.
    pub(super) fn sweep(&mut self, limit: u64) -> Result<u64, TierError> {
        let mut removed = 0;
        while removed < limit && self.remove_one_expired()? {
            removed += 1;
        }
        Ok(removed)
    }

    /// Removes `key` if it still holds the entry a reader found expired (same
    /// deadline, still expired now). A write that replaced the entry since
    /// the read keeps its new value.
    pub(super) fn expire_if_unchanged(
        &mut self,
        key: &str,
        expires_at_ms: u64,
    ) -> Result<(), TierError> {
        let current = self
            .index
            .get(key)
            .map_err(map_err)?
            .map(|guard| IndexEntry::from_tuple(guard.value()));
        let unchanged = current.is_some_and(|entry| {
            entry.expires_at_ms == expires_at_ms && is_expired(expires_at_ms, self.now_ms)
        });
        if unchanged && self.remove(key)?.is_some() {
            self.expirations += 1;
        }
        Ok(())
    }
}
