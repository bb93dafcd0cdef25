//! Command-line definitions (clap) only; validation lives in `options`.

use crate::core::BackendChoice;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "clusterbench",
    version,
    about = "Measures what GPU clusters really do: collectives, memory bandwidth and matmul, over MPI",
    long_about = "Measures what GPU clusters really do: collectives, memory bandwidth and matrix \
multiply, one process per rank under mpirun or srun, with CPU fallbacks on host memory and \
host MPI. Every result is checked for correctness and written to versioned JSON.\n\n\
Examples:\n  clusterbench run                          # default suite on the hardware present\n  \
clusterbench run --suite quick\n  \
mpirun -np 4 clusterbench run --bench allreduce -b 8 -e 16M -f 2 -d float -o sum\n  \
clusterbench env                          # print this machine's fingerprint"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a suite or chosen benchmarks and write the results.
    Run(Box<RunArgs>),
    /// Print the environment fingerprint (hosts, CPUs, caches, MPI, ranks) as JSON.
    Env,
    /// Print the JSON Schema of the results document.
    Schema,
    /// List the benchmarks and the built-in suites.
    List,
    /// Draw charts (PNG and SVG) from results files.
    #[command(
        long_about = "Draws charts from one or more results files, each as PNG and SVG: bus and \
    algorithm bandwidth and time against message size for every collective, small-message \
    latency against the number of ranks (for sizes one system measured at two or more rank \
    counts), point-to-point latency against message size (log-log), matmul TFLOP/s against \
    size, and memory bandwidth against array size. Series more than 100x apart get a log \
    axis. Several files go on the \
    same charts, one line per file and rank count. A `.jsonl` stream of a run that died \
    can be read too. `run` writes the charts of each run by itself, into \
    <output>/<run id>-charts/.\n\nExample:\n  clusterbench plot r/1rank.json r/2ranks.json -o charts"
    )]
    Plot(PlotArgs),
    /// Write results as flat rows, one per record, as CSV or JSON Lines.
    #[command(
        long_about = "Writes every record of the results given as one flat row: the file, run \
    id, tool, status, hosts and instance type; the benchmark, backend, ranks, nodes and every \
    parameter; the time statistics in seconds; every metric as `NAME (UNIT)`; and the check. \
    This is what pandas, spreadsheets and dashboards read. A directory stands for its results \
    files (.json, and the .jsonl of runs that died).\n\nExamples:\n  clusterbench export \
    --format csv clusterbench-results/ > results.csv\n  clusterbench export --format jsonl \
    a.json b.json -o rows.jsonl"
    )]
    Export(ExportArgs),
    /// Follow figures over many runs (baseline first): a table, charts and an HTML page.
    #[command(
        long_about = "Follows chosen figures over many runs: the committed baseline and any number of \
    later runs (files, or directories of them), in date order or in the order of the commits \
    the runs recorded. Prints a table (each figure in each run, its change from the baseline and \
    whether it lies outside the baseline's noise band: the 5th to 95th percentile of the \
    baseline's own samples), draws a chart per benchmark and figure (PNG and SVG) with that \
    band shaded, and with --html writes a one-file HTML page of both.\n\nBy default each \
    benchmark contributes its headline figure at a few sizes; --metric BENCH[:METRIC][@SIZE] \
    (repeatable) chooses, e.g. allreduce:busbw@64M, membw, matmul:tflops@512. METRIC is one \
    of the records' metrics or `time`.\n\nExample:\n  clusterbench trend \
    results/baselines/quick-cpu-2core.json ci-results/ -o trend --html trend.html"
    )]
    Trend(TrendArgs),
    /// Write a one-file HTML report (environment, tables, charts) from results files.
    #[command(
        long_about = "Writes one self-contained HTML file (inline CSS and SVG charts, nothing \
    fetched from a network, no script) with the environment of every run, a table per \
    benchmark and the charts. Give several results files to compare machines or instance \
    types side by side.\n\nExample:\n  clusterbench report a.json b.json -o report.html"
    )]
    Report(ReportArgs),
    /// Check the CUDA libraries without needing a GPU: compile every GPU kernel with
    /// NVRTC to a cubin for sm_80, sm_90 and sm_100 and to PTX (the fallback), and
    /// resolve every CUDA, cuBLAS and NCCL function clusterbench calls. Prints the
    /// driver's API level (its CUDA version, which picks the driver functions called),
    /// where each library was found and why that build, how the kernels load on the
    /// first GPU if there is one, and the datatypes the loaded NCCL's collectives take;
    /// exit 2 if a library is missing or built for a newer CUDA than the driver.
    #[command(name = "cuda-check")]
    CudaCheck,
    /// Measure latency and bandwidth between every pair of nodes (one rank per node),
    /// print the node x node matrix and flag the pairs and nodes far below the rest; on
    /// a single node, between every pair of ranks (on a GPU node, of GPUs).
    Links(Box<LinksArgs>),
    /// Compare a candidate run with a baseline: exit 1 on a regression.
    Compare(CompareArgs),
    /// Check measurements against vendor claims: exit 1 when a claim fails.
    Validate(ValidateArgs),
    /// Fit latency and bandwidth (alpha-beta) to each collective sweep.
    Model(ModelArgs),
    /// Predict all-reduce time at N ranks with ring, tree and hierarchical models.
    Predict(PredictArgs),
    /// Convert nccl-tests or OSU micro-benchmarks output into a results file.
    #[command(long_about = IMPORT_ABOUT)]
    Import(ImportArgs),
}

