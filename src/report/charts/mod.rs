//! PNG (and SVG) charts for reports: cash, revenue, target, tranches, investors, flows.
//!
//! Data preparation lives in [`data`] and reads only the summary; this module draws it. Text is
//! rendered from the DejaVu Sans font shipped in the binary (no system fonts), colours come from
//! the Okabe-Ito colour-blind-safe palette, and every chart carries the scenario name in its
//! title and the seed, path count and cfsim version in its footer.

pub mod data;
pub mod sensitivity;
pub mod sweep;

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::format::{money, percent};
use crate::report::compare::Comparison;
use crate::report::{ReportError, Summary};

/// Default size, legible at half-page width.
pub const SIZE: (u32, u32) = (1600, 1000);

/// The charts of a run, in the order they are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunChart {
    /// `cash.png`
    Cash,
    /// `revenue.png`
    Revenue,
    /// `target.png`
    Target,
    /// `tranches.png`
    Tranches,
    /// `investors.png`
    Investors,
    /// `flows.png`
    Flows,
}

impl RunChart {
    /// Every run chart, in the order they are written.
    pub const ALL: [RunChart; 6] = [
        RunChart::Cash,
        RunChart::Revenue,
        RunChart::Target,
        RunChart::Tranches,
        RunChart::Investors,
        RunChart::Flows,
    ];

    /// The file's name without its extension.
    pub fn file(self) -> &'static str {
        match self {
            RunChart::Cash => "cash",
            RunChart::Revenue => "revenue",
            RunChart::Target => "target",
            RunChart::Tranches => "tranches",
            RunChart::Investors => "investors",
            RunChart::Flows => "flows",
        }
    }

    fn title(self) -> &'static str {
        match self {
            RunChart::Cash => "Company cash (paths still operating)",
            RunChart::Revenue => "Annualised revenue (paths still operating)",
            RunChart::Target => "Revenue in the target year",
            RunChart::Tranches => "Equity tranches: release probability and timing",
            RunChart::Investors => "Investors: money in, money back, net position",
            RunChart::Flows => "Money-flow network",
        }
    }
}

/// The charts of a comparison, in the order they are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareChart {
    /// `compare_metrics.png`
    Metrics,
    /// `compare_cash.png`
    Cash,
    /// `compare_target.png`
    Target,
    /// `compare_investors.png`
    Investors,
}

impl CompareChart {
    /// Every comparison chart, in the order they are written.
    pub const ALL: [CompareChart; 4] = [
        CompareChart::Metrics,
        CompareChart::Cash,
        CompareChart::Target,
        CompareChart::Investors,
    ];

    /// The file's name without its extension.
    pub fn file(self) -> &'static str {
        match self {
            CompareChart::Metrics => "compare_metrics",
            CompareChart::Cash => "compare_cash",
            CompareChart::Target => "compare_target",
            CompareChart::Investors => "compare_investors",
        }
    }

    fn title(self) -> &'static str {
        match self {
            CompareChart::Metrics => "Key probabilities by funding structure",
            CompareChart::Cash => "Company cash by funding structure",
            CompareChart::Target => "Target-year revenue by funding structure",
            CompareChart::Investors => "Investors' net position by funding structure",
        }
    }
}

// Okabe-Ito palette.
const ORANGE: RGBColor = RGBColor(0xE6, 0x9F, 0x00);
const SKY: RGBColor = RGBColor(0x56, 0xB4, 0xE9);
const GREEN: RGBColor = RGBColor(0x00, 0x9E, 0x73);
const YELLOW: RGBColor = RGBColor(0xF0, 0xE4, 0x42);
const BLUE: RGBColor = RGBColor(0x00, 0x72, 0xB2);
const VERMILLION: RGBColor = RGBColor(0xD5, 0x5E, 0x00);
const PURPLE: RGBColor = RGBColor(0xCC, 0x79, 0xA7);
const GREY: RGBColor = RGBColor(0x99, 0x99, 0x99);
const LIGHT: RGBColor = RGBColor(0xDD, 0xDD, 0xDD);
const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);

const FONT: &str = "sans-serif";

fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The font bytes ship inside the binary, so these cannot fail at run time.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        let _ = plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
    });
}

/// Drawing, with the drawing library's error as text.
type Result<T = ()> = std::result::Result<T, String>;

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("drawing failed: {e:?}")
}

/// A chart to draw: one of a run's, one of a comparison's, or one of a sweep's.
#[derive(Clone, Copy)]
enum Chart<'a> {
    Run(RunChart, &'a Summary),
    Compare(CompareChart, &'a Comparison),
    /// `sweep.png`: every key metric against the one swept param.
    SweepLines(&'a crate::sweep::Sweep, (&'a str, &'a str)),
    /// `tornado.png` or `sobol.png` of a sensitivity analysis.
    Sensitivity(
        &'a crate::sensitivity::Sensitivity,
        SensitivityChart,
        (&'a str, &'a str),
    ),
    /// `heatmap-<scenario>.png`: every key metric over two params, for one scenario.
    Heatmap(
        &'a crate::sweep::Sweep,
        usize,
        &'a [sweep::Contour],
        (&'a str, &'a str),
    ),
}

/// Writes the charts of a sweep: `sweep.png` for one param, a heatmap per scenario for two.
pub fn write_sweep(
    s: &crate::sweep::Sweep,
    contours: &[sweep::Contour],
    unit: (&str, &str),
    dir: &Path,
    svg: bool,
) -> std::result::Result<Vec<PathBuf>, ReportError> {
    let charts: Vec<Chart> = if s.params.len() == 1 {
        vec![Chart::SweepLines(s, unit)]
    } else {
        (0..s.scenarios.len())
            .map(|k| Chart::Heatmap(s, k, contours, unit))
            .collect()
    };
    write_charts(&charts, dir, svg)
}

/// The charts of a sensitivity analysis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SensitivityChart {
    /// `tornado.png`.
    Tornado,
    /// `sobol.png`.
    Sobol,
}

/// Writes `tornado.png` and `sobol.png`; returns the files written.
pub fn write_sensitivity(
    s: &crate::sensitivity::Sensitivity,
    unit: (&str, &str),
    dir: &Path,
    svg: bool,
) -> std::result::Result<Vec<PathBuf>, ReportError> {
    let charts = [SensitivityChart::Tornado, SensitivityChart::Sobol]
        .map(|c| Chart::Sensitivity(s, c, unit))
        .to_vec();
    write_charts(&charts, dir, svg)
}

/// Writes every chart of a run into `dir` as PNG, and as SVG too when `svg`; returns the files.
pub fn write_all(
    s: &Summary,
    dir: &Path,
    svg: bool,
) -> std::result::Result<Vec<PathBuf>, ReportError> {
    let charts: Vec<Chart> = RunChart::ALL.map(|c| Chart::Run(c, s)).to_vec();
    write_charts(&charts, dir, svg)
}

/// Writes the comparison charts into `dir`; returns the files written.
pub fn write_comparison(
    c: &Comparison,
    dir: &Path,
    svg: bool,
) -> std::result::Result<Vec<PathBuf>, ReportError> {
    let charts: Vec<Chart> = CompareChart::ALL.map(|k| Chart::Compare(k, c)).to_vec();
    write_charts(&charts, dir, svg)
}

fn write_charts(
    charts: &[Chart],
    dir: &Path,
    svg: bool,
) -> std::result::Result<Vec<PathBuf>, ReportError> {
    register_fonts();
    let mut written = Vec::new();
    for &chart in charts {
        let name = match chart {
            Chart::Run(c, _) => c.file().to_string(),
            Chart::Compare(c, _) => c.file().to_string(),
            Chart::SweepLines(..) => "sweep".to_string(),
            Chart::Sensitivity(_, SensitivityChart::Tornado, _) => "tornado".to_string(),
            Chart::Sensitivity(_, SensitivityChart::Sobol, _) => "sobol".to_string(),
            Chart::Heatmap(s, k, ..) => format!("heatmap-{}", file_safe(&s.scenarios[k].label)),
        };
        let png = dir.join(format!("{name}.png"));
        // The encoder picks the format from the extension, so the temporary name ends in .png.
        let tmp = dir.join(format!(".{name}.tmp-{}.png", std::process::id()));
        {
            let root = BitMapBackend::new(&tmp, SIZE).into_drawing_area();
            let drawn = draw(chart, &root).and_then(|_| root.present().map_err(err));
            if let Err(message) = drawn {
                let _ = std::fs::remove_file(&tmp);
                return Err(ReportError::Draw { path: png, message });
            }
        }
        std::fs::rename(&tmp, &png).map_err(|source| ReportError::Write {
            path: png.clone(),
            source,
        })?;
        written.push(png);
        if svg {
            let mut text = String::new();
            let path = dir.join(format!("{name}.svg"));
            {
                let root = SVGBackend::with_string(&mut text, SIZE).into_drawing_area();
                draw(chart, &root)
                    .and_then(|_| root.present().map_err(err))
                    .map_err(|message| ReportError::Draw {
                        path: path.clone(),
                        message,
                    })?;
            }
            crate::report::write_atomic(&path, text.as_bytes())?;
            written.push(path);
        }
    }
    Ok(written)
}

/// Draws the title and footer, and returns the area in between.
fn frame<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    footer: &str,
) -> Result<DrawingArea<DB, Shift>> {
    root.fill(&WHITE).map_err(err)?;
    let (top, rest) = root.split_vertically(70);
    top.draw(&Text::new(
        title.to_string(),
        (30, 18),
        (FONT, 38, FontStyle::Bold).into_font().color(&INK),
    ))
    .map_err(err)?;
    let (body, foot) = rest.split_vertically(SIZE.1 as i32 - 70 - 40);
    foot.draw(&Text::new(
        footer.to_string(),
        (30, 8),
        (FONT, 20).into_font().color(&GREY),
    ))
    .map_err(err)?;
    Ok(body)
}

