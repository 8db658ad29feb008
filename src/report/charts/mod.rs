//! PNG (and SVG) charts for reports: cash, revenue, target, tranches, investors, flows.
//!
//! Data preparation lives in [`data`] and reads only the summary; this module draws it. Text is
//! rendered from the DejaVu Sans font shipped in the binary (no system fonts), colours come from
//! the Okabe-Ito colour-blind-safe palette, and every chart carries the scenario name in its
//! title and the seed, path count and cfsim version in its footer.

pub mod data;
mod rows;
pub mod sensitivity;
pub mod style;
pub mod sweep;

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontDesc, FontFamily, FontStyle};

use crate::format::{money, percent};
use crate::report::compare::Comparison;
use crate::report::{ReportError, Summary};
use style::Scaled;

pub use style::Style;

/// How to write charts: their style, and whether to add SVG copies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Size and text scale.
    pub style: Style,
    /// Also write each chart as SVG.
    pub svg: bool,
}

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
    options: Options,
) -> std::result::Result<Vec<PathBuf>, ReportError> {
    let charts: Vec<Chart> = if s.params.len() == 1 {
        vec![Chart::SweepLines(s, unit)]
    } else {
        (0..s.scenarios.len())
            .map(|k| Chart::Heatmap(s, k, contours, unit))
            .collect()
    };
    write_charts(&charts, dir, options)
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
    options: Options,
) -> std::result::Result<Vec<PathBuf>, ReportError> {
    let charts = [SensitivityChart::Tornado, SensitivityChart::Sobol]
        .map(|c| Chart::Sensitivity(s, c, unit))
        .to_vec();
    write_charts(&charts, dir, options)
}

/// Writes every chart of a run into `dir` as PNG, and as SVG too when `svg`; returns the files.
pub fn write_all(
    s: &Summary,
    dir: &Path,
    options: Options,
) -> std::result::Result<Vec<PathBuf>, ReportError> {
    let charts: Vec<Chart> = RunChart::ALL.map(|c| Chart::Run(c, s)).to_vec();
    write_charts(&charts, dir, options)
}

/// Writes the comparison charts into `dir`; returns the files written.
pub fn write_comparison(
    c: &Comparison,
    dir: &Path,
    options: Options,
) -> std::result::Result<Vec<PathBuf>, ReportError> {
    let charts: Vec<Chart> = CompareChart::ALL.map(|k| Chart::Compare(k, c)).to_vec();
    write_charts(&charts, dir, options)
}

