//! A reader for GGUF files (versions 2 and 3) held in memory: header,
//! metadata, tensor infos and the tensor data section.
//!
//! The layout follows the GGUF specification of the ggml project
//! (`docs/gguf.md`). All integers are little-endian, and strings are a `u64`
//! length followed by UTF-8 bytes. The tensor data starts at the first
//! multiple of `general.alignment` (default 32) after the tensor infos.
//!
//! Every length, count and offset is checked against the file, so a
//! truncated or malformed file gives a [`GgufError`] that names the offset or
//! field.

use std::collections::HashSet;
use std::fmt;

use super::ggml::TensorType;

/// The magic number, the bytes `"GGUF"`.
pub const MAGIC: [u8; 4] = *b"GGUF";

/// Alignment of the tensor data when `general.alignment` is absent.
const DEFAULT_ALIGNMENT: u64 = 32;

/// Maximum number of dimensions of a tensor (`GGML_MAX_DIMS`).
const MAX_DIMS: u32 = 4;

/// Maximum nesting depth of metadata arrays. The specification allows arrays
/// of arrays, and the limit keeps a malformed file from exhausting the stack.
const MAX_ARRAY_DEPTH: usize = 8;

/// Metadata value type ids of the GGUF specification.
pub mod value_type {
    pub const U8: u32 = 0;
    pub const I8: u32 = 1;
    pub const U16: u32 = 2;
    pub const I16: u32 = 3;
    pub const U32: u32 = 4;
    pub const I32: u32 = 5;
    pub const F32: u32 = 6;
    pub const BOOL: u32 = 7;
    pub const STRING: u32 = 8;
    pub const ARRAY: u32 = 9;
    pub const U64: u32 = 10;
    pub const I64: u32 = 11;
    pub const F64: u32 = 12;
}

/// A metadata value. The contents of arrays are checked and skipped, because
/// the forward pass reads no array.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Any integer type, widened.
    Int(i128),
    /// `f32` or `f64`, widened.
    Float(f64),
    Bool(bool),
    /// A string. Invalid UTF-8 is replaced by U+FFFD.
    String(String),
    Array,
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Int(value) => write!(f, "the integer {value}"),
            Self::Float(value) => write!(f, "the float {value}"),
            Self::Bool(value) => write!(f, "the bool {value}"),
            Self::String(value) => write!(f, "the string {value:?}"),
            Self::Array => write!(f, "an array"),
        }
    }
}

/// A tensor info: name, dimensions (`ne[0]` first, the contiguous one), type
/// and the byte range of its data inside the data section.
#[derive(Clone, Debug)]
pub struct TensorInfo {
    pub name: String,
    pub dims: Vec<u64>,
    pub type_id: u32,
    /// Offset of the data from the start of the data section.
    pub offset: u64,
}

/// A parsed GGUF file that borrows the file's bytes.
pub struct Gguf<'a> {
    metadata: Vec<(String, Value)>,
    tensors: Vec<TensorInfo>,
    /// Offset of the data section from the start of the file.
    data_offset: usize,
    bytes: &'a [u8],
}

/// A malformed, truncated or unsupported GGUF file.
#[derive(Debug, PartialEq)]
pub enum GgufError {
    Truncated {
        field: String,
        offset: usize,
        needed: u64,
        file_len: usize,
    },
    BadMagic([u8; 4]),
    UnsupportedVersion(u32),
    InvalidUtf8 {
        field: String,
        offset: usize,
    },
    InvalidValueType {
        key: String,
        offset: usize,
        type_id: u32,
    },
    ArraysTooDeep {
        key: String,
        offset: usize,
    },
    DuplicateKey(String),
    DuplicateTensor(String),
    InvalidAlignment(Value),
    TooManyDims {
        tensor: String,
        dims: u32,
    },
    SizeOverflow {
        tensor: String,
    },
    RowNotWholeBlocks {
        tensor: String,
        row_len: u64,
        block_len: usize,
    },
    MisalignedOffset {
        tensor: String,
        offset: u64,
        alignment: u64,
    },
    OutOfBounds {
        tensor: String,
        start: u64,
        len: u64,
        data_len: usize,
    },
    UnsupportedType {
        tensor: String,
        type_id: u32,
    },
    TensorNotFound(String),
}

