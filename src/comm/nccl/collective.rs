//! The collectives through NCCL: all-reduce, all-gather, reduce-scatter, broadcast
//! (from rank 0) and all-to-all (grouped sends and receives), chosen by the
//! collective's [`CollectiveKind`], on buffers of any datatype the loaded NCCL has.
//!
//! In place, NCCL's layouts are used: all-gather's input is this rank's block of the
//! output (`recvbuff + rank * sendcount`), reduce-scatter's output is this rank's block
//! of the input (`sendbuff + rank * recvcount`).

use super::{address, count_wrong, encode_all, grouped, handle, nccl_type, NcclCache, NcclHandle};
use crate::comm::Communicator;
use crate::options::ReduceOp;
use crate::runner::collective::{
    initial_values, params, Collective, CollectiveCase, CollectiveKind,
};
use crate::runner::{LocalCheck, Workload};
use anyhow::{anyhow, Context, Result};
use cudarc::driver::{
    sys::{CUevent_flags, CUgraphInstantiate_flags, CUstreamCaptureMode},
    CudaGraph, CudaSlice, CudaStream,
};
use cudarc::nccl::{result, sys};
use std::sync::Arc;

/// Whether the NCCL path measures `coll` in place: every collective NCCL has as one
/// call. All-to-all (grouped sends and receives) runs out of place only.
pub fn supports_in_place(coll: &dyn Collective) -> bool {
    matches!(
        coll.kind(),
        Some(
            CollectiveKind::AllReduce
                | CollectiveKind::Broadcast
                | CollectiveKind::AllGather
                | CollectiveKind::ReduceScatter
        )
    )
}

/// A collective point on the GPU through NCCL.
pub fn workload<'a>(
    cache: &NcclCache,
    stream: Arc<CudaStream>,
    graph_calls: Option<u32>,
    coll: &'static dyn Collective,
    comm: &'a dyn Communicator,
    case: CollectiveCase,
) -> Result<Box<dyn Workload + 'a>> {
    let kind = coll.kind().ok_or_else(|| {
        crate::usage!(
            "{} has no NCCL implementation; run it with --backend cpu",
            coll.name()
        )
    })?;
    if case.in_place && !supports_in_place(coll) {
        return Err(crate::usage!(
            "in-place {} is not measured through NCCL; the NCCL path runs it out of place",
            coll.name()
        ));
    }
    let op = match case.op {
        ReduceOp::Sum => sys::ncclRedOp_t::ncclSum,
        ReduceOp::Prod => sys::ncclRedOp_t::ncclProd,
        ReduceOp::Min => sys::ncclRedOp_t::ncclMin,
        ReduceOp::Max => sys::ncclRedOp_t::ncclMax,
        other => {
            return Err(crate::usage!(
                "NCCL has no {other} reduction; use sum, prod, min or max"
            ))
        }
    };
    let nccl = handle(cache, &stream, comm)?;
    let ty = nccl_type(case.dtype, nccl.version)?;
    let mut w = NcclCollective::new(stream, nccl, kind, coll, comm, case, op, ty)?;
    w.graph_calls = graph_calls;
    Ok(Box::new(w))
}

struct NcclCollective<'a> {
    stream: Arc<CudaStream>,
    nccl: Arc<NcclHandle>,
    kind: CollectiveKind,
    coll: &'static dyn Collective,
    comm: &'a dyn Communicator,
    case: CollectiveCase,
    op: sys::ncclRedOp_t,
    ty: sys::ncclDataType_t,
    /// Elements of the (send, receive) buffers of [`Collective::counts`].
    counts: (usize, usize),
    /// Out of place only (one byte in place).
    send: CudaSlice<u8>,
    /// The output; in place also the input, sized for the larger of the two.
    buf: CudaSlice<u8>,
    /// In place, the element offsets of the input and of the output in `buf`.
    input_at: usize,
    output_at: usize,
    /// Calls per CUDA graph, and the graph once captured.
    graph_calls: Option<u32>,
    graph: Option<CudaGraph>,
}

