//! The arguments of the commands that read results files: compare, validate, model,
//! predict, import, plot, trend, report and export.

use clap::Args;
use std::path::PathBuf;

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
lower bound. With the algorithm unrecorded both are shown and the claim warns at most. An \
all-reduce whose GPUs all sit in one NVLink domain (NVML fabric info, or --nvlink-domain-size) \
tests the NVLink claims instead, however many nodes it spans (GB200/GB300 NVL72).\n\n\
Claims against other hardware (\"up to 35% lower latency than P5\") are checked with \
--relative-to BASELINE.json, a run on that hardware: the ratio of the two figures against the \
claimed one.\n\n\
Examples:\n  clusterbench validate run.json\n  clusterbench validate run.json --explain\n  clusterbench validate p5en.json --relative-to p5.json\n  clusterbench validate run.json --claims harness/claims/aws-p5.toml --format markdown"
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
    /// GPUs per NVLink domain (consecutive GPU ranks share one), for results that do
    /// not record it or record it wrongly: an all-reduce inside one domain is scored
    /// against the NVLink claims even across nodes, one that crosses domains against
    /// the network claims.
    #[arg(long = "nvlink-domain-size", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub nvlink_domain_size: Option<u32>,
    /// A results file from the hardware the claims compare against ("up to 35% lower
    /// latency than P5"): the claims files' relative claims are checked as the ratio
    /// of this run's figure to that one's.
    #[arg(long = "relative-to", value_name = "RESULTS")]
    pub relative_to: Option<PathBuf>,
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
pub(super) const IMPORT_ABOUT: &str =
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
