//! Heap bytes per entry: the heap growth of building a cache and inserting
//! `entries` distinct `u64 → u64` pairs into it, over `entries`.
//!
//! All of it runs on the calling thread, so that thread's own jemalloc
//! counts (exact; see `crate::heap`) see every byte the cache allocates —
//! including moka's, whose buffered work `settle` applies on this thread
//! before the reading. The cache is dropped after the reading.
//!
//! Every cache must hold all the entries at the reading, or its figure
//! would be per entry of a smaller cache. A sharded cache splits its
//! capacity among shards and keys do not spread evenly, so at a capacity
//! of exactly `entries` a full shard may evict while others have room.
//! Each cache is therefore measured at the smallest capacity, from
//! `entries` up in steps of 1/16, at which it keeps them all, and the
//! report says which capacity that was.

use anyhow::bail;

use super::contender::Cache;
use crate::heap;

/// What one measurement found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Footprint {
    /// Heap growth over the entries inserted.
    pub(super) bytes_per_entry: f64,
    /// The capacity at which the cache kept every entry.
    pub(super) capacity: u64,
}

/// Measures heap bytes per entry of the cache `build` makes, inserting keys
/// `0..entries` with `insert`, at the smallest capacity that keeps them all.
///
/// # Errors
/// If the cache cannot be built, jemalloc's counts cannot be read, or even
/// at twice `entries` the cache does not keep every entry.
pub(super) fn footprint<C: Cache>(
    entries: u64,
    build: impl Fn(u64) -> anyhow::Result<C>,
    insert: impl Fn(&C, u64),
) -> anyhow::Result<Footprint> {
    let step = (entries / 16).max(1);
    let mut capacity = entries;
    loop {
        let (grown, held) = once(entries, || build(capacity), &insert)?;
        if held == entries {
            return Ok(Footprint {
                bytes_per_entry: grown as f64 / entries as f64,
                capacity,
            });
        }
        if capacity >= 2 * entries {
            bail!("held only {held} of {entries} entries even at a capacity of {capacity}");
        }
        capacity += step;
    }
}

/// Heap growth and entries held after one build and `entries` inserts.
fn once<C: Cache>(
    entries: u64,
    build: impl FnOnce() -> anyhow::Result<C>,
    insert: impl Fn(&C, u64),
) -> anyhow::Result<(i64, u64)> {
    let before = heap::held_by_this_thread()?;
    let cache = build()?;
    for k in 0..entries {
        insert(&cache, k);
    }
    cache.settle();
    let grown = (heap::held_by_this_thread()? - before).max(0);
    let held = cache.len();
    drop(cache);
    Ok((grown, held))
}
