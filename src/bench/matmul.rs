//! Matrix multiply: a square sweep plus transformer-like shapes, TFLOP/s = 2mnk/t.

use super::{base_config, Benchmark, Supports};
use crate::core::memory::{Footprint, Grid, Need, Placement, Unit};
use crate::core::Iterations;
use crate::core::{BenchConfig, DType, MatmulShape};
use crate::results::Params;
use crate::runner::{MetricSpec, RunContext};
use anyhow::Result;

pub struct Matmul;

impl Benchmark for Matmul {
    fn name(&self) -> &'static str {
        "matmul"
    }

    fn description(&self) -> &'static str {
        "GEMM (OpenBLAS or the gemm crate on CPUs) over square sizes and transformer-like shapes, checked against an f64 reference"
    }

    fn supports(&self) -> Supports {
        Supports {
            multi_gpu: false,
            sizes: false,
            ops: false,
            shapes: true,
            array: false,
            dtypes: &[
                DType::Float,
                DType::Double,
                DType::Tf32,
                DType::Bf16,
                DType::Fp16,
                DType::Fp8E4m3,
            ],
        }
    }

    fn default_config(&self) -> BenchConfig {
        BenchConfig {
            iters: 5,
            warmup_iters: 1,
            datatypes: vec![DType::Float, DType::Double],
            shapes: [256, 512, 1024]
                .into_iter()
                .map(MatmulShape::square)
                .collect(),
            ..base_config(self.name())
        }
    }

    fn footprint(&self, cfg: &BenchConfig, at: Placement) -> Option<Footprint<'static>> {
        let mut cases = Vec::new();
        for &dtype in &cfg.datatypes {
            for shape in &cfg.shapes {
                // A search goes four steps beyond its square size, on every side.
                let shape = match search_steps(shape.m).last() {
                    Some(&side) if cfg.search && shape.label == "square" => {
                        MatmulShape::square(side)
                    }
                    _ => shape.clone(),
                };
                let (m, n, k) = (shape.m as u64, shape.n as u64, shape.k as u64);
                cases.push((
                    m.max(n).max(k),
                    format!("{m}x{n}x{k} in {dtype}"),
                    matmul_need(dtype, m, n, k, at.gpu),
                ));
            }
        }
        let widest = cfg.datatypes.iter().copied().max_by_key(|d| d.size())?;
        Some(Footprint {
            bench: "matmul",
            what: "square size",
            flag: "--sizes",
            unit: Unit::Count,
            cases,
            need_at: Box::new(move |s| matmul_need(widest, s, s, s, at.gpu)),
            grid: Grid::Step(256),
        })
    }

    /// Each product's flops; a search's steps counted around its target (they are
    /// centred on the best square size it finds).
    fn planned_work(
        &self,
        cfg: &BenchConfig,
        _ranks: usize,
        _backend: &dyn crate::core::Backend,
    ) -> Option<Vec<f64>> {
        let mut work = Vec::new();
        for _ in &cfg.datatypes {
            for shape in &cfg.shapes {
                let flops = |m: usize, n: usize, k: usize| 2.0 * m as f64 * n as f64 * k as f64;
                if cfg.search && shape.label == "square" {
                    let steps = search_steps(shape.m);
                    work.extend(steps.iter().map(|&s| flops(s, s, s)));
                    let inner = steps.iter().filter(|&&k| k != shape.m);
                    work.extend(inner.map(|&k| flops(shape.m, shape.m, k)));
                }
                work.push(flops(shape.m, shape.n, shape.k));
            }
        }
        Some(work)
    }

    fn run(&self, cfg: &BenchConfig, ctx: &mut RunContext) -> Result<()> {
        let iters = Iterations {
            warmup: cfg.warmup_iters,
            timed: cfg.iters,
            check: cfg.check,
        };
        for &dtype in &cfg.datatypes {
            for (index, shape) in cfg.shapes.iter().enumerate() {
                if cfg.search && shape.label == "square" {
                    search(dtype, shape.m, index, iters, ctx)?;
                } else {
                    measure(dtype, shape, index, iters, ctx)?;
                }
            }
        }
        Ok(())
    }
}

