//! The comparison of funding structures: `comparison.json`, `comparison.csv` and the
//! side-by-side table. Differences are "scenario minus reference", path by path, under common
//! random numbers; each carries a paired 95% interval and, for contrast, the unpaired one.

use std::fmt::Write as _;

use serde::Serialize;

use crate::engine::Extract;
use crate::engine::{ManyResult, MetricKind, Model, PairedMetric};
use crate::format::percent;
use crate::report::Summary;
use crate::report::summary::Measure;
use crate::scenario::Scenario;
use crate::stats::{Stat, wilson};

/// A value with its 95% interval.
#[derive(Clone, Copy, Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct Estimate {
    /// Mean over paths (a probability for 0/1 metrics).
    pub mean: f64,
    /// 95% interval (Wilson for probabilities).
    pub ci95: [f64; 2],
    /// Paths where the metric is defined.
    pub count: u64,
}

/// A difference against the reference.
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
pub struct Difference {
    /// Mean of (scenario - reference) over paths.
    pub diff: f64,
    /// Paired 95% interval (common random numbers).
    pub diff_ci95_paired: [f64; 2],
    /// Unpaired 95% interval, as if the scenarios had been run on independent draws.
    pub diff_ci95_unpaired: [f64; 2],
    /// Standard error of the paired difference.
    pub diff_std_error_paired: f64,
}

/// One compared metric.
#[derive(Clone, Debug, Serialize)]
pub struct MetricRow {
    /// Name.
    pub name: String,
    /// probability, amount or ratio.
    pub kind: MetricKind,
    /// True for a tranche's release.
    #[serde(skip)]
    pub release: bool,
    /// What its values are measured in, and over what (`$B in total over the horizon`).
    pub unit: String,
    /// Per scenario, the reference first (null where the metric does not exist).
    pub values: Vec<Option<Estimate>>,
    /// Per scenario, the difference against the reference (null for the reference itself).
    pub diff_vs_reference: Vec<Option<Difference>>,
}

/// One compared scenario.
#[derive(Clone, Debug, Serialize)]
pub struct ComparedScenario {
    /// Label in tables and charts.
    pub label: String,
    /// File it was read from.
    pub file: String,
    /// Overrides applied (`name=value`).
    pub overrides: Vec<String>,
    /// Its full run summary.
    pub summary: Summary,
}

/// Version of the layout of `comparison.json`.
pub const SCHEMA_VERSION: u32 = 1;

/// What `comparison.json` holds.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Version of cfsim.
    pub cfsim_version: String,
    /// Paths per scenario.
    pub paths: u64,
    /// Seed shared by every scenario.
    pub seed: u64,
    /// Label of the reference (the first scenario).
    pub reference: String,
    /// The scenarios, the reference first.
    pub scenarios: Vec<ComparedScenario>,
    /// Key metrics side by side, with differences.
    pub metrics: Vec<MetricRow>,
}

/// What a compared metric measures.
fn measure(e: Extract) -> Measure {
    match e {
        Extract::TargetHit | Extract::Insolvent | Extract::Released(_) => Measure::Share,
        Extract::Circularity | Extract::RoundTrip(_) => Measure::Ratio,
        Extract::PeakCashNeed => Measure::Largest,
        Extract::Invested(_) | Extract::Received(_) => Measure::Total,
        Extract::NetPosition(_) => Measure::AtEnd,
        Extract::TargetRevenue => Measure::TargetYear,
    }
}

fn estimate(s: &Stat, probability: bool) -> Option<Estimate> {
    let m = s.moments();
    if m.n == 0 {
        return None;
    }
    let ci95 = if probability {
        wilson((m.mean * m.n as f64).round() as u64, m.n).ci95
    } else {
        let h = 1.96 * m.std_error();
        [m.mean - h, m.mean + h]
    };
    Some(Estimate {
        mean: m.mean,
        ci95,
        count: m.n,
    })
}

