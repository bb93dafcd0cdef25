//! The collectives through NCCL: all-reduce, all-gather, reduce-scatter, broadcast
//! (from rank 0) and all-to-all (grouped sends and receives), chosen by the
//! collective's [`CollectiveKind`], on buffers of any datatype the loaded NCCL has.
//!
//! A process driving several GPUs (`-g N`) issues each call as one NCCL group over its
//! devices; each device is one rank of the collective (NCCL rank `rank x N + j`), with
//! its own inputs and expected output, and an iteration's time is its slowest device's.
//!
//! In place, NCCL's layouts are used: all-gather's input is this rank's block of the
//! output (`recvbuff + rank * sendcount`), reduce-scatter's output is this rank's block
//! of the input (`sendbuff + rank * recvcount`).

use super::{
    address, count_wrong, encode_all, grouped, handle_on, nccl_type, NcclCache, NcclHandle,
};
use crate::backend::cuda::timing::{self, StreamHold};
use crate::core::collective::initial_values;
use crate::core::timing::{Schedule, MAX_BATCH};
use crate::core::Communicator;
use crate::core::ReduceOp;
use crate::core::{Collective, CollectiveCase, CollectiveKind};
use crate::core::{LocalCheck, Workload};
use crate::results::describe::params;
use anyhow::{anyhow, Context, Result};
use cudarc::driver::{
    sys::{CUevent_flags, CUgraphInstantiate_flags, CUstreamCaptureMode},
    CudaEvent, CudaGraph, CudaSlice, CudaStream,
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

/// A collective point on the GPU through NCCL, over every device in `streams`.
pub fn workload<'a>(
    cache: &NcclCache,
    streams: &[Arc<CudaStream>],
    hold: Option<Arc<StreamHold>>,
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
    if graph_calls.is_some() && streams.len() > 1 {
        return Err(crate::usage!(
            "--cuda-graph is not supported with -g {}",
            streams.len()
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
    let nccl = handle_on(cache, streams, comm)?;
    let ty = nccl_type(case.dtype, nccl.version)?;
    let mut w = NcclCollective::new(streams, nccl, kind, coll, case, op, ty)?;
    w.graph_calls = graph_calls;
    w.hold = hold;
    Ok(Box::new(w))
}

/// One device's part of a collective: its stream, buffers and rank.
struct Device {
    stream: Arc<CudaStream>,
    /// The device's rank in the collective (its NCCL rank).
    rank: usize,
    /// Out of place only (one byte in place).
    send: CudaSlice<u8>,
    /// The output; in place also the input, sized for the larger of the two.
    buf: CudaSlice<u8>,
    /// In place, the element offsets of the input and of the output in `buf`.
    input_at: usize,
    output_at: usize,
}

struct NcclCollective {
    nccl: Arc<NcclHandle>,
    kind: CollectiveKind,
    coll: &'static dyn Collective,
    case: CollectiveCase,
    op: sys::ncclRedOp_t,
    ty: sys::ncclDataType_t,
    /// Elements of the (send, receive) buffers of [`Collective::counts`].
    counts: (usize, usize),
    /// Ranks of the collective: GPUs in the communicator.
    ranks: usize,
    /// The devices this process drives, in NCCL rank order.
    devices: Vec<Device>,
    /// Calls per CUDA graph, and the graph once captured (one device only).
    graph_calls: Option<u32>,
    graph: Option<CudaGraph>,
    /// Holds the streams while a batch of timed calls is queued.
    hold: Option<Arc<StreamHold>>,
    /// Whether a call has run: the first sets up NCCL's connections, which must not
    /// happen while the streams are held.
    warmed: bool,
}

impl NcclCollective {
    fn new(
        streams: &[Arc<CudaStream>],
        nccl: Arc<NcclHandle>,
        kind: CollectiveKind,
        coll: &'static dyn Collective,
        case: CollectiveCase,
        op: sys::ncclRedOp_t,
        ty: sys::ncclDataType_t,
    ) -> Result<Self> {
        let ranks = nccl.size;
        let (send_count, recv_count) = coll.counts(case.count, ranks);
        let size = case.dtype.size();
        let (send_len, buf_len) = if case.in_place {
            (1, send_count.max(recv_count) * size)
        } else {
            (send_count * size, recv_count * size)
        };
        let mut devices = Vec::with_capacity(streams.len());
        for (j, stream) in streams.iter().enumerate() {
            let rank = nccl.rank + j;
            let (input_at, output_at) = match (case.in_place, kind) {
                (false, _) => (0, 0),
                (true, CollectiveKind::ReduceScatter) => (0, rank * recv_count),
                (true, _) => (coll.in_place_input_offset(case.count, rank, ranks), 0),
            };
            let alloc = |len| {
                stream
                    .alloc_zeros::<u8>(len)
                    .context("allocating collective buffers on the GPU")
            };
            devices.push(Device {
                stream: stream.clone(),
                rank,
                send: alloc(send_len)?,
                buf: alloc(buf_len)?,
                input_at,
                output_at,
            });
        }
        let mut me = NcclCollective {
            nccl,
            kind,
            coll,
            case,
            op,
            ty,
            counts: (send_count, recv_count),
            ranks,
            devices,
            graph_calls: None,
            graph: None,
            hold: None,
            warmed: false,
        };
        me.fill_inputs(false)?;
        Ok(me)
    }

    /// The point in words (`allreduce 1 MiB bf16 sum in-place`), for errors.
    fn what(&self) -> String {
        let c = &self.case;
        crate::results::describe::describe(
            self.coll.name(),
            &params(self.coll, c.dtype, c.op, c.in_place, c.count, self.ranks),
        )
    }

    fn fill_inputs(&mut self, for_check: bool) -> Result<()> {
        let dtype = self.case.dtype;
        for (j, d) in self.devices.iter_mut().enumerate() {
            // The test-only corruption hits the process's first device.
            let corrupt = for_check && self.case.corrupt && j == 0;
            let (input, received) =
                initial_values(self.coll, self.case, d.rank, self.ranks, corrupt);
            if !self.case.in_place {
                let bytes = encode_all(dtype, (0..self.counts.0).map(input));
                d.stream.memcpy_htod(&bytes, &mut d.send)?;
            }
            let elements = d.buf.len() / dtype.size();
            let bytes = encode_all(dtype, (0..elements).map(received));
            d.stream.memcpy_htod(&bytes, &mut d.buf)?;
        }
        for d in &self.devices {
            d.stream.synchronize()?;
        }
        Ok(())
    }

    /// Queues device `j`'s part of one collective call on its stream.
    fn post(&self, j: usize) -> Result<()> {
        let d = &self.devices[j];
        let stream = d.stream.cu_stream() as sys::cudaStream_t;
        let size = self.case.dtype.size();
        let (send_count, recv_count) = self.counts;
        let (sendp, recvp) = if self.case.in_place {
            (
                address(&d.buf, &d.stream, d.input_at * size),
                address(&d.buf, &d.stream, d.output_at * size),
            )
        } else {
            (
                address(&d.send, &d.stream, 0),
                address(&d.buf, &d.stream, 0),
            )
        };
        let (ty, op, nccl) = (self.ty, self.op, &self.nccl);
        let with =
            |what: &str, f: &mut dyn FnMut(sys::ncclComm_t) -> _| nccl.with_device(j, what, f);
        // SAFETY (every call below): device buffers of this device's context, sized by
        // `Collective::counts` for this rank count, on this device's stream.
        match self.kind {
            CollectiveKind::AllReduce => with("all-reduce", &mut |c| unsafe {
                result::all_reduce(sendp, recvp, recv_count, ty, op, c, stream)
            }),
            CollectiveKind::Broadcast => with("broadcast", &mut |c| unsafe {
                result::broadcast(sendp, recvp, recv_count, ty, 0, c, stream)
            }),
            CollectiveKind::AllGather => with("all-gather", &mut |c| unsafe {
                result::all_gather(sendp, recvp, send_count, ty, c, stream)
            }),
            CollectiveKind::ReduceScatter => with("reduce-scatter", &mut |c| unsafe {
                result::reduce_scatter(sendp, recvp, recv_count, ty, op, c, stream)
            }),
            CollectiveKind::AllToAll => {
                let block = send_count / self.ranks;
                grouped(Some(nccl.as_ref()), || {
                    for peer in 0..self.ranks {
                        let at = (peer * block * size) as u64;
                        let (s, r) = (sendp as u64 + at, recvp as u64 + at);
                        with("all-to-all send", &mut |c| unsafe {
                            result::send(s as _, block, ty, peer as _, c, stream)
                        })?;
                        with("all-to-all receive", &mut |c| unsafe {
                            result::recv(r as _, block, ty, peer as _, c, stream)
                        })?;
                    }
                    Ok(())
                })
            }
        }
    }

    /// Queues one collective call on every device's stream: with several devices, one
    /// NCCL group over all of them (a single thread cannot make them meet otherwise).
    fn call(&mut self) -> Result<()> {
        let posted = if self.devices.len() == 1 {
            self.post(0)
        } else {
            grouped(Some(self.nccl.as_ref()), || {
                (0..self.devices.len()).try_for_each(|j| self.post(j))
            })
        };
        posted.map_err(|e| anyhow!("{}: {e}; NCCL_DEBUG=WARN tells more", self.what()))
    }

    /// Captures `calls` collective calls into one CUDA graph (NCCL supports capture);
    /// one device only.
    fn capture(&mut self, calls: u32) -> Result<CudaGraph> {
        let stream = self.devices[0].stream.clone();
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

    /// An event recorded now on every device's stream.
    fn record(&self) -> Result<Vec<CudaEvent>> {
        self.devices
            .iter()
            .map(|d| {
                Ok(d.stream
                    .record_event(Some(CUevent_flags::CU_EVENT_DEFAULT))?)
            })
            .collect()
    }

    /// Waits for everything queued so far on every device, polling NCCL for
    /// asynchronous errors meanwhile; returns each device's end event.
    fn finish(&self) -> Result<Vec<CudaEvent>> {
        let ends = self.record()?;
        for end in &ends {
            self.nccl.wait(end, &|| self.what())?;
        }
        Ok(ends)
    }
}

impl NcclCollective {
    /// Captures the CUDA graph (with `--cuda-graph`) and runs one untimed call, once.
    fn prepare(&mut self) -> Result<()> {
        if let (Some(calls), None) = (self.graph_calls, &self.graph) {
            let graph = self.capture(calls)?;
            graph.upload()?;
            self.graph = Some(graph);
        }
        if !self.warmed {
            self.launch()?;
            self.finish()?;
            self.warmed = true;
        }
        Ok(())
    }

    /// Queues one timed call: a graph replay or one collective.
    fn launch(&mut self) -> Result<()> {
        match &self.graph {
            Some(g) => Ok(g.launch()?),
            None => self.call(),
        }
    }
}

impl Workload for NcclCollective {
    fn iterate(&mut self) -> Result<f64> {
        crate::core::timing::timed_once(|record| self.run_timed(1, record))
    }

    /// Calls queued back to back behind a hold, after one untimed call that absorbs
    /// the ranks' skew; a call's time is its slowest device's.
    fn run_timed(&mut self, iterations: u32, record: &mut dyn FnMut(f64)) -> Result<()> {
        self.prepare()?;
        let streams: Vec<Arc<CudaStream>> = self.devices.iter().map(|d| d.stream.clone()).collect();
        let (nccl, what, hold) = (self.nccl.clone(), self.what(), self.hold.clone());
        let schedule = Schedule {
            batch: MAX_BATCH,
            absorb_skew: true,
            // A replay runs `calls` collectives back to back: report the time of one.
            calls_per_enqueue: self.graph_calls.unwrap_or(1),
        };
        let wait = |e: &CudaEvent| nccl.wait(e, &|| what.clone());
        let call = || self.launch();
        timing::run_timed(
            hold.as_deref(),
            &streams,
            iterations,
            schedule,
            call,
            wait,
            record,
        )
    }

    fn timing(&self) -> crate::core::Timing {
        timing::method(self.hold.as_deref())
    }

    fn verify(&mut self) -> Result<LocalCheck> {
        self.fill_inputs(true)?;
        self.call()?;
        self.finish()?;
        let dtype = self.case.dtype;
        let recv_count = self.counts.1;
        let (mut checked, mut wrong) = (0, 0);
        for d in &self.devices {
            let out = d.stream.clone_dtoh(&d.buf)?;
            let at = d.output_at * dtype.size();
            let output = &out[at..at + recv_count * dtype.size()];
            let expected =
                self.coll
                    .expected(self.case.op, dtype, d.rank, self.ranks, self.case.count);
            checked += recv_count as u64;
            wrong += count_wrong(dtype, output, expected);
        }
        Ok(LocalCheck {
            checked,
            wrong,
            max_error_ratio: None,
            method: "exact: every received element against its computed value (NCCL)",
        })
    }
}
