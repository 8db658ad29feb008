//! Goal seek: the value of one param at which a key metric meets a target, such as the
//! up-front amount that brings P(default) to 30%.
//!
//! Every evaluation is a run with `--set NAME=value` on the same seed and paths, so the metric
//! is a fixed function of the param (common random numbers: no noise between evaluations). The
//! range is first scanned on a coarse grid, which finds where the metric crosses the target and
//! whether it is monotone; the crossing is then narrowed by bisection. The 95% interval of the
//! value found is the metric's own interval carried through the local slope (the delta method):
//! value +- half-width / |slope|.

use serde::Serialize;

use crate::report::compare::Estimate;

/// How many points the range is first scanned at (both ends included).
pub const SCAN_POINTS: usize = 9;

/// Bisection stops when the bracket is this share of the range, or after [`MAX_BISECTIONS`].
const TOLERANCE: f64 = 1e-4;

/// The most bisection steps.
pub const MAX_BISECTIONS: usize = 30;

/// A comparison in a target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Op {
    /// `<=`
    #[serde(rename = "<=")]
    AtMost,
    /// `>=`
    #[serde(rename = ">=")]
    AtLeast,
}

/// What to reach: `METRIC <= VALUE` or `METRIC >= VALUE`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Target {
    /// The metric as the sweep names it (`P(default)` is read as `P(insolvency)`).
    pub metric: String,
    /// The comparison.
    pub op: Op,
    /// The level.
    pub value: f64,
}

impl std::str::FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (metric, op, value) = if let Some((m, v)) = s.split_once("<=") {
            (m, Op::AtMost, v)
        } else if let Some((m, v)) = s.split_once(">=") {
            (m, Op::AtLeast, v)
        } else {
            return Err(format!(
                "`{s}` is not a target; expected METRIC <= VALUE or METRIC >= VALUE, such as 'P(default) <= 0.30'"
            ));
        };
        let value = value
            .trim()
            .trim_end_matches('%')
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| format!("`{}` is not a finite number", value.trim()))?;
        let value = if s.trim_end().ends_with('%') {
            value / 100.0
        } else {
            value
        };
        let metric = match metric.trim() {
            "P(default)" => "P(insolvency)".to_string(),
            m => m.to_string(),
        };
        Ok(Target { metric, op, value })
    }
}

impl Target {
    /// True when `x` meets the target.
    pub fn met(&self, x: f64) -> bool {
        match self.op {
            Op::AtMost => x <= self.value,
            Op::AtLeast => x >= self.value,
        }
    }
}

/// The param to solve for and the range to search: `NAME=LO:HI`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Bracket {
    /// The param's name.
    pub name: String,
    /// One end of the range.
    pub lo: f64,
    /// The other end.
    pub hi: f64,
}

impl std::str::FromStr for Bracket {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not of the form NAME=LO:HI, such as amazon_upfront=0:50");
        let (name, range) = s.split_once('=').ok_or_else(bad)?;
        let (lo, hi) = range.split_once(':').ok_or_else(bad)?;
        let number = |t: &str| {
            t.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("`{}` is not a finite number", t.trim()))
        };
        let (lo, hi) = (number(lo)?, number(hi)?);
        if lo == hi {
            return Err(format!("the range {lo}:{hi} is empty"));
        }
        let name = name.trim();
        if !crate::scenario::reader::is_ident(name) {
            return Err(format!("`{name}` is not a param name"));
        }
        Ok(Bracket {
            name: name.to_string(),
            lo,
            hi,
        })
    }
}

/// One evaluation: the param's value and the metric there.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Evaluation {
    /// The param's value.
    pub at: f64,
    /// The metric there.
    pub metric: Estimate,
}

