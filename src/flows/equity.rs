//! `equity`: investment into the company in tranches, scheduled or released when a condition
//! holds within a window. All tranches released in a period are issued together: each investor
//! gets amount / post-money, and earlier holders are diluted once by the period's new shares.

use std::fmt::Write as _;

use super::{Ends, Kind, PaymentClass, Step};
use crate::engine::Model;
use crate::engine::explain::{Explain, condition, value};
use crate::engine::path::{Lapse, Rows, State, Trace, TrancheState};
use crate::scenario::build::Builder;
use crate::scenario::node::{Node, NodeKind};
use crate::scenario::reader::{Fields, array, date};
use crate::scenario::value::{Draw, Range};
use crate::scenario::{Condition, EntityId, Flow, FlowId, Scenario, Value};
use crate::time::Month;

/// Equity investment into the company, in tranches.
#[derive(Clone, Debug)]
pub struct Equity {
    /// Tranches, in file order.
    pub tranches: Vec<Tranche>,
}

/// One tranche of an equity investment.
#[derive(Clone, Debug)]
pub struct Tranche {
    /// Identifier (unique across all tranches).
    pub id: String,
    /// Amount.
    pub amount: Value,
    /// When and on what it is paid.
    pub timing: TrancheTiming,
    /// Post-money valuation at which the stake is priced.
    pub post_money: PostMoney,
    /// Provenance note.
    pub source: Option<String>,
    /// Where it was defined.
    pub span: crate::diagnostic::Span,
}

/// When a tranche is paid.
#[derive(Clone, Debug)]
pub enum TrancheTiming {
    /// On a date.
    Scheduled(Month),
    /// In the first period inside the window in which the condition holds; lapses after `until`.
    Conditional {
        /// The condition.
        condition: Condition,
        /// First month of the window.
        from: Month,
        /// Last month of the window (the expiry).
        until: Month,
    },
}

/// How a tranche's stake is priced.
#[derive(Clone, Copy, Debug)]
pub enum PostMoney {
    /// A stated post-money valuation.
    Stated(Value),
    /// The company's value at the time (revenue run-rate x multiple).
    Market,
}

impl Kind for Equity {
    const NAME: &'static str = "equity";
    type Compiled = TrancheC;

    fn read(b: &mut Builder<'_>, f: &mut Fields<'_>, owner: &str) -> Option<Self> {
        let list = f.req(
            "tranche",
            "[[flow.tranche]] entries with an amount and a date or a condition",
            &mut b.d,
        )?;
        let items = array(list, "tranche", &mut b.d)?;
        if items.is_empty() {
            b.d.error(list.span, "tranche: expected at least one tranche");
            return None;
        }
        let tranches: Vec<Option<Tranche>> =
            items.iter().map(|n| read_tranche(b, n, owner)).collect();
        tranches
            .into_iter()
            .collect::<Option<Vec<_>>>()
            .map(|tranches| Equity { tranches })
    }

    fn check_ends(&self, e: &Ends<'_>) -> Option<(&'static str, String)> {
        (!e.to_company).then(|| {
            (
                "to",
                format!(
                    "equity flows go into the company `{}`, not `{}`",
                    e.company.id, e.to.id
                ),
            )
        })
    }

    fn class(&self) -> PaymentClass {
        PaymentClass::Equity
    }

    fn margin(&self) -> Option<Value> {
        None
    }

    fn values(&self) -> Vec<Value> {
        self.tranches
            .iter()
            .flat_map(|t| {
                let price = match t.post_money {
                    PostMoney::Stated(v) => Some(v),
                    PostMoney::Market => None,
                };
                [Some(t.amount), price].into_iter().flatten()
            })
            .collect()
    }

    fn conditions(&self) -> Vec<&Condition> {
        self.tranches
            .iter()
            .filter_map(|t| match &t.timing {
                TrancheTiming::Conditional { condition, .. } => Some(condition),
                TrancheTiming::Scheduled(_) => None,
            })
            .collect()
    }

    fn compile(&self, id: FlowId, f: &Flow, s: &Scenario, out: &mut Vec<TrancheC>) {
        let h = &s.horizon;
        for t in &self.tranches {
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
            out.push(TrancheC {
                flow: id,
                investor: f.from,
                amount: t.amount,
                when,
                post_money: t.post_money,
            });
        }
    }
}

