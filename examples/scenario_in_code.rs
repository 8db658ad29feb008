//! A scenario built in code and run through the library: how does the chance that a lab runs out
//! of cash change with the size of an up-front investment?
//!
//! Run with `cargo run --release --example scenario_in_code`.

use cfsim::engine::RunOptions;
use cfsim::scenario::Scenario;

/// A lab that burns cash while its revenue grows, an investor who puts `upfront` in at once and
/// sells it compute under a contract.
fn scenario(upfront: f64) -> String {
    format!(
        r#"
name = "upfront-{upfront}"

[horizon]
start = "2026"
end = "2030-Q4"

[[entity]]
id = "lab"
roles = ["lab"]
cash = 5

[[entity]]
id = "cloud"
roles = ["investor", "cloud"]

[[entity]]
id = "customers"
roles = ["market"]

[[flow]]
id = "sales"
kind = "revenue"
from = "customers"
to = "lab"
initial = 4
growth = "0.5 to 1.5"
decay = 0.2
volatility = 0.3

[[flow]]
id = "investment"
kind = "equity"
from = "cloud"
to = "lab"
[[flow.tranche]]
id = "upfront"
amount = {upfront}
date = "2026-Q1"
post_money = 100

[[flow]]
id = "compute"
kind = "contract"
from = "lab"
to = "cloud"
value = 40
start = "2026-Q1"
duration_years = 5
margin = 0.3

[[flow]]
id = "staff"
kind = "cost"
from = "lab"
fixed = 6
growth = 0.2

[valuation]
multiple = "10 to 30"
"#
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = RunOptions {
        paths: 20_000,
        seed: 42,
        threads: 0,
    };
    println!("up-front   P(default by 2030)   cloud's median round trip");
    for upfront in [0.0, 5.0, 10.0, 20.0, 40.0] {
        let s = Scenario::from_toml(&scenario(upfront), "in-code.toml")?;
        let summary = cfsim::simulate(&s, &options)?;
        let cloud = summary.investors.iter().find(|i| i.id == "cloud");
        let round_trip = cloud
            .and_then(|c| c.round_trip)
            .map_or("-".to_string(), |r| format!("{:.2}x", r.p50));
        println!(
            "{:>7}B   {:>17.1}%   {round_trip:>25}",
            upfront,
            100.0 * summary.insolvency.probability
        );
    }
    Ok(())
}
