//! The engine against closed-form answers, exact accounting on every path, reproducibility
//! across thread counts, and the baseline's calibration.

use crate::common::*;
use cfsim::diagnostic::SourceMap;
use cfsim::engine::{LANES, Model, NoTrace, PathOutput, PathState};
use cfsim::trace::Ledger;
use proptest::prelude::*;

/// |estimate - exact| <= 4 standard errors.
fn within_4_se(what: &str, estimate: f64, exact: f64, se: f64) {
    assert!(
        (estimate - exact).abs() <= 4.0 * se,
        "{what}: estimate {estimate} vs exact {exact} (4 se = {})",
        4.0 * se
    );
}

#[test]
fn closed_form_answers() {
    let n = 200_000;
    let s = run_typed(&scenario("closed-form.toml"), n, &[]);
    let bin_se = |p: f64| (p * (1.0 - p) / n as f64).sqrt();

    // Revenue: the exact integral of the trend, times a mean-one shock.
    let rev = &s.target.as_ref().unwrap().revenue_in_year;
    within_4_se("E[revenue 2029]", rev.mean, 27.232_653_865, rev.std_error);
    // The value at the horizon: 10 x a lognormal run-rate.
    let value = &s.company.value_at_horizon;
    within_4_se("E[value 2030]", value.mean, 357.487_189, value.std_error);
    // The median of a lognormal with log-sd sqrt(0.9): the sketch's 0.39% plus the Monte Carlo
    // error of a median (about 1.2533 sd / sqrt(n) in log terms).
    let median = value.p50;
    let tolerance = 1.0 / 256.0 + 4.0 * 1.2533 * 0.9f64.sqrt() / (n as f64).sqrt();
    assert!(
        (median / 227.943_896 - 1.0).abs() < tolerance,
        "median value {median}"
    );

    // A tranche released on a milestone with a constant hazard.
    let tranche = by_id(&s.tranches, "on_milestone", |t| &t.id);
    let p_release = 1.0 - (-0.9f64).exp();
    within_4_se(
        "P(release)",
        tranche.release_probability,
        p_release,
        bin_se(p_release),
    );
    let p_first = 1.0 - (-0.3f64).exp();
    within_4_se(
        "P(release in 2025)",
        tranche.release_by_period[0],
        p_first,
        bin_se(p_first),
    );
    assert_eq!(
        tranche.lapsed_probability + tranche.release_probability,
        1.0
    );

    // Never insolvent; the contract is paid in full.
    assert_eq!(s.insolvency.probability, 0.0);
    let inv = &s.investors[0];
    assert!((inv.received.mean - 12.0).abs() < 1e-9);
    assert!((inv.margin_earned.mean - 6.0).abs() < 1e-9);
    within_4_se(
        "E[invested]",
        inv.invested.mean,
        20.0 + 10.0 * p_release,
        10.0 * bin_se(p_release),
    );

    // Cash at the end of 2025: 100 + revenue 2025 - 3 - 4, plus 10 when the tranche came in 2025.
    let cash = s.periods.cash[0].as_ref().unwrap();
    within_4_se(
        "E[cash 2025]",
        cash.mean,
        93.0 + 13.133_031_378 + 10.0 * p_first,
        cash.std_error,
    );
}

#[test]
fn without_volatility_target_year_revenue_is_the_lognormal_start_times_the_integral() {
    let n = 200_000;
    let text = std::fs::read_to_string(scenario("closed-form.toml"))
        .unwrap()
        .replace("volatility = 0.3", "volatility = 0");
    let dir = Dir::new();
    let s = run_typed(&dir.file("novol.toml", &text), n, &[]);
    let p = 0.584_911_338;
    within_4_se(
        "P(target)",
        s.target.unwrap().probability,
        p,
        (p * (1.0 - p) / n as f64).sqrt(),
    );
}

