//! Folding path outputs into statistics: one [`Accumulator`] per chunk of paths, merged
//! exactly, so a total does not depend on how the chunks were grouped.

use super::model::Model;
use super::path::{
    BatchOutput, LANES, LaneIndices, Lapse, NOT_PAID_BACK, TrancheState, net_position, ratio,
};
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
        Self::push_batch_lanes(self, m, o);
    }

    /// [`Accumulator::push_batch`], compiled for the widest vector unit the CPU has, chosen
    /// when it runs (its column loops are IEEE adds, compares and selects, and the statistics'
    /// own sums run in lanes fixed by a value's place in the chunk: the same bits whatever the
    /// width).
    #[multiversion::multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2"))]
    fn push_batch_lanes(acc: &mut Accumulator, m: &Model, o: &BatchOutput) {
        acc.push_batch_inline(m, o);
    }

    #[inline(always)]
    fn push_batch_inline(&mut self, m: &Model, o: &BatchOutput) {
        let (p, lanes) = (m.periods, o.lanes);
        self.paths += lanes as u64;
        let mut operating = [0usize; LANES];
        for (i, op) in operating[..lanes].iter_mut().enumerate() {
            *op = o.default_period[i].unwrap_or(p);
        }
        let operating = &operating[..lanes];
        // The period (or year) end before which every lane still operates: columns up to it
        // are folded as they are, later ones through `live`.
        let all_live = operating.iter().copied().min().unwrap_or(p);
        let mut buf = Column::default();
        for period in 0..p {
            let (cash, revenue, costs) = (
                &o.cash.row(period)[..lanes],
                &o.revenue.row(period)[..lanes],
                &o.costs.row(period)[..lanes],
            );
            let mut net = [0.0; LANES];
            for ((n, &r), &c) in net.iter_mut().zip(revenue).zip(costs) {
                *n = r - c;
            }
            let net = &net[..lanes];
            if period < all_live {
                self.cash[period].push_column(cash);
                self.revenue[period].push_column(revenue);
                self.costs[period].push_column(costs);
                self.net_income[period].push_column(net);
            } else {
                // The live lanes found once for the four columns.
                let live = LaneIndices::which(lanes, |i| operating[i] > period);
                self.cash[period].push_column(buf.pick(cash, &live));
                self.revenue[period].push_column(buf.pick(revenue, &live));
                self.costs[period].push_column(buf.pick(costs, &live));
                self.net_income[period].push_column(buf.pick(net, &live));
            }
        }
        for (y, (_, periods)) in m.years.iter().enumerate() {
            // Sums over the year's periods lane by lane, in period order from -0.0, as
            // `Iterator::sum`.
            let (mut revenue, mut costs, mut net) = ([-0.0; LANES], [-0.0; LANES], [0.0; LANES]);
            for q in periods.clone() {
                for (s, &x) in revenue.iter_mut().zip(&o.revenue.row(q)[..lanes]) {
                    *s += x;
                }
                for (s, &x) in costs.iter_mut().zip(&o.costs.row(q)[..lanes]) {
                    *s += x;
                }
            }
            for ((n, &r), &c) in net.iter_mut().zip(&revenue).zip(&costs) {
                *n = r - c;
            }
            let live = LaneIndices::which(lanes, |i| periods.end <= operating[i]);
            self.annual_revenue[y].push_column(buf.pick(&revenue, &live));
            self.annual_costs[y].push_column(buf.pick(&costs, &live));
            self.annual_net_income[y].push_column(buf.pick(&net, &live));
        }
        for &d in operating {
            self.default_period.add(d);
        }
        let mut rescues = [0.0; LANES];
        for (x, &r) in rescues.iter_mut().zip(&o.rescues[..lanes]) {
            *x = r as f64;
        }
        self.rescues.push_column(&rescues[..lanes]);
        if let Some((_, target)) = &m.target {
            let revenue = &o.target_revenue[..lanes];
            self.target_revenue.push_column(revenue);
            self.target_hits += revenue.iter().filter(|&&r| r >= *target).count() as u64;
        }
        self.min_cash.push_column(&o.min_cash[..lanes]);
        self.company_value.push_column(&o.company_value[..lanes]);
        for k in 0..self.tranche_outcome.len() {
            let (states, amounts) = (
                &o.tranche_state.row(k)[..lanes],
                &o.tranche_amount.row(k)[..lanes],
            );
            for state in states {
                let slot = match state {
                    TrancheState::Released(at) => *at,
                    TrancheState::Lapsed(_, Lapse::Expired) => p,
                    TrancheState::Lapsed(_, Lapse::Default) => p + 1,
                    TrancheState::Pending => p + 2,
                    TrancheState::Empty => p + 3,
                };
                self.tranche_outcome[k].add(slot);
            }
            let released = |i: usize| matches!(states[i], TrancheState::Released(_));
            self.tranche_amount[k].push_column(buf.select(amounts, released));
        }
        let value = &o.company_value[..lanes];
        for (s, &e) in self.investors.iter_mut().zip(&m.investors) {
            let (invested, received) = (&o.invested.row(e)[..lanes], &o.received.row(e)[..lanes]);
            let (margin, stake, credit) = (
                &o.margin.row(e)[..lanes],
                &o.stake.row(e)[..lanes],
                &o.credit.row(e)[..lanes],
            );
            s.invested.push_column(invested);
            s.received.push_column(received);
            let mut trips = Column::default();
            for (&inv, &rec) in invested.iter().zip(received) {
                if let Some(r) = ratio(rec, inv) {
                    trips.push(r);
                }
            }
            s.round_trip.push_column(trips.values());
            s.margin.push_column(margin);
            s.stake.push_column(stake);
            let mut column = [0.0; LANES];
            for ((x, &st), &v) in column.iter_mut().zip(stake).zip(value) {
                *x = st * v;
            }
            s.equity_value.push_column(&column[..lanes]);
            for (i, x) in column[..lanes].iter_mut().enumerate() {
                *x = net_position(stake[i], value[i], margin[i], invested[i], credit[i]);
            }
            s.net_position.push_column(&column[..lanes]);
            s.debt_value.push_column(credit);
            s.unrecovered.push_column(&o.unrecovered.row(e)[..lanes]);
            for &x in &o.payback.row(e)[..lanes] {
                s.payback
                    .add(if x == NOT_PAID_BACK { p } else { x as usize });
            }
        }
        let mut invested = [-0.0; LANES];
        for &e in &m.investors {
            for (s, &x) in invested.iter_mut().zip(&o.invested.row(e)[..lanes]) {
                *s += x;
            }
        }
        let mut circularity = Column::default();
        for (&back, &put) in o.returned[..lanes].iter().zip(&invested) {
            if let Some(c) = ratio(back, put) {
                circularity.push(c);
            }
        }
        self.circularity.push_column(circularity.values());
        for (k, &e) in m.sellers.iter().enumerate() {
            self.stranded[k].push_column(&o.stranded.row(e)[..lanes]);
            self.backlog[k].push_column(&o.backlog.row(e)[..lanes]);
        }
        for (c, stat) in self.cycles.iter_mut().enumerate() {
            stat.push_column(&o.cycles.row(c)[..lanes]);
        }
        for (f, stat) in self.flow_total.iter_mut().enumerate() {
            stat.push_column(&o.flow_total.row(f)[..lanes]);
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

/// Some of a batch's values, in lane order: the lanes a statistic describes.
struct Column {
    values: [f64; LANES],
    len: usize,
}

impl Default for Column {
    fn default() -> Self {
        Column {
            values: [0.0; LANES],
            len: 0,
        }
    }
}

impl Column {
    #[inline(always)]
    fn push(&mut self, x: f64) {
        self.values[self.len] = x;
        self.len += 1;
    }

    fn values(&self) -> &[f64] {
        &self.values[..self.len]
    }

    /// The values of `row` in `lanes`, in their order.
    #[inline(always)]
    fn pick(&mut self, row: &[f64], lanes: &LaneIndices) -> &[f64] {
        let at = lanes.indices();
        for (x, &i) in self.values.iter_mut().zip(at) {
            *x = row[usize::from(i)];
        }
        self.len = at.len();
        self.values()
    }

    /// The values of `row` in the lanes where `keep` holds.
    #[inline(always)]
    fn select(&mut self, row: &[f64], keep: impl Fn(usize) -> bool) -> &[f64] {
        self.len = 0;
        for (i, &x) in row.iter().enumerate() {
            // Written always, counted when kept: no branch on `keep`.
            self.values[self.len] = x;
            self.len += usize::from(keep(i));
        }
        self.values()
    }
}
