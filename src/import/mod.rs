//! Other tools' logs into the result schema, so they can be compared, modelled and
//! validated beside clusterbench's own: nccl-tests (text table and `-J` JSON) and
//! OSU micro-benchmarks. The imported document names the source tool in `tool`,
//! and its run note says which file it came from.

mod nccl_fabric;
pub mod nccl_tests;
mod nccl_tuning;
pub mod osu;
mod osu_log;
pub mod osu_p2p;
mod split;

pub use split::{part_path, split_repeated_runs};

use crate::bench::collectives;
use crate::core::{DType, ReduceOp};
use crate::error::UsageError;
use crate::results::environment::{HostInfo, RankInfo};
use crate::results::{
    Check, Environment, Metric, Params, Record, RunDocument, RunInfo, RunStatus, ToolInfo,
    SCHEMA_VERSION,
};
use crate::stats::Summary;

/// Which log format a file is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Guess from the content.
    Auto,
    /// nccl-tests standard output (`all_reduce_perf ...`).
    NcclTests,
    /// nccl-tests `-J FILE` JSON.
    NcclTestsJson,
    /// OSU micro-benchmarks output, one test or several: collective latency tests
    /// (`osu_allreduce`, `osu_alltoall`, `osu_bcast`, `osu_barrier`, ...), their NCCL
    /// versions (`osu_xccl_*`) and point-to-point (`osu_latency`, `osu_latency_mp`,
    /// `osu_bw`, `osu_bibw`).
    Osu,
}

/// What the caller knows that the log does not say.
#[derive(Debug, Clone, Default)]
pub struct ImportContext {
    pub source_name: String,
    /// Ranks (OSU logs do not print them).
    pub ranks: Option<u32>,
    pub nodes: Option<u32>,
    pub instance_type: Option<String>,
    /// Collective name when the log does not say (nccl-tests text of old versions).
    pub collective: Option<String>,
    /// Hosts of the two ranks of an OSU point-to-point log (one name: both ranks).
    pub hosts: Vec<String>,
    /// Window of an OSU bandwidth log (`-W`; the log does not print it).
    pub window: Option<u32>,
}

/// One parsed row, before it becomes a record.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub collective: String,
    pub dtype: DType,
    pub op: Option<ReduceOp>,
    pub in_place: bool,
    pub count: u64,
    pub bytes: u64,
    pub time_s: f64,
    /// Fastest and slowest iteration when the log reports them (OSU -f).
    pub min_s: Option<f64>,
    pub max_s: Option<f64>,
    pub algbw: Option<f64>,
    pub busbw: Option<f64>,
    pub wrong: Option<u64>,
}

/// The parsed log.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub tool: String,
    pub tool_version: Option<String>,
    pub rows: Vec<Row>,
    /// (rank, host) pairs when the log lists them.
    pub ranks: Vec<(u32, String)>,
    pub gpu_names: Vec<String>,
    /// Rows dropped, with why (e.g. datatypes the schema has no name for).
    pub skipped: Vec<String>,
    /// Point-to-point rows (OSU osu_latency, osu_bw, osu_bibw).
    pub p2p: Vec<osu_p2p::P2pRow>,
    /// Ranks the test always runs on, when the log lists none (OSU point-to-point: 2).
    pub fixed_ranks: Option<u32>,
    /// The backend the records name, when not the tool's usual one.
    pub backend: Option<String>,
    /// What the run note adds: assumptions made, buffer placement.
    pub notes: Vec<String>,
    /// Runs of a log holding several (nccl-tests `*_perf` runs one after another), in
    /// row order; rows before the first span, or logs without spans, take the
    /// document's rank count.
    pub runs: Vec<RunSpan>,
    /// (host, device index, model) of each GPU the log lists.
    pub devices: Vec<(String, u32, String)>,
    /// Index of the first row (or point-to-point row, in logs of those) of each run
    /// or test of the log, in order.
    pub run_starts: Vec<usize>,
    /// NCCL_ALGO/NCCL_PROTO and tuning choices the log shows.
    pub nccl_tuning: Option<crate::results::environment::NcclTuning>,
    /// (host, CUDA device, NVLink domain) of each GPU whose MNNVL line the log shows.
    pub fabric: Vec<(String, u32, crate::results::environment::NvlinkDomain)>,
}

