//! Reduce-scatter: the element-wise reduction of every rank's input, block `r` to rank `r`.

use crate::bench::collective::{input_value, reduction_table, CollectiveBench, PERIOD};
use crate::core::Communicator;
use crate::core::{Collective, CollectiveKind, ExactInputs};
use crate::core::{DType, ReduceOp};
use anyhow::Result;

/// nccl-tests' `reduce_scatter_perf`: the message is each rank's whole input.
pub struct ReduceScatter;

impl Collective for ReduceScatter {
    fn name(&self) -> &'static str {
        "reducescatter"
    }

    fn busbw_factor(&self, ranks: usize) -> f64 {
        (ranks as f64 - 1.0) / ranks as f64
    }

    fn counts(&self, count: usize, ranks: usize) -> (usize, usize) {
        let block = count / ranks;
        (block * ranks, block)
    }

    fn kind(&self) -> Option<CollectiveKind> {
        Some(CollectiveKind::ReduceScatter)
    }

    fn input(
        &self,
        op: ReduceOp,
        dtype: DType,
        rank: usize,
        ranks: usize,
        _count: usize,
        i: usize,
    ) -> i64 {
        input_value(op, i, rank, ExactInputs::reduced(dtype, op, ranks))
    }

    fn expected(
        &self,
        op: ReduceOp,
        dtype: DType,
        rank: usize,
        ranks: usize,
        count: usize,
    ) -> Box<dyn Fn(usize) -> i64 + Send + Sync> {
        let table = reduction_table(op, ranks, ExactInputs::reduced(dtype, op, ranks));
        let offset = rank * (count / ranks);
        Box::new(move |i| table[(offset + i) % PERIOD])
    }

    fn call(
        &self,
        comm: &dyn Communicator,
        send: Option<&[u8]>,
        buf: &mut [u8],
        recv_count: usize,
        dtype: DType,
        op: ReduceOp,
    ) -> Result<()> {
        comm.reduce_scatter(send, buf, recv_count, dtype, op)
    }
}

/// The benchmark that sweeps it.
pub const BENCH: CollectiveBench = CollectiveBench {
    coll: &ReduceScatter,
    description:
        "reduce-scatter: reduction of all ranks' inputs, one block per rank (message = input size)",
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::collective::combine;

    #[test]
    fn rank_gets_its_block_of_the_reduction() {
        let (ranks, count) = (3, 300);
        for op in [ReduceOp::Sum, ReduceOp::Prod, ReduceOp::Max] {
            let dtype = DType::Bf16;
            let exact = ExactInputs::reduced(dtype, op, ranks);
            let expected = ReduceScatter.expected(op, dtype, 2, ranks, count);
            for i in 0..100 {
                let direct = (1..ranks).fold(input_value(op, 200 + i, 0, exact), |a, r| {
                    combine(op, a, input_value(op, 200 + i, r, exact))
                });
                assert_eq!(expected(i), direct);
            }
        }
        assert_eq!(ReduceScatter.counts(30, 4), (28, 7));
    }
}
