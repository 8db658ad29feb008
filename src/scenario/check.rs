//! Structural checks for a scenario built or changed in code, so the engine never meets an
//! index out of range.

use super::*;

/// Structural checks for a scenario built or changed in code (a file's scenario passes them by
/// construction): every index in range, a horizon with periods, pass-through and milestone
/// dependencies without loops. Ranges of values are the reader's business.
pub fn check(s: &Scenario) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    let (ne, nf, nm, nq) = (
        s.entities.len(),
        s.flows.len(),
        s.milestones.len(),
        s.quantities.len(),
    );
    let entity = |what: &str, e: EntityId, problems: &mut Vec<String>| {
        if e >= ne {
            problems.push(format!(
                "{what}: entity index {e}, but there are {ne} entities"
            ));
        }
    };
    let value = |what: &str, v: Value, problems: &mut Vec<String>| {
        if let Value::Random(q) = v
            && q >= nq
        {
            problems.push(format!(
                "{what}: quantity index {q}, but there are {nq} quantities"
            ));
        }
    };
    fn condition(c: &Condition, n: (usize, usize, usize, usize), out: &mut Vec<String>) {
        let (ne, nf, nm, nq) = n;
        let bad = match c {
            Condition::Reached(m) => *m >= nm,
            Condition::Compare {
                metric, threshold, ..
            } => {
                let metric_bad = match metric {
                    Metric::Spend(f) => *f >= nf,
                    Metric::SpendWith(e) => *e >= ne,
                    _ => false,
                };
                metric_bad || matches!(threshold, Value::Random(q) if *q >= nq)
            }
            Condition::And(a, b) | Condition::Or(a, b) => {
                condition(a, n, out);
                condition(b, n, out);
                false
            }
            Condition::Not(a) => {
                condition(a, n, out);
                false
            }
            Condition::Const(_) | Condition::Date { .. } => false,
        };
        if bad {
            out.push(format!(
                "a condition refers to an index out of range: {c:?}"
            ));
        }
    }
    let counts = (ne, nf, nm, nq);
    if s.horizon.periods == 0 {
        problems.push("the horizon has no period".to_string());
    }
    entity("company", s.company, &mut problems);
    for e in &s.entities {
        value(&format!("entity `{}` cash", e.id), e.cash, &mut problems);
        if let Some(st) = &e.stake {
            value(
                &format!("entity `{}` stake", e.id),
                st.fraction,
                &mut problems,
            );
            value(
                &format!("entity `{}` stake", e.id),
                st.invested,
                &mut problems,
            );
        }
    }
    for f in &s.flows {
        let what = format!("flow `{}`", f.id);
        entity(&what, f.from, &mut problems);
        entity(&what, f.to, &mut problems);
        for c in f.kind.conditions() {
            condition(c, counts, &mut problems);
        }
        if f.kind.flow_refs().iter().any(|&r| r >= nf) {
            problems.push(format!(
                "{what}: refers to a flow index out of range (there are {nf} flows)"
            ));
        }
        let values = f.kind.values();
        for v in values {
            value(&what, v, &mut problems);
        }
    }
    for m in &s.milestones {
        let v = match m.timing {
            MilestoneTiming::Hazard(v)
            | MilestoneTiming::ChancePerYear(v)
            | MilestoneTiming::Year(v) => v,
        };
        value(&format!("milestone `{}`", m.id), v, &mut problems);
        if let Some(c) = &m.condition {
            condition(c, counts, &mut problems);
        }
    }
    value("valuation multiple", s.valuation.multiple, &mut problems);
    value("valuation recovery", s.valuation.recovery, &mut problems);
    if let Some(r) = &s.rescue {
        entity("rescue", r.from, &mut problems);
        for v in [r.probability, r.amount, r.discount] {
            value("rescue", v, &mut problems);
        }
    }
    if let Some(c) = &s.correlation
        && c.quantities.iter().any(|&q| q >= nq)
    {
        problems.push("correlation: a quantity index out of range".to_string());
    }
    if problems.is_empty() {
        let loops = [
            crate::order::dependency_order(nf, |f| match &s.flows[f].kind {
                FlowKind::PassThrough(p) if p.of < nf => vec![p.of],
                _ => Vec::new(),
            })
            .is_err(),
            crate::order::dependency_order(nm, |m| s.milestone_deps(m)).is_err(),
        ];
        if loops[0] {
            problems.push("pass-throughs form a loop".to_string());
        }
        if loops[1] {
            problems.push("milestone conditions form a loop".to_string());
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}
