//! `cfsim explain`: the compiled model as text, so a reader can check what will be simulated
//! (the period order, the random quantities and their keys, the schedules, the conditions)
//! before trusting a number.

use std::fmt::Write as _;

use super::model::{MilestoneRule, Model};
use crate::scenario::{Cmp, Condition, Metric, Value};

/// What the kinds of flow contribute to `explain`, section by section (see
/// [`crate::flows::Step::explain`]).
#[derive(Debug, Default)]
pub struct Explain {
    /// Random streams of their own, with their keys.
    pub keys: Vec<String>,
    /// One line per operating flow (step 2).
    pub operating: Vec<String>,
    /// One line per equity tranche (step 5).
    pub equity: Vec<String>,
}

/// The compiled model as text.
pub fn explain(m: &Model) -> String {
    let mut out = String::new();
    let h = &m.horizon;
    let n = &m.names;
    let v = |x: Value| value(m, x);
    let _ = writeln!(
        out,
        "Horizon: {} to {}, {} periods of {} ({} years each)",
        h.label(0),
        h.label(m.periods - 1),
        m.periods,
        h.step.name(),
        m.dt
    );
    let _ = writeln!(out, "Company: {}", n.entities[m.company]);

    let _ = writeln!(out, "\nRandom quantities (keys of their draws):");
    if m.quantities.iter().all(|q| q.dist.is_fixed()) {
        let _ = writeln!(out, "  none");
    }
    for (i, q) in m.quantities.iter().enumerate() {
        if q.dist.is_fixed() {
            continue;
        }
        let _ = writeln!(
            out,
            "  {:24} {:16x}  {}{}",
            n.quantities[i],
            q.key,
            q.dist,
            if q.per_period {
                ", drawn every period"
            } else {
                ", drawn once per path"
            }
        );
    }
    if let Some((members, _)) = &m.correlation {
        let names: Vec<&str> = members.iter().map(|&q| n.quantities[q].as_str()).collect();
        let _ = writeln!(out, "  correlated (Gaussian copula): {}", names.join(", "));
    }
    let mut kinds = Explain::default();
    m.kinds.explain(m, &mut kinds);
    for line in &kinds.keys {
        let _ = writeln!(out, "{line}");
    }

    let _ = writeln!(out, "\nEach period, in this order:");
    let _ = writeln!(out, "  1. per-period draws");
    let _ = writeln!(out, "  2. operating flows:");
    for line in &kinds.operating {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(
        out,
        "  3. the state every condition and price reads: cash, run-rate and valuation at the period's end, spend so far, the period's last month"
    );
    let _ = writeln!(out, "  4. milestones, in dependency order:");
    for &i in &m.milestone_order {
        let ms = &m.milestones[i];
        let rule = match ms.rule {
            MilestoneRule::Rate(r) => format!("hazard rate {} a year", v(r)),
            MilestoneRule::Chance(c) => format!("chance {} a year", v(c)),
            MilestoneRule::Year(y) => format!("in year {}", v(y)),
        };
        let when = ms
            .condition
            .as_ref()
            .map_or(String::new(), |c| format!(", while {}", condition(m, c)));
        let _ = writeln!(
            out,
            "     {:20} {rule}, from {}{when}  (threshold key {:x})",
            n.milestones[i],
            h.label(ms.from.min(m.periods - 1)),
            ms.key
        );
    }
    let _ = writeln!(out, "  5. equity, issued together within a period:");
    for line in &kinds.equity {
        let _ = writeln!(out, "{line}");
    }
    let rescue = match &m.rescue {
        Some(r) => format!(
            "a rescue of {} from {} with chance {} per attempt (at most {}, key {:x}), priced at (1 - {}) x value as pre-money, else default",
            v(r.amount),
            n.entities[r.from],
            v(r.probability),
            r.max,
            r.key,
            v(r.discount)
        ),
        None => "default".to_string(),
    };
    let _ = writeln!(
        out,
        "  6. insolvency where cash would cross zero within the period: {rescue}"
    );
    let _ = writeln!(
        out,
        "\nValuation: run-rate x {}; recovery {} after a default",
        v(m.multiple),
        v(m.recovery)
    );
    if let Some((periods, target)) = &m.target {
        let _ = writeln!(
            out,
            "Target: revenue of {target} over periods {} to {}",
            h.label(periods.start),
            h.label(periods.end.saturating_sub(1))
        );
    }
    out
}

/// A start offset into a period, in months.
pub fn offset(years: f64) -> String {
    if years > 0.0 {
        format!(" + {:.0} months", years * 12.0)
    } else {
        String::new()
    }
}

/// Numbers to three decimals, in brackets.
pub fn list(xs: &[f64]) -> String {
    let shown: Vec<String> = xs.iter().map(|x| format!("{x:.3}")).collect();
    format!("[{}]", shown.join(" "))
}

/// A number as written: a constant, or the quantity it is drawn from.
pub fn value(m: &Model, v: Value) -> String {
    match v {
        Value::Const(c) => format!("{c}"),
        Value::Random(q) if m.quantities[q].dist.is_fixed() => format!("{}", m.quantities[q].dist),
        Value::Random(q) => format!("`{}`", m.names.quantities[q]),
    }
}

/// A condition with names instead of indices.
pub fn condition(m: &Model, c: &Condition) -> String {
    let cmp = |c: Cmp| match c {
        Cmp::Ge => ">=",
        Cmp::Gt => ">",
        Cmp::Le => "<=",
        Cmp::Lt => "<",
    };
    match c {
        Condition::Const(b) => b.to_string(),
        Condition::Reached(ms) => format!("reached({})", m.names.milestones[*ms]),
        Condition::Compare {
            metric,
            cmp: op,
            threshold,
        } => {
            let what = match metric {
                Metric::Revenue => "revenue".to_string(),
                Metric::Cash => "cash".to_string(),
                Metric::Valuation => "valuation".to_string(),
                Metric::Spend(f) => format!("spend({})", m.names.flows[*f]),
                Metric::SpendWith(e) => format!("spend_with({})", m.names.entities[*e]),
            };
            format!("{what} {} {}", cmp(*op), value(m, *threshold))
        }
        Condition::Date { cmp: op, month } => format!("date {} {month}", cmp(*op)),
        Condition::And(a, b) => format!("({} and {})", condition(m, a), condition(m, b)),
        Condition::Or(a, b) => format!("({} or {})", condition(m, a), condition(m, b)),
        Condition::Not(a) => format!("not {}", condition(m, a)),
    }
}
