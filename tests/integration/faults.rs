//! Point-to-point and the watchdog on one machine under mpirun.

use crate::common::*;
use crate::mpi::mpirun;
use clusterbench::results::{Params, RunStatus};

#[test]
fn p2p_between_chosen_ranks_is_checked_and_corruption_counted() {
    let dir = tempdir();
    let out = mpirun(3, dir.path())
        .args([
            "run", "--bench", "p2p", "--peers", "2,0", "-b", "1", "-e", "64K", "-f", "64",
        ])
        .args(["-n", "5", "-w", "1", "-q", "--output", "r"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (path, doc) = only_document(&dir.path().join("r"));
    assert_matches_schema(&path);
    assert_all_checked_and_passed(&doc);
    assert_eq!(doc.records.len(), 3 * 3, "3 modes x 3 sizes");
    for r in &doc.records {
        let Params::PointToPoint {
            from,
            to,
            window,
            mode,
            bytes,
            ..
        } = &r.params
        else {
            panic!("{:?}", r.params)
        };
        assert_eq!((*from, *to), (2, 0));
        assert_eq!(*window == 1, mode == "latency");
        // Every received byte is checked: the ping and the pong for latency, a window
        // one way for bandwidth, both ways for bidir.
        let per_end = *bytes * u64::from(*window);
        let expected = if mode == "bandwidth" {
            per_end
        } else {
            2 * per_end
        };
        assert_eq!(r.check.checked, expected, "{mode} {bytes}");
    }

    let dir = tempdir();
    let out = mpirun(2, dir.path())
        .args([
            "run", "--bench", "p2p", "-b", "8", "-e", "8", "-n", "2", "-q",
        ])
        .args(["--debug-corrupt-rank", "0", "--output", "r"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let (_, doc) = only_document(&dir.path().join("r"));
    assert!(doc
        .records
        .iter()
        .all(|r| !r.check.passed && r.check.wrong >= 1));
}

#[test]
fn a_rank_that_never_arrives_is_named_and_the_job_ends() {
    let dir = tempdir();
    let start = std::time::Instant::now();
    let out = mpirun(3, dir.path())
        .args(["run", "--bench", "allreduce", "-b", "8", "-e", "64", "-q"])
        .args(["--timeout", "3", "--debug-stall-rank", "2", "--output", "r"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("watchdog")
            && stderr.contains("allreduce 8 B float sum in-place")
            && stderr.contains("rank 2 (")
            && stderr.contains("never arrived"),
        "{stderr}"
    );
    // Well before the stalled rank would have woken up (4 x the timeout).
    assert!(
        start.elapsed() < std::time::Duration::from_secs(11),
        "{:?}",
        start.elapsed()
    );
    let (path, doc) = only_document(&dir.path().join("r"));
    assert_eq!(doc.run.status, RunStatus::Aborted);
    assert_eq!(
        doc.records.len(),
        1,
        "the measurement before the stall is kept"
    );
    let lines = stream_lines(&path);
    assert_eq!(lines.iter().filter(|l| l["type"] == "record").count(), 1);
}

/// Rank 0 comes 8 s late to an operation while rank 2 never arrives: the ranks that
/// wait for rank 0 must not name it (it did arrive, within their 11 s; waiting only
/// for its release, which comes 6 s after it arrives, they named it after 11 s);
/// rank 0 names rank 2.
#[test]
fn a_late_rank_0_is_not_taken_for_a_missing_one() {
    let dir = tempdir();
    let out = mpirun(3, dir.path())
        .args(["run", "--bench", "allreduce", "-b", "8", "-e", "64", "-q"])
        .args([
            "--timeout",
            "6",
            "--debug-stall-rank",
            "2",
            "--debug-late-rank",
            "0",
        ])
        .args(["--output", "r"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("rank 2 (") && stderr.contains("never arrived"),
        "{stderr}"
    );
    assert!(
        !stderr
            .lines()
            .any(|l| l.contains("error on rank 1") && l.contains("rank 0 (")),
        "rank 1 named rank 0:\n{stderr}"
    );
}
