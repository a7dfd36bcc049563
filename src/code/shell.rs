//! A 256-point E8 shell code for one bit per coordinate.
//!
//! Voronoi codes with `q = 2` are useless at one bit per coordinate, because
//! wrap-around sends most blocks to zero. This code instead keeps the 256
//! vectors of E8 with squared norm 2 (after scaling by `sqrt 2` for the axis
//! vectors): the 240 minimal vectors and the 16 vectors `+-sqrt(2) e_i`. A
//! block is coded by the vector with the largest inner product and decoded as
//! that vector times one gain, so the index costs exactly 8 bits per 8
//! coordinates.
//!
//! Index layout:
//! - `0..112`: `s_i e_i + s_j e_j` for `i < j`, index `4 p + n`, where `p`
//!   numbers the pairs in lexicographic order and bit 0 (bit 1) of `n` is set
//!   when `s_i` (`s_j`) is negative;
//! - `112..240`: `(+-1/2, ..., +-1/2)` with an even number of minus signs,
//!   index `112 + m`, where bit `i` of `m` (`i < 7`) is set when coordinate
//!   `i` is negative and coordinate 7 takes the sign that makes the count even;
//! - `240..256`: `+-sqrt(2) e_i`, index `240 + 2 i + n`, `n = 1` for minus.

use super::voronoi::validate_finite;
use crate::Error;

const PAIR_FAMILY_START: u8 = 0;
const HALF_FAMILY_START: u8 = 112;
const AXIS_FAMILY_START: u8 = 240;

/// 2^64, above which the encoder rescales a block before scoring it.
const TWO_POW_64: f32 = 18_446_744_073_709_551_616.0;

/// The 256-point shell code of E8 at squared norm 2, with one gain.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct E8ShellCode {
    gain: f32,
}

impl E8ShellCode {
    /// Creates the code; decoded vectors are the shell vectors times `gain`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidGain`] unless `gain` is finite and positive and the
    /// decoded axis vectors, `gain sqrt(2)`, stay finite.
    pub fn new(gain: f32) -> Result<Self, Error> {
        if gain > 0.0 && (gain * core::f32::consts::SQRT_2).is_finite() {
            Ok(Self { gain })
        } else {
            Err(Error::InvalidGain { value: gain })
        }
    }

    /// Returns the gain.
    pub fn gain(&self) -> f32 {
        self.gain
    }

    /// Returns the index of the shell vector with the largest inner product
    /// with `x`, up to the rounding of the `f32` score sums. Of two vectors
    /// whose inner products differ by a few units in the last place, either
    /// may be chosen.
    ///
    /// On equal inner products the pair family wins over the half family and
    /// that over the axis family; within a family the lowest coordinate
    /// indices win. The zero block therefore codes as index 0.
    ///
    /// # Errors
    ///
    /// [`Error::NonFinite`] for NaN or infinity in `x`.
    pub fn encode(&self, x: &[f32; 8]) -> Result<u8, Error> {
        validate_finite(x, 0)?;

        // Scores of blocks beyond 2^64 are computed on x / 2^64 (exact, but
        // for coordinates that become subnormal), so their sums cannot overflow.
        let largest = x.iter().fold(0.0f32, |max, value| max.max(value.abs()));
        let factor = if largest > TWO_POW_64 {
            1.0 / TWO_POW_64
        } else {
            1.0
        };
        let magnitudes = x.map(|value| (value * factor).abs());
        let (first, second) = two_largest(&magnitudes);
        let pair_score = magnitudes[first] + magnitudes[second];
        let (half_index, half_score) = best_half_vector(x, &magnitudes);
        let axis_score = core::f32::consts::SQRT_2 * magnitudes[first];

        let mut best = (pair_index(x, first, second), pair_score);
        if half_score > best.1 {
            best = (half_index, half_score);
        }
        if axis_score > best.1 {
            best = (axis_index(x, first), axis_score);
        }
        Ok(best.0)
    }

