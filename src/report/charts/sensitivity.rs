//! The charts of a sensitivity analysis: `tornado.png` (the output's mean with each input at
//! its 5th and 95th percentile) and `sobol.png` (first-order and total indices with their
//! intervals), a panel per key output, the top inputs of each.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{BLUE, INK, LIGHT, ORANGE, Result, SKY, WHITE, axis_font, err, padded};
use crate::engine::MetricKind;
use crate::sensitivity::{OutputSensitivity, Sensitivity};

/// Inputs per panel.
const TOP: usize = 6;
/// Panels per chart.
const PANELS: usize = 6;

/// The outputs worth a panel: those that vary, round trips left to the files.
fn panels(s: &Sensitivity) -> Vec<&OutputSensitivity> {
    s.outputs
        .iter()
        .filter(|o| o.variance.is_some() && !o.output.ends_with("round trip"))
        .take(PANELS)
        .collect()
}

fn grid_of(n: usize) -> (usize, usize) {
    let cols = if n <= 2 { 1 } else { 2 };
    (n.div_ceil(cols).max(1), cols)
}

fn value_label(o: &OutputSensitivity, v: f64, unit: (&str, &str)) -> String {
    match o.kind {
        MetricKind::Probability => crate::format::percent(v),
        MetricKind::Amount => crate::format::money(v, unit.0, unit.1),
        MetricKind::Ratio => format!("{v:.2}x"),
    }
}

/// An input's name shortened to fit a label column.
fn short(name: &str) -> String {
    let name = crate::text::printable(name);
    if name.chars().count() <= 24 {
        name.into_owned()
    } else {
        let head: String = name.chars().take(23).collect();
        format!("{head}…")
    }
}

/// The label of the row centred at `v` (row k from the top sits at `n - k - 0.5`); empty
/// between rows.
fn row_label(labels: &[String], v: f64) -> String {
    let n = labels.len() as f64;
    let k = (n - v - 0.5).round();
    if (n - v - 0.5 - k).abs() < 1e-6 && k >= 0.0 && k < n {
        labels[k as usize].clone()
    } else {
        String::new()
    }
}

/// The rows' input names as the panel shows them, and the width of the label area that holds
/// the longest: at most 45% of the panel, a longer name shortened with an ellipsis.
fn row_labels<DB: DrawingBackend>(
    panel: &DrawingArea<DB, Shift>,
    rows: &[&crate::sensitivity::InputEffect],
) -> Result<(Vec<String>, i32)> {
    let font = axis_font();
    let max_w = panel.dim_in_pixel().0 as i32 * 45 / 100;
    let labels = rows
        .iter()
        .map(|e| super::fit(panel, &short(&e.input), &font, max_w))
        .collect::<Result<Vec<_>>>()?;
    let mut widest = 0;
    for l in &labels {
        widest = widest.max(panel.estimate_text_size(l, &font).map_err(err)?.0 as i32);
    }
    // Room for the tick marks and a gap beside the text.
    Ok((labels, widest + 24))
}

fn legend<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, items: &[(RGBColor, &str)]) -> Result {
    let mut x = 30;
    for (colour, text) in items {
        // Black stands for a line on the charts (the mean, an interval): a line, not a block.
        let swatch = if *colour == INK {
            [(x + 13, 8), (x + 17, 40)]
        } else {
            [(x, 12), (x + 30, 36)]
        };
        area.draw(&Rectangle::new(swatch, colour.filled()))
            .map_err(err)?;
        let (w, _) = area.estimate_text_size(text, &axis_font()).map_err(err)?;
        area.draw(&Text::new(text.to_string(), (x + 38, 10), axis_font()))
            .map_err(err)?;
        x += 38 + w as i32 + 40;
    }
    Ok(())
}

/// `tornado.png`: per output, a bar from the mean to the mean with each input at P5 (blue) and
/// at P95 (orange), largest swing on top.
pub fn tornado<DB: DrawingBackend>(
    s: &Sensitivity,
    unit: (&str, &str),
    area: &DrawingArea<DB, Shift>,
) -> Result {
    let outputs = panels(s);
    if outputs.is_empty() {
        return super::message(area, "No key output varies: nothing to rank.");
    }
    let (band, area) = area.split_vertically(50);
    legend(
        &band,
        &[
            (BLUE, "input at its 5th percentile"),
            (ORANGE, "input at its 95th percentile"),
            (INK, "mean with every input drawn"),
        ],
    )?;
    let (rows, cols) = grid_of(outputs.len());
    for (o, panel) in outputs.iter().zip(area.split_evenly((rows, cols))) {
        let Some(base) = o.mean else { continue };
        let top: Vec<_> = o.inputs.iter().take(TOP).collect();
        let ends = top
            .iter()
            .flat_map(|e| [e.swing.low, e.swing.high])
            .flatten()
            .chain([base]);
        let lo = ends.clone().fold(f64::INFINITY, f64::min);
        let hi = ends.fold(f64::NEG_INFINITY, f64::max);
        let (mut lo, mut hi) = padded(lo, hi);
        if o.kind == MetricKind::Probability {
            lo = lo.max(-0.02);
            hi = hi.min(1.02);
        }
        let n = top.len();
        let caption = format!("{} (mean {})", o.output, value_label(o, base, unit));
        let (labels, label_w) = row_labels(&panel, &top)?;
        let mut chart = ChartBuilder::on(&panel)
            .margin(14)
            // Room for the last tick label, centred on the plot's right edge.
            .margin_right(36)
            .caption(caption, (super::FONT, 26).into_font().color(&INK))
            .x_label_area_size(44)
            .y_label_area_size(label_w)
            .build_cartesian_2d(lo..hi, 0.0..n as f64)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(WHITE)
            .bold_line_style(LIGHT)
            .x_labels(5)
            .x_label_formatter(&|v| value_label(o, *v, unit))
            .y_labels(2 * n + 1)
            .y_label_formatter(&|v| row_label(&labels, *v))
            .label_style(axis_font())
            .draw()
            .map_err(err)?;
        for (k, e) in top.iter().enumerate() {
            let y = n as f64 - k as f64 - 0.5;
            for (v, colour) in [(e.swing.low, BLUE), (e.swing.high, ORANGE)] {
                if let Some(v) = v {
                    chart
                        .draw_series(std::iter::once(Rectangle::new(
                            [(base, y - 0.32), (v, y + 0.32)],
                            colour.mix(0.85).filled(),
                        )))
                        .map_err(err)?;
                }
            }
        }
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(base, 0.0), (base, n as f64)],
                INK.stroke_width(2),
            )))
            .map_err(err)?;
    }
    Ok(())
}

