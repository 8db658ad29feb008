//! `contract`: a compute or purchase contract, a total value (or capacity at a price) paid by
//! a profile over its life. What a defaulted buyer leaves unpaid is the seller's stranded
//! backlog; what falls after the horizon is its terminal backlog.

use std::fmt::Write as _;

use super::{Kind, PaymentClass, Step};
use crate::engine::Model;
use crate::engine::explain::{Explain, list, value};
use crate::engine::path::{LaneValues, Rows, State, Trace, product_lanes};
use crate::scenario::build::Builder;
use crate::scenario::node::{Node, NodeKind};
use crate::scenario::reader::{Fields, array, date, number};
use crate::scenario::value::{Draw, Range};
use crate::scenario::{EntityId, Flow, FlowId, Scenario, Value};
use crate::schedule::{ContractWeights, contract_weights};
use crate::time::Month;

/// A compute or purchase contract.
#[derive(Clone, Debug)]
pub struct Contract {
    /// Total value over the contract's life (value, or GW x price per GW-year x years).
    pub size: ContractSize,
    /// First month of payments.
    pub start: Month,
    /// Length in years.
    pub duration_years: Value,
    /// How payments spread over the life.
    pub profile: Profile,
    /// Seller's gross margin on it.
    pub margin: Value,
}

/// How a contract's total value is stated.
#[derive(Clone, Copy, Debug)]
pub enum ContractSize {
    /// A total value.
    Value(Value),
    /// Capacity in GW at a price per GW-year.
    Capacity {
        /// Capacity.
        gw: Value,
        /// Price of one GW for one year.
        price_per_gw_year: Value,
    },
}

/// Payment profile of a contract.
#[derive(Clone, Debug)]
pub enum Profile {
    /// Equal payments every period.
    Flat,
    /// Payment rate rising linearly from the start to full run-rate by a month, then flat.
    Ramp {
        /// Month at which the full run-rate is reached.
        full_by: Month,
    },
    /// Relative weight of each contract year.
    YearlyWeights(Vec<f64>),
}

impl Kind for Contract {
    const NAME: &'static str = "contract";
    type Compiled = ContractC;

    fn read(b: &mut Builder<'_>, f: &mut Fields<'_>, owner: &str) -> Option<Self> {
        let size = read_size(b, f, owner);
        let start = match f.req(
            "start",
            "the first month of payments, such as \"2025-Q4\"",
            &mut b.d,
        ) {
            Some(n) => date(n, "start", &mut b.d)
                .and_then(|dt| b.bounds.start_inside(dt, n, "start", &mut b.d)),
            None => None,
        };
        let duration = b.value(
            f,
            "duration_years",
            owner,
            Range::Positive,
            Draw::PerPath,
            None,
        );
        let duration = duration.and_then(|v| {
            b.at_most(
                f,
                "duration_years",
                v,
                100.0,
                "a contract longer than a century",
            )
        });
        let margin = b.value(f, "margin", owner, Range::Unit, Draw::PerPath, None);
        let profile = match f.opt("profile") {
            None => Some(Profile::Flat),
            Some(n) => read_profile(b, n, start, duration),
        };
        if let (Some(ContractSize::Capacity { .. }), Some(Profile::YearlyWeights(w))) =
            (&size, &profile)
            && w.iter().any(|&x| x > 1.0)
        {
            let span = f.key("profile").map(|k| k.span).unwrap_or(f.span);
            b.d.error(
                span,
                "weights: for a capacity contract each weight is the share of the capacity in service that year, between 0 and 1",
            );
            return None;
        }
        Some(Contract {
            size: size?,
            start: start?,
            duration_years: duration?,
            profile: profile?,
            margin: margin?,
        })
    }

    fn class(&self) -> PaymentClass {
        PaymentClass::Purchase
    }

    fn margin(&self) -> Option<Value> {
        Some(self.margin)
    }

    fn values(&self) -> Vec<Value> {
        let size = match self.size {
            ContractSize::Value(v) => vec![v],
            ContractSize::Capacity {
                gw,
                price_per_gw_year,
            } => vec![gw, price_per_gw_year],
        };
        size.into_iter()
            .chain([self.duration_years, self.margin])
            .collect()
    }

    fn compile(&self, id: FlowId, f: &Flow, s: &Scenario, out: &mut Vec<ContractC>) {
        let h = &s.horizon;
        // A fixed duration gives the same weights on every path: computed once here.
        let weights = match self.duration_years {
            Value::Const(d) => {
                let mut w = ContractWeights::default();
                contract_weights(&self.profile, self.start, d, h, &mut w);
                Some(w)
            }
            Value::Random(_) => None,
        };
        out.push(ContractC {
            flow: id,
            from: f.from,
            to: f.to,
            size: self.size,
            duration: self.duration_years,
            profile: self.profile.clone(),
            start: self.start,
            weights,
        });
    }
}

