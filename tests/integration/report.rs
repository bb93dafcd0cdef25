//! Charts and the HTML report, from real runs of the binary: PNGs decoded, SVGs
//! parsed as XML, the report rendered in headless Chromium, hostile strings inert.

use crate::common::*;
use clusterbench::render::plot::{HEIGHT, WIDTH};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A small run of every benchmark on one rank; returns the results file.
fn small_run(dir: &Path, out: &str) -> PathBuf {
    clusterbench(dir)
        .args(["run", "--bench", "allreduce,membw,matmul"])
        .args(["-b", "8", "-e", "64K", "-f", "8", "-n", "3", "-w", "1"])
        .args([
            "--sizes",
            "64,128",
            "--array-size",
            "1M",
            "-q",
            "--output",
            out,
        ])
        .assert()
        .success();
    only_document(&dir.join(out)).0
}

fn png_size(path: &Path) -> (u32, u32) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .unwrap_or_else(|e| panic!("{} is not a PNG: {e}", path.display()));
    (reader.info().width, reader.info().height)
}

/// The texts of an SVG file, which must parse as XML.
fn svg_texts(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&text)
        .unwrap_or_else(|e| panic!("{} is not XML: {e}", path.display()));
    assert!(doc.root_element().has_tag_name("svg"));
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text().map(|t| t.trim().to_string()))
        .collect()
}

/// Checks every chart in `dir` and returns the file names.
fn assert_charts_decode(dir: &Path) -> Vec<String> {
    let names = files_in(dir);
    assert!(!names.is_empty(), "no charts in {}", dir.display());
    for name in &names {
        let path = dir.join(name);
        if name.ends_with(".png") {
            assert_eq!(png_size(&path), (WIDTH, HEIGHT), "{name}");
        } else if name.ends_with(".svg") {
            let texts = svg_texts(&path);
            // The title comes first: "<benchmark>: <what is drawn>".
            assert!(
                texts.first().is_some_and(|t| t.contains(": ")),
                "{name} has no title: {texts:?}"
            );
        } else {
            panic!("unexpected file {name}");
        }
    }
    names
}

#[test]
fn run_writes_charts_that_decode() {
    let dir = tempdir();
    let results = small_run(dir.path(), "r");
    let charts = results.with_file_name(format!(
        "{}-charts",
        results.file_stem().unwrap().to_string_lossy()
    ));
    let names = assert_charts_decode(&charts);
    for stem in ["allreduce-algbw", "membw-bandwidth", "matmul-tflops"] {
        for ext in ["png", "svg"] {
            let name = format!("{stem}.{ext}");
            assert!(names.contains(&name), "{name} missing: {names:?}");
        }
    }
    // One rank moves nothing across a link: no busbw chart, and its local copies are
    // on no latency chart.
    assert!(!names.iter().any(|n| n.contains("busbw")), "{names:?}");
    assert!(
        !names
            .iter()
            .any(|n| n.contains("latency") || n.starts_with("allreduce-time")),
        "{names:?}"
    );
    let texts = svg_texts(&charts.join("allreduce-algbw.svg"));
    for label in ["8 B", "32 KiB", "1 rank"] {
        assert!(texts.iter().any(|t| t == label), "{label}: {texts:?}");
    }
}

/// Chromium, as Debian packages it; CI installs it with scripts/setup.sh.
fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CLUSTERBENCH_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |d| d.join(name)))
        .find(|p| p.is_file())
}

/// Headless Chromium on a local file with every network feature off; `mode` is
/// `--screenshot=FILE` or `--dump-dom`. Returns stdout.
fn headless(html: &Path, mode: &str) -> Option<String> {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("CLUSTERBENCH_SKIP_BROWSER").is_some(),
            "chromium not found: install it (scripts/setup.sh does) or set \
             CLUSTERBENCH_SKIP_BROWSER=1 to skip the rendering checks"
        );
        return None;
    };
    let profile = tempdir();
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,2400",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(mode)
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("chromium starts");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Renders the report to a screenshot (kept under the target directory for CI to
/// show) and checks that it holds a drawn page, not a blank one.
fn screenshot(html: &Path, name: &str) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let shot = dir.join(format!("{name}.png"));
    let _ = std::fs::remove_file(&shot);
    if headless(html, &format!("--screenshot={}", shot.display())).is_none() {
        return;
    }
    let file = std::fs::File::open(&shot).expect("screenshot written");
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .unwrap();
    assert_eq!((reader.info().width, reader.info().height), (1280, 2400));
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let bytes = &buf[..info.buffer_size()];
    let step = info.color_type.samples();
    let mut colours: Vec<&[u8]> = bytes.chunks(step).step_by(97).collect();
    colours.sort();
    colours.dedup();
    assert!(
        colours.len() > 20,
        "the screenshot looks blank ({} colours)",
        colours.len()
    );
}

