//! The `disk-engines` binary, run end to end on tiny stores: every phase,
//! including the crash child, for every engine.

use std::process::Command;

#[test]
fn every_engine_runs_every_phase_and_gets_a_row() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let output = Command::new(env!("CARGO_BIN_EXE_disk-engines"))
        .args(["--entries", "3000", "--batch", "500", "--gets", "1000"])
        .arg("--dir")
        .arg(dir.path())
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "exit {}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    for engine in ["redb", "redb-quick-repair", "fjall", "fjall-journal-64m"] {
        let rows: Vec<Vec<&str>> = stdout
            .lines()
            .filter(|line| line.starts_with(&format!("| {engine} |")))
            .map(|line| line.split('|').map(str::trim).collect())
            .collect();
        // One row in the main table, one in the details.
        assert_eq!(rows.len(), 2, "rows of {engine} in:\n{stdout}");
        // Details: the batch the crash child committed survived its end.
        // Columns: "", engine, commit p50, commit p99, prefix scan, close,
        // open clean, open unclean, repaired, crashed batch kept, ...
        assert_eq!(rows[1][9], "true", "{engine}: {:?}", rows[1]);
    }
    // The binary removes its stores and their temporary root.
    let left = std::fs::read_dir(dir.path())
        .expect("the directory is readable")
        .count();
    assert_eq!(left, 0, "stores left behind");
}
