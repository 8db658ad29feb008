//! Streaming, mergeable statistics whose memory does not grow with the number of paths.
//!
//! - [`Stat`]: mean and variance from [`ExactMoments`], exact sums that merge to the same
//!   bits in any order and grouping, so results are bit-identical whatever the thread count
//!   and however a run is split into shards.
//! - [`Sketch`]: quantiles with a relative error of at most [`RELATIVE_ACCURACY`], from
//!   logarithmic buckets (the DDSketch idea; here 128 buckets per power of two, read straight
//!   from the float's bits). Bucket counts are integers, so merging is exact and independent of
//!   order.
//! - [`Counts`]: exact histograms over a small set of outcomes (periods, years, lapsed).
//! - [`wilson`]: a 95% interval for a proportion.

use serde::{Deserialize, Serialize};

use crate::exact::ExactSum;

/// Largest relative error of a quantile read from a [`Sketch`]: half a bucket, 1/256 (0.39%).
pub const RELATIVE_ACCURACY: f64 = 1.0 / 256.0;

/// Mantissa bits that select a bucket within a power of two (2^7 = 128 buckets).
const SUB_BITS: u32 = 7;
const SHIFT: u32 = 52 - SUB_BITS;

/// Magnitudes below this are counted as zero (a thousandth of a millionth of the unit).
pub const MIN_MAGNITUDE: f64 = 1e-9;

/// Count, mean and sum of squared deviations.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Moments {
    /// Number of values.
    pub n: u64,
    /// Running mean.
    pub mean: f64,
    /// Sum of squared deviations from the mean.
    pub m2: f64,
}

impl Moments {
    /// Adds a value.
    #[inline]
    pub fn push(&mut self, x: f64) {
        self.n += 1;
        let d = x - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (x - self.mean);
    }

    /// Merges another set of moments (Chan et al.).
    pub fn merge(&mut self, o: &Moments) {
        if o.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = *o;
            return;
        }
        let n = self.n + o.n;
        let d = o.mean - self.mean;
        self.mean += d * o.n as f64 / n as f64;
        self.m2 += o.m2 + d * d * self.n as f64 * o.n as f64 / n as f64;
        self.n = n;
    }

    /// Sample standard deviation.
    pub fn sd(&self) -> f64 {
        if self.n < 2 {
            0.0
        } else {
            (self.m2 / (self.n - 1) as f64).sqrt()
        }
    }

    /// Standard error of the mean.
    pub fn std_error(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.sd() / (self.n as f64).sqrt()
        }
    }
}

/// Dense bucket counts for one sign, covering the keys seen so far (and, once cleared for
/// reuse, the keys of the values it held before).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(into = "Trimmed", from = "Trimmed")]
struct Store {
    offset: i32,
    counts: Buckets,
}

/// Bucket counts, narrow while they can be: a chunk's statistics count a few thousand values
/// each, and counts of 16 bits keep the stores of all its statistics four times smaller than
/// counts of 64 (a run counts into a few hundred stores at a time, so their size decides how
/// many of their lines stay in the cache). [`Sketch::reserve`] widens them before a count
/// could overflow.
#[derive(Clone, Debug)]
enum Buckets {
    Narrow(Vec<u16>),
    Wide(Vec<u64>),
}

impl Default for Buckets {
    fn default() -> Self {
        Buckets::Narrow(Vec::new())
    }
}

/// A bucket's count.
trait Count: Copy + Default + Into<u64> {
    /// Adds `n`, which [`Sketch::reserve`] made sure fits.
    fn bump(&mut self, n: u64);
}

impl Count for u16 {
    #[inline(always)]
    fn bump(&mut self, n: u64) {
        debug_assert!(u64::from(*self) + n <= u64::from(u16::MAX));
        *self = self.wrapping_add(n as u16);
    }
}

impl Count for u64 {
    #[inline(always)]
    fn bump(&mut self, n: u64) {
        *self += n;
    }
}

/// Runs `$body` with `$v` bound to the bucket vector, whatever its width.
macro_rules! with_buckets {
    ($buckets:expr, $v:ident => $body:expr) => {
        match $buckets {
            Buckets::Narrow($v) => $body,
            Buckets::Wide($v) => $body,
        }
    };
}

impl Buckets {
    fn len(&self) -> usize {
        with_buckets!(self, v => v.len())
    }

    fn get(&self, i: usize) -> u64 {
        match self {
            Buckets::Narrow(v) => u64::from(v[i]),
            Buckets::Wide(v) => v[i],
        }
    }

    fn sum(&self, range: std::ops::Range<usize>) -> u64 {
        match self {
            Buckets::Narrow(v) => v[range].iter().map(|&c| u64::from(c)).sum(),
            Buckets::Wide(v) => v[range].iter().sum(),
        }
    }

    /// The counts in 64 bits, widened if they were narrow.
    fn wide(&mut self) -> &mut Vec<u64> {
        if let Buckets::Narrow(v) = self {
            *self = Buckets::Wide(v.iter().map(|&c| u64::from(c)).collect());
        }
        match self {
            Buckets::Wide(v) => v,
            Buckets::Narrow(_) => unreachable!("widened above"),
        }
    }
}

/// A [`Store`] as a part file holds it: from its first to its last nonzero count. The range a
/// store covers depends on what it held before it was cleared (which chunk that was depends
/// on the threads' timing), so it is left out.
#[derive(Serialize, Deserialize)]
struct Trimmed {
    offset: i32,
    counts: Vec<u64>,
}

impl From<Store> for Trimmed {
    fn from(s: Store) -> Self {
        let len = s.counts.len();
        let Some(first) = (0..len).find(|&i| s.counts.get(i) > 0) else {
            return Trimmed {
                offset: 0,
                counts: Vec::new(),
            };
        };
        let last = (0..len).rfind(|&i| s.counts.get(i) > 0).unwrap_or(first);
        Trimmed {
            offset: s.offset + first as i32,
            counts: (first..=last).map(|i| s.counts.get(i)).collect(),
        }
    }
}

/// A store read back is wide: its counts are a run's, not a chunk's.
impl From<Trimmed> for Store {
    fn from(t: Trimmed) -> Self {
        Store {
            offset: t.offset,
            counts: Buckets::Wide(t.counts),
        }
    }
}

impl Store {
    /// No counts, keeping the range and the memory: a store reused for the next chunk counts
    /// values of the same kind, which then seldom fall outside the range. Only the buckets of
    /// `used`, the magnitudes it may hold (see [`Sketch::magnitudes`]), can be nonzero.
    fn clear(&mut self, used: Option<(f64, f64)>) {
        if let Some(used) = used {
            let span = self.span(used);
            with_buckets!(&mut self.counts, v => v[span].fill(0));
        }
    }

    /// The indices of the buckets of magnitudes `lo..=hi` that the store covers.
    fn span(&self, (lo, hi): (f64, f64)) -> std::ops::Range<usize> {
        let index = |key: i32| {
            (i64::from(key) - i64::from(self.offset)).clamp(0, self.counts.len() as i64) as usize
        };
        index(key_of(lo))..index(key_of(hi) + 1)
    }