/// A label as part of a file name: letters, digits, `-` and `_` only.
fn file_safe(label: &str) -> String {
    label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn draw<DB: DrawingBackend>(chart: Chart, root: &DrawingArea<DB, Shift>) -> Result {
    let sweep_footer = |s: &crate::sweep::Sweep, unit: (&str, &str)| {
        let shown = if s.params.len() == 1 {
            "lines: means, bands: 95% intervals"
        } else {
            "cells: means"
        };
        format!(
            "seed {} | {} paths per point, common random numbers | cfsim {} | {shown} | amounts in {}{}",
            s.seed,
            crate::report::thousands(s.paths),
            s.cfsim_version,
            unit.0,
            unit.1
        )
    };
    match chart {
        Chart::Sensitivity(s, which, unit) => {
            let stem = std::path::Path::new(&s.file)
                .file_stem()
                .map(|x| x.to_string_lossy().into_owned())
                .unwrap_or_default();
            let (title, shown) = match which {
                SensitivityChart::Tornado => (
                    "which inputs move the key outputs (5th to 95th percentile)",
                    "bars: mean (share of paths for P(...)) with one input held, others drawn",
                ),
                SensitivityChart::Sobol => (
                    "shares of each output's variance (Sobol indices)",
                    "Saltelli design, Jansen total index, percentile bootstrap",
                ),
            };
            let footer = format!(
                "seed {} | {} base paths, {} simulated | cfsim {} | {shown}",
                s.seed,
                crate::report::thousands(s.paths),
                crate::report::thousands(s.total_paths),
                s.cfsim_version,
            );
            let body = frame(
                root,
                &format!("{}: {title}", crate::text::printable(&stem)),
                &footer,
            )?;
            match which {
                SensitivityChart::Tornado => sensitivity::tornado(s, unit, &body),
                SensitivityChart::Sobol => sensitivity::sobol(s, &body),
            }
        }
        Chart::SweepLines(s, unit) => {
            let labels: Vec<&str> = s.scenarios.iter().map(|x| x.label.as_str()).collect();
            let title = format!(
                "{}: key metrics against {}",
                labels.join(", "),
                s.params[0].name
            );
            let body = frame(root, &title, &sweep_footer(s, unit))?;
            sweep::lines(s, unit, &body)
        }
        Chart::Heatmap(s, k, contours, unit) => {
            let title = format!(
                "{}: key metrics over {} and {}",
                s.scenarios[k].label, s.params[0].name, s.params[1].name
            );
            let body = frame(root, &title, &sweep_footer(s, unit))?;
            sweep::heatmap(s, k, contours, unit, &body)
        }
        Chart::Run(chart, s) => {
            let title = chart.title();
            let with = if s.overrides.is_empty() {
                String::new()
            } else {
                format!(" with {}", s.overrides.join(", "))
            };
            let footer = format!(
                "seed {} | {} paths | cfsim {} | {}{with} | amounts in {}{}",
                s.seed,
                crate::report::thousands(s.paths),
                s.cfsim_version,
                s.file,
                s.unit.currency,
                s.unit.scale
            );
            let body = frame(root, &format!("{}: {title}", s.scenario), &footer)?;
            match chart {
                RunChart::Cash => cash(s, &body),
                RunChart::Revenue => revenue(s, &body),
                RunChart::Target => target(s, &body),
                RunChart::Tranches => tranches(s, &body),
                RunChart::Investors => investors(s, &body),
                RunChart::Flows => flows(s, &body),
            }
        }
        Chart::Compare(chart, c) => {
            let title = chart.title();
            let r = &c.scenarios[0].summary;
            let footer = format!(
                "seed {} | {} paths per scenario, common random numbers | cfsim {} | reference: {} | amounts in {}{}",
                c.seed,
                crate::report::thousands(c.paths),
                c.cfsim_version,
                c.reference,
                r.unit.currency,
                r.unit.scale
            );
            let body = frame(
                root,
                &format!("{} scenarios compared: {title}", c.scenarios.len()),
                &footer,
            )?;
            match chart {
                CompareChart::Metrics => compare_metrics(c, &body),
                CompareChart::Cash => compare_cash(c, &body),
                CompareChart::Target => compare_target(c, &body),
                CompareChart::Investors => compare_investors(c, &body),
            }
        }
    }
}

fn m(s: &Summary, x: f64) -> String {
    money(x, &s.unit.currency, &s.unit.scale)
}

/// Where a 0-100% axis beside an amount axis spanning `lo..hi` starts: as far below 0% as the
/// amount axis starts below 0, so both zeros are at the same height and a line crossing one
/// zero is not read against the other. (A share axis gives at most 90% of its height to
/// negative space.)
fn share_axis_start(lo: f64, hi: f64) -> f64 {
    let f = (-lo / (hi - lo)).clamp(0.0, 0.9);
    -f / (1.0 - f)
}

/// Tick labels of a share axis spanning `lo..hi`, with the decimals of the tick step.
fn percent_ticks(lo: f64, hi: f64) -> impl Fn(&f64) -> String {
    let step = ((hi - lo).abs() * 100.0 / 6.0).max(f64::MIN_POSITIVE);
    let decimals = (-step.log10().floor()).clamp(0.0, 3.0) as usize;
    move |v| format!("{:.decimals$}%", v * 100.0 + 0.0)
}

/// Tick labels of an amount axis spanning `lo..hi`: every tick with the decimals of the tick
/// step (about a sixth of the span), so `$50B` stands beside `$100B`, not `$50.0B`.
fn ticks(s: &Summary, lo: f64, hi: f64) -> impl Fn(&f64) -> String + '_ {
    let step = ((hi - lo).abs() / 6.0).max(f64::MIN_POSITIVE);
    let decimals = (-step.log10().floor()).clamp(0.0, 6.0) as usize;
    move |v| crate::format::money_with(*v, decimals, &s.unit.currency, &s.unit.scale)
}

fn axis_font() -> TextStyle<'static> {
    (FONT, 24).into_font().color(&INK)
}

fn label_font() -> TextStyle<'static> {
    (FONT, 26).into_font().color(&INK)
}

fn year_label(x: &f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        format!("{}", x.round() as i64)
    } else {
        String::new()
    }
}

