//! Charts of results documents, drawn with `plotters` to PNG and SVG.
//!
//! Charts are described first ([`LineChart`], [`Heatmap`]) and drawn second, so the
//! same description renders to a PNG file, to an SVG file, or inline into the HTML
//! report. Text in PNGs uses the DejaVu Sans font bundled in `harness/fonts/`, so
//! charts look the same on a machine with no fonts installed.
//!
//! Built from results: for every collective (any benchmark whose params are
//! `Collective`) bus and algorithm bandwidth and time against message size, and,
//! given runs with different rank or node counts, small-message latency against the
//! number of ranks (or nodes); matmul TFLOP/s against size per dtype; memory
//! bandwidth against array size per kernel. Records that failed their check are
//! never drawn. The host-by-host [`Heatmap`] takes a plain [`HostMatrix`].

use crate::results::{Params, Record, RunDocument};
use crate::units::format_bytes;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod draw;
mod format;
mod model;
mod peer;
mod source;

pub use draw::{draw_heatmap, draw_line, render_svg, write_charts, write_png, HEIGHT, WIDTH};
pub use format::{format_number, format_seconds};
pub use model::{Chart, Heatmap, HostMatrix, LineChart, NamedChart, Peak, Scale, Series};
use source::{drawable, metric_value, subtitle};
pub use source::{hardware_name, label_sources, system_name, Source};

