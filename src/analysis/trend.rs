//! A figure's course over many runs: the committed baseline and the runs after it,
//! put in date or commit order, each chosen figure traced across them beside the
//! baseline's own noise band (the spread of its samples).
//!
//! By default each benchmark contributes its headline figure at a few sizes: a
//! collective's time per call at small messages and its bus bandwidth at large ones
//! (algorithm bandwidth on one rank, where nothing crosses a link), STREAM triad,
//! every GPU copy kind, point-to-point latency and bandwidth, matmul TFLOP/s per
//! dtype at its largest square size. `--metric BENCH[:METRIC][@SIZE]` chooses instead.

use crate::error::UsageError;
use crate::results::describe::describe;
use crate::results::{Params, Record, RunDocument};
use crate::stats::quantile_sorted;
use crate::units::parse_size;
use serde::Serialize;
use std::path::PathBuf;

/// Messages up to this size are latency-bound: their headline is the time per call.
const LATENCY_BOUND_BYTES: u64 = 64 * 1024;

/// The baseline's noise band spans these quantiles of its per-sample figures.
const BAND_QUANTILES: (f64, f64) = (0.05, 0.95);

/// How the runs are put in order.
#[derive(Debug, Clone, PartialEq)]
pub enum RunOrder {
    /// By the time each run started.
    Date,
    /// By the position of each run's recorded commit in this history (oldest first).
    Commits(Vec<String>),
}

/// One figure the user asked for: `BENCH[:METRIC][@SIZE]`.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricChoice {
    pub benchmark: String,
    pub metric: Option<String>,
    pub size: Option<u64>,
}

impl MetricChoice {
    pub fn parse(text: &str) -> Result<Self, UsageError> {
        let (rest, size) = match text.split_once('@') {
            Some((rest, size)) => (rest, Some(parse_size(size)?)),
            None => (text, None),
        };
        let (benchmark, metric) = match rest.split_once(':') {
            Some((b, m)) => (b, Some(m.trim().to_string())),
            None => (rest, None),
        };
        let benchmark = benchmark.trim().to_string();
        if benchmark.is_empty() || metric.as_deref() == Some("") {
            return Err(UsageError::new(format!(
                "invalid --metric '{text}': expected BENCH[:METRIC][@SIZE], e.g. allreduce:busbw@64M, membw, matmul:tflops"
            )));
        }
        Ok(MetricChoice {
            benchmark,
            metric,
            size,
        })
    }
}

/// One run on the trend's x axis.
#[derive(Debug, Clone, Serialize)]
pub struct TrendRun {
    pub path: PathBuf,
    pub run_id: String,
    pub started_at: String,
    pub commit: Option<String>,
    /// Short label for axes and tables: the start date and time, and the commit.
    pub label: String,
}

/// One figure across the runs.
#[derive(Debug, Clone, Serialize)]
pub struct TrendSeries {
    pub benchmark: String,
    /// The point in words, with its rank count: `allreduce 8 B float sum out-of-place · 1 rank`.
    pub point: String,
    /// `time`, or the name of one of the records' metrics (`busbw`, `bandwidth`, `tflops`).
    pub metric: String,
    /// `s` for times, else the metric's unit.
    pub unit: String,
    pub higher_is_better: bool,
    /// The figure in each run, in run order; None where a run did not measure it.
    pub values: Vec<Option<f64>>,
    /// The baseline's noise band: the 5th to 95th percentile of its per-sample figures.
    pub band: Option<(f64, f64)>,
}

/// The chosen figures over the ordered runs; the first run is the baseline.
#[derive(Debug, Clone, Serialize)]
pub struct Trend {
    pub runs: Vec<TrendRun>,
    pub series: Vec<TrendSeries>,
}

