//! STREAM on device memory: the same five kernels as on the CPU, compiled with NVRTC,
//! timed with CUDA events between launches queued behind a stream hold, every element
//! checked.

use super::timing::{self, StreamHold};
use super::CudaBackend;
use crate::core::{LocalCheck, Workload};
use crate::core::{StreamKernel, StreamWorkload};
use anyhow::{Context, Result};
use cudarc::driver::{CudaFunction, CudaSlice, CudaStream, LaunchConfig, PushKernelArg};
use std::sync::Arc;

const STREAM_SCALAR: f64 = 3.0;
/// Threads per block; `stream_dot` relies on exactly this.
const BLOCK: u32 = 256;

pub struct GpuStream {
    stream: Arc<CudaStream>,
    functions: [CudaFunction; 5],
    a: CudaSlice<f64>,
    b: CudaSlice<f64>,
    c: CudaSlice<f64>,
    partial: CudaSlice<f64>,
    n: usize,
    grid: u32,
    kernel: StreamKernel,
    expect: (f64, f64, f64),
    hold: Option<Arc<StreamHold>>,
}

impl GpuStream {
    pub fn new(backend: &CudaBackend, n: usize) -> Result<Self> {
        let stream = backend.stream.clone();
        let functions = [
            backend.kernel("stream_copy")?,
            backend.kernel("stream_scale")?,
            backend.kernel("stream_add")?,
            backend.kernel("stream_triad")?,
            backend.kernel("stream_dot")?,
        ];
        // Enough blocks to fill every SM several times over.
        let grid = backend.sm_count()?.max(1) * 8;
        let a = stream
            .clone_htod(&vec![1.0f64; n])
            .context("allocating STREAM arrays on the GPU")?;
        let b = stream.clone_htod(&vec![2.0f64; n])?;
        let c = stream.alloc_zeros::<f64>(n)?;
        let partial = stream.alloc_zeros::<f64>(grid as usize)?;
        stream.synchronize()?;
        Ok(GpuStream {
            stream,
            functions,
            a,
            b,
            c,
            partial,
            n,
            grid,
            kernel: StreamKernel::Copy,
            expect: (1.0, 2.0, 0.0),
            hold: backend.stream_hold(),
        })
    }

    fn launch(&mut self, kernel: StreamKernel) -> Result<()> {
        let cfg = LaunchConfig {
            grid_dim: (self.grid, 1, 1),
            block_dim: (BLOCK, 1, 1),
            shared_mem_bytes: 0,
        };
        let n = self.n;
        let q = STREAM_SCALAR;
        let f = &self.functions[kernel as usize];
        let mut l = self.stream.launch_builder(f);
        match kernel {
            StreamKernel::Copy => l.arg(&self.a).arg(&mut self.c).arg(&n),
            StreamKernel::Scale => l.arg(&mut self.b).arg(&self.c).arg(&q).arg(&n),
            StreamKernel::Add => l.arg(&self.a).arg(&self.b).arg(&mut self.c).arg(&n),
            StreamKernel::Triad => l.arg(&mut self.a).arg(&self.b).arg(&self.c).arg(&q).arg(&n),
            StreamKernel::Dot => l.arg(&self.a).arg(&self.b).arg(&mut self.partial).arg(&n),
        };
        // SAFETY: the argument lists match the kernels' signatures in kernels::SOURCE,
        // every array holds n elements and `partial` one per block.
        unsafe { l.launch(cfg) }?;
        Ok(())
    }
}

impl StreamWorkload for GpuStream {
    fn select(&mut self, kernel: StreamKernel) {
        self.kernel = kernel;
        self.expect = kernel.expected_after(self.expect, STREAM_SCALAR);
    }

    fn threads(&self) -> usize {
        (self.grid * BLOCK) as usize
    }
}

impl Workload for GpuStream {
    fn iterate(&mut self) -> Result<f64> {
        crate::core::timing::timed_once(|record| self.run_timed(1, record))
    }

    fn run_timed(&mut self, iterations: u32, record: &mut dyn FnMut(f64)) -> Result<()> {
        let (stream, hold, kernel) = (self.stream.clone(), self.hold.clone(), self.kernel);
        timing::run_on_stream(
            hold.as_deref(),
            &stream,
            iterations,
            || self.launch(kernel),
            record,
        )
    }

    fn timing(&self) -> crate::core::Timing {
        timing::method(self.hold.as_deref())
    }

    fn verify(&mut self) -> Result<LocalCheck> {
        let (ea, eb, ec) = self.expect;
        let n = self.n as u64;
        if self.kernel == StreamKernel::Dot {
            self.launch(StreamKernel::Dot)?;
            let partial = self.stream.clone_dtoh(&self.partial)?;
            let sum: f64 = partial.iter().sum();
            // Integer-valued terms: exact below 2^53, in any order.
            return Ok(LocalCheck {
                checked: n,
                wrong: u64::from(sum != ea * eb * n as f64),
                max_error_ratio: None,
                method: "exact: the dot product against n a b",
            });
        }
        let count = |v: Vec<f64>, e: f64| v.iter().filter(|x| **x != e).count() as u64;
        let wrong = count(self.stream.clone_dtoh(&self.a)?, ea)
            + count(self.stream.clone_dtoh(&self.b)?, eb)
            + count(self.stream.clone_dtoh(&self.c)?, ec);
        Ok(LocalCheck {
            checked: 3 * n,
            wrong,
            max_error_ratio: None,
            method: "exact: every element of a, b and c copied back and compared",
        })
    }
}
