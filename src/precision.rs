//! Runs that stop once their key figures are precise enough, instead of a guessed `--paths`.
//!
//! The run grows in blocks of [`CHUNK`] paths and is checked only after 1, 2, 4, 8, ... blocks:
//! at fixed points, so where it stops, and so every figure, is the same whatever the threads
//! (a check after "whatever finished by now" would depend on the machine). A run that stops
//! after `k` blocks is bit for bit the run of `--paths k * 4096`.

use serde::{Deserialize, Serialize};

use crate::engine::{self, Accumulator, CHUNK, Model, RunOptions, RunResult, SimulateError};
use crate::report::Summary;
use crate::scenario::Scenario;

/// The most paths a run with a precision goal runs when `--max-paths` is not given.
pub const DEFAULT_MAX_PATHS: u64 = 10_000_000;

/// What precise enough is.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Goal {
    /// The largest 95% half-width of a probability (P(target), P(default), each conditional
    /// tranche's release).
    pub absolute: f64,
    /// The largest 95% half-width of a key mean, relative to its size (none: means are not
    /// checked).
    pub relative: Option<f64>,
    /// The most paths to run.
    pub max_paths: u64,
}

/// How precise one key figure was when the run stopped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reached {
    /// The figure, as `cfsim sweep` names it.
    pub metric: String,
    /// Half the width of its 95% interval.
    pub half_width: f64,
    /// The most it was allowed.
    pub bound: f64,
}

impl Reached {
    /// Whether it is within its bound.
    pub fn met(&self) -> bool {
        self.half_width <= self.bound
    }
}

/// What `summary.json` records of a run with a precision goal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Precision {
    /// The goal.
    pub goal: Goal,
    /// Paths run (`paths` of the summary): blocks of 4096, checked at 1, 2, 4, ... blocks.
    pub paths: u64,
    /// Whether every figure met its bound (false: the run stopped at `max_paths`).
    pub met: bool,
    /// Each checked figure's precision at the end.
    pub reached: Vec<Reached>,
}

/// The precision of a run's key figures against a goal.
pub fn reached(summary: &Summary, goal: &Goal) -> Vec<Reached> {
    crate::sweep::key_metrics(summary)
        .into_iter()
        .filter(|m| m.estimate.count > 0)
        .filter_map(|m| {
            let half_width = (m.estimate.ci95[1] - m.estimate.ci95[0]) / 2.0;
            let bound = if m.metric.starts_with("P(") {
                goal.absolute
            } else {
                goal.relative? * m.estimate.mean.abs()
            };
            Some(Reached {
                metric: m.metric,
                half_width,
                bound,
            })
        })
        .collect()
}

/// Runs blocks until every key figure meets the goal or `max_paths` are run. `progress` gets
/// the paths done so far.
pub fn simulate(
    scenario: &Scenario,
    model: &Model,
    seed: u64,
    threads: usize,
    goal: &Goal,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(Summary, RunResult, Precision), SimulateError> {
    let opts = RunOptions {
        paths: goal.max_paths,
        seed,
        threads,
    };
    let last = engine::blocks(goal.max_paths);
    let started = std::time::Instant::now();
    let mut total: Option<Accumulator> = None;
    let (mut done, mut stage, mut peak) = (0u64, 1u64, 0);
    loop {
        let end = stage.min(last);
        let before = (done * CHUNK).min(goal.max_paths);
        let r =
            engine::simulate_blocks(std::slice::from_ref(model), &[], &opts, done..end, &|d| {
                progress(before + d)
            })?;
        peak = peak.max(r.peak_chunks_alive);
        let used_threads = r.threads;
        let stats = r.stats.into_iter().next().ok_or(SimulateError::NoPaths)?;
        match &mut total {
            None => total = Some(stats),
            Some(t) => t.merge(&stats),
        }
        done = end;
        let stats = total.as_ref().ok_or(SimulateError::NoPaths)?;
        let summary = Summary::new(scenario, model, stats, seed);
        let reached = reached(&summary, goal);
        let met = reached.iter().all(Reached::met);
        if met || done >= last {
            let precision = Precision {
                goal: *goal,
                paths: summary.paths,
                met,
                reached,
            };
            let result = RunResult {
                stats: total.unwrap_or_default(),
                elapsed: started.elapsed(),
                threads: used_threads,
                peak_chunks_alive: peak,
            };
            return Ok((summary, result, precision));
        }
        stage = stage.saturating_mul(2);
    }
}
