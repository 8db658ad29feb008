//! Reports: the summary table, `summary.json`, `periods.csv`, written atomically.
//!
//! Renderers return bytes or strings and never touch files; [`write_atomic`] is the only
//! writer, so a failure never leaves a half-written output.

pub mod charts;
pub mod compare;
pub mod document;
pub mod output;
pub mod summary;

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use crate::format::percent;
pub use summary::Summary;

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file could not be created, written or moved into place.
    #[error("cannot write {}", .path.display())]
    Write {
        /// The file.
        path: std::path::PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// A chart could not be drawn.
    #[error("cannot draw {}: {message}", .path.display())]
    Draw {
        /// The chart's file.
        path: std::path::PathBuf,
        /// What the drawing library said.
        message: String,
    },
    /// The summary could not be serialised.
    #[error("cannot serialise the summary")]
    Json(#[from] serde_json::Error),
}

/// `summary.json`, pretty-printed.
pub fn summary_json(s: &Summary) -> Result<Vec<u8>, ReportError> {
    pretty_json(s)
}

/// Any report as pretty-printed JSON ending in a newline.
pub fn pretty_json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, ReportError> {
    let mut bytes = serde_json::to_vec_pretty(value)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// `periods.csv`, tidy: one row per period, series and statistic, with the value's unit and
/// the paths it describes. `operating` (share of all paths not in default at the period's end)
/// and `insolvent_by` (share of all paths in default by then) describe every path; the bands of
/// `cash` (at the period's end), `revenue`, `costs` and `net_income` (each over the period, not
/// annualised) describe the paths operating at its end, and their value is empty when there are
/// none.
pub fn periods_csv(s: &Summary) -> String {
    const STATS: [&str; 6] = ["mean", "p5", "p25", "p50", "p75", "p95"];
    let header = ["period", "series", "statistic", "value", "unit", "paths"];
    let p = &s.periods;
    let per_period = s.money_unit(&format!("per {}", s.horizon.step));
    let at_end = s.money_unit("at the period's end");
    let mut rows = vec![header.map(String::from).to_vec()];
    for (i, label) in p.labels.iter().enumerate() {
        let label = crate::text::spreadsheet_cell(label);
        let mut row = |series: &str, statistic: &str, value: Option<f64>, unit: &str, paths| {
            rows.push(vec![
                label.clone().into_owned(),
                series.to_string(),
                statistic.to_string(),
                value.map_or_else(String::new, |v| v.to_string()),
                unit.to_string(),
                String::from(paths),
            ]);
        };
        const ALL: &str = "all";
        const OPERATING: &str = "operating at the period's end";
        row(
            "operating",
            "share",
            Some(p.operating[i]),
            "share of paths",
            ALL,
        );
        for (series, values, unit) in [
            ("cash", &p.cash, &at_end),
            ("revenue", &p.revenue, &per_period),
            ("costs", &p.costs, &per_period),
            ("net_income", &p.net_income, &per_period),
        ] {
            let x = values[i].as_ref();
            let stats = x.map(|x| [x.mean, x.p5, x.p25, x.p50, x.p75, x.p95]);
            for (k, statistic) in STATS.iter().enumerate() {
                row(series, statistic, stats.map(|v| v[k]), unit, OPERATING);
            }
        }
        row(
            "insolvent_by",
            "share",
            Some(p.insolvent_by[i]),
            "share of paths",
            ALL,
        );
    }
    csv_text(rows)
}

/// Rows as CSV through the csv crate (quoting and doubled quotes as RFC 4180 has them). Text
/// cells that come from a file go through [`crate::text::spreadsheet_cell`] first.
pub fn csv_text(rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    for row in rows {
        // Writing to a Vec cannot fail.
        let _ = w.write_record(&row);
    }
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

/// Writes a file through a temporary file in the same folder, then renames it into place.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let failed = |source| ReportError::Write {
        path: path.to_path_buf(),
        source,
    };
    let name = path.file_name().ok_or_else(|| {
        failed(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the output path has no file name",
        ))
    })?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> std::io::Result<()> {
        // Created exclusively: a file or link planted under the temporary name is not followed.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })()
    .map_err(failed);
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The summary table printed on stdout.
pub fn table(s: &Summary, throughput: Option<(f64, usize, f64)>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "cfsim {}: {} ({})",
        s.cfsim_version, s.scenario, s.file
    );
    let _ = writeln!(
        out,
        "{} paths, seed {}, {} to {} by {}; amounts in {}{}\nranges are 5th-95th percentiles, [..] are 95% intervals",
        s.paths,
        s.seed,
        s.horizon.start,
        s.horizon.end,
        s.horizon.step,
        s.unit.currency,
        s.unit.scale
    );
    if !s.overrides.is_empty() {
        let _ = writeln!(
            out,
            "With {}",
            crate::text::printable(&s.overrides.join(", "))
        );
    }
    target_table(&mut out, s);
    years_table(&mut out, s);
    insolvency_table(&mut out, s);
    tranches_table(&mut out, s);
    investors_table(&mut out, s);
    returns_table(&mut out, s);
    if let Some((rate, threads, secs)) = throughput {
        let _ = writeln!(
            out,
            "\nThroughput: {} paths/s on {threads} thread{} ({secs:.2} s)",
            thousands(rate.round() as u64),
            if threads == 1 { "" } else { "s" }
        );
    }
    out
}

/// The revenue target, for the summary table.
fn target_table(out: &mut String, s: &Summary) {
    let m = |x: f64| s.money(x);
    if let Some(t) = &s.target {
        let _ = writeln!(
            out,
            "\nRevenue target (all paths: a company in default misses it)"
        );
        let _ = writeln!(
            out,
            "  P(revenue {} >= {})   {:>7}  {}",
            t.year,
            m(t.revenue),
            percent(t.probability),
            interval(t.ci95)
        );
        let r = &t.revenue_in_year;
        let _ = writeln!(
            out,
            "  Revenue in {}: mean {} (95% half-width {}), median {}, 5-95% {} to {}",
            t.year,
            m(r.mean),
            m(1.96 * r.std_error),
            m(r.p50),
            m(r.p5),
            m(r.p95)
        );
    }
}

/// A table of the terminal summary: no borders, the first column left-aligned and the others
/// right-aligned; a header's second line names its statistic, so no figure is read as another.
fn new_table(header: &[&str]) -> comfy_table::Table {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::NOTHING);
    t.set_header(header.to_vec());
    for column in t.column_iter_mut().skip(1) {
        column.set_cell_alignment(comfy_table::CellAlignment::Right);
    }
    t
}

