//! The CUDA backend (feature `cuda`): devices through the CUDA driver, kernels compiled
//! at run time with NVRTC, GEMM through cuBLAS, collectives through NCCL. Every library
//! is loaded at run time (`cudarc`'s `dynamic-loading`), so the binary starts and
//! falls back to the CPU on machines without CUDA. All `cudarc` use of the backend
//! stays in this directory and in `comm/nccl.rs`.

pub mod builds;
pub mod check;
mod copies;
pub mod discovery;
pub mod driver_api;
mod fabric;
pub mod inventory;
pub mod kernels;
mod lt;
mod lt_types;
mod matmul;
mod memory;
pub mod nccl;
mod places;
pub mod symbols;
pub mod timing;

use crate::core::p2p::P2pCase;
use crate::core::Communicator;
use crate::core::Workload;
use crate::core::{Backend, CopyKind, CopyWorkload, StreamWorkload};
use crate::core::{Collective, CollectiveCase};
use crate::core::{DType, MatmulShape};
use anyhow::{anyhow, Result};
use cudarc::driver::{CudaContext, CudaFunction, CudaModule, CudaStream};
use discovery::{CudaLib, Found};
use std::sync::{Arc, OnceLock};

pub use inventory::{cuda_stack, gpu_inventory, rank_gpus};

/// Makes the CUDA libraries found outside the loader's path loadable; call first thing
/// in `main`, before MPI or any thread starts (it may re-execute the program).
/// `always`: also when no CUDA driver is present (commands that only compile kernels).
pub fn prepare_loader(always: bool) {
    discovery::expose_to_loader(!always);
}

/// Fails with a clear message naming what was searched unless `lib` can be loaded.
pub fn require(lib: &CudaLib) -> Result<(), String> {
    match discovery::find(lib) {
        Found::Loader { .. } => Ok(()),
        Found::File { path, place } => Err(format!(
            "{} was found at {} ({place}) but the dynamic loader cannot open it under a name cudarc asks for ({}); add its directory to LD_LIBRARY_PATH",
            lib.what,
            path.display(),
            discovery::cudarc_names(lib.name).first().cloned().unwrap_or_default()
        )),
        unusable => Err(discovery::unusable_message(lib, &unusable).unwrap_or_default()),
    }
}

/// No CUDA driver library is anywhere this program looks: a machine without an
/// NVIDIA driver, which is normal for CPU runs and needs no more than one line.
pub fn no_driver_installed() -> bool {
    matches!(discovery::find(&discovery::DRIVER), Found::Missing { .. })
}

/// With no driver library anywhere: the message naming every place searched, which
/// `env` prints in full (a run says only that there is none).
pub fn driver_search_note() -> Option<String> {
    match discovery::find(&discovery::DRIVER) {
        found @ Found::Missing { .. } => discovery::unusable_message(&discovery::DRIVER, &found),
        _ => None,
    }
}

/// Number of CUDA devices, or why there are none usable. Never panics: `cudarc`'s
/// loader panics on a missing library, so presence is tested first.
pub fn probe_devices() -> Result<usize, String> {
    require(&discovery::DRIVER)?;
    match CudaContext::device_count() {
        Ok(0) => Err("the CUDA driver reports no devices".into()),
        Ok(n) => Ok(n as usize),
        Err(e) => Err(format!("the CUDA driver could not be initialised: {e}")),
    }
}

/// Opens the CUDA backend on this rank's device.
pub fn open() -> Result<Box<dyn Backend>, String> {
    open_with(None, 1)
}

/// Opens the CUDA backend; `cuda_graph`: collectives time replays of CUDA graphs of
/// that many calls; `gpus_per_rank`: devices this process drives (`-g`), from its
/// local rank x `gpus_per_rank` (see [`super::gpus::device_range`]).
pub fn open_with(
    cuda_graph: Option<u32>,
    gpus_per_rank: usize,
) -> Result<Box<dyn Backend>, String> {
    let devices = probe_devices()?;
    let ordinals =
        super::gpus::device_range(super::gpus::launcher_local_rank(), gpus_per_rank, devices)?;
    let mut streams = Vec::with_capacity(ordinals.len());
    for ordinal in ordinals.clone() {
        let ctx = CudaContext::new(ordinal)
            .map_err(|e| format!("cannot create a CUDA context on device {ordinal}: {e}"))?;
        // One stream per device, synchronised explicitly: cudarc's per-buffer event
        // tracking would add event records to every timed launch.
        // SAFETY: nothing has been allocated in this context yet.
        unsafe { ctx.disable_event_tracking() };
        let stream = ctx
            .new_stream()
            .map_err(|e| format!("cannot create a CUDA stream on device {ordinal}: {e}"))?;
        streams.push(stream);
    }
    let stream = streams[0].clone();
    Ok(Box::new(CudaBackend {
        ctx: stream.context().clone(),
        stream,
        streams,
        kernels: OnceLock::new(),
        nccl: Default::default(),
        cuda_graph,
        hold: OnceLock::new(),
    }))
}

