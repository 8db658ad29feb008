//! `cfsim trace`: the ledger of one path (its draws, every payment by period, each milestone,
//! tranche, rescue and the default, with the reason), and finding example paths by outcome
//! (`--find 'default and released(amazon_b)'`). Built on the engine's [`Trace`] seam, so the
//! ledger is the simulation itself, not a second model of it.

use serde::Serialize;

use crate::engine::explain::condition;
use crate::engine::model::TrancheWhen;
use crate::engine::{Lapse, Model, NoTrace, PathOutput, PathState, Trace, TrancheState};
use crate::flows::PaymentClass;
use crate::scenario::Scenario;

/// Version of the layout of the JSON `cfsim trace --json` prints.
pub const SCHEMA_VERSION: u32 = 1;

/// The most paths `--find` searches.
pub const MAX_SEARCH: u64 = 100_000_000;

/// What the engine reports while it runs one path: every payment and the cash of every entity
/// at each period boundary (also what the accounting tests check).
#[derive(Default)]
pub struct Ledger {
    /// Cash of every entity when the path starts.
    pub start: Vec<f64>,
    /// Per period: (flow, from, to, amount).
    pub payments: Vec<Vec<(usize, usize, usize, f64)>>,
    /// Cash of every entity at the end of each period.
    pub cash: Vec<Vec<f64>>,
    /// (period, milestone) in the order reached.
    pub milestones: Vec<(usize, usize)>,
}

impl Trace for Ledger {
    fn start(&mut self, cash: &[f64]) {
        self.start = cash.to_vec();
    }
    fn payment(&mut self, period: usize, flow: usize, from: usize, to: usize, amount: f64) {
        if self.payments.len() <= period {
            self.payments.resize(period + 1, Vec::new());
        }
        self.payments[period].push((flow, from, to, amount));
    }
    fn end_period(&mut self, period: usize, cash: &[f64]) {
        if self.payments.len() <= period {
            self.payments.resize(period + 1, Vec::new());
        }
        self.cash.push(cash.to_vec());
    }
    fn milestone(&mut self, period: usize, milestone: usize) {
        self.milestones.push((period, milestone));
    }
}

/// A draw of the path: a quantity drawn once per path and its value.
#[derive(Clone, Debug, Serialize)]
pub struct Draw {
    /// The param's name (`flow.field` for an inline distribution).
    pub name: String,
    /// Its value on the path.
    pub value: f64,
}

/// One payment.
#[derive(Clone, Debug, Serialize)]
pub struct Payment {
    /// The flow (`rescue` for an emergency raise).
    pub flow: String,
    /// Who paid.
    pub from: String,
    /// Who received.
    pub to: String,
    /// How much.
    pub amount: f64,
}

/// One period of the company's accounts on the path.
#[derive(Clone, Debug, Serialize)]
pub struct PeriodTrace {
    /// Its label (`2026-Q1`).
    pub period: String,
    /// Company cash at the start.
    pub cash_start: f64,
    /// Revenue received.
    pub revenue: f64,
    /// Payments for goods, services, revenue shares and interest.
    pub costs: f64,
    /// Equity, rescues and loans received, less loan principal repaid.
    pub financing: f64,
    /// Company cash at the end.
    pub cash_end: f64,
    /// Every payment of the period, the company's and everyone else's.
    pub payments: Vec<Payment>,
}

/// Something that happened on the path.
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    /// The period.
    pub period: String,
    /// What happened, and why.
    pub what: String,
}

/// A tranche's outcome on the path.
#[derive(Clone, Debug, Serialize)]
pub struct TrancheOutcome {
    /// Its id.
    pub id: String,
    /// `released`, `lapsed`, `pending` (its window runs past the horizon) or `empty` (amount 0).
    pub state: String,
    /// Why it lapsed: `expired` (its window ended) or `default` (the company defaulted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// When it was released or lapsed.
    pub period: Option<String>,
    /// The amount released.
    pub amount: f64,
}

/// An investor's outcome on the path.
#[derive(Clone, Debug, Serialize)]
pub struct InvestorOutcome {
    /// Its id.
    pub id: String,
    /// Money put in.
    pub invested: f64,
    /// Money received back from the company.
    pub received: f64,
    /// Stake at the horizon.
    pub stake: f64,
    /// Equity value + margin earned - invested + debt value.
    pub net_position: f64,
}

