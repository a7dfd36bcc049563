//! One-thread speed and accuracy of nestlat's product kernels against
//! candle's Q4_0 and Q4_K kernels and a plain `f32` product, on the same
//! Gaussian matrices. See `README.md` beside `Cargo.toml` for the command
//! and the recorded results.

mod candle_peer;
mod nestlat_peer;
mod options;
mod report;
mod timing;

use std::error::Error;
use std::io::{self, Write};
use std::process::ExitCode;

use serde::Serialize;

use options::{Options, Parsed, Shape};
use report::{Format, Measurement};
use timing::{
    Case, dense_matvec, exact_matvec, gaussian, median_ns, output_sqnr_db, process_threads,
};

/// Seeds of the weights and of the activation vector, as in `nestlat bench`.
const WEIGHT_SEED: u64 = 1;
const ACTIVATION_SEED: u64 = 2;

/// CPU features that decide which SIMD paths the kernels take.
const FEATURES: [&str; 6] = ["avx2", "fma", "f16c", "avx512f", "avx512vnni", "avxvnni"];

/// The first JSON line: how the program was built and what it ran on.
#[derive(Serialize)]
struct Setup {
    record: &'static str,
    candle_version: &'static str,
    candle_threads: usize,
    compiled_features: Vec<&'static str>,
    detected_features: Vec<&'static str>,
    candle_q4_k_repack: Option<&'static str>,
    repeats: usize,
}

