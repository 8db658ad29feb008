//! `cfsim compare`: end to end, exact zeros for a self-comparison, and paired intervals much
//! narrower than unpaired ones thanks to common random numbers.

use std::path::PathBuf;

use crate::common::*;
use serde_json::Value;

fn compare(args: &[&std::ffi::OsStr], paths: u64) -> (Dir, Value, String) {
    let dir = Dir::new();
    let out = dir.path().join("out");
    let run = cfsim()
        .arg("compare")
        .args(args)
        .args(["--paths", &paths.to_string(), "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let json = serde_json::from_str(&std::fs::read_to_string(out.join("comparison.json")).unwrap())
        .unwrap();
    (dir, json, String::from_utf8_lossy(&run.stdout).into_owned())
}

fn metric<'a>(j: &'a Value, name: &str) -> &'a Value {
    j["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no metric {name}"))
}

#[test]
fn compares_the_shipped_alternatives_end_to_end() {
    let files: Vec<PathBuf> = [
        "baseline.toml",
        "all-upfront.toml",
        "consumption-linked.toml",
        "talks-dec-2025.toml",
        "no-round.toml",
    ]
    .iter()
    .map(|f| scenario(f))
    .collect();
    let args: Vec<&std::ffi::OsStr> = files.iter().map(|f| f.as_os_str()).collect();
    let mut args = args;
    let variant = std::ffi::OsString::from("--variant");
    let value = std::ffi::OsString::from("no-contingent:amazon_contingent=0");
    args.push(&variant);
    args.push(&value);
    let (dir, j, stdout) = compare(&args, 8000);
    assert_eq!(j["reference"], "baseline");
    let labels: Vec<&str> = j["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["label"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "baseline",
            "all-upfront",
            "consumption-linked",
            "talks-dec-2025",
            "no-round",
            "no-contingent"
        ]
    );
    assert_eq!(j["scenarios"][5]["overrides"][0], "amazon_contingent=0");
    for name in [
        "P(target)",
        "P(insolvency)",
        "peak cash need",
        "circularity",
        "P(released amazon_b)",
        "amazon net position",
        "nvidia round trip",
    ] {
        let m = metric(&j, name);
        assert!(
            m["diff_vs_reference"][0].is_null(),
            "the reference has no difference"
        );
        assert!(m["values"][0]["mean"].is_number(), "{name}");
    }
    let insolvency = metric(&j, "P(insolvency)");
    assert!(
        insolvency["diff_vs_reference"][4]["diff"].as_f64().unwrap() > 0.0,
        "no round: more insolvency"
    );
    // Without the $35B the tranche never releases money: amazon invests less.
    let amazon = metric(&j, "amazon invested");
    assert!(amazon["diff_vs_reference"][5]["diff"].as_f64().unwrap() < 0.0);
    for needle in [
        "baseline",
        "no-contingent",
        "P(insolvency)",
        "[",
        "Throughput:",
    ] {
        assert!(stdout.contains(needle), "{needle}: {stdout}");
    }
    let out = dir.path().join("out");
    let csv = std::fs::read_to_string(out.join("comparison.csv")).unwrap();
    assert!(csv.starts_with("metric,kind,unit,scenario,paths,mean,ci95_low,ci95_high,diff,"));
    assert!(csv.contains("\nP(insolvency),probability,share of paths,no-round,"));
    assert!(csv.contains("\namazon invested,amount,$B in total over the horizon,baseline,"));
    assert!(csv.contains("\namazon net position,amount,$B at the horizon's end,baseline,"));
    assert!(csv.contains("\npeak cash need,amount,$B at its largest over the horizon,baseline,"));
    assert!(csv.contains("\ncircularity,ratio,ratio (received / invested),baseline,"));
    for chart in [
        "compare_metrics",
        "compare_cash",
        "compare_target",
        "compare_investors",
    ] {
        let bytes = std::fs::read(out.join(format!("{chart}.png"))).unwrap();
        assert_eq!(&bytes[1..4], b"PNG", "{chart}");
        let (w, h) = (
            u32::from_be_bytes(bytes[16..20].try_into().unwrap()),
            u32::from_be_bytes(bytes[20..24].try_into().unwrap()),
        );
        // Charts of rows (a metric or an investor each) grow with them, never shrink.
        let grows = chart == "compare_metrics" || chart == "compare_investors";
        assert!(
            w == 1600 && (h == 1000 || grows && (1000..=3200).contains(&h)),
            "{chart}: {w}x{h}"
        );
    }
}

#[test]
fn a_scenario_compared_with_itself_differs_by_exactly_zero() {
    let b = scenario("baseline.toml");
    let (_dir, j, _) = compare(&[b.as_os_str(), b.as_os_str()], 5000);
    assert_eq!(j["scenarios"][1]["label"], "baseline-2");
    let mut checked = 0;
    for m in j["metrics"].as_array().unwrap() {
        let d = &m["diff_vs_reference"][1];
        assert_eq!(d["diff"].as_f64().unwrap(), 0.0, "{}", m["name"]);
        assert_eq!(
            d["diff_ci95_paired"][0].as_f64().unwrap(),
            0.0,
            "{}",
            m["name"]
        );
        assert_eq!(
            d["diff_ci95_paired"][1].as_f64().unwrap(),
            0.0,
            "{}",
            m["name"]
        );
        assert_eq!(m["values"][0], m["values"][1]);
        checked += 1;
    }
    assert!(checked > 20);
}

#[test]
fn paired_intervals_are_much_narrower_than_unpaired_ones() {
    // Two structures that differ a little: revenue growth 20% vs 22% a year.
    let text = std::fs::read_to_string(scenario("closed-form.toml"))
        .unwrap()
        .replace("growth = 0.2", "growth = \"g\"")
        .replace("[horizon]", "[params]\ng = 0.2\n\n[horizon]");
    let dir = Dir::new();
    let file = dir.file("cf.toml", &text);
    let variant = std::ffi::OsString::from("faster:g=0.22");
    let flag = std::ffi::OsString::from("--variant");
    let (_d, j, _) = compare(&[file.as_os_str(), &flag, &variant], 20_000);
    let m = metric(&j, "P(target)");
    let d = &m["diff_vs_reference"][1];
    let width = |ci: &Value| ci[1].as_f64().unwrap() - ci[0].as_f64().unwrap();
    let paired = width(&d["diff_ci95_paired"]);
    let unpaired = width(&d["diff_ci95_unpaired"]);
    assert!(d["diff"].as_f64().unwrap() > 0.0);
    assert!(
        paired > 0.0 && paired < unpaired / 3.0,
        "paired {paired} vs unpaired {unpaired}"
    );
    let net = &metric(&j, "investor net position")["diff_vs_reference"][1];
    assert!(width(&net["diff_ci95_paired"]) < width(&net["diff_ci95_unpaired"]) / 3.0);
}

#[test]
fn bad_comparisons_are_usage_or_input_errors() {
    let b = scenario("baseline.toml");
    cfsim().arg("compare").arg(&b).assert().code(2);
    cfsim()
        .arg("compare")
        .arg(&b)
        .args(["--variant", "nolabel"])
        .assert()
        .code(2);
    let out = cfsim()
        .arg("compare")
        .arg(&b)
        .args(["--variant", "x:amazon_contingnt=0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean `amazon_contingent`"));
}
