//! `predict --calibrate` from all-reduce runs under mpirun at 2 and 3 ranks: the runs
//! record the collective algorithm settings they were made with, and the calibration
//! says when those settings do not give the ring all-reduce it inverts.

use crate::common::*;
use crate::mpi::mpirun;
use std::path::{Path, PathBuf};

/// An all-reduce sweep at `np` ranks with Open MPI's coll_tuned all-reduce algorithm
/// `algorithm` forced; its results file.
fn sweep(dir: &Path, np: usize, algorithm: &str) -> PathBuf {
    let out = dir.join(format!("r{np}"));
    let o = mpirun(np, dir)
        .env("OMPI_MCA_coll_tuned_use_dynamic_rules", "1")
        .env("OMPI_MCA_coll_tuned_allreduce_algorithm", algorithm)
        .args([
            "run",
            "--bench",
            "allreduce",
            "-b",
            "16K",
            "-e",
            "1M",
            "-f",
            "2",
        ])
        .args(["-n", "3", "-w", "1", "-d", "float", "-q", "--output"])
        .arg(&out)
        .output()
        .expect("mpirun starts");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (path, doc) = only_document(&out);
    assert_matches_schema(&path);
    let settings = doc
        .environment
        .collective_settings
        .expect("the forced algorithm is recorded");
    assert_eq!(
        settings.get("OMPI_MCA_coll_tuned_allreduce_algorithm"),
        Some(algorithm)
    );
    assert_eq!(
        settings.get("OMPI_MCA_coll_tuned_use_dynamic_rules"),
        Some("1")
    );
    assert_eq!(settings.get("OMPI_MCA_btl"), Some("self,vader,tcp"));
    assert!(
        settings
            .variables
            .keys()
            .all(|k| !k.starts_with("OMPI_MCA_orte")),
        "the launcher's own settings are left out: {settings:?}"
    );
    path
}

/// `predict --calibrate` from the sweeps; its standard error.
fn calibrate(dir: &Path, runs: &[PathBuf]) -> String {
    let o = clusterbench(dir)
        .args(["predict", "--ranks", "8", "--calibrate"])
        .args(runs)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "{stderr}");
    assert!(
        stderr.contains("calibrated intra-node link from 2 sweeps"),
        "{stderr}"
    );
    stderr
}

#[test]
fn calibration_with_ring_forced_says_nothing_of_the_algorithm() {
    let dir = tempdir();
    let runs = [sweep(dir.path(), 2, "4"), sweep(dir.path(), 3, "4")];
    let stderr = calibrate(dir.path(), &runs);
    assert!(!stderr.contains("note:"), "{stderr}");
    // Whether times on two shared, loaded cores scale as the ring's is up to the
    // scheduler; if they do not, the warning must not blame the algorithm.
    for line in stderr.lines().filter(|l| l.starts_with("warning:")) {
        assert!(line.contains("Likely cause: ring was forced"), "{line}");
    }
}

#[test]
fn calibration_with_recursive_doubling_forced_says_it_is_not_ring() {
    let dir = tempdir();
    let runs = [sweep(dir.path(), 2, "3"), sweep(dir.path(), 3, "3")];
    let stderr = calibrate(dir.path(), &runs);
    assert!(
        stderr.contains(
            "note: the calibration runs forced Open MPI coll_tuned all-reduce algorithm recursive_doubling, not ring, and calibration inverts the ring model: set OMPI_MCA_coll_tuned_allreduce_algorithm=4"
        ),
        "{stderr}"
    );
    for line in stderr.lines().filter(|l| l.starts_with("warning:")) {
        assert!(
            line.contains("recursive_doubling was forced, not ring"),
            "{line}"
        );
    }
}
