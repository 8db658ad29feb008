//! Chart styles: the same drawing at the size and text scale of a web page, a printed report
//! or a slide.
//!
//! Every chart is drawn in logical pixels by the same code; [`Scaled`] is a drawing backend that
//! multiplies coordinates, stroke widths and font sizes by the style's scale on their way to the
//! real backend, and raises every font to the style's smallest size. The guarantee that matters
//! for print (text of at least 7 pt when the chart is 3.25 inches wide) therefore holds for every
//! piece of text by construction, not chart by chart.

use plotters::prelude::*;
use plotters::style::FontDesc;
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind,
};

/// Who the charts are for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Style {
    /// 1600x1000 pixels, text for a screen (the default).
    #[default]
    Web,
    /// 1600x1600 pixels; every text at least 7 pt when printed 3.25 inches wide (one column).
    Report,
    /// 1920x1080 pixels (16:9), large text for a projected slide.
    Slide,
}

/// A style's canvas: logical size, scale to pixels, smallest font.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Look {
    /// Width and height in logical pixels, the units the charts are drawn in.
    pub size: (u32, u32),
    /// Image pixels per logical pixel.
    pub scale: f64,
    /// Smallest font size, in logical pixels.
    pub min_font: f64,
}

/// Width at which a report's charts are printed, in inches (one column of a two-column page).
pub const PRINT_WIDTH_IN: f64 = 3.25;
/// Width at which a report's page-wide figures (grids of panels) are printed, in inches.
pub const PAGE_WIDTH_IN: f64 = 6.5;
/// Smallest text size of a printed chart, in points.
pub const PRINT_MIN_PT: f64 = 7.0;

/// A plotters font size over the font's em, the size a point size measures. Plotters sizes a
/// font by its line height: DejaVu Sans's em is 0.86 of that in bitmaps, and the SVG backend
/// writes `size / 1.24` as its `font-size`, so 1.24 is the stricter of the two.
pub const SIZE_PER_EM: f64 = 1.24;

/// The em, in logical pixels, of text `points` high on a canvas `width` logical pixels wide
/// printed `inches` wide.
pub fn em_px(points: f64, width: u32, inches: f64) -> f64 {
    points / 72.0 / inches * width as f64
}

impl Style {
    /// The canvas of this style.
    pub fn look(self) -> Look {
        match self {
            Style::Web => Look {
                size: (1600, 1000),
                scale: 1.0,
                min_font: 0.0,
            },
            // Square: a one-column figure with 7-pt text needs the height for its legend above
            // the plot and the plot itself.
            Style::Report => Look {
                size: (800, 800),
                scale: 2.0,
                min_font: (em_px(PRINT_MIN_PT, 800, PRINT_WIDTH_IN) * SIZE_PER_EM).ceil(),
            },
            Style::Slide => Look {
                size: (1280, 720),
                scale: 1.5,
                min_font: 26.0,
            },
        }
    }
}

impl Style {
    /// The canvas of a chart made of a grid of panels (a sweep's, a sensitivity analysis'):
    /// in a report it is a page-wide figure, 1600x1200 with text of at least 7 pt printed
    /// [`PAGE_WIDTH_IN`] inches wide, since seven panels cannot hold 7-pt text in one column.
    pub fn page_look(self) -> Look {
        match self {
            Style::Report => Look {
                size: (1600, 1200),
                scale: 1.0,
                min_font: (em_px(PRINT_MIN_PT, 1600, PAGE_WIDTH_IN) * SIZE_PER_EM).ceil(),
            },
            other => other.look(),
        }
    }
}

impl Look {
    /// Image size in pixels of a logical canvas `size`.
    pub fn pixels(&self, size: (u32, u32)) -> (u32, u32) {
        (
            (size.0 as f64 * self.scale).round() as u32,
            (size.1 as f64 * self.scale).round() as u32,
        )
    }
}

/// A drawing backend drawn in logical pixels: coordinates, strokes and fonts are scaled by
/// `look.scale` before they reach `inner`, and fonts are at least `look.min_font`.
pub struct Scaled<DB: DrawingBackend> {
    inner: DB,
    look: Look,
}

impl<DB: DrawingBackend> Scaled<DB> {
    /// Wraps `inner`, whose size must be `look.pixels(logical size)`.
    pub fn new(inner: DB, look: Look) -> Self {
        Scaled { inner, look }
    }

    fn at(&self, (x, y): BackendCoord) -> BackendCoord {
        let k = self.look.scale;
        ((x as f64 * k).round() as i32, (y as f64 * k).round() as i32)
    }

    fn font<'a, T: BackendTextStyle>(&self, style: &'a T) -> TextStyle<'a> {
        let size = style.size().max(self.look.min_font) * self.look.scale;
        let font: FontDesc<'a> = FontDesc::new(style.family(), size, style.style());
        TextStyle {
            font: font.transform(style.transform()),
            color: style.color(),
            pos: style.anchor(),
        }
    }
}

/// A stroke with its width scaled.
struct Stroke {
    color: BackendColor,
    width: u32,
}

