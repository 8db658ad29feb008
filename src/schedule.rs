//! Deterministic schedules shared by the engine and the nominal graph: contract payment
//! profiles and revenue growth.

use crate::scenario::Profile;
use crate::time::{Horizon, Month};

/// Length of a contract in whole months (at least one).
pub fn contract_months(duration_years: f64) -> usize {
    ((duration_years * 12.0).round() as usize).max(1)
}

/// Relative payment rate in contract month `k` (0-based).
fn month_rate(profile: &Profile, start: Month, k: usize) -> f64 {
    match profile {
        Profile::Flat => 1.0,
        Profile::Ramp { full_by } => {
            let ramp_months = (full_by.0 - start.0 + 1).max(1) as f64;
            ((k as f64 + 1.0) / ramp_months).min(1.0)
        }
        Profile::YearlyWeights(w) => w.get(k / 12).copied().unwrap_or(0.0),
    }
}

/// Fills `out[p]` with the share of a contract's total value paid in period `p` of the horizon;
/// returns the share paid after the horizon (the terminal backlog). Months before the horizon
/// start are not in `out` and are returned as the second value.
pub fn contract_fractions(
    profile: &Profile,
    start: Month,
    duration_years: f64,
    horizon: &Horizon,
    out: &mut [f64],
) -> (f64, f64) {
    out.iter_mut().for_each(|x| *x = 0.0);
    let months = contract_months(duration_years);
    let total: f64 = (0..months).map(|k| month_rate(profile, start, k)).sum();
    if total <= 0.0 {
        return (0.0, 0.0);
    }
    let (mut before, mut after) = (0.0, 0.0);
    for k in 0..months {
        let share = month_rate(profile, start, k) / total;
        let m = Month(start.0 + k as i32);
        match horizon.period_of(m) {
            Some(p) => out[p] += share,
            None if m < horizon.start => before += share,
            None => after += share,
        }
    }
    (before, after)
}

/// `(1 + g)^dt`, with the common quarterly and yearly steps done without `powf`.
#[inline]
pub fn period_growth(g: f64, dt: f64) -> f64 {
    if dt == 0.25 {
        (1.0 + g).sqrt().sqrt()
    } else if dt == 1.0 {
        1.0 + g
    } else {
        (1.0 + g).powf(dt)
    }
}

/// Fills `out[p]` with the growth of a cost's fixed part in period `p` relative to its start:
/// 1 up to `start`, then compounded each period at a rate that starts at `rate` and is
/// multiplied by `decay_step` each period.
pub fn cost_growth_path(out: &mut [f64], start: usize, rate: f64, decay_step: f64, dt: f64) {
    let (mut level, mut rate) = (1.0, rate);
    for (p, x) in out.iter_mut().enumerate() {
        if p > start {
            level *= period_growth(rate, dt);
            rate *= decay_step;
        }
        *x = level;
    }
}

/// Growth factor of revenue over one period: `(1 + g)^dt` with the growth rate `g` decayed by
/// `(1 - decay)` per year since the start.
pub fn growth_factor(growth: f64, decay: f64, years_since_start: f64, dt: f64) -> f64 {
    let g = growth * (1.0 - decay).powf(years_since_start);
    (1.0 + g).powf(dt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Step;

    fn horizon() -> Horizon {
        Horizon {
            start: Month::new(2024, 1),
            step: Step::Quarter,
            periods: 28,
        }
    }

    #[test]
    fn flat_contract_spreads_evenly_and_keeps_the_rest_as_backlog() {
        let mut out = vec![0.0; 28];
        let (before, after) = contract_fractions(
            &Profile::Flat,
            Month::new(2025, 10),
            7.0,
            &horizon(),
            &mut out,
        );
        assert_eq!(before, 0.0);
        let inside: f64 = out.iter().sum();
        assert!((inside + after - 1.0).abs() < 1e-12);
        // 63 of 84 months fall inside 2025-10..2030-12.
        assert!((inside - 63.0 / 84.0).abs() < 1e-12);
        assert!((out[7] - 3.0 / 84.0).abs() < 1e-12);
    }

    #[test]
    fn ramp_reaches_full_rate_by_its_date() {
        let mut out = vec![0.0; 28];
        let full_by = Month::new(2026, 12);
        contract_fractions(
            &Profile::Ramp { full_by },
            Month::new(2025, 10),
            7.0,
            &horizon(),
            &mut out,
        );
        assert!(out[7] < out[8] && out[8] < out[11]);
        assert!((out[12] - out[20]).abs() < 1e-15);
    }
}
