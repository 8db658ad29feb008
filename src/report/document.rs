//! `report.md` (and, with `--html`, `report.html`): a run's headline figures with their
//! intervals, its tables, its charts and its assumptions with their sources, ready to paste
//! into a memo or to convert. Both files come from one [`Document`], so they always agree.

use std::fmt::Write as _;

use super::Summary;
use crate::format::percent;

/// A block of a report.
enum Block {
    /// A heading of level 1 or 2.
    Heading(u8, String),
    /// A paragraph of plain text.
    Paragraph(String),
    /// A table: the header and the rows (columns of numbers are right-aligned).
    Table(Vec<String>, Vec<Vec<String>>),
    /// A chart: its file (beside the report) and its caption.
    Image(String, String),
}

/// Whether each column holds numbers (amounts, shares, periods), to be right-aligned.
fn numeric_columns(header: &[String], rows: &[Vec<String>]) -> Vec<bool> {
    (0..header.len())
        .map(|i| {
            i > 0
                && rows.iter().all(|r| {
                    r.get(i)
                        .and_then(|c| c.chars().next())
                        .is_none_or(|c| c.is_ascii_digit() || "$-+<>.".contains(c))
                })
        })
        .collect()
}

/// A report, renderable as Markdown or HTML.
pub struct Document {
    blocks: Vec<Block>,
}

