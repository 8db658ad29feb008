//! Which uncertain inputs drive the key outputs: a tornado, rank statistics and Sobol indices.
//!
//! Every input is a stream of keyed draws (see [`crate::engine::rng`]), so an analysis changes
//! one input by switching its stream while every other input keeps its draws:
//! - **Sobol indices** (Saltelli et al. 2010, "Variance based sensitivity analysis of model
//!   output", CPC 181): matrix A is the run's own seed, B another seed, and AB_i is A with
//!   input i's stream taken from B's seed. First-order indices use Saltelli's 2010 estimator
//!   with B centred, total indices Jansen's (1999); both are ratios of path means, so their 95%
//!   intervals come from a Poisson bootstrap (each path weighted by a Poisson(1) count drawn
//!   from its own keyed stream; Hanley and MacGibbon 2006), which folds in one pass and keeps
//!   memory flat in the number of paths.
//! - **Tornado**: the output's mean with one input held at its 5th and at its 95th percentile,
//!   the others drawn, on the run's seed (common random numbers, so the swing is paired).
//! - **Rank statistics** from matrix A's paths: Spearman's correlation of each input with the
//!   output, and standardised rank regression coefficients (all inputs at once).
//!
//! Work is cut into chunks of base paths folded in chunk order, so the result is bit-identical
//! whatever the number of threads.

use serde::{Deserialize, Serialize};

use crate::dist::normal_quantile;
use crate::engine::model::{InputKind, RandomInput};
use crate::engine::rng::{Stream, name_key, threefry2x64, uniform_at};
use crate::engine::{Extract, MetricKind, Model, NoTrace, PathState, SimulateError, fold_chunks};
use crate::exact::ExactSum;

/// Base paths when `--paths` is not given: each costs `3 x inputs + 2` simulated paths.
pub const DEFAULT_PATHS: u64 = 10_000;
/// Bootstrap replicates of the Sobol indices.
pub const BOOTSTRAP: usize = 200;
/// The most paths of matrix A kept for the rank statistics (they need every value at once).
pub const RANK_PATHS: u64 = 100_000;
/// The percentiles a tornado holds each input at.
pub const LOW: f64 = 0.05;
/// See [`LOW`].
pub const HIGH: f64 = 0.95;
/// The most paths one analysis may simulate (base paths x (3 x inputs + 2)).
pub const MAX_TOTAL_PATHS: u64 = 10_000_000_000;
/// Version of the layout of `sensitivity.json`.
pub const SCHEMA_VERSION: u32 = 1;
/// Base paths per chunk of work.
const CHUNK: u64 = 256;

/// A key output: its name (as `sweep` and `solve` name it) and how to read it on a path.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyOutput {
    /// Name.
    pub name: String,
    /// How to read it.
    pub extract: Extract,
}

/// The key outputs of a model: P(target), P(insolvency), each conditional tranche's release,
/// each investor's net position and round trip, circularity, target-year revenue.
pub fn key_outputs(m: &Model) -> Vec<KeyOutput> {
    let mut out = Vec::new();
    let mut push = |name: String, extract| out.push(KeyOutput { name, extract });
    if m.target.is_some() {
        push("P(target)".into(), Extract::TargetHit);
    }
    push("P(insolvency)".into(), Extract::Insolvent);
    for (k, t) in m.kinds.equity.iter().enumerate() {
        if matches!(
            t.when,
            crate::flows::equity::TrancheWhen::Conditional { .. }
        ) {
            push(
                format!("P(released {})", m.names.tranches[k]),
                Extract::Released(k),
            );
        }
    }
    for &e in &m.investors {
        let id = &m.names.entities[e];
        push(format!("{id} net position"), Extract::NetPosition(e));
        push(format!("{id} round trip"), Extract::RoundTrip(e));
    }
    push("circularity".into(), Extract::Circularity);
    if m.target.is_some() {
        push("target-year revenue".into(), Extract::TargetRevenue);
    }
    out
}

/// An index with its bootstrap 95% interval; `None` where the output does not vary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Index {
    /// The estimate.
    pub estimate: Option<f64>,
    /// Percentile bootstrap 95% interval.
    pub ci95: Option<[f64; 2]>,
}

/// The output's mean with the input held at its 5th (`low`) and 95th (`high`) percentile.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Swing {
    /// Mean with the input at its 5th percentile (`None`: defined on no path).
    pub low: Option<f64>,
    /// Mean with the input at its 95th percentile.
    pub high: Option<f64>,
}

impl Swing {
    /// `high - low`, when both are defined.
    pub fn width(&self) -> Option<f64> {
        Some(self.high? - self.low?)
    }
}

