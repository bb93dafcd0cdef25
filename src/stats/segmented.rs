//! Piecewise robust line fits: a sweep whose cost per byte changes with the size (a
//! protocol or algorithm switch, MPI's eager/rendezvous limit) is a few lines, each
//! over a range of sizes, with jumps between them.
//!
//! The breakpoints are chosen by the data. For every number of segments up to the
//! maximum, dynamic programming finds the split that minimises the total truncated
//! squared relative residual of the segments' robust lines (`robust_line`), each
//! segment at least `min_points` points long. The number of segments is then chosen by
//! the Bayesian information criterion, with the error floored at a relative noise level
//! no real measurement goes below: a sweep that one line fits to within that noise stays
//! one line, and its fit is exactly `robust_line` of the whole sweep.

use super::robust::{robust_line, LineFit};

/// A residual this large (relative) already marks a point the line does not describe;
/// larger ones cost no more, so one wild point cannot buy a segment of its own.
const TRUNCATE_REL: f64 = 0.5;

/// Relative error below which splitting a sweep buys nothing: run-to-run noise of any
/// real measurement is at least this large.
const NOISE_FLOOR_REL: f64 = 0.01;

/// Candidate breakpoints considered at most; a longer sweep is thinned evenly, so the
/// cost stays bounded however fine the size steps.
const MAX_CANDIDATE_BREAKS: usize = 48;

/// Points a candidate segment's line is fitted through while breakpoints are sought;
/// a longer segment is thinned evenly (its cost still counts every point). The least
/// median of squares start is cubic in the points, so this bounds the search on a
/// finely stepped sweep; the chosen segments are then fitted on all their points.
const MAX_SEARCH_POINTS: usize = 24;

/// One segment of a piecewise fit.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Segment {
    pub min_x: f64,
    pub max_x: f64,
    pub fit: LineFit,
}

/// The segments, smallest x first, and the quality of the whole piecewise fit.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SegmentedFit {
    pub segments: Vec<Segment>,
    /// Root mean square of the relative residuals over every point.
    pub rms_rel_error: f64,
    pub max_rel_error: f64,
    pub outliers: usize,
    pub points: usize,
}

/// Truncated squared relative residuals of a fit over its points.
fn robust_cost(x: &[f64], y: &[f64], fit: &LineFit) -> f64 {
    x.iter()
        .zip(y)
        .map(|(x, y)| {
            let r = (fit.intercept + fit.slope * x - y) / y;
            r.powi(2).min(TRUNCATE_REL.powi(2))
        })
        .sum()
}

