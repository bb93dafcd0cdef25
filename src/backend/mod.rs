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

/// Why a run that could have used a GPU runs on the CPU.
#[derive(Debug, Clone, PartialEq)]
pub struct CpuFallback {
    /// Short, for the results document and the report's backend row.
    pub reason: String,
    /// The one line the terminal gets (without the program's name).
    pub message: String,
}

impl CpuFallback {
    /// `why`: what `cuda::open_with` said; `no_driver`: no driver library anywhere.
    fn new(why: String, no_driver: bool) -> Self {
        if no_driver {
            // Every CPU machine lands here: the places searched (a dozen paths) are
            // for `cuda-check` and `env`, not for every run.
            let reason = "no NVIDIA driver found".to_string();
            CpuFallback {
                message: format!(
                    "{reason}; running on the CPU: `clusterbench cuda-check` shows where it looked"
                ),
                reason,
            }
        } else {
            CpuFallback {
                message: format!("{why}; running on the CPU"),
                reason: why,
            }
        }
    }
}

/// Picks the backend. Returns it and, when it differs from what was asked for, why.
/// `cuda_graph`: GPU collectives time replays of graphs of that many calls;
/// `gpus_per_rank`: devices each process drives (`-g`).
pub fn select(
    choice: BackendChoice,
    cuda_graph: Option<u32>,
    gpus_per_rank: usize,
) -> Result<(Box<dyn Backend>, Option<CpuFallback>)> {
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
            Err(why) => {
                let fallback = CpuFallback::new(why, cuda::no_driver_installed());
                Ok((cpu()?, Some(fallback)))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_driver_is_one_short_line_and_other_reasons_are_kept() {
        let searched = "no CUDA driver library (libcuda.so*) found; searched a, b, c".to_string();
        let none = CpuFallback::new(searched, true);
        assert_eq!(none.reason, "no NVIDIA driver found");
        assert_eq!(
            none.message,
            "no NVIDIA driver found; running on the CPU: `clusterbench cuda-check` shows where it looked"
        );
        let no_devices = CpuFallback::new("the CUDA driver reports no devices".into(), false);
        assert_eq!(no_devices.reason, "the CUDA driver reports no devices");
        assert_eq!(
            no_devices.message,
            "the CUDA driver reports no devices; running on the CPU"
        );
    }
}
