//! A prepared measurement case and what it reports: the contract between the
//! benchmarks, the backends that run their work and the harness that times it.

use anyhow::Result;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A prepared case: buffers allocated and initialised, ready to iterate.
pub trait Workload {
    /// Runs one iteration; returns its duration in seconds as this rank saw it.
    fn iterate(&mut self) -> Result<f64>;
    /// Runs `iterations` timed iterations back to back, after the warm-up, and hands
    /// each one's time to `record`, in order. The default calls
    /// [`iterate`](Self::iterate) in a loop; a workload whose iterations are short
    /// enough for the caller's bookkeeping between them to show (an 8-byte ping-pong)
    /// runs its own loop and calls `record` while it waits for a message instead.
    fn run_timed(&mut self, iterations: u32, record: &mut dyn FnMut(f64)) -> Result<()> {
        iterate_each(self, iterations, record)
    }
    /// Re-initialises the inputs, runs once and compares with the exact expected
    /// result (this rank's part).
    fn verify(&mut self) -> Result<LocalCheck>;
    /// How [`run_timed`](Self::run_timed) takes its times, for the record.
    fn timing(&self) -> crate::core::Timing {
        crate::core::Timing::HostClock
    }
}

/// `iterations` calls of `workload.iterate()`, each time handed to `record`: the
/// default [`Workload::run_timed`].
pub fn iterate_each<W: Workload + ?Sized>(
    workload: &mut W,
    iterations: u32,
    record: &mut dyn FnMut(f64),
) -> Result<()> {
    for _ in 0..iterations {
        let t = workload.iterate()?;
        record(t);
    }
    Ok(())
}

/// Outcome of one rank's check.
#[derive(Debug, Clone, Default)]
pub struct LocalCheck {
    pub checked: u64,
    pub wrong: u64,
    /// Largest error relative to its allowed bound, where errors are allowed.
    pub max_error_ratio: Option<f64>,
    pub method: &'static str,
}

/// Iteration counts of one measurement.
#[derive(Debug, Clone, Copy)]
pub struct Iterations {
    pub warmup: u32,
    pub timed: u32,
    pub check: bool,
}

/// How a record's per-iteration times were taken. GPU times come from CUDA events,
/// whose placement decides whether the host's launch cost is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Timing {
    /// The host's clock around each iteration (CPU benchmarks, MPI): the CPU's
    /// time-stamp counter calibrated against the monotonic clock where it ticks at a
    /// constant rate, else the monotonic clock (`crate::clock`).
    HostClock,
    /// CUDA events between calls queued back to back while a spin kernel held the
    /// stream, released once a whole batch was queued (nvbandwidth's method): the GPU
    /// time of each call, without the host's launch cost or the ranks' skew.
    HeldStreamEvents,
    /// CUDA events recorded around each call as the host queues it: includes the
    /// host's launch cost (used where no stream hold is possible).
    EventsPerCall,
}
