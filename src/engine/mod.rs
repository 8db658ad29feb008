//! The Monte Carlo engine: compiles a scenario, runs paths in parallel, and folds them into
//! statistics that are bit-identical whatever the number of threads.
//!
//! Paths are cut into fixed chunks of [`CHUNK`] paths (independent of the thread count); each
//! chunk is simulated in path order into its own [`Accumulator`]. Chunks are merged along a
//! binary tree whose shape depends only on the number of chunks (each range is split at its
//! midpoint), so floating-point sums are added in the same order whatever thread runs what.
//! Merges run on the workers, in parallel, and at most a few accumulators per thread and tree
//! level are alive at once, so memory stays bounded whatever the number of paths.

pub mod accumulate;
pub mod explain;
pub mod model;
pub mod paired;
pub mod path;
pub mod rng;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub use accumulate::Accumulator;
pub use model::Model;
pub use paired::{Extract, MetricKind, PairedAccumulator, PairedMetric, comparison_metrics};
pub use path::{NoTrace, Nominal, PathOutput, PathState, Trace, TrancheState, nominal};

/// Paths per chunk: the unit of parallel work and of ordered merging.
pub const CHUNK: u64 = 4096;

/// Why a simulation could not run.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SimulateError {
    /// The worker threads could not be started.
    #[error("cannot start {0} worker threads: {1}")]
    Threads(usize, String),
    /// A run of no paths has nothing to report (its probabilities would be 0 / 0).
    #[error("a simulation needs at least one path")]
    NoPaths,
    /// A scenario built or changed in code is not consistent (see [`crate::scenario::check`]).
    #[error("the scenario is not consistent: {}", .0.join("; "))]
    Invalid(Vec<String>),
}

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

/// Simulates a model; `progress` is called, from any worker, with the number of paths done
/// after each chunk.
pub fn simulate(
    model: &Model,
    opts: &RunOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<RunResult, SimulateError> {
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
) -> Result<ManyResult, SimulateError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads)
        .build()
        .map_err(|e| SimulateError::Threads(opts.threads, e.to_string()))?;
    let threads = pool.current_num_threads();
    let start = Instant::now();
    let chunks = opts.paths.div_ceil(CHUNK);
    let job = Job {
        models,
        metrics,
        opts,
        done: AtomicU64::new(0),
        progress,
    };
    if chunks == 0 {
        return Err(SimulateError::NoPaths);
    }
    let (stats, paired) = pool.install(|| job.run_range(0, chunks));
    Ok(ManyResult {
        stats,
        paired,
        elapsed: start.elapsed(),
        threads,
    })
}

/// Statistics of a range of chunks: one accumulator per scenario, and the paired metrics.
type Part = (Vec<Accumulator>, PairedAccumulator);

/// What every chunk of a run shares.
struct Job<'a> {
    models: &'a [Model],
    metrics: &'a [PairedMetric],
    opts: &'a RunOptions,
    /// Paths finished so far, for the progress callback.
    done: AtomicU64,
    progress: &'a (dyn Fn(u64) + Sync),
}

impl Job<'_> {
    /// Chunks `lo..hi` (non-empty), merged left to right at the midpoint of every range.
    fn run_range(&self, lo: u64, hi: u64) -> Part {
        if hi - lo == 1 {
            return self.run_chunk(lo);
        }
        let mid = lo + (hi - lo) / 2;
        let ((mut accs, mut paired), (right_accs, right_paired)) =
            rayon::join(|| self.run_range(lo, mid), || self.run_range(mid, hi));
        for (a, b) in accs.iter_mut().zip(&right_accs) {
            a.merge(b);
        }
        paired.merge(&right_paired);
        (accs, paired)
    }

    fn run_chunk(&self, chunk: u64) -> Part {
        let (models, metrics, opts) = (self.models, self.metrics, self.opts);
        let mut states: Vec<PathState> = models.iter().map(PathState::new).collect();
        let mut accs: Vec<Accumulator> = models.iter().map(Accumulator::new).collect();
        let mut paired = PairedAccumulator::new(metrics, models.len());
        let first = chunk * CHUNK;
        let last = (first + CHUNK).min(opts.paths);
        for path in first..last {
            for ((model, state), acc) in models.iter().zip(&mut states).zip(&mut accs) {
                state.run(model, opts.seed, path, &mut NoTrace);
                acc.push(model, state.out());
            }
            if !metrics.is_empty() {
                paired.push(metrics, models, &states);
            }
        }
        let done = self.done.fetch_add(last - first, Ordering::Relaxed) + (last - first);
        (self.progress)(done);
        (accs, paired)
    }
}
