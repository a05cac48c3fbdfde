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
