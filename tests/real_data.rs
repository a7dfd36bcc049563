//! The E8 multi-scale codes on real weight matrices of all-MiniLM-L6-v2.
//!
//! Each row is divided by its RMS and cut into blocks of 8; every block is
//! coded on its own. The matrices are not rotated here, so the one with
//! extreme outliers (`output.dense`, excess kurtosis about 1600) shows what
//! the rotation of the matrix quantizer has to fix. Print the table with
//! `cargo test --release --features std --test real_data -- --nocapture`.

use nestlat::code::{MultiScaleCode, ScaleSelection, VoronoiCode};
use nestlat::lattice::E8;

struct Preset {
    name: &'static str,
    q: u32,
    scales: &'static [f32],
}

/// Scale sets for unit-variance input at 4.00, 3.00 and 2.00 stored bits per
/// entry, tuned for iid Gaussian input.
const PRESETS: [Preset; 3] = [
    Preset {
        name: "E8 q=13 k=5",
        q: 13,
        scales: &[0.240, 0.293, 0.340, 0.407, 0.578],
    },
    Preset {
        name: "E8 q=6 k=9",
        q: 6,
        scales: &[
            0.425, 0.504, 0.580, 0.654, 0.730, 0.815, 0.910, 1.046, 1.265,
        ],
    },
    Preset {
        name: "E8 q=3 k=9",
        q: 3,
        scales: &[
            0.755, 0.940, 1.114, 1.295, 1.474, 1.662, 1.893, 2.200, 2.768,
        ],
    },
];

fn load_matrix(name: &str) -> (Vec<f32>, usize) {
    let path = format!("{}/tests/data/{name}.f32", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|error| panic!("reading {path}: {error}"));
    let values: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|chunk| f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]))
        .collect();
    let columns = if name.contains("output_dense") {
        1536
    } else {
        384
    };
    (values, columns)
}

fn build_code(preset: &Preset) -> MultiScaleCode<E8, 8> {
    let code = VoronoiCode::<E8, 8>::new(preset.q)
        .unwrap()
        .with_deep_hole_shift();
    MultiScaleCode::new(code, preset.scales, ScaleSelection::LowestError).unwrap()
}

/// Returns the weight SQNR in dB of the matrix coded row by row.
fn weight_sqnr_db(values: &[f32], columns: usize, code: &MultiScaleCode<E8, 8>) -> f64 {
    let mut signal = 0.0f64;
    let mut noise = 0.0f64;
    for row in values.chunks_exact(columns) {
        let energy: f64 = row.iter().map(|&w| f64::from(w) * f64::from(w)).sum();
        let rms = (energy / columns as f64).sqrt() as f32;
        for (index, block) in row.chunks_exact(8).enumerate() {
            let normalized: [f32; 8] = core::array::from_fn(|i| block[i] / rms);
            let word = code.encode_word(&normalized, index as u64).unwrap();
            let decoded = code.decode_word(word, index as u64).unwrap();
            for (w, d) in block.iter().zip(decoded) {
                let error = f64::from(*w) - f64::from(d * rms);
                noise += error * error;
            }
        }
        signal += energy;
    }
    10.0 * (signal / noise).log10()
}

/// Measured with the command in the module docs on x86_64; the codes are
/// deterministic, so the tolerance only absorbs summation order.
const EXPECTED_SQNR_DB: [(&str, [f64; 3]); 2] = [
    ("minilm_l0_attention_self_query", [21.095, 15.444, 8.674]),
    ("minilm_l0_output_dense", [12.425, 11.146, 7.491]),
];

#[test]
fn minilm_weight_sqnr_matches_measurement() {
    println!(
        "{:<32} {:<12} {:>6} {:>10}",
        "matrix", "code", "bits", "SQNR dB"
    );
    let mut measured = Vec::new();
    for (name, expected) in EXPECTED_SQNR_DB {
        let (values, columns) = load_matrix(name);
        for (preset, expected_db) in PRESETS.iter().zip(expected) {
            let code = build_code(preset);
            let sqnr = weight_sqnr_db(&values, columns, &code);
            let bits = code.format().stored_bits_per_entry();
            println!("{name:<32} {:<12} {bits:>6.2} {sqnr:>10.3}", preset.name);
            measured.push((name, preset.name, sqnr, expected_db));
        }
    }
    for (name, preset, sqnr, expected_db) in measured {
        assert!(
            (sqnr - expected_db).abs() < 0.01,
            "{name} with {preset}: SQNR {sqnr:.3} dB, measured before {expected_db:.3} dB"
        );
    }
}
