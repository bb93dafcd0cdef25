//! Which measurements test a claim, and the figure they give.

use super::domain::{placement, Placement};
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

/// A multi-node record known to have stayed inside one NVLink domain.
fn in_one_domain(r: &Record, doc: &RunDocument) -> bool {
    r.nodes > 1 && matches!(placement(r, doc), Placement::OneDomain(_))
}

/// An NVLink record's label; for a multi-node one, why it counts as NVLink.
fn nvlink_evidence(r: &Record, doc: &RunDocument) -> String {
    let label = crate::analysis::compare::label(r);
    match placement(r, doc) {
        Placement::OneDomain(why) if r.nodes > 1 => format!(
            "{label} on {} ranks, {} nodes, scored against the NVLink claims: {why}",
            r.ranks, r.nodes
        ),
        _ => label,
    }
}

/// Why a network claim's record counts as network traffic, when domains say more than
/// its node count: it crossed NVLink domains, or none was recorded on a system whose
/// domain spans instances.
fn network_routing(r: &Record, doc: &RunDocument, target: &Target) -> String {
    match placement(r, doc) {
        Placement::Crossing(why) => format!("; scored against the network claims: {why}"),
        Placement::Unknown => match target.nvlink_domain_gpus {
            Some(size) if size > target.gpus_per_node.unwrap_or(0) => format!(
                "; no NVLink domain recorded, so this {}-node run counts as crossing the network, but on this system up to {size} GPUs across instances share one NVLink domain: if the run stayed inside one, it tested NVLink (pass --nvlink-domain-size {size})",
                r.nodes
            ),
            _ => String::new(),
        },
        Placement::OneDomain(_) => String::new(),
    }
}

/// Why no record tests a network claim: none at all, or all inside one NVLink domain.
fn no_network_record(doc: &RunDocument, min_bytes: u64) -> String {
    let inside: Vec<String> = doc
        .records
        .iter()
        .filter(|r| r.check.passed && is_allreduce(r) && r.backend != "cpu")
        .filter(|r| collective_bytes(r).unwrap_or(0) >= min_bytes)
        .filter_map(|r| match placement(r, doc) {
            Placement::OneDomain(why) if r.nodes > 1 => Some(why),
            _ => None,
        })
        .collect();
    match inside.first() {
        Some(why) => format!(
            "no matching measurement in the results: the {} multi-node all-reduce records stayed inside one NVLink domain ({why}), so they test NVLink, not the network",
            inside.len()
        ),
        None => "no matching measurement in the results".to_string(),
    }
}

/// The best figure among `candidates` (value, description), highest or lowest.
fn best(candidates: Vec<(f64, String)>, highest: bool) -> Option<(f64, String)> {
    candidates
        .into_iter()
        .reduce(|a, b| if (b.0 > a.0) == highest { b } else { a })
}

/// The figure a claim is tested with.
#[derive(Debug, Clone)]
pub(super) struct Measured {
    /// In GB/s, TFLOP/s or us: the figure judged (for a range, its upper end).
    pub value: f64,
    /// The lower end when the figure is a range (network rate, algorithm unknown).
    pub low: Option<f64>,
    /// The records it comes from.
    pub evidence: String,
    /// How a measured quantity became the claim's, and why that way.
    pub conversion: Option<String>,
    /// The figure is a lower bound or a range: below the threshold it warns, never fails.
    pub warn_at_most: bool,
    /// The figure the verdict is taken from (the range's lower end, else `value`).
    pub judged: f64,
}

impl Measured {
    fn plain((value, evidence): (f64, String)) -> Measured {
        Measured {
            value,
            low: None,
            evidence,
            conversion: None,
            warn_at_most: false,
            judged: value,
        }
    }
}

/// The measurement that tests `claim`, in GB/s, TFLOP/s or us; or why there is none.
pub(super) fn measure(
    claim: &Claim,
    doc: &RunDocument,
    target: &Target,
) -> Result<Measured, String> {
    if claim.quantity == Quantity::NetworkBandwidthPerNode {
        return network(claim, doc, target);
    }
    measure_plain(claim, doc, target).map(Measured::plain)
}

