//! The `Nibble` and `Ball` kernels: `i8` weights against `i8` activations.
//!
//! The activations, already scaled so that their largest magnitude lies in
//! `[0.5, 1)`, are rounded to `i8` per block of 32 coordinates with the
//! scale `max|x| / 127`. The step of the weights' integers is folded into
//! that scale ([`weight_step`]), so that the sums are unit-scale group
//! products. Per format:
//!
//! - `Nibble` (`lloyd-4`): a row's digits are packed two per byte, the even
//!   coordinate in the low half. Each digit selects one of 16 levels,
//!   rounded to `i8` as `round(127 level / max level)`; the step is
//!   `max level / 127`.
//! - `Ball` (`e8b-2`): each group is a 16-bit index of the E8 ball code,
//!   whose codeword is exactly `beta / 2` times odd integers from -7 to 7:
//!   the weights are these integers, and the step is `beta / 2`. An index
//!   is 9 bits of pattern and 7 sign bits. The doubled absolute values of a
//!   pattern are one table word, and the last sign follows from the parity
//!   rule of [`crate::code::E8BallCode`].

use core::ops::Range;

use super::{Activations, COLUMN_TILE};
use crate::Error;
use crate::code::{LloydMaxCode, pattern_word};
use crate::quant::{Family, GROUP_LEN, QuantizedMatrixRef};

/// Coordinates per activation block: one `f32` scale each.
pub(crate) const BLOCK: usize = 32;

/// Bytes of packed digits per block of the `Nibble` format.
pub(crate) const NIBBLE_BLOCK_BYTES: usize = BLOCK / 2;

/// Bytes of ball indices per block of the `Ball` format: 4 groups.
pub(crate) const BALL_BLOCK_BYTES: usize = 2 * BLOCK / GROUP_LEN;

/// Largest magnitude of a table entry or an activation.
const I8_LIMIT: f32 = 127.0;

/// Returns the 16 levels of the 4-bit Gaussian Lloyd-Max code as `i8`.
pub(crate) fn level_table() -> [i8; 16] {
    let levels = gaussian_levels();
    let largest = levels[15];
    core::array::from_fn(|i| libm::roundf(levels[i] / largest * I8_LIMIT) as i8)
}

/// Returns the value of one step of the `i8` weights of `w`'s format.
pub(crate) fn weight_step(w: &QuantizedMatrixRef<'_>) -> f32 {
    match *w.preset().family() {
        Family::Ball { beta } => 0.5 * beta,
        _ => gaussian_levels()[15] / I8_LIMIT,
    }
}

fn gaussian_levels() -> [f32; 16] {
    // The 4-bit code exists for every build: 4 <= MAX_LLOYD_MAX_BITS.
    let code = LloydMaxCode::gaussian(4).unwrap_or_else(|_| unreachable!());
    core::array::from_fn(|i| code.levels()[i])
}

/// Rounds up to 32 values to `i8` in `out` (32 values; the rest are zero)
/// and returns the scale: `out[i] * scale` approximates `block[i]`.
///
/// A block whose largest magnitude is below `127 * 2^-149` has a zero scale
/// and reads as zero. The vector was scaled to a largest entry of at least
/// 0.5, so only blocks below `2^-142` of it are lost.
pub(crate) fn quantize_block(block: &[f32], out: &mut [i8]) -> f32 {
    out.fill(0);
    let largest = block.iter().fold(0.0f32, |acc, value| acc.max(value.abs()));
    let scale = largest / I8_LIMIT;
    if scale == 0.0 {
        return 0.0;
    }
    for (quantized, &value) in out.iter_mut().zip(block) {
        *quantized = libm::roundf(value / scale).clamp(-I8_LIMIT, I8_LIMIT) as i8;
    }
    scale
}

/// The code of the weights of a row.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Format {
    /// 4-bit digits and the level table.
    Nibble([i8; 16]),
    /// 16-bit ball code indices.
    Ball,
}

impl Format {
    /// Returns the format of `w`, which must select an `i8` kernel.
    pub(crate) fn of(w: &QuantizedMatrixRef<'_>) -> Self {
        match *w.preset().family() {
            Family::Ball { .. } => Self::Ball,
            _ => Self::Nibble(level_table()),
        }
    }

