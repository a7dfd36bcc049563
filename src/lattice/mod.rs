//! Lattices and their nearest-point search.
//!
//! A lattice point is returned in its integer representation: the point
//! multiplied by [`Lattice::REPRESENTATION_SCALE`] (1 for Z^n and D_n, 2 for
//! E8, whose points have half-integer coordinates). Searches on `f32` input
//! follow the tie rule stated in the crate documentation.
//!
//! [`nearest_point`] is the scalar reference for one block, and
//! [`nearest_points`] the SIMD search that places eight blocks side by side in
//! the lanes of a register, so that parity and arg-max need no horizontal
//! operations. Both return the same points, bit for bit.

mod dn;
mod e8;
mod round;
mod simd;
mod zn;

pub use dn::Dn;
pub use e8::E8;
pub use simd::nearest_points;
pub use zn::Zn;

use crate::Error;

/// Largest coordinate magnitude accepted by the checked searches.
///
/// Below 2^21 the rounding steps of the search are exact in `f32`.
pub const MAX_COORDINATE: f32 = 1_048_576.0;

/// A lattice with a nearest-point search and exact integer arithmetic.
///
/// Implemented by [`Zn`], [`Dn`] and [`E8`] only, because the codes rely on
/// the tie rule and the exact arithmetic of these implementations.
pub trait Lattice<const N: usize>:
    Clone
    + Copy
    + core::fmt::Debug
    + Default
    + PartialEq
    + Eq
    + Send
    + Sync
    + 'static
    + search::Search<N>
{
    /// Short name, such as `"E8"`.
    const NAME: &'static str;

    /// Dimension of the lattice.
    const DIM: usize = N;

    /// Factor between a lattice point and its integer representation.
    const REPRESENTATION_SCALE: i32;

    /// Normalized second moment G of the Voronoi cell.
    const NORMALIZED_SECOND_MOMENT: f64;

    /// Volume of the Voronoi cell (the determinant of the generator).
    const CELL_VOLUME: f64;

    /// Bound on the magnitude of any coordinate of a point in the Voronoi cell.
    const CELL_COORDINATE_BOUND: f32;

    /// Returns the generator matrix in integer representation. Column `j`
    /// (entries `generator[i][j]`) is the `j`-th basis vector.
    fn generator() -> [[i32; N]; N] {
        let columns: [[i32; N]; N] = core::array::from_fn(|j| {
            let unit: [i32; N] = core::array::from_fn(|i| i32::from(i == j));
            Self::from_coordinates(&unit)
        });
        core::array::from_fn(|i| core::array::from_fn(|j| columns[j][i]))
    }

    /// Maps integer coordinates `c` to the lattice point `G c`, in integer
    /// representation. Arithmetic wraps on `i32` overflow, which needs
    /// coordinates beyond 2^27.
    fn from_coordinates(c: &[i32; N]) -> [i32; N];

    /// Maps a lattice point in integer representation to its coordinates
    /// `G^-1 p`. The result is meaningful only where [`Lattice::contains`]
    /// holds.
    fn to_coordinates(p: &[i32; N]) -> [i32; N];

    /// Tells whether an integer vector represents a point of the lattice.
    fn contains(p: &[i32; N]) -> bool;

    /// Returns a deep hole of the lattice (a point of the cell farthest from
    /// the lattice), in lattice units.
    fn deep_hole() -> [f32; N];
}

pub(crate) mod search {
    /// Searches that the codes call directly, with their input domains.
    pub trait Search<const N: usize> {
        /// Returns the nearest lattice point to `x`, in integer
        /// representation. Every `x[i]` must be finite with magnitude at
        /// most `MAX_COORDINATE`.
        fn nearest_reference(x: &[f32; N]) -> [i32; N];

        /// Returns the nearest points of eight blocks at once: lane `l` of
        /// `x[i]` is coordinate `i` of block `l`. Same domain as
        /// `nearest_reference`, and the same result lane by lane.
        fn nearest_lanes(x: &[wide::f32x8; N]) -> [wide::i32x8; N];

        /// Returns the nearest lattice point to `u / m`, in integer
        /// representation, where `u` is in integer representation too. Exact.
        /// Requires `0 < m < 2^28` and `|u[i]| < 2^28`.
        fn nearest_rational(u: &[i64; N], m: i64) -> [i64; N];
    }
}

/// Orientation of the tie rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Tie {
    /// The rule of the crate documentation: halves round up.
    Up,
    /// The mirrored rule `Q'(x) = -Q(-x)`: halves round down.
    Down,
}

/// Returns the nearest point of `L` to the rational vector `u / m`, both in
/// integer representation, with the given tie orientation. Exact.
pub(crate) fn nearest_rational<L: Lattice<N>, const N: usize>(
    u: &[i64; N],
    m: i64,
    tie: Tie,
) -> [i64; N] {
    match tie {
        Tie::Up => L::nearest_rational(u, m),
        Tie::Down => {
            let mirrored = u.map(|value| -value);
            L::nearest_rational(&mirrored, m).map(|value| -value)
        }
    }
}

/// Returns the nearest point of `L` to the block `x`, in integer
/// representation, by the scalar reference search.
///
/// # Errors
///
/// [`Error::NonFinite`] for NaN or infinity and [`Error::OutOfRange`] for a
/// coordinate beyond [`MAX_COORDINATE`].
pub fn nearest_point<L: Lattice<N>, const N: usize>(x: &[f32; N]) -> Result<[i32; N], Error> {
    validate_block(x, 0)?;
    Ok(L::nearest_reference(x))
}

/// Checks that every coordinate of block number `block` is finite and within
/// [`MAX_COORDINATE`].
pub(crate) fn validate_block<const N: usize>(x: &[f32; N], block: usize) -> Result<(), Error> {
    for (coordinate, &value) in x.iter().enumerate() {
        if !value.is_finite() {
            return Err(Error::NonFinite { block, coordinate });
        }
        if value.abs() > MAX_COORDINATE {
            return Err(Error::OutOfRange {
                block,
                coordinate,
                value,
            });
        }
    }
    Ok(())
}

/// Returns the squared Euclidean distance between `x` and the lattice point
/// `p` given in integer representation, in lattice units.
pub fn squared_distance<L: Lattice<N>, const N: usize>(x: &[f32; N], p: &[i32; N]) -> f64 {
    let scale = f64::from(L::REPRESENTATION_SCALE);
    x.iter()
        .zip(p)
        .map(|(&xi, &pi)| {
            let diff = f64::from(xi) - f64::from(pi) / scale;
            diff * diff
        })
        .sum()
}
