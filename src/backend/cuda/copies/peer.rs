//! Peer copies: buffers that peer access really covers, and the path of each pair.
//!
//! `cuCtxEnablePeerAccess` maps a peer context's `cuMemAlloc` allocations, past and
//! future, but not the stream-ordered pool's (`cuMemAllocAsync`, cudarc's `alloc`):
//! a pool's memory reaches a peer only through `cuMemPoolSetAccess`. Peer buffers are
//! therefore plain `cuMemAlloc` allocations, as nvbandwidth makes them. Setting access
//! on the pool instead would map every later allocation of the device's default pool
//! (the other benchmarks' buffers too) into every peer for the rest of the process,
//! and needs a driver and device with memory pools; plain allocations keep the change
//! to the buffers measured here.

use super::DevMem;
use crate::backend::peer::{classify, PeerAccess};
use crate::core::PeerPath;
use anyhow::{Context, Result};
use cudarc::driver::{result, sys, CudaContext, CudaFunction, CudaStream};
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

/// Lets `ctx`'s device reach `peer`'s memory directly, where the hardware can.
fn enable_access(ctx: &Arc<CudaContext>, peer: &Arc<CudaContext>) -> PeerAccess {
    let mut can: std::ffi::c_int = 0;
    // SAFETY: both devices are valid; writes one int.
    let asked = unsafe { sys::cuDeviceCanAccessPeer(&mut can, ctx.cu_device(), peer.cu_device()) };
    if asked != sys::CUresult::CUDA_SUCCESS {
        return PeerAccess::Failed(format!("cuDeviceCanAccessPeer: {asked:?}"));
    }
    if can == 0 {
        return PeerAccess::Unsupported;
    }
    if let Err(e) = ctx.bind_to_thread() {
        return PeerAccess::Failed(e.to_string());
    }
    // SAFETY: `peer` is a live context and `ctx` is current; a second enable is
    // reported as already enabled.
    match unsafe { sys::cuCtxEnablePeerAccess(peer.cu_ctx(), 0) } {
        sys::CUresult::CUDA_SUCCESS | sys::CUresult::CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED => {
            PeerAccess::Enabled
        }
        other => PeerAccess::Failed(format!("{other:?}")),
    }
}

/// One attribute of the link from `src` to `dst`, None if the driver will not say.
fn link_attribute(
    attribute: sys::CUdevice_P2PAttribute,
    src: &CudaContext,
    dst: &CudaContext,
) -> Option<i32> {
    let mut value: std::ffi::c_int = 0;
    // SAFETY: both devices are valid; writes one int.
    unsafe { sys::cuDeviceGetP2PAttribute(&mut value, attribute, src.cu_device(), dst.cu_device()) }
        .result()
        .ok()
        .map(|()| value)
}

/// Enables peer access both ways between GPUs `src` and `dst` (contexts `cs` and
/// `cd`) where the hardware allows, and says which path their copies take.
pub(super) fn connect(
    cs: &Arc<CudaContext>,
    cd: &Arc<CudaContext>,
    src: usize,
    dst: usize,
) -> PeerPath {
    use sys::CUdevice_P2PAttribute as A;
    let src_to_dst = enable_access(cs, cd);
    let dst_to_src = enable_access(cd, cs);
    let linked = link_attribute(A::CU_DEVICE_P2P_ATTRIBUTE_ACCESS_SUPPORTED, cs, cd) == Some(1);
    let (rank, atomics) = if linked {
        (
            link_attribute(A::CU_DEVICE_P2P_ATTRIBUTE_PERFORMANCE_RANK, cs, cd),
            link_attribute(A::CU_DEVICE_P2P_ATTRIBUTE_NATIVE_ATOMIC_SUPPORTED, cs, cd)
                .map(|v| v != 0),
        )
    } else {
        (None, None)
    };
    classify(src, dst, &src_to_dst, &dst_to_src, rank, atomics)
}

/// A [`DevMem`] whose buffer comes from `cuMemAlloc` and goes back with `cuMemFree`
/// (cudarc would free it into the stream-ordered pool it did not come from).
pub(super) struct PeerMem(ManuallyDrop<DevMem>);

impl PeerMem {
    /// `words` zeroed words on `stream`'s device, with the pattern kernels of its module.
    pub(super) fn new(
        stream: Arc<CudaStream>,
        words: usize,
        fill: CudaFunction,
        count: CudaFunction,
        grid: u32,
    ) -> Result<Self> {
        stream.context().bind_to_thread()?;
        // SAFETY: a plain allocation of the size asked; it is owned by the PeerMem
        // below from here on, which frees it once.
        let ptr = unsafe { result::malloc_sync(words * std::mem::size_of::<u64>()) }
            .context("allocating peer-accessible device memory (cuMemAlloc)")?;
        // SAFETY: `ptr` holds `words` u64; event tracking is off in the peer contexts
        // (open_gpu), so no event is created; the memory is zeroed below before use.
        let buf = unsafe { stream.upgrade_device_ptr::<u64>(ptr, words) };
        let mut mem = PeerMem(ManuallyDrop::new(DevMem {
            stream,
            buf,
            fill,
            count,
            grid,
        }));
        mem.clear()?;
        Ok(mem)
    }
}

impl Deref for PeerMem {
    type Target = DevMem;
    fn deref(&self) -> &DevMem {
        &self.0
    }
}

impl DerefMut for PeerMem {
    fn deref_mut(&mut self) -> &mut DevMem {
        &mut self.0
    }
}

impl Drop for PeerMem {
    fn drop(&mut self) {
        // SAFETY: taken once, here; the field is never used again.
        let DevMem { stream, buf, .. } = unsafe { ManuallyDrop::take(&mut self.0) };
        // Errors at teardown are not actionable; the memory is freed whatever they say.
        let _ = stream.synchronize();
        let ptr = buf.leak();
        let _ = stream.context().bind_to_thread();
        // SAFETY: allocated by cuMemAlloc in this context, no work on it is pending,
        // and cudarc no longer owns it (leaked above).
        let _ = unsafe { result::free_sync(ptr) };
    }
}