/// The ledger of one path, as `cfsim trace` prints it.
#[derive(Clone, Debug, Serialize)]
pub struct PathTrace {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Version of cfsim.
    pub cfsim_version: String,
    /// The scenario file.
    pub file: String,
    /// Overrides applied (`name=value`).
    pub overrides: Vec<String>,
    /// The master seed.
    pub seed: u64,
    /// The path's index: the same path in `cfsim run` with this seed.
    pub path: u64,
    /// The quantities drawn once for the path.
    pub draws: Vec<Draw>,
    /// The company's accounts by period, with every payment.
    pub periods: Vec<PeriodTrace>,
    /// Milestones, tranches, rescues and the default, in order.
    pub events: Vec<Event>,
    /// The period of default, if any.
    pub default_period: Option<String>,
    /// Rescues obtained.
    pub rescues: u32,
    /// Company revenue over the target year, and whether it reached the target.
    pub target: Option<(f64, bool)>,
    /// Company value at the horizon.
    pub company_value: f64,
    /// Each tranche.
    pub tranches: Vec<TrancheOutcome>,
    /// Each investor.
    pub investors: Vec<InvestorOutcome>,
}

/// Runs path `path` of `seed` and writes down everything that happened on it.
pub fn trace(s: &Scenario, m: &Model, seed: u64, path: u64) -> PathTrace {
    let mut state = PathState::new(m);
    let mut ledger = Ledger::default();
    state.run(m, seed, path, &mut ledger);
    let o = state.out();
    let h = &m.horizon;
    let entity = |e: usize| s.entities[e].id.clone();
    let flow_name = |f: usize| {
        m.names
            .flows
            .get(f)
            .cloned()
            .unwrap_or_else(|| "rescue".into())
    };
    let company = m.company;
    let mut events = Vec::new();
    let mut periods = Vec::with_capacity(m.periods);
    let mut cash = ledger.start[company];
    let mut rescues = 0;
    for (p, end) in ledger.cash.iter().enumerate() {
        let (mut revenue, mut costs, mut financing) = (0.0, 0.0, 0.0);
        let mut payments = Vec::new();
        for &(f, from, to, amount) in &ledger.payments[p] {
            let class = m.class[f];
            if to == company {
                match class {
                    PaymentClass::Sale => revenue += amount,
                    c if c.is_investment() => financing += amount,
                    _ => costs -= amount,
                }
            }
            if from == company {
                match class {
                    PaymentClass::Repayment => financing -= amount,
                    _ => costs += amount,
                }
            }
            if f == m.flows {
                rescues += 1;
                events.push(Event {
                    period: h.label(p),
                    what: format!(
                        "rescue {rescues}: {} from {} when the company's cash would have fallen below 0",
                        crate::format::money(amount, &s.currency, &s.scale),
                        entity(from)
                    ),
                });
            }
            payments.push(Payment {
                flow: flow_name(f),
                from: entity(from),
                to: entity(to),
                amount,
            });
        }
        for &(_, ms) in ledger.milestones.iter().filter(|(at, _)| *at == p) {
            let milestone = &s.milestones[ms];
            events.push(Event {
                period: h.label(p),
                what: format!("milestone {} ({}) reached", milestone.id, milestone.name),
            });
        }
        for (k, (st, amount)) in o.tranches.iter().enumerate() {
            if let Some(what) = tranche_event(s, m, k, *st, *amount, p) {
                events.push(Event {
                    period: h.label(p),
                    what,
                });
            }
        }
        if o.default_period == Some(p) {
            events.push(Event {
                period: h.label(p),
                what: format!(
                    "default: the company's cash fell below 0 within the period and {}; its payments stop",
                    match &m.rescue {
                        None => "the scenario has no rescue rule".to_string(),
                        Some(r) if o.rescues >= r.max => {
                            format!("its {} rescues were used", r.max)
                        }
                        Some(_) => "the rescue attempt failed".to_string(),
                    }
                ),
            });
        }
        periods.push(PeriodTrace {
            period: h.label(p),
            cash_start: cash,
            revenue,
            costs,
            financing,
            cash_end: end[company],
            payments,
        });
        cash = end[company];
    }
    PathTrace {
        schema_version: SCHEMA_VERSION,
        cfsim_version: env!("CARGO_PKG_VERSION").to_string(),
        file: s.file.clone(),
        overrides: s.overrides.clone(),
        seed,
        path,
        draws: m
            .per_path
            .iter()
            .map(|&q| Draw {
                name: m.names.quantities[q].clone(),
                value: state.quantity(q),
            })
            .collect(),
        periods,
        events,
        default_period: o.default_period.map(|p| h.label(p)),
        rescues: o.rescues,
        target: m
            .target
            .as_ref()
            .map(|(_, t)| (o.target_revenue, o.target_revenue >= *t)),
        company_value: o.company_value,
        tranches: o
            .tranches
            .iter()
            .enumerate()
            .map(|(k, (st, amount))| {
                let (state, period, reason) = match *st {
                    TrancheState::Released(p) => ("released", Some(h.label(p)), None),
                    TrancheState::Lapsed(p, why) => (
                        "lapsed",
                        Some(h.label(p)),
                        Some(match why {
                            Lapse::Expired => "expired",
                            Lapse::Default => "default",
                        }),
                    ),
                    TrancheState::Pending => ("pending", None, None),
                    TrancheState::Empty => ("empty", None, None),
                };
                TrancheOutcome {
                    id: m.names.tranches[k].clone(),
                    state: state.into(),
                    reason,
                    period,
                    amount: *amount,
                }
            })
            .collect(),
        investors: m
            .investors
            .iter()
            .map(|&e| InvestorOutcome {
                id: entity(e),
                invested: o.invested[e],
                received: o.received[e],
                stake: o.stake[e],
                net_position: o.net_position(e),
            })
            .collect(),
    }
}