fn read_tranche(b: &mut Builder<'_>, node: &Node, flow: &str) -> Option<Tranche> {
    let mut f = Fields::of(node, format!("a tranche of flow `{flow}`"), &mut b.d)?;
    let id = b.id(&mut f, "tranche");
    let owner = id.clone().unwrap_or_default();
    f.what = format!("tranche `{owner}`");
    let amount = b.value(
        &mut f,
        "amount",
        &owner,
        Range::NonNegative,
        Draw::PerPath,
        None,
    );
    let post_money = match f.opt("post_money") {
        None => Some(PostMoney::Market),
        Some(n) if matches!(&n.kind, NodeKind::Str(s) if s == "market") => Some(PostMoney::Market),
        Some(n) => {
            b.q.value(
                n,
                "post_money",
                &format!("{owner}.post_money"),
                Range::Positive,
                Draw::PerPath,
                &mut b.d,
            )
            .map(PostMoney::Stated)
        }
    };
    let date_node = f.opt("date");
    let when_node = f.opt("when");
    let window_node = f.opt("window");
    let source = b.source(&mut f);
    let timing = match (date_node, when_node) {
        (Some(dn), None) => {
            if let Some(w) = window_node {
                b.d.error(w.span, "window: only conditional tranches (with `when`) have a window; a scheduled tranche is paid on its `date`");
                None
            } else {
                let dt = date(dn, "date", &mut b.d);
                dt.and_then(|dt| b.bounds.start_inside(dt, dn, "date", &mut b.d))
                    .map(TrancheTiming::Scheduled)
            }
        }
        (None, Some(wn)) => {
            let condition = b.condition(wn, "when");
            let window = match window_node {
                Some(w) => b.window(w, "tranche"),
                None => {
                    b.d.error(
                        f.span,
                        format!("missing required field `window` in tranche `{owner}`: a conditional tranche needs a window with an expiry, such as window = {{ from = \"2026-Q2\", until = \"2028-Q4\" }}"),
                    );
                    None
                }
            };
            let (from, until) = window?;
            condition.map(|condition| TrancheTiming::Conditional {
                condition,
                from,
                until,
            })
        }
        (Some(_), Some(wn)) => {
            b.d.error(wn.span, "a tranche has either a `date` (scheduled) or a `when` condition with a `window` (conditional), not both");
            None
        }
        (None, None) => {
            b.d.error(
                f.span,
                format!("missing required field in tranche `{owner}`: expected `date` (a scheduled tranche) or `when` and `window` (a conditional tranche)"),
            );
            None
        }
    };
    f.finish(&mut b.d);
    Some(Tranche {
        id: id?,
        amount: amount?,
        timing: timing?,
        post_money: post_money?,
        source,
        span: node.span,
    })
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

/// An equity tranche, compiled. The tranches of all equity flows, in file order, are the
/// model's tranches (`Names::tranches`, `PathOutput::tranches`).
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

/// Working state of the equity step on a batch.
#[derive(Clone, Debug)]
pub struct EquityScratch {
    /// The tranches a lane issues together this period.
    round: Vec<usize>,
    /// Per tranche: whether its condition holds in each lane this period.
    holds: Rows<bool>,
    /// Per lane: whether a tranche is released or lapses this period.
    acting: Vec<bool>,
}

impl Step for TrancheC {
    /// The tranches released in the current period, in the lane being priced.
    type Scratch = EquityScratch;

    fn scratch(items: &[Self], _: &Model, lanes: usize) -> EquityScratch {
        EquityScratch {
            round: Vec::with_capacity(items.len()),
            holds: Rows::new(items.len(), lanes, false),
            acting: vec![false; lanes],
        }
    }

    fn prepare(items: &[Self], _: &mut EquityScratch, st: &mut State, _: &Model, _: u64) {
        for (k, tr) in items.iter().enumerate() {
            for i in st.lanes() {
                let state = if st.v(tr.amount, i) > 0.0 {
                    TrancheState::Pending
                } else {
                    TrancheState::Empty
                };
                st.out.tranche_state[(k, i)] = state;
                st.out.tranche_amount[(k, i)] = 0.0;
            }
        }
    }

    fn finance<T: Trace>(
        items: &[Self],
        own: &mut EquityScratch,
        st: &mut State,
        m: &Model,
        t: &mut T,
        p: usize,
    ) {
        // Before its window (or date) a tranche neither pays nor lapses.
        let acts = |tr: &TrancheC| match tr.when {
            TrancheWhen::Scheduled(at, _) => at == p,
            TrancheWhen::Conditional { from, .. } => p >= from,
        };
        if !items.iter().any(acts) {
            return;
        }
        // Each condition in its window over the whole batch, on the state before any lane's
        // financing (a lane's financing changes only its own state).
        let lanes = st.lanes().len();
        for (k, tr) in items.iter().enumerate() {
            if let TrancheWhen::Conditional {
                condition,
                from,
                until,
            } = &tr.when
                && !st.is_nominal()
                && (*from..=*until).contains(&p)
            {
                st.holds_lanes(m, condition, &mut own.holds.row_mut(k)[..lanes]);
            }
        }
        // Lanes in which some tranche is released or lapses: the others have nothing to do. A
        // tranche that does not act this period does neither (`from <= until`).
        let acting = &mut own.acting[..lanes];
        acting.fill(false);
        for (k, tr) in items.iter().enumerate().filter(|(_, tr)| acts(tr)) {
            let (always, when_held) = acts_when(tr, p, st.is_nominal());
            let (states, held) = (
                &st.out.tranche_state.row(k)[..lanes],
                &own.holds.row(k)[..lanes],
            );
            for ((a, state), &held) in acting.iter_mut().zip(states).zip(held) {
                let pending = matches!(state, TrancheState::Pending);
                *a |= pending & (always | (when_held & held));
            }
        }
        for i in st.lanes() {
            if own.acting[i] && st.alive(i) {
                finance_lane(items, own, st, m, t, p, i);
            }
        }
    }

    fn nominal_conditional(items: &[Self], st: &State, out: &mut [f64]) {
        for t in items {
            if matches!(t.when, TrancheWhen::Conditional { .. }) {
                out[t.flow] += st.v(t.amount, 0);
            }
        }
    }

    fn explain(items: &[Self], m: &Model, out: &mut Explain) {
        let (h, n) = (&m.horizon, &m.names);
        for (k, t) in items.iter().enumerate() {
            let price = match t.post_money {
                PostMoney::Stated(x) => format!("post-money {}", value(m, x)),
                PostMoney::Market => "the company's value as pre-money".to_string(),
            };
            let when = match &t.when {
                TrancheWhen::Scheduled(p, at) => {
                    format!("in {} ({:.2} into the period)", h.label(*p), at)
                }
                TrancheWhen::Conditional {
                    condition: c,
                    from,
                    until,
                } => format!(
                    "when {}, from {} to {}",
                    condition(m, c),
                    h.label((*from).min(m.periods - 1)),
                    if *until >= m.periods {
                        "past the horizon".to_string()
                    } else {
                        h.label(*until)
                    }
                ),
            };
            let mut line = String::new();
            let _ = write!(
                line,
                "     {:20} {} pays {} {when}, at {price}",
                n.tranches[k],
                n.entities[t.investor],
                value(m, t.amount)
            );
            out.equity.push(line);
        }
    }
}

/// What a tranche does in period `p` in one lane.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Decision {
    Release,
    Expire,
    Wait,
}

