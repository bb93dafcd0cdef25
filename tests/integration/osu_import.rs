//! OSU logs as people post them: every collective latency test by its title, NCCL
//! tests, several tests in one file, launcher prefixes and commands, MPI-CUDA logs
//! without their buffer placement; spot-checked against real logs.

use crate::common::*;
use crate::decisions::{cb, fixture, text};
use clusterbench::results::files::read_document;
use clusterbench::results::{Params, Record, RunDocument};
use std::path::Path;

fn import_file(dir: &Path, log: &Path, out: &str, extra: &[&str]) -> RunDocument {
    let o = cb(
        dir,
        &[&["import", log.to_str().unwrap(), "-o", out], extra].concat(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_matches_schema(&dir.join(out));
    read_document(&dir.join(out)).unwrap()
}

/// Every document an import wrote: the file asked for, then `NAME-runK.json` for each
/// further run of a log that repeats a test.
fn import_parts(dir: &Path, log: &Path, out: &str, extra: &[&str]) -> Vec<RunDocument> {
    let mut parts = vec![import_file(dir, log, out, extra)];
    let stem = out.trim_end_matches(".json");
    for n in 2.. {
        let path = dir.join(format!("{stem}-run{n}.json"));
        if !path.exists() {
            break;
        }
        assert_matches_schema(&path);
        parts.push(read_document(&path).unwrap());
    }
    parts
}

/// The records of all of an import's documents, in file order.
fn all_records(parts: &[RunDocument]) -> Vec<Record> {
    parts.iter().flat_map(|p| p.records.clone()).collect()
}

fn import_text(dir: &Path, log: &str, extra: &[&str]) -> RunDocument {
    std::fs::write(dir.join("log.out"), log).unwrap();
    import_file(dir, &dir.join("log.out"), "out.json", extra)
}

fn bytes(r: &Record) -> u64 {
    match &r.params {
        Params::Collective { bytes, .. } | Params::PointToPoint { bytes, .. } => *bytes,
        other => panic!("{other:?}"),
    }
}

/// How many of OSU's printed blocks make nccl-tests' size.
fn blocks(benchmark: &str, ranks: u32) -> u64 {
    match benchmark {
        "alltoall" | "alltoallw" | "alltoallv" | "allgather" | "allgatherv" | "gather"
        | "gatherv" | "scatter" | "scatterv" => u64::from(ranks),
        _ => 1,
    }
}

fn count(r: &Record) -> u64 {
    match &r.params {
        Params::Collective { count, .. } => *count,
        other => panic!("{other:?}"),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1e-12)
}

fn note(doc: &RunDocument) -> String {
    doc.run.backend_note.clone().unwrap_or_default()
}

type Spot = (usize, u64, f64, Option<f64>, Option<f64>);
/// Fixture, flags, records, benchmark, backend, ranks, three rows.
type CollectiveCase = (
    &'static str,
    &'static [&'static str],
    usize,
    &'static str,
    &'static str,
    u32,
    [Spot; 3],
);

/// Each real log, with what its records must be, and three of its rows copied by
/// hand from the file: (record index, bytes, average µs, min µs, max µs).
#[test]
fn real_osu_collective_logs_import_row_for_row() {
    let dir = tempdir();
    let d = dir.path();
    let cases: [CollectiveCase; 5] = [
        (
            "osu_alltoall-v5.6.2-impi.out",
            &["--ranks", "64"],
            21,
            "alltoall",
            "cpu",
            64,
            [
                (0, 1, 43.84, None, None),
                (10, 1024, 331.57, None, None),
                (20, 1048576, 221031.92, None, None),
            ],
        ),
        (
            "osu_allgather-v5.6.2-impi.out",
            &["--ranks", "64"],
            21,
            "allgather",
            "cpu",
            64,
            [
                (0, 1, 18.19, None, None),
                (7, 128, 38.36, None, None),
                (20, 1048576, 196016.56, None, None),
            ],
        ),
        (
            "osu_alltoall-v5.6.2-ucx-noise-head.out",
            &["--ranks", "4"],
            13,
            "alltoall",
            "cpu",
            4,
            [
                (0, 2, 74.23, Some(47.27), Some(118.85)),
                (5, 64, 40.90, Some(37.10), Some(44.83)),
                (12, 8192, 56.93, Some(31.17), Some(77.05)),
            ],
        ),
        (
            // Two runs, 13 and 8 rows; ranks from the mpirun lines.
            "osu_alltoallw-v7.0-two-runs-head.out",
            &[],
            21,
            "alltoallw",
            "cpu",
            64,
            [
                (0, 1, 66.94, None, None),
                (12, 4096, 180.19, None, None),
                (20, 128, 78.33, None, None),
            ],
        ),
        (
            "osu_reduce-cuda-v7.3-192ranks-head.out",
            &[],
            11,
            "reduce",
            "cuda:unknown",
            192,
            [
                (0, 1, 53.34, Some(24.80), Some(158.96)),
                (6, 64, 53.17, Some(23.27), Some(131.36)),
                (10, 1024, 55.48, Some(24.05), Some(134.61)),
            ],
        ),
    ];
    for (k, (name, flags, n, benchmark, backend, ranks, spots)) in cases.into_iter().enumerate() {
        let parts = import_parts(d, &fixture(name), &format!("{k}.json"), flags);
        let records = all_records(&parts);
        assert_eq!(records.len(), n, "{name}");
        for r in &records {
            assert_eq!(r.benchmark, benchmark, "{name}");
            assert_eq!(r.backend, backend, "{name}");
            assert_eq!(r.ranks, ranks, "{name}");
        }
        for (i, b, avg, min, max) in spots {
            let r = &records[i];
            // OSU prints one rank's block for all-to-all and all-gather; the record
            // keeps nccl-tests' size (every rank's block) and count (one block).
            let b = b * blocks(benchmark, ranks);
            assert_eq!(bytes(r), b, "{name} row {i}");
            assert!(
                close(r.time_s.median, avg * 1e-6),
                "{name} row {i}: {:?}",
                r.time_s
            );
            if let (Some(lo), Some(hi)) = (min, max) {
                assert!(close(r.time_s.min, lo * 1e-6), "{name} row {i}");
                assert!(close(r.time_s.max, hi * 1e-6), "{name} row {i}");
            }
            let algbw = r.metric("algbw").unwrap().value;
            assert!(
                close(algbw, b as f64 / (avg * 1e-6) / 1e9),
                "{name} row {i}"
            );
        }
    }
}

#[test]
fn real_osu_gpu_bandwidth_logs_import_row_for_row() {
    let dir = tempdir();
    let d = dir.path();
    // (fixture, records, backend, three rows: index, bytes, MB/s)
    type Rows = [(usize, u64, f64); 3];
    let cases: [(&str, usize, &str, Rows); 2] = [
        (
            "osu_bw-cuda-v7.2-a100-nvlink.out",
            26,
            "cuda",
            [(0, 1, 1.01), (13, 8192, 525.73), (25, 33554432, 93130.52)],
        ),
        (
            // Two rank pairs one after the other, banners between them.
            "osu_bw-rocm-v7.5-two-pairs-head.out",
            35,
            "rocm:unknown",
            [(0, 1, 1.35), (27, 134217728, 139961.80), (34, 64, 92.36)],
        ),
    ];
    for (k, (name, n, backend, spots)) in cases.into_iter().enumerate() {
        let parts = import_parts(d, &fixture(name), &format!("{k}.json"), &[]);
        let records = all_records(&parts);
        assert_eq!(records.len(), n, "{name}");
        for r in &records {
            assert_eq!((r.benchmark.as_str(), r.ranks), ("p2p", 2), "{name}");
            assert_eq!(r.backend, backend, "{name}");
        }
        for (i, b, mbps) in spots {
            let r = &records[i];
            assert_eq!(bytes(r), b, "{name} row {i}");
            assert!(
                close(r.metric("bandwidth").unwrap().value, mbps / 1e3),
                "{name} row {i}"
            );
        }
    }
    let rocm = import_file(
        d,
        &fixture("osu_bw-rocm-v7.5-two-pairs-head.out"),
        "r.json",
        &[],
    );
    let n = note(&rocm);
    assert!(n.contains("buffers unknown"), "{n}");
    assert!(n.contains("test 2 of 2 from line 39: 7 rows"), "{n}");
    assert!(n.contains("does not say which pair"), "{n}");
    assert!(n.contains("tests 1 and 2 are both p2p bandwidth"), "{n}");
}

#[test]
fn a_log_that_repeats_a_test_becomes_one_document_per_run() {
    let dir = tempdir();
    let d = dir.path();
    // Two alltoallw runs of the same sizes: 13 rows, then 8.
    let log = fixture("osu_alltoallw-v7.0-two-runs-head.out");
    let parts = import_parts(d, &log, "w.json", &[]);
    let sizes: Vec<usize> = parts.iter().map(|p| p.records.len()).collect();
    assert_eq!(sizes, [13, 8]);
    for (k, part) in parts.iter().enumerate() {
        let n = note(part);
        assert!(n.contains("tests 1 and 2 are both alltoallw"), "{n}");
        assert!(
            n.contains(&format!("run {} of 2 in the file", k + 1)),
            "{n}"
        );
    }
    assert_ne!(parts[0].run.run_id, parts[1].run.run_id);
    // Each run is its own key set, so compare pairs every row of the second run too.
    let o = cb(d, &["compare", "w-run2.json", "w.json"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("8 compared"), "{out}");
    // Without -o the several documents have nowhere to go: one line, exit 2.
    let o = cb(d, &["import", log.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("repeats a test: 2 runs") && err.contains("-o FILE"),
        "{err}"
    );
    assert!(o.stdout.is_empty());
}

#[test]
fn every_collective_latency_title_is_read() {
    let dir = tempdir();
    let d = dir.path();
    for (title, benchmark, op) in [
        ("MPI All-to-All Personalized Exchange", "alltoall", false),
        ("MPI All-to-Allv Personalized Exchange", "alltoallv", false),
        ("MPI Allgather", "allgather", false),
        ("MPI Allgatherv", "allgatherv", false),
        ("MPI Broadcast", "broadcast", false),
        ("MPI Reduce", "reduce", true),
        ("MPI Reduce_scatter", "reducescatter", true),
        ("MPI Gather", "gather", false),
        ("MPI Gatherv", "gatherv", false),
        ("MPI Scatter", "scatter", false),
        ("MPI Scatterv", "scatterv", false),
        ("MPI Allreduce", "allreduce", true),
    ] {
        let log = format!(
            "# OSU {title} Latency Test v7.4\n# Datatype: MPI_CHAR.\n# Size       Avg Latency(us)\n1                       2.50\n1024                    7.25\n"
        );
        let doc = import_text(d, &log, &["--ranks", "8"]);
        assert_eq!(doc.records.len(), 2, "{title}");
        let r = &doc.records[1];
        assert_eq!(r.benchmark, benchmark, "{title}");
        assert_eq!(r.backend, "cpu", "{title}");
        // nccl-tests' columns: the gathers, scatters and all-to-alls print every
        // rank's block as the size and one block as the count.
        assert_eq!(bytes(r), 1024 * blocks(benchmark, 8), "{title}");
        let per_block = if benchmark == "reducescatter" { 8 } else { 1 };
        assert_eq!(count(r), 1024 / 4 / per_block, "{title}");
        assert!(close(r.time_s.median, 7.25e-6), "{title}");
        let Params::Collective { op: o, .. } = &r.params else {
            panic!()
        };
        assert_eq!(o.is_some(), op, "{title}");
        assert!(note(&doc).contains("MPI_CHAR"), "{title}");
    }
    // osu_barrier has no size column.
    let doc = import_text(
        d,
        "# OSU MPI Barrier Latency Test v7.4\n# Avg Latency(us)   Min Latency(us)   Max Latency(us)  Iterations\n             3.21              2.90              3.60        1000\n",
        &["--ranks", "16"],
    );
    assert_eq!(doc.records.len(), 1);
    assert_eq!(
        (doc.records[0].benchmark.as_str(), bytes(&doc.records[0])),
        ("barrier", 0)
    );
    assert!(close(doc.records[0].time_s.max, 3.60e-6));
}

#[test]
fn nccl_tests_of_osu_xccl_import_on_the_gpu() {
    let dir = tempdir();
    let d = dir.path();
    // Layout of osu_xccl_allreduce (title "OSU " OMB_XCCL_TYPE_STR "%s ... Test").
    let doc = import_text(
        d,
        "# OSU NCCL-CUDA Allreduce Latency Test v7.5\n# Datatype: MPI_FLOAT.\n# Size       Avg Latency(us)\n4                      21.50\n8                      21.75\n",
        &["--ranks", "8"],
    );
    assert_eq!(doc.records.len(), 2);
    assert_eq!(doc.records[0].benchmark, "allreduce");
    assert_eq!(doc.records[0].backend, "cuda");
    assert!(note(&doc).contains("NCCL"), "{}", note(&doc));
    let Params::Collective { dtype, count, .. } = &doc.records[1].params else {
        panic!()
    };
    assert_eq!((dtype.name(), *count), ("float", 2));
    let doc = import_text(
        d,
        "# OSU NCCL-CUDA Latency Test v7.5\n# Size          Latency (us)\n1                      18.00\n",
        &[],
    );
    assert_eq!(
        (
            doc.records[0].benchmark.as_str(),
            doc.records[0].backend.as_str()
        ),
        ("p2p", "cuda")
    );
}

/// The same real log under `mpirun --tag-output`, `--timestamp-output`, `srun -l` and
/// pdsh imports to the same records as without.
#[test]
fn launcher_prefixes_change_nothing() {
    let dir = tempdir();
    let d = dir.path();
    let plain = std::fs::read_to_string(fixture("osu_alltoall-v5.6.2-ucx-noise-head.out")).unwrap();
    let base = import_text(d, &plain, &["--ranks", "4"]);
    for prefix in [
        "[1,0]<stdout>:",
        "Mon Mar  4 10:00:00 2024[1,0]<stdout>:",
        "0: ",
        "node17: ",
    ] {
        let tagged: String = plain.lines().map(|l| format!("{prefix}{l}\n")).collect();
        let doc = import_text(d, &tagged, &["--ranks", "4"]);
        assert_eq!(doc.records.len(), base.records.len(), "{prefix}");
        for (a, b) in doc.records.iter().zip(&base.records) {
            assert_eq!(
                (bytes(a), a.time_s.median),
                (bytes(b), b.time_s.median),
                "{prefix}"
            );
        }
    }
}

#[test]
fn command_lines_give_ranks_and_iteration_counts() {
    let dir = tempdir();
    let d = dir.path();
    let log = "mpiexec  --np 384 --ppn 12 --cpu-bind verbose /x/osu_alltoallv -m 4096:4096 -i 1000 -x 100 -f\n\n# OSU MPI All-to-Allv Personalized Exchange Latency Test v7.5\n# Datatype: MPI_CHAR.\n# Size       Avg Latency(us)   Min Latency(us)   Max Latency(us)  Iterations\n4096                  467.38            460.43            474.05        1000\nSun 14 Sep 2025 04:55:38 PM UTC\n";
    let doc = import_text(d, log, &[]);
    assert_eq!(doc.records.len(), 1);
    assert_eq!(
        (doc.records[0].ranks, doc.records[0].benchmark.as_str()),
        (384, "alltoallv")
    );
    let n = note(&doc);
    assert!(n.contains("iterations 1000, warm-up 100"), "{n}");
    // --ranks wins over the command line.
    assert_eq!(import_text(d, log, &["--ranks", "12"]).records[0].ranks, 12);
}

#[test]
fn mpi_cuda_collectives_without_buffer_lines_say_so() {
    let dir = tempdir();
    let d = dir.path();
    let doc = import_file(
        d,
        &fixture("osu_reduce-cuda-v7.3-192ranks-head.out"),
        "o.json",
        &[],
    );
    let n = note(&doc);
    assert!(n.contains("buffers unknown"), "{n}");
    assert!(n.contains("cuda:unknown"), "{n}");
    // With the line, the placement decides.
    let doc = import_text(
        d,
        "# OSU MPI-CUDA Allreduce Latency Test v7.5\n# Send Buffer on DEVICE (D) and Receive Buffer on DEVICE (D)\n# Size       Avg Latency(us)\n4   30.00\n",
        &["--ranks", "2"],
    );
    assert_eq!(doc.records[0].backend, "cuda");
}

#[test]
fn bad_osu_logs_exit_2_with_one_clear_line() {
    let dir = tempdir();
    let d = dir.path();
    let reduce = "# OSU MPI Allreduce Latency Test v7.3\n# Size  Avg Latency(us)\n4  3.0\n";
    let cases: [(&str, String, &[&str], &str); 5] = [
        (
            "a test this import does not read",
            "# OSU MPI Non-blocking Allreduce Latency Test v7.3\n# Size  Overall(us)\n4 3.0\n"
                .into(),
            &["--ranks", "4"],
            "alltoall",
        ),
        (
            "tests on different rank counts",
            format!("mpirun -n 4 ./osu_allreduce\n{reduce}mpirun -n 8 ./osu_allreduce\n{reduce}"),
            &[],
            "different rank counts (4, 8)",
        ),
        (
            "tests on different backends",
            format!("{reduce}{}", reduce.replace("MPI ", "MPI-CUDA ")),
            &["--ranks", "4"],
            "one backend per import",
        ),
        (
            "a title and no column header",
            "# OSU MPI Broadcast Latency Test v7.3\n".into(),
            &["--ranks", "4"],
            "no '# Size ...' column header",
        ),
        ("no rank count", reduce.into(), &[], "--ranks"),
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
}