    /// Returns shell vector `index` times the gain.
    pub fn decode(&self, index: u8) -> [f32; 8] {
        shell_vector(index).map(|value| self.gain * value)
    }
}

/// Returns shell vector `index` (squared norm 2).
pub fn shell_vector(index: u8) -> [f32; 8] {
    let mut v = [0.0f32; 8];
    if index < HALF_FAMILY_START {
        let pair = usize::from(index / 4);
        let (i, j) = PAIRS[pair];
        v[usize::from(i)] = if index & 1 != 0 { -1.0 } else { 1.0 };
        v[usize::from(j)] = if index & 2 != 0 { -1.0 } else { 1.0 };
    } else if index < AXIS_FAMILY_START {
        let signs = index - HALF_FAMILY_START;
        for (i, value) in v.iter_mut().enumerate().take(7) {
            *value = if signs >> i & 1 != 0 { -0.5 } else { 0.5 };
        }
        v[7] = if signs.count_ones() % 2 == 1 {
            -0.5
        } else {
            0.5
        };
    } else {
        let offset = index - AXIS_FAMILY_START;
        let sign = if offset & 1 != 0 { -1.0 } else { 1.0 };
        v[usize::from(offset / 2)] = sign * core::f32::consts::SQRT_2;
    }
    v
}

/// The 28 coordinate pairs `(i, j)`, `i < j`, in lexicographic order.
const PAIRS: [(u8, u8); 28] = {
    let mut pairs = [(0u8, 0u8); 28];
    let mut count = 0;
    let mut i = 0u8;
    while i < 8 {
        let mut j = i + 1;
        while j < 8 {
            pairs[count] = (i, j);
            count += 1;
            j += 1;
        }
        i += 1;
    }
    pairs
};

/// Returns the indices of the largest and second largest magnitude, the
/// lower index first among equal magnitudes.
fn two_largest(magnitudes: &[f32; 8]) -> (usize, usize) {
    let mut first = 0;
    for i in 1..8 {
        if magnitudes[i] > magnitudes[first] {
            first = i;
        }
    }
    let mut second = if first == 0 { 1 } else { 0 };
    for i in 0..8 {
        if i != first && magnitudes[i] > magnitudes[second] {
            second = i;
        }
    }
    (first, second)
}

/// Returns the index of the pair vector on coordinates `a` and `b` with the
/// signs of `x`.
fn pair_index(x: &[f32; 8], a: usize, b: usize) -> u8 {
    let (i, j) = if a < b { (a, b) } else { (b, a) };
    let pair = PAIRS
        .iter()
        .position(|&pair| pair == (i as u8, j as u8))
        .unwrap_or(0) as u8;
    let negative_i = u8::from(x[i] < 0.0);
    let negative_j = u8::from(x[j] < 0.0);
    PAIR_FAMILY_START + 4 * pair + negative_i + 2 * negative_j
}

/// Returns the best half vector and its inner product with `x`: the signs of
/// `x`, with the smallest magnitude flipped when the minus count is odd.
fn best_half_vector(x: &[f32; 8], magnitudes: &[f32; 8]) -> (u8, f32) {
    let mut negatives = 0u8;
    let mut smallest = 0;
    let mut total = 0.0f32;
    for i in 0..8 {
        if x[i] < 0.0 {
            negatives |= 1 << i;
        }
        if magnitudes[i] < magnitudes[smallest] {
            smallest = i;
        }
        total += magnitudes[i];
    }

    let odd = negatives.count_ones() % 2 == 1;
    if odd {
        negatives ^= 1 << smallest;
        total -= 2.0 * magnitudes[smallest];
    }
    (HALF_FAMILY_START + (negatives & 0x7F), 0.5 * total)
}

/// Returns the index of the axis vector on coordinate `i` with the sign of `x`.
fn axis_index(x: &[f32; 8], i: usize) -> u8 {
    AXIS_FAMILY_START + 2 * i as u8 + u8::from(x[i] < 0.0)
}
