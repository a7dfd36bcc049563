//! Quantizes a slice of a real weight matrix and real activations on the
//! host, computes the expected products with the same library, and writes
//! them as Rust statics for the firmware. Also hands `memory.x` to the
//! linker.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use nestlat::kernel::{self, BufferLengths};
use nestlat::product::{matvec, matvec_coded, scratch_len};
use nestlat::quant::{Preset, QuantizedMatrix, QuantizerConfig, VectorSet};

/// Rows of the weight slice and columns of the matrix (all-MiniLM-L6-v2,
/// layer 0, attention query, 384 x 384).
const ROWS: usize = 16;
const COLS: usize = 384;

/// Real input rows of the same layer.
const TOKENS: usize = 4;

/// Presets the firmware runs: the 4-bit E8 Voronoi code, the 2-bit E8 ball
/// code and the scalar 4-bit code.
const PRESETS: [&str; 3] = ["e8-4", "e8b-2", "lloyd-4"];

fn main() {
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::copy("memory.x", out_dir.join("memory.x")).expect("memory.x is readable");
    println!("cargo:rustc-link-search={}", out_dir.display());
    println!("cargo:rerun-if-changed=memory.x");

    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data");
    let weights = read_f32(&data.join("minilm_l0_attention_self_query.f32"));
    let inputs = read_f32(&data.join("minilm_l0_attention_self_query_input.f32"));
    let weights = &weights[..ROWS * COLS];
    let inputs = &inputs[..TOKENS * COLS];

    let mut source = String::new();
    writeln!(source, "const ROWS: usize = {ROWS};").unwrap();
    writeln!(source, "const COLS: usize = {COLS};").unwrap();
    writeln!(source, "const TOKENS: usize = {TOKENS};").unwrap();
    writeln!(
        source,
        "static INPUTS: [u32; {}] = {};",
        inputs.len(),
        bits_literal(inputs)
    )
    .unwrap();
    let mut cases = Vec::new();
    for (index, name) in PRESETS.iter().enumerate() {
        write_case(&mut source, index, name, weights, inputs);
        cases.push(format!(
            "Case {{ preset: {name:?}, weights: &WEIGHTS_{index}.bytes, activations: &ACTIVATIONS_{index}.bytes, dense: &DENSE_{index}, coded: &CODED_{index}, kernel: &KERNEL_{index} }}"
        ));
    }
    writeln!(
        source,
        "static CASES: [Case; {}] = [{}];",
        cases.len(),
        cases.join(", ")
    )
    .unwrap();
    std::fs::write(out_dir.join("cases.rs"), source).expect("OUT_DIR is writable");
    println!("cargo:rerun-if-changed=../data/minilm_l0_attention_self_query.f32");
    println!("cargo:rerun-if-changed=../data/minilm_l0_attention_self_query_input.f32");
}

/// Quantizes the weights and the activations with one preset and writes
/// them with the expected outputs of both reference products and of the
/// fast kernel.
fn write_case(source: &mut String, index: usize, name: &str, weights: &[f32], inputs: &[f32]) {
    let preset = Preset::by_name(name).expect("preset exists");
    let config = QuantizerConfig::new(preset);
    let w =
        QuantizedMatrix::quantize(&VectorSet::rows(weights, ROWS, COLS).unwrap(), &config).unwrap();
    let x = QuantizedMatrix::quantize(&VectorSet::rows(inputs, TOKENS, COLS).unwrap(), &config)
        .unwrap();
    let (w_view, x_view) = (w.view(), x.view());

    let mut scratch = vec![0.0f32; scratch_len(w_view.coded_len(), 1)];
    let lens = BufferLengths::new(&w_view, 1).unwrap();
    let (mut floats, mut bytes) = (vec![0.0f32; lens.floats], vec![0i8; lens.bytes]);
    let mut dense = Vec::new();
    let mut coded = Vec::new();
    let mut fast = Vec::new();
    for token in 0..TOKENS {
        let x = &inputs[token * COLS..(token + 1) * COLS];
        let mut y = vec![0.0f32; ROWS];
        matvec(&w_view, x, &mut scratch, &mut y).unwrap();
        dense.extend_from_slice(&y);
        matvec_coded(&w_view, &x_view, token, &mut scratch, &mut y).unwrap();
        coded.extend_from_slice(&y);
        kernel::matvec(&w_view, x, &mut floats, &mut bytes, &mut y).unwrap();
        fast.extend_from_slice(&y);
    }

    write_odd_bytes(source, &format!("WEIGHTS_{index}"), w.as_bytes());
    write_odd_bytes(source, &format!("ACTIVATIONS_{index}"), x.as_bytes());
    writeln!(
        source,
        "static DENSE_{index}: [u32; {}] = {};",
        dense.len(),
        bits_literal(&dense)
    )
    .unwrap();
    writeln!(
        source,
        "static CODED_{index}: [u32; {}] = {};",
        coded.len(),
        bits_literal(&coded)
    )
    .unwrap();
    writeln!(
        source,
        "static KERNEL_{index}: [u32; {}] = {};",
        fast.len(),
        bits_literal(&fast)
    )
    .unwrap();
}

/// Writes `bytes` as a static that starts one byte past a 4-byte boundary,
/// so the firmware reads it at an odd address.
fn write_odd_bytes(source: &mut String, name: &str, bytes: &[u8]) {
    let list: Vec<String> = bytes.iter().map(u8::to_string).collect();
    writeln!(
        source,
        "static {name}: OddBytes<{}> = OddBytes {{ pad: 0, bytes: [{}] }};",
        bytes.len(),
        list.join(",")
    )
    .unwrap();
}

fn bits_literal(values: &[f32]) -> String {
    let list: Vec<String> = values
        .iter()
        .map(|value| format!("{:#010x}", value.to_bits()))
        .collect();
    format!("[{}]", list.join(","))
}

fn read_f32(path: &Path) -> Vec<f32> {
    let bytes =
        std::fs::read(path).unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
    bytes
        .chunks_exact(4)
        .map(|chunk| f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]))
        .collect()
}
