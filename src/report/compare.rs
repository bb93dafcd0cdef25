//! Baseline against candidate: match records, estimate the change of each from its
//! raw samples, and decide whether it is a regression.
//!
//! Records match on everything that says *what* was measured: benchmark, backend,
//! ranks, nodes and every field of the parameters (dtype, op, size, kernel, shape,
//! ...), read generically from their JSON form so that new kinds of parameters match
//! without changes here. The change is the ratio of median times (candidate over
//! baseline) with a seeded bootstrap confidence interval; a record regresses only
//! when the whole interval lies beyond its threshold, so noise alone does not fail.

use crate::error::UsageError;
use crate::results::{Record, RunDocument};
use crate::stats::bootstrap::{
    geometric_mean, percentile_interval, ratio_draws, seed_for, Interval,
};
use crate::units::format_bytes;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// How to compare.
#[derive(Debug, Clone)]
pub struct CompareOptions {
    /// Allowed slowdown before a change counts (0.10 = 10% more time).
    pub default_threshold: f64,
    /// Thresholds by benchmark name or metric name (`allreduce`, `busbw`, `tflops`).
    pub thresholds: BTreeMap<String, f64>,
    /// Confidence of the bootstrap interval (e.g. 0.95).
    pub confidence: f64,
    pub resamples: usize,
    /// Divide each side by a reference record of its own run (benchmark + a value
    /// among its parameters, e.g. `membw:copy`).
    pub normalize: Option<Reference>,
    /// What fails the comparison.
    pub gate: Gate,
}

/// What makes a comparison fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Gate {
    /// Any single measurement that regressed.
    Records,
    /// A benchmark whose measurements together (geometric mean of their time ratios,
    /// with its own bootstrap interval) regressed: one flapping record does not fail,
    /// a benchmark that slowed down across the board does.
    Benchmarks,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions {
            default_threshold: 0.10,
            thresholds: BTreeMap::new(),
            confidence: 0.95,
            resamples: 2000,
            normalize: None,
            gate: Gate::Records,
        }
    }
}

/// A reference record, named `BENCHMARK` or `BENCHMARK:VALUE` (a parameter value such
/// as a STREAM kernel name or a matmul label).
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    pub benchmark: String,
    pub value: Option<String>,
}

impl Reference {
    pub fn parse(text: &str) -> Result<Reference, UsageError> {
        let (b, v) = match text.split_once(':') {
            Some((b, v)) => (b.trim(), Some(v.trim().to_string())),
            None => (text.trim(), None),
        };
        if b.is_empty() || v.as_deref() == Some("") {
            return Err(UsageError::new(format!(
                "bad --normalize '{text}': expected BENCHMARK or BENCHMARK:VALUE, e.g. membw:copy"
            )));
        }
        Ok(Reference {
            benchmark: b.to_string(),
            value: v,
        })
    }

    fn matches(&self, r: &Record) -> bool {
        r.benchmark == self.benchmark
            && self.value.as_ref().is_none_or(|v| {
                params_value(r)
                    .as_object()
                    .is_some_and(|o| o.values().any(|x| x.as_str() == Some(v.as_str())))
            })
    }

    /// The reference of a run: the one matching record with the most samples.
    fn find<'a>(&self, doc: &'a RunDocument, side: &str) -> Result<&'a Record, UsageError> {
        let found: Vec<&Record> = doc.records.iter().filter(|r| self.matches(r)).collect();
        match found.iter().max_by_key(|r| r.samples_s.len()) {
            Some(r) if found.len() == 1 || self.value.is_some() => Ok(r),
            Some(_) => Err(UsageError::new(format!(
                "--normalize {}: {} records of the {side} match; name one, e.g. {}:copy",
                self.benchmark,
                found.len(),
                self.benchmark
            ))),
            None => Err(UsageError::new(format!(
                "--normalize {}{}: the {side} has no such record",
                self.benchmark,
                self.value
                    .as_ref()
                    .map(|v| format!(":{v}"))
                    .unwrap_or_default()
            ))),
        }
    }
}

fn params_value(r: &Record) -> Value {
    serde_json::to_value(&r.params).unwrap_or(Value::Null)
}

/// What identifies a measurement across runs.
pub fn match_key(r: &Record) -> String {
    // serde_json's map is ordered by key, so this string is canonical.
    format!(
        "{}|{}|{}|{}|{}",
        r.benchmark,
        r.backend,
        r.ranks,
        r.nodes,
        params_value(r)
    )
}

