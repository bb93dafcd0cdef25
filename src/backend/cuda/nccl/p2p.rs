//! Point-to-point through NCCL on device buffers: the NCCL moves of the shared schedule
//! in [`crate::core::p2p`] (same windows, timing rule and byte-by-byte check as on
//! the host), timed with CUDA events.

use super::{address, grouped, handle, NcclCache, NcclHandle};
use crate::core::p2p::{P2pCase, P2pEndpoint, P2pWorkload};
use crate::core::Communicator;
use crate::core::Workload;
use anyhow::{Context, Result};
use cudarc::driver::{sys::CUevent_flags, CudaEvent, CudaSlice, CudaStream};
use cudarc::nccl::{result, sys};
use std::sync::Arc;

/// Bytes of the acknowledgement closing a one-way window.
const ACK: usize = 4;

/// This rank's part in a point-to-point case on the GPU.
pub fn workload<'a>(
    cache: &NcclCache,
    stream: Arc<CudaStream>,
    comm: &'a dyn Communicator,
    case: P2pCase,
) -> Result<Box<dyn Workload + 'a>> {
    // Every rank makes the communicator, in the pair or not: NCCL's set-up is collective.
    let nccl = handle(cache, &stream, comm)?;
    let what = crate::results::describe::describe(
        "p2p",
        &crate::results::Params::PointToPoint {
            mode: case.mode.name().to_string(),
            bytes: case.bytes as u64,
            window: case.window as u32,
            from: case.pair.0 as u32,
            to: case.pair.1 as u32,
            from_host: String::new(),
            to_host: String::new(),
        },
    );
    Ok(Box::new(P2pWorkload::new(
        comm.rank(),
        case,
        |bytes, slots| {
            let alloc = |n: usize| {
                stream
                    .alloc_zeros::<u8>(n.max(1))
                    .context("allocating point-to-point buffers on the GPU")
            };
            Ok(NcclEndpoint {
                nccl,
                bytes,
                send: alloc(bytes)?,
                recv: alloc(bytes * slots)?,
                // One half sent, the other received.
                ack: alloc(2 * ACK)?,
                start: None,
                stream: stream.clone(),
                what,
            })
        },
    )?))
}

/// Device buffers and the NCCL communicator.
struct NcclEndpoint {
    nccl: Arc<NcclHandle>,
    stream: Arc<CudaStream>,
    bytes: usize,
    send: CudaSlice<u8>,
    /// The receive slots of `bytes` each.
    recv: CudaSlice<u8>,
    ack: CudaSlice<u8>,
    start: Option<CudaEvent>,
    /// The case in words, for errors.
    what: String,
}

impl NcclEndpoint {
    /// Posts a send (`send`) or a receive of `bytes` at `at` with `peer`.
    fn post(&self, send: bool, at: *mut std::ffi::c_void, bytes: usize, peer: usize) -> Result<()> {
        let stream = self.stream.cu_stream() as sys::cudaStream_t;
        let ty = sys::ncclDataType_t::ncclUint8;
        let peer = peer as std::ffi::c_int;
        // SAFETY: `bytes` bytes of a device buffer of this context, on its stream.
        if send {
            self.nccl.with("send", |c| unsafe {
                result::send(at, bytes, ty, peer, c, stream)
            })
        } else {
            self.nccl.with("receive", |c| unsafe {
                result::recv(at, bytes, ty, peer, c, stream)
            })
        }
    }

    fn record(&self) -> Result<CudaEvent> {
        Ok(self
            .stream
            .record_event(Some(CUevent_flags::CU_EVENT_DEFAULT))?)
    }
}

impl P2pEndpoint for NcclEndpoint {
    fn exchange(&mut self, peer: usize, sends: usize, receives: usize) -> Result<()> {
        let message = address(&self.send, &self.stream, 0);
        let slots: Vec<_> = (0..receives)
            .map(|k| address(&self.recv, &self.stream, k * self.bytes))
            .collect();
        let post = || -> Result<()> {
            for _ in 0..sends {
                self.post(true, message, self.bytes, peer)?;
            }
            for &slot in &slots {
                self.post(false, slot, self.bytes, peer)?;
            }
            Ok(())
        };
        // One call needs no group; several in flight at once do (both directions of a
        // bidirectional window would otherwise wait on each other).
        if sends + receives > 1 {
            grouped(Some(self.nccl.as_ref()), post)
        } else {
            post()
        }
    }

    fn send_ack(&mut self, peer: usize) -> Result<()> {
        self.post(true, address(&self.ack, &self.stream, 0), ACK, peer)
    }

    fn recv_ack(&mut self, peer: usize) -> Result<()> {
        self.post(false, address(&self.ack, &self.stream, ACK), ACK, peer)
    }

    fn start_clock(&mut self) -> Result<()> {
        self.start = Some(self.record()?);
        Ok(())
    }

    fn stop_clock(&mut self) -> Result<f64> {
        let end = self.record()?;
        self.nccl.wait(&end, &|| self.what.clone())?;
        let start = self
            .start
            .take()
            .context("the point-to-point clock was stopped before it started")?;
        crate::backend::cuda::driver_api::elapsed_seconds(&start, &end)
    }

    fn load_message(&mut self, message: &[u8]) -> Result<()> {
        if !message.is_empty() {
            self.stream.memcpy_htod(message, &mut self.send)?;
        }
        self.stream.synchronize()?;
        Ok(())
    }

    fn clear_received(&mut self) -> Result<()> {
        self.stream.memset_zeros(&mut self.recv)?;
        Ok(())
    }

    fn received(&mut self) -> Result<Vec<u8>> {
        Ok(self.stream.clone_dtoh(&self.recv)?)
    }

    fn check_method(&self) -> &'static str {
        "exact: every received byte against the sender's pattern (NCCL)"
    }
}
