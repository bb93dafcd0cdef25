//! Robust straight-line fits: Huber-weighted iteratively reweighted least squares on
//! relative residuals, so a sweep from 8 B to 1 GiB weighs every size alike and a
//! few disturbed points do not pull the line.

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
    /// Points whose Huber weight fell below 1 (treated as partly outlying).
    pub downweighted: usize,
    pub points: usize,
}

/// Huber's tuning constant: 95% efficiency under normal errors.
const HUBER_K: f64 = 1.345;

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

fn median_abs(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().map(|r| r.abs()).collect();
    v.sort_by(f64::total_cmp);
    super::quantile_sorted(&v, 0.5)
}

/// Fits y = a + b x robustly. Needs at least two points with distinct x, every x
/// >= 0 and every y > 0, all finite; otherwise `None`.
pub fn huber_line(x: &[f64], y: &[f64]) -> Option<LineFit> {
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
    // Relative residuals: weight 1/y^2 on top of the Huber weight.
    let base: Vec<f64> = y.iter().map(|y| 1.0 / (y * y)).collect();
    let mut huber = vec![1.0; n];
    let mut fit = (0.0, 0.0);
    for _ in 0..50 {
        let w: Vec<f64> = base.iter().zip(&huber).map(|(b, h)| b * h).collect();
        let next = weighted_line(x, y, &w)?;
        let rel: Vec<f64> = x
            .iter()
            .zip(y)
            .map(|(x, y)| (next.0 + next.1 * x - y) / y)
            .collect();
        // MAD scale; a floor keeps a perfect fit from dividing by zero.
        let scale = (median_abs(&rel) / 0.6745).max(1e-9);
        for (h, r) in huber.iter_mut().zip(&rel) {
            let u = (r / scale).abs();
            *h = if u <= HUBER_K { 1.0 } else { HUBER_K / u };
        }
        let converged = (next.0 - fit.0).abs() <= 1e-12 * next.0.abs().max(1e-300)
            && (next.1 - fit.1).abs() <= 1e-12 * next.1.abs().max(1e-300);
        fit = next;
        if converged {
            break;
        }
    }
    let (a, b) = fit;
    let rel: Vec<f64> = x.iter().zip(y).map(|(x, y)| (a + b * x - y) / y).collect();
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
        downweighted: huber.iter().filter(|h| **h < 1.0).count(),
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
        let f = huber_line(&x, &y).unwrap();
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
        let f = huber_line(&x, &y).unwrap();
        assert!((f.intercept - alpha).abs() / alpha < 0.05, "{f:?}");
        assert!((f.slope * beta - 1.0).abs() < 0.05, "{f:?}");
        assert!(f.downweighted >= 3, "{f:?}");
        // Plain weighted least squares (one iteration, no Huber) is pulled further.
        let w: Vec<f64> = y.iter().map(|y| 1.0 / (y * y)).collect();
        let (a0, _) = weighted_line(&x, &y, &w).unwrap();
        assert!((a0 - alpha).abs() > (f.intercept - alpha).abs());
    }

    #[test]
    fn rejects_unusable_input() {
        assert!(huber_line(&[1.0], &[1.0]).is_none());
        assert!(huber_line(&[1.0, 1.0], &[1.0, 2.0]).is_none());
        assert!(huber_line(&[1.0, 2.0], &[1.0, 0.0]).is_none());
        assert!(huber_line(&[1.0, f64::NAN], &[1.0, 2.0]).is_none());
    }
}
