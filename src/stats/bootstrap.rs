//! Bootstrap confidence intervals of a ratio of medians: pure math, seeded, reproducible.

use super::quantile_sorted;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// The seed of every bootstrap: the same inputs always give the same interval.
pub const SEED: u64 = 0x636c_7573_7465_7262;

/// A point estimate with a two-sided confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Interval {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
}

/// Median of unsorted data; `None` when empty or not finite.
pub fn median(data: &[f64]) -> Option<f64> {
    if data.is_empty() || data.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let mut sorted = data.to_vec();
    sorted.sort_by(f64::total_cmp);
    Some(quantile_sorted(&sorted, 0.5))
}

fn resampled_median(data: &[f64], rng: &mut SmallRng, scratch: &mut Vec<f64>) -> f64 {
    scratch.clear();
    scratch.extend((0..data.len()).map(|_| data[rng.random_range(0..data.len())]));
    scratch.sort_by(f64::total_cmp);
    quantile_sorted(scratch, 0.5)
}

/// Percentile-bootstrap interval of `median(num) / median(den)`, optionally divided
/// by `median(ref_num) / median(ref_den)` (a reference measured in the same runs,
/// resampled jointly so its noise widens the interval). `confidence` is e.g. 0.95.
/// Returns `None` when a sample set is empty, not finite, or has a zero median.
pub fn ratio_of_medians(
    num: &[f64],
    den: &[f64],
    reference: Option<(&[f64], &[f64])>,
    resamples: usize,
    confidence: f64,
) -> Option<Interval> {
    let point = |n: f64, d: f64| if d > 0.0 { Some(n / d) } else { None };
    let mut estimate = point(median(num)?, median(den)?)?;
    if let Some((rn, rd)) = reference {
        estimate /= point(median(rn)?, median(rd)?)?;
    }
    let mut rng = SmallRng::seed_from_u64(SEED);
    let mut scratch = Vec::new();
    let mut ratios = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        let d = resampled_median(den, &mut rng, &mut scratch);
        let mut r = resampled_median(num, &mut rng, &mut scratch) / d;
        if let Some((rn, rd)) = reference {
            let rdm = resampled_median(rd, &mut rng, &mut scratch);
            r /= resampled_median(rn, &mut rng, &mut scratch) / rdm;
        }
        if r.is_finite() {
            ratios.push(r);
        }
    }
    if ratios.is_empty() {
        return Some(Interval {
            estimate,
            low: estimate,
            high: estimate,
        });
    }
    ratios.sort_by(f64::total_cmp);
    let tail = (1.0 - confidence.clamp(0.0, 1.0)) / 2.0;
    Some(Interval {
        estimate,
        low: quantile_sorted(&ratios, tail),
        high: quantile_sorted(&ratios, 1.0 - tail),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noisy(center: f64, n: usize, seed: u64) -> Vec<f64> {
        let mut rng = SmallRng::seed_from_u64(seed);
        (0..n)
            .map(|_| center * (1.0 + rng.random_range(-0.05..0.05)))
            .collect()
    }

    #[test]
    fn interval_covers_a_known_doubling_and_excludes_one() {
        let base = noisy(1.0, 30, 1);
        let slow = noisy(2.0, 30, 2);
        let ci = ratio_of_medians(&slow, &base, None, 2000, 0.95).unwrap();
        assert!(ci.low > 1.8 && ci.high < 2.2, "{ci:?}");
        assert!(ci.low <= ci.estimate && ci.estimate <= ci.high);
    }

    #[test]
    fn same_samples_give_an_interval_around_one() {
        let base = noisy(1.0, 20, 3);
        let ci = ratio_of_medians(&base, &base, None, 2000, 0.95).unwrap();
        assert_eq!(ci.estimate, 1.0);
        assert!(ci.low < 1.0 && ci.high > 1.0, "{ci:?}");
    }

    #[test]
    fn results_are_reproducible() {
        let a = noisy(1.0, 15, 4);
        let b = noisy(1.3, 15, 5);
        assert_eq!(
            ratio_of_medians(&a, &b, None, 500, 0.9),
            ratio_of_medians(&a, &b, None, 500, 0.9)
        );
    }

    #[test]
    fn a_reference_that_slowed_as_much_cancels_the_change() {
        let base = noisy(1.0, 20, 6);
        let cand = noisy(2.0, 20, 7);
        let ref_base = noisy(5.0, 20, 8);
        let ref_cand = noisy(10.0, 20, 9);
        let ci =
            ratio_of_medians(&cand, &base, Some((&ref_cand, &ref_base)), 2000, 0.95).unwrap();
        assert!((ci.estimate - 1.0).abs() < 0.1, "{ci:?}");
        assert!(ci.low < 1.0 && ci.high > 1.0, "{ci:?}");
    }

    #[test]
    fn degenerate_input_gives_none() {
        assert!(ratio_of_medians(&[], &[1.0], None, 10, 0.95).is_none());
        assert!(ratio_of_medians(&[1.0], &[0.0], None, 10, 0.95).is_none());
        assert!(ratio_of_medians(&[f64::NAN], &[1.0], None, 10, 0.95).is_none());
    }
}
