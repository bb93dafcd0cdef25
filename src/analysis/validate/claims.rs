//! Claims files: their schema, the built-in ones, and the checks a file passes before
//! any claim in it is tested.

use crate::error::UsageError;
use serde::{Deserialize, Serialize};

/// Claims files built into the binary (`--claims auto` looks through these).
pub const BUILTIN_CLAIMS: [(&str, &str); 30] = [
    (
        "aws-p4d",
        include_str!("../../../harness/claims/aws-p4d.toml"),
    ),
    (
        "aws-p4de",
        include_str!("../../../harness/claims/aws-p4de.toml"),
    ),
    (
        "aws-p5",
        include_str!("../../../harness/claims/aws-p5.toml"),
    ),
    (
        "aws-p5e",
        include_str!("../../../harness/claims/aws-p5e.toml"),
    ),
    (
        "aws-p5en",
        include_str!("../../../harness/claims/aws-p5en.toml"),
    ),
    (
        "aws-p6-b200",
        include_str!("../../../harness/claims/aws-p6-b200.toml"),
    ),
    (
        "aws-p6e-gb200",
        include_str!("../../../harness/claims/aws-p6e-gb200.toml"),
    ),
    (
        "aws-p6-b300",
        include_str!("../../../harness/claims/aws-p6-b300.toml"),
    ),
    (
        "aws-p6e-gb300",
        include_str!("../../../harness/claims/aws-p6e-gb300.toml"),
    ),
    (
        "azure-nd-h100-v5",
        include_str!("../../../harness/claims/azure-nd-h100-v5.toml"),
    ),
    (
        "azure-nd-h200-v5",
        include_str!("../../../harness/claims/azure-nd-h200-v5.toml"),
    ),
    (
        "azure-nd-gb200-v6",
        include_str!("../../../harness/claims/azure-nd-gb200-v6.toml"),
    ),
    (
        "azure-nd-gb300-v6",
        include_str!("../../../harness/claims/azure-nd-gb300-v6.toml"),
    ),
    (
        "gcp-a3-mega",
        include_str!("../../../harness/claims/gcp-a3-mega.toml"),
    ),
    (
        "gcp-a3-ultra",
        include_str!("../../../harness/claims/gcp-a3-ultra.toml"),
    ),
    (
        "gcp-a4x",
        include_str!("../../../harness/claims/gcp-a4x.toml"),
    ),
    (
        "gcp-a4x-max",
        include_str!("../../../harness/claims/gcp-a4x-max.toml"),
    ),
    (
        "gpu-a100",
        include_str!("../../../harness/claims/gpu-a100.toml"),
    ),
    (
        "gpu-a100-40gb",
        include_str!("../../../harness/claims/gpu-a100-40gb.toml"),
    ),
    (
        "gpu-h100-sxm",
        include_str!("../../../harness/claims/gpu-h100-sxm.toml"),
    ),
    (
        "gpu-h100-pcie",
        include_str!("../../../harness/claims/gpu-h100-pcie.toml"),
    ),
    (
        "gpu-h200",
        include_str!("../../../harness/claims/gpu-h200.toml"),
    ),
    (
        "gpu-b200",
        include_str!("../../../harness/claims/gpu-b200.toml"),
    ),
    (
        "gpu-gb200",
        include_str!("../../../harness/claims/gpu-gb200.toml"),
    ),
    (
        "gpu-b300",
        include_str!("../../../harness/claims/gpu-b300.toml"),
    ),
    (
        "gpu-gb300",
        include_str!("../../../harness/claims/gpu-gb300.toml"),
    ),
    (
        "oci-bm-gpu-h100-8",
        include_str!("../../../harness/claims/oci-bm-gpu-h100-8.toml"),
    ),
    (
        "oci-bm-gpu-h200-8",
        include_str!("../../../harness/claims/oci-bm-gpu-h200-8.toml"),
    ),
    (
        "oci-bm-gpu-b200-8",
        include_str!("../../../harness/claims/oci-bm-gpu-b200-8.toml"),
    ),
    (
        "oci-bm-gpu-gb200-4",
        include_str!("../../../harness/claims/oci-bm-gpu-gb200-4.toml"),
    ),
];

/// One claims file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimsFile {
    pub target: Target,
    #[serde(rename = "claim", default)]
    pub claims: Vec<Claim>,
    /// Claims against other hardware ("up to 35% lower latency than P5"), checked as a
    /// ratio between two results files (`validate --relative-to`).
    #[serde(rename = "relative", default, skip_serializing_if = "Vec::is_empty")]
    pub relative: Vec<RelativeClaim>,
}

