//! The scenario compiled into flat arrays of periods and indices, so the per-path loop does no
//! allocation, no hashing of names and no dynamic dispatch.

use crate::dist::Distribution;
pub use crate::flows::PaymentClass;
pub use crate::flows::equity::{TrancheC, TrancheWhen};
use crate::graph::{MoneyGraph, window_shares};
use crate::scenario::{Condition, EntityId, FlowId, FlowKind, MilestoneTiming, Scenario, Value};
use crate::schedule::{Growth, Origin, growth_path};
use crate::time::{Horizon, Month};

use super::rng::name_key;

/// An uncertain quantity with the key of its random numbers.
#[derive(Clone, Debug)]
pub struct QuantityC {
    /// Its distribution.
    pub dist: Distribution,
    /// Drawn anew each period.
    pub per_period: bool,
    /// Key of its draws (hash of its name).
    pub key: u64,
    /// Precomputed inverse CDF when the exact one is costly.
    pub table: Option<std::sync::Arc<crate::dist::QuantileTable>>,
}

impl QuantityC {
    /// The value at probability `u`.
    #[inline]
    pub fn quantile(&self, u: f64) -> f64 {
        match &self.table {
            Some(t) => t.quantile(&self.dist, u),
            None => self.dist.quantile(u),
        }
    }

    /// [`QuantityC::quantile`] of every value of `us`, in place.
    #[inline]
    pub fn quantile_lanes(&self, us: &mut [f64]) {
        match &self.table {
            Some(t) => t.quantile_lanes(&self.dist, us),
            None => self.dist.quantile_lanes(us),
        }
    }
}

/// A growth curve on the horizon: the level at each period boundary and its integral over
/// each period (see [`crate::schedule`]).
#[derive(Clone, Debug, Default)]
pub struct Curve {
    /// `periods + 1` levels relative to the start (0 before the start).
    pub levels: Vec<f64>,
    /// `periods` integrals of the level, in years.
    pub integrals: Vec<f64>,
}

impl Curve {
    /// The curve of a growth from an origin.
    pub fn new(g: Growth, dt: f64, origin: Origin, periods: usize) -> Curve {
        let mut c = Curve {
            levels: vec![0.0; periods + 1],
            integrals: vec![0.0; periods],
        };
        growth_path(g, dt, origin, &mut c.levels, &mut c.integrals);
        c
    }

    /// The curve when growth and decay are constants (the same on every path, so built once).
    pub fn constant(
        growth: Value,
        decay: Value,
        dt: f64,
        origin: Origin,
        n: usize,
    ) -> Option<Curve> {
        match (growth, decay) {
            (Value::Const(g), Value::Const(d)) => {
                Some(Curve::new(Growth::new(g, d), dt, origin, n))
            }
            _ => None,
        }
    }
}

/// How a milestone's date is drawn, compiled.
#[derive(Clone, Copy, Debug)]
pub enum MilestoneRule {
    /// A hazard rate per year.
    Rate(Value),
    /// A chance per year, turned into the rate `-ln(1 - p)` on each path.
    Chance(Value),
    /// A fractional calendar year.
    Year(Value),
}

/// A milestone.
#[derive(Clone, Debug)]
pub struct MilestoneC {
    /// How its date is drawn.
    pub rule: MilestoneRule,
    /// First period it may happen.
    pub from: usize,
    /// Years of each period from its `from` date on (the hazard's exposure).
    pub exposure: Vec<f64>,
    /// The condition.
    pub condition: Option<Condition>,
    /// Key of its threshold draw.
    pub key: u64,
}

/// The rescue rule.
#[derive(Clone, Debug)]
pub struct RescueC {
    /// Chance that each attempt succeeds.
    pub probability: Value,
    /// Money raised by each rescue.
    pub amount: Value,
    /// Discount to the company's value (pre-money = (1 - discount) x value).
    pub discount: Value,
    /// Who pays.
    pub from: EntityId,
    /// Most rescues per path.
    pub max: u32,
    /// Key of its draws, one per attempt.
    pub key: u64,
}

/// One stream of draws of a path, named as a user knows it: an input of a sensitivity
/// analysis. A param used in several fields is one input; a quantity drawn each period, a
/// revenue's volatility shocks and the rescue attempts are one input each.
#[derive(Clone, Debug, PartialEq)]
pub struct RandomInput {
    /// The param's name, `flow.field` for an inline distribution, `milestone <id>`,
    /// `<flow>.shock` or `rescue`.
    pub name: String,
    /// Key of its draws.
    pub key: u64,
    /// What it is.
    pub kind: InputKind,
}

