//! One simulated path: the period dynamics, in a fixed order.
//!
//! Each period, in this order:
//! 1. per-period draws;
//! 2. the operating flows, kind by kind in the order of [`crate::flows`]: revenue (the exact
//!    integral of the run-rate over the period), operating costs, contract payments, revenue
//!    shares, pass-throughs (in dependency order), and loans (scheduled draws, interest,
//!    repayments);
//! 3. the state at the end of the period is what every condition and price reads: cash after
//!    those flows, the run-rate at the period's end, the valuation (run-rate x multiple),
//!    cumulative spend, the period's last month, the milestones reached so far;
//! 4. milestones, on that state (a hazard accrues over the period for as long as its condition
//!    held: the average of the condition at the start and at the end of the period);
//! 5. financing on the same state: loan draws whose condition holds, then equity (scheduled
//!    tranches, and conditional tranches whose condition holds); all tranches of a period are
//!    issued together, so each investor gets amount / post-money and earlier holders are
//!    diluted once by the period's new shares; a window that ends in this period lapses;
//! 6. insolvency: if the company's cash is below zero, a rescue is tried (attempt k uses draw
//!    k of the rescue); without one the company defaults: its payments stop, the unpaid
//!    remainder of its contracts is the sellers' stranded backlog, pending tranches lapse.
//!
//! At the horizon lenders' claims are met from the company's value before equity (see
//! [`crate::flows::loan`]). Every movement of money goes through [`State::pay`], so each
//! entity's cash changes by exactly its inflows minus its outflows.

use super::model::{MilestoneRule, Model};
use crate::dist::{normal_cdf, normal_quantile};
use crate::flows::PaymentClass;
use crate::graph::Link;
use crate::scenario::{Condition, Metric, Value};
use crate::time::Month;

/// Observes every payment and the end of every period (the engine's no-op in production,
/// a ledger in the accounting tests).
pub trait Trace {
    /// False for a trace that ignores everything, so the engine skips gathering what it would
    /// be shown.
    const ACTIVE: bool = true;
    /// Cash of every entity when the path starts.
    fn start(&mut self, _cash: &[f64]) {}
    /// `amount` moved on `flow` from `from` to `to` in `period`.
    fn payment(&mut self, period: usize, flow: usize, from: usize, to: usize, amount: f64);
    /// Cash of every entity at the end of `period`.
    fn end_period(&mut self, period: usize, cash: &[f64]);
    /// Milestone `milestone` (its index in the scenario) was reached in `period`.
    fn milestone(&mut self, _period: usize, _milestone: usize) {}
}

/// Ignores everything.
pub struct NoTrace;

impl Trace for NoTrace {
    const ACTIVE: bool = false;
    #[inline(always)]
    fn payment(&mut self, _: usize, _: usize, _: usize, _: usize, _: f64) {}
    #[inline(always)]
    fn end_period(&mut self, _: usize, _: &[f64]) {}
}

/// State of a tranche on a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrancheState {
    /// Not paid yet.
    Pending,
    /// Paid in this period.
    Released(usize),
    /// Lapsed in this period, for the reason given.
    Lapsed(usize, Lapse),
    /// Its amount is 0 on this path: there is nothing to release.
    Empty,
}

/// Why a tranche lapsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lapse {
    /// Its window ended without its condition holding.
    Expired,
    /// The company defaulted while it was pending.
    Default,
}

/// What one path produced, for the statistics.
#[derive(Clone, Debug)]
pub struct PathOutput {
    /// Company cash at the end of each period.
    pub cash: Vec<f64>,
    /// Company revenue in each period.
    pub revenue: Vec<f64>,
    /// Company costs (all its payments but equity) in each period.
    pub costs: Vec<f64>,
    /// Period of default, if any.
    pub default_period: Option<usize>,
    /// Rescues obtained.
    pub rescues: u32,
    /// Company revenue over the target year.
    pub target_revenue: f64,
    /// Lowest company cash at the end of a period, before any rescue: the largest shortfall.
    pub min_cash: f64,
    /// Value of the company's equity at the horizon: run-rate x multiple (with recovery if it
    /// defaulted), less what lenders are owed.
    pub company_value: f64,
    /// Tranche outcomes and the amount each released.
    pub tranches: Vec<(TrancheState, f64)>,
    /// Per entity: invested (opening stake's price included).
    pub invested: Vec<f64>,
    /// Per entity: received back from the company (directly or passed through).
    pub received: Vec<f64>,
    /// Money from the company that reached the investors, each dollar counted once.
    pub returned: f64,
    /// Per entity: gross margin earned on what it received (interest included).
    pub margin: Vec<f64>,
    /// Per entity: loan principal repaid to it, plus what its loans are worth at the horizon
    /// (their share of the company's value by seniority).
    pub credit: Vec<f64>,
    /// Per entity: stake in the company at the horizon.
    pub stake: Vec<f64>,
    /// Per entity: first period in which received >= invested.
    pub payback: Vec<Option<usize>>,
    /// Per entity: unpaid remainder of company contracts at default.
    pub stranded: Vec<f64>,
    /// Per entity: remainder of company contracts due after the horizon.
    pub backlog: Vec<f64>,
    /// Per entity: loan principal the company owed it at default and did not recover.
    pub unrecovered: Vec<f64>,
    /// Money that went round each cycle.
    pub cycles: Vec<f64>,
    /// Money moved on each flow over the horizon.
    pub flow_total: Vec<f64>,
}

impl PathOutput {
    /// True when the company had not defaulted by the end of `period`.
    #[inline]
    pub fn operating_at(&self, period: usize) -> bool {
        self.default_period.is_none_or(|d| d > period)
    }

    /// Money put in by all investors.
    pub fn invested_total(&self, m: &Model) -> f64 {
        m.investors.iter().map(|&e| self.invested[e]).sum()
    }

    /// Money that came back to the investors / money they put in (see [`ratio`]).
    pub fn circularity(&self, m: &Model) -> Option<f64> {
        ratio(self.returned, self.invested_total(m))
    }

    /// An investor's received / invested (see [`ratio`]).
    pub fn round_trip(&self, e: usize) -> Option<f64> {
        ratio(self.received[e], self.invested[e])
    }

    /// An investor's net position (see [`net_position`]).
    pub fn net_position(&self, e: usize) -> f64 {
        net_position(
            self.stake[e],
            self.company_value,
            self.margin[e],
            self.invested[e],
            self.credit[e],
        )
    }
}

/// Money back / money put in; `None` when nothing was put in (less than
/// [`MIN_MAGNITUDE`](crate::stats::MIN_MAGNITUDE), which the statistics count as zero: a ratio
/// over dust is noise, and over 1e-308 it overflows).
#[inline]
pub fn ratio(back: f64, invested: f64) -> Option<f64> {
    (invested >= crate::stats::MIN_MAGNITUDE).then(|| back / invested)
}

/// An investor's equity value (stake x the company's value) + margin earned - invested +
/// principal repaid and still owed.
#[inline]
pub fn net_position(stake: f64, value: f64, margin: f64, invested: f64, credit: f64) -> f64 {
    stake * value + margin - invested + credit
}

/// The years of exposure after which a milestone with hazard `rate` happens, from its uniform
/// draw `u` in (0, 1): a unit exponential over the rate. `-ln(u)` is never 0 (u < 1), so a rate
/// of 0 gives +inf and never fires, even for the draws where `1 - u` would round to 1.
fn exposure_to_reach(u: f64, rate: f64) -> f64 {
    -u.ln() / rate
}

/// A hazard milestone's period, lane by lane: an active lane (operating, not yet reached)
/// accrues `exposure` times the share of the period its condition held (the average of the
/// condition at the start and at the end), and reaches the milestone once its accrued
/// exposure is at its threshold; it then remembers whether the condition held. Compiled for
/// the widest vector unit the CPU has, chosen when it runs (the loop mixes flags and floats,
/// which the baseline instruction set converts one lane at a time).
#[allow(clippy::too_many_arguments)]
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2"))]
fn accrue_hazard(
    exposure: f64,
    alive: &[bool],
    holds: &[bool],
    before: &mut [bool],
    reached: &mut [bool],
    acc: &mut [f64],
    threshold: &[f64],
    newly: &mut [bool],
) {
    let lanes = newly.len();
    let (alive, holds, before, reached) = (
        &alive[..lanes],
        &holds[..lanes],
        &mut before[..lanes],
        &mut reached[..lanes],
    );
    let (acc, threshold) = (&mut acc[..lanes], &threshold[..lanes]);
    for i in 0..lanes {
        let active = alive[i] & !reached[i];
        let held_share = 0.5 * (f64::from(u8::from(before[i])) + f64::from(u8::from(holds[i])));
        let exposure = exposure * held_share;
        let grows = active & (exposure > 0.0);
        acc[i] = if grows { acc[i] + exposure } else { acc[i] };
        newly[i] = grows & (acc[i] >= threshold[i]);
        before[i] = if active { holds[i] } else { before[i] };
        reached[i] |= newly[i];
    }
}

