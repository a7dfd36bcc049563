//! A cache-blocked `f32` product `Y = X W^T` for the forward pass, with rows
//! of `X` and `W` both contiguous along the shared dimension.
//!
//! Every output is the same fixed-order sum: eight lane sums over the shared
//! dimension in steps of 8, added lane by lane, then the remainder. Tiling and
//! the rayon split only choose which outputs are computed together, so the
//! result does not depend on the number of threads.

use rayon::prelude::*;
use wide::f32x8;

/// Rows of `W` per parallel task. A block of 64 rows of 1536 values (384 KiB)
/// stays in a typical L2 cache while every row of `X` passes over it.
const BLOCK_ROWS: usize = 64;

/// Rows of `X` per register tile.
const TILE_TOKENS: usize = 4;

/// Rows of `W` per register tile.
const TILE_ROWS: usize = 2;

const LANES: usize = 8;

/// Returns `X W^T` (`tokens x rows`, row-major) for `x` of `tokens x cols`
/// and `w` of `rows x cols`, both row-major.
pub fn matmul_transposed(x: &[f32], w: &[f32], cols: usize) -> Vec<f32> {
    debug_assert!(cols > 0 && x.len() % cols == 0 && w.len() % cols == 0);
    let tokens = x.len() / cols;
    let rows = w.len() / cols;
    let blocks: Vec<Vec<f32>> = w
        .par_chunks(BLOCK_ROWS * cols)
        .map(|block| multiply_block(x, block, cols))
        .collect();

    let mut out = vec![0.0f32; tokens * rows];
    for (index, block) in blocks.iter().enumerate() {
        let block_rows = block.len() / tokens.max(1);
        let first = index * BLOCK_ROWS;
        for (t, values) in block.chunks_exact(block_rows.max(1)).enumerate() {
            out[t * rows + first..t * rows + first + block_rows].copy_from_slice(values);
        }
    }
    out
}

/// Returns `X B^T` for one block `B` of rows of `W`, `tokens x block_rows`.
fn multiply_block(x: &[f32], block: &[f32], cols: usize) -> Vec<f32> {
    let tokens = x.len() / cols;
    let block_rows = block.len() / cols;
    let mut out = vec![0.0f32; tokens * block_rows];
    let x_rows: Vec<&[f32]> = x.chunks_exact(cols).collect();
    let w_rows: Vec<&[f32]> = block.chunks_exact(cols).collect();

    for (tile, x_tile) in x_rows.chunks(TILE_TOKENS).enumerate() {
        for (w_tile_index, w_tile) in w_rows.chunks(TILE_ROWS).enumerate() {
            let first_t = tile * TILE_TOKENS;
            let first_r = w_tile_index * TILE_ROWS;
            if let (Ok(x_full), Ok(w_full)) = (
                <[&[f32]; TILE_TOKENS]>::try_from(x_tile),
                <[&[f32]; TILE_ROWS]>::try_from(w_tile),
            ) {
                let sums = dot_tile(x_full, w_full);
                for (i, row) in sums.iter().enumerate() {
                    let start = (first_t + i) * block_rows + first_r;
                    out[start..start + TILE_ROWS].copy_from_slice(row);
                }
            } else {
                for (i, x_row) in x_tile.iter().enumerate() {
                    for (j, w_row) in w_tile.iter().enumerate() {
                        out[(first_t + i) * block_rows + first_r + j] =
                            dot_tile([*x_row], [*w_row])[0][0];
                    }
                }
            }
        }
    }
    out
}

/// Returns the `R x C` dot products of `x` rows with `w` rows, each in the
/// fixed summation order of the module documentation.
#[inline(always)]
fn dot_tile<const R: usize, const C: usize>(x: [&[f32]; R], w: [&[f32]; C]) -> [[f32; C]; R] {
    let len = x[0].len();
    let whole = len - len % LANES;
    let mut acc = [[f32x8::ZERO; C]; R];
    for k in (0..whole).step_by(LANES) {
        let w_lanes: [f32x8; C] = core::array::from_fn(|j| load(&w[j][k..k + LANES]));
        for i in 0..R {
            let x_lanes = load(&x[i][k..k + LANES]);
            for j in 0..C {
                acc[i][j] = x_lanes.mul_add(w_lanes[j], acc[i][j]);
            }
        }
    }

    let mut sums = [[0.0f32; C]; R];
    for i in 0..R {
        for j in 0..C {
            let lanes = acc[i][j].to_array();
            let mut sum = lanes.iter().fold(0.0f32, |total, &lane| total + lane);
            for k in whole..len {
                sum += x[i][k] * w[j][k];
            }
            sums[i][j] = sum;
        }
    }
    sums
}

#[inline(always)]
fn load(values: &[f32]) -> f32x8 {
    let mut lanes = [0.0f32; LANES];
    lanes.copy_from_slice(values);
    f32x8::from(lanes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(x: &[f32], w: &[f32], cols: usize) -> Vec<f64> {
        let mut out = Vec::new();
        for x_row in x.chunks_exact(cols) {
            for w_row in w.chunks_exact(cols) {
                out.push(
                    x_row
                        .iter()
                        .zip(w_row)
                        .map(|(&a, &b)| f64::from(a) * f64::from(b))
                        .sum(),
                );
            }
        }
        out
    }

    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len as u32)
            .map(|i| ((i.wrapping_mul(2_654_435_761) ^ seed) % 1000) as f32 / 500.0 - 1.0)
            .collect()
    }

    #[test]
    fn matmul_matches_f64_for_ragged_shapes() {
        // 7 tokens, 131 rows and 19 columns leave remainders in every tile
        // and in the lanes.
        for (tokens, rows, cols) in [(7, 131, 19), (4, 64, 16), (1, 1, 1), (9, 70, 576)] {
            let x = values(tokens * cols, 1);
            let w = values(rows * cols, 2);
            let out = matmul_transposed(&x, &w, cols);
            let expected = reference(&x, &w, cols);
            assert_eq!(out.len(), expected.len());
            for (index, (&got, &want)) in out.iter().zip(&expected).enumerate() {
                assert!(
                    (f64::from(got) - want).abs() <= 1e-4 * (1.0 + want.abs()),
                    "{tokens}x{rows}x{cols}: entry {index} is {got}, expected {want}"
                );
            }
        }
    }

    #[test]
    fn matmul_same_bits_for_any_tiling() {
        // A row computed alone must equal the same row inside a full tile.
        let cols = 37;
        let x = values(5 * cols, 3);
        let w = values(3 * cols, 4);
        let all = matmul_transposed(&x, &w, cols);
        for t in 0..5 {
            let single = matmul_transposed(&x[t * cols..(t + 1) * cols], &w, cols);
            assert_eq!(single, all[t * 3..(t + 1) * 3], "token {t}");
        }
    }
}
