//! Line charts: lines and points against scaled axes, an optional dashed peak line,
//! and the legend in a column of its own.

use super::super::{format_number, LineChart, Scale};
use super::axis::keyed;
use super::{bounds, header, register_font, wrap, DrawResult, FONT, PALETTE};
use plotters::coord::Shift;
use plotters::prelude::*;

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
    for band in &c.bands {
        ys.extend(
            [band.low, band.high]
                .into_iter()
                .filter_map(|v| c.y_scale.map(v)),
        );
    }
    let (x_lo, x_hi) = match c.x_scale {
        // Every named step is shown, measured or not.
        Scale::Ordinal => (0.0, c.categories.len().saturating_sub(1) as f64),
        _ => bounds(xs),
    };
    let (y_lo, y_hi) = bounds(ys.into_iter());
    // Named steps get as many labels as fit side by side.
    let x_labels = if c.x_scale == Scale::Ordinal {
        let label_style = TextStyle::from((FONT, 14).into_font());
        let widest = c
            .categories
            .iter()
            .map(|t| body.estimate_text_size(t, &label_style).map(|s| s.0))
            .try_fold(0u32, |acc, w| w.map(|w| acc.max(w)))?;
        ((bw - legend_w).saturating_sub(130) / (widest + 24)).max(1) as usize
    } else {
        11
    };
    let (x0, x1, xb, xl) = c.x_scale.ticks(x_lo, x_hi, x_labels);
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
            Scale::Category | Scale::Ordinal => c
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

    // Bands first, so the lines are drawn over them.
    for band in &c.bands {
        let color = PALETTE[band.series % PALETTE.len()];
        if let (Some(lo), Some(hi)) = (y_scale.map(band.low), y_scale.map(band.high)) {
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x0, lo), (x1, hi)],
                color.mix(0.16).filled(),
            )))?;
        }
    }
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
        let lines = wrap(&legend, text, &legend_style, lw.saturating_sub(50));
        for (i, line) in lines.iter().enumerate() {
            legend.draw_text(line, &legend_style, (42, y - 8 + 17 * i as i32))?;
        }
        y += 24 + 17 * (lines.len() as i32 - 1);
    }
    root.present()
}
