//! Folding path outputs into statistics: one [`Accumulator`] per chunk of paths, merged
//! exactly, so a total does not depend on how the chunks were grouped.

use super::model::Model;
use super::path::{BatchOutput, LANES, Lapse, TrancheState, net_position, ratio};
use crate::stats::{Counts, Stat};

/// Statistics of one investor.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct InvestorStats {
    /// Money put in (an opening stake's price included).
    pub invested: Stat,
    /// Money received back from the company.
    pub received: Stat,
    /// Received / invested, on paths where it invested.
    pub round_trip: Stat,
    /// Gross margin earned on what it received.
    pub margin: Stat,
    /// Stake in the company at the horizon.
    pub stake: Stat,
    /// Stake x company value at the horizon.
    pub equity_value: Stat,
    /// Equity value + margin earned - invested + debt value.
    pub net_position: Stat,
    /// Loan principal repaid, plus what its loans are worth at the horizon.
    pub debt_value: Stat,
    /// Loan principal not recovered after a default.
    pub unrecovered: Stat,
    /// Payback period histogram; the last slot is "not by the horizon".
    pub payback: Counts,
}

/// Everything the summary needs, mergeable exactly (in any order and grouping), and stored
/// whole in a part file.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Accumulator {
    /// Paths folded in.
    pub paths: u64,
    /// Per period: company cash at its end (operating paths).
    pub cash: Vec<Stat>,
    /// Per period: company revenue (operating paths).
    pub revenue: Vec<Stat>,
    /// Per period: company costs (operating paths).
    pub costs: Vec<Stat>,
    /// Per period: revenue - costs (operating paths).
    pub net_income: Vec<Stat>,
    /// Per calendar year wholly inside the horizon: revenue, costs, net income.
    pub annual_revenue: Vec<Stat>,
    /// Per year: costs (operating paths).
    pub annual_costs: Vec<Stat>,
    /// Per year: revenue - costs (operating paths).
    pub annual_net_income: Vec<Stat>,
    /// Default period histogram; the last slot is "no default".
    pub default_period: Counts,
    /// Rescues per path.
    pub rescues: Stat,
    /// Company revenue in the target year (all paths).
    pub target_revenue: Stat,
    /// Paths that reached the target.
    pub target_hits: u64,
    /// Lowest cash without the money rescues raised.
    pub min_cash: Stat,
    /// Company value at the horizon.
    pub company_value: Stat,
    /// Per tranche: release period histogram, then "expired", "lapsed at a default", "pending
    /// at the horizon" and "amount 0: nothing to release".
    pub tranche_outcome: Vec<Counts>,
    /// Per tranche: the amount released, on paths where it was.
    pub tranche_amount: Vec<Stat>,
    /// Per investor, in `Model::investors` order.
    pub investors: Vec<InvestorStats>,
    /// Money back to the investors (each dollar once) / money they put in.
    pub circularity: Stat,
    /// Per seller: unpaid contract value at a default.
    pub stranded: Vec<Stat>,
    /// Per seller: contract value due after the horizon.
    pub backlog: Vec<Stat>,
    /// Per cycle: money that went round.
    pub cycles: Vec<Stat>,
    /// Per flow: money moved over the horizon.
    pub flow_total: Vec<Stat>,
}

impl Accumulator {
    /// Empty statistics shaped for a model.
    pub fn new(m: &Model) -> Self {
        let p = m.periods;
        let stats = |n: usize| vec![Stat::default(); n];
        Accumulator {
            paths: 0,
            cash: stats(p),
            revenue: stats(p),
            costs: stats(p),
            net_income: stats(p),
            annual_revenue: stats(m.years.len()),
            annual_costs: stats(m.years.len()),
            annual_net_income: stats(m.years.len()),
            default_period: Counts::new(p + 1),
            rescues: Stat::default(),
            target_revenue: Stat::default(),
            target_hits: 0,
            min_cash: Stat::default(),
            company_value: Stat::default(),
            tranche_outcome: (0..m.kinds.equity.len())
                .map(|_| Counts::new(p + 4))
                .collect(),
            tranche_amount: stats(m.kinds.equity.len()),
            investors: (0..m.investors.len())
                .map(|_| InvestorStats {
                    payback: Counts::new(p + 1),
                    ..Default::default()
                })
                .collect(),
            circularity: Stat::default(),
            stranded: stats(m.sellers.len()),
            backlog: stats(m.sellers.len()),
            cycles: stats(m.cycles.list.len()),
            flow_total: stats(m.flows + 1),
        }
    }

