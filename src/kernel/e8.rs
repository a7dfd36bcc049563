//! The `E8Lanes` kernel: E8 Voronoi groups decoded sixteen at a time.
//!
//! Lane `l` of every vector belongs to group `16t + l` of tile `t`, and the
//! activations are transposed the same way, so no step moves data between
//! lanes. The decoder is exact integer arithmetic:
//!
//! 1. The code word `w < k q^8` is divided by `k` (the remainder is the
//!    scale id) and the quotient by `q^4`, in `u32` lanes with
//!    multiply-high division ([`Divisor32`]). Each half has four digits
//!    below `q^4 < 2^15`, which `i16` lanes peel off ([`Divisor16`]).
//! 2. `u = G c + 2 e1` in integer representation (twice the coordinates):
//!    the fine point with the deep-hole shift.
//! 3. The coarse point `Q(u / 2q)` is the nearer of two D8 candidates, for
//!    `u / 2q` and for `(u - q) / 2q`. Both follow from one division
//!    `u = 2q m + q + t` with `-q <= t < q`: the half-integer candidate
//!    rounds to `m` with residual `t`, the integer candidate to
//!    `m + [t >= 0]` with residual `t - q sign(t)`, whose magnitude is
//!    `q - |t|`. Parities, the coordinate to move and both squared
//!    distances follow from `|t|`, with the tie rules of
//!    [`crate::lattice`].
//! 4. The residual `e = u - 2q Q(u / 2q)` of the kept candidate is twice the
//!    shifted fine point: the group decodes to `(beta / 2) e`.

use core::ops::Range;

use wide::{f32x16, i16x16, i32x16, u32x16};

use super::{Activations, COLUMN_TILE};
use crate::Error;
use crate::quant::{Family, GROUP_LEN, QuantizedMatrixRef};

/// Groups decoded together, one per lane.
pub(crate) const LANES: usize = 16;

/// Values of one transposed tile of activations: 8 coordinates of 16
/// groups.
pub(crate) const TILE_VALUES: usize = GROUP_LEN * LANES;

/// Largest scale count the lookup of [`E8Decoder::half_scales`] holds.
const MAX_SCALES: usize = 16;

/// Returns the SIMD instruction set that `wide` compiles to in this build.
pub(crate) fn backend_name() -> &'static str {
    if cfg!(all(target_feature = "avx2", target_feature = "fma")) {
        "avx2"
    } else if cfg!(target_feature = "sse2") {
        "sse2"
    } else if cfg!(target_arch = "aarch64") {
        "neon"
    } else {
        "portable"
    }
}

/// Exact division of `u32` lanes by a constant: `floor(x / d)` is
/// `mulhi(x, magic) >> shift` for every `x` up to the limit given to
/// [`magic_number`].
#[derive(Clone, Copy, Debug)]
struct Divisor32 {
    divisor: u32,
    magic: u32,
    shift: u32,
}

impl Divisor32 {
    fn new(divisor: u32, limit: u32) -> Option<Self> {
        let (magic, shift) = magic_number(divisor, limit, 32, u64::from(u32::MAX))?;
        Some(Self {
            divisor,
            magic: magic as u32,
            shift,
        })
    }

    /// Returns the quotients and the remainders.
    fn divide(self, x: u32x16) -> (u32x16, u32x16) {
        let quotient = x.mul_keep_high(u32x16::splat(self.magic)) >> self.shift;
        (quotient, x - quotient * u32x16::splat(self.divisor))
    }
}

/// Returns `(magic, shift)` such that `floor(x / d)` is
/// `(x magic) >> (bits + shift)` for every `x <= limit`, with `magic` at
/// most `largest`; `None` when no shift below `bits` gives one.
///
/// With `magic = ceil(2^(bits + s) / d)` and `excess = magic d -
/// 2^(bits + s) < d`, `x magic / 2^(bits + s) = x / d + x excess / (d
/// 2^(bits + s))`. The floor is exact when the last term stays below
/// `1 / d`, that is when `limit * excess < 2^(bits + s)`, which is checked
/// here.
fn magic_number(divisor: u32, limit: u32, bits: u32, largest: u64) -> Option<(u64, u32)> {
    (0..bits).find_map(|shift| {
        let power = 1u128 << (bits + shift);
        let magic = power.div_ceil(u128::from(divisor));
        let excess = magic * u128::from(divisor) - power;
        let exact = u128::from(limit) * excess < power;
        (magic <= u128::from(largest) && exact).then_some((magic as u64, shift))
    })
}

