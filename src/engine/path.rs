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

    /// Money that came back to the investors / money they put in; `None` when nothing was put
    /// in (less than [`MIN_MAGNITUDE`](crate::stats::MIN_MAGNITUDE), which the statistics count
    /// as zero: a ratio over dust is noise, and over 1e-308 it overflows).
    pub fn circularity(&self, m: &Model) -> Option<f64> {
        let invested = self.invested_total(m);
        (invested >= crate::stats::MIN_MAGNITUDE).then(|| self.returned / invested)
    }

    /// An investor's received / invested; `None` when it put nothing in (as for
    /// [`circularity`](Self::circularity)).
    pub fn round_trip(&self, e: usize) -> Option<f64> {
        (self.invested[e] >= crate::stats::MIN_MAGNITUDE)
            .then(|| self.received[e] / self.invested[e])
    }

    /// An investor's equity value + margin earned - invested + principal repaid and still
    /// owed.
    pub fn net_position(&self, e: usize) -> f64 {
        self.stake[e] * self.company_value + self.margin[e] - self.invested[e] + self.credit[e]
    }
}

/// The years of exposure after which a milestone with hazard `rate` happens, from its uniform
/// draw `u` in (0, 1): a unit exponential over the rate. `-ln(u)` is never 0 (u < 1), so a rate
/// of 0 gives +inf and never fires, even for the draws where `1 - u` would round to 1.
fn exposure_to_reach(u: f64, rate: f64) -> f64 {
    -u.ln() / rate
}

/// What every kind of flow shares on a path: cash, the end-of-period state conditions read,
/// the accounts every payment updates, and the outputs. Kinds keep their own working state in
/// their scratch (see [`crate::flows::Step`]).
pub struct State {
    draws: Vec<f64>,
    cash: Vec<f64>,
    flow_period: Vec<f64>,
    spend_with: Vec<f64>,
    /// The company's annualised run-rate at each period boundary (`periods + 1`), set by the
    /// revenue step when the path starts.
    pub(crate) run_rate: Vec<f64>,
    corr_z: Vec<f64>,
    reached: Vec<bool>,
    /// Whether each milestone's condition held at the end of the previous period.
    held: Vec<bool>,
    /// Years of exposure each hazard milestone has had.
    hazard_acc: Vec<f64>,
    /// Years of exposure at which it is reached (hazard), or its date (year).
    threshold: Vec<f64>,
    cum_invested: Vec<f64>,
    /// Financing arriving in the current period: (fraction of the period, signed amount).
    arrivals: Vec<(f64, f64)>,
    /// Interest the company paid in the current period.
    interest: f64,
    /// Company cash at the start of the current period.
    start_cash: f64,
    /// Money raised in rescues so far.
    rescued: f64,
    /// The period being simulated.
    period: usize,
    /// The boundary whose run-rate the state shows (`p + 1` at the end of period `p`).
    boundary: usize,
    /// The month the state stands for (the last month of the period).
    month: Month,
    /// Running the nominal path (see [`nominal`]) rather than a random one.
    nominal: bool,
    /// The outputs of the last path run.
    pub out: PathOutput,
}

/// Per-worker scratch state, reused across paths: the shared [`State`] and every kind's own.
pub struct PathState {
    st: State,
    kinds: crate::flows::Scratch,
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
        flows: state.st.out.flow_total.clone(),
        conditional,
    }
}

impl PathState {
    /// Scratch sized for a model.
    pub fn new(m: &Model) -> Self {
        PathState {
            st: State::new(m),
            kinds: m.kinds.scratch(m),
        }
    }

    /// The value of per-path quantity `q` on the last path run.
    pub fn quantity(&self, q: usize) -> f64 {
        self.st.draws[q]
    }

    /// The outputs of the last path run.
    pub fn out(&self) -> &PathOutput {
        &self.st.out
    }

