//! The C functions of each CUDA library that clusterbench's code paths reach through
//! `cudarc`. `clusterbench cuda-check` resolves each in the real library, so a missing
//! or renamed symbol shows up on a machine without a GPU, not in the middle of a run on
//! one. Keep these lists in step with the code: a new `cudarc` call means a new line.

use super::discovery::{self, CudaLib, Found};
use super::driver_api::CudaVersion;
use std::path::Path;

/// CUDA driver: device queries (inventory), contexts, streams, events, memory, copies,
/// modules and launches (memory bandwidth, matmul buffers, NCCL streams). Each of these
/// is in every driver of CUDA 12.0 or newer (a test holds them to CUDA 12.2's list); a
/// function that newer drivers only have goes into [`DRIVER_VARIANTS`] instead, with
/// the version that introduced it and what older drivers call.
pub const DRIVER: &[&str] = &[
    "cuInit",
    "cuDriverGetVersion",
    "cuDeviceGetCount",
    "cuDeviceGet",
    "cuDeviceGetName",
    "cuDeviceGetUuid_v2",
    "cuDeviceGetAttribute",
    "cuDeviceTotalMem_v2",
    "cuMemGetInfo_v2",
    "cuDeviceGetPCIBusId",
    "cuDevicePrimaryCtxRetain",
    "cuDevicePrimaryCtxRelease_v2",
    "cuCtxSetCurrent",
    "cuCtxGetCurrent",
    "cuCtxSynchronize",
    "cuStreamCreate",
    "cuStreamSynchronize",
    "cuStreamDestroy_v2",
    "cuStreamWaitEvent",
    "cuEventCreate",
    "cuEventRecord",
    "cuEventSynchronize",
    "cuEventQuery",
    "cuEventDestroy_v2",
    "cuMemAllocAsync",
    "cuMemFreeAsync",
    "cuMemcpyHtoDAsync_v2",
    "cuMemcpyDtoHAsync_v2",
    "cuMemsetD8Async",
    "cuMemAlloc_v2",
    "cuMemFree_v2",
    "cuMemHostAlloc",
    "cuMemHostGetDevicePointer_v2",
    "cuMemFreeHost",
    "cuMemcpyDtoDAsync_v2",
    "cuMemcpyPeerAsync",
    "cuDeviceCanAccessPeer",
    "cuDeviceGetP2PAttribute",
    "cuCtxEnablePeerAccess",
    "cuStreamBeginCapture_v2",
    "cuStreamEndCapture",
    "cuGraphInstantiateWithFlags",
    "cuGraphUpload",
    "cuGraphLaunch",
    "cuGraphExecDestroy",
    "cuGraphDestroy",
    "cuModuleLoadData",
    "cuModuleGetFunction",
    "cuModuleUnload",
    "cuLaunchKernel",
    "cuGetErrorString",
    "cuGetErrorName",
];

/// A driver function with a variant per API level: the symbol called from each CUDA
/// version on (ascending), chosen by the loaded driver's version.
#[derive(Debug, Clone, Copy)]
pub struct Variants {
    pub what: &'static str,
    pub since: &'static [(CudaVersion, &'static str)],
}

impl Variants {
    /// The symbol called at `level`; `None` below the first version listed.
    pub fn at(&self, level: CudaVersion) -> Option<&'static str> {
        self.since
            .iter()
            .rev()
            .find(|(from, _)| *from <= level)
            .map(|(_, name)| *name)
    }
}

/// Time between two events: `cuEventElapsedTime_v2` is in drivers from CUDA 12.8.
pub const ELAPSED_TIME: Variants = Variants {
    what: "event timing",
    since: &[
        (CudaVersion(0), "cuEventElapsedTime"),
        (CudaVersion(12080), "cuEventElapsedTime_v2"),
    ],
};

/// The driver functions whose symbol depends on the API level.
pub const DRIVER_VARIANTS: &[Variants] = &[ELAPSED_TIME];

/// The driver symbols the code calls at `level`.
pub fn driver_at(level: CudaVersion) -> Vec<&'static str> {
    let mut names = DRIVER.to_vec();
    names.extend(DRIVER_VARIANTS.iter().filter_map(|v| v.at(level)));
    names
}

/// NVRTC: compiling the kernels (a cubin for the device, PTX as the fallback).
pub const NVRTC: &[&str] = &[
    "nvrtcVersion",
    "nvrtcCreateProgram",
    "nvrtcCompileProgram",
    "nvrtcGetCUBINSize",
    "nvrtcGetCUBIN",
    "nvrtcGetPTXSize",
    "nvrtcGetPTX",
    "nvrtcGetProgramLogSize",
    "nvrtcGetProgramLog",
    "nvrtcDestroyProgram",
    "nvrtcGetErrorString",
];

/// cuBLAS: the GEMMs.
pub const CUBLAS: &[&str] = &[
    "cublasCreate_v2",
    "cublasDestroy_v2",
    "cublasSetStream_v2",
    "cublasSgemm_v2",
    "cublasDgemm_v2",
];