fn main() -> ExitCode {
    let options = match options::parse(std::env::args().skip(1)) {
        Ok(Parsed::Run(options)) => options,
        Ok(Parsed::Help) => {
            println!("{}", options::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("nestlat-peers: {message}");
            return ExitCode::from(2);
        }
    };
    force_one_thread();
    if cfg!(target_arch = "x86_64") && !cfg!(target_feature = "avx2") {
        eprintln!(
            "nestlat-peers: warning: built without AVX2, so nestlat's e8 kernel runs on SSE2; \
             build from benches/peers or with RUSTFLAGS=\"-C target-cpu=x86-64-v3\""
        );
    }
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("nestlat-peers: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Sets the thread counts of candle to one before any thread starts.
///
/// candle 0.11.1 sizes the barrier pool behind `k_quants::matmul` and
/// `QMatMul::forward` on its first use. The count comes from
/// `CANDLE_NUM_THREADS`, else `RAYON_NUM_THREADS`, else the physical core
/// count, and the pool starts one thread fewer than that count. Its rayon
/// pool reads `RAYON_NUM_THREADS`. With both at 1 the calling thread does
/// all the work, and each measurement records the threads of the process
/// afterwards to confirm it.
fn force_one_thread() {
    // SAFETY: this runs first in `main`, before this program or any library
    // has started a thread, so nothing reads the environment concurrently.
    unsafe {
        std::env::set_var("CANDLE_NUM_THREADS", "1");
        std::env::set_var("RAYON_NUM_THREADS", "1");
        // Either variable makes `QMatMul` dequantize its weights to f32 or f16.
        std::env::remove_var("CANDLE_DEQUANTIZE_ALL");
        std::env::remove_var("CANDLE_DEQUANTIZE_ALL_F16");
    }
}

/// Measures every shape and writes the rows as they complete.
fn run(options: &Options) -> Result<(), Box<dyn Error>> {
    let mut out = io::stdout().lock();
    write_setup(&mut out, options)?;
    if !options.json {
        report::write_header(&mut out)?;
    }
    for &shape in &options.shapes {
        let measurements = measure_shape(shape, options.repeats)?;
        for row in report::rows_of_shape(shape, &measurements)? {
            report::write_row(&mut out, &row, options.json)?;
        }
        out.flush()?;
    }
    Ok(())
}

/// Measures the `f32` baseline, candle and nestlat on one Gaussian matrix.
fn measure_shape(shape: Shape, repeats: usize) -> Result<Vec<Measurement>, Box<dyn Error>> {
    let weights = gaussian(shape.entries(), WEIGHT_SEED);
    let x = gaussian(shape.cols, ACTIVATION_SEED);
    let exact = exact_matvec(&weights, shape.cols, &x);
    let case = Case {
        shape,
        weights: &weights,
        x: &x,
        exact: &exact,
        repeats,
    };

    let mut measurements = vec![measure_f32(&case)];
    measurements.extend(candle_peer::measure_all(&case)?);
    measurements.extend(nestlat_peer::measure_all(&case)?);
    Ok(measurements)
}

/// Times the plain `f32` product of [`timing::dense_matvec`].
fn measure_f32(case: &Case<'_>) -> Measurement {
    let mut y = vec![0.0f32; case.shape.rows];
    let ns = median_ns(case.repeats, || {
        dense_matvec(case.weights, case.shape.cols, case.x, &mut y);
        Ok::<_, ()>(())
    })
    .unwrap_or(f64::NAN);
    let backend = if cfg!(target_feature = "avx2") {
        "f32x8/avx2"
    } else {
        "f32x8/baseline"
    };
    Measurement {
        library: "std",
        format: Format::F32,
        name: "f32".into(),
        entry: "dense_dot",
        activations: "f32",
        backend: backend.into(),
        bits_stored: 32.0,
        ns_per_product: ns,
        sqnr_db: output_sqnr_db(case.exact, &y),
        encode_mweights_per_s: None,
        process_threads: process_threads(),
    }
}

/// Writes the build and machine facts: a JSON line, or comment lines above
/// the table.
fn write_setup(out: &mut impl Write, options: &Options) -> Result<(), Box<dyn Error>> {
    let setup = Setup {
        record: "setup",
        candle_version: candle_peer::CANDLE_VERSION,
        candle_threads: candle_core::utils::get_num_threads(),
        compiled_features: compiled_features(),
        detected_features: detected_features(),
        candle_q4_k_repack: candle_peer::repack_level(),
        repeats: options.repeats,
    };
    if options.json {
        writeln!(out, "{}", serde_json::to_string(&setup)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "# candle-core {}, {} thread; medians of {} products; ratios are speed over the fastest peer entry",
        setup.candle_version, setup.candle_threads, setup.repeats
    )?;
    writeln!(
        out,
        "# compiled with: {}; detected: {}; candle Q4_K repack: {}",
        setup.compiled_features.join(" "),
        setup.detected_features.join(" "),
        setup.candle_q4_k_repack.unwrap_or("none")
    )?;
    Ok(())
}

/// Returns the features of [`FEATURES`] that this build enables.
fn compiled_features() -> Vec<&'static str> {
    let enabled = [
        cfg!(target_feature = "avx2"),
        cfg!(target_feature = "fma"),
        cfg!(target_feature = "f16c"),
        cfg!(target_feature = "avx512f"),
        cfg!(target_feature = "avx512vnni"),
        cfg!(target_feature = "avxvnni"),
    ];
    FEATURES
        .iter()
        .zip(enabled)
        .filter_map(|(&name, on)| on.then_some(name))
        .collect()
}

/// Returns the features of [`FEATURES`] that this CPU reports.
fn detected_features() -> Vec<&'static str> {
    #[cfg(target_arch = "x86_64")]
    {
        let present = [
            is_x86_feature_detected!("avx2"),
            is_x86_feature_detected!("fma"),
            is_x86_feature_detected!("f16c"),
            is_x86_feature_detected!("avx512f"),
            is_x86_feature_detected!("avx512vnni"),
            is_x86_feature_detected!("avxvnni"),
        ];
        FEATURES
            .iter()
            .zip(present)
            .filter_map(|(&name, on)| on.then_some(name))
            .collect()
    }
    #[cfg(not(target_arch = "x86_64"))]
    Vec::new()
}