    #[inline(always)]
    fn add(&mut self, key: i32, n: u64) {
        let i = key.wrapping_sub(self.offset) as u32 as usize;
        let inside = with_buckets!(&mut self.counts, v => v.get_mut(i).map(|c| c.bump(n)));
        if inside.is_none() {
            self.add_outside(key, n);
        }
    }

    /// Grows the covered range to take a key outside it.
    #[cold]
    fn add_outside(&mut self, key: i32, n: u64) {
        self.cover(key, key);
        let i = (key - self.offset) as usize;
        with_buckets!(&mut self.counts, v => v[i].bump(n));
    }

    /// Extends the covered range to include `lo..=hi`, with slack on the side that grows so
    /// that a stream of new minima or maxima does not move the counts each time.
    fn cover(&mut self, lo: i32, hi: i32) {
        const SLACK: i32 = 16;
        if self.counts.len() == 0 {
            self.offset = lo;
            with_buckets!(&mut self.counts, v => v.resize((hi - lo + 1) as usize, 0));
            return;
        }
        let end = self.offset + self.counts.len() as i32;
        if lo < self.offset {
            let new_offset = lo.saturating_sub(SLACK);
            let grow = (self.offset - new_offset) as usize;
            with_buckets!(&mut self.counts, v => {
                v.splice(0..0, std::iter::repeat_n(0, grow));
            });
            self.offset = new_offset;
        }
        if hi >= end {
            let new_end = hi.saturating_add(1 + SLACK);
            let len = (new_end - self.offset) as usize;
            with_buckets!(&mut self.counts, v => v.resize(len, 0));
        }
    }

    /// Adds the counts of another store, whose nonzero buckets are among the magnitudes `used`.
    fn merge(&mut self, o: &Store, used: Option<(f64, f64)>) {
        let Some(used) = used else {
            return;
        };
        let span = o.span(used);
        if span.is_empty() {
            return;
        }
        // Cover the other range once, then add the counts slice to slice.
        let (lo, hi) = (o.offset + span.start as i32, o.offset + span.end as i32 - 1);
        self.cover(lo, hi);
        let start = (lo - self.offset) as usize;
        let at = start..start + span.len();
        with_buckets!(&mut self.counts, a => with_buckets!(&o.counts, b => add_counts(&mut a[at.clone()], &b[span.clone()])));
    }

    fn total(&self) -> u64 {
        self.counts.sum(0..self.counts.len())
    }
}

/// Adds `b`'s counts to `a`'s, bucket by bucket.
fn add_counts<A: Count, B: Count>(a: &mut [A], b: &[B]) {
    for (a, &b) in a.iter_mut().zip(b) {
        a.bump(b.into());
    }
}

/// How many distinct values a [`Sketch`] counts exactly.
const EXACT: usize = 4;

/// The [`EXACT`] smallest distinct values seen, each with its exact count.
///
/// A value is dropped only when `EXACT` smaller ones have been seen, so it can never come back
/// into the set, and the values kept have complete counts; merging keeps the smallest of the
/// union, which is associative and commutative (the merge order changes nothing). When a
/// bucket of the sketch holds exactly as many entries as one of these values has, every entry
/// of the bucket is that value, and a quantile falling there reads it exactly.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(into = "Vec<(f64, u64)>", try_from = "Vec<(f64, u64)>")]
struct Exact {
    values: [f64; EXACT],
    counts: [u64; EXACT],
    len: usize,
}

impl Default for Exact {
    fn default() -> Self {
        Exact {
            values: [f64::INFINITY; EXACT],
            counts: [0; EXACT],
            len: 0,
        }
    }
}

/// The values kept and their counts, smallest first (the empty slots hold +inf, which JSON
/// cannot).
impl From<Exact> for Vec<(f64, u64)> {
    fn from(e: Exact) -> Self {
        (0..e.len).map(|i| (e.values[i], e.counts[i])).collect()
    }
}

impl TryFrom<Vec<(f64, u64)>> for Exact {
    type Error = String;
    fn try_from(kept: Vec<(f64, u64)>) -> Result<Self, String> {
        if kept.len() > EXACT {
            return Err(format!("a sketch keeps at most {EXACT} exact values"));
        }
        if kept
            .windows(2)
            .any(|w| w[0].0.partial_cmp(&w[1].0) != Some(std::cmp::Ordering::Less))
        {
            return Err("a sketch's exact values must be finite and increasing".into());
        }
        let mut e = Exact::default();
        for (i, (v, c)) in kept.into_iter().enumerate() {
            if !v.is_finite() {
                return Err("a sketch's exact values must be finite".into());
            }
            e.values[i] = v;
            e.counts[i] = c;
            e.len = i + 1;
        }
        Ok(e)
    }
}

impl Exact {
    /// Values at or above this are not kept (+inf until the set is full).
    #[inline(always)]
    fn bar(&self) -> f64 {
        if self.len < EXACT {
            f64::INFINITY
        } else {
            self.values[EXACT - 1]
        }
    }

    /// Counts `n` entries of `x`; the values stay sorted.
    #[inline(always)]
    fn add(&mut self, x: f64, n: u64) {
        // A value already kept (the common case: zeros and constants repeat) is counted here;
        // a new one is inserted out of line.
        for i in 0..EXACT {
            if i < self.len && self.values[i] == x {
                self.counts[i] += n;
                return;
            }
        }
        self.insert(x, n);
    }

    /// Keeps a value not kept yet, dropping the largest when full.
    #[cold]
    #[inline(never)]
    fn insert(&mut self, x: f64, n: u64) {
        if self.len == EXACT {
            if x >= self.values[EXACT - 1] {
                return;
            }
            self.len -= 1;
        }
        let at = self.values[..self.len].partition_point(|&v| v < x);
        self.values.copy_within(at..self.len, at + 1);
        self.counts.copy_within(at..self.len, at + 1);
        self.values[at] = x;
        self.counts[at] = n;
        self.len += 1;
    }

    /// The value kept that fills a whole bucket of `count` entries, if any.
    fn filling(&self, in_bucket: impl Fn(f64) -> bool, count: u64) -> Option<f64> {
        (0..self.len)
            .find(|&i| self.counts[i] == count && in_bucket(self.values[i]))
            .map(|i| self.values[i])
    }
}

/// A quantile sketch with relative accuracy [`RELATIVE_ACCURACY`]; a quantile that falls on a
/// run of identical values among the four smallest distinct values seen reads that value
/// exactly, and no quantile lies outside the smallest and largest values.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(into = "SketchState", try_from = "SketchState")]
pub struct Sketch {
    negative: Store,
    zero: u64,
    positive: Store,
    exact: Exact,
    /// Smallest and largest values (+inf and -inf when empty).
    min: f64,
    max: f64,
    /// Values counted since the stores were last empty, or more: no bucket holds more (see
    /// [`Sketch::reserve`]).
    in_stores: u64,
}

/// A [`Sketch`] as a part file holds it: the bounds are absent when it is empty (JSON has no
/// infinities).
#[derive(Serialize, Deserialize)]
struct SketchState {
    negative: Store,
    zero: u64,
    positive: Store,
    exact: Exact,
    bounds: Option<(f64, f64)>,
}

