//! The charts: produced for the shipped scenarios, valid PNGs of the stated size, not blank,
//! and plotting exactly the numbers in summary.json.

use std::path::{Path, PathBuf};

use crate::common::*;
use cfsim::report::charts::{self, data};

/// Runs a scenario with charts into a fresh folder.
fn run_with_charts(name: &str, extra: &[&str]) -> (Dir, PathBuf) {
    let dir = Dir::new();
    let out = dir.path().join("out");
    cfsim()
        .arg("run")
        .arg(scenario(name))
        .args(["--paths", "20000", "--quiet", "--out"])
        .arg(&out)
        .args(extra)
        .assert()
        .success();
    (dir, out)
}

/// Decodes a PNG; returns its size and the number of distinct colours.
fn inspect_png(path: &Path) -> (u32, u32, usize) {
    let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let bytes = &buf[..info.buffer_size()];
    let px = info.color_type.samples();
    let mut colours: Vec<&[u8]> = bytes.chunks(px).collect();
    colours.sort_unstable();
    colours.dedup();
    (info.width, info.height, colours.len())
}

#[test]
fn every_chart_is_a_non_blank_png_of_the_stated_size() {
    for name in ["baseline.toml", "closed-form.toml"] {
        let (_dir, out) = run_with_charts(name, &[]);
        for chart in charts::RunChart::ALL.map(charts::RunChart::file) {
            let path = out.join(format!("{chart}.png"));
            let (w, h, colours) = inspect_png(&path);
            assert_eq!((w, h), charts::SIZE, "{name} {chart}");
            assert!(
                colours > 20,
                "{name} {chart} looks blank ({colours} colours)"
            );
        }
        let leftovers: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}

#[test]
fn svg_on_request_and_no_charts_on_request() {
    let (_dir, out) = run_with_charts("closed-form.toml", &["--svg"]);
    for chart in charts::RunChart::ALL.map(charts::RunChart::file) {
        let svg = std::fs::read_to_string(out.join(format!("{chart}.svg"))).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.contains("closed-form"),
            "{chart}"
        );
    }
    let (_dir, out) = run_with_charts("closed-form.toml", &["--no-charts"]);
    assert!(out.join("summary.json").exists());
    assert!(!out.join("cash.png").exists());
}

#[test]
fn a_whisker_cut_by_the_axis_shows_its_value_and_overrides_show_in_the_footer() {
    let (_dir, out) = run_with_charts("baseline.toml", &["--svg", "--set", "amazon_contingent=20"]);
    let s: cfsim::report::Summary =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let svg = std::fs::read_to_string(out.join("investors.svg")).unwrap();
    // Microsoft's net position reaches far above the medians the axis follows.
    let top = s.investors[0].net_position.p95;
    let label = format!("{} \u{2191}", cfsim::format::money(top, "$", "B"));
    assert!(svg.contains(&label), "no `{label}` in investors.svg");
    for chart in charts::RunChart::ALL.map(charts::RunChart::file) {
        let svg = std::fs::read_to_string(out.join(format!("{chart}.svg"))).unwrap();
        assert!(
            svg.contains("with amazon_contingent=20"),
            "{chart}: no override in the footer"
        );
    }
}

fn summary(name: &str) -> cfsim::report::Summary {
    let mut sources = cfsim::diagnostic::SourceMap::new();
    let s = cfsim::scenario::load(&scenario(name), &[], &mut sources).unwrap();
    let opts = cfsim::cli::SimOptions {
        paths: Some(20_000),
        seed: 5,
        threads: 0,
        sets: Vec::new(),
        out: None,
        quiet: true,
        json: false,
        no_charts: true,
        svg: false,
        deny_warnings: false,
    };
    cfsim::cli::simulate(&s, &opts).ok().unwrap().0
}

