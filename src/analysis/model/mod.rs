//! Alpha-beta models of collectives: piecewise robust fits of measured sweeps, the
//! link they calibrate, and (in `cost`) the cost models that extrapolate to rank
//! counts no one can rent.
//!
//! Time of one message of `s` bytes over a link: alpha + s / beta. Pure math, no I/O.

use crate::error::UsageError;
use crate::results::{Params, RunDocument};
use crate::stats::robust::LineFit;
use crate::stats::segmented::{robust_segments, SegmentedFit};
use serde::Serialize;

mod cost;
pub mod scaling;
pub use cost::{predict_allreduce, ring_allreduce, tree_allreduce, Link, Prediction, Topology};

/// Most regimes a sweep is split into: NCCL's three protocols, plus an algorithm switch.
pub const MAX_REGIMES: usize = 4;

/// Fewest sizes a regime spans: two would always fit a line exactly.
pub const MIN_REGIME_POINTS: usize = 3;

/// One regime of a sweep: t(bytes) = alpha + bytes / beta over a range of sizes.
#[derive(Debug, Clone, Serialize)]
pub struct Regime {
    pub min_bytes: u64,
    pub max_bytes: u64,
    /// Seconds.
    pub alpha_s: f64,
    /// `None` when the regime shows no size dependence.
    pub beta_bytes_per_s: Option<f64>,
    pub fit: LineFit,
}

/// A fitted collective sweep at one rank count: piecewise alpha-beta lines, one per
/// regime (protocol, algorithm, eager or rendezvous), breakpoints chosen by the data.
#[derive(Debug, Clone, Serialize)]
pub struct CollectiveFit {
    pub benchmark: String,
    pub backend: String,
    pub dtype: String,
    pub op: Option<String>,
    pub in_place: bool,
    pub ranks: u32,
    pub nodes: u32,
    /// Seconds: the latency of the small-message regime.
    pub alpha_s: f64,
    /// Bytes per second of the per-rank buffer (algorithm bandwidth) in the
    /// large-message regime; `None` when it shows no size dependence.
    pub beta_bytes_per_s: Option<f64>,
    /// Smallest sizes first.
    pub regimes: Vec<Regime>,
    /// Root mean square of the relative residuals over the whole sweep.
    pub rms_rel_error: f64,
    pub max_rel_error: f64,
    pub outliers: usize,
    pub points: usize,
    pub min_bytes: u64,
    pub max_bytes: u64,
}

/// Fits every collective sweep (records grouped by everything but the size) of `doc`
/// from the median times. Sweeps of fewer than three sizes are skipped.
pub fn fit_collectives(doc: &RunDocument) -> Vec<CollectiveFit> {
    type Key = (String, String, String, Option<String>, bool, u32, u32);
    let mut groups: std::collections::BTreeMap<Key, Vec<(f64, f64)>> = Default::default();
    for r in &doc.records {
        if let Params::Collective {
            dtype,
            op,
            in_place,
            bytes,
            ..
        } = &r.params
        {
            if !r.check.passed || *bytes == 0 || r.is_local_copy() {
                continue;
            }
            let key = (
                r.benchmark.clone(),
                r.backend.clone(),
                dtype.name().to_string(),
                op.map(|o| o.name().to_string()),
                *in_place,
                r.ranks,
                r.nodes,
            );
            groups
                .entry(key)
                .or_default()
                .push((*bytes as f64, r.time_s.median));
        }
    }
    let mut out = Vec::new();
    for ((benchmark, backend, dtype, op, in_place, ranks, nodes), points) in groups {
        if points.len() < 3 {
            continue;
        }
        let x: Vec<f64> = points.iter().map(|p| p.0).collect();
        let y: Vec<f64> = points.iter().map(|p| p.1).collect();
        let Some(fit) = robust_segments(&x, &y, MAX_REGIMES, MIN_REGIME_POINTS) else {
            continue;
        };
        out.push(fit_of(
            CollectiveFitKey {
                benchmark,
                backend,
                dtype,
                op,
                in_place,
                ranks,
                nodes,
            },
            &fit,
        ));
    }
    out
}

