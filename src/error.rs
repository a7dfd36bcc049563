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
    /// A scalar code was requested with an unsupported number of bits per
    /// coordinate.
    InvalidBitWidth {
        /// The rejected bit width.
        bits: u32,
    },
    /// A dither was requested for a preset that is not a Voronoi code.
    DitherUnsupported {
        /// The preset id.
        preset: u16,
    },
    /// An entry of a matrix or vector is NaN or infinite.
    NonFiniteEntry {
        /// Row of the entry (0 for a single vector).
        row: usize,
        /// Column of the entry.
        column: usize,
    },
    /// A vector is too large: its RMS after mean removal or its mean exceeds
    /// `quant::MAX_STORED_MAGNITUDE` (about 1.27e30), or centering or
    /// rotating an `f32` operand overflows.
    NormOverflow {
        /// Index of the vector in the matrix.
        vector: usize,
    },
    /// A vector length or count is too large for the stored format, whose
    /// sizes are `u32` and whose buffers must fit in `usize`.
    ShapeTooLarge {
        /// Entries per vector.
        vector_len: usize,
        /// Number of vectors.
        vector_count: usize,
    },
    /// A buffer does not start with the magic number of a quantized matrix.
    InvalidMagic {
        /// The first four bytes found.
        found: [u8; 4],
    },
    /// A quantized matrix was written in a format version this build cannot
    /// read.
    UnsupportedVersion {
        /// The version found.
        version: u16,
    },
    /// A preset id or name is not one of the presets of this build.
    UnknownPreset {
        /// The id found.
        id: u16,
    },
    /// A header byte of a quantized matrix contains a value the format does not
    /// allow, such as an unknown flag or a non-zero reserved byte.
    InvalidHeader {
        /// Offset of the byte in the buffer.
        offset: usize,
        /// The value found.
        value: u8,
    },
    /// A stored vector norm is NaN, above `quant::MAX_STORED_MAGNITUDE` or
    /// has its sign bit set.
    InvalidStoredNorm {
        /// Index of the vector.
        vector: usize,
        /// The value found.
        value: f32,
    },
    /// A stored vector mean is NaN or above `quant::MAX_STORED_MAGNITUDE` in
    /// magnitude.
    InvalidStoredMean {
        /// Index of the vector.
        vector: usize,
        /// The value found.
        value: f32,
    },
    /// A vector index is not below the number of vectors of a matrix.
    InvalidVectorIndex {
        /// The rejected index.
        index: usize,
        /// Number of vectors.
        count: usize,
    },
    /// The two operands of a product were rotated by different maps, so
    /// their inner products cannot be computed without decoding both fully.
    RotationMismatch,
    /// One operand of a product of two coded matrices had its means removed
    /// and the other did not, so the mean terms cannot be folded back.
    MeanRemovalMismatch,
    /// A caller-provided scratch buffer has fewer `f32` values than the
    /// call needs.
    ScratchTooSmall {
        /// Values required.
        needed: usize,
        /// Values available.
        actual: usize,
    },
    /// Activations prepared for one matrix were passed with a matrix of
    /// another vector length, rotation or mean-removal setting.
    ActivationsMismatch {
        /// The setting that differs.
        setting: &'static str,
    },
    /// A range of rows is reversed or ends past the last row.
    InvalidRowRange {
        /// First row of the range.
        start: usize,
        /// One past the last row of the range.
        end: usize,
        /// Rows of the matrix.
        rows: usize,
    },
    /// Activations prepared for one kernel were passed with a matrix that
    /// selects another.
    KernelMismatch {
        /// The kernel the activations were prepared for.
        prepared: &'static str,
        /// The kernel the matrix needs.
        needed: &'static str,
    },
    /// A `.nlat` container is malformed.
    InvalidContainer {
        /// Offset in the file where the problem was found.
        offset: usize,
        /// The problem found.
        problem: crate::container::ContainerProblem,
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
            Error::InvalidBitWidth { bits } => write!(
                f,
                "{bits} bits per coordinate is invalid for a Lloyd-Max code; \
                 use 1 to {}",
                crate::code::MAX_LLOYD_MAX_BITS
            ),
            Error::DitherUnsupported { preset } => write!(
                f,
                "preset {preset} is not a Voronoi code and takes no dither; \
                 drop the dither seed or pick an E8, D4 or Z preset"
            ),
            Error::NonFiniteEntry { row, column } => write!(
                f,
                "entry at row {row}, column {column} is NaN or infinite; \
                 replace non-finite values before quantizing"
            ),
            Error::NormOverflow { vector } => write!(
                f,
                "vector {vector} is too large: its RMS or mean exceeds 1.27e30, \
                 or its values overflow f32 arithmetic; scale the data down"
            ),
            Error::ShapeTooLarge {
                vector_len,
                vector_count,
            } => write!(
                f,
                "{vector_count} vectors of {vector_len} entries exceed the \
                 format limits; use at most 2^32 - 8 entries per vector and \
                 2^32 - 1 vectors that fit in memory"
            ),
            Error::InvalidMagic { found } => write!(
                f,
                "buffer starts with {found:02x?}, not the magic number \"NLQM\"; \
                 it does not hold a quantized matrix"
            ),
            Error::UnsupportedVersion { version } => write!(
                f,
                "format version {version} is not supported by this build; \
                 quantize the matrix again with this version"
            ),
            Error::UnknownPreset { id } => write!(
                f,
                "preset id {id} is unknown; the data was written by another \
                 version or is corrupt"
            ),
            Error::InvalidHeader { offset, value } => write!(
                f,
                "header byte {offset} holds the invalid value {value:#04x}; \
                 the buffer is corrupt"
            ),
            Error::InvalidStoredNorm { vector, value } => write!(
                f,
                "stored norm of vector {vector} is {value}, not between +0 and \
                 1.27e30; the buffer is corrupt"
            ),
            Error::InvalidStoredMean { vector, value } => write!(
                f,
                "stored mean of vector {vector} is {value}, not within \
                 +-1.27e30; the buffer is corrupt"
            ),
            Error::InvalidVectorIndex { index, count } => write!(
                f,
                "vector index {index} is not below the vector count {count}"
            ),
            Error::RotationMismatch => write!(
                f,
                "the operands were rotated by different maps; quantize both \
                 with the same rotation seed and vector length"
            ),
            Error::MeanRemovalMismatch => write!(
                f,
                "one operand had its means removed and the other did not; \
                 quantize both with the same mean-removal setting"
            ),
            Error::ScratchTooSmall { needed, actual } => write!(
                f,
                "scratch buffer holds {actual} values, {needed} are needed"
            ),
            Error::ActivationsMismatch { setting } => write!(
                f,
                "the activations were prepared for a matrix with another \
                 {setting}; prepare them with this matrix"
            ),
            Error::InvalidRowRange { start, end, rows } => write!(
                f,
                "row range {start}..{end} is invalid for a matrix of {rows} \
                 rows; use start <= end <= {rows}"
            ),
            Error::KernelMismatch { prepared, needed } => write!(
                f,
                "the activations were prepared for the {prepared} kernel but \
                 the matrix needs {needed}; prepare them with this matrix"
            ),
            Error::InvalidContainer { offset, problem } => write!(
                f,
                "invalid .nlat container at byte {offset}: {problem}; the file \
                 is damaged or was not written by nestlat"
            ),
            Error::InvalidMeasurement { value } => write!(
                f,
                "rate or distortion {value} is invalid; use a finite value >= 0"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}