/// What a [`RandomInput`] is, which sets its value on a path for rank statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputKind {
    /// A quantity drawn once per path (its index): its value.
    Quantity(usize),
    /// A quantity drawn each period: the path's mean normal score of its draws.
    PerPeriod,
    /// A milestone's hazard draw: the exposure at which it is reached, `-ln(u)` (higher is
    /// later).
    Milestone,
    /// A revenue's volatility shocks: the path's mean normal score.
    Shocks,
    /// The rescue attempts' draws: the first one (lower succeeds more easily).
    Rescue,
}

impl InputKind {
    /// Its name in `sensitivity.json`.
    pub fn label(self) -> &'static str {
        match self {
            InputKind::Quantity(_) => "quantity",
            InputKind::PerPeriod => "per_period",
            InputKind::Milestone => "milestone",
            InputKind::Shocks => "shocks",
            InputKind::Rescue => "rescue",
        }
    }
}

/// Ids of what a model's indices stand for, so results can be matched across scenarios.
#[derive(Clone, Debug, Default)]
pub struct Names {
    /// Entity ids, by entity index.
    pub entities: Vec<String>,
    /// Tranche ids, by tranche index (the order of `Model::tranches`).
    pub tranches: Vec<String>,
    /// Flow ids, by flow index.
    pub flows: Vec<String>,
    /// Milestone ids, by milestone index.
    pub milestones: Vec<String>,
    /// Quantity names (a param's name, or `flow.field` for an inline distribution).
    pub quantities: Vec<String>,
}

/// The compiled scenario: plain data the engine runs, with no reference to the file it came from.
#[derive(Clone, Debug)]
pub struct Model {
    /// Ids of entities and tranches.
    pub names: Names,
    /// The period grid.
    pub horizon: crate::time::Horizon,
    /// Number of periods.
    pub periods: usize,
    /// Years in one period.
    pub dt: f64,
    /// Number of entities.
    pub entities: usize,
    /// Each entity's cash at the start.
    pub opening_cash: Vec<Value>,
    /// The receiver of each flow.
    pub flow_to: Vec<EntityId>,
    /// The company.
    pub company: EntityId,
    /// Flows declared in the scenario; index `flows` is the synthetic rescue flow.
    pub flows: usize,
    /// Uncertain quantities.
    pub quantities: Vec<QuantityC>,
    /// Quantities drawn once per path, in order.
    pub per_path: Vec<usize>,
    /// Quantities drawn each period.
    pub per_period: Vec<usize>,
    /// Correlated quantities and the Cholesky factor of their latent correlation.
    pub correlation: Option<(Vec<usize>, Vec<Vec<f64>>)>,
    /// Every flow compiled, by kind, each kind's list in the order its step runs it (equity
    /// tranches in file order: their ids are `names.tranches`).
    pub kinds: crate::flows::Compiled,
    /// Milestones in dependency order (indices into the scenario's list).
    pub milestone_order: Vec<usize>,
    /// Milestones, by index (evaluated in `milestone_order`).
    pub milestones: Vec<MilestoneC>,
    /// The rescue rule, if any.
    pub rescue: Option<RescueC>,
    /// Whether a receipt on each flow counts as money received back from the company.
    pub from_company: Vec<bool>,
    /// Whether a payment on each flow brings money from the company into the investors' hands
    /// for the first time (circularity counts each dollar once: a pass-through from one
    /// investor to another is the same dollar again).
    pub returned: Vec<bool>,
    /// The receiver's gross margin on each flow (equity: none).
    pub margin: Vec<Option<Value>>,
    /// The class of each flow's payments (the rescue flow last).
    pub class: Vec<PaymentClass>,
    /// Flows that count as the company's costs: all its payments except equity.
    pub company_costs: Vec<usize>,
    /// Whether some condition reads cumulative spend with an entity.
    pub track_spend_with: bool,
    /// Entities reported as investors.
    pub investors: Vec<EntityId>,
    /// Entities that lend to the company.
    pub lenders: Vec<EntityId>,
    /// Opening stakes: entity, fraction, invested before the horizon, and the period at whose
    /// end the fraction is held (`None`: at the start).
    pub opening: Vec<(EntityId, Value, Value, Option<usize>)>,
    /// Entities that sell to the company under contracts.
    pub sellers: Vec<EntityId>,
    /// Cycles: for each, the links of each step.
    pub cycles: crate::graph::Cycles,
    /// What each flow moves on the nominal path (the graph's amounts).
    pub nominal: super::path::Nominal,
    /// Periods of the target year and the target.
    pub target: Option<(std::ops::Range<usize>, f64)>,
    /// Company value / run-rate.
    pub multiple: Value,
    /// Share of its value equity keeps after a default.
    pub recovery: Value,
    /// Revenue flows into the company.
    pub company_revenues: Vec<FlowId>,
    /// Calendar years wholly inside the horizon, with their periods.
    pub years: Vec<(i32, std::ops::Range<usize>)>,
    /// The draws: the seed's, unless an analysis switched a quantity's stream.
    pub streams: super::rng::Streams,
}

