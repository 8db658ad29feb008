//! Probability distributions of uncertain inputs, drawn by inverse CDF.
//!
//! Every draw is `quantile(u)` of a uniform `u`: the same `u` in two scenarios gives monotonically
//! coupled values even when the distributions' parameters differ, which is what makes paired
//! comparisons of funding structures precise (common random numbers), and correlations a matter
//! of correlating the `u`s (Gaussian copula).

use std::fmt;
use std::sync::{Arc, Mutex};

/// z such that P(Z <= z) = 0.95 for a standard normal: a 90% interval is mean +- Z95 sd.
pub const Z95: f64 = 1.644_853_626_951_472_2;

/// An uncertain quantity's distribution; parameters are validated when built.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Distribution {
    /// Always `value`.
    Fixed(f64),
    /// Uniform on [low, high].
    Uniform {
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
    },
    /// Normal with a mean and a standard deviation.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation (>= 0).
        sd: f64,
    },
    /// exp(Normal(mu, sigma)).
    LogNormal {
        /// Mean of the log.
        mu: f64,
        /// Standard deviation of the log (>= 0).
        sigma: f64,
    },
    /// Triangular on [low, high] with a mode.
    Triangular {
        /// Lower bound.
        low: f64,
        /// Most likely value.
        mode: f64,
        /// Upper bound.
        high: f64,
    },
    /// Beta(alpha, beta) rescaled to [low, high]; PERT is a Beta with shapes from its mode.
    Beta {
        /// First shape (> 0).
        alpha: f64,
        /// Second shape (> 0).
        beta: f64,
        /// Lower bound of the support.
        low: f64,
        /// Upper bound of the support.
        high: f64,
    },
    /// 1 with probability p, else 0.
    Bernoulli {
        /// Probability of 1.
        p: f64,
    },
}

impl Distribution {
    /// Builds a uniform distribution, checking `low < high`.
    pub fn uniform(low: f64, high: f64) -> Result<Self, String> {
        if low < high {
            Ok(Distribution::Uniform { low, high })
        } else {
            Err(format!(
                "uniform needs low < high, got low = {low} and high = {high}"
            ))
        }
    }

    /// Builds a normal distribution, checking `sd >= 0`.
    pub fn normal(mean: f64, sd: f64) -> Result<Self, String> {
        if sd >= 0.0 {
            Ok(Distribution::Normal { mean, sd })
        } else {
            Err(format!(
                "the standard deviation `sd` must be >= 0, got {sd}"
            ))
        }
    }

    /// Builds a lognormal from its median and log-scale sigma.
    pub fn lognormal_median(median: f64, sigma: f64) -> Result<Self, String> {
        if median <= 0.0 {
            return Err(format!("a lognormal median must be > 0, got {median}"));
        }
        if sigma < 0.0 {
            return Err(format!("`sigma` must be >= 0, got {sigma}"));
        }
        Ok(Distribution::LogNormal {
            mu: median.ln(),
            sigma,
        })
    }

    /// The "A to B" shorthand: a 90% interval, lognormal when both ends are positive, else normal.
    pub fn interval(low: f64, high: f64) -> Result<Self, String> {
        if low >= high {
            return Err(format!(
                "an interval `A to B` needs A < B, got {low} to {high}"
            ));
        }
        if low > 0.0 {
            Ok(Distribution::LogNormal {
                mu: (low.ln() + high.ln()) / 2.0,
                sigma: (high.ln() - low.ln()) / (2.0 * Z95),
            })
        } else {
            Ok(Distribution::Normal {
                mean: (low + high) / 2.0,
                sd: (high - low) / (2.0 * Z95),
            })
        }
    }

    /// A lognormal whose 90% interval is [low, high]; both ends must be positive.
    pub fn lognormal_interval(low: f64, high: f64) -> Result<Self, String> {
        if low <= 0.0 || high <= 0.0 {
            return Err(format!(
                "a lognormal interval needs both ends > 0, got {low} to {high}"
            ));
        }
        Self::interval(low, high)
    }

    /// Builds a triangular distribution, checking `low <= mode <= high` and `low < high`.
    pub fn triangular(low: f64, mode: f64, high: f64) -> Result<Self, String> {
        check_three_point("triangular", low, mode, high)?;
        Ok(Distribution::Triangular { low, mode, high })
    }

