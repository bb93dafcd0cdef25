//! The CPU matmul's two engines, the `gemm` crate and OpenBLAS (loaded at run time):
//! each computes a checked product and names itself in the record, the choice is
//! taken from `CLUSTERBENCH_CPU_GEMM`, and a choice that cannot be honoured is a usage
//! error. OpenBLAS is Debian's `libopenblas0-pthread`, which `scripts/setup.sh`
//! installs.

use crate::common::*;
use clusterbench::results::{Params, RunDocument};

const ENGINE_VAR: &str = "CLUSTERBENCH_CPU_GEMM";
const LIBRARY_VAR: &str = "CLUSTERBENCH_OPENBLAS";

const MATMUL: [&str; 18] = [
    "run",
    "--bench",
    "matmul",
    "--backend",
    "cpu",
    "--sizes",
    "96,128",
    "--shapes",
    "tall:160x48x200",
    "-d",
    "float,double",
    "-n",
    "2",
    "-w",
    "1",
    "-q",
    "--output",
    "r",
];

/// Every matmul record's engine, after checking that each passed its check.
fn engines(doc: &RunDocument) -> Vec<String> {
    assert_all_checked_and_passed(doc);
    let engines: Vec<String> = doc
        .records
        .iter()
        .filter_map(|r| match &r.params {
            Params::Matmul { engine, .. } => Some(engine.clone().expect("an engine")),
            _ => None,
        })
        .collect();
    // 3 shapes x 2 types.
    assert_eq!(engines.len(), 6, "{engines:?}");
    engines
}

/// The matmul run in `dir` with only `env` of the two variables set.
fn run_matmul(dir: &std::path::Path, env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = clusterbench(dir);
    cmd.env_remove(ENGINE_VAR).env_remove(LIBRARY_VAR);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.args(MATMUL).output().unwrap()
}

fn run_with(env: &[(&str, &str)]) -> RunDocument {
    let dir = tempdir();
    let out = run_matmul(dir.path(), env);
    assert!(
        out.status.success(),
        "{env:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    only_document(&dir.path().join("r")).1
}

#[test]
fn each_engine_computes_checked_products_and_names_itself() {
    for e in engines(&run_with(&[(ENGINE_VAR, "gemm")])) {
        assert!(e.starts_with("gemm 0.19.0 ("), "{e}");
    }
    let openblas = engines(&run_with(&[(ENGINE_VAR, "openblas")]));
    for e in &openblas {
        // e.g. "openblas 0.3.21 (Zen)": a version, then the kernels OpenBLAS chose.
        let rest = e.strip_prefix("openblas ").unwrap_or_else(|| {
            panic!("{e}: install Debian's libopenblas0-pthread (scripts/setup.sh does)")
        });
        let (version, core) = rest.split_once(" (").expect("version and core");
        assert!(version.starts_with("0.") && version.len() >= 4, "{e}");
        assert!(core.ends_with(')') && core.len() > 1, "{e}");
    }
    // The default is one of the two, the same for every record of the run.
    let auto = engines(&run_with(&[]));
    assert!(auto.iter().all(|e| *e == auto[0]), "{auto:?}");
    assert!(
        auto[0].starts_with("gemm 0.19.0 (") || auto[0] == openblas[0],
        "{auto:?}"
    );
}

#[test]
fn without_openblas_the_default_is_the_gemm_crate() {
    let doc = run_with(&[(LIBRARY_VAR, "/nonexistent/libopenblas.so.0")]);
    for e in engines(&doc) {
        assert!(e.starts_with("gemm 0.19.0 ("), "{e}");
    }
}

#[test]
fn an_engine_that_cannot_run_is_a_usage_error() {
    let cases: [(&[(&str, &str)], &str); 3] = [
        (
            &[(ENGINE_VAR, "mkl")],
            "CLUSTERBENCH_CPU_GEMM takes auto, gemm or openblas, not 'mkl'",
        ),
        (
            &[(ENGINE_VAR, "openblas"), (LIBRARY_VAR, "/nonexistent/libopenblas.so.0")],
            "CLUSTERBENCH_CPU_GEMM=openblas: cannot load CLUSTERBENCH_OPENBLAS=/nonexistent/libopenblas.so.0",
        ),
        // A library that loads but is no OpenBLAS.
        (
            &[(ENGINE_VAR, "openblas"), (LIBRARY_VAR, "libm.so.6")],
            "the loaded OpenBLAS has no cblas_sgemm",
        ),
    ];
    for (env, message) in cases {
        let dir = tempdir();
        let out = run_matmul(dir.path(), env);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{env:?}: {stderr}");
        assert!(stderr.contains(message), "{env:?}: {stderr}");
        assert!(!dir.path().join("r").exists(), "{env:?}: nothing measured");
    }
}

/// Two ranks under mpirun each multiply with OpenBLAS on their own share of the cores.
#[cfg(feature = "mpi")]
#[test]
fn two_ranks_run_openblas_under_mpirun() {
    let dir = tempdir();
    let mut cmd = crate::mpi::mpirun(2, dir.path());
    cmd.env(ENGINE_VAR, "openblas").env_remove(LIBRARY_VAR);
    let out = cmd.args(MATMUL).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (path, doc) = only_document(&dir.path().join("r"));
    assert_matches_schema(&path);
    assert_eq!(doc.environment.ranks.len(), 2);
    for e in engines(&doc) {
        assert!(e.starts_with("openblas "), "{e}");
    }
}