#[test]
fn deterministic_scenario_gives_the_exact_cash_path() {
    let text = std::fs::read_to_string(scenario("closed-form.toml"))
        .unwrap()
        .replace("volatility = 0.3", "volatility = 0")
        .replace(
            r#"initial = { dist = "lognormal", median = 10, sigma = 0.6 }"#,
            "initial = 10",
        )
        .replace("hazard = 0.3", "hazard = 0");
    let dir = Dir::new();
    let p = dir.file("det.toml", &text);
    let s = run_typed(&p, 1000, &[]);
    // Revenue in year k is the integral of 10 x 1.2^t over it: 10 x 1.2^k x 0.2 / ln 1.2.
    let mut cash = 100.0;
    for y in 0..6 {
        let r = 10.0 * 1.2f64.powi(y) * 0.2 / 1.2f64.ln();
        // 2025: + revenue - 3 (contract) - 4 (costs); 2026: + 20 equity; the contract ends in 2028.
        cash += r - 4.0 - if y < 4 { 3.0 } else { 0.0 } + if y == 1 { 20.0 } else { 0.0 };
        let got = s.periods.cash[y as usize].as_ref().unwrap();
        assert!(
            (got.mean - cash).abs() < 1e-9,
            "year {y}: {} vs {cash}",
            got.mean
        );
        assert!(got.std_error < 1e-9);
        let got_rev = s.periods.revenue[y as usize].as_ref().unwrap();
        assert!(
            (got_rev.mean - r).abs() < 1e-9,
            "revenue {y}: {} vs {r}",
            got_rev.mean
        );
        // Exact values read back exactly from the quantile sketch.
        assert_eq!(got_rev.p50, got_rev.mean);
    }
    assert_eq!(s.tranches[1].release_probability, 0.0);
    assert_eq!(
        s.investors[0].round_trip.as_ref().unwrap().mean,
        12.0 / 20.0
    );
}

#[test]
fn results_are_bit_identical_for_any_thread_count() {
    let dir = Dir::new();
    let mut outputs = Vec::new();
    for threads in ["1", "2", "4"] {
        let out = dir.path().join(threads);
        cfsim()
            .arg("run")
            .arg(scenario("baseline.toml"))
            .args([
                "--paths",
                "30000",
                "--seed",
                "7",
                "--quiet",
                "--threads",
                threads,
                "--out",
            ])
            .arg(&out)
            .assert()
            .success();
        outputs.push(std::fs::read(out.join("summary.json")).unwrap());
        outputs.push(std::fs::read(out.join("periods.csv")).unwrap());
    }
    assert_eq!(outputs[0], outputs[2]);
    assert_eq!(outputs[0], outputs[4]);
    assert_eq!(outputs[1], outputs[3]);
    assert_eq!(outputs[1], outputs[5]);
}

#[test]
fn different_seeds_give_different_results() {
    let a = run_summary(&scenario("closed-form.toml"), 5000, &["--seed", "1"]);
    let b = run_summary(&scenario("closed-form.toml"), 5000, &["--seed", "2"]);
    assert_ne!(a["target"]["probability"], b["target"]["probability"]);
}

#[test]
fn adding_a_quantity_leaves_the_other_draws_unchanged() {
    let text = std::fs::read_to_string(scenario("closed-form.toml")).unwrap();
    let extra = text.replace("[horizon]", "[params]\nunused = \"1 to 2\"\nnoise = { dist = \"normal\", mean = 0, sd = 1 }\n\n[horizon]");
    let dir = Dir::new();
    let a = run_summary(&dir.file("a.toml", &text), 20_000, &[]);
    let b = run_summary(&dir.file("b.toml", &extra), 20_000, &[]);
    assert_eq!(a["target"], b["target"]);
    assert_eq!(a["tranches"], b["tranches"]);
    assert_eq!(a["periods"], b["periods"]);
}

