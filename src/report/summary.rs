//! The run summary: what `summary.json` holds (its schema is documented in the README), built
//! from the statistics. The table, the CSV and the charts all read this, not the raw statistics.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::engine::{Accumulator, Model};
use crate::scenario::{KindTag, Scenario, TrancheTiming};
use crate::stats::{Counts, Proportion, Stat, StatSummary, wilson};

/// Version of the layout of `summary.json`.
pub const SCHEMA_VERSION: u32 = 1;

/// The whole summary of a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Version of cfsim that produced it.
    pub cfsim_version: String,
    /// Scenario name.
    pub scenario: String,
    /// Scenario description.
    pub description: String,
    /// Scenario file.
    pub file: String,
    /// Overrides applied to the file (`name=value`, as typed), in order.
    pub overrides: Vec<String>,
    /// Number of paths.
    pub paths: u64,
    /// Master seed.
    pub seed: u64,
    /// Unit of amounts.
    pub unit: Unit,
    /// Period grid.
    pub horizon: HorizonInfo,
    /// Entities of the graph (the outside world included).
    pub entities: Vec<EntityInfo>,
    /// Revenue target, when the scenario sets one.
    pub target: Option<TargetSummary>,
    /// Insolvency (default after any rescue).
    pub insolvency: InsolvencySummary,
    /// Equity tranches.
    pub tranches: Vec<TrancheSummary>,
    /// Investors.
    pub investors: Vec<InvestorSummary>,
    /// Money from the company that reached the investors (each dollar once) / money they
    /// invested.
    pub circularity: Option<StatSummary>,
    /// Cycles of the graph and the money that went round each: the
    /// [`MAX_CYCLES`](crate::graph::MAX_CYCLES) that carry the most nominal money.
    pub cycles: Vec<CycleSummary>,
    /// How many cycles the graph has, present only when `cycles` does not list them all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cycle_count: Option<CycleCount>,
    /// Sellers to the company: stranded and terminal backlog.
    pub sellers: Vec<SellerSummary>,
    /// Company-level figures.
    pub company: CompanySummary,
    /// Money moved on each flow over the horizon.
    pub flows: Vec<FlowSummary>,
    /// Named parameters and their provenance.
    pub params: Vec<ParamSummary>,
    /// Per calendar year: company revenue, costs and net income.
    pub years: Vec<YearSummary>,
    /// Per-period bands.
    pub periods: PeriodsSummary,
    /// Which paths each part of the summary describes.
    pub populations: Populations,
    /// A run with `--precision`: the goal, the paths it took and the precision reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<crate::precision::Precision>,
}

/// Which paths each figure describes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Populations {
    /// `target`.
    pub target: Cow<'static, str>,
    /// `periods` and `years`.
    pub accounts: Cow<'static, str>,
    /// `insolvency`, `tranches`, `company`, `sellers`, `cycles`, `flows`.
    pub outcomes: Cow<'static, str>,
    /// `investors` (but `round_trip`).
    pub investors: Cow<'static, str>,
    /// Each investor's `round_trip`.
    pub round_trip: Cow<'static, str>,
    /// `circularity`.
    pub circularity: Cow<'static, str>,
}

impl Populations {
    /// The populations of this version of cfsim.
    pub const ALL: Populations = Populations {
        target: Cow::Borrowed(
            "all paths: a company that defaulted before or during the target year misses the target",
        ),
        accounts: Cow::Borrowed(
            "paths still operating (not in default) at the end of the period or year; `operating` is their share of all paths",
        ),
        outcomes: Cow::Borrowed("all paths"),
        investors: Cow::Borrowed("all paths"),
        round_trip: Cow::Borrowed("paths on which the investor put money in"),
        circularity: Cow::Borrowed("paths on which the investors put money in"),
    };
}

/// One calendar year of the company's accounts.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct YearSummary {
    /// The year.
    pub year: i32,
    /// Share of paths still operating at the end of the year (the population of the rest).
    pub operating: f64,
    /// Revenue over the year.
    pub revenue: Option<StatSummary>,
    /// Costs (all payments but equity) over the year.
    pub costs: Option<StatSummary>,
    /// Revenue minus costs.
    pub net_income: Option<StatSummary>,
}