    /// Runs path `path` of `seed`; results are in [`PathState::out`].
    pub fn run<T: Trace>(&mut self, m: &Model, seed: u64, path: u64, t: &mut T) {
        let (st, kinds) = (&mut self.st, &mut self.kinds);
        st.reset(m, seed, path);
        m.kinds.prepare(kinds, st, m, seed, path);
        st.initial_state(m, seed, path);
        let company = m.company;
        let h = &m.horizon;
        t.start(&st.cash);
        for p in 0..m.periods {
            st.begin_period(m, seed, path, p);
            let alive = st.operating();
            m.kinds.operate(kinds, st, m, t, p);
            // The state at the end of the period.
            st.boundary = p + 1;
            st.month = h.period_end(p);
            if st.nominal {
                m.kinds.finance(kinds, st, m, t, p);
            } else if alive {
                st.milestones(m, t, p);
                m.kinds.finance(kinds, st, m, t, p);
                st.insolvency(m, t, p, seed, path);
            }
            st.opening_as_of(m, p);
            st.record(m, p, company);
            t.end_period(p, &st.cash);
        }
        st.value(m);
        m.kinds.finish(kinds, st, m);
        st.finish(m);
    }
}

impl State {
    /// State sized for a model.
    fn new(m: &Model) -> Self {
        let e = m.entities;
        let f = m.flows + 1;
        let n = m.periods;
        State {
            draws: m.quantities.iter().map(|q| q.dist.mean()).collect(),
            cash: vec![0.0; e],
            flow_period: vec![0.0; f],
            spend_with: vec![0.0; e],
            run_rate: vec![0.0; n + 1],
            corr_z: vec![0.0; m.correlation.as_ref().map_or(0, |c| c.0.len())],
            reached: vec![false; m.milestones.len()],
            held: vec![false; m.milestones.len()],
            hazard_acc: vec![0.0; m.milestones.len()],
            threshold: vec![0.0; m.milestones.len()],
            cum_invested: vec![0.0; e],
            arrivals: Vec::with_capacity(m.kinds.equity.len() + 1),
            interest: 0.0,
            start_cash: 0.0,
            rescued: 0.0,
            period: 0,
            nominal: false,
            boundary: 0,
            month: m.horizon.start,
            out: PathOutput {
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
            },
        }
    }

    /// The value of a number on this path.
    #[inline(always)]
    pub fn v(&self, v: Value) -> f64 {
        match v {
            Value::Const(c) => c,
            Value::Random(q) => self.draws[q],
        }
    }

    /// True on the nominal path (see [`nominal`]).
    pub fn is_nominal(&self) -> bool {
        self.nominal
    }

    /// True while the company has not defaulted.
    pub fn operating(&self) -> bool {
        self.out.default_period.is_none()
    }

    /// True when `e` is the company and it has defaulted: it pays and receives nothing more.
    #[inline]
    pub fn stopped(&self, m: &Model, e: usize) -> bool {
        e == m.company && self.out.default_period.is_some()
    }

    /// What flow `f` has moved so far in the current period.
    #[inline]
    pub fn paid(&self, f: usize) -> f64 {
        self.flow_period[f]
    }

    /// Financing that reaches (or, negative, leaves) the company `at` this fraction of the
    /// period, for the insolvency scan.
    pub fn arrive(&mut self, at: f64, amount: f64) {
        self.arrivals.push((at, amount));
    }

    /// The company's value in the current state: run-rate x multiple.
    pub fn valuation(&self, m: &Model) -> f64 {
        self.run_rate[self.boundary] * self.v(m.multiple)
    }

    /// Moves money on a flow, in its direction, with the flow's class.
    #[inline(always)]
    pub fn pay<T: Trace>(
        &mut self,
        m: &Model,
        t: &mut T,
        flow: usize,
        from: usize,
        to: usize,
        amount: f64,
    ) {
        self.pay_as(m, t, flow, m.class[flow], from, to, amount);
    }