/// What identifies a sweep.
pub struct CollectiveFitKey {
    pub benchmark: String,
    pub backend: String,
    pub dtype: String,
    pub op: Option<String>,
    pub in_place: bool,
    pub ranks: u32,
    pub nodes: u32,
}

/// A sweep's fit from its segments: alpha from the first, beta from the last.
pub fn fit_of(key: CollectiveFitKey, fit: &SegmentedFit) -> CollectiveFit {
    let regimes: Vec<Regime> = fit
        .segments
        .iter()
        .map(|s| Regime {
            min_bytes: s.min_x as u64,
            max_bytes: s.max_x as u64,
            alpha_s: s.fit.intercept,
            beta_bytes_per_s: (s.fit.slope > 0.0).then(|| 1.0 / s.fit.slope),
            fit: s.fit,
        })
        .collect();
    CollectiveFit {
        benchmark: key.benchmark,
        backend: key.backend,
        dtype: key.dtype,
        op: key.op,
        in_place: key.in_place,
        ranks: key.ranks,
        nodes: key.nodes,
        alpha_s: regimes.first().map_or(0.0, |r| r.alpha_s),
        beta_bytes_per_s: regimes.last().and_then(|r| r.beta_bytes_per_s),
        min_bytes: regimes.first().map_or(0, |r| r.min_bytes),
        max_bytes: regimes.last().map_or(0, |r| r.max_bytes),
        regimes,
        rms_rel_error: fit.rms_rel_error,
        max_rel_error: fit.max_rel_error,
        outliers: fit.outliers,
        points: fit.points,
    }
}

