//! Weight and output SQNR of a quantized matrix, with the Gaussian bound and
//! a round-to-nearest baseline at the same stored rate.

use nestlat::product::{matmul_tn_f32, scratch_len};
use nestlat::quant::{QuantizedMatrixRef, VectorSet};
use nestlat::rng::SplitMix64;
use serde::Serialize;

use super::Failure;

/// Bits of the two `f16` values (scale and minimum) of a round-to-nearest
/// group.
const RTN_GROUP_OVERHEAD_BITS: f64 = 32.0;

/// Group sizes tried for the round-to-nearest baseline; the row length is
/// tried as well.
const RTN_GROUPS: [usize; 5] = [32, 64, 128, 256, 512];

/// Signal-to-noise ratio in dB of one SQNR per unit of stored rate for a
/// Gaussian source: `10 log10(4)`.
const DB_PER_BIT: f64 = 6.020_599_913_279_624;

/// The report for one weight matrix `W` (`rows x cols`, `y = W x`).
#[derive(Clone, Debug, Serialize)]
pub struct TensorReport {
    /// Tensor name.
    pub tensor: String,
    /// Preset name.
    pub preset: &'static str,
    /// Output features.
    pub rows: usize,
    /// Input features.
    pub cols: usize,
    /// Stored bits per weight of the quantized matrix, everything included.
    pub bits_stored: f64,
    /// `10 log10(||W||^2 / ||W - W_hat||^2)`.
    pub weight_sqnr_db: f64,
    /// The same for `Y = X W^T`.
    pub output_sqnr_db: f64,
    /// `"real"` or `"gaussian"`: where the rows of `X` come from.
    pub inputs: &'static str,
    /// The SQNR bound of a Gaussian source at `bits_stored`: 6.02 dB per bit.
    pub bound_sqnr_db: f64,
    /// Round-to-nearest baseline: bits per weight of its levels.
    pub rtn_bits: u32,
    /// Round-to-nearest baseline: weights per group sharing an `f16` scale
    /// and minimum.
    pub rtn_group: usize,
    /// Round-to-nearest baseline: stored bits per weight, overhead included.
    pub rtn_bits_stored: f64,
    /// Round-to-nearest baseline: weight SQNR in dB.
    pub rtn_weight_sqnr_db: f64,
    /// Round-to-nearest baseline: output SQNR in dB.
    pub rtn_output_sqnr_db: f64,
}

/// The rows of `X`: real activations, or Gaussian ones drawn from a seed.
pub struct Inputs {
    pub values: Vec<f32>,
    pub tokens: usize,
    pub kind: &'static str,
}

impl Inputs {
    /// Draws `tokens` Gaussian input rows of `cols` entries.
    pub fn gaussian(tokens: usize, cols: usize, seed: u64) -> Self {
        let mut rng = SplitMix64::new(seed);
        let values = (0..tokens * cols)
            .map(|_| rng.next_gaussian() as f32)
            .collect();
        Self {
            values,
            tokens,
            kind: "gaussian",
        }
    }
}

/// Evaluates the quantized `view` of `weights` on `inputs`.
pub fn evaluate(
    name: &str,
    weights: &[f32],
    view: &QuantizedMatrixRef<'_>,
    inputs: &Inputs,
) -> Result<TensorReport, Failure> {
    let (rows, cols) = (view.vector_count(), view.vector_len());
    let exact = dense_outputs(weights, rows, cols, inputs);

    let mut decoded = vec![0.0f32; view.coded_len()];
    let mut weight_noise = 0.0f64;
    for row in 0..rows {
        view.dequantize(row, &mut decoded)?;
        let original = &weights[row * cols..(row + 1) * cols];
        weight_noise += squared_distance(original, &decoded[..cols]);
    }
    let estimate = coded_outputs(view, inputs)?;
    let bits_stored = view.stored_bits_per_entry();
    let baseline = best_rtn(weights, cols, bits_stored);
    let rtn_weights = rtn_dequantize(weights, cols, baseline.bits, baseline.group);
    let rtn_outputs = dense_outputs(&rtn_weights, rows, cols, inputs);

    Ok(TensorReport {
        tensor: name.to_string(),
        preset: view.preset().name(),
        rows,
        cols,
        bits_stored,
        weight_sqnr_db: sqnr_db(energy(weights), weight_noise),
        output_sqnr_db: sqnr_db(energy_f64(&exact), distance_f64(&exact, &estimate)),
        inputs: inputs.kind,
        bound_sqnr_db: DB_PER_BIT * bits_stored,
        rtn_bits: baseline.bits,
        rtn_group: baseline.group,
        rtn_bits_stored: baseline.bits_stored,
        rtn_weight_sqnr_db: baseline.weight_sqnr_db,
        rtn_output_sqnr_db: sqnr_db(energy_f64(&exact), distance_exact(&exact, &rtn_outputs)),
    })
}