/// Paths in a batch: the engine runs every step of a period over this many paths at once.
pub const LANES: usize = 256;

/// Some lanes of a batch, in order: the lanes a step looks at one by one, or a statistic
/// describes.
pub struct LaneIndices {
    at: [u16; LANES],
    len: usize,
}

impl LaneIndices {
    /// The lanes among the first `lanes` where `keep` holds.
    #[inline(always)]
    pub fn which(lanes: usize, keep: impl Fn(usize) -> bool) -> Self {
        // In locals, not in the returned struct: its count was kept in memory, a chain of
        // stores and loads through every lane.
        let (mut at, mut len) = ([0u16; LANES], 0);
        for (i, slot) in (0..lanes.min(LANES)).zip(0u16..) {
            // Written always, counted when kept: no branch on `keep`.
            at[len] = slot;
            len += usize::from(keep(i));
        }
        LaneIndices { at, len }
    }

    /// The lanes, in order.
    pub fn indices(&self) -> &[u16] {
        &self.at[..self.len]
    }
}

/// A payback period not reached (yet).
pub const NOT_PAID_BACK: f64 = f64::INFINITY;

/// A number's value in each lane of a batch, read without a copy: a constant is the same in
/// every lane, a draw is its row (see [`State::lane_values`] and [`with_lane_values`]).
pub trait LaneValue: Copy {
    /// The value in lane `i`.
    fn at(self, i: usize) -> f64;
}

impl LaneValue for f64 {
    #[inline(always)]
    fn at(self, _: usize) -> f64 {
        self
    }
}

impl LaneValue for &[f64] {
    #[inline(always)]
    fn at(self, i: usize) -> f64 {
        self[i]
    }
}

/// What [`State::lane_values`] gives: one of the two kinds of [`LaneValue`].
#[derive(Clone, Copy)]
pub enum LaneValues<'a> {
    /// A constant.
    Same(f64),
    /// A draw per lane, the batch's lanes.
    Each(&'a [f64]),
}

/// Runs `$body` with `$x` bound to the [`LaneValue`] of `$values` (a [`LaneValues`]): the
/// body is compiled once for a constant and once for a row, so neither reads a copy.
#[macro_export]
macro_rules! with_lane_values {
    ($values:expr, $x:ident => $body:expr) => {
        match $values {
            $crate::engine::path::LaneValues::Same($x) => $body,
            $crate::engine::path::LaneValues::Each($x) => $body,
        }
    };
}

/// `a * b` in each lane, times `c` when there is one (`(a * b) * c`), into `out` (the
/// batch's lanes): the payments that are a product, compiled for the widest vector unit the
/// CPU has, chosen when it runs (`run_batch` itself is built for the baseline x86-64).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2"))]
pub fn product_lanes(a: LaneValues<'_>, b: LaneValues<'_>, c: Option<f64>, out: &mut [f64]) {
    with_lane_values!(a, a => {
        with_lane_values!(b, b => {
            match c {
                None => {
                    for (i, x) in out.iter_mut().enumerate() {
                        *x = a.at(i) * b.at(i);
                    }
                }
                Some(c) => {
                    for (i, x) in out.iter_mut().enumerate() {
                        *x = a.at(i) * b.at(i) * c;
                    }
                }
            }
        })
    });
}

/// What each flow has moved in the current period, lane by lane. A row holds this period's
/// money only once its flow has moved in the period (`open`); until then it reads as zeros,
/// whatever an earlier period left in it. So a period starts without zeroing a row, and a
/// flow's first payment of the period writes its row instead of adding to zeros.
#[derive(Clone, Debug)]
struct PeriodRows {
    rows: Rows<f64>,
    /// Whether each flow's row holds this period's money, and the flows whose rows do.
    open: Vec<bool>,
    moved: Vec<usize>,
    /// A row of +0.0: what a flow that has not moved this period has moved.
    zeros: Vec<f64>,
}

impl PeriodRows {
    fn new(flows: usize, lanes: usize) -> Self {
        PeriodRows {
            rows: Rows::new(flows, lanes, 0.0),
            open: vec![false; flows],
            moved: Vec::with_capacity(flows),
            zeros: vec![0.0; lanes],
        }
    }

    /// A new period: no flow has moved yet.
    fn begin(&mut self) {
        for f in self.moved.drain(..) {
            self.open[f] = false;
        }
    }

    /// Flow `f`'s row for the period's money, and whether it is fresh: then the caller
    /// writes every lane of the batch (`x + 0.0`, what adding `x` to a zeroed row gives).
    #[inline(always)]
    fn open(&mut self, f: usize) -> (&mut [f64], bool) {
        let fresh = !self.open[f];
        if fresh {
            self.open[f] = true;
            self.moved.push(f);
        }
        (self.rows.row_mut(f), fresh)
    }

    /// A lane of a row opened by [`PeriodRows::open`] after `got` moves: a fresh row holds an
    /// earlier period's money, and is written as a zeroed row plus `got` would be.
    #[inline(always)]
    fn add<const FRESH: bool>(row: f64, got: f64) -> f64 {
        if FRESH { got + 0.0 } else { row + got }
    }

    /// Flow `f`'s row for the period's money, zeroed if the flow had not moved yet.
    #[inline(always)]
    fn open_zeroed(&mut self, f: usize) -> &mut [f64] {
        let (row, fresh) = self.open(f);
        if fresh {
            row.fill(0.0);
        }
        row
    }

    /// What flow `f` has moved this period (the batch's lanes and more).
    #[inline(always)]
    fn row(&self, f: usize) -> &[f64] {
        if self.open[f] {
            self.rows.row(f)
        } else {
            &self.zeros
        }
    }

    /// The rows of the flows `rows` summed lane by lane into `out`, each lane in the rows'
    /// order from -0.0, as `Iterator::sum`; a row reads as [`PeriodRows::row`].
    #[inline(always)]
    fn sum(&self, rows: &[usize], out: &mut [f64]) {
        // `-0.0 + x` is `x`, bit for bit: the first row is copied.
        let Some((&first, rest)) = rows.split_first() else {
            out.fill(-0.0);
            return;
        };
        let lanes = out.len();
        out.copy_from_slice(&self.row(first)[..lanes]);
        for &r in rest {
            for (s, &x) in out.iter_mut().zip(self.row(r)) {
                *s += x;
            }
        }
    }
}

/// A table of rows with one value per lane (path) of a batch: row `r`, lane `i`.
///
/// Rows are padded by a cache line: rows a multiple of 4 KiB apart would alias in the cache
/// and in the store buffer when a step reads one row and writes another.
#[derive(Clone, Debug)]
pub struct Rows<T> {
    data: Vec<T>,
    stride: usize,
    lanes: usize,
}

impl<T: Copy> Rows<T> {
    /// `rows` rows of `lanes` values, each `fill`.
    pub fn new(rows: usize, lanes: usize, fill: T) -> Self {
        let pad = if lanes > 8 {
            64 / size_of::<T>().max(1)
        } else {
            0
        };
        let stride = lanes + pad;
        Rows {
            data: vec![fill; rows * stride],
            stride,
            lanes,
        }
    }

    /// Row `r`.
    #[inline(always)]
    pub fn row(&self, r: usize) -> &[T] {
        &self.data[r * self.stride..r * self.stride + self.lanes]
    }

    /// Row `r`, to write.
    #[inline(always)]
    pub fn row_mut(&mut self, r: usize) -> &mut [T] {
        &mut self.data[r * self.stride..r * self.stride + self.lanes]
    }

    /// Rows `rows` as one slice, row `r` of them at `(r - rows.start) * stride`, and the
    /// stride: for code outside the engine that writes several rows at once.
    pub fn block_mut(&mut self, rows: std::ops::Range<usize>) -> (&mut [T], usize) {
        let stride = self.stride;
        (
            &mut self.data[rows.start * stride..rows.end * stride],
            stride,
        )
    }

    /// Rows `a` and `b` (two different rows), to write.
    #[inline(always)]
    pub fn pair_mut(&mut self, a: usize, b: usize) -> (&mut [T], &mut [T]) {
        assert_ne!(a, b, "two different rows");
        let (lanes, stride) = (self.lanes, self.stride);
        let (low, high) = (a.min(b), a.max(b));
        let (head, tail) = self.data.split_at_mut(high * stride);
        let (low, high) = (
            &mut head[low * stride..low * stride + lanes],
            &mut tail[..lanes],
        );
        if a < b { (low, high) } else { (high, low) }
    }