#[derive(Debug, Clone, Args)]
#[command(
    long_about = "Compares the records two results files have in common (same benchmark, backend, \
ranks, nodes and parameters: dtype, op, size, kernel, shape). For each, the change is the ratio \
of median times with a bootstrap confidence interval drawn from the raw samples (fixed seed: \
the same files always give the same answer). A record regresses only when the whole interval is \
slower than its threshold, so noise alone does not fail. A record with one sample on a side \
(most imported logs) has no spread: its point estimate alone is held against the threshold. A \
latency (ping-pong, OSU latency tests, sizes too small for a bandwidth) is shown in microseconds \
and regresses when it grows. A file from a run that died, was aborted or was interrupted is \
named as such.\n\n\
Exit codes: 0 no regression, 1 at least one regression, 2 unusable input (unreadable file, \
other schema version, nothing in common).\n\n\
Examples:\n  clusterbench compare results/baselines/quick-cpu-2core.json new.json\n  \
clusterbench compare base.json new.json --threshold 0.05 --threshold allreduce=0.25 --format markdown\n  \
clusterbench compare base.json new.json --normalize membw:copy"
)]
pub struct CompareArgs {
    /// The reference results file.
    pub baseline: PathBuf,
    /// The results file under test.
    pub candidate: PathBuf,
    /// Allowed slowdown as a fraction (0.1 = 10% more time), or NAME=FRACTION for one
    /// benchmark (allreduce=0.25) or metric (busbw=0.2). Repeat or separate by commas.
    #[arg(long, value_name = "SPEC", value_delimiter = ',')]
    pub threshold: Vec<String>,
    /// Confidence of the interval, in (0, 1).
    #[arg(long, default_value_t = 0.95, value_name = "P")]
    pub confidence: f64,
    /// Divide each run by a reference measured in the same run (BENCHMARK or
    /// BENCHMARK:VALUE, e.g. membw:copy): cancels a machine that is uniformly slower
    /// or faster, and also hides a slowdown that hits the reference as much.
    #[arg(long, value_name = "REF")]
    pub normalize: Option<String>,
    /// What fails: any regressed record, or a benchmark whose records together
    /// (geometric mean, with its own interval) regressed; the latter tolerates one
    /// flapping record on a noisy machine.
    #[arg(long, value_enum, default_value_t = crate::analysis::compare::Gate::Records)]
    pub gate: crate::analysis::compare::Gate,
    /// Output format.
    #[arg(long, value_enum, default_value_t = crate::render::grid::OutputFormat::Table)]
    pub format: crate::render::grid::OutputFormat,
    /// List every record found in only one of the files (by default one line counts them).
    #[arg(short, long)]
    pub verbose: bool,
}

