//! `pass_through`: a share of what the payer receives on another flow, passed on (a cloud
//! provider's chip purchases for the company's contract, say). Run after the flow it passes
//! on, in dependency order.

use std::fmt::Write as _;

use super::{Kind, PaymentClass, Step};
use crate::engine::Model;
use crate::engine::explain::{Explain, value};
use crate::engine::path::{LaneValues, Rows, State, Trace, product_lanes};
use crate::scenario::build::Builder;
use crate::scenario::reader::Fields;
use crate::scenario::value::{Draw, Range};
use crate::scenario::{EntityId, Flow, FlowId, FlowKind, Scenario, Value};

/// A share of what `from` receives on another flow, passed on to `to`.
#[derive(Clone, Debug)]
pub struct PassThrough {
    /// The flow whose receipts are passed on.
    pub of: FlowId,
    /// Share passed on.
    pub share: Value,
    /// Gross margin of the receiver on these sales.
    pub margin: Value,
}

impl Kind for PassThrough {
    const NAME: &'static str = "pass_through";
    type Compiled = PassC;

    fn read(b: &mut Builder<'_>, f: &mut Fields<'_>, owner: &str) -> Option<Self> {
        let of = f
            .req(
                "of",
                "the id of the flow whose receipts are passed on",
                &mut b.d,
            )
            .and_then(|n| b.flow_ref(n, "of"));
        let share = b.value(f, "share", owner, Range::Unit, Draw::PerPeriod, None);
        let margin = b.value(f, "margin", owner, Range::Unit, Draw::PerPath, None);
        Some(PassThrough {
            of: of?,
            share: share?,
            margin: margin?,
        })
    }

    fn check_flows(b: &mut Builder<'_>, flows: &[Flow]) {
        for flow in flows {
            let FlowKind::PassThrough(pass) = &flow.kind else {
                continue;
            };
            let base = &flows[pass.of];
            if !matches!(
                base.kind,
                FlowKind::Contract(_) | FlowKind::RevenueShare(_) | FlowKind::PassThrough(_)
            ) {
                b.d.error(
                    flow.span,
                    format!("pass_through `{}`: `{}` is a {} flow; only contract, revenue_share and pass_through receipts can be passed on", flow.id, base.id, base.kind.name()),
                );
                continue;
            }
            if base.to != flow.from {
                let ids = &b.entity_ids;
                let message = format!(
                    "pass_through `{}` passes on what `{}` receives on `{}`, but that flow pays `{}`; set from = \"{}\"",
                    flow.id, ids[flow.from], base.id, ids[base.to], ids[base.to]
                );
                b.d.error(flow.span, message);
            }
        }
        let passes_on = |f: usize| match &flows[f].kind {
            FlowKind::PassThrough(p) => vec![p.of],
            _ => Vec::new(),
        };
        if let Err(cycle) = crate::order::dependency_order(flows.len(), passes_on) {
            let ids: Vec<&str> = cycle.iter().map(|&f| flows[f].id.as_str()).collect();
            b.d.error(
                flows[cycle[0]].span,
                format!(
                    "pass-throughs form a loop: {}; each passes on what the next receives, so none can be paid",
                    ids.join(" -> ")
                ),
            );
        }
    }

    fn class(&self) -> PaymentClass {
        PaymentClass::Purchase
    }

    fn margin(&self) -> Option<Value> {
        Some(self.margin)
    }

    fn values(&self) -> Vec<Value> {
        vec![self.share, self.margin]
    }

    fn flow_refs(&self) -> Vec<FlowId> {
        vec![self.of]
    }

    fn compile(&self, id: FlowId, f: &Flow, _: &Scenario, out: &mut Vec<PassC>) {
        out.push(PassC {
            flow: id,
            from: f.from,
            to: f.to,
            of: self.of,
            share: self.share,
        });
    }

    /// Each pass-through after the flow it passes on.
    fn arrange(items: &mut Vec<PassC>, s: &Scenario) {
        let mut rank = vec![usize::MAX; s.flows.len()];
        for (i, f) in s.pass_through_order().into_iter().enumerate() {
            rank[f] = i;
        }
        items.sort_by_key(|p| rank[p.flow]);
    }
}

/// A pass-through, compiled.
#[derive(Clone, Debug)]
pub struct PassC {
    /// The flow's index in the scenario.
    pub flow: FlowId,
    /// Who pays.
    pub from: EntityId,
    /// Who receives.
    pub to: EntityId,
    /// The flow whose receipts are passed on.
    pub of: FlowId,
    /// Share of the receipts passed on.
    pub share: Value,
}

impl Step for PassC {
    /// A period's amounts, lane by lane.
    type Scratch = Rows<f64>;

    fn scratch(_: &[Self], _: &Model, lanes: usize) -> Rows<f64> {
        Rows::new(1, lanes, 0.0)
    }

    fn operate<T: Trace>(
        items: &[Self],
        own: &mut Rows<f64>,
        st: &mut State,
        m: &Model,
        t: &mut T,
        _: usize,
    ) {
        for ps in items {
            let lanes = st.lanes().len();
            let [amounts] = own.rows_mut();
            let (amounts, paid) = (&mut amounts[..lanes], st.paid_lanes(ps.of));
            product_lanes(
                st.lane_values(ps.share),
                LaneValues::Each(paid),
                None,
                amounts,
            );
            st.pay_lanes(m, t, ps.flow, ps.from, ps.to, false, amounts);
        }
    }

    fn explain(items: &[Self], m: &Model, out: &mut Explain) {
        let n = &m.names;
        for p in items {
            let mut line = String::new();
            let _ = write!(
                line,
                "     pass-through   {:20} {} -> {}: {} of what {} receives on {}",
                n.flows[p.flow],
                n.entities[p.from],
                n.entities[p.to],
                value(m, p.share),
                n.entities[p.from],
                n.flows[p.of]
            );
            out.operating.push(line);
        }
    }
}