fn write_charts(
    charts: &[Chart],
    dir: &Path,
    options: Options,
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
        let look = look_of(chart, options.style);
        let pixels = look.pixels(canvas(chart, look));
        // The encoder picks the format from the extension, so the temporary name ends in .png.
        let tmp = dir.join(format!(".{name}.tmp-{}.png", std::process::id()));
        {
            let root = Scaled::new(BitMapBackend::new(&tmp, pixels), look).into_drawing_area();
            let drawn = draw(chart, &root, look).and_then(|_| root.present().map_err(err));
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
        if options.svg {
            let mut text = String::new();
            let path = dir.join(format!("{name}.svg"));
            {
                let root = Scaled::new(SVGBackend::with_string(&mut text, pixels), look)
                    .into_drawing_area();
                draw(chart, &root, look)
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

/// The canvas `chart` is drawn on in `style`. Grids of panels (sweeps, sensitivity) and the
/// money-flow network are page-wide figures in a report: neither holds 7-pt text in one column
/// (the network's nodes and names would overlap).
fn look_of(chart: Chart, style: Style) -> style::Look {
    if page_wide(chart) {
        style.page_look()
    } else {
        style.look()
    }
}

fn page_wide(chart: Chart) -> bool {
    match chart {
        Chart::SweepLines(..) | Chart::Heatmap(..) | Chart::Sensitivity(..) => true,
        Chart::Run(c, _) => is_page_wide(c),
        Chart::Compare(..) => false,
    }
}

/// True for a run chart that a report prints page-wide (6.5 inches), not in one column.
pub fn is_page_wide(chart: RunChart) -> bool {
    // The target chart is two panels side by side.
    matches!(chart, RunChart::Flows | RunChart::Target)
}

/// The logical size of `chart`'s canvas: the style's, except where the content sets it.
fn canvas(chart: Chart, look: style::Look) -> (u32, u32) {
    match chart {
        Chart::Run(RunChart::Tranches, s) => (look.size.0, tranches_height(s, look)),
        Chart::Run(RunChart::Investors, s) => (look.size.0, investors_height(s, look)),
        Chart::Compare(CompareChart::Metrics, c) => (look.size.0, compare_metrics_height(c, look)),
        Chart::Compare(CompareChart::Investors, c) => {
            (look.size.0, compare_investors_height(c, look))
        }
        _ => look.size,
    }
}

/// The image size, in pixels, of a run's chart in a style.
pub fn run_chart_size(chart: RunChart, s: &Summary, style: Style) -> (u32, u32) {
    // Sizes set by content measure text, in the fonts the charts are drawn with.
    register_fonts();
    let look = look_of(Chart::Run(chart, s), style);
    look.pixels(canvas(Chart::Run(chart, s), look))
}

/// The image size, in pixels, of a chart whose canvas is the style's own.
pub fn image_size(style: Style) -> (u32, u32) {
    let look = style.look();
    look.pixels(look.size)
}

/// The title and footer fonts.
fn title_font() -> TextStyle<'static> {
    (FONT, 36, FontStyle::Bold).into_font().color(&INK)
}

fn footer_font() -> TextStyle<'static> {
    (FONT, 20).into_font().color(&GREY)
}

/// The heights of the title band and the footer band of a canvas `width` wide: the title and
/// the footer each take up to two lines.
fn frame_heights(title: &str, footer: &str, width: u32, look: style::Look) -> (i32, i32) {
    let lines = |text: &str, font: TextStyle, size: f64| {
        let size = size.max(look.min_font);
        let w = FontDesc::new(FontFamily::Name(FONT), size, font.font.get_style())
            .box_size(text)
            .map_or(0, |(w, _)| w as i32);
        let n = if w > width as i32 - 60 { 2 } else { 1 };
        n * (size * 1.2) as i32
    };
    (
        lines(title, title_font(), 36.0) + 30,
        lines(footer, footer_font(), 20.0) + 20,
    )
}

/// Draws the title and footer, and returns the area in between.
fn frame<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    (title, footer): (&str, &str),
    look: style::Look,
) -> Result<DrawingArea<DB, Shift>> {
    root.fill(&WHITE).map_err(err)?;
    let (width, height) = root.dim_in_pixel();
    let (top_h, foot_h) = frame_heights(title, footer, width, look);
    let (top, rest) = root.split_vertically(top_h);
    let (body, foot) = rest.split_vertically(height as i32 - top_h - foot_h);
    let max_w = width as i32 - 60;
    let mut y = 14;
    for line in wrap(&top, title, &title_font(), max_w, 2)? {
        let h = top.estimate_text_size(&line, &title_font()).map_err(err)?.1 as i32;
        top.draw(&Text::new(line, (30, y), title_font()))
            .map_err(err)?;
        y += h * 6 / 5;
    }
    let mut y = 6;
    for line in wrap(&foot, footer, &footer_font(), max_w, 2)? {
        let h = foot
            .estimate_text_size(&line, &footer_font())
            .map_err(err)?
            .1 as i32;
        foot.draw(&Text::new(line, (30, y), footer_font()))
            .map_err(err)?;
        y += h * 6 / 5;
    }
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

/// A chart's title and footer.
fn heading(chart: Chart) -> (String, String) {
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
        Chart::Sensitivity(s, which, _) => {
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
            (
                format!("{}: {title}", crate::text::printable(&stem)),
                footer,
            )
        }
        Chart::SweepLines(s, unit) => {
            let labels: Vec<&str> = s.scenarios.iter().map(|x| x.label.as_str()).collect();
            let title = format!(
                "{}: key metrics against {}",
                labels.join(", "),
                s.params[0].name
            );
            (title, sweep_footer(s, unit))
        }
        Chart::Heatmap(s, k, _, unit) => {
            let title = format!(
                "{}: key metrics over {} and {}",
                s.scenarios[k].label, s.params[0].name, s.params[1].name
            );
            (title, sweep_footer(s, unit))
        }
        Chart::Run(chart, s) => {
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
            (format!("{}: {}", s.scenario, chart.title()), footer)
        }
        Chart::Compare(chart, c) => {
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
            (
                format!(
                    "{} scenarios compared: {}",
                    c.scenarios.len(),
                    chart.title()
                ),
                footer,
            )
        }
    }
}

fn draw<DB: DrawingBackend>(
    chart: Chart,
    root: &DrawingArea<DB, Shift>,
    look: style::Look,
) -> Result {
    let (title, footer) = heading(chart);
    let body = frame(root, (&title, &footer), look)?;
    match chart {
        Chart::Sensitivity(s, SensitivityChart::Tornado, unit) => {
            sensitivity::tornado(s, unit, &body)
        }
        Chart::Sensitivity(s, SensitivityChart::Sobol, _) => sensitivity::sobol(s, &body),
        Chart::SweepLines(s, unit) => sweep::lines(s, unit, &body),
        Chart::Heatmap(s, k, contours, unit) => sweep::heatmap(s, k, contours, unit, &body),
        Chart::Run(chart, s) => match chart {
            RunChart::Cash => cash(s, &body),
            RunChart::Revenue => revenue(s, &body),
            RunChart::Target => target(s, &body),
            RunChart::Tranches => tranches(s, &body, look),
            RunChart::Investors => investors(s, &body, look),
            RunChart::Flows => flows(s, &body),
        },
        Chart::Compare(chart, c) => match chart {
            CompareChart::Metrics => compare_metrics(c, &body),
            CompareChart::Cash => compare_cash(c, &body),
            CompareChart::Target => compare_target(c, &body),
            CompareChart::Investors => compare_investors(c, &body, look),
        },
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

/// How many y ticks `area` has room for: a tick label and two blank lines each, 3 to 10.
fn y_ticks<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>) -> usize {
    let h = area.dim_in_pixel().1.max(1);
    let t = area
        .estimate_text_size("0", &axis_font())
        .map_or(24, |(_, t)| t.max(1));
    (h / (3 * t)).clamp(3, 10) as usize
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

/// The 90% and 50% bands of a series: range, opacity and legend label.
const BANDS: [(f64, &str); 2] = [(0.15, "5-95% of paths"), (0.35, "25-75% of paths")];

/// The legend entries of [`draw_bands`] in `colour`.
fn band_entries(colour: RGBColor) -> Vec<(Mark, String)> {
    let mut entries: Vec<(Mark, String)> = BANDS
        .iter()
        .map(|(alpha, label)| (Mark::Block(tint(colour, *alpha)), label.to_string()))
        .collect();
    entries.push((Mark::Line(colour), "median".into()));
    entries
}

/// The 90% and 50% bands and the median of a series.
fn draw_bands<DB: DrawingBackend, CT: CoordTranslate<From = (f64, f64)>>(
    chart: &mut ChartContext<'_, DB, CT>,
    b: &data::Bands,
    colour: RGBColor,
) -> Result {
    for ((lo, hi), (alpha, _)) in [(&b.p5, &b.p95), (&b.p25, &b.p75)].into_iter().zip(BANDS) {
        chart
            .draw_series(std::iter::once(Polygon::new(
                band_polygon(&b.x, lo, hi),
                colour.mix(alpha).filled(),
            )))
            .map_err(err)?;
    }
    chart
        .draw_series(LineSeries::new(
            b.x.iter().copied().zip(b.p50.iter().copied()),
            colour.stroke_width(4),
        ))
        .map_err(err)?;
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
    // The legend sits above the plot, where it hides no band at any text size.
    let mut legend = band_entries(BLUE);
    legend.push((
        Mark::Line(VERMILLION),
        "insolvent by then (right axis)".into(),
    ));
    let area = &legend_band(area, &legend)?;
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
        .y_labels(y_ticks(area))
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
        .y_labels(y_ticks(area))
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
        .map_err(err)?;
    Ok(())
}

fn revenue<DB: DrawingBackend>(s: &Summary, area: &DrawingArea<DB, Shift>) -> Result {
    let d = data::revenue(s);
    let (_, hi) = d.revenue.range();
    let hi = d.target.as_ref().map_or(hi, |t| hi.max(t.revenue));
    let (_, hi) = padded(0.0, hi);
    let (x0, x1) = x_range(s);
    let mut legend = band_entries(GREEN);
    legend.push((
        Mark::Line(PURPLE),
        "paths still operating (right axis)".into(),
    ));
    if let Some(t) = &d.target {
        // P(target) is in the target's legend entry, not in a box over the bands.
        legend.push((
            Mark::Line(VERMILLION),
            format!(
                "target: {} in {}, reached on {} of all paths [{}, {}]",
                m(s, t.revenue),
                t.year,
                percent(t.probability),
                percent(t.ci95[0]),
                percent(t.ci95[1])
            ),
        ));
    }
    let area = &legend_band(area, &legend)?;
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
        .y_labels(y_ticks(area))
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
        .y_labels(y_ticks(area))
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
        .map_err(err)?;
    if let Some(t) = &d.target {
        let (ty0, ty1) = (t.year as f64, t.year as f64 + 1.0);
        chart
            .draw_series(LineSeries::new(
                vec![(ty0, t.revenue), (ty1, t.revenue)],
                VERMILLION.stroke_width(5),
            ))
            .map_err(err)?;
    }
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

/// A tranche row's heights: its label line, its bar and the gap below it.
fn tranche_row(look: style::Look) -> (i32, i32, i32) {
    let f = 24f64.max(look.min_font);
    ((f * 1.4) as i32, (f * 1.5) as i32, (f * 0.9) as i32)
}

/// The legend of `tranches.png`: a colour and a label per entry.
fn tranche_legend(years: &[i32]) -> Vec<(Mark, String)> {
    let mut entries: Vec<(Mark, String)> = years
        .iter()
        .enumerate()
        .map(|(k, y)| {
            let colour = year_colour(k, years.len());
            (Mark::Block(colour), format!("released in {y}"))
        })
        .collect();
    entries.push((Mark::Block(GREY), "lapsed: window ended".into()));
    entries.push((Mark::Block(VERMILLION), "lapsed: company defaulted".into()));
    entries.push((Mark::Block(LIGHT), "pending at the horizon".into()));
    entries
}

/// The years in which some tranche is released.
fn release_years(rows: &[data::TrancheRow]) -> Vec<i32> {
    let mut y: Vec<i32> = rows
        .iter()
        .flat_map(|r| r.by_year.iter().filter(|(_, p)| *p > 0.0).map(|(y, _)| *y))
        .collect();
    y.sort_unstable();
    y.dedup();
    y
}

/// How a legend entry shows what it stands for: as the chart draws it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mark {
    /// A filled block: bars and bands.
    Block(RGBColor),
    /// A solid line.
    Line(RGBColor),
    /// A dashed line.
    Dashed(RGBColor),
    /// None: an explanatory entry.
    Note,
}

/// Draws `mark` in the 28-pixel-wide slot starting at `x`, centred on `y`.
fn draw_mark<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    mark: Mark,
    (x, y): (i32, i32),
) -> Result {
    match mark {
        Mark::Block(colour) => area
            .draw(&Rectangle::new(
                [(x, y - 12), (x + 28, y + 12)],
                colour.filled(),
            ))
            .map_err(err),
        Mark::Line(colour) => area
            .draw(&PathElement::new(
                vec![(x, y), (x + 28, y)],
                colour.stroke_width(5),
            ))
            .map_err(err),
        Mark::Dashed(colour) => {
            for (a, b) in [(0, 8), (12, 20), (24, 28)] {
                area.draw(&PathElement::new(
                    vec![(x + a, y), (x + b, y)],
                    colour.stroke_width(5),
                ))
                .map_err(err)?;
            }
            Ok(())
        }
        Mark::Note => Ok(()),
    }
}

/// Lines a legend of `entries` takes across `width` (swatch, label, gap per entry).
fn legend_lines(entries: &[(Mark, String)], width: i32, measure: impl Fn(&str) -> i32) -> i32 {
    let (mut x, mut lines) = (0, 1);
    for (_, label) in entries {
        let w = 36 + measure(label) + 30;
        if x > 0 && x + w > width {
            lines += 1;
            x = 0;
        }
        x += w;
    }
    lines
}

/// Width of `text` in the axis font, in logical pixels, without a drawing area.
fn axis_text_width(text: &str, look: style::Look) -> i32 {
    let size = 24f64.max(look.min_font);
    FontDesc::new(FontFamily::Name(FONT), size, FontStyle::Normal)
        .box_size(text)
        .map_or(text.len() as i32 * size as i32 / 2, |(w, _)| w as i32)
}

/// The canvas height `tranches.png` needs for its rows and legend.
fn tranches_height(s: &Summary, look: style::Look) -> u32 {
    let rows = data::tranches(s);
    if rows.is_empty() {
        return look.size.1;
    }
    let (label, bar, gap) = tranche_row(look);
    let legend = tranche_legend(&release_years(&rows));
    let lines = legend_lines(&legend, look.size.0 as i32 - 80, |t| {
        axis_text_width(t, look)
    });
    let line_h = (24f64.max(look.min_font) * 1.5) as i32;
    let body = 30 + rows.len() as i32 * (label + bar + gap) + 20 + lines * line_h + 20;
    let (title, footer) = heading(Chart::Run(RunChart::Tranches, s));
    let (top, foot) = frame_heights(&title, &footer, look.size.0, look);
    (top + body + foot).clamp(look.size.1 as i32 / 2, look.size.0 as i32 * 2) as u32
}

/// `text`, shortened with an ellipsis until it fits `max_w` in `font`.
fn fit<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    font: &TextStyle,
    max_w: i32,
) -> Result<String> {
    let width = |t: &str| area.estimate_text_size(t, font).map(|(w, _)| w as i32);
    if width(text).map_err(err)? <= max_w {
        return Ok(text.to_string());
    }
    // The longest prefix that fits, found by bisection: a footer can hold a long file path or
    // many overrides, and measuring every prefix would be quadratic in its length.
    let chars: Vec<char> = text.chars().collect();
    let shortened = |keep: usize| chars[..keep].iter().collect::<String>() + "\u{2026}";
    let (mut fits, mut too_long) = (0, chars.len());
    while too_long - fits > 1 {
        let mid = (fits + too_long) / 2;
        if width(&shortened(mid)).map_err(err)? <= max_w {
            fits = mid;
        } else {
            too_long = mid;
        }
    }
    Ok(shortened(fits))
}

/// `text` in at most `max_lines` lines of `max_w`, broken at spaces, `_` and `-`; the last
/// line shortened with an ellipsis when the text does not fit.
fn wrap<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    font: &TextStyle,
    max_w: i32,
    max_lines: usize,
) -> Result<Vec<String>> {
    let width = |t: &str| {
        area.estimate_text_size(t, font)
            .map(|(w, _)| w as i32)
            .map_err(err)
    };
    // Words keep their breaking character at their end.
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    for c in text.chars() {
        word.push(c);
        if c == ' ' || c == '_' || c == '-' {
            words.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for (i, w) in words.iter().enumerate() {
        let candidate = format!("{line}{w}");
        if line.is_empty() || width(candidate.trim_end())? <= max_w {
            line = candidate;
            continue;
        }
        if lines.len() + 1 == max_lines {
            let rest: String = words[i..].concat();
            lines.push(fit(area, &format!("{line}{rest}"), font, max_w)?);
            return Ok(lines);
        }
        lines.push(fit(area, line.trim_end(), font, max_w)?);
        line = w.clone();
    }
    lines.push(fit(area, line.trim_end(), font, max_w)?);
    Ok(lines)
}

/// Draws a legend of swatches and labels from `(x, y)`, wrapping at `right`.
fn swatch_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(Mark, String)],
    (left, y): (i32, i32),
    right: i32,
) -> Result {
    let font = axis_font();
    let line_h = area.estimate_text_size("Ag", &font).map_err(err)?.1 as i32 * 3 / 2;
    let (mut x, mut y) = (left, y);
    for (mark, label) in entries {
        // An entry wider than the whole line is shortened, never drawn past the edge.
        let label = &fit(area, label, &font, right - left - 36)?;
        let (w, h) = area.estimate_text_size(label, &font).map_err(err)?;
        let (w, h) = (w as i32, h as i32);
        if x > left && x + 36 + w > right {
            x = left;
            y += line_h;
        }
        draw_mark(area, *mark, (x, y + h / 2))?;
        area.draw(&Text::new(label.clone(), (x + 36, y), font.clone()))
            .map_err(err)?;
        x += 36 + w + 30;
    }
    Ok(())
}