#[derive(Debug, Clone, Args)]
#[command(
    long_about = "Prints measured against claimed for each vendor claim: the percentage of the \
claim and pass (at or above the achievable fraction), warn (within 10% below it) or fail. Claims \
with no measurement in the file say 'not measured'. With --claims auto (the default) the built-in \
claims files (harness/claims/) are picked by the instance type and GPU model recorded in the \
results.\n\nExit codes: 0 nothing failed, 1 a claim failed, 2 bad input or no claims file to \
check against, 3 no claim could be measured from these results.\n\n\
A network claim is tested by a multi-node all-reduce: under ring (NCCL_ALGO=Ring) the rate per node \
is busbw; under tree or other hierarchical algorithms it is busbw x (k-1)/(n-1) x GPUs per node, a \
lower bound. With the algorithm unrecorded both are shown and the claim warns at most.\n\n\
Examples:\n  clusterbench validate run.json\n  clusterbench validate run.json --explain\n  clusterbench validate run.json --claims harness/claims/aws-p5.toml --format markdown"
)]
pub struct ValidateArgs {
    /// The results file.
    pub results: PathBuf,
    /// A claims TOML file, or `auto` to pick built-in files by the detected hardware.
    /// Repeat to check several files.
    #[arg(long, value_name = "FILE|auto", default_value = "auto")]
    pub claims: Vec<String>,
    #[arg(long, value_enum, default_value_t = crate::render::grid::OutputFormat::Table)]
    pub format: crate::render::grid::OutputFormat,
    /// For each claim, print the records it used, the conversion applied, its source,
    /// and why it passed, warned or failed.
    #[arg(long)]
    pub explain: bool,
}

#[derive(Debug, Clone, Args)]
#[command(
    long_about = "Fits t(size) = alpha + size / beta to each collective sweep (per benchmark, \
dtype, op and rank count) by robust least squares on relative residuals, so small and \
large messages count alike and a few disturbed points do not pull the fit. Prints alpha \
(latency), beta (bandwidth of the per-rank buffer) and the fit quality.\n\n\
Example:\n  clusterbench model run-2ranks.json run-4ranks.json"
)]
pub struct ModelArgs {
    /// Results files.
    #[arg(required = true)]
    pub results: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = crate::render::grid::OutputFormat::Table)]
    pub format: crate::render::grid::OutputFormat,
}

#[derive(Debug, Clone, Args)]
#[command(
    long_about = "Predicts all-reduce time on N ranks with three cost models: ring (2(n-1) \
latency steps, bandwidth-optimal), tree (2 log2 n steps, whole buffer twice) and hierarchical \
(reduce-scatter in the node, ring across nodes on 1/g of the data, all-gather in the node), and \
says which wins at each size. The cluster comes from --topology FILE (TOML), from flags, or from \
--calibrate: all-reduce runs at two or more rank counts whose fits give the link's latency and \
bandwidth (runs on one node calibrate the intra-node link; runs with one rank per node the \
inter-node link).\n\n\
Topology TOML:\n  gpus_per_node = 8\n  switch_tiers = 2\n  switch_latency_us = 0.5\n  \
[intra]\n  latency_us = 3.0\n  bandwidth_gbps = 150.0\n  [inter]\n  latency_us = 15.0\n  bandwidth_gbps = 50.0\n\n\
Examples:\n  clusterbench predict --ranks 4096 --topology harness/topologies/h100-efa.toml\n  \
clusterbench predict --ranks 8 --gpus-per-node 1 --calibrate r2.json r4.json"
)]
pub struct PredictArgs {
    /// Ranks (GPUs) to predict for.
    #[arg(long, value_name = "N")]
    pub ranks: u64,
    /// Topology TOML file.
    #[arg(long, value_name = "FILE")]
    pub topology: Option<PathBuf>,
    /// Ranks per node.
    #[arg(long, value_name = "G")]
    pub gpus_per_node: Option<u32>,
    /// Intra-node latency, microseconds.
    #[arg(long, value_name = "US")]
    pub intra_latency: Option<f64>,
    /// Intra-node bandwidth per rank, GB/s.
    #[arg(long, value_name = "GBPS")]
    pub intra_bw: Option<f64>,
    /// Inter-node latency, microseconds.
    #[arg(long, value_name = "US")]
    pub inter_latency: Option<f64>,
    /// Inter-node bandwidth per rank, GB/s.
    #[arg(long, value_name = "GBPS")]
    pub inter_bw: Option<f64>,
    /// Switch tiers between nodes.
    #[arg(long, value_name = "T")]
    pub switch_tiers: Option<u32>,
    /// Latency of one switch hop, microseconds.
    #[arg(long, value_name = "US")]
    pub switch_latency: Option<f64>,
    /// Results files of all-reduce sweeps at two or more rank counts to calibrate from.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub calibrate: Vec<PathBuf>,
    /// Smallest size (bytes per rank buffer, nccl-tests 'size').
    #[arg(
        short = 'b',
        long = "minbytes",
        default_value = "8",
        value_name = "SIZE"
    )]
    pub minbytes: String,
    /// Largest size.
    #[arg(
        short = 'e',
        long = "maxbytes",
        default_value = "1G",
        value_name = "SIZE"
    )]
    pub maxbytes: String,
    /// Factor between sizes.
    #[arg(
        short = 'f',
        long = "stepfactor",
        default_value_t = 4,
        value_name = "N"
    )]
    pub stepfactor: u64,
    #[arg(long, value_enum, default_value_t = crate::render::grid::OutputFormat::Table)]
    pub format: crate::render::grid::OutputFormat,
}

