//! What `accept` measures: the claims it judges against, and each step's run settings
//! (the same `RunOptions` a `run` takes), quick or full, for GPU or CPU nodes.

use crate::analysis::validate::{auto_select, ClaimsFile};
use crate::cli::{AcceptArgs, RunArgs};
use crate::error::UsageError;
use crate::options::RunOptions;
use anyhow::Result;
use std::path::{Path, PathBuf};

/// The settings of one acceptance, checked before MPI starts.
#[derive(Debug, Clone)]
pub struct Plan {
    pub args: AcceptArgs,
    /// The claims files judged against (name, file); empty when none applies.
    pub claims: Vec<(String, ClaimsFile)>,
    /// Whether the claims were asked for (by type or file) rather than looked up.
    pub claims_named: bool,
}

/// The built-in claims files for an instance type or GPU (`p5.48xlarge`, `aws-p5`,
/// `gpu-h100-sxm`, `H100`).
fn claims_for_type(name: &str) -> Result<Vec<(String, ClaimsFile)>, UsageError> {
    let builtin = ClaimsFile::builtin();
    if let Some((n, f)) = builtin.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
        return Ok(vec![(n.clone(), f.clone())]);
    }
    let mut picked = auto_select(&builtin, &[name.to_string()], &[]);
    if picked.is_empty() {
        picked = auto_select(&builtin, &[], &[name.to_string()]);
    }
    if picked.is_empty() {
        let names: Vec<&str> = builtin.iter().map(|(n, _)| n.as_str()).collect();
        return Err(UsageError::new(format!(
            "no built-in claims file for instance type '{name}' (built in: {}); pass --claims FILE",
            names.join(", ")
        )));
    }
    Ok(picked)
}

impl Plan {
    /// Reads the claims and checks every step's settings, so that bad input fails
    /// alike on every rank before anything starts.
    pub fn new(args: &AcceptArgs) -> Result<Plan> {
        let claims = match (&args.instance_type, &args.claims) {
            (Some(t), _) => claims_for_type(t)?,
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    UsageError::new(format!("cannot read '{}': {e}", path.display()))
                })?;
                let name = path.display().to_string();
                vec![(name.clone(), ClaimsFile::parse(&text, &name)?)]
            }
            (None, None) => Vec::new(),
        };
        if let Some(f) = args.debug_slowdown {
            if !(f.is_finite() && f >= 1.0) {
                return Err(crate::usage!(
                    "--debug-slowdown must be at least 1, not {f}"
                ));
            }
        }
        let plan = Plan {
            args: args.clone(),
            claims,
            claims_named: args.instance_type.is_some() || args.claims.is_some(),
        };
        // Every step's options, for both kinds of node: refused here, not on one rank later.
        for gpu in [false, true] {
            for step in [Step::Compute, Step::AllReduce, Step::Links] {
                plan.options(step, gpu, Path::new("."))?;
            }
        }
        Ok(plan)
    }

    /// The run options of `step` on GPU (`gpu`) or CPU nodes, results into `dir`.
    pub fn options(&self, step: Step, gpu: bool, dir: &Path) -> Result<RunOptions> {
        let args = self.run_args(step, gpu, dir);
        Ok(RunOptions::from_args(&args, crate::bench::registry())?)
    }

    fn run_args(&self, step: Step, gpu: bool, dir: &Path) -> RunArgs {
        use clap::{Args, FromArgMatches};
        let a = &self.args;
        let quick = a.quick;
        let defaults = RunArgs::augment_args(clap::Command::new("run")).get_matches_from(["run"]);
        let mut r = RunArgs::from_arg_matches(&defaults)
            .expect("run's arguments parse from their defaults alone");
        r.output = PathBuf::from(dir);
        r.backend = a.backend;
        r.quiet = true;
        r.timeout = a.timeout;
        let iters = |quick_n: u32, full_n: u32| {
            Some(a.iters.unwrap_or(if quick { quick_n } else { full_n }))
        };
        match step {
            Step::Compute => {
                r.bench = vec!["membw".into(), "matmul".into()];
                r.iters = iters(10, 30);
                r.warmup_iters = Some(2);
                r.array_size = a.array_size.clone();
                r.sizes = if !a.matmul_sizes.is_empty() {
                    a.matmul_sizes.clone()
                } else if gpu {
                    if quick {
                        vec!["8192".into()]
                    } else {
                        vec!["4096".into(), "8192".into(), "16384".into()]
                    }
                } else if quick {
                    vec!["512".into()]
                } else {
                    vec!["512".into(), "1024".into()]
                };
                r.datatype = vec![if gpu { "bf16" } else { "float" }.into()];
            }
            Step::AllReduce => {
                r.bench = vec!["allreduce".into()];
                r.iters = iters(10, 20);
                r.warmup_iters = Some(if quick { 2 } else { 5 });
                r.minbytes = Some("8".into());
                r.maxbytes = Some(a.maxbytes.clone().unwrap_or_else(|| {
                    match (gpu, quick) {
                        (true, _) => "1G",
                        (false, true) => "4M",
                        (false, false) => "64M",
                    }
                    .into()
                }));
                r.stepfactor = Some(if quick { 8 } else { 2 });
                r.datatype = vec![if gpu { "bf16" } else { "float" }.into()];
                r.op = vec!["sum".into()];
            }
            Step::Links => {
                r.bench = vec!["links".into()];
                r.iters = iters(5, 20);
                r.warmup_iters = Some(1);
                r.minbytes = Some("8".into());
                r.maxbytes = Some(
                    a.bandwidth_size
                        .clone()
                        .unwrap_or_else(|| if quick { "4M" } else { "16M" }.into()),
                );
                r.window = if quick { 16 } else { 64 };
            }
        }
        r
    }
}

