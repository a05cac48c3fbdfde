//! Why entries leave the cache, and how the cache tells its listener.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Why an entry left the cache, as given to the removal listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum RemovalCause {
    /// Its time to live or time to idle ran out.
    Expired,
    /// The cache needed room: capacity, or memory pressure.
    Capacity,
    /// It was invalidated by tag, key prefix or pattern.
    Invalidated,
    /// A write to the same key replaced its value.
    Replaced,
    /// It was removed explicitly: `remove` or `clear`.
    Removed,
}

impl RemovalCause {
    /// Every cause, in declaration order.
    pub const ALL: [RemovalCause; 5] = [
        RemovalCause::Expired,
        RemovalCause::Capacity,
        RemovalCause::Invalidated,
        RemovalCause::Replaced,
        RemovalCause::Removed,
    ];

    pub(crate) fn index(self) -> usize {
        match self {
            RemovalCause::Expired => 0,
            RemovalCause::Capacity => 1,
            RemovalCause::Invalidated => 2,
            RemovalCause::Replaced => 3,
            RemovalCause::Removed => 4,
        }
    }
}

/// The removal listener: called once per departed entry, with ownership of
/// its key and value, after the cache has released its locks (so it may call
/// back into the cache).
pub(crate) type Listener<K, V> = Arc<dyn Fn(K, V, RemovalCause) + Send + Sync>;

/// Entries removed while a shard was locked, handed to the listener once the
/// lock is released. Dropping values outside the lock matters too: a value's
/// destructor may be slow. Two fit inline: a write usually evicts at most
/// one entry, and a heap allocation per evicting write would cost more than
/// the eviction.
pub(crate) type Removals<K, V> = smallvec::SmallVec<[(K, V, RemovalCause); 2]>;
