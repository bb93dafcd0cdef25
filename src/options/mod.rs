//! Validated options built from the command line and suite files.
//!
//! Precedence: a benchmark's built-in defaults, then the suite file, then flags given
//! on the command line. Everything is validated here, before any process starts
//! measuring, so bad input fails fast with one clear line (exit code 2).

mod gpus;

use crate::cli::RunArgs;
use crate::core::BackendChoice;
use crate::core::{BenchConfig, DType, MatmulShape, ReduceOp};
use crate::error::UsageError;
use crate::suite::{load_suite, BenchOverrides, DEFAULT_SUITE};
use crate::units::parse_size;
use schemars::JsonSchema;
use serde::Serialize;
use std::path::PathBuf;

type Result<T> = std::result::Result<T, UsageError>;

/// Everything a run needs, validated.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RunOptions {
    pub suite: Option<String>,
    pub backend: BackendChoice,
    pub benches: Vec<BenchConfig>,
    /// The benchmarks were named with --bench (not only taken from a suite).
    #[serde(skip)]
    pub benches_named: bool,
    #[schemars(with = "String")]
    pub output_dir: PathBuf,
    #[serde(skip)]
    pub quiet: bool,
    /// The document goes to standard output at the end, and no table does.
    #[serde(skip)]
    pub json: bool,
    #[serde(skip)]
    pub corrupt_rank: Option<usize>,
    /// GPU collectives: calls captured per CUDA graph, whose replays are timed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cuda_graph: Option<u32>,
    /// Test-only: factor by which every timed iteration is stretched.
    #[serde(skip)]
    pub slowdown: Option<f64>,
    /// Test-only: the one rank slowed down, if not all.
    #[serde(skip)]
    pub slow_rank: Option<usize>,
    #[serde(skip)]
    pub stall_rank: Option<usize>,
    /// Test-only: the rank that comes late to its second measurement.
    #[serde(skip)]
    pub late_rank: Option<usize>,
    /// Test-only: the rank whose links latency-test sends are delayed.
    #[serde(skip)]
    pub latency_rank: Option<usize>,
    /// Watchdog limit per measurement, in seconds (`None`: no watchdog).
    pub timeout_s: Option<f64>,
    /// Ranks of the point-to-point benchmark.
    pub peers: (usize, usize),
    /// Whether `--peers` named them (else they are the default 0,1).
    #[serde(skip)]
    pub peers_given: bool,
    /// Messages in flight per bandwidth iteration (p2p, links).
    pub window: usize,
    /// GPUs each process drives (`-g`); recorded only when more than one.
    #[serde(default, skip_serializing_if = "crate::options::is_one")]
    pub gpus_per_rank: usize,
    /// GPUs per NVLink domain as the user stated it, recorded in the environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nvlink_domain_size: Option<u32>,
}

fn is_one(n: &usize) -> bool {
    *n == 1
}

