//! Measured against claimed: vendor claims files (harness/claims/*.toml) checked
//! against the measurements of a results file.
//!
//! Each claim names the quantity it speaks of; this module maps quantities to the
//! records that test them. A claim with no such record is reported "not measured",
//! never given a figure. Claims that share an id but come from different sources
//! are all kept and shown side by side.

use crate::error::UsageError;
use crate::results::{Params, Record, RunDocument};
use serde::{Deserialize, Serialize};

/// Claims files built into the binary (`--claims auto` looks through these).
pub const BUILTIN_CLAIMS: [(&str, &str); 17] = [
    ("aws-p4d", include_str!("../../harness/claims/aws-p4d.toml")),
    (
        "aws-p4de",
        include_str!("../../harness/claims/aws-p4de.toml"),
    ),
    ("aws-p5", include_str!("../../harness/claims/aws-p5.toml")),
    ("aws-p5e", include_str!("../../harness/claims/aws-p5e.toml")),
    (
        "aws-p5en",
        include_str!("../../harness/claims/aws-p5en.toml"),
    ),
    (
        "aws-p6-b200",
        include_str!("../../harness/claims/aws-p6-b200.toml"),
    ),
    (
        "aws-p6e-gb200",
        include_str!("../../harness/claims/aws-p6e-gb200.toml"),
    ),
    (
        "azure-nd-h100-v5",
        include_str!("../../harness/claims/azure-nd-h100-v5.toml"),
    ),
    (
        "azure-nd-h200-v5",
        include_str!("../../harness/claims/azure-nd-h200-v5.toml"),
    ),
    (
        "gcp-a3-mega",
        include_str!("../../harness/claims/gcp-a3-mega.toml"),
    ),
    (
        "gcp-a3-ultra",
        include_str!("../../harness/claims/gcp-a3-ultra.toml"),
    ),
    (
        "gpu-a100",
        include_str!("../../harness/claims/gpu-a100.toml"),
    ),
    (
        "gpu-h100-sxm",
        include_str!("../../harness/claims/gpu-h100-sxm.toml"),
    ),
    (
        "gpu-h100-pcie",
        include_str!("../../harness/claims/gpu-h100-pcie.toml"),
    ),
    (
        "gpu-h200",
        include_str!("../../harness/claims/gpu-h200.toml"),
    ),
    (
        "gpu-b200",
        include_str!("../../harness/claims/gpu-b200.toml"),
    ),
    (
        "gpu-gb200",
        include_str!("../../harness/claims/gpu-gb200.toml"),
    ),
];

/// One claims file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimsFile {
    pub target: Target,
    #[serde(rename = "claim", default)]
    pub claims: Vec<Claim>,
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
    /// One-node all-reduce bus bandwidth (tests NVLink/NVSwitch).
    IntraNodeAllreduceBusbw,
    /// Network bandwidth per node, from multi-node all-reduce bus bandwidth.
    NetworkBandwidthPerNode,
    /// Small-message all-reduce time across two nodes (an upper bound).
    TwoNodeAllreduceLatency,
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
    /// Datatype for matmul claims (`bf16`, `fp8`, `fp32`, `tf32`, `fp64`).
    pub dtype: Option<String>,
    /// Smallest message size that counts, for bandwidth claims (e.g. `1G`).
    pub min_bytes: Option<String>,
    pub note: Option<String>,
}

/// A claim's figure in the unit its quantity is measured in.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Canonical {
    GBps(f64),
    Tflops(f64),
    Micros(f64),
    Other,
}

