//! What each chart plots, prepared from the [`Summary`] alone, so the numbers drawn can be
//! tested against `summary.json` without looking at pixels.

use crate::report::Summary;
use crate::stats::StatSummary;

/// Bands of a series over time.
#[derive(Clone, Debug, PartialEq)]
pub struct Bands {
    /// Middle of each period, as a fractional calendar year.
    pub x: Vec<f64>,
    /// 5th, 25th, 50th, 75th and 95th percentiles per period.
    pub p5: Vec<f64>,
    /// 25th percentile per period.
    pub p25: Vec<f64>,
    /// Median per period.
    pub p50: Vec<f64>,
    /// 75th percentile per period.
    pub p75: Vec<f64>,
    /// 95th percentile per period.
    pub p95: Vec<f64>,
}

impl Bands {
    /// The bands of the periods that have paths (a period where every path had defaulted has
    /// none).
    fn new(s: &Summary, series: &[Option<StatSummary>], scale: f64) -> Bands {
        let half = s.horizon.years_per_period / 2.0;
        let present: Vec<(f64, &StatSummary)> = s
            .periods
            .start_year
            .iter()
            .zip(series)
            .filter_map(|(y, x)| x.as_ref().map(|x| (y + half, x)))
            .collect();
        let pick = |f: fn(&StatSummary) -> f64| present.iter().map(|(_, x)| f(x) * scale).collect();
        Bands {
            x: present.iter().map(|(x, _)| *x).collect(),
            p5: pick(|x| x.p5),
            p25: pick(|x| x.p25),
            p50: pick(|x| x.p50),
            p75: pick(|x| x.p75),
            p95: pick(|x| x.p95),
        }
    }

    /// Smallest and largest value drawn.
    pub fn range(&self) -> (f64, f64) {
        let lo = self.p5.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = self.p95.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo, hi)
    }
}

/// `cash.png`: company cash with bands among the paths still operating, and P(insolvent by
/// then).
#[derive(Clone, Debug, PartialEq)]
pub struct CashChart {
    /// Cash bands (operating paths).
    pub cash: Bands,
    /// Middle of every period.
    pub x: Vec<f64>,
    /// P(defaulted by the end of each period).
    pub insolvent_by: Vec<f64>,
}

/// The revenue target as drawn.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetMark {
    /// Calendar year.
    pub year: i32,
    /// Revenue to reach.
    pub revenue: f64,
    /// P(target-year revenue >= target), over all paths.
    pub probability: f64,
    /// Its 95% interval.
    pub ci95: [f64; 2],
}

/// `revenue.png`: annualised revenue with bands among the paths still operating, their share,
/// and the target.
#[derive(Clone, Debug, PartialEq)]
pub struct RevenueChart {
    /// Revenue per period divided by the period length.
    pub revenue: Bands,
    /// Middle of every period.
    pub x: Vec<f64>,
    /// Share of paths still operating at the end of each period.
    pub operating: Vec<f64>,
    /// The target as drawn.
    pub target: Option<TargetMark>,
}

/// `target.png`: the distribution of target-year revenue.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetChart {
    /// The target as drawn.
    pub target: TargetMark,
    /// Points (revenue, P(revenue <= x)) of the CDF, from the 1st to the 99th percentile.
    pub cdf: Vec<(f64, f64)>,
    /// Histogram bars (low, high, share of all paths) of equal width from 0 to the 99th
    /// percentile; the last bar also holds every path above it. With `zero` they cover every
    /// path.
    pub bins: Vec<(f64, f64, f64)>,
    /// Share of all paths with no revenue in the target year (the company defaulted before
    /// it): its own bar at 0.
    pub zero: f64,
    /// Median.
    pub median: f64,
}

/// One row of `tranches.png`.
#[derive(Clone, Debug, PartialEq)]
pub struct TrancheRow {
    /// Entity or tranche id.
    pub id: String,
    /// Who pays it.
    pub investor: String,
    /// The investor's display name.
    pub investor_name: String,
    /// P(released inside the horizon).
    pub probability: f64,
    /// Its 95% interval.
    pub ci95: [f64; 2],
    /// P(released in each calendar year).
    pub by_year: Vec<(i32, f64)>,
    /// P(lapsed because its window ended).
    pub expired: f64,
    /// P(lapsed because the company defaulted).
    pub lapsed_at_default: f64,
    /// P(still pending at the horizon).
    pub pending: f64,
}

