//! Several GPUs driven by one process (`-g N`, as nccl-tests' `-g`): which devices a
//! process drives, how its GPUs are numbered in the NCCL communicator, and which runs
//! may ask for more than one. Pure arithmetic, shared by builds with and without CUDA.

use crate::cli::{BackendChoice, RunArgs};
use crate::error::UsageError;
use std::ops::Range;

/// The benchmarks that run over every GPU of a process with `-g N > 1`: the NCCL
/// collectives. The others (p2p, links, matmul, gpumem, membw) measure one device or
/// one process pair and are refused with `-g N > 1` rather than silently measuring a
/// part of what was asked.
pub const MULTI_GPU_BENCHES: [&str; 5] = [
    "allreduce",
    "allgather",
    "reducescatter",
    "broadcast",
    "alltoall",
];

/// Checks `-g` against the rest of the command line; returns the GPUs per process.
/// `benches`: the benchmarks the run would measure.
pub fn validate(args: &RunArgs, benches: &[&str]) -> Result<usize, UsageError> {
    let n = args.gpus_per_rank;
    if n == 0 {
        return Err(UsageError::new(
            "-g/--gpus-per-rank takes the number of GPUs each process drives, at least 1",
        ));
    }
    if n == 1 {
        return Ok(1);
    }
    if args.backend == BackendChoice::Cpu {
        return Err(UsageError::new(format!(
            "-g needs the CUDA backend: -g {n} drives {n} GPUs per process through NCCL, and --backend cpu has none"
        )));
    }
    if args.cuda_graph.is_some() {
        return Err(UsageError::new(format!(
            "--cuda-graph is not supported with -g {n}; time CUDA graphs with one GPU per process (-g 1)"
        )));
    }
    let refused: Vec<&str> = benches
        .iter()
        .copied()
        .filter(|b| !MULTI_GPU_BENCHES.contains(b))
        .collect();
    if !refused.is_empty() {
        return Err(UsageError::new(format!(
            "-g {n} is for the NCCL collectives ({}), not for {}, which measure one GPU or one pair of processes: run {} without -g",
            MULTI_GPU_BENCHES.join(", "),
            refused.join(", "),
            if refused.len() == 1 { "it" } else { "them" }
        )));
    }
    Ok(n)
}

/// This process's rank on its node, from the launcher (0 when none says).
pub fn launcher_local_rank() -> usize {
    [
        "OMPI_COMM_WORLD_LOCAL_RANK",
        "MPI_LOCALRANKID",
        "SLURM_LOCALID",
        "PMI_LOCAL_RANK",
        "LOCAL_RANK",
    ]
    .iter()
    .find_map(|v| std::env::var(v).ok()?.parse::<usize>().ok())
    .unwrap_or(0)
}

/// The CUDA device ordinals a process drives: `per_rank` consecutive devices from
/// `local_rank * per_rank`, as nccl-tests assigns them. With one GPU per process the
/// local rank wraps around the devices visible (several processes may share a GPU, and
/// one rank per GPU needs no per-rank `CUDA_VISIBLE_DEVICES`); with several, the
/// devices must exist: sharing them between processes would measure contention, not
/// the GPUs.
pub fn device_range(
    local_rank: usize,
    per_rank: usize,
    visible: usize,
) -> Result<Range<usize>, String> {
    if visible == 0 {
        return Err("no CUDA device is visible".into());
    }
    if per_rank <= 1 {
        let d = local_rank % visible;
        return Ok(d..d + 1);
    }
    if per_rank > visible {
        return Err(format!(
            "-g {per_rank}: this process sees {visible} CUDA device{} (CUDA_VISIBLE_DEVICES and the node's GPUs decide)",
            if visible == 1 { "" } else { "s" }
        ));
    }
    let first = local_rank * per_rank;
    let end = first + per_rank;
    if end > visible {
        return Err(format!(
            "-g {per_rank}: local rank {local_rank} would drive devices {first}-{} but this process sees {visible}; processes per node x -g must not exceed the GPUs per node",
            end - 1
        ));
    }
    Ok(first..end)
}

