//! Reading scenario files from disk: UTF-8 and TOML checks, `extends`, `remove` and `--set`.

use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};

use super::Scenario;
use super::build::build;
use super::node::{self, Key, Node, NodeKind, Table};
use crate::diagnostic::{Diagnostic, Diagnostics, SourceMap, Span, suggestion};

/// A `--set name=value` override of a param.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Override {
    /// The param's name.
    pub name: String,
    /// The value as typed: a number, `"A to B"`, or a TOML inline table.
    pub value: String,
    /// The option it came from, as messages name it: `--set` or `--variant LABEL`.
    pub origin: String,
}

impl std::str::FromStr for Override {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => Ok(Override {
                name: name.trim().to_string(),
                value: value.trim().to_string(),
                origin: "--set".to_string(),
            }),
            _ => Err(format!(
                "`{s}` is not of the form name=value (for example amazon_contingent=0)"
            )),
        }
    }
}

/// How many files an `extends` chain may have.
const MAX_EXTENDS: usize = 32;

/// The largest scenario file read, in bytes. The shipped ones are under 40 KB; reading keeps
/// about a hundred bytes of syntax tree per byte of text, so this bounds memory to about 100 MB.
pub const MAX_INPUT_BYTES: u64 = 1 << 20;

/// Why `path` cannot be read as a scenario, checked before opening it: opening a FIFO blocks
/// until someone writes to it, and a device can stream without end.
fn check_scenario_file(path: &Path) -> Result<u64, String> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => format!("cannot read the file ({e})"),
    })?;
    if meta.is_dir() {
        return Err("is a directory: expected a scenario file (.toml)".to_string());
    }
    if !meta.is_file() {
        return Err(
            "is not a regular file (a FIFO, device or socket): expected a scenario file (.toml)"
                .to_string(),
        );
    }
    if meta.len() > MAX_INPUT_BYTES {
        return Err(format!(
            "is {} bytes; a scenario file may have at most {MAX_INPUT_BYTES} bytes (1 MiB)",
            meta.len()
        ));
    }
    Ok(meta.len())
}

/// The bytes of a scenario file, within the size cap even if the file grows while read.
fn read_scenario_bytes(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read as _;
    let len = check_scenario_file(path)?;
    let file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => format!("cannot read the file ({e})"),
    })?;
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read the file ({e})"))?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(format!(
            "grew past {MAX_INPUT_BYTES} bytes while being read; a scenario file may have at most 1 MiB"
        ));
    }
    Ok(bytes)
}

/// Where scenario files are read from.
#[derive(Clone, Copy, Debug)]
pub enum Files<'a> {
    /// The file system.
    Disk,
    /// Texts recorded earlier under the paths they were read from (a part file's scenario,
    /// merged on a machine that need not have the files).
    Recorded(&'a [(PathBuf, String)]),
}

impl Files<'_> {
    /// The size of the file at `path`, or why it cannot be read.
    fn check(self, path: &Path) -> Result<u64, String> {
        match self {
            Files::Disk => check_scenario_file(path),
            Files::Recorded(_) => self.read(path).map(|b| b.len() as u64),
        }
    }

    /// The bytes of the file at `path`.
    fn read(self, path: &Path) -> Result<Vec<u8>, String> {
        match self {
            Files::Disk => read_scenario_bytes(path),
            Files::Recorded(files) => files
                .iter()
                .find(|(p, _)| p == path)
                .map(|(_, text)| text.clone().into_bytes())
                .ok_or_else(|| "is not among the files recorded with the run".to_string()),
        }
    }
}

/// Loads a scenario file, following `extends` and applying `--set` overrides.
pub fn load(
    path: &Path,
    sets: &[Override],
    sources: &mut SourceMap,
) -> Result<Scenario, Diagnostics> {
    load_from(Files::Disk, path, sets, sources)
}

/// [`load`], reading the files from `files`.
pub fn load_from(
    files: Files<'_>,
    path: &Path,
    sets: &[Override],
    sources: &mut SourceMap,
) -> Result<Scenario, Diagnostics> {
    let mut chain = Vec::new();
    let top_file = sources.len();
    let doc = read_document(files, path, sources, &mut chain)?;
    finish(doc, top_file, path, sets, sources)
}

