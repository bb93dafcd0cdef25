//! Summaries of timing samples: pure functions, no I/O.

pub mod bootstrap;
pub mod robust;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Summary of a set of per-iteration times, in seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    pub n: usize,
    pub min: f64,
    pub median: f64,
    pub mean: f64,
    pub max: f64,
    /// 99th percentile (linear interpolation between closest ranks).
    pub p99: f64,
    /// Sample standard deviation (n - 1 in the denominator; 0 for one sample).
    pub stdev: f64,
}

impl Summary {
    /// Summarises `samples`; `None` when there are none or any is not finite.
    pub fn of(samples: &[f64]) -> Option<Summary> {
        if samples.is_empty() || samples.iter().any(|x| !x.is_finite()) {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let mean = sorted.iter().sum::<f64>() / n as f64;
        let stdev = if n > 1 {
            (sorted.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        Some(Summary {
            n,
            min: sorted[0],
            median: quantile_sorted(&sorted, 0.5),
            mean,
            max: sorted[n - 1],
            p99: quantile_sorted(&sorted, 0.99),
            stdev,
        })
    }
}

/// Quantile `q` in [0, 1] of ascending `sorted` data, interpolating linearly
/// between the closest ranks (the "R-7" definition used by numpy and R).
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    debug_assert!(!sorted.is_empty());
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    sorted[lo] + (sorted[hi] - sorted[lo]) * frac
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_known_samples() {
        let s = Summary::of(&[4.0, 1.0, 3.0, 2.0, 5.0]).unwrap();
        assert_eq!(s.n, 5);
        assert_eq!(s.min, 1.0);
        assert_eq!(s.max, 5.0);
        assert_eq!(s.median, 3.0);
        assert_eq!(s.mean, 3.0);
        assert!((s.stdev - 2.5f64.sqrt()).abs() < 1e-12);
        assert!((s.p99 - 4.96).abs() < 1e-12);
    }

    #[test]
    fn median_of_even_count_interpolates() {
        let s = Summary::of(&[1.0, 2.0, 3.0, 10.0]).unwrap();
        assert_eq!(s.median, 2.5);
    }

    #[test]
    fn single_sample_has_zero_spread() {
        let s = Summary::of(&[7.0]).unwrap();
        assert_eq!(
            (s.min, s.median, s.max, s.p99, s.stdev),
            (7.0, 7.0, 7.0, 7.0, 0.0)
        );
    }

    #[test]
    fn empty_or_non_finite_gives_none() {
        assert!(Summary::of(&[]).is_none());
        assert!(Summary::of(&[1.0, f64::NAN]).is_none());
        assert!(Summary::of(&[f64::INFINITY]).is_none());
    }
}
