//! Numbers that may be uncertain: a constant, a param reference, `"A to B"`, or a distribution.

use indexmap::IndexMap;

use super::node::{Node, NodeKind};
use super::reader::{Diags, Fields, boolean, is_ident, number, string};
use super::{Quantity, QuantityId, Value};
use crate::diagnostic::{Span, suggestion};
use crate::dist::Distribution;

/// What values a field accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Range {
    /// Any finite number.
    Any,
    /// >= 0 (amounts, rates of decay, volatility).
    NonNegative,
    /// > 0 (valuations, durations).
    Positive,
    /// Between 0 and 1 (probabilities, shares, margins).
    Unit,
}

impl Range {
    fn contains(self, lo: f64, hi: f64) -> bool {
        match self {
            Range::Any => true,
            Range::NonNegative => lo >= 0.0,
            Range::Positive => lo > 0.0,
            Range::Unit => lo >= 0.0 && hi <= 1.0,
        }
    }
    fn expected(self) -> &'static str {
        match self {
            Range::Any => "a finite number",
            Range::NonNegative => "a number >= 0",
            Range::Positive => "a number > 0",
            Range::Unit => "a number between 0 and 1",
        }
    }
}

/// The largest magnitude any number may take (in the scenario's unit). Sums of squares of
/// quantities built from such numbers over a long horizon still stay finite.
pub const MAX_MAGNITUDE: f64 = 1e9;

/// The smallest and largest values a path can draw from a distribution: its quantiles at the
/// extreme draws (2^-53 and 1 - 2^-53), which are finite where its support is not.
pub fn reach(dist: &Distribution) -> (f64, f64) {
    let (lo, hi) = dist.support();
    let tail = f64::EPSILON / 2.0;
    let low = if lo.is_finite() {
        lo
    } else {
        dist.quantile(tail)
    };
    let high = if hi.is_finite() {
        hi
    } else {
        dist.quantile(1.0 - tail)
    };
    (low, high)
}

/// How often a field's value may change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Draw {
    /// One value per path.
    PerPath,
    /// A new value each period is allowed.
    PerPeriod,
}

/// A declared param: its value and where it was defined.
pub struct ParamDef {
    /// Its value.
    pub value: Value,
    /// Where it was defined.
    pub span: Span,
}

/// The params and the uncertain quantities found so far.
#[derive(Default)]
pub struct Quantities {
    /// Params by name, in file order.
    pub params: IndexMap<String, ParamDef>,
    /// Every uncertain quantity.
    pub list: Vec<Quantity>,
    /// Params whose own value was rejected: their uses are not reported again.
    pub broken: Vec<String>,
    /// Params some field, distribution or condition refers to.
    pub used: std::cell::RefCell<std::collections::HashSet<String>>,
}

impl Quantities {
    /// The distribution behind a value.
    pub fn dist(&self, v: Value) -> Distribution {
        match v {
            Value::Const(c) => Distribution::Fixed(c),
            Value::Random(q) => self.list[q].dist,
        }
    }

    fn add(&mut self, q: Quantity) -> QuantityId {
        self.list.push(q);
        self.list.len() - 1
    }

    /// Reads the value of a field. `name` keys the random stream of an inline distribution.
    pub fn value(
        &mut self,
        node: &Node,
        what: &str,
        name: &str,
        range: Range,
        draw: Draw,
        d: &mut Diags,
    ) -> Option<Value> {
        let origin = match &node.kind {
            NodeKind::Str(s) => self.params.get(s.as_str()).map(|p| (s.clone(), p.span)),
            _ => None,
        };
        let value = match &node.kind {
            NodeKind::Int(_) | NodeKind::Float(_) => Value::Const(number(node, what, d)?),
            NodeKind::Str(s) => self.parse_string(s, node, what, name, None, d)?,
            NodeKind::Table(_) => self.parse_table(node, what, name, d)?,
            other => {
                d.error(
                    node.span,
                    format!(
                        "{what}: expected a number, a param name, \"A to B\" or a distribution table, found {}",
                        other.type_name()
                    ),
                );
                return None;
            }
        };
        let checked = self.check(value, node, what, range, draw, d);
        if checked.is_none()
            && let Some((name, span)) = origin
        {
            d.error(span, format!("note: param `{name}` is defined here"));
        }
        checked
    }

