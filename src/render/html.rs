//! The one-file HTML report: environment, a table per benchmark and the charts, for
//! one or several results files side by side.
//!
//! The page is self-contained (inline CSS and SVG; no script, no font or image
//! fetched) so it can be mailed, attached to a ticket or opened offline. Every string
//! from a results file goes through `maud`'s escaping; chart SVG comes from plotters,
//! which escapes the text it draws.

use super::plot::{self, NamedChart, Source};
use crate::results::{Params, Record, RunDocument};
use crate::units::format_bytes;
use anyhow::Result;
use maud::{html, Markup, PreEscaped, DOCTYPE};

/// The page style, shared with the trend page.
pub(super) const CSS: &str = r#"
:root { color-scheme: light; }
body { font-family: "DejaVu Sans", "Bitstream Vera Sans", Helvetica, Arial, sans-serif;
  margin: 0 auto; max-width: 1200px; padding: 24px; color: #1d1d1f; background: #fff; }
h1 { font-size: 28px; margin: 0 0 4px; }
h2 { font-size: 21px; margin: 36px 0 10px; border-bottom: 2px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 17px; margin: 24px 0 8px; }
p.meta { color: #555; margin: 0 0 16px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0 18px; }
th, td { border: 1px solid #d8d8d8; padding: 4px 8px; text-align: right; vertical-align: top; }
th { background: #f3f4f6; }
td.key, th.key { text-align: left; }
tr:nth-child(even) td { background: #fafafa; }
td.failed { color: #b00020; font-weight: bold; }
td.missing { color: #aaa; }
.status-completed { color: #19692c; }
.status-check_failed, .status-aborted, .status-died, .status-interrupted { color: #b00020; font-weight: bold; }
p.unfinished { color: #b00020; margin: 0 0 8px; }
figure { margin: 12px 0 28px; }
figure svg { max-width: 100%; height: auto; border: 1px solid #e5e5e5; }
svg text { font-family: "DejaVu Sans", "Bitstream Vera Sans", Verdana, sans-serif; }
code { font-size: 12px; word-break: break-all; }
table.env td { max-width: 26em; overflow-wrap: anywhere; }
"#;

/// Renders the report for `sources` (their charts are built here).
pub fn render(sources: &[Source]) -> Result<String> {
    let charts = plot::build_charts(sources);
    render_with_charts(sources, &charts)
}

/// Renders the report with charts built (and perhaps given peaks) by the caller.
pub fn render_with_charts(sources: &[Source], charts: &[NamedChart]) -> Result<String> {
    let svgs = charts
        .iter()
        .map(|c| plot::render_svg(&c.chart).map(|svg| (c, svg)))
        .collect::<Result<Vec<_>>>()?;
    let benches = benchmarks(sources);
    let generated = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "clusterbench report: " (sources.iter().map(|s| s.label.as_str()).collect::<Vec<_>>().join(", ")) }
                style { (PreEscaped(CSS)) }
            }
            body {
                h1 { "clusterbench report" }
                p.meta {
                    (sources.len()) " results file" @if sources.len() != 1 { "s" }
                    " · generated " (generated) " by clusterbench " (env!("CARGO_PKG_VERSION"))
                }
                @for s in sources {
                    @if let Some(note) = crate::results::ending::note(&s.path, &s.doc) {
                        p.unfinished { (note) }
                    }
                }
                h2 { "Environment" }
                (environment_table(sources))
                @for bench in &benches {
                    h2 id=(format!("bench-{bench}")) { (bench) }
                    @for (c, svg) in svgs.iter().filter(|(c, _)| &c.benchmark == bench) {
                        figure aria-label=(c.chart.title()) { (PreEscaped(svg.as_str())) }
                    }
                    (bench_table(bench, sources))
                }
                @let others: Vec<_> = svgs.iter().filter(|(c, _)| !benches.contains(&c.benchmark)).collect();
                @if !others.is_empty() {
                    h2 { "Other charts" }
                    @for (c, svg) in others {
                        figure aria-label=(c.chart.title()) { (PreEscaped(svg.as_str())) }
                    }
                }
            }
        }
    };
    Ok(page.into_string())
}

/// Benchmark names in first-seen order.
fn benchmarks(sources: &[Source]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in sources.iter().flat_map(|s| &s.doc.records) {
        if !out.contains(&r.benchmark) {
            out.push(r.benchmark.clone());
        }
    }
    out
}

/// Whether the document was made by `import` from another tool's log, which leaves
/// unsaid most of what a run of clusterbench records about its hosts.
fn imported(s: &Source) -> bool {
    s.doc.run.options.get("imported_from").is_some()
}

/// What a field that may be absent shows: "unknown" where the log did not say, "–"
/// where a run of clusterbench looked and found nothing (no instance type on bare metal).
fn opt(s: &Source, v: &Option<String>) -> String {
    match v {
        Some(v) => v.clone(),
        None if imported(s) => UNKNOWN.into(),
        None => "–".into(),
    }
}

const UNKNOWN: &str = "unknown";

/// A count that no real host has as zero: zero means nobody measured it.
fn count(n: impl Into<u64>, show: impl Fn(u64) -> String) -> String {
    match n.into() {
        0 => UNKNOWN.into(),
        n => show(n),
    }
}

/// Columns per environment table: more runs than this are shown in several tables of
/// at most this many, so that a page of many runs wraps instead of scrolling sideways.
const RUNS_PER_TABLE: usize = 5;

/// One column per results file, one row per property; many files wrap into several
/// tables, each with the property names.
fn environment_table(sources: &[Source]) -> Markup {
    let tables = sources.len().div_ceil(RUNS_PER_TABLE).max(1);
    let per_table = sources.len().div_ceil(tables).max(1);
    html! {
        @for chunk in sources.chunks(per_table) {
            (environment_chunk(chunk))
        }
    }
}

fn environment_chunk(sources: &[Source]) -> Markup {
    type Row = (&'static str, fn(&Source) -> String);
    let rows: [Row; 16] = [
        ("file", |s| s.path.display().to_string()),
        ("run id", |s| s.doc.run.run_id.clone()),
        ("status", |s| status_name(&s.doc)),
        ("started", |s| s.doc.run.started_at.clone()),
        ("finished", |s| opt(s, &s.doc.run.finished_at)),
        ("hosts", |s| {
            let names: Vec<&str> = (s.doc.environment.hosts.iter())
                .map(|h| h.hostname.as_str())
                .filter(|n| !n.is_empty())
                .collect();
            if names.is_empty() {
                UNKNOWN.into()
            } else {
                names.join(", ")
            }
        }),
        ("instance type", |s| {
            join_distinct(
                s.doc
                    .environment
                    .hosts
                    .iter()
                    .map(|h| opt(s, &h.instance_type)),
            )
        }),
        ("system vendor", |s| {
            join_distinct(
                s.doc
                    .environment
                    .hosts
                    .iter()
                    .map(|h| opt(s, &h.system_vendor)),
            )
        }),
        ("CPU", |s| {
            join_distinct(s.doc.environment.hosts.iter().map(|h| opt(s, &h.cpu_model)))
        }),
        ("sockets / cores / threads", |s| {
            join_distinct(s.doc.environment.hosts.iter().map(|h| {
                if h.sockets == 0 && h.cores == 0 && h.threads == 0 {
                    UNKNOWN.into()
                } else {
                    [h.sockets, h.cores, h.threads]
                        .map(|n| count(n, |n| n.to_string()))
                        .join(" / ")
                }
            }))
        }),
        ("memory", |s| {
            join_distinct(
                s.doc
                    .environment
                    .hosts
                    .iter()
                    .map(|h| count(h.memory_bytes, format_bytes)),
            )
        }),
        ("OS / kernel", |s| {
            join_distinct(s.doc.environment.hosts.iter().map(|h| {
                if h.os.is_none() && h.kernel.is_none() && imported(s) {
                    UNKNOWN.into()
                } else {
                    format!("{} / {}", opt(s, &h.os), opt(s, &h.kernel))
                }
            }))
        }),
        ("backend", |s| match &s.doc.run.backend_note {
            // Runs of earlier versions recorded every place searched for the driver.
            Some(note) => format!(
                "{} ({})",
                s.doc.run.backend,
                note.split("; searched ").next().unwrap_or(note)
            ),
            None => s.doc.run.backend.clone(),
        }),
        ("MPI", |s| match &s.doc.environment.mpi {
            Some(m) => format!(
                "{} ({} ranks)",
                m.library_version.trim_end_matches('\0').trim(),
                m.world_size
            ),
            None if imported(s) => UNKNOWN.into(),
            None => "none (one process)".into(),
        }),
        ("clusterbench", |s| {
            let t = &s.doc.tool;
            match &t.git_commit {
                Some(c) => format!("{} {} ({c})", t.name, t.version),
                None => format!("{} {}", t.name, t.version),
            }
        }),
        ("command line", |s| s.doc.run.command_line.join(" ")),
    ];
    html! {
        div.scroll {
            table.env {
                tr {
                    th.key { "" }
                    @for s in sources {
                        th.key { (s.label) " · " (s.doc.environment.ranks.len()) " rank" @if s.doc.environment.ranks.len() != 1 { "s" } }
                    }
                }
                @for (name, value) in rows.iter() {
                    tr {
                        th.key { (name) }
                        @for s in sources {
                            @let text = value(s);
                            @if *name == "status" {
                                td.key class=(format!("status-{text}")) { (text) }
                            } @else if *name == "command line" || *name == "file" {
                                td.key { code { (text) } }
                            } @else if text == UNKNOWN {
                                td.key.missing { (text) }
                            } @else {
                                td.key { (text) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn status_name(doc: &RunDocument) -> String {
    if let Some(u) = crate::results::ending::Unfinished::of(doc) {
        return u.word().into();
    }
    serde_json::to_value(doc.run.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{:?}", doc.run.status))
}

fn join_distinct(values: impl Iterator<Item = String>) -> String {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out.join("; ")
}

/// How one kind of record becomes a table row: what identifies it and what was measured.
struct Columns {
    keys: &'static [&'static str],
    values: &'static [&'static str],
}

fn columns(params: &Params) -> Columns {
    match params {
        Params::Collective { .. } => Columns {
            keys: &["size", "count", "type", "op", "place"],
            values: &["time", "algbw GB/s", "busbw GB/s"],
        },
        Params::Stream { .. } => Columns {
            keys: &["kernel", "array size", "threads/rank"],
            values: &["time", "GB/s", "best GB/s"],
        },
        Params::Copy { .. } => Columns {
            keys: &["copy", "size", "GPUs"],
            values: &["time", "GB/s", "best GB/s"],
        },
        Params::PointToPoint { .. } => Columns {
            keys: &["mode", "size", "window", "ranks", "hosts"],
            values: &["time", "GB/s", "best GB/s"],
        },
        Params::Matmul { .. } => Columns {
            keys: &["shape", "type", "m x n x k", "threads/rank"],
            values: &["time", "TFLOP/s", "best TFLOP/s"],
        },
    }
}

/// The identifying cells of a record and a key that sorts rows sensibly.
fn key_cells(r: &Record) -> (Vec<String>, (String, u64)) {
    match &r.params {
        Params::Collective {
            dtype,
            op,
            in_place,
            count,
            bytes,
        } => {
            let op = op.map(|o| o.name()).unwrap_or("–");
            let place = if *in_place { "in" } else { "out" };
            (
                vec![
                    format_bytes(*bytes),
                    count.to_string(),
                    dtype.name().into(),
                    op.into(),
                    place.into(),
                ],
                // Out-of-place rows first, as nccl-tests prints them.
                (
                    format!("{} {op} {}", dtype.name(), u8::from(*in_place)),
                    *bytes,
                ),
            )
        }
        Params::Stream {
            kernel,
            array_bytes,
            threads,
            ..
        } => (
            vec![
                kernel.clone(),
                format_bytes(*array_bytes),
                threads.to_string(),
            ],
            // STREAM's order (copy, scale, add, triad, dot), not the alphabet's.
            (
                format!("{:020} {kernel}", plot::stream_rank(kernel)),
                *array_bytes,
            ),
        ),
        Params::Copy {
            copy,
            bytes,
            src_gpu,
            dst_gpu,
            ..
        } => {
            let gpus = match (src_gpu, dst_gpu) {
                (Some(a), Some(b)) => format!("{a}→{b}"),
                _ => "–".into(),
            };
            (
                vec![copy.clone(), format_bytes(*bytes), gpus.clone()],
                (format!("{copy} {gpus}"), *bytes),
            )
        }
        Params::PointToPoint {
            mode,
            bytes,
            window,
            from,
            to,
            from_host,
            to_host,
        } => (
            vec![
                mode.clone(),
                format_bytes(*bytes),
                window.to_string(),
                format!("{from}→{to}"),
                format!("{from_host}→{to_host}"),
            ],
            (format!("{mode} {from} {to}"), *bytes),
        ),
        Params::Matmul {
            dtype,
            label,
            m,
            n,
            k,
            threads,
            ..
        } => (
            vec![
                label.clone(),
                dtype.name().into(),
                format!("{m} x {n} x {k}"),
                threads.to_string(),
            ],
            (format!("{} {label}", dtype.name()), m * n * k),
        ),
    }
}

/// The measured cells; a record that failed its check shows that instead of figures.
fn value_cells(r: &Record) -> Vec<Markup> {
    let n = columns(&r.params).values.len();
    if !r.check.passed {
        let why = format!("check failed: {} wrong", r.check.wrong);
        return (0..n)
            .map(|_| html! { td.failed title=(r.check.method) { (why) } })
            .collect();
    }
    let num = |name: &str, best: bool| {
        r.metric(name)
            .map(|m| plot::format_number(if best { m.best } else { m.value }))
            .unwrap_or_else(|| "–".into())
    };
    let figures: Vec<String> = match &r.params {
        Params::Collective { .. } => vec![
            plot::format_seconds(r.time_s.median),
            num("algbw", false),
            num("busbw", false),
        ],
        Params::Stream { .. } | Params::Copy { .. } | Params::PointToPoint { .. } => vec![
            plot::format_seconds(r.time_s.median),
            num("bandwidth", false),
            num("bandwidth", true),
        ],
        Params::Matmul { .. } => vec![
            plot::format_seconds(r.time_s.median),
            num("tflops", false),
            num("tflops", true),
        ],
    };
    figures.into_iter().map(|f| html! { td { (f) } }).collect()
}

/// One table per benchmark: a row per measured case, and for each results file and
/// rank count a group of columns, so several machines read side by side.
fn bench_table(bench: &str, sources: &[Source]) -> Markup {
    struct Group<'a> {
        title: String,
        records: Vec<&'a Record>,
    }
    let mut groups: Vec<Group> = Vec::new();
    for s in sources {
        let mut ranks: Vec<u32> = Vec::new();
        for r in s.doc.records.iter().filter(|r| r.benchmark == bench) {
            if !ranks.contains(&r.ranks) {
                ranks.push(r.ranks);
            }
        }
        for n in ranks {
            groups.push(Group {
                title: format!("{} · {n} rank{}", s.label, if n == 1 { "" } else { "s" }),
                records: s
                    .doc
                    .records
                    .iter()
                    .filter(|r| r.benchmark == bench && r.ranks == n)
                    .collect(),
            });
        }
    }
    let Some(first) = groups.iter().flat_map(|g| &g.records).next() else {
        return html! {};
    };
    let cols = columns(&first.params);
    let mut rows: Vec<(Vec<String>, (String, u64))> = Vec::new();
    for r in groups.iter().flat_map(|g| &g.records) {
        let key = key_cells(r);
        if !rows.iter().any(|(k, _)| *k == key.0) {
            rows.push(key);
        }
    }
    rows.sort_by(|a, b| a.1.cmp(&b.1));
    let blank = cols.values.len();
    html! {
        div.scroll {
            table {
                tr {
                    th.key colspan=(cols.keys.len()) { "" }
                    @for g in &groups { th colspan=(blank) { (g.title) } }
                }
                tr {
                    @for k in cols.keys { th.key { (k) } }
                    @for _ in &groups { @for v in cols.values { th { (v) } } }
                }
                @for (key, _) in &rows {
                    tr {
                        @for cell in key { td.key { (cell) } }
                        @for g in &groups {
                            @match g.records.iter().find(|r| key_cells(r).0 == *key) {
                                Some(r) => { @for cell in value_cells(r) { (cell) } }
                                None => { @for _ in 0..blank { td.missing { "–" } } }
                            }
                        }
                    }
                }
            }
        }
    }
}
