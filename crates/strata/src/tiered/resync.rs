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
//! against current epochs. With a backplane, its private tiers (a local
//! disk) are cleared too (see `private`): the other instances' messages of
//! the outage are lost, and a write this instance queued during it may have
//! lost, at replay, to a newer one in the shared tier, while its own copy
//! stayed on disk.
//!
//! Without a backplane the private tiers are kept. Such a cache never hears
//! of other instances' writes, outage or not, so clearing its disk would buy
//! no coherence it promises; it would only turn every key into a miss after
//! each outage, and a miss everywhere in the next one (measured with
//! `redis-outage`: 377,297 of 648,211 reads failed in a stall that followed
//! a restart, against none with the disk kept).

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
        if shared.bus.backplane.is_some() {
            shared.lost_track();
        } else {
            shared.forget_unverifiable();
        }
    }
}
