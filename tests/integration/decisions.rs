//! compare, validate, model, predict and import, driven through the binary.

use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::Output;

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub fn cb(dir: &Path, args: &[&str]) -> Output {
    clusterbench(dir)
        .args(args)
        .output()
        .expect("binary starts")
}

pub fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn assert_code(o: &Output, code: i32) {
    assert_eq!(o.status.code(), Some(code), "{}", text(o));
    assert!(!text(o).contains("panicked"), "{}", text(o));
    if code == 2 {
        // Bad input: one clear line on standard error.
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
}

/// A small run (all-reduce sweep and STREAM) written under `dir/name`, its path.
fn small_run(dir: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let out = cb(
        dir,
        &[
            &[
                "run",
                "--bench",
                "allreduce,membw",
                "-b",
                "64K",
                "-e",
                "1M",
                "-f",
                "4",
                "-n",
                "15",
                "-w",
                "3",
                "--array-size",
                "8M",
                "-q",
                "--output",
                name,
            ][..],
            extra,
        ]
        .concat(),
    );
    assert_code(&out, 0);
    only_document(&dir.join(name)).0
}

#[test]
fn a_run_compared_with_itself_passes_in_every_format() {
    let dir = tempdir();
    let a = small_run(dir.path(), "a", &[]);
    let a = a.to_str().unwrap();
    let out = cb(dir.path(), &["compare", a, a]);
    assert_code(&out, 0);
    assert!(text(&out).contains("0 regressed"), "{}", text(&out));
    let md = cb(dir.path(), &["compare", a, a, "--format", "markdown"]);
    assert_code(&md, 0);
    assert!(String::from_utf8_lossy(&md.stdout).contains("|---|"));
    let js = cb(dir.path(), &["compare", a, a, "--format", "json"]);
    assert_code(&js, 0);
    let v: serde_json::Value = serde_json::from_slice(&js.stdout).unwrap();
    let n = v["comparisons"].as_array().unwrap().len();
    assert!(n >= 5, "{v}");
    for c in v["comparisons"].as_array().unwrap() {
        assert_eq!(c["time_ratio"]["estimate"], 1.0);
        assert_eq!(c["verdict"], "unchanged");
    }
}

#[test]
fn serial_an_injected_2x_slowdown_fails_the_gate_and_normalising_by_a_slowed_reference_hides_it() {
    let dir = tempdir();
    let base = small_run(dir.path(), "base", &[]);
    let slow = small_run(dir.path(), "slow", &["--debug-slowdown", "2"]);
    let (b, s) = (base.to_str().unwrap(), slow.to_str().unwrap());
    // The CI gate's settings (scripts/test.sh).
    let gate = ["--threshold", "0.5", "--gate", "benchmarks"];
    let out = cb(dir.path(), &[&["compare", b, s][..], &gate].concat());
    assert_code(&out, 1);
    assert!(text(&out).contains("regression"), "{}", text(&out));
    assert!(
        text(&out).contains("benchmarks regressed"),
        "{}",
        text(&out)
    );
    // The other way round it is an improvement, not a failure.
    let back = cb(dir.path(), &[&["compare", s, b][..], &gate].concat());
    assert_code(&back, 0);
    assert!(text(&back).contains("improvement"), "{}", text(&back));
    // Normalising by a reference divides every other record's change by the
    // reference's own change (its ratio of median times in the two runs), whatever the
    // machine did between them (the one-rank all-reduce is a local copy, which gets
    // no verdict).
    let json = |extra: &[&str]| {
        let o = cb(
            dir.path(),
            &[&["compare", b, s, "--format", "json"][..], &gate, extra].concat(),
        );
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let triad = |v: &serde_json::Value| {
        v["comparisons"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["label"].as_str().unwrap().starts_with("membw triad "))
            .map(|c| c["time_ratio"]["estimate"].as_f64().unwrap())
            .unwrap()
    };
    let median_of_copy = |path: &Path| {
        let doc = clusterbench::results::files::read_document(path).unwrap();
        doc.records
            .iter()
            .find(|r| {
                matches!(&r.params, clusterbench::results::Params::Stream { kernel, .. } if kernel == "copy")
            })
            .map(|r| r.time_s.median)
            .unwrap()
    };
    let copy_ratio = median_of_copy(&slow) / median_of_copy(&base);
    let raw = json(&[]);
    let v = json(&["--normalize", "membw:copy"]);
    assert_eq!(v["normalized_by"], "membw:copy");
    let (before, after) = (triad(&raw), triad(&v));
    assert!(
        (before / after - copy_ratio).abs() <= 1e-9 * copy_ratio,
        "triad's change {before} normalised to {after}: not divided by copy's {copy_ratio}"
    );
    assert!(
        v["comparisons"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| !c["label"].as_str().unwrap().starts_with("membw copy ")),
        "the reference is not itself compared"
    );
}

#[test]
fn compare_rejects_unusable_input_with_exit_2() {
    let dir = tempdir();
    let a = small_run(dir.path(), "a", &[]);
    let a_s = a.to_str().unwrap();
    // Unreadable file.
    assert_code(&cb(dir.path(), &["compare", a_s, "/nonexistent.json"]), 2);
    // A schema version from the future.
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&a).unwrap()).unwrap();
    v["schema_version"] = serde_json::json!(99);
    let future = dir.path().join("future.json");
    std::fs::write(&future, v.to_string()).unwrap();
    let out = cb(dir.path(), &["compare", a_s, future.to_str().unwrap()]);
    assert_code(&out, 2);
    assert!(text(&out).contains("schema version 99"));
    // Nothing in common.
    let other = cb(
        dir.path(),
        &[
            "run", "--bench", "matmul", "--sizes", "64", "-n", "2", "-q", "--output", "m",
        ],
    );
    assert_code(&other, 0);
    let m = only_document(&dir.path().join("m")).0;
    let out = cb(dir.path(), &["compare", a_s, m.to_str().unwrap()]);
    assert_code(&out, 2);
    assert!(text(&out).contains("nothing to compare"));
    // Bad thresholds, confidence, reference.
    assert_code(
        &cb(dir.path(), &["compare", a_s, a_s, "--threshold", "lots"]),
        2,
    );
    assert_code(&cb(dir.path(), &["compare", a_s, a_s, "--threshold=-1"]), 2);
    assert_code(
        &cb(dir.path(), &["compare", a_s, a_s, "--confidence", "1.5"]),
        2,
    );
    assert_code(
        &cb(dir.path(), &["compare", a_s, a_s, "--normalize", "matmul"]),
        2,
    );
}

