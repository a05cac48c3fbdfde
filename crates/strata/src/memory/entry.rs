//! One cached entry and its optional metadata.
//!
//! Layout choice: everything an entry may carry besides key, value and weight
//! (expiry, tags, priority, cost, metadata) lives in one optional box. An entry
//! written with default options pays one null pointer for all of it, which
//! keeps the common case small; an entry with options pays one allocation.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The latest representable deadline (about 584 years after the clock's
/// origin); longer lives are cut to it.
pub(crate) const LATEST: u64 = u64::MAX - 1;

/// A resident entry. Stored in a shard's slab and found through its table.
///
/// The key's hash is not kept: the paths that have no hash at hand (the
/// table growing, a removal by slot) hash the key again. Keeping it cost 8
/// bytes per entry, a sixth of a `u64 → u64` entry, to save a hash on
/// paths that already do far more work than one hash.
pub(crate) struct Entry<K, V> {
    pub(crate) key: K,
    pub(crate) value: V,
    pub(crate) weight: u32,
    pub(crate) meta: Option<Box<Meta>>,
}

/// The options of an entry that has any. Times are nanoseconds of the
/// cache's clock.
#[derive(Debug)]
pub(crate) struct Meta {
    /// Absolute deadline from the time to live.
    pub(crate) expires_at: Option<u64>,
    /// Time to idle, in nanoseconds.
    pub(crate) tti: Option<u64>,
    /// When the entry was last read (or written). Atomic because a read may
    /// refresh it while holding only a shared lock.
    pub(crate) last_access: AtomicU64,
    /// The deadline of this entry's live item in the shard's deadline queue,
    /// or `u64::MAX` when none is queued. Items whose deadline differs from
    /// this are stale and skipped.
    pub(crate) queued_at: u64,
    pub(crate) priority: i32,
    /// Recreation cost in nanoseconds (0 = unknown).
    pub(crate) cost: u64,
    /// Tags, shared with the shard's tag index.
    pub(crate) tags: Box<[Arc<str>]>,
    pub(crate) metadata: BTreeMap<String, String>,
}

impl Meta {
    /// The moment this entry expires: the earlier of its TTL deadline and its
    /// idle deadline. Capped at [`LATEST`], so that a deadline never equals
    /// the `queued_at` value that means "nothing queued".
    pub(crate) fn deadline(&self) -> Option<u64> {
        let idle = self
            .tti
            .map(|tti| self.last_access.load(Ordering::Relaxed).saturating_add(tti));
        let deadline = match (self.expires_at, idle) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        deadline.map(|d| d.min(LATEST))
    }

    /// Whether the entry can ever expire.
    pub(crate) fn can_expire(&self) -> bool {
        self.expires_at.is_some() || self.tti.is_some()
    }
}

impl<K, V> Entry<K, V> {
    pub(crate) fn priority(&self) -> i32 {
        self.meta.as_ref().map_or(0, |m| m.priority)
    }

    pub(crate) fn deadline(&self) -> Option<u64> {
        self.meta.as_ref().and_then(|m| m.deadline())
    }

    /// Expired at `now`: a deadline equal to `now` counts as passed.
    pub(crate) fn is_expired(&self, now: u64) -> bool {
        self.deadline().is_some_and(|d| d <= now)
    }

    pub(crate) fn tags(&self) -> &[Arc<str>] {
        self.meta.as_ref().map_or(&[], |m| &m.tags)
    }

    /// Records a read at `now` for the time-to-idle clock.
    pub(crate) fn touch(&self, now: u64) {
        if let Some(meta) = &self.meta
            && meta.tti.is_some()
        {
            meta.last_access.store(now, Ordering::Relaxed);
        }
    }

    /// Whether reading this entry needs the current time.
    pub(crate) fn needs_clock(&self) -> bool {
        self.meta.as_ref().is_some_and(|m| m.can_expire())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(expires_at: Option<u64>, tti: Option<u64>, last_access: u64) -> Meta {
        Meta {
            expires_at,
            tti,
            last_access: AtomicU64::new(last_access),
            queued_at: u64::MAX,
            priority: 0,
            cost: 0,
            tags: Box::new([]),
            metadata: BTreeMap::new(),
        }
    }

    #[test]
    fn deadline_is_the_earlier_of_ttl_and_idle() {
        assert_eq!(meta(None, None, 0).deadline(), None);
        assert_eq!(meta(Some(50), None, 0).deadline(), Some(50));
        assert_eq!(meta(None, Some(10), 5).deadline(), Some(15));
        assert_eq!(meta(Some(50), Some(10), 5).deadline(), Some(15));
        assert_eq!(meta(Some(12), Some(10), 5).deadline(), Some(12));
        assert_eq!(meta(None, Some(u64::MAX), 5).deadline(), Some(LATEST));
        assert_eq!(meta(Some(u64::MAX), None, 0).deadline(), Some(LATEST));
    }
}
