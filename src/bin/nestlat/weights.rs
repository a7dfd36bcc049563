//! Reading weight tensors from safetensors files.

use std::path::Path;

use safetensors::{Dtype, SafeTensors};

use super::Failure;

/// Reads a whole file, naming the path in the error.
pub fn read_file(path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path)
        .map_err(|error| Failure::Message(format!("reading {} failed: {error}", path.display())))
}

/// Parses a safetensors file, naming the path in the error.
pub fn parse_safetensors<'a>(bytes: &'a [u8], path: &Path) -> Result<SafeTensors<'a>, Failure> {
    SafeTensors::deserialize(bytes).map_err(|error| {
        Failure::Message(format!(
            "{} is not a valid safetensors file: {error}",
            path.display()
        ))
    })
}

/// Converts the data of an `f32`, `f16` or `bf16` tensor to `f32`; `None`
/// for other types.
pub fn to_f32(dtype: Dtype, data: &[u8]) -> Option<Vec<f32>> {
    match dtype {
        Dtype::F32 => Some(
            data.chunks_exact(4)
                .map(|bytes| f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
                .collect(),
        ),
        Dtype::F16 => Some(
            data.chunks_exact(2)
                .map(|bytes| half::f16::from_le_bytes([bytes[0], bytes[1]]).to_f32())
                .collect(),
        ),
        Dtype::BF16 => Some(
            data.chunks_exact(2)
                .map(|bytes| half::bf16::from_le_bytes([bytes[0], bytes[1]]).to_f32())
                .collect(),
        ),
        _ => None,
    }
}

/// Reads a file of little-endian `f32` values.
pub fn read_f32_file(path: &Path) -> Result<Vec<f32>, Failure> {
    let bytes = read_file(path)?;
    if bytes.len() % 4 != 0 {
        return Err(Failure::Message(format!(
            "{} has {} bytes, not a whole number of f32 values",
            path.display(),
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|chunk| f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]))
        .collect())
}