/// Exact division of non-negative `i16` lanes below 2^15 by a constant,
/// with [`magic_number`] on 16-bit words.
#[derive(Clone, Copy, Debug)]
struct Divisor16 {
    divisor: i16,
    magic: i16,
    shift: i32,
}

impl Divisor16 {
    fn new(divisor: u32) -> Option<Self> {
        let largest = i16::MAX as u16;
        let (magic, shift) = magic_number(divisor, u32::from(largest), 16, u64::from(largest))?;
        Some(Self {
            divisor: i16::try_from(divisor).ok()?,
            magic: magic as i16,
            shift: shift as i32,
        })
    }

    /// Returns the quotients and the remainders.
    fn divide(self, x: i16x16) -> (i16x16, i16x16) {
        let quotient = x.mul_keep_high(i16x16::splat(self.magic)) >> self.shift;
        (quotient, x - quotient * i16x16::splat(self.divisor))
    }
}

/// Decodes the code words of the E8 Voronoi presets in lanes.
#[derive(Debug)]
pub(crate) struct E8Decoder {
    /// Division by the scale count `k`, `None` for a single scale.
    scale_count: Option<Divisor32>,
    /// Division by `q^4`, which splits the digits into two halves.
    half_word: Divisor32,
    q_digits: Divisor16,
    /// Division by `2q`, for the coarse rounding.
    double_q: Divisor16,
    q: i16,
    states: u64,
    half_scales: [f32; MAX_SCALES],
    scale_len: usize,
}

impl E8Decoder {
    /// Builds the decoder of an E8 Voronoi preset. Returns `None` for another
    /// family, and for `q` and `k` outside `2 <= q <= 13` (so that
    /// `q^4 < 2^15`) and `1 <= k <= 16`.
    pub(crate) fn new(family: &Family) -> Option<Self> {
        let Family::Voronoi { q, scales, .. } = *family else {
            return None;
        };
        if !(2..=13).contains(&q) || scales.is_empty() || scales.len() > MAX_SCALES {
            return None;
        }
        let states = u64::from(q).pow(8) * scales.len() as u64;
        let largest_word = u32::try_from(states - 1).ok()?;
        let scale_count = match scales.len() {
            1 => None,
            k => Some(Divisor32::new(k as u32, largest_word)?),
        };
        let mut half_scales = [0.0; MAX_SCALES];
        for (half, &scale) in half_scales.iter_mut().zip(scales) {
            *half = 0.5 * scale;
        }
        Some(Self {
            scale_count,
            half_word: Divisor32::new(q.pow(4), q.pow(8) - 1)?,
            q_digits: Divisor16::new(q)?,
            double_q: Divisor16::new(2 * q)?,
            q: q as i16,
            states,
            half_scales,
            scale_len: scales.len(),
        })
    }

    /// Decodes sixteen code words: returns the residuals `e` (coordinate
    /// by coordinate, one group per lane) and each group's `beta / 2`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCodeWord`] for the first word not below `k q^8`.
    pub(crate) fn decode(&self, words: &[u32; LANES]) -> Result<([i16x16; 8], f32x16), Error> {
        if let Some(&word) = words.iter().find(|&&word| u64::from(word) >= self.states) {
            return Err(Error::InvalidCodeWord {
                word: u64::from(word),
            });
        }
        let (scale_ids, digits) = self.split(words);
        let residuals = self.coarse_residuals(&shifted_representative(&digits));
        Ok((residuals, self.half_scales(scale_ids)))
    }

    /// Splits each word into its scale id and its eight digits.
    fn split(&self, words: &[u32; LANES]) -> (i32x16, [i16x16; 8]) {
        let words = u32x16::new(*words);
        let (index, scale_ids) = match self.scale_count {
            Some(divisor) => divisor.divide(words),
            None => (words, u32x16::ZERO),
        };
        let (high, low) = self.half_word.divide(index);

        let mut digits = [i16x16::ZERO; 8];
        for (half, value) in [low, high].into_iter().enumerate() {
            // Each half is below q^4 < 2^15.
            let mut rest = narrow(value);
            for digit in digits[4 * half..4 * half + 3].iter_mut() {
                let (quotient, remainder) = self.q_digits.divide(rest);
                *digit = remainder;
                rest = quotient;
            }
            digits[4 * half + 3] = rest;
        }
        (
            i32x16::new(scale_ids.to_array().map(|id| id as i32)),
            digits,
        )
    }

