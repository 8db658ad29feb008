//! `equity`: investment into the company in tranches, scheduled or released when a condition
//! holds within a window. All tranches released in a period are issued together: each investor
//! gets amount / post-money, and earlier holders are diluted once by the period's new shares.

use std::fmt::Write as _;

use super::{Ends, Kind, PaymentClass, Step};
use crate::engine::Model;
use crate::engine::explain::{Explain, condition, value};
use crate::engine::path::{LANES, LaneIndices, Lapse, Rows, State, Trace, TrancheState};
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
    /// Per tranche: whether its condition holds in each lane this period.
    holds: Rows<bool>,
    /// Per tranche: whether it is released in each lane this period.
    released: Rows<bool>,
    /// Per tranche: whether it is released in some lane this period.
    rounds: Vec<bool>,
    /// Per tranche: the share of the company it buys in each lane where it is released.
    shares: Rows<f64>,
    /// [`finance_lanes`]' lane-by-lane values, kept between calls (not zeroed on each).
    work: Rows<f64>,
    /// Entities that can hold a stake (opening stakes, the tranches' investors, the rescuer),
    /// in index order: every other entity's stake is zero and stays so.
    holders: Vec<EntityId>,
}

impl Step for TrancheC {
    type Scratch = EquityScratch;

    fn scratch(items: &[Self], m: &Model, lanes: usize) -> EquityScratch {
        let mut holders: Vec<EntityId> = (m.opening.iter().map(|o| o.0))
            .chain(items.iter().map(|tr| tr.investor))
            .chain(m.rescue.as_ref().map(|r| r.from))
            .collect();
        holders.sort_unstable();
        holders.dedup();
        EquityScratch {
            holds: Rows::new(items.len(), lanes, false),
            released: Rows::new(items.len(), lanes, false),
            rounds: Vec::with_capacity(items.len()),
            shares: Rows::new(items.len(), lanes, 0.0),
            work: Rows::new(WORK_ROWS, lanes, 0.0),
            holders,
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
        // A period in which no tranche can be released or lapse has nothing to do. A tranche
        // lapses only in the last period of its window: there every lane still pending and
        // operating is released or lapses, and a lane whose company defaulted earlier lapsed
        // then, so no lane is pending after it.
        let acts = |tr: &TrancheC| {
            let (always, when_held, expires) = release_when(tr, p, st.is_nominal());
            let last = matches!(tr.when, TrancheWhen::Conditional { until, .. } if until == p);
            always || when_held || (expires && last)
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
        finance_lanes(items, own, st, m, t, p);
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

/// When a pending tranche is released in period `p`: `(always, when its condition holds)`;
/// and whether it lapses otherwise. What does not depend on the lane, so that the lanes are
/// decided in a loop without branches. A scheduled tranche is released in its period. A
/// conditional one is released in the first period of its window at whose end its condition
/// holds (on the nominal path: in the window's first period) and lapses at the end of `until`.
fn release_when(tr: &TrancheC, p: usize, nominal: bool) -> (bool, bool, bool) {
    match tr.when {
        TrancheWhen::Scheduled(at, _) => (at == p, false, false),
        TrancheWhen::Conditional { from, until, .. } if nominal => (p == from, false, p >= until),
        TrancheWhen::Conditional { from, until, .. } => {
            (false, (from..=until).contains(&p), p >= until)
        }
    }
}

/// Rows of [`EquityScratch::work`].
const WORK_ROWS: usize = 8;

/// The equity step of period `p` over the batch. In each operating lane, the pending tranches
/// that are released form one round, decided on the state before any of them; the others
/// whose window ends lapse. A round is priced together: "market" tranches at the company's
/// value as pre-money; a post-money below what the round puts in is raised to it. Earlier
/// holders are diluted once by all the round's new shares, then each tranche, in file order,
/// takes its stake, pays and arrives. Each step is a loop over the lanes with the same
/// arithmetic, in the same order, as one lane on its own.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2"))]
fn finance_lanes<T: Trace>(
    items: &[TrancheC],
    own: &mut EquityScratch,
    st: &mut State,
    m: &Model,
    t: &mut T,
    p: usize,
) {
    let lanes = st.lanes().len();
    let nominal = st.is_nominal();
    let mut alive = [false; LANES];
    for (i, a) in alive[..lanes].iter_mut().enumerate() {
        *a = st.alive(i);
    }
    let [total, market, amounts, value, price, issued, keep, paid] = own.work.rows_mut();
    total[..lanes].fill(0.0);
    market[..lanes].fill(0.0);
    issued[..lanes].fill(0.0);
    let mut any = [false; LANES];
    // Per tranche: whether it is released in some lane (a flag, not a scan of the lanes).
    let rounds = &mut own.rounds;
    rounds.clear();
    rounds.resize(items.len(), false);
    for (k, tr) in items.iter().enumerate() {
        let (always, when_held, expires) = release_when(tr, p, nominal);
        if !(always || when_held || expires) {
            continue;
        }
        let released = &mut own.released.row_mut(k)[..lanes];
        st.fill_lanes(tr.amount, &mut amounts[..lanes]);
        let is_market = matches!(tr.post_money, PostMoney::Market);
        let held = &own.holds.row(k)[..lanes];
        let states = &mut st.out.tranche_state.row_mut(k)[..lanes];
        let mut some = false;
        for i in 0..lanes {
            let pending = alive[i] & (states[i] == TrancheState::Pending);
            let release = pending & (always | (when_held & held[i]));
            released[i] = release;
            if pending & !release & expires {
                states[i] = TrancheState::Lapsed(p, Lapse::Expired);
            }
            let a = amounts[i];
            total[i] = if release { total[i] + a } else { total[i] };
            market[i] = if release & is_market {
                market[i] + a
            } else {
                market[i]
            };
            any[i] |= release;
            some |= release;
        }
        rounds[k] = some;
    }
    if !rounds.contains(&true) {
        return;
    }
    let any_market = items
        .iter()
        .any(|tr| matches!(tr.post_money, PostMoney::Market));
    // A round in a few lanes (a condition met on some paths) is done lane by lane in those.
    let round = LaneIndices::which(lanes, |i| any[i]);
    if round.indices().len() * SPARSE_ROUNDS <= lanes {
        for &i in round.indices() {
            let i = usize::from(i);
            let value = if any_market { st.valuation(m, i) } else { 0.0 };
            let (total, market) = (total[i], market[i]);
            let post_money = |st: &State, tr: &TrancheC| {
                let x = match tr.post_money {
                    PostMoney::Stated(v) => st.v(v, i),
                    PostMoney::Market => value + market,
                };
                x.max(total)
            };
            let scratch = (
                &own.rounds[..],
                &own.released,
                &mut own.shares,
                &own.holders[..],
            );
            round_in_lane(items, scratch, st, m, t, p, i, post_money);
        }
        return;
    }
    if any_market {
        for (i, v) in value[..lanes].iter_mut().enumerate() {
            *v = st.valuation(m, i);
        }
    }
    // Each tranche's post-money, into `out`.
    let post_money = |st: &State, tr: &TrancheC, out: &mut [f64]| {
        match tr.post_money {
            PostMoney::Stated(v) => st.fill_lanes(v, out),
            PostMoney::Market => {
                for ((x, &v), &mk) in out.iter_mut().zip(&*value).zip(&*market) {
                    *x = v + mk;
                }
            }
        }
        for (x, &t) in out.iter_mut().zip(&*total) {
            *x = x.max(t);
        }
    };
    for (k, tr) in items.iter().enumerate().filter(|&(k, _)| own.rounds[k]) {
        let released = &own.released.row(k)[..lanes];
        let shares = &mut own.shares.row_mut(k)[..lanes];
        st.fill_lanes(tr.amount, &mut amounts[..lanes]);
        post_money(st, tr, &mut price[..lanes]);
        for i in 0..lanes {
            // Lanes without the tranche may divide by a post-money of 0: never read.
            shares[i] = amounts[i] / price[i];
            issued[i] = if released[i] {
                issued[i] + shares[i]
            } else {
                issued[i]
            };
        }
    }
    // Lanes without a round keep every stake: `x * 1.0` is `x`, bit for bit.
    for ((k, &x), &a) in keep[..lanes].iter_mut().zip(&*issued).zip(&any) {
        *k = if a { (1.0 - x).max(0.0) } else { 1.0 };
    }
    // The others' stakes are zero, which a keep (finite, not negative) leaves as they are.
    for &e in &own.holders {
        for (s, &k) in st.out.stake.row_mut(e)[..lanes].iter_mut().zip(&*keep) {
            *s *= k;
        }
    }
    for (k, tr) in items.iter().enumerate().filter(|&(k, _)| own.rounds[k]) {
        let (released, shares) = (&own.released.row(k)[..lanes], &own.shares.row(k)[..lanes]);
        st.fill_lanes(tr.amount, &mut amounts[..lanes]);
        let stake = &mut st.out.stake.row_mut(tr.investor)[..lanes];
        for i in 0..lanes {
            let s = stake[i] + shares[i];
            stake[i] = if released[i] { s } else { stake[i] };
            paid[i] = if released[i] { amounts[i] } else { 0.0 };
        }
        st.pay_lanes(m, t, tr.flow, tr.investor, m.company, false, &paid[..lanes]);
        let at = arrival(tr);
        for (i, &r) in released.iter().enumerate() {
            if r {
                st.out.tranche_state[(k, i)] = TrancheState::Released(p);
                st.out.tranche_amount[(k, i)] = amounts[i];
                st.arrive(i, at, amounts[i]);
            }
        }
    }
}

/// Rounds in fewer than one lane in this many are done lane by lane ([`round_in_lane`]).
const SPARSE_ROUNDS: usize = 8;

/// [`finance_lanes`]' round in lane `i` alone, with the same arithmetic in the same order:
/// each released tranche's shares at its post-money, the holders diluted once by all of
/// them, then each tranche in file order takes its stake, pays and arrives.
#[allow(clippy::too_many_arguments)]
fn round_in_lane<T: Trace>(
    items: &[TrancheC],
    (rounds, released, shares, holders): (&[bool], &Rows<bool>, &mut Rows<f64>, &[EntityId]),
    st: &mut State,
    m: &Model,
    t: &mut T,
    p: usize,
    i: usize,
    post_money: impl Fn(&State, &TrancheC) -> f64,
) {
    let mut issued = 0.0;
    for (k, tr) in items.iter().enumerate().filter(|&(k, _)| rounds[k]) {
        if released[(k, i)] {
            let bought = st.v(tr.amount, i) / post_money(st, tr);
            shares[(k, i)] = bought;
            issued += bought;
        }
    }
    let keep = (1.0 - issued).max(0.0);
    for &e in holders {
        st.out.stake[(e, i)] *= keep;
    }
    for (k, tr) in items.iter().enumerate().filter(|&(k, _)| rounds[k]) {
        if !released[(k, i)] {
            continue;
        }
        let amount = st.v(tr.amount, i);
        st.out.stake[(tr.investor, i)] += shares[(k, i)];
        st.pay(m, t, tr.flow, tr.investor, m.company, i, amount);
        st.out.tranche_state[(k, i)] = TrancheState::Released(p);
        st.out.tranche_amount[(k, i)] = amount;
        st.arrive(i, arrival(tr), amount);
    }
}

/// When a released tranche's money arrives in its period: a scheduled tranche at the start of
/// its month, a conditional one at the end of the period in which its condition held.
fn arrival(tr: &TrancheC) -> f64 {
    match tr.when {
        TrancheWhen::Scheduled(_, at) => at,
        TrancheWhen::Conditional { .. } => 1.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_tranche_is_released_or_lapses_as_its_timing_says() {
        // The rules, tranche by tranche (see `TrancheWhen`).
        let spec = |when: &TrancheWhen, held: bool, p: usize, nominal: bool| match *when {
            TrancheWhen::Scheduled(at, _) => (at == p, false),
            TrancheWhen::Conditional { from, until, .. } => {
                let holds = if nominal {
                    p == from
                } else {
                    p >= from && p <= until && held
                };
                (holds, !holds && p >= until)
            }
        };
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
        for tr in &tranches {
            for p in 0..8 {
                for nominal in [false, true] {
                    let (always, when_held, expires) = release_when(tr, p, nominal);
                    for held in [false, true] {
                        let release = always | (when_held & held);
                        assert_eq!(
                            (release, !release & expires),
                            spec(&tr.when, held, p, nominal),
                            "{:?} in {p}, held {held}, nominal {nominal}",
                            tr.when
                        );
                    }
                }
            }
        }
    }
}