    /// Checks a value against a field's range and drawing frequency.
    pub fn check(
        &self,
        value: Value,
        node: &Node,
        what: &str,
        range: Range,
        draw: Draw,
        d: &mut Diags,
    ) -> Option<Value> {
        let dist = self.dist(value);
        let (lo, hi) = dist.support();
        let (low, high) = reach(&dist);
        if !(low.abs() <= MAX_MAGNITUDE && high.abs() <= MAX_MAGNITUDE) {
            let shown = match value {
                Value::Const(c) => format!("{c:e}"),
                Value::Random(q) => format!(
                    "`{}` ({dist}) can draw values from {low:e} to {high:e}",
                    self.list[q].name
                ),
            };
            d.error(
                node.span,
                format!("{what}: expected a number from -{MAX_MAGNITUDE:e} to {MAX_MAGNITUDE:e} (larger ones overflow the model's arithmetic), got {shown}"),
            );
            return None;
        }
        let largest = low.abs().max(high.abs());
        if largest > 0.0 && largest < crate::stats::MIN_MAGNITUDE {
            d.error(
                node.span,
                format!("{what}: expected 0 or a number of magnitude at least {:e} (smaller ones are below the model's resolution, and dividing by them overflows), got {largest:e}", crate::stats::MIN_MAGNITUDE),
            );
            return None;
        }
        if !range.contains(lo, hi) {
            let shown = match value {
                Value::Const(c) => format!("{c}"),
                Value::Random(q) => format!(
                    "`{}` ({dist}) can take values from {lo} to {hi}",
                    self.list[q].name
                ),
            };
            d.error(
                node.span,
                format!("{what}: expected {}, got {shown}", range.expected()),
            );
            return None;
        }
        if let Value::Random(q) = value
            && self.list[q].per_period
            && draw == Draw::PerPath
        {
            d.error(
                node.span,
                format!(
                    "{what}: `{}` is drawn per period, but this field takes one value per path; remove `per_period`",
                    self.list[q].name
                ),
            );
            return None;
        }
        Some(value)
    }

    fn parse_string(
        &mut self,
        s: &str,
        node: &Node,
        what: &str,
        name: &str,
        source: Option<String>,
        d: &mut Diags,
    ) -> Option<Value> {
        if let Some((a, b)) = s.split_once(" to ") {
            let (Ok(low), Ok(high)) = (a.trim().parse::<f64>(), b.trim().parse::<f64>()) else {
                d.error(
                    node.span,
                    format!("{what}: `{s}` is not an interval; expected \"A to B\" with two numbers, such as \"5 to 20\""),
                );
                return None;
            };
            if !low.is_finite() || !high.is_finite() {
                d.error(node.span, format!("{what}: interval ends must be finite"));
                return None;
            }
            return match Distribution::interval(low, high) {
                Ok(dist) => Some(Value::Random(self.add(Quantity {
                    name: name.to_string(),
                    dist,
                    per_period: false,
                    source,
                    span: node.span,
                }))),
                Err(msg) => {
                    d.error(node.span, format!("{what}: {msg}"));
                    None
                }
            };
        }
        if is_ident(s) {
            return match self.params.get(s) {
                Some(p) => {
                    self.used.borrow_mut().insert(s.to_string());
                    Some(p.value)
                }
                None if self.broken.iter().any(|b| b == s) => None,
                None => {
                    d.error(
                        node.span,
                        format!(
                            "{what}: unknown param `{s}`{}",
                            suggestion(s, self.params.keys().map(String::as_str))
                        ),
                    );
                    None
                }
            };
        }
        d.error(
            node.span,
            format!("{what}: `{s}` is neither a param name nor an interval \"A to B\""),
        );
        None
    }