    /// Returns the code bytes of one block of 32 coordinates.
    pub(crate) fn block_bytes(self) -> usize {
        match self {
            Self::Nibble(_) => NIBBLE_BLOCK_BYTES,
            Self::Ball => BALL_BLOCK_BYTES,
        }
    }

    /// Returns the dot product of the weights coded in `packed` (one block
    /// or less) with the first activations of `x`: the scalar reference.
    pub(crate) fn block_dot(self, packed: &[u8], x: &[i8]) -> i32 {
        match self {
            Self::Nibble(table) => nibble_dot(&table, packed, x),
            Self::Ball => ball_dot(packed, x),
        }
    }
}

fn nibble_dot(table: &[i8; 16], packed: &[u8], x: &[i8]) -> i32 {
    let mut sum = 0i32;
    for (pair, &byte) in x.chunks_exact(2).zip(packed) {
        let low = i32::from(table[usize::from(byte & 0x0f)]);
        let high = i32::from(table[usize::from(byte >> 4)]);
        sum += low * i32::from(pair[0]) + high * i32::from(pair[1]);
    }
    sum
}

fn ball_dot(packed: &[u8], x: &[i8]) -> i32 {
    let mut sum = 0i32;
    for (group, index) in x.chunks_exact(GROUP_LEN).zip(packed.chunks_exact(2)) {
        let (magnitudes, signs) = ball_weights(u16::from_le_bytes([index[0], index[1]]));
        for (i, &value) in group.iter().enumerate() {
            let magnitude = i32::from((magnitudes >> (8 * i)) as u8);
            let negative = (signs >> (8 * i)) & 1 != 0;
            let weight = if negative { -magnitude } else { magnitude };
            sum += weight * i32::from(value);
        }
    }
    sum
}

/// Byte masks of the 256 sign patterns: byte `i` of entry `m` is `0xff`
/// when bit `i` of `m` is set.
static SIGN_MASKS: [u64; 256] = sign_masks();

const fn sign_masks() -> [u64; 256] {
    let mut masks = [0u64; 256];
    let mut pattern = 0;
    while pattern < 256 {
        let mut i = 0;
        while i < 8 {
            if (pattern >> i) & 1 == 1 {
                masks[pattern] |= 0xff << (8 * i);
            }
            i += 1;
        }
        pattern += 1;
    }
    masks
}

/// Returns the weights of ball index `index` as two little-endian words:
/// the magnitudes (odd, 1 to 7) and a byte mask that is `0xff` where the
/// weight is negative.
///
/// The signed sum is a multiple of 4. A negated odd `a` changes the sum by
/// `2a = 2 mod 4`, so the last weight is negative exactly when half the sum
/// of the magnitudes plus the number of the other negative weights is odd.
#[inline]
pub(crate) fn ball_weights(index: u16) -> (u64, u64) {
    let magnitudes = pattern_word(usize::from(index & 0x1ff));
    // The bytes sum to at most 56, so the top byte of the product is that
    // sum.
    let magnitude_sum = magnitudes.wrapping_mul(0x0101_0101_0101_0101) >> 56;
    let signs = u64::from(index >> 9);
    let last = ((magnitude_sum >> 1) ^ parity(signs)) & 1;
    (magnitudes, SIGN_MASKS[(signs | last << 7) as usize])
}

/// Returns the parity of the low 8 bits of `bits`, without a population
/// count instruction, which the baseline x86-64 target lacks. The two
/// nibbles are folded together, and bit `n` of 0x6996 is the parity of `n`.
#[inline]
fn parity(bits: u64) -> u64 {
    let folded = (bits ^ (bits >> 4)) & 0xf;
    (0x6996 >> folded) & 1
}

/// An implementation of the kernel's inner loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    Portable,
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    Avx2,
    #[cfg(target_arch = "aarch64")]
    Neon,
}

impl Backend {
    /// Returns the fastest backend this machine runs.
    pub(crate) fn detect() -> Self {
        #[cfg(target_arch = "aarch64")]
        return Self::Neon;

        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        if super::int8_x86::avx2_available() {
            return Self::Avx2;
        }

        #[allow(unreachable_code)]
        Self::Portable
    }

    /// Returns every backend this machine runs, for the tests.
    #[cfg(all(test, feature = "std"))]
    pub(crate) fn available() -> heapless::Vec<Self, 2> {
        let mut backends = heapless::Vec::new();
        let _ = backends.push(Self::Portable);
        let fastest = Self::detect();
        if fastest != Self::Portable {
            let _ = backends.push(fastest);
        }
        backends
    }

