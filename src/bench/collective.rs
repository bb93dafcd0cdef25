//! What every collective shares: the sweep over sizes, datatypes, ops and placement,
//! the bandwidth figures, and the input pattern whose every reduction is exact, so
//! outputs are checked against a computed expectation.

use crate::core::memory::{Footprint, Need, Placement};
use crate::core::Iterations;
use crate::core::{BenchConfig, Collective, CollectiveCase, DType, ExactInputs, ReduceOp};
use crate::results::describe::params;
use crate::runner::{MetricSpec, RunContext};
use crate::units::format_bytes;
use anyhow::Result;

/// One measurement of a sweep.
struct SweepCase {
    dtype: DType,
    op: ReduceOp,
    /// Elements per rank.
    count: usize,
    /// Bytes per rank.
    msg_bytes: f64,
    in_place: bool,
}

/// The measurements of a sweep, in order: sizes x datatypes x ops, out-of-place then
/// in-place, as nccl-tests does.
fn sweep_cases(
    coll: &'static dyn Collective,
    cfg: &BenchConfig,
    ranks: usize,
    backend: &dyn crate::core::Backend,
) -> Vec<SweepCase> {
    // A collective that does not reduce runs once per size, whatever -o says.
    let ops = if coll.reduces() {
        cfg.ops.clone()
    } else {
        vec![ReduceOp::Sum]
    };
    // On one rank an in-place call does nothing at all: only the out-of-place one, a
    // local copy, is measured.
    let placements: Vec<bool> = coll
        .placements()
        .iter()
        .copied()
        .filter(|&p| !p || (ranks > 1 && backend.supports_in_place(coll)))
        .collect();
    let mut cases = Vec::new();
    for &dtype in &cfg.datatypes {
        for &op in &ops {
            for bytes in cfg.sizes() {
                let (send, recv) = coll.counts(bytes as usize / dtype.size(), ranks);
                let count = send.max(recv);
                if send == 0 || recv == 0 {
                    continue;
                }
                for &in_place in &placements {
                    cases.push(SweepCase {
                        dtype,
                        op,
                        count,
                        msg_bytes: (count * dtype.size()) as f64,
                        in_place,
                    });
                }
            }
        }
    }
    cases
}

/// Sweeps sizes x datatypes x ops, out-of-place then in-place, as nccl-tests does.
pub fn run_sweep(
    coll: &'static dyn Collective,
    cfg: &BenchConfig,
    ctx: &mut RunContext,
) -> Result<()> {
    let ranks = ctx.ranks();
    let iters = Iterations {
        warmup: cfg.warmup_iters,
        timed: cfg.iters,
        check: cfg.check,
    };
    let factor = coll.busbw_factor(ranks);
    for c in sweep_cases(coll, cfg, ranks, ctx.backend) {
        ctx.progress(format!(
            "{} {} {} {} {}",
            coll.name(),
            format_bytes(c.msg_bytes as u64),
            c.dtype,
            c.op,
            match (c.in_place, ranks) {
                (true, _) => "in-place",
                (false, 1) => "local copy",
                (false, _) => "out-of-place",
            }
        ));
        let case = CollectiveCase {
            dtype: c.dtype,
            op: c.op,
            count: c.count,
            in_place: c.in_place,
            corrupt: ctx.corrupt_here(),
        };
        let mut workload = ctx.backend.collective(coll, ctx.comm, case)?;
        let metrics = [
            MetricSpec::gbps("algbw", c.msg_bytes),
            MetricSpec::gbps("busbw", c.msg_bytes * factor),
        ];
        ctx.measure(
            coll.name(),
            params(coll, c.dtype, c.op, c.in_place, c.count, ranks),
            iters,
            workload.as_mut(),
            &metrics,
        )?;
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
            multi_gpu: true,
            sizes: true,
            ops: self.coll.reduces(),
            shapes: false,
            array: false,
            dtypes: &DType::COLLECTIVE,
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

    fn planned_work(
        &self,
        cfg: &BenchConfig,
        ranks: usize,
        backend: &dyn crate::core::Backend,
    ) -> Option<Vec<f64>> {
        let cases = sweep_cases(self.coll, cfg, ranks, backend);
        Some(cases.iter().map(|c| c.msg_bytes).collect())
    }

    fn collective(&self) -> Option<&'static dyn Collective> {
        Some(self.coll)
    }

    fn footprint(&self, cfg: &BenchConfig, at: Placement) -> Option<Footprint<'static>> {
        let coll = self.coll;
        let dtypes = cfg.datatypes.clone();
        let need_at = move |bytes: u64| collective_need(coll, &dtypes, bytes, at);
        Some(Footprint::of_sizes(coll.name(), cfg.sizes(), need_at))
    }
}

/// What one rank holds for a collective of `bytes` (nccl-tests' size) in the widest
/// of `dtypes`: out of place, a send and a receive buffer (in place holds less). On
/// the host over MPI, a reduction may also take a temporary of the output's size
/// inside the library; on GPUs, the buffers are on each device and the host stages
/// the inputs and reads the output back for the check.
fn collective_need(
    coll: &'static dyn Collective,
    dtypes: &[DType],
    bytes: u64,
    at: Placement,
) -> Need {
    let ranks = at.ranks * at.devices_per_rank.max(1);
    dtypes
        .iter()
        .map(|d| {
            let (send, recv) = coll.counts(bytes as usize / d.size(), ranks);
            let (send, recv) = ((send * d.size()) as u64, (recv * d.size()) as u64);
            let buffers = send + recv;
            if at.gpu {
                Need {
                    host: buffers,
                    device: buffers,
                }
            } else if at.ranks > 1 && coll.reduces() {
                Need::host(buffers + recv)
            } else {
                Need::host(buffers)
            }
        })
        .max_by_key(|n| (n.host, n.device))
        .unwrap_or_default()
}

