//! `clusterbench accept`'s arguments.

use crate::core::BackendChoice;
use std::path::PathBuf;

/// `clusterbench accept`: the acceptance sequence, node by node.
#[derive(Debug, Clone, clap::Args)]
pub struct AcceptArgs {
    /// Judge the measurements against the built-in claims file of this instance type or
    /// GPU (e.g. p5.48xlarge, aws-p5, gpu-h100-sxm); without it and --claims, the claims
    /// file matching the hardware found, if one does.
    #[arg(long = "instance-type", value_name = "TYPE", conflicts_with = "claims")]
    pub instance_type: Option<String>,
    /// Judge the measurements against this claims file (TOML, as `validate --claims`).
    #[arg(long, value_name = "FILE")]
    pub claims: Option<PathBuf>,
    /// The short plan: fewer sizes and iterations, sized to end within 10 minutes at
    /// 2-64 nodes of 8 GPUs (the default plan: within 30).
    #[arg(long)]
    pub quick: bool,
    /// Directory for the verdict file, the HTML report and every step's results.
    #[arg(long, value_name = "DIR", default_value = "clusterbench-results")]
    pub output: PathBuf,
    /// Which hardware runs the benchmarks.
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,
    /// Seconds one measurement may take before the watchdog ends the job (0 = none); a
    /// rank whose process stops answering for this long is taken for hung.
    #[arg(long, value_name = "SECONDS", default_value_t = 300.0)]
    pub timeout: f64,
    /// Timed iterations per measurement, instead of the plan's.
    #[arg(short = 'n', long = "iters", value_name = "N")]
    pub iters: Option<u32>,
    /// Largest all-reduce message, instead of the plan's (e.g. 64M).
    #[arg(short = 'e', long = "maxbytes", value_name = "SIZE")]
    pub maxbytes: Option<String>,
    /// Bytes per membw array, instead of the plan's (the caches' size rule).
    #[arg(long = "array-size", value_name = "SIZE")]
    pub array_size: Option<String>,
    /// Square matmul sizes, comma-separated, instead of the plan's.
    #[arg(long = "matmul-sizes", value_name = "LIST", value_delimiter = ',')]
    pub matmul_sizes: Vec<String>,
    /// Bytes per links bandwidth message, instead of the plan's.
    #[arg(long = "bandwidth-size", value_name = "SIZE")]
    pub bandwidth_size: Option<String>,
    /// Test-only: make every timed iteration of this rank FACTOR times slower.
    #[arg(long = "debug-slowdown", hide = true, value_name = "FACTOR")]
    pub debug_slowdown: Option<f64>,
    /// Test-only: the rank that --debug-slowdown slows.
    #[arg(
        long = "debug-slow-rank",
        hide = true,
        value_name = "RANK",
        requires = "debug_slowdown"
    )]
    pub debug_slow_rank: Option<usize>,
}

pub const ACCEPT_ABOUT: &str = "Runs the acceptance sequence under mpirun or srun, one rank \
per GPU (or per socket on CPU nodes), and gives every node a verdict: pass, monitor (below \
the claim but in line with its peers), isolate (a failed check, a crash, a hang, or far \
below its peers) or reset (a GPU or NIC missing, drivers or libraries unlike its peers'), \
each with its reasons and the records behind them.\n\nThe steps, in order: 1 environment \
and topology alike on every node; 2 memory bandwidth and matmul on every node at once; 3 the \
all-reduce within each node; 4 the network-only all-reduce (one rank per node); 5 the full \
all-reduce sweep; 6 the links matrix; 7 the claims.\n\nWrites <output>/accept-<id>.json \
(the verdicts with every step's results) and accept-<id>.html (opening with the verdict \
table), prints the nodes to take out and an `scontrol update ... state=drain` line to \
copy (never run). Exit 0 when every node passes or is to be monitored, 1 when any must be \
isolated or reset, 2 on usage errors.\n\nExamples:\n  mpirun -np 16 --map-by ppr:8:node \
clusterbench accept --instance-type p5.48xlarge --quick\n  srun --ntasks-per-node=8 \
clusterbench accept --claims harness/claims/gpu-h100-sxm.toml";