/// An axis range around `lo..hi` with a margin. Never empty, reversed or infinite, whatever
/// it is given (no data gives infinities; huge values give spans the floats cannot resolve),
/// since the drawing library panics or loops on such ranges.
fn padded(lo: f64, hi: f64) -> (f64, f64) {
    let (lo, hi) = match (lo.is_finite(), hi.is_finite()) {
        (true, true) => (lo.min(hi), lo.max(hi)),
        (true, false) => (lo, lo),
        (false, true) => (hi, hi),
        (false, false) => (0.0, 1.0),
    };
    let span = (hi - lo).max(1e-9).max(lo.abs().max(hi.abs()) * 1e-6);
    (lo - 0.05 * span, hi + 0.08 * span)
}

fn band_polygon(x: &[f64], lo: &[f64], hi: &[f64]) -> Vec<(f64, f64)> {
    x.iter()
        .zip(hi)
        .map(|(a, b)| (*a, *b))
        .chain(x.iter().zip(lo).rev().map(|(a, b)| (*a, *b)))
        .collect()
}

/// The 90% and 50% bands and the median of a series, with their legend entries.
fn draw_bands<DB: DrawingBackend, CT: CoordTranslate<From = (f64, f64)>>(
    chart: &mut ChartContext<'_, DB, CT>,
    b: &data::Bands,
    colour: RGBColor,
) -> Result {
    for (lo, hi, alpha, label) in [
        (&b.p5, &b.p95, 0.15, "5-95% of paths"),
        (&b.p25, &b.p75, 0.35, "25-75% of paths"),
    ] {
        chart
            .draw_series(std::iter::once(Polygon::new(
                band_polygon(&b.x, lo, hi),
                colour.mix(alpha).filled(),
            )))
            .map_err(err)?
            .label(label)
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 8), (x + 30, y + 8)], colour.mix(alpha).filled())
            });
    }
    chart
        .draw_series(LineSeries::new(
            b.x.iter().copied().zip(b.p50.iter().copied()),
            colour.stroke_width(4),
        ))
        .map_err(err)?
        .label("median")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 30, y)], colour.stroke_width(4)));
    Ok(())
}

fn x_range(s: &Summary) -> (f64, f64) {
    let first = s.periods.start_year[0];
    let last = s.periods.start_year[s.periods.start_year.len() - 1] + s.horizon.years_per_period;
    (first, last)
}

fn cash<DB: DrawingBackend>(s: &Summary, area: &DrawingArea<DB, Shift>) -> Result {
    let d = data::cash(s);
    let (lo, hi) = d.cash.range();
    let (lo, hi) = padded(lo.min(0.0), hi.max(0.0));
    let zero_share = share_axis_start(lo, hi);
    let (x0, x1) = x_range(s);
    let mut chart = ChartBuilder::on(area)
        .margin(20)
        .x_label_area_size(60)
        .y_label_area_size(120)
        .right_y_label_area_size(150)
        .build_cartesian_2d(x0..x1, lo..hi)
        .map_err(err)?
        .set_secondary_coord(x0..x1, zero_share..1.0);
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .bold_line_style(LIGHT)
        .x_desc("year")
        .y_desc(format!("cash ({}{})", s.unit.currency, s.unit.scale))
        .x_labels(((x1 - x0).ceil() as usize + 1).max(2))
        .x_label_formatter(&year_label)
        .y_label_formatter(&ticks(s, lo, hi))
        .label_style(axis_font())
        .axis_desc_style(label_font())
        .draw()
        .map_err(err)?;
    chart
        .configure_secondary_axes()
        .y_desc("paths insolvent by then")
        .y_label_formatter(&|v| {
            if *v < -1e-9 {
                String::new()
            } else {
                percent_ticks(0.0, 1.0)(v)
            }
        })
        .label_style(axis_font())
        .axis_desc_style(label_font())
        .draw()
        .map_err(err)?;
    let b = &d.cash;
    draw_bands(&mut chart, b, BLUE)?;
    chart
        .draw_series(LineSeries::new(
            vec![(x0, 0.0), (x1, 0.0)],
            INK.stroke_width(2),
        ))
        .map_err(err)?;
    chart
        .draw_secondary_series(LineSeries::new(
            d.x.iter().copied().zip(d.insolvent_by.iter().copied()),
            VERMILLION.stroke_width(3),
        ))
        .map_err(err)?
        .label("insolvent by then (right axis)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 30, y)], VERMILLION.stroke_width(3)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(LIGHT)
        .label_font(axis_font())
        .draw()
        .map_err(err)?;
    Ok(())
}

fn revenue<DB: DrawingBackend>(s: &Summary, area: &DrawingArea<DB, Shift>) -> Result {
    let d = data::revenue(s);
    let (_, hi) = d.revenue.range();
    let hi = d.target.as_ref().map_or(hi, |t| hi.max(t.revenue));
    let (_, hi) = padded(0.0, hi);
    let (x0, x1) = x_range(s);
    let mut chart = ChartBuilder::on(area)
        .margin(20)
        .x_label_area_size(60)
        .y_label_area_size(130)
        .right_y_label_area_size(150)
        .build_cartesian_2d(x0..x1, 0.0..hi)
        .map_err(err)?
        .set_secondary_coord(x0..x1, 0.0..1.0);
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .bold_line_style(LIGHT)
        .x_desc("year")
        .y_desc(format!(
            "revenue, annualised ({}{} a year)",
            s.unit.currency, s.unit.scale
        ))
        .x_labels(((x1 - x0).ceil() as usize + 1).max(2))
        .x_label_formatter(&year_label)
        .y_label_formatter(&ticks(s, 0.0, hi))
        .label_style(axis_font())
        .axis_desc_style(label_font())
        .draw()
        .map_err(err)?;
    chart
        .configure_secondary_axes()
        .y_desc("paths still operating")
        .y_label_formatter(&|v| percent(*v))
        .label_style(axis_font())
        .axis_desc_style(label_font())
        .draw()
        .map_err(err)?;
    let b = &d.revenue;
    draw_bands(&mut chart, b, GREEN)?;
    chart
        .draw_secondary_series(LineSeries::new(
            d.x.iter().copied().zip(d.operating.iter().copied()),
            PURPLE.stroke_width(3),
        ))
        .map_err(err)?
        .label("paths still operating (right axis)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 30, y)], PURPLE.stroke_width(3)));
    if let Some(t) = &d.target {
        let (ty0, ty1) = (t.year as f64, t.year as f64 + 1.0);
        chart
            .draw_series(LineSeries::new(
                vec![(ty0, t.revenue), (ty1, t.revenue)],
                VERMILLION.stroke_width(5),
            ))
            .map_err(err)?
            .label(format!("target: {} in {}", m(s, t.revenue), t.year))
            .legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 30, y)], VERMILLION.stroke_width(5))
            });
        let text = format!(
            "P(revenue {} >= {}) = {} [{}, {}]",
            t.year,
            m(s, t.revenue),
            percent(t.probability),
            percent(t.ci95[0]),
            percent(t.ci95[1])
        );
        let (bx, by) = area.get_base_pixel();
        let anchor = chart.backend_coord(&(ty0, t.revenue));
        let anchor = (anchor.0 - bx, anchor.1 - by);
        let style = (FONT, 26, FontStyle::Bold).into_font().color(&VERMILLION);
        let (w, _) = area.estimate_text_size(&text, &style).map_err(err)?;
        let x = (anchor.0 - w as i32 / 2).clamp(10, area.dim_in_pixel().0 as i32 - w as i32 - 10);
        area.draw(&Text::new(text, (x, anchor.1 - 44), style))
            .map_err(err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(LIGHT)
        .label_font(axis_font())
        .draw()
        .map_err(err)?;
    Ok(())
}