/// Link parameters recovered from fits at several rank counts by inverting the
/// ring model: alpha_n = 2(n-1) a and 1/beta_n = 2(n-1)/n / b, solved by least
/// squares over the rank counts. Needs fits at two or more rank counts.
pub fn calibrate_ring(fits: &[&CollectiveFit]) -> Result<Link, UsageError> {
    let usable: Vec<&&CollectiveFit> = fits.iter().filter(|f| f.ranks > 1).collect();
    let mut counts: Vec<u32> = usable.iter().map(|f| f.ranks).collect();
    counts.sort_unstable();
    counts.dedup();
    if counts.len() < 2 {
        let found = match counts.first() {
            None => "no sweep on more than one rank".to_string(),
            Some(one) => format!("1 rank count: {one}"),
        };
        return Err(UsageError::new(format!(
            "calibration needs all-reduce sweeps at two or more rank counts (e.g. runs on 2 and 4 ranks); found {found}",
        )));
    }
    let (mut sxa, mut sxx, mut syb, mut syy) = (0.0, 0.0, 0.0, 0.0);
    for f in &usable {
        let n = f.ranks as f64;
        let x = 2.0 * (n - 1.0);
        let y = 2.0 * (n - 1.0) / n;
        sxa += x * f.alpha_s;
        sxx += x * x;
        let inv_beta = f.beta_bytes_per_s.map_or(0.0, |b| 1.0 / b);
        syb += y * inv_beta;
        syy += y * y;
    }
    let alpha = sxa / sxx;
    let inv_b = syb / syy;
    if inv_b <= 0.0 {
        return Err(UsageError::new(
            "calibration: the sweeps show no size dependence; measure larger messages",
        ));
    }
    Ok(Link {
        latency_us: alpha * 1e6,
        bandwidth_gbps: 1.0 / inv_b / 1e9,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::robust::robust_line;

    fn key(ranks: u32) -> CollectiveFitKey {
        CollectiveFitKey {
            benchmark: "allreduce".into(),
            backend: "cpu".into(),
            dtype: "float".into(),
            op: Some("sum".into()),
            in_place: false,
            ranks,
            nodes: ranks,
        }
    }

    #[test]
    fn fit_then_calibrate_recovers_a_known_link() {
        // Sweeps generated from a known ring model at 2 and 4 ranks.
        let link = Link {
            latency_us: 25.0,
            bandwidth_gbps: 2.0,
        };
        let mut fits = Vec::new();
        for n in [2u64, 4] {
            let x: Vec<f64> = (3..=26).map(|p| (1u64 << p) as f64).collect();
            let y: Vec<f64> = x.iter().map(|s| ring_allreduce(n, *s, &link)).collect();
            let fit = robust_segments(&x, &y, MAX_REGIMES, MIN_REGIME_POINTS).unwrap();
            let fit = fit_of(key(n as u32), &fit);
            // One line: one regime, the plain robust fit of the whole sweep.
            let line = robust_line(&x, &y).unwrap();
            assert_eq!(fit.regimes.len(), 1, "{fit:?}");
            assert_eq!(fit.alpha_s, line.intercept);
            assert_eq!(fit.beta_bytes_per_s, Some(1.0 / line.slope));
            fits.push(fit);
        }
        let refs: Vec<&CollectiveFit> = fits.iter().collect();
        let got = calibrate_ring(&refs).unwrap();
        assert!((got.latency_us - 25.0).abs() < 0.01, "{got:?}");
        assert!((got.bandwidth_gbps - 2.0).abs() < 1e-4, "{got:?}");
        // Extrapolating to 8 ranks reproduces the model exactly.
        let t = Topology {
            gpus_per_node: 1,
            intra: got,
            inter: got,
            switch_tiers: 1,
            switch_latency_us: 0.0,
        };
        for s in [1u64 << 20, 1 << 26] {
            let p = predict_allreduce(&t, 8, s);
            let truth = ring_allreduce(8, s as f64, &link);
            assert!((p.ring_s - truth).abs() / truth < 1e-3);
        }
        let refused = calibrate_ring(&refs[..1]).unwrap_err().to_string();
        assert!(refused.ends_with("found 1 rank count: 2"), "{refused}");
    }

    #[test]
    fn calibration_takes_latency_from_small_and_bandwidth_from_large_messages() {
        // Below 1 MiB a low-latency protocol at a quarter of the bandwidth; above, the
        // link's full bandwidth behind three times the latency.
        let link = Link {
            latency_us: 5.0,
            bandwidth_gbps: 20.0,
        };
        let slow = Link {
            latency_us: 5.0,
            bandwidth_gbps: 5.0,
        };
        let bulk = Link {
            latency_us: 15.0,
            bandwidth_gbps: 20.0,
        };
        let fits: Vec<CollectiveFit> = [2u64, 4]
            .into_iter()
            .map(|n| {
                let x: Vec<f64> = (3..=30).map(|p| (1u64 << p) as f64).collect();
                let y: Vec<f64> = x
                    .iter()
                    .map(|s| ring_allreduce(n, *s, if *s < 1048576.0 { &slow } else { &bulk }))
                    .collect();
                let fit = robust_segments(&x, &y, MAX_REGIMES, MIN_REGIME_POINTS).unwrap();
                fit_of(key(n as u32), &fit)
            })
            .collect();
        for f in &fits {
            assert_eq!(f.regimes.len(), 2, "{f:?}");
            assert_eq!(f.regimes[1].min_bytes, 1 << 20);
        }
        let refs: Vec<&CollectiveFit> = fits.iter().collect();
        let got = calibrate_ring(&refs).unwrap();
        assert!(
            (got.latency_us / link.latency_us - 1.0).abs() < 1e-6,
            "{got:?}"
        );
        assert!(
            (got.bandwidth_gbps / link.bandwidth_gbps - 1.0).abs() < 1e-6,
            "{got:?}"
        );
    }
}
