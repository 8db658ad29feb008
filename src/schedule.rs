//! Deterministic schedules shared by the engine and the nominal graph: contract payments by
//! month, and growth curves in continuous time with their exact integrals over each period.
//!
//! A growing quantity (a revenue run-rate, a cost's fixed part) is a function of time, not of
//! the step: with `g` its annual growth at the start and `d` the yearly decay of that growth,
//!
//! ```text
//! L(t) = exp(kappa * phi(t)),   kappa = ln(1 + g),   lambda = -ln(1 - d),
//! phi(t) = (1 - exp(-lambda t)) / lambda            (phi(t) = t when d = 0)
//! ```
//!
//! so the continuous growth rate `kappa * exp(-lambda t)` shrinks by the factor `1 - d` every
//! year, and with `d = 0` the level grows by `1 + g` a year. What a period books is the exact
//! integral of `L` over the period, computed in closed form by a power series in the growth
//! rate whose coefficients (the moments of `phi`) depend only on the period length and `lambda`
//! (see [`Kernel`]), so a path pays for them once, not once per period.

use crate::exp::{exp, exp_lanes};
use crate::scenario::Profile;
use crate::time::{Horizon, Month};

/// Length of a contract in whole months (at least one).
pub fn contract_months(duration_years: f64) -> usize {
    ((duration_years * 12.0).round() as usize).max(1)
}

/// Payment weight of contract month `k` (0-based): for a capacity contract, the share of the
/// capacity in service that month; for a contract sized by value, its relative weight.
fn month_weight(profile: &Profile, start: Month, k: usize) -> f64 {
    match profile {
        Profile::Flat => 1.0,
        Profile::Ramp { full_by } => {
            // Capacity rises linearly from nothing at the start to all of it at the end of
            // `full_by`; a month pays for its average capacity.
            let ramp_months = (full_by.0 - start.0 + 1).max(1) as f64;
            ((k as f64 + 0.5) / ramp_months).min(1.0)
        }
        Profile::YearlyWeights(w) => w.get(k / 12).copied().unwrap_or(0.0),
    }
}

/// A contract's payment weights on the horizon's periods.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContractWeights {
    /// Weight paid in each period of the horizon.
    pub periods: Vec<f64>,
    /// Weight paid before the horizon starts.
    pub before: f64,
    /// Weight due after the horizon ends.
    pub after: f64,
    /// All weights added up.
    pub total: f64,
}

/// Fills `out` with the weights of a contract's months, by period of the horizon.
pub fn contract_weights(
    profile: &Profile,
    start: Month,
    duration_years: f64,
    horizon: &Horizon,
    out: &mut ContractWeights,
) {
    out.periods.clear();
    out.periods.resize(horizon.periods, 0.0);
    (out.before, out.after, out.total) = (0.0, 0.0, 0.0);
    for k in 0..contract_months(duration_years) {
        let w = month_weight(profile, start, k);
        let m = Month(start.0 + k as i32);
        match horizon.period_of(m) {
            Some(p) => out.periods[p] += w,
            None if m < horizon.start => out.before += w,
            None => out.after += w,
        }
        out.total += w;
    }
}

/// `phi(t) = (1 - exp(-lambda t)) / lambda`, and `t` when `lambda` is 0.
fn phi(lambda: f64, t: f64) -> f64 {
    if lambda == 0.0 {
        t
    } else {
        -(-lambda * t).exp_m1() / lambda
    }
}

/// Growth whose continuous rate decays exponentially (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Growth {
    /// Continuous growth rate at the start, `ln(1 + g)`.
    pub kappa: f64,
    /// Continuous decay rate of the growth rate, `-ln(1 - d)`.
    pub lambda: f64,
}

impl Growth {
    /// From the annual growth `g` (> -1) and the yearly decay `d` of that growth (in [0, 1]).
    pub fn new(growth: f64, decay: f64) -> Growth {
        let lambda = -(-decay).ln_1p();
        if !lambda.is_finite() {
            // A decay of 100% stops growth at once.
            return Growth {
                kappa: 0.0,
                lambda: 0.0,
            };
        }
        Growth {
            kappa: growth.ln_1p(),
            lambda,
        }
    }

