//! `cfsim sensitivity` against closed forms written as scenarios: a linear model whose variance
//! shares are known exactly, a product with an interaction (total index above first-order), and
//! an input that does not matter.

use crate::common::*;
use cfsim::sensitivity::{InputEffect, OutputSensitivity, Sensitivity};

/// Target-year revenue is `a + b` (two flat revenues of a year); `c` is paid to someone else.
const LINEAR: &str = r#"name = "linear"

[horizon]
start = "2025-Q1"
end = "2026-Q4"
step = "quarter"

[params]
a = { dist = "uniform", low = 0, high = 10 }
b = { dist = "uniform", low = 0, high = 20 }
c = { dist = "uniform", low = 0, high = 5 }

[[entity]]
id = "lab"
roles = ["lab"]
cash = 1000

[[entity]]
id = "other"
roles = ["other"]

[[entity]]
id = "customers"
roles = ["market"]

[[flow]]
id = "rev_a"
kind = "revenue"
from = "customers"
to = "lab"
initial = "a"
growth = 0

[[flow]]
id = "rev_b"
kind = "revenue"
from = "customers"
to = "lab"
initial = "b"
growth = 0

[[flow]]
id = "rev_c"
kind = "revenue"
from = "customers"
to = "other"
initial = "c"
growth = 0

[target]
year = 2026
revenue = 15

[valuation]
multiple = 10
"#;

fn analyse(text: &str, extra: &[&str]) -> (Sensitivity, Dir) {
    let dir = Dir::new();
    let file = dir.file("s.toml", text);
    let out = dir.path().join("out");
    let run = cfsim()
        .arg("sensitivity")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let json = std::fs::read_to_string(out.join("sensitivity.json")).unwrap();
    (
        serde_json::from_str(&json).expect("sensitivity.json reads back"),
        dir,
    )
}

fn output<'a>(s: &'a Sensitivity, name: &str) -> &'a OutputSensitivity {
    by_id(&s.outputs, name, |o| o.output.as_str())
}

fn effect<'a>(o: &'a OutputSensitivity, input: &str) -> &'a InputEffect {
    by_id(&o.inputs, input, |e| e.input.as_str())
}

/// The estimate is within `tolerance` of `exact` and its 95% interval covers `exact`.
fn covers(what: &str, index: &cfsim::sensitivity::Index, exact: f64, tolerance: f64) {
    let e = index
        .estimate
        .unwrap_or_else(|| panic!("{what}: no estimate"));
    let [lo, hi] = index.ci95.unwrap_or_else(|| panic!("{what}: no interval"));
    assert!((e - exact).abs() < tolerance, "{what}: {e} vs {exact}");
    assert!(
        lo <= exact + 1e-12 && exact <= hi + 1e-12,
        "{what}: [{lo}, {hi}] misses {exact}"
    );
}

#[test]
fn a_linear_model_splits_its_variance_in_the_exact_shares() {
    let (s, _dir) = analyse(LINEAR, &["--paths", "20000"]);
    let names: Vec<&str> = s.inputs.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    assert_eq!(s.total_paths, 20_000 * (3 * 3 + 2));
    let y = output(&s, "target-year revenue");
    // Var(a) = 100/12, Var(b) = 400/12: shares 0.2 and 0.8, no interaction.
    for (input, share) in [("a", 0.2), ("b", 0.8)] {
        let e = effect(y, input);
        covers(&format!("S_{input}"), &e.first_order, share, 0.03);
        covers(&format!("ST_{input}"), &e.total, share, 0.03);
    }
    // Holding a at its 5th and 95th percentiles moves the mean by exactly 9.5 - 0.5 on the
    // same draws of b.
    let swing = effect(y, "a").swing.width().unwrap();
    assert!((swing - 9.0).abs() < 1e-9, "{swing}");
    let swing_b = effect(y, "b").swing.width().unwrap();
    assert!((swing_b - 18.0).abs() < 1e-9, "{swing_b}");
    // Largest swing first; ranks agree with the variance shares.
    assert_eq!(y.inputs[0].input, "b");
    let rho = |i: &str| effect(y, i).rank_correlation.unwrap();
    assert!(
        rho("b") > rho("a") && rho("a") > 0.3,
        "{} {}",
        rho("a"),
        rho("b")
    );
    assert!(y.rank_regression_r2.unwrap() > 0.9);
}

#[test]
fn an_input_that_does_not_matter_has_indices_of_zero_within_their_interval() {
    let (s, _dir) = analyse(LINEAR, &["--paths", "5000"]);
    for o in &s.outputs {
        let c = effect(o, "c");
        for (what, index) in [("first", &c.first_order), ("total", &c.total)] {
            if let (Some(e), Some([lo, hi])) = (index.estimate, index.ci95) {
                assert!(
                    e.abs() < 1e-12 && lo <= 0.0 && 0.0 <= hi,
                    "{} {what}: {e}",
                    o.output
                );
            }
        }
        if let Some(w) = c.swing.width() {
            assert!(w.abs() < 1e-12, "{}: {w}", o.output);
        }
        assert!(c.rank_correlation.is_none_or(|r| r.abs() < 0.05));
    }
}

