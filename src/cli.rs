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
    /// Measure latency and bandwidth between every pair of nodes (one rank per node),
    /// print the node x node matrix and flag the pairs and nodes far below the rest.
    Links(Box<crate::bench::links::LinksArgs>),
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

    /// Bytes per array for membw (default: 4x the last-level caches, at least 64 MiB).
    #[arg(long = "array-size", value_name = "SIZE")]
    pub array_size: Option<String>,

    /// Directory for the results (.jsonl streamed while running, .json at the end).
    #[arg(long, value_name = "DIR", default_value = "clusterbench-results")]
    pub output: PathBuf,

    /// Which hardware runs the benchmarks.
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,

    /// Print no progress and no tables (results are still written).
    #[arg(short = 'q', long)]
    pub quiet: bool,

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

    /// Test-only: corrupt one input element on this rank to prove that checks catch it.
    #[arg(long = "debug-corrupt-rank", hide = true, value_name = "RANK")]
    pub debug_corrupt_rank: Option<usize>,
}