/// The long help of `import`.
const IMPORT_ABOUT: &str =
    "Reads the output of nccl-tests (the text table or its -J JSON) or of an OSU \
micro-benchmarks test (collectives: osu_allreduce, osu_alltoall, osu_bcast, ...; the NCCL/xCCL builds too) and writes a clusterbench results \
file, so that compare, model and validate work on it. The document's 'tool' names the program \
that measured. Rows of datatypes the schema has no name for (int8, uint8, uint32, uint64) are skipped \
and listed in the run note.\n\n\
OSU point-to-point logs (osu_latency, osu_latency_mp, osu_bw, osu_bibw, also their -CUDA \
builds) become 'p2p' records like those of 'clusterbench run --bench p2p': latency is OSU's \
one-way time (half the round trip), bandwidth is converted from MB/s to GB/s (1e9 bytes). \
They ran on 2 ranks; the log names no hosts, so pass --hosts (and --nodes) for the records \
to match a clusterbench p2p run on the same machines in 'compare'.\n\n\
Examples:\n  clusterbench import all_reduce_perf.log -o nccl.json --instance-type p5.48xlarge\n  \
clusterbench import osu_allreduce.out --ranks 64 --nodes 2 -o osu.json\n  \
clusterbench import osu_latency.out --hosts node1,node2 --nodes 2 -o osu-lat.json";

