//! The integration tests: one binary, a module per topic, one set of helpers (`common`).
//!
//! - `errors`: every bad input gets `FILE:LINE:COL`, exit code 2, and no output;
//! - `engine`: closed-form answers, exact accounting on every path, reproducibility, calibration;
//! - `loans`: the loan kind against closed forms (interest, amortisation, seniority in default);
//! - `semantics`: what the model means (time step, file order, rounds, populations, draws);
//! - `scenarios`: the shipped scenarios, the graph and `explain`;
//! - `run`, `compare`, `charts`, `sweep`, `solve`: the commands end to end and what they write;
//! - `trace`: one path's ledger adds up and is the path `run` simulates; `--find`;
//! - `conventions`: `init`, short flags, `--paths 1e6`, `--json`, completions, the man page;
//! - `hostile`: dense graphs, signals, output folders, spreadsheet formulas, and the fuzzing
//!   harness (`CFSIM_FUZZ_CASES=5000` for a long campaign).

mod common;

mod charts;
mod compare;
mod conventions;
mod engine;
mod errors;
mod hostile;
mod loans;
mod run;
mod scenarios;
mod semantics;
mod sensitivity;
mod shards;
mod slurm;
mod snapshots;
mod solve;
mod sweep;
mod trace;