impl fmt::Display for GgufError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated {
                field,
                offset,
                needed,
                file_len,
            } => write!(
                f,
                "{field} at byte offset {offset} needs {needed} bytes, but the file ends at \
                 byte {file_len}; the file is truncated or corrupt, so download it again"
            ),
            Self::BadMagic(found) => write!(
                f,
                "the file starts with {found:02x?}, not the GGUF magic number \"GGUF\"; \
                 pass a GGUF model file"
            ),
            Self::UnsupportedVersion(version) => write!(
                f,
                "GGUF version {version} is not supported; convert the model to GGUF version \
                 2 or 3 with a current llama.cpp"
            ),
            Self::InvalidUtf8 { field, offset } => {
                write!(f, "{field} at byte offset {offset} is not valid UTF-8")
            }
            Self::InvalidValueType {
                key,
                offset,
                type_id,
            } => write!(
                f,
                "metadata key {key:?} has value type {type_id} at byte offset {offset}; \
                 valid types are 0 to 12"
            ),
            Self::ArraysTooDeep { key, offset } => write!(
                f,
                "metadata key {key:?} nests arrays deeper than {MAX_ARRAY_DEPTH} levels at \
                 byte offset {offset}"
            ),
            Self::DuplicateKey(key) => write!(f, "metadata key {key:?} appears twice"),
            Self::DuplicateTensor(name) => write!(f, "tensor {name:?} appears twice"),
            Self::InvalidAlignment(value) => write!(
                f,
                "general.alignment is {value}; it must be a u32 power of two"
            ),
            Self::TooManyDims { tensor, dims } => write!(
                f,
                "tensor {tensor:?} has {dims} dimensions; GGUF allows at most {MAX_DIMS}"
            ),
            Self::SizeOverflow { tensor } => {
                write!(f, "the byte size of tensor {tensor:?} overflows")
            }
            Self::RowNotWholeBlocks {
                tensor,
                row_len,
                block_len,
            } => write!(
                f,
                "tensor {tensor:?} has rows of {row_len} values, not a multiple of its \
                 block length {block_len}"
            ),
            Self::MisalignedOffset {
                tensor,
                offset,
                alignment,
            } => write!(
                f,
                "tensor {tensor:?} has data offset {offset}, not a multiple of the \
                 alignment {alignment}"
            ),
            Self::OutOfBounds {
                tensor,
                start,
                len,
                data_len,
            } => write!(
                f,
                "tensor {tensor:?} needs {len} bytes at data offset {start}, but the data \
                 section has {data_len} bytes; the file is truncated or corrupt"
            ),
            Self::UnsupportedType { tensor, type_id } => write!(
                f,
                "tensor {tensor:?} has GGML type id {type_id}; this reader supports F32 (0), \
                 F16 (1), Q4_1 (3) and Q8_0 (8)"
            ),
            Self::TensorNotFound(name) => write!(f, "tensor {name:?} not found"),
        }
    }
}

impl<'a> Gguf<'a> {
    /// Parses the header, metadata and tensor infos of `bytes`, and checks
    /// the data range of every tensor of a supported type.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, GgufError> {
        let mut cursor = Cursor { bytes, pos: 0 };
        let magic = cursor.take(4, || "magic number".to_string())?;
        if magic != MAGIC {
            return Err(GgufError::BadMagic([
                magic[0], magic[1], magic[2], magic[3],
            ]));
        }
        let version = cursor.u32(|| "version".to_string())?;
        if !(2..=3).contains(&version) {
            return Err(GgufError::UnsupportedVersion(version));
        }
        let tensor_count = cursor.u64(|| "tensor count".to_string())?;
        let metadata_count = cursor.u64(|| "metadata count".to_string())?;

