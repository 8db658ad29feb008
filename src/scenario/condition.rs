//! Conditions for tranches and milestones: a small expression language.
//!
//! ```text
//! reached(agi) or (revenue >= 50 and cash > 10)
//! spend(aws_contract) >= 20        spend_with(amazon) >= threshold_param
//! not reached(ipo) and date >= 2027-Q3
//! ```
//! Metrics are the company's: `revenue` (annualised run-rate), `cash`, `valuation` (revenue
//! run-rate x multiple), `spend(flow)` (cumulative payments on a flow), `spend_with(entity)`
//! (cumulative payments by the company to an entity, equity excluded). Thresholds are numbers or
//! param names. Errors point at the column inside the expression.

use super::{EntityId, FlowId, MilestoneId, Value};
use crate::time::{Month, parse_date};

/// A parsed, resolved condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    /// Always true or false.
    Const(bool),
    /// The milestone has been reached.
    Reached(MilestoneId),
    /// A metric compared with a threshold.
    Compare {
        /// What is measured.
        metric: Metric,
        /// How it is compared.
        cmp: Cmp,
        /// The threshold.
        threshold: Value,
    },
    /// The current period compared with a date (the period's first month).
    Date {
        /// How it is compared.
        cmp: Cmp,
        /// The date's first month (`>`, `<=`: its last month).
        month: Month,
    },
    /// Both hold.
    And(Box<Condition>, Box<Condition>),
    /// Either holds.
    Or(Box<Condition>, Box<Condition>),
    /// Does not hold.
    Not(Box<Condition>),
}

/// A company metric a condition can test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Annualised revenue run-rate.
    Revenue,
    /// Cash.
    Cash,
    /// Value (revenue run-rate x multiple).
    Valuation,
    /// Cumulative payments on a flow.
    Spend(FlowId),
    /// Cumulative payments by the company to an entity (equity excluded).
    SpendWith(EntityId),
}

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    /// `>=`
    Ge,
    /// `>`
    Gt,
    /// `<=`
    Le,
    /// `<`
    Lt,
}

impl Cmp {
    /// Applies the comparison.
    pub fn test<T: PartialOrd>(self, a: T, b: T) -> bool {
        match self {
            Cmp::Ge => a >= b,
            Cmp::Gt => a > b,
            Cmp::Le => a <= b,
            Cmp::Lt => a < b,
        }
    }
}

impl Condition {
    /// Milestones the condition refers to.
    pub fn milestones(&self, out: &mut Vec<MilestoneId>) {
        match self {
            Condition::Reached(m) => out.push(*m),
            Condition::And(a, b) | Condition::Or(a, b) => {
                a.milestones(out);
                b.milestones(out);
            }
            Condition::Not(a) => a.milestones(out),
            _ => {}
        }
    }
}

/// A syntax or reference error at a byte offset inside the expression.
#[derive(Debug, Clone, PartialEq)]
pub struct ExprError {
    /// Byte offset in the expression.
    pub offset: usize,
    /// Length of the offending text.
    pub len: usize,
    /// What is wrong.
    pub message: String,
}

/// Resolves the names a condition uses.
pub trait Resolver {
    /// A milestone by id.
    fn milestone(&mut self, id: &str) -> Result<MilestoneId, String>;
    /// A flow by id.
    fn flow(&mut self, id: &str) -> Result<FlowId, String>;
    /// An entity by id.
    fn entity(&mut self, id: &str) -> Result<EntityId, String>;
    /// A param used as a threshold.
    fn param(&mut self, id: &str) -> Result<Value, String>;
}

const MAX_DEPTH: usize = 64;

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Number(f64),
    Date(String),
    Op(Cmp),
    LParen,
    RParen,
    End,
}

struct Parser<'a, R> {
    text: &'a str,
    pos: usize,
    tok: Tok,
    tok_start: usize,
    resolver: &'a mut R,
    depth: usize,
}

/// Parses and resolves a condition expression.
pub fn parse<R: Resolver>(text: &str, resolver: &mut R) -> Result<Condition, ExprError> {
    let mut p = Parser {
        text,
        pos: 0,
        tok: Tok::End,
        tok_start: 0,
        resolver,
        depth: 0,
    };
    p.advance()?;
    if p.tok == Tok::End {
        return Err(p.error_here(
            "empty condition: expected an expression such as `reached(agi)` or `revenue >= 50`",
        ));
    }
    let c = p.or()?;
    if p.tok != Tok::End {
        return Err(
            p.error_here("unexpected text after the condition: expected `and`, `or` or the end")
        );
    }
    Ok(c)
}

