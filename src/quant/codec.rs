//! The code of one group of 8 coordinates, as a preset defines it.
//!
//! Each group is stored as one code word of [`GroupCodec::word_bits`] bits
//! whose value is below [`GroupCodec::states`]:
//!
//! - E8 and Z^8 Voronoi: the [`BlockFormat`] word of the block;
//! - D4 Voronoi: the [`BlockFormat`] word of two D4 blocks that share a
//!   scale id ([`D4PairCode`]);
//! - hierarchical E8: layer `m` in bits `8m..8m + 8`, bit `i` of the byte
//!   holding digit `i` of that layer;
//! - E8 ball: the 16-bit index of [`E8BallCode`];
//! - Lloyd-Max: digit `i` in bits `b i..b (i + 1)` for `b` bits per digit;
//! - shell: the 8-bit shell index.
//!
//! Decoding returns the group before the preset gain and the vector norm
//! are applied.

use super::preset::{Family, LatticeKind};
use crate::Error;
use crate::code::validate_finite;
use crate::code::{
    E8BallCode, E8CosetTable, E8ShellCode, HierarchicalCode, LloydMaxCode, MultiScaleCode,
    ScaleSelection, VoronoiCode,
};
use crate::lattice::{Dn, E8, Lattice, Zn};
use crate::pack::BlockFormat;

/// Coordinates per group.
const GROUP: usize = 8;

/// Nesting ratio of every layer of the hierarchical presets.
const HIERARCHICAL_Q: u32 = 2;

/// A block code for groups of 8 coordinates.
#[derive(Clone, Debug)]
pub(crate) enum GroupCodec {
    E8(MultiScaleCode<E8, 8>),
    D4(D4PairCode),
    Z8(MultiScaleCode<Zn<8>, 8>),
    Hierarchical(HierarchicalCode<E8, 8>),
    Ball(E8BallCode),
    LloydMax(LloydMaxCode),
    Shell(E8ShellCode),
}

impl GroupCodec {
    /// Builds the code of a preset family, dithered when `dither` is set.
    ///
    /// # Errors
    ///
    /// The construction errors of the underlying codes, which the built-in
    /// presets never trigger.
    pub(crate) fn new(family: &Family, dither: Option<u64>) -> Result<Self, Error> {
        let codec = match *family {
            Family::Voronoi { lattice, q, scales } => Self::voronoi(lattice, q, scales, dither)?,
            Family::Hierarchical { layers, beta } => {
                Self::Hierarchical(HierarchicalCode::new(HIERARCHICAL_Q, layers, beta)?)
            }
            Family::Ball { beta } => Self::Ball(E8BallCode::new(beta)?),
            Family::LloydMax { bits } => Self::LloydMax(LloydMaxCode::gaussian(bits)?),
            Family::Shell { .. } => Self::Shell(E8ShellCode::new(1.0)?),
        };
        codec.check_width()?;
        Ok(codec)
    }

    /// Builds a multi-scale Voronoi code with any scale set.
    ///
    /// # Errors
    ///
    /// The construction errors of [`MultiScaleCode::new`], and
    /// [`Error::CodeTooWide`] when a group's word exceeds 64 bits.
    pub(crate) fn voronoi(
        lattice: LatticeKind,
        q: u32,
        scales: &[f32],
        dither: Option<u64>,
    ) -> Result<Self, Error> {
        let codec = match lattice {
            LatticeKind::E8 => Self::E8(multi_scale(q, scales, dither)?),
            LatticeKind::D4 => Self::D4(D4PairCode::new(multi_scale(q, scales, dither)?)?),
            LatticeKind::Z8 => Self::Z8(multi_scale(q, scales, dither)?),
        };
        codec.check_width()?;
        Ok(codec)
    }

    fn check_width(&self) -> Result<(), Error> {
        // Two D4 blocks share one word, which must fit 64 bits.
        if self.states() > 1 << 64 {
            return Err(Error::CodeTooWide {
                q: self.q(),
                k: self.scale_count(),
                dim: GROUP,
            });
        }
        Ok(())
    }

