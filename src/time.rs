//! The calendar axis: months, simulation steps, the horizon and the date forms users write.

use std::fmt;

/// A calendar month, counted from year 0 (`year * 12 + month - 1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month(pub i32);

impl Month {
    /// Month from a year and a 1-based month.
    pub fn new(year: i32, month: u32) -> Month {
        Month(year * 12 + month as i32 - 1)
    }
    /// The calendar year.
    pub fn year(self) -> i32 {
        self.0.div_euclid(12)
    }
    /// 1-based month of the year.
    pub fn month(self) -> u32 {
        self.0.rem_euclid(12) as u32 + 1
    }
    /// The month as a fractional year (`2026-07` is 2026.5).
    pub fn as_year_fraction(self) -> f64 {
        self.0 as f64 / 12.0
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{:02}", self.year(), self.month())
    }
}

/// How precise a written date was; decides which month an end-type date stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// `2026`
    Year,
    /// `2026-Q1`
    Quarter,
    /// `2026-03` or `2026-03-31`
    Month,
}

/// A date as written: the first month it covers and how much it covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Date {
    /// First month covered.
    pub first: Month,
    /// How much the written form covers.
    pub precision: Precision,
}

impl Date {
    /// The last month the written form covers (`2026` ends in 2026-12, `2026-Q1` in 2026-03).
    pub fn last(self) -> Month {
        match self.precision {
            Precision::Year => Month(self.first.0 + 11),
            Precision::Quarter => Month(self.first.0 + 2),
            Precision::Month => self.first,
        }
    }
}

/// Parses `2026`, `2026-Q1`, `2026-03` or `2026-03-31`. Returns what was expected on failure.
pub fn parse_date(text: &str) -> Result<Date, String> {
    let expected = "expected a date such as `2026`, `2026-Q1`, `2026-03` or `2026-03-31`";
    let t = text.trim();
    let bad = || format!("malformed date `{text}`: {expected}");
    let (year_part, rest) = match t.find('-') {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    if year_part.len() != 4 || !year_part.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let year: i32 = year_part.parse().map_err(|_| bad())?;
    let Some(rest) = rest else {
        return Ok(Date {
            first: Month::new(year, 1),
            precision: Precision::Year,
        });
    };
    if let Some(q) = rest.strip_prefix(['Q', 'q']) {
        return match q {
            "1" | "2" | "3" | "4" => {
                let q: u32 = q.parse().map_err(|_| bad())?;
                Ok(Date {
                    first: Month::new(year, (q - 1) * 3 + 1),
                    precision: Precision::Quarter,
                })
            }
            _ => Err(format!(
                "malformed date `{text}`: a quarter is Q1 to Q4; {expected}"
            )),
        };
    }
    let (month_part, day_part) = match rest.find('-') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    if month_part.len() != 2 || !month_part.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let month: u32 = month_part.parse().map_err(|_| bad())?;
    if !(1..=12).contains(&month) {
        return Err(format!(
            "malformed date `{text}`: month {month} is not between 01 and 12"
        ));
    }
    if let Some(day) = day_part {
        if day.len() != 2 || !day.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let day: u32 = day.parse().map_err(|_| bad())?;
        if day == 0 || day > days_in_month(year, month) {
            return Err(format!(
                "malformed date `{text}`: {year}-{month:02} has no day {day}"
            ));
        }
    }
    Ok(Date {
        first: Month::new(year, month),
        precision: Precision::Month,
    })
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// Length of one simulation period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// One month.
    Month,
    /// Three months (the default).
    Quarter,
    /// Twelve months.
    Year,
}

impl Step {
    /// Months in one step.
    pub fn months(self) -> i32 {
        match self {
            Step::Month => 1,
            Step::Quarter => 3,
            Step::Year => 12,
        }
    }
    /// Fraction of a year in one step.
    pub fn years(self) -> f64 {
        self.months() as f64 / 12.0
    }
    /// Name as written in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            Step::Month => "month",
            Step::Quarter => "quarter",
            Step::Year => "year",
        }
    }
}

/// The simulated time window, cut into equal periods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Horizon {
    /// First month of the first period.
    pub start: Month,
    /// Period length.
    pub step: Step,
    /// Number of periods.
    pub periods: usize,
}

impl Horizon {
    /// First month after the last period.
    pub fn end_exclusive(&self) -> Month {
        Month(self.start.0 + self.periods as i32 * self.step.months())
    }
    /// First month of period `p`.
    pub fn period_start(&self, p: usize) -> Month {
        Month(self.start.0 + p as i32 * self.step.months())
    }
    /// Last month of period `p`.
    pub fn period_end(&self, p: usize) -> Month {
        Month(self.period_start(p).0 + self.step.months() - 1)
    }
    /// The period containing a month, or `None` outside the horizon.
    pub fn period_of(&self, m: Month) -> Option<usize> {
        if m < self.start || m >= self.end_exclusive() {
            None
        } else {
            Some(((m.0 - self.start.0) / self.step.months()) as usize)
        }
    }
    /// The period containing a month, clamped: before the horizon gives 0, after it `periods`.
    pub fn period_clamped(&self, m: Month) -> usize {
        if m < self.start {
            0
        } else {
            self.period_of(m).unwrap_or(self.periods)
        }
    }
    /// Years from the horizon start to the start of period `p`.
    pub fn years_at(&self, p: usize) -> f64 {
        p as f64 * self.step.years()
    }
    /// Short label of period `p`: `2026`, `2026-Q1` or `2026-03` depending on the step.
    pub fn label(&self, p: usize) -> String {
        let m = self.period_start(p);
        match self.step {
            Step::Year if m.month() == 1 => format!("{}", m.year()),
            Step::Quarter if (m.month() - 1).is_multiple_of(3) => {
                format!("{}-Q{}", m.year(), (m.month() - 1) / 3 + 1)
            }
            _ => m.to_string(),
        }
    }
    /// The periods that start within a calendar year.
    pub fn periods_in_year(&self, year: i32) -> std::ops::Range<usize> {
        let first = self.period_clamped(Month::new(year, 1));
        let after = self.period_clamped(Month::new(year + 1, 1));
        first..after
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_date_forms() {
        assert_eq!(parse_date("2026").unwrap().first, Month::new(2026, 1));
        assert_eq!(parse_date("2026").unwrap().last(), Month::new(2026, 12));
        assert_eq!(parse_date("2026-Q2").unwrap().first, Month::new(2026, 4));
        assert_eq!(parse_date("2026-Q2").unwrap().last(), Month::new(2026, 6));
        assert_eq!(parse_date("2026-03").unwrap().first, Month::new(2026, 3));
        assert_eq!(
            parse_date("2026-03-31").unwrap().last(),
            Month::new(2026, 3)
        );
    }

    #[test]
    fn rejects_malformed_dates() {
        for bad in [
            "26",
            "2026-Q5",
            "2026-13",
            "2026-02-30",
            "2026-3",
            "soon",
            "",
        ] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
        assert!(parse_date("2024-02-29").is_ok());
    }

    #[test]
    fn maps_months_to_periods() {
        let h = Horizon {
            start: Month::new(2024, 1),
            step: Step::Quarter,
            periods: 28,
        };
        assert_eq!(h.period_of(Month::new(2026, 3)), Some(8));
        assert_eq!(h.period_of(Month::new(2031, 1)), None);
        assert_eq!(h.label(9), "2026-Q2");
        assert_eq!(h.periods_in_year(2029), 20..24);
    }
}
