//! STREAM memory bandwidth: copy, scale, add, triad and a read-only dot.
//!
//! Where the backend offers streaming (non-temporal) stores, each writing kernel is
//! measured both ways, the streaming variant recorded as `copy_nt`, `scale_nt`, ...:
//! which is faster depends on the machine, and the headline (`validate`'s host memory
//! figure) is the better of the two.

use super::{base_config, Benchmark, Supports};
use crate::core::memory::{Footprint, Grid, Need, Placement, Unit};
use crate::core::Iterations;
use crate::core::{BenchConfig, DType};
use crate::core::{StreamKernel, StreamStores};
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

    /// Three arrays; on a GPU, the check reads one back at a time.
    fn footprint(&self, cfg: &BenchConfig, at: Placement) -> Option<Footprint<'static>> {
        let bytes = array_bytes(cfg, at.cache_bytes);
        let need_at = move |a: u64| match at.gpu {
            true => Need {
                host: a,
                device: 3 * a,
            },
            false => Need::host(3 * a),
        };
        Some(Footprint {
            bench: "membw",
            what: "array size",
            flag: "--array-size",
            unit: Unit::Bytes,
            cases: vec![(
                bytes,
                format!("with arrays of {}", format_bytes(bytes)),
                need_at(bytes),
            )],
            need_at: Box::new(need_at),
            grid: Grid::Step(1 << 20),
        })
    }

    fn planned_work(
        &self,
        cfg: &BenchConfig,
        _ranks: usize,
        backend: &dyn crate::core::Backend,
    ) -> Option<Vec<f64>> {
        let bytes = array_bytes(cfg, backend.cache_bytes());
        let work = |(k, _): (StreamKernel, StreamStores)| (k.arrays_touched() * bytes) as f64;
        Some(measurements(backend).into_iter().map(work).collect())
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
        for (kernel, stores) in measurements(ctx.backend) {
            let name = kernel.record_name(stores);
            ctx.progress(format!("membw {name} {} per array", format_bytes(bytes)));
            arrays.select(kernel);
            if !arrays.select_stores(stores) {
                anyhow::bail!("the backend offers streaming stores but refused them for {name}");
            }
            let moved = kernel.arrays_touched() * 8 * elements as u64 * ranks;
            let params = Params::Stream {
                kernel: name,
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

/// The measurements of a run, in order: each kernel, and each writing kernel again
/// with streaming stores where the backend offers them.
fn measurements(backend: &dyn crate::core::Backend) -> Vec<(StreamKernel, StreamStores)> {
    let streaming = backend.offers_streaming_stores();
    StreamKernel::ALL
        .into_iter()
        .flat_map(|k| {
            let again = (streaming && k.writes()).then_some((k, StreamStores::Streaming));
            std::iter::once((k, StreamStores::Regular)).chain(again)
        })
        .collect()
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
