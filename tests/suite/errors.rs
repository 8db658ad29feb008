//! Every kind of bad input gets `FILE:LINE:COL: message`, exit code 2, and no panic.

use crate::common::*;

#[test]
fn the_base_scenario_is_valid() {
    let dir = Dir::new();
    let p = dir.file("s.toml", BASE);
    cfsim().arg("validate").arg(&p).assert().success();
}

#[test]
fn toml_syntax_error() {
    let text = base_with("initial = 4", "initial = = 4");
    rejects(&text, "initial = = 4", "= 4", &["TOML syntax error"]);
}

#[test]
fn unknown_field_suggests_the_right_one() {
    let text = base_with("amount = 10", "amout = 10");
    rejects(
        &text,
        "amout = 10",
        "amout",
        &["unknown field `amout`", "did you mean `amount`"],
    );
}

#[test]
fn missing_required_field() {
    let text = base_with("duration_years = 7\n", "");
    // The place is the flow's table header.
    let header = line_of(&text, "id = \"cloud\"", 0) - 1;
    rejects_at(
        &text,
        header,
        1,
        &[
            "missing required field `duration_years` in flow `cloud`",
            "expected a number > 0",
        ],
    );
}

#[test]
fn wrong_type() {
    let text = base_with("duration_years = 7", "duration_years = true");
    rejects(
        &text,
        "duration_years = true",
        "true",
        &["duration_years", "expected a number", "found a boolean"],
    );
}

#[test]
fn unknown_entity_reference() {
    let text = base_with("from = \"inv\"", "from = \"invv\"");
    rejects(
        &text,
        "from = \"invv\"",
        "\"invv\"",
        &["unknown entity `invv`", "did you mean `inv`"],
    );
}

#[test]
fn unknown_param_reference() {
    let text = base_with("growth = \"growth\"", "growth = \"growht\"");
    rejects(
        &text,
        "growth = \"growht\"",
        "\"growht\"",
        &["unknown param `growht`", "did you mean `growth`"],
    );
}

#[test]
fn unknown_milestone_reference_points_inside_the_condition() {
    let text = base_with("reached(agi)", "reached(ag1)");
    rejects(
        &text,
        "reached(ag1)",
        "ag1",
        &["unknown milestone `ag1`", "did you mean `agi`"],
    );
}

#[test]
fn unknown_flow_reference() {
    let text = base_with("revenue >= 30", "spend(clod) >= 30");
    rejects(
        &text,
        "spend(clod)",
        "clod",
        &["unknown flow `clod`", "did you mean `cloud`"],
    );
}

#[test]
fn duplicate_id() {
    let text = base_with("id = \"opex\"", "id = \"cloud\"");
    let dir = Dir::new();
    let p = dir.file("s.toml", &text);
    let out = cfsim().arg("validate").arg(&p).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    let line = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains("id = \"cloud\""))
        .nth(1)
        .unwrap()
        .0
        + 1;
    assert!(
        err.contains(&format!("s.toml:{line}:6: duplicate id `cloud`")),
        "{err}"
    );
    assert!(err.contains("first defined here"), "{err}");
}

#[test]
fn negative_amount() {
    let text = base_with("amount = 10", "amount = -10");
    rejects(
        &text,
        "amount = -10",
        "-10",
        &["amount", "expected a number >= 0", "-10"],
    );
}

#[test]
fn nan_and_infinite_amounts() {
    let text = base_with("amount = 10", "amount = nan");
    rejects(&text, "amount = nan", "nan", &["expected a finite number"]);
    let text = base_with("value = 20", "value = inf");
    rejects(&text, "value = inf", "inf", &["expected a finite number"]);
}

#[test]
fn malformed_date() {
    let text = base_with("date = \"2026-Q1\"", "date = \"2026-Q5\"");
    rejects(
        &text,
        "2026-Q5",
        "\"2026-Q5\"",
        &["malformed date `2026-Q5`", "Q1 to Q4"],
    );
    let text = base_with("date = \"2026-Q1\"", "date = \"soon\"");
    rejects(
        &text,
        "\"soon\"",
        "\"soon\"",
        &["malformed date", "2026-Q1"],
    );
}