/// Puts the runs in order; a chosen baseline goes first whatever its date.
pub fn order_runs(
    mut docs: Vec<(PathBuf, RunDocument)>,
    order: &RunOrder,
    baseline: Option<(PathBuf, RunDocument)>,
) -> Result<Vec<(PathBuf, RunDocument)>, UsageError> {
    match order {
        RunOrder::Date => docs.sort_by(|a, b| a.1.run.started_at.cmp(&b.1.run.started_at)),
        RunOrder::Commits(history) => {
            let position = |(path, doc): &(PathBuf, RunDocument)| {
                let commit = doc.tool.git_commit.as_deref().filter(|c| !c.is_empty());
                let commit = commit.ok_or_else(|| {
                    UsageError::new(format!(
                        "{} records no commit: order it by date (--order date)",
                        path.display()
                    ))
                })?;
                history
                    .iter()
                    .position(|c| c.starts_with(commit) || commit.starts_with(c.as_str()))
                    .ok_or_else(|| {
                        UsageError::new(format!(
                            "{}: commit {commit} is not in this repository's history",
                            path.display()
                        ))
                    })
            };
            let mut keyed = docs
                .into_iter()
                .map(|d| Ok((position(&d)?, d)))
                .collect::<Result<Vec<_>, UsageError>>()?;
            keyed.sort_by(|a, b| {
                a.0.cmp(&b.0)
                    .then_with(|| a.1 .1.run.started_at.cmp(&b.1 .1.run.started_at))
            });
            docs = keyed.into_iter().map(|(_, d)| d).collect();
        }
    }
    if let Some(b) = baseline {
        docs.insert(0, b);
    }
    Ok(docs)
}

/// The trend of the chosen figures (or the default ones) over `runs`, already in
/// order with the baseline first.
pub fn trend(
    runs: &[(PathBuf, RunDocument)],
    choices: &[MetricChoice],
) -> Result<Trend, UsageError> {
    let Some((_, baseline)) = runs.first() else {
        return Err(UsageError::new("trend needs at least one results file"));
    };
    let picks = if choices.is_empty() {
        default_picks(baseline)
    } else {
        chosen_picks(baseline, choices)?
    };
    let series = picks
        .into_iter()
        .map(|(record, metric)| trace(runs, record, metric))
        .collect();
    let mut labelled: Vec<TrendRun> = runs.iter().map(|(p, d)| trend_run(p, d, 16)).collect();
    let clash =
        (1..labelled.len()).any(|i| labelled[..i].iter().any(|r| r.label == labelled[i].label));
    if clash {
        // Runs a minute apart: their seconds tell them apart.
        labelled = runs.iter().map(|(p, d)| trend_run(p, d, 19)).collect();
    }
    Ok(Trend {
        runs: labelled,
        series,
    })
}

/// `to`: how much of the start time the label shows (16: minutes, 19: seconds).
fn trend_run(path: &std::path::Path, doc: &RunDocument, to: usize) -> TrendRun {
    let when = doc.run.started_at.get(..to).unwrap_or(&doc.run.started_at);
    let commit = doc.tool.git_commit.clone().filter(|c| !c.is_empty());
    let label = match &commit {
        Some(c) => format!("{} {}", when.replace('T', " "), c.get(..7).unwrap_or(c)),
        None => when.replace('T', " "),
    };
    TrendRun {
        path: path.to_path_buf(),
        run_id: doc.run.run_id.clone(),
        started_at: doc.run.started_at.clone(),
        commit,
        label,
    }
}

/// What varies along a benchmark's sizes, the size itself, and whether the default
/// trend follows this kind of point at all.
fn variant_and_size(r: &Record) -> (String, u64, bool) {
    match &r.params {
        Params::Collective {
            dtype,
            op,
            in_place,
            bytes,
            ..
        } => (format!("{dtype} {op:?} {in_place}"), *bytes, !*in_place),
        Params::Stream {
            kernel,
            array_bytes,
            ..
        } => (kernel.clone(), *array_bytes, kernel == "triad"),
        Params::Copy {
            copy,
            bytes,
            src_gpu,
            dst_gpu,
            ..
        } => (format!("{copy} {src_gpu:?} {dst_gpu:?}"), *bytes, true),
        Params::PointToPoint {
            mode,
            bytes,
            from,
            to,
            ..
        } => (format!("{mode} {from} {to}"), *bytes, true),
        Params::Matmul {
            dtype,
            label,
            m,
            n,
            k,
            ..
        } => (format!("{dtype} {label}"), m * n * k, m == n && n == k),
    }
}