/// One input's effect on one output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputEffect {
    /// The input's name.
    pub input: String,
    /// Sobol first-order index: the share of the output's variance the input explains alone.
    pub first_order: Index,
    /// Sobol total index: the share it explains with all its interactions.
    pub total: Index,
    /// Tornado.
    pub swing: Swing,
    /// Spearman's rank correlation with the output on matrix A's paths.
    pub rank_correlation: Option<f64>,
    /// Standardised rank regression coefficient (all inputs regressed at once).
    pub rank_regression: Option<f64>,
}

/// The analysis of one output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutputSensitivity {
    /// The output.
    pub output: String,
    /// A probability, an amount or a ratio.
    pub kind: MetricKind,
    /// Its mean on matrix A (the run's own paths; a probability for P(...)).
    pub mean: Option<f64>,
    /// Its variance over A and B, the denominator of the indices.
    pub variance: Option<f64>,
    /// Base paths on which the output is defined in every matrix (what the indices describe).
    pub paths: u64,
    /// R² of the rank regression: how much of the output's rank variance the inputs' ranks
    /// explain linearly (the rank regression coefficients mean little when it is low).
    pub rank_regression_r2: Option<f64>,
    /// Every input, largest swing first.
    pub inputs: Vec<InputEffect>,
}

/// An input as `sensitivity.json` lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputInfo {
    /// Its name.
    pub name: String,
    /// `quantity`, `per_period`, `milestone`, `shocks` or `rescue`.
    pub kind: String,
}

/// What `sensitivity.json` holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sensitivity {
    /// Version of this file's layout.
    pub schema_version: u32,
    /// Version of cfsim.
    pub cfsim_version: String,
    /// The scenario file.
    pub file: String,
    /// Seed of matrix A (the run's seed); B's is derived from it.
    pub seed: u64,
    /// Base paths (rows of each matrix).
    pub paths: u64,
    /// Paths simulated in all: `paths x (3 x inputs + 2)`.
    pub total_paths: u64,
    /// Bootstrap replicates behind each interval.
    pub bootstrap: usize,
    /// Paths of A behind the rank statistics.
    pub rank_paths: u64,
    /// The percentiles of the tornado.
    pub tornado_percentiles: [f64; 2],
    /// `--set` overrides applied (`name=value`).
    pub overrides: Vec<String>,
    /// The inputs.
    pub inputs: Vec<InputInfo>,
    /// The outputs.
    pub outputs: Vec<OutputSensitivity>,
}

/// How many inputs the table shows per output.
pub const TABLE_INPUTS: usize = 5;

impl Sensitivity {
    /// A value of output `o` as the table shows it.
    fn show(o: &OutputSensitivity, v: f64, unit: (&str, &str)) -> String {
        match o.kind {
            MetricKind::Probability => crate::format::percent(v),
            MetricKind::Amount => crate::format::money(v, unit.0, unit.1),
            MetricKind::Ratio => format!("{v:.2}x"),
        }
    }

    /// The terminal table: per output, its top inputs by swing.
    pub fn table(&self, unit: (&str, &str)) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "cfsim {}: sensitivity of {} over {} inputs, {} base paths, seed {}: {} paths simulated",
            self.cfsim_version,
            self.file,
            self.inputs.len(),
            crate::report::thousands(self.paths),
            self.seed,
            crate::report::thousands(self.total_paths)
        );
        if !self.overrides.is_empty() {
            let _ = writeln!(out, "With {}", self.overrides.join(", "));
        }
        let _ = writeln!(
            out,
            "at P5 / at P95: the output's mean (a probability for P(...)) with the input held at its 5th / 95th percentile, the others drawn;\n\
             Spearman and SRC: rank correlation and standardised rank regression on {} paths;\n\
             first-order / total: Sobol indices, shares of the output's variance, with bootstrap 95% intervals ({} replicates).",
            crate::report::thousands(self.rank_paths),
            self.bootstrap
        );
        let index = |i: &Index| match (i.estimate, i.ci95) {
            (Some(e), Some([a, b])) => format!("{e:.2} [{a:.2}, {b:.2}]"),
            (Some(e), None) => format!("{e:.2}"),
            _ => "n/a".into(),
        };
        let opt = |x: Option<f64>| x.map_or("n/a".into(), |v| format!("{v:+.2}"));
        for o in &self.outputs {
            let mean = o.mean.map_or("n/a".to_string(), |m| Self::show(o, m, unit));
            let r2 = o
                .rank_regression_r2
                .map_or(String::new(), |r| format!(", rank regression R² {r:.2}"));
            let what = if o.kind == MetricKind::Probability {
                "share of all paths"
            } else {
                "mean"
            };
            let _ = writeln!(
                out,
                "\n{} ({what} {mean} on {} paths{r2})",
                o.output,
                crate::report::thousands(o.paths)
            );
            if o.paths == 0 {
                let _ = writeln!(out, "  defined on no path");
                continue;
            }
            if o.variance.is_none() {
                let _ = writeln!(out, "  does not vary on these paths: no input drives it");
                continue;
            }
            let mut table = comfy_table::Table::new();
            table.load_preset(comfy_table::presets::NOTHING);
            table.set_header(vec![
                "input",
                "at P5",
                "at P95",
                "Spearman",
                "SRC",
                "first-order [95%]",
                "total [95%]",
            ]);
            for e in o.inputs.iter().take(TABLE_INPUTS) {
                let at = |v: Option<f64>| v.map_or("n/a".into(), |v| Self::show(o, v, unit));
                table.add_row(vec![
                    crate::text::printable(&e.input).into_owned(),
                    at(e.swing.low),
                    at(e.swing.high),
                    opt(e.rank_correlation),
                    opt(e.rank_regression),
                    index(&e.first_order),
                    index(&e.total),
                ]);
            }
            for column in table.column_iter_mut().skip(1) {
                column.set_cell_alignment(comfy_table::CellAlignment::Right);
            }
            let _ = writeln!(out, "{}", crate::report::render(&table));
            if o.inputs.len() > TABLE_INPUTS {
                let _ = writeln!(
                    out,
                    "  ... and {} more inputs in sensitivity.json",
                    o.inputs.len() - TABLE_INPUTS
                );
            }
        }
        out
    }
}