impl<'a> NcclCollective<'a> {
    #[allow(clippy::too_many_arguments)]
    fn new(
        stream: Arc<CudaStream>,
        nccl: Arc<NcclHandle>,
        kind: CollectiveKind,
        coll: &'static dyn Collective,
        comm: &'a dyn Communicator,
        case: CollectiveCase,
        op: sys::ncclRedOp_t,
        ty: sys::ncclDataType_t,
    ) -> Result<Self> {
        let (rank, ranks) = (comm.rank(), comm.size());
        let (send_count, recv_count) = coll.counts(case.count, ranks);
        let size = case.dtype.size();
        let (send_len, buf_len) = if case.in_place {
            (1, send_count.max(recv_count) * size)
        } else {
            (send_count * size, recv_count * size)
        };
        let (input_at, output_at) = match (case.in_place, kind) {
            (false, _) => (0, 0),
            (true, CollectiveKind::ReduceScatter) => (0, rank * recv_count),
            (true, _) => (coll.in_place_input_offset(case.count, rank, ranks), 0),
        };
        let send = stream
            .alloc_zeros::<u8>(send_len)
            .context("allocating collective buffers on the GPU")?;
        let buf = stream
            .alloc_zeros::<u8>(buf_len)
            .context("allocating collective buffers on the GPU")?;
        let mut me = NcclCollective {
            stream,
            nccl,
            kind,
            coll,
            comm,
            case,
            op,
            ty,
            counts: (send_count, recv_count),
            send,
            buf,
            input_at,
            output_at,
            graph_calls: None,
            graph: None,
        };
        me.fill_inputs(false)?;
        Ok(me)
    }

    /// The point in words (`allreduce 1 MiB bf16 sum in-place`), for errors.
    fn what(&self) -> String {
        let c = &self.case;
        crate::runner::describe(
            self.coll.name(),
            &params(self.coll, c.dtype, c.op, c.in_place, c.count),
        )
    }

    fn fill_inputs(&mut self, for_check: bool) -> Result<()> {
        let (rank, ranks) = (self.comm.rank(), self.comm.size());
        let corrupt = for_check && self.case.corrupt;
        let (input, received) = initial_values(self.coll, self.case, rank, ranks, corrupt);
        let dtype = self.case.dtype;
        if !self.case.in_place {
            let bytes = encode_all(dtype, (0..self.counts.0).map(input));
            self.stream.memcpy_htod(&bytes, &mut self.send)?;
        }
        let elements = self.buf.len() / dtype.size();
        let bytes = encode_all(dtype, (0..elements).map(received));
        self.stream.memcpy_htod(&bytes, &mut self.buf)?;
        self.stream.synchronize()?;
        Ok(())
    }

