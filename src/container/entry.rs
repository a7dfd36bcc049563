//! Zero-copy reading of a container.

use super::params::read_block;
use super::{
    CONTAINER_MAGIC, CONTAINER_VERSION, ContainerProblem, FILE_HEADER_LEN, MAX_NAME_LEN, MAX_RANK,
    MAX_TENSORS, PAYLOAD_ALIGN, QuantizedMatrixProblem, invalid,
};
use crate::Error;
use crate::quant::{Orientation, QuantizedMatrixRef, QuantizerConfig};

/// Bytes of a directory entry before its shape.
const ENTRY_FIXED_LEN: usize = 24;

/// The storage of a tensor's payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TensorKind {
    /// A quantized matrix in the layout of [`crate::quant`].
    Quantized,
    /// Raw little-endian `f32` values.
    F32,
    /// Raw little-endian IEEE half-precision values.
    F16,
    /// Raw little-endian bfloat16 values.
    Bf16,
}

impl TensorKind {
    fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Self::Quantized),
            1 => Some(Self::F32),
            2 => Some(Self::F16),
            3 => Some(Self::Bf16),
            _ => None,
        }
    }

    /// Returns the code stored in the directory.
    #[cfg(feature = "alloc")]
    pub(crate) fn code(self) -> u8 {
        match self {
            Self::Quantized => 0,
            Self::F32 => 1,
            Self::F16 => 2,
            Self::Bf16 => 3,
        }
    }

    /// Returns the bytes per value of a raw kind, `None` for quantized.
    pub fn value_bytes(self) -> Option<usize> {
        match self {
            Self::Quantized => None,
            Self::F32 => Some(4),
            Self::F16 | Self::Bf16 => Some(2),
        }
    }
}

/// One tensor of a container, borrowed from the file.
#[derive(Clone, Copy, Debug)]
pub struct TensorEntry<'a> {
    name: &'a str,
    kind: TensorKind,
    shape: [u64; MAX_RANK],
    rank: usize,
    payload: &'a [u8],
    quantization: Option<(Orientation, QuantizerConfig)>,
}

impl<'a> TensorEntry<'a> {
    /// Returns the name.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// Returns how the payload is stored.
    pub fn kind(&self) -> TensorKind {
        self.kind
    }

    /// Returns the shape, outermost dimension first.
    pub fn shape(&self) -> &[u64] {
        &self.shape[..self.rank]
    }

    /// Returns the payload bytes.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// Returns the orientation and setting of a quantized tensor.
    pub fn quantization(&self) -> Option<(Orientation, QuantizerConfig)> {
        self.quantization
    }

    /// Returns the view of a quantized tensor, `None` for a raw one.
    ///
    /// # Errors
    ///
    /// None in practice: [`Container::parse`] validated the payload. The
    /// result keeps the call panic-free.
    pub fn matrix(&self) -> Option<Result<QuantizedMatrixRef<'a>, Error>> {
        self.quantization
            .map(|_| QuantizedMatrixRef::from_bytes(self.payload))
    }
}

/// A validated container read in place.
#[derive(Clone, Copy, Debug)]
pub struct Container<'a> {
    bytes: &'a [u8],
    count: usize,
}

impl<'a> Container<'a> {
    /// Validates the whole file and returns a view over it.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidContainer`] with the offset and the problem, as the
    /// module documentation lists.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        let header = read_header(bytes)?;
        let directory_end = FILE_HEADER_LEN
            .checked_add(header.directory_len)
            .ok_or(invalid(16, ContainerProblem::Overflow))?;
        if directory_end > bytes.len() {
            return Err(invalid(16, ContainerProblem::Truncated));
        }

        // First the structure of every entry, so that a wrong directory
        // length is reported as such, then the payloads.
        let mut offset = FILE_HEADER_LEN;
        for index in 0..header.count {
            if offset >= directory_end {
                return Err(invalid(16, ContainerProblem::DirectoryLength));
            }
            let (entry, next) = read_entry(bytes, offset, bytes.len())?;
            // Iterating reads only the structure of each earlier entry. The
            // tensor count is capped, which bounds this quadratic check.
            let mut earlier = Tensors::new(bytes, index);
            if earlier.any(|other| other.name == entry.tensor.name) {
                let name_offset = offset + ENTRY_FIXED_LEN + 8 * entry.tensor.rank;
                return Err(invalid(name_offset, ContainerProblem::BadName));
            }
            offset = next;
        }
        if offset != directory_end {
            return Err(invalid(16, ContainerProblem::DirectoryLength));
        }

        let mut offset = FILE_HEADER_LEN;
        let mut payload_end = directory_end;
        for _ in 0..header.count {
            let (entry, next) = read_entry(bytes, offset, directory_end)?;
            check_payload_gap(bytes, payload_end, entry.payload_offset)?;
            check_payload_shape(&entry.tensor, offset)?;
            payload_end = entry.payload_offset + entry.tensor.payload.len();
            offset = next;
        }
        if payload_end != bytes.len() {
            return Err(invalid(payload_end, ContainerProblem::LengthMismatch));
        }
        Ok(Self {
            bytes,
            count: header.count,
        })
    }

    /// Returns the number of tensors.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Tells whether the container has no tensor.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Returns the tensors in directory order.
    pub fn tensors(&self) -> Tensors<'a> {
        Tensors::new(self.bytes, self.count)
    }

    /// Returns the tensor called `name`.
    pub fn get(&self, name: &str) -> Option<TensorEntry<'a>> {
        self.tensors().find(|tensor| tensor.name == name)
    }
}

