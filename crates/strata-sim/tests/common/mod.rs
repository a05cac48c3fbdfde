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

/// One reference row: trace file, capacity, OPT, LRU, best peer (percent).
pub(crate) struct Row {
    pub(crate) file: &'static str,
    pub(crate) capacity: u64,
    pub(crate) opt: f64,
    pub(crate) lru: f64,
    pub(crate) best_peer: f64,
}

const fn row(file: &'static str, capacity: u64, opt: f64, lru: f64, best_peer: f64) -> Row {
    Row {
        file,
        capacity,
        opt,
        lru,
        best_peer,
    }
}

/// The table "Reference values" of `../shared/traces/README.md`.
pub(crate) const ROWS: &[Row] = &[
    row("arc/OLTP.lis.zst", 256, 38.72, 16.69, 23.52),
    row("arc/OLTP.lis.zst", 1_000, 53.61, 32.83, 39.24),
    row("arc/OLTP.lis.zst", 2_000, 60.40, 42.47, 46.08),
    row("arc/OLTP.lis.zst", 5_000, 68.27, 53.65, 54.29),
    row("arc/P3.lis.zst", 20_000, 21.95, 2.28, 12.08),
    row("arc/P3.lis.zst", 160_000, 70.83, 51.58, 55.52),
    row("arc/P6.lis.zst", 20_000, 25.60, 2.05, 16.96),
    row("arc/P6.lis.zst", 160_000, 90.34, 83.27, 84.63),
    row("cloud_physics/w106.trace.xz", 1_000, 81.24, 74.51, 76.20),
    row("cloud_physics/w106.trace.xz", 10_000, 90.02, 83.81, 85.80),
    row("cloud_physics/w106.trace.xz", 50_000, 94.71, 93.34, 94.14),
    row("cloud_physics/w106.trace.xz", 100_000, 94.80, 93.75, 94.22),
    row("lirs/gli.trace.gz", 250, 17.64, 0.91, 15.58),
    row("lirs/gli.trace.gz", 500, 34.26, 0.95, 31.74),
    row("lirs/gli.trace.gz", 1_000, 53.13, 11.21, 48.93),
    row("lirs/gli.trace.gz", 2_000, 57.96, 57.41, 57.96),
    row("lirs/loop.trace.gz", 256, 25.22, 0.00, 25.21),
    row("lirs/loop.trace.gz", 512, 50.54, 0.00, 50.54),
    row("lirs/multi2.trace.gz", 250, 46.60, 24.10, 38.70),
    row("lirs/multi2.trace.gz", 500, 53.60, 35.98, 50.62),
    row("lirs/multi2.trace.gz", 1_000, 62.16, 47.80, 57.92),
    row("lirs/multi2.trace.gz", 2_000, 74.65, 49.00, 70.35),
    row("lirs/sprite.trace.gz", 100, 50.80, 21.58, 34.88),
    row("lirs/sprite.trace.gz", 200, 68.86, 39.88, 51.32),
    row("lirs/sprite.trace.gz", 500, 87.88, 78.30, 78.85),
    row("lirs/sprite.trace.gz", 1_000, 93.24, 90.64, 90.68),
];

/// The rows grouped by trace file, in table order.
pub(crate) fn by_trace() -> Vec<(&'static str, Vec<&'static Row>)> {
    let mut out: Vec<(&str, Vec<&Row>)> = Vec::new();
    for r in ROWS {
        match out.last_mut() {
            Some((file, rows)) if *file == r.file => rows.push(r),
            _ => out.push((r.file, vec![r])),
        }
    }
    out
}

/// A percentage rounded to two decimals, as the reference table prints it.
pub(crate) fn two_decimals(percent: f64) -> f64 {
    (percent * 100.0).round() / 100.0
}