/// A (m x k), B (k x n) and C (m x n). On a GPU they are on the device (C at least
/// 16 bits wide, as fp8 products come out in a wider type), and the host holds the
/// inputs as generated and C as read back for the check, with its poisoned copy.
fn matmul_need(dtype: DType, m: u64, n: u64, k: u64, gpu: bool) -> Need {
    let size = dtype.size() as u64;
    let inputs = (m * k).saturating_add(k * n).saturating_mul(size);
    let output = (m * n).saturating_mul(size.max(2));
    if gpu {
        Need {
            host: inputs.saturating_add(output.saturating_mul(2)),
            device: inputs.saturating_add(output),
        }
    } else {
        Need::host(inputs.saturating_add((m * n).saturating_mul(size)))
    }
}

/// Measures one shape; returns its TFLOP/s at the median time.
fn measure(
    dtype: DType,
    shape: &MatmulShape,
    index: usize,
    iters: Iterations,
    ctx: &mut RunContext,
) -> Result<f64> {
    let MatmulShape { m, n, k, .. } = *shape;
    ctx.progress(format!("matmul {dtype} {} {m}x{n}x{k}", shape.label));
    let seed = ((ctx.rank() as u64) << 32) ^ (index as u64) << 8 ^ dtype.size() as u64;
    let mut workload = ctx.backend.matmul(dtype, shape, seed)?;
    let params = Params::Matmul {
        dtype,
        label: shape.label.clone(),
        m: m as u64,
        n: n as u64,
        k: k as u64,
        threads: ctx.backend.threads() as u32,
        engine: ctx.backend.matmul_engine(dtype),
    };
    let flops = 2.0 * m as f64 * n as f64 * k as f64;
    let record = ctx.measure(
        "matmul",
        params,
        iters,
        workload.as_mut(),
        &[MetricSpec::tflops(flops)],
    )?;
    Ok(record.metric("tflops").map(|t| t.value).unwrap_or(0.0))
}

/// Sizes tried around `target`: four steps either side, steps of 64 to 256.
pub fn search_steps(target: usize) -> Vec<usize> {
    let step = (target / 16).clamp(64, 256) / 64 * 64;
    (-4i64..=4)
        .map(|d| target as i64 + d * step as i64)
        .filter(|&s| s > 0)
        .map(|s| s as usize)
        .collect()
}

/// The maximum achievable FLOPS near a square size: first the square sizes around
/// it, then the inner dimension around the best of those, each briefly and unchecked
/// (label `search`); the winner is then measured in full and checked (`search_best`).
fn search(
    dtype: DType,
    target: usize,
    index: usize,
    iters: Iterations,
    ctx: &mut RunContext,
) -> Result<()> {
    let brief = Iterations {
        warmup: 1,
        timed: iters.timed.clamp(1, 5),
        check: false,
    };
    let try_shape = |m: usize, n: usize, k: usize| MatmulShape {
        label: "search".into(),
        m,
        n,
        k,
    };
    let mut best = (0.0f64, try_shape(target, target, target));
    for s in search_steps(target) {
        let shape = try_shape(s, s, s);
        let t = measure(dtype, &shape, index, brief, ctx)?;
        if t > best.0 {
            best = (t, shape);
        }
    }
    let side = best.1.m;
    for k in search_steps(side) {
        if k == side {
            continue;
        }
        let shape = try_shape(side, side, k);
        let t = measure(dtype, &shape, index, brief, ctx)?;
        if t > best.0 {
            best = (t, shape);
        }
    }
    let winner = MatmulShape {
        label: "search_best".into(),
        ..best.1
    };
    measure(dtype, &winner, index, iters, ctx)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_steps_surround_the_target() {
        assert_eq!(
            search_steps(4096),
            vec![3072, 3328, 3584, 3840, 4096, 4352, 4608, 4864, 5120]
        );
        assert_eq!(
            search_steps(256),
            vec![64, 128, 192, 256, 320, 384, 448, 512]
        );
    }
}
