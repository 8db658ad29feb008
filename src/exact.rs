//! Exact sums of floating-point numbers, so that statistics merge to the same bits in any
//! order and in any grouping: across threads, and across shards run on other machines.
//!
//! An [`ExactSum`] is a fixed-point integer wide enough for every finite `f64` (the smallest
//! subnormal is its unit) plus 64 bits of headroom for the count of terms: adding is integer
//! addition, which is associative and commutative, so `(a + b) + c` and `a + (b + c)` are the
//! same number to the last bit. Reading it back rounds once, to a [`DoubleDouble`].
//!
//! Crates for exact summation (xsum) sum a list but neither merge two sums nor expose their
//! state for a part file; this type does both in a page of integer code.

use serde::{Deserialize, Serialize};

/// 64-bit words of an [`ExactSum`]: 2098 bits span every finite double's bits (2^-1074 to
/// 2^1024), then 64 bits of headroom and a sign bit: 34 words (2176 bits).
const WORDS: usize = 34;

/// Exponent of the unit (the lowest bit) of an [`ExactSum`]: the smallest subnormal, 2^-1074.
const UNIT_EXP: i32 = -1074;

/// A sum of doubles, exact: a two's complement integer in units of 2^-1074.
#[derive(Clone, PartialEq, Eq)]
pub struct ExactSum {
    words: [u64; WORDS],
}

impl Default for ExactSum {
    fn default() -> Self {
        ExactSum { words: [0; WORDS] }
    }
}

impl std::fmt::Debug for ExactSum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = self.value();
        write!(f, "ExactSum({} + {})", v.hi, v.lo)
    }
}

/// A finite double as an integer mantissa and a bit offset from the unit: `x = m * 2^(offset
/// - 1074)`. `None` for zero and non-finite values.
fn decompose(x: f64) -> Option<(bool, u64, u32)> {
    if !x.is_finite() || x == 0.0 {
        return None;
    }
    let bits = x.to_bits();
    let negative = bits >> 63 == 1;
    let exp = ((bits >> 52) & 0x7ff) as u32;
    let frac = bits & ((1 << 52) - 1);
    // Subnormals have exponent field 0 and no hidden bit; both start at offset 0.
    let (m, offset) = if exp == 0 {
        (frac, 0)
    } else {
        (frac | (1 << 52), exp - 1)
    };
    Some((negative, m, offset))
}

impl ExactSum {
    /// Adds `x` exactly. Non-finite values are not numbers to sum and are ignored (the engine
    /// produces none; a caller that may must count them itself).
    pub fn add(&mut self, x: f64) {
        let Some((negative, m, offset)) = decompose(x) else {
            return;
        };
        let (word, shift) = ((offset / 64) as usize, offset % 64);
        // The mantissa spans at most two words after the shift.
        let wide = (m as u128) << shift;
        let (low, high) = (wide as u64, (wide >> 64) as u64);
        if negative {
            self.sub_at(word, low, high);
        } else {
            self.add_at(word, low, high);
        }
    }

    /// Adds `a * b` exactly (the product is split into two doubles without a fused
    /// multiply-add: `mul_add` is exact on every platform, in hardware or in software).
    pub fn add_product(&mut self, a: f64, b: f64) {
        let p = a * b;
        if !p.is_finite() {
            return;
        }
        self.add(p);
        self.add(a.mul_add(b, -p));
    }

    /// Adds another exact sum.
    pub fn merge(&mut self, o: &ExactSum) {
        let mut carry = false;
        for (a, &b) in self.words.iter_mut().zip(&o.words) {
            let (s, c1) = a.overflowing_add(b);
            let (s, c2) = s.overflowing_add(carry as u64);
            *a = s;
            carry = c1 || c2;
        }
    }

    fn add_at(&mut self, word: usize, low: u64, high: u64) {
        let (s, mut carry) = self.words[word].overflowing_add(low);
        self.words[word] = s;
        let mut add = high;
        for w in &mut self.words[word + 1..] {
            let (s, c1) = w.overflowing_add(add);
            let (s, c2) = s.overflowing_add(carry as u64);
            *w = s;
            carry = c1 || c2;
            add = 0;
            if !carry {
                break;
            }
        }
    }

    fn sub_at(&mut self, word: usize, low: u64, high: u64) {
        let (s, mut borrow) = self.words[word].overflowing_sub(low);
        self.words[word] = s;
        let mut sub = high;
        for w in &mut self.words[word + 1..] {
            let (s, b1) = w.overflowing_sub(sub);
            let (s, b2) = s.overflowing_sub(borrow as u64);
            *w = s;
            borrow = b1 || b2;
            sub = 0;
            if !borrow {
                break;
            }
        }
    }

