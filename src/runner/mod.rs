//! Runs benchmarks: warm-up, timing, the slowest rank per iteration, checks, reporting.

pub mod collective;
pub mod nodes;
pub mod watchdog;

use crate::core::Communicator;
use crate::core::{Backend, Iterations, Workload};
use crate::error::CheckFailed;
use crate::options::RunOptions;
use crate::probe::topology::Topology;
use crate::report::Reporter;
use crate::results::describe::describe;
use crate::results::{
    self, Check, Environment, Metric, Params, Record, RunDocument, RunInfo, RunStatus, ToolInfo,
};
use crate::stats::Summary;
use anyhow::{anyhow, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};

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

/// Everything a benchmark needs while it runs.
pub struct RunContext<'a> {
    pub comm: &'a dyn Communicator,
    pub backend: &'a dyn Backend,
    pub topology: &'a Topology,
    pub nodes: u32,
    /// Test-only: the rank whose input is corrupted before each check.
    pub corrupt_rank: Option<usize>,
    /// Test-only: every timed iteration of this rank is stretched by this factor.
    pub slowdown: Option<f64>,
    reporters: &'a mut [Box<dyn Reporter>],
    progress: &'a ProgressBar,
    pub records: Vec<Record>,
    /// The host of every rank, in rank order (known on every rank).
    pub hosts: Vec<String>,
    /// The hang watchdog, unless turned off (`--timeout 0`).
    pub watchdog: Option<&'a watchdog::Watchdog>,
    /// Ranks of the point-to-point benchmark.
    pub peers: (usize, usize),
    /// Messages in flight per bandwidth iteration.
    pub window: usize,
    /// Test-only: the rank that stalls before its second measurement.
    pub stall_rank: Option<usize>,
    operations_started: u64,
    /// The node x node link matrix, when `links` ran.
    pub links: Option<results::links::LinkMatrix>,
}

