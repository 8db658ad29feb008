//! Sweeps: the key metrics of a scenario over a grid of one or two params' values.
//!
//! Every point is the scenario with `--set NAME=value` for each swept param, run with the same
//! seed and path count: draws are keyed by (seed, quantity name, path), so every point sees the
//! same draws (common random numbers) and a curve moves only where the param moves it. A point
//! is exactly what `cfsim run FILE --set NAME=value` computes (the same code path, tested bit
//! for bit).

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::report::Summary;
use crate::report::compare::Estimate;
use crate::report::summary::Measure;

/// The most values one swept param may take.
pub const MAX_AXIS_POINTS: usize = 201;

/// The most points a sweep may have (the product of its axes' lengths).
pub const MAX_POINTS: usize = 2_000;

/// One swept param and the values it takes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Axis {
    /// The param's name.
    pub name: String,
    /// Its values, in the order given.
    pub values: Vec<f64>,
}

impl std::str::FromStr for Axis {
    type Err = String;

    /// `NAME=FROM:TO:STEPS` (STEPS evenly spaced values, both ends included) or
    /// `NAME=V1,V2,...`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (name, spec) = s.split_once('=').ok_or_else(|| {
            format!("`{s}` is not of the form NAME=FROM:TO:STEPS or NAME=V1,V2,...")
        })?;
        let name = name.trim();
        if !crate::scenario::reader::is_ident(name) {
            return Err(format!("`{name}` is not a param name"));
        }
        let number = |t: &str| -> Result<f64, String> {
            t.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("`{}` is not a finite number", t.trim()))
        };
        let values = match spec.split(':').collect::<Vec<_>>().as_slice() {
            [from, to, steps] => {
                let (from, to) = (number(from)?, number(to)?);
                let steps: usize = steps
                    .trim()
                    .parse()
                    .ok()
                    .filter(|n| (2..=MAX_AXIS_POINTS).contains(n))
                    .ok_or_else(|| {
                        format!(
                            "STEPS `{}` must be a whole number from 2 to {MAX_AXIS_POINTS}",
                            steps.trim()
                        )
                    })?;
                // Ends exactly as typed; inner points rounded to 12 significant digits, so
                // 0:0.3:4 gives 0.1 and 0.2, not 0.09999999999999999.
                (0..steps)
                    .map(|i| match i {
                        0 => from,
                        i if i == steps - 1 => to,
                        i => {
                            let v = from + (to - from) * i as f64 / (steps - 1) as f64;
                            format!("{v:.11e}").parse().unwrap_or(v)
                        }
                    })
                    .collect()
            }
            [list] => list
                .split(',')
                .map(number)
                .collect::<Result<Vec<f64>, String>>()?,
            _ => {
                return Err(format!(
                    "`{spec}`: expected FROM:TO:STEPS (such as 0:70:8) or a list V1,V2,..."
                ));
            }
        };
        if values.len() > MAX_AXIS_POINTS {
            return Err(format!(
                "{} values; a swept param may take at most {MAX_AXIS_POINTS}",
                values.len()
            ));
        }
        Ok(Axis {
            name: name.to_string(),
            values,
        })
    }
}

/// The grid's points, the first axis varying slowest: each point is one value per axis.
pub fn grid(axes: &[Axis]) -> Vec<Vec<f64>> {
    axes.iter().fold(vec![Vec::new()], |points, axis| {
        points
            .iter()
            .flat_map(|p| {
                axis.values.iter().map(move |&v| {
                    let mut q = p.clone();
                    q.push(v);
                    q
                })
            })
            .collect()
    })
}

/// A value as `--set` takes it, reading back as the same float (Rust's shortest round-trip
/// form, with an exponent for large and small magnitudes, so TOML reads a float).
pub fn set_value(v: f64) -> String {
    format!("{v:?}")
}

/// A key metric at one point.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PointMetric {
    /// The metric, named as `compare` names it.
    pub metric: String,
    /// What it is measured in, and over what (`share of paths`, `$B at the horizon's end`).
    pub unit: String,
    /// Its mean (a probability for P(...)), 95% interval and the paths it describes.
    #[serde(flatten)]
    pub estimate: Estimate,
}

