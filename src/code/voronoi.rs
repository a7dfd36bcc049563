//! Nested-lattice (Voronoi) codes with one scale.
//!
//! The codebook is the set of points of the fine lattice `beta (L + o)` that
//! lie in the Voronoi cell of the coarse lattice `q beta L`: `q^N` points, so
//! `log2 q` bits per coordinate. The offset `o = s - z` combines an optional
//! deep-hole shift `s` and an optional subtractive dither `z`.
//!
//! - Encode: `t = Q(x / beta - o)`, digits `c = (G^-1 t) mod q`; the block is
//!   overloaded when `Q((t + o) / q) != 0`.
//! - Decode: `y = G c`, `t' = y - q Q((y + o) / q)`, `x_hat = beta (t' + o)`.
//!
//! Without overload `t' = t`, so the decoder returns exactly the fine
//! quantization `beta (t + o)`. The overload test and the decoder are exact
//! integer computations: `o` is a multiple of `2^-16` and the rounding of the
//! coarse search is invariant under lattice translations.

use core::marker::PhantomData;

use super::dither::{OFFSET_DENOMINATOR, dither_numerators};
use crate::Error;
use crate::lattice::{Lattice, MAX_COORDINATE, Tie, nearest_rational};

/// Index of one block in a Voronoi code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct VoronoiIndex<const N: usize> {
    /// The coordinates of the fine point modulo `q`, each below `q`.
    pub digits: [u8; N],
    /// Whether the fine point fell outside the coarse cell, so that the
    /// decoder returns a wrapped-around point instead of it.
    pub overloaded: bool,
}

/// A nested-lattice code over the lattice `L` with nesting ratio `q`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct VoronoiCode<L: Lattice<N>, const N: usize> {
    q: u32,
    shift_numerators: [i64; N],
    dither_seed: Option<u64>,
    lattice: PhantomData<L>,
}

impl<L: Lattice<N>, const N: usize> VoronoiCode<L, N> {
    /// Creates a code with nesting ratio `q`, without shift or dither.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidModulus`] unless `2 <= q <= 256`.
    pub fn new(q: u32) -> Result<Self, Error> {
        const { assert!(N > 0, "a lattice block has at least one coordinate") };
        if !(2..=256).contains(&q) {
            return Err(Error::InvalidModulus { q });
        }
        Ok(Self {
            q,
            shift_numerators: [0; N],
            dither_seed: None,
            lattice: PhantomData,
        })
    }

    /// Shifts the codebook by a deep hole of the lattice ([`Lattice::deep_hole`]),
    /// which keeps the number of points and lowers the distortion at the
    /// same rate.
    #[must_use]
    pub fn with_deep_hole_shift(mut self) -> Self {
        let scale = f64::from(L::REPRESENTATION_SCALE) * OFFSET_DENOMINATOR as f64;
        self.shift_numerators = L::deep_hole().map(|value| (f64::from(value) * scale) as i64);
        self
    }

    /// Adds the subtractive dither drawn from `seed`, which makes the error
    /// independent of the input. The decoder derives the same dither from
    /// the seed and the block index.
    #[must_use]
    pub fn with_dither(mut self, seed: u64) -> Self {
        self.dither_seed = Some(seed);
        self
    }

    /// Returns the nesting ratio.
    pub fn q(&self) -> u32 {
        self.q
    }

    /// Tells whether the codebook is shifted by a deep hole.
    pub fn is_shifted(&self) -> bool {
        self.shift_numerators.iter().any(|&value| value != 0)
    }

    /// Returns the dither seed, if the code is dithered.
    pub fn dither_seed(&self) -> Option<u64> {
        self.dither_seed
    }

    /// Encodes block number `block` (which selects the dither) at scale `beta`.
    ///
    /// Finite values too large for the search are clamped, which only marks
    /// the block as overloaded.
    ///
    /// # Errors
    ///
    /// [`Error::NonFinite`] for NaN or infinity in `x`, and
    /// [`Error::InvalidScale`] unless `beta` is finite, positive and small
    /// enough for every decoded value to stay finite.
    pub fn encode(&self, x: &[f32; N], beta: f32, block: u64) -> Result<VoronoiIndex<N>, Error> {
        let offsets = self.offset_numerators(block);
        let (point, overloaded) = self.encode_point(x, beta, block, &offsets)?;
        let digits = self.digits_of(&point);
        Ok(VoronoiIndex { digits, overloaded })
    }

