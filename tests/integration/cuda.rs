//! The CUDA backend on machines without a GPU (CI): the kernels compile and the real
//! libraries resolve every function used (from PyPI's wheels, which scripts/setup.sh
//! installs), `--backend auto` falls back to the CPU and says so, and `--backend cuda`
//! is a clear usage error.

use crate::common::*;

/// Whether this machine has a GPU the driver reports (then the fallback tests do not apply).
pub(crate) fn machine_has_gpu() -> bool {
    let dir = tempdir();
    let out = clusterbench(dir.path()).arg("env").output().unwrap();
    assert!(out.status.success(), "env failed: {out:?}");
    let env: serde_json::Value = serde_json::from_slice(&out.stdout).expect("env prints JSON");
    env["hosts"][0]["gpus"]
        .as_array()
        .expect("hosts[].gpus is a list")
        .iter()
        .any(|g| g["name"].is_string())
}

/// scripts/test.sh sets this when it has installed the CUDA wheels: then the tests
/// that need them must run, not skip.
#[cfg(feature = "cuda")]
fn wheels_required() -> bool {
    std::env::var_os("CLUSTERBENCH_REQUIRE_CUDA_WHEELS").is_some_and(|v| v == "1")
}

#[test]
#[cfg(feature = "cuda")]
fn kernels_compile_and_every_used_function_resolves() {
    let dir = tempdir();
    let out = clusterbench(dir.path()).arg("cuda-check").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    if out.status.code() == Some(2) && !wheels_required() {
        eprintln!("skipped: the CUDA libraries are not installed (run scripts/setup.sh): {stderr}");
        return;
    }
    assert!(
        out.status.success(),
        "cuda-check failed:\n{stdout}\n{stderr}"
    );
    for lib in ["nvrtc", "cublasLt", "cublas", "nccl"] {
        let line = stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(lib))
            .unwrap_or_else(|| panic!("no line for {lib} in:\n{stdout}"));
        assert!(line.contains("functions used resolve"), "{line}");
    }
    // A cubin for each architecture (checked to be an ELF image holding every kernel),
    // and PTX as the fallback.
    for (sm, compute) in [
        ("sm_80", "compute_80"),
        ("sm_90", "compute_90"),
        ("sm_100", "compute_100"),
    ] {
        let cubin = stdout
            .lines()
            .find(|l| l.starts_with(&format!("kernels   {sm}: ")))
            .unwrap_or_else(|| panic!("no cubin line for {sm} in:\n{stdout}"));
        assert!(
            cubin.contains("all 9 kernels compiled to a cubin (")
                && cubin.ends_with(" bytes, ELF)"),
            "{cubin}"
        );
        assert!(
            stdout.contains(&format!(
                "kernels   {compute}: all 9 kernels compiled to PTX"
            )),
            "{compute}:\n{stdout}"
        );
    }
    // The wheel's NCCL (2.28) takes every collective datatype, fp8 included.
    let nccl = stdout
        .lines()
        .find(|l| l.starts_with("nccl      version 2."))
        .unwrap_or_else(|| panic!("no NCCL version line in:\n{stdout}"));
    assert!(
        nccl.ends_with("collectives in float, double, int32, int64, bf16, fp16, fp8e4m3, fp8e5m2"),
        "{nccl}"
    );
    assert!(stdout.contains("cuda-check: passed"), "{stdout}");
}

#[test]
#[cfg(feature = "cuda")]
fn env_names_where_each_cuda_library_was_found() {
    let dir = tempdir();
    let out = clusterbench(dir.path()).arg("env").output().unwrap();
    assert!(out.status.success());
    let env: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(env["hosts"][0]["gpus"].is_array());
    assert!(
        env["ranks"][0].get("gpu").is_some(),
        "ranks[].gpu is present"
    );
    let libs = &env["hosts"][0]["cuda"]["libraries"];
    if libs.is_null() && !wheels_required() {
        eprintln!("skipped: no CUDA library installed (run scripts/setup.sh)");
        return;
    }
    let nccl = libs
        .as_array()
        .expect("cuda.libraries")
        .iter()
        .find(|l| l["name"] == "nccl")
        .expect("an nccl entry");
    let path = nccl["path"].as_str().expect("NCCL was found");
    // pip's NCCL is libnccl.so.2, a name cudarc's loader does not try on its own.
    assert!(path.contains("libnccl.so"), "{path}");
    // Versions are read from the libraries themselves, with or without a driver.
    let cuda = &env["hosts"][0]["cuda"];
    let version = |key: &str| cuda[key].as_str().unwrap_or_default().to_string();
    assert!(version("nccl_version").starts_with("2."), "{cuda}");
    for key in ["cublas_version", "nvrtc_version"] {
        let v = version(key);
        assert!(
            v.split('.').all(|p| p.parse::<u32>().is_ok()) && v.split('.').count() >= 2,
            "{key}: {cuda}"
        );
    }
}

