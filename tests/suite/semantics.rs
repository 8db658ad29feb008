//! What the model means: the time step changes resolution only, the order of a file changes
//! nothing, rounds are priced together, defaults are reported rather than averaged in, draws are
//! independent, and every condition reads one state. Each test pins one definition.

use crate::common::*;
use cfsim::diagnostic::SourceMap;
use cfsim::engine::{Lapse, Model, NoTrace, PathState, TrancheState};
use serde_json::Value as Json;

fn baseline_text() -> String {
    std::fs::read_to_string(scenario("baseline.toml")).unwrap()
}

fn run_text(text: &str, paths: u64, extra: &[&str]) -> Json {
    let dir = Dir::new();
    run_summary(&dir.file("s.toml", text), paths, extra)
}

fn by_id<'a>(list: &'a Json, id: &str) -> &'a Json {
    list.as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == id)
        .unwrap_or_else(|| panic!("no `{id}`"))
}

fn compile(text: &str) -> Model {
    let dir = Dir::new();
    let path = dir.file("m.toml", text);
    let mut sources = SourceMap::new();
    match cfsim::scenario::load(&path, &[], &mut sources) {
        Ok(s) => Model::compile(&s),
        Err(d) => panic!("{}", d.render(&sources)),
    }
}

fn with_step(text: &str, step: &str) -> String {
    text.replace("step = \"quarter\"", &format!("step = \"{step}\""))
}

// ------------------------------------------------------------------ 1. the time step

#[test]
fn without_volatility_each_year_books_the_same_money_at_every_step() {
    // Per path (the draws do not depend on the step), yearly revenue, costs and net income of
    // the baseline agree across month, quarter and year steps wherever the path is still
    // operating at the year's end in all three (within 0.5%; they agree to rounding).
    let text = baseline_text().replace(
        "revenue_volatility = { value = 0.15,",
        "revenue_volatility = { value = 0,",
    );
    let models: Vec<Model> = ["month", "quarter", "year"]
        .iter()
        .map(|s| compile(&with_step(&text, s)))
        .collect();
    let mut states: Vec<PathState> = models.iter().map(PathState::new).collect();
    let mut compared = 0;
    for path in 0..400 {
        let mut yearly = Vec::new();
        for (m, st) in models.iter().zip(&mut states) {
            st.run(m, 42, path, &mut NoTrace);
            let years: Vec<Option<(f64, f64)>> = m
                .years
                .iter()
                .map(|(_, periods)| {
                    let operating = st.out().operating_at(periods.end - 1);
                    let r: f64 = st.out().revenue[periods.clone()].iter().sum();
                    let c: f64 = st.out().costs[periods.clone()].iter().sum();
                    operating.then_some((r, c))
                })
                .collect();
            yearly.push(years);
        }
        let (month, quarter, year) = (&yearly[0], &yearly[1], &yearly[2]);
        for (y, ((a, b), c)) in month.iter().zip(quarter).zip(year).enumerate() {
            if let (Some(a), Some(b), Some(c)) = (*a, *b, *c) {
                for (x, z) in [(a, b), (a, c)] {
                    let close = |u: f64, v: f64| (u - v).abs() <= 0.005 * u.abs().max(1e-9);
                    assert!(
                        close(x.0, z.0),
                        "revenue, path {path} year {y}: {x:?} vs {z:?}"
                    );
                    assert!(
                        close(x.1, z.1),
                        "costs, path {path} year {y}: {x:?} vs {z:?}"
                    );
                    assert!(
                        close(x.0 - x.1, z.0 - z.1),
                        "net income, path {path} year {y}"
                    );
                }
                compared += 1;
            }
        }
    }
    assert!(compared > 2000, "{compared}");
}

#[test]
fn with_volatility_probabilities_agree_across_steps() {
    let text = baseline_text();
    let runs: Vec<Json> = ["month", "quarter", "year"]
        .iter()
        .map(|s| run_text(&with_step(&text, s), 200_000, &[]))
        .collect();
    for key in [("target", "probability"), ("insolvency", "probability")] {
        let p: Vec<f64> = runs.iter().map(|r| num(&r[key.0][key.1])).collect();
        for q in &p[1..] {
            assert!(
                (q - p[0]).abs() <= 0.015,
                "{key:?} by month, quarter, year: {p:?}"
            );
        }
    }
}

// ------------------------------------------------------------------ 2. capacity in service

