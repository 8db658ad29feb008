//! What the commands print and write, pinned: the summary table, the graph as text and DOT,
//! periods.csv and `explain` for the shipped scenarios. A change to any of them shows as a diff
//! to review (`cargo insta review`, or `INSTA_UPDATE=always` to accept).

use crate::common::*;

/// Stdout of `cfsim ARGS`, with the scenario folder shown as `scenarios/`.
fn stdout(args: &[&str]) -> String {
    let out = cfsim().args(args).output().expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = format!("{}/", scenario("").parent().unwrap().display());
    String::from_utf8_lossy(&out.stdout).replace(&dir, "")
}

fn path(name: &str) -> String {
    scenario(name).display().to_string()
}

#[test]
fn explain_baseline() {
    insta::assert_snapshot!(stdout(&["explain", &path("baseline.toml")]));
}

#[test]
fn explain_debt() {
    insta::assert_snapshot!(stdout(&["explain", &path("debt.toml")]));
}

#[test]
fn graph_baseline_text_and_dot() {
    insta::assert_snapshot!("graph_text", stdout(&["graph", &path("baseline.toml")]));
    insta::assert_snapshot!(
        "graph_dot",
        stdout(&["graph", "--format", "dot", &path("baseline.toml")])
    );
}

#[test]
fn run_table_and_periods_csv() {
    let dir = Dir::new();
    let out = dir.path().join("out");
    let table = stdout(&[
        "run",
        &path("baseline.toml"),
        "--paths",
        "4000",
        "--seed",
        "5",
        "--no-charts",
        "--out",
        out.to_str().unwrap(),
    ]);
    // The throughput and the output folder change from run to run.
    let table: Vec<&str> = table
        .lines()
        .filter(|l| !l.starts_with("Throughput:") && !l.starts_with("Wrote "))
        .collect();
    insta::assert_snapshot!("run_table", table.join("\n"));
    let csv = std::fs::read_to_string(out.join("periods.csv")).unwrap();
    insta::assert_snapshot!("periods_csv", csv);
}