    /// Builds a PERT distribution (a Beta with shapes 1 + 4 (mode - low) / (high - low), ...).
    pub fn pert(low: f64, mode: f64, high: f64) -> Result<Self, String> {
        check_three_point("pert", low, mode, high)?;
        let range = high - low;
        Ok(Distribution::Beta {
            alpha: 1.0 + 4.0 * (mode - low) / range,
            beta: 1.0 + 4.0 * (high - mode) / range,
            low,
            high,
        })
    }

    /// Builds a Beta on [low, high], checking positive shapes and `low < high`.
    pub fn beta(alpha: f64, beta: f64, low: f64, high: f64) -> Result<Self, String> {
        if alpha <= 0.0 || beta <= 0.0 {
            return Err(format!(
                "beta shapes must be > 0, got alpha = {alpha} and beta = {beta}"
            ));
        }
        if low >= high {
            return Err(format!(
                "beta needs low < high, got low = {low} and high = {high}"
            ));
        }
        Ok(Distribution::Beta {
            alpha,
            beta,
            low,
            high,
        })
    }

    /// Builds a Bernoulli, checking `0 <= p <= 1`.
    pub fn bernoulli(p: f64) -> Result<Self, String> {
        if (0.0..=1.0).contains(&p) {
            Ok(Distribution::Bernoulli { p })
        } else {
            Err(format!("a probability must be between 0 and 1, got {p}"))
        }
    }

    /// True for a fixed value.
    pub fn is_fixed(&self) -> bool {
        matches!(self, Distribution::Fixed(_))
    }

    /// Smallest and largest possible values.
    pub fn support(&self) -> (f64, f64) {
        match *self {
            Distribution::Fixed(v) => (v, v),
            Distribution::Uniform { low, high }
            | Distribution::Triangular { low, high, .. }
            | Distribution::Beta { low, high, .. } => (low, high),
            Distribution::Normal { mean, sd: 0.0 } => (mean, mean),
            Distribution::Normal { .. } => (f64::NEG_INFINITY, f64::INFINITY),
            Distribution::LogNormal { .. } => (0.0, f64::INFINITY),
            Distribution::Bernoulli { .. } => (0.0, 1.0),
        }
    }

    /// The mean.
    pub fn mean(&self) -> f64 {
        match *self {
            Distribution::Fixed(v) => v,
            Distribution::Uniform { low, high } => (low + high) / 2.0,
            Distribution::Normal { mean, .. } => mean,
            Distribution::LogNormal { mu, sigma } => (mu + sigma * sigma / 2.0).exp(),
            Distribution::Triangular { low, mode, high } => (low + mode + high) / 3.0,
            Distribution::Beta {
                alpha,
                beta,
                low,
                high,
            } => low + (high - low) * alpha / (alpha + beta),
            Distribution::Bernoulli { p } => p,
        }
    }

    /// The value at probability `u` (inverse CDF); `u` in (0, 1).
    pub fn quantile(&self, u: f64) -> f64 {
        match *self {
            Distribution::Fixed(v) => v,
            Distribution::Uniform { low, high } => low + (high - low) * u,
            Distribution::Normal { mean, sd } => mean + sd * normal_quantile(u),
            Distribution::LogNormal { mu, sigma } => (mu + sigma * normal_quantile(u)).exp(),
            Distribution::Triangular { low, mode, high } => {
                let c = (mode - low) / (high - low);
                if u < c {
                    low + ((high - low) * (mode - low) * u).sqrt()
                } else {
                    high - ((high - low) * (high - mode) * (1.0 - u)).sqrt()
                }
            }
            Distribution::Beta {
                alpha,
                beta,
                low,
                high,
            } => low + (high - low) * beta_quantile(u, alpha, beta),
            Distribution::Bernoulli { p } => {
                if u > 1.0 - p {
                    1.0
                } else {
                    0.0
                }
            }
        }
    }

    /// [`Distribution::quantile`] of every value of `us`, in place, to the bit: normals and
    /// lognormals through [`normal_quantile_lanes`] and [`crate::exp::exp_lanes`], uniforms
    /// and triangulars in loops the compiler vectorises (a triangular's two branches both
    /// computed, one kept), the others value by value.
    pub fn quantile_lanes(&self, us: &mut [f64]) {
        const CHUNK: usize = 128;
        match *self {
            Distribution::Normal { mean, sd } => {
                let mut z = [0.0; CHUNK];
                for us in us.chunks_mut(CHUNK) {
                    let z = &mut z[..us.len()];
                    normal_quantile_lanes(us, z);
                    for (u, &z) in us.iter_mut().zip(&*z) {
                        *u = mean + sd * z;
                    }
                }
            }
            Distribution::LogNormal { mu, sigma } => {
                let mut z = [0.0; CHUNK];
                for us in us.chunks_mut(CHUNK) {
                    let z = &mut z[..us.len()];
                    normal_quantile_lanes(us, z);
                    for x in z.iter_mut() {
                        *x = mu + sigma * *x;
                    }
                    crate::exp::exp_lanes(z, us);
                }
            }
            Distribution::Uniform { .. } | Distribution::Triangular { .. } => {
                quantile_lanes_closed(self, us)
            }
            _ => us.iter_mut().for_each(|u| *u = self.quantile(*u)),
        }
    }