impl From<Sketch> for SketchState {
    fn from(s: Sketch) -> Self {
        SketchState {
            bounds: (s.min <= s.max).then_some((s.min, s.max)),
            negative: s.negative,
            zero: s.zero,
            positive: s.positive,
            exact: s.exact,
        }
    }
}

impl TryFrom<SketchState> for Sketch {
    type Error = String;
    fn try_from(s: SketchState) -> Result<Self, String> {
        let (min, max) = s.bounds.unwrap_or((f64::INFINITY, f64::NEG_INFINITY));
        let empty = s.negative.total() + s.zero + s.positive.total() == 0;
        if empty != s.bounds.is_none()
            || (!empty && min.partial_cmp(&max).is_none_or(|o| o.is_gt()))
        {
            return Err("a sketch's bounds do not match its counts".into());
        }
        // Keys are the top bits of a positive double: 0 to 2^19.
        let max_key = (f64::MAX.to_bits() >> SHIFT) as i64;
        for store in [&s.negative, &s.positive] {
            if store.offset < 0 || store.offset as i64 + store.counts.len() as i64 > max_key + 1 {
                return Err("a sketch's buckets lie outside the keys of finite doubles".into());
            }
        }
        let sketch = Sketch {
            in_stores: s.negative.total() + s.zero + s.positive.total(),
            negative: s.negative,
            zero: s.zero,
            positive: s.positive,
            exact: s.exact,
            min,
            max,
        };
        // Merges and clears read only the buckets the bounds allow.
        for (store, used) in [&sketch.negative, &sketch.positive]
            .into_iter()
            .zip(sketch.magnitudes())
        {
            let inside = used.map_or(0, |used| store.counts.sum(store.span(used)));
            if store.total() != inside {
                return Err("a sketch's buckets hold values outside its bounds".into());
            }
        }
        Ok(sketch)
    }
}

impl Default for Sketch {
    fn default() -> Self {
        Sketch {
            negative: Store::default(),
            zero: 0,
            positive: Store::default(),
            exact: Exact::default(),
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            in_stores: 0,
        }
    }
}

/// Bucket of a positive magnitude: its exponent and top mantissa bits.
#[inline]
fn key_of(a: f64) -> i32 {
    (a.to_bits() >> SHIFT) as i32
}

/// Middle of a bucket.
fn value_of(key: i32) -> f64 {
    let lower = f64::from_bits((key as u64) << SHIFT);
    let upper = f64::from_bits(((key + 1) as u64) << SHIFT);
    (lower + upper) / 2.0
}

/// The least and greatest of `min`, `max` and the finite values of `xs`, to the bit what
/// folding `if x < min { x } else { min }` (and its mirror) value by value gives. Partial bounds
/// are kept in eight lanes, a pass for each bound, and halved at the end, so the loops
/// vectorise; lanes can only disagree with the fold on which zero wins a tie between -0.0 and
/// +0.0, which the fold gives to the first zero seen. A column's bounds are compiled per CPU
/// in [`sums_and_bounds`]; a single value's are inlined where it is pushed.
#[inline(always)]
fn bounds(xs: &[f64], min: f64, max: f64) -> (f64, f64) {
    const W: usize = 8;
    // Infinities are left out: each is first made the value that never wins, which leaves a
    // select that compiles to a vector min (or max). NaN never wins: it fails `x < lo`.
    let lower = |lo: f64, x: f64| {
        let x = if x == f64::NEG_INFINITY {
            f64::INFINITY
        } else {
            x
        };
        if x < lo { x } else { lo }
    };
    let upper = |hi: f64, x: f64| {
        let x = if x == f64::INFINITY {
            f64::NEG_INFINITY
        } else {
            x
        };
        if x > hi { x } else { hi }
    };
    let (mut lo, mut hi) = ([min; W], [max; W]);
    let (chunks, rest) = xs.as_chunks::<W>();
    // One bound a pass: folded together, the two chains were shuffled into one vector.
    for c in chunks {
        lo = std::array::from_fn(|j| lower(lo[j], c[j]));
    }
    for c in chunks {
        hi = std::array::from_fn(|j| upper(hi[j], c[j]));
    }
    // A barrier between the passes and the halving: seeing the halving's pairs of lanes, the
    // vectoriser split the passes' lanes into vectors of four and two, with shuffles.
    let (mut lo, mut hi) = std::hint::black_box((lo, hi));
    for &x in rest {
        lo[0] = lower(lo[0], x);
        hi[0] = upper(hi[0], x);
    }
    let mut w = W;
    while w > 1 {
        w /= 2;
        for j in 0..w {
            lo[j] = lower(lo[j], lo[j + w]);
            hi[j] = upper(hi[j], hi[j + w]);
        }
    }
    let (mut new_min, mut new_max) = (lo[0], hi[0]);
    let first_zero = || xs.iter().copied().find(|&x| x == 0.0);
    if new_min == 0.0 && min != 0.0 {
        new_min = first_zero().unwrap_or(new_min);
    }
    if new_max == 0.0 && max != 0.0 {
        new_max = first_zero().unwrap_or(new_max);
    }
    (new_min, new_max)
}

/// Where a sketch counts a value.
enum Bucket {
    /// In the store of its sign, under `key`.
    Store { negative: bool, key: i32 },
    /// Among the zeros (magnitude below [`MIN_MAGNITUDE`]).
    Zero,
    /// Nowhere: NaN and the infinities.
    Nowhere,
}

/// Where a sketch counts `x`.
#[inline(always)]
fn bucket_of(x: f64) -> Bucket {
    let a = x.abs();
    if (MIN_MAGNITUDE..=f64::MAX).contains(&a) {
        Bucket::Store {
            negative: x.is_sign_negative(),
            key: key_of(a),
        }
    } else if a < MIN_MAGNITUDE {
        Bucket::Zero
    } else {
        Bucket::Nowhere
    }
}

/// Values that [`classify`] looks at together.
const BLOCK: usize = 64;

/// Bits of the magnitudes a store can count: [`MIN_MAGNITUDE`] to `f64::MAX` (above it lie
/// the infinities and NaN, below it the zeros).
const MIN_BITS: u64 = MIN_MAGNITUDE.to_bits();
const MAX_BITS: u64 = f64::MAX.to_bits();

/// Where a code's store sits: its top two bits select the positive store, the negative, or
/// for a value that is not plain, a scratch bucket whose count is thrown away. The index below
/// them fits: a store has at most 2^18 buckets, one per key of a finite magnitude.
const STORE_SHIFT: u32 = 30;
/// The code of a value that is not plain (see [`classify`]): the scratch bucket.
const SLOW: u32 = 2 << STORE_SHIFT;

/// Which values of a block [`Sketch::tally_column`] looks at one by one, a bit per value.
struct BlockMarks {
    /// Values that are not plain (see [`classify`]), counted by [`Sketch::tally`].
    slow: u64,
    /// Plain values below the exact set's bar, which the set may have to count.
    below: u64,
}

