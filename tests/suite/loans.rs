//! Loans against closed forms on deterministic paths: interest, amortisation, draws, the
//! lender's round trip and net position, seniority in default, and independence of the step.

use cfsim::engine::{Model, NoTrace, PathOutput, PathState};
use cfsim::scenario::Scenario;

use crate::common::*;

/// A company with a constant revenue of 2 a year, valued at 10x, and the given loans and extra
/// flows; nothing random.
fn scenario(step: &str, cash: f64, flows: &str) -> String {
    format!(
        r#"[horizon]
start = "2025-01"
end = "2029-12"
step = "{step}"

[[entity]]
id = "lab"
roles = ["lab"]
cash = {cash}

[[entity]]
id = "bank"
roles = ["investor"]

[[entity]]
id = "fund"
roles = ["investor"]

[[entity]]
id = "mkt"
roles = ["market"]

[[flow]]
id = "rev"
kind = "revenue"
from = "mkt"
to = "lab"
initial = 2
growth = 0

{flows}

[valuation]
multiple = 10
recovery = 0.5
"#
    )
}

/// Runs path 0 of a scenario text; the scenario and the path's outputs.
fn run(text: &str) -> (Scenario, PathOutput) {
    let s = Scenario::from_toml(text, "loans.toml").unwrap_or_else(|e| panic!("{e}"));
    let m = Model::compile(&s);
    let mut st = PathState::new(&m);
    st.run(&m, 1, 0, &mut NoTrace);
    (s.clone(), st.out().clone())
}

fn close(what: &str, got: f64, want: f64) {
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1.0),
        "{what}: {got} vs {want}"
    );
}

const BULLET: &str = r#"[[flow]]
id = "term"
kind = "loan"
from = "bank"
to = "lab"
principal = 12
draw = "2025-03"
rate = 0.06
maturity = "2027-08"
"#;

#[test]
fn a_bullet_loan_pays_interest_on_every_month_outstanding_and_the_principal_at_maturity() {
    for step in ["month", "quarter", "year"] {
        let (s, o) = run(&scenario(step, 100.0, BULLET));
        let bank = s.entity_by_id("bank").unwrap();
        // Outstanding from the start of 2025-03 to the end of 2027-08: 30 months.
        let interest = 12.0 * 0.06 * 30.0 / 12.0;
        close("drawn", o.invested[bank], 12.0);
        close("interest", o.margin[bank], interest);
        close("repaid", o.credit[bank], 12.0);
        close("received", o.received[bank], 12.0 + interest);
        close(
            "round trip",
            o.round_trip(bank).unwrap(),
            1.0 + interest / 12.0,
        );
        close("net position", o.net_position(bank), interest);
        // Nothing owed at the horizon: equity holds the whole value.
        close("equity value", o.company_value, 2.0 * 10.0);
        // The company's cash: revenue of 2 a year for 5 years, less the interest.
        close("cash", *o.cash.last().unwrap(), 100.0 + 10.0 - interest);
        assert_eq!(o.default_period, None);
    }
}

#[test]
fn an_amortising_loan_repays_equal_instalments_and_interest_falls_with_the_balance() {
    let loan = r#"[[flow]]
id = "term"
kind = "loan"
from = "bank"
to = "lab"
principal = 12
draw = "2025-03"
rate = 0.06
repayment = "amortising"
amortise_from = "2025-07"
maturity = "2026-06"
"#;
    for step in ["month", "quarter", "year"] {
        let (s, o) = run(&scenario(step, 100.0, loan));
        let bank = s.entity_by_id("bank").unwrap();
        // Four months at 12 (March to June), then twelve instalments of 1: the balance in
        // instalment month j is 12 (12 - j) / 12, so the months sum to 12 x 13 / 2 / 12.
        let interest = 0.06 / 12.0 * 12.0 * (4.0 + 13.0 / 2.0);
        close("interest", o.margin[bank], interest);
        close("repaid", o.credit[bank], 12.0);
        close("cash", *o.cash.last().unwrap(), 110.0 - interest);
    }
    // Monthly steps show each instalment: 1 of principal plus interest on the balance.
    let (_, o) = run(&scenario("month", 100.0, loan));
    let month = |y: i32, m: i32| ((y - 2025) * 12 + m - 1) as usize;
    let spent = |p: usize| o.cash[p - 1] + 2.0 / 12.0 - o.cash[p];
    // 2025-07: balance 12 during the month, 1 repaid at its end.
    close("July 2025", spent(month(2025, 7)), 1.0 + 0.06 / 12.0 * 12.0);
    // 2026-06: the last instalment, on a balance of 1.
    close("June 2026", spent(month(2026, 6)), 1.0 + 0.06 / 12.0);
    close("July 2026", spent(month(2026, 7)), 0.0);
}

