//! The GGML tensor types that the GGUF reader decodes, and their
//! dequantization to `f32`.
//!
//! Block layouts follow ggml's `ggml-common.h`: a `Q8_0` block is an `f16`
//! scale `d` and 32 `i8` values `q`, decoded as `d q`. A `Q4_1` block is an
//! `f16` scale `d`, an `f16` minimum `m` and 16 bytes of 4-bit values `q`,
//! decoded as `d q + m`. The low nibbles of the 16 bytes are elements 0 to 15
//! and the high nibbles elements 16 to 31.

use half::f16;

/// Values per `Q4_1` or `Q8_0` block.
const BLOCK_LEN: usize = 32;

/// A supported GGML tensor type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TensorType {
    F32,
    F16,
    Q4_1,
    Q8_0,
}

impl TensorType {
    /// Returns the type with GGML type id `id` (`enum ggml_type`), or `None`
    /// for a type this reader does not decode.
    pub fn from_id(id: u32) -> Option<Self> {
        match id {
            0 => Some(Self::F32),
            1 => Some(Self::F16),
            3 => Some(Self::Q4_1),
            8 => Some(Self::Q8_0),
            _ => None,
        }
    }

    /// Returns the number of values per block: 1 for the float types.
    pub fn block_len(self) -> usize {
        match self {
            Self::F32 | Self::F16 => 1,
            Self::Q4_1 | Self::Q8_0 => BLOCK_LEN,
        }
    }

    /// Returns the bytes per block.
    pub fn block_bytes(self) -> usize {
        match self {
            Self::F32 => 4,
            Self::F16 => 2,
            Self::Q4_1 => 4 + BLOCK_LEN / 2,
            Self::Q8_0 => 2 + BLOCK_LEN,
        }
    }

    /// Decodes `data`, a whole number of blocks, to `f32`.
    pub fn dequantize(self, data: &[u8]) -> Vec<f32> {
        let blocks = data.chunks_exact(self.block_bytes());
        let mut values = Vec::with_capacity(blocks.len() * self.block_len());
        for block in blocks {
            match self {
                Self::F32 => {
                    values.push(f32::from_le_bytes([block[0], block[1], block[2], block[3]]))
                }
                Self::F16 => values.push(read_f16(block, 0)),
                Self::Q4_1 => dequantize_q4_1(block, &mut values),
                Self::Q8_0 => dequantize_q8_0(block, &mut values),
            }
        }
        values
    }
}

fn read_f16(bytes: &[u8], offset: usize) -> f32 {
    f16::from_le_bytes([bytes[offset], bytes[offset + 1]]).to_f32()
}

fn dequantize_q4_1(block: &[u8], values: &mut Vec<f32>) {
    let scale = read_f16(block, 0);
    let minimum = read_f16(block, 2);
    let nibbles = &block[4..];
    values.extend(
        nibbles
            .iter()
            .map(|&byte| scale * f32::from(byte & 0x0f) + minimum),
    );
    values.extend(
        nibbles
            .iter()
            .map(|&byte| scale * f32::from(byte >> 4) + minimum),
    );
}

fn dequantize_q8_0(block: &[u8], values: &mut Vec<f32>) {
    let scale = read_f16(block, 0);
    values.extend(
        block[2..]
            .iter()
            .map(|&byte| scale * f32::from(i8::from_le_bytes([byte]))),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f16_bytes(value: f32) -> [u8; 2] {
        f16::from_f32(value).to_le_bytes()
    }

    #[test]
    fn q4_1_low_nibbles_first() {
        let mut block = Vec::new();
        block.extend(f16_bytes(0.5));
        block.extend(f16_bytes(-1.0));
        // Byte i contains element i in its low nibble and element i + 16 in its
        // high nibble.
        block.extend((0..16u8).map(|i| i | ((15 - i) << 4)));
        let values = TensorType::Q4_1.dequantize(&block);
        assert_eq!(values.len(), 32);
        for i in 0..16 {
            assert_eq!(values[i], 0.5 * i as f32 - 1.0, "element {i}");
            assert_eq!(
                values[i + 16],
                0.5 * (15 - i) as f32 - 1.0,
                "element {}",
                i + 16
            );
        }
    }

    #[test]
    fn q8_0_signed_values() {
        let mut block = Vec::new();
        block.extend(f16_bytes(0.25));
        block.extend((0..32i8).map(|i| (i - 16).to_le_bytes()[0]));
        let values = TensorType::Q8_0.dequantize(&block);
        let expected: Vec<f32> = (0..32).map(|i| 0.25 * (i - 16) as f32).collect();
        assert_eq!(values, expected);
    }

    #[test]
    fn float_types_decode_exactly() {
        let f32_bytes: Vec<u8> = [1.5f32, -2.25]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert_eq!(TensorType::F32.dequantize(&f32_bytes), [1.5, -2.25]);
        let f16_data: Vec<u8> = [0.75f32, -3.0].iter().flat_map(|&v| f16_bytes(v)).collect();
        assert_eq!(TensorType::F16.dequantize(&f16_data), [0.75, -3.0]);
    }

    #[test]
    fn type_ids_of_ggml() {
        assert_eq!(TensorType::from_id(0), Some(TensorType::F32));
        assert_eq!(TensorType::from_id(1), Some(TensorType::F16));
        assert_eq!(TensorType::from_id(3), Some(TensorType::Q4_1));
        assert_eq!(TensorType::from_id(8), Some(TensorType::Q8_0));
        assert_eq!(TensorType::from_id(2), None, "Q4_0 is not supported");
        assert_eq!(TensorType::Q4_1.block_bytes(), 20);
        assert_eq!(TensorType::Q8_0.block_bytes(), 34);
    }
}