    /// Returns `u - 2q Q(u / 2q)` for the nearer of the two D8 candidates.
    fn coarse_residuals(&self, u: &[i16x16; 8]) -> [i16x16; 8] {
        let stats = self.residual_stats(u);
        let q = i16x16::splat(self.q);
        let two_q = q + q;

        // Squared distances after each candidate moves its worst coordinate
        // when its parity is odd: the move turns a residual of magnitude r
        // into one of 2q - r.
        let eight_q_squared = i16x16::splat(8 * self.q * self.q);
        let four_q = two_q + two_q;
        let half_distance = stats.sum_squares + (stats.half_odd & (four_q * (q - stats.largest)));
        let integer_distance = eight_q_squared - two_q * stats.sum
            + stats.sum_squares
            + (stats.integer_odd & (four_q * stats.smallest));

        let half_first = moved(
            stats.t0,
            stats.half_odd & stats.half_worst.simd_eq(i16x16::ZERO),
            two_q,
        );
        let integer_base = stats.t0 - toward_q(stats.t0, q);
        let integer_first = moved(
            integer_base,
            stats.integer_odd & stats.integer_worst.simd_eq(i16x16::ZERO),
            two_q,
        );
        // At equal distance E8 keeps the candidate with the larger first
        // coordinate, which is the one with the smaller first residual.
        let keep_half = half_distance.simd_lt(integer_distance)
            | (half_distance.simd_eq(integer_distance) & half_first.simd_lt(integer_first));

        let worst = keep_half.select(stats.half_worst, stats.integer_worst);
        let odd = keep_half.select(stats.half_odd, stats.integer_odd);
        core::array::from_fn(|i| {
            let t = stats.t[i];
            let base = t - (!keep_half & toward_q(t, q));
            moved(base, odd & worst.simd_eq(i16x16::splat(i as i16)), two_q)
        })
    }

    /// Computes `t` and the sums and extremes of `|t|` that both candidates
    /// need.
    fn residual_stats(&self, u: &[i16x16; 8]) -> ResidualStats {
        let q = i16x16::splat(self.q);
        let two_q = q + q;
        let mut stats = ResidualStats::default();
        let mut count_nonnegative = i16x16::ZERO;
        let mut sum_rounded = i16x16::ZERO;

        for (i, &value) in u.iter().enumerate() {
            // u >= -2q for every digit vector, so u + 2q is a valid input
            // of the division, and the parities are unchanged by the
            // added 8 to the sum of the quotients.
            let shifted = value + two_q;
            let (rounded, remainder) = self.double_q.divide(shifted);
            let t = remainder - q;
            let magnitude = t.abs();
            stats.t[i] = t;
            sum_rounded += rounded;
            count_nonnegative -= t.simd_gt(i16x16::splat(-1));
            stats.sum += magnitude;
            stats.sum_squares += magnitude * magnitude;
            if i == 0 {
                stats.t0 = t;
                stats.largest = magnitude;
                stats.smallest = magnitude;
                continue;
            }
            let index = i16x16::splat(i as i16);
            let larger = magnitude.simd_gt(stats.largest);
            stats.largest = stats.largest.max(magnitude);
            stats.half_worst = larger.select(index, stats.half_worst);
            let smaller = magnitude.simd_lt(stats.smallest);
            stats.smallest = stats.smallest.min(magnitude);
            stats.integer_worst = smaller.select(index, stats.integer_worst);
        }

        let one = i16x16::splat(1);
        stats.half_odd = (sum_rounded & one).simd_eq(one);
        stats.integer_odd = ((sum_rounded + count_nonnegative) & one).simd_eq(one);
        stats
    }

    /// Returns `beta / 2` of each lane's scale id.
    fn half_scales(&self, scale_ids: i32x16) -> f32x16 {
        let ids = f32x16::from_i32x16(scale_ids);
        let mut halves = f32x16::splat(self.half_scales[0]);
        for (id, &half) in self.half_scales[..self.scale_len]
            .iter()
            .enumerate()
            .skip(1)
        {
            halves = ids
                .simd_eq(f32x16::splat(id as f32))
                .select(f32x16::splat(half), halves);
        }
        halves
    }
}