fn tranches<DB: DrawingBackend>(
    s: &Summary,
    area: &DrawingArea<DB, Shift>,
    look: style::Look,
) -> Result {
    let rows = data::tranches(s);
    if rows.is_empty() {
        return message(area, "This scenario has no equity tranches.");
    }
    let years = release_years(&rows);
    let (dim_x, _) = area.dim_in_pixel();
    let (label_h, bar_h, gap) = tranche_row(look);
    let (left, right) = (40, dim_x as i32 - 40);
    let bar_w = right - left;
    let small = axis_font();
    let bold = (FONT, 24, FontStyle::Bold).into_font().color(&INK);
    // The canvas grows with the rows up to a limit; rows beyond it are counted, not lost.
    let legend = tranche_legend(&years);
    let line_h = area.estimate_text_size("Ag", &small).map_err(err)?.1 as i32 * 3 / 2;
    let legend_h = legend_lines(&legend, right - left, |t| {
        area.estimate_text_size(t, &small)
            .map_or(0, |(w, _)| w as i32)
    }) * line_h;
    let pitch = label_h + bar_h + gap;
    let room = (area.dim_in_pixel().1 as i32 - 30 - legend_h - 20 - line_h) / pitch;
    let shown = if (rows.len() as i32) * pitch + 30 + legend_h + 20 <= area.dim_in_pixel().1 as i32
    {
        rows.len()
    } else {
        room.max(1) as usize
    };
    let mut y = 30;
    for r in &rows[..shown.min(rows.len())] {
        // The label line: who and which tranche on the left, the release share on the right.
        let released = format!(
            "released {} [{}, {}]",
            percent(r.probability),
            percent(r.ci95[0]),
            percent(r.ci95[1])
        );
        let (rw, _) = area.estimate_text_size(&released, &small).map_err(err)?;
        area.draw(&Text::new(
            released,
            (right, y),
            small.clone().pos(Pos::new(HPos::Right, VPos::Top)),
        ))
        .map_err(err)?;
        let room = bar_w - rw as i32 - 30;
        let id_w = area
            .estimate_text_size(&format!(": {}", r.id), &bold)
            .map_err(err)?
            .0;
        // The investor's name gives way first: the tranche id tells the rows apart.
        let name = if room - (id_w as i32) > 80 {
            let who = fit(area, &r.investor_name, &bold, room - id_w as i32)?;
            format!("{who}: {}", r.id)
        } else {
            fit(area, &r.id, &bold, room)?
        };
        area.draw(&Text::new(name, (left, y), bold.clone()))
            .map_err(err)?;
        let top = y + label_h;
        let mut segments: Vec<(f64, RGBColor)> = r
            .by_year
            .iter()
            .filter(|(_, p)| *p > 0.0)
            .map(|(year, p)| {
                let k = years.iter().position(|y| y == year).unwrap_or(0);
                (*p, year_colour(k, years.len()))
            })
            .collect();
        segments.push((r.expired, GREY));
        segments.push((r.lapsed_at_default, VERMILLION));
        segments.push((r.pending, LIGHT));
        let mut x = left as f64;
        for (p, colour) in &segments {
            let w = p * bar_w as f64;
            if w > 0.0 {
                area.draw(&Rectangle::new(
                    [(x as i32, top), ((x + w) as i32, top + bar_h)],
                    colour.filled(),
                ))
                .map_err(err)?;
                let text = percent(*p);
                let (tw, th) = area.estimate_text_size(&text, &small).map_err(err)?;
                if w > tw as f64 + 12.0 {
                    let light = *colour == LIGHT || *colour == year_colour(0, years.len());
                    let ink = if light { INK } else { WHITE };
                    area.draw(&Text::new(
                        text,
                        (x as i32 + 6, top + (bar_h - th as i32) / 2),
                        small.clone().color(&ink),
                    ))
                    .map_err(err)?;
                }
            }
            x += w;
        }
        area.draw(&Rectangle::new(
            [(left, top), (right, top + bar_h)],
            INK.stroke_width(1),
        ))
        .map_err(err)?;
        y = top + bar_h + gap;
    }
    if shown < rows.len() {
        area.draw(&Text::new(
            format!("and {} more tranches: see summary.json", rows.len() - shown),
            (left, y),
            small.clone(),
        ))
        .map_err(err)?;
        y += line_h;
    }
    swatch_legend(area, &legend, (left, y + 20), right)
}

