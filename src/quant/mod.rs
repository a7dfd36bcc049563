//! The matrix quantizer: each vector of a matrix (a row of a weight matrix,
//! or a column of `A` or `B` in `A^T B`) is coded on its own.
//!
//! The scheme is the universal quantizer of Ordentlich and Polyanskiy
//! ("Optimal quantization for matrix multiplication", ISIT 2025):
//!
//! 1. remove the mean (optional, stored as `f32`);
//! 2. divide by the RMS, stored as `bf16`;
//! 3. pad to a multiple of 8 and apply a seeded randomized Hadamard rotation
//!    ([`Rotation`]), so that the coordinates of any fixed vector look iid
//!    Gaussian and outliers are spread;
//! 4. code each group of 8 coordinates with the block code of a [`Preset`];
//! 5. pack the code words into one bit stream.
//!
//! # Byte layout
//!
//! All integers are little-endian and no field needs alignment, so a view
//! can read the layout in place from flash at any address.
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 4 | magic number `"NLQM"` |
//! | 4 | 2 | format version, 1 |
//! | 6 | 2 | preset id ([`Preset::id`]) |
//! | 8 | 1 | flags: bit 0 means removed, bit 1 rotated, bit 2 dithered; other bits 0 |
//! | 9 | 7 | reserved, 0 |
//! | 16 | 4 | vector length `n` (`u32`) |
//! | 20 | 4 | vector count `m` (`u32`) |
//! | 24 | 8 | rotation seed (0 when not rotated) |
//! | 32 | 8 | dither seed (0 without dither) |
//! | 40 | `2 m` | norms: per vector the RMS `sigma` of the mean-removed vector over the padded length, as `bf16` |
//! | | `4 m` | means as `f32`, present only when bit 0 of the flags is set |
//! | | `ceil(m G b / 8)` | code words: `G` groups per vector of `b` bits each, vector after vector, in the bit stream of [`crate::pack`] |
//!
//! `G` is the number of stored groups: `ceil(n / 8)` for most presets and
//! `ceil(ceil(n / 8) f)` for the low-rate presets, which keep a fraction
//! `f` of the groups. The buffer ends right after the code words.
//!
//! Means are stored as `f32`, not `bf16`, because a product folds the term
//! `n mu_a mu_b` back exactly only if the coded residual sums to zero. With
//! a mean rounded to `bf16` the residual would keep a sum of up to
//! `2^-9 n |mu|` that the decoder cannot see.
//!
//! # Bad input
//!
//! - NaN or infinity: [`crate::Error::NonFiniteEntry`] with the row and
//!   column.
//! - A zero vector: stored with norm 0, so its products are exact zeros
//!   (plus the mean terms).
//! - Subnormal entries are ordinary values. A vector whose RMS rounds to
//!   zero in `bf16` (below about 4.6e-41) is stored as a zero vector.
//! - Any length, including 1 and lengths that are not a multiple of 8: the
//!   vector is padded with zeros to a multiple of 8 before the rotation.
//! - Empty matrices: zero vectors give a buffer with the header only, and
//!   vectors of length zero have no code words and a norm of 0.
//! - A view over a truncated or overlong buffer, or over one whose header,
//!   norms or means hold invalid values: a typed error. The format has no
//!   checksum, so a changed code word, norm, mean or seed that is still a
//!   valid value decodes to other numbers without an error. A code word out
//!   of range gives [`crate::Error::InvalidCodeWord`] from the call that
//!   reads it. No buffer causes a panic or an out-of-bounds read.

pub(crate) mod codec;
mod config;
mod encode;
#[cfg(feature = "alloc")]
pub mod gaussian;
mod layout;
#[cfg(feature = "alloc")]
mod owned;
mod preset;
mod rotation;
#[cfg(feature = "alloc")]
pub mod tune;
mod vectors;
mod view;

pub use config::{DEFAULT_ROTATION_SEED, QuantizerConfig};
pub use encode::{quantize_into, quantize_scratch_len, quantized_len};
pub use layout::{FORMAT_VERSION, HEADER_LEN, MAGIC, MAX_STORED_MAGNITUDE};
#[cfg(feature = "alloc")]
pub use owned::QuantizedMatrix;
pub use preset::{Family, LatticeKind, Preset};
pub use rotation::{GROUP_LEN, Rotation};
pub use vectors::{Orientation, VectorSet};
pub use view::QuantizedMatrixRef;
