//! Invalidation across every tier: by key, tag, prefix, pattern, and all.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{BackplaneMessage, CacheError, TieredCache};
use crate::pattern::KeyPattern;
use crate::tier::KeyFilter;

/// How many entries an invalidation removed, per tier.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Invalidation {
    /// Entries removed from the memory tier.
    pub memory: u64,
    /// Queued write-back entries dropped before they reached the tiers.
    pub queued: u64,
    /// Entries removed from each lower tier, in read order.
    pub lower: Vec<u64>,
}

impl Invalidation {
    /// The largest count of any one tier: a lower bound on the distinct keys
    /// removed (one key may live in several tiers).
    pub fn most(&self) -> u64 {
        self.lower
            .iter()
            .copied()
            .chain([self.memory, self.queued])
            .max()
            .unwrap_or(0)
    }
}

impl<V> TieredCache<V>
where
    V: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
{
    /// Removes `key` from every tier. Returns whether any tier held it.
    ///
    /// # Errors
    /// [`CacheError::Tier`] naming the first tier that could not delete it;
    /// every other tier is still tried.
    pub async fn remove(&self, key: &str) -> Result<bool, CacheError> {
        let s = &self.shared;
        s.generations.bump_key(key);
        let _exclusive = match &s.write_back {
            Some(wb) => Some(wb.exclusive().await),
            None => None,
        };
        let mut present = s.memory.remove(key).is_some();
        if let Some(wb) = &s.write_back {
            present |= wb.forget(|k| k == key) > 0;
        }
        let mut failure = None;
        for tier in &s.tiers {
            match tier.delete(key).await {
                Ok(found) => present |= found,
                Err(e) => {
                    failure.get_or_insert(CacheError::tier(tier.name(), e));
                }
            }
        }
        // A promotion that read the key before the deletes may have stored
        // it in memory since. Bump first, then drop: a promotion that checks
        // its stamp after the bump discards itself, and the drop covers one
        // that checked before it. (Dropped first, a promotion could store
        // after the drop and check before the bump, and keep a value no
        // tier holds.)
        s.generations.bump_key(key);
        s.memory.remove(key);
        s.publish(BackplaneMessage::Key(key.to_owned())).await;
        failure.map_or(Ok(present), Err)
    }

    /// Invalidates every entry tagged `tag`, in every tier: the memory tier
    /// drops them now; each lower tier's epoch for the tag is bumped (one
    /// write per tier, however many entries carry the tag), so their
    /// entries are stale on the next read and deleted then. Returns how many
    /// entries the memory tier dropped.
    ///
    /// # Errors
    /// [`CacheError::Tier`] when a lower tier could not record the bump.
    /// This process still treats older entries as stale; another process
    /// reading that tier might not.
    pub async fn invalidate_tag(&self, tag: &str) -> Result<u64, CacheError> {
        let s = &self.shared;
        s.generations.bump_all();
        let bumped = s.epochs.bump(&s.tiers, tag).await;
        let dropped = s.memory.invalidate_tag(tag);
        s.generations.bump_all();
        s.publish(BackplaneMessage::Tag(tag.to_owned())).await;
        bumped.map_err(|(tier, e)| CacheError::tier(&tier, e))?;
        Ok(dropped)
    }

    /// Removes every key that starts with `prefix`, from every tier.
    ///
    /// # Errors
    /// As [`remove`](Self::remove).
    pub async fn invalidate_prefix(&self, prefix: &str) -> Result<Invalidation, CacheError> {
        self.invalidate_filter(KeyFilter::Prefix(prefix.to_owned()))
            .await
    }

    /// Removes every key that matches the glob `pattern` (see
    /// [`KeyPattern`]), from every tier. Costs a scan of each tier's keys.
    ///
    /// # Errors
    /// [`CacheError::Pattern`] for a malformed pattern (nothing removed);
    /// otherwise as [`remove`](Self::remove).
    pub async fn invalidate_pattern(&self, pattern: &str) -> Result<Invalidation, CacheError> {
        let pattern = KeyPattern::new(pattern)?;
        self.invalidate_filter(KeyFilter::Pattern(pattern)).await
    }

    /// Removes every entry from every tier. Tag epochs are kept.
    ///
    /// # Errors
    /// As [`remove`](Self::remove).
    pub async fn clear(&self) -> Result<Invalidation, CacheError> {
        self.invalidate_filter(KeyFilter::All).await
    }

    async fn invalidate_filter(&self, filter: KeyFilter) -> Result<Invalidation, CacheError> {
        let s = &self.shared;
        s.generations.bump_all();
        let _exclusive = match &s.write_back {
            Some(wb) => Some(wb.exclusive().await),
            None => None,
        };
        let mut report = Invalidation {
            memory: self.invalidate_memory(&filter),
            queued: s
                .write_back
                .as_ref()
                .map_or(0, |wb| wb.forget(|k| filter.matches(k))),
            lower: Vec::with_capacity(s.tiers.len()),
        };
        let mut failure = None;
        for tier in &s.tiers {
            match tier.delete_matching(&filter).await {
                Ok(n) => report.lower.push(n),
                Err(e) => {
                    report.lower.push(0);
                    failure.get_or_insert(CacheError::tier(tier.name(), e));
                }
            }
        }
        // Promotions that finished during the scan: bump, then drop, as in
        // `remove`.
        s.generations.bump_all();
        report.memory += self.invalidate_memory(&filter);
        s.publish(match filter {
            KeyFilter::All => BackplaneMessage::Clear,
            KeyFilter::Prefix(prefix) => BackplaneMessage::Prefix(prefix),
            KeyFilter::Pattern(pattern) => BackplaneMessage::Pattern(pattern.as_str().to_owned()),
        })
        .await;
        failure.map_or(Ok(report), Err)
    }

    fn invalidate_memory(&self, filter: &KeyFilter) -> u64 {
        let memory = &self.shared.memory;
        match filter {
            KeyFilter::All => memory.clear(),
            KeyFilter::Prefix(prefix) => memory.invalidate_prefix(prefix),
            KeyFilter::Pattern(pattern) => memory.invalidate_if(|k| pattern.is_match(k)),
        }
    }
}
