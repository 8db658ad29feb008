//! `loan`: principal lent to the company (drawn at once, evenly over months, or when a
//! condition holds), interest on what is outstanding, repayment in one bullet or in monthly
//! instalments, and seniority in default.
//!
//! Time runs in months whatever the step: a draw arrives at the start of its month, interest
//! accrues each month on what is outstanding after that month's draw, and a repayment leaves
//! at the end of its month. A period pays its months' interest as a cost of the company and its
//! draws and repayments as financing that arrives when it does (the insolvency scan sees each
//! at its month). A conditional draw is paid at the end of the first period of its window at
//! whose end the condition holds, like a conditional tranche; it lapses after the window.
//!
//! What the lender holds at the horizon is a claim on the company's value: the outstanding
//! principal, paid before equity in order of seniority (pro rata within a rank). After a
//! default the company's recovered value is shared the same way and the principal it does not
//! cover is stranded (the lender's `unrecovered`); on a company still operating, the claims are met from its
//! value at the horizon. Equity holders own what is left.

use std::fmt::Write as _;

use super::{Ends, Kind, PaymentClass, Step};
use crate::engine::Model;
use crate::engine::explain::{Explain, condition, value};
use crate::engine::path::{LANES, Rows, State, Trace};
use crate::scenario::build::Builder;
use crate::scenario::node::{Node, NodeKind};
use crate::scenario::reader::{Fields, count, date, string};
use crate::scenario::value::{Draw, Range};
use crate::scenario::{Condition, EntityId, Flow, FlowId, Scenario, Value};
use crate::time::Month;

/// A loan to the company.
#[derive(Clone, Debug)]
pub struct Loan {
    /// Principal lent.
    pub principal: Value,
    /// When it is drawn.
    pub draw: Drawdown,
    /// Yearly interest rate on what is outstanding (paid monthly, rate / 12 a month).
    pub rate: Value,
    /// How the principal is paid back.
    pub repayment: Repayment,
    /// Month of the last repayment.
    pub maturity: Month,
    /// Rank of its claim in default.
    pub seniority: Seniority,
}

/// When a loan's principal is drawn.
#[derive(Clone, Debug)]
pub enum Drawdown {
    /// In equal parts at the start of `months` months from `from` (one month: at once).
    Scheduled {
        /// First month of the draws.
        from: Month,
        /// Number of monthly draws.
        months: u32,
    },
    /// All of it at the end of the first period in the window at whose end the condition
    /// holds; the commitment lapses after the window.
    Conditional {
        /// The condition.
        condition: Condition,
        /// First month of the window.
        from: Month,
        /// Last month of the window.
        until: Month,
    },
}

impl Drawdown {
    /// The first month in which principal can be drawn.
    pub fn first(&self) -> Month {
        match self {
            Drawdown::Scheduled { from, .. } | Drawdown::Conditional { from, .. } => *from,
        }
    }

    /// The last month in which principal can be drawn.
    pub fn last(&self) -> Month {
        match self {
            Drawdown::Scheduled { from, months } => Month(from.0 + *months as i32 - 1),
            Drawdown::Conditional { until, .. } => *until,
        }
    }
}

/// How a loan's principal is paid back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repayment {
    /// All of it at the end of the maturity month.
    Bullet,
    /// At the end of each month from `from` to maturity, what is outstanding divided by the
    /// months left: equal instalments of principal drawn before `from`.
    Amortising {
        /// First month of instalments.
        from: Month,
    },
}

/// Rank of a loan's claim in default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Seniority {
    /// Paid first.
    Senior,
    /// Paid after senior loans, before equity.
    Subordinated,
}

impl Seniority {
    fn name(self) -> &'static str {
        match self {
            Seniority::Senior => "senior",
            Seniority::Subordinated => "subordinated",
        }
    }
}

impl Kind for Loan {
    const NAME: &'static str = "loan";
    type Compiled = LoanC;

