//! The decision tools behind `compare`, `validate`, `model`, `predict` and `import`:
//! read files, call the pure parts (report::compare, report::validate, model,
//! import), print. Bad input is a `UsageError` (exit 2); a negative verdict is a
//! `VerdictFailed` (exit 1) after the report is printed.

use crate::analysis::compare::{self, CompareOptions, Reference};
use crate::analysis::model::{self, scaling, Link, Topology};
use crate::analysis::validate::{self, ClaimsFile, Outcome};
use crate::cli::{CompareArgs, ImportArgs, ModelArgs, PredictArgs, ValidateArgs};
use crate::error::{NothingMeasured, UsageError, VerdictFailed};
use crate::render::grid::{render, OutputFormat};
use crate::results::ending;
use crate::results::files::read_results;
use crate::units::{format_bytes, format_seconds, parse_size};
use anyhow::Result;
use std::path::Path;

mod series;
pub use series::{export, trend};

fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    crate::outln!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub fn compare(args: &CompareArgs) -> Result<()> {
    let mut opts = CompareOptions::default();
    compare::parse_thresholds(&args.threshold, &mut opts)?;
    if !(args.confidence > 0.0 && args.confidence < 1.0) {
        return Err(UsageError::new(format!(
            "--confidence must be between 0 and 1, not {}",
            args.confidence
        ))
        .into());
    }
    opts.confidence = args.confidence;
    opts.gate = args.gate;
    opts.normalize = args
        .normalize
        .as_deref()
        .map(Reference::parse)
        .transpose()?;
    let baseline = read_results(&args.baseline)?;
    let candidate = read_results(&args.candidate)?;
    let mut report = compare::compare(&baseline, &candidate, &opts)?;
    report.notes.extend(
        [(&args.baseline, &baseline), (&args.candidate, &candidate)]
            .into_iter()
            .filter_map(|(path, doc)| ending::note(path, doc)),
    );
    match args.format {
        OutputFormat::Json => print_json(&report)?,
        f => crate::out!(
            "{}",
            crate::render::compare::render(&report, f == OutputFormat::Markdown, args.verbose)
        ),
    }
    if report.regressions > 0 {
        return Err(VerdictFailed(format!(
            "{} {} regressed",
            report.regressions,
            match report.gate {
                compare::Gate::Records => "measurements",
                compare::Gate::Benchmarks => "benchmarks",
            }
        ))
        .into());
    }
    Ok(())
}

fn read_text(path: &Path) -> Result<String, UsageError> {
    std::fs::read_to_string(path)
        .map_err(|e| UsageError::new(format!("cannot read '{}': {e}", path.display())))
}

pub fn validate(args: &ValidateArgs) -> Result<()> {
    let mut doc = read_results(&args.results)?;
    if let Some(size) = args.nvlink_domain_size {
        doc.environment.nvlink_domain_size = Some(size);
    }
    let mut files: Vec<(String, ClaimsFile)> = Vec::new();
    for spec in &args.claims {
        if spec == "auto" {
            let (instances, gpus) = validate::detected_hardware(&doc);
            let picked = validate::auto_select(&ClaimsFile::builtin(), &instances, &gpus);
            if picked.is_empty() {
                return Err(UsageError::new(format!(
                    "no claims file matches this run (instance types: {}; GPUs: {}): pass --claims FILE",
                    if instances.is_empty() { "none recorded".into() } else { instances.join(", ") },
                    if gpus.is_empty() { "none recorded".into() } else { gpus.join(", ") }
                ))
                .into());
            }
            files.extend(picked);
        } else {
            let path = Path::new(spec);
            files.push((spec.clone(), ClaimsFile::parse(&read_text(path)?, spec)?));
        }
    }
    let mut results = validate::validate(&doc, &files);
    if let Some(path) = &args.relative_to {
        // The baseline keeps its own NVLink domains: --nvlink-domain-size speaks of
        // this run's hardware.
        let baseline = read_results(path)?;
        results.extend(validate::validate_relative(
            &doc,
            &files,
            &baseline,
            &path.display().to_string(),
        ));
    }
    let unfinished = ending::note(&args.results, &doc);
    match args.format {
        OutputFormat::Json => {
            // The JSON stays the list of claims: the note goes to standard error.
            if let Some(n) = &unfinished {
                crate::errln!("clusterbench: note: {n}");
            }
            print_json(&results)?
        }
        f => {
            if let Some(n) = &unfinished {
                crate::outln!("note: {n}\n");
            }
            crate::out!(
                "{}",
                crate::render::validate::render(
                    &results,
                    f == OutputFormat::Markdown,
                    args.explain
                )
            )
        }
    }
    let failed = results
        .iter()
        .filter(|r| r.outcome == Outcome::Fail)
        .count();
    if failed > 0 {
        return Err(VerdictFailed(format!("{failed} claims failed")).into());
    }
    let measured = results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Pass | Outcome::Warn | Outcome::Reported))
        .count();
    if measured == 0 {
        let testable = results
            .iter()
            .filter(|r| r.outcome != Outcome::Informational)
            .count();
        return Err(NothingMeasured(format!(
            "no claim could be measured: none of the {testable} testable claims has a matching record among the {} in '{}'{}",
            doc.records.len(),
            args.results.display(),
            ending::Unfinished::of(&doc)
                .map(|u| format!(" (its run {})", u.word()))
                .unwrap_or_default()
        ))
        .into());
    }
    Ok(())
}