fn canonical(value: f64, unit: &str) -> Result<Canonical, UsageError> {
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
        "GB" | "GiB" | "TB" | "GPUs" | "count" => Canonical::Other,
        other => {
            return Err(UsageError::new(format!(
                "unknown unit '{other}': expected GB/s, TB/s, PB/s, MB/s, Gbps, Tbps, TFLOP/s, GFLOP/s, PFLOP/s, us, ms, GB, GiB, TB, GPUs or count"
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
        Ok(file)
    }

    pub fn builtin() -> Vec<(String, ClaimsFile)> {
        BUILTIN_CLAIMS
            .iter()
            .filter_map(|(n, t)| ClaimsFile::parse(t, n).ok().map(|f| (n.to_string(), f)))
            .collect()
    }
}

/// Instance types and GPU names found in a results document, each once.
pub fn detected_hardware(doc: &RunDocument) -> (Vec<String>, Vec<String>) {
    let mut instances: Vec<String> = Vec::new();
    let mut gpus: Vec<String> = Vec::new();
    for h in &doc.environment.hosts {
        if let Some(t) = &h.instance_type {
            if !instances.contains(t) {
                instances.push(t.clone());
            }
        }
        for g in &h.gpus {
            if !gpus.contains(&g.name) {
                gpus.push(g.name.clone());
            }
        }
    }
    (instances, gpus)
}

/// Picks built-in claims files for the detected hardware: the instance file whose
/// `matches` has the instance type, and for each GPU name the GPU file with the
/// longest matching fragment (so `GB200` is not taken for `B200`).
pub fn auto_select(
    files: &[(String, ClaimsFile)],
    instances: &[String],
    gpus: &[String],
) -> Vec<(String, ClaimsFile)> {
    let mut out: Vec<(String, ClaimsFile)> = Vec::new();
    let mut push = |n: &String, f: &ClaimsFile| {
        if !out.iter().any(|(m, _)| m == n) {
            out.push((n.clone(), f.clone()));
        }
    };
    for t in instances {
        for (n, f) in files {
            if f.target.kind == TargetKind::Instance
                && f.target.matches.iter().any(|m| m.eq_ignore_ascii_case(t))
            {
                push(n, f);
                if let Some(gpu) = &f.target.gpu {
                    if let Some((gn, gf)) = files.iter().find(|(m, _)| m == gpu) {
                        push(gn, gf);
                    }
                }
            }
        }
    }
    for g in gpus {
        let g_low = g.to_ascii_lowercase();
        let best = files
            .iter()
            .filter(|(_, f)| f.target.kind == TargetKind::Gpu)
            .filter_map(|(n, f)| {
                f.target
                    .matches
                    .iter()
                    .filter(|m| g_low.contains(&m.to_ascii_lowercase()))
                    .map(|m| m.len())
                    .max()
                    .map(|len| (len, n, f))
            })
            .max_by_key(|(len, _, _)| *len);
        if let Some((_, n, f)) = best {
            push(n, f);
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    Warn,
    Fail,
    NotMeasured,
    /// Measured and shown, but the claim has no sourced achievable fraction.
    Reported,
    Informational,
}

/// One claim checked.
#[derive(Debug, Clone, Serialize)]
pub struct ClaimResult {
    pub file: String,
    pub target: String,
    pub id: String,
    pub what: String,
    pub claimed: f64,
    pub unit: String,
    pub convention: String,
    pub source: String,
    /// In the claim's unit.
    pub measured: Option<f64>,
    /// Measured as a fraction of the claim.
    pub fraction: Option<f64>,
    pub achievable: Option<f64>,
    pub outcome: Outcome,
    /// Which records gave the figure, or why there is none.
    pub evidence: String,
    /// Other sources for the same id with a different figure.
    pub conflicts_with: Vec<String>,
}

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

/// The best figure among `candidates` (value, description), highest or lowest.
fn best(candidates: Vec<(f64, String)>, highest: bool) -> Option<(f64, String)> {
    candidates
        .into_iter()
        .reduce(|a, b| if (b.0 > a.0) == highest { b } else { a })
}

/// The measurement that tests `claim`, in GB/s, TFLOP/s or us; or why there is none.
fn measure(claim: &Claim, doc: &RunDocument, target: &Target) -> Result<(f64, String), String> {
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
                recs.filter(|r| r.benchmark.contains("membw") && gpu(r) == want_gpu)
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
                                    crate::report::compare::label(r),
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
                recs.filter(|r| r.benchmark.contains("matmul"))
                    .filter(|r| want.is_none() || record_dtype(r) == want)
                    .filter(|r| gpu(r) == (target.kind != TargetKind::Cpu))
                    .filter_map(|r| {
                        metric(r, "tflops").map(|v| (v, crate::report::compare::label(r)))
                    })
                    .collect(),
                true,
            )
        }
        Quantity::IntraNodeAllreduceBusbw => best(
            recs.filter(|r| r.benchmark == "allreduce" && gpu(r) && r.nodes == 1 && r.ranks > 1)
                .filter(|r| collective_bytes(r).unwrap_or(0) >= min_bytes)
                .filter_map(|r| metric(r, "busbw").map(|v| (v, crate::report::compare::label(r))))
                .collect(),
            true,
        ),
        Quantity::NetworkBandwidthPerNode => best(
            recs.filter(|r| r.benchmark == "allreduce" && gpu(r) && r.nodes > 1 && r.ranks > 1)
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
                                crate::report::compare::label(r)
                            ),
                        )
                    })
                })
                .collect(),
            true,
        ),
        Quantity::TwoNodeAllreduceLatency => {
            let two: Vec<&Record> = recs
                .filter(|r| r.benchmark == "allreduce" && gpu(r) && r.nodes == 2)
                .collect();
            let smallest = two.iter().filter_map(|r| collective_bytes(r)).min();
            best(
                two.iter()
                    .filter(|r| collective_bytes(r) == smallest)
                    .map(|r| (r.time_s.median * 1e6, crate::report::compare::label(r)))
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

/// Checks every claim of `files` against `doc`.
pub fn validate(doc: &RunDocument, files: &[(String, ClaimsFile)]) -> Vec<ClaimResult> {
    let mut out = Vec::new();
    for (name, file) in files {
        for c in &file.claims {
            let conflicts_with: Vec<String> = file
                .claims
                .iter()
                .filter(|o| o.id == c.id && (o.value != c.value || o.unit != c.unit))
                .map(|o| format!("{} {} ({})", o.value, o.unit, o.source))
                .collect();
            let canon = canonical(c.value, &c.unit).unwrap_or(Canonical::Other);
            let (measured, evidence, outcome) = if c.quantity == Quantity::Informational {
                (
                    None,
                    "stated, not testable here".to_string(),
                    Outcome::Informational,
                )
            } else {
                match measure(c, doc, &file.target) {
                    Err(why) => (None, why, Outcome::NotMeasured),
                    Ok((m, ev)) => {
                        // Back into the claim's unit.
                        let scale = match canon {
                            Canonical::GBps(v) | Canonical::Tflops(v) | Canonical::Micros(v) => {
                                if v > 0.0 {
                                    c.value / v
                                } else {
                                    1.0
                                }
                            }
                            Canonical::Other => 1.0,
                        };
                        let in_unit = m * scale;
                        let outcome = if c.quantity == Quantity::TwoNodeAllreduceLatency {
                            if in_unit <= c.value {
                                Outcome::Pass
                            } else if in_unit <= c.value * 1.1 {
                                Outcome::Warn
                            } else {
                                Outcome::Fail
                            }
                        } else if c.achievable.is_none() {
                            Outcome::Reported
                        } else {
                            let need = c.achievable.unwrap_or(1.0);
                            let frac = if c.value > 0.0 {
                                in_unit / c.value
                            } else {
                                0.0
                            };
                            if frac >= need {
                                Outcome::Pass
                            } else if frac >= need * 0.9 {
                                Outcome::Warn
                            } else {
                                Outcome::Fail
                            }
                        };
                        (Some(in_unit), ev, outcome)
                    }
                }
            };
            out.push(ClaimResult {
                file: name.clone(),
                target: file.target.name.clone(),
                id: c.id.clone(),
                what: c.what.clone(),
                claimed: c.value,
                unit: c.unit.clone(),
                convention: c.convention.clone(),
                source: c.source.clone(),
                fraction: measured.filter(|_| c.value > 0.0).map(|m| m / c.value),
                measured,
                achievable: c.achievable,
                outcome,
                evidence,
                conflicts_with,
            });
        }
    }
    out
}

/// Renders the results as a terminal table or markdown.
pub fn render(results: &[ClaimResult], markdown: bool) -> String {
    let header = [
        "target",
        "claim",
        "claimed",
        "measured",
        "% of claim",
        "need",
        "result",
        "source",
    ];
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|r| {
            let mut what = r.what.clone();
            if !r.conflicts_with.is_empty() {
                what.push_str(" [sources differ]");
            }
            vec![
                r.target.clone(),
                what,
                format!("{} {}", r.claimed, r.unit),
                r.measured
                    .map(|m| format!("{m:.3} {}", r.unit))
                    .unwrap_or_else(|| "not measured".into()),
                r.fraction
                    .map(|f| format!("{:.1}%", f * 100.0))
                    .unwrap_or_else(|| "-".into()),
                match (r.outcome, r.achievable) {
                    (Outcome::Informational | Outcome::NotMeasured | Outcome::Reported, _) => {
                        "-".into()
                    }
                    (_, Some(a)) if r.unit != "us" => format!(">= {:.0}%", a * 100.0),
                    _ if r.unit == "us" => format!("<= {} us", r.claimed),
                    _ => ">= 100%".into(),
                },
                match r.outcome {
                    Outcome::Pass => "pass",
                    Outcome::Warn => "warn",
                    Outcome::Fail => "FAIL",
                    Outcome::NotMeasured => "not measured",
                    Outcome::Reported => "reported",
                    Outcome::Informational => "info",
                }
                .into(),
                r.source.clone(),
            ]
        })
        .collect();
    let mut out = super::grid::render(&header, &rows, markdown);
    let count = |o: Outcome| results.iter().filter(|r| r.outcome == o).count();
    out.push_str(&format!(
        "\n{} pass, {} warn, {} fail, {} not measured, {} reported without a threshold, {} informational\n",
        count(Outcome::Pass),
        count(Outcome::Warn),
        count(Outcome::Fail),
        count(Outcome::NotMeasured),
        count(Outcome::Reported),
        count(Outcome::Informational)
    ));
    let mut told: Vec<(&str, &str)> = Vec::new();
    for r in results.iter().filter(|r| !r.conflicts_with.is_empty()) {
        if told.contains(&(r.file.as_str(), r.id.as_str())) {
            continue;
        }
        told.push((r.file.as_str(), r.id.as_str()));
        out.push_str(&format!(
            "sources differ on {} '{}': {} {} ({}) vs {}\n",
            r.target,
            r.id,
            r.claimed,
            r.unit,
            r.source,
            r.conflicts_with.join("; ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nccl_doc() -> RunDocument {
        let text =
            include_str!("../../tests/fixtures/nccl-tests-all_reduce_perf-a3mega-16gpu.json");
        let ctx = crate::import::ImportContext {
            source_name: "t".into(),
            ..Default::default()
        };
        crate::import::import(text, crate::import::Format::NcclTestsJson, &ctx).unwrap()
    }

    fn builtin(name: &str) -> (String, ClaimsFile) {
        ClaimsFile::builtin()
            .into_iter()
            .find(|(n, _)| n == name)
            .unwrap()
    }

    #[test]
    fn gpu_names_pick_the_longest_matching_datasheet() {
        let files = ClaimsFile::builtin();
        assert_eq!(
            files.len(),
            BUILTIN_CLAIMS.len(),
            "every built-in file parses"
        );
        let pick = |gpu: &str| {
            auto_select(&files, &[], &[gpu.to_string()])
                .into_iter()
                .map(|(n, _)| n)
                .collect::<Vec<_>>()
        };
        assert_eq!(pick("NVIDIA GB200"), ["gpu-gb200"]);
        assert_eq!(pick("NVIDIA B200"), ["gpu-b200"]);
        assert_eq!(pick("NVIDIA H100 80GB HBM3"), ["gpu-h100-sxm"]);
        assert_eq!(pick("NVIDIA H100 PCIe"), ["gpu-h100-pcie"]);
        assert!(pick("Tesla T4").is_empty());
        // An instance brings its GPU's datasheet.
        let p5 = auto_select(&files, &["p5.48xlarge".into()], &[]);
        let names: Vec<&str> = p5.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["aws-p5", "gpu-h100-sxm"]);
    }

    #[test]
    fn hardware_is_read_from_the_hosts_including_gpu_names() {
        let gpu = |name: &str| -> crate::results::environment::GpuInfo {
            serde_json::from_value(serde_json::json!({"index": 0, "name": name,
                "compute_capability": "9.0", "sm_count": 132, "memory_bytes": 0}))
            .unwrap()
        };
        let mut doc = nccl_doc();
        let host = doc.environment.hosts[0].clone();
        doc.environment.hosts = vec![host.clone(), host];
        for h in &mut doc.environment.hosts {
            h.instance_type = Some("p5en.48xlarge".into());
        }
        doc.environment.hosts[0].gpus = vec![gpu("NVIDIA H200"), gpu("NVIDIA H200")];
        let (i, g) = detected_hardware(&doc);
        assert_eq!(i, ["p5en.48xlarge"]);
        assert_eq!(g, ["NVIDIA H200"]);
        doc.environment.hosts.clear();
        assert_eq!(detected_hardware(&doc), (vec![], vec![]));
    }

    #[test]
    fn latency_bounds_and_not_measured_claims() {
        let doc = nccl_doc();
        // Smallest size: 135.8 us out of place, 123.5 us in place; the best counts.
        let p5 = validate(&doc, &[builtin("aws-p5")]);
        let lat = p5
            .iter()
            .find(|r| r.id == "allreduce_latency_2node")
            .unwrap();
        assert_eq!(lat.measured, Some(123.5));
        assert_eq!(lat.outcome, Outcome::Fail);
        let p4d = validate(&doc, &[builtin("aws-p4d")]);
        let lat = p4d
            .iter()
            .find(|r| r.id == "allreduce_latency_2node")
            .unwrap();
        assert_eq!(lat.outcome, Outcome::Pass);
        // Two nodes: nothing tests the one-node NVLink claim.
        let nvl = p5.iter().find(|r| r.id == "nvlink_allreduce").unwrap();
        assert_eq!((nvl.outcome, nvl.measured), (Outcome::NotMeasured, None));
        let info = p5.iter().find(|r| r.id == "ultracluster_size").unwrap();
        assert_eq!(info.outcome, Outcome::Informational);
    }

    #[test]
    fn bad_claims_are_rejected_with_the_claim_named() {
        let base = "[target]\nname = \"x\"\nkind = \"gpu\"\n[[claim]]\nid = \"a\"\nwhat = \"w\"\nquantity = \"matmul_tflops\"\nconvention = \"c\"\nsource = \"s\"\n";
        assert!(
            ClaimsFile::parse(&format!("{base}value = 1.0\nunit = \"TFLOP/s\"\n"), "f").is_ok()
        );
        let e = ClaimsFile::parse(&format!("{base}value = 1.0\nunit = \"parsecs\"\n"), "f")
            .unwrap_err();
        assert!(e.to_string().contains("unknown unit 'parsecs'"), "{e}");
        let e =
            ClaimsFile::parse(&format!("{base}value = -1.0\nunit = \"GB/s\"\n"), "f").unwrap_err();
        assert!(e.to_string().contains("bad value"), "{e}");
        let e = ClaimsFile::parse(
            &format!("{base}value = 1.0\nunit = \"GB/s\"\nachievable = 7.0\n"),
            "f",
        )
        .unwrap_err();
        assert!(e.to_string().contains("achievable"), "{e}");
        assert!(ClaimsFile::parse(
            &format!("{base}value = 1.0\nunit = \"GB/s\"\nsurprise = 1\n"),
            "f"
        )
        .is_err());
    }
}