fn plural(n: u32, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Every chart the documents support, in a stable order.
pub fn build_charts(sources: &[Source]) -> Vec<NamedChart> {
    let mut benches: Vec<String> = Vec::new();
    for s in sources {
        for r in drawable(&s.doc) {
            if !benches.contains(&r.benchmark) {
                benches.push(r.benchmark.clone());
            }
        }
    }
    let mut out = Vec::new();
    for bench in &benches {
        let with: Vec<&Source> = sources
            .iter()
            .filter(|s| drawable(&s.doc).any(|r| &r.benchmark == bench))
            .collect();
        let first = with
            .iter()
            .flat_map(|s| drawable(&s.doc))
            .find(|r| &r.benchmark == bench);
        match first.map(|r| &r.params) {
            Some(Params::Collective { .. }) => out.extend(collective_charts(bench, &with)),
            // The link matrix is drawn as heatmaps below, not pair by pair.
            Some(Params::PointToPoint { .. }) if bench == "links" => {}
            Some(Params::Stream { .. } | Params::Copy { .. } | Params::PointToPoint { .. }) => {
                out.extend(stream_charts(bench, &with))
            }
            Some(Params::Matmul { .. }) => out.extend(matmul_charts(bench, &with)),
            None => {}
        }
    }
    for s in sources {
        if let Some(links) = &s.doc.links {
            out.extend(link_heatmaps(s, links, sources.len() > 1));
        }
        out.extend(peer::peer_heatmaps(s, sources.len() > 1));
    }
    // Claimed peaks are drawn when all lines come from one run: several runs may be
    // different hardware, with different claims.
    if let [only] = sources {
        attach_claimed_peaks(&mut out, only);
    }
    out
}

/// Draws the vendor's claimed figure (built-in claims files, picked by the detected
/// instance type or GPU model as `validate` picks them) as a dashed line on the charts
/// that measure the same quantity in the same unit.
fn attach_claimed_peaks(charts: &mut [NamedChart], source: &Source) {
    use crate::report::validate::{self, ClaimsFile, Quantity};
    let (instances, gpus) = validate::detected_hardware(&source.doc);
    let files = validate::auto_select(&ClaimsFile::builtin(), &instances, &gpus);
    if files.is_empty() {
        return;
    }
    let on_gpu = source.doc.run.backend == "cuda";
    let one_node = source.doc.environment.hosts.len() <= 1;
    let dtypes_of = |bench: &str| -> Vec<String> {
        let mut d: Vec<String> = drawable(&source.doc)
            .filter(|r| r.benchmark == bench)
            .filter_map(validate::record_dtype)
            .collect();
        d.sort();
        d.dedup();
        d
    };
    for chart in charts.iter_mut() {
        let Chart::Line(line) = &mut chart.chart else {
            continue;
        };
        // The GPU claims speak of GPUs: a CPU run on the same instance is not held to them.
        let (quantity, unit, dtype) = match (chart.benchmark.as_str(), chart.metric.as_str()) {
            ("membw", "bandwidth") if on_gpu => (Quantity::GpuMemoryBandwidth, "GB/s", None),
            ("membw", "bandwidth") => (Quantity::HostMemoryBandwidth, "GB/s", None),
            ("allreduce", "busbw") if on_gpu && one_node => {
                (Quantity::IntraNodeAllreduceBusbw, "GB/s", None)
            }
            ("matmul", "tflops") if on_gpu => match dtypes_of("matmul").as_slice() {
                [only] => (Quantity::MatmulTflops, "TFLOP/s", Some(only.clone())),
                _ => continue,
            },
            _ => continue,
        };
        let claim = files.iter().find_map(|(_, f)| {
            f.claims.iter().find(|c| {
                c.quantity == quantity
                    && c.unit == unit
                    && (dtype.is_none()
                        || c.dtype.as_deref().map(validate::normalize_dtype) == dtype)
            })
        });
        if let Some(c) = claim {
            // The membw chart adds up all ranks, one GPU each: so does the claim.
            let ranks = source.doc.environment.ranks.len().max(1);
            let (value, times) = match quantity {
                Quantity::GpuMemoryBandwidth if ranks > 1 => {
                    (c.value * ranks as f64, format!(" × {ranks} GPUs"))
                }
                _ => (c.value, String::new()),
            };
            line.peak = Some(Peak {
                label: format!("claimed: {}{times}", c.what),
                value,
                unit: c.unit.clone(),
            });
        }
    }
}

/// The node x node bandwidth and latency matrices of `clusterbench links`.
fn link_heatmaps(
    source: &Source,
    links: &crate::results::links::LinkMatrix,
    several: bool,
) -> Vec<NamedChart> {
    let suffix = if several {
        format!("-{}", source.label)
    } else {
        String::new()
    };
    let heatmap =
        |metric: &str, what: &str, unit: &str, values: &Vec<Vec<Option<f64>>>| NamedChart {
            name: format!("links-{metric}{suffix}"),
            benchmark: "links".into(),
            metric: metric.into(),
            chart: Chart::Heatmap(Heatmap {
                title: format!("links: {what} between nodes"),
                subtitle: subtitle(&[source]),
                matrix: HostMatrix {
                    hosts: links.hosts.clone(),
                    values: values.clone(),
                    unit: unit.into(),
                },
                peak: None,
                axis: "host".into(),
                marked: Vec::new(),
                mark_note: String::new(),
            }),
        };
    vec![
        heatmap(
            "bandwidth",
            &format!(
                "bandwidth ({} messages)",
                format_bytes(links.bandwidth_bytes)
            ),
            "GB/s",
            &links.bandwidth_gbps,
        ),
        heatmap(
            "latency",
            &format!(
                "one-way latency ({} messages)",
                format_bytes(links.latency_bytes)
            ),
            "µs",
            &links.latency_us,
        ),
    ]
}

/// Groups points into series by a label, keeping first-seen order, sorted by x.
#[derive(Default)]
struct SeriesBuilder {
    order: Vec<String>,
    points: BTreeMap<String, Vec<(f64, f64)>>,
}

impl SeriesBuilder {
    fn push(&mut self, label: String, x: f64, y: f64) {
        if !self.points.contains_key(&label) {
            self.order.push(label.clone());
        }
        self.points.entry(label).or_default().push((x, y));
    }

    fn finish(mut self) -> Vec<Series> {
        self.order
            .into_iter()
            .filter_map(|label| {
                let mut points = self.points.remove(&label)?;
                points.sort_by(|a, b| a.0.total_cmp(&b.0));
                Some(Series { label, points })
            })
            .collect()
    }
}

/// Extra words a series label needs when a chart mixes several values of a parameter.
fn distinguishing<'a>(all: &[&'a str], this: &'a str) -> Option<&'a str> {
    let first = all.first()?;
    all.iter().any(|v| v != first).then_some(this)
}

fn collective_key(r: &Record) -> Option<(u64, String)> {
    match &r.params {
        Params::Collective {
            dtype,
            op,
            in_place,
            bytes,
            ..
        } => Some((
            *bytes,
            format!(
                "{}{}{}",
                dtype.name(),
                op.map(|o| format!(" {}", o.name())).unwrap_or_default(),
                if *in_place { " in-place" } else { "" }
            ),
        )),
        _ => None,
    }
}

