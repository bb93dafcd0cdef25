//! What of the GPU validation (scripts/gpu_validate.sh) can be proven without a GPU:
//! `run --dry-run`, the script's dry run against the packaged bundle, its failure
//! without a GPU, and the formatting of its ratio table.

use crate::bundle::bundle;
use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_dry_run_prints_the_plan_and_measures_nothing() {
    let dir = tempdir();
    let out = clusterbench(dir.path())
        .args([
            "run",
            "--suite",
            "quick",
            "--dry-run",
            "--output",
            "results",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let plan = text(&out.stdout);
    let lines: Vec<&str> = plan.lines().collect();
    assert!(
        lines[0].starts_with("clusterbench run, dry run: backend auto, results to results;"),
        "{plan}"
    );
    let names: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split_whitespace().next().unwrap_or_default())
        .collect();
    assert_eq!(names, ["allreduce", "membw", "matmul"], "{plan}");
    assert!(
        !dir.path().join("results").exists(),
        "a dry run writes no results"
    );

    // The same checks as a run: a refused combination is refused, exit 2.
    let out = clusterbench(dir.path())
        .args(["run", "--dry-run", "--backend", "cpu", "-g", "2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(text(&out.stderr).contains("-g needs the CUDA backend"));

    let out = clusterbench(dir.path())
        .args(["links", "--dry-run", "-n", "3"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let plan = text(&out.stdout);
    assert!(
        plan.lines()
            .nth(1)
            .is_some_and(|l| l.trim_start().starts_with("links ") && l.contains("iters 3")),
        "{plan}"
    );
}

/// scripts/test.sh sets this when it installed the CUDA wheels (cuda-check needs them).
fn wheels_required() -> bool {
    std::env::var_os("CLUSTERBENCH_REQUIRE_CUDA_WHEELS").is_some_and(|v| v == "1")
}

fn validate(script: &Path, args: &[&str], dir: &Path) -> Output {
    Command::new("bash")
        .arg(script)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("bash runs")
}

#[test]
fn the_validation_dry_run_plans_every_gpu_path_and_the_bundle_starts() {
    let Some(bundle) = bundle() else { return };
    let script = bundle.join("scripts/gpu_validate.sh");
    let dir = tempdir();
    let out = validate(&script, &["--dry-run", "--gpus", "8", "eight"], dir.path());
    let log = text(&out.stdout);
    let last = log.lines().last().unwrap_or_default();
    if !out.status.success() && last.contains("cuda-check") && !wheels_required() {
        eprintln!("skipped: the CUDA wheels are not installed (scripts/setup.sh --gpu): {last}");
        return;
    }
    assert!(out.status.success(), "{log}\n{}", text(&out.stderr));
    assert_eq!(
        last,
        "gpu_validate: dry run passed: the bundle starts and every planned command is valid"
    );
    // The bundle started: its version, its benchmarks, its libraries and kernels.
    assert!(log.contains("   clusterbench 0."), "{log}");
    assert!(log.contains("   cuda-check: passed"), "{log}");
    for lib in ["nvrtc", "cublasLt", "cublas", "nccl"] {
        assert!(
            log.lines()
                .any(|l| l.contains(&format!(": {lib} ")) && l.contains("/lib")),
            "no location of {lib}:\n{log}"
        );
    }
    // Every GPU path is planned, and each run's flags passed the run's own checks.
    for wanted in [
        "== membw: ",
        "== gpumem: ",
        "-d float,double,tf32,bf16,fp16,fp8e4m3 --sizes 1024,8192",
        "--sizes 4096 --search",
        "== collectives-g8: ",
        "-d float,bf16,fp8e4m3,fp8e5m2",
        "-g 8 --dry-run",
        "backend cuda, 8 GPUs per process",
        "--cuda-graph 10",
        "backend cuda, CUDA graphs of 10 calls",
        "torch_side.py ops.json torch.json --gpus 8",
    ] {
        assert!(log.contains(wanted), "no '{wanted}' in:\n{log}");
    }
    for bench in [
        "allreduce",
        "allgather",
        "reducescatter",
        "broadcast",
        "alltoall",
    ] {
        assert!(
            log.lines()
                .any(|l| l.trim_start().starts_with(bench) && l.contains("128 MiB")),
            "{bench} is not planned:\n{log}"
        );
    }
    assert!(log.contains("== p2p"), "{log}");
    assert_eq!(files_in(&dir.path().join("eight")), ["validate.log"]);

    // One GPU: the collectives without -g, and p2p skipped with its reason.
    let out = validate(&script, &["--dry-run", "--gpus", "1", "one"], dir.path());
    let log = text(&out.stdout);
    assert!(out.status.success(), "{log}");
    assert!(
        log.contains("== collectives: ") && !log.contains(" -g "),
        "{log}"
    );
    assert!(
        log.contains("== p2p: skipped: one GPU: p2p measures between two processes"),
        "{log}"
    );
}

#[test]
fn the_validation_without_a_gpu_fails_and_says_why_on_its_last_line() {
    let Some(bundle) = bundle() else { return };
    if Command::new("nvidia-smi").output().is_ok() {
        eprintln!("skipped: this machine has nvidia-smi, so it is not a machine without a GPU");
        return;
    }
    let dir = tempdir();
    let out = validate(
        &repo().join("scripts/gpu_validate.sh"),
        &[bundle.to_str().unwrap(), "out"],
        dir.path(),
    );
    let log = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{log}");
    let last = log.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("gpu_validate: FAILED") && last.contains("no GPU visible"),
        "{last}"
    );
    let files = files_in(&dir.path().join("out"));
    assert_eq!(files, ["raw.tar.gz", "validate.log"]);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out/validate.log")).unwrap(),
        log
    );
}

/// The ratio table's matching and formatting, on a CPU run's records and PyTorch
/// figures made up by the Python test: a unit test of formatting, not a measurement.
#[test]
fn the_ratio_table_formats_a_cpu_run_against_made_up_figures() {
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
            "membw,matmul",
            "--array-size",
            "1M",
            "--sizes",
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
    let out = Command::new("python3")
        .arg(repo().join("scripts/gpu/test_ratio_table.py"))
        .arg(dir.path().join("results"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(text(&out.stderr).contains("Ran 4 tests"), "{out:?}");
}