    /// The median.
    pub fn median(&self) -> f64 {
        self.quantile(0.5)
    }
}

impl fmt::Display for Distribution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Distribution::Fixed(v) => write!(f, "{v}"),
            Distribution::Uniform { low, high } => write!(f, "uniform({low}, {high})"),
            Distribution::Normal { mean, sd } => write!(f, "normal(mean {mean}, sd {sd})"),
            Distribution::LogNormal { mu, sigma } => {
                write!(f, "lognormal(median {:.4}, sigma {sigma:.4})", mu.exp())
            }
            Distribution::Triangular { low, mode, high } => {
                write!(f, "triangular({low}, {mode}, {high})")
            }
            Distribution::Beta {
                alpha,
                beta,
                low,
                high,
            } => write!(f, "beta({alpha:.4}, {beta:.4}) on [{low}, {high}]"),
            Distribution::Bernoulli { p } => write!(f, "bernoulli({p})"),
        }
    }
}

fn check_three_point(name: &str, low: f64, mode: f64, high: f64) -> Result<(), String> {
    if low >= high {
        return Err(format!(
            "{name} needs low < high, got low = {low} and high = {high}"
        ));
    }
    if !(low..=high).contains(&mode) {
        return Err(format!(
            "{name} needs low <= mode <= high, got {low}, {mode}, {high}"
        ));
    }
    Ok(())
}

/// Cells of each grid of a [`QuantileTable`].
const TABLE_CELLS: usize = 4096;
/// Where the tail grids take over: the first and last 64 cells of the main grid.
const TAIL: f64 = 64.0 / TABLE_CELLS as f64;
/// Cells at each extreme of the tail grids where the exact quantile is computed instead.
const EXACT_TAIL_CELLS: usize = 64;

/// A precomputed inverse CDF for distributions whose exact quantile is costly (Beta, PERT):
/// linear interpolation between exact quantiles on a grid of 4,096 cells over (0, 1), with two
/// finer grids of 4,096 cells over the first and last 1/64 where the curve is steepest, and the
/// exact quantile in their 64 outermost cells (a draw in 2,000). Within 1e-5 of the range
/// everywhere, far below the Monte Carlo error.
#[derive(Clone, Debug)]
pub struct QuantileTable {
    main: Vec<f64>,
    low: Vec<f64>,
    high: Vec<f64>,
}

/// Most tables a process keeps for reuse (about 100 KB each); past it, the oldest half goes.
const SHARED_TABLES: usize = 256;

impl QuantileTable {
    /// The table of `d`, built once per process and shared: the points of a sweep, the runs of
    /// a goal seek and of a sensitivity analysis compile a model each, and most of their
    /// distributions are the same (building the baseline's tables takes about 60 ms, a third of
    /// a sweep of eight points at 20,000 paths). `None` for distributions that need no table.
    pub fn shared(d: &Distribution) -> Option<Arc<QuantileTable>> {
        type Key = [u64; 4];
        static TABLES: Mutex<Vec<(Key, Arc<QuantileTable>)>> = Mutex::new(Vec::new());
        let Distribution::Beta {
            alpha,
            beta,
            low,
            high,
        } = *d
        else {
            return None;
        };
        let key = [alpha, beta, low, high].map(f64::to_bits);
        let lock = || {
            TABLES
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
        };
        if let Some((_, t)) = lock().iter().find(|(k, _)| *k == key) {
            return Some(Arc::clone(t));
        }
        // Built outside the lock: another thread may build the same table meanwhile, to the
        // same values.
        let table = Arc::new(QuantileTable::for_dist(d)?);
        let mut tables = lock();
        if tables.len() >= SHARED_TABLES {
            tables.drain(..SHARED_TABLES / 2);
        }
        tables.push((key, Arc::clone(&table)));
        Some(table)
    }