/// A short human label of a record: benchmark, then its parameters.
pub fn label(r: &Record) -> String {
    let mut parts = vec![r.benchmark.clone()];
    if let Value::Object(map) = params_value(r) {
        // Familiar fields first, in the order people say them; then any others.
        const ORDER: [&str; 9] = [
            "kernel",
            "dtype",
            "op",
            "label",
            "m",
            "n",
            "k",
            "bytes",
            "array_bytes",
        ];
        let mut fields: Vec<(&String, &Value)> = map.iter().collect();
        fields.sort_by_key(|(k, _)| ORDER.iter().position(|o| o == k).unwrap_or(ORDER.len()));
        for (k, v) in fields {
            if k == "kind" || k == "count" || k == "elements" || k == "bytes_moved" {
                continue;
            }
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Bool(b) => {
                    if *b {
                        k.clone()
                    } else {
                        continue;
                    }
                }
                Value::Number(n) if k.contains("bytes") => {
                    format_bytes(n.as_u64().unwrap_or_default())
                }
                Value::Number(n) => format!("{k}={n}"),
                Value::Null => continue,
                other => other.to_string(),
            };
            parts.push(text);
        }
    }
    parts.push(format!("{}r/{}n", r.ranks, r.nodes));
    parts.join(" ")
}

/// The figure shown for a record: its first bandwidth or throughput metric.
fn headline(r: &Record) -> Option<(String, String, f64)> {
    for name in ["busbw", "bandwidth", "tflops", "algbw"] {
        if let Some(m) = r.metric(name) {
            if m.value > 0.0 {
                return Some((m.name.clone(), m.unit.clone(), m.value));
            }
        }
    }
    r.metrics
        .iter()
        .find(|m| m.value > 0.0)
        .map(|m| (m.name.clone(), m.unit.clone(), m.value))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The whole interval is slower than the threshold allows.
    Regression,
    /// The whole interval is faster by more than the threshold.
    Improvement,
    /// Within the threshold, or not distinguishable from noise.
    Unchanged,
}

/// One matched measurement.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub key: String,
    pub label: String,
    pub metric: Option<String>,
    pub unit: Option<String>,
    pub baseline_value: Option<f64>,
    pub candidate_value: Option<f64>,
    pub baseline_median_s: f64,
    pub candidate_median_s: f64,
    /// Candidate time over baseline time (after normalisation): > 1 is slower.
    pub time_ratio: Interval,
    pub threshold: f64,
    pub samples: (usize, usize),
    pub verdict: Verdict,
}

/// The whole comparison.
#[derive(Debug, Clone, Serialize)]
pub struct CompareReport {
    pub baseline: String,
    pub candidate: String,
    pub confidence: f64,
    pub normalized_by: Option<String>,
    pub comparisons: Vec<Comparison>,
    pub only_in_baseline: Vec<String>,
    pub only_in_candidate: Vec<String>,
    /// Geometric mean of the time ratios of all matched records.
    pub geomean_time_ratio: f64,
    /// Per benchmark: the geometric mean of its records' time ratios.
    pub benchmarks: Vec<BenchmarkSummary>,
    pub gate: Gate,
    /// Records (gate `records`) or benchmarks (gate `benchmarks`) that regressed.
    pub regressions: usize,
    pub improvements: usize,
}

/// All matched records of one benchmark taken together.
#[derive(Debug, Clone, Serialize)]
pub struct BenchmarkSummary {
    pub benchmark: String,
    pub records: usize,
    pub time_ratio: Interval,
    /// The benchmark's own threshold (its name's, else the default).
    pub threshold: f64,
    pub verdict: Verdict,
}

fn verdict_of(ratio: &Interval, threshold: f64) -> Verdict {
    if ratio.low > 1.0 + threshold {
        Verdict::Regression
    } else if ratio.high < 1.0 / (1.0 + threshold) {
        Verdict::Improvement
    } else {
        Verdict::Unchanged
    }
}

fn threshold_for(opts: &CompareOptions, r: &Record) -> f64 {
    if let Some(t) = opts.thresholds.get(&r.benchmark) {
        return *t;
    }
    r.metrics
        .iter()
        .find_map(|m| opts.thresholds.get(&m.name))
        .copied()
        .unwrap_or(opts.default_threshold)
}

