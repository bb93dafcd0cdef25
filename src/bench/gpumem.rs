//! GPU copy bandwidth: host<->device (pinned and pageable), both ways at once, device
//! to device (copy engine and SMs), and peer to peer between every pair of GPUs.

use super::{base_config, Benchmark, Supports};
use crate::core::memory::{Footprint, Grid, Need, Placement, Unit};
use crate::core::CopyKind;
use crate::core::Iterations;
use crate::core::{BenchConfig, DType};
use crate::results::Params;
use crate::runner::{MetricSpec, RunContext};
use crate::units::format_bytes;
use anyhow::Result;

pub struct GpuMem;

/// Bytes per copy unless --array-size says otherwise: at least this (nvbandwidth's
/// default, large enough that a copy's fixed costs vanish)...
const MIN_DEFAULT_BYTES: u64 = 512 << 20;
/// ...and at least this many times the GPU's L2, so a copy cannot run out of the cache.
const L2_MULTIPLE: u64 = 4;

/// Bytes per copy: as configured, else the larger of 512 MiB and 4x the GPU's L2, in
/// whole 16-byte units.
pub fn copy_bytes(configured: Option<u64>, l2_bytes: Option<u64>) -> u64 {
    let bytes = configured.unwrap_or_else(|| {
        l2_bytes
            .map(|l2| L2_MULTIPLE * l2)
            .unwrap_or(0)
            .max(MIN_DEFAULT_BYTES)
    });
    bytes / 16 * 16
}

/// The copies of one device, in the order they run.
const LOCAL_COPIES: [CopyKind; 7] = [
    CopyKind::HostToDevice { pinned: true },
    CopyKind::HostToDevice { pinned: false },
    CopyKind::DeviceToHost { pinned: true },
    CopyKind::DeviceToHost { pinned: false },
    CopyKind::Bidirectional,
    CopyKind::DeviceToDevice { sm: false },
    CopyKind::DeviceToDevice { sm: true },
];

/// Every ordered pair of GPUs one way, then every unordered pair both ways.
pub fn peer_copies(gpus: usize) -> Vec<CopyKind> {
    let mut out = Vec::new();
    for bidirectional in [false, true] {
        for src in 0..gpus {
            for dst in 0..gpus {
                if src != dst && (!bidirectional || src < dst) {
                    out.push(CopyKind::Peer {
                        src,
                        dst,
                        bidirectional,
                    });
                }
            }
        }
    }
    out
}

impl Benchmark for GpuMem {
    fn name(&self) -> &'static str {
        "gpumem"
    }

    fn description(&self) -> &'static str {
        "GPU copies: H2D/D2H pinned and pageable, bidirectional, D2D (copy engine, SMs), peer-to-peer matrix (CUDA only)"
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

    /// A source and a destination of the copy's size on the device and on the host
    /// (pinned and pageable); nothing on the CPU backend, where it is skipped.
    fn footprint(&self, cfg: &BenchConfig, at: Placement) -> Option<Footprint<'static>> {
        if !at.gpu {
            return None;
        }
        let bytes = copy_bytes(cfg.array_bytes, at.cache_bytes);
        let need_at = |b: u64| Need {
            host: 2 * b,
            device: 2 * b,
        };
        Some(Footprint {
            bench: "gpumem",
            what: "copy size",
            flag: "--array-size",
            unit: Unit::Bytes,
            cases: vec![(
                bytes,
                format!("with copies of {}", format_bytes(bytes)),
                need_at(bytes),
            )],
            need_at: Box::new(need_at),
            grid: Grid::Step(1 << 20),
        })
    }

    fn run(&self, cfg: &BenchConfig, ctx: &mut RunContext) -> Result<()> {
        if ctx.backend.gpus_visible() == 0 {
            if ctx.rank() == 0 {
                crate::errln!(
                    "clusterbench: gpumem skipped: the {} backend has no GPU",
                    ctx.backend.name()
                );
            }
            return Ok(());
        }
        let bytes = copy_bytes(cfg.array_bytes, ctx.backend.cache_bytes());
        let iters = Iterations {
            warmup: cfg.warmup_iters,
            timed: cfg.iters,
            check: cfg.check,
        };
        let mut kinds = LOCAL_COPIES.to_vec();
        // Peer copies reach every GPU of the node, so one process must own them all.
        if ctx.comm.size() == 1 {
            kinds.extend(peer_copies(ctx.backend.gpus_visible()));
        } else if ctx.rank() == 0 {
            crate::errln!(
                "clusterbench: gpumem: peer-to-peer copies run only in a single-process run"
            );
        }
        for kind in kinds {
            let (src_gpu, dst_gpu) = match kind {
                CopyKind::Peer { src, dst, .. } => (Some(src as u32), Some(dst as u32)),
                _ => (None, None),
            };
            ctx.progress(format!("gpumem {} {}", kind.name(), format_bytes(bytes)));
            let prepared = ctx.backend.copy(kind, bytes as usize)?;
            let mut workload = prepared.workload;
            let moved = bytes * kind.directions();
            let mut metrics = vec![MetricSpec::gbps("bandwidth", moved as f64)];
            if matches!(kind, CopyKind::DeviceToDevice { .. }) {
                // Bytes read plus bytes written: what to compare with the memory's peak.
                metrics.push(MetricSpec::gbps("memory_traffic", 2.0 * moved as f64));
            }
            let params = Params::Copy {
                copy: kind.name().to_string(),
                bytes,
                bytes_moved: moved,
                src_gpu,
                dst_gpu,
                peer_path: prepared.peer_path,
            };
            ctx.measure(self.name(), params, iters, workload.as_mut(), &metrics)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_default_to_four_times_the_l2_and_at_least_512_mib() {
        // H100's L2 is 50 MiB: 4x is 200 MiB, under the floor.
        assert_eq!(copy_bytes(None, Some(50 << 20)), 512 << 20);
        // A GPU with a 192 MiB L2 gets 768 MiB.
        assert_eq!(copy_bytes(None, Some(192 << 20)), 768 << 20);
        // An odd L2 still gives whole 16-byte units, at least 4x the cache.
        let odd = copy_bytes(None, Some((200 << 20) + 3));
        assert!(odd % 16 == 0 && odd >= 4 * ((200 << 20) + 3) - 15, "{odd}");
        assert_eq!(copy_bytes(None, None), 512 << 20);
        // --array-size wins, whatever the cache.
        assert_eq!(copy_bytes(Some(1 << 20), Some(192 << 20)), 1 << 20);
        assert_eq!(copy_bytes(Some(1000), None), 992);
    }

    #[test]
    fn peer_matrix_covers_every_pair() {
        assert!(peer_copies(1).is_empty());
        let four = peer_copies(4);
        assert_eq!(four.len(), 12 + 6);
        assert!(four.contains(&CopyKind::Peer {
            src: 3,
            dst: 0,
            bidirectional: false
        }));
        assert!(!four.contains(&CopyKind::Peer {
            src: 3,
            dst: 0,
            bidirectional: true
        }));
    }
}
