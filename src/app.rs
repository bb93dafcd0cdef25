//! The program's entry point: parse, run, map errors to exit codes.

use crate::cli::{Cli, Command};
use crate::comm::{self};
use crate::core::BackendChoice;
use crate::core::BenchConfig;
use crate::core::Communicator;
use crate::error::exit_code;
use crate::options::RunOptions;
use crate::suite::BUILTIN_SUITES;
use crate::units::format_bytes;
use anyhow::Result;
use clap::Parser;

/// Runs the program and returns its exit code.
pub fn main() -> i32 {
    let quiet_rank = comm::launcher_rank() != 0;
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            if !quiet_rank {
                let _ = e.print();
            }
            return code;
        }
    };
    let code = match dispatch(cli) {
        Ok(()) => 0,
        Err(e) => {
            // A failed check was already printed while the communicator was alive.
            // Usage errors are the same on every rank: print them once.
            let printed = agreed_by_all_ranks(&e);
            if !printed && (!quiet_rank || exit_code(&e) != 2) {
                crate::errln!("clusterbench: error: {e:#}");
            }
            exit_code(&e)
        }
    };
    // A closed pipe is not an error (`env | head`); any other lost output is.
    match crate::console::write_error() {
        Some(e) if code == 0 => {
            crate::errln!("clusterbench: error: cannot write to standard output: {e}");
            1
        }
        _ => code,
    }
}

fn dispatch(cli: Cli) -> Result<()> {
    let dry_run = match &cli.command {
        Command::Run(args) if args.dry_run => Some(args.as_ref().clone()),
        Command::Links(args) if args.dry_run => Some(args.run_args()),
        _ => None,
    };
    if let Some(args) = dry_run {
        // The same validation as a run, and nothing that a run starts after it.
        crate::out!(
            "{}",
            plan_text(&RunOptions::from_args(&args, crate::bench::registry())?)
        );
        return Ok(());
    }
    // Before MPI or any thread starts: this may re-execute the program so that CUDA
    // libraries found outside the loader's path can be loaded.
    match &cli.command {
        Command::Run(args) if args.backend != crate::core::BackendChoice::Cpu => {
            crate::backend::cuda::prepare_loader(false)
        }
        Command::Env => crate::backend::cuda::prepare_loader(false),
        Command::Accept(args) if args.backend != crate::core::BackendChoice::Cpu => {
            crate::backend::cuda::prepare_loader(false)
        }
        Command::CudaCheck => crate::backend::cuda::prepare_loader(true),
        _ => {}
    }
    match cli.command {
        Command::CudaCheck => crate::backend::cuda::check::run(),
        Command::Run(args) => {
            // Validate everything before MPI starts, so bad input fails identically on every rank.
            let options = RunOptions::from_args(&args, crate::bench::registry())?;
            let comm = comm::open()?;
            with_abort_on_error(comm.as_ref(), |c| {
                crate::session::run(&options, c).map(|_| ())
            })
        }
        Command::Links(args) => {
            let options = RunOptions::from_args(&args.run_args(), crate::bench::registry())?;
            let comm = comm::open()?;
            with_abort_on_error(comm.as_ref(), |c| {
                crate::session::run(&options, c).map(|_| ())
            })
        }
        Command::Accept(args) => {
            // The claims and every step's settings are checked before MPI starts.
            let plan = crate::accept::Plan::new(&args)?;
            let comm = comm::open()?;
            with_abort_on_error(comm.as_ref(), |c| crate::accept::run(&plan, c))
        }
        Command::Env => {
            let comm = comm::open()?;
            with_abort_on_error(comm.as_ref(), |c| {
                let topology = crate::probe::topology::Topology::load()?;
                let env = crate::session::gather_environment(c, &topology, 1)?;
                if c.rank() == 0 {
                    if let Some(note) = crate::backend::cuda::driver_search_note() {
                        crate::errln!("clusterbench: {note}");
                    }
                    crate::outln!("{}", serde_json::to_string_pretty(&env)?);
                }
                Ok(())
            })
        }
        Command::Schema => {
            crate::outln!(
                "{}",
                serde_json::to_string_pretty(&crate::results::json_schema())?
            );
            Ok(())
        }
        Command::List => {
            crate::outln!("Benchmarks:");
            for b in crate::bench::registry() {
                crate::outln!("  {:<13} {}", b.name(), b.description());
            }
            crate::outln!("\nSuites (clusterbench run --suite NAME):");
            for (name, _) in BUILTIN_SUITES {
                let (_, s) = crate::suite::load_suite(name)?;
                crate::outln!("  {:<13} {}", name, s.description);
            }
            Ok(())
        }
        Command::Plot(args) => {
            let sources = crate::render::load_sources(&args.results)?;
            let charts = crate::render::plot::build_charts(&sources);
            if charts.is_empty() {
                return Err(crate::usage!("no chartable records in the results given"));
            }
            let files = crate::render::plot::write_charts(&charts, &args.output, "")?;
            crate::outln!(
                "clusterbench: {} charts written to {}",
                files.len(),
                args.output.display()
            );
            Ok(())
        }
        Command::Report(args) => {
            let sources = crate::render::load_sources(&args.results)?;
            let page = crate::render::html::render(&sources)?;
            std::fs::write(&args.output, page)
                .map_err(|e| crate::usage!("cannot write '{}': {e}", args.output.display()))?;
            crate::outln!("clusterbench: report written to {}", args.output.display());
            Ok(())
        }
        Command::Export(args) => crate::tools::export(&args),
        Command::Trend(args) => crate::tools::trend(&args),
        Command::Compare(args) => crate::tools::compare(&args),
        Command::Validate(args) => crate::tools::validate(&args),
        Command::Model(args) => crate::tools::model(&args),
        Command::Predict(args) => crate::tools::predict(&args),
        Command::Import(args) => crate::tools::import(&args),
    }
}

