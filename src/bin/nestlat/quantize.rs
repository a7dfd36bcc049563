//! `nestlat quantize`: a safetensors model to a `.nlat` container.

use std::path::PathBuf;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use nestlat::container::{ContainerWriter, MAX_NAME_LEN, MAX_TENSORS, TensorKind};
use nestlat::quant::{Orientation, Preset, QuantizedMatrix, QuantizerConfig, VectorSet};
use rayon::prelude::*;
use regex::Regex;
use safetensors::Dtype;

use super::Failure;
use super::weights::{parse_safetensors, read_file, to_f32};

/// Options of `nestlat quantize`.
#[derive(clap::Args)]
pub struct Args {
    /// The safetensors file to read.
    model: PathBuf,
    /// The container to write.
    #[arg(short, long)]
    output: PathBuf,
    /// Preset of the quantized tensors.
    #[arg(long, default_value = "e8-4")]
    preset: String,
    /// Quantize only the 2-D tensors whose name matches this regular
    /// expression (all 2-D float tensors without it).
    #[arg(long)]
    tensors: Option<String>,
    /// Leave out the float tensors that are not quantized instead of storing
    /// them as they are. Tensors of other types (integers, f64, f8) are
    /// always left out and listed.
    #[arg(long)]
    skip_others: bool,
    /// Keep row means in the coded vectors instead of storing them.
    #[arg(long)]
    no_mean_removal: bool,
}

/// The action for one tensor of the model.
enum Plan {
    Quantize { rows: usize, cols: usize },
    Store(TensorKind),
    Skip,
}

/// Runs the command.
pub fn run(args: &Args) -> Result<(), Failure> {
    let start = Instant::now();
    let preset = Preset::by_name(&args.preset).ok_or_else(|| unknown_preset(&args.preset))?;
    let filter = args
        .tensors
        .as_deref()
        .map(Regex::new)
        .transpose()
        .map_err(|error| {
            Failure::Message(format!(
                "--tensors is not a valid regular expression: {error}"
            ))
        })?;
    let config = QuantizerConfig::new(preset).with_mean_removal(!args.no_mean_removal);

    reject_model_as_output(args)?;

    let bytes = read_file(&args.model)?;
    let model = parse_safetensors(&bytes, &args.model)?;
    let mut tensors = model.tensors();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    let plans: Vec<Plan> = tensors
        .iter()
        .map(|(name, view)| {
            plan(
                name,
                view.dtype(),
                view.shape(),
                filter.as_ref(),
                args.skip_others,
            )
        })
        .collect();
    check_container_limits(&tensors, &plans)?;
    report_skipped(&tensors, &plans, args.skip_others);
    if args.tensors.is_some()
        && !plans
            .iter()
            .any(|plan| matches!(plan, Plan::Quantize { .. }))
    {
        eprintln!("warning: --tensors matches no 2-D float tensor; nothing is quantized");
    }

    let to_quantize: Vec<(usize, usize, usize)> = plans
        .iter()
        .enumerate()
        .filter_map(|(i, plan)| match *plan {
            Plan::Quantize { rows, cols } => Some((i, rows, cols)),
            _ => None,
        })
        .collect();
    let progress = ProgressBar::new(to_quantize.len() as u64);
    progress.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} tensors {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let results: Vec<(usize, QuantizedMatrix)> = to_quantize
        .par_iter()
        .map(|&(i, rows, cols)| {
            let (name, view) = &tensors[i];
            let values = to_f32(view.dtype(), view.data()).unwrap_or_default();
            let matrix = VectorSet::rows(&values, rows, cols)
                .and_then(|vectors| QuantizedMatrix::quantize(&vectors, &config))
                .map_err(|error| Failure::Message(format!("quantizing {name} failed: {error}")))?;
            progress.inc(1);
            Ok((i, matrix))
        })
        .collect::<Result<_, Failure>>()?;
    progress.finish_and_clear();
    let mut matrices: Vec<Option<QuantizedMatrix>> = (0..tensors.len()).map(|_| None).collect();
    for (i, matrix) in results {
        matrices[i] = Some(matrix);
    }

    let mut writer = ContainerWriter::new();
    let mut summary = Summary::default();
    for (((name, view), plan), matrix) in tensors.iter().zip(&plans).zip(&matrices) {
        match (plan, matrix) {
            (Plan::Quantize { rows, cols }, Some(matrix)) => {
                writer.add_quantized(name, &matrix.view(), Orientation::Rows)?;
                summary.quantized += 1;
                summary.parameters += rows * cols;
                summary.quantized_bytes += matrix.as_bytes().len();
            }
            (Plan::Store(kind), _) => {
                let shape: Vec<u64> = view.shape().iter().map(|&dim| dim as u64).collect();
                writer.add_raw(name, *kind, &shape, view.data().to_vec())?;
                summary.stored += 1;
            }
            _ => summary.skipped += 1,
        }
    }

    let file = writer.to_bytes()?;
    std::fs::write(&args.output, &file).map_err(|error| {
        Failure::Message(format!("writing {} failed: {error}", args.output.display()))
    })?;
    summary.print(preset, file.len(), start.elapsed().as_secs_f64());
    Ok(())
}