/// A claim that this hardware's figure stands in a ratio to another's.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RelativeClaim {
    pub id: String,
    pub what: String,
    pub quantity: Quantity,
    /// The built-in claims file of the hardware compared against (e.g. `aws-p5`): the
    /// other results file must have run there.
    pub baseline: String,
    /// This hardware's figure over the baseline's, as claimed: "up to 35% lower
    /// latency" is 0.65, "60% more bandwidth" 1.6. For latencies a bound from above,
    /// else from below.
    pub ratio: f64,
    pub convention: String,
    /// Where the claim is made (URL).
    pub source: String,
    pub dtype: Option<String>,
    pub min_bytes: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// e.g. `AWS p5.48xlarge`, `NVIDIA H100 SXM`.
    pub name: String,
    pub kind: TargetKind,
    /// Instance types (exact, case-insensitive) or GPU-name fragments that select
    /// this file automatically.
    #[serde(default)]
    pub matches: Vec<String>,
    /// GPUs per instance (instances only).
    pub gpus_per_node: Option<u32>,
    /// The built-in GPU claims file of the instance's GPU (e.g. `gpu-h100-sxm`),
    /// selected with the instance.
    pub gpu: Option<String>,
    /// A published run of this hardware known to be healthy (its address), which
    /// these claims must pass; or why there is none.
    pub published_run: Option<String>,
    /// GPUs in one NVLink domain when it spans instances (72 on an NVL72 UltraServer):
    /// a multi-node run with no domain recorded is then flagged as possibly inside one.
    pub nvlink_domain_gpus: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    Instance,
    Gpu,
    /// A host without accelerators (claims tested by the CPU benchmarks).
    Cpu,
}

/// What a claim speaks of, and so which measurement tests it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Quantity {
    /// Device memory bandwidth per GPU (membw records on the GPU backend).
    GpuMemoryBandwidth,
    /// Host memory bandwidth per host (membw records on the CPU backend).
    HostMemoryBandwidth,
    /// Dense matmul throughput per GPU (or per rank on CPU) for the claim's dtype.
    MatmulTflops,
    /// All-reduce bus bandwidth inside one NVLink domain (tests NVLink/NVSwitch): a
    /// one-node run, or a multi-node one whose GPUs all sit in one domain (NVL72).
    IntraNodeAllreduceBusbw,
    /// Network bandwidth per node, from multi-node all-reduce bus bandwidth (runs
    /// known to stay inside one NVLink domain excluded).
    NetworkBandwidthPerNode,
    /// Small-message all-reduce time across two nodes (an upper bound).
    TwoNodeAllreduceLatency,
    /// One-way point-to-point latency between two nodes: the smallest-message
    /// `latency` record of `p2p` or `links`, or an imported `osu_latency` (an upper
    /// bound).
    PointToPointLatency,
    /// GPU-to-GPU peer copy or host link: no benchmark measures these yet.
    PeerCopyBandwidth,
    HostLinkBandwidth,
    /// Stated for the record (cluster scale, memory size): nothing to measure.
    Informational,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    /// Claims with the same id speak of the same thing (conflicting sources share it).
    pub id: String,
    pub what: String,
    pub quantity: Quantity,
    pub value: f64,
    /// GB/s, TB/s, Gbps, Tbps, TFLOP/s, us, GB, ...
    pub unit: String,
    /// One direction or both, dense or sparse, per GPU or per node, bytes counted how.
    pub convention: String,
    /// Where the figure comes from (URL).
    pub source: String,
    /// Fraction of the claim a good system reaches (pass at or above; for an upper
    /// bound such as latency, the claim itself is the bound and this is ignored).
    pub achievable: Option<f64>,
    /// The measured run `achievable` comes from: its address and the figure it
    /// measured against the claim.
    pub achievable_source: Option<String>,
    /// Datatype for matmul claims (`bf16`, `fp8`, `fp32`, `tf32`, `fp64`).
    pub dtype: Option<String>,
    /// Smallest message size that counts, for bandwidth claims (e.g. `1G`).
    pub min_bytes: Option<String>,
    pub note: Option<String>,
}

/// A claim's figure in the unit its quantity is measured in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Canonical {
    GBps(f64),
    Tflops(f64),
    Micros(f64),
    Other,
}