/// `run --dry-run`: the run's plan, one line per benchmark with the settings it takes.
fn plan_text(options: &RunOptions) -> String {
    let gpus = match options.gpus_per_rank {
        1 => String::new(),
        n => format!(", {n} GPUs per process"),
    };
    let graph = options
        .cuda_graph
        .map(|n| format!(", CUDA graphs of {n} calls"))
        .unwrap_or_default();
    let backend = match options.backend {
        BackendChoice::Auto => "auto",
        BackendChoice::Cpu => "cpu",
        BackendChoice::Cuda => "cuda",
    };
    let mut out = format!(
        "clusterbench run, dry run: backend {backend}{gpus}{graph}, results to {}; nothing is measured\n",
        options.output_dir.display()
    );
    for cfg in &options.benches {
        out.push_str(&format!("  {:<13} {}\n", cfg.name, bench_plan(cfg)));
    }
    out
}

fn bench_plan(cfg: &BenchConfig) -> String {
    let supports = crate::bench::registry()
        .iter()
        .find(|b| b.name() == cfg.name)
        .map(|b| b.supports());
    let list = |items: Vec<String>| items.join(",");
    let mut parts = Vec::new();
    if supports.as_ref().is_some_and(|s| s.sizes) {
        let sizes = cfg.sizes();
        parts.push(format!(
            "sizes {}..{} x{} ({} sizes)",
            format_bytes(cfg.minbytes),
            format_bytes(sizes.last().copied().unwrap_or(cfg.minbytes)),
            cfg.stepfactor,
            sizes.len()
        ));
    }
    parts.push(format!(
        "datatypes {}",
        list(cfg.datatypes.iter().map(|d| d.to_string()).collect())
    ));
    if supports.as_ref().is_some_and(|s| s.ops) {
        parts.push(format!(
            "ops {}",
            list(cfg.ops.iter().map(|o| o.to_string()).collect())
        ));
    }
    if supports.as_ref().is_some_and(|s| s.shapes) {
        parts.push(format!(
            "shapes {}",
            list(
                cfg.shapes
                    .iter()
                    .map(|s| format!("{}:{}x{}x{}", s.label, s.m, s.n, s.k))
                    .collect()
            )
        ));
        if cfg.search {
            parts.push("search around each square size".into());
        }
    }
    if supports.as_ref().is_some_and(|s| s.array) {
        parts.push(match cfg.array_bytes {
            Some(b) => format!("arrays of {}", format_bytes(b)),
            None => "arrays sized from the caches".into(),
        });
    }
    parts.push(format!(
        "iters {} (+{} warm-up)",
        cfg.iters, cfg.warmup_iters
    ));
    parts.push(if cfg.check { "checked" } else { "not checked" }.into());
    parts.join("  ")
}

