//! Random streams keyed by (seed, path, quantity name): adding or removing one quantity does
//! not change the draws of the others, and two scenarios that share a quantity's name share its
//! draws (common random numbers). The streams are independent of the thread that runs a path.

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// The generator behind every stream: portable and stable across releases.
pub type Stream = Xoshiro256PlusPlus;

/// SplitMix64's finalizer: a bijective 64-bit mix.
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

/// One 64-bit value for (seed, path, key).
#[inline]
fn cell(seed: u64, path: u64, key: u64) -> u64 {
    mix(mix(seed ^ key) ^ path)
}

/// The stream of a quantity on a path, for quantities that take many draws (per-period
/// quantities, revenue shocks).
#[inline]
pub fn stream(seed: u64, path: u64, key: u64) -> Stream {
    Stream::seed_from_u64(cell(seed, path, key))
}

/// The single draw of a quantity on a path, in (0, 1): a counter-based hash of (seed, path,
/// key), so a quantity drawn once per path costs a few multiplications instead of seeding a
/// generator to take one number from it.
#[inline]
pub fn draw(seed: u64, path: u64, key: u64) -> f64 {
    unit(mix(cell(seed, path, key)))
}

/// A uniform draw in the open interval (0, 1).
#[inline]
pub fn uniform(rng: &mut Stream) -> f64 {
    unit(rng.next_u64())
}

/// The top 53 bits of `bits` as a point in the open interval (0, 1).
#[inline]
fn unit(bits: u64) -> f64 {
    ((bits >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_differ_by_key_and_path_and_repeat_exactly() {
        let a = uniform(&mut stream(1, 0, name_key("growth")));
        let b = uniform(&mut stream(1, 0, name_key("multiple")));
        let c = uniform(&mut stream(1, 1, name_key("growth")));
        let a2 = uniform(&mut stream(1, 0, name_key("growth")));
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.to_bits(), a2.to_bits());
        assert!(a > 0.0 && a < 1.0);
    }

    #[test]
    fn single_draws_are_uniform_and_independent_across_paths_and_keys() {
        // Over 100k paths: the mean and variance of a uniform, and no correlation between two
        // keys or between neighbouring paths (each within about 5 standard errors).
        let n = 100_000;
        let (k1, k2) = (name_key("growth"), name_key("multiple"));
        let (mut sum, mut sum_sq, mut cross, mut lag) = (0.0, 0.0, 0.0, 0.0);
        let mut previous = 0.5;
        for path in 0..n {
            let (a, b) = (draw(7, path, k1), draw(7, path, k2));
            assert!(a > 0.0 && a < 1.0);
            sum += a;
            sum_sq += a * a;
            cross += (a - 0.5) * (b - 0.5);
            lag += (a - 0.5) * (previous - 0.5);
            previous = a;
        }
        let n = n as f64;
        let se = (1.0 / 12.0 / n).sqrt();
        assert!((sum / n - 0.5).abs() < 5.0 * se, "mean {}", sum / n);
        assert!((sum_sq / n - 1.0 / 3.0).abs() < 5.0 * 0.09 / n.sqrt());
        // The product of two independent centred uniforms has sd 1/12.
        let se_product = 1.0 / 12.0 / n.sqrt();
        assert!((cross / n).abs() < 5.0 * se_product, "cross {}", cross / n);
        assert!((lag / n).abs() < 5.0 * se_product, "lag {}", lag / n);
        assert_eq!(draw(7, 3, k1).to_bits(), draw(7, 3, k1).to_bits());
        assert_ne!(draw(7, 3, k1), draw(8, 3, k1));
    }
}
