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
            let s: cfsim::report::Summary =
                serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap())
                    .unwrap();
            let chart_kind = charts::RunChart::ALL
                .into_iter()
                .find(|c| c.file() == chart)
                .unwrap();
            let expected = charts::run_chart_size(chart_kind, &s, charts::Style::Web);
            assert_eq!((w, h), expected, "{name} {chart}");
            // Tranches and investors are rows: their charts are as tall as the rows need.
            if chart != "tranches" && chart != "investors" {
                assert_eq!(
                    (w, h),
                    charts::image_size(charts::Style::Web),
                    "{name} {chart}"
                );
            }
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
    let label = format!("\n{}\n", cfsim::format::money(top, "$", "B"));
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
        style: cfsim::report::charts::Style::Web,
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
    assert!((released + b.expired + b.lapsed_at_default + b.pending - 1.0).abs() < 1e-12);
    assert_eq!(b.investor_name, "Amazon (AWS)");
    let t = &json["tranches"][4];
    assert_eq!(t["id"], "amazon_b");
    assert_eq!(b.expired, f(&t["expired_probability"]));
    assert_eq!(b.lapsed_at_default, f(&t["lapsed_at_default_probability"]));
    assert!((f(&t["lapsed_probability"]) - b.expired - b.lapsed_at_default).abs() < 1e-12);
    assert!(b.expired > 0.1 && b.lapsed_at_default > 0.001, "{b:?}");

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
    assert!(svg.contains("bars: means (as in the table)"));
    // No-round has no Amazon, Nvidia or SoftBank money: n/a, not an empty slot read as 0.
    assert_eq!(svg.matches("\nn/a\n").count(), 3, "three investors missing");
}

/// Every `font-size` in an SVG, with the SVG's width.
fn svg_font_sizes(svg: &str) -> (f64, Vec<f64>) {
    let attr = |s: &str, key: &str| -> Option<f64> {
        let at = s.find(key)? + key.len();
        let end = s[at..].find('"')?;
        s[at..at + end].parse().ok()
    };
    let width = attr(svg, "width=\"").unwrap();
    let sizes = svg
        .match_indices("font-size=\"")
        .filter_map(|(i, _)| attr(&svg[i..], "font-size=\""))
        .collect();
    (width, sizes)
}

#[test]
fn the_report_style_prints_every_text_at_seven_points_or_more_in_one_column() {
    let dir = Dir::new();
    let run = dir.path().join("run");
    let cmp = dir.path().join("cmp");
    cfsim()
        .arg("run")
        .arg(scenario("baseline.toml"))
        .args(["-n", "5000", "-q", "--svg", "--style", "report", "-o"])
        .arg(&run)
        .assert()
        .success();
    cfsim()
        .arg("compare")
        .args(
            [
                "baseline",
                "all-upfront",
                "consumption-linked",
                "debt",
                "no-round",
            ]
            .map(|n| scenario(&format!("{n}.toml"))),
        )
        .args(["-n", "5000", "-q", "--svg", "--style", "report", "-o"])
        .arg(&cmp)
        .assert()
        .success();
    let mut charts = 0;
    for dir in [&run, &cmp] {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "png") {
                let (w, _, _) = inspect_png(&path);
                assert_eq!(w, charts::image_size(charts::Style::Report).0, "{path:?}");
            }
            if path.extension().is_none_or(|e| e != "svg") {
                continue;
            }
            charts += 1;
            let (width, sizes) = svg_font_sizes(&std::fs::read_to_string(&path).unwrap());
            assert!(!sizes.is_empty(), "{path:?} has no text");
            // The network and the two-panel target chart are page-wide figures (6.5 inches);
            // every other chart is one column.
            let stem = path.file_stem().unwrap().to_string_lossy();
            let page_wide = charts::RunChart::ALL
                .into_iter()
                .any(|c| c.file() == stem && charts::is_page_wide(c));
            assert_eq!(page_wide, stem == "flows" || stem == "target", "{stem}");
            let inches = if page_wide { 6.5 } else { 3.25 };
            for size in sizes {
                // An SVG font-size is the em; printed `inches` wide, in points.
                let points = size / width * inches * 72.0;
                assert!(points >= 7.0, "{path:?}: text of {points:.2} pt");
            }
        }
    }
    assert_eq!(charts, 10, "six run charts and four comparison charts");
    // compare_metrics.png grows with its rows: texts stacked at one x (the n/a marks, the metric
    // names' lines) are a line apart, not drawn over each other.
    let svg = std::fs::read_to_string(cmp.join("compare_metrics.svg")).unwrap();
    let num = |tag: &str, key: &str| -> f64 {
        let at = tag.find(&format!(" {key}=\"")).unwrap() + key.len() + 3;
        tag[at..].split('"').next().unwrap().parse().unwrap()
    };
    let texts: Vec<(f64, f64, f64)> = svg
        .split("<text")
        .skip(1)
        .map(|t| (num(t, "x"), num(t, "y"), num(t, "font-size")))
        .collect();
    assert!(texts.iter().filter(|t| t.0 > 0.0).count() > 20);
    for (i, a) in texts.iter().enumerate() {
        for b in &texts[i + 1..] {
            if a.0 == b.0 {
                assert!(
                    (a.1 - b.1).abs() >= a.2.min(b.2),
                    "texts at x {} overlap: y {} and {}",
                    a.0,
                    a.1,
                    b.1
                );
            }
        }
    }
    // The web style keeps its smaller text: the check above would catch a style that is ignored.
    let web = dir.path().join("web");
    cfsim()
        .arg("run")
        .arg(scenario("closed-form.toml"))
        .args(["-n", "2000", "-q", "--svg", "-o"])
        .arg(&web)
        .assert()
        .success();
    let (width, sizes) = svg_font_sizes(&std::fs::read_to_string(web.join("cash.svg")).unwrap());
    let smallest = sizes.iter().copied().fold(f64::INFINITY, f64::min);
    assert!(smallest / width * 3.25 * 72.0 < 7.0);
}

