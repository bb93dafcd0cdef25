//! The program's entry point: parse, run, map errors to exit codes.

use crate::cli::{Cli, Command};
use crate::comm::{self, Communicator};
use crate::error::exit_code;
use crate::options::{RunOptions, BUILTIN_SUITES};
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
    match dispatch(cli) {
        Ok(()) => 0,
        Err(e) => {
            // A failed check was already printed while the communicator was alive.
            // Usage errors are the same on every rank: print them once.
            let printed = e.downcast_ref::<crate::error::CheckFailed>().is_some();
            if !printed && (!quiet_rank || exit_code(&e) != 2) {
                eprintln!("clusterbench: error: {e:#}");
            }
            exit_code(&e)
        }
    }
}

fn dispatch(cli: Cli) -> Result<()> {
    // Before MPI or any thread starts: this may re-execute the program so that CUDA
    // libraries found outside the loader's path can be loaded.
    match &cli.command {
        Command::Run(args) if args.backend != crate::cli::BackendChoice::Cpu => {
            crate::backend::cuda::prepare_loader(false)
        }
        Command::Env => crate::backend::cuda::prepare_loader(false),
        Command::CudaCheck => crate::backend::cuda::prepare_loader(true),
        _ => {}
    }
    match cli.command {
        Command::CudaCheck => crate::backend::cuda::check::run(),
        Command::Run(args) => {
            // Validate everything before MPI starts, so bad input fails identically on every rank.
            let options = RunOptions::from_args(&args)?;
            let comm = comm::open()?;
            with_abort_on_error(comm.as_ref(), |c| {
                crate::runner::run(&options, c).map(|_| ())
            })
        }
        Command::Links(args) => {
            let options = RunOptions::from_args(&args.run_args())?;
            let comm = comm::open()?;
            with_abort_on_error(comm.as_ref(), |c| {
                crate::runner::run(&options, c).map(|_| ())
            })
        }
        Command::Env => {
            let comm = comm::open()?;
            with_abort_on_error(comm.as_ref(), |c| {
                let topology = crate::topology::Topology::load()?;
                let env = crate::runner::gather_environment(c, &topology, 1)?;
                if c.rank() == 0 {
                    println!("{}", serde_json::to_string_pretty(&env)?);
                }
                Ok(())
            })
        }
        Command::Schema => {
            println!(
                "{}",
                serde_json::to_string_pretty(&crate::results::json_schema())?
            );
            Ok(())
        }
        Command::List => {
            println!("Benchmarks:");
            for b in crate::bench::registry() {
                println!("  {:<13} {}", b.name(), b.description());
            }
            println!("\nSuites (clusterbench run --suite NAME):");
            for (name, _) in BUILTIN_SUITES {
                let (_, s) = crate::options::load_suite(name)?;
                println!("  {:<13} {}", name, s.description);
            }
            Ok(())
        }
        Command::Plot(args) => {
            let sources = crate::report::load_sources(&args.results)?;
            let charts = crate::report::plot::build_charts(&sources);
            if charts.is_empty() {
                return Err(crate::usage!("no chartable records in the results given"));
            }
            let files = crate::report::plot::write_charts(&charts, &args.output, "")?;
            println!(
                "clusterbench: {} charts written to {}",
                files.len(),
                args.output.display()
            );
            Ok(())
        }
        Command::Report(args) => {
            let sources = crate::report::load_sources(&args.results)?;
            let page = crate::report::html::render(&sources)?;
            std::fs::write(&args.output, page)
                .map_err(|e| crate::usage!("cannot write '{}': {e}", args.output.display()))?;
            println!("clusterbench: report written to {}", args.output.display());
            Ok(())
        }
        Command::Compare(args) => crate::tools::compare(&args),
        Command::Validate(args) => crate::tools::validate(&args),
        Command::Model(args) => crate::tools::model(&args),
        Command::Predict(args) => crate::tools::predict(&args),
        Command::Import(args) => crate::tools::import(&args),
    }
}

/// In a job of several ranks, an error on one rank must end all of them (the others
/// would wait forever in the next collective). A failed check is agreed by all ranks
/// and is printed by rank 0 before a barrier: the launcher ends the job when the first
/// rank exits non-zero, which must not happen before the message is out.
fn with_abort_on_error(
    comm: &dyn Communicator,
    f: impl FnOnce(&dyn Communicator) -> Result<()>,
) -> Result<()> {
    match f(comm) {
        Err(e) if e.downcast_ref::<crate::error::CheckFailed>().is_some() => {
            if comm.rank() == 0 {
                eprintln!("clusterbench: error: {e:#}");
            }
            comm.barrier();
            Err(e)
        }
        Err(e) if comm.size() > 1 => {
            eprintln!("clusterbench: error on rank {}: {e:#}", comm.rank());
            comm.abort(exit_code(&e));
        }
        other => other,
    }
}
