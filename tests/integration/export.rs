//! `export`: one flat row per record, as CSV or JSON Lines, from files and directories.

use crate::common::{clusterbench, tempdir};
use clusterbench::results::files::read_document;
use std::path::{Path, PathBuf};

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

#[test]
fn csv_and_jsonl_hold_one_row_per_record_of_every_file() {
    let dir = tempdir();
    let d = dir.path();
    let baseline = repo("results/baselines/quick-cpu-2core.json");
    let log = repo("tests/fixtures/nccl-tests-all_reduce_perf-a3mega-16gpu.log");
    let o = clusterbench(d)
        .args(["import", log.to_str().unwrap(), "-o", "nccl.json"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let expected = read_document(&baseline).unwrap().records.len()
        + read_document(&d.join("nccl.json")).unwrap().records.len();

    // A directory and a file; CSV on standard output.
    std::fs::create_dir(d.join("runs")).unwrap();
    std::fs::copy(&baseline, d.join("runs/base.json")).unwrap();
    let o = clusterbench(d)
        .args(["export", "--format", "csv", "runs", "nccl.json"])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut csv = csv::Reader::from_reader(o.stdout.as_slice());
    let header = csv.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = csv.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), expected);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (tool, busbw, bytes) = (col("tool"), col("busbw (GB/s)"), col("bytes"));
    let last = rows.last().unwrap();
    assert_eq!(&last[tool], "nccl-tests");
    // The log's last row, in place: 8 GiB, busbw 337.35 (its bus bandwidth column).
    assert_eq!(&last[bytes], "8589934592");
    assert_eq!(last[busbw].parse::<f64>().unwrap(), 337.35);
    assert_eq!(&rows[0][tool], "clusterbench");

    // JSON Lines into a file: the same rows, each with every column.
    let o = clusterbench(d)
        .args([
            "export",
            "--format",
            "jsonl",
            "runs",
            "nccl.json",
            "-o",
            "rows.jsonl",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let text = std::fs::read_to_string(d.join("rows.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), expected);
    for l in &lines {
        assert_eq!(l.as_object().unwrap().len(), header.len());
    }
}

#[test]
fn export_refuses_what_it_cannot_read_in_one_line() {
    let dir = tempdir();
    let d = dir.path();
    std::fs::create_dir(d.join("empty")).unwrap();
    for args in [
        vec!["export", "missing.json"],
        vec!["export", "empty"],
        vec!["export", "--format", "xml", "x.json"],
    ] {
        let o = clusterbench(d).args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.trim().lines().count() <= 5 && !err.contains("panicked"),
            "{err}"
        );
        assert!(o.stdout.is_empty(), "{args:?}");
    }
}

/// `run --json` prints the document it wrote, and nothing else, on standard output;
/// `-q` still names the results file on standard error.
#[test]
fn run_json_prints_the_document_and_quiet_still_names_the_file() {
    let dir = tempdir();
    let d = dir.path();
    let run = ["run", "--bench", "membw", "--array-size", "2M", "-n", "3"];
    let o = clusterbench(d)
        .args(run)
        .args(["--json", "--output", "j"])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let printed: clusterbench::results::RunDocument = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)));
    let (path, written) = crate::common::only_document(&d.join("j"));
    assert_eq!(printed, written, "{}", path.display());
    // Each row carries its record's mean over ranks.
    let o = clusterbench(d)
        .args(["export", "--format", "jsonl", "j"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), written.records.len());
    for (row, record) in rows.iter().zip(&written.records) {
        let rank_mean = record.rank_mean_s.expect("a measured record");
        assert_eq!(row["time_rank_mean_s"].as_f64(), Some(rank_mean));
    }
    let o = clusterbench(d)
        .args(run)
        .args(["-q", "--output", "q"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(
        o.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let (path, _) = crate::common::only_document(&d.join("q"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        err.trim_end(),
        format!(
            "clusterbench: results written to {}",
            path.strip_prefix(d).unwrap().display()
        ),
        "{err}"
    );
}