fn report(dir: &Path, inputs: &[&Path], out: &str) -> String {
    clusterbench(dir)
        .arg("report")
        .args(inputs)
        .args(["-o", out])
        .assert()
        .success();
    std::fs::read_to_string(dir.join(out)).unwrap()
}

#[cfg(feature = "mpi")]
#[test]
fn plot_and_report_compare_one_and_two_ranks() {
    let dir = tempdir();
    let one = small_run(dir.path(), "one");
    let out = crate::mpi::mpirun(2, dir.path())
        .args([
            "run",
            "--bench",
            "allreduce",
            "-b",
            "8",
            "-e",
            "64K",
            "-f",
            "8",
        ])
        .args(["-n", "3", "-w", "1", "-q", "--output", "two"])
        .output()
        .expect("mpirun starts");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let two = only_document(&dir.path().join("two")).0;

    clusterbench(dir.path())
        .args([
            "plot",
            one.to_str().unwrap(),
            two.to_str().unwrap(),
            "-o",
            "charts",
        ])
        .assert()
        .success();
    let names = assert_charts_decode(&dir.path().join("charts"));
    for stem in ["allreduce-busbw", "allreduce-time"] {
        assert!(names.contains(&format!("{stem}.png")), "{stem}: {names:?}");
    }
    // The one-rank run's local copies are no point on a latency curve: one rank count
    // is left, so there is no scaling chart, and the time chart has the 2 ranks alone.
    assert!(
        !names.iter().any(|n| n.contains("latency-scaling")),
        "{names:?}"
    );
    let texts = svg_texts(&dir.path().join("charts/allreduce-time.svg"));
    assert!(texts.iter().any(|t| t.contains("2 ranks")), "{texts:?}");
    assert!(!texts.iter().any(|t| t.contains("1 rank")), "{texts:?}");

    let html = report(dir.path(), &[&one, &two], "report.html");
    assert!(html.contains("1 rank") && html.contains("2 ranks"));
    assert!(html.contains("<svg"), "charts are inline");
    assert!(!html.contains("<script"), "the report needs no script");
    for fetch in ["src=\"http", "href=\"http", "url(", "@import"] {
        assert!(
            !html.contains(fetch),
            "nothing is fetched from a network: {fetch}"
        );
    }
    screenshot(&dir.path().join("report.html"), "one-and-two-ranks");
}

#[test]
fn report_of_one_run_renders() {
    let dir = tempdir();
    let results = small_run(dir.path(), "r");
    let html = report(dir.path(), &[&results], "report.html");
    for needle in ["Environment", "allreduce", "membw", "matmul", "TFLOP/s"] {
        assert!(html.contains(needle), "{needle}");
    }
    screenshot(&dir.path().join("report.html"), "one-run");
}

const HOSTILE: &str = "<script>document.body.setAttribute('data-pwned','script')</script>\
<img src=x onerror=\"document.body.setAttribute('data-pwned','img')\">";