/// The residuals `t` with the sums and extremes of `|t|` that both D8
/// candidates need.
#[derive(Default)]
struct ResidualStats {
    t: [i16x16; 8],
    t0: i16x16,
    sum: i16x16,
    sum_squares: i16x16,
    largest: i16x16,
    smallest: i16x16,
    /// First coordinate of largest `|t|`: the one the half-integer
    /// candidate moves.
    half_worst: i16x16,
    /// First coordinate of smallest `|t|`: the one the integer candidate
    /// moves.
    integer_worst: i16x16,
    half_odd: i16x16,
    integer_odd: i16x16,
}

/// Returns `q` with the sign of `t` (`+q` for `t >= 0`).
fn toward_q(t: i16x16, q: i16x16) -> i16x16 {
    t.simd_lt(i16x16::ZERO).select(-q, q)
}

/// Moves a residual one step of `2q` toward zero's far side where `mask`
/// is set: `r - 2q` for `r >= 0`, `r + 2q` otherwise.
fn moved(residual: i16x16, mask: i16x16, two_q: i16x16) -> i16x16 {
    residual - (mask & toward_q(residual, two_q))
}

/// Narrows lanes below 2^15 to `i16`.
fn narrow(value: u32x16) -> i16x16 {
    i16x16::new(value.to_array().map(|lane| lane as i16))
}

/// Returns `G c + 2 e1` in integer representation for the E8 generator
/// (columns `2 e1`, `e2 - e1`, ..., `e7 - e6`, `(1/2)(1, ..., 1)`).
fn shifted_representative(c: &[i16x16; 8]) -> [i16x16; 8] {
    let two = i16x16::splat(2);
    core::array::from_fn(|i| match i {
        0 => (c[0] + c[0] - c[1]) * two + c[7] + two,
        1..=5 => (c[i] - c[i + 1]) * two + c[7],
        6 => c[6] * two + c[7],
        _ => c[7],
    })
}

/// Reads the code words of groups `first..first + LANES` of the stream,
/// zero past `end`.
fn load_words(codes: &[u8], word_bytes: usize, first: usize, end: usize) -> [u32; LANES] {
    let mut words = [0u32; LANES];
    let count = end.saturating_sub(first).min(LANES);
    let bytes = &codes[first * word_bytes..(first + count) * word_bytes];
    match word_bytes {
        4 => {
            for (word, chunk) in words.iter_mut().zip(bytes.chunks_exact(4)) {
                *word = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            }
        }
        3 => {
            for (word, chunk) in words.iter_mut().zip(bytes.chunks_exact(3)) {
                *word = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], 0]);
            }
        }
        _ => {
            for (word, chunk) in words.iter_mut().zip(bytes.chunks_exact(2)) {
                *word = u32::from(u16::from_le_bytes([chunk[0], chunk[1]]));
            }
        }
    }
    words
}

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
    let decoder = E8Decoder::new(w.preset().family()).ok_or(Error::KernelMismatch {
        prepared: "e8-lanes",
        needed: "groups-f32",
    })?;
    let groups = w.coded_len() / GROUP_LEN;
    let tiles = groups.div_ceil(LANES);
    let word_bytes = (w.word_bits() / 8) as usize;
    let codes = w.code_bytes();
    let batch = activations.batch();
    let per_column = tiles * TILE_VALUES;

    for (row, out_row) in rows.zip(out.chunks_exact_mut(batch)) {
        let row_start = row * groups;
        for (chunk, out_chunk) in out_row.chunks_mut(COLUMN_TILE).enumerate() {
            let columns = &activations.values()[chunk * COLUMN_TILE * per_column..];
            let mut sums = [f32x16::ZERO; COLUMN_TILE];
            for tile in 0..tiles {
                let first = row_start + tile * LANES;
                let words = load_words(codes, word_bytes, first, row_start + groups);
                let (residuals, half_scales) = decoder.decode(&words)?;
                // (beta / 2) e is the decoded group, exactly as the scalar
                // decoder gives it.
                let values = residuals
                    .map(|lanes| f32x16::from_i32x16(i32x16::from_i16x16(lanes)) * half_scales);
                for (column, sum) in sums.iter_mut().enumerate().take(out_chunk.len()) {
                    let start = column * per_column + tile * TILE_VALUES;
                    *sum += tile_dot(&values, &columns[start..start + TILE_VALUES]);
                }
            }
            for (value, sum) in out_chunk.iter_mut().zip(sums) {
                *value = sum.reduce_add();
            }
        }
    }
    Ok(())
}

/// Returns, per lane, the dot product of the decoded groups with one tile.
fn tile_dot(values: &[f32x16; 8], tile: &[f32]) -> f32x16 {
    let mut dot = f32x16::ZERO;
    for (value, activations) in values.iter().zip(tile.chunks_exact(LANES)) {
        let mut lanes = [0.0f32; LANES];
        lanes.copy_from_slice(activations);
        dot = value.mul_add(f32x16::new(lanes), dot);
    }
    dot
}

