//! The result schema: one versioned JSON document per run.
//!
//! While a run is in progress its records are streamed to `<run_id>.jsonl`, one JSON
//! value per line (a [`StreamLine`]): first the header, then each record as soon as it
//! is measured, then a footer. At the end the whole [`RunDocument`] is written to
//! `<run_id>.json` atomically (write to a temporary file, then rename), so a run that
//! dies keeps everything it measured in the `.jsonl` file.
//!
//! The JSON Schema published in `harness/schema/results.schema.json` is generated
//! from these types (`clusterbench schema`).

pub mod describe;
pub mod ending;
pub mod environment;
pub mod files;
pub mod links;
pub mod reporter;

use crate::core::{DType, PeerPath, ReduceOp, Timing};
use crate::stats::Summary;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use environment::Environment;

/// Version of this schema. Bumped on any change that an old reader could misread.
pub const SCHEMA_VERSION: u32 = 5;

/// The oldest schema version this build reads (version 2 added `per_node`, version 3
/// `timing` and the peer copies' `peer_path`, version 4 gave collectives' `count`
/// nccl-tests' meaning and added the `interrupted` status, version 5 `rank_mean_s`).
pub const OLDEST_READABLE_SCHEMA: u32 = 1;

/// A complete run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunDocument {
    pub schema_version: u32,
    pub tool: ToolInfo,
    pub run: RunInfo,
    pub environment: Environment,
    pub records: Vec<Record>,
    /// The node x node link matrix of `clusterbench links`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<links::LinkMatrix>,
}

/// The program that produced the results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
    /// Git commit the binary was built from, when known.
    pub git_commit: Option<String>,
}

impl ToolInfo {
    pub fn current() -> Self {
        ToolInfo {
            name: env!("CARGO_PKG_NAME").to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit: option_env!("CLUSTERBENCH_GIT_COMMIT")
                .filter(|c| !c.is_empty())
                .map(str::to_string),
        }
    }
}

/// How the run was invoked and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunInfo {
    pub run_id: String,
    pub command_line: Vec<String>,
    /// RFC 3339, UTC.
    pub started_at: String,
    /// RFC 3339, UTC; absent while running.
    pub finished_at: Option<String>,
    pub status: RunStatus,
    /// The backend that ran the benchmarks (`cpu` or `cuda`).
    pub backend: String,
    /// Why that backend was chosen (e.g. a fall-back from CUDA).
    pub backend_note: Option<String>,
    pub suite: Option<String>,
    /// The resolved options of every benchmark.
    pub options: serde_json::Value,
    /// Why a run with status `aborted` stopped, when it stopped by an error or a fault
    /// it could name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort: Option<AbortInfo>,
}

/// Why a run was aborted: the reason in words, the ranks (and their hosts) that caused
/// it when they are known, and the step it was at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AbortInfo {
    pub reason: String,
    /// The ranks that went silent, never arrived or failed; empty when not known.
    #[serde(default)]
    pub culprits: Vec<Culprit>,
    /// The measurement under way (`allreduce 1 MiB float sum out-of-place`) and, where
    /// known, the operation it was stuck in (`operation 22 of 311`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
}

/// A rank named as the cause of an abort.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Culprit {
    pub rank: usize,
    pub host: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Still running (seen in the stream header).
    Running,
    /// Every measurement passed its check.
    Completed,
    /// Finished, but at least one measurement failed its check.
    CheckFailed,
    /// Stopped by an error before the end.
    Aborted,
    /// Stopped by SIGINT or SIGTERM after a measurement every rank finished; the
    /// records are those measured until then.
    Interrupted,
}

/// One measured point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// Benchmark name: `allreduce`, `membw`, `matmul`.
    pub benchmark: String,
    /// `cpu` or `cuda`.
    pub backend: String,
    /// Number of ranks that took part. A collective on one rank is a local copy (see
    /// `Record::is_local_copy`), measured out-of-place only.
    pub ranks: u32,
    /// Number of distinct hosts among them.
    pub nodes: u32,
    pub params: Params,
    /// Per-iteration time in seconds: for each iteration the slowest rank's time.
    pub time_s: Summary,
    /// The raw per-iteration times (seconds), in order.
    pub samples_s: Vec<f64>,
    /// Derived figures; `value` at the median time, `best` at the minimum time.
    pub metrics: Vec<Metric>,
    pub check: Check,
    /// Each node's part, when the record was measured on several nodes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_node: Vec<NodeTime>,
    /// How the samples were timed; absent in documents before schema version 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timing: Option<Timing>,
    /// Each rank's mean time per timed iteration, averaged over the ranks, in seconds:
    /// the statistic that OSU's tables ("Avg Latency") and nccl-tests' ("time") print.
    /// At or below the mean of `samples_s`, which take the slowest rank per iteration.
    /// Absent in imports and in documents before schema version 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank_mean_s: Option<f64>,
}