/// The tensors of a container, in directory order.
#[derive(Clone, Debug)]
pub struct Tensors<'a> {
    bytes: &'a [u8],
    offset: usize,
    remaining: usize,
}

impl<'a> Tensors<'a> {
    fn new(bytes: &'a [u8], count: usize) -> Self {
        Self {
            bytes,
            offset: FILE_HEADER_LEN,
            remaining: count,
        }
    }
}

impl<'a> Iterator for Tensors<'a> {
    type Item = TensorEntry<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        // The entries were validated by `Container::parse`; a failure here
        // only ends the iteration.
        let (entry, next) = read_entry(self.bytes, self.offset, self.bytes.len()).ok()?;
        self.offset = next;
        self.remaining -= 1;
        Some(entry.tensor)
    }
}

struct FileHeader {
    count: usize,
    directory_len: usize,
}

fn read_header(bytes: &[u8]) -> Result<FileHeader, Error> {
    let header = bytes
        .get(..FILE_HEADER_LEN)
        .ok_or(invalid(0, ContainerProblem::Truncated))?;
    if header[..8] != CONTAINER_MAGIC {
        return Err(invalid(0, ContainerProblem::BadMagic));
    }
    let version = u16::from_le_bytes([header[8], header[9]]);
    if version != CONTAINER_VERSION {
        return Err(invalid(8, ContainerProblem::UnsupportedVersion(version)));
    }
    if header[10..12] != [0, 0] {
        return Err(invalid(10, ContainerProblem::NonZeroReserved));
    }

    let count = read_u32(header, 12) as usize;
    if count > MAX_TENSORS {
        return Err(invalid(12, ContainerProblem::TooManyTensors));
    }
    let directory_len = usize::try_from(read_u64(header, 16))
        .map_err(|_| invalid(16, ContainerProblem::Overflow))?;
    let file_len = read_u64(header, 24);
    if file_len != bytes.len() as u64 {
        return Err(invalid(24, ContainerProblem::LengthMismatch));
    }
    Ok(FileHeader {
        count,
        directory_len,
    })
}

struct ParsedEntry<'a> {
    tensor: TensorEntry<'a>,
    payload_offset: usize,
}

/// Reads and checks the structure of the entry at `offset`, which must end
/// by `limit`: every field but the contents of the payload. Returns it with
/// the offset of the next entry.
fn read_entry(
    bytes: &[u8],
    offset: usize,
    limit: usize,
) -> Result<(ParsedEntry<'_>, usize), Error> {
    let region = bytes.get(..limit).unwrap_or(bytes);
    let fixed = region
        .get(offset..offset.saturating_add(ENTRY_FIXED_LEN))
        .ok_or(invalid(offset, ContainerProblem::Truncated))?;

    let name_len = usize::from(u16::from_le_bytes([fixed[0], fixed[1]]));
    let kind = TensorKind::from_code(fixed[2])
        .ok_or(invalid(offset + 2, ContainerProblem::UnknownKind(fixed[2])))?;
    let rank = fixed[3];
    let rank_ok =
        (1..=MAX_RANK).contains(&usize::from(rank)) && (kind != TensorKind::Quantized || rank == 2);
    if !rank_ok {
        return Err(invalid(offset + 3, ContainerProblem::BadRank(rank)));
    }
    let rank = usize::from(rank);
    if fixed[4..8] != [0; 4] {
        return Err(invalid(offset + 4, ContainerProblem::NonZeroReserved));
    }
    let payload_offset = usize::try_from(read_u64(fixed, 8))
        .map_err(|_| invalid(offset + 8, ContainerProblem::Overflow))?;
    let payload_len = usize::try_from(read_u64(fixed, 16))
        .map_err(|_| invalid(offset + 16, ContainerProblem::Overflow))?;

    let mut cursor = offset + ENTRY_FIXED_LEN;
    let mut shape = [0u64; MAX_RANK];
    for dim in shape.iter_mut().take(rank) {
        let field = region
            .get(cursor..cursor + 8)
            .ok_or(invalid(cursor, ContainerProblem::Truncated))?;
        *dim = read_u64(field, 0);
        cursor += 8;
    }

    if name_len == 0 || name_len > MAX_NAME_LEN {
        return Err(invalid(offset, ContainerProblem::BadName));
    }
    let name_bytes = region
        .get(cursor..cursor + name_len)
        .ok_or(invalid(cursor, ContainerProblem::Truncated))?;
    let name =
        core::str::from_utf8(name_bytes).map_err(|_| invalid(cursor, ContainerProblem::BadName))?;
    cursor += name_len;

    let quantization = if kind == TensorKind::Quantized {
        let (orientation, config, len) = read_block(region, cursor)?;
        cursor += len;
        Some((orientation, config))
    } else {
        None
    };

    let next = cursor.next_multiple_of(8);
    let padding = region
        .get(cursor..next)
        .ok_or(invalid(cursor, ContainerProblem::Truncated))?;
    if padding.iter().any(|&byte| byte != 0) {
        return Err(invalid(cursor, ContainerProblem::NonZeroReserved));
    }

    let payload = payload_of(bytes, offset, payload_offset, payload_len)?;
    let tensor = TensorEntry {
        name,
        kind,
        shape,
        rank,
        payload,
        quantization,
    };
    Ok((
        ParsedEntry {
            tensor,
            payload_offset,
        },
        next,
    ))
}

