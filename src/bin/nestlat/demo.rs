//! `nestlat demo`: quantize and evaluate the real matrices bundled with the
//! repository, at 4, 3 and 2 stored bits.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use nestlat::container::{Container, ContainerWriter};
use nestlat::quant::{Orientation, Preset, QuantizedMatrix, QuantizerConfig, VectorSet};

use super::Failure;
use super::evaluate::{Inputs, evaluate, write_reports};
use super::weights::read_f32_file;

/// The weight matrices of all-MiniLM-L6-v2 in the test data, each with a
/// `.json` sidecar giving its shape and an `_input.f32` file of real input
/// rows.
const MATRICES: [&str; 2] = ["minilm_l0_attention_self_query", "minilm_l0_output_dense"];

/// The preset with the lowest error at each stored rate.
const PRESETS: [&str; 3] = ["e8-4", "e8-3", "e8b-2"];

/// Options of `nestlat demo`.
#[derive(clap::Args)]
pub struct Args {
    /// Folder of the bundled matrices (the repository's `tests/data`).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data"))]
    data: PathBuf,
    /// Print one JSON object per tensor instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs the command.
pub fn run(args: &Args) -> Result<(), Failure> {
    let mut writer = ContainerWriter::new();
    let mut originals = Vec::new();
    for matrix in MATRICES {
        let (rows, cols) = read_shape(&args.data, matrix)?;
        let weights = read_f32_file(&args.data.join(format!("{matrix}.f32")))?;
        let inputs = read_f32_file(&args.data.join(format!("{matrix}_input.f32")))?;
        let vectors = VectorSet::rows(&weights, rows, cols)?;
        for preset_name in PRESETS {
            let preset = Preset::by_name(preset_name)
                .ok_or_else(|| Failure::Message(format!("preset {preset_name} is missing")))?;
            let coded = QuantizedMatrix::quantize(&vectors, &QuantizerConfig::new(preset))?;
            let name = format!("{matrix}/{preset_name}");
            writer.add_quantized(&name, &coded.view(), Orientation::Rows)?;
        }
        originals.push((matrix, weights, inputs, cols));
    }

    // The evaluation reads the matrices back from the container bytes, as a
    // device would.
    let file = writer.to_bytes()?;
    let container = Container::parse(&file)?;
    let mut reports = Vec::new();
    for tensor in container.tensors() {
        let Some((matrix, weights, inputs, cols)) = originals
            .iter()
            .find(|(matrix, ..)| tensor.name().starts_with(&format!("{matrix}/")))
        else {
            continue;
        };
        let view = tensor
            .matrix()
            .ok_or_else(|| Failure::Message(format!("{matrix} is not quantized")))??;
        let inputs = Inputs {
            values: inputs.clone(),
            tokens: inputs.len() / cols.max(&1),
            kind: "real",
        };
        reports.push(evaluate(tensor.name(), weights, &view, &inputs)?);
    }

    let mut out = io::stdout().lock();
    if !args.json {
        writeln!(
            out,
            "all-MiniLM-L6-v2 layer 0, Y = X W^T on {} real input rows; container of {} tensors, {} bytes",
            originals
                .first()
                .map_or(0, |(_, _, inputs, cols)| inputs.len() / cols.max(&1)),
            container.len(),
            file.len()
        )?;
    }
    write_reports(&mut out, &reports, args.json)
}

/// Reads `"shape": [rows, cols]` from the sidecar of `matrix`.
fn read_shape(data: &Path, matrix: &str) -> Result<(usize, usize), Failure> {
    let path = data.join(format!("{matrix}.json"));
    let text = std::fs::read_to_string(&path).map_err(|error| {
        Failure::Message(format!(
            "reading {} failed: {error}; run from a clone of the repository or pass --data",
            path.display()
        ))
    })?;
    let sidecar: serde_json::Value = serde_json::from_str(&text).map_err(|error| {
        Failure::Message(format!("{} is not valid JSON: {error}", path.display()))
    })?;
    let dims: Vec<usize> = sidecar["shape"]
        .as_array()
        .map(|dims| {
            dims.iter()
                .filter_map(|dim| dim.as_u64())
                .map(|dim| dim as usize)
                .collect()
        })
        .unwrap_or_default();
    match dims[..] {
        [rows, cols] => Ok((rows, cols)),
        _ => Err(Failure::Message(format!(
            "{} has no 2-D \"shape\"",
            path.display()
        ))),
    }
}