impl Document {
    /// The report of a run; `charts` are the chart files written beside it (by name).
    pub fn of_run(s: &Summary, charts: &[String]) -> Document {
        let m = |x: f64| s.money(x);
        let mut b = Vec::new();
        b.push(Block::Heading(
            1,
            format!("{}: what the simulation says", s.scenario),
        ));
        if !s.description.is_empty() {
            b.push(Block::Paragraph(s.description.clone()));
        }
        let with = if s.overrides.is_empty() {
            String::new()
        } else {
            format!(", with {}", s.overrides.join(", "))
        };
        b.push(Block::Paragraph(format!(
            "cfsim {}: {} paths of `{}`{with}, seed {}, {} to {} by {}. Amounts are in {}{}. \
             Probabilities are shares of all paths with Wilson 95% intervals; means carry 95% \
             intervals (mean ± 1.96 standard errors); ranges are 5th to 95th percentiles.",
            s.cfsim_version,
            crate::report::thousands(s.paths),
            s.file,
            s.seed,
            s.horizon.start,
            s.horizon.end,
            s.horizon.step,
            s.unit.currency,
            s.unit.scale
        )));

        b.push(Block::Heading(2, "Headline figures".into()));
        let interval = |c: [f64; 2]| format!("{} to {}", percent(c[0]), percent(c[1]));
        let mean_interval =
            |mean: f64, se: f64| format!("{} to {}", m(mean - 1.96 * se), m(mean + 1.96 * se));
        let mut rows = Vec::new();
        if let Some(t) = &s.target {
            rows.push(vec![
                format!("P(revenue {} ≥ {})", t.year, m(t.revenue)),
                percent(t.probability),
                interval(t.ci95),
                "all paths (a company in default misses it)".into(),
            ]);
        }
        rows.push(vec![
            format!("P(default by {})", s.horizon.end),
            percent(s.insolvency.probability),
            interval(s.insolvency.ci95),
            "all paths".into(),
        ]);
        for t in s.tranches.iter().filter(|t| t.conditional) {
            rows.push(vec![
                format!("P(released {})", t.id),
                percent(t.release_probability),
                interval(t.ci95),
                "all paths".into(),
            ]);
        }
        if let Some(c) = &s.circularity {
            rows.push(vec![
                "circularity, mean".into(),
                format!("{:.2}", c.mean),
                format!(
                    "{:.2} to {:.2}",
                    c.mean - 1.96 * c.std_error,
                    c.mean + 1.96 * c.std_error
                ),
                "paths on which the investors put money in".into(),
            ]);
        }
        for i in &s.investors {
            rows.push(vec![
                format!("{} net position, mean", i.id),
                m(i.net_position.mean),
                mean_interval(i.net_position.mean, i.net_position.std_error),
                "all paths".into(),
            ]);
        }
        b.push(Block::Table(
            ["figure", "estimate", "95% interval", "over"]
                .map(String::from)
                .to_vec(),
            rows,
        ));

        if !s.years.is_empty() {
            b.push(Block::Heading(2, "The company's accounts by year".into()));
            b.push(Block::Paragraph(
                "Operating: the share of all paths not in default at the year's end; the other rows are medians over those paths.".into(),
            ));
            let mut header = vec!["".to_string()];
            header.extend(s.years.iter().map(|y| y.year.to_string()));
            let pick = |f: fn(&super::summary::YearSummary) -> Option<f64>| {
                s.years
                    .iter()
                    .map(|y| f(y).map_or("-".to_string(), m))
                    .collect::<Vec<_>>()
            };
            let mut operating = vec!["operating".to_string()];
            operating.extend(s.years.iter().map(|y| percent(y.operating)));
            let row = |name: &str, cells: Vec<String>| {
                let mut r = vec![name.to_string()];
                r.extend(cells);
                r
            };
            b.push(Block::Table(
                header,
                vec![
                    operating,
                    row("revenue, median", pick(|y| y.revenue.map(|x| x.p50))),
                    row("costs, median", pick(|y| y.costs.map(|x| x.p50))),
                    row("net income, median", pick(|y| y.net_income.map(|x| x.p50))),
                ],
            ));
        }

        if !s.tranches.is_empty() {
            b.push(Block::Heading(2, "Tranches".into()));
            let rows = s
                .tranches
                .iter()
                .map(|t| {
                    vec![
                        t.id.clone(),
                        t.investor.clone(),
                        percent(t.release_probability),
                        interval(t.ci95),
                        percent(t.expired_probability),
                        percent(t.lapsed_at_default_probability),
                        t.median_release_period
                            .clone()
                            .unwrap_or_else(|| "-".into()),
                    ]
                })
                .collect();
            b.push(Block::Table(
                [
                    "tranche",
                    "investor",
                    "released (all paths)",
                    "95% interval",
                    "lapsed: window ended",
                    "lapsed: company defaulted",
                    "released in (median, when released)",
                ]
                .map(String::from)
                .to_vec(),
                rows,
            ));
        }

        if !s.investors.is_empty() {
            b.push(Block::Heading(2, "Investors".into()));
            let rows = s
                .investors
                .iter()
                .map(|i| {
                    vec![
                        i.id.clone(),
                        m(i.invested.mean),
                        m(i.received.mean),
                        i.round_trip
                            .as_ref()
                            .map_or("-".into(), |r| format!("{:.2}x", r.mean)),
                        m(i.net_position.mean),
                        m(i.net_position.p50),
                        format!("{} to {}", m(i.net_position.p5), m(i.net_position.p95)),
                    ]
                })
                .collect();
            b.push(Block::Table(
                [
                    "investor",
                    "invested, mean",
                    "received, mean",
                    "round trip, mean",
                    "net position, mean",
                    "net position, median",
                    "net position, 5-95%",
                ]
                .map(String::from)
                .to_vec(),
                rows,
            ));
        }

        if !charts.is_empty() {
            b.push(Block::Heading(2, "Charts".into()));
            for c in charts {
                let caption = match c.trim_end_matches(".png") {
                    "cash" => "The company's cash: median and bands over the paths still operating",
                    "revenue" => "Revenue and costs by period",
                    "target" => "Revenue in the target year over all paths",
                    "tranches" => "When each tranche is released",
                    "investors" => {
                        "Each investor: money in, money back, net position (medians, 5-95% whiskers)"
                    }
                    "flows" => "The money-flow graph",
                    other => other,
                };
                b.push(Block::Image(c.clone(), caption.to_string()));
            }
        }

        b.push(Block::Heading(2, "Assumptions and their sources".into()));
        let rows = s
            .params
            .iter()
            .map(|p| {
                vec![
                    p.name.clone(),
                    match &p.value {
                        super::summary::ParamValue::Number(x) => format!("{x}"),
                        super::summary::ParamValue::Distribution(d) => d.text.clone(),
                    },
                    p.source.clone().unwrap_or_else(|| "(none given)".into()),
                ]
            })
            .collect();
        b.push(Block::Table(
            ["param", "value", "source"].map(String::from).to_vec(),
            rows,
        ));
        let rows = s
            .flows
            .iter()
            .map(|f| {
                vec![
                    f.id.clone(),
                    f.kind.clone(),
                    format!("{} → {}", f.from, f.to),
                    m(f.total.mean),
                    f.source.clone().unwrap_or_else(|| "(none given)".into()),
                ]
            })
            .collect();
        b.push(Block::Paragraph(
            "The flows, with the money each moved over the horizon:".into(),
        ));
        b.push(Block::Table(
            ["flow", "kind", "from → to", "moved, mean", "source"]
                .map(String::from)
                .to_vec(),
            rows,
        ));
        Document { blocks: b }
    }