impl RunContext<'_> {
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
        self.corrupt_rank == Some(self.comm.rank())
    }

    /// Shows what is being measured (terminal only).
    pub fn progress(&self, message: String) {
        self.progress.set_message(message);
        self.progress.inc(1);
    }

    /// Tells the reporters that a benchmark starts.
    pub fn begin_bench(&mut self, benchmark: &str) -> Result<()> {
        let ranks = self.ranks();
        let nodes = self.nodes;
        let backend = self.backend.name();
        let progress = self.progress;
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
        let Some(w) = self.watchdog else {
            return Ok(());
        };
        if self.operations_started == 2 && self.stall_rank == Some(self.rank()) {
            std::thread::sleep(w.timeout * 4);
        }
        // Rank 0 names the missing ranks; the others wait longer for its verdict, since
        // rank 0 may arrive late itself (it writes every record to disk first): only a
        // rank 0 that misses this later deadline too is named as missing.
        let grace = if self.rank() == 0 {
            std::time::Duration::ZERO
        } else {
            w.timeout / 2 + std::time::Duration::from_secs(2)
        };
        if let Err(missing) = self
            .comm
            .arrive(std::time::Instant::now() + w.timeout + grace)
        {
            let names: Vec<String> = missing.ranks.iter().map(|&r| self.who(r)).collect();
            return Err(watchdog::NeverArrived {
                what: what.to_string(),
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
            samples.push(match self.slowdown {
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
        self.comm.max_f64(&mut samples)?;

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
        };
        self.emit(record.clone())?;
        Ok(record)
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

/// Collects the environment fingerprint from every rank (complete on rank 0);
/// `gpus_per_rank`: the GPUs each rank drives (`-g`).
pub fn gather_environment(
    comm: &dyn Communicator,
    topology: &Topology,
    gpus_per_rank: usize,
) -> Result<Environment> {
    use crate::probe::host::{local_host, local_rank};
    use crate::results::environment::{HostInfo, MpiInfo, RankInfo};
    let mine = serde_json::to_vec(&(
        local_host(
            topology,
            crate::backend::cuda::gpu_inventory(),
            crate::backend::cuda::cuda_stack(),
        ),
        local_rank(
            comm.rank(),
            topology,
            crate::backend::cuda::rank_gpus(gpus_per_rank),
            gpus_per_rank,
        ),
    ))?;
    let all = comm.gather_bytes(&mine)?;
    let mut hosts: Vec<HostInfo> = Vec::new();
    let mut ranks: Vec<RankInfo> = Vec::new();
    for bytes in all {
        let (host, rank): (HostInfo, RankInfo) =
            serde_json::from_slice(&bytes).context("decoding another rank's fingerprint")?;
        if !hosts.iter().any(|h| h.hostname == host.hostname) {
            hosts.push(host);
        }
        ranks.push(rank);
    }
    let mpi = comm.library_version().map(|v| MpiInfo {
        library_version: v,
        world_size: comm.size() as u32,
    });
    Ok(Environment { hosts, ranks, mpi })
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Runs a whole suite. On rank 0 returns the results document (written to disk).
pub fn run(options: &RunOptions, comm: &dyn Communicator) -> Result<RunDocument> {
    let topology = Topology::load()?;
    let (backend, backend_note) =
        crate::backend::select(options.backend, options.cuda_graph, options.gpus_per_rank)?;
    for cfg in &options.benches {
        backend.check_config(cfg)?;
    }
    let environment = gather_environment(comm, &topology, backend.devices_per_rank())?;

    // Rank 0 names the run and counts the nodes; every rank needs both.
    let (run_id, started_at, nodes, rank_hosts) = {
        let started_at = now_rfc3339();
        let host = environment
            .hosts
            .first()
            .map(|h| h.hostname.as_str())
            .unwrap_or("host");
        let safe_host: String = host
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let id = format!(
            "{}-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ"),
            safe_host
        );
        let rank_hosts: Vec<String> = environment.ranks.iter().map(|r| r.host.clone()).collect();
        let shared =
            serde_json::to_vec(&(id, started_at, environment.hosts.len() as u32, rank_hosts))?;
        let agreed = comm.broadcast_bytes(&shared)?;
        serde_json::from_slice::<(String, String, u32, Vec<String>)>(&agreed)?
    };

    let mut document = RunDocument {
        schema_version: results::SCHEMA_VERSION,
        tool: ToolInfo::current(),
        run: RunInfo {
            run_id,
            command_line: std::env::args().collect(),
            started_at,
            finished_at: None,
            status: RunStatus::Running,
            backend: backend.name().to_string(),
            backend_note: backend_note.clone(),
            suite: options.suite.clone(),
            options: results::options_value(options),
        },
        environment,
        records: Vec::new(),
        links: None,
    };

    let is_root = comm.rank() == 0;
    let mut reporters: Vec<Box<dyn Reporter>> = if is_root {
        crate::report::reporters(options)?
    } else {
        Vec::new()
    };
    if is_root {
        if let Some(note) = &backend_note {
            eprintln!("clusterbench: {note}");
        }
    }
    for r in reporters.iter_mut() {
        r.begin(&document)?;
    }

    let progress = if is_root && !options.quiet {
        let pb = ProgressBar::new_spinner();
        pb.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed}] {pos} measured · {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        pb.enable_steady_tick(std::time::Duration::from_millis(200));
        pb
    } else {
        ProgressBar::hidden()
    };

    let registry = crate::bench::registry();
    let watchdog = options.timeout_s.map(|t| {
        watchdog::Watchdog::start(
            std::time::Duration::from_secs_f64(t),
            format!("rank {} ({})", comm.rank(), crate::probe::host::hostname()),
        )
    });
    if let (Some(w), Some(g)) = (watchdog.as_ref(), backend.guard()) {
        w.guard(std::sync::Arc::downgrade(&g));
    }
    let outcome = {
        let mut ctx = RunContext {
            comm,
            backend: backend.as_ref(),
            topology: &topology,
            nodes,
            corrupt_rank: options.corrupt_rank,
            slowdown: options
                .slowdown
                .filter(|_| options.slow_rank.is_none_or(|r| r == comm.rank())),
            reporters: &mut reporters,
            progress: &progress,
            records: Vec::new(),
            hosts: rank_hosts,
            watchdog: watchdog.as_ref(),
            peers: options.peers,
            window: options.window,
            stall_rank: options.stall_rank,
            operations_started: 0,
            links: None,
        };
        let mut result = Ok(());
        for cfg in &options.benches {
            let Some(bench) = registry.iter().find(|b| b.name() == cfg.name) else {
                result = Err(anyhow!("benchmark {} is not registered", cfg.name));
                break;
            };
            if let Err(e) = ctx
                .begin_bench(bench.name())
                .and_then(|_| bench.run(cfg, &mut ctx))
            {
                result = Err(e.context(format!("benchmark {}", cfg.name)));
                break;
            }
        }
        document.records = std::mem::take(&mut ctx.records);
        document.links = ctx.links.take();
        result
    };
    progress.finish_and_clear();

    let failed = document.records.iter().filter(|r| !r.check.passed).count();
    document.run.finished_at = Some(now_rfc3339());
    document.run.status = match (&outcome, failed) {
        (Err(_), _) => RunStatus::Aborted,
        (Ok(()), 0) => RunStatus::Completed,
        (Ok(()), _) => RunStatus::CheckFailed,
    };
    let mut paths = Vec::new();
    for r in reporters.iter_mut() {
        if let Some(p) = r.finish(&document)? {
            paths.push(p);
        }
    }
    if is_root {
        // After the results are on disk: charts are a view of them, never a risk to them.
        if let Some(dir) = crate::report::plot::write_run_charts(&document, &options.output_dir) {
            if !options.quiet {
                eprintln!("clusterbench: charts written to {}", dir.display());
            }
        }
    }
    outcome?;
    if failed > 0 {
        return Err(CheckFailed {
            failed,
            total: document.records.len(),
            path: paths
                .first()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        }
        .into());
    }
    if is_root && !options.quiet {
        for p in &paths {
            eprintln!("clusterbench: results written to {}", p.display());
        }
    }
    Ok(document)
}