/// What tranche `k` did in period `p`, and why.
fn tranche_event(
    s: &Scenario,
    m: &Model,
    k: usize,
    st: TrancheState,
    amount: f64,
    p: usize,
) -> Option<String> {
    let t = &m.kinds.equity[k];
    let id = &m.names.tranches[k];
    let money = |x: f64| crate::format::money(x, &s.currency, &s.scale);
    match (st, &t.when) {
        (TrancheState::Released(at), TrancheWhen::Scheduled(..)) if at == p => Some(format!(
            "tranche {id}: {} from {} released as scheduled",
            money(amount),
            s.entities[t.investor].id
        )),
        (TrancheState::Released(at), TrancheWhen::Conditional { condition: c, .. }) if at == p => {
            Some(format!(
                "tranche {id}: {} from {} released: `{}` held at the period's end",
                money(amount),
                s.entities[t.investor].id,
                condition(m, c)
            ))
        }
        (TrancheState::Lapsed(at, why), when) if at == p => Some(if why == Lapse::Default {
            format!("tranche {id} lapsed: the company defaulted")
        } else {
            match when {
                TrancheWhen::Conditional { condition: c, .. } => format!(
                    "tranche {id} lapsed: its window ended and `{}` never held in it",
                    condition(m, c)
                ),
                TrancheWhen::Scheduled(..) => format!("tranche {id} lapsed"),
            }
        }),
        _ => None,
    }
}

