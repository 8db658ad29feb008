//! One simulated path: the period dynamics, in a fixed order.
//!
//! Each period, in this order:
//! 1. per-period draws;
//! 2. the operating flows: revenue (the exact integral of the run-rate over the period), then
//!    operating costs, contract payments, revenue shares and pass-throughs (in dependency
//!    order);
//! 3. the state at the end of the period is what every condition and price reads: cash after
//!    those flows, the run-rate at the period's end, the valuation (run-rate x multiple),
//!    cumulative spend, the period's last month, the milestones reached so far;
//! 4. milestones, on that state (a hazard accrues over the period for as long as its condition
//!    held: the average of the condition at the start and at the end of the period);
//! 5. equity: scheduled tranches, and conditional tranches whose condition holds, on the same
//!    state; all tranches of a period are issued together, so each investor gets amount /
//!    post-money and earlier holders are diluted once by the period's new shares; a window
//!    that ends in this period lapses;
//! 6. insolvency: if the company's cash is below zero, a rescue is tried (attempt k uses draw
//!    k of the rescue); without one the company defaults: its payments stop, the unpaid
//!    remainder of its contracts is the sellers' stranded backlog, pending tranches lapse.
//!
//! Every movement of money goes through [`PathState::pay`], so each entity's cash changes by
//! exactly its inflows minus its outflows.

use super::model::{MilestoneRule, Model, TrancheWhen};
use super::rng::{draw, uniform_at, uniform_pair};
use crate::dist::{normal_cdf, normal_quantile};
use crate::graph::Link;
use crate::scenario::{Condition, ContractSize, Metric, PostMoney, Value};
use crate::schedule::{ContractWeights, Growth, contract_weights, growth_path};
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
    /// Lapsed in this period (window expired, or the company defaulted).
    Lapsed(usize),
    /// Its amount is 0 on this path: there is nothing to release.
    Empty,
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
    /// Company value at the horizon (with recovery if it defaulted).
    pub company_value: f64,
    /// Tranche outcomes and the amount each released.
    pub tranches: Vec<(TrancheState, f64)>,
    /// Per entity: invested (opening stake's price included).
    pub invested: Vec<f64>,
    /// Per entity: received back from the company (directly or passed through).
    pub received: Vec<f64>,
    /// Money from the company that reached the investors, each dollar counted once.
    pub returned: f64,
    /// Per entity: gross margin earned on what it received.
    pub margin: Vec<f64>,
    /// Per entity: stake in the company at the horizon.
    pub stake: Vec<f64>,
    /// Per entity: first period in which received >= invested.
    pub payback: Vec<Option<usize>>,
    /// Per entity: unpaid remainder of company contracts at default.
    pub stranded: Vec<f64>,
    /// Per entity: remainder of company contracts due after the horizon.
    pub backlog: Vec<f64>,
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
    /// in.
    pub fn circularity(&self, m: &Model) -> Option<f64> {
        let invested = self.invested_total(m);
        (invested > 0.0).then(|| self.returned / invested)
    }

    /// An investor's received / invested; `None` when it put nothing in.
    pub fn round_trip(&self, e: usize) -> Option<f64> {
        (self.invested[e] > 0.0).then(|| self.received[e] / self.invested[e])
    }

    /// An investor's equity value + margin earned - invested.
    pub fn net_position(&self, e: usize) -> f64 {
        self.stake[e] * self.company_value + self.margin[e] - self.invested[e]
    }
}

/// The years of exposure after which a milestone with hazard `rate` happens, from its uniform
/// draw `u` in (0, 1): a unit exponential over the rate. `-ln(u)` is never 0 (u < 1), so a rate
/// of 0 gives +inf and never fires, even for the draws where `1 - u` would round to 1.
fn exposure_to_reach(u: f64, rate: f64) -> f64 {
    -u.ln() / rate
}

