//! The kinds of flow. Each kind lives in a module of its own: its terms as a scenario states
//! them, how they are read and checked, its compiled form and its per-period step. The
//! [`kinds!`] list at the end of this file registers them; adding a kind is one module and one
//! line there (see CONTRIBUTING.md).
//!
//! The list's order is the order in which the period's operating step runs the kinds (revenue
//! first, since costs and revenue shares read it; pass-throughs after what they pass on).

pub mod contract;
pub mod cost;
pub mod equity;
pub mod loan;
pub mod pass_through;
pub mod revenue;
pub mod revenue_share;

use std::fmt::Debug;

use crate::engine::model::RandomInput;
use crate::engine::path::{LANES, Rows, State, Trace};
use crate::engine::{Model, explain::Explain};
use crate::scenario::build::Builder;
use crate::scenario::reader::Fields;
use crate::scenario::{Condition, Entity, Flow, FlowId, Scenario, Value};
use crate::schedule::{Growth, Origin, growth_paths};

/// What a payment is. What counts as invested, received back or spent follows from it, not
/// from flags per flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaymentClass {
    /// An equity tranche: counts as invested.
    Equity,
    /// An emergency raise: counts as invested by the rescuer.
    Rescue,
    /// A payment for goods or services (contracts, costs, a pass-through of such money).
    Purchase,
    /// A share of revenue paid to a partner.
    RevenueShare,
    /// Revenue from a market.
    Sale,
    /// Loan principal paid to the borrower: counts as invested by the lender.
    DebtDrawdown,
    /// Interest on a loan: income of the lender, a cost of the borrower.
    Interest,
    /// Loan principal paid back: the lender's money returned, not income.
    Repayment,
}

impl PaymentClass {
    /// Money put into the company: equity, a rescue, or a loan.
    pub fn is_investment(self) -> bool {
        matches!(
            self,
            PaymentClass::Equity | PaymentClass::Rescue | PaymentClass::DebtDrawdown
        )
    }

    /// Paid against the flow's direction: a loan's service goes from the borrower back to the
    /// lender.
    pub fn is_debt_service(self) -> bool {
        matches!(self, PaymentClass::Interest | PaymentClass::Repayment)
    }

    /// Spending with the receiver, what `spend_with(..)` counts: purchases and revenue shares.
    pub fn is_spend(self) -> bool {
        matches!(
            self,
            PaymentClass::Purchase | PaymentClass::RevenueShare | PaymentClass::Sale
        )
    }
}

/// Who pays and who receives a flow, for a kind's checks.
pub struct Ends<'a> {
    /// The payer.
    pub from: &'a Entity,
    /// The receiver.
    pub to: &'a Entity,
    /// The company.
    pub company: &'a Entity,
    /// The receiver is the company.
    pub to_company: bool,
}

/// The check of a kind whose receiver must not be a market (the outside world buys, it does not
/// receive revenue or a share of it).
/// Growth curves drawn per path (growth and decay given per lane) for the batch's lanes: the
/// levels into the `periods + 1` rows of `levels`, the integrals into `integrals`, rows of the
/// same stride (see [`growth_paths`]).
pub(crate) fn lane_curves(
    st: &State,
    m: &Model,
    (growth, decay, origin): (Value, Value, Origin),
    levels: &mut Rows<f64>,
    integrals: (&mut [f64], usize),
    scratch: &mut Vec<f64>,
) {
    let lanes = st.lanes().len();
    let mut gs = [Growth::new(0.0, 0.0); LANES];
    for (i, g) in gs[..lanes].iter_mut().enumerate() {
        *g = Growth::new(st.v(growth, i), st.v(decay, i));
    }
    let (levels, stride) = levels.block_mut(0..m.periods + 1);
    let (integrals, integral_stride) = integrals;
    debug_assert_eq!(stride, integral_stride, "rows of one batch");
    growth_paths(
        &gs[..lanes],
        m.dt,
        origin,
        m.periods,
        levels,
        integrals,
        stride,
        scratch,
    );
}

pub(crate) fn not_to_a_market(e: &Ends<'_>) -> Option<(&'static str, String)> {
    e.to.external.then(|| {
        (
            "to",
            format!(
                "`{}` is a market (outside world) and cannot receive this flow",
                e.to.id
            ),
        )
    })
}

