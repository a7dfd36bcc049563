//! `nestlat bench`: the speed of the product kernels against a plain `f32`
//! product of the same matrix, measured in one run.

use std::io::{self, Write};
use std::time::Instant;

use nestlat::kernel::{self, Activations, BufferLengths, KernelPath};
use nestlat::quant::{Preset, QuantizedMatrix, QuantizerConfig, VectorSet};
use nestlat::rng::SplitMix64;
use rayon::prelude::*;
use serde::Serialize;
use wide::f32x8;

use super::Failure;

/// Largest matrix the command builds, in entries (1 GiB of `f32`).
const MAX_ENTRIES: usize = 1 << 28;

/// Most threads one product may be split over.
const MAX_THREADS: usize = 256;

/// Most timed repetitions of one product.
const MAX_REPEATS: usize = 10_000;

/// Options of `nestlat bench`.
#[derive(clap::Args)]
pub struct Args {
    /// Presets, comma separated.
    #[arg(long, default_value = "lloyd-4,e8-4,e8-3,e8b-2,z-4")]
    presets: String,
    /// Matrix shapes ROWSxCOLS, comma separated.
    #[arg(long, default_value = "1024x1024,4096x4096,11008x4096")]
    shapes: String,
    /// Activation vectors per product, comma separated.
    #[arg(long, default_value = "1,8")]
    batch: String,
    /// Threads that split the rows of each product, 1 to 256 (1 measures one
    /// core).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Timed repetitions of each product, 1 to 10000; the median is
    /// reported. The f32 product and the kernel alternate, so a change of
    /// load moves both.
    #[arg(long, default_value_t = 15)]
    repeats: usize,
    /// Print one JSON object per measurement instead of a table.
    #[arg(long)]
    json: bool,
}

/// One measurement, as `--json` prints it. Weights per second count
/// multiply-adds: rows times columns times batch.
#[derive(Serialize)]
struct Measurement {
    kernel: String,
    preset: &'static str,
    backend: &'static str,
    rows: usize,
    cols: usize,
    batch: usize,
    threads: usize,
    bits_stored: f64,
    ns_per_product: f64,
    gweights_per_s: f64,
    f32_ns_per_product: f64,
    ratio_vs_f32: f64,
    encode_mweights_per_s: f64,
}