/// Returns `Y = X W^T` in `f64`, `rows x tokens` (entry `(o, t)` is output
/// `o` of token `t`).
fn dense_outputs(weights: &[f32], rows: usize, cols: usize, inputs: &Inputs) -> Vec<f64> {
    let mut outputs = vec![0.0f64; rows * inputs.tokens];
    for (o, w_row) in weights.chunks_exact(cols.max(1)).take(rows).enumerate() {
        for (t, x_row) in inputs.values.chunks_exact(cols.max(1)).enumerate() {
            outputs[o * inputs.tokens + t] = w_row
                .iter()
                .zip(x_row)
                .map(|(&w, &x)| f64::from(w) * f64::from(x))
                .sum();
        }
    }
    outputs
}

/// Returns `Y = X W^T` from the codes, in the layout of [`dense_outputs`].
fn coded_outputs(view: &QuantizedMatrixRef<'_>, inputs: &Inputs) -> Result<Vec<f32>, Failure> {
    let x = VectorSet::rows(&inputs.values, inputs.tokens, view.vector_len())?;
    let mut scratch = vec![0.0f32; scratch_len(view.coded_len(), inputs.tokens)];
    let mut outputs = vec![0.0f32; view.vector_count() * inputs.tokens];
    matmul_tn_f32(view, &x, &mut scratch, &mut outputs)?;
    Ok(outputs)
}

#[derive(Clone, Copy)]
struct Baseline {
    bits: u32,
    group: usize,
    bits_stored: f64,
    weight_sqnr_db: f64,
}

/// Returns the asymmetric round-to-nearest setting (1 to 8 bits, groups of
/// 32 to 512 weights or whole rows, `f16` scale and minimum per group) with
/// the best weight SQNR whose stored rate does not exceed `bits_stored`. When
/// none fits, the cheapest setting (1 bit, whole rows) is returned.
fn best_rtn(weights: &[f32], cols: usize, bits_stored: f64) -> Baseline {
    let signal = energy(weights);
    let mut groups: Vec<usize> = RTN_GROUPS.iter().copied().filter(|&g| g < cols).collect();
    groups.push(cols.max(1));

    let mut best: Option<Baseline> = None;
    let mut cheapest: Option<Baseline> = None;
    for bits in 1..=8u32 {
        for &group in &groups {
            let rate = f64::from(bits)
                + RTN_GROUP_OVERHEAD_BITS * groups_per_row(cols, group) as f64 / cols.max(1) as f64;
            let decoded = rtn_dequantize(weights, cols, bits, group);
            let candidate = Baseline {
                bits,
                group,
                bits_stored: rate,
                weight_sqnr_db: sqnr_db(signal, squared_distance(weights, &decoded)),
            };
            if cheapest.as_ref().is_none_or(|c| rate < c.bits_stored) {
                cheapest = Some(candidate);
            }
            let fits = rate <= bits_stored + 1e-9;
            if fits
                && best
                    .as_ref()
                    .is_none_or(|b| candidate.weight_sqnr_db > b.weight_sqnr_db)
            {
                best = Some(candidate);
            }
        }
    }
    best.or(cheapest).unwrap_or(Baseline {
        bits: 1,
        group: cols,
        bits_stored: 0.0,
        weight_sqnr_db: 0.0,
    })
}

fn groups_per_row(cols: usize, group: usize) -> usize {
    cols.div_ceil(group.max(1))
}

