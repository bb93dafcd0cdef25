//! Benchmarks: one small file each, plus one line in [`registry`].
//!
//! A benchmark turns its [`BenchConfig`] into cases, asks the backend for a
//! [`Workload`](crate::core::Workload) per case, and hands it to
//! [`RunContext::measure`](crate::runner::RunContext::measure), which does the
//! warm-up, timing, cross-rank reduction, checking and reporting.

pub mod allgather;
pub mod allreduce;
pub mod alltoall;
pub mod broadcast;
pub mod collective;
pub mod gpumem;
pub mod links;
pub mod matmul;
pub mod membw;
pub mod p2p;
pub mod reducescatter;

use crate::core::{BenchConfig, Collective, DType};
use crate::runner::RunContext;
use anyhow::Result;

/// Which options a benchmark understands (the rest are rejected or ignored).
#[derive(Debug, Clone)]
pub struct Supports {
    /// Message-size sweep (-b/-e/-f).
    pub sizes: bool,
    /// Reduction ops (-o).
    pub ops: bool,
    /// Matmul sizes and shapes.
    pub shapes: bool,
    /// membw array size.
    pub array: bool,
    /// Runs over every GPU of a process with `-g N > 1` (the NCCL collectives).
    pub multi_gpu: bool,
    pub dtypes: &'static [DType],
}

pub trait Benchmark: Sync {
    fn name(&self) -> &'static str;
    fn description(&self) -> &'static str;
    fn supports(&self) -> Supports;
    fn default_config(&self) -> BenchConfig;
    /// Runs every case of `cfg`, reporting each record through `ctx`.
    fn run(&self, cfg: &BenchConfig, ctx: &mut RunContext) -> Result<()>;
    /// The work of each measurement `run` will make with `cfg` on `ranks` ranks, in
    /// order (bytes, flops: what its time grows with), for the progress line's total and
    /// time left; `None` when not known beforehand.
    fn planned_work(
        &self,
        _cfg: &BenchConfig,
        _ranks: usize,
        _backend: &dyn crate::core::Backend,
    ) -> Option<Vec<f64>> {
        None
    }
    /// The collective this benchmark sweeps, if it sweeps one.
    fn collective(&self) -> Option<&'static dyn Collective> {
        None
    }
}

/// Every benchmark, in the order a suite usually runs them.
pub fn registry() -> &'static [&'static dyn Benchmark] {
    &[
        &allreduce::BENCH,
        &allgather::BENCH,
        &reducescatter::BENCH,
        &broadcast::BENCH,
        &alltoall::BENCH,
        &p2p::PointToPoint,
        &links::Links,
        &membw::MemBw,
        &matmul::Matmul,
        &gpumem::GpuMem,
    ]
}

/// Every collective the registry sweeps, in its order: each defines its bus-bandwidth
/// factor once, for its own benchmark and for logs imported from other tools.
pub fn collectives() -> impl Iterator<Item = &'static dyn Collective> {
    registry().iter().filter_map(|b| b.collective())
}

/// Defaults shared by every benchmark; each overrides what it needs.
pub fn base_config(name: &str) -> BenchConfig {
    BenchConfig {
        name: name.to_string(),
        minbytes: 8,
        maxbytes: 16 << 20,
        stepfactor: 2,
        iters: 20,
        warmup_iters: 5,
        check: true,
        datatypes: vec![DType::Float],
        ops: vec![],
        shapes: vec![],
        array_bytes: None,
        search: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_collectives_are_the_five_standard_ones() {
        let names: Vec<&str> = collectives().map(|c| c.name()).collect();
        assert_eq!(
            names,
            [
                "allreduce",
                "allgather",
                "reducescatter",
                "broadcast",
                "alltoall"
            ]
        );
        let all: Vec<_> = collectives().collect();
        for (i, c) in all.iter().enumerate() {
            assert!(c.kind().is_some(), "{}", c.name());
            let repeated = all[..i].iter().any(|d| d.kind() == c.kind());
            assert!(!repeated, "{}", c.name());
        }
    }
}