/// Runs the command.
pub fn run(args: &Args) -> Result<(), Failure> {
    let presets = parse_presets(&args.presets)?;
    let shapes = parse_list(&args.shapes, "shape", parse_shape)?;
    let batches = parse_list(&args.batch, "batch", parse_count)?;
    check_range("--repeats", args.repeats, MAX_REPEATS)?;
    check_range("--threads", args.threads, MAX_THREADS)?;
    for &(rows, cols) in &shapes {
        for &batch in &batches {
            check_batch(rows, cols, batch)?;
        }
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()
        .map_err(|error| {
            Failure::Message(format!("cannot start {} threads: {error}", args.threads))
        })?;

    let mut out = io::stdout().lock();
    if !args.json {
        write_header(&mut out)?;
    }
    for &(rows, cols) in &shapes {
        let weights = gaussian(rows * cols, 1);
        for &preset in &presets {
            let (coded, encode) = quantize_timed(&weights, rows, cols, preset)?;
            for &batch in &batches {
                let x = gaussian(batch * cols, 2);
                let (ns, f32_ns) = pool.install(|| time_both(&coded, &weights, &x, batch, args))?;
                let measurement = measure(
                    &coded,
                    preset,
                    (rows, cols, batch),
                    args.threads,
                    ns,
                    f32_ns,
                    encode,
                );
                write_measurement(&mut out, &measurement, args.json)?;
            }
        }
    }
    Ok(())
}

/// Builds one measurement from the timings.
fn measure(
    coded: &QuantizedMatrix,
    preset: &'static Preset,
    (rows, cols, batch): (usize, usize, usize),
    threads: usize,
    ns: f64,
    f32_ns: f64,
    encode: f64,
) -> Measurement {
    let view = coded.view();
    let path = KernelPath::of(&view);
    Measurement {
        kernel: format!("{}/{}", preset.name(), path.name()),
        preset: preset.name(),
        backend: kernel::backend(path),
        rows,
        cols,
        batch,
        threads,
        bits_stored: view.stored_bits_per_entry(),
        ns_per_product: ns,
        gweights_per_s: (rows * cols * batch) as f64 / ns,
        f32_ns_per_product: f32_ns,
        ratio_vs_f32: f32_ns / ns,
        encode_mweights_per_s: encode,
    }
}

fn write_header(out: &mut impl Write) -> io::Result<()> {
    writeln!(
        out,
        "{:<22} {:<8} {:>12} {:>5} {:>7} {:>12} {:>9} {:>12} {:>8} {:>9}",
        "kernel",
        "backend",
        "shape",
        "batch",
        "bits",
        "ns/product",
        "Gw/s",
        "f32 ns",
        "vs f32",
        "enc Mw/s"
    )
}

fn write_measurement(out: &mut impl Write, m: &Measurement, json: bool) -> Result<(), Failure> {
    if json {
        let line = serde_json::to_string(m).map_err(|error| Failure::Message(error.to_string()))?;
        writeln!(out, "{line}")?;
    } else {
        writeln!(
            out,
            "{:<22} {:<8} {:>12} {:>5} {:>7.3} {:>12.0} {:>9.2} {:>12.0} {:>8.2} {:>9.1}",
            m.kernel,
            m.backend,
            format!("{}x{}", m.rows, m.cols),
            m.batch,
            m.bits_stored,
            m.ns_per_product,
            m.gweights_per_s,
            m.f32_ns_per_product,
            m.ratio_vs_f32,
            m.encode_mweights_per_s
        )?;
    }
    Ok(())
}

/// Returns the median times, in nanoseconds, of one kernel product
/// (activation preparation included) and of the `f32` product `W X`, timed
/// in turn on the same rows split over the current thread pool.
fn time_both(
    coded: &QuantizedMatrix,
    weights: &[f32],
    x: &[f32],
    batch: usize,
    args: &Args,
) -> Result<(f64, f64), Failure> {
    let w = coded.view();
    let (rows, cols) = (w.vector_count(), w.vector_len());
    let lens = BufferLengths::new(&w, batch)?;
    let mut floats = vec![0.0f32; lens.floats];
    let mut bytes = vec![0i8; lens.bytes];
    let mut out = vec![0.0f32; rows * batch];
    let vectors = VectorSet::rows(x, batch, cols)?;
    let rows_per_task = rows.div_ceil(args.threads);

    let mut kernel_product = || -> Result<(), nestlat::Error> {
        let activations = Activations::prepare(&w, &vectors, &mut floats, &mut bytes)?;
        out.par_chunks_mut(rows_per_task * batch)
            .enumerate()
            .try_for_each(|(task, chunk)| {
                let start = task * rows_per_task;
                kernel::matmul_rows(&w, &activations, start..start + chunk.len() / batch, chunk)
            })
    };
    let mut dense_out = vec![0.0f32; rows * batch];
    let mut dense_product = || {
        dense_out
            .par_chunks_mut(rows_per_task * batch)
            .enumerate()
            .for_each(|(task, chunk)| {
                let first = task * rows_per_task;
                for (offset, values) in chunk.chunks_exact_mut(batch).enumerate() {
                    let row = &weights[(first + offset) * cols..][..cols];
                    for (value, vector) in values.iter_mut().zip(x.chunks_exact(cols)) {
                        *value = dense_dot(row, vector);
                    }
                }
            });
        std::hint::black_box(&dense_out);
    };

    kernel_product()?;
    dense_product();
    let mut kernel_times = Vec::with_capacity(args.repeats);
    let mut dense_times = Vec::with_capacity(args.repeats);
    for _ in 0..args.repeats {
        let start = Instant::now();
        kernel_product()?;
        kernel_times.push(start.elapsed().as_nanos() as f64);

        let start = Instant::now();
        dense_product();
        dense_times.push(start.elapsed().as_nanos() as f64);
    }
    Ok((median(&mut kernel_times), median(&mut dense_times)))
}

/// Returns the dot product of two `f32` slices with four `f32x8`
/// accumulators, the baseline every kernel is compared with.
fn dense_dot(a: &[f32], b: &[f32]) -> f32 {
    let mut sums = [f32x8::ZERO; 4];
    let mut chunks_a = a.chunks_exact(32);
    let mut chunks_b = b.chunks_exact(32);
    for (block_a, block_b) in (&mut chunks_a).zip(&mut chunks_b) {
        for (k, sum) in sums.iter_mut().enumerate() {
            let lanes_a = f32x8::new(block_a[8 * k..8 * k + 8].try_into().unwrap_or([0.0; 8]));
            let lanes_b = f32x8::new(block_b[8 * k..8 * k + 8].try_into().unwrap_or([0.0; 8]));
            *sum = lanes_a.mul_add(lanes_b, *sum);
        }
    }
    let tail: f32 = chunks_a
        .remainder()
        .iter()
        .zip(chunks_b.remainder())
        .map(|(a, b)| a * b)
        .sum();
    (sums[0] + sums[1] + sums[2] + sums[3]).reduce_add() + tail
}

/// Quantizes the matrix on one thread and returns it with the encoder's
/// rate in millions of weights per second.
fn quantize_timed(
    weights: &[f32],
    rows: usize,
    cols: usize,
    preset: &'static Preset,
) -> Result<(QuantizedMatrix, f64), Failure> {
    let vectors = VectorSet::rows(weights, rows, cols)?;
    let start = Instant::now();
    let coded = QuantizedMatrix::quantize(&vectors, &QuantizerConfig::new(preset))?;
    let rate = (rows * cols) as f64 / start.elapsed().as_secs_f64() / 1e6;
    Ok((coded, rate))
}

fn median(times: &mut [f64]) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn gaussian(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = SplitMix64::new(seed);
    (0..len).map(|_| rng.next_gaussian() as f32).collect()
}

/// Returns the presets of a comma-separated list.
fn parse_presets(list: &str) -> Result<Vec<&'static Preset>, Failure> {
    parse_list(list, "preset", |name| {
        Preset::by_name(name).ok_or_else(|| {
            let names: Vec<&str> = Preset::all().iter().map(|preset| preset.name()).collect();
            format!("use one of: {}", names.join(", "))
        })
    })
}