impl PathTrace {
    /// The ledger as a terminal table: the draws, the company's accounts by period with what
    /// happened in each, and the outcome.
    pub fn table(&self, currency: &str, scale: &str) -> String {
        use std::fmt::Write as _;
        let money = |x: f64| crate::format::money(x, currency, scale);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "cfsim {}: path {} of seed {} ({}){}",
            self.cfsim_version,
            self.path,
            self.seed,
            self.file,
            if self.overrides.is_empty() {
                String::new()
            } else {
                format!(" with {}", self.overrides.join(", "))
            }
        );
        if !self.draws.is_empty() {
            let draws: Vec<String> = self
                .draws
                .iter()
                .map(|d| format!("{} = {}", d.name, significant(d.value)))
                .collect();
            let _ = writeln!(out, "\nDraws: {}", draws.join(", "));
        }
        let _ = writeln!(
            out,
            "\nThe company's accounts (amounts in {currency}{scale})"
        );
        let mut t = comfy_table::Table::new();
        t.load_preset(comfy_table::presets::NOTHING);
        t.set_header(vec![
            "period",
            "cash at start",
            "revenue",
            "costs",
            "financing",
            "cash at end",
            "what happened",
        ]);
        for column in t.column_iter_mut().skip(1).take(5) {
            column.set_cell_alignment(comfy_table::CellAlignment::Right);
        }
        for p in &self.periods {
            let what: Vec<&str> = self
                .events
                .iter()
                .filter(|e| e.period == p.period)
                .map(|e| e.what.as_str())
                .collect();
            t.add_row(vec![
                p.period.clone(),
                money(p.cash_start),
                money(p.revenue),
                money(p.costs),
                money(p.financing),
                money(p.cash_end),
                what.join("; "),
            ]);
        }
        let _ = writeln!(out, "{}", crate::report::render(&t));
        let _ = writeln!(out, "\nOutcome");
        let _ = writeln!(
            out,
            "  {}; {} rescue{}; company value at the horizon {}",
            match &self.default_period {
                Some(p) => format!("defaulted in {p}"),
                None => "did not default".to_string(),
            },
            self.rescues,
            if self.rescues == 1 { "" } else { "s" },
            money(self.company_value)
        );
        if let Some((revenue, hit)) = self.target {
            let _ = writeln!(
                out,
                "  revenue in the target year {} ({})",
                money(revenue),
                if hit {
                    "target reached"
                } else {
                    "target missed"
                }
            );
        }
        for tr in &self.tranches {
            let _ = writeln!(
                out,
                "  tranche {}: {}{}",
                tr.id,
                tr.state,
                tr.period
                    .as_ref()
                    .map_or(String::new(), |p| format!(" in {p}"))
            );
        }
        for i in &self.investors {
            let _ = writeln!(
                out,
                "  {}: invested {}, received {}, stake {}, net position {}",
                i.id,
                money(i.invested),
                money(i.received),
                crate::format::percent(i.stake),
                money(i.net_position)
            );
        }
        out
    }
}

/// A draw to four significant digits.
fn significant(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let digits = (3 - x.abs().log10().floor() as i32).clamp(0, 12) as usize;
    format!("{x:.digits$}")
}

/// What `--find` looks for on a path.
#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    /// The company defaulted.
    Default,
    /// It obtained a rescue.
    Rescued,
    /// It reached the revenue target.
    Target,
    /// The tranche was released.
    Released(String),
    /// The tranche lapsed.
    Lapsed(String),
    /// Both.
    And(Box<Filter>, Box<Filter>),
    /// Either.
    Or(Box<Filter>, Box<Filter>),
    /// Not.
    Not(Box<Filter>),
}

impl std::str::FromStr for Filter {
    type Err = String;
    /// `default`, `rescued`, `target`, `released(ID)`, `lapsed(ID)`, joined by `and`, `or`,
    /// `not` and parentheses.
    fn from_str(s: &str) -> Result<Filter, String> {
        let spaced = s.replace('(', " ( ").replace(')', " ) ");
        let tokens: Vec<&str> = spaced.split_whitespace().collect();
        // The parser recurses once per `not` and `(`: a bound keeps a hostile expression from
        // exhausting the stack.
        if tokens.len() > MAX_TOKENS {
            return Err(format!(
                "the expression has {} words; at most {MAX_TOKENS}",
                tokens.len()
            ));
        }
        let mut at = 0;
        let f = parse_or(&tokens, &mut at)?;
        if at < tokens.len() {
            return Err(format!("unexpected `{}`", tokens[at]));
        }
        Ok(f)
    }
}

/// The most words (names, operators and parentheses) in a `--find` expression.
const MAX_TOKENS: usize = 200;

const FILTER_HELP: &str = "expected default, rescued, target, released(ID) or lapsed(ID), joined by and, or, not and parentheses";

fn parse_or(t: &[&str], at: &mut usize) -> Result<Filter, String> {
    let mut f = parse_and(t, at)?;
    while t.get(*at) == Some(&"or") {
        *at += 1;
        f = Filter::Or(Box::new(f), Box::new(parse_and(t, at)?));
    }
    Ok(f)
}