const CAPACITY: &str = r#"
[horizon]
start = "2025"
end = "2031"
step = "quarter"

[[entity]]
id = "lab"
roles = ["lab"]
cash = 1000

[[entity]]
id = "cloud"
roles = ["cloud"]

[[flow]]
id = "gw"
kind = "contract"
from = "lab"
to = "cloud"
capacity_gw = 5
price_per_gw_year = 6
start = "2025-01"
duration_years = 5
profile = { ramp_until = "2026-12" }
margin = 0.3

[[flow]]
id = "valued"
kind = "contract"
from = "lab"
to = "cloud"
value = 150
start = "2025-01"
duration_years = 5
profile = { ramp_until = "2026-12" }
margin = 0.3

[valuation]
multiple = 10
"#;

#[test]
fn capacity_is_paid_for_while_in_service_and_values_keep_their_total() {
    // 5 GW at $6B per GW-year ramping over 24 months: the ramp is worth 12 months of full
    // capacity, then 36 full months: 4 GW-years x 5 x 6 / 5 = 120. A contract of value 150
    // with the same profile pays 150.
    let s = run_text(CAPACITY, 100, &[]);
    let total = |id: &str| num(&by_id(&s["flows"], id)["total"]["mean"]);
    assert!((total("gw") - 120.0).abs() < 1e-9, "{}", total("gw"));
    assert!(
        (total("valued") - 150.0).abs() < 1e-9,
        "{}",
        total("valued")
    );
    // At full capacity a year costs exactly GW x price: the 2028 cash change is -30 - 37.5.
    let cash = |i: usize| num(&s["periods"]["cash"][i]["mean"]);
    let year_2028 = cash(15) - cash(11);
    assert!((year_2028 + 30.0 + 150.0 / 4.0).abs() < 1e-9, "{year_2028}");
}

// ------------------------------------------------------------------ 3. rounds, file order

const ROUND: &str = r#"
[horizon]
start = "2026"
end = "2027"
step = "quarter"

[[entity]]
id = "lab"
roles = ["lab"]
cash = 100

[[entity]]
id = "early"
roles = ["investor"]
stake = { fraction = 0.5 }

[[entity]]
id = "a"
roles = ["investor"]

[[entity]]
id = "b"
roles = ["investor"]

[[flow]]
id = "a_in"
kind = "equity"
from = "a"
to = "lab"
[[flow.tranche]]
id = "a1"
amount = 15
date = "2026-Q1"
post_money = 730

[[flow]]
id = "b_in"
kind = "equity"
from = "b"
to = "lab"
[[flow.tranche]]
id = "b1"
amount = 60
date = "2026-Q1"
post_money = 730

[valuation]
multiple = 10
"#;

#[test]
fn a_round_prices_its_tranches_together() {
    let s = run_text(ROUND, 10, &[]);
    let stake = |id: &str| num(&by_id(&s["investors"], id)["stake"]["p50"]);
    assert!((stake("a") - 15.0 / 730.0).abs() < 1e-15, "{}", stake("a"));
    assert!((stake("b") - 60.0 / 730.0).abs() < 1e-15);
    assert!((stake("early") - 0.5 * (1.0 - 75.0 / 730.0)).abs() < 1e-15);
}

/// Every number of two summaries, matched by id (arrays of objects with an id) or by position,
/// within a relative tolerance for the last bits of floating-point sums.
fn assert_same_figures(a: &Json, b: &Json, at: &str) {
    const TOLERANCE: f64 = 1e-9;
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!(
                (x - y).abs() <= TOLERANCE * x.abs().max(y.abs()).max(1e-12),
                "{at}: {x} vs {y}"
            );
        }
        (Json::Array(x), Json::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{at}: lengths");
            let key = |v: &Json| {
                ["id", "name", "year"]
                    .iter()
                    .find_map(|k| v.get(*k).map(|x| x.to_string()))
            };
            for (i, item) in x.iter().enumerate() {
                let other = match key(item) {
                    Some(k) => y
                        .iter()
                        .find(|o| key(o).as_deref() == Some(&k))
                        .unwrap_or_else(|| panic!("{at}: no {k}")),
                    None => &y[i],
                };
                assert_same_figures(item, other, &format!("{at}[{i}]"));
            }
        }
        (Json::Object(x), Json::Object(y)) => {
            for (k, v) in x {
                if k == "file" {
                    continue;
                }
                assert_same_figures(v, &y[k], &format!("{at}.{k}"));
            }
        }
        _ => assert_eq!(a, b, "{at}"),
    }
}

