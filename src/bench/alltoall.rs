//! All-to-all: block `d` of every rank's input goes to rank `d`.

use crate::bench::collective::CollectiveBench;
use crate::core::collective::exact_integers;
use crate::core::Communicator;
use crate::core::{Collective, CollectiveKind};
use crate::core::{DType, ReduceOp};
use anyhow::Result;

/// nccl-tests' `alltoall_perf`: the message is each rank's whole input.
pub struct AllToAll;

/// Element `i` of `rank`'s input: distinct per source rank and position (within what
/// `dtype` holds exactly), small and exact.
fn value(dtype: DType, rank: usize, i: usize) -> i64 {
    ((i + 13 * rank) % 251) as i64 % exact_integers(dtype) + 1
}

impl Collective for AllToAll {
    fn name(&self) -> &'static str {
        "alltoall"
    }

    fn busbw_factor(&self, ranks: usize) -> f64 {
        (ranks as f64 - 1.0) / ranks as f64
    }

    fn counts(&self, count: usize, ranks: usize) -> (usize, usize) {
        let block = count / ranks;
        (block * ranks, block * ranks)
    }

    fn printed_count(&self, count: usize, ranks: usize) -> usize {
        self.counts(count, ranks).0 / ranks.max(1)
    }

    fn reduces(&self) -> bool {
        false
    }

    fn kind(&self) -> Option<CollectiveKind> {
        Some(CollectiveKind::AllToAll)
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
        value(dtype, rank, i)
    }

    fn expected(
        &self,
        _op: ReduceOp,
        dtype: DType,
        rank: usize,
        ranks: usize,
        count: usize,
    ) -> Box<dyn Fn(usize) -> i64 + Send + Sync> {
        let block = count / ranks;
        // Block `s` of the output is block `rank` of source `s`'s input.
        Box::new(move |i| value(dtype, i / block, rank * block + i % block))
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
        comm.all_to_all(send, buf, recv_count, dtype)
    }
}

/// The benchmark that sweeps it.
pub const BENCH: CollectiveBench = CollectiveBench {
    coll: &AllToAll,
    description: "all-to-all: block d of every rank to rank d (message = one rank's input), out-of-place and in-place",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_block_s_is_sources_block_for_me() {
        let (ranks, count) = (4, 40);
        let expected = AllToAll.expected(ReduceOp::Sum, DType::Float, 1, ranks, count);
        assert_eq!(expected(0), value(DType::Float, 0, 10));
        assert_eq!(expected(25), value(DType::Float, 2, 15));
        assert!((0..300).all(|i| value(DType::Fp8E5m2, 3, i) <= 8));
        assert_eq!(AllToAll.busbw_factor(2), 0.5);
    }
}