fn parse_and(t: &[&str], at: &mut usize) -> Result<Filter, String> {
    let mut f = parse_not(t, at)?;
    while t.get(*at) == Some(&"and") {
        *at += 1;
        f = Filter::And(Box::new(f), Box::new(parse_not(t, at)?));
    }
    Ok(f)
}

fn parse_not(t: &[&str], at: &mut usize) -> Result<Filter, String> {
    let Some(&word) = t.get(*at) else {
        return Err(format!("the expression ends too early: {FILTER_HELP}"));
    };
    *at += 1;
    let id = |at: &mut usize| -> Result<String, String> {
        match (t.get(*at), t.get(*at + 1), t.get(*at + 2)) {
            (Some(&"("), Some(id), Some(&")")) => {
                *at += 3;
                Ok(id.to_string())
            }
            _ => Err(format!("`{word}` needs a tranche id: {word}(ID)")),
        }
    };
    Ok(match word {
        "not" => Filter::Not(Box::new(parse_not(t, at)?)),
        "(" => {
            let f = parse_or(t, at)?;
            if t.get(*at) != Some(&")") {
                return Err("a `(` is not closed".into());
            }
            *at += 1;
            f
        }
        "default" => Filter::Default,
        "rescued" => Filter::Rescued,
        "target" => Filter::Target,
        "released" => Filter::Released(id(at)?),
        "lapsed" => Filter::Lapsed(id(at)?),
        other => return Err(format!("unknown `{other}`: {FILTER_HELP}")),
    })
}

impl Filter {
    /// The tranche ids it names that the model does not have.
    pub fn unknown_tranches(&self, m: &Model) -> Vec<String> {
        match self {
            Filter::Released(id) | Filter::Lapsed(id) if !m.names.tranches.contains(id) => {
                vec![id.clone()]
            }
            Filter::And(a, b) | Filter::Or(a, b) => {
                let mut v = a.unknown_tranches(m);
                v.extend(b.unknown_tranches(m));
                v
            }
            Filter::Not(a) => a.unknown_tranches(m),
            _ => Vec::new(),
        }
    }

    /// Whether the path's outputs match.
    pub fn matches(&self, m: &Model, o: &PathOutput) -> bool {
        let tranche = |id: &str| {
            m.names
                .tranches
                .iter()
                .position(|t| t == id)
                .map(|k| o.tranches[k].0)
        };
        match self {
            Filter::Default => o.default_period.is_some(),
            Filter::Rescued => o.rescues > 0,
            Filter::Target => m
                .target
                .as_ref()
                .is_some_and(|(_, t)| o.target_revenue >= *t),
            Filter::Released(id) => matches!(tranche(id), Some(TrancheState::Released(_))),
            Filter::Lapsed(id) => matches!(tranche(id), Some(TrancheState::Lapsed(..))),
            Filter::And(a, b) => a.matches(m, o) && b.matches(m, o),
            Filter::Or(a, b) => a.matches(m, o) || b.matches(m, o),
            Filter::Not(a) => !a.matches(m, o),
        }
    }
}

/// The first `limit` paths among `0..paths` of `seed` that match, in path order.
pub fn find(m: &Model, seed: u64, paths: u64, filter: &Filter, limit: usize) -> Vec<u64> {
    let mut state = PathState::new(m);
    let mut found = Vec::new();
    for path in 0..paths.min(MAX_SEARCH) {
        state.run(m, seed, path, &mut NoTrace);
        if filter.matches(m, state.out()) {
            found.push(path);
            if found.len() >= limit {
                break;
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::Filter;

    #[test]
    fn filters_parse_with_precedence_and_refuse_what_they_cannot_read() {
        let f: Filter = "default and released(amazon_b) or not (target)"
            .parse()
            .unwrap();
        let expected = Filter::Or(
            Box::new(Filter::And(
                Box::new(Filter::Default),
                Box::new(Filter::Released("amazon_b".into())),
            )),
            Box::new(Filter::Not(Box::new(Filter::Target))),
        );
        assert_eq!(f, expected);
        for bad in [
            "",
            "default and",
            "released",
            "released(a",
            "(default",
            "defualt",
            "target x",
            &"not ".repeat(100_000),
        ] {
            assert!(bad.parse::<Filter>().is_err(), "{bad}");
        }
    }
}