/// A total `value`, or `capacity_gw` with `price_per_gw_year`.
fn read_size(b: &mut Builder<'_>, f: &mut Fields<'_>, owner: &str) -> Option<ContractSize> {
    if f.has("value") {
        if let Some(k) = f.key("capacity_gw") {
            b.d.error(k.span, "a contract has either a `value` or `capacity_gw` with `price_per_gw_year`, not both");
            f.opt("capacity_gw");
            f.opt("price_per_gw_year");
            None
        } else {
            b.value(f, "value", owner, Range::NonNegative, Draw::PerPath, None)
                .map(ContractSize::Value)
        }
    } else if f.has("capacity_gw") || f.has("price_per_gw_year") {
        let gw = b.value(
            f,
            "capacity_gw",
            owner,
            Range::NonNegative,
            Draw::PerPath,
            None,
        );
        let price = b.value(
            f,
            "price_per_gw_year",
            owner,
            Range::NonNegative,
            Draw::PerPath,
            None,
        );
        // No `?` here: it would return before the remaining fields are read, and they would
        // then be reported as unknown.
        gw.zip(price)
            .map(|(gw, price_per_gw_year)| ContractSize::Capacity {
                gw,
                price_per_gw_year,
            })
    } else {
        b.d.error(
            f.span,
            format!("missing required field `value` in {}: expected the contract's total value, or `capacity_gw` with `price_per_gw_year`", f.what),
        );
        None
    }
}

fn read_profile(
    b: &mut Builder<'_>,
    node: &Node,
    start: Option<Month>,
    duration: Option<Value>,
) -> Option<Profile> {
    if let NodeKind::Str(s) = &node.kind {
        if s == "flat" {
            return Some(Profile::Flat);
        }
        b.d.error(
            node.span,
            format!("profile: unknown profile `{s}`; expected \"flat\", {{ ramp_until = \"2026-Q4\" }} or {{ weights = [1, 2, 3] }}"),
        );
        return None;
    }
    let mut f = Fields::of(node, "profile", &mut b.d)?;
    let ramp = f.opt("ramp_until");
    let weights = f.opt("weights");
    f.finish(&mut b.d);
    match (ramp, weights) {
        (Some(r), None) => {
            let dt = date(r, "ramp_until", &mut b.d)?;
            let full_by = dt.last();
            if let Some(start) = start
                && full_by < start
            {
                b.d.error(
                    r.span,
                    format!(
                        "ramp_until: the ramp ends ({full_by}) before the contract starts ({start})"
                    ),
                );
                return None;
            }
            Some(Profile::Ramp { full_by })
        }
        (None, Some(w)) => {
            let items = array(w, "weights", &mut b.d)?;
            let mut out = Vec::new();
            for item in items {
                let v = number(item, "weights", &mut b.d)?;
                if v < 0.0 {
                    b.d.error(
                        item.span,
                        format!("weights: expected weights >= 0, got {v}"),
                    );
                    return None;
                }
                out.push(v);
            }
            if out.iter().sum::<f64>() <= 0.0 {
                b.d.error(w.span, "weights: expected at least one weight > 0");
                return None;
            }
            match duration {
                Some(Value::Const(years)) if out.len() != years.ceil() as usize => {
                    b.d.error(
                        w.span,
                        format!("weights: the contract lasts {years} years, so expected {} yearly weights, found {}", years.ceil(), out.len()),
                    );
                    None
                }
                Some(Value::Random(_)) => {
                    b.d.error(
                        w.span,
                        "weights: yearly weights need a fixed `duration_years`",
                    );
                    None
                }
                _ => Some(Profile::YearlyWeights(out)),
            }
        }
        _ => {
            b.d.error(node.span, "profile: expected \"flat\", { ramp_until = \"2026-Q4\" } or { weights = [1, 2, 3] }");
            None
        }
    }
}

/// A contract, compiled.
#[derive(Clone, Debug)]
pub struct ContractC {
    /// The flow's index in the scenario.
    pub flow: FlowId,
    /// Who pays.
    pub from: EntityId,
    /// Who receives.
    pub to: EntityId,
    /// Total value, or capacity and price.
    pub size: ContractSize,
    /// Length in years.
    pub duration: Value,
    /// Payment profile.
    pub profile: Profile,
    /// First month of payments.
    pub start: Month,
    /// Payment weights, when the duration is fixed.
    pub weights: Option<ContractWeights>,
}

