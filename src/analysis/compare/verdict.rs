//! The comparison itself: a bootstrap interval of each matched record's time ratio,
//! per record and per benchmark, judged against its threshold.

use super::matching::{headline, is_latency, label, match_key, Better};
use super::{CompareOptions, Gate};
use crate::error::UsageError;
use crate::results::ending::Unfinished;
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

impl Verdict {
    /// The word the table prints: the same as in the JSON.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Regression => "regression",
            Verdict::Improvement => "improvement",
            Verdict::Unchanged => "unchanged",
        }
    }
}

/// What a verdict rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// The bootstrap interval of the ratio lies wholly beyond the threshold (or not).
    Interval,
    /// A side has one sample (most imported logs): no spread is available, so the
    /// point estimate alone is held against the threshold.
    ThresholdOnly,
}

/// One matched measurement.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub key: String,
    pub label: String,
    pub metric: Option<String>,
    pub unit: Option<String>,
    /// Which way the metric is better: `lower` for a latency, compared as a time.
    pub better: Better,
    pub baseline_value: Option<f64>,
    pub candidate_value: Option<f64>,
    pub baseline_median_s: f64,
    pub candidate_median_s: f64,
    /// Candidate time over baseline time (after normalisation): > 1 is slower.
    pub time_ratio: Interval,
    pub threshold: f64,
    pub samples: (usize, usize),
    pub basis: Basis,
    pub verdict: Verdict,
}

/// The whole comparison.
#[derive(Debug, Clone, Serialize)]
pub struct CompareReport {
    pub baseline: String,
    pub candidate: String,
    /// How the baseline's run ended when it did not reach its end (its records are
    /// then partial); absent for a finished run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_unfinished: Option<Unfinished>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candidate_unfinished: Option<Unfinished>,
    /// Lines naming each results file of an unfinished run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
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
    pub basis: Basis,
    pub verdict: Verdict,
}

fn verdict_of(ratio: &Interval, threshold: f64, basis: Basis) -> Verdict {
    let (low, high) = match basis {
        Basis::Interval => (ratio.low, ratio.high),
        Basis::ThresholdOnly => (ratio.estimate, ratio.estimate),
    };
    if low > 1.0 + threshold {
        Verdict::Regression
    } else if high < 1.0 / (1.0 + threshold) {
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
        .or_else(|| {
            is_latency(r)
                .then(|| opts.thresholds.get("latency"))
                .flatten()
        })
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
    // Per benchmark: each record's estimate and draws, and whether it had a spread.
    let mut per_benchmark: BTreeMap<String, Vec<(f64, Vec<f64>, Basis)>> = BTreeMap::new();
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
        let basis = if b.samples_s.len() < 2 || c.samples_s.len() < 2 {
            Basis::ThresholdOnly
        } else {
            Basis::Interval
        };
        let verdict = verdict_of(&ratio, threshold, basis);
        per_benchmark
            .entry(b.benchmark.clone())
            .or_default()
            .push((estimate, draws, basis));
        let hb = headline(b);
        // The candidate's figure is the same metric as the baseline's.
        let hc = headline(c).filter(|h| hb.as_ref().is_some_and(|b| b.name == h.name));
        comparisons.push(Comparison {
            label: label(b),
            key,
            metric: hb.as_ref().map(|h| h.name.clone()),
            unit: hb.as_ref().map(|h| h.unit.clone()),
            better: hb.as_ref().map_or(Better::Lower, |h| h.better),
            baseline_value: hb.map(|h| h.value),
            candidate_value: hc.map(|h| h.value),
            baseline_median_s: b.time_s.median,
            candidate_median_s: c.time_s.median,
            time_ratio: ratio,
            threshold,
            samples: (b.samples_s.len(), c.samples_s.len()),
            basis,
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
    let (baseline_unfinished, candidate_unfinished) =
        (Unfinished::of(baseline), Unfinished::of(candidate));
    if comparisons.is_empty() {
        let mut why = format!(
            "nothing to compare: the two results have no checked measurement in common \
             ({} records in the baseline, {} in the candidate)",
            baseline.records.len(),
            candidate.records.len()
        );
        for (side, how) in [
            ("baseline", baseline_unfinished),
            ("candidate", candidate_unfinished),
        ] {
            if let Some(u) = how {
                why.push_str(&format!("; the {side}'s run {}", u.word()));
            }
        }
        return Err(UsageError::new(why));
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
            let basis = if parts.iter().all(|p| p.2 == Basis::ThresholdOnly) {
                Basis::ThresholdOnly
            } else {
                Basis::Interval
            };
            let parts: Vec<(f64, Vec<f64>)> =
                parts.iter().map(|(e, d, _)| (*e, d.clone())).collect();
            let ratio = geometric_mean(&parts, opts.confidence)?;
            let threshold = opts
                .thresholds
                .get(name)
                .copied()
                .unwrap_or(opts.default_threshold);
            Some(BenchmarkSummary {
                benchmark: name.clone(),
                records: parts.len(),
                verdict: verdict_of(&ratio, threshold, basis),
                time_ratio: ratio,
                threshold,
                basis,
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
        baseline_unfinished,
        candidate_unfinished,
        notes: Vec::new(),
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