/// Parses every item of a comma-separated list.
fn parse_list<T>(
    list: &str,
    item: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<T>, Failure> {
    list.split(',')
        .map(|text| {
            parse(text.trim())
                .map_err(|hint| Failure::Message(format!("{item} {text:?} is invalid; {hint}")))
        })
        .collect()
}

/// Parses `ROWSxCOLS` with both sizes at least 1 and at most
/// [`MAX_ENTRIES`] entries in all.
fn parse_shape(text: &str) -> Result<(usize, usize), String> {
    let (rows, cols) = text
        .split_once('x')
        .ok_or_else(|| "write ROWSxCOLS, such as 4096x4096".to_string())?;
    let rows = parse_count(rows).map_err(|hint| format!("rows: {hint}"))?;
    let cols = parse_count(cols).map_err(|hint| format!("columns: {hint}"))?;
    match rows.checked_mul(cols) {
        Some(entries) if entries <= MAX_ENTRIES => Ok((rows, cols)),
        _ => Err(format!("use at most {MAX_ENTRIES} entries")),
    }
}

/// Parses a count of at least 1.
fn parse_count(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(count) if count >= 1 => Ok(count),
        _ => Err("write a whole number of at least 1".into()),
    }
}

/// Rejects a count outside `1..=largest` for option `option`.
fn check_range(option: &str, value: usize, largest: usize) -> Result<(), Failure> {
    if (1..=largest).contains(&value) {
        Ok(())
    } else {
        Err(Failure::Message(format!(
            "{option} {value} is invalid; use 1 to {largest}"
        )))
    }
}

/// Rejects a batch whose activations or outputs exceed [`MAX_ENTRIES`].
fn check_batch(rows: usize, cols: usize, batch: usize) -> Result<(), Failure> {
    let largest = rows.max(cols).checked_mul(batch);
    match largest {
        Some(entries) if entries <= MAX_ENTRIES => Ok(()),
        _ => Err(Failure::Message(format!(
            "batch {batch} with shape {rows}x{cols} needs more than {MAX_ENTRIES} entries; use a smaller batch"
        ))),
    }
}
