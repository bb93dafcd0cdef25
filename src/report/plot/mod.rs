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
use anyhow::{anyhow, Context, Result};
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::colors::colormaps::ViridisRGB;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Once;

mod format;
mod model;
mod peer;
mod source;

pub use format::{format_number, format_seconds};
pub use model::{Chart, Heatmap, HostMatrix, LineChart, NamedChart, Peak, Scale, Series};
use source::{drawable, metric_value, subtitle};
pub use source::{hardware_name, label_sources, system_name, Source};

/// Pixel size of every chart.
pub const WIDTH: u32 = 1100;
pub const HEIGHT: u32 = 620;

const FONT: &str = "sans-serif";
static FONT_BYTES: &[u8] = include_bytes!("../../../harness/fonts/DejaVuSans.ttf");
static REGISTER_FONT: Once = Once::new();

/// Makes the bundled font the one plotters draws `sans-serif` text with.
fn register_font() {
    REGISTER_FONT.call_once(|| {
        // The bytes are a known-good TTF compiled into the binary; a failure here
        // would be a broken build, caught by the tests that decode rendered charts.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES);
    });
}

/// Ten colours that stay distinguishable for most readers (Tableau 10).
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

impl Scale {
    /// The value on the drawn axis, or None where this scale cannot show it.
    fn map(self, v: f64) -> Option<f64> {
        if !v.is_finite() {
            return None;
        }
        match self {
            Scale::Linear | Scale::Category => Some(v),
            Scale::Log2Bytes | Scale::Log2Count => (v > 0.0).then(|| v.log2()),
            Scale::Log10Seconds => (v > 0.0).then(|| v.log10()),
        }
    }

    fn label(self, axis_value: f64) -> String {
        match self {
            Scale::Linear | Scale::Category => format_number(axis_value),
            Scale::Log2Bytes => format_bytes(2f64.powf(axis_value).round() as u64),
            Scale::Log2Count => format_number(2f64.powf(axis_value)),
            Scale::Log10Seconds => format_seconds(10f64.powf(axis_value)),
        }
    }

    /// The range drawn and the labelled points on it, for data spanning `lo..=hi`
    /// (already mapped).
    fn ticks(self, lo: f64, hi: f64, max_labels: usize) -> (f64, f64, Vec<f64>, Vec<f64>) {
        match self {
            Scale::Linear => {
                let top = if hi > 0.0 { hi * 1.12 } else { 1.0 };
                let step = nice_step(top / max_labels.max(1) as f64);
                let bold: Vec<f64> = (0..)
                    .map(|i| i as f64 * step)
                    .take_while(|v| *v <= top + step * 1e-9)
                    .collect();
                (0.0, top, bold, Vec::new())
            }
            Scale::Category => {
                let last = hi.max(0.0).round() as i64;
                (
                    -0.6,
                    last as f64 + 0.6,
                    (0..=last).map(|v| v as f64).collect(),
                    Vec::new(),
                )
            }
            // One value only: centre it rather than pin it to an edge.
            Scale::Log2Bytes | Scale::Log2Count if hi - lo < 0.5 => {
                (lo - 1.0, lo + 1.0, vec![lo], Vec::new())
            }
            Scale::Log2Bytes | Scale::Log2Count => {
                let (a, b) = (lo.floor() as i64, hi.ceil().max(lo.floor() + 1.0) as i64);
                // Both ends, and between them round powers (multiples of 1, 2, 5 or 10 in
                // the exponent: 1 KiB, 32 KiB, 1 MiB...) not crowding an end.
                let step = [1i64, 2, 5, 10, 20]
                    .into_iter()
                    .find(|s| ((b - a) / s) as usize + 2 <= max_labels)
                    .unwrap_or(20);
                let mut bold = vec![a as f64];
                let room = (step as f64 * 0.6).max(1.0);
                for v in (a + 1)..b {
                    if v % step == 0 && (v - a) as f64 >= room && (b - v) as f64 >= room {
                        bold.push(v as f64);
                    }
                }
                bold.push(b as f64);
                let light = (a..=b).map(|v| v as f64).collect();
                (a as f64 - 0.3, b as f64 + 0.3, bold, light)
            }
            Scale::Log10Seconds => {
                let (a, b) = (lo.floor() as i64, hi.ceil().max(lo.floor() + 1.0) as i64);
                let mut bold: Vec<f64> = (a..=b).map(|v| v as f64).collect();
                let mut light = Vec::new();
                for d in a..b {
                    for m in 2..10 {
                        light.push(d as f64 + (m as f64).log10());
                    }
                }
                if b - a <= 2 {
                    // Few decades: label 2x and 5x too, or the axis has two labels.
                    for d in a..b {
                        bold.push(d as f64 + 2f64.log10());
                        bold.push(d as f64 + 5f64.log10());
                    }
                    bold.sort_by(f64::total_cmp);
                }
                (a as f64, b as f64, bold, light)
            }
        }
    }
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
}

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

