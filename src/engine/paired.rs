//! Paired metrics for comparing scenarios path by path under common random numbers.
//!
//! Every scenario of a comparison runs path `i` with the same seed, so quantities that share a
//! name share their draws. For each key metric the difference "scenario minus reference" is
//! taken on every path; its mean and standard error give a paired interval, usually far narrower
//! than the unpaired one because the shared noise cancels.

use super::model::Model;
use super::path::{PathOutput, TrancheState};
use crate::stats::Stat;

/// How to read one metric from a path's output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extract {
    /// 1 when target-year revenue reached the target.
    TargetHit,
    /// 1 when the company defaulted.
    Insolvent,
    /// The largest cash shortfall: max(0, -lowest cash).
    PeakCashNeed,
    /// Received back / invested over all investors.
    Circularity,
    /// An entity's money put in.
    Invested(usize),
    /// An entity's money received back.
    Received(usize),
    /// An entity's received / invested.
    RoundTrip(usize),
    /// An entity's net position.
    NetPosition(usize),
    /// 1 when a tranche was released.
    Released(usize),
    /// The company's revenue over the target year.
    TargetRevenue,
}

/// What a compared metric measures, which decides how it is estimated and shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricKind {
    /// A share of paths (a 0/1 value per path).
    Probability,
    /// Money, in the scenario's unit.
    Amount,
    /// A ratio of two amounts.
    Ratio,
}

impl std::fmt::Display for MetricKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MetricKind::Probability => "probability",
            MetricKind::Amount => "amount",
            MetricKind::Ratio => "ratio",
        })
    }
}

impl Extract {
    /// What the metric measures.
    pub fn kind(self) -> MetricKind {
        match self {
            Extract::TargetHit | Extract::Insolvent | Extract::Released(_) => {
                MetricKind::Probability
            }
            Extract::Circularity | Extract::RoundTrip(_) => MetricKind::Ratio,
            Extract::PeakCashNeed
            | Extract::Invested(_)
            | Extract::Received(_)
            | Extract::NetPosition(_)
            | Extract::TargetRevenue => MetricKind::Amount,
        }
    }

    /// The metric's value on a path, when it is defined there.
    pub fn value(self, m: &Model, o: &PathOutput) -> Option<f64> {
        match self {
            Extract::TargetHit => m
                .target
                .as_ref()
                .map(|(_, t)| f64::from(u8::from(o.target_revenue >= *t))),
            Extract::Insolvent => Some(f64::from(u8::from(o.default_period.is_some()))),
            Extract::PeakCashNeed => Some((-o.min_cash).max(0.0)),
            Extract::Circularity => o.circularity(m),
            Extract::Invested(e) => Some(o.invested[e]),
            Extract::Received(e) => Some(o.received[e]),
            Extract::RoundTrip(e) => o.round_trip(e),
            Extract::NetPosition(e) => Some(o.net_position(e)),
            Extract::Released(k) => Some(f64::from(u8::from(matches!(
                o.tranches[k].0,
                TrancheState::Released(_)
            )))),
            Extract::TargetRevenue => m.target.as_ref().map(|_| o.target_revenue),
        }
    }
}

/// One compared metric: its name and how to read it in each scenario (`None`: not defined
/// there, such as a tranche a scenario does not have).
#[derive(Clone, Debug)]
pub struct PairedMetric {
    /// Name shown in tables and keys.
    pub name: String,
    /// One extractor per scenario, the reference first.
    pub per_scenario: Vec<Option<Extract>>,
}

impl PairedMetric {
    /// What it measures (the same in every scenario that has it).
    pub fn kind(&self) -> MetricKind {
        self.per_scenario
            .iter()
            .flatten()
            .next()
            .map_or(MetricKind::Amount, |e| e.kind())
    }

    /// True for the release of a tranche.
    pub fn is_release(&self) -> bool {
        self.per_scenario
            .iter()
            .flatten()
            .any(|e| matches!(e, Extract::Released(_)))
    }
}

/// Per-scenario values and paired differences of the compared metrics.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct PairedAccumulator {
    /// `values[metric][scenario]`: the metric in each scenario.
    pub values: Vec<Vec<Stat>>,
    /// `diffs[metric][scenario]`: scenario minus reference, on paths where both are defined.
    pub diffs: Vec<Vec<Stat>>,
}