/// How to run an analysis.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Base paths.
    pub paths: u64,
    /// Seed of matrix A.
    pub seed: u64,
    /// Worker threads (0: all cores).
    pub threads: usize,
}

/// Matrix B's seed: a fixed function of A's, unrelated to it (the cipher mixes it).
pub fn second_seed(seed: u64) -> u64 {
    threefry2x64::<20>([seed, 1], [name_key("sensitivity B"), 0])[0]
}

/// The draw of the stream that holds `input` at its `percentile` (of the value
/// [`input_value`] gives it). A milestone's later date comes from a smaller draw. A stream
/// drawn each of `periods` periods is held where its mean normal score, normal with variance
/// `1 / periods`, is at the percentile: every period at the 5th percentile would be a path far
/// rarer than one in twenty.
fn held_draw(kind: InputKind, percentile: f64, periods: usize) -> f64 {
    match kind {
        InputKind::Milestone => 1.0 - percentile,
        InputKind::PerPeriod | InputKind::Shocks => {
            crate::dist::normal_cdf(normal_quantile(percentile) / (periods.max(1) as f64).sqrt())
        }
        InputKind::Quantity(_) | InputKind::Rescue => percentile,
    }
}

/// The input's value on the path just run on `m` (rank statistics only use its order).
fn input_value(input: &RandomInput, m: &Model, state: &PathState, seed: u64, path: u64) -> f64 {
    let mean_score = |m: &Model| {
        let n = m.periods.max(1);
        (0..n)
            .map(|p| normal_quantile(m.streams.uniform_at(seed, input.key, path, p as u64)))
            .sum::<f64>()
            / n as f64
    };
    match input.kind {
        InputKind::Quantity(q) => state.quantity(q),
        InputKind::PerPeriod | InputKind::Shocks => mean_score(m),
        InputKind::Milestone => -m.streams.draw(seed, path, input.key).ln(),
        InputKind::Rescue => m.streams.draw(seed, path, input.key),
    }
}

/// Cumulative Poisson(1) probabilities, for the bootstrap weights.
fn poisson_one_cdf() -> [f64; 16] {
    let mut cdf = [0.0; 16];
    let (mut term, mut sum) = ((-1.0f64).exp(), 0.0);
    for (k, c) in cdf.iter_mut().enumerate() {
        sum += term;
        *c = sum;
        term /= (k + 1) as f64;
    }
    cdf
}

/// The sums of one chunk of base paths, in plain floating point (folded path by path).
struct Part {
    /// Per output, per replicate (0: the estimate itself), the weighted sums
    /// `[w, fA, fA², fB, fB², then per input: d, fB·d, d²]` with `d = f(AB_i) - f(A)`.
    sobol: Vec<Vec<Vec<f64>>>,
    /// Per output: paths where it is defined in every matrix.
    defined: Vec<u64>,
    /// Per output: sum and count of its values on A.
    base: Vec<(f64, u64)>,
    /// Per input, per level (low, high), per output: sum and count.
    tornado: Vec<[Vec<(f64, u64)>; 2]>,
    /// Rows of A for the rank statistics: the inputs' values, the outputs' values.
    rows: Vec<Row>,
    /// Base paths in the chunk.
    paths: u64,
}