/// A linear axis with exactly the labelled (bold) and grid-only (light) points we
/// choose: log scales are drawn as linear axes of the logarithm, labelled here.
struct KeyedAxis {
    lo: f64,
    hi: f64,
    bold: Vec<f64>,
    light: Vec<f64>,
}

impl Ranged for KeyedAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let span = if self.hi > self.lo {
            self.hi - self.lo
        } else {
            1.0
        };
        let f = (value - self.lo) / span;
        limit.0 + (f * (limit.1 - limit.0) as f64).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.light.clone()
        } else {
            self.bold.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

fn keyed(lo: f64, hi: f64, bold: Vec<f64>, light: Vec<f64>) -> KeyedAxis {
    KeyedAxis {
        lo,
        hi,
        bold,
        light,
    }
}

type DrawResult<DB> =
    std::result::Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// Cuts `text` to fit `width` pixels in `style`, ending it with an ellipsis.
fn fit<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    style: &TextStyle,
    width: u32,
) -> String {
    let w = |t: &str| area.estimate_text_size(t, style).map(|s| s.0).unwrap_or(0);
    if w(text) <= width {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut n = chars.len();
    while n > 1 {
        n -= 1;
        let t: String = chars[..n].iter().collect::<String>() + "…";
        if w(&t) <= width {
            return t;
        }
    }
    "…".into()
}

/// Title and subtitle across the top; returns the area below them.
fn header<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    sub: &str,
) -> std::result::Result<DrawingArea<DB, Shift>, DrawingAreaErrorKind<DB::ErrorType>> {
    let (head, body) = root.split_vertically(64);
    let (w, _) = head.dim_in_pixel();
    let title_style = TextStyle::from((FONT, 24).into_font()).color(&BLACK);
    let sub_style = TextStyle::from((FONT, 15).into_font()).color(&RGBColor(70, 70, 70));
    head.draw_text(
        &fit(&head, title, &title_style, w - 30),
        &title_style,
        (16, 10),
    )?;
    head.draw_text(&fit(&head, sub, &sub_style, w - 30), &sub_style, (16, 40))?;
    Ok(body)
}

