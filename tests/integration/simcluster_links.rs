//! The link matrix on simulated nodes (scripts/simcluster.sh): a node capped lower, and
//! a node slow to answer, each flagged alone and for what it is slow in.

use crate::common::*;
use crate::simcluster::{cluster, document, ok, one_cluster_at_a_time, output_arg, unavailable};
use clusterbench::results::links::FlaggedFor;

macro_rules! require_namespaces {
    () => {
        if let Some(why) = unavailable() {
            eprintln!("SKIPPED: simulated-cluster test needs root and network namespaces: {why}");
            return;
        }
    };
}

#[test]
fn serial_link_matrix_flags_the_node_capped_lower() {
    require_namespaces!();
    let _one = one_cluster_at_a_time();
    let dir = tempdir();
    let out = output_arg(dir.path());
    let o = cluster(
        "cblnk",
        "10.241.3",
        // Caps low enough that no pair is limited by the two shared cores instead.
        &["-r", "400mbit", "-c", "3=100mbit"],
        &[
            "links",
            "--bandwidth-size",
            "256K",
            "--window",
            "16",
            "-n",
            "5",
            "-w",
            "1",
            "--output",
            &out,
        ],
    )
    .output()
    .unwrap();
    ok(&o);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("cblnkn3") && stdout.contains("SLOW: bandwidth"),
        "{stdout}"
    );
    assert!(
        stdout.contains("cblnkn3 (bandwidth)") || stdout.contains("cblnkn4 (bandwidth)"),
        "the flagged pairs name why: {stdout}"
    );
    let doc = document(dir.path());
    assert_all_checked_and_passed(&doc);
    let m = doc.links.expect("the document has the link matrix");
    assert_eq!(m.hosts, ["cblnkn1", "cblnkn2", "cblnkn3", "cblnkn4"]);
    assert_eq!(m.rounds, 3);
    assert_eq!(m.pairs.len(), 6);
    for n in &m.nodes {
        assert_eq!(
            n.slow_bandwidth,
            n.host == "cblnkn3",
            "{n:?} (stats {:?})",
            m.stats
        );
    }
    for p in &m.pairs {
        let involves = p.host_a == "cblnkn3" || p.host_b == "cblnkn3";
        assert_eq!(p.slow_bandwidth, involves, "{p:?}");
    }
    for i in 0..4 {
        assert_eq!(m.bandwidth_gbps[i][i], None);
        for j in 0..4 {
            assert_eq!(m.bandwidth_gbps[i][j], m.bandwidth_gbps[j][i]);
        }
    }
    // The same matrix was streamed, before the footer.
    let (path, _) = only_document(&dir.path().join("r"));
    assert!(stream_lines(&path).iter().any(|l| l["type"] == "links"));
    // And drawn as heatmaps, one row and column per node.
    let charts = path.with_file_name(format!(
        "{}-charts",
        path.file_stem().unwrap().to_string_lossy()
    ));
    for metric in ["bandwidth", "latency"] {
        let svg = std::fs::read_to_string(charts.join(format!("links-{metric}.svg")))
            .unwrap_or_else(|e| panic!("links-{metric}.svg in {}: {e}", charts.display()));
        let xml = roxmltree::Document::parse(&svg).expect("the heatmap SVG is XML");
        let texts: Vec<&str> = xml
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .collect();
        for host in &m.hosts {
            assert!(
                texts.iter().any(|t| t.trim() == host),
                "{host} labels the {metric} heatmap: {texts:?}"
            );
        }
    }
}

/// A node whose link adds latency: its rank waits 50 ms before each send of the latency
/// test (the hidden --debug-latency-rank; the kernel here has no netem to delay the
/// node's link itself, and two shared cores leave no CPU to contend for one node
/// alone). Scheduling on a loaded machine stretches other round trips to a millisecond
/// or so; the flags compare nodes with each other, and with one node far above the
/// rest the line sits well above every other node's median, so that only the slowed
/// node and its pairs cross it, for latency and nothing else.
#[test]
fn serial_link_matrix_flags_the_node_slow_to_answer_for_latency() {
    require_namespaces!();
    let _one = one_cluster_at_a_time();
    let dir = tempdir();
    let out = output_arg(dir.path());
    let o = cluster(
        "cblat",
        "10.241.31",
        // Equal caps, low enough that no pair's bandwidth is limited by the cores.
        &["-r", "400mbit"],
        &[
            "links",
            "--bandwidth-size",
            "64K",
            "--window",
            "8",
            "-n",
            "5",
            "-w",
            "1",
            "--debug-latency-rank",
            "2",
            "--output",
            &out,
        ],
    )
    .output()
    .unwrap();
    ok(&o);
    let doc = document(dir.path());
    assert_all_checked_and_passed(&doc);
    let m = doc.links.expect("the document has the link matrix");
    assert_eq!(m.passes, Some(2));
    for n in &m.nodes {
        let expected = (n.host == "cblatn3").then_some(FlaggedFor::Latency);
        assert_eq!(n.flagged_for, expected, "{n:?} (stats {:?})", m.stats);
        assert_eq!(n.slow_latency, n.host == "cblatn3", "{n:?}");
    }
    for p in &m.pairs {
        let involves = p.host_a == "cblatn3" || p.host_b == "cblatn3";
        assert_eq!(
            p.flagged_for,
            involves.then_some(FlaggedFor::Latency),
            "{p:?}"
        );
        if involves {
            assert!(
                p.latency_us > 2.5e3,
                "half of a round trip with 5 ms added: {p:?}"
            );
        }
    }
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("<-- SLOW: latency"), "{stdout}");
    let flagged = stdout
        .lines()
        .find(|l| l.starts_with("# flagged pairs:"))
        .unwrap_or_else(|| panic!("a flagged-pairs line: {stdout}"));
    assert_eq!(flagged.matches("(latency)").count(), 3, "{flagged}");
    assert!(!flagged.contains("bandwidth"), "{flagged}");
}
