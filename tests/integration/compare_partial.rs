//! compare, validate and report on imported logs (one sample per record, latencies) and
//! on the results of runs that did not reach their end, driven through the binary.

use crate::common::*;
use crate::decisions::{cb, fixture, text};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Output;

fn baseline_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("results/baselines/quick-cpu-2core.json")
}

/// The committed quick CPU baseline, a finished run, with the records `compare` judges:
/// its 11 membw and matmul records (its one-rank all-reduce records are local copies,
/// which compare leaves out).
pub fn baseline() -> Value {
    let mut doc: Value =
        serde_json::from_str(&std::fs::read_to_string(baseline_path()).unwrap()).unwrap();
    let measured: Vec<Value> = doc["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["benchmark"] != "allreduce")
        .cloned()
        .collect();
    doc["records"] = json!(measured);
    doc
}

fn write(dir: &Path, name: &str, doc: &Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_string_pretty(doc).unwrap()).unwrap();
    p
}

/// The `.jsonl` stream of `doc` as a run leaves it: the header, its first `records`
/// records and, when `footer` gives a status, the footer.
pub fn stream(
    dir: &Path,
    name: &str,
    doc: &Value,
    records: usize,
    footer: Option<&str>,
) -> PathBuf {
    let mut run = doc["run"].clone();
    run["status"] = json!("running");
    run["finished_at"] = Value::Null;
    let mut lines = vec![json!({
        "type": "header",
        "schema_version": doc["schema_version"],
        "tool": doc["tool"],
        "run": run,
        "environment": doc["environment"],
    })];
    for r in doc["records"].as_array().unwrap().iter().take(records) {
        let mut line = r.clone();
        line["type"] = json!("record");
        lines.push(line);
    }
    if let Some(status) = footer {
        lines.push(
            json!({"type": "footer", "finished_at": "2026-01-01T00:00:00Z", "status": status}),
        );
    }
    let p = dir.join(name);
    let text: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    std::fs::write(&p, text.join("\n") + "\n").unwrap();
    p
}

fn code(o: &Output) -> Option<i32> {
    assert!(!text(o).contains("panicked"), "{}", text(o));
    o.status.code()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// An OSU latency log with the latency of the rows of `sizes` multiplied by `factor`.
fn osu_latency(dir: &Path, name: &str, changes: &[(&str, f64)]) -> PathBuf {
    let mut out = String::new();
    for line in std::fs::read_to_string(fixture("osu_latency-v5.6.2-handwritten.out"))
        .unwrap()
        .lines()
    {
        let mut words = line.split_whitespace();
        let (size, latency) = (words.next(), words.next());
        match changes.iter().find(|(s, _)| Some(*s) == size) {
            Some((size, factor)) => {
                let v: f64 = latency.unwrap().parse().unwrap();
                out.push_str(&format!("{size:<10}{:>18.2}\n", v * factor));
            }
            None => out.push_str(&format!("{line}\n")),
        }
    }
    let log = dir.join(format!("{name}.out"));
    std::fs::write(&log, out).unwrap();
    let json = dir.join(format!("{name}.json"));
    let o = cb(
        dir,
        &[
            "import",
            s(&log),
            "--hosts",
            "a,b",
            "--nodes",
            "2",
            "-o",
            s(&json),
        ],
    );
    assert_eq!(code(&o), Some(0), "{}", text(&o));
    json
}

fn comparison<'a>(report: &'a Value, label_start: &str) -> &'a Value {
    report["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["label"].as_str().unwrap().starts_with(label_start))
        .unwrap_or_else(|| panic!("no {label_start} in {report}"))
}

