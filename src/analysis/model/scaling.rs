//! Whether calibration sweeps scale as the ring model that calibration inverts, and
//! what in the runs' recorded collective settings most likely explains it when not.
//!
//! A ring all-reduce moves 2(n-1)/n of the buffer through each rank's link, so the
//! large-message time per byte of a sweep at n ranks, divided by 2(n-1)/n, is the same
//! link figure at every n. Recursive doubling (log2 n whole-buffer steps), a tree or
//! NCCL's other algorithms give figures that drift with n: recursive doubling's is a
//! quarter lower at 4 ranks than at 2.

use super::CollectiveFit;
use crate::results::environment::CollectiveSettings;

/// How far apart the link figures of different rank counts may be and still count as
/// one link: beyond run-to-run noise on a quiet cluster, and below the 25% that the
/// nearest common non-ring algorithm (recursive doubling, 2 and 4 ranks) gives.
pub const RING_SCALING_TOLERANCE: f64 = 0.15;

/// The link bandwidth each rank count's sweep implies under the ring model.
#[derive(Debug, Clone, PartialEq)]
pub struct RingScaling {
    /// (ranks, implied link bandwidth in GB/s), by rank count.
    pub implied_gbps: Vec<(u32, f64)>,
}

impl RingScaling {
    /// The implied figures of `fits` (one per rank count; those without a bandwidth
    /// regime are left out); `None` with fewer than two.
    pub fn of(fits: &[&CollectiveFit]) -> Option<RingScaling> {
        let mut implied_gbps: Vec<(u32, f64)> = fits
            .iter()
            .filter(|f| f.ranks > 1)
            .filter_map(|f| {
                let n = f64::from(f.ranks);
                let beta = f.beta_bytes_per_s?;
                Some((f.ranks, beta * 2.0 * (n - 1.0) / n / 1e9))
            })
            .collect();
        implied_gbps.sort_by_key(|&(n, _)| n);
        implied_gbps.dedup_by_key(|&mut (n, _)| n);
        (implied_gbps.len() >= 2).then_some(RingScaling { implied_gbps })
    }

    /// Largest over smallest implied bandwidth, less one.
    pub fn spread(&self) -> f64 {
        let (lo, hi) = self
            .implied_gbps
            .iter()
            .fold((f64::INFINITY, 0.0f64), |(lo, hi), &(_, g)| {
                (lo.min(g), hi.max(g))
            });
        hi / lo - 1.0
    }

    pub fn is_ring(&self) -> bool {
        self.spread() <= RING_SCALING_TOLERANCE
    }