    fn q(&self) -> u32 {
        match self {
            Self::E8(code) => code.code().q(),
            Self::D4(code) => code.blocks.code().q(),
            Self::Z8(code) => code.code().q(),
            Self::Hierarchical(code) => code.q(),
            Self::Ball(_) => 1 << 16,
            Self::LloydMax(code) => 1 << code.bits(),
            Self::Shell(_) => 256,
        }
    }

    fn scale_count(&self) -> usize {
        match self {
            Self::E8(code) => code.scales().len(),
            Self::D4(code) => code.blocks.scales().len(),
            Self::Z8(code) => code.scales().len(),
            _ => 1,
        }
    }

    /// Returns the number of distinct code words of a group.
    pub(crate) fn states(&self) -> u128 {
        match self {
            Self::E8(code) => code.format().states(),
            Self::D4(code) => code.format.states(),
            Self::Z8(code) => code.format().states(),
            Self::Hierarchical(code) => 1 << (8 * code.layer_count()),
            Self::Ball(_) => 1 << 16,
            Self::LloydMax(code) => 1 << (8 * code.bits()),
            Self::Shell(_) => 256,
        }
    }

    /// Returns the bits of one stored code word, `ceil(log2(states))`.
    pub(crate) fn word_bits(&self) -> u32 {
        u128::BITS - (self.states() - 1).leading_zeros()
    }

    /// Encodes group number `group` of the matrix, which selects the dither.
    ///
    /// # Errors
    ///
    /// [`Error::NonFinite`] for NaN or infinity in `x`.
    pub(crate) fn encode(&self, x: &[f32; GROUP], group: u64) -> Result<u64, Error> {
        match self {
            Self::E8(code) => code.encode_word(x, group),
            Self::Z8(code) => code.encode_word(x, group),
            Self::D4(code) => code.encode_word(x, group),
            Self::Hierarchical(code) => {
                let index = code.encode(x)?;
                let word = index
                    .layers
                    .iter()
                    .enumerate()
                    .map(|(layer, digits)| u64::from(E8CosetTable::byte_of(digits)) << (8 * layer))
                    .sum();
                Ok(word)
            }
            Self::Ball(code) => code.encode(x).map(u64::from),
            Self::LloydMax(code) => {
                validate_finite(x, group)?;
                let bits = code.bits();
                let word = x
                    .iter()
                    .enumerate()
                    .map(|(i, &value)| u64::from(code.encode(value)) << (bits * i as u32))
                    .sum();
                Ok(word)
            }
            Self::Shell(code) => code.encode(x).map(u64::from),
        }
    }

    /// Decodes the code word of group number `group`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCodeWord`] for a word that this code cannot have
    /// written.
    pub(crate) fn decode(&self, word: u64, group: u64) -> Result<[f32; GROUP], Error> {
        if u128::from(word) >= self.states() {
            return Err(Error::InvalidCodeWord { word });
        }
        match self {
            Self::E8(code) => code.decode_word(word, group),
            Self::Z8(code) => code.decode_word(word, group),
            Self::D4(code) => code.decode_word(word, group),
            Self::Hierarchical(code) => {
                let mut layers = [[0u8; GROUP]; crate::code::MAX_LAYERS];
                for (layer, digits) in layers.iter_mut().take(code.layer_count()).enumerate() {
                    let byte = (word >> (8 * layer)) as u8;
                    *digits = core::array::from_fn(|i| (byte >> i) & 1);
                }
                code.decode(&layers[..code.layer_count()])
            }
            Self::LloydMax(code) => {
                let bits = code.bits();
                let mask = (1u64 << bits) - 1;
                let mut group_values = [0.0f32; GROUP];
                for (i, value) in group_values.iter_mut().enumerate() {
                    *value = code.decode(((word >> (bits * i as u32)) & mask) as u8)?;
                }
                Ok(group_values)
            }
            Self::Ball(code) => Ok(code.decode(word as u16)),
            Self::Shell(code) => Ok(code.decode(word as u8)),
        }
    }
}

