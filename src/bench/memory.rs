//! The memory guard: before a run allocates anything, every benchmark's largest case
//! is held against what a rank may use (its node's available host memory shared by
//! the node's ranks, and its GPU's free memory), and a run that cannot fit is refused
//! with the largest setting that does. The arithmetic is `core::memory`'s.

use crate::core::memory::{refusal, Budget, Need, Placement};
use crate::core::{Backend, BenchConfig, Communicator};
use crate::error::AgreedUsageError;
use anyhow::Result;

/// Refuses (exit 2, on every rank alike) a run whose cases cannot fit in memory.
/// `rank_hosts`: the host of every rank; `window`: the point-to-point window.
pub fn refuse_what_cannot_fit(
    benches: &[BenchConfig],
    window: usize,
    backend: &dyn Backend,
    comm: &dyn Communicator,
    rank_hosts: &[String],
) -> Result<()> {
    let host = rank_hosts.get(comm.rank());
    let ranks_on_node = rank_hosts.iter().filter(|h| Some(*h) == host).count();
    let mine = Budget::share(
        crate::probe::memory::host_memory().map(|m| m.available),
        ranks_on_node,
        backend.device_free_bytes(),
    );
    let budget = tightest(comm, mine)?;
    let at = Placement {
        ranks: comm.size(),
        gpu: backend.gpus_visible() > 0,
        devices_per_rank: backend.devices_per_rank(),
        cache_bytes: backend.cache_bytes(),
        window,
    };
    for cfg in benches {
        let Some(bench) = super::registry().iter().find(|b| b.name() == cfg.name) else {
            continue;
        };
        if let Some(footprint) = bench.footprint(cfg, at) {
            if let Some(why) = refusal(&footprint, &budget) {
                return Err(AgreedUsageError(why).into());
            }
        }
    }
    Ok(())
}

/// The smallest budget of any rank, on every rank, so that all decide alike.
fn tightest(comm: &dyn Communicator, mine: Budget) -> Result<Budget> {
    // Unknown is no limit; the maximum of the negated budgets is the least budget.
    let negated = |b: Option<u64>| b.map_or(f64::NEG_INFINITY, |v| -(v as f64));
    let mut values = [negated(mine.host), negated(mine.device)];
    comm.max_f64(&mut values)?;
    let back = |v: f64| v.is_finite().then(|| (-v) as u64);
    Ok(Budget {
        host: back(values[0]),
        device: back(values[1]),
    })
}

/// What one end of a point-to-point exchange holds for messages of `bytes` in
/// windows of `window`: the message and its receive slots in the transport's memory,
/// and on the host the message as built and the slots as read back for the check.
pub fn point_to_point_need(bytes: u64, window: usize, gpu: bool) -> Need {
    let slots = crate::core::p2p::window_for(bytes as usize, window) as u64;
    let buffers = bytes.saturating_add(bytes.saturating_mul(slots));
    if gpu {
        Need {
            host: buffers,
            device: buffers,
        }
    } else {
        Need::host(buffers.saturating_mul(2))
    }
}
