//! The Monte Carlo engine: compiles a scenario, runs paths in parallel, and folds them into
//! statistics that are bit-identical whatever the number of threads.
//!
//! Paths are cut into fixed chunks of [`CHUNK`] paths (independent of the thread count); each
//! chunk is simulated in path order into its own [`Accumulator`], and chunks are merged in chunk
//! order, a wave of [`WAVE`] chunks at a time so memory stays bounded.

pub mod accumulate;
pub mod model;
pub mod path;
pub mod rng;

use std::time::{Duration, Instant};

use rayon::prelude::*;

pub use accumulate::Accumulator;
pub use model::Model;
pub use path::{NoTrace, PathOutput, PathState, Trace, TrancheState};

/// Paths per chunk: the unit of parallel work and of ordered merging.
pub const CHUNK: u64 = 4096;
/// Chunks simulated in parallel before they are merged.
pub const WAVE: usize = 16;

/// How to run.
#[derive(Clone, Copy, Debug)]
pub struct RunOptions {
    /// Number of paths.
    pub paths: u64,
    /// Master seed.
    pub seed: u64,
    /// Worker threads (0: all cores).
    pub threads: usize,
}

/// What a run produced.
pub struct RunResult {
    /// The statistics.
    pub stats: Accumulator,
    /// Wall time of the simulation.
    pub elapsed: Duration,
    /// Threads used.
    pub threads: usize,
}

impl RunResult {
    /// Paths per second.
    pub fn throughput(&self) -> f64 {
        self.stats.paths as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Simulates a model; `progress` is called with the number of paths done after each wave.
pub fn simulate(
    model: &Model,
    opts: &RunOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> anyhow::Result<RunResult> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads)
        .build()?;
    let threads = pool.current_num_threads();
    let start = Instant::now();
    let chunks = opts.paths.div_ceil(CHUNK);
    let stats = pool.install(|| {
        let mut total = Accumulator::new(model);
        let mut next = 0;
        while next < chunks {
            let end = (next + WAVE as u64).min(chunks);
            let parts: Vec<Accumulator> = (next..end)
                .into_par_iter()
                .map_init(
                    || PathState::new(model),
                    |state, chunk| run_chunk(model, opts, chunk, state),
                )
                .collect();
            for part in &parts {
                total.merge(part);
            }
            progress(total.paths);
            next = end;
        }
        total
    });
    Ok(RunResult {
        stats,
        elapsed: start.elapsed(),
        threads,
    })
}

fn run_chunk(model: &Model, opts: &RunOptions, chunk: u64, state: &mut PathState) -> Accumulator {
    let mut acc = Accumulator::new(model);
    let first = chunk * CHUNK;
    let last = (first + CHUNK).min(opts.paths);
    for path in first..last {
        state.run(model, opts.seed, path, &mut NoTrace);
        acc.push(model, &state.out);
    }
    acc
}
