//! Point-to-point and the link matrix under mpirun: `--peers` naming a rank the job
//! does not have is refused before anything runs, and `links` on a single node
//! measures the rank x rank matrix.

use crate::common::*;
#[cfg(feature = "mpi")]
use crate::mpi::mpirun;

#[test]
#[cfg(feature = "mpi")]
fn peers_outside_the_job_are_refused_before_anything_runs() {
    let dir = tempdir();
    let out = mpirun(2, dir.path())
        .args(["run", "--bench", "p2p", "--peers", "0,5", "--output", "r"])
        .output()
        .expect("mpirun starts");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "{stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("clusterbench:"))
        .collect();
    assert_eq!(
        errors,
        ["clusterbench: error: --peers 0,5: this job has 2 ranks, 0 to 1"],
        "{stderr}"
    );
    assert!(!stderr.contains("MPI_ABORT"), "no rank aborts: {stderr}");
    assert!(
        !dir.path().join("r").exists(),
        "nothing is written: {:?}",
        files_in(&dir.path().join("r"))
    );
}

#[test]
#[cfg(feature = "mpi")]
fn links_on_one_node_measures_every_pair_of_ranks() {
    let dir = tempdir();
    // Three ranks: an odd count, so each round leaves one rank out.
    let out = mpirun(3, dir.path())
        .args(["links", "--bandwidth-size", "64K", "--window", "4"])
        .args(["-n", "3", "-w", "1", "--output", "r"])
        .output()
        .expect("mpirun starts");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        stdout.contains(
            "# links: 3 ranks, 3 rounds of disjoint pairs, each pair measured 2 times and the better kept;"
        )
            && stdout.contains("# per rank (median of its pairs)"),
        "{stdout}"
    );
    let (_, doc) = only_document(&dir.path().join("r"));
    assert_all_checked_and_passed(&doc);
    let matrix = doc.links.as_ref().expect("the matrix is recorded");
    let host = &doc.environment.hosts[0].hostname;
    let names: Vec<String> = (0..3).map(|r| format!("{host} rank {r}")).collect();
    assert_eq!(matrix.hosts, names);
    assert_eq!(matrix.ranks, [0, 1, 2]);
    for (i, row) in matrix.bandwidth_gbps.iter().enumerate() {
        for (j, cell) in row.iter().enumerate() {
            assert_eq!(cell.is_some(), i != j, "bandwidth [{i}][{j}]: {cell:?}");
        }
    }
    assert_eq!(matrix.pairs.len(), 3);
    // Two records (latency, bandwidth) per pair, between ranks of the one node.
    assert_eq!(doc.records.len(), 6);
    assert!(doc.records.iter().all(|r| r.nodes == 1 && r.ranks == 2));
}

#[test]
fn links_help_lists_only_what_links_takes() {
    let dir = tempdir();
    let out = clusterbench(dir.path())
        .args(["links", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout).to_string();
    for flag in [
        "--latency-size",
        "--bandwidth-size",
        "--iters",
        "--warmup_iters",
        "--check",
        "--window",
        "--output",
        "--backend",
        "--quiet",
        "--dry-run",
        "--timeout",
    ] {
        assert!(help.contains(flag), "{flag} missing: {help}");
    }
    for flag in [
        "--bench",
        "--suite",
        "--minbytes",
        "--maxbytes",
        "--datatype",
        "--op",
        "--sizes",
        "--shapes",
        "--search",
        "--array-size",
        "--cuda-graph",
        "--gpus-per-rank",
        "--peers",
        "--stepfactor",
    ] {
        assert!(!help.contains(flag), "{flag} is not for links: {help}");
    }
}
