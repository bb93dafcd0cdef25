//! Golden outputs: `import`, `compare`, `validate`, `model`, `predict`, `plot` and
//! `report` run on committed inputs only (the quick CPU baseline, the logs in
//! `tests/fixtures/`, the claims in `harness/claims/`), and what they print, their exit
//! status and the files they write must equal `tests/golden/` byte for byte. A change
//! fails with the file and the first differing line; when it is intended, regenerate with
//! `CLUSTERBENCH_BLESS=1 cargo test --test integration golden::` and review the diff.
//!
//! Only what differs between two runs of the same binary is normalised, nothing that a
//! command computes: the temporary directory the outputs go to (`$TMP`), the binary's own
//! path (recorded as argv[0] in an imported document's command line), and the wall-clock
//! times `import` stamps on its documents and `report` on its page, which no option fixes
//! (all replaced by the Unix epoch, so the documents stay valid input for the others).
//! None of these commands probes the machine, so the outputs are the same with and
//! without the default features: one golden set serves both builds.

use crate::common::{bin, clusterbench, tempdir};
use std::path::Path;

const BLESS: &str = "CLUSTERBENCH_BLESS=1 cargo test --test integration golden::";
const BASELINE: &str = "results/baselines/quick-cpu-2core.json";

/// Every import: the golden files' stem, the log in `tests/fixtures/`, and the options
/// it needs (OSU collective logs do not print their rank count; point-to-point logs name
/// no hosts). Each goes to `$TMP/<stem>.json`, where the other tests read it.
const IMPORTS: &[&str] = &[
    "nccl-tests-log nccl-tests-all_reduce_perf-a3mega-16gpu.log --instance-type a3-megagpu-8g",
    "nccl-tests-json nccl-tests-all_reduce_perf-a3mega-16gpu.json --instance-type a3-megagpu-8g",
    "osu-allreduce-5.6.2 osu_allreduce-v5.6.2-64ranks.out --ranks 64 --nodes 2",
    "osu-reduce-cuda-7.3 osu_reduce-cuda-v7.3-192ranks-head.out --nodes 2",
    "osu-latency osu_latency-v5.6.2-handwritten.out --hosts node1,node2 --nodes 2",
    "osu-latency-mp osu_latency_mp-v5.6.3-handwritten.out --hosts node1,node2 --nodes 2",
    "osu-latency-cuda osu_latency-cuda-v7.5-tail-handwritten.out --hosts node1,node2 --nodes 2",
    "osu-bw osu_bw-v7.1-handwritten.out --hosts node1,node2 --nodes 2",
    "osu-bibw osu_bibw-v7.5-validation-handwritten.out --hosts node1,node2 --nodes 2",
];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn blessing() -> bool {
    std::env::var_os("CLUSTERBENCH_BLESS").is_some_and(|v| v == "1")
}

/// `actual` must equal `tests/golden/<name>`; with CLUSTERBENCH_BLESS=1 it becomes it.
fn assert_golden(name: &str, actual: &[u8]) {
    let path = repo().join("tests/golden").join(name);
    if blessing() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        if std::fs::read(&path).ok().as_deref() != Some(actual) {
            std::fs::write(&path, actual).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
        return;
    }
    let expected = std::fs::read(&path).unwrap_or_else(|e| {
        panic!("tests/golden/{name} cannot be read ({e}); to create it: `{BLESS}`")
    });
    if expected == actual {
        return;
    }
    let (golden, output) = (
        String::from_utf8_lossy(&expected),
        String::from_utf8_lossy(actual),
    );
    let (mut g, mut o) = (golden.split('\n'), output.split('\n'));
    for line in 1.. {
        match (g.next(), o.next()) {
            (Some(a), Some(b)) if a == b => continue,
            (a, b) => {
                let a = a.unwrap_or("<end of file>");
                let b = b.unwrap_or("<end of file>");
                // Lines of the HTML report run to thousands of characters: show where.
                let col = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
                let from = col.saturating_sub(60);
                let excerpt = |s: &str| s.chars().skip(from).take(160).collect::<String>();
                panic!(
                    "tests/golden/{name} differs from the output at line {line}, column {}:\n  \
                     golden: {}\n  output: {}\n\
                     if the change is intended, regenerate with `{BLESS}` and review the diff",
                    col + 1,
                    excerpt(a),
                    excerpt(b)
                );
            }
        }
    }
}