/// The key metrics of a run, as the sweep reports them at every point: P(target), P(default),
/// each conditional tranche's release, each investor's mean net position and round trip, and
/// circularity.
pub fn key_metrics(s: &Summary) -> Vec<PointMetric> {
    let mut out = Vec::new();
    let mut push = |metric: String, measure: Measure, mean: f64, ci95: [f64; 2], count: u64| {
        out.push(PointMetric {
            metric,
            unit: s.unit_of(measure),
            estimate: Estimate { mean, ci95, count },
        })
    };
    if let Some(t) = &s.target {
        push(
            "P(target)".into(),
            Measure::Share,
            t.probability,
            t.ci95,
            s.paths,
        );
    }
    push(
        "P(insolvency)".into(),
        Measure::Share,
        s.insolvency.probability,
        s.insolvency.ci95,
        s.paths,
    );
    for t in s.tranches.iter().filter(|t| t.conditional) {
        push(
            format!("P(released {})", t.id),
            Measure::Share,
            t.release_probability,
            t.ci95,
            s.paths,
        );
    }
    let mean = |x: &crate::stats::StatSummary| {
        let h = 1.96 * x.std_error;
        (x.mean, [x.mean - h, x.mean + h], x.count)
    };
    for i in &s.investors {
        let (m, ci, n) = mean(&i.net_position);
        push(format!("{} net position", i.id), Measure::AtEnd, m, ci, n);
        if let Some(r) = &i.round_trip {
            let (m, ci, n) = mean(r);
            push(format!("{} round trip", i.id), Measure::Ratio, m, ci, n);
        }
    }
    if let Some(c) = &s.circularity {
        let (m, ci, n) = mean(c);
        push("circularity".into(), Measure::Ratio, m, ci, n);
    }
    out
}

/// One point of a sweep.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SweepPoint {
    /// The swept params' values, in the order of `Sweep::params`.
    pub values: Vec<f64>,
    /// The key metrics there.
    pub metrics: Vec<PointMetric>,
}

/// One swept scenario.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SweptScenario {
    /// Label in tables and charts (its name, made unique).
    pub label: String,
    /// The file it was read from.
    pub file: String,
    /// Its points, in grid order (the first param varying slowest).
    pub points: Vec<SweepPoint>,
}

/// Version of the layout of `sweep.json`.
pub const SCHEMA_VERSION: u32 = 1;

/// What `sweep.json` holds.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Sweep {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Version of cfsim.
    pub cfsim_version: String,
    /// Paths per point.
    pub paths: u64,
    /// Seed shared by every point.
    pub seed: u64,
    /// Other overrides applied at every point (`name=value`).
    pub overrides: Vec<String>,
    /// The swept params and their values.
    pub params: Vec<Axis>,
    /// The scenarios swept.
    pub scenarios: Vec<SweptScenario>,
}

impl Sweep {
    /// `sweep.csv`: tidy, one row per scenario, point and metric, the params' values as
    /// numbers.
    pub fn csv(&self) -> String {
        let mut header = vec!["scenario".to_string()];
        header.extend(self.params.iter().map(|a| a.name.clone()));
        header
            .extend(["metric", "unit", "mean", "ci95_low", "ci95_high", "count"].map(String::from));
        let mut rows = vec![header];
        for s in &self.scenarios {
            for p in &s.points {
                for m in &p.metrics {
                    let mut row = vec![crate::text::spreadsheet_cell(&s.label).into_owned()];
                    row.extend(p.values.iter().map(|v| v.to_string()));
                    row.push(crate::text::spreadsheet_cell(&m.metric).into_owned());
                    row.push(m.unit.clone());
                    let e = m.estimate;
                    row.extend([e.mean, e.ci95[0], e.ci95[1]].map(|v| v.to_string()));
                    row.push(e.count.to_string());
                    rows.push(row);
                }
            }
        }
        crate::report::csv_text(rows)
    }