/// Unit of amounts.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Unit {
    /// Put before numbers.
    pub currency: String,
    /// Put after numbers.
    pub scale: String,
}

/// An entity.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EntityInfo {
    /// Id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Roles.
    pub roles: Vec<String>,
    /// Outside world (a market or the built-in `world`).
    pub external: bool,
    /// True for the company.
    pub company: bool,
}

/// The period grid.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HorizonInfo {
    /// First period label.
    pub start: String,
    /// Last period label.
    pub end: String,
    /// month, quarter or year.
    pub step: String,
    /// Number of periods.
    pub periods: usize,
    /// Years in one period (0.25 for quarters).
    pub years_per_period: f64,
}

/// The revenue target.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TargetSummary {
    /// Target year.
    pub year: i32,
    /// Revenue to reach over that year.
    pub revenue: f64,
    /// P(revenue in the year >= target).
    pub probability: f64,
    /// Its 95% Wilson interval.
    pub ci95: [f64; 2],
    /// Distribution of revenue in the target year.
    pub revenue_in_year: StatSummary,
    /// Its 1st to 99th percentiles, for the distribution chart.
    pub revenue_percentiles: Vec<f64>,
}

/// Insolvency.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InsolvencySummary {
    /// P(default by the end of the horizon).
    pub probability: f64,
    /// Its 95% interval.
    pub ci95: [f64; 2],
    /// P(default in each period).
    pub first_period: Vec<f64>,
    /// P(defaulted by the end of each period).
    pub by_period: Vec<f64>,
    /// Median period of default among paths that default.
    pub median_period: Option<String>,
    /// Number of rescues per path.
    pub rescues: StatSummary,
}

/// One tranche.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrancheSummary {
    /// Tranche id.
    pub id: String,
    /// Its equity flow.
    pub flow: String,
    /// Who pays it.
    pub investor: String,
    /// True when it waits for a condition.
    pub conditional: bool,
    /// P(released inside the horizon).
    pub release_probability: f64,
    /// Its 95% interval.
    pub ci95: [f64; 2],
    /// P(lapsed: window expired or the company defaulted).
    pub lapsed_probability: f64,
    /// P(lapsed because its window ended without its condition holding).
    pub expired_probability: f64,
    /// P(lapsed because the company defaulted while it was pending).
    pub lapsed_at_default_probability: f64,
    /// P(still pending at the horizon).
    pub pending_probability: f64,
    /// P(released in each period).
    pub release_by_period: Vec<f64>,
    /// P(its amount is 0 on the path: nothing to release).
    pub empty_probability: f64,
    /// Median release period among releases.
    pub median_release_period: Option<String>,
    /// Amount when released (null when it never was).
    pub amount: Option<StatSummary>,
    /// Provenance note.
    pub source: Option<String>,
}

/// One investor.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InvestorSummary {
    /// Entity id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Money put into the company (opening stake's price included).
    pub invested: StatSummary,
    /// Money received back from the company (contracts, revenue share, costs, pass-through).
    pub received: StatSummary,
    /// received / invested, on paths where it invested (null when it never did).
    pub round_trip: Option<StatSummary>,
    /// Gross margin earned on what was received.
    pub margin_earned: StatSummary,
    /// Stake at the horizon.
    pub stake: StatSummary,
    /// Stake x company value at the horizon.
    pub equity_value: StatSummary,
    /// equity value + margin earned (interest included) - invested + debt value.
    pub net_position: StatSummary,
    /// Its loans to the company, when it lends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub debt: Option<DebtSummary>,
    /// P(received >= invested by the horizon).
    pub payback_probability: f64,
    /// Median payback period among paths that pay back.
    pub median_payback_period: Option<String>,
}

/// What a lender's loans came to.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DebtSummary {
    /// Principal repaid, plus what its loans are worth at the horizon: the outstanding principal
    /// met from the company's value before equity, by seniority.
    pub value: StatSummary,
    /// Principal the company owed it at default and did not recover (0 on other paths).
    pub unrecovered: StatSummary,
}

/// The number of simple cycles, when they are too many to list.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CycleCount {
    /// Cycles enumerated.
    pub found: usize,
    /// False when enumeration stopped at its budget: `found` is then a lower bound.
    pub complete: bool,
}

