//! Batched nearest-point search with eight blocks in the lanes of `f32x8`.

use wide::f32x8;

use super::{Lattice, MAX_COORDINATE, validate_block};
use crate::Error;

/// Number of blocks searched together.
const LANES: usize = 8;

/// Writes the nearest point of `L` to each block of `blocks` into `out`, in
/// integer representation, with the SIMD search. Gives the same points as
/// [`super::nearest_point`], bit for bit.
///
/// # Errors
///
/// [`Error::LengthMismatch`] when `out` and `blocks` differ in length, and the
/// errors of [`super::nearest_point`] for the first invalid block, whose
/// index they carry. The content of `out` is unspecified after an error.
pub fn nearest_points<L: Lattice<N>, const N: usize>(
    blocks: &[[f32; N]],
    out: &mut [[i32; N]],
) -> Result<(), Error> {
    if blocks.len() != out.len() {
        return Err(Error::LengthMismatch {
            expected: blocks.len(),
            actual: out.len(),
        });
    }

    for (chunk_index, (chunk, out_chunk)) in
        blocks.chunks(LANES).zip(out.chunks_mut(LANES)).enumerate()
    {
        let lanes = gather(chunk);
        if !all_in_range(&lanes) {
            return Err(first_invalid(chunk, chunk_index * LANES));
        }
        scatter(&L::nearest_lanes(&lanes), out_chunk);
    }
    Ok(())
}

/// Transposes up to eight blocks into lanes; missing blocks read as zero.
fn gather<const N: usize>(chunk: &[[f32; N]]) -> [f32x8; N] {
    core::array::from_fn(|i| {
        let mut lane_values = [0.0f32; LANES];
        for (value, block) in lane_values.iter_mut().zip(chunk) {
            *value = block[i];
        }
        f32x8::new(lane_values)
    })
}

/// Transposes lanes back into as many blocks as `out` holds.
fn scatter<const N: usize>(lanes: &[wide::i32x8; N], out: &mut [[i32; N]]) {
    for (i, coordinate_lanes) in lanes.iter().enumerate() {
        let values = coordinate_lanes.to_array();
        for (block, &value) in out.iter_mut().zip(values.iter()) {
            block[i] = value;
        }
    }
}

/// Tells whether every lane of every coordinate is finite and within
/// [`MAX_COORDINATE`] (NaN fails the comparison).
fn all_in_range<const N: usize>(lanes: &[f32x8; N]) -> bool {
    let limit = f32x8::splat(MAX_COORDINATE);
    lanes
        .iter()
        .all(|coordinate| coordinate.abs().simd_le(limit).all())
}

/// Returns the error for the first invalid block of a chunk.
fn first_invalid<const N: usize>(chunk: &[[f32; N]], first_block: usize) -> Error {
    chunk
        .iter()
        .enumerate()
        .find_map(|(offset, block)| validate_block(block, first_block + offset).err())
        .unwrap_or(Error::LengthMismatch {
            expected: 0,
            actual: 0,
        })
}
