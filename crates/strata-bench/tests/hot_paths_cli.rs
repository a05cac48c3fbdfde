//! The `hot-paths` binary: each measured run alone, and the report under a
//! real valgrind (`scripts/ensure-valgrind.sh` installs it).

use std::path::Path;
use std::process::Command;

/// A small ARC-format trace: 4,000 requests over 1,500 keys.
fn small_trace(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("small.lis");
    let lines: String = (0..4_000_u64)
        .map(|i| format!("{} 1 0 {i}\n", (i * 7919) % 1_500))
        .collect();
    std::fs::write(&path, lines).expect("write the trace");
    path
}

fn hot_paths(args: &[&str], trace: &Path) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_hot-paths"))
        .args(args)
        .arg("--trace")
        .arg(trace)
        .output()
        .expect("the binary runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `ops N reads N hits N` of a measured run.
fn done(stdout: &str) -> [u64; 3] {
    let words: Vec<&str> = stdout.split_whitespace().collect();
    match words.as_slice() {
        ["ops", ops, "reads", reads, "hits", hits] => [ops, reads, hits].map(|w| {
            w.parse()
                .unwrap_or_else(|_| panic!("{w:?} is not a count in {stdout:?}"))
        }),
        _ => panic!("not a run line: {stdout:?}"),
    }
}

#[test]
fn every_workload_runs_the_same_requests_on_every_cache() {
    let dir = tempfile::tempdir().expect("temp dir");
    let trace = small_trace(dir.path());
    for workload in ["get", "overwrite", "mixed", "replay"] {
        let mut seen = Vec::new();
        for cache in ["strata", "strata-no-stats", "quick-cache"] {
            let (ok, out, err) = hot_paths(
                &[
                    "measure",
                    workload,
                    cache,
                    "--ops",
                    "3000",
                    "--replay-capacity",
                    "500",
                ],
                &trace,
            );
            assert!(ok, "{workload} on {cache}: {err}");
            let [ops, reads, hits] = done(&out);
            assert!(
                hits <= reads && reads <= ops,
                "{workload} on {cache}: {out}"
            );
            match workload {
                "replay" => assert_eq!((ops, reads), (4_000, 4_000), "{out}"),
                "get" => assert_eq!((ops, reads), (3_000, 3_000), "{out}"),
                "overwrite" => assert_eq!((ops, reads), (3_000, 0), "{out}"),
                _ => assert!((2_500..3_000).contains(&reads), "{out}"),
            }
            // A replay of 1,500 keys in 500 entries misses; every get of a
            // cache warmed with its own keys (3,000 draws of 1,000,000
            // keys, capacity 100,000) hits.
            match workload {
                "replay" => assert!(hits < reads, "{out}"),
                "get" => assert_eq!(hits, reads, "{out}"),
                _ => {}
            }
            seen.push((ops, reads));
        }
        assert!(
            seen.windows(2).all(|w| w[0] == w[1]),
            "{workload}: {seen:?}"
        );
    }
}

#[test]
fn the_report_counts_every_workload_under_callgrind() {
    let dir = tempfile::tempdir().expect("temp dir");
    let trace = small_trace(dir.path());
    let (ok, out, err) = hot_paths(
        &[
            "--ops",
            "2000",
            "--replay-limit",
            "3000",
            "--replay-capacity",
            "500",
        ],
        &trace,
    );
    assert!(ok, "{err}");
    for workload in ["get", "overwrite", "mixed", "replay"] {
        let row: Vec<&str> = out
            .lines()
            .find(|l| l.starts_with(&format!("| {workload} |")))
            .unwrap_or_else(|| panic!("no row {workload} in\n{out}"))
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        assert_eq!(row.len(), 7, "{row:?}");
        let number = |cell: &str| -> f64 {
            cell.parse()
                .unwrap_or_else(|_| panic!("{cell:?} is not a number in {row:?}"))
        };
        let [strata, quiet, quick] = [row[1], row[2], row[3]].map(number);
        // Every operation runs code: an op counted as zero instructions
        // means the count missed it.
        assert!(strata > 10.0 && quiet > 10.0 && quick > 10.0, "{row:?}");
        // Stats cost instructions; turning them off cannot add any.
        assert!(quiet <= strata, "{row:?}");
        let close = |ratio: f64, a: f64, b: f64| (ratio - a / b).abs() <= 0.01 + 0.01 * a / b;
        assert!(close(number(row[4]), strata, quick), "{row:?}");
        assert!(close(number(row[5]), quiet, quick), "{row:?}");
    }
}

/// Instructions counted inside the measured operations of one run, as
/// the report counts them.
fn collected(args: &[&str], trace: &Path) -> u64 {
    let output = Command::new("valgrind")
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .arg("--toggle-collect=hot_paths::op::op_*")
        .arg(env!("CARGO_BIN_EXE_hot-paths"))
        .args(args)
        .arg("--trace")
        .arg(trace)
        .output()
        .expect("valgrind runs (scripts/ensure-valgrind.sh installs it)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    stderr
        .lines()
        .find_map(|l| l.split_once("Collected :"))
        .and_then(|(_, n)| n.trim().replace(',', "").parse().ok())
        .unwrap_or_else(|| panic!("no count in {stderr}"))
}

#[test]
fn two_runs_count_the_same_instructions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let trace = small_trace(dir.path());
    // quick_cache's default hasher is seeded at random per process; with
    // it, these counts differed from run to run.
    for args in [
        &[
            "measure",
            "replay",
            "quick-cache",
            "--replay-capacity",
            "500",
        ][..],
        &["measure", "mixed", "strata-no-stats", "--ops", "3000"],
    ] {
        let (first, second) = (collected(args, &trace), collected(args, &trace));
        assert!(first > 1_000, "{args:?}: {first}");
        assert_eq!(first, second, "{args:?}");
    }
    // With stats, Strata times one operation in so many, at a pace set by
    // the clock: its count moves a little between runs, never much.
    let args = ["measure", "mixed", "strata", "--ops", "3000"];
    let (first, second) = (collected(&args, &trace), collected(&args, &trace));
    let drift = first.abs_diff(second) as f64 / first as f64;
    assert!(drift < 0.02, "{first} against {second}");
}

#[test]
fn empty_workloads_are_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("temp dir");
    let trace = small_trace(dir.path());
    for args in [
        &["measure", "get", "strata", "--ops", "0"][..],
        &["measure", "replay", "quick-cache", "--replay-capacity", "0"],
        &["--replay-limit", "0"],
    ] {
        let (ok, _, err) = hot_paths(args, &trace);
        assert!(!ok, "{args:?}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(err.contains("greater than zero"), "{args:?}: {err}");
    }
}

#[test]
fn a_missing_trace_is_named_not_a_panic() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("no-such-trace.lis");
    let (ok, _, err) = hot_paths(&["measure", "replay", "strata"], &missing);
    assert!(!ok);
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains("no-such-trace.lis") && err.contains("--trace"),
        "{err}"
    );
}
