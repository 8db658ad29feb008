//! `cfsim run` end to end: the table, summary.json's schema, periods.csv, atomic outputs.

use std::path::Path;

use crate::common::*;

#[test]
fn run_prints_the_answers_and_writes_the_documented_files() {
    let dir = Dir::new();
    let out = dir.path().join("out");
    let baseline = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/baseline.toml");
    let run = cfsim()
        .arg("run")
        .arg(&baseline)
        .args(["--paths", "20000", "--seed", "3", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    for needle in [
        "20000 paths, seed 3",
        "P(revenue 2029 >= $100B)",
        "P(default by 2030-Q4)",
        "amazon_b",
        "round trip",
        "Circularity",
        "Throughput:",
    ] {
        assert!(stdout.contains(needle), "no `{needle}` in:\n{stdout}");
    }
    // The table reads in a 100-column terminal or a report page without wrapping.
    for line in stdout.lines() {
        assert!(
            line.chars().count() <= 100,
            "{} columns: {line}",
            line.chars().count()
        );
    }
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["scenario"], "baseline");
    assert_eq!(s["paths"], 20000);
    assert_eq!(s["seed"], 3);
    let p = s["target"]["probability"].as_f64().unwrap();
    let ci = s["target"]["ci95"].as_array().unwrap();
    assert!(ci[0].as_f64().unwrap() <= p && p <= ci[1].as_f64().unwrap());
    assert!(s["insolvency"]["probability"].is_number());
    let b = s["tranches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "amazon_b")
        .unwrap();
    assert!(b["release_probability"].is_number() && b["conditional"] == true);
    for inv in s["investors"].as_array().unwrap() {
        for key in ["invested", "received", "round_trip", "net_position"] {
            for stat in ["mean", "p5", "p50", "p95"] {
                assert!(inv[key][stat].is_number(), "{key}.{stat} of {}", inv["id"]);
            }
        }
    }
    assert!(s["circularity"]["mean"].is_number());
    periods_csv_is_tidy_and_agrees_with_the_summary(&out.join("periods.csv"), &s);
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn a_run_with_overrides_records_them_everywhere_and_gets_its_own_folder() {
    let dir = Dir::new();
    let baseline = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/baseline.toml");
    let run = |extra: &[&str]| {
        let out = cfsim()
            .current_dir(dir.path())
            .arg("run")
            .arg(&baseline)
            .args(["--paths", "2000", "--no-charts"])
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let plain = run(&[]);
    assert!(!plain.contains("With "), "{plain}");
    let set = run(&["--set", "amazon_contingent=0", "--set", "k_nvidia=3 to 5"]);
    assert!(
        set.contains("With amazon_contingent=0, k_nvidia=3 to 5"),
        "{set}"
    );
    let summary = |folder: &str| -> serde_json::Value {
        let path = dir.path().join("output").join(folder).join("summary.json");
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    };
    // The plain run's folder keeps the plain run; the other one names its overrides.
    let folders: Vec<String> = std::fs::read_dir(dir.path().join("output"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let other = folders
        .iter()
        .find(|f| f.starts_with("baseline+amazon_contingent=0+k_nvidia=3-to-5-"))
        .unwrap_or_else(|| panic!("no folder for the overrides in {folders:?}"));
    assert_eq!(summary("baseline")["overrides"], serde_json::json!([]));
    let s = summary(other);
    assert_eq!(
        s["overrides"],
        serde_json::json!(["amazon_contingent=0", "k_nvidia=3 to 5"])
    );
    assert_eq!(s["schema_version"], 1);
    let param = |name: &str| {
        s["params"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap()["value"]
            .clone()
    };
    assert_eq!(param("amazon_contingent"), serde_json::json!(0.0));
    let k = param("k_nvidia");
    assert_eq!(k["dist"], "lognormal");
    assert!(k["mu"].is_number() && k["sigma"].is_number(), "{k}");
    assert_eq!(param("aws_margin")["dist"], "beta");
    assert_eq!(param("revenue_growth")["mode"], 2.3);
}

#[test]
fn quiet_prints_nothing_and_default_output_folder_is_named_after_the_scenario() {
    let dir = Dir::new();
    let closed = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/closed-form.toml");
    let run = cfsim()
        .current_dir(dir.path())
        .arg("run")
        .arg(&closed)
        .args(["--paths", "1000", "--quiet"])
        .output()
        .unwrap();
    assert!(run.status.success());
    assert!(run.stdout.is_empty());
    assert!(dir.path().join("output/closed-form/summary.json").exists());
}

#[test]
fn an_unwritable_output_folder_fails_with_exit_1() {
    let dir = Dir::new();
    let blocker = dir.file("file", "x");
    let closed = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/closed-form.toml");
    let run = cfsim()
        .arg("run")
        .arg(&closed)
        .args(["--paths", "100", "--out"])
        .arg(blocker.join("sub"))
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.starts_with(&format!(
            "error: cannot write {}",
            blocker.join("sub").display()
        )),
        "{stderr}"
    );
}

#[test]
fn an_output_folder_holding_other_files_is_refused_untouched_and_nothing_is_left_behind() {
    // A folder where summary.json should go, and a user's file: neither is cfsim's to replace.
    let dir = Dir::new();
    let closed = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/closed-form.toml");
    for (out, planted) in [("a", "summary.json"), ("b", "notes.txt")] {
        let out = dir.path().join(out);
        std::fs::create_dir_all(&out).unwrap();
        if planted == "summary.json" {
            std::fs::create_dir_all(out.join(planted)).unwrap();
        } else {
            std::fs::write(out.join(planted), "mine").unwrap();
        }
        let run = cfsim()
            .arg("run")
            .arg(&closed)
            .args(["--paths", "100", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(run.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(
            stderr.starts_with(&format!("error: cannot write {}", out.display()))
                && stderr.contains(&format!("holds `{planted}`, which cfsim did not write")),
            "{stderr}"
        );
        let left: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from(planted)]);
    }
    // No staging folder stays beside them.
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["a", "b"]);
}

#[test]
fn a_run_replaces_the_previous_outputs_as_a_set() {
    // The second run draws no chart: the first run's charts must not stay beside its summary.
    let dir = Dir::new();
    let out = dir.path().join("out");
    let closed = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/closed-form.toml");
    for extra in [&[][..], &["--no-charts"][..]] {
        let run = cfsim()
            .arg("run")
            .arg(&closed)
            .args(["--paths", "200", "--quiet", "--out"])
            .arg(&out)
            .args(extra)
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
    }
    let mut left: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["periods.csv", "report.md", "summary.json"]);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["out"], "no staging or old folder stays behind");
}

#[test]
fn summary_json_reads_back_into_the_typed_summary_unchanged() {
    // The typed `Summary` and the file agree on every key: what the library's users read is
    // what the command line writes, for every shipped scenario.
    let scenarios = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    for entry in std::fs::read_dir(scenarios).unwrap() {
        let file = entry.unwrap().path();
        let json = run_summary(&file, 500, &[]);
        let typed: cfsim::report::Summary =
            serde_json::from_value(json.clone()).expect("reads as a Summary");
        assert_eq!(
            serde_json::to_value(&typed).unwrap(),
            json,
            "{}",
            file.display()
        );
    }
}

#[test]
fn report_md_has_the_headline_figures_charts_and_sources_and_html_stands_alone() {
    use base64::Engine as _;
    let dir = Dir::new();
    let out = dir.path().join("out");
    let baseline = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/baseline.toml");
    let run = |extra: &[&str]| {
        cfsim()
            .arg("run")
            .arg(&baseline)
            .args(["-n", "5000", "-q", "-o"])
            .arg(&out)
            .args(extra)
            .assert()
            .success();
    };
    run(&["--html", "--set", "amazon_contingent=20"]);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let s: cfsim::report::Summary =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let p = cfsim::format::percent(s.insolvency.probability);
    assert!(
        md.contains(&format!("| P(default by 2030-Q4) | {p} |")),
        "no P(default) of {p} in:\n{md}"
    );
    assert!(md.contains("with amazon_contingent=20"));
    for chart in cfsim::report::charts::RunChart::ALL.map(cfsim::report::charts::RunChart::file) {
        assert!(md.contains(&format!("]({chart}.png)")), "{chart}");
    }
    for prm in &s.params {
        if let Some(source) = &prm.source {
            assert!(
                md.contains(&source.replace('|', "\\|")),
                "no source of {}",
                prm.name
            );
        }
    }
    // The HTML file carries the very PNGs written beside it.
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let inlined: Vec<Vec<u8>> = html
        .split("data:image/png;base64,")
        .skip(1)
        .map(|rest| {
            let data = &rest[..rest.find('"').unwrap()];
            base64::engine::general_purpose::STANDARD
                .decode(data)
                .unwrap()
        })
        .collect();
    assert_eq!(inlined.len(), 6);
    assert_eq!(inlined[0], std::fs::read(out.join("cash.png")).unwrap());
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    // The same folder again, without --html: the set is replaced whole.
    run(&["--set", "amazon_contingent=20"]);
    assert!(out.join("report.md").exists() && !out.join("report.html").exists());
}

/// `periods.csv` is long: one row per period, series and statistic, each with its unit and the
/// paths it describes; its values are the summary's, and nothing is missing or repeated.
fn periods_csv_is_tidy_and_agrees_with_the_summary(file: &Path, s: &serde_json::Value) {
    let mut reader = csv::Reader::from_path(file).unwrap();
    assert_eq!(
        reader.headers().unwrap(),
        vec!["period", "series", "statistic", "value", "unit", "paths"]
    );
    let periods = &s["periods"];
    let labels = periods["labels"].as_array().unwrap();
    let mut seen = std::collections::BTreeSet::new();
    let mut rows = 0;
    for row in reader.records() {
        let row = row.unwrap();
        rows += 1;
        let (period, series, statistic, value, unit, paths) =
            (&row[0], &row[1], &row[2], &row[3], &row[4], &row[5]);
        assert!(seen.insert((
            period.to_string(),
            series.to_string(),
            statistic.to_string()
        )));
        let i = labels.iter().position(|l| l == period).unwrap();
        let expected = match series {
            "operating" | "insolvent_by" => {
                assert_eq!((statistic, unit, paths), ("share", "share of paths", "all"));
                &periods[series][i]
            }
            "cash" | "revenue" | "costs" | "net_income" => {
                let want = if series == "cash" {
                    "$B at the period's end"
                } else {
                    "$B per quarter"
                };
                assert_eq!(unit, want, "{series}");
                assert_eq!(paths, "operating at the period's end");
                &periods[series][i][statistic]
            }
            other => panic!("unexpected series {other}"),
        };
        // The shortest text that reads back as the same double, as serde_json writes it.
        assert_eq!(
            value.parse::<f64>().unwrap(),
            expected.as_f64().unwrap(),
            "{period} {series} {statistic}"
        );
    }
    assert_eq!(rows, labels.len() * (2 + 4 * 6));
}
