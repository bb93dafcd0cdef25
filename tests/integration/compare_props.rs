//! Property tests of `compare` and `validate` on the documents imports and broken runs
//! make: records of one sample, latencies, runs that died, were aborted or interrupted,
//! streams cut anywhere. Whatever the input, no panic; a usable one gives a verdict
//! that follows the rules, an unusable one exit 2 and one line.

use crate::common::*;
use crate::compare_partial::{baseline, stream};
use crate::decisions::cb;
use clusterbench::analysis::compare::{compare, Basis, CompareOptions, Verdict};
use clusterbench::analysis::validate::{validate, ClaimsFile, BUILTIN_CLAIMS};
use clusterbench::results::ending::{note, Unfinished};
use clusterbench::results::RunDocument;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::path::Path;

const STATUSES: [&str; 5] = [
    "completed",
    "check_failed",
    "aborted",
    "interrupted",
    "running",
];

/// What to do to one record of the baseline: drop it, keep its first `samples`
/// samples (all when larger), scale its times, fail its check.
#[derive(Debug, Clone)]
struct Edit {
    keep: bool,
    samples: usize,
    scale: f64,
    failed: bool,
}

fn edit() -> impl Strategy<Value = Edit> {
    (
        prop::bool::weighted(0.85),
        prop_oneof![Just(1usize), Just(2), 0usize..4, Just(usize::MAX)],
        prop_oneof![Just(1.0), 0.5f64..3.0, Just(0.0), Just(-1.0)],
        prop::bool::weighted(0.05),
    )
        .prop_map(|(keep, samples, scale, failed)| Edit {
            keep,
            samples,
            scale,
            failed,
        })
}

/// The baseline with `edits` applied (one per record, cycled), its status set and,
/// when `ended` is false, no end time (as a stream without its footer reads).
fn edited(edits: &[Edit], status: &str, ended: bool) -> Value {
    let mut doc = baseline();
    let records: Vec<Value> = doc["records"]
        .as_array()
        .unwrap()
        .iter()
        .zip(edits.iter().cycle())
        .filter(|(_, e)| e.keep)
        .map(|(r, e)| {
            let mut r = r.clone();
            let samples: Vec<Value> = r["samples_s"]
                .as_array()
                .unwrap()
                .iter()
                .take(e.samples)
                .map(|t| json!(t.as_f64().unwrap() * e.scale))
                .collect();
            r["samples_s"] = json!(samples);
            r["time_s"]["median"] = json!(r["time_s"]["median"].as_f64().unwrap() * e.scale);
            if e.failed {
                r["check"]["passed"] = json!(false);
            }
            r
        })
        .collect();
    doc["records"] = json!(records);
    doc["run"]["status"] = json!(status);
    if !ended {
        doc["run"]["finished_at"] = Value::Null;
    }
    doc
}

fn document(v: &Value) -> RunDocument {
    serde_json::from_value(v.clone()).unwrap()
}

/// `text` with `cut` characters removed at `at` and `insert` put there.
fn mutate(text: &str, at: usize, cut: usize, insert: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let at = at % (chars.len() + 1);
    let end = (at + cut).min(chars.len());
    let mut out: String = chars[..at].iter().collect();
    out.push_str(insert);
    out.extend(&chars[end..]);
    out
}