#[test]
fn imports_of_nccl_tests_text_and_json_agree_and_validate_against_claims() {
    let dir = tempdir();
    let d = dir.path();
    for (src, out) in [
        ("nccl-tests-all_reduce_perf-a3mega-16gpu.log", "text.json"),
        ("nccl-tests-all_reduce_perf-a3mega-16gpu.json", "json.json"),
    ] {
        let o = cb(
            d,
            &[
                "import",
                fixture(src).to_str().unwrap(),
                "-o",
                out,
                "--instance-type",
                "a3-megagpu-8g",
            ],
        );
        assert_code(&o, 0);
        assert_matches_schema(&d.join(out));
        let doc = clusterbench::results::files::read_document(&d.join(out)).unwrap();
        assert_eq!(doc.tool.name, "nccl-tests");
        // 31 sizes, out-of-place and in-place.
        assert_eq!(doc.records.len(), 62);
        let r = &doc.records[doc.records.len() - 2];
        assert_eq!(
            (r.ranks, r.nodes, r.benchmark.as_str()),
            (16, 2, "allreduce")
        );
        assert!((r.time_s.median - 47535e-6).abs() < 1e-9);
        assert_eq!(r.metric("busbw").unwrap().value, 338.82);
    }
    let same = cb(d, &["compare", "text.json", "json.json"]);
    assert_code(&same, 0);
    assert!(text(&same).contains("62 compared"), "{}", text(&same));
    // The instance type picks the A3 Mega claims and, through them, the H100 datasheet.
    let v = cb(d, &["validate", "text.json", "--format", "json"]);
    assert_code(&v, 0);
    let results: serde_json::Value = serde_json::from_slice(&v.stdout).unwrap();
    let net: Vec<&serde_json::Value> = results
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["id"] == "network_per_node")
        .collect();
    // Both page versions (1,600 and 1,800 Gbps) are kept and shown as conflicting;
    // the 1,800, host NIC included, is stated, not tested.
    assert_eq!(net.len(), 2);
    for r in &net {
        assert_eq!(r["conflicts_with"].as_array().unwrap().len(), 1);
    }
    // busbw 338.82 GB/s is above the GPU NICs' 200 GB/s, so not ring: tree
    // conversion, 338.82 x (2-1)/(16-1) x 8 GPUs per node, in Gbps.
    let m = net[0]["measured"].as_f64().unwrap();
    assert!((m - 338.82 / 15.0 * 8.0 * 8.0).abs() < 1e-6, "{}", net[0]);
    assert_eq!(net[0]["outcome"], "pass");
    assert_eq!(net[1]["outcome"], "informational");
    let hbm = results
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "hbm_bandwidth")
        .unwrap();
    assert_eq!(hbm["outcome"], "not_measured");
    assert!(hbm["measured"].is_null());
    let table = cb(d, &["validate", "text.json"]);
    assert!(text(&table).contains("not measured"));
    assert!(text(&table).contains("sources differ"));
}

