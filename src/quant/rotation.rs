//! The randomized Hadamard rotation, defined for every vector length.
//!
//! A vector of length `n` is padded with zeros to the coded length
//! `n' = 8 ceil(n / 8)`, which the lattice blocks tile exactly. The rotation
//! is an orthogonal map of `R^n'`, so inner products of padded vectors, and
//! therefore of the original vectors, are preserved.
//!
//! `n' / 8` is written in binary, which splits `n'` into segments whose
//! lengths are distinct powers of two of at least 8. One pass multiplies the
//! coordinates by seeded random signs and then applies the normalized
//! Walsh-Hadamard transform `H_m / sqrt(m)` to each segment of length `m`.
//!
//! - When `n'` is a power of two there is one segment, and the rotation is
//!   the classic `H D / sqrt(n')` of one pass.
//! - Otherwise a second pass follows, with fresh signs and the segments laid
//!   out in the reverse order (shortest first). The shortest segment of the
//!   first pass then falls inside the longest segment of the second, so
//!   every coordinate is mixed with at least half of the others.
//!
//! Both passes are products of sign flips and orthogonal block-diagonal
//! matrices, so the map is exactly orthogonal. Only the `f32` arithmetic
//! rounds. The signs of pass `p` are the bits of the SplitMix64 stream
//! `p` under the seed, least significant bit first, 64 coordinates per word.

use crate::Error;
use crate::rng::SplitMix64;

/// Number of coordinates a lattice block of the quantizer covers.
pub const GROUP_LEN: usize = 8;

/// A seeded rotation of vectors of one length, or the identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Rotation {
    len: usize,
    coded_len: usize,
    seed: Option<u64>,
}

impl Rotation {
    /// Creates the randomized Hadamard rotation of vectors of `len` entries.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeTooLarge`] when the coded length overflows `usize`.
    pub fn hadamard(len: usize, seed: u64) -> Result<Self, Error> {
        Ok(Self {
            len,
            coded_len: coded_len(len)?,
            seed: Some(seed),
        })
    }

    /// Creates the identity map, which only pads vectors to the coded length.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeTooLarge`] when the coded length overflows `usize`.
    pub fn identity(len: usize) -> Result<Self, Error> {
        Ok(Self {
            len,
            coded_len: coded_len(len)?,
            seed: None,
        })
    }

    /// Returns the length of the vectors before padding.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Tells whether the vectors are empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Returns the padded length `8 ceil(len / 8)`.
    pub fn coded_len(&self) -> usize {
        self.coded_len
    }

    /// Returns the seed, or `None` for the identity.
    pub fn seed(&self) -> Option<u64> {
        self.seed
    }

    /// Pads `x[..len]` with zeros up to the coded length and rotates it in
    /// place.
    ///
    /// # Errors
    ///
    /// [`Error::LengthMismatch`] unless `x.len()` is the coded length.
    pub fn pad_and_rotate(&self, x: &mut [f32]) -> Result<(), Error> {
        self.check_len(x)?;
        x[self.len..].fill(0.0);
        let Some(seed) = self.seed else {
            return Ok(());
        };

        apply_signs(x, seed, 0);
        for_each_segment(self.coded_len, Order::LongestFirst, |start, len| {
            hadamard(&mut x[start..start + len]);
        });
        if self.has_second_pass() {
            apply_signs(x, seed, 1);
            for_each_segment(self.coded_len, Order::ShortestFirst, |start, len| {
                hadamard(&mut x[start..start + len]);
            });
        }
        Ok(())
    }

    /// Applies the inverse rotation in place. The first `len` entries are
    /// then the vector, and the padding contains rounding noise only.
    ///
    /// # Errors
    ///
    /// [`Error::LengthMismatch`] unless `x.len()` is the coded length.
    pub fn unrotate(&self, x: &mut [f32]) -> Result<(), Error> {
        self.check_len(x)?;
        let Some(seed) = self.seed else {
            return Ok(());
        };

        // The normalized transform and the sign flips are their own inverses,
        // so the inverse applies them in the reverse order.
        if self.has_second_pass() {
            for_each_segment(self.coded_len, Order::ShortestFirst, |start, len| {
                hadamard(&mut x[start..start + len]);
            });
            apply_signs(x, seed, 1);
        }
        for_each_segment(self.coded_len, Order::LongestFirst, |start, len| {
            hadamard(&mut x[start..start + len]);
        });
        apply_signs(x, seed, 0);
        Ok(())
    }

