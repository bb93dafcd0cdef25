//! Axes: where a [`Scale`] puts a value, how it labels it, and which points carry a
//! label or a grid line.

use super::super::{format_number, format_seconds, Scale};
use crate::units::format_bytes;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};

impl Scale {
    /// The value on the drawn axis, or None where this scale cannot show it.
    pub(super) fn map(self, v: f64) -> Option<f64> {
        if !v.is_finite() {
            return None;
        }
        match self {
            Scale::Linear | Scale::Category | Scale::Ordinal => Some(v),
            Scale::Log2Bytes | Scale::Log2Count => (v > 0.0).then(|| v.log2()),
            Scale::Log10Seconds | Scale::Log10 => (v > 0.0).then(|| v.log10()),
        }
    }

    pub(super) fn label(self, axis_value: f64) -> String {
        match self {
            Scale::Linear | Scale::Category | Scale::Ordinal => format_number(axis_value),
            Scale::Log2Bytes => format_bytes(2f64.powf(axis_value).round() as u64),
            Scale::Log2Count => format_number(2f64.powf(axis_value)),
            Scale::Log10Seconds => format_seconds(10f64.powf(axis_value)),
            Scale::Log10 => format_number(10f64.powf(axis_value)),
        }
    }

    /// The range drawn and the labelled points on it, for data spanning `lo..=hi`
    /// (already mapped).
    pub(super) fn ticks(
        self,
        lo: f64,
        hi: f64,
        max_labels: usize,
    ) -> (f64, f64, Vec<f64>, Vec<f64>) {
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
            Scale::Ordinal => {
                // Every step gets a grid line; names only as many as fit, the last always.
                let last = hi.max(0.0).round() as i64;
                let every = (last as usize / max_labels.max(1)) as i64 + 1;
                let mut bold: Vec<f64> = (0..=last)
                    .filter(|v| v % every == 0 && (last - v >= every || *v == last))
                    .map(|v| v as f64)
                    .collect();
                if bold.last() != Some(&(last as f64)) {
                    bold.push(last as f64);
                }
                (
                    -0.4,
                    last as f64 + 0.4,
                    bold,
                    (0..=last).map(|v| v as f64).collect(),
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
            Scale::Log10Seconds | Scale::Log10 => {
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

/// A linear axis with exactly the labelled (bold) and grid-only (light) points we
/// choose: log scales are drawn as linear axes of the logarithm, labelled here.
pub(super) struct KeyedAxis {
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

pub(super) fn keyed(lo: f64, hi: f64, bold: Vec<f64>, light: Vec<f64>) -> KeyedAxis {
    KeyedAxis {
        lo,
        hi,
        bold,
        light,
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
    fn ordinal_steps_are_all_gridded_and_labels_thinned_to_fit() {
        let (lo, hi, bold, light) = Scale::Ordinal.ticks(0.0, 14.0, 4);
        assert!(lo < 0.0 && hi > 14.0);
        assert_eq!(light.len(), 15);
        assert_eq!(bold, [0.0, 4.0, 8.0, 14.0]);
        let (_, _, bold, _) = Scale::Ordinal.ticks(0.0, 2.0, 11);
        assert_eq!(bold, [0.0, 1.0, 2.0]);
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
}