fn parse_list<T>(items: &[String], all: &[T], parse: impl Fn(&str) -> Result<T>) -> Result<Vec<T>>
where
    T: Copy + PartialEq,
{
    let mut out = Vec::new();
    for item in items {
        let parsed: Vec<T> = if item.trim().eq_ignore_ascii_case("all") {
            all.to_vec()
        } else {
            vec![parse(item)?]
        };
        for p in parsed {
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    Ok(out)
}

fn parse_square_sizes(items: &[String]) -> Result<Vec<MatmulShape>> {
    items
        .iter()
        .map(|s| match s.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok(MatmulShape::square(n)),
            _ => Err(UsageError::new(format!(
                "invalid matmul size '{s}': expected a positive integer such as 1024"
            ))),
        })
        .collect()
}

/// Applies suite or command-line overrides to a benchmark's settings.
fn apply(cfg: &mut BenchConfig, o: &BenchOverrides) -> Result<()> {
    if let Some(b) = &o.minbytes {
        cfg.minbytes = parse_size(b)?;
    }
    if let Some(e) = &o.maxbytes {
        cfg.maxbytes = parse_size(e)?;
    }
    if let Some(f) = o.stepfactor {
        cfg.stepfactor = f;
    }
    if let Some(n) = o.iters {
        cfg.iters = n;
    }
    if let Some(w) = o.warmup_iters {
        cfg.warmup_iters = w;
    }
    if let Some(c) = o.check {
        cfg.check = c;
    }
    if let Some(d) = &o.datatypes {
        cfg.datatypes = parse_list(d, &DType::ALL, DType::parse)?;
    }
    if let Some(ops) = &o.ops {
        cfg.ops = parse_list(ops, &ReduceOp::ALL, ReduceOp::parse)?;
    }
    match (&o.sizes, &o.shapes) {
        (None, None) => {}
        (sizes, shapes) => {
            let mut all = parse_square_sizes(sizes.as_deref().unwrap_or(&[]))?;
            for s in shapes.as_deref().unwrap_or(&[]) {
                all.push(MatmulShape::parse(s)?);
            }
            cfg.shapes = all;
        }
    }
    if let Some(a) = &o.array_size {
        cfg.array_bytes = Some(parse_size(a)?);
    }
    if let Some(search) = o.search {
        cfg.search = search;
    }
    Ok(())
}

fn validate(cfg: &BenchConfig, supported: &crate::bench::Supports) -> Result<()> {
    let name = &cfg.name;
    if cfg.iters == 0 {
        return Err(UsageError::new(format!(
            "{name}: iterations (-n) must be at least 1"
        )));
    }
    if supported.sizes {
        if cfg.minbytes == 0 {
            return Err(UsageError::new(format!(
                "{name}: minbytes (-b) must be at least 1 byte"
            )));
        }
        if cfg.minbytes > cfg.maxbytes {
            return Err(UsageError::new(format!(
                "{name}: minbytes ({}) is larger than maxbytes ({}); -b must not exceed -e",
                cfg.minbytes, cfg.maxbytes
            )));
        }
        if cfg.stepfactor < 2 {
            return Err(UsageError::new(format!(
                "{name}: stepfactor (-f) must be an integer of at least 2, got {}",
                cfg.stepfactor
            )));
        }
    }
    if cfg.datatypes.is_empty() {
        return Err(UsageError::new(format!("{name}: no datatype given")));
    }
    for d in &cfg.datatypes {
        if !supported.dtypes.contains(d) {
            let names: Vec<&str> = supported.dtypes.iter().map(|d| d.name()).collect();
            return Err(UsageError::new(format!(
                "{name} does not support datatype {d}: it supports {}",
                names.join(", ")
            )));
        }
    }
    if supported.ops {
        if cfg.ops.is_empty() {
            return Err(UsageError::new(format!("{name}: no op given")));
        }
        for op in &cfg.ops {
            for d in &cfg.datatypes {
                if !op.supports(*d) {
                    return Err(UsageError::new(format!(
                        "op {op} is not defined for datatype {d} (bitwise ops need int32 or int64)"
                    )));
                }
            }
        }
    }
    if supported.shapes && cfg.shapes.is_empty() {
        return Err(UsageError::new(format!(
            "{name}: no matmul sizes or shapes given"
        )));
    }
    if let Some(a) = cfg.array_bytes {
        if a < 1024 {
            return Err(UsageError::new(format!(
                "{name}: array size must be at least 1K, got {a} bytes"
            )));
        }
    }
    Ok(())
}

impl RunOptions {
    /// The run `args` ask for, checked against the benchmarks of `registry`
    /// (`crate::bench::registry()` in the program; a test may hand in others).
    pub fn from_args(
        args: &RunArgs,
        registry: &[&'static dyn crate::bench::Benchmark],
    ) -> Result<RunOptions> {
        let find = |name: &str| {
            registry.iter().find(|b| b.name() == name).ok_or_else(|| {
                let known: Vec<&str> = registry.iter().map(|b| b.name()).collect();
                UsageError::new(format!(
                    "unknown benchmark '{name}': known benchmarks are {}",
                    known.join(", ")
                ))
            })
        };
        let wanted: Vec<String> = args
            .bench
            .iter()
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .collect();
        for w in &wanted {
            find(w)?;
        }

        let suite = match (&args.suite, wanted.is_empty()) {
            (Some(s), _) => Some(load_suite(s)?),
            (None, true) => Some(load_suite(DEFAULT_SUITE)?),
            (None, false) => None,
        };
        let mut plan: Vec<BenchOverrides> = match &suite {
            Some((suite_name, file)) => {
                for b in &file.benches {
                    find(&b.name).map_err(|e| {
                        UsageError::new(format!("invalid suite '{suite_name}': {}", e.0))
                    })?;
                }
                file.benches
                    .iter()
                    .filter(|b| wanted.is_empty() || wanted.contains(&b.name))
                    .cloned()
                    .collect()
            }
            None => wanted
                .iter()
                .map(|w| BenchOverrides {
                    name: w.clone(),
                    ..Default::default()
                })
                .collect(),
        };
        if plan.is_empty() {
            return Err(UsageError::new(format!(
                "suite '{}' has none of the benchmarks asked for ({})",
                suite.as_ref().map(|s| s.0.as_str()).unwrap_or(""),
                wanted.join(", ")
            )));
        }

        let check = match args.check {
            None => None,
            Some(0) => Some(false),
            Some(1) => Some(true),
            Some(other) => {
                return Err(UsageError::new(format!(
                    "-c/--check takes 0 or 1, got {other}"
                )));
            }
        };
        let cli = BenchOverrides {
            name: String::new(),
            minbytes: args.minbytes.clone(),
            maxbytes: args.maxbytes.clone(),
            stepfactor: args.stepfactor,
            iters: args.iters,
            warmup_iters: args.warmup_iters,
            check,
            datatypes: (!args.datatype.is_empty()).then(|| args.datatype.clone()),
            ops: (!args.op.is_empty()).then(|| args.op.clone()),
            sizes: (!args.sizes.is_empty()).then(|| args.sizes.clone()),
            shapes: (!args.shapes.is_empty()).then(|| args.shapes.clone()),
            array_size: args.array_size.clone(),
            search: args.search.then_some(true),
        };

        let mut benches = Vec::new();
        let (mut any_sizes, mut any_ops, mut any_shapes, mut any_array) =
            (false, false, false, false);
        for o in plan.iter_mut() {
            let bench = find(&o.name)?;
            let mut cfg = bench.default_config();
            apply(&mut cfg, o)?;
            let supports = bench.supports();
            any_sizes |= supports.sizes;
            any_ops |= supports.ops;
            any_shapes |= supports.shapes;
            any_array |= supports.array;
            // A flag applies to the benchmarks it makes sense for; -d applies to all of them.
            let mut from_cli = cli.clone();
            if !supports.ops {
                from_cli.ops = None;
            }
            if !supports.sizes {
                from_cli.minbytes = None;
                from_cli.maxbytes = None;
                from_cli.stepfactor = None;
            }
            if !supports.shapes {
                from_cli.sizes = None;
                from_cli.shapes = None;
                from_cli.search = None;
            }
            if !supports.array {
                from_cli.array_size = None;
            }
            if supports.dtypes.len() == 1 {
                // Nothing to choose (membw streams f64): -d is meant for the others.
                from_cli.datatypes = None;
            }
            apply(&mut cfg, &from_cli)?;
            validate(&cfg, &supports)?;
            benches.push(cfg);
        }
        // A flag that none of the chosen benchmarks takes is a mistake, not a no-op.
        let names: Vec<&str> = benches.iter().map(|b| b.name.as_str()).collect();
        for (given, taken, flag, takes) in [
            (
                cli.minbytes.is_some() || cli.maxbytes.is_some() || cli.stepfactor.is_some(),
                any_sizes,
                "-b/-e/-f (message sizes)",
                "the collectives, p2p and links",
            ),
            (
                cli.ops.is_some(),
                any_ops,
                "-o/--op",
                "the reducing collectives",
            ),
            (
                cli.sizes.is_some() || cli.shapes.is_some() || cli.search.is_some(),
                any_shapes,
                "--sizes/--shapes/--search",
                "matmul",
            ),
            (cli.array_size.is_some(), any_array, "--array-size", "membw"),
        ] {
            if given && !taken {
                return Err(UsageError::new(format!(
                    "{flag} is for {takes}; the benchmarks to run ({}) do not take it",
                    names.join(", ")
                )));
            }
        }

        let gpus_per_rank = gpus::validate(args, &names, registry)?;
        Ok(RunOptions {
            suite: suite.map(|s| s.0),
            backend: args.backend,
            benches,
            benches_named: !wanted.is_empty(),
            output_dir: args.output.clone(),
            quiet: args.quiet,
            json: args.json,
            corrupt_rank: args.debug_corrupt_rank,
            cuda_graph: match args.cuda_graph {
                Some(0) => {
                    return Err(UsageError::new(
                        "--cuda-graph takes the number of calls per graph, at least 1",
                    ))
                }
                Some(_) if args.backend == BackendChoice::Cpu => {
                    return Err(UsageError::new(
                        "--cuda-graph needs the CUDA backend (--backend cuda or auto)",
                    ))
                }
                n => n,
            },
            slowdown: match args.debug_slowdown {
                Some(f) if !(f.is_finite() && (1.0..=1000.0).contains(&f)) => {
                    return Err(UsageError::new(format!(
                        "--debug-slowdown must be a factor between 1 and 1000, not {f}"
                    )))
                }
                other => other,
            },
            slow_rank: args.debug_slow_rank,
            stall_rank: args.debug_stall_rank,
            late_rank: args.debug_late_rank,
            latency_rank: args.debug_latency_rank,
            timeout_s: timeout_of(args.timeout)?,
            peers: peers_of(&args.peers)?,
            peers_given: !args.peers.is_empty(),
            window: match args.window {
                0 => return Err(UsageError::new("--window must be at least 1")),
                w => w,
            },
            gpus_per_rank,
            nvlink_domain_size: args.nvlink_domain_size,
        })
    }
}

/// `--timeout`: positive seconds, or 0 for none.
fn timeout_of(seconds: f64) -> Result<Option<f64>> {
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(UsageError::new(format!(
            "--timeout must be a number of seconds >= 0 (0 turns the watchdog off), got {seconds}"
        )));
    }
    Ok((seconds > 0.0).then_some(seconds))
}

/// `--peers A,B`: two distinct ranks (checked against the job size when it starts).
fn peers_of(peers: &[usize]) -> Result<(usize, usize)> {
    match peers {
        [] => Ok((0, 1)),
        [a, b] if a != b => Ok((*a, *b)),
        _ => Err(UsageError::new(
            "--peers takes two different ranks, e.g. --peers 0,1",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::BUILTIN_SUITES;

    #[test]
    fn dtype_aliases() {
        assert_eq!(DType::parse("f32").unwrap(), DType::Float);
        assert_eq!(DType::parse("DOUBLE").unwrap(), DType::Double);
        assert_eq!(DType::parse("i64").unwrap(), DType::Int64);
        assert!(DType::parse("half").is_err());
    }

    #[test]
    fn bitwise_ops_only_for_integers() {
        assert!(!ReduceOp::Band.supports(DType::Float));
        assert!(ReduceOp::Bxor.supports(DType::Int32));
        assert!(ReduceOp::Sum.supports(DType::Double));
    }

    #[test]
    fn shapes_parse_with_and_without_labels() {
        assert_eq!(
            MatmulShape::parse("mlp_up:1024x4096x512").unwrap(),
            MatmulShape {
                label: "mlp_up".into(),
                m: 1024,
                n: 4096,
                k: 512
            }
        );
        assert_eq!(MatmulShape::parse("8x16x32").unwrap().k, 32);
        for bad in ["8x16", "0x1x1", ":1x1x1", "axbxc", "1x2x3x4"] {
            assert!(MatmulShape::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn size_sweep_is_geometric_and_inclusive() {
        let cfg = BenchConfig {
            name: "x".into(),
            minbytes: 8,
            maxbytes: 128,
            stepfactor: 2,
            iters: 1,
            warmup_iters: 0,
            check: true,
            datatypes: vec![DType::Float],
            ops: vec![ReduceOp::Sum],
            shapes: vec![],
            array_bytes: None,
            search: false,
        };
        assert_eq!(cfg.sizes(), vec![8, 16, 32, 64, 128]);
        let cfg = BenchConfig {
            minbytes: 8,
            maxbytes: 100,
            stepfactor: 4,
            ..cfg
        };
        assert_eq!(cfg.sizes(), vec![8, 32]);
    }

    #[test]
    fn builtin_suites_parse() {
        for (name, _) in BUILTIN_SUITES {
            let (_, suite) = load_suite(name).unwrap();
            assert!(!suite.benches.is_empty());
        }
    }

    #[test]
    fn unknown_suite_and_bad_file_are_usage_errors() {
        assert!(load_suite("nope").unwrap_err().0.contains("unknown suite"));
        assert!(load_suite("/nonexistent/x.toml")
            .unwrap_err()
            .0
            .contains("cannot read"));
    }
}
