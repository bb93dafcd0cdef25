//! GEMM on host memory through one of two engines, checked by the shared GEMM check:
//! the `gemm` crate, built in, or OpenBLAS, loaded at run time (`openblas.rs`).
//!
//! `scripts/fidelity/gemm.sh` measures the CPU matmul side by side with numpy's
//! OpenBLAS, the reference. On a 2-core Sapphire Rapids VM (AVX-512), f64 2048^3 and
//! 4096^3 on 2 threads, GFLOP/s, runs alternating:
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
//! There Debian's OpenBLAS 0.3.21 takes the CPU for a Prescott (SSE3) and runs its
//! generic kernels. On a 2-core AMD EPYC (Zen 3, AVX2) VM, 2048^3, three rounds of the
//! four, GFLOP/s:
//!
//! | engine | f32 | f64 |
//! | --- | --- | --- |
//! | `gemm` 0.19 (fma) | 99-109 | 51-53 |
//! | numpy 2.4 / OpenBLAS 0.3.31 | 143-157 | 70-72 |
//! | BLIS 0.9 (`zen3`) | 133-148 | 60-68 |
//! | OpenBLAS 0.3.21 (Debian 12, `Zen`) | 126-149 | 67-72 |
//!
//! So the choice (`auto`, the default) is OpenBLAS where it is installed and its
//! kernels use this CPU's widest FMA vectors (AVX-512 where the CPU has it, else
//! AVX2), the `gemm` crate elsewhere. `CLUSTERBENCH_CPU_GEMM=gemm` or `openblas` forces
//! one; each record names the engine that computed it.

use super::openblas::{self, CblasElement, OpenBlas};
use crate::backend::gemm_check::{check_gemm_samples, random_gemm_inputs, GemmElement};
use crate::core::MatmulShape;
use crate::core::{LocalCheck, Workload};
use anyhow::Result;
use std::hint::black_box;
use std::sync::{Arc, OnceLock};

/// The environment variable that chooses the engine: `auto` (or unset), `gemm`,
/// `openblas`.
const ENGINE_VAR: &str = "CLUSTERBENCH_CPU_GEMM";

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

/// What computes the CPU matmul.
#[derive(Clone, Copy)]
pub(super) enum Engine {
    GemmCrate,
    OpenBlas(&'static OpenBlas),
}

impl Engine {
    /// This process's engine, as `CLUSTERBENCH_CPU_GEMM` asks (chosen once).
    pub(super) fn chosen() -> Result<Engine> {
        static CHOSEN: OnceLock<Result<Engine, String>> = OnceLock::new();
        let choice = CHOSEN.get_or_init(|| requested().and_then(Request::engine));
        choice.clone().map_err(|e| crate::usage!("{e}"))
    }

    /// Checks what `CLUSTERBENCH_CPU_GEMM` asks before anything is measured: its value,
    /// and for `openblas` that the library loads. `auto` loads OpenBLAS only at the
    /// first matmul, so that its threads do not exist during the benchmarks before.
    pub(super) fn check_request() -> Result<()> {
        match requested().map_err(|e| crate::usage!("{e}"))? {
            Request::OpenBlas => Engine::chosen().map(drop),
            Request::Auto | Request::GemmCrate => Ok(()),
        }
    }

    /// The engine recorded with each CPU matmul result, e.g. `gemm 0.19.0 (fma)` or
    /// `openblas 0.3.21 (Zen)`.
    pub(super) fn name(self) -> String {
        match self {
            Engine::GemmCrate => format!("gemm {GEMM_CRATE_VERSION} ({})", gemm_kernel()),
            Engine::OpenBlas(blas) => blas.engine(),
        }
    }
}

/// What `CLUSTERBENCH_CPU_GEMM` asks for.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Request {
    Auto,
    GemmCrate,
    OpenBlas,
}

impl Request {
    fn engine(self) -> Result<Engine, String> {
        match self {
            Request::Auto => Ok(match OpenBlas::get() {
                Ok(blas) if openblas_fits(&blas.core, gemm_kernel()) => Engine::OpenBlas(blas),
                _ => Engine::GemmCrate,
            }),
            Request::GemmCrate => Ok(Engine::GemmCrate),
            Request::OpenBlas => OpenBlas::get()
                .map(Engine::OpenBlas)
                .map_err(|e| format!("{ENGINE_VAR}=openblas: {e}")),
        }
    }
}

fn requested() -> Result<Request, String> {
    let asked = std::env::var_os(ENGINE_VAR);
    parse_request(asked.as_ref().and_then(|v| v.to_str()), asked.is_some())
}

