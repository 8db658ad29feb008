//! Row charts: a labelled group of horizontal bars per entity, one row each, so any number of
//! long names reads on a narrow canvas. `investors.png` (an investor's three measures) and
//! `compare_investors.png` (an investor's net position in each scenario) are drawn by it.
//!
//! Each bar ends at its value and carries a whisker; the axis follows the values, and a whisker
//! it cuts ends in an arrow with its value, so a long tail is never read as a short one. A bar a
//! group lacks reads `n/a`.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{
    Chart, FONT, INK, LIGHT, Mark, Result, WHITE, axis_font, axis_text_width, err, fit,
    frame_heights, heading, label_font, legend_lines, m, padded, style, swatch_legend, ticks,
};
use crate::report::Summary;

/// One bar: where it ends, and its whisker (5th to 95th percentile).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bar {
    /// Its colour.
    pub colour: RGBColor,
    /// Where the bar ends (it starts at 0).
    pub value: f64,
    /// The whisker's ends.
    pub whisker: (f64, f64),
}

/// A group: a label line (a name on the left, a note on the right) above its bars.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// The name, shortened with an ellipsis when it does not fit.
    pub name: String,
    /// A note on the right of the label line (may be empty).
    pub note: String,
    /// The bars, top to bottom; `None` reads `n/a`.
    pub bars: Vec<Option<Bar>>,
}

/// A group's label line, each bar's height and the gap below it, in logical pixels.
fn block(look: style::Look) -> (i32, i32, i32) {
    let f = 24f64.max(look.min_font);
    ((f * 1.5) as i32, (f * 0.8) as i32, (f * 0.7) as i32)
}

/// The x axis under the rows: tick labels and the axis title.
fn axis_height(look: style::Look) -> i32 {
    (24f64.max(look.min_font) * 3.2) as i32
}

fn pitch(bars: usize, look: style::Look) -> i32 {
    let (label, bar, gap) = block(look);
    label + bars as i32 * bar + gap
}

/// The canvas height `groups` need under `legend`, in `chart`'s frame: from half the style's
/// height up to twice its width.
pub fn height(groups: &[Group], legend: &[(Mark, String)], chart: Chart, look: style::Look) -> u32 {
    let bars = groups.first().map_or(1, |g| g.bars.len());
    let lines = legend_lines(legend, look.size.0 as i32 - 80, |t| {
        axis_text_width(t, look)
    });
    let line_h = (24f64.max(look.min_font) * 1.5) as i32;
    let body = lines * line_h
        + 30
        + groups.len().max(1) as i32 * pitch(bars, look)
        + axis_height(look)
        + 40;
    let (title, footer) = heading(chart);
    let (top, foot) = frame_heights(&title, &footer, look.size.0, look);
    (top + body + foot).clamp(look.size.1 as i32 / 2, look.size.0 as i32 * 2) as u32
}

