//! Scalar Lloyd-Max codes for the standard normal distribution.
//!
//! A Lloyd-Max quantizer (Lloyd, "Least squares quantization in PCM", IEEE
//! Trans. IT 28(2), 1982; Max, "Quantizing for minimum distortion", IRE
//! Trans. IT 6(1), 1960) places `2^bits` levels so that each level is the
//! centroid of its cell and each cell boundary is the midpoint of two
//! levels. For unit-variance Gaussian input it is the best scalar code of
//! its size, and the baseline that a lattice code has to beat.
//!
//! The levels are fixed constants so that encoder and decoder agree on every
//! target; [`solve_gaussian_levels`] recomputes them by Lloyd's iteration.

use heapless::Vec;

use crate::Error;

/// Largest number of bits per coordinate.
pub const MAX_LLOYD_MAX_BITS: u32 = 4;

/// Positive levels of the codes with 1, 2, 3 and 4 bits, from
/// [`solve_gaussian_levels`] rounded to 9 decimals and stored as `f32`. The
/// negative levels are their mirror images.
const POSITIVE_LEVELS: [&[f64]; 4] = [
    &[0.797_884_561],
    &[0.452_780_035, 1.510_417_608],
    &[0.245_094_179, 0.756_005_281, 1.343_909_279, 2.151_945_705],
    &[
        0.128_395_03,
        0.388_048_299,
        0.656_759_119,
        0.942_340_456,
        1.256_231_197,
        1.618_046_386,
        2.069_017_227,
        2.732_589_571,
    ],
];

/// A Lloyd-Max code for one unit-variance Gaussian coordinate.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LloydMaxCode {
    bits: u32,
    /// Levels in increasing order; the first `2^bits` are used.
    levels: [f32; 16],
    /// Cell boundaries: midpoints of consecutive levels.
    thresholds: [f32; 15],
}

impl LloydMaxCode {
    /// Creates the code with `2^bits` levels.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidBitWidth`] unless `1 <= bits <= MAX_LLOYD_MAX_BITS`.
    pub fn gaussian(bits: u32) -> Result<Self, Error> {
        if !(1..=MAX_LLOYD_MAX_BITS).contains(&bits) {
            return Err(Error::InvalidBitWidth { bits });
        }

        let positive = POSITIVE_LEVELS[bits as usize - 1];
        let half = positive.len();
        let mut levels = [0.0f32; 16];
        for (i, &level) in positive.iter().enumerate() {
            levels[half - 1 - i] = -(level as f32);
            levels[half + i] = level as f32;
        }
        let mut thresholds = [0.0f32; 15];
        for i in 0..2 * half - 1 {
            thresholds[i] = 0.5 * (levels[i] + levels[i + 1]);
        }
        Ok(Self {
            bits,
            levels,
            thresholds,
        })
    }

    /// Returns the number of bits per coordinate.
    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// Returns the levels in increasing order.
    pub fn levels(&self) -> &[f32] {
        &self.levels[..1 << self.bits]
    }

    /// Returns the index of the level nearest to `x`; a value exactly on a
    /// cell boundary goes to the upper level. NaN codes as the lowest level,
    /// so callers reject it first.
    pub fn encode(&self, x: f32) -> u8 {
        let boundaries = &self.thresholds[..(1 << self.bits) - 1];
        boundaries
            .iter()
            .filter(|&&threshold| x >= threshold)
            .count() as u8
    }

    /// Returns level `index`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidDigit`] if `index` is not below `2^bits`.
    pub fn decode(&self, index: u8) -> Result<f32, Error> {
        self.levels()
            .get(usize::from(index))
            .copied()
            .ok_or(Error::InvalidDigit {
                index: 0,
                digit: u32::from(index),
                q: 1 << self.bits,
            })
    }
}

/// Computes the `count` Lloyd-Max levels of the standard normal distribution
/// by Lloyd's iteration from uniformly spaced levels, to about 1e-12.
///
/// # Errors
///
/// [`Error::InvalidBitWidth`] unless `count` is a power of two from 2 to 16.
pub fn solve_gaussian_levels(count: usize) -> Result<Vec<f64, 16>, Error> {
    if !count.is_power_of_two() || !(2..=16).contains(&count) {
        return Err(Error::InvalidBitWidth {
            bits: count.trailing_zeros(),
        });
    }

    let spacing = 4.0 / count as f64;
    let mut levels: Vec<f64, 16> = (0..count)
        .map(|i| (i as f64 - (count - 1) as f64 / 2.0) * spacing)
        .collect();
    for _ in 0..100_000 {
        let mut largest_step = 0.0f64;
        let previous = levels.clone();
        for i in 0..count {
            let lower = if i == 0 {
                f64::NEG_INFINITY
            } else {
                0.5 * (previous[i - 1] + previous[i])
            };
            let upper = if i + 1 == count {
                f64::INFINITY
            } else {
                0.5 * (previous[i] + previous[i + 1])
            };
            levels[i] = gaussian_centroid(lower, upper);
            largest_step = largest_step.max((levels[i] - previous[i]).abs());
        }
        if largest_step < 1e-13 {
            break;
        }
    }
    Ok(levels)
}

/// Returns `E[X | a <= X < b]` for a standard normal `X`.
fn gaussian_centroid(a: f64, b: f64) -> f64 {
    let density = |x: f64| {
        if x.is_finite() {
            libm::exp(-0.5 * x * x) / libm::sqrt(2.0 * core::f64::consts::PI)
        } else {
            0.0
        }
    };
    let distribution = |x: f64| 0.5 * libm::erfc(-x / core::f64::consts::SQRT_2);
    (density(a) - density(b)) / (distribution(b) - distribution(a))
}
