//! A trend over runs, as people read it: a chart per benchmark and figure (the runs in
//! order along x, the baseline's noise band shaded behind each line), a table for the
//! terminal or a CI comment, and a one-file HTML page with both.

use super::grid;
use super::plot::{self, Band, Chart, LineChart, NamedChart, Scale, Series};
use crate::analysis::trend::{Trend, TrendSeries};
use crate::units::format_seconds;
use anyhow::Result;
use maud::{html, Markup, PreEscaped, DOCTYPE};

/// What the shading on every trend chart is.
const BAND_NOTE: &str = "shaded: the baseline's noise (5th to 95th percentile of its samples)";

fn format_value(s: &TrendSeries, v: f64) -> String {
    if s.metric == "time" {
        format_seconds(v)
    } else {
        format!("{} {}", plot::format_number(v), s.unit)
    }
}

/// The change from the baseline's figure, and whether it lies outside the noise band
/// (and which way: better or worse).
fn versus_baseline(s: &TrendSeries, run: usize) -> (String, String) {
    let (Some(Some(base)), Some(Some(v))) = (s.values.first(), s.values.get(run)) else {
        return ("–".into(), "not measured".into());
    };
    if run == 0 {
        return ("baseline".into(), String::new());
    }
    let change = if *base != 0.0 {
        format!("{:+.1}%", (v / base - 1.0) * 100.0)
    } else {
        "–".into()
    };
    let verdict = match s.band {
        Some((lo, hi)) if *v < lo || *v > hi => {
            let better = (*v > hi) == s.higher_is_better;
            if better {
                "better, outside the noise"
            } else {
                "worse, outside the noise"
            }
        }
        Some(_) => "within the noise",
        None => "no noise band",
    };
    (change, verdict.into())
}

fn figure_name(s: &TrendSeries) -> String {
    let what = if s.metric == "time" {
        "time per call"
    } else {
        &s.metric
    };
    format!("{} — {what}", s.point)
}

/// The table: a row per figure and run, with the change from the baseline.
pub fn render_table(trend: &Trend, markdown: bool) -> String {
    let mut rows: Vec<Vec<String>> = Vec::new();
    for s in &trend.series {
        let band = match s.band {
            Some((lo, hi)) => format!("{} to {}", format_value(s, lo), format_value(s, hi)),
            None => "–".into(),
        };
        for (i, run) in trend.runs.iter().enumerate() {
            let (change, verdict) = versus_baseline(s, i);
            let value = match s.values.get(i).copied().flatten() {
                Some(v) => format_value(s, v),
                None => "–".into(),
            };
            rows.push(vec![
                if i == 0 || markdown {
                    figure_name(s)
                } else {
                    String::new()
                },
                run.label.clone(),
                value,
                change,
                if i == 0 { band.clone() } else { verdict },
            ]);
        }
    }
    let header = ["figure", "run", "value", "vs baseline", "noise"];
    let mut out = grid::render(&header, &rows, markdown);
    out.push_str(&format!(
        "\n{} runs, baseline {}; the noise band is the 5th to 95th percentile of the baseline's samples\n",
        trend.runs.len(),
        trend.runs.first().map(|r| r.label.as_str()).unwrap_or("–")
    ));
    out
}

