//! The money-flow graph: entities as nodes, flows as edges, nominal amounts, simple cycles,
//! and its DOT and text renderings.
//!
//! Nominal amounts are what each flow moves inside the horizon with every uncertain input at its
//! mean, no volatility, and every conditional tranche paid: a map of the deal, not a forecast.

use std::fmt::Write as _;

use petgraph::graph::{DiGraph, NodeIndex};
use rustworkx_core::connectivity::johnson_simple_cycles;

use crate::scenario::{ContractSize, EntityId, FlowId, FlowKind, Role, Scenario, TrancheTiming};
use crate::schedule::{ContractWeights, Growth, Origin, contract_weights, growth_path};

/// What an edge stands for: a flow, or a stake bought before the horizon (an opening stock:
/// money that went in earlier and can come back inside the horizon).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// A flow of the scenario.
    Flow(FlowId),
    /// The opening stake of an entity in the company.
    Stake(EntityId),
}

impl Link {
    /// Payer and receiver.
    pub fn ends(self, s: &Scenario) -> (EntityId, EntityId) {
        match self {
            Link::Flow(f) => (s.flows[f].from, s.flows[f].to),
            Link::Stake(e) => (e, s.company),
        }
    }
    /// Name as shown: the flow id, or `<entity>.stake`.
    pub fn name(self, s: &Scenario) -> String {
        match self {
            Link::Flow(f) => s.flows[f].id.clone(),
            Link::Stake(e) => format!("{}.stake", s.entities[e].id),
        }
    }
    /// Kind as shown.
    pub fn kind(self, s: &Scenario) -> &'static str {
        match self {
            Link::Flow(f) => s.flows[f].kind.name(),
            Link::Stake(_) => "opening stake",
        }
    }
    /// Provenance note.
    pub fn source(self, s: &Scenario) -> Option<&str> {
        match self {
            Link::Flow(f) => s.flows[f].source.as_deref(),
            Link::Stake(e) => s.entities[e]
                .stake
                .as_ref()
                .and_then(|st| st.source.as_deref()),
        }
    }
}

/// One edge of the graph: a flow with its nominal amount.
#[derive(Clone, Debug)]
pub struct Edge {
    /// What it stands for.
    pub link: Link,
    /// Nominal money moved inside the horizon.
    pub nominal: f64,
    /// The conditional part of it (equity tranches on conditions).
    pub conditional: f64,
}

/// A simple cycle among inside entities, with the money that can go round it.
#[derive(Clone, Debug)]
pub struct Cycle {
    /// Entities in order; the last pays the first.
    pub entities: Vec<EntityId>,
    /// For each step `entities[i] -> entities[i + 1]`, the links that carry it.
    pub steps: Vec<Vec<Link>>,
    /// For each step, the nominal money it carries.
    pub step_amounts: Vec<f64>,
    /// Money that can go round: the smallest step.
    pub volume: f64,
}

/// The graph of a scenario.
pub struct MoneyGraph {
    /// Nodes are entity ids, edges carry the flows.
    pub graph: DiGraph<EntityId, Edge>,
    /// Node of each entity.
    pub nodes: Vec<NodeIndex>,
}

impl MoneyGraph {
    /// Builds the graph with nominal amounts.
    pub fn new(s: &Scenario) -> Self {
        let mut graph = DiGraph::new();
        let nodes: Vec<NodeIndex> = (0..s.entities.len()).map(|e| graph.add_node(e)).collect();
        let (nominal, conditional) = nominal_amounts(s);
        for (i, f) in s.flows.iter().enumerate() {
            graph.add_edge(
                nodes[f.from],
                nodes[f.to],
                Edge {
                    link: Link::Flow(i),
                    nominal: nominal[i],
                    conditional: conditional[i],
                },
            );
        }
        for (e, ent) in s.entities.iter().enumerate() {
            if let Some(stake) = &ent.stake {
                graph.add_edge(
                    nodes[e],
                    nodes[s.company],
                    Edge {
                        link: Link::Stake(e),
                        nominal: s.nominal(stake.invested),
                        conditional: 0.0,
                    },
                );
            }
        }
        MoneyGraph { graph, nodes }
    }

