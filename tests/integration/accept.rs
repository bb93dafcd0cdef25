//! `accept` as one process (one node, no launcher), and its usage errors.

use crate::common::*;

#[test]
fn accept_on_one_node_passes_and_writes_its_verdict_and_report() {
    let dir = tempdir();
    let out = dir.path().join("r");
    let o = clusterbench(dir.path())
        .args([
            "accept",
            "--quick",
            "--backend",
            "cpu",
            "-n",
            "2",
            "--array-size",
            "1M",
        ])
        .args(["--matmul-sizes", "64", "-e", "64K", "--output"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        stdout.contains("cluster verdict PASS") && stdout.contains("no node to take out"),
        "{stdout}"
    );
    let json = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .expect("the verdict file");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(doc["kind"], "clusterbench-accept");
    assert_eq!(doc["complete"], true);
    assert_eq!(doc["nodes"].as_array().unwrap().len(), 1);
    assert_eq!(doc["steps"][1]["status"], "completed");
    // Nothing to measure between nodes on one node: said so, not failed.
    for step in [2, 3, 5] {
        assert_eq!(
            doc["steps"][step]["status"], "skipped",
            "{}",
            doc["steps"][step]
        );
    }
    let records = doc["steps"][1]["documents"][0]["records"]
        .as_array()
        .unwrap();
    assert!(records.iter().any(|r| r["benchmark"] == "membw"));
    assert!(records.iter().any(|r| r["benchmark"] == "matmul"));
    assert!(json.with_extension("html").exists());
}

#[test]
fn accept_refuses_unknown_instance_types_and_two_sources_of_claims_with_exit_2() {
    let dir = tempdir();
    let o = clusterbench(dir.path())
        .args(["accept", "--instance-type", "no-such-instance"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("no-such-instance") && stderr.contains("--claims"),
        "{stderr}"
    );
    let o = clusterbench(dir.path())
        .args(["accept", "--instance-type", "aws-p5", "--claims", "x.toml"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing written"
    );
}
