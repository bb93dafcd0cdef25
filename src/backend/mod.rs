//! Backends: the hardware a benchmark's workload runs on.
//!
//! [`cpu::CpuBackend`] always exists (host memory, host MPI). The CUDA backend sits
//! behind the `cuda` feature as an enabled/disabled module pair with one signature.

pub mod cpu;
pub mod cpu_p2p;
#[cfg_attr(feature = "cuda", path = "cuda.rs")]
#[cfg_attr(not(feature = "cuda"), path = "cuda_disabled.rs")]
pub mod cuda;

use crate::cli::BackendChoice;
use crate::comm::Communicator;
use crate::error::UsageError;
use crate::options::{DType, MatmulShape};
use crate::runner::collective::{Collective, CollectiveCase};
use crate::runner::p2p::P2pCase;
use crate::runner::Workload;
use anyhow::Result;

/// The STREAM kernels, with the bytes STREAM counts per element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKernel {
    /// c = a
    Copy,
    /// b = q c
    Scale,
    /// c = a + b
    Add,
    /// a = b + q c
    Triad,
    /// sum a b (read only)
    Dot,
}

impl StreamKernel {
    pub const ALL: [StreamKernel; 5] = [
        StreamKernel::Copy,
        StreamKernel::Scale,
        StreamKernel::Add,
        StreamKernel::Triad,
        StreamKernel::Dot,
    ];

    pub fn name(self) -> &'static str {
        match self {
            StreamKernel::Copy => "copy",
            StreamKernel::Scale => "scale",
            StreamKernel::Add => "add",
            StreamKernel::Triad => "triad",
            StreamKernel::Dot => "dot",
        }
    }

    /// Arrays touched per element, as STREAM counts bytes (no write-allocate traffic).
    pub fn arrays_touched(self) -> u64 {
        match self {
            StreamKernel::Copy | StreamKernel::Scale | StreamKernel::Dot => 2,
            StreamKernel::Add | StreamKernel::Triad => 3,
        }
    }
}

/// A set of STREAM arrays on which each kernel can be selected and run.
pub trait StreamWorkload: Workload {
    fn select(&mut self, kernel: StreamKernel);
    fn threads(&self) -> usize;
}

/// The hardware that runs the workloads.
pub trait Backend {
    /// `cpu` or `cuda`, as recorded in the results.
    fn name(&self) -> &'static str;
    /// Worker threads per rank (CPU) used by the compute benchmarks.
    fn threads(&self) -> usize;
    /// STREAM arrays of `elements` f64 each.
    fn stream(&self, elements: usize) -> Result<Box<dyn StreamWorkload>>;
    /// A GEMM of `shape` with random inputs (seeded by `seed`).
    fn matmul(&self, dtype: DType, shape: &MatmulShape, seed: u64) -> Result<Box<dyn Workload>>;
    /// One point of a collective sweep.
    fn collective<'a>(
        &'a self,
        coll: &'static dyn Collective,
        comm: &'a dyn Communicator,
        case: CollectiveCase,
    ) -> Result<Box<dyn Workload + 'a>>;
    /// This rank's part in a point-to-point case (idle when not one of the pair). The
    /// default runs on host buffers through `comm`; a GPU backend overrides it with
    /// device buffers (NCCL send/recv).
    fn point_to_point<'a>(
        &'a self,
        comm: &'a dyn Communicator,
        case: P2pCase,
    ) -> Result<Box<dyn Workload + 'a>> {
        Ok(Box::new(cpu_p2p::HostPointToPoint::new(comm, case)))
    }
}

/// Picks the backend. Returns it and, when it differs from what was asked for, why.
pub fn select(choice: BackendChoice) -> Result<(Box<dyn Backend>, Option<String>)> {
    let cpu = || -> Result<Box<dyn Backend>> { Ok(Box::new(cpu::CpuBackend::new()?)) };
    match choice {
        BackendChoice::Cpu => Ok((cpu()?, None)),
        BackendChoice::Cuda => match cuda::open() {
            Ok(b) => Ok((b, None)),
            Err(why) => Err(UsageError::new(format!("--backend cuda: {why}")).into()),
        },
        BackendChoice::Auto => match cuda::open() {
            Ok(b) => Ok((b, None)),
            Err(why) => Ok((cpu()?, Some(format!("running on the CPU backend: {why}")))),
        },
    }
}
