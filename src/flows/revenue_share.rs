//! `revenue_share`: a rate of the payer's revenue (all of it, or named revenue flows) paid to
//! a partner within a window.

use std::fmt::Write as _;

use super::{Ends, Kind, PaymentClass, Step};
use crate::engine::Model;
use crate::engine::explain::{Explain, list, value};
use crate::engine::path::{LaneValues, Rows, State, Trace, product_lanes};
use crate::graph::window_shares;
use crate::scenario::build::Builder;
use crate::scenario::reader::{Fields, array};
use crate::scenario::value::{Draw, Range};
use crate::scenario::{EntityId, Flow, FlowId, FlowKind, Scenario, Value};
use crate::time::Month;

/// A rate of the payer's revenue paid to a partner.
#[derive(Clone, Debug)]
pub struct RevenueShare {
    /// Share of revenue.
    pub rate: Value,
    /// Revenue flows it applies to (all revenue of the payer when empty).
    pub of: Vec<FlowId>,
    /// First month it applies.
    pub start: Option<Month>,
    /// Last month it applies.
    pub until: Option<Month>,
}

impl Kind for RevenueShare {
    const NAME: &'static str = "revenue_share";
    type Compiled = RevShareC;

    fn read(b: &mut Builder<'_>, f: &mut Fields<'_>, owner: &str) -> Option<Self> {
        let rate = b.value(f, "rate", owner, Range::Unit, Draw::PerPeriod, None);
        let of = match f.opt("of") {
            None => Some(Vec::new()),
            Some(n) => {
                let items = array(n, "of", &mut b.d);
                items.and_then(|items| {
                    items
                        .iter()
                        .map(|i| b.flow_ref(i, "of"))
                        .collect::<Option<Vec<_>>>()
                })
            }
        };
        let start = b.start_date(f, "start");
        let until = b.end_date(f, "until");
        let (start, until) = (start?, until?);
        b.check_order(f, start, until, "until")?;
        Some(RevenueShare {
            rate: rate?,
            of: of?,
            start,
            until,
        })
    }

    /// `of` names revenue flows into the payer.
    fn check_flows(b: &mut Builder<'_>, flows: &[Flow]) {
        for flow in flows {
            let FlowKind::RevenueShare(rs) = &flow.kind else {
                continue;
            };
            for &r in &rs.of {
                if !matches!(flows[r].kind, FlowKind::Revenue(_)) || flows[r].to != flow.from {
                    let message = format!(
                        "revenue_share `{}`: `of` must name revenue flows into `{}`; `{}` is not one",
                        flow.id, b.entity_ids[flow.from], flows[r].id
                    );
                    b.d.error(flow.span, message);
                }
            }
        }
    }

    fn check_ends(&self, e: &Ends<'_>) -> Option<(&'static str, String)> {
        super::not_to_a_market(e)
    }

    fn class(&self) -> PaymentClass {
        PaymentClass::RevenueShare
    }

    fn margin(&self) -> Option<Value> {
        Some(Value::Const(1.0))
    }

    fn values(&self) -> Vec<Value> {
        vec![self.rate]
    }

    fn flow_refs(&self) -> Vec<FlowId> {
        self.of.clone()
    }

    fn compile(&self, id: FlowId, f: &Flow, s: &Scenario, out: &mut Vec<RevShareC>) {
        // The named revenue flows, or all revenue into the payer.
        let base = s
            .flows
            .iter()
            .enumerate()
            .filter(|(i, r)| {
                matches!(r.kind, FlowKind::Revenue(_))
                    && if self.of.is_empty() {
                        r.to == f.from
                    } else {
                        self.of.contains(i)
                    }
            })
            .map(|(i, _)| i)
            .collect();
        out.push(RevShareC {
            flow: id,
            from: f.from,
            to: f.to,
            rate: self.rate,
            base,
            window: window_shares(&s.horizon, self.start, self.until),
        });
    }
}

/// A revenue share, compiled.
#[derive(Clone, Debug)]
pub struct RevShareC {
    /// The flow's index in the scenario.
    pub flow: FlowId,
    /// Who pays.
    pub from: EntityId,
    /// Who receives.
    pub to: EntityId,
    /// Share of the base revenue paid.
    pub rate: Value,
    /// Revenue flows it applies to.
    pub base: Vec<FlowId>,
    /// Share of each period's months inside its window.
    pub window: Vec<f64>,
}

impl Step for RevShareC {
    /// A period's amounts and base, lane by lane.
    type Scratch = Rows<f64>;

    fn scratch(_: &[Self], _: &Model, lanes: usize) -> Rows<f64> {
        Rows::new(2, lanes, 0.0)
    }

    fn operate<T: Trace>(
        items: &[Self],
        own: &mut Rows<f64>,
        st: &mut State,
        m: &Model,
        t: &mut T,
        p: usize,
    ) {
        for rs in items {
            if rs.window[p] == 0.0 {
                continue;
            }
            let lanes = st.lanes().len();
            let [amounts, sum] = own.rows_mut();
            let amounts = &mut amounts[..lanes];
            // Revenue is paid first in the period, so its flows hold this period's amounts.
            let base = st.paid_sum(&rs.base, &mut sum[..lanes]);
            let (rate, base) = (st.lane_values(rs.rate), LaneValues::Each(base));
            product_lanes(rate, base, Some(rs.window[p]), amounts);
            st.pay_lanes(m, t, rs.flow, rs.from, rs.to, rs.from == m.company, amounts);
        }
    }

    fn explain(items: &[Self], m: &Model, out: &mut Explain) {
        let n = &m.names;
        for r in items {
            let base: Vec<&str> = r.base.iter().map(|&f| n.flows[f].as_str()).collect();
            let mut line = String::new();
            let _ = write!(
                line,
                "     revenue share  {:20} {} -> {}: {} of {}; share of each period in its window {}",
                n.flows[r.flow],
                n.entities[r.from],
                n.entities[r.to],
                value(m, r.rate),
                base.join(" + "),
                list(&r.window)
            );
            out.operating.push(line);
        }
    }
}
