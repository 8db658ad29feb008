//! `cost`: operating costs, a fixed part that grows like revenue does plus a share of the
//! payer's revenue.

use std::fmt::Write as _;

use super::{Kind, PaymentClass, Step, lane_curves};
use crate::engine::explain::{Explain, offset, value};
use crate::engine::path::{LaneValue, LaneValues, Rows, State, Trace};
use crate::engine::{Model, model::Curve};
use crate::graph::window_shares;
use crate::scenario::build::Builder;
use crate::scenario::reader::Fields;
use crate::scenario::value::{Draw, Range};
use crate::scenario::{EntityId, Flow, FlowId, FlowKind, Scenario, Value};
use crate::schedule::Origin;
use crate::time::Month;
use crate::with_lane_values;

/// Operating costs.
#[derive(Clone, Debug)]
pub struct Cost {
    /// Fixed annual cost at the start.
    pub fixed: Value,
    /// Annual growth of the fixed part.
    pub growth: Value,
    /// Yearly decay of that growth rate (as for revenue).
    pub decay: Value,
    /// Share of the payer's revenue.
    pub share_of_revenue: Value,
    /// First month.
    pub start: Option<Month>,
    /// Last month.
    pub until: Option<Month>,
    /// Gross margin of the receiver (when it is not the outside world).
    pub margin: Value,
}

impl Kind for Cost {
    const NAME: &'static str = "cost";
    type Compiled = CostC;
    const TO_WORLD_BY_DEFAULT: bool = true;

    fn read(b: &mut Builder<'_>, f: &mut Fields<'_>, owner: &str) -> Option<Self> {
        if !f.has("fixed") && !f.has("share_of_revenue") {
            b.d.error(
                f.span,
                format!("missing required field `fixed` or `share_of_revenue` in {}: a cost needs at least one of them", f.what),
            );
        }
        let fixed = b.value(
            f,
            "fixed",
            owner,
            Range::NonNegative,
            Draw::PerPeriod,
            Some(0.0),
        );
        let growth = b.growth(f, "growth", owner, Some(0.0));
        let decay = b.value(f, "decay", owner, Range::Unit, Draw::PerPath, Some(0.0));
        let share = b.value(
            f,
            "share_of_revenue",
            owner,
            Range::NonNegative,
            Draw::PerPeriod,
            Some(0.0),
        );
        let margin = b.value(f, "margin", owner, Range::Unit, Draw::PerPath, Some(0.0));
        let start = b.start_date(f, "start");
        let until = b.end_date(f, "until");
        let (start, until) = (start?, until?);
        b.check_order(f, start, until, "until")?;
        Some(Cost {
            margin: margin?,
            fixed: fixed?,
            growth: growth?,
            decay: decay?,
            share_of_revenue: share?,
            start,
            until,
        })
    }

    fn class(&self) -> PaymentClass {
        PaymentClass::Purchase
    }

    fn margin(&self) -> Option<Value> {
        Some(self.margin)
    }

    fn values(&self) -> Vec<Value> {
        vec![
            self.fixed,
            self.growth,
            self.decay,
            self.share_of_revenue,
            self.margin,
        ]
    }

    fn compile(&self, id: FlowId, f: &Flow, s: &Scenario, out: &mut Vec<CostC>) {
        let h = &s.horizon;
        let origin = Origin::of(h, self.start);
        out.push(CostC {
            flow: id,
            from: f.from,
            to: f.to,
            fixed: self.fixed,
            growth: self.growth,
            decay: self.decay,
            share: self.share_of_revenue,
            origin,
            until_share: window_shares(h, None, self.until),
            window: window_shares(h, self.start, self.until),
            // The share of revenue applies to every revenue flow into the payer.
            revenue_sources: s
                .flows
                .iter()
                .enumerate()
                .filter(|(_, r)| matches!(r.kind, FlowKind::Revenue(_)) && r.to == f.from)
                .map(|(i, _)| i)
                .collect(),
            curve: Curve::constant(self.growth, self.decay, h.step.years(), origin, h.periods),
        });
    }
}

/// Operating costs, compiled.
#[derive(Clone, Debug)]
pub struct CostC {
    /// The flow's index in the scenario.
    pub flow: FlowId,
    /// Who pays.
    pub from: EntityId,
    /// Who receives.
    pub to: EntityId,
    /// Annual fixed cost at its start.
    pub fixed: Value,
    /// Annual growth at the start.
    pub growth: Value,
    /// Yearly decay of the growth rate.
    pub decay: Value,
    /// Share of the payer's revenue added to the fixed part.
    pub share: Value,
    /// Where its fixed part starts growing.
    pub origin: Origin,
    /// Share of each period's months up to `until`.
    pub until_share: Vec<f64>,
    /// Share of each period's months from `start` to `until` (for the share of revenue).
    pub window: Vec<f64>,
    /// Revenue flows into the payer, for the share of revenue.
    pub revenue_sources: Vec<FlowId>,
    /// Integral of the fixed part's growth over each period when growth and decay are constants.
    pub curve: Option<Curve>,
}