/// A cycle.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CycleSummary {
    /// Entity ids in order.
    pub entities: Vec<String>,
    /// Flow ids of each step.
    pub flows: Vec<Vec<String>>,
    /// Money that went round (smallest step).
    pub volume: StatSummary,
}

/// A seller to the company.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SellerSummary {
    /// Entity id.
    pub id: String,
    /// Unpaid contract value when the company defaults.
    pub stranded_backlog: StatSummary,
    /// Contract value due after the horizon (paths without default).
    pub terminal_backlog: StatSummary,
}

/// Company-level figures.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CompanySummary {
    /// Entity id.
    pub id: String,
    /// Lowest cash over the horizon (negative: the unfunded gap at default).
    pub min_cash: StatSummary,
    /// Value at the horizon (revenue run-rate x multiple, recovery if defaulted).
    pub value_at_horizon: StatSummary,
}

/// A flow.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FlowSummary {
    /// Flow id.
    pub id: String,
    /// Kind.
    pub kind: String,
    /// Payer.
    pub from: String,
    /// Receiver.
    pub to: String,
    /// Money moved over the horizon.
    pub total: StatSummary,
    /// Provenance note.
    pub source: Option<String>,
}

/// A param.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ParamSummary {
    /// Name.
    pub name: String,
    /// Its value, or its distribution with the parameters it was compiled to.
    pub value: ParamValue,
    /// Provenance note.
    pub source: Option<String>,
}

/// A param's value: a number, or a distribution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    /// A known number.
    Number(f64),
    /// An uncertain one.
    Distribution(DistributionValue),
}

/// A distribution as `summary.json` gives it: its family, the parameters it was compiled to
/// (a PERT is the beta it stands for; `"A to B"` the lognormal whose 90% range it is), whether
/// it is drawn anew each period, and the same as text.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DistributionValue {
    /// `fixed`, `uniform`, `normal`, `lognormal`, `triangular`, `beta` or `bernoulli`.
    pub dist: String,
    /// The parameters that the family has, by name (`low`, `mode`, `high`, `mean`, `sd`, `mu`,
    /// `sigma`, `alpha`, `beta`, `p`, `value`).
    #[serde(flatten)]
    pub parameters: std::collections::BTreeMap<String, f64>,
    /// Drawn anew each period rather than once per path.
    pub per_period: bool,
    /// As `cfsim explain` writes it.
    pub text: String,
}

impl DistributionValue {
    fn new(d: &crate::dist::Distribution, per_period: bool) -> DistributionValue {
        use crate::dist::Distribution as D;
        let (dist, parameters): (&str, Vec<(&str, f64)>) = match *d {
            D::Fixed(v) => ("fixed", vec![("value", v)]),
            D::Uniform { low, high } => ("uniform", vec![("low", low), ("high", high)]),
            D::Normal { mean, sd } => ("normal", vec![("mean", mean), ("sd", sd)]),
            D::LogNormal { mu, sigma } => ("lognormal", vec![("mu", mu), ("sigma", sigma)]),
            D::Triangular { low, mode, high } => (
                "triangular",
                vec![("low", low), ("mode", mode), ("high", high)],
            ),
            D::Beta {
                alpha,
                beta,
                low,
                high,
            } => (
                "beta",
                vec![
                    ("alpha", alpha),
                    ("beta", beta),
                    ("low", low),
                    ("high", high),
                ],
            ),
            D::Bernoulli { p } => ("bernoulli", vec![("p", p)]),
        };
        DistributionValue {
            dist: dist.to_string(),
            parameters: parameters
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            per_period,
            text: format!("{d}{}", if per_period { " per period" } else { "" }),
        }
    }
}

/// Per-period bands.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PeriodsSummary {
    /// Period labels.
    pub labels: Vec<String>,
    /// Start of each period as a fractional calendar year (2026.25 is 2026-04).
    pub start_year: Vec<f64>,
    /// Share of paths not in default at the end of each period: the population of the bands.
    pub operating: Vec<f64>,
    /// Company cash at the end of each period.
    pub cash: Vec<Option<StatSummary>>,
    /// Company revenue in each period.
    pub revenue: Vec<Option<StatSummary>>,
    /// Company costs in each period.
    pub costs: Vec<Option<StatSummary>>,
    /// Revenue minus costs.
    pub net_income: Vec<Option<StatSummary>>,
    /// P(defaulted by the end of each period).
    pub insolvent_by: Vec<f64>,
}

