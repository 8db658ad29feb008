//! Number formatting for finance: `$14.2B`, `37%`.

/// An amount with a currency and scale: `$14.2B`, `-$3.05B`, `$0`.
pub fn money(x: f64, currency: &str, scale: &str) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    let sign = if x < 0.0 { "-" } else { "" };
    let a = x.abs();
    let digits = if a == 0.0 {
        return format!("{currency}0{scale}");
    } else if a >= 100.0 {
        0
    } else if a >= 10.0 {
        1
    } else if a >= 0.1 {
        2
    } else {
        3
    };
    let number = format!("{a:.digits$}");
    format!("{sign}{currency}{}{scale}", group_thousands(&number))
}

/// An amount with a set number of decimals (for the ticks of an axis, which share theirs):
/// `$50B`, `-$2.5B`, `$1,200B`.
pub fn money_with(x: f64, decimals: usize, currency: &str, scale: &str) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    let number = format!("{:.decimals$}", x.abs());
    // A tick at -0.0 (or rounding to 0) reads as 0.
    let sign = if x < 0.0 && number.bytes().any(|b| (b'1'..=b'9').contains(&b)) {
        "-"
    } else {
        ""
    };
    format!("{sign}{currency}{}{scale}", group_thousands(&number))
}

/// `1234567.5` as `1,234,567.5`: the integer part in groups of three.
fn group_thousands(number: &str) -> String {
    let (int, frac) = number.split_at(number.find('.').unwrap_or(number.len()));
    let mut out = String::with_capacity(number.len() + int.len() / 3);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out + frac
}

/// A probability or share as a percentage: `37%`, `4.2%`, `<0.1%`.
pub fn percent(p: f64) -> String {
    if !p.is_finite() {
        return format!("{p}");
    }
    let v = p * 100.0;
    if v == 0.0 {
        "0%".to_string()
    } else if v.abs() < 0.1 {
        if v > 0.0 {
            "<0.1%".to_string()
        } else {
            ">-0.1%".to_string()
        }
    } else if v.abs() < 10.0 {
        format!("{v:.1}%")
    } else {
        format!("{v:.0}%")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_money_and_percentages() {
        assert_eq!(money(14.2, "$", "B"), "$14.2B");
        assert_eq!(money(-3.05, "$", "B"), "-$3.05B");
        assert_eq!(money(730.0, "$", "B"), "$730B");
        assert_eq!(money(0.0, "$", "B"), "$0B");
        assert_eq!(money(1028.4, "$", "B"), "$1,028B");
        assert_eq!(money(-4_656_000.0, "$", "B"), "-$4,656,000B");
        assert_eq!(money(999.6, "$", "B"), "$1,000B");
        assert_eq!(money_with(50.0, 0, "$", "B"), "$50B");
        assert_eq!(money_with(-2.5, 1, "$", "B"), "-$2.5B");
        assert_eq!(money_with(-0.0001, 0, "$", "B"), "$0B");
        assert_eq!(money_with(1200.0, 0, "$", "B"), "$1,200B");
        assert_eq!(percent(0.37), "37%");
        assert_eq!(percent(0.042), "4.2%");
        assert_eq!(percent(0.0004), "<0.1%");
    }
}
