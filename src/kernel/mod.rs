//! Fast products of a coded matrix `W` (one vector per row) with a batch of
//! activation vectors: `W x` and `W X`, over any range of rows.
//!
//! The activations are prepared once per product ([`Activations`]): centered
//! when `W` had its means removed, padded, rotated by the map of `W`, and
//! laid out for the kernel that the preset of `W` selects ([`KernelPath`]).
//! [`matmul_rows`] then computes any range of output rows, so a caller can
//! split one product over threads; the core itself never starts a thread.
//! Each weight group is decoded once per row and per tile of
//! [`COLUMN_TILE`] activation vectors, and used against the whole tile
//! before the next group is read.
//!
//! # Kernels and activation paths
//!
//! | path | presets | weights | activations |
//! |---|---|---|---|
//! | [`KernelPath::Nibble`] | `lloyd-4` | 4-bit digits, looked up in a 16-entry `i8` table | `i8`, one `f32` scale per block of 32 |
//! | [`KernelPath::Ball`] | `e8b-2` | ball code indices: a pattern word and a sign mask per group, exact | `i8`, one `f32` scale per block of 32 |
//! | [`KernelPath::E8Lanes`] | `e8-4`, `e8-3`, `e8-2` (undithered) | exact integer Voronoi decode of 16 groups side by side in `u32` and `i16` lanes | `f32`, 16 groups transposed into lanes |
//! | [`KernelPath::Groups`] | every other preset | the scalar group decoder | `f32` |
//!
//! The choice was measured (`nestlat bench`, `benches/kernel.rs`). A 4-bit
//! digit kernel is bound by memory once its integer dot products run on
//! 32 bytes at a time, and `i8` activations are what makes that possible
//! (one `maddubs` on AVX2, `smull` and `smlal` on NEON). The E8 decoder
//! costs far more per weight than any dot product, so quantizing the
//! activations would add error without saving time: that path keeps them in
//! `f32`. Its decoder first ran in `f32` lanes. The exact `i16` form
//! replaced it at twice the speed: 16 groups share each instruction, and
//! integer operations have more execution ports. A table-lookup kernel for the
//! hierarchical E8 presets was not kept, because those presets are 8 to
//! 14 dB above the bound (see [`crate::quant::Preset`]).
//!
//! # Exactness
//!
//! Every SIMD path equals its scalar reference bit for bit on the integer
//! part, and the unit tests check it on every backend that the build and the
//! machine have:
//!
//! - `Nibble` and `Ball`: the `i32` dot product of each block of 32 weights
//!   with its `i8` activations. The SIMD sum of each block is converted to
//!   `f32` once and multiplied by the block's activation scale. The ball
//!   weights equal [`crate::code::ball_doubled`] for all 65536 indices.
//! - `E8Lanes`: the decoded lattice point of each group equals
//!   [`crate::code::VoronoiCode::decode_point`].
//!
//! Each activation vector is scaled by a power of two so that its largest
//! magnitude lies in `[0.5, 1)`, and the results are scaled back in `f64`
//! with the mean term. The kernels' sums therefore never overflow: a result
//! beyond the `f32` range is infinite, never NaN, and subnormal activations
//! keep their relative precision. Because the mean term is computed in
//! `f64`, the kernels also accept activations whose mean term `n mu_x`
//! overflows `f32`, which [`crate::product`] rejects with
//! [`Error::NormOverflow`].
//!
//! The float part (sums of the scaled block or group products) is added in a
//! different order on each backend. Each result differs from the scalar
//! reference by at most `(groups + 8) 2^-23` times the sum of the magnitudes
//! of its terms, the standard bound for recursive summation; the tests check
//! that bound.
//!
//! The `i8` paths also differ from [`crate::product`] by design. The
//! activations are rounded to `i8` per block of 32 (at most half a step of
//! `max|x| / 127`), and the 16 levels of `Nibble` are rounded to `i8` (at
//! most 0.0108 in units of the unit-scale level, about -44 dB against the
//! signal). Both errors are far below the weight error of a 4-bit (-20 dB)
//! or 2-bit code. The ball code's weights are small integers and stay
//! exact.
//!
//! # Accumulator bounds
//!
//! No path can overflow an integer for any code and any activation:
//!
//! - `Nibble` and `Ball`: weights and activations lie in `[-127, 127]`
//!   (ball weights in `[-7, 7]`). AVX2 `maddubs` adds two products of
//!   magnitude at most `127 * 127 = 16129` into an `i16`: at most
//!   32258 < 32767. NEON `smull` plus `smlal` adds
//!   the same two products into an `i16`. Each block's `i32` sum is at most
//!   `32 * 16129 = 516128 < 2^31`, and it is converted to `f32` before the
//!   next block, so the row length does not matter. The tests run rows of
//!   65536 with every product at that bound.
//! - `E8Lanes`: the code word is divided in `u32` lanes by multiply-high
//!   with a magic number that is checked to be exact for every word below
//!   `k q^8`. Every `i16` value is bounded by `q <= 13`: the digits are
//!   below `q`, the halves below `q^4 = 28561`, `u + 2q` lies in `[0, 7q]`,
//!   `sum |t|` is at most `8q`, `sum t^2` and both squared distances at most
//!   `12 q^2 = 2028`, and `2q sum |t|` at most `16 q^2 = 2704`, all far
//!   below 2^15. The decoded coordinates (at most `2q + 2`) then meet the
//!   activations in `f32`.
//! - `Groups` does all arithmetic in `f32`.
//!
//! # Backends
//!
//! The `i8` paths have an AVX2 kernel (`core::arch`, chosen at compile time
//! with `target-feature=+avx2,+fma`, or at run time under `std`), a NEON
//! kernel on aarch64, and a portable one elsewhere (SSE2 builds without
//! `std`, Cortex-M). The `E8Lanes` path uses the 16-lane types of `wide`,
//! which compile to AVX2, SSE2, NEON or scalar code as the target allows;
//! build with `-C target-cpu=x86-64-v3` to get AVX2 there. [`backend`] names
//! what runs.

