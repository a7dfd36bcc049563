//! Hierarchical nested-lattice codes: `M` layers of nesting ratio `q`.
//!
//! After Kaplan and Ordentlich ("High-rate nested-lattice quantized matrix
//! multiplication with small lookup tables", arXiv 2505.13164): the fine
//! point `t_0 = Q(x / beta)` is written in base `q` with lattice digits,
//! `b_m = (G^-1 t_m) mod q` and `t_{m+1} = Q(t_m / q)`, and the block
//! overloads when `t_M != 0`. The decoder sums
//! `q^m (G b_m - q Q(G b_m / q))` over the layers, each term a coset leader
//! of `L / qL`, so that small `q` turns inner products into table lookups.
//!
//! Layer `m` rounds with the tie rule when `m` is even and with its mirror
//! when `m` is odd, in the encoder and the decoder alike. With one fixed rule,
//! E8 with `q = 2` would keep half of its minimal vectors `v` as fixed points
//! of `t -> Q(t / 2)` (the midpoint `v / 2` is as near to `v` as to 0), and
//! every block holding one would overload. Under the mirrored rule the same
//! midpoint goes to 0 by translation invariance.

use heapless::Vec;

use super::MAX_LAYERS;
use super::voronoi::{validate_digits, validate_finite, validate_scale};
use crate::Error;
use crate::lattice::{Lattice, MAX_COORDINATE, Tie, nearest_rational};

/// Largest value of `q^layers`: decoded points then stay exact in `f32`.
const MAX_RANGE: u64 = 1 << 16;

/// Index of one block in a hierarchical code.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct HierarchicalIndex<const N: usize> {
    /// The digits of each layer, least significant layer first.
    pub layers: Vec<[u8; N], MAX_LAYERS>,
    /// Whether the fine point needed more layers than the code has.
    pub overloaded: bool,
}

/// A hierarchical nested-lattice code with one scale.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct HierarchicalCode<L: Lattice<N>, const N: usize> {
    q: u32,
    layers: usize,
    beta: f32,
    lattice: core::marker::PhantomData<L>,
}

impl<L: Lattice<N>, const N: usize> HierarchicalCode<L, N> {
    /// Creates a code with `layers` layers of nesting ratio `q` at scale `beta`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidModulus`] unless `2 <= q <= 256`,
    /// [`Error::InvalidLayerCount`] unless `1 <= layers <= MAX_LAYERS`,
    /// [`Error::HierarchyTooDeep`] when `q^layers > 2^16`, and
    /// [`Error::InvalidScale`] unless `beta` is finite and positive and small
    /// enough for every decoded value to stay finite.
    pub fn new(q: u32, layers: usize, beta: f32) -> Result<Self, Error> {
        if !(2..=256).contains(&q) {
            return Err(Error::InvalidModulus { q });
        }
        if !(1..=MAX_LAYERS).contains(&layers) {
            return Err(Error::InvalidLayerCount { layers });
        }
        let range = u64::from(q).checked_pow(layers as u32);
        if range.is_none_or(|value| value > MAX_RANGE) {
            return Err(Error::HierarchyTooDeep { q, layers });
        }
        validate_scale(beta, 0)?;

        // A decoded value is at most sum_m q^m q CELL_COORDINATE_BOUND
        // <= 2 q^layers q CELL_COORDINATE_BOUND times beta, and a fine
        // quantization at most MAX_COORDINATE + 1 times beta.
        let range = range.unwrap_or(MAX_RANGE) as f32;
        let reach = (2.0 * range * q as f32 * L::CELL_COORDINATE_BOUND).max(MAX_COORDINATE + 1.0);
        let largest = beta * reach;
        if !largest.is_finite() {
            return Err(Error::InvalidScale {
                index: 0,
                value: beta,
            });
        }
        Ok(Self {
            q,
            layers,
            beta,
            lattice: core::marker::PhantomData,
        })
    }

    /// Returns the nesting ratio of each layer.
    pub fn q(&self) -> u32 {
        self.q
    }

    /// Returns the number of layers.
    pub fn layer_count(&self) -> usize {
        self.layers
    }