/// The process's first device, its stream and the kernels compiled for it; with `-g N`
/// also the other devices' streams, over which the NCCL collectives run.
pub struct CudaBackend {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    /// One stream per device driven, the first device's first (`stream`).
    streams: Vec<Arc<CudaStream>>,
    kernels: OnceLock<Arc<CudaModule>>,
    nccl: crate::backend::cuda::nccl::NcclCache,
    cuda_graph: Option<u32>,
    /// The spin kernel that holds streams while timed work is queued; `None` when
    /// it cannot be built (no NVRTC): GPU times then include the launch cost.
    hold: OnceLock<Option<Arc<timing::StreamHold>>>,
}

/// How the kernels were loaded into a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelLoad {
    pub format: kernels::KernelFormat,
    /// The architecture compiled for (`sm_90`, or `compute_90` for PTX).
    pub arch: String,
    /// Why the cubin was not used, when PTX was.
    pub cubin_failed: Option<String>,
}

impl KernelLoad {
    pub fn describe(&self) -> String {
        let base = format!("loaded as {} for {}", self.format.name(), self.arch);
        match &self.cubin_failed {
            Some(why) => format!("{base} (the cubin failed: {why})"),
            None => base,
        }
    }
}

/// [`kernels::SOURCE`] compiled for `ctx`'s device and loaded into it (see
/// [`load_kernels_as`]); says so on stderr when that was PTX, not a cubin.
fn load_kernels(ctx: &Arc<CudaContext>) -> Result<Arc<CudaModule>> {
    let (module, load) = load_kernels_as(ctx)?;
    if load.format != kernels::KernelFormat::Cubin {
        crate::errln!("clusterbench: warning: GPU kernels {}", load.describe());
    }
    Ok(module)
}

/// [`kernels::SOURCE`] compiled for `ctx`'s device and loaded into it: as a cubin for
/// the device's own architecture, or, when that fails to compile or to load, as PTX.
pub fn load_kernels_as(ctx: &Arc<CudaContext>) -> Result<(Arc<CudaModule>, KernelLoad)> {
    require(&discovery::NVRTC).map_err(|e| crate::usage!("{e}"))?;
    let capability = ctx.compute_capability()?;
    let capability = (capability.0.max(0) as u32, capability.1.max(0) as u32);
    let sm = kernels::sm_arch(capability);
    let cubin = kernels::compile_cubin(&sm).and_then(|image| {
        ctx.load_module(cudarc::nvrtc::Ptx::from_binary(image))
            .map_err(|e| anyhow!("the driver did not load the cubin for {sm}: {e}"))
    });
    let cubin_failed = match cubin {
        Ok(module) => {
            let load = KernelLoad {
                format: kernels::KernelFormat::Cubin,
                arch: sm,
                cubin_failed: None,
            };
            return Ok((module, load));
        }
        Err(e) => format!("{e:#}"),
    };
    let compute = kernels::compute_arch(capability);
    let ptx = kernels::compile_ptx(&compute)
        .map_err(|e| e.context(format!("and the cubin failed: {cubin_failed}")))?;
    let module = ctx.load_module(ptx).map_err(|e| {
        anyhow!("the driver did not load the kernels as PTX for {compute} ({e}), and the cubin failed: {cubin_failed}")
    })?;
    Ok((
        module,
        KernelLoad {
            format: kernels::KernelFormat::Ptx,
            arch: compute,
            cubin_failed: Some(cubin_failed),
        },
    ))
}

impl CudaBackend {
    /// A kernel of [`kernels::SOURCE`], compiled on first use for this device.
    fn kernel(&self, name: &str) -> Result<CudaFunction> {
        let module = match self.kernels.get() {
            Some(m) => m.clone(),
            None => {
                let m = load_kernels(&self.ctx)?;
                self.kernels.get_or_init(|| m).clone()
            }
        };
        module
            .load_function(name)
            .map_err(|e| anyhow!("kernel {name} is not in the compiled module: {e}"))
    }

