//! Scenario files: the TOML format, its validation, and the typed model an engine compiles.
//!
//! Data flows one way: [`load`] reads the files (following `extends`, applying `--set`), and
//! the builder turns the merged tree into a [`Scenario`] whose references are indices and whose
//! numbers are [`Value`]s, or reports every problem with its span.

pub(crate) mod build;
mod check;
pub mod condition;
mod load;
pub(crate) mod node;
pub(crate) mod reader;
pub(crate) mod value;

pub use build::WORLD as WORLD_ID;
pub use check::check;
pub use condition::{Cmp, Condition, Metric};
pub use load::{Files, Override, from_toml, load, load_from};

pub use crate::flows::contract::{Contract, ContractSize, Profile};
pub use crate::flows::cost::Cost;
pub use crate::flows::equity::{Equity, PostMoney, Tranche, TrancheTiming};
pub use crate::flows::loan::{Drawdown, Loan, Repayment, Seniority};
pub use crate::flows::pass_through::PassThrough;
pub use crate::flows::revenue::Revenue;
pub use crate::flows::revenue_share::RevenueShare;
pub use crate::flows::{FlowKind, KindTag, PaymentClass};

use crate::diagnostic::Span;
use crate::dist::Distribution;
use crate::time::{Horizon, Month};

/// Index of an entity in [`Scenario::entities`].
pub type EntityId = usize;
/// Index of a flow in [`Scenario::flows`].
pub type FlowId = usize;
/// Index of a milestone in [`Scenario::milestones`].
pub type MilestoneId = usize;
/// Index of an uncertain quantity in [`Scenario::quantities`].
pub type QuantityId = usize;

/// A validated scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Display name (the `name` key, else the file stem).
    pub name: String,
    /// Free-text description.
    pub description: String,
    /// The file it was read from, as given.
    pub file: String,
    /// Currency symbol put before amounts (default `$`).
    pub currency: String,
    /// Scale letter put after amounts (default `B`).
    pub scale: String,
    /// The simulated period grid.
    pub horizon: Horizon,
    /// Named parameters, in file order.
    pub params: Vec<Param>,
    /// Every uncertain quantity: params that are distributions and inline distributions.
    pub quantities: Vec<Quantity>,
    /// Entities (graph nodes); the last one is the built-in outside world, `world`.
    pub entities: Vec<Entity>,
    /// The company the simulation is about.
    pub company: EntityId,
    /// Money flows (graph edges).
    pub flows: Vec<Flow>,
    /// Milestones.
    pub milestones: Vec<Milestone>,
    /// Correlation between per-path quantities.
    pub correlation: Option<Correlation>,
    /// The company's revenue target.
    pub target: Option<Target>,
    /// How the company and the stakes in it are valued.
    pub valuation: Valuation,
    /// Emergency-raise rule on insolvency; `None` means default.
    pub rescue: Option<Rescue>,
    /// What the file says that is valid but probably not what was meant.
    pub warnings: Vec<crate::diagnostic::Diagnostic>,
    /// The overrides applied to the file (`--set`, `--variant`, a sweep's point), in order,
    /// as `name=value`: every output records them.
    pub overrides: Vec<String>,
}

/// A number in the scenario: a constant or an uncertain quantity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    /// A known number.
    Const(f64),
    /// An uncertain quantity, drawn per path (or per period).
    Random(QuantityId),
}

/// A named parameter.
#[derive(Clone, Debug)]
pub struct Param {
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: Value,
    /// Provenance note.
    pub source: Option<String>,
    /// Where it was defined.
    pub span: Span,
}

/// An uncertain quantity: a distribution with a stable name that keys its random stream.
#[derive(Clone, Debug)]
pub struct Quantity {
    /// Name: the param name, or `flow_id.field` for an inline distribution.
    pub name: String,
    /// The distribution.
    pub dist: Distribution,
    /// Drawn anew every period instead of once per path.
    pub per_period: bool,
    /// Provenance note.
    pub source: Option<String>,
    /// Where it was defined.
    pub span: Span,
}

/// What an entity is, for styling and defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// An AI lab (the company is one).
    Lab,
    /// An investor.
    Investor,
    /// A cloud provider.
    Cloud,
    /// A chipmaker.
    Chipmaker,
    /// A customer market: outside world, a source of revenue.
    Market,
    /// Anything else.
    Other,
}