    /// The level `t` years after the start, relative to the starting level.
    pub fn level(&self, t: f64) -> f64 {
        (self.kappa * phi(self.lambda, t)).exp()
    }
}

/// Terms of the power series at most (enough for |c| h <= 2 to 1e-17).
const MAX_TERMS: usize = 32;
/// Extra terms of the backward recurrence for the moments (enough for r <= 1/2).
const MAX_TAIL: usize = 60;
/// `1 / k` for k up to the longest recurrence (entry 0 unused).
const RECIPROCALS: [f64; MAX_TERMS + MAX_TAIL + 3] = {
    let mut r = [0.0; MAX_TERMS + MAX_TAIL + 3];
    let mut k = 1;
    while k < r.len() {
        r[k] = 1.0 / k as f64;
        k += 1;
    }
    r
};
/// `1 / k!` for the series' terms.
const INVERSE_FACTORIALS: [f64; MAX_TERMS] = {
    let mut r = [1.0; MAX_TERMS];
    let mut k = 1;
    while k < MAX_TERMS {
        r[k] = r[k - 1] / k as f64;
        k += 1;
    }
    r
};

/// The integral of `exp(c phi(u))` over `[0, h]` for any growth rate `c` with `|c| h <= 2`,
/// as the series `sum_k c^k M_k / k!` whose moments `M_k = int_0^h phi(u)^k du` depend only on
/// `lambda` and `h`. The moments come from the stable backward recurrence
/// `M_k = F^(k+1) / (k+1) + lambda M_(k+1)` with `F = phi(h)` (from `d/du phi^(k+1) =
/// (k+1) phi^k (1 - lambda phi)`); its tail shrinks by `r = lambda F = 1 - exp(-lambda h)`
/// per term, and `h` is chosen so that `r <= 1/2`. Terms of the series alternate in sign at
/// most by `exp(2 |c| h)`, so the result keeps about 14 significant digits.
#[derive(Clone, Copy, Debug)]
struct Kernel {
    /// `phi(h)`: the log-level gained per unit of growth rate.
    f: f64,
    /// `exp(-lambda h)`: how much the growth rate shrinks over `h`.
    q: f64,
    coef: [f64; MAX_TERMS],
    terms: usize,
}

impl Kernel {
    fn new(lambda: f64, h: f64, c_max: f64) -> Kernel {
        let f = phi(lambda, h);
        let r = -(-lambda * h).exp_m1();
        // Terms: until (|c| h)^k / k! is negligible.
        let x = c_max * h;
        let (mut terms, mut t, bound) = (1, 1.0, 1e-17 / exp(x));
        while terms < MAX_TERMS && t > bound {
            t *= x / terms as f64;
            terms += 1;
        }
        // Tail of the recurrence: until r^tail is negligible.
        let tail = if r <= 0.0 {
            1
        } else {
            ((1e-17 * (1.0 - r)).ln() / r.ln())
                .ceil()
                .clamp(1.0, MAX_TAIL as f64) as usize
        };
        let top = terms + tail;
        // F^(k+1) / (k+1) for every k, then the recurrence (no division on its chain).
        let mut scaled = [0.0; MAX_TERMS + MAX_TAIL + 2];
        let mut power = 1.0;
        for (k, x) in scaled.iter_mut().enumerate().take(top + 1) {
            power *= f;
            *x = power * RECIPROCALS[k + 1];
        }
        let mut moment = scaled[top];
        let mut coef = [0.0; MAX_TERMS];
        for k in (0..top).rev() {
            moment = scaled[k] + lambda * moment;
            if k < terms {
                coef[k] = moment * INVERSE_FACTORIALS[k];
            }
        }
        Kernel {
            f,
            q: exp(-lambda * h),
            coef,
            terms,
        }
    }

    /// `(exp(c F), int_0^h exp(c phi(u)) du)`.
    #[inline]
    fn eval(&self, c: f64) -> (f64, f64) {
        let sum = self.coef[..self.terms]
            .iter()
            .rev()
            .fold(0.0, |sum, &coef| sum * c + coef);
        (exp(c * self.f), sum)
    }
}

/// Integrates a [`Growth`] over consecutive spans of one length.
#[derive(Clone, Copy, Debug)]
struct Spans {
    kernel: Kernel,
    /// Pieces per span, so that each piece has `|c| h <= 2` and `r <= 1/2`.
    pieces: usize,
}