/// One investor of `investors.png`: (p5, p50, p95) of each measure.
#[derive(Clone, Debug, PartialEq)]
pub struct InvestorBars {
    /// Entity or tranche id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// (p5, p50, p95) of money put in.
    pub invested: (f64, f64, f64),
    /// (p5, p50, p95) of money received back.
    pub received: (f64, f64, f64),
    /// (p5, p50, p95) of the net position.
    pub net_position: (f64, f64, f64),
    /// Median round-trip ratio, when the investor put money in.
    pub round_trip: Option<f64>,
}

/// A node of `flows.png`.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowNode {
    /// Entity or tranche id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// True for the company.
    pub company: bool,
    /// True for a market or the outside world.
    pub external: bool,
    /// Roles.
    pub roles: Vec<String>,
}

/// An arrow of `flows.png`: all flows from one entity to another, added up.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowArrow {
    /// Index of the paying node.
    pub from: usize,
    /// Index of the receiving node.
    pub to: usize,
    /// Sum of the flows' median totals over the horizon.
    pub median: f64,
    /// Flow ids.
    pub flows: Vec<String>,
    /// True when the arrow is a step of a cycle.
    pub on_cycle: bool,
    /// Mean money moved over the horizon.
    pub mean: f64,
    /// True for an opening stake: money put in before the horizon, on a cycle's step.
    pub stake: bool,
}

/// `flows.png`: the money-flow network.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowsChart {
    /// Nodes drawn.
    pub nodes: Vec<FlowNode>,
    /// Arrows drawn.
    pub arrows: Vec<FlowArrow>,
    /// True when the graph has more cycles than the summary lists, so only the flows of the
    /// listed (largest) cycles are marked.
    pub cycles_truncated: bool,
}

/// The cash chart's data.
pub fn cash(s: &Summary) -> CashChart {
    let half = s.horizon.years_per_period / 2.0;
    CashChart {
        cash: Bands::new(s, &s.periods.cash, 1.0),
        x: s.periods.start_year.iter().map(|y| y + half).collect(),
        insolvent_by: s.periods.insolvent_by.clone(),
    }
}

fn target_mark(s: &Summary) -> Option<TargetMark> {
    s.target.as_ref().map(|t| TargetMark {
        year: t.year,
        revenue: t.revenue,
        probability: t.probability,
        ci95: t.ci95,
    })
}

/// The revenue chart's data.
pub fn revenue(s: &Summary) -> RevenueChart {
    let half = s.horizon.years_per_period / 2.0;
    RevenueChart {
        revenue: Bands::new(s, &s.periods.revenue, 1.0 / s.horizon.years_per_period),
        x: s.periods.start_year.iter().map(|y| y + half).collect(),
        operating: s.periods.operating.clone(),
        target: target_mark(s),
    }
}

/// The target chart's data, when the scenario has a target.
pub fn target(s: &Summary) -> Option<TargetChart> {
    let t = s.target.as_ref()?;
    let q = &t.revenue_percentiles;
    let cdf = q
        .iter()
        .enumerate()
        .map(|(i, &x)| (x, (i + 1) as f64 / 100.0))
        .collect();
    // Paths that defaulted before the year starts book no revenue in it.
    let first = s
        .periods
        .start_year
        .iter()
        .position(|&y| y >= t.year as f64)
        .unwrap_or(0);
    let zero = match first {
        0 => 0.0,
        p => s.insolvency.by_period.get(p - 1).copied().unwrap_or(0.0),
    };
    // The CDF through (0, zero) and the percentiles above 0 (`q[i]` is the (i + 1)th), linear
    // between them: the share of paths in a bar is the CDF's rise over it.
    let mut points = vec![(0.0, zero)];
    points.extend(
        q.iter()
            .enumerate()
            .filter(|(_, x)| **x > 0.0)
            .map(|(i, &x)| (x, ((i + 1) as f64 / 100.0).max(zero))),
    );
    let cdf_at = |x: f64| {
        let i = points.partition_point(|p| p.0 <= x);
        match (i.checked_sub(1).map(|j| points[j]), points.get(i)) {
            (Some(a), Some(b)) if b.0 > a.0 => a.1 + (b.1 - a.1) * (x - a.0) / (b.0 - a.0),
            (Some(a), _) => a.1,
            (None, _) => zero,
        }
    };
    const BARS: usize = 20;
    let top = q.last().copied().unwrap_or(0.0);
    let mut bins = Vec::with_capacity(BARS);
    if top > 0.0 {
        let w = top / BARS as f64;
        for k in 0..BARS {
            let (lo, hi) = (k as f64 * w, (k + 1) as f64 * w);
            let share = if k + 1 == BARS {
                1.0 - cdf_at(lo)
            } else {
                cdf_at(hi) - cdf_at(lo)
            };
            bins.push((lo, hi, share.max(0.0)));
        }
    }
    Some(TargetChart {
        target: target_mark(s)?,
        cdf,
        bins,
        zero,
        median: t.revenue_in_year.p50,
    })
}

