//! The codings of a setting: nestlat presets or per-row round-to-nearest for
//! the linear weights, and E8 presets for their input activations.
//!
//! Both code a matrix row by row and use the reconstruction in a plain `f32`
//! product. Each row is coded on its own, so the rows are split into chunks
//! of [`CHUNK_ROWS`] that rayon codes in parallel, and the result is the same
//! as coding the whole matrix at once.
//!
//! With coded activations the product `x_hat . w_hat` of the two
//! reconstructions equals the product that `nestlat::product` computes from
//! the codes of both, up to the mean term and `f32` rounding. With `mu` the
//! stored means and `r` the decoded residuals rotated back, for vectors of
//! `n` entries with `n` a multiple of 8 (no padding):
//!
//! ```text
//! x_hat . w_hat = r_x . r_w + mu_x sum(r_w) + mu_w sum(r_x) + n mu_x mu_w
//! coded product = r_x . r_w + n mu_x mu_w
//! ```
//!
//! The coded product leaves out the two middle terms, which are zero only if
//! the decoded residuals still sum to zero like the residuals before coding.
//! With two activation stages, `x_hat` is the sum of the two stage
//! reconstructions and the same is true for the product of each stage.

use nestlat::quant::{
    Family, LatticeKind, Preset, QuantizedMatrix, QuantizerConfig, VectorSet, quantized_len,
};
use rayon::prelude::*;

use super::model::{LINEAR_NAMES, Linears, Matrix};
use crate::Failure;
use crate::evaluate::rtn_dequantize;

/// Rows per parallel coding task.
const CHUNK_ROWS: usize = 64;

/// Bits of the `f16` scale and minimum stored per row by round-to-nearest.
const RTN_ROW_OVERHEAD_BITS: f64 = 32.0;

/// Prefix of the per-row round-to-nearest settings in `--presets`.
pub const RTN_PREFIX: &str = "rtn-row-";

/// A coding of the linear weights.
#[derive(Clone, Copy)]
pub enum WeightCoding {
    /// A nestlat preset with the default settings of [`QuantizerConfig::new`].
    Preset(&'static Preset),
    /// Asymmetric round-to-nearest with `bits` bits and one `f16` scale and
    /// minimum per row.
    RowRtn(u32),
}

impl WeightCoding {
    /// Parses a preset name, or `rtn-row-B` with `B` from 1 to 8.
    pub fn parse(name: &str) -> Option<Self> {
        if let Some(bits) = name.strip_prefix(RTN_PREFIX) {
            return bits
                .parse()
                .ok()
                .filter(|bits| (1..=8).contains(bits))
                .map(Self::RowRtn);
        }
        Preset::by_name(name).map(Self::Preset)
    }

    pub fn name(&self) -> String {
        match self {
            Self::Preset(preset) => preset.name().to_string(),
            Self::RowRtn(bits) => format!("{RTN_PREFIX}{bits}"),
        }
    }

    /// Codes every linear weight and returns the reconstructions and the
    /// stored bits per weight over all of them.
    ///
    /// The stored size of a preset is that of each whole matrix quantized
    /// at once (header, norms, means and code words), as a `.nlat`
    /// container stores it.
    pub fn code(&self, linears: &[Linears]) -> Result<(Vec<Linears>, f64), Failure> {
        let mut coded = Vec::with_capacity(linears.len());
        let mut stored_bits = 0.0f64;
        let mut entries = 0usize;
        for (block, weights) in linears.iter().enumerate() {
            let mut matrices = Vec::with_capacity(LINEAR_NAMES.len());
            for (matrix, name) in weights.matrices.iter().zip(LINEAR_NAMES) {
                let failure = |error: nestlat::Error| {
                    Failure::Message(format!(
                        "coding blk.{block}.{name}.weight with {} failed: {error}",
                        self.name()
                    ))
                };
                stored_bits += self.stored_bits(matrix).map_err(failure)?;
                entries += matrix.data.len();
                matrices.push(Matrix {
                    data: self.reconstruct(matrix).map_err(failure)?,
                    rows: matrix.rows,
                    cols: matrix.cols,
                });
            }
            let matrices = matrices
                .try_into()
                .unwrap_or_else(|_| unreachable!("LINEAR_NAMES has seven names"));
            coded.push(Linears { matrices });
        }
        Ok((coded, stored_bits / entries.max(1) as f64))
    }

    fn stored_bits(&self, matrix: &Matrix) -> Result<f64, nestlat::Error> {
        match self {
            Self::Preset(preset) => {
                let config = QuantizerConfig::new(preset);
                Ok(quantized_len(&config, matrix.cols, matrix.rows)? as f64 * 8.0)
            }
            Self::RowRtn(bits) => Ok(matrix.rows as f64
                * (f64::from(*bits) * matrix.cols as f64 + RTN_ROW_OVERHEAD_BITS)),
        }
    }