    /// The first `N` rows, each to write: a step's lane-by-lane scratch, kept between calls
    /// so that it is not zeroed on each.
    pub fn rows_mut<const N: usize>(&mut self) -> [&mut [T]; N] {
        let lanes = self.lanes;
        let mut rows = self.data.chunks_mut(self.stride).map(|r| &mut r[..lanes]);
        std::array::from_fn(|_| rows.next().expect("a table of at least N rows"))
    }

    /// Sets every value of every row.
    pub fn fill(&mut self, v: T) {
        self.data.fill(v);
    }

    /// Lane `i` of every row, in row order.
    pub fn lane(&self, i: usize) -> impl Iterator<Item = T> + '_ {
        self.data.iter().skip(i).step_by(self.stride).copied()
    }
}

impl<T> std::ops::Index<(usize, usize)> for Rows<T> {
    type Output = T;
    #[inline(always)]
    fn index(&self, (r, i): (usize, usize)) -> &T {
        &self.data[r * self.stride + i]
    }
}

impl<T> std::ops::IndexMut<(usize, usize)> for Rows<T> {
    #[inline(always)]
    fn index_mut(&mut self, (r, i): (usize, usize)) -> &mut T {
        &mut self.data[r * self.stride + i]
    }
}

/// What a batch of paths produced: [`PathOutput`]'s fields as rows (per period, entity, flow,
/// tranche or cycle) of one value per lane, for the statistics to fold column by column.
#[derive(Clone, Debug)]
pub struct BatchOutput {
    /// Lanes in use: paths `first..first + lanes` of the run.
    pub lanes: usize,
    /// Per period: company cash at its end.
    pub cash: Rows<f64>,
    /// Per period: company revenue.
    pub revenue: Rows<f64>,
    /// Per period: company costs.
    pub costs: Rows<f64>,
    /// Per lane: the period of default, if any.
    pub default_period: Vec<Option<usize>>,
    /// Per lane: rescues obtained.
    pub rescues: Vec<u32>,
    /// Per lane: company revenue over the target year.
    pub target_revenue: Vec<f64>,
    /// Per lane: lowest company cash before any rescue.
    pub min_cash: Vec<f64>,
    /// Per lane: the equity's value at the horizon.
    pub company_value: Vec<f64>,
    /// Per tranche: its outcome.
    pub tranche_state: Rows<TrancheState>,
    /// Per tranche: the amount it released.
    pub tranche_amount: Rows<f64>,
    /// Per entity: invested.
    pub invested: Rows<f64>,
    /// Per entity: received back from the company.
    pub received: Rows<f64>,
    /// Per lane: money from the company that reached the investors, each dollar once.
    pub returned: Vec<f64>,
    /// Per entity: gross margin earned.
    pub margin: Rows<f64>,
    /// Per entity: principal repaid and what its loans are worth at the horizon.
    pub credit: Rows<f64>,
    /// Per entity: stake at the horizon.
    pub stake: Rows<f64>,
    /// Per entity: first period in which received >= invested, [`NOT_PAID_BACK`] before it
    /// (a float rather than an `Option`, so that a period's test runs in the same vectors as
    /// the amounts it compares).
    pub payback: Rows<f64>,
    /// Per entity: unpaid contract value at a default.
    pub stranded: Rows<f64>,
    /// Per entity: contract value due after the horizon.
    pub backlog: Rows<f64>,
    /// Per entity: loan principal not recovered after a default.
    pub unrecovered: Rows<f64>,
    /// Per cycle: money that went round.
    pub cycles: Rows<f64>,
    /// Per flow: money moved over the horizon.
    pub flow_total: Rows<f64>,
}

impl BatchOutput {
    fn new(m: &Model, lanes: usize) -> Self {
        let (e, f, n) = (m.entities, m.flows + 1, m.periods);
        let rows = |r: usize| Rows::new(r, lanes, 0.0);
        BatchOutput {
            lanes,
            cash: rows(n),
            revenue: rows(n),
            costs: rows(n),
            default_period: vec![None; lanes],
            rescues: vec![0; lanes],
            target_revenue: vec![0.0; lanes],
            min_cash: vec![0.0; lanes],
            company_value: vec![0.0; lanes],
            tranche_state: Rows::new(m.kinds.equity.len(), lanes, TrancheState::Pending),
            tranche_amount: rows(m.kinds.equity.len()),
            invested: rows(e),
            received: rows(e),
            returned: vec![0.0; lanes],
            margin: rows(e),
            credit: rows(e),
            stake: rows(e),
            payback: Rows::new(e, lanes, NOT_PAID_BACK),
            stranded: rows(e),
            backlog: rows(e),
            unrecovered: rows(e),
            cycles: rows(m.cycles.list.len()),
            flow_total: rows(f),
        }
    }

    /// The outputs of lane `i`, into `o` (shaped for the same model).
    pub fn gather(&self, i: usize, o: &mut PathOutput) {
        let copy = |dst: &mut Vec<f64>, src: &Rows<f64>| {
            dst.clear();
            dst.extend(src.lane(i));
        };
        copy(&mut o.cash, &self.cash);
        copy(&mut o.revenue, &self.revenue);
        copy(&mut o.costs, &self.costs);
        o.default_period = self.default_period[i];
        o.rescues = self.rescues[i];
        o.target_revenue = self.target_revenue[i];
        o.min_cash = self.min_cash[i];
        o.company_value = self.company_value[i];
        o.tranches.clear();
        o.tranches
            .extend(self.tranche_state.lane(i).zip(self.tranche_amount.lane(i)));
        copy(&mut o.invested, &self.invested);
        copy(&mut o.received, &self.received);
        o.returned = self.returned[i];
        copy(&mut o.margin, &self.margin);
        copy(&mut o.credit, &self.credit);
        copy(&mut o.stake, &self.stake);
        o.payback.clear();
        o.payback.extend(
            self.payback
                .lane(i)
                .map(|p| (p != NOT_PAID_BACK).then_some(p as usize)),
        );
        copy(&mut o.stranded, &self.stranded);
        copy(&mut o.backlog, &self.backlog);
        copy(&mut o.unrecovered, &self.unrecovered);
        copy(&mut o.cycles, &self.cycles);
        copy(&mut o.flow_total, &self.flow_total);
    }

    /// True when lane `i`'s company had not defaulted by the end of `period`.
    #[inline]
    pub fn operating_at(&self, i: usize, period: usize) -> bool {
        self.default_period[i].is_none_or(|d| d > period)
    }
}

/// What every kind of flow shares on a batch of paths: cash, the end-of-period state
/// conditions read, the accounts every payment updates, and the outputs, each with one value
/// per lane. Kinds keep their own working state in their scratch (see [`crate::flows::Step`]).
pub struct State {
    lanes: usize,
    /// The run's index of the path in lane 0.
    first: u64,
    draws: Rows<f64>,
    /// Each entity's cash; outside a trace only the company's row is kept up to date (see
    /// [`Accounts`]): the other rows are read by traces alone.
    cash: Rows<f64>,
    /// What each flow moved in the current period.
    flow_period: PeriodRows,
    spend_with: Rows<f64>,
    /// The company's annualised run-rate at each period boundary (`periods + 1` rows), set by
    /// the revenue step when the paths start.
    pub(crate) run_rate: Rows<f64>,
    corr_z: Vec<f64>,
    reached: Rows<bool>,
    /// Whether each milestone's condition held at the end of the previous period.
    held: Rows<bool>,
    /// Years of exposure each hazard milestone has had.
    hazard_acc: Rows<f64>,
    /// Years of exposure at which it is reached (hazard), or its date (year).
    threshold: Rows<f64>,
    cum_invested: Rows<f64>,
    /// Financing arriving in the current period, per lane: (fraction of the period, signed
    /// amount).
    arrivals: Vec<Vec<(f64, f64)>>,
    /// Whether lane `i` has arrivals this period, and whether any lane has.
    arrived: Vec<bool>,
    any_arrived: bool,
    /// Interest the company paid in the current period.
    interest: Vec<f64>,
    /// Company cash at the start of the current period.
    start_cash: Vec<f64>,
    /// Money raised in rescues so far.
    rescued: Vec<f64>,
    /// Whether the company was operating when the current period started.
    alive: Vec<bool>,
    /// Lanes of the batch whose company has defaulted.
    defaults: usize,
    /// Per lane, all ones while its company operates and zero once it has defaulted: a mask
    /// on the bits of what the company pays, which makes a stopped lane's payment +0.0.
    operating_bits: Vec<u64>,
    /// All ones in every lane: the mask of a payment that does not stop.
    all_bits: Vec<u64>,
    /// The period being simulated.
    period: usize,
    /// The boundary whose run-rate the state shows (`p + 1` at the end of period `p`).
    boundary: usize,
    /// The month the state stands for (the last month of the period).
    month: Month,
    /// Running the nominal path (see [`nominal`]) rather than a random one.
    nominal: bool,
    /// The outputs of the last batch run.
    pub out: BatchOutput,
}

