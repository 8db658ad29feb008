//! Shared helpers for the integration tests: a scenario builder and the binary driven end to end.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The `cfsim` binary.
pub fn cfsim() -> Command {
    Command::cargo_bin("cfsim").expect("binary is built")
}

/// A small valid scenario that every error test breaks in one place.
pub const BASE: &str = r#"name = "tiny"

[horizon]
start = "2024-Q1"
end = "2030-Q4"
step = "quarter"

[params]
growth = "0.2 to 0.8"
multiple = { dist = "uniform", low = 10, high = 30 }

[[entity]]
id = "lab"
roles = ["lab"]
cash = 10

[[entity]]
id = "inv"
roles = ["investor", "cloud"]

[[entity]]
id = "customers"
roles = ["market"]

[[flow]]
id = "rev"
kind = "revenue"
from = "customers"
to = "lab"
initial = 4
growth = "growth"

[[flow]]
id = "eq"
kind = "equity"
from = "inv"
to = "lab"
[[flow.tranche]]
id = "a"
amount = 10
date = "2026-Q1"
post_money = 100
[[flow.tranche]]
id = "b"
amount = 20
when = "reached(agi) or revenue >= 30"
window = { from = "2026-Q2", until = "2028-Q4" }

[[flow]]
id = "cloud"
kind = "contract"
from = "lab"
to = "inv"
value = 20
start = "2025-Q4"
duration_years = 7
margin = 0.3
profile = { ramp_until = "2026-Q4" }

[[flow]]
id = "opex"
kind = "cost"
from = "lab"
fixed = 5
share_of_revenue = 0.5

[[milestone]]
id = "agi"
hazard = 0.1

[valuation]
multiple = "multiple"
"#;

/// Runs `cfsim run` on a scenario file (quietly, without charts) and returns its summary.json
/// as JSON; fails the test with cfsim's stderr when the run fails.
pub fn run_summary(file: &Path, paths: u64, extra: &[&str]) -> serde_json::Value {
    serde_json::from_str(&run_json(file, paths, extra)).expect("valid JSON")
}

/// Runs `cfsim run` like [`run_summary`] and reads summary.json through the library's typed
/// `Summary`.
pub fn run_typed(file: &Path, paths: u64, extra: &[&str]) -> cfsim::report::Summary {
    serde_json::from_str(&run_json(file, paths, extra)).expect("summary.json reads as a Summary")
}

/// The item of a list (investors, tranches, flows...) with an id.
pub fn by_id<'a, T>(items: &'a [T], id: &str, id_of: impl Fn(&T) -> &str) -> &'a T {
    items
        .iter()
        .find(|x| id_of(x) == id)
        .unwrap_or_else(|| panic!("no `{id}`"))
}

fn run_json(file: &Path, paths: u64, extra: &[&str]) -> String {
    let dir = Dir::new();
    let out = dir.path().join("out");
    let run = cfsim()
        .arg("run")
        .arg(file)
        .args([
            "--paths",
            &paths.to_string(),
            "--quiet",
            "--no-charts",
            "--out",
        ])
        .arg(&out)
        .args(extra)
        .output()
        .expect("runs");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    std::fs::read_to_string(out.join("summary.json")).expect("summary.json")
}

/// A JSON number as f64.
pub fn num(j: &serde_json::Value) -> f64 {
    j.as_f64().unwrap_or_else(|| panic!("not a number: {j}"))
}

/// A temporary folder holding scenario files.
pub struct Dir {
    pub dir: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Self {
        Dir {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }
    /// Writes a file and returns its path.
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        p
    }
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// A shipped scenario under `scenarios/`.
pub fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name)
}

/// Every shipped scenario, in name order.
pub fn shipped() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(scenario(""))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

/// Replaces one exact piece of the base scenario.
pub fn base_with(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "the base scenario has no `{from}`");
    BASE.replacen(from, to, 1)
}

/// Runs `cfsim validate` on a scenario text; asserts exit code 2, no panic, nothing on stdout,
/// and an error at the line containing `line_has`, at the column where `col_at` starts on it,
/// with a message containing every one of `says` and the offending line shown.
pub fn rejects(text: &str, line_has: &str, col_at: &str, says: &[&str]) {
    let (line_no, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains(line_has))
        .unwrap_or_else(|| panic!("no line has `{line_has}`"));
    let col = line
        .find(col_at)
        .unwrap_or_else(|| panic!("`{col_at}` not on line `{line}`"))
        + 1;
    let stderr = rejects_at(text, line_no + 1, col, says);
    assert!(
        stderr.contains(line.trim()),
        "the offending line is shown:\n{stderr}"
    );
}

/// Asserts that some error line starts with `prefix` and contains every one of `says`.
pub fn assert_error_line(stderr: &str, prefix: &str, says: &[&str]) {
    let found = stderr
        .lines()
        .any(|l| l.starts_with(prefix) && says.iter().all(|s| l.contains(s)));
    assert!(
        found,
        "no error line `{prefix}...` saying {says:?}:\n{stderr}"
    );
}

/// Runs `cfsim validate` on a scenario text; asserts exit code 2, no panic, nothing on stdout,
/// and an error at an exact 1-based line and column. Returns stderr.
pub fn rejects_at(text: &str, line: usize, col: usize, says: &[&str]) -> String {
    let dir = Dir::new();
    let path = dir.file("s.toml", text);
    let out = cfsim().arg("validate").arg(&path).output().expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "exit code; stderr:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing on stdout for a bad file");
    assert_error_line(&stderr, &format!("{}:{line}:{col}: ", path.display()), says);
    stderr
}

/// The 1-based number of the `nth` line (0-based) that contains `has`.
pub fn line_of(text: &str, has: &str, nth: usize) -> usize {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.contains(has))
        .nth(nth)
        .unwrap_or_else(|| panic!("no line {nth} with `{has}`"))
        .0
        + 1
}
