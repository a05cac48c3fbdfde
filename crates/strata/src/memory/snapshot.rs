//! Exporting entries with their options, and importing them again (for warm
//! restarts, moving data between caches, and the server's export endpoint).

use std::collections::BTreeMap;
use std::hash::Hash;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::MemoryCache;
use crate::options::EntryOptions;

/// One entry with its options, as exported by [`MemoryCache::snapshot`].
///
/// In serialized form durations are integers: `expires_in_ms`, `tti_ms`,
/// `cost_us`; options at their default are omitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotEntry<K, V> {
    /// The key.
    pub key: K,
    /// The value.
    pub value: V,
    /// Time to live left when the snapshot was taken; `None` if the entry
    /// does not expire by age.
    #[serde(
        default,
        rename = "expires_in_ms",
        skip_serializing_if = "Option::is_none",
        with = "millis"
    )]
    pub expires_in: Option<Duration>,
    /// The entry's time to idle, if any (its idle clock restarts on import).
    #[serde(
        default,
        rename = "tti_ms",
        skip_serializing_if = "Option::is_none",
        with = "millis"
    )]
    pub tti: Option<Duration>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Priority.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub priority: i32,
    /// Recreation cost, if known.
    #[serde(
        default,
        rename = "cost_us",
        skip_serializing_if = "Option::is_none",
        with = "micros"
    )]
    pub cost: Option<Duration>,
    /// Metadata pairs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

fn is_zero(n: &i32) -> bool {
    *n == 0
}

impl<K, V> SnapshotEntry<K, V> {
    /// An entry with no options: it never expires by age.
    pub fn new(key: K, value: V) -> Self {
        Self {
            key,
            value,
            expires_in: None,
            tti: None,
            tags: Vec::new(),
            priority: 0,
            cost: None,
            metadata: BTreeMap::new(),
        }
    }

    /// The write options that recreate this entry. An entry without
    /// `expires_in` gets [`Ttl::Never`](crate::Ttl::Never), so that a cache
    /// default TTL does not shorten the life it had.
    pub fn options(&self) -> EntryOptions {
        let mut options = match self.expires_in {
            Some(ttl) => EntryOptions::new().with_ttl(ttl),
            None => EntryOptions::new().with_no_ttl(),
        };
        if let Some(tti) = self.tti {
            options = options.with_tti(tti);
        }
        if let Some(cost) = self.cost {
            options = options.with_cost(cost);
        }
        self.metadata
            .iter()
            .fold(options, |o, (k, v)| o.with_metadata(k, v))
            .with_tags(self.tags.iter().cloned())
            .with_priority(self.priority)
    }
}

/// What [`MemoryCache::import`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ImportReport {
    /// Entries written.
    pub imported: u64,
    /// Entries skipped because their time to live had run out.
    pub expired: u64,
    /// Entries refused by the cache (heavier than its capacity).
    pub rejected: u64,
}

impl<K, V> MemoryCache<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Every live entry with its options, shard by shard (each shard is
    /// consistent; the whole is not one atomic moment). Does not count as a
    /// read.
    pub fn snapshot(&self) -> Vec<SnapshotEntry<K, V>> {
        let inner = &self.inner;
        let now = inner.clock.now_nanos();
        let mut out = Vec::with_capacity(usize::try_from(self.len()).unwrap_or(0));
        for cell in inner.shards.iter() {
            cell.lock.read().snapshot_into(now, &mut out);
        }
        out
    }

    /// Writes every entry of a snapshot, with its options. Entries whose time
    /// to live has run out are skipped; entries the cache refuses are counted
    /// and the rest still imported.
    pub fn import(&self, entries: impl IntoIterator<Item = SnapshotEntry<K, V>>) -> ImportReport {
        let mut report = ImportReport::default();
        for entry in entries {
            if entry.expires_in == Some(Duration::ZERO) {
                report.expired += 1;
                continue;
            }
            let options = entry.options();
            match self.insert_with(entry.key, entry.value, options) {
                Ok(()) => report.imported += 1,
                Err(_) => report.rejected += 1,
            }
        }
        report
    }
}

macro_rules! duration_as {
    ($name:ident, $unit:literal, $to:expr, $from:expr) => {
        #[doc = concat!("Serde for `Option<Duration>` as whole ", $unit, ".")]
        mod $name {
            use serde::{Deserialize, Deserializer, Serializer};
            use std::time::Duration;

            pub(super) fn serialize<S: Serializer>(
                d: &Option<Duration>,
                s: S,
            ) -> Result<S::Ok, S::Error> {
                match d {
                    Some(d) => {
                        let to: fn(&Duration) -> u128 = $to;
                        s.serialize_u64(u64::try_from(to(d)).unwrap_or(u64::MAX))
                    }
                    None => s.serialize_none(),
                }
            }

            pub(super) fn deserialize<'de, D: Deserializer<'de>>(
                d: D,
            ) -> Result<Option<Duration>, D::Error> {
                let from: fn(u64) -> Duration = $from;
                Ok(Option::<u64>::deserialize(d)?.map(from))
            }
        }
    };
}

duration_as!(
    millis,
    "milliseconds",
    |d| d.as_millis(),
    Duration::from_millis
);
duration_as!(
    micros,
    "microseconds",
    |d| d.as_micros(),
    Duration::from_micros
);