    /// "0.95 GB/s at 2 ranks, 0.71 GB/s at 4 ranks".
    pub fn describe(&self) -> String {
        self.implied_gbps
            .iter()
            .map(|(n, g)| format!("{g:.3} GB/s at {n} ranks"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What the recorded settings say of the all-reduce algorithm of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlgorithmChoice {
    /// Ring was forced (named: how).
    Ring(String),
    /// Another algorithm was forced (named), with how to force ring instead.
    Other { forced: String, force_ring: String },
    /// The library chose by itself, with how to force ring.
    LibraryDefault { library: String, force_ring: String },
    /// Nothing known (a library this does not know).
    Unknown,
}

/// Open MPI's coll_tuned all-reduce algorithms by number (`ompi_info --param coll tuned
/// --level 9`).
const OMPI_ALLREDUCE: [&str; 7] = [
    "ignore",
    "basic_linear",
    "nonoverlapping",
    "recursive_doubling",
    "ring",
    "segmented_ring",
    "rabenseifner",
];

const OMPI_FORCE_RING: &str =
    "set OMPI_MCA_coll_tuned_use_dynamic_rules=1 OMPI_MCA_coll_tuned_allreduce_algorithm=4";

/// The all-reduce algorithm of a run on `backend` through `library` (the MPI library's
/// version string), as its recorded `settings` choose it.
pub fn algorithm_choice(
    backend: &str,
    library: Option<&str>,
    settings: Option<&CollectiveSettings>,
) -> AlgorithmChoice {
    let get = |name: &str| settings.and_then(|s| s.get(name)).map(str::trim);
    if backend == "cuda" {
        return match get("NCCL_ALGO") {
            Some(a) if a.eq_ignore_ascii_case("ring") => {
                AlgorithmChoice::Ring("NCCL_ALGO=Ring".into())
            }
            Some(a) => AlgorithmChoice::Other {
                forced: format!("NCCL_ALGO={a}"),
                force_ring: "set NCCL_ALGO=Ring".into(),
            },
            None => AlgorithmChoice::LibraryDefault {
                library: "NCCL".into(),
                force_ring: "set NCCL_ALGO=Ring".into(),
            },
        };
    }
    let Some(library) = library else {
        return AlgorithmChoice::Unknown;
    };
    if library.contains("Open MPI") {
        let dynamic = matches!(
            get("OMPI_MCA_coll_tuned_use_dynamic_rules"),
            Some("1" | "true")
        );
        let algorithm = get("OMPI_MCA_coll_tuned_allreduce_algorithm").map(|a| {
            a.parse::<usize>()
                .ok()
                .and_then(|i| OMPI_ALLREDUCE.get(i).copied())
                .unwrap_or(a)
                .to_string()
        });
        return match algorithm {
            Some(a) if dynamic && a.ends_with("ring") => {
                AlgorithmChoice::Ring(format!("Open MPI coll_tuned all-reduce algorithm {a}"))
            }
            Some(a) if dynamic && a != "ignore" => AlgorithmChoice::Other {
                forced: format!("Open MPI coll_tuned all-reduce algorithm {a}"),
                force_ring: "set OMPI_MCA_coll_tuned_allreduce_algorithm=4".into(),
            },
            _ => AlgorithmChoice::LibraryDefault {
                library: "Open MPI".into(),
                force_ring: OMPI_FORCE_RING.into(),
            },
        };
    }
    if library.contains("MPICH") {
        return match get("MPIR_CVAR_ALLREDUCE_INTRA_ALGORITHM") {
            Some("ring") => {
                AlgorithmChoice::Ring("MPIR_CVAR_ALLREDUCE_INTRA_ALGORITHM=ring".into())
            }
            _ => AlgorithmChoice::LibraryDefault {
                library: "MPICH".into(),
                force_ring: "set MPIR_CVAR_ALLREDUCE_INTRA_ALGORITHM=ring".into(),
            },
        };
    }
    AlgorithmChoice::Unknown
}

impl AlgorithmChoice {
    /// A note when the choice is not known to be ring: that calibration assumes it,
    /// and how to force it.
    pub fn note(&self) -> Option<String> {
        match self {
            AlgorithmChoice::Ring(_) | AlgorithmChoice::Unknown => None,
            AlgorithmChoice::Other { forced, force_ring } => Some(format!(
                "the calibration runs forced {forced}, not ring, and calibration inverts the ring model: {force_ring}"
            )),
            AlgorithmChoice::LibraryDefault { library, force_ring } => Some(format!(
                "the calibration runs left the all-reduce algorithm to {library}, whose choice by size and rank count is not always ring; calibration inverts the ring model: {force_ring}"
            )),
        }
    }

    /// The likely cause of sweeps that do not scale as a ring.
    pub fn likely_cause(&self) -> String {
        match self {
            AlgorithmChoice::Ring(how) => format!(
                "ring was forced ({how}), so the link itself differed between the runs: a shared or congested link, ranks placed differently, or a different number of nodes"
            ),
            AlgorithmChoice::Other { forced, force_ring } => {
                format!("{forced} was forced, not ring: {force_ring}")
            }
            AlgorithmChoice::LibraryDefault {
                library,
                force_ring,
            } => format!("{library}'s default all-reduce selection is not ring: {force_ring}"),
            AlgorithmChoice::Unknown => {
                "the MPI library's all-reduce algorithm may not be ring: force ring for the calibration runs".into()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::model::{
        fit_of, ring_allreduce, CollectiveFitKey, Link, MAX_REGIMES, MIN_REGIME_POINTS,
    };
    use crate::stats::segmented::robust_segments;

    /// A fitted sweep of `n` ranks from times `time(n, bytes)`: synthetic, generated
    /// from a cost model, not measured.
    fn synthetic_fit(n: u32, time: impl Fn(u32, f64) -> f64) -> CollectiveFit {
        let x: Vec<f64> = (10..=24).map(|p| (1u64 << p) as f64).collect();
        let y: Vec<f64> = x.iter().map(|&s| time(n, s)).collect();
        let fit = robust_segments(&x, &y, MAX_REGIMES, MIN_REGIME_POINTS).unwrap();
        fit_of(
            CollectiveFitKey {
                benchmark: "allreduce".into(),
                backend: "cpu".into(),
                dtype: "float".into(),
                op: Some("sum".into()),
                in_place: false,
                ranks: n,
                nodes: n,
            },
            &fit,
        )
    }

    const LINK: Link = Link {
        latency_us: 20.0,
        bandwidth_gbps: 1.0,
    };

    /// Synthetic recursive doubling: log2(n) steps, each the whole buffer one way.
    fn recursive_doubling(n: u32, bytes: f64) -> f64 {
        f64::from(n).log2() * (LINK.latency_us * 1e-6 + bytes / (LINK.bandwidth_gbps * 1e9))
    }

    fn scaling(time: impl Fn(u32, f64) -> f64, counts: &[u32]) -> RingScaling {
        let fits: Vec<CollectiveFit> = counts.iter().map(|&n| synthetic_fit(n, &time)).collect();
        let refs: Vec<&CollectiveFit> = fits.iter().collect();
        RingScaling::of(&refs).unwrap()
    }

    #[test]
    fn synthetic_ring_sweeps_imply_one_link() {
        let s = scaling(|n, b| ring_allreduce(u64::from(n), b, &LINK), &[2, 3, 4]);
        assert!(s.is_ring(), "{s:?}");
        for (_, g) in &s.implied_gbps {
            assert!((g - 1.0).abs() < 1e-3, "{s:?}");
        }
    }

    #[test]
    fn synthetic_recursive_doubling_sweeps_do_not_scale_as_a_ring() {
        let s = scaling(recursive_doubling, &[2, 4]);
        assert!(!s.is_ring(), "{s:?}");
        assert!((s.spread() - 1.0 / 3.0).abs() < 1e-3, "{s:?}");
        assert!(s.describe().contains("at 4 ranks"), "{}", s.describe());
    }

    #[test]
    fn one_rank_count_is_no_scaling() {
        let fit = synthetic_fit(2, |n, b| ring_allreduce(u64::from(n), b, &LINK));
        assert_eq!(RingScaling::of(&[&fit, &fit]), None);
    }

    fn settings(vars: &[(&str, &str)]) -> CollectiveSettings {
        CollectiveSettings::of(vars.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap()
    }

    #[test]
    fn the_cause_follows_the_recorded_settings() {
        let ompi = Some("Open MPI v4.1.4");
        let default = algorithm_choice("cpu", ompi, None);
        assert!(default.likely_cause().contains(
            "Open MPI's default all-reduce selection is not ring: set OMPI_MCA_coll_tuned_use_dynamic_rules=1 OMPI_MCA_coll_tuned_allreduce_algorithm=4"
        ));
        assert!(default.note().is_some());
        let ring = settings(&[
            ("OMPI_MCA_coll_tuned_use_dynamic_rules", "1"),
            ("OMPI_MCA_coll_tuned_allreduce_algorithm", "4"),
        ]);
        let forced = algorithm_choice("cpu", ompi, Some(&ring));
        assert!(matches!(forced, AlgorithmChoice::Ring(_)), "{forced:?}");
        assert_eq!(forced.note(), None);
        assert!(forced.likely_cause().starts_with("ring was forced"));
        let doubling = settings(&[
            ("OMPI_MCA_coll_tuned_use_dynamic_rules", "1"),
            ("OMPI_MCA_coll_tuned_allreduce_algorithm", "3"),
        ]);
        let other = algorithm_choice("cpu", ompi, Some(&doubling));
        assert!(
            other
                .note()
                .unwrap()
                .contains("recursive_doubling, not ring"),
            "{other:?}"
        );
        // Without dynamic rules Open MPI ignores a forced algorithm.
        let ignored = settings(&[("OMPI_MCA_coll_tuned_allreduce_algorithm", "4")]);
        assert!(matches!(
            algorithm_choice("cpu", ompi, Some(&ignored)),
            AlgorithmChoice::LibraryDefault { .. }
        ));
        let nccl = settings(&[("NCCL_ALGO", "Tree")]);
        assert!(algorithm_choice("cuda", None, Some(&nccl))
            .likely_cause()
            .contains("set NCCL_ALGO=Ring"));
        assert_eq!(
            algorithm_choice("cpu", None, None),
            AlgorithmChoice::Unknown
        );
    }

    #[test]
    fn only_collective_settings_are_recorded() {
        let s = settings(&[
            ("OMPI_MCA_coll_tuned_allreduce_algorithm", "4"),
            ("OMPI_MCA_btl", "self,vader"),
            ("OMPI_MCA_orte_hnp_uri", "1.0;tcp://10.0.0.1:1"),
            ("OMPI_MCA_opal_cuda_support", "1"),
            ("UCX_TLS", "rc,sm"),
            ("NCCL_ALGO", "Ring"),
            ("NCCL_DEBUG", "INFO"),
            ("PATH", "/usr/bin"),
        ]);
        let names: Vec<&str> = s.variables.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "NCCL_ALGO",
                "OMPI_MCA_btl",
                "OMPI_MCA_coll_tuned_allreduce_algorithm",
                "UCX_TLS"
            ]
        );
    }
}