/// Draws `groups` under `legend` on `area`, amounts in `s`'s unit; `axis` names the x axis.
pub fn draw<DB: DrawingBackend>(
    s: &Summary,
    axis: &str,
    groups: &[Group],
    legend: &[(Mark, String)],
    area: &DrawingArea<DB, Shift>,
    look: style::Look,
) -> Result {
    // Whiskers can be far wider than the bars; the axis follows the values and clips them.
    let (mut lo, mut hi) = (0.0f64, 0.0f64);
    let (mut wlo, mut whi) = (0.0f64, 0.0f64);
    for bar in groups.iter().flat_map(|g| g.bars.iter().flatten()) {
        lo = lo.min(bar.value);
        hi = hi.max(bar.value);
        wlo = wlo.min(bar.whisker.0);
        whi = whi.max(bar.whisker.1);
    }
    let span = hi - lo;
    let (lo, hi) = padded(wlo.max(lo - 0.6 * span), whi.min(hi + 0.6 * span));
    let font = axis_font();
    let bold = (FONT, 24, FontStyle::Bold).into_font().color(&INK);
    let line_h = area.estimate_text_size("Ag", &font).map_err(err)?.1 as i32 * 3 / 2;
    let right = area.dim_in_pixel().0 as i32 - 40;
    let lines = legend_lines(legend, right - 40, |t| {
        area.estimate_text_size(t, &font)
            .map_or(0, |(w, _)| w as i32)
    });
    let (band, area) = area.split_vertically(lines * line_h + 30);
    swatch_legend(&band, legend, (40, 8), right)?;
    let area = &area;
    let bars = groups.first().map_or(1, |g| g.bars.len());
    let (label_h, bar_h, _) = block(look);
    let pitch = pitch(bars, look);
    let axis_h = axis_height(look);
    // The canvas is sized to the groups up to a limit; groups beyond it are counted.
    let room = (area.dim_in_pixel().1 as i32 - axis_h - 40 - line_h) / pitch;
    let shown = if groups.len() as i32 * pitch + axis_h + 40 <= area.dim_in_pixel().1 as i32 {
        groups.len()
    } else {
        room.max(1) as usize
    };
    let plot_w = area.dim_in_pixel().0 as i32 - 80;
    let tick_w = area
        .estimate_text_size(&m(s, -hi.abs().max(lo.abs())), &font)
        .map_err(err)?
        .0 as i32;
    let mut chart = ChartBuilder::on(area)
        .margin_left(40)
        .margin_right(40)
        .margin_top(10)
        .margin_bottom(10)
        .x_label_area_size(axis_h)
        .build_cartesian_2d(lo..hi, 0.0..1.0)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_labels((plot_w / (tick_w + 20)).clamp(5, 12) as usize)
        .y_labels(0)
        .disable_y_mesh()
        .light_line_style(WHITE)
        .bold_line_style(LIGHT)
        .x_desc(axis)
        .x_label_formatter(&ticks(s, lo, hi))
        .label_style(font.clone())
        .axis_desc_style(label_font())
        .draw()
        .map_err(err)?;
    let (ax, ay) = area.get_base_pixel();
    let px = |x: f64| chart.backend_coord(&(x.clamp(lo, hi), 0.0)).0 - ax;
    let top = chart.backend_coord(&(lo, 1.0)).1 - ay;
    let (left, right) = (px(lo), px(hi));
    // A canvas at its smallest can have room to spare: the groups sit in its middle.
    let spare = (chart.backend_coord(&(lo, 0.0)).1 - ay - top - 16 - shown as i32 * pitch).max(0);
    let top = top + spare / 2;
    let small = (FONT, 21).into_font().color(&INK);
    for (i, g) in groups.iter().take(shown).enumerate() {
        let y = top + 8 + i as i32 * pitch;
        let note_w = area.estimate_text_size(&g.note, &font).map_err(err)?.0 as i32;
        area.draw(&Text::new(
            g.note.clone(),
            (right - 6, y),
            font.clone().pos(Pos::new(HPos::Right, VPos::Top)),
        ))
        .map_err(err)?;
        let name = fit(area, &g.name, &bold, right - left - note_w - 40)?;
        area.draw(&Text::new(name, (left + 6, y), bold.clone()))
            .map_err(err)?;
        // The zero line runs beside the bars, not through the label.
        let y_bars = y + label_h;
        area.draw(&PathElement::new(
            vec![
                (px(0.0), y_bars - 4),
                (px(0.0), y_bars + g.bars.len() as i32 * bar_h + 1),
            ],
            INK.stroke_width(2),
        ))
        .map_err(err)?;
        for (k, bar) in g.bars.iter().enumerate() {
            let y0 = y_bars + k as i32 * bar_h;
            let (y1, yc) = (y0 + bar_h - 3, y0 + (bar_h - 3) / 2);
            let Some(bar) = bar else {
                area.draw(&Text::new(
                    "n/a",
                    (px(0.0) + 8, yc),
                    small.clone().pos(Pos::new(HPos::Left, VPos::Center)),
                ))
                .map_err(err)?;
                continue;
            };
            let (a, b) = bar.whisker;
            let (x0, x1) = (px(0.0).min(px(bar.value)), px(0.0).max(px(bar.value)));
            area.draw(&Rectangle::new(
                [(x0, y0), (x1.max(x0 + 1), y1)],
                bar.colour.filled(),
            ))
            .map_err(err)?;
            area.draw(&PathElement::new(
                vec![(px(a), yc), (px(b), yc)],
                INK.stroke_width(2),
            ))
            .map_err(err)?;
            let half = (bar_h / 3).max(4);
            for (end, cut) in [(a, a < lo), (b, b > hi)] {
                if !cut {
                    area.draw(&PathElement::new(
                        vec![(px(end), yc - half), (px(end), yc + half)],
                        INK.stroke_width(2),
                    ))
                    .map_err(err)?;
                }
            }
            if b > hi {
                arrow(area, (right, yc), &m(s, b), &small, true)?;
            }
            if a < lo {
                arrow(area, (left, yc), &m(s, a), &small, false)?;
            }
        }
    }
    if shown < groups.len() {
        area.draw(&Text::new(
            format!("and {} more: see the JSON file", groups.len() - shown),
            (left + 6, top + 8 + shown as i32 * pitch),
            font.clone(),
        ))
        .map_err(err)?;
    }
    Ok(())
}

/// An arrow at the plot's edge `(x, y)` with `value` beside it, on a white patch over the
/// whisker: pointing right at the right edge (`rightwards`), else left.
fn arrow<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (x, y): (i32, i32),
    value: &str,
    font: &TextStyle,
    rightwards: bool,
) -> Result {
    let (w, h) = area.estimate_text_size(value, font).map_err(err)?;
    let (w, h) = (w as i32, h as i32);
    let (dir, anchor) = if rightwards {
        (-1, HPos::Right)
    } else {
        (1, HPos::Left)
    };
    let start = x + dir * 14;
    let far = start + dir * (w + 4);
    area.draw(&Rectangle::new(
        [
            (start.min(far), y - h / 2 - 1),
            (start.max(far), y + h / 2 + 1),
        ],
        WHITE.filled(),
    ))
    .map_err(err)?;
    area.draw(&Text::new(
        value.to_string(),
        (start + dir, y),
        font.clone().pos(Pos::new(anchor, VPos::Center)),
    ))
    .map_err(err)?;
    area.draw(&Polygon::new(
        vec![(x + dir * 12, y - 8), (x + dir * 12, y + 8), (x, y)],
        INK.filled(),
    ))
    .map_err(err)
}
