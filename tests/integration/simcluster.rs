//! Four simulated nodes (network namespaces joined by a bridge, scripts/simcluster.sh),
//! ranks started in them by mpirun. Needs root and permission to create namespaces
//! (CI has both); elsewhere each test prints why it skips.
//!
//! The tests take one lock, so that two clusters never share the two cores and the
//! bandwidth figures stay clean; each also has its own names and subnet.

use crate::common::*;
use clusterbench::results::{Params, RunDocument};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static ONE_CLUSTER_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Held for a test's whole cluster (a failed test must not block the others).
pub(crate) fn one_cluster_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_CLUSTER_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// Why simulated nodes cannot be made here, if they cannot.
pub(crate) fn unavailable() -> Option<String> {
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Some("not running as root".into());
    }
    static PROBES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = PROBES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let probe = format!("cbprobe{}-{n}", std::process::id());
    let ok = Command::new("ip")
        .args(["netns", "add", &probe])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let _ = Command::new("ip").args(["netns", "del", &probe]).status();
    if !ok {
        return Some("network namespaces cannot be created here (ip netns add failed)".into());
    }
    None
}

macro_rules! require_namespaces {
    () => {
        if let Some(why) = unavailable() {
            eprintln!("SKIPPED: simulated-cluster test needs root and network namespaces: {why}");
            return;
        }
    };
}

/// `scripts/simcluster.sh OPTIONS -- mpirun -np 4 clusterbench ARGS`.
pub(crate) fn cluster(prefix: &str, subnet: &str, options: &[&str], args: &[&str]) -> Command {
    cluster_of(4, prefix, subnet, options, &[], args)
}

