//! Products of two coded operands.

use super::{
    check_coded_pair, check_matrix_output, check_output, group_dot, sum_group_products,
    take_scratch,
};
use crate::Error;
use crate::quant::QuantizedMatrixRef;

/// Returns the inner product of vector `i` of `a` and vector `j` of `b`.
///
/// # Errors
///
/// [`Error::InvalidVectorIndex`], [`Error::LengthMismatch`],
/// [`Error::RotationMismatch`] or [`Error::MeanRemovalMismatch`] for
/// operands that do not fit together, and [`Error::InvalidCodeWord`] for a
/// corrupt code word.
pub fn dot(
    a: &QuantizedMatrixRef<'_>,
    i: usize,
    b: &QuantizedMatrixRef<'_>,
    j: usize,
) -> Result<f32, Error> {
    check_coded_pair(a, b)?;
    let groups = a.stored_groups().min(b.stored_groups());

    let mut sum = 0.0f32;
    for group in 0..groups {
        let left = a.decode_group(i, group)?;
        let right = b.decode_group(j, group)?;
        sum += group_dot(&left, &right);
    }
    finish_coded(a, i, b, j, sum)
}

/// Computes `y = W x` for a coded `W` (one vector per row) and a coded `x`,
/// vector `j` of `x_matrix`. `scratch` needs
/// [`super::scratch_len`]`(w.coded_len(), 1)` values.
///
/// # Errors
///
/// As [`dot`], [`Error::LengthMismatch`] unless `y.len()` is the row count,
/// and [`Error::ScratchTooSmall`].
pub fn matvec_coded(
    w: &QuantizedMatrixRef<'_>,
    x_matrix: &QuantizedMatrixRef<'_>,
    j: usize,
    scratch: &mut [f32],
    y: &mut [f32],
) -> Result<(), Error> {
    check_coded_pair(w, x_matrix)?;
    check_output(y, w.vector_count())?;
    let coded_len = w.coded_len();
    let decoded = take_scratch(scratch, coded_len)?;
    x_matrix.decode_unit(j, decoded)?;

    for (i, out) in y.iter_mut().enumerate() {
        let mut sum = [0.0f32];
        sum_group_products(w, i, decoded, coded_len, &mut sum)?;
        *out = finish_coded(w, i, x_matrix, j, sum[0])?;
    }
    Ok(())
}

/// Computes `C = A^T B` for coded `A` and `B`: `c[i * b_count + j]` is the
/// inner product of vector `i` of `a` and vector `j` of `b`. `scratch` needs
/// [`super::scratch_len`]`(a.coded_len(), b.vector_count())` values.
///
/// # Errors
///
/// As [`dot`], [`Error::LengthMismatch`] unless `c` has
/// `a.vector_count() * b.vector_count()` values, and
/// [`Error::ScratchTooSmall`].
pub fn matmul_tn(
    a: &QuantizedMatrixRef<'_>,
    b: &QuantizedMatrixRef<'_>,
    scratch: &mut [f32],
    c: &mut [f32],
) -> Result<(), Error> {
    check_coded_pair(a, b)?;
    let b_count = b.vector_count();
    check_matrix_output(a.vector_count(), b_count, c)?;
    let coded_len = a.coded_len();
    let right = take_scratch(scratch, coded_len.saturating_mul(b_count))?;
    for (j, vector) in right
        .chunks_exact_mut(coded_len.max(1))
        .enumerate()
        .take(b_count)
    {
        b.decode_unit(j, &mut vector[..coded_len])?;
    }

    for (i, row) in c
        .chunks_exact_mut(b_count.max(1))
        .enumerate()
        .take(a.vector_count())
    {
        sum_group_products(a, i, right, coded_len, row)?;
        for (j, value) in row.iter_mut().enumerate() {
            *value = finish_coded(a, i, b, j, *value)?;
        }
    }
    Ok(())
}

/// Scales a sum of unit-scale group products and adds the mean term.
fn finish_coded(
    a: &QuantizedMatrixRef<'_>,
    i: usize,
    b: &QuantizedMatrixRef<'_>,
    j: usize,
    sum: f32,
) -> Result<f32, Error> {
    // In f64 the scale product and the mean term cannot overflow, so two
    // large terms that cancel still give a finite result.
    let scale = f64::from(a.group_scale(i)?) * f64::from(b.group_scale(j)?);
    let mean_term =
        a.vector_len() as f64 * f64::from(a.vector_mean(i)?) * f64::from(b.vector_mean(j)?);
    Ok((scale * f64::from(sum) + mean_term) as f32)
}
