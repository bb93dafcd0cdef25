//! `clusterbench trend`: the committed baseline and later runs (documents derived from
//! it, and real quick CPU runs), in date and in commit order, as a table, JSON, charts
//! and an HTML page.

use crate::common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const BASELINE: &str = "results/baselines/quick-cpu-2core.json";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn baseline() -> Value {
    let text = std::fs::read_to_string(repo().join(BASELINE)).expect("baseline committed");
    serde_json::from_str(&text).expect("baseline is JSON")
}

/// A later run derived from the baseline: started on `day` of December 2026, with its
/// membw figures multiplied by `membw_speed` (times and samples divided by it).
fn later_run(day: u32, membw_speed: f64, commit: Option<&str>) -> Value {
    let mut doc = baseline();
    let at = format!("2026-12-{day:02}T10:00:00.000Z");
    doc["run"]["run_id"] = Value::from(format!("202612{day:02}T100000.000Z-vm"));
    doc["run"]["started_at"] = Value::from(at.clone());
    doc["run"]["finished_at"] = Value::from(at);
    doc["tool"]["git_commit"] = commit.map_or(Value::Null, Value::from);
    for r in doc["records"].as_array_mut().unwrap() {
        if r["benchmark"] != "membw" {
            continue;
        }
        for m in r["metrics"].as_array_mut().unwrap() {
            for f in ["value", "best"] {
                m[f] = Value::from(m[f].as_f64().unwrap() * membw_speed);
            }
        }
        for s in r["samples_s"].as_array_mut().unwrap() {
            *s = Value::from(s.as_f64().unwrap() / membw_speed);
        }
        for f in ["min", "median", "mean", "max", "p99"] {
            if let Some(t) = r["time_s"][f].as_f64() {
                r["time_s"][f] = Value::from(t / membw_speed);
            }
        }
    }
    doc
}

fn write(path: &Path, doc: &Value) -> PathBuf {
    std::fs::write(path, serde_json::to_string_pretty(doc).unwrap()).unwrap();
    path.to_path_buf()
}

/// The table row of `figure` (a prefix of the first column) in each run, in order.
fn rows_of<'a>(table: &'a str, figure: &str) -> Vec<&'a str> {
    let start = table
        .lines()
        .position(|l| l.starts_with(figure))
        .unwrap_or_else(|| panic!("no row for {figure}:\n{table}"));
    let mut rows = vec![table.lines().nth(start).unwrap()];
    rows.extend(
        table
            .lines()
            .skip(start + 1)
            .take_while(|l| l.starts_with(' ') && !l.trim().is_empty()),
    );
    rows
}

