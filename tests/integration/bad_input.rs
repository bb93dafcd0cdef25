//! Bad input: one clear line on stderr and exit code 2, never a panic.

use crate::common::*;

pub(crate) fn expect_usage_error(args: &[&str], needle: &str) {
    let dir = tempdir();
    let out = clusterbench(dir.path()).args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{args:?} gave {:?}: {stderr}",
        out.status
    );
    assert!(
        stderr.contains(needle),
        "{args:?}: expected '{needle}' in: {stderr}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{stderr}"
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(
        !dir.path().join("clusterbench-results").exists(),
        "nothing written for bad input"
    );
}

#[test]
fn inverted_sizes() {
    expect_usage_error(
        &["run", "--bench", "allreduce", "-b", "1G", "-e", "1K"],
        "larger than maxbytes",
    );
}

#[test]
fn malformed_sizes() {
    expect_usage_error(
        &["run", "--bench", "allreduce", "-b", "12Q"],
        "invalid size '12Q'",
    );
    expect_usage_error(
        &["run", "--bench", "allreduce", "-e", "1.5M"],
        "invalid size '1.5M'",
    );
    expect_usage_error(
        &["run", "--bench", "membw", "--array-size", "lots"],
        "invalid size 'lots'",
    );
}

#[test]
fn bad_step_factor_and_check_flag() {
    expect_usage_error(&["run", "--bench", "allreduce", "-f", "1"], "stepfactor");
    expect_usage_error(
        &["run", "--bench", "allreduce", "-c", "3"],
        "-c/--check takes 0 or 1",
    );
    expect_usage_error(&["run", "--bench", "allreduce", "-n", "0"], "iterations");
}

#[test]
fn unknown_benchmark_datatype_op_and_suite() {
    expect_usage_error(
        &["run", "--bench", "allgatherz"],
        "unknown benchmark 'allgatherz'",
    );
    expect_usage_error(
        &["run", "--bench", "allreduce", "-d", "half"],
        "unknown datatype 'half'",
    );
    expect_usage_error(
        &["run", "--bench", "allreduce", "-o", "avg"],
        "unknown op 'avg'",
    );
    expect_usage_error(&["run", "--suite", "nightly"], "unknown suite 'nightly'");
}

#[test]
fn op_that_a_datatype_cannot_do() {
    expect_usage_error(
        &["run", "--bench", "allreduce", "-d", "float", "-o", "band"],
        "op band is not defined for datatype float",
    );
    expect_usage_error(
        &["run", "--bench", "matmul", "-d", "int32"],
        "matmul does not support datatype int32",
    );
}

#[test]
fn flags_that_no_chosen_benchmark_takes() {
    expect_usage_error(
        &["run", "--bench", "matmul", "-b", "128"],
        "-b/-e/-f (message sizes) is for the collectives, p2p and links; the benchmarks to run (matmul) do not take it",
    );
    expect_usage_error(
        &["run", "--bench", "membw,broadcast", "-o", "max"],
        "the benchmarks to run (membw, broadcast) do not take it",
    );
    expect_usage_error(
        &["run", "--bench", "allreduce", "--sizes", "256"],
        "--sizes/--shapes/--search is for matmul",
    );
    expect_usage_error(
        &["run", "--bench", "matmul", "--array-size", "64M"],
        "--array-size is for membw",
    );
}

#[test]
fn bad_matmul_shapes() {
    expect_usage_error(
        &["run", "--bench", "matmul", "--shapes", "12x12"],
        "invalid matmul shape",
    );
    expect_usage_error(
        &["run", "--bench", "matmul", "--sizes", "0"],
        "invalid matmul size",
    );
}

#[test]
fn unreadable_and_invalid_suite_files() {
    expect_usage_error(
        &["run", "--suite", "/nonexistent/suite.toml"],
        "cannot read suite file",
    );

    let dir = tempdir();
    let broken = dir.path().join("broken.toml");
    std::fs::write(
        &broken,
        "description = \"x\"\n[[bench]]\nname = \"allreduce\"\niters = \"many\"\n",
    )
    .unwrap();
    expect_usage_error(
        &["run", "--suite", broken.to_str().unwrap()],
        "invalid suite",
    );

    let unknown_key = dir.path().join("typo.toml");
    std::fs::write(
        &unknown_key,
        "description = \"x\"\n[[bench]]\nname = \"allreduce\"\nmaxbyte = \"1M\"\n",
    )
    .unwrap();
    expect_usage_error(
        &["run", "--suite", unknown_key.to_str().unwrap()],
        "unknown field `maxbyte`",
    );

    let unknown_bench = dir.path().join("bench.toml");
    std::fs::write(
        &unknown_bench,
        "description = \"x\"\n[[bench]]\nname = \"hpl\"\n",
    )
    .unwrap();
    expect_usage_error(
        &["run", "--suite", unknown_bench.to_str().unwrap()],
        "unknown benchmark 'hpl'",
    );

    let bad_syntax = dir.path().join("syntax.toml");
    std::fs::write(&bad_syntax, "description = \n").unwrap();
    expect_usage_error(
        &["run", "--suite", bad_syntax.to_str().unwrap()],
        "invalid suite",
    );
}

#[test]
fn cuda_backend_without_a_gpu() {
    if clusterbench::backend::cuda::open().is_ok() {
        eprintln!("skipped: this machine has a usable CUDA device");
        return;
    }
    expect_usage_error(
        &["run", "--bench", "allreduce", "--backend", "cuda"],
        "--backend cuda:",
    );
}

#[test]
fn unwritable_output_directory() {
    expect_usage_error(
        &[
            "run",
            "--bench",
            "allreduce",
            "-b",
            "8",
            "-e",
            "8",
            "--output",
            "/proc/no-such-dir/results",
        ],
        "cannot create output directory",
    );
}

#[test]
fn bad_watchdog_and_peer_flags() {
    expect_usage_error(&["run", "--bench", "p2p", "--timeout=-1"], "--timeout");
    expect_usage_error(&["run", "--bench", "p2p", "--peers", "3"], "--peers");
    expect_usage_error(&["run", "--bench", "p2p", "--peers", "1,1"], "--peers");
    expect_usage_error(&["links", "--window", "0"], "--window");
}

/// Refused before anything runs: one line, exit 2, nothing written; without
/// `--peers` the message does not blame it.
#[test]
fn p2p_and_links_need_two_ranks() {
    for (args, needle) in [
        (
            &["run", "--bench", "p2p", "-q"][..],
            "clusterbench: error: p2p needs at least 2 ranks and this job has 1: start it with mpirun -np 2 (or more)",
        ),
        (
            &["run", "--bench", "p2p", "--peers", "0,5"][..],
            "clusterbench: error: p2p needs at least 2 ranks and this job has 1",
        ),
        (
            &["links", "-q"][..],
            "clusterbench: error: links needs at least 2 ranks (one per node, or several on one node for the rank x rank matrix) and this job has 1",
        ),
    ] {
        expect_usage_error(args, needle);
        let dir = tempdir();
        let out = clusterbench(dir.path()).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with(needle), "{args:?}: {stderr}");
        if !args.contains(&"--peers") {
            assert!(!stderr.contains("--peers"), "{stderr}");
        }
    }
}
