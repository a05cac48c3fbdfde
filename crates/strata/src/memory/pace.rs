//! How many of a cache's operations its stats sample: a pace per cache, the
//! same for every thread.
//!
//! Each thread's countdown (`tally`) picks one operation in
//! [`LATENCY_SAMPLE`](super::stats::LATENCY_SAMPLE) on average. A sample
//! costs a few hundred nanoseconds (two clock reads, a histogram, the
//! hot-key ranking): at one in 64, a tenth of the time of a thread reading
//! 40 M keys per second. So a cache whose samples come less than 20 µs
//! apart, from any of its threads, keeps only one picked operation in two,
//! four, … up to one in 64 (one operation in 4,096), and samples more than
//! 80 µs apart halve that again; a quiet cache (a server's namespace doing
//! an operation per microsecond or fewer) keeps every one.
//!
//! Why per cache and thinned, not per thread or per process:
//! * with a pace per thread (the first version), a fast thread sampled fewer
//!   of its operations than a slow one, so the latency percentiles counted
//!   a slow thread's operations more than a fast one's, and the hot-key
//!   ranking, which counts each sample once, ranked the keys of slow
//!   threads too high;
//! * with one pace for the whole process (the second), a busy cache took
//!   the samples of a quiet one: a namespace read 300 times next to busy
//!   ones could show no hot key at all.
//!
//! Thinning a picked operation costs a load and a random draw, once per
//! 64 operations; the countdown itself stays a decrement.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

use super::tally::thread_random;

/// Samples closer together than this double the thinning; four times as far
/// apart halve it.
const MIN_GAP_NANOS: u64 = 20_000;
/// The most the thinning doubles: one picked operation in 2⁶ is kept.
const MAX_STRETCH: u32 = 6;

/// The sampling pace of one cache.
#[derive(Debug, Default)]
pub(crate) struct Pacer {
    /// One picked operation in `2^stretch` is sampled.
    stretch: AtomicU32,
    /// When the last sample was taken, in nanoseconds since `EPOCH` (0:
    /// none yet).
    last: AtomicU64,
}

/// The origin of [`Pacer`]'s times.
static EPOCH: OnceLock<Instant> = OnceLock::new();

impl Pacer {
    #[inline]
    fn stretch(&self) -> u32 {
        self.stretch.load(Ordering::Relaxed)
    }

    /// Whether an operation a countdown of mean `every` picked is sampled;
    /// if so, its weight: how many operations it stands for.
    #[inline]
    pub(crate) fn thin(&self, every: u32) -> Option<u32> {
        let stretch = self.stretch();
        let kept = stretch == 0 || thread_random() & ((1 << stretch) - 1) == 0;
        kept.then_some(every << stretch)
    }

    /// Records a sample taken at `now`.
    pub(crate) fn sampled(&self, now: Instant) {
        let epoch = *EPOCH.get_or_init(|| now);
        let nanos = now.saturating_duration_since(epoch).as_nanos();
        self.sampled_at(u64::try_from(nanos).unwrap_or(u64::MAX).max(1));
    }

    /// [`sampled`](Self::sampled) at `now` nanoseconds (never 0): a sample
    /// less than `MIN_GAP_NANOS` after the previous one, from any thread,
    /// doubles the thinning; one more than four times that after halves it.
    /// Racing samples may lose a step; the next ones make it up.
    fn sampled_at(&self, now: u64) {
        let last = self.last.swap(now, Ordering::Relaxed);
        if last == 0 {
            return;
        }
        let gap = now.saturating_sub(last);
        let stretch = self.stretch();
        let next = if gap < MIN_GAP_NANOS {
            (stretch + 1).min(MAX_STRETCH)
        } else if gap > 4 * MIN_GAP_NANOS {
            stretch.saturating_sub(1)
        } else {
            stretch
        };
        if next != stretch {
            let _ =
                self.stretch
                    .compare_exchange(stretch, next, Ordering::Relaxed, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_close_together_thin_more_and_far_apart_less() {
        let pacer = Pacer::default();
        // A microsecond apart: each doubles the thinning, up to the limit.
        for i in 1..=10 {
            pacer.sampled_at(i * 1_000);
        }
        assert_eq!(pacer.stretch(), MAX_STRETCH);
        // Between one and four gaps apart: the pace holds.
        for i in 1..=5 {
            pacer.sampled_at(10_000 + i * 2 * MIN_GAP_NANOS);
        }
        assert_eq!(pacer.stretch(), MAX_STRETCH);
        // Far apart: each halves it, back to keeping every pick.
        for i in 1..=10 {
            pacer.sampled_at(1_000_000_000 + i * 1_000_000);
        }
        assert_eq!(pacer.stretch(), 0);
    }

    #[test]
    fn a_thinned_pace_keeps_one_pick_in_two_to_the_stretch_and_weighs_it() {
        let pacer = Pacer::default();
        for i in 1..=4 {
            pacer.sampled_at(i * 1_000);
        }
        assert_eq!(pacer.stretch(), 3);
        let kept: Vec<u32> = (0..80_000).filter_map(|_| pacer.thin(64)).collect();
        assert!((8_500..11_500).contains(&kept.len()), "{}", kept.len());
        assert!(kept.iter().all(|&w| w == 64 << 3));
        // At the base pace every pick is kept, at the countdown's weight.
        let quiet = Pacer::default();
        assert!((0..1_000).all(|_| quiet.thin(64) == Some(64)));
    }

    #[test]
    fn every_thread_of_a_cache_samples_at_its_one_pace() {
        let pacer = Pacer::default();
        // One thread samples fast…
        std::thread::scope(|s| {
            s.spawn(|| {
                for i in 1..=10 {
                    pacer.sampled_at(i * 1_000);
                }
            });
        });
        // …and another thread's picks are thinned and weighed the same.
        std::thread::scope(|s| {
            s.spawn(|| {
                let weights: Vec<u32> = (0..10_000).filter_map(|_| pacer.thin(64)).collect();
                assert!(!weights.is_empty());
                assert!(weights.iter().all(|&w| w == 64 << MAX_STRETCH));
            });
        });
        // Another cache's pace is its own.
        assert_eq!(Pacer::default().thin(64), Some(64));
    }
}
