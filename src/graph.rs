//! The money-flow graph: entities as nodes, flows as edges, nominal amounts, simple cycles,
//! and its DOT and text renderings.
//!
//! Nominal amounts are what each flow moves inside the horizon on the engine's nominal path:
//! every uncertain input at its mean, no volatility, every conditional tranche paid at the start
//! of its window, no insolvency. A map of the deal, not a forecast.

use std::collections::HashMap;
use std::fmt::Write as _;

use petgraph::graph::{DiGraph, NodeIndex};

use crate::scenario::{EntityId, FlowId, Role, Scenario};

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

/// At most this many simple cycles are enumerated (about a second of work on a dense graph).
pub const CYCLE_BUDGET: usize = 100_000;

/// At most this many steps of the cycle search (a fraction of a second).
pub const SEARCH_BUDGET: usize = 20_000_000;

/// At most this many cycles are listed and followed on every path: those that carry the most
/// nominal money.
pub const MAX_CYCLES: usize = 50;

/// The cycles of a graph that carry the most money, and how many there are.
#[derive(Clone, Debug, Default)]
pub struct Cycles {
    /// At most [`MAX_CYCLES`], largest nominal volume first.
    pub list: Vec<Cycle>,
    /// How many simple cycles were enumerated.
    pub found: usize,
    /// False when the enumeration stopped at [`CYCLE_BUDGET`]: there are more.
    pub complete: bool,
}

/// The graph of a scenario.
pub struct MoneyGraph {
    /// Nodes are entity ids, edges carry the flows.
    pub graph: DiGraph<EntityId, Edge>,
    /// Node of each entity.
    pub nodes: Vec<NodeIndex>,
}

impl MoneyGraph {
    /// Builds the graph with nominal amounts: the engine's nominal path (see
    /// [`crate::engine::nominal`]).
    pub fn new(s: &Scenario) -> Self {
        Self::with_nominal(s, &crate::engine::Model::compile(s).nominal)
    }