/// FNV-1a 64-bit: a test-only fingerprint of binary outputs (PNGs), so the golden set
/// holds a hash instead of the image. Not a security hash; it only has to notice change.
fn fnv1a_64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// One test's scratch directory; commands run from the repository root so that the
/// committed inputs are named by their relative paths in every output.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Self {
        Scratch { dir: tempdir() }
    }

    fn normalise(&self, text: &str) -> String {
        let tmp = self.dir.path().to_str().expect("UTF-8 temp path");
        text.replace(bin().to_str().expect("UTF-8 binary path"), "clusterbench")
            .replace(tmp, "$TMP")
    }

    /// Runs `clusterbench COMMAND` (words split on spaces, `$TMP` standing for the
    /// scratch directory); the transcript (command, exit status, stdout, stderr) must
    /// match `tests/golden/<case>.txt`.
    fn check(&self, case: &str, command: &str) {
        let tmp = self.dir.path().to_str().expect("UTF-8 temp path");
        let args: Vec<String> = command
            .split_whitespace()
            .map(|a| a.replace("$TMP", tmp))
            .collect();
        let out = clusterbench(repo())
            .args(&args)
            .output()
            .expect("binary runs");
        let transcript = format!(
            "$ clusterbench {command}\nexit status: {}\n--- stdout\n{}--- stderr\n{}",
            out.status.code().map_or("signal".into(), |c| c.to_string()),
            self.normalise(&String::from_utf8(out.stdout).expect("UTF-8 stdout")),
            self.normalise(&String::from_utf8(out.stderr).expect("UTF-8 stderr")),
        );
        assert_golden(&format!("{case}.txt"), transcript.as_bytes());
    }

    /// Imports the logs named by `stems` (see `IMPORTS`), normalising each document in
    /// place so that the commands that read it see the same bytes every run; with
    /// `golden`, the transcripts and documents are checked too.
    fn import(&self, stems: &[&str], golden: bool) {
        let imports = IMPORTS.iter().filter_map(|line| line.split_once(' '));
        for (stem, log_and_options) in imports.filter(|(stem, _)| stems.contains(stem)) {
            let command = format!("import tests/fixtures/{log_and_options} -o $TMP/{stem}.json");
            if golden {
                self.check(&format!("import-{stem}"), &command);
            } else {
                let args = command.replace("$TMP", self.dir.path().to_str().unwrap());
                clusterbench(repo())
                    .args(args.split_whitespace())
                    .assert()
                    .success();
            }
            let output = self.dir.path().join(format!("{stem}.json"));
            let text = std::fs::read_to_string(&output).expect("import wrote its document");
            let text = import_times_at_epoch(&self.normalise(&text));
            std::fs::write(&output, &text).unwrap();
            if golden {
                assert_golden(&format!("import-{stem}.json"), text.as_bytes());
            }
        }
    }
}

/// `import` stamps the document with the time it ran (run id, start and finish, one
/// instant): each form of that instant is replaced by the Unix epoch.
fn import_times_at_epoch(text: &str) -> String {
    let doc: serde_json::Value = serde_json::from_str(text).expect("import wrote JSON");
    let mut text = text.to_owned();
    for field in ["started_at", "finished_at"] {
        let at = doc["run"][field].as_str().expect("import stamps its run");
        let compact: String = at.chars().filter(|c| !matches!(c, '-' | ':')).collect();
        text = text
            .replace(at, "1970-01-01T00:00:00.000Z")
            .replace(&compact, "19700101T000000.000Z");
    }
    text
}

#[test]
fn import_every_fixture_log() {
    let stems: Vec<&str> = IMPORTS.iter().filter_map(|l| l.split(' ').next()).collect();
    Scratch::new().import(&stems, true);
}

#[test]
fn compare_formats_and_verdicts() {
    let s = Scratch::new();
    let itself = format!("compare {BASELINE} {BASELINE}");
    for format in ["table", "markdown", "json"] {
        s.check(
            &format!("compare-baseline-self-{format}"),
            &format!("{itself} --format {format}"),
        );
    }
    s.check(
        "compare-baseline-self-benchmark-gate",
        &format!("{itself} --gate benchmarks --threshold matmul=0.05"),
    );
    s.import(
        &[
            "nccl-tests-log",
            "nccl-tests-json",
            "osu-allreduce-5.6.2",
            "osu-reduce-cuda-7.3",
        ],
        false,
    );
    // The same measurements through the text log and the -J JSON must compare equal.
    s.check(
        "compare-nccl-log-vs-json",
        "compare $TMP/nccl-tests-log.json $TMP/nccl-tests-json.json --format markdown",
    );
    // Two OSU versions on different machines: a regression, exit status 1.
    s.check(
        "compare-osu-allreduce-vs-reduce-cuda",
        "compare $TMP/osu-allreduce-5.6.2.json $TMP/osu-reduce-cuda-7.3.json",
    );
    // Nothing in common: a usage error, exit status 2.
    s.check(
        "compare-baseline-vs-nccl",
        &format!("compare {BASELINE} $TMP/nccl-tests-log.json"),
    );
}