/// The rows of one run, from `first_row` to the next span, and where it ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunSpan {
    pub first_row: usize,
    /// Ranks the run listed (0 when it listed none).
    pub ranks: u32,
    pub nodes: u32,
}

/// Maps a collective name as other tools spell it to clusterbench's benchmark name.
pub fn benchmark_name(tool_name: &str) -> String {
    let n = tool_name
        .trim()
        .trim_end_matches("_perf")
        .trim_start_matches("osu_")
        .to_ascii_lowercase()
        .replace(['_', '-', ' '], "");
    match n.as_str() {
        "bcast" => "broadcast".into(),
        other => other.into(),
    }
}

/// nccl-tests / MPI names of datatypes the schema knows; `None` for others (int8,
/// uint8, uint32, uint64...).
pub fn dtype_of(name: &str) -> Option<DType> {
    match name.trim() {
        "float" | "float32" | "MPI_FLOAT" => Some(DType::Float),
        "double" | "float64" | "MPI_DOUBLE" => Some(DType::Double),
        "int32" | "int" | "MPI_INT" => Some(DType::Int32),
        "int64" | "MPI_LONG" | "MPI_LONG_LONG" => Some(DType::Int64),
        "half" | "float16" => Some(DType::Fp16),
        "bfloat16" => Some(DType::Bf16),
        "f8e4m3" => Some(DType::Fp8E4m3),
        "f8e5m2" => Some(DType::Fp8E5m2),
        _ => None,
    }
}

/// algbw x this = busbw for a row of `benchmark` on `ranks` ranks: the factor of the
/// clusterbench collective of that name (nccl-tests' own). Names no collective here has
/// (nccl-tests' sendrecv and hypercube, OSU's gather or allgatherv...) keep
/// busbw = algbw: there is no factor of theirs to apply.
pub fn busbw_factor(benchmark: &str, ranks: u32) -> f64 {
    collectives()
        .find(|c| c.name() == benchmark)
        .map_or(1.0, |c| c.busbw_factor(ranks.max(1) as usize))
}

/// Detects the format of `text`.
pub fn detect(text: &str) -> Result<Format, UsageError> {
    let t = text.trim_start();
    if t.starts_with('{') {
        Ok(Format::NcclTestsJson)
    } else if text.contains("# OSU ") {
        Ok(Format::Osu)
    } else if text.contains("nThread") || text.contains("out-of-place") {
        Ok(Format::NcclTests)
    } else {
        Err(UsageError::new(
            "cannot tell the format of this log (no nccl-tests header, no '# OSU' title, not JSON): pass --format",
        ))
    }
}

/// Parses `text` as `format` and builds a results document.
pub fn import(text: &str, format: Format, ctx: &ImportContext) -> Result<RunDocument, UsageError> {
    to_document(parse(text, format, ctx)?, ctx)
}

fn parse(text: &str, format: Format, ctx: &ImportContext) -> Result<Parsed, UsageError> {
    let parsed = match format {
        Format::NcclTests => nccl_tests::parse_text(text, ctx)?,
        Format::NcclTestsJson => nccl_tests::parse_json(text, ctx)?,
        Format::Osu => osu::parse(text, ctx)?,
        Format::Auto => detect(text).and_then(|f| parse(text, f, ctx))?,
    };
    if parsed.p2p.is_empty() && (!ctx.hosts.is_empty() || ctx.window.is_some()) {
        return Err(UsageError::new(format!(
            "'{}': --hosts and --window are read for OSU point-to-point logs ({}) only",
            ctx.source_name,
            osu_p2p::programs()
        )));
    }
    Ok(parsed)
}