/// A chart per benchmark and figure: the runs along x, a line per point measured.
pub fn trend_charts(trend: &Trend) -> Vec<NamedChart> {
    let mut groups: Vec<(&str, &str, Vec<&TrendSeries>)> = Vec::new();
    for s in &trend.series {
        match groups
            .iter_mut()
            .find(|g| g.0 == s.benchmark && g.1 == s.metric)
        {
            Some(g) => g.2.push(s),
            None => groups.push((&s.benchmark, &s.metric, vec![s])),
        }
    }
    let categories: Vec<String> = trend.runs.iter().map(|r| r.label.clone()).collect();
    groups
        .into_iter()
        .map(|(bench, metric, members)| {
            let series: Vec<Series> = members
                .iter()
                .map(|s| Series {
                    label: s
                        .point
                        .strip_prefix(&format!("{bench} "))
                        .unwrap_or(&s.point)
                        .to_string(),
                    points: s
                        .values
                        .iter()
                        .enumerate()
                        .filter_map(|(i, v)| v.map(|v| (i as f64, v)))
                        .collect(),
                })
                .collect();
            let bands = members
                .iter()
                .enumerate()
                .filter_map(|(i, s)| {
                    s.band.map(|(low, high)| Band {
                        series: i,
                        low,
                        high,
                    })
                })
                .collect();
            let (y_label, y_scale) = if metric == "time" {
                ("median time per call".to_string(), Scale::Log10Seconds)
            } else {
                let unit = &members[0].unit;
                let scale = if plot::series_far_apart(&series) {
                    Scale::Log10
                } else {
                    Scale::Linear
                };
                (format!("{metric} ({unit})"), scale)
            };
            NamedChart {
                name: format!("trend-{bench}-{metric}"),
                benchmark: bench.to_string(),
                metric: metric.to_string(),
                chart: Chart::Line(LineChart {
                    title: format!(
                        "{bench}: {} over {} runs",
                        if metric == "time" {
                            "time per call"
                        } else {
                            metric
                        },
                        trend.runs.len()
                    ),
                    subtitle: BAND_NOTE.into(),
                    x_label: "run (start time, commit), oldest first; the first is the baseline"
                        .into(),
                    y_label,
                    x_scale: Scale::Ordinal,
                    y_scale,
                    categories: categories.clone(),
                    series,
                    peak: None,
                    bands,
                }),
            }
        })
        .collect()
}

/// The one-file HTML page: the runs, then per benchmark its charts and a table.
pub fn render_html(trend: &Trend, charts: &[NamedChart]) -> Result<String> {
    let svgs = charts
        .iter()
        .map(|c| plot::render_svg(&c.chart).map(|svg| (c, svg)))
        .collect::<Result<Vec<_>>>()?;
    let generated = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "clusterbench trend over " (trend.runs.len()) " runs" }
                style { (PreEscaped(super::html::CSS)) }
            }
            body {
                h1 { "clusterbench trend" }
                p.meta {
                    (trend.runs.len()) " runs · generated " (generated) " by clusterbench "
                    (env!("CARGO_PKG_VERSION")) " · " (BAND_NOTE)
                }
                h2 { "Runs" }
                (runs_table(trend))
                @for (c, svg) in &svgs {
                    h2 { (c.chart.title()) }
                    figure aria-label=(c.chart.title()) { (PreEscaped(svg.as_str())) }
                    (chart_table(trend, c))
                }
            }
        }
    };
    Ok(page.into_string())
}

fn runs_table(trend: &Trend) -> Markup {
    html! {
        div.scroll {
            table {
                tr { th.key { "" } th.key { "run" } th.key { "run id" } th.key { "commit" } th.key { "file" } }
                @for (i, r) in trend.runs.iter().enumerate() {
                    tr {
                        td.key { @if i == 0 { "baseline" } @else { (i) } }
                        td.key { (r.label) }
                        td.key { (r.run_id) }
                        td.key { (r.commit.as_deref().unwrap_or("–")) }
                        td.key { code { (r.path.display().to_string()) } }
                    }
                }
            }
        }
    }
}

/// A row per run, a column per line of the chart: the figure and its change.
fn chart_table(trend: &Trend, chart: &NamedChart) -> Markup {
    let members: Vec<&TrendSeries> = trend
        .series
        .iter()
        .filter(|s| s.benchmark == chart.benchmark && s.metric == chart.metric)
        .collect();
    html! {
        div.scroll {
            table {
                tr {
                    th.key { "run" }
                    @for s in &members { th { (s.point) } }
                }
                @for (i, run) in trend.runs.iter().enumerate() {
                    tr {
                        td.key { (run.label) }
                        @for s in &members {
                            @let (change, verdict) = versus_baseline(s, i);
                            @match s.values.get(i).copied().flatten() {
                                Some(v) => {
                                    @if verdict.starts_with("worse") {
                                        td.failed title=(verdict) { (format_value(s, v)) " (" (change) ")" }
                                    } @else if i == 0 {
                                        td title="baseline" { (format_value(s, v)) }
                                    } @else {
                                        td title=(verdict) { (format_value(s, v)) " (" (change) ")" }
                                    }
                                }
                                None => { td.missing { "–" } }
                            }
                        }
                    }
                }
            }
        }
    }
}
