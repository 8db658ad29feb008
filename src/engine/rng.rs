//! Counter-based random numbers: every draw is a pure function of (seed, quantity key, path,
//! index), so adding or removing one quantity does not change the draws of the others, two
//! scenarios that share a quantity's name share its draws (common random numbers), and no draw
//! depends on the thread, the chunk or the order in which paths run.
//!
//! The function is Threefry-2x64 with 20 rounds (Salmon et al., "Parallel random numbers: as
//! easy as 1, 2, 3", SC 2011), keyed by (seed, quantity key) with the counter (path, index).
//! For a given key it is a bijection of the 128-bit counter, so two different (path, index)
//! pairs of one quantity can never share a draw; seeds and quantities are mixed by the cipher's
//! key schedule, so seeds that differ in one bit give unrelated draws (the old `seed ^ key`
//! construction let seeds S and S ^ 1 share rescue draws).

/// Rotation constants of Threefry-2x64 (Random123, `threefry.h`).
use super::path::LANES;

const ROTATIONS: [u32; 8] = [16, 42, 12, 31, 16, 32, 24, 21];
/// Skein's key-schedule parity constant.
const PARITY: u64 = 0x1BD1_1BDA_A9FC_1A22;

/// Threefry-2x64 with `ROUNDS` rounds of `counter` under `key`.
///
/// Written in blocks of four rounds with their rotations as constants, so that the compiler
/// unrolls it into straight-line code (a loop that looked rotations up in a table ran twice as
/// long, and could not run over a batch's lanes as vectors).
#[inline(always)]
pub fn threefry2x64<const ROUNDS: usize>(counter: [u64; 2], key: [u64; 2]) -> [u64; 2] {
    const EVEN: [u32; 4] = [16, 42, 12, 31];
    const ODD: [u32; 4] = [16, 32, 24, 21];
    let ks = [key[0], key[1], PARITY ^ key[0] ^ key[1]];
    let mut x0 = counter[0].wrapping_add(ks[0]);
    let mut x1 = counter[1].wrapping_add(ks[1]);
    let mut block = 0;
    while 4 * (block + 1) <= ROUNDS {
        let rotations = if block % 2 == 0 { EVEN } else { ODD };
        for r in rotations {
            x0 = x0.wrapping_add(x1);
            x1 = x1.rotate_left(r) ^ x0;
        }
        block += 1;
        x0 = x0.wrapping_add(ks[block % 3]);
        x1 = x1
            .wrapping_add(ks[(block + 1) % 3])
            .wrapping_add(block as u64);
    }
    // Rounds after the last whole block (none for 20) have no key injection.
    for round in 4 * block..ROUNDS {
        x0 = x0.wrapping_add(x1);
        x1 = x1.rotate_left(ROTATIONS[round % 8]) ^ x0;
    }
    [x0, x1]
}

/// SplitMix64's finalizer: a bijective 64-bit mix (for hashing names).
#[inline]
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A stable 64-bit key for a quantity name (FNV-1a, then mixed).
pub fn name_key(name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(h)
}

/// Two independent uniforms in (0, 1): draws `2 * pair` and `2 * pair + 1` of a quantity on a
/// path.
#[inline]
pub fn uniform_pair(seed: u64, key: u64, path: u64, pair: u64) -> [f64; 2] {
    let [a, b] = threefry2x64::<20>([path, pair], [seed, key]);
    [unit(a), unit(b)]
}

/// Draw number `index` of a quantity on a path, uniform in (0, 1).
#[inline]
pub fn uniform_at(seed: u64, key: u64, path: u64, index: u64) -> f64 {
    uniform_pair(seed, key, path, index >> 1)[(index & 1) as usize]
}

/// The single draw of a quantity drawn once per path (its draw number 0).
#[inline]
pub fn draw(seed: u64, path: u64, key: u64) -> f64 {
    uniform_at(seed, key, path, 0)
}

/// What one quantity's stream of draws is made to be, for an analysis that varies one input
/// while the others keep their draws (see [`crate::sensitivity`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Stream {
    /// The stream of another seed: Sobol's "column from B".
    Seed(u64),
    /// Every draw is this probability: the input held at a quantile.
    Held(f64),
}

/// Where one quantity's draws come from.
enum Source {
    /// The cipher under this seed.
    Seed(u64),
    /// Every draw is this probability.
    Held(f64),
}

/// The draws a model uses: [`uniform_pair`] of the run's seed, except for the streams an
/// analysis switched. Empty in every ordinary run, where it costs one predictable branch.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Streams {
    switched: Vec<(u64, Stream)>,
}

impl Streams {
    /// Draws as usual except for the quantity keyed `key`.
    pub fn switch(&mut self, key: u64, to: Stream) {
        self.switched.retain(|(k, _)| *k != key);
        self.switched.push((key, to));
    }

    /// As [`uniform_pair`], with the switched streams.
    #[inline]
    pub fn uniform_pair(&self, seed: u64, key: u64, path: u64, pair: u64) -> [f64; 2] {
        if self.switched.is_empty() {
            return uniform_pair(seed, key, path, pair);
        }
        match self.source(seed, key) {
            Source::Seed(seed) => uniform_pair(seed, key, path, pair),
            Source::Held(u) => [u, u],
        }
    }

