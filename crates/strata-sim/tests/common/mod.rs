//! The shared traces and the reference rows of `../shared/traces/README.md`.
#![allow(dead_code)] // each test file uses a subset

use std::path::PathBuf;

use strata_sim::{Trace, trace};

/// `../shared/traces`, relative to the project root. Fails loudly when
/// missing: these tests are part of the suite, never skipped.
pub(crate) fn traces_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/traces");
    assert!(
        dir.join("README.md").is_file(),
        "the shared access traces are missing: expected them at {} (the project's ../shared/traces)",
        dir.display()
    );
    dir
}

pub(crate) fn load(file: &str) -> Trace {
    let path = traces_dir().join(file);
    trace::read(&path, None).unwrap_or_else(|e| panic!("{e}"))
}

pub(crate) use strata_sim::reference::by_trace;

/// A percentage rounded to two decimals, as the reference table prints it.
pub(crate) fn two_decimals(percent: f64) -> f64 {
    (percent * 100.0).round() / 100.0
}