/// What tranche `tr`, in `state`, does in period `p`, its condition holding (`held`) or not.
#[inline(always)]
fn decide(tr: &TrancheC, state: TrancheState, held: bool, p: usize, nominal: bool) -> Decision {
    if state != TrancheState::Pending {
        return Decision::Wait;
    }
    match tr.when {
        TrancheWhen::Scheduled(at, _) if at == p => Decision::Release,
        TrancheWhen::Scheduled(..) => Decision::Wait,
        TrancheWhen::Conditional { from, until, .. } => {
            let holds = if nominal {
                p == from
            } else {
                p >= from && p <= until && held
            };
            if holds {
                Decision::Release
            } else if p >= until {
                Decision::Expire
            } else {
                Decision::Wait
            }
        }
    }
}

/// Whether a pending tranche acts in period `p` (is released or expires, see [`decide`]):
/// `(always, when its condition holds)`, what does not depend on the lane, so that the lanes
/// are decided in a loop without branches.
fn acts_when(tr: &TrancheC, p: usize, nominal: bool) -> (bool, bool) {
    match tr.when {
        TrancheWhen::Scheduled(at, _) => (at == p, false),
        TrancheWhen::Conditional { from, until, .. } if nominal => (p == from || p >= until, false),
        TrancheWhen::Conditional { from, until, .. } => (p >= until, (from..=until).contains(&p)),
    }
}