/// Compares two runs. Errors (exit 2) when nothing matches.
pub fn compare(
    baseline: &RunDocument,
    candidate: &RunDocument,
    opts: &CompareOptions,
) -> Result<CompareReport, UsageError> {
    let refs = match &opts.normalize {
        Some(r) => Some((
            r.find(baseline, "baseline")?,
            r.find(candidate, "candidate")?,
        )),
        None => None,
    };
    let is_ref = |r: &Record| opts.normalize.as_ref().is_some_and(|n| n.matches(r));
    let mut cand_by_key: BTreeMap<String, &Record> = BTreeMap::new();
    for r in &candidate.records {
        cand_by_key.entry(match_key(r)).or_insert(r);
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut comparisons = Vec::new();
    let mut per_benchmark: BTreeMap<String, Vec<(f64, Vec<f64>)>> = BTreeMap::new();
    let mut only_in_baseline = Vec::new();
    for b in &baseline.records {
        let key = match_key(b);
        if !seen.insert(key.clone()) || is_ref(b) {
            continue;
        }
        let Some(c) = cand_by_key.get(&key) else {
            only_in_baseline.push(label(b));
            continue;
        };
        if !b.check.passed || !c.check.passed {
            // A figure that failed its check is not a figure: nothing to compare.
            continue;
        }
        let reference = refs.map(|(rb, rc)| (rc.samples_s.as_slice(), rb.samples_s.as_slice()));
        let Some((estimate, draws)) = ratio_draws(
            &c.samples_s,
            &b.samples_s,
            reference,
            opts.resamples,
            seed_for(&key),
        ) else {
            continue;
        };
        let ratio = percentile_interval(estimate, &draws, opts.confidence);
        let threshold = threshold_for(opts, b);
        let verdict = verdict_of(&ratio, threshold);
        per_benchmark
            .entry(b.benchmark.clone())
            .or_default()
            .push((estimate, draws));
        let hb = headline(b);
        let hc = headline(c);
        comparisons.push(Comparison {
            label: label(b),
            key,
            metric: hb.as_ref().map(|h| h.0.clone()),
            unit: hb.as_ref().map(|h| h.1.clone()),
            baseline_value: hb.map(|h| h.2),
            candidate_value: hc.map(|h| h.2),
            baseline_median_s: b.time_s.median,
            candidate_median_s: c.time_s.median,
            time_ratio: ratio,
            threshold,
            samples: (b.samples_s.len(), c.samples_s.len()),
            verdict,
        });
    }
    let only_in_candidate: Vec<String> = candidate
        .records
        .iter()
        .filter(|r| {
            !is_ref(r)
                && !baseline
                    .records
                    .iter()
                    .any(|b| match_key(b) == match_key(r))
        })
        .map(label)
        .collect();
    if comparisons.is_empty() {
        return Err(UsageError::new(format!(
            "nothing to compare: the two results have no checked measurement in common \
             ({} records in the baseline, {} in the candidate)",
            baseline.records.len(),
            candidate.records.len()
        )));
    }
    let geomean_time_ratio = (comparisons
        .iter()
        .map(|c| c.time_ratio.estimate.ln())
        .sum::<f64>()
        / comparisons.len() as f64)
        .exp();
    let benchmarks: Vec<BenchmarkSummary> = per_benchmark
        .iter()
        .filter_map(|(name, parts)| {
            let ratio = geometric_mean(parts, opts.confidence)?;
            let threshold = opts
                .thresholds
                .get(name)
                .copied()
                .unwrap_or(opts.default_threshold);
            Some(BenchmarkSummary {
                benchmark: name.clone(),
                records: parts.len(),
                verdict: verdict_of(&ratio, threshold),
                time_ratio: ratio,
                threshold,
            })
        })
        .collect();
    let count = |v: Verdict| match opts.gate {
        Gate::Records => comparisons.iter().filter(|c| c.verdict == v).count(),
        Gate::Benchmarks => benchmarks.iter().filter(|b| b.verdict == v).count(),
    };
    let (regressions, improvements) = (count(Verdict::Regression), count(Verdict::Improvement));
    Ok(CompareReport {
        baseline: baseline.run.run_id.clone(),
        candidate: candidate.run.run_id.clone(),
        confidence: opts.confidence,
        normalized_by: opts.normalize.as_ref().map(|n| {
            format!(
                "{}{}",
                n.benchmark,
                n.value
                    .as_ref()
                    .map(|v| format!(":{v}"))
                    .unwrap_or_default()
            )
        }),
        regressions,
        improvements,
        benchmarks,
        gate: opts.gate,
        comparisons,
        only_in_baseline,
        only_in_candidate,
        geomean_time_ratio,
    })
}

fn verdict_text(v: Verdict) -> &'static str {
    match v {
        Verdict::Regression => "REGRESSION",
        Verdict::Improvement => "improvement",
        Verdict::Unchanged => "ok",
    }
}

