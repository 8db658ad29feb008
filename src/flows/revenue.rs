//! `revenue`: revenue from a market, a growth process with decaying growth and volatility.
//!
//! The run-rate is `initial x L(t) x M(t)`: `L` the growth curve of [`crate::schedule`], `M` a
//! mean-one geometric Brownian motion with the volatility, sampled at the period boundaries
//! (its increment over a span of `len` years has variance `volatility^2 x len`). A period books
//! `initial x (integral of L over it) x (M at its start + M at its end) / 2`: exact without
//! volatility, and exact in expectation with it.

use std::fmt::Write as _;

use super::{Ends, Kind, PaymentClass, Step, lane_curves};
use crate::dist::normal_quantile_lanes;
use crate::engine::explain::{Explain, offset, value};
use crate::engine::model::{InputKind, RandomInput};
use crate::engine::path::{LANES, LaneValue, Rows, State, Trace};
use crate::engine::rng::name_key;
use crate::engine::{Model, model::Curve};
use crate::exp::exp_lanes;
use crate::scenario::build::Builder;
use crate::scenario::reader::Fields;
use crate::scenario::value::{Draw, Range};
use crate::scenario::{EntityId, Flow, FlowId, Scenario, Value};
use crate::schedule::Origin;
use crate::time::Month;

/// Revenue from a market.
#[derive(Clone, Debug)]
pub struct Revenue {
    /// Annualised revenue at the start.
    pub initial: Value,
    /// Annual growth rate at the start (0.5 = +50% a year).
    pub growth: Value,
    /// Yearly decay of the growth rate (growth multiplies by 1 - decay each year).
    pub decay: Value,
    /// Annualised volatility of revenue (per-period lognormal shocks, mean-preserving).
    pub volatility: Value,
    /// First month of revenue (the horizon start when absent).
    pub start: Option<Month>,
}

impl Kind for Revenue {
    const NAME: &'static str = "revenue";
    type Compiled = RevenueC;

    fn read(b: &mut Builder<'_>, f: &mut Fields<'_>, owner: &str) -> Option<Self> {
        let initial = b.value(f, "initial", owner, Range::NonNegative, Draw::PerPath, None);
        let growth = b.growth(f, "growth", owner, None);
        let decay = b.value(f, "decay", owner, Range::Unit, Draw::PerPath, Some(0.0));
        let volatility = b.value(
            f,
            "volatility",
            owner,
            Range::NonNegative,
            Draw::PerPath,
            Some(0.0),
        );
        // A shock of 8 standard deviations over the horizon must stay far from overflow.
        let max = 20.0 / b.horizon_years().sqrt();
        let volatility = volatility.and_then(|v| {
            b.at_most(
                f,
                "volatility",
                v,
                max,
                "shocks that overflow over the horizon",
            )
        });
        let start = b.start_date(f, "start");
        Some(Revenue {
            initial: initial?,
            growth: growth?,
            decay: decay?,
            volatility: volatility?,
            start: start?,
        })
    }

    fn check_ends(&self, e: &Ends<'_>) -> Option<(&'static str, String)> {
        if !e.from.external {
            return Some((
                "from",
                format!(
                    "revenue comes from a market (an entity with the role `market`); `{}` is not one",
                    e.from.id
                ),
            ));
        }
        super::not_to_a_market(e)
    }

    fn class(&self) -> PaymentClass {
        PaymentClass::Sale
    }

    fn margin(&self) -> Option<Value> {
        Some(Value::Const(1.0))
    }

    fn values(&self) -> Vec<Value> {
        vec![self.initial, self.growth, self.decay, self.volatility]
    }

    fn compile(&self, id: FlowId, f: &Flow, s: &Scenario, out: &mut Vec<RevenueC>) {
        let h = &s.horizon;
        let origin = Origin::of(h, self.start);
        out.push(RevenueC {
            flow: id,
            from: f.from,
            to: f.to,
            initial: self.initial,
            growth: self.growth,
            decay: self.decay,
            volatility: self.volatility,
            origin,
            curve: Curve::constant(self.growth, self.decay, h.step.years(), origin, h.periods),
            shock_key: name_key(&format!("{}.shock", f.id)),
        });
    }
}

/// A revenue process, compiled.
#[derive(Clone, Debug)]
pub struct RevenueC {
    /// The flow's index in the scenario.
    pub flow: FlowId,
    /// Who pays.
    pub from: EntityId,
    /// Who receives.
    pub to: EntityId,
    /// Annualised run-rate at the start.
    pub initial: Value,
    /// Annual growth at the start.
    pub growth: Value,
    /// Yearly decay of the growth rate.
    pub decay: Value,
    /// Annualised volatility of the run-rate.
    pub volatility: Value,
    /// Where it starts.
    pub origin: Origin,
    /// Its growth curve when growth and decay are constants.
    pub curve: Option<Curve>,
    /// Key of its volatility shocks.
    pub shock_key: u64,
}

