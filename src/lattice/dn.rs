//! The checkerboard lattice D_n: integer vectors with an even sum.

use wide::{bytemuck, f32x8, i32x8};

use super::round::{round_half_up, round_half_up_lanes, round_ratio_half_up};
use super::{Lattice, search::Search};

/// The checkerboard lattice D_N (integer vectors with an even coordinate
/// sum), searched by the algorithm of Conway and Sloane ("Fast quantizing and
/// decoding algorithms for lattice quantizers and codes", IEEE Trans. Inf.
/// Theory 28(2), 1982): round every coordinate, and if the sum is odd move the
/// coordinate with the largest rounding error one step toward the input.
///
/// Basis (the columns of [`Lattice::generator`]): `2 e_0` and
/// `e_i - e_{i-1}` for `i = 1..N`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Dn<const N: usize>;

/// Returns the nearest point of D_N to `x` as integer-valued floats.
pub(crate) fn nearest_dn_values<const N: usize>(x: &[f32; N]) -> [f32; N] {
    let mut rounded = x.map(round_half_up);

    let mut parity = 0i32;
    let mut worst = 0usize;
    let mut worst_error = -1.0f32;
    for i in 0..N {
        parity = parity.wrapping_add(rounded[i] as i32);
        let error = (x[i] - rounded[i]).abs();
        if error > worst_error {
            worst = i;
            worst_error = error;
        }
    }

    if parity & 1 != 0 {
        rounded[worst] += if x[worst] - rounded[worst] >= 0.0 {
            1.0
        } else {
            -1.0
        };
    }
    rounded
}

/// Lane-wise [`nearest_dn_values`] for eight blocks at once.
pub(crate) fn nearest_dn_value_lanes<const N: usize>(x: &[f32x8; N]) -> [f32x8; N] {
    let mut rounded = x.map(round_half_up_lanes);

    let mut parity = i32x8::ZERO;
    let mut worst = f32x8::ZERO;
    let mut worst_error = f32x8::splat(-1.0);
    for i in 0..N {
        parity += rounded[i].trunc_int();
        let error = (x[i] - rounded[i]).abs();
        let larger = error.simd_gt(worst_error);
        worst = larger.select(f32x8::splat(i as f32), worst);
        worst_error = larger.select(error, worst_error);
    }

    let odd: f32x8 = bytemuck::cast((parity & i32x8::ONE).simd_eq(i32x8::ONE));
    for (i, value) in rounded.iter_mut().enumerate() {
        let step = (x[i] - *value)
            .simd_ge(f32x8::ZERO)
            .select(f32x8::ONE, f32x8::splat(-1.0));
        let flip = odd & worst.simd_eq(f32x8::splat(i as f32));
        *value += flip.select(step, f32x8::ZERO);
    }
    rounded
}

/// Returns the nearest point of D_N to `u / m`, exactly.
pub(crate) fn nearest_dn_rational<const N: usize>(u: &[i64; N], m: i64) -> [i64; N] {
    let mut rounded = u.map(|value| round_ratio_half_up(value, m));

    let mut parity = 0i64;
    let mut worst = 0usize;
    let mut worst_error = -1i64;
    for i in 0..N {
        parity += rounded[i];
        let error = (u[i] - m * rounded[i]).abs();
        if error > worst_error {
            worst = i;
            worst_error = error;
        }
    }

    if parity & 1 != 0 {
        rounded[worst] += if u[worst] - m * rounded[worst] >= 0 {
            1
        } else {
            -1
        };
    }
    rounded
}

impl<const N: usize> Search<N> for Dn<N> {
    fn nearest_reference(x: &[f32; N]) -> [i32; N] {
        nearest_dn_values(x).map(|value| value as i32)
    }

    fn nearest_lanes(x: &[f32x8; N]) -> [i32x8; N] {
        nearest_dn_value_lanes(x).map(|lanes| lanes.trunc_int())
    }

    fn nearest_rational(u: &[i64; N], m: i64) -> [i64; N] {
        nearest_dn_rational(u, m)
    }
}

impl<const N: usize> Lattice<N> for Dn<N> {
    const NAME: &'static str = "D";
    const REPRESENTATION_SCALE: i32 = 1;
    const NORMALIZED_SECOND_MOMENT: f64 = dn_normalized_second_moment(N);
    const CELL_VOLUME: f64 = 2.0;
    const CELL_COORDINATE_BOUND: f32 = 1.0;

    fn from_coordinates(c: &[i32; N]) -> [i32; N] {
        let mut p = [0i32; N];
        for i in 0..N {
            let next = if i + 1 < N { c[i + 1] } else { 0 };
            let own = if i == 0 { c[0].wrapping_mul(2) } else { c[i] };
            p[i] = own.wrapping_sub(next);
        }
        p
    }

    fn to_coordinates(p: &[i32; N]) -> [i32; N] {
        let mut c = [0i32; N];
        let mut suffix_sum = 0i32;
        for i in (0..N).rev() {
            suffix_sum = suffix_sum.wrapping_add(p[i]);
            c[i] = suffix_sum;
        }
        if N > 0 {
            c[0] = suffix_sum.wrapping_div(2);
        }
        c
    }

    fn contains(p: &[i32; N]) -> bool {
        p.iter().fold(0i32, |sum, &value| sum.wrapping_add(value)) & 1 == 0
    }

    /// `e_0` up to dimension 4, `(1/2, ..., 1/2)` above, where it is farther
    /// from the lattice.
    fn deep_hole() -> [f32; N] {
        if N <= 4 {
            core::array::from_fn(|i| if i == 0 { 1.0 } else { 0.0 })
        } else {
            [0.5; N]
        }
    }
}

/// Normalized second moment of D_n, `2^(-2/n) (1/12 + 1/(2 n (n + 1)))`.
///
/// The closed form gives 1/12 for D_1 and D_2 (scaled and rotated copies of
/// Z and Z^2), 0.0787451 for D_3 and 0.0766032 for D_4; the Monte Carlo tests
/// check it for D_3, D_4 and D_8.
const fn dn_normalized_second_moment(n: usize) -> f64 {
    let n_f = n as f64;
    quarter_root(n) * (1.0 / 12.0 + 1.0 / (2.0 * n_f * (n_f + 1.0)))
}

/// Returns `(1/4)^(1/n)` by Newton's method, usable in constants.
const fn quarter_root(n: usize) -> f64 {
    let n_f = n as f64;
    let mut x = 1.0f64;
    let mut step = 0;
    while step < 200 {
        let mut power = 1.0f64;
        let mut k = 1;
        while k < n {
            power *= x;
            k += 1;
        }
        x = ((n_f - 1.0) * x + 0.25 / power) / n_f;
        step += 1;
    }
    x
}
