//! GEMM on host memory through the `gemm` crate, checked by the shared GEMM check.

use crate::backend::gemm_check::{check_gemm_samples, random_gemm_inputs, GemmElement};
use crate::core::MatmulShape;
use crate::core::{LocalCheck, Workload};
use anyhow::Result;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

/// C = A B with row-major A (m x k), B (k x n), C (m x n) through the `gemm` crate.
pub(super) struct CpuGemm<T: GemmElement> {
    pool: Arc<rayon::ThreadPool>,
    threads: usize,
    m: usize,
    n: usize,
    k: usize,
    a: Vec<T>,
    b: Vec<T>,
    c: Vec<T>,
    seed: u64,
}

impl<T: GemmElement> CpuGemm<T> {
    pub(super) fn new(
        pool: Arc<rayon::ThreadPool>,
        threads: usize,
        shape: &MatmulShape,
        seed: u64,
    ) -> Self {
        let (m, n, k) = (shape.m, shape.n, shape.k);
        let (a, b) = random_gemm_inputs::<T>(m, n, k, seed);
        CpuGemm {
            pool,
            threads,
            m,
            n,
            k,
            a,
            b,
            c: vec![T::default(); m * n],
            seed,
        }
    }

    fn multiply(&mut self) {
        let (m, n, k) = (self.m, self.n, self.k);
        let (a, b, c) = (&self.a[..], &self.b[..], &mut self.c[..]);
        let threads = self.threads;
        let zero = T::from_f64(0.0);
        let one = T::from_f64(1.0);
        self.pool.install(|| {
            // SAFETY: a, b and c hold m*k, k*n and m*n elements with the row-major
            // strides given (column stride 1, row stride = columns).
            unsafe {
                gemm::gemm(
                    m,
                    n,
                    k,
                    c.as_mut_ptr(),
                    1,
                    n as isize,
                    false,
                    a.as_ptr(),
                    1,
                    k as isize,
                    b.as_ptr(),
                    1,
                    n as isize,
                    zero,
                    one,
                    false,
                    false,
                    false,
                    if threads > 1 {
                        gemm::Parallelism::Rayon(threads)
                    } else {
                        gemm::Parallelism::None
                    },
                )
            }
        });
    }
}

impl<T: GemmElement> Workload for CpuGemm<T> {
    fn iterate(&mut self) -> Result<f64> {
        let start = Instant::now();
        self.multiply();
        let t = start.elapsed().as_secs_f64();
        black_box(&self.c);
        Ok(t)
    }

    fn verify(&mut self) -> Result<LocalCheck> {
        self.c.iter_mut().for_each(|x| *x = T::from_f64(f64::NAN));
        self.multiply();
        Ok(check_gemm_samples(
            &self.a, &self.b, &self.c, self.m, self.n, self.k, self.seed,
        ))
    }
}
