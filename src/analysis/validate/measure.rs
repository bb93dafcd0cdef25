//! Which measurements test a claim, and the figure they give.

use super::{Claim, Quantity, Target, TargetKind};
use crate::results::{Params, Record, RunDocument};

pub(crate) fn normalize_dtype(d: &str) -> String {
    match d.trim().to_ascii_lowercase().as_str() {
        "float" | "f32" | "fp32" | "float32" => "fp32".into(),
        "double" | "f64" | "fp64" | "float64" => "fp64".into(),
        "half" | "f16" | "fp16" | "float16" => "fp16".into(),
        "bfloat16" | "bf16" => "bf16".into(),
        "fp8" | "f8" | "e4m3" | "fp8e4m3" | "fp8_e4m3" | "float8_e4m3" => "fp8".into(),
        other => other.into(),
    }
}

pub(crate) fn record_dtype(r: &Record) -> Option<String> {
    match &r.params {
        Params::Collective { dtype, .. } | Params::Matmul { dtype, .. } => {
            Some(normalize_dtype(dtype.name()))
        }
        _ => None,
    }
}

fn metric(r: &Record, name: &str) -> Option<f64> {
    r.metric(name).map(|m| m.value).filter(|v| v.is_finite())
}

fn collective_bytes(r: &Record) -> Option<u64> {
    match &r.params {
        Params::Collective { bytes, .. } => Some(*bytes),
        _ => None,
    }
}

/// A STREAM measurement (`membw`), on the host or a GPU.
fn is_stream(r: &Record) -> bool {
    matches!(r.params, Params::Stream { .. })
}

/// A matrix multiply, in any datatype.
fn is_matmul(r: &Record) -> bool {
    matches!(r.params, Params::Matmul { .. })
}

/// An all-reduce: a collective whose benchmark is `allreduce` (the schema names the
/// collective only there).
fn is_allreduce(r: &Record) -> bool {
    matches!(r.params, Params::Collective { .. }) && r.benchmark == "allreduce"
}

/// The best figure among `candidates` (value, description), highest or lowest.
fn best(candidates: Vec<(f64, String)>, highest: bool) -> Option<(f64, String)> {
    candidates
        .into_iter()
        .reduce(|a, b| if (b.0 > a.0) == highest { b } else { a })
}

/// The measurement that tests `claim`, in GB/s, TFLOP/s or us; or why there is none.
pub(super) fn measure(
    claim: &Claim,
    doc: &RunDocument,
    target: &Target,
) -> Result<(f64, String), String> {
    let gpus_per_node = target.gpus_per_node;
    let ok = |r: &&Record| r.check.passed;
    let gpu = |r: &&Record| r.backend != "cpu";
    let min_bytes = claim
        .min_bytes
        .as_deref()
        .and_then(|b| crate::units::parse_size(b).ok())
        .unwrap_or(0);
    let recs = doc.records.iter().filter(ok);
    let found = match claim.quantity {
        Quantity::GpuMemoryBandwidth | Quantity::HostMemoryBandwidth => {
            let want_gpu = claim.quantity == Quantity::GpuMemoryBandwidth;
            best(
                recs.filter(|r| is_stream(r) && gpu(r) == want_gpu)
                    .filter_map(|r| {
                        let per = if want_gpu {
                            r.ranks.max(1)
                        } else {
                            r.nodes.max(1)
                        };
                        metric(r, "bandwidth").map(|v| {
                            (
                                v / per as f64,
                                format!(
                                    "{} on {} ranks",
                                    crate::analysis::compare::label(r),
                                    r.ranks
                                ),
                            )
                        })
                    })
                    .collect(),
                true,
            )
        }
        Quantity::MatmulTflops => {
            let want = claim.dtype.as_deref().map(normalize_dtype);
            best(
                recs.filter(|r| is_matmul(r))
                    .filter(|r| want.is_none() || record_dtype(r) == want)
                    .filter(|r| gpu(r) == (target.kind != TargetKind::Cpu))
                    .filter_map(|r| {
                        metric(r, "tflops").map(|v| (v, crate::analysis::compare::label(r)))
                    })
                    .collect(),
                true,
            )
        }
        Quantity::IntraNodeAllreduceBusbw => best(
            recs.filter(|r| is_allreduce(r) && gpu(r) && r.nodes == 1 && r.ranks > 1)
                .filter(|r| collective_bytes(r).unwrap_or(0) >= min_bytes)
                .filter_map(|r| metric(r, "busbw").map(|v| (v, crate::analysis::compare::label(r))))
                .collect(),
            true,
        ),
        Quantity::NetworkBandwidthPerNode => best(
            recs.filter(|r| is_allreduce(r) && gpu(r) && r.nodes > 1 && r.ranks > 1)
                .filter(|r| collective_bytes(r).unwrap_or(0) >= min_bytes)
                .filter_map(|r| {
                    let (k, n) = (r.nodes as f64, r.ranks as f64);
                    let per_node_gpus = gpus_per_node.map(f64::from).unwrap_or(n / k);
                    // Inter-node traffic per GPU = busbw (k-1)/(n-1); per node, times GPUs per node.
                    metric(r, "busbw").map(|v| {
                        (
                            v * (k - 1.0) / (n - 1.0) * per_node_gpus,
                            format!(
                                "{} (busbw x (k-1)/(n-1) x {per_node_gpus} GPUs/node)",
                                crate::analysis::compare::label(r)
                            ),
                        )
                    })
                })
                .collect(),
            true,
        ),
        Quantity::TwoNodeAllreduceLatency => {
            let two: Vec<&Record> = recs
                .filter(|r| is_allreduce(r) && gpu(r) && r.nodes == 2)
                .collect();
            let smallest = two.iter().filter_map(|r| collective_bytes(r)).min();
            best(
                two.iter()
                    .filter(|r| collective_bytes(r) == smallest)
                    .map(|r| (r.time_s.median * 1e6, crate::analysis::compare::label(r)))
                    .collect(),
                false,
            )
        }
        Quantity::PeerCopyBandwidth | Quantity::HostLinkBandwidth | Quantity::Informational => None,
    };
    found.ok_or_else(|| match claim.quantity {
        Quantity::PeerCopyBandwidth | Quantity::HostLinkBandwidth => {
            "no benchmark in this file measures it".to_string()
        }
        _ => "no matching measurement in the results".to_string(),
    })
}