/// Fits `y` against `x` with at most `max_segments` robust lines, each over at least
/// `min_points` points (and two distinct x). Same input rules as `robust_line`;
/// `None` when not even one line can be fitted.
pub fn robust_segments(
    x: &[f64],
    y: &[f64],
    max_segments: usize,
    min_points: usize,
) -> Option<SegmentedFit> {
    let n = x.len();
    if y.len() != n || n < 2 {
        return None;
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|a, b| x[*a].total_cmp(&x[*b]));
    let xs: Vec<f64> = order.iter().map(|i| x[*i]).collect();
    let ys: Vec<f64> = order.iter().map(|i| y[*i]).collect();
    let whole = robust_line(&xs, &ys)?;
    // Segment boundaries: 0, the allowed starts of later segments, n. A segment never
    // splits points of equal x.
    let mut starts: Vec<usize> = (min_points..=n.saturating_sub(min_points))
        .filter(|i| xs[*i] != xs[i - 1])
        .collect();
    if starts.len() > MAX_CANDIDATE_BREAKS {
        let step = starts.len() as f64 / MAX_CANDIDATE_BREAKS as f64;
        starts = (0..MAX_CANDIDATE_BREAKS)
            .map(|k| starts[(k as f64 * step) as usize])
            .collect();
    }
    let mut bounds = vec![0];
    bounds.extend(starts);
    bounds.push(n);
    let b = bounds.len();
    let line_over = |lo: usize, hi: usize, thin: bool| {
        if lo == 0 && hi == n {
            return Some(whole);
        }
        let m = hi - lo;
        if !thin || m <= MAX_SEARCH_POINTS {
            return robust_line(&xs[lo..hi], &ys[lo..hi]);
        }
        let pick: Vec<usize> = (0..MAX_SEARCH_POINTS)
            .map(|k| lo + k * (m - 1) / (MAX_SEARCH_POINTS - 1))
            .collect();
        let tx: Vec<f64> = pick.iter().map(|i| xs[*i]).collect();
        let ty: Vec<f64> = pick.iter().map(|i| ys[*i]).collect();
        robust_line(&tx, &ty)
    };
    // costs[i][j]: the cost of the robust line over bounds[i]..bounds[j].
    let mut costs: Vec<Vec<Option<f64>>> = vec![vec![None; b]; b];
    for i in 0..b {
        for j in i + 1..b {
            let (lo, hi) = (bounds[i], bounds[j]);
            if hi - lo < min_points {
                continue;
            }
            costs[i][j] =
                line_over(lo, hi, true).map(|f| robust_cost(&xs[lo..hi], &ys[lo..hi], &f));
        }
    }
    // best[k][j]: least cost of k+1 segments covering bounds[0]..bounds[j], with the
    // previous boundary index.
    let max_segments = max_segments.max(1);
    let mut best: Vec<Vec<Option<(f64, usize)>>> = vec![vec![None; b]; max_segments];
    for j in 1..b {
        best[0][j] = costs[0][j].map(|c| (c, 0));
    }
    for k in 1..max_segments {
        for j in 1..b {
            for i in 1..j {
                let (Some((prev, _)), Some(c)) = (best[k - 1][i], costs[i][j]) else {
                    continue;
                };
                let total = prev + c;
                if best[k][j].is_none_or(|(t, _)| total < t) {
                    best[k][j] = Some((total, i));
                }
            }
        }
    }
    let nf = n as f64;
    let floor = nf * NOISE_FLOOR_REL.powi(2);
    let criterion =
        |k: usize, cost: f64| nf * (cost.max(floor) / nf).ln() + 3.0 * k as f64 * nf.ln();
    let mut chosen = 0;
    let mut chosen_score = f64::INFINITY;
    for (k, row) in best.iter().enumerate() {
        if let Some((cost, _)) = row[b - 1] {
            let score = criterion(k, cost);
            if score < chosen_score {
                chosen = k;
                chosen_score = score;
            }
        }
    }
    let mut cuts = vec![b - 1];
    let mut j = b - 1;
    for k in (1..=chosen).rev() {
        let (_, i) = best[k][j]?;
        cuts.push(i);
        j = i;
    }
    cuts.push(0);
    cuts.reverse();
    let mut segments = Vec::new();
    let mut rel = Vec::with_capacity(n);
    let mut outliers = 0;
    for w in cuts.windows(2) {
        let (lo, hi) = (bounds[w[0]], bounds[w[1]]);
        let fit = line_over(lo, hi, false)?;
        rel.extend(
            xs[lo..hi]
                .iter()
                .zip(&ys[lo..hi])
                .map(|(x, y)| (fit.intercept + fit.slope * x - y) / y),
        );
        outliers += fit.outliers;
        segments.push(Segment {
            min_x: xs[lo],
            max_x: xs[hi - 1],
            fit,
        });
    }
    Some(SegmentedFit {
        segments,
        rms_rel_error: (rel.iter().map(|r| r * r).sum::<f64>() / nf).sqrt(),
        max_rel_error: rel.iter().fold(0.0f64, |m, r| m.max(r.abs())),
        outliers,
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
    fn one_line_stays_one_segment_with_the_plain_fit() {
        let x = sweep();
        for noise in [0.0, 0.01] {
            let y: Vec<f64> = x
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    (10e-6 + s / 20e9) * if i % 2 == 0 { 1.0 + noise } else { 1.0 - noise }
                })
                .collect();
            let got = robust_segments(&x, &y, 4, 3).unwrap();
            assert_eq!(got.segments.len(), 1, "{got:?}");
            assert_eq!(got.segments[0].fit, robust_line(&x, &y).unwrap());
        }
    }

    #[test]
    fn finds_three_regimes_and_their_ranges() {
        // Flat latency, a slow protocol, then a jump to a fast one.
        let x = sweep();
        let y: Vec<f64> = x
            .iter()
            .map(|s| match *s {
                s if s < 32768.0 => 100e-6,
                s if s < 16e6 => 150e-6 + s / 20e9,
                s => 900e-6 + s / 180e9,
            })
            .collect();
        let got = robust_segments(&x, &y, 4, 3).unwrap();
        assert_eq!(got.segments.len(), 3, "{got:?}");
        let last = got.segments.last().unwrap();
        assert!((1.0 / last.fit.slope / 180e9 - 1.0).abs() < 1e-6, "{got:?}");
        assert_eq!(last.min_x, 16777216.0);
        assert!((got.segments[0].fit.intercept - 100e-6).abs() < 1e-9);
        assert_eq!(got.segments[0].max_x, 16384.0);
        assert!(got.rms_rel_error < 1e-6, "{got:?}");
    }

    #[test]
    fn outliers_buy_no_segments() {
        let x = sweep();
        let mut y: Vec<f64> = x.iter().map(|s| 5e-6 + s / 50e9).collect();
        y[2] *= 5.0;
        y[10] *= 3.0;
        y[20] *= 4.0;
        let got = robust_segments(&x, &y, 4, 3).unwrap();
        assert_eq!(got.segments.len(), 1, "{got:?}");
        assert!(got.outliers >= 3);
    }

    #[test]
    fn a_finely_stepped_sweep_is_searched_on_thinned_segments() {
        // 160 sizes in 4 KiB steps, a switch at 320 KiB. The breakpoint is found to
        // within one step of the thinned candidates (about 157 / 48 sizes), and the
        // robust lines set the few sizes on the wrong side of it aside.
        let x: Vec<f64> = (1..=160).map(|i| (i * 4096) as f64).collect();
        let y: Vec<f64> = x
            .iter()
            .map(|s| {
                if *s < 327680.0 {
                    10e-6 + s / 2e9
                } else {
                    40e-6 + s / 8e9
                }
            })
            .collect();
        let got = robust_segments(&x, &y, 4, 3).unwrap();
        assert_eq!(got.segments.len(), 2, "{got:?}");
        let step = 4.0 * 4096.0;
        assert!((got.segments[1].min_x - 327680.0).abs() <= step, "{got:?}");
        assert!((1.0 / got.segments[1].fit.slope / 8e9 - 1.0).abs() < 1e-6);
        assert!((1.0 / got.segments[0].fit.slope / 2e9 - 1.0).abs() < 1e-6);
    }

    #[test]
    fn short_sweeps_and_bad_input() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [1.0, 2.0, 3.0, 40.0, 50.0];
        // Two segments would need six points.
        assert_eq!(robust_segments(&x, &y, 4, 3).unwrap().segments.len(), 1);
        assert!(robust_segments(&[1.0], &[1.0], 4, 3).is_none());
        assert!(robust_segments(&[1.0, 2.0], &[1.0, 0.0], 4, 3).is_none());
    }
}