fn shares(c: &Counts, n: u64) -> Vec<f64> {
    c.counts
        .iter()
        .map(|&k| k as f64 / n.max(1) as f64)
        .collect()
}

/// Label of the median outcome among the first `len` slots of a histogram.
fn median_label(c: &Counts, len: usize, label: impl Fn(usize) -> String) -> Option<String> {
    let total: u64 = c.counts[..len].iter().sum();
    if total == 0 {
        return None;
    }
    let mut seen = 0;
    for (i, &k) in c.counts[..len].iter().enumerate() {
        seen += k;
        if 2 * seen >= total {
            return Some(label(i));
        }
    }
    None
}

impl Summary {
    /// Builds the summary of a run of model `m`, compiled from scenario `s` (which gives the
    /// names, roles and sources the report shows).
    pub fn new(s: &Scenario, m: &Model, a: &Accumulator, seed: u64) -> Summary {
        let h = &s.horizon;
        let n = a.paths;
        let p = m.periods;
        let label = |i: usize| h.label(i);
        let stat = |x: &Stat| x.summary();
        let share = |k: u64| k as f64 / n.max(1) as f64;
        let defaults: u64 = a.default_period.counts[..p].iter().sum();
        let insolvency_prop = wilson(defaults, n);
        let first_period = shares(&a.default_period, n)[..p].to_vec();
        let by_period: Vec<f64> = first_period
            .iter()
            .scan(0.0, |acc, x| {
                *acc += x;
                Some(*acc)
            })
            .collect();
        let ctx = Ctx { s, m, a };
        let (tranches, investors, cycles, sellers, flows, params) = (
            ctx.tranches(),
            ctx.investors(),
            ctx.cycles(),
            ctx.sellers(),
            ctx.flows(),
            ctx.params(),
        );
        Summary {
            schema_version: SCHEMA_VERSION,
            cfsim_version: env!("CARGO_PKG_VERSION").to_string(),
            scenario: s.name.clone(),
            description: s.description.clone(),
            file: s.file.clone(),
            overrides: s.overrides.clone(),
            paths: n,
            seed,
            unit: Unit {
                currency: s.currency.clone(),
                scale: s.scale.clone(),
            },
            horizon: HorizonInfo {
                start: h.label(0),
                end: h.label(p - 1),
                step: h.step.name().to_string(),
                periods: p,
                years_per_period: h.step.years(),
            },
            entities: s
                .entities
                .iter()
                .enumerate()
                .map(|(i, e)| EntityInfo {
                    id: e.id.clone(),
                    name: e.name.clone(),
                    roles: e.roles.iter().map(|r| r.name().to_string()).collect(),
                    external: e.external,
                    company: i == s.company,
                })
                .collect(),
            target: s.target.map(|t| {
                let prop = wilson(a.target_hits, n);
                TargetSummary {
                    year: t.year,
                    revenue: t.revenue,
                    probability: prop.probability,
                    ci95: prop.ci95,
                    revenue_in_year: all(&a.target_revenue),
                    revenue_percentiles: (1..100)
                        .map(|q| a.target_revenue.sketch.quantile(q as f64 / 100.0))
                        .collect(),
                }
            }),
            insolvency: InsolvencySummary {
                probability: insolvency_prop.probability,
                ci95: insolvency_prop.ci95,
                median_period: median_label(&a.default_period, p, label),
                first_period,
                by_period: by_period.clone(),
                rescues: all(&a.rescues),
            },
            tranches,
            investors,
            circularity: stat(&a.circularity),
            cycles,
            cycle_count: (!m.cycles.complete || m.cycles.found > m.cycles.list.len()).then_some(
                CycleCount {
                    found: m.cycles.found,
                    complete: m.cycles.complete,
                },
            ),
            sellers,
            company: CompanySummary {
                id: s.entities[s.company].id.clone(),
                min_cash: all(&a.min_cash),
                value_at_horizon: all(&a.company_value),
            },
            flows,
            params,
            years: m
                .years
                .iter()
                .enumerate()
                .map(|(y, (year, _))| YearSummary {
                    year: *year,
                    operating: share(a.annual_revenue[y].moments().n),
                    revenue: stat(&a.annual_revenue[y]),
                    costs: stat(&a.annual_costs[y]),
                    net_income: stat(&a.annual_net_income[y]),
                })
                .collect(),
            periods: PeriodsSummary {
                labels: (0..p).map(label).collect(),
                start_year: (0..p)
                    .map(|i| h.period_start(i).as_year_fraction())
                    .collect(),
                operating: a.cash.iter().map(|c| share(c.moments().n)).collect(),
                cash: a.cash.iter().map(stat).collect(),
                revenue: a.revenue.iter().map(stat).collect(),
                costs: a.costs.iter().map(stat).collect(),
                net_income: a.net_income.iter().map(stat).collect(),
                insolvent_by: by_period,
            },
            populations: Populations::ALL,
            precision: None,
        }
    }

