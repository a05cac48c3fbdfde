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

use super::tables::{self, is_expired, map_err};
use super::txn::{Ks, Txn};
use crate::tier::TierError;

/// Expired entries removed per sweep transaction. Large enough that a sweep
/// keeps up with any realistic expiry rate (hundreds of thousands per
/// second), small enough that one step holds the writer for a few
/// milliseconds, so puts queued behind it wait little.
pub(super) const SWEEP_BATCH: u64 = 1_000;

impl Txn<'_> {
    /// Removes the expired entry with the soonest deadline, if any entry is
    /// expired. `None`: nothing is expired; `Some(removed)`: one expiry row
    /// was dealt with, and whether it removed an entry (`false` for a row
    /// without its entry).
    pub(super) fn remove_one_expired(&mut self) -> Result<Option<bool>, TierError> {
        let committed = self.first_committed_expiry()?;
        let added = self.changes.added_expiry.first().cloned();
        let (row, from_committed) = match (committed, added) {
            (Some(c), Some(a)) if a < c => (a, false),
            (Some(c), _) => (c, true),
            (None, Some(a)) => (a, false),
            (None, None) => return Ok(None),
        };
        let (expires_at_ms, key) = tables::decode_expiry_key(&row)?;
        if !is_expired(expires_at_ms, self.now_ms) {
            return Ok(None);
        }
        if from_committed {
            // The next search starts right after this row.
            let mut next = row.clone();
            next.push(0);
            self.cursors.expiry = next;
        }
        let current = self.entry(&key)?;
        if current.is_some_and(|entry| entry.expires_at_ms == expires_at_ms) {
            if self.remove(&key)?.is_some() {
                self.expirations += 1;
                return Ok(Some(true));
            }
        } else {
            // An expiry row without its entry (damaged store): drop the row
            // so the next call makes progress.
            self.del(Ks::Expiry, &row);
            self.changes.added_expiry.remove(&row);
        }
        Ok(Some(false))
    }

    /// The first committed `expiry` row from the cursor on that this batch
    /// has not removed.
    fn first_committed_expiry(&self) -> Result<Option<Vec<u8>>, TierError> {
        for guard in self.store.expiry.range(&self.cursors.expiry[..]..) {
            let row = guard.key().map_err(map_err)?;
            if !self.removed(Ks::Expiry, &row) {
                return Ok(Some(row.to_vec()));
            }
        }
        Ok(None)
    }

    /// Deals with up to `limit` expired rows; returns how many entries it
    /// removed. Below `limit` means none is left, unless the store is damaged
    /// (rows without entries count towards `limit`, not towards the result;
    /// the next sweep goes on with them).
    pub(super) fn sweep(&mut self, limit: u64) -> Result<u64, TierError> {
        let (mut steps, mut removed) = (0, 0);
        while steps < limit {
            match self.remove_one_expired()? {
                None => break,
                Some(entry) => removed += u64::from(entry),
            }
            steps += 1;
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
        let unchanged = self.entry(key)?.is_some_and(|entry| {
            entry.expires_at_ms == expires_at_ms && is_expired(expires_at_ms, self.now_ms)
        });
        if unchanged && self.remove(key)?.is_some() {
            self.expirations += 1;
        }
        Ok(())
    }
}
