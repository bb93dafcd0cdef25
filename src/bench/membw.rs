//! STREAM memory bandwidth: copy, scale, add, triad and a read-only dot.

use super::{base_config, Benchmark, Supports};
use crate::backend::StreamKernel;
use crate::options::{BenchConfig, DType};
use crate::results::Params;
use crate::runner::{Iterations, MetricSpec, RunContext};
use crate::units::format_bytes;
use anyhow::Result;

pub struct MemBw;

/// STREAM's rule: each array at least four times the last-level caches.
const MIN_ARRAY_BYTES: u64 = 64 << 20;

/// Bytes per array: as configured, else 4x the host's last-level caches (at least 64 MiB).
pub fn array_bytes(cfg: &BenchConfig, llc_total: Option<u64>) -> u64 {
    cfg.array_bytes
        .unwrap_or_else(|| llc_total.map(|l| 4 * l).unwrap_or(0).max(MIN_ARRAY_BYTES))
}

impl Benchmark for MemBw {
    fn name(&self) -> &'static str {
        "membw"
    }

    fn description(&self) -> &'static str {
        "STREAM copy/scale/add/triad and a read-only dot, one pinned thread per core, every rank at once"
    }

    fn supports(&self) -> Supports {
        Supports {
            sizes: false,
            ops: false,
            shapes: false,
            array: true,
            dtypes: &[DType::Double],
        }
    }

    fn default_config(&self) -> BenchConfig {
        BenchConfig {
            iters: 20,
            warmup_iters: 3,
            datatypes: vec![DType::Double],
            ..base_config(self.name())
        }
    }

    fn run(&self, cfg: &BenchConfig, ctx: &mut RunContext) -> Result<()> {
        let bytes = array_bytes(cfg, ctx.topology.host().llc_total_bytes);
        let elements = (bytes / 8) as usize;
        let ranks = ctx.comm.size() as u64;
        let mut arrays = ctx.backend.stream(elements)?;
        let iters = Iterations {
            warmup: cfg.warmup_iters,
            timed: cfg.iters,
            check: cfg.check,
        };
        for kernel in StreamKernel::ALL {
            ctx.progress(format!(
                "membw {} {} per array",
                kernel.name(),
                format_bytes(bytes)
            ));
            arrays.select(kernel);
            let moved = kernel.arrays_touched() * 8 * elements as u64 * ranks;
            let params = Params::Stream {
                kernel: kernel.name().to_string(),
                array_bytes: 8 * elements as u64,
                elements: elements as u64,
                threads: arrays.threads() as u32,
                bytes_moved: moved,
            };
            ctx.measure(
                self.name(),
                params,
                iters,
                arrays.as_mut(),
                &[MetricSpec::gbps("bandwidth", moved as f64)],
            )?;
        }
        Ok(())
    }
}
