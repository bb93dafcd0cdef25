//! `accept` on simulated nodes (scripts/simcluster.sh): a node capped lower, a node
//! slowed, a rank killed, and a healthy cluster, each ending in the verdicts it should.
//! Verdicts come from the nodes compared with each other, never from absolute timings,
//! so that a loaded machine gives the same verdicts. The four whose verdicts compare
//! the nodes run alone (`serial_`, as `scripts/test.sh` runs them): the simulated nodes
//! share the host's cores, so a test running beside them can slow one node's
//! measurements, as no real node is slowed by another machine's load.

use crate::common::*;
use crate::simcluster::{fail_if_ended, one_cluster_at_a_time, unavailable};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

macro_rules! require_namespaces {
    () => {
        if let Some(why) = unavailable() {
            eprintln!("SKIPPED: simulated-cluster test needs root and network namespaces: {why}");
            return;
        }
    };
}

/// Small sizes: each test's cluster runs well within a minute on two shared cores.
const SMALL: [&str; 13] = [
    "--quick",
    "--backend",
    "cpu",
    "-n",
    "3",
    "--array-size",
    "4M",
    "--matmul-sizes",
    "128",
    "-e",
    "256K",
    "--bandwidth-size",
    "256K",
];

/// `simcluster.sh -n 4 OPTIONS -- mpirun -np RANKS clusterbench accept SMALL EXTRA`.
fn accept(
    prefix: &str,
    subnet: &str,
    options: &[&str],
    ranks: usize,
    out: &Path,
    extra: &[&str],
) -> Command {
    accept_on(4, prefix, subnet, options, ranks, out, extra)
}

/// The same on `nodes` nodes.
fn accept_on(
    nodes: usize,
    prefix: &str,
    subnet: &str,
    options: &[&str],
    ranks: usize,
    out: &Path,
    extra: &[&str],
) -> Command {
    let mut line = format!(
        "$SIM_MPIRUN -np {ranks} {} accept --output {}",
        bin().display(),
        out.display()
    );
    for a in SMALL.iter().chain(extra) {
        line.push(' ');
        line.push_str(a);
    }
    let mut c = Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/simcluster.sh"
    ));
    c.args(["-n", &nodes.to_string(), "-p", prefix, "-s", subnet])
        .args(options)
        .args(["--", "bash", "-c", &line]);
    c
}

/// The acceptance document written into `out`.
fn verdict_file(out: &Path) -> Option<PathBuf> {
    std::fs::read_dir(out)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            let name = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            name.starts_with("accept-") && name.ends_with(".json")
        })
}

