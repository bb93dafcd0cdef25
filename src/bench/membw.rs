//! STREAM memory bandwidth: copy, scale, add, triad and a read-only dot.

use super::{base_config, Benchmark, Supports};
use crate::core::Iterations;
use crate::core::StreamKernel;
use crate::core::{BenchConfig, DType};
use crate::results::Params;
use crate::runner::{MetricSpec, RunContext};
use crate::units::format_bytes;
use anyhow::Result;

pub struct MemBw;

/// The smallest default array, whatever the cache.
const MIN_ARRAY_BYTES: u64 = 64 << 20;

/// Bytes per array: as configured, else STREAM's rule, four times the last cache level
/// the arrays pass through (the host's last-level caches on the CPU, the GPU's L2 on
/// a GPU: [`crate::core::Backend::cache_bytes`]), and at least 64 MiB.
pub fn array_bytes(cfg: &BenchConfig, cache_bytes: Option<u64>) -> u64 {
    cfg.array_bytes
        .unwrap_or_else(|| cache_bytes.map(|c| 4 * c).unwrap_or(0).max(MIN_ARRAY_BYTES))
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
            multi_gpu: false,
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

    fn planned_work(
        &self,
        cfg: &BenchConfig,
        _ranks: usize,
        backend: &dyn crate::core::Backend,
    ) -> Option<Vec<f64>> {
        let bytes = array_bytes(cfg, backend.cache_bytes());
        let work = |k: StreamKernel| (k.arrays_touched() * bytes) as f64;
        Some(StreamKernel::ALL.into_iter().map(work).collect())
    }

    fn run(&self, cfg: &BenchConfig, ctx: &mut RunContext) -> Result<()> {
        let bytes = array_bytes(cfg, ctx.backend.cache_bytes());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_default_to_four_times_the_cache_and_at_least_64_mib() {
        let cfg = MemBw.default_config();
        // A GPU's 60 MiB L2 (or a host's 60 MiB of LLC): 240 MiB per array.
        assert_eq!(array_bytes(&cfg, Some(60 << 20)), 240 << 20);
        // A small cache, or none known: the floor.
        assert_eq!(array_bytes(&cfg, Some(8 << 20)), 64 << 20);
        assert_eq!(array_bytes(&cfg, None), 64 << 20);
        let set = BenchConfig {
            array_bytes: Some(4 << 20),
            ..cfg
        };
        assert_eq!(array_bytes(&set, Some(60 << 20)), 4 << 20);
    }
}
