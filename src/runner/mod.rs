//! Runs benchmarks: warm-up, timing, the slowest rank per iteration, checks, reporting.

pub mod fault;
pub mod interrupt;
pub mod nodes;
pub mod progress;
pub mod sidechannel;
pub mod watchdog;

use crate::core::Communicator;
use crate::core::{Backend, Iterations, Workload};
use crate::probe::topology::Topology;
use crate::results::describe::describe;
use crate::results::reporter::Reporter;
use crate::results::{self, Check, Metric, Params, Record};
use crate::stats::Summary;
use anyhow::{anyhow, Result};
use progress::Progress;

/// A figure derived from the time: `value = quantity / seconds / scale`.
pub struct MetricSpec {
    pub name: &'static str,
    pub unit: &'static str,
    pub quantity: f64,
    pub scale: f64,
}

impl MetricSpec {
    pub fn gbps(name: &'static str, bytes: f64) -> Self {
        MetricSpec {
            name,
            unit: "GB/s",
            quantity: bytes,
            scale: 1e9,
        }
    }

    pub fn tflops(flops: f64) -> Self {
        MetricSpec {
            name: "tflops",
            unit: "TFLOP/s",
            quantity: flops,
            scale: 1e12,
        }
    }

    fn at(&self, seconds: f64) -> f64 {
        if seconds > 0.0 {
            self.quantity / seconds / self.scale
        } else {
            0.0
        }
    }
}

/// Test-only switches (`--debug-*`) that make a run misbehave on purpose, so the
/// checks, the slow-node flags and the watchdog can be shown to work.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// The rank whose input is corrupted before each check.
    pub corrupt_rank: Option<usize>,
    /// Every timed iteration of this rank is stretched by this factor.
    pub slowdown: Option<f64>,
    /// The rank that stalls before its second measurement.
    pub stall_rank: Option<usize>,
    /// The rank that comes late to its second measurement, by the timeout and 2 s: for
    /// rank 0, half the timeout later than the other ranks' grace for it would allow
    /// if they waited only for its release, and half the timeout within their wait
    /// for its arrival.
    pub late_rank: Option<usize>,
    /// The rank that waits before each send of the links latency test: a node whose
    /// link adds latency.
    pub latency_rank: Option<usize>,
}

/// What a run's measurements share, handed to [`RunContext::new`].
pub struct RunSetup<'a> {
    pub comm: &'a dyn Communicator,
    pub backend: &'a dyn Backend,
    pub topology: &'a Topology,
    pub nodes: u32,
    pub hosts: Vec<String>,
    pub watchdog: Option<&'a watchdog::Watchdog>,
    pub peers: (usize, usize),
    pub window: usize,
    pub faults: Faults,
    /// SIGINT/SIGTERM as this process saw them.
    pub interrupt: interrupt::Interrupt,
}

/// Everything a benchmark needs while it runs.
pub struct RunContext<'a> {
    pub comm: &'a dyn Communicator,
    pub backend: &'a dyn Backend,
    pub topology: &'a Topology,
    pub nodes: u32,
    /// Test-only switches that make this run misbehave on purpose.
    pub faults: Faults,
    reporters: &'a mut [Box<dyn Reporter>],
    progress: &'a Progress,
    pub records: Vec<Record>,
    /// The host of every rank, in rank order (known on every rank).
    pub hosts: Vec<String>,
    /// The hang watchdog, unless turned off (`--timeout 0`).
    pub watchdog: Option<&'a watchdog::Watchdog>,
    /// Ranks of the point-to-point benchmark.
    pub peers: (usize, usize),
    /// Messages in flight per bandwidth iteration.
    pub window: usize,
    operations_started: u64,
    /// The node x node link matrix, when `links` ran.
    pub links: Option<results::links::LinkMatrix>,
    interrupt: interrupt::Interrupt,
    /// The signal every rank agreed to stop for, after the last measurement.
    pub interrupted: Option<i32>,
}

impl<'a> RunContext<'a> {
    /// A context that reports to `reporters` and shows progress on `progress`.
    pub fn new(
        setup: RunSetup<'a>,
        reporters: &'a mut [Box<dyn Reporter>],
        progress: &'a Progress,
    ) -> Self {
        RunContext {
            comm: setup.comm,
            backend: setup.backend,
            topology: setup.topology,
            nodes: setup.nodes,
            faults: setup.faults,
            reporters,
            progress,
            records: Vec::new(),
            hosts: setup.hosts,
            watchdog: setup.watchdog,
            peers: setup.peers,
            window: setup.window,
            operations_started: 0,
            links: None,
            interrupt: setup.interrupt,
            interrupted: None,
        }
    }