    fn parse_table(&mut self, node: &Node, what: &str, name: &str, d: &mut Diags) -> Option<Value> {
        let mut f = Fields::of(node, what.to_string(), d)?;
        let source = f.opt("source").and_then(|n| string(n, "source", d));
        if !f.has("dist") && f.has("value") {
            // `{ value = 35, source = "F07" }`: a plain value with provenance.
            let v = f.opt("value")?;
            f.finish(d);
            return match &v.kind {
                NodeKind::Str(s) => self.parse_string(s, v, what, name, source, d),
                _ => self.value(v, what, name, Range::Any, Draw::PerPeriod, d),
            };
        }
        let dist_node = f.req(
            "dist",
            "a distribution name (fixed, uniform, normal, lognormal, triangular, pert, beta, bernoulli)",
            d,
        )?;
        let kind = string(dist_node, "dist", d)?;
        let per_period = match f.opt("per_period") {
            Some(n) => boolean(n, "per_period", d)?,
            None => false,
        };
        let dist = self.dist_table(&kind, dist_node, &mut f, d);
        f.finish(d);
        let dist = dist?;
        Some(Value::Random(self.add(Quantity {
            name: name.to_string(),
            dist,
            per_period,
            source,
            span: node.span,
        })))
    }

    /// A fixed number for a distribution parameter: a number or a param with a constant value.
    fn param_number(&self, node: &Node, what: &str, d: &mut Diags) -> Option<f64> {
        match &node.kind {
            NodeKind::Str(s) if is_ident(s) => match self.params.get(s.as_str()) {
                Some(ParamDef {
                    value: Value::Const(c),
                    ..
                }) => {
                    self.used.borrow_mut().insert(s.clone());
                    Some(*c)
                }
                Some(_) => {
                    d.error(
                        node.span,
                        format!("{what}: param `{s}` is uncertain; a distribution's parameters must be fixed numbers"),
                    );
                    None
                }
                None => {
                    d.error(
                        node.span,
                        format!(
                            "{what}: unknown param `{s}`{}",
                            suggestion(s, self.params.keys().map(String::as_str))
                        ),
                    );
                    None
                }
            },
            _ => number(node, what, d),
        }
    }

    fn dist_table(
        &self,
        kind: &str,
        kind_node: &Node,
        f: &mut Fields<'_>,
        d: &mut Diags,
    ) -> Option<Distribution> {
        let num = |f: &mut Fields<'_>, key: &'static str, d: &mut Diags| -> Option<f64> {
            let n = f.req(key, "a number", d)?;
            self.param_number(n, key, d)
        };
        let span = f.span;
        let made = match kind {
            "fixed" => num(f, "value", d).map(|v| Ok(Distribution::Fixed(v))),
            "uniform" => {
                let (low, high) = (num(f, "low", d), num(f, "high", d));
                Some(Distribution::uniform(low?, high?))
            }
            "normal" => {
                let (mean, sd) = (num(f, "mean", d), num(f, "sd", d));
                Some(Distribution::normal(mean?, sd?))
            }
            "lognormal" => {
                if f.has("low") || f.has("high") {
                    let (low, high) = (num(f, "low", d), num(f, "high", d));
                    Some(Distribution::lognormal_interval(low?, high?))
                } else {
                    let (median, sigma) = (num(f, "median", d), num(f, "sigma", d));
                    Some(Distribution::lognormal_median(median?, sigma?))
                }
            }
            "triangular" | "pert" => {
                let (low, mode, high) = (num(f, "low", d), num(f, "mode", d), num(f, "high", d));
                let (low, mode, high) = (low?, mode?, high?);
                Some(if kind == "pert" {
                    Distribution::pert(low, mode, high)
                } else {
                    Distribution::triangular(low, mode, high)
                })
            }
            "beta" => {
                let (alpha, beta) = (num(f, "alpha", d), num(f, "beta", d));
                let low = match f.opt("low") {
                    Some(n) => self.param_number(n, "low", d),
                    None => Some(0.0),
                };
                let high = match f.opt("high") {
                    Some(n) => self.param_number(n, "high", d),
                    None => Some(1.0),
                };
                Some(Distribution::beta(alpha?, beta?, low?, high?))
            }
            "bernoulli" => num(f, "p", d).map(Distribution::bernoulli),
            other => {
                let known = [
                    "fixed",
                    "uniform",
                    "normal",
                    "lognormal",
                    "triangular",
                    "pert",
                    "beta",
                    "bernoulli",
                ];
                d.error(
                    kind_node.span,
                    format!("unknown distribution `{other}`{}", suggestion(other, known)),
                );
                return None;
            }
        }?;
        match made {
            Ok(dist) => Some(dist),
            Err(msg) => {
                d.error(span, format!("invalid {kind} distribution: {msg}"));
                None
            }
        }
    }
}