    /// Money in the scenario's unit.
    pub fn money(&self, x: f64) -> String {
        crate::format::money(x, &self.unit.currency, &self.unit.scale)
    }

    /// The unit of an amount, with what it covers: `$B per quarter`, `$B at the horizon's end`.
    /// The CSV files' `unit` columns are written with it.
    pub fn money_unit(&self, basis: &str) -> String {
        format!("{}{} {basis}", self.unit.currency, self.unit.scale)
    }

    /// The unit of a key metric, as `comparison.csv` and `sweep.csv` state it.
    pub fn unit_of(&self, measure: Measure) -> String {
        match measure {
            Measure::Share => "share of paths".into(),
            Measure::Ratio => "ratio (received / invested)".into(),
            Measure::Total => self.money_unit("in total over the horizon"),
            Measure::AtEnd => self.money_unit("at the horizon's end"),
            Measure::Largest => self.money_unit("at its largest over the horizon"),
            Measure::TargetYear => match &self.target {
                Some(t) => self.money_unit(&format!("over the year {}", t.year)),
                None => self.money_unit("over the target year"),
            },
        }
    }
}

/// What a key metric measures, which its unit states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measure {
    /// A share of paths (a probability).
    Share,
    /// Money received back over money invested.
    Ratio,
    /// Money summed over the horizon (invested, received).
    Total,
    /// Money at the horizon's end (a net position).
    AtEnd,
    /// The largest amount over the horizon (the peak cash need).
    Largest,
    /// Money over the target year (its revenue).
    TargetYear,
}

/// What the summary's sections are built from: the scenario, its model and the run's statistics.
struct Ctx<'a> {
    s: &'a Scenario,
    m: &'a Model,
    a: &'a Accumulator,
}

