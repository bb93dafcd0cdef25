//! nccl-tests logs as people post them: real logs under `tests/fixtures/` (sources in
//! its README), spot-checked against their text, and the launcher prefixes, interleaved
//! NCCL diagnostics and concatenated runs around them.

use crate::common::{clusterbench, tempdir};
use clusterbench::results::files::read_document;
use clusterbench::results::{Params, Record, RunDocument};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Imports `file` with `extra` flags and reads the document back.
fn import(file: &Path, extra: &[&str]) -> RunDocument {
    let dir = tempdir();
    let out = dir.path().join("imported.json");
    let mut args = vec![
        "import".to_string(),
        file.to_str().unwrap().to_string(),
        "-o".to_string(),
        out.to_str().unwrap().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let o = clusterbench(dir.path()).args(&args).output().unwrap();
    assert!(
        o.status.success(),
        "import of {} failed: {}",
        file.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    read_document(&out).unwrap()
}

/// Imports inline text (hand-written here, to exercise one layout).
fn import_text(text: &str, extra: &[&str]) -> Result<RunDocument, String> {
    let dir = tempdir();
    let log = dir.path().join("log.txt");
    std::fs::write(&log, text).unwrap();
    let out = dir.path().join("imported.json");
    let mut args = vec!["import", log.to_str().unwrap(), "-o", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = clusterbench(dir.path()).args(&args).output().unwrap();
    if o.status.success() {
        Ok(read_document(&out).unwrap())
    } else {
        assert_eq!(o.status.code(), Some(2), "bad input must exit 2");
        Err(String::from_utf8_lossy(&o.stderr).into_owned())
    }
}

fn row<'a>(doc: &'a RunDocument, benchmark: &str, bytes: u64, in_place: bool) -> &'a Record {
    let found: Vec<&Record> = doc
        .records
        .iter()
        .filter(|r| {
            r.benchmark == benchmark
                && matches!(r.params, Params::Collective { bytes: b, in_place: i, .. } if b == bytes && i == in_place)
        })
        .collect();
    assert_eq!(found.len(), 1, "{benchmark} {bytes} B in_place={in_place}");
    found[0]
}

/// One row as the log prints it: time in microseconds, busbw in GB/s.
fn assert_row(
    doc: &RunDocument,
    benchmark: &str,
    bytes: u64,
    in_place: bool,
    time_us: f64,
    busbw: f64,
) {
    let r = row(doc, benchmark, bytes, in_place);
    assert!(
        (r.time_s.median - time_us * 1e-6).abs() < 1e-12,
        "{benchmark} {bytes}: time {} s, log says {time_us} us",
        r.time_s.median
    );
    assert_eq!(
        r.metric("busbw").unwrap().value,
        busbw,
        "{benchmark} {bytes}"
    );
}

fn gpu_models(doc: &RunDocument) -> Vec<(String, String)> {
    doc.environment
        .hosts
        .iter()
        .flat_map(|h| h.gpus.iter().map(|g| (h.hostname.clone(), g.name.clone())))
        .collect()
}

#[test]
fn h100_two_node_log_spot_checks() {
    let doc = import(&fixture("nccl-tests-all_reduce_perf-a3mega-16gpu.log"), &[]);
    assert_eq!(doc.records.len(), 62);
    assert!(doc.records.iter().all(|r| (r.ranks, r.nodes) == (16, 2)));
    // "     4194304 ..." and the largest rows, read off the log.
    let last = doc.records.last().unwrap();
    let Params::Collective { bytes, .. } = last.params else {
        panic!("not a collective record")
    };
    assert_row(&doc, "allreduce", bytes, false, 47535.0, 338.82);
    let models = gpu_models(&doc);
    assert_eq!(models.len(), 16, "8 GPUs on each of 2 hosts: {models:?}");
    assert!(models.iter().all(|(_, m)| m == "NVIDIA H100 80GB HBM3"));
}

#[test]
fn t4_two_node_tagged_log_with_nccl_info_spot_checks() {
    let file = fixture("nccl-tests-all_reduce_perf-t4-2node-tagged-info.log");
    // The log names no collective: it is refused until the caller says which.
    let dir = tempdir();
    let o = clusterbench(dir.path())
        .args(["import", file.to_str().unwrap(), "-o", "x.json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--collective"));
    let doc = import(&file, &["--collective", "all_reduce_perf"]);
    // 31 rows (two of 0 bytes), out-of-place and in-place; NCCL INFO lines in between.
    assert_eq!(doc.records.len(), 62);
    assert!(doc.records.iter().all(|r| (r.ranks, r.nodes) == (2, 2)));
    assert_row(&doc, "allreduce", 262144, false, 195.0, 1.34);
    assert_row(&doc, "allreduce", 4194304, true, 1673.2, 2.51);
    assert_row(&doc, "allreduce", 1073741824, false, 344981.0, 3.11);
    assert_eq!(
        gpu_models(&doc),
        vec![
            ("test-nccl-efa-worker-0".to_string(), "Tesla T4".to_string()),
            ("test-nccl-efa-worker-1".to_string(), "Tesla T4".to_string()),
        ]
    );
}

#[test]
fn concatenated_runs_give_each_collective_its_own_records() {
    let doc = import(
        &fixture("nccl-tests-rtx5090-all_reduce-then-all_gather-tagged.log"),
        &[],
    );
    let count = |b: &str| doc.records.iter().filter(|r| r.benchmark == b).count();
    assert_eq!((count("allreduce"), count("allgather")), (16, 16));
    assert_eq!(doc.records.len(), 32);
    assert!(doc.records.iter().all(|r| (r.ranks, r.nodes) == (2, 1)));
    // Same sizes in both runs, different figures: each row went to its own collective.
    assert_row(&doc, "allreduce", 1048576, false, 6665.40, 0.16);
    assert_row(&doc, "allreduce", 67108864, true, 28962.8, 2.32);
    assert_row(&doc, "allreduce", 134217728, false, 59351.9, 2.26);
    assert_row(&doc, "allgather", 1048576, false, 2191.72, 0.24);
    assert_row(&doc, "allgather", 8388608, true, 2355.03, 1.78);
    assert_row(&doc, "allgather", 134217728, false, 29185.2, 2.30);
    let Params::Collective { count: c, .. } = row(&doc, "allgather", 1048576, false).params else {
        panic!("not a collective record")
    };
    assert_eq!(c, 131072, "count as the log prints it");
    assert_eq!(
        gpu_models(&doc),
        vec![("lab".to_string(), "NVIDIA GeForce RTX 5090".to_string())]
    );
}

const HEADER: &str = "#       size         count      type   redop    root     time   algbw   busbw #wrong     time   algbw   busbw #wrong";

/// What a launcher puts before line `i`.
type Prefix = fn(usize) -> String;

#[test]
fn launcher_prefixes_are_read() {
    let devices = [
        "# nThread 1 nGpus 1 minBytes 8 maxBytes 16 step: 2(factor) warmup iters: 5 iters: 20 agg iters: 1 validation: 1 graph: 0",
        "# Using devices",
        "#  Rank  0 Group  0 Pid   11 on nodea device  0 [0x07] NVIDIA A100-SXM4-80GB",
        "#  Rank  1 Group  0 Pid   12 on nodeb device  0 [0x07] NVIDIA A100-SXM4-80GB",
        HEADER,
        "           8             2     float     sum      -1    10.50    0.00    0.00      0    10.40    0.00    0.00      0",
        "node-a:21:21 [0] NCCL WARN something the table does not care about",
        "          16             4     float     sum      -1    11.50    0.00    0.00    N/A    11.40    0.00    0.00    N/A",
    ];
    let prefixes: [(&str, Prefix); 4] = [
        ("srun -l", |_| "0: ".to_string()),
        ("pdsh", |_| "nodea: ".to_string()),
        ("timestamp", |i| format!("[2024-05-01 10:00:{i:02}] ")),
        ("timestamped tag-output", |i| {
            format!("Wed May  1 10:00:{i:02} 2024[1,0]<stdout>:")
        }),
    ];
    for (name, prefix) in prefixes {
        let mut text = String::from("srun ./build/all_reduce_perf -b 8 -e 16\n");
        for (i, line) in devices.iter().enumerate() {
            text.push_str(&format!("{}{line}\n", prefix(i)));
        }
        let doc = import_text(&text, &[]).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(doc.records.len(), 4, "{name}");
        assert!(
            doc.records
                .iter()
                .all(|r| r.benchmark == "allreduce" && r.ranks == 2 && r.nodes == 2),
            "{name}"
        );
        assert_row(&doc, "allreduce", 8, false, 10.5, 0.0);
        // N/A in #wrong: the row imports, unchecked.
        let r = row(&doc, "allreduce", 16, true);
        assert!(!r.check.performed, "{name}");
        assert_eq!(gpu_models(&doc).len(), 2, "{name}");
    }
}

#[test]
fn single_process_g8_run_takes_its_ranks_from_the_device_list() {
    let mut text = String::from("# nThread 1 nGpus 8 minBytes 8 maxBytes 8 step: 2(factor) warmup iters: 5 iters: 20 agg iters: 1 validation: 1 graph: 0\n#\n# Using devices\n");
    for d in 0..8 {
        text.push_str(&format!(
            "#  Rank  {d} Group  0 Pid  28307 on      gpu59 device  {d} [0x16] Tesla V100-SXM2-32GB\n"
        ));
    }
    text.push_str("#\n#       size         count      type   redop    root     time   algbw   busbw #wrong     time   algbw   busbw #wrong\n");
    text.push_str("     1048576        262144     float    none      -1    20.00   52.43   45.88      0    20.00   52.43   45.88      0\n");
    text.push_str("# Collective test concluded: sendrecv_perf\n");
    let doc = import_text(&text, &[]).unwrap();
    assert!(doc
        .records
        .iter()
        .all(|r| r.benchmark == "sendrecv" && (r.ranks, r.nodes) == (8, 1)));
    assert_eq!(gpu_models(&doc).len(), 8);
}

#[test]
fn old_format_without_redop_root_and_hash_marks_imports() {
    // The layout of logs from early nccl-tests versions as pasted where '#' lines were
    // lost: no Group, no root column, and a max-error column instead of #wrong.
    let text = "mpirun -np 2 all_reduce_perf -b 32 -e 64\n nThread 1 nGpus 1 minBytes 32 maxBytes 64 step: 2(factor) warmup iters: 5 iters: 20 validation: 1\n\n Using devices\n   Rank  0 Pid 1821213 on hosta device  0 [0x00] NVIDIA A100-SXM4-40GB\n   Rank  1 Pid 1821214 on hosta device  1 [0x00] NVIDIA A100-SXM4-40GB\n\n       size         count    type   redop     time   algbw   busbw  error     time   algbw   busbw  error\n        (B)    (elements)                     (us)  (GB/s)  (GB/s)            (us)  (GB/s)  (GB/s)\n          32             8   float     sum    12.00    0.00    0.00  0e+00    11.00    0.00    0.00  0e+00\n          64            16   float     sum    13.00    0.00    0.00  0e+00    12.50    0.01    0.01  0e+00\n";
    let doc = import_text(text, &[]).unwrap();
    assert_eq!(doc.records.len(), 4);
    assert!(doc.records.iter().all(|r| (r.ranks, r.nodes) == (2, 1)));
    assert_row(&doc, "allreduce", 64, true, 12.5, 0.01);
}

#[test]
fn a_header_that_changes_mid_file_never_inherits_the_previous_name() {
    let text = format!(
        "# Collective test starting: all_gather_perf\n# nThread 1 nGpus 1 minBytes 8 maxBytes 8 step: 2(factor) warmup iters: 5 iters: 20 agg iters: 1 validation: 1 graph: 0\n#  Rank  0 Group  0 Pid 1 on h device  0 [0x07] NVIDIA H100 80GB HBM3\n#  Rank  1 Group  0 Pid 2 on h device  1 [0x08] NVIDIA H100 80GB HBM3\n{HEADER}\n           8             1     float    none      -1    10.00    0.00    0.00      0    10.00    0.00    0.00      0\n#       size         count      type   redop     time   algbw   busbw #wrong     time   algbw   busbw #wrong\n           8             2     float     sum    12.00    0.00    0.00      0    12.00    0.00    0.00      0\n"
    );
    let err = import_text(&text, &[]).unwrap_err();
    assert!(
        err.contains("line 7") && err.contains("--collective"),
        "{err}"
    );
}

#[test]
fn a100_single_process_g8_log_spot_checks() {
    let doc = import(
        &fixture("nccl-tests-all_reduce_perf-a100-40gb-g8-oci.log"),
        &[],
    );
    // 28 sizes; one process drives 8 GPUs, and the device list says so.
    assert_eq!(doc.records.len(), 56);
    assert!(doc
        .records
        .iter()
        .all(|r| r.benchmark == "allreduce" && (r.ranks, r.nodes) == (8, 1)));
    assert_row(&doc, "allreduce", 64, false, 32.01, 0.00);
    assert_row(&doc, "allreduce", 4194304, true, 134.7, 54.48);
    assert_row(&doc, "allreduce", 8589934592, false, 63929.0, 235.14);
    let models = gpu_models(&doc);
    assert_eq!(models.len(), 8);
    assert!(models
        .iter()
        .all(|(h, m)| h == "inst-ks8ls-comp" && m == "NVIDIA A100-SXM4-40GB"));
}

/// The GPU model a log names picks the GPU's claims file without --claims.
#[test]
fn validate_picks_the_claims_of_the_gpu_the_log_names() {
    let dir = tempdir();
    let log = fixture("nccl-tests-all_reduce_perf-a100-40gb-g8-oci.log");
    let o = clusterbench(dir.path())
        .args(["import", log.to_str().unwrap(), "-o", "a100.json"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let v = clusterbench(dir.path())
        .args(["validate", "a100.json", "--format", "markdown"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&v.stdout);
    assert!(
        out.contains("NVIDIA A100"),
        "{out}{}",
        String::from_utf8_lossy(&v.stderr)
    );
}

#[test]
fn a10g_one_rank_tagged_log_with_nccl_info_spot_checks() {
    let doc = import(
        &fixture("nccl-tests-all_reduce_perf-a10g-1rank-tagged-info.log"),
        &["--collective", "all_reduce_perf"],
    );
    // 32 rows (two of 0 bytes), more than 80 NCCL INFO lines before them.
    assert_eq!(doc.records.len(), 64);
    assert!(doc.records.iter().all(|r| (r.ranks, r.nodes) == (1, 1)));
    assert_row(&doc, "allreduce", 1048576, false, 6.48, 0.00);
    assert_row(&doc, "allreduce", 4194304, true, 0.12, 0.00);
    assert_row(&doc, "allreduce", 2147483648, false, 8741.9, 0.00);
    let r = row(&doc, "allreduce", 2147483648, false);
    assert_eq!(r.metric("algbw").unwrap().value, 245.65);
    assert_eq!(
        gpu_models(&doc),
        vec![("test-nccl-worker-0".to_string(), "NVIDIA A10G".to_string())]
    );
}

/// The log of the reported mislabelling: all_gather_perf then all_reduce_perf, once
/// imported as 124 `allgather` records on 24 ranks.
#[test]
fn old_v100_g12_all_gather_then_all_reduce_spot_checks() {
    let doc = import(
        &fixture("nccl-tests-old-v100-g12-all_gather-then-all_reduce.log"),
        &[],
    );
    let count = |b: &str| doc.records.iter().filter(|r| r.benchmark == b).count();
    assert_eq!((count("allgather"), count("allreduce")), (62, 62));
    assert!(doc.records.iter().all(|r| (r.ranks, r.nodes) == (12, 1)));
    // No redop column for all_gather in this version, a max-error column instead of #wrong.
    assert_row(&doc, "allgather", 48, false, 57.46, 0.00);
    assert_row(&doc, "allgather", 67108848, true, 595.5, 103.30);
    assert_row(&doc, "allgather", 8589934560, false, 106773.0, 73.75);
    assert_row(&doc, "allreduce", 8, true, 61.04, 0.00);
    assert_row(&doc, "allreduce", 33554432, false, 565.7, 108.75);
    assert_row(&doc, "allreduce", 8589934592, true, 127443.0, 123.57);
    assert!(doc.records.iter().all(|r| !r.check.performed));
    let gathers = doc.records.iter().filter(|r| r.benchmark == "allgather");
    assert!(gathers
        .into_iter()
        .all(|r| matches!(r.params, Params::Collective { op: None, .. })));
    assert_eq!(gpu_models(&doc).len(), 12);
}

#[test]
fn old_t4_three_node_srun_log_with_na_errors_spot_checks() {
    let doc = import(&fixture("nccl-tests-old-t4-3node-srun-na.log"), &[]);
    assert_eq!(doc.records.len(), 22);
    assert!(doc
        .records
        .iter()
        .all(|r| r.benchmark == "allreduce" && (r.ranks, r.nodes) == (3, 3)));
    assert_row(&doc, "allreduce", 104857600, false, 202872.0, 0.69);
    assert_row(&doc, "allreduce", 108003328, true, 193760.0, 0.74);
    assert_row(&doc, "allreduce", 115343360, false, 305408.0, 0.50);
    assert!(doc.records.iter().all(|r| !r.check.performed));
    assert_eq!(gpu_models(&doc).len(), 3);
}

/// The same run twice in one file (a job that ran the test twice) gives two documents,
/// so compare pairs every row of each; rows repeated inside one run stay together.
#[test]
fn a_log_holding_the_same_run_twice_becomes_two_documents() {
    let dir = tempdir();
    let once = std::fs::read_to_string(fixture(
        "nccl-tests-all_reduce_perf-t4-2node-tagged-info.log",
    ))
    .unwrap();
    std::fs::write(dir.path().join("twice.log"), format!("{once}{once}")).unwrap();
    let o = clusterbench(dir.path())
        .args([
            "import",
            "twice.log",
            "--collective",
            "all_reduce_perf",
            "-o",
            "t.json",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("run 2 of 2 in the file"), "{err}");
    let first = read_document(&dir.path().join("t.json")).unwrap();
    let second = read_document(&dir.path().join("t-run2.json")).unwrap();
    // 31 rows each, two of them 0-byte rows of equal key, all kept in their run.
    assert_eq!((first.records.len(), second.records.len()), (62, 62));
    assert!(!dir.path().join("t-run3.json").exists());
    let c = clusterbench(dir.path())
        .args(["compare", "t.json", "t-run2.json"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&c.stdout);
    assert!(
        out.contains("compared") && !out.contains("only in"),
        "{out}"
    );
}