    /// Where the quantity keyed `key` takes its draws from.
    fn source(&self, seed: u64, key: u64) -> Source {
        match self.switched.iter().find(|(k, _)| *k == key) {
            None => Source::Seed(seed),
            Some((_, Stream::Seed(other))) => Source::Seed(*other),
            Some((_, Stream::Held(u))) => Source::Held(*u),
        }
    }

    /// As [`uniform_at`], with the switched streams.
    #[inline]
    pub fn uniform_at(&self, seed: u64, key: u64, path: u64, index: u64) -> f64 {
        self.uniform_pair(seed, key, path, index >> 1)[(index & 1) as usize]
    }

    /// As [`draw`], with the switched streams.
    #[inline]
    pub fn draw(&self, seed: u64, path: u64, key: u64) -> f64 {
        self.uniform_at(seed, key, path, 0)
    }

    /// Pair `pair` of the quantity keyed `key` on paths `first..first + a.len()`: `(a[i],
    /// b[i])` is [`Streams::uniform_pair`] on path `first + i`.
    pub fn pair_lanes(
        &self,
        seed: u64,
        key: u64,
        first: u64,
        pair: u64,
        a: &mut [f64],
        b: &mut [f64],
    ) {
        match self.source(seed, key) {
            Source::Seed(seed) => pair_lanes(seed, key, first, pair, a, b),
            Source::Held(u) => {
                a.fill(u);
                b.fill(u);
            }
        }
    }

    /// Draw `index` of the quantity keyed `key` on paths `first..first + out.len()`, as
    /// [`Streams::uniform_at`] gives each: the stream is looked up once for the batch, and the
    /// cipher runs over consecutive counters in a loop without branches.
    pub fn uniform_lanes(&self, seed: u64, key: u64, first: u64, index: u64, out: &mut [f64]) {
        let seed = match self.source(seed, key) {
            Source::Seed(seed) => seed,
            Source::Held(u) => {
                out.fill(u);
                return;
            }
        };
        // The other draw of each pair is made too (a lane's two draws come together).
        let mut other = [0.0; LANES];
        for (k, out) in out.chunks_mut(LANES).enumerate() {
            let (first, other) = (first + (k * LANES) as u64, &mut other[..out.len()]);
            if index & 1 == 0 {
                pair_lanes(seed, key, first, index >> 1, out, other);
            } else {
                pair_lanes(seed, key, first, index >> 1, other, out);
            }
        }
    }

    /// The probability a held stream is held at.
    pub fn held(&self, key: u64) -> Option<f64> {
        self.switched.iter().find_map(|(k, s)| match s {
            Stream::Held(u) if *k == key => Some(*u),
            _ => None,
        })
    }
}

/// The top 52 bits of `bits` as a point strictly inside (0, 1): the extremes are 2^-53 and
/// 1 - 2^-53, both exact, so neither `ln(u)` nor `ln(1 - u)` is ever 0 or infinite.
#[inline]
fn unit(bits: u64) -> f64 {
    // `(bits >> 12) as f64`, written as the exact bit trick (an integer below 2^52 in the
    // mantissa of 2^52, less 2^52) so that it vectorises on CPUs without 64-bit conversions.
    let whole = f64::from_bits((bits >> 12) | TWO_52.to_bits()) - TWO_52;
    (whole + 0.5) * (1.0 / TWO_52)
}

/// 2^52.
const TWO_52: f64 = (1u64 << 52) as f64;

