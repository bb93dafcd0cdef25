//! From results records to chart descriptions: every chart the documents support,
//! one family per file (collectives, matmul, bandwidth, the link and peer matrices),
//! with the vendor's claimed peak added where one run is drawn alone.

use super::source::drawable;
use super::{Chart, NamedChart, Scale, Series, Source};
use crate::results::{Params, Record};
use std::collections::BTreeMap;

mod bandwidth;
mod claims;
mod collective;
mod links;
mod matmul;
mod peer;

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
            Some(Params::Collective { .. }) => {
                out.extend(collective::collective_charts(bench, &with))
            }
            // The link matrix is drawn as heatmaps below, not pair by pair.
            Some(Params::PointToPoint { .. }) if bench == "links" => {}
            Some(Params::Stream { .. } | Params::Copy { .. } | Params::PointToPoint { .. }) => {
                out.extend(bandwidth::stream_charts(bench, &with))
            }
            Some(Params::Matmul { .. }) => out.extend(matmul::matmul_charts(bench, &with)),
            None => {}
        }
    }
    for s in sources {
        if let Some(links) = &s.doc.links {
            out.extend(links::link_heatmaps(s, links, sources.len() > 1));
        }
        out.extend(peer::peer_heatmaps(s, sources.len() > 1));
    }
    // Claimed peaks are drawn when all lines come from one run: several runs may be
    // different hardware, with different claims.
    if let [only] = sources {
        claims::attach_claimed_peaks(&mut out, only);
    }
    for chart in &mut out {
        if let Chart::Line(line) = &mut chart.chart {
            if line.y_scale == Scale::Linear && series_far_apart(&line.series) {
                line.y_scale = Scale::Log10;
            }
        }
    }
    out
}

/// How far apart series may lie on one linear axis: beyond this the lower ones are
/// flattened onto zero and a log axis shows them all.
const LINEAR_SPAN: f64 = 100.0;

/// Whether the highest figures of two series differ by more than [`LINEAR_SPAN`].
pub fn series_far_apart(series: &[Series]) -> bool {
    let peaks: Vec<f64> = series
        .iter()
        .filter_map(|s| {
            s.points
                .iter()
                .map(|p| p.1)
                .filter(|y| y.is_finite() && *y > 0.0)
                .max_by(f64::total_cmp)
        })
        .collect();
    let (lo, hi) = peaks.iter().fold((f64::INFINITY, 0f64), |(lo, hi), v| {
        (lo.min(*v), hi.max(*v))
    });
    peaks.len() > 1 && hi > lo * LINEAR_SPAN
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

fn plural(n: u32, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn source_and_ranks(s: &Source, r: &Record, labels: &[&str]) -> Vec<String> {
    let mut parts = Vec::new();
    if distinguishing(labels, "").is_some() {
        parts.push(s.label.clone());
    }
    parts.push(plural(r.ranks, "rank"));
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(peak: f64) -> Series {
        Series {
            label: format!("{peak}"),
            points: vec![(1.0, peak / 50.0), (2.0, peak), (3.0, f64::NAN)],
        }
    }

    #[test]
    fn only_series_more_than_a_hundredfold_apart_are_far_apart() {
        assert!(!series_far_apart(&[series(1.0), series(100.0)]));
        assert!(series_far_apart(&[series(1.0), series(100.5)]));
        // One series spanning decades is one line: a linear axis still suits it.
        assert!(!series_far_apart(&[series(1e6)]));
        assert!(!series_far_apart(&[]));
    }
}