    /// A table for distributions that need one (Beta and PERT); `None` for the others.
    pub fn for_dist(d: &Distribution) -> Option<QuantileTable> {
        let grid = |from: f64, width: f64| -> Vec<f64> {
            (0..=TABLE_CELLS)
                .map(|i| d.quantile((from + width * i as f64 / TABLE_CELLS as f64).clamp(0.0, 1.0)))
                .collect()
        };
        match d {
            Distribution::Beta { .. } => Some(QuantileTable {
                main: grid(0.0, 1.0),
                low: grid(0.0, TAIL),
                high: grid(1.0 - TAIL, TAIL),
            }),
            _ => None,
        }
    }

    /// [`QuantileTable::quantile`] of every value in place, to the bit: the main grid for
    /// every value at once in a loop without branches, then the values in the tails (one in
    /// 32) one by one.
    pub fn quantile_lanes(&self, d: &Distribution, us: &mut [f64]) {
        const BLOCK: usize = 64;
        let main = &self.main[..=TABLE_CELLS];
        for us in us.chunks_mut(BLOCK) {
            let mut tails = [0u8; BLOCK];
            let mut n = 0;
            for (k, u) in us.iter_mut().enumerate() {
                let v = *u;
                tails[n] = k as u8;
                let in_tail = !(TAIL..=1.0 - TAIL).contains(&v);
                n += usize::from(in_tail);
                // What `quantile` computes on the main grid; a tail's value is discarded.
                let x = v * TABLE_CELLS as f64;
                let i = (x as usize).min(TABLE_CELLS - 1);
                let f = x - i as f64;
                let q = main[i] + f * (main[i + 1] - main[i]);
                *u = if in_tail { v } else { q };
            }
            for &k in &tails[..n] {
                let u = &mut us[usize::from(k)];
                *u = self.quantile(d, *u);
            }
        }
    }

    /// The quantile at `u` in (0, 1).
    #[inline]
    pub fn quantile(&self, d: &Distribution, u: f64) -> f64 {
        let (grid, x) = if u < TAIL {
            (&self.low, u / TAIL)
        } else if u > 1.0 - TAIL {
            (&self.high, (u - (1.0 - TAIL)) / TAIL)
        } else {
            (&self.main, u)
        };
        let x = x * TABLE_CELLS as f64;
        let i = x as usize;
        let outer = !std::ptr::eq(grid, &self.main)
            && !(EXACT_TAIL_CELLS..TABLE_CELLS - EXACT_TAIL_CELLS).contains(&i);
        if outer || i >= TABLE_CELLS {
            return d.quantile(u);
        }
        let f = x - i as f64;
        grid[i] + f * (grid[i + 1] - grid[i])
    }
}

/// [`Distribution::quantile_lanes`] of a uniform or a triangular: the scalar formulas with
/// no branch, so the loop vectorises; compiled for the widest vector unit the CPU has.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2"))]
fn quantile_lanes_closed(d: &Distribution, us: &mut [f64]) {
    match *d {
        Distribution::Uniform { low, high } => {
            for u in us.iter_mut() {
                *u = low + (high - low) * *u;
            }
        }
        Distribution::Triangular { low, mode, high } => {
            let c = (mode - low) / (high - low);
            for u in us.iter_mut() {
                let below = low + ((high - low) * (mode - low) * *u).sqrt();
                let above = high - ((high - low) * (high - mode) * (1.0 - *u)).sqrt();
                *u = if *u < c { below } else { above };
            }
        }
        _ => us.iter_mut().for_each(|u| *u = d.quantile(*u)),
    }
}

/// Standard normal CDF.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

/// Standard normal inverse CDF: Wichura's algorithm AS 241 (PPND16, Applied Statistics 37(3),
/// 1988), accurate to about 1e-16 relative. Rational approximations throughout, with no
/// refinement step, so it costs no `exp` or `erfc` (it runs for every lognormal draw).
pub fn normal_quantile(p: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        return central_quantile(q);
    }
    tail_quantile(p, q)
}

/// [`normal_quantile`] of every value, `out[i]` from `ps[i]`, to the bit: the central branch
/// (85% of draws) for every lane at once, in a loop the compiler vectorises, then the tails
/// ([`tail_quantiles`]). Compiled for the widest vector unit the CPU has, chosen when it runs.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2"))]
pub fn normal_quantile_lanes(ps: &[f64], out: &mut [f64]) {
    for (z, &p) in out.iter_mut().zip(ps) {
        *z = central_quantile(p - 0.5);
    }
    for (ps, out) in ps.chunks(TAIL_BLOCK).zip(out.chunks_mut(TAIL_BLOCK)) {
        tail_quantiles(ps, out);
    }
}

