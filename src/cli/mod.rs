//! Command-line definitions (clap) only; validation lives in `options`.

use crate::core::BackendChoice;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

mod accept;
mod results;
pub use accept::AcceptArgs;
pub use results::*;

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
    /// Accept or reject a cluster node by node: environment, memory bandwidth and
    /// matmul, intra-node, network-only and full all-reduce, the links matrix and the
    /// claims, each node ending pass, monitor, isolate or reset with its evidence; exit 1
    /// when a node must be isolated or reset.
    #[command(long_about = crate::cli::accept::ACCEPT_ABOUT)]
    Accept(Box<AcceptArgs>),
    /// Compare a candidate run with a baseline: exit 1 on a regression.
    Compare(CompareArgs),
    /// Check measurements against vendor claims: exit 1 when a claim fails.
    Validate(ValidateArgs),
    /// Fit latency and bandwidth (alpha-beta) to each collective sweep.
    Model(ModelArgs),
    /// Predict all-reduce time at N ranks with ring, tree and hierarchical models.
    Predict(PredictArgs),
    /// Convert nccl-tests or OSU micro-benchmarks output into a results file.
    #[command(long_about = results::IMPORT_ABOUT)]
    Import(ImportArgs),
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

    /// Square matmul sizes, comma-separated (e.g. 256,512,1024). On the CPU, OpenBLAS
    /// computes where it is installed and has kernels for this CPU, else the built-in
    /// `gemm` crate; CLUSTERBENCH_CPU_GEMM=gemm or =openblas forces one.
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

    /// GPUs per NVLink domain, recorded with the results: consecutive GPU ranks share
    /// a domain (72 on a GB200/GB300 NVL72 UltraServer, 8 on an HGX node). `validate`
    /// then scores an all-reduce inside one domain against the NVLink claims even
    /// across nodes, and one that crosses domains against the network claims. GPUs
    /// whose driver reports their NVLink fabric are recorded without it.
    #[arg(long = "nvlink-domain-size", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub nvlink_domain_size: Option<u32>,

    /// Print no progress and no tables (results are still written, and their path is
    /// still printed on standard error).
    #[arg(short = 'q', long)]
    pub quiet: bool,

    /// Print the results document on standard output at the end, instead of the
    /// tables (the files are written too), for notebooks and scripts.
    #[arg(long)]
    pub json: bool,

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