pub fn model(args: &ModelArgs) -> Result<()> {
    let mut fits = Vec::new();
    let mut local_copies = false;
    for p in &args.results {
        let doc = read_results(p)?;
        local_copies |= doc.records.iter().any(|r| r.is_local_copy());
        fits.extend(model::fit_collectives(&doc));
    }
    if fits.is_empty() {
        return Err(UsageError::new(format!(
            "no collective sweep of three or more sizes in these results: nothing to fit{}",
            if local_copies {
                " (collectives on one rank are local copies, left out)"
            } else {
                ""
            }
        ))
        .into());
    }
    if args.format == OutputFormat::Json {
        return print_json(&fits);
    }
    let header = [
        "collective",
        "backend",
        "dtype",
        "op",
        "in place",
        "ranks",
        "nodes",
        "sizes",
        "alpha",
        "beta",
        "regimes",
        "rms error",
        "max error",
        "outliers",
    ];
    let rows: Vec<Vec<String>> = fits
        .iter()
        .map(|f| {
            vec![
                f.benchmark.clone(),
                f.backend.clone(),
                f.dtype.clone(),
                f.op.clone().unwrap_or_else(|| "-".into()),
                if f.in_place { "yes" } else { "no" }.into(),
                f.ranks.to_string(),
                f.nodes.to_string(),
                format!(
                    "{}..{}",
                    format_bytes(f.min_bytes),
                    format_bytes(f.max_bytes)
                ),
                format_seconds(f.alpha_s),
                beta_text(f.beta_bytes_per_s),
                f.regimes.len().to_string(),
                format!("{:.1}%", f.rms_rel_error * 100.0),
                format!("{:.1}%", f.max_rel_error * 100.0),
                format!("{}/{}", f.outliers, f.points),
            ]
        })
        .collect();
    let markdown = args.format == OutputFormat::Markdown;
    crate::out!("{}", render(&header, &rows, markdown));
    let regime_header = [
        "collective",
        "in place",
        "ranks",
        "regime",
        "sizes",
        "alpha",
        "beta",
        "rms error",
        "outliers",
    ];
    let regime_rows: Vec<Vec<String>> = fits
        .iter()
        .flat_map(|f| {
            f.regimes.iter().enumerate().map(move |(i, r)| {
                vec![
                    f.benchmark.clone(),
                    if f.in_place { "yes" } else { "no" }.into(),
                    f.ranks.to_string(),
                    format!("{}/{}", i + 1, f.regimes.len()),
                    format!(
                        "{}..{}",
                        format_bytes(r.min_bytes),
                        format_bytes(r.max_bytes)
                    ),
                    format_seconds(r.alpha_s),
                    beta_text(r.beta_bytes_per_s),
                    format!("{:.1}%", r.fit.rms_rel_error * 100.0),
                    format!("{}/{}", r.fit.outliers, r.fit.points),
                ]
            })
        })
        .collect();
    crate::outln!();
    crate::out!("{}", render(&regime_header, &regime_rows, markdown));
    crate::outln!("\nt(size) = alpha + size / beta per call within each regime; size is bytes per rank; a sweep's alpha is its smallest-size regime's, its beta its largest-size regime's; errors are relative to the measured median times.");
    Ok(())
}

fn beta_text(beta_bytes_per_s: Option<f64>) -> String {
    match beta_bytes_per_s {
        Some(b) => format!("{:.3} GB/s", b / 1e9),
        None => "no size dependence".into(),
    }
}