    /// Every simple cycle among inside entities (markets and the outside world left out),
    /// largest volume first.
    pub fn cycles(&self, s: &Scenario) -> Vec<Cycle> {
        // One edge per ordered pair of inside entities, so parallel flows give one cycle.
        let mut simple: DiGraph<EntityId, ()> = DiGraph::new();
        let inside: Vec<EntityId> = (0..s.entities.len())
            .filter(|&e| !s.entities[e].external)
            .collect();
        let idx: Vec<Option<NodeIndex>> = (0..s.entities.len())
            .map(|e| inside.contains(&e).then(|| simple.add_node(e)))
            .collect();
        let mut pairs = Vec::new();
        for e in self.graph.edge_weights() {
            let (from, to) = e.link.ends(s);
            if let (Some(a), Some(b)) = (idx[from], idx[to])
                && !pairs.contains(&(a, b))
            {
                pairs.push((a, b));
                simple.add_edge(a, b, ());
            }
        }
        let mut iter = johnson_simple_cycles(&simple, None);
        let mut cycles = Vec::new();
        while let Some(c) = iter.next(&simple) {
            let entities: Vec<EntityId> = c.iter().map(|n| simple[*n]).collect();
            let mut steps = Vec::new();
            let mut step_amounts = Vec::new();
            for k in 0..entities.len() {
                let (a, b) = (entities[k], entities[(k + 1) % entities.len()]);
                let mut links: Vec<&Edge> = self
                    .graph
                    .edge_weights()
                    .filter(|e| e.link.ends(s) == (a, b))
                    .collect();
                links.sort_by_key(|e| e.link.name(s));
                let amount = links.iter().map(|e| e.nominal).sum();
                let flows: Vec<Link> = links.iter().map(|e| e.link).collect();
                steps.push(flows);
                step_amounts.push(amount);
            }
            let volume = step_amounts.iter().copied().fold(f64::INFINITY, f64::min);
            cycles.push(Cycle {
                entities: rotate_to_smallest(entities, &mut steps, &mut step_amounts, s),
                steps,
                step_amounts,
                volume,
            });
        }
        // Largest first; ties in file-order-free terms (ids), so reordering a file changes
        // nothing.
        let ids = |c: &Cycle| -> Vec<&str> {
            c.entities
                .iter()
                .map(|&e| s.entities[e].id.as_str())
                .collect()
        };
        cycles.sort_by(|a, b| {
            b.volume
                .total_cmp(&a.volume)
                .then_with(|| a.entities.len().cmp(&b.entities.len()))
                .then_with(|| ids(a).cmp(&ids(b)))
        });
        cycles
    }