        let metadata = read_metadata(&mut cursor, metadata_count)?;
        let tensors = read_tensor_infos(&mut cursor, tensor_count)?;
        let alignment = alignment(&metadata)?;
        let data_offset = align_up(cursor.pos as u64, alignment)
            .and_then(|offset| usize::try_from(offset).ok())
            .filter(|&offset| offset <= bytes.len())
            .ok_or_else(|| GgufError::Truncated {
                field: "padding before the tensor data".to_string(),
                offset: cursor.pos,
                needed: alignment,
                file_len: bytes.len(),
            })?;

        let gguf = Self {
            metadata,
            tensors,
            data_offset,
            bytes,
        };
        for tensor in &gguf.tensors {
            if tensor.offset % alignment != 0 {
                return Err(GgufError::MisalignedOffset {
                    tensor: tensor.name.clone(),
                    offset: tensor.offset,
                    alignment,
                });
            }
            if TensorType::from_id(tensor.type_id).is_some() {
                gguf.data(tensor)?;
            }
        }
        Ok(gguf)
    }

    /// Returns the value of metadata key `key`.
    pub fn value(&self, key: &str) -> Option<&Value> {
        self.metadata
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value)
    }

    /// Returns the tensor info called `name`.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|tensor| tensor.name == name)
    }

    /// Dequantizes tensor `name` to `f32`, in GGML order (`ne[0]` fastest).
    pub fn dequantize(&self, name: &str) -> Result<Vec<f32>, GgufError> {
        let tensor = self
            .tensor(name)
            .ok_or_else(|| GgufError::TensorNotFound(name.to_string()))?;
        let (tensor_type, data) = self.data(tensor)?;
        Ok(tensor_type.dequantize(data))
    }

    /// Returns the type and the data bytes of `tensor`, after checking that
    /// its rows are whole blocks and its data lies inside the file.
    fn data(&self, tensor: &TensorInfo) -> Result<(TensorType, &'a [u8]), GgufError> {
        let tensor_type =
            TensorType::from_id(tensor.type_id).ok_or_else(|| GgufError::UnsupportedType {
                tensor: tensor.name.clone(),
                type_id: tensor.type_id,
            })?;
        let row_len = tensor.dims.first().copied().unwrap_or(1);
        if row_len % tensor_type.block_len() as u64 != 0 {
            return Err(GgufError::RowNotWholeBlocks {
                tensor: tensor.name.clone(),
                row_len,
                block_len: tensor_type.block_len(),
            });
        }
        let overflow = || GgufError::SizeOverflow {
            tensor: tensor.name.clone(),
        };
        let elements = tensor
            .dims
            .iter()
            .try_fold(1u64, |product, &dim| product.checked_mul(dim))
            .ok_or_else(overflow)?;
        let len = (elements / tensor_type.block_len() as u64)
            .checked_mul(tensor_type.block_bytes() as u64)
            .ok_or_else(overflow)?;

        let section = &self.bytes[self.data_offset..];
        let out_of_bounds = || GgufError::OutOfBounds {
            tensor: tensor.name.clone(),
            start: tensor.offset,
            len,
            data_len: section.len(),
        };
        let end = tensor.offset.checked_add(len).ok_or_else(out_of_bounds)?;
        if end > section.len() as u64 {
            return Err(out_of_bounds());
        }
        // Both bounds are at most `section.len()`, so they fit in usize.
        Ok((tensor_type, &section[tensor.offset as usize..end as usize]))
    }
}