#[test]
fn date_outside_the_horizon() {
    let text = base_with("date = \"2026-Q1\"", "date = \"2031-Q1\"");
    rejects(&text, "2031-Q1", "\"2031-Q1\"", &["outside the horizon"]);
}

#[test]
fn horizon_end_before_start() {
    let text = base_with("end = \"2030-Q4\"", "end = \"2023-Q4\"");
    rejects(
        &text,
        "end = \"2023-Q4\"",
        "\"2023-Q4\"",
        &["ends", "before it starts"],
    );
}

#[test]
fn revenue_share_until_before_start() {
    let text = base_with(
        "[[milestone]]",
        "[[flow]]\nid = \"share\"\nkind = \"revenue_share\"\nfrom = \"lab\"\nto = \"inv\"\nrate = 0.2\nstart = \"2027\"\nuntil = \"2026\"\n\n[[milestone]]",
    );
    rejects(
        &text,
        "until = \"2026\"",
        "until",
        &["ends", "before it starts"],
    );
}

#[test]
fn negative_standard_deviation() {
    let text = base_with(
        "growth = \"0.2 to 0.8\"",
        "growth = { dist = \"normal\", mean = 0.5, sd = -0.1 }",
    );
    rejects(
        &text,
        "sd = -0.1",
        "{",
        &["invalid normal distribution", "`sd` must be >= 0"],
    );
}

#[test]
fn uniform_low_not_below_high() {
    let text = base_with("low = 10, high = 30", "low = 30, high = 10");
    rejects(&text, "low = 30", "{", &["uniform needs low < high"]);
}

#[test]
fn interval_with_low_not_below_high() {
    let text = base_with("growth = \"0.2 to 0.8\"", "growth = \"0.8 to 0.2\"");
    rejects(&text, "0.8 to 0.2", "\"0.8 to 0.2\"", &["needs A < B"]);
}

#[test]
fn lognormal_interval_with_non_positive_end() {
    let text = base_with(
        "growth = \"0.2 to 0.8\"",
        "growth = { dist = \"lognormal\", low = -1, high = 3 }",
    );
    rejects(
        &text,
        "dist = \"lognormal\"",
        "{",
        &["lognormal interval needs both ends > 0"],
    );
}

#[test]
fn non_positive_beta_shapes() {
    let text = base_with(
        "growth = \"0.2 to 0.8\"",
        "growth = { dist = \"beta\", alpha = 0, beta = 2 }",
    );
    rejects(&text, "dist = \"beta\"", "{", &["beta shapes must be > 0"]);
}

#[test]
fn probability_outside_unit_interval() {
    let text = base_with(
        "growth = \"0.2 to 0.8\"",
        "growth = 0.5\nflip = { dist = \"bernoulli\", p = 1.5 }",
    );
    rejects(
        &text,
        "bernoulli",
        "{",
        &["probability must be between 0 and 1"],
    );
    let text = base_with("margin = 0.3", "margin = 1.3");
    rejects(
        &text,
        "margin = 1.3",
        "1.3",
        &["expected a number between 0 and 1"],
    );
}

fn with_correlation(matrix: &str) -> String {
    base_with(
        "[valuation]",
        &format!(
            "[correlation]\nparams = [\"growth\", \"multiple\"]\nmatrix = {matrix}\n\n[valuation]"
        ),
    )
}

#[test]
fn correlation_matrix_valid() {
    let dir = Dir::new();
    let p = dir.file("s.toml", &with_correlation("[[1, 0.5], [0.5, 1]]"));
    cfsim().arg("validate").arg(&p).assert().success();
}

#[test]
fn correlation_not_symmetric() {
    let text = with_correlation("[[1, 0.5], [0.4, 1]]");
    rejects(&text, "matrix =", "0.5", &["not symmetric"]);
}

#[test]
fn correlation_entry_outside_range() {
    let text = with_correlation("[[1, 1.5], [1.5, 1]]");
    rejects(&text, "matrix =", "1.5", &["between -1 and 1"]);
}

