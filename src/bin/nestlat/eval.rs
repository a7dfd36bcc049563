//! `nestlat eval`: the error of every quantized tensor of a container,
//! against the original weights.

use std::io;
use std::path::PathBuf;

use nestlat::container::Container;
use nestlat::quant::Orientation;
use rayon::prelude::*;

use super::Failure;
use super::evaluate::{Inputs, TensorReport, evaluate, write_reports};
use super::weights::{parse_safetensors, read_f32_file, read_file, to_f32};

/// Options of `nestlat eval`.
#[derive(clap::Args)]
pub struct Args {
    /// The container written by `nestlat quantize`.
    file: PathBuf,
    /// The safetensors file it was quantized from.
    #[arg(long)]
    reference: PathBuf,
    /// A file of little-endian f32 input rows; it applies to the tensors
    /// whose input width divides its length. Other tensors, and all of them
    /// without this option, get Gaussian inputs.
    #[arg(long)]
    inputs: Option<PathBuf>,
    /// Number of Gaussian input rows.
    #[arg(long, default_value_t = 64)]
    tokens: usize,
    /// Seed of the Gaussian input rows.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print one JSON object per tensor instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs the command.
pub fn run(args: &Args) -> Result<(), Failure> {
    if args.tokens == 0 {
        return Err(Failure::Message(
            "--tokens 0 is invalid; use at least 1".to_string(),
        ));
    }
    let bytes = read_file(&args.file)?;
    let container = Container::parse(&bytes)
        .map_err(|error| Failure::Message(format!("{}: {error}", args.file.display())))?;
    let reference_bytes = read_file(&args.reference)?;
    let reference = parse_safetensors(&reference_bytes, &args.reference)?;
    let real_inputs = args.inputs.as_deref().map(read_f32_file).transpose()?;

    let tensors: Vec<_> = container
        .tensors()
        .filter(|tensor| tensor.quantization().is_some())
        .collect();
    let reports: Vec<TensorReport> = tensors
        .par_iter()
        .map(|tensor| {
            let name = tensor.name();
            let view = tensor
                .matrix()
                .ok_or_else(|| Failure::Message(format!("{name} is not quantized")))??;
            if tensor.quantization().map(|(orientation, _)| orientation) != Some(Orientation::Rows)
            {
                return Err(Failure::Message(format!(
                    "{name} is quantized by columns; eval expects weight rows"
                )));
            }
            let original = reference.tensor(name).map_err(|error| {
                Failure::Message(format!(
                    "{name} is missing in {}: {error}",
                    args.reference.display()
                ))
            })?;
            let weights = to_f32(original.dtype(), original.data()).ok_or_else(|| {
                Failure::Message(format!("{name} in the reference is not f32, f16 or bf16"))
            })?;
            if weights.len() != view.vector_count() * view.vector_len() {
                return Err(Failure::Message(format!(
                    "{name} has {} values in the reference, the container has {} x {}",
                    weights.len(),
                    view.vector_count(),
                    view.vector_len()
                )));
            }
            let inputs = choose_inputs(real_inputs.as_deref(), view.vector_len(), args);
            evaluate(name, &weights, &view, &inputs)
        })
        .collect::<Result<_, Failure>>()?;

    write_reports(&mut io::stdout().lock(), &reports, args.json)
}

/// Returns the real inputs when their length fits the input width, else
/// Gaussian ones.
fn choose_inputs(real: Option<&[f32]>, cols: usize, args: &Args) -> Inputs {
    match real {
        Some(values) if cols > 0 && !values.is_empty() && values.len() % cols == 0 => Inputs {
            values: values.to_vec(),
            tokens: values.len() / cols,
            kind: "real",
        },
        _ => Inputs::gaussian(args.tokens, cols, args.seed),
    }
}
