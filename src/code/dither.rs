//! Seeded subtractive dither, uniform on the Voronoi cell of a lattice.
//!
//! The dither of block `i` is `z = U - Q(U)`, where `U` is uniform on
//! `[0, 2)^N` (a union of fundamental cells of Z^n, D_n and E8, because each
//! contains `2 Z^N`) and `Q` is the nearest-point search of the lattice.
//! Every coordinate of `U` is a multiple of `2^-DITHER_BITS` drawn from
//! [`SplitMix64::for_stream`] with the block index as the stream, so the
//! encoder and the decoder derive the same `z` exactly, in integers.

use crate::lattice::{Lattice, Tie, nearest_rational};
use crate::rng::SplitMix64;

/// Binary digits after the point of every dither and offset coordinate.
pub(crate) const DITHER_BITS: u32 = 16;

/// `2^DITHER_BITS`: offsets are integer multiples of its inverse.
pub(crate) const OFFSET_DENOMINATOR: i64 = 1 << DITHER_BITS;

/// Returns `z * REPRESENTATION_SCALE * OFFSET_DENOMINATOR` for the dither `z`
/// of block `block` under `seed`: an exact integer vector.
pub(crate) fn dither_numerators<L: Lattice<N>, const N: usize>(seed: u64, block: u64) -> [i64; N] {
    let mut rng = SplitMix64::for_stream(seed, block);
    let scale = i64::from(L::REPRESENTATION_SCALE);

    // U in [0, 2)^N with DITHER_BITS fractional bits, in representation units.
    let uniform: [i64; N] =
        core::array::from_fn(|_| (rng.next_u64() >> (64 - DITHER_BITS - 1)) as i64 * scale);
    let nearest = nearest_rational::<L, N>(&uniform, OFFSET_DENOMINATOR, Tie::Up);

    core::array::from_fn(|i| uniform[i] - nearest[i] * OFFSET_DENOMINATOR)
}
