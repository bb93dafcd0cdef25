//! The C functions of each CUDA library that clusterbench's code paths reach through
//! `cudarc`. `clusterbench cuda-check` resolves each in the real library, so a missing
//! or renamed symbol shows up on a machine without a GPU, not in the middle of a run on
//! one. Keep these lists in step with the code: a new `cudarc` call means a new line.

use super::discovery::{self, CudaLib, Found};
use std::path::Path;

/// CUDA driver: device queries (inventory), contexts, streams, events, memory, copies,
/// modules and launches (memory bandwidth, matmul buffers, NCCL streams).
pub const DRIVER: &[&str] = &[
    "cuInit",
    "cuDriverGetVersion",
    "cuDeviceGetCount",
    "cuDeviceGet",
    "cuDeviceGetName",
    "cuDeviceGetUuid_v2",
    "cuDeviceGetAttribute",
    "cuDeviceTotalMem_v2",
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
    "cuEventElapsedTime_v2",
    "cuEventDestroy_v2",
    "cuMemAllocAsync",
    "cuMemFreeAsync",
    "cuMemcpyHtoDAsync_v2",
    "cuMemcpyDtoHAsync_v2",
    "cuMemsetD8Async",
    "cuMemAlloc_v2",
    "cuMemFree_v2",
    "cuMemHostAlloc",
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

/// NVRTC: compiling the kernels.
pub const NVRTC: &[&str] = &[
    "nvrtcVersion",
    "nvrtcCreateProgram",
    "nvrtcCompileProgram",
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

/// The symbols used from `lib`.
pub fn used(lib: &CudaLib) -> &'static [&'static str] {
    match lib.name {
        "cuda" => DRIVER,
        "nvrtc" => NVRTC,
        "cublas" => CUBLAS,
        "cublasLt" => CUBLASLT,
        "nccl" => NCCL,
        _ => &[],
    }
}

/// Opens `path` and returns the used symbols of `lib` it lacks.
pub fn missing_in(lib: &CudaLib, path: &Path) -> Result<Vec<&'static str>, String> {
    // SAFETY: loading a CUDA library runs its initialisers only; no symbol is called.
    let handle = unsafe { libloading::Library::new(path) }
        .map_err(|e| format!("cannot load {}: {e}", path.display()))?;
    Ok(used(lib)
        .iter()
        .copied()
        .filter(|name| {
            // SAFETY: only the address is looked up; it is never called here.
            unsafe { handle.get::<unsafe extern "C" fn()>(name.as_bytes()) }.is_err()
        })
        .collect())
}

/// The file `find` located for `lib`, by path (a loader name is opened as it is).
pub fn located_path(lib: &CudaLib) -> Result<std::path::PathBuf, Vec<String>> {
    match discovery::find(lib) {
        Found::Loader(name) => Ok(name.into()),
        Found::File { path, .. } => Ok(path),
        Found::Missing { searched } => Err(searched),
    }
}