/// The measures `investors.png` shows per investor: label, colour, (p5, p50, p95).
type InvestorMeasure = (
    &'static str,
    RGBColor,
    fn(&data::InvestorBars) -> (f64, f64, f64),
);
const INVESTOR_MEASURES: [InvestorMeasure; 3] = [
    ("invested", BLUE, |r| r.invested),
    ("received back", ORANGE, |r| r.received),
    ("net position", GREEN, |r| r.net_position),
];

fn investor_legend() -> Vec<(Mark, String)> {
    let mut legend: Vec<(Mark, String)> = INVESTOR_MEASURES
        .iter()
        .map(|(l, c, _)| (Mark::Block(*c), l.to_string()))
        .collect();
    legend.push((Mark::Note, "bars: medians, whiskers: 5-95% of paths".into()));
    legend.push((Mark::Note, "round trip: median received / invested".into()));
    legend
}

/// `investors.png`'s rows: per investor, its name, its median round trip, and its three
/// measures' medians with 5-95% whiskers.
fn investor_groups(s: &Summary) -> Vec<rows::Group> {
    data::investors(s)
        .iter()
        .map(|r| rows::Group {
            name: r.name.clone(),
            note: r
                .round_trip
                .map(|t| format!("round trip {t:.2}x"))
                .unwrap_or_default(),
            bars: INVESTOR_MEASURES
                .iter()
                .map(|(_, colour, pick)| {
                    let (a, mid, b) = pick(r);
                    Some(rows::Bar {
                        colour: *colour,
                        value: mid,
                        whisker: (a, b),
                    })
                })
                .collect(),
        })
        .collect()
}

