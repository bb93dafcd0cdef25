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

/// Virtual architectures the kernels are proven to compile for (CI): Ampere, Hopper,
/// Blackwell. At run time they are compiled for the device's own capability.
pub const TARGET_ARCHS: [&str; 3] = ["compute_80", "compute_90", "compute_100"];

/// Compiles [`SOURCE`] to PTX for `arch` (e.g. `compute_90`).
pub fn compile(arch: &str) -> Result<cudarc::nvrtc::Ptx> {
    let opts = cudarc::nvrtc::CompileOptions {
        options: vec![format!("--gpu-architecture={arch}"), "-std=c++17".into()],
        name: Some("clusterbench_kernels.cu".into()),
        ..Default::default()
    };
    cudarc::nvrtc::compile_ptx_with_opts(SOURCE, opts)
        .map_err(|e| anyhow!("NVRTC could not compile the kernels for {arch}: {e}"))
}
