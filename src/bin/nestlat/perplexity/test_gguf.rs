//! A writer of small GGUF files for the unit tests of the reader and the
//! model loader.

use super::gguf::{MAGIC, value_type};

/// Builds GGUF files for the tests.
pub struct Builder {
    pub version: u32,
    metadata: Vec<u8>,
    metadata_count: u64,
    infos: Vec<u8>,
    tensor_count: u64,
    data: Vec<u8>,
    pub alignment: usize,
}

pub fn push_string(out: &mut Vec<u8>, value: &str) {
    out.extend((value.len() as u64).to_le_bytes());
    out.extend(value.as_bytes());
}

impl Builder {
    pub fn new() -> Self {
        Self {
            version: 3,
            metadata: Vec::new(),
            metadata_count: 0,
            infos: Vec::new(),
            tensor_count: 0,
            data: Vec::new(),
            alignment: 32,
        }
    }

    /// Adds a key with a value type id and the raw value bytes.
    pub fn raw(mut self, key: &str, type_id: u32, value: &[u8]) -> Self {
        push_string(&mut self.metadata, key);
        self.metadata.extend(type_id.to_le_bytes());
        self.metadata.extend(value);
        self.metadata_count += 1;
        self
    }

    pub fn string(self, key: &str, value: &str) -> Self {
        let mut bytes = Vec::new();
        push_string(&mut bytes, value);
        self.raw(key, value_type::STRING, &bytes)
    }

    pub fn u32(self, key: &str, value: u32) -> Self {
        self.raw(key, value_type::U32, &value.to_le_bytes())
    }

    /// Adds a tensor at the next aligned offset of the data section.
    pub fn tensor(mut self, name: &str, dims: &[u64], type_id: u32, data: &[u8]) -> Self {
        let offset = self.data.len().next_multiple_of(self.alignment);
        self.data.resize(offset, 0);
        self.data.extend(data);
        self.tensor_info(name, dims, type_id, offset as u64)
    }

    pub fn tensor_info(mut self, name: &str, dims: &[u64], type_id: u32, offset: u64) -> Self {
        push_string(&mut self.infos, name);
        self.infos.extend((dims.len() as u32).to_le_bytes());
        for dim in dims {
            self.infos.extend(dim.to_le_bytes());
        }
        self.infos.extend(type_id.to_le_bytes());
        self.infos.extend(offset.to_le_bytes());
        self.tensor_count += 1;
        self
    }

    pub fn build(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend(MAGIC);
        out.extend(self.version.to_le_bytes());
        out.extend(self.tensor_count.to_le_bytes());
        out.extend(self.metadata_count.to_le_bytes());
        out.extend(&self.metadata);
        out.extend(&self.infos);
        out.resize(out.len().next_multiple_of(self.alignment), 0);
        out.extend(&self.data);
        out
    }
}

pub fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values
        .iter()
        .flat_map(|value| value.to_le_bytes())
        .collect()
}

/// Returns the bytes of an array value: element type, length and the
/// element bytes.
pub fn array(element_type: u32, len: u64, elements: &[u8]) -> Vec<u8> {
    let mut bytes = element_type.to_le_bytes().to_vec();
    bytes.extend(len.to_le_bytes());
    bytes.extend(elements);
    bytes
}