fn collective_charts(bench: &str, sources: &[&Source]) -> Vec<NamedChart> {
    let all: Vec<(&Source, &Record)> = sources
        .iter()
        .flat_map(|s| {
            drawable(&s.doc)
                .filter(|r| r.benchmark == bench)
                .map(move |r| (*s, r))
        })
        .collect();
    // Out-of-place is what nccl-tests users compare; in-place lines would double the
    // legend, so they are drawn only for a collective measured in place alone.
    let out_of_place = |r: &Record| !matches!(r.params, Params::Collective { in_place: true, .. });
    let any_out = all.iter().any(|(_, r)| out_of_place(r));
    let dropped = any_out && all.iter().any(|(_, r)| !out_of_place(r));
    let records: Vec<(&Source, &Record)> = all
        .into_iter()
        .filter(|(_, r)| !any_out || out_of_place(r))
        .collect();
    let size_label = if dropped {
        "message size per rank (out-of-place; in-place figures are in the report tables)"
    } else {
        "message size per rank"
    };
    let variants: Vec<String> = records
        .iter()
        .filter_map(|(_, r)| collective_key(r).map(|k| k.1))
        .collect();
    let variant_refs: Vec<&str> = variants.iter().map(String::as_str).collect();
    let labels: Vec<&str> = sources.iter().map(|s| s.label.as_str()).collect();
    let line_label = |s: &Source, r: &Record, variant: &str| {
        let mut parts = Vec::new();
        if distinguishing(&labels, "").is_some() {
            parts.push(s.label.clone());
        }
        parts.push(plural(r.ranks, "rank"));
        if r.nodes > 1 {
            parts.push(plural(r.nodes, "node"));
        }
        if let Some(v) = distinguishing(&variant_refs, variant) {
            parts.push(v.to_string());
        }
        parts.join(" · ")
    };
    let sub = subtitle(sources);
    let multi_rank = records.iter().any(|(_, r)| r.ranks > 1);
    let mut out = Vec::new();
    for (metric, what) in [("busbw", "bus bandwidth"), ("algbw", "algorithm bandwidth")] {
        let mut b = SeriesBuilder::default();
        for (s, r) in &records {
            let (Some((bytes, variant)), Some(v)) = (collective_key(r), metric_value(r, metric))
            else {
                continue;
            };
            // busbw is 0 on one rank by convention (nothing crosses a link), and one
            // rank's algbw is a local copy that would flatten every real line: drawn
            // only when nothing else was measured.
            if r.ranks < 2 && (metric == "busbw" || multi_rank) {
                continue;
            }
            b.push(line_label(s, r, &variant), bytes as f64, v);
        }
        let series = b.finish();
        if !series.is_empty() {
            out.push(NamedChart {
                name: format!("{bench}-{metric}"),
                benchmark: bench.to_string(),
                metric: metric.to_string(),
                chart: Chart::Line(LineChart {
                    title: format!("{bench}: {what} vs message size"),
                    subtitle: sub.clone(),
                    x_label: size_label.into(),
                    y_label: format!("{metric} (GB/s, 1 GB = 1e9 bytes)"),
                    x_scale: Scale::Log2Bytes,
                    y_scale: Scale::Linear,
                    categories: Vec::new(),
                    series,
                    peak: None,
                }),
            });
        }
    }

    let mut b = SeriesBuilder::default();
    for (s, r) in &records {
        if let Some((bytes, variant)) = collective_key(r) {
            b.push(line_label(s, r, &variant), bytes as f64, r.time_s.median);
        }
    }
    out.push(NamedChart {
        name: format!("{bench}-time"),
        benchmark: bench.to_string(),
        metric: "time".into(),
        chart: Chart::Line(LineChart {
            title: format!("{bench}: time per call vs message size"),
            subtitle: sub.clone(),
            x_label: size_label.into(),
            y_label: "median time per call (slowest rank)".into(),
            x_scale: Scale::Log2Bytes,
            y_scale: Scale::Log10Seconds,
            categories: Vec::new(),
            series: b.finish(),
            peak: None,
        }),
    });

    if let Some(chart) = latency_scaling_chart(bench, &records, &sub) {
        out.push(chart);
    }
    out
}

