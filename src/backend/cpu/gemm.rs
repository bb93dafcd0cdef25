//! GEMM on host memory through the `gemm` crate, checked by the shared GEMM check.
//!
//! `scripts/fidelity/gemm.sh` measures it side by side with numpy's OpenBLAS. The
//! engine was chosen on that evidence: on a 2-core Sapphire Rapids VM (AVX-512), f64
//! 2048^3 and 4096^3 on 2 threads, GFLOP/s, runs alternating,
//!
//! | engine | 2048 | 4096 |
//! | --- | --- | --- |
//! | `gemm` 0.19 | 97-135 | 106-134 |
//! | numpy 2.4 / OpenBLAS 0.3.31 | 98-155 | 101-145 |
//! | `faer` 0.24 (its own kernels) | 84 | 91-103 |
//! | BLIS 0.9 (Debian 12's `libblis4`) | 60-68 | 59-66 |
//! | OpenBLAS 0.3.21 (Debian 12's `libopenblas0-pthread`) | 20-27 | 18-22 |
//! | the same, `OPENBLAS_CORETYPE=SkylakeX` or `Cooperlake` | 108-127 | 111-124 |
//!
//! Debian's OpenBLAS 0.3.21 takes this CPU for a Prescott (SSE3) and runs its generic
//! kernels unless told the core; told, it is level with the two above (it is the
//! reference's library, an older release). BLIS stays far behind. numpy's own
//! OpenBLAS (PyPI's `scipy-openblas` wheels) is the reference itself: linked here it
//! could at best equal it.

use crate::backend::gemm_check::{check_gemm_samples, random_gemm_inputs, GemmElement};
use crate::core::MatmulShape;
use crate::core::{LocalCheck, Workload};
use anyhow::Result;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

/// The `gemm` crate's version as locked in Cargo.lock (a test keeps the two equal).
const GEMM_CRATE_VERSION: &str = "0.19.0";

/// The kernels the `gemm` crate dispatches to on this CPU: it prefers AVX-512 (built
/// in by its `x86-v4` feature) over AVX2 with FMA, over its portable code.
fn gemm_kernel() -> &'static str {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return "avx512f";
        }
        if std::arch::is_x86_feature_detected!("fma") {
            return "fma";
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        if std::arch::is_aarch64_feature_detected!("neon") {
            return "neon";
        }
    }
    "scalar"
}

/// The engine recorded with each CPU matmul result, e.g. `gemm 0.19.0 (avx512f)`.
pub(super) fn engine() -> String {
    format!("gemm {GEMM_CRATE_VERSION} ({})", gemm_kernel())
}

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

#[cfg(test)]
mod tests {
    use super::*;

    /// The version of `package` in a Cargo.lock.
    fn locked_version<'a>(lock: &'a str, package: &str) -> Option<&'a str> {
        let name_line = format!("name = \"{package}\"");
        let mut lines = lock.lines();
        lines.find(|l| *l == name_line)?;
        lines
            .next()?
            .strip_prefix("version = \"")?
            .strip_suffix('"')
    }

    #[test]
    fn recorded_gemm_version_is_the_locked_one() {
        let lock = include_str!("../../../Cargo.lock");
        assert_eq!(locked_version(lock, "gemm"), Some(GEMM_CRATE_VERSION));
        assert_eq!(
            locked_version("name = \"gemm\"\nversion = \"9.1.2\"\n", "gemm"),
            Some("9.1.2")
        );
        assert_eq!(locked_version(lock, "no-such-package"), None);
    }

    #[test]
    fn engine_names_the_crate_version_and_the_kernel_this_cpu_runs() {
        let engine = engine();
        let kernel = engine
            .strip_prefix(&format!("gemm {GEMM_CRATE_VERSION} ("))
            .and_then(|rest| rest.strip_suffix(')'));
        assert_eq!(kernel, Some(gemm_kernel()), "{engine}");
        #[cfg(target_arch = "x86_64")]
        {
            let expected = if std::arch::is_x86_feature_detected!("avx512f") {
                "avx512f"
            } else if std::arch::is_x86_feature_detected!("fma") {
                "fma"
            } else {
                "scalar"
            };
            assert_eq!(gemm_kernel(), expected);
        }
    }
}