#[test]
fn osu_logs_import_with_the_rank_count_given() {
    let dir = tempdir();
    let d = dir.path();
    let log = fixture("osu_allreduce-v5.6.2-64ranks.out");
    let log = log.to_str().unwrap();
    let missing = cb(d, &["import", log]);
    assert_code(&missing, 2);
    assert!(text(&missing).contains("--ranks"));
    let o = cb(
        d,
        &[
            "import", log, "--ranks", "64", "--nodes", "2", "-o", "osu.json",
        ],
    );
    assert_code(&o, 0);
    assert_matches_schema(&d.join("osu.json"));
    let doc = clusterbench::results::files::read_document(&d.join("osu.json")).unwrap();
    assert_eq!(doc.tool.name, "osu-micro-benchmarks");
    assert_eq!(doc.tool.version, "5.6.2");
    assert_eq!(doc.records.len(), 19);
    let last = doc.records.last().unwrap();
    assert!((last.time_s.median - 7403.33e-6).abs() < 1e-12);
    // busbw computed as nccl-tests would: algbw x 2(n-1)/n.
    let algbw = last.metric("algbw").unwrap().value;
    let busbw = last.metric("busbw").unwrap().value;
    assert!((busbw / algbw - 2.0 * 63.0 / 64.0).abs() < 1e-12);
    let v7 = cb(
        d,
        &[
            "import",
            fixture("osu_reduce-cuda-v7.3-192ranks-head.out")
                .to_str()
                .unwrap(),
            "-o",
            "v7.json",
        ],
    );
    assert_code(&v7, 0);
    let doc = clusterbench::results::files::read_document(&d.join("v7.json")).unwrap();
    assert_eq!(doc.records[0].time_s.min, 24.80e-6);
    assert_eq!(doc.records[0].time_s.max, 158.96e-6);
    // Model works on imported files.
    let m = cb(d, &["model", "osu.json"]);
    assert_code(&m, 0);
    assert!(text(&m).contains("allreduce"));
}

