//! All-reduce: every rank contributes `count` elements and receives the reduction.

use crate::bench::collective::{input_value, reduction_table, CollectiveBench, PERIOD};
use crate::core::Communicator;
use crate::core::{Collective, CollectiveKind, ExactInputs};
use crate::core::{DType, ReduceOp};
use anyhow::Result;

/// The all-reduce collective (nccl-tests' `all_reduce_perf`).
pub struct AllReduce;

impl Collective for AllReduce {
    fn name(&self) -> &'static str {
        "allreduce"
    }

    fn busbw_factor(&self, ranks: usize) -> f64 {
        // As nccl-tests: nothing crosses a link on one rank, so busbw is 0 there.
        2.0 * (ranks as f64 - 1.0) / ranks as f64
    }

    fn counts(&self, count: usize, _ranks: usize) -> (usize, usize) {
        (count, count)
    }

    fn kind(&self) -> Option<CollectiveKind> {
        Some(CollectiveKind::AllReduce)
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
        _rank: usize,
        ranks: usize,
        _count: usize,
    ) -> Box<dyn Fn(usize) -> i64 + Send + Sync> {
        let table = reduction_table(op, ranks, ExactInputs::reduced(dtype, op, ranks));
        Box::new(move |i| table[i % PERIOD])
    }

    fn call(
        &self,
        comm: &dyn Communicator,
        send: Option<&[u8]>,
        buf: &mut [u8],
        _recv_count: usize,
        dtype: DType,
        op: ReduceOp,
    ) -> Result<()> {
        comm.all_reduce(send, buf, dtype, op)
    }
}

/// The benchmark that sweeps it.
pub const BENCH: CollectiveBench = CollectiveBench {
    coll: &AllReduce,
    description:
        "all-reduce over all ranks (MPI on host buffers; NCCL on GPUs), out-of-place and in-place",
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::collective::combine;

    #[test]
    fn busbw_factor_matches_nccl_tests() {
        assert_eq!(AllReduce.busbw_factor(1), 0.0);
        assert_eq!(AllReduce.busbw_factor(2), 1.0);
        assert_eq!(AllReduce.busbw_factor(4), 1.5);
        assert_eq!(AllReduce.busbw_factor(8), 1.75);
    }

    #[test]
    fn expected_table_is_the_reduction_of_inputs() {
        for op in [
            ReduceOp::Sum,
            ReduceOp::Prod,
            ReduceOp::Min,
            ReduceOp::Max,
            ReduceOp::Bxor,
        ] {
            for ranks in [1, 2, 3, 64] {
                let dtype = DType::Int64;
                let exact = ExactInputs::reduced(dtype, op, ranks);
                let expected = AllReduce.expected(op, dtype, 0, ranks, 20000);
                for i in [0usize, 1, 60, 61, 1000, 12345] {
                    let direct = (1..ranks).fold(input_value(op, i, 0, exact), |acc, r| {
                        combine(op, acc, input_value(op, i, r, exact))
                    });
                    assert_eq!(expected(i), direct, "{op} ranks={ranks} i={i}");
                }
            }
        }
    }

    #[test]
    fn sums_of_two_ranks() {
        let expected = AllReduce.expected(ReduceOp::Sum, DType::Float, 0, 2, 8);
        // i = 0: rank 0 gives 1, rank 1 gives (0 + 7) % 61 + 1 = 8.
        assert_eq!(expected(0), 9);
    }
}
