//! `cfsim solve`: goal seek on common random numbers, checked against `cfsim run` at the value
//! found.

use crate::common::*;

fn solve(
    args: &[&str],
) -> (
    Option<i32>,
    String,
    Option<serde_json::Value>,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("solve");
    let run = cfsim()
        .arg("solve")
        .arg(scenario("baseline.toml"))
        .args(args)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
    let json = std::fs::read_to_string(out.join("solve.json"))
        .ok()
        .map(|t| serde_json::from_str(&t).unwrap());
    (run.status.code(), stderr, json, dir)
}

#[test]
fn the_value_found_meets_the_target_in_a_run_and_its_neighbour_below_does_not() {
    let (code, stderr, json, _dir) = solve(&[
        "--param",
        "amazon_upfront=0:60",
        "--target",
        "P(default) <= 0.40",
        "--paths",
        "4000",
        "--seed",
        "3",
        "--quiet",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    let j = json.unwrap();
    let sol = &j["solution"];
    let value = sol["value"].as_f64().unwrap();
    assert!(sol["met_above"].as_bool().unwrap());
    assert!(sol["monotone"].as_bool().unwrap());
    assert!((0.0..=60.0).contains(&value));
    let ci = sol["ci95"].as_array().unwrap();
    assert!(ci[0].as_f64().unwrap() < value && value < ci[1].as_f64().unwrap());
    // The same run at the value found: the same metric, bit for bit, and the target met.
    let at = |v: f64| {
        run_typed(
            &scenario("baseline.toml"),
            4000,
            &["--seed", "3", "--set", &format!("amazon_upfront={v:?}")],
        )
        .insolvency
        .probability
    };
    let p = at(value);
    assert_eq!(p, sol["metric"]["mean"].as_f64().unwrap());
    assert!(p <= 0.40, "{p}");
    // A little less money misses it: the value is the boundary (to the search's tolerance).
    assert!(at(value - 0.05 * 60.0) > 0.40);
}

#[test]
fn a_target_out_of_reach_or_an_unknown_metric_is_refused() {
    let (code, stderr, json, _dir) = solve(&[
        "--param",
        "amazon_upfront=0:60",
        "--target",
        "P(default) <= 0.01",
        "--paths",
        "500",
        "--quiet",
    ]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("not reachable in the range"), "{stderr}");
    assert!(json.is_none(), "nothing written");
    let (code, stderr, _, _dir) = solve(&[
        "--param",
        "amazon_upfront=0:60",
        "--target",
        "P(nothing) >= 0.5",
        "--paths",
        "200",
        "--quiet",
    ]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("no metric `P(nothing)`"), "{stderr}");
    assert!(
        stderr.contains("P(insolvency)"),
        "the known metrics are listed: {stderr}"
    );
}
