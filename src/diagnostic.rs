//! Source files, spans and the `FILE:LINE:COL: message` diagnostics users read.
//!
//! Every value read from a scenario carries a [`Span`] (file and byte range), so an error found
//! late (a bad reference, an invalid correlation matrix) still points at the exact place to fix.

use std::fmt::Write as _;

use std::path::{Path, PathBuf};
use unicode_width::UnicodeWidthChar as _;

/// Index of a file in a [`SourceMap`].
pub type FileId = usize;

/// A byte range inside one source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// The file the range belongs to.
    pub file: FileId,
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// A span of `len` bytes starting `offset` bytes into this one (clamped to it).
    pub fn sub(self, offset: usize, len: usize) -> Span {
        let start = (self.start + offset).min(self.end.max(self.start));
        let end = (start + len.max(1)).min(self.end.max(start + 1));
        Span {
            file: self.file,
            start,
            end,
        }
    }
}

/// One loaded source: a scenario file, or a pseudo-file such as a `--set` argument.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Name shown in messages (the path as the user gave it, or `--set`).
    pub name: String,
    /// Path on disk, when there is one.
    pub path: Option<PathBuf>,
    /// The whole text.
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    fn new(name: String, path: Option<PathBuf>, text: String) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        SourceFile {
            name,
            path,
            text,
            line_starts,
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[line];
        let col = self.text[start..floor_char_boundary(&self.text, offset)]
            .chars()
            .count();
        (line + 1, col + 1)
    }

    /// The text of a 1-based line, without its line ending.
    pub fn line_text(&self, line: usize) -> &str {
        let start = self.line_starts[line - 1];
        let end = self
            .line_starts
            .get(line)
            .copied()
            .unwrap_or(self.text.len());
        self.text[start..end].trim_end_matches(['\n', '\r'])
    }
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// All sources read for one command, so spans can be turned into `FILE:LINE:COL`.
#[derive(Debug, Default, Clone)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every source, in the order they were added.
    pub fn files(&self) -> impl Iterator<Item = &SourceFile> {
        self.files.iter()
    }

    /// Adds a source and returns its id.
    pub fn add(&mut self, name: impl Into<String>, path: Option<&Path>, text: String) -> FileId {
        self.files.push(SourceFile::new(
            name.into(),
            path.map(Path::to_path_buf),
            text,
        ));
        self.files.len() - 1
    }

    /// Number of sources.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// True when no source was added.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The source with this id.
    pub fn file(&self, id: FileId) -> &SourceFile {
        &self.files[id]
    }

    /// The text a span covers.
    pub fn slice(&self, span: Span) -> &str {
        let text = &self.files[span.file].text;
        let start = floor_char_boundary(text, span.start.min(text.len()));
        let end = floor_char_boundary(text, span.end.min(text.len())).max(start);
        &text[start..end]
    }
}

/// Where a diagnostic points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A place inside a loaded source.
    Span(Span),
    /// A file as a whole (missing, unreadable, not UTF-8...).
    File(String),
    /// No place (a usage problem).
    None,
}

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Severity {
    /// The input cannot be used (exit code 2).
    #[default]
    Error,
    /// The input can be used but probably does not say what was meant (exit code 0, unless
    /// warnings are denied).
    Warning,
}

/// One problem found in the user's input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Where it is.
    pub location: Location,
    /// What is wrong and what was expected.
    pub message: String,
    /// Error or warning.
    pub severity: Severity,
}