    /// Returns the fine quantization `beta (t + o)` of block `block`, which
    /// [`Self::decode`] reproduces exactly when the block is not overloaded.
    ///
    /// # Errors
    ///
    /// As [`Self::encode`].
    pub fn fine_quantize(&self, x: &[f32; N], beta: f32, block: u64) -> Result<[f32; N], Error> {
        let offsets = self.offset_numerators(block);
        let (point, _) = self.encode_point(x, beta, block, &offsets)?;
        Ok(self.reconstruct(&point, &offsets, beta))
    }

    /// Decodes the digits of block number `block` at scale `beta`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidDigit`] for a digit not below `q`, and
    /// [`Error::InvalidScale`] unless `beta` is finite, positive and small
    /// enough for every decoded value to stay finite.
    pub fn decode(&self, digits: &[u8; N], beta: f32, block: u64) -> Result<[f32; N], Error> {
        self.validate_beta(beta, 0)?;
        let offsets = self.offset_numerators(block);
        let point = self.decode_point_with_offsets(digits, &offsets)?;
        Ok(self.reconstruct(&point, &offsets, beta))
    }

    /// Returns the decoded point `t'` of the fine lattice, in integer
    /// representation and without the offset: the integer part that a
    /// product kernel multiplies.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidDigit`] for a digit not below `q`.
    pub fn decode_point(&self, digits: &[u8; N], block: u64) -> Result<[i32; N], Error> {
        self.decode_point_with_offsets(digits, &self.offset_numerators(block))
    }

    /// Returns the offset `o = s - z` of block `block` in lattice units.
    pub fn offset(&self, block: u64) -> [f32; N] {
        offset_in_lattice_units::<L, N>(&self.offset_numerators(block))
    }

    /// Decodes digits to the fine point `t'` under given offset numerators.
    pub(crate) fn decode_point_with_offsets(
        &self,
        digits: &[u8; N],
        offsets: &[i64; N],
    ) -> Result<[i32; N], Error> {
        validate_digits(digits, self.q)?;

        let coordinates = digits.map(i32::from);
        let representative = L::from_coordinates(&coordinates);
        let coarse = self.coarse_point(&representative, offsets);

        let q = self.q as i32;
        Ok(core::array::from_fn(|i| {
            representative[i] - q * coarse[i] as i32
        }))
    }

    /// Finds the fine point of block `block`, whose offset numerators are
    /// `offsets`, and tests it for overload.
    pub(crate) fn encode_point(
        &self,
        x: &[f32; N],
        beta: f32,
        block: u64,
        offsets: &[i64; N],
    ) -> Result<([i32; N], bool), Error> {
        validate_finite(x, block)?;
        self.validate_beta(beta, 0)?;

        let offset = offset_in_lattice_units::<L, N>(offsets);
        let target: [f32; N] = core::array::from_fn(|i| {
            (x[i] / beta - offset[i]).clamp(-MAX_COORDINATE, MAX_COORDINATE)
        });
        let point = L::nearest_reference(&target);

        let overloaded = self.is_overloaded(&point, offsets);
        Ok((point, overloaded))
    }

    /// Returns `beta (t + o)` for a fine point `t` in integer representation.
    pub(crate) fn reconstruct(&self, point: &[i32; N], offsets: &[i64; N], beta: f32) -> [f32; N] {
        let scale = L::REPRESENTATION_SCALE as f32;
        let offset = offset_in_lattice_units::<L, N>(offsets);
        core::array::from_fn(|i| beta * (point[i] as f32 / scale + offset[i]))
    }

    /// Returns the digits `(G^-1 t) mod q` of a fine point.
    pub(crate) fn digits_of(&self, point: &[i32; N]) -> [u8; N] {
        let q = self.q as i32;
        L::to_coordinates(point).map(|value| value.rem_euclid(q) as u8)
    }