/// The equity step of period `p` in lane `i`.
fn finance_lane<T: Trace>(
    items: &[TrancheC],
    own: &mut EquityScratch,
    st: &mut State,
    m: &Model,
    t: &mut T,
    p: usize,
    i: usize,
) {
    let (round, held) = (&mut own.round, &own.holds);
    round.clear();
    // Which tranches are released, all on the same state.
    for (k, tr) in items.iter().enumerate() {
        let state = st.out.tranche_state[(k, i)];
        match decide(tr, state, held[(k, i)], p, st.is_nominal()) {
            Decision::Release => round.push(k),
            Decision::Expire => {
                st.out.tranche_state[(k, i)] = TrancheState::Lapsed(p, Lapse::Expired);
            }
            Decision::Wait => {}
        }
    }
    if round.is_empty() {
        return;
    }
    // Priced together: "market" tranches form one round at the company's value as
    // pre-money; a post-money below what the period's tranches put in is raised to it.
    let value = st.valuation(m, i);
    let (mut total, mut market) = (0.0, 0.0);
    for &k in round.iter() {
        let amount = st.v(items[k].amount, i);
        total += amount;
        if matches!(items[k].post_money, PostMoney::Market) {
            market += amount;
        }
    }
    let post_money = |st: &State, k: usize| {
        match items[k].post_money {
            PostMoney::Stated(v) => st.v(v, i),
            PostMoney::Market => value + market,
        }
        .max(total)
    };
    // Earlier holders are diluted once by all the period's new shares.
    let issued: f64 = round
        .iter()
        .map(|&k| st.v(items[k].amount, i) / post_money(st, k))
        .sum();
    let keep = (1.0 - issued).max(0.0);
    for e in 0..m.entities {
        st.out.stake[(e, i)] *= keep;
    }
    for &k in round.iter() {
        let tr = &items[k];
        let amount = st.v(tr.amount, i);
        st.out.stake[(tr.investor, i)] += amount / post_money(st, k);
        st.pay(m, t, tr.flow, tr.investor, m.company, i, amount);
        st.out.tranche_state[(k, i)] = TrancheState::Released(p);
        st.out.tranche_amount[(k, i)] = amount;
        // A scheduled tranche arrives at the start of its month, a conditional one at the
        // end of the period in which its condition held.
        let at = match tr.when {
            TrancheWhen::Scheduled(_, at) => at,
            TrancheWhen::Conditional { .. } => 1.0,
        };
        st.arrive(i, at, amount);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_tranche_acts_when_decide_says_it_does() {
        let tranche = |when| TrancheC {
            flow: 0,
            investor: 0,
            amount: Value::Const(1.0),
            when,
            post_money: PostMoney::Market,
        };
        let conditional = |from, until| TrancheWhen::Conditional {
            condition: Condition::Const(true),
            from,
            until,
        };
        let tranches = [
            tranche(TrancheWhen::Scheduled(3, 0.5)),
            tranche(conditional(2, 5)),
            tranche(conditional(4, 4)),
            tranche(conditional(0, 8)),
        ];
        let states = [
            TrancheState::Pending,
            TrancheState::Released(1),
            TrancheState::Lapsed(1, Lapse::Expired),
            TrancheState::Empty,
        ];
        for tr in &tranches {
            for p in 0..8 {
                for nominal in [false, true] {
                    let (always, when_held) = acts_when(tr, p, nominal);
                    for state in states {
                        for held in [false, true] {
                            let pending = state == TrancheState::Pending;
                            assert_eq!(
                                pending & (always | (when_held & held)),
                                decide(tr, state, held, p, nominal) != Decision::Wait,
                                "{:?} in {p}, {state:?}, held {held}, nominal {nominal}",
                                tr.when
                            );
                        }
                    }
                }
            }
        }
    }
}