/// The headline figure of a record: time per call for latency-bound points, else
/// the benchmark's throughput.
fn headline(r: &Record, size: u64) -> &'static str {
    match &r.params {
        Params::Collective { .. } if size <= LATENCY_BOUND_BYTES => "time",
        Params::Collective { .. } if r.ranks > 1 => "busbw",
        Params::Collective { .. } => "algbw",
        Params::PointToPoint { mode, .. } if mode == "latency" => "time",
        Params::Matmul { .. } => "tflops",
        _ => "bandwidth",
    }
}

/// Smallest, middle and largest of some sizes.
fn few(mut sizes: Vec<u64>) -> Vec<u64> {
    sizes.sort_unstable();
    sizes.dedup();
    match sizes.len() {
        0..=3 => sizes,
        n => vec![sizes[0], sizes[n / 2], sizes[n - 1]],
    }
}

fn drawable(doc: &RunDocument) -> impl Iterator<Item = &Record> {
    doc.records.iter().filter(|r| r.check.passed)
}

/// The default picks: per benchmark and variant followed, a few sizes (matmul: the
/// largest; point-to-point latency: the smallest; its bandwidth: the largest). A
/// benchmark with none of the variants usually followed (only in-place collectives,
/// no triad) is followed in all of them.
fn default_picks(baseline: &RunDocument) -> Vec<(&Record, String)> {
    let usual: Vec<&str> = drawable(baseline)
        .filter(|r| variant_and_size(r).2)
        .map(|r| r.benchmark.as_str())
        .collect();
    let mut groups: Vec<(String, String, u32, Vec<&Record>)> = Vec::new();
    for r in drawable(baseline) {
        let (variant, _, followed) = variant_and_size(r);
        if !followed && usual.contains(&r.benchmark.as_str()) {
            continue;
        }
        match groups
            .iter_mut()
            .find(|g| g.0 == r.benchmark && g.1 == variant && g.2 == r.ranks)
        {
            Some(g) => g.3.push(r),
            None => groups.push((r.benchmark.clone(), variant, r.ranks, vec![r])),
        }
    }
    groups
        .iter()
        .flat_map(|(_, _, _, records)| default_sizes(records))
        .collect()
}

fn default_sizes<'a>(records: &[&'a Record]) -> Vec<(&'a Record, String)> {
    let sizes: Vec<u64> = records.iter().map(|r| variant_and_size(r).1).collect();
    let chosen = match records.first().map(|r| &r.params) {
        Some(Params::Matmul { .. }) => sizes.iter().max().into_iter().copied().collect(),
        Some(Params::PointToPoint { mode, .. }) if mode == "latency" => {
            sizes.iter().min().into_iter().copied().collect()
        }
        Some(Params::PointToPoint { .. }) => sizes.iter().max().into_iter().copied().collect(),
        _ => few(sizes),
    };
    records
        .iter()
        .filter_map(|r| {
            let size = variant_and_size(r).1;
            chosen
                .contains(&size)
                .then(|| (*r, headline(r, size).to_string()))
        })
        .collect()
}