    fn read(b: &mut Builder<'_>, f: &mut Fields<'_>, owner: &str) -> Option<Self> {
        let principal = b.value(
            f,
            "principal",
            owner,
            Range::NonNegative,
            Draw::PerPath,
            None,
        );
        let draw = match f.req(
            "draw",
            "a month such as \"2026-07\", { from = \"2026-07\", months = 12 } or { when = \"...\", window = { from = ..., until = ... } }",
            &mut b.d,
        ) {
            Some(n) => read_draw(b, n),
            None => None,
        };
        let rate = b.value(f, "rate", owner, Range::Unit, Draw::PerPath, None);
        let maturity = f
            .req(
                "maturity",
                "the month of the last repayment, such as \"2030-12\"",
                &mut b.d,
            )
            .and_then(|n| {
                let dt = date(n, "maturity", &mut b.d)?;
                b.bounds.end_not_before(dt, n, "maturity", &mut b.d)
            });
        let amortise_from = f.opt("amortise_from");
        let repayment_node = f.opt("repayment");
        let repayment = match repayment_node {
            None => Some("bullet".to_string()),
            Some(n) => string(n, "repayment", &mut b.d),
        };
        let seniority = read_seniority(b, f);
        let (draw, maturity) = (draw?, maturity?);
        if maturity < draw.last() {
            let span = f.key("maturity").map(|k| k.span).unwrap_or(f.span);
            b.d.error(
                span,
                format!(
                    "maturity: the loan matures ({maturity}) before its last possible draw ({}); expected a maturity on or after it",
                    draw.last()
                ),
            );
            return None;
        }
        let span = repayment_node.map_or(f.span, |n| n.span);
        let repayment = read_repayment(b, (&repayment?, span), amortise_from, &draw, maturity)?;
        Some(Loan {
            principal: principal?,
            draw,
            rate: rate?,
            repayment,
            maturity,
            seniority: seniority?,
        })
    }

    fn check_ends(&self, e: &Ends<'_>) -> Option<(&'static str, String)> {
        (!e.to_company).then(|| {
            (
                "to",
                format!(
                    "a loan is lent to the company `{}`, not to `{}`",
                    e.company.id, e.to.id
                ),
            )
        })
    }

    fn class(&self) -> PaymentClass {
        PaymentClass::DebtDrawdown
    }

    fn margin(&self) -> Option<Value> {
        None
    }

    fn values(&self) -> Vec<Value> {
        vec![self.principal, self.rate]
    }

    fn conditions(&self) -> Vec<&Condition> {
        match &self.draw {
            Drawdown::Conditional { condition, .. } => vec![condition],
            Drawdown::Scheduled { .. } => Vec::new(),
        }
    }

    fn compile(&self, id: FlowId, f: &Flow, s: &Scenario, out: &mut Vec<LoanC>) {
        let h = &s.horizon;
        let draw = match &self.draw {
            Drawdown::Scheduled { from, months } => LoanDraw::Scheduled {
                from: *from,
                months: *months as i32,
            },
            Drawdown::Conditional {
                condition,
                from,
                until,
            } => LoanDraw::Conditional {
                condition: condition.clone(),
                from: h.period_clamped(*from),
                until: h.period_clamped(*until),
            },
        };
        out.push(LoanC {
            flow: id,
            lender: f.from,
            principal: self.principal,
            draw,
            rate: self.rate,
            repayment: self.repayment,
            maturity: self.maturity,
            seniority: self.seniority,
        });
    }
}

/// `seniority`: "senior" (the default) or "subordinated".
fn read_seniority(b: &mut Builder<'_>, f: &mut Fields<'_>) -> Option<Seniority> {
    let Some(n) = f.opt("seniority") else {
        return Some(Seniority::Senior);
    };
    match string(n, "seniority", &mut b.d)?.as_str() {
        "senior" => Some(Seniority::Senior),
        "subordinated" => Some(Seniority::Subordinated),
        other => {
            b.d.error(
                n.span,
                format!(
                    "seniority: unknown rank `{other}`; expected \"senior\" or \"subordinated\""
                ),
            );
            None
        }
    }
}