#[test]
fn long_names_and_eight_investors_show_names_and_size_the_tranches_to_their_rows() {
    let dir = Dir::new();
    let out = dir.path().join("out");
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios/eight-investors.toml");
    cfsim()
        .arg("run")
        .arg(&file)
        .args(["-n", "5000", "-q", "--svg", "-o"])
        .arg(&out)
        .assert()
        .success();
    let investors = std::fs::read_to_string(out.join("investors.svg")).unwrap();
    // Names (shortened when they must be), never the raw ids.
    assert!(investors.contains("Hyperscale"), "names are shown");
    assert!(!investors.contains("hyperscale_cloud_provider_one"));
    let tranches = std::fs::read_to_string(out.join("tranches.svg")).unwrap();
    assert!(
        tranches.contains("lapsed: window ended") && tranches.contains("lapsed: company defaulted")
    );
    let (_, h8, _) = inspect_png(&out.join("tranches.png"));
    let (_dir, one) = run_with_charts("baseline.toml", &[]);
    let (_, h1, _) = inspect_png(&one.join("tranches.png"));
    assert!(h8 > h1 + 250, "six rows {h8} px, one row {h1} px");
    let flows = std::fs::read_to_string(out.join("flows.svg")).unwrap();
    assert!(flows.contains("the company") && flows.contains("investor only"));
    // Investors are rows, so their chart grows with them too (eight here, five in the baseline).
    let (_, i8, _) = inspect_png(&out.join("investors.png"));
    let (_, i5, _) = inspect_png(&one.join("investors.png"));
    assert!(i8 > i5 + 250, "eight investors {i8} px, five {i5} px");
}

#[test]
fn eight_long_names_read_in_a_report_column() {
    let dir = Dir::new();
    let out = dir.path().join("out");
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios/eight-investors.toml");
    cfsim()
        .arg("run")
        .arg(&file)
        .args(["-n", "2000", "-q", "--svg", "--style", "report", "-o"])
        .arg(&out)
        .assert()
        .success();
    let svg = std::fs::read_to_string(out.join("investors.svg")).unwrap();
    let s: cfsim::report::Summary =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    // On a one-column canvas each investor's name keeps at least its first 24 characters (it
    // was two or three letters when investors were columns), and every investor is drawn.
    for i in &s.investors {
        let start: String = i.name.chars().take(24).collect();
        assert!(
            svg.contains(&format!("\n{start}")),
            "{} is cut short",
            i.name
        );
    }
    assert!(!svg.contains("more investors"));
    // The network is page-wide in a report, and its legends sit below every node.
    let flows = std::fs::read_to_string(out.join("flows.svg")).unwrap();
    let attr = |tag: &str, name: &str| -> f64 {
        let at = tag.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
        tag[at..].split('"').next().unwrap().parse().unwrap()
    };
    let lowest = flows
        .split("<circle")
        .skip(1)
        .filter(|c| c.contains("r=\"58\""))
        .map(|c| attr(c, "cy") + attr(c, "r"))
        .fold(0.0, f64::max);
    let legend = flows.find("\nmoney on a cycle").unwrap();
    let text = &flows[flows[..legend].rfind("<text").unwrap()..legend];
    assert!(lowest < attr(text, "y"), "a node reaches into the legend");
}

