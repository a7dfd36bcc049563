//! The byte layout of a quantized matrix.
//!
//! The table in the documentation of [`crate::quant`] lists every field.

use super::codec::GroupCodec;
use super::config::QuantizerConfig;
use super::preset::{Family, Preset};
use super::rotation::{GROUP_LEN, Rotation};
use crate::Error;

/// The first four bytes of every quantized matrix.
pub const MAGIC: [u8; 4] = *b"NLQM";

/// The format version this build writes and reads.
pub const FORMAT_VERSION: u16 = 1;

/// Bytes before the norms.
pub const HEADER_LEN: usize = 40;

/// Largest stored norm or mean magnitude, 2^100 (about 1.27e30). Every
/// decoded value is then far below the `f32` range: a codeword coordinate
/// times the gain stays under 2^7 for every preset. Larger data must be
/// scaled down before quantizing.
pub const MAX_STORED_MAGNITUDE: f32 = 1_267_650_600_228_229_401_496_703_205_376.0;

/// Tells whether `value` is a number of magnitude at most
/// [`MAX_STORED_MAGNITUDE`]; false for NaN.
pub(crate) fn within_stored_range(value: f32) -> bool {
    value.abs() <= MAX_STORED_MAGNITUDE
}

const FLAG_MEAN_REMOVED: u8 = 1;
const FLAG_ROTATED: u8 = 2;
const FLAG_DITHERED: u8 = 4;
const FLAGS_OFFSET: usize = 8;
const RESERVED: core::ops::Range<usize> = 9..16;

/// Bytes per stored norm and per stored mean.
const NORM_BYTES: usize = 2;
const MEAN_BYTES: usize = 4;

/// Everything the header fixes: the code, the sizes and the section offsets.
#[derive(Clone, Debug)]
pub(crate) struct Layout {
    pub(crate) preset: &'static Preset,
    pub(crate) codec: GroupCodec,
    pub(crate) remove_mean: bool,
    pub(crate) rotation: Rotation,
    pub(crate) dither_seed: Option<u64>,
    pub(crate) vector_count: usize,
    /// Groups written per vector.
    pub(crate) stored_groups: usize,
    pub(crate) word_bits: u32,
    pub(crate) means_offset: usize,
    pub(crate) codes_offset: usize,
    pub(crate) total_len: usize,
}

impl Layout {
    /// Computes the layout of `vector_count` vectors of `vector_len` entries.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeTooLarge`] when a size exceeds `u32` or the buffer would
    /// not fit in `usize`.
    pub(crate) fn new(
        config: &QuantizerConfig,
        vector_len: usize,
        vector_count: usize,
    ) -> Result<Self, Error> {
        let too_large = Error::ShapeTooLarge {
            vector_len,
            vector_count,
        };
        if u32::try_from(vector_len).is_err() || u32::try_from(vector_count).is_err() {
            return Err(too_large);
        }
        let rotation = match config.rotation_seed() {
            Some(seed) => Rotation::hadamard(vector_len, seed),
            None => Rotation::identity(vector_len),
        }
        .map_err(|_| too_large)?;

        let preset = config.preset();
        let codec = GroupCodec::new(preset.family(), config.dither_seed())?;
        let stored_groups = stored_groups(preset, rotation.coded_len() / GROUP_LEN);
        let word_bits = codec.word_bits();

        let count = vector_count as u128;
        let means_offset = HEADER_LEN as u128 + NORM_BYTES as u128 * count;
        let mean_bytes = if config.removes_mean() {
            MEAN_BYTES as u128 * count
        } else {
            0
        };
        let codes_offset = means_offset + mean_bytes;
        let code_bits = count * stored_groups as u128 * u128::from(word_bits);
        let total_len = codes_offset + code_bits.div_ceil(8);
        let total_len = usize::try_from(total_len).map_err(|_| too_large)?;

        Ok(Self {
            preset,
            codec,
            remove_mean: config.removes_mean(),
            rotation,
            dither_seed: config.dither_seed(),
            vector_count,
            stored_groups,
            word_bits,
            // Both offsets are below total_len, so they fit in usize.
            means_offset: means_offset as usize,
            codes_offset: codes_offset as usize,
            total_len,
        })
    }