/// Where each value of `xs` (at most [`BLOCK`]) is counted when it is plain, that is, when it
/// falls in the range of its sign's store (`(offset, len)` each): its index in that store,
/// with the store in the top bits ([`STORE_SHIFT`]), into `codes`. A value that is not plain
/// (a zero, NaN, an infinity, a magnitude outside its store) gets [`SLOW`] and a bit in the
/// marks' `slow`; a plain value below `bar`, a bit in their `below`. A pass of its own over
/// integers and selects, so it vectorises; compiled for the widest vector unit the CPU has.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl+avx512bw+avx512dq", "x86_64+avx2"))]
fn classify(
    xs: &[f64],
    bar: f64,
    negative: (i32, usize),
    positive: (i32, usize),
    codes: &mut [u32; BLOCK],
) -> BlockMarks {
    let (mut slow, mut below) = (0u64, 0u64);
    for (i, (&x, code)) in xs.iter().zip(codes.iter_mut()).enumerate() {
        let sign = x.to_bits() >> 63;
        let magnitude = x.to_bits() & !(1 << 63);
        let (offset, len) = if sign != 0 { negative } else { positive };
        let index = ((magnitude >> SHIFT) as i32).wrapping_sub(offset) as u32;
        let plain = (MIN_BITS..=MAX_BITS).contains(&magnitude) & ((index as usize) < len);
        *code = if plain {
            index | (sign as u32) << STORE_SHIFT
        } else {
            SLOW
        };
        slow |= u64::from(!plain) << i;
        below |= u64::from(plain & (x < bar)) << i;
    }
    BlockMarks { slow, below }
}

/// Counts each plain value of a block in its bucket, `codes` in the stores their top bits
/// select (positive, negative), the others in a scratch bucket: one pass without branches.
///
/// # Safety
///
/// Every code is one that [`classify`] gave for these stores: a plain value's index is below
/// its store's length (unchecked here: the bounds checks were a tenth of the loop's
/// instructions).
#[inline(never)]
unsafe fn count_plain<C: Count>(codes: &[u32], [positive, negative]: [&mut [C]; 2]) {
    let mut scratch = [C::default()];
    let mut stores: [&mut [C]; 3] = [positive, negative, &mut scratch];
    for &code in codes {
        let (store, index) = (
            (code >> STORE_SHIFT) as usize,
            (code & ((1 << STORE_SHIFT) - 1)) as usize,
        );
        debug_assert!(store < 3 && index < stores[store].len());
        // SAFETY: `store` is 0, 1 or 2 (a code's top bits), and the caller's contract bounds
        // `index` (a slow value's is 0, the scratch bucket's).
        unsafe {
            stores
                .get_unchecked_mut(store)
                .get_unchecked_mut(index)
                .bump(1)
        };
    }
}

impl Sketch {
    /// Adds a value (non-finite values are ignored).
    #[inline(always)]
    pub fn push(&mut self, x: f64) {
        (self.min, self.max) = bounds(&[x], self.min, self.max);
        self.reserve(1);
        let mut bar = self.exact.bar();
        self.tally(x, &mut bar);
    }

    /// Counts a column's values, each as [`Sketch::tally`] would. Each block of values is
    /// classified first ([`classify`]) and its plain values counted in their buckets at once
    /// ([`count_plain`]); then, in order, the values that are not plain go through `tally`,
    /// and the plain ones below the exact set's bar are offered to the set. Buckets are
    /// integer counts, so counting the plain ones first changes nothing; the exact set, which
    /// depends on the order, sees its values in the column's order. The bar only falls, so a
    /// value not below it at the block's start never is later.
    #[inline]
    fn tally_column(&mut self, xs: &[f64]) {
        self.reserve(xs.len() as u64);
        let mut bar = self.exact.bar();
        let mut codes = [SLOW; BLOCK];
        for block in xs.chunks(BLOCK) {
            let marks = classify(
                block,
                bar,
                (self.negative.offset, self.negative.counts.len()),
                (self.positive.offset, self.positive.counts.len()),
                &mut codes,
            );
            let codes = &codes[..block.len()];
            // SAFETY: `codes` are `classify`'s for these stores, which nothing has moved
            // since (only `tally`, below, can).
            unsafe {
                match (&mut self.positive.counts, &mut self.negative.counts) {
                    (Buckets::Narrow(p), Buckets::Narrow(n)) => count_plain(codes, [p, n]),
                    (p, n) => count_plain(codes, [p.wide(), n.wide()]),
                }
            }
            let mut pending = marks.slow | marks.below;
            while pending != 0 {
                let i = pending.trailing_zeros() as usize;
                pending &= pending - 1;
                let x = block[i];
                if marks.slow >> i & 1 != 0 {
                    self.tally(x, &mut bar);
                } else if x < bar {
                    self.exact.add(x, 1);
                    bar = self.exact.bar();
                }
            }
        }
    }

    /// Makes room in the stores for `n` more values: their counts widen to 64 bits before
    /// one could pass 16 bits.
    #[inline]
    fn reserve(&mut self, n: u64) {
        self.in_stores = self.in_stores.saturating_add(n);
        if self.in_stores > u64::from(u16::MAX) {
            self.negative.counts.wide();
            self.positive.counts.wide();
        }
    }

    /// Counts a value in the exact set and the buckets (the bounds aside, and room made by
    /// [`Sketch::reserve`]); `bar` is the exact set's [`Exact::bar`], kept by the caller across
    /// a column.
    #[inline(always)]
    fn tally(&mut self, x: f64, bar: &mut f64) {
        // `x < bar` fails for NaN and +inf; -inf is ruled out second, as it is rare.
        if x < *bar && x.is_finite() {
            self.exact.add(x, 1);
            *bar = self.exact.bar();
        }
        self.add_to(bucket_of(x), 1);
    }

    /// Counts `n` entries in `bucket`.
    #[inline(always)]
    fn add_to(&mut self, bucket: Bucket, n: u64) {
        match bucket {
            Bucket::Store { negative, key } => {
                let store = if negative {
                    &mut self.negative
                } else {
                    &mut self.positive
                };
                store.add(key, n);
            }
            Bucket::Zero => self.zero += n,
            Bucket::Nowhere => {}
        }
    }

    /// Adds `n` entries of `x`, as `n` calls of [`Sketch::push`] would.
    fn push_repeated(&mut self, x: f64, n: u64) {
        if !x.is_finite() || n == 0 {
            return;
        }
        (self.min, self.max) = bounds(&[x], self.min, self.max);
        self.reserve(n);
        if x < self.exact.bar() {
            self.exact.add(x, 1);
            // The first entry may have made `x` the largest value kept, which a full set does
            // not count again (see `Exact::bar`).
            if x < self.exact.bar() {
                self.exact.add(x, n - 1);
            }
        }
        self.add_to(bucket_of(x), n);
    }

    /// The magnitudes that the negative and the positive store can hold, from the bounds:
    /// only their buckets can be nonzero (`None`: no bucket).
    fn magnitudes(&self) -> [Option<(f64, f64)>; 2] {
        let negative =
            (self.min <= -MIN_MAGNITUDE).then(|| ((-self.max).max(MIN_MAGNITUDE), -self.min));
        let positive = (self.max >= MIN_MAGNITUDE).then(|| (self.min.max(MIN_MAGNITUDE), self.max));
        [negative, positive]
    }

    /// Empty again, as when new, keeping the memory of its buckets: a sketch reused for the
    /// next chunk does not allocate its stores again.
    pub fn clear(&mut self) {
        let [negative, positive] = self.magnitudes();
        self.negative.clear(negative);
        self.positive.clear(positive);
        self.zero = 0;
        self.exact = Exact::default();
        self.min = f64::INFINITY;
        self.max = f64::NEG_INFINITY;
        self.in_stores = 0;
    }

