//! Structural checks for a scenario built or changed in code, so the engine never meets an
//! index out of range.

use super::*;

/// Structural checks for a scenario built or changed in code (a file's scenario passes them by
/// construction): every index in range, a horizon with periods, pass-through and milestone
/// dependencies without loops. Ranges of values are the reader's business.
pub fn check(s: &Scenario) -> Result<(), Vec<String>> {
    let mut c = Checker {
        entities: s.entities.len(),
        flows: s.flows.len(),
        milestones: s.milestones.len(),
        quantities: s.quantities.len(),
        problems: Vec::new(),
    };
    if s.horizon.periods == 0 {
        c.problems.push("the horizon has no period".to_string());
    }
    c.entity("company", s.company);
    for e in &s.entities {
        c.value(&format!("entity `{}` cash", e.id), e.cash);
        if let Some(st) = &e.stake {
            c.value(&format!("entity `{}` stake", e.id), st.fraction);
            c.value(&format!("entity `{}` stake", e.id), st.invested);
        }
    }
    for f in &s.flows {
        c.flow(f);
    }
    for m in &s.milestones {
        let v = match m.timing {
            MilestoneTiming::Hazard(v)
            | MilestoneTiming::ChancePerYear(v)
            | MilestoneTiming::Year(v) => v,
        };
        c.value(&format!("milestone `{}`", m.id), v);
        if let Some(cond) = &m.condition {
            c.condition(cond);
        }
    }
    c.value("valuation multiple", s.valuation.multiple);
    c.value("valuation recovery", s.valuation.recovery);
    if let Some(r) = &s.rescue {
        c.entity("rescue", r.from);
        for v in [r.probability, r.amount, r.discount] {
            c.value("rescue", v);
        }
    }
    if let Some(corr) = &s.correlation
        && corr.quantities.iter().any(|&q| q >= c.quantities)
    {
        c.problems
            .push("correlation: a quantity index out of range".to_string());
    }
    // Orders are only meaningful once every index is in range.
    if c.problems.is_empty() {
        c.loops(s);
    }
    if c.problems.is_empty() {
        Ok(())
    } else {
        Err(c.problems)
    }
}

/// What a scenario holds, and the problems found so far.
struct Checker {
    entities: usize,
    flows: usize,
    milestones: usize,
    quantities: usize,
    problems: Vec<String>,
}

impl Checker {
    fn entity(&mut self, what: &str, e: EntityId) {
        if e >= self.entities {
            self.problems.push(format!(
                "{what}: entity index {e}, but there are {} entities",
                self.entities
            ));
        }
    }

    fn value(&mut self, what: &str, v: Value) {
        if let Value::Random(q) = v
            && q >= self.quantities
        {
            self.problems.push(format!(
                "{what}: quantity index {q}, but there are {} quantities",
                self.quantities
            ));
        }
    }

    fn flow(&mut self, f: &Flow) {
        let what = format!("flow `{}`", f.id);
        self.entity(&what, f.from);
        self.entity(&what, f.to);
        for c in f.kind.conditions() {
            self.condition(c);
        }
        if f.kind.flow_refs().iter().any(|&r| r >= self.flows) {
            self.problems.push(format!(
                "{what}: refers to a flow index out of range (there are {} flows)",
                self.flows
            ));
        }
        for v in f.kind.values() {
            self.value(&what, v);
        }
    }

    fn condition(&mut self, c: &Condition) {
        let bad = match c {
            Condition::Reached(m) => *m >= self.milestones,
            Condition::Compare {
                metric, threshold, ..
            } => {
                let metric_bad = match metric {
                    Metric::Spend(f) => *f >= self.flows,
                    Metric::SpendWith(e) => *e >= self.entities,
                    _ => false,
                };
                metric_bad || matches!(threshold, Value::Random(q) if *q >= self.quantities)
            }
            Condition::And(a, b) | Condition::Or(a, b) => {
                self.condition(a);
                self.condition(b);
                false
            }
            Condition::Not(a) => {
                self.condition(a);
                false
            }
            Condition::Const(_) | Condition::Date { .. } => false,
        };
        if bad {
            self.problems.push(format!(
                "a condition refers to an index out of range: {c:?}"
            ));
        }
    }

    /// Pass-throughs and milestone conditions must each have an order.
    fn loops(&mut self, s: &Scenario) {
        let passes_loop = crate::order::dependency_order(self.flows, |f| match &s.flows[f].kind {
            FlowKind::PassThrough(p) => vec![p.of],
            _ => Vec::new(),
        })
        .is_err();
        if passes_loop {
            self.problems.push("pass-throughs form a loop".to_string());
        }
        if crate::order::dependency_order(self.milestones, |m| s.milestone_deps(m)).is_err() {
            self.problems
                .push("milestone conditions form a loop".to_string());
        }
    }
}
