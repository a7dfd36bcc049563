//! Quantization of a set of vectors into a caller-provided buffer.
//!
//! Per vector `x` of length `n`, padded to `n' = 8 ceil(n / 8)`:
//!
//! 1. `mu` is the mean of `x` rounded to `f32`, or 0 without mean removal.
//! 2. `sigma = ||x - mu|| / sqrt(n')` is rounded to the nearest `bf16`
//!    value `s`, and the vector coded is `u = (x - mu) / s`. Dividing by the
//!    rounded norm keeps the decoded scale exact: the decoder multiplies by
//!    the same `s`.
//! 3. `u` is padded and rotated, cut into groups of 8, and each stored group
//!    is coded into one code word.
//!
//! A zero vector, and one whose `sigma` rounds to zero in `bf16` (below half
//! the smallest `bf16` subnormal, about `4.6e-41`), is stored with `s = 0`. Its codes are those of the zero
//! group, and every product with it is exactly `n mu mu'` or `mu sum(x')`.

use half::bf16;

use super::config::QuantizerConfig;
use super::layout::{HEADER_LEN, Layout, within_stored_range};
use super::rotation::GROUP_LEN;
use super::vectors::VectorSet;
use crate::Error;
use crate::pack::write_bits;

/// Returns the bytes needed to quantize `vector_count` vectors of
/// `vector_len` entries with `config`.
///
/// # Errors
///
/// [`Error::ShapeTooLarge`] when the sizes exceed the format.
pub fn quantized_len(
    config: &QuantizerConfig,
    vector_len: usize,
    vector_count: usize,
) -> Result<usize, Error> {
    Ok(Layout::new(config, vector_len, vector_count)?.total_len)
}

/// Returns the scratch length [`quantize_into`] needs: the padded vector
/// length `8 ceil(vector_len / 8)`.
pub fn quantize_scratch_len(vector_len: usize) -> usize {
    vector_len.div_ceil(GROUP_LEN) * GROUP_LEN
}

/// Quantizes every vector of `vectors` into `out`, which must hold exactly
/// [`quantized_len`] bytes, using `scratch` for one padded vector.
///
/// # Errors
///
/// - [`Error::LengthMismatch`] or [`Error::BufferTooSmall`] when `out` does
///   not have the computed length.
/// - [`Error::ScratchTooSmall`] when `scratch` is shorter than
///   [`quantize_scratch_len`].
/// - [`Error::NonFiniteEntry`] naming the row and column of a NaN or
///   infinity, and [`Error::NormOverflow`] for a vector whose RMS or mean
///   exceeds [`crate::quant::MAX_STORED_MAGNITUDE`].
///
/// On error the contents of `out` are unspecified.
pub fn quantize_into(
    vectors: &VectorSet<'_>,
    config: &QuantizerConfig,
    out: &mut [u8],
    scratch: &mut [f32],
) -> Result<(), Error> {
    let layout = Layout::new(config, vectors.vector_len(), vectors.vector_count())?;
    layout.check_len(out.len())?;
    let coded_len = layout.rotation.coded_len();
    if scratch.len() < coded_len {
        return Err(Error::ScratchTooSmall {
            needed: coded_len,
            actual: scratch.len(),
        });
    }
    let vector = &mut scratch[..coded_len];

    let mut header = [0u8; HEADER_LEN];
    layout.write_header(&mut header);
    out[..HEADER_LEN].copy_from_slice(&header);
    // The code words are written bit by bit into shared bytes, so the stream
    // starts from zero to leave the tail bits of the last byte zero.
    out[layout.codes_offset..].fill(0);

    for index in 0..layout.vector_count {
        vectors.copy_vector(index, &mut vector[..vectors.vector_len()])?;
        let (mean, norm) = normalize(&mut vector[..vectors.vector_len()], &layout, index)?;
        layout.rotation.pad_and_rotate(vector)?;
        write_codes(vector, &layout, index, out)?;

        let norm_offset = layout.norm_offset(index);
        out[norm_offset..norm_offset + 2].copy_from_slice(&norm.to_le_bytes());
        if layout.remove_mean {
            let mean_offset = layout.mean_offset(index);
            out[mean_offset..mean_offset + 4].copy_from_slice(&mean.to_le_bytes());
        }
    }
    Ok(())
}

/// Removes the mean of `x` and divides it by its rounded RMS in place;
/// returns the stored mean and norm.
fn normalize(x: &mut [f32], layout: &Layout, index: usize) -> Result<(f32, bf16), Error> {
    let mean = if layout.remove_mean && !x.is_empty() {
        let sum: f64 = x.iter().map(|&value| f64::from(value)).sum();
        (sum / x.len() as f64) as f32
    } else {
        0.0
    };

    // Residuals are formed in f64, where x - mu cannot overflow.
    let residual = |value: f32| f64::from(value) - f64::from(mean);
    let energy: f64 = x
        .iter()
        .map(|&value| residual(value) * residual(value))
        .sum();
    let coded_len = layout.rotation.coded_len().max(1) as f64;
    // The sum of no terms is -0.0, whose sign bit a view would reject.
    let norm = bf16::from_f64(libm::sqrt(energy / coded_len).abs());
    // Bounded norms and means keep every decoded value finite.
    if !(within_stored_range(norm.to_f32()) && within_stored_range(mean)) {
        return Err(Error::NormOverflow { vector: index });
    }

    let inverse = if norm.to_f64() > 0.0 {
        1.0 / norm.to_f64()
    } else {
        0.0
    };
    for value in x.iter_mut() {
        *value = (residual(*value) * inverse) as f32;
    }
    Ok((mean, norm))
}

/// Codes the stored groups of the rotated vector `index`.
fn write_codes(
    rotated: &[f32],
    layout: &Layout,
    index: usize,
    out: &mut [u8],
) -> Result<(), Error> {
    let codes = &mut out[layout.codes_offset..];
    let first_group = index * layout.stored_groups;
    for (group, values) in rotated
        .chunks_exact(GROUP_LEN)
        .take(layout.stored_groups)
        .enumerate()
    {
        let block: &[f32; GROUP_LEN] = values.try_into().map_err(|_| Error::LengthMismatch {
            expected: GROUP_LEN,
            actual: values.len(),
        })?;
        let stream_index = first_group + group;
        let word = layout
            .codec
            .encode(block, dither_index(layout, index, group))?;
        write_bits(codes, stream_index, layout.word_bits, word)?;
    }
    Ok(())
}

/// Returns the index that selects the dither of a group: its position among
/// all groups of the padded matrix.
pub(crate) fn dither_index(layout: &Layout, vector: usize, group: usize) -> u64 {
    vector as u64 * layout.groups() as u64 + group as u64
}