/// Returns `general.alignment`, or the default when the key is absent.
fn alignment(metadata: &[(String, Value)]) -> Result<u64, GgufError> {
    let Some((_, value)) = metadata.iter().find(|(key, _)| key == "general.alignment") else {
        return Ok(DEFAULT_ALIGNMENT);
    };
    match value {
        Value::Int(alignment)
            if *alignment > 0
                && *alignment <= i128::from(u32::MAX)
                && (*alignment as u64).is_power_of_two() =>
        {
            Ok(*alignment as u64)
        }
        other => Err(GgufError::InvalidAlignment(other.clone())),
    }
}

fn align_up(offset: u64, alignment: u64) -> Option<u64> {
    offset.checked_next_multiple_of(alignment)
}

fn read_metadata(cursor: &mut Cursor<'_>, count: u64) -> Result<Vec<(String, Value)>, GgufError> {
    let mut metadata = Vec::new();
    let mut keys = HashSet::new();
    for index in 0..count {
        let key = cursor.string(|| format!("key of metadata entry {index}"))?;
        let type_offset = cursor.pos;
        let type_id = cursor.u32(|| format!("value type of metadata key {key:?}"))?;
        let value = read_value(cursor, &key, type_id, type_offset, 0)?;
        if !keys.insert(key.clone()) {
            return Err(GgufError::DuplicateKey(key));
        }
        metadata.push((key, value));
    }
    Ok(metadata)
}

/// Reads one value of type `type_id`. Array contents are checked and
/// skipped: fixed-size elements at once, strings and nested arrays one by
/// one.
fn read_value(
    cursor: &mut Cursor<'_>,
    key: &str,
    type_id: u32,
    type_offset: usize,
    depth: usize,
) -> Result<Value, GgufError> {
    let field = || format!("value of metadata key {key:?}");
    let value = match type_id {
        value_type::STRING => Value::String(cursor.string_lossy(field)?),
        value_type::ARRAY => read_array(cursor, key, depth)?,
        value_type::BOOL => Value::Bool(cursor.take(1, field)?[0] != 0),
        value_type::F32 => Value::Float(f64::from(f32::from_le_bytes(cursor.array(field)?))),
        value_type::F64 => Value::Float(f64::from_le_bytes(cursor.array(field)?)),
        value_type::U8 => Value::Int(cursor.take(1, field)?[0].into()),
        value_type::I8 => Value::Int(i8::from_le_bytes(cursor.array(field)?).into()),
        value_type::U16 => Value::Int(u16::from_le_bytes(cursor.array(field)?).into()),
        value_type::I16 => Value::Int(i16::from_le_bytes(cursor.array(field)?).into()),
        value_type::U32 => Value::Int(u32::from_le_bytes(cursor.array(field)?).into()),
        value_type::I32 => Value::Int(i32::from_le_bytes(cursor.array(field)?).into()),
        value_type::U64 => Value::Int(u64::from_le_bytes(cursor.array(field)?).into()),
        value_type::I64 => Value::Int(i64::from_le_bytes(cursor.array(field)?).into()),
        _ => {
            return Err(GgufError::InvalidValueType {
                key: key.to_string(),
                offset: type_offset,
                type_id,
            });
        }
    };
    Ok(value)
}

fn read_array(cursor: &mut Cursor<'_>, key: &str, depth: usize) -> Result<Value, GgufError> {
    if depth >= MAX_ARRAY_DEPTH {
        return Err(GgufError::ArraysTooDeep {
            key: key.to_string(),
            offset: cursor.pos,
        });
    }
    let type_offset = cursor.pos;
    let element_type = cursor.u32(|| format!("element type of metadata array {key:?}"))?;
    if element_type > value_type::F64 {
        return Err(GgufError::InvalidValueType {
            key: key.to_string(),
            offset: type_offset,
            type_id: element_type,
        });
    }
    let len = cursor.u64(|| format!("length of metadata array {key:?}"))?;
    match fixed_size(element_type) {
        Some(size) => {
            let needed = len.checked_mul(size);
            cursor.skip(needed, || format!("elements of metadata array {key:?}"))?;
        }
        None => {
            for _ in 0..len {
                read_value(cursor, key, element_type, type_offset, depth + 1)?;
            }
        }
    }
    Ok(Value::Array)
}