impl Spans {
    /// Pieces a span of `len` years needs.
    fn pieces(g: Growth, len: f64) -> usize {
        ((g.kappa.abs() * len / 2.0).ceil())
            .max((g.lambda * len / std::f64::consts::LN_2).ceil())
            .clamp(1.0, 1e6) as usize
    }

    fn new(g: Growth, len: f64) -> Spans {
        let pieces = Spans::pieces(g, len);
        let h = len / pieces as f64;
        Spans {
            kernel: Kernel::new(g.lambda, h, g.kappa.abs()),
            pieces,
        }
    }

    /// The integral of the level over the next span; moves `level` and the growth rate `c` to
    /// the span's end.
    #[inline]
    fn advance(&self, c: &mut f64, level: &mut f64) -> f64 {
        let mut total = 0.0;
        for _ in 0..self.pieces {
            let (growth, integral) = self.kernel.eval(*c);
            total += *level * integral;
            *level *= growth;
            *c *= self.kernel.q;
        }
        total
    }
}

/// Where a growing flow starts on the horizon.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Origin {
    /// The period it starts in.
    pub period: usize,
    /// Years from that period's start to the flow's start.
    pub offset: f64,
}

impl Origin {
    /// The origin of a flow starting in month `start` (the horizon start when `None`).
    pub fn of(h: &Horizon, start: Option<Month>) -> Origin {
        let m = start.unwrap_or(h.start);
        let period = h.period_clamped(m).min(h.periods);
        let offset = if period < h.periods {
            (m.0 - h.period_start(period).0) as f64 / 12.0
        } else {
            0.0
        };
        Origin { period, offset }
    }
}

/// Fills `levels[p]` (`periods + 1` boundaries) with the level at the start of period `p`
/// relative to the starting level (0 before the flow starts), and `integrals[p]` with the
/// integral of the level over the part of period `p` after the start, in years.
///
/// Compiled for the widest vector unit the CPU has, chosen when it runs: the series' loops run
/// over the periods, with separate multiplies and adds (never fused), so every CPU gets the
/// same bits.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2"))]
pub fn growth_path(g: Growth, dt: f64, origin: Origin, levels: &mut [f64], integrals: &mut [f64]) {
    let n = integrals.len();
    levels.fill(0.0);
    integrals.fill(0.0);
    if origin.period >= n {
        return;
    }
    let (mut c, mut level) = (g.kappa, 1.0);
    let mut p = origin.period;
    if origin.offset > 0.0 {
        integrals[p] = Spans::new(g, dt - origin.offset).advance(&mut c, &mut level);
        p += 1;
        levels[p] = level;
    } else {
        levels[p] = 1.0;
    }
    if p >= n {
        return;
    }
    let spans = Spans::new(g, dt);
    if spans.pieces > 1 {
        while p < n {
            integrals[p] = spans.advance(&mut c, &mut level);
            p += 1;
            levels[p] = level;
        }
        return;
    }
    // One piece per period: every period's growth rate is known in advance (it shrinks by `q`
    // each period), so the series of all periods are evaluated together, term by term (a loop
    // that vectorises, instead of one long chain of dependent multiply-adds per period), and
    // their exponentials are independent of each other.
    let k = &spans.kernel;
    let (rates, sums) = (&mut levels[p + 1..], &mut integrals[p..]);
    for r in rates.iter_mut() {
        *r = c;
        c *= k.q;
    }
    sums.fill(0.0);
    for &coef in k.coef[..k.terms].iter().rev() {
        for (sum, &rate) in sums.iter_mut().zip(rates.iter()) {
            *sum = *sum * rate + coef;
        }
    }
    // The periods' growth factors are exponentials of known rates: taken together, a chunk at
    // a time, then chained into levels.
    const CHUNK: usize = 64;
    let (mut arg, mut factor) = ([0.0; CHUNK], [0.0; CHUNK]);
    for (sums, rates) in sums.chunks_mut(CHUNK).zip(rates.chunks_mut(CHUNK)) {
        let len = rates.len();
        for (a, &rate) in arg.iter_mut().zip(rates.iter()) {
            *a = rate * k.f;
        }
        exp_lanes(&arg[..len], &mut factor[..len]);
        for ((sum, rate), &f) in sums.iter_mut().zip(rates.iter_mut()).zip(&factor) {
            *sum *= level;
            level *= f;
            *rate = level;
        }
    }
}