/// A path of A for the rank statistics: its index, the inputs' values and the outputs'
/// values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Row(u64, Vec<f64>, Vec<Option<f64>>);

impl Part {
    fn new(outputs: usize, inputs: usize) -> Part {
        let width = 5 + 3 * inputs;
        Part {
            sobol: vec![vec![vec![0.0; width]; BOOTSTRAP + 1]; outputs],
            defined: vec![0; outputs],
            base: vec![(0.0, 0); outputs],
            tornado: vec![[vec![(0.0, 0); outputs], vec![(0.0, 0); outputs]]; inputs],
            rows: Vec::new(),
            paths: 0,
        }
    }
}

/// A sum of values with its count, exact.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Total {
    /// The sum.
    pub sum: ExactSum,
    /// How many values.
    pub count: u64,
}

impl Total {
    fn add(&mut self, (sum, count): (f64, u64)) {
        self.sum.add(sum);
        self.count += count;
    }

    fn merge(&mut self, o: &Total) {
        self.sum.merge(&o.sum);
        self.count += o.count;
    }

    /// The mean, when some value was summed.
    fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| (self.sum.value() / self.count as f64).hi)
    }
}

/// Everything the analysis accumulates, in exact sums: each chunk's floating-point sums are
/// added exactly when it is folded, so totals have the same bits however the chunks are
/// grouped (threads, or shards merged by `cfsim merge`), and a part file holds this.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Base paths folded in.
    pub paths: u64,
    /// Outputs, inputs and sums per replicate: the shape of the lists below.
    shape: [usize; 3],
    /// Per output, per replicate, the Sobol sums (see `Part::sobol`), flattened.
    sobol: Vec<ExactSum>,
    /// Per output: paths where it is defined in every matrix.
    defined: Vec<u64>,
    /// Per output: its values on A.
    base: Vec<Total>,
    /// Per input, per level (low, high), per output: the values, flattened.
    tornado: Vec<Total>,
    /// Rows of A's first [`RANK_PATHS`] paths (in the order folded: the summary sorts them).
    rows: Vec<Row>,
}

impl Totals {
    /// Nothing yet, shaped for a model's inputs and outputs.
    pub fn new(m: &Model) -> Totals {
        let (outputs, inputs) = (key_outputs(m).len(), m.random_inputs().len());
        let width = 5 + 3 * inputs;
        Totals {
            paths: 0,
            shape: [outputs, inputs, width],
            sobol: vec![ExactSum::default(); outputs * (BOOTSTRAP + 1) * width],
            defined: vec![0; outputs],
            base: vec![Total::default(); outputs],
            tornado: vec![Total::default(); inputs * 2 * outputs],
            rows: Vec::new(),
        }
    }

    /// Adds a chunk's sums, exactly.
    fn add(&mut self, part: Part) {
        let sums = part.sobol.iter().flatten().flatten();
        for (total, &x) in self.sobol.iter_mut().zip(sums) {
            total.add(x);
        }
        for (a, b) in self.defined.iter_mut().zip(&part.defined) {
            *a += b;
        }
        for (a, &b) in self.base.iter_mut().zip(&part.base) {
            a.add(b);
        }
        let tornado = part.tornado.iter().flatten().flatten();
        for (a, &b) in self.tornado.iter_mut().zip(tornado) {
            a.add(b);
        }
        self.rows.extend(part.rows);
        self.paths += part.paths;
    }

    /// Adds the totals of other base paths (any order and grouping gives the same summary).
    pub fn merge(&mut self, o: &Totals) {
        for (a, b) in self.sobol.iter_mut().zip(&o.sobol) {
            a.merge(b);
        }
        for (a, b) in self.defined.iter_mut().zip(&o.defined) {
            *a += b;
        }
        for (a, b) in self.base.iter_mut().zip(&o.base) {
            a.merge(b);
        }
        for (a, b) in self.tornado.iter_mut().zip(&o.tornado) {
            a.merge(b);
        }
        self.rows.extend(o.rows.iter().cloned());
        self.paths += o.paths;
    }

    /// Whether these totals are shaped for the model and hold the rank rows of base paths
    /// `first..end`: what a part file read from disk must be before it is merged.
    pub fn fits(&self, m: &Model, first: u64, end: u64) -> bool {
        let empty = Totals::new(m);
        let [outputs, inputs, _] = empty.shape;
        let rows = first.min(RANK_PATHS)..end.min(RANK_PATHS);
        self.shape == empty.shape
            && self.sobol.len() == empty.sobol.len()
            && self.defined.len() == outputs
            && self.base.len() == outputs
            && self.tornado.len() == empty.tornado.len()
            && self.paths == end - first
            && self.rows.len() as u64 == rows.end - rows.start
            && self
                .rows
                .iter()
                .zip(rows)
                .all(|(Row(path, x, y), expected)| {
                    *path == expected && x.len() == inputs && y.len() == outputs
                })
    }

