//! Robust straight-line fits on relative residuals, so a sweep from 8 B to 1 GiB weighs
//! every size alike and a few disturbed points do not pull the line.
//!
//! Relative residuals give the smallest sizes the most leverage over the intercept, so
//! a single small message that ran far faster than the rest (a shaper's burst, a cache)
//! can drag a least-squares or Huber line anywhere. The fit therefore starts from the
//! least-median-of-squares line (the best of the lines through every pair of points,
//! Rousseeuw 1984), which ignores up to half of the points, and then refines it by
//! iteratively reweighted least squares with Tukey's biweight, which gives gross
//! outliers no weight at all.

/// y = intercept + slope * x, with its quality.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct LineFit {
    pub intercept: f64,
    pub slope: f64,
    /// Coefficient of determination of log(y) against log(fit): 1 is perfect.
    pub r_squared_log: f64,
    /// Root mean square of the relative residuals (fit - y) / y.
    pub rms_rel_error: f64,
    /// Largest |relative residual|.
    pub max_rel_error: f64,
    /// Points more than 2.5 robust scales from the line, left out of the final fit
    /// or nearly so.
    pub outliers: usize,
    pub points: usize,
}

/// Tukey's biweight tuning constant: 95% efficiency under normal errors.
const TUKEY_C: f64 = 4.685;

/// Residuals below this relative size are noise on any machine: the scale never falls
/// under it, so an exact fit through a few points does not reject the rest.
const MIN_REL_SCALE: f64 = 1e-3;

/// Weighted least squares of y = a + b x with weights `w`, constrained to a >= 0,
/// b >= 0 (a time cannot be negative, nor can a cost per byte).
fn weighted_line(x: &[f64], y: &[f64], w: &[f64]) -> Option<(f64, f64)> {
    let sw: f64 = w.iter().sum();
    if sw <= 0.0 {
        return None;
    }
    let mx = x.iter().zip(w).map(|(x, w)| x * w).sum::<f64>() / sw;
    let my = y.iter().zip(w).map(|(y, w)| y * w).sum::<f64>() / sw;
    let sxx: f64 = x.iter().zip(w).map(|(x, w)| w * (x - mx).powi(2)).sum();
    let sxy: f64 = x
        .iter()
        .zip(y)
        .zip(w)
        .map(|((x, y), w)| w * (x - mx) * (y - my))
        .sum();
    let (mut a, mut b) = if sxx > 0.0 {
        let b = sxy / sxx;
        (my - b * mx, b)
    } else {
        (my, 0.0)
    };
    if b < 0.0 {
        a = my;
        b = 0.0;
    }
    if a < 0.0 {
        // Through the origin.
        let sxx0: f64 = x.iter().zip(w).map(|(x, w)| w * x * x).sum();
        let sxy0: f64 = x.iter().zip(y).zip(w).map(|((x, y), w)| w * x * y).sum();
        a = 0.0;
        b = if sxx0 > 0.0 {
            (sxy0 / sxx0).max(0.0)
        } else {
            0.0
        };
    }
    Some((a, b))
}

fn rel_residuals(x: &[f64], y: &[f64], (a, b): (f64, f64)) -> Vec<f64> {
    x.iter().zip(y).map(|(x, y)| (a + b * x - y) / y).collect()
}

/// The `h`-th smallest |r| (1-based), h = n/2 + 1: the order statistic that least
/// median of squares minimises for a line (Rousseeuw and Leroy 1987).
fn lms_order_stat(rel: &[f64]) -> f64 {
    let mut v: Vec<f64> = rel.iter().map(|r| r.abs()).collect();
    v.sort_by(f64::total_cmp);
    v[(v.len() / 2).min(v.len() - 1)]
}