    /// Parses and checks the header of `bytes` and checks that the buffer
    /// length matches it exactly.
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`] for a truncated buffer,
    /// [`Error::InvalidMagic`], [`Error::UnsupportedVersion`],
    /// [`Error::UnknownPreset`], [`Error::InvalidHeader`] for unknown flags,
    /// non-zero reserved bytes or a seed without its flag,
    /// [`Error::ShapeTooLarge`], and [`Error::LengthMismatch`] when bytes
    /// follow the code words.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, Error> {
        let header: &[u8; HEADER_LEN] = bytes
            .get(..HEADER_LEN)
            .and_then(|head| head.try_into().ok())
            .ok_or(Error::BufferTooSmall {
                needed: HEADER_LEN,
                actual: bytes.len(),
            })?;

        let magic = [header[0], header[1], header[2], header[3]];
        if magic != MAGIC {
            return Err(Error::InvalidMagic { found: magic });
        }
        let version = u16::from_le_bytes([header[4], header[5]]);
        if version != FORMAT_VERSION {
            return Err(Error::UnsupportedVersion { version });
        }
        let id = u16::from_le_bytes([header[6], header[7]]);
        let preset = Preset::by_id(id).ok_or(Error::UnknownPreset { id })?;
        let flags = header[FLAGS_OFFSET];
        if flags & !(FLAG_MEAN_REMOVED | FLAG_ROTATED | FLAG_DITHERED) != 0 {
            return Err(Error::InvalidHeader {
                offset: FLAGS_OFFSET,
                value: flags,
            });
        }
        if let Some(offset) = RESERVED.clone().find(|&offset| header[offset] != 0) {
            return Err(Error::InvalidHeader {
                offset,
                value: header[offset],
            });
        }

        let vector_len = read_u32(header, 16) as usize;
        let vector_count = read_u32(header, 20) as usize;
        let rotation_seed = read_seed(header, 24, flags & FLAG_ROTATED != 0)?;
        let dither_seed = read_seed(header, 32, flags & FLAG_DITHERED != 0)?;

        let config = QuantizerConfig::new(preset)
            .with_mean_removal(flags & FLAG_MEAN_REMOVED != 0)
            .with_rotation_seed(rotation_seed)
            .with_dither_seed(dither_seed)
            .map_err(|_| Error::InvalidHeader {
                offset: FLAGS_OFFSET,
                value: flags,
            })?;
        let layout = Self::new(&config, vector_len, vector_count)?;
        layout.check_len(bytes.len())?;
        Ok(layout)
    }

    /// Writes the header into the first [`HEADER_LEN`] bytes of `out`.
    pub(crate) fn write_header(&self, out: &mut [u8; HEADER_LEN]) {
        let mut flags = 0;
        if self.remove_mean {
            flags |= FLAG_MEAN_REMOVED;
        }
        if self.rotation.seed().is_some() {
            flags |= FLAG_ROTATED;
        }
        if self.dither_seed.is_some() {
            flags |= FLAG_DITHERED;
        }

        out.fill(0);
        out[..4].copy_from_slice(&MAGIC);
        out[4..6].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        out[6..8].copy_from_slice(&self.preset.id().to_le_bytes());
        out[FLAGS_OFFSET] = flags;
        // The constructor checked that both sizes fit in u32.
        out[16..20].copy_from_slice(&(self.rotation.len() as u32).to_le_bytes());
        out[20..24].copy_from_slice(&(self.vector_count as u32).to_le_bytes());
        out[24..32].copy_from_slice(&self.rotation.seed().unwrap_or(0).to_le_bytes());
        out[32..40].copy_from_slice(&self.dither_seed.unwrap_or(0).to_le_bytes());
    }

    /// Returns the byte offset of the norm of vector `vector`.
    pub(crate) fn norm_offset(&self, vector: usize) -> usize {
        HEADER_LEN + NORM_BYTES * vector
    }

    /// Returns the byte offset of the mean of vector `vector`.
    pub(crate) fn mean_offset(&self, vector: usize) -> usize {
        self.means_offset + MEAN_BYTES * vector
    }

    /// Returns the number of groups of the padded vector.
    pub(crate) fn groups(&self) -> usize {
        self.rotation.coded_len() / GROUP_LEN
    }

    /// Checks that a buffer of `len` bytes has exactly the computed length.
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`] when it is shorter and
    /// [`Error::LengthMismatch`] when it is longer.
    pub(crate) fn check_len(&self, len: usize) -> Result<(), Error> {
        if len < self.total_len {
            Err(Error::BufferTooSmall {
                needed: self.total_len,
                actual: len,
            })
        } else if len > self.total_len {
            Err(Error::LengthMismatch {
                expected: self.total_len,
                actual: len,
            })
        } else {
            Ok(())
        }
    }
}

/// Returns the groups a preset writes for a vector of `groups` groups.
fn stored_groups(preset: &Preset, groups: usize) -> usize {
    match *preset.family() {
        Family::Shell { kept_quarters } => {
            // kept_quarters <= 4, so the product cannot overflow for any
            // group count that fits a u32 vector length.
            (groups * kept_quarters as usize).div_ceil(4)
        }
        _ => groups,
    }
}

fn read_u32(header: &[u8; HEADER_LEN], offset: usize) -> u32 {
    u32::from_le_bytes([
        header[offset],
        header[offset + 1],
        header[offset + 2],
        header[offset + 3],
    ])
}

/// Reads the seed at `offset`, which must be 0 when its flag is clear.
fn read_seed(
    header: &[u8; HEADER_LEN],
    offset: usize,
    present: bool,
) -> Result<Option<u64>, Error> {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&header[offset..offset + 8]);
    let seed = u64::from_le_bytes(bytes);
    match (present, seed) {
        (true, seed) => Ok(Some(seed)),
        (false, 0) => Ok(None),
        (false, _) => {
            let position = bytes.iter().position(|&byte| byte != 0).unwrap_or(0);
            Err(Error::InvalidHeader {
                offset: offset + position,
                value: bytes[position],
            })
        }
    }
}