/// Per-worker scratch state, reused across paths.
pub struct PathState {
    draws: Vec<f64>,
    cash: Vec<f64>,
    flow_period: Vec<f64>,
    spend_with: Vec<f64>,
    /// Revenue booked by each process in each period (`periods` per process), before any
    /// default: computed when the path starts, since every input is drawn by then.
    rev_amount: Vec<f64>,
    /// Run-rate of each process at each period boundary (`periods + 1` per process).
    rev_rate: Vec<f64>,
    /// Scratch growth curve (levels and integrals) for inputs drawn per path.
    levels: Vec<f64>,
    integrals: Vec<f64>,
    /// Integral of each cost's fixed-part growth over each period, `periods` per cost.
    cost_growth: Vec<f64>,
    corr_z: Vec<f64>,
    contract_scale: Vec<f64>,
    contract_weights: Vec<ContractWeights>,
    reached: Vec<bool>,
    /// Whether each milestone's condition held at the end of the previous period.
    held: Vec<bool>,
    /// Years of exposure each hazard milestone has had.
    hazard_acc: Vec<f64>,
    /// Years of exposure at which it is reached (hazard), or its date (year).
    threshold: Vec<f64>,
    cum_invested: Vec<f64>,
    /// Tranches released in the current period.
    round: Vec<usize>,
    /// Equity arriving in the current period: (fraction of the period, amount), in time order.
    arrivals: Vec<(f64, f64)>,
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

/// What each flow moves inside the horizon on the nominal path, and the conditional part of it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Nominal {
    /// Money moved on each flow (the rescue flow last).
    pub flows: Vec<f64>,
    /// The part of it paid by conditional tranches.
    pub conditional: Vec<f64>,
}

/// The nominal path: the engine's own period dynamics with every uncertain input at its mean,
/// no volatility, every conditional tranche paid at the start of its window and no insolvency. A
/// map of the deal, not a forecast; it is what `cfsim graph` shows, so the graph and the
/// simulation share one formulation of every flow.
pub fn nominal(m: &Model) -> Nominal {
    struct Totals(Vec<f64>);
    impl Trace for Totals {
        fn payment(&mut self, _: usize, flow: usize, _: usize, _: usize, amount: f64) {
            self.0[flow] += amount;
        }
        fn end_period(&mut self, _: usize, _: &[f64]) {}
    }
    let mut state = PathState::new(m);
    state.nominal = true;
    let mut totals = Totals(vec![0.0; m.flows + 1]);
    state.run(m, 0, 0, &mut totals);
    let mut conditional = vec![0.0; m.flows + 1];
    for t in &m.tranches {
        if matches!(t.when, TrancheWhen::Conditional { .. }) {
            conditional[t.flow] += state.v(t.amount);
        }
    }
    Nominal {
        flows: totals.0,
        conditional,
    }
}

