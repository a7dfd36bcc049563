//! The inner loop of the `i8` kernels with AVX2 and FMA.

#[cfg(target_arch = "x86")]
use core::arch::x86::*;
#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::*;
use core::ops::Range;

use super::COLUMN_TILE;
use super::int8::{BLOCK, Format, RowInput, ball_weights};

/// Tells whether the CPU runs AVX2 and FMA: fixed at compile time, or
/// detected at run time under `std`.
pub(crate) fn avx2_available() -> bool {
    if cfg!(all(target_feature = "avx2", target_feature = "fma")) {
        return true;
    }
    #[cfg(feature = "std")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        return true;
    }
    false
}

/// The weights of one block as `maddubs` takes them: their magnitudes, and
/// a byte mask that is `0xff` where the weight is negative.
#[derive(Clone, Copy)]
struct Operands {
    magnitudes: __m256i,
    negative: __m256i,
}

/// Writes `sum_b scale_jb <row block b, x_j block b>` for each column `j`
/// of `columns` into `out`. Each block's weights are unpacked once and
/// multiplied by up to [`COLUMN_TILE`] columns. Even and odd blocks add
/// into separate accumulators, so that two multiply-adds are in flight.
///
/// # Safety
///
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn row_tile(row: &RowInput<'_>, columns: Range<usize>, out: &mut [f32]) {
    match row.format {
        Format::Nibble(table) => {
            let unpacker = NibbleUnpacker::new(&table);
            accumulate_row(row, columns, out, |packed| unpacker.operands(packed));
        }
        Format::Ball => accumulate_row(row, columns, out, |packed| ball_operands(packed)),
    }
}

/// Runs the block loop with `operands` turning a block's code bytes into
/// weights.
#[target_feature(enable = "avx2,fma")]
fn accumulate_row(
    row: &RowInput<'_>,
    columns: Range<usize>,
    out: &mut [f32],
    operands: impl Fn(&[u8]) -> Operands,
) {
    let count = columns.len().min(COLUMN_TILE);
    let mut even = [_mm256_setzero_ps(); COLUMN_TILE];
    let mut odd = [_mm256_setzero_ps(); COLUMN_TILE];

    let full = row.full_blocks();
    let mut block = 0;
    while block + 2 <= full {
        prefetch(
            row.following,
            (block + PREFETCH_BLOCKS) * row.format.block_bytes(),
        );
        let first = operands(row.packed_block(block));
        let second = operands(row.packed_block(block + 1));
        for (offset, (even_sum, odd_sum)) in even.iter_mut().zip(&mut odd).enumerate().take(count) {
            let column = columns.start + offset;
            *even_sum = accumulate(*even_sum, first, row, column, block);
            *odd_sum = accumulate(*odd_sum, second, row, column, block + 1);
        }
        block += 2;
    }
    if block < full {
        let last = operands(row.packed_block(block));
        for (offset, sum) in even.iter_mut().enumerate().take(count) {
            *sum = accumulate(*sum, last, row, columns.start + offset, block);
        }
    }

    for (offset, value) in out.iter_mut().enumerate().take(count) {
        let sums = _mm256_add_ps(even[offset], odd[offset]);
        *value = horizontal_sum(sums) + row.tail(columns.start + offset);
    }
}

/// Blocks between the one being multiplied and the one being prefetched:
/// 2 KiB of nibble codes ahead. On an 11008 x 4096 `lloyd-4` matrix read
/// from memory, prefetching 32, 64 and 128 blocks ahead gave 4.99, 3.77
/// and 3.59 ms per product against 9.06 ms without.
const PREFETCH_BLOCKS: usize = 128;

/// Asks the CPU to fetch the cache line at `codes[offset]` ahead of its
/// use; nothing past the end. The codes of a matrix stream from memory once
/// per product, and without these hints the product measured above took
/// 2.5 times as long.
#[target_feature(enable = "avx2,fma")]
fn prefetch(codes: &[u8], offset: usize) {
    if let Some(byte) = codes.get(offset) {
        _mm_prefetch::<_MM_HINT_T0>(core::ptr::from_ref(byte).cast());
    }
}