/// Small-message time against the number of ranks (or nodes, when runs span
/// different node counts): the low-latency-at-scale curve. Needs two or more counts.
fn latency_scaling_chart(
    bench: &str,
    records: &[(&Source, &Record)],
    sub: &str,
) -> Option<NamedChart> {
    let mut nodes: Vec<u32> = records.iter().map(|(_, r)| r.nodes).collect();
    nodes.sort_unstable();
    nodes.dedup();
    let by_nodes = nodes.len() > 1;
    let count = |r: &Record| if by_nodes { r.nodes } else { r.ranks };
    let mut counts: Vec<u32> = records.iter().map(|(_, r)| count(r)).collect();
    counts.sort_unstable();
    counts.dedup();
    if counts.len() < 2 {
        return None;
    }
    // The smallest sizes every count measured: latency, not bandwidth, dominates there.
    let mut sizes: Vec<u64> = records
        .iter()
        .filter_map(|(_, r)| collective_key(r).map(|k| k.0))
        .filter(|b| *b <= 64 * 1024)
        .collect();
    sizes.sort_unstable();
    sizes.dedup();
    let chosen: Vec<u64> = match sizes.len() {
        0 => return None,
        1..=3 => sizes,
        n => vec![sizes[0], sizes[n / 2], sizes[n - 1]],
    };
    let systems: Vec<String> = records.iter().map(|(s, _)| system_name(&s.doc)).collect();
    let systems: Vec<&str> = systems.iter().map(String::as_str).collect();
    let variants: Vec<String> = records
        .iter()
        .filter_map(|(_, r)| collective_key(r).map(|k| k.1))
        .collect();
    let variant_refs: Vec<&str> = variants.iter().map(String::as_str).collect();
    let mut b = SeriesBuilder::default();
    for (s, r) in records {
        let Some((bytes, variant)) = collective_key(r) else {
            continue;
        };
        if !chosen.contains(&bytes) {
            continue;
        }
        let mut parts = vec![format_bytes(bytes)];
        if distinguishing(&systems, "").is_some() {
            parts.push(system_name(&s.doc));
        }
        if let Some(v) = distinguishing(&variant_refs, &variant) {
            parts.push(v.to_string());
        }
        b.push(parts.join(" · "), count(r) as f64, r.time_s.median);
    }
    let unit = if by_nodes { "nodes" } else { "ranks" };
    Some(NamedChart {
        name: format!("{bench}-latency-scaling"),
        benchmark: bench.to_string(),
        metric: "latency".into(),
        chart: Chart::Line(LineChart {
            title: format!("{bench}: small-message latency vs {unit}"),
            subtitle: sub.to_string(),
            x_label: format!("number of {unit}"),
            y_label: "median time per call (slowest rank)".into(),
            x_scale: Scale::Log2Count,
            y_scale: Scale::Log10Seconds,
            categories: Vec::new(),
            series: b.finish(),
            peak: None,
        }),
    })
}

fn source_and_ranks(s: &Source, r: &Record, labels: &[&str]) -> Vec<String> {
    let mut parts = Vec::new();
    if distinguishing(labels, "").is_some() {
        parts.push(s.label.clone());
    }
    parts.push(plural(r.ranks, "rank"));
    parts
}

fn matmul_charts(bench: &str, sources: &[&Source]) -> Vec<NamedChart> {
    let labels: Vec<&str> = sources.iter().map(|s| s.label.as_str()).collect();
    let mut b = SeriesBuilder::default();
    for s in sources {
        for r in drawable(&s.doc).filter(|r| r.benchmark == bench) {
            let (
                Params::Matmul {
                    dtype,
                    label,
                    m,
                    n,
                    k,
                    ..
                },
                Some(v),
            ) = (&r.params, metric_value(r, "tflops"))
            else {
                continue;
            };
            let mut parts = source_and_ranks(s, r, &labels);
            parts.insert(0, dtype.name().to_string());
            // Square sizes make the line; any other shape is a point of its own.
            if !(m == n && n == k) {
                parts.push(format!("{label} {m}x{n}x{k}"));
            }
            // Rectangular shapes sit at the side of the cube with the same volume.
            let size = ((*m as f64) * (*n as f64) * (*k as f64)).cbrt();
            b.push(parts.join(" · "), size, v);
        }
    }
    let series = b.finish();
    if series.is_empty() {
        return Vec::new();
    }
    vec![NamedChart {
        name: format!("{bench}-tflops"),
        benchmark: bench.to_string(),
        metric: "tflops".into(),
        chart: Chart::Line(LineChart {
            title: format!("{bench}: throughput vs matrix size"),
            subtitle: subtitle(sources),
            x_label: "matrix size N (N x N x N; other shapes at (m·n·k)^(1/3))".into(),
            y_label: "TFLOP/s per rank (dense, 2·m·n·k)".into(),
            x_scale: Scale::Log2Count,
            y_scale: Scale::Linear,
            categories: Vec::new(),
            series,
            peak: None,
        }),
    }]
}

