//! Invalidation by tag, key predicate, prefix and glob pattern.
//!
//! Costs: a tag costs in proportion to the entries carrying it (the cache's
//! tag index finds them, and only their shards are locked). A predicate,
//! prefix or pattern scans every key, one shard at a time, holding that
//! shard's write lock while it scans it.

use std::hash::Hash;

use super::MemoryCache;
use super::removal::{RemovalCause, Removals};
use super::shard::Shard;
use super::totals::Ledger;
use crate::error::PatternError;
use crate::pattern::KeyPattern;

impl<K, V> MemoryCache<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Removes, shard by shard, the slots that `select` picks; returns how
    /// many were live. Expired ones go too, reported as expired.
    fn invalidate_where(&self, select: impl Fn(&Shard<K, V>) -> Vec<u32>) -> u64 {
        let now = self.inner.clock.now_nanos();
        (0..self.inner.shards.len())
            .map(|idx| self.invalidate_in(idx, now, &select))
            .sum()
    }

    /// Removes from shard `idx` the slots that `select` picks under its
    /// lock, as [`RemovalCause::Invalidated`] (or expired); returns how many
    /// were live. The listener runs after the lock is released.
    fn invalidate_in(
        &self,
        idx: usize,
        now: u64,
        select: impl FnOnce(&Shard<K, V>) -> Vec<u32>,
    ) -> u64 {
        let inner = &self.inner;
        let mut out = Removals::new();
        let mut live = 0;
        {
            let mut shard = inner.shards[idx].lock.write();
            let ledger = Ledger::new(&inner.totals);
            for slot in select(&shard) {
                let cause = RemovalCause::Invalidated;
                live += u64::from(shard.remove_live(slot, cause, now, &ledger, &mut out));
            }
            inner.publish(idx, &shard);
        }
        inner.notify(out);
        live
    }

    /// Removes every entry tagged `tag` ([`RemovalCause::Invalidated`]);
    /// returns how many live entries were removed.
    pub fn invalidate_tag(&self, tag: &str) -> u64 {
        self.invalidate_tags(&[tag])
    }

    /// Removes every entry carrying any of `tags`; returns how many entries
    /// were removed (an entry with two of the tags counts once).
    pub fn invalidate_tags<T: AsRef<str>>(&self, tags: &[T]) -> u64 {
        let inner = &self.inner;
        let now = inner.clock.now_nanos();
        let mut total = 0;
        for tag in tags {
            let tag = tag.as_ref();
            // The members are read under the index's lock, then removed
            // under each shard's: an entry that left or was rewritten in
            // between no longer carries the tag and is passed over.
            let Some(id) = inner.tags.id(tag) else {
                continue;
            };
            let members = inner.tags.members(tag);
            for part in members.chunk_by(|a, b| a.0 == b.0) {
                total += self.invalidate_in(part[0].0, now, |shard| {
                    // Ids are reused once a tag's last entry goes: if `id`
                    // names another tag by now, no entry here carries this
                    // one. (While this shard's lock is held, an entry here
                    // that carries `id` keeps it from being freed.)
                    if inner.tags.name(id).as_deref() != Some(tag) {
                        return Vec::new();
                    }
                    part.iter()
                        .map(|&(_, slot)| slot)
                        .filter(|&slot| shard.carries(slot, id))
                        .collect()
                });
            }
        }
        total
    }

    /// Removes every entry whose key satisfies `pred`; returns how many.
    /// Scans every key.
    pub fn invalidate_if(&self, pred: impl Fn(&K) -> bool) -> u64 {
        self.invalidate_where(|shard| shard.matching(&pred))
    }
}

impl<K, V> MemoryCache<K, V>
where
    K: AsRef<str> + Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Removes every entry whose key starts with `prefix`; returns how many.
    /// Scans every key.
    pub fn invalidate_prefix(&self, prefix: &str) -> u64 {
        self.invalidate_if(|key| key.as_ref().starts_with(prefix))
    }

    /// Removes every entry whose key matches the glob `pattern` (syntax in
    /// [`KeyPattern`]); returns how many. Scans every key.
    ///
    /// # Errors
    /// [`PatternError::Invalid`] if the pattern is malformed; nothing is
    /// removed then.
    pub fn invalidate_pattern(&self, pattern: &str) -> Result<u64, PatternError> {
        let pattern = KeyPattern::new(pattern)?;
        Ok(self.invalidate_if(|key| pattern.is_match(key.as_ref())))
    }
}
