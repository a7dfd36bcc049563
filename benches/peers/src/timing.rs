//! Test data, the `f32` baseline, timing and error measures shared by every
//! kernel.

use std::hint::black_box;
use std::time::Instant;

use nestlat::rng::SplitMix64;
use wide::f32x8;

use crate::options::Shape;

/// Inputs shared by every kernel of one shape.
pub struct Case<'a> {
    pub shape: Shape,
    pub weights: &'a [f32],
    pub x: &'a [f32],
    /// `W x` from [`exact_matvec`].
    pub exact: &'a [f64],
    pub repeats: usize,
}

/// Returns `len` standard Gaussian values drawn with `seed`.
pub fn gaussian(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = SplitMix64::new(seed);
    (0..len).map(|_| rng.next_gaussian() as f32).collect()
}

/// Returns `W x` with products and sums in `f64`: the reference that every
/// output SQNR is measured against.
pub fn exact_matvec(weights: &[f32], cols: usize, x: &[f32]) -> Vec<f64> {
    weights
        .chunks_exact(cols)
        .map(|row| {
            row.iter()
                .zip(x)
                .map(|(&w, &x)| f64::from(w) * f64::from(x))
                .sum()
        })
        .collect()
}

/// Returns the output SQNR in dB, `10 log10(|y|^2 / |y - y_hat|^2)`, or
/// infinity when `approx` equals `exact`.
pub fn output_sqnr_db(exact: &[f64], approx: &[f32]) -> f64 {
    let signal: f64 = exact.iter().map(|y| y * y).sum();
    let noise: f64 = exact
        .iter()
        .zip(approx)
        .map(|(&y, &y_hat)| (y - f64::from(y_hat)).powi(2))
        .sum();
    10.0 * (signal / noise).log10()
}

/// Runs `product` once to warm caches and lazy state, then `repeats` timed
/// times. Returns the median time in nanoseconds.
///
/// # Errors
///
/// The first error that `product` returns.
pub fn median_ns<E>(repeats: usize, mut product: impl FnMut() -> Result<(), E>) -> Result<f64, E> {
    product()?;
    let mut times = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        let start = Instant::now();
        product()?;
        times.push(start.elapsed().as_nanos() as f64);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// Computes `y = W x` in `f32`, one row at a time with [`dense_dot`].
pub fn dense_matvec(weights: &[f32], cols: usize, x: &[f32], y: &mut [f32]) {
    for (value, row) in y.iter_mut().zip(weights.chunks_exact(cols)) {
        *value = dense_dot(row, x);
    }
    black_box(y);
}

/// Returns the dot product of two `f32` slices with four `f32x8`
/// accumulators. It is the baseline of `nestlat bench` too, so the ratios
/// against `f32` of both programs are comparable. With
/// `-C target-cpu=x86-64-v3` each step is one AVX2 `vfmadd`.
fn dense_dot(a: &[f32], b: &[f32]) -> f32 {
    let mut sums = [f32x8::ZERO; 4];
    let mut chunks_a = a.chunks_exact(32);
    let mut chunks_b = b.chunks_exact(32);
    for (block_a, block_b) in (&mut chunks_a).zip(&mut chunks_b) {
        for (k, sum) in sums.iter_mut().enumerate() {
            let lanes_a = f32x8::new(block_a[8 * k..8 * k + 8].try_into().unwrap_or([0.0; 8]));
            let lanes_b = f32x8::new(block_b[8 * k..8 * k + 8].try_into().unwrap_or([0.0; 8]));
            *sum = lanes_a.mul_add(lanes_b, *sum);
        }
    }
    let tail: f32 = chunks_a
        .remainder()
        .iter()
        .zip(chunks_b.remainder())
        .map(|(a, b)| a * b)
        .sum();
    (sums[0] + sums[1] + sums[2] + sums[3]).reduce_add() + tail
}

/// Returns the number of threads of this process, read from
/// `/proc/self/task`, or `None` where that is not available.
pub fn process_threads() -> Option<usize> {
    std::fs::read_dir("/proc/self/task")
        .ok()
        .map(Iterator::count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_matches_exact_with_tail() {
        let cols = 37;
        let weights = gaussian(5 * cols, 1);
        let x = gaussian(cols, 2);
        let exact = exact_matvec(&weights, cols, &x);
        let mut y = vec![0.0; 5];
        dense_matvec(&weights, cols, &x, &mut y);
        for (&reference, &value) in exact.iter().zip(&y) {
            assert!(
                (reference - f64::from(value)).abs() < 1e-4,
                "{reference} vs {value}"
            );
        }
        assert!(output_sqnr_db(&exact, &y) > 100.0);
    }

    #[test]
    fn sqnr_of_known_error() {
        let exact = [3.0, 4.0];
        assert!((output_sqnr_db(&exact, &[3.0, 3.5]) - 20.0).abs() < 1e-9);
        assert_eq!(output_sqnr_db(&exact, &[3.0, 4.0]), f64::INFINITY);
    }

    #[test]
    fn median_after_warm_up() {
        let mut calls = 0;
        let median = median_ns(5, || -> Result<(), ()> {
            calls += 1;
            Ok(())
        });
        assert!(median.is_ok());
        assert_eq!(calls, 6);
        assert_eq!(median_ns(3, || Err::<(), _>("failed")), Err("failed"));
    }
}