    fn reconstruct(&self, matrix: &Matrix) -> Result<Vec<f32>, nestlat::Error> {
        match self {
            Self::Preset(preset) => {
                code_rows(&matrix.data, matrix.cols, &QuantizerConfig::new(preset))
            }
            Self::RowRtn(bits) => Ok(rtn_dequantize(
                &matrix.data,
                matrix.cols,
                *bits,
                matrix.cols,
            )),
        }
    }
}

/// The coding of linear-layer inputs: one E8 preset, or two when no E8
/// preset has the requested rate.
pub struct ActivationCoding {
    bits: u32,
    stages: Vec<&'static Preset>,
}

impl ActivationCoding {
    /// Returns the coding for `bits` per entry: the E8 Voronoi preset of that
    /// rate, or else two stages of the E8 preset of half the rate, where the
    /// second stage codes the residual of the first.
    ///
    /// NOTE: no preset has more than 4 bits, so 6 and 8 bits use two stages
    /// (`e8-3+e8-3`, `e8-4+e8-4`), each with its own norm and mean.
    ///
    /// NOTE: some SmolLM2 activation rows put over 10% of their energy into
    /// one group of 8 after the rotation. Every scale of `e8-4` overloads
    /// there, the group decodes to an unrelated point, and a second stage
    /// with the same rotation cannot repair it. Such rows dominate the error
    /// of coded activations, and a relative change of 1e-7 in the RMSNorm
    /// outputs moved the `e8-4` activation perplexity by 3.6%.
    pub fn for_bits(bits: u32) -> Result<Self, Failure> {
        let stages = match (e8_preset(bits), e8_preset(bits / 2)) {
            (Some(preset), _) => vec![preset],
            (None, Some(half)) if bits % 2 == 0 => vec![half, half],
            _ => {
                return Err(Failure::Message(format!(
                    "--activation-bits {bits} is not available; use 2, 3 or 4 (one E8 preset) \
                     or 6 or 8 (two E8 stages)"
                )));
            }
        };
        Ok(Self { bits, stages })
    }

    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// Returns the preset names joined by `+`, such as `e8-4+e8-4`.
    pub fn name(&self) -> String {
        let names: Vec<&str> = self.stages.iter().map(|preset| preset.name()).collect();
        names.join("+")
    }

    /// Returns the reconstruction of `x`, coded row by row with rows of
    /// `cols` entries and the rotation seed of the weights.
    pub fn reconstruct(&self, x: &[f32], cols: usize) -> Result<Vec<f32>, nestlat::Error> {
        let mut reconstruction = vec![0.0f32; x.len()];
        let mut residual = x.to_vec();
        for preset in &self.stages {
            let decoded = code_rows(&residual, cols, &QuantizerConfig::new(preset))?;
            for ((sum, rest), value) in reconstruction.iter_mut().zip(&mut residual).zip(decoded) {
                *sum += value;
                *rest -= value;
            }
        }
        Ok(reconstruction)
    }
}

/// Returns the E8 Voronoi preset of `bits` bits per entry.
fn e8_preset(bits: u32) -> Option<&'static Preset> {
    Preset::all().iter().find(|preset| {
        matches!(
            preset.family(),
            Family::Voronoi {
                lattice: LatticeKind::E8,
                ..
            }
        ) && preset.nominal_bits() == bits as f32
    })
}

/// Quantizes the rows of `values` (rows of `cols` entries) with `config`
/// and returns their reconstructions.
fn code_rows(
    values: &[f32],
    cols: usize,
    config: &QuantizerConfig,
) -> Result<Vec<f32>, nestlat::Error> {
    let chunks: Vec<Vec<f32>> = values
        .par_chunks(CHUNK_ROWS * cols)
        .map(|chunk| code_chunk(chunk, cols, config))
        .collect::<Result<_, _>>()?;
    Ok(chunks.concat())
}

fn code_chunk(
    chunk: &[f32],
    cols: usize,
    config: &QuantizerConfig,
) -> Result<Vec<f32>, nestlat::Error> {
    let rows = chunk.len() / cols;
    let matrix = QuantizedMatrix::quantize(&VectorSet::rows(chunk, rows, cols)?, config)?;
    let view = matrix.view();
    let mut padded = vec![0.0f32; view.coded_len()];
    let mut out = Vec::with_capacity(chunk.len());
    for row in 0..rows {
        view.dequantize(row, &mut padded)?;
        out.extend_from_slice(&padded[..cols]);
    }
    Ok(out)
}