#[test]
fn a_product_has_total_indices_above_first_order_as_the_closed_form_says() {
    // Target-year revenue is a x h(g): g is 0 or 1 with equal chance (no growth, or 100% a
    // year), so h is 1 or H, the library's own integral of the grown run-rate over 2026.
    let text = LINEAR
        .replace(
            "b = { dist = \"uniform\", low = 0, high = 20 }",
            "g = { dist = \"bernoulli\", p = 0.5 }",
        )
        .replace("initial = \"b\"\ngrowth = 0", "initial = 0\ngrowth = 0")
        .replacen(
            "initial = \"a\"\ngrowth = 0",
            "initial = \"a\"\ngrowth = \"g\"",
            1,
        );
    let fixed = text
        .replace("a = { dist = \"uniform\", low = 0, high = 10 }", "a = 1")
        .replace("g = { dist = \"bernoulli\", p = 0.5 }", "g = 1");
    let scenario = cfsim::scenario::Scenario::from_toml(&fixed, "fixed.toml").unwrap();
    let model = cfsim::engine::Model::compile(&scenario);
    let mut state = cfsim::engine::PathState::new(&model);
    state.run(&model, 1, 0, &mut cfsim::engine::NoTrace);
    let h = state.out().target_revenue;
    assert!(h > 1.5, "{h}");
    let (ea, va) = (5.0, 100.0 / 12.0);
    let (eh, vh) = ((1.0 + h) / 2.0, (h - 1.0) * (h - 1.0) / 4.0);
    let var = (va + ea * ea) * (vh + eh * eh) - ea * ea * eh * eh;
    let (s_a, s_g) = (eh * eh * va / var, ea * ea * vh / var);
    let (st_a, st_g) = (1.0 - s_g, 1.0 - s_a);
    assert!(st_a - s_a > 0.05, "the product interacts");

    let (s, _dir) = analyse(&text, &["--paths", "20000"]);
    let y = output(&s, "target-year revenue");
    covers("S_a", &effect(y, "a").first_order, s_a, 0.03);
    covers("S_g", &effect(y, "g").first_order, s_g, 0.03);
    covers("ST_a", &effect(y, "a").total, st_a, 0.03);
    covers("ST_g", &effect(y, "g").total, st_g, 0.03);
    let a = effect(y, "a");
    assert!(a.total.estimate.unwrap() > a.first_order.estimate.unwrap() + 0.03);
}

#[test]
fn results_are_bit_identical_for_any_thread_count_and_record_their_overrides() {
    let base = scenario("baseline.toml");
    let run = |threads: &str| {
        let dir = Dir::new();
        let out = dir.path().join("out");
        let status = cfsim()
            .arg("sensitivity")
            .arg(&base)
            .args([
                "--paths",
                "300",
                "--quiet",
                "--no-charts",
                "--threads",
                threads,
            ])
            .args(["--set", "amazon_contingent=20", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(status.status.success());
        std::fs::read_to_string(out.join("sensitivity.json")).unwrap()
    };
    let one = run("1");
    assert_eq!(one, run("2"));
    assert_eq!(one, run("4"));
    let s: Sensitivity = serde_json::from_str(&one).unwrap();
    assert_eq!(s.overrides, ["amazon_contingent=20"]);
    // Every key output, each input listed once whatever the fields that use it.
    let names: Vec<&str> = s.outputs.iter().map(|o| o.output.as_str()).collect();
    for want in [
        "P(target)",
        "P(insolvency)",
        "P(released amazon_b)",
        "amazon net position",
        "amazon round trip",
        "circularity",
        "target-year revenue",
    ] {
        assert!(names.contains(&want), "{want} in {names:?}");
    }
    let mut inputs: Vec<&str> = s.inputs.iter().map(|i| i.name.as_str()).collect();
    assert!(inputs.contains(&"revenue.shock") && inputs.contains(&"milestone agi"));
    let n = inputs.len();
    inputs.sort_unstable();
    inputs.dedup();
    assert_eq!(inputs.len(), n);
    // The layout the README documents.
    let v: serde_json::Value = serde_json::from_str(&one).unwrap();
    let first = &v["outputs"][0]["inputs"][0];
    for key in ["input", "first_order", "total", "swing", "rank_correlation"] {
        assert!(first.get(key).is_some(), "{key}");
    }
    assert!(
        first["first_order"].get("estimate").is_some()
            && first["first_order"].get("ci95").is_some()
    );
    assert!(first["swing"].get("low").is_some() && first["swing"].get("high").is_some());
    assert_eq!(v["schema_version"], 1);
}

#[test]
fn the_analysis_prints_its_table_and_draws_both_charts() {
    let dir = Dir::new();
    let file = dir.file("s.toml", LINEAR);
    let out = dir.path().join("out");
    let run = cfsim()
        .arg("sensitivity")
        .arg(&file)
        .args(["--paths", "2000", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success());
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("22,000 paths simulated"), "{stdout}");
    assert!(stdout.contains("first-order [95%]") && stdout.contains("target-year revenue"));
    for chart in ["tornado.png", "sobol.png"] {
        let bytes = std::fs::read(out.join(chart)).unwrap();
        assert!(
            bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
            "{chart}"
        );
    }
}

#[test]
fn a_scenario_without_uncertainty_is_refused_clearly() {
    let text = LINEAR
        .replace("a = { dist = \"uniform\", low = 0, high = 10 }", "a = 1")
        .replace("b = { dist = \"uniform\", low = 0, high = 20 }", "b = 2")
        .replace("c = { dist = \"uniform\", low = 0, high = 5 }", "c = 3");
    let dir = Dir::new();
    let file = dir.file("s.toml", &text);
    let run = cfsim()
        .arg("sensitivity")
        .arg(&file)
        .arg("--out")
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("nothing is uncertain"), "{stderr}");
    assert!(!dir.path().join("out").exists());
}
