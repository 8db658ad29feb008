//! The Monte Carlo engine: compiles a scenario, runs paths in parallel, and folds them into
//! statistics that are bit-identical whatever the number of threads.
//!
//! Paths are cut into fixed chunks of [`CHUNK`] paths (independent of the thread count); each
//! chunk is simulated in path order into its own [`Accumulator`] by a worker, and the calling
//! thread folds the chunks into the total in chunk order as they arrive, so floating-point sums
//! are added in the same order whatever thread runs what. At most twice as many chunks as
//! threads are started and not yet folded, so memory is O(threads x periods x metrics),
//! whatever the number of paths. (A merge tree would keep one accumulator per level, growing
//! with the number of paths.)

pub mod accumulate;
pub mod explain;
pub mod model;
pub mod paired;
pub mod path;
pub mod rng;

use std::sync::atomic::{AtomicU64, Ordering};

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

pub use accumulate::Accumulator;
pub use model::Model;
pub use paired::{Extract, MetricKind, PairedAccumulator, PairedMetric, comparison_metrics};
pub use path::{
    BatchOutput, LANES, Lapse, NoTrace, Nominal, PathOutput, PathState, Trace, TrancheState,
    nominal,
};

/// Paths per chunk: the unit of parallel work, of merging, and of shards and precision checks
/// (a run's "blocks": block `b` is paths `b * CHUNK ..` of every run with the same seed).
pub const CHUNK: u64 = 4096;

/// Chunks merged together before they are merged into a run's total: a group's statistics
/// count at most 15 x 4096 < 2^16 values each, so their buckets stay 16 bits wide and in the
/// cache, and the total's wide buckets are read and written once a group, not once a chunk.
const GROUP_CHUNKS: u64 = 15;

/// The blocks of a run of `paths` paths (the last one may be short).
pub fn blocks(paths: u64) -> u64 {
    paths.div_ceil(CHUNK)
}

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
    /// The most chunks' statistics alive at once (simulated or running, not yet folded): at
    /// most twice the threads, whatever the number of paths.
    pub peak_chunks_alive: u64,
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
        peak_chunks_alive: many.peak_chunks_alive,
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
    /// As [`RunResult::peak_chunks_alive`].
    pub peak_chunks_alive: u64,
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
    simulate_blocks(models, metrics, opts, 0..blocks(opts.paths), progress)
}

/// [`simulate_many`] on some of the run's blocks only: a shard of a run split across
/// processes or machines, or the next stage of a run that stops when precise enough. A block's
/// paths and draws depend only on the seed and the block's index, and statistics merge
/// exactly, so any split of the blocks merges to the same bits as one run of all of them.
pub fn simulate_blocks(
    models: &[Model],
    metrics: &[PairedMetric],
    opts: &RunOptions,
    range: std::ops::Range<u64>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<ManyResult, SimulateError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads)
        .build()
        .map_err(|e| SimulateError::Threads(opts.threads, e.to_string()))?;
    let threads = pool.current_num_threads();
    let start = Instant::now();
    let range = range.start..range.end.min(blocks(opts.paths));
    let job = Job {
        models,
        metrics,
        opts,
        first: range.start,
        spare: std::sync::Mutex::new(Vec::new()),
        done: AtomicU64::new(0),
        progress,
    };
    let chunks = range.end.saturating_sub(range.start);
    if chunks == 0 {
        return Err(SimulateError::NoPaths);
    }
    // Twice the threads: each worker has a chunk queued behind the one it runs.
    let ((stats, paired), peak_chunks_alive) = job
        .run_all(&pool, chunks, 2 * threads as u64)
        .ok_or(SimulateError::NoPaths)?;
    Ok(ManyResult {
        stats,
        paired,
        elapsed: start.elapsed(),
        threads,
        peak_chunks_alive,
    })
}

/// Statistics of a range of chunks: one accumulator per scenario, and the paired metrics.
type Part = (Vec<Accumulator>, PairedAccumulator);

/// What every chunk of a run shares.
struct Job<'a> {
    models: &'a [Model],
    metrics: &'a [PairedMetric],
    opts: &'a RunOptions,
    /// The first block run.
    first: u64,
    /// Statistics of chunks already folded, cleared for reuse: a chunk's stores keep the
    /// memory they grew to, so later chunks neither allocate nor grow them.
    spare: std::sync::Mutex<Vec<Part>>,
    /// Paths finished so far, for the progress callback.
    done: AtomicU64,
    progress: &'a (dyn Fn(u64) + Sync),
}

