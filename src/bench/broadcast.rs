//! Broadcast: rank 0's buffer to every rank.

use crate::bench::collective::{input_value, CollectiveBench};
use crate::core::Communicator;
use crate::core::{Collective, CollectiveKind, ExactInputs};
use crate::core::{DType, ReduceOp};
use anyhow::{ensure, Result};

/// nccl-tests' `broadcast_perf` with root 0.
pub struct Broadcast;

/// Marks a non-root rank's buffer before the broadcast, so unwritten output is caught.
const NOT_RECEIVED: i64 = -3;

impl Collective for Broadcast {
    fn name(&self) -> &'static str {
        "broadcast"
    }

    fn busbw_factor(&self, _ranks: usize) -> f64 {
        1.0
    }

    fn counts(&self, count: usize, _ranks: usize) -> (usize, usize) {
        (count, count)
    }

    fn reduces(&self) -> bool {
        false
    }

    /// MPI's broadcast works on one buffer: only the in-place form exists.
    fn placements(&self) -> &'static [bool] {
        &[true]
    }

    fn kind(&self) -> Option<CollectiveKind> {
        Some(CollectiveKind::Broadcast)
    }

    fn input(
        &self,
        _op: ReduceOp,
        dtype: DType,
        rank: usize,
        _ranks: usize,
        _count: usize,
        i: usize,
    ) -> i64 {
        if rank == 0 {
            input_value(ReduceOp::Sum, i, 0, ExactInputs::moved(dtype))
        } else {
            NOT_RECEIVED
        }
    }

    fn expected(
        &self,
        _op: ReduceOp,
        dtype: DType,
        _rank: usize,
        _ranks: usize,
        _count: usize,
    ) -> Box<dyn Fn(usize) -> i64 + Send + Sync> {
        let exact = ExactInputs::moved(dtype);
        Box::new(move |i| input_value(ReduceOp::Sum, i, 0, exact))
    }

    fn call(
        &self,
        comm: &dyn Communicator,
        send: Option<&[u8]>,
        buf: &mut [u8],
        recv_count: usize,
        dtype: DType,
        _op: ReduceOp,
    ) -> Result<()> {
        ensure!(send.is_none(), "broadcast runs in place only");
        comm.broadcast(buf, recv_count, dtype, 0)
    }
}

/// The benchmark that sweeps it.
pub const BENCH: CollectiveBench = CollectiveBench {
    coll: &Broadcast,
    description: "broadcast from rank 0 to every rank (in place)",
};