#[test]
fn import_rejects_what_it_cannot_read() {
    let dir = tempdir();
    let d = dir.path();
    std::fs::write(d.join("junk.txt"), "hello\nworld\n").unwrap();
    let o = cb(d, &["import", "junk.txt"]);
    assert_code(&o, 2);
    assert!(text(&o).contains("cannot tell the format"));
    std::fs::write(
        d.join("mbw.txt"),
        "# OSU MPI Multiple Bandwidth / Message Rate Test v7.0\n# Size                  MB/s\n1 2.0\n",
    )
    .unwrap();
    assert_code(&cb(d, &["import", "mbw.txt", "--ranks", "2"]), 2);
    std::fs::write(d.join("bad.json"), "{\"results\": [{\"size\": \"x\"}]}").unwrap();
    assert_code(
        &cb(
            d,
            &["import", "bad.json", "--collective", "all_reduce_perf"],
        ),
        2,
    );
    assert_code(&cb(d, &["import", "/nonexistent.log"]), 2);
}

fn claims_file(dir: &Path, name: &str, value: f64, unit: &str) -> PathBuf {
    // Test input, not a vendor figure: a claim set far below or far above any host.
    let p = dir.join(name);
    std::fs::write(
        &p,
        format!(
            r#"[target]
name = "test host"
kind = "cpu"

[[claim]]
id = "stream"
what = "host memory bandwidth"
quantity = "host_memory_bandwidth"
value = {value}
unit = "{unit}"
convention = "bytes read + written"
source = "test"
achievable = 0.5

[[claim]]
id = "gemm"
what = "double matmul"
quantity = "matmul_tflops"
dtype = "fp64"
value = 1.0
unit = "TFLOP/s"
convention = "dense"
source = "test"
achievable = 0.5

[[claim]]
id = "peer"
what = "peer copy"
quantity = "peer_copy_bandwidth"
value = 1.0
unit = "GB/s"
convention = "one way"
source = "test"
achievable = 0.8
"#
        ),
    )
    .unwrap();
    p
}

/// The `.jsonl` stream of a run (complete here; a run that died leaves only this) is
/// read by compare and validate like the final document.
#[test]
fn compare_and_validate_read_a_stream() {
    let dir = tempdir();
    let d = dir.path();
    let json = small_run(d, "s", &[]);
    let stream = json.with_extension("jsonl");
    let (json, stream) = (json.to_str().unwrap(), stream.to_str().unwrap());
    let out = cb(d, &["compare", json, stream, "--format", "json"]);
    assert_code(&out, 0);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let compared = v["comparisons"].as_array().unwrap();
    assert!(compared.len() >= 5, "{v}");
    assert!(compared.iter().all(|c| c["time_ratio"]["estimate"] == 1.0));
    let low = claims_file(d, "low.toml", 1.0, "MB/s");
    let ok = cb(d, &["validate", stream, "--claims", low.to_str().unwrap()]);
    assert_code(&ok, 0);
    assert!(text(&ok).contains("pass"), "{}", text(&ok));
}