/// Lanes whose growth curves are computed together: four AVX-512 vectors, so the
/// kernel's recurrences (one chain of dependent multiplies and adds for the group) keep four
/// in flight, eight in the series of two periods (16 lanes: 3% slower; 64: no faster).
const GROUP: usize = 32;

/// [`growth_path`] for every lane of a batch, lane `i` growing by `gs[i]`: its level at
/// boundary `b` goes to `levels[b * stride + i]` (`periods + 1` rows) and its integral over
/// period `p` to `integrals[p * stride + i]` (`periods` rows), each to the bit what
/// [`growth_path`] gives.
///
/// Lanes go in groups of [`GROUP`]: when every lane of a group needs one series piece per
/// period and the flow starts on a period boundary (the common case), the group's kernels and
/// series are computed together, lane by lane within each step, so the loops run in vectors
/// instead of as one chain per lane. Other groups take [`growth_path`] lane by lane, through
/// `scratch`.
#[allow(clippy::too_many_arguments)]
pub fn growth_paths(
    gs: &[Growth],
    dt: f64,
    origin: Origin,
    periods: usize,
    levels: &mut [f64],
    integrals: &mut [f64],
    stride: usize,
    scratch: &mut Vec<f64>,
) {
    let lanes = gs.len();
    for start in (0..lanes).step_by(GROUP) {
        let group = &gs[start..(start + GROUP).min(lanes)];
        let together = origin.offset == 0.0
            && origin.period < periods
            && group.iter().all(|&g| Spans::pieces(g, dt) == 1);
        if together {
            // A short group is padded with its first lane, whose results are not written.
            let mut padded = [group[0]; GROUP];
            padded[..group.len()].copy_from_slice(group);
            group_path(
                &padded,
                group.len(),
                dt,
                origin.period,
                periods,
                start,
                stride,
                levels,
                integrals,
                scratch,
            );
            continue;
        }
        scratch.resize(2 * periods + 1, 0.0);
        let (lane_levels, lane_integrals) = scratch.split_at_mut(periods + 1);
        for (j, &g) in group.iter().enumerate() {
            growth_path(g, dt, origin, lane_levels, lane_integrals);
            for (b, &x) in lane_levels.iter().enumerate() {
                levels[b * stride + start + j] = x;
            }
            for (p, &x) in lane_integrals.iter().enumerate() {
                integrals[p * stride + start + j] = x;
            }
        }
    }
}

/// A slice of `G`-lane rows.
fn as_rows(xs: &mut [f64]) -> &mut [[f64; GROUP]] {
    let (rows, rest) = xs.as_chunks_mut::<GROUP>();
    debug_assert!(rest.is_empty());
    rows
}