    /// Merges another sketch; the result does not depend on the order of merges.
    pub fn merge(&mut self, o: &Sketch) {
        self.reserve(o.in_stores);
        let [negative, positive] = o.magnitudes();
        self.negative.merge(&o.negative, negative);
        self.positive.merge(&o.positive, positive);
        self.zero += o.zero;
        for i in 0..o.exact.len {
            self.exact.add(o.exact.values[i], o.exact.counts[i]);
        }
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
    }

    /// Number of values.
    pub fn count(&self) -> u64 {
        self.negative.total() + self.zero + self.positive.total()
    }

    /// The q-quantile (0 <= q <= 1), within the relative accuracy and never outside the
    /// smallest and largest values; NaN when empty.
    pub fn quantile(&self, q: f64) -> f64 {
        let n = self.count();
        if n == 0 {
            return f64::NAN;
        }
        let rank = (q.clamp(0.0, 1.0) * (n - 1) as f64).floor() as u64;
        // A bucket reads as the value that fills it, or as its middle.
        let read = |key: i32, count: u64, sign: f64| {
            let in_bucket = |v: f64| v * sign >= MIN_MAGNITUDE && key_of(v.abs()) == key;
            let exact = self.exact.filling(in_bucket, count);
            self.clamp(exact.unwrap_or(sign * value_of(key)))
        };
        let mut seen = 0;
        for i in (0..self.negative.counts.len()).rev() {
            let c = self.negative.counts.get(i);
            seen += c;
            if seen > rank {
                return read(self.negative.offset + i as i32, c, -1.0);
            }
        }
        seen += self.zero;
        if seen > rank {
            let exact = self.exact.filling(|v| v.abs() < MIN_MAGNITUDE, self.zero);
            // `+ 0.0` turns -0 into 0.
            return self.clamp(exact.unwrap_or(0.0)) + 0.0;
        }
        for i in 0..self.positive.counts.len() {
            let c = self.positive.counts.get(i);
            seen += c;
            if seen > rank {
                return read(self.positive.offset + i as i32, c, 1.0);
            }
        }
        self.max
    }

    fn clamp(&self, v: f64) -> f64 {
        v.clamp(self.min, self.max)
    }
}

/// Count, exact sum and exact sum of squares: moments that merge to the same bits in any
/// order and any grouping (threads, chunks, shards on other machines).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ExactMoments {
    /// Number of values.
    pub n: u64,
    /// Sum of the values.
    sum: ExactSum,
    /// Sum of their squares.
    sum_sq: ExactSum,
}

impl ExactMoments {
    /// Adds a chunk's sums: `n` values whose sum of `x - shift` is `sum` and of `(x -
    /// shift)^2` is `sum_sq`. Every product is split exactly, so the chunk adds
    /// `n shift + sum` and `sum_sq + 2 shift sum + n shift^2` to the totals without rounding.
    fn add_shifted(&mut self, n: u64, shift: f64, sum: f64, sum_sq: f64) {
        let count = n as f64;
        self.n += n;
        self.sum.add_product(count, shift);
        self.sum.add(sum);
        self.sum_sq.add(sum_sq);
        self.sum_sq.add_product(2.0 * shift, sum);
        let square = shift * shift;
        self.sum_sq.add_product(count, square);
        self.sum_sq
            .add_product(count, shift.mul_add(shift, -square));
    }

    /// Adds other moments.
    pub fn merge(&mut self, o: &ExactMoments) {
        self.n += o.n;
        self.sum.merge(&o.sum);
        self.sum_sq.merge(&o.sum_sq);
    }

    /// Mean and sum of squared deviations, each rounded once from the exact sums (in
    /// double-double arithmetic, so `sum_sq - sum^2 / n` keeps its digits).
    pub fn moments(&self) -> Moments {
        if self.n == 0 {
            return Moments::default();
        }
        let (s1, s2) = (self.sum.value(), self.sum_sq.value());
        let mean = s1 / self.n as f64;
        let m2 = (s2 - s1 * mean).hi;
        Moments {
            n: self.n,
            mean: mean.hi,
            m2: m2.max(0.0),
        }
    }
}

/// Lanes of a [`Stat`]'s sums within a chunk.
const SUM_LANES: usize = 8;

/// Sums in [`SUM_LANES`] lanes: a chunk's `k`-th value is added to lane `k % SUM_LANES`.
type LaneSums = [f64; SUM_LANES];

/// Adds each value's `x - shift` to `sum` and its square to `sum_sq`, the first value to lane
/// `lane` and each next one to the next lane, round the lanes. Each lane is a chain of adds
/// of its own, so a column's sums run in vectors and not as one chain of dependent adds; the
/// lanes are the algorithm's, not the vector unit's, so the bits do not depend on the CPU.
#[inline(always)]
fn add_to_lanes(xs: &[f64], shift: f64, lane: usize, sum: &mut LaneSums, sum_sq: &mut LaneSums) {
    let head = ((SUM_LANES - lane) % SUM_LANES).min(xs.len());
    let (head, body) = xs.split_at(head);
    for (j, &x) in head.iter().enumerate() {
        let d = x - shift;
        sum[lane + j] += d;
        sum_sq[lane + j] += d * d;
    }
    let (chunks, rest) = body.as_chunks::<SUM_LANES>();
    // One sum a pass, over whole rows, from copies: folded together, or written element by
    // element, the lanes were split by the vectoriser into scalar adds and shuffles.
    let mut s = std::hint::black_box(*sum);
    for c in chunks {
        s = std::array::from_fn(|j| s[j] + (c[j] - shift));
    }
    let mut q = std::hint::black_box(*sum_sq);
    for c in chunks {
        q = std::array::from_fn(|j| {
            let d = c[j] - shift;
            q[j] + d * d
        });
    }
    for (j, &x) in rest.iter().enumerate() {
        let d = x - shift;
        s[j] += d;
        q[j] += d * d;
    }
    (*sum, *sum_sq) = (s, q);
}

/// The sum of a chunk's lanes, in a fixed tree: neighbours in pairs, then pairs of pairs.
fn lane_total(lanes: &LaneSums) -> f64 {
    let mut w = *lanes;
    let mut n = SUM_LANES;
    while n > 1 {
        n /= 2;
        for j in 0..n {
            w[j] = w[2 * j] + w[2 * j + 1];
        }
    }
    w[0]
}

/// A column's sums ([`add_to_lanes`]) and bounds ([`bounds`]), in one call compiled for the
/// widest vector unit the CPU has, chosen when it runs.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2"))]
fn sums_and_bounds(
    xs: &[f64],
    shift: f64,
    lane: usize,
    (sum, sum_sq): (&mut LaneSums, &mut LaneSums),
    (min, max): (f64, f64),
) -> (f64, f64) {
    add_to_lanes(xs, shift, lane, sum, sum_sq);
    bounds(xs, min, max)
}