fn target<DB: DrawingBackend>(s: &Summary, area: &DrawingArea<DB, Shift>) -> Result {
    let Some(d) = data::target(s) else {
        return message(area, "This scenario sets no revenue target.");
    };
    let t = &d.target;
    let (left, right) = area.split_horizontally(area.dim_in_pixel().0 / 2);
    let x_hi = d.cdf.last().map_or(t.revenue, |p| p.0).max(t.revenue * 1.1);
    let x_lo = d
        .cdf
        .first()
        .map_or(0.0, |p| p.0)
        .min(t.revenue * 0.9)
        .max(0.0);
    let (x_lo, x_hi) = padded(x_lo, x_hi);
    let x_lo = x_lo.max(0.0);
    // Every path has a bar: the paths with no revenue (defaulted before the year) stand at 0,
    // left of the others, and the last bar holds the top 1%.
    let width = d.bins.first().map_or(t.revenue / 20.0, |b| b.1 - b.0);
    let hist_hi = d.bins.last().map_or(x_hi, |b| b.1).max(t.revenue * 1.1);
    let y_hi = d.bins.iter().map(|b| b.2).fold(d.zero, f64::max) * 1.15;
    let mut hist = ChartBuilder::on(&left)
        .margin(20)
        .x_label_area_size(60)
        .y_label_area_size(110)
        .caption("every path, by revenue", (FONT, 28).into_font().color(&INK))
        .build_cartesian_2d(-1.5 * width..hist_hi, 0.0..y_hi.max(1e-9))
        .map_err(err)?;
    hist.configure_mesh()
        .disable_x_mesh()
        .light_line_style(WHITE)
        .bold_line_style(LIGHT)
        .x_desc(format!(
            "revenue in {} ({}{}); the last bar holds the top 1% of paths",
            t.year, s.unit.currency, s.unit.scale
        ))
        .y_desc("share of paths")
        .y_label_formatter(&percent_ticks(0.0, y_hi))
        .x_labels(6)
        .x_label_formatter(&|v| {
            if *v < 0.0 {
                String::new()
            } else {
                ticks(s, 0.0, hist_hi)(v)
            }
        })
        .label_style(axis_font())
        .axis_desc_style(label_font())
        .draw()
        .map_err(err)?;
    hist.draw_series(d.bins.iter().map(|&(lo, hi, share)| {
        let color = if lo >= t.revenue { GREEN } else { SKY };
        Rectangle::new([(lo, 0.0), (hi, share)], color.mix(0.8).filled())
    }))
    .map_err(err)?;
    hist.draw_series(LineSeries::new(
        vec![(t.revenue, 0.0), (t.revenue, y_hi)],
        VERMILLION.stroke_width(4),
    ))
    .map_err(err)?;
    if d.zero > 0.0 {
        hist.draw_series(std::iter::once(Rectangle::new(
            [(-1.4 * width, 0.0), (-0.4 * width, d.zero)],
            GREY.filled(),
        )))
        .map_err(err)?;
        let text = format!(
            "{} of paths: no revenue (defaulted before {})",
            percent(d.zero),
            t.year
        );
        let style = ("sans-serif", 22).into_font().color(&INK);
        let (w, _) = left.estimate_text_size(&text, &style).map_err(err)?;
        let label = EmptyElement::at((-1.4 * width, y_hi))
            + Rectangle::new([(0, 2), (w as i32 + 40, 32)], WHITE.filled())
            + Rectangle::new([(0, 6), (22, 26)], GREY.filled())
            + Text::new(text, (30, 4), style);
        hist.plotting_area().draw(&label).map_err(err)?;
    }
    let mut cdf = ChartBuilder::on(&right)
        .margin(20)
        .x_label_area_size(60)
        .y_label_area_size(110)
        .caption(
            "cumulative distribution",
            (FONT, 28).into_font().color(&INK),
        )
        .build_cartesian_2d(x_lo..x_hi, 0.0..1.0)
        .map_err(err)?;
    cdf.configure_mesh()
        .light_line_style(WHITE)
        .bold_line_style(LIGHT)
        .x_desc(format!(
            "revenue in {} ({}{})",
            t.year, s.unit.currency, s.unit.scale
        ))
        .y_desc("P(revenue <= x)")
        .x_labels(6)
        .x_label_formatter(&ticks(s, x_lo, x_hi))
        .y_label_formatter(&|v| percent(*v))
        .label_style(axis_font())
        .axis_desc_style(label_font())
        .draw()
        .map_err(err)?;
    cdf.draw_series(LineSeries::new(d.cdf.iter().copied(), BLUE.stroke_width(4)))
        .map_err(err)?;
    cdf.draw_series(LineSeries::new(
        vec![(t.revenue, 0.0), (t.revenue, 1.0)],
        VERMILLION.stroke_width(4),
    ))
    .map_err(err)?;
    let text = [
        format!("target {}", m(s, t.revenue)),
        format!("P(>= target) = {}", percent(t.probability)),
        format!(
            "95% interval [{}, {}]",
            percent(t.ci95[0]),
            percent(t.ci95[1])
        ),
        format!("median {}", m(s, d.median)),
    ];
    // Bottom right of the CDF panel: below the curve once it has risen, clear of the target line.
    let style = (FONT, 26, FontStyle::Bold).into_font().color(&VERMILLION);
    let (pw, ph) = right.dim_in_pixel();
    let widest = text
        .iter()
        .map(|l| right.estimate_text_size(l, &style).map(|s| s.0 as i32))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(err)?
        .into_iter()
        .max()
        .unwrap_or(0);
    let (tx, ty) = (
        pw as i32 - widest - 40,
        ph as i32 - 100 - 34 * text.len() as i32,
    );
    right
        .draw(&Rectangle::new(
            [
                (tx - 10, ty - 8),
                (tx + widest + 10, ty + 34 * text.len() as i32 + 4),
            ],
            WHITE.mix(0.9).filled(),
        ))
        .map_err(err)?;
    for (i, line) in text.iter().enumerate() {
        right
            .draw(&Text::new(
                line.clone(),
                (tx, ty + 34 * i as i32),
                style.clone(),
            ))
            .map_err(err)?;
    }
    Ok(())
}

fn message<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, text: &str) -> Result {
    area.draw(&Text::new(text.to_string(), (60, 80), label_font()))
        .map_err(err)?;
    Ok(())
}

/// Colours for years, light to dark, all distinguishable without hue (a blue ramp).
fn year_colour(i: usize, n: usize) -> RGBColor {
    let t = if n <= 1 {
        0.6
    } else {
        0.25 + 0.75 * i as f64 / (n - 1) as f64
    };
    let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * t).round() as u8;
    RGBColor(mix(0xC6, 0x08), mix(0xDB, 0x30), mix(0xEF, 0x6B))
}