#[test]
fn correlation_not_positive_semi_definite() {
    let text = base_with(
        "[valuation]",
        "[params.third]\ndist = \"uniform\"\nlow = 0\nhigh = 1\n\n[correlation]\nparams = [\"growth\", \"multiple\", \"third\"]\nmatrix = [[1, 0.9, -0.9], [0.9, 1, 0.9], [-0.9, 0.9, 1]]\n\n[valuation]",
    );
    rejects(&text, "matrix =", "[[", &["not positive semi-definite"]);
}

#[test]
fn condition_syntax_error_points_inside_the_expression() {
    let text = base_with("revenue >= 30", "revenue >> 30");
    rejects(
        &text,
        "revenue >> 30",
        "> 30",
        &["expected a number or a param name"],
    );
    let text = base_with(
        "reached(agi) or revenue >= 30",
        "reached(agi) or (revenue >= 30",
    );
    // The `)` is missing at the end of the expression, just before the closing quote.
    let line = line_of(&text, "(revenue >= 30", 0);
    rejects_at(
        &text,
        line,
        "when = \"reached(agi) or (revenue >= 30".len() + 1,
        &["expected `)`"],
    );
}

#[test]
fn tranche_window_ending_before_it_starts() {
    let text = base_with("until = \"2028-Q4\"", "until = \"2026-Q1\"");
    rejects(
        &text,
        "until = \"2026-Q1\"",
        "until",
        &["tranche window ends", "before it starts"],
    );
}

#[test]
fn cycle_of_extends() {
    let dir = Dir::new();
    dir.file("a.toml", "extends = \"b.toml\"\n");
    dir.file("b.toml", "extends = \"a.toml\"\n");
    let out = cfsim()
        .arg("validate")
        .arg(dir.path().join("a.toml"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("b.toml:1:11: cycle of extends: a.toml -> b.toml -> a.toml"),
        "{err}"
    );
}

#[test]
fn extends_merges_by_id_and_removes() {
    let dir = Dir::new();
    dir.file("base.toml", BASE);
    let child = dir.file(
        "child.toml",
        "extends = \"base.toml\"\nremove = [\"opex\"]\n[params]\ngrowth = 0.5\n[[flow]]\nid = \"cloud\"\nvalue = 30\n",
    );
    let out = cfsim()
        .args(["graph", "--format", "text"])
        .arg(&child)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.starts_with("child: 3 entities, 3 flows"), "{text}");
    assert!(!text.contains("opex"), "{text}");
    let bad = dir.file("bad.toml", "extends = \"base.toml\"\nremove = [\"opx\"]\n");
    let out = cfsim().arg("validate").arg(&bad).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml:2:11: remove: no entity, flow or milestone `opx`"),
        "{err}"
    );
    assert!(err.contains("did you mean `opex`"), "{err}");
}