    /// Returns `(s - z) * REPRESENTATION_SCALE * 2^16` for block `block`.
    pub(crate) fn offset_numerators(&self, block: u64) -> [i64; N] {
        match self.dither_seed {
            None => self.shift_numerators,
            Some(seed) => {
                let dither = dither_numerators::<L, N>(seed, block);
                core::array::from_fn(|i| self.shift_numerators[i] - dither[i])
            }
        }
    }

    /// Tells whether the fine point `t` (with offset) lies outside the coarse
    /// cell, that is `Q((t + o) / q) != 0`.
    fn is_overloaded(&self, point: &[i32; N], offsets: &[i64; N]) -> bool {
        // Every coordinate of the coarse cell is at most q * CELL_COORDINATE_BOUND
        // in lattice units. A point beyond it is overloaded, so the exact test
        // below works on small numbers only.
        let scale = L::REPRESENTATION_SCALE as f32;
        let limit =
            ((self.q as f32 * L::CELL_COORDINATE_BOUND * scale) as i64 + 1) * OFFSET_DENOMINATOR;
        let far = point
            .iter()
            .zip(offsets)
            .any(|(&p, &o)| (i64::from(p) * OFFSET_DENOMINATOR + o).abs() > limit);
        far || self
            .coarse_point(point, offsets)
            .iter()
            .any(|&value| value != 0)
    }

    /// Returns `Q((t + o) / q)` in integer representation.
    fn coarse_point(&self, point: &[i32; N], offsets: &[i64; N]) -> [i64; N] {
        let numerators: [i64; N] =
            core::array::from_fn(|i| i64::from(point[i]) * OFFSET_DENOMINATOR + offsets[i]);
        nearest_rational::<L, N>(&numerators, i64::from(self.q) * OFFSET_DENOMINATOR, Tie::Up)
    }

    /// Rejects a scale that is not finite and positive, or so large that a
    /// decoded or fine-quantized value, at most
    /// `beta (max(q CELL_COORDINATE_BOUND, MAX_COORDINATE) + 2)` in magnitude,
    /// would overflow `f32`.
    pub(crate) fn validate_beta(&self, beta: f32, index: usize) -> Result<(), Error> {
        validate_scale(beta, index)?;
        let reach = (self.q as f32 * L::CELL_COORDINATE_BOUND).max(MAX_COORDINATE);
        let largest = beta * (reach + 2.0);
        if largest.is_finite() {
            Ok(())
        } else {
            Err(Error::InvalidScale { index, value: beta })
        }
    }
}

/// Rejects a digit that is not below `q`.
pub(crate) fn validate_digits(digits: &[u8], q: u32) -> Result<(), Error> {
    match digits.iter().position(|&digit| u32::from(digit) >= q) {
        Some(index) => Err(Error::InvalidDigit {
            index,
            digit: u32::from(digits[index]),
            q,
        }),
        None => Ok(()),
    }
}

/// Rejects NaN and infinity in block number `block`.
pub(crate) fn validate_finite<const N: usize>(x: &[f32; N], block: u64) -> Result<(), Error> {
    match x.iter().position(|value| !value.is_finite()) {
        Some(coordinate) => Err(Error::NonFinite {
            block: usize::try_from(block).unwrap_or(usize::MAX),
            coordinate,
        }),
        None => Ok(()),
    }
}

/// Rejects a scale that is not finite and positive.
pub(crate) fn validate_scale(beta: f32, index: usize) -> Result<(), Error> {
    if beta.is_finite() && beta > 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidScale { index, value: beta })
    }
}

/// Converts offset numerators (`o * REPRESENTATION_SCALE * 2^16`) to lattice
/// units. The conversion is exact because the numerators stay below 2^18.
fn offset_in_lattice_units<L: Lattice<N>, const N: usize>(offsets: &[i64; N]) -> [f32; N] {
    let denominator = (i64::from(L::REPRESENTATION_SCALE) * OFFSET_DENOMINATOR) as f32;
    offsets.map(|value| value as f32 / denominator)
}