/// Per-worker scratch state, reused across batches: the shared [`State`] and every kind's own,
/// for up to [`LANES`] paths at once (one for a single path).
pub struct PathState {
    st: State,
    kinds: crate::flows::Scratch,
    /// Lane 0 of the last batch, for [`PathState::out`].
    path: PathOutput,
}

/// What each flow moves inside the horizon on the nominal path, and the conditional part of it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Nominal {
    /// Money moved on each flow (the rescue flow last).
    pub flows: Vec<f64>,
    /// The part of it paid on a condition (conditional tranches and loan draws).
    pub conditional: Vec<f64>,
}

/// The nominal path: the engine's own period dynamics with every uncertain input at its mean,
/// no volatility, every conditional tranche or draw paid at the start of its window and no
/// insolvency. A map of the deal, not a forecast; it is what `cfsim graph` shows, so the graph
/// and the simulation share one formulation of every flow.
pub fn nominal(m: &Model) -> Nominal {
    let mut state = PathState::new(m);
    state.st.nominal = true;
    state.run(m, 0, 0, &mut NoTrace);
    let mut conditional = vec![0.0; m.flows + 1];
    m.kinds.nominal_conditional(&state.st, &mut conditional);
    Nominal {
        flows: state.path.flow_total.clone(),
        conditional,
    }
}

impl PathState {
    /// Scratch for one path at a time.
    pub fn new(m: &Model) -> Self {
        Self::with_lanes(m, 1)
    }

    /// Scratch for batches of up to [`LANES`] paths.
    pub fn batch(m: &Model) -> Self {
        Self::with_lanes(m, LANES)
    }

    fn with_lanes(m: &Model, lanes: usize) -> Self {
        let st = State::new(m, lanes);
        PathState {
            kinds: m.kinds.scratch(m, lanes),
            path: PathOutput::new(m),
            st,
        }
    }

    /// The value of per-path quantity `q` on the last path run.
    pub fn quantity(&self, q: usize) -> f64 {
        self.st.draws[(q, 0)]
    }

    /// The outputs of the last path run with [`PathState::run`].
    pub fn out(&self) -> &PathOutput {
        &self.path
    }

    /// The outputs of the last batch run with [`PathState::run_batch`].
    pub fn batch_out(&self) -> &BatchOutput {
        &self.st.out
    }

    /// Runs path `path` of `seed`; results are in [`PathState::out`].
    pub fn run<T: Trace>(&mut self, m: &Model, seed: u64, path: u64, t: &mut T) {
        self.run_batch(m, seed, path, 1, t);
        self.st.out.gather(0, &mut self.path);
    }

    /// Runs paths `first..first + lanes` of `seed` (at most the lanes it was made for), each
    /// step over all of them; results are in [`PathState::batch_out`]. Every path's
    /// arithmetic is the same whatever batch it runs in. A trace sees lane 0.
    pub fn run_batch<T: Trace>(
        &mut self,
        m: &Model,
        seed: u64,
        first: u64,
        lanes: usize,
        t: &mut T,
    ) {
        assert!(
            lanes >= 1 && lanes <= self.st.cash.lanes,
            "a batch of {lanes} paths"
        );
        let (st, kinds) = (&mut self.st, &mut self.kinds);
        st.set_lanes(lanes, first);
        st.reset(m, seed);
        m.kinds.prepare(kinds, st, m, seed);
        st.initial_state(m, seed);
        let company = m.company;
        let h = &m.horizon;
        if T::ACTIVE {
            t.start(&st.lane_cash(0));
        }
        for p in 0..m.periods {
            st.begin_period(m, seed, p);
            m.kinds.operate(kinds, st, m, t, p);
            // The state at the end of the period.
            st.boundary = p + 1;
            st.month = h.period_end(p);
            if st.nominal {
                m.kinds.finance(kinds, st, m, t, p);
            } else {
                st.milestones(m, t, p);
                m.kinds.finance(kinds, st, m, t, p);
                st.insolvency(m, t, p, seed);
            }
            st.opening_as_of(m, p);
            State::record(st, m, p, company);
            if T::ACTIVE {
                t.end_period(p, &st.lane_cash(0));
            }
        }
        st.value(m);
        m.kinds.finish(kinds, st, m);
        st.finish(m);
    }
}

impl PathOutput {
    /// Outputs shaped for a model.
    fn new(m: &Model) -> Self {
        let (e, f, n) = (m.entities, m.flows + 1, m.periods);
        PathOutput {
            cash: vec![0.0; n],
            revenue: vec![0.0; n],
            costs: vec![0.0; n],
            default_period: None,
            rescues: 0,
            target_revenue: 0.0,
            min_cash: 0.0,
            company_value: 0.0,
            tranches: vec![(TrancheState::Pending, 0.0); m.kinds.equity.len()],
            invested: vec![0.0; e],
            received: vec![0.0; e],
            returned: 0.0,
            margin: vec![0.0; e],
            credit: vec![0.0; e],
            stake: vec![0.0; e],
            payback: vec![None; e],
            stranded: vec![0.0; e],
            backlog: vec![0.0; e],
            unrecovered: vec![0.0; e],
            cycles: vec![0.0; m.cycles.list.len()],
            flow_total: vec![0.0; f],
        }
    }
}

/// What a lane's payment of `a` adds to the accounts that gain it, with a payment of
/// nothing as the zero that leaves every account as it is: `x + (-0.0)` and `x - 0.0` are `x`
/// for every `x`, -0.0 included (`x + 0.0` would turn a cash of -0.0 into +0.0). So each
/// account is one add per lane, with no branch. The zero's sign is set with integer
/// operations: written as a select, the adds of -0.0 became masked loads and stores.
#[inline(always)]
fn gain(a: f64) -> f64 {
    f64::from_bits(a.to_bits() | zero_sign(a))
}

/// What a lane's payment of `a` takes from the payer: `a`, with a payment of nothing as +0.0
/// (`x - 0.0` is `x` for every `x`).
#[inline(always)]
fn spent(a: f64) -> f64 {
    f64::from_bits(a.to_bits() & !zero_sign(a))
}

/// The sign bit when `a` is a zero of either sign, else nothing.
#[inline(always)]
fn zero_sign(a: f64) -> u64 {
    u64::from(a == 0.0) << 63
}

/// `a`, or +0.0 where `keep` (all ones or zero) says the lane's payment stops.
#[inline(always)]
fn kept(a: f64, keep: u64) -> f64 {
    f64::from_bits(a.to_bits() & keep)
}

/// Which lanes the insolvency scan must look at, into `need`, and whether any: an operating
/// company (`alive`) with financing this period (`arrived`), or without and short at the
/// period's end (see [`State::insolvency`]). Compiled for the widest vector unit the CPU has.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2"))]
fn needs_scan(
    start: &[f64],
    cash: &[f64],
    alive: &[bool],
    arrived: &[bool],
    need: &mut [bool],
) -> bool {
    let lanes = need.len();
    let (start, cash, alive, arrived) = (
        &start[..lanes],
        &cash[..lanes],
        &alive[..lanes],
        &arrived[..lanes],
    );
    let mut any = false;
    for i in 0..lanes {
        let has_cash = start[i] + (cash[i] - start[i]) >= 0.0;
        need[i] = alive[i] & (arrived[i] | !has_cash);
        any |= need[i];
    }
    any
}

/// The rows a payment moves, each the batch's lanes (see [`State::move_lanes`]).
struct Accounts<'a> {
    /// The payer's and the payee's cash, when the entity is the company: outside a trace no
    /// one reads another entity's cash, so its row is not kept up (a fifth of the stores).
    payer: Option<&'a mut [f64]>,
    payee: Option<&'a mut [f64]>,
    /// The flow's money this period and over the horizon.
    period: &'a mut [f64],
    total: &'a mut [f64],
    /// The two other accounts that may count the payment (see [`Accounts::transfer`]): for an
    /// operating payment, what the payee received from the company and what went back to the
    /// investors; for an investment, what the investor has put in, and its running sum.
    tallies: [&'a mut [f64]; 2],
}