/// The canvas height `investors.png` needs: a block per investor (a row each, so any number
/// of names reads on a narrow canvas), the legend above and the axis below.
fn investors_height(s: &Summary, look: style::Look) -> u32 {
    rows::height(
        &investor_groups(s),
        &investor_legend(),
        Chart::Run(RunChart::Investors, s),
        look,
    )
}

/// `investors.png`: per investor, a label line (name, median round trip) and three horizontal
/// bars (invested, received back, net position: medians) with 5-95% whiskers.
fn investors<DB: DrawingBackend>(
    s: &Summary,
    area: &DrawingArea<DB, Shift>,
    look: style::Look,
) -> Result {
    let groups = investor_groups(s);
    if groups.is_empty() {
        return message(area, "This scenario has no investors.");
    }
    let axis = format!("{}{}", s.unit.currency, s.unit.scale);
    rows::draw(s, &axis, &groups, &investor_legend(), area, look)
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

/// The share of the width the outside world's nodes spread over, along the bottom.
const OUTSIDE_SPREAD: f64 = 0.3;

fn flows<DB: DrawingBackend>(s: &Summary, area: &DrawingArea<DB, Shift>) -> Result {
    let d = data::flows(s);
    let (w, h) = area.dim_in_pixel();
    // The legends take a band along the bottom that the network stays above, so no name or
    // node runs into them at any text size.
    let line_h = area.estimate_text_size("Ag", &axis_font()).map_err(err)?.1 as i32 * 4 / 3;
    let on_cycle = if d.cycles_truncated {
        "money on one of the largest cycles listed in summary.json (returns to its payer)"
    } else {
        "money on a cycle (returns to its payer)"
    };
    let mut legend = vec![
        (Some((VERMILLION, false)), on_cycle.to_string()),
        (Some((BLUE, false)), "other flows".to_string()),
        (
            None,
            "widths and labels: median over the horizon".to_string(),
        ),
    ];
    if d.arrows.iter().any(|a| a.stake) {
        legend.push((
            Some((INK, true)),
            "stake bought before the horizon".to_string(),
        ));
    }
    // Node colours, bottom right: only the kinds this network has.
    let kinds = [
        (ORANGE, "the company"),
        (SKY, "sells it compute (cloud, chips)"),
        (GREEN, "investor only"),
        (YELLOW, "other"),
        (LIGHT, "customers, outside world"),
    ];
    let present: Vec<(RGBColor, String)> = kinds
        .iter()
        .filter(|(c, _)| d.nodes.iter().any(|n| node_colour(n) == *c))
        .map(|(c, t)| (*c, t.to_string()))
        .collect();
    let legend_rows = legend.len().max(present.len()) as i32;
    let net_h = (h as i32 - 20 - line_h * legend_rows).max(h as i32 / 2) as f64;
    let (cx, cy) = (w as f64 / 2.0, net_h * 0.42);
    // The company in the middle, inside entities on an ellipse, the outside world at the bottom.
    let inside: Vec<usize> = (0..d.nodes.len())
        .filter(|&i| !d.nodes[i].company && !d.nodes[i].external)
        .collect();
    let outside: Vec<usize> = (0..d.nodes.len())
        .filter(|&i| d.nodes[i].external)
        .collect();
    let mut pos = vec![(cx, cy); d.nodes.len()];
    let (rx, ry) = (w as f64 * 0.36, net_h * 0.31);
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
        let x = w as f64 * (0.35 + OUTSIDE_SPREAD * (k as f64 + 0.5) / outside.len() as f64);
        pos[i] = (x, net_h - 75.0);
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
        if arrow.stake {
            // Money put in before the horizon: dashed, since nothing moves on it in the run.
            let dashes = (len / 24.0).floor().max(1.0) as usize;
            for k in (0..dashes).step_by(2) {
                let t0 = k as f64 / dashes as f64;
                let t1 = (k + 1) as f64 / dashes as f64;
                let at = |t: f64| {
                    (
                        (start.0 + (end.0 - start.0) * t) as i32,
                        (start.1 + (end.1 - start.1) * t) as i32,
                    )
                };
                area.draw(&PathElement::new(
                    vec![at(t0), at(t1)],
                    colour.mix(0.75).stroke_width(4),
                ))
                .map_err(err)?;
            }
        } else {
            area.draw(&PathElement::new(
                vec![
                    (start.0 as i32, start.1 as i32),
                    (end.0 as i32, end.1 as i32),
                ],
                colour.mix(0.75).stroke_width(width),
            ))
            .map_err(err)?;
        }
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
        let text = if arrow.stake {
            "opening stake".to_string()
        } else if arrow.median > 0.0 {
            m(s, arrow.median)
        } else {
            format!("mean {}", m(s, arrow.mean))
        };
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
        // Names of the outside world sit side by side: each keeps to its share of the row.
        let room = if n.external {
            (w as f64 * OUTSIDE_SPREAD / outside.len() as f64) as i32 - 12
        } else {
            w as i32 / 5
        };
        let name = fit(
            area,
            &n.name,
            &(FONT, 22, FontStyle::Bold).into_font().color(&INK),
            room.max(2 * radius as i32),
        )?;
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
    let top = h as i32 - 10 - line_h * legend.len() as i32;
    let legend_w = w as i32 / 2 - 110;
    for (k, (mark, text)) in legend.iter().enumerate() {
        let y = top + line_h * k as i32;
        if let Some((colour, dashed)) = *mark {
            // Dashes as the stake arrows have them.
            let parts: &[(i32, i32)] = if dashed {
                &[(30, 42), (50, 62), (70, 80)]
            } else {
                &[(30, 80)]
            };
            for &(a, b) in parts {
                area.draw(&PathElement::new(
                    vec![(a, y + line_h / 3), (b, y + line_h / 3)],
                    colour.stroke_width(8),
                ))
                .map_err(err)?;
            }
        }
        let text = fit(area, text, &axis_font(), legend_w)?;
        area.draw(&Text::new(text, (95, y), axis_font()))
            .map_err(err)?;
    }
    let widest = present
        .iter()
        .map(|(_, t)| {
            area.estimate_text_size(t, &axis_font())
                .map_or(0, |x| x.0 as i32)
        })
        .max()
        .unwrap_or(0)
        .min(w as i32 / 2 - 80);
    let x = w as i32 - 30 - widest - 40;
    let top = h as i32 - 10 - line_h * present.len() as i32;
    for (k, (colour, text)) in present.iter().enumerate() {
        let y = top + line_h * k as i32;
        let r = line_h / 3;
        area.draw(&Circle::new((x + r, y + r), r, colour.filled()))
            .map_err(err)?;
        area.draw(&Circle::new((x + r, y + r), r, INK.stroke_width(1)))
            .map_err(err)?;
        let text = fit(area, text, &axis_font(), widest)?;
        area.draw(&Text::new(text, (x + 40, y), axis_font()))
            .map_err(err)?;
    }
    Ok(())
}

const SCENARIO_COLOURS: [RGBColor; 7] = [BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY, INK];

/// `c` at opacity `alpha` over white, as an opaque colour (for legend swatches of bands).
fn tint(c: RGBColor, alpha: f64) -> RGBColor {
    let mix = |v: u8| (255.0 - (255.0 - v as f64) * alpha).round() as u8;
    RGBColor(mix(c.0), mix(c.1), mix(c.2))
}

fn scenario_colour(i: usize) -> RGBColor {
    SCENARIO_COLOURS[i % SCENARIO_COLOURS.len()]
}

/// Draws the scenarios' legend (and `extra` entries) in a band at the top of `area`, wrapped
/// over as many lines as it needs; returns the area below it.
/// The legend entries of a comparison chart: each scenario (`mark` says how), then `extra`.
fn scenario_entries(
    c: &Comparison,
    mark: fn(usize) -> Mark,
    extra: &[(Mark, &str)],
) -> Vec<(Mark, String)> {
    let mut entries: Vec<(Mark, String)> = c
        .scenarios
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let label = if i == 0 {
                format!("{} (reference)", s.label)
            } else {
                s.label.clone()
            };
            (mark(i), label)
        })
        .collect();
    entries.extend(extra.iter().map(|(m, t)| (*m, t.to_string())));
    entries
}