impl<R: Resolver> Parser<'_, R> {
    fn error_here(&self, msg: &str) -> ExprError {
        ExprError {
            offset: self.tok_start,
            len: (self.pos - self.tok_start).max(1),
            message: msg.to_string(),
        }
    }

    fn advance(&mut self) -> Result<(), ExprError> {
        let bytes = self.text.as_bytes();
        while self.pos < bytes.len() && bytes[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
        self.tok_start = self.pos;
        let Some(&c) = bytes.get(self.pos) else {
            self.tok = Tok::End;
            return Ok(());
        };
        self.tok = match c {
            b'(' => {
                self.pos += 1;
                Tok::LParen
            }
            b')' => {
                self.pos += 1;
                Tok::RParen
            }
            b'>' | b'<' => {
                self.pos += 1;
                let eq = bytes.get(self.pos) == Some(&b'=');
                if eq {
                    self.pos += 1;
                }
                Tok::Op(match (c, eq) {
                    (b'>', true) => Cmp::Ge,
                    (b'>', false) => Cmp::Gt,
                    (_, true) => Cmp::Le,
                    _ => Cmp::Lt,
                })
            }
            b'=' | b'!' => {
                self.pos += 1 + usize::from(bytes.get(self.pos + 1) == Some(&b'='));
                return Err(self
                    .error_here("equality tests are not supported on money: use >=, >, <= or <"));
            }
            b'0'..=b'9' | b'-' | b'.' => {
                let start = self.pos;
                self.pos += 1;
                while self.pos < bytes.len()
                    && (bytes[self.pos].is_ascii_alphanumeric()
                        || matches!(bytes[self.pos], b'.' | b'-' | b'_'))
                {
                    self.pos += 1;
                }
                let word = &self.text[start..self.pos];
                if word.len() > 4
                    && word.as_bytes()[4] == b'-'
                    && word[..4].bytes().all(|b| b.is_ascii_digit())
                {
                    Tok::Date(word.to_string())
                } else {
                    match word.replace('_', "").parse::<f64>() {
                        Ok(v) if v.is_finite() => Tok::Number(v),
                        _ => return Err(self.error_here(&format!("`{word}` is not a number"))),
                    }
                }
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = self.pos;
                while self.pos < bytes.len()
                    && (bytes[self.pos].is_ascii_alphanumeric()
                        || matches!(bytes[self.pos], b'_' | b'-'))
                {
                    self.pos += 1;
                }
                Tok::Ident(self.text[start..self.pos].to_string())
            }
            _ => {
                let ch = self.text[self.pos..].chars().next().unwrap_or(' ');
                self.pos += ch.len_utf8();
                return Err(self.error_here(&format!("unexpected character `{ch}`")));
            }
        };
        Ok(())
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(&self.tok, Tok::Ident(s) if s == w)
    }

    fn or(&mut self) -> Result<Condition, ExprError> {
        let mut left = self.and()?;
        while self.is_word("or") {
            self.advance()?;
            let right = self.and()?;
            left = Condition::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Condition, ExprError> {
        let mut left = self.unary()?;
        while self.is_word("and") {
            self.advance()?;
            let right = self.unary()?;
            left = Condition::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Condition, ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error_here("condition nested too deeply (more than 64 levels)"));
        }
        let result = if self.is_word("not") {
            self.advance()?;
            self.unary().map(|c| Condition::Not(Box::new(c)))
        } else {
            self.primary()
        };
        self.depth -= 1;
        result
    }

    fn expect_rparen(&mut self) -> Result<(), ExprError> {
        if self.tok == Tok::RParen {
            self.advance()
        } else {
            Err(self.error_here("expected `)`"))
        }
    }

    /// `(` ident `)` after a function name; returns the name and its offset.
    fn call_arg(&mut self, func: &str) -> Result<(String, usize, usize), ExprError> {
        self.advance()?;
        if self.tok != Tok::LParen {
            return Err(
                self.error_here(&format!("expected `(` after `{func}`, as in `{func}(id)`"))
            );
        }
        self.advance()?;
        let Tok::Ident(name) = self.tok.clone() else {
            return Err(self.error_here(&format!("expected an id inside `{func}( )`")));
        };
        let (start, len) = (self.tok_start, self.pos - self.tok_start);
        self.advance()?;
        self.expect_rparen()?;
        Ok((name, start, len))
    }

    fn resolve<T>(&self, r: Result<T, String>, start: usize, len: usize) -> Result<T, ExprError> {
        r.map_err(|message| ExprError {
            offset: start,
            len,
            message,
        })
    }

    fn primary(&mut self) -> Result<Condition, ExprError> {
        match self.tok.clone() {
            Tok::LParen => {
                self.advance()?;
                let c = self.or()?;
                self.expect_rparen()?;
                Ok(c)
            }
            Tok::Ident(word) => match word.as_str() {
                "true" | "false" => {
                    self.advance()?;
                    Ok(Condition::Const(word == "true"))
                }
                "reached" => {
                    let (id, s, l) = self.call_arg("reached")?;
                    let m = self.resolver.milestone(&id);
                    Ok(Condition::Reached(self.resolve(m, s, l)?))
                }
                "date" => {
                    self.advance()?;
                    let cmp = self.comparison()?;
                    let (text, start) = match self.tok.clone() {
                        Tok::Date(t) => (t, self.tok_start),
                        Tok::Number(n) => (format!("{n}"), self.tok_start),
                        _ => {
                            return Err(self.error_here(
                                "expected a date such as 2027-Q3 after the comparison",
                            ));
                        }
                    };
                    let len = self.pos - start;
                    let date = self.resolve(parse_date(&text), start, len)?;
                    self.advance()?;
                    let month = match cmp {
                        Cmp::Ge | Cmp::Lt => date.first,
                        Cmp::Gt | Cmp::Le => date.last(),
                    };
                    Ok(Condition::Date { cmp, month })
                }
                "revenue" | "cash" | "valuation" => {
                    let metric = match word.as_str() {
                        "revenue" => Metric::Revenue,
                        "cash" => Metric::Cash,
                        _ => Metric::Valuation,
                    };
                    self.advance()?;
                    self.compare(metric)
                }
                "spend" => {
                    let (id, s, l) = self.call_arg("spend")?;
                    let f = self.resolver.flow(&id);
                    let metric = Metric::Spend(self.resolve(f, s, l)?);
                    self.compare(metric)
                }
                "spend_with" => {
                    let (id, s, l) = self.call_arg("spend_with")?;
                    let e = self.resolver.entity(&id);
                    let metric = Metric::SpendWith(self.resolve(e, s, l)?);
                    self.compare(metric)
                }
                "and" | "or" => {
                    Err(self.error_here(&format!("`{word}` needs a condition on its left")))
                }
                _ => {
                    let known = [
                        "reached",
                        "revenue",
                        "cash",
                        "valuation",
                        "spend",
                        "spend_with",
                        "date",
                        "not",
                        "true",
                        "false",
                    ];
                    Err(self.error_here(&format!(
                        "unknown word `{word}` in condition{}",
                        crate::diagnostic::suggestion(&word, known)
                    )))
                }
            },
            Tok::End => Err(self.error_here("unexpected end of condition: expected an expression")),
            _ => {
                Err(self
                    .error_here("expected a condition such as `reached(agi)` or `revenue >= 50`"))
            }
        }
    }

    fn comparison(&mut self) -> Result<Cmp, ExprError> {
        match self.tok {
            Tok::Op(c) => {
                self.advance()?;
                Ok(c)
            }
            _ => Err(self.error_here("expected a comparison: >=, >, <= or <")),
        }
    }

    fn compare(&mut self, metric: Metric) -> Result<Condition, ExprError> {
        let cmp = self.comparison()?;
        let threshold = match self.tok.clone() {
            Tok::Number(v) => Value::Const(v),
            Tok::Ident(name) => {
                let (s, l) = (self.tok_start, self.pos - self.tok_start);
                let v = self.resolver.param(&name);
                self.resolve(v, s, l)?
            }
            _ => {
                return Err(
                    self.error_here("expected a number or a param name after the comparison")
                );
            }
        };
        self.advance()?;
        Ok(Condition::Compare {
            metric,
            cmp,
            threshold,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Names;
    impl Resolver for Names {
        fn milestone(&mut self, id: &str) -> Result<MilestoneId, String> {
            match id {
                "agi" => Ok(0),
                "ipo" => Ok(1),
                _ => Err(format!("unknown milestone `{id}`")),
            }
        }
        fn flow(&mut self, id: &str) -> Result<FlowId, String> {
            if id == "aws" {
                Ok(3)
            } else {
                Err(format!("unknown flow `{id}`"))
            }
        }
        fn entity(&mut self, id: &str) -> Result<EntityId, String> {
            if id == "amazon" {
                Ok(2)
            } else {
                Err(format!("unknown entity `{id}`"))
            }
        }
        fn param(&mut self, id: &str) -> Result<Value, String> {
            if id == "k" {
                Ok(Value::Const(7.0))
            } else {
                Err(format!("unknown param `{id}`"))
            }
        }
    }

    #[test]
    fn parses_precedence_and_calls() {
        let c = parse("reached(agi) or revenue >= 50 and not cash < k", &mut Names).unwrap();
        let Condition::Or(a, b) = c else { panic!() };
        assert_eq!(*a, Condition::Reached(0));
        let Condition::And(_, right) = *b else {
            panic!()
        };
        assert!(matches!(*right, Condition::Not(_)));
        let c = parse("spend_with(amazon) >= 20 and date >= 2027-Q3", &mut Names).unwrap();
        assert!(matches!(c, Condition::And(..)));
    }

    #[test]
    fn reports_the_column_of_the_problem() {
        let e = parse("reached(agi) and revenue >> 5", &mut Names).unwrap_err();
        assert_eq!(e.offset, 26, "{e:?}");
        let e = parse("reached(agj)", &mut Names).unwrap_err();
        assert_eq!((e.offset, e.len), (8, 3));
        let e = parse("(reached(agi)", &mut Names).unwrap_err();
        assert!(e.message.contains("`)`"), "{e:?}");
        let e = parse("revnue > 3", &mut Names).unwrap_err();
        assert!(e.message.contains("did you mean `revenue`"), "{e:?}");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let text = format!("{}true{}", "(".repeat(100_000), ")".repeat(100_000));
        let e = parse(&text, &mut Names).unwrap_err();
        assert!(e.message.contains("nested too deeply"));
        let text = format!("{}true", "not ".repeat(100_000));
        assert!(parse(&text, &mut Names).is_err());
    }
}