impl Ctx<'_> {
    fn n(&self) -> u64 {
        self.a.paths
    }
    fn share(&self, k: u64) -> f64 {
        k as f64 / self.n().max(1) as f64
    }
    fn label(&self, i: usize) -> String {
        self.s.horizon.label(i)
    }

    fn tranches(&self) -> Vec<TrancheSummary> {
        let (s, m, a, n, p) = (self.s, self.m, self.a, self.n(), self.m.periods);
        let (stat, share, label) = (|x: &Stat| x.summary(), |k| self.share(k), |i| self.label(i));
        let tranche_info: Vec<_> = s.tranches().collect();
        m.kinds
            .equity
            .iter()
            .enumerate()
            .map(|(k, t)| {
                let (_, tr) = tranche_info[k];
                let c = &a.tranche_outcome[k];
                let released: u64 = c.counts[..p].iter().sum();
                let prop: Proportion = wilson(released, n);
                TrancheSummary {
                    id: tr.id.clone(),
                    flow: s.flows[t.flow].id.clone(),
                    investor: s.entities[t.investor].id.clone(),
                    conditional: matches!(tr.timing, TrancheTiming::Conditional { .. }),
                    release_probability: prop.probability,
                    ci95: prop.ci95,
                    lapsed_probability: share(c.counts[p] + c.counts[p + 1]),
                    expired_probability: share(c.counts[p]),
                    lapsed_at_default_probability: share(c.counts[p + 1]),
                    pending_probability: share(c.counts[p + 2]),
                    empty_probability: share(c.counts[p + 3]),
                    release_by_period: shares(c, n)[..p].to_vec(),
                    median_release_period: median_label(c, p, label),
                    amount: stat(&a.tranche_amount[k]),
                    source: tr.source.clone(),
                }
            })
            .collect()
    }

    fn investors(&self) -> Vec<InvestorSummary> {
        let (s, m, a, n, p) = (self.s, self.m, self.a, self.n(), self.m.periods);
        let (stat, label) = (|x: &Stat| x.summary(), |i| self.label(i));
        m.investors
            .iter()
            .enumerate()
            .map(|(i, &e)| {
                let st = &a.investors[i];
                let paid: u64 = st.payback.counts[..p].iter().sum();
                InvestorSummary {
                    id: s.entities[e].id.clone(),
                    name: s.entities[e].name.clone(),
                    invested: all(&st.invested),
                    received: all(&st.received),
                    round_trip: stat(&st.round_trip),
                    margin_earned: all(&st.margin),
                    stake: all(&st.stake),
                    equity_value: all(&st.equity_value),
                    net_position: all(&st.net_position),
                    debt: m.lenders.contains(&e).then(|| DebtSummary {
                        value: all(&st.debt_value),
                        unrecovered: all(&st.unrecovered),
                    }),
                    payback_probability: paid as f64 / n.max(1) as f64,
                    median_payback_period: median_label(&st.payback, p, label),
                }
            })
            .collect()
    }

    fn cycles(&self) -> Vec<CycleSummary> {
        let (s, m, a) = (self.s, self.m, self.a);
        m.cycles
            .list
            .iter()
            .enumerate()
            .map(|(c, cyc)| CycleSummary {
                entities: cyc
                    .entities
                    .iter()
                    .map(|&e| s.entities[e].id.clone())
                    .collect(),
                flows: cyc
                    .steps
                    .iter()
                    .map(|links| links.iter().map(|l| l.name(s)).collect())
                    .collect(),
                volume: all(&a.cycles[c]),
            })
            .collect()
    }

    fn sellers(&self) -> Vec<SellerSummary> {
        let (s, m, a) = (self.s, self.m, self.a);
        m.sellers
            .iter()
            .enumerate()
            .map(|(i, &e)| SellerSummary {
                id: s.entities[e].id.clone(),
                stranded_backlog: all(&a.stranded[i]),
                terminal_backlog: all(&a.backlog[i]),
            })
            .collect()
    }

    fn flows(&self) -> Vec<FlowSummary> {
        let (s, m, a) = (self.s, self.m, self.a);
        let mut flows: Vec<FlowSummary> = s
            .flows
            .iter()
            .enumerate()
            .map(|(i, f)| FlowSummary {
                id: f.id.clone(),
                kind: f.kind.name().to_string(),
                from: s.entities[f.from].id.clone(),
                to: s.entities[f.to].id.clone(),
                total: all(&a.flow_total[i]),
                source: f.source.clone(),
            })
            .collect();
        if let Some(r) = &s.rescue {
            flows.push(FlowSummary {
                id: "rescue".to_string(),
                kind: KindTag::Equity.name().to_string(),
                from: s.entities[r.from].id.clone(),
                to: s.entities[s.company].id.clone(),
                total: all(&a.flow_total[m.flows]),
                source: None,
            });
        }
        flows
    }

    fn params(&self) -> Vec<ParamSummary> {
        let s = self.s;
        s.params
            .iter()
            .map(|prm| ParamSummary {
                name: prm.name.clone(),
                value: match prm.value {
                    crate::scenario::Value::Const(c) => ParamValue::Number(c),
                    crate::scenario::Value::Random(q) => {
                        let q = &s.quantities[q];
                        ParamValue::Distribution(DistributionValue::new(&q.dist, q.per_period))
                    }
                },
                source: prm.source.clone(),
            })
            .collect()
    }
}

/// A statistic over every path (there is at least one).
fn all(x: &Stat) -> StatSummary {
    x.summary().unwrap_or_default()
}