/// Adds `scale <weights, x>` of block `block` of column `column` to `sum`.
#[target_feature(enable = "avx2,fma")]
fn accumulate(
    sum: __m256,
    weights: Operands,
    row: &RowInput<'_>,
    column: usize,
    block: usize,
) -> __m256 {
    let x = load_256(row.x_block(column, block));
    // Negate x where the weight is negative: (x ^ m) - m. The activations
    // lie in [-127, 127], so the negation never wraps.
    let signed = _mm256_sub_epi8(_mm256_xor_si256(x, weights.negative), weights.negative);
    // Both factors are at most 127 in magnitude, so each pair sum is at
    // most 32258 and `maddubs` never saturates.
    let pairs = _mm256_maddubs_epi16(weights.magnitudes, signed);
    let quads = _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
    let scale = _mm256_set1_ps(row.scale(column, block));
    _mm256_fmadd_ps(_mm256_cvtepi32_ps(quads), scale, sum)
}

/// Turns 16 bytes of packed digits into the 32 weights of a block.
#[derive(Clone, Copy)]
struct NibbleUnpacker {
    table: __m256i,
    low_mask: __m128i,
}

impl NibbleUnpacker {
    #[target_feature(enable = "avx2,fma")]
    fn new(table: &[i8; 16]) -> Self {
        Self {
            table: _mm256_broadcastsi128_si256(load_128(table.as_slice())),
            low_mask: _mm_set1_epi8(0x0f),
        }
    }

    #[target_feature(enable = "avx2,fma")]
    fn operands(self, packed: &[u8]) -> Operands {
        let packed = load_128(packed);
        let low = _mm_and_si128(packed, self.low_mask);
        let high = _mm_and_si128(_mm_srli_epi16::<4>(packed), self.low_mask);
        let digits = _mm256_set_m128i(_mm_unpackhi_epi8(low, high), _mm_unpacklo_epi8(low, high));
        let weights = _mm256_shuffle_epi8(self.table, digits);
        Operands {
            magnitudes: _mm256_abs_epi8(weights),
            negative: _mm256_cmpgt_epi8(_mm256_setzero_si256(), weights),
        }
    }
}

/// Turns the 4 ball indices of a block (8 bytes) into its 32 weights.
#[target_feature(enable = "avx2,fma")]
fn ball_operands(packed: &[u8]) -> Operands {
    let words: [(u64, u64); 4] = core::array::from_fn(|group| {
        ball_weights(u16::from_le_bytes([
            packed[2 * group],
            packed[2 * group + 1],
        ]))
    });
    let lanes = |pick: fn(&(u64, u64)) -> u64| {
        _mm256_set_epi64x(
            pick(&words[3]) as i64,
            pick(&words[2]) as i64,
            pick(&words[1]) as i64,
            pick(&words[0]) as i64,
        )
    };
    Operands {
        magnitudes: lanes(|word| word.0),
        negative: lanes(|word| word.1),
    }
}

/// Loads 16 bytes from the start of `values`.
#[target_feature(enable = "avx2,fma")]
fn load_128<T: Copy>(values: &[T]) -> __m128i {
    assert!(core::mem::size_of_val(values) >= 16);
    // SAFETY: the slice has at least 16 bytes and the load is unaligned.
    unsafe { _mm_loadu_si128(values.as_ptr().cast()) }
}

/// Loads the 32 bytes of an activation block.
#[target_feature(enable = "avx2,fma")]
fn load_256(values: &[i8]) -> __m256i {
    assert!(values.len() >= BLOCK);
    // SAFETY: the slice has at least 32 bytes and the load is unaligned.
    unsafe { _mm256_loadu_si256(values.as_ptr().cast()) }
}

/// Adds the 8 lanes.
#[target_feature(enable = "avx2,fma")]
fn horizontal_sum(lanes: __m256) -> f32 {
    let halves = _mm_add_ps(
        _mm256_castps256_ps128(lanes),
        _mm256_extractf128_ps::<1>(lanes),
    );
    let pairs = _mm_add_ps(halves, _mm_movehl_ps(halves, halves));
    let single = _mm_add_ss(pairs, _mm_shuffle_ps::<1>(pairs, pairs));
    _mm_cvtss_f32(single)
}