    /// Adds a batch of paths, metric by metric (a column of values each, in path order, so a
    /// metric's statistics do not depend on how paths were batched, and its store stays hot
    /// in the cache for a whole column). Per-period and per-year accounts describe the paths
    /// still operating at the end of the period (or year): a defaulted company's frozen cash
    /// and its zero revenue would otherwise drag every band towards zero.
    pub fn push_batch(&mut self, m: &Model, o: &BatchOutput) {
        let (p, lanes) = (m.periods, o.lanes);
        self.paths += lanes as u64;
        let mut operating = [0usize; LANES];
        for (i, op) in operating[..lanes].iter_mut().enumerate() {
            *op = o.default_period[i].unwrap_or(p);
        }
        let operating = &operating[..lanes];
        for period in 0..p {
            let (cash, revenue, costs) = (
                &o.cash.row(period)[..lanes],
                &o.revenue.row(period)[..lanes],
                &o.costs.row(period)[..lanes],
            );
            let live = |i: &usize| operating[*i] > period;
            for i in (0..lanes).filter(live) {
                self.cash[period].push(cash[i]);
            }
            for i in (0..lanes).filter(live) {
                self.revenue[period].push(revenue[i]);
            }
            for i in (0..lanes).filter(live) {
                self.costs[period].push(costs[i]);
            }
            for i in (0..lanes).filter(live) {
                self.net_income[period].push(revenue[i] - costs[i]);
            }
        }
        for (y, (_, periods)) in m.years.iter().enumerate() {
            for i in (0..lanes).filter(|&i| periods.end <= operating[i]) {
                let revenue: f64 = periods.clone().map(|q| o.revenue[(q, i)]).sum();
                let costs: f64 = periods.clone().map(|q| o.costs[(q, i)]).sum();
                self.annual_revenue[y].push(revenue);
                self.annual_costs[y].push(costs);
                self.annual_net_income[y].push(revenue - costs);
            }
        }
        for &d in operating {
            self.default_period.add(d);
        }
        for &r in &o.rescues[..lanes] {
            self.rescues.push(r as f64);
        }
        if let Some((_, target)) = &m.target {
            for &r in &o.target_revenue[..lanes] {
                self.target_revenue.push(r);
                if r >= *target {
                    self.target_hits += 1;
                }
            }
        }
        for &x in &o.min_cash[..lanes] {
            self.min_cash.push(x);
        }
        for &x in &o.company_value[..lanes] {
            self.company_value.push(x);
        }
        for k in 0..self.tranche_outcome.len() {
            let (states, amounts) = (
                &o.tranche_state.row(k)[..lanes],
                &o.tranche_amount.row(k)[..lanes],
            );
            for (state, &amount) in states.iter().zip(amounts) {
                let slot = match state {
                    TrancheState::Released(at) => {
                        self.tranche_amount[k].push(amount);
                        *at
                    }
                    TrancheState::Lapsed(_, Lapse::Expired) => p,
                    TrancheState::Lapsed(_, Lapse::Default) => p + 1,
                    TrancheState::Pending => p + 2,
                    TrancheState::Empty => p + 3,
                };
                self.tranche_outcome[k].add(slot);
            }
        }
        let value = &o.company_value[..lanes];
        for (s, &e) in self.investors.iter_mut().zip(&m.investors) {
            let (invested, received) = (&o.invested.row(e)[..lanes], &o.received.row(e)[..lanes]);
            let (margin, stake, credit) = (
                &o.margin.row(e)[..lanes],
                &o.stake.row(e)[..lanes],
                &o.credit.row(e)[..lanes],
            );
            for &x in invested {
                s.invested.push(x);
            }
            for &x in received {
                s.received.push(x);
            }
            for (&inv, &rec) in invested.iter().zip(received) {
                if let Some(r) = ratio(rec, inv) {
                    s.round_trip.push(r);
                }
            }
            for &x in margin {
                s.margin.push(x);
            }
            for &x in stake {
                s.stake.push(x);
            }
            for (&st, &v) in stake.iter().zip(value) {
                s.equity_value.push(st * v);
            }
            for i in 0..lanes {
                s.net_position.push(net_position(
                    stake[i],
                    value[i],
                    margin[i],
                    invested[i],
                    credit[i],
                ));
            }
            for &x in credit {
                s.debt_value.push(x);
            }
            for &x in &o.unrecovered.row(e)[..lanes] {
                s.unrecovered.push(x);
            }
            for &x in &o.payback.row(e)[..lanes] {
                s.payback.add(x.unwrap_or(p));
            }
        }
        for i in 0..lanes {
            let invested: f64 = m.investors.iter().map(|&e| o.invested[(e, i)]).sum();
            if let Some(c) = ratio(o.returned[i], invested) {
                self.circularity.push(c);
            }
        }
        for (k, &e) in m.sellers.iter().enumerate() {
            for &x in &o.stranded.row(e)[..lanes] {
                self.stranded[k].push(x);
            }
            for &x in &o.backlog.row(e)[..lanes] {
                self.backlog[k].push(x);
            }
        }
        for (c, stat) in self.cycles.iter_mut().enumerate() {
            for &x in &o.cycles.row(c)[..lanes] {
                stat.push(x);
            }
        }
        for (f, stat) in self.flow_total.iter_mut().enumerate() {
            for &x in &o.flow_total.row(f)[..lanes] {
                stat.push(x);
            }
        }
    }