/// `repayment` (as written, and where) with `amortise_from`, checked against the draws and
/// the maturity.
fn read_repayment(
    b: &mut Builder<'_>,
    (written, span): (&str, crate::diagnostic::Span),
    amortise_from: Option<&Node>,
    draw: &Drawdown,
    maturity: Month,
) -> Option<Repayment> {
    match (written, amortise_from) {
        ("bullet", None) => Some(Repayment::Bullet),
        ("bullet", Some(n)) => {
            b.d.error(n.span, "amortise_from: only an amortising loan (repayment = \"amortising\") has instalments; a bullet loan is repaid at maturity");
            None
        }
        ("amortising", None) => Some(Repayment::Amortising {
            from: Month(draw.first().0 + 1).min(maturity),
        }),
        ("amortising", Some(n)) => {
            let dt = date(n, "amortise_from", &mut b.d)?;
            if dt.first < draw.first() || dt.first > maturity {
                b.d.error(
                    n.span,
                    format!(
                        "amortise_from: instalments start in {}, expected a month from the first draw ({}) to maturity ({maturity})",
                        dt.first,
                        draw.first()
                    ),
                );
                return None;
            }
            Some(Repayment::Amortising { from: dt.first })
        }
        (other, _) => {
            b.d.error(
                span,
                format!(
                    "repayment: unknown repayment `{other}`; expected \"bullet\" or \"amortising\""
                ),
            );
            None
        }
    }
}

/// `draw = "2026-07"`, `{ from = "2026-07", months = 12 }` or `{ when = "...", window = {...} }`.
fn read_draw(b: &mut Builder<'_>, node: &Node) -> Option<Drawdown> {
    if let NodeKind::Str(_) = &node.kind {
        let dt = date(node, "draw", &mut b.d)?;
        let from = b.bounds.start_inside(dt, node, "draw", &mut b.d)?;
        return Some(Drawdown::Scheduled { from, months: 1 });
    }
    let mut f = Fields::of(node, "draw", &mut b.d)?;
    let draw = if f.has("when") {
        let condition = f.opt("when").and_then(|n| b.condition(n, "when"));
        let window = match f.req(
            "window",
            "a window with an expiry, such as { from = \"2026-Q2\", until = \"2027-Q4\" }",
            &mut b.d,
        ) {
            Some(w) => b.window(w, "draw"),
            None => None,
        };
        let (from, until) = window?;
        condition.map(|condition| Drawdown::Conditional {
            condition,
            from,
            until,
        })
    } else {
        let from = f
            .req("from", "the first month of the draws", &mut b.d)
            .and_then(|n| {
                let dt = date(n, "from", &mut b.d)?;
                b.bounds.start_inside(dt, n, "from", &mut b.d)
            });
        let months_node = f.opt("months");
        let months = match months_node {
            None => Some(1),
            // The horizon check below gives the tighter bound.
            Some(n) => count(n, "months", 1, u32::from(u16::MAX), &mut b.d),
        };
        let (from, months) = (from?, months?);
        if from.0 + months as i32 - 1 > b.bounds.last.0 {
            let span = months_node.map_or(node.span, |n| n.span);
            b.d.error(
                span,
                format!(
                    "months: the draws run past the horizon's last month ({}); expected at most {} months from {from}",
                    b.bounds.last,
                    b.bounds.last.0 - from.0 + 1
                ),
            );
            return None;
        }
        Some(Drawdown::Scheduled { from, months })
    };
    f.finish(&mut b.d);
    draw
}

/// When a loan's principal is drawn, compiled.
#[derive(Clone, Debug)]
pub enum LoanDraw {
    /// Equal parts at the start of `months` months from `from`.
    Scheduled {
        /// First month.
        from: Month,
        /// Number of monthly draws.
        months: i32,
    },
    /// All of it in the first period of `from..=until` at whose end the condition holds.
    Conditional {
        /// The condition.
        condition: Condition,
        /// First period of the window.
        from: usize,
        /// Last period of the window.
        until: usize,
    },
}