    /// Builds the graph with the given nominal amounts.
    pub fn with_nominal(s: &Scenario, nominal: &crate::engine::Nominal) -> Self {
        let mut graph = DiGraph::new();
        let nodes: Vec<NodeIndex> = (0..s.entities.len()).map(|e| graph.add_node(e)).collect();
        let (nominal, conditional) = (&nominal.flows, &nominal.conditional);
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

    /// The simple cycles among inside entities (markets and the outside world left out) that
    /// carry the most nominal money, largest first: at most [`MAX_CYCLES`] of them, chosen
    /// among at most [`CYCLE_BUDGET`] enumerated. A dense graph has more simple cycles than can
    /// be listed (every pair of 13 entities trading gives billions), so the count is then a
    /// lower bound.
    pub fn cycles(&self, s: &Scenario) -> Cycles {
        // One edge per ordered pair of inside entities, so parallel flows give one cycle; the
        // links of each pair, in a name order that does not depend on the file.
        let inside: Vec<EntityId> = (0..s.entities.len())
            .filter(|&e| !s.entities[e].external)
            .collect();
        let mut node = vec![usize::MAX; s.entities.len()];
        for (i, &e) in inside.iter().enumerate() {
            node[e] = i;
        }
        let mut next: Vec<Vec<usize>> = vec![Vec::new(); inside.len()];
        let mut links: HashMap<(EntityId, EntityId), Vec<&Edge>> = HashMap::new();
        for e in self.graph.edge_weights() {
            let (from, to) = e.link.ends(s);
            if node[from] != usize::MAX && node[to] != usize::MAX {
                let pair = links.entry((from, to)).or_default();
                if pair.is_empty() {
                    next[node[from]].push(node[to]);
                }
                pair.push(e);
            }
        }
        for pair in links.values_mut() {
            pair.sort_by_cached_key(|e| e.link.name(s));
        }
        let ids = |c: &Cycle| -> Vec<&str> {
            c.entities
                .iter()
                .map(|&e| s.entities[e].id.as_str())
                .collect()
        };
        // Largest first; ties in file-order-free terms (ids), so reordering a file changes
        // nothing (unless the budget runs out, when which cycles were seen depends on it).
        let largest_first = |a: &Cycle, b: &Cycle| {
            b.volume
                .total_cmp(&a.volume)
                .then_with(|| a.entities.len().cmp(&b.entities.len()))
                .then_with(|| ids(a).cmp(&ids(b)))
        };
        let mut kept: Vec<Cycle> = Vec::new();
        let mut found = 0;
        let complete = simple_cycles(&next, |c| {
            found += 1;
            let entities: Vec<EntityId> = c.iter().map(|&n| inside[n]).collect();
            let mut steps = Vec::with_capacity(entities.len());
            let mut step_amounts = Vec::with_capacity(entities.len());
            for k in 0..entities.len() {
                let pair = &links[&(entities[k], entities[(k + 1) % entities.len()])];
                step_amounts.push(pair.iter().map(|e| e.nominal).sum());
                steps.push(pair.iter().map(|e| e.link).collect());
            }
            let volume = step_amounts.iter().copied().fold(f64::INFINITY, f64::min);
            kept.push(Cycle {
                entities: rotate_to_smallest(entities, &mut steps, &mut step_amounts, s),
                steps,
                step_amounts,
                volume,
            });
            // Trim now and then, so memory stays bounded however many cycles there are.
            if kept.len() >= 4 * MAX_CYCLES {
                kept.sort_by(largest_first);
                kept.truncate(MAX_CYCLES);
            }
        });
        kept.sort_by(largest_first);
        kept.truncate(MAX_CYCLES);
        Cycles {
            list: kept,
            found,
            complete,
        }
    }

    /// The first words of the cycle listing: how many there are and how many are shown.
    pub fn describe_count(cycles: &Cycles) -> String {
        let shown = cycles.list.len();
        match (cycles.complete, shown == cycles.found) {
            (true, true) => format!("{shown}"),
            (true, false) => format!("{} found; the {shown} largest shown", cycles.found),
            (false, _) => format!(
                "at least {}: enumeration stopped at {CYCLE_BUDGET}; the {shown} largest of those shown",
                cycles.found
            ),
        }
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
        let found = self.cycles(s);
        let cycles = &found.list;
        if cycles.is_empty() {
            let _ = writeln!(
                out,
                "\nNo cycles: no money returns to an entity that paid it."
            );
        } else {
            let _ = writeln!(
                out,
                "\nCycles ({}; volume = the smallest step, the money that can go all the way round):",
                Self::describe_count(&found)
            );
            for c in cycles {
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

/// Calls `found` with every simple cycle of the graph `next` (each node's successors), each
/// once from its smallest node, shortest cycles first; stops, returning false, after
/// [`CYCLE_BUDGET`] cycles or [`SEARCH_BUDGET`] steps of search. Shortest first, so a budget
/// that runs out on a dense graph still leaves the short loops that money takes most directly;
/// Johnson's algorithm (rustworkx) gives no such order and no bound on the work.
fn simple_cycles(next: &[Vec<usize>], mut found: impl FnMut(&[usize])) -> bool {
    let n = next.len();
    let edges: std::collections::HashSet<(usize, usize)> = (0..n)
        .flat_map(|a| next[a].iter().map(move |&b| (a, b)))
        .collect();
    let mut count = 0;
    let mut steps = 0;
    let mut on_path = vec![false; n];
    // Depth-first from each start, through larger nodes only, to paths of `len` nodes that close
    // back on the start.
    for len in 1..=n {
        let mut longer_exists = false;
        for start in 0..n {
            let mut path = vec![start];
            let mut cursor = vec![0usize];
            on_path[start] = true;
            while let Some(&at) = path.last() {
                let depth = path.len() - 1;
                let i = cursor[depth];
                if path.len() == len || i == next[at].len() {
                    if path.len() == len && edges.contains(&(at, start)) {
                        if count == CYCLE_BUDGET {
                            return false;
                        }
                        count += 1;
                        found(&path);
                    }
                    if path.len() == len && !next[at].is_empty() {
                        longer_exists = true;
                    }
                    on_path[at] = false;
                    path.pop();
                    cursor.pop();
                    continue;
                }
                cursor[depth] += 1;
                let to = next[at][i];
                steps += 1;
                if steps > SEARCH_BUDGET {
                    return false;
                }
                if to > start && !on_path[to] {
                    on_path[to] = true;
                    path.push(to);
                    cursor.push(0);
                }
            }
        }
        if !longer_exists {
            break;
        }
    }
    true
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

/// The share of each period's months between `start` and `until` (either open).
pub fn window_shares(
    h: &crate::time::Horizon,
    start: Option<crate::time::Month>,
    until: Option<crate::time::Month>,
) -> Vec<f64> {
    (0..h.periods)
        .map(|p| window_share(h, p, start, until))
        .collect()
}
