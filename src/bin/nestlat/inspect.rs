//! `nestlat inspect`: the directory of a `.nlat` container.

use std::io::{self, Write};
use std::path::PathBuf;

use nestlat::container::{Container, TensorKind};
use nestlat::quant::Orientation;

use super::Failure;
use super::evaluate::printable;
use super::weights::read_file;

/// Options of `nestlat inspect`.
#[derive(clap::Args)]
pub struct Args {
    /// The container to read.
    file: PathBuf,
}

/// Runs the command.
pub fn run(args: &Args) -> Result<(), Failure> {
    let bytes = read_file(&args.file)?;
    let container = Container::parse(&bytes)
        .map_err(|error| Failure::Message(format!("{}: {error}", args.file.display())))?;

    let mut out = io::stdout().lock();
    writeln!(
        out,
        "{}: {} tensors, {} bytes",
        args.file.display(),
        container.len(),
        bytes.len()
    )?;
    let width = container
        .tensors()
        .map(|tensor| printable(tensor.name()).chars().count())
        .max()
        .unwrap_or(0)
        .max("name".len());
    writeln!(
        out,
        "{:<width$} {:<6} {:<16} {:<9} {:<8} {:>12} {:>8}  settings",
        "name", "kind", "shape", "preset", "vectors", "bytes", "bits"
    )?;
    for tensor in container.tensors() {
        let shape: Vec<String> = tensor.shape().iter().map(u64::to_string).collect();
        let values: u64 = tensor.shape().iter().product();
        let bits = tensor.payload().len() as f64 * 8.0 / values.max(1) as f64;
        let (preset, vectors, settings) = match tensor.quantization() {
            Some((orientation, config)) => (
                config.preset().name(),
                match orientation {
                    Orientation::Rows => "rows",
                    Orientation::Columns => "columns",
                },
                format!(
                    "mean removal {}, rotation seed {}, dither seed {}",
                    if config.removes_mean() { "on" } else { "off" },
                    seed_text(config.rotation_seed()),
                    seed_text(config.dither_seed())
                ),
            ),
            None => ("-", "-", String::new()),
        };
        writeln!(
            out,
            "{:<width$} {:<6} {:<16} {:<9} {:<8} {:>12} {:>8.4}  {settings}",
            printable(tensor.name()),
            kind_name(tensor.kind()),
            shape.join("x"),
            preset,
            vectors,
            tensor.payload().len(),
            bits
        )?;
    }
    Ok(())
}

fn seed_text(seed: Option<u64>) -> String {
    seed.map_or_else(|| "none".to_string(), |value| format!("{value:#x}"))
}

fn kind_name(kind: TensorKind) -> &'static str {
    match kind {
        TensorKind::Quantized => "coded",
        TensorKind::F32 => "f32",
        TensorKind::F16 => "f16",
        TensorKind::Bf16 => "bf16",
    }
}
