//! The error type of every fallible operation in the crate.

use core::fmt;

/// An invalid input or parameter, naming the value that was rejected.
///
/// Every public function that can receive bad input returns this type
/// instead of panicking. The variants carry the offending value, and each
/// message names what to change.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// A coordinate is NaN or infinite.
    NonFinite {
        /// Index of the block within the call (0 for single-block calls).
        block: usize,
        /// Index of the coordinate within the block.
        coordinate: usize,
    },
    /// A coordinate lies outside `[-MAX_COORDINATE, MAX_COORDINATE]`, where
    /// rounding in `f32` is no longer exact.
    OutOfRange {
        /// Index of the block within the call (0 for single-block calls).
        block: usize,
        /// Index of the coordinate within the block.
        coordinate: usize,
        /// The rejected value.
        value: f32,
    },
    /// The nesting ratio `q` of a nested-lattice code is outside `2..=256`.
    InvalidModulus {
        /// The rejected ratio.
        q: u32,
    },
    /// The number of scales per block is outside `1..=MAX_SCALES`.
    InvalidScaleCount {
        /// The rejected count.
        k: usize,
    },
    /// A scale is not finite and positive, the scales are not strictly
    /// increasing, or a scale is so large that decoded values would overflow.
    InvalidScale {
        /// Position of the scale in the set.
        index: usize,
        /// The rejected value.
        value: f32,
    },
    /// The dimension of a block is zero.
    InvalidDimension {
        /// The rejected dimension.
        dim: usize,
    },
    /// `k * q^dim` states do not fit the 64-bit code word of one block.
    CodeTooWide {
        /// Nesting ratio.
        q: u32,
        /// Number of scales.
        k: usize,
        /// Block dimension.
        dim: usize,
    },
    /// A digit of a block index is not below `q`.
    InvalidDigit {
        /// Position of the digit in the block.
        index: usize,
        /// The rejected digit.
        digit: u32,
        /// The nesting ratio the digit must stay below.
        q: u32,
    },
    /// A scale id is not below the number of scales `k`.
    InvalidScaleId {
        /// The rejected id.
        id: usize,
        /// The number of scales.
        k: usize,
    },
    /// A packed code word is not below `k * q^dim`, so it was not written by
    /// this code (a truncated or tampered buffer).
    InvalidCodeWord {
        /// The rejected word.
        word: u64,
    },
    /// The number of layers of a hierarchical code is outside `1..=MAX_LAYERS`.
    InvalidLayerCount {
        /// The rejected count.
        layers: usize,
    },
    /// `q^layers` of a hierarchical code exceeds `2^16`, beyond which its
    /// decoded points leave the exact range of `f32`.
    HierarchyTooDeep {
        /// Nesting ratio of each layer.
        q: u32,
        /// Number of layers.
        layers: usize,
    },
    /// A gain or a scale factor is not finite and positive.
    InvalidGain {
        /// The rejected value.
        value: f32,
    },
    /// Two lengths that must agree differ.
    LengthMismatch {
        /// The length the call requires.
        expected: usize,
        /// The length it received.
        actual: usize,
    },
    /// A byte buffer is shorter than the data it must hold.
    BufferTooSmall {
        /// Bytes required.
        needed: usize,
        /// Bytes available.
        actual: usize,
    },
    /// A rate or a distortion passed to the bound helpers is negative, NaN or
    /// infinite.
    InvalidMeasurement {
        /// The rejected value.
        value: f64,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::NonFinite { block, coordinate } => write!(
                f,
                "coordinate {coordinate} of block {block} is NaN or infinite; \
                 replace non-finite values before quantizing"
            ),
            Error::OutOfRange {
                block,
                coordinate,
                value,
            } => write!(
                f,
                "coordinate {coordinate} of block {block} is {value}, outside \
                 [-{max}, {max}]; scale the input down",
                max = crate::lattice::MAX_COORDINATE
            ),
            Error::InvalidModulus { q } => {
                write!(f, "nesting ratio q = {q} is invalid; use 2 <= q <= 256")
            }
            Error::InvalidScaleCount { k } => write!(
                f,
                "scale count k = {k} is invalid; use 1 <= k <= {}",
                crate::code::MAX_SCALES
            ),
            Error::InvalidScale { index, value } => write!(
                f,
                "scale {index} is {value}; scales must be finite, positive, \
                 strictly increasing and small enough (below about 3e32) for \
                 decoded values to stay finite"
            ),
            Error::InvalidDimension { dim } => {
                write!(f, "block dimension {dim} is invalid; use a dimension >= 1")
            }
            Error::CodeTooWide { q, k, dim } => write!(
                f,
                "k * q^dim = {k} * {q}^{dim} states exceed a 64-bit code word; \
                 lower q or k"
            ),
            Error::InvalidDigit { index, digit, q } => {
                write!(f, "digit {index} is {digit}, not below q = {q}")
            }
            Error::InvalidScaleId { id, k } => {
                write!(f, "scale id {id} is not below the scale count k = {k}")
            }
            Error::InvalidCodeWord { word } => write!(
                f,
                "code word {word:#x} exceeds the number of states of this code; \
                 the buffer is corrupt or was written with other parameters"
            ),
            Error::InvalidLayerCount { layers } => write!(
                f,
                "layer count {layers} is invalid; use 1 <= layers <= {}",
                crate::code::MAX_LAYERS
            ),
            Error::HierarchyTooDeep { q, layers } => write!(
                f,
                "q^layers = {q}^{layers} exceeds 2^16; lower q or the layer count"
            ),
            Error::InvalidGain { value } => {
                write!(f, "gain {value} is invalid; use a finite positive value")
            }
            Error::LengthMismatch { expected, actual } => {
                write!(f, "length is {actual}, expected {expected}")
            }
            Error::BufferTooSmall { needed, actual } => {
                write!(f, "buffer holds {actual} bytes, {needed} are needed")
            }
            Error::InvalidMeasurement { value } => write!(
                f,
                "rate or distortion {value} is invalid; use a finite value >= 0"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}
