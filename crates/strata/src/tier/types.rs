//! The values that cross the [`Tier`](super::Tier) trait.

use crate::pattern::KeyPattern;

/// One entry to store in a tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierWrite {
    /// The key.
    pub key: String,
    /// The encoded envelope, stored and returned as is.
    pub bytes: Vec<u8>,
    /// When the entry expires, in milliseconds since the Unix epoch; `None`
    /// for never. Copied out of the envelope so that a tier can expire
    /// entries (a Redis `PX`, a disk sweep) without decoding them.
    pub expires_at_ms: Option<u64>,
}

/// Which keys a scan or a bulk delete selects.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum KeyFilter {
    /// Every key.
    All,
    /// Keys that start with this prefix.
    Prefix(String),
    /// Keys that match this glob.
    Pattern(KeyPattern),
}

impl KeyFilter {
    /// Whether `key` is selected.
    pub fn matches(&self, key: &str) -> bool {
        match self {
            Self::All => true,
            Self::Prefix(prefix) => key.starts_with(prefix.as_str()),
            Self::Pattern(pattern) => pattern.is_match(key),
        }
    }

    /// The longest prefix every selected key starts with, so a tier with
    /// ordered keys can scan a range instead of everything.
    pub fn literal_prefix(&self) -> &str {
        match self {
            Self::All => "",
            Self::Prefix(prefix) => prefix,
            Self::Pattern(pattern) => {
                let source = pattern.as_str();
                let end = source
                    .find(['*', '?', '[', '{', '\\'])
                    .unwrap_or(source.len());
                &source[..end]
            }
        }
    }
}

/// Counters and gauges of one tier, as the tier itself sees them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TierStats {
    /// Entries stored now (may include expired entries not yet swept).
    pub entries: u64,
    /// Bytes stored now: keys plus envelopes.
    pub bytes: u64,
    /// The tier's byte budget, if it has one.
    pub capacity_bytes: Option<u64>,
    /// Entries removed to stay within the budget.
    pub evictions: u64,
    /// Expired entries removed (lazily or by a sweep).
    pub expirations: u64,
    /// Group commits (or flushes) performed.
    pub commits: u64,
}

/// Whether a tier can serve requests.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TierHealth {
    /// Serving normally.
    Healthy,
    /// Serving, with a problem worth reporting.
    Degraded(String),
    /// Not serving.
    Down(String),
}

/// Who else reads and writes a tier's store: what a
/// [`TieredCache`](crate::TieredCache) does with another instance's
/// invalidations there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TierScope {
    /// Only this process uses the store (a local disk). Another instance's
    /// invalidation, heard over the backplane, is applied to it as to the
    /// memory tier, and what a lost message could have left stale is
    /// dropped from it.
    #[default]
    Private,
    /// Other instances use the same store (Redis). Their mutations are
    /// already in it, so what the backplane carries is never applied to it
    /// again: re-deleting there could delete a value written since.
    Shared,
}

impl TierHealth {
    /// Whether the tier serves requests (healthy or degraded).
    pub fn is_up(&self) -> bool {
        !matches!(self, Self::Down(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_scans_from_its_literal_prefix() {
        let filter = KeyFilter::Pattern(KeyPattern::new("user:4*:name").unwrap());
        assert_eq!(filter.literal_prefix(), "user:4");
        assert!(filter.matches("user:42:name"));
        assert!(!filter.matches("user:42:mail"));
        let escaped = KeyFilter::Pattern(KeyPattern::new(r"a\*b").unwrap());
        assert_eq!(escaped.literal_prefix(), "a");
        assert!(escaped.matches("a*b"));
    }
}
