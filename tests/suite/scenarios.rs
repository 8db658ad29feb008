//! The shipped scenarios: valid, cited, with the cycles the articles describe.

use std::path::Path;

use crate::common::*;

#[test]
fn every_shipped_scenario_validates() {
    let files = shipped();
    assert!(files.len() >= 6, "{files:?}");
    let out = cfsim().arg("validate").args(&files).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.lines().count(), files.len(), "{stdout}");
    for name in [
        "baseline",
        "all-upfront",
        "consumption-linked",
        "talks-dec-2025",
        "no-round",
        "closed-form",
        "debt",
    ] {
        assert!(
            stdout.contains(&format!(": ok: {name}: ")),
            "{name} missing:\n{stdout}"
        );
    }
}

#[test]
fn baseline_graph_lists_the_three_round_trips_with_volumes() {
    let baseline = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/baseline.toml");
    let out = cfsim()
        .args(["graph", "--format", "text"])
        .arg(&baseline)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for cycle in [
        "amazon -> openai -> amazon  $50.0B",
        "nvidia -> openai -> nvidia  $30.0B",
        "microsoft -> openai -> microsoft  $13.0B",
    ] {
        assert!(text.contains(cycle), "no `{cycle}` in:\n{text}");
    }
    let dot = cfsim()
        .args(["graph", "--format", "dot"])
        .arg(&baseline)
        .output()
        .unwrap();
    let dot = String::from_utf8_lossy(&dot.stdout);
    assert!(
        dot.starts_with("digraph \"baseline\" {") && dot.trim_end().ends_with('}'),
        "{dot}"
    );
    assert!(dot.contains("\"amazon\" -> \"openai\" [label=\"amazon_equity: equity\\n$50.0B ($35.0B conditional)\", style=dashed]"), "{dot}");
    assert!(
        dot.contains("shape=doubleoctagon"),
        "the company is styled apart"
    );
}

#[test]
fn every_number_in_the_baseline_and_the_debt_scenario_cites_a_fact_or_is_an_assumption() {
    for name in ["baseline", "debt"] {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/{name}.toml"));
        cites_its_params(&std::fs::read_to_string(file).unwrap());
    }
}

fn cites_its_params(text: &str) {
    let mut in_params = false;
    for line in text.lines() {
        if line.starts_with('[') {
            in_params = line == "[params]";
        }
        if in_params && line.contains(" = {") {
            let cited =
                line.contains("source = ")
                    && (line.contains("ASSUMPTION")
                        || line.contains("outside")
                        || line.chars().collect::<Vec<_>>().windows(3).any(|w| {
                            w[0] == 'F' && w[1].is_ascii_digit() && w[2].is_ascii_digit()
                        }));
            assert!(cited, "param without a fact id or ASSUMPTION: {line}");
        }
    }
}

#[test]
fn alternatives_run_end_to_end() {
    let dir = Dir::new();
    for name in [
        "all-upfront",
        "consumption-linked",
        "talks-dec-2025",
        "no-round",
        "debt",
    ] {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/{name}.toml"));
        let out = dir.path().join(name);
        let run = cfsim()
            .arg("run")
            .arg(&file)
            .args(["--paths", "4000", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&run.stdout);
        assert!(
            run.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        assert!(stdout.contains("P(revenue 2029 >= $100B)"), "{stdout}");
        assert!(stdout.contains("Throughput:"), "{stdout}");
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap())
                .unwrap();
        assert_eq!(summary["scenario"], name);
        assert!(out.join("periods.csv").exists());
    }
}

#[test]
fn explain_prints_what_will_be_simulated() {
    let baseline = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/baseline.toml");
    let out = cfsim().arg("explain").arg(&baseline).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "Horizon: 2024-Q1 to 2030-Q4, 28 periods of quarter",
        // A random quantity with the key of its draws, and the shocks of the revenue.
        "revenue_growth           a89986ec48417373  triangular(1.9, 2.3, 2.7), drawn once per path",
        "revenue.shock",
        // Capacity paid while in service: a ramp's weights rise to 3 months a quarter.
        "nvidia_5gw           openai -> nvidia: 5 GW x `k_nvidia` per GW-year for each month in service",
        "0.188 0.562 0.938",
        "pass-through   aws_gpu_purchases    amazon -> nvidia: `aws_gpu_share` of what amazon receives on aws_contract",
        "ipo                  chance `ipo_chance` a year, from 2026-Q1, while revenue >= 60",
        "amazon_b             amazon pays 35 when (reached(agi) or reached(ipo)), from 2026-Q2 to 2028-Q4, at post-money 730",
        "a rescue of 30 from world with chance 0.6 per attempt (at most 2",
        "Target: revenue of 100 over periods 2029-Q1 to 2029-Q4",
    ] {
        assert!(text.contains(needle), "no `{needle}` in:\n{text}");
    }
    // The ipo milestone is explained before the tranche that waits for it, in period order.
    assert!(text.find("4. milestones").unwrap() < text.find("5. equity").unwrap());
}