#[test]
fn validate_against_claims() {
    let s = Scratch::new();
    s.check(
        "validate-baseline-h100",
        &format!("validate {BASELINE} --claims harness/claims/gpu-h100-sxm.toml"),
    );
    // A CPU run matches no built-in claims file: exit status 2, with the reason.
    s.check("validate-baseline-auto", &format!("validate {BASELINE}"));
    s.import(&["nccl-tests-log"], false);
    for format in ["table", "json"] {
        s.check(
            &format!("validate-nccl-a3-mega-{format}"),
            &format!("validate $TMP/nccl-tests-log.json --claims harness/claims/gcp-a3-mega.toml --format {format}"),
        );
    }
    s.check(
        "validate-nccl-auto-markdown",
        "validate $TMP/nccl-tests-log.json --format markdown",
    );
}

#[test]
fn model_and_predict() {
    let s = Scratch::new();
    s.check("model-baseline", &format!("model {BASELINE}"));
    s.import(
        &[
            "nccl-tests-log",
            "osu-allreduce-5.6.2",
            "osu-reduce-cuda-7.3",
        ],
        false,
    );
    s.check(
        "model-nccl-json",
        "model $TMP/nccl-tests-log.json --format json",
    );
    s.check(
        "model-osu-markdown",
        "model $TMP/osu-allreduce-5.6.2.json $TMP/osu-reduce-cuda-7.3.json --format markdown",
    );
    let cluster = "predict --ranks 32 --gpus-per-node 8 --intra-latency 3 --intra-bw 150 \
                   --inter-latency 10 --inter-bw 50 --switch-tiers 2 --switch-latency 0.5 \
                   -b 8 -e 1G -f 16";
    for format in ["table", "json"] {
        s.check(
            &format!("predict-{format}"),
            &format!("{cluster} --format {format}"),
        );
    }
    // Calibration needs sweeps at two rank counts on one node; the fixtures have none,
    // so what is pinned is the refusal.
    s.check(
        "predict-calibrate-refused",
        "predict --ranks 64 --calibrate $TMP/nccl-tests-log.json $TMP/osu-allreduce-5.6.2.json",
    );
}

#[test]
fn plot_svg_and_png() {
    let s = Scratch::new();
    s.import(&["nccl-tests-log"], false);
    s.check(
        "plot",
        &format!("plot {BASELINE} $TMP/nccl-tests-log.json -o $TMP/charts"),
    );
    let mut files: Vec<_> = std::fs::read_dir(s.dir.path().join("charts"))
        .expect("charts written")
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    // SVGs are text and small: kept whole, for a readable diff. PNGs are kept as hashes.
    let mut png_hashes = String::new();
    for file in &files {
        let name = file.file_name().unwrap().to_str().unwrap();
        let bytes = std::fs::read(file).unwrap();
        match file.extension().and_then(|e| e.to_str()) {
            Some("svg") => assert_golden(&format!("plot.{name}"), &bytes),
            Some("png") => png_hashes.push_str(&format!(
                "{name} {} bytes fnv1a64 {:016x}\n",
                bytes.len(),
                fnv1a_64(&bytes)
            )),
            _ => panic!("unexpected chart file {name}"),
        }
    }
    assert_golden("plot.png-fnv1a64.txt", png_hashes.as_bytes());
}

#[test]
fn html_report() {
    let s = Scratch::new();
    s.import(&["nccl-tests-log"], false);
    s.check(
        "report",
        &format!("report {BASELINE} $TMP/nccl-tests-log.json -o $TMP/report.html"),
    );
    let page = std::fs::read_to_string(s.dir.path().join("report.html")).expect("report written");
    let page = s.normalise(&page);
    // The page says when it was generated (to the second): the one clock reading in it.
    let marker = " · generated ";
    let at = page
        .find(marker)
        .expect("report says when it was generated")
        + marker.len();
    let stamp = page.get(at..at + 20).expect("a timestamp follows");
    assert!(
        stamp.ends_with('Z') && stamp.as_bytes()[10] == b'T',
        "not a time: {stamp}"
    );
    let page = format!("{}1970-01-01T00:00:00Z{}", &page[..at], &page[at + 20..]);
    assert_golden("report.html", page.as_bytes());
}