mod activations;
mod e8;
mod groups;
mod int8;
#[cfg(target_arch = "aarch64")]
mod int8_neon;
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
mod int8_x86;

pub use activations::{Activations, BufferLengths};

use core::ops::Range;

use crate::Error;
use crate::quant::{Family, LatticeKind, QuantizedMatrixRef, VectorSet};

/// Activation vectors that share each decoded weight group.
pub const COLUMN_TILE: usize = 8;

/// The kernel that a coded matrix selects. More kernels may be added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum KernelPath {
    /// 4-bit Lloyd-Max digits against `i8` activations.
    Nibble,
    /// E8 ball code indices, turned into `i8` weights, against `i8`
    /// activations.
    Ball,
    /// E8 Voronoi groups decoded sixteen at a time in SIMD lanes.
    E8Lanes,
    /// The scalar group decoder, for every other preset.
    Groups,
}

impl KernelPath {
    /// Returns the path for the preset and settings of `w`.
    pub fn of(w: &QuantizedMatrixRef<'_>) -> Self {
        let undithered = w.config().dither_seed().is_none();
        match *w.preset().family() {
            Family::LloydMax { bits: 4 } => Self::Nibble,
            Family::Ball { .. } => Self::Ball,
            Family::Voronoi {
                lattice: LatticeKind::E8,
                ..
            } if undithered => Self::E8Lanes,
            _ => Self::Groups,
        }
    }

    /// Returns a short name: `nibble-i8`, `ball-i8`, `e8-lanes` or
    /// `groups-f32`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Nibble => "nibble-i8",
            Self::Ball => "ball-i8",
            Self::E8Lanes => "e8-lanes",
            Self::Groups => "groups-f32",
        }
    }
}

/// Returns the SIMD backend that `path` runs, such as `avx2`, `neon`,
/// `sse2` or `portable`: detected on this machine for the `i8` paths under
/// `std`, fixed by the build's target features for `E8Lanes`.
pub fn backend(path: KernelPath) -> &'static str {
    match path {
        KernelPath::Nibble | KernelPath::Ball => int8::backend_name(),
        KernelPath::E8Lanes => e8::backend_name(),
        KernelPath::Groups => "scalar",
    }
}

