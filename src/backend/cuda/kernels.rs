//! The GPU kernels, in CUDA C, compiled at run time with NVRTC for the device present.

use anyhow::{anyhow, Result};

/// Kernel source: STREAM on f64 (copy, scale, add, triad, dot), an SM copy through
/// 16-byte loads and stores, and fill/check helpers. Grid-stride loops, so any grid
/// covers any length.
pub const SOURCE: &str = r#"
extern "C" __global__ void stream_copy(const double* __restrict__ a, double* __restrict__ c, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        c[i] = a[i];
}
extern "C" __global__ void stream_scale(double* __restrict__ b, const double* __restrict__ c, double q, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        b[i] = q * c[i];
}
extern "C" __global__ void stream_add(const double* __restrict__ a, const double* __restrict__ b, double* __restrict__ c, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        c[i] = a[i] + b[i];
}
extern "C" __global__ void stream_triad(double* __restrict__ a, const double* __restrict__ b, const double* __restrict__ c, double q, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        a[i] = b[i] + q * c[i];
}
// One partial sum per block into partial[blockIdx.x]; blockDim.x must be 256.
extern "C" __global__ void stream_dot(const double* __restrict__ a, const double* __restrict__ b, double* __restrict__ partial, size_t n) {
    __shared__ double sums[256];
    double s = 0.0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        s += a[i] * b[i];
    sums[threadIdx.x] = s;
    __syncthreads();
    for (unsigned int w = blockDim.x / 2; w > 0; w >>= 1) {
        if (threadIdx.x < w) sums[threadIdx.x] += sums[threadIdx.x + w];
        __syncthreads();
    }
    if (threadIdx.x == 0) partial[blockIdx.x] = sums[0];
}
// Copy by the SMs (not the copy engines): 16 bytes per thread per step.
extern "C" __global__ void sm_copy(const uint4* __restrict__ src, uint4* __restrict__ dst, size_t n16) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n16; i += (size_t)gridDim.x * blockDim.x)
        dst[i] = src[i];
}
// Fills words with a pattern that differs at every 8-byte word: word i holds i ^ seed.
extern "C" __global__ void fill_pattern(unsigned long long* __restrict__ p, unsigned long long seed, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        p[i] = i ^ seed;
}
// Counts words that differ from fill_pattern's value into *wrong.
extern "C" __global__ void count_pattern(const unsigned long long* __restrict__ p, unsigned long long seed, size_t n, unsigned long long* wrong) {
    unsigned long long bad = 0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        bad += (p[i] != (i ^ seed));
    if (bad) atomicAdd(wrong, bad);
}
// Holds its stream until the host sets *release, or for at most limit_ns; writes 1
// to *outcome when released, 2 when it gave way (timing::StreamHold).
extern "C" __global__ void hold_stream(const volatile unsigned int* release, volatile unsigned int* outcome, unsigned long long limit_ns) {
    unsigned long long start, now;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
    for (;;) {
        if (*release) { *outcome = 1u; return; }
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
        if (now - start > limit_ns) { *outcome = 2u; return; }
    }
}
"#;

/// Every kernel in [`SOURCE`].
pub const KERNELS: [&str; 9] = [
    "stream_copy",
    "stream_scale",
    "stream_add",
    "stream_triad",
    "stream_dot",
    "sm_copy",
    "fill_pattern",
    "count_pattern",
    "hold_stream",
];

/// Compute capabilities the kernels are proven to compile for (CI): Ampere, Hopper,
/// Blackwell. At run time they are compiled for the device's own capability.
pub const TARGET_CAPABILITIES: [(u32, u32); 3] = [(8, 0), (9, 0), (10, 0)];

/// The real architecture of a compute capability, for a cubin (`sm_90`). Plain, never
/// arch-specific (`sm_90a`): no kernel here uses the instructions those add, and a plain
/// cubin also loads on later devices of the same major.
pub fn sm_arch((major, minor): (u32, u32)) -> String {
    format!("sm_{major}{minor}")
}