/// A loan, compiled.
#[derive(Clone, Debug)]
pub struct LoanC {
    /// The flow's index in the scenario.
    pub flow: FlowId,
    /// Who lends.
    pub lender: EntityId,
    /// Principal.
    pub principal: Value,
    /// When it is drawn.
    pub draw: LoanDraw,
    /// Yearly interest rate.
    pub rate: Value,
    /// How it is paid back.
    pub repayment: Repayment,
    /// Month of the last repayment.
    pub maturity: Month,
    /// Rank of its claim in default.
    pub seniority: Seniority,
}

impl LoanC {
    /// What is drawn at the start of month `mo` (scheduled draws only).
    fn drawn_in(&self, principal: f64, mo: Month) -> f64 {
        match self.draw {
            LoanDraw::Scheduled { from, months } if mo >= from && mo.0 < from.0 + months => {
                principal / f64::from(months)
            }
            _ => 0.0,
        }
    }

    /// What is repaid at the end of month `mo` out of `outstanding`.
    fn repaid_in(&self, outstanding: f64, mo: Month) -> f64 {
        match self.repayment {
            Repayment::Bullet if mo == self.maturity => outstanding,
            Repayment::Amortising { from } if mo >= from && mo <= self.maturity => {
                outstanding / f64::from(self.maturity.0 - mo.0 + 1)
            }
            _ => 0.0,
        }
    }
}

/// Where a conditional draw stands on a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Commitment {
    Pending,
    Drawn,
    Lapsed,
}

/// What each loan owes on the current path.
#[derive(Clone, Debug)]
pub struct LoanScratch {
    /// Row `k`: loan `k`'s principal outstanding in each lane.
    outstanding: Rows<f64>,
    commitment: Rows<Commitment>,
}

impl Step for LoanC {
    type Scratch = LoanScratch;

    fn scratch(items: &[Self], _: &Model, lanes: usize) -> LoanScratch {
        LoanScratch {
            outstanding: Rows::new(items.len(), lanes, 0.0),
            commitment: Rows::new(items.len(), lanes, Commitment::Pending),
        }
    }

    fn prepare(items: &[Self], own: &mut LoanScratch, st: &mut State, _: &Model, _: u64) {
        for (k, l) in items.iter().enumerate() {
            for i in st.lanes() {
                own.outstanding[(k, i)] = 0.0;
                own.commitment[(k, i)] = if st.v(l.principal, i) > 0.0 {
                    Commitment::Pending
                } else {
                    Commitment::Lapsed
                };
            }
        }
    }

    fn operate<T: Trace>(
        items: &[Self],
        own: &mut LoanScratch,
        st: &mut State,
        m: &Model,
        t: &mut T,
        p: usize,
    ) {
        let h = &m.horizon;
        let first = h.period_start(p);
        let months = h.step.months();
        for (k, l) in items.iter().enumerate() {
            for i in st.lanes() {
                if st.stopped(m, m.company, i) {
                    continue;
                }
                let (principal, rate) = (st.v(l.principal, i), st.v(l.rate, i));
                let mut interest = 0.0;
                for j in 0..months {
                    let mo = Month(first.0 + j);
                    let drawn = l.drawn_in(principal, mo);
                    if drawn > 0.0 {
                        own.outstanding[(k, i)] += drawn;
                        st.pay(m, t, l.flow, l.lender, m.company, i, drawn);
                        st.arrive(i, f64::from(j) / f64::from(months), drawn);
                    }
                    interest += own.outstanding[(k, i)] * rate / 12.0;
                    let repaid = l.repaid_in(own.outstanding[(k, i)], mo);
                    if repaid > 0.0 {
                        own.outstanding[(k, i)] -= repaid;
                        let class = PaymentClass::Repayment;
                        st.pay_as(m, t, l.flow, class, m.company, l.lender, i, repaid);
                        st.arrive(i, f64::from(j + 1) / f64::from(months), -repaid);
                    }
                }
                let class = PaymentClass::Interest;
                st.pay_as(m, t, l.flow, class, m.company, l.lender, i, interest);
            }
        }
    }