/// Reads a scenario from its text, as if it were the file `origin` (the name in messages, and
/// the folder `extends` paths are relative to), applying `--set`-style overrides.
pub fn from_toml(
    text: &str,
    origin: &Path,
    sets: &[Override],
    sources: &mut SourceMap,
) -> Result<Scenario, Diagnostics> {
    if text.len() as u64 > MAX_INPUT_BYTES {
        return Err(Diagnostic::file(
            origin.display().to_string(),
            format!(
                "is {} bytes; a scenario may have at most {MAX_INPUT_BYTES} bytes (1 MiB)",
                text.len()
            ),
        )
        .into());
    }
    let mut chain = Vec::new();
    let top_file = sources.len();
    let doc = parse_document(Files::Disk, origin, text.to_string(), sources, &mut chain)?;
    finish(doc, top_file, origin, sets, sources)
}

/// Applies the overrides to a read document and builds the scenario.
fn finish(
    mut doc: Table,
    top_file: crate::diagnostic::FileId,
    path: &Path,
    sets: &[Override],
    sources: &mut SourceMap,
) -> Result<Scenario, Diagnostics> {
    let top = Span {
        file: top_file,
        start: 0,
        end: 1,
    };
    apply_overrides(&mut doc, sets, sources)?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scenario".to_string());
    let mut s = build(&doc, top, &stem, &path.display().to_string(), sources)?;
    s.overrides = sets
        .iter()
        .map(|o| format!("{}={}", o.name, o.value))
        .collect();
    Ok(s)
}

fn read_document(
    files: Files<'_>,
    path: &Path,
    sources: &mut SourceMap,
    chain: &mut Vec<PathBuf>,
) -> Result<Table, Diagnostics> {
    let shown = path.display().to_string();
    let bytes = files
        .read(path)
        .map_err(|what| Diagnostics::from(Diagnostic::file(shown.clone(), what)))?;
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let byte = e.as_bytes()[at];
            let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
            // Offsets in the lossy text match the original up to the first bad byte.
            let id = sources.add(shown, Some(path), lossy);
            return Err(Diagnostic::at(
                Span {
                    file: id,
                    start: at,
                    end: at + 1,
                },
                format!("the file is not valid UTF-8 (byte 0x{byte:02x}): save it as UTF-8"),
            )
            .into());
        }
    };
    parse_document(files, path, text, sources, chain)
}

