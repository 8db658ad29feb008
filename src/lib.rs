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
pub mod format;
pub mod graph;
pub mod order;
pub mod report;
pub mod scenario;
pub mod schedule;
pub mod stats;
pub mod time;
