//! Turns a merged scenario tree into a validated [`Scenario`], reporting every problem found.

use std::collections::HashMap;

use super::condition::{self, Condition, Resolver};
use super::node::{Node, NodeKind, Table};
use super::reader::{Bounds, Diags, Fields, array, count, date, ident, name, number, string};
use super::value::{Draw, ParamDef, Quantities, Range};
use super::*;
use crate::correlation::{self, CorrelationMethod};
use crate::diagnostic::{Diagnostic, Diagnostics, SourceMap, Span, suggestion};
use crate::time::{Horizon, Month, Step};

/// Most periods a horizon may have (100 years of months).
const MAX_PERIODS: usize = 1200;

/// Most rescues a path may have.
const MAX_RESCUES: u32 = 1000;

/// The id of the built-in outside-world entity.
pub const WORLD: &str = "world";

/// Reads the parts of a scenario, collecting every problem with its span. Flow kinds read their
/// terms through it (see [`crate::flows::Kind::read`]).
pub(crate) struct Builder<'a> {
    pub(crate) d: Diags,
    pub(crate) q: Quantities,
    sources: &'a SourceMap,
    pub(crate) bounds: Bounds,
    pub(crate) entity_ids: Vec<String>,
    flow_ids: Vec<String>,
    milestone_ids: Vec<String>,
    /// Every id defined so far, with what defined it, to catch duplicates.
    ids: HashMap<String, (&'static str, Span)>,
}

/// The top-level keys read after the horizon.
const TOP_LEVEL_KEYS: [&str; 9] = [
    "params",
    "entity",
    "company",
    "flow",
    "milestone",
    "correlation",
    "target",
    "valuation",
    "rescue",
];

pub(super) fn build(
    doc: &Table,
    top: Span,
    stem: &str,
    file: &str,
    sources: &SourceMap,
) -> Result<Scenario, Diagnostics> {
    let root = Node {
        kind: NodeKind::Table(doc.clone()),
        span: top,
    };
    let mut d = Diags::default();
    let mut f = Fields::of(&root, "the scenario", &mut d).expect("root is a table");
    let name = f.opt("name").and_then(|n| name(n, "name", &mut d));
    let description = f
        .opt("description")
        .and_then(|n| string(n, "description", &mut d));
    let currency = f
        .opt("currency")
        .and_then(|n| string(n, "currency", &mut d));
    let scale = f.opt("scale").and_then(|n| string(n, "scale", &mut d));
    let horizon_node = f.req(
        "horizon",
        "a [horizon] table with `start`, `end` and `step`",
        &mut d,
    );
    let horizon = horizon_node.and_then(|n| read_horizon(n, &mut d));
    let Some(horizon) = horizon else {
        // The rest cannot be read without the horizon; mark its keys as known so only truly
        // unknown keys are reported beside the horizon's error.
        for key in TOP_LEVEL_KEYS {
            f.opt(key);
        }
        f.finish(&mut d);
        return Err(into_diagnostics(d));
    };
    let bounds = Bounds {
        first: horizon.start,
        last: Month(horizon.end_exclusive().0 - 1),
    };
    let mut b = Builder {
        d,
        q: Quantities::default(),
        sources,
        bounds,
        entity_ids: Vec::new(),
        flow_ids: Vec::new(),
        milestone_ids: Vec::new(),
        ids: HashMap::new(),
    };
    let params = f.opt("params").map(|n| b.params(n)).unwrap_or_default();
    let entity_nodes = f
        .req("entity", "[[entity]] entries (id, name, roles)", &mut b.d)
        .and_then(|n| b.list(n, "entity"));
    let flow_nodes = f
        .req("flow", "[[flow]] entries (id, kind, from, to)", &mut b.d)
        .and_then(|n| b.list(n, "flow"));
    let milestone_nodes = f
        .opt("milestone")
        .and_then(|n| b.list(n, "milestone"))
        .unwrap_or_default();
    let entities = b.entities(&entity_nodes.unwrap_or_default(), top);
    let company = b.company(&mut f, &entities);
    // Ids first, so conditions and pass-throughs may refer to flows and milestones defined later.
    let flow_nodes = flow_nodes.unwrap_or_default();
    b.flow_ids = flow_nodes.iter().map(|n| b.peek_id(n)).collect();
    b.milestone_ids = milestone_nodes.iter().map(|n| b.peek_id(n)).collect();
    let flows: Vec<Option<Flow>> = flow_nodes
        .iter()
        .map(|n| b.flow(n, company, &entities))
        .collect();
    let milestones: Vec<Option<Milestone>> =
        milestone_nodes.iter().map(|n| b.milestone(n)).collect();
    let correlation = f.opt("correlation").and_then(|n| b.correlation(n));
    let target = f.opt("target").and_then(|n| b.target(n, &horizon));
    let valuation = f
        .req(
            "valuation",
            "a [valuation] table with `multiple` (and optionally `recovery`)",
            &mut b.d,
        )
        .and_then(|n| b.valuation(n));
    let rescue = f.opt("rescue").and_then(|n| b.rescue(n));
    f.finish(&mut b.d);

    let (Some(company), Some(valuation)) = (company, valuation) else {
        return Err(into_diagnostics(b.d));
    };
    if flows.iter().any(Option::is_none) || milestones.iter().any(Option::is_none) {
        return Err(into_diagnostics(b.d));
    }
    let flows: Vec<Flow> = flows.into_iter().flatten().collect();
    let milestones: Vec<Milestone> = milestones.into_iter().flatten().collect();
    crate::flows::check_flows(&mut b, &flows);
    b.check_milestone_cycles(&milestones);
    b.check_opening_stakes(&entities, company);
    if !b.d.items.is_empty() {
        return Err(into_diagnostics(b.d));
    }
    let warnings = warnings(
        &b,
        top.file,
        &params,
        &entities,
        company,
        &flows,
        &milestones,
    );
    Ok(Scenario {
        overrides: Vec::new(),
        name: name.unwrap_or_else(|| stem.to_string()),
        description: description.unwrap_or_default(),
        file: file.to_string(),
        currency: currency.unwrap_or_else(|| "$".to_string()),
        scale: scale.unwrap_or_else(|| "B".to_string()),
        horizon,
        params,
        quantities: b.q.list,
        entities,
        company,
        flows,
        milestones,
        correlation,
        target,
        valuation,
        rescue,
        warnings,
    })
}