/// Returns the payload of the entry at `entry_offset`, checked for alignment
/// and bounds.
fn payload_of(
    bytes: &[u8],
    entry_offset: usize,
    payload_offset: usize,
    payload_len: usize,
) -> Result<&[u8], Error> {
    let bad = invalid(entry_offset + 8, ContainerProblem::BadPayload);
    if payload_offset % PAYLOAD_ALIGN != 0 {
        return Err(bad);
    }
    let end = payload_offset
        .checked_add(payload_len)
        .ok_or(invalid(entry_offset + 16, ContainerProblem::Overflow))?;
    bytes.get(payload_offset..end).ok_or(bad)
}

/// Checks that the payload length matches the shape, and for a quantized
/// tensor that the payload is a valid matrix with the entry's parameters.
fn check_payload_shape(tensor: &TensorEntry<'_>, entry_offset: usize) -> Result<(), Error> {
    let bad = invalid(entry_offset + 16, ContainerProblem::BadPayload);
    let overflow = invalid(entry_offset + ENTRY_FIXED_LEN, ContainerProblem::Overflow);
    let mut values = 1u64;
    for &dim in tensor.shape() {
        values = values.checked_mul(dim).ok_or(overflow)?;
    }

    let Some((orientation, config)) = tensor.quantization else {
        let value_bytes = tensor.kind.value_bytes().unwrap_or(1) as u64;
        let expected = values.checked_mul(value_bytes).ok_or(overflow)?;
        return if expected == tensor.payload.len() as u64 {
            Ok(())
        } else {
            Err(bad)
        };
    };

    let matrix = QuantizedMatrixRef::from_bytes(tensor.payload).map_err(|error| {
        let problem = match error {
            Error::InvalidStoredNorm { .. } | Error::InvalidStoredMean { .. } => {
                QuantizedMatrixProblem::Values
            }
            _ => QuantizedMatrixProblem::Header,
        };
        invalid(entry_offset + 8, ContainerProblem::BadMatrix(problem))
    })?;
    let (rows, cols) = (tensor.shape[0], tensor.shape[1]);
    let (vector_count, vector_len) = match orientation {
        Orientation::Rows => (rows, cols),
        Orientation::Columns => (cols, rows),
    };
    let same_shape =
        matrix.vector_len() as u64 == vector_len && matrix.vector_count() as u64 == vector_count;
    if !same_shape || matrix.config() != config {
        return Err(invalid(entry_offset, ContainerProblem::ParameterMismatch));
    }
    Ok(())
}

/// Checks that the next payload starts at the first aligned offset after the
/// previous one (so payloads come in order, without overlap or unused
/// space) and that the padding between them is zero.
fn check_payload_gap(bytes: &[u8], previous_end: usize, next_offset: usize) -> Result<(), Error> {
    let gap = bytes
        .get(previous_end..next_offset)
        .ok_or(invalid(previous_end, ContainerProblem::BadPayload))?;
    if gap.len() >= PAYLOAD_ALIGN {
        return Err(invalid(previous_end, ContainerProblem::BadPayload));
    }
    if gap.iter().any(|&byte| byte != 0) {
        return Err(invalid(previous_end, ContainerProblem::NonZeroReserved));
    }
    Ok(())
}

fn read_u32(bytes: &[u8], offset: usize) -> u32 {
    let mut value = [0u8; 4];
    value.copy_from_slice(&bytes[offset..offset + 4]);
    u32::from_le_bytes(value)
}

fn read_u64(bytes: &[u8], offset: usize) -> u64 {
    let mut value = [0u8; 8];
    value.copy_from_slice(&bytes[offset..offset + 8]);
    u64::from_le_bytes(value)
}

/// Formats the name, kind and shape; the payload is left out.
#[cfg(feature = "defmt")]
impl defmt::Format for TensorEntry<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "TensorEntry {{ name: {=str}, kind: {}, shape: {} }}",
            self.name,
            self.kind,
            self.shape()
        );
    }
}

/// Formats the tensor count and the file length.
#[cfg(feature = "defmt")]
impl defmt::Format for Container<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "Container {{ tensors: {=usize}, bytes: {=usize} }}",
            self.count,
            self.bytes.len()
        );
    }
}

/// Formats the number of tensors left.
#[cfg(feature = "defmt")]
impl defmt::Format for Tensors<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "Tensors {{ remaining: {=usize} }}", self.remaining);
    }
}