    /// One replicate's Sobol sums of output `o`, rounded to doubles.
    fn replicate(&self, o: usize, r: usize) -> Vec<f64> {
        let width = self.shape[2];
        let at = (o * (BOOTSTRAP + 1) + r) * width;
        self.sobol[at..at + width]
            .iter()
            .map(|s| s.value().hi)
            .collect()
    }

    /// The tornado's values of output `o` with input `i` held at `level` (0: low, 1: high).
    fn tornado(&self, i: usize, level: usize, o: usize) -> &Total {
        &self.tornado[(i * 2 + level) * self.shape[0] + o]
    }
}

/// The models of the design: A's (the run's), each AB_i, and each input held low and high.
struct Design<'a> {
    a: &'a Model,
    seed_b: u64,
    ab: Vec<Model>,
    held: Vec<[Model; 2]>,
    inputs: Vec<RandomInput>,
    outputs: Vec<KeyOutput>,
    opts: Options,
    cdf: [f64; 16],
}

impl Design<'_> {
    fn values(&self, m: &Model, o: &crate::engine::PathOutput) -> Vec<Option<f64>> {
        self.outputs
            .iter()
            .map(|k| k.extract.value(m, o).filter(|v| v.is_finite()))
            .collect()
    }

    fn run_chunk(&self, chunk: u64) -> Part {
        let (k, n_out) = (self.inputs.len(), self.outputs.len());
        let mut part = Part::new(n_out, k);
        let mut state = PathState::new(self.a);
        let seed = self.opts.seed;
        let first = chunk * CHUNK;
        let last = (first + CHUNK).min(self.opts.paths);
        let boot_key = name_key("sensitivity bootstrap");
        let mut weights = vec![0.0; BOOTSTRAP + 1];
        let mut ab: Vec<Vec<Option<f64>>> = Vec::with_capacity(k);
        let mut row = vec![0.0; 5 + 3 * k];
        part.paths = last - first;
        for path in first..last {
            state.run(self.a, seed, path, &mut NoTrace);
            let fa = self.values(self.a, state.out());
            if path < RANK_PATHS {
                let x = self
                    .inputs
                    .iter()
                    .map(|i| input_value(i, self.a, &state, seed, path))
                    .collect();
                part.rows.push(Row(path, x, fa.clone()));
            }
            state.run(self.a, self.seed_b, path, &mut NoTrace);
            let fb = self.values(self.a, state.out());
            ab.clear();
            for m in &self.ab {
                state.run(m, seed, path, &mut NoTrace);
                ab.push(self.values(m, state.out()));
            }
            for (i, levels) in self.held.iter().enumerate() {
                for (level, m) in levels.iter().enumerate() {
                    state.run(m, seed, path, &mut NoTrace);
                    for (o, v) in self.values(m, state.out()).into_iter().enumerate() {
                        if let Some(v) = v {
                            let s = &mut part.tornado[i][level][o];
                            s.0 += v;
                            s.1 += 1;
                        }
                    }
                }
            }
            // Poisson(1) weights of this path in each bootstrap replicate, from its own stream.
            weights[0] = 1.0;
            for (r, w) in weights.iter_mut().enumerate().skip(1) {
                let u = uniform_at(seed, boot_key, path, r as u64);
                *w = self.cdf.iter().position(|&c| u < c).unwrap_or(15) as f64;
            }
            for o in 0..n_out {
                if let Some(a) = fa[o] {
                    part.base[o].0 += a;
                    part.base[o].1 += 1;
                }
                let (Some(a), Some(b)) = (fa[o], fb[o]) else {
                    continue;
                };
                if ab.iter().any(|v| v[o].is_none()) {
                    continue;
                }
                part.defined[o] += 1;
                row[..5].copy_from_slice(&[1.0, a, a * a, b, b * b]);
                for (i, v) in ab.iter().enumerate() {
                    let d = v[o].unwrap_or(a) - a;
                    row[5 + 3 * i..8 + 3 * i].copy_from_slice(&[d, b * d, d * d]);
                }
                for (sums, &w) in part.sobol[o].iter_mut().zip(&weights) {
                    if w != 0.0 {
                        for (s, x) in sums.iter_mut().zip(&row) {
                            *s += w * x;
                        }
                    }
                }
            }
        }
        part
    }
}

/// The output's variance, and each input's first-order and total index.
type Indices = (f64, Vec<(f64, f64)>);

