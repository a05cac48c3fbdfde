//! Synthetic traces for tests: Zipf popularity, loops, and scans mixed into
//! Zipf. All are deterministic for a given seed.

use rand::SeedableRng as _;
use rand::rngs::SmallRng;
use rand_distr::{Distribution as _, Zipf};

/// `len` requests over `keys` keys (1..=keys) with Zipf(`exponent`)
/// popularity: key 1 is the most requested.
///
/// # Panics
/// If `keys` is 0 or `exponent` is negative or not finite.
pub fn zipf(keys: u64, exponent: f64, len: usize, seed: u64) -> Vec<u64> {
    let dist = Zipf::new(keys as f64, exponent).expect("keys >= 1 and a finite exponent >= 0");
    let mut rng = SmallRng::seed_from_u64(seed);
    (0..len).map(|_| dist.sample(&mut rng) as u64).collect()
}

/// `len` requests cycling through `keys` keys: 0, 1, …, keys-1, 0, 1, …
/// LRU with fewer than `keys` slots never hits.
pub fn looping(keys: u64, len: usize) -> Vec<u64> {
    (0..len as u64).map(|i| i % keys.max(1)).collect()
}

/// Zipf requests interrupted, every `every` requests, by a scan of `scan`
/// keys never seen before and never seen again (a batch job reading once).
///
/// # Panics
/// As [`zipf`].
pub fn zipf_with_scans(
    keys: u64,
    exponent: f64,
    len: usize,
    every: usize,
    scan: usize,
    seed: u64,
) -> Vec<u64> {
    let base = zipf(keys, exponent, len, seed);
    let mut out = Vec::with_capacity(len + len / every.max(1) * scan);
    let mut fresh = keys + 1;
    for (i, key) in base.into_iter().enumerate() {
        if every > 0 && i > 0 && i % every == 0 {
            out.extend(fresh..fresh + scan as u64);
            fresh += scan as u64;
        }
        out.push(key);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generators_have_the_promised_shape() {
        let z = zipf(100, 1.0, 10_000, 1);
        assert!(z.iter().all(|&k| (1..=100).contains(&k)));
        let ones = z.iter().filter(|&&k| k == 1).count();
        let fifties = z.iter().filter(|&&k| k == 50).count();
        assert!(ones > 10 * fifties.max(1), "key 1 is far more popular");
        assert_eq!(zipf(100, 1.0, 50, 7), zipf(100, 1.0, 50, 7), "seeded");
        assert_eq!(looping(3, 7), [0, 1, 2, 0, 1, 2, 0]);
        let s = zipf_with_scans(10, 1.0, 100, 10, 5, 1);
        assert_eq!(s.len(), 100 + 9 * 5);
        assert_eq!(
            s.iter().filter(|&&k| k > 10).count(),
            45,
            "scan keys are fresh"
        );
    }
}
