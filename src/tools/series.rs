//! The commands that read many runs at once: `export` (flat rows) and `trend`
//! (figures followed over runs).

use super::print_json;
use crate::error::UsageError;
use crate::render::grid::OutputFormat;
use crate::results::files::read_results;
use anyhow::Result;
use std::path::Path;

pub fn export(args: &crate::cli::ExportArgs) -> Result<()> {
    let docs = crate::results::files::results_in(&args.results)?
        .into_iter()
        .map(|p| crate::results::files::read_results(&p).map(|d| (p, d)))
        .collect::<Result<Vec<_>>>()?;
    match &args.output {
        Some(path) => {
            let file = std::fs::File::create(path)
                .map_err(|e| UsageError::new(format!("cannot write '{}': {e}", path.display())))?;
            crate::render::export::write(&docs, args.format, file)?;
            let records: usize = docs.iter().map(|(_, d)| d.records.len()).sum();
            crate::errln!(
                "clusterbench: {records} records of {} results files written to {}",
                docs.len(),
                path.display()
            );
        }
        None => crate::render::export::write(&docs, args.format, crate::console::Stdout)?,
    }
    Ok(())
}

/// `trend`: the runs in order (baseline first), the chosen figures across them, the
/// table on stdout, the charts and the HTML page on disk.
pub fn trend(args: &crate::cli::TrendArgs) -> Result<()> {
    use crate::analysis::trend::{self as analysis, MetricChoice, RunOrder};
    let choices = args
        .metric
        .iter()
        .map(|m| MetricChoice::parse(m))
        .collect::<Result<Vec<_>, _>>()?;
    let baseline = match &args.baseline {
        Some(p) => Some((p.clone(), read_results(p)?)),
        None => None,
    };
    let same_file = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    };
    let mut docs = Vec::new();
    for path in crate::results::files::results_in(&args.results)? {
        if baseline.as_ref().is_some_and(|(b, _)| same_file(b, &path)) {
            continue;
        }
        let doc = read_results(&path)?;
        docs.push((path, doc));
    }
    let order = match args.order {
        crate::cli::TrendOrder::Date => RunOrder::Date,
        crate::cli::TrendOrder::Commit => RunOrder::Commits(git_history()?),
    };
    let runs = analysis::order_runs(docs, &order, baseline)?;
    let trend = analysis::trend(&runs, &choices)?;
    match args.format {
        OutputFormat::Json => print_json(&trend)?,
        f => crate::out!(
            "{}",
            crate::render::trend::render_table(&trend, f == OutputFormat::Markdown)
        ),
    }
    let charts = crate::render::trend::trend_charts(&trend);
    let files = crate::render::plot::write_charts(&charts, &args.output, "")?;
    crate::errln!(
        "clusterbench: {} trend charts written to {}",
        files.len(),
        args.output.display()
    );
    if let Some(html) = &args.html {
        let page = crate::render::trend::render_html(&trend, &charts)?;
        std::fs::write(html, page)
            .map_err(|e| UsageError::new(format!("cannot write '{}': {e}", html.display())))?;
        crate::errln!("clusterbench: trend page written to {}", html.display());
    }
    Ok(())
}

/// This repository's commits, oldest first, for `--order commit`.
fn git_history() -> Result<Vec<String>, UsageError> {
    let out = std::process::Command::new("git")
        .args(["rev-list", "--topo-order", "--reverse", "HEAD"])
        .output()
        .map_err(|e| UsageError::new(format!("--order commit runs git, which failed: {e}")))?;
    if !out.status.success() {
        return Err(UsageError::new(format!(
            "--order commit needs a git repository here: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect())
}