fn chosen_picks<'a>(
    baseline: &'a RunDocument,
    choices: &[MetricChoice],
) -> Result<Vec<(&'a Record, String)>, UsageError> {
    let mut picks: Vec<(&Record, String)> = Vec::new();
    for choice in choices {
        let records: Vec<&Record> = drawable(baseline)
            .filter(|r| r.benchmark == choice.benchmark)
            .collect();
        if records.is_empty() {
            return Err(UsageError::new(format!(
                "--metric {}: the baseline has no passing '{}' records",
                choice.benchmark, choice.benchmark
            )));
        }
        let sizes: Vec<u64> = records.iter().map(|r| variant_and_size(r).1).collect();
        let wanted: Vec<u64> = match choice.size {
            // Matmul sizes are N of an N x N x N product.
            Some(s) if matches!(records[0].params, Params::Matmul { .. }) => vec![s * s * s],
            Some(s) => vec![s],
            None => few(sizes),
        };
        let before = picks.len();
        for r in records {
            let size = variant_and_size(r).1;
            if !wanted.contains(&size) {
                continue;
            }
            let metric = choice
                .metric
                .clone()
                .unwrap_or_else(|| headline(r, size).to_string());
            if metric != "time" && r.metric(&metric).is_none() {
                let known: Vec<&str> = r.metrics.iter().map(|m| m.name.as_str()).collect();
                return Err(UsageError::new(format!(
                    "--metric {}: '{}' records have no metric '{metric}' (they have: time, {})",
                    choice.benchmark,
                    choice.benchmark,
                    known.join(", ")
                )));
            }
            picks.push((r, metric));
        }
        if picks.len() == before {
            return Err(UsageError::new(format!(
                "--metric {}: the baseline measured no '{}' point of that size",
                choice.benchmark, choice.benchmark
            )));
        }
    }
    Ok(picks)
}

/// The point's identity across runs: what was measured and on how many ranks.
fn point_name(r: &Record) -> String {
    let ranks = if r.ranks == 1 { "rank" } else { "ranks" };
    format!(
        "{} · {} {ranks}",
        describe(&r.benchmark, &r.params),
        r.ranks
    )
}

/// The figure of a record: its time per call, or one of its metrics at the median time.
fn figure(r: &Record, metric: &str) -> Option<f64> {
    let v = if metric == "time" {
        r.time_s.median
    } else {
        r.metric(metric)?.value
    };
    v.is_finite().then_some(v)
}

/// The 5th to 95th percentile of the figure over the record's samples: throughputs
/// scale as the inverse of each sample's time.
fn noise_band(r: &Record, metric: &str) -> Option<(f64, f64)> {
    let at_median = figure(r, metric)?;
    let mut per_sample: Vec<f64> = r
        .samples_s
        .iter()
        .filter(|t| t.is_finite() && **t > 0.0)
        .map(|t| {
            if metric == "time" {
                *t
            } else {
                at_median * r.time_s.median / t
            }
        })
        .collect();
    if per_sample.len() < 2 {
        return None;
    }
    per_sample.sort_by(f64::total_cmp);
    Some((
        quantile_sorted(&per_sample, BAND_QUANTILES.0),
        quantile_sorted(&per_sample, BAND_QUANTILES.1),
    ))
}

fn trace(runs: &[(PathBuf, RunDocument)], record: &Record, metric: String) -> TrendSeries {
    let point = point_name(record);
    let values = runs
        .iter()
        .map(|(_, doc)| {
            drawable(doc)
                .filter(|r| r.benchmark == record.benchmark)
                .find(|r| point_name(r) == point)
                .and_then(|r| figure(r, &metric))
        })
        .collect();
    let unit = if metric == "time" {
        "s".to_string()
    } else {
        record
            .metric(&metric)
            .map(|m| m.unit.clone())
            .unwrap_or_default()
    };
    TrendSeries {
        benchmark: record.benchmark.clone(),
        point,
        higher_is_better: metric != "time",
        band: noise_band(record, &metric),
        metric,
        unit,
        values,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_choices_parse_and_bad_ones_are_refused() {
        assert_eq!(
            MetricChoice::parse("allreduce:busbw@64M").unwrap(),
            MetricChoice {
                benchmark: "allreduce".into(),
                metric: Some("busbw".into()),
                size: Some(64 << 20)
            }
        );
        assert_eq!(MetricChoice::parse("membw").unwrap().metric, None);
        for bad in ["", ":busbw", "allreduce:", "allreduce@lots"] {
            assert!(MetricChoice::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn few_sizes_are_the_ends_and_the_middle() {
        assert_eq!(few(vec![8, 64, 512, 4096, 32768]), [8, 512, 32768]);
        assert_eq!(few(vec![64, 8, 8]), [8, 64]);
    }
}