/// The command ended by a rule: no panic; exit 0 to 3; exit 2 with one line.
fn assert_clean_exit(o: &std::process::Output) -> Result<i32, TestCaseError> {
    let err = String::from_utf8_lossy(&o.stderr);
    prop_assert!(!err.contains("panicked"), "{err}");
    let code = o.status.code().unwrap_or(-1);
    prop_assert!((0..=3).contains(&code), "exit {code}: {err}");
    if code == 2 {
        prop_assert_eq!(err.trim_end().lines().count(), 1, "{}", err);
        prop_assert!(err.starts_with("clusterbench: error: "), "{}", err);
    }
    Ok(code)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// In the library: every comparison with one sample on a side rests on the
    /// threshold alone and its verdict is the point estimate's; the reports render.
    #[test]
    fn one_sample_and_unfinished_documents_compare_by_the_rules(
        base_edits in proptest::collection::vec(edit(), 1..8),
        cand_edits in proptest::collection::vec(edit(), 1..8),
        statuses in (0usize..5, 0usize..5, any::<bool>(), any::<bool>()),
        threshold in 0.0f64..1.0,
    ) {
        let (bs, cs, b_ended, c_ended) = statuses;
        let base = document(&edited(&base_edits, STATUSES[bs], b_ended));
        let cand = document(&edited(&cand_edits, STATUSES[cs], c_ended));
        let opts = CompareOptions { default_threshold: threshold, resamples: 200, ..Default::default() };
        let claims: Vec<(String, ClaimsFile)> = BUILTIN_CLAIMS
            .iter()
            .map(|(name, body)| (name.to_string(), ClaimsFile::parse(body, name).unwrap()))
            .collect();
        for doc in [&base, &cand] {
            let results = validate(doc, &claims);
            let _ = clusterbench::render::validate::render(&results, false, true);
            let unfinished = Unfinished::of(doc);
            prop_assert_eq!(unfinished.is_some(), note(Path::new("x.json"), doc).is_some());
            prop_assert_eq!(
                unfinished.is_none(),
                matches!(doc.run.status, clusterbench::results::RunStatus::Completed | clusterbench::results::RunStatus::CheckFailed)
            );
        }
        match compare(&base, &cand, &opts) {
            Ok(report) => {
                prop_assert_eq!(report.baseline_unfinished, Unfinished::of(&base));
                prop_assert_eq!(report.candidate_unfinished, Unfinished::of(&cand));
                for c in &report.comparisons {
                    let one = c.samples.0 < 2 || c.samples.1 < 2;
                    prop_assert_eq!(c.basis == Basis::ThresholdOnly, one, "{:?}", c);
                    if one {
                        let e = c.time_ratio.estimate;
                        let expect = if e > 1.0 + threshold {
                            Verdict::Regression
                        } else if e < 1.0 / (1.0 + threshold) {
                            Verdict::Improvement
                        } else {
                            Verdict::Unchanged
                        };
                        prop_assert_eq!(c.verdict, expect, "{:?}", c);
                    }
                }
                for (md, verbose) in [(false, false), (true, true)] {
                    let text = clusterbench::render::compare::render(&report, md, verbose);
                    prop_assert_eq!(text.lines().filter(|l| l.contains("only in the baseline")).count(), usize::from(!report.only_in_baseline.is_empty()));
                }
            }
            Err(e) => prop_assert!(e.to_string().starts_with("nothing to compare"), "{e}"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Through the binary: edited documents, streams of runs that died after any number
    /// of records, and streams cut or garbled anywhere.
    #[test]
    fn compare_and_validate_on_imported_died_and_garbled_files_exit_cleanly(
        edits in proptest::collection::vec(edit(), 1..8),
        status in 0usize..5,
        kept in 0usize..30,
        footer in proptest::option::of(0usize..5),
        at in 0usize..200_000,
        cut in 0usize..300,
        insert in "[ a-z0-9{}\\[\\]\":,.\\-\\n]{0,30}",
    ) {
        let dir = tempdir();
        let d = dir.path();
        let doc = edited(&edits, STATUSES[status], true);
        let json = d.join("edited.json");
        std::fs::write(&json, serde_json::to_string(&doc).unwrap()).unwrap();
        let died = stream(d, "died.jsonl", &doc, kept, footer.map(|f| STATUSES[f]));
        let garbled = d.join("garbled.jsonl");
        let text = std::fs::read_to_string(&died).unwrap();
        std::fs::write(&garbled, mutate(&text, at, cut, &insert)).unwrap();
        let claims = Path::new(env!("CARGO_MANIFEST_DIR")).join("harness/claims/gpu-h100-sxm.toml");
        let base = concat!(env!("CARGO_MANIFEST_DIR"), "/results/baselines/quick-cpu-2core.json");
        for file in [&json, &died, &garbled] {
            let f = file.to_str().unwrap();
            let compared = cb(d, &["compare", base, f, "--format", "json"]);
            if assert_clean_exit(&compared)? < 2 {
                let v: Value = serde_json::from_slice(&compared.stdout).unwrap();
                for c in v["comparisons"].as_array().unwrap() {
                    let one = c["samples"][0].as_u64() < Some(2) || c["samples"][1].as_u64() < Some(2);
                    prop_assert_eq!(c["basis"] == "threshold_only", one, "{}", c);
                }
            }
            let code = assert_clean_exit(&cb(d, &["validate", f, "--claims", claims.to_str().unwrap()]))?;
            // A CPU run measures none of a GPU's claims.
            prop_assert!(code == 2 || code == 3, "exit {code}");
        }
    }
}