    /// Queues one collective call on the stream.
    fn call(&mut self) -> Result<()> {
        let stream = self.stream.cu_stream() as sys::cudaStream_t;
        let size = self.case.dtype.size();
        let (send_count, recv_count) = self.counts;
        let (sendp, recvp) = if self.case.in_place {
            (
                address(&self.buf, &self.stream, self.input_at * size),
                address(&self.buf, &self.stream, self.output_at * size),
            )
        } else {
            (
                address(&self.send, &self.stream, 0),
                address(&self.buf, &self.stream, 0),
            )
        };
        let (ty, op, nccl) = (self.ty, self.op, &self.nccl);
        // SAFETY (every call below): device buffers of this context, sized by
        // `Collective::counts` for this rank count, on this context's stream.
        match self.kind {
            CollectiveKind::AllReduce => nccl.with("all-reduce", |c| unsafe {
                result::all_reduce(sendp, recvp, recv_count, ty, op, c, stream)
            }),
            CollectiveKind::Broadcast => nccl.with("broadcast", |c| unsafe {
                result::broadcast(sendp, recvp, recv_count, ty, 0, c, stream)
            }),
            CollectiveKind::AllGather => nccl.with("all-gather", |c| unsafe {
                result::all_gather(sendp, recvp, send_count, ty, c, stream)
            }),
            CollectiveKind::ReduceScatter => nccl.with("reduce-scatter", |c| unsafe {
                result::reduce_scatter(sendp, recvp, recv_count, ty, op, c, stream)
            }),
            CollectiveKind::AllToAll => {
                let block = send_count / nccl.size;
                grouped(|| {
                    for peer in 0..nccl.size {
                        let at = (peer * block * size) as u64;
                        let (s, r) = (sendp as u64 + at, recvp as u64 + at);
                        nccl.with("all-to-all send", |c| unsafe {
                            result::send(s as _, block, ty, peer as _, c, stream)
                        })?;
                        nccl.with("all-to-all receive", |c| unsafe {
                            result::recv(r as _, block, ty, peer as _, c, stream)
                        })?;
                    }
                    Ok(())
                })
            }
        }
        .map_err(|e| anyhow!("{}: {e}; NCCL_DEBUG=WARN tells more", self.what()))
    }

    /// Captures `calls` collective calls into one CUDA graph (NCCL supports capture).
    fn capture(&mut self, calls: u32) -> Result<CudaGraph> {
        let stream = self.stream.clone();
        stream.begin_capture(CUstreamCaptureMode::CU_STREAM_CAPTURE_MODE_THREAD_LOCAL)?;
        let mut outcome = Ok(());
        for _ in 0..calls {
            outcome = self.call();
            if outcome.is_err() {
                break;
            }
        }
        // The capture must end even when a call failed, or the stream stays unusable.
        let graph = stream.end_capture(CUgraphInstantiate_flags(0));
        outcome?;
        graph?.ok_or_else(|| anyhow!("CUDA graph capture of {} produced no graph", self.what()))
    }

    /// Waits for everything queued so far, polling NCCL for asynchronous errors.
    fn finish(&self) -> Result<cudarc::driver::CudaEvent> {
        let end = self
            .stream
            .record_event(Some(CUevent_flags::CU_EVENT_DEFAULT))?;
        self.nccl.wait(&end, &|| self.what())?;
        Ok(end)
    }
}

impl Workload for NcclCollective<'_> {
    fn iterate(&mut self) -> Result<f64> {
        if let (Some(calls), None) = (self.graph_calls, &self.graph) {
            let graph = self.capture(calls)?;
            graph.upload()?;
            self.graph = Some(graph);
        }
        let start = self
            .stream
            .record_event(Some(CUevent_flags::CU_EVENT_DEFAULT))?;
        match &self.graph {
            Some(g) => g.launch()?,
            None => self.call()?,
        }
        let end = self.finish()?;
        let seconds = f64::from(start.elapsed_ms(&end)?) / 1e3;
        // A replay runs `calls` collectives back to back: report the time of one.
        Ok(seconds / f64::from(self.graph_calls.unwrap_or(1)))
    }

    fn verify(&mut self) -> Result<LocalCheck> {
        self.fill_inputs(true)?;
        self.call()?;
        self.finish()?;
        let out = self.stream.clone_dtoh(&self.buf)?;
        let dtype = self.case.dtype;
        let recv_count = self.counts.1;
        let at = self.output_at * dtype.size();
        let output = &out[at..at + recv_count * dtype.size()];
        let expected = self.coll.expected(
            self.case.op,
            dtype,
            self.comm.rank(),
            self.comm.size(),
            self.case.count,
        );
        Ok(LocalCheck {
            checked: recv_count as u64,
            wrong: count_wrong(dtype, output, expected),
            max_error_ratio: None,
            method: "exact: every received element against its computed value (NCCL)",
        })
    }
}
