//! The Monte Carlo engine: compiles a scenario, runs paths in parallel, and folds them into
//! statistics that are bit-identical whatever the number of threads.
//!
//! Paths are cut into fixed chunks of [`CHUNK`] paths (independent of the thread count); each
//! chunk is simulated in path order into its own [`Accumulator`], and chunks are merged in chunk
//! order, a wave of [`WAVE`] chunks at a time so memory stays bounded.

pub mod accumulate;
pub mod model;
pub mod paired;
pub mod path;
pub mod rng;

use std::time::{Duration, Instant};

use rayon::prelude::*;

pub use accumulate::Accumulator;
pub use model::Model;
pub use paired::{Extract, PairedAccumulator, PairedMetric, comparison_metrics};
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
    let mut many = simulate_many(std::slice::from_ref(model), &[], opts, progress)?;
    Ok(RunResult {
        stats: many.stats.remove(0),
        elapsed: many.elapsed,
        threads: many.threads,
    })
}

/// What a joint run of several scenarios produced.
pub struct ManyResult {
    /// Statistics of each scenario.
    pub stats: Vec<Accumulator>,
    /// Per-scenario values and paired differences of the compared metrics.
    pub paired: PairedAccumulator,
    /// Wall time.
    pub elapsed: Duration,
    /// Threads used.
    pub threads: usize,
}

/// Simulates several scenarios on the same paths (same seed and path indices, so shared
/// quantities share their draws) and accumulates paired differences of `metrics` against the
/// first scenario.
pub fn simulate_many(
    models: &[Model],
    metrics: &[PairedMetric],
    opts: &RunOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> anyhow::Result<ManyResult> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads)
        .build()?;
    let threads = pool.current_num_threads();
    let start = Instant::now();
    let chunks = opts.paths.div_ceil(CHUNK);
    let empty = || {
        (
            models.iter().map(Accumulator::new).collect::<Vec<_>>(),
            PairedAccumulator::new(metrics, models.len()),
        )
    };
    let (stats, paired) = pool.install(|| {
        let (mut total, mut paired) = empty();
        let mut next = 0;
        while next < chunks {
            let end = (next + WAVE as u64).min(chunks);
            let parts: Vec<_> = (next..end)
                .into_par_iter()
                .map_init(
                    || models.iter().map(PathState::new).collect::<Vec<_>>(),
                    |states, chunk| run_chunk(models, metrics, opts, chunk, states),
                )
                .collect();
            for (accs, pair) in &parts {
                for (t, a) in total.iter_mut().zip(accs) {
                    t.merge(a);
                }
                paired.merge(pair);
            }
            progress(total[0].paths);
            next = end;
        }
        (total, paired)
    });
    Ok(ManyResult {
        stats,
        paired,
        elapsed: start.elapsed(),
        threads,
    })
}

fn run_chunk(
    models: &[Model],
    metrics: &[PairedMetric],
    opts: &RunOptions,
    chunk: u64,
    states: &mut [PathState],
) -> (Vec<Accumulator>, PairedAccumulator) {
    let mut accs: Vec<Accumulator> = models.iter().map(Accumulator::new).collect();
    let mut paired = PairedAccumulator::new(metrics, models.len());
    let first = chunk * CHUNK;
    let last = (first + CHUNK).min(opts.paths);
    for path in first..last {
        for ((model, state), acc) in models.iter().zip(states.iter_mut()).zip(&mut accs) {
            state.run(model, opts.seed, path, &mut NoTrace);
            acc.push(model, &state.out);
        }
        if !metrics.is_empty() {
            paired.push(metrics, models, states);
        }
    }
    (accs, paired)
}
