//! The peer copies of `gpumem` as GPU-by-GPU heatmaps, one way and both ways, with the
//! pairs whose copies were staged through host memory marked.

use super::super::source::{drawable, metric_value, subtitle};
use super::super::{Chart, Heatmap, HostMatrix, NamedChart, Source};
use crate::core::PeerRoute;
use crate::results::Params;
use crate::units::format_bytes;

/// One heatmap per peer copy kind (`p2p`, `p2p_bidir`) that `source` measured.
pub(super) fn peer_heatmaps(source: &Source, several: bool) -> Vec<NamedChart> {
    let suffix = if several {
        format!("-{}", source.label)
    } else {
        String::new()
    };
    [
        ("p2p", "one way, row to column"),
        ("p2p_bidir", "both ways at once, the pair's total"),
    ]
    .into_iter()
    .filter_map(|(kind, what)| {
        let chart = peer_heatmap(source, kind, what)?;
        Some(NamedChart {
            name: format!("gpumem-{kind}{suffix}"),
            benchmark: "gpumem".into(),
            metric: "bandwidth".into(),
            chart: Chart::Heatmap(chart),
        })
    })
    .collect()
}

/// A pair's figure: (source GPU, destination GPU, bytes, GB/s, staged).
type PeerPoint = (usize, usize, u64, f64, bool);

fn peer_points(source: &Source, kind: &str) -> Vec<PeerPoint> {
    drawable(&source.doc)
        .filter(|r| r.benchmark == "gpumem")
        .filter_map(|r| match &r.params {
            Params::Copy {
                copy,
                bytes,
                src_gpu: Some(src),
                dst_gpu: Some(dst),
                peer_path,
                ..
            } if copy == kind => Some((
                *src as usize,
                *dst as usize,
                *bytes,
                metric_value(r, "bandwidth")?,
                peer_path
                    .as_ref()
                    .is_some_and(|p| p.route == PeerRoute::Staged),
            )),
            _ => None,
        })
        .collect()
}

fn peer_heatmap(source: &Source, kind: &str, what: &str) -> Option<Heatmap> {
    let mut points = peer_points(source, kind);
    // One copy size per matrix: the largest measured.
    let bytes = points.iter().map(|p| p.2).max()?;
    points.retain(|p| p.2 == bytes);
    let gpus = points.iter().map(|p| p.0.max(p.1) + 1).max()?;
    let mut values = vec![vec![None; gpus]; gpus];
    let mut marked = Vec::new();
    for (src, dst, _, gbps, staged) in points {
        let cells: &[(usize, usize)] = if kind == "p2p_bidir" {
            &[(src, dst), (dst, src)]
        } else {
            &[(src, dst)]
        };
        for &(row, col) in cells {
            values[row][col] = Some(gbps);
            if staged && !marked.contains(&(row, col)) {
                marked.push((row, col));
            }
        }
    }
    Some(Heatmap {
        title: format!(
            "gpumem: {kind} bandwidth between GPUs ({what}, {} copies)",
            format_bytes(bytes)
        ),
        subtitle: subtitle(&[source]),
        matrix: HostMatrix {
            hosts: (0..gpus).map(|g| format!("GPU {g}")).collect(),
            values,
            unit: "GB/s".into(),
        },
        peak: None,
        axis: "GPU".into(),
        marked,
        mark_note: "staged through host memory (no peer access both ways)".into(),
    })
}