/// Input pattern period: element `i` of rank `r` is a function of `(i + 7 r) mod 61`,
/// so the expected reduction of element `i` depends only on `i mod 61` and is computed
/// once per residue, whatever the number of ranks.
pub(crate) const PERIOD: usize = 61;

/// Element `i` of `rank`'s input, kept within `exact` (values 1..=61 where the datatype
/// holds them; fewer where it does not, as in bf16 and fp8).
pub(crate) fn input_value(op: ReduceOp, i: usize, rank: usize, exact: ExactInputs) -> i64 {
    let k = ((i + 7 * rank) % PERIOD) as i64 % exact.max;
    match op {
        // Products stay exact at any scale: factors of +1 and -1.
        ReduceOp::Prod => {
            if k % 3 == 0 {
                -1
            } else {
                1
            }
        }
        ReduceOp::Sum if rank >= exact.contributors => 0,
        // Small positive integers: sums stay exact in float up to ~275,000 ranks.
        _ => k + 1,
    }
}

pub(crate) fn combine(op: ReduceOp, a: i64, b: i64) -> i64 {
    match op {
        ReduceOp::Sum => a + b,
        ReduceOp::Prod => a * b,
        ReduceOp::Min => a.min(b),
        ReduceOp::Max => a.max(b),
        ReduceOp::Band => a & b,
        ReduceOp::Bor => a | b,
        ReduceOp::Bxor => a ^ b,
    }
}

/// The reduction over `ranks` ranks of input element `i`, at `table[i % PERIOD]`
/// (the inputs of every rank repeat with that period).
pub(crate) fn reduction_table(op: ReduceOp, ranks: usize, exact: ExactInputs) -> Vec<i64> {
    (0..PERIOD)
        .map(|s| {
            (1..ranks).fold(input_value(op, s, 0, exact), |acc, r| {
                combine(op, acc, input_value(op, s, r, exact))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::collective::exact_integers;

    /// Every running reduction of the inputs, in rank order (a ring's order), stays an
    /// integer the datatype holds exactly, for rank counts around each type's bound.
    #[test]
    fn inputs_and_partial_reductions_stay_exact() {
        for dtype in DType::COLLECTIVE {
            let exact = exact_integers(dtype);
            for op in ReduceOp::ALL {
                for ranks in [1, 2, 3, 7, 8, 9, 16, 17, 64, 257, 300] {
                    let bounds = ExactInputs::reduced(dtype, op, ranks);
                    for i in 0..PERIOD {
                        let mut acc = input_value(op, i, 0, bounds);
                        assert!(acc.abs() <= exact, "{dtype} {op} {ranks}");
                        for r in 1..ranks {
                            let v = input_value(op, i, r, bounds);
                            acc = combine(op, acc, v);
                            assert!(
                                v.abs() <= exact && acc.abs() <= exact,
                                "{dtype} {op} {ranks}"
                            );
                        }
                        // Something arrives: a sum is never all zeros.
                        assert!(acc != 0, "{dtype} {op} {ranks}");
                    }
                }
            }
        }
    }

    #[test]
    fn wide_types_keep_the_full_pattern() {
        let bounds = ExactInputs::reduced(DType::Float, ReduceOp::Sum, 1024);
        assert_eq!(input_value(ReduceOp::Sum, 60, 0, bounds), 61);
        assert_eq!(
            ExactInputs::reduced(DType::Fp8E5m2, ReduceOp::Sum, 4).max,
            2
        );
        assert_eq!(
            ExactInputs::reduced(DType::Fp8E4m3, ReduceOp::Sum, 64).contributors,
            16
        );
    }

    /// The record's count and bytes are nccl-tests' columns: the real DGX-2 log in
    /// `tests/fixtures/nccl-tests-old-v100-g12-all_gather-then-all_reduce.log` prints
    /// all-gather on 12 GPUs as size 67108848, count 1398101; reduce-scatter and
    /// all-to-all print `count/nranks` of the larger buffer (nccl-tests
    /// `src/reduce_scatter.cu`, `src/alltoall.cu`).
    #[test]
    fn records_count_as_nccl_tests_prints() {
        use crate::results::{describe::params, Params};
        let by_name = |name: &str| {
            crate::bench::collectives()
                .find(|c| c.name() == name)
                .unwrap()
        };
        let row = |name: &str, larger: usize, ranks: usize| match params(
            by_name(name),
            DType::Float,
            ReduceOp::Sum,
            false,
            larger,
            ranks,
        ) {
            Params::Collective { count, bytes, .. } => (count, bytes),
            other => panic!("{other:?}"),
        };
        assert_eq!(row("allgather", 67108848 / 4, 12), (1398101, 67108848));
        assert_eq!(row("reducescatter", 16 * 1024, 8), (2048, 65536));
        assert_eq!(row("alltoall", 16 * 1024, 8), (2048, 65536));
        assert_eq!(row("allreduce", 1000, 8), (1000, 4000));
    }
}