#[test]
fn baseline_is_calibrated_to_the_reported_losses() {
    let s = run_typed(&scenario("baseline.toml"), 50_000, &[]);
    for (year, loss) in [(2024, 5.0), (2025, 8.0), (2026, 14.0)] {
        let y = s.years.iter().find(|y| y.year == year).unwrap();
        let median = -y.net_income.as_ref().unwrap().p50;
        assert!(
            (median - loss).abs() <= 0.25 * loss,
            "{year}: median loss {median} vs {loss}"
        );
    }
    assert!(s.target.unwrap().probability > 0.0);
    assert!(s.tranches.iter().any(|t| t.id == "amazon_b"));
}

/// Checks, for every period, that each entity's cash changed by its inflows minus its outflows,
/// and that the inside entities together changed by what came in from the outside world.
fn check_accounting(s: &cfsim::scenario::Scenario, ledger: &Ledger) -> Result<(), TestCaseError> {
    let mut before = ledger.start.clone();
    for (p, after) in ledger.cash.iter().enumerate() {
        let mut net = vec![0.0; before.len()];
        let mut scale = 1.0f64;
        let mut external_in = 0.0;
        for &(_, from, to, amount) in &ledger.payments[p] {
            prop_assert!(amount.is_finite() && amount >= 0.0, "payment {amount}");
            net[from] -= amount;
            net[to] += amount;
            scale = scale.max(amount.abs());
            match (s.entities[from].external, s.entities[to].external) {
                (true, false) => external_in += amount,
                (false, true) => external_in -= amount,
                _ => {}
            }
        }
        let mut inside_change = 0.0;
        for e in 0..before.len() {
            let change = after[e] - before[e];
            prop_assert!(
                (change - net[e]).abs() <= 1e-9 * scale.max(after[e].abs()),
                "period {p}, entity {}: cash changed by {change}, flows say {}",
                s.entities[e].id,
                net[e]
            );
            if !s.entities[e].external {
                inside_change += change;
            }
        }
        prop_assert!(
            (inside_change - external_in).abs() <= 1e-8 * scale.max(1.0),
            "period {p}: inside cash changed by {inside_change}, outside world sent {external_in}"
        );
        before = after.clone();
    }
    Ok(())
}