/// Each process's revenue in each period and run-rate at each boundary, on the batch's paths.
#[derive(Clone, Debug)]
pub struct RevenueScratch {
    /// Revenue booked by each process in each period (row `k * periods + p`), before any
    /// default: computed when the paths start, since every input is drawn by then.
    amount: Rows<f64>,
    /// Run-rate of each process at each period boundary (row `k * (periods + 1) + b`).
    rate: Rows<f64>,
    /// When growth is drawn per path: the levels at the `periods + 1` boundaries (a row each)
    /// and the integrals over the `periods` periods, of the process being prepared.
    levels: Rows<f64>,
    integrals: Rows<f64>,
    scratch: Vec<f64>,
}

/// A revenue process's per-lane inputs in a period, for [`Lanes::book`].
struct Lanes<'a> {
    initial: &'a [f64],
    sigma: &'a [f64],
    factor: &'a [f64],
    shock: &'a mut [f64],
}

impl Lanes<'_> {
    /// Books a period's revenue and the run-rate at its end, lane by lane, from the growth
    /// curve's integral over the period and its level at the end (constants when the curve
    /// is shared), and moves each lane's shock on.
    #[inline(always)]
    fn book(
        self,
        booked: &mut [f64],
        run_rate: &mut [f64],
        over: impl LaneValue,
        at_end: impl LaneValue,
    ) {
        let (initial, sigma, factor, shock) = (self.initial, self.sigma, self.factor, self.shock);
        let lanes = booked.len();
        let (run_rate, initial) = (&mut run_rate[..lanes], &initial[..lanes]);
        let (sigma, factor, shock) = (&sigma[..lanes], &factor[..lanes], &mut shock[..lanes]);
        for i in 0..lanes {
            let next = if sigma[i] > 0.0 {
                shock[i] * factor[i]
            } else {
                1.0
            };
            booked[i] = initial[i] * over.at(i) * 0.5 * (shock[i] + next);
            run_rate[i] = initial[i] * at_end.at(i) * next;
            shock[i] = next;
        }
    }
}

impl Step for RevenueC {
    type Scratch = RevenueScratch;

    fn scratch(items: &[Self], m: &Model, lanes: usize) -> RevenueScratch {
        let n = m.periods;
        RevenueScratch {
            amount: Rows::new(items.len() * n, lanes, 0.0),
            rate: Rows::new(items.len() * (n + 1), lanes, 0.0),
            levels: Rows::new(n + 1, lanes, 0.0),
            integrals: Rows::new(n, lanes, 0.0),
            scratch: Vec::new(),
        }
    }