    /// As Markdown (GitHub's tables; images by relative path).
    pub fn markdown(&self) -> String {
        let cell = |t: &str| t.replace('|', "\\|").replace('\n', " ");
        let mut out = String::new();
        for block in &self.blocks {
            match block {
                Block::Heading(level, text) => {
                    let _ = writeln!(out, "{} {}\n", "#".repeat(*level as usize), text);
                }
                Block::Paragraph(text) => {
                    let _ = writeln!(out, "{text}\n");
                }
                Block::Table(header, rows) => {
                    let h: Vec<String> = header.iter().map(|c| cell(c)).collect();
                    let _ = writeln!(out, "| {} |", h.join(" | "));
                    let align: Vec<&str> = numeric_columns(header, rows)
                        .into_iter()
                        .map(|n| if n { "--:" } else { "---" })
                        .collect();
                    let _ = writeln!(out, "|{}|", align.join("|"));
                    for r in rows {
                        let r: Vec<String> = r.iter().map(|c| cell(c)).collect();
                        let _ = writeln!(out, "| {} |", r.join(" | "));
                    }
                    out.push('\n');
                }
                Block::Image(file, caption) => {
                    let _ = writeln!(out, "![{}]({file})\n\n*{}*\n", cell(caption), cell(caption));
                }
            }
        }
        out
    }

    /// As one HTML file; `image` gives a chart's PNG bytes, inlined so the file stands alone.
    pub fn html(&self, image: impl Fn(&str) -> Option<Vec<u8>>) -> String {
        use base64::Engine as _;
        let esc = |t: &str| {
            t.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
        };
        let title = self
            .blocks
            .iter()
            .find_map(|b| match b {
                Block::Heading(1, t) => Some(esc(t)),
                _ => None,
            })
            .unwrap_or_default();
        let mut out = format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n<style>\n\
             body {{ font-family: sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }}\n\
             table {{ border-collapse: collapse; margin: 1rem 0; }}\n\
             th, td {{ border-bottom: 1px solid #ddd; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }}\n\
             .n {{ text-align: right; }}\n\
             img {{ max-width: 100%; }} figcaption {{ font-style: italic; color: #555; }}\n\
             </style>\n</head>\n<body>\n"
        );
        for block in &self.blocks {
            match block {
                Block::Heading(level, text) => {
                    let _ = writeln!(out, "<h{level}>{}</h{level}>", esc(text));
                }
                Block::Paragraph(text) => {
                    let _ = writeln!(out, "<p>{}</p>", esc(text));
                }
                Block::Table(header, rows) => {
                    let numeric = numeric_columns(header, rows);
                    let class = |i: usize| if numeric[i] { " class=\"n\"" } else { "" };
                    out.push_str("<table>\n<thead><tr>");
                    for (i, h) in header.iter().enumerate() {
                        let _ = write!(out, "<th{}>{}</th>", class(i), esc(h));
                    }
                    out.push_str("</tr></thead>\n<tbody>\n");
                    for r in rows {
                        out.push_str("<tr>");
                        for (i, c) in r.iter().enumerate() {
                            let _ = write!(out, "<td{}>{}</td>", class(i), esc(c));
                        }
                        out.push_str("</tr>\n");
                    }
                    out.push_str("</tbody>\n</table>\n");
                }
                Block::Image(file, caption) => {
                    if let Some(bytes) = image(file) {
                        let data = base64::engine::general_purpose::STANDARD.encode(bytes);
                        let _ = writeln!(
                            out,
                            "<figure><img alt=\"{}\" src=\"data:image/png;base64,{data}\"><figcaption>{}</figcaption></figure>",
                            esc(caption),
                            esc(caption)
                        );
                    }
                }
            }
        }
        out.push_str("</body>\n</html>\n");
        out
    }
}