/// Rejects an output path that names the model file itself.
fn reject_model_as_output(args: &Args) -> Result<(), Failure> {
    let same = match (args.model.canonicalize(), args.output.canonicalize()) {
        (Ok(model), Ok(output)) => model == output,
        _ => false,
    };
    if same {
        return Err(Failure::Message(format!(
            "-o {} is the model file itself; choose another output path",
            args.output.display()
        )));
    }
    Ok(())
}

/// Checks the names and the tensor count against the container's limits
/// before any work is done.
fn check_container_limits(
    tensors: &[(String, safetensors::tensor::TensorView<'_>)],
    plans: &[Plan],
) -> Result<(), Failure> {
    let stored_names: Vec<&str> = tensors
        .iter()
        .zip(plans)
        .filter(|(_, plan)| !matches!(plan, Plan::Skip))
        .map(|((name, _), _)| name.as_str())
        .collect();
    if let Some(name) = stored_names.iter().find(|name| name.len() > MAX_NAME_LEN) {
        return Err(Failure::Message(format!(
            "tensor name {:?}... is {} bytes, above the container limit of {MAX_NAME_LEN}; \
             leave it out with --tensors and --skip-others",
            name.chars().take(40).collect::<String>(),
            name.len()
        )));
    }
    if stored_names.len() > MAX_TENSORS {
        return Err(Failure::Message(format!(
            "{} tensors exceed the container limit of {MAX_TENSORS}; select fewer with \
             --tensors and --skip-others",
            stored_names.len()
        )));
    }
    Ok(())
}

/// Lists on standard error the tensors whose type cannot be stored.
fn report_skipped(
    tensors: &[(String, safetensors::tensor::TensorView<'_>)],
    plans: &[Plan],
    skip_others: bool,
) {
    for ((name, view), plan) in tensors.iter().zip(plans) {
        let storable = matches!(view.dtype(), Dtype::F32 | Dtype::F16 | Dtype::BF16);
        if matches!(plan, Plan::Skip) && !(skip_others && storable) {
            eprintln!(
                "skipped {:?}: type {:?} with shape {:?} cannot be stored in a .nlat file",
                name,
                view.dtype(),
                view.shape()
            );
        }
    }
}

/// Decides what to do with a tensor.
fn plan(
    name: &str,
    dtype: Dtype,
    shape: &[usize],
    filter: Option<&Regex>,
    skip_others: bool,
) -> Plan {
    let kind = match dtype {
        Dtype::F32 => Some(TensorKind::F32),
        Dtype::F16 => Some(TensorKind::F16),
        Dtype::BF16 => Some(TensorKind::Bf16),
        _ => None,
    };
    let selected = filter.is_none_or(|regex| regex.is_match(name));
    match (kind, shape) {
        (Some(_), &[rows, cols]) if selected && rows > 0 && cols > 0 => {
            Plan::Quantize { rows, cols }
        }
        (Some(kind), _) if !skip_others && !shape.is_empty() => Plan::Store(kind),
        _ => Plan::Skip,
    }
}

fn unknown_preset(name: &str) -> Failure {
    let names: Vec<&str> = Preset::all().iter().map(|preset| preset.name()).collect();
    Failure::Message(format!(
        "preset {name:?} is unknown; use one of: {}",
        names.join(", ")
    ))
}

#[derive(Default)]
struct Summary {
    quantized: usize,
    stored: usize,
    skipped: usize,
    parameters: usize,
    quantized_bytes: usize,
}

impl Summary {
    fn print(&self, preset: &Preset, file_len: usize, seconds: f64) {
        let bits = self.quantized_bytes as f64 * 8.0 / self.parameters.max(1) as f64;
        println!(
            "quantized {} tensors ({} parameters) with {}: {bits:.4} stored bits per weight",
            self.quantized,
            self.parameters,
            preset.name()
        );
        println!(
            "stored {} tensors as they are, skipped {}; file {} bytes; {seconds:.2} s",
            self.stored, self.skipped, file_len
        );
    }
}