    /// The terminal table: per scenario, a row per point with the key metrics and their 95%
    /// intervals.
    pub fn table(&self, unit: (&str, &str)) -> String {
        let mut out = String::new();
        let names: Vec<&str> = self.params.iter().map(|a| a.name.as_str()).collect();
        let _ = writeln!(
            out,
            "cfsim {}: sweep of {} over {} points, {} paths each, seed {} (common random numbers: every point sees the same draws)",
            self.cfsim_version,
            names.join(" x "),
            self.scenarios.first().map_or(0, |s| s.points.len()),
            self.paths,
            self.seed
        );
        if !self.overrides.is_empty() {
            let _ = writeln!(out, "At every point: {}", self.overrides.join(", "));
        }
        let _ = writeln!(
            out,
            "Probabilities over all paths and means of amounts, each with its 95% interval."
        );
        for s in &self.scenarios {
            let _ = writeln!(out, "\n{} ({})", s.label, s.file);
            let metrics: Vec<&str> = s
                .points
                .first()
                .map(|p| p.metrics.iter().map(|m| m.metric.as_str()).collect())
                .unwrap_or_default();
            let mut table = comfy_table::Table::new();
            table.load_preset(comfy_table::presets::NOTHING);
            let mut header: Vec<String> = names.iter().map(|n| n.to_string()).collect();
            header.extend(metrics.iter().map(|m| m.to_string()));
            table.set_header(header);
            for p in &s.points {
                let mut row: Vec<String> = p.values.iter().map(|v| format!("{v}")).collect();
                for m in &p.metrics {
                    row.push(show(m, unit));
                }
                table.add_row(row);
            }
            for column in table.column_iter_mut().skip(names.len()) {
                column.set_cell_alignment(comfy_table::CellAlignment::Right);
            }
            let _ = writeln!(out, "{table}");
        }
        out
    }
}

/// A metric's cell: `35% [34%, 36%]` or `$12.3B [$11.9B, $12.7B]` or `1.48x [1.47, 1.49]`.
fn show(m: &PointMetric, (currency, scale): (&str, &str)) -> String {
    let e = m.estimate;
    if e.count == 0 {
        return "n/a".into();
    }
    if m.metric.starts_with("P(") {
        let p = crate::format::percent;
        format!("{} [{}, {}]", p(e.mean), p(e.ci95[0]), p(e.ci95[1]))
    } else if m.metric.ends_with("net position") {
        let money = |x| crate::format::money(x, currency, scale);
        format!(
            "{} [{}, {}]",
            money(e.mean),
            money(e.ci95[0]),
            money(e.ci95[1])
        )
    } else {
        format!("{:.2}x [{:.2}, {:.2}]", e.mean, e.ci95[0], e.ci95[1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_read_ranges_and_lists() {
        let a: Axis = "amazon_contingent=0:70:8".parse().unwrap();
        assert_eq!(a.name, "amazon_contingent");
        assert_eq!(
            a.values,
            vec![0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0]
        );
        let b: Axis = "h=0.1,0.2, 0.3".parse().unwrap();
        assert_eq!(b.values, vec![0.1, 0.2, 0.3]);
        // Ends are exact even where steps would round.
        let c: Axis = "x=0.1:0.3:3".parse().unwrap();
        assert_eq!(c.values, vec![0.1, 0.2, 0.3]);
        let d: Axis = "x=0:0.3:4".parse().unwrap();
        assert_eq!(d.values, vec![0.0, 0.1, 0.2, 0.3]);
        for bad in [
            "x",
            "x=1:2",
            "x=1:2:1",
            "x=1:2:100000",
            "x=a,b",
            "x=1:inf:3",
            "1x=1,2",
        ] {
            assert!(bad.parse::<Axis>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_grid_varies_the_first_axis_slowest() {
        let a = Axis {
            name: "a".into(),
            values: vec![1.0, 2.0],
        };
        let b = Axis {
            name: "b".into(),
            values: vec![5.0, 6.0, 7.0],
        };
        let g = grid(&[a, b]);
        assert_eq!(g.len(), 6);
        assert_eq!(g[0], vec![1.0, 5.0]);
        assert_eq!(g[2], vec![1.0, 7.0]);
        assert_eq!(g[3], vec![2.0, 5.0]);
    }

    #[test]
    fn set_values_read_back_as_the_same_float() {
        for v in [0.0, 35.0, 0.1, 1.0 / 3.0, 1e-7, 2.5e8, -4.75] {
            let text = set_value(v);
            let parsed: toml::Value =
                format!("x = {text}").parse::<toml::Table>().unwrap()["x"].clone();
            assert_eq!(parsed.as_float(), Some(v), "{text}");
        }
    }
}