impl PairedAccumulator {
    /// Empty statistics for these metrics over `scenarios` scenarios.
    pub fn new(metrics: &[PairedMetric], scenarios: usize) -> Self {
        PairedAccumulator {
            values: metrics
                .iter()
                .map(|_| vec![Stat::default(); scenarios])
                .collect(),
            diffs: metrics
                .iter()
                .map(|_| vec![Stat::default(); scenarios])
                .collect(),
        }
    }

    /// Adds one path, run in every scenario (`outs[i]` is scenario i's output).
    pub fn push(&mut self, metrics: &[PairedMetric], models: &[Model], outs: &[PathOutput]) {
        for (k, metric) in metrics.iter().enumerate() {
            let reference = metric.per_scenario[0].and_then(|x| x.value(&models[0], &outs[0]));
            for (s, extract) in metric.per_scenario.iter().enumerate() {
                let Some(v) = extract.and_then(|x| x.value(&models[s], &outs[s])) else {
                    continue;
                };
                self.values[k][s].push(v);
                if let Some(r) = reference {
                    self.diffs[k][s].push(v - r);
                }
            }
        }
    }

    /// Empty again, keeping the memory (see [`Stat::clear`]).
    pub fn clear(&mut self) {
        for v in self.values.iter_mut().chain(&mut self.diffs) {
            v.iter_mut().for_each(Stat::clear);
        }
    }

    /// Merges the statistics of the chunks that follow (in a fixed order).
    pub fn merge(&mut self, o: &PairedAccumulator) {
        for (a, b) in self.values.iter_mut().zip(&o.values) {
            for (x, y) in a.iter_mut().zip(b) {
                x.merge(y);
            }
        }
        for (a, b) in self.diffs.iter_mut().zip(&o.diffs) {
            for (x, y) in a.iter_mut().zip(b) {
                x.merge(y);
            }
        }
    }
}

/// The metrics a comparison of these models reports, matched across scenarios by id.
pub fn comparison_metrics(models: &[Model]) -> Vec<PairedMetric> {
    let all = |e: Extract| models.iter().map(|_| Some(e)).collect::<Vec<_>>();
    let mut out = Vec::new();
    if models[0].target.is_some() {
        out.push(PairedMetric {
            name: "P(target)".into(),
            per_scenario: models
                .iter()
                .map(|m| m.target.as_ref().map(|_| Extract::TargetHit))
                .collect(),
        });
    }
    out.push(PairedMetric {
        name: "P(insolvency)".into(),
        per_scenario: all(Extract::Insolvent),
    });
    out.push(PairedMetric {
        name: "peak cash need".into(),
        per_scenario: all(Extract::PeakCashNeed),
    });
    out.push(PairedMetric {
        name: "circularity".into(),
        per_scenario: all(Extract::Circularity),
    });
    // Tranches by id, in order of first appearance.
    let mut tranche_ids: Vec<String> = Vec::new();
    for m in models {
        for id in &m.names.tranches {
            if !tranche_ids.contains(id) {
                tranche_ids.push(id.clone());
            }
        }
    }
    for id in tranche_ids {
        out.push(PairedMetric {
            name: format!("P(released {id})"),
            per_scenario: models
                .iter()
                .map(|m| {
                    m.names
                        .tranches
                        .iter()
                        .position(|t| *t == id)
                        .map(Extract::Released)
                })
                .collect(),
        });
    }
    // Investors by entity id.
    let mut investor_ids: Vec<String> = Vec::new();
    for m in models {
        for &e in &m.investors {
            let id = &m.names.entities[e];
            if !investor_ids.contains(id) {
                investor_ids.push(id.clone());
            }
        }
    }
    type Field = (&'static str, fn(usize) -> Extract);
    let fields: [Field; 4] = [
        ("invested", Extract::Invested),
        ("received", Extract::Received),
        ("round trip", Extract::RoundTrip),
        ("net position", Extract::NetPosition),
    ];
    for id in investor_ids {
        for (field, make) in fields {
            out.push(PairedMetric {
                name: format!("{id} {field}"),
                per_scenario: models
                    .iter()
                    .map(|m| {
                        m.investors
                            .iter()
                            .find(|&&e| m.names.entities[e] == id)
                            .map(|&e| make(e))
                    })
                    .collect(),
            });
        }
    }
    out
}