    fn finance<T: Trace>(
        items: &[Self],
        own: &mut LoanScratch,
        st: &mut State,
        m: &Model,
        t: &mut T,
        p: usize,
    ) {
        for (k, l) in items.iter().enumerate() {
            let LoanDraw::Conditional {
                condition,
                from,
                until,
            } = &l.draw
            else {
                continue;
            };
            // The condition over the batch, on the state after the loans before this one.
            let mut held = [false; LANES];
            if !st.is_nominal() && (*from..=*until).contains(&p) {
                let lanes = st.lanes().len();
                st.holds_lanes(m, condition, &mut held[..lanes]);
            }
            for i in st.lanes() {
                if !st.alive(i) || own.commitment[(k, i)] != Commitment::Pending {
                    continue;
                }
                let holds = if st.is_nominal() {
                    p == *from
                } else {
                    p >= *from && p <= *until && held[i]
                };
                if holds {
                    let principal = st.v(l.principal, i);
                    own.outstanding[(k, i)] += principal;
                    own.commitment[(k, i)] = Commitment::Drawn;
                    st.pay(m, t, l.flow, l.lender, m.company, i, principal);
                    st.arrive(i, 1.0, principal);
                } else if p >= *until {
                    own.commitment[(k, i)] = Commitment::Lapsed;
                }
            }
        }
    }

    /// The claims on the company's value, by seniority, before equity.
    fn finish(items: &[Self], own: &mut LoanScratch, st: &mut State, _: &Model) {
        for i in st.lanes() {
            let mut value = st.out.company_value[i];
            for rank in [Seniority::Senior, Seniority::Subordinated] {
                let owed: f64 = items
                    .iter()
                    .enumerate()
                    .filter(|(_, l)| l.seniority == rank)
                    .map(|(k, _)| own.outstanding[(k, i)])
                    .sum();
                if owed <= 0.0 {
                    continue;
                }
                let paid = value.min(owed);
                for (k, l) in items.iter().enumerate() {
                    if l.seniority != rank {
                        continue;
                    }
                    let o = own.outstanding[(k, i)];
                    let recovered = paid * (o / owed);
                    st.out.credit[(l.lender, i)] += recovered;
                    if st.out.default_period[i].is_some() {
                        st.out.unrecovered[(l.lender, i)] += o - recovered;
                    }
                }
                value -= paid;
            }
            st.out.company_value[i] = value;
        }
    }

    fn nominal_conditional(items: &[Self], st: &State, out: &mut [f64]) {
        for l in items {
            if matches!(l.draw, LoanDraw::Conditional { .. }) {
                out[l.flow] += st.v(l.principal, 0);
            }
        }
    }

    fn explain(items: &[Self], m: &Model, out: &mut Explain) {
        let n = &m.names;
        for l in items {
            let draw = match &l.draw {
                LoanDraw::Scheduled { from, months: 1 } => format!("drawn at the start of {from}"),
                LoanDraw::Scheduled { from, months } => {
                    format!("drawn in {months} equal parts monthly from {from}")
                }
                LoanDraw::Conditional {
                    condition: c,
                    from,
                    until,
                } => format!(
                    "drawn at the end of the first period when {}, from {} to {} (step 5)",
                    condition(m, c),
                    m.horizon.label((*from).min(m.periods - 1)),
                    if *until >= m.periods {
                        "past the horizon".to_string()
                    } else {
                        m.horizon.label(*until)
                    }
                ),
            };
            let repay = match l.repayment {
                Repayment::Bullet => format!("repaid at the end of {}", l.maturity),
                Repayment::Amortising { from } => format!(
                    "repaid monthly from {from} to {}, outstanding / months left",
                    l.maturity
                ),
            };
            let mut line = String::new();
            let _ = write!(
                line,
                "     loan           {:20} {} -> {}: {} {draw}; interest {} a year on what is outstanding, monthly; {repay}; {}",
                n.flows[l.flow],
                n.entities[l.lender],
                n.entities[m.company],
                value(m, l.principal),
                value(m, l.rate),
                l.seniority.name()
            );
            out.operating.push(line);
        }
    }
}