/// A kind of flow as a scenario states it.
pub(crate) trait Kind: Sized + Clone + Debug {
    /// Its name as written in `kind = "..."`.
    const NAME: &'static str;
    /// Its compiled form.
    type Compiled: Step;
    /// Paid to the outside world when the entry names no receiver.
    const TO_WORLD_BY_DEFAULT: bool = false;

    /// Reads the kind's fields of a `[[flow]]` entry (`id`, `kind`, `from`, `to` and `source`
    /// are read already) and checks them, reporting problems with their spans.
    fn read(b: &mut Builder<'_>, f: &mut Fields<'_>, owner: &str) -> Option<Self>;

    /// Checks that span several flows (what the kind's flows refer to), run once on all the
    /// scenario's flows after each is read.
    fn check_flows(_b: &mut Builder<'_>, _flows: &[Flow]) {}

    /// What is wrong with who pays and who receives it: the key to point at and the message.
    fn check_ends(&self, _ends: &Ends<'_>) -> Option<(&'static str, String)> {
        None
    }

    /// The class of the payments made in the flow's direction.
    fn class(&self) -> PaymentClass;

    /// The receiver's gross margin on what it receives (`None`: not a sale).
    fn margin(&self) -> Option<Value>;

    /// Every number in its terms, for the structural checks of scenarios built in code.
    fn values(&self) -> Vec<Value>;

    /// The flows its terms refer to.
    fn flow_refs(&self) -> Vec<FlowId> {
        Vec::new()
    }

    /// The conditions it reads.
    fn conditions(&self) -> Vec<&Condition> {
        Vec::new()
    }

    /// Compiles flow `id` of the kind into `out`.
    fn compile(&self, id: FlowId, flow: &Flow, s: &Scenario, out: &mut Vec<Self::Compiled>);

    /// Puts the compiled flows in the order the step runs them (file order unless a kind needs
    /// another).
    fn arrange(_items: &mut Vec<Self::Compiled>, _s: &Scenario) {}
}

/// A kind's compiled form and its part of every period. Each hook runs over all the flows of
/// the kind at once and over every path (lane) of a batch, with the kind's own scratch and
/// the batch's shared [`State`]; it moves money only through [`State::pay`] (or
/// [`State::pay_lanes`]), which keeps the accounting exact. A path's arithmetic must not
/// depend on the other lanes, so a path gives the same bits in any batch.
pub trait Step: Sized + Clone + Debug {
    /// Working state of all the kind's flows, for every lane.
    type Scratch: Clone + Debug;

    /// Scratch sized for the model and `lanes` paths.
    fn scratch(items: &[Self], m: &Model, lanes: usize) -> Self::Scratch;

    /// When the batch's paths start, with every per-path quantity drawn.
    fn prepare(_items: &[Self], _own: &mut Self::Scratch, _st: &mut State, _m: &Model, _seed: u64) {
    }

    /// The operating flows of period `p` (step 2 of the period).
    fn operate<T: Trace>(
        _items: &[Self],
        _own: &mut Self::Scratch,
        _st: &mut State,
        _m: &Model,
        _t: &mut T,
        _p: usize,
    ) {
    }

    /// Financing in period `p`, on the state at its end (step 5), in the lanes whose company
    /// is operating ([`State::alive`]).
    fn finance<T: Trace>(
        _items: &[Self],
        _own: &mut Self::Scratch,
        _st: &mut State,
        _m: &Model,
        _t: &mut T,
        _p: usize,
    ) {
    }

    /// At the horizon, once the company's value is known: what it owes and to whom.
    fn finish(_items: &[Self], _own: &mut Self::Scratch, _st: &mut State, _m: &Model) {}

    /// On the nominal path: the part of each flow's total that depends on a condition.
    fn nominal_conditional(_items: &[Self], _st: &State, _out: &mut [f64]) {}

    /// Its lines in `cfsim explain`.
    fn explain(_items: &[Self], _m: &Model, _out: &mut Explain) {}

