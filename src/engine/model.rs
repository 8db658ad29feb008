//! The scenario compiled into flat arrays of periods and indices, so the per-path loop does no
//! allocation, no hashing of names and no dynamic dispatch.

use crate::dist::Distribution;
use crate::graph::{MoneyGraph, window_share};
use crate::scenario::{
    Condition, Contract, ContractSize, Cost, EntityId, Flow, FlowId, FlowKind, MilestoneTiming,
    PostMoney, Profile, Revenue, Scenario, Tranche, TrancheTiming, Value,
};
use crate::schedule::{ContractWeights, Growth, Origin, contract_weights, growth_path};
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
    pub table: Option<crate::dist::QuantileTable>,
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
}

/// The curve when growth and decay are constants (the same on every path, so built once).
fn constant_curve(growth: Value, decay: Value, dt: f64, origin: Origin, n: usize) -> Option<Curve> {
    match (growth, decay) {
        (Value::Const(g), Value::Const(d)) => Some(Curve::new(Growth::new(g, d), dt, origin, n)),
        _ => None,
    }
}

/// A revenue process.
#[derive(Clone, Debug)]
pub struct RevenueC {
    /// The flow's index in the scenario.
    pub flow: FlowId,
    /// Who pays.
    pub from: EntityId,
    /// Who receives.
    pub to: EntityId,
    /// Annualised run-rate at the start.
    pub initial: Value,
    /// Annual growth at the start.
    pub growth: Value,
    /// Yearly decay of the growth rate.
    pub decay: Value,
    /// Annualised volatility of the run-rate.
    pub volatility: Value,
    /// Where it starts.
    pub origin: Origin,
    /// Its growth curve when growth and decay are constants.
    pub curve: Option<Curve>,
    /// Key of its volatility shocks.
    pub shock_key: u64,
}

/// Operating costs.
#[derive(Clone, Debug)]
pub struct CostC {
    /// The flow's index in the scenario.
    pub flow: FlowId,
    /// Who pays.
    pub from: EntityId,
    /// Who receives.
    pub to: EntityId,
    /// Annual fixed cost at its start.
    pub fixed: Value,
    /// Annual growth at the start.
    pub growth: Value,
    /// Yearly decay of the growth rate.
    pub decay: Value,
    /// Share of the payer's revenue added to the fixed part.
    pub share: Value,
    /// Where its fixed part starts growing.
    pub origin: Origin,
    /// Share of each period's months up to `until`.
    pub until_share: Vec<f64>,
    /// Share of each period's months from `start` to `until` (for the share of revenue).
    pub window: Vec<f64>,
    /// Revenue processes into the payer (indices into `revenues`), for the share of revenue.
    pub revenue_sources: Vec<usize>,
    /// Integral of the fixed part's growth over each period when growth and decay are constants.
    pub curve: Option<Curve>,
}

/// A contract.
#[derive(Clone, Debug)]
pub struct ContractC {
    /// The flow's index in the scenario.
    pub flow: FlowId,
    /// Who pays.
    pub from: EntityId,
    /// Who receives.
    pub to: EntityId,
    /// Total value, or capacity and price.
    pub size: ContractSize,
    /// Length in years.
    pub duration: Value,
    /// Payment profile.
    pub profile: Profile,
    /// First month of payments.
    pub start: Month,
    /// Payment weights, when the duration is fixed.
    pub weights: Option<ContractWeights>,
}

/// A revenue share.
#[derive(Clone, Debug)]
pub struct RevShareC {
    /// The flow's index in the scenario.
    pub flow: FlowId,
    /// Who pays.
    pub from: EntityId,
    /// Who receives.
    pub to: EntityId,
    /// Share of the base revenue paid.
    pub rate: Value,
    /// Revenue processes it applies to (indices into `revenues`).
    pub base: Vec<usize>,
    /// Share of each period's months inside its window.
    pub window: Vec<f64>,
}

