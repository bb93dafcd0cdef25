//! OpenBLAS, loaded at run time: the CPU matmul's other engine (see `gemm.rs` for how
//! the engine is chosen). Loaded, not linked, so that clusterbench runs on a host
//! without it: the system's `libopenblas.so.0` (Debian's `libopenblas0-pthread`), or
//! the library `CLUSTERBENCH_OPENBLAS` names.

use anyhow::{anyhow, Context, Result};
use libloading::{Library, Symbol};
use std::ffi::{c_char, c_int, CStr};
use std::sync::OnceLock;

/// The environment variable that names an OpenBLAS library to load instead of the
/// system's.
const LIBRARY_VAR: &str = "CLUSTERBENCH_OPENBLAS";

/// The names tried, in order, when `CLUSTERBENCH_OPENBLAS` is unset.
const SYSTEM_NAMES: [&str; 2] = ["libopenblas.so.0", "libopenblas.so"];

// CBLAS's enumerations, as cblas.h numbers them.
const ROW_MAJOR: c_int = 101;
const NO_TRANS: c_int = 111;

type Gemm<T> = unsafe extern "C" fn(
    c_int, // order
    c_int, // transa
    c_int, // transb
    c_int, // m
    c_int, // n
    c_int, // k
    T,     // alpha
    *const T,
    c_int, // lda
    *const T,
    c_int, // ldb
    T,     // beta
    *mut T,
    c_int, // ldc
);

/// A loaded OpenBLAS: its GEMM entry points and what it says of itself.
pub(super) struct OpenBlas {
    sgemm: Gemm<f32>,
    dgemm: Gemm<f64>,
    set_num_threads: unsafe extern "C" fn(c_int),
    /// The kernel set OpenBLAS chose for this CPU, e.g. `Zen`, `SkylakeX`, `Prescott`.
    pub(super) core: String,
    /// The version, e.g. `0.3.21`.
    pub(super) version: String,
    /// Keeps the entry points above valid.
    _library: Library,
}

impl OpenBlas {
    /// The process's OpenBLAS, loaded on first use; the error says what was tried.
    pub(super) fn get() -> Result<&'static OpenBlas, &'static str> {
        static LOADED: OnceLock<Result<OpenBlas, String>> = OnceLock::new();
        LOADED
            .get_or_init(|| OpenBlas::load().map_err(|e| format!("{e:#}")))
            .as_ref()
            .map_err(String::as_str)
    }

    fn load() -> Result<OpenBlas> {
        let library = match std::env::var_os(LIBRARY_VAR) {
            // SAFETY: loading runs the library's initialisers; OpenBLAS's only set up
            // its thread pool and pick its kernels.
            Some(path) => unsafe { Library::new(&path) }.with_context(|| {
                format!("cannot load {LIBRARY_VAR}={}", path.to_string_lossy())
            })?,
            None => SYSTEM_NAMES
                .iter()
                .find_map(|name| unsafe { Library::new(*name) }.ok())
                .ok_or_else(|| {
                    anyhow!(
                        "no OpenBLAS library ({}) on this host; install Debian's \
                         libopenblas0-pthread (scripts/setup.sh does), or name one with {LIBRARY_VAR}",
                        SYSTEM_NAMES.join(", ")
                    )
                })?,
        };
        // SAFETY: the types are those of cblas.h and OpenBLAS's own header (32-bit
        // integers: the LP64 interface every distribution's libopenblas.so.0 has).
        unsafe {
            let sgemm = *symbol::<Gemm<f32>>(&library, b"cblas_sgemm\0")?;
            let dgemm = *symbol::<Gemm<f64>>(&library, b"cblas_dgemm\0")?;
            let set_num_threads =
                *symbol::<unsafe extern "C" fn(c_int)>(&library, b"openblas_set_num_threads\0")?;
            let corename = *symbol::<unsafe extern "C" fn() -> *const c_char>(
                &library,
                b"openblas_get_corename\0",
            )?;
            let config = *symbol::<unsafe extern "C" fn() -> *const c_char>(
                &library,
                b"openblas_get_config\0",
            )?;
            let core = CStr::from_ptr(corename()).to_string_lossy().into_owned();
            let config = CStr::from_ptr(config()).to_string_lossy().into_owned();
            Ok(OpenBlas {
                sgemm,
                dgemm,
                set_num_threads,
                core,
                version: version_in_config(&config).unwrap_or("unknown").to_string(),
                _library: library,
            })
        }
    }

    /// How each record names this engine, e.g. `openblas 0.3.21 (Zen)`.
    pub(super) fn engine(&self) -> String {
        format!("openblas {} ({})", self.version, self.core)
    }

    pub(super) fn set_threads(&self, threads: usize) {
        let threads = c_int::try_from(threads).unwrap_or(c_int::MAX);
        // SAFETY: takes any positive count and caps it at the library's own maximum.
        unsafe { (self.set_num_threads)(threads.max(1)) }
    }
}

unsafe fn symbol<'l, T>(library: &'l Library, name: &[u8]) -> Result<Symbol<'l, T>> {
    library.get(name).with_context(|| {
        format!(
            "the loaded OpenBLAS has no {}",
            String::from_utf8_lossy(&name[..name.len() - 1])
        )
    })
}

/// The version in `openblas_get_config()`'s words, e.g. `OpenBLAS 0.3.21 DYNAMIC_ARCH
/// NO_AFFINITY Zen MAX_THREADS=64` gives `0.3.21`.
fn version_in_config(config: &str) -> Option<&str> {
    let mut words = config.split_whitespace();
    words.find(|w| w.eq_ignore_ascii_case("openblas"))?;
    words.next()
}

/// The element types OpenBLAS multiplies: each picks its CBLAS entry point.
pub(super) trait CblasElement: Sized {
    fn gemm(blas: &OpenBlas) -> Gemm<Self>;
}

impl CblasElement for f32 {
    fn gemm(blas: &OpenBlas) -> Gemm<f32> {
        blas.sgemm
    }
}

impl CblasElement for f64 {
    fn gemm(blas: &OpenBlas) -> Gemm<f64> {
        blas.dgemm
    }
}

/// C = A B, all row-major and contiguous: A m x k, B k x n, C m x n.
pub(super) fn multiply<T: CblasElement + Copy>(
    blas: &OpenBlas,
    (m, n, k): (usize, usize, usize),
    a: &[T],
    b: &[T],
    c: &mut [T],
    (zero, one): (T, T),
) -> Result<()> {
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
    let dim = |v: usize| {
        c_int::try_from(v).map_err(|_| anyhow!("OpenBLAS takes dimensions up to {}", c_int::MAX))
    };
    let (mi, ni, ki) = (dim(m)?, dim(n)?, dim(k)?);
    // SAFETY: a, b and c hold at least m*k, k*n and m*n elements (asserted), row-major
    // with leading dimensions k, n and n.
    unsafe {
        T::gemm(blas)(
            ROW_MAJOR,
            NO_TRANS,
            NO_TRANS,
            mi,
            ni,
            ki,
            one,
            a.as_ptr(),
            ki,
            b.as_ptr(),
            ni,
            zero,
            c.as_mut_ptr(),
            ni,
        )
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_is_read_from_openblas_config_line() {
        let cases = [
            (
                "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Zen MAX_THREADS=64",
                Some("0.3.21"),
            ),
            (
                "OpenBLAS 0.3.31.dev DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64",
                Some("0.3.31.dev"),
            ),
            ("OpenBLAS", None),
            ("", None),
        ];
        for (config, version) in cases {
            assert_eq!(version_in_config(config), version, "{config}");
        }
    }
}