impl Accounts<'_> {
    /// Moves `amounts` (one per lane) in one pass over the lanes, with the first of the
    /// `tallies` when `FIRST`, the second when `SECOND`, and the cash rows that are kept.
    #[inline(always)]
    fn transfer<const FIRST: bool, const SECOND: bool, const FRESH: bool>(
        self,
        amounts: &[f64],
        keep: &[u64],
    ) {
        match (self.payer.is_some(), self.payee.is_some()) {
            (true, true) => self.transfer_rows::<FIRST, SECOND, FRESH, true, true>(amounts, keep),
            (true, false) => self.transfer_rows::<FIRST, SECOND, FRESH, true, false>(amounts, keep),
            (false, true) => self.transfer_rows::<FIRST, SECOND, FRESH, false, true>(amounts, keep),
            (false, false) => {
                self.transfer_rows::<FIRST, SECOND, FRESH, false, false>(amounts, keep)
            }
        }
    }

    /// [`Accounts::transfer`] with the payer's (`PAYER`) and the payee's (`PAYEE`) cash rows
    /// known to be there or not.
    #[inline(always)]
    fn transfer_rows<
        const FIRST: bool,
        const SECOND: bool,
        const FRESH: bool,
        const PAYER: bool,
        const PAYEE: bool,
    >(
        self,
        amounts: &[f64],
        keep: &[u64],
    ) {
        let lanes = amounts.len();
        let keep = &keep[..lanes];
        let payer = match self.payer {
            Some(row) if PAYER => &mut row[..lanes],
            _ => &mut [],
        };
        let payee = match self.payee {
            Some(row) if PAYEE => &mut row[..lanes],
            _ => &mut [],
        };
        let (period, total) = (&mut self.period[..lanes], &mut self.total[..lanes]);
        let [first, second] = self.tallies;
        let first = if FIRST { &mut first[..lanes] } else { &mut [] };
        let second = if SECOND {
            &mut second[..lanes]
        } else {
            &mut []
        };
        for i in 0..lanes {
            let a = kept(amounts[i], keep[i]);
            let got = gain(a);
            if PAYER {
                payer[i] -= spent(a);
            }
            if PAYEE {
                payee[i] += got;
            }
            period[i] = PeriodRows::add::<FRESH>(period[i], got);
            total[i] += got;
            if FIRST {
                first[i] += got;
            }
            if SECOND {
                second[i] += got;
            }
        }
    }
}

impl State {
    /// State sized for a model and a batch of `lanes` paths.
    fn new(m: &Model, lanes: usize) -> Self {
        let e = m.entities;
        let f = m.flows + 1;
        let n = m.periods;
        let ms = m.milestones.len();
        let mut draws = Rows::new(m.quantities.len(), lanes, 0.0);
        for (q, quantity) in m.quantities.iter().enumerate() {
            draws.row_mut(q).fill(quantity.dist.mean());
        }
        State {
            lanes,
            first: 0,
            draws,
            cash: Rows::new(e, lanes, 0.0),
            flow_period: PeriodRows::new(f, lanes),
            spend_with: Rows::new(e, lanes, 0.0),
            run_rate: Rows::new(n + 1, lanes, 0.0),
            corr_z: vec![0.0; m.correlation.as_ref().map_or(0, |c| c.0.len())],
            reached: Rows::new(ms, lanes, false),
            held: Rows::new(ms, lanes, false),
            hazard_acc: Rows::new(ms, lanes, 0.0),
            threshold: Rows::new(ms, lanes, 0.0),
            cum_invested: Rows::new(e, lanes, 0.0),
            arrivals: (0..lanes)
                .map(|_| Vec::with_capacity(m.kinds.equity.len() + 1))
                .collect(),
            arrived: vec![false; lanes],
            any_arrived: false,
            interest: vec![0.0; lanes],
            start_cash: vec![0.0; lanes],
            rescued: vec![0.0; lanes],
            alive: vec![true; lanes],
            defaults: 0,
            operating_bits: vec![u64::MAX; lanes],
            all_bits: vec![u64::MAX; lanes],
            period: 0,
            nominal: false,
            boundary: 0,
            month: m.horizon.start,
            out: BatchOutput::new(m, lanes),
        }
    }

    fn set_lanes(&mut self, lanes: usize, first: u64) {
        self.lanes = lanes;
        self.first = first;
        self.out.lanes = lanes;
    }

    /// Lanes in use in the current batch.
    #[inline(always)]
    pub fn lanes(&self) -> std::ops::Range<usize> {
        0..self.lanes
    }

    /// The run's index of the path in lane `i`.
    #[inline(always)]
    pub fn path(&self, i: usize) -> u64 {
        self.first + i as u64
    }

    /// Every entity's cash in lane `i`.
    fn lane_cash(&self, i: usize) -> Vec<f64> {
        self.cash.lane(i).collect()
    }

    /// The value of a number in lane `i`.
    #[inline(always)]
    pub fn v(&self, v: Value, i: usize) -> f64 {
        match v {
            Value::Const(c) => c,
            Value::Random(q) => self.draws[(q, i)],
        }
    }

    /// True on the nominal path (see [`nominal`]).
    pub fn is_nominal(&self) -> bool {
        self.nominal
    }

    /// True when lane `i`'s company was operating at the start of the period: financing runs
    /// for it.
    #[inline(always)]
    pub fn alive(&self, i: usize) -> bool {
        self.alive[i]
    }

    /// True while lane `i`'s company has not defaulted.
    #[inline(always)]
    pub fn operating(&self, i: usize) -> bool {
        self.out.default_period[i].is_none()
    }

    /// True when `e` is the company and it has defaulted in lane `i`: it pays and receives
    /// nothing more.
    #[inline(always)]
    pub fn stopped(&self, m: &Model, e: usize, i: usize) -> bool {
        e == m.company && self.out.default_period[i].is_some()
    }

