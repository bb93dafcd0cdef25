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
pub mod memory;
pub mod p2p;
pub mod reducescatter;

use crate::core::memory::{Footprint, Placement};
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
    /// Why this benchmark cannot run in `job` as configured, in one line, found before
    /// anything runs (every rank finds the same).
    fn refuse(&self, _cfg: &BenchConfig, _job: &Job) -> Option<String> {
        None
    }
    /// What one rank holds in each case of `cfg`, for the memory guard that refuses a
    /// run which cannot fit before anything is allocated; `None` when nothing of size.
    fn footprint(&self, _cfg: &BenchConfig, _at: Placement) -> Option<Footprint<'static>> {
        None
    }
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

/// The job a run is about to measure in, as every rank agreed on it.
#[derive(Debug, Clone, Copy)]
pub struct Job<'a> {
    pub ranks: usize,
    /// The host of every rank, in rank order.
    pub rank_hosts: &'a [String],
    /// `--peers`, when given.
    pub peers: Option<(usize, usize)>,
    /// Messages in flight per point-to-point bandwidth iteration (`--window`).
    pub window: usize,
}

/// Refuses, on every rank alike and before anything is allocated or written, a run
/// that cannot go: a benchmark the job cannot run, or cases that cannot fit in memory.
pub fn refuse_before_running(
    benches: &[BenchConfig],
    job: &Job,
    backend: &dyn crate::core::Backend,
    comm: &dyn crate::core::Communicator,
) -> Result<()> {
    for cfg in benches {
        let why = registry()
            .iter()
            .find(|b| b.name() == cfg.name)
            .and_then(|b| b.refuse(cfg, job));
        if let Some(why) = why {
            return Err(crate::error::AgreedUsageError(why).into());
        }
    }
    memory::refuse_what_cannot_fit(benches, job.window, backend, comm, job.rank_hosts)
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