#[test]
fn auto_falls_back_to_the_cpu_and_says_so() {
    if machine_has_gpu() {
        eprintln!("skipped: this machine has a GPU, so auto picks CUDA");
        return;
    }
    let dir = tempdir();
    let out = clusterbench(dir.path())
        .args(run_allreduce("8", "64"))
        .args(["--backend", "auto", "-q", "-n", "2", "-w", "0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    let (_, doc) = only_document(&dir.path().join("clusterbench-results"));
    assert_eq!(doc.run.backend, "cpu");
    let note = doc
        .run
        .backend_note
        .clone()
        .expect("the fallback is recorded");
    assert!(
        note == "no NVIDIA driver found"
            || note.contains("CUDA driver")
            || note.contains("`cuda` feature"),
        "{note}"
    );
    assert!(doc.records.iter().all(|r| r.backend == "cpu"));
    assert_all_checked_and_passed(&doc);
}

#[test]
fn cuda_without_a_gpu_is_a_clear_usage_error() {
    if machine_has_gpu() {
        eprintln!("skipped: this machine has a GPU");
        return;
    }
    let dir = tempdir();
    let out = clusterbench(dir.path())
        .args(run_allreduce("8", "64"))
        .args(["--backend", "cuda"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--backend cuda"), "{stderr}");
    #[cfg(feature = "cuda")]
    assert!(
        stderr.contains("no CUDA driver library") && stderr.contains("searched"),
        "names what was searched: {stderr}"
    );
    #[cfg(not(feature = "cuda"))]
    assert!(stderr.contains("without the `cuda` feature"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!dir.path().join("clusterbench-results").exists());
}

#[test]
#[cfg(not(feature = "cuda"))]
fn cuda_check_needs_the_cuda_feature() {
    let dir = tempdir();
    let out = clusterbench(dir.path()).arg("cuda-check").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("without the `cuda` feature"));
}

#[test]
fn gpu_suite_file_is_valid() {
    let dir = tempdir();
    let suite = concat!(env!("CARGO_MANIFEST_DIR"), "/harness/suites/gpu.toml");
    // Flags override the suite's sizes, so this parses the whole file but measures little.
    let out = clusterbench(dir.path())
        .args(["run", "--suite", suite, "--bench", "allreduce"])
        .args(["-e", "64", "-n", "2", "-w", "0", "-q", "--backend", "cpu"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let (_, doc) = only_document(&dir.path().join("clusterbench-results"));
    assert_eq!(doc.run.suite.as_deref(), Some(suite));
    assert_all_checked_and_passed(&doc);
}

#[test]
fn gpumem_on_the_cpu_backend_is_skipped_with_a_note() {
    let dir = tempdir();
    let out = clusterbench(dir.path())
        .args(["run", "--bench", "gpumem", "--backend", "cpu", "-q"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("gpumem skipped: the cpu backend has no GPU"),
        "{stderr}"
    );
    let (_, doc) = only_document(&dir.path().join("clusterbench-results"));
    assert!(doc.records.is_empty(), "no figure without a GPU");
}

#[test]
fn gpu_only_datatypes_are_usage_errors_on_the_cpu() {
    for (args, needle) in [
        (
            vec!["run", "--bench", "matmul", "-d", "bf16", "--backend", "cpu"],
            "matmul in bf16 needs a GPU (--backend cuda)",
        ),
        (
            vec![
                "run",
                "--bench",
                "matmul",
                "-d",
                "float,fp8",
                "--backend",
                "cpu",
            ],
            "matmul in fp8e4m3 needs a GPU",
        ),
        (
            vec!["run", "--bench", "allreduce", "-d", "tf32"],
            "allreduce does not support datatype tf32",
        ),
        (
            vec![
                "run",
                "--bench",
                "reducescatter",
                "-d",
                "float,fp8e5m2",
                "--backend",
                "cpu",
            ],
            "reducescatter in fp8e5m2 needs a GPU (--backend cuda, through NCCL)",
        ),
        (
            vec![
                "run",
                "--bench",
                "allreduce",
                "-d",
                "bf16",
                "--backend",
                "cpu",
            ],
            "allreduce in bf16 needs a GPU",
        ),
    ] {
        let dir = tempdir();
        let out = clusterbench(dir.path()).args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
        assert!(!dir.path().join("clusterbench-results").exists());
    }
}

#[test]
fn cuda_graph_mode_needs_the_cuda_backend() {
    let dir = tempdir();
    for (args, needle) in [
        (
            vec![
                "run",
                "--bench",
                "allreduce",
                "--cuda-graph",
                "10",
                "--backend",
                "cpu",
            ],
            "--cuda-graph needs the CUDA backend",
        ),
        (
            vec!["run", "--bench", "allreduce", "--cuda-graph", "0"],
            "--cuda-graph takes the number of calls per graph",
        ),
    ] {
        let out = clusterbench(dir.path()).args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    if !machine_has_gpu() {
        let out = clusterbench(dir.path())
            .args(["run", "--bench", "allreduce", "--cuda-graph", "10"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("--cuda-graph needs a GPU"), "{stderr}");
    }
}
