//! Nested-lattice codes with several scales per block.
//!
//! Each block picks one of `k` scales and stores its id beside the digits
//! (NestQuant: Savkin et al., "NestQuant: nested lattice quantization for
//! matrix products and LLMs", ICML 2025). A small scale gives a fine
//! codebook that overloads on large blocks, a large scale a coarse codebook
//! that does not, so per-block selection avoids the wrap-around that forces a
//! single-scale code to a large scale.

use heapless::Vec;

use super::MAX_SCALES;
use super::voronoi::{VoronoiCode, validate_finite};
use crate::Error;
use crate::lattice::Lattice;
use crate::pack::BlockFormat;

/// Rule by which a multi-scale code picks the scale of a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ScaleSelection {
    /// Try every scale and keep the lowest squared error (the lower id on
    /// equal errors).
    LowestError,
    /// Keep the smallest scale that does not overload, or the lowest error
    /// when every scale overloads.
    FirstFit,
}

/// Index of one block in a multi-scale code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct MultiScaleIndex<const N: usize> {
    /// The digits of the block at the chosen scale, each below `q`.
    pub digits: [u8; N],
    /// Position of the chosen scale in the scale set.
    pub scale_id: u8,
    /// Whether the block overloaded at the chosen scale.
    pub overloaded: bool,
}

/// A Voronoi code with `k` scales per block.
#[derive(Clone, Debug)]
pub struct MultiScaleCode<L: Lattice<N>, const N: usize> {
    code: VoronoiCode<L, N>,
    scales: Vec<f32, MAX_SCALES>,
    selection: ScaleSelection,
    format: BlockFormat,
}

impl<L: Lattice<N>, const N: usize> MultiScaleCode<L, N> {
    /// Creates a code from a single-scale code and a strictly increasing set
    /// of scales.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidScaleCount`] unless `1 <= scales.len() <= MAX_SCALES`,
    /// [`Error::InvalidScale`] for a scale that is not finite and positive or
    /// not larger than the one before, and [`Error::CodeTooWide`] when
    /// `k * q^N` states do not fit a 64-bit code word.
    pub fn new(
        code: VoronoiCode<L, N>,
        scales: &[f32],
        selection: ScaleSelection,
    ) -> Result<Self, Error> {
        let stored =
            Vec::from_slice(scales).map_err(|_| Error::InvalidScaleCount { k: scales.len() })?;
        if stored.is_empty() {
            return Err(Error::InvalidScaleCount { k: 0 });
        }
        for (index, &scale) in scales.iter().enumerate() {
            code.validate_beta(scale, index)?;
            if index > 0 && scale <= scales[index - 1] {
                return Err(Error::InvalidScale {
                    index,
                    value: scale,
                });
            }
        }

        let format = BlockFormat::new(code.q(), scales.len(), N)?;
        Ok(Self {
            code,
            scales: stored,
            selection,
            format,
        })
    }

    /// Returns the single-scale code underneath.
    pub fn code(&self) -> &VoronoiCode<L, N> {
        &self.code
    }

    /// Returns the scales in increasing order.
    pub fn scales(&self) -> &[f32] {
        &self.scales
    }

    /// Returns the packing of one block: digits and scale id in one word.
    pub fn format(&self) -> &BlockFormat {
        &self.format
    }

    /// Encodes block number `block` at the scale that [`ScaleSelection`] picks.
    ///
    /// # Errors
    ///
    /// [`Error::NonFinite`] for NaN or infinity in `x`.
    pub fn encode(&self, x: &[f32; N], block: u64) -> Result<MultiScaleIndex<N>, Error> {
        validate_finite(x, block)?;

        // The dither depends on the block only, so every scale shares it.
        let offsets = self.code.offset_numerators(block);

        let mut best: Option<(MultiScaleIndex<N>, f32)> = None;
        for (id, &beta) in self.scales.iter().enumerate() {
            let (point, overloaded) = self.code.encode_point(x, beta, block, &offsets)?;
            let digits = self.code.digits_of(&point);
            let decoded_point = if overloaded {
                self.code.decode_point_with_offsets(&digits, &offsets)?
            } else {
                point
            };
            let reconstruction = self.code.reconstruct(&decoded_point, &offsets, beta);
            let index = MultiScaleIndex {
                digits,
                scale_id: id as u8,
                overloaded,
            };

            if self.selection == ScaleSelection::FirstFit && !overloaded {
                return Ok(index);
            }
            let error = squared_error(x, &reconstruction);
            if best.is_none_or(|(_, best_error)| error < best_error) {
                best = Some((index, error));
            }
        }

        best.map(|(index, _)| index)
            .ok_or(Error::InvalidScaleCount { k: 0 })
    }

    /// Decodes a block index of block number `block`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidScaleId`] for an id not below `k` and
    /// [`Error::InvalidDigit`] for a digit not below `q`.
    pub fn decode(&self, index: &MultiScaleIndex<N>, block: u64) -> Result<[f32; N], Error> {
        let beta = self.scale(usize::from(index.scale_id))?;
        self.code.decode(&index.digits, beta, block)
    }

    /// Encodes block number `block` into one packed code word.
    ///
    /// # Errors
    ///
    /// As [`Self::encode`].
    pub fn encode_word(&self, x: &[f32; N], block: u64) -> Result<u64, Error> {
        let index = self.encode(x, block)?;
        self.format.pack(&index.digits, usize::from(index.scale_id))
    }

    /// Decodes one packed code word of block number `block`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCodeWord`] for a word that this code cannot have written.
    pub fn decode_word(&self, word: u64, block: u64) -> Result<[f32; N], Error> {
        let mut digits = [0u8; N];
        let scale_id = self.format.unpack(word, &mut digits)?;
        let beta = self.scale(scale_id)?;
        self.code.decode(&digits, beta, block)
    }

    fn scale(&self, id: usize) -> Result<f32, Error> {
        self.scales.get(id).copied().ok_or(Error::InvalidScaleId {
            id,
            k: self.scales.len(),
        })
    }
}

/// Returns the squared Euclidean distance of two blocks.
fn squared_error<const N: usize>(x: &[f32; N], y: &[f32; N]) -> f32 {
    x.iter().zip(y).map(|(a, b)| (a - b) * (a - b)).sum()
}

/// Formats the nesting ratio, the scales and the selection rule.
#[cfg(feature = "defmt")]
impl<L: Lattice<N>, const N: usize> defmt::Format for MultiScaleCode<L, N> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "MultiScaleCode {{ lattice: {=str}, q: {=u32}, scales: {}, selection: {} }}",
            L::NAME,
            self.code.q(),
            self.scales.as_slice(),
            self.selection
        );
    }
}
