//! The charts of a sweep: `sweep.png`, each key metric against the swept param with its 95%
//! band (small multiples, a line per scenario); for two params, `heatmap-<scenario>.png`, a
//! heatmap per key metric with the contour where it crosses a threshold the user gives.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{BLUE, INK, LIGHT, Result, VERMILLION, WHITE, axis_font, err, padded, scenario_colour};
use crate::sweep::{PointMetric, Sweep};

/// A line `METRIC=VALUE`: where the heatmap of METRIC is cut by a contour.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Contour {
    /// The metric, as the sweep names it (`P(insolvency)`).
    pub metric: String,
    /// The level.
    pub level: f64,
}

impl std::str::FromStr for Contour {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let (metric, level) = s.rsplit_once('=').ok_or_else(|| {
            format!("`{s}` is not of the form METRIC=VALUE, such as P(insolvency)=0.3")
        })?;
        let level = level
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| format!("`{}` is not a finite number", level.trim()))?;
        Ok(Contour {
            metric: metric.trim().to_string(),
            level,
        })
    }
}

/// The metrics worth a panel: probabilities, circularity and net positions (round trips stay in
/// the files), in the order the sweep lists them, at most nine.
pub fn panels(sweep: &Sweep) -> Vec<String> {
    let Some(first) = sweep.scenarios.first().and_then(|s| s.points.first()) else {
        return Vec::new();
    };
    first
        .metrics
        .iter()
        .map(|m| m.metric.clone())
        .filter(|m| !m.ends_with("round trip"))
        .take(9)
        .collect()
}

fn value_of<'a>(metrics: &'a [PointMetric], name: &str) -> Option<&'a PointMetric> {
    metrics
        .iter()
        .find(|m| m.metric == name && m.estimate.count > 0)
}

fn grid_of(n: usize) -> (usize, usize) {
    let cols = match n {
        0..=1 => 1,
        2..=4 => 2,
        _ => 3,
    };
    (n.div_ceil(cols).max(1), cols)
}

fn label(metric: &str, v: f64, unit: (&str, &str)) -> String {
    if metric.starts_with("P(") {
        crate::format::percent(v)
    } else if metric.ends_with("net position") {
        crate::format::money(v, unit.0, unit.1)
    } else {
        format!("{v:.2}")
    }
}

/// `sweep.png` for one swept param: a panel per metric, a line per scenario with its band.
pub fn lines<DB: DrawingBackend>(
    sweep: &Sweep,
    unit: (&str, &str),
    area: &DrawingArea<DB, Shift>,
) -> Result {
    let names = panels(sweep);
    let (legend, area) = area.split_vertically(if sweep.scenarios.len() > 1 { 50 } else { 0 });
    if sweep.scenarios.len() > 1 {
        let mut x = 30;
        for (i, s) in sweep.scenarios.iter().enumerate() {
            legend
                .draw(&Rectangle::new(
                    [(x, 12), (x + 30, 36)],
                    scenario_colour(i).filled(),
                ))
                .map_err(err)?;
            let (w, _) = legend
                .estimate_text_size(&s.label, &axis_font())
                .map_err(err)?;
            legend
                .draw(&Text::new(s.label.clone(), (x + 38, 10), axis_font()))
                .map_err(err)?;
            x += 38 + w as i32 + 40;
        }
    }
    let param = &sweep.params[0];
    let (x0, x1) = padded(
        param.values.iter().copied().fold(f64::INFINITY, f64::min),
        param
            .values
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max),
    );
    let (rows, cols) = grid_of(names.len());
    for (name, panel) in names.iter().zip(area.split_evenly((rows, cols))) {
        let series: Vec<Vec<(f64, &PointMetric)>> = sweep
            .scenarios
            .iter()
            .map(|s| {
                s.points
                    .iter()
                    .filter_map(|p| Some((p.values[0], value_of(&p.metrics, name)?)))
                    .collect()
            })
            .collect();
        let all = series.iter().flatten();
        let lo = all
            .clone()
            .map(|(_, m)| m.estimate.ci95[0])
            .fold(f64::INFINITY, f64::min);
        let hi = all
            .map(|(_, m)| m.estimate.ci95[1])
            .fold(f64::NEG_INFINITY, f64::max);
        let (mut lo, mut hi) = padded(lo, hi);
        if name.starts_with("P(") {
            lo = lo.max(-0.02);
            hi = hi.min(1.02);
        }
        let mut chart = ChartBuilder::on(&panel)
            .margin(16)
            .caption(name, (super::FONT, 26).into_font().color(&INK))
            .x_label_area_size(50)
            .y_label_area_size(110)
            .build_cartesian_2d(x0..x1, lo..hi)
            .map_err(err)?;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .bold_line_style(LIGHT)
            .x_labels(param.values.len().clamp(2, 8))
            .y_labels(5)
            .x_desc(param.name.as_str())
            .x_label_formatter(&|v| format!("{}", (v * 1e6).round() / 1e6))
            .y_label_formatter(&|v| {
                // Ticks close together need a decimal to tell them apart.
                if name.starts_with("P(") && hi - lo < 0.05 {
                    format!("{:.1}%", v * 100.0)
                } else {
                    label(name, *v, unit)
                }
            })
            .label_style(axis_font())
            .axis_desc_style(axis_font())
            .draw()
            .map_err(err)?;
        for (i, points) in series.iter().enumerate() {
            let colour = scenario_colour(i);
            let band: Vec<(f64, f64)> = points
                .iter()
                .map(|(x, m)| (*x, m.estimate.ci95[1]))
                .chain(points.iter().rev().map(|(x, m)| (*x, m.estimate.ci95[0])))
                .collect();
            chart
                .draw_series(std::iter::once(Polygon::new(
                    band,
                    colour.mix(0.2).filled(),
                )))
                .map_err(err)?;
            chart
                .draw_series(LineSeries::new(
                    points.iter().map(|(x, m)| (*x, m.estimate.mean)),
                    colour.stroke_width(3),
                ))
                .map_err(err)?;
            chart
                .draw_series(
                    points
                        .iter()
                        .map(|(x, m)| Circle::new((*x, m.estimate.mean), 5, colour.filled())),
                )
                .map_err(err)?;
        }
    }
    Ok(())
}