/// Values that [`tail_quantiles`] gathers at a time.
const TAIL_BLOCK: usize = 64;

/// The tails of [`normal_quantile_lanes`] (at most [`TAIL_BLOCK`] values): their positions
/// are gathered without branches, each `r` is computed in turn (a call of `ln`), and the
/// rational function of `r`, most of a tail's cost, runs over the gathered values at once.
/// Values outside `(0, 1)`, NaN, and `r > 5` (p below 1.4e-11 from either end) are left to
/// [`normal_quantile`].
#[inline(always)]
fn tail_quantiles(ps: &[f64], out: &mut [f64]) {
    let mut at = [0u8; TAIL_BLOCK];
    let mut n = 0;
    for (i, &p) in ps.iter().enumerate() {
        at[n] = i as u8;
        // NaN, like the tails, is gathered.
        let central = (p - 0.5).abs() <= 0.425;
        n += usize::from(!central);
    }
    let at = &at[..n];
    let mut r = [0.0; TAIL_BLOCK];
    for (r, &i) in r.iter_mut().zip(at) {
        let p = ps[usize::from(i)];
        *r = tail_r(p, p - 0.5);
    }
    let mut x = [0.0; TAIL_BLOCK];
    for (x, &r) in x.iter_mut().zip(&r[..n]) {
        *x = ratio(&ppnd16::C, &ppnd16::D, r - 1.6);
    }
    for ((&x, &r), &i) in x.iter().zip(&r).zip(at) {
        let p = ps[usize::from(i)];
        // `r` is NaN or infinite outside (0, 1) and for NaN, which fails the test.
        out[usize::from(i)] = if r <= 5.0 {
            if p < 0.5 { -x } else { x }
        } else {
            normal_quantile(p)
        };
    }
}

// The coefficients are kept digit for digit as published.
#[allow(clippy::excessive_precision)]
mod ppnd16 {
    pub const A: [f64; 8] = [
        3.387_132_872_796_366_608,
        1.331_416_678_917_843_774_5e2,
        1.971_590_950_306_551_442_7e3,
        1.373_169_376_550_946_112_5e4,
        4.592_195_393_154_987_145_7e4,
        6.726_577_092_700_870_085_3e4,
        3.343_057_558_358_812_810_5e4,
        2.509_080_928_730_122_672_7e3,
    ];
    pub const B: [f64; 8] = [
        1.0,
        4.231_333_070_160_091_125_2e1,
        6.871_870_074_920_579_083e2,
        5.394_196_021_424_751_107_7e3,
        2.121_379_430_158_659_586_7e4,
        3.930_789_580_009_271_061e4,
        2.872_908_573_572_194_267_4e4,
        5.226_495_278_852_854_561e3,
    ];
    pub const C: [f64; 8] = [
        1.423_437_110_749_683_577_34,
        4.630_337_846_156_545_295_9,
        5.769_497_221_460_691_405_5,
        3.647_848_324_763_204_605_04,
        1.270_458_252_452_368_382_58,
        2.417_807_251_774_506_117_7e-1,
        2.272_384_498_926_918_458_33e-2,
        7.745_450_142_783_414_076_4e-4,
    ];
    pub const D: [f64; 8] = [
        1.0,
        2.053_191_626_637_758_821_87,
        1.676_384_830_183_803_849_4,
        6.897_673_349_851_000_045_5e-1,
        1.481_039_764_274_800_745_9e-1,
        1.519_866_656_361_645_719_66e-2,
        5.475_938_084_995_344_946e-4,
        1.050_750_071_644_416_843_24e-9,
    ];
    pub const E: [f64; 8] = [
        6.657_904_643_501_103_777_2,
        5.463_784_911_164_114_369_9,
        1.784_826_539_917_291_335_8,
        2.965_605_718_285_048_912_3e-1,
        2.653_218_952_657_612_309_3e-2,
        1.242_660_947_388_078_438_6e-3,
        2.711_555_568_743_487_578_15e-5,
        2.010_334_399_292_288_132_65e-7,
    ];
    pub const F: [f64; 8] = [
        1.0,
        5.998_322_065_558_879_376_9e-1,
        1.369_298_809_227_358_053_1e-1,
        1.487_536_129_085_061_485_25e-2,
        7.868_691_311_456_132_591e-4,
        1.846_318_317_510_054_681_8e-5,
        1.421_511_758_316_445_888_7e-7,
        2.044_263_103_389_939_785_64e-15,
    ];
}