fn scenario_legend<DB: DrawingBackend>(
    c: &Comparison,
    area: &DrawingArea<DB, Shift>,
    mark: fn(usize) -> Mark,
    extra: &[(Mark, &str)],
) -> Result<DrawingArea<DB, Shift>> {
    legend_band(area, &scenario_entries(c, mark, extra))
}

/// Draws `entries` as a legend in a band across the top of `area`; returns the area below.
fn legend_band<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(Mark, String)],
) -> Result<DrawingArea<DB, Shift>> {
    let right = area.dim_in_pixel().0 as i32 - 20;
    let line_h = area.estimate_text_size("Ag", &axis_font()).map_err(err)?.1 as i32 * 3 / 2;
    let lines = legend_lines(entries, right - 40, |t| {
        area.estimate_text_size(t, &axis_font())
            .map_or(0, |(w, _)| w as i32)
    });
    let (band, rest) = area.split_vertically(lines * line_h + 16);
    swatch_legend(&band, entries, (40, 8), right)?;
    Ok(rest)
}

/// The legend of `compare_metrics.png`.
fn metrics_legend(c: &Comparison) -> Vec<(Mark, String)> {
    scenario_entries(
        c,
        |i| Mark::Block(scenario_colour(i)),
        &[(
            Mark::Note,
            "lines: 95% intervals, paired for the differences",
        )],
    )
}

/// The probabilities `compare_metrics.png` shows.
fn metric_rows(c: &Comparison) -> Vec<&crate::report::compare::MetricRow> {
    c.metrics
        .iter()
        .filter(|m| m.kind == crate::engine::MetricKind::Probability && is_informative(m))
        .collect()
}

/// The height of one scenario's row in `compare_metrics.png`: a line of its value labels.
fn metric_slot(look: style::Look) -> i32 {
    (20f64.max(look.min_font) * 1.3) as i32
}

/// The canvas height `compare_metrics.png` needs: a row per metric and scenario that holds its
/// labels, under the legend; never less than the style's height.
fn compare_metrics_height(c: &Comparison, look: style::Look) -> u32 {
    let rows = metric_rows(c).len().max(1);
    let slots = (rows * (c.scenarios.len() + 1) - 1) as i32;
    let lines = legend_lines(&metrics_legend(c), look.size.0 as i32 - 60, |t| {
        axis_text_width(t, look)
    });
    let f = 24f64.max(look.min_font);
    let legend = lines * (f * 1.5) as i32 + 16;
    // Caption and tick labels of the two panels, and their margins.
    let axes = (f * 4.5) as i32 + 60;
    let body = legend + axes + slots * metric_slot(look);
    let (title, footer) = heading(Chart::Compare(CompareChart::Metrics, c));
    let (top, foot) = frame_heights(&title, &footer, look.size.0, look);
    (top + body + foot).clamp(look.size.1 as i32, look.size.0 as i32 * 2) as u32
}

/// A probability worth a bar: uncertain somewhere, or different between scenarios.
fn is_informative(m: &crate::report::compare::MetricRow) -> bool {
    // Shares that print as 0% or 100% everywhere are not worth a bar.
    let values: Vec<f64> = m.values.iter().flatten().map(|v| v.mean).collect();
    values.iter().any(|v| *v > 0.0005 && *v < 0.9995)
        || values.windows(2).any(|w| (w[0] - w[1]).abs() > 0.0005)
}

/// Signed percentage points as the comparison table writes them, `+5.2pt`.
fn points(d: f64) -> String {
    let v = d * 100.0 + 0.0;
    let decimals = if v.abs() >= 10.0 { 0 } else { 1 };
    format!("{v:+.decimals$}pt")
}

