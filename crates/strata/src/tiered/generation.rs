//! Invalidation generations: how a fill that races an invalidation is
//! caught and discarded instead of resurrecting stale data.
//!
//! A fill (a lower-tier hit promoted into the memory tier) reads the
//! generation of its key before it reads the tier and again after it has
//! stored the value in memory. An invalidation bumps the generations it
//! covers *before* it touches any tier and *again after* it has finished, so
//! a fill whose window overlaps any part of an invalidation sees a change and
//! removes what it stored. A fill entirely before the invalidation is removed
//! by it; a fill entirely after reads the post-invalidation tiers.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

/// Stripes of per-key generations. 256 keeps a false conflict (two keys on
/// one stripe) rare enough that a discarded fill, which only costs a later
/// miss, does not matter, in 2 KiB.
const STRIPES: usize = 256;

/// A snapshot of the generations covering one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    global: u64,
    stripe: u64,
}

/// The generation counters of one cache.
pub(crate) struct Generations {
    /// Bumped by invalidations of many keys at once: tag, prefix, pattern,
    /// clear.
    global: AtomicU64,
    /// Bumped by writes and removals of single keys.
    stripes: Box<[AtomicU64]>,
    hasher: foldhash::fast::FixedState,
}

impl Generations {
    pub(crate) fn new() -> Self {
        Self {
            global: AtomicU64::new(0),
            stripes: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
            hasher: foldhash::fast::FixedState::default(),
        }
    }

    fn stripe(&self, key: &str) -> &AtomicU64 {
        // The remainder is below STRIPES, so the cast cannot truncate.
        let index = (self.hasher.hash_one(key) % STRIPES as u64) as usize;
        &self.stripes[index]
    }

    /// The generations covering `key` now.
    pub(crate) fn stamp(&self, key: &str) -> Stamp {
        // SeqCst: the stamp must be ordered with the tier reads around it
        // and with the bumps of other threads; these are rare enough
        // (a lower-tier read) that the fence costs nothing measurable.
        Stamp {
            global: self.global.load(Ordering::SeqCst),
            stripe: self.stripe(key).load(Ordering::SeqCst),
        }
    }

    /// Marks a change to `key`.
    pub(crate) fn bump_key(&self, key: &str) {
        self.stripe(key).fetch_add(1, Ordering::SeqCst);
    }

    /// Marks a change that may cover any key.
    pub(crate) fn bump_all(&self) {
        self.global.fetch_add(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bumps_change_the_stamps_they_cover() {
        let g = Generations::new();
        let a = g.stamp("a");
        g.bump_key("a");
        assert_ne!(g.stamp("a"), a);
        let b = g.stamp("b");
        g.bump_all();
        assert_ne!(g.stamp("b"), b);
    }
}
