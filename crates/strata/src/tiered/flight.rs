//! Single flight across the whole stack: one lower-tier lookup and at most
//! one loader call per key at a time, however many callers miss at once.
//!
//! The leader of a key's flight does the work and publishes the outcome on a
//! `watch` channel; followers wait on it. A leader that is cancelled (its
//! future dropped) drops its sender without publishing, and one follower
//! takes over. A loader error reaches every follower that asked with the same
//! error type; a follower whose error type differs runs its own attempt.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::watch;

/// What a flight ended with.
#[derive(Clone)]
pub(crate) enum Landing<V> {
    /// A value, found in a tier or loaded.
    Value(V),
    /// The loader failed; the error, type-erased.
    Failed(Arc<dyn Any + Send + Sync>),
}

type Slot<V> = watch::Receiver<Option<Landing<V>>>;

/// The flights in progress, by key.
pub(crate) struct Flights<V> {
    // A plain mutex: it is held only to look up or insert one map entry,
    // never across an await.
    map: Mutex<HashMap<String, Slot<V>>>,
}

/// A caller's part in a flight.
pub(crate) enum Role<'a, V> {
    /// Do the work, then [`Leader::land`].
    Leader(Leader<'a, V>),
    /// Wait for the leader.
    Follower(Slot<V>),
}

/// The right and duty to do one key's work. Dropping it without landing
/// (cancellation) lets a follower take over.
pub(crate) struct Leader<'a, V> {
    flights: &'a Flights<V>,
    key: String,
    sender: watch::Sender<Option<Landing<V>>>,
}

impl<V: Clone + Send + Sync> Flights<V> {
    pub(crate) fn new() -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
        }
    }

    /// Leads the flight for `key`, or joins the one in progress.
    pub(crate) fn join_or_lead(&self, key: &str) -> Role<'_, V> {
        let mut map = self.map.lock();
        if let Some(slot) = map.get(key)
            && slot.has_changed().is_ok()
        {
            return Role::Follower(slot.clone());
        }
        let (sender, receiver) = watch::channel(None);
        map.insert(key.to_owned(), receiver);
        Role::Leader(Leader {
            flights: self,
            key: key.to_owned(),
            sender,
        })
    }
}

/// Waits for a flight. `None` when the leader went away without landing:
/// the caller should try to lead.
pub(crate) async fn wait<V: Clone>(mut slot: Slot<V>) -> Option<Landing<V>> {
    // `wait_for` returns at once if the value is already there, and errs
    // when the sender is dropped before publishing.
    match slot.wait_for(Option::is_some).await {
        Ok(landing) => landing.clone(),
        Err(_) => None,
    }
}

impl<V> Leader<'_, V> {
    /// Publishes the outcome to every follower and ends the flight.
    pub(crate) fn land(self, landing: Landing<V>) {
        // Followers may all have gone; publishing to nobody is fine.
        self.sender.send_replace(Some(landing));
    }
}

impl<V> Drop for Leader<'_, V> {
    fn drop(&mut self) {
        let mut map = self.flights.map.lock();
        // Remove our own slot only: a newer flight may have replaced it.
        if map
            .get(&self.key)
            .is_some_and(|slot| slot.same_channel(&self.sender.subscribe()))
        {
            map.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn followers_get_the_leaders_value_and_a_dropped_leader_hands_over() {
        let flights: Flights<u32> = Flights::new();
        let Role::Leader(leader) = flights.join_or_lead("k") else {
            panic!("the first caller must lead");
        };
        let Role::Follower(slot) = flights.join_or_lead("k") else {
            panic!("the second caller must follow");
        };
        leader.land(Landing::Value(7));
        assert!(matches!(wait(slot).await, Some(Landing::Value(7))));

        let Role::Leader(leader) = flights.join_or_lead("k") else {
            panic!("a finished flight must not be joined");
        };
        let Role::Follower(slot) = flights.join_or_lead("k") else {
            panic!("the second caller must follow");
        };
        drop(leader);
        assert!(wait(slot).await.is_none());
        assert!(matches!(flights.join_or_lead("k"), Role::Leader(_)));
    }
}