impl Diagnostic {
    /// A problem at a span.
    pub fn at(span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            location: Location::Span(span),
            message: message.into(),
            severity: Severity::Error,
        }
    }

    /// A warning at a span.
    pub fn warning(span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::at(span, message)
        }
    }

    /// A problem with a whole file.
    pub fn file(name: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            location: Location::File(name.into()),
            message: message.into(),
            severity: Severity::Error,
        }
    }

    /// A problem that has no place in a file.
    pub fn plain(message: impl Into<String>) -> Self {
        Diagnostic {
            location: Location::None,
            message: message.into(),
            severity: Severity::Error,
        }
    }

    /// Renders `FILE:LINE:COL: message`, then the offending line with a caret under the span.
    pub fn render(&self, sources: &SourceMap) -> String {
        let kind = match self.severity {
            Severity::Error => "",
            Severity::Warning => "warning: ",
        };
        match &self.location {
            Location::None if kind.is_empty() => format!("error: {}\n", self.message),
            Location::None => format!("{kind}{}\n", self.message),
            Location::File(name) => format!("{name}: {kind}{}\n", self.message),
            Location::Span(span) => {
                let file = sources.file(span.file);
                let (line, col) = file.line_col(span.start);
                let mut out = format!("{}:{line}:{col}: {kind}{}\n", file.name, self.message);
                let text = file.line_text(line);
                let gutter = line.to_string().len();
                let (end_line, end_col) = file.line_col(span.end.max(span.start + 1) - 1);
                let width = if end_line == line {
                    end_col + 1 - col
                } else {
                    text.chars().count().saturating_sub(col - 1).max(1)
                };
                let shown = shorten(text, col);
                let _ = writeln!(out, "{:gutter$} |", "");
                let _ = writeln!(out, "{line} | {shown}");
                let shown_col = if text.chars().count() > MAX_SHOWN {
                    col.min(MAX_SHOWN)
                } else {
                    col
                };
                // Columns on the terminal, not characters: a CJK character takes two.
                let pad = columns(shown.chars().take(shown_col - 1));
                let marked = columns(shown.chars().skip(shown_col - 1).take(width));
                let _ = writeln!(
                    out,
                    "{:gutter$} | {}{}",
                    "",
                    " ".repeat(pad),
                    "^".repeat(marked.clamp(1, MAX_SHOWN))
                );
                out
            }
        }
    }
}

const MAX_SHOWN: usize = 200;

/// Terminal columns of some characters (a CJK character takes two, a control one).
fn columns(chars: impl Iterator<Item = char>) -> usize {
    chars.map(|c| c.width().unwrap_or(1)).sum()
}

/// Keeps very long lines readable: shows at most `MAX_SHOWN` characters around the column.
fn shorten(text: &str, col: usize) -> String {
    let count = text.chars().count();
    if count <= MAX_SHOWN {
        return text.replace('\t', " ");
    }
    let skip = col.saturating_sub(MAX_SHOWN);
    text.chars()
        .skip(skip)
        .take(MAX_SHOWN)
        .map(|c| if c == '\t' { ' ' } else { c })
        .collect()
}

/// Problems found in the user's input: the command exits with code 2.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics {
    /// The problems, in the order found.
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// No problem yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a problem.
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Renders all problems, in file order.
    pub fn render(&self, sources: &SourceMap) -> String {
        // A note ("note: ...") stays right after the error it explains.
        let mut groups: Vec<Vec<&Diagnostic>> = Vec::new();
        for d in &self.items {
            match groups.last_mut() {
                Some(g) if d.message.starts_with("note:") => g.push(d),
                _ => groups.push(vec![d]),
            }
        }
        groups.sort_by_key(|g| match &g[0].location {
            Location::Span(s) => (0, s.file, s.start),
            Location::File(_) => (1, 0, 0),
            Location::None => (2, 0, 0),
        });
        groups.dedup_by(|a, b| a == b);
        groups.iter().flatten().map(|d| d.render(sources)).collect()
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics { items: vec![d] }
    }
}

/// Closest candidate to `name` among `candidates`, if one is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    // Similarity costs the product of the lengths: a name this long is no typo of a valid one.
    if name.len() > 200 {
        return None;
    }
    let lower = name.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&lower, &c.to_ascii_lowercase()), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// `; did you mean `x`?` when there is a close candidate, else the list of valid names.
pub fn suggestion<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str> + Clone) -> String {
    match did_you_mean(name, candidates.clone()) {
        Some(best) => format!("; did you mean `{best}`?"),
        None => {
            let all: Vec<&str> = candidates.into_iter().collect();
            if all.is_empty() {
                String::new()
            } else if all.len() <= 12 {
                format!(
                    "; expected one of {}",
                    all.iter()
                        .map(|c| format!("`{c}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            } else {
                String::new()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_file_line_col_and_caret() {
        let mut map = SourceMap::new();
        let id = map.add("a.toml", None, "x = 1\nname = \"abc\"\n".to_string());
        let d = Diagnostic::at(
            Span {
                file: id,
                start: 13,
                end: 18,
            },
            "bad name",
        );
        let text = d.render(&map);
        assert!(text.starts_with("a.toml:2:8: bad name\n"), "{text}");
        assert!(text.contains("2 | name = \"abc\""), "{text}");
        assert!(text.contains("  |        ^^^^^"), "{text}");
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(did_you_mean("amout", ["amount", "date"]), Some("amount"));
        assert_eq!(did_you_mean("zzz", ["amount", "date"]), None);
    }
}
