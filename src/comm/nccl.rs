//! NCCL collectives on GPU buffers (feature `cuda`): one rank per GPU, the NCCL unique
//! id made on rank 0 and handed to the others over the job's communicator (MPI).
//! All-reduce, all-gather, reduce-scatter, broadcast (from rank 0), all-to-all (grouped
//! sends and receives) and a send/recv ring, chosen by the collective's name.
//!
//! The input data, expected results and bandwidth factors are the collective's own
//! (the same [`Collective`] as on the CPU path), so the GPU and CPU figures and checks
//! mean the same thing.

use crate::comm::Communicator;
use crate::options::{DType, ReduceOp};
use crate::runner::collective::{Collective, CollectiveCase};
use crate::runner::{LocalCheck, Workload};
use anyhow::{anyhow, bail, Context, Result};
use cudarc::driver::{
    sys::{CUevent_flags, CUgraphInstantiate_flags, CUstreamCaptureMode},
    CudaGraph, CudaSlice, CudaStream, DeviceRepr, ValidAsZeroBits,
};
use cudarc::nccl::{Comm, Id, NcclType, ReduceOp as NcclOp};
use std::cell::OnceCell;
use std::rc::Rc;
use std::sync::Arc;

/// The process's NCCL communicator, made on first use and kept for the whole run
/// (creating one costs far more than any collective).
#[derive(Default)]
pub struct NcclCache(OnceCell<Rc<Comm>>);

fn nccl_comm(
    cache: &NcclCache,
    stream: &Arc<CudaStream>,
    comm: &dyn Communicator,
) -> Result<Rc<Comm>> {
    if let Some(c) = cache.0.get() {
        return Ok(c.clone());
    }
    // Rank 0 makes the id; every rank must take part in the broadcast.
    let mine = if comm.rank() == 0 {
        let id = Id::new().map_err(|e| anyhow!("NCCL could not create a unique id: {e:?}"))?;
        id.internal().iter().map(|&c| c as u8).collect::<Vec<u8>>()
    } else {
        vec![0u8; 128]
    };
    let shared = comm.broadcast_bytes(&mine)?;
    let mut internal = [0 as std::ffi::c_char; 128];
    if shared.len() != internal.len() {
        bail!(
            "NCCL unique id of {} bytes received, expected 128",
            shared.len()
        );
    }
    for (d, s) in internal.iter_mut().zip(&shared) {
        *d = *s as std::ffi::c_char;
    }
    let nccl = Comm::from_rank(stream.clone(), comm.rank(), comm.size(), Id::uninit(internal))
        .map_err(|e| {
            anyhow!(
                "NCCL could not create a communicator of {} ranks (rank {}): {e:?}; NCCL_DEBUG=WARN tells more",
                comm.size(),
                comm.rank()
            )
        })?;
    Ok(cache.0.get_or_init(|| Rc::new(nccl)).clone())
}