pub(super) fn canonical(value: f64, unit: &str) -> Result<Canonical, UsageError> {
    let v = value;
    Ok(match unit.trim() {
        "GB/s" => Canonical::GBps(v),
        "TB/s" => Canonical::GBps(v * 1e3),
        "PB/s" => Canonical::GBps(v * 1e6),
        "MB/s" => Canonical::GBps(v / 1e3),
        "Gbps" | "Gbit/s" => Canonical::GBps(v / 8.0),
        "Tbps" | "Tbit/s" => Canonical::GBps(v * 1e3 / 8.0),
        "TFLOP/s" | "TFLOPS" => Canonical::Tflops(v),
        "GFLOP/s" | "GFLOPS" => Canonical::Tflops(v / 1e3),
        "PFLOP/s" | "PFLOPS" => Canonical::Tflops(v * 1e3),
        "us" => Canonical::Micros(v),
        "ms" => Canonical::Micros(v * 1e3),
        "GB" | "GiB" | "TB" | "PB" | "GPUs" | "count" => Canonical::Other,
        other => {
            return Err(UsageError::new(format!(
                "unknown unit '{other}': expected GB/s, TB/s, PB/s, MB/s, Gbps, Tbps, TFLOP/s, GFLOP/s, PFLOP/s, us, ms, GB, GiB, TB, PB, GPUs or count"
            )))
        }
    })
}

/// A TOML error as one line: the message and where it is.
pub fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let line = text
                .get(..span.start)
                .map_or(1, |t| t.matches('\n').count() + 1);
            format!("{message} (line {line})")
        }
        None => message,
    }
}

impl ClaimsFile {
    /// Parses and checks a claims file; `name` is used in messages.
    pub fn parse(text: &str, name: &str) -> Result<ClaimsFile, UsageError> {
        let file: ClaimsFile = toml::from_str(text).map_err(|e| {
            UsageError::new(format!(
                "'{name}' is not a valid claims file: {}",
                toml_error(text, &e)
            ))
        })?;
        for c in &file.claims {
            if !c.value.is_finite() || c.value < 0.0 {
                return Err(UsageError::new(format!(
                    "'{name}': claim {} has a bad value {}",
                    c.id, c.value
                )));
            }
            if let Some(a) = c.achievable {
                if !(a.is_finite() && a > 0.0 && a <= 2.0) {
                    return Err(UsageError::new(format!(
                        "'{name}': claim {}: achievable must be a fraction in (0, 2], not {a}",
                        c.id
                    )));
                }
            }
            if c.achievable_source.is_some() && c.achievable.is_none() {
                return Err(UsageError::new(format!(
                    "'{name}': claim {}: achievable_source names the run behind an achievable fraction, but there is none",
                    c.id
                )));
            }
            canonical(c.value, &c.unit)
                .map_err(|e| UsageError::new(format!("'{name}': claim {}: {e}", c.id)))?;
            if let Some(b) = &c.min_bytes {
                crate::units::parse_size(b)
                    .map_err(|e| UsageError::new(format!("'{name}': claim {}: {e}", c.id)))?;
            }
            if c.source.trim().is_empty() {
                return Err(UsageError::new(format!(
                    "'{name}': claim {} has no source",
                    c.id
                )));
            }
        }
        for c in &file.relative {
            if !(c.ratio.is_finite() && c.ratio > 0.0) {
                return Err(UsageError::new(format!(
                    "'{name}': relative claim {}: ratio must be a positive number, not {}",
                    c.id, c.ratio
                )));
            }
            if c.quantity == Quantity::Informational || c.baseline.trim().is_empty() {
                return Err(UsageError::new(format!(
                    "'{name}': relative claim {} needs a measurable quantity and a baseline",
                    c.id
                )));
            }
            if c.source.trim().is_empty() {
                return Err(UsageError::new(format!(
                    "'{name}': relative claim {} has no source",
                    c.id
                )));
            }
            if let Some(b) = &c.min_bytes {
                crate::units::parse_size(b)
                    .map_err(|e| UsageError::new(format!("'{name}': claim {}: {e}", c.id)))?;
            }
        }
        Ok(file)
    }

    pub fn builtin() -> Vec<(String, ClaimsFile)> {
        BUILTIN_CLAIMS
            .iter()
            .filter_map(|(n, t)| ClaimsFile::parse(t, n).ok().map(|f| (n.to_string(), f)))
            .collect()
    }
}