/// The virtual architecture of a compute capability, for PTX (`compute_90`).
pub fn compute_arch((major, minor): (u32, u32)) -> String {
    format!("compute_{major}{minor}")
}

/// What the kernels were loaded as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelFormat {
    /// Machine code for the device's own architecture: loads on any driver of the
    /// NVRTC's CUDA major (minor version compatibility), whatever its PTX ISA.
    Cubin,
    /// PTX, compiled by the driver when loaded: the fallback. A driver older than the
    /// NVRTC rejects it (`CUDA_ERROR_UNSUPPORTED_PTX_VERSION`).
    Ptx,
}

impl KernelFormat {
    pub fn name(self) -> &'static str {
        match self {
            KernelFormat::Cubin => "cubin",
            KernelFormat::Ptx => "PTX",
        }
    }
}

fn options(arch: &str) -> Vec<String> {
    vec![format!("--gpu-architecture={arch}"), "-std=c++17".into()]
}

const PROGRAM_NAME: &str = "clusterbench_kernels.cu";

/// Compiles [`SOURCE`] to PTX for a virtual architecture (`compute_90`).
pub fn compile_ptx(arch: &str) -> Result<cudarc::nvrtc::Ptx> {
    let opts = cudarc::nvrtc::CompileOptions {
        options: options(arch),
        name: Some(PROGRAM_NAME.into()),
        ..Default::default()
    };
    cudarc::nvrtc::compile_ptx_with_opts(SOURCE, opts)
        .map_err(|e| anyhow!("NVRTC could not compile the kernels for {arch}: {e}"))
}

/// Compiles [`SOURCE`] to a cubin (an ELF image of machine code) for a real
/// architecture (`sm_90`).
pub fn compile_cubin(arch: &str) -> Result<Vec<u8>> {
    use cudarc::nvrtc::{result, sys};
    let fail = |what: &str, detail: String| {
        anyhow!("NVRTC could not compile the kernels to a cubin for {arch}: {what}{detail}")
    };
    let src = std::ffi::CString::new(SOURCE).map_err(|e| fail("", e.to_string()))?;
    let name = std::ffi::CString::new(PROGRAM_NAME).map_err(|e| fail("", e.to_string()))?;
    let prog = result::create_program(&src, Some(&name)).map_err(|e| fail("", e.to_string()))?;
    // SAFETY: `prog` is a live program until destroyed below; sizes come from NVRTC.
    let compiled = unsafe {
        match result::compile_program(prog, &options(arch)) {
            Ok(()) => {
                let mut size = 0usize;
                sys::nvrtcGetCUBINSize(prog, &mut size)
                    .result()
                    .and_then(|()| {
                        let mut cubin = vec![0u8; size];
                        sys::nvrtcGetCUBIN(prog, cubin.as_mut_ptr().cast())
                            .result()
                            .map(|()| cubin)
                    })
                    .map_err(|e| fail("", e.to_string()))
            }
            Err(e) => {
                let log = result::get_program_log(prog)
                    .map(|l| {
                        let bytes: Vec<u8> = l
                            .iter()
                            .take_while(|&&c| c != 0)
                            .map(|&c| c as u8)
                            .collect();
                        String::from_utf8_lossy(&bytes).trim().to_string()
                    })
                    .unwrap_or_default();
                Err(fail(&format!("{e}"), format!(": {log}")))
            }
        }
    };
    // SAFETY: created above and not destroyed before.
    let _ = unsafe { result::destroy_program(prog) };
    let cubin = compiled?;
    if !is_elf(&cubin) {
        return Err(fail("", " NVRTC returned no ELF image".into()));
    }
    Ok(cubin)
}

/// Whether `image` starts with ELF's magic number (a cubin is an ELF file).
pub fn is_elf(image: &[u8]) -> bool {
    image.starts_with(b"\x7fELF")
}

