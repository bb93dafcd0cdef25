//! GEMM on the GPU through cuBLAS (fp32 and fp64), timed with CUDA events and checked
//! on sampled entries against the same f64 reference as the CPU GEMM.

use super::timing::{self, StreamHold};
use crate::backend::gemm_check::{check_gemm_samples, random_gemm_inputs, GemmElement};
use crate::core::{DType, MatmulShape};
use crate::core::{LocalCheck, Workload};
use anyhow::{anyhow, Context, Result};
use cudarc::cublas::{sys::cublasOperation_t, CudaBlas, Gemm, GemmConfig};
use cudarc::driver::{CudaSlice, CudaStream, DeviceRepr, ValidAsZeroBits};
use std::sync::Arc;

/// A matmul workload for `dtype`, or a usage error for types this build cannot run.
pub fn new(
    stream: Arc<CudaStream>,
    hold: Option<Arc<StreamHold>>,
    dtype: DType,
    shape: &MatmulShape,
    seed: u64,
) -> Result<Box<dyn Workload>> {
    Ok(match dtype {
        DType::Float => Box::new(GpuGemm::<f32>::new(stream, hold, shape, seed)?),
        DType::Double => Box::new(GpuGemm::<f64>::new(stream, hold, shape, seed)?),
        DType::Tf32 | DType::Bf16 | DType::Fp16 | DType::Fp8E4m3 => {
            Box::new(super::lt::LtGemm::new(stream, hold, dtype, shape, seed)?)
        }
        other => {
            return Err(crate::usage!(
                "matmul on the GPU runs float, double, tf32, bf16, fp16 and fp8e4m3, not {other}"
            ))
        }
    })
}

struct GpuGemm<T: GemmElement + DeviceRepr> {
    stream: Arc<CudaStream>,
    hold: Option<Arc<StreamHold>>,
    blas: CudaBlas,
    m: usize,
    n: usize,
    k: usize,
    host_a: Vec<T>,
    host_b: Vec<T>,
    a: CudaSlice<T>,
    b: CudaSlice<T>,
    c: CudaSlice<T>,
    seed: u64,
}

impl<T> GpuGemm<T>
where
    T: GemmElement + DeviceRepr + ValidAsZeroBits,
    CudaBlas: Gemm<T>,
{
    fn new(
        stream: Arc<CudaStream>,
        hold: Option<Arc<StreamHold>>,
        shape: &MatmulShape,
        seed: u64,
    ) -> Result<Self> {
        let (m, n, k) = (shape.m, shape.n, shape.k);
        for d in [m, n, k] {
            if i32::try_from(d).is_err() {
                return Err(crate::usage!(
                    "matmul dimension {d} exceeds cuBLAS's int range"
                ));
            }
        }
        let (host_a, host_b) = random_gemm_inputs::<T>(m, n, k, seed);
        let a = stream
            .clone_htod(&host_a)
            .context("allocating matmul inputs on the GPU")?;
        let b = stream.clone_htod(&host_b)?;
        let c = stream.alloc_zeros::<T>(m * n)?;
        let blas = CudaBlas::new(stream.clone()).map_err(|e| anyhow!("cuBLAS: {e}"))?;
        Ok(GpuGemm {
            stream,
            hold,
            blas,
            m,
            n,
            k,
            host_a,
            host_b,
            a,
            b,
            c,
            seed,
        })
    }

    fn multiply(&mut self) -> Result<()> {
        let (m, n, k) = (self.m as i32, self.n as i32, self.k as i32);
        // Row-major C = A B is column-major C^T = B^T A^T: cuBLAS multiplies B (n x k
        // column-major, leading dimension n) by A (k x m, leading dimension k).
        let cfg = GemmConfig {
            transa: cublasOperation_t::CUBLAS_OP_N,
            transb: cublasOperation_t::CUBLAS_OP_N,
            m: n,
            n: m,
            k,
            alpha: T::from_f64(1.0),
            lda: n,
            ldb: k,
            beta: T::from_f64(0.0),
            ldc: n,
        };
        // SAFETY: B holds k*n, A m*k and C m*n elements, matching the dimensions and
        // leading dimensions given.
        unsafe { self.blas.gemm(cfg, &self.b, &self.a, &mut self.c) }
            .map_err(|e| anyhow!("cuBLAS GEMM failed: {e}"))
    }
}

impl<T> Workload for GpuGemm<T>
where
    T: GemmElement + DeviceRepr + ValidAsZeroBits,
    CudaBlas: Gemm<T>,
{
    fn iterate(&mut self) -> Result<f64> {
        crate::core::timing::timed_once(|record| self.run_timed(1, record))
    }

    fn run_timed(&mut self, iterations: u32, record: &mut dyn FnMut(f64)) -> Result<()> {
        let (stream, hold) = (self.stream.clone(), self.hold.clone());
        let call = || self.multiply();
        timing::run_on_stream(hold.as_deref(), &stream, iterations, call, record)
    }

    fn timing(&self) -> crate::core::Timing {
        timing::method(self.hold.as_deref())
    }

    fn verify(&mut self) -> Result<LocalCheck> {
        // NaN in every entry first, so an unwritten output cannot pass.
        let nan = vec![T::from_f64(f64::NAN); self.m * self.n];
        self.stream.memcpy_htod(&nan, &mut self.c)?;
        self.multiply()?;
        let c = self.stream.clone_dtoh(&self.c)?;
        Ok(check_gemm_samples(
            &self.host_a,
            &self.host_b,
            &c,
            self.m,
            self.n,
            self.k,
            self.seed,
        ))
    }
}