/// The kind and size of a bandwidth measurement: a STREAM kernel and its array size, or
/// a GPU copy (with its GPUs, for peer copies) and its size.
fn bandwidth_kind(params: &Params) -> Option<(String, u64)> {
    match params {
        Params::Stream {
            kernel,
            array_bytes,
            ..
        } => Some((kernel.clone(), *array_bytes)),
        Params::Copy {
            copy,
            bytes,
            src_gpu,
            dst_gpu,
            ..
        } => Some(match (src_gpu, dst_gpu) {
            (Some(a), Some(b)) => (format!("{copy} {a}→{b}"), *bytes),
            _ => (copy.clone(), *bytes),
        }),
        Params::PointToPoint {
            mode,
            bytes,
            from,
            to,
            ..
        } => Some((format!("{mode} {from}→{to}"), *bytes)),
        _ => None,
    }
}

fn stream_charts(bench: &str, sources: &[&Source]) -> Vec<NamedChart> {
    let labels: Vec<&str> = sources.iter().map(|s| s.label.as_str()).collect();
    let mut points: Vec<(&Source, &Record, String, u64, f64)> = Vec::new();
    for s in sources {
        for r in drawable(&s.doc).filter(|r| r.benchmark == bench) {
            if let (Some((kind, bytes)), Some(v)) =
                (bandwidth_kind(&r.params), metric_value(r, "bandwidth"))
            {
                points.push((s, r, kind, bytes, v));
            }
        }
    }
    let mut sizes: Vec<u64> = points.iter().map(|p| p.3).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let p2p = points
        .first()
        .is_some_and(|p| matches!(p.1.params, Params::PointToPoint { .. }));
    let (what, x_what) = if p2p {
        ("point-to-point bandwidth", "bytes per message")
    } else {
        ("memory bandwidth", "bytes per array per rank")
    };
    let y_label = if p2p {
        "bandwidth between the pair (GB/s, 1 GB = 1e9 bytes)".to_string()
    } else {
        "bandwidth, all ranks (GB/s, 1 GB = 1e9 bytes)".to_string()
    };
    let mut b = SeriesBuilder::default();
    let chart = if sizes.len() == 1 {
        // One array size (the usual case): kernels side by side, a point per run.
        let mut kernels: Vec<String> = Vec::new();
        for (_, _, k, _, _) in &points {
            if !kernels.iter().any(|x| x == k) {
                kernels.push(k.to_string());
            }
        }
        for (s, r, k, _, v) in &points {
            let x = kernels.iter().position(|x| x == k).unwrap_or(0);
            b.push(source_and_ranks(s, r, &labels).join(" · "), x as f64, *v);
        }
        LineChart {
            title: format!("{bench}: memory bandwidth per kernel"),
            subtitle: subtitle(sources),
            x_label: format!(
                "STREAM kernel ({} per array per rank)",
                format_bytes(sizes[0])
            ),
            y_label,
            x_scale: Scale::Category,
            y_scale: Scale::Linear,
            categories: kernels,
            series: b.finish(),
            peak: None,
        }
    } else {
        for (s, r, k, bytes, v) in &points {
            let mut parts = source_and_ranks(s, r, &labels);
            parts.insert(0, k.to_string());
            b.push(parts.join(" · "), *bytes as f64, *v);
        }
        LineChart {
            title: format!("{bench}: {what} vs size"),
            subtitle: subtitle(sources),
            x_label: x_what.into(),
            y_label,
            x_scale: Scale::Log2Bytes,
            y_scale: Scale::Linear,
            categories: Vec::new(),
            series: b.finish(),
            peak: None,
        }
    };
    if chart.series.is_empty() {
        return Vec::new();
    }
    vec![NamedChart {
        name: format!("{bench}-bandwidth"),
        benchmark: bench.to_string(),
        metric: "bandwidth".into(),
        chart: Chart::Line(chart),
    }]
}

/// The charts of a finished run, into `<output>/<run_id>-charts/`. Called by rank 0
/// after the results are on disk: a failure here (even a panic inside the plotting
/// library) becomes a warning and never costs a measured figure.
pub fn write_run_charts(doc: &RunDocument, output_dir: &Path) -> Option<PathBuf> {
    let dir = output_dir.join(format!("{}-charts", doc.run.run_id));
    let source = Source {
        label: system_name(doc),
        path: output_dir.join(format!("{}.json", doc.run.run_id)),
        doc: doc.clone(),
    };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let charts = build_charts(std::slice::from_ref(&source));
        if charts.is_empty() {
            return Ok(None);
        }
        write_charts(&charts, &dir, "").map(|_| Some(dir.clone()))
    }));
    match outcome {
        Ok(Ok(dir)) => dir,
        Ok(Err(e)) => {
            eprintln!("clusterbench: warning: charts not written: {e:#}");
            None
        }
        Err(_) => {
            eprintln!("clusterbench: warning: charts not written: the plotting library failed");
            None
        }
    }
}
