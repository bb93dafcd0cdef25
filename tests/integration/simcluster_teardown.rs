//! scripts/simcluster.sh's teardown leaves nothing of a cluster behind: no namespaces,
//! and none of the Open MPI session directories that its killed daemons leave in the
//! temporary directory.

use crate::simcluster::{ok, one_cluster_at_a_time, unavailable};
use std::process::Command;

fn session_dirs(prefix: &str) -> Vec<String> {
    // Open MPI's tmpdir, as Rust's: $TMPDIR, else /tmp.
    std::fs::read_dir(std::env::temp_dir())
        .map(|dir| {
            dir.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&format!("ompi.{prefix}n")))
                .collect()
        })
        .unwrap_or_default()
}

/// The command ends while a job still runs on both nodes, so that teardown kills its
/// daemons, which cannot remove their session directories themselves.
#[test]
fn teardown_removes_the_session_directories_of_a_killed_job() {
    if let Some(why) = unavailable() {
        eprintln!("SKIPPED: simulated-cluster test needs root and network namespaces: {why}");
        return;
    }
    let _one = one_cluster_at_a_time();
    let prefix = "cbtdn";
    // Waits (at most a minute) until node 2's daemon has made its session directory,
    // then lists the cluster's.
    let line = format!(
        "$SIM_MPIRUN -np 2 sleep 600 & for i in $(seq 300); do ls -d ${{TMPDIR:-/tmp}}/ompi.{prefix}n2.* >/dev/null 2>&1 && break; sleep 0.2; done; ls -d ${{TMPDIR:-/tmp}}/ompi.{prefix}n*"
    );
    let o = Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/simcluster.sh"
    ))
    .args([
        "-n",
        "2",
        "-p",
        prefix,
        "-s",
        "10.241.32",
        "--",
        "bash",
        "-c",
        &line,
    ])
    .output()
    .unwrap();
    ok(&o);
    let during = String::from_utf8_lossy(&o.stdout);
    for node in ["n1", "n2"] {
        assert!(
            during.contains(&format!("/ompi.{prefix}{node}.")),
            "the job made its session directory on {node}: {during}"
        );
    }
    assert_eq!(session_dirs(prefix), Vec::<String>::new(), "left in /tmp");
}