#[test]
fn hostile_strings_in_results_render_inert() {
    let dir = tempdir();
    let results = small_run(dir.path(), "r");
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    doc["environment"]["hosts"][0]["hostname"] = HOSTILE.into();
    doc["environment"]["hosts"][0]["cpu_model"] = HOSTILE.into();
    doc["environment"]["hosts"][0]["instance_type"] = format!("p5\"'>{HOSTILE}").into();
    doc["environment"]["ranks"][0]["host"] = HOSTILE.into();
    doc["run"]["command_line"] = serde_json::json!([HOSTILE]);
    doc["run"]["backend_note"] = HOSTILE.into();
    for r in doc["records"].as_array_mut().unwrap() {
        if r["benchmark"] == "matmul" {
            r["params"]["label"] = HOSTILE.into();
        }
        if r["benchmark"] == "membw" {
            r["benchmark"] = "../mem\"><script>x()</script>".into();
        }
    }
    let hostile = dir.path().join("hostile.json");
    std::fs::write(&hostile, serde_json::to_string(&doc).unwrap()).unwrap();

    let html = report(dir.path(), &[&hostile], "hostile.html");
    assert!(!html.contains("<script"), "a script tag got through");
    assert!(!html.contains("<img"), "an img tag got through");
    assert!(
        html.contains("&lt;script&gt;"),
        "the text is shown, escaped"
    );

    clusterbench(dir.path())
        .args(["plot", "hostile.json", "-o", "charts"])
        .assert()
        .success();
    // A benchmark name never becomes a path outside the chart directory.
    assert!(!dir.path().join("mem").exists());
    let names = assert_charts_decode(&dir.path().join("charts"));
    assert!(names.iter().all(|n| !n.contains('/') && !n.contains('<')));
    let texts: Vec<String> = names
        .iter()
        .filter(|n| n.ends_with(".svg"))
        .flat_map(|n| svg_texts(&dir.path().join("charts").join(n)))
        .collect();
    assert!(
        texts.iter().any(|t| t.contains("<script>")),
        "chart text shows the name as text: {texts:?}"
    );

    if let Some(dom) = headless(&dir.path().join("hostile.html"), "--dump-dom") {
        assert!(dom.contains("clusterbench report"), "{dom}");
        // The payload's text names the attribute; only a script that ran sets it.
        assert!(!dom.contains("data-pwned=\""), "a script ran: {dom}");
        assert!(dom.contains("<body>"), "the body was changed: {dom}");
        assert!(!dom.contains("<script"), "a script element exists");
        assert!(dom.contains("&lt;script&gt;"), "the text is shown, escaped");
    }
}

#[test]
fn stream_of_a_run_that_died_is_read() {
    let dir = tempdir();
    let results = small_run(dir.path(), "r");
    let stream = std::fs::read_to_string(results.with_extension("jsonl")).unwrap();
    let mut lines: Vec<&str> = stream.lines().collect();
    lines.pop(); // the footer: the run died before it
    let last = lines.pop().unwrap();
    let records = lines.len() - 1;
    let cut = format!("{}\n{}", lines.join("\n"), &last[..last.len() / 2]);
    let died = dir.path().join("died.jsonl");
    std::fs::write(&died, cut).unwrap();

    let html = report(dir.path(), &[&died], "died.html");
    assert!(html.contains("aborted"), "the status says the run died");
    assert!(records > 3);
    clusterbench(dir.path())
        .args(["plot", "died.jsonl", "-o", "charts"])
        .assert()
        .success();
    assert_charts_decode(&dir.path().join("charts"));
}

#[test]
fn unreadable_inputs_are_usage_errors() {
    let dir = tempdir();
    std::fs::write(dir.path().join("other.json"), "{\"hello\": 1}").unwrap();
    std::fs::write(dir.path().join("junk.jsonl"), "not json\n").unwrap();
    for args in [
        vec!["plot", "missing.json"],
        vec!["report", "other.json"],
        vec!["report", "junk.jsonl", "-o", "x.html"],
        vec!["plot"],
    ] {
        let out = clusterbench(dir.path()).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        if args.len() > 1 {
            assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        }
    }
}

/// The claimed peak of the detected hardware is drawn as a dashed line. The input is a
/// real CPU run relabelled as a one-node CUDA run on a p5.48xlarge: a rendering fixture,
/// not a measurement of that machine. The run as measured matches no claims file.
#[test]
fn claimed_peak_of_the_detected_instance_is_drawn() {
    let dir = tempdir();
    let results = small_run(dir.path(), "r");
    let as_measured = dir.path().join("as-measured");
    clusterbench(dir.path())
        .args(["plot", results.to_str().unwrap(), "-o"])
        .arg(&as_measured)
        .assert()
        .success();
    let texts = svg_texts(&as_measured.join("membw-bandwidth.svg"));
    assert!(
        !texts.iter().any(|t| t.contains("claimed")),
        "no claims file matches this machine: {texts:?}"
    );

    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    doc["environment"]["hosts"][0]["instance_type"] = "p5.48xlarge".into();
    doc["run"]["backend"] = "cuda".into();
    let relabelled = dir.path().join("p5.json");
    std::fs::write(&relabelled, serde_json::to_string(&doc).unwrap()).unwrap();
    let charts = dir.path().join("charts");
    clusterbench(dir.path())
        .args(["plot", relabelled.to_str().unwrap(), "-o"])
        .arg(&charts)
        .assert()
        .success();
    let texts = svg_texts(&charts.join("membw-bandwidth.svg"));
    assert!(
        texts
            .iter()
            .any(|t| t.contains("claimed") && t.contains("HBM")),
        "the p5's HBM claim is drawn: {texts:?}"
    );
    assert_charts_decode(&charts);
}