/// Whether the NCCL path measures `coll` in place (all-reduce and broadcast); the
/// others run out of place only.
pub fn supports_in_place(coll: &dyn Collective) -> bool {
    matches!(
        NcclKind::of(coll.name()),
        Some(NcclKind::AllReduce | NcclKind::Broadcast)
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
    let kind = NcclKind::of(coll.name()).ok_or_else(|| {
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
        ReduceOp::Sum => NcclOp::Sum,
        ReduceOp::Prod => NcclOp::Prod,
        ReduceOp::Min => NcclOp::Min,
        ReduceOp::Max => NcclOp::Max,
        other => {
            return Err(crate::usage!(
                "NCCL has no {other} reduction; use sum, prod, min or max"
            ))
        }
    };
    let nccl = nccl_comm(cache, &stream, comm)?;
    Ok(match case.dtype {
        DType::Float => Box::new(
            NcclCollective::<f32>::new(stream, nccl, kind, coll, comm, case, op)?
                .with_graph(graph_calls),
        ),
        DType::Double => Box::new(
            NcclCollective::<f64>::new(stream, nccl, kind, coll, comm, case, op)?
                .with_graph(graph_calls),
        ),
        DType::Int32 => Box::new(
            NcclCollective::<i32>::new(stream, nccl, kind, coll, comm, case, op)?
                .with_graph(graph_calls),
        ),
        DType::Int64 => Box::new(
            NcclCollective::<i64>::new(stream, nccl, kind, coll, comm, case, op)?
                .with_graph(graph_calls),
        ),
        other => {
            return Err(crate::usage!(
                "the NCCL collectives run float, double, int32 and int64, not {other}"
            ))
        }
    })
}

/// Element types of the NCCL collectives.
pub trait NcclElement: NcclType + DeviceRepr + ValidAsZeroBits + Copy + PartialEq {
    fn from_i64(v: i64) -> Self;
}

macro_rules! nccl_element {
    ($($t:ty),*) => {$(
        impl NcclElement for $t {
            fn from_i64(v: i64) -> Self {
                v as $t
            }
        }
    )*};
}
nccl_element!(f32, f64, i32, i64);

/// The NCCL calls, by the collective's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NcclKind {
    AllReduce,
    AllGather,
    ReduceScatter,
    /// From rank 0.
    Broadcast,
    /// Grouped sends and receives, one block of `count / ranks` to every rank.
    AllToAll,
    /// Each rank sends to the next and receives from the previous (a ring).
    SendRecv,
}

impl NcclKind {
    fn of(name: &str) -> Option<Self> {
        Some(match name.replace(['_', '-'], "").as_str() {
            "allreduce" => NcclKind::AllReduce,
            "allgather" => NcclKind::AllGather,
            "reducescatter" => NcclKind::ReduceScatter,
            "broadcast" | "bcast" => NcclKind::Broadcast,
            "alltoall" => NcclKind::AllToAll,
            "sendrecv" => NcclKind::SendRecv,
            _ => return None,
        })
    }
}

struct NcclCollective<'a, T: NcclElement> {
    stream: Arc<CudaStream>,
    nccl: Rc<Comm>,
    kind: NcclKind,
    coll: &'static dyn Collective,
    comm: &'a dyn Communicator,
    case: CollectiveCase,
    op: NcclOp,
    send: CudaSlice<T>,
    recv: CudaSlice<T>,
    /// Calls per CUDA graph, and the graph once captured.
    graph_calls: Option<u32>,
    graph: Option<CudaGraph>,
}

impl<'a, T: NcclElement> NcclCollective<'a, T> {
    #[allow(clippy::too_many_arguments)]
    fn new(
        stream: Arc<CudaStream>,
        nccl: Rc<Comm>,
        kind: NcclKind,
        coll: &'static dyn Collective,
        comm: &'a dyn Communicator,
        case: CollectiveCase,
        op: NcclOp,
    ) -> Result<Self> {
        let (send_count, recv_count) = coll.counts(case.count, comm.size());
        let send = stream
            .alloc_zeros::<T>(if case.in_place { 1 } else { send_count })
            .context("allocating collective buffers on the GPU")?;
        let recv = stream.alloc_zeros::<T>(recv_count)?;
        let mut me = NcclCollective {
            graph_calls: None,
            graph: None,
            stream,
            nccl,
            kind,
            coll,
            comm,
            case,
            op,
            send,
            recv,
        };
        me.fill_inputs(false)?;
        Ok(me)
    }

    fn with_graph(mut self, calls: Option<u32>) -> Self {
        self.graph_calls = calls;
        self
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
        graph?.ok_or_else(|| {
            anyhow!(
                "CUDA graph capture of {} produced no graph",
                self.kind_name()
            )
        })
    }

    fn kind_name(&self) -> String {
        format!("{:?}", self.kind)
    }