/// What is valid but probably not what was meant: params no field uses, revenue paid to an
/// entity that is not the company, tranche windows that run past the horizon, milestones that
/// no condition reads. Unused params and milestones are reported only when the file itself
/// defines them: a file that extends another and removes a flow leaves some of the other's
/// params unused on purpose.
fn warnings(
    b: &Builder<'_>,
    file: crate::diagnostic::FileId,
    params: &[Param],
    entities: &[Entity],
    company: EntityId,
    flows: &[Flow],
    milestones: &[Milestone],
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let used = b.q.used.borrow();
    for p in params
        .iter()
        .filter(|p| p.span.file == file && !used.contains(&p.name))
    {
        out.push(Diagnostic::warning(
            p.span,
            format!(
                "param `{}` is not used by any field, distribution or condition",
                p.name
            ),
        ));
    }
    let mut read = Vec::new();
    for f in flows {
        for c in f.kind.conditions() {
            c.milestones(&mut read);
        }
        match &f.kind {
            FlowKind::Revenue(_) if f.to != company => out.push(Diagnostic::warning(
                f.span,
                format!(
                    "revenue flow `{}` is paid to `{}`, not to the company `{}`: it does not count in the company's revenue, run-rate or target",
                    f.id, entities[f.to].id, entities[company].id
                ),
            )),
            FlowKind::Equity(e) => {
                for t in &e.tranches {
                    if let TrancheTiming::Conditional { until, .. } = &t.timing
                        && *until > b.bounds.last
                    {
                        out.push(Diagnostic::warning(
                            t.span,
                            format!(
                                "the window of tranche `{}` ends {until}, after the horizon ({}): on paths where it is not released it is still pending at the end, neither released nor lapsed",
                                t.id, b.bounds.last
                            ),
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    for m in milestones {
        if let Some(c) = &m.condition {
            c.milestones(&mut read);
        }
    }
    for (i, m) in milestones.iter().enumerate() {
        if m.span.file == file && !read.contains(&i) {
            out.push(Diagnostic::warning(
                m.span,
                format!(
                    "milestone `{}` is not read by any condition: it changes nothing",
                    m.id
                ),
            ));
        }
    }
    out
}

/// The names a param's value mentions: strings that could name another param (its `source`
/// is prose, not a reference).
fn param_names_in<'n>(node: &'n Node, out: &mut Vec<&'n str>) {
    match &node.kind {
        NodeKind::Str(s) if super::reader::is_ident(s) => out.push(s),
        NodeKind::Table(t) => {
            for (k, v) in &t.entries {
                if k.name != "source" {
                    param_names_in(v, out);
                }
            }
        }
        NodeKind::Array(items) => items.iter().for_each(|v| param_names_in(v, out)),
        _ => {}
    }
}

fn into_diagnostics(d: Diags) -> Diagnostics {
    Diagnostics { items: d.items }
}

fn read_horizon(node: &Node, d: &mut Diags) -> Option<Horizon> {
    let mut f = Fields::of(node, "[horizon]", d)?;
    let start_node = f.req("start", "a date such as \"2024-Q1\"", d);
    let end_node = f.req("end", "a date such as \"2030-Q4\"", d);
    let step = match f.opt("step") {
        None => Some(Step::Quarter),
        Some(n) => match string(n, "step", d)?.as_str() {
            "month" => Some(Step::Month),
            "quarter" => Some(Step::Quarter),
            "year" => Some(Step::Year),
            other => {
                d.error(
                    n.span,
                    format!(
                        "step: unknown step `{other}`{}",
                        suggestion(other, ["month", "quarter", "year"])
                    ),
                );
                None
            }
        },
    };
    f.finish(d);
    let start = date(start_node?, "start", d)?;
    let end_node = end_node?;
    let end = date(end_node, "end", d)?;
    let step = step?;
    if end.last() < start.first {
        d.error(
            end_node.span,
            format!(
                "end: the horizon ends ({}) before it starts ({})",
                end.last(),
                start.first
            ),
        );
        return None;
    }
    let months = (end.last().0 - start.first.0 + 1) as usize;
    let periods = months.div_ceil(step.months() as usize);
    if periods > MAX_PERIODS {
        d.error(
            end_node.span,
            format!("the horizon has {periods} periods; at most {MAX_PERIODS} are supported (use a longer step)"),
        );
        return None;
    }
    Some(Horizon {
        start: start.first,
        step,
        periods,
    })
}

fn source_of(f: &mut Fields<'_>, d: &mut Diags) -> Option<String> {
    f.opt("source").and_then(|n| string(n, "source", d))
}

struct CondNames<'a> {
    milestones: &'a [String],
    flows: &'a [String],
    entities: &'a [String],
    q: &'a Quantities,
}

fn lookup(kind: &str, id: &str, names: &[String]) -> Result<usize, String> {
    names.iter().position(|n| n == id).ok_or_else(|| {
        format!(
            "unknown {kind} `{id}`{}",
            suggestion(id, names.iter().map(String::as_str))
        )
    })
}

impl Resolver for CondNames<'_> {
    fn milestone(&mut self, id: &str) -> Result<MilestoneId, String> {
        lookup("milestone", id, self.milestones)
    }
    fn flow(&mut self, id: &str) -> Result<FlowId, String> {
        lookup("flow", id, self.flows)
    }
    fn entity(&mut self, id: &str) -> Result<EntityId, String> {
        lookup("entity", id, self.entities)
    }
    fn param(&mut self, id: &str) -> Result<Value, String> {
        match self.q.params.get(id) {
            Some(p) => {
                self.q.used.borrow_mut().insert(id.to_string());
                match p.value {
                    Value::Random(q) if self.q.list[q].per_period => Err(format!(
                        "param `{id}` is drawn per period; a threshold takes one value per path"
                    )),
                    v => Ok(v),
                }
            }
            None => Err(format!(
                "unknown param `{id}`{}",
                suggestion(id, self.q.params.keys().map(String::as_str))
            )),
        }
    }
}

impl Builder<'_> {
    /// The entities, then the built-in outside world; sets the ids references resolve to.
    fn entities(&mut self, nodes: &[&Node], top: Span) -> Vec<Entity> {
        // Ids as written, so references to an entity that failed validation are not reported
        // too.
        let written_ids: Vec<String> = nodes.iter().map(|n| self.peek_id(n)).collect();
        let mut entities: Vec<Entity> = nodes.iter().filter_map(|n| self.entity(n)).collect();
        entities.push(Entity {
            id: WORLD.to_string(),
            name: "Outside world".to_string(),
            roles: vec![Role::Other],
            external: true,
            cash: Value::Const(0.0),
            stake: None,
            source: None,
            span: top,
        });
        self.entity_ids = if entities.len() == written_ids.len() + 1 {
            entities.iter().map(|e| e.id.clone()).collect()
        } else {
            // Some entity failed: the build fails anyway, indices no longer matter.
            written_ids.into_iter().chain([WORLD.to_string()]).collect()
        };
        entities
    }

    fn list<'n>(&mut self, node: &'n Node, what: &str) -> Option<Vec<&'n Node>> {
        let items = array(node, what, &mut self.d)?;
        Some(items.iter().collect())
    }

    /// The id of an entry, without reporting anything (the full read reports problems).
    fn peek_id(&self, node: &Node) -> String {
        match &node.kind {
            NodeKind::Table(t) => match t.get("id").map(|n| &n.kind) {
                Some(NodeKind::Str(s)) => s.clone(),
                _ => String::new(),
            },
            _ => String::new(),
        }
    }

    /// Reads the `id` of an entry and checks it is unique.
    pub(crate) fn id(&mut self, f: &mut Fields<'_>, kind: &'static str) -> Option<String> {
        let node = f.req("id", "a unique id", &mut self.d)?;
        let id = ident(node, "id", &mut self.d)?;
        if id == WORLD {
            self.d.error(
                node.span,
                format!(
                    "id `{WORLD}` is reserved for the built-in outside world; choose another id"
                ),
            );
            return None;
        }
        if let Some((other, first)) = self.ids.get(&id) {
            let first = *first;
            self.d.error(
                node.span,
                format!("duplicate id `{id}`: already used by a {other}; ids must be unique"),
            );
            self.d
                .error(first, format!("note: `{id}` is first defined here"));
            return None;
        }
        self.ids.insert(id.clone(), (kind, node.span));
        Some(id)
    }

    pub(crate) fn value(
        &mut self,
        f: &mut Fields<'_>,
        key: &'static str,
        owner: &str,
        range: Range,
        draw: Draw,
        default: Option<f64>,
    ) -> Option<Value> {
        let node = match default {
            Some(v) => match f.opt(key) {
                Some(n) => n,
                None => return Some(Value::Const(v)),
            },
            None => f.req(key, range_expected(range), &mut self.d)?,
        };
        self.q.value(
            node,
            key,
            &format!("{owner}.{key}"),
            range,
            draw,
            &mut self.d,
        )
    }

    fn params(&mut self, node: &Node) -> Vec<Param> {
        // Every key of [params] is a param, so there are no unknown fields to report.
        let NodeKind::Table(t) = &node.kind else {
            self.d.error(
                node.span,
                format!(
                    "[params]: expected a table, found {}",
                    node.kind.type_name()
                ),
            );
            return Vec::new();
        };
        let mut entries = Vec::new();
        for (key, value_node) in &t.entries {
            if !super::reader::is_ident(&key.name) {
                self.d.error(
                    key.span,
                    format!("param name `{}` is not a valid name; expected a letter or `_` followed by letters, digits, `_` or `-`", key.name),
                );
                continue;
            }
            entries.push((key, value_node));
        }
        // A param may refer to one written after it: read each after those it refers to.
        let index: HashMap<&str, usize> = entries
            .iter()
            .enumerate()
            .map(|(i, (k, _))| (k.name.as_str(), i))
            .collect();
        let refers_to: Vec<Vec<usize>> = entries
            .iter()
            .map(|(_, n)| {
                let mut names = Vec::new();
                param_names_in(n, &mut names);
                names.iter().filter_map(|n| index.get(n).copied()).collect()
            })
            .collect();
        let (order, cycle) = crate::order::partial_order(entries.len(), |i| refers_to[i].clone());
        if let Some(cycle) = cycle {
            let names: Vec<&str> = cycle.iter().map(|&i| entries[i].0.name.as_str()).collect();
            self.d.error(
                entries[cycle[0]].1.span,
                format!(
                    "params refer to each other in a loop: {}; each needs the next's value",
                    names.join(" -> ")
                ),
            );
            // Those left unordered (in a loop or waiting for one) are not reported again.
            let mut ordered = vec![false; entries.len()];
            order.iter().for_each(|&i| ordered[i] = true);
            for (i, (key, _)) in entries.iter().enumerate() {
                if !ordered[i] {
                    self.q.broken.push(key.name.clone());
                }
            }
        }
        let mut read: Vec<Option<Param>> = entries.iter().map(|_| None).collect();
        for i in order {
            let (key, value_node) = entries[i];
            let source = match &value_node.kind {
                NodeKind::Table(t) => t.get("source").and_then(|n| match &n.kind {
                    NodeKind::Str(s) => Some(s.clone()),
                    _ => None,
                }),
                _ => None,
            };
            let what = format!("param `{}`", key.name);
            let Some(value) = self.q.value(
                value_node,
                &what,
                &key.name,
                Range::Any,
                Draw::PerPeriod,
                &mut self.d,
            ) else {
                self.q.broken.push(key.name.clone());
                continue;
            };
            self.q.params.insert(
                key.name.clone(),
                ParamDef {
                    value,
                    span: value_node.span,
                },
            );
            read[i] = Some(Param {
                name: key.name.clone(),
                value,
                source,
                span: value_node.span,
            });
        }
        read.into_iter().flatten().collect()
    }

    fn entity(&mut self, node: &Node) -> Option<Entity> {
        let mut f = Fields::of(node, "[[entity]]", &mut self.d)?;
        let id = self.id(&mut f, "entity");
        let owner = id.clone().unwrap_or_default();
        f.what = format!("entity `{owner}`");
        let name = f.opt("name").and_then(|n| name(n, "name", &mut self.d));
        let roles = f
            .req(
                "roles",
                "a list of roles: lab, investor, cloud, chipmaker, market, other",
                &mut self.d,
            )
            .and_then(|n| self.roles(n));
        let cash = self.value(
            &mut f,
            "cash",
            &owner,
            Range::NonNegative,
            Draw::PerPath,
            Some(0.0),
        );
        let stake = match f.opt("stake") {
            None => Some(None),
            Some(n) => self.opening_stake(n, &owner).map(Some),
        };
        let source = source_of(&mut f, &mut self.d);
        f.finish(&mut self.d);
        let id = id?;
        let roles = roles?;
        Some(Entity {
            name: name.unwrap_or_else(|| id.clone()),
            external: roles.contains(&Role::Market),
            id,
            roles,
            cash: cash?,
            stake: stake?,
            source,
            span: node.span,
        })
    }

    fn roles(&mut self, node: &Node) -> Option<Vec<Role>> {
        let items = array(node, "roles", &mut self.d)?;
        if items.is_empty() {
            self.d.error(
                node.span,
                "roles: expected at least one role (lab, investor, cloud, chipmaker, market, other)",
            );
            return None;
        }
        let mut roles = Vec::new();
        for item in items {
            let r = string(item, "roles", &mut self.d)?;
            match Role::ALL.iter().find(|(_, n)| *n == r) {
                Some((role, _)) => roles.push(*role),
                None => {
                    self.d.error(
                        item.span,
                        format!(
                            "unknown role `{r}`{}",
                            suggestion(&r, Role::ALL.iter().map(|(_, n)| *n))
                        ),
                    );
                    return None;
                }
            }
        }
        Some(roles)
    }

    fn opening_stake(&mut self, node: &Node, owner: &str) -> Option<OpeningStake> {
        let mut f = Fields::of(node, format!("the stake of `{owner}`"), &mut self.d)?;
        let fraction = self.value(
            &mut f,
            "fraction",
            &format!("{owner}.stake"),
            Range::Unit,
            Draw::PerPath,
            None,
        );
        let invested = self.value(
            &mut f,
            "invested",
            &format!("{owner}.stake"),
            Range::NonNegative,
            Draw::PerPath,
            Some(0.0),
        );
        let as_of = self.start_date(&mut f, "as_of");
        let source = source_of(&mut f, &mut self.d);
        f.finish(&mut self.d);
        Some(OpeningStake {
            fraction: fraction?,
            invested: invested?,
            as_of: as_of?,
            source,
        })
    }

    fn company(&mut self, f: &mut Fields<'_>, entities: &[Entity]) -> Option<EntityId> {
        if let Some(n) = f.opt("company") {
            let id = ident(n, "company", &mut self.d)?;
            let Some(i) = entities.iter().position(|e| e.id == id) else {
                if self.entity_ids.contains(&id) {
                    // Written but invalid: its own errors say why.
                    return None;
                }
                self.d.error(
                    n.span,
                    format!(
                        "company: unknown entity `{id}`{}",
                        suggestion(&id, entities.iter().map(|e| e.id.as_str()))
                    ),
                );
                return None;
            };
            if entities[i].external {
                self.d.error(
                    n.span,
                    format!("company: `{id}` is a market (outside world); the company must be an inside entity"),
                );
                return None;
            }
            return Some(i);
        }
        let labs: Vec<usize> = (0..entities.len())
            .filter(|&i| entities[i].has_role(Role::Lab))
            .collect();
        match labs.as_slice() {
            [one] => Some(*one),
            [] => {
                if !entities.is_empty() && self.d.items.is_empty() {
                    self.d.error(
                        f.span,
                        "no company: give one entity the role `lab`, or set `company = \"id\"` at the top of the file",
                    );
                }
                None
            }
            _ => {
                self.d.error(
                    entities[labs[1]].span,
                    "more than one entity has the role `lab`: set `company = \"id\"` at the top of the file to say which one the simulation is about",
                );
                None
            }
        }
    }

    fn entity_ref(&mut self, node: &Node, what: &str) -> Option<EntityId> {
        let id = ident(node, what, &mut self.d)?;
        match self.entity_ids.iter().position(|e| *e == id) {
            Some(i) => Some(i),
            None => {
                self.d.error(
                    node.span,
                    format!(
                        "{what}: unknown entity `{id}`{}",
                        // An entity whose id could not be read is written as "".
                        suggestion(
                            &id,
                            self.entity_ids
                                .iter()
                                .map(String::as_str)
                                .filter(|e| !e.is_empty())
                        )
                    ),
                );
                None
            }
        }
    }

    pub(crate) fn flow_ref(&mut self, node: &Node, what: &str) -> Option<FlowId> {
        let id = ident(node, what, &mut self.d)?;
        match self.flow_ids.iter().position(|e| *e == id) {
            Some(i) => Some(i),
            None => {
                self.d.error(
                    node.span,
                    format!(
                        "{what}: unknown flow `{id}`{}",
                        suggestion(&id, self.flow_ids.iter().map(String::as_str))
                    ),
                );
                None
            }
        }
    }

    pub(crate) fn condition(&mut self, node: &Node, what: &str) -> Option<Condition> {
        let text = string(node, what, &mut self.d)?;
        let mut names = CondNames {
            milestones: &self.milestone_ids,
            flows: &self.flow_ids,
            entities: &self.entity_ids,
            q: &self.q,
        };
        match condition::parse(&text, &mut names) {
            Ok(c) => Some(c),
            Err(e) => {
                let span = self.span_in_string(node, &text, e.offset, e.len);
                self.d.error(span, format!("{what}: {}", e.message));
                None
            }
        }
    }

    /// The span of bytes `offset..offset+len` of a string value, when the source shows them
    /// literally; else the whole string.
    fn span_in_string(&self, node: &Node, text: &str, offset: usize, len: usize) -> Span {
        let raw = self.sources.slice(node.span);
        let prefix = if raw.starts_with("\"\"\"") || raw.starts_with("'''") {
            3 + usize::from(raw[3..].starts_with('\n'))
        } else if raw.starts_with('"') || raw.starts_with('\'') {
            1
        } else {
            0
        };
        if raw.get(prefix..prefix + text.len()) == Some(text) {
            node.span.sub(prefix + offset, len)
        } else {
            node.span
        }
    }

    pub(crate) fn start_date(
        &mut self,
        f: &mut Fields<'_>,
        key: &'static str,
    ) -> Option<Option<Month>> {
        match f.opt(key) {
            None => Some(None),
            Some(n) => {
                let dt = date(n, key, &mut self.d)?;
                self.bounds.start_inside(dt, n, key, &mut self.d).map(Some)
            }
        }
    }

    pub(crate) fn end_date(
        &mut self,
        f: &mut Fields<'_>,
        key: &'static str,
    ) -> Option<Option<Month>> {
        match f.opt(key) {
            None => Some(None),
            Some(n) => {
                let dt = date(n, key, &mut self.d)?;
                self.bounds
                    .end_not_before(dt, n, key, &mut self.d)
                    .map(Some)
            }
        }
    }

    /// The entry's `source` note.
    pub(crate) fn source(&mut self, f: &mut Fields<'_>) -> Option<String> {
        source_of(f, &mut self.d)
    }

    pub(crate) fn check_order(
        &mut self,
        f: &Fields<'_>,
        start: Option<Month>,
        until: Option<Month>,
        until_key: &str,
    ) -> Option<()> {
        if let (Some(s), Some(u)) = (start, until)
            && u < s
        {
            let span = f.key(until_key).map(|k| k.span).unwrap_or(f.span);
            self.d.error(
                span,
                format!("{until_key}: ends ({u}) before it starts ({s})"),
            );
            return None;
        }
        Some(())
    }

    fn flow(
        &mut self,
        node: &Node,
        company: Option<EntityId>,
        entities: &[Entity],
    ) -> Option<Flow> {
        let mut f = Fields::of(node, "[[flow]]", &mut self.d)?;
        let id = self.id(&mut f, "flow");
        let owner = id.clone().unwrap_or_default();
        f.what = format!("flow `{owner}`");
        let names: Vec<&str> = KindTag::ALL.iter().map(|k| k.name()).collect();
        let kind_node = f.req("kind", &format!("one of {}", names.join(", ")), &mut self.d);
        let kind = kind_node.and_then(|n| {
            let k = string(n, "kind", &mut self.d)?;
            let tag = KindTag::parse(&k);
            if tag.is_none() {
                self.d.error(
                    n.span,
                    format!(
                        "unknown flow kind `{k}`{}",
                        suggestion(&k, names.iter().copied())
                    ),
                );
            }
            tag
        });
        let from = f
            .req("from", "the id of the paying entity", &mut self.d)
            .and_then(|n| self.entity_ref(n, "from"));
        let to = match (kind, f.opt("to")) {
            (Some(k), None) if k.to_world_by_default() => Some(self.entity_ids.len() - 1),
            (_, Some(n)) => self.entity_ref(n, "to"),
            (_, None) => {
                f.req("to", "the id of the receiving entity", &mut self.d);
                None
            }
        };
        let source = self.source(&mut f);
        let Some(kind) = kind else {
            f.finish(&mut self.d);
            return None;
        };
        let flow_kind = kind.read(self, &mut f, &owner);
        f.finish(&mut self.d);
        let (id, from, to, flow_kind) = (id?, from?, to?, flow_kind?);
        let company = company?;
        if entities.len() != self.entity_ids.len() {
            // An entity failed to read: references index the ids as written, not `entities`,
            // and the build fails anyway, so the ends are not checked.
            return None;
        }
        let span_of = |key: &str| f.key(key).map(|k| k.span).unwrap_or(node.span);
        if from == to {
            self.d.error(
                span_of("to"),
                format!(
                    "flow `{id}` goes from `{}` to itself; expected two different entities",
                    entities[from].id
                ),
            );
            return None;
        }
        let ends = crate::flows::Ends {
            from: &entities[from],
            to: &entities[to],
            company: &entities[company],
            to_company: to == company,
        };
        if let Some((key, message)) = flow_kind.check_ends(&ends) {
            self.d.error(span_of(key), message);
            return None;
        }
        Some(Flow {
            id,
            from,
            to,
            kind: flow_kind,
            source,
            span: node.span,
        })
    }

    /// A `{ from, until }` window of a conditional payment (`what`: a tranche, a draw).
    pub(crate) fn window(&mut self, node: &Node, what: &str) -> Option<(Month, Month)> {
        let mut f = Fields::of(node, "window", &mut self.d)?;
        let from = self.start_date(&mut f, "from");
        let until = match f.req("until", "the expiry date, such as \"2028-Q4\"", &mut self.d) {
            Some(n) => {
                let dt = date(n, "until", &mut self.d);
                dt.and_then(|dt| self.bounds.end_not_before(dt, n, "until", &mut self.d))
            }
            None => None,
        };
        f.finish(&mut self.d);
        let from = from?.unwrap_or(self.bounds.first);
        let until = until?;
        if until < from {
            let span = f.key("until").map(|k| k.span).unwrap_or(node.span);
            self.d.error(
                span,
                format!("window: the {what} window ends ({until}) before it starts ({from})"),
            );
            return None;
        }
        Some((from, until))
    }

    /// A growth rate: any number above -1 (-100%).
    pub(crate) fn growth(
        &mut self,
        f: &mut Fields<'_>,
        key: &'static str,
        owner: &str,
        default: Option<f64>,
    ) -> Option<Value> {
        let v = self.value(f, key, owner, Range::Any, Draw::PerPath, default)?;
        let (lo, _) = self.q.dist(v).support();
        if lo <= -1.0 {
            let span = f.key(key).map(|k| k.span).unwrap_or(f.span);
            self.d.error(span, format!("{key}: a growth rate must stay above -1 (-100% a year); this one can reach {lo}"));
            return None;
        }
        // Compounded over the horizon, growth must stay far from overflow: (1 + g)^years <= 1e100.
        let max = ((100.0 * std::f64::consts::LN_10 / self.horizon_years()).exp() - 1.0)
            .min(super::value::MAX_MAGNITUDE);
        self.at_most(
            f,
            key,
            v,
            max,
            "growth that compounds past 1e100 over the horizon",
        )
    }

    /// Years from the horizon's first month to its last.
    pub(crate) fn horizon_years(&self) -> f64 {
        f64::from(self.bounds.last.0 - self.bounds.first.0 + 1) / 12.0
    }

    /// Refuses a value whose draws can exceed `max`: `what` says what that would be.
    pub(crate) fn at_most(
        &mut self,
        f: &Fields<'_>,
        key: &str,
        v: Value,
        max: f64,
        what: &str,
    ) -> Option<Value> {
        let (_, high) = super::value::reach(&self.q.dist(v));
        if high > max {
            let span = f.key(key).map(|k| k.span).unwrap_or(f.span);
            self.d.error(
                span,
                format!("{key}: expected at most {max:.4}, got a value that can reach {high:.4}: {what}, beyond what the model represents"),
            );
            return None;
        }
        Some(v)
    }

    fn milestone(&mut self, node: &Node) -> Option<Milestone> {
        let mut f = Fields::of(node, "[[milestone]]", &mut self.d)?;
        let id = self.id(&mut f, "milestone");
        let owner = id.clone().unwrap_or_default();
        f.what = format!("milestone `{owner}`");
        let name = f.opt("name").and_then(|n| name(n, "name", &mut self.d));
        let rules: Vec<&'static str> = ["hazard", "chance_per_year", "year"]
            .into_iter()
            .filter(|k| f.has(k))
            .collect();
        let timing = match rules.as_slice() {
            ["hazard"] => self
                .value(
                    &mut f,
                    "hazard",
                    &owner,
                    Range::NonNegative,
                    Draw::PerPath,
                    None,
                )
                .map(MilestoneTiming::Hazard),
            ["chance_per_year"] => self
                .value(
                    &mut f,
                    "chance_per_year",
                    &owner,
                    Range::Unit,
                    Draw::PerPath,
                    None,
                )
                .map(MilestoneTiming::ChancePerYear),
            [_] => self
                .value(&mut f, "year", &owner, Range::Any, Draw::PerPath, None)
                .map(MilestoneTiming::Year),
            [] => {
                self.d.error(
                    f.span,
                    format!("missing required field `hazard` in milestone `{owner}`: expected a `hazard` rate per year, a `chance_per_year`, or a `year` (a distribution over its date)"),
                );
                None
            }
            [_, second, ..] => {
                let span = f.key(second).map(|k| k.span).unwrap_or(f.span);
                for k in ["hazard", "chance_per_year", "year"] {
                    f.opt(k);
                }
                self.d.error(
                    span,
                    "a milestone has one of `hazard` (a rate per year), `chance_per_year` or `year` (a distribution over its date), not several",
                );
                None
            }
        };
        let from = self.start_date(&mut f, "from");
        let condition = match f.opt("when") {
            Some(n) => self.condition(n, "when").map(Some),
            None => Some(None),
        };
        let source = source_of(&mut f, &mut self.d);
        f.finish(&mut self.d);
        let id = id?;
        Some(Milestone {
            name: name.unwrap_or_else(|| id.clone()),
            id,
            timing: timing?,
            from: from?.unwrap_or(self.bounds.first),
            condition: condition?,
            source,
            span: node.span,
        })
    }

    fn correlation(&mut self, node: &Node) -> Option<Correlation> {
        let mut f = Fields::of(node, "[correlation]", &mut self.d)?;
        let method = match f.opt("method") {
            None => Some(CorrelationMethod::Gaussian),
            Some(n) => match string(n, "method", &mut self.d)?.as_str() {
                "gaussian" => Some(CorrelationMethod::Gaussian),
                "rank" => Some(CorrelationMethod::Rank),
                other => {
                    self.d.error(
                        n.span,
                        format!(
                            "method: unknown method `{other}`{}",
                            suggestion(other, ["gaussian", "rank"])
                        ),
                    );
                    None
                }
            },
        };
        let params_node = f.req("params", "the names of the correlated params", &mut self.d);
        let matrix_node = f.req("matrix", "a square matrix of correlations", &mut self.d);
        f.finish(&mut self.d);
        let (method, params_node, matrix_node) = (method?, params_node?, matrix_node?);
        let mut quantities = Vec::new();
        for item in array(params_node, "params", &mut self.d)? {
            let name = ident(item, "params", &mut self.d)?;
            let value = match self.q.params.get(&name) {
                Some(p) => p.value,
                None => {
                    self.d.error(
                        item.span,
                        format!(
                            "params: unknown param `{name}`{}",
                            suggestion(&name, self.q.params.keys().map(String::as_str))
                        ),
                    );
                    return None;
                }
            };
            match value {
                Value::Random(q) if !self.q.list[q].per_period => {
                    if quantities.contains(&q) {
                        self.d
                            .error(item.span, format!("params: `{name}` is listed twice"));
                        return None;
                    }
                    quantities.push(q);
                }
                Value::Random(_) => {
                    self.d.error(item.span, format!("params: `{name}` is drawn per period; only per-path quantities can be correlated"));
                    return None;
                }
                Value::Const(_) => {
                    self.d.error(item.span, format!("params: `{name}` is a fixed number; only uncertain params can be correlated"));
                    return None;
                }
            }
        }
        let rows = array(matrix_node, "matrix", &mut self.d)?;
        let n = quantities.len();
        if rows.len() != n {
            self.d.error(
                matrix_node.span,
                format!(
                    "matrix: expected {n} rows (one per param), found {}",
                    rows.len()
                ),
            );
            return None;
        }
        let mut matrix = Vec::with_capacity(n);
        for row in rows {
            let cells = array(row, "matrix row", &mut self.d)?;
            if cells.len() != n {
                self.d.error(
                    row.span,
                    format!(
                        "matrix: expected {n} entries in each row, found {}",
                        cells.len()
                    ),
                );
                return None;
            }
            let mut out = Vec::with_capacity(n);
            for cell in cells {
                let v = number(cell, "matrix", &mut self.d)?;
                if !(-1.0..=1.0).contains(&v) {
                    self.d.error(
                        cell.span,
                        format!("matrix: a correlation must be between -1 and 1, got {v}"),
                    );
                    return None;
                }
                out.push(v);
            }
            matrix.push(out);
        }
        match correlation::validate(&matrix, method) {
            Ok((matrix, cholesky)) => Some(Correlation {
                quantities,
                matrix,
                cholesky,
            }),
            Err(e) => {
                let span = match e.cell {
                    Some((i, j)) => match (&rows[i].kind, i) {
                        (NodeKind::Array(cells), _) => cells[j].span,
                        _ => matrix_node.span,
                    },
                    None => matrix_node.span,
                };
                self.d.error(span, format!("matrix: {}", e.message));
                None
            }
        }
    }

    fn target(&mut self, node: &Node, horizon: &Horizon) -> Option<Target> {
        let mut f = Fields::of(node, "[target]", &mut self.d)?;
        let year_node = f.req("year", "the target year, such as 2029", &mut self.d);
        let revenue_node = f.req(
            "revenue",
            "the revenue to reach over that year",
            &mut self.d,
        );
        f.finish(&mut self.d);
        let year_node = year_node?;
        let year = match &year_node.kind {
            NodeKind::Int(y) => *y,
            other => {
                self.d.error(
                    year_node.span,
                    format!(
                        "year: expected a year such as 2029, found {}",
                        other.type_name()
                    ),
                );
                return None;
            }
        };
        let inside = Month::new(year as i32, 1) >= horizon.start
            && Month::new(year as i32, 12) < horizon.end_exclusive();
        if !inside {
            self.d.error(
                year_node.span,
                format!(
                    "year: {year} is not wholly inside the horizon ({} to {})",
                    self.bounds.first, self.bounds.last
                ),
            );
            return None;
        }
        let revenue = number(revenue_node?, "revenue", &mut self.d)?;
        if !(revenue > 0.0 && revenue <= super::value::MAX_MAGNITUDE) {
            self.d.error(
                revenue_node?.span,
                format!(
                    "revenue: expected a target > 0 and at most {:e}, got {revenue:e}",
                    super::value::MAX_MAGNITUDE
                ),
            );
            return None;
        }
        Some(Target {
            year: year as i32,
            revenue,
        })
    }

    fn valuation(&mut self, node: &Node) -> Option<Valuation> {
        let mut f = Fields::of(node, "[valuation]", &mut self.d)?;
        let multiple = self.value(
            &mut f,
            "multiple",
            "valuation",
            Range::NonNegative,
            Draw::PerPath,
            None,
        );
        let recovery = self.value(
            &mut f,
            "recovery",
            "valuation",
            Range::Unit,
            Draw::PerPath,
            Some(0.0),
        );
        f.finish(&mut self.d);
        Some(Valuation {
            multiple: multiple?,
            recovery: recovery?,
        })
    }

    fn rescue(&mut self, node: &Node) -> Option<Rescue> {
        let mut f = Fields::of(node, "[rescue]", &mut self.d)?;
        let probability = self.value(
            &mut f,
            "probability",
            "rescue",
            Range::Unit,
            Draw::PerPath,
            None,
        );
        let amount = self.value(
            &mut f,
            "amount",
            "rescue",
            Range::Positive,
            Draw::PerPath,
            None,
        );
        let discount = self.value(
            &mut f,
            "discount",
            "rescue",
            Range::Unit,
            Draw::PerPath,
            Some(0.0),
        );
        let from = match f.opt("from") {
            Some(n) => self.entity_ref(n, "from"),
            None => Some(self.entity_ids.len() - 1),
        };
        let max = match f.opt("max") {
            Some(n) => count(n, "max (rescues per path)", 0, MAX_RESCUES, &mut self.d),
            None => Some(1),
        };
        f.finish(&mut self.d);
        Some(Rescue {
            probability: probability?,
            amount: amount?,
            discount: discount?,
            from: from?,
            max: max?,
        })
    }

    fn check_milestone_cycles(&mut self, milestones: &[Milestone]) {
        let deps = |m: usize| {
            let mut deps = Vec::new();
            if let Some(c) = &milestones[m].condition {
                c.milestones(&mut deps);
            }
            deps
        };
        if let Err(cycle) = crate::order::dependency_order(milestones.len(), deps) {
            let names: Vec<&str> = cycle.iter().map(|&i| milestones[i].id.as_str()).collect();
            self.d.error(
                milestones[cycle[0]].span,
                format!(
                    "milestone conditions form a loop: {}; a milestone cannot wait for itself",
                    names.join(" -> ")
                ),
            );
        }
    }

    fn check_opening_stakes(&mut self, entities: &[Entity], company: EntityId) {
        let total: f64 = entities
            .iter()
            .filter_map(|e| e.stake.as_ref())
            .map(|s| self.q.dist(s.fraction).support().1)
            .sum();
        if total > 1.0 + 1e-9 {
            let span = entities
                .iter()
                .rfind(|e| e.stake.is_some())
                .map(|e| e.span)
                .unwrap_or_default();
            self.d.error(
                span,
                format!("opening stakes in `{}` can add up to {total:.4}, more than the whole company (1)", entities[company].id),
            );
        }
        if entities[company].stake.is_some() {
            self.d.error(
                entities[company].span,
                "the company cannot hold a stake in itself",
            );
        }
    }
}

fn range_expected(range: Range) -> &'static str {
    match range {
        Range::Any => "a number, a param name, \"A to B\" or a distribution",
        Range::NonNegative => "an amount >= 0, a param name, \"A to B\" or a distribution",
        Range::Positive => "a number > 0, a param name, \"A to B\" or a distribution",
        Range::Unit => "a number between 0 and 1, a param name or a distribution",
    }
}