/// Network rate per node: each multi-node all-reduce converted for its algorithm; the
/// record whose judged figure is highest counts.
fn network(claim: &Claim, doc: &RunDocument, target: &Target) -> Result<Measured, String> {
    let min_bytes = claim
        .min_bytes
        .as_deref()
        .and_then(|b| crate::units::parse_size(b).ok())
        .unwrap_or(0);
    let line_rate = match super::claims::canonical(claim.value, &claim.unit) {
        Ok(super::claims::Canonical::GBps(v)) => v,
        _ => 0.0,
    };
    let claimed = format!("{} {}", claim.value, claim.unit);
    let candidates: Vec<(&Record, super::network::NetworkFigure)> = doc
        .records
        .iter()
        .filter(|r| r.check.passed && is_allreduce(r) && r.backend != "cpu")
        .filter(|r| r.nodes > 1 && r.ranks > 1)
        .filter(|r| collective_bytes(r).unwrap_or(0) >= min_bytes)
        .filter(|r| !in_one_domain(r, doc))
        .filter_map(|r| {
            metric(r, "busbw").map(|busbw| {
                (
                    r,
                    super::network::convert(r, busbw, doc, line_rate, &claimed),
                )
            })
        })
        .collect();
    let count = candidates.len();
    let (r, fig) = candidates
        .into_iter()
        .reduce(|a, b| if b.1.judged() > a.1.judged() { b } else { a })
        .ok_or_else(|| no_network_record(doc, min_bytes))?;
    use super::network::Conversion;
    let (value, low) = match fig.conversion {
        Conversion::Ring => (fig.ring, None),
        Conversion::Hierarchical => (fig.hierarchical, None),
        Conversion::Range => (fig.ring, Some(fig.hierarchical)),
    };
    Ok(Measured {
        value,
        low,
        evidence: format!(
            "{} on {} ranks, {} nodes (busbw {:.2} GB/s; best of {count} multi-node all-reduce records)",
            crate::analysis::compare::label(r),
            r.ranks,
            r.nodes,
            fig.ring
        ),
        conversion: Some(match target.gpus_per_node {
            Some(g) if r.ranks != g * r.nodes => format!(
                "{}; the run had {} GPUs per node of the instance's {g}, so its NIC traffic is that of those GPUs only",
                fig.why,
                r.ranks as f64 / r.nodes as f64
            ),
            _ => fig.why.clone(),
        } + &network_routing(r, doc, target)),
        warn_at_most: fig.conversion != Conversion::Ring,
        judged: fig.judged(),
    })
}

fn measure_plain(
    claim: &Claim,
    doc: &RunDocument,
    target: &Target,
) -> Result<(f64, String), String> {
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
            recs.filter(|r| is_allreduce(r) && gpu(r) && r.ranks > 1)
                .filter(|r| r.nodes == 1 || in_one_domain(r, doc))
                .filter(|r| collective_bytes(r).unwrap_or(0) >= min_bytes)
                .filter_map(|r| metric(r, "busbw").map(|v| (v, nvlink_evidence(r, doc))))
                .collect(),
            true,
        ),
        Quantity::TwoNodeAllreduceLatency => {
            let two: Vec<&Record> = recs
                .filter(|r| is_allreduce(r) && gpu(r) && r.nodes == 2)
                .filter(|r| !in_one_domain(r, doc))
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
        Quantity::PointToPointLatency => {
            let between_nodes: Vec<(&Record, u64)> = recs
                .filter_map(|r| match &r.params {
                    Params::PointToPoint {
                        mode,
                        bytes,
                        from_host,
                        to_host,
                        ..
                    } if mode == "latency" => {
                        // Imported logs may name no hosts: then the record's node
                        // count says whether its two ranks were on different nodes.
                        let known = !from_host.is_empty() && from_host != "unknown";
                        let apart = if known && from_host != to_host {
                            true
                        } else {
                            r.nodes > 1
                        };
                        apart.then_some((r, *bytes))
                    }
                    _ => None,
                })
                .collect();
            let smallest = between_nodes.iter().map(|(_, b)| *b).min();
            best(
                between_nodes
                    .iter()
                    .filter(|(_, b)| Some(*b) == smallest)
                    .map(|(r, _)| {
                        (
                            r.time_s.median * 1e6,
                            format!("{} (one-way, median)", crate::analysis::compare::label(r)),
                        )
                    })
                    .collect(),
                false,
            )
        }
        Quantity::NetworkBandwidthPerNode
        | Quantity::PeerCopyBandwidth
        | Quantity::HostLinkBandwidth
        | Quantity::Informational => None,
    };
    found.ok_or_else(|| match claim.quantity {
        Quantity::PeerCopyBandwidth | Quantity::HostLinkBandwidth => {
            "no benchmark in this file measures it".to_string()
        }
        Quantity::TwoNodeAllreduceLatency => no_network_record(doc, 0),
        _ => "no matching measurement in the results".to_string(),
    })
}
