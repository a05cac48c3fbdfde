//! Single flight: at most one loader runs per key at a time, and everyone who
//! asked for the key while it ran receives its result.
//!
//! A *flight* is registered under the key by the first caller that misses (the
//! leader). Later callers find it and wait on its event, blocking or `.await`
//! — `event-listener` provides both, so sync and async callers share flights.
//! The leader publishes the outcome, deregisters, then wakes everyone.
//!
//! If the leader stops without an outcome (its loader panicked, or its future
//! was dropped), the guard marks the flight abandoned; waiters then retry,
//! and one of them leads the next attempt. A loader failure is handed to the
//! waiters as a type-erased `Arc`; a waiter whose error type differs (another
//! call site) retries as well, rather than receive an error it cannot name.

use std::any::Any;
use std::sync::Arc;

use event_listener::{Event, Listener};
use hashbrown::HashTable;
use parking_lot::Mutex;

/// How a flight ended.
pub(crate) enum Outcome<V> {
    Running,
    Ready(V),
    Failed(Arc<dyn Any + Send + Sync>),
    Abandoned,
}

impl<V: Clone> Clone for Outcome<V> {
    fn clone(&self) -> Self {
        match self {
            Outcome::Running => Outcome::Running,
            Outcome::Ready(v) => Outcome::Ready(v.clone()),
            Outcome::Failed(e) => Outcome::Failed(Arc::clone(e)),
            Outcome::Abandoned => Outcome::Abandoned,
        }
    }
}

pub(crate) struct Flight<V> {
    outcome: Mutex<Outcome<V>>,
    done: Event,
}

impl<V: Clone> Flight<V> {
    fn finished(&self) -> Option<Outcome<V>> {
        match &*self.outcome.lock() {
            Outcome::Running => None,
            done => Some(done.clone()),
        }
    }

    /// Blocks until the flight ends.
    pub(crate) fn wait(&self) -> Outcome<V> {
        loop {
            // Listen before checking, so a wake-up between the check and the
            // wait is not lost.
            let listener = self.done.listen();
            if let Some(outcome) = self.finished() {
                return outcome;
            }
            listener.wait();
        }
    }

    /// Waits until the flight ends, without blocking the thread.
    #[cfg(feature = "tokio")]
    pub(crate) async fn wait_async(&self) -> Outcome<V> {
        loop {
            let listener = self.done.listen();
            if let Some(outcome) = self.finished() {
                return outcome;
            }
            listener.await;
        }
    }
}

struct Pending<K, V> {
    hash: u64,
    key: K,
    flight: Arc<Flight<V>>,
}

/// The flights of one cache shard, by key.
type FlightTable<K, V> = Mutex<HashTable<Pending<K, V>>>;

/// The flights in progress, one table per cache shard.
pub(crate) struct Flights<K, V> {
    shards: Box<[FlightTable<K, V>]>,
}

/// What a caller does about a missing key.
pub(crate) enum Role<'a, K, V> {
    /// Run the loader, then `finish`.
    Leader(LeaderGuard<'a, K, V>),
    /// Wait for the leader's outcome.
    Follower(Arc<Flight<V>>),
}

impl<K: Eq + Clone, V: Clone> Flights<K, V> {
    pub(crate) fn new(shards: usize) -> Self {
        Self {
            shards: (0..shards).map(|_| Mutex::new(HashTable::new())).collect(),
        }
    }

    /// Joins the flight for `key`, or registers one and leads it.
    pub(crate) fn join_or_lead(&self, shard: usize, hash: u64, key: &K) -> Role<'_, K, V> {
        let mut table = self.shards[shard].lock();
        if let Some(pending) = table.find(hash, |p| p.key == *key) {
            return Role::Follower(Arc::clone(&pending.flight));
        }
        let flight = Arc::new(Flight {
            outcome: Mutex::new(Outcome::Running),
            done: Event::new(),
        });
        table.insert_unique(
            hash,
            Pending {
                hash,
                key: key.clone(),
                flight: Arc::clone(&flight),
            },
            |p| p.hash,
        );
        Role::Leader(LeaderGuard {
            flights: self,
            shard,
            hash,
            flight,
            finished: false,
        })
    }

    /// How many flights are in progress.
    #[cfg(test)]
    pub(crate) fn in_progress(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }
}

/// The leader's obligation to publish an outcome. Dropping it unfinished
/// publishes [`Outcome::Abandoned`].
pub(crate) struct LeaderGuard<'a, K, V> {
    flights: &'a Flights<K, V>,
    shard: usize,
    hash: u64,
    flight: Arc<Flight<V>>,
    finished: bool,
}

impl<K, V> LeaderGuard<'_, K, V> {
    /// Publishes `outcome`, deregisters the flight and wakes every waiter.
    pub(crate) fn finish(mut self, outcome: Outcome<V>) {
        self.publish(outcome);
    }

    fn publish(&mut self, outcome: Outcome<V>) {
        self.finished = true;
        *self.flight.outcome.lock() = outcome;
        let mut table = self.flights.shards[self.shard].lock();
        if let Ok(entry) = table.find_entry(self.hash, |p| Arc::ptr_eq(&p.flight, &self.flight)) {
            entry.remove();
        }
        drop(table);
        self.flight.done.notify(usize::MAX);
    }
}

impl<K, V> Drop for LeaderGuard<'_, K, V> {
    fn drop(&mut self) {
        if !self.finished {
            self.publish(Outcome::Abandoned);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn followers_receive_the_leaders_outcome_and_abandonment_is_published() {
        let flights: Flights<&str, u32> = Flights::new(1);
        let Role::Leader(guard) = flights.join_or_lead(0, 7, &"k") else {
            panic!("first caller must lead");
        };
        let Role::Follower(flight) = flights.join_or_lead(0, 7, &"k") else {
            panic!("second caller must follow");
        };
        let waiter = std::thread::spawn(move || matches!(flight.wait(), Outcome::Ready(5)));
        guard.finish(Outcome::Ready(5));
        assert!(waiter.join().expect("waiter thread"));
        assert_eq!(flights.in_progress(), 0);

        let Role::Leader(guard) = flights.join_or_lead(0, 7, &"k") else {
            panic!("the key is free again");
        };
        let Role::Follower(flight) = flights.join_or_lead(0, 7, &"k") else {
            panic!("second caller must follow");
        };
        drop(guard);
        assert!(matches!(flight.wait(), Outcome::Abandoned));
        assert_eq!(flights.in_progress(), 0);
    }
}
