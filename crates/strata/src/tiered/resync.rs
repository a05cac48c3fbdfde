//! Forgetting what a tier's outage made unverifiable.
//!
//! A [`BreakerTier`](crate::tier::breaker::BreakerTier) that is open answers
//! `tag_epochs` from the epochs it last saw, so that tagged entries in the
//! memory and disk tiers stay readable. Those answers can be behind: another
//! instance may have bumped a tag in Redis meanwhile. A tagged entry read
//! from disk during the outage is then validated against the old epoch and
//! promoted into the memory tier, where nothing checks epochs again: without
//! this, it would be served after the outage until it expired.
//!
//! So when a tier reports a recovery ([`Tier::recoveries`]), the cache does
//! what it does on a lost backplane message: it forgets every cached epoch
//! (the next read asks the tiers, now answering from their stores) and
//! clears its memory tier, which refills from the lower tiers, validated
//! against current epochs. Its private tiers (a local disk) are cleared
//! too (see `private`): a write this instance queued during the outage may
//! have lost, at replay, to a newer one in the shared tier, while its own
//! copy stayed on disk.

use std::sync::Weak;
use std::sync::atomic::Ordering;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use super::Shared;

/// Watches one tier's recoveries until the tier stops reporting them or
/// the cache is dropped.
pub(super) async fn watch_recoveries<V>(
    shared: Weak<Shared<V>>,
    mut recoveries: watch::Receiver<u64>,
) where
    V: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
{
    while recoveries.changed().await.is_ok() {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        shared.resyncs.fetch_add(1, Ordering::Relaxed);
        shared.lost_track();
    }
}
