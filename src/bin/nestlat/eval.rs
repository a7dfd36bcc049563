//! `nestlat eval`: the error of every quantized tensor of a container,
//! against the original weights.

use std::io;
use std::path::PathBuf;

use nestlat::container::{Container, TensorEntry};
use nestlat::quant::Orientation;
use rayon::prelude::*;
use safetensors::SafeTensors;

use super::Failure;
use super::evaluate::{Inputs, TensorReport, evaluate, write_reports};
use super::weights::{parse_safetensors, read_f32_file, read_file, to_f32};

/// Largest number of Gaussian input rows.
const MAX_TOKENS: usize = 1 << 16;

/// Largest entry count of a weight matrix or of its output `X W^T` that
/// eval decodes: 2^28 values, 1 GiB of `f32`.
const MAX_ENTRIES: usize = 1 << 28;

/// Options of `nestlat eval`.
#[derive(clap::Args)]
pub struct Args {
    /// The container written by `nestlat quantize`.
    file: PathBuf,
    /// The safetensors file it was quantized from.
    #[arg(long)]
    reference: PathBuf,
    /// A file of little-endian f32 input rows, used for the tensors whose
    /// input width is --input-width; the others get Gaussian inputs.
    #[arg(long, requires = "input_width")]
    inputs: Option<PathBuf>,
    /// Values per row of the --inputs file.
    #[arg(long, requires = "inputs")]
    input_width: Option<usize>,
    /// Number of Gaussian input rows (1 to 65536).
    #[arg(long, default_value_t = 64)]
    tokens: usize,
    /// Seed of the Gaussian input rows.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print one JSON object per tensor instead of a table. Non-finite SQNR
    /// values (an exact reconstruction, or an all-zero tensor) are null.
    #[arg(long)]
    json: bool,
}

/// Real input rows and their width.
struct RealInputs {
    values: Vec<f32>,
    width: usize,
}

/// Runs the command.
pub fn run(args: &Args) -> Result<(), Failure> {
    if !(1..=MAX_TOKENS).contains(&args.tokens) {
        return Err(Failure::Message(format!(
            "--tokens {} is invalid; use 1 to {MAX_TOKENS}",
            args.tokens
        )));
    }
    let bytes = read_file(&args.file)?;
    let container = Container::parse(&bytes)
        .map_err(|error| Failure::Message(format!("{}: {error}", args.file.display())))?;
    let reference_bytes = read_file(&args.reference)?;
    let reference = parse_safetensors(&reference_bytes, &args.reference)?;
    let real = read_inputs(args)?;

    let tensors: Vec<TensorEntry<'_>> = container
        .tensors()
        .filter(|tensor| tensor.quantization().is_some())
        .collect();
    if let Some(real) = &real {
        let widths_match = tensors
            .iter()
            .any(|tensor| tensor.shape().get(1) == Some(&(real.width as u64)));
        if !widths_match {
            eprintln!(
                "warning: no quantized tensor has input width {}; every tensor gets Gaussian inputs",
                real.width
            );
        }
    }

    let reports: Vec<TensorReport> = tensors
        .par_iter()
        .map(|tensor| {
            evaluate_tensor(tensor, &reference, real.as_ref(), args).map_err(
                |failure| match failure {
                    Failure::Message(message) => Failure::Message(format!(
                        "{}: {}: {message}",
                        args.file.display(),
                        tensor.name()
                    )),
                    other => other,
                },
            )
        })
        .collect::<Result<_, Failure>>()?;

    write_reports(&mut io::stdout().lock(), &reports, args.json)
}

/// Reads the --inputs file and checks it against --input-width.
fn read_inputs(args: &Args) -> Result<Option<RealInputs>, Failure> {
    let (Some(path), Some(width)) = (&args.inputs, args.input_width) else {
        return Ok(None);
    };
    let values = read_f32_file(path)?;
    if width == 0 || values.is_empty() || values.len() % width != 0 {
        return Err(Failure::Message(format!(
            "{} has {} values, not a whole number of rows of --input-width {width}",
            path.display(),
            values.len()
        )));
    }
    if let Some(index) = values.iter().position(|value| !value.is_finite()) {
        return Err(Failure::Message(format!(
            "{} holds NaN or infinity at row {}, column {}; replace it",
            path.display(),
            index / width,
            index % width
        )));
    }
    Ok(Some(RealInputs { values, width }))
}

fn evaluate_tensor(
    tensor: &TensorEntry<'_>,
    reference: &SafeTensors<'_>,
    real: Option<&RealInputs>,
    args: &Args,
) -> Result<TensorReport, Failure> {
    let name = tensor.name();
    let view = tensor
        .matrix()
        .ok_or_else(|| Failure::Message("the tensor is not quantized".to_string()))??;
    if tensor.quantization().map(|(orientation, _)| orientation) != Some(Orientation::Rows) {
        return Err(Failure::Message(
            "the tensor is quantized by columns; eval expects weight rows".to_string(),
        ));
    }
    let (rows, cols) = (view.vector_count(), view.vector_len());
    let inputs = match real {
        Some(real) if real.width == cols => Inputs {
            values: real.values.clone(),
            tokens: real.values.len() / cols,
            kind: "real",
        },
        _ => Inputs::gaussian(args.tokens, cols, args.seed),
    };
    let sizes = [rows.checked_mul(cols), rows.checked_mul(inputs.tokens)];
    if sizes
        .iter()
        .any(|size| size.is_none_or(|entries| entries > MAX_ENTRIES))
    {
        return Err(Failure::Message(format!(
            "{rows} x {cols} weights with {} input rows exceed {MAX_ENTRIES} values; \
             evaluate it with fewer --tokens or leave it out",
            inputs.tokens
        )));
    }

    let original = reference.tensor(name).map_err(|error| {
        Failure::Message(format!("missing in {}: {error}", args.reference.display()))
    })?;
    if original.shape() != [rows, cols] {
        return Err(Failure::Message(format!(
            "the reference has shape {:?}, the container {rows} x {cols}",
            original.shape()
        )));
    }
    let weights = to_f32(original.dtype(), original.data()).ok_or_else(|| {
        Failure::Message("the reference tensor is not f32, f16 or bf16".to_string())
    })?;
    evaluate(name, &weights, &view, &inputs)
}
