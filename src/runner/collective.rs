//! What every collective shares: the sweep over sizes, datatypes, ops and placement,
//! the bandwidth figures, and exact checks against a computed expectation.

use crate::bench::allreduce::params;
use crate::comm::Communicator;
use crate::options::{BenchConfig, DType, ReduceOp};
use crate::runner::{Iterations, MetricSpec, RunContext};
use crate::units::format_bytes;
use anyhow::Result;

/// One collective, described by the four things nccl-tests asks of each: bytes per
/// call, input data, the bus-bandwidth factor and the call itself.
pub trait Collective: Sync {
    fn name(&self) -> &'static str;
    /// algbw x factor = busbw (nccl-tests' convention).
    fn busbw_factor(&self, ranks: usize) -> f64;
    /// Elements in the (send, receive) buffers of one rank for a message of `count`.
    fn counts(&self, count: usize, ranks: usize) -> (usize, usize);
    /// Input element `i` of `rank` (small integers, exact in every datatype).
    fn input(&self, op: ReduceOp, rank: usize, ranks: usize, i: usize) -> i64;
    /// The expected output as a periodic table: element `i` expects `table[i % period]`.
    fn expected_table(&self, op: ReduceOp, ranks: usize) -> (usize, Vec<i64>);
    /// Runs the collective once; `send == None` means in place.
    fn call(
        &self,
        comm: &dyn Communicator,
        send: Option<&[u8]>,
        recv: &mut [u8],
        dtype: DType,
        op: ReduceOp,
    ) -> Result<()>;
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
    for &dtype in &cfg.datatypes {
        for &op in &cfg.ops {
            for bytes in cfg.sizes() {
                let count = bytes as usize / dtype.size();
                if count == 0 {
                    continue;
                }
                let msg_bytes = (count * dtype.size()) as f64;
                let factor = coll.busbw_factor(ranks);
                for in_place in [false, true] {
                    ctx.progress(format!(
                        "{} {} {} {} {}",
                        coll.name(),
                        format_bytes(bytes),
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
                        params(dtype, op, in_place, count),
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