    fn prepare(items: &[Self], own: &mut RevenueScratch, st: &mut State, m: &Model, seed: u64) {
        let (n, dt, lanes) = (m.periods, m.dt, st.lanes().len());
        // Each process over the batch, period by period: the shocks' draws come a pair per lane
        // at a time from the lanes kernel. A lane's arithmetic is the one path's, in its order.
        let (mut initial, mut sigma, mut shock) = ([0.0; LANES], [0.0; LANES], [1.0; LANES]);
        let (mut even, mut odd) = ([0.0; LANES], [0.0; LANES]);
        let (mut z, mut factor) = ([0.0; LANES], [0.0; LANES]);
        for (k, r) in items.iter().enumerate() {
            let (amount, rate) = (k * n, k * (n + 1));
            for i in 0..lanes {
                initial[i] = st.v(r.initial, i);
                sigma[i] = if st.is_nominal() {
                    0.0
                } else {
                    st.v(r.volatility, i)
                };
                shock[i] = 1.0;
            }
            let volatile = sigma[..lanes].iter().any(|&s| s > 0.0);
            // Growth curves: the compiled one, or one per lane when growth is drawn per path.
            let shared = r.curve.as_ref();
            if shared.is_none() {
                let curve = (r.growth, r.decay, r.origin);
                let integrals = own.integrals.block_mut(0..n);
                lane_curves(st, m, curve, &mut own.levels, integrals, &mut own.scratch);
            }
            let (levels, integrals) = (&own.levels, &own.integrals);
            let level = |i: usize, b: usize| match shared {
                Some(c) => c.levels[b],
                None => levels[(b, i)],
            };
            // Rows from the origin on are written below; only the ones before it are zeroed.
            let first = r.origin.period.min(n);
            for p in 0..first {
                own.amount.row_mut(amount + p).fill(0.0);
            }
            for b in 0..first {
                own.rate.row_mut(rate + b).fill(0.0);
            }
            for (i, &x) in initial[..lanes].iter().enumerate() {
                own.rate[(rate + first, i)] = x * level(i, first);
            }
            for p in first..n {
                let len = if p == first { dt - r.origin.offset } else { dt };
                // Two draws per block: fetch a block on even periods (or the first).
                let j = p as u64;
                if volatile && (p == first || j & 1 == 0) {
                    let (a, b) = (&mut even[..lanes], &mut odd[..lanes]);
                    m.streams
                        .pair_lanes(seed, r.shock_key, st.path(0), j >> 1, a, b);
                }
                // Each lane's shock factor `exp(sqrt(var) z - var / 2)`, the lanes together.
                if volatile {
                    let draws = if j & 1 == 0 { &even } else { &odd };
                    normal_quantile_lanes(&draws[..lanes], &mut z[..lanes]);
                    match r.volatility {
                        // The same variance in every lane: its root taken once.
                        Value::Const(s) => {
                            let var = s * s * len;
                            let (sd, half) = (var.sqrt(), 0.5 * var);
                            for z in &mut z[..lanes] {
                                *z = sd * *z - half;
                            }
                        }
                        Value::Random(_) => {
                            for (z, &s) in z[..lanes].iter_mut().zip(&sigma[..lanes]) {
                                let var = s * s * len;
                                *z = var.sqrt() * *z - 0.5 * var;
                            }
                        }
                    }
                    exp_lanes(&z[..lanes], &mut factor[..lanes]);
                }
                let booked = &mut own.amount.row_mut(amount + p)[..lanes];
                let run_rate = &mut own.rate.row_mut(rate + p + 1)[..lanes];
                let lanes_of = Lanes {
                    initial: &initial[..lanes],
                    sigma: &sigma[..lanes],
                    factor: &factor[..lanes],
                    shock: &mut shock[..lanes],
                };
                match shared {
                    Some(c) => {
                        lanes_of.book(booked, run_rate, c.integrals[p], c.levels[p + 1]);
                    }
                    None => {
                        let over = &integrals.row(p)[..lanes];
                        let at_end = &levels.row(p + 1)[..lanes];
                        lanes_of.book(booked, run_rate, over, at_end);
                    }
                }
            }
        }
        // The company's run-rate at each boundary: what conditions, prices and values read,
        // summed from -0.0 in item order, as `Iterator::sum`.
        for b in 0..=n {
            let total = &mut st.run_rate.row_mut(b)[..lanes];
            total.fill(-0.0);
            for (k, _) in items.iter().enumerate().filter(|(_, r)| r.to == m.company) {
                for (t, &x) in total.iter_mut().zip(own.rate.row(k * (n + 1) + b)) {
                    *t += x;
                }
            }
        }
    }

    fn operate<T: Trace>(
        items: &[Self],
        own: &mut RevenueScratch,
        st: &mut State,
        m: &Model,
        t: &mut T,
        p: usize,
    ) {
        for (k, r) in items.iter().enumerate() {
            let amounts = own.amount.row(k * m.periods + p);
            st.pay_lanes(m, t, r.flow, r.from, r.to, r.to == m.company, amounts);
        }
    }

    fn random_inputs(items: &[Self], m: &Model, out: &mut Vec<RandomInput>) {
        for r in items.iter().filter(|r| r.volatility != Value::Const(0.0)) {
            out.push(RandomInput {
                name: format!("{}.shock", m.names.flows[r.flow]),
                key: r.shock_key,
                kind: InputKind::Shocks,
            });
        }
    }

    fn explain(items: &[Self], m: &Model, out: &mut Explain) {
        let (h, n) = (&m.horizon, &m.names);
        for r in items {
            out.keys.push(format!(
                "  {:24} {:16x}  volatility shocks of `{}`, one per period",
                format!("{}.shock", n.flows[r.flow]),
                r.shock_key,
                n.flows[r.flow]
            ));
            let mut line = String::new();
            let _ = write!(
                line,
                "     revenue        {:20} {} -> {}: initial {}, growth {}, decay {}, volatility {}, from {}{}",
                n.flows[r.flow],
                n.entities[r.from],
                n.entities[r.to],
                value(m, r.initial),
                value(m, r.growth),
                value(m, r.decay),
                value(m, r.volatility),
                h.label(r.origin.period.min(m.periods - 1)),
                offset(r.origin.offset)
            );
            out.operating.push(line);
        }
    }
}