/// The peer matrix of `gpumem` from a results document: GPUs 0 and 1 reach each other,
/// GPU 2 reaches neither, so its pairs are staged and marked. The peer records are made
/// by hand into a real run's document (no GPU here): their figures are invented, not
/// measured.
#[test]
fn peer_matrix_heatmaps_mark_staged_pairs() {
    let dir = tempdir();
    clusterbench(dir.path())
        .args(["run", "--bench", "membw", "--array-size", "1M"])
        .args(["-n", "2", "-w", "1", "-q", "--output", "r"])
        .assert()
        .success();
    let results = only_document(&dir.path().join("r")).0;
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    let template = doc["records"][0].clone();
    let mut peers = Vec::new();
    let one_way = [(0, 1), (1, 0), (0, 2), (2, 0), (1, 2), (2, 1)];
    let both_ways = [(0, 1), (0, 2), (1, 2)];
    for (copy, pairs, directions) in [("p2p", &one_way[..], 1), ("p2p_bidir", &both_ways[..], 2)] {
        for &(src, dst) in pairs {
            let staged = src == 2 || dst == 2;
            let path = if staged {
                serde_json::json!({
                    "route": "staged",
                    "reason": format!("GPU {src} cannot access GPU {dst}'s memory (cuDeviceCanAccessPeer)"),
                    "performance_rank": null, "native_atomics": null
                })
            } else {
                serde_json::json!({"route": "direct", "performance_rank": 0, "native_atomics": true})
            };
            let gbps = if staged { 20.0 } else { 300.0 } * directions as f64 + src as f64;
            let mut r = template.clone();
            r["benchmark"] = "gpumem".into();
            r["backend"] = "cuda".into();
            r["params"] = serde_json::json!({
                "kind": "copy", "copy": copy, "bytes": 1u64 << 29,
                "bytes_moved": directions << 29, "src_gpu": src, "dst_gpu": dst,
                "peer_path": path
            });
            r["metrics"] = serde_json::json!([
                {"name": "bandwidth", "unit": "GB/s", "value": gbps, "best": gbps}
            ]);
            peers.push(r);
        }
    }
    doc["records"].as_array_mut().unwrap().extend(peers);
    let with_peers = dir.path().join("peers.json");
    std::fs::write(&with_peers, serde_json::to_string(&doc).unwrap()).unwrap();
    assert_matches_schema(&with_peers);

    clusterbench(dir.path())
        .args(["plot", "peers.json", "-o", "charts"])
        .assert()
        .success();
    let charts = dir.path().join("charts");
    let names = assert_charts_decode(&charts);
    for (name, direct, staged) in [
        // One way: 0->1 and 1->0 direct; every pair with GPU 2 staged.
        (
            "gpumem-p2p.svg",
            vec!["300", "301"],
            vec!["22 *", "21 *", "20 *"],
        ),
        // Both ways: one figure per pair, drawn in both of its cells.
        ("gpumem-p2p_bidir.svg", vec!["600"], vec!["40 *", "41 *"]),
    ] {
        assert!(names.iter().any(|n| n == name), "{name} missing: {names:?}");
        let texts = svg_texts(&charts.join(name));
        for cell in direct {
            assert!(texts.iter().any(|t| t == cell), "{name}: {cell}: {texts:?}");
        }
        for cell in staged {
            assert!(texts.iter().any(|t| t == cell), "{name}: {cell}: {texts:?}");
        }
        assert!(
            !texts.iter().any(|t| t == "300 *" || t == "600 *"),
            "{name}: a direct pair is marked: {texts:?}"
        );
        assert!(texts.iter().any(|t| t == "GPU 2"), "{texts:?}");
        assert!(
            texts
                .iter()
                .any(|t| t.contains("* staged through host memory")),
            "{name}: the mark is not explained: {texts:?}"
        );
    }
}