/// One node's part in a record measured on several nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeTime {
    pub host: String,
    /// Its ranks.
    pub ranks: Vec<u32>,
    /// Median over the timed iterations of the node's slowest rank's own time, seconds.
    pub median_s: f64,
    /// Far slower than the other nodes: at least 3 scaled MADs and 20% above the median
    /// node. Set only for benchmarks whose ranks work independently (memory bandwidth,
    /// matmul, GPU copies); in a collective or an exchange every rank waits for the
    /// others, so one slow node slows all alike and is never singled out here (use
    /// `links` for the network).
    pub slow: bool,
}

impl Record {
    pub fn metric(&self, name: &str) -> Option<&Metric> {
        self.metrics.iter().find(|m| m.name == name)
    }

    /// A collective on one rank: it moves data only within that rank's own memory (an
    /// out-of-place call is a local copy, an in-place one does nothing), so its figures
    /// say nothing about any interconnect. Such records are labelled `local copy` and
    /// kept out of models, latency charts and bandwidth verdicts.
    pub fn is_local_copy(&self) -> bool {
        self.ranks == 1 && matches!(self.params, Params::Collective { .. })
    }
}

/// What was measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Params {
    /// A collective over all ranks (nccl-tests conventions).
    Collective {
        dtype: DType,
        op: Option<ReduceOp>,
        in_place: bool,
        /// Elements as nccl-tests' `count` column prints them: a rank's buffer, the
        /// smaller of its two (all-gather: its input; reduce-scatter: its output;
        /// all-to-all: its block per peer). Documents of schema 3 and older written by
        /// clusterbench counted the larger buffer; they are read converted.
        count: u64,
        /// Message size as nccl-tests' `size` column prints it: bytes of the larger of
        /// a rank's buffers.
        bytes: u64,
    },
    /// A STREAM kernel on host memory; every rank runs it at once on its own cores.
    Stream {
        /// `copy`, `scale`, `add`, `triad` or `dot`.
        kernel: String,
        /// Bytes of one array per rank.
        array_bytes: u64,
        /// Elements (f64) of one array per rank.
        elements: u64,
        /// Threads per rank, one per core, pinned.
        threads: u32,
        /// Bytes counted per iteration over all ranks, as STREAM counts them.
        bytes_moved: u64,
    },
    /// A GPU copy (`gpumem`); every rank copies on its own GPU at once.
    Copy {
        /// `h2d_pinned`, `h2d_pageable`, `d2h_pinned`, `d2h_pageable`,
        /// `h2d_d2h_bidir`, `d2d_copy_engine`, `d2d_sm_copy`, `p2p`, `p2p_bidir`.
        copy: String,
        /// Bytes of one copy.
        bytes: u64,
        /// Bytes counted for the bandwidth: twice `bytes` for the bidirectional kinds.
        bytes_moved: u64,
        /// Source GPU of a peer copy.
        src_gpu: Option<u32>,
        /// Destination GPU of a peer copy.
        dst_gpu: Option<u32>,
        /// How a peer copy travelled between its GPUs; absent for the other copies
        /// (and in documents written before it was recorded).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        peer_path: Option<PeerPath>,
    },
    /// Messages between two ranks (`p2p`), or between two nodes' first ranks (`links`).
    PointToPoint {
        /// `latency` (ping-pong, half the round trip), `bandwidth` (a window of
        /// messages one way, then an acknowledgement) or `bidir` (windows both ways).
        mode: String,
        /// Bytes per message.
        bytes: u64,
        /// Messages in flight per iteration (1 for latency).
        window: u32,
        from: u32,
        to: u32,
        from_host: String,
        to_host: String,
    },
    /// C[m x n] = A[m x k] B[k x n]; every rank runs it at once.
    Matmul {
        dtype: DType,
        label: String,
        m: u64,
        n: u64,
        k: u64,
        /// Threads per rank.
        threads: u32,
        /// The GEMM library, its version and kernel (e.g. `gemm 0.19.0 (avx512f)`);
        /// absent where the backend does not say, and in results from before it was recorded.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        engine: Option<String>,
    },
}

/// A figure derived from the times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Metric {
    /// e.g. `algbw`, `busbw`, `bandwidth`, `tflops`.
    pub name: String,
    /// e.g. `GB/s` (1e9 bytes), `TFLOP/s`.
    pub unit: String,
    /// At the median time.
    pub value: f64,
    /// At the minimum time.
    pub best: f64,
}

/// The correctness check of one record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// False when checks were turned off (`-c 0`).
    pub performed: bool,
    pub passed: bool,
    /// Elements checked, over all ranks.
    pub checked: u64,
    /// Elements that differed from the expected value, over all ranks.
    pub wrong: u64,
    /// Largest error relative to its bound (matmul); <= 1 passes.
    pub max_error_ratio: Option<f64>,
    /// How the check was made.
    pub method: String,
}