fn read_verdict(out: &Path) -> Value {
    let path = verdict_file(out).unwrap_or_else(|| panic!("no verdict file in {}", out.display()));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Each node's verdict, by host.
fn verdicts(doc: &Value) -> Vec<(String, String)> {
    doc["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| {
            (
                n["host"].as_str().unwrap().to_string(),
                n["action"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn expect(doc: &Value, o: &Output, want: &[(&str, &str)]) {
    let got = verdicts(doc);
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(h, a)| (h.to_string(), a.to_string()))
        .collect();
    assert_eq!(
        got,
        want,
        "{}\n{}\n{}",
        serde_json::to_string_pretty(&doc["nodes"]).unwrap(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn serial_accept_isolates_the_node_capped_lower_and_passes_the_others() {
    require_namespaces!();
    let _one = one_cluster_at_a_time();
    let dir = tempdir();
    let o = accept(
        "cbaca",
        "10.241.60",
        &["-r", "400mbit", "-c", "3=100mbit"],
        4,
        dir.path(),
        &[],
    )
    .output()
    .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let doc = read_verdict(dir.path());
    expect(
        &doc,
        &o,
        &[
            ("cbacan1", "pass"),
            ("cbacan2", "pass"),
            ("cbacan3", "isolate"),
            ("cbacan4", "pass"),
        ],
    );
    assert_eq!(doc["complete"], true);
    assert_eq!(doc["cluster"], "isolate");
    assert_eq!(doc["drain"], serde_json::json!(["cbacan3"]));
    let reasons = &doc["nodes"][2]["reasons"];
    assert!(
        reasons
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["step"] == "links"
                && r["action"] == "isolate"
                && r["records"][0]
                    .as_str()
                    .unwrap()
                    .starts_with("/steps/5/documents/0/links/nodes/")),
        "{reasons}"
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("scontrol update nodename=cbacan3 state=drain reason="),
        "{stdout}"
    );
    // The report opens with the verdict table.
    let html =
        std::fs::read_to_string(verdict_file(dir.path()).unwrap().with_extension("html")).unwrap();
    let body = &html[html.find("<body>").unwrap()..];
    assert!(
        body.starts_with("<body><section id=\"verdict\">"),
        "{}",
        &body[..200.min(body.len())]
    );
    assert!(body.find("cbacan3").unwrap() < body.find("Environment").unwrap());
}

#[test]
fn serial_accept_isolates_the_node_slowed_by_its_per_node_flags() {
    require_namespaces!();
    let _one = one_cluster_at_a_time();
    let dir = tempdir();
    let o = accept(
        "cbacs",
        "10.241.61",
        &["-r", "400mbit"],
        4,
        dir.path(),
        &["--debug-slowdown", "4", "--debug-slow-rank", "1"],
    )
    .output()
    .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let doc = read_verdict(dir.path());
    let slow = doc["nodes"][1].clone();
    assert_eq!(slow["host"], "cbacsn2");
    assert_eq!(slow["action"], "isolate", "{slow}");
    assert!(
        slow["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["step"] == "compute"
                && r["action"] == "isolate"
                && r["records"][0]
                    .as_str()
                    .unwrap()
                    .starts_with("/steps/1/documents/")),
        "the per-node flags of the compute step: {slow}"
    );
    for n in [0, 2, 3] {
        assert!(
            doc["nodes"][n]["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["step"] != "compute" || r["action"] == "pass"),
            "{}",
            doc["nodes"][n]
        );
    }
}

/// Waits until the verdict file says step `step` is under way.
fn wait_for_step(child: &mut Child, out: &Path, step: usize) -> Value {
    let start = Instant::now();
    loop {
        if let Some(doc) = verdict_file(out)
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        {
            if doc["steps"][step]["status"] == "interrupted" {
                return doc;
            }
        }
        fail_if_ended(child, &format!("step {step} began"));
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "step {step} never began"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn serial_accept_isolates_the_node_of_a_killed_rank_and_the_job_ends_with_its_verdict() {
    require_namespaces!();
    let _one = one_cluster_at_a_time();
    let dir = tempdir();
    let mut child = accept("cback", "10.241.62", &["-r", "100mbit"], 4, dir.path(), &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // During the links matrix, the longest step.
    let doc = wait_for_step(&mut child, dir.path(), 5);
    let pid = doc["environment"]["ranks"][2]["pid"].to_string();
    assert!(Command::new("kill")
        .args(["-KILL", &pid])
        .status()
        .unwrap()
        .success());
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("the job was still running a minute after the kill");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let o = child.wait_with_output().unwrap();
    assert!(!o.status.success());
    let doc = read_verdict(dir.path());
    expect(
        &doc,
        &o,
        &[
            ("cbackn1", "pass"),
            ("cbackn2", "pass"),
            ("cbackn3", "isolate"),
            ("cbackn4", "pass"),
        ],
    );
    assert_eq!(doc["complete"], false);
    assert_eq!(doc["steps"][5]["status"], "interrupted");
    let reasons = doc["nodes"][2]["reasons"].as_array().unwrap();
    assert!(
        reasons.iter().any(|r| r["action"] == "isolate"
            && r["step"] == "links"
            && r["why"]
                .as_str()
                .unwrap()
                .contains("rank 2 ended unexpectedly")
            && r["records"][0] == "/environment/ranks/2"),
        "{reasons:?}"
    );
    assert!(verdict_file(dir.path())
        .unwrap()
        .with_extension("html")
        .exists());
}

#[test]
fn serial_accept_passes_a_healthy_cluster_and_exits_0() {
    require_namespaces!();
    let _one = one_cluster_at_a_time();
    let dir = tempdir();
    let o = accept("cbach", "10.241.63", &["-r", "400mbit"], 4, dir.path(), &[])
        .output()
        .unwrap();
    let doc = read_verdict(dir.path());
    expect(
        &doc,
        &o,
        &[
            ("cbachn1", "pass"),
            ("cbachn2", "pass"),
            ("cbachn3", "pass"),
            ("cbachn4", "pass"),
        ],
    );
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(doc["cluster"], "pass");
    assert_eq!(doc["complete"], true);
    assert_eq!(doc["drain"], serde_json::json!([]));
    assert!(doc["drain_command"].is_null());
    let status: Vec<&str> = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    // One rank per node: nothing to reduce within a node; no claims for these hosts.
    assert_eq!(
        status,
        [
            "completed",
            "completed",
            "skipped",
            "completed",
            "completed",
            "completed",
            "skipped"
        ]
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("no node to take out"));
}

/// Two ranks on each of two nodes: the all-reduce within each node runs on its two
/// ranks, the network-only one on one rank per node, the full one on all four. (Two
/// nodes have no majority to single one out: no slow flags.)
#[test]
fn accept_splits_the_job_per_node_and_per_node_leader() {
    require_namespaces!();
    let _one = one_cluster_at_a_time();
    let dir = tempdir();
    let o = accept_on(
        2,
        "cbacp",
        "10.241.64",
        &["-r", "400mbit", "--slots", "2"],
        4,
        dir.path(),
        &[],
    )
    .output()
    .unwrap();
    let doc = read_verdict(dir.path());
    expect(&doc, &o, &[("cbacpn1", "pass"), ("cbacpn2", "pass")]);
    assert_eq!(o.status.code(), Some(0));
    let steps = doc["steps"].as_array().unwrap();
    let records = |step: usize, k: usize| {
        steps[step]["documents"][k]["records"]
            .as_array()
            .unwrap()
            .clone()
    };
    for k in 0..2 {
        assert!(!records(2, k).is_empty());
        assert!(records(2, k)
            .iter()
            .all(|r| r["ranks"] == 2 && r["nodes"] == 1 && r["check"]["passed"] == true));
        assert!(records(1, k)
            .iter()
            .all(|r| r["ranks"] == 2 && r["nodes"] == 1));
    }
    assert!(records(3, 0)
        .iter()
        .all(|r| r["ranks"] == 2 && r["nodes"] == 2));
    assert!(records(4, 0)
        .iter()
        .all(|r| r["ranks"] == 4 && r["nodes"] == 2));
    assert_eq!(
        steps[5]["documents"][0]["links"]["hosts"],
        serde_json::json!(["cbacpn1", "cbacpn2"])
    );
}
