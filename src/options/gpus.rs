//! `-g N` checked against the rest of the command line.

use crate::cli::RunArgs;
use crate::core::BackendChoice;
use crate::error::UsageError;

/// Checks `-g` against the rest of the command line; returns the GPUs per process.
/// `benches`: the benchmarks the run would measure.
pub fn validate(
    args: &RunArgs,
    benches: &[&str],
    registry: &[&'static dyn crate::bench::Benchmark],
) -> Result<usize, UsageError> {
    let n = args.gpus_per_rank;
    if n == 0 {
        return Err(UsageError::new(
            "-g/--gpus-per-rank takes the number of GPUs each process drives, at least 1",
        ));
    }
    if n == 1 {
        return Ok(1);
    }
    if args.backend == BackendChoice::Cpu {
        return Err(UsageError::new(format!(
            "-g needs the CUDA backend: -g {n} drives {n} GPUs per process through NCCL, and --backend cpu has none"
        )));
    }
    if args.cuda_graph.is_some() {
        return Err(UsageError::new(format!(
            "--cuda-graph is not supported with -g {n}; time CUDA graphs with one GPU per process (-g 1)"
        )));
    }
    // The benchmarks that run over every GPU of a process (the NCCL collectives); the
    // others measure one device or one process pair and are refused rather than
    // silently measuring a part of what was asked.
    let multi: Vec<&str> = registry
        .iter()
        .filter(|b| b.supports().multi_gpu)
        .map(|b| b.name())
        .collect();
    let refused: Vec<&str> = benches
        .iter()
        .copied()
        .filter(|b| !multi.contains(b))
        .collect();
    if !refused.is_empty() {
        return Err(UsageError::new(format!(
            "-g {n} is for the NCCL collectives ({}), not for {}, which measure one GPU or one pair of processes: run {} without -g",
            multi.join(", "),
            refused.join(", "),
            if refused.len() == 1 { "it" } else { "them" }
        )));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(line: &[&str]) -> RunArgs {
        let mut full = vec!["clusterbench", "run"];
        full.extend_from_slice(line);
        match crate::cli::Cli::try_parse_from(full)
            .expect("parses")
            .command
        {
            crate::cli::Command::Run(a) => *a,
            _ => unreachable!("a run command"),
        }
    }

    #[test]
    fn the_flag_is_checked_against_backend_graphs_and_benchmarks() {
        let colls = ["allreduce", "alltoall"];
        assert_eq!(
            validate(&args(&[]), &["matmul"], crate::bench::registry()).unwrap(),
            1
        );
        assert_eq!(
            validate(&args(&["-g", "4"]), &colls, crate::bench::registry()).unwrap(),
            4
        );
        assert_eq!(
            validate(
                &args(&["--gpus-per-rank", "2", "--backend", "cuda"]),
                &colls,
                crate::bench::registry()
            )
            .unwrap(),
            2
        );
        let e = validate(&args(&["-g", "0"]), &colls, crate::bench::registry())
            .unwrap_err()
            .0;
        assert!(e.contains("at least 1"), "{e}");
        let e = validate(
            &args(&["-g", "2", "--backend", "cpu"]),
            &colls,
            crate::bench::registry(),
        )
        .unwrap_err()
        .0;
        assert!(e.starts_with("-g needs the CUDA backend"), "{e}");
        let e = validate(
            &args(&["-g", "2", "--cuda-graph", "4"]),
            &colls,
            crate::bench::registry(),
        )
        .unwrap_err()
        .0;
        assert!(e.contains("--cuda-graph"), "{e}");
        let e = validate(
            &args(&["-g", "2"]),
            &["allreduce", "p2p", "matmul"],
            crate::bench::registry(),
        )
        .unwrap_err()
        .0;
        assert!(
            e.contains("not for p2p, matmul") && e.ends_with("run them without -g"),
            "{e}"
        );
        // -g 1 is today's behaviour for every benchmark and backend.
        assert_eq!(
            validate(
                &args(&["-g", "1", "--backend", "cpu"]),
                &["p2p"],
                crate::bench::registry()
            )
            .unwrap(),
            1
        );
    }
}
