//! One simulated path: the period dynamics, in a fixed order.
//!
//! Each period, in this order:
//! 1. per-period draws;
//! 2. milestones (on the state at the end of the previous period);
//! 3. revenue, then operating costs (fixed part and share of this period's revenue);
//! 4. contract payments by their profiles;
//! 5. revenue shares, then pass-throughs (in dependency order);
//! 6. scheduled tranches, and conditional tranches whose condition holds inside their window
//!    (conditions see this period's cash after steps 3-5); tranches past their window lapse;
//! 7. insolvency: if the company's cash is below zero, a rescue is tried; if there is none or
//!    it fails, the company defaults: its payments stop, the unpaid remainder of its contracts is
//!    the sellers' stranded backlog, pending tranches lapse.
//!
//! Every movement of money goes through [`PathState::pay`], so each entity's cash changes by
//! exactly its inflows minus its outflows.

use rand_distr::StandardNormal;

use super::model::{Model, TrancheWhen};
use super::rng::{Stream, draw, stream, uniform};
use crate::dist::{normal_cdf, normal_quantile};
use crate::graph::Link;
use crate::scenario::{Condition, ContractSize, Metric, MilestoneTiming, PostMoney, Value};
use crate::schedule::{contract_fractions, cost_growth_path, period_growth};

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
    /// Lowest company cash over the horizon.
    pub min_cash: f64,
    /// Company value at the horizon (with recovery if it defaulted).
    pub company_value: f64,
    /// Tranche outcomes and the amount each released.
    pub tranches: Vec<(TrancheState, f64)>,
    /// Per entity: invested (opening stake's price included).
    pub invested: Vec<f64>,
    /// Per entity: received back from the company (directly or passed through).
    pub received: Vec<f64>,
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

/// Per-worker scratch state, reused across paths.
pub struct PathState {
    draws: Vec<f64>,
    cash: Vec<f64>,
    flow_period: Vec<f64>,
    spend_with: Vec<f64>,
    rev_level: Vec<f64>,
    rev_amount: Vec<f64>,
    /// Annualised level of each revenue process at the start of each period, `periods + 1`
    /// per process: computed when the path starts, since growth and volatility are drawn once
    /// per path and the shocks depend on nothing else (a tight loop there pipelines the
    /// `exp` and `sqrt` calls that would stall the period loop).
    rev_path: Vec<f64>,
    /// Growth of each cost's fixed part in each period, `periods` per cost.
    cost_growth: Vec<f64>,
    pp_streams: Vec<Stream>,
    corr_z: Vec<f64>,
    contract_total: Vec<f64>,
    contract_fracs: Vec<Vec<f64>>,
    contract_before_after: Vec<(f64, f64)>,
    reached: Vec<bool>,
    hazard_acc: Vec<f64>,
    threshold: Vec<f64>,
    cum_invested: Vec<f64>,
    /// The period being simulated.
    period: usize,
    /// The outputs of the last path run.
    pub out: PathOutput,
}

/// Growth of every cost's fixed part, the constant ones filled in once.
fn cost_growth_init(m: &Model) -> Vec<f64> {
    let mut out = vec![1.0; m.costs.len() * m.periods];
    for (k, c) in m.costs.iter().enumerate() {
        if let Some(path) = &c.growth_path {
            out[k * m.periods..(k + 1) * m.periods].copy_from_slice(path);
        }
    }
    out
}