impl Role {
    /// All roles with their names as written.
    pub const ALL: [(Role, &'static str); 6] = [
        (Role::Lab, "lab"),
        (Role::Investor, "investor"),
        (Role::Cloud, "cloud"),
        (Role::Chipmaker, "chipmaker"),
        (Role::Market, "market"),
        (Role::Other, "other"),
    ];
    /// The name as written.
    pub fn name(self) -> &'static str {
        Role::ALL.iter().find(|(r, _)| *r == self).unwrap().1
    }
}

/// A graph node.
#[derive(Clone, Debug)]
pub struct Entity {
    /// Identifier used in references.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Roles.
    pub roles: Vec<Role>,
    /// Outside-world node: money enters or leaves the system only through these.
    pub external: bool,
    /// Cash at the start of the horizon.
    pub cash: Value,
    /// Stake held in the company at the start, and what was paid for it before the horizon.
    pub stake: Option<OpeningStake>,
    /// Provenance note.
    pub source: Option<String>,
    /// Where it was defined.
    pub span: Span,
}

impl Entity {
    /// True when the entity has a role.
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// A stake in the company held before the horizon starts.
#[derive(Clone, Debug)]
pub struct OpeningStake {
    /// Fraction of the company owned.
    pub fraction: Value,
    /// Paid in before the horizon (counts as invested in round-trip ratios).
    pub invested: Value,
    /// The month at whose end the holder has `fraction` (rounds before then are already in
    /// it); `None`: at the horizon's start.
    pub as_of: Option<Month>,
    /// Provenance note.
    pub source: Option<String>,
}

/// A graph edge.
#[derive(Clone, Debug)]
pub struct Flow {
    /// Identifier.
    pub id: String,
    /// Who pays.
    pub from: EntityId,
    /// Who receives.
    pub to: EntityId,
    /// What kind of flow, with its terms.
    pub kind: FlowKind,
    /// Provenance note.
    pub source: Option<String>,
    /// Where it was defined.
    pub span: Span,
}

/// A milestone (AGI declared, IPO...).
#[derive(Clone, Debug)]
pub struct Milestone {
    /// Identifier.
    pub id: String,
    /// Display name.
    pub name: String,
    /// How its date is drawn.
    pub timing: MilestoneTiming,
    /// First month it can happen.
    pub from: Month,
    /// Only possible while this holds.
    pub condition: Option<Condition>,
    /// Provenance note.
    pub source: Option<String>,
    /// Where it was defined.
    pub span: Span,
}

/// How a milestone's date is drawn.
#[derive(Clone, Copy, Debug)]
pub enum MilestoneTiming {
    /// A constant hazard rate per year (itself possibly uncertain, drawn per path): reached by
    /// `t` years with probability `1 - exp(-rate t)`.
    Hazard(Value),
    /// A constant chance per year `p` of happening: the hazard rate `-ln(1 - p)`.
    ChancePerYear(Value),
    /// A distribution over its date, as a fractional calendar year (2029.5 is mid-2029).
    Year(Value),
}

/// Correlation between per-path quantities (Gaussian copula).
#[derive(Clone, Debug)]
pub struct Correlation {
    /// Correlated quantities.
    pub quantities: Vec<QuantityId>,
    /// Correlation of the latent normals (rank correlations are converted when given).
    pub matrix: Vec<Vec<f64>>,
    /// Lower-triangular factor of `matrix` (L L' = matrix).
    pub cholesky: Vec<Vec<f64>>,
}

/// The company's revenue target.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    /// Calendar year.
    pub year: i32,
    /// Revenue over that year.
    pub revenue: f64,
}

/// Valuation of the company.
#[derive(Clone, Copy, Debug)]
pub struct Valuation {
    /// Value = annualised revenue x multiple.
    pub multiple: Value,
    /// Share of value left to equity holders if the company is insolvent.
    pub recovery: Value,
}

/// Emergency raise when the company would run out of cash.
#[derive(Clone, Copy, Debug)]
pub struct Rescue {
    /// Chance that a raise succeeds each time it is needed.
    pub probability: Value,
    /// Amount raised by each rescue (when cash would cross zero).
    pub amount: Value,
    /// Discount to the company's value at which the new stake is priced.
    pub discount: Value,
    /// Who provides it.
    pub from: EntityId,
    /// How many rescues at most.
    pub max: u32,
}