fn topology_of(args: &PredictArgs) -> Result<Topology> {
    let mut topo = match &args.topology {
        Some(p) => {
            let text = read_text(p)?;
            toml::from_str::<Topology>(&text).map_err(|e| {
                UsageError::new(format!(
                    "'{}' is not a valid topology: {}",
                    p.display(),
                    validate::toml_error(&text, &e)
                ))
            })?
        }
        None => Topology {
            gpus_per_node: 1,
            intra: Link {
                latency_us: f64::NAN,
                bandwidth_gbps: f64::NAN,
            },
            inter: Link {
                latency_us: f64::NAN,
                bandwidth_gbps: f64::NAN,
            },
            switch_tiers: 1,
            switch_latency_us: 0.0,
        },
    };
    if !args.calibrate.is_empty() {
        let mut fits = Vec::new();
        let mut choices = Vec::new();
        for p in &args.calibrate {
            let doc = read_results(p)?;
            // In-place sweeps are fitted on their own by `model`; calibration takes the
            // out-of-place ones, whose buffers every library handles alike.
            let sweeps: Vec<model::CollectiveFit> = model::fit_collectives(&doc)
                .into_iter()
                .filter(|f| f.benchmark == "allreduce" && !f.in_place)
                .collect();
            if let Some(f) = sweeps.first() {
                let env = &doc.environment;
                choices.push(scaling::algorithm_choice(
                    &f.backend,
                    env.mpi.as_ref().map(|m| m.library_version.as_str()),
                    env.collective_settings.as_ref(),
                ));
            }
            fits.extend(sweeps);
        }
        // One sweep per rank count: the first dtype/op seen.
        let mut chosen: Vec<&model::CollectiveFit> = Vec::new();
        for f in &fits {
            if !chosen.iter().any(|c| c.ranks == f.ranks) {
                chosen.push(f);
            }
        }
        let link = model::calibrate_ring(&chosen)?;
        let one_node = chosen.iter().all(|f| f.nodes == 1);
        let one_per_node = chosen.iter().all(|f| f.nodes == f.ranks);
        if one_node {
            topo.intra = link;
        } else if one_per_node {
            topo.inter = link;
        } else {
            return Err(UsageError::new(
                "--calibrate needs runs on one node, or runs with one rank per node",
            )
            .into());
        }
        warn_unless_ring(&chosen, &choices);
        crate::errln!(
            "calibrated {} link from {} sweeps: latency {:.2} us, bandwidth {:.3} GB/s",
            if one_node { "intra-node" } else { "inter-node" },
            chosen.len(),
            link.latency_us,
            link.bandwidth_gbps
        );
        if one_node && args.gpus_per_node.is_none() && args.topology.is_none() {
            topo.gpus_per_node = u32::MAX;
        }
    }
    if let Some(g) = args.gpus_per_node {
        topo.gpus_per_node = g;
    }
    let set = |v: Option<f64>, slot: &mut f64| {
        if let Some(v) = v {
            *slot = v;
        }
    };
    set(args.intra_latency, &mut topo.intra.latency_us);
    set(args.intra_bw, &mut topo.intra.bandwidth_gbps);
    set(args.inter_latency, &mut topo.inter.latency_us);
    set(args.inter_bw, &mut topo.inter.bandwidth_gbps);
    set(args.switch_latency, &mut topo.switch_latency_us);
    if let Some(t) = args.switch_tiers {
        topo.switch_tiers = t;
    }
    // A link the prediction never uses may stay unset.
    let nodes = args.ranks.div_ceil(u64::from(topo.gpus_per_node.max(1)));
    if nodes <= 1 && topo.inter.latency_us.is_nan() {
        topo.inter = topo.intra;
    }
    if topo.gpus_per_node == 1 && topo.intra.latency_us.is_nan() {
        topo.intra = topo.inter;
    }
    if topo.gpus_per_node == u32::MAX {
        topo.gpus_per_node = u32::try_from(args.ranks).unwrap_or(u32::MAX);
    }
    if topo.intra.latency_us.is_nan() || topo.inter.latency_us.is_nan() {
        return Err(UsageError::new(
            "predict needs the links: --topology FILE, --calibrate RUNS, or --intra-latency/--intra-bw and --inter-latency/--inter-bw",
        )
        .into());
    }
    topo.validate()?;
    Ok(topo)
}