/// Draws a line chart onto `root`: the legend sits in its own column to the right,
/// so it never covers data.
pub fn draw_line<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, c: &LineChart) -> DrawResult<DB>
where
    DB::ErrorType: 'static,
{
    register_font();
    root.fill(&WHITE)?;
    let body = header(root, &c.title, &c.subtitle)?;

    let legend_style = TextStyle::from((FONT, 14).into_font()).color(&BLACK);
    let mut entries: Vec<(String, ShapeStyle, bool)> = c
        .series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let color = PALETTE[i % PALETTE.len()];
            (s.label.clone(), color.stroke_width(2), false)
        })
        .collect();
    if let Some(p) = &c.peak {
        entries.push((
            format!("{} ({} {})", p.label, format_number(p.value), p.unit),
            BLACK.stroke_width(2),
            true,
        ));
    }
    let widest = entries
        .iter()
        .map(|(t, _, _)| body.estimate_text_size(t, &legend_style).map(|s| s.0))
        .try_fold(0u32, |acc, w| w.map(|w| acc.max(w)))?;
    let (bw, _) = body.dim_in_pixel();
    let legend_w = (widest + 56).clamp(150, bw / 3);
    let (plot_area, legend) = body.split_horizontally(bw - legend_w);

    let mapped: Vec<Vec<(f64, f64)>> = c
        .series
        .iter()
        .map(|s| {
            s.points
                .iter()
                .filter_map(|(x, y)| Some((c.x_scale.map(*x)?, c.y_scale.map(*y)?)))
                .collect()
        })
        .collect();
    let xs = mapped.iter().flatten().map(|p| p.0);
    let mut ys: Vec<f64> = mapped.iter().flatten().map(|p| p.1).collect();
    if let Some(v) = c.peak.as_ref().and_then(|p| c.y_scale.map(p.value)) {
        ys.push(v);
    }
    let (x_lo, x_hi) = bounds(xs);
    let (y_lo, y_hi) = bounds(ys.into_iter());
    let (x0, x1, xb, xl) = c.x_scale.ticks(x_lo, x_hi, 11);
    let (y0, y1, yb, yl) = c.y_scale.ticks(y_lo, y_hi, 8);
    let (x_scale, y_scale) = (c.x_scale, c.y_scale);

    let mut chart = ChartBuilder::on(&plot_area)
        .margin_top(10)
        .margin_left(10)
        .margin_right(24)
        .margin_bottom(10)
        .x_label_area_size(56)
        .y_label_area_size(84)
        .build_cartesian_2d(keyed(x0, x1, xb, xl), keyed(y0, y1, yb, yl))?;
    chart
        .configure_mesh()
        .x_desc(c.x_label.as_str())
        .y_desc(c.y_label.as_str())
        .x_label_formatter(&|v| match x_scale {
            Scale::Category => c
                .categories
                .get(v.round().max(0.0) as usize)
                .cloned()
                .unwrap_or_default(),
            _ => x_scale.label(*v),
        })
        .y_label_formatter(&|v| y_scale.label(*v))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 15))
        .bold_line_style(RGBColor(200, 200, 200))
        .light_line_style(RGBColor(236, 236, 236))
        .draw()?;

    for (i, points) in mapped.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        if x_scale != Scale::Category {
            chart.draw_series(LineSeries::new(
                points.iter().copied(),
                color.stroke_width(2),
            ))?;
        }
        chart.draw_series(
            points
                .iter()
                .map(|p| Circle::new(*p, 4, color.filled()).into_dyn()),
        )?;
    }
    if let Some(v) = c.peak.as_ref().and_then(|p| y_scale.map(p.value)) {
        chart.draw_series(DashedLineSeries::new(
            [(x0, v), (x1, v)],
            10,
            6,
            BLACK.stroke_width(2),
        ))?;
    }

    // The legend column.
    let mut y = 30;
    let (lw, _) = legend.dim_in_pixel();
    for (text, style, dashed) in &entries {
        if *dashed {
            for x in [8, 20] {
                legend.draw(&PathElement::new(vec![(x, y), (x + 8, y)], *style))?;
            }
        } else {
            if c.x_scale != Scale::Category {
                legend.draw(&PathElement::new(vec![(6, y), (34, y)], *style))?;
            }
            legend.draw(&Circle::new((20, y), 4, style.color.filled()))?;
        }
        legend.draw_text(
            &fit(&legend, text, &legend_style, lw.saturating_sub(50)),
            &legend_style,
            (42, y - 8),
        )?;
        y += 24;
    }
    root.present()
}

fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if lo.is_finite() && hi.is_finite() {
        (lo, hi)
    } else {
        (0.0, 1.0)
    }
}

