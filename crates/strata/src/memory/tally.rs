//! Exact operation counts without a locked instruction per operation.
//!
//! A cache's counts are split into stripes, one per thread slot, each on its
//! own cache lines. A thread that owns a slot is the only writer of its
//! stripe, so it adds with a plain load and store (a relaxed atomic pair, no
//! `lock` prefix): a shared counter's `fetch_add` cost every read about a
//! sixth of its time on the project's machine. Readers of the stats sum the
//! stripes.
//!
//! Slots are process-wide: a thread takes the lowest free one at its first
//! count and gives it back when it exits, so a pool of threads keeps reusing
//! the same few. The last stripe is for threads beyond [`OWNED`]: they share
//! it and add with `fetch_add`, which is exact too, only slower.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_utils::CachePadded;
use parking_lot::Mutex;

/// Stripes per cache: a power of two, so that a slot masked into range
/// needs no bounds check on the read path.
const STRIPES: usize = 64;
/// Threads that get a stripe of their own; the last stripe is shared.
const OWNED: usize = STRIPES - 1;

/// What a cache counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Count {
    Hits = 0,
    Misses = 1,
    Inserts = 2,
    Updates = 3,
    LoadWaits = 4,
    /// Removals, by [`RemovalCause::index`](super::RemovalCause) from here.
    Removals = 5,
}

/// How many counts a stripe holds: five kinds plus five removal causes.
const KINDS: usize = 10;

/// The counts of one cache.
pub(crate) struct Tally {
    stripes: Box<[CachePadded<[AtomicU64; KINDS]>; STRIPES]>,
}

impl std::fmt::Debug for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tally").finish_non_exhaustive()
    }
}

/// Slots given back by threads that exited, for the next threads to take.
static FREE: Mutex<Vec<usize>> = Mutex::new(Vec::new());
/// The next slot never taken.
static NEXT: AtomicU64 = AtomicU64::new(0);

/// What a thread keeps for every cache: its slot (taken at its first count,
/// returned when it exits), and the countdowns of its sampling.
struct ThreadState {
    slot: Cell<usize>,
    /// A per-thread xorshift, for the countdowns' lengths.
    draw: Cell<u32>,
    /// Operations left until the next sampled one (0: not started).
    sample_in: Cell<u32>,
}

/// "No slot taken yet".
const UNSET: usize = usize::MAX;

impl ThreadState {
    /// The next number of the thread's xorshift.
    fn random(&self) -> u32 {
        static SEEDS: AtomicU64 = AtomicU64::new(0x9E37_79B9);
        let mut x = self.draw.get();
        if x == 0 {
            x = SEEDS.fetch_add(0x9E37_79B9, Ordering::Relaxed) as u32 | 1;
        }
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.draw.set(x);
        x
    }

    /// A countdown length, uniform in `1..2 × every` (mean `every`).
    /// Random rather than fixed: a fixed period aliases with call patterns
    /// (alternating inserts and gets would sample only one of them).
    #[cold]
    fn countdown(&self, every: u32) -> u32 {
        1 + self.random() % (2 * every.max(1) - 1)
    }

    /// Counts one operation down; true when it is the one to sample.
    #[inline]
    fn due(&self, every: u32) -> bool {
        let left = self.sample_in.get();
        if left > 1 {
            self.sample_in.set(left - 1);
            return false;
        }
        self.sample_in.set(self.countdown(every));
        left == 1
    }

    #[cold]
    fn take_slot(&self) -> usize {
        // Touching the guard registers its destructor. A thread whose guard
        // is already gone (a count from another thread-local's destructor)
        // takes no slot: it uses the shared stripe.
        if GUARD.try_with(|_| ()).is_err() {
            self.slot.set(OWNED);
            return OWNED;
        }
        // Past OWNED, every thread shares the last stripe: the slot is
        // stored clamped, so that counting needs no clamp of its own.
        let slot = FREE
            .lock()
            .pop()
            .unwrap_or_else(|| NEXT.fetch_add(1, Ordering::Relaxed) as usize)
            .min(OWNED);
        self.slot.set(slot);
        slot
    }

    #[inline]
    fn slot(&self) -> usize {
        match self.slot.get() {
            UNSET => self.take_slot(),
            slot => slot,
        }
    }
}

