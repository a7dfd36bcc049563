//! Products computed from quantized matrices: the scalar reference path.
//!
//! Both operands must have been rotated by the same map (same vector length
//! and rotation seed), which preserves inner products, so no product undoes
//! the rotation. With `s` the stored norm, `g` the preset gain, `z` the
//! decoded unit-scale groups and `mu` the stored mean of a vector, and
//! `n` the vector length:
//!
//! ```text
//! coded with coded: <a, b> ~ (s_a g_a)(s_b g_b) sum_groups <z_a, z_b> + n mu_a mu_b
//! coded with f32:   <a, x> ~ s_a g_a <z_a, R x> + mu_a sum(x)
//! ```
//!
//! The mean term of the first line is exact because both residuals `x - mu`
//! sum to zero before coding, so both operands must agree on mean removal.
//! The estimate therefore differs from the inner product of the dequantized
//! vectors, whose decoded residuals need not sum to zero. In the second line,
//! when `a` had its means removed, `x` is centered before the rotation and
//! `mu_a sum(x)` becomes `n mu_a mu_x`, so a large mean of `x` adds no error.
//!
//! Each result is combined in `f64` and rounded to `f32` once, so large
//! terms that cancel do not overflow on the way. A result beyond the `f32`
//! range is infinite. In the second
//! line `R x` is `x` padded and rotated once per product.
//!
//! Group dot products are summed in `f32` in group order, and each result is
//! scaled once. Every product decodes each coded vector once: the right-hand
//! vectors go to the caller's scratch buffer, and each left-hand group is
//! decoded and used against all of them. The scratch needs
//! [`scratch_len`] values.

mod coded;
pub(crate) mod dense;

pub use coded::{dot, matmul_tn, matvec_coded};
pub use dense::{matmul_tn_f32, matvec};

use crate::Error;
use crate::quant::{GROUP_LEN, QuantizedMatrixRef};

/// Returns the scratch values a product needs for `right_count` right-hand
/// vectors against a left operand with padded length `coded_len`:
/// `(coded_len + 1) * right_count`.
pub fn scratch_len(coded_len: usize, right_count: usize) -> usize {
    coded_len.saturating_add(1).saturating_mul(right_count)
}

/// Checks that two coded operands can be multiplied.
pub(crate) fn check_coded_pair(
    left: &QuantizedMatrixRef<'_>,
    right: &QuantizedMatrixRef<'_>,
) -> Result<(), Error> {
    check_rotation(left, right.vector_len(), right.rotation())?;
    if left.removes_mean() != right.removes_mean() {
        return Err(Error::MeanRemovalMismatch);
    }
    Ok(())
}

/// Checks that the right operand has the left's length and rotation.
pub(crate) fn check_rotation(
    left: &QuantizedMatrixRef<'_>,
    right_len: usize,
    right_rotation: &crate::quant::Rotation,
) -> Result<(), Error> {
    if right_len != left.vector_len() {
        return Err(Error::LengthMismatch {
            expected: left.vector_len(),
            actual: right_len,
        });
    }
    if right_rotation != left.rotation() {
        return Err(Error::RotationMismatch);
    }
    Ok(())
}

/// Returns the first `needed` values of `scratch`.
fn take_scratch(scratch: &mut [f32], needed: usize) -> Result<&mut [f32], Error> {
    let actual = scratch.len();
    scratch
        .get_mut(..needed)
        .ok_or(Error::ScratchTooSmall { needed, actual })
}

/// Checks that `c` has one value per pair of a left and a right vector.
fn check_matrix_output(left_count: usize, right_count: usize, c: &[f32]) -> Result<(), Error> {
    let expected = left_count
        .checked_mul(right_count)
        .ok_or(Error::ShapeTooLarge {
            vector_len: left_count,
            vector_count: right_count,
        })?;
    check_output(c, expected)
}

/// Sets `sums[j]` to the sum over the stored groups of vector `i` of `left`
/// of its unit-scale group products with right-hand vector `j`.
fn sum_group_products(
    left: &QuantizedMatrixRef<'_>,
    i: usize,
    right: &[f32],
    coded_len: usize,
    sums: &mut [f32],
) -> Result<(), Error> {
    sums.fill(0.0);
    for group in 0..left.stored_groups() {
        let values = left.decode_group(i, group)?;
        accumulate_group(&values, group, right, coded_len, sums);
    }
    Ok(())
}

/// Checks that `out` has `expected` values.
fn check_output(out: &[f32], expected: usize) -> Result<(), Error> {
    if out.len() == expected {
        Ok(())
    } else {
        Err(Error::LengthMismatch {
            expected,
            actual: out.len(),
        })
    }
}

/// Accumulates `<group, right[g]>` for every right-hand vector into `sums`.
///
/// `right` contains the right-hand vectors one after another, each
/// `coded_len` values long.
fn accumulate_group(
    group_values: &[f32; GROUP_LEN],
    group: usize,
    right: &[f32],
    coded_len: usize,
    sums: &mut [f32],
) {
    let start = group * GROUP_LEN;
    for (sum, vector) in sums.iter_mut().zip(right.chunks_exact(coded_len)) {
        let block = &vector[start..start + GROUP_LEN];
        *sum += group_dot(group_values, block);
    }
}

/// Returns the dot product of one group with 8 values, summed in index order.
pub(crate) fn group_dot(group_values: &[f32; GROUP_LEN], block: &[f32]) -> f32 {
    let mut sum = 0.0f32;
    for (a, b) in group_values.iter().zip(block) {
        sum += a * b;
    }
    sum
}