/// `compare_metrics.png`: per probability, each scenario's estimate (left panel) and its
/// paired difference from the reference (right panel), with 95% intervals; a metric a
/// scenario lacks reads "n/a".
fn compare_metrics<DB: DrawingBackend>(c: &Comparison, area: &DrawingArea<DB, Shift>) -> Result {
    let rows = metric_rows(c);
    if rows.is_empty() {
        return message(area, "No uncertain probabilities to compare.");
    }
    let area = &legend_band(area, &metrics_legend(c))?;
    let k = c.scenarios.len();
    // Each metric is a group of one row per scenario, with a blank row between groups.
    let slots = rows.len() * (k + 1) - 1;
    let y_of = |i: usize, s: usize| (slots - (i * (k + 1) + s)) as f64 - 0.5;
    let (w, _) = area.dim_in_pixel();
    // The names' column holds the longest word of any name (names wrap between words), within
    // a quarter to 30% of the width.
    let mut widest_word = 0;
    for r in &rows {
        for word in r.name.split([' ', '_', '-']) {
            let w = area.estimate_text_size(word, &label_font()).map_err(err)?.0 as i32;
            widest_word = widest_word.max(w);
        }
    }
    let names_w = (widest_word + 50).clamp((w as i32 / 4).max(160), (w as i32 * 3 / 10).max(160));
    let (names, panels) = area.split_horizontally(names_w);
    let (left, right) = panels.split_horizontally(panels.dim_in_pixel().0 as i32 * 2 / 5);
    let mut span = 0.0f64;
    for r in &rows {
        for d in r.diff_vs_reference.iter().flatten() {
            span = span
                .max(d.diff_ci95_paired[0].abs())
                .max(d.diff_ci95_paired[1].abs());
        }
    }
    let span = if span > 0.0 { span * 1.25 } else { 0.01 };
    let font = axis_font();
    let small = (FONT, 20).into_font().color(&INK);
    let mut estimate = ChartBuilder::on(&left)
        .margin(20)
        .x_label_area_size(60)
        .caption("estimate", label_font())
        .build_cartesian_2d(0.0..1.0, 0.0..slots as f64)
        .map_err(err)?;
    estimate
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_labels(3)
        .light_line_style(WHITE)
        .bold_line_style(LIGHT)
        .x_label_formatter(&|v| percent(*v))
        .label_style(font.clone())
        .draw()
        .map_err(err)?;
    let mut difference = ChartBuilder::on(&right)
        .margin(20)
        .x_label_area_size(60)
        .caption("minus the reference", label_font())
        .build_cartesian_2d(-span..span, 0.0..slots as f64)
        .map_err(err)?;
    difference
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_labels(5)
        .light_line_style(WHITE)
        .bold_line_style(LIGHT)
        .x_label_formatter(&|v| {
            if v.abs() < span * 1e-6 {
                "0".to_string()
            } else {
                points(*v)
            }
        })
        .label_style(font.clone())
        .draw()
        .map_err(err)?;
    difference
        .draw_series(LineSeries::new(
            vec![(0.0, 0.0), (0.0, slots as f64)],
            INK.stroke_width(2),
        ))
        .map_err(err)?;
    let row_px = {
        let a = estimate.backend_coord(&(0.0, 0.0)).1;
        let b = estimate.backend_coord(&(0.0, 1.0)).1;
        (a - b).abs()
    };
    let text_h = area.estimate_text_size("Ag", &small).map_err(err)?.1 as i32;
    let labels = row_px >= text_h;
    let dot = (row_px / 3).clamp(3, 9) as u32;
    let na = |chart: &ChartContext<'_, DB, _>, x: f64, y: f64, colour: RGBColor| {
        chart
            .plotting_area()
            .draw(&Text::new(
                "n/a".to_string(),
                (x, y),
                small
                    .clone()
                    .color(&colour)
                    .pos(Pos::new(HPos::Center, VPos::Center)),
            ))
            .map_err(err)
    };
    for (i, r) in rows.iter().enumerate() {
        for s in 0..k {
            let colour = scenario_colour(s);
            let y = y_of(i, s);
            match r.values[s] {
                Some(v) => {
                    estimate
                        .draw_series([
                            PathElement::new(
                                vec![(v.ci95[0], y), (v.ci95[1], y)],
                                colour.stroke_width(3),
                            )
                            .into_dyn(),
                            Circle::new((v.mean, y), dot, colour.filled()).into_dyn(),
                        ])
                        .map_err(err)?;
                    if labels {
                        let side = if v.mean > 0.7 {
                            HPos::Right
                        } else {
                            HPos::Left
                        };
                        let dx = if v.mean > 0.7 { -14 } else { 14 };
                        estimate
                            .plotting_area()
                            .draw(
                                &(EmptyElement::at((v.mean, y))
                                    + Text::new(
                                        percent(v.mean),
                                        (dx, 0),
                                        small.clone().pos(Pos::new(side, VPos::Center)),
                                    )),
                            )
                            .map_err(err)?;
                    }
                }
                None => na(&estimate, 0.5, y, colour)?,
            }
            if s == 0 {
                continue;
            }
            match r.diff_vs_reference[s] {
                Some(d) => {
                    let [a, b] = d.diff_ci95_paired;
                    difference
                        .draw_series([
                            PathElement::new(vec![(a, y), (b, y)], colour.stroke_width(3))
                                .into_dyn(),
                            Circle::new((d.diff, y), dot, colour.filled()).into_dyn(),
                        ])
                        .map_err(err)?;
                    if labels {
                        // Outward from zero, unless that runs off the panel's edge.
                        let outward_right = d.diff >= 0.0;
                        let room = if outward_right {
                            b < 0.5 * span
                        } else {
                            a > -0.5 * span
                        };
                        let (side, at, dx) = if outward_right == room {
                            (HPos::Left, b, 10)
                        } else {
                            (HPos::Right, a, -10)
                        };
                        difference
                            .plotting_area()
                            .draw(
                                &(EmptyElement::at((at, y))
                                    + Text::new(
                                        points(d.diff),
                                        (dx, 0),
                                        small.clone().pos(Pos::new(side, VPos::Center)),
                                    )),
                            )
                            .map_err(err)?;
                    }
                }
                None => na(&difference, 0.0, y, colour)?,
            }
        }
    }
    // The metric names, level with their groups.
    let (_, top) = names.get_base_pixel();
    let max_w = names.dim_in_pixel().0 as i32 - 30;
    for (i, r) in rows.iter().enumerate() {
        let mid = (y_of(i, 0) + y_of(i, k - 1)) / 2.0;
        let (_, py) = estimate.backend_coord(&(0.0, mid));
        let lines = wrap(&names, &r.name, &label_font(), max_w, 2)?;
        let h = area.estimate_text_size("Ag", &label_font()).map_err(err)?.1 as i32 * 6 / 5;
        let y0 = py - top - h * lines.len() as i32 / 2;
        for (j, line) in lines.into_iter().enumerate() {
            names
                .draw(&Text::new(line, (20, y0 + j as i32 * h), label_font()))
                .map_err(err)?;
        }
    }
    Ok(())
}

/// How `compare_cash.png` draws scenario `i`'s line: every other one after the reference
/// dashed, so equal lines still show as two.
fn cash_line_mark(i: usize) -> Mark {
    if i.is_multiple_of(2) && i > 0 {
        Mark::Dashed(scenario_colour(i))
    } else {
        Mark::Line(scenario_colour(i))
    }
}