/// Each contract's payment per unit of weight and its weights, on the batch's paths.
#[derive(Clone, Debug)]
pub struct ContractScratch {
    /// Row `k`: contract `k`'s payment per unit of weight.
    scale: Rows<f64>,
    /// Contract `k`'s weights, shared by every lane when its duration is fixed, else lane
    /// `i`'s at `k * lanes + i`.
    weights: Vec<ContractWeights>,
    lanes: usize,
    /// A period's payments, lane by lane.
    amounts: Vec<f64>,
}

impl ContractScratch {
    fn weights<'a>(&'a self, items: &'a [ContractC], k: usize, i: usize) -> &'a ContractWeights {
        match &items[k].weights {
            Some(w) => w,
            None => &self.weights[k * self.lanes + i],
        }
    }
}

impl Step for ContractC {
    type Scratch = ContractScratch;

    fn scratch(items: &[Self], _: &Model, lanes: usize) -> ContractScratch {
        ContractScratch {
            scale: Rows::new(items.len(), lanes, 0.0),
            weights: vec![ContractWeights::default(); items.len() * lanes],
            lanes,
            amounts: vec![0.0; lanes],
        }
    }

    fn prepare(items: &[Self], own: &mut ContractScratch, st: &mut State, m: &Model, _: u64) {
        for (k, c) in items.iter().enumerate() {
            for i in st.lanes() {
                let duration = st.v(c.duration, i);
                if c.weights.is_none() {
                    let w = &mut own.weights[k * own.lanes + i];
                    contract_weights(&c.profile, c.start, duration, &m.horizon, w);
                }
                own.scale[(k, i)] = match c.size {
                    // The stated value is the total, spread by the profile's weights.
                    ContractSize::Value(v) => {
                        let total = own.weights(items, k, i).total;
                        if total > 0.0 { st.v(v, i) / total } else { 0.0 }
                    }
                    // Capacity is paid for each month it is in service.
                    ContractSize::Capacity {
                        gw,
                        price_per_gw_year,
                    } => st.v(gw, i) * st.v(price_per_gw_year, i) / 12.0,
                };
            }
        }
    }

    fn operate<T: Trace>(
        items: &[Self],
        own: &mut ContractScratch,
        st: &mut State,
        m: &Model,
        t: &mut T,
        p: usize,
    ) {
        let mut amounts = std::mem::take(&mut own.amounts);
        for (k, c) in items.iter().enumerate() {
            match &c.weights {
                Some(w) => {
                    let scale = LaneValues::Each(own.scale.row(k));
                    let weight = LaneValues::Same(w.periods[p]);
                    product_lanes(scale, weight, None, &mut amounts[..st.lanes().len()]);
                }
                None => {
                    for i in st.lanes() {
                        amounts[i] = own.scale[(k, i)] * own.weights(items, k, i).periods[p];
                    }
                }
            }
            st.pay_lanes(m, t, c.flow, c.from, c.to, c.from == m.company, &amounts);
        }
        own.amounts = amounts;
    }

    /// What the company left unpaid (default) or owes after the horizon.
    fn finish(items: &[Self], own: &mut ContractScratch, st: &mut State, m: &Model) {
        for (k, c) in items.iter().enumerate() {
            if c.from != m.company {
                continue;
            }
            for i in st.lanes() {
                let (scale, w) = (own.scale[(k, i)], own.weights(items, k, i));
                if st.out.default_period[i].is_some() {
                    let unpaid = scale * (w.total - w.before) - st.out.flow_total[(c.flow, i)];
                    st.out.stranded[(c.to, i)] += unpaid.max(0.0);
                } else {
                    st.out.backlog[(c.to, i)] += scale * w.after;
                }
            }
        }
    }

    fn explain(items: &[Self], m: &Model, out: &mut Explain) {
        let n = &m.names;
        for c in items {
            let size = match c.size {
                ContractSize::Value(x) => format!("value {} spread by weights", value(m, x)),
                ContractSize::Capacity {
                    gw,
                    price_per_gw_year,
                } => format!(
                    "{} GW x {} per GW-year for each month in service",
                    value(m, gw),
                    value(m, price_per_gw_year)
                ),
            };
            let weights = match &c.weights {
                Some(w) => format!(
                    "monthly weights by period {}; {} before, {} after the horizon",
                    list(&w.periods),
                    w.before,
                    w.after
                ),
                None => "weights drawn per path (random duration)".to_string(),
            };
            let mut line = String::new();
            let _ = write!(
                line,
                "     contract       {:20} {} -> {}: {size}, from {} for {} years; {weights}",
                n.flows[c.flow],
                n.entities[c.from],
                n.entities[c.to],
                c.start,
                value(m, c.duration)
            );
            out.operating.push(line);
        }
    }
}