fn pct(ratio: f64) -> String {
    format!("{:+.1}%", (ratio - 1.0) * 100.0)
}

fn figure(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.4}")).unwrap_or_else(|| "-".into())
}

/// Renders the report as a terminal table or markdown.
pub fn render(report: &CompareReport, markdown: bool) -> String {
    let header = [
        "measurement",
        "metric",
        "baseline",
        "candidate",
        "time change",
        "interval",
        "threshold",
        "verdict",
    ];
    let rows: Vec<Vec<String>> = report
        .comparisons
        .iter()
        .map(|c| {
            vec![
                c.label.clone(),
                match (&c.metric, &c.unit) {
                    (Some(m), Some(u)) => format!("{m} ({u})"),
                    _ => "time".into(),
                },
                figure(c.baseline_value),
                figure(c.candidate_value),
                pct(c.time_ratio.estimate),
                if c.samples.0 < 2 || c.samples.1 < 2 {
                    "one sample".into()
                } else {
                    format!("{} .. {}", pct(c.time_ratio.low), pct(c.time_ratio.high))
                },
                format!("{:.0}%", c.threshold * 100.0),
                verdict_text(c.verdict).into(),
            ]
        })
        .collect();
    let mut out = String::new();
    if markdown {
        out.push_str(&format!(
            "### clusterbench compare: {} vs {}\n\n",
            report.baseline, report.candidate
        ));
    }
    out.push_str(&super::grid::render(&header, &rows, markdown));
    let bench_rows: Vec<Vec<String>> = report
        .benchmarks
        .iter()
        .map(|b| {
            vec![
                b.benchmark.clone(),
                b.records.to_string(),
                pct(b.time_ratio.estimate),
                format!("{} .. {}", pct(b.time_ratio.low), pct(b.time_ratio.high)),
                format!("{:.0}%", b.threshold * 100.0),
                verdict_text(b.verdict).into(),
            ]
        })
        .collect();
    out.push('\n');
    out.push_str(&super::grid::render(
        &[
            "benchmark",
            "records",
            "time change (geomean)",
            "interval",
            "threshold",
            "verdict",
        ],
        &bench_rows,
        markdown,
    ));
    let mut note = format!(
        "\n{} compared; the gate counts {}: {} regressed, {} improved; time change is candidate over \
         baseline (positive = slower), {:.0}% bootstrap interval of the ratio of medians; \
         geometric mean of all {}",
        report.comparisons.len(),
        match report.gate {
            Gate::Records => "records",
            Gate::Benchmarks => "benchmarks",
        },
        report.regressions,
        report.improvements,
        report.confidence * 100.0,
        pct(report.geomean_time_ratio)
    );
    if let Some(n) = &report.normalized_by {
        note.push_str(&format!("; each side normalised by its own {n}"));
    }
    out.push_str(&note);
    out.push('\n');
    for (what, list) in [
        ("only in the baseline", &report.only_in_baseline),
        ("only in the candidate", &report.only_in_candidate),
    ] {
        if !list.is_empty() {
            out.push_str(&format!("{} {what}: {}\n", list.len(), list.join("; ")));
        }
    }
    out
}

