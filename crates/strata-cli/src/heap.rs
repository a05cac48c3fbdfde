//! Heap accounting for `strata bench`: the process's global allocator wrapped
//! in a counter (the `cap` crate, so this crate needs no `unsafe`).

use std::alloc::System;

use cap::Cap;

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

/// Bytes currently allocated on the heap by this process.
pub(crate) fn allocated() -> usize {
    ALLOCATOR.allocated()
}
