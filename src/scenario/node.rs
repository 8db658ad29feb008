//! An owned TOML tree in which every key and value keeps its span, across files.
//!
//! The `toml` crate's spanned tree borrows from one input; a scenario that `extends` another is
//! merged from several files, so values are copied into [`Node`]s that carry their own file id.

use toml::Spanned;
use toml::de::{DeTable, DeValue};
use toml::value::Datetime;

use crate::diagnostic::{Diagnostic, FileId, Span};

/// A TOML value with the place it was written.
#[derive(Clone, Debug)]
pub struct Node {
    /// The value.
    pub kind: NodeKind,
    /// Where it was written.
    pub span: Span,
}

/// The kinds of TOML value.
#[derive(Clone, Debug)]
pub enum NodeKind {
    /// A string.
    Str(String),
    /// An integer.
    Int(i64),
    /// A float (TOML allows `nan` and `inf`; validation rejects them where amounts are expected).
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A TOML date or date-time literal.
    Datetime(Datetime),
    /// An array.
    Array(Vec<Node>),
    /// A table.
    Table(Table),
}

/// A key as written.
#[derive(Clone, Debug)]
pub struct Key {
    /// The key.
    pub name: String,
    /// Where it was written.
    pub span: Span,
}

/// A table, in file order.
#[derive(Clone, Debug, Default)]
pub struct Table {
    /// Entries in the order they were written.
    pub entries: Vec<(Key, Node)>,
}

impl Table {
    /// The entry for a key.
    pub fn get(&self, name: &str) -> Option<&Node> {
        self.entries
            .iter()
            .find(|(k, _)| k.name == name)
            .map(|(_, v)| v)
    }

    /// The key as written.
    pub fn key(&self, name: &str) -> Option<&Key> {
        self.entries
            .iter()
            .find(|(k, _)| k.name == name)
            .map(|(k, _)| k)
    }

    /// Sets a key, replacing an existing entry in place.
    pub fn set(&mut self, key: Key, value: Node) {
        match self.entries.iter_mut().find(|(k, _)| k.name == key.name) {
            Some(slot) => *slot = (key, value),
            None => self.entries.push((key, value)),
        }
    }

    /// Removes a key.
    pub fn remove(&mut self, name: &str) -> Option<Node> {
        let i = self.entries.iter().position(|(k, _)| k.name == name)?;
        Some(self.entries.remove(i).1)
    }
}

impl NodeKind {
    /// The TOML type name, for "expected X, found Y" messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            NodeKind::Str(_) => "a string",
            NodeKind::Int(_) => "an integer",
            NodeKind::Float(_) => "a float",
            NodeKind::Bool(_) => "a boolean",
            NodeKind::Datetime(_) => "a date",
            NodeKind::Array(_) => "an array",
            NodeKind::Table(_) => "a table",
        }
    }
}

/// Converts the `toml` crate's borrowed, spanned document into an owned [`Table`].
pub fn from_document(
    file: FileId,
    doc: &Spanned<DeTable<'_>>,
    diags: &mut Vec<Diagnostic>,
) -> Node {
    let span = to_span(file, doc.span());
    Node {
        kind: NodeKind::Table(convert_table(file, doc.get_ref(), diags)),
        span,
    }
}

fn to_span(file: FileId, r: std::ops::Range<usize>) -> Span {
    Span {
        file,
        start: r.start,
        end: r.end,
    }
}

fn convert_table(file: FileId, t: &DeTable<'_>, diags: &mut Vec<Diagnostic>) -> Table {
    let mut out = Table::default();
    for (k, v) in t.iter() {
        let key = Key {
            name: k.get_ref().to_string(),
            span: to_span(file, k.span()),
        };
        out.entries.push((key, from_value(file, v, diags)));
    }
    out
}