/// Mean, standard error and quantiles of one metric.
///
/// Within a chunk, values are summed in plain floating point, in [`SUM_LANES`] lanes by their
/// place in the chunk, and the lanes added in a fixed tree at its end (cheap in the per-path
/// loop, and in vectors: one chain of adds in path order took a sixth of the statistics'
/// time); when chunks merge, each chunk's sums are added exactly to [`ExactMoments`], so a
/// total does not depend on the order or grouping of the merges, only on the chunks.
#[derive(Clone, Debug, Default)]
pub struct Stat {
    n: u64,
    /// The chunk's first value: sums are of `x - shift`, which keeps the variance accurate.
    shift: f64,
    sum: LaneSums,
    sum_sq: LaneSums,
    /// Chunks merged so far (boxed: only totals have them, and chunks stay small).
    sealed: Option<Box<ExactMoments>>,
    /// Quantiles.
    pub sketch: Sketch,
}

impl Stat {
    /// Adds a value to both the sums and the sketch.
    #[inline(always)]
    pub fn push(&mut self, x: f64) {
        self.push_column(std::slice::from_ref(&x));
    }

    /// Adds a column of values in order: the same bits however the values are split into
    /// columns (one at a time included).
    #[inline]
    pub fn push_column(&mut self, xs: &[f64]) {
        if self.begin_column(xs) {
            return;
        }
        self.sketch.tally_column(xs);
    }

    /// Sums a column, and counts it and moves the bounds, or counts a column of one value at
    /// once: true when the column is done, false when its values remain to be counted in the
    /// sketch (the sums, the bounds and the count are done).
    #[inline]
    fn begin_column(&mut self, xs: &[f64]) -> bool {
        let Some(&first) = xs.first() else {
            return true;
        };
        if self.n == 0 {
            self.shift = first;
        }
        let lane = (self.n % SUM_LANES as u64) as usize;
        self.n += xs.len() as u64;
        // A column of one value (zeros, constants) is counted at once. Its sums move only if
        // it differs from the shift: `d = 0` adds nothing to sums that start at +0.0.
        if xs.len() > 1 && xs.iter().all(|x| x.to_bits() == first.to_bits()) {
            if first - self.shift != 0.0 {
                add_to_lanes(xs, self.shift, lane, &mut self.sum, &mut self.sum_sq);
            }
            self.sketch.push_repeated(first, xs.len() as u64);
            return true;
        }
        let s = &mut self.sketch;
        (s.min, s.max) = sums_and_bounds(
            xs,
            self.shift,
            lane,
            (&mut self.sum, &mut self.sum_sq),
            (s.min, s.max),
        );
        false
    }

    /// Empty again, keeping the sketch's memory (see [`Sketch::clear`]).
    pub fn clear(&mut self) {
        self.n = 0;
        self.shift = 0.0;
        self.sum = LaneSums::default();
        self.sum_sq = LaneSums::default();
        self.sealed = None;
        self.sketch.clear();
    }

    /// All values so far, as exactly mergeable moments.
    pub fn exact(&self) -> ExactMoments {
        let mut m = self.sealed.as_deref().cloned().unwrap_or_default();
        self.seal_into(&mut m);
        m
    }

    /// Adds the chunk's sums to `m`.
    fn seal_into(&self, m: &mut ExactMoments) {
        if self.n > 0 {
            let (sum, sum_sq) = (lane_total(&self.sum), lane_total(&self.sum_sq));
            m.add_shifted(self.n, self.shift, sum, sum_sq);
        }
    }

    /// All values so far as moments.
    pub fn moments(&self) -> Moments {
        self.exact().moments()
    }

    /// Merges another chunk's statistics; any order of merges gives the same bits.
    pub fn merge(&mut self, o: &Stat) {
        // In place: exact sums add to the same bits in any order.
        let mut sealed = self.sealed.take().unwrap_or_default();
        self.seal_into(&mut sealed);
        if let Some(other) = &o.sealed {
            sealed.merge(other);
        }
        o.seal_into(&mut sealed);
        self.sealed = Some(sealed);
        self.n = 0;
        self.sum = LaneSums::default();
        self.sum_sq = LaneSums::default();
        self.sketch.merge(&o.sketch);
    }

    /// The summary reported to users; `None` when no path contributed.
    pub fn summary(&self) -> Option<StatSummary> {
        let m = self.moments();
        if m.n == 0 {
            return None;
        }
        let q = |p| self.sketch.quantile(p);
        Some(StatSummary {
            mean: m.mean,
            std_error: m.std_error(),
            p5: q(0.05),
            p25: q(0.25),
            p50: q(0.5),
            p75: q(0.75),
            p95: q(0.95),
            count: m.n,
        })
    }
}

/// A [`Stat`] in a part file: its exact moments and its sketch.
#[derive(Serialize, Deserialize)]
struct StatState {
    moments: ExactMoments,
    sketch: Sketch,
}

impl Serialize for Stat {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        StatState {
            moments: self.exact(),
            sketch: self.sketch.clone(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Stat {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let state = StatState::deserialize(d)?;
        if state.sketch.count() > state.moments.n {
            return Err(serde::de::Error::custom(format!(
                "a statistic counts {} values in its moments but {} in its sketch",
                state.moments.n,
                state.sketch.count()
            )));
        }
        Ok(Stat {
            sealed: Some(Box::new(state.moments)),
            sketch: state.sketch,
            ..Stat::default()
        })
    }
}

/// What `summary.json` holds for a metric.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct StatSummary {
    /// Mean over paths.
    pub mean: f64,
    /// Standard error of the mean.
    pub std_error: f64,
    /// 5th percentile.
    pub p5: f64,
    /// 25th percentile.
    pub p25: f64,
    /// Median.
    pub p50: f64,
    /// 75th percentile.
    pub p75: f64,
    /// 95th percentile.
    pub p95: f64,
    /// Number of paths that contributed.
    pub count: u64,
}

/// A proportion with its 95% Wilson score interval.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct Proportion {
    /// Estimated probability.
    pub probability: f64,
    /// 95% interval [low, high].
    pub ci95: [f64; 2],
    /// Paths where it happened.
    pub hits: u64,
    /// Paths in all.
    pub paths: u64,
}

/// The estimate and 95% Wilson interval for `hits` out of `n`.
pub fn wilson(hits: u64, n: u64) -> Proportion {
    if n == 0 {
        return Proportion {
            probability: f64::NAN,
            ci95: [0.0, 1.0],
            hits,
            paths: n,
        };
    }
    let z = 1.959_963_984_540_054;
    let (k, n_f) = (hits as f64, n as f64);
    let p = k / n_f;
    let denom = 1.0 + z * z / n_f;
    let centre = (p + z * z / (2.0 * n_f)) / denom;
    let half = z * (p * (1.0 - p) / n_f + z * z / (4.0 * n_f * n_f)).sqrt() / denom;
    Proportion {
        probability: p,
        // The bounds are exactly 0 and 1 at the extremes (the formula leaves rounding dust).
        ci95: [
            if hits == 0 {
                0.0
            } else {
                (centre - half).max(0.0)
            },
            if hits == n {
                1.0
            } else {
                (centre + half).min(1.0)
            },
        ],
        hits,
        paths: n,
    }
}

/// Exact counts over `len` outcomes.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Counts {
    /// Count per outcome.
    pub counts: Vec<u64>,
}