/// The kernels of [`KERNELS`] that a cubin lacks (kernel names are symbols in its
/// string table).
pub fn missing_in_cubin(cubin: &[u8]) -> Vec<&'static str> {
    KERNELS
        .iter()
        .copied()
        .filter(|k| {
            let needle = [&[0u8][..], k.as_bytes(), &[0u8][..]].concat();
            !cubin.windows(needle.len()).any(|w| w == needle.as_slice())
        })
        .collect()
}

/// The kernels of [`KERNELS`] that PTX text lacks.
pub fn missing_in_ptx(ptx: &str) -> Vec<&'static str> {
    KERNELS
        .iter()
        .copied()
        .filter(|k| !ptx.contains(&format!(".entry {k}(")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::{discovery, symbols};
    use super::*;

    #[test]
    fn architecture_names() {
        assert_eq!(sm_arch((9, 0)), "sm_90");
        assert_eq!(sm_arch((10, 0)), "sm_100");
        assert_eq!(compute_arch((8, 6)), "compute_86");
        let archs: Vec<String> = TARGET_CAPABILITIES.into_iter().map(sm_arch).collect();
        assert_eq!(archs, ["sm_80", "sm_90", "sm_100"]);
    }

    #[test]
    fn kernel_names_are_looked_for_whole() {
        assert_eq!(
            missing_in_cubin(b"\0stream_copy\0").len(),
            KERNELS.len() - 1
        );
        assert_eq!(missing_in_cubin(b"\0stream_copyx\0").len(), KERNELS.len());
        assert!(is_elf(b"\x7fELF\x02\x01"));
        assert!(!is_elf(b"//\n// Generated by NVIDIA NVVM Compiler"));
    }

    /// A cubin for each target architecture, with the NVRTC found (the wheels of
    /// scripts/setup.sh): an ELF image holding every kernel.
    #[test]
    fn cubins_for_every_target_are_elf_images_of_every_kernel() {
        let Some(path) = symbols::located_path(&discovery::NVRTC) else {
            assert!(
                std::env::var_os("CLUSTERBENCH_REQUIRE_CUDA_WHEELS").is_none_or(|v| v != "1"),
                "no NVRTC found"
            );
            // The test harness captures `eprintln!`, not writes to the stream itself.
            #[allow(clippy::print_stderr)]
            {
                eprintln!("skipped: no NVRTC (run scripts/setup.sh --test)");
            }
            return;
        };
        // cudarc opens NVRTC by bare names (libnvrtc.so.13, libnvrtc.so.12, ...), and
        // NVRTC its builtins by theirs; glibc hands each the file already loaded under
        // that SONAME, for as long as it stays loaded.
        let dir = path.parent().expect("a directory");
        let builtins = std::fs::read_dir(dir)
            .expect("NVRTC's directory")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("libnvrtc-builtins.so"))
            })
            .expect("NVRTC's builtins beside it");
        // SAFETY: loading NVRTC runs its initialisers only.
        let loaded = unsafe {
            [&builtins, &path].map(|p| libloading::Library::new(p).expect("NVRTC loads"))
        };
        for capability in TARGET_CAPABILITIES {
            let sm = sm_arch(capability);
            let cubin = compile_cubin(&sm).unwrap_or_else(|e| panic!("{sm}: {e:#}"));
            assert!(cubin.len() > 1024, "{sm}: {} bytes", cubin.len());
            assert_eq!(cubin[..4], [0x7f, b'E', b'L', b'F'], "{sm}");
            assert_eq!(missing_in_cubin(&cubin), Vec::<&str>::new(), "{sm}");
            let ptx = compile_ptx(&compute_arch(capability)).expect("PTX compiles");
            assert_eq!(missing_in_ptx(&ptx.to_src()), Vec::<&str>::new(), "{sm}");
        }
        // An architecture NVRTC does not know is an error, not a panic.
        assert!(compile_cubin("sm_1").is_err());
        drop(loaded);
    }
}
