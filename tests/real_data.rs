//! The matrix quantizer on real weights and activations of all-MiniLM-L6-v2.
//!
//! Each weight matrix `W` (`[out, in]`, `y = W x`) is quantized row by row,
//! and `Y = X W^T` is computed from the coded `W` and the real input
//! activations `X` in `f32`. Print the table, with the round-to-nearest
//! baselines of the data's sidecar files, with
//! `cargo test --release --features std --test real_data -- --nocapture`.

mod bundled;

use nestlat::product::{matmul_tn_f32, scratch_len};
use nestlat::quant::{Preset, QuantizedMatrix, QuantizerConfig, VectorSet};

struct Matrix {
    name: &'static str,
    rows: usize,
    cols: usize,
    tokens: usize,
}

const MATRICES: [Matrix; 2] = [
    Matrix {
        name: "minilm_l0_attention_self_query",
        rows: 384,
        cols: 384,
        tokens: 128,
    },
    Matrix {
        name: "minilm_l0_output_dense",
        rows: 384,
        cols: 1536,
        tokens: 128,
    },
];

/// Weight and output SQNR in dB per matrix and preset, measured with the
/// command in the module docs on x86_64. The codes and sums are
/// deterministic, so the tolerance only absorbs a change of summation order.
const EXPECTED: [(&str, &str, f64, f64); 10] = [
    ("minilm_l0_attention_self_query", "e8-4", 21.799, 22.825),
    ("minilm_l0_attention_self_query", "e8-3", 15.724, 16.842),
    ("minilm_l0_attention_self_query", "e8-2", 8.819, 9.879),
    ("minilm_l0_attention_self_query", "e8b-2", 10.277, 11.399),
    ("minilm_l0_attention_self_query", "lloyd-2", 9.333, 10.388),
    ("minilm_l0_output_dense", "e8-4", 22.017, 28.152),
    ("minilm_l0_output_dense", "e8-3", 15.790, 21.942),
    ("minilm_l0_output_dense", "e8-2", 8.836, 13.405),
    ("minilm_l0_output_dense", "e8b-2", 10.205, 14.316),
    ("minilm_l0_output_dense", "lloyd-2", 9.295, 13.420),
];

/// Reads a number from the sidecar JSON by its key.
fn sidecar_value(matrix: &str, key: &str) -> f64 {
    let path = format!("{}/tests/data/{matrix}.json", env!("CARGO_MANIFEST_DIR"));
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("reading {path}: {error}"));
    let quoted = format!("\"{key}\":");
    let start = text
        .find(&quoted)
        .unwrap_or_else(|| panic!("{key} missing in {path}"))
        + quoted.len();
    let rest = text[start..].trim_start();
    let end = rest.find([',', '\n', '}']).unwrap_or(rest.len());
    rest[..end]
        .trim()
        .parse()
        .unwrap_or_else(|error| panic!("{key} in {path}: {error}"))
}

fn sqnr_db(signal: f64, noise: f64) -> f64 {
    10.0 * (signal / noise).log10()
}

/// Returns the weight SQNR and the output SQNR of `Y = X W^T` in dB.
fn measure(
    matrix: &Matrix,
    weights: &[f32],
    inputs: &[f32],
    preset: &'static Preset,
) -> (f64, f64) {
    let config = QuantizerConfig::new(preset);
    let coded = QuantizedMatrix::quantize(
        &VectorSet::rows(weights, matrix.rows, matrix.cols).unwrap(),
        &config,
    )
    .unwrap();
    let view = coded.view();

    let mut weight_noise = 0.0f64;
    let mut decoded = vec![0.0f32; view.coded_len()];
    for row in 0..matrix.rows {
        view.dequantize(row, &mut decoded).unwrap();
        let original = &weights[row * matrix.cols..(row + 1) * matrix.cols];
        weight_noise += original
            .iter()
            .zip(&decoded)
            .map(|(&w, &w_hat)| (f64::from(w) - f64::from(w_hat)).powi(2))
            .sum::<f64>();
    }
    let weight_signal: f64 = weights.iter().map(|&w| f64::from(w).powi(2)).sum();

    // C = W X^T: entry (o, t) is output o of token t.
    let tokens = VectorSet::rows(inputs, matrix.tokens, matrix.cols).unwrap();
    let mut scratch = vec![0.0f32; scratch_len(view.coded_len(), matrix.tokens)];
    let mut estimate = vec![0.0f32; matrix.rows * matrix.tokens];
    matmul_tn_f32(&view, &tokens, &mut scratch, &mut estimate).unwrap();

    let mut output_signal = 0.0f64;
    let mut output_noise = 0.0f64;
    for o in 0..matrix.rows {
        let w_row = &weights[o * matrix.cols..(o + 1) * matrix.cols];
        for t in 0..matrix.tokens {
            let x_row = &inputs[t * matrix.cols..(t + 1) * matrix.cols];
            let exact: f64 = w_row
                .iter()
                .zip(x_row)
                .map(|(&w, &x)| f64::from(w) * f64::from(x))
                .sum();
            output_signal += exact * exact;
            output_noise += (exact - f64::from(estimate[o * matrix.tokens + t])).powi(2);
        }
    }
    (
        sqnr_db(weight_signal, weight_noise),
        sqnr_db(output_signal, output_noise),
    )
}

#[test]
fn minilm_output_sqnr_matches_measurement() {
    println!(
        "{:<32} {:<8} {:>6} {:>9} {:>9} {:>12} {:>12}",
        "matrix", "preset", "bits", "W SQNR", "Y SQNR", "RTN g128 W", "RTN g128 Y"
    );
    let mut measured = Vec::new();
    for matrix in &MATRICES {
        let weights = bundled::load_f32(&format!("{}.f32", matrix.name));
        let inputs = bundled::load_f32(&format!("{}_input.f32", matrix.name));
        assert_eq!(weights.len(), matrix.rows * matrix.cols);
        assert_eq!(inputs.len(), matrix.tokens * matrix.cols);

        for &(name, preset_name, expected_weight, expected_output) in
            EXPECTED.iter().filter(|entry| entry.0 == matrix.name)
        {
            let preset = Preset::by_name(preset_name).unwrap();
            let (weight_db, output_db) = measure(matrix, &weights, &inputs, preset);
            let bits = preset.nominal_bits() as u32;
            let rtn_weight = sidecar_value(name, &format!("rtn_asym_{bits}bit_g128_sqnr_db"));
            let rtn_output =
                sidecar_value(name, &format!("rtn_asym_{bits}bit_g128_output_sqnr_db"));
            println!(
                "{name:<32} {preset_name:<8} {bits:>6} {weight_db:>9.3} {output_db:>9.3} {rtn_weight:>12.3} {rtn_output:>12.3}"
            );
            measured.push((
                name,
                preset_name,
                weight_db,
                expected_weight,
                output_db,
                expected_output,
            ));
        }
    }

    for (name, preset, weight_db, expected_weight, output_db, expected_output) in measured {
        assert!(
            (weight_db - expected_weight).abs() < 0.01,
            "{name} with {preset}: weight SQNR {weight_db:.3} dB, measured before {expected_weight:.3} dB"
        );
        assert!(
            (output_db - expected_output).abs() < 0.01,
            "{name} with {preset}: output SQNR {output_db:.3} dB, measured before {expected_output:.3} dB"
        );
    }
}
