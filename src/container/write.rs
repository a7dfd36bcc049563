//! Writing a container (feature `alloc`).

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use super::entry::TensorKind;
use super::params::{block_len, write_block};
use super::{
    CONTAINER_MAGIC, CONTAINER_VERSION, ContainerProblem, FILE_HEADER_LEN, MAX_NAME_LEN, MAX_RANK,
    MAX_TENSORS, PAYLOAD_ALIGN, invalid,
};
use crate::Error;
use crate::quant::{Orientation, QuantizedMatrixRef, QuantizerConfig};

/// Bytes of a directory entry before its shape.
const ENTRY_FIXED_LEN: usize = 24;

/// Collects tensors and writes them as one container.
///
/// Errors of the `add` methods are [`Error::InvalidContainer`] at offset 0,
/// because the problem is in the call, not in a file.
#[derive(Clone, Debug, Default)]
pub struct ContainerWriter {
    tensors: Vec<PendingTensor>,
}

#[derive(Clone, Debug)]
struct PendingTensor {
    name: String,
    kind: TensorKind,
    shape: Vec<u64>,
    payload: Vec<u8>,
    quantization: Option<(Orientation, QuantizerConfig)>,
}

impl ContainerWriter {
    /// Creates an empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a quantized matrix. With [`Orientation::Rows`] its vectors are
    /// the rows of a `vector_count x vector_len` tensor, with
    /// [`Orientation::Columns`] the columns of a `vector_len x vector_count`
    /// tensor.
    ///
    /// # Errors
    ///
    /// [`ContainerProblem::BadName`] for an empty, overlong or repeated name.
    pub fn add_quantized(
        &mut self,
        name: &str,
        matrix: &QuantizedMatrixRef<'_>,
        orientation: Orientation,
    ) -> Result<(), Error> {
        self.check_name(name)?;
        let (len, count) = (matrix.vector_len() as u64, matrix.vector_count() as u64);
        let shape = match orientation {
            Orientation::Rows => vec![count, len],
            Orientation::Columns => vec![len, count],
        };
        self.tensors.push(PendingTensor {
            name: String::from(name),
            kind: TensorKind::Quantized,
            shape,
            payload: matrix.as_bytes().to_vec(),
            quantization: Some((orientation, matrix.config())),
        });
        Ok(())
    }

    /// Adds a raw tensor whose payload contains its values in row-major order.
    ///
    /// # Errors
    ///
    /// [`ContainerProblem::BadName`] for an empty, overlong or repeated name,
    /// [`ContainerProblem::UnknownKind`] for [`TensorKind::Quantized`],
    /// [`ContainerProblem::BadRank`] for a rank outside `1..=MAX_RANK`, and
    /// [`ContainerProblem::BadPayload`] when the payload length does not
    /// match the shape.
    pub fn add_raw(
        &mut self,
        name: &str,
        kind: TensorKind,
        shape: &[u64],
        payload: Vec<u8>,
    ) -> Result<(), Error> {
        self.check_name(name)?;
        let value_bytes = kind
            .value_bytes()
            .ok_or(invalid(0, ContainerProblem::UnknownKind(kind.code())))?;
        if !(1..=MAX_RANK).contains(&shape.len()) {
            return Err(invalid(0, ContainerProblem::BadRank(shape.len() as u8)));
        }
        let expected = shape
            .iter()
            .try_fold(value_bytes as u64, |total, &dim| total.checked_mul(dim));
        if expected != Some(payload.len() as u64) {
            return Err(invalid(0, ContainerProblem::BadPayload));
        }
        self.tensors.push(PendingTensor {
            name: String::from(name),
            kind,
            shape: shape.to_vec(),
            payload,
            quantization: None,
        });
        Ok(())
    }

    /// Returns the number of tensors added.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// Tells whether no tensor was added.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// Writes the container.
    ///
    /// # Errors
    ///
    /// [`ContainerProblem::TooManyTensors`] when more than [`MAX_TENSORS`]
    /// tensors were added.
    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        if self.tensors.len() > MAX_TENSORS {
            return Err(invalid(12, ContainerProblem::TooManyTensors));
        }
        // MAX_TENSORS fits a u32.
        let count = self.tensors.len() as u32;
        let directory_len: usize = self.tensors.iter().map(entry_len).sum();
        let directory_end = FILE_HEADER_LEN + directory_len;

        let mut offsets = Vec::with_capacity(self.tensors.len());
        let mut end = directory_end;
        for tensor in &self.tensors {
            let start = end.next_multiple_of(PAYLOAD_ALIGN);
            offsets.push(start);
            end = start + tensor.payload.len();
        }

        let mut bytes = vec![0u8; end];
        bytes[..8].copy_from_slice(&CONTAINER_MAGIC);
        bytes[8..10].copy_from_slice(&CONTAINER_VERSION.to_le_bytes());
        bytes[12..16].copy_from_slice(&count.to_le_bytes());
        bytes[16..24].copy_from_slice(&(directory_len as u64).to_le_bytes());
        bytes[24..32].copy_from_slice(&(end as u64).to_le_bytes());

        let mut cursor = FILE_HEADER_LEN;
        for (tensor, &offset) in self.tensors.iter().zip(&offsets) {
            cursor = write_entry(&mut bytes, cursor, tensor, offset);
            bytes[offset..offset + tensor.payload.len()].copy_from_slice(&tensor.payload);
        }
        Ok(bytes)
    }

    fn check_name(&self, name: &str) -> Result<(), Error> {
        let repeated = self.tensors.iter().any(|tensor| tensor.name == name);
        if name.is_empty() || name.len() > MAX_NAME_LEN || repeated {
            return Err(invalid(0, ContainerProblem::BadName));
        }
        Ok(())
    }
}

/// Returns the directory bytes of one entry, padded to a multiple of 8.
fn entry_len(tensor: &PendingTensor) -> usize {
    let params = tensor
        .quantization
        .map_or(0, |(_, config)| block_len(config.preset()));
    (ENTRY_FIXED_LEN + 8 * tensor.shape.len() + tensor.name.len() + params).next_multiple_of(8)
}

/// Writes the entry of `tensor` at `cursor` and returns the next cursor.
fn write_entry(bytes: &mut [u8], cursor: usize, tensor: &PendingTensor, offset: usize) -> usize {
    let next = cursor + entry_len(tensor);
    let entry = &mut bytes[cursor..next];
    // Names are at most MAX_NAME_LEN = 1024 bytes and ranks at most 8.
    entry[0..2].copy_from_slice(&(tensor.name.len() as u16).to_le_bytes());
    entry[2] = tensor.kind.code();
    entry[3] = tensor.shape.len() as u8;
    entry[8..16].copy_from_slice(&(offset as u64).to_le_bytes());
    entry[16..24].copy_from_slice(&(tensor.payload.len() as u64).to_le_bytes());

    let mut position = ENTRY_FIXED_LEN;
    for &dim in &tensor.shape {
        entry[position..position + 8].copy_from_slice(&dim.to_le_bytes());
        position += 8;
    }
    entry[position..position + tensor.name.len()].copy_from_slice(tensor.name.as_bytes());
    position += tensor.name.len();
    if let Some((orientation, config)) = &tensor.quantization {
        let len = block_len(config.preset());
        write_block(&mut entry[position..position + len], *orientation, config);
    }
    next
}