/// `num(r) / den(r)`, both polynomials of degree 7 with the constant term first.
#[inline(always)]
fn ratio(num: &[f64; 8], den: &[f64; 8], r: f64) -> f64 {
    let horner = |c: &[f64; 8]| c.iter().rev().fold(0.0, |acc, &k| acc * r + k);
    horner(num) / horner(den)
}

/// The quantile for `|q| <= 0.425`, `q = p - 0.5`.
#[inline(always)]
fn central_quantile(q: f64) -> f64 {
    q * ratio(&ppnd16::A, &ppnd16::B, 0.180625 - q * q)
}

/// The quantile in the tails, `0 < p < 1` with `|q| > 0.425`.
fn tail_quantile(p: f64, q: f64) -> f64 {
    use ppnd16::{C, D, E, F};
    let r = tail_r(p, q);
    let x = if r <= 5.0 {
        ratio(&C, &D, r - 1.6)
    } else {
        ratio(&E, &F, r - 5.0)
    };
    if q < 0.0 { -x } else { x }
}

/// The tails' variable, `sqrt(-ln(min(p, 1 - p)))`.
#[inline(always)]
fn tail_r(p: f64, q: f64) -> f64 {
    // 1 - p is exact for p in [0.5, 1) (Sterbenz), so the upper tail keeps its precision.
    (-(if q < 0.0 { p } else { 1.0 - p }).ln()).sqrt()
}

/// Regularized incomplete beta function I_x(a, b).
pub fn beta_cdf(x: f64, a: f64, b: f64) -> f64 {
    beta_cdf_with(x, a, b, ln_beta(a, b))
}

fn ln_beta(a: f64, b: f64) -> f64 {
    libm::lgamma(a) + libm::lgamma(b) - libm::lgamma(a + b)
}

/// I_x(a, b) given ln B(a, b).
fn beta_cdf_with(x: f64, a: f64, b: f64, ln_beta: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front = (a * x.ln() + b * (1.0 - x).ln() - ln_beta).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_continued_fraction(x, a, b) / a
    } else {
        1.0 - front * beta_continued_fraction(1.0 - x, b, a) / b
    }
}

