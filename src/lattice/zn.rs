//! The integer lattice Z^n.

use wide::{f32x8, i32x8};

use super::round::{round_half_up, round_half_up_lanes, round_ratio_half_up};
use super::{Lattice, search::Search};

/// The integer lattice Z^N: nearest point by rounding each coordinate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Zn<const N: usize>;

impl<const N: usize> Search<N> for Zn<N> {
    fn nearest_reference(x: &[f32; N]) -> [i32; N] {
        x.map(|value| round_half_up(value) as i32)
    }

    fn nearest_lanes(x: &[f32x8; N]) -> [i32x8; N] {
        x.map(|lanes| round_half_up_lanes(lanes).trunc_int())
    }

    fn nearest_rational(u: &[i64; N], m: i64) -> [i64; N] {
        u.map(|value| round_ratio_half_up(value, m))
    }
}

impl<const N: usize> Lattice<N> for Zn<N> {
    const NAME: &'static str = "Z";
    const REPRESENTATION_SCALE: i32 = 1;
    const NORMALIZED_SECOND_MOMENT: f64 = 1.0 / 12.0;
    const CELL_VOLUME: f64 = 1.0;
    const CELL_COORDINATE_BOUND: f32 = 0.5;

    fn from_coordinates(c: &[i32; N]) -> [i32; N] {
        *c
    }

    fn to_coordinates(p: &[i32; N]) -> [i32; N] {
        *p
    }

    fn contains(_p: &[i32; N]) -> bool {
        true
    }

    fn deep_hole() -> [f32; N] {
        [0.5; N]
    }
}
