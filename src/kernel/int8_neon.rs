//! The inner loop of the `i8` kernels with NEON, which every aarch64 target
//! has.

use core::arch::aarch64::*;
use core::ops::Range;

use super::COLUMN_TILE;
use super::int8::{BLOCK, Format, RowInput, ball_weights};

/// The 32 signed weights of one block, in two halves.
#[derive(Clone, Copy)]
struct Weights {
    first: int8x16_t,
    second: int8x16_t,
}

/// Writes `sum_b scale_jb <row block b, x_j block b>` for each column `j`
/// of `columns` into `out`. Each block's weights are unpacked once and
/// multiplied by up to [`COLUMN_TILE`] columns.
#[target_feature(enable = "neon")]
pub(crate) fn row_tile(row: &RowInput<'_>, columns: Range<usize>, out: &mut [f32]) {
    match row.format {
        Format::Nibble(table) => {
            let table = load_i8(&table);
            accumulate_row(row, columns, out, |packed| nibble_weights(table, packed));
        }
        Format::Ball => accumulate_row(row, columns, out, |packed| ball_block(packed)),
    }
}

/// Runs the block loop with `weights` turning a block's code bytes into
/// weights.
#[target_feature(enable = "neon")]
fn accumulate_row(
    row: &RowInput<'_>,
    columns: Range<usize>,
    out: &mut [f32],
    weights: impl Fn(&[u8]) -> Weights,
) {
    let count = columns.len().min(COLUMN_TILE);
    let mut sums = [vdupq_n_f32(0.0); COLUMN_TILE];

    for block in 0..row.full_blocks() {
        let block_weights = weights(row.packed_block(block));
        for (offset, sum) in sums.iter_mut().enumerate().take(count) {
            let column = columns.start + offset;
            let x = row.x_block(column, block);
            let x_first = load_i8(&x[..BLOCK / 2]);
            let x_second = load_i8(&x[BLOCK / 2..BLOCK]);
            // Each i16 lane adds two products of magnitude at most 16129:
            // at most 32258, so it cannot overflow.
            let pairs_first = vmlal_high_s8(
                vmull_s8(vget_low_s8(block_weights.first), vget_low_s8(x_first)),
                block_weights.first,
                x_first,
            );
            let pairs_second = vmlal_high_s8(
                vmull_s8(vget_low_s8(block_weights.second), vget_low_s8(x_second)),
                block_weights.second,
                x_second,
            );
            let quads = vpadalq_s16(vpaddlq_s16(pairs_first), pairs_second);
            *sum = vfmaq_n_f32(*sum, vcvtq_f32_s32(quads), row.scale(column, block));
        }
    }

    for (offset, value) in out.iter_mut().enumerate().take(count) {
        *value = vaddvq_f32(sums[offset]) + row.tail(columns.start + offset);
    }
}

/// Looks up the 32 digits of 16 packed bytes in the level table.
#[target_feature(enable = "neon")]
fn nibble_weights(table: int8x16_t, packed: &[u8]) -> Weights {
    let packed = load_u8(packed);
    let low = vandq_u8(packed, vdupq_n_u8(0x0f));
    let high = vshrq_n_u8::<4>(packed);
    Weights {
        first: vqtbl1q_s8(table, vzip1q_u8(low, high)),
        second: vqtbl1q_s8(table, vzip2q_u8(low, high)),
    }
}

/// Builds the 32 weights of the 4 ball indices of a block (8 bytes).
#[target_feature(enable = "neon")]
fn ball_block(packed: &[u8]) -> Weights {
    let pair = |first_group: usize| {
        let [low, high] = [first_group, first_group + 1].map(|group| {
            let (magnitudes, negative) = ball_weights(u16::from_le_bytes([
                packed[2 * group],
                packed[2 * group + 1],
            ]));
            // (m ^ s) - s negates the bytes where s is 0xff.
            let magnitudes = vcreate_s8(magnitudes);
            let negative = vcreate_s8(negative);
            vsub_s8(veor_s8(magnitudes, negative), negative)
        });
        vcombine_s8(low, high)
    };
    Weights {
        first: pair(0),
        second: pair(2),
    }
}

/// Loads 16 signed bytes from the start of `values`.
#[target_feature(enable = "neon")]
fn load_i8(values: &[i8]) -> int8x16_t {
    assert!(values.len() >= 16);
    // SAFETY: the slice has at least 16 bytes and the load is unaligned.
    unsafe { vld1q_s8(values.as_ptr()) }
}

/// Loads 16 bytes from the start of `values`.
#[target_feature(enable = "neon")]
fn load_u8(values: &[u8]) -> uint8x16_t {
    assert!(values.len() >= 16);
    // SAFETY: the slice has at least 16 bytes and the load is unaligned.
    unsafe { vld1q_u8(values.as_ptr()) }
}