/// The NCCL rank of GPU `device` (0-based within the process) of process `rank`, and
/// the size of the communicator, when every process drives `per_rank` GPUs.
pub fn nccl_rank(rank: usize, size: usize, per_rank: usize, device: usize) -> (usize, usize) {
    (rank * per_rank + device, size * per_rank)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn one_gpu_per_process_wraps_around_the_devices() {
        assert_eq!(device_range(0, 1, 8), Ok(0..1));
        assert_eq!(device_range(7, 1, 8), Ok(7..8));
        assert_eq!(device_range(9, 1, 8), Ok(1..2));
        assert!(device_range(0, 1, 0).is_err());
    }

    #[test]
    fn several_gpus_per_process_take_consecutive_blocks() {
        assert_eq!(device_range(0, 4, 8), Ok(0..4));
        assert_eq!(device_range(1, 4, 8), Ok(4..8));
        assert_eq!(device_range(3, 2, 8), Ok(6..8));
        assert_eq!(device_range(0, 8, 8), Ok(0..8));
        let e = device_range(2, 4, 8).unwrap_err();
        assert!(
            e.contains("local rank 2") && e.contains("devices 8-11"),
            "{e}"
        );
        let e = device_range(0, 4, 2).unwrap_err();
        assert!(
            e.contains("-g 4") && e.contains("sees 2 CUDA devices"),
            "{e}"
        );
    }

    #[test]
    fn nccl_ranks_number_gpus_process_by_process() {
        assert_eq!(nccl_rank(0, 2, 4, 0), (0, 8));
        assert_eq!(nccl_rank(0, 2, 4, 3), (3, 8));
        assert_eq!(nccl_rank(1, 2, 4, 0), (4, 8));
        assert_eq!(nccl_rank(1, 2, 4, 3), (7, 8));
        assert_eq!(nccl_rank(3, 4, 1, 0), (3, 4));
        // Every GPU of the job gets one rank, none twice.
        let mut all: Vec<usize> = (0..3)
            .flat_map(|r| (0..2).map(move |j| nccl_rank(r, 3, 2, j).0))
            .collect();
        all.sort();
        assert_eq!(all, (0..6).collect::<Vec<_>>());
    }

    fn args(line: &[&str]) -> RunArgs {
        let mut full = vec!["clusterbench", "run"];
        full.extend_from_slice(line);
        match crate::cli::Cli::try_parse_from(full)
            .expect("parses")
            .command
        {
            crate::cli::Command::Run(a) => *a,
            _ => unreachable!("a run command"),
        }
    }

    #[test]
    fn the_flag_is_checked_against_backend_graphs_and_benchmarks() {
        let colls = ["allreduce", "alltoall"];
        assert_eq!(validate(&args(&[]), &["matmul"]).unwrap(), 1);
        assert_eq!(validate(&args(&["-g", "4"]), &colls).unwrap(), 4);
        assert_eq!(
            validate(
                &args(&["--gpus-per-rank", "2", "--backend", "cuda"]),
                &colls
            )
            .unwrap(),
            2
        );
        let e = validate(&args(&["-g", "0"]), &colls).unwrap_err().0;
        assert!(e.contains("at least 1"), "{e}");
        let e = validate(&args(&["-g", "2", "--backend", "cpu"]), &colls)
            .unwrap_err()
            .0;
        assert!(e.starts_with("-g needs the CUDA backend"), "{e}");
        let e = validate(&args(&["-g", "2", "--cuda-graph", "4"]), &colls)
            .unwrap_err()
            .0;
        assert!(e.contains("--cuda-graph"), "{e}");
        let e = validate(&args(&["-g", "2"]), &["allreduce", "p2p", "matmul"])
            .unwrap_err()
            .0;
        assert!(
            e.contains("not for p2p, matmul") && e.ends_with("run them without -g"),
            "{e}"
        );
        // -g 1 is today's behaviour for every benchmark and backend.
        assert_eq!(
            validate(&args(&["-g", "1", "--backend", "cpu"]), &["p2p"]).unwrap(),
            1
        );
    }
}
