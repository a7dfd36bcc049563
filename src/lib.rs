//! Nested-lattice quantization of vectors and matrices, for quantized matrix
//! products on CPUs and microcontrollers.
//!
//! The crate is `#![no_std]` and never allocates in its core. Its modules:
//!
//! - [`quant`]: the matrix quantizer (mean removal, norms, a randomized
//!   Hadamard rotation, named presets) and its byte layout;
//! - [`container`]: the `.nlat` file of named tensors, read in place;
//! - [`product`]: dot products, `W x` and `A^T B` computed from coded
//!   matrices: the scalar reference;
//! - [`kernel`]: the fast products `W x` and `W X` over any range of rows,
//!   with SIMD kernels for AVX2, SSE2 and NEON;
//! - [`lattice`]: the lattices Z^n, D_n and E8 with nearest-point search;
//! - [`code`]: nested-lattice (Voronoi) codes with several scales per block, a
//!   hierarchical variant, a 1-bit E8 shell code, a 2-bit E8 ball code and
//!   scalar Lloyd-Max codes;
//! - [`pack`]: block indices packed into code words at the exact stored rate;
//! - [`bound`]: the distortion limit Gamma(R) of quantized matrix
//!   multiplication;
//! - [`rng`]: the seeded generator behind dithers.
//!
//! # Features
//!
//! | feature | default | effect |
//! |---|---|---|
//! | `std` | off | implements `std::error::Error`; enables `alloc`; used for host testing |
//! | `alloc` | off | owned buffers: `quant::QuantizedMatrix`, `quant::tune`, `quant::gaussian`, `pack::BlockFormat::pack_all` |
//! | `defmt` | off | `defmt::Format` for the error type and the `no_std` types (codes, indices, presets, settings, views, containers), for logging on firmware; the host-only types of `alloc` and `std` have none |
//! | `capi` | off | the C interface (module `capi`): `extern "C"` functions over quantized matrix buffers, declared in `include/nestlat.h` |
//! | `cli` | off | the `nestlat` binary (`clap`, `serde_json`); enables `std` |
//!
//! No feature is on by default, so a firmware build gets the allocation-free
//! core with `default-features = false` implied.
//!
//! # Numeric conventions
//!
//! - **Tie rule.** Every nearest-point search rounds a coordinate half-way
//!   between two integers up (toward +inf), so the cell of a lattice point is
//!   half-open and translating the input by a lattice vector translates the
//!   result by the same vector. D_n repairs the parity of the rounded vector
//!   by moving the coordinate with the largest rounding error (the lowest
//!   index among equal errors) one step toward the input. E8 keeps the nearer
//!   of its two D8 cosets and, at equal distance, the candidate with the
//!   larger first coordinate. The mirrored rule `Q'(x) = -Q(-x)` is used only
//!   by the odd layers of the hierarchical code, whose decoder applies the same
//!   rule.
//! - **Exactness.** Searches on `f32` input use only IEEE additions,
//!   subtractions, multiplications and comparisons in a fixed order, so the
//!   scalar reference and the SIMD path give the same point, bit for bit, on
//!   every target. The Z^n and D_n searches return a nearest point for every
//!   accepted input. The E8 search compares its two D8 candidates by `f32`
//!   squared distances after computing `x - 1/2`. It is exact when every
//!   coordinate is a multiple of 2^-8 below 2^12 in magnitude. Otherwise the
//!   point it returns can be farther than the nearest by a few units in the
//!   last place of the squared distance. The overload test and the decoder of
//!   the nested-lattice codes run in integer arithmetic and are exact, so
//!   this rounding never makes encoder and decoder disagree.
//! - **NaN, infinity and range.** Checked searches reject NaN and infinity
//!   with [`Error::NonFinite`] and coordinates beyond
//!   [`lattice::MAX_COORDINATE`] with [`Error::OutOfRange`]. The encoders of
//!   the codes reject non-finite input the same way. They clamp finite values
//!   to that range first, which only marks the block as overloaded.
//! - **Zero and subnormal input.** The searches return the zero point for a
//!   zero block, and an unshifted, undithered Voronoi code encodes it to the
//!   zero digits. Subnormal values are ordinary finite inputs and round to
//!   zero. The shell code has no zero vector and codes a zero block as index 0.
//! - **Byte order.** Packed code words are written least significant bit
//!   first into little-endian byte streams, independent of the target, and
//!   every integer and float of a quantized matrix is little-endian.
//!
//! # Panics
//!
//! No public function panics on any input. Invalid parameters are rejected
//! when a code is constructed, and invalid data with an [`Error`] that names
//! the value.
#![no_std]
#![forbid(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod bound;
#[cfg(feature = "capi")]
pub mod capi;
pub mod code;
pub mod container;
mod error;
pub mod kernel;
pub mod lattice;
pub mod pack;
pub mod product;
pub mod quant;
pub mod rng;

pub use error::Error;

/// Compiles and runs the Rust examples of the README as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;
