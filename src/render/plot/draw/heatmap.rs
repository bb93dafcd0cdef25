//! Heatmaps: a coloured, labelled cell per pair of hosts (or GPUs), with a colour
//! scale beside them.

use super::super::{format_number, Heatmap};
use super::axis::keyed;
use super::{bounds, fit, header, register_font, DrawResult, FONT};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::colors::colormaps::ViridisRGB;

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
