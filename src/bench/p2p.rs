//! Point-to-point between two chosen ranks: latency (ping-pong), unidirectional
//! bandwidth (a window of messages, as OSU's osu_bw) and bidirectional bandwidth.

use super::{base_config, Benchmark, Job, Supports};
use crate::core::memory::{Footprint, Placement};
use crate::core::p2p::{window_for, P2pCase, P2pMode};
use crate::core::Iterations;
use crate::core::{BenchConfig, DType};
use crate::results::Params;
use crate::runner::{MetricSpec, RunContext};
use crate::units::format_bytes;
use anyhow::Result;

pub struct PointToPoint;

impl Benchmark for PointToPoint {
    fn name(&self) -> &'static str {
        "p2p"
    }

    fn description(&self) -> &'static str {
        "point-to-point between two ranks (--peers A,B): latency, bandwidth and bidir bandwidth"
    }

    fn supports(&self) -> Supports {
        Supports {
            multi_gpu: false,
            sizes: true,
            ops: false,
            shapes: false,
            array: false,
            dtypes: &[DType::Float],
        }
    }

    fn default_config(&self) -> BenchConfig {
        BenchConfig {
            minbytes: 1,
            maxbytes: 4 << 20,
            iters: 200,
            warmup_iters: 20,
            ..base_config(self.name())
        }
    }

    fn refuse(&self, _cfg: &BenchConfig, job: &Job) -> Option<String> {
        let ranks = job.ranks;
        match job.peers {
            _ if ranks < 2 => Some(format!(
                "p2p needs at least 2 ranks and this job has {ranks}: start it with mpirun -np 2 (or more)"
            )),
            Some((a, b)) if a >= ranks || b >= ranks => Some(format!(
                "--peers {a},{b}: this job has {ranks} ranks, 0 to {}",
                ranks - 1
            )),
            _ => None,
        }
    }

    fn footprint(&self, cfg: &BenchConfig, at: Placement) -> Option<Footprint<'static>> {
        let need_at = move |bytes| super::memory::point_to_point_need(bytes, at.window, at.gpu);
        Some(Footprint::of_sizes("p2p", cfg.sizes(), need_at))
    }

    fn run(&self, cfg: &BenchConfig, ctx: &mut RunContext) -> Result<()> {
        let ranks = ctx.comm.size();
        let (a, b) = ctx.peers;
        if a >= ranks || b >= ranks {
            return Err(crate::usage!(
                "p2p: --peers {a},{b} names a rank the job does not have (it has {ranks} rank(s)); p2p needs at least 2"
            ));
        }
        let iters = Iterations {
            warmup: cfg.warmup_iters,
            timed: cfg.iters,
            check: cfg.check,
        };
        for mode in P2pMode::ALL {
            for bytes in cfg.sizes() {
                let bytes = bytes as usize;
                let window = match mode {
                    P2pMode::Latency => 1,
                    _ => window_for(bytes, ctx.window),
                };
                ctx.progress(format!("p2p {mode} {}", format_bytes(bytes as u64)));
                let case = P2pCase {
                    mode,
                    bytes,
                    window,
                    pair: (a, b),
                    corrupt: ctx.faults.corrupt_rank == Some(a),
                    send_delay: None,
                };
                let mut workload = ctx.backend.point_to_point(ctx.comm, case)?;
                let params = point_to_point_params(ctx, &case);
                let moved = mode.bytes_per_iteration(bytes, window);
                let metrics = [MetricSpec::gbps("bandwidth", moved)];
                ctx.measure("p2p", params, iters, workload.as_mut(), &metrics)?;
            }
        }
        Ok(())
    }
}

/// The parameters recorded for a point-to-point case.
pub fn point_to_point_params(ctx: &RunContext, case: &P2pCase) -> Params {
    let host = |r: usize| ctx.hosts.get(r).cloned().unwrap_or_default();
    Params::PointToPoint {
        mode: case.mode.name().to_string(),
        bytes: case.bytes as u64,
        window: case.window as u32,
        from: case.pair.0 as u32,
        to: case.pair.1 as u32,
        from_host: host(case.pair.0),
        to_host: host(case.pair.1),
    }
}