impl Comparison {
    /// Builds the comparison from a joint run of `models`, compiled from `scenarios`.
    pub fn new(
        scenarios: &[Scenario],
        models: &[Model],
        labels: &[(String, String, Vec<String>)],
        metrics: &[PairedMetric],
        run: &ManyResult,
        seed: u64,
    ) -> Comparison {
        let scenarios: Vec<ComparedScenario> = scenarios
            .iter()
            .zip(models)
            .zip(labels)
            .zip(&run.stats)
            .map(
                |(((s, m), (label, file, overrides)), stats)| ComparedScenario {
                    label: label.clone(),
                    file: file.clone(),
                    overrides: overrides.clone(),
                    summary: Summary::new(s, m, stats, seed),
                },
            )
            .collect();
        let reference_summary = &scenarios[0].summary;
        let rows = metrics
            .iter()
            .enumerate()
            .map(|(k, metric)| {
                let probability = metric.kind() == MetricKind::Probability;
                let values: Vec<Option<Estimate>> = run.paired.values[k]
                    .iter()
                    .map(|s| estimate(s, probability))
                    .collect();
                let reference = run.paired.values[k][0].moments();
                let diffs = run.paired.diffs[k]
                    .iter()
                    .enumerate()
                    .map(|(s, d)| {
                        let d = d.moments();
                        if s == 0 || d.n == 0 {
                            return None;
                        }
                        let own = run.paired.values[k][s].moments();
                        let paired = 1.96 * d.std_error();
                        let unpaired =
                            1.96 * (own.std_error().powi(2) + reference.std_error().powi(2)).sqrt();
                        Some(Difference {
                            diff: d.mean,
                            diff_ci95_paired: [d.mean - paired, d.mean + paired],
                            diff_ci95_unpaired: [d.mean - unpaired, d.mean + unpaired],
                            diff_std_error_paired: d.std_error(),
                        })
                    })
                    .collect();
                MetricRow {
                    name: metric.name.clone(),
                    kind: metric.kind(),
                    unit: metric
                        .per_scenario
                        .iter()
                        .flatten()
                        .next()
                        .map_or_else(String::new, |&e| reference_summary.unit_of(measure(e))),
                    release: metric.is_release(),
                    values,
                    diff_vs_reference: diffs,
                }
            })
            .collect();
        Comparison {
            schema_version: SCHEMA_VERSION,
            cfsim_version: env!("CARGO_PKG_VERSION").to_string(),
            paths: run.stats[0].paths,
            seed,
            reference: labels[0].0.clone(),
            scenarios,
            metrics: rows,
        }
    }

    fn fmt(&self, kind: MetricKind, x: f64) -> String {
        let s = &self.scenarios[0].summary;
        match kind {
            MetricKind::Probability => percent(x),
            MetricKind::Ratio => format!("{x:.2}"),
            MetricKind::Amount => s.money(x),
        }
    }

    fn fmt_diff(&self, kind: MetricKind, x: f64) -> String {
        let sign = if x >= 0.0 { "+" } else { "-" };
        match kind {
            MetricKind::Probability => format!("{sign}{:.1}pt", x.abs() * 100.0),
            MetricKind::Ratio | MetricKind::Amount => format!("{sign}{}", self.fmt(kind, x.abs())),
        }
    }