    /// Its streams of draws other than the quantities (a revenue's volatility shocks), as
    /// inputs of a sensitivity analysis.
    fn random_inputs(_items: &[Self], _m: &Model, _out: &mut Vec<RandomInput>) {}
}

/// The kinds of flow, in the order of the period's operating step: each with its terms and its
/// compiled form. Generates [`FlowKind`],
/// [`KindTag`], [`Compiled`] and [`Scratch`], and the dispatch of every hook, so the compiler
/// names every place a new kind must be handled.
macro_rules! kinds {
    ($( $(#[$doc:meta])* $variant:ident($module:ident :: $terms:ident, $compiled:ident) ),* $(,)?) => {
        /// The kinds of flow, with their terms.
        #[derive(Clone, Debug)]
        pub enum FlowKind {
            $( $(#[$doc])* $variant($module::$terms), )*
        }

        /// The kinds of flow without their terms: what a file names in `kind = "..."`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum KindTag {
            $( $(#[$doc])* $variant, )*
        }

        impl KindTag {
            /// Every kind, in the order of the period's operating step.
            pub const ALL: &'static [KindTag] = &[$( KindTag::$variant, )*];

            /// The name as written.
            pub fn name(self) -> &'static str {
                match self {
                    $( KindTag::$variant => <$module::$terms as Kind>::NAME, )*
                }
            }

            /// Paid to the outside world when the entry names no receiver.
            pub fn to_world_by_default(self) -> bool {
                match self {
                    $( KindTag::$variant => <$module::$terms as Kind>::TO_WORLD_BY_DEFAULT, )*
                }
            }

            /// The kind a name stands for.
            pub fn parse(name: &str) -> Option<KindTag> {
                KindTag::ALL.iter().copied().find(|k| k.name() == name)
            }

            /// Reads a flow's terms of this kind.
            pub(crate) fn read(
                self,
                b: &mut Builder<'_>,
                f: &mut Fields<'_>,
                owner: &str,
            ) -> Option<FlowKind> {
                match self {
                    $( KindTag::$variant => {
                        <$module::$terms as Kind>::read(b, f, owner).map(FlowKind::$variant)
                    } )*
                }
            }
        }

        impl FlowKind {
            /// Which kind it is.
            pub fn tag(&self) -> KindTag {
                match self {
                    $( FlowKind::$variant(_) => KindTag::$variant, )*
                }
            }

            /// The kind's name as written.
            pub fn name(&self) -> &'static str {
                self.tag().name()
            }

            /// What is wrong with who pays and who receives it.
            pub fn check_ends(&self, ends: &Ends<'_>) -> Option<(&'static str, String)> {
                match self {
                    $( FlowKind::$variant(k) => k.check_ends(ends), )*
                }
            }

            /// The class of the payments made in the flow's direction.
            pub fn class(&self) -> PaymentClass {
                match self {
                    $( FlowKind::$variant(k) => k.class(), )*
                }
            }

            /// The receiver's gross margin on what it receives.
            pub fn margin(&self) -> Option<Value> {
                match self {
                    $( FlowKind::$variant(k) => k.margin(), )*
                }
            }

            /// Every number in its terms.
            pub fn values(&self) -> Vec<Value> {
                match self {
                    $( FlowKind::$variant(k) => k.values(), )*
                }
            }

            /// The flows its terms refer to.
            pub fn flow_refs(&self) -> Vec<FlowId> {
                match self {
                    $( FlowKind::$variant(k) => k.flow_refs(), )*
                }
            }

            /// The conditions it reads.
            pub fn conditions(&self) -> Vec<&Condition> {
                match self {
                    $( FlowKind::$variant(k) => k.conditions(), )*
                }
            }
        }

        /// Every kind's checks across flows.
        pub(crate) fn check_flows(b: &mut Builder<'_>, flows: &[Flow]) {
            $( <$module::$terms as Kind>::check_flows(b, flows); )*
        }

        /// Every flow compiled, by kind.
        #[derive(Clone, Debug, Default)]
        #[allow(missing_docs)]
        pub struct Compiled {
            $( pub $module: Vec<$module::$compiled>, )*
        }

        /// The per-path scratch of every kind.
        #[derive(Clone, Debug)]
        #[allow(missing_docs)]
        pub struct Scratch {
            $( pub $module: <$module::$compiled as Step>::Scratch, )*
        }

        impl Compiled {
            /// Compiles every flow of a scenario.
            pub fn new(s: &Scenario) -> Compiled {
                let mut c = Compiled::default();
                for (id, flow) in s.flows.iter().enumerate() {
                    match &flow.kind {
                        $( FlowKind::$variant(k) => k.compile(id, flow, s, &mut c.$module), )*
                    }
                }
                $( <$module::$terms as Kind>::arrange(&mut c.$module, s); )*
                c
            }

            /// Scratch for one worker's batches of `lanes` paths.
            pub fn scratch(&self, m: &Model, lanes: usize) -> Scratch {
                Scratch {
                    $( $module: Step::scratch(&self.$module, m, lanes), )*
                }
            }

            /// Every kind's [`Step::prepare`].
            pub fn prepare(&self, k: &mut Scratch, st: &mut State, m: &Model, seed: u64) {
                $( Step::prepare(&self.$module, &mut k.$module, st, m, seed); )*
            }

            /// Every kind's [`Step::operate`], in the list's order.
            pub fn operate<T: Trace>(&self, k: &mut Scratch, st: &mut State, m: &Model, t: &mut T, p: usize) {
                $( Step::operate(&self.$module, &mut k.$module, st, m, t, p); )*
            }

            /// Every kind's [`Step::finance`].
            pub fn finance<T: Trace>(&self, k: &mut Scratch, st: &mut State, m: &Model, t: &mut T, p: usize) {
                $( Step::finance(&self.$module, &mut k.$module, st, m, t, p); )*
            }

            /// Every kind's [`Step::finish`].
            pub fn finish(&self, k: &mut Scratch, st: &mut State, m: &Model) {
                $( Step::finish(&self.$module, &mut k.$module, st, m); )*
            }

            /// Every kind's [`Step::nominal_conditional`].
            pub fn nominal_conditional(&self, st: &State, out: &mut [f64]) {
                $( Step::nominal_conditional(&self.$module, st, out); )*
            }

            /// Every kind's [`Step::explain`].
            pub fn explain(&self, m: &Model, out: &mut Explain) {
                $( Step::explain(&self.$module, m, out); )*
            }

            /// Every kind's [`Step::random_inputs`].
            pub fn random_inputs(&self, m: &Model, out: &mut Vec<RandomInput>) {
                $( Step::random_inputs(&self.$module, m, out); )*
            }
        }
    };
}

kinds! {
    /// `revenue`: revenue from a market, a stochastic growth process.
    Revenue(revenue::Revenue, RevenueC),
    /// `cost`: operating costs.
    Cost(cost::Cost, CostC),
    /// `contract`: a compute or purchase contract.
    Contract(contract::Contract, ContractC),
    /// `revenue_share`: a rate of the payer's revenue paid to a partner.
    RevenueShare(revenue_share::RevenueShare, RevShareC),
    /// `pass_through`: a share of what the payer receives on another flow, passed on.
    PassThrough(pass_through::PassThrough, PassC),
    /// `loan`: principal lent to the company, with interest and repayment.
    Loan(loan::Loan, LoanC),
    /// `equity`: investment into the company, in tranches.
    Equity(equity::Equity, TrancheC),
}

#[cfg(test)]
mod tests {
    use super::{KindTag, PaymentClass};

    #[test]
    fn every_flow_kind_reads_back_from_its_name_and_only_then() {
        for &k in KindTag::ALL {
            assert_eq!(KindTag::parse(k.name()), Some(k));
        }
        let mut names: Vec<&str> = KindTag::ALL.iter().map(|k| k.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), KindTag::ALL.len());
        for bad in ["Cost", "costs", "debt", ""] {
            assert_eq!(KindTag::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn equity_rescues_and_loans_count_as_invested_and_only_they() {
        use PaymentClass::*;
        for (class, invested, service) in [
            (Equity, true, false),
            (Rescue, true, false),
            (DebtDrawdown, true, false),
            (Purchase, false, false),
            (RevenueShare, false, false),
            (Sale, false, false),
            (Interest, false, true),
            (Repayment, false, true),
        ] {
            assert_eq!(class.is_investment(), invested, "{class:?}");
            assert_eq!(class.is_debt_service(), service, "{class:?}");
            assert!(!(class.is_spend() && (invested || service)), "{class:?}");
        }
    }
}
