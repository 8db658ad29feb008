//! cfsim: a circular-financing flow simulator.
//!
//! Scenario files (TOML) describe entities, equity tranches, contracts, revenue, costs,
//! milestones and uncertain quantities. They are validated into a [`scenario::Scenario`], turned
//! into a money-flow [`graph`], and simulated by Monte Carlo.

#![warn(missing_docs)]

pub mod cli;
pub mod correlation;
pub mod diagnostic;
pub mod dist;
pub mod engine;
pub mod exact;
pub mod exp;
pub mod flows;
pub mod format;
pub mod graph;
pub mod order;
pub mod precision;
pub mod report;
pub mod samples;
pub mod scenario;
pub mod schedule;
pub mod sensitivity;
pub mod shard;
pub mod solve;
pub mod starter;
pub mod stats;
pub mod sweep;
pub mod text;
pub mod time;
pub mod trace;

/// Simulates a scenario and summarises the run: what `cfsim run` computes, without the files.
/// The same scenario, seed and path count give the same summary whatever the thread count.
pub fn simulate(
    scenario: &scenario::Scenario,
    options: &engine::RunOptions,
) -> Result<report::Summary, engine::SimulateError> {
    scenario::check(scenario).map_err(engine::SimulateError::Invalid)?;
    let model = engine::Model::compile(scenario);
    let run = engine::simulate(&model, options, &|_| {})?;
    Ok(report::Summary::new(
        scenario,
        &model,
        &run.stats,
        options.seed,
    ))
}
