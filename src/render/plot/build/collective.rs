//! Collective charts: bus and algorithm bandwidth and time against message size, and
//! small-message latency against the number of ranks or nodes.

use super::super::source::{drawable, metric_value, subtitle};
use super::super::{system_name, Chart, LineChart, NamedChart, Scale, Source};
use super::{distinguishing, plural, SeriesBuilder};
use crate::results::{Params, Record};
use crate::units::format_bytes;

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

pub(super) fn collective_charts(bench: &str, sources: &[&Source]) -> Vec<NamedChart> {
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
        // A label naming the system already counts its nodes ("x2 nodes").
        let says_nodes = parts
            .first()
            .is_some_and(|p| p.contains(&format!(" x{} nodes", r.nodes)));
        if r.nodes > 1 && !says_nodes {
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
                    bands: Vec::new(),
                }),
            });
        }
    }

    // Latency charts leave out local copies (collectives on one rank): no interconnect.
    let records: Vec<(&Source, &Record)> = records
        .into_iter()
        .filter(|(_, r)| !r.is_local_copy())
        .collect();
    let mut b = SeriesBuilder::default();
    for (s, r) in &records {
        if let Some((bytes, variant)) = collective_key(r) {
            b.push(line_label(s, r, &variant), bytes as f64, r.time_s.median);
        }
    }
    let series = b.finish();
    if series.is_empty() {
        return out;
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
            series,
            peak: None,
            bands: Vec::new(),
        }),
    });

    if let Some(chart) = latency_scaling_chart(bench, &records, &sub) {
        out.push(chart);
    }
    out
}

type ScalingLine = (u64, String, Vec<(f64, f64)>);

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
    // Small sizes, where latency rather than bandwidth dominates; a line is drawn
    // only where one system measured the size at two or more counts.
    let systems: Vec<String> = records.iter().map(|(s, _)| system_name(&s.doc)).collect();
    let systems: Vec<&str> = systems.iter().map(String::as_str).collect();
    let variants: Vec<String> = records
        .iter()
        .filter_map(|(_, r)| collective_key(r).map(|k| k.1))
        .collect();
    let variant_refs: Vec<&str> = variants.iter().map(String::as_str).collect();
    // (message size, label, (count, time) points) per line.
    let mut lines: Vec<ScalingLine> = Vec::new();
    for (s, r) in records {
        let Some((bytes, variant)) = collective_key(r).filter(|k| k.0 <= 64 * 1024) else {
            continue;
        };
        let mut parts = vec![format_bytes(bytes)];
        if distinguishing(&systems, "").is_some() {
            parts.push(system_name(&s.doc));
        }
        if let Some(v) = distinguishing(&variant_refs, &variant) {
            parts.push(v.to_string());
        }
        let label = parts.join(" · ");
        let point = (count(r) as f64, r.time_s.median);
        match lines.iter_mut().find(|l| l.1 == label) {
            Some(line) => line.2.push(point),
            None => lines.push((bytes, label, vec![point])),
        }
    }
    lines.retain(|(_, _, points)| {
        let mut xs: Vec<u64> = points.iter().map(|p| p.0 as u64).collect();
        xs.sort_unstable();
        xs.dedup();
        xs.len() > 1
    });
    let mut sizes: Vec<u64> = lines.iter().map(|l| l.0).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let chosen: Vec<u64> = match sizes.len() {
        0 => return None,
        1..=3 => sizes,
        n => vec![sizes[0], sizes[n / 2], sizes[n - 1]],
    };
    let mut b = SeriesBuilder::default();
    for (bytes, label, points) in lines {
        if chosen.contains(&bytes) {
            for (x, y) in points {
                b.push(label.clone(), x, y);
            }
        }
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
            bands: Vec::new(),
        }),
    })
}