    pub fn rank(&self) -> usize {
        self.comm.rank()
    }

    /// Ranks of a measurement: processes x the devices each drives (`-g`), as
    /// nccl-tests counts them, so bus-bandwidth factors use the GPU count.
    pub fn ranks(&self) -> usize {
        self.comm.size() * self.backend.devices_per_rank()
    }

    /// Whether this rank's inputs are to be corrupted (test-only switch).
    pub fn corrupt_here(&self) -> bool {
        self.faults.corrupt_rank == Some(self.comm.rank())
    }

    /// Shows what is being measured (terminal only).
    pub fn progress(&self, message: String) {
        self.progress.begin_case(message);
    }

    /// Tells the reporters that a benchmark starts.
    pub fn begin_bench(&mut self, benchmark: &str) -> Result<()> {
        let ranks = self.ranks();
        let nodes = self.nodes;
        let backend = self.backend.name();
        let progress = self.progress;
        progress.begin_bench();
        for r in self.reporters.iter_mut() {
            progress.suspend(|| r.begin_bench(benchmark, backend, ranks, nodes))?;
        }
        Ok(())
    }

    /// `rank 3 (node04)`.
    pub fn who(&self, rank: usize) -> String {
        match self.hosts.get(rank) {
            Some(h) => format!("rank {rank} ({h})"),
            None => format!("rank {rank}"),
        }
    }

    /// Waits until every rank has arrived at the operation `what` (none hangs past the
    /// watchdog's limit), then arms the watchdog for `operations` operations.
    pub fn start_operation(&mut self, what: &str, operations: u64) -> Result<()> {
        self.operations_started += 1;
        // Once per process, before anything is timed with it, even with no warm-up.
        crate::clock::calibrate();
        let Some(w) = self.watchdog else {
            return Ok(());
        };
        if self.operations_started == 2 && self.faults.stall_rank == Some(self.rank()) {
            std::thread::sleep(w.timeout * 4);
        }
        if self.operations_started == 2 && self.faults.late_rank == Some(self.rank()) {
            std::thread::sleep(w.timeout + std::time::Duration::from_secs(2));
        }
        // Rank 0 names the missing ranks; the others wait longer for its verdict, since
        // rank 0 may arrive late itself (it writes every record to disk first): only a
        // rank 0 that misses this later deadline too is named as missing.
        let grace = if self.rank() == 0 {
            std::time::Duration::ZERO
        } else {
            w.timeout / 2 + std::time::Duration::from_secs(2)
        };
        let arrive_by = std::time::Instant::now() + w.timeout + grace;
        // The arrival check ends by itself (a rank waiting for rank 0's release waits
        // at most as long again); the watchdog only acts on a signal meanwhile.
        w.arm_arrival(what.to_string(), arrive_by + (w.timeout + grace) * 2);
        if let Err(missing) = self.comm.arrive(arrive_by) {
            w.disarm();
            let names: Vec<String> = missing.ranks.iter().map(|&r| self.who(r)).collect();
            return Err(watchdog::NeverArrived {
                what: what.to_string(),
                ranks: missing.ranks.clone(),
                who: self.who(self.rank()),
                missing: names.join(", "),
                seconds: (w.timeout + grace).as_secs_f64(),
            }
            .into());
        }
        w.arm(what.to_string(), operations);
        Ok(())
    }

    /// Notes that operation `i` (1-based) of the armed one is under way.
    pub fn progress_operation(&self, i: u64) {
        if let Some(w) = self.watchdog {
            w.progress(i);
        }
    }

    /// The operation ended: the watchdog stands down.
    pub fn end_operation(&self) {
        if let Some(w) = self.watchdog {
            w.disarm();
        }
    }