    fn is_negative(&self) -> bool {
        self.words[WORDS - 1] >> 63 == 1
    }

    /// `-self` (two's complement).
    fn negated(&self) -> ExactSum {
        let mut out = self.clone();
        let mut carry = true;
        for x in &mut out.words {
            let (s, c) = (!*x).overflowing_add(carry as u64);
            *x = s;
            carry = c;
        }
        out
    }

    /// The nearest double to the sum (from its top 128 bits: deterministic, and within an
    /// ulp).
    fn approx(&self) -> f64 {
        let negative = self.is_negative();
        let w = if negative {
            self.negated().words
        } else {
            self.words
        };
        let Some(top) = w.iter().rposition(|&x| x != 0) else {
            return 0.0;
        };
        let (bits, low_word) = if top == 0 {
            (w[0] as u128, 0)
        } else {
            (((w[top] as u128) << 64) | w[top - 1] as u128, top - 1)
        };
        let magnitude = libm::scalbn(bits as f64, 64 * low_word as i32 + UNIT_EXP);
        if negative { -magnitude } else { magnitude }
    }

    /// The sum rounded to a double-double: `hi` is the sum to about 16 digits, `lo` most of
    /// the rest (together about 32 digits).
    pub fn value(&self) -> DoubleDouble {
        let hi = self.approx();
        let mut rest = self.clone();
        rest.add(-hi);
        let lo = rest.approx();
        DoubleDouble::two_sum(hi, lo)
    }

    /// Whether the sum is zero.
    pub fn is_zero(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }
}

/// The text form: a sign, then `@K` (the lowest word that is not zero, when it is not word 0),
/// then the magnitude's words in hexadecimal from there up to the highest that is not zero.
/// Sums of ordinary numbers take a few words whatever their sign (two's complement would
/// write all 34 words of a negative one), and the text is exactly the integer.
impl Serialize for ExactSum {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let negative = self.is_negative();
        let words = if negative {
            self.negated().words
        } else {
            self.words
        };
        let mut text = String::new();
        if let (Some(lo), Some(hi)) = (
            words.iter().position(|&w| w != 0),
            words.iter().rposition(|&w| w != 0),
        ) {
            if negative {
                text.push('-');
            }
            if lo > 0 {
                text.push_str(&format!("@{lo} "));
            }
            let hex: Vec<String> = words[lo..=hi].iter().map(|w| format!("{w:x}")).collect();
            text.push_str(&hex.join(" "));
        }
        s.serialize_str(&text)
    }
}

impl<'de> Deserialize<'de> for ExactSum {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let text = String::deserialize(d)?;
        let (negative, rest) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.as_str()),
        };
        let mut words = rest.split_whitespace().peekable();
        let mut at = 0usize;
        if let Some(lo) = words.peek().and_then(|w| w.strip_prefix('@')) {
            at = lo
                .parse()
                .map_err(|_| D::Error::custom(format!("`@{lo}` is not a word number")))?;
            words.next();
        }
        let mut sum = ExactSum::default();
        for word in words {
            // The top word keeps its sign bit clear: a magnitude, negated below if need be.
            if at >= WORDS || (at == WORDS - 1 && word.len() == 16 && word.as_bytes()[0] > b'7') {
                return Err(D::Error::custom(format!(
                    "an exact sum has at most {WORDS} words and a clear sign bit"
                )));
            }
            sum.words[at] = u64::from_str_radix(word, 16)
                .map_err(|_| D::Error::custom(format!("`{word}` is not a hexadecimal word")))?;
            at += 1;
        }
        if sum.is_negative() {
            return Err(D::Error::custom(
                "an exact sum's magnitude overflows its words",
            ));
        }
        Ok(if negative { sum.negated() } else { sum })
    }
}

/// An unevaluated sum of two doubles, `hi + lo` with `|lo| <= ulp(hi) / 2`: about 32
/// significant digits, enough to subtract nearly equal sums of squares.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DoubleDouble {
    /// The leading double.
    pub hi: f64,
    /// The rest.
    pub lo: f64,
}

impl DoubleDouble {
    /// `a + b` exactly, normalised (Knuth's two-sum).
    pub fn two_sum(a: f64, b: f64) -> DoubleDouble {
        let s = a + b;
        let bb = s - a;
        let lo = (a - (s - bb)) + (b - bb);
        DoubleDouble { hi: s, lo }
    }
}

impl std::ops::Sub for DoubleDouble {
    type Output = DoubleDouble;
    fn sub(self, o: DoubleDouble) -> DoubleDouble {
        let s = DoubleDouble::two_sum(self.hi, -o.hi);
        let lo = s.lo + (self.lo - o.lo);
        DoubleDouble::two_sum(s.hi, lo)
    }
}