/// Parses `0.1`, `allreduce=0.3` or `busbw=0.25` threshold specifications.
pub fn parse_thresholds(specs: &[String], opts: &mut CompareOptions) -> Result<(), UsageError> {
    let parse = |v: &str, spec: &str| -> Result<f64, UsageError> {
        let t: f64 = v.trim().trim_end_matches('%').parse().map_err(|_| {
            UsageError::new(format!(
                "bad --threshold '{spec}': expected a fraction such as 0.1 or NAME=0.25"
            ))
        })?;
        let t = if v.trim().ends_with('%') {
            t / 100.0
        } else {
            t
        };
        if !(t.is_finite() && (0.0..100.0).contains(&t)) {
            return Err(UsageError::new(format!(
                "bad --threshold '{spec}': a threshold is a fraction >= 0 (0.1 = 10%)"
            )));
        }
        Ok(t)
    };
    for spec in specs {
        match spec.split_once('=') {
            Some((name, v)) if !name.trim().is_empty() => {
                opts.thresholds
                    .insert(name.trim().to_string(), parse(v, spec)?);
            }
            Some(_) => return Err(UsageError::new(format!("bad --threshold '{spec}'"))),
            None => opts.default_threshold = parse(spec, spec)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::DType;
    use crate::results::{Check, Metric, Params};
    use crate::stats::Summary;

    fn record(bytes: u64, samples: Vec<f64>) -> Record {
        Record {
            benchmark: "allreduce".into(),
            backend: "cpu".into(),
            ranks: 2,
            nodes: 1,
            params: Params::Collective {
                dtype: DType::Float,
                op: None,
                in_place: false,
                count: bytes / 4,
                bytes,
            },
            time_s: Summary::of(&samples).unwrap(),
            samples_s: samples,
            metrics: vec![Metric {
                name: "busbw".into(),
                unit: "GB/s".into(),
                value: 1.0,
                best: 1.0,
            }],
            check: Check::skipped(),
            per_node: Vec::new(),
            timing: None,
        }
    }

    fn doc(records: Vec<Record>) -> RunDocument {
        let text =
            include_str!("../../tests/fixtures/nccl-tests-all_reduce_perf-a3mega-16gpu.json");
        let ctx = crate::import::ImportContext {
            source_name: "t".into(),
            ..Default::default()
        };
        let mut d =
            crate::import::import(text, crate::import::Format::NcclTestsJson, &ctx).unwrap();
        d.records = records;
        d
    }

    fn samples(center: f64, spread: f64) -> Vec<f64> {
        (0..20)
            .map(|i| center * (1.0 + spread * ((i % 5) as f64 - 2.0) / 2.0))
            .collect()
    }

    #[test]
    fn verdicts_follow_the_interval_not_the_point() {
        let base = doc(vec![
            record(1024, samples(1.0, 0.02)),
            record(4096, samples(1.0, 0.02)),
        ]);
        let cand = doc(vec![
            record(1024, samples(2.0, 0.02)),
            record(4096, samples(1.05, 0.02)),
        ]);
        let rep = compare(&base, &cand, &CompareOptions::default()).unwrap();
        assert_eq!(rep.comparisons.len(), 2);
        assert_eq!(rep.comparisons[0].verdict, Verdict::Regression);
        // 5% slower is inside the 10% threshold.
        assert_eq!(rep.comparisons[1].verdict, Verdict::Unchanged);
        assert_eq!(rep.regressions, 1);
        // A per-benchmark threshold of 150% lets the doubling pass.
        let mut opts = CompareOptions::default();
        parse_thresholds(&["allreduce=1.5".to_string()], &mut opts).unwrap();
        assert_eq!(compare(&base, &cand, &opts).unwrap().regressions, 0);
        // Very noisy samples: the same doubling of the median is not provable.
        let noisy_base = doc(vec![record(1024, samples(1.0, 0.9))]);
        let noisy_cand = doc(vec![record(1024, samples(1.3, 0.9))]);
        let rep = compare(&noisy_base, &noisy_cand, &CompareOptions::default()).unwrap();
        assert_eq!(
            rep.comparisons[0].verdict,
            Verdict::Unchanged,
            "{:?}",
            rep.comparisons[0]
        );
    }

    #[test]
    fn keys_are_generic_over_parameters_and_unmatched_records_are_listed() {
        let base = doc(vec![
            record(1024, samples(1.0, 0.01)),
            record(8, samples(1.0, 0.01)),
        ]);
        let cand = doc(vec![
            record(1024, samples(1.0, 0.01)),
            record(16, samples(1.0, 0.01)),
        ]);
        let rep = compare(&base, &cand, &CompareOptions::default()).unwrap();
        assert_eq!(rep.comparisons.len(), 1);
        assert_eq!(rep.only_in_baseline.len(), 1);
        assert_eq!(rep.only_in_candidate.len(), 1);
        assert!(match_key(&record(8, vec![1.0])).contains("\"bytes\":8"));
        let other = doc(vec![record(64, samples(1.0, 0.01))]);
        assert!(compare(&base, &other, &CompareOptions::default()).is_err());
    }

    #[test]
    fn thresholds_parse_fractions_percentages_and_names() {
        let mut o = CompareOptions::default();
        parse_thresholds(&["5%".into(), "busbw=0.2".into()], &mut o).unwrap();
        assert!((o.default_threshold - 0.05).abs() < 1e-12);
        assert_eq!(o.thresholds["busbw"], 0.2);
        for bad in ["x", "=0.1", "-0.1", "nan"] {
            assert!(parse_thresholds(&[bad.into()], &mut o).is_err(), "{bad}");
        }
        assert!(Reference::parse("membw:").is_err());
        assert_eq!(Reference::parse("membw").unwrap().value, None);
    }
}