/// What goal seek found.
#[derive(Clone, Debug, Serialize)]
pub struct Solution {
    /// The param's value at the boundary, on the side that meets the target.
    pub value: f64,
    /// Monte Carlo 95% interval of the value (delta method), or `None` where the metric is flat
    /// at the boundary (a step: the value is exact to the bisection's tolerance).
    pub ci95: Option<[f64; 2]>,
    /// The metric at the value found.
    pub metric: Estimate,
    /// Values above the boundary meet the target (false: values below it do).
    pub met_above: bool,
    /// Whether the metric moved in one direction over the scan.
    pub monotone: bool,
    /// The scan of the range.
    pub scan: Vec<Evaluation>,
    /// Runs it took.
    pub evaluations: usize,
}

/// Version of the layout of `solve.json`.
pub const SCHEMA_VERSION: u32 = 1;

/// What `solve.json` holds: the question and its answer.
#[derive(Clone, Debug, Serialize)]
pub struct SolveReport {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Version of cfsim.
    pub cfsim_version: String,
    /// The scenario file.
    pub file: String,
    /// Paths per run.
    pub paths: u64,
    /// Seed shared by every run.
    pub seed: u64,
    /// Other overrides applied at every run (`name=value`).
    pub overrides: Vec<String>,
    /// The param and the range searched.
    pub param: Bracket,
    /// The target.
    pub target: Target,
    /// The answer.
    pub solution: Solution,
}

/// Why goal seek found nothing.
#[derive(Debug, thiserror::Error)]
pub enum SolveError<E> {
    /// The metric meets the target nowhere, or everywhere, in the range.
    #[error("{0}")]
    Unreachable(String),
    /// An evaluation failed.
    #[error(transparent)]
    Evaluation(E),
}