/// Warns when the calibration sweeps do not scale as a ring all-reduce, naming the
/// likely cause from the runs' recorded settings; notes a run that did not force ring.
fn warn_unless_ring(chosen: &[&model::CollectiveFit], choices: &[scaling::AlgorithmChoice]) {
    let mut notes: Vec<String> = choices.iter().filter_map(|c| c.note()).collect();
    notes.dedup();
    for note in &notes {
        crate::errln!("note: {note}");
    }
    let Some(s) = scaling::RingScaling::of(chosen) else {
        return;
    };
    if s.is_ring() {
        return;
    }
    let cause = choices
        .iter()
        .find(|c| !matches!(c, scaling::AlgorithmChoice::Ring(_)))
        .or(choices.first())
        .map_or_else(
            || scaling::AlgorithmChoice::Unknown.likely_cause(),
            |c| c.likely_cause(),
        );
    crate::errln!(
        "warning: the calibration runs do not scale as a ring all-reduce (time per byte proportional to 2(n-1)/n), so the calibrated link and the prediction are off: the link they imply is {} ({:.0}% apart; ring gives one figure). Likely cause: {cause}",
        s.describe(),
        s.spread() * 100.0
    );
}

pub fn predict(args: &PredictArgs) -> Result<()> {
    if args.ranks < 2 {
        return Err(UsageError::new("--ranks must be at least 2").into());
    }
    let topo = topology_of(args)?;
    let lo = parse_size(&args.minbytes)?;
    let hi = parse_size(&args.maxbytes)?;
    if lo == 0 || hi < lo || args.stepfactor < 2 {
        return Err(
            UsageError::new("sizes: need 0 < minbytes <= maxbytes and a step factor >= 2").into(),
        );
    }
    let mut sizes = vec![lo];
    while let Some(next) = sizes.last().and_then(|s| s.checked_mul(args.stepfactor)) {
        if next > hi {
            break;
        }
        sizes.push(next);
    }
    let preds: Vec<model::Prediction> = sizes
        .iter()
        .map(|s| model::predict_allreduce(&topo, args.ranks, *s))
        .collect();
    if args.format == OutputFormat::Json {
        return print_json(&serde_json::json!({
            "ranks": args.ranks,
            "topology": topo,
            "predictions": preds,
        }));
    }
    crate::outln!(
        "all-reduce on {} ranks, {} per node ({} nodes), {} switch tier(s)",
        args.ranks,
        topo.gpus_per_node,
        args.ranks.div_ceil(u64::from(topo.gpus_per_node)),
        topo.switch_tiers
    );
    let header = [
        "size",
        "ring",
        "tree",
        "hierarchical",
        "best",
        "busbw (best)",
    ];
    let rows: Vec<Vec<String>> = preds
        .iter()
        .map(|p| {
            vec![
                format_bytes(p.bytes),
                format_seconds(p.ring_s),
                format_seconds(p.tree_s),
                format_seconds(p.hierarchical_s),
                p.best.to_string(),
                format!("{:.2} GB/s", p.best_busbw_gbps),
            ]
        })
        .collect();
    crate::out!(
        "{}",
        render(&header, &rows, args.format == OutputFormat::Markdown)
    );
    // Where the winner changes.
    let mut last = "";
    let mut changes = Vec::new();
    for p in &preds {
        if p.best != last {
            changes.push(format!("{} from {}", p.best, format_bytes(p.bytes)));
            last = p.best;
        }
    }
    crate::outln!("\nfastest: {}", changes.join(", "));
    Ok(())
}

pub fn import(args: &ImportArgs) -> Result<()> {
    let text = read_text(&args.file)?;
    let ctx = crate::import::ImportContext {
        source_name: args.file.display().to_string(),
        ranks: args.ranks,
        nodes: args.nodes,
        instance_type: args.instance_type.clone(),
        collective: args.collective.clone(),
        hosts: args.hosts.clone(),
        window: args.window,
    };
    let parts = crate::import::import_runs(&text, args.format, &ctx)?;
    let total = parts.len();
    let Some(path) = &args.output else {
        if total > 1 {
            return Err(UsageError::new(format!(
                "'{}' repeats a test: {total} runs, one document each; pass -o FILE to write them (FILE, then NAME-run2.EXT, ...)",
                ctx.source_name
            ))
            .into());
        }
        return parts.iter().try_for_each(print_json);
    };
    for (index, doc) in parts.iter().enumerate() {
        let p = crate::import::part_path(path, index + 1);
        crate::results::files::write_document(doc, &p)
            .map_err(|e| UsageError::new(format!("cannot write '{}': {e:#}", p.display())))?;
        let which = if total > 1 {
            format!(" (run {} of {total} in the file)", index + 1)
        } else {
            String::new()
        };
        crate::errln!(
            "clusterbench: imported {} records from {}{which} into {}",
            doc.records.len(),
            doc.tool.name,
            p.display()
        );
    }
    Ok(())
}
