//! Reading typed fields out of [`Node`] tables, with precise errors.
//!
//! [`Fields`] remembers which keys were asked for; whatever is left over is an unknown field,
//! reported with the closest known key as a suggestion.

use super::node::{Key, Node, NodeKind, Table};
use crate::diagnostic::{Diagnostic, Span, suggestion};
use crate::time::{Date, Month, parse_date};

/// Collects diagnostics while a scenario is read.
#[derive(Default)]
pub struct Diags {
    /// Problems found so far.
    pub items: Vec<Diagnostic>,
}

impl Diags {
    /// Records a problem at a span.
    pub fn error(&mut self, span: Span, message: impl Into<String>) {
        self.items.push(Diagnostic::at(span, message));
    }
}

/// A table being read: what it is (for messages) and which keys were consumed.
pub struct Fields<'a> {
    table: &'a Table,
    /// Where the table was written (its header or opening brace).
    pub span: Span,
    /// How messages name it: "flow `aws`", "[horizon]".
    pub what: String,
    asked: Vec<&'static str>,
}

impl<'a> Fields<'a> {
    /// Starts reading a node that must be a table.
    pub fn of(node: &'a Node, what: impl Into<String>, d: &mut Diags) -> Option<Fields<'a>> {
        let what = what.into();
        match &node.kind {
            NodeKind::Table(t) => Some(Fields {
                table: t,
                span: node.span,
                what,
                asked: Vec::new(),
            }),
            other => {
                d.error(
                    node.span,
                    format!("{what}: expected a table, found {}", other.type_name()),
                );
                None
            }
        }
    }

    /// An optional field.
    pub fn opt(&mut self, key: &'static str) -> Option<&'a Node> {
        self.asked.push(key);
        self.table.get(key)
    }

    /// A required field; reports it missing at the table.
    pub fn req(&mut self, key: &'static str, expected: &str, d: &mut Diags) -> Option<&'a Node> {
        let v = self.opt(key);
        if v.is_none() {
            d.error(
                self.span,
                format!(
                    "missing required field `{key}` in {}: expected {expected}",
                    self.what
                ),
            );
        }
        v
    }

    /// The key of a field, as written.
    pub fn key(&self, key: &str) -> Option<&'a Key> {
        self.table.key(key)
    }

    /// True when the field is present.
    pub fn has(&self, key: &str) -> bool {
        self.table.get(key).is_some()
    }

    /// Reports keys that were never asked for as unknown fields.
    pub fn finish(&self, d: &mut Diags) {
        for (key, _) in &self.table.entries {
            if !self.asked.contains(&key.name.as_str()) {
                let known = self.asked.iter().copied();
                d.error(
                    key.span,
                    format!(
                        "unknown field `{}` in {}{}",
                        key.name,
                        self.what,
                        suggestion(&key.name, known)
                    ),
                );
            }
        }
    }
}

/// Longest identifier, in characters.
pub const MAX_ID: usize = 100;
/// Longest display name, in characters.
pub const MAX_NAME: usize = 200;
/// Longest free text (descriptions, sources, conditions), in characters.
pub const MAX_TEXT: usize = 10_000;

/// Reads a string of at most [`MAX_TEXT`] characters.
pub fn string(node: &Node, what: &str, d: &mut Diags) -> Option<String> {
    match &node.kind {
        NodeKind::Str(s) if s.chars().count() > MAX_TEXT => {
            d.error(
                node.span,
                format!(
                    "{what}: expected at most {MAX_TEXT} characters, found {}",
                    s.chars().count()
                ),
            );
            None
        }
        NodeKind::Str(s) => Some(s.clone()),
        other => {
            d.error(
                node.span,
                format!("{what}: expected a string, found {}", other.type_name()),
            );
            None
        }
    }
}

/// Reads a display name of at most [`MAX_NAME`] characters.
pub fn name(node: &Node, what: &str, d: &mut Diags) -> Option<String> {
    let s = string(node, what, d)?;
    let n = s.chars().count();
    if s.trim().is_empty() {
        d.error(
            node.span,
            format!("{what}: expected a name, found an empty one"),
        );
        return None;
    }
    if let Some(c) = s.chars().find(|c| c.is_control()) {
        d.error(
            node.span,
            format!(
                "{what}: contains the control character U+{:04X}; a name is shown on terminals and charts, so it must be printable",
                c as u32
            ),
        );
        return None;
    }
    if n > MAX_NAME {
        d.error(
            node.span,
            format!("{what}: expected a name of at most {MAX_NAME} characters, found {n}"),
        );
        return None;
    }
    Some(s)
}

/// Reads an identifier: a letter or `_`, then letters, digits, `_` or `-`, at most [`MAX_ID`]
/// characters.
pub fn ident(node: &Node, what: &str, d: &mut Diags) -> Option<String> {
    let s = match &node.kind {
        NodeKind::Str(s) => s.clone(),
        _ => string(node, what, d)?,
    };
    if s.len() > MAX_ID {
        d.error(
            node.span,
            format!(
                "{what}: expected an id of at most {MAX_ID} characters, found {}",
                s.len()
            ),
        );
        None
    } else if is_ident(&s) {
        Some(s)
    } else {
        d.error(
            node.span,
            format!(
                "{what}: `{s}` is not a valid id; expected a letter or `_` followed by letters, digits, `_` or `-`"
            ),
        );
        None
    }
}

/// True for a valid identifier (at most [`MAX_ID`] characters).
pub fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    s.len() <= MAX_ID
        && matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Reads a plain finite number (integer or float).
pub fn number(node: &Node, what: &str, d: &mut Diags) -> Option<f64> {
    let v = match &node.kind {
        NodeKind::Int(i) => *i as f64,
        NodeKind::Float(f) => *f,
        other => {
            d.error(
                node.span,
                format!("{what}: expected a number, found {}", other.type_name()),
            );
            return None;
        }
    };
    if v.is_finite() {
        Some(v)
    } else {
        d.error(
            node.span,
            format!("{what}: expected a finite number, found {v}"),
        );
        None
    }
}

/// Reads a boolean.
pub fn boolean(node: &Node, what: &str, d: &mut Diags) -> Option<bool> {
    match &node.kind {
        NodeKind::Bool(b) => Some(*b),
        other => {
            d.error(
                node.span,
                format!(
                    "{what}: expected `true` or `false`, found {}",
                    other.type_name()
                ),
            );
            None
        }
    }
}

/// Reads a whole number from `lo` to `hi`.
pub fn count(node: &Node, what: &str, lo: u32, hi: u32, d: &mut Diags) -> Option<u32> {
    match &node.kind {
        NodeKind::Int(i) if (i64::from(lo)..=i64::from(hi)).contains(i) => Some(*i as u32),
        NodeKind::Int(i) => {
            d.error(
                node.span,
                format!("{what}: expected a whole number from {lo} to {hi}, found {i}"),
            );
            None
        }
        other => {
            d.error(
                node.span,
                format!(
                    "{what}: expected a whole number from {lo} to {hi}, found {}",
                    other.type_name()
                ),
            );
            None
        }
    }
}

/// Reads an array.
pub fn array<'a>(node: &'a Node, what: &str, d: &mut Diags) -> Option<&'a [Node]> {
    match &node.kind {
        NodeKind::Array(items) => Some(items),
        other => {
            d.error(
                node.span,
                format!("{what}: expected an array, found {}", other.type_name()),
            );
            None
        }
    }
}