#[test]
fn reordering_a_file_changes_no_figure() {
    // Entities, flows, tranches, milestones and params in reverse order: every figure matches
    // by id within 1e-9 relative (the order of a few floating-point sums changes).
    let text = baseline_text();
    let mut doc: toml::Table = text.parse().unwrap();
    for key in ["entity", "flow", "milestone"] {
        if let Some(toml::Value::Array(items)) = doc.get_mut(key) {
            items.reverse();
            for item in items.iter_mut() {
                if let Some(toml::Value::Array(tranches)) = item.get_mut("tranche") {
                    tranches.reverse();
                }
            }
        }
    }
    if let Some(toml::Value::Table(params)) = doc.get_mut("params") {
        let reversed: toml::Table = params
            .iter()
            .rev()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        *params = reversed;
    }
    let reordered = toml::to_string(&doc).unwrap();
    assert_ne!(reordered, text);
    let a = run_summary(&scenario("baseline.toml"), 20_000, &[]);
    let b = run_text(&reordered, 20_000, &[]);
    assert_same_figures(&a, &b, "summary");
}

// ------------------------------------------------------------------ 4. default is reported

#[test]
fn per_period_figures_describe_the_paths_still_operating() {
    let s = run_summary(&scenario("baseline.toml"), 20_000, &[]);
    let n = num(&s["paths"]);
    let periods = &s["periods"];
    let last = periods["labels"].as_array().unwrap().len() - 1;
    for i in 0..=last {
        let operating = num(&periods["operating"][i]);
        assert!((operating - (1.0 - num(&periods["insolvent_by"][i]))).abs() < 1e-12);
        let count = num(&periods["revenue"][i]["count"]);
        assert!((count - operating * n).abs() < 0.5, "period {i}");
    }
    // Some paths default, yet the last period's median revenue and net income are those of
    // companies still running, not the zeros of defaulted ones.
    assert!(num(&periods["operating"][last]) < 0.9);
    assert!(num(&periods["revenue"][last]["p50"]) > 10.0);
    let y2030 = by_id_year(&s["years"], 2030);
    assert!(num(&y2030["net_income"]["p50"]).abs() > 0.1);
    assert!(num(&y2030["operating"]) < 0.9);
    // P(target) stays over all paths.
    assert!(
        s["populations"]["target"]
            .as_str()
            .unwrap()
            .starts_with("all paths")
    );
    let csv_dir = Dir::new();
    let out = csv_dir.path().join("o");
    cfsim()
        .arg("run")
        .arg(scenario("baseline.toml"))
        .args(["--paths", "2000", "--quiet", "--no-charts", "--out"])
        .arg(&out)
        .assert()
        .success();
    let csv = std::fs::read_to_string(out.join("periods.csv")).unwrap();
    assert!(csv.starts_with("period,series,statistic,value,unit,paths\n"));
    // Revenue is per period (a quarter here), not annualised, and the CSV says so.
    assert!(csv.contains("\n2024-Q1,revenue,p50,"));
    assert!(csv.contains(",$B per quarter,operating at the period's end\n"));
}

fn by_id_year(years: &Json, year: i64) -> &Json {
    years
        .as_array()
        .unwrap()
        .iter()
        .find(|y| y["year"] == year)
        .unwrap()
}

// ------------------------------------------------------------------ 5. random numbers

