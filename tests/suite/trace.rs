//! `cfsim trace`: one path's ledger adds up, names why things happened, is the path `run`
//! simulates, and `--find` picks paths by their outcome.

use crate::common::*;

fn json_of(args: &[&str]) -> serde_json::Value {
    let out = cfsim().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_path_ledger_adds_up_and_says_why_the_company_defaulted() {
    let baseline = scenario("baseline.toml");
    let b = baseline.to_str().unwrap();
    let found = json_of(&[
        "trace",
        b,
        "--find",
        "default and released(amazon_b)",
        "--json",
    ]);
    let path = found["path"].as_u64().unwrap();
    let traced = json_of(&["trace", b, "--path", &path.to_string(), "--json"]);
    assert_eq!(found, traced, "--find traces the path --path names");
    assert_eq!(traced["schema_version"], 1);
    let periods = traced["periods"].as_array().unwrap();
    assert_eq!(periods.len(), 28);
    let mut cash = periods[0]["cash_start"].as_f64().unwrap();
    for p in periods {
        let f = |k: &str| p[k].as_f64().unwrap();
        assert_eq!(f("cash_start"), cash, "{}", p["period"]);
        let change = f("revenue") - f("costs") + f("financing");
        assert!(
            (f("cash_end") - f("cash_start") - change).abs()
                <= 1e-9 * f("cash_start").abs().max(1.0),
            "{}: cash moved by {} but the accounts say {change}",
            p["period"],
            f("cash_end") - f("cash_start")
        );
        cash = f("cash_end");
    }
    let default = traced["default_period"].as_str().expect("it defaulted");
    let events = traced["events"].as_array().unwrap();
    let said = |period: &str, what: &str| {
        events
            .iter()
            .any(|e| e["period"] == period && e["what"].as_str().unwrap().contains(what))
    };
    assert!(said(default, "default: "), "{events:?}");
    let b_tranche = traced["tranches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "amazon_b")
        .unwrap();
    assert_eq!(b_tranche["state"], "released");
    let released_in = b_tranche["period"].as_str().unwrap();
    assert!(said(
        released_in,
        "tranche amazon_b: $35.0B from amazon released: `"
    ));
    // The condition held because a milestone was reached by then.
    assert!(
        events
            .iter()
            .any(|e| e["what"].as_str().unwrap().contains("reached"))
    );
}

#[test]
fn trace_finds_the_paths_that_run_counts() {
    let mut sources = cfsim::diagnostic::SourceMap::new();
    let s = cfsim::scenario::load(&scenario("baseline.toml"), &[], &mut sources).unwrap();
    let m = cfsim::engine::Model::compile(&s);
    let defaults = cfsim::trace::find(&m, 42, 3000, &cfsim::trace::Filter::Default, usize::MAX);
    let dir = Dir::new();
    let out = dir.path().join("out");
    let summary = json_of(&[
        "run",
        scenario("baseline.toml").to_str().unwrap(),
        "-n",
        "3000",
        "--no-charts",
        "--json",
        "-o",
        out.to_str().unwrap(),
    ]);
    let p = summary["insolvency"]["probability"].as_f64().unwrap();
    assert_eq!(
        defaults.len() as f64,
        (p * 3000.0).round(),
        "the same paths default"
    );
    let first = defaults[0];
    let traced = json_of(&[
        "trace",
        scenario("baseline.toml").to_str().unwrap(),
        "--path",
        &first.to_string(),
        "--json",
    ]);
    assert!(traced["default_period"].is_string());
}

#[test]
fn trace_refuses_what_it_cannot_find() {
    let b = scenario("baseline.toml");
    for (args, needle) in [
        (vec!["--find", "released(amazon_c)"], "no tranche amazon_c"),
        (vec!["--find", "default and", ""], "ends too early"),
        (
            vec!["--find", "default and not default"],
            "none of the first",
        ),
        (vec![], "--path"),
    ] {
        let out = cfsim()
            .arg("trace")
            .arg(&b)
            .args(args.iter().filter(|a| !a.is_empty()))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn samples_are_the_runs_first_paths_with_their_draws_and_outputs() {
    let dir = Dir::new();
    let b = scenario("baseline.toml");
    let b = b.to_str().unwrap();
    let samples = dir.path().join("data/samples.csv");
    let out = dir.path().join("out");
    let summary = json_of(&[
        "run",
        b,
        "-n",
        "3000",
        "--no-charts",
        "--json",
        "-o",
        out.to_str().unwrap(),
        "--samples",
        samples.to_str().unwrap(),
    ]);
    let mut reader = csv::Reader::from_path(&samples).unwrap();
    let header = reader.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3000, "every path, below the limit");
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no {name}"))
    };
    // The same paths default as the run counts, and the same net positions on average.
    let defaults = rows
        .iter()
        .filter(|r| !r[column("default_period")].is_empty())
        .count();
    let p = summary["insolvency"]["probability"].as_f64().unwrap();
    assert_eq!(defaults as f64, (p * 3000.0).round());
    let net = column("microsoft.net_position ($B)");
    let mean = rows
        .iter()
        .map(|r| r[net].parse::<f64>().unwrap())
        .sum::<f64>()
        / 3000.0;
    let expected = summary["investors"][0]["net_position"]["mean"]
        .as_f64()
        .unwrap();
    assert!(
        (mean - expected).abs() <= 1e-9 * expected.abs(),
        "{mean} vs {expected}"
    );
    // A row is the path `cfsim trace` shows.
    let traced = json_of(&["trace", b, "--path", "17", "--json"]);
    let row = &rows[17];
    assert_eq!(&row[column("path")], "17");
    for d in traced["draws"].as_array().unwrap() {
        let name = d["name"].as_str().unwrap();
        assert_eq!(
            row[column(name)].parse::<f64>().unwrap(),
            d["value"].as_f64().unwrap(),
            "{name}"
        );
    }
    assert_eq!(
        &row[column("default_period")],
        traced["default_period"].as_str().unwrap_or("")
    );

    // Without a path the samples are one of the output folder's files, replaced with the
    // set: a later run into the folder is not refused.
    let folder = dir.path().join("set");
    let run_into = |extra: &[&str]| {
        cfsim()
            .args(["run", b, "-n", "500", "-q", "--no-charts", "-o"])
            .arg(&folder)
            .args(extra)
            .output()
            .unwrap()
    };
    assert!(run_into(&["--samples"]).status.success());
    assert_eq!(
        csv::Reader::from_path(folder.join("samples.csv"))
            .unwrap()
            .records()
            .count(),
        500
    );
    assert!(run_into(&[]).status.success());
    assert!(!folder.join("samples.csv").exists());
    let other = folder.join("mine.csv");
    let refused = run_into(&["--samples", other.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("samples.csv"));
    assert!(
        run_into(&["--samples", folder.join("samples.csv").to_str().unwrap()])
            .status
            .success()
    );

    // The limit, and what cannot be asked.
    let limited = dir.path().join("few.csv");
    json_of(&[
        "run",
        b,
        "-n",
        "3000",
        "--no-charts",
        "--json",
        "-o",
        out.to_str().unwrap(),
        "--samples",
        limited.to_str().unwrap(),
        "--samples-limit",
        "1e2",
    ]);
    assert_eq!(
        csv::Reader::from_path(&limited).unwrap().records().count(),
        100
    );
    for extra in [vec!["--samples-limit", "1e7"], vec!["--part", "x.part"]] {
        let out = cfsim()
            .current_dir(dir.path())
            .args(["run", b, "-n", "3000", "--samples", "s.csv"])
            .args(&extra)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{extra:?}");
    }
}