    /// The value of a number in every lane of the batch, without a copy (see
    /// [`with_lane_values`]).
    #[inline(always)]
    pub fn lane_values(&self, v: Value) -> LaneValues<'_> {
        match v {
            Value::Const(c) => LaneValues::Same(c),
            Value::Random(q) => LaneValues::Each(&self.draws.row(q)[..self.lanes]),
        }
    }

    /// The value of a number in every lane of the batch, into `out`.
    #[inline]
    pub fn fill_lanes(&self, v: Value, out: &mut [f64]) {
        match v {
            Value::Const(c) => out.fill(c),
            Value::Random(q) => out.copy_from_slice(&self.draws.row(q)[..out.len()]),
        }
    }

    /// What flow `f` has moved so far in the current period, lane by lane.
    #[inline(always)]
    pub fn paid_lanes(&self, f: usize) -> &[f64] {
        &self.flow_period.row(f)[..self.lanes]
    }

    /// What `flows` have moved together so far in the current period, lane by lane: each
    /// lane summed in the flows' order from -0.0, as `Iterator::sum`, into `scratch` (the
    /// batch's lanes); one flow's row is read where it is (a sum of one row is that row, bit
    /// for bit, and the copy was 1.5% of a run).
    #[inline]
    pub fn paid_sum<'a>(&'a self, flows: &[usize], scratch: &'a mut [f64]) -> &'a [f64] {
        match flows {
            [f] => self.paid_lanes(*f),
            _ => {
                self.flow_period.sum(flows, scratch);
                scratch
            }
        }
    }

    /// Financing that reaches (or, negative, leaves) lane `i`'s company `at` this fraction of
    /// the period, for the insolvency scan.
    pub fn arrive(&mut self, i: usize, at: f64, amount: f64) {
        self.arrivals[i].push((at, amount));
        self.arrived[i] = true;
        self.any_arrived = true;
    }

    /// The company's value in lane `i` in the current state: run-rate x multiple.
    pub fn valuation(&self, m: &Model, i: usize) -> f64 {
        self.run_rate[(self.boundary, i)] * self.v(m.multiple, i)
    }

    /// Moves money on a flow, in its direction, with the flow's class, in lane `i`.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub fn pay<T: Trace>(
        &mut self,
        m: &Model,
        t: &mut T,
        flow: usize,
        from: usize,
        to: usize,
        i: usize,
        amount: f64,
    ) {
        self.pay_as(m, t, flow, m.class[flow], from, to, i, amount);
    }

    /// Moves money on a flow as a payment of `class` in lane `i`, and keeps every account that
    /// depends on it.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub fn pay_as<T: Trace>(
        &mut self,
        m: &Model,
        t: &mut T,
        flow: usize,
        class: PaymentClass,
        from: usize,
        to: usize,
        i: usize,
        amount: f64,
    ) {
        if amount == 0.0 {
            return;
        }
        self.cash[(from, i)] -= amount;
        self.cash[(to, i)] += amount;
        if class.is_debt_service() {
            // Money back from the company to a lender, against the flow's direction.
            self.out.received[(to, i)] += amount;
            self.out.returned[i] += amount;
            match class {
                PaymentClass::Interest => {
                    self.out.margin[(to, i)] += amount;
                    self.interest[i] += amount;
                }
                _ => self.out.credit[(to, i)] += amount,
            }
        } else {
            self.flow_period.open_zeroed(flow)[i] += amount;
            self.out.flow_total[(flow, i)] += amount;
            if class.is_investment() {
                self.out.invested[(from, i)] += amount;
                self.cum_invested[(from, i)] += amount;
            } else {
                // Margins are fixed per path, so they are applied to the totals in `finish`.
                if m.track_spend_with && from == m.company {
                    self.spend_with[(to, i)] += amount;
                }
                if m.from_company[flow] {
                    self.out.received[(to, i)] += amount;
                }
                if m.returned[flow] {
                    self.out.returned[i] += amount;
                }
            }
        }
        if T::ACTIVE {
            t.payment(self.period, flow, from, to, amount);
        }
    }

    /// Payments on a flow, `amounts[i]` in lane `i`: what [`State::pay`] does lane by lane,
    /// with the class's branches taken once for the batch (debt service and traced runs go
    /// lane by lane). With `company_stops`, lanes
    /// whose company has defaulted pay nothing (the flow is the company's).
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub fn pay_lanes<T: Trace>(
        &mut self,
        m: &Model,
        t: &mut T,
        flow: usize,
        from: usize,
        to: usize,
        company_stops: bool,
        amounts: &[f64],
    ) {
        let lanes = self.lanes;
        let class = m.class[flow];
        if T::ACTIVE || class.is_debt_service() || from == to {
            for (i, &a) in amounts[..lanes].iter().enumerate() {
                let stopped = company_stops && self.out.default_period[i].is_some();
                let a = if stopped { 0.0 } else { a };
                self.pay_as(m, t, flow, class, from, to, i, a);
            }
            return;
        }
        State::move_lanes(self, m, flow, from, to, company_stops, amounts);
    }

    /// [`State::pay_lanes`]' branch-free part: an operating payment or an investment moved in
    /// every lane, the accounts it moves in one pass (see [`Accounts`]). Compiled for the widest vector unit
    /// the CPU has, chosen when it runs (the same IEEE adds and selects whatever the width).
    #[multiversion::multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2"))]
    fn move_lanes(
        st: &mut State,
        m: &Model,
        flow: usize,
        from: usize,
        to: usize,
        company_stops: bool,
        amounts: &[f64],
    ) {
        let lanes = st.lanes;
        // Lanes whose company has defaulted move nothing: their amounts are masked to +0.0.
        let amounts = &amounts[..lanes];
        let keep = if company_stops && st.defaults > 0 {
            &st.operating_bits
        } else {
            &st.all_bits
        };
        let (payer, payee) = st.cash.pair_mut(from, to);
        let company = |e: usize, row| (e == m.company).then_some(row);
        let (period, fresh) = st.flow_period.open(flow);
        let investment = m.class[flow].is_investment();
        let (tallies, counted) = if investment {
            let tallies = [st.out.invested.row_mut(from), st.cum_invested.row_mut(from)];
            (tallies, (true, true))
        } else {
            let tallies = [st.out.received.row_mut(to), &mut st.out.returned[..]];
            (tallies, (m.from_company[flow], m.returned[flow]))
        };
        let rows = Accounts {
            payer: company(from, payer),
            payee: company(to, payee),
            period,
            total: st.out.flow_total.row_mut(flow),
            tallies,
        };
        match (counted.0, counted.1, fresh) {
            (false, false, false) => rows.transfer::<false, false, false>(amounts, keep),
            (false, true, false) => rows.transfer::<false, true, false>(amounts, keep),
            (true, false, false) => rows.transfer::<true, false, false>(amounts, keep),
            (true, true, false) => rows.transfer::<true, true, false>(amounts, keep),
            (false, false, true) => rows.transfer::<false, false, true>(amounts, keep),
            (false, true, true) => rows.transfer::<false, true, true>(amounts, keep),
            (true, false, true) => rows.transfer::<true, false, true>(amounts, keep),
            (true, true, true) => rows.transfer::<true, true, true>(amounts, keep),
        }
        if m.track_spend_with && from == m.company && !investment {
            for ((d, &a), &k) in st.spend_with.row_mut(to).iter_mut().zip(amounts).zip(keep) {
                *d += gain(kept(a, k));
            }
        }
    }

    fn draw_per_path(&mut self, m: &Model, seed: u64) {
        if self.nominal {
            for (q, quantity) in m.quantities.iter().enumerate() {
                self.draws.row_mut(q).fill(quantity.dist.mean());
            }
            return;
        }
        for &q in &m.per_path {
            let row = &mut self.draws.row_mut(q)[..self.lanes];
            m.streams
                .uniform_lanes(seed, m.quantities[q].key, self.first, 0, row);
        }
        if let Some((members, chol)) = &m.correlation {
            for i in 0..self.lanes {
                for (k, &q) in members.iter().enumerate() {
                    self.corr_z[k] = normal_quantile(self.draws[(q, i)]);
                }
                for (r, &q) in members.iter().enumerate() {
                    let z: f64 = (0..=r).map(|k| chol[r][k] * self.corr_z[k]).sum();
                    self.draws[(q, i)] = normal_cdf(z).clamp(f64::MIN_POSITIVE, 1.0 - f64::EPSILON);
                }
                // A held member keeps its quantile; the others are mixed with its latent draw.
                for &q in members {
                    if let Some(u) = m.streams.held(m.quantities[q].key) {
                        self.draws[(q, i)] = u;
                    }
                }
            }
        }
        for &q in &m.per_path {
            let quantity = &m.quantities[q];
            quantity.quantile_lanes(&mut self.draws.row_mut(q)[..self.lanes]);
        }
    }

    /// Whether a condition holds in each lane of the batch in the current state, into `out`
    /// (one entry per lane), each comparison a loop over rows.
    pub fn holds_lanes(&self, m: &Model, c: &Condition, out: &mut [bool]) {
        let lanes = out.len();
        match c {
            Condition::Const(b) => out.fill(*b),
            Condition::Reached(ms) => out.copy_from_slice(&self.reached.row(*ms)[..lanes]),
            Condition::Compare {
                metric,
                cmp,
                threshold,
            } => {
                // Read in place: no copy of the threshold or of the metric (copies into
                // zeroed arrays were a tenth of the conditions' time).
                let metric_row = |row: &[f64], out: &mut [bool]| {
                    with_lane_values!(self.lane_values(*threshold), limit => {
                        for (i, (o, &x)) in out.iter_mut().zip(row).enumerate() {
                            *o = cmp.test(x, limit.at(i));
                        }
                    })
                };
                match *metric {
                    Metric::Revenue => metric_row(self.run_rate.row(self.boundary), out),
                    Metric::Cash => metric_row(self.cash.row(m.company), out),
                    Metric::Valuation => {
                        let rate = &self.run_rate.row(self.boundary)[..lanes];
                        with_lane_values!(self.lane_values(m.multiple), multiple => {
                            with_lane_values!(self.lane_values(*threshold), limit => {
                                for (i, (o, &r)) in out.iter_mut().zip(rate).enumerate() {
                                    *o = cmp.test(multiple.at(i) * r, limit.at(i));
                                }
                            })
                        })
                    }
                    Metric::Spend(f) => metric_row(self.out.flow_total.row(f), out),
                    Metric::SpendWith(e) => metric_row(self.spend_with.row(e), out),
                }
            }
            Condition::Date { cmp, month } => out.fill(cmp.test(self.month, *month)),
            Condition::And(a, b) | Condition::Or(a, b) => {
                let mut other = [false; LANES];
                self.holds_lanes(m, a, out);
                self.holds_lanes(m, b, &mut other[..lanes]);
                let and = matches!(c, Condition::And(..));
                for (o, &x) in out.iter_mut().zip(&other) {
                    *o = if and { *o && x } else { *o || x };
                }
            }
            Condition::Not(a) => {
                self.holds_lanes(m, a, out);
                out.iter_mut().for_each(|o| *o = !*o);
            }
        }
    }

    fn begin_period(&mut self, m: &Model, seed: u64, p: usize) {
        self.period = p;
        let lanes = self.lanes;
        self.start_cash[..lanes].copy_from_slice(&self.cash.row(m.company)[..lanes]);
        for i in 0..lanes {
            self.alive[i] = self.nominal || self.operating(i);
        }
        if self.any_arrived {
            for (arrivals, arrived) in self.arrivals.iter_mut().zip(&mut self.arrived) {
                if *arrived {
                    arrivals.clear();
                    *arrived = false;
                }
            }
            self.any_arrived = false;
        }
        self.interest.fill(0.0);
        self.flow_period.begin();
        if self.nominal {
            return;
        }
        for &q in &m.per_period {
            let quantity = &m.quantities[q];
            let row = &mut self.draws.row_mut(q)[..lanes];
            m.streams
                .uniform_lanes(seed, quantity.key, self.first, p as u64, row);
            quantity.quantile_lanes(row);
        }
    }

    /// What the period leaves in the outputs.
    /// Compiled for the widest vector unit the CPU has, chosen when it runs (row loops of
    /// IEEE adds, compares and selects: the same bits whatever the width).
    #[multiversion::multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2"))]
    fn record(st: &mut State, m: &Model, p: usize, company: usize) {
        st.record_lanes(m, p, company);
    }

    #[inline(always)]
    fn record_lanes(&mut self, m: &Model, p: usize, company: usize) {
        let lanes = self.lanes;
        let (paid, o) = (&self.flow_period, &mut self.out);
        paid.sum(&m.company_revenues, &mut o.revenue.row_mut(p)[..lanes]);
        paid.sum(&m.company_costs, &mut o.costs.row_mut(p)[..lanes]);
        let cash = &self.cash.row(company)[..lanes];
        o.cash.row_mut(p)[..lanes].copy_from_slice(cash);
        for ((low, &cash), &rescued) in o.min_cash[..lanes].iter_mut().zip(cash).zip(&self.rescued)
        {
            *low = low.min(cash - rescued);
        }
        for (c, &interest) in o.costs.row_mut(p)[..lanes].iter_mut().zip(&self.interest) {
            *c += interest;
        }
        for &e in &m.investors {
            let (received, invested) = (o.received.row(e), self.cum_invested.row(e));
            for ((back, &received), &invested) in o.payback.row_mut(e)[..lanes]
                .iter_mut()
                .zip(received)
                .zip(invested)
            {
                let now = (*back == NOT_PAID_BACK) & (invested > 0.0) & (received >= invested);
                *back = if now { p as f64 } else { *back };
            }
        }
    }

    fn reset(&mut self, m: &Model, seed: u64) {
        self.draw_per_path(m, seed);
        for (e, &cash) in m.opening_cash.iter().enumerate() {
            for i in 0..self.lanes {
                self.cash[(e, i)] = self.v(cash, i);
            }
        }
        self.spend_with.fill(0.0);
        let o = &mut self.out;
        o.default_period.fill(None);
        self.defaults = 0;
        self.operating_bits.fill(u64::MAX);
        o.rescues.fill(0);
        o.target_revenue.fill(0.0);
        o.company_value.fill(0.0);
        o.returned.fill(0.0);
        for v in [
            &mut o.invested,
            &mut o.received,
            &mut o.margin,
            &mut o.credit,
            &mut o.stake,
            &mut o.stranded,
            &mut o.backlog,
            &mut o.unrecovered,
            &mut o.flow_total,
        ] {
            v.fill(0.0);
        }
        o.payback.fill(NOT_PAID_BACK);
        self.cum_invested.fill(0.0);
        for &(e, fraction, invested, _) in &m.opening {
            for i in 0..self.lanes {
                self.out.stake[(e, i)] = self.v(fraction, i);
                let inv = self.v(invested, i);
                self.out.invested[(e, i)] += inv;
                self.cum_invested[(e, i)] += inv;
            }
        }
        for i in 0..self.lanes {
            self.out.min_cash[i] = self.cash[(m.company, i)];
        }
        self.rescued.fill(0.0);
    }

    /// The state at the horizon's start, for conditions read at the start of period 0, and
    /// each milestone's threshold.
    fn initial_state(&mut self, m: &Model, seed: u64) {
        self.boundary = 0;
        self.month = Month(m.horizon.start.0 - 1);
        let mut draws = [0.0; LANES];
        for (k, ms) in m.milestones.iter().enumerate() {
            m.streams
                .uniform_lanes(seed, ms.key, self.first, 0, &mut draws[..self.lanes]);
            for (i, &u) in draws[..self.lanes].iter().enumerate() {
                self.reached[(k, i)] = false;
                self.hazard_acc[(k, i)] = 0.0;
                self.threshold[(k, i)] = match ms.rule {
                    MilestoneRule::Rate(r) => exposure_to_reach(u, self.v(r, i)),
                    MilestoneRule::Chance(c) => exposure_to_reach(u, -(-self.v(c, i)).ln_1p()),
                    MilestoneRule::Year(y) => self.v(y, i),
                };
            }
        }
        let mut holds = [true; LANES];
        for (k, ms) in m.milestones.iter().enumerate() {
            let holds = &mut holds[..self.lanes];
            match &ms.condition {
                Some(c) => self.holds_lanes(m, c, holds),
                None => holds.fill(true),
            }
            self.held.row_mut(k)[..self.lanes].copy_from_slice(holds);
        }
    }

    fn milestones<T: Trace>(&mut self, m: &Model, t: &mut T, p: usize) {
        let end = m.horizon.period_start(p + 1).as_year_fraction();
        let mut holds = [true; LANES];
        for &k in &m.milestone_order {
            let ms = &m.milestones[k];
            // On the state after the milestones before it in the order (which it may read).
            match &ms.condition {
                Some(c) => self.holds_lanes(m, c, &mut holds[..self.lanes]),
                None => holds.fill(true),
            }
            // Row by row over the batch, branch-free; a lane that has reached the milestone or
            // whose company has defaulted keeps its state.
            let lanes = self.lanes;
            let (alive, holds) = (&self.alive[..lanes], &holds[..lanes]);
            let reached = &mut self.reached.row_mut(k)[..lanes];
            let before = &mut self.held.row_mut(k)[..lanes];
            let (acc, threshold) = (
                &mut self.hazard_acc.row_mut(k)[..lanes],
                &self.threshold.row(k)[..lanes],
            );
            let mut newly = [false; LANES];
            let newly = &mut newly[..lanes];
            match ms.rule {
                MilestoneRule::Rate(_) | MilestoneRule::Chance(_) => accrue_hazard(
                    ms.exposure[p],
                    alive,
                    holds,
                    before,
                    reached,
                    acc,
                    threshold,
                    newly,
                ),
                MilestoneRule::Year(_) => {
                    let open = p >= ms.from;
                    for i in 0..lanes {
                        let active = alive[i] & !reached[i];
                        newly[i] = active & holds[i] & open & (threshold[i] < end);
                    }
                    for i in 0..lanes {
                        let active = alive[i] & !reached[i];
                        before[i] = if active { holds[i] } else { before[i] };
                        reached[i] |= newly[i];
                    }
                }
            }
            if T::ACTIVE {
                for _ in newly[..lanes].iter().filter(|&&n| n) {
                    t.milestone(p, k);
                }
            }
        }
    }

    /// Stakes stated as of a date are what their holders hold at the end of that period.
    fn opening_as_of(&mut self, m: &Model, p: usize) {
        for &(e, fraction, _, at) in &m.opening {
            if at == Some(p) {
                for i in 0..self.lanes {
                    self.out.stake[(e, i)] = self.v(fraction, i);
                }
            }
        }
    }

    /// Insolvency in continuous time: within the period the operating flows accrue evenly and
    /// financing arrives when it does (a scheduled tranche or a loan draw at the start of its
    /// month, a repayment at the end of its month, a conditional tranche or draw at the end of
    /// the period); what arrives at the same instant is netted. Whenever the company's cash
    /// would cross zero, a rescue is tried there (attempt k uses draw k of the rescue, so more
    /// money never makes a path default earlier); without one, the company defaults in this
    /// period. The step only sets how often the state is read, not when cash runs out.
    fn insolvency<T: Trace>(&mut self, m: &Model, t: &mut T, p: usize, seed: u64) {
        let company = m.company;
        // The lanes to scan, gathered without branches: an operating company with financing
        // this period, or without and short at the period's end. Without financing the scan
        // below reduces to its first step, the cash at the period's end (its zero's sign aside,
        // which `>=` ignores), so a company that ends the period with cash needs no scan. A
        // lane's scan changes only that lane's state.
        let lanes = self.lanes;
        let mut need = [false; LANES];
        let cash = &self.cash.row(company)[..lanes];
        let (start, alive, arrived) = (
            &self.start_cash[..lanes],
            &self.alive[..lanes],
            &self.arrived[..lanes],
        );
        if !needs_scan(start, cash, alive, arrived, &mut need[..lanes]) {
            return;
        }
        let scan = LaneIndices::which(lanes, |i| need[i]);
        for &i in scan.indices() {
            let i = usize::from(i);
            let mut arrivals = std::mem::take(&mut self.arrivals[i]);
            arrivals.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
            let financing: f64 = arrivals.iter().map(|a| a.1).sum();
            // Operating flows of the period, spread evenly over it.
            let rate = self.cash[(company, i)] - self.start_cash[i] - financing;
            let (mut cash, mut at) = (self.start_cash[i], 0.0);
            'scan: for k in 0..=arrivals.len() {
                let (next, amount) = arrivals.get(k).copied().unwrap_or((1.0, 0.0));
                // Checked when time moves on, and once more at the period's end.
                if k == 0 || next > at || k == arrivals.len() {
                    cash += rate * (next - at);
                    while cash < 0.0 {
                        match self.rescue(m, t, seed, i) {
                            Some(raised) => cash += raised,
                            None => {
                                self.default(m, p, i);
                                break 'scan;
                            }
                        }
                    }
                }
                cash += amount;
                at = next;
            }
            self.arrivals[i] = arrivals;
        }
    }

    /// Tries lane `i`'s next rescue; the money raised, or `None` when there is none.
    fn rescue<T: Trace>(&mut self, m: &Model, t: &mut T, seed: u64, i: usize) -> Option<f64> {
        let r = m.rescue.as_ref()?;
        // A rescue buys new shares at a pre-money valuation, so it never takes the whole
        // company; a company with no value cannot be rescued.
        let pre = self.valuation(m, i) * (1.0 - self.v(r.discount, i));
        let attempt = u64::from(self.out.rescues[i]);
        if self.out.rescues[i] >= r.max
            || pre <= 0.0
            || m.streams.uniform_at(seed, r.key, self.path(i), attempt) >= self.v(r.probability, i)
        {
            return None;
        }
        let amount = self.v(r.amount, i);
        self.pay(m, t, m.flows, r.from, m.company, i, amount);
        let new = amount / (pre + amount);
        for e in 0..m.entities {
            self.out.stake[(e, i)] *= 1.0 - new;
        }
        self.out.stake[(r.from, i)] += new;
        self.out.rescues[i] += 1;
        self.rescued[i] += amount;
        Some(amount)
    }

    fn default(&mut self, m: &Model, p: usize, i: usize) {
        self.out.default_period[i] = Some(p);
        self.defaults += 1;
        self.operating_bits[i] = 0;
        for k in 0..m.kinds.equity.len() {
            // A defaulted company receives no more equity, scheduled or conditional.
            if self.out.tranche_state[(k, i)] == TrancheState::Pending {
                self.out.tranche_state[(k, i)] = TrancheState::Lapsed(p, Lapse::Default);
            }
        }
    }

    /// The company's value at the horizon, before any lender's claim: the run-rate it had at
    /// the end (a defaulted company keeps the one it had when it defaulted) x multiple, times
    /// the recovery after a default.
    fn value(&mut self, m: &Model) {
        self.boundary = m.periods;
        for i in 0..self.lanes {
            let (boundary, recovered) = match self.out.default_period[i] {
                Some(d) => (d + 1, self.v(m.recovery, i)),
                None => (m.periods, 1.0),
            };
            let valuation = self.run_rate[(boundary, i)] * self.v(m.multiple, i);
            self.out.company_value[i] = valuation * recovered;
        }
    }

    /// The outputs only known at the horizon, account by account over the batch (each lane's
    /// sums in the per-path order: flows, periods and links in turn).
    fn finish(&mut self, m: &Model) {
        let lanes = self.lanes;
        let mut rate = [0.0; LANES];
        for f in 0..m.flows {
            if let (true, Some(margin)) = (m.from_company[f], m.margin[f]) {
                let rate = &mut rate[..lanes];
                self.fill_lanes(margin, rate);
                let (total, out) = (&self.out.flow_total, &mut self.out.margin);
                let earned = &mut out.row_mut(m.flow_to[f])[..lanes];
                for ((e, &t), &r) in earned.iter_mut().zip(&total.row(f)[..lanes]).zip(&*rate) {
                    *e += t * r;
                }
            }
        }
        let target = &mut self.out.target_revenue[..lanes];
        match &m.target {
            Some((periods, _)) => {
                target.fill(-0.0);
                for p in periods.clone() {
                    for (t, &r) in target.iter_mut().zip(&self.out.revenue.row(p)[..lanes]) {
                        *t += r;
                    }
                }
            }
            None => target.fill(0.0),
        }
        let mut step = [0.0; LANES];
        for (c, cycle) in m.cycles.list.iter().enumerate() {
            let mut least = [f64::INFINITY; LANES];
            for links in &cycle.steps {
                let step = &mut step[..lanes];
                step.fill(-0.0);
                for l in links {
                    match *l {
                        Link::Flow(f) => {
                            for (s, &x) in step.iter_mut().zip(&self.out.flow_total.row(f)[..lanes])
                            {
                                *s += x;
                            }
                        }
                        // An opening stake was paid before the horizon: what went in then.
                        Link::Stake(e) => match m.opening.iter().find(|o| o.0 == e) {
                            Some(o) => with_lane_values!(self.lane_values(o.2), paid => {
                                for (i, s) in step.iter_mut().enumerate() {
                                    *s += paid.at(i);
                                }
                            }),
                            None => step.iter_mut().for_each(|s| *s += 0.0),
                        },
                    }
                }
                for (l, &s) in least.iter_mut().zip(&*step) {
                    *l = l.min(s);
                }
            }
            self.out.cycles.row_mut(c)[..lanes].copy_from_slice(&least[..lanes]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{PeriodRows, exposure_to_reach, gain};

    #[test]
    fn a_hazard_of_zero_never_fires_even_on_extreme_draws() {
        // The extremes `unit` can return: 2^-53 and 1 - 2^-53.
        for u in [f64::EPSILON / 2.0, 1.0 - f64::EPSILON / 2.0, 1e-300, 0.5] {
            assert_eq!(exposure_to_reach(u, 0.0), f64::INFINITY, "{u}");
            assert!(exposure_to_reach(u, 0.3) > 0.0, "{u}");
        }
        // A certain event (a chance of 1 is an infinite rate) fires at the first exposure.
        assert_eq!(exposure_to_reach(0.5, f64::INFINITY), 0.0);
    }

    #[test]
    fn period_rows_read_as_rows_zeroed_each_period() {
        // Payments of every sign, zeros of both signs among them, on flows that move in some
        // periods and not in others, both ways of opening a row; against rows zeroed at every
        // period's start and added to, bit for bit.
        let (flows, lanes) = (3, 5);
        let mut rows = PeriodRows::new(flows, lanes);
        let mut want = vec![vec![0.0f64; lanes]; flows];
        let amounts = [3.5, -0.0, 0.0, -2.25, 1e-300, 7.0, -0.0];
        let mut k = 0;
        for period in 0..6 {
            rows.begin();
            want.iter_mut().for_each(|r| r.fill(0.0));
            for payment in 0..4 {
                let f = (period * 7 + payment * 5) % flows;
                if (period + payment) % 3 == 0 {
                    let row = rows.open_zeroed(f);
                    for (i, w) in want[f].iter_mut().enumerate() {
                        let a = amounts[(k + i) % amounts.len()];
                        row[i] += a;
                        *w += a;
                    }
                } else {
                    let (row, fresh) = rows.open(f);
                    for (i, w) in want[f].iter_mut().enumerate() {
                        let got = gain(amounts[(k + i) % amounts.len()]);
                        row[i] = if fresh {
                            PeriodRows::add::<true>(row[i], got)
                        } else {
                            PeriodRows::add::<false>(row[i], got)
                        };
                        *w += got;
                    }
                }
                k += 1;
                for (f, w) in want.iter().enumerate() {
                    let got: Vec<u64> = rows.row(f)[..lanes].iter().map(|x| x.to_bits()).collect();
                    let w: Vec<u64> = w.iter().map(|x| x.to_bits()).collect();
                    assert_eq!(got, w, "period {period}, payment {payment}, flow {f}");
                }
                let mut sum = vec![0.0; lanes];
                rows.sum(&[2, 0, 1], &mut sum);
                for (i, &s) in sum.iter().enumerate() {
                    let w = [2, 0, 1].iter().map(|&f| want[f][i]).sum::<f64>();
                    assert_eq!(s.to_bits(), w.to_bits(), "sum in lane {i}");
                }
            }
        }
    }
}