    /// Graphviz DOT: nodes styled by role, edges labelled with kind and nominal amount.
    pub fn to_dot(&self, s: &Scenario) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "digraph \"{}\" {{", escape(&s.name));
        let _ = writeln!(out, "  rankdir=LR;");
        let _ = writeln!(
            out,
            "  label=\"{} (nominal amounts inside the horizon)\";",
            escape(&s.name)
        );
        let _ = writeln!(out, "  node [fontname=\"DejaVu Sans\"];");
        let _ = writeln!(out, "  edge [fontname=\"DejaVu Sans\", fontsize=10];");
        for (i, e) in s.entities.iter().enumerate() {
            if e.id == crate::scenario::WORLD_ID
                && !s.flows.iter().any(|f| f.from == i || f.to == i)
            {
                continue;
            }
            let (shape, color) = node_style(s, i);
            let roles: Vec<&str> = e.roles.iter().map(|r| r.name()).collect();
            let _ = writeln!(
                out,
                "  \"{}\" [label=\"{}\\n({})\", shape={shape}, style=filled, fillcolor=\"{color}\"];",
                escape(&e.id),
                escape(&e.name),
                roles.join(", ")
            );
        }
        for e in self.graph.edge_weights() {
            let (from, to) = e.link.ends(s);
            let mut label = format!("{}\\n{}", e.link.kind(s), s.money(e.nominal));
            if e.conditional > 0.0 {
                let _ = write!(label, " ({} conditional)", s.money(e.conditional));
            }
            let style = if e.conditional > 0.0 {
                ", style=dashed"
            } else if matches!(e.link, Link::Stake(_)) {
                ", style=dotted"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "  \"{}\" -> \"{}\" [label=\"{}: {label}\"{style}];",
                escape(&s.entities[from].id),
                escape(&s.entities[to].id),
                escape(&e.link.name(s))
            );
        }
        out.push_str("}\n");
        out
    }

    /// The flows and every simple cycle with its nominal volume, as text.
    pub fn to_text(&self, s: &Scenario) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{}: {} entities, {} flows, {} to {} by {}",
            s.name,
            s.entities
                .iter()
                .filter(|e| e.id != crate::scenario::WORLD_ID)
                .count(),
            s.flows.len(),
            s.horizon.label(0),
            s.horizon.label(s.horizon.periods - 1),
            s.horizon.step.name()
        );
        let _ = writeln!(
            out,
            "\nFlows (nominal amounts inside the horizon; uncertain inputs at their means):"
        );
        let route = |e: &Edge| {
            let (from, to) = e.link.ends(s);
            format!("{} -> {}", s.entities[from].id, s.entities[to].id)
        };
        let w_id = self
            .graph
            .edge_weights()
            .map(|e| e.link.name(s).len())
            .max()
            .unwrap_or(4);
        let w_route = self
            .graph
            .edge_weights()
            .map(|e| route(e).len())
            .max()
            .unwrap_or(8);
        for e in self.graph.edge_weights() {
            let mut line = format!(
                "  {:w_id$}  {:13}  {:w_route$}  {:>9}",
                e.link.name(s),
                e.link.kind(s),
                route(e),
                s.money(e.nominal)
            );
            if e.conditional > 0.0 {
                let _ = write!(line, "  (of which {} conditional)", s.money(e.conditional));
            }
            if let Some(src) = e.link.source(s) {
                let _ = write!(line, "  [{src}]");
            }
            let _ = writeln!(out, "{}", line.trim_end());
        }
        let cycles = self.cycles(s);
        if cycles.is_empty() {
            let _ = writeln!(
                out,
                "\nNo cycles: no money returns to an entity that paid it."
            );
        } else {
            let _ = writeln!(
                out,
                "\nCycles ({}; volume = the smallest step, the money that can go all the way round):",
                cycles.len()
            );
            for c in &cycles {
                let mut names: Vec<&str> = c
                    .entities
                    .iter()
                    .map(|&e| s.entities[e].id.as_str())
                    .collect();
                names.push(&s.entities[c.entities[0]].id);
                let via: Vec<String> = c
                    .steps
                    .iter()
                    .zip(&c.step_amounts)
                    .map(|(flows, amount)| {
                        let ids: Vec<String> = flows.iter().map(|l| l.name(s)).collect();
                        format!("{} {}", ids.join("+"), s.money(*amount))
                    })
                    .collect();
                let _ = writeln!(
                    out,
                    "  {}  {}  (via {})",
                    names.join(" -> "),
                    s.money(c.volume),
                    via.join(", ")
                );
            }
        }
        out
    }
}

/// Starts a cycle at its entity with the smallest id other than the company, so cycles read
/// "investor -> company -> investor" and the listing does not depend on the file's order.
fn rotate_to_smallest(
    mut entities: Vec<EntityId>,
    steps: &mut [Vec<Link>],
    amounts: &mut [f64],
    s: &Scenario,
) -> Vec<EntityId> {
    let first = (0..entities.len())
        .filter(|&i| entities[i] != s.company)
        .min_by_key(|&i| &s.entities[entities[i]].id)
        .unwrap_or(0);
    entities.rotate_left(first);
    steps.rotate_left(first);
    amounts.rotate_left(first);
    entities
}

