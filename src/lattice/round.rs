//! Rounding to the nearest integer with ties toward +inf, in `f32` and in
//! exact integer arithmetic.

use wide::f32x8;

/// 1.5 * 2^23. Adding and subtracting it rounds an `f32` of magnitude below
/// 2^22 to the nearest integer with ties to even, using only IEEE additions,
/// so every target and every SIMD backend computes the same result.
pub(crate) const ROUNDING_MAGIC: f32 = 12_582_912.0;

/// Rounds `v` (magnitude at most 2^21) to the nearest integer, halves up.
#[inline]
pub(crate) fn round_half_up(v: f32) -> f32 {
    let nearest_even = (v + ROUNDING_MAGIC) - ROUNDING_MAGIC;
    if v - nearest_even >= 0.5 {
        nearest_even + 1.0
    } else {
        nearest_even
    }
}

/// Lane-wise [`round_half_up`], with the same operations in the same order.
#[inline]
pub(crate) fn round_half_up_lanes(v: f32x8) -> f32x8 {
    let magic = f32x8::splat(ROUNDING_MAGIC);
    let nearest_even = (v + magic) - magic;
    let tie_went_down = (v - nearest_even).simd_ge(f32x8::splat(0.5));
    nearest_even + tie_went_down.select(f32x8::ONE, f32x8::ZERO)
}

/// Rounds `u / m` (with `m > 0`) to the nearest integer, halves up.
#[inline]
pub(crate) fn round_ratio_half_up(u: i64, m: i64) -> i64 {
    (2 * u + m).div_euclid(2 * m)
}

#[cfg(test)]
mod tests {
    use super::{round_half_up, round_ratio_half_up};

    #[test]
    fn halves_round_up() {
        let cases = [
            (0.5, 1.0),
            (-0.5, 0.0),
            (1.5, 2.0),
            (2.5, 3.0),
            (-2.5, -2.0),
            (0.49999997, 0.0),
            (-0.50000006, -1.0),
            (1_048_575.5, 1_048_576.0),
            (-1_048_576.0, -1_048_576.0),
        ];
        for (input, expected) in cases {
            assert_eq!(round_half_up(input), expected, "input {input}");
        }
    }

    #[test]
    fn ratio_halves_round_up() {
        assert_eq!(round_ratio_half_up(1, 2), 1);
        assert_eq!(round_ratio_half_up(-1, 2), 0);
        assert_eq!(round_ratio_half_up(3, 2), 2);
        assert_eq!(round_ratio_half_up(-3, 2), -1);
        assert_eq!(round_ratio_half_up(7, 3), 2);
        assert_eq!(round_ratio_half_up(-7, 3), -2);
        assert_eq!(round_ratio_half_up(0, 5), 0);
    }
}
