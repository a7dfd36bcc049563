//! A borrowed, validated view of a quantized matrix.

use half::bf16;

use super::config::QuantizerConfig;
use super::encode::dither_index;
use super::layout::{Layout, within_stored_range};
use super::preset::Preset;
use super::rotation::{GROUP_LEN, Rotation};
use crate::Error;
use crate::pack::read_bits;

/// A quantized matrix read in place from a byte buffer at any alignment.
///
/// [`Self::from_bytes`] checks the header, every size, every norm and every
/// mean. Code words are checked when they are decoded: a word beyond the
/// code's states gives [`Error::InvalidCodeWord`] from the call that reads
/// it. Words in range are all valid codewords, so a change to one of them
/// cannot be detected.
#[derive(Clone, Debug)]
pub struct QuantizedMatrixRef<'a> {
    bytes: &'a [u8],
    layout: Layout,
}

impl<'a> QuantizedMatrixRef<'a> {
    /// Validates `bytes` and returns a view over it.
    ///
    /// # Errors
    ///
    /// - The header errors of the format (see [`crate::quant`]).
    /// - [`Error::BufferTooSmall`] or [`Error::LengthMismatch`] when the
    ///   length does not match the header.
    /// - [`Error::InvalidStoredNorm`] for a norm that is NaN, above
    ///   [`crate::quant::MAX_STORED_MAGNITUDE`] or has its sign bit set (the
    ///   encoder writes `+0.0` for zero vectors).
    /// - [`Error::InvalidStoredMean`] for a mean that is NaN or above
    ///   [`crate::quant::MAX_STORED_MAGNITUDE`] in magnitude.
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Self, Error> {
        let layout = Layout::parse(bytes)?;
        let view = Self { bytes, layout };
        for vector in 0..view.vector_count() {
            let norm = view.raw_norm(vector);
            if norm.is_sign_negative() || !within_stored_range(norm.to_f32()) {
                return Err(Error::InvalidStoredNorm {
                    vector,
                    value: norm.to_f32(),
                });
            }
            let mean = view.mean(vector);
            if !within_stored_range(mean) {
                return Err(Error::InvalidStoredMean {
                    vector,
                    value: mean,
                });
            }
        }
        Ok(view)
    }

    /// Wraps bytes whose layout was computed by the encoder that wrote them.
    #[cfg(feature = "alloc")]
    pub(crate) fn from_trusted(bytes: &'a [u8], layout: Layout) -> Self {
        Self { bytes, layout }
    }