/// Returns the byte size of a fixed-size value type, or `None` for strings
/// and arrays, which [`read_value`] reads one by one.
fn fixed_size(type_id: u32) -> Option<u64> {
    match type_id {
        value_type::U8 | value_type::I8 | value_type::BOOL => Some(1),
        value_type::U16 | value_type::I16 => Some(2),
        value_type::U32 | value_type::I32 | value_type::F32 => Some(4),
        value_type::U64 | value_type::I64 | value_type::F64 => Some(8),
        _ => None,
    }
}

fn read_tensor_infos(cursor: &mut Cursor<'_>, count: u64) -> Result<Vec<TensorInfo>, GgufError> {
    let mut tensors = Vec::new();
    let mut names = HashSet::new();
    for index in 0..count {
        let name = cursor.string(|| format!("name of tensor info {index}"))?;
        let dims_count = cursor.u32(|| format!("dimension count of tensor {name:?}"))?;
        if dims_count > MAX_DIMS {
            return Err(GgufError::TooManyDims {
                tensor: name,
                dims: dims_count,
            });
        }
        let dims = (0..dims_count)
            .map(|axis| cursor.u64(|| format!("dimension {axis} of tensor {name:?}")))
            .collect::<Result<Vec<u64>, GgufError>>()?;
        let type_id = cursor.u32(|| format!("type of tensor {name:?}"))?;
        let offset = cursor.u64(|| format!("data offset of tensor {name:?}"))?;
        if !names.insert(name.clone()) {
            return Err(GgufError::DuplicateTensor(name));
        }
        tensors.push(TensorInfo {
            name,
            dims,
            type_id,
            offset,
        });
    }
    Ok(tensors)
}

