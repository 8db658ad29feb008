//! The starter scenario `cfsim init` writes: a small, complete deal with a comment on every
//! key, so a new user edits a file that already runs rather than starting from a blank page.

/// The scenario, as written (it is checked by `cfsim validate` in the tests).
pub const SCENARIO: &str = r#"# A starter scenario: a lab funded by an investor that is also its cloud supplier.
#
# Check it:    cfsim validate scenario.toml
# Simulate it: cfsim run scenario.toml            (writes output/<name>/)
# Try another assumption without editing: cfsim run scenario.toml --set cloud_margin=0.5
#
# Amounts are in the unit below (default $B); every number may be a constant, a distribution
# such as { dist = "triangular", low = 1, mode = 2, high = 4 }, "A to B" (a lognormal with 90%
# of its mass between A and B), or the name of a param. `source` notes say where a number comes
# from; every output lists them.

name = "starter"
description = "A lab, an investor-supplier and a conditional tranche"
company = "lab"     # the entity whose cash, default and value the run is about

[horizon]
start = "2026-Q1"
end = "2030-Q4"
step = "quarter"    # "month", "quarter" or "year": the resolution, not the meaning

[params]
lab_cash = { value = 5, source = "ASSUMPTION: cash at the start" }
revenue_start = { dist = "triangular", low = 2, mode = 3, high = 5, source = "ASSUMPTION: annualised revenue at the start" }
revenue_growth = { dist = "uniform", low = 0.6, high = 1.2, source = "ASSUMPTION: growth a year at the start" }
cloud_margin = { dist = "pert", low = 0.2, mode = 0.3, high = 0.45, source = "ASSUMPTION: the supplier's gross margin" }
breakthrough_chance = { value = 0.15, source = "ASSUMPTION: chance a year of the milestone" }

[[entity]]
id = "lab"
name = "The lab"
roles = ["lab"]
cash = "lab_cash"

[[entity]]
id = "investor"
name = "Investor and cloud supplier"
roles = ["investor", "cloud"]

[[entity]]
id = "customers"
name = "Customers"
roles = ["market"]   # a market: the outside world that pays the lab

# Revenue: a run-rate that grows (growth shrinks by `decay` each year) with yearly volatility.
[[flow]]
id = "sales"
kind = "revenue"
from = "customers"
to = "lab"
initial = "revenue_start"
growth = "revenue_growth"
decay = 0.25
volatility = 0.2

# Operating costs: a fixed part that grows, plus a share of revenue (no `to`: paid to the world).
[[flow]]
id = "opex"
kind = "cost"
from = "lab"
fixed = 3
growth = 0.3
share_of_revenue = 0.3

# The circular leg: the lab buys compute from its investor, who earns a margin on it.
[[flow]]
id = "compute"
kind = "contract"
from = "lab"
to = "investor"
value = 20
start = "2026-Q1"
duration_years = 4
margin = "cloud_margin"

# The investment: one tranche paid at once, one only if the milestone is reached in time.
[[flow]]
id = "investment"
kind = "equity"
from = "investor"
to = "lab"
[[flow.tranche]]
id = "upfront"
amount = 5
date = "2026-Q1"
post_money = 50
[[flow.tranche]]
id = "on_breakthrough"
amount = 10
when = "reached(breakthrough)"
window = { from = "2026-Q2", until = "2028-Q4" }
post_money = 80

[[milestone]]
id = "breakthrough"
chance_per_year = "breakthrough_chance"
from = "2026-Q1"

[target]
year = 2029
revenue = 15

[valuation]
multiple = 10       # company value = annualised revenue x multiple
recovery = 0.1      # share of that value equity keeps after a default

[rescue]
probability = 0.5   # chance that an emergency raise succeeds when cash runs out
amount = 5
discount = 0.4
max = 1
"#;
