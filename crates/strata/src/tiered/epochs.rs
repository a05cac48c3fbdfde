//! Tag epochs as the stack sees them: the highest epoch any lower tier holds
//! for a tag, cached in memory for at most the configured refresh interval.
//!
//! Invalidating a tag is one epoch bump per tier (O(1), no scan). Every
//! envelope records the epoch of each of its tags when it was written; an
//! envelope whose recorded epoch is below the current one is stale. The
//! current epoch of a tag is the maximum over all tiers, and a bump brings
//! every tier up to the new maximum, so one envelope validates the same way
//! whichever tier it is read from.
//!
//! A tier may be shared with other processes (Redis), which bump epochs this
//! process never hears of. So a cached epoch is trusted for `refresh` only,
//! then read again from the tiers: an entry another process invalidated is
//! served from a shared tier for at most that long. (Entries already in this
//! process's memory tier are dropped by the cross-instance backplane, not
//! here.)

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::clock::WallClock;
use crate::tier::{Tier, TierError};

/// How many tags' epochs are cached. Beyond this the cache is emptied and
/// refilled from the tiers on demand: correct, only slower, and it bounds the
/// memory of a workload with unbounded distinct tags.
const MAX_CACHED: usize = 100_000;

/// A cached epoch and when (unix ms) it was read or raised.
#[derive(Debug, Clone, Copy)]
struct Known {
    epoch: u64,
    at_ms: u64,
}

/// The epoch cache of one stack.
pub(crate) struct Epochs {
    known: Mutex<HashMap<String, Known>>,
    clock: Arc<dyn WallClock>,
    /// How long a cached epoch is trusted, in ms.
    refresh_ms: u64,
}

impl Epochs {
    pub(crate) fn new(clock: Arc<dyn WallClock>, refresh: Duration) -> Self {
        Self {
            known: Mutex::new(HashMap::new()),
            clock,
            refresh_ms: u64::try_from(refresh.as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// The current epochs of `tags`, reading from the tiers those not
    /// cached.
    ///
    /// # Errors
    /// The first tier error met, with that tier's name.
    pub(crate) async fn current(
        &self,
        tiers: &[Arc<dyn Tier>],
        tags: &[String],
    ) -> Result<Vec<u64>, (String, TierError)> {
        let mut out = vec![0; tags.len()];
        let mut missing = Vec::new();
        let now_ms = self.clock.unix_millis();
        {
            let known = self.known.lock();
            for (i, tag) in tags.iter().enumerate() {
                match known.get(tag) {
                    Some(k) if now_ms.saturating_sub(k.at_ms) < self.refresh_ms => {
                        out[i] = k.epoch;
                    }
                    _ => missing.push(i),
                }
            }
        }
        if missing.is_empty() {
            return Ok(out);
        }
        let wanted: Vec<String> = missing.iter().map(|&i| tags[i].clone()).collect();
        let mut highest = vec![0; wanted.len()];
        for tier in tiers {
            let epochs = tier
                .tag_epochs(&wanted)
                .await
                .map_err(|e| (tier.name().to_owned(), e))?;
            for (h, e) in highest.iter_mut().zip(epochs) {
                *h = (*h).max(e);
            }
        }
        let mut known = self.known.lock();
        if known.len() + wanted.len() > MAX_CACHED {
            known.clear();
        }
        for ((&i, tag), epoch) in missing.iter().zip(wanted).zip(highest) {
            // A bump may have landed while the tiers were read: keep the
            // higher of the two, epochs never go down.
            let slot = known.entry(tag).or_insert(Known {
                epoch,
                at_ms: now_ms,
            });
            slot.epoch = slot.epoch.max(epoch);
            slot.at_ms = now_ms;
            out[i] = slot.epoch;
        }
        Ok(out)
    }

    /// Bumps `tag` in every tier and raises the tiers that answered lower to
    /// the highest answer. Returns the new epoch.
    ///
    /// # Errors
    /// The first tier error met. The cached epoch is still raised to the
    /// highest epoch seen, so this process stops trusting older envelopes
    /// even if a tier could not be told.
    pub(crate) async fn bump(
        &self,
        tiers: &[Arc<dyn Tier>],
        tag: &str,
    ) -> Result<u64, (String, TierError)> {
        let mut answers = Vec::with_capacity(tiers.len());
        let mut failure = None;
        let mut highest = self.known.lock().get(tag).map_or(0, |k| k.epoch) + 1;
        for tier in tiers {
            match tier.bump_tag_epoch(tag).await {
                Ok(epoch) => {
                    highest = highest.max(epoch);
                    answers.push(Some(epoch));
                }
                Err(e) => {
                    failure.get_or_insert((tier.name().to_owned(), e));
                    answers.push(None);
                }
            }
        }
        self.raise_cached(tag, highest);
        for (tier, answer) in tiers.iter().zip(answers) {
            if answer.is_some_and(|a| a < highest)
                && let Err(e) = tier.raise_tag_epoch(tag, highest).await
            {
                failure.get_or_insert((tier.name().to_owned(), e));
            }
        }
        match failure {
            Some(f) => Err(f),
            None => Ok(highest),
        }
    }

    /// Drops the cached epoch of `tag`: the next read asks the tiers.
    pub(crate) fn forget(&self, tag: &str) {
        self.known.lock().remove(tag);
    }

    /// Drops every cached epoch.
    pub(crate) fn forget_all(&self) {
        self.known.lock().clear();
    }

    fn raise_cached(&self, tag: &str, epoch: u64) {
        let at_ms = self.clock.unix_millis();
        let mut known = self.known.lock();
        if known.len() >= MAX_CACHED {
            known.clear();
        }
        let slot = known
            .entry(tag.to_owned())
            .or_insert(Known { epoch, at_ms });
        slot.epoch = slot.epoch.max(epoch);
        slot.at_ms = at_ms;
    }
}
