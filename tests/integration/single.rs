//! One process, no launcher.

use crate::common::*;
use clusterbench::core::DType;
use clusterbench::results::{Params, RunStatus};

#[test]
fn every_benchmark_runs_checks_and_writes_results() {
    let dir = tempdir();
    let out = dir.path().join("results");
    clusterbench(dir.path())
        .args([
            "run",
            "--bench",
            "allreduce,membw,matmul",
            "-b",
            "8",
            "-e",
            "4K",
            "-f",
            "8",
            "-n",
            "3",
            "-w",
            "1",
        ])
        .args([
            "--array-size",
            "2M",
            "--sizes",
            "64,96",
            "--shapes",
            "tall:128x32x200",
            "-d",
            "float,double",
        ])
        .arg("--output")
        .arg(&out)
        .assert()
        .success();
    let (path, doc) = only_document(&out);
    // Readable by all, like the .jsonl stream beside it.
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644, "{}", path.display());
    }
    assert_all_checked_and_passed(&doc);
    assert_eq!(doc.run.status, RunStatus::Completed);
    assert_eq!(doc.run.backend, "cpu");
    assert_eq!(doc.environment.ranks.len(), 1);
    assert_eq!(doc.environment.hosts.len(), 1);
    assert!(doc.environment.hosts[0].threads >= 1);

    let count = |b: &str| doc.records.iter().filter(|r| r.benchmark == b).count();
    // 8, 64, 512, 4096 bytes x 2 dtypes, out-of-place only (a local copy on one rank).
    assert_eq!(count("allreduce"), 4 * 2);
    // Every kernel but dot also with streaming stores, where they are offered.
    let membw_kernels = if cfg!(target_arch = "x86_64") { 9 } else { 5 };
    assert_eq!(count("membw"), membw_kernels);
    assert_eq!(count("matmul"), 3 * 2);
    for r in &doc.records {
        assert_eq!(r.samples_s.len(), 3);
        assert_eq!((r.ranks, r.nodes), (1, 1));
        if let Params::Collective {
            dtype,
            count,
            bytes,
            ..
        } = r.params
        {
            assert_eq!(bytes, count * dtype.size() as u64);
            // One rank: nothing crosses a link, busbw = algbw x 2(n-1)/n = 0.
            assert!(r.metric("algbw").unwrap().value > 0.0);
            assert_eq!(r.metric("busbw").unwrap().value, 0.0);
        }
        if let Params::Stream {
            ref kernel,
            elements,
            bytes_moved,
            ..
        } = r.params
        {
            let arrays = if ["add", "triad", "add_nt", "triad_nt"].contains(&kernel.as_str()) {
                3
            } else {
                2
            };
            assert_eq!(bytes_moved, arrays * 8 * elements);
            assert_eq!(elements, (2 << 20) / 8);
        }
        if let Params::Matmul {
            dtype,
            m,
            n,
            k,
            ref engine,
            ..
        } = r.params
        {
            assert!(matches!(dtype, DType::Float | DType::Double));
            let engine = engine.as_deref().unwrap_or_default();
            assert!(
                engine.starts_with("gemm 0.") || engine.starts_with("openblas "),
                "engine {engine:?}"
            );
            let tflops = 2.0 * (m * n * k) as f64 / r.time_s.median / 1e12;
            assert!((r.metric("tflops").unwrap().value - tflops).abs() <= 1e-9 * tflops);
        }
    }

    // The stream holds the header, every record in order, and the footer.
    let lines = stream_lines(&path);
    assert_eq!(lines.first().unwrap()["type"], "header");
    assert_eq!(lines.last().unwrap()["type"], "footer");
    assert_eq!(lines.last().unwrap()["status"], "completed");
    assert_eq!(lines.len(), doc.records.len() + 2);
    assert_matches_schema(&path);
}

#[test]
fn table_is_printed_for_each_benchmark() {
    let dir = tempdir();
    let output = clusterbench(dir.path())
        .args(run_allreduce("1K", "1K"))
        .args(["-n", "2", "-w", "0", "--output", "r"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains("# allreduce (cpu, 1 rank(s), 1 node(s))"),
        "{stdout}"
    );
    assert!(stdout.contains("algbw"), "{stdout}");
    let rows: Vec<&str> = stdout.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(rows.len(), 1, "one local copy row: {stdout}");
    assert!(rows[0].contains(" local "), "{stdout}");
    assert!(
        rows[0].split_whitespace().next() == Some("1024"),
        "{stdout}"
    );
}

#[test]
fn checks_can_be_turned_off() {
    let dir = tempdir();
    clusterbench(dir.path())
        .args(run_allreduce("64", "64"))
        .args(["-n", "2", "-c", "0", "-q", "--output", "r"])
        .assert()
        .success();
    let (_, doc) = only_document(&dir.path().join("r"));
    assert!(doc
        .records
        .iter()
        .all(|r| !r.check.performed && r.check.checked == 0));
}

#[test]
fn corrupted_input_is_reported_with_exit_1_and_results_kept() {
    let dir = tempdir();
    let assert = clusterbench(dir.path())
        .args(run_allreduce("64", "256"))
        .args(["-f", "4", "-n", "2", "-q", "--output", "r"])
        .args(["--debug-corrupt-rank", "0"])
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(
        stderr.contains("failed their correctness check"),
        "{stderr}"
    );
    let (_, doc) = only_document(&dir.path().join("r"));
    assert_eq!(doc.run.status, RunStatus::CheckFailed);
    assert!(doc
        .records
        .iter()
        .all(|r| r.check.performed && !r.check.passed && r.check.wrong == 1));
}

#[test]
fn auto_backend_falls_back_to_cpu_and_says_so() {
    let dir = tempdir();
    clusterbench(dir.path())
        .env("LD_LIBRARY_PATH", "/nonexistent")
        .args(run_allreduce("8", "8"))
        .args(["-n", "1", "-q", "--output", "r"])
        .assert()
        .success();
    let (_, doc) = only_document(&dir.path().join("r"));
    assert_eq!(doc.run.backend, "cpu");
    if clusterbench::backend::cuda::open().is_err() {
        let note = doc.run.backend_note.expect("the fall-back is recorded");
        assert!(!note.is_empty() && !note.contains("searched"), "{note}");
    }
}

#[test]
fn env_list_and_schema_commands() {
    let dir = tempdir();
    let out = clusterbench(dir.path()).arg("env").output().unwrap();
    assert!(out.status.success());
    let env: clusterbench::results::Environment =
        serde_json::from_slice(&out.stdout).expect("env prints the fingerprint");
    assert_eq!(env.ranks.len(), 1);
    assert!(!env.hosts[0].hostname.is_empty());

    let out = clusterbench(dir.path()).arg("list").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for name in ["allreduce", "membw", "matmul", "quick", "standard"] {
        assert!(text.contains(name), "{text}");
    }
}