/// Draws a host-by-host heatmap onto `root`, with a colour scale on the right.
pub fn draw_heatmap<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    h: &Heatmap,
) -> DrawResult<DB>
where
    DB::ErrorType: 'static,
{
    register_font();
    root.fill(&WHITE)?;
    let body = header(root, &h.title, &h.subtitle)?;
    let m = &h.matrix;
    let n = m.hosts.len().max(1);
    let values: Vec<f64> = m
        .values
        .iter()
        .flatten()
        .flatten()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    let (lo, hi) = bounds(values.into_iter());
    let top = h
        .peak
        .as_ref()
        .map(|p| p.value)
        .filter(|v| v.is_finite() && *v > hi)
        .unwrap_or(hi);
    let lo = if (top - lo).abs() < f64::EPSILON {
        0.0
    } else {
        lo
    };
    let span = if top > lo { top - lo } else { 1.0 };
    let frac = |v: f64| ((v - lo) / span).clamp(0.0, 1.0);

    let (bw, _) = body.dim_in_pixel();
    let (grid_area, scale_area) = body.split_horizontally(bw - 150);
    let label_style = TextStyle::from((FONT, 14).into_font());
    let host_w = m
        .hosts
        .iter()
        .map(|t| grid_area.estimate_text_size(t, &label_style).map(|s| s.0))
        .try_fold(0u32, |acc, w| w.map(|w| acc.max(w)))?
        .clamp(60, 220);
    let names: Vec<String> = m
        .hosts
        .iter()
        .map(|t| fit(&grid_area, t, &label_style, host_w))
        .collect();
    let names_y = names.clone();
    let centres: Vec<f64> = (0..n).map(|i| i as f64 + 0.5).collect();
    let mut chart = ChartBuilder::on(&grid_area)
        .margin(12)
        .x_label_area_size(56)
        .y_label_area_size(host_w + 16)
        .build_cartesian_2d(
            keyed(0.0, n as f64, centres.clone(), Vec::new()),
            keyed(0.0, n as f64, centres, Vec::new()),
        )?;
    let pick = move |names: &[String], v: f64| {
        let i = v.floor() as usize;
        names.get(i).cloned().unwrap_or_default()
    };
    let note = if h.marked.is_empty() {
        String::new()
    } else {
        format!("    * {}", h.mark_note)
    };
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(format!("to {} ({}){note}", h.axis, m.unit))
        .y_desc(format!("from {}", h.axis))
        .x_label_formatter(&|v| pick(&names, *v))
        .y_label_formatter(&|v| pick(&names_y, n as f64 - *v))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 15))
        .draw()?;
    let cell_text = TextStyle::from((FONT, 15).into_font());
    for (row, from) in m.values.iter().enumerate().take(n) {
        for (col, v) in from.iter().enumerate().take(n) {
            // Row 0 at the top.
            let y = (n - 1 - row) as f64;
            let x = col as f64;
            let (fill, mut text, ink) = match v.filter(|v| v.is_finite()) {
                Some(v) => {
                    let f = frac(v);
                    let ink = if f > 0.55 { BLACK } else { WHITE };
                    (ViridisRGB::get_color(f), format_number(v), ink)
                }
                None => (RGBColor(225, 225, 225), "–".to_string(), BLACK),
            };
            if h.marked.contains(&(row, col)) {
                text.push_str(" *");
            }
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x, y), (x + 1.0, y + 1.0)],
                fill.filled(),
            )))?;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x, y), (x + 1.0, y + 1.0)],
                WHITE.stroke_width(1),
            )))?;
            let style = cell_text
                .clone()
                .color(&ink)
                .pos(plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Center,
                    plotters::style::text_anchor::VPos::Center,
                ));
            chart.draw_series(std::iter::once(Text::new(text, (x + 0.5, y + 0.5), style)))?;
        }
    }

    // Colour scale: a vertical bar with its ends and the peak labelled.
    let (_, sh) = scale_area.dim_in_pixel();
    let (bar_top, bar_bottom) = (40i32, sh as i32 - 80);
    let steps = 100;
    for i in 0..steps {
        let f0 = i as f64 / steps as f64;
        let y0 = bar_bottom - ((bar_bottom - bar_top) as f64 * (f0 + 1.0 / steps as f64)) as i32;
        let y1 = bar_bottom - ((bar_bottom - bar_top) as f64 * f0) as i32;
        scale_area.draw(&Rectangle::new(
            [(10, y0), (34, y1)],
            ViridisRGB::get_color(f0).filled(),
        ))?;
    }
    let small = TextStyle::from((FONT, 13).into_font());
    scale_area.draw_text(
        &format!("{} {}", format_number(top), m.unit),
        &small,
        (40, bar_top - 6),
    )?;
    scale_area.draw_text(
        &format!("{} {}", format_number(lo), m.unit),
        &small,
        (40, bar_bottom - 6),
    )?;
    if let Some(p) = h.peak.as_ref().filter(|p| p.value.is_finite()) {
        let y = bar_bottom - ((bar_bottom - bar_top) as f64 * frac(p.value)) as i32;
        for x in [4, 16, 28] {
            scale_area.draw(&PathElement::new(
                vec![(x, y), (x + 8, y)],
                BLACK.stroke_width(2),
            ))?;
        }
        scale_area.draw_text(
            &fit(&scale_area, &p.label, &small, 100),
            &small,
            (40, y + 8),
        )?;
    }
    root.present()
}

fn draw_any<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, chart: &Chart) -> DrawResult<DB>
where
    DB::ErrorType: 'static,
{
    match chart {
        Chart::Line(c) => draw_line(root, c),
        Chart::Heatmap(h) => draw_heatmap(root, h),
    }
}

/// The chart as an SVG document.
pub fn render_svg(chart: &Chart) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        draw_any(&root, chart).map_err(|e| anyhow!("drawing '{}': {e}", chart.title()))?;
    }
    Ok(svg)
}

/// Writes the chart as a PNG file.
pub fn write_png(chart: &Chart, path: &Path) -> Result<()> {
    let root = BitMapBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    draw_any(&root, chart).map_err(|e| anyhow!("drawing {}: {e}", path.display()))
}

