//! The `Groups` kernel: the scalar group decoder, for every preset without a
//! SIMD kernel. Each group is decoded once and used against up to
//! [`COLUMN_TILE`] rotated activation vectors.

use core::ops::Range;

use super::{Activations, COLUMN_TILE};
use crate::Error;
use crate::product::group_dot;
use crate::quant::{GROUP_LEN, QuantizedMatrixRef};

/// Computes the unit-scale sums of rows `rows` against every column.
///
/// # Errors
///
/// [`Error::InvalidCodeWord`] for a corrupt code word.
pub(crate) fn matmul_rows(
    w: &QuantizedMatrixRef<'_>,
    activations: &Activations<'_>,
    rows: Range<usize>,
    out: &mut [f32],
) -> Result<(), Error> {
    let coded_len = w.coded_len();
    let batch = activations.batch();

    for (row, out_row) in rows.zip(out.chunks_exact_mut(batch)) {
        for (chunk, out_chunk) in out_row.chunks_mut(COLUMN_TILE).enumerate() {
            let columns = &activations.values()[chunk * COLUMN_TILE * coded_len..];
            out_chunk.fill(0.0);
            for group in 0..w.stored_groups() {
                let values = w.decode_group(row, group)?;
                let start = group * GROUP_LEN;
                for (column, sum) in out_chunk.iter_mut().enumerate() {
                    *sum += group_dot(&values, &columns[column * coded_len + start..]);
                }
            }
        }
    }
    Ok(())
}