/// The admissible line (a >= 0, b >= 0) with the smallest median relative residual
/// among the lines through two points, through the origin and one point, or flat
/// through one point; with its robust scale.
fn least_median_line(x: &[f64], y: &[f64]) -> ((f64, f64), f64) {
    let n = x.len();
    let mut candidates = Vec::with_capacity(n * (n + 1));
    for i in 0..n {
        if x[i] > 0.0 {
            candidates.push((0.0, y[i] / x[i]));
        }
        candidates.push((y[i], 0.0));
        for j in i + 1..n {
            if x[j] != x[i] {
                let b = (y[j] - y[i]) / (x[j] - x[i]);
                let a = y[i] - b * x[i];
                if a >= 0.0 && b >= 0.0 {
                    candidates.push((a, b));
                }
            }
        }
    }
    let mut best = (candidates[0], f64::INFINITY);
    for c in candidates {
        let m = lms_order_stat(&rel_residuals(x, y, c));
        if m < best.1 {
            best = (c, m);
        }
    }
    // Rousseeuw's consistency factor for the scale of a two-parameter LMS fit.
    let scale = 1.4826 * (1.0 + 5.0 / (n as f64 - 2.0).max(1.0)) * best.1;
    (best.0, scale.max(MIN_REL_SCALE))
}

fn tukey_weight(u: f64) -> f64 {
    if u.abs() >= TUKEY_C {
        0.0
    } else {
        let t = 1.0 - (u / TUKEY_C).powi(2);
        t * t
    }
}