/// Builds a multi-scale code shifted by a deep hole of `L`.
fn multi_scale<L: Lattice<N>, const N: usize>(
    q: u32,
    scales: &[f32],
    dither: Option<u64>,
) -> Result<MultiScaleCode<L, N>, Error> {
    let mut code = VoronoiCode::<L, N>::new(q)?.with_deep_hole_shift();
    if let Some(seed) = dither {
        code = code.with_dither(seed);
    }
    MultiScaleCode::new(code, scales, ScaleSelection::LowestError)
}

/// Two D4 blocks that share one scale id, so that a group of 8 has the
/// same `k q^8` states as an E8 or Z^8 block with the same `q` and `k`.
///
/// The word is the [`BlockFormat`] word of dimension 8: the digits of the
/// first block are `d_0..d_4` and those of the second `d_4..d_8`. Block `h`
/// of group `g` draws the dither of block `2 g + h`.
#[derive(Clone, Debug)]
pub(crate) struct D4PairCode {
    blocks: MultiScaleCode<Dn<4>, 4>,
    format: BlockFormat,
}

impl D4PairCode {
    fn new(blocks: MultiScaleCode<Dn<4>, 4>) -> Result<Self, Error> {
        let format = BlockFormat::new(blocks.code().q(), blocks.scales().len(), GROUP)?;
        Ok(Self { blocks, format })
    }

    /// Encodes both blocks at each scale and keeps the lowest total error.
    fn encode_word(&self, x: &[f32; GROUP], group: u64) -> Result<u64, Error> {
        let halves = split_halves(x);
        let code = self.blocks.code();
        let offsets = [
            code.offset_numerators(2 * group),
            code.offset_numerators(2 * group + 1),
        ];

        let mut best: Option<([u8; GROUP], usize, f32)> = None;
        for (id, &beta) in self.blocks.scales().iter().enumerate() {
            let mut digits = [0u8; GROUP];
            let mut error = 0.0f32;
            for (half, (values, offset)) in halves.iter().zip(&offsets).enumerate() {
                let block = 2 * group + half as u64;
                let (point, overloaded) = code.encode_point(values, beta, block, offset)?;
                let half_digits = code.digits_of(&point);
                let decoded = if overloaded {
                    code.decode_point_with_offsets(&half_digits, offset)?
                } else {
                    point
                };
                let estimate = code.reconstruct(&decoded, offset, beta);
                error += squared_error(values, &estimate);
                digits[4 * half..4 * half + 4].copy_from_slice(&half_digits);
            }
            if best.is_none_or(|(_, _, best_error)| error < best_error) {
                best = Some((digits, id, error));
            }
        }

        let (digits, id, _) = best.ok_or(Error::InvalidScaleCount { k: 0 })?;
        self.format.pack(&digits, id)
    }

    fn decode_word(&self, word: u64, group: u64) -> Result<[f32; GROUP], Error> {
        let mut digits = [0u8; GROUP];
        let id = self.format.unpack(word, &mut digits)?;
        let beta = *self.blocks.scales().get(id).ok_or(Error::InvalidScaleId {
            id,
            k: self.blocks.scales().len(),
        })?;
        let code = self.blocks.code();

        let mut values = [0.0f32; GROUP];
        for half in 0..2 {
            let half_digits: [u8; 4] = core::array::from_fn(|i| digits[4 * half + i]);
            let decoded = code.decode(&half_digits, beta, 2 * group + half as u64)?;
            values[4 * half..4 * half + 4].copy_from_slice(&decoded);
        }
        Ok(values)
    }
}

fn squared_error(x: &[f32; 4], y: &[f32; 4]) -> f32 {
    x.iter().zip(y).map(|(a, b)| (a - b) * (a - b)).sum()
}

fn split_halves(x: &[f32; GROUP]) -> [[f32; 4]; 2] {
    [
        core::array::from_fn(|i| x[i]),
        core::array::from_fn(|i| x[i + 4]),
    ]
}