/// Writes every chart as `<prefix><name>.png` and `.svg` into `dir`; returns the files.
pub fn write_charts(charts: &[NamedChart], dir: &Path, prefix: &str) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)
        .map_err(|e| crate::usage!("cannot create chart directory '{}': {e}", dir.display()))?;
    let mut written = Vec::new();
    for c in charts {
        // Names come from results files: keep them to one plain file name.
        let stem: String = format!("{prefix}{}", c.name)
            .chars()
            .map(|ch| {
                if ch.is_ascii_alphanumeric() || ch == '-' || ch == '_' {
                    ch
                } else {
                    '_'
                }
            })
            .collect();
        let png = dir.join(format!("{stem}.png"));
        write_png(&c.chart, &png)?;
        written.push(png);
        let svg = dir.join(format!("{stem}.svg"));
        std::fs::write(&svg, render_svg(&c.chart)?)
            .with_context(|| format!("writing {}", svg.display()))?;
        written.push(svg);
    }
    Ok(written)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_axis_labels_are_binary_sizes() {
        assert_eq!(Scale::Log2Bytes.label(3.0), "8 B");
        assert_eq!(Scale::Log2Bytes.label(10.0), "1 KiB");
        assert_eq!(Scale::Log2Bytes.label(30.0), "1 GiB");
        let (_, _, bold, _) = Scale::Log2Bytes.ticks(3.0, 30.0, 11);
        let labels: Vec<String> = bold.iter().map(|v| Scale::Log2Bytes.label(*v)).collect();
        assert_eq!(
            labels,
            ["8 B", "1 KiB", "32 KiB", "1 MiB", "32 MiB", "1 GiB"]
        );
        let (_, _, bold, _) = Scale::Log2Bytes.ticks(3.0, 20.0, 11);
        let labels: Vec<String> = bold.iter().map(|v| Scale::Log2Bytes.label(*v)).collect();
        assert_eq!(
            labels,
            ["8 B", "64 B", "256 B", "1 KiB", "4 KiB", "16 KiB", "64 KiB", "256 KiB", "1 MiB"]
        );
    }

    #[test]
    fn linear_ticks_cover_the_data_with_round_steps() {
        let (lo, hi, bold, _) = Scale::Linear.ticks(0.0, 37.0, 8);
        assert_eq!(lo, 0.0);
        assert!(hi > 37.0);
        assert_eq!(bold, [0.0, 10.0, 20.0, 30.0, 40.0]);
        let (_, hi, bold, _) = Scale::Linear.ticks(0.0, 3.3, 8);
        assert!(
            hi > 3.3 && bold.windows(2).all(|w| (w[1] - w[0] - 0.5).abs() < 1e-9),
            "{bold:?}"
        );
    }

    fn fixture_matrix() -> HostMatrix {
        // A hand-written fixture, not a measurement: three hosts, one pair missing.
        HostMatrix {
            hosts: vec!["node-a".into(), "node-b".into(), "<b>node-c</b>".into()],
            values: vec![
                vec![None, Some(11.5), Some(9.0)],
                vec![Some(11.2), None, None],
                vec![Some(8.7), Some(10.1), None],
            ],
            unit: "GB/s".into(),
        }
    }

    #[test]
    fn heatmap_renders_to_svg_with_escaped_host_names() {
        let chart = Chart::Heatmap(Heatmap {
            title: "links: fixture".into(),
            subtitle: "fixture".into(),
            matrix: fixture_matrix(),
            peak: Some(Peak {
                label: "claimed".into(),
                value: 12.5,
                unit: "GB/s".into(),
            }),
            axis: "host".into(),
            marked: Vec::new(),
            mark_note: String::new(),
        });
        let svg = render_svg(&chart).unwrap();
        let doc = roxmltree::Document::parse(&svg).expect("SVG is XML");
        let texts: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text().map(str::trim))
            .collect();
        assert!(texts.contains(&"<b>node-c</b>"), "{texts:?}");
        assert!(texts.contains(&"11.5"), "{texts:?}");
        assert!(!svg.contains("<b>"));
    }

    #[test]
    fn line_chart_png_has_the_chart_size() {
        let chart = Chart::Line(LineChart {
            title: "t".into(),
            subtitle: "s".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            x_scale: Scale::Log2Bytes,
            y_scale: Scale::Linear,
            categories: Vec::new(),
            series: vec![Series {
                label: "a".into(),
                points: vec![(8.0, 1.0), (1024.0, 2.0), (0.0, 3.0), (f64::NAN, 1.0)],
            }],
            peak: Some(Peak {
                label: "peak".into(),
                value: 4.0,
                unit: "GB/s".into(),
            }),
        });
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.png");
        write_png(&chart, &path).unwrap();
        let decoder = png::Decoder::new(std::fs::File::open(&path).unwrap());
        let reader = decoder.read_info().unwrap();
        assert_eq!(reader.info().width, WIDTH);
        assert_eq!(reader.info().height, HEIGHT);
    }
}