#[test]
fn one_sample_imports_are_judged_by_the_threshold_alone_and_say_no_spread() {
    let dir = tempdir();
    let d = dir.path();
    let base = osu_latency(d, "base", &[]);
    // 5% more latency at 8 B, 50% more at 1 KiB, half the latency at 1 MiB.
    let cand = osu_latency(d, "cand", &[("8", 1.05), ("1024", 1.5), ("1048576", 0.5)]);
    let js = cb(d, &["compare", s(&base), s(&cand), "--format", "json"]);
    assert_eq!(code(&js), Some(1), "{}", text(&js));
    let v: Value = serde_json::from_slice(&js.stdout).unwrap();
    for c in v["comparisons"].as_array().unwrap() {
        assert_eq!(c["basis"], "threshold_only", "{c}");
        assert_eq!(c["samples"], json!([1, 1]), "{c}");
    }
    assert_eq!(comparison(&v, "p2p 8 B")["verdict"], "unchanged");
    assert_eq!(comparison(&v, "p2p 1 KiB")["verdict"], "regression");
    assert_eq!(comparison(&v, "p2p 1 MiB")["verdict"], "improvement");
    assert_eq!(comparison(&v, "p2p 16 B")["verdict"], "unchanged");
    assert_eq!(v["regressions"], 1);
    let table = cb(d, &["compare", s(&base), s(&cand)]);
    assert_eq!(code(&table), Some(1));
    let out = stdout(&table);
    let unchanged = out.lines().find(|l| l.starts_with("p2p 16 B")).unwrap();
    assert!(unchanged.contains("no spread: one sample"), "{out}");
    assert!(unchanged.trim_end().ends_with("unchanged"), "{out}");
    assert!(out.contains("judged by the threshold alone"), "{out}");
    // Equal logs: no row regresses for want of a spread.
    let same = cb(d, &["compare", s(&base), s(&base)]);
    assert_eq!(code(&same), Some(0), "{}", text(&same));
    assert!(!stdout(&same).contains("regression"), "{}", text(&same));
    // A threshold above the change lets it pass.
    let loose = cb(d, &["compare", s(&base), s(&cand), "--threshold", "0.6"]);
    assert_eq!(code(&loose), Some(0), "{}", text(&loose));
}

#[test]
fn latencies_compare_in_time_and_regress_when_they_grow() {
    let dir = tempdir();
    let d = dir.path();
    let base = osu_latency(d, "base", &[]);
    let slower = osu_latency(d, "slower", &[("4096", 2.0)]);
    let js = cb(d, &["compare", s(&base), s(&slower), "--format", "json"]);
    assert_eq!(code(&js), Some(1), "{}", text(&js));
    let v: Value = serde_json::from_slice(&js.stdout).unwrap();
    let c = comparison(&v, "p2p 4 KiB");
    assert_eq!(
        (&c["metric"], &c["unit"], &c["better"]),
        (&json!("latency"), &json!("us"), &json!("lower"))
    );
    let value = |side: &str| c[side].as_f64().unwrap();
    assert!((value("baseline_value") - 1.84).abs() < 1e-9, "{c}");
    assert!((value("candidate_value") - 3.68).abs() < 1e-9, "{c}");
    assert_eq!(c["verdict"], "regression");
    // The other way round: the latency halved, an improvement.
    let back = cb(d, &["compare", s(&slower), s(&base)]);
    assert_eq!(code(&back), Some(0), "{}", text(&back));
    let row = stdout(&back);
    let row = row
        .lines()
        .find(|l| l.starts_with("p2p 4 KiB"))
        .unwrap()
        .to_string();
    assert!(
        row.contains("latency (us)") && row.contains("3.6800") && row.contains("1.8400"),
        "{row}"
    );
    assert!(row.trim_end().ends_with("improvement"), "{row}");
    // An OSU collective latency test is judged by its latency too.
    let osu = d.join("osu.json");
    let o = cb(
        d,
        &[
            "import",
            s(&fixture("osu_allreduce-v5.6.2-64ranks.out")),
            "--ranks",
            "64",
            "--nodes",
            "2",
            "-o",
            s(&osu),
        ],
    );
    assert_eq!(code(&o), Some(0), "{}", text(&o));
    let js = cb(d, &["compare", s(&osu), s(&osu), "--format", "json"]);
    let v: Value = serde_json::from_slice(&js.stdout).unwrap();
    for c in v["comparisons"].as_array().unwrap() {
        assert_eq!(
            (&c["metric"], &c["better"]),
            (&json!("latency"), &json!("lower")),
            "{c}"
        );
    }
    // Bandwidth records keep their bandwidth, higher being better.
    let b = baseline_path();
    let js = cb(d, &["compare", s(&b), s(&b), "--format", "json"]);
    let v: Value = serde_json::from_slice(&js.stdout).unwrap();
    assert_eq!(comparison(&v, "membw copy")["better"], "higher");
}