    /// The side-by-side table printed on stdout.
    pub fn table(&self, throughput: Option<(f64, usize, f64)>) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "cfsim {}: comparison of {} scenarios, {} paths each, seed {} (common random numbers)",
            self.cfsim_version,
            self.scenarios.len(),
            self.paths,
            self.seed
        );
        let _ = writeln!(
            out,
            "P(...) are shares of all paths, other figures means over all paths (a round trip over the paths where the investor put money in); below each, the difference from the reference `{}` with its paired 95% interval.",
            self.reference
        );
        for sc in &self.scenarios {
            let with = if sc.overrides.is_empty() {
                String::new()
            } else {
                format!(" with {}", sc.overrides.join(", "))
            };
            let _ = writeln!(
                out,
                "  {}: {}{}",
                crate::text::printable(&sc.label),
                crate::text::printable(&sc.file),
                crate::text::printable(&with)
            );
        }
        out.push('\n');
        let mut header = vec![String::new()];
        header.extend(
            self.scenarios
                .iter()
                .map(|s| crate::text::printable(&s.label).into_owned()),
        );
        let mut t = comfy_table::Table::new();
        t.load_preset(comfy_table::presets::NOTHING);
        t.set_header(header);
        for column in t.column_iter_mut().skip(1) {
            column.set_cell_alignment(comfy_table::CellAlignment::Right);
        }
        let mut row = vec!["default period, median among paths that default".to_string()];
        row.extend(self.scenarios.iter().map(|s| {
            s.summary
                .insolvency
                .median_period
                .clone()
                .unwrap_or_else(|| "-".into())
        }));
        t.add_row(row);
        for m in &self.metrics {
            // Tranches paid on almost every path of every scenario (they show as 100%) say
            // nothing in a table; comparison.json and .csv keep them.
            let certain = m.release && m.values.iter().flatten().all(|v| v.mean >= 0.9995);
            if certain {
                continue;
            }
            let name = match m.kind {
                MetricKind::Probability => m.name.clone(),
                _ => format!("{}, mean", m.name),
            };
            let mut row = vec![crate::text::printable(&name).into_owned()];
            row.extend(m.values.iter().map(|v| {
                v.map(|v| self.fmt(m.kind, v.mean))
                    .unwrap_or_else(|| "n/a".into())
            }));
            t.add_row(row);
            if m.diff_vs_reference.iter().any(Option::is_some) {
                let mut diff = vec!["  difference [95%]".to_string()];
                diff.extend(m.diff_vs_reference.iter().map(|d| match d {
                    Some(d) => format!(
                        "{} [{}, {}]",
                        self.fmt_diff(m.kind, d.diff),
                        self.fmt_diff(m.kind, d.diff_ci95_paired[0]),
                        self.fmt_diff(m.kind, d.diff_ci95_paired[1])
                    ),
                    None => String::new(),
                }));
                t.add_row(diff);
            }
        }
        let _ = writeln!(out, "{}", crate::report::render(&t));
        if let Some((rate, threads, secs)) = throughput {
            let _ = writeln!(
                out,
                "\nThroughput: {} paths/s per scenario on {threads} threads ({secs:.2} s)",
                crate::report::thousands(rate.round() as u64)
            );
        }
        out
    }

    /// `comparison.csv`, tidy: one row per metric and scenario, with the metric's unit and the
    /// number of paths its mean describes.
    pub fn csv(&self) -> String {
        let header = "metric,kind,unit,scenario,paths,mean,ci95_low,ci95_high,diff,diff_ci95_paired_low,diff_ci95_paired_high,diff_ci95_unpaired_low,diff_ci95_unpaired_high"
            .split(',')
            .map(String::from)
            .collect();
        let mut rows = vec![header];
        for m in &self.metrics {
            for (s, (v, d)) in m.values.iter().zip(&m.diff_vs_reference).enumerate() {
                let mut row = vec![
                    crate::text::spreadsheet_cell(&m.name).into_owned(),
                    m.kind.to_string(),
                    m.unit.clone(),
                    crate::text::spreadsheet_cell(&self.scenarios[s].label).into_owned(),
                ];
                match v {
                    Some(v) => {
                        row.push(v.count.to_string());
                        row.extend([v.mean, v.ci95[0], v.ci95[1]].map(|x| x.to_string()));
                    }
                    None => {
                        row.extend(["0".to_string(), String::new(), String::new(), String::new()])
                    }
                }
                match d {
                    Some(d) => row.extend(
                        [
                            d.diff,
                            d.diff_ci95_paired[0],
                            d.diff_ci95_paired[1],
                            d.diff_ci95_unpaired[0],
                            d.diff_ci95_unpaired[1],
                        ]
                        .map(|x| x.to_string()),
                    ),
                    None => row.extend(std::iter::repeat_n(String::new(), 5)),
                }
                rows.push(row);
            }
        }
        super::csv_text(rows)
    }
}