    /// Measures `workload`: warm-up, timed iterations (each the slowest rank's time),
    /// the check, then builds the record and reports it.
    pub fn measure(
        &mut self,
        benchmark: &str,
        params: Params,
        iters: Iterations,
        workload: &mut dyn Workload,
        metrics: &[MetricSpec],
    ) -> Result<Record> {
        let total = (iters.warmup + iters.timed) as u64 + u64::from(iters.check);
        self.start_operation(&describe(benchmark, &params), total)?;
        let mut op = 0;
        for _ in 0..iters.warmup {
            op += 1;
            self.progress_operation(op);
            workload.iterate()?;
        }
        self.comm.barrier();
        let mut samples = Vec::with_capacity(iters.timed as usize);
        // Back to back, no barrier between iterations: the slowest rank per iteration
        // is taken afterwards.
        self.progress_operation(op + 1);
        workload.run_timed(iters.timed, &mut |t| {
            op += 1;
            samples.push(match self.faults.slowdown {
                Some(factor) => t + busy_wait((factor - 1.0) * t),
                None => t,
            });
            self.progress_operation(op + 1);
        })?;
        let per_node = if self.nodes > 1 {
            nodes::per_node(self.comm, &self.hosts, &samples, &params)?
        } else {
            Vec::new()
        };
        let rank_mean_s = self.rank_mean(&samples)?;
        // This rank's interrupt vote rides on the reduction of the samples, so that all
        // ranks agree on it without another collective.
        samples.push(self.interrupt.vote());
        self.comm.max_f64(&mut samples)?;
        self.interrupted = samples.pop().and_then(interrupt::agreed_signal);

        let check = if iters.check {
            op += 1;
            self.progress_operation(op);
            let local = workload.verify()?;
            let wrong = self.comm.sum_u64(local.wrong)?;
            let checked = self.comm.sum_u64(local.checked)?;
            let max_error_ratio = match local.max_error_ratio {
                Some(r) => {
                    let mut v = [r];
                    self.comm.max_f64(&mut v)?;
                    Some(v[0])
                }
                None => None,
            };
            Check {
                performed: true,
                passed: wrong == 0 && max_error_ratio.is_none_or(|r| r <= 1.0),
                checked,
                wrong,
                max_error_ratio,
                method: local.method.to_string(),
            }
        } else {
            Check::skipped()
        };

        let time_s = Summary::of(&samples)
            .ok_or_else(|| anyhow!("{benchmark}: timing produced no valid samples"))?;
        let metrics = metrics
            .iter()
            .map(|m| Metric {
                name: m.name.to_string(),
                unit: m.unit.to_string(),
                value: m.at(time_s.median),
                best: m.at(time_s.min),
            })
            .collect();
        self.end_operation();
        let record = Record {
            benchmark: benchmark.to_string(),
            backend: self.backend.name().to_string(),
            ranks: self.ranks() as u32,
            nodes: self.nodes,
            params,
            time_s,
            samples_s: samples,
            metrics,
            check,
            per_node,
            timing: Some(workload.timing()),
            rank_mean_s,
        };
        self.emit(record.clone())?;
        self.progress.case_done();
        match self.interrupted {
            Some(signal) => Err(interrupt::Interrupted { signal }.into()),
            None => Ok(record),
        }
    }

    /// Each rank's mean of its own `samples`, averaged over the ranks (OSU's and
    /// nccl-tests' statistic); `None` when a rank has no finite sample.
    fn rank_mean(&self, samples: &[f64]) -> Result<Option<f64>> {
        let own = if samples.is_empty() || samples.iter().any(|t| !t.is_finite()) {
            f64::NAN
        } else {
            samples.iter().sum::<f64>() / samples.len() as f64
        };
        let mean = self.comm.sum_f64(own)? / self.comm.size() as f64;
        Ok(mean.is_finite().then_some(mean))
    }

    /// Reports the link matrix (streamed to disk at once).
    pub fn emit_links(&mut self, matrix: &results::links::LinkMatrix) -> Result<()> {
        let progress = self.progress;
        for r in self.reporters.iter_mut() {
            progress.suspend(|| r.links(matrix))?;
        }
        Ok(())
    }

    /// Reports a record (streamed to disk at once) and keeps it for the document.
    pub fn emit(&mut self, record: Record) -> Result<()> {
        let progress = self.progress;
        for r in self.reporters.iter_mut() {
            progress.suspend(|| r.record(&record))?;
        }
        self.records.push(record);
        Ok(())
    }
}

/// Spins for `seconds` (test-only slowdown) and returns the time really spent, so
/// the stretched sample is a measured time, not a multiplied one.
fn busy_wait(seconds: f64) -> f64 {
    let start = std::time::Instant::now();
    while start.elapsed().as_secs_f64() < seconds {
        std::hint::spin_loop();
    }
    start.elapsed().as_secs_f64()
}
