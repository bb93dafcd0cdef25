//! Matrix multiply: a square sweep plus transformer-like shapes, TFLOP/s = 2mnk/t.

use super::{base_config, Benchmark, Supports};
use crate::options::{BenchConfig, DType, MatmulShape};
use crate::results::Params;
use crate::runner::{Iterations, MetricSpec, RunContext};
use anyhow::Result;

pub struct Matmul;

impl Benchmark for Matmul {
    fn name(&self) -> &'static str {
        "matmul"
    }

    fn description(&self) -> &'static str {
        "GEMM (the gemm crate on CPUs) over square sizes and transformer-like shapes, checked against an f64 reference"
    }

    fn supports(&self) -> Supports {
        Supports {
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

    fn run(&self, cfg: &BenchConfig, ctx: &mut RunContext) -> Result<()> {
        let iters = Iterations {
            warmup: cfg.warmup_iters,
            timed: cfg.iters,
            check: cfg.check,
        };
        for &dtype in &cfg.datatypes {
            for (index, shape) in cfg.shapes.iter().enumerate() {
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
                };
                let flops = 2.0 * m as f64 * n as f64 * k as f64;
                ctx.measure(
                    self.name(),
                    params,
                    iters,
                    workload.as_mut(),
                    &[MetricSpec::tflops(flops)],
                )?;
            }
        }
        Ok(())
    }
}