#[test]
fn records_on_one_side_only_are_one_line_unless_verbose_and_verdict_words_agree() {
    let dir = tempdir();
    let d = dir.path();
    let doc = baseline();
    let mut fewer = doc.clone();
    // Without the STREAM records (5) and the first matmul one.
    let kept: Vec<Value> = doc["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["benchmark"] != "membw")
        .skip(1)
        // The first record left is the first matmul one.
        .cloned()
        .collect();
    fewer["records"] = json!(kept);
    let (a, b) = (write(d, "a.json", &doc), write(d, "b.json", &fewer));
    let out = cb(d, &["compare", s(&a), s(&b)]);
    assert_eq!(code(&out), Some(0), "{}", text(&out));
    let t = stdout(&out);
    let only: Vec<&str> = t
        .lines()
        .filter(|l| l.contains("only in the baseline"))
        .collect();
    assert_eq!(
        only,
        ["6 (membw 5, matmul 1) only in the baseline, not compared (--verbose lists them)"],
        "{t}"
    );
    assert!(!t.contains("membw copy"), "{t}");
    let verbose = cb(d, &["compare", s(&a), s(&b), "--verbose"]);
    let t = stdout(&verbose);
    assert!(
        t.contains("6 only in the baseline:\n  membw copy 128 MiB threads=2 1r/1n\n"),
        "{t}"
    );
    assert_eq!(
        t.lines().filter(|l| l.starts_with("  membw ")).count(),
        5,
        "{t}"
    );
    assert!(
        t.contains("\n  matmul float square m=256 n=256 k=256 threads=2 1r/1n"),
        "{t}"
    );
    let back = cb(d, &["compare", s(&b), s(&a)]);
    assert!(
        stdout(&back).contains("6 (membw 5, matmul 1) only in the candidate"),
        "{}",
        text(&back)
    );
    // The JSON keeps the full lists, and each row's verdict is the table's word.
    let js = cb(d, &["compare", s(&a), s(&b), "--format", "json"]);
    let v: Value = serde_json::from_slice(&js.stdout).unwrap();
    assert_eq!(v["only_in_baseline"].as_array().unwrap().len(), 6);
    let slow = {
        let mut slow = fewer.clone();
        for r in slow["records"].as_array_mut().unwrap() {
            if r["benchmark"] == "matmul" {
                let times: Vec<Value> = r["samples_s"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| json!(t.as_f64().unwrap() * 3.0))
                    .collect();
                r["samples_s"] = json!(times);
                r["time_s"]["median"] = json!(r["time_s"]["median"].as_f64().unwrap() * 3.0);
            }
        }
        write(d, "slow.json", &slow)
    };
    for (x, y) in [(&b, &slow), (&slow, &b)] {
        let table = stdout(&cb(d, &["compare", s(x), s(y)]));
        let js = cb(d, &["compare", s(x), s(y), "--format", "json"]);
        let v: Value = serde_json::from_slice(&js.stdout).unwrap();
        for c in v["comparisons"].as_array().unwrap() {
            let label = c["label"].as_str().unwrap();
            let row = table
                .lines()
                .find(|l| l.starts_with(&format!("{label} ")))
                .unwrap();
            let word = c["verdict"].as_str().unwrap();
            assert!(
                row.trim_end().ends_with(&format!(" {word}")),
                "{row} vs {word}"
            );
        }
        for bench in v["benchmarks"].as_array().unwrap() {
            let name = bench["benchmark"].as_str().unwrap();
            let row = table
                .lines()
                .find(|l| l.starts_with(&format!("{name} ")))
                .unwrap();
            assert!(
                row.trim_end().ends_with(bench["verdict"].as_str().unwrap()),
                "{row}"
            );
        }
    }
}

#[test]
fn runs_that_died_were_aborted_or_interrupted_are_named_by_compare_validate_and_report() {
    let dir = tempdir();
    let d = dir.path();
    let doc = baseline();
    let full = write(d, "full.json", &doc);
    let died = stream(d, "died.jsonl", &doc, 8, None);
    let mut aborted = doc.clone();
    aborted["run"]["status"] = json!("aborted");
    let aborted = write(d, "aborted.json", &aborted);
    let interrupted = stream(d, "interrupted.jsonl", &doc, 8, Some("interrupted"));
    for (file, word, how) in [
        (&died, "died", "died before its end"),
        (&aborted, "aborted", "was aborted by an error"),
        (&interrupted, "interrupted", "was interrupted"),
    ] {
        let name = s(file);
        let note = format!("'{name}' is from a run that {how}");
        let o = cb(d, &["compare", s(&full), name]);
        assert_eq!(code(&o), Some(0), "{}", text(&o));
        assert!(
            stdout(&o).starts_with(&format!("note: {note}")),
            "{}",
            text(&o)
        );
        let js = cb(d, &["compare", name, s(&full), "--format", "json"]);
        let v: Value = serde_json::from_slice(&js.stdout).unwrap();
        assert_eq!(v["baseline_unfinished"], word, "{v}");
        assert!(v["candidate_unfinished"].is_null());
        assert!(v["notes"][0].as_str().unwrap().starts_with(&note), "{v}");
        // validate: in the table, and on standard error beside the JSON list.
        let claims = stream_claim(d, "low.toml", "1 MB/s");
        let o = cb(d, &["validate", name, "--claims", s(&claims)]);
        assert!(
            stdout(&o).starts_with(&format!("note: {note}")),
            "{}",
            text(&o)
        );
        let o = cb(
            d,
            &["validate", name, "--claims", s(&claims), "--format", "json"],
        );
        assert!(serde_json::from_slice::<Value>(&o.stdout)
            .unwrap()
            .is_array());
        assert!(stderr(&o).contains(&note), "{}", text(&o));
        // report: the status cell, a line on the page, and one on standard error.
        let html = d.join(format!("{word}.html"));
        let o = cb(d, &["report", s(&full), name, "-o", s(&html)]);
        assert_eq!(code(&o), Some(0), "{}", text(&o));
        assert!(stderr(&o).contains(&note), "{}", text(&o));
        let page = std::fs::read_to_string(&html).unwrap();
        assert!(
            page.contains(&format!("class=\"status-{word}\">{word}<")),
            "{word}"
        );
        assert!(page.contains("<p class=\"unfinished\">"), "{word}");
        assert!(page.contains("class=\"status-completed\">completed<"));
    }
    // A finished run is not flagged.
    let o = cb(d, &["compare", s(&full), s(&full), "--format", "json"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        v.get("notes").is_none() && v.get("baseline_unfinished").is_none(),
        "{v}"
    );
    // A run that died before its first record: nothing to compare, and it says why.
    let empty = stream(d, "empty.jsonl", &doc, 0, None);
    let o = cb(d, &["compare", s(&full), s(&empty)]);
    assert_eq!(code(&o), Some(2), "{}", text(&o));
    assert_eq!(stderr(&o).trim_end().lines().count(), 1, "{}", text(&o));
    assert!(
        stderr(&o).contains("0 in the candidate); the candidate's run died"),
        "{}",
        text(&o)
    );
}

/// A claims file of one host memory bandwidth claim (`"VALUE UNIT"`) and one claim no
/// CPU run measures.
fn stream_claim(dir: &Path, name: &str, claim: &str) -> PathBuf {
    let (value, unit) = claim.split_once(' ').unwrap();
    let p = dir.join(name);
    std::fs::write(
        &p,
        format!(
            "[target]\nname = \"test host\"\nkind = \"cpu\"\n\n\
             [[claim]]\nid = \"stream\"\nwhat = \"host memory bandwidth\"\n\
             quantity = \"host_memory_bandwidth\"\nvalue = {value}\nunit = \"{unit}\"\n\
             convention = \"bytes read + written\"\nsource = \"test\"\nachievable = 0.5\n\n\
             [[claim]]\nid = \"peer\"\nwhat = \"peer copy\"\nquantity = \"peer_copy_bandwidth\"\n\
             value = 1.0\nunit = \"GB/s\"\nconvention = \"one way\"\nsource = \"test\"\nachievable = 0.8\n"
        ),
    )
    .unwrap();
    p
}

#[test]
fn validate_exits_3_when_no_claim_could_be_measured() {
    let dir = tempdir();
    let d = dir.path();
    let doc = baseline();
    let full = write(d, "full.json", &doc);
    // A CPU run against GPU claims: nothing to measure them with.
    let gpu = Path::new(env!("CARGO_MANIFEST_DIR")).join("harness/claims/gpu-h100-sxm.toml");
    let o = cb(d, &["validate", s(&full), "--claims", s(&gpu)]);
    assert_eq!(code(&o), Some(3), "{}", text(&o));
    assert!(stdout(&o).contains("not measured"), "{}", text(&o));
    let err = stderr(&o);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("no claim could be measured"), "{err}");
    // One claim measured and met: 0; measured and failed: 1.
    let low = stream_claim(d, "low.toml", "1 MB/s");
    assert_eq!(
        code(&cb(d, &["validate", s(&full), "--claims", s(&low)])),
        Some(0)
    );
    let high = stream_claim(d, "high.toml", "1 PB/s");
    assert_eq!(
        code(&cb(d, &["validate", s(&full), "--claims", s(&high)])),
        Some(1)
    );
    // A run that died before measuring anything: 3, and it says so.
    let empty = stream(d, "empty.jsonl", &doc, 0, None);
    let o = cb(
        d,
        &[
            "validate",
            s(&empty),
            "--claims",
            s(&low),
            "--format",
            "json",
        ],
    );
    assert_eq!(code(&o), Some(3), "{}", text(&o));
    assert!(stderr(&o).contains("(its run died)"), "{}", text(&o));
}