impl Job<'_> {
    /// Chunks `0..chunks` on the pool's workers, folded in chunk order (see [`fold_chunks`]).
    /// Chunks are merged into a group of up to [`GROUP_CHUNKS`], and each full group into the
    /// total: merges are exact, so the grouping leaves every bit as it is.
    fn run_all(&self, pool: &rayon::ThreadPool, chunks: u64, window: u64) -> Option<(Part, u64)> {
        let merge = |(accs, paired): &mut Part, part: Part| {
            for (a, b) in accs.iter_mut().zip(&part.0) {
                a.merge(b);
            }
            paired.merge(&part.1);
            if let Ok(mut spare) = self.spare.lock() {
                spare.push(part);
            }
        };
        let ((total, group), peak) = fold_chunks(
            pool,
            chunks,
            window,
            |c| self.run_chunk(self.first + c),
            |first| (None::<Part>, (first, 1)),
            |(total, (group, grouped)), part| {
                if *grouped == GROUP_CHUNKS {
                    let full = std::mem::replace(group, part);
                    match total {
                        None => *total = Some(full),
                        Some(t) => merge(t, full),
                    }
                    *grouped = 1;
                } else {
                    merge(group, part);
                    *grouped += 1;
                }
            },
        )?;
        let total = match total {
            None => group.0,
            Some(mut total) => {
                merge(&mut total, group.0);
                total
            }
        };
        Some((total, peak))
    }

    fn run_chunk(&self, chunk: u64) -> Part {
        let (models, metrics, opts) = (self.models, self.metrics, self.opts);
        let mut states: Vec<PathState> = models.iter().map(PathState::batch).collect();
        let reused = self.spare.lock().ok().and_then(|mut s| s.pop());
        let (mut accs, mut paired) = match reused {
            Some((mut accs, mut paired)) => {
                accs.iter_mut().for_each(Accumulator::clear);
                paired.clear();
                (accs, paired)
            }
            None => (
                models.iter().map(Accumulator::new).collect(),
                PairedAccumulator::new(metrics, models.len()),
            ),
        };
        let mut outs: Vec<PathOutput> = Vec::new();
        if !metrics.is_empty() {
            outs = states.iter().map(|s| s.out().clone()).collect();
        }
        let first = chunk * CHUNK;
        let last = (first + CHUNK).min(opts.paths);
        for batch in (first..last).step_by(LANES) {
            let lanes = (last - batch).min(LANES as u64) as usize;
            for ((model, state), acc) in models.iter().zip(&mut states).zip(&mut accs) {
                state.run_batch(model, opts.seed, batch, lanes, &mut NoTrace);
                acc.push_batch(model, state.batch_out());
            }
            for i in (0..lanes).filter(|_| !metrics.is_empty()) {
                for (out, state) in outs.iter_mut().zip(&states) {
                    state.batch_out().gather(i, out);
                }
                paired.push(metrics, models, &outs);
            }
        }
        let done = self.done.fetch_add(last - first, Ordering::Relaxed) + (last - first);
        (self.progress)(done);
        (accs, paired)
    }
}

/// Runs `run(c)` for chunks `0..chunks` (at least one) on the pool's workers and folds the
/// results in chunk order on the calling thread as they arrive (`first` makes the total of
/// chunk 0, `merge` adds each next one), so the fold is the same whatever thread ran what.
/// At most `window` chunks are started and not yet folded, so a slow chunk holds back only
/// the window, never the memory. Returns the total and the most chunks alive at once.
pub fn fold_chunks<P: Send, T>(
    pool: &rayon::ThreadPool,
    chunks: u64,
    window: u64,
    run: impl Fn(u64) -> P + Sync,
    mut first: impl FnMut(P) -> T,
    mut merge: impl FnMut(&mut T, P),
) -> Option<(T, u64)> {
    type Done<P> = (u64, std::thread::Result<P>);
    let (tx, rx) = std::sync::mpsc::channel::<Done<P>>();
    let run = &run;
    pool.in_place_scope(|scope| {
        let start = |c: u64| {
            let tx = tx.clone();
            scope.spawn(move |_| {
                // A panic is carried to the folding thread, which would otherwise wait on the
                // chunk for ever.
                let part = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(c)));
                let _ = tx.send((c, part));
            });
        };
        let mut next = 0;
        while next < chunks.min(window.max(1)) {
            start(next);
            next += 1;
        }
        let mut arrived: BTreeMap<u64, P> = BTreeMap::new();
        let mut total: Option<T> = None;
        let mut folded = 0;
        let mut peak = next;
        while folded < chunks {
            // A sender stays alive in this scope, so this waits for the next chunk.
            let Ok((c, part)) = rx.recv() else { break };
            arrived.insert(c, part.unwrap_or_else(|p| std::panic::resume_unwind(p)));
            while let Some(part) = arrived.remove(&folded) {
                match &mut total {
                    None => total = Some(first(part)),
                    Some(t) => merge(t, part),
                }
                folded += 1;
                if next < chunks {
                    start(next);
                    next += 1;
                }
                peak = peak.max(next - folded);
            }
        }
        total.map(|t| (t, peak))
    })
}
