//! The host workflow of the `nestlat` tool on a small safetensors file:
//! quantize, inspect, eval, and the bundled demo. Needs the binary, so it
//! builds only with `--features cli`.
#![cfg(feature = "cli")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use nestlat::container::{Container, TensorKind};
use nestlat::rng::SplitMix64;
use safetensors::tensor::TensorView;
use safetensors::{Dtype, serialize};

fn nestlat(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nestlat"))
        .args(args)
        .output()
        .expect("the nestlat binary runs")
}

fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nestlat-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn gaussian_bytes(count: usize, seed: u64) -> Vec<u8> {
    let mut rng = SplitMix64::new(seed);
    (0..count)
        .flat_map(|_| (rng.next_gaussian() as f32).to_le_bytes())
        .collect()
}

/// Writes a model with a 2-D f32 weight, a 1-D bias, a 2-D bf16 weight and
/// an integer tensor.
fn write_model(dir: &Path) -> PathBuf {
    let weight = gaussian_bytes(16 * 40, 1);
    let bias = gaussian_bytes(16, 2);
    let embedding: Vec<u8> = gaussian_bytes(8 * 24, 3)
        .chunks_exact(4)
        .flat_map(|bytes| {
            let value = f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
            half::bf16::from_f32(value).to_le_bytes()
        })
        .collect();
    let ids: Vec<u8> = (0i64..4).flat_map(i64::to_le_bytes).collect();

    let tensors = [
        (
            "layer.weight",
            TensorView::new(Dtype::F32, vec![16, 40], &weight).unwrap(),
        ),
        (
            "layer.bias",
            TensorView::new(Dtype::F32, vec![16], &bias).unwrap(),
        ),
        (
            "embed.weight",
            TensorView::new(Dtype::BF16, vec![8, 24], &embedding).unwrap(),
        ),
        (
            "position_ids",
            TensorView::new(Dtype::I64, vec![4], &ids).unwrap(),
        ),
    ];
    let bytes = serialize(tensors, None).unwrap();
    let path = dir.join("model.safetensors");
    std::fs::write(&path, bytes).unwrap();
    path
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn quantize_inspect_eval_round_trip() {
    let dir = temp_dir("round-trip");
    let model = write_model(&dir);
    let output = dir.join("model.nlat");
    let (model_arg, output_arg) = (model.to_str().unwrap(), output.to_str().unwrap());

    let summary = stdout(&nestlat(&[
        "quantize", model_arg, "-o", output_arg, "--preset", "e8-3",
    ]));
    assert!(
        summary.contains("quantized 2 tensors"),
        "summary: {summary}"
    );
    assert!(summary.contains("stored 1 tensors"), "summary: {summary}");
    assert!(summary.contains("skipped 1"), "summary: {summary}");

    let bytes = std::fs::read(&output).unwrap();
    let container = Container::parse(&bytes).unwrap();
    assert_eq!(container.len(), 3);
    assert_eq!(
        container.get("layer.weight").unwrap().kind(),
        TensorKind::Quantized
    );
    assert_eq!(container.get("embed.weight").unwrap().shape(), [8, 24]);
    assert_eq!(container.get("layer.bias").unwrap().kind(), TensorKind::F32);
    assert!(container.get("position_ids").is_none());

    let listing = stdout(&nestlat(&["inspect", output_arg]));
    for name in ["layer.weight", "layer.bias", "embed.weight"] {
        assert!(listing.contains(name), "inspect lists {name}: {listing}");
    }

    let reports = stdout(&nestlat(&[
        "eval",
        output_arg,
        "--reference",
        model_arg,
        "--json",
    ]));
    let reports: Vec<serde_json::Value> = reports
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(reports.len(), 2);
    for report in &reports {
        assert_eq!(report["preset"], "e8-3");
        let sqnr = report["weight_sqnr_db"].as_f64().unwrap();
        // 3-bit E8 codes on Gaussian rows give about 15 dB.
        assert!(sqnr > 10.0, "weight SQNR {sqnr} in {report}");
        assert!(sqnr < 25.0, "weight SQNR {sqnr} in {report}");
        assert!(report["output_sqnr_db"].as_f64().unwrap() > 10.0);
    }
}

#[test]
fn tensor_filter_and_skip() {
    let dir = temp_dir("filter");
    let model = write_model(&dir);
    let output = dir.join("filtered.nlat");
    let (model_arg, output_arg) = (model.to_str().unwrap(), output.to_str().unwrap());

    stdout(&nestlat(&[
        "quantize",
        model_arg,
        "-o",
        output_arg,
        "--tensors",
        "^layer\\.",
        "--skip-others",
    ]));
    let bytes = std::fs::read(&output).unwrap();
    let container = Container::parse(&bytes).unwrap();
    let names: Vec<&str> = container.tensors().map(|tensor| tensor.name()).collect();
    assert_eq!(names, ["layer.weight"]);
}

#[test]
fn bad_arguments_are_reported() {
    let dir = temp_dir("bad-arguments");
    let model = write_model(&dir);
    let model_arg = model.to_str().unwrap();
    let output = dir.join("out.nlat");

    let cases: [(Vec<&str>, &str); 4] = [
        (
            vec!["quantize", "missing.safetensors", "-o", "x.nlat"],
            "reading missing.safetensors failed",
        ),
        (
            vec![
                "quantize",
                model_arg,
                "-o",
                output.to_str().unwrap(),
                "--preset",
                "e9-4",
            ],
            "is unknown",
        ),
        (
            vec![
                "quantize",
                model_arg,
                "-o",
                output.to_str().unwrap(),
                "--tensors",
                "(",
            ],
            "not a valid regular expression",
        ),
        (vec!["inspect", model_arg], "invalid .nlat container"),
    ];
    for (args, expected) in cases {
        let result = nestlat(&args);
        assert!(!result.status.success(), "{args:?} succeeded");
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn demo_prints_every_rate() {
    let table = stdout(&nestlat(&["demo"]));
    for preset in ["e8-4", "e8-3", "e8b-2"] {
        let rows = table
            .lines()
            .filter(|line| line.contains(&format!("/{preset} ")))
            .count();
        assert_eq!(rows, 2, "{preset} for both matrices: {table}");
    }
    assert!(table.contains("bound"), "{table}");
}