impl Model {
    /// Every stream of draws a path uses, in a fixed order: per-path quantities, per-period
    /// quantities, hazard milestones, each kind's own streams, the rescue.
    pub fn random_inputs(&self) -> Vec<RandomInput> {
        let mut out = Vec::new();
        for (per_period, list) in [(false, &self.per_path), (true, &self.per_period)] {
            for &q in list {
                out.push(RandomInput {
                    name: self.names.quantities[q].clone(),
                    key: self.quantities[q].key,
                    kind: if per_period {
                        InputKind::PerPeriod
                    } else {
                        InputKind::Quantity(q)
                    },
                });
            }
        }
        for (i, ms) in self.milestones.iter().enumerate() {
            if matches!(ms.rule, MilestoneRule::Rate(_) | MilestoneRule::Chance(_)) {
                out.push(RandomInput {
                    name: format!("milestone {}", self.names.milestones[i]),
                    key: ms.key,
                    kind: InputKind::Milestone,
                });
            }
        }
        self.kinds.random_inputs(self, &mut out);
        if let Some(r) = &self.rescue {
            out.push(RandomInput {
                name: "rescue".into(),
                key: r.key,
                kind: InputKind::Rescue,
            });
        }
        out
    }

    /// Compiles a validated scenario.
    pub fn compile(s: &Scenario) -> Model {
        let h = &s.horizon;
        let n = h.periods;
        let flows = s.flows.len();
        let quantities: Vec<QuantityC> = s
            .quantities
            .iter()
            .map(|q| QuantityC {
                dist: q.dist,
                per_period: q.per_period,
                key: name_key(&q.name),
                table: crate::dist::QuantileTable::shared(&q.dist),
            })
            .collect();
        let per_path = (0..quantities.len())
            .filter(|&q| !quantities[q].per_period && !quantities[q].dist.is_fixed())
            .collect();
        let per_period = (0..quantities.len())
            .filter(|&q| quantities[q].per_period && !quantities[q].dist.is_fixed())
            .collect();
        let correlation = s
            .correlation
            .as_ref()
            .map(|c| (c.quantities.clone(), c.cholesky.clone()));
        let mut class: Vec<PaymentClass> = s.flows.iter().map(|f| f.kind.class()).collect();
        class.push(PaymentClass::Rescue);
        let investors = investors(s);
        let from_company = from_company(s);
        let kinds = crate::flows::Compiled::new(s);
        let mut model = Model {
            names: Names {
                entities: s.entities.iter().map(|e| e.id.clone()).collect(),
                tranches: s.tranches().map(|(_, t)| t.id.clone()).collect(),
                flows: s.flows.iter().map(|f| f.id.clone()).collect(),
                milestones: s.milestones.iter().map(|m| m.id.clone()).collect(),
                quantities: s.quantities.iter().map(|q| q.name.clone()).collect(),
            },
            horizon: *h,
            periods: n,
            dt: h.step.years(),
            entities: s.entities.len(),
            opening_cash: s.entities.iter().map(|e| e.cash).collect(),
            flow_to: s.flows.iter().map(|f| f.to).collect(),
            company: s.company,
            flows,
            quantities,
            per_path,
            per_period,
            correlation,
            milestone_order: s.milestone_order(),
            milestones: s.milestones.iter().map(|m| MilestoneC::new(m, h)).collect(),
            rescue: s.rescue.map(|r| RescueC {
                probability: r.probability,
                amount: r.amount,
                discount: r.discount,
                from: r.from,
                max: r.max,
                key: name_key("rescue"),
            }),
            returned: returned(s, &from_company, &investors),
            from_company,
            margin: s
                .flows
                .iter()
                .map(|f| f.kind.margin())
                .chain([None])
                .collect(),
            track_spend_with: uses_spend_with(s),
            company_costs: (0..flows)
                .filter(|&f| !class[f].is_investment() && s.flows[f].from == s.company)
                .collect(),
            class,
            investors,
            lenders: (0..s.entities.len())
                .filter(|&e| {
                    s.flows
                        .iter()
                        .any(|f| f.from == e && matches!(f.kind, FlowKind::Loan(_)))
                })
                .collect(),
            opening: s
                .entities
                .iter()
                .enumerate()
                .filter_map(|(e, ent)| {
                    ent.stake.as_ref().map(|st| {
                        let at = st.as_of.map(|m| h.period_clamped(m).min(n - 1));
                        (e, st.fraction, st.invested, at)
                    })
                })
                .collect(),
            sellers: sellers(s),
            cycles: Default::default(),
            nominal: Default::default(),
            target: s.target.map(|t| (h.periods_in_year(t.year), t.revenue)),
            multiple: s.valuation.multiple,
            recovery: s.valuation.recovery,
            company_revenues: (0..flows)
                .filter(|&f| {
                    matches!(s.flows[f].kind, FlowKind::Revenue(_)) && s.flows[f].to == s.company
                })
                .collect(),
            years: (h.start.year()..=h.end_exclusive().year())
                .filter(|&y| {
                    Month::new(y, 1) >= h.start && Month::new(y + 1, 1) <= h.end_exclusive()
                })
                .map(|y| (y, h.periods_in_year(y)))
                .collect(),
            kinds,
            streams: Default::default(),
        };
        // The cycles of the graph, ordered by the money the nominal path moves round them.
        model.nominal = super::path::nominal(&model);
        let graph = MoneyGraph::with_nominal(s, &model.nominal);
        model.cycles = graph.cycles(s);
        model
    }
}

