//! Baseline against candidate: match records, estimate the change of each from its
//! raw samples, and decide whether it is a regression.
//!
//! Records match on everything that says *what* was measured: benchmark, backend,
//! ranks, nodes and every field of the parameters (dtype, op, size, kernel, shape,
//! ...), read generically from their JSON form so that new kinds of parameters match
//! without changes here. The change is the ratio of median times (candidate over
//! baseline) with a seeded bootstrap confidence interval; a record regresses only
//! when the whole interval lies beyond its threshold, so noise alone does not fail.

mod matching;
mod verdict;

pub use matching::{label, match_key, Better, Reference};
pub use verdict::{compare, Basis, BenchmarkSummary, CompareReport, Comparison, Verdict};

use crate::error::UsageError;
use serde::Serialize;
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
mod tests;
