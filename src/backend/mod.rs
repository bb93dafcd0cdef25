//! Backends: the hardware a benchmark's workload runs on.
//!
//! [`cpu::CpuBackend`] always exists (host memory, host MPI). The CUDA backend sits
//! behind the `cuda` feature as an enabled/disabled module pair with one signature.

pub mod buffer;
pub mod cpu;
#[cfg_attr(feature = "cuda", path = "cuda/mod.rs")]
#[cfg_attr(not(feature = "cuda"), path = "cuda_disabled.rs")]
pub mod cuda;
pub mod gemm_check;
pub mod gpus;
pub mod peer;

use crate::core::Backend;
use crate::core::BackendChoice;
use crate::error::UsageError;
use anyhow::Result;

/// Picks the backend. Returns it and, when it differs from what was asked for, why.
/// `cuda_graph`: GPU collectives time replays of graphs of that many calls;
/// `gpus_per_rank`: devices each process drives (`-g`).
pub fn select(
    choice: BackendChoice,
    cuda_graph: Option<u32>,
    gpus_per_rank: usize,
) -> Result<(Box<dyn Backend>, Option<String>)> {
    let cpu = || -> Result<Box<dyn Backend>> { Ok(Box::new(cpu::CpuBackend::new()?)) };
    match choice {
        BackendChoice::Cpu => Ok((cpu()?, None)),
        BackendChoice::Cuda => match cuda::open_with(cuda_graph, gpus_per_rank) {
            Ok(b) => Ok((b, None)),
            Err(why) => Err(UsageError::new(format!("--backend cuda: {why}")).into()),
        },
        BackendChoice::Auto => match cuda::open_with(cuda_graph, gpus_per_rank) {
            Ok(b) => Ok((b, None)),
            Err(why) if cuda_graph.is_some() => Err(UsageError::new(format!(
                "--cuda-graph needs a GPU, and the CUDA backend is not available: {why}"
            ))
            .into()),
            Err(why) if gpus_per_rank > 1 => Err(UsageError::new(format!(
                "-g {gpus_per_rank} needs GPUs, and the CUDA backend is not available: {why}"
            ))
            .into()),
            Err(why) => Ok((cpu()?, Some(format!("running on the CPU backend: {why}")))),
        },
    }
}