#[test]
fn set_of_an_unknown_param() {
    let dir = Dir::new();
    let p = dir.file("s.toml", BASE);
    let out = cfsim()
        .arg("validate")
        .arg(&p)
        .args(["--set", "grwth=0.3"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        err.starts_with("--set:1:1: unknown param `grwth`; did you mean `growth`?"),
        "{err}"
    );
}

#[test]
fn set_with_a_bad_value() {
    let dir = Dir::new();
    let p = dir.file("s.toml", BASE);
    let out = cfsim()
        .arg("validate")
        .arg(&p)
        .args(["--set", "growth=5 to 1"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        err.starts_with("--set:1:8: param `growth`: an interval `A to B` needs A < B"),
        "{err}"
    );
    assert_eq!(
        err.lines()
            .filter(|l| l.contains(": ") && !l.contains(" | "))
            .count(),
        1,
        "no cascade: {err}"
    );
    let out = cfsim()
        .arg("validate")
        .arg(&p)
        .args(["--set", "multiple=-3"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        err.contains("multiple: expected a number >= 0, got -3"),
        "{err}"
    );
    assert!(
        err.contains("--set:1:10: note: param `multiple` is defined here"),
        "{err}"
    );
    let out = cfsim()
        .arg("validate")
        .arg(&p)
        .args(["--set", "novalue"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("name=value"));
}

#[test]
fn set_overrides_a_param() {
    let dir = Dir::new();
    let p = dir.file("s.toml", BASE);
    let out = cfsim()
        .args(["graph", "--format", "text"])
        .arg(&p)
        .args(["--set", "growth=0"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    // No growth: 28 quarters of $4B a year is $28B.
    assert!(
        text.contains("customers -> lab") && text.contains("$28.0B"),
        "{text}"
    );
}

#[test]
fn empty_file() {
    let dir = Dir::new();
    let p = dir.file("empty.toml", "");
    let out = cfsim().arg("validate").arg(&p).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(err.contains("empty.toml: empty scenario file"), "{err}");
    let p = dir.file("comments.toml", "# only a comment\n");
    let out = cfsim().arg("validate").arg(&p).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("comments.toml:1:1: empty scenario"));
}

#[test]
fn file_that_is_not_utf8() {
    let dir = Dir::new();
    let p = dir.path().join("latin1.toml");
    std::fs::write(&p, b"name = \"caf\xe9\"\n").unwrap();
    let out = cfsim().arg("validate").arg(&p).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        err.contains("latin1.toml:1:12: the file is not valid UTF-8 (byte 0xe9)"),
        "{err}"
    );
}

#[test]
fn missing_file_and_directory() {
    let dir = Dir::new();
    let out = cfsim()
        .arg("validate")
        .arg(dir.path().join("nope.toml"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(err.contains("nope.toml: no such file"), "{err}");
    let out = cfsim().arg("validate").arg(dir.path()).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(err.contains("is a directory"), "{err}");
}

#[test]
fn deeply_nested_input_neither_overflows_nor_hangs() {
    let dir = Dir::new();
    let deep_array = format!("x = {}1{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let deep_table = format!("x = {}1{}\n", "{a = ".repeat(50_000), "}".repeat(50_000));
    let deep_condition = base_with(
        "reached(agi) or revenue >= 30",
        &format!("{}true{}", "(".repeat(50_000), ")".repeat(50_000)),
    );
    for (name, text) in [
        ("a.toml", deep_array),
        ("t.toml", deep_table),
        ("c.toml", deep_condition),
    ] {
        let p = dir.file(name, &text);
        let out = cfsim()
            .arg("validate")
            .arg(&p)
            .timeout(std::time::Duration::from_secs(20))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(
            !err.contains("panicked") && !err.contains("overflow"),
            "{name}: {err}"
        );
    }
}

#[test]
fn very_large_file_is_read_quickly() {
    let mut text = BASE.to_string();
    for i in 0..20_000 {
        text.push_str(&format!(
            "\n[[entity]]\nid = \"e{i}\"\nroles = [\"other\"]\n"
        ));
    }
    let dir = Dir::new();
    let p = dir.file("big.toml", &text);
    cfsim()
        .arg("validate")
        .arg(&p)
        .timeout(std::time::Duration::from_secs(30))
        .assert()
        .success();
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    cfsim().arg("frobnicate").assert().code(2);
    cfsim().args(["run"]).assert().code(2);
    cfsim()
        .args(["run", "x.toml", "--paths", "0"])
        .assert()
        .code(2);
    cfsim().arg("--help").assert().success();
    cfsim().args(["run", "--help"]).assert().success();
}

#[test]
fn bad_input_leaves_no_output_files() {
    let dir = Dir::new();
    let p = dir.file("s.toml", &base_with("amount = 10", "amount = -1"));
    let out = dir.path().join("out");
    cfsim()
        .arg("run")
        .arg(&p)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2);
    assert!(!out.exists());
}

#[test]
fn an_invalid_entity_does_not_make_its_references_errors_too() {
    let text = base_with(
        "roles = [\"investor\", \"cloud\"]",
        "roles = [\"investr\", \"cloud\"]",
    );
    let dir = Dir::new();
    let p = dir.file("s.toml", &text);
    let out = cfsim().arg("validate").arg(&p).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        err.contains("unknown role `investr`; did you mean `investor`?"),
        "{err}"
    );
    assert!(!err.contains("unknown entity `inv`"), "cascade: {err}");
}

#[test]
fn a_bad_capacity_price_is_the_only_error_of_its_contract() {
    // Regression: a rejected `price_per_gw_year` used to leave the contract's other fields unread,
    // so they were reported as unknown fields too.
    let text = base_with("value = 20", "capacity_gw = 2\nprice_per_gw_year = -3");
    rejects(
        &text,
        "price_per_gw_year = -3",
        "-3",
        &["expected a number >= 0"],
    );
    let dir = Dir::new();
    let p = dir.file("s.toml", &text);
    let out = cfsim().arg("validate").arg(&p).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("unknown field"), "cascade: {err}");
}

#[test]
fn milestones_waiting_for_each_other_are_a_loop() {
    let text = BASE.to_string()
        + r#"
[[milestone]]
id = "ipo"
hazard = 0.2
when = "reached(listing)"

[[milestone]]
id = "listing"
hazard = 0.2
when = "reached(ipo) and revenue >= 5"
"#;
    let line = text
        .lines()
        .position(|l| l.contains("id = \"ipo\""))
        .unwrap();
    // The error points at the first milestone of the loop (its [[milestone]] header).
    rejects_at(
        &text,
        line,
        1,
        &["milestone conditions form a loop: ipo -> listing -> ipo"],
    );
}

#[test]
fn pass_throughs_passing_each_other_on_are_a_loop() {
    let text = BASE.to_string()
        + r#"
[[flow]]
id = "back"
kind = "pass_through"
from = "lab"
to = "inv"
of = "forth"
share = 0.5
margin = 0.1

[[flow]]
id = "forth"
kind = "pass_through"
from = "inv"
to = "lab"
of = "back"
share = 0.5
margin = 0.1
"#;
    let line = text
        .lines()
        .position(|l| l.contains("id = \"back\""))
        .unwrap();
    rejects_at(
        &text,
        line,
        1,
        &["pass-throughs form a loop: back -> forth -> back"],
    );
}

/// The base scenario with a valid loan from `inv`, with `from` replaced by `to` in the loan.
fn with_loan(from: &str, to: &str) -> String {
    let loan = r#"
[[flow]]
id = "debt"
kind = "loan"
from = "inv"
to = "lab"
principal = 5
draw = "2026-01"
rate = 0.08
maturity = "2028-12"
"#;
    assert!(loan.contains(from), "the loan has no `{from}`");
    format!("{BASE}{}", loan.replacen(from, to, 1))
}

#[test]
fn loans_are_checked_field_by_field() {
    let dir = Dir::new();
    let valid = dir.file("s.toml", &with_loan("rate", "rate"));
    cfsim().arg("validate").arg(&valid).assert().success();
    // (what to replace, its replacement, where the error points in it, what it says)
    let cases: [(&str, &str, &str, &str); 9] = [
        (
            "to = \"lab\"\nprincipal",
            "to = \"customers\"\nprincipal",
            "to",
            "a loan is lent to the company `lab`, not to `customers`",
        ),
        (
            "maturity = \"2028-12\"",
            "maturity = \"2025-06\"",
            "maturity",
            "the loan matures (2025-06) before its last possible draw (2026-01)",
        ),
        (
            "rate = 0.08",
            "rate = 0.08\nrepayment = \"balloon\"",
            "\"balloon\"",
            "unknown repayment `balloon`; expected \"bullet\" or \"amortising\"",
        ),
        (
            "rate = 0.08",
            "rate = 0.08\namortise_from = \"2027-01\"",
            "\"2027-01\"",
            "only an amortising loan",
        ),
        (
            "rate = 0.08",
            "rate = 0.08\nrepayment = \"amortising\"\namortise_from = \"2029-01\"",
            "\"2029-01\"",
            "instalments start in 2029-01, expected a month from the first draw (2026-01) to maturity (2028-12)",
        ),
        (
            "rate = 0.08",
            "rate = 0.08\nseniority = \"junior\"",
            "\"junior\"",
            "unknown rank `junior`; expected \"senior\" or \"subordinated\"",
        ),
        (
            "draw = \"2026-01\"",
            "draw = { from = \"2030-06\", months = 12 }",
            "12",
            "the draws run past the horizon's last month (2030-12); expected at most 7 months",
        ),
        (
            "rate = 0.08",
            "rate = 2",
            "2",
            "rate: expected a number between 0 and 1, got 2",
        ),
        (
            "draw = \"2026-01\"",
            "draw = { when = \"cash < 1\" }",
            "{",
            "missing required field `window` in draw",
        ),
    ];
    for (from, to, at, says) in cases {
        let line = to.lines().find(|l| l.contains(at)).unwrap();
        rejects(&with_loan(from, to), line, at, &[says]);
    }
}

#[test]
fn numbers_beyond_what_the_model_represents_are_refused_where_they_are_written() {
    let huge = "{ dist = \"lognormal\", median = 1, sigma = 10 }";
    let cases: [(&str, String, &str, &str); 5] = [
        (
            "value = 20",
            "value = 1e300".into(),
            "1e300",
            "value: expected a number from -1e9 to 1e9",
        ),
        (
            "initial = 4",
            format!("initial = {huge}"),
            "{",
            "can draw values from",
        ),
        (
            "duration_years = 7",
            "duration_years = 1000".into(),
            "duration_years",
            "expected at most 100",
        ),
        (
            "initial = 4",
            "initial = 4\nvolatility = 50".into(),
            "volatility",
            "shocks that overflow over the horizon",
        ),
        (
            "id = \"a\"",
            format!("id = \"{}\"", "a".repeat(101)),
            "\"a",
            "expected an id of at most 100 characters, found 101",
        ),
    ];
    for (from, to, at, says) in cases {
        let line = to.lines().find(|l| l.contains(at)).unwrap();
        rejects(&base_with(from, &to), line, at, &[says]);
    }
    // Growth that compounds past 1e100 over a century is refused; over seven years it is not.
    let century = base_with("end = \"2030-Q4\"", "end = \"2123-Q4\"")
        .replace("growth = \"growth\"", "growth = 12");
    rejects(
        &century,
        "growth = 12",
        "growth",
        &["growth that compounds past 1e100 over the horizon"],
    );
    let long_name = format!("name = \"{}\"", "n".repeat(201));
    // The excerpt of a long line is shortened, so the place is checked by line and column.
    rejects_at(
        &base_with("name = \"tiny\"", &long_name),
        1,
        8,
        &["expected a name of at most 200 characters, found 201"],
    );
    let target = format!("{BASE}\n[target]\nyear = 2029\nrevenue = 1e300\n");
    rejects(
        &target,
        "revenue = 1e300",
        "1e300",
        &["at most 1e9, got 1e300"],
    );
}

#[test]
fn numbers_at_the_limits_run_and_no_output_holds_nan_or_infinity() {
    let text = base_with("value = 20", "value = 1e9")
        .replace("cash = 10", "cash = 1e9")
        .replace("amount = 10", "amount = 1e9")
        .replace("initial = 4", "initial = 1e9\nvolatility = 7")
        .replace("growth = \"0.2 to 0.8\"", "growth = 1e9")
        + "\n[target]\nyear = 2029\nrevenue = 1e9\n";
    let dir = Dir::new();
    let path = dir.file("limits.toml", &text);
    let out = dir.path().join("out");
    let run = cfsim()
        .arg("run")
        .arg(&path)
        .args(["--paths", "2000", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    for file in ["summary.json", "periods.csv"] {
        let text = std::fs::read_to_string(out.join(file))
            .unwrap()
            .to_lowercase();
        assert!(!text.contains("nan") && !text.contains("inf"), "{file}");
    }
}

/// Runs `cfsim validate` and returns (exit code, stderr, the error lines: those that name a place).
fn validate(text: &str) -> (Option<i32>, String, Vec<String>) {
    let dir = Dir::new();
    let path = dir.file("s.toml", text);
    let out = cfsim().arg("validate").arg(&path).output().expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let prefix = format!("{}:", path.display());
    let errors = stderr
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .map(String::from)
        .collect();
    (out.status.code(), stderr, errors)
}

#[test]
fn a_horizon_mistake_is_one_error_not_ten() {
    let (code, stderr, errors) = validate(&base_with("step = \"quarter\"", "step = \"fortnight\""));
    assert_eq!(code, Some(2));
    assert_eq!(errors.len(), 1, "one error for one mistake:\n{stderr}");
    assert!(errors[0].contains("unknown step `fortnight`"), "{stderr}");
    // A truly unknown key beside it is still reported.
    let text = base_with("step = \"quarter\"", "step = \"fortnight\"").replacen(
        "[params]",
        "bogus = 1\n[params]",
        1,
    );
    let (_, stderr, errors) = validate(&text);
    assert_eq!(errors.len(), 2, "{stderr}");
    assert!(stderr.contains("unknown field `bogus`"), "{stderr}");
}

#[test]
fn an_invalid_param_of_the_company_is_not_also_an_unknown_company() {
    let text = base_with("cash = 10", "cash = \"bad_cash\"").replacen(
        "[params]",
        "[params]\nbad_cash = { dist = \"uniform\", low = 12, high = 4 }",
        1,
    );
    let text = format!("company = \"lab\"\n{text}");
    let (code, stderr, errors) = validate(&text);
    assert_eq!(code, Some(2));
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains("uniform needs low < high"), "{stderr}");
    assert!(!stderr.contains("unknown entity"), "{stderr}");
}

#[test]
fn a_param_may_refer_to_one_written_after_it_and_loops_are_one_error() {
    let text = base_with(
        "growth = \"0.2 to 0.8\"",
        "growth = \"later_growth\"\nlater_growth = \"0.2 to 0.8\"",
    );
    let (code, stderr, _) = validate(&text);
    assert_eq!(code, Some(0), "{stderr}");
    let looped = base_with(
        "growth = \"0.2 to 0.8\"",
        "growth = \"g2\"\ng2 = \"growth\"",
    );
    rejects(
        &looped,
        "growth = \"g2\"",
        "\"g2\"",
        &["params refer to each other in a loop: growth -> g2 -> growth"],
    );
    let (_, stderr, errors) = validate(&looped);
    assert_eq!(errors.len(), 1, "{stderr}");
}

#[test]
fn a_count_beyond_its_range_says_the_range() {
    let text = format!("{BASE}\n[rescue]\nprobability = 0.5\namount = 10\nmax = 4294967296\n");
    rejects(
        &text,
        "max = 4294967296",
        "4294967296",
        &["expected a whole number from 0 to 1000, found 4294967296"],
    );
}

#[test]
fn the_caret_sits_under_the_mistake_after_wide_characters() {
    let text = base_with(
        "multiple = { dist = \"uniform\", low = 10, high = 30 }",
        "multiple = { source = \"日本語\", dist = \"uniform\", low = 10, high = 30, bad = 1 }",
    );
    let (_, stderr, _) = validate(&text);
    let lines: Vec<&str> = stderr.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("bad = 1"))
        .expect("the line is shown");
    let caret = lines[at + 1];
    // Three wide characters take six columns: the caret must count columns, not characters.
    let shown = lines[at];
    let bar = shown.find("| ").unwrap() + 2;
    let before = &shown[bar..shown.find("bad").unwrap()];
    let columns = before.chars().count() + 3;
    assert_eq!(caret[bar..].find('^'), Some(columns), "{stderr}");
    // The column in the location counts characters.
    let line = line_of(&text, "bad = 1", 0);
    let col = text
        .lines()
        .nth(line - 1)
        .unwrap()
        .find("bad")
        .map(|b| text.lines().nth(line - 1).unwrap()[..b].chars().count() + 1);
    assert!(
        stderr.contains(&format!(":{line}:{}: ", col.unwrap())),
        "{stderr}"
    );
}

#[test]
fn extends_of_a_device_or_a_fifo_is_refused_without_blocking() {
    let (code, stderr, _) = validate(&format!("extends = \"/dev/zero\"\n{BASE}"));
    assert_eq!(code, Some(2));
    assert!(stderr.contains("is not a regular file"), "{stderr}");
    assert!(!stderr.contains("no such file"), "{stderr}");
    #[cfg(unix)]
    {
        let dir = Dir::new();
        let fifo = dir.path().join("fifo.toml");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            let out = cfsim()
                .arg("validate")
                .arg(&fifo)
                .timeout(std::time::Duration::from_secs(20))
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(2));
            assert!(String::from_utf8_lossy(&out.stderr).contains("is not a regular file"));
        }
    }
}

#[test]
fn an_input_file_past_the_size_cap_is_refused_before_it_is_read() {
    let dir = Dir::new();
    let big = dir.file("big.toml", &"#".repeat(1_048_577));
    let out = cfsim().arg("validate").arg(&big).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("at most 1048576 bytes"), "{stderr}");
}

#[test]
fn a_bad_variant_is_reported_as_the_variant() {
    let dir = Dir::new();
    let p = dir.file("s.toml", BASE);
    let out = cfsim()
        .args(["compare"])
        .arg(&p)
        .args([
            "--variant",
            "cheap:growht=0.1",
            "--paths",
            "10",
            "--quiet",
            "--no-charts",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("--variant cheap:1:1: unknown param `growht`; did you mean `growth`?"),
        "{stderr}"
    );
    // A label that would not fit a table or holds a control character is refused by the parser.
    for label in ["x".repeat(70_000), "a\u{1b}[31mred".to_string()] {
        let out = cfsim()
            .args(["compare"])
            .arg(&p)
            .args(["--variant", &format!("{label}:growth=0.1"), "--paths", "10"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert!(!String::from_utf8_lossy(&out.stderr).contains("internal error"));
    }
}

#[test]
fn threads_are_bounded() {
    let dir = Dir::new();
    let p = dir.file("s.toml", BASE);
    let out = cfsim()
        .arg("run")
        .arg(&p)
        .args(["--threads", "100000", "--quiet", "--no-charts"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("0..=1024"));
}

#[test]
fn escape_sequences_in_a_file_never_reach_the_terminal() {
    // A name cannot hold one; an unknown value is echoed with the escape replaced.
    let text = base_with("name = \"tiny\"", "name = \"tiny\\u001b[2J\"");
    let (code, stderr, _) = validate(&text);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("control character U+001B"), "{stderr}");
    let text = base_with("step = \"quarter\"", "step = \"q\\u001b]0;pwned\\u0007\"");
    let (code, stderr, _) = validate(&text);
    assert_eq!(code, Some(2));
    assert!(
        !stderr.contains('\u{1b}') && !stderr.contains('\u{7}'),
        "{stderr:?}"
    );
    // Free text (a description) is shown by `graph`: replaced there too.
    let text = format!("description = \"d\\u001b[31m\"\n{BASE}");
    let dir = Dir::new();
    let p = dir.file("s.toml", &text);
    let out = cfsim().arg("graph").arg(&p).output().unwrap();
    assert!(out.status.success());
    assert!(!out.stdout.contains(&0x1b));
}

#[test]
fn a_number_below_the_models_resolution_is_refused() {
    // Found by the fuzzing harness: an investment of 2.2e-308 made the round trip infinite and
    // summary.json held null where a number belongs.
    let text = base_with("amount = 10", "amount = 2.2250738585072014e-308");
    rejects(
        &text,
        "amount = 2.2250738585072014e-308",
        "2.2250738585072014e-308",
        &["expected 0 or a number of magnitude at least 1e-9"],
    );
    let text = base_with("post_money = 100", "post_money = 1e-300");
    rejects(
        &text,
        "post_money = 1e-300",
        "1e-300",
        &["magnitude at least 1e-9"],
    );
}

#[test]
fn a_flow_to_the_world_after_an_invalid_entity_is_an_error_not_a_panic() {
    // Found by the fuzzer: with an entity unread, a reference to `world` indexed past the
    // entities that were read.
    let text =
        base_with("id = \"inv\"", "id = 1.5").replacen("fixed = 5", "to = \"world\"\nfixed = 5", 1);
    rejects(&text, "id = 1.5", "1.5", &["id"]);
}