impl BackendStyle for Stroke {
    fn color(&self) -> BackendColor {
        self.color
    }
    fn stroke_width(&self) -> u32 {
        self.width
    }
}

impl<DB: DrawingBackend> Scaled<DB> {
    fn stroke<S: BackendStyle>(&self, s: &S) -> Stroke {
        Stroke {
            color: s.color(),
            width: ((s.stroke_width() as f64 * self.look.scale).round() as u32).max(1),
        }
    }
}

type Outcome<E> = Result<(), DrawingErrorKind<E>>;

impl<DB: DrawingBackend> DrawingBackend for Scaled<DB> {
    type ErrorType = DB::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        let (w, h) = self.inner.get_size();
        (
            (w as f64 / self.look.scale).round() as u32,
            (h as f64 / self.look.scale).round() as u32,
        )
    }

    fn ensure_prepared(&mut self) -> Outcome<DB::ErrorType> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Outcome<DB::ErrorType> {
        self.inner.present()
    }

    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> Outcome<DB::ErrorType> {
        let (x0, y0) = self.at(point);
        let (x1, y1) = self.at((point.0 + 1, point.1 + 1));
        if (x1 - x0, y1 - y0) == (1, 1) {
            return self.inner.draw_pixel((x0, y0), color);
        }
        self.inner
            .draw_rect((x0, y0), (x1 - 1, y1 - 1), &color, true)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Outcome<DB::ErrorType> {
        let (a, b, s) = (self.at(from), self.at(to), self.stroke(style));
        self.inner.draw_line(a, b, &s)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Outcome<DB::ErrorType> {
        let (a, b, s) = (
            self.at(upper_left),
            self.at(bottom_right),
            self.stroke(style),
        );
        self.inner.draw_rect(a, b, &s, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Outcome<DB::ErrorType> {
        let points: Vec<BackendCoord> = path.into_iter().map(|p| self.at(p)).collect();
        let s = self.stroke(style);
        self.inner.draw_path(points, &s)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Outcome<DB::ErrorType> {
        let (c, s) = (self.at(center), self.stroke(style));
        let r = (radius as f64 * self.look.scale).round() as u32;
        self.inner.draw_circle(c, r, &s, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Outcome<DB::ErrorType> {
        let points: Vec<BackendCoord> = vert.into_iter().map(|p| self.at(p)).collect();
        let s = self.stroke(style);
        self.inner.fill_polygon(points, &s)
    }

    fn draw_text<T: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &T,
        pos: BackendCoord,
    ) -> Outcome<DB::ErrorType> {
        let font = self.font(style);
        let at = self.at(pos);
        self.inner.draw_text(text, &font, at)
    }

    fn estimate_text_size<T: BackendTextStyle>(
        &self,
        text: &str,
        style: &T,
    ) -> Result<(u32, u32), DrawingErrorKind<DB::ErrorType>> {
        let (w, h) = self.inner.estimate_text_size(text, &self.font(style))?;
        let k = self.look.scale;
        Ok(((w as f64 / k).ceil() as u32, (h as f64 / k).ceil() as u32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_style_prints_its_smallest_text_at_seven_points_or_more() {
        let look = Style::Report.look();
        let em = look.min_font / SIZE_PER_EM;
        let points = em / look.size.0 as f64 * PRINT_WIDTH_IN * 72.0;
        assert!(points >= PRINT_MIN_PT, "{points} pt");
        assert!(
            points < PRINT_MIN_PT + 0.5,
            "{points} pt: larger than needed"
        );
    }

    #[test]
    fn a_page_wide_report_figure_prints_its_smallest_text_at_seven_points_or_more() {
        let look = Style::Report.page_look();
        let points = look.min_font / SIZE_PER_EM / look.size.0 as f64 * PAGE_WIDTH_IN * 72.0;
        assert!(
            (PRINT_MIN_PT..PRINT_MIN_PT + 0.5).contains(&points),
            "{points} pt"
        );
        assert_eq!(Style::Web.page_look(), Style::Web.look());
    }

    #[test]
    fn a_scaled_canvas_reports_its_logical_size_and_draws_at_full_resolution() {
        let look = Style::Report.look();
        let (w, h) = look.pixels(look.size);
        let mut svg = String::new();
        {
            let backend = Scaled::new(SVGBackend::with_string(&mut svg, (w, h)), look);
            assert_eq!(backend.get_size(), look.size);
            let root = backend.into_drawing_area();
            let font = ("sans-serif", 10.0).into_font();
            root.draw(&Text::new("x", (100, 50), font)).unwrap();
            root.draw(&Circle::new(
                (10, 10),
                5,
                ShapeStyle::from(&BLACK).stroke_width(2),
            ))
            .unwrap();
            root.present().unwrap();
        }
        // The 10 px font is raised to the smallest size and doubled; positions are doubled.
        let size = format!("font-size=\"{}\"", look.min_font * look.scale / SIZE_PER_EM);
        assert!(svg.contains(&size), "{svg}");
        assert!(
            svg.contains("cx=\"20\"") && svg.contains("r=\"10\""),
            "{svg}"
        );
        assert!(svg.contains("stroke-width=\"4\""), "{svg}");
    }
}