/// Like [`import`], but a log that repeats a test gives one document per run, so
/// that no two records of one document share a key.
pub fn import_runs(
    text: &str,
    format: Format,
    ctx: &ImportContext,
) -> Result<Vec<RunDocument>, UsageError> {
    let parsed = parse(text, format, ctx)?;
    let starts = parsed.run_starts.clone();
    Ok(split_repeated_runs(to_document(parsed, ctx)?, &starts))
}

fn to_document(parsed: Parsed, ctx: &ImportContext) -> Result<RunDocument, UsageError> {
    if parsed.rows.is_empty() && parsed.p2p.is_empty() {
        let why = if parsed.skipped.is_empty() {
            String::new()
        } else {
            format!(" ({})", parsed.skipped.join("; "))
        };
        return Err(UsageError::new(format!(
            "'{}': no result rows found in this {} log{why}",
            ctx.source_name, parsed.tool
        )));
    }
    let mut hosts_seen: Vec<String> = Vec::new();
    for (_, h) in &parsed.ranks {
        if !hosts_seen.contains(h) {
            hosts_seen.push(h.clone());
        }
    }
    let listed_ranks = (!parsed.ranks.is_empty()).then_some(parsed.ranks.len() as u32);
    let document_ranks = ctx.ranks.or(listed_ranks).or(parsed.fixed_ranks);
    let missing_ranks = || {
        UsageError::new(format!(
            "'{}': this {} log does not say how many ranks ran: pass --ranks N",
            ctx.source_name, parsed.tool
        ))
    };
    let document_nodes = ctx
        .nodes
        .unwrap_or_else(|| (hosts_seen.len() as u32).max(1));
    // Each row's ranks and nodes: the caller's, else its run's, else the document's.
    let placement = |index: usize| -> Result<(u32, u32), UsageError> {
        let span = parsed
            .runs
            .iter()
            .rev()
            .find(|s| s.first_row <= index && s.ranks > 0);
        let ranks = ctx
            .ranks
            .or(span.map(|s| s.ranks))
            .or(document_ranks)
            .ok_or_else(missing_ranks)?;
        let nodes = ctx
            .nodes
            .or(span.map(|s| s.nodes.max(1)))
            .unwrap_or(document_nodes);
        if ranks == 0 || nodes == 0 || nodes > ranks {
            return Err(UsageError::new(format!(
                "'{}': {ranks} ranks on {nodes} nodes is not possible",
                ctx.source_name
            )));
        }
        Ok((ranks, nodes))
    };
    let (ranks, nodes) = if parsed.p2p.is_empty() && !parsed.rows.is_empty() {
        placement(0)?
    } else {
        let ranks = document_ranks.ok_or_else(missing_ranks)?;
        if ranks == 0 || document_nodes == 0 || document_nodes > ranks {
            return Err(UsageError::new(format!(
                "'{}': {ranks} ranks on {document_nodes} nodes is not possible",
                ctx.source_name
            )));
        }
        (ranks, document_nodes)
    };
    let backend = match &parsed.backend {
        Some(b) => b.as_str(),
        None if parsed.tool == "nccl-tests" => "cuda",
        None => "cpu",
    };
    let mut records = Vec::new();
    for (index, row) in parsed.rows.iter().enumerate() {
        let (ranks, nodes) = placement(index)?;
        let benchmark = benchmark_name(&row.collective);
        let (count, bytes) = if parsed.tool == OSU_TOOL {
            osu::as_nccl_tests(&benchmark, row.count, row.bytes, ranks)
        } else {
            (row.count, row.bytes)
        };
        let samples = vec![row.time_s];
        let time_s = time_summary(&ctx.source_name, row.time_s, row.min_s, row.max_s)?;
        let algbw = row.algbw.unwrap_or(if row.time_s > 0.0 {
            bytes as f64 / row.time_s / 1e9
        } else {
            0.0
        });
        let busbw = row.busbw.unwrap_or(algbw * busbw_factor(&benchmark, ranks));
        let metric = |name: &str, v: f64| Metric {
            name: name.into(),
            unit: "GB/s".into(),
            value: v,
            best: v,
        };
        records.push(Record {
            benchmark,
            backend: backend.into(),
            ranks,
            nodes,
            params: Params::Collective {
                dtype: row.dtype,
                op: row.op,
                in_place: row.in_place,
                count,
                bytes,
            },
            time_s,
            samples_s: samples,
            metrics: latency_metric(row, &parsed.tool)
                .into_iter()
                .chain([metric("algbw", algbw), metric("busbw", busbw)])
                .collect(),
            check: match row.wrong {
                Some(w) => Check {
                    performed: true,
                    passed: w == 0,
                    checked: 0,
                    wrong: w,
                    max_error_ratio: None,
                    method: format!("{} #wrong", parsed.tool),
                },
                None => Check {
                    performed: false,
                    passed: true,
                    checked: 0,
                    wrong: 0,
                    max_error_ratio: None,
                    method: format!("not checked ({} does not check)", parsed.tool),
                },
            },
            per_node: Vec::new(),
            timing: None,
            rank_mean_s: None,
        });
    }
    for row in &parsed.p2p {
        records.push(osu_p2p::record(
            row,
            backend,
            ranks,
            nodes,
            &parsed.ranks,
            &ctx.source_name,
        )?);
    }
    let host_names = if hosts_seen.is_empty() {
        vec!["unknown".to_string()]
    } else {
        hosts_seen
    };
    let hosts = host_names
        .iter()
        .map(|h| HostInfo {
            hostname: h.clone(),
            cpu_model: None,
            sockets: 0,
            cores: 0,
            threads: 0,
            numa_nodes: vec![],
            caches: vec![],
            memory_bytes: 0,
            os: None,
            kernel: None,
            arch: String::new(),
            instance_type: ctx.instance_type.clone(),
            system_vendor: None,
            topology_source: format!("imported from a {} log (not measured here)", parsed.tool),
            // The logs name devices but not their properties: only the model is known.
            gpus: parsed
                .devices
                .iter()
                .filter(|(host, _, _)| host == h)
                .map(|(_, index, model)| {
                    let mut gpu = imported_gpu(*index, model);
                    gpu.nvlink_domain = parsed
                        .fabric
                        .iter()
                        .find(|(host, device, _)| host == h && device == index)
                        .map(|(_, _, domain)| domain.clone());
                    gpu
                })
                .collect(),
            cuda: None,
            nccl_tuning: parsed.nccl_tuning.clone(),
        })
        .collect();
    let rank_infos = parsed
        .ranks
        .iter()
        .map(|(r, h)| RankInfo {
            rank: *r,
            host: h.clone(),
            cpu_binding: None,
            cores: 0,
            pid: 0,
            gpu: None,
            gpus: Vec::new(),
        })
        .collect();
    let now = chrono::Utc::now();
    let mut note = format!("imported from {} output '{}'", parsed.tool, ctx.source_name);
    if !parsed.gpu_names.is_empty() {
        note.push_str(&format!("; devices: {}", parsed.gpu_names.join(", ")));
    }
    for n in &parsed.notes {
        note.push_str(&format!("; {n}"));
    }
    if !parsed.skipped.is_empty() {
        note.push_str(&format!("; skipped: {}", parsed.skipped.join("; ")));
    }
    let failed = records.iter().any(|r| !r.check.passed);
    Ok(RunDocument {
        schema_version: SCHEMA_VERSION,
        tool: ToolInfo {
            name: parsed.tool.clone(),
            version: parsed
                .tool_version
                .clone()
                .unwrap_or_else(|| "unknown".into()),
            git_commit: None,
        },
        run: RunInfo {
            run_id: format!(
                "{}-import-{}",
                now.format("%Y%m%dT%H%M%S%.3fZ"),
                parsed.tool
            ),
            command_line: std::env::args().collect(),
            started_at: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            finished_at: Some(now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            status: if failed {
                RunStatus::CheckFailed
            } else {
                RunStatus::Completed
            },
            backend: backend.into(),
            backend_note: Some(note),
            suite: None,
            options: serde_json::json!({ "imported_from": parsed.tool, "file": ctx.source_name }),
            abort: None,
        },
        environment: Environment {
            hosts,
            ranks: rank_infos,
            mpi: None,
            collective_settings: None,
            nvlink_domain_size: None,
        },
        records,
        links: None,
    })
}

/// A GPU a log names: its model and index, nothing measured.
fn imported_gpu(index: u32, model: &str) -> crate::results::environment::GpuInfo {
    crate::results::environment::GpuInfo {
        index,
        name: model.to_string(),
        uuid: None,
        compute_capability: String::new(),
        sm_count: 0,
        memory_bytes: 0,
        sm_clock_mhz: None,
        memory_clock_mhz: None,
        memory_bus_width_bits: None,
        l2_cache_bytes: None,
        pci_bus_id: None,
        numa_node: None,
        cpu_affinity: None,
        ecc_enabled: None,
        nvlink_domain: None,
    }
}

/// The time summary of a log row: its one figure, widened by the fastest and slowest
/// iteration when the log reports them.
/// The tool name of OSU micro-benchmarks documents.
pub(crate) const OSU_TOOL: &str = "osu-micro-benchmarks";

/// OSU's collective tests are latency tests: the printed latency is kept as a time
/// metric, the figure the record is judged by (a time: lower is better), beside the
/// bandwidths derived from it.
fn latency_metric(row: &Row, tool: &str) -> Option<Metric> {
    // Back to the log's microseconds, without the residue of the trip through seconds.
    let micros = |s: f64| (s * 1e12).round() / 1e6;
    (tool == OSU_TOOL).then(|| Metric {
        name: "latency".into(),
        unit: "us".into(),
        value: micros(row.time_s),
        best: micros(row.min_s.unwrap_or(row.time_s).min(row.time_s)),
    })
}

pub(crate) fn time_summary(
    source: &str,
    time_s: f64,
    min_s: Option<f64>,
    max_s: Option<f64>,
) -> Result<Summary, UsageError> {
    let mut summary = Summary::of(&[time_s])
        .ok_or_else(|| UsageError::new(format!("'{source}': a time is not finite")))?;
    if let (Some(lo), Some(hi)) = (min_s, max_s) {
        summary.min = lo.min(time_s);
        summary.max = hi.max(time_s);
    }
    Ok(summary)
}

/// Parses a number as the tools print it; `None` for `N/A`, `nan` and the like.
pub(crate) fn number(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nccl_tests_type_names_map_to_the_schema() {
        assert_eq!(dtype_of("bfloat16"), Some(DType::Bf16));
        assert_eq!(dtype_of("half"), Some(DType::Fp16));
        assert_eq!(dtype_of("f8e4m3"), Some(DType::Fp8E4m3));
        assert_eq!(dtype_of("f8e5m2"), Some(DType::Fp8E5m2));
        assert_eq!(dtype_of("int8"), None);
    }

    /// The factors nccl-tests applies to the collectives clusterbench runs; any other
    /// name a log carries (nccl-tests' sendrecv and hypercube, OSU's gather...) keeps
    /// busbw = algbw.
    #[test]
    fn busbw_factors_of_imported_rows() {
        for (name, ranks, factor) in [
            ("allreduce", 1, 0.0),
            ("allreduce", 2, 1.0),
            ("allreduce", 8, 1.75),
            ("allreduce", 16, 1.875),
            ("allgather", 4, 0.75),
            ("reducescatter", 8, 0.875),
            ("alltoall", 2, 0.5),
            ("alltoall", 1, 0.0),
            ("broadcast", 1, 1.0),
            ("broadcast", 64, 1.0),
            ("sendrecv", 16, 1.0),
            ("hypercube", 8, 1.0),
            ("reduce", 8, 1.0),
            ("gather", 8, 1.0),
            ("allgatherv", 8, 1.0),
        ] {
            assert_eq!(busbw_factor(name, ranks), factor, "{name} on {ranks} ranks");
        }
        for ranks in 1..=64 {
            let n = f64::from(ranks);
            assert_eq!(busbw_factor("allreduce", ranks), 2.0 * (n - 1.0) / n);
            assert_eq!(busbw_factor("allgather", ranks), (n - 1.0) / n);
        }
    }
}
