//! What every collective shares: the sweep over sizes, datatypes, ops and placement,
//! the bandwidth figures, and exact checks against a computed expectation.

use crate::comm::Communicator;
use crate::options::{BenchConfig, DType, ReduceOp};
use crate::results::Params;
use crate::runner::{Iterations, MetricSpec, RunContext};
use crate::units::format_bytes;
use anyhow::Result;

/// One collective, described by the four things nccl-tests asks of each: bytes per
/// call, input data, the bus-bandwidth factor and the call itself.
///
/// `count` is the message size in elements as nccl-tests counts it: the larger of a
/// rank's send and receive buffers (for all-gather the gathered output, for
/// reduce-scatter the input, for all-to-all either).
pub trait Collective: Sync {
    fn name(&self) -> &'static str;
    /// algbw x factor = busbw (nccl-tests' convention).
    fn busbw_factor(&self, ranks: usize) -> f64;
    /// Elements in the (send, receive) buffers of one rank for a message of `count`.
    fn counts(&self, count: usize, ranks: usize) -> (usize, usize);
    /// Whether the collective reduces (takes `-o`).
    fn reduces(&self) -> bool {
        true
    }
    /// The placements swept: out-of-place (`false`) and in-place (`true`).
    fn placements(&self) -> &'static [bool] {
        &[false, true]
    }
    /// In place, the element offset in the one buffer where this rank's input goes.
    fn in_place_input_offset(&self, _count: usize, _rank: usize, _ranks: usize) -> usize {
        0
    }
    /// Input element `i` of `rank` (small integers, exact in every datatype).
    fn input(&self, op: ReduceOp, rank: usize, ranks: usize, count: usize, i: usize) -> i64;
    /// The expected value of output element `i` on `rank`.
    fn expected(
        &self,
        op: ReduceOp,
        rank: usize,
        ranks: usize,
        count: usize,
    ) -> Box<dyn Fn(usize) -> i64 + Send + Sync>;
    /// Runs the collective once; `send == None` means in place (`buf` holds the input).
    /// `recv_count` is the receive count of [`Collective::counts`].
    fn call(
        &self,
        comm: &dyn Communicator,
        send: Option<&[u8]>,
        buf: &mut [u8],
        recv_count: usize,
        dtype: DType,
        op: ReduceOp,
    ) -> Result<()>;
}

/// The parameters recorded for one collective point.
pub fn params(
    coll: &dyn Collective,
    dtype: DType,
    op: ReduceOp,
    in_place: bool,
    count: usize,
) -> Params {
    Params::Collective {
        dtype,
        op: coll.reduces().then_some(op),
        in_place,
        count: count as u64,
        bytes: (count * dtype.size()) as u64,
    }
}

/// One point of a collective sweep.
#[derive(Debug, Clone, Copy)]
pub struct CollectiveCase {
    pub dtype: DType,
    pub op: ReduceOp,
    pub count: usize,
    pub in_place: bool,
    /// Test-only: corrupt one input element on this rank before the check.
    pub corrupt: bool,
}

/// Sweeps sizes x datatypes x ops, out-of-place then in-place, as nccl-tests does.
pub fn run_sweep(
    coll: &'static dyn Collective,
    cfg: &BenchConfig,
    ctx: &mut RunContext,
) -> Result<()> {
    let ranks = ctx.comm.size();
    let iters = Iterations {
        warmup: cfg.warmup_iters,
        timed: cfg.iters,
        check: cfg.check,
    };
    // A collective that does not reduce runs once per size, whatever -o says.
    let ops = if coll.reduces() {
        cfg.ops.clone()
    } else {
        vec![ReduceOp::Sum]
    };
    for &dtype in &cfg.datatypes {
        for &op in &ops {
            for bytes in cfg.sizes() {
                let (send, recv) = coll.counts(bytes as usize / dtype.size(), ranks);
                let count = send.max(recv);
                if send == 0 || recv == 0 {
                    continue;
                }
                let msg_bytes = (count * dtype.size()) as f64;
                let factor = coll.busbw_factor(ranks);
                let placements = coll
                    .placements()
                    .iter()
                    .filter(|&&p| !p || ctx.backend.supports_in_place(coll));
                for &in_place in placements {
                    ctx.progress(format!(
                        "{} {} {} {} {}",
                        coll.name(),
                        format_bytes(msg_bytes as u64),
                        dtype,
                        op,
                        if in_place { "in-place" } else { "out-of-place" }
                    ));
                    let case = CollectiveCase {
                        dtype,
                        op,
                        count,
                        in_place,
                        corrupt: ctx.corrupt_here(),
                    };
                    let mut workload = ctx.backend.collective(coll, ctx.comm, case)?;
                    let metrics = [
                        MetricSpec::gbps("algbw", msg_bytes),
                        MetricSpec::gbps("busbw", msg_bytes * factor),
                    ];
                    ctx.measure(
                        coll.name(),
                        params(coll, dtype, op, in_place, count),
                        iters,
                        workload.as_mut(),
                        &metrics,
                    )?;
                }
            }
        }
    }
    Ok(())
}

/// A collective as a benchmark: the sweep over sizes, datatypes, ops and placements.
pub struct CollectiveBench {
    pub coll: &'static dyn Collective,
    pub description: &'static str,
}

impl crate::bench::Benchmark for CollectiveBench {
    fn name(&self) -> &'static str {
        self.coll.name()
    }

    fn description(&self) -> &'static str {
        self.description
    }

    fn supports(&self) -> crate::bench::Supports {
        crate::bench::Supports {
            sizes: true,
            ops: self.coll.reduces(),
            shapes: false,
            array: false,
            dtypes: &DType::ALL,
        }
    }

    fn default_config(&self) -> BenchConfig {
        BenchConfig {
            ops: if self.coll.reduces() {
                vec![ReduceOp::Sum]
            } else {
                vec![]
            },
            ..crate::bench::base_config(self.name())
        }
    }

    fn run(&self, cfg: &BenchConfig, ctx: &mut RunContext) -> Result<()> {
        run_sweep(self.coll, cfg, ctx)
    }
}