    fn has_second_pass(&self) -> bool {
        !self.coded_len.is_power_of_two() && self.coded_len > 0
    }

    fn check_len(&self, x: &[f32]) -> Result<(), Error> {
        if x.len() == self.coded_len {
            Ok(())
        } else {
            Err(Error::LengthMismatch {
                expected: self.coded_len,
                actual: x.len(),
            })
        }
    }
}

/// Returns `8 ceil(len / 8)`.
fn coded_len(len: usize) -> Result<usize, Error> {
    len.checked_next_multiple_of(GROUP_LEN)
        .ok_or(Error::ShapeTooLarge {
            vector_len: len,
            vector_count: 1,
        })
}

#[derive(Clone, Copy)]
enum Order {
    LongestFirst,
    ShortestFirst,
}

/// Calls `visit(start, len)` for each power-of-two segment of `coded_len`.
fn for_each_segment(coded_len: usize, order: Order, mut visit: impl FnMut(usize, usize)) {
    let mut start = 0;
    let bits = usize::BITS as usize;
    for step in 0..bits {
        let bit = match order {
            Order::LongestFirst => bits - 1 - step,
            Order::ShortestFirst => step,
        };
        let len = 1usize << bit;
        if coded_len & len != 0 {
            visit(start, len);
            start += len;
        }
    }
}

/// Flips the sign of coordinate `i` when bit `i` of sign stream `pass` is set.
fn apply_signs(x: &mut [f32], seed: u64, pass: u64) {
    let mut rng = SplitMix64::for_stream(seed, pass);
    for chunk in x.chunks_mut(64) {
        let bits = rng.next_u64();
        for (i, value) in chunk.iter_mut().enumerate() {
            if (bits >> i) & 1 != 0 {
                *value = -*value;
            }
        }
    }
}

/// Applies the normalized Walsh-Hadamard transform `H_m / sqrt(m)` in place
/// to a slice whose length `m` is a power of two.
///
/// The factor is applied before the stages it compensates: 1/2 before each
/// pair of butterfly stages, which is exact, and `1/sqrt(2)` before a last
/// unpaired stage. Every intermediate vector then has at most the norm of
/// the input, so no intermediate overflows unless the result itself would.
fn hadamard(x: &mut [f32]) {
    let len = x.len();
    let mut half = 1;
    while half < len {
        let paired = 4 * half <= len;
        let factor = if paired {
            0.5
        } else {
            core::f32::consts::FRAC_1_SQRT_2
        };
        for value in x.iter_mut() {
            *value *= factor;
        }

        butterfly_stage(x, half);
        if paired {
            butterfly_stage(x, 2 * half);
        }
        half *= if paired { 4 } else { 2 };
    }
}

/// Replaces each pair `(a, b)` at distance `half` by `(a + b, a - b)`.
fn butterfly_stage(x: &mut [f32], half: usize) {
    for start in (0..x.len()).step_by(2 * half) {
        for i in start..start + half {
            let (a, b) = (x[i], x[i + half]);
            x[i] = a + b;
            x[i + half] = a - b;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_cover_coded_length() {
        let mut seen = [(0usize, 0usize); 4];
        let mut count = 0;
        for_each_segment(56, Order::LongestFirst, |start, len| {
            seen[count] = (start, len);
            count += 1;
        });
        assert_eq!(seen[..count], [(0, 32), (32, 16), (48, 8)]);

        count = 0;
        for_each_segment(56, Order::ShortestFirst, |start, len| {
            seen[count] = (start, len);
            count += 1;
        });
        assert_eq!(seen[..count], [(0, 8), (8, 16), (24, 32)]);
    }

    #[test]
    fn hadamard_of_unit_vector_is_flat() {
        for len in [8, 16, 32, 64] {
            let mut x = [0.0f32; 64];
            x[0] = 1.0;
            hadamard(&mut x[..len]);
            let expected = 1.0 / libm::sqrtf(len as f32);
            assert!(
                x[..len]
                    .iter()
                    .all(|&value| (value - expected).abs() < 1e-7)
            );
        }
    }

    #[test]
    fn hadamard_of_huge_vector_stays_finite() {
        // Norm 3.2e38, just below f32::MAX: the transform of a vector whose
        // entries alternate in sign is one spike of that size.
        let mut x: [f32; 16] = core::array::from_fn(|i| if i % 2 == 0 { 8.0e37 } else { -8.0e37 });
        hadamard(&mut x);
        assert!(x.iter().all(|value| value.is_finite()));
        assert!((x[1] - 3.2e38).abs() < 1e32);
    }
}
