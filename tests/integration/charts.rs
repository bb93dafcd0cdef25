//! The charts and report pages people expect: `plot` and `report` on the committed
//! baseline, imported logs from `tests/fixtures/`, and documents derived from them.

use crate::common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

const BASELINE: &str = "results/baselines/quick-cpu-2core.json";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn baseline() -> Value {
    let text = std::fs::read_to_string(repo().join(BASELINE)).expect("baseline committed");
    serde_json::from_str(&text).expect("baseline is JSON")
}

fn write_doc(dir: &Path, name: &str, doc: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(doc).unwrap()).unwrap();
    path
}

/// Imports a log from `tests/fixtures/` into `dir/<stem>.json`.
fn import(dir: &Path, log: &str, options: &[&str], stem: &str) -> PathBuf {
    let out = dir.join(format!("{stem}.json"));
    clusterbench(repo())
        .arg("import")
        .arg(format!("tests/fixtures/{log}"))
        .args(options)
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    out
}

fn plot(dir: &Path, inputs: &[&Path]) -> PathBuf {
    let charts = dir.join("charts");
    clusterbench(repo())
        .arg("plot")
        .args(inputs)
        .arg("-o")
        .arg(&charts)
        .assert()
        .success();
    charts
}

fn report(dir: &Path, inputs: &[&Path]) -> String {
    let out = dir.join("report.html");
    clusterbench(repo())
        .arg("report")
        .args(inputs)
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    std::fs::read_to_string(out).unwrap()
}

/// The texts of an SVG chart, which must parse as XML.
fn svg_texts(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc = roxmltree::Document::parse(&text).expect("SVG is XML");
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text().map(|t| t.trim().to_string()))
        .collect()
}

#[test]
fn point_to_point_latency_is_drawn_against_size_on_log_axes() {
    let dir = tempdir();
    let latency = import(
        dir.path(),
        "osu_latency-v5.6.2-handwritten.out",
        &["--hosts", "node1,node2", "--nodes", "2"],
        "latency",
    );
    let charts = plot(dir.path(), &[&latency]);
    let texts = svg_texts(&charts.join("p2p-latency.svg"));
    assert_eq!(texts[0], "p2p: latency vs message size", "{texts:?}");
    // Both axes are logarithmic: sizes in binary units, times in decades.
    for label in ["1 B", "1 KiB", "1 µs", "10 µs"] {
        assert!(texts.iter().any(|t| t == label), "no {label}: {texts:?}");
    }
    assert!(charts.join("p2p-latency.png").is_file());
}

#[test]
fn latency_against_ranks_draws_only_sizes_measured_at_two_counts() {
    let dir = tempdir();
    // The baseline's all-reduce records as if run on 2 ranks (its own are one-rank
    // local copies, which no chart of latency draws), and again at 4 ranks for the
    // sizes up to 1 KiB only.
    let mut one = baseline();
    for r in one["records"].as_array_mut().unwrap() {
        if r["benchmark"] == "allreduce" {
            r["ranks"] = Value::from(2);
        }
    }
    let mut two = one.clone();
    let records = two["records"].as_array_mut().unwrap();
    records.retain(|r| {
        r["benchmark"] == "allreduce" && r["params"]["bytes"].as_u64().is_some_and(|b| b <= 1024)
    });
    assert!(
        !records.is_empty(),
        "the baseline has small allreduce sizes"
    );
    for r in records.iter_mut() {
        r["ranks"] = Value::from(4);
    }
    let sizes: Vec<u64> = records
        .iter()
        .filter_map(|r| r["params"]["bytes"].as_u64())
        .collect();
    let a = write_doc(dir.path(), "one.json", &one);
    let b = write_doc(dir.path(), "two.json", &two);
    let charts = plot(dir.path(), &[&a, &b]);
    let texts = svg_texts(&charts.join("allreduce-latency-scaling.svg"));
    let legend: Vec<&String> = texts
        .iter()
        .filter(|t| t.ends_with(" B") || t.ends_with("KiB") || t.ends_with("MiB"))
        .collect();
    assert!(!legend.is_empty(), "{texts:?}");
    for t in &legend {
        let bytes: u64 = match t.split_once(' ') {
            Some((n, "B")) => n.parse().unwrap(),
            Some((n, "KiB")) => n.parse::<u64>().unwrap() * 1024,
            _ => panic!("a size above 1 KiB drawn against ranks: {t}"),
        };
        assert!(sizes.contains(&bytes), "{t} was measured at one rank count");
    }
    // One run alone has nothing to draw against ranks.
    let alone = plot(&dir.path().join("alone"), &[&a]);
    assert!(!alone.join("allreduce-latency-scaling.svg").exists());
}