/// Fits y = a + b x robustly. Needs at least two points with distinct x, every x
/// >= 0 and every y > 0, all finite; otherwise `None`.
pub fn robust_line(x: &[f64], y: &[f64]) -> Option<LineFit> {
    let n = x.len();
    if n < 2 || y.len() != n {
        return None;
    }
    if x.iter().any(|v| !v.is_finite() || *v < 0.0) || y.iter().any(|v| !v.is_finite() || *v <= 0.0)
    {
        return None;
    }
    if x.iter().all(|v| *v == x[0]) {
        return None;
    }
    let (start, scale) = least_median_line(x, y);
    // Relative residuals: weight 1/y^2 on top of the biweight.
    let base: Vec<f64> = y.iter().map(|y| 1.0 / (y * y)).collect();
    let mut fit = start;
    for _ in 0..50 {
        let rel = rel_residuals(x, y, fit);
        let w: Vec<f64> = base
            .iter()
            .zip(&rel)
            .map(|(b, r)| b * tukey_weight(r / scale))
            .collect();
        // A line needs two distinct sizes among the points it still weighs.
        let mut kept = x.iter().zip(&w).filter(|(_, w)| **w > 0.0).map(|(x, _)| *x);
        let first = kept.next();
        if !kept.any(|v| Some(v) != first) {
            break;
        }
        let next = weighted_line(x, y, &w)?;
        let converged = (next.0 - fit.0).abs() <= 1e-12 * next.0.abs().max(1e-300)
            && (next.1 - fit.1).abs() <= 1e-12 * next.1.abs().max(1e-300);
        fit = next;
        if converged {
            break;
        }
    }
    let (a, b) = fit;
    let rel = rel_residuals(x, y, fit);
    let rms_rel_error = (rel.iter().map(|r| r * r).sum::<f64>() / n as f64).sqrt();
    let max_rel_error = rel.iter().fold(0.0f64, |m, r| m.max(r.abs()));
    let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
    let mean_ly = ly.iter().sum::<f64>() / n as f64;
    let ss_tot: f64 = ly.iter().map(|v| (v - mean_ly).powi(2)).sum();
    let ss_res: f64 = x
        .iter()
        .zip(&ly)
        .map(|(x, ly)| ((a + b * x).max(f64::MIN_POSITIVE).ln() - ly).powi(2))
        .sum();
    let r_squared_log = if ss_tot > 0.0 {
        1.0 - ss_res / ss_tot
    } else {
        1.0
    };
    Some(LineFit {
        intercept: a,
        slope: b,
        r_squared_log,
        rms_rel_error,
        max_rel_error,
        outliers: rel.iter().filter(|r| (*r / scale).abs() > 2.5).count(),
        points: n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sweep() -> Vec<f64> {
        (3..=30).map(|p| (1u64 << p) as f64).collect()
    }

    #[test]
    fn recovers_an_exact_alpha_beta_line() {
        let x = sweep();
        let (alpha, beta) = (20e-6, 12.5e9);
        let y: Vec<f64> = x.iter().map(|s| alpha + s / beta).collect();
        let f = robust_line(&x, &y).unwrap();
        assert!((f.intercept - alpha).abs() / alpha < 1e-6, "{f:?}");
        assert!((f.slope * beta - 1.0).abs() < 1e-6, "{f:?}");
        assert!(f.max_rel_error < 1e-6 && f.r_squared_log > 0.999999);
    }

    #[test]
    fn resists_outliers_that_would_pull_least_squares() {
        let x = sweep();
        let (alpha, beta) = (5e-6, 50e9);
        let mut y: Vec<f64> = x.iter().map(|s| alpha + s / beta).collect();
        // Three disturbed points, 3x to 5x slower.
        y[2] *= 5.0;
        y[10] *= 3.0;
        y[20] *= 4.0;
        let f = robust_line(&x, &y).unwrap();
        assert!((f.intercept - alpha).abs() / alpha < 0.05, "{f:?}");
        assert!((f.slope * beta - 1.0).abs() < 0.05, "{f:?}");
        assert!(f.outliers >= 3, "{f:?}");
        // Plain weighted least squares (no robust weights) is pulled further.
        let w: Vec<f64> = y.iter().map(|y| 1.0 / (y * y)).collect();
        let (a0, _) = weighted_line(&x, &y, &w).unwrap();
        assert!((a0 - alpha).abs() > (f.intercept - alpha).abs());
    }

    #[test]
    fn ignores_a_small_message_far_faster_than_the_line() {
        // Medians of a 2-node all-reduce through a 200 Mbit/s token-bucket shaper: the
        // 64 KiB call fits in the shaper's burst and runs 18x faster than the link.
        let x = [65536.0, 262144.0, 1048576.0, 4194304.0, 16777216.0];
        let y = [
            151.29e-6,
            10.97985e-3,
            43.91908e-3,
            175.52818e-3,
            702.52067e-3,
        ];
        let f = robust_line(&x, &y).unwrap();
        let beta = 1.0 / f.slope;
        assert!((beta / 23.9e6 - 1.0).abs() < 0.01, "{f:?}");
        assert!(f.intercept < 1e-3, "{f:?}");
        assert_eq!(f.outliers, 1, "{f:?}");
        // Least squares on relative residuals follows the fast point instead.
        let w: Vec<f64> = y.iter().map(|y| 1.0 / (y * y)).collect();
        let (_, b0) = weighted_line(&x, &y, &w).unwrap();
        assert!((1.0 / b0 / 23.9e6 - 1.0).abs() > 0.5);
    }

    #[test]
    fn a_noisy_sweep_keeps_every_point() {
        let x = sweep();
        let y: Vec<f64> = x
            .iter()
            .enumerate()
            .map(|(i, s)| (10e-6 + s / 20e9) * if i % 2 == 0 { 1.01 } else { 0.99 })
            .collect();
        let f = robust_line(&x, &y).unwrap();
        assert_eq!(f.outliers, 0, "{f:?}");
        assert!((f.slope * 20e9 - 1.0).abs() < 0.02, "{f:?}");
    }

    #[test]
    fn rejects_unusable_input() {
        assert!(robust_line(&[1.0], &[1.0]).is_none());
        assert!(robust_line(&[1.0, 1.0], &[1.0, 2.0]).is_none());
        assert!(robust_line(&[1.0, 2.0], &[1.0, 0.0]).is_none());
        assert!(robust_line(&[1.0, f64::NAN], &[1.0, 2.0]).is_none());
    }
}
