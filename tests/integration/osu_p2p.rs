//! OSU point-to-point logs (osu_latency, osu_latency_mp, osu_bw, osu_bibw) imported
//! through the binary, compared, and matched against clusterbench's own p2p records.

use crate::common::*;
use crate::decisions::{cb, fixture, text};
use clusterbench::results::files::read_document;
use clusterbench::results::{Params, Record, RunDocument};
use std::path::Path;

/// Imports `fixture_name` with `extra` flags into `dir/out` and reads the document back.
fn import(dir: &Path, fixture_name: &str, out: &str, extra: &[&str]) -> RunDocument {
    let log = fixture(fixture_name);
    let o = cb(
        dir,
        &[&["import", log.to_str().unwrap(), "-o", out], extra].concat(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_matches_schema(&dir.join(out));
    read_document(&dir.join(out)).unwrap()
}

/// The rows of a fixture: size, then the figures of each column, as printed.
fn fixture_rows(name: &str) -> Vec<(u64, Vec<String>)> {
    std::fs::read_to_string(fixture(name))
        .unwrap()
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()))
        .map(|l| {
            let mut cells = l.split_whitespace();
            let size = cells.next().unwrap().parse().unwrap();
            (size, cells.map(str::to_string).collect())
        })
        .collect()
}

fn p2p(r: &Record) -> (&str, u64, u32, &str, &str) {
    match &r.params {
        Params::PointToPoint {
            mode,
            bytes,
            window,
            from_host,
            to_host,
            ..
        } => (mode, *bytes, *window, from_host, to_host),
        other => panic!("not a point-to-point record: {other:?}"),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1e-12)
}

#[test]
fn osu_latency_logs_import_as_p2p_latency_records() {
    let dir = tempdir();
    let d = dir.path();
    for (name, version, rows_expected) in [
        ("osu_latency-v5.6.2-handwritten.out", "5.6.2", 24),
        ("osu_latency_mp-v5.6.3-handwritten.out", "5.6.3", 12),
    ] {
        let doc = import(d, name, "lat.json", &[]);
        assert_eq!(doc.tool.name, "osu-micro-benchmarks");
        assert_eq!(doc.tool.version, version);
        assert_eq!(doc.run.backend, "cpu");
        let note = doc.run.backend_note.as_deref().unwrap();
        assert!(note.contains("names no hosts"), "{note}");
        let rows = fixture_rows(name);
        assert_eq!(rows.len(), rows_expected);
        assert_eq!(doc.records.len(), rows.len());
        for (r, (size, cells)) in doc.records.iter().zip(&rows) {
            let us: f64 = cells[0].parse().unwrap();
            assert_eq!(p2p(r), ("latency", *size, 1, "unknown", "unknown"));
            assert_eq!((r.benchmark.as_str(), r.backend.as_str()), ("p2p", "cpu"));
            assert_eq!((r.ranks, r.nodes), (2, 1));
            // OSU's latency is already one way (half the round trip), as clusterbench's.
            assert!(close(r.time_s.median, us * 1e-6), "{size}: {:?}", r.time_s);
            let bw = r.metric("bandwidth").unwrap();
            assert_eq!(bw.unit, "GB/s");
            assert!(close(bw.value, *size as f64 / (us * 1e-6) / 1e9) || *size == 0);
            assert!(!r.check.performed && r.check.passed);
        }
    }
    // The v5.6.2 sample's last row, read by eye: 4194304 bytes in 351.03 us.
    let doc = import(d, "osu_latency-v5.6.2-handwritten.out", "l.json", &[]);
    let last = doc.records.last().unwrap();
    assert_eq!(p2p(last).1, 4194304);
    assert!(close(last.time_s.median, 351.03e-6));
}

#[test]
fn osu_bandwidth_logs_import_in_gbps_with_the_window_time() {
    let dir = tempdir();
    let d = dir.path();
    for (name, mode, both_ways) in [
        ("osu_bw-v7.1-handwritten.out", "bandwidth", 1.0),
        ("osu_bibw-v7.5-validation-handwritten.out", "bidir", 2.0),
    ] {
        let rows = fixture_rows(name);
        for (window, flags) in [(64u32, &[][..]), (16, &["--window", "16"][..])] {
            let doc = import(d, name, "bw.json", flags);
            assert_eq!(doc.records.len(), rows.len());
            let note = doc.run.backend_note.as_deref().unwrap();
            assert_eq!(note.contains("window of 64 messages assumed"), window == 64);
            for (r, (size, cells)) in doc.records.iter().zip(&rows) {
                let mbps: f64 = cells[0].parse().unwrap();
                assert_eq!(p2p(r).0, mode);
                assert_eq!((p2p(r).1, p2p(r).2), (*size, window));
                // MB/s (1e6 bytes) becomes GB/s (1e9 bytes).
                assert!(close(r.metric("bandwidth").unwrap().value, mbps / 1e3));
                // The time of one window of messages (both ways for osu_bibw).
                let expect = both_ways * (*size * u64::from(window)) as f64 / (mbps * 1e6);
                assert!(close(r.time_s.median, expect), "{size}: {:?}", r.time_s);
                if mode == "bidir" {
                    // The 7.5 log ran with --validation: every row says Pass.
                    assert_eq!(cells[1], "Pass");
                    assert!(r.check.performed && r.check.passed, "{:?}", r.check);
                } else {
                    assert!(!r.check.performed);
                }
            }
        }
    }
}