impl MilestoneC {
    fn new(m: &crate::scenario::Milestone, h: &Horizon) -> MilestoneC {
        MilestoneC {
            rule: match m.timing {
                MilestoneTiming::Hazard(v) => MilestoneRule::Rate(v),
                MilestoneTiming::ChancePerYear(v) => MilestoneRule::Chance(v),
                MilestoneTiming::Year(v) => MilestoneRule::Year(v),
            },
            from: h.period_clamped(m.from),
            exposure: window_shares(h, Some(m.from), None)
                .iter()
                .map(|w| w * h.step.years())
                .collect(),
            condition: m.condition.clone(),
            key: name_key(&format!("milestone.{}", m.id)),
        }
    }
}

/// Entities reported as investors: those that put money into the company (equity, a loan, an
/// opening stake, or rescues when they are not the outside world).
fn investors(s: &Scenario) -> Vec<EntityId> {
    (0..s.entities.len())
        .filter(|&e| {
            let invests = s.flows.iter().any(|f| {
                f.from == e
                    && match f.kind.class() {
                        PaymentClass::Equity => true,
                        PaymentClass::DebtDrawdown => !s.entities[e].external,
                        _ => false,
                    }
            });
            let opening = s.entities[e].stake.is_some();
            let rescuer = s.rescue.is_some_and(|r| r.from == e) && !s.entities[e].external;
            invests || opening || rescuer
        })
        .collect()
}

/// Whether a receipt on each flow (the rescue flow last) is money from the company: paid by
/// it, or passed on from a flow it paid.
fn from_company(s: &Scenario) -> Vec<bool> {
    let mut out: Vec<bool> = s.flows.iter().map(|f| f.from == s.company).collect();
    out.push(false);
    for f in s.pass_through_order() {
        if let FlowKind::PassThrough(p) = &s.flows[f].kind {
            out[f] = out[p.of];
        }
    }
    out
}

/// A payment brings money back to the investors once: when it leaves the company for an
/// investor, or reaches an investor through someone who is not one.
fn returned(s: &Scenario, from_company: &[bool], investors: &[EntityId]) -> Vec<bool> {
    let flows = s.flows.len();
    (0..=flows)
        .map(|f| {
            f < flows && from_company[f] && investors.contains(&s.flows[f].to) && {
                let pass = matches!(s.flows[f].kind, FlowKind::PassThrough(_));
                !(pass && investors.contains(&s.flows[f].from))
            }
        })
        .collect()
}

/// Entities that sell to the company under contracts.
fn sellers(s: &Scenario) -> Vec<EntityId> {
    let mut sellers: Vec<EntityId> = s
        .flows
        .iter()
        .filter(|f| matches!(f.kind, FlowKind::Contract(_)) && f.from == s.company)
        .map(|f| f.to)
        .collect();
    sellers.sort_unstable();
    sellers.dedup();
    sellers
}

/// True when a flow's or milestone's condition reads `spend_with(..)`.
fn uses_spend_with(s: &Scenario) -> bool {
    fn walk(c: &Condition) -> bool {
        match c {
            Condition::Compare {
                metric: crate::scenario::Metric::SpendWith(_),
                ..
            } => true,
            Condition::And(a, b) | Condition::Or(a, b) => walk(a) || walk(b),
            Condition::Not(a) => walk(a),
            _ => false,
        }
    }
    s.flows
        .iter()
        .any(|f| f.kind.conditions().into_iter().any(walk))
        || s.milestones
            .iter()
            .any(|m| m.condition.as_ref().is_some_and(walk))
}
