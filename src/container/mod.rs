//! The `.nlat` container: several named tensors, quantized or stored as
//! they are, in one file that a firmware can read in place.
//!
//! [`Container::parse`] reads a file zero-copy from a `&[u8]` at any
//! alignment and checks every field before it returns. `ContainerWriter`
//! (feature `alloc`) writes one.
//!
//! # Layout
//!
//! All integers are little-endian. The file starts with a 32-byte header:
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 8 | magic number `"NLAT\r\n\x1a\n"` |
//! | 8 | 2 | container version, 1 |
//! | 10 | 2 | reserved, 0 |
//! | 12 | 4 | tensor count (`u32`), at most [`MAX_TENSORS`] |
//! | 16 | 8 | directory length in bytes (`u64`) |
//! | 24 | 8 | file length in bytes (`u64`) |
//!
//! The directory follows at offset 32: one entry per tensor, each padded
//! with zeros to a multiple of 8 bytes.
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 2 | name length `L`, 1 to [`MAX_NAME_LEN`] |
//! | 2 | 1 | kind: 0 quantized, 1 `f32`, 2 `f16`, 3 `bf16` |
//! | 3 | 1 | rank `r`, 1 to [`MAX_RANK`]; 2 for a quantized tensor |
//! | 4 | 4 | reserved, 0 |
//! | 8 | 8 | payload offset, a multiple of [`PAYLOAD_ALIGN`] |
//! | 16 | 8 | payload length |
//! | 24 | `8 r` | shape, `u64` per dimension |
//! | | `L` | name, UTF-8 |
//! | | 40 + `4 k` | quantization parameters, for a quantized tensor only |
//!
//! The quantization parameters repeat everything needed to decode, so that
//! a reader can check them against the presets of its own build:
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 1 | orientation: 0 rows (each row of the shape is a vector), 1 columns |
//! | 1 | 1 | family: 0 E8 Voronoi, 1 D4 Voronoi, 2 Z^8 Voronoi, 3 hierarchical E8, 4 Lloyd-Max, 5 E8 shell, 6 E8 ball |
//! | 2 | 2 | preset id |
//! | 4 | 2 | family parameter: `q` (Voronoi), layers (hierarchical), bits (Lloyd-Max), kept quarters (shell), 0 (ball) |
//! | 6 | 1 | scale count `k` |
//! | 7 | 1 | flags: bit 0 means removed, bit 1 rotated (two-pass randomized Hadamard, quantizer format 1), bit 2 dithered |
//! | 8 | 4 | gain (`f32`) |
//! | 12 | 4 | reserved, 0 |
//! | 16 | 8 | rotation seed (0 when not rotated) |
//! | 24 | 8 | dither seed (0 without dither) |
//! | 32 | 8 | reserved, 0 |
//! | 40 | `4 k` | scales (`f32`) |
//!
//! After the directory come the payloads in directory order, each at the
//! first offset after the previous one (or after the directory) that is a
//! multiple of [`PAYLOAD_ALIGN`], with zero padding in between. A quantized payload is the byte layout of
//! [`crate::quant`]; a raw payload contains the values in row-major order.
//! The file ends right after the last payload.
//!
//! # Checks
//!
//! [`Container::parse`] returns [`Error::InvalidContainer`], with the offset
//! and a [`ContainerProblem`], for:
//!
//! - a short file, a wrong magic number or version, or non-zero reserved
//!   bytes;
//! - sizes that overflow or do not add up;
//! - payloads out of order, out of bounds or misaligned;
//! - names that are not UTF-8 or repeat;
//! - unknown kinds, ranks or presets;
//! - quantization parameters that differ from the preset or from the
//!   payload's own header.
//!
//! It never panics and never reads out of bounds.

mod entry;
mod params;
#[cfg(feature = "alloc")]
mod write;

pub use entry::{Container, TensorEntry, TensorKind, Tensors};
#[cfg(feature = "alloc")]
pub use write::ContainerWriter;

use crate::Error;

/// The first eight bytes of every container.
pub const CONTAINER_MAGIC: [u8; 8] = *b"NLAT\r\n\x1a\n";