#[test]
fn series_a_hundred_times_apart_get_a_log_axis() {
    let dir = tempdir();
    let slow = baseline();
    let mut fast = slow.clone();
    fast["environment"]["hosts"][0]["hostname"] = Value::from("fast-node");
    for r in fast["records"].as_array_mut().unwrap() {
        for m in r["metrics"].as_array_mut().into_iter().flatten() {
            for field in ["value", "best"] {
                if let Some(v) = m[field].as_f64() {
                    m[field] = Value::from(v * 1000.0);
                }
            }
        }
    }
    let a = write_doc(dir.path(), "slow.json", &slow);
    let b = write_doc(dir.path(), "fast.json", &fast);
    let alone = plot(&dir.path().join("alone"), &[&a]);
    let linear = svg_texts(&alone.join("membw-bandwidth.svg"));
    assert!(
        linear.iter().any(|t| t == "0"),
        "linear axis from 0: {linear:?}"
    );
    let both = plot(dir.path(), &[&a, &b]);
    let log = svg_texts(&both.join("membw-bandwidth.svg"));
    assert!(
        !log.iter().any(|t| t == "0"),
        "a log axis has no 0: {log:?}"
    );
    let decades = ["1", "10", "100", "1000", "10000"];
    assert!(
        decades
            .iter()
            .filter(|d| log.iter().any(|t| t == *d))
            .count()
            >= 3,
        "decades labelled: {log:?}"
    );
}

#[test]
fn legends_are_whole_and_name_nodes_once() {
    let dir = tempdir();
    let nccl = import(
        dir.path(),
        "nccl-tests-all_reduce_perf-a3mega-16gpu.log",
        &["--instance-type", "a3-megagpu-8g"],
        "nccl",
    );
    let long = "rack-07-host-0042.gpu-cluster.example.org";
    let mut doc = baseline();
    doc["environment"]["hosts"][0]["hostname"] = Value::from(long);
    let local = write_doc(dir.path(), "long.json", &doc);
    let charts = plot(dir.path(), &[&local, &nccl]);
    for name in ["allreduce-time.svg"] {
        let texts = svg_texts(&charts.join(name));
        assert!(
            !texts.iter().any(|t| t.contains('…')),
            "{name} cut a label: {texts:?}"
        );
        assert!(texts.concat().contains(long), "{name}: {texts:?}");
        for t in &texts {
            assert!(t.matches("node").count() <= 1, "{name}: {t}");
        }
    }
}

#[test]
fn report_orders_stream_kernels_and_says_unknown_for_imported_hosts() {
    let dir = tempdir();
    let nccl = import(
        dir.path(),
        "nccl-tests-all_reduce_perf-a3mega-16gpu.log",
        &["--instance-type", "a3-megagpu-8g"],
        "nccl",
    );
    let page = report(dir.path(), &[&repo().join(BASELINE), &nccl]);
    let at = |kernel: &str| {
        page.find(&format!(">{kernel}</td>"))
            .unwrap_or_else(|| panic!("no {kernel} row"))
    };
    let order = ["copy", "scale", "add", "triad", "dot"].map(at);
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    let env = &page[..page.find("id=\"bench-").expect("a benchmark section")];
    assert!(env.contains(">unknown</td>"), "imported host says unknown");
    assert!(
        !env.contains(">0 / 0 / 0<"),
        "zeros shown for unknown counts"
    );
    assert!(!env.contains(">0 B<"), "zero memory shown");
    let mpi = &env[env.find(">MPI</th>").expect("an MPI row")..];
    let mpi = &mpi[..mpi.find("</tr>").unwrap()];
    assert!(mpi.ends_with(">unknown</td>"), "{mpi}");
}

#[test]
fn environment_of_six_runs_wraps_into_tables() {
    let dir = tempdir();
    let base = repo().join(BASELINE);
    let five: Vec<&Path> = std::iter::repeat_n(base.as_path(), 5).collect();
    let page = report(dir.path(), &five);
    assert_eq!(page.matches("<table class=\"env\">").count(), 1);
    let six: Vec<&Path> = std::iter::repeat_n(base.as_path(), 6).collect();
    let page = report(dir.path(), &six);
    assert_eq!(
        page.matches("<table class=\"env\">").count(),
        2,
        "6 runs: two tables of 3"
    );
    let first = page.find("<table class=\"env\">").unwrap();
    let second = page[first + 1..].find("<table class=\"env\">").unwrap() + first + 1;
    assert_eq!(
        page[first..second].matches("<th class=\"key\">vm").count(),
        3
    );
}
