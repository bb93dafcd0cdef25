//! The comparison itself: a bootstrap interval of each matched record's time ratio,
//! per record and per benchmark, judged against its threshold.

use super::matching::{headline, label, match_key};
use super::{CompareOptions, Gate};
use crate::error::UsageError;
use crate::results::{Record, RunDocument};
use crate::stats::bootstrap::{
    geometric_mean, percentile_interval, ratio_draws, seed_for, Interval,
};
use serde::Serialize;
use std::collections::BTreeMap;

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
        // A local copy (a collective on one rank) measures no interconnect: no verdict.
        if !seen.insert(key.clone()) || is_ref(b) || b.is_local_copy() {
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
                && !r.is_local_copy()
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