/// A pass-through.
#[derive(Clone, Debug)]
pub struct PassC {
    /// The flow's index in the scenario.
    pub flow: FlowId,
    /// Who pays.
    pub from: EntityId,
    /// Who receives.
    pub to: EntityId,
    /// The flow whose receipts are passed on.
    pub of: FlowId,
    /// Share of the receipts passed on.
    pub share: Value,
}

/// When a tranche may be paid.
#[derive(Clone, Debug)]
pub enum TrancheWhen {
    /// In this period, arriving this far into it (the start of its month, as a fraction of the
    /// period).
    Scheduled(usize, f64),
    /// In the first period of `from..=until` at whose end the condition holds; it lapses at the
    /// end of `until` when that is inside the horizon (`until == periods`: the window runs past
    /// the horizon, and the tranche may still be pending at its end).
    Conditional {
        /// The condition.
        condition: Condition,
        /// Who pays.
        from: usize,
        /// Last period of the window.
        until: usize,
    },
}

/// An equity tranche.
#[derive(Clone, Debug)]
pub struct TrancheC {
    /// The flow's index in the scenario.
    pub flow: FlowId,
    /// Who pays it.
    pub investor: EntityId,
    /// Amount paid when released.
    pub amount: Value,
    /// When it may be paid.
    pub when: TrancheWhen,
    /// How its stake is priced.
    pub post_money: PostMoney,
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
    /// Revenue processes.
    pub revenues: Vec<RevenueC>,
    /// Operating costs.
    pub costs: Vec<CostC>,
    /// Contracts.
    pub contracts: Vec<ContractC>,
    /// Revenue shares.
    pub revshares: Vec<RevShareC>,
    /// Pass-throughs in dependency order.
    pub passes: Vec<PassC>,
    /// Equity tranches, in file order (their ids are `names.tranches`).
    pub tranches: Vec<TrancheC>,
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
    /// Opening stakes: entity, fraction, invested before the horizon, and the period at whose
    /// end the fraction is held (`None`: at the start).
    pub opening: Vec<(EntityId, Value, Value, Option<usize>)>,
    /// Entities that sell to the company under contracts.
    pub sellers: Vec<EntityId>,
    /// Cycles: for each, the links of each step.
    pub cycles: Vec<Vec<Vec<crate::graph::Link>>>,
    /// What each flow moves on the nominal path (the graph's amounts).
    pub nominal: super::path::Nominal,
    /// Periods of the target year and the target.
    pub target: Option<(std::ops::Range<usize>, f64)>,
    /// Company value / run-rate.
    pub multiple: Value,
    /// Share of its value equity keeps after a default.
    pub recovery: Value,
    /// Company revenue processes (indices into `revenues`).
    pub company_revenues: Vec<usize>,
    /// Calendar years wholly inside the horizon, with their periods.
    pub years: Vec<(i32, std::ops::Range<usize>)>,
}

/// What a payment is. What counts as invested, or as money received back, follows from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaymentClass {
    /// An equity tranche: counts as invested.
    Equity,
    /// An emergency raise: counts as invested by the rescuer.
    Rescue,
    /// A payment for goods or services (contracts, costs, a pass-through of such money).
    Purchase,
    /// A share of revenue paid to a partner.
    RevenueShare,
    /// Revenue from a market.
    Sale,
}

impl PaymentClass {
    /// The class of a flow's payments.
    pub fn of(kind: &FlowKind) -> PaymentClass {
        match kind {
            FlowKind::Equity { .. } => PaymentClass::Equity,
            FlowKind::Contract(_) | FlowKind::Cost(_) | FlowKind::PassThrough { .. } => {
                PaymentClass::Purchase
            }
            FlowKind::RevenueShare { .. } => PaymentClass::RevenueShare,
            FlowKind::Revenue(_) => PaymentClass::Sale,
        }
    }