#[test]
fn osu_cuda_logs_name_their_buffers_and_keep_the_p99_tail() {
    let dir = tempdir();
    let d = dir.path();
    let name = "osu_latency-cuda-v7.5-tail-handwritten.out";
    let doc = import(
        d,
        name,
        "cuda.json",
        &["--hosts", "gpu1,gpu2", "--nodes", "2"],
    );
    assert_eq!(doc.tool.version, "7.5");
    assert_eq!(doc.run.backend, "cuda");
    let note = doc.run.backend_note.as_deref().unwrap();
    assert!(note.contains("send buffer on DEVICE (D)"), "{note}");
    assert!(note.contains("tail columns other than the P99"), "{note}");
    let hosts: Vec<(u32, &str)> = doc
        .environment
        .ranks
        .iter()
        .map(|r| (r.rank, r.host.as_str()))
        .collect();
    assert_eq!(hosts, [(0, "gpu1"), (1, "gpu2")]);
    let rows = fixture_rows(name);
    assert_eq!(doc.records.len(), rows.len());
    for (r, (size, cells)) in doc.records.iter().zip(&rows) {
        // Columns: Avg, P50, P90, P99 (microseconds).
        let avg: f64 = cells[0].parse().unwrap();
        let p99: f64 = cells[3].parse().unwrap();
        assert_eq!(p2p(r), ("latency", *size, 1, "gpu1", "gpu2"));
        assert_eq!((r.backend.as_str(), r.ranks, r.nodes), ("cuda", 2, 2));
        assert!(close(r.time_s.median, avg * 1e-6));
        assert!(close(r.time_s.p99, p99 * 1e-6));
    }

    // Host-to-device buffers are no clusterbench backend's measurement: their own label.
    std::fs::write(
        d.join("hd.out"),
        "# OSU MPI-CUDA Bandwidth Test v5.6.2\n\
         # Send Buffer on HOST (H) and Receive Buffer on DEVICE (D)\n\
         # Size      Bandwidth (MB/s)\n\
         1                       0.50\n",
    )
    .unwrap();
    let o = cb(d, &["import", "hd.out", "-o", "hd.json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let doc = read_document(&d.join("hd.json")).unwrap();
    assert_eq!(doc.records[0].backend, "cuda:H-D");
}

#[test]
fn an_imported_osu_latency_log_compares_with_itself() {
    let dir = tempdir();
    let d = dir.path();
    import(d, "osu_latency-v5.6.2-handwritten.out", "a.json", &[]);
    import(d, "osu_latency-v5.6.2-handwritten.out", "b.json", &[]);
    let o = cb(d, &["compare", "a.json", "b.json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("24 compared"), "{}", text(&o));
    assert!(text(&o).contains("0 regressed"), "{}", text(&o));
    // The HTML report draws imported p2p records too.
    let v = cb(d, &["report", "a.json", "--output", "r.html"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    let html = std::fs::read_to_string(d.join("r.html")).unwrap();
    assert!(html.contains("p2p") && html.contains("<svg"));
}

#[test]
fn osu_validation_failures_are_recorded_as_failed_checks() {
    let dir = tempdir();
    let d = dir.path();
    std::fs::write(
        d.join("bibw.out"),
        "# OSU MPI Bi-Directional Bandwidth Test v7.5\n\
         # Datatype: MPI_CHAR.\n\
         # Size      Bandwidth (MB/s)        Validation\n\
         1                       0.93              Pass\n\
         2                       1.94              Fail\n",
    )
    .unwrap();
    let o = cb(d, &["import", "bibw.out", "-o", "f.json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let doc = read_document(&d.join("f.json")).unwrap();
    assert_eq!(
        doc.run.status,
        clusterbench::results::RunStatus::CheckFailed
    );
    let passed: Vec<(bool, bool)> = doc
        .records
        .iter()
        .map(|r| (r.check.performed, r.check.passed))
        .collect();
    assert_eq!(passed, [(true, true), (true, false)]);
}

#[test]
fn bad_osu_point_to_point_logs_are_usage_errors() {
    let dir = tempdir();
    let d = dir.path();
    let lat = "# OSU MPI Latency Test v7.3\n# Size          Latency (us)\n# Datatype: MPI_CHAR.\n";
    let cases: [(&str, String, &[&str], &str); 9] = [
        (
            "truncated row",
            format!("{lat}1                       2.46\n2\n"),
            &[],
            "line 5",
        ),
        (
            "non-numeric value",
            format!("{lat}1                       2.4x6\n"),
            &[],
            "is not a number",
        ),
        (
            "row before the column header",
            "# OSU MPI Latency Test v7.3\n1 2.46\n".into(),
            &[],
            "before the '# Size' column header",
        ),
        (
            "unknown OSU test",
            "# OSU MPI Multiple Bandwidth / Message Rate Test v7.0\n# Size MB/s\n1 2.0\n".into(),
            &["--ranks", "2"],
            "osu_latency, osu_latency_mp, osu_bw, osu_bibw",
        ),
        (
            "header without a latency column",
            "# OSU MPI Latency Test v7.3\n# Size          Nothing\n1 2.0\n".into(),
            &[],
            "no latency column",
        ),
        (
            "bad Validation cell",
            "# OSU MPI Latency Test v7.5\n# Size       Avg Latency(us)        Validation\n1   3.00   Maybe\n"
                .into(),
            &[],
            "neither Pass nor Fail",
        ),
        (
            "more ranks than a point-to-point test runs on",
            format!("{lat}1                       2.46\n"),
            &["--ranks", "4"],
            "exactly 2 ranks",
        ),
        (
            "derived datatypes",
            "# OSU MPI Latency Test v7.5\n# Size       Avg Latency(us)     Transmit Size\n1  3.0  1\n"
                .into(),
            &[],
            "derived-datatype",
        ),
        (
            "point-to-point and collective tests in one file",
            format!("{lat}1   2.46\n# OSU MPI Allreduce Latency Test v7.3\n# Size  Avg Latency(us)\n4  3.0\n"),
            &[],
            "split the file",
        ),
    ];
    for (what, log, flags, expect) in cases {
        std::fs::write(d.join("bad.out"), &log).unwrap();
        let o = cb(d, &[&["import", "bad.out"], flags].concat());
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{what}: {}", text(&o));
        assert_eq!(err.trim_end().lines().count(), 1, "{what}: {err}");
        assert!(err.contains(expect), "{what}: {err}");
        assert!(!err.contains("panicked"), "{what}: {err}");
    }
    // --hosts belongs to point-to-point logs.
    let o = cb(
        d,
        &[
            "import",
            fixture("osu_allreduce-v5.6.2-64ranks.out")
                .to_str()
                .unwrap(),
            "--ranks",
            "64",
            "--hosts",
            "a,b",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--hosts"));
    let o = cb(
        d,
        &[
            "import",
            fixture("osu_latency-v5.6.2-handwritten.out")
                .to_str()
                .unwrap(),
            "--hosts",
            "a,b,c",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

/// An imported osu_latency record and a clusterbench p2p latency record of the same
/// size on the same host are the same measurement to `compare`.
#[cfg(feature = "mpi")]
#[test]
fn imported_osu_latency_matches_clusterbench_p2p_in_compare() {
    let dir = tempdir();
    let d = dir.path();
    let out = crate::mpi::mpirun(2, d)
        .args(["run", "--bench", "p2p", "-b", "1", "-e", "8", "-f", "2"])
        .args(["-n", "10", "-w", "2", "-q", "--output", "cb"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (cb_path, cb_doc) = only_document(&d.join("cb"));
    let host = p2p(&cb_doc.records[0]).3.to_string();
    import(
        d,
        "osu_latency-v5.6.2-handwritten.out",
        "osu.json",
        &["--hosts", &host],
    );
    let o = cb(
        d,
        &[
            "compare",
            cb_path.to_str().unwrap(),
            "osu.json",
            "--format",
            "json",
        ],
    );
    // The verdicts compare this machine with made-up figures: only the matching counts.
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut matched: Vec<String> = report["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["label"].as_str().unwrap().to_string())
        .collect();
    matched.sort();
    let mut expect: Vec<String> = ["1 B", "2 B", "4 B", "8 B"]
        .iter()
        .map(|s| format!("p2p {s} from=0 {host} latency to=1 {host} window=1 2r/1n"))
        .collect();
    expect.sort();
    assert_eq!(matched, expect, "{}", text(&o));
    // clusterbench's bandwidth and bidir records have no osu_latency counterpart.
    assert_eq!(report["only_in_baseline"].as_array().unwrap().len(), 8);
}
