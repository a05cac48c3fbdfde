//! Per-entry options: expiry, tags, priority, recreation cost, metadata.

use std::collections::BTreeMap;
use std::time::Duration;

/// How long an entry lives after it is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Ttl {
    /// Use the cache's default time to live, if it has one.
    #[default]
    CacheDefault,
    /// Never expire, even when the cache has a default time to live.
    Never,
    /// Expire this long after the write. A zero duration makes the entry
    /// expire at once: it is stored, but no read returns it.
    After(Duration),
}

/// Options attached to one entry when it is written.
///
/// Every option has a default that costs nothing: an entry written with
/// `EntryOptions::default()` carries no per-entry metadata at all.
///
/// ```
/// use std::time::Duration;
/// use strata::EntryOptions;
///
/// let options = EntryOptions::new()
///     .with_ttl(Duration::from_secs(60))
///     .with_tag("user:42")
///     .with_priority(10)
///     .with_cost(Duration::from_millis(250))
///     .with_metadata("source", "db");
/// assert_eq!(options.tags(), ["user:42"]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryOptions {
    ttl: Ttl,
    tti: Option<Duration>,
    tags: Vec<String>,
    priority: i32,
    cost: Option<Duration>,
    metadata: BTreeMap<String, String>,
}

impl EntryOptions {
    /// Options with every default: the cache's default TTL and TTI, no tags,
    /// priority 0, unknown cost, no metadata.
    pub fn new() -> Self {
        Self::default()
    }

    /// Expire `ttl` after the write. Default: the cache's default TTL.
    #[must_use]
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Ttl::After(ttl);
        self
    }

    /// Never expire by age, overriding the cache's default TTL.
    /// Default: the cache's default TTL.
    #[must_use]
    pub fn with_no_ttl(mut self) -> Self {
        self.ttl = Ttl::Never;
        self
    }

    /// Set the time-to-live setting directly. Default: [`Ttl::CacheDefault`].
    #[must_use]
    pub fn with_ttl_setting(mut self, ttl: Ttl) -> Self {
        self.ttl = ttl;
        self
    }

    /// Expire once the entry has not been read for `tti` (time to idle).
    /// Reads through `get` and the loaders refresh it; `peek` does not.
    /// Default: the cache's default time to idle.
    #[must_use]
    pub fn with_tti(mut self, tti: Duration) -> Self {
        self.tti = Some(tti);
        self
    }

    /// Add a tag, for [`MemoryCache::invalidate_tag`](crate::MemoryCache::invalidate_tag).
    /// Tags form a set: adding one twice keeps one. Default: no tags.
    #[must_use]
    pub fn with_tag(mut self, tag: impl Into<String>) -> Self {
        let tag = tag.into();
        if !self.tags.contains(&tag) {
            self.tags.push(tag);
        }
        self
    }

    /// Add several tags. Default: no tags.
    #[must_use]
    pub fn with_tags<I, T>(self, tags: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        tags.into_iter().fold(self, Self::with_tag)
    }

    /// Set the priority: under every policy, an entry is evicted for capacity
    /// only when no entry of lower priority remains. Negative values are
    /// allowed and evicted first. Default: 0.
    #[must_use]
    pub fn with_priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    /// Set how long the value takes to recreate; the `Hybrid` policy keeps
    /// costly entries longer. Default: unknown (treated as zero), except that
    /// the `get_or_compute` family records how long the loader ran.
    #[must_use]
    pub fn with_cost(mut self, cost: Duration) -> Self {
        self.cost = Some(cost);
        self
    }

    /// Attach a metadata pair, kept with the entry and returned by
    /// snapshots. Setting a key twice keeps the last value. Default: none.
    #[must_use]
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// The time-to-live setting.
    pub fn ttl(&self) -> Ttl {
        self.ttl
    }

    /// The time to idle, if set for this entry.
    pub fn tti(&self) -> Option<Duration> {
        self.tti
    }

    /// The tags, in the order first added.
    pub fn tags(&self) -> &[String] {
        &self.tags
    }

    /// The priority.
    pub fn priority(&self) -> i32 {
        self.priority
    }

    /// The recreation cost, if known.
    pub fn cost(&self) -> Option<Duration> {
        self.cost
    }

    /// The metadata pairs.
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// Whether every option is at its default, but a time to live of
    /// "never" (for the cache's write path: such a write needs no options
    /// stored unless the cache has defaults of its own).
    pub(crate) fn is_plain(&self) -> bool {
        matches!(self.ttl, Ttl::CacheDefault | Ttl::Never)
            && self.tti.is_none()
            && self.tags.is_empty()
            && self.priority == 0
            && self.cost.is_none()
            && self.metadata.is_empty()
    }

    /// Takes the options apart (for the cache's write path).
    pub(crate) fn into_parts(self) -> OptionParts {
        OptionParts {
            ttl: self.ttl,
            tti: self.tti,
            tags: self.tags,
            priority: self.priority,
            cost: self.cost,
            metadata: self.metadata,
        }
    }

    /// Fill in the cost if none was given (used by the loaders).
    pub(crate) fn or_cost(mut self, measured: Duration) -> Self {
        self.cost.get_or_insert(measured);
        self
    }
}

/// The fields of [`EntryOptions`], moved out.
pub(crate) struct OptionParts {
    pub(crate) ttl: Ttl,
    pub(crate) tti: Option<Duration>,
    pub(crate) tags: Vec<String>,
    pub(crate) priority: i32,
    pub(crate) cost: Option<Duration>,
    pub(crate) metadata: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_a_set_and_metadata_keeps_the_last_value() {
        let o = EntryOptions::new()
            .with_tags(["a", "b", "a"])
            .with_metadata("k", "1")
            .with_metadata("k", "2");
        assert_eq!(o.tags(), ["a", "b"]);
        assert_eq!(o.metadata().get("k").map(String::as_str), Some("2"));
    }

    #[test]
    fn measured_cost_never_overrides_a_given_one() {
        let given = EntryOptions::new().with_cost(Duration::from_secs(1));
        assert_eq!(
            given.or_cost(Duration::from_secs(9)).cost(),
            Some(Duration::from_secs(1))
        );
        let unknown = EntryOptions::new();
        assert_eq!(
            unknown.or_cost(Duration::from_secs(9)).cost(),
            Some(Duration::from_secs(9))
        );
    }
}
