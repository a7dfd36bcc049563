//! The Gosset lattice E8 = D8 union (D8 + 1/2).

use wide::{f32x8, i32x8};

use super::dn::{nearest_dn_rational, nearest_dn_value_lanes, nearest_dn_values};
use super::{Lattice, search::Search};

/// The Gosset lattice E8, the union of D8 and its coset D8 + (1/2, ..., 1/2).
///
/// Its integer representation doubles every point: the vectors of integers
/// that all have the same parity and whose sum is a multiple of 4. The search
/// decodes both cosets and keeps the nearer candidate; at equal distance it
/// keeps the candidate with the larger first coordinate.
///
/// Basis (the columns of [`Lattice::generator`], halved): `2 e_0`,
/// `e_i - e_{i-1}` for `i = 1..7`, and `(1/2, ..., 1/2)`, as in the public
/// NestQuant code. Its determinant is 1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct E8;

impl Search<8> for E8 {
    fn nearest_reference(x: &[f32; 8]) -> [i32; 8] {
        let integer = nearest_dn_values(x);
        let shifted_input = x.map(|value| value - 0.5);
        let half_integer = nearest_dn_values(&shifted_input);

        let mut integer_distance = 0.0f32;
        let mut half_integer_distance = 0.0f32;
        for i in 0..8 {
            let integer_error = x[i] - integer[i];
            let half_integer_error = shifted_input[i] - half_integer[i];
            integer_distance += integer_error * integer_error;
            half_integer_distance += half_integer_error * half_integer_error;
        }

        let keep_half_integer = half_integer_distance < integer_distance
            || (half_integer_distance == integer_distance && half_integer[0] + 0.5 > integer[0]);
        if keep_half_integer {
            half_integer.map(|value| 2 * value as i32 + 1)
        } else {
            integer.map(|value| 2 * value as i32)
        }
    }

    fn nearest_lanes(x: &[f32x8; 8]) -> [i32x8; 8] {
        let half = f32x8::splat(0.5);
        let integer = nearest_dn_value_lanes(x);
        let shifted_input = x.map(|lanes| lanes - half);
        let half_integer = nearest_dn_value_lanes(&shifted_input);

        let mut integer_distance = f32x8::ZERO;
        let mut half_integer_distance = f32x8::ZERO;
        for i in 0..8 {
            let integer_error = x[i] - integer[i];
            let half_integer_error = shifted_input[i] - half_integer[i];
            integer_distance += integer_error * integer_error;
            half_integer_distance += half_integer_error * half_integer_error;
        }

        let nearer = half_integer_distance.simd_lt(integer_distance);
        let tied = half_integer_distance.simd_eq(integer_distance);
        let larger_first = (half_integer[0] + half).simd_gt(integer[0]);
        let keep_half_integer = nearer | (tied & larger_first);

        let two = f32x8::splat(2.0);
        core::array::from_fn(|i| {
            let doubled =
                keep_half_integer.select(two * half_integer[i] + f32x8::ONE, two * integer[i]);
            doubled.trunc_int()
        })
    }

    fn nearest_rational(u: &[i64; 8], m: i64) -> [i64; 8] {
        // The target in lattice units is u / (2m). Its D8 candidate is the
        // nearest D8 point to u / (2m). The other candidate is the nearest D8
        // point to (u - m) / (2m), plus one half.
        let integer = nearest_dn_rational(u, 2 * m);
        let shifted_input = u.map(|value| value - m);
        let half_integer = nearest_dn_rational(&shifted_input, 2 * m);

        let mut integer_distance = 0i64;
        let mut half_integer_distance = 0i64;
        for i in 0..8 {
            let integer_error = u[i] - 2 * m * integer[i];
            let half_integer_error = shifted_input[i] - 2 * m * half_integer[i];
            integer_distance += integer_error * integer_error;
            half_integer_distance += half_integer_error * half_integer_error;
        }

        let keep_half_integer = half_integer_distance < integer_distance
            || (half_integer_distance == integer_distance
                && 2 * half_integer[0] + 1 > 2 * integer[0]);
        if keep_half_integer {
            half_integer.map(|value| 2 * value + 1)
        } else {
            integer.map(|value| 2 * value)
        }
    }
}

impl Lattice<8> for E8 {
    const NAME: &'static str = "E8";
    const REPRESENTATION_SCALE: i32 = 2;
    /// 929 / 12960 (Conway and Sloane, "Sphere Packings, Lattices and Groups").
    const NORMALIZED_SECOND_MOMENT: f64 = 929.0 / 12960.0;
    const CELL_VOLUME: f64 = 1.0;
    const CELL_COORDINATE_BOUND: f32 = 1.0;

    fn from_coordinates(c: &[i32; 8]) -> [i32; 8] {
        let mut p = [0i32; 8];
        for i in 0..7 {
            let next = if i < 6 { c[i + 1] } else { 0 };
            let own = if i == 0 { c[0].wrapping_mul(2) } else { c[i] };
            p[i] = own.wrapping_sub(next).wrapping_mul(2).wrapping_add(c[7]);
        }
        p[7] = c[7];
        p
    }

    /// Inverse of the generator in closed form: `c_7 = p_7`,
    /// `c_i = sum_{j=i..6} (p_j - p_7) / 2` for `i = 1..6`, and
    /// `c_0 = sum_{j=0..6} (p_j - p_7) / 4`.
    fn to_coordinates(p: &[i32; 8]) -> [i32; 8] {
        let mut c = [0i32; 8];
        c[7] = p[7];
        let mut suffix_sum = 0i32;
        for i in (0..7).rev() {
            suffix_sum = suffix_sum.wrapping_add(p[i].wrapping_sub(p[7]));
            c[i] = suffix_sum.wrapping_div(2);
        }
        c[0] = suffix_sum.wrapping_div(4);
        c
    }

    fn contains(p: &[i32; 8]) -> bool {
        let parity = p[0] & 1;
        let same_parity = p.iter().all(|&value| value & 1 == parity);
        let sum = p.iter().fold(0i32, |sum, &value| sum.wrapping_add(value));
        same_parity && sum & 3 == 0
    }

    fn deep_hole() -> [f32; 8] {
        [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    }
}
