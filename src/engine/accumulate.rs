//! Folding path outputs into statistics: one [`Accumulator`] per chunk of paths, merged
//! exactly, so a total does not depend on how the chunks were grouped.

use super::model::Model;
use super::path::{Lapse, PathOutput, TrancheState};
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

    /// Adds one path. Per-period and per-year accounts describe the paths still operating at
    /// the end of the period (or year): a defaulted company's frozen cash and its zero revenue
    /// would otherwise drag every band towards zero.
    pub fn push(&mut self, m: &Model, o: &PathOutput) {
        let p = m.periods;
        self.paths += 1;
        let operating = o.default_period.unwrap_or(p);
        for (((((cash, revenue), costs), net_income), &c), (&r, &k)) in self
            .cash
            .iter_mut()
            .zip(&mut self.revenue)
            .zip(&mut self.costs)
            .zip(&mut self.net_income)
            .zip(&o.cash)
            .zip(o.revenue.iter().zip(&o.costs))
            .take(operating)
        {
            cash.push(c);
            revenue.push(r);
            costs.push(k);
            net_income.push(r - k);
        }
        for (y, (_, periods)) in m.years.iter().enumerate() {
            if periods.end > operating {
                break;
            }
            let revenue: f64 = o.revenue[periods.clone()].iter().sum();
            let costs: f64 = o.costs[periods.clone()].iter().sum();
            self.annual_revenue[y].push(revenue);
            self.annual_costs[y].push(costs);
            self.annual_net_income[y].push(revenue - costs);
        }
        self.default_period.add(o.default_period.unwrap_or(p));
        self.rescues.push(o.rescues as f64);
        if let Some((_, target)) = &m.target {
            self.target_revenue.push(o.target_revenue);
            if o.target_revenue >= *target {
                self.target_hits += 1;
            }
        }
        self.min_cash.push(o.min_cash);
        self.company_value.push(o.company_value);
        for (k, (state, amount)) in o.tranches.iter().enumerate() {
            match state {
                TrancheState::Released(at) => {
                    self.tranche_outcome[k].add(*at);
                    self.tranche_amount[k].push(*amount);
                }
                TrancheState::Lapsed(_, Lapse::Expired) => self.tranche_outcome[k].add(p),
                TrancheState::Lapsed(_, Lapse::Default) => self.tranche_outcome[k].add(p + 1),
                TrancheState::Pending => self.tranche_outcome[k].add(p + 2),
                TrancheState::Empty => self.tranche_outcome[k].add(p + 3),
            }
        }
        for (i, &e) in m.investors.iter().enumerate() {
            let s = &mut self.investors[i];
            s.invested.push(o.invested[e]);
            s.received.push(o.received[e]);
            if let Some(r) = o.round_trip(e) {
                s.round_trip.push(r);
            }
            s.margin.push(o.margin[e]);
            s.stake.push(o.stake[e]);
            s.equity_value.push(o.stake[e] * o.company_value);
            s.net_position.push(o.net_position(e));
            s.debt_value.push(o.credit[e]);
            s.unrecovered.push(o.unrecovered[e]);
            s.payback.add(o.payback[e].unwrap_or(p));
        }
        if let Some(c) = o.circularity(m) {
            self.circularity.push(c);
        }
        for (i, &e) in m.sellers.iter().enumerate() {
            self.stranded[i].push(o.stranded[e]);
            self.backlog[i].push(o.backlog[e]);
        }
        for (c, v) in o.cycles.iter().enumerate() {
            self.cycles[c].push(*v);
        }
        for (f, v) in o.flow_total.iter().enumerate() {
            self.flow_total[f].push(*v);
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