#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// The log file.
    pub file: PathBuf,
    #[arg(long, value_enum, default_value_t = crate::import::Format::Auto)]
    pub format: crate::import::Format,
    /// Where to write the results (default: standard output).
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Ranks that ran: overrides what the log shows (nccl-tests' device list, or the
    /// mpirun/srun line before an OSU test). Needed for an OSU collective log that
    /// carries no launch line; OSU point-to-point tests run on 2.
    #[arg(long, value_name = "N")]
    pub ranks: Option<u32>,
    /// Nodes they ran on (default: hosts named in the log, else 1).
    #[arg(long, value_name = "N")]
    pub nodes: Option<u32>,
    /// Instance type to record (lets `validate` pick claims).
    #[arg(long, value_name = "TYPE")]
    pub instance_type: Option<String>,
    /// Collective name when the log does not say (e.g. all_reduce_perf).
    #[arg(long, value_name = "NAME")]
    pub collective: Option<String>,
    /// Hosts of the two ranks of an OSU point-to-point log, e.g. node1,node2 (one
    /// name: both ranks on it). Default: recorded as unknown.
    #[arg(long, value_name = "HOST[,HOST]", value_delimiter = ',')]
    pub hosts: Vec<String>,
    /// Messages per window of an OSU osu_bw/osu_bibw log, if -W changed it (default 64).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub window: Option<u32>,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Built-in suite name (see `clusterbench list`) or path to a suite TOML file.
    /// Without --suite and --bench the `standard` suite runs.
    #[arg(long, value_name = "NAME|FILE")]
    pub suite: Option<String>,

    /// Comma-separated benchmarks to run (see `clusterbench list`: allreduce, allgather,
    /// reducescatter, broadcast, alltoall, p2p, links, membw, matmul). With --suite,
    /// picks those benchmarks out of the suite.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub bench: Vec<String>,

    /// Smallest message size for collectives (e.g. 8, 64K, 1M; K = 1024).
    #[arg(short = 'b', long = "minbytes", value_name = "SIZE")]
    pub minbytes: Option<String>,

    /// Largest message size for collectives.
    #[arg(short = 'e', long = "maxbytes", value_name = "SIZE")]
    pub maxbytes: Option<String>,

    /// Multiplication factor between sizes (an integer >= 2).
    #[arg(short = 'f', long = "stepfactor", value_name = "N")]
    pub stepfactor: Option<u64>,

    /// Timed iterations per measurement.
    #[arg(short = 'n', long = "iters", value_name = "N")]
    pub iters: Option<u32>,

    /// Warm-up iterations before timing.
    #[arg(
        short = 'w',
        long = "warmup_iters",
        alias = "warmup-iters",
        value_name = "N"
    )]
    pub warmup_iters: Option<u32>,

    /// Check results for correctness: 1 (default) or 0.
    #[arg(short = 'c', long = "check", value_name = "0|1")]
    pub check: Option<u8>,

    /// Comma-separated datatypes: float, double, int32, int64 (or f32, f64, i32, i64), or all
    /// (those four). On GPUs also fp16, bf16 and fp8e4m3 (matmul and NCCL collectives),
    /// tf32 (matmul) and fp8e5m2 (NCCL collectives).
    #[arg(
        short = 'd',
        long = "datatype",
        value_name = "LIST",
        value_delimiter = ','
    )]
    pub datatype: Vec<String>,

    /// Comma-separated reduction ops: sum, prod, min, max, band, bor, bxor, or all.
    #[arg(short = 'o', long = "op", value_name = "LIST", value_delimiter = ',')]
    pub op: Vec<String>,

    /// Square matmul sizes, comma-separated (e.g. 256,512,1024).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub sizes: Vec<String>,

    /// Extra matmul shapes MxNxK, optionally labelled: mlp_up:1024x4096x1024.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub shapes: Vec<String>,

    /// matmul: around each square size of --sizes, search for the shape with the highest
    /// TFLOP/s (sizes and then inner dimensions in steps of 64-256) and measure the best
    /// one fully, checked, as `search_best`: the maximum achievable FLOPS.
    #[arg(long)]
    pub search: bool,

    /// Bytes per array for membw (default: 4x the last-level caches, on a GPU its L2,
    /// at least 64 MiB) and per copy for gpumem (default: 4x the L2, at least 512 MiB).
    #[arg(long = "array-size", value_name = "SIZE")]
    pub array_size: Option<String>,

    /// Directory for the results (.jsonl streamed while running, .json at the end).
    #[arg(long, value_name = "DIR", default_value = "clusterbench-results")]
    pub output: PathBuf,

    /// GPU collectives: capture N calls in one CUDA graph and time its replays (the time
    /// per call is a replay's time / N), as nccl-tests' -G does. CUDA backend only.
    #[arg(long = "cuda-graph", value_name = "N")]
    pub cuda_graph: Option<u32>,

    /// Which hardware runs the benchmarks.
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,

    /// GPUs driven by each process, as nccl-tests' -g: process r drives N consecutive
    /// devices of its node from local rank x N, and each NCCL collective runs over all
    /// of them (size x N GPU ranks). NCCL collectives only (allreduce, allgather,
    /// reducescatter, broadcast, alltoall); CUDA backend only. Default 1: one GPU per
    /// process, chosen by the process's local rank.
    #[arg(
        short = 'g',
        long = "gpus-per-rank",
        value_name = "N",
        default_value_t = 1
    )]
    pub gpus_per_rank: usize,

    /// Print no progress and no tables (results are still written).
    #[arg(short = 'q', long)]
    pub quiet: bool,

    /// Print what the run would measure (every benchmark with its sizes, datatypes,
    /// shapes and iterations) after the same checks of the flags, and exit: nothing is
    /// measured or written, and neither CUDA nor MPI is started.
    #[arg(long = "dry-run")]
    pub dry_run: bool,

    /// Seconds one measurement may take before the watchdog ends the job, naming the
    /// benchmark, the size and the ranks that never arrived (0 = no watchdog).
    #[arg(long, value_name = "SECONDS", default_value_t = 300.0)]
    pub timeout: f64,

    /// The two ranks of the point-to-point benchmark (`p2p`), e.g. 0,7.
    #[arg(long, value_name = "A,B", value_delimiter = ',')]
    pub peers: Vec<usize>,

    /// Messages in flight per iteration of the p2p and links bandwidth tests (as OSU's
    /// window); fewer for large messages, so that a window stays within 64 MiB.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub window: usize,

    /// Test-only: this rank stalls before its second measurement, for the watchdog tests.
    #[arg(long = "debug-stall-rank", hide = true, value_name = "RANK")]
    pub debug_stall_rank: Option<usize>,

    /// Test-only: this rank comes late to its second measurement (by the timeout and
    /// 2 s, well within a stalled rank's stall), for the watchdog tests.
    #[arg(long = "debug-late-rank", hide = true, value_name = "RANK")]
    pub debug_late_rank: Option<usize>,

    /// Test-only: corrupt one input element on this rank to prove that checks catch it.
    #[arg(long = "debug-corrupt-rank", hide = true, value_name = "RANK")]
    pub debug_corrupt_rank: Option<usize>,

    /// Test-only: make every timed iteration FACTOR times slower (busy-waiting) to prove
    /// that `compare` catches a slowdown.
    #[arg(long = "debug-slowdown", hide = true, value_name = "FACTOR")]
    pub debug_slowdown: Option<f64>,
    /// Test-only: apply --debug-slowdown on this rank alone (a slow node).
    #[arg(
        long = "debug-slow-rank",
        hide = true,
        value_name = "RANK",
        requires = "debug_slowdown"
    )]
    pub debug_slow_rank: Option<usize>,
    /// Test-only: this rank waits before each send of the links latency test (a node
    /// whose link adds latency).
    #[arg(long = "debug-latency-rank", hide = true, value_name = "RANK")]
    pub debug_latency_rank: Option<usize>,
}