    fn fill_inputs(&mut self, for_check: bool) -> Result<()> {
        let (rank, ranks) = (self.comm.rank(), self.comm.size());
        let corrupt = for_check && self.case.corrupt;
        let count = if self.case.in_place {
            self.recv.len()
        } else {
            self.send.len()
        };
        let message = self.case.count;
        let input: Vec<T> = (0..count)
            .map(|i| {
                let v = self.coll.input(self.case.op, rank, ranks, message, i);
                T::from_i64(if corrupt && i == 0 { v + 1 } else { v })
            })
            .collect();
        if self.case.in_place {
            self.stream.memcpy_htod(&input, &mut self.recv)?;
        } else {
            self.stream.memcpy_htod(&input, &mut self.send)?;
            // A value no reduction of the inputs produces, so unwritten output is caught.
            let marker = vec![T::from_i64(-7); self.recv.len()];
            self.stream.memcpy_htod(&marker, &mut self.recv)?;
        }
        self.stream.synchronize()?;
        Ok(())
    }

    fn call(&mut self) -> Result<()> {
        let nccl = &self.nccl;
        let (rank, ranks) = (nccl.rank(), nccl.world_size());
        let r = match (self.kind, self.case.in_place) {
            (NcclKind::AllReduce, true) => nccl.all_reduce_in_place(&mut self.recv, &self.op),
            (NcclKind::AllReduce, false) => nccl.all_reduce(&self.send, &mut self.recv, &self.op),
            (NcclKind::Broadcast, true) => nccl.broadcast_in_place(&mut self.recv, 0),
            (NcclKind::Broadcast, false) => {
                let send = (rank == 0).then_some(&self.send);
                nccl.broadcast(send, &mut self.recv, 0)
            }
            (NcclKind::AllGather, _) => nccl.all_gather(&self.send, &mut self.recv),
            (NcclKind::ReduceScatter, _) => {
                nccl.reduce_scatter(&self.send, &mut self.recv, &self.op)
            }
            (NcclKind::AllToAll, _) => {
                let block = self.send.len() / ranks;
                let mut group = Vec::new();
                group.push(cudarc::nccl::group_start());
                for peer in 0..ranks {
                    let range = peer * block..(peer + 1) * block;
                    if let Err(e) = nccl.send(&self.send.slice(range.clone()), peer as i32) {
                        group.push(Err(e));
                    }
                    group.push(
                        nccl.recv(&mut self.recv.slice_mut(range), peer as i32)
                            .map(|_| cudarc::nccl::result::NcclStatus::Success),
                    );
                }
                group.push(cudarc::nccl::group_end());
                group
                    .into_iter()
                    .find(|r| r.is_err())
                    .unwrap_or(Ok(cudarc::nccl::result::NcclStatus::Success))
            }
            (NcclKind::SendRecv, _) => {
                let (next, prev) = ((rank + 1) % ranks, (rank + ranks - 1) % ranks);
                let started = cudarc::nccl::group_start();
                let sent = nccl.send(&self.send, next as i32);
                let received = nccl.recv(&mut self.recv, prev as i32);
                let ended = cudarc::nccl::group_end();
                started
                    .and(sent.map(|_| cudarc::nccl::result::NcclStatus::Success))
                    .and(received)
                    .and(ended)
            }
        };
        r.map(|_| ()).map_err(|e| {
            anyhow!(
                "NCCL {:?} failed: {e:?}; NCCL_DEBUG=WARN tells more",
                self.kind
            )
        })
    }
}

impl<T: NcclElement> Workload for NcclCollective<'_, T> {
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
        let end = self
            .stream
            .record_event(Some(CUevent_flags::CU_EVENT_DEFAULT))?;
        end.synchronize()?;
        let seconds = f64::from(start.elapsed_ms(&end)?) / 1e3;
        // A replay runs `calls` collectives back to back: report the time of one.
        Ok(seconds / f64::from(self.graph_calls.unwrap_or(1)))
    }

    fn verify(&mut self) -> Result<LocalCheck> {
        self.fill_inputs(true)?;
        self.call()?;
        let out = self.stream.clone_dtoh(&self.recv)?;
        let expected = self.coll.expected(
            self.case.op,
            self.comm.rank(),
            self.comm.size(),
            self.case.count,
        );
        let wrong = out
            .iter()
            .enumerate()
            .filter(|(i, x)| **x != T::from_i64(expected(*i)))
            .count() as u64;
        Ok(LocalCheck {
            checked: out.len() as u64,
            wrong,
            max_error_ratio: None,
            method: "exact: every received element against its computed value (NCCL)",
        })
    }
}