fn compare_cash<DB: DrawingBackend>(c: &Comparison, area: &DrawingArea<DB, Shift>) -> Result {
    let band = format!("{}: 25-75% of paths", c.scenarios[0].label);
    let area = &scenario_legend(
        c,
        area,
        cash_line_mark,
        &[
            (Mark::Block(tint(scenario_colour(0), 0.18)), &band),
            (Mark::Note, "lines: medians of the paths still operating"),
        ],
    )?;
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
        .y_labels(y_ticks(area))
        .light_line_style(WHITE)
        .bold_line_style(LIGHT)
        .x_desc("year")
        .y_desc(format!("cash ({}{})", r.unit.currency, r.unit.scale))
        .x_labels(((x1 - x0).ceil() as usize + 1).max(2))
        .x_label_formatter(&year_label)
        .y_label_formatter(&ticks(r, lo, hi))
        .label_style(axis_font())
        .axis_desc_style(label_font())
        .draw()
        .map_err(err)?;
    // Only the reference keeps its band: five overlapping bands hide each other's lines.
    let reference = &series[0];
    chart
        .draw_series(std::iter::once(Polygon::new(
            band_polygon(&reference.cash.x, &reference.cash.p25, &reference.cash.p75),
            scenario_colour(0).mix(0.18).filled(),
        )))
        .map_err(err)?;
    // The reference is drawn last, on top; the others dashed by turns so that equal lines
    // still show as two.
    for (i, d) in series
        .iter()
        .enumerate()
        .skip(1)
        .chain(series.iter().enumerate().take(1))
    {
        let colour = scenario_colour(i);
        let points: Vec<(f64, f64)> = d
            .cash
            .x
            .iter()
            .copied()
            .zip(d.cash.p50.iter().copied())
            .collect();
        if let Mark::Dashed(_) = cash_line_mark(i) {
            chart
                .draw_series(DashedLineSeries::new(points, 14, 8, colour.stroke_width(4)))
                .map_err(err)?;
        } else {
            chart
                .draw_series(LineSeries::new(
                    points,
                    colour.stroke_width(if i == 0 { 5 } else { 4 }),
                ))
                .map_err(err)?;
        }
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
    let t = &reference.target;
    let r = &c.scenarios[0].summary;
    // Each scenario's P(>= target) is in its legend entry, not in a box over the curves.
    let mut legend = scenario_entries(c, |i| Mark::Line(scenario_colour(i)), &[]);
    for (entry, d) in legend.iter_mut().zip(&charts) {
        match d {
            Some(d) => {
                let p = percent(d.target.probability);
                entry.1 = format!("{}: P(>= {}) = {p}", entry.1, m(r, t.revenue));
            }
            None => entry.1 = format!("{}: no target", entry.1),
        }
    }
    let area = &legend_band(area, &legend)?;
    let x_hi = charts
        .iter()
        .flatten()
        .filter_map(|d| d.cdf.last().map(|p| p.0))
        .fold(t.revenue * 1.1, f64::max);
    let mut chart = ChartBuilder::on(area)
        .margin(20)
        .margin_right(50)
        .x_label_area_size(60)
        .y_label_area_size(110)
        .build_cartesian_2d(0.0..x_hi * 1.05, 0.0..1.0)
        .map_err(err)?;
    chart
        .configure_mesh()
        .y_labels(y_ticks(area))
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
    for (i, d) in charts.iter().enumerate() {
        if let Some(d) = d {
            chart
                .draw_series(LineSeries::new(
                    d.cdf.iter().copied(),
                    scenario_colour(i).stroke_width(4),
                ))
                .map_err(err)?;
        }
    }
    Ok(())
}

/// The ids of every compared scenario's investors, in order of first appearance.
fn compared_investors(c: &Comparison) -> Vec<(String, String)> {
    let mut ids: Vec<(String, String)> = Vec::new();
    for s in &c.scenarios {
        for i in &s.summary.investors {
            if !ids.iter().any(|(id, _)| *id == i.id) {
                ids.push((i.id.clone(), i.name.clone()));
            }
        }
    }
    ids
}

/// `compare_investors.png`'s rows: per investor, a bar per scenario (the mean net position, the
/// statistic of the comparison's table, with 5-95% whiskers), `n/a` where a scenario lacks it.
fn compare_investor_groups(c: &Comparison) -> Vec<rows::Group> {
    compared_investors(c)
        .into_iter()
        .map(|(id, name)| rows::Group {
            name,
            note: String::new(),
            bars: c
                .scenarios
                .iter()
                .enumerate()
                .map(|(k, s)| {
                    let i = s.summary.investors.iter().find(|i| i.id == id)?;
                    Some(rows::Bar {
                        colour: scenario_colour(k),
                        value: i.net_position.mean,
                        whisker: (i.net_position.p5, i.net_position.p95),
                    })
                })
                .collect(),
        })
        .collect()
}

fn compare_investors_legend(c: &Comparison) -> Vec<(Mark, String)> {
    scenario_entries(
        c,
        |i| Mark::Block(scenario_colour(i)),
        &[(
            Mark::Note,
            "bars: means (as in the table), whiskers: 5-95% of paths",
        )],
    )
}

fn compare_investors_height(c: &Comparison, look: style::Look) -> u32 {
    rows::height(
        &compare_investor_groups(c),
        &compare_investors_legend(c),
        Chart::Compare(CompareChart::Investors, c),
        look,
    )
}

fn compare_investors<DB: DrawingBackend>(
    c: &Comparison,
    area: &DrawingArea<DB, Shift>,
    look: style::Look,
) -> Result {
    let groups = compare_investor_groups(c);
    if groups.is_empty() {
        return message(area, "No investors to compare.");
    }
    let r = &c.scenarios[0].summary;
    let axis = format!("net position ({}{})", r.unit.currency, r.unit.scale);
    rows::draw(r, &axis, &groups, &compare_investors_legend(c), area, look)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_keeps_the_longest_prefix_that_fits_and_wrap_keeps_within_its_lines() {
        register_fonts();
        let mut svg = String::new();
        let root = SVGBackend::with_string(&mut svg, (800, 600)).into_drawing_area();
        let font = axis_font();
        let width = |t: &str| root.estimate_text_size(t, &font).unwrap().0 as i32;
        let text = "Sovereign Wealth Fund of Somewhere ".repeat(200);
        let short = fit(&root, &text, &font, 300).unwrap();
        assert!(
            short.ends_with('\u{2026}') && width(&short) <= 300,
            "{short}"
        );
        let kept = short.chars().count() - 1;
        let longer: String = text.chars().take(kept + 1).collect::<String>() + "\u{2026}";
        assert!(width(&longer) > 300, "one more character would still fit");
        assert_eq!(fit(&root, "Nvidia", &font, 300).unwrap(), "Nvidia");
        assert_eq!(fit(&root, "Nvidia", &font, 1).unwrap(), "\u{2026}");
        let lines = wrap(&root, &text, &font, 300, 2).unwrap();
        assert_eq!(lines.len(), 2);
        assert!(lines.iter().all(|l| width(l) <= 300), "{lines:?}");
        assert_eq!(lines[0], "Sovereign Wealth Fund of");
    }

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