impl PathState {
    /// Scratch sized for a model.
    pub fn new(m: &Model) -> Self {
        let e = m.entities;
        let f = m.flows + 1;
        let seed_stream = stream(0, 0, 0);
        PathState {
            draws: m.quantities.iter().map(|q| q.dist.mean()).collect(),
            cash: vec![0.0; e],
            flow_period: vec![0.0; f],
            spend_with: vec![0.0; e],
            rev_level: vec![0.0; m.revenues.len()],
            rev_amount: vec![0.0; m.revenues.len()],
            rev_path: vec![0.0; m.revenues.len() * (m.periods + 1)],
            cost_growth: cost_growth_init(m),
            pp_streams: vec![seed_stream; m.per_period.len()],
            corr_z: vec![0.0; m.correlation.as_ref().map_or(0, |c| c.0.len())],
            contract_total: vec![0.0; m.contracts.len()],
            contract_fracs: m.contracts.iter().map(|_| vec![0.0; m.periods]).collect(),
            contract_before_after: vec![(0.0, 0.0); m.contracts.len()],
            reached: vec![false; m.milestones.len()],
            hazard_acc: vec![0.0; m.milestones.len()],
            threshold: vec![0.0; m.milestones.len()],
            cum_invested: vec![0.0; e],
            period: 0,
            out: PathOutput {
                cash: vec![0.0; m.periods],
                revenue: vec![0.0; m.periods],
                costs: vec![0.0; m.periods],
                default_period: None,
                rescues: 0,
                target_revenue: 0.0,
                min_cash: 0.0,
                company_value: 0.0,
                tranches: vec![(TrancheState::Pending, 0.0); m.tranches.len()],
                invested: vec![0.0; e],
                received: vec![0.0; e],
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
        if m.is_equity[flow] {
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
        }
        t.payment(self.period, flow, from, to, amount);
    }

    fn draw_per_path(&mut self, m: &Model, seed: u64, path: u64) {
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
        for (k, &q) in m.per_period.iter().enumerate() {
            self.pp_streams[k] = stream(seed, path, m.quantities[q].key);
        }
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

    fn run_rate(&self, m: &Model) -> f64 {
        m.company_revenues.iter().map(|&r| self.rev_level[r]).sum()
    }

    fn holds(&self, m: &Model, c: &Condition, period: usize) -> bool {
        match c {
            Condition::Const(b) => *b,
            Condition::Reached(ms) => self.reached[*ms],
            Condition::Compare {
                metric,
                cmp,
                threshold,
            } => cmp.test(self.metric(m, *metric), self.v(*threshold)),
            Condition::Date { cmp, month } => {
                cmp.test(m.scenario.horizon.period_start(period), *month)
            }
            Condition::And(a, b) => self.holds(m, a, period) && self.holds(m, b, period),
            Condition::Or(a, b) => self.holds(m, a, period) || self.holds(m, b, period),
            Condition::Not(a) => !self.holds(m, a, period),
        }
    }

    /// Runs path `path` of `seed`; results are in `self.out`.
    pub fn run<T: Trace>(&mut self, m: &Model, seed: u64, path: u64, t: &mut T) {
        self.reset(m, seed, path);
        let company = m.company;
        let dt = m.dt;
        t.start(&self.cash);
        for p in 0..m.periods {
            self.period = p;
            self.flow_period.iter_mut().for_each(|x| *x = 0.0);
            for (k, &q) in m.per_period.iter().enumerate() {
                let u = uniform(&mut self.pp_streams[k]);
                self.draws[q] = m.quantities[q].quantile(u);
            }
            let alive = self.out.default_period.is_none();
            if alive {
                self.milestones(m, p);
            }
            // Revenue.
            for (k, r) in m.revenues.iter().enumerate() {
                self.rev_amount[k] = 0.0;
                if p < r.start || (r.to == company && !alive) {
                    continue;
                }
                let amount = self.rev_level[k] * dt;
                self.rev_amount[k] = amount;
                self.pay(m, t, r.flow, r.from, r.to, amount);
                self.rev_level[k] = self.rev_path[k * (m.periods + 1) + p + 1];
            }
            // Costs.
            for (k, c) in m.costs.iter().enumerate() {
                if !c.active[p] || (c.from == company && !alive) {
                    continue;
                }
                let revenue: f64 = c.revenue_sources.iter().map(|&k| self.rev_amount[k]).sum();
                let growth = self.cost_growth[k * m.periods + p];
                let amount = self.v(c.fixed) * growth * dt + self.v(c.share) * revenue;
                self.pay(m, t, c.flow, c.from, c.to, amount);
            }
            // Contracts.
            for (k, c) in m.contracts.iter().enumerate() {
                if c.from == company && !alive {
                    continue;
                }
                let frac = match &c.fractions {
                    Some(f) => f[p],
                    None => self.contract_fracs[k][p],
                };
                let amount = self.contract_total[k] * frac;
                self.pay(m, t, c.flow, c.from, c.to, amount);
            }
            // Revenue shares.
            for rs in &m.revshares {
                if !rs.active[p] || (rs.from == company && !alive) {
                    continue;
                }
                let base: f64 = rs.base.iter().map(|&k| self.rev_amount[k]).sum();
                let amount = self.v(rs.rate) * base;
                self.pay(m, t, rs.flow, rs.from, rs.to, amount);
            }
            // Pass-throughs, in dependency order.
            for ps in &m.passes {
                let amount = self.v(ps.share) * self.flow_period[ps.of];
                self.pay(m, t, ps.flow, ps.from, ps.to, amount);
            }
            if alive {
                self.tranches(m, t, p);
                self.insolvency(m, t, p, seed, path);
            }
            // Records.
            let revenue: f64 = m.company_revenues.iter().map(|&k| self.rev_amount[k]).sum();
            let costs: f64 = m.company_costs.iter().map(|&f| self.flow_period[f]).sum();
            self.out.cash[p] = self.cash[company];
            self.out.revenue[p] = revenue;
            self.out.costs[p] = costs;
            self.out.min_cash = self.out.min_cash.min(self.cash[company]);
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

    fn reset(&mut self, m: &Model, seed: u64, path: u64) {
        self.draw_per_path(m, seed, path);
        let s = &m.scenario;
        for (e, ent) in s.entities.iter().enumerate() {
            self.cash[e] = self.v(ent.cash);
        }
        self.spend_with.iter_mut().for_each(|x| *x = 0.0);
        let o = &mut self.out;
        o.default_period = None;
        o.rescues = 0;
        o.target_revenue = 0.0;
        o.company_value = 0.0;
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
        o.tranches
            .iter_mut()
            .for_each(|x| *x = (TrancheState::Pending, 0.0));
        self.cum_invested.iter_mut().for_each(|x| *x = 0.0);
        for &(e, fraction, invested) in &m.opening {
            self.out.stake[e] = self.v(fraction);
            let inv = self.v(invested);
            self.out.invested[e] += inv;
            self.cum_invested[e] += inv;
        }
        self.out.min_cash = self.cash[m.company];
        let (n, dt) = (m.periods, m.dt);
        for (k, r) in m.revenues.iter().enumerate() {
            let initial = self.v(r.initial);
            let mut growth = self.v(r.growth);
            let decay_step = (1.0 - self.v(r.decay)).powf(dt);
            let sigma = self.v(r.volatility);
            // Mean-preserving lognormal shocks: exp(vol z - drift) has mean 1.
            let (vol, drift) = (sigma * dt.sqrt(), 0.5 * sigma * sigma * dt);
            let mut shocks = stream(seed, path, r.shock_key);
            let levels = &mut self.rev_path[k * (n + 1)..(k + 1) * (n + 1)];
            levels[..=r.start.min(n)].fill(initial);
            let mut level = initial;
            for p in r.start..n {
                let shock = if sigma > 0.0 {
                    let z: f64 = rand::RngExt::sample(&mut shocks, StandardNormal);
                    (vol * z - drift).exp()
                } else {
                    1.0
                };
                // Equivalent to schedule::growth_factor, kept incremental for speed.
                level *= period_growth(growth, dt) * shock;
                growth *= decay_step;
                levels[p + 1] = level;
            }
            self.rev_level[k] = initial;
        }
        for (k, c) in m.costs.iter().enumerate() {
            if c.growth_path.is_none() {
                let (rate, step) = (self.v(c.growth), (1.0 - self.v(c.decay)).powf(dt));
                let out = &mut self.cost_growth[k * n..(k + 1) * n];
                cost_growth_path(out, c.start, rate, step, dt);
            }
        }
        for (k, c) in m.contracts.iter().enumerate() {
            let duration = self.v(c.duration);
            self.contract_total[k] = match c.size {
                ContractSize::Value(v) => self.v(v),
                ContractSize::Capacity {
                    gw,
                    price_per_gw_year,
                } => self.v(gw) * self.v(price_per_gw_year) * duration,
            };
            self.contract_before_after[k] = match &c.fractions {
                Some(_) => c.before_after,
                None => contract_fractions(
                    &c.profile,
                    c.start,
                    duration,
                    &m.scenario.horizon,
                    &mut self.contract_fracs[k],
                ),
            };
        }
        for (i, ms) in m.milestones.iter().enumerate() {
            self.reached[i] = false;
            self.hazard_acc[i] = 0.0;
            let u = draw(seed, path, ms.key);
            self.threshold[i] = match ms.timing {
                // A unit exponential: reached when the accumulated hazard passes it.
                MilestoneTiming::Hazard(_) => -(1.0 - u).ln(),
                MilestoneTiming::Year(y) => self.v(y),
            };
        }
    }

    fn milestones(&mut self, m: &Model, p: usize) {
        let h = &m.scenario.horizon;
        for &i in &m.milestone_order {
            let ms = &m.milestones[i];
            if self.reached[i] || p < ms.from {
                continue;
            }
            if let Some(c) = &ms.condition
                && !self.holds(m, c, p)
            {
                continue;
            }
            match ms.timing {
                MilestoneTiming::Hazard(rate) => {
                    self.hazard_acc[i] += self.v(rate) * m.dt;
                    if self.hazard_acc[i] >= self.threshold[i] {
                        self.reached[i] = true;
                    }
                }
                MilestoneTiming::Year(_) => {
                    let end = h.period_start(p).as_year_fraction() + m.dt;
                    if self.threshold[i] < end {
                        self.reached[i] = true;
                    }
                }
            }
        }
    }

    fn tranches<T: Trace>(&mut self, m: &Model, t: &mut T, p: usize) {
        for (k, tr) in m.tranches.iter().enumerate() {
            if self.out.tranches[k].0 != TrancheState::Pending {
                continue;
            }
            let pay = match &tr.when {
                TrancheWhen::Scheduled(at) => *at == p,
                TrancheWhen::Conditional {
                    condition,
                    from,
                    until,
                } => {
                    if p > *until {
                        self.out.tranches[k].0 = TrancheState::Lapsed(p);
                        false
                    } else {
                        p >= *from && self.holds(m, condition, p)
                    }
                }
            };
            if pay {
                let amount = self.v(tr.amount);
                let post = match tr.post_money {
                    PostMoney::Stated(v) => self.v(v),
                    PostMoney::Market => self.run_rate(m) * self.v(m.multiple),
                };
                self.pay(m, t, tr.flow, tr.investor, m.company, amount);
                self.issue_stake(tr.investor, amount, post);
                self.out.tranches[k] = (TrancheState::Released(p), amount);
            }
        }
    }

    /// Prices new shares at a post-money valuation (at least the amount) and dilutes holders.
    fn issue_stake(&mut self, investor: usize, amount: f64, post_money: f64) {
        if amount <= 0.0 {
            return;
        }
        let new = amount / post_money.max(amount);
        self.out.stake.iter_mut().for_each(|s| *s *= 1.0 - new);
        self.out.stake[investor] += new;
    }

    fn insolvency<T: Trace>(&mut self, m: &Model, t: &mut T, p: usize, seed: u64, path: u64) {
        let company = m.company;
        if self.cash[company] >= 0.0 {
            return;
        }
        if let Some(r) = &m.rescue
            && self.out.rescues < r.max
            && draw(seed, path, r.key ^ p as u64) < self.v(r.probability)
        {
            let amount = self.v(r.amount).max(-self.cash[company]);
            let post = self.run_rate(m) * self.v(m.multiple) * (1.0 - self.v(r.discount));
            self.pay(m, t, m.flows, r.from, company, amount);
            self.issue_stake(r.from, amount, post);
            self.out.rescues += 1;
            return;
        }
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
                let to = m.scenario.flows[f].to;
                self.out.margin[to] += self.out.flow_total[f] * self.v(margin);
            }
        }
        // Contracts: what the company left unpaid (default) or owes after the horizon.
        for (k, c) in m.contracts.iter().enumerate() {
            if c.from != company {
                continue;
            }
            let (before, after) = self.contract_before_after[k];
            let total = self.contract_total[k];
            let unpaid = (total * (1.0 - before) - self.out.flow_total[c.flow]).max(0.0);
            if self.out.default_period.is_some() {
                self.out.stranded[c.to] += unpaid;
            } else {
                self.out.backlog[c.to] += total * after;
            }
        }
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