    /// Empty again, keeping every store's memory: the engine reuses a chunk's statistics for
    /// a later chunk once they are folded, so stores stop growing after the first chunks.
    pub fn clear(&mut self) {
        self.paths = 0;
        self.target_hits = 0;
        for stats in [
            &mut self.cash,
            &mut self.revenue,
            &mut self.costs,
            &mut self.net_income,
            &mut self.annual_revenue,
            &mut self.annual_costs,
            &mut self.annual_net_income,
            &mut self.tranche_amount,
            &mut self.stranded,
            &mut self.backlog,
            &mut self.cycles,
            &mut self.flow_total,
        ] {
            stats.iter_mut().for_each(Stat::clear);
        }
        for s in [
            &mut self.rescues,
            &mut self.target_revenue,
            &mut self.min_cash,
            &mut self.company_value,
            &mut self.circularity,
        ] {
            s.clear();
        }
        self.default_period.clear();
        self.tranche_outcome.iter_mut().for_each(Counts::clear);
        for s in &mut self.investors {
            for stat in [
                &mut s.invested,
                &mut s.received,
                &mut s.round_trip,
                &mut s.margin,
                &mut s.stake,
                &mut s.equity_value,
                &mut s.net_position,
                &mut s.debt_value,
                &mut s.unrecovered,
            ] {
                stat.clear();
            }
            s.payback.clear();
        }
    }

    /// The lengths of every list, which must agree with [`Accumulator::new`]'s for the model
    /// before a part file's statistics are merged or summarised.
    pub fn shape(&self) -> Vec<usize> {
        let mut shape = vec![
            self.cash.len(),
            self.revenue.len(),
            self.costs.len(),
            self.net_income.len(),
            self.annual_revenue.len(),
            self.annual_costs.len(),
            self.annual_net_income.len(),
            self.default_period.counts.len(),
            self.tranche_outcome.len(),
            self.tranche_amount.len(),
            self.investors.len(),
            self.stranded.len(),
            self.backlog.len(),
            self.cycles.len(),
            self.flow_total.len(),
        ];
        shape.extend(self.tranche_outcome.iter().map(|c| c.counts.len()));
        shape.extend(self.investors.iter().map(|i| i.payback.counts.len()));
        shape
    }

    /// Merges the statistics of other paths (any order gives the same bits).
    pub fn merge(&mut self, o: &Accumulator) {
        fn stats(a: &mut [Stat], b: &[Stat]) {
            for (x, y) in a.iter_mut().zip(b) {
                merge_stat(x, y);
            }
        }
        self.paths += o.paths;
        stats(&mut self.cash, &o.cash);
        stats(&mut self.revenue, &o.revenue);
        stats(&mut self.costs, &o.costs);
        stats(&mut self.net_income, &o.net_income);
        stats(&mut self.annual_revenue, &o.annual_revenue);
        stats(&mut self.annual_costs, &o.annual_costs);
        stats(&mut self.annual_net_income, &o.annual_net_income);
        self.default_period.merge(&o.default_period);
        merge_stat(&mut self.rescues, &o.rescues);
        merge_stat(&mut self.target_revenue, &o.target_revenue);
        self.target_hits += o.target_hits;
        merge_stat(&mut self.min_cash, &o.min_cash);
        merge_stat(&mut self.company_value, &o.company_value);
        for (a, b) in self.tranche_outcome.iter_mut().zip(&o.tranche_outcome) {
            a.merge(b);
        }
        stats(&mut self.tranche_amount, &o.tranche_amount);
        for (a, b) in self.investors.iter_mut().zip(&o.investors) {
            merge_stat(&mut a.invested, &b.invested);
            merge_stat(&mut a.received, &b.received);
            merge_stat(&mut a.round_trip, &b.round_trip);
            merge_stat(&mut a.margin, &b.margin);
            merge_stat(&mut a.stake, &b.stake);
            merge_stat(&mut a.equity_value, &b.equity_value);
            merge_stat(&mut a.net_position, &b.net_position);
            merge_stat(&mut a.debt_value, &b.debt_value);
            merge_stat(&mut a.unrecovered, &b.unrecovered);
            a.payback.merge(&b.payback);
        }
        merge_stat(&mut self.circularity, &o.circularity);
        stats(&mut self.stranded, &o.stranded);
        stats(&mut self.backlog, &o.backlog);
        stats(&mut self.cycles, &o.cycles);
        stats(&mut self.flow_total, &o.flow_total);
    }
}

fn merge_stat(a: &mut Stat, b: &Stat) {
    a.merge(b);
}