impl PathState {
    /// Scratch sized for a model.
    pub fn new(m: &Model) -> Self {
        let e = m.entities;
        let f = m.flows + 1;
        let n = m.periods;
        let mut cost_growth = vec![0.0; m.costs.len() * n];
        for (k, c) in m.costs.iter().enumerate() {
            if let Some(curve) = &c.curve {
                cost_growth[k * n..(k + 1) * n].copy_from_slice(&curve.integrals);
            }
        }
        PathState {
            draws: m.quantities.iter().map(|q| q.dist.mean()).collect(),
            cash: vec![0.0; e],
            flow_period: vec![0.0; f],
            spend_with: vec![0.0; e],
            rev_amount: vec![0.0; m.revenues.len() * n],
            rev_rate: vec![0.0; m.revenues.len() * (n + 1)],
            levels: vec![0.0; n + 1],
            integrals: vec![0.0; n],
            cost_growth,
            corr_z: vec![0.0; m.correlation.as_ref().map_or(0, |c| c.0.len())],
            contract_scale: vec![0.0; m.contracts.len()],
            contract_weights: m
                .contracts
                .iter()
                .map(|c| c.weights.clone().unwrap_or_default())
                .collect(),
            reached: vec![false; m.milestones.len()],
            held: vec![false; m.milestones.len()],
            hazard_acc: vec![0.0; m.milestones.len()],
            threshold: vec![0.0; m.milestones.len()],
            cum_invested: vec![0.0; e],
            round: Vec::with_capacity(m.tranches.len()),
            arrivals: Vec::with_capacity(m.tranches.len() + 1),
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
                tranches: vec![(TrancheState::Pending, 0.0); m.tranches.len()],
                invested: vec![0.0; e],
                received: vec![0.0; e],
                returned: 0.0,
                margin: vec![0.0; e],
                stake: vec![0.0; e],
                payback: vec![None; e],
                stranded: vec![0.0; e],
                backlog: vec![0.0; e],
                cycles: vec![0.0; m.cycles.len()],
                flow_total: vec![0.0; f],
            },
        }
    }

    #[inline(always)]
    fn v(&self, v: Value) -> f64 {
        match v {
            Value::Const(c) => c,
            Value::Random(q) => self.draws[q],
        }
    }

    /// Moves money on a flow and keeps every account that depends on it.
    #[inline(always)]
    fn pay<T: Trace>(
        &mut self,
        m: &Model,
        t: &mut T,
        flow: usize,
        from: usize,
        to: usize,
        amount: f64,
    ) {
        if amount == 0.0 {
            return;
        }
        self.cash[from] -= amount;
        self.cash[to] += amount;
        self.flow_period[flow] += amount;
        self.out.flow_total[flow] += amount;
        if m.class[flow].is_investment() {
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
            self.draws[q] = draw(seed, path, m.quantities[q].key);
        }
        if let Some((members, chol)) = &m.correlation {
            for (i, &q) in members.iter().enumerate() {
                self.corr_z[i] = normal_quantile(self.draws[q]);
            }
            for (i, &q) in members.iter().enumerate() {
                let z: f64 = (0..=i).map(|k| chol[i][k] * self.corr_z[k]).sum();
                self.draws[q] = normal_cdf(z).clamp(f64::MIN_POSITIVE, 1.0 - f64::EPSILON);
            }
        }
        for &q in &m.per_path {
            self.draws[q] = m.quantities[q].quantile(self.draws[q]);
        }
    }

    /// The company's annualised revenue run-rate in the current state.
    fn run_rate(&self, m: &Model) -> f64 {
        let stride = m.periods + 1;
        m.company_revenues
            .iter()
            .map(|&k| self.rev_rate[k * stride + self.boundary])
            .sum()
    }

    fn metric(&self, m: &Model, metric: Metric) -> f64 {
        match metric {
            Metric::Revenue => self.run_rate(m),
            Metric::Cash => self.cash[m.company],
            Metric::Valuation => self.run_rate(m) * self.v(m.multiple),
            Metric::Spend(f) => self.out.flow_total[f],
            Metric::SpendWith(e) => self.spend_with[e],
        }
    }

    fn holds(&self, m: &Model, c: &Condition) -> bool {
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

    /// Runs path `path` of `seed`; results are in `self.out`.
    pub fn run<T: Trace>(&mut self, m: &Model, seed: u64, path: u64, t: &mut T) {
        self.reset(m, seed, path);
        let company = m.company;
        let n = m.periods;
        let h = &m.horizon;
        t.start(&self.cash);
        for p in 0..n {
            self.period = p;
            self.start_cash = self.cash[company];
            self.round.clear();
            self.flow_period.iter_mut().for_each(|x| *x = 0.0);
            for &q in m.per_period.iter().filter(|_| !self.nominal) {
                let u = uniform_at(seed, m.quantities[q].key, path, p as u64);
                self.draws[q] = m.quantities[q].quantile(u);
            }
            let alive = self.out.default_period.is_none();
            // Revenue.
            for (k, r) in m.revenues.iter().enumerate() {
                if r.to == company && !alive {
                    continue;
                }
                let amount = self.rev_amount[k * n + p];
                self.pay(m, t, r.flow, r.from, r.to, amount);
            }
            // Costs.
            for (k, c) in m.costs.iter().enumerate() {
                if c.window[p] == 0.0 && c.until_share[p] == 0.0 || (c.from == company && !alive) {
                    continue;
                }
                let revenue: f64 = c
                    .revenue_sources
                    .iter()
                    .map(|&r| self.flow_amount(m, r, p, alive))
                    .sum();
                let fixed = self.v(c.fixed) * self.cost_growth[k * n + p] * c.until_share[p];
                let amount = fixed + self.v(c.share) * revenue * c.window[p];
                self.pay(m, t, c.flow, c.from, c.to, amount);
            }
            // Contracts.
            for (k, c) in m.contracts.iter().enumerate() {
                if c.from == company && !alive {
                    continue;
                }
                let amount = self.contract_scale[k] * self.contract_weights[k].periods[p];
                self.pay(m, t, c.flow, c.from, c.to, amount);
            }
            // Revenue shares.
            for rs in &m.revshares {
                if rs.window[p] == 0.0 || (rs.from == company && !alive) {
                    continue;
                }
                let base: f64 = rs
                    .base
                    .iter()
                    .map(|&r| self.flow_amount(m, r, p, alive))
                    .sum();
                let amount = self.v(rs.rate) * base * rs.window[p];
                self.pay(m, t, rs.flow, rs.from, rs.to, amount);
            }
            // Pass-throughs, in dependency order.
            for ps in &m.passes {
                let amount = self.v(ps.share) * self.flow_period[ps.of];
                self.pay(m, t, ps.flow, ps.from, ps.to, amount);
            }
            // The state at the end of the period.
            self.boundary = p + 1;
            self.month = h.period_end(p);
            if self.nominal {
                self.tranches(m, t, p);
            } else if alive {
                self.milestones(m, p);
                self.tranches(m, t, p);
                self.insolvency(m, t, p, seed, path);
            }
            self.opening_as_of(m, p);
            // Records.
            let revenue: f64 = m
                .company_revenues
                .iter()
                .map(|&k| self.flow_amount(m, k, p, alive))
                .sum();
            let costs: f64 = m.company_costs.iter().map(|&f| self.flow_period[f]).sum();
            self.out.cash[p] = self.cash[company];
            self.out.min_cash = self.out.min_cash.min(self.cash[company] - self.rescued);
            self.out.revenue[p] = revenue;
            self.out.costs[p] = costs;
            for &e in &m.investors {
                if self.out.payback[e].is_none()
                    && self.cum_invested[e] > 0.0
                    && self.out.received[e] >= self.cum_invested[e]
                {
                    self.out.payback[e] = Some(p);
                }
            }
            t.end_period(p, &self.cash);
        }
        self.finish(m);
    }

    /// What revenue process `k` paid in period `p` (nothing into a company that had defaulted
    /// before the period).
    #[inline]
    fn flow_amount(&self, m: &Model, k: usize, p: usize, alive: bool) -> f64 {
        if m.revenues[k].to == m.company && !alive {
            0.0
        } else {
            self.rev_amount[k * m.periods + p]
        }
    }

    fn reset(&mut self, m: &Model, seed: u64, path: u64) {
        self.draw_per_path(m, seed, path);
        let h = &m.horizon;
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
            &mut o.stake,
            &mut o.stranded,
            &mut o.backlog,
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
        for (k, tr) in m.tranches.iter().enumerate() {
            self.out.tranches[k] = if self.v(tr.amount) > 0.0 {
                (TrancheState::Pending, 0.0)
            } else {
                (TrancheState::Empty, 0.0)
            };
        }
        self.out.min_cash = self.cash[m.company];
        self.rescued = 0.0;
        self.revenue_paths(m, seed, path);
        let (n, dt) = (m.periods, m.dt);
        for (k, c) in m.costs.iter().enumerate() {
            if c.curve.is_none() {
                let g = Growth::new(self.v(c.growth), self.v(c.decay));
                let out = &mut self.cost_growth[k * n..(k + 1) * n];
                growth_path(g, dt, c.origin, &mut self.levels, out);
            }
        }
        for (k, c) in m.contracts.iter().enumerate() {
            let duration = self.v(c.duration);
            if c.weights.is_none() {
                contract_weights(
                    &c.profile,
                    c.start,
                    duration,
                    h,
                    &mut self.contract_weights[k],
                );
            }
            self.contract_scale[k] = match c.size {
                // The stated value is the total, spread by the profile's weights.
                ContractSize::Value(v) => {
                    let total = self.contract_weights[k].total;
                    if total > 0.0 { self.v(v) / total } else { 0.0 }
                }
                // Capacity is paid for each month it is in service.
                ContractSize::Capacity {
                    gw,
                    price_per_gw_year,
                } => self.v(gw) * self.v(price_per_gw_year) / 12.0,
            };
        }
        // The state at the horizon's start, for conditions read at the start of period 0.
        self.boundary = 0;
        self.month = Month(h.start.0 - 1);
        for (i, ms) in m.milestones.iter().enumerate() {
            self.reached[i] = false;
            self.hazard_acc[i] = 0.0;
            let u = draw(seed, path, ms.key);
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

    /// Revenue of each process in each period and its run-rate at each boundary.
    ///
    /// The run-rate is `initial x L(t) x M(t)`: `L` the growth curve, `M` a mean-one
    /// geometric Brownian motion with the volatility, sampled at the period boundaries (its
    /// increment over a span of `len` years has variance `volatility^2 x len`). A period books
    /// `initial x (integral of L over it) x (M at its start + M at its end) / 2`: exact without
    /// volatility, and exact in expectation with it.
    fn revenue_paths(&mut self, m: &Model, seed: u64, path: u64) {
        let (n, dt) = (m.periods, m.dt);
        for (k, r) in m.revenues.iter().enumerate() {
            let initial = self.v(r.initial);
            let sigma = if self.nominal {
                0.0
            } else {
                self.v(r.volatility)
            };
            let (levels, integrals) = match &r.curve {
                Some(c) => (&c.levels, &c.integrals),
                None => {
                    let g = Growth::new(self.v(r.growth), self.v(r.decay));
                    growth_path(g, dt, r.origin, &mut self.levels, &mut self.integrals);
                    (&self.levels, &self.integrals)
                }
            };
            let amounts = &mut self.rev_amount[k * n..(k + 1) * n];
            let rates = &mut self.rev_rate[k * (n + 1)..(k + 1) * (n + 1)];
            amounts.fill(0.0);
            rates.fill(0.0);
            let first = r.origin.period.min(n);
            rates[first] = initial * levels[first];
            let mut shock = 1.0;
            let mut pair = [0.0; 2];
            for p in first..n {
                let len = if p == first { dt - r.origin.offset } else { dt };
                let next = if sigma > 0.0 {
                    // Two draws per block: fetch a block on even periods (or the first).
                    let i = p as u64;
                    if p == first || i & 1 == 0 {
                        pair = uniform_pair(seed, r.shock_key, path, i >> 1);
                    }
                    let z = normal_quantile(pair[(i & 1) as usize]);
                    let var = sigma * sigma * len;
                    shock * (var.sqrt() * z - 0.5 * var).exp()
                } else {
                    1.0
                };
                amounts[p] = initial * integrals[p] * 0.5 * (shock + next);
                rates[p + 1] = initial * levels[p + 1] * next;
                shock = next;
            }
        }
    }

    fn milestones(&mut self, m: &Model, p: usize) {
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
                        }
                    }
                }
                MilestoneRule::Year(_) => {
                    if held && p >= ms.from && self.threshold[i] < end {
                        self.reached[i] = true;
                    }
                }
            }
            self.held[i] = held;
        }
    }

    fn tranches<T: Trace>(&mut self, m: &Model, t: &mut T, p: usize) {
        // Which tranches are released, all on the same state.
        for (k, tr) in m.tranches.iter().enumerate() {
            if self.out.tranches[k].0 != TrancheState::Pending {
                continue;
            }
            match &tr.when {
                TrancheWhen::Scheduled(at, _) => {
                    if *at == p {
                        self.round.push(k);
                    }
                }
                TrancheWhen::Conditional {
                    condition,
                    from,
                    until,
                } => {
                    let holds = if self.nominal {
                        p == *from
                    } else {
                        p >= *from && p <= *until && self.holds(m, condition)
                    };
                    if holds {
                        self.round.push(k);
                    } else if p >= *until {
                        self.out.tranches[k].0 = TrancheState::Lapsed(p);
                    }
                }
            }
        }
        if self.round.is_empty() {
            return;
        }
        // Priced together: "market" tranches form one round at the company's value as
        // pre-money; a post-money below what the period's tranches put in is raised to it.
        let value = self.run_rate(m) * self.v(m.multiple);
        let (mut total, mut market) = (0.0, 0.0);
        for &k in &self.round {
            let amount = self.v(m.tranches[k].amount);
            total += amount;
            if matches!(m.tranches[k].post_money, PostMoney::Market) {
                market += amount;
            }
        }
        let post_money = |st: &Self, k: usize| {
            match m.tranches[k].post_money {
                PostMoney::Stated(v) => st.v(v),
                PostMoney::Market => value + market,
            }
            .max(total)
        };
        // Earlier holders are diluted once by all the period's new shares.
        let issued: f64 = self
            .round
            .iter()
            .map(|&k| self.v(m.tranches[k].amount) / post_money(self, k))
            .sum();
        let keep = (1.0 - issued).max(0.0);
        self.out.stake.iter_mut().for_each(|s| *s *= keep);
        for i in 0..self.round.len() {
            let k = self.round[i];
            let tr = &m.tranches[k];
            let amount = self.v(tr.amount);
            self.out.stake[tr.investor] += amount / post_money(self, k);
            self.pay(m, t, tr.flow, tr.investor, m.company, amount);
            self.out.tranches[k] = (TrancheState::Released(p), amount);
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

    /// Insolvency in continuous time: within the period the operating flows accrue evenly, a
    /// scheduled tranche arrives at the start of its month and a conditional one at the end.
    /// Whenever the company's cash would cross zero, a rescue is tried there (attempt k uses
    /// draw k of the rescue, so more money never makes a path default earlier); without one,
    /// the company defaults in this period. The step only sets how often the state is read,
    /// not when cash runs out.
    fn insolvency<T: Trace>(&mut self, m: &Model, t: &mut T, p: usize, seed: u64, path: u64) {
        let company = m.company;
        self.arrivals.clear();
        for &k in &self.round {
            let at = match m.tranches[k].when {
                TrancheWhen::Scheduled(_, at) => at,
                TrancheWhen::Conditional { .. } => 1.0,
            };
            self.arrivals.push((at, self.out.tranches[k].1));
        }
        self.arrivals
            .sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        let equity: f64 = self.arrivals.iter().map(|a| a.1).sum();
        // Operating flows of the period, spread evenly over it.
        let rate = self.cash[company] - self.start_cash - equity;
        let (mut cash, mut at) = (self.start_cash, 0.0);
        for i in 0..=self.arrivals.len() {
            let (next, amount) = self.arrivals.get(i).copied().unwrap_or((1.0, 0.0));
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
            cash += amount;
            at = next;
        }
    }

    /// Tries the next rescue; the money raised, or `None` when there is none.
    fn rescue<T: Trace>(&mut self, m: &Model, t: &mut T, seed: u64, path: u64) -> Option<f64> {
        let r = m.rescue.as_ref()?;
        // A rescue buys new shares at a pre-money valuation, so it never takes the whole
        // company; a company with no value cannot be rescued.
        let pre = self.run_rate(m) * self.v(m.multiple) * (1.0 - self.v(r.discount));
        let attempt = u64::from(self.out.rescues);
        if self.out.rescues >= r.max
            || pre <= 0.0
            || uniform_at(seed, r.key, path, attempt) >= self.v(r.probability)
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
                st.0 = TrancheState::Lapsed(p);
            }
        }
    }

    fn finish(&mut self, m: &Model) {
        let company = m.company;
        for f in 0..m.flows {
            if let (true, Some(margin)) = (m.from_company[f], m.margin[f]) {
                let to = m.flow_to[f];
                self.out.margin[to] += self.out.flow_total[f] * self.v(margin);
            }
        }
        // Contracts: what the company left unpaid (default) or owes after the horizon.
        for (k, c) in m.contracts.iter().enumerate() {
            if c.from != company {
                continue;
            }
            let (scale, w) = (self.contract_scale[k], &self.contract_weights[k]);
            if self.out.default_period.is_some() {
                let unpaid = scale * (w.total - w.before) - self.out.flow_total[c.flow];
                self.out.stranded[c.to] += unpaid.max(0.0);
            } else {
                self.out.backlog[c.to] += scale * w.after;
            }
        }
        // A defaulted company keeps the run-rate it had when it defaulted.
        self.boundary = self.out.default_period.map_or(m.periods, |d| d + 1);
        let value = self.run_rate(m) * self.v(m.multiple);
        let recovered = if self.out.default_period.is_some() {
            self.v(m.recovery)
        } else {
            1.0
        };
        self.out.company_value = value * recovered;
        self.out.target_revenue = match &m.target {
            Some((periods, _)) => self.out.revenue[periods.clone()].iter().sum(),
            None => 0.0,
        };
        for (c, steps) in m.cycles.iter().enumerate() {
            self.out.cycles[c] = steps
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