/// First-order and total indices of every input from one replicate's sums; `None` where the
/// output does not vary (or no path was drawn into the replicate).
fn indices(sums: &[f64], inputs: usize) -> Option<Indices> {
    let n = sums[0];
    if n < 2.0 {
        return None;
    }
    let (mean_a, mean_b) = (sums[1] / n, sums[3] / n);
    let var_a = (sums[2] / n - mean_a * mean_a).max(0.0);
    let var_b = (sums[4] / n - mean_b * mean_b).max(0.0);
    let v = 0.5 * (var_a + var_b);
    // Below rounding of the sums: the output is constant.
    let scale = mean_a.abs().max(mean_b.abs()).max(1e-300);
    if v <= 1e-12 * scale * scale || v == 0.0 {
        return None;
    }
    let per_input = (0..inputs)
        .map(|i| {
            let (d, bd, dd) = (sums[5 + 3 * i], sums[6 + 3 * i], sums[7 + 3 * i]);
            let first = (bd - mean_b * d) / n / v;
            let total = 0.5 * dd / n / v;
            (first, total)
        })
        .collect();
    Some((v, per_input))
}

/// The 2.5th and 97.5th percentiles of `xs` (sorted in place), by linear interpolation.
fn percentile_interval(xs: &mut [f64]) -> Option<[f64; 2]> {
    if xs.len() < BOOTSTRAP / 2 {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let pos = q * (xs.len() - 1) as f64;
        let (i, f) = (pos.floor() as usize, pos - pos.floor());
        xs[i] + f * (xs[(i + 1).min(xs.len() - 1)] - xs[i])
    };
    Some([at(0.025), at(0.975)])
}

/// Mid-ranks of `xs` (ties share the mean of their ranks).
fn ranks(xs: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..xs.len()).collect();
    order.sort_by(|&a, &b| xs[a].total_cmp(&xs[b]).then(a.cmp(&b)));
    let mut r = vec![0.0; xs.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && xs[order[j + 1]] == xs[order[i]] {
            j += 1;
        }
        let mid = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            r[k] = mid;
        }
        i = j + 1;
    }
    r
}

/// Pearson's correlation; `None` when either side is constant.
fn correlation(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| (sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0))
}

/// Solves `a x = b` by Gaussian elimination with partial pivoting; `None` when `a` is
/// singular. (The systems are as small as the list of inputs: a linear-algebra crate would
/// add a dependency for twenty lines.)
fn solve_linear(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for c in 0..n {
        let p = (c..n).max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))?;
        if a[p][c].abs() < 1e-10 {
            return None;
        }
        a.swap(c, p);
        b.swap(c, p);
        let (pivot, below) = a.split_at_mut(c + 1);
        let pivot = &pivot[c];
        for (r, row) in below.iter_mut().enumerate() {
            let f = row[c] / pivot[c];
            for (x, p) in row[c..].iter_mut().zip(&pivot[c..]) {
                *x -= f * p;
            }
            b[c + 1 + r] -= f * b[c];
        }
    }
    let mut x = vec![0.0; n];
    for c in (0..n).rev() {
        let s: f64 = (c + 1..n).map(|k| a[c][k] * x[k]).sum();
        x[c] = (b[c] - s) / a[c][c];
    }
    Some(x)
}

/// Spearman's correlation of each input with output `o`, the standardised rank regression
/// coefficients and the regression's R², over the rows where the output is defined.
#[allow(clippy::type_complexity)]
fn rank_statistics(
    rows: &[&Row],
    o: usize,
    inputs: usize,
) -> (Vec<Option<f64>>, Vec<Option<f64>>, Option<f64>) {
    let kept: Vec<&Row> = rows.iter().copied().filter(|r| r.2[o].is_some()).collect();
    if kept.len() < 3 {
        return (vec![None; inputs], vec![None; inputs], None);
    }
    let y = ranks(
        &kept
            .iter()
            .map(|r| r.2[o].unwrap_or(0.0))
            .collect::<Vec<_>>(),
    );
    let x: Vec<Vec<f64>> = (0..inputs)
        .map(|i| ranks(&kept.iter().map(|r| r.1[i]).collect::<Vec<_>>()))
        .collect();
    let rho: Vec<Option<f64>> = x.iter().map(|xi| correlation(xi, &y)).collect();
    // The regression on standardised ranks is the correlation matrix solved against the
    // correlations with the output; inputs that do not vary are left out.
    let used: Vec<usize> = (0..inputs).filter(|&i| rho[i].is_some()).collect();
    let mut src = vec![None; inputs];
    let mut r2 = None;
    if !used.is_empty() {
        let a: Vec<Vec<f64>> = used
            .iter()
            .map(|&i| {
                used.iter()
                    .map(|&j| {
                        if i == j {
                            1.0
                        } else {
                            correlation(&x[i], &x[j]).unwrap_or(0.0)
                        }
                    })
                    .collect()
            })
            .collect();
        let b: Vec<f64> = used.iter().map(|&i| rho[i].unwrap_or(0.0)).collect();
        if let Some(beta) = solve_linear(a, b.clone()) {
            r2 = Some(
                beta.iter()
                    .zip(&b)
                    .map(|(x, y)| x * y)
                    .sum::<f64>()
                    .clamp(0.0, 1.0),
            );
            for (&i, v) in used.iter().zip(beta) {
                src[i] = Some(v);
            }
        }
    }
    (rho, src, r2)
}

