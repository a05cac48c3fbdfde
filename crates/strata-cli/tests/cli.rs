//! The built `strata` binary, run as a user would.

use std::process::Command;

fn strata(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(args)
        .output()
        .expect("the binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_and_version() {
    let (ok, out, _) = strata(&["--help"]);
    assert!(ok);
    assert!(out.contains("bench"), "{out}");
    let (ok, out, _) = strata(&["--version"]);
    assert!(ok);
    assert_eq!(out.trim(), format!("strata {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn bench_prints_a_row_per_policy_with_measured_figures() {
    let (ok, out, err) = strata(&["bench", "--capacity", "2000", "--ops", "20000"]);
    assert!(ok, "{err}");
    for policy in ["lru", "lfu", "ttl", "size", "hybrid"] {
        let row = out
            .lines()
            .find(|l| l.starts_with(policy))
            .unwrap_or_else(|| panic!("no {policy} row in\n{out}"));
        let figures: Vec<f64> = row
            .split_whitespace()
            .skip(1)
            .map(|f| f.trim_end_matches('%').parse().expect("a number"))
            .collect();
        assert_eq!(figures.len(), 4, "{row}");
        assert!(figures[0] > 0.0 && figures[1] > 0.0, "throughput: {row}");
        assert!((1.0..100.0).contains(&figures[2]), "hit ratio: {row}");
        assert!((16.0..1_000.0).contains(&figures[3]), "heap bytes: {row}");
    }
}

#[test]
fn bench_rejects_bad_input_with_a_clear_message() {
    let (ok, _, err) = strata(&["bench", "--policies", "arc"]);
    assert!(!ok);
    assert!(err.contains("unknown policy"), "{err}");
    let (ok, _, err) = strata(&["bench", "--capacity", "0"]);
    assert!(!ok);
    assert!(err.contains("greater than zero"), "{err}");
}

#[test]
fn a_closed_stdout_ends_the_bench_quietly() {
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["bench", "--capacity", "1000", "--ops", "5000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    drop(child.stdout.take()); // the reader goes away before any output
    let out = child.wait_with_output().expect("the binary ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.status.success(), "{stderr}");
}

#[test]
fn sim_replays_a_text_trace_and_writes_csv_and_svg() {
    let dir = tempfile::tempdir().expect("temp dir");
    let trace = dir.path().join("mine.csv");
    // A loop over 30 string keys, as `timestamp,key,size` rows.
    let rows: String = (0..3_000)
        .map(|i| format!("{i},page-{},100\n", i % 30))
        .collect();
    std::fs::write(&trace, rows).expect("write trace");
    let (csv, svg) = (dir.path().join("out.csv"), dir.path().join("out.svg"));
    let args = [
        "sim",
        "--trace",
        trace.to_str().expect("utf-8 path"),
        "--sizes",
        "10,30",
        "--policies",
        "lru,lfu",
        "--csv",
        csv.to_str().expect("utf-8 path"),
        "--svg",
        svg.to_str().expect("utf-8 path"),
    ];
    let (ok, out, err) = strata(&args);
    assert!(ok, "{err}");
    let lru_column = |line: &str| -> f64 {
        line.split_whitespace()
            .nth(1)
            .expect("a lru column")
            .trim_end_matches('*')
            .parse()
            .expect("a number")
    };
    let row = |size: &str| {
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(size))
            .expect("row")
    };
    assert_eq!(
        lru_column(row("10")),
        0.0,
        "LRU never hits a loop larger than the cache\n{out}"
    );
    assert_eq!(
        lru_column(row("30")),
        99.0,
        "only the 30 cold misses\n{out}"
    );
    for column in [
        "moka",
        "quick_cache",
        "foyer-wtinylfu",
        "foyer-s3fifo",
        "opt",
    ] {
        assert!(out.contains(column), "no {column} column\n{out}");
    }
    let csv = std::fs::read_to_string(csv).expect("csv written");
    assert!(csv.starts_with("trace,size,contender,"), "{csv}");
    assert_eq!(csv.lines().count(), 1 + 2 * 7);
    let svg = std::fs::read_to_string(svg).expect("svg written");
    assert!(svg.contains("<svg") && svg.contains("lfu"));
}

#[test]
fn sim_rejects_bad_input_with_a_clear_message() {
    let (ok, _, err) = strata(&["sim", "--trace", "/nonexistent/trace", "--sizes", "10"]);
    assert!(!ok);
    assert!(
        err.contains("cannot read trace /nonexistent/trace"),
        "{err}"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = dir.path().join("bad.lis");
    std::fs::write(&bad, "1 2 0 0\n3 x 0 0\n").expect("write");
    let (ok, _, err) = strata(&[
        "sim",
        "--trace",
        bad.to_str().expect("utf-8"),
        "--sizes",
        "10",
    ]);
    assert!(!ok);
    assert!(err.contains("bad.lis:2:"), "names the line: {err}");
    let (ok, _, err) = strata(&[
        "sim",
        "--trace",
        bad.to_str().expect("utf-8"),
        "--sizes",
        "0",
    ]);
    assert!(!ok && err.contains("greater than zero"), "{err}");
    let (ok, _, err) = strata(&["sim", "--trace", "x", "--sizes", "1", "--format", "parquet"]);
    assert!(!ok && err.contains("unknown trace format"), "{err}");
}

#[test]
fn sim_reference_names_a_missing_traces_directory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("no-traces");
    let (ok, _, err) = strata(&["sim", "--reference", missing.to_str().expect("utf-8")]);
    assert!(!ok);
    assert!(err.contains("reading the reference trace"), "{err}");
    assert!(err.contains("OLTP.lis.zst"), "{err}");
    // --reference replaces --trace and --sizes; mixing them is refused.
    let (ok, _, err) = strata(&["sim", "--reference", "x", "--sizes", "10"]);
    assert!(!ok);
    assert!(err.contains("cannot be used with"), "{err}");
}