/// The integral of each cost's fixed-part growth over each period, on the batch's paths.
#[derive(Clone, Debug)]
pub struct CostScratch {
    /// Row `k * periods + p`: cost `k`'s growth integral over period `p`.
    growth: Rows<f64>,
    /// The levels of the curve being drawn (row per boundary), which costs do not use.
    levels: Rows<f64>,
    scratch: Vec<f64>,
    /// A period's amounts and revenue, lane by lane.
    lanes: Rows<f64>,
}

impl Step for CostC {
    type Scratch = CostScratch;

    fn scratch(items: &[Self], m: &Model, lanes: usize) -> CostScratch {
        let n = m.periods;
        let mut growth = Rows::new(items.len() * n, lanes, 0.0);
        for (k, c) in items.iter().enumerate() {
            if let Some(curve) = &c.curve {
                for (p, &x) in curve.integrals.iter().enumerate() {
                    growth.row_mut(k * n + p).fill(x);
                }
            }
        }
        CostScratch {
            growth,
            levels: Rows::new(n + 1, lanes, 0.0),
            scratch: Vec::new(),
            lanes: Rows::new(2, lanes, 0.0),
        }
    }

    fn prepare(items: &[Self], own: &mut CostScratch, st: &mut State, m: &Model, _: u64) {
        let n = m.periods;
        for (k, c) in items.iter().enumerate() {
            if c.curve.is_some() {
                continue;
            }
            let curve = (c.growth, c.decay, c.origin);
            let integrals = own.growth.block_mut(k * n..(k + 1) * n);
            lane_curves(st, m, curve, &mut own.levels, integrals, &mut own.scratch);
        }
    }

    fn operate<T: Trace>(
        items: &[Self],
        own: &mut CostScratch,
        st: &mut State,
        m: &Model,
        t: &mut T,
        p: usize,
    ) {
        let n = m.periods;
        for (k, c) in items.iter().enumerate() {
            if c.window[p] == 0.0 && c.until_share[p] == 0.0 {
                continue;
            }
            let lanes = st.lanes().len();
            let growth = &own.growth.row(k * n + p)[..lanes];
            let [amounts, sum] = own.lanes.rows_mut();
            let amounts = &mut amounts[..lanes];
            // Revenue is paid first in the period, so its flows hold this period's amounts.
            let revenue = st.paid_sum(&c.revenue_sources, &mut sum[..lanes]);
            let (fixed, share) = (st.lane_values(c.fixed), st.lane_values(c.share));
            let parts = (growth, revenue, c.until_share[p], c.window[p]);
            cost_amounts(fixed, share, parts, amounts);
            st.pay_lanes(m, t, c.flow, c.from, c.to, c.from == m.company, amounts);
        }
    }

    fn explain(items: &[Self], m: &Model, out: &mut Explain) {
        let (h, n) = (&m.horizon, &m.names);
        for c in items {
            let mut line = String::new();
            let _ = write!(
                line,
                "     cost           {:20} {} -> {}: fixed {} a year (growth {}, decay {}, from {}{}), plus {} of revenue",
                n.flows[c.flow],
                n.entities[c.from],
                n.entities[c.to],
                value(m, c.fixed),
                value(m, c.growth),
                value(m, c.decay),
                h.label(c.origin.period.min(m.periods - 1)),
                offset(c.origin.offset),
                value(m, c.share)
            );
            out.operating.push(line);
        }
    }
}

/// Each lane's cost this period, into `out`: the fixed part grown, in its window, plus the
/// share of revenue, in its. Compiled for the widest vector unit the CPU has, chosen when it
/// runs (the same IEEE multiplies and adds whatever the width).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2"))]
fn cost_amounts(
    fixed: LaneValues<'_>,
    share: LaneValues<'_>,
    (growth, revenue, until, window): (&[f64], &[f64], f64, f64),
    out: &mut [f64],
) {
    let lanes = out.len();
    let (growth, revenue) = (&growth[..lanes], &revenue[..lanes]);
    with_lane_values!(fixed, fixed => {
        with_lane_values!(share, share => {
            for i in 0..lanes {
                let fixed = fixed.at(i) * growth[i] * until;
                out[i] = fixed + share.at(i) * revenue[i] * window;
            }
        })
    });
}