    /// Money put into the company for a stake.
    pub fn is_investment(self) -> bool {
        matches!(self, PaymentClass::Equity | PaymentClass::Rescue)
    }
}

/// The share of each period's months between `start` and `until` (either open).
fn window_shares(h: &Horizon, start: Option<Month>, until: Option<Month>) -> Vec<f64> {
    (0..h.periods)
        .map(|p| window_share(h, p, start, until))
        .collect()
}

/// The receiver's gross margin on what a flow pays it (equity has none).
fn receiver_margin(kind: &FlowKind) -> Option<Value> {
    match kind {
        FlowKind::Revenue(_) | FlowKind::RevenueShare { .. } => Some(Value::Const(1.0)),
        FlowKind::Cost(c) => Some(c.margin),
        FlowKind::Contract(c) => Some(c.margin),
        FlowKind::PassThrough { margin, .. } => Some(*margin),
        FlowKind::Equity { .. } => None,
    }
}

impl RevenueC {
    fn new(i: FlowId, f: &Flow, r: &Revenue, h: &Horizon) -> RevenueC {
        let origin = Origin::of(h, r.start);
        RevenueC {
            flow: i,
            from: f.from,
            to: f.to,
            initial: r.initial,
            growth: r.growth,
            decay: r.decay,
            volatility: r.volatility,
            origin,
            curve: constant_curve(r.growth, r.decay, h.step.years(), origin, h.periods),
            shock_key: name_key(&format!("{}.shock", f.id)),
        }
    }
}

impl CostC {
    fn new(i: FlowId, f: &Flow, c: &Cost, h: &Horizon) -> CostC {
        let origin = Origin::of(h, c.start);
        CostC {
            flow: i,
            from: f.from,
            to: f.to,
            fixed: c.fixed,
            growth: c.growth,
            decay: c.decay,
            share: c.share_of_revenue,
            origin,
            until_share: window_shares(h, None, c.until),
            window: window_shares(h, c.start, c.until),
            revenue_sources: Vec::new(),
            curve: constant_curve(c.growth, c.decay, h.step.years(), origin, h.periods),
        }
    }
}

impl ContractC {
    fn new(i: FlowId, f: &Flow, c: &Contract, h: &Horizon) -> ContractC {
        // A fixed duration gives the same weights on every path: computed once here.
        let weights = match c.duration_years {
            Value::Const(d) => {
                let mut w = ContractWeights::default();
                contract_weights(&c.profile, c.start, d, h, &mut w);
                Some(w)
            }
            Value::Random(_) => None,
        };
        ContractC {
            flow: i,
            from: f.from,
            to: f.to,
            size: c.size,
            duration: c.duration_years,
            profile: c.profile.clone(),
            start: c.start,
            weights,
        }
    }
}

impl TrancheC {
    fn new(i: FlowId, f: &Flow, t: &Tranche, h: &Horizon) -> TrancheC {
        let when = match &t.timing {
            TrancheTiming::Scheduled(m) => {
                let at = h.period_clamped(*m).min(h.periods - 1);
                let into = (m.0 - h.period_start(at).0).max(0) as f64;
                TrancheWhen::Scheduled(at, into / h.step.months() as f64)
            }
            TrancheTiming::Conditional {
                condition,
                from,
                until,
            } => TrancheWhen::Conditional {
                condition: condition.clone(),
                from: h.period_clamped(*from),
                until: h.period_clamped(*until),
            },
        };
        TrancheC {
            flow: i,
            investor: f.from,
            amount: t.amount,
            when,
            post_money: t.post_money,
        }
    }
}