fn node_style(s: &Scenario, e: EntityId) -> (&'static str, &'static str) {
    let ent = &s.entities[e];
    if e == s.company {
        ("doubleoctagon", "#E69F00")
    } else if ent.external {
        ("ellipse", "#DDDDDD")
    } else if ent.has_role(Role::Cloud) || ent.has_role(Role::Chipmaker) {
        ("box", "#56B4E9")
    } else if ent.has_role(Role::Investor) {
        ("box", "#009E73")
    } else {
        ("box", "#F0E442")
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Nominal money moved by each flow inside the horizon, and the conditional part of it: the
/// engine's schedules (growth curves, contract weights, windows) with every input at its mean.
pub fn nominal_amounts(s: &Scenario) -> (Vec<f64>, Vec<f64>) {
    let h = &s.horizon;
    let n = h.periods;
    let dt = h.step.years();
    let mut per_period = vec![vec![0.0; n]; s.flows.len()];
    let mut conditional = vec![0.0; s.flows.len()];
    let curve = |growth, decay, start| {
        let g = Growth::new(s.nominal(growth), s.nominal(decay));
        let (mut levels, mut integrals) = (vec![0.0; n + 1], vec![0.0; n]);
        growth_path(g, dt, Origin::of(h, start), &mut levels, &mut integrals);
        integrals
    };
    // Revenue first: revenue shares and costs depend on it.
    let mut revenue_into = vec![vec![0.0; n]; s.entities.len()];
    for (i, f) in s.flows.iter().enumerate() {
        if let FlowKind::Revenue(r) = &f.kind {
            let initial = s.nominal(r.initial);
            for (p, integral) in curve(r.growth, r.decay, r.start).into_iter().enumerate() {
                per_period[i][p] = initial * integral;
                revenue_into[f.to][p] += initial * integral;
            }
        }
    }
    let mut weights = ContractWeights::default();
    for (i, f) in s.flows.iter().enumerate() {
        match &f.kind {
            FlowKind::Equity { tranches } => {
                for t in tranches {
                    let a = s.nominal(t.amount);
                    match t.timing {
                        TrancheTiming::Scheduled(m) => {
                            per_period[i][h.period_clamped(m).min(n - 1)] += a
                        }
                        TrancheTiming::Conditional { from, .. } => {
                            per_period[i][h.period_clamped(from).min(n - 1)] += a;
                            conditional[i] += a;
                        }
                    }
                }
            }
            FlowKind::Contract(c) => {
                contract_weights(
                    &c.profile,
                    c.start,
                    s.nominal(c.duration_years),
                    h,
                    &mut weights,
                );
                let scale = match c.size {
                    ContractSize::Value(v) if weights.total > 0.0 => s.nominal(v) / weights.total,
                    ContractSize::Value(_) => 0.0,
                    ContractSize::Capacity {
                        gw,
                        price_per_gw_year,
                    } => s.nominal(gw) * s.nominal(price_per_gw_year) / 12.0,
                };
                for (x, w) in per_period[i].iter_mut().zip(&weights.periods) {
                    *x = scale * w;
                }
            }
            FlowKind::RevenueShare {
                rate,
                of,
                start,
                until,
            } => {
                let rate = s.nominal(*rate);
                for p in 0..n {
                    let base: f64 = if of.is_empty() {
                        revenue_into[f.from][p]
                    } else {
                        of.iter().map(|&r| per_period[r][p]).sum()
                    };
                    per_period[i][p] = rate * base * window_share(h, p, *start, *until);
                }
            }
            FlowKind::Cost(c) => {
                let (fixed, share) = (s.nominal(c.fixed), s.nominal(c.share_of_revenue));
                let growth = curve(c.growth, c.decay, c.start);
                for p in 0..n {
                    per_period[i][p] = fixed * growth[p] * window_share(h, p, None, c.until)
                        + share * revenue_into[f.from][p] * window_share(h, p, c.start, c.until);
                }
            }
            FlowKind::PassThrough { .. } | FlowKind::Revenue(_) => {}
        }
    }
    // Pass-throughs in dependency order.
    for i in s.pass_through_order() {
        if let FlowKind::PassThrough { of, share, .. } = s.flows[i].kind {
            let share = s.nominal(share);
            per_period[i] = per_period[of].iter().map(|x| x * share).collect();
        }
    }
    (
        per_period.iter().map(|v| v.iter().sum()).collect(),
        conditional,
    )
}

/// The share of period `p`'s months that fall between `start` and `until` (either open).
pub fn window_share(
    h: &crate::time::Horizon,
    p: usize,
    start: Option<crate::time::Month>,
    until: Option<crate::time::Month>,
) -> f64 {
    let (first, last) = (h.period_start(p).0, h.period_end(p).0);
    let lo = start.map_or(first, |m| m.0.max(first));
    let hi = until.map_or(last, |m| m.0.min(last));
    if hi < lo {
        0.0
    } else {
        f64::from(hi - lo + 1) / f64::from(last - first + 1)
    }
}