/// A colour from white (the lowest value) to blue (the highest).
fn shade(t: f64) -> RGBColor {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * t).round() as u8;
    RGBColor(mix(0xF7, BLUE.0), mix(0xF7, BLUE.1), mix(0xF7, BLUE.2))
}

/// `heatmap-<scenario>.png` for two swept params: a panel per metric, a cell per point, and the
/// contour where a metric crosses its level (cell edges between values on either side).
pub fn heatmap<DB: DrawingBackend>(
    sweep: &Sweep,
    scenario: usize,
    contours: &[Contour],
    unit: (&str, &str),
    area: &DrawingArea<DB, Shift>,
) -> Result {
    let names = panels(sweep);
    let (a, b) = (&sweep.params[0], &sweep.params[1]);
    let (nx, ny) = (a.values.len(), b.values.len());
    let points = &sweep.scenarios[scenario].points;
    let (rows, cols) = grid_of(names.len());
    for (name, panel) in names.iter().zip(area.split_evenly((rows, cols))) {
        // Points run with the first param slowest: point (i, j) is at i * ny + j.
        let value = |i: usize, j: usize| {
            points
                .get(i * ny + j)
                .and_then(|p| value_of(&p.metrics, name))
                .map(|m| m.estimate.mean)
        };
        let values: Vec<f64> = (0..nx)
            .flat_map(|i| (0..ny).filter_map(move |j| value(i, j)))
            .collect();
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let level = contours.iter().find(|c| c.metric == *name).map(|c| c.level);
        let caption = match level {
            Some(l) => format!("{name} (contour at {})", label(name, l, unit)),
            None => format!(
                "{name}: {} to {}",
                label(name, lo, unit),
                label(name, hi, unit)
            ),
        };
        let mut chart = ChartBuilder::on(&panel)
            .margin(16)
            .caption(caption, (super::FONT, 24).into_font().color(&INK))
            .x_label_area_size(50)
            .y_label_area_size(90)
            .build_cartesian_2d(0.0..nx as f64, 0.0..ny as f64)
            .map_err(err)?;
        let tick = |axis: &crate::sweep::Axis, v: f64| {
            let k = v.floor() as usize;
            if (v - k as f64 - 0.5).abs() < 1e-9 && k < axis.values.len() {
                format!("{}", axis.values[k])
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(2 * nx + 1)
            .y_labels(2 * ny + 1)
            .x_label_formatter(&|v| tick(a, *v))
            .y_label_formatter(&|v| tick(b, *v))
            .x_desc(a.name.as_str())
            .y_desc(b.name.as_str())
            .label_style(axis_font())
            .axis_desc_style(axis_font())
            .draw()
            .map_err(err)?;
        let span = (hi - lo).max(1e-12);
        for i in 0..nx {
            for j in 0..ny {
                let Some(v) = value(i, j) else { continue };
                let (x, y) = (i as f64, j as f64);
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x, y), (x + 1.0, y + 1.0)],
                        shade((v - lo) / span).filled(),
                    )))
                    .map_err(err)?;
                if nx * ny <= 64 {
                    let style = (super::FONT, 20)
                        .into_font()
                        .color(if (v - lo) / span > 0.6 { &WHITE } else { &INK });
                    chart
                        .draw_series(std::iter::once(Text::new(
                            label(name, v, unit),
                            (x + 0.1, y + 0.6),
                            style,
                        )))
                        .map_err(err)?;
                }
            }
        }
        if let Some(level) = level {
            let above = |i: usize, j: usize| value(i, j).map(|v| v >= level);
            let mut edges = Vec::new();
            for i in 0..nx {
                for j in 0..ny {
                    let here = above(i, j);
                    if i + 1 < nx
                        && here.is_some()
                        && above(i + 1, j).is_some()
                        && here != above(i + 1, j)
                    {
                        let x = (i + 1) as f64;
                        edges.push(vec![(x, j as f64), (x, (j + 1) as f64)]);
                    }
                    if j + 1 < ny
                        && here.is_some()
                        && above(i, j + 1).is_some()
                        && here != above(i, j + 1)
                    {
                        let y = (j + 1) as f64;
                        edges.push(vec![(i as f64, y), ((i + 1) as f64, y)]);
                    }
                }
            }
            for e in edges {
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        e,
                        VERMILLION.stroke_width(5),
                    )))
                    .map_err(err)?;
            }
        }
    }
    Ok(())
}