impl std::ops::Mul for DoubleDouble {
    type Output = DoubleDouble;
    fn mul(self, o: DoubleDouble) -> DoubleDouble {
        let p = self.hi * o.hi;
        let e = self.hi.mul_add(o.hi, -p);
        let lo = e + (self.hi * o.lo + self.lo * o.hi);
        DoubleDouble::two_sum(p, lo)
    }
}

impl std::ops::Div<f64> for DoubleDouble {
    type Output = DoubleDouble;
    fn div(self, d: f64) -> DoubleDouble {
        let q = self.hi / d;
        // The remainder of the first quotient, exactly, then its correction.
        let r = DoubleDouble::two_sum(self.hi, -(q * d));
        let r_lo = q.mul_add(-d, q * d);
        let q2 = (r.hi + (r.lo + r_lo + self.lo)) / d;
        DoubleDouble::two_sum(q, q2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum_of(xs: &[f64]) -> ExactSum {
        let mut s = ExactSum::default();
        xs.iter().for_each(|&x| s.add(x));
        s
    }

    #[test]
    fn cancelling_terms_leave_the_small_one_exactly() {
        // Plain f64 addition gives 0 here; the exact sum keeps the 1e-300.
        let s = sum_of(&[1e300, 1e-300, -1e300]);
        assert_eq!(s.value().hi, 1e-300);
        // The doubles nearest 0.1, 0.2 and 0.3 miss by exactly 2^-55.
        assert_eq!(sum_of(&[0.1, 0.2, -0.3]).value().hi, 2f64.powi(-55));
    }

    #[test]
    fn any_grouping_and_order_gives_the_same_bits() {
        let xs: Vec<f64> = (0..5000)
            .map(|i| ((i as f64) * 0.37).sin() * 10f64.powi((i % 40) - 20))
            .collect();
        let whole = sum_of(&xs);
        for parts in [1, 3, 4, 7] {
            let mut merged = ExactSum::default();
            for chunk in xs.chunks(xs.len() / parts + 1).rev() {
                merged.merge(&sum_of(chunk));
            }
            assert_eq!(merged, whole, "{parts} parts");
        }
    }

    #[test]
    fn extremes_and_signs_are_exact() {
        let tiny = f64::from_bits(1);
        let s = sum_of(&[f64::MAX, -f64::MAX, tiny, tiny, -tiny]);
        assert_eq!(s.value().hi, tiny);
        let s = sum_of(&[-2.5, -f64::MAX / 4.0, f64::MAX / 4.0]);
        assert_eq!(s.value().hi, -2.5);
        let big = sum_of(&[f64::MAX, f64::MAX]);
        assert_eq!(big.value().hi, f64::INFINITY);
        assert!(sum_of(&[1.0, -1.0]).is_zero());
    }

    #[test]
    fn products_are_added_exactly() {
        let mut s = ExactSum::default();
        let x = 1.0 + f64::EPSILON;
        s.add_product(x, x);
        s.add(-1.0);
        s.add(-2.0 * f64::EPSILON);
        // x^2 = 1 + 2e + e^2: only e^2 is left.
        assert_eq!(s.value().hi, f64::EPSILON * f64::EPSILON);
    }

    #[test]
    fn text_form_round_trips() {
        for xs in [
            &[-3.25, 1e-310, 7e200][..],
            &[-3.25],
            &[2.5, -1e-300],
            &[],
            &[-f64::MAX, -f64::MAX],
        ] {
            let s = sum_of(xs);
            let json = serde_json::to_string(&s).unwrap();
            let back: ExactSum = serde_json::from_str(&json).unwrap();
            assert_eq!(back, s, "{json}");
        }
        // A negative sum is as short as a positive one.
        let text = |x: f64| serde_json::to_string(&sum_of(&[x])).unwrap();
        assert_eq!(text(-1.0), format!("\"-{}", &text(1.0)[1..]));
        assert!(text(-1.0).len() < 24, "{}", text(-1.0));
        for bad in ["zz", "@40 1", "-@33 8000000000000000", "@x 1"] {
            assert!(
                serde_json::from_str::<ExactSum>(&format!("\"{bad}\"")).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn double_double_division_and_product_are_accurate() {
        let third = DoubleDouble { hi: 1.0, lo: 0.0 } / 3.0;
        let back = third * DoubleDouble { hi: 3.0, lo: 0.0 };
        assert!((back.hi - 1.0).abs() + back.lo.abs() < 1e-30);
    }
}