/// Lentz's continued fraction for the incomplete beta (Numerical Recipes, betacf).
fn beta_continued_fraction(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..300 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// Inverse of the regularized incomplete beta: bisection safeguarded Newton iterations.
pub fn beta_quantile(u: f64, a: f64, b: f64) -> f64 {
    if u <= 0.0 {
        return 0.0;
    }
    if u >= 1.0 {
        return 1.0;
    }
    let ln_beta = ln_beta(a, b);
    let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
    // Start from the tails' asymptotics, I_x ~ x^a / (a B) and 1 - I_x ~ (1-x)^b / (b B),
    // where they apply, else from the mean: Newton then needs a few steps.
    let mean = a / (a + b);
    let x_low = (u.ln() + a.ln() + ln_beta) / a;
    let x_high = ((1.0 - u).ln() + b.ln() + ln_beta) / b;
    let mut x = if x_low.exp() < mean {
        x_low.exp()
    } else if 1.0 - x_high.exp() > mean {
        1.0 - x_high.exp()
    } else {
        mean
    }
    .clamp(1e-300, 1.0 - 1e-16);
    for _ in 0..100 {
        let f = beta_cdf_with(x, a, b, ln_beta) - u;
        if f.abs() < 1e-14 {
            break;
        }
        if f < 0.0 {
            lo = x;
        } else {
            hi = x;
        }
        let ln_pdf = (a - 1.0) * x.ln() + (b - 1.0) * (1.0 - x).ln() - ln_beta;
        let newton = x - f / ln_pdf.exp();
        x = if newton > lo && newton < hi && newton.is_finite() {
            newton
        } else {
            (lo + hi) / 2.0
        };
        if hi - lo < 1e-15 {
            break;
        }
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_quantile_inverts_the_cdf() {
        // Both branches of each region of AS 241, and points on either side of its splits.
        for &p in &[
            1e-300,
            1e-20,
            1e-12,
            1e-10,
            1e-4,
            0.01,
            0.074,
            0.076,
            0.2,
            0.5,
            0.7,
            0.924,
            0.926,
            0.975,
            0.9999,
            1.0 - 1e-10,
        ] {
            let x = normal_quantile(p);
            // The tail probability beyond x, relative to the one asked for.
            let (got, want) = if p < 0.5 {
                (normal_cdf(x), p)
            } else {
                (normal_cdf(-x), 1.0 - p)
            };
            assert!((got / want - 1.0).abs() < 1e-12, "{p}: {x}");
        }
        assert!((normal_quantile(0.95) - Z95).abs() < 1e-12);
    }

    #[test]
    fn the_lanes_quantile_is_the_scalar_one_to_the_bit() {
        // Values on both sides of the central branch's edges, the tails, the ends and NaN, in
        // slices of lengths that leave remainders after the vector loop.
        let mut ps: Vec<f64> = (0..4001).map(|i| i as f64 / 4000.0).collect();
        ps.extend([
            0.075,
            0.925,
            0.075f64.next_up(),
            0.925f64.next_down(),
            1e-300,
            -1.0,
            2.0,
        ]);
        ps.extend([
            f64::NAN,
            f64::INFINITY,
            0.5f64.next_up(),
            1.0f64.next_down(),
        ]);
        // Either side of the tails' r = 5, at both ends.
        let edge = (-25f64).exp();
        for p in [
            edge,
            edge.next_up(),
            edge.next_down(),
            edge * 1.001,
            edge / 1.001,
        ] {
            ps.extend([p, 1.0 - p]);
        }
        for len in [ps.len(), 1, 3, 13] {
            let mut z = vec![0.0; len];
            normal_quantile_lanes(&ps[..len], &mut z);
            for (&p, &x) in ps.iter().zip(&z) {
                let want = normal_quantile(p);
                assert!(
                    x.to_bits() == want.to_bits() || (x.is_nan() && want.is_nan()),
                    "{p}: {x} vs {want}"
                );
            }
        }
    }

    #[test]
    fn a_distribution_s_lanes_quantile_is_its_scalar_one_to_the_bit() {
        // Draws in (0, 1) from the far tails to the middle, in slices longer than a chunk of
        // the lanes loop and shorter than a vector; a triangular's mode at either end.
        let mut us: Vec<f64> = (1..1000).map(|i| i as f64 / 1000.0).collect();
        us.extend([1e-300, 1e-12, 0.5f64.next_up(), 1.0f64.next_down(), 0.3]);
        let dists = [
            Distribution::Normal { mean: 2.0, sd: 0.7 },
            Distribution::LogNormal {
                mu: 3.2,
                sigma: 0.33,
            },
            Distribution::LogNormal {
                mu: -700.0,
                sigma: 30.0,
            },
            Distribution::Uniform {
                low: -1.0,
                high: 3.5,
            },
            Distribution::Triangular {
                low: 1.8,
                mode: 2.1,
                high: 2.4,
            },
            Distribution::Triangular {
                low: 0.0,
                mode: 0.0,
                high: 1.0,
            },
            Distribution::Triangular {
                low: 0.0,
                mode: 1.0,
                high: 1.0,
            },
            Distribution::Beta {
                alpha: 2.0,
                beta: 5.0,
                low: 0.0,
                high: 10.0,
            },
            Distribution::Bernoulli { p: 0.3 },
            Distribution::Fixed(4.0),
        ];
        for d in &dists {
            for len in [us.len(), 1, 3, 13] {
                let mut xs = us[..len].to_vec();
                d.quantile_lanes(&mut xs);
                for (&u, &x) in us.iter().zip(&xs) {
                    let want = d.quantile(u);
                    assert_eq!(x.to_bits(), want.to_bits(), "{d}: at {u}, {x} vs {want}");
                }
            }
        }
    }

    #[test]
    fn a_table_s_lanes_quantile_is_its_scalar_one_to_the_bit() {
        // Draws on the main grid, in both tail grids, in their exact outer cells and on the
        // edges between them, in slices longer than a block and shorter than one.
        let mut us: Vec<f64> = (1..4000).map(|i| i as f64 / 4000.0).collect();
        us.extend((1..300).map(|i| i as f64 * 1e-4));
        us.extend((1..300).map(|i| 1.0 - i as f64 * 1e-4));
        us.extend([
            1e-300,
            1e-9,
            TAIL,
            TAIL.next_down(),
            TAIL.next_up(),
            1.0 - TAIL,
        ]);
        us.extend([(1.0 - TAIL).next_up(), 0.5, 1.0f64.next_down(), 0.0]);
        let d = Distribution::Beta {
            alpha: 2.0,
            beta: 5.0,
            low: 1.0,
            high: 10.0,
        };
        let t = QuantileTable::for_dist(&d).unwrap();
        for len in [us.len(), 1, 3, 65, 130] {
            let mut xs = us[..len].to_vec();
            t.quantile_lanes(&d, &mut xs);
            for (&u, &x) in us.iter().zip(&xs) {
                let want = t.quantile(&d, u);
                assert_eq!(x.to_bits(), want.to_bits(), "at {u}: {x} vs {want}");
            }
        }
    }

    #[test]
    fn beta_quantile_inverts_the_cdf() {
        for &(a, b) in &[(0.5, 0.5), (2.0, 5.0), (1.0, 1.0), (10.0, 3.0)] {
            for &u in &[0.001, 0.1, 0.5, 0.9, 0.999] {
                let x = beta_quantile(u, a, b);
                assert!((beta_cdf(x, a, b) - u).abs() < 1e-10, "a={a} b={b} u={u}");
            }
        }
    }

    #[test]
    fn quantile_table_matches_the_exact_quantile() {
        let d = Distribution::pert(0.1, 0.2, 0.25).unwrap();
        let t = QuantileTable::for_dist(&d).unwrap();
        let tails = (1..2000).flat_map(|i| [i as f64 * 1e-5, 1.0 - i as f64 * 1e-5]);
        for u in (1..10_000)
            .map(|i| i as f64 / 10_000.0 - 0.00003)
            .chain(tails)
        {
            assert!(
                (t.quantile(&d, u) - d.quantile(u)).abs() < 1e-5 * 0.15,
                "{u}"
            );
        }
        assert!(QuantileTable::for_dist(&Distribution::Fixed(1.0)).is_none());
    }

    #[test]
    fn a_shared_table_is_built_once_per_distribution_and_equals_a_new_one() {
        // Parameters no other test uses, so the process-wide tables start without them.
        let d = Distribution::pert(0.123, 0.456, 0.789).unwrap();
        let (a, b) = (
            QuantileTable::shared(&d).unwrap(),
            QuantileTable::shared(&d).unwrap(),
        );
        assert!(Arc::ptr_eq(&a, &b), "built twice");
        let new = QuantileTable::for_dist(&d).unwrap();
        for (shared, new) in [
            (&a.main, &new.main),
            (&a.low, &new.low),
            (&a.high, &new.high),
        ] {
            let bits = |v: &Vec<f64>| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(shared), bits(new));
        }
        let other = Distribution::pert(0.123, 0.457, 0.789).unwrap();
        let c = QuantileTable::shared(&other).unwrap();
        assert!(!Arc::ptr_eq(&a, &c));
        assert_ne!(c.main[TABLE_CELLS / 2], a.main[TABLE_CELLS / 2]);
        assert!(QuantileTable::shared(&Distribution::Fixed(1.0)).is_none());
    }

    #[test]
    fn interval_shorthand_puts_90_percent_inside() {
        let d = Distribution::interval(5.0, 20.0).unwrap();
        assert!((d.quantile(0.05) - 5.0).abs() < 1e-9);
        assert!((d.quantile(0.95) - 20.0).abs() < 1e-9);
        let d = Distribution::interval(-2.0, 4.0).unwrap();
        assert!(matches!(d, Distribution::Normal { .. }));
        assert!((d.quantile(0.05) + 2.0).abs() < 1e-9);
    }

    #[test]
    fn triangular_and_pert_quantiles_match_their_means() {
        let t = Distribution::triangular(0.0, 1.0, 4.0).unwrap();
        let p = Distribution::pert(0.0, 1.0, 4.0).unwrap();
        for d in [t, p] {
            let n = 20_000;
            let mean: f64 = (0..n)
                .map(|i| d.quantile((i as f64 + 0.5) / n as f64))
                .sum::<f64>()
                / n as f64;
            assert!(
                (mean - d.mean()).abs() < 1e-3,
                "{d}: {mean} vs {}",
                d.mean()
            );
        }
    }

    #[test]
    fn invalid_parameters_are_rejected() {
        assert!(Distribution::normal(0.0, -1.0).is_err());
        assert!(Distribution::uniform(2.0, 1.0).is_err());
        assert!(Distribution::interval(3.0, 3.0).is_err());
        assert!(Distribution::lognormal_interval(-1.0, 3.0).is_err());
        assert!(Distribution::beta(0.0, 1.0, 0.0, 1.0).is_err());
        assert!(Distribution::bernoulli(1.5).is_err());
        assert!(Distribution::triangular(0.0, 5.0, 4.0).is_err());
    }
}
