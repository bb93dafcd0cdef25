//! All-gather: every rank contributes a block and receives every rank's block.

use crate::bench::collective::{input_value, CollectiveBench};
use crate::core::Communicator;
use crate::core::{Collective, CollectiveKind, ExactInputs};
use crate::core::{DType, ReduceOp};
use anyhow::Result;

/// nccl-tests' `all_gather_perf`: the message is the gathered output.
pub struct AllGather;

impl Collective for AllGather {
    fn name(&self) -> &'static str {
        "allgather"
    }

    fn busbw_factor(&self, ranks: usize) -> f64 {
        (ranks as f64 - 1.0) / ranks as f64
    }

    fn counts(&self, count: usize, ranks: usize) -> (usize, usize) {
        let block = count / ranks;
        (block, block * ranks)
    }

    fn reduces(&self) -> bool {
        false
    }

    fn in_place_input_offset(&self, count: usize, rank: usize, ranks: usize) -> usize {
        rank * (count / ranks)
    }

    fn kind(&self) -> Option<CollectiveKind> {
        Some(CollectiveKind::AllGather)
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
        input_value(ReduceOp::Sum, i, rank, ExactInputs::moved(dtype))
    }

    fn expected(
        &self,
        _op: ReduceOp,
        dtype: DType,
        _rank: usize,
        ranks: usize,
        count: usize,
    ) -> Box<dyn Fn(usize) -> i64 + Send + Sync> {
        let block = count / ranks;
        let exact = ExactInputs::moved(dtype);
        Box::new(move |i| input_value(ReduceOp::Sum, i % block, i / block, exact))
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
        comm.all_gather(send, buf, recv_count, dtype)
    }
}

/// The benchmark that sweeps it.
pub const BENCH: CollectiveBench = CollectiveBench {
    coll: &AllGather,
    description: "all-gather: each rank's block to every rank (message = gathered size), out-of-place and in-place",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_of_rank_r_holds_rank_r_input() {
        let (ranks, count) = (3, 30);
        for dtype in DType::COLLECTIVE {
            let expected = AllGather.expected(ReduceOp::Sum, dtype, 1, ranks, count);
            for i in 0..count {
                assert_eq!(
                    expected(i),
                    AllGather.input(ReduceOp::Sum, dtype, i / 10, ranks, count, i % 10)
                );
            }
        }
        assert_eq!(AllGather.counts(30, 4), (7, 28));
        assert_eq!(AllGather.busbw_factor(4), 0.75);
    }
}