/// Rounds every group of `group` weights along each row to `2^bits` levels
/// between its minimum and maximum, and returns the decoded weights.
pub fn rtn_dequantize(weights: &[f32], cols: usize, bits: u32, group: usize) -> Vec<f32> {
    let levels = ((1u32 << bits) - 1) as f32;
    let mut decoded = Vec::with_capacity(weights.len());
    for row in weights.chunks_exact(cols.max(1)) {
        for chunk in row.chunks(group.max(1)) {
            let low = chunk.iter().copied().fold(f32::INFINITY, f32::min);
            let high = chunk.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            // The scale and the minimum are stored as f16 where they fit.
            let low = to_f16(low);
            let step = to_f16((high - low) / levels);
            for &value in chunk {
                let index = if step > 0.0 {
                    ((value - low) / step).round().clamp(0.0, levels)
                } else {
                    0.0
                };
                decoded.push(low + index * step);
            }
        }
    }
    decoded
}

/// Rounds to the nearest `f16` value, or keeps `value` beyond the `f16`
/// range.
fn to_f16(value: f32) -> f32 {
    let rounded = half::f16::from_f32(value).to_f32();
    if rounded.is_finite() { rounded } else { value }
}

fn energy(values: &[f32]) -> f64 {
    values.iter().map(|&value| f64::from(value).powi(2)).sum()
}

fn energy_f64(values: &[f64]) -> f64 {
    values.iter().map(|value| value * value).sum()
}

fn squared_distance(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum()
}

fn distance_f64(exact: &[f64], estimate: &[f32]) -> f64 {
    exact
        .iter()
        .zip(estimate)
        .map(|(&x, &y)| (x - f64::from(y)).powi(2))
        .sum()
}

fn distance_exact(exact: &[f64], other: &[f64]) -> f64 {
    exact.iter().zip(other).map(|(x, y)| (x - y).powi(2)).sum()
}

/// Returns `name` with control characters escaped, so that a name cannot
/// break the layout of a table.
pub fn printable(name: &str) -> String {
    if name.chars().any(char::is_control) {
        name.escape_debug().to_string()
    } else {
        name.to_string()
    }
}

/// Returns `10 log10(signal / noise)`; infinite for a noise of zero.
pub fn sqnr_db(signal: f64, noise: f64) -> f64 {
    10.0 * (signal / noise).log10()
}

/// Writes the reports as a table, or as one JSON object per line.
pub fn write_reports(
    out: &mut impl std::io::Write,
    reports: &[TensorReport],
    json: bool,
) -> Result<(), Failure> {
    if json {
        for report in reports {
            let line = serde_json::to_string(report)
                .map_err(|error| Failure::Message(error.to_string()))?;
            writeln!(out, "{line}")?;
        }
        return Ok(());
    }

    let names: Vec<String> = reports
        .iter()
        .map(|report| printable(&report.tensor))
        .collect();
    let width = names
        .iter()
        .map(|name| name.chars().count())
        .max()
        .unwrap_or(0)
        .max("tensor".len());
    writeln!(
        out,
        "{:<width$} {:<8} {:>6} {:<5} {:>8} {:>8} {:>8}   {:<13} {:>8} {:>8}",
        "tensor",
        "preset",
        "bits",
        "X",
        "W SQNR",
        "Y SQNR",
        "bound",
        "RTN (b, g)",
        "RTN W",
        "RTN Y"
    )?;
    for (report, name) in reports.iter().zip(&names) {
        let rtn = format!(
            "{}b g{} {:.2}",
            report.rtn_bits, report.rtn_group, report.rtn_bits_stored
        );
        writeln!(
            out,
            "{:<width$} {:<8} {:>6.3} {:<5} {:>8.2} {:>8.2} {:>8.2}   {:<13} {:>8.2} {:>8.2}",
            name,
            report.preset,
            report.bits_stored,
            if report.inputs == "real" {
                "real"
            } else {
                "gauss"
            },
            report.weight_sqnr_db,
            report.output_sqnr_db,
            report.bound_sqnr_db,
            rtn,
            report.rtn_weight_sqnr_db,
            report.rtn_output_sqnr_db
        )?;
    }
    writeln!(
        out,
        "SQNR in dB (inf: exact, NaN: all-zero tensor). X: real or Gaussian input \
         rows. bound: Gaussian source at the stored rate (6.02 dB per bit). RTN: \
         asymmetric round-to-nearest with b bits and f16 scale and minimum per group \
         of g weights, the best that fits the same stored rate."
    )?;
    Ok(())
}