/// cuBLASLt: the tensor-core GEMMs (tf32, bf16, fp16, fp8) and the version.
pub const CUBLASLT: &[&str] = &[
    "cublasLtGetVersion",
    "cublasLtCreate",
    "cublasLtDestroy",
    "cublasLtMatmulDescCreate",
    "cublasLtMatmulDescSetAttribute",
    "cublasLtMatmulDescDestroy",
    "cublasLtMatrixLayoutCreate",
    "cublasLtMatrixLayoutDestroy",
    "cublasLtMatmulPreferenceCreate",
    "cublasLtMatmulPreferenceSetAttribute",
    "cublasLtMatmulPreferenceDestroy",
    "cublasLtMatmulAlgoGetHeuristic",
    "cublasLtMatmul",
];

/// NCCL: communicator set-up, the collectives, point-to-point, grouping, asynchronous
/// errors, abort and the version.
pub const NCCL: &[&str] = &[
    "ncclGetVersion",
    "ncclGetUniqueId",
    "ncclCommInitRank",
    "ncclCommInitRankConfig",
    "ncclCommAbort",
    "ncclCommGetAsyncError",
    "ncclGetErrorString",
    "ncclAllReduce",
    "ncclAllGather",
    "ncclReduceScatter",
    "ncclBroadcast",
    "ncclSend",
    "ncclRecv",
    "ncclGroupStart",
    "ncclGroupEnd",
];

/// The symbols used from `lib`; for the driver, those called at `level` (the loaded
/// driver's), or at the newest level when there is no driver.
pub fn used(lib: &CudaLib, level: Option<CudaVersion>) -> Vec<&'static str> {
    match lib.name {
        "cuda" => driver_at(level.unwrap_or(CudaVersion(i32::MAX))),
        "nvrtc" => NVRTC.to_vec(),
        "cublas" => CUBLAS.to_vec(),
        "cublasLt" => CUBLASLT.to_vec(),
        "nccl" => NCCL.to_vec(),
        _ => Vec::new(),
    }
}

/// Opens `path` and returns the symbols of `lib` used at `level` that it lacks.
pub fn missing_in(
    lib: &CudaLib,
    path: &Path,
    level: Option<CudaVersion>,
) -> Result<Vec<&'static str>, String> {
    // SAFETY: loading a CUDA library runs its initialisers only; no symbol is called.
    let handle = unsafe { libloading::Library::new(path) }
        .map_err(|e| format!("cannot load {}: {e}", path.display()))?;
    Ok(used(lib, level)
        .into_iter()
        .filter(|name| {
            // SAFETY: only the address is looked up; it is never called here.
            unsafe { handle.get::<unsafe extern "C" fn()>(name.as_bytes()) }.is_err()
        })
        .collect())
}

/// The file `find` located for `lib` to use, by path (or by the name the loader opens);
/// `None` when none was found usable.
pub fn located_path(lib: &CudaLib) -> Option<std::path::PathBuf> {
    match discovery::find(lib) {
        Found::Loader { name, path } => Some(path.unwrap_or_else(|| name.into())),
        Found::File { path, .. } => Some(path),
        Found::Missing { .. } | Found::TooNew { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CUDA 12.2's driver functions, from cudarc's bindings (not from these lists).
    fn cuda_12_2() -> Vec<&'static str> {
        include_str!("../../../tests/fixtures/cuda-12.2-driver-symbols.txt")
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    }

    #[test]
    fn every_driver_function_called_at_12_2_is_in_cuda_12_2() {
        let known = cuda_12_2();
        let absent: Vec<&str> = driver_at(CudaVersion(12020))
            .into_iter()
            .filter(|s| !known.contains(s))
            .collect();
        assert!(
            absent.is_empty(),
            "not in CUDA 12.2's driver (give them a variant in DRIVER_VARIANTS): {absent:?}"
        );
    }

    #[test]
    fn levels_pick_their_own_variants() {
        let at_12_2 = driver_at(CudaVersion(12020));
        assert!(at_12_2.contains(&"cuEventElapsedTime"));
        assert!(!at_12_2.contains(&"cuEventElapsedTime_v2"));
        let at_12_8 = driver_at(CudaVersion(12080));
        assert!(at_12_8.contains(&"cuEventElapsedTime_v2"));
        assert!(!at_12_8.contains(&"cuEventElapsedTime"));
        for v in DRIVER_VARIANTS {
            assert!(
                v.since.windows(2).all(|w| w[0].0 < w[1].0),
                "{}: ascending",
                v.what
            );
            assert!(v.since.iter().all(|(_, name)| !DRIVER.contains(name)));
        }
    }

    #[test]
    fn no_function_is_listed_twice() {
        for list in [DRIVER, NVRTC, CUBLAS, CUBLASLT, NCCL] {
            let mut sorted = list.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), list.len(), "{list:?}");
        }
    }
}