/// A table as text, without the padding comfy-table leaves at the end of each line.
pub(crate) fn render(t: &comfy_table::Table) -> String {
    let text = t.to_string();
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    lines.join("\n")
}

/// The company's accounts by year, for the summary table.
fn years_table(out: &mut String, s: &Summary) {
    let m = |x: f64| s.money(x);
    if !s.years.is_empty() {
        let _ = writeln!(
            out,
            "\nCompany accounts by year (operating: share of all paths not in default at the year's end;\nthe rest are medians over those paths)"
        );
        let years: Vec<String> = s.years.iter().map(|y| y.year.to_string()).collect();
        let mut header = vec!["year"];
        header.extend(years.iter().map(String::as_str));
        let mut t = new_table(&header);
        let mut row = vec!["operating".to_string()];
        row.extend(s.years.iter().map(|y| percent(y.operating)));
        t.add_row(row);
        type Pick = fn(&summary::YearSummary) -> Option<f64>;
        let rows: [(&str, Pick); 3] = [
            ("revenue, median", |y| y.revenue.map(|x| x.p50)),
            ("costs, median", |y| y.costs.map(|x| x.p50)),
            ("net income, median", |y| y.net_income.map(|x| x.p50)),
        ];
        for (name, pick) in rows {
            let mut row = vec![name.to_string()];
            row.extend(s.years.iter().map(|y| pick(y).map_or("-".to_string(), m)));
            t.add_row(row);
        }
        let _ = writeln!(out, "{}", render(&t));
    }
}

/// Insolvency, for the summary table.
fn insolvency_table(out: &mut String, s: &Summary) {
    let m = |x: f64| s.money(x);
    let ins = &s.insolvency;
    let _ = writeln!(out, "\nInsolvency (default after any rescue)");
    let _ = writeln!(
        out,
        "  P(default by {})        {:>7}  {}",
        s.horizon.end,
        percent(ins.probability),
        interval(ins.ci95)
    );
    if let Some(med) = &ins.median_period {
        let (worst, p) = ins
            .first_period
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, p)| (s.periods.labels[i].clone(), *p))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  When: median {med} among paths that default; most likely period {worst} ({} of all paths)",
            percent(p)
        );
    }
    let _ = writeln!(
        out,
        "  Rescues per path: mean {:.2}; lowest cash: median {}, 5% of paths below {}",
        ins.rescues.mean,
        m(s.company.min_cash.p50),
        m(s.company.min_cash.p5)
    );
}

/// The tranches, for the summary table.
fn tranches_table(out: &mut String, s: &Summary) {
    if s.tranches.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\nTranches (shares of all paths; the period is the median among paths that release)"
    );
    let mut t = new_table(&[
        "tranche",
        "investor",
        "released",
        "95% interval",
        "lapsed:\nwindow ended",
        "lapsed:\ndefault",
        "pending",
        "released in\n(median)",
    ]);
    if let Some(c) = t.column_mut(1) {
        c.set_cell_alignment(comfy_table::CellAlignment::Left);
    }
    let mut notes = Vec::new();
    for tr in &s.tranches {
        if tr.empty_probability >= 1.0 {
            notes.push(format!(
                "  {}: amount 0 on every path, nothing to release",
                tr.id
            ));
            continue;
        }
        if tr.empty_probability > 0.0 {
            notes.push(format!(
                "  {}: amount 0 on {} of paths",
                tr.id,
                percent(tr.empty_probability)
            ));
        }
        t.add_row(vec![
            tr.id.clone(),
            tr.investor.clone(),
            percent(tr.release_probability),
            interval(tr.ci95),
            percent(tr.expired_probability),
            percent(tr.lapsed_at_default_probability),
            percent(tr.pending_probability),
            tr.median_release_period
                .clone()
                .unwrap_or_else(|| "-".into()),
        ]);
    }
    let _ = writeln!(out, "{}", render(&t));
    for n in notes {
        let _ = writeln!(out, "{n}");
    }
}

