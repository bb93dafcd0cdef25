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

/// Bootstrap draws of `median(num) / median(den)`, optionally divided by
/// `median(ref_num) / median(ref_den)` (a reference measured in the same runs,
/// resampled jointly so its noise widens the interval). Returns the point estimate
/// and `resamples` draws (a non-finite draw is replaced by the estimate, so draws
/// of different measurements stay aligned by index). `None` when a sample set is
/// empty, not finite, or has a zero median.
pub fn ratio_draws(
    num: &[f64],
    den: &[f64],
    reference: Option<(&[f64], &[f64])>,
    resamples: usize,
    seed: u64,
) -> Option<(f64, Vec<f64>)> {
    let point = |n: f64, d: f64| if d > 0.0 { Some(n / d) } else { None };
    let mut estimate = point(median(num)?, median(den)?)?;
    if let Some((rn, rd)) = reference {
        estimate /= point(median(rn)?, median(rd)?)?;
    }
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut scratch = Vec::new();
    let mut draws = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        let d = resampled_median(den, &mut rng, &mut scratch);
        let mut r = resampled_median(num, &mut rng, &mut scratch) / d;
        if let Some((rn, rd)) = reference {
            let rdm = resampled_median(rd, &mut rng, &mut scratch);
            r /= resampled_median(rn, &mut rng, &mut scratch) / rdm;
        }
        draws.push(if r.is_finite() { r } else { estimate });
    }
    Some((estimate, draws))
}

/// The percentile interval of `draws` around `estimate` at `confidence` (e.g. 0.95).
pub fn percentile_interval(estimate: f64, draws: &[f64], confidence: f64) -> Interval {
    if draws.is_empty() {
        return Interval {
            estimate,
            low: estimate,
            high: estimate,
        };
    }
    let mut sorted = draws.to_vec();
    sorted.sort_by(f64::total_cmp);
    let tail = (1.0 - confidence.clamp(0.0, 1.0)) / 2.0;
    Interval {
        estimate,
        low: quantile_sorted(&sorted, tail).min(estimate),
        high: quantile_sorted(&sorted, 1.0 - tail).max(estimate),
    }
}

/// Percentile-bootstrap interval of a ratio of medians (see [`ratio_draws`]).
pub fn ratio_of_medians(
    num: &[f64],
    den: &[f64],
    reference: Option<(&[f64], &[f64])>,
    resamples: usize,
    confidence: f64,
) -> Option<Interval> {
    let (estimate, draws) = ratio_draws(num, den, reference, resamples, SEED)?;
    Some(percentile_interval(estimate, &draws, confidence))
}

/// Interval of the geometric mean of several ratios from their aligned draws.
pub fn geometric_mean(parts: &[(f64, Vec<f64>)], confidence: f64) -> Option<Interval> {
    if parts.is_empty() {
        return None;
    }
    let k = parts.len() as f64;
    let estimate = (parts.iter().map(|p| p.0.ln()).sum::<f64>() / k).exp();
    let n = parts.iter().map(|p| p.1.len()).min().unwrap_or(0);
    let draws: Vec<f64> = (0..n)
        .map(|i| (parts.iter().map(|p| p.1[i].ln()).sum::<f64>() / k).exp())
        .collect();
    Some(percentile_interval(estimate, &draws, confidence))
}

/// A stable seed for one measurement, from its key (FNV-1a), so that the draws of
/// different measurements are independent yet reproducible.
pub fn seed_for(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325u64 ^ SEED, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
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
        let ci = ratio_of_medians(&cand, &base, Some((&ref_cand, &ref_base)), 2000, 0.95).unwrap();
        assert!((ci.estimate - 1.0).abs() < 0.1, "{ci:?}");
        assert!(ci.low < 1.0 && ci.high > 1.0, "{ci:?}");
    }

    #[test]
    fn geometric_mean_of_independent_ratios() {
        let parts: Vec<(f64, Vec<f64>)> = [(2.0, 1), (0.5, 2), (1.0, 3)]
            .iter()
            .map(|(c, s)| {
                ratio_draws(
                    &noisy(*c, 20, *s),
                    &noisy(1.0, 20, s + 10),
                    None,
                    1000,
                    seed_for(&s.to_string()),
                )
                .unwrap()
            })
            .collect();
        let g = geometric_mean(&parts, 0.95).unwrap();
        assert!((g.estimate - 1.0).abs() < 0.05, "{g:?}");
        assert!(g.low < 1.0 && g.high > 1.0 && g.high - g.low < 0.2, "{g:?}");
        assert_ne!(seed_for("a"), seed_for("b"));
    }

    #[test]
    fn degenerate_input_gives_none() {
        assert!(ratio_of_medians(&[], &[1.0], None, 10, 0.95).is_none());
        assert!(ratio_of_medians(&[1.0], &[0.0], None, 10, 0.95).is_none());
        assert!(ratio_of_medians(&[f64::NAN], &[1.0], None, 10, 0.95).is_none());
    }
}
