//! The fidelity check's one table (scripts/fidelity/table.py) and its all-reduce rows
//! (compare.py) on a real one-rank all-reduce document and made-up reference figures:
//! a unit test of pairing, merging and the JSON rows, not a measurement.

use crate::common::*;
use std::path::PathBuf;
use std::process::Command;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_fidelity_table_merges_paired_rows_into_one_json_list() {
    let python = Command::new("python3").arg("--version").output();
    if !python.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: no python3");
        return;
    }
    let dir = tempdir();
    let out = clusterbench(dir.path())
        .args([
            "run",
            "--backend",
            "cpu",
            "--bench",
            "allreduce",
            "-b",
            "8",
            "-e",
            "64",
            "-n",
            "2",
            "-w",
            "1",
            "-q",
            "--output",
            "results",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/fidelity/test_table.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(dir.path().join("results"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(text(&out.stderr).contains("Ran 7 tests"), "{out:?}");
}