/// The tranche chart's rows: conditional tranches, or all when none is conditional.
pub fn tranches(s: &Summary) -> Vec<TrancheRow> {
    let conditional: Vec<_> = s.tranches.iter().filter(|t| t.conditional).collect();
    let shown = if conditional.is_empty() {
        s.tranches.iter().collect()
    } else {
        conditional
    };
    shown
        .into_iter()
        .map(|t| {
            let mut by_year: Vec<(i32, f64)> = Vec::new();
            for (i, p) in t.release_by_period.iter().enumerate() {
                let year = s.periods.start_year[i].floor() as i32;
                match by_year.last_mut() {
                    Some((y, acc)) if *y == year => *acc += p,
                    _ => by_year.push((year, *p)),
                }
            }
            TrancheRow {
                id: t.id.clone(),
                investor: t.investor.clone(),
                investor_name: s
                    .entities
                    .iter()
                    .find(|e| e.id == t.investor)
                    .map_or_else(|| t.investor.clone(), |e| e.name.clone()),
                probability: t.release_probability,
                ci95: t.ci95,
                by_year,
                expired: t.expired_probability,
                lapsed_at_default: t.lapsed_at_default_probability,
                pending: t.pending_probability,
            }
        })
        .collect()
}

/// The investor chart's bars.
pub fn investors(s: &Summary) -> Vec<InvestorBars> {
    let t = |x: &StatSummary| (x.p5, x.p50, x.p95);
    s.investors
        .iter()
        .map(|i| InvestorBars {
            id: i.id.clone(),
            name: i.name.clone(),
            invested: t(&i.invested),
            received: t(&i.received),
            net_position: t(&i.net_position),
            round_trip: i.round_trip.map(|r| r.p50),
        })
        .collect()
}

/// The network chart's nodes and arrows (flows with a zero median are left out).
pub fn flows(s: &Summary) -> FlowsChart {
    let used: Vec<bool> = s
        .entities
        .iter()
        .map(|e| s.flows.iter().any(|f| f.from == e.id || f.to == e.id))
        .collect();
    let nodes: Vec<FlowNode> = s
        .entities
        .iter()
        .zip(&used)
        .filter(|(_, u)| **u)
        .map(|(e, _)| FlowNode {
            id: e.id.clone(),
            name: e.name.clone(),
            company: e.company,
            external: e.external,
            roles: e.roles.clone(),
        })
        .collect();
    let node_of = |id: &str| nodes.iter().position(|n| n.id == id);
    let mut arrows: Vec<FlowArrow> = Vec::new();
    for f in &s.flows {
        let (Some(a), Some(b)) = (node_of(&f.from), node_of(&f.to)) else {
            continue;
        };
        let on_cycle = s
            .cycles
            .iter()
            .any(|c| c.flows.iter().any(|step| step.contains(&f.id)));
        // A cycle's step is drawn even when its median is 0, so every cycle closes.
        if f.total.p50 <= 0.0 && !(on_cycle && f.total.mean > 0.0) {
            continue;
        }
        match arrows.iter_mut().find(|x| x.from == a && x.to == b) {
            Some(x) => {
                x.median += f.total.p50;
                x.mean += f.total.mean;
                x.flows.push(f.id.clone());
                x.on_cycle |= on_cycle;
            }
            None => arrows.push(FlowArrow {
                from: a,
                to: b,
                median: f.total.p50,
                flows: vec![f.id.clone()],
                on_cycle,
                mean: f.total.mean,
                stake: false,
            }),
        }
    }
    // Opening stakes on a cycle: the leg that closes it was paid before the horizon.
    let company = nodes.iter().position(|n| n.company);
    for step in s.cycles.iter().flat_map(|c| &c.flows) {
        for link in step {
            let Some(investor) = link.strip_suffix(".stake") else {
                continue;
            };
            let (Some(a), Some(b)) = (node_of(investor), company) else {
                continue;
            };
            if !arrows.iter().any(|x| x.from == a && x.to == b) {
                arrows.push(FlowArrow {
                    from: a,
                    to: b,
                    median: 0.0,
                    flows: vec![link.clone()],
                    on_cycle: true,
                    mean: 0.0,
                    stake: true,
                });
            }
        }
    }
    FlowsChart {
        nodes,
        arrows,
        cycles_truncated: s.cycle_count.is_some(),
    }
}