fn tranches<DB: DrawingBackend>(s: &Summary, area: &DrawingArea<DB, Shift>) -> Result {
    let rows = data::tranches(s);
    if rows.is_empty() {
        return message(area, "This scenario has no equity tranches.");
    }
    let years: Vec<i32> = {
        let mut y: Vec<i32> = rows
            .iter()
            .flat_map(|r| r.by_year.iter().filter(|(_, p)| *p > 0.0).map(|(y, _)| *y))
            .collect();
        y.sort_unstable();
        y.dedup();
        y
    };
    let (dim_x, dim_y) = area.dim_in_pixel();
    let (left, top, label_w, right_w) = (40i32, 30i32, 300i32, 330i32);
    let legend_h = 90;
    let bar_w = dim_x as i32 - left - label_w - right_w - 40;
    let row_h = ((dim_y as i32 - top - legend_h - 60) / rows.len() as i32).clamp(40, 140);
    // Few rows sit in the middle of the page rather than at its top.
    let top = top.max((dim_y as i32 - legend_h - row_h * rows.len() as i32) / 2);
    let bar_h = (row_h as f64 * 0.6) as i32;
    let text = label_font();
    let small = axis_font();
    for (i, r) in rows.iter().enumerate() {
        let y = top + i as i32 * row_h;
        let x0 = left + label_w;
        area.draw(&Text::new(
            format!("{} ({})", r.id, r.investor),
            (left, y + bar_h / 2 - 12),
            text.clone(),
        ))
        .map_err(err)?;
        let mut x = x0 as f64;
        let mut segments: Vec<(f64, RGBColor, String)> = Vec::new();
        for (year, p) in &r.by_year {
            if *p > 0.0 {
                let k = years.iter().position(|y| y == year).unwrap_or(0);
                segments.push((*p, year_colour(k, years.len()), format!("{year}")));
            }
        }
        segments.push((r.lapsed, GREY, "lapsed".into()));
        segments.push((r.pending, LIGHT, "pending".into()));
        for (p, colour, _) in &segments {
            let w = p * bar_w as f64;
            if w > 0.0 {
                area.draw(&Rectangle::new(
                    [(x as i32, y), ((x + w) as i32, y + bar_h)],
                    colour.filled(),
                ))
                .map_err(err)?;
                if w > 70.0 {
                    let ink = if *colour == LIGHT || *colour == year_colour(0, years.len()) {
                        INK
                    } else {
                        WHITE
                    };
                    area.draw(&Text::new(
                        percent(*p),
                        (x as i32 + 8, y + bar_h / 2 - 12),
                        small.clone().color(&ink),
                    ))
                    .map_err(err)?;
                }
            }
            x += w;
        }
        area.draw(&Rectangle::new(
            [(x0, y), (x0 + bar_w, y + bar_h)],
            INK.stroke_width(1),
        ))
        .map_err(err)?;
        area.draw(&Text::new(
            format!(
                "released {} [{}, {}]",
                percent(r.probability),
                percent(r.ci95[0]),
                percent(r.ci95[1])
            ),
            (x0 + bar_w + 20, y + bar_h / 2 - 12),
            small.clone(),
        ))
        .map_err(err)?;
    }
    // Legend: years, then lapsed and pending.
    let mut entries: Vec<(RGBColor, String)> = years
        .iter()
        .enumerate()
        .map(|(k, y)| (year_colour(k, years.len()), format!("released in {y}")))
        .collect();
    entries.push((GREY, "lapsed (expired or default)".into()));
    entries.push((LIGHT, "not by the horizon".into()));
    let mut x = left;
    let mut y = dim_y as i32 - legend_h;
    for (colour, label) in entries {
        let (w, _) = area.estimate_text_size(&label, &small).map_err(err)?;
        if x + 40 + w as i32 > dim_x as i32 - 20 {
            x = left;
            y += 40;
        }
        area.draw(&Rectangle::new([(x, y), (x + 28, y + 24)], colour.filled()))
            .map_err(err)?;
        area.draw(&Text::new(label, (x + 36, y), small.clone()))
            .map_err(err)?;
        x += 36 + w as i32 + 30;
    }
    Ok(())
}

