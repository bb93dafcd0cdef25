//! Summaries of timing samples: pure functions, no I/O.

pub mod bootstrap;
pub mod robust;
pub mod segmented;

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

/// Median of `values` (`None` when empty or any is not finite).
pub fn median(values: &[f64]) -> Option<f64> {
    Summary::of(values).map(|s| s.median)
}

/// Median absolute deviation from the median, scaled by 1.4826 so that it estimates the
/// standard deviation of normal data; robust to a minority of outliers.
pub fn scaled_mad(values: &[f64]) -> Option<f64> {
    let m = median(values)?;
    let dev: Vec<f64> = values.iter().map(|v| (v - m).abs()).collect();
    median(&dev).map(|d| 1.4826 * d)
}

/// The round-robin ("circle method") schedule of all pairs of `n` players: `n - 1`
/// rounds for even `n` (`n` for odd `n`, each player sitting out once), every pair
/// exactly once, no player twice in a round. Pairs are `(lower, higher)`.
pub fn round_robin(n: usize) -> Vec<Vec<(usize, usize)>> {
    if n < 2 {
        return Vec::new();
    }
    // An odd count gets a bye: a phantom player whose partner sits the round out.
    let m = if n % 2 == 0 { n } else { n + 1 };
    let mut rounds = Vec::with_capacity(m - 1);
    for r in 0..m - 1 {
        let mut pairs = Vec::with_capacity(m / 2);
        // Player m-1 stays fixed; the others rotate.
        let rot = |i: usize| (i + r) % (m - 1);
        pairs.push((rot(0), m - 1));
        for k in 1..m / 2 {
            pairs.push((rot(k), rot(m - 1 - k)));
        }
        pairs.retain(|&(a, b)| a < n && b < n);
        for p in pairs.iter_mut() {
            *p = (p.0.min(p.1), p.0.max(p.1));
        }
        rounds.push(pairs);
    }
    rounds
}

#[cfg(test)]
mod robust_tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn round_robin_covers_every_pair_once_with_disjoint_rounds() {
        for n in 1..=13 {
            let rounds = round_robin(n);
            let expected_rounds = match n {
                0 | 1 => 0,
                n if n % 2 == 0 => n - 1,
                n => n,
            };
            assert_eq!(rounds.len(), expected_rounds, "n={n}");
            let mut seen = HashSet::new();
            for round in &rounds {
                let mut busy = HashSet::new();
                for &(a, b) in round {
                    assert!(a < b && b < n);
                    assert!(
                        busy.insert(a) && busy.insert(b),
                        "n={n}: a node twice in a round"
                    );
                    assert!(seen.insert((a, b)), "n={n}: pair twice");
                }
            }
            assert_eq!(seen.len(), n * n.saturating_sub(1) / 2, "n={n}");
        }
    }

    #[test]
    fn mad_ignores_one_outlier() {
        let v = [10.0, 10.2, 9.8, 10.1, 1.0];
        assert_eq!(median(&v), Some(10.0));
        let s = scaled_mad(&v).unwrap();
        assert!((s - 1.4826 * 0.2).abs() < 1e-9, "{s}");
        assert_eq!(scaled_mad(&[]), None);
    }
}