impl Check {
    pub fn skipped() -> Self {
        Check {
            performed: false,
            passed: true,
            checked: 0,
            wrong: 0,
            max_error_ratio: None,
            method: "not checked (-c 0)".into(),
        }
    }
}

/// One line of the `.jsonl` stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
#[allow(clippy::large_enum_variant)]
pub enum StreamLine {
    Header {
        schema_version: u32,
        tool: ToolInfo,
        run: RunInfo,
        environment: Environment,
    },
    Record(Record),
    /// The link matrix, once every pair was measured.
    Links(links::LinkMatrix),
    Footer {
        finished_at: String,
        status: RunStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        abort: Option<AbortInfo>,
    },
}

/// The JSON Schema of [`RunDocument`], as published in harness/schema/.
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(RunDocument);
    serde_json::to_value(schema).expect("a generated schema is valid JSON")
}

/// Serialisable view of the options for the results document.
pub fn options_value(options: &impl Serialize) -> serde_json::Value {
    serde_json::to_value(options).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::environment::{HostInfo, MpiInfo, RankInfo};

    pub(super) fn sample_document() -> RunDocument {
        let samples = vec![2e-6, 1e-6, 3e-6];
        RunDocument {
            schema_version: SCHEMA_VERSION,
            tool: ToolInfo::current(),
            run: RunInfo {
                run_id: "20260101T000000.000Z-node1".into(),
                command_line: vec!["clusterbench".into(), "run".into()],
                started_at: "2026-01-01T00:00:00.000Z".into(),
                finished_at: Some("2026-01-01T00:00:01.000Z".into()),
                status: RunStatus::Completed,
                backend: "cpu".into(),
                backend_note: None,
                suite: Some("quick".into()),
                options: serde_json::json!({"benches": []}),
                abort: None,
            },
            environment: Environment {
                hosts: vec![HostInfo {
                    hostname: "node1".into(),
                    cpu_model: Some("CPU".into()),
                    sockets: 1,
                    cores: 2,
                    threads: 4,
                    numa_nodes: vec![],
                    caches: vec![],
                    memory_bytes: 1 << 30,
                    os: None,
                    kernel: None,
                    arch: "x86_64".into(),
                    instance_type: Some("p5.48xlarge".into()),
                    system_vendor: None,
                    topology_source: "test".into(),
                    gpus: vec![],
                    cuda: None,
                    nccl_tuning: None,
                }],
                ranks: vec![RankInfo {
                    rank: 0,
                    host: "node1".into(),
                    cpu_binding: Some("0-1".into()),
                    cores: 2,
                    pid: 1,
                    gpu: None,
                    gpus: Vec::new(),
                }],
                mpi: Some(MpiInfo {
                    library_version: "Open MPI v4.1".into(),
                    world_size: 1,
                }),
                collective_settings: None,
                nvlink_domain_size: None,
            },
            records: vec![Record {
                benchmark: "allreduce".into(),
                backend: "cpu".into(),
                ranks: 1,
                nodes: 1,
                params: Params::Collective {
                    dtype: DType::Float,
                    op: Some(ReduceOp::Sum),
                    in_place: false,
                    count: 2,
                    bytes: 8,
                },
                time_s: Summary::of(&samples).unwrap(),
                rank_mean_s: Summary::of(&samples).map(|s| s.mean),
                samples_s: samples,
                metrics: vec![Metric {
                    name: "algbw".into(),
                    unit: "GB/s".into(),
                    value: 0.004,
                    best: 0.008,
                }],
                check: Check::skipped(),
                per_node: Vec::new(),
                timing: None,
            }],
            links: None,
        }
    }

    #[test]
    fn document_round_trips_through_json() {
        let doc = sample_document();
        let text = serde_json::to_string(&doc).unwrap();
        let back: RunDocument = serde_json::from_str(&text).unwrap();
        assert_eq!(back, doc);
    }

    #[test]
    fn stream_lines_round_trip_and_are_tagged() {
        let doc = sample_document();
        let line = StreamLine::Record(doc.records[0].clone());
        let text = serde_json::to_string(&line).unwrap();
        assert!(text.starts_with(r#"{"type":"record""#), "{text}");
        assert_eq!(serde_json::from_str::<StreamLine>(&text).unwrap(), line);
    }

    #[test]
    fn generated_schema_accepts_a_document_and_rejects_a_broken_one() {
        let doc = serde_json::to_value(sample_document()).unwrap();
        let schema = json_schema();
        assert!(jsonschema::is_valid(&schema, &doc));
        let mut broken = doc.clone();
        broken["records"][0]["params"]["kind"] = serde_json::json!("teleport");
        assert!(!jsonschema::is_valid(&schema, &broken));
        let mut extra = doc;
        extra["records"][0]["surprise"] = serde_json::json!(1);
        assert!(!jsonschema::is_valid(&schema, &extra));
    }
}