#[derive(Debug, Clone, Args)]
pub struct PlotArgs {
    /// Results files (.json, or the .jsonl stream of a run).
    #[arg(required = true, value_name = "RESULTS")]
    pub results: Vec<PathBuf>,

    /// Directory the charts are written to.
    #[arg(
        short = 'o',
        long,
        value_name = "DIR",
        default_value = "clusterbench-charts"
    )]
    pub output: PathBuf,
}

/// The order of the runs on a trend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TrendOrder {
    /// By the time each run started.
    Date,
    /// By the commit each run recorded, in the history of the git repository here.
    Commit,
}

#[derive(Debug, Clone, Args)]
pub struct TrendArgs {
    /// Results files (.json or .jsonl) or directories holding them.
    #[arg(required = true, value_name = "RESULTS")]
    pub results: Vec<PathBuf>,

    /// The run the others are measured against (default: the first in order).
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,

    /// A figure to follow, BENCH[:METRIC][@SIZE]; repeatable (default: each
    /// benchmark's headline figure at a few sizes).
    #[arg(long = "metric", value_name = "BENCH[:METRIC][@SIZE]")]
    pub metric: Vec<String>,

    /// How the runs are ordered.
    #[arg(long, value_enum, default_value_t = TrendOrder::Date)]
    pub order: TrendOrder,

    /// Directory the charts are written to.
    #[arg(
        short = 'o',
        long,
        value_name = "DIR",
        default_value = "clusterbench-trend"
    )]
    pub output: PathBuf,

    /// Also write a one-file HTML page with the charts and tables.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// Output format of the table.
    #[arg(long, value_enum, default_value_t = crate::render::grid::OutputFormat::Table)]
    pub format: crate::render::grid::OutputFormat,
}

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Results files (.json, or the .jsonl stream of a run).
    #[arg(required = true, value_name = "RESULTS")]
    pub results: Vec<PathBuf>,

    /// The HTML file to write.
    #[arg(
        short = 'o',
        long,
        value_name = "FILE",
        default_value = "clusterbench-report.html"
    )]
    pub output: PathBuf,
}