#[test]
fn chart_data_is_the_summary_data() {
    let s = summary("baseline.toml");
    let json: serde_json::Value =
        serde_json::from_slice(&cfsim::report::summary_json(&s).unwrap()).unwrap();
    let f = |v: &serde_json::Value| v.as_f64().unwrap();

    let cash = data::cash(&s);
    for i in 0..s.horizon.periods {
        assert_eq!(cash.cash.p50[i], f(&json["periods"]["cash"][i]["p50"]));
        assert_eq!(cash.cash.p5[i], f(&json["periods"]["cash"][i]["p5"]));
        assert_eq!(cash.insolvent_by[i], f(&json["periods"]["insolvent_by"][i]));
        assert_eq!(cash.cash.x[i], f(&json["periods"]["start_year"][i]) + 0.125);
    }

    let revenue = data::revenue(&s);
    for i in 0..s.horizon.periods {
        assert!(
            (revenue.revenue.p50[i] - 4.0 * f(&json["periods"]["revenue"][i]["p50"])).abs() < 1e-9
        );
        // The share of paths the bands describe is drawn beside them.
        assert_eq!(revenue.operating[i], f(&json["periods"]["operating"][i]));
    }
    let mark = revenue.target.unwrap();
    assert_eq!(mark.probability, f(&json["target"]["probability"]));
    assert_eq!((mark.year, mark.revenue), (2029, 100.0));

    let target = data::target(&s).unwrap();
    assert_eq!(target.cdf.len(), 99);
    assert_eq!(
        target.cdf[49].0,
        f(&json["target"]["revenue_percentiles"][49])
    );
    // The bars cover every path: those with no revenue in the year at 0, the rest by revenue.
    let mass: f64 = target.bins.iter().map(|b| b.2).sum::<f64>() + target.zero;
    assert!((mass - 1.0).abs() < 1e-9, "{mass}");
    assert_eq!(target.bins.len(), 20);
    assert!(target.bins.iter().all(|b| b.2 >= 0.0 && b.1 > b.0));
    // Defaults before 2029 (period 20 starts it) are the paths at 0.
    let before = f(&json["insolvency"]["by_period"][19]);
    assert_eq!(target.zero, before);
    assert!(
        before > 0.01,
        "the baseline has defaults before 2029: {before}"
    );

    let rows = data::tranches(&s);
    assert_eq!(rows.len(), 1, "only the conditional tranche is shown");
    let b = &rows[0];
    assert_eq!(b.id, "amazon_b");
    let released: f64 = b.by_year.iter().map(|(_, p)| p).sum();
    assert!((released - b.probability).abs() < 1e-12);
    assert!((released + b.lapsed + b.pending - 1.0).abs() < 1e-12);

    let bars = data::investors(&s);
    let amazon = bars.iter().find(|b| b.id == "amazon").unwrap();
    let j = json["investors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "amazon")
        .unwrap();
    assert_eq!(amazon.received.1, f(&j["received"]["p50"]));
    assert_eq!(amazon.net_position.2, f(&j["net_position"]["p95"]));
    assert_eq!(amazon.round_trip, Some(f(&j["round_trip"]["p50"])));

    let net = data::flows(&s);
    let openai = net.nodes.iter().position(|n| n.id == "openai").unwrap();
    let to_amazon = net
        .arrows
        .iter()
        .find(|a| a.from == openai && net.nodes[a.to].id == "amazon")
        .unwrap();
    let expected: f64 = json["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|fl| fl["from"] == "openai" && fl["to"] == "amazon")
        .map(|fl| f(&fl["total"]["p50"]))
        .sum();
    assert!((to_amazon.median - expected).abs() < 1e-9);
    assert!(to_amazon.on_cycle);
    assert!(
        net.arrows.iter().any(|a| !a.on_cycle),
        "the revenue from customers is not on a cycle"
    );
}

#[test]
fn the_binary_needs_no_font_libraries() {
    let bin = assert_cmd::cargo::cargo_bin("cfsim");
    let Ok(out) = std::process::Command::new("ldd").arg(&bin).output() else {
        return; // no ldd on this system: nothing to check against
    };
    let libs = String::from_utf8_lossy(&out.stdout);
    assert!(
        !libs.contains("fontconfig") && !libs.contains("freetype"),
        "{libs}"
    );
}

#[test]
fn compare_investors_shows_means_as_its_table_and_marks_a_missing_investor() {
    let dir = Dir::new();
    let out = dir.path().join("out");
    cfsim()
        .arg("compare")
        .arg(scenario("baseline.toml"))
        .arg(scenario("no-round.toml"))
        .args(["-n", "5000", "-q", "--svg", "-o"])
        .arg(&out)
        .assert()
        .success();
    let svg = std::fs::read_to_string(out.join("compare_investors.svg")).unwrap();
    assert!(svg.contains("mean (bars, as in the table)"));
    // No-round has no Amazon, Nvidia or SoftBank money: n/a, not an empty slot read as 0.
    assert_eq!(svg.matches("\nn/a\n").count(), 3, "three investors missing");
}