    /// Returns the orientation of the tie rule in layer `layer`.
    pub fn layer_tie(layer: usize) -> Tie {
        if layer % 2 == 0 { Tie::Up } else { Tie::Down }
    }

    /// Encodes a block. Values too large for the search are clamped, which
    /// only marks the block as overloaded.
    ///
    /// # Errors
    ///
    /// [`Error::NonFinite`] for NaN or infinity in `x`.
    pub fn encode(&self, x: &[f32; N]) -> Result<HierarchicalIndex<N>, Error> {
        let mut point = self.fine_point(x)?.map(i64::from);
        let q = self.q as i32;

        let mut layers = Vec::new();
        for layer in 0..self.layers {
            let coordinates = L::to_coordinates(&point.map(|value| value as i32));
            let digits = coordinates.map(|value| value.rem_euclid(q) as u8);
            // Cannot fail: layers <= MAX_LAYERS is checked at construction.
            let _ = layers.push(digits);
            point = nearest_rational::<L, N>(&point, i64::from(self.q), Self::layer_tie(layer));
        }

        let overloaded = point.iter().any(|&value| value != 0);
        Ok(HierarchicalIndex { layers, overloaded })
    }

    /// Returns the fine quantization `beta Q(x / beta)`, which the decoder
    /// reproduces exactly when the block is not overloaded.
    ///
    /// # Errors
    ///
    /// As [`Self::encode`].
    pub fn fine_quantize(&self, x: &[f32; N]) -> Result<[f32; N], Error> {
        let point = self.fine_point(x)?.map(i64::from);
        Ok(self.reconstruct(&point))
    }

    /// Decodes the digits of every layer, least significant layer first.
    ///
    /// # Errors
    ///
    /// [`Error::LengthMismatch`] unless there is one digit vector per layer,
    /// and [`Error::InvalidDigit`] for a digit not below `q`.
    pub fn decode(&self, layers: &[[u8; N]]) -> Result<[f32; N], Error> {
        if layers.len() != self.layers {
            return Err(Error::LengthMismatch {
                expected: self.layers,
                actual: layers.len(),
            });
        }

        let mut sum = [0i64; N];
        let mut weight = 1i64;
        for (layer, digits) in layers.iter().enumerate() {
            let leader = self.coset_leader(digits, Self::layer_tie(layer))?;
            for (total, value) in sum.iter_mut().zip(leader) {
                *total += weight * value;
            }
            weight *= i64::from(self.q);
        }
        Ok(self.reconstruct(&sum))
    }

    /// Returns the coset leader `G b - q Q(G b / q)` of one layer's digits, in
    /// integer representation.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidDigit`] for a digit not below `q`.
    pub fn coset_leader(&self, digits: &[u8; N], tie: Tie) -> Result<[i64; N], Error> {
        validate_digits(digits, self.q)?;
        Ok(coset_leader::<L, N>(digits, self.q, tie))
    }

    fn fine_point(&self, x: &[f32; N]) -> Result<[i32; N], Error> {
        validate_finite(x, 0)?;
        let target = x.map(|value| (value / self.beta).clamp(-MAX_COORDINATE, MAX_COORDINATE));
        Ok(L::nearest_reference(&target))
    }

    /// Returns `beta p` for a point `p` in integer representation.
    pub(crate) fn reconstruct(&self, point: &[i64; N]) -> [f32; N] {
        let scale = f64::from(L::REPRESENTATION_SCALE);
        point.map(|value| (f64::from(self.beta) * value as f64 / scale) as f32)
    }
}

/// Returns the coset leader `G b - q Q(G b / q)` of digits `b`, each below `q`.
pub(crate) fn coset_leader<L: Lattice<N>, const N: usize>(
    digits: &[u8; N],
    q: u32,
    tie: Tie,
) -> [i64; N] {
    let representative = L::from_coordinates(&digits.map(i32::from)).map(i64::from);
    let q = i64::from(q);
    let coarse = nearest_rational::<L, N>(&representative, q, tie);
    core::array::from_fn(|i| representative[i] - q * coarse[i])
}