/// A read position in the file. Every read checks the remaining length and
/// names the field it reads in the error.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, len: u64, field: impl Fn() -> String) -> Result<&'a [u8], GgufError> {
        let remaining = (self.bytes.len() - self.pos) as u64;
        if len > remaining {
            return Err(GgufError::Truncated {
                field: field(),
                offset: self.pos,
                needed: len,
                file_len: self.bytes.len(),
            });
        }
        // `len` is at most the remaining length, so it fits in usize.
        let slice = &self.bytes[self.pos..self.pos + len as usize];
        self.pos += len as usize;
        Ok(slice)
    }

    /// Skips `len` bytes. A `len` of `None` is a length that overflowed `u64`.
    fn skip(&mut self, len: Option<u64>, field: impl Fn() -> String) -> Result<(), GgufError> {
        self.take(len.unwrap_or(u64::MAX), field).map(|_| ())
    }

    fn array<const N: usize>(&mut self, field: impl Fn() -> String) -> Result<[u8; N], GgufError> {
        let slice = self.take(N as u64, field)?;
        let mut array = [0u8; N];
        array.copy_from_slice(slice);
        Ok(array)
    }

    fn u32(&mut self, field: impl Fn() -> String) -> Result<u32, GgufError> {
        self.array(field).map(u32::from_le_bytes)
    }

    fn u64(&mut self, field: impl Fn() -> String) -> Result<u64, GgufError> {
        self.array(field).map(u64::from_le_bytes)
    }

    fn string_bytes(&mut self, field: &impl Fn() -> String) -> Result<&'a [u8], GgufError> {
        let len = self.u64(|| format!("length of {}", field()))?;
        self.take(len, field)
    }

    /// Reads a string that must be valid UTF-8: a key or a tensor name.
    fn string(&mut self, field: impl Fn() -> String) -> Result<String, GgufError> {
        let offset = self.pos;
        let bytes = self.string_bytes(&field)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| GgufError::InvalidUtf8 {
            field: field(),
            offset,
        })
    }

    fn string_lossy(&mut self, field: impl Fn() -> String) -> Result<String, GgufError> {
        let bytes = self.string_bytes(&field)?;
        Ok(String::from_utf8_lossy(bytes).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_gguf::{Builder, array, f32_bytes, push_string};
    use super::*;

    fn q8_0_block(scale: f32, values: [i8; 32]) -> Vec<u8> {
        let mut block = half::f16::from_f32(scale).to_le_bytes().to_vec();
        block.extend(values.map(|value| value.to_le_bytes()[0]));
        block
    }

    /// Returns a builder with every metadata value type and two tensors.
    fn sample() -> Builder {
        let mut strings = Vec::new();
        push_string(&mut strings, "a");
        push_string(&mut strings, "bc");
        let inner = array(value_type::U16, 2, &[1, 0, 2, 0]);
        let nested = array(value_type::ARRAY, 2, &[inner.clone(), inner].concat());
        let q8: [i8; 32] = core::array::from_fn(|i| i as i8 - 16);
        Builder::new()
            .raw("u8", value_type::U8, &[200])
            .raw("i8", value_type::I8, &(-5i8).to_le_bytes())
            .raw("u16", value_type::U16, &60_000u16.to_le_bytes())
            .raw("i16", value_type::I16, &(-30_000i16).to_le_bytes())
            .u32("u32", 4_000_000_000)
            .raw("i32", value_type::I32, &(-7i32).to_le_bytes())
            .raw("f32", value_type::F32, &1.5f32.to_le_bytes())
            .raw("bool", value_type::BOOL, &[1])
            .string("string", "llama")
            .raw(
                "u32s",
                value_type::ARRAY,
                &array(value_type::U32, 3, &[0; 12]),
            )
            .raw(
                "strings",
                value_type::ARRAY,
                &array(value_type::STRING, 2, &strings),
            )
            .raw("nested", value_type::ARRAY, &nested)
            .raw("u64", value_type::U64, &u64::MAX.to_le_bytes())
            .raw("i64", value_type::I64, &i64::MIN.to_le_bytes())
            .raw("f64", value_type::F64, &0.25f64.to_le_bytes())
            .tensor("norm", &[3], 0, &f32_bytes(&[1.0, -2.0, 0.5]))
            .tensor(
                "embd",
                &[32, 2],
                8,
                &[q8_0_block(0.5, q8), q8_0_block(-1.0, q8)].concat(),
            )
    }

    #[test]
    fn parse_every_value_type() {
        let bytes = sample().build();
        let gguf = Gguf::parse(&bytes).expect("valid file");
        let expected = [
            ("u8", Value::Int(200)),
            ("i8", Value::Int(-5)),
            ("u16", Value::Int(60_000)),
            ("i16", Value::Int(-30_000)),
            ("u32", Value::Int(4_000_000_000)),
            ("i32", Value::Int(-7)),
            ("f32", Value::Float(1.5)),
            ("bool", Value::Bool(true)),
            ("string", Value::String("llama".to_string())),
            ("u32s", Value::Array),
            ("strings", Value::Array),
            ("nested", Value::Array),
            ("u64", Value::Int(u64::MAX.into())),
            ("i64", Value::Int(i64::MIN.into())),
            ("f64", Value::Float(0.25)),
        ];
        for (key, value) in expected {
            assert_eq!(gguf.value(key), Some(&value), "value of {key}");
        }
        assert_eq!(gguf.value("missing"), None);
    }

    #[test]
    fn dequantize_f32_and_q8_0() {
        let bytes = sample().build();
        let gguf = Gguf::parse(&bytes).expect("valid file");
        assert_eq!(gguf.dequantize("norm").unwrap(), [1.0, -2.0, 0.5]);
        let embd = gguf.dequantize("embd").unwrap();
        assert_eq!(embd.len(), 64);
        assert_eq!(embd[0], -8.0, "0.5 * -16");
        assert_eq!(embd[31], 7.5, "0.5 * 15");
        assert_eq!(embd[32], 16.0, "-1 * -16");
        assert_eq!(gguf.tensor("embd").unwrap().dims, [32, 2]);
        assert_eq!(
            gguf.dequantize("absent"),
            Err(GgufError::TensorNotFound("absent".to_string()))
        );
    }

    #[test]
    fn version_2_accepted_others_rejected() {
        let mut builder = sample();
        builder.version = 2;
        assert!(Gguf::parse(&builder.build()).is_ok());
        for version in [1, 4] {
            builder.version = version;
            assert_eq!(
                Gguf::parse(&builder.build()).err(),
                Some(GgufError::UnsupportedVersion(version))
            );
        }
    }

    #[test]
    fn bad_magic_rejected() {
        let mut bytes = sample().build();
        bytes[..4].copy_from_slice(b"GGML");
        assert_eq!(
            Gguf::parse(&bytes).err(),
            Some(GgufError::BadMagic(*b"GGML"))
        );
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = sample().build();
        for len in 0..bytes.len() {
            assert!(
                Gguf::parse(&bytes[..len]).is_err(),
                "a file cut to {len} of {} bytes parsed",
                bytes.len()
            );
        }
    }

    #[test]
    fn truncation_names_field_and_offset() {
        let bytes = sample().build();
        let Err(error) = Gguf::parse(&bytes[..10]) else {
            panic!("a truncated header parsed");
        };
        assert_eq!(
            error,
            GgufError::Truncated {
                field: "tensor count".to_string(),
                offset: 8,
                needed: 8,
                file_len: 10,
            }
        );
        assert!(error.to_string().contains("byte offset 8"), "{error}");
    }

    #[test]
    fn tensor_past_end_rejected() {
        let bytes = sample().build();
        // Cutting the last data byte leaves the header intact.
        let error = Gguf::parse(&bytes[..bytes.len() - 1]).err();
        assert!(
            matches!(&error, Some(GgufError::OutOfBounds { tensor, .. }) if tensor == "embd"),
            "{error:?}"
        );
    }

    #[test]
    fn invalid_value_type_rejected() {
        let bytes = Builder::new().raw("bad", 13, &[0; 8]).build();
        let error = Gguf::parse(&bytes).err();
        assert_eq!(
            error,
            Some(GgufError::InvalidValueType {
                key: "bad".to_string(),
                offset: 24 + 8 + 3,
                type_id: 13,
            })
        );
        let bytes = Builder::new()
            .raw("bad", value_type::ARRAY, &array(99, 0, &[]))
            .build();
        assert!(matches!(
            Gguf::parse(&bytes).err(),
            Some(GgufError::InvalidValueType { type_id: 99, .. })
        ));
    }

    #[test]
    fn huge_array_length_is_truncation() {
        let bytes = Builder::new()
            .raw(
                "big",
                value_type::ARRAY,
                &array(value_type::U64, u64::MAX / 4, &[]),
            )
            .build();
        assert!(matches!(
            Gguf::parse(&bytes).err(),
            Some(GgufError::Truncated { .. })
        ));
        let bytes = Builder::new()
            .raw(
                "big",
                value_type::ARRAY,
                &array(value_type::STRING, u64::MAX, &[]),
            )
            .build();
        assert!(matches!(
            Gguf::parse(&bytes).err(),
            Some(GgufError::Truncated { .. })
        ));
    }

    #[test]
    fn deep_arrays_rejected() {
        let mut value = array(value_type::U8, 0, &[]);
        for _ in 0..MAX_ARRAY_DEPTH {
            value = array(value_type::ARRAY, 1, &value);
        }
        let bytes = Builder::new()
            .raw("deep", value_type::ARRAY, &value)
            .build();
        assert!(matches!(
            Gguf::parse(&bytes).err(),
            Some(GgufError::ArraysTooDeep { .. })
        ));
    }

    #[test]
    fn duplicates_rejected() {
        let bytes = Builder::new().u32("a", 1).u32("a", 2).build();
        assert_eq!(
            Gguf::parse(&bytes).err(),
            Some(GgufError::DuplicateKey("a".to_string()))
        );
        let data = f32_bytes(&[1.0]);
        let bytes = Builder::new()
            .tensor("t", &[1], 0, &data)
            .tensor("t", &[1], 0, &data)
            .build();
        assert_eq!(
            Gguf::parse(&bytes).err(),
            Some(GgufError::DuplicateTensor("t".to_string()))
        );
    }

    #[test]
    fn custom_alignment_respected() {
        let mut builder = Builder::new().u32("general.alignment", 64);
        builder.alignment = 64;
        let builder = builder.tensor("a", &[1], 0, &f32_bytes(&[3.0])).tensor(
            "b",
            &[2],
            0,
            &f32_bytes(&[4.0, 5.0]),
        );
        let bytes = builder.build();
        let gguf = Gguf::parse(&bytes).expect("valid file");
        assert_eq!(gguf.tensor("b").unwrap().offset, 64);
        assert_eq!(gguf.dequantize("b").unwrap(), [4.0, 5.0]);
    }

    #[test]
    fn invalid_alignment_rejected() {
        for value in [0, 3, 48] {
            let bytes = Builder::new().u32("general.alignment", value).build();
            assert_eq!(
                Gguf::parse(&bytes).err(),
                Some(GgufError::InvalidAlignment(Value::Int(value.into()))),
                "alignment {value}"
            );
        }
        let bytes = Builder::new().string("general.alignment", "32").build();
        assert!(matches!(
            Gguf::parse(&bytes).err(),
            Some(GgufError::InvalidAlignment(Value::String(_)))
        ));
    }

    #[test]
    fn misaligned_offset_rejected() {
        let bytes = Builder::new().tensor_info("t", &[1], 0, 4).build();
        assert_eq!(
            Gguf::parse(&bytes).err(),
            Some(GgufError::MisalignedOffset {
                tensor: "t".to_string(),
                offset: 4,
                alignment: 32,
            })
        );
    }

    #[test]
    fn unsupported_type_fails_on_read() {
        let bytes = Builder::new().tensor("q4_0", &[32], 2, &[0; 18]).build();
        let gguf = Gguf::parse(&bytes).expect("unknown types parse");
        let error = gguf.dequantize("q4_0").expect_err("Q4_0 is not supported");
        assert_eq!(
            error,
            GgufError::UnsupportedType {
                tensor: "q4_0".to_string(),
                type_id: 2,
            }
        );
        assert!(error.to_string().contains("Q4_1 (3)"), "{error}");
    }

    #[test]
    fn malformed_shapes_rejected() {
        let bytes = Builder::new().tensor("q", &[16], 3, &[0; 20]).build();
        assert!(matches!(
            Gguf::parse(&bytes).err(),
            Some(GgufError::RowNotWholeBlocks {
                row_len: 16,
                block_len: 32,
                ..
            })
        ));
        let bytes = Builder::new()
            .tensor_info("t", &[1, 1, 1, 1, 1], 0, 0)
            .build();
        assert!(matches!(
            Gguf::parse(&bytes).err(),
            Some(GgufError::TooManyDims { dims: 5, .. })
        ));
        let bytes = Builder::new()
            .tensor_info("t", &[u64::MAX, 2], 0, 0)
            .build();
        assert!(matches!(
            Gguf::parse(&bytes).err(),
            Some(GgufError::SizeOverflow { .. })
        ));
    }

    #[test]
    fn invalid_utf8_name_rejected() {
        let mut bytes = Builder::new().u32("ab", 1).build();
        // The key starts after the 24-byte header and its 8-byte length.
        bytes[32] = 0xff;
        assert_eq!(
            Gguf::parse(&bytes).err(),
            Some(GgufError::InvalidUtf8 {
                field: "key of metadata entry 0".to_string(),
                offset: 24,
            })
        );
    }
}
