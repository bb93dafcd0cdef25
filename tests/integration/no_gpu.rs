//! A machine without an NVIDIA driver, as every CPU machine is: a run says so in one
//! line (none with `-q`), the results and the report's backend row keep the short
//! reason, and `cuda-check` and `env` name every place searched.

use crate::common::*;

const NO_DRIVER: &str = "clusterbench: no NVIDIA driver found; running on the CPU: \
`clusterbench cuda-check` shows where it looked";

/// The old note: what runs of earlier versions recorded, every place searched.
const OLD_NOTE: &str = "running on the CPU backend: no CUDA driver library (libcuda.so*) \
found; searched the dynamic loader's path for libcuda.so, libcuda64.so, ..., \
/usr/local/cuda/lib64 (system), /usr/lib64 (system); install the NVIDIA driver, or point \
LD_LIBRARY_PATH, CUDA_HOME or CONDA_PREFIX at it";

/// Whether no CUDA driver library is anywhere the program looks (else these tests do
/// not apply: a machine with a driver runs on its GPU or names a different reason).
fn no_driver_here() -> bool {
    let none = clusterbench::backend::cuda::no_driver_installed();
    if !none {
        eprintln!("skipped: this machine has a CUDA driver library, or no CUDA support was built");
    }
    none
}

fn small_cpu_run(dir: &std::path::Path, quiet: bool) -> String {
    let mut cmd = clusterbench(dir);
    cmd.args(run_allreduce("8", "64"))
        .args(["-n", "2", "-w", "0", "--output", "r"]);
    if quiet {
        cmd.arg("-q");
    }
    let out = cmd.output().expect("binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    stderr
}

#[test]
fn a_run_without_a_driver_says_so_in_one_line_and_not_with_q() {
    if !no_driver_here() {
        return;
    }
    let dir = tempdir();
    let stderr = small_cpu_run(dir.path(), false);
    let about_it: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("NVIDIA") || l.contains("CUDA") || l.contains("searched"))
        .collect();
    assert_eq!(about_it, [NO_DRIVER], "{stderr}");
    let (path, doc) = only_document(&dir.path().join("r"));
    assert_eq!(doc.run.backend, "cpu");
    assert_eq!(
        doc.run.backend_note.as_deref(),
        Some("no NVIDIA driver found")
    );

    let html = dir.path().join("report.html");
    clusterbench(dir.path())
        .arg("report")
        .arg(&path)
        .arg("-o")
        .arg(&html)
        .assert()
        .success();
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("cpu (no NVIDIA driver found)"), "{page}");
    assert!(!page.contains("searched"));

    let quiet = tempdir();
    let stderr = small_cpu_run(quiet.path(), true);
    assert!(
        !stderr.contains("NVIDIA") && !stderr.contains("searched"),
        "-q: {stderr}"
    );
}

#[test]
fn the_report_shortens_the_long_note_of_older_runs() {
    let dir = tempdir();
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/results/baselines/quick-cpu-2core.json"
    );
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture).unwrap()).unwrap();
    doc["run"]["backend_note"] = OLD_NOTE.into();
    let old = dir.path().join("old.json");
    std::fs::write(&old, serde_json::to_string(&doc).unwrap()).unwrap();
    clusterbench(dir.path())
        .args(["report", "old.json", "-o", "old.html"])
        .assert()
        .success();
    let page = std::fs::read_to_string(dir.path().join("old.html")).unwrap();
    assert!(
        page.contains(
            "cpu (running on the CPU backend: no CUDA driver library (libcuda.so*) found)"
        ),
        "{page}"
    );
    assert!(!page.contains("searched"));
}

#[test]
fn cuda_check_and_env_name_every_place_searched() {
    if !no_driver_here() {
        return;
    }
    let dir = tempdir();
    let check = clusterbench(dir.path()).arg("cuda-check").output().unwrap();
    let stdout = String::from_utf8_lossy(&check.stdout).to_string();
    let lines: Vec<&str> = stdout.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("cuda      not found"))
        .unwrap_or_else(|| panic!("no driver line: {stdout}"));
    assert_eq!(lines[at + 1].trim(), "searched:", "{stdout}");
    let places: Vec<&str> = lines[at + 2..]
        .iter()
        .take_while(|l| l.starts_with("            "))
        .map(|l| l.trim())
        .collect();
    assert!(
        places[0].starts_with("the dynamic loader's path for libcuda.so"),
        "{stdout}"
    );
    assert!(
        places.contains(&"/usr/local/cuda/lib64 (system)"),
        "{stdout}"
    );

    let env = clusterbench(dir.path()).arg("env").output().unwrap();
    assert!(env.status.success());
    let stderr = String::from_utf8_lossy(&env.stderr).to_string();
    let note: Vec<&str> = stderr.lines().filter(|l| l.contains("searched")).collect();
    assert_eq!(note.len(), 1, "{stderr}");
    assert!(
        note[0].starts_with("clusterbench: no CUDA driver library (libcuda.so*) found; searched")
            && note[0].contains("/usr/local/cuda/lib64 (system)"),
        "{stderr}"
    );
}

#[test]
#[cfg(not(feature = "cuda"))]
fn a_run_without_cuda_support_says_so_in_one_line() {
    let dir = tempdir();
    let stderr = small_cpu_run(dir.path(), false);
    let about_it: Vec<&str> = stderr.lines().filter(|l| l.contains("cuda")).collect();
    assert_eq!(
        about_it,
        ["clusterbench: this clusterbench was built without the `cuda` feature (rebuild with default features); running on the CPU"],
        "{stderr}"
    );
}