fn investors<DB: DrawingBackend>(s: &Summary, area: &DrawingArea<DB, Shift>) -> Result {
    let rows = data::investors(s);
    if rows.is_empty() {
        return message(area, "This scenario has no investors.");
    }
    // Whiskers can be far wider than the bars; the axis follows the medians and clips them.
    let medians = rows
        .iter()
        .flat_map(|r| [r.invested.1, r.received.1, r.net_position.1]);
    let (mut lo, mut hi) = (0.0f64, 0.0f64);
    for v in medians {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    let whiskers = rows
        .iter()
        .flat_map(|r| [r.invested, r.received, r.net_position]);
    let (mut wlo, mut whi) = (lo, hi);
    for (a, _, b) in whiskers {
        wlo = wlo.min(a);
        whi = whi.max(b);
    }
    let span = hi - lo;
    let lo = wlo.max(lo - 0.6 * span);
    let hi = whi.min(hi + 0.6 * span);
    let (lo, hi) = padded(lo, hi);
    let n = rows.len();
    // A band above the plot holds the legend and the round-trip ratios, clear of the whiskers.
    let (band, area) = area.split_vertically(100);
    let area = &area;
    let mut chart = ChartBuilder::on(area)
        .margin(20)
        .x_label_area_size(60)
        .y_label_area_size(130)
        .build_cartesian_2d(0.0..n as f64, lo..hi)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(WHITE)
        .bold_line_style(LIGHT)
        .y_desc(format!(
            "{}{} (medians; whiskers 5-95% of paths)",
            s.unit.currency, s.unit.scale
        ))
        .x_labels(n * 2 + 1)
        .x_label_formatter(&|v| {
            let i = v.floor() as usize;
            if (v - i as f64 - 0.5).abs() < 1e-6 && i < rows.len() {
                rows[i].id.clone()
            } else {
                String::new()
            }
        })
        .y_label_formatter(&ticks(s, lo, hi))
        .label_style(axis_font())
        .axis_desc_style(label_font())
        .draw()
        .map_err(err)?;
    type Pick = fn(&data::InvestorBars) -> (f64, f64, f64);
    let measures: [(&str, RGBColor, Pick); 3] = [
        ("invested", BLUE, |r| r.invested),
        ("received back", ORANGE, |r| r.received),
        ("net position", GREEN, |r| r.net_position),
    ];
    let width = 0.22;
    for (k, (label, colour, pick)) in measures.iter().enumerate() {
        let colour = *colour;
        let offset = 0.5 + (k as f64 - 1.0) * (width + 0.03);
        chart
            .draw_series(rows.iter().enumerate().map(|(i, r)| {
                let (_, mid, _) = pick(r);
                let x = i as f64 + offset;
                Rectangle::new(
                    [(x - width / 2.0, 0.0), (x + width / 2.0, mid.clamp(lo, hi))],
                    colour.filled(),
                )
            }))
            .map_err(err)?;
        let lx = 150 + 260 * k as i32;
        band.draw(&Rectangle::new([(lx, 10), (lx + 30, 34)], colour.filled()))
            .map_err(err)?;
        band.draw(&Text::new(label.to_string(), (lx + 40, 8), axis_font()))
            .map_err(err)?;
        chart
            .draw_series(rows.iter().enumerate().map(|(i, r)| {
                let (a, _, b) = pick(r);
                let x = i as f64 + offset;
                PathElement::new(
                    vec![(x, a.clamp(lo, hi)), (x, b.clamp(lo, hi))],
                    INK.stroke_width(2),
                )
            }))
            .map_err(err)?;
        // A whisker cut by the axis ends in an arrow with its value, so a long tail is never
        // read as a short one.
        for (i, r) in rows.iter().enumerate() {
            let (a, _, b) = pick(r);
            let x = i as f64 + offset;
            // The last column's value reads leftwards, clear of the plot's edge.
            let (side, dx) = if i + 1 == n {
                (HPos::Right, -10)
            } else {
                (HPos::Left, 10)
            };
            let font = ("sans-serif", 18).into_font().color(&INK);
            if b > hi {
                let font = font.pos(Pos::new(side, VPos::Top));
                let arrow = EmptyElement::at((x, hi))
                    + Polygon::new(vec![(-8, 12), (8, 12), (0, 0)], INK.filled())
                    + Text::new(format!("{} \u{2191}", m(s, b)), (dx, 2), font);
                chart.plotting_area().draw(&arrow).map_err(err)?;
            }
            if a < lo {
                let font = font.pos(Pos::new(side, VPos::Bottom));
                let arrow = EmptyElement::at((x, lo))
                    + Polygon::new(vec![(-8, -12), (8, -12), (0, 0)], INK.filled())
                    + Text::new(format!("{} \u{2193}", m(s, a)), (dx, -2), font);
                chart.plotting_area().draw(&arrow).map_err(err)?;
            }
        }
    }
    chart
        .draw_series(LineSeries::new(
            vec![(0.0, 0.0), (n as f64, 0.0)],
            INK.stroke_width(2),
        ))
        .map_err(err)?;
    band.draw(&Text::new(
        "above: median round trip".to_string(),
        (150 + 260 * 3, 8),
        axis_font(),
    ))
    .map_err(err)?;
    for (i, r) in rows.iter().enumerate() {
        if let Some(rt) = r.round_trip {
            let (px, _) = chart.backend_coord(&(i as f64 + 0.5, hi));
            let px = px - band.get_base_pixel().0;
            let text = format!("round trip {rt:.2}x");
            let style = (FONT, 24, FontStyle::Bold).into_font().color(&INK);
            let (w, _) = band.estimate_text_size(&text, &style).map_err(err)?;
            band.draw(&Text::new(text, (px - w as i32 / 2, 60), style))
                .map_err(err)?;
        }
    }
    Ok(())
}

fn node_colour(n: &data::FlowNode) -> RGBColor {
    if n.company {
        ORANGE
    } else if n.external {
        LIGHT
    } else if n.roles.iter().any(|r| r == "cloud" || r == "chipmaker") {
        SKY
    } else if n.roles.iter().any(|r| r == "investor") {
        GREEN
    } else {
        YELLOW
    }
}

fn flows<DB: DrawingBackend>(s: &Summary, area: &DrawingArea<DB, Shift>) -> Result {
    let d = data::flows(s);
    let (w, h) = area.dim_in_pixel();
    let (cx, cy) = (w as f64 / 2.0, h as f64 * 0.42);
    // The company in the middle, inside entities on an ellipse, the outside world at the bottom.
    let inside: Vec<usize> = (0..d.nodes.len())
        .filter(|&i| !d.nodes[i].company && !d.nodes[i].external)
        .collect();
    let outside: Vec<usize> = (0..d.nodes.len())
        .filter(|&i| d.nodes[i].external)
        .collect();
    let mut pos = vec![(cx, cy); d.nodes.len()];
    let (rx, ry) = (w as f64 * 0.36, h as f64 * 0.31);
    for (k, &i) in inside.iter().enumerate() {
        // Spread over the top three quarters of the ellipse (one entity: straight above); the
        // bottom quarter stays clear for the arrows to and from the outside world.
        let spread = if inside.len() > 1 {
            k as f64 / (inside.len() - 1) as f64 - 0.5
        } else {
            0.0
        };
        let a = -std::f64::consts::FRAC_PI_2 + spread * 1.5 * std::f64::consts::PI;
        pos[i] = (cx + rx * a.cos(), cy + ry * a.sin());
    }
    // The outside world along the bottom, under the company, so its arrows run between the
    // inside entities instead of across them.
    for (k, &i) in outside.iter().enumerate() {
        let x = w as f64 * (0.40 + 0.2 * (k as f64 + 0.5) / outside.len() as f64);
        pos[i] = (x, h as f64 - 75.0);
    }
    let max = d
        .arrows
        .iter()
        .map(|a| a.median)
        .fold(0.0, f64::max)
        .max(1e-9);
    let radius = 58.0;
    let mut placed: Vec<(i32, i32, i32, i32)> = pos
        .iter()
        .map(|&(x, y)| {
            (
                (x - radius) as i32,
                (y - radius) as i32,
                (x + radius) as i32,
                (y + radius) as i32,
            )
        })
        .collect();
    let label_style: TextStyle = (FONT, 22, FontStyle::Bold).into_font().into();
    for arrow in &d.arrows {
        let (a, b) = (pos[arrow.from], pos[arrow.to]);
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len = (dx * dx + dy * dy).sqrt().max(1.0);
        let (ux, uy) = (dx / len, dy / len);
        // Offset sideways so that A -> B and B -> A are two separate arrows.
        let two_way = d
            .arrows
            .iter()
            .any(|o| o.from == arrow.to && o.to == arrow.from);
        let side = if two_way { 14.0 } else { 0.0 };
        let (nx, ny) = (-uy * side, ux * side);
        let start = (a.0 + ux * radius + nx, a.1 + uy * radius + ny);
        let end = (
            b.0 - ux * (radius + 6.0) + nx,
            b.1 - uy * (radius + 6.0) + ny,
        );
        let width = (2.0 + 16.0 * (arrow.median / max).sqrt()).round() as u32;
        let colour = if arrow.on_cycle { VERMILLION } else { BLUE };
        area.draw(&PathElement::new(
            vec![
                (start.0 as i32, start.1 as i32),
                (end.0 as i32, end.1 as i32),
            ],
            colour.mix(0.75).stroke_width(width),
        ))
        .map_err(err)?;
        let head = 18.0 + width as f64;
        let base = (end.0 - ux * head, end.1 - uy * head);
        let half = 0.5 * head;
        area.draw(&Polygon::new(
            vec![
                (end.0 as i32, end.1 as i32),
                ((base.0 - uy * half) as i32, (base.1 + ux * half) as i32),
                ((base.0 + uy * half) as i32, (base.1 - ux * half) as i32),
            ],
            colour.filled(),
        ))
        .map_err(err)?;
        // The label goes beside the arrow, at the first spot along it that overlaps nothing.
        let text = m(s, arrow.median);
        let (tw, th) = area.estimate_text_size(&text, &label_style).map_err(err)?;
        let (tw, th) = (tw as i32, th as i32);
        let push = 16.0 + width as f64 / 2.0 + if two_way { 6.0 } else { 0.0 };
        let sign = if two_way { 1.0 } else { -1.0 };
        let mut chosen = None;
        for t in [0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8] {
            let mx = start.0 + (end.0 - start.0) * t - uy * push * sign;
            let my = start.1 + (end.1 - start.1) * t + ux * push * sign;
            let rect = (
                (mx - tw as f64 / 2.0) as i32,
                (my - th as f64 / 2.0) as i32,
                0,
                0,
            );
            let rect = (rect.0, rect.1, rect.0 + tw, rect.1 + th);
            let clear = placed
                .iter()
                .all(|p| rect.2 < p.0 || rect.0 > p.2 || rect.3 < p.1 || rect.1 > p.3);
            if clear {
                chosen = Some(rect);
                break;
            }
        }
        let rect = chosen.unwrap_or_else(|| {
            let mx = (start.0 + end.0) / 2.0 - uy * push * sign;
            let my = (start.1 + end.1) / 2.0 + ux * push * sign;
            (
                (mx - tw as f64 / 2.0) as i32,
                (my - th as f64 / 2.0) as i32,
                (mx + tw as f64 / 2.0) as i32,
                (my + th as f64 / 2.0) as i32,
            )
        });
        placed.push(rect);
        area.draw(&Rectangle::new(
            [(rect.0 - 4, rect.1 - 2), (rect.2 + 4, rect.3 + 2)],
            WHITE.mix(0.85).filled(),
        ))
        .map_err(err)?;
        area.draw(&Text::new(
            text,
            (rect.0, rect.1),
            label_style.clone().color(&colour),
        ))
        .map_err(err)?;
    }
    for (i, n) in d.nodes.iter().enumerate() {
        let (x, y) = (pos[i].0 as i32, pos[i].1 as i32);
        area.draw(&Circle::new((x, y), radius as i32, node_colour(n).filled()))
            .map_err(err)?;
        area.draw(&Circle::new((x, y), radius as i32, INK.stroke_width(2)))
            .map_err(err)?;
        let name = if n.name.len() > 24 {
            n.id.clone()
        } else {
            n.name.clone()
        };
        let style = (FONT, 22, FontStyle::Bold).into_font().color(&INK);
        let (tw, th) = area.estimate_text_size(&name, &style).map_err(err)?;
        // Inside the circle when it fits, else just below it on a white patch.
        let ty = if (tw as f64) < 2.0 * radius - 10.0 {
            y - th as i32 / 2
        } else {
            let ty = y + radius as i32 + 4;
            area.draw(&Rectangle::new(
                [
                    (x - tw as i32 / 2 - 4, ty - 2),
                    (x + tw as i32 / 2 + 4, ty + th as i32 + 2),
                ],
                WHITE.mix(0.9).filled(),
            ))
            .map_err(err)?;
            ty
        };
        area.draw(&Text::new(name, (x - tw as i32 / 2, ty), style))
            .map_err(err)?;
    }
    let on_cycle = if d.cycles_truncated {
        "money on one of the largest cycles listed in summary.json (returns to its payer)"
    } else {
        "money on a cycle (returns to its payer)"
    };
    let legend = [
        (VERMILLION, on_cycle),
        (BLUE, "other flows"),
        (PURPLE, "arrow width: median money moved over the horizon"),
    ];
    for (k, (colour, text)) in legend.iter().enumerate() {
        let y = h as i32 - 120 + 34 * k as i32;
        if k < 2 {
            area.draw(&PathElement::new(
                vec![(30, y + 12), (80, y + 12)],
                colour.stroke_width(8),
            ))
            .map_err(err)?;
        }
        area.draw(&Text::new(text.to_string(), (95, y), axis_font()))
            .map_err(err)?;
    }
    Ok(())
}

const SCENARIO_COLOURS: [RGBColor; 7] = [BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY, INK];

fn scenario_colour(i: usize) -> RGBColor {
    SCENARIO_COLOURS[i % SCENARIO_COLOURS.len()]
}

fn scenario_legend<DB: DrawingBackend>(
    c: &Comparison,
    area: &DrawingArea<DB, Shift>,
    y: i32,
) -> Result {
    let mut x = 150;
    for (i, s) in c.scenarios.iter().enumerate() {
        area.draw(&Rectangle::new(
            [(x, y + 2), (x + 30, y + 26)],
            scenario_colour(i).filled(),
        ))
        .map_err(err)?;
        let label = if i == 0 {
            format!("{} (reference)", s.label)
        } else {
            s.label.clone()
        };
        let (w, _) = area.estimate_text_size(&label, &axis_font()).map_err(err)?;
        area.draw(&Text::new(label, (x + 38, y), axis_font()))
            .map_err(err)?;
        x += 38 + w as i32 + 40;
    }
    Ok(())
}

/// A probability worth a bar: uncertain somewhere, or different between scenarios.
fn is_informative(m: &crate::report::compare::MetricRow) -> bool {
    // Shares that print as 0% or 100% everywhere are not worth a bar.
    let values: Vec<f64> = m.values.iter().flatten().map(|v| v.mean).collect();
    values.iter().any(|v| *v > 0.0005 && *v < 0.9995)
        || values.windows(2).any(|w| (w[0] - w[1]).abs() > 0.0005)
}

fn compare_metrics<DB: DrawingBackend>(c: &Comparison, area: &DrawingArea<DB, Shift>) -> Result {
    let rows: Vec<&crate::report::compare::MetricRow> = c
        .metrics
        .iter()
        .filter(|m| m.kind == crate::engine::MetricKind::Probability && is_informative(m))
        .collect();
    if rows.is_empty() {
        return message(area, "No uncertain probabilities to compare.");
    }
    let (band, area) = area.split_vertically(50);
    scenario_legend(c, &band, 10)?;
    let area = &area;
    let n = rows.len();
    let k = c.scenarios.len();
    let mut chart = ChartBuilder::on(area)
        .margin(20)
        .x_label_area_size(60)
        .y_label_area_size(110)
        .build_cartesian_2d(0.0..n as f64, 0.0..1.0)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(WHITE)
        .bold_line_style(LIGHT)
        .y_desc("probability (bars: estimate; whiskers: 95% interval)")
        .x_labels(n * 2 + 1)
        .x_label_formatter(&|v| {
            let i = v.floor() as usize;
            if (v - i as f64 - 0.5).abs() < 1e-6 && i < rows.len() {
                rows[i].name.clone()
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|v| percent(*v))
        .label_style(axis_font())
        .axis_desc_style(label_font())
        .draw()
        .map_err(err)?;
    let width = 0.8 / k as f64;
    for s in 0..k {
        let colour = scenario_colour(s);
        let x_of = |i: usize| i as f64 + 0.1 + width * (s as f64 + 0.5);
        chart
            .draw_series(rows.iter().enumerate().filter_map(|(i, r)| {
                r.values[s].map(|v| {
                    Rectangle::new(
                        [
                            (x_of(i) - width * 0.4, 0.0),
                            (x_of(i) + width * 0.4, v.mean),
                        ],
                        colour.filled(),
                    )
                })
            }))
            .map_err(err)?;
        chart
            .draw_series(rows.iter().enumerate().filter_map(|(i, r)| {
                r.values[s].map(|v| {
                    PathElement::new(
                        vec![(x_of(i), v.ci95[0]), (x_of(i), v.ci95[1])],
                        INK.stroke_width(3),
                    )
                })
            }))
            .map_err(err)?;
        let (bx, by) = area.get_base_pixel();
        for (i, r) in rows.iter().enumerate() {
            if let Some(v) = r.values[s] {
                let p = chart.backend_coord(&(x_of(i), v.mean));
                let text = percent(v.mean);
                let style = (FONT, 20).into_font().color(&INK);
                let (w, _) = area.estimate_text_size(&text, &style).map_err(err)?;
                area.draw(&Text::new(
                    text,
                    (p.0 - bx - w as i32 / 2, p.1 - by - 28),
                    style,
                ))
                .map_err(err)?;
            }
        }
    }
    Ok(())
}

fn compare_cash<DB: DrawingBackend>(c: &Comparison, area: &DrawingArea<DB, Shift>) -> Result {
    let (band, area) = area.split_vertically(50);
    scenario_legend(c, &band, 10)?;
    let area = &area;
    let series: Vec<data::CashChart> = c.scenarios.iter().map(|s| data::cash(&s.summary)).collect();
    let (mut lo, mut hi) = (0.0f64, 0.0f64);
    for d in &series {
        for i in 0..d.cash.x.len() {
            lo = lo.min(d.cash.p25[i]);
            hi = hi.max(d.cash.p75[i]);
        }
    }
    let (lo, hi) = padded(lo, hi);
    let r = &c.scenarios[0].summary;
    let (x0, x1) = x_range(r);
    let mut chart = ChartBuilder::on(area)
        .margin(20)
        .margin_right(50)
        .x_label_area_size(60)
        .y_label_area_size(120)
        .build_cartesian_2d(x0..x1, lo..hi)
        .map_err(err)?;
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .bold_line_style(LIGHT)
        .x_desc("year")
        .y_desc(format!(
            "cash ({}{}): median, band 25-75% of paths still operating",
            r.unit.currency, r.unit.scale
        ))
        .x_labels(((x1 - x0).ceil() as usize + 1).max(2))
        .x_label_formatter(&year_label)
        .y_label_formatter(&ticks(r, lo, hi))
        .label_style(axis_font())
        .axis_desc_style(label_font())
        .draw()
        .map_err(err)?;
    for (i, d) in series.iter().enumerate() {
        let colour = scenario_colour(i);
        chart
            .draw_series(std::iter::once(Polygon::new(
                band_polygon(&d.cash.x, &d.cash.p25, &d.cash.p75),
                colour.mix(0.15).filled(),
            )))
            .map_err(err)?;
    }
    for (i, d) in series.iter().enumerate() {
        let colour = scenario_colour(i);
        chart
            .draw_series(LineSeries::new(
                d.cash.x.iter().copied().zip(d.cash.p50.iter().copied()),
                colour.stroke_width(4),
            ))
            .map_err(err)?;
    }
    chart
        .draw_series(LineSeries::new(
            vec![(x0, 0.0), (x1, 0.0)],
            INK.stroke_width(2),
        ))
        .map_err(err)?;
    Ok(())
}

fn compare_target<DB: DrawingBackend>(c: &Comparison, area: &DrawingArea<DB, Shift>) -> Result {
    let charts: Vec<Option<data::TargetChart>> = c
        .scenarios
        .iter()
        .map(|s| data::target(&s.summary))
        .collect();
    let Some(reference) = charts[0].as_ref() else {
        return message(area, "The reference sets no revenue target.");
    };
    let (band, area) = area.split_vertically(50);
    scenario_legend(c, &band, 10)?;
    let area = &area;
    let t = &reference.target;
    let x_hi = charts
        .iter()
        .flatten()
        .filter_map(|d| d.cdf.last().map(|p| p.0))
        .fold(t.revenue * 1.1, f64::max);
    let r = &c.scenarios[0].summary;
    let mut chart = ChartBuilder::on(area)
        .margin(20)
        .margin_right(50)
        .x_label_area_size(60)
        .y_label_area_size(110)
        .build_cartesian_2d(0.0..x_hi * 1.05, 0.0..1.0)
        .map_err(err)?;
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .bold_line_style(LIGHT)
        .x_desc(format!(
            "revenue in {} ({}{})",
            t.year, r.unit.currency, r.unit.scale
        ))
        .y_desc("P(revenue <= x)")
        .x_label_formatter(&ticks(r, 0.0, x_hi * 1.05))
        .y_label_formatter(&|v| percent(*v))
        .label_style(axis_font())
        .axis_desc_style(label_font())
        .draw()
        .map_err(err)?;
    chart
        .draw_series(LineSeries::new(
            vec![(t.revenue, 0.0), (t.revenue, 1.0)],
            INK.stroke_width(3),
        ))
        .map_err(err)?;
    let mut lines = Vec::new();
    for (i, d) in charts.iter().enumerate() {
        if let Some(d) = d {
            chart
                .draw_series(LineSeries::new(
                    d.cdf.iter().copied(),
                    scenario_colour(i).stroke_width(4),
                ))
                .map_err(err)?;
            lines.push((
                i,
                format!(
                    "{}: P(>= {}) = {}",
                    c.scenarios[i].label,
                    m(r, t.revenue),
                    percent(d.target.probability)
                ),
            ));
        }
    }
    let style: TextStyle = (FONT, 24, FontStyle::Bold).into_font().into();
    let (pw, ph) = area.dim_in_pixel();
    let widest = lines
        .iter()
        .map(|(_, l)| area.estimate_text_size(l, &style).map(|s| s.0 as i32))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(err)?
        .into_iter()
        .max()
        .unwrap_or(0);
    let (tx, ty) = (
        pw as i32 - widest - 60,
        ph as i32 - 110 - 32 * lines.len() as i32,
    );
    area.draw(&Rectangle::new(
        [
            (tx - 10, ty - 8),
            (tx + widest + 10, ty + 32 * lines.len() as i32 + 4),
        ],
        WHITE.mix(0.9).filled(),
    ))
    .map_err(err)?;
    for (k, (i, line)) in lines.iter().enumerate() {
        area.draw(&Text::new(
            line.clone(),
            (tx, ty + 32 * k as i32),
            style.clone().color(&scenario_colour(*i)),
        ))
        .map_err(err)?;
    }
    Ok(())
}

fn compare_investors<DB: DrawingBackend>(c: &Comparison, area: &DrawingArea<DB, Shift>) -> Result {
    let mut ids: Vec<String> = Vec::new();
    for s in &c.scenarios {
        for i in &s.summary.investors {
            if !ids.contains(&i.id) {
                ids.push(i.id.clone());
            }
        }
    }
    if ids.is_empty() {
        return message(area, "No investors to compare.");
    }
    let (band, area) = area.split_vertically(50);
    scenario_legend(c, &band, 10)?;
    let area = &area;
    let find = |s: usize, id: &str| {
        c.scenarios[s]
            .summary
            .investors
            .iter()
            .find(|i| i.id == id)
            .map(|i| i.net_position)
    };
    let (mut lo, mut hi) = (0.0f64, 0.0f64);
    for s in 0..c.scenarios.len() {
        for id in &ids {
            if let Some(n) = find(s, id) {
                lo = lo.min(n.mean);
                hi = hi.max(n.mean);
            }
        }
    }
    let span = (hi - lo).max(1e-9);
    let (lo, hi) = padded(lo - 0.4 * span, hi + 0.4 * span);
    let r = &c.scenarios[0].summary;
    let n = ids.len();
    let k = c.scenarios.len();
    let mut chart = ChartBuilder::on(area)
        .margin(20)
        .x_label_area_size(60)
        .y_label_area_size(120)
        .build_cartesian_2d(0.0..n as f64, lo..hi)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(WHITE)
        .bold_line_style(LIGHT)
        .y_desc(format!(
            "net position ({}{}): mean (bars, as in the table), 5-95% of paths (whiskers)",
            r.unit.currency, r.unit.scale
        ))
        .x_labels(n * 2 + 1)
        .x_label_formatter(&|v| {
            let i = v.floor() as usize;
            if (v - i as f64 - 0.5).abs() < 1e-6 && i < ids.len() {
                ids[i].clone()
            } else {
                String::new()
            }
        })
        .y_label_formatter(&ticks(r, lo, hi))
        .label_style(axis_font())
        .axis_desc_style(label_font())
        .draw()
        .map_err(err)?;
    let width = 0.8 / k as f64;
    for s in 0..k {
        let colour = scenario_colour(s);
        let x_of = |i: usize| i as f64 + 0.1 + width * (s as f64 + 0.5);
        chart
            .draw_series(ids.iter().enumerate().filter_map(|(i, id)| {
                find(s, id).map(|v| {
                    Rectangle::new(
                        [
                            (x_of(i) - width * 0.4, 0.0),
                            (x_of(i) + width * 0.4, v.mean.clamp(lo, hi)),
                        ],
                        colour.filled(),
                    )
                })
            }))
            .map_err(err)?;
        chart
            .draw_series(ids.iter().enumerate().filter_map(|(i, id)| {
                find(s, id).map(|v| {
                    PathElement::new(
                        vec![
                            (x_of(i), v.p5.clamp(lo, hi)),
                            (x_of(i), v.p95.clamp(lo, hi)),
                        ],
                        INK.stroke_width(2),
                    )
                })
            }))
            .map_err(err)?;
        // A whisker cut by the axis ends in an arrow with its value; an investor the
        // scenario lacks is marked "n/a", not left as a gap that reads as zero.
        let font = ("sans-serif", 16).into_font().color(&INK);
        for (i, id) in ids.iter().enumerate() {
            let x = x_of(i);
            match find(s, id) {
                None => {
                    let mark =
                        EmptyElement::at((x, 0.0)) + Text::new("n/a", (-12, -22), font.clone());
                    chart.plotting_area().draw(&mark).map_err(err)?;
                }
                Some(v) if v.p95 > hi => {
                    // Neighbouring values alternate above and below the arrow, so five
                    // scenarios' labels do not overlap.
                    let text = m(r, v.p95);
                    let (w, _) = area.estimate_text_size(&text, &font).map_err(err)?;
                    let y = if s % 2 == 0 { -18 } else { 14 };
                    let half = w as i32 / 2 + 2;
                    let mark = EmptyElement::at((x, hi))
                        + Rectangle::new([(-half, y - 1), (half, y + 16)], WHITE.filled())
                        + Polygon::new(vec![(-7, 11), (7, 11), (0, 0)], INK.filled())
                        + Text::new(
                            text,
                            (0, y),
                            font.clone().pos(Pos::new(HPos::Center, VPos::Top)),
                        );
                    chart.plotting_area().draw(&mark).map_err(err)?;
                }
                Some(v) if v.p5 < lo => {
                    let mark = EmptyElement::at((x, lo))
                        + Polygon::new(vec![(-7, -11), (7, -11), (0, 0)], INK.filled())
                        + Text::new(
                            m(r, v.p5),
                            (0, 2),
                            font.clone().pos(Pos::new(HPos::Center, VPos::Top)),
                        );
                    chart.plotting_area().draw(&mark).map_err(err)?;
                }
                Some(_) => {}
            }
        }
    }
    chart
        .draw_series(LineSeries::new(
            vec![(0.0, 0.0), (n as f64, 0.0)],
            INK.stroke_width(2),
        ))
        .map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_share_axis_puts_its_zero_level_with_the_amount_axis_zero() {
        for (lo, hi) in [(-10.0, 290.0), (0.0, 50.0), (-30.0, 30.0), (-5.0, 1.0)] {
            let start = super::share_axis_start(lo, hi);
            let amount_zero = (0.0 - lo) / (hi - lo);
            let share_zero = (0.0 - start) / (1.0 - start);
            assert!(
                (amount_zero.min(0.9) - share_zero).abs() < 1e-12,
                "{lo}..{hi}"
            );
        }
    }

    #[test]
    fn axis_ranges_are_never_empty_reversed_or_infinite() {
        for (lo, hi) in [
            (f64::INFINITY, f64::NEG_INFINITY),
            (f64::NAN, 1.0),
            (5.0, 1.0),
            (1e18, 1e18),
            (-0.0, 0.0),
        ] {
            let (a, b) = super::padded(lo, hi);
            assert!(
                a.is_finite() && b.is_finite() && a < b,
                "{lo} {hi} -> {a} {b}"
            );
        }
    }
}
