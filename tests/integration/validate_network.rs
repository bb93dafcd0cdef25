//! Network claims from multi-node all-reduce runs: the conversion follows the
//! algorithm that ran, and validate says which it used and why. Runs are AWS's
//! published references (`tests/fixtures/`, sources in its README).

use crate::common::{
    clusterbench, fixture, import_two_node_allreduce, only_document, tempdir, validate_in,
};
use std::path::{Path, PathBuf};

/// Imports `log` (a bare nccl-tests table on 2 nodes of 8 GPUs) as `out` in `dir`.
fn import_two_nodes(dir: &Path, log: &Path, instance: &str, out: &str) {
    import_two_node_allreduce(dir, log, &["--instance-type", instance], out);
}

fn validate(dir: &Path, args: &[&str]) -> (i32, String) {
    let (code, out) = validate_in(dir, args);
    (code.unwrap_or(-1), out)
}

#[test]
fn aws_p5_reference_passes_and_says_why_it_is_not_ring() {
    let dir = tempdir();
    let log = fixture("nccl-tests-all_reduce_perf-aws-2x-p5-reference.log");
    import_two_nodes(dir.path(), &log, "p5.48xlarge", "p5.json");
    let (code, out) = validate(dir.path(), &["p5.json"]);
    assert_eq!(code, 0, "{out}");
    let row = out
        .lines()
        .find(|l| l.contains("Network bandwidth per instance"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        row.contains("2078.976 Gbps") && row.contains("pass"),
        "{row}"
    );
    assert!(
        out.contains("'network_per_node': algorithm not recorded; ring would put 487.3 GB/s"),
        "{out}"
    );
    // --explain: records, conversion, source and the reason, claim by claim.
    let (code, out) = validate(dir.path(), &["p5.json", "--explain"]);
    assert_eq!(code, 0, "{out}");
    let block = out
        .split("\nAWS p5.48xlarge 'network_per_node'")
        .nth(1)
        .unwrap_or_else(|| panic!("{out}"));
    for want in [
        "records: allreduce float sum 16 GiB in_place 16r/2n",
        "conversion: algorithm not recorded",
        "source: https://docs.aws.amazon.com/ec2/latest/instancetypes/ac.html",
        "threshold: 60% of the claim",
        "why: 65.0% of the claim reaches the 60.0%",
    ] {
        assert!(block.contains(want), "{want:?} not in {block}");
    }
    let (_, json) = validate(dir.path(), &["p5.json", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let net = v
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "network_per_node")
        .unwrap();
    assert!(net["conversion"].as_str().unwrap().contains("not ring"));
    assert_eq!(net["outcome"], "pass");
}

#[test]
fn nccl_algo_on_the_logs_command_line_selects_the_ring_conversion() {
    let dir = tempdir();
    let table = std::fs::read_to_string(fixture(
        "nccl-tests-all_reduce_perf-aws-2x-p4de-reference.log",
    ))
    .unwrap();
    let log = dir.path().join("ring.log");
    std::fs::write(
        &log,
        format!("mpirun -np 16 -x NCCL_ALGO=Ring ./all_reduce_perf -b 8 -e 2G\n{table}"),
    )
    .unwrap();
    import_two_nodes(dir.path(), &log, "p4de.24xlarge", "ring.json");
    let (code, out) = validate(dir.path(), &["ring.json", "--explain"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("conversion: ring conversion (per node = busbw), because NCCL_ALGO=Ring (log command line)"),
        "{out}"
    );
    // busbw itself: 78.33 GB/s = 626.640 Gbps.
    assert!(out.contains("measured: 626.640 Gbps"), "{out}");
}

#[test]
fn a_run_records_nccl_algo_and_proto_from_its_environment() {
    let dir = tempdir();
    let out = dir.path().join("results");
    clusterbench(dir.path())
        .env("NCCL_ALGO", "Ring")
        .env("NCCL_PROTO", "Simple")
        .args([
            "run",
            "--bench",
            "allreduce",
            "-b",
            "8",
            "-e",
            "8",
            "-n",
            "1",
        ])
        .arg("--output")
        .arg(&out)
        .assert()
        .success();
    let (_, doc) = only_document(&out);
    let t = doc.environment.hosts[0].nccl_tuning.clone().unwrap();
    assert_eq!(
        (t.algo.as_deref(), t.proto.as_deref(), t.source.as_str()),
        (Some("Ring"), Some("Simple"), "environment")
    );
}

/// A claims file with one point-to-point latency bound of `bound_us`.
fn p2p_latency_claims(dir: &Path, bound_us: f64) -> PathBuf {
    let path = dir.join(format!("p2p-{bound_us}.toml"));
    std::fs::write(
        &path,
        format!(
            "[target]\nname = \"fabric\"\nkind = \"instance\"\n\
             [[claim]]\nid = \"p2p_latency\"\nwhat = \"one-way latency between two nodes\"\n\
             quantity = \"point_to_point_latency\"\nvalue = {bound_us}\nunit = \"us\"\n\
             convention = \"one way, smallest message\"\nsource = \"test\"\n"
        ),
    )
    .unwrap();
    path
}

#[test]
fn point_to_point_latency_claims_read_imported_osu_latency() {
    let dir = tempdir();
    let d = dir.path();
    let log = fixture("osu_latency-v5.6.2-handwritten.out");
    let o = clusterbench(d)
        .args(["import", log.to_str().unwrap(), "--hosts", "node1,node2"])
        .args(["--nodes", "2", "-o", "lat.json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The 0-byte row: 1.50 us one way.
    let within = p2p_latency_claims(d, 2.0);
    let (code, out) = validate(
        d,
        &[
            "lat.json",
            "--claims",
            within.to_str().unwrap(),
            "--explain",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("measured: 1.500 us"), "{out}");
    assert!(
        out.contains("why: 1.500 us is within the bound of 2 us"),
        "{out}"
    );
    assert!(
        out.contains("records: p2p 0 B from=0 node1 latency to=1 node2"),
        "{out}"
    );
    let beyond = p2p_latency_claims(d, 1.2);
    let (code, out) = validate(d, &["lat.json", "--claims", beyond.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL"), "{out}");
}