/// `clusterbench export`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExportArgs {
    /// Results files (.json, or the .jsonl stream of a run), or directories of them.
    #[arg(required = true, value_name = "RESULTS")]
    pub results: Vec<PathBuf>,

    /// Row format.
    #[arg(long, value_enum, default_value_t = crate::render::export::ExportFormat::Csv)]
    pub format: crate::render::export::ExportFormat,

    /// Where to write the rows (default: standard output).
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `clusterbench links`: its own options, turned into a run of the `links` benchmark.
#[derive(Debug, Clone, clap::Args)]
pub struct LinksArgs {
    /// Bytes per latency message.
    #[arg(long = "latency-size", value_name = "SIZE", default_value = "8")]
    pub latency_size: String,
    /// Bytes per bandwidth message.
    #[arg(long = "bandwidth-size", value_name = "SIZE", default_value = "1M")]
    pub bandwidth_size: String,
    /// Timed iterations per measurement.
    #[arg(short = 'n', long = "iters", value_name = "N")]
    pub iters: Option<u32>,
    /// Warm-up iterations before timing.
    #[arg(
        short = 'w',
        long = "warmup_iters",
        alias = "warmup-iters",
        value_name = "N"
    )]
    pub warmup_iters: Option<u32>,
    /// Check every received byte: 1 (default) or 0.
    #[arg(short = 'c', long = "check", value_name = "0|1")]
    pub check: Option<u8>,
    /// Messages in flight per bandwidth iteration (as OSU's window); fewer for large
    /// messages, so that a window stays within 64 MiB.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub window: usize,
    /// Directory for the results (.jsonl streamed while running, .json at the end).
    #[arg(long, value_name = "DIR", default_value = "clusterbench-results")]
    pub output: PathBuf,
    /// Which hardware runs the benchmarks.
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,
    /// Print no progress and no matrix (results are still written).
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Print what would be measured after the same checks of the flags, and exit.
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// Seconds one measurement may take before the watchdog ends the job (0 = none).
    #[arg(long, value_name = "SECONDS", default_value_t = 300.0)]
    pub timeout: f64,
    /// Test-only: corrupt what this rank sends, to prove that checks catch it.
    #[arg(long = "debug-corrupt-rank", hide = true, value_name = "RANK")]
    pub debug_corrupt_rank: Option<usize>,
    /// Test-only: this rank stalls before its second measurement.
    #[arg(long = "debug-stall-rank", hide = true, value_name = "RANK")]
    pub debug_stall_rank: Option<usize>,
    /// Test-only: this rank waits before each send of the latency test (a node whose
    /// link adds latency).
    #[arg(long = "debug-latency-rank", hide = true, value_name = "RANK")]
    pub debug_latency_rank: Option<usize>,
}

impl LinksArgs {
    /// The equivalent `run --bench links` arguments.
    pub fn run_args(&self) -> RunArgs {
        use clap::FromArgMatches;
        // `run`'s own defaults, from its definition, for everything links does not take.
        let defaults = RunArgs::augment_args(clap::Command::new("run")).get_matches_from(["run"]);
        let mut args = RunArgs::from_arg_matches(&defaults)
            .expect("run's arguments parse from their defaults alone");
        args.bench = vec!["links".into()];
        args.minbytes = Some(self.latency_size.clone());
        args.maxbytes = Some(self.bandwidth_size.clone());
        args.iters = self.iters;
        args.warmup_iters = self.warmup_iters;
        args.check = self.check;
        args.window = self.window;
        args.output = self.output.clone();
        args.backend = self.backend;
        args.quiet = self.quiet;
        args.dry_run = self.dry_run;
        args.timeout = self.timeout;
        args.debug_corrupt_rank = self.debug_corrupt_rank;
        args.debug_stall_rank = self.debug_stall_rank;
        args.debug_latency_rank = self.debug_latency_rank;
        args
    }
}
