//! The node x node matrices of `clusterbench links` as heatmaps.

use super::super::source::subtitle;
use super::super::{Chart, Heatmap, HostMatrix, NamedChart, Source};
use crate::units::format_bytes;

/// The node x node bandwidth and latency matrices of `clusterbench links`.
pub(super) fn link_heatmaps(
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
