//! Command-line definitions (clap) only; validation lives in `options`.

use clap::{Args, Parser, Subcommand, ValueEnum};
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
    latency against the number of ranks (given runs with different rank counts), matmul \
    TFLOP/s against size, and memory bandwidth against array size. Several files go on the \
    same charts, one line per file and rank count. A `.jsonl` stream of a run that died \
    can be read too. `run` writes the charts of each run by itself, into \
    <output>/<run id>-charts/.\n\nExample:\n  clusterbench plot r/1rank.json r/2ranks.json -o charts"
    )]
    Plot(PlotArgs),
    /// Write a one-file HTML report (environment, tables, charts) from results files.
    #[command(
        long_about = "Writes one self-contained HTML file (inline CSS and SVG charts, nothing \
    fetched from a network, no script) with the environment of every run, a table per \
    benchmark and the charts. Give several results files to compare machines or instance \
    types side by side.\n\nExample:\n  clusterbench report a.json b.json -o report.html"
    )]
    Report(ReportArgs),
    /// Check the CUDA libraries without needing a GPU: compile every GPU kernel to PTX
    /// with NVRTC and resolve every CUDA, cuBLAS and NCCL function clusterbench calls.
    /// Prints where each library was found; exit 2 if one is missing.
    #[command(name = "cuda-check")]
    CudaCheck,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// The best backend present: CUDA when a driver and a device are found, else CPU.
    Auto,
    /// Host memory and host MPI.
    Cpu,
    /// NVIDIA GPUs through CUDA, cuBLAS and NCCL.
    Cuda,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Built-in suite name (see `clusterbench list`) or path to a suite TOML file.
    /// Without --suite and --bench the `standard` suite runs.
    #[arg(long, value_name = "NAME|FILE")]
    pub suite: Option<String>,

    /// Comma-separated benchmarks to run (allreduce, membw, matmul). With --suite, picks
    /// those benchmarks out of the suite.
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

    /// Comma-separated datatypes: float, double, int32, int64 (or f32, f64, i32, i64), or all.
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

    /// Bytes per array for membw (default: 4x the last-level caches, at least 64 MiB).
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

    /// Print no progress and no tables (results are still written).
    #[arg(short = 'q', long)]
    pub quiet: bool,

    /// Test-only: corrupt one input element on this rank to prove that checks catch it.
    #[arg(long = "debug-corrupt-rank", hide = true, value_name = "RANK")]
    pub debug_corrupt_rank: Option<usize>,
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