/// A random valid scenario exercising every flow kind.
fn random_scenario() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["month", "quarter", "year"]),
        0.0..50.0f64,
        (0.5..20.0f64, -0.5..2.0f64, 0.0..0.9f64, 0.0..0.6f64),
        (0.0..30.0f64, 0.0..1.2f64, 0.0..1.0f64),
        (0.0..60.0f64, 1.0..9.0f64, 0.0..1.0f64, 0.0..1.0f64),
        (0.0..0.5f64, 0.0..0.5f64, 0.0..1.0f64),
        (0.0..40.0f64, 0.0..1.0f64, any::<bool>(), 0.0..0.8f64),
        (0.0..30.0f64, 0.0..20.0f64),
    )
        .prop_map(|(step, cash, (r0, g, decay, vol), (fixed, share, cgrowth), (value, years, margin, pass), (rev_rate, hazard, ms_growth), (tranche, rescue_p, ramp, pp_sd), (loan, standby))| {
            format!(
                r#"[horizon]
start = "2024-Q1"
end = "2029-Q4"
step = "{step}"

[params]
g = {{ dist = "normal", mean = {g}, sd = 0.2 }}
noise = {{ dist = "uniform", low = 0, high = {pp_high}, per_period = true }}
share_pp = {{ dist = "uniform", low = 0, high = {pass}, per_period = true }}
[correlation]
params = ["g", "mult"]
matrix = [[1, 0.5], [0.5, 1]]
[params.mult]
dist = "uniform"
low = 5
high = 30

[[entity]]
id = "lab"
roles = ["lab"]
cash = {cash}
[[entity]]
id = "inv"
roles = ["investor", "cloud"]
[[entity]]
id = "chips"
roles = ["investor", "chipmaker"]
stake = {{ fraction = 0.2, as_of = "2025-06", invested = 3 }}
[[entity]]
id = "mkt"
roles = ["market"]

[[flow]]
id = "rev"
kind = "revenue"
from = "mkt"
to = "lab"
initial = {r0}
growth = {{ dist = "uniform", low = -0.5, high = {gmax} }}
decay = {decay}
volatility = {vol}
[[flow]]
id = "opex"
kind = "cost"
from = "lab"
fixed = {fixed}
growth = {cgrowth}
decay = {ms_growth}
share_of_revenue = {share}
[[flow]]
id = "cloud"
kind = "contract"
from = "lab"
to = "inv"
value = {value}
start = "2025-Q2"
duration_years = {years}
margin = {margin}
profile = {profile}
[[flow]]
id = "gpus"
kind = "pass_through"
from = "inv"
to = "chips"
of = "cloud"
share = "share_pp"
margin = 0.6
[[flow]]
id = "revshare"
kind = "revenue_share"
from = "lab"
to = "inv"
rate = {rev_rate}
until = "2028-Q4"
[[flow]]
id = "eq"
kind = "equity"
from = "inv"
to = "lab"
[[flow.tranche]]
id = "now"
amount = {tranche}
date = "2025-Q1"
post_money = 100
[[flow.tranche]]
id = "later"
amount = 10
when = "reached(m) or spend_with(inv) >= 5 or cash < 3"
window = {{ from = "2025-Q3", until = "2031" }}
[[flow]]
id = "eq2"
kind = "equity"
from = "chips"
to = "lab"
[[flow.tranche]]
id = "chips_in"
amount = {{ dist = "uniform", low = 0, high = 20 }}
when = "revenue >= 8 and date >= 2026-Q1"
window = {{ until = "2029" }}
[[flow]]
id = "energy"
kind = "cost"
from = "lab"
to = "chips"
fixed = "noise"

[[milestone]]
id = "m"
hazard = {hazard}

[[milestone]]
id = "m2"
chance_per_year = {hazard}
when = "cash < 20 or reached(m)"

[[flow]]
id = "gw"
kind = "contract"
from = "lab"
to = "chips"
capacity_gw = 1
price_per_gw_year = {gw_price}
start = "2025-07"
duration_years = 3
margin = 0.5
profile = {{ ramp_until = "2026-06" }}

[[flow]]
id = "eq3"
kind = "equity"
from = "inv"
to = "lab"
[[flow.tranche]]
id = "market_priced"
amount = 3
when = "reached(m2)"
window = {{ from = "2025-Q1", until = "2029-Q4" }}
post_money = "market"

[[flow]]
id = "vendor_loan"
kind = "loan"
from = "chips"
to = "lab"
principal = {loan}
draw = {{ from = "2025-02", months = 5 }}
rate = {{ dist = "uniform", low = 0.02, high = 0.12 }}
repayment = "amortising"
maturity = "2028-06"

[[flow]]
id = "standby"
kind = "loan"
from = "inv"
to = "lab"
principal = {standby}
draw = {{ when = "cash < 5", window = {{ from = "2025-Q2", until = "2028-Q4" }} }}
rate = 0.08
maturity = "2031-12"
seniority = "subordinated"

[valuation]
multiple = "mult"
recovery = 0.2

{rescue}
"#,
                gmax = (g.max(-0.4) + 0.5),
                gw_price = fixed / 4.0,
                pp_high = 0.1 + pp_sd * 4.0,
                profile = if ramp { "{ ramp_until = \"2026-Q4\" }" } else { "\"flat\"" },
                rescue = if rescue_p > 0.3 { format!("[rescue]\nprobability = {rescue_p}\namount = 5\ndiscount = 0.3\nfrom = \"chips\"\nmax = 2\n") } else { String::new() },
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn money_is_conserved_on_every_path(text in random_scenario(), seed in any::<u64>()) {
        let dir = Dir::new();
        let path = dir.file("p.toml", &text);
        let mut sources = SourceMap::new();
        let s = match cfsim::scenario::load(&path, &[], &mut sources) {
            Ok(s) => s,
            Err(d) => panic!("generated scenario is invalid:\n{}\n{text}", d.render(&sources)),
        };
        let model = Model::compile(&s);
        let mut state = PathState::new(&model);
        // The same paths run as one batch give the same bits, lane by lane.
        let mut batch = PathState::batch(&model);
        batch.run_batch(&model, seed, 0, 40, &mut NoTrace);
        let mut lane = state.out().clone();
        for path_index in 0..40 {
            batch.batch_out().gather(path_index as usize, &mut lane);
            let mut ledger = Ledger::default();
            state.run(&model, seed, path_index, &mut ledger);
            prop_assert_eq!(ledger.cash.len(), model.periods);
            check_accounting(&s, &ledger)?;
            prop_assert_eq!(format!("{lane:?}"), format!("{:?}", state.out()));
            // After a default each loan's principal is either recovered or stranded.
            let o = state.out();
            if o.default_period.is_some() {
                for (flow, lender) in [("vendor_loan", "chips"), ("standby", "inv")] {
                    let (f, e) = (s.flow_by_id(flow).unwrap(), s.entity_by_id(lender).unwrap());
                    let drawn = o.flow_total[f];
                    prop_assert!(
                        (drawn - o.credit[e] - o.unrecovered[e]).abs() <= 1e-9 * drawn.max(1.0),
                        "{flow}: drawn {drawn}, repaid or recovered {}, unrecovered {}",
                        o.credit[e],
                        o.unrecovered[e]
                    );
                }
            }
        }
    }
}

#[test]
fn the_library_gives_what_the_command_line_writes() {
    // Scenario::from_toml and cfsim::simulate, on the closed-form scenario: the summary is the
    // one `cfsim run` writes for the same seed and paths (bit for bit, but for the file name).
    let path = scenario("closed-form.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let s = cfsim::scenario::Scenario::from_toml(&text, &path).unwrap();
    let options = cfsim::engine::RunOptions {
        paths: 5000,
        seed: 11,
        threads: 1,
    };
    let summary = cfsim::simulate(&s, &options).unwrap();
    let mut from_library = serde_json::to_value(&summary).unwrap();
    let mut from_cli = run_summary(&path, 5000, &["--seed", "11"]);
    for j in [&mut from_library, &mut from_cli] {
        j["file"] = serde_json::Value::Null;
    }
    assert_eq!(from_library, from_cli);
    // A broken text is a typed error that renders FILE:LINE:COL.
    let err =
        cfsim::scenario::Scenario::from_toml("[horizon]\nstart = 2026\n", "mine.toml").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("mine.toml:1:1: missing required field"),
        "{err}"
    );
}

#[test]
fn a_scenario_changed_in_code_is_checked_before_it_runs() {
    // Every shipped scenario passes the structural check; one damaged in code (an entity index
    // out of range, a pass-through of a missing flow) gets a typed error instead of a panic.
    let options = cfsim::engine::RunOptions {
        paths: 10,
        seed: 1,
        threads: 1,
    };
    let base = cfsim::scenario::Scenario::from_file(scenario("baseline.toml")).unwrap();
    assert_eq!(cfsim::scenario::check(&base), Ok(()));
    let mut bad = base.clone();
    bad.flows[0].to = 99;
    if let cfsim::scenario::FlowKind::PassThrough(p) = &mut bad.flows.last_mut().unwrap().kind {
        p.of = 1000;
    }
    let err = cfsim::simulate(&bad, &options).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("entity index 99"), "{text}");
    assert!(
        text.contains("refers to a flow index out of range"),
        "{text}"
    );
    // No paths: nothing to summarise, and no 0 / 0 in a probability.
    let none = cfsim::engine::RunOptions {
        paths: 0,
        ..options
    };
    let err = cfsim::simulate(&base, &none).unwrap_err();
    assert!(err.to_string().contains("at least one path"), "{err}");
    let mut looped = base;
    looped.horizon.periods = 0;
    assert!(cfsim::simulate(&looped, &options).is_err());
}

#[test]
fn statistics_alive_at_once_do_not_grow_with_the_paths() {
    // Memory is O(threads x periods x metrics): at most twice as many chunks as threads are
    // simulated and not yet folded, for a few chunks or for many.
    let s = cfsim::scenario::Scenario::from_file(scenario("closed-form.toml")).unwrap();
    let model = Model::compile(&s);
    for threads in [1, 2, 4] {
        for chunks in [1, 3, 40] {
            let run = cfsim::engine::simulate(
                &model,
                &cfsim::engine::RunOptions {
                    paths: chunks * cfsim::engine::CHUNK,
                    seed: 3,
                    threads,
                },
                &|_| {},
            )
            .unwrap();
            assert_eq!(run.stats.paths, chunks * cfsim::engine::CHUNK);
            assert!(
                run.peak_chunks_alive <= (2 * threads as u64).min(chunks),
                "{threads} threads, {chunks} chunks: {} alive",
                run.peak_chunks_alive
            );
        }
    }
}

#[test]
fn chunks_merged_in_groups_give_the_bits_of_any_split() {
    // A run merges its chunks in groups (of 15) before the total; merges are exact, so a run of
    // 40 chunks and the merge of three runs that split them elsewhere (and so group them
    // differently) hold the same statistics, bit for bit, on one thread or two.
    let s = cfsim::scenario::Scenario::from_file(scenario("baseline.toml")).unwrap();
    let models = [Model::compile(&s)];
    let run = |threads: usize, blocks: std::ops::Range<u64>| {
        let opts = cfsim::engine::RunOptions {
            paths: 40 * cfsim::engine::CHUNK,
            seed: 5,
            threads,
        };
        cfsim::engine::simulate_blocks(&models, &[], &opts, blocks, &|_| {})
            .unwrap()
            .stats
            .remove(0)
    };
    let json = |a: &cfsim::engine::Accumulator| serde_json::to_string(a).unwrap();
    let whole = run(1, 0..40);
    assert_eq!(whole.paths, 40 * cfsim::engine::CHUNK);
    let mut split = run(2, 0..7);
    split.merge(&run(1, 7..23));
    split.merge(&run(2, 23..40));
    assert_eq!(json(&split), json(&whole));
    assert_eq!(json(&run(2, 0..40)), json(&whole));
}

/// Every output of every path, bit for bit (`Debug` prints each float exactly, and `-0.0`).
fn bits(o: &PathOutput) -> String {
    format!("{o:?}")
}

#[test]
fn a_path_gives_the_same_bits_alone_or_in_any_lane_of_a_batch() {
    // Shipped scenarios (defaults, rescues, loans, conditional tranches, correlation) and
    // batches of every size, short ones included: a lane never reads another lane.
    for file in shipped() {
        let name = file.display();
        let model = Model::compile(&cfsim::scenario::Scenario::from_file(&file).unwrap());
        let mut single = PathState::new(&model);
        let mut batch = PathState::batch(&model);
        let mut lane = single.out().clone();
        let mut first = 0;
        for lanes in [LANES, 1, 37, LANES - 1] {
            batch.run_batch(&model, 9, first, lanes, &mut NoTrace);
            for i in 0..lanes {
                single.run(&model, 9, first + i as u64, &mut NoTrace);
                batch.batch_out().gather(i, &mut lane);
                assert_eq!(
                    bits(&lane),
                    bits(single.out()),
                    "{name}: path {}",
                    first + i as u64
                );
            }
            first += lanes as u64;
        }
    }
}