/// Parses a document's text (read from `path`, or standing for it), following `extends`.
fn parse_document(
    files: Files<'_>,
    path: &Path,
    text: String,
    sources: &mut SourceMap,
    chain: &mut Vec<PathBuf>,
) -> Result<Table, Diagnostics> {
    let shown = path.display().to_string();
    let id = sources.add(shown.clone(), Some(path), text);
    let text = &sources.file(id).text;
    let whole = Span {
        file: id,
        start: 0,
        end: text.len(),
    };
    if text.trim().is_empty() {
        return Err(Diagnostic::file(
            shown,
            "empty scenario file: expected at least a [horizon] table, [[entity]] and [[flow]] entries",
        )
        .into());
    }
    let parsed = DeTable::parse(text).map_err(|e| {
        let r = e.span().unwrap_or(0..0);
        Diagnostics::from(Diagnostic::at(
            Span {
                file: id,
                start: r.start,
                end: r.end.max(r.start + 1),
            },
            format!("TOML syntax error: {}", e.message().trim_end()),
        ))
    })?;
    let mut diags = Vec::new();
    let root = node::from_document(id, &parsed, &mut diags);
    if !diags.is_empty() {
        return Err(Diagnostics { items: diags });
    }
    let NodeKind::Table(mut doc) = root.kind else {
        unreachable!("a TOML document is a table")
    };
    if doc.entries.is_empty() {
        return Err(Diagnostic::at(
            whole.sub(0, 1),
            "empty scenario: the file has no tables or keys; expected at least [horizon], [[entity]] and [[flow]]",
        )
        .into());
    }
    let Some(extends) = doc.remove("extends") else {
        if let Some(remove) = doc.key("remove") {
            return Err(Diagnostic::at(
                remove.span,
                "`remove` only applies to a scenario that `extends` another",
            )
            .into());
        }
        return Ok(doc);
    };
    let NodeKind::Str(parent_name) = &extends.kind else {
        return Err(Diagnostic::at(
            extends.span,
            format!(
                "extends: expected the path of another scenario file as a string, found {}",
                extends.kind.type_name()
            ),
        )
        .into());
    };
    let parent_path = path.parent().unwrap_or(Path::new(".")).join(parent_name);
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    chain.push(canonical);
    let parent_canonical =
        std::fs::canonicalize(&parent_path).unwrap_or_else(|_| parent_path.clone());
    if let Some(pos) = chain.iter().position(|p| *p == parent_canonical) {
        let names: Vec<String> = chain[pos..]
            .iter()
            .chain(std::iter::once(&parent_canonical))
            .map(|p| {
                p.file_name()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default()
            })
            .collect();
        return Err(Diagnostic::at(
            extends.span,
            format!(
                "cycle of extends: {}; a scenario cannot extend itself",
                names.join(" -> ")
            ),
        )
        .into());
    }
    if chain.len() >= MAX_EXTENDS {
        return Err(Diagnostic::at(
            extends.span,
            format!("extends chain longer than {MAX_EXTENDS} files"),
        )
        .into());
    }
    if let Err(what) = files.check(&parent_path) {
        let hint = if parent_path.exists() {
            ""
        } else {
            " (paths are relative to this file)"
        };
        return Err(Diagnostic::at(
            extends.span,
            format!(
                "extends: cannot read `{}`: {what}{hint}",
                parent_path.display()
            ),
        )
        .into());
    }
    let mut parent = read_document(files, &parent_path, sources, chain)?;
    chain.pop();
    // Name and description describe one file; they are not inherited.
    parent.remove("name");
    parent.remove("description");
    if let Some(remove) = doc.remove("remove") {
        let items = match &remove.kind {
            NodeKind::Array(items) => items.clone(),
            _ => {
                return Err(Diagnostic::at(
                    remove.span,
                    "remove: expected an array of ids, such as [\"amazon_equity\"]",
                )
                .into());
            }
        };
        let mut errors = Diagnostics::new();
        for item in items {
            match &item.kind {
                NodeKind::Str(id) => {
                    if !node::remove_entry(&mut parent, id) {
                        let ids = node::entry_ids(&parent);
                        errors.push(Diagnostic::at(
                            item.span,
                            format!(
                                "remove: no entity, flow or milestone `{id}` in the extended scenario{}",
                                suggestion(id, ids.iter().map(String::as_str))
                            ),
                        ));
                    }
                }
                other => errors.push(Diagnostic::at(
                    item.span,
                    format!(
                        "remove: expected an id as a string, found {}",
                        other.type_name()
                    ),
                )),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
    }
    node::merge_into(&mut parent, doc);
    Ok(parent)
}

fn apply_overrides(
    doc: &mut Table,
    sets: &[Override],
    sources: &mut SourceMap,
) -> Result<(), Diagnostics> {
    let mut errors = Diagnostics::new();
    for set in sets {
        let text = format!("{}={}", set.name, set.value);
        // Named for the option, so messages read `--set:1:1:` or `--variant LABEL:1:1:`.
        let id = sources.add(set.origin.clone(), None, text);
        let name_span = Span {
            file: id,
            start: 0,
            end: set.name.len().max(1),
        };
        let value_start = set.name.len() + 1;
        let value_span = Span {
            file: id,
            start: value_start,
            end: value_start + set.value.len().max(1),
        };
        let params = doc.entries.iter_mut().find(|(k, _)| k.name == "params");
        let Some((
            _,
            Node {
                kind: NodeKind::Table(params),
                ..
            },
        )) = params
        else {
            errors.push(Diagnostic::at(
                name_span,
                format!(
                    "unknown param `{}`: the scenario has no [params] table",
                    set.name
                ),
            ));
            continue;
        };
        if params.get(&set.name).is_none() {
            errors.push(Diagnostic::at(
                name_span,
                format!(
                    "unknown param `{}`{}",
                    set.name,
                    suggestion(
                        &set.name,
                        params.entries.iter().map(|(k, _)| k.name.as_str())
                    )
                ),
            ));
            continue;
        }
        if set.value.is_empty() {
            errors.push(Diagnostic::at(
                value_span,
                format!(
                    "{}: missing value; expected a number, \"A to B\" or a distribution table",
                    set.name
                ),
            ));
            continue;
        }
        let node = match DeValue::parse(&set.value) {
            Ok(v) => {
                let mut diags = Vec::new();
                let mut n = node::from_value(id, &v, &mut diags);
                if !diags.is_empty() {
                    errors.items.extend(diags);
                    continue;
                }
                shift(&mut n, value_start);
                n
            }
            // Unquoted text such as `5 to 20` is taken as a string.
            Err(_) => Node {
                kind: NodeKind::Str(set.value.clone()),
                span: value_span,
            },
        };
        let key = Key {
            name: set.name.clone(),
            span: name_span,
        };
        params.set(key, node);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn shift(n: &mut Node, by: usize) {
    n.span.start += by;
    n.span.end += by;
    match &mut n.kind {
        NodeKind::Array(items) => items.iter_mut().for_each(|i| shift(i, by)),
        NodeKind::Table(t) => {
            for (k, v) in t.entries.iter_mut() {
                k.span.start += by;
                k.span.end += by;
                shift(v, by);
            }
        }
        _ => {}
    }
}