/// Computes rows `rows` of `W X`: `out[(i - rows.start) * batch + j]` is the
/// product of row `i` of `w` with activation vector `j`.
///
/// # Errors
///
/// - [`Error::ActivationsMismatch`] when `activations` were prepared for a
///   matrix of another vector length, rotation or mean-removal setting.
/// - [`Error::KernelMismatch`] when they were laid out for another kernel.
/// - [`Error::InvalidRowRange`] for a reversed range or one past the last
///   row.
/// - [`Error::LengthMismatch`] unless `out` has `rows.len() * batch` values.
/// - [`Error::InvalidCodeWord`] for a corrupt code word.
pub fn matmul_rows(
    w: &QuantizedMatrixRef<'_>,
    activations: &Activations<'_>,
    rows: Range<usize>,
    out: &mut [f32],
) -> Result<(), Error> {
    activations.check_matrix(w)?;
    check_rows(w, &rows)?;
    let expected = rows.len().saturating_mul(activations.batch());
    if out.len() != expected {
        return Err(Error::LengthMismatch {
            expected,
            actual: out.len(),
        });
    }
    if activations.batch() == 0 {
        return Ok(());
    }

    match activations.path() {
        KernelPath::Nibble | KernelPath::Ball => {
            int8::matmul_rows(w, activations, rows.clone(), out)?
        }
        KernelPath::E8Lanes => e8::matmul_rows(w, activations, rows.clone(), out)?,
        KernelPath::Groups => groups::matmul_rows(w, activations, rows.clone(), out)?,
    }
    add_means(w, activations, rows, out)
}

/// Computes `y = W x` with the kernel of `w`. `floats` and `bytes` need the
/// lengths of [`BufferLengths::new`]`(w, 1)`.
///
/// # Errors
///
/// As [`Activations::prepare`] and [`matmul_rows`].
pub fn matvec(
    w: &QuantizedMatrixRef<'_>,
    x: &[f32],
    floats: &mut [f32],
    bytes: &mut [i8],
    y: &mut [f32],
) -> Result<(), Error> {
    let x = VectorSet::rows(x, 1, x.len())?;
    let activations = Activations::prepare(w, &x, floats, bytes)?;
    matmul_rows(w, &activations, 0..w.vector_count(), y)
}

/// Rejects a row range that is reversed or ends past the last row.
fn check_rows(w: &QuantizedMatrixRef<'_>, rows: &Range<usize>) -> Result<(), Error> {
    if rows.start > rows.end || rows.end > w.vector_count() {
        return Err(Error::InvalidRowRange {
            start: rows.start,
            end: rows.end,
            rows: w.vector_count(),
        });
    }
    Ok(())
}

/// Scales each row's unit-scale sums by its norm and gain and by the power
/// of two of each activation vector, and adds the mean term `n mu_w mu_x`,
/// combining in `f64`.
fn add_means(
    w: &QuantizedMatrixRef<'_>,
    activations: &Activations<'_>,
    rows: Range<usize>,
    out: &mut [f32],
) -> Result<(), Error> {
    let len = w.vector_len() as f64;
    let mut factors = [0.0f64; COLUMN_TILE];
    for (row, values) in rows.zip(out.chunks_exact_mut(activations.batch())) {
        let scale = f64::from(w.group_scale(row)?);
        let mean_term = len * f64::from(w.vector_mean(row)?);
        let columns = values
            .chunks_mut(COLUMN_TILE)
            .zip(activations.means().chunks(COLUMN_TILE))
            .zip(activations.exponents().chunks(COLUMN_TILE));
        for ((values, means), exponents) in columns {
            for (factor, &exponent) in factors.iter_mut().zip(exponents) {
                *factor = scale * libm::ldexp(1.0, exponent as i32);
            }
            for ((value, &mean), &factor) in values.iter_mut().zip(means).zip(&factors) {
                *value = (factor * f64::from(*value) + mean_term * f64::from(mean)) as f32;
            }
        }
    }
    Ok(())
}
