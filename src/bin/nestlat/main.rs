//! The `nestlat` command-line tool (feature `cli`).

mod bench;
mod demo;
mod eval;
mod evaluate;
mod gaussian;
mod inspect;
mod perplexity;
mod plot;
mod quantize;
mod tune;
mod weights;

use std::io;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use nestlat::quant::Preset;

/// Nested-lattice quantization of matrices, measured against the limit
/// Gamma(R) of quantized matrix multiplication.
#[derive(Parser)]
#[command(name = "nestlat", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Time the product kernels against a plain f32 product of the same
    /// Gaussian matrix, with one or more threads.
    Bench(bench::Args),
    /// Quantize the bundled MiniLM matrices at 4, 3 and 2 bits and print
    /// their errors next to the bound and round-to-nearest baselines.
    Demo(demo::Args),
    /// Compare every quantized tensor of a container with the original
    /// weights: weight and output SQNR, bound and baseline.
    Eval(eval::Args),
    /// Quantize iid N(0, 1) matrices A and B and compare the error of A^T B
    /// with Gamma(R).
    Gaussian(gaussian::Args),
    /// Write an SVG of distortion against rate for the presets on iid
    /// N(0, 1) matrices, with the curves Gamma(R) and 2^(-2R).
    Plot(plot::Args),
    /// List the tensors of a .nlat container and their settings.
    Inspect(inspect::Args),
    /// Measure the perplexity of a Llama GGUF model with its linear weights,
    /// and optionally their inputs, replaced by nestlat codings.
    Perplexity(perplexity::Args),
    /// Quantize the 2-D weights of a safetensors file into a .nlat container.
    Quantize(quantize::Args),
    /// Tune the scale sets and gains of presets on iid N(0, 1) groups.
    Tune(tune::Args),
}

/// The reason a command stopped early.
enum Failure {
    /// Invalid options or a library error, as a message for the user.
    Message(String),
    /// Writing to standard output failed.
    Output(io::Error),
}

impl From<io::Error> for Failure {
    fn from(error: io::Error) -> Self {
        Self::Output(error)
    }
}

impl From<nestlat::Error> for Failure {
    fn from(error: nestlat::Error) -> Self {
        Self::Message(error.to_string())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bench(args) => bench::run(&args),
        Command::Demo(args) => demo::run(&args),
        Command::Eval(args) => eval::run(&args),
        Command::Gaussian(args) => gaussian::run(&args),
        Command::Inspect(args) => inspect::run(&args),
        Command::Perplexity(args) => perplexity::run(&args),
        Command::Quantize(args) => quantize::run(&args),
        Command::Plot(args) => plot::run(&args),
        Command::Tune(args) => tune::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A reader such as `head` closed the pipe: the output it wanted is out.
        Err(Failure::Output(error)) if error.kind() == io::ErrorKind::BrokenPipe => {
            ExitCode::SUCCESS
        }
        Err(Failure::Output(error)) => {
            eprintln!("error: writing to standard output failed: {error}");
            ExitCode::FAILURE
        }
        Err(Failure::Message(message)) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Returns the presets named by `name`: one preset, or every preset for
/// `"all"`.
fn select_presets(name: &str) -> Result<Vec<&'static Preset>, Failure> {
    if name == "all" {
        return Ok(Preset::all().iter().collect());
    }
    Preset::by_name(name)
        .map(|preset| vec![preset])
        .ok_or_else(|| {
            let names: Vec<&str> = Preset::all().iter().map(|preset| preset.name()).collect();
            Failure::Message(format!(
                "preset {name:?} is unknown; use \"all\" or one of: {}",
                names.join(", ")
            ))
        })
}