/// Converts one spanned value. The `toml` parser bounds nesting depth, so this recursion is
/// bounded too.
pub fn from_value(file: FileId, v: &Spanned<DeValue<'_>>, diags: &mut Vec<Diagnostic>) -> Node {
    let span = to_span(file, v.span());
    let kind = match v.get_ref() {
        DeValue::String(s) => NodeKind::Str(s.to_string()),
        DeValue::Integer(i) => {
            let digits = i.as_str().replace('_', "");
            match i64::from_str_radix(&digits, i.radix()) {
                Ok(n) => NodeKind::Int(n),
                Err(_) => {
                    diags.push(Diagnostic::at(
                        span,
                        "integer out of range: expected a number between -2^63 and 2^63-1",
                    ));
                    NodeKind::Int(0)
                }
            }
        }
        DeValue::Float(f) => {
            let text = f.as_str().replace('_', "");
            let value = match text.as_str() {
                "nan" | "+nan" | "-nan" => f64::NAN,
                "inf" | "+inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                t => t.parse().unwrap_or(f64::NAN),
            };
            NodeKind::Float(value)
        }
        DeValue::Boolean(b) => NodeKind::Bool(*b),
        DeValue::Datetime(d) => NodeKind::Datetime(*d),
        DeValue::Array(a) => {
            NodeKind::Array(a.iter().map(|x| from_value(file, x, diags)).collect())
        }
        DeValue::Table(t) => NodeKind::Table(convert_table(file, t, diags)),
    };
    Node { kind, span }
}

/// Merges a scenario that `extends` another into it: sections merge key by key, lists of
/// id-carrying tables (`[[entity]]`, `[[flow]]`, `[[milestone]]`) merge by id (an entry with a
/// known id replaces the keys it names), and any other value replaces the parent's.
pub fn merge_into(parent: &mut Table, child: Table) {
    for (key, value) in child.entries {
        let existing = parent.entries.iter_mut().find(|(k, _)| k.name == key.name);
        match (existing, value) {
            (
                Some((
                    _,
                    Node {
                        kind: NodeKind::Table(pt),
                        ..
                    },
                )),
                Node {
                    kind: NodeKind::Table(ct),
                    ..
                },
            ) => {
                for (k, v) in ct.entries {
                    pt.set(k, v);
                }
            }
            (
                Some((
                    _,
                    Node {
                        kind: NodeKind::Array(pa),
                        ..
                    },
                )),
                Node {
                    kind: NodeKind::Array(ca),
                    span,
                },
            ) if is_id_list(pa) && is_id_list(&ca) => {
                for entry in ca {
                    merge_entry(pa, entry);
                }
                let _ = span;
            }
            (Some(slot), value) => {
                *slot = (key, value);
            }
            (None, value) => parent.entries.push((key, value)),
        }
    }
}

fn entry_id(n: &Node) -> Option<&str> {
    match &n.kind {
        NodeKind::Table(t) => match t.get("id").map(|v| &v.kind) {
            Some(NodeKind::Str(s)) => Some(s),
            _ => None,
        },
        _ => None,
    }
}

fn is_id_list(items: &[Node]) -> bool {
    items.iter().all(|n| matches!(n.kind, NodeKind::Table(_)))
}

fn merge_entry(list: &mut Vec<Node>, entry: Node) {
    let id = entry_id(&entry).map(str::to_string);
    let target = id
        .as_deref()
        .and_then(|id| list.iter_mut().find(|n| entry_id(n) == Some(id)));
    match (target, entry.kind) {
        (
            Some(Node {
                kind: NodeKind::Table(pt),
                ..
            }),
            NodeKind::Table(ct),
        ) => {
            for (k, v) in ct.entries {
                pt.set(k, v);
            }
        }
        (_, kind) => list.push(Node {
            kind,
            span: entry.span,
        }),
    }
}

/// Removes the entries with an id from the id lists of a document; returns whether one was found.
pub fn remove_entry(doc: &mut Table, id: &str) -> bool {
    let mut found = false;
    for (_, node) in doc.entries.iter_mut() {
        if let NodeKind::Array(items) = &mut node.kind
            && is_id_list(items)
        {
            let before = items.len();
            items.retain(|n| entry_id(n) != Some(id));
            found |= items.len() != before;
        }
    }
    found
}

/// All ids of entries in the id lists of a document, for suggestions.
pub fn entry_ids(doc: &Table) -> Vec<String> {
    doc.entries
        .iter()
        .filter_map(|(_, n)| match &n.kind {
            NodeKind::Array(items) if is_id_list(items) => Some(items),
            _ => None,
        })
        .flatten()
        .filter_map(|n| entry_id(n).map(str::to_string))
        .collect()
}