    /// Returns the layout that the header fixes.
    #[cfg(feature = "alloc")]
    pub(crate) fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Returns the underlying bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Returns the preset.
    pub fn preset(&self) -> &'static Preset {
        self.layout.preset
    }

    /// Returns the setting the matrix was quantized with.
    pub fn config(&self) -> QuantizerConfig {
        let config = QuantizerConfig::new(self.layout.preset)
            .with_mean_removal(self.layout.remove_mean)
            .with_rotation_seed(self.layout.rotation.seed());
        // The header parser accepted this dither for this preset, so the
        // setter cannot fail; the fallback keeps the call panic-free.
        config
            .with_dither_seed(self.layout.dither_seed)
            .unwrap_or(config)
    }

    /// Returns the number of entries of each vector.
    pub fn vector_len(&self) -> usize {
        self.layout.rotation.len()
    }

    /// Returns the number of vectors.
    pub fn vector_count(&self) -> usize {
        self.layout.vector_count
    }

    /// Returns the padded vector length, `8 ceil(vector_len / 8)`.
    pub fn coded_len(&self) -> usize {
        self.layout.rotation.coded_len()
    }

    /// Returns the rotation applied before coding.
    pub fn rotation(&self) -> &Rotation {
        &self.layout.rotation
    }

    /// Tells whether the vectors had their means removed.
    pub fn removes_mean(&self) -> bool {
        self.layout.remove_mean
    }

    /// Returns the number of groups of 8 coded per vector; the low-rate
    /// presets code fewer than `coded_len / 8`.
    pub fn stored_groups(&self) -> usize {
        self.layout.stored_groups
    }

    /// Returns the stored norm `s` of vector `vector`: the RMS of the
    /// mean-removed vector over the padded length, rounded to `bf16`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidVectorIndex`] for a vector past the end.
    pub fn norm(&self, vector: usize) -> Result<f32, Error> {
        self.check_vector(vector)?;
        Ok(self.raw_norm(vector).to_f32())
    }

    /// Returns the factor of the decoded unit-scale groups of vector `vector`:
    /// the stored norm times the preset gain.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidVectorIndex`] for a vector past the end.
    pub fn group_scale(&self, vector: usize) -> Result<f32, Error> {
        Ok(self.norm(vector)? * self.layout.preset.gain())
    }

    /// Returns the stored mean of vector `vector`, 0 without mean removal.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidVectorIndex`] for a vector past the end.
    pub fn vector_mean(&self, vector: usize) -> Result<f32, Error> {
        self.check_vector(vector)?;
        Ok(self.mean(vector))
    }

    /// Decodes group `group` of vector `vector` at unit scale, before the
    /// gain, the norm and the inverse rotation. Groups that a low-rate
    /// preset does not store decode to zero.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidVectorIndex`] for a vector past the end,
    /// [`Error::LengthMismatch`] for a group past the padded length, and
    /// [`Error::InvalidCodeWord`] for a corrupt code word.
    pub fn decode_group(&self, vector: usize, group: usize) -> Result<[f32; GROUP_LEN], Error> {
        self.check_vector(vector)?;
        if group >= self.layout.groups() {
            return Err(Error::LengthMismatch {
                expected: self.layout.groups(),
                actual: group,
            });
        }
        if group >= self.layout.stored_groups {
            return Ok([0.0; GROUP_LEN]);
        }

        let codes = &self.bytes[self.layout.codes_offset..];
        let stream_index = vector * self.layout.stored_groups + group;
        let word = read_bits(codes, stream_index, self.layout.word_bits)?;
        self.layout
            .codec
            .decode(word, dither_index(&self.layout, vector, group))
    }

    /// Decodes vector `vector` at unit scale into `out` (the padded length):
    /// the rotated vector divided by its norm and the gain.
    ///
    /// # Errors
    ///
    /// As [`Self::decode_group`], and [`Error::LengthMismatch`] unless
    /// `out.len()` is the padded length.
    pub fn decode_unit(&self, vector: usize, out: &mut [f32]) -> Result<(), Error> {
        self.check_vector(vector)?;
        if out.len() != self.coded_len() {
            return Err(Error::LengthMismatch {
                expected: self.coded_len(),
                actual: out.len(),
            });
        }
        for (group, chunk) in out.chunks_exact_mut(GROUP_LEN).enumerate() {
            chunk.copy_from_slice(&self.decode_group(vector, group)?);
        }
        Ok(())
    }

    /// Reconstructs vector `vector` in its original coordinates: decoded,
    /// scaled, rotated back and with its mean added. `out` has the padded
    /// length, and its first `vector_len` entries hold the result.
    ///
    /// # Errors
    ///
    /// As [`Self::decode_unit`].
    pub fn dequantize(&self, vector: usize, out: &mut [f32]) -> Result<(), Error> {
        self.decode_unit(vector, out)?;
        let scale = self.group_scale(vector)?;
        for value in out.iter_mut() {
            *value *= scale;
        }
        self.layout.rotation.unrotate(out)?;
        let mean = self.mean(vector);
        for value in out[..self.vector_len()].iter_mut() {
            *value += mean;
        }
        Ok(())
    }

    /// Returns the code section: the code words of every vector, one stream.
    pub(crate) fn code_bytes(&self) -> &'a [u8] {
        &self.bytes[self.layout.codes_offset..]
    }

    /// Returns the bits of one code word.
    pub(crate) fn word_bits(&self) -> u32 {
        self.layout.word_bits
    }

    /// Returns the stored bits per entry: every byte of the buffer, header
    /// included, divided by the number of entries; 0 for an empty matrix.
    pub fn stored_bits_per_entry(&self) -> f64 {
        let entries = self.vector_len() as f64 * self.vector_count() as f64;
        if entries == 0.0 {
            return 0.0;
        }
        self.bytes.len() as f64 * 8.0 / entries
    }

    /// Returns the ideal bits per entry: `log2` of the code words' states per
    /// coded entry, without norms, means, header and padding.
    pub fn ideal_bits_per_entry(&self) -> f64 {
        let groups = self.layout.groups().max(1) as f64;
        let stored = self.layout.stored_groups as f64;
        let states = self.layout.codec.states() as f64;
        libm::log2(states) * stored / (groups * GROUP_LEN as f64)
    }

    fn check_vector(&self, vector: usize) -> Result<(), Error> {
        if vector < self.vector_count() {
            Ok(())
        } else {
            Err(Error::InvalidVectorIndex {
                index: vector,
                count: self.vector_count(),
            })
        }
    }

    fn raw_norm(&self, vector: usize) -> bf16 {
        let offset = self.layout.norm_offset(vector);
        bf16::from_le_bytes([self.bytes[offset], self.bytes[offset + 1]])
    }

    fn mean(&self, vector: usize) -> f32 {
        if !self.layout.remove_mean {
            return 0.0;
        }
        let offset = self.layout.mean_offset(vector);
        let mut bytes = [0u8; 4];
        bytes.copy_from_slice(&self.bytes[offset..offset + 4]);
        f32::from_le_bytes(bytes)
    }
}

/// Formats the preset and the shape; the code bytes are left out.
#[cfg(feature = "defmt")]
impl defmt::Format for QuantizedMatrixRef<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "QuantizedMatrixRef {{ preset: {=str}, vector_len: {=usize}, vector_count: {=usize}, bytes: {=usize} }}",
            self.preset().name(),
            self.vector_len(),
            self.vector_count(),
            self.bytes.len()
        );
    }
}
