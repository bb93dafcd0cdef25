//! One run of a suite, from start to the finished document: set-up (topology,
//! backend, environment), the run id every rank agrees on, the benchmark loop, and
//! the finish (status, reporters, exit verdict).

use crate::core::Backend;
use crate::core::Communicator;
use crate::error::{CheckFailed, RunInterrupted};
use crate::options::RunOptions;
use crate::probe::topology::Topology;
use crate::render::plot::ChartReporter;
use crate::render::table::TableReporter;
use crate::results::files::JsonReporter;
use crate::results::reporter::Reporter;
use crate::results::{
    self, AbortInfo, Culprit, Environment, Record, RunDocument, RunInfo, RunStatus, ToolInfo,
};
use crate::runner::fault::{self, FaultEnding};
use crate::runner::progress::Progress;
use crate::runner::sidechannel::{SideChannel, Verdict};
use crate::runner::{interrupt, watchdog, Faults, RunContext, RunSetup};
use anyhow::{anyhow, Context, Result};
use std::io::IsTerminal;

/// The reporters of a run on rank 0: the JSON files always, the table unless quiet,
/// the charts last.
pub fn reporters(options: &RunOptions) -> Result<Vec<Box<dyn Reporter>>> {
    let mut out: Vec<Box<dyn Reporter>> = vec![Box::new(JsonReporter::new(&options.output_dir)?)];
    if !options.quiet && !options.json {
        out.push(Box::new(TableReporter::stdout()));
    }
    out.push(Box::new(ChartReporter {
        output_dir: options.output_dir.clone(),
        quiet: options.quiet,
    }));
    Ok(out)
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
    Ok(Environment {
        hosts,
        ranks,
        mpi,
        collective_settings: crate::probe::host::collective_settings(),
        nvlink_domain_size: None,
    })
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The run's name, start and shape, as rank 0 decided them for every rank.
struct RunIdentity {
    run_id: String,
    started_at: String,
    nodes: u32,
    /// The host of every rank, in rank order.
    rank_hosts: Vec<String>,
}

/// Rank 0 names the run and counts the nodes; every rank needs both.
fn agree_identity(comm: &dyn Communicator, environment: &Environment) -> Result<RunIdentity> {
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
    let shared = serde_json::to_vec(&(id, started_at, environment.hosts.len() as u32, rank_hosts))?;
    let agreed = comm.broadcast_bytes(&shared)?;
    let (run_id, started_at, nodes, rank_hosts) =
        serde_json::from_slice::<(String, String, u32, Vec<String>)>(&agreed)?;
    Ok(RunIdentity {
        run_id,
        started_at,
        nodes,
        rank_hosts,
    })
}

/// The progress line: on rank 0's terminal only, unless quiet; with each benchmark's
/// planned measurements, for the total and the time left.
fn progress(
    show: bool,
    options: &RunOptions,
    ranks: usize,
    backend: &dyn Backend,
    interrupt: &interrupt::Interrupt,
) -> Progress {
    let show = show && std::io::stderr().is_terminal();
    if !show {
        return Progress::hidden();
    }
    let registry = crate::bench::registry();
    let plan = options
        .benches
        .iter()
        .map(|cfg| {
            registry
                .iter()
                .find(|b| b.name() == cfg.name)
                .and_then(|b| b.planned_work(cfg, ranks, backend))
        })
        .collect();
    Progress::new(true, plan, interrupt)
}

/// Every benchmark of the run in order, until one fails or all ranks agree on an
/// interrupt (then `Ok(Some(signal))`); the records and the link matrix measured go
/// into `document` either way.
fn measure_all(
    ctx: &mut RunContext,
    options: &RunOptions,
    document: &mut RunDocument,
) -> Result<Option<i32>> {
    let registry = crate::bench::registry();
    let mut result = Ok(None);
    for cfg in &options.benches {
        let Some(bench) = registry.iter().find(|b| b.name() == cfg.name) else {
            result = Err(anyhow!("benchmark {} is not registered", cfg.name));
            break;
        };
        let outcome = ctx
            .begin_bench(bench.name())
            .and_then(|_| bench.run(cfg, ctx));
        if ctx.interrupted.is_some() {
            result = Ok(ctx.interrupted);
            break;
        }
        if let Err(e) = outcome {
            result = Err(e.context(format!("benchmark {}", cfg.name)));
            break;
        }
    }
    document.records = std::mem::take(&mut ctx.records);
    document.links = ctx.links.take();
    result
}

/// Why a run stopped by an error: the error, and the ranks that never arrived and the
/// measurement they were awaited at when that was the error.
fn abort_info(e: &anyhow::Error, document: &RunDocument) -> AbortInfo {
    let never_arrived = e.downcast_ref::<watchdog::NeverArrived>();
    AbortInfo {
        reason: format!("{e:#}"),
        culprits: never_arrived
            .map(|n| {
                n.ranks
                    .iter()
                    .map(|&rank| Culprit {
                        rank,
                        host: document.environment.ranks.get(rank).map(|r| r.host.clone()),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        step: never_arrived.map(|n| format!("{}, before it started (ranks arriving)", n.what)),
    }
}

/// Stamps the outcome, lets every reporter finish, and turns failed checks into the
/// run's error.
fn finish(
    mut document: RunDocument,
    outcome: Result<Option<i32>>,
    reporters: &mut [Box<dyn Reporter>],
    root: Option<&RunOptions>,
) -> Result<RunDocument> {
    let failed = document
        .records
        .iter()
        .filter(|r: &&Record| !r.check.passed)
        .count();
    document.run.finished_at = Some(now_rfc3339());
    if let Err(e) = &outcome {
        document.run.abort = Some(abort_info(e, &document));
    }
    document.run.status = match (&outcome, failed) {
        (Err(_), _) => RunStatus::Aborted,
        (Ok(Some(_)), _) => RunStatus::Interrupted,
        (Ok(None), 0) => RunStatus::Completed,
        (Ok(None), _) => RunStatus::CheckFailed,
    };
    let mut paths = Vec::new();
    for r in reporters.iter_mut() {
        if let Some(p) = r.finish(&document)? {
            paths.push(p);
        }
    }
    let written = paths
        .first()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    // The document is whole whatever the outcome: a script reading it sees the status.
    if root.is_some_and(|o| o.json) {
        crate::outln!("{}", serde_json::to_string_pretty(&document)?);
    }
    if let Some(signal) = outcome? {
        return Err(RunInterrupted {
            signal,
            signal_name: interrupt::signal_name(signal),
            records: document.records.len(),
            path: written,
        }
        .into());
    }
    if failed > 0 {
        return Err(CheckFailed {
            failed,
            total: document.records.len(),
            path: written,
        }
        .into());
    }
    // Even with -q: a quiet run's caller still needs to find its results.
    if root.is_some() {
        for p in &paths {
            crate::errln!("clusterbench: results written to {}", p.display());
        }
    }
    Ok(document)
}

/// The run without the collectives that would measure nothing real on one rank, with
/// the line that says why; `None` when nothing is left out. Unless named with --bench,
/// every collective is left out; named, those that exist only in place (on one rank a
/// no-op), while the others are measured out-of-place as local copies.
fn without_one_rank_collectives(
    options: &RunOptions,
    ranks: usize,
) -> Option<(RunOptions, String)> {
    if ranks != 1 {
        return None;
    }
    let skip = |name: &str| {
        crate::bench::collectives().any(|c| {
            c.name() == name && (!options.benches_named || !c.placements().contains(&false))
        })
    };
    let (skipped, kept): (Vec<_>, Vec<_>) =
        options.benches.iter().cloned().partition(|b| skip(&b.name));
    if skipped.is_empty() {
        return None;
    }
    let mut names: Vec<&str> = Vec::new();
    for b in &skipped {
        if !names.contains(&b.name.as_str()) {
            names.push(&b.name);
        }
    }
    let why = if options.benches_named {
        "in place only, which on one rank moves nothing"
    } else {
        "a collective on one rank measures no interconnect (use 2 or more ranks: mpirun, or -g N on GPUs; or name it with --bench for a local copy)"
    };
    let line = format!("{} on one rank: {why}", names.join(", "));
    Some((
        RunOptions {
            benches: kept,
            ..options.clone()
        },
        line,
    ))
}

/// Runs a whole suite. On rank 0 returns the results document (written to disk).
pub fn run(options: &RunOptions, comm: &dyn Communicator) -> Result<RunDocument> {
    let topology = Topology::load()?;
    let (backend, fallback) =
        crate::backend::select(options.backend, options.cuda_graph, options.gpus_per_rank)?;
    let reduced = without_one_rank_collectives(options, comm.size() * backend.devices_per_rank());
    if let Some((kept, line)) = &reduced {
        if comm.rank() == 0 && !options.quiet && !kept.benches.is_empty() {
            crate::errln!("clusterbench: skipping {line}");
        }
    }
    let options = reduced.as_ref().map_or(options, |(o, _)| o);
    if options.benches.is_empty() {
        let why = reduced.map(|(_, line)| line).unwrap_or_default();
        return Err(crate::usage!("nothing to run: {why}"));
    }
    for cfg in &options.benches {
        backend.check_config(cfg)?;
    }
    let mut environment = gather_environment(comm, &topology, backend.devices_per_rank())?;
    environment.nvlink_domain_size = options.nvlink_domain_size;
    let identity = agree_identity(comm, &environment)?;
    let job = crate::bench::Job {
        ranks: comm.size(),
        rank_hosts: &identity.rank_hosts,
        peers: options.peers_given.then_some(options.peers),
        window: options.window,
    };
    crate::bench::refuse_before_running(&options.benches, &job, backend.as_ref(), comm)?;

    let mut document = RunDocument {
        schema_version: results::SCHEMA_VERSION,
        tool: ToolInfo::current(),
        run: RunInfo {
            run_id: identity.run_id,
            command_line: std::env::args().collect(),
            started_at: identity.started_at,
            finished_at: None,
            status: RunStatus::Running,
            backend: backend.name().to_string(),
            backend_note: fallback.as_ref().map(|f| f.reason.clone()),
            suite: options.suite.clone(),
            options: results::options_value(options),
            abort: None,
        },
        environment,
        records: Vec::new(),
        links: None,
    };

    let is_root = comm.rank() == 0;
    let mut reporters: Vec<Box<dyn Reporter>> = if is_root {
        reporters(options)?
    } else {
        Vec::new()
    };
    if is_root && !options.quiet {
        if let Some(fallback) = &fallback {
            crate::errln!("clusterbench: {}", fallback.message);
        }
    }
    for r in reporters.iter_mut() {
        r.begin(&document)?;
    }

    // From here on a first SIGINT or SIGTERM ends the run after the measurement under
    // way, with everything measured written.
    let interrupt = interrupt::Interrupt::install().context("catching SIGINT and SIGTERM")?;
    let progress = progress(
        is_root && !options.quiet,
        options,
        comm.size() * backend.devices_per_rank(),
        backend.as_ref(),
        &interrupt,
    );
    let watchdog = options.timeout_s.map(|t| {
        watchdog::Watchdog::start(
            std::time::Duration::from_secs_f64(t),
            format!("rank {} ({})", comm.rank(), crate::probe::host::hostname()),
            interrupt.clone(),
        )
    });
    if let (Some(w), Some(g)) = (watchdog.as_ref(), backend.guard()) {
        w.guard(std::sync::Arc::downgrade(&g));
    }
    let channel = side_channel(comm, &identity.rank_hosts, &interrupt, watchdog.is_some());
    if let Some(w) = &watchdog {
        w.set_ending(FaultEnding {
            rank: comm.rank(),
            hosts: identity.rank_hosts.clone(),
            channel: channel.clone(),
            stream: is_root.then(|| {
                options
                    .output_dir
                    .join(format!("{}.jsonl", document.run.run_id))
            }),
            interrupt: interrupt.clone(),
        });
    }
    let stop = interrupt.clone();
    let outcome = {
        let setup = RunSetup {
            comm,
            backend: backend.as_ref(),
            topology: &topology,
            nodes: identity.nodes,
            hosts: identity.rank_hosts,
            watchdog: watchdog.as_ref(),
            peers: options.peers,
            window: options.window,
            faults: Faults {
                corrupt_rank: options.corrupt_rank,
                slowdown: options
                    .slowdown
                    .filter(|_| options.slow_rank.is_none_or(|r| r == comm.rank())),
                stall_rank: options.stall_rank,
                late_rank: options.late_rank,
                latency_rank: options.latency_rank,
            },
            interrupt,
        };
        let mut ctx = RunContext::new(setup, &mut reporters, &progress);
        measure_all(&mut ctx, options, &mut document)
    };
    // Whatever the outcome, nothing is being measured any more: a signal from here on
    // is the launcher ending a job whose end is already being written.
    if let Some(w) = &watchdog {
        w.disarm();
    }
    progress.finish_and_clear();
    // An error that stops rank 0 alone: the other ranks learn it over the side channel
    // and end at once, rather than each waiting for its own watchdog.
    let verdict = match (&outcome, &channel) {
        (Err(e), Some(c)) if is_root => Some(Verdict {
            text: format!("{e:#}"),
            linger: c.any_quiet(),
        }),
        _ => None,
    };
    let finished = finish(
        document,
        outcome,
        &mut reporters,
        is_root.then_some(options),
    );
    if let (Some(verdict), Some(channel)) = (verdict, &channel) {
        channel.send_verdict(&verdict);
        if verdict.linger {
            fault::linger_for_launcher(&stop);
        }
    }
    if let Some(channel) = &channel {
        channel.close();
    }
    finished
}

/// The side channel of a job of several ranks, for its watchdog (a collective call).
fn side_channel(
    comm: &dyn Communicator,
    rank_hosts: &[String],
    interrupt: &interrupt::Interrupt,
    watched: bool,
) -> Option<SideChannel> {
    if comm.size() < 2 || !watched {
        return None;
    }
    let me = format!(
        "rank {} ({})",
        comm.rank(),
        rank_hosts.get(comm.rank()).map_or("?", String::as_str)
    );
    let speaker = me.clone();
    let stop = interrupt.clone();
    let channel = SideChannel::open(
        comm,
        rank_hosts.first().map_or("localhost", String::as_str),
        move |verdict: &Verdict| {
            fault::last_words(
                &format!("clusterbench: {speaker}: ending: {}", verdict.text),
                verdict.linger.then_some(&stop),
            )
        },
    );
    if channel.is_none() && comm.rank() != 0 {
        crate::errln!(
            "clusterbench: {me}: cannot reach rank 0's side channel; a fault will be reported without naming the rank at fault"
        );
    }
    channel
}
