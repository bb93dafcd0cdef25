//! A run that cannot fit in memory is refused before anything is allocated or written
//! (exit 2, one line naming the largest setting that fits), where the kernel's OOM
//! killer would otherwise end it without a word.

use crate::common::*;
use std::path::Path;

/// Runs `args` with results to `dir/r`; returns the exit code and stderr.
fn refused(dir: &Path, args: &[&str]) -> String {
    let out = clusterbench(dir)
        .args(args)
        .args(["--output", "r"])
        .output()
        .expect("binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert_nothing_written(dir);
    stderr
}

/// No results directory, so no `.jsonl` header and no `.json`.
fn assert_nothing_written(dir: &Path) {
    let results = dir.join("r");
    assert!(
        !results.exists(),
        "results were started: {:?}",
        files_in(&results)
    );
}

/// The one error line, without the program's prefix.
fn the_error(stderr: &str) -> &str {
    let errors: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("clusterbench: error: "))
        .collect();
    assert_eq!(errors.len(), 1, "one error line: {stderr}");
    errors[0]
}

#[test]
fn a_sweep_to_a_terabyte_is_refused_with_the_largest_size_that_fits() {
    let dir = tempdir();
    let stderr = refused(dir.path(), &run_allreduce("8", "1T"));
    let line = the_error(&stderr);
    assert!(
        line.starts_with("allreduce at 1 TiB needs 2 TiB of host memory per rank"),
        "{line}"
    );
    // The advice is a size of the sweep (8 B x 2^k), smaller than what was asked.
    let advice = line
        .rsplit_once(": -e ")
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("names -e: {line}"));
    let bytes = clusterbench::units::parse_size(advice).expect("a size as typed");
    assert!(
        bytes.is_power_of_two() && (8..1 << 40).contains(&bytes),
        "{line}"
    );
}

#[test]
fn arrays_and_matrices_too_large_are_refused_by_their_own_flags() {
    let dir = tempdir();
    let stderr = refused(
        dir.path(),
        &["run", "--bench", "membw", "--array-size", "1T"],
    );
    let line = the_error(&stderr);
    assert!(
        line.starts_with("membw with arrays of 1 TiB needs 3 TiB of host memory per rank")
            && line.contains("the largest array size that fits is")
            && line.contains(": --array-size "),
        "{line}"
    );
    let stderr = refused(
        dir.path(),
        &[
            "run", "--bench", "matmul", "--sizes", "1000000", "-d", "float",
        ],
    );
    let line = the_error(&stderr);
    assert!(
        line.starts_with("matmul 1000000x1000000x1000000 in float needs")
            && line.contains("the largest square size that fits is")
            && line.contains(": --sizes "),
        "{line}"
    );
}

#[test]
#[cfg(feature = "mpi")]
fn two_ranks_agree_and_the_refusal_is_printed_once() {
    let dir = tempdir();
    let out = crate::mpi::mpirun(2, dir.path())
        .args(run_allreduce("8", "1T"))
        .args(["--output", "r"])
        .output()
        .expect("mpirun starts");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "{stderr}");
    assert_eq!(
        stderr
            .matches("allreduce at 1 TiB needs 3 TiB of host memory per rank")
            .count(),
        1,
        "{stderr}"
    );
    assert!(!stderr.contains("MPI_ABORT"), "no rank aborts: {stderr}");
    assert_nothing_written(dir.path());
}