/// Finds where `eval`'s metric crosses `target` in `lo..=hi`: scans, then bisects the first
/// bracket where the target changes from unmet to met (or met to unmet).
pub fn solve<E>(
    target: &Target,
    lo: f64,
    hi: f64,
    mut eval: impl FnMut(f64) -> Result<Estimate, E>,
) -> Result<Solution, SolveError<E>> {
    let mut evaluations = 0;
    let mut run = |x: f64| {
        evaluations += 1;
        eval(x).map_err(SolveError::Evaluation)
    };
    let mut scan = Vec::with_capacity(SCAN_POINTS);
    for i in 0..SCAN_POINTS {
        let at = match i {
            0 => lo,
            i if i == SCAN_POINTS - 1 => hi,
            i => lo + (hi - lo) * i as f64 / (SCAN_POINTS - 1) as f64,
        };
        scan.push(Evaluation {
            at,
            metric: run(at)?,
        });
    }
    let diffs: Vec<f64> = scan
        .windows(2)
        .map(|w| w[1].metric.mean - w[0].metric.mean)
        .collect();
    let monotone = diffs.iter().all(|d| *d >= 0.0) || diffs.iter().all(|d| *d <= 0.0);
    let Some(k) = (0..SCAN_POINTS - 1)
        .find(|&k| target.met(scan[k].metric.mean) != target.met(scan[k + 1].metric.mean))
    else {
        let everywhere = target.met(scan[0].metric.mean);
        let range = format!(
            "{} from {} at {lo} to {} at {hi} (lowest {}, highest {})",
            target.metric,
            scan[0].metric.mean,
            scan[SCAN_POINTS - 1].metric.mean,
            scan.iter()
                .map(|e| e.metric.mean)
                .fold(f64::INFINITY, f64::min),
            scan.iter()
                .map(|e| e.metric.mean)
                .fold(f64::NEG_INFINITY, f64::max),
        );
        return Err(SolveError::Unreachable(if everywhere {
            format!(
                "the target is met everywhere in the range, so it has no boundary there: {range}"
            )
        } else {
            format!("the target is not reachable in the range: {range}")
        }));
    };
    let met_above = target.met(scan[k + 1].metric.mean);
    // Bisection on (unmet, met) ends, kept in that order of meaning.
    let (mut a, mut b) = (scan[k], scan[k + 1]);
    let width = (hi - lo).abs();
    for _ in 0..MAX_BISECTIONS {
        if (b.at - a.at).abs() <= TOLERANCE * width {
            break;
        }
        let mid = 0.5 * (a.at + b.at);
        let m = Evaluation {
            at: mid,
            metric: run(mid)?,
        };
        if target.met(m.metric.mean) == target.met(a.metric.mean) {
            a = m;
        } else {
            b = m;
        }
    }
    let found = if target.met(a.metric.mean) { a } else { b };
    // The local slope, from the scan's bracket (a step's slope over the final bracket would be
    // infinite).
    let slope = (scan[k + 1].metric.mean - scan[k].metric.mean) / (scan[k + 1].at - scan[k].at);
    let half = 0.5 * (found.metric.ci95[1] - found.metric.ci95[0]);
    // A slope too small to divide by gives no interval rather than an infinite one.
    let d = half / slope.abs();
    let ci95 = (d.is_finite() && slope != 0.0).then_some([found.at - d, found.at + d]);
    Ok(Solution {
        value: found.at,
        ci95,
        metric: found.metric,
        met_above,
        monotone,
        scan,
        evaluations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linear(x: f64) -> Result<Estimate, String> {
        // A metric that falls from 0.5 at x = 0 to 0.1 at x = 40, with a 0.01 half-width.
        let m = 0.5 - 0.01 * x;
        Ok(Estimate {
            mean: m,
            ci95: [m - 0.01, m + 0.01],
            count: 1000,
        })
    }

    #[test]
    fn finds_the_boundary_of_a_linear_metric_with_its_interval() {
        let t: Target = "P(default) <= 0.30".parse().unwrap();
        assert_eq!(t.metric, "P(insolvency)");
        let s = solve(&t, 0.0, 40.0, linear).unwrap();
        assert!((s.value - 20.0).abs() < 0.01, "{}", s.value);
        assert!(t.met(s.metric.mean));
        assert!(s.met_above && s.monotone);
        let [a, b] = s.ci95.unwrap();
        // Half-width 0.01 over a slope of 0.01 per unit: +-1.
        assert!((a - (s.value - 1.0)).abs() < 1e-9 && (b - (s.value + 1.0)).abs() < 1e-9);
        assert!(s.evaluations <= SCAN_POINTS + MAX_BISECTIONS);
    }

    #[test]
    fn refuses_a_target_out_of_reach_and_one_met_everywhere() {
        let out: Target = "P(default) <= 0.05".parse().unwrap();
        let err = solve(&out, 0.0, 40.0, linear).unwrap_err();
        assert!(err.to_string().contains("not reachable"), "{err}");
        let all: Target = "P(default) <= 0.9".parse().unwrap();
        let err = solve(&all, 0.0, 40.0, linear).unwrap_err();
        assert!(err.to_string().contains("met everywhere"), "{err}");
    }

    #[test]
    fn a_non_monotone_metric_is_flagged_and_the_first_crossing_found() {
        let bump = |x: f64| -> Result<Estimate, String> {
            let m = 1.0 - (x - 20.0).abs() / 20.0;
            Ok(Estimate {
                mean: m,
                ci95: [m, m],
                count: 1,
            })
        };
        let t: Target = "score >= 0.5".parse().unwrap();
        let s = solve(&t, 0.0, 40.0, bump).unwrap();
        assert!(!s.monotone);
        assert!((s.value - 10.0).abs() < 0.01, "{}", s.value);
    }

    #[test]
    fn targets_read_percentages_and_refuse_nonsense() {
        let t: Target = "P(target) >= 40%".parse().unwrap();
        assert_eq!((t.op, t.value), (Op::AtLeast, 0.4));
        for bad in ["P(default) = 0.3", "P(default) <= x", "nothing"] {
            assert!(bad.parse::<Target>().is_err(), "{bad}");
        }
    }
}
