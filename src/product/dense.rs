//! Products of a coded operand with an `f32` operand.

use super::{check_matrix_output, check_rotation, sum_group_products, take_scratch};
use crate::Error;
use crate::quant::{QuantizedMatrixRef, VectorSet};

/// Computes `y = W x` for a coded `W` (one vector per row) and `x` in `f32`.
/// `scratch` needs [`super::scratch_len`]`(w.coded_len(), 1)` values.
///
/// # Errors
///
/// [`Error::LengthMismatch`] unless `x.len()` is the vector length and
/// `y.len()` the vector count, [`Error::NonFiniteEntry`] for NaN or infinity
/// in `x` (row 0, column = index), [`Error::NormOverflow`] when centering or
/// rotating `x` overflows `f32`, [`Error::ScratchTooSmall`], and
/// [`Error::InvalidCodeWord`] for a corrupt code word.
pub fn matvec(
    w: &QuantizedMatrixRef<'_>,
    x: &[f32],
    scratch: &mut [f32],
    y: &mut [f32],
) -> Result<(), Error> {
    let x = VectorSet::rows(x, 1, x.len())?;
    matmul_tn_f32(w, &x, scratch, y)
}

/// Computes `C = A^T B` for a coded `A` and the vectors of `b` in `f32`:
/// `c[i * b_count + j]` is the inner product of vector `i` of `a` and vector
/// `j` of `b`. `scratch` needs
/// [`super::scratch_len`]`(a.coded_len(), b.vector_count())` values.
///
/// # Errors
///
/// [`Error::LengthMismatch`] unless the vector lengths agree and `c` has
/// `a.vector_count() * b.vector_count()` values, [`Error::NonFiniteEntry`]
/// for NaN or infinity in `b`, [`Error::NormOverflow`] for a vector of `b`
/// whose centering or rotation overflows `f32`, [`Error::ScratchTooSmall`], and
/// [`Error::InvalidCodeWord`] for a corrupt code word.
pub fn matmul_tn_f32(
    a: &QuantizedMatrixRef<'_>,
    b: &VectorSet<'_>,
    scratch: &mut [f32],
    c: &mut [f32],
) -> Result<(), Error> {
    check_rotation(a, b.vector_len(), a.rotation())?;
    let b_count = b.vector_count();
    check_matrix_output(a.vector_count(), b_count, c)?;
    let coded_len = a.coded_len();
    let needed = super::scratch_len(coded_len, b_count);
    let (right, sums) = take_scratch(scratch, needed)?.split_at_mut(coded_len * b_count);
    rotate_vectors(a, b, right, sums)?;

    for (i, row) in c
        .chunks_exact_mut(b_count.max(1))
        .enumerate()
        .take(a.vector_count())
    {
        sum_group_products(a, i, right, coded_len, row)?;
        let scale = f64::from(a.group_scale(i)?);
        let mean = f64::from(a.vector_mean(i)?);
        for (value, &mean_term) in row.iter_mut().zip(sums.iter()) {
            *value = (scale * f64::from(*value) + mean * f64::from(mean_term)) as f32;
        }
    }
    Ok(())
}

/// Copies each vector of `b` into `right`, padded and rotated by the map of
/// `a`, and stores in `sums` the sum that multiplies the means of `a`.
fn rotate_vectors(
    a: &QuantizedMatrixRef<'_>,
    b: &VectorSet<'_>,
    right: &mut [f32],
    sums: &mut [f32],
) -> Result<(), Error> {
    let coded_len = a.coded_len();
    for (j, mean_term) in sums.iter_mut().enumerate() {
        let vector = &mut right[j * coded_len..(j + 1) * coded_len];
        let mean = rotate_vector(a, b, j, vector)?;
        *mean_term = b.vector_len() as f32 * mean;
        if !mean_term.is_finite() {
            return Err(Error::NormOverflow { vector: j });
        }
    }
    Ok(())
}

/// Copies vector `j` of `b` into `vector` (the padded length of `a`),
/// rotated by the map of `a`, and returns the mean it subtracted (0 when
/// `a` keeps its means).
///
/// When `a` had its means removed, the vector `x` is centered first: its
/// coded rows sum to zero, so `<w, x> = <w - mu_w, x - mu_x> + n mu_w mu_x`,
/// and a large mean of `x` then adds no error. Otherwise the means of `a` are
/// zero and `x` is used as it is.
pub(crate) fn rotate_vector(
    a: &QuantizedMatrixRef<'_>,
    b: &VectorSet<'_>,
    j: usize,
    vector: &mut [f32],
) -> Result<f32, Error> {
    let len = b.vector_len();
    b.copy_vector(j, &mut vector[..len])?;
    let mut mean = 0.0;
    if a.removes_mean() && len > 0 {
        let sum: f64 = vector[..len].iter().map(|&value| f64::from(value)).sum();
        mean = (sum / len as f64) as f32;
        for value in vector[..len].iter_mut() {
            *value -= mean;
        }
    }
    a.rotation().pad_and_rotate(vector)?;

    // Finite entries whose norm exceeds f32::MAX can rotate to infinity.
    if vector.iter().any(|value| !value.is_finite()) {
        return Err(Error::NormOverflow { vector: j });
    }
    Ok(mean)
}
