//! Matmul charts: TFLOP/s against matrix size, a line per dtype.

use super::super::source::{drawable, metric_value, subtitle};
use super::super::{Chart, LineChart, NamedChart, Scale, Source};
use super::{source_and_ranks, SeriesBuilder};
use crate::results::Params;

pub(super) fn matmul_charts(bench: &str, sources: &[&Source]) -> Vec<NamedChart> {
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
            bands: Vec::new(),
        }),
    }]
}