// The tests build their cases in `std` vectors.
#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::code::VoronoiCode;
    use crate::lattice::E8;
    use crate::pack::BlockFormat;
    use crate::quant::Preset;
    use crate::quant::codec::GroupCodec;
    use crate::rng::SplitMix64;

    /// Checks every lane of a batch of words against the scalar decoder.
    fn check_words(preset: &Preset, decoder: &E8Decoder, words: &[u32; LANES]) {
        let Family::Voronoi { q, scales, .. } = *preset.family() else {
            unreachable!()
        };
        let format = BlockFormat::new(q, scales.len(), 8).unwrap();
        let code = VoronoiCode::<E8, 8>::new(q).unwrap().with_deep_hole_shift();
        let (residuals, half_scales) = decoder.decode(words).unwrap();
        for (lane, &word) in words.iter().enumerate() {
            let mut digits = [0u8; 8];
            let id = format.unpack(u64::from(word), &mut digits).unwrap();
            let point = code.decode_point(&digits, 0).unwrap();
            for i in 0..8 {
                let expected = point[i] + if i == 0 { 2 } else { 0 };
                assert_eq!(
                    residuals[i].to_array()[lane],
                    expected as i16,
                    "{} word {word:#x}",
                    preset.name()
                );
            }
            assert_eq!(half_scales.to_array()[lane], 0.5 * scales[id]);
        }
    }

    #[test]
    fn lanes_equal_the_scalar_decoder() {
        for name in ["e8-4", "e8-3", "e8-2"] {
            let preset = Preset::by_name(name).unwrap();
            let decoder = E8Decoder::new(preset.family()).unwrap();
            let states = decoder.states;
            let mut rng = SplitMix64::new(7);
            for _ in 0..20_000 {
                let words = core::array::from_fn(|_| (rng.next_u64() % states) as u32);
                check_words(preset, &decoder, &words);
            }
            let last = (states - 1) as u32;
            let edges = [
                0,
                1,
                last,
                last - 1,
                (states / 2) as u32,
                65535,
                65536,
                last & !0xffff,
                28560,
                28561,
                28561 * 5,
                28561 * 5 - 1,
                (states / 5) as u32,
                (states / 13) as u32,
                u32::MAX >> 1,
                2,
            ];
            check_words(preset, &decoder, &edges.map(|word| word.min(last)));
        }
    }

    #[test]
    fn every_small_word_decodes_like_the_scalar_decoder() {
        // e8-2 has 59049 words: check all of them.
        let preset = Preset::by_name("e8-2").unwrap();
        let decoder = E8Decoder::new(preset.family()).unwrap();
        let words: std::vec::Vec<u32> = (0..decoder.states as u32).collect();
        for chunk in words.chunks_exact(LANES) {
            check_words(preset, &decoder, chunk.try_into().unwrap());
        }
    }

    #[test]
    fn words_past_the_last_state_are_rejected() {
        let preset = Preset::by_name("e8-4").unwrap();
        let decoder = E8Decoder::new(preset.family()).unwrap();
        let mut words = [0u32; LANES];
        words[3] = decoder.states as u32;
        assert_eq!(
            decoder.decode(&words).err(),
            Some(Error::InvalidCodeWord {
                word: decoder.states
            })
        );
        words[3] = u32::MAX;
        assert!(decoder.decode(&words).is_err());
    }

    #[test]
    fn group_codec_values_agree() {
        // The decoded value is (beta / 2) e: compare with the code's own
        // decoder, gain and norm aside.
        let preset = Preset::by_name("e8-4").unwrap();
        let decoder = E8Decoder::new(preset.family()).unwrap();
        let codec = GroupCodec::new(preset.family(), None).unwrap();
        let mut rng = SplitMix64::new(3);
        let words = core::array::from_fn(|_| (rng.next_u64() % decoder.states) as u32);
        let (residuals, half_scales) = decoder.decode(&words).unwrap();
        for (lane, &word) in words.iter().enumerate() {
            let values = codec.decode(u64::from(word), 0).unwrap();
            for i in 0..8 {
                let lanes = residuals[i].to_array();
                assert_eq!(
                    values[i],
                    half_scales.to_array()[lane] * f32::from(lanes[lane])
                );
            }
        }
    }
}
