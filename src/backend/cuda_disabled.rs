//! Stand-in for the CUDA backend when built without the `cuda` feature.

use super::Backend;
use crate::results::environment::{CudaStack, GpuInfo, RankGpu};

/// Always fails: this binary has no CUDA support.
pub fn open() -> Result<Box<dyn Backend>, String> {
    open_with(None, 1)
}

/// Always fails: this binary has no CUDA support.
pub fn open_with(
    _cuda_graph: Option<u32>,
    _gpus_per_rank: usize,
) -> Result<Box<dyn Backend>, String> {
    Err(
        "this clusterbench was built without the `cuda` feature (rebuild with default features)"
            .into(),
    )
}

/// Not looked for: a binary without CUDA support says so instead.
pub fn no_driver_installed() -> bool {
    false
}

/// No driver is looked for without CUDA support.
pub fn driver_search_note() -> Option<String> {
    None
}

/// Nothing to prepare without CUDA.
pub fn prepare_loader(_always: bool) {}

/// No GPUs are seen without CUDA support.
pub fn gpu_inventory() -> Vec<GpuInfo> {
    Vec::new()
}

/// No CUDA libraries are looked for without CUDA support.
pub fn cuda_stack() -> Option<CudaStack> {
    None
}

/// No rank drives a GPU without CUDA support.
pub fn rank_gpus(_gpus_per_rank: usize) -> Vec<RankGpu> {
    Vec::new()
}

/// The CUDA checks need the `cuda` feature.
pub mod check {
    pub fn run() -> anyhow::Result<()> {
        Err(crate::usage!(
            "this clusterbench was built without the `cuda` feature (rebuild with default features)"
        ))
    }
}