/// `sobol.png`: per output, the first-order (dark) and total (light) index of its top inputs by
/// total index, with their 95% intervals.
pub fn sobol<DB: DrawingBackend>(s: &Sensitivity, area: &DrawingArea<DB, Shift>) -> Result {
    let outputs = panels(s);
    if outputs.is_empty() {
        return super::message(area, "No key output varies: nothing to rank.");
    }
    let (band, area) = area.split_vertically(50);
    legend(
        &band,
        &[
            (BLUE, "first-order index (alone)"),
            (SKY, "total index (with interactions)"),
            (INK, "95% bootstrap interval"),
        ],
    )?;
    let (rows, cols) = grid_of(outputs.len());
    for (o, panel) in outputs.iter().zip(area.split_evenly((rows, cols))) {
        let mut top: Vec<_> = o.inputs.iter().collect();
        let total = |e: &&crate::sensitivity::InputEffect| e.total.estimate.unwrap_or(-1.0);
        top.sort_by(|a, b| total(b).total_cmp(&total(a)));
        top.truncate(TOP);
        let n = top.len();
        let hi = top
            .iter()
            .flat_map(|e| {
                [e.first_order.ci95, e.total.ci95]
                    .into_iter()
                    .flatten()
                    .map(|c| c[1])
            })
            .fold(1.0f64, f64::max)
            .min(1.5);
        let (labels, label_w) = row_labels(&panel, &top)?;
        let mut chart = ChartBuilder::on(&panel)
            .margin(14)
            // Room for the last tick label, centred on the plot's right edge.
            .margin_right(36)
            .caption(o.output.clone(), (super::FONT, 26).into_font().color(&INK))
            .x_label_area_size(44)
            .y_label_area_size(label_w)
            .build_cartesian_2d(-0.05..hi, 0.0..n as f64)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(WHITE)
            .bold_line_style(LIGHT)
            .x_labels(6)
            .x_label_formatter(&|v| format!("{v:.1}"))
            .y_labels(2 * n + 1)
            .y_label_formatter(&|v| row_label(&labels, *v))
            .label_style(axis_font())
            .draw()
            .map_err(err)?;
        for (k, e) in top.iter().enumerate() {
            let y = n as f64 - k as f64 - 0.5;
            for (index, colour, dy) in [(&e.first_order, BLUE, 0.17), (&e.total, SKY, -0.17)] {
                let Some(v) = index.estimate else { continue };
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(0.0, y + dy - 0.15), (v.clamp(-0.05, hi), y + dy + 0.15)],
                        colour.filled(),
                    )))
                    .map_err(err)?;
                if let Some([a, b]) = index.ci95 {
                    chart
                        .draw_series(std::iter::once(PathElement::new(
                            vec![(a.clamp(-0.05, hi), y + dy), (b.clamp(-0.05, hi), y + dy)],
                            INK.stroke_width(3),
                        )))
                        .map_err(err)?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn effect(input: &str) -> crate::sensitivity::InputEffect {
        crate::sensitivity::InputEffect {
            input: input.into(),
            first_order: Default::default(),
            total: Default::default(),
            swing: Default::default(),
            rank_correlation: None,
            rank_regression: None,
        }
    }

    #[test]
    fn the_label_area_holds_the_longest_name_and_shortens_none_that_fits() {
        super::super::register_fonts();
        let mut svg = String::new();
        // A panel of a report-style tornado: half of the 1600-pixel page-wide canvas.
        let panel = SVGBackend::with_string(&mut svg, (800, 400)).into_drawing_area();
        let effects = [effect("rescue"), effect("revenue_run_rate_2024")];
        let rows: Vec<&_> = effects.iter().collect();
        let (labels, width) = row_labels(&panel, &rows).unwrap();
        assert_eq!(labels, ["rescue", "revenue_run_rate_2024"]);
        let font = axis_font();
        let widest = panel.estimate_text_size(&labels[1], &font).unwrap().0 as i32;
        assert!(
            width > widest,
            "{width} <= {widest}: the name would be clipped"
        );
        // A name wider than 45% of the panel is shortened to fit, never clipped.
        let long = [effect("an_input_with_a_name_far_too_long_for_any_panel")];
        let rows: Vec<&_> = long.iter().collect();
        let (labels, width) = row_labels(&panel, &rows).unwrap();
        assert!(labels[0].ends_with('\u{2026}'));
        assert!(width <= 800 * 45 / 100 + 24);
    }
}