/// Base paths per block: the unit of parallel work, of exact folding and of shards (block `b`
/// is base paths `b * BLOCK ..` of every analysis with the same seed).
pub const BLOCK: u64 = CHUNK;

/// The blocks of an analysis of `paths` base paths (the last one may be short).
pub fn blocks(paths: u64) -> u64 {
    paths.div_ceil(BLOCK)
}

impl<'a> Design<'a> {
    fn new(model: &'a Model, opts: &Options) -> Design<'a> {
        let inputs = model.random_inputs();
        let seed_b = second_seed(opts.seed);
        let switched = |key: u64, to: Stream| {
            let mut m = model.clone();
            m.streams.switch(key, to);
            m
        };
        Design {
            a: model,
            seed_b,
            ab: inputs
                .iter()
                .map(|i| switched(i.key, Stream::Seed(seed_b)))
                .collect(),
            held: inputs
                .iter()
                .map(|i| {
                    [LOW, HIGH]
                        .map(|p| switched(i.key, Stream::Held(held_draw(i.kind, p, model.periods))))
                })
                .collect(),
            inputs,
            outputs: key_outputs(model),
            opts: *opts,
            cdf: poisson_one_cdf(),
        }
    }
}

/// Runs the analysis of a compiled model; `progress` is called with base paths done.
pub fn analyse(
    model: &Model,
    opts: &Options,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(Vec<RandomInput>, Vec<OutputSensitivity>), SimulateError> {
    let totals = simulate_blocks(model, opts, 0..blocks(opts.paths), progress)?;
    Ok(summarise(model, &totals))
}

/// [`analyse`] on some of the analysis's blocks only, without the summary: a shard. Every
/// draw depends only on the seed and the base path, and totals merge exactly, so the totals
/// of any split of the blocks merge (in block order) to those of one run.
pub fn simulate_blocks(
    model: &Model,
    opts: &Options,
    range: std::ops::Range<u64>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Totals, SimulateError> {
    if opts.paths == 0 {
        return Err(SimulateError::NoPaths);
    }
    let range = range.start..range.end.min(blocks(opts.paths));
    if range.is_empty() {
        return Ok(Totals::new(model));
    }
    let design = Design::new(model, opts);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads)
        .build()
        .map_err(|e| SimulateError::Threads(opts.threads, e.to_string()))?;
    let threads = pool.current_num_threads() as u64;
    let done = std::sync::atomic::AtomicU64::new(0);
    let (totals, _) = fold_chunks(
        &pool,
        range.end - range.start,
        2 * threads,
        |c| {
            let part = design.run_chunk(range.start + c);
            let n = part.paths;
            progress(done.fetch_add(n, std::sync::atomic::Ordering::Relaxed) + n);
            part
        },
        |part| {
            let mut totals = Totals::new(model);
            totals.add(part);
            totals
        },
        Totals::add,
    )
    .ok_or(SimulateError::NoPaths)?;
    Ok(totals)
}

/// The inputs and each output's analysis from the totals of every block.
pub fn summarise(model: &Model, totals: &Totals) -> (Vec<RandomInput>, Vec<OutputSensitivity>) {
    let inputs = model.random_inputs();
    let k = inputs.len();
    let mut rows: Vec<&Row> = totals.rows.iter().collect();
    rows.sort_by_key(|r| r.0);
    let outputs = key_outputs(model)
        .iter()
        .enumerate()
        .map(|(o, out)| {
            let point = indices(&totals.replicate(o, 0), k);
            let replicates: Vec<Option<Indices>> = (1..=BOOTSTRAP)
                .map(|r| indices(&totals.replicate(o, r), k))
                .collect();
            let (rho, src, r2) = rank_statistics(&rows, o, k);
            let mut effects: Vec<InputEffect> = inputs
                .iter()
                .enumerate()
                .map(|(i, input)| {
                    let interval = |pick: fn(&(f64, f64)) -> f64| {
                        let mut xs: Vec<f64> = replicates
                            .iter()
                            .flatten()
                            .map(|(_, v)| pick(&v[i]))
                            .collect();
                        percentile_interval(&mut xs)
                    };
                    let index = |pick: fn(&(f64, f64)) -> f64| Index {
                        estimate: point.as_ref().map(|(_, v)| pick(&v[i])),
                        ci95: point.as_ref().and_then(|_| interval(pick)),
                    };
                    InputEffect {
                        input: input.name.clone(),
                        first_order: index(|v| v.0),
                        total: index(|v| v.1),
                        swing: Swing {
                            low: totals.tornado(i, 0, o).mean(),
                            high: totals.tornado(i, 1, o).mean(),
                        },
                        rank_correlation: rho[i],
                        rank_regression: src[i],
                    }
                })
                .collect();
            // Largest swing first; ties (and undefined swings) by total index, then name.
            effects.sort_by(|a, b| {
                let w = |e: &InputEffect| e.swing.width().map_or(-1.0, f64::abs);
                let t = |e: &InputEffect| e.total.estimate.unwrap_or(-1.0);
                w(b).total_cmp(&w(a))
                    .then(t(b).total_cmp(&t(a)))
                    .then(a.input.cmp(&b.input))
            });
            OutputSensitivity {
                output: out.name.clone(),
                kind: out.extract.kind(),
                mean: totals.base[o].mean(),
                variance: point.map(|(v, _)| v),
                paths: totals.defined[o],
                rank_regression_r2: r2,
                inputs: effects,
            }
        })
        .collect();
    (inputs, outputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_of_any_split_merged_in_any_order_summarise_to_the_same_bits() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/baseline.toml");
        let mut sources = crate::diagnostic::SourceMap::new();
        let s = crate::scenario::load(&path, &[], &mut sources).expect("the baseline loads");
        let m = Model::compile(&s);
        let opts = Options {
            paths: 700,
            seed: 5,
            threads: 1,
        };
        let run = |r: std::ops::Range<u64>| simulate_blocks(&m, &opts, r, &|_| {}).unwrap();
        let whole = summarise(&m, &run(0..blocks(opts.paths)));
        let parts = [run(0..1), run(1..2), run(2..3)];
        assert!(parts[1].fits(&m, 256, 512) && parts[2].fits(&m, 512, 700));
        assert!(!parts[1].fits(&m, 0, 256), "rows of other paths");
        for order in [[2, 0, 1], [1, 2, 0], [0, 1, 2]] {
            let mut t = Totals::new(&m);
            for i in order {
                t.merge(&parts[i]);
            }
            assert_eq!(summarise(&m, &t), whole, "{order:?}");
        }
    }

    #[test]
    fn ranks_share_ties_and_correlation_is_none_for_constants() {
        assert_eq!(ranks(&[3.0, 1.0, 3.0, 2.0]), vec![3.5, 1.0, 3.5, 2.0]);
        assert_eq!(correlation(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);
        let c = correlation(&[1.0, 2.0, 3.0], &[2.0, 4.0, 7.0]).unwrap();
        assert!(c > 0.98 && c <= 1.0);
    }

    #[test]
    fn gaussian_elimination_solves_and_refuses_singular_systems() {
        let x = solve_linear(vec![vec![0.0, 2.0], vec![1.0, 1.0]], vec![4.0, 3.0]).unwrap();
        assert!((x[0] - 1.0).abs() < 1e-12 && (x[1] - 2.0).abs() < 1e-12);
        assert!(solve_linear(vec![vec![1.0, 2.0], vec![2.0, 4.0]], vec![1.0, 2.0]).is_none());
    }

    #[test]
    fn poisson_weights_have_mean_and_variance_one() {
        let cdf = poisson_one_cdf();
        assert!((cdf[15] - 1.0).abs() < 1e-12);
        let n = 200_000;
        let (mut s, mut ss) = (0.0, 0.0);
        for path in 0..n {
            let u = uniform_at(3, 11, path, 1);
            let w = cdf.iter().position(|&c| u < c).unwrap_or(15) as f64;
            s += w;
            ss += w * w;
        }
        let mean = s / n as f64;
        let var = ss / n as f64 - mean * mean;
        assert!((mean - 1.0).abs() < 0.01, "{mean}");
        assert!((var - 1.0).abs() < 0.02, "{var}");
    }

    #[test]
    fn a_constant_output_has_no_indices_and_intervals_are_percentiles() {
        let constant = [4.0, 4.0, 4.0, 4.0, 4.0, 0.0, 0.0, 0.0];
        assert_eq!(indices(&constant, 1), None);
        let mut xs = vec![0.3; 120];
        xs.extend(vec![0.5; 80]);
        assert_eq!(percentile_interval(&mut xs), Some([0.3, 0.5]));
        assert_eq!(percentile_interval(&mut [1.0]), None);
    }
}