/// The investors, for the summary table.
fn investors_table(out: &mut String, s: &Summary) {
    let m = |x: f64| s.money(x);
    if s.investors.is_empty() {
        return;
    }
    // Two tables rather than one 140 columns wide: money in and out, then the position at the end.
    let _ = writeln!(
        out,
        "\nInvestors: money in and out (over all paths; a round trip over the paths where the\ninvestor put money in)"
    );
    let mut t = new_table(&[
        "investor",
        "invested\nmean",
        "received\nmean",
        "round trip\nmean",
        "margin\nmean",
        "paid back\nby the end",
    ]);
    for i in &s.investors {
        t.add_row(vec![
            i.id.clone(),
            m(i.invested.mean),
            m(i.received.mean),
            match &i.round_trip {
                Some(r) => format!("{:.2}x", r.mean),
                None => "-".into(),
            },
            m(i.margin_earned.mean),
            percent(i.payback_probability),
        ]);
    }
    let _ = writeln!(out, "{}", render(&t));
    let _ = writeln!(
        out,
        "\nInvestors: position at the horizon's end (over all paths)"
    );
    let mut t = new_table(&[
        "investor",
        "stake\nmean",
        "equity value\nmean",
        "net position\nmean",
        "net position\nmedian",
        "net position\n5-95%",
    ]);
    for i in &s.investors {
        t.add_row(vec![
            i.id.clone(),
            percent(i.stake.mean),
            m(i.equity_value.mean),
            m(i.net_position.mean),
            m(i.net_position.p50),
            format!("{} to {}", m(i.net_position.p5), m(i.net_position.p95)),
        ]);
    }
    let _ = writeln!(out, "{}", render(&t));
    let lenders: Vec<_> = s
        .investors
        .iter()
        .filter_map(|i| i.debt.as_ref().map(|d| (i, d)))
        .collect();
    if !lenders.is_empty() {
        let _ = writeln!(
            out,
            "\nLoans (principal repaid + what the loans are worth at the horizon, met before equity)"
        );
        let mut t = new_table(&[
            "lender",
            "debt value\nmean",
            "debt value\nmedian",
            "debt value\n5-95%",
            "unrecovered\nmean",
        ]);
        for (i, d) in lenders {
            t.add_row(vec![
                i.id.clone(),
                m(d.value.mean),
                m(d.value.p50),
                format!("{} to {}", m(d.value.p5), m(d.value.p95)),
                m(d.unrecovered.mean),
            ]);
        }
        let _ = writeln!(out, "{}", render(&t));
    }
}

/// Circularity, cycles and sellers' backlog, for the summary table.
fn returns_table(out: &mut String, s: &Summary) {
    let m = |x: f64| s.money(x);
    if let Some(c) = &s.circularity {
        let _ = writeln!(
            out,
            "\nCircularity: mean {:.3} (95% half-width {:.3}), median {:.2}, 5-95% {:.2} to {:.2}\n  (money from the company that reached the investors, each dollar once / money they invested)",
            c.mean,
            1.96 * c.std_error,
            c.p50,
            c.p5,
            c.p95
        );
    }
    if !s.cycles.is_empty() {
        let count = match &s.cycle_count {
            None => String::new(),
            Some(c) if c.complete => format!("the {} largest of {}; ", s.cycles.len(), c.found),
            Some(c) => format!(
                "the {} largest of at least {} (enumeration stopped); ",
                s.cycles.len(),
                c.found
            ),
        };
        let _ = writeln!(
            out,
            "Cycles ({count}money that went all the way round; median, 5-95%):"
        );
        for cy in &s.cycles {
            let mut names = cy.entities.clone();
            names.push(cy.entities[0].clone());
            let _ = writeln!(
                out,
                "  {:40} {} ({} to {})",
                names.join(" -> "),
                m(cy.volume.p50),
                m(cy.volume.p5),
                m(cy.volume.p95)
            );
        }
    }
    if !s.sellers.is_empty() {
        let _ = writeln!(
            out,
            "Sellers' backlog (mean): stranded at default / due after the horizon"
        );
        for b in &s.sellers {
            let _ = writeln!(
                out,
                "  {:12} {} / {}",
                b.id,
                m(b.stranded_backlog.mean),
                m(b.terminal_backlog.mean)
            );
        }
    }
}

/// A 95% interval of probabilities: `[12%, 15%]`.
fn interval(c: [f64; 2]) -> String {
    format!("[{}, {}]", percent(c[0]), percent(c[1]))
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