#[test]
fn trend_orders_runs_by_date_and_flags_what_leaves_the_noise() {
    let dir = tempdir();
    let later = dir.path().join("ci");
    std::fs::create_dir(&later).unwrap();
    // Names sort against the dates: the order must come from the documents.
    write(&later.join("a.json"), &later_run(9, 0.6, None));
    write(&later.join("b.json"), &later_run(2, 1.0, None));
    let charts = dir.path().join("charts");
    let html = dir.path().join("trend.html");
    let out = clusterbench(repo())
        .arg("trend")
        .arg(BASELINE)
        .arg(&later)
        .arg("-o")
        .arg(&charts)
        .arg("--html")
        .arg(&html)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8(out.stdout).unwrap();
    let triad = rows_of(&table, "membw triad 128 MiB · 1 rank — bandwidth");
    assert_eq!(triad.len(), 3, "{table}");
    assert!(triad[0].contains("2026-11-23") && triad[0].contains("baseline"));
    assert!(triad[1].contains("2026-12-02") && triad[1].contains("within the noise"));
    assert!(
        triad[2].contains("2026-12-09") && triad[2].contains("-40.0%"),
        "{}",
        triad[2]
    );
    assert!(
        triad[2].contains("worse, outside the noise"),
        "{}",
        triad[2]
    );
    // Figures the later runs did not change stay within the baseline's noise.
    let matmul = rows_of(&table, "matmul float 512x512x512 · 1 rank — tflops");
    assert!(
        matmul[1..].iter().all(|r| r.contains("+0.0%")),
        "{matmul:?}"
    );

    for name in [
        "trend-membw-bandwidth",
        "trend-allreduce-time",
        "trend-matmul-tflops",
    ] {
        assert!(charts.join(format!("{name}.png")).is_file(), "{name}.png");
        let svg = std::fs::read_to_string(charts.join(format!("{name}.svg"))).unwrap();
        roxmltree::Document::parse(&svg).expect("SVG is XML");
    }
    let svg = std::fs::read_to_string(charts.join("trend-membw-bandwidth.svg")).unwrap();
    for label in [
        "2026-11-23 13:15 2410741",
        "2026-12-02 10:00",
        "2026-12-09 10:00",
    ] {
        assert!(svg.contains(label), "run {label} is on the x axis");
    }
    assert!(
        svg.contains("shaded: the baseline"),
        "the band is explained"
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<h1>clusterbench trend</h1>"));
    assert!(page.matches("<svg").count() >= 3, "charts inline");
    assert!(
        page.contains("worse, outside the noise"),
        "verdicts on the page"
    );
}

#[test]
fn chosen_metrics_and_baseline_and_json() {
    let dir = tempdir();
    let early = write(&dir.path().join("early.json"), &later_run(1, 1.0, None));
    let late = write(&dir.path().join("late.json"), &later_run(5, 1.0, None));
    // The committed baseline is the reference even though a later run sorts first.
    let out = clusterbench(repo())
        .args(["trend", "--baseline", BASELINE, "--format", "json"])
        .args([
            "--metric",
            "matmul:tflops@512",
            "--metric",
            "allreduce:algbw@256K",
        ])
        .arg(&late)
        .arg(&early)
        .arg("-o")
        .arg(dir.path().join("charts"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let runs: Vec<&str> = json["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["started_at"].as_str().unwrap())
        .collect();
    assert_eq!(
        runs,
        [
            "2026-11-23T13:15:39.059Z",
            "2026-12-01T10:00:00.000Z",
            "2026-12-05T10:00:00.000Z"
        ]
    );
    let points: Vec<&str> = json["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["point"].as_str().unwrap())
        .collect();
    assert_eq!(
        points,
        [
            "matmul float 512x512x512 · 1 rank",
            "matmul double 512x512x512 · 1 rank",
            "allreduce 256 KiB float sum out-of-place · 1 rank",
            "allreduce 256 KiB float sum in-place · 1 rank"
        ]
    );
    for s in json["series"].as_array().unwrap() {
        let band = s["band"].as_array().expect("a noise band");
        assert!(band[0].as_f64().unwrap() <= band[1].as_f64().unwrap());
        assert_eq!(s["values"].as_array().unwrap().len(), 3);
    }

    for bad in ["nosuch", "matmul:nosuch", "allreduce@3K", "allreduce:"] {
        let out = clusterbench(repo())
            .args(["trend", BASELINE, "--metric", bad, "-o"])
            .arg(dir.path().join("bad"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "--metric {bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(err.contains("--metric"), "{err}");
    }
}

#[test]
fn trend_in_commit_order_follows_the_history_not_the_dates() {
    let dir = tempdir();
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.org"])
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    git(&["init", "-q"]);
    let mut commits = Vec::new();
    for n in 0..3 {
        git(&["commit", "-q", "--allow-empty", "-m", &format!("c{n}")]);
        commits.push(git(&["rev-parse", "HEAD"]));
    }
    // Dates run backwards against the commits (a rerun of an old commit, say).
    let files: Vec<PathBuf> = commits
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let doc = later_run(20 - i as u32, 1.0, Some(c));
            write(&dir.path().join(format!("run{i}.json")), &doc)
        })
        .collect();
    let order_of = |order: &str| -> Vec<String> {
        let out = clusterbench(dir.path())
            .args([
                "trend", "--format", "json", "--order", order, "-o", "charts",
            ])
            .args(&files)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: Value = serde_json::from_slice(&out.stdout).unwrap();
        json["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["commit"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(order_of("commit"), commits);
    let mut by_date = commits.clone();
    by_date.reverse();
    assert_eq!(order_of("date"), by_date);

    // A commit outside the history is named, not guessed at.
    let stranger = write(
        &dir.path().join("stranger.json"),
        &later_run(3, 1.0, Some("0123456789abcdef0123456789abcdef01234567")),
    );
    let out = clusterbench(dir.path())
        .args(["trend", "--order", "commit", "-o", "charts"])
        .arg(&files[0])
        .arg(&stranger)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("0123456789abcdef"));
}

#[test]
fn trend_reads_real_runs_from_a_directory() {
    let dir = tempdir();
    let runs = dir.path().join("runs");
    for _ in 0..2 {
        clusterbench(dir.path())
            .args([
                "run",
                "--bench",
                "membw",
                "--array-size",
                "1M",
                "-n",
                "5",
                "-w",
                "1",
            ])
            .args(["--backend", "cpu", "-q", "--output"])
            .arg(&runs)
            .assert()
            .success();
    }
    let out = clusterbench(dir.path())
        .args(["trend", "runs", "--format", "json", "-o", "charts"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["runs"].as_array().unwrap().len(),
        2,
        "the two documents, not their streams"
    );
    let series = json["series"].as_array().unwrap();
    assert_eq!(series.len(), 1, "membw's headline is triad: {series:?}");
    assert_eq!(series[0]["point"], "membw triad 1 MiB · 1 rank");
    assert!(series[0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .all(|v| v.as_f64().is_some_and(|v| v > 0.0)));
    assert!(dir
        .path()
        .join("charts/trend-membw-bandwidth.png")
        .is_file());
}