/// One group of [`growth_paths`], each lane's arithmetic in [`Kernel::new`]'s and
/// [`growth_path`]'s order: loops that stop at a lane's own count run to the group's largest,
/// and the lanes past their count keep their values by a select (a series' terms past its
/// count are zeros, which leave its sum as it is).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2"))]
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
fn group_path(
    gs: &[Growth; GROUP],
    valid: usize,
    h: f64,
    first: usize,
    periods: usize,
    lane0: usize,
    stride: usize,
    levels: &mut [f64],
    integrals: &mut [f64],
    scratch: &mut Vec<f64>,
) {
    const G: usize = GROUP;
    let lambda: [f64; G] = std::array::from_fn(|j| gs[j].lambda);
    // Kernel::new, lane by lane within each step.
    let f: [f64; G] = std::array::from_fn(|j| phi(lambda[j], h));
    let r: [f64; G] = std::array::from_fn(|j| -(-lambda[j] * h).exp_m1());
    let x: [f64; G] = std::array::from_fn(|j| gs[j].kappa.abs() * h);
    let (mut grown, mut q) = ([0.0; G], [0.0; G]);
    exp_lanes(&x, &mut grown);
    exp_lanes(
        &std::array::from_fn::<f64, G, _>(|j| -lambda[j] * h),
        &mut q,
    );
    let bound: [f64; G] = std::array::from_fn(|j| 1e-17 / grown[j]);
    let (mut terms, mut t) = ([1usize; G], [1.0; G]);
    for step in 1..MAX_TERMS {
        let mut going = false;
        for j in 0..G {
            let go = terms[j] == step && t[j] > bound[j];
            t[j] = if go {
                t[j] * (x[j] / step as f64)
            } else {
                t[j]
            };
            terms[j] += usize::from(go);
            going |= go;
        }
        if !going {
            break;
        }
    }
    let top: [usize; G] = std::array::from_fn(|j| {
        let tail = if r[j] <= 0.0 {
            1
        } else {
            ((1e-17 * (1.0 - r[j])).ln() / r[j].ln())
                .ceil()
                .clamp(1.0, MAX_TAIL as f64) as usize
        };
        terms[j] + tail
    });
    let highest = top.iter().copied().max().unwrap_or(1);
    // Tables in `scratch`, every entry read written first: no clearing per group.
    let spans = periods - first;
    let (most_terms, tables) = (terms.iter().copied().max().unwrap_or(1), highest + 1);
    scratch.resize((tables + most_terms + 3 * spans) * G, 0.0);
    let (scaled, rest) = scratch.split_at_mut(tables * G);
    let (coef, rest) = rest.split_at_mut(most_terms * G);
    let (scaled, coef) = (as_rows(scaled), as_rows(coef));
    let mut power = [1.0; G];
    for (k, row) in scaled.iter_mut().enumerate() {
        for j in 0..G {
            power[j] *= f[j];
            row[j] = power[j] * RECIPROCALS[k + 1];
        }
    }
    let mut moment = scaled[highest];
    // A lane starts its recurrence at its own top.
    let recur = |k: usize, moment: &mut [f64; G]| {
        for j in 0..G {
            moment[j] = if k < top[j] {
                scaled[k][j] + lambda[j] * moment[j]
            } else {
                scaled[k][j]
            };
        }
    };
    // Two loops, the coefficients' rows written only in the second (`most_terms < highest`):
    // with the test on `k` inside, the loop ran lane by lane.
    for k in (most_terms..highest).rev() {
        recur(k, &mut moment);
    }
    for (k, row) in coef.iter_mut().enumerate().rev() {
        recur(k, &mut moment);
        for j in 0..G {
            row[j] = if k < terms[j] {
                moment[j] * INVERSE_FACTORIALS[k]
            } else {
                0.0
            };
        }
    }
    // growth_path: every period's rate, its series and its growth factor, lane by lane.
    let (rates, rest) = rest.split_at_mut(spans * G);
    let (args, factors) = rest.split_at_mut(spans * G);
    let (rates, args) = (as_rows(rates), as_rows(args));
    let mut c: [f64; G] = std::array::from_fn(|j| gs[j].kappa);
    for rate in rates.iter_mut() {
        *rate = c;
        for j in 0..G {
            c[j] *= q[j];
        }
    }
    // Each period's series is computed over the rate in place, after its exponential's
    // argument has been taken from it. Periods go two at a time, their Horner chains
    // interleaved: one chain waited on each multiply-add's latency (four at a time spilled).
    let (rate_rows, rate_rest) = rates.as_chunks_mut::<2>();
    let (arg_rows, arg_rest) = args.as_chunks_mut::<2>();
    for (rate, arg) in rate_rows.iter_mut().zip(arg_rows.iter_mut()) {
        series_rows(rate, arg, coef, &f);
    }
    for (rate, arg) in rate_rest.iter_mut().zip(arg_rest.iter_mut()) {
        series_rows(
            std::array::from_mut(rate),
            std::array::from_mut(arg),
            coef,
            &f,
        );
    }
    exp_lanes(args.as_flattened(), factors);
    let factors = as_rows(factors);
    let put = |out: &mut [f64], row: usize, xs: &[f64; G]| {
        let at = row * stride + lane0;
        if valid == G {
            out[at..at + G].copy_from_slice(xs);
        } else {
            out[at..at + valid].copy_from_slice(&xs[..valid]);
        }
    };
    for row in 0..first {
        put(levels, row, &[0.0; G]);
        put(integrals, row, &[0.0; G]);
    }
    let mut level = [1.0; G];
    put(levels, first, &level);
    for (s, (series, factor)) in rates.iter_mut().zip(factors.iter()).enumerate() {
        for j in 0..G {
            series[j] *= level[j];
            level[j] *= factor[j];
        }
        put(integrals, first + s, series);
        put(levels, first + s + 1, &level);
    }
}

