//! An owned quantized matrix (feature `alloc`).

use alloc::vec;
use alloc::vec::Vec;

use super::config::QuantizerConfig;
use super::encode::{quantize_into, quantize_scratch_len};
use super::layout::Layout;
use super::vectors::VectorSet;
use super::view::QuantizedMatrixRef;
use crate::Error;

/// A quantized matrix that owns its bytes.
#[derive(Clone, Debug)]
pub struct QuantizedMatrix {
    bytes: Vec<u8>,
    layout: Layout,
}

impl QuantizedMatrix {
    /// Quantizes every vector of `vectors` with `config`.
    ///
    /// # Errors
    ///
    /// As [`super::quantize_into`].
    pub fn quantize(vectors: &VectorSet<'_>, config: &QuantizerConfig) -> Result<Self, Error> {
        let layout = Layout::new(config, vectors.vector_len(), vectors.vector_count())?;
        let mut bytes = vec![0u8; layout.total_len];
        let mut scratch = vec![0.0f32; quantize_scratch_len(vectors.vector_len())];
        quantize_into(vectors, config, &mut bytes, &mut scratch)?;
        Ok(Self { bytes, layout })
    }

    /// Validates `bytes` as [`QuantizedMatrixRef::from_bytes`] does and takes
    /// ownership of them.
    ///
    /// # Errors
    ///
    /// As [`QuantizedMatrixRef::from_bytes`].
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, Error> {
        let layout = QuantizedMatrixRef::from_bytes(&bytes)?.layout().clone();
        Ok(Self { bytes, layout })
    }

    /// Returns a view for decoding and products.
    pub fn view(&self) -> QuantizedMatrixRef<'_> {
        QuantizedMatrixRef::from_trusted(&self.bytes, self.layout.clone())
    }

    /// Returns the stored bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Returns the stored bytes, consuming the matrix.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}
