//! Drawing chart descriptions with `plotters`, to PNG files and SVG documents. Text
//! uses the DejaVu Sans font bundled in `harness/fonts/`, so charts look the same on a
//! machine with no fonts installed.

use super::{Chart, NamedChart};
use anyhow::{anyhow, Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Once;

mod axis;
mod heatmap;
mod line;

pub use heatmap::draw_heatmap;
pub use line::draw_line;

/// Pixel size of every chart.
pub const WIDTH: u32 = 1100;
pub const HEIGHT: u32 = 620;

const FONT: &str = "sans-serif";
static FONT_BYTES: &[u8] = include_bytes!("../../../../harness/fonts/DejaVuSans.ttf");
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

/// Breaks `text` into lines that fit `width` pixels in `style`, between words where
/// it can (a word wider than a line is broken where it must): legends are read whole.
fn wrap<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    style: &TextStyle,
    width: u32,
) -> Vec<String> {
    let w = |t: &str| area.estimate_text_size(t, style).map(|s| s.0).unwrap_or(0);
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let joined = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if w(&joined) <= width {
            line = joined;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        for ch in word.chars() {
            line.push(ch);
            if w(&line) > width && line.chars().count() > 1 {
                line.pop();
                lines.push(std::mem::take(&mut line));
                line.push(ch);
            }
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
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

#[cfg(test)]
mod tests {
    use super::super::{Heatmap, HostMatrix, LineChart, Peak, Scale, Series};
    use super::*;

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
            bands: Vec::new(),
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