/// The kinds of run the sequence makes (each may run on several communicators).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Memory bandwidth and matmul on each node.
    Compute,
    /// An all-reduce sweep (within nodes, between node leaders, or on every rank).
    AllReduce,
    /// The links matrix between node leaders.
    Links,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(line: &[&str]) -> AcceptArgs {
        let mut full = vec!["clusterbench", "accept"];
        full.extend_from_slice(line);
        match crate::cli::Cli::try_parse_from(full)
            .expect("parses")
            .command
        {
            crate::cli::Command::Accept(a) => *a,
            _ => unreachable!("an accept command"),
        }
    }

    #[test]
    fn instance_types_and_gpu_names_find_their_claims_and_unknown_ones_are_usage_errors() {
        let plan = Plan::new(&args(&["--instance-type", "aws-p5"])).expect("a built-in name");
        assert_eq!(plan.claims[0].0, "aws-p5");
        assert!(plan.claims_named);
        let err = Plan::new(&args(&["--instance-type", "no-such-box"])).unwrap_err();
        assert_eq!(crate::error::exit_code(&err), 2, "{err:#}");
        assert!(format!("{err:#}").contains("no-such-box"));
    }

    #[test]
    fn quick_plans_are_smaller_and_overrides_win() {
        let full = Plan::new(&args(&[])).unwrap();
        let quick = Plan::new(&args(&["--quick"])).unwrap();
        let dir = Path::new("d");
        let f = full.options(Step::AllReduce, true, dir).unwrap();
        let q = quick.options(Step::AllReduce, true, dir).unwrap();
        assert!(q.benches[0].sizes().len() < f.benches[0].sizes().len());
        assert!(q.benches[0].iters < f.benches[0].iters);
        let small = Plan::new(&args(&["--quick", "-e", "64K", "-n", "3"])).unwrap();
        let s = small.options(Step::AllReduce, false, dir).unwrap();
        assert_eq!(s.benches[0].maxbytes, 64 << 10);
        assert_eq!(s.benches[0].iters, 3);
        assert!(s.quiet && s.output_dir == dir);
    }
}