/// Both draws of pair `pair` on paths `first..first + a.len()`: `(a[i], b[i])` is
/// [`uniform_pair`]`(seed, key, first + i, pair)`. Compiled for the widest vector unit the CPU
/// has, chosen when it runs: integer arithmetic and exact conversions only, so every CPU gets
/// the same bits.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2"))]
pub fn pair_lanes(seed: u64, key: u64, first: u64, pair: u64, a: &mut [f64], b: &mut [f64]) {
    for (i, (a, b)) in a.iter_mut().zip(b.iter_mut()).enumerate() {
        let [x, y] = threefry2x64::<20>([first + i as u64, pair], [seed, key]);
        *a = unit(x);
        *b = unit(y);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threefry_matches_the_random123_known_answers() {
        // random123/tests/kat_vectors: threefry2x64, 20 rounds, counter, key, output.
        let cases: [([u64; 2], [u64; 2], [u64; 2]); 3] = [
            ([0, 0], [0, 0], [0xc2b6e3a8c2c69865, 0x6f81ed42f350084d]),
            (
                [u64::MAX, u64::MAX],
                [u64::MAX, u64::MAX],
                [0xe02cb7c4d95d277a, 0xd06633d0893b8b68],
            ),
            (
                [0x243f6a8885a308d3, 0x13198a2e03707344],
                [0xa4093822299f31d0, 0x082efa98ec4e6c89],
                [0x263c7d30bb0f0af1, 0x56be8361d3311526],
            ),
        ];
        for (counter, key, expected) in cases {
            assert_eq!(threefry2x64::<20>(counter, key), expected);
        }
        // 13 rounds, the first vector, checks the key injection schedule once more.
        assert_eq!(
            threefry2x64::<13>([0, 0], [0, 0]),
            [0xf167b032c3b480bd, 0xe91f9fee4b7a6fb5]
        );
    }

    #[test]
    fn switched_streams_change_only_their_own_quantity() {
        let (g, m) = (name_key("growth"), name_key("multiple"));
        let mut s = Streams::default();
        assert_eq!(s.uniform_at(1, g, 5, 3), uniform_at(1, g, 5, 3));
        s.switch(g, Stream::Seed(9));
        assert_eq!(s.uniform_at(1, g, 5, 3), uniform_at(9, g, 5, 3));
        assert_eq!(s.uniform_at(1, m, 5, 3), uniform_at(1, m, 5, 3));
        s.switch(g, Stream::Held(0.05));
        assert_eq!(s.uniform_pair(1, g, 5, 7), [0.05, 0.05]);
        assert_eq!(s.held(g), Some(0.05));
        assert_eq!(s.held(m), None);
        assert_eq!(s.draw(1, 5, m), draw(1, 5, m));
    }

    #[test]
    fn unit_stays_strictly_inside_zero_one() {
        assert_eq!(unit(0), 0.5 / (1u64 << 52) as f64);
        assert!(unit(u64::MAX) < 1.0);
        assert!((1.0 - unit(u64::MAX)) > 0.0);
        assert!((-(1.0 - unit(u64::MAX)).ln()).is_finite());
        assert!(-unit(0).ln() > 0.0 && -(1.0 - unit(0)).ln() > 0.0);
    }

    #[test]
    fn lanes_draw_what_each_path_draws_alone() {
        let (g, m) = (name_key("growth"), name_key("multiple"));
        // Lengths around the vector widths, and a first path near the counter's end.
        for (n, first) in [(1, 0), (7, 3), (128, 1 << 40), (300, u64::MAX - 400)] {
            let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
            pair_lanes(7, g, first, 5, &mut a, &mut b);
            for i in 0..n {
                let path = first + i as u64;
                assert_eq!([a[i], b[i]], uniform_pair(7, g, path, 5), "{n} {i}");
            }
            let mut s = Streams::default();
            s.switch(m, Stream::Seed(9));
            for index in [0, 1, 10, 11] {
                let mut out = vec![0.0; n];
                s.uniform_lanes(3, g, first, index, &mut out);
                for (i, &u) in out.iter().enumerate() {
                    assert_eq!(u, uniform_at(3, g, first + i as u64, index));
                }
                s.uniform_lanes(3, m, first, index, &mut out);
                assert_eq!(out[n - 1], uniform_at(9, m, first + n as u64 - 1, index));
            }
        }
    }

    #[test]
    fn draws_differ_by_key_path_index_and_repeat_exactly() {
        let (g, m) = (name_key("growth"), name_key("multiple"));
        let a = uniform_at(1, g, 0, 0);
        assert_ne!(a, uniform_at(1, m, 0, 0));
        assert_ne!(a, uniform_at(1, g, 1, 0));
        assert_ne!(a, uniform_at(1, g, 0, 1));
        assert_ne!(a, uniform_at(2, g, 0, 0));
        assert_eq!(a.to_bits(), uniform_at(1, g, 0, 0).to_bits());
        assert_eq!(a.to_bits(), draw(1, 0, g).to_bits());
    }

    #[test]
    fn single_draws_are_uniform_and_independent_across_paths_keys_and_seeds() {
        // Over 100k paths: the mean and variance of a uniform, and no correlation between two
        // keys, between neighbouring paths, or between seeds one bit apart (each within about
        // 5 standard errors).
        let n = 100_000;
        let (k1, k2) = (name_key("growth"), name_key("multiple"));
        let (mut sum, mut sum_sq, mut cross, mut lag, mut seeds) = (0.0, 0.0, 0.0, 0.0, 0.0);
        let mut previous = 0.5;
        for path in 0..n {
            let (a, b) = (draw(7, path, k1), draw(7, path, k2));
            let c = draw(7 ^ 1, path, k1);
            sum += a;
            sum_sq += a * a;
            cross += (a - 0.5) * (b - 0.5);
            lag += (a - 0.5) * (previous - 0.5);
            seeds += (a - 0.5) * (c - 0.5);
            previous = a;
        }
        let n = n as f64;
        let se = (1.0 / 12.0 / n).sqrt();
        assert!((sum / n - 0.5).abs() < 5.0 * se, "mean {}", sum / n);
        assert!((sum_sq / n - 1.0 / 3.0).abs() < 5.0 * 0.09 / n.sqrt());
        // The product of two independent centred uniforms has sd 1/12.
        let se_product = 1.0 / 12.0 / n.sqrt();
        for (what, x) in [("keys", cross), ("paths", lag), ("seeds", seeds)] {
            assert!((x / n).abs() < 5.0 * se_product, "{what}: {}", x / n);
        }
    }
}