/// [`group_path`]'s series of `R` periods, their Horner chains interleaved: each rate row
/// becomes its series, and its exponential's argument (rate times `f`) goes to `arg`.
#[inline(always)]
fn series_rows<const R: usize>(
    rate: &mut [[f64; GROUP]; R],
    arg: &mut [[f64; GROUP]; R],
    coef: &[[f64; GROUP]],
    f: &[f64; GROUP],
) {
    let mut sum = [[0.0; GROUP]; R];
    for cf in coef.iter().rev() {
        for r in 0..R {
            for j in 0..GROUP {
                sum[r][j] = sum[r][j] * rate[r][j] + cf[j];
            }
        }
    }
    for r in 0..R {
        for j in 0..GROUP {
            arg[r][j] = rate[r][j] * f[j];
            rate[r][j] = sum[r][j];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Step;

    fn horizon() -> Horizon {
        Horizon {
            start: Month::new(2024, 1),
            step: Step::Quarter,
            periods: 28,
        }
    }

    fn weights(profile: Profile, start: Month, years: f64) -> ContractWeights {
        let mut w = ContractWeights::default();
        contract_weights(&profile, start, years, &horizon(), &mut w);
        w
    }

    #[test]
    fn flat_contract_spreads_evenly_and_keeps_the_rest_as_backlog() {
        let w = weights(Profile::Flat, Month::new(2025, 10), 7.0);
        assert_eq!(w.before, 0.0);
        assert_eq!(w.total, 84.0);
        // 63 of 84 months fall inside 2025-10..2030-12.
        assert_eq!(w.periods.iter().sum::<f64>(), 63.0);
        assert_eq!(w.after, 21.0);
        assert_eq!(w.periods[7], 3.0);
    }

    #[test]
    fn a_ramp_pays_for_the_average_capacity_of_each_month() {
        // A 12-month ramp from 2025-01: month k is in service (k + 0.5) / 12 on average, so the
        // ramp year pays for 6 months of full capacity, and every month after it pays 1.
        let w = weights(
            Profile::Ramp {
                full_by: Month::new(2025, 12),
            },
            Month::new(2025, 1),
            3.0,
        );
        let first_year: f64 = w.periods[4..8].iter().sum();
        assert!((first_year - 6.0).abs() < 1e-12, "{first_year}");
        assert_eq!(w.periods[8], 3.0);
        assert!((w.total - 30.0).abs() < 1e-12);
        assert!(w.periods[4] < w.periods[5] && w.periods[5] < w.periods[7]);
    }

    /// The integral by composite Simpson's rule on a fine grid.
    fn simpson(g: Growth, a: f64, b: f64) -> f64 {
        let n = 20_000;
        let h = (b - a) / n as f64;
        let mut s = g.level(a) + g.level(b);
        for i in 1..n {
            s += g.level(a + i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
        }
        s * h / 3.0
    }

    #[test]
    fn period_integrals_match_quadrature_for_growth_and_decay_of_every_sign() {
        for (g, d) in [
            (2.6, 0.33),
            (0.2, 0.0),
            (0.0, 0.5),
            (-0.5, 0.2),
            (-0.95, 0.0),
            (9.0, 0.9),
            (1e-9, 1e-9),
            (3.0, 1.0),
        ] {
            let growth = Growth::new(g, d);
            for (dt, offset) in [
                (1.0 / 12.0, 0.0),
                (0.25, 0.0),
                (1.0, 0.0),
                (0.25, 1.0 / 12.0),
            ] {
                let n = 12;
                let (mut levels, mut integrals) = (vec![0.0; n + 1], vec![0.0; n]);
                let origin = Origin { period: 2, offset };
                growth_path(growth, dt, origin, &mut levels, &mut integrals);
                assert_eq!(integrals[..2], [0.0, 0.0]);
                for p in 2..n {
                    let a = (p as f64 * dt - 2.0 * dt - offset).max(0.0);
                    let b = (p + 1) as f64 * dt - 2.0 * dt - offset;
                    let exact = simpson(growth, a, b);
                    let rel = (integrals[p] - exact).abs() / exact;
                    assert!(
                        rel < 1e-12,
                        "g {g} d {d} dt {dt} p {p}: {} vs {exact}",
                        integrals[p]
                    );
                    let level = (levels[p + 1] - growth.level(b)).abs() / growth.level(b);
                    assert!(level < 1e-12, "level g {g} d {d} p {p}");
                }
            }
        }
    }

    #[test]
    fn a_batch_of_curves_is_each_lane_alone_to_the_bit() {
        // Growths of every kind (no decay, full decay, shrinking, steep enough to need several
        // pieces a period), batches that leave a short group, and origins on and off a
        // period boundary or past the horizon.
        let mut state = 0x9e3779b97f4a7c15u64;
        let mut uniform = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let n = 12;
        for (dt, lanes) in [
            (0.25, 128),
            (1.0 / 12.0, 13),
            (1.0, 8),
            (0.25, 1),
            (0.25, 37),
        ] {
            let gs: Vec<Growth> = (0..lanes)
                .map(|i| match i % 9 {
                    0 => Growth::new(uniform() * 3.0, 0.0),
                    1 => Growth::new(uniform() * 3.0, 1.0),
                    2 => Growth::new(-0.9 * uniform(), uniform()),
                    3 if dt == 1.0 => Growth::new(40.0 + uniform(), 0.1),
                    _ => Growth::new(0.5 + 2.0 * uniform(), 0.1 + 0.3 * uniform()),
                })
                .collect();
            for origin in [
                Origin {
                    period: 0,
                    offset: 0.0,
                },
                Origin {
                    period: 3,
                    offset: 0.0,
                },
                Origin {
                    period: 2,
                    offset: dt / 3.0,
                },
                Origin {
                    period: n,
                    offset: 0.0,
                },
            ] {
                let stride = lanes + 3;
                let (mut levels, mut integrals) =
                    (vec![f64::NAN; (n + 1) * stride], vec![f64::NAN; n * stride]);
                let mut scratch = Vec::new();
                growth_paths(
                    &gs,
                    dt,
                    origin,
                    n,
                    &mut levels,
                    &mut integrals,
                    stride,
                    &mut scratch,
                );
                for (i, &g) in gs.iter().enumerate() {
                    let (mut l, mut s) = (vec![0.0; n + 1], vec![0.0; n]);
                    growth_path(g, dt, origin, &mut l, &mut s);
                    let lane_l: Vec<u64> =
                        (0..=n).map(|b| levels[b * stride + i].to_bits()).collect();
                    let lane_s: Vec<u64> = (0..n)
                        .map(|p| integrals[p * stride + i].to_bits())
                        .collect();
                    let want_l: Vec<u64> = l.iter().map(|x| x.to_bits()).collect();
                    let want_s: Vec<u64> = s.iter().map(|x| x.to_bits()).collect();
                    assert_eq!(lane_l, want_l, "levels: dt {dt} lane {i} {g:?} {origin:?}");
                    assert_eq!(
                        lane_s, want_s,
                        "integrals: dt {dt} lane {i} {g:?} {origin:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_year_booked_by_month_quarter_or_year_is_the_same_money() {
        let g = Growth::new(2.6, 0.33);
        let by = |dt: f64, n: usize| {
            let (mut levels, mut integrals) = (vec![0.0; n + 1], vec![0.0; n]);
            let origin = Origin {
                period: 0,
                offset: 0.0,
            };
            growth_path(g, dt, origin, &mut levels, &mut integrals);
            integrals
        };
        let (months, quarters, years) = (by(1.0 / 12.0, 84), by(0.25, 28), by(1.0, 7));
        for y in 0..7 {
            let m: f64 = months[12 * y..12 * (y + 1)].iter().sum();
            let q: f64 = quarters[4 * y..4 * (y + 1)].iter().sum();
            assert!((m / years[y] - 1.0).abs() < 1e-12 && (q / years[y] - 1.0).abs() < 1e-12);
        }
        // Without decay, the level grows by exactly 1 + g a year.
        let flat = Growth::new(0.5, 0.0);
        assert!((flat.level(2.0) - 2.25).abs() < 1e-12);
    }
}
