//! Several GPUs driven by one process (`-g N`, as nccl-tests' `-g`): which devices a
//! process drives, how its GPUs are numbered in the NCCL communicator, and which runs
//! may ask for more than one. Pure arithmetic, shared by builds with and without CUDA.

use std::ops::Range;

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
}