/// Gives the thread's slot back when the thread exits. Kept apart from
/// [`ThreadState`] so that the state has no destructor: a thread-local with
/// one checks on every access whether it is still alive, and that check was
/// a good part of what counting cost a read.
struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        // From here on the thread counts in the shared stripe: the slot may
        // become another thread's.
        let slot = THREAD.with(|t| t.slot.replace(OWNED));
        // Slots beyond OWNED share a stripe anyway: only owned ones matter.
        if slot < OWNED {
            FREE.lock().push(slot);
        }
    }
}

thread_local! {
    static THREAD: ThreadState = const {
        ThreadState {
            slot: Cell::new(UNSET),
            draw: Cell::new(0),
            sample_in: Cell::new(0),
        }
    };
    static GUARD: Guard = const { Guard };
}

/// A random number from the calling thread's xorshift (for thinning
/// samples, see `pace`).
pub(crate) fn thread_random() -> u32 {
    THREAD.with(ThreadState::random)
}

/// The calling thread's slot, and whether this operation is one to sample
/// (one in `every` on average), in one access to thread-local storage.
#[inline]
pub(crate) fn this_thread(every: u32) -> (usize, bool) {
    THREAD.with(|t| (t.slot(), t.due(every)))
}

/// The calling thread's slot.
#[inline]
pub(crate) fn this_thread_slot() -> usize {
    THREAD.with(ThreadState::slot)
}

impl Default for Tally {
    fn default() -> Self {
        Self {
            stripes: Box::new(std::array::from_fn(|_| {
                CachePadded::new(std::array::from_fn(|_| AtomicU64::new(0)))
            })),
        }
    }
}

impl Tally {
    /// Adds one to `count` (offset by `extra`, for a removal cause).
    #[inline]
    pub(crate) fn add(&self, count: Count, extra: usize) {
        self.add_for(this_thread_slot(), count, extra);
    }

    /// [`add`](Self::add) for a thread whose slot is known.
    #[inline]
    pub(crate) fn add_for(&self, slot: usize, count: Count, extra: usize) {
        let owned = slot < OWNED;
        // Slots are at most OWNED (`take_slot`); the mask only shows the
        // compiler that the index is in range, so it checks no bounds.
        debug_assert!(slot <= OWNED, "unclamped slot {slot}");
        let stripe = &self.stripes[slot & (STRIPES - 1)];
        let Some(counter) = stripe.get(count as usize + extra) else {
            return;
        };
        if owned {
            // The only writer of this stripe: no read-modify-write needed.
            counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        } else {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The sum of `count` (offset by `extra`) over every stripe.
    pub(crate) fn sum(&self, count: Count, extra: usize) -> u64 {
        let at = count as usize + extra;
        self.stripes
            .iter()
            .filter_map(|s| s.get(at))
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countdowns_pick_one_operation_in_every_on_average() {
        std::thread::spawn(|| {
            let gaps: Vec<u32> = (0..2_000)
                .map(|_| (1..).find(|_| this_thread(64).1).unwrap_or(0))
                .collect();
            let mean = gaps.iter().sum::<u32>() / 2_000;
            assert!((56..72).contains(&mean), "{mean}");
            assert!(gaps.iter().all(|&g| (1..=128).contains(&g)), "{gaps:?}");
        })
        .join()
        .expect("the sampling thread");
    }

    #[test]
    fn counts_from_many_threads_add_up_exactly() {
        let tally = Tally::default();
        // More threads than owned stripes, some of them at once, so both the
        // owned and the shared stripe are used, and slots are reused.
        for _round in 0..3 {
            std::thread::scope(|s| {
                for _ in 0..(OWNED + 8) {
                    s.spawn(|| {
                        for _ in 0..1_000 {
                            tally.add(Count::Hits, 0);
                        }
                        tally.add(Count::Removals, 3);
                    });
                }
            });
        }
        let threads = 3 * (OWNED as u64 + 8);
        assert_eq!(tally.sum(Count::Hits, 0), threads * 1_000);
        assert_eq!(tally.sum(Count::Removals, 3), threads);
        assert_eq!(tally.sum(Count::Misses, 0), 0);
    }
}