impl Model {
    /// Compiles a validated scenario.
    pub fn compile(s: &Scenario) -> Model {
        let h = &s.horizon;
        let n = h.periods;
        let dt = h.step.years();
        let flows = s.flows.len();
        let quantities: Vec<QuantityC> = s
            .quantities
            .iter()
            .map(|q| QuantityC {
                dist: q.dist,
                per_period: q.per_period,
                key: name_key(&q.name),
                table: crate::dist::QuantileTable::for_dist(&q.dist),
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

        let mut revenues = Vec::new();
        let mut costs = Vec::new();
        let mut contracts = Vec::new();
        let mut revshares = Vec::new();
        let mut passes = Vec::new();
        let mut tranches = Vec::new();
        let mut from_company = vec![false; flows + 1];
        let mut margin: Vec<Option<Value>> = vec![None; flows + 1];
        let mut class: Vec<PaymentClass> =
            s.flows.iter().map(|f| PaymentClass::of(&f.kind)).collect();
        class.push(PaymentClass::Rescue);
        for (i, f) in s.flows.iter().enumerate() {
            from_company[i] = f.from == s.company;
            margin[i] = receiver_margin(&f.kind);
            match &f.kind {
                FlowKind::Revenue(r) => revenues.push(RevenueC::new(i, f, r, h)),
                FlowKind::Cost(c) => costs.push(CostC::new(i, f, c, h)),
                FlowKind::Contract(c) => contracts.push(ContractC::new(i, f, c, h)),
                FlowKind::RevenueShare {
                    rate, start, until, ..
                } => revshares.push(RevShareC {
                    flow: i,
                    from: f.from,
                    to: f.to,
                    rate: *rate,
                    base: Vec::new(),
                    window: window_shares(h, *start, *until),
                }),
                FlowKind::PassThrough { of, share, .. } => passes.push(PassC {
                    flow: i,
                    from: f.from,
                    to: f.to,
                    of: *of,
                    share: *share,
                }),
                FlowKind::Equity { tranches: ts } => {
                    tranches.extend(ts.iter().map(|t| TrancheC::new(i, f, t, h)));
                }
            }
        }
        // Revenue-share bases: the named revenue flows, or all revenue into the payer.
        for rs in &mut revshares {
            let FlowKind::RevenueShare { of, .. } = &s.flows[rs.flow].kind else {
                unreachable!("revshares are built from revenue_share flows")
            };
            rs.base = revenues
                .iter()
                .enumerate()
                .filter(|(_, r)| {
                    if of.is_empty() {
                        r.to == rs.from
                    } else {
                        of.contains(&r.flow)
                    }
                })
                .map(|(k, _)| k)
                .collect();
        }
        // Each cost's share of revenue applies to the revenue processes into its payer.
        for c in &mut costs {
            c.revenue_sources = (0..revenues.len())
                .filter(|&k| revenues[k].to == c.from)
                .collect();
        }
        // Pass-throughs in dependency order; their receipts count as from the company when
        // the root flow is paid by it.
        let passes: Vec<PassC> = s
            .pass_through_order()
            .into_iter()
            .map(|f| {
                let p = passes
                    .iter()
                    .find(|p| p.flow == f)
                    .expect("every pass-through is listed");
                from_company[f] = from_company[p.of];
                p.clone()
            })
            .collect();

        let milestone_order = s.milestone_order();
        let milestones = s
            .milestones
            .iter()
            .map(|m| MilestoneC {
                rule: match m.timing {
                    MilestoneTiming::Hazard(v) => MilestoneRule::Rate(v),
                    MilestoneTiming::ChancePerYear(v) => MilestoneRule::Chance(v),
                    MilestoneTiming::Year(v) => MilestoneRule::Year(v),
                },
                from: h.period_clamped(m.from),
                exposure: window_shares(h, Some(m.from), None)
                    .iter()
                    .map(|w| w * dt)
                    .collect(),
                condition: m.condition.clone(),
                key: name_key(&format!("milestone.{}", m.id)),
            })
            .collect();

        let mut investors: Vec<EntityId> = Vec::new();
        for e in 0..s.entities.len() {
            let equity = s
                .flows
                .iter()
                .any(|f| f.from == e && matches!(f.kind, FlowKind::Equity { .. }));
            let opening = s.entities[e].stake.is_some();
            let rescuer = s.rescue.is_some_and(|r| r.from == e) && !s.entities[e].external;
            if equity || opening || rescuer {
                investors.push(e);
            }
        }
        // A payment brings money back to the investors once: when it leaves the company for an
        // investor, or reaches an investor through someone who is not one.
        let returned = (0..=flows)
            .map(|f| {
                f < flows && from_company[f] && investors.contains(&s.flows[f].to) && {
                    let pass = matches!(s.flows[f].kind, FlowKind::PassThrough { .. });
                    !(pass && investors.contains(&s.flows[f].from))
                }
            })
            .collect();
        let opening = s
            .entities
            .iter()
            .enumerate()
            .filter_map(|(e, ent)| {
                ent.stake.as_ref().map(|st| {
                    let at = st.as_of.map(|m| h.period_clamped(m).min(n - 1));
                    (e, st.fraction, st.invested, at)
                })
            })
            .collect();
        let mut sellers: Vec<EntityId> = contracts
            .iter()
            .filter(|c| c.from == s.company)
            .map(|c| c.to)
            .collect();
        sellers.sort_unstable();
        sellers.dedup();
        let target = s.target.map(|t| (h.periods_in_year(t.year), t.revenue));
        let company_revenues = revenues
            .iter()
            .enumerate()
            .filter(|(_, r)| r.to == s.company)
            .map(|(k, _)| k)
            .collect();
        let rescue = s.rescue.map(|r| RescueC {
            probability: r.probability,
            amount: r.amount,
            discount: r.discount,
            from: r.from,
            max: r.max,
            key: name_key("rescue"),
        });
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
            dt,
            entities: s.entities.len(),
            opening_cash: s.entities.iter().map(|e| e.cash).collect(),
            flow_to: s.flows.iter().map(|f| f.to).collect(),
            company: s.company,
            flows,
            quantities,
            per_path,
            per_period,
            correlation,
            revenues,
            costs,
            contracts,
            revshares,
            passes,
            tranches,
            milestone_order,
            milestones,
            rescue,
            from_company,
            returned,
            margin,
            track_spend_with: uses_spend_with(s),
            company_costs: (0..flows)
                .filter(|&f| !class[f].is_investment() && s.flows[f].from == s.company)
                .collect(),
            class,
            investors,
            opening,
            sellers,
            cycles: Vec::new(),
            nominal: Default::default(),
            target,
            multiple: s.valuation.multiple,
            recovery: s.valuation.recovery,
            company_revenues,
            years: (h.start.year()..=h.end_exclusive().year())
                .filter(|&y| {
                    Month::new(y, 1) >= h.start && Month::new(y + 1, 1) <= h.end_exclusive()
                })
                .map(|y| (y, h.periods_in_year(y)))
                .collect(),
        };
        // The cycles of the graph, ordered by the money the nominal path moves round them.
        model.nominal = super::path::nominal(&model);
        let graph = MoneyGraph::with_nominal(s, &model.nominal);
        model.cycles = graph.cycles(s).into_iter().map(|c| c.steps).collect();
        model
    }
}

/// True when a tranche or milestone condition reads `spend_with(..)`.
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
    s.tranches().any(|(_, t)| matches!(&t.timing, TrancheTiming::Conditional { condition, .. } if walk(condition)))
        || s.milestones.iter().any(|m| m.condition.as_ref().is_some_and(walk))
}

#[cfg(test)]
mod tests {
    use super::PaymentClass;

    #[test]
    fn only_equity_and_rescues_count_as_invested() {
        use PaymentClass::*;
        for (class, invested) in [
            (Equity, true),
            (Rescue, true),
            (Purchase, false),
            (RevenueShare, false),
            (Sale, false),
        ] {
            assert_eq!(class.is_investment(), invested, "{class:?}");
        }
    }
}