impl Counts {
    /// Zeroed counts over `len` outcomes.
    pub fn new(len: usize) -> Self {
        Counts {
            counts: vec![0; len],
        }
    }
    /// Counts one outcome.
    #[inline]
    pub fn add(&mut self, i: usize) {
        self.counts[i] += 1;
    }
    /// No counts.
    pub fn clear(&mut self) {
        self.counts.fill(0);
    }
    /// Adds another histogram.
    pub fn merge(&mut self, o: &Counts) {
        for (a, b) in self.counts.iter_mut().zip(&o.counts) {
            *a += b;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_column_folds_to_the_bits_of_one_value_at_a_time() {
        // Signs, zeros of both signs, dust, repeats, non-finite values and a new minimum late.
        let mut xs: Vec<f64> = (0..500)
            .map(|i| ((i * 7919) % 613) as f64 / 7.0 - 30.0)
            .collect();
        xs.extend([
            0.0,
            -0.0,
            1e-12,
            -1e-12,
            5.0,
            5.0,
            f64::NAN,
            f64::INFINITY,
            -1e6,
            3.25,
        ]);
        for split in [1, 3, 128, xs.len()] {
            let (mut one, mut column) = (Stat::default(), Stat::default());
            for &x in &xs {
                one.push(x);
            }
            for chunk in xs.chunks(split) {
                column.push_column(chunk);
            }
            column.push_column(&[]);
            let (a, b) = (one.summary().unwrap(), column.summary().unwrap());
            assert_eq!(format!("{a:?}"), format!("{b:?}"), "split {split}");
            assert_eq!(
                serde_json::to_string(&one).unwrap(),
                serde_json::to_string(&column).unwrap()
            );
        }
    }

    /// The fold of one value as first written, field by field: the specification that the
    /// column code (bounds in vectors, runs of one value at once) must meet to the bit.
    fn push_as_specified(s: &mut Stat, x: f64) {
        if s.n == 0 {
            s.shift = x;
        }
        let lane = (s.n % SUM_LANES as u64) as usize;
        s.n += 1;
        let d = x - s.shift;
        s.sum[lane] += d;
        s.sum_sq[lane] += d * d;
        let k = &mut s.sketch;
        if !x.is_finite() {
            return;
        }
        k.min = if x < k.min { x } else { k.min };
        k.max = if x > k.max { x } else { k.max };
        if x < k.exact.bar() {
            k.exact.add(x, 1);
        }
        let a = x.abs();
        if a < MIN_MAGNITUDE {
            k.zero += 1;
        } else if x.is_sign_negative() {
            k.negative.add(key_of(a), 1);
        } else {
            k.positive.add(key_of(a), 1);
        }
    }

    #[test]
    fn columns_fold_to_the_bits_of_the_specified_fold() {
        // Each case is a run of columns: ties of zeros of both signs after a positive minimum
        // and before a negative maximum, runs of one value (zeros, constants, dust, NaN,
        // infinities), a run whose first entry becomes the largest value of a full exact set,
        // and a mixed column long enough for the vector loop and its remainder.
        let mixed: Vec<f64> = (0..300)
            .map(|i| ((i * 7919) % 613) as f64 / 7.0 - 30.0)
            .collect();
        let cases: Vec<Vec<Vec<f64>>> = vec![
            vec![vec![3.0, -0.0, 0.0, 2.0], vec![0.0, -0.0]],
            // In lanes: a later lane's -0.0 comes first, lane 0's +0.0 after it.
            vec![vec![3.0, 3.0, -0.0, 3.0, 3.0, 3.0, 3.0, 3.0, 0.0, 3.0, 1.0]],
            vec![vec![
                -3.0, -3.0, 0.0, -3.0, -3.0, -3.0, -3.0, -3.0, -0.0, -3.0,
            ]],
            vec![
                vec![3.0],
                vec![0.0, 5.0, -0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
            ],
            vec![vec![-3.0, -0.0, 0.0], vec![-1.0; 9], vec![0.0; 3]],
            vec![vec![5.0; 130], vec![0.0; 64], vec![-0.0; 9], vec![1e-12; 5]],
            vec![
                vec![f64::NAN; 4],
                vec![f64::INFINITY; 3],
                vec![f64::NEG_INFINITY; 2],
            ],
            vec![vec![1.0, 2.0, 3.0], vec![7.0; 5]],
            vec![
                vec![1.0, 2.0, 3.0],
                vec![7.0; 5],
                vec![0.5; 3],
                vec![7.0; 2],
            ],
            vec![vec![1.0, 2.0, 3.0, 4.0], vec![4.0; 6], vec![-2.0; 17]],
            vec![
                mixed.clone(),
                vec![f64::NAN, -1e6, f64::NEG_INFINITY, 0.0, -0.0],
            ],
        ];
        // Blocks of the counting pass: magnitudes that keep growing both stores (which moves
        // them in the middle of a block), new minima that lower the exact set's bar, zeros
        // and dust between plain values, in columns shorter, as long and longer than a block.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut noisy = Vec::new();
        for i in 0..2000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let u = (state >> 11) as f64 / (1u64 << 53) as f64;
            let sign = if state & 1 == 0 { 1.0 } else { -1.0 };
            noisy.push(match i % 37 {
                0 => 0.0,
                1 => -1e-10,
                2 => -(i as f64) * 1e3,
                _ => sign * (1.0 + 50.0 * u) * (1.0 + i as f64 / 100.0),
            });
        }
        let mut columns = Vec::new();
        let mut rest = &noisy[..];
        for len in [1, 7, 64, 65, 128, 200].into_iter().cycle() {
            let (column, tail) = rest.split_at(len.min(rest.len()));
            columns.push(column.to_vec());
            rest = tail;
            if rest.is_empty() {
                break;
            }
        }
        let mut cases = cases;
        cases.push(columns);
        // In lanes of the vector bounds (sixteen, and eight for a narrower width): a later
        // lane's zero comes first, lane 0's zero of the other sign a chunk later.
        for width in [8, 16] {
            for (first, second, fill) in [(-0.0, 0.0, 3.0), (0.0, -0.0, -3.0)] {
                let mut xs = vec![fill; 2 * width + 3];
                (xs[2], xs[width]) = (first, second);
                cases.push(vec![xs]);
            }
        }
        for (c, columns) in cases.iter().enumerate() {
            let (mut spec, mut column) = (Stat::default(), Stat::default());
            for xs in columns {
                xs.iter().for_each(|&x| push_as_specified(&mut spec, x));
                column.push_column(xs);
            }
            let json = |s: &Stat| serde_json::to_string(s).unwrap();
            assert_eq!(json(&spec), json(&column), "case {c}");
            let (a, b) = (spec.sketch.min, column.sketch.min);
            assert_eq!(a.to_bits(), b.to_bits(), "case {c}: min {a:?} vs {b:?}");
            let (a, b) = (spec.sketch.max, column.sketch.max);
            assert_eq!(a.to_bits(), b.to_bits(), "case {c}: max {a:?} vs {b:?}");
            let bits = |lanes: &LaneSums| lanes.map(f64::to_bits);
            assert_eq!(
                (bits(&spec.sum), bits(&spec.sum_sq)),
                (bits(&column.sum), bits(&column.sum_sq)),
                "case {c}"
            );
        }
    }

    #[test]
    fn a_cleared_statistic_writes_what_a_new_one_writes() {
        // Held before: a wide range of both signs, which the cleared stores keep covering.
        let before: Vec<f64> = (0..200).map(|i| (i as f64 - 100.0) * 1e6 + 0.5).collect();
        let after = [3.0, -2.5, 0.0, 7.25, 3.0];
        let mut reused = Stat::default();
        reused.push_column(&before);
        reused.clear();
        reused.push_column(&after);
        let mut new = Stat::default();
        new.push_column(&after);
        let json = |s: &Stat| serde_json::to_string(s).unwrap();
        assert_eq!(json(&reused), json(&new));
        let (mut empty, mut cleared) = (Stat::default(), Stat::default());
        cleared.push_column(&before);
        cleared.clear();
        assert_eq!(json(&cleared), json(&empty));
        // A part file whose buckets lie outside its bounds is refused.
        let mut outside: serde_json::Value = serde_json::from_str(&json(&new)).unwrap();
        outside["sketch"]["bounds"] = serde_json::json!([-2.5, 5.0]);
        let error = serde_json::from_value::<Stat>(outside).unwrap_err();
        assert!(error.to_string().contains("outside its bounds"), "{error}");
        // A part file read back counts as the stores it was written from.
        let back: Stat = serde_json::from_str(&json(&reused)).unwrap();
        assert_eq!(json(&back), json(&new));
        empty.merge(&back);
        assert_eq!(empty.summary(), new.summary());
    }

    #[test]
    fn a_bucket_counts_past_sixteen_bits_exactly() {
        // 70,000 values of one bucket, through each way of counting: columns (plain values
        // counted in blocks), repeated values, merges, and single pushes.
        const N: u64 = 70_000;
        let bucket = |s: &Sketch, x: f64| {
            let store = &s.positive;
            store.counts.get((key_of(x) - store.offset) as usize)
        };
        let mut columns = Stat::default();
        let column: Vec<f64> = (0..1000)
            .map(|i| if i % 10 == 0 { 2.0 } else { 1.0 })
            .collect();
        for _ in 0..N / 900 + 1 {
            columns.push_column(&column);
        }
        let ones = (N / 900 + 1) * 900;
        assert_eq!(bucket(&columns.sketch, 1.0), ones);
        assert_eq!(columns.sketch.count(), ones / 9 * 10);
        let mut repeated = Stat::default();
        repeated.push_column(&vec![1.0; N as usize]);
        assert_eq!(bucket(&repeated.sketch, 1.0), N);
        let mut merged = Sketch::default();
        for _ in 0..7 {
            let mut part = Sketch::default();
            (0..N / 7).for_each(|_| part.push(1.0));
            // A chunk's counts are narrow; only a total that could overflow them is widened.
            assert!(matches!(part.positive.counts, Buckets::Narrow(_)));
            merged.merge(&part);
        }
        assert_eq!(bucket(&merged, 1.0), N);
        assert!(matches!(merged.positive.counts, Buckets::Wide(_)));
        // Widened counts write what narrow ones write, and a cleared wide sketch counts on.
        let json = |s: &Sketch| serde_json::to_string(s).unwrap();
        let (mut narrow, mut wide) = (Sketch::default(), merged.clone());
        wide.clear();
        for x in [3.0, -2.0, 0.0, 3.0, 1e-3] {
            narrow.push(x);
            wide.push(x);
        }
        assert_eq!(json(&narrow), json(&wide));
        let back: Sketch = serde_json::from_str(&json(&merged)).unwrap();
        assert_eq!(bucket(&back, 1.0), N);
    }

    #[test]
    fn moments_merge_matches_one_pass() {
        let xs: Vec<f64> = (0..1000).map(|i| ((i * 37) % 101) as f64 - 20.0).collect();
        let mut all = Moments::default();
        xs.iter().for_each(|&x| all.push(x));
        let (mut a, mut b) = (Moments::default(), Moments::default());
        xs[..400].iter().for_each(|&x| a.push(x));
        xs[400..].iter().for_each(|&x| b.push(x));
        a.merge(&b);
        assert_eq!(a.n, all.n);
        assert!((a.mean - all.mean).abs() < 1e-12);
        assert!((a.sd() - all.sd()).abs() < 1e-10);
    }

    #[test]
    fn sketch_quantiles_are_within_relative_accuracy() {
        let mut s = Sketch::default();
        let xs: Vec<f64> = (1..=10_000).map(|i| i as f64 * 0.01 - 30.0).collect();
        xs.iter().for_each(|&x| s.push(x));
        for q in [0.05, 0.25, 0.5, 0.75, 0.95] {
            let exact = xs[(q * (xs.len() - 1) as f64).floor() as usize];
            let got = s.quantile(q);
            assert!(
                (got - exact).abs() <= RELATIVE_ACCURACY * exact.abs() + 1e-9,
                "q={q}: {got} vs {exact}"
            );
        }
    }

    #[test]
    fn sketch_merge_is_order_independent() {
        let mut parts: Vec<Sketch> = (0..4).map(|_| Sketch::default()).collect();
        for i in 0..4000 {
            parts[i % 4].push((i as f64).sin() * 100.0);
        }
        let mut ab = parts[0].clone();
        ab.merge(&parts[1]);
        ab.merge(&parts[2]);
        ab.merge(&parts[3]);
        let mut ba = parts[3].clone();
        ba.merge(&parts[2]);
        ba.merge(&parts[0]);
        ba.merge(&parts[1]);
        for q in [0.01, 0.3, 0.5, 0.99] {
            assert_eq!(ab.quantile(q).to_bits(), ba.quantile(q).to_bits());
        }
    }

    #[test]
    fn merging_disjoint_and_overlapping_ranges_equals_one_pass() {
        // Parts whose bucket ranges lie below, above, inside and across each other, on both
        // signs and with zeros: merged, they must count exactly what one sketch of all values
        // counts.
        let parts: [&[f64]; 5] = [
            &[1e-6, 2e-6, -3e-6],
            &[5e3, 7e3, -9e3, 0.0],
            &[1.0, 1.5, -1.25],
            &[1e-7, 1e4, -1e-7, -1e4],
            &[42.0, 0.0, -0.5],
        ];
        let mut one = Sketch::default();
        let mut merged = Sketch::default();
        for part in parts {
            let mut s = Sketch::default();
            for &x in part {
                s.push(x);
                one.push(x);
            }
            merged.merge(&s);
        }
        assert_eq!(merged.count(), one.count());
        for i in 0..=100 {
            let q = i as f64 / 100.0;
            assert_eq!(
                merged.quantile(q).to_bits(),
                one.quantile(q).to_bits(),
                "q={q}"
            );
        }
    }

    #[test]
    fn wilson_interval_contains_the_estimate() {
        let p = wilson(30, 100);
        assert!(p.ci95[0] < 0.3 && 0.3 < p.ci95[1]);
        assert!((p.ci95[0] - 0.2189).abs() < 1e-3, "{:?}", p.ci95);
        let zero = wilson(0, 50);
        assert_eq!(zero.ci95[0], 0.0);
        assert!(zero.ci95[1] > 0.0);
    }
}