/// `scripts/simcluster.sh -n NODES OPTIONS -- mpirun -np NODES MPIRUN_ARGS clusterbench ARGS`.
pub(crate) fn cluster_of(
    nodes: usize,
    prefix: &str,
    subnet: &str,
    options: &[&str],
    mpirun_args: &[&str],
    args: &[&str],
) -> Command {
    let mut line = format!("$SIM_MPIRUN -np {nodes}");
    for a in mpirun_args {
        line.push(' ');
        line.push_str(a);
    }
    line.push_str(&format!(" {}", bin().display()));
    for a in args {
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

pub(crate) fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "simulated cluster run failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub(crate) fn namespaces_left(prefix: &str) -> Vec<String> {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

pub(crate) fn output_arg(dir: &Path) -> String {
    dir.join("r").display().to_string()
}

pub(crate) fn document(dir: &Path) -> RunDocument {
    let (path, doc) = only_document(&dir.join("r"));
    assert_matches_schema(&path);
    doc
}

#[test]
fn every_collective_and_p2p_is_correct_across_four_nodes() {
    require_namespaces!();
    let _one = one_cluster_at_a_time();
    let dir = tempdir();
    let out = output_arg(dir.path());
    let o = cluster(
        "cbcol",
        "10.241.1",
        &[],
        &[
            "run",
            "--bench",
            "allreduce,allgather,reducescatter,broadcast,alltoall,p2p",
            "-b",
            "4",
            "-e",
            "256K",
            "-f",
            "64",
            "-n",
            "3",
            "-w",
            "1",
            "-d",
            "float,int64",
            "--peers",
            "1,3",
            "-q",
            "--output",
            &out,
        ],
    )
    .output()
    .unwrap();
    ok(&o);
    assert!(
        namespaces_left("cbcol").is_empty(),
        "namespaces left behind"
    );
    let doc = document(dir.path());
    assert_all_checked_and_passed(&doc);
    let hosts: Vec<&str> = doc
        .environment
        .ranks
        .iter()
        .map(|r| r.host.as_str())
        .collect();
    assert_eq!(hosts, ["cbcoln1", "cbcoln2", "cbcoln3", "cbcoln4"]);
    for bench in [
        "allreduce",
        "allgather",
        "reducescatter",
        "broadcast",
        "alltoall",
        "p2p",
    ] {
        let recs: Vec<_> = doc
            .records
            .iter()
            .filter(|r| r.benchmark == bench)
            .collect();
        assert!(!recs.is_empty(), "no {bench} records");
        assert!(recs.iter().all(|r| r.nodes == 4 && r.ranks == 4), "{bench}");
    }
    for mode in ["latency", "bandwidth", "bidir"] {
        assert!(doc.records.iter().any(|r| matches!(&r.params,
            Params::PointToPoint { mode: m, from: 1, to: 3, from_host, to_host, .. }
                if m == mode && from_host == "cbcoln2" && to_host == "cbcoln4")));
    }
}

#[test]
fn serial_bandwidth_through_a_1_gbit_cap_is_the_tcp_payload_limit() {
    require_namespaces!();
    let _one = one_cluster_at_a_time();
    let dir = tempdir();
    let out = output_arg(dir.path());
    let o = cluster(
        "cbcap",
        "10.241.2",
        &["-r", "1gbit"],
        &[
            "run", "--bench", "p2p", "--peers", "0,2", "-b", "1M", "-e", "1M", "-n", "5", "-w",
            "1", "-q", "--output", &out,
        ],
    )
    .output()
    .unwrap();
    ok(&o);
    let doc = document(dir.path());
    assert_all_checked_and_passed(&doc);
    let bw = doc
        .records
        .iter()
        .find(|r| matches!(&r.params, Params::PointToPoint { mode, .. } if mode == "bandwidth"))
        .and_then(|r| r.metric("bandwidth"))
        .expect("a bandwidth record")
        .value;
    // tbf counts each packet with its Ethernet header: at 1500-byte MTU a full segment is
    // 1514 bytes carrying 1448 of payload (TCP timestamps on), so 1 Gbit/s carries
    // 125e6 x 1448 / 1514 ~ 119.6 MB/s.
    let limit = 0.1196;
    assert!(
        (bw - limit).abs() / limit < 0.05,
        "measured {bw:.4} GB/s through a 1 Gbit/s cap; expected within 5% of {limit} GB/s"
    );
}

/// Each multi-node record carries a per-node summary; a node much slower than the
/// others at work its ranks do alone is flagged, in the results and on the terminal.
#[test]
fn a_slow_node_is_flagged_in_the_per_node_summaries() {
    require_namespaces!();
    let _one = one_cluster_at_a_time();
    let dir = tempdir();
    let out = output_arg(dir.path());
    let o = cluster(
        "cbslw",
        "10.241.9",
        &[],
        &[
            "run",
            "--bench",
            "matmul,allreduce",
            "--sizes",
            "128",
            "-d",
            "float",
            "-b",
            "8",
            "-e",
            "1K",
            "-f",
            "128",
            "-n",
            "10",
            "-w",
            "2",
            "--debug-slowdown",
            "4",
            "--debug-slow-rank",
            "2",
            "--output",
            &out,
        ],
    )
    .output()
    .unwrap();
    ok(&o);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("SLOW NODE cbslwn3 (ranks 2)"),
        "the terminal names the slow node:\n{stdout}"
    );
    let doc = document(dir.path());
    assert_all_checked_and_passed(&doc);
    for r in &doc.records {
        let hosts: Vec<&str> = r.per_node.iter().map(|n| n.host.as_str()).collect();
        assert_eq!(hosts, ["cbslwn1", "cbslwn2", "cbslwn3", "cbslwn4"], "{r:?}");
        for (i, n) in r.per_node.iter().enumerate() {
            assert_eq!(n.ranks, [i as u32]);
            assert!(n.median_s > 0.0 && n.median_s <= r.time_s.max, "{n:?}");
            // Flags only where ranks work alone: matmul, not the collective.
            assert_eq!(
                n.slow,
                r.benchmark == "matmul" && n.host == "cbslwn3",
                "{}: {:?}",
                r.benchmark,
                r.per_node
            );
        }
    }
    assert!(doc.records.iter().any(|r| r.benchmark == "allreduce"));
}

/// The alpha-beta model, fitted to all-reduce sweeps on 2 and 4 simulated nodes,
/// predicts a measured 8-node all-reduce within 15% from 1 MiB up.
///
/// Every node's link is capped at 200 Mbit/s each way, so the network, not the two
/// shared cores, sets the pace. Open MPI runs its ring algorithm (the one predicted) and
/// sends messages up to 32 MiB eagerly: with its default rendezvous protocol, two ranks
/// that send each other a large message over one TCP connection take turns (the
/// rendezvous reply queues behind the bulk data already on that connection), so a
/// 2-node ring runs at half the link's speed while 4 and 8 nodes, whose ranks send and
/// receive on different connections, do not.
#[test]
fn serial_prediction_from_two_and_four_nodes_matches_eight() {
    require_namespaces!();
    let _one = one_cluster_at_a_time();
    const TOLERANCE: f64 = 0.15;
    let mpirun = [
        "--mca",
        "coll_tuned_use_dynamic_rules",
        "1",
        "--mca",
        "coll_tuned_allreduce_algorithm",
        "4",
        "--mca",
        "btl_tcp_eager_limit",
        "33554432",
        "--mca",
        "btl_tcp_rndv_eager_limit",
        "33554432",
        "--mca",
        "btl_tcp_max_send_size",
        "33554432",
    ];
    let dir = tempdir();
    let mut runs = Vec::new();
    for (nodes, subnet) in [(2, "10.241.6"), (4, "10.241.7"), (8, "10.241.8")] {
        let out = dir.path().join(format!("n{nodes}"));
        let o = cluster_of(
            nodes,
            &format!("cbpr{nodes}"),
            subnet,
            &["-r", "200mbit"],
            &mpirun,
            &[
                "run",
                "--bench",
                "allreduce",
                "-b",
                "64K",
                "-e",
                "16M",
                "-f",
                "4",
                "-n",
                "5",
                "-w",
                "1",
                "-q",
                "--output",
                &out.display().to_string(),
            ],
        )
        .output()
        .unwrap();
        ok(&o);
        let (path, doc) = only_document(&out);
        assert_all_checked_and_passed(&doc);
        assert!(doc.records.iter().all(|r| r.nodes as usize == nodes));
        runs.push((path, doc));
    }
    let o = Command::new(bin())
        .args([
            "predict", "--ranks", "8", "-b", "1M", "-e", "16M", "-f", "4",
        ])
        .args(["--format", "json", "--calibrate"])
        .arg(&runs[0].0)
        .arg(&runs[1].0)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let predicted: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let predictions = predicted["predictions"].as_array().unwrap();
    assert_eq!(predictions.len(), 3);
    let mut report = String::from("size      predicted   measured   error\n");
    let mut worst = 0.0f64;
    for p in predictions {
        let bytes = p["bytes"].as_u64().unwrap();
        let ring = p["ring_s"].as_f64().unwrap();
        let measured = runs[2]
            .1
            .records
            .iter()
            .find(|r| {
                matches!(r.params, Params::Collective { bytes: b, in_place: false, .. } if b == bytes)
            })
            .unwrap_or_else(|| panic!("an 8-node out-of-place record of {bytes} bytes"))
            .time_s
            .median;
        let error = ring / measured - 1.0;
        worst = worst.max(error.abs());
        report.push_str(&format!(
            "{bytes:>9} {:>8.1} ms {:>8.1} ms {:>+6.1}%\n",
            ring * 1e3,
            measured * 1e3,
            error * 100.0
        ));
    }
    eprintln!("{report}");
    assert!(
        worst <= TOLERANCE,
        "8-node all-reduce predicted from 2 and 4 nodes is off by more than {:.0}%:\n{report}",
        TOLERANCE * 100.0
    );
}

/// Waits until the run's stream holds `records` records; returns its path.
/// Fails, with the job's standard error, if `child` has already ended before `what`.
pub(crate) fn fail_if_ended(child: &mut Child, what: &str) {
    if let Ok(Some(status)) = child.try_wait() {
        let mut stderr = String::new();
        if let Some(mut e) = child.stderr.take() {
            use std::io::Read;
            let _ = e.read_to_string(&mut stderr);
        }
        panic!("the job ended ({status}) before {what}: {stderr}");
    }
}

pub(crate) fn wait_for_records(child: &mut Child, dir: &Path, records: usize) -> PathBuf {
    let start = Instant::now();
    loop {
        if let Some(p) = std::fs::read_dir(dir).ok().and_then(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
        }) {
            let n = std::fs::read_to_string(&p)
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains(r#""type":"record""#))
                .count();
            if n >= records {
                return p;
            }
        }
        fail_if_ended(child, &format!("{records} records were written"));
        assert!(
            start.elapsed() < Duration::from_secs(240),
            "no records in time"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits for the child to end; returns its output and how long that took.
pub(crate) fn wait_end(mut child: Child, limit: Duration) -> (Output, Duration) {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("the job was still running {limit:?} after the fault");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    (child.wait_with_output().unwrap(), start.elapsed())
}

fn rank_pid(stream: &Path, rank: usize) -> String {
    let header = &stream_lines(&stream.with_extension("json"))[0];
    header["environment"]["ranks"][rank]["pid"].to_string()
}

/// The watchdog limit of the fault tests: far above one measurement of `long_run`
/// (300 all-reduces of at most 1 MiB) even on a loaded machine.
pub(crate) const TIMEOUT_S: u64 = 20;

/// A long all-reduce sweep on four nodes (prefix `prefix`), `mpirun_args` given to
/// mpirun and `extra` added to the run, with its output streams piped.
pub(crate) fn long_run(
    prefix: &str,
    subnet: &str,
    out: &str,
    mpirun_args: &[&str],
    extra: &[&str],
) -> Child {
    let timeout = TIMEOUT_S.to_string();
    let mut args = vec![
        "run",
        "--bench",
        "allreduce",
        "-b",
        "8",
        "-e",
        "1M",
        "-f",
        "2",
        "-n",
        "300",
        "-w",
        "10",
        "-q",
        "--timeout",
        &timeout,
        "--output",
        out,
    ];
    args.extend_from_slice(extra);
    cluster_of(4, prefix, subnet, &[], mpirun_args, &args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Starts a long run on 4 nodes, sends `signal` to `rank` once two records are on disk,
/// and checks that the job then fails within `limit` with those records kept. Returns
/// the job's standard error.
fn fault_mid_run(prefix: &str, subnet: &str, rank: usize, signal: &str, limit: Duration) -> String {
    let _one = one_cluster_at_a_time();
    let dir = tempdir();
    let out = output_arg(dir.path());
    let mut child = long_run(prefix, subnet, &out, &[], &[]);
    let stream = wait_for_records(&mut child, &dir.path().join("r"), 2);
    let pid = rank_pid(&stream, rank);
    assert!(Command::new("kill")
        .args([signal, &pid])
        .status()
        .unwrap()
        .success());
    let (o, took) = wait_end(child, limit);
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(
        !o.status.success(),
        "the job must fail after {signal}: {stderr}"
    );
    assert!(took < limit, "{took:?}");
    let kept = stream_lines(&stream.with_extension("json"));
    assert!(kept.iter().filter(|l| l["type"] == "record").count() >= 2);
    assert!(namespaces_left(prefix).is_empty(), "namespaces left behind");
    stderr
}

#[test]
fn a_killed_rank_ends_the_job_with_partial_results_kept() {
    require_namespaces!();
    fault_mid_run(
        "cbkil",
        "10.241.4",
        2,
        "-KILL",
        Duration::from_secs(TIMEOUT_S + 30),
    );
}

#[test]
fn a_stalled_rank_is_caught_by_the_watchdog() {
    require_namespaces!();
    // Stopped mid-measurement: the others wait in the all-reduce until the watchdog
    // (--timeout 20) ends the job.
    let stderr = fault_mid_run(
        "cbstl",
        "10.241.5",
        3,
        "-STOP",
        Duration::from_secs(TIMEOUT_S + 45),
    );
    eprintln!("{stderr}");
    assert!(
        stderr.contains("watchdog") && stderr.contains("allreduce"),
        "{stderr}"
    );
}