    /// Moves money on a flow as a payment of `class`, and keeps every account that depends on
    /// it.
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
        amount: f64,
    ) {
        if amount == 0.0 {
            return;
        }
        self.cash[from] -= amount;
        self.cash[to] += amount;
        if class.is_debt_service() {
            // Money back from the company to a lender, against the flow's direction.
            self.out.received[to] += amount;
            self.out.returned += amount;
            match class {
                PaymentClass::Interest => {
                    self.out.margin[to] += amount;
                    self.interest += amount;
                }
                _ => self.out.credit[to] += amount,
            }
        } else {
            self.flow_period[flow] += amount;
            self.out.flow_total[flow] += amount;
            if class.is_investment() {
                self.out.invested[from] += amount;
                self.cum_invested[from] += amount;
            } else {
                // Margins are fixed per path, so they are applied to the totals in `finish`.
                if m.track_spend_with && from == m.company {
                    self.spend_with[to] += amount;
                }
                if m.from_company[flow] {
                    self.out.received[to] += amount;
                }
                if m.returned[flow] {
                    self.out.returned += amount;
                }
            }
        }
        t.payment(self.period, flow, from, to, amount);
    }

    fn draw_per_path(&mut self, m: &Model, seed: u64, path: u64) {
        if self.nominal {
            for (d, q) in self.draws.iter_mut().zip(&m.quantities) {
                *d = q.dist.mean();
            }
            return;
        }
        for &q in &m.per_path {
            self.draws[q] = m.streams.draw(seed, path, m.quantities[q].key);
        }
        if let Some((members, chol)) = &m.correlation {
            for (i, &q) in members.iter().enumerate() {
                self.corr_z[i] = normal_quantile(self.draws[q]);
            }
            for (i, &q) in members.iter().enumerate() {
                let z: f64 = (0..=i).map(|k| chol[i][k] * self.corr_z[k]).sum();
                self.draws[q] = normal_cdf(z).clamp(f64::MIN_POSITIVE, 1.0 - f64::EPSILON);
            }
            // A held member keeps its quantile; the others are mixed with its latent draw.
            for &q in members {
                if let Some(u) = m.streams.held(m.quantities[q].key) {
                    self.draws[q] = u;
                }
            }
        }
        for &q in &m.per_path {
            self.draws[q] = m.quantities[q].quantile(self.draws[q]);
        }
    }

    fn metric(&self, m: &Model, metric: Metric) -> f64 {
        match metric {
            Metric::Revenue => self.run_rate[self.boundary],
            Metric::Cash => self.cash[m.company],
            Metric::Valuation => self.valuation(m),
            Metric::Spend(f) => self.out.flow_total[f],
            Metric::SpendWith(e) => self.spend_with[e],
        }
    }

    /// Whether a condition holds in the current state.
    pub fn holds(&self, m: &Model, c: &Condition) -> bool {
        match c {
            Condition::Const(b) => *b,
            Condition::Reached(ms) => self.reached[*ms],
            Condition::Compare {
                metric,
                cmp,
                threshold,
            } => cmp.test(self.metric(m, *metric), self.v(*threshold)),
            Condition::Date { cmp, month } => cmp.test(self.month, *month),
            Condition::And(a, b) => self.holds(m, a) && self.holds(m, b),
            Condition::Or(a, b) => self.holds(m, a) || self.holds(m, b),
            Condition::Not(a) => !self.holds(m, a),
        }
    }

    fn begin_period(&mut self, m: &Model, seed: u64, path: u64, p: usize) {
        self.period = p;
        self.start_cash = self.cash[m.company];
        self.arrivals.clear();
        self.interest = 0.0;
        self.flow_period.iter_mut().for_each(|x| *x = 0.0);
        for &q in m.per_period.iter().filter(|_| !self.nominal) {
            let u = m
                .streams
                .uniform_at(seed, m.quantities[q].key, path, p as u64);
            self.draws[q] = m.quantities[q].quantile(u);
        }
    }

    /// What the period leaves in the outputs.
    fn record(&mut self, m: &Model, p: usize, company: usize) {
        let revenue: f64 = m.company_revenues.iter().map(|&f| self.paid(f)).sum();
        let costs: f64 = m.company_costs.iter().map(|&f| self.paid(f)).sum();
        self.out.cash[p] = self.cash[company];
        self.out.min_cash = self.out.min_cash.min(self.cash[company] - self.rescued);
        self.out.revenue[p] = revenue;
        self.out.costs[p] = costs + self.interest;
        for &e in &m.investors {
            if self.out.payback[e].is_none()
                && self.cum_invested[e] > 0.0
                && self.out.received[e] >= self.cum_invested[e]
            {
                self.out.payback[e] = Some(p);
            }
        }
    }

    fn reset(&mut self, m: &Model, seed: u64, path: u64) {
        self.draw_per_path(m, seed, path);
        for (e, &cash) in m.opening_cash.iter().enumerate() {
            self.cash[e] = self.v(cash);
        }
        self.spend_with.iter_mut().for_each(|x| *x = 0.0);
        let o = &mut self.out;
        o.default_period = None;
        o.rescues = 0;
        o.target_revenue = 0.0;
        o.company_value = 0.0;
        o.returned = 0.0;
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
            v.iter_mut().for_each(|x| *x = 0.0);
        }
        o.payback.iter_mut().for_each(|x| *x = None);
        self.cum_invested.iter_mut().for_each(|x| *x = 0.0);
        for &(e, fraction, invested, _) in &m.opening {
            self.out.stake[e] = self.v(fraction);
            let inv = self.v(invested);
            self.out.invested[e] += inv;
            self.cum_invested[e] += inv;
        }
        self.out.min_cash = self.cash[m.company];
        self.rescued = 0.0;
    }

    /// The state at the horizon's start, for conditions read at the start of period 0, and
    /// each milestone's threshold.
    fn initial_state(&mut self, m: &Model, seed: u64, path: u64) {
        self.boundary = 0;
        self.month = Month(m.horizon.start.0 - 1);
        for (i, ms) in m.milestones.iter().enumerate() {
            self.reached[i] = false;
            self.hazard_acc[i] = 0.0;
            let u = m.streams.draw(seed, path, ms.key);
            self.threshold[i] = match ms.rule {
                MilestoneRule::Rate(r) => exposure_to_reach(u, self.v(r)),
                MilestoneRule::Chance(c) => exposure_to_reach(u, -(-self.v(c)).ln_1p()),
                MilestoneRule::Year(y) => self.v(y),
            };
        }
        for i in 0..m.milestones.len() {
            self.held[i] = m.milestones[i]
                .condition
                .as_ref()
                .is_none_or(|c| self.holds(m, c));
        }
    }

    fn milestones<T: Trace>(&mut self, m: &Model, t: &mut T, p: usize) {
        let end = m.horizon.period_start(p + 1).as_year_fraction();
        for &i in &m.milestone_order {
            if self.reached[i] {
                continue;
            }
            let ms = &m.milestones[i];
            let held = ms.condition.as_ref().is_none_or(|c| self.holds(m, c));
            match ms.rule {
                MilestoneRule::Rate(_) | MilestoneRule::Chance(_) => {
                    let held_share =
                        0.5 * (f64::from(u8::from(self.held[i])) + f64::from(u8::from(held)));
                    let exposure = ms.exposure[p] * held_share;
                    if exposure > 0.0 {
                        self.hazard_acc[i] += exposure;
                        if self.hazard_acc[i] >= self.threshold[i] {
                            self.reached[i] = true;
                            t.milestone(p, i);
                        }
                    }
                }
                MilestoneRule::Year(_) => {
                    if held && p >= ms.from && self.threshold[i] < end {
                        self.reached[i] = true;
                        t.milestone(p, i);
                    }
                }
            }
            self.held[i] = held;
        }
    }

    /// Stakes stated as of a date are what their holders hold at the end of that period.
    fn opening_as_of(&mut self, m: &Model, p: usize) {
        for &(e, fraction, _, at) in &m.opening {
            if at == Some(p) {
                self.out.stake[e] = self.v(fraction);
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
    fn insolvency<T: Trace>(&mut self, m: &Model, t: &mut T, p: usize, seed: u64, path: u64) {
        let company = m.company;
        self.arrivals
            .sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        let financing: f64 = self.arrivals.iter().map(|a| a.1).sum();
        // Operating flows of the period, spread evenly over it.
        let rate = self.cash[company] - self.start_cash - financing;
        let (mut cash, mut at) = (self.start_cash, 0.0);
        for i in 0..=self.arrivals.len() {
            let (next, amount) = self.arrivals.get(i).copied().unwrap_or((1.0, 0.0));
            // Checked when time moves on, and once more at the period's end.
            if i == 0 || next > at || i == self.arrivals.len() {
                cash += rate * (next - at);
                while cash < 0.0 {
                    match self.rescue(m, t, seed, path) {
                        Some(raised) => cash += raised,
                        None => {
                            self.default(p);
                            return;
                        }
                    }
                }
            }
            cash += amount;
            at = next;
        }
    }

    /// Tries the next rescue; the money raised, or `None` when there is none.
    fn rescue<T: Trace>(&mut self, m: &Model, t: &mut T, seed: u64, path: u64) -> Option<f64> {
        let r = m.rescue.as_ref()?;
        // A rescue buys new shares at a pre-money valuation, so it never takes the whole
        // company; a company with no value cannot be rescued.
        let pre = self.valuation(m) * (1.0 - self.v(r.discount));
        let attempt = u64::from(self.out.rescues);
        if self.out.rescues >= r.max
            || pre <= 0.0
            || m.streams.uniform_at(seed, r.key, path, attempt) >= self.v(r.probability)
        {
            return None;
        }
        let amount = self.v(r.amount);
        self.pay(m, t, m.flows, r.from, m.company, amount);
        let new = amount / (pre + amount);
        self.out.stake.iter_mut().for_each(|s| *s *= 1.0 - new);
        self.out.stake[r.from] += new;
        self.out.rescues += 1;
        self.rescued += amount;
        Some(amount)
    }

    fn default(&mut self, p: usize) {
        self.out.default_period = Some(p);
        for st in self.out.tranches.iter_mut() {
            // A defaulted company receives no more equity, scheduled or conditional.
            if st.0 == TrancheState::Pending {
                st.0 = TrancheState::Lapsed(p, Lapse::Default);
            }
        }
    }

    /// The company's value at the horizon, before any lender's claim: the run-rate it had at
    /// the end (a defaulted company keeps the one it had when it defaulted) x multiple, times
    /// the recovery after a default.
    fn value(&mut self, m: &Model) {
        self.boundary = self.out.default_period.map_or(m.periods, |d| d + 1);
        let recovered = if self.out.default_period.is_some() {
            self.v(m.recovery)
        } else {
            1.0
        };
        self.out.company_value = self.valuation(m) * recovered;
    }

    fn finish(&mut self, m: &Model) {
        for f in 0..m.flows {
            if let (true, Some(margin)) = (m.from_company[f], m.margin[f]) {
                let to = m.flow_to[f];
                self.out.margin[to] += self.out.flow_total[f] * self.v(margin);
            }
        }
        self.out.target_revenue = match &m.target {
            Some((periods, _)) => self.out.revenue[periods.clone()].iter().sum(),
            None => 0.0,
        };
        for (c, cycle) in m.cycles.list.iter().enumerate() {
            self.out.cycles[c] = cycle
                .steps
                .iter()
                .map(|links| {
                    links
                        .iter()
                        .map(|l| match *l {
                            Link::Flow(f) => self.out.flow_total[f],
                            // An opening stake was paid before the horizon: what went in then.
                            Link::Stake(e) => m
                                .opening
                                .iter()
                                .find(|o| o.0 == e)
                                .map_or(0.0, |o| self.v(o.2)),
                        })
                        .sum::<f64>()
                })
                .fold(f64::INFINITY, f64::min);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::exposure_to_reach;

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
}