    fn name(self) -> &'static str {
        match self {
            Self::Portable => "portable",
            #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
            Self::Avx2 => "avx2",
            #[cfg(target_arch = "aarch64")]
            Self::Neon => "neon",
        }
    }

    /// Writes `sum_b scale_jb <row block b, x_j block b>` for each column `j`
    /// of `columns` into `out`.
    pub(crate) fn row_tile(self, row: &RowInput<'_>, columns: Range<usize>, out: &mut [f32]) {
        match self {
            Self::Portable => portable_row_tile(row, columns, out),
            #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
            // SAFETY: `detect` returns `Avx2` only when the CPU has AVX2 and FMA.
            Self::Avx2 => unsafe { super::int8_x86::row_tile(row, columns, out) },
            #[cfg(target_arch = "aarch64")]
            // SAFETY: NEON is part of every aarch64 target.
            Self::Neon => unsafe { super::int8_neon::row_tile(row, columns, out) },
        }
    }
}

/// Returns the name of the backend that runs on this machine.
pub(crate) fn backend_name() -> &'static str {
    Backend::detect().name()
}

/// One row of codes with the prepared activations of every column.
pub(crate) struct RowInput<'a> {
    pub(crate) format: Format,
    /// The row's code bytes.
    pub(crate) packed: &'a [u8],
    /// The code bytes from the row's start to the end of the matrix, for
    /// prefetching across rows.
    pub(crate) following: &'a [u8],
    /// Block scales, `blocks` per column.
    pub(crate) scales: &'a [f32],
    /// `i8` activations, `32 * blocks` per column.
    pub(crate) x: &'a [i8],
    pub(crate) blocks: usize,
}

impl RowInput<'_> {
    /// Returns the number of whole blocks of code bytes, without the tail.
    pub(crate) fn full_blocks(&self) -> usize {
        self.packed.len() / self.format.block_bytes()
    }

    /// Returns the scale of block `block` of column `column`.
    pub(crate) fn scale(&self, column: usize, block: usize) -> f32 {
        self.scales[column * self.blocks + block]
    }

    /// Returns the 32 activations of block `block` of column `column`.
    pub(crate) fn x_block(&self, column: usize, block: usize) -> &[i8] {
        let start = (column * self.blocks + block) * BLOCK;
        &self.x[start..start + BLOCK]
    }

    /// Returns the code bytes of block `block`, fewer for the tail.
    pub(crate) fn packed_block(&self, block: usize) -> &[u8] {
        let block_bytes = self.format.block_bytes();
        let start = block * block_bytes;
        let end = (start + block_bytes).min(self.packed.len());
        &self.packed[start..end]
    }

    /// Returns the scaled product of the partial last block with column
    /// `column`, 0 when the row has no partial block.
    pub(crate) fn tail(&self, column: usize) -> f32 {
        let block = self.full_blocks();
        if block * self.format.block_bytes() == self.packed.len() {
            return 0.0;
        }
        let dot = self
            .format
            .block_dot(self.packed_block(block), self.x_block(column, block));
        self.scale(column, block) * dot as f32
    }
}

/// Runs the inner loop in scalar code: the reference of the SIMD backends.
fn portable_row_tile(row: &RowInput<'_>, columns: Range<usize>, out: &mut [f32]) {
    for (column, value) in columns.zip(out.iter_mut()) {
        let mut sum = 0.0f32;
        for block in 0..row.full_blocks() {
            let dot = row
                .format
                .block_dot(row.packed_block(block), row.x_block(column, block));
            sum += row.scale(column, block) * dot as f32;
        }
        *value = sum + row.tail(column);
    }
}

/// Computes the unit-scale sums of rows `rows` against every column.
pub(crate) fn matmul_rows(
    w: &QuantizedMatrixRef<'_>,
    activations: &Activations<'_>,
    rows: Range<usize>,
    out: &mut [f32],
) -> Result<(), Error> {
    run_rows(Backend::detect(), w, activations, rows, out)
}