    /// The stream hold of the first device, built on first use.
    fn stream_hold(&self) -> Option<Arc<timing::StreamHold>> {
        self.hold
            .get_or_init(|| {
                let made = self
                    .kernel("hold_stream")
                    .and_then(|f| timing::StreamHold::new(self.stream.clone(), f));
                match made {
                    Ok(h) => Some(Arc::new(h)),
                    Err(e) => {
                        crate::errln!(
                            "clusterbench: warning: GPU times include the host's launch cost (no stream hold: {e:#})"
                        );
                        None
                    }
                }
            })
            .clone()
    }

    /// SMs of the device, to size grids.
    fn sm_count(&self) -> Result<u32> {
        Ok(self.ctx.attribute(
            cudarc::driver::sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT,
        )? as u32)
    }
}

impl Backend for CudaBackend {
    fn name(&self) -> &'static str {
        "cuda"
    }

    fn threads(&self) -> usize {
        1
    }

    fn stream(&self, elements: usize) -> Result<Box<dyn StreamWorkload>> {
        Ok(Box::new(memory::GpuStream::new(self, elements)?))
    }

    fn cache_bytes(&self) -> Option<u64> {
        let l2 = self
            .ctx
            .attribute(cudarc::driver::sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE)
            .ok()?;
        u64::try_from(l2).ok().filter(|&b| b > 0)
    }

    fn copy(&self, kind: CopyKind, bytes: usize) -> Result<CopyWorkload> {
        copies::new(self, kind, bytes)
    }

    fn device_free_bytes(&self) -> Option<u64> {
        self.streams
            .iter()
            .filter_map(|s| s.context().mem_get_info().ok())
            .map(|(free, _)| free as u64)
            .min()
    }

    fn devices_per_rank(&self) -> usize {
        self.streams.len()
    }

    fn gpus_visible(&self) -> usize {
        CudaContext::device_count().map(|n| n as usize).unwrap_or(1)
    }

    fn matmul(&self, dtype: DType, shape: &MatmulShape, seed: u64) -> Result<Box<dyn Workload>> {
        require(&discovery::CUBLAS).map_err(|e| crate::usage!("{e}"))?;
        require(&discovery::CUBLASLT).map_err(|e| crate::usage!("{e}"))?;
        matmul::new(self.stream.clone(), self.stream_hold(), dtype, shape, seed)
    }

    fn supports_in_place(&self, coll: &dyn Collective) -> bool {
        crate::backend::cuda::nccl::supports_in_place(coll)
    }

    fn guard(&self) -> Option<Arc<dyn crate::core::Guard>> {
        Some(self.nccl.guard())
    }

    fn check_config(&self, cfg: &crate::core::BenchConfig) -> Result<()> {
        // A collective's datatypes against the loaded NCCL, before anything runs.
        let narrow = [DType::Bf16, DType::Fp8E4m3, DType::Fp8E5m2];
        if cfg.name != "matmul" && cfg.datatypes.iter().any(|d| narrow.contains(d)) {
            require(&discovery::NCCL).map_err(|e| crate::usage!("{e}"))?;
            let version = crate::backend::cuda::nccl::loaded_version()?;
            for &d in &cfg.datatypes {
                crate::backend::cuda::nccl::nccl_type(d, version)
                    .map_err(|e| crate::usage!("{}: {e}", cfg.name))?;
            }
        }
        Ok(())
    }

    fn point_to_point<'a>(
        &'a self,
        comm: &'a dyn Communicator,
        case: P2pCase,
    ) -> Result<Box<dyn Workload + 'a>> {
        require(&discovery::NCCL).map_err(|e| crate::usage!("{e}"))?;
        crate::backend::cuda::nccl::p2p::workload(&self.nccl, self.stream.clone(), comm, case)
    }

    fn collective<'a>(
        &'a self,
        coll: &'static dyn Collective,
        comm: &'a dyn Communicator,
        case: CollectiveCase,
    ) -> Result<Box<dyn Workload + 'a>> {
        require(&discovery::NCCL).map_err(|e| crate::usage!("{e}"))?;
        let hold = self.stream_hold();
        crate::backend::cuda::nccl::workload(
            &self.nccl,
            &self.streams,
            hold,
            self.cuda_graph,
            coll,
            comm,
            case,
        )
    }
}
