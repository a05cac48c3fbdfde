//! The process's allocator, and heap accounting for `strata bench`.
//!
//! jemalloc rather than the system allocator: `strata serve` allocates a
//! few small buffers per request on two or more worker threads, where
//! glibc's malloc cost about a third more user CPU per request (6.4 µs
//! against 4.8 under `wrk`, docs/performance.md, "The server"). jemalloc also counts, per thread,
//! the bytes each thread allocates and frees, so `strata bench` reads heap
//! growth from it instead of wrapping every allocation in one shared
//! atomic counter, which cost the server more still: a contended cache
//! line on every allocation.

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Bytes the calling thread has allocated minus the bytes it has freed, so
/// far (each allocation counted at its size class, which is what it
/// occupies). The difference between two readings on one thread is the
/// heap growth of what ran between them on that thread. These are exact
/// per-thread counts, where jemalloc's process-wide `stats.allocated`
/// misses what thread caches hand out and take back.
pub(crate) fn held_by_this_thread() -> anyhow::Result<i64> {
    let jemalloc = |e| anyhow::anyhow!("reading jemalloc's per-thread counts: {e}");
    let allocated = tikv_jemalloc_ctl::thread::allocatedp::read().map_err(jemalloc)?;
    let freed = tikv_jemalloc_ctl::thread::deallocatedp::read().map_err(jemalloc)?;
    // Wrapping: a thread may free more than it allocated (others' memory).
    Ok(allocated.get().wrapping_sub(freed.get()) as i64)
}