/// An error every rank reached alike (a failed check, input refused from agreed
/// values): printed once, by rank 0, while the communicator is alive.
fn agreed_by_all_ranks(e: &anyhow::Error) -> bool {
    e.downcast_ref::<crate::error::CheckFailed>().is_some()
        || e.downcast_ref::<crate::error::AgreedUsageError>().is_some()
        || e.downcast_ref::<crate::error::RunInterrupted>().is_some()
        || e.downcast_ref::<crate::accept::NodesToTakeOut>().is_some()
}

/// How long `MPI_Abort` may take before the rank exits by itself.
const ABORT_LIMIT: std::time::Duration = std::time::Duration::from_secs(5);

/// In a job of several ranks, an error on one rank must end all of them (the others
/// would wait forever in the next collective). A failed check is agreed by all ranks
/// and is printed by rank 0 before a barrier: the launcher ends the job when the first
/// rank exits non-zero, which must not happen before the message is out.
fn with_abort_on_error(
    comm: &dyn Communicator,
    f: impl FnOnce(&dyn Communicator) -> Result<()>,
) -> Result<()> {
    match f(comm) {
        Err(e) if agreed_by_all_ranks(&e) => {
            if comm.rank() == 0 {
                crate::errln!("clusterbench: error: {e:#}");
            }
            comm.barrier();
            Err(e)
        }
        // An interrupt too is agreed by all ranks, after a measurement they all finished.
        Err(e) if e.downcast_ref::<crate::error::RunInterrupted>().is_some() => {
            if comm.rank() == 0 {
                crate::errln!("clusterbench: {e:#}");
            }
            comm.barrier();
            Err(e)
        }
        Err(e) if comm.size() > 1 => {
            crate::errln!("clusterbench: error on rank {}: {e:#}", comm.rank());
            // MPI_Abort waits for the launcher to kill the job, which never happens
            // when a peer's node is unreachable: the rank then ends by itself, and a
            // launcher that ends the job on a rank's non-zero exit does the rest.
            let code = exit_code(&e);
            let _ = std::thread::Builder::new()
                .name("abort-limit".into())
                .spawn(move || {
                    std::thread::sleep(ABORT_LIMIT);
                    std::process::exit(crate::runner::fault::FAULT_EXIT_CODE);
                });
            comm.abort(code);
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_of(line: &[&str]) -> String {
        let mut full = vec!["clusterbench", "run", "--dry-run"];
        full.extend_from_slice(line);
        match Cli::try_parse_from(full).expect("parses").command {
            Command::Run(args) => {
                plan_text(&RunOptions::from_args(&args, crate::bench::registry()).expect("valid"))
            }
            _ => unreachable!("a run command"),
        }
    }

    #[test]
    fn the_plan_names_every_benchmark_with_the_settings_it_takes() {
        let plan = plan_of(&["--suite", "quick", "--output", "/tmp/Results"]);
        let lines: Vec<&str> = plan.lines().collect();
        assert_eq!(
            lines[0],
            "clusterbench run, dry run: backend auto, results to /tmp/Results; nothing is measured"
        );
        assert_eq!(
            lines[1].split_whitespace().collect::<Vec<_>>().join(" "),
            "allreduce sizes 8 B..256 KiB x8 (6 sizes) datatypes float ops sum iters 20 (+5 warm-up) checked"
        );
        assert!(
            lines[2].starts_with("  membw ") && lines[2].contains("arrays sized from the caches"),
            "{plan}"
        );
        assert!(
            lines[3]
                .contains("shapes square:256x256x256,square:512x512x512,attn_out:512x1024x1024")
                && !lines[3].contains("search"),
            "{plan}"
        );
        assert_eq!(lines.len(), 4, "{plan}");
    }

    #[test]
    fn the_plan_shows_gpus_graphs_search_and_unchecked_runs() {
        let plan = plan_of(&[
            "--backend",
            "cuda",
            "--bench",
            "allreduce",
            "-g",
            "4",
            "-d",
            "bf16,fp8e4m3",
            "-c",
            "0",
        ]);
        assert!(plan.starts_with("clusterbench run, dry run: backend cuda, 4 GPUs per process,"));
        assert!(plan.contains("datatypes bf16,fp8e4m3") && plan.contains("not checked"));
        let plan = plan_of(&["--bench", "allreduce", "--cuda-graph", "8"]);
        assert!(
            plan.contains("backend auto, CUDA graphs of 8 calls,"),
            "{plan}"
        );
        let plan = plan_of(&["--bench", "matmul", "--sizes", "1024", "--search"]);
        assert!(plan.contains("search around each square size"), "{plan}");
    }
}