#[test]
fn seeds_one_bit_apart_give_independent_paths() {
    let m = compile(&baseline_text());
    let (mut a, mut b) = (PathState::new(&m), PathState::new(&m));
    for bit in [0, 1, 17, 63] {
        let (seed, other) = (42u64, 42u64 ^ (1 << bit));
        let n = 4000;
        let (mut both, mut da, mut db) = (0.0, 0.0, 0.0);
        for path in 0..n {
            a.run(&m, seed, path, &mut NoTrace);
            b.run(&m, other, path, &mut NoTrace);
            let (x, y) = (
                f64::from(u8::from(a.out().default_period.is_some())),
                f64::from(u8::from(b.out().default_period.is_some())),
            );
            both += x * y;
            da += x;
            db += y;
        }
        let n = n as f64;
        let (pa, pb) = (da / n, db / n);
        let covariance = both / n - pa * pb;
        // Independent indicators: covariance 0 within 5 standard errors.
        let se = (pa * (1.0 - pa) * pb * (1.0 - pb) / n).sqrt();
        assert!(
            covariance.abs() < 5.0 * se,
            "bit {bit}: covariance {covariance}"
        );
        assert_ne!(da, db, "bit {bit}: the same number of defaults");
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 24, .. Default::default() })]

    /// Common random numbers, rescue draws keyed by attempt: on every path, the company with
    /// more equity up front defaults no earlier (or not at all), all else equal.
    #[test]
    fn more_equity_up_front_never_makes_a_path_default_earlier(
        extra in 0.5..40.0f64,
        seed in proptest::prelude::any::<u64>(),
        first in 0..1_000_000u64,
    ) {
        let text = baseline_text();
        let more = text.replace(
            "amazon_upfront = { value = 15,",
            &format!("amazon_upfront = {{ value = {},", 15.0 + extra),
        );
        let (m, m2) = (compile(&text), compile(&more));
        let (mut a, mut b) = (PathState::new(&m), PathState::new(&m2));
        for path in first..first + 300 {
            a.run(&m, seed, path, &mut NoTrace);
            b.run(&m2, seed, path, &mut NoTrace);
            let (da, db) = (
                a.out().default_period.unwrap_or(usize::MAX),
                b.out().default_period.unwrap_or(usize::MAX),
            );
            proptest::prop_assert!(db >= da, "seed {} path {}: {} < {}", seed, path, db, da);
        }
    }
}

#[test]
fn more_equity_saves_some_paths() {
    // The property above is not vacuous: $10B more up front saves some paths from default.
    let text = baseline_text();
    let more = text.replace(
        "amazon_upfront = { value = 15,",
        "amazon_upfront = { value = 25,",
    );
    let (m, m2) = (compile(&text), compile(&more));
    let (mut a, mut b) = (PathState::new(&m), PathState::new(&m2));
    let mut later = 0;
    for path in 0..3000 {
        a.run(&m, 42, path, &mut NoTrace);
        b.run(&m2, 42, path, &mut NoTrace);
        later += usize::from(
            b.out().default_period > a.out().default_period
                || (a.out().default_period.is_some() && b.out().default_period.is_none()),
        );
    }
    assert!(later > 30, "{later}");
}

// ------------------------------------------------------------------ 6. one timing rule

const TIMING: &str = r#"
[horizon]
start = "2025"
end = "2030"
step = "quarter"

[[entity]]
id = "lab"
roles = ["lab"]
cash = 100

[[entity]]
id = "inv"
roles = ["investor"]

[[entity]]
id = "mkt"
roles = ["market"]

[[flow]]
id = "sales"
kind = "revenue"
from = "mkt"
to = "lab"
initial = { dist = "uniform", low = 2, high = 8 }
growth = 0.6
volatility = 0.3

[[flow]]
id = "in"
kind = "equity"
from = "inv"
to = "lab"
[[flow.tranche]]
id = "on_revenue"
amount = 1
when = "revenue >= 20"
window = { until = "2030" }
post_money = 100
[[flow.tranche]]
id = "on_milestone"
amount = 1
when = "reached(big)"
window = { until = "2030" }
post_money = 100

[[milestone]]
id = "big"
chance_per_year = 1
when = "revenue >= 20"

[valuation]
multiple = 10
"#;

#[test]
fn milestones_and_tranches_read_the_same_state() {
    // A milestone certain to happen once revenue >= 20 and a tranche on revenue >= 20 see the
    // same run-rate, so the tranche waiting for the milestone is released in the same period.
    let m = compile(TIMING);
    let mut st = PathState::new(&m);
    let mut released = 0;
    for path in 0..2000 {
        st.run(&m, 3, path, &mut NoTrace);
        let (a, b) = (st.out().tranches[0].0, st.out().tranches[1].0);
        assert_eq!(a, b, "path {path}");
        released += usize::from(matches!(a, TrancheState::Released(_)));
    }
    assert!(released > 200 && released < 1900, "{released}");
}