/// Computes the unit-scale sums of rows `rows` with one backend.
pub(crate) fn run_rows(
    backend: Backend,
    w: &QuantizedMatrixRef<'_>,
    activations: &Activations<'_>,
    rows: Range<usize>,
    out: &mut [f32],
) -> Result<(), Error> {
    let format = Format::of(w);
    let row_bytes = w.coded_len() / GROUP_LEN * (w.word_bits() / 8) as usize;
    let codes = w.code_bytes();
    let batch = activations.batch();
    let blocks = w.coded_len().div_ceil(BLOCK);

    for (row, out_row) in rows.zip(out.chunks_exact_mut(batch)) {
        let start = row * row_bytes;
        let input = RowInput {
            format,
            packed: &codes[start..start + row_bytes],
            following: &codes[start..],
            scales: activations.values(),
            x: activations.bytes(),
            blocks,
        };
        for (tile, out_tile) in out_row.chunks_mut(COLUMN_TILE).enumerate() {
            let first = tile * COLUMN_TILE;
            backend.row_tile(&input, first..first + out_tile.len(), out_tile);
        }
    }
    Ok(())
}

// The tests build their cases in `std` vectors.
#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;
    use std::vec::Vec;

    /// Digits, activations and scales of one row against `batch` columns.
    struct Case {
        packed: Vec<u8>,
        scales: Vec<f32>,
        x: Vec<i8>,
        blocks: usize,
        batch: usize,
    }

    impl Case {
        /// Draws a case with `coded_len / coordinates_per_byte` code bytes.
        fn random(
            seed: u64,
            (coded_len, coordinates_per_byte): (usize, usize),
            batch: usize,
            unit_scales: bool,
        ) -> Self {
            let mut rng = SplitMix64::new(seed);
            let blocks = coded_len.div_ceil(BLOCK);
            let packed = (0..coded_len / coordinates_per_byte)
                .map(|_| rng.next_u64() as u8)
                .collect();
            let scales = (0..blocks * batch)
                .map(|_| {
                    if unit_scales {
                        1.0
                    } else {
                        rng.next_f64() as f32
                    }
                })
                .collect();
            let mut x = std::vec![0i8; blocks * BLOCK * batch];
            for column in 0..batch {
                for i in 0..coded_len {
                    let value = (rng.next_u64() % 255) as i32 - 127;
                    x[column * blocks * BLOCK + i] = value as i8;
                }
            }
            Self {
                packed,
                scales,
                x,
                blocks,
                batch,
            }
        }

        fn input(&self, format: Format) -> RowInput<'_> {
            RowInput {
                format,
                packed: &self.packed,
                following: &self.packed,
                scales: &self.scales,
                x: &self.x,
                blocks: self.blocks,
            }
        }

        /// Returns the exact sums and the scaled sums of the magnitudes of
        /// all products, in `f64`.
        fn exact(&self, format: Format) -> Vec<(f64, f64)> {
            let input = self.input(format);
            (0..self.batch)
                .map(|column| {
                    let mut sum = 0.0f64;
                    let mut magnitude = 0.0f64;
                    for block in 0..self.blocks {
                        let packed = input.packed_block(block);
                        let x = input.x_block(column, block);
                        let scale = f64::from(input.scale(column, block));
                        sum += scale * f64::from(format.block_dot(packed, x));
                        magnitude += scale * f64::from(magnitude_dot(format, packed, x));
                    }
                    (sum, magnitude)
                })
                .collect()
        }

        fn run(&self, backend: Backend, format: Format) -> Vec<f32> {
            let input = self.input(format);
            let mut out = std::vec![0.0f32; self.batch];
            for (tile, chunk) in out.chunks_mut(COLUMN_TILE).enumerate() {
                let first = tile * COLUMN_TILE;
                backend.row_tile(&input, first..first + chunk.len(), chunk);
            }
            out
        }
    }

    /// Returns the sum of the magnitudes of the products of one block.
    fn magnitude_dot(format: Format, packed: &[u8], x: &[i8]) -> i32 {
        let x: Vec<i8> = x.iter().map(|value| value.saturating_abs()).collect();
        match format {
            Format::Nibble(table) => {
                Format::Nibble(table.map(|value| value.saturating_abs())).block_dot(packed, &x)
            }
            Format::Ball => {
                let positive: Vec<u8> = packed
                    .chunks_exact(2)
                    .flat_map(|index| {
                        let index = u16::from_le_bytes([index[0], index[1]]) & 0x1ff;
                        index.to_le_bytes()
                    })
                    .collect();
                Format::Ball.block_dot(&positive, &x)
            }
        }
    }

    /// Returns both formats with their coordinates per code byte: 2 for
    /// nibbles, 4 for ball indices.
    fn formats() -> [(Format, usize); 2] {
        [(Format::Nibble(level_table()), 2), (Format::Ball, 4)]
    }

    const LENGTHS: [usize; 9] = [8, 16, 24, 32, 40, 56, 64, 136, 1024];

    #[test]
    fn integer_sums_are_exact_on_every_backend() {
        // With unit scales and rows of at most 1024 coordinates every
        // partial sum is an integer below 2^24, so f32 adds it exactly.
        for (format, per_byte) in formats() {
            for (seed, &coded_len) in LENGTHS.iter().enumerate() {
                for batch in [1, 3, 9] {
                    let case = Case::random(seed as u64, (coded_len, per_byte), batch, true);
                    let exact = case.exact(format);
                    for backend in Backend::available() {
                        let out = case.run(backend, format);
                        for (column, (&value, &(sum, _))) in out.iter().zip(&exact).enumerate() {
                            let context = (format, backend, coded_len, column);
                            assert_eq!(f64::from(value), sum, "{context:?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn scaled_sums_stay_within_the_summation_bound() {
        for (format, per_byte) in formats() {
            for (seed, &coded_len) in LENGTHS.iter().enumerate() {
                let case = Case::random(100 + seed as u64, (coded_len, per_byte), 17, false);
                let exact = case.exact(format);
                for backend in Backend::available() {
                    let out = case.run(backend, format);
                    for (&value, &(sum, magnitude)) in out.iter().zip(&exact) {
                        let bound = (case.blocks + 8) as f64 * f64::from(f32::EPSILON) * magnitude;
                        let error = (f64::from(value) - sum).abs();
                        assert!(error <= bound, "{format:?} {backend:?} {value} {sum}");
                    }
                }
            }
        }
    }

    #[test]
    fn long_rows_at_accumulator_bound() {
        // Every product is +-127 * 127 and every block sum 516128: the
        // largest values the i16 pair sums and the i32 block sums can hold.
        let table = level_table();
        assert_eq!((table[0], table[15]), (-127, 127));
        let format = Format::Nibble(table);
        let coded_len = 65536;
        let blocks = coded_len / BLOCK;
        let cases = [
            (0xffu8, 127i8, 516_128.0f64),
            (0x00, 127, -516_128.0),
            (0x00, -127, 516_128.0),
        ];
        for (digits, activation, expected_block) in cases {
            let case = Case {
                packed: std::vec![digits; coded_len / 2],
                scales: std::vec![1.0; blocks],
                x: std::vec![activation; coded_len],
                blocks,
                batch: 1,
            };
            let expected = expected_block * blocks as f64;
            for backend in Backend::available() {
                let out = case.run(backend, format);
                let bound = (blocks + 8) as f64 * f64::from(f32::EPSILON) * expected.abs();
                assert!(
                    (f64::from(out[0]) - expected).abs() <= bound,
                    "{backend:?} {}",
                    out[0]
                );
            }
        }
    }

    #[test]
    fn ball_weights_equal_the_codewords() {
        for index in 0..=u16::MAX {
            let (magnitudes, signs) = ball_weights(index);
            let weights: [i8; 8] = core::array::from_fn(|i| {
                let magnitude = (magnitudes >> (8 * i)) as u8 as i8;
                if (signs >> (8 * i)) as u8 == 0xff {
                    -magnitude
                } else {
                    magnitude
                }
            });
            assert_eq!(weights, crate::code::ball_doubled(index), "index {index}");
        }
    }

    #[test]
    fn activation_blocks_round_to_i8() {
        let mut out = [0i8; BLOCK];
        let scale = quantize_block(&[1.0, -2.0, 0.5, 254.0], &mut out);
        assert_eq!(scale, 2.0);
        assert_eq!(&out[..5], &[1, -1, 0, 127, 0]);
        assert_eq!(quantize_block(&[0.0; 8], &mut out), 0.0);
        assert_eq!(quantize_block(&[1e-45, -1e-45], &mut out), 0.0);
        assert!(out.iter().all(|&value| value == 0));
    }

    #[test]
    fn level_table_is_symmetric_and_increasing() {
        let table = level_table();
        for i in 0..16 {
            assert_eq!(table[i], -table[15 - i]);
        }
        assert!(table.windows(2).all(|pair| pair[0] < pair[1]));
    }
}