#[test]
fn draws_spread_over_months_and_principal_outstanding_at_the_horizon_is_met_before_equity() {
    let loan = r#"[[flow]]
id = "term"
kind = "loan"
from = "bank"
to = "lab"
principal = 12
draw = { from = "2025-01", months = 6 }
rate = 0.05
maturity = "2031-12"
"#;
    for step in ["month", "quarter", "year"] {
        let (s, o) = run(&scenario(step, 100.0, loan));
        let bank = s.entity_by_id("bank").unwrap();
        // 2 drawn at the start of each month January to June 2025: the balance is 2k in month
        // k <= 6, then 12 for the remaining 54 months of the horizon.
        let months = (1..=6).map(|k| 2.0 * f64::from(k)).sum::<f64>() + 12.0 * 54.0;
        let interest = 0.05 / 12.0 * months;
        close("interest", o.margin[bank], interest);
        // Nothing repaid; the 12 outstanding is met from the company's value of 20.
        close("debt value", o.credit[bank], 12.0);
        close("equity value", o.company_value, 20.0 - 12.0);
        close("net position", o.net_position(bank), interest);
        close(
            "cash",
            *o.cash.last().unwrap(),
            100.0 + 10.0 + 12.0 - interest,
        );
    }
}

#[test]
fn in_default_senior_lenders_recover_first_and_the_rest_is_stranded() {
    // Cash 0 and costs of 50 a year: the company defaults within months of the draws.
    let flows = r#"[[flow]]
id = "senior"
kind = "loan"
from = "bank"
to = "lab"
principal = 8
draw = "2025-01"
rate = 0
maturity = "2029-12"

[[flow]]
id = "junior"
kind = "loan"
from = "fund"
to = "lab"
principal = 6
draw = "2025-01"
rate = 0
maturity = "2029-12"
seniority = "subordinated"

[[flow]]
id = "opex"
kind = "cost"
from = "lab"
fixed = 50
"#;
    for step in ["month", "quarter", "year"] {
        let (s, o) = run(&scenario(step, 0.0, flows));
        let (bank, fund) = (
            s.entity_by_id("bank").unwrap(),
            s.entity_by_id("fund").unwrap(),
        );
        assert!(o.default_period.is_some(), "{step}: defaults");
        // Value after default: run-rate 2 x multiple 10 x recovery 0.5 = 10; senior is owed
        // 8 and gets it all, the subordinated lender gets the remaining 2 of its 6.
        close("senior recovers", o.credit[bank], 8.0);
        close("junior recovers", o.credit[fund], 2.0);
        close("senior unrecovered", o.unrecovered[bank], 0.0);
        close("junior unrecovered", o.unrecovered[fund], 4.0);
        close("equity value", o.company_value, 0.0);
        close("junior net position", o.net_position(fund), -4.0);
    }
}

#[test]
fn a_conditional_draw_comes_when_its_condition_holds_and_lapses_when_it_never_does() {
    let loan = |when: &str| {
        format!(
            r#"[[flow]]
id = "standby"
kind = "loan"
from = "bank"
to = "lab"
principal = 20
draw = {{ when = "{when}", window = {{ from = "2025-06", until = "2027-12" }} }}
rate = 0.1
maturity = "2029-12"

[[flow]]
id = "opex"
kind = "cost"
from = "lab"
fixed = 14
"#
        )
    };
    // Cash 60 falls by 1 a month (revenue 2, costs 14 a year): below 50 at the end of
    // 2025-10 (month 10: 60 - 10 = 50 is not below; 2025-11 is).
    let (s, o) = run(&scenario("month", 60.0, &loan("cash < 50")));
    let bank = s.entity_by_id("bank").unwrap();
    close(
        "drawn",
        o.flow_total[s.flow_by_id("standby").unwrap()],
        20.0,
    );
    // Drawn at the end of 2025-11: interest on 20 for the 49 months from 2025-12 to 2029-12.
    close("interest", o.margin[bank], 20.0 * 0.1 * 49.0 / 12.0);
    let (_, o) = run(&scenario("month", 60.0, &loan("cash < 0")));
    close("never drawn", o.invested[bank], 0.0);
    close("no interest", o.margin[bank], 0.0);
}

#[test]
fn a_loan_file_runs_end_to_end_and_reports_the_lender() {
    let dir = Dir::new();
    let p = dir.file("loan.toml", &scenario("quarter", 100.0, BULLET));
    let s = run_typed(&p, 200, &[]);
    let bank = by_id(&s.investors, "bank", |i| &i.id);
    let interest = 1.8;
    close("invested", bank.invested.mean, 12.0);
    close("margin", bank.margin_earned.mean, interest);
    let debt = bank.debt.as_ref().expect("a lender reports its debt");
    close("debt value", debt.value.mean, 12.0);
    close("unrecovered", debt.unrecovered.mean, 0.0);
    close("net", bank.net_position.mean, interest);
    // An investor that lends nothing reports no debt.
    assert!(
        s.investors
            .iter()
            .all(|i| i.id == "bank" || i.debt.is_none())
    );
    // A flow's total is what moved in its direction: the principal drawn.
    let flow = by_id(&s.flows, "term", |f| &f.id);
    assert_eq!(flow.kind, "loan");
    close("drawn", flow.total.mean, 12.0);
}