#[test]
fn validate_passes_fails_and_says_not_measured() {
    let dir = tempdir();
    let d = dir.path();
    let run = small_run(d, "r", &[]);
    let run = run.to_str().unwrap();
    // No instance type or GPU on this machine: auto has nothing to pick.
    let auto = cb(d, &["validate", run]);
    assert_code(&auto, 2);
    assert!(text(&auto).contains("--claims"));
    let low = claims_file(d, "low.toml", 1.0, "MB/s");
    let ok = cb(d, &["validate", run, "--claims", low.to_str().unwrap()]);
    assert_code(&ok, 0);
    let t = text(&ok);
    assert!(t.contains("pass"), "{t}");
    // No matmul in the run, and no benchmark measures peer copies.
    let js = cb(
        d,
        &[
            "validate",
            run,
            "--claims",
            low.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    let v: serde_json::Value = serde_json::from_slice(&js.stdout).unwrap();
    let outcomes: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["pass", "not_measured", "not_measured"], "{v}");
    let high = claims_file(d, "high.toml", 1.0, "PB/s");
    let fail = cb(d, &["validate", run, "--claims", high.to_str().unwrap()]);
    assert_code(&fail, 1);
    assert!(text(&fail).contains("FAIL"));
    // Bad claims files.
    let unit = claims_file(d, "unit.toml", 1.0, "furlongs");
    let o = cb(d, &["validate", run, "--claims", unit.to_str().unwrap()]);
    assert_code(&o, 2);
    assert!(text(&o).contains("unknown unit"));
    std::fs::write(d.join("broken.toml"), "[target\nname=").unwrap();
    assert_code(&cb(d, &["validate", run, "--claims", "broken.toml"]), 2);
    std::fs::write(
        d.join("missing.toml"),
        "[target]\nname = \"x\"\nkind = \"gpu\"\n[[claim]]\nid = \"a\"\n",
    )
    .unwrap();
    let o = cb(d, &["validate", run, "--claims", "missing.toml"]);
    assert_code(&o, 2);
    assert!(text(&o).contains("missing field"), "{}", text(&o));
}

#[test]
fn every_builtin_claims_file_parses_and_keeps_its_sources() {
    use clusterbench::analysis::validate::{ClaimsFile, BUILTIN_CLAIMS};
    for (name, body) in BUILTIN_CLAIMS {
        let f = ClaimsFile::parse(body, name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!f.claims.is_empty(), "{name}");
        for c in &f.claims {
            assert!(
                !c.source.is_empty() && !c.convention.is_empty(),
                "{name} {}",
                c.id
            );
        }
    }
    // Every instance and GPU the project promises claims for.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("harness/claims");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .trim_end_matches(".toml")
                .to_string()
        })
        .collect();
    on_disk.sort();
    let mut built: Vec<String> = BUILTIN_CLAIMS.iter().map(|(n, _)| n.to_string()).collect();
    built.sort();
    assert_eq!(on_disk, built, "every claims file is built in");
}

#[test]
fn predict_from_a_topology_file_and_from_flags() {
    let dir = tempdir();
    let d = dir.path();
    std::fs::write(
        d.join("topo.toml"),
        "gpus_per_node = 8\nswitch_tiers = 3\nswitch_latency_us = 0.5\n[intra]\nlatency_us = 3.0\nbandwidth_gbps = 150.0\n[inter]\nlatency_us = 12.0\nbandwidth_gbps = 50.0\n",
    )
    .unwrap();
    let o = cb(
        d,
        &[
            "predict",
            "--ranks",
            "64",
            "--topology",
            "topo.toml",
            "--format",
            "json",
        ],
    );
    assert_code(&o, 0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let p = v["predictions"].as_array().unwrap();
    assert_eq!(p.first().unwrap()["best"], "tree");
    assert_eq!(p.last().unwrap()["best"], "hierarchical");
    let o = cb(
        d,
        &[
            "predict",
            "--ranks",
            "16",
            "--gpus-per-node",
            "8",
            "--intra-latency",
            "2",
            "--intra-bw",
            "100",
            "--inter-latency",
            "10",
            "--inter-bw",
            "25",
        ],
    );
    assert_code(&o, 0);
    assert!(text(&o).contains("fastest:"), "{}", text(&o));
    // Missing links, bad values, malformed file.
    assert_code(&cb(d, &["predict", "--ranks", "16"]), 2);
    assert_code(
        &cb(d, &["predict", "--ranks", "1", "--topology", "topo.toml"]),
        2,
    );
    std::fs::write(d.join("bad.toml"), "gpus_per_node = 0\n[intra]\nlatency_us = 1.0\nbandwidth_gbps = 1.0\n[inter]\nlatency_us = 1.0\nbandwidth_gbps = 1.0\n").unwrap();
    assert_code(
        &cb(d, &["predict", "--ranks", "16", "--topology", "bad.toml"]),
        2,
    );
    std::fs::write(d.join("typo.toml"), "gpus_per_nod = 8\n").unwrap();
    assert_code(
        &cb(d, &["predict", "--ranks", "16", "--topology", "typo.toml"]),
        2,
    );
}