/// A scenario that could not be read: its diagnostics, with the sources they point into.
#[derive(Debug, Clone)]
pub struct ScenarioError {
    /// What is wrong, each with its place.
    pub diagnostics: crate::diagnostic::Diagnostics,
    /// The texts read, to show the places.
    pub sources: crate::diagnostic::SourceMap,
}

impl std::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.diagnostics.render(&self.sources).trim_end())
    }
}

impl std::error::Error for ScenarioError {}

impl Scenario {
    /// Reads a scenario from TOML text, as if it were the file `origin` (the name in messages,
    /// and the folder `extends` paths are relative to). Its warnings are in `warnings`.
    pub fn from_toml(
        text: &str,
        origin: impl AsRef<std::path::Path>,
    ) -> Result<Scenario, ScenarioError> {
        let mut sources = crate::diagnostic::SourceMap::new();
        from_toml(text, origin.as_ref(), &[], &mut sources).map_err(|diagnostics| ScenarioError {
            diagnostics,
            sources,
        })
    }

    /// Reads a scenario file (following `extends`).
    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<Scenario, ScenarioError> {
        let mut sources = crate::diagnostic::SourceMap::new();
        load(path.as_ref(), &[], &mut sources).map_err(|diagnostics| ScenarioError {
            diagnostics,
            sources,
        })
    }

    /// The entity with an id.
    pub fn entity_by_id(&self, id: &str) -> Option<EntityId> {
        self.entities.iter().position(|e| e.id == id)
    }
    /// The flow with an id.
    pub fn flow_by_id(&self, id: &str) -> Option<FlowId> {
        self.flows.iter().position(|f| f.id == id)
    }
    /// All tranches with the flow they belong to, conditional ones included.
    pub fn tranches(&self) -> impl Iterator<Item = (FlowId, &Tranche)> {
        self.flows
            .iter()
            .enumerate()
            .filter_map(|(i, f)| match &f.kind {
                FlowKind::Equity(e) => Some(e.tranches.iter().map(move |t| (i, t))),
                _ => None,
            })
            .flatten()
    }
    /// The pass-through flows, each after the flow it passes on (chains are validated acyclic;
    /// a scenario with a loop, which validation refuses, gets them in file order).
    pub fn pass_through_order(&self) -> Vec<FlowId> {
        let passes_on = |f: FlowId| match &self.flows[f].kind {
            FlowKind::PassThrough(p) => Some(p.of),
            _ => None,
        };
        crate::order::dependency_order(self.flows.len(), |f| passes_on(f).into_iter().collect())
            .unwrap_or_else(|_| (0..self.flows.len()).collect())
            .into_iter()
            .filter(|&f| passes_on(f).is_some())
            .collect()
    }

    /// The milestones, each after the milestones its condition reads (validated acyclic; file
    /// order for a scenario with a loop, which validation refuses).
    pub fn milestone_order(&self) -> Vec<MilestoneId> {
        crate::order::dependency_order(self.milestones.len(), |m| self.milestone_deps(m))
            .unwrap_or_else(|_| (0..self.milestones.len()).collect())
    }

    /// The milestones milestone `m`'s condition reads.
    pub fn milestone_deps(&self, m: MilestoneId) -> Vec<MilestoneId> {
        let mut deps = Vec::new();
        if let Some(c) = &self.milestones[m].condition {
            c.milestones(&mut deps);
        }
        deps
    }

    /// Number of uncertain quantities (per-path and per-period).
    pub fn uncertain_count(&self) -> usize {
        self.quantities
            .iter()
            .filter(|q| !q.dist.is_fixed())
            .count()
    }
    /// Nominal value of a number: the constant, or the mean of its distribution.
    pub fn nominal(&self, v: Value) -> f64 {
        match v {
            Value::Const(c) => c,
            Value::Random(q) => self.quantities[q].dist.mean(),
        }
    }
    /// Formats an amount in the scenario's unit: `$14.2B`.
    pub fn money(&self, x: f64) -> String {
        crate::format::money(x, &self.currency, &self.scale)
    }
}
