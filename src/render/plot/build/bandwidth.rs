//! Bandwidth charts of STREAM kernels, GPU copies and point-to-point pairs: per
//! kernel at one size, or against size.

use super::super::source::{drawable, metric_value, stream_rank, subtitle};
use super::super::{Chart, LineChart, NamedChart, Scale, Source};
use super::{distinguishing, source_and_ranks, SeriesBuilder};
use crate::results::{Params, Record};
use crate::units::format_bytes;

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

pub(super) fn stream_charts(bench: &str, sources: &[&Source]) -> Vec<NamedChart> {
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
    let p2p = points
        .first()
        .is_some_and(|p| matches!(p.1.params, Params::PointToPoint { .. }));
    // A ping-pong's bandwidth is its latency in other units: beside a bandwidth
    // mode it only crowds the chart, and it has a latency chart of its own.
    let is_latency =
        |r: &Record| matches!(&r.params, Params::PointToPoint { mode, .. } if mode == "latency");
    if p2p && points.iter().any(|p| !is_latency(p.1)) {
        points.retain(|p| !is_latency(p.1));
    }
    let mut sizes: Vec<u64> = points.iter().map(|p| p.3).collect();
    sizes.sort_unstable();
    sizes.dedup();
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
        // Stable: kernels STREAM does not name keep the order they were measured in.
        kernels.sort_by_key(|k| stream_rank(k));
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
            bands: Vec::new(),
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
            bands: Vec::new(),
        }
    };
    let mut out = Vec::new();
    if !chart.series.is_empty() {
        out.push(NamedChart {
            name: format!("{bench}-bandwidth"),
            benchmark: bench.to_string(),
            metric: "bandwidth".into(),
            chart: Chart::Line(chart),
        });
    }
    out.extend(latency_chart(bench, sources));
    out
}

/// One-way latency against message size, log-log: the ping-pong's half round trip,
/// the chart an OSU user reads first. A line per run and rank pair.
fn latency_chart(bench: &str, sources: &[&Source]) -> Option<NamedChart> {
    let labels: Vec<&str> = sources.iter().map(|s| s.label.as_str()).collect();
    let mut points: Vec<(&Source, String, u64, f64)> = Vec::new();
    for s in sources {
        for r in drawable(&s.doc).filter(|r| r.benchmark == bench) {
            if let Params::PointToPoint {
                mode,
                bytes,
                from,
                to,
                from_host,
                to_host,
                ..
            } = &r.params
            {
                if mode == "latency" && r.time_s.median.is_finite() && r.time_s.median > 0.0 {
                    let pair = if from_host == to_host || from_host.is_empty() {
                        format!("ranks {from}→{to}")
                    } else {
                        format!("ranks {from}→{to} ({from_host}→{to_host})")
                    };
                    points.push((s, pair, *bytes, r.time_s.median));
                }
            }
        }
    }
    let pairs: Vec<&str> = points.iter().map(|p| p.1.as_str()).collect();
    let mut b = SeriesBuilder::default();
    for (s, pair, bytes, t) in &points {
        let mut parts = Vec::new();
        if distinguishing(&labels, "").is_some() {
            parts.push(s.label.clone());
        }
        if distinguishing(&pairs, pair).is_some() || parts.is_empty() {
            parts.push(pair.clone());
        }
        b.push(parts.join(" · "), *bytes as f64, *t);
    }
    let series = b.finish();
    if series.is_empty() {
        return None;
    }
    Some(NamedChart {
        name: format!("{bench}-latency"),
        benchmark: bench.to_string(),
        metric: "latency".into(),
        chart: Chart::Line(LineChart {
            title: format!("{bench}: latency vs message size"),
            subtitle: subtitle(sources),
            x_label: "bytes per message".into(),
            y_label: "one-way latency (half the round trip, median)".into(),
            x_scale: Scale::Log2Bytes,
            y_scale: Scale::Log10Seconds,
            categories: Vec::new(),
            series,
            peak: None,
            bands: Vec::new(),
        }),
    })
}