/// The container version this build writes and reads.
pub const CONTAINER_VERSION: u16 = 1;

/// Bytes of the file header.
pub const FILE_HEADER_LEN: usize = 32;

/// Alignment of every payload, so that a reader can map `f32` data in place.
pub const PAYLOAD_ALIGN: usize = 64;

/// Maximum length of a tensor name in bytes.
pub const MAX_NAME_LEN: usize = 1024;

/// Largest tensor rank.
pub const MAX_RANK: usize = 8;

/// Largest number of tensors in a container. It bounds the time of the
/// check for repeated names, which compares every pair of names.
pub const MAX_TENSORS: usize = 4096;

/// The problem found in a container, reported with its offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ContainerProblem {
    /// The file ends before the structure at the offset does.
    Truncated,
    /// The file does not start with [`CONTAINER_MAGIC`].
    BadMagic,
    /// The container version is not [`CONTAINER_VERSION`].
    UnsupportedVersion(u16),
    /// A reserved byte or padding byte is not zero.
    NonZeroReserved,
    /// The stored file length differs from the actual length.
    LengthMismatch,
    /// The tensor count exceeds [`MAX_TENSORS`].
    TooManyTensors,
    /// A size or an offset overflows.
    Overflow,
    /// The directory length differs from the entries it holds.
    DirectoryLength,
    /// A name is empty, too long, not UTF-8, or repeats an earlier name.
    BadName,
    /// The tensor kind is unknown.
    UnknownKind(u8),
    /// The rank is 0, above [`MAX_RANK`], or not 2 for a quantized tensor.
    BadRank(u8),
    /// A payload is misaligned, out of order or out of bounds, or its length
    /// does not match the shape.
    BadPayload,
    /// The orientation or family code is unknown.
    UnknownCode(u8),
    /// The preset id is unknown to this build.
    UnknownPreset(u16),
    /// The quantization parameters differ from the preset's or from the
    /// payload's own header.
    ParameterMismatch,
    /// The quantized payload itself is invalid.
    BadMatrix(QuantizedMatrixProblem),
}

/// The error of a quantized payload, reduced to what fits a `Copy` problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum QuantizedMatrixProblem {
    /// The payload's header or length is invalid.
    Header,
    /// A stored norm or mean is invalid.
    Values,
}

impl core::fmt::Display for ContainerProblem {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Self::Truncated => write!(f, "the file ends early"),
            Self::BadMagic => write!(f, "the magic number is not that of a .nlat file"),
            Self::UnsupportedVersion(version) => {
                write!(f, "container version {version} is not supported")
            }
            Self::NonZeroReserved => write!(f, "a reserved or padding byte is not zero"),
            Self::LengthMismatch => write!(f, "the stored file length differs from the actual"),
            Self::TooManyTensors => write!(f, "the tensor count exceeds {MAX_TENSORS}"),
            Self::Overflow => write!(f, "a size or offset overflows"),
            Self::DirectoryLength => {
                write!(f, "the directory length differs from its entries")
            }
            Self::BadName => write!(f, "a name is empty, too long, not UTF-8 or repeated"),
            Self::UnknownKind(kind) => write!(f, "tensor kind {kind} is unknown"),
            Self::BadRank(rank) => write!(f, "rank {rank} is invalid for this tensor"),
            Self::BadPayload => write!(
                f,
                "a payload is misaligned, out of order, out of bounds or of the wrong length"
            ),
            Self::UnknownCode(code) => write!(f, "orientation or family code {code} is unknown"),
            Self::UnknownPreset(id) => write!(f, "preset id {id} is unknown to this build"),
            Self::ParameterMismatch => write!(
                f,
                "the quantization parameters differ from the preset or the payload header"
            ),
            Self::BadMatrix(QuantizedMatrixProblem::Header) => {
                write!(f, "the quantized payload has an invalid header or length")
            }
            Self::BadMatrix(QuantizedMatrixProblem::Values) => {
                write!(f, "the quantized payload has an invalid norm or mean")
            }
        }
    }
}

/// Returns the container error for `problem` at `offset`.
fn invalid(offset: usize, problem: ContainerProblem) -> Error {
    Error::InvalidContainer { offset, problem }
}