/// `CLUSTERBENCH_CPU_GEMM`'s value (`set` when the variable is set, even to something
/// that is not UTF-8).
fn parse_request(value: Option<&str>, set: bool) -> Result<Request, String> {
    match (value, set) {
        (None, false) | (Some("auto"), _) => Ok(Request::Auto),
        (Some("gemm"), _) => Ok(Request::GemmCrate),
        (Some("openblas"), _) => Ok(Request::OpenBlas),
        (value, _) => Err(format!(
            "{ENGINE_VAR} takes auto, gemm or openblas, not '{}'",
            value.unwrap_or("(not UTF-8)")
        )),
    }
}

/// Whether OpenBLAS's kernels for this CPU (its core name) use the CPU's widest FMA
/// vectors (`kernel`, as [`gemm_kernel`] names them). An OpenBLAS older than the CPU
/// falls back to older kernels (Prescott, SSE3, for Sapphire Rapids in 0.3.21).
fn openblas_fits(core: &str, kernel: &str) -> bool {
    const AVX512: [&str; 3] = ["SkylakeX", "Cooperlake", "SapphireRapids"];
    const AVX2: [&str; 2] = ["Haswell", "Zen"];
    match kernel {
        "avx512f" => AVX512.contains(&core),
        "fma" => AVX2.contains(&core) || AVX512.contains(&core),
        _ => false,
    }
}

/// C = A B with row-major A (m x k), B (k x n), C (m x n) through the `gemm` crate.
pub(super) struct CpuGemm<T: GemmElement> {
    engine: Engine,
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

impl<T: GemmElement + CblasElement> CpuGemm<T> {
    pub(super) fn new(
        engine: Engine,
        pool: Arc<rayon::ThreadPool>,
        threads: usize,
        shape: &MatmulShape,
        seed: u64,
    ) -> Self {
        let (m, n, k) = (shape.m, shape.n, shape.k);
        let (a, b) = random_gemm_inputs::<T>(m, n, k, seed);
        if let Engine::OpenBlas(blas) = engine {
            blas.set_threads(threads);
        }
        CpuGemm {
            engine,
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

    fn multiply(&mut self) -> Result<()> {
        let (m, n, k) = (self.m, self.n, self.k);
        let (a, b, c) = (&self.a[..], &self.b[..], &mut self.c[..]);
        let threads = self.threads;
        let zero = T::from_f64(0.0);
        let one = T::from_f64(1.0);
        if let Engine::OpenBlas(blas) = self.engine {
            return openblas::multiply(blas, (m, n, k), a, b, c, (zero, one));
        }
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
        Ok(())
    }
}

impl<T: GemmElement + CblasElement> Workload for CpuGemm<T> {
    fn iterate(&mut self) -> Result<f64> {
        let start = crate::clock::now();
        self.multiply()?;
        let t = start.elapsed();
        black_box(&self.c);
        Ok(t)
    }

    fn verify(&mut self) -> Result<LocalCheck> {
        self.c.iter_mut().for_each(|x| *x = T::from_f64(f64::NAN));
        self.multiply()?;
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

    /// OpenBLAS is chosen only where its kernels use the CPU's widest FMA vectors.
    #[test]
    fn openblas_is_chosen_only_with_kernels_for_the_widest_vectors() {
        let cases = [
            ("Zen", "fma", true),
            ("Haswell", "fma", true),
            ("SkylakeX", "fma", true),
            ("SkylakeX", "avx512f", true),
            ("Cooperlake", "avx512f", true),
            ("SapphireRapids", "avx512f", true),
            // Debian 12's OpenBLAS 0.3.21 on Sapphire Rapids.
            ("Prescott", "avx512f", false),
            ("Haswell", "avx512f", false),
            ("Zen", "avx512f", false),
            ("Prescott", "fma", false),
            ("Sandybridge", "fma", false),
            ("NEOVERSEN1", "neon", false),
            ("Haswell", "scalar", false),
        ];
        for (core, kernel, fits) in cases {
            assert_eq!(openblas_fits(core, kernel), fits, "{core} on {kernel}");
        }
    }

    #[test]
    fn the_engine_variable_takes_three_words() {
        assert_eq!(parse_request(None, false), Ok(Request::Auto));
        assert_eq!(parse_request(Some("auto"), true), Ok(Request::Auto));
        assert_eq!(parse_request(Some("gemm"), true), Ok(Request::GemmCrate));
        assert_eq!(parse_request(Some("openblas"), true), Ok(Request::OpenBlas));
        assert!(matches!(Request::GemmCrate.engine(), Ok(Engine::GemmCrate)));
        for bad in [Some("GEMM"), Some("mkl"), Some(""), None] {
            let err = parse_request(bad, true).expect_err("an error");
            assert!(err.contains("takes auto, gemm or openblas, not '"), "{err}");
        }
        let not_utf8 = parse_request(None, true).unwrap_err();
        assert!(not_utf8.ends_with("not '(not UTF-8)'"), "{not_utf8}");
    }

    #[test]
    fn engine_names_the_crate_version_and_the_kernel_this_cpu_runs() {
        let engine = Engine::GemmCrate.name();
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