#[test]
fn every_cycle_closes_on_the_flow_chart_and_compare_metrics_shows_paired_differences() {
    let (_dir, out) = run_with_charts("baseline.toml", &["--svg"]);
    let s: cfsim::report::Summary =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let net = data::flows(&s);
    // Microsoft's cycle returns through the stake it bought before 2024: a dashed leg.
    let microsoft = net.nodes.iter().position(|n| n.id == "microsoft").unwrap();
    let stake = net.arrows.iter().find(|a| a.from == microsoft).unwrap();
    assert!(stake.stake && stake.on_cycle && net.nodes[stake.to].company);
    assert!(
        std::fs::read_to_string(out.join("flows.svg"))
            .unwrap()
            .contains("opening stake")
    );
    // Every step of every listed cycle has an arrow.
    for c in &s.cycles {
        for (k, step) in c.flows.iter().enumerate() {
            let from = &c.entities[k];
            let to = &c.entities[(k + 1) % c.entities.len()];
            assert!(
                net.arrows.iter().any(|a| &net.nodes[a.from].id == from
                    && &net.nodes[a.to].id == to
                    && a.on_cycle),
                "{step:?} of {:?}",
                c.entities
            );
        }
    }

    let dir = Dir::new();
    let cmp = dir.path().join("cmp");
    cfsim()
        .arg("compare")
        .arg(scenario("baseline.toml"))
        .arg(scenario("consumption-linked.toml"))
        .arg(scenario("no-round.toml"))
        .args(["-n", "5000", "-q", "--svg", "-o"])
        .arg(&cmp)
        .assert()
        .success();
    let svg = std::fs::read_to_string(cmp.join("compare_metrics.svg")).unwrap();
    assert!(svg.contains("minus the reference") && svg.contains("pt\n"));
    // No-round has no Amazon tranche: n/a in both panels.
    assert_eq!(svg.matches("\nn/a\n").count(), 2, "{svg}");
    // The legend shows each line as it is drawn: the third scenario's line is dashed, so its
    // legend mark is three dashes, the second's one solid stroke.
    let cash = std::fs::read_to_string(cmp.join("compare_cash.svg")).unwrap();
    let mark_before = |label: &str| {
        let at = cash.find(&format!("\n{label}\n")).unwrap();
        let before = &cash[..at];
        let text = before.rfind("<text").unwrap();
        let previous_text = before[..text].rfind("</text>").unwrap_or(0);
        before[previous_text..text].matches("<polyline").count()
    };
    assert_eq!(mark_before("no-round"), 3, "dashed");
    assert_eq!(mark_before("consumption-linked"), 1, "solid");
}

#[test]
fn tranches_beyond_the_tallest_canvas_are_counted_not_lost() {
    let dir = Dir::new();
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios/eight-investors.toml");
    let mut text = std::fs::read_to_string(base).unwrap();
    // The file's last flow is an equity flow: these tranches join it.
    for k in 0..60 {
        text.push_str(&format!(
            "\n[[flow.tranche]]\nid = \"extra_{k}\"\namount = 1\nwhen = \"reached(breakthrough)\"\nwindow = {{ from = \"2026-Q2\", until = \"2027-Q4\" }}\npost_money = 600\n"
        ));
    }
    let file = dir.path().join("many.toml");
    std::fs::write(&file, text).unwrap();
    let out = dir.path().join("out");
    cfsim()
        .arg("run")
        .arg(&file)
        .args(["-n", "2000", "-q", "--svg", "-o"])
        .arg(&out)
        .assert()
        .success();
    let (w, h, _) = inspect_png(&out.join("tranches.png"));
    assert_eq!(h, 2 * w, "the tallest canvas");
    let svg = std::fs::read_to_string(out.join("tranches.svg")).unwrap();
    // Each drawn row says "released P% [...]"; the legend's "released in YYYY" does not count.
    let drawn = svg
        .match_indices("released ")
        .filter(|(i, _)| svg[i + 9..].starts_with(|c: char| c.is_ascii_digit()))
        .count();
    let at = svg.find(" more tranches: see summary.json").unwrap();
    let more: usize = svg[..at]
        .rsplit("and ")
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(drawn >= 20 && more > 0, "{drawn} drawn, {more} counted");
    assert_eq!(
        drawn + more,
        66,
        "6 conditional tranches and 60 more: each drawn or counted"
    );
    assert_eq!(
        drawn + more,
        66,
        "6 conditional tranches and 60 more, each drawn or counted"
    );
}
