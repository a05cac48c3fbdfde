//! A namespace's engine: the tiered cache built from its settings.

use std::sync::Arc;

use strata::envelope::CompressionLevel;
use strata::tier::disk::DiskTier;
use strata::{BuildError, MemoryBudget, MemoryCache, TieredCache, WritePolicy};

use crate::config::{
    CompressionSetting, Limits, MemoryConfig, NamespaceSettings, WritePolicySetting,
};
use crate::item::Item;

/// Hot keys each memory tier tracks, for `/analytics` and the dashboard.
const HOT_KEYS: usize = 20;

/// Queued writes under write-back: enough to absorb bursts, small enough
/// that a crash loses at most this many acknowledged writes (documented).
const WRITE_BACK_QUEUE: usize = 10_000;

/// The tiered cache of a namespace and the settings it was built from.
pub struct Engine {
    /// The cache.
    pub cache: TieredCache<Arc<Item>>,
    /// What it was built from.
    pub settings: NamespaceSettings,
}

impl Engine {
    /// Builds the memory tier from `settings` over `disk`.
    ///
    /// # Errors
    /// The builder's error for settings it refuses.
    pub fn build(
        settings: &NamespaceSettings,
        disk: Option<DiskTier>,
        memory: &MemoryConfig,
        limits: &Limits,
    ) -> Result<Self, BuildError> {
        let mut builder = MemoryCache::<String, Arc<Item>>::builder()
            .policy(settings.policy)
            .max_entries(settings.max_entries)
            .max_weight(settings.max_memory)
            .weigher(|key: &String, item: &Arc<Item>| Item::weight(key, item))
            .stats(true)
            .hot_keys(HOT_KEYS)
            .pressure_thresholds(memory.soft, memory.hard);
        // Budget 0: the cgroup's limit when there is one; without either,
        // the memory tier is bounded by its own limits only.
        let budget = if memory.budget == 0 {
            MemoryBudget::Cgroup.resolve()
        } else {
            Some(memory.budget)
        };
        if let Some(bytes) = budget {
            builder = builder.memory_budget(MemoryBudget::Bytes(bytes));
        }
        let memory_tier = builder.build()?;
        let mut tiered = TieredCache::builder(memory_tier)
            .compression(match settings.compression {
                CompressionSetting::None => CompressionLevel::None,
                CompressionSetting::Lz4 => CompressionLevel::Fast,
                CompressionSetting::Zstd => CompressionLevel::Default,
            })
            // The envelope adds a header and the item's own fields to the
            // value; leave room so the API's value limit is the one a
            // client meets.
            .max_value_bytes(limits.max_value_bytes.saturating_add(64 * 1024));
        if let Some(disk) = disk {
            tiered = tiered
                .tier(Arc::new(disk))
                .write_policy(match settings.write_policy {
                    WritePolicySetting::WriteThrough => WritePolicy::WriteThrough,
                    WritePolicySetting::WriteBack => WritePolicy::WriteBack {
                        queue: WRITE_BACK_QUEUE,
                    },
                });
        }
        Ok(Self {
            cache: tiered.build()?,
            settings: settings.clone(),
        })
    }
}