/// Reads a date: a string (`"2026-Q1"`), a year as an integer, or a TOML date literal.
pub fn date(node: &Node, what: &str, d: &mut Diags) -> Option<Date> {
    let text = match &node.kind {
        NodeKind::Str(s) => s.clone(),
        NodeKind::Int(i) => i.to_string(),
        NodeKind::Datetime(dt) => match (dt.date, dt.time) {
            (Some(date), None) => format!("{:04}-{:02}-{:02}", date.year, date.month, date.day),
            _ => {
                d.error(
                    node.span,
                    format!("{what}: expected a date without a time of day, found `{dt}`"),
                );
                return None;
            }
        },
        other => {
            d.error(
                node.span,
                format!(
                    "{what}: expected a date such as \"2026-Q1\", found {}",
                    other.type_name()
                ),
            );
            return None;
        }
    };
    match parse_date(&text) {
        Ok(date) => Some(date),
        Err(msg) => {
            d.error(node.span, format!("{what}: {msg}"));
            None
        }
    }
}

/// The horizon's bounds, for range checks on dates.
#[derive(Clone, Copy)]
pub struct Bounds {
    /// First month of the horizon.
    pub first: Month,
    /// Last month of the horizon.
    pub last: Month,
}

impl Bounds {
    /// Checks that a start-type date lies inside the horizon; returns its first month.
    pub fn start_inside(
        &self,
        date: Date,
        node: &Node,
        what: &str,
        d: &mut Diags,
    ) -> Option<Month> {
        if date.first < self.first || date.first > self.last {
            d.error(
                node.span,
                format!(
                    "{what}: date {} is outside the horizon {} to {}",
                    crate::scenario::reader::written(node),
                    self.first,
                    self.last
                ),
            );
            None
        } else {
            Some(date.first)
        }
    }

    /// Checks that an end-type date is not before the horizon starts (it may run past the
    /// end); returns its last month.
    pub fn end_not_before(
        &self,
        date: Date,
        node: &Node,
        what: &str,
        d: &mut Diags,
    ) -> Option<Month> {
        if date.last() < self.first {
            d.error(
                node.span,
                format!(
                    "{what}: date {} is before the horizon starts ({})",
                    written(node),
                    self.first
                ),
            );
            None
        } else {
            Some(date.last())
        }
    }
}

/// A value as the user wrote it, for messages.
pub fn written(node: &Node) -> String {
    match &node.kind {
        NodeKind::Str(s) => format!("`{s}`"),
        NodeKind::Int(i) => format!("`{i}`"),
        NodeKind::Float(f) => format!("`{f}`"),
        NodeKind::Bool(b) => format!("`{b}`"),
        NodeKind::Datetime(dt) => format!("`{dt}`"),
        NodeKind::Array(_) => "an array".to_string(),
        NodeKind::Table(_) => "a table".to_string(),
    }
}
