//! NVLink domains across nodes: an all-reduce whose GPUs all sit in one NVLink domain
//! is scored against the NVLink claims however many nodes it spans (GB200/GB300
//! NVL72), and one that crosses domains against the network claims.
//!
//! The measurements are AWS's published 2 x p5 nccl-tests reference (16 GPU ranks on
//! 2 nodes, `tests/fixtures/`); the claims file is written here, so that only the
//! routing is under test: the same records go to one set of claims or the other by
//! the domain size alone.

use crate::common::{
    assert_matches_schema, clusterbench, explain_block, fixture, import_two_node_allreduce,
    only_document, tempdir, validate_in,
};
use std::path::Path;

const CLAIMS: &str = r#"
[target]
name = "Test NVLink system"
kind = "instance"
gpus_per_node = 8
nvlink_domain_gpus = 72

[[claim]]
id = "nvlink_allreduce"
what = "NVLink one-way bandwidth per GPU"
quantity = "intra_node_allreduce_busbw"
value = 900
unit = "GB/s"
convention = "one direction per GPU"
source = "test"
achievable = 0.5
min_bytes = "1G"

[[claim]]
id = "network_per_node"
what = "Network bandwidth per instance"
quantity = "network_bandwidth_per_node"
value = 3200
unit = "Gbps"
convention = "per instance, one direction"
source = "test"
achievable = 0.6
min_bytes = "1G"

[[claim]]
id = "allreduce_latency_2node"
what = "8-byte all-reduce time across two instances"
quantity = "two_node_allreduce_latency"
value = 90
unit = "us"
convention = "median time of the smallest all-reduce on 2 nodes (upper bound)"
source = "test"
"#;

fn prepare(dir: &Path) {
    let log = fixture("nccl-tests-all_reduce_perf-aws-2x-p5-reference.log");
    import_two_node_allreduce(dir, &log, &[], "run.json");
    std::fs::write(dir.join("claims.toml"), CLAIMS).unwrap();
}

fn validate(dir: &Path, extra: &[&str]) -> String {
    let mut args = vec!["run.json", "--claims", "claims.toml", "--explain"];
    args.extend_from_slice(extra);
    let (code, out) = validate_in(dir, &args);
    assert!(code == Some(0), "{out}");
    out
}

/// The --explain block of one claim.
fn block<'a>(out: &'a str, id: &str) -> &'a str {
    explain_block(out, "Test NVLink system", id)
}

#[test]
fn a_two_node_run_inside_one_domain_is_scored_against_nvlink() {
    let dir = tempdir();
    prepare(dir.path());
    let out = validate(dir.path(), &["--nvlink-domain-size", "72"]);
    let nvlink = block(&out, "nvlink_allreduce");
    assert!(nvlink.contains(": pass\n"), "{nvlink}");
    assert!(
        nvlink.contains("16r/2n on 16 ranks, 2 nodes, scored against the NVLink claims: its 16 GPU ranks fit in one NVLink domain of 72 GPUs"),
        "{nvlink}"
    );
    let network = block(&out, "network_per_node");
    assert!(network.contains(": not measured\n"), "{network}");
    assert!(
        network.contains("stayed inside one NVLink domain")
            && network.contains("test NVLink, not the network"),
        "{network}"
    );
    // The 2-node latency is the network's too: a run inside one domain does not test it.
    let latency = block(&out, "allreduce_latency_2node");
    assert!(
        latency.contains(": not measured\n") && latency.contains("stayed inside one NVLink domain"),
        "{latency}"
    );
}

#[test]
fn a_run_that_crosses_domains_is_scored_against_the_network() {
    let dir = tempdir();
    prepare(dir.path());
    let out = validate(dir.path(), &["--nvlink-domain-size", "8"]);
    let network = block(&out, "network_per_node");
    assert!(network.contains("measured: "), "{network}");
    assert!(!network.contains(": not measured\n"), "{network}");
    assert!(
        network.contains(
            "scored against the network claims: its 16 GPU ranks span 2 NVLink domains of 8 GPUs"
        ),
        "{network}"
    );
    let nvlink = block(&out, "nvlink_allreduce");
    assert!(nvlink.contains(": not measured\n"), "{nvlink}");
    let latency = block(&out, "allreduce_latency_2node");
    assert!(latency.contains("measured: 69.120 us"), "{latency}");
}

#[test]
fn without_a_recorded_domain_the_run_counts_as_crossing_and_says_so() {
    let dir = tempdir();
    prepare(dir.path());
    let out = validate(dir.path(), &[]);
    let network = block(&out, "network_per_node");
    assert!(
        network.contains(
            "no NVLink domain recorded, so this 2-node run counts as crossing the network"
        ) && network.contains("--nvlink-domain-size 72"),
        "{network}"
    );
    assert!(block(&out, "nvlink_allreduce").contains(": not measured\n"));
}

#[test]
fn run_records_the_stated_domain_size() {
    let dir = tempdir();
    clusterbench(dir.path())
        .args([
            "run",
            "--bench",
            "allreduce",
            "-b",
            "8",
            "-e",
            "64",
            "-n",
            "2",
            "-w",
            "1",
        ])
        .args(["--nvlink-domain-size", "4", "-q", "--output", "."])
        .assert()
        .success();
    let (path, doc) = only_document(dir.path());
    assert_eq!(doc.environment.nvlink_domain_size, Some(4));
    assert_matches_schema(&path);
    let bad = clusterbench(dir.path())
        .args(["run", "--bench", "allreduce", "--nvlink-domain-size", "0"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