#[test]
fn a_tranche_is_pending_in_no_path_after_its_window() {
    // The engine skips a conditional tranche after the last period of its window: there every
    // operating lane still pending is released or lapses, and a lane whose company defaulted
    // lapsed then. The windows end inside the horizon at different times (the equity step
    // runs for the second after the first has ended), and companies default before them.
    let text = TIMING
        .replacen(r#"window = { until = "2030" }"#, r#"window = { until = "2026" }"#, 1)
        .replacen(r#"window = { until = "2030" }"#, r#"window = { until = "2028" }"#, 1)
        .replace("cash = 100", "cash = 1")
        .replace(
            "[[flow]]\nid = \"in\"",
            "[[flow]]\nid = \"burn\"\nkind = \"cost\"\nfrom = \"lab\"\nto = \"mkt\"\nfixed = 6\n\n[[flow]]\nid = \"in\"",
        );
    assert!(text.contains("id = \"burn\""));
    let m = compile(&text);
    let mut st = PathState::batch(&m);
    let (mut released, mut expired, mut defaulted) = (0, 0, 0);
    for batch in 0..8u64 {
        st.run_batch(&m, 11, batch * 256, 256, &mut NoTrace);
        let out = st.batch_out();
        for (k, last) in [(0, 7), (1, 15)] {
            for i in 0..256 {
                match out.tranche_state[(k, i)] {
                    TrancheState::Pending => panic!("tranche {k} pending in lane {i}"),
                    TrancheState::Released(p) => {
                        assert!(p <= last, "released after its window: {p}");
                        released += 1;
                    }
                    TrancheState::Lapsed(p, Lapse::Expired) => {
                        assert_eq!(p, last, "a window ends in its last period");
                        expired += 1;
                    }
                    TrancheState::Lapsed(p, Lapse::Default) => {
                        assert!(p <= last, "lapsed at a default after its window: {p}");
                        defaulted += 1;
                    }
                    TrancheState::Empty => panic!("tranche {k} has an amount"),
                }
            }
        }
    }
    assert!(
        released > 100 && expired > 100 && defaulted > 100,
        "{released} {expired} {defaulted}"
    );
}

// ------------------------------------------------------------------ 7. smaller definitions

const SMALL: &str = r#"
[horizon]
start = "2025"
end = "2026-Q4"
step = "quarter"

[[entity]]
id = "lab"
roles = ["lab"]
cash = 20

[[entity]]
id = "cloud"
roles = ["investor", "cloud"]

[[entity]]
id = "chips"
roles = ["investor", "chipmaker"]

[[entity]]
id = "idle"
roles = ["investor"]

[[entity]]
id = "mkt"
roles = ["market"]

[[flow]]
id = "sales"
kind = "revenue"
from = "mkt"
to = "lab"
initial = 8
growth = 0

[[flow]]
id = "compute"
kind = "contract"
from = "lab"
to = "cloud"
value = 8
start = "2025-01"
duration_years = 2
margin = 0.3

[[flow]]
id = "gpus"
kind = "pass_through"
from = "cloud"
to = "chips"
of = "compute"
share = 0.5
margin = 0.6

[[flow]]
id = "cloud_in"
kind = "equity"
from = "cloud"
to = "lab"
[[flow.tranche]]
id = "now"
amount = 10
date = "2025-Q1"
post_money = 100
[[flow.tranche]]
id = "never"
amount = 5
when = "revenue >= 1000"
window = { from = "2025-Q2", until = "2026-Q4" }
post_money = 100

[[flow]]
id = "chips_in"
kind = "equity"
from = "chips"
to = "lab"
[[flow.tranche]]
id = "chips_now"
amount = 2
date = "2025-Q1"
post_money = 100

[[flow]]
id = "idle_in"
kind = "equity"
from = "idle"
to = "lab"
[[flow.tranche]]
id = "nothing"
amount = 0
date = "2025-Q2"
post_money = 100

[valuation]
multiple = 10
"#;

#[test]
fn circularity_counts_each_dollar_once() {
    // The lab pays the cloud 8 over two years; the cloud passes half on to the chipmaker,
    // also an investor. The chipmaker's own round trip counts the 4 it received; the system's
    // circularity counts the 8 once: 8 / (10 + 2), not 12 / 12.
    let s = run_text(SMALL, 100, &[]);
    assert!((num(&s["circularity"]["mean"]) - 8.0 / 12.0).abs() < 1e-12);
    assert!((num(&by_id(&s["investors"], "chips")["round_trip"]["mean"]) - 2.0).abs() < 1e-12);
}

#[test]
fn a_window_closing_in_the_last_period_lapses() {
    let s = run_text(SMALL, 100, &[]);
    let t = by_id(&s["tranches"], "never");
    assert_eq!(num(&t["lapsed_probability"]), 1.0);
    assert_eq!(num(&t["pending_probability"]), 0.0);
}

#[test]
fn a_tranche_of_amount_zero_is_reported_as_such_and_a_round_trip_without_money_is_null() {
    let s = run_text(SMALL, 100, &[]);
    let t = by_id(&s["tranches"], "nothing");
    assert_eq!(num(&t["release_probability"]), 0.0);
    assert_eq!(num(&t["empty_probability"]), 1.0);
    assert!(t["amount"].is_null());
    let idle = by_id(&s["investors"], "idle");
    assert!(idle["round_trip"].is_null(), "{}", idle["round_trip"]);
    assert_eq!(num(&idle["invested"]["mean"]), 0.0);
}

#[test]
fn quantiles_of_exact_values_are_exact_and_within_the_range() {
    // Amazon invests 15, or 50 when its conditional tranche comes: the median reads 15, not a
    // bucket's middle.
    let s = run_summary(&scenario("baseline.toml"), 20_000, &[]);
    let amazon = &by_id(&s["investors"], "amazon")["invested"];
    assert_eq!(num(&amazon["p50"]), 15.0);
    assert_eq!(num(&amazon["p5"]), 15.0);
    for inv in s["investors"].as_array().unwrap() {
        for key in ["invested", "received", "net_position", "stake"] {
            let x = &inv[key];
            let (lo, hi) = (num(&x["p5"]), num(&x["p95"]));
            assert!(lo <= num(&x["p50"]) && num(&x["p50"]) <= hi, "{key}");
        }
    }
}

const RESCUE: &str = r#"
[horizon]
start = "2025"
end = "2027"
step = "year"

[[entity]]
id = "lab"
roles = ["lab"]
cash = 5

[[entity]]
id = "mkt"
roles = ["market"]

[[entity]]
id = "fund"
roles = ["investor"]

[[flow]]
id = "sales"
kind = "revenue"
from = "mkt"
to = "lab"
initial = 10
growth = 0

[[flow]]
id = "burn"
kind = "cost"
from = "lab"
fixed = 20

[valuation]
multiple = 2

[rescue]
probability = 1
amount = 4
discount = 0.5
from = "fund"
max = 100
"#;

#[test]
fn rescues_buy_at_pre_money_and_their_money_shows_in_the_lowest_cash() {
    // Burning 10 a year from 5: rescues of 4 whenever cash would cross zero, each priced at a
    // pre-money of 10 x 2 x 0.5 = 10, so each buys 4 / 14 of the company, never all of it.
    let s = run_text(RESCUE, 10, &[]);
    let rescues = num(&s["insolvency"]["rescues"]["mean"]);
    // 30 burnt over three years from 5 of cash: 25 / 4 = 6.25, so 7 rescues.
    assert_eq!(rescues, 7.0);
    let fund = by_id(&s["investors"], "fund");
    let kept = (1.0 - 4.0 / 14.0f64).powi(7);
    assert!((num(&fund["stake"]["p50"]) - (1.0 - kept)).abs() < 1e-12);
    // Cash ends at 5 - 30 + 28 = 3; without the 28 raised it would be -25.
    assert!((num(&s["company"]["min_cash"]["p50"]) + 25.0).abs() < 1e-9);
    assert_eq!(num(&s["insolvency"]["probability"]), 0.0);
}

#[test]
fn a_milestone_with_a_hazard_of_zero_never_happens() {
    let text = std::fs::read_to_string(scenario("closed-form.toml"))
        .unwrap()
        .replace("hazard = 0.3", "hazard = 0");
    let s = run_text(&text, 100_000, &["--seed", "9"]);
    assert_eq!(
        num(&by_id(&s["tranches"], "on_milestone")["release_probability"]),
        0.0
    );
}

// ------------------------------------------------------------------ warnings

#[test]
fn validation_warns_about_what_is_probably_a_mistake() {
    let text = base_with("[params]\n", "[params]\nforgotten = 3\n").replace(
        "window = { from = \"2026-Q2\", until = \"2028-Q4\" }",
        "window = { from = \"2026-Q2\", until = \"2032-Q4\" }",
    ) + r#"
[[entity]]
id = "partner"
roles = ["other"]

[[flow]]
id = "side"
kind = "revenue"
from = "customers"
to = "partner"
initial = 1
growth = 0

[[milestone]]
id = "unread"
hazard = 0.2
"#;
    let dir = Dir::new();
    let path = dir.file("w.toml", &text);
    let out = cfsim().arg("validate").arg(&path).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let shown = path.display().to_string();
    for (has, says) in [
        ("forgotten = 3", "param `forgotten` is not used"),
        ("id = \"b\"", "window of tranche `b` ends"),
        ("id = \"side\"", "not to the company `lab`"),
        ("id = \"unread\"", "milestone `unread` is not read"),
    ] {
        // The warning points at the entry (its first line for tables).
        let line = text.lines().position(|l| l.contains(has)).unwrap() + 1;
        let near = (line.saturating_sub(3)..=line).any(|l| {
            stderr.lines().any(|x| {
                x.starts_with(&format!("{shown}:{l}:"))
                    && x.contains("warning: ")
                    && x.contains(says)
            })
        });
        assert!(near, "no warning `{says}` near line {line}:\n{stderr}");
    }
    let denied = cfsim()
        .args(["validate", "--deny-warnings"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(denied.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&denied.stderr).contains("warnings are denied"));
    // A clean file has none.
    let clean = cfsim()
        .args(["validate", "--deny-warnings"])
        .arg(scenario("baseline.toml"))
        .output()
        .unwrap();
    assert!(
        clean.status.success(),
        "{}",
        String::from_utf8_lossy(&clean.stderr)
    );
    assert!(clean.stderr.is_empty());
}

// ------------------------------------------------------------------ 8. the baseline

#[test]
fn the_baseline_values_the_round_at_its_price_and_microsoft_at_27_percent_after_october_2025() {
    // Ending the horizon right after the round (dates past it moved to its last quarter): the
    // median value is about the round's $730B post-money (the multiple is anchored on it), and
    // Microsoft holds its stated 27% as of 2025-10, diluted only by the 2026 round:
    // 0.27 x (1 - 75 / 730).
    let text = baseline_text()
        .replace("end = \"2030-Q4\"", "end = \"2026-Q1\"")
        .replace("from = \"2026-Q2\"", "from = \"2026-Q1\"")
        .replace("start = \"2027-Q1\"", "start = \"2026-Q1\"")
        .replace("start = \"2026-Q3\"", "start = \"2026-Q1\"")
        .replace("year = 2029", "year = 2025");
    let s = run_text(&text, 20_000, &[]);
    let value = num(&s["company"]["value_at_horizon"]["p50"]);
    assert!((value / 730.0 - 1.0).abs() < 0.15, "median value {value}");
    let msft = num(&by_id(&s["investors"], "microsoft")["stake"]["p50"]);
    assert!((msft - 0.27 * (1.0 - 75.0 / 730.0)).abs() < 1e-12, "{msft}");
}

// ------------------------------------------------------------------ one formulation

#[test]
fn the_graph_shows_what_the_engine_moves_on_a_deterministic_path() {
    // Without uncertainty, volatility or conditional tranches, the graph's nominal amounts are
    // exactly the money a simulated run moves on each flow: both come from one engine.
    let text = std::fs::read_to_string(scenario("closed-form.toml"))
        .unwrap()
        .replace("volatility = 0.3", "volatility = 0")
        .replace(
            r#"initial = { dist = "lognormal", median = 10, sigma = 0.6 }"#,
            "initial = 10",
        );
    let dir = Dir::new();
    let path = dir.file("det.toml", &text);
    let mut sources = SourceMap::new();
    let s = cfsim::scenario::load(&path, &[], &mut sources).unwrap();
    let graph = cfsim::graph::MoneyGraph::new(&s);
    let summary = run_summary(&path, 10, &[]);
    let mut checked = 0;
    for edge in graph.graph.edge_weights() {
        let cfsim::graph::Link::Flow(f) = edge.link else {
            continue;
        };
        let id = &s.flows[f].id;
        let run = num(&by_id(&summary["flows"], id)["total"]["mean"]);
        if edge.conditional > 0.0 {
            // The graph pays a conditional tranche; this run's milestone never comes.
            assert!(edge.nominal >= run, "{id}");
            continue;
        }
        assert!(
            (edge.nominal - run).abs() <= 1e-12 * run.abs().max(1.0),
            "{id}: graph {} vs run {run}",
            edge.nominal
        );
        checked += 1;
    }
    assert!(checked >= 3, "{checked}");
}
