//! A node whose link dies or crawls ends the job by itself: on four simulated nodes,
//! node 3's link goes down before a measurement, during one, or is throttled to
//! 1 kbit/s. Each time the job (mpirun included) ends within `--timeout` plus 30 s of
//! the fault, with mpirun set up as `harness/launch/mpirun.sh` sets it up, rank 0's
//! `.json` says `aborted` with the reason and the step, and names rank 2 on node 3
//! where that can be known. Every rank's message is a line of its own.

use crate::common::*;
use crate::simcluster::{
    long_run, namespaces_left, one_cluster_at_a_time, output_arg, unavailable, wait_for_records,
    TIMEOUT_S,
};
use clusterbench::results::{Culprit, RunDocument, RunStatus};
use std::path::Path;
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

/// The promise: a job with a fault ends within `--timeout` plus this grace.
const GRACE: Duration = Duration::from_secs(30);

/// The mpirun settings of `harness/launch/mpirun.sh` that end a job with a dead node
/// (its `ending=(...)` array), so that the test runs what users run.
fn harness_ending_settings() -> Vec<String> {
    let script = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/harness/launch/mpirun.sh"
    ))
    .expect("harness/launch/mpirun.sh");
    let start = script
        .find("ending=(")
        .expect("mpirun.sh sets ending=(...)")
        + 8;
    let end = start + script[start..].find(')').expect("ending=(...) is closed");
    let words: Vec<String> = script[start..end]
        .split_whitespace()
        .map(str::to_string)
        .collect();
    assert!(
        words.iter().any(|w| w == "oob_tcp_keepalive_time"),
        "{words:?}"
    );
    words
}

/// Runs `command` on this machine (in the node's namespace when it says so).
fn sh(command: &str) {
    let status = Command::new("sh").args(["-c", command]).status().unwrap();
    assert!(status.success(), "{command}");
}

/// Waits for the job to end; past `limit`, ends the cluster (its teardown runs on
/// SIGTERM) and fails.
fn wait_end(mut child: Child, limit: Duration) -> (Output, Duration) {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let out = child.wait_with_output().unwrap();
            panic!(
                "the job was still running {limit:?} after the fault:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    (child.wait_with_output().unwrap(), start.elapsed())
}

/// Starts the run, waits for `records` records, applies `fault`, and checks that the
/// job ends within the bound with an aborted document and whole lines. Returns the
/// document and the job's standard error.
fn fault_case(
    prefix: &str,
    subnet: &str,
    extra: &[&str],
    records: usize,
    fault: &str,
) -> (RunDocument, String) {
    let _one = one_cluster_at_a_time();
    let dir = tempdir();
    let out = output_arg(dir.path());
    let settings = harness_ending_settings();
    let settings: Vec<&str> = settings.iter().map(String::as_str).collect();
    let mut child = long_run(prefix, subnet, &out, &settings, extra);
    let results = dir.path().join("r");
    wait_for_records(&mut child, &results, records);
    sh(&fault
        .replace("NODE", &format!("{prefix}n3"))
        .replace("HOSTSIDE", &format!("{prefix}h3")));
    let limit = Duration::from_secs(TIMEOUT_S) + GRACE;
    let (o, took) = wait_end(child, limit);
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(!o.status.success(), "the job must fail: {stderr}");
    assert!(took < limit, "{took:?}\n{stderr}");
    assert!(namespaces_left(prefix).is_empty(), "namespaces left behind");
    let doc = aborted_document(&results, &stderr);
    assert!(doc.records.len() >= records, "{stderr}");
    // One message per line: no line holds two ranks' messages.
    for line in stderr.lines() {
        assert!(line.matches("clusterbench:").count() <= 1, "{line}");
    }
    (doc, stderr)
}

/// Rank 0's `.json`, checked against the `.jsonl` footer: aborted, with a reason and
/// the step.
fn aborted_document(results: &Path, stderr: &str) -> RunDocument {
    let (path, doc) = only_document(results);
    assert_matches_schema(&path);
    assert_eq!(doc.run.status, RunStatus::Aborted, "{stderr}");
    let abort = doc.run.abort.clone().expect("the document says why");
    assert!(abort.reason.contains("allreduce"), "{}", abort.reason);
    assert!(
        abort
            .step
            .as_deref()
            .is_some_and(|s| s.contains("allreduce")),
        "{abort:?}"
    );
    let footer = stream_lines(&path)
        .into_iter()
        .find(|l| l["type"] == "footer")
        .expect("the stream has its footer");
    assert_eq!(footer["status"], "aborted");
    assert_eq!(footer["abort"]["reason"], abort.reason.as_str());
    doc
}

fn node_3(prefix: &str) -> Vec<Culprit> {
    vec![Culprit {
        rank: 2,
        host: Some(format!("{prefix}n3")),
    }]
}

#[test]
fn a_link_down_during_a_measurement_ends_the_job_naming_the_node() {
    if let Some(why) = unavailable() {
        eprintln!("SKIPPED: simulated-cluster test needs root and network namespaces: {why}");
        return;
    }
    let prefix = "cbfdn";
    let (doc, stderr) = fault_case(
        prefix,
        "10.241.40",
        &[],
        2,
        "ip netns exec NODE ip link set eth0 down",
    );
    let abort = doc.run.abort.unwrap();
    assert_eq!(abort.culprits, node_3(prefix), "{stderr}");
    assert!(abort.step.unwrap().contains(" of "), "{stderr}");
    // The live ranks say who, rather than each that it made no progress.
    assert!(
        stderr
            .lines()
            .filter(|l| l.contains(&format!("rank 2 ({prefix}n3) went silent")))
            .count()
            >= 2,
        "{stderr}"
    );
}

#[test]
fn a_link_down_before_a_measurement_ends_the_job_naming_the_node() {
    if let Some(why) = unavailable() {
        eprintln!("SKIPPED: simulated-cluster test needs root and network namespaces: {why}");
        return;
    }
    let prefix = "cbfbf";
    // Rank 2 holds back from the second measurement (4 x --timeout) while its link
    // goes down: the others wait for it to arrive.
    let (doc, stderr) = fault_case(
        prefix,
        "10.241.41",
        &["--debug-stall-rank", "2"],
        1,
        "ip netns exec NODE ip link set eth0 down",
    );
    let abort = doc.run.abort.unwrap();
    assert_eq!(abort.culprits, node_3(prefix), "{stderr}");
    assert!(
        abort.step.unwrap().contains("before it started"),
        "{stderr}"
    );
}

#[test]
fn a_link_throttled_to_1_kbit_ends_the_job() {
    if let Some(why) = unavailable() {
        eprintln!("SKIPPED: simulated-cluster test needs root and network namespaces: {why}");
        return;
    }
    let prefix = "cbfth";
    let tbf = "tbf rate 1kbit burst 1600 latency 400ms";
    let (doc, stderr) = fault_case(
        prefix,
        "10.241.42",
        &[],
        2,
        &format!(
            "ip netns exec NODE tc qdisc replace dev eth0 root {tbf} && tc qdisc replace dev HOSTSIDE root {tbf}"
        ),
    );
    eprintln!("{stderr}");
    // A crawling link still carries the heartbeats: rank 0 names the rank behind it by
    // its round trips, when they stand out from the others' (it may also not know).
    let culprits = doc.run.abort.unwrap().culprits;
    assert!(
        culprits.is_empty() || culprits == node_3(prefix),
        "{culprits:?}\n{stderr}"
    );
}
