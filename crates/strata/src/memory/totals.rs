//! The cache's global totals (entries, weight, prioritized entries), and the
//! ledger through which one operation changes them.
//!
//! Bounds are global, so every write and eviction changes shared atomic
//! counters. A [`Ledger`] collects one operation's changes and applies only
//! their net sum when it is dropped: a write that evicts one entry to make
//! room for one (the steady state of a full cache) changes nothing and
//! touches no counter, where it made two locked read-modify-writes on a line
//! every writing thread shares.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// Totals across all shards, kept by the shards as they change.
#[derive(Debug, Default)]
pub(crate) struct Totals {
    pub(crate) len: AtomicU64,
    /// Total weight, kept only when entries are weighed: otherwise every
    /// entry weighs 1 and the weight is the length, which saves every write
    /// and eviction a locked instruction on a counter all threads share.
    weight: AtomicU64,
    weighted: bool,
    /// Whether one shard keeps these totals: then every update happens
    /// under that shard's exclusive lock, and a plain load and store does
    /// what a locked read-modify-write would.
    single: bool,
    /// Entries whose priority is not 0. While this is zero, every entry is in
    /// the same class and eviction never needs to look at other shards.
    pub(crate) prioritized: AtomicU64,
}

impl Totals {
    /// Totals for a cache of `shards` shards, weighing entries or not.
    pub(crate) fn new(weighted: bool, shards: usize) -> Self {
        Self {
            weighted,
            single: shards == 1,
            ..Self::default()
        }
    }

    #[inline]
    fn bump(&self, counter: &AtomicU64, by: u64, up: bool) {
        if self.single {
            let value = counter.load(Ordering::Relaxed);
            let value = if up { value + by } else { value - by };
            counter.store(value, Ordering::Relaxed);
        } else if up {
            counter.fetch_add(by, Ordering::Relaxed);
        } else {
            counter.fetch_sub(by, Ordering::Relaxed);
        }
    }

    /// The total weight of the entries.
    #[inline]
    pub(crate) fn weight(&self) -> u64 {
        if self.weighted {
            self.weight.load(Ordering::Relaxed)
        } else {
            self.len.load(Ordering::Relaxed)
        }
    }

    /// Applies net changes (in entries, weight and prioritized entries).
    fn apply(&self, len: i64, weight: i64, prioritized: i64) {
        for (counter, delta) in [
            (&self.len, len),
            (&self.weight, if self.weighted { weight } else { 0 }),
            (&self.prioritized, prioritized),
        ] {
            if delta != 0 {
                self.bump(counter, delta.unsigned_abs(), delta > 0);
            }
        }
    }
}

/// One operation's changes to the [`Totals`], applied when dropped.
pub(crate) struct Ledger<'a> {
    totals: &'a Totals,
    len: Cell<i64>,
    weight: Cell<i64>,
    prioritized: Cell<i64>,
}

impl<'a> Ledger<'a> {
    pub(crate) fn new(totals: &'a Totals) -> Self {
        Self {
            totals,
            len: Cell::new(0),
            weight: Cell::new(0),
            prioritized: Cell::new(0),
        }
    }

    fn change(&self, weight: u32, priority: i32, sign: i64) {
        self.len.set(self.len.get() + sign);
        self.weight
            .set(self.weight.get() + sign * i64::from(weight));
        if priority != 0 {
            self.prioritized.set(self.prioritized.get() + sign);
        }
    }

    /// An entry of `weight` and `priority` arrived.
    #[inline]
    pub(crate) fn add(&self, weight: u32, priority: i32) {
        self.change(weight, priority, 1);
    }

    /// An entry of `weight` and `priority` left.
    #[inline]
    pub(crate) fn sub(&self, weight: u32, priority: i32) {
        self.change(weight, priority, -1);
    }

    /// The entry count, with this ledger's changes.
    #[inline]
    pub(crate) fn len(&self) -> u64 {
        self.totals
            .len
            .load(Ordering::Relaxed)
            .saturating_add_signed(self.len.get())
    }

    /// The weight, with this ledger's changes.
    #[inline]
    pub(crate) fn weight(&self) -> u64 {
        if self.totals.weighted {
            self.totals
                .weight()
                .saturating_add_signed(self.weight.get())
        } else {
            self.len()
        }
    }

    /// Entries with a priority other than 0, with this ledger's changes.
    #[inline]
    pub(crate) fn prioritized(&self) -> u64 {
        self.totals
            .prioritized
            .load(Ordering::Relaxed)
            .saturating_add_signed(self.prioritized.get())
    }
}

impl Drop for Ledger<'_> {
    /// Inlined with one test for the usual case, no net change (a write
    /// that evicts one entry for the one it adds, or rewrites one in
    /// place): as a call that tested each total, it cost an overwrite 13
    /// instructions.
    #[inline]
    fn drop(&mut self) {
        let (len, weight, prioritized) =
            (self.len.get(), self.weight.get(), self.prioritized.get());
        if len | weight | prioritized != 0 {
            self.totals.apply(len, weight, prioritized);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ledger_applies_the_net_change_when_dropped() {
        let totals = Totals::new(true, 4);
        {
            let ledger = Ledger::new(&totals);
            ledger.add(5, 0);
            ledger.add(2, 3);
            assert_eq!(
                (ledger.len(), ledger.weight(), ledger.prioritized()),
                (2, 7, 1)
            );
            assert_eq!(totals.len.load(Ordering::Relaxed), 0, "not yet applied");
            ledger.sub(5, 0);
        }
        assert_eq!(totals.len.load(Ordering::Relaxed), 1);
        assert_eq!(totals.weight(), 2);
        assert_eq!(totals.prioritized.load(Ordering::Relaxed), 1);
        let unweighted = Totals::new(false, 1);
        Ledger::new(&unweighted).add(9, 0);
        assert_eq!(
            unweighted.weight(),
            1,
            "the count, when entries are not weighed"
        );
    }
}
