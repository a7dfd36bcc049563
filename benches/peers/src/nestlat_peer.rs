//! nestlat's product kernels (`nestlat::kernel`), timed with the activation
//! preparation included.

use std::error::Error;
use std::hint::black_box;
use std::time::Instant;

use nestlat::kernel::{self, Activations, BufferLengths, KernelPath};
use nestlat::quant::{Preset, QuantizedMatrix, QuantizerConfig, VectorSet};

use crate::report::{Format, Measurement};
use crate::timing::{Case, median_ns, output_sqnr_db, process_threads};

/// Presets measured on every shape: the 4-bit Lloyd-Max digits of the
/// nibble kernel, and the E8 Voronoi codes at 4, 3 and 2 bits.
pub const PRESETS: [&str; 4] = ["lloyd-4", "e8-4", "e8-3", "e8b-2"];

/// Measures every preset of [`PRESETS`].
///
/// # Errors
///
/// Any error of nestlat, or a preset name that nestlat does not know.
pub fn measure_all(case: &Case<'_>) -> Result<Vec<Measurement>, Box<dyn Error>> {
    PRESETS.iter().map(|&name| measure(case, name)).collect()
}

/// Quantizes the weights with the default settings of `preset_name` on one
/// thread, then times `Activations::prepare` plus `kernel::matmul_rows` over
/// all rows.
fn measure(case: &Case<'_>, preset_name: &str) -> Result<Measurement, Box<dyn Error>> {
    let rows = case.shape.rows;
    let cols = case.shape.cols;
    let preset = Preset::by_name(preset_name)
        .ok_or_else(|| format!("nestlat has no preset {preset_name:?}"))?;

    let start = Instant::now();
    let coded = QuantizedMatrix::quantize(
        &VectorSet::rows(case.weights, rows, cols)?,
        &QuantizerConfig::new(preset),
    )?;
    let encode_s = start.elapsed().as_secs_f64();

    let view = coded.view();
    let path = KernelPath::of(&view);
    let lens = BufferLengths::new(&view, 1)?;
    let mut floats = vec![0.0f32; lens.floats];
    let mut bytes = vec![0i8; lens.bytes];
    let x = VectorSet::rows(case.x, 1, cols)?;
    let mut y = vec![0.0f32; rows];
    let ns = median_ns(case.repeats, || {
        let activations = Activations::prepare(&view, &x, &mut floats, &mut bytes)?;
        kernel::matmul_rows(&view, &activations, 0..rows, &mut y)?;
        black_box(&mut y);
        Ok::<_, nestlat::Error>(())
    })?;
    let threads = process_threads();

    let activations = match path {
        KernelPath::Nibble | KernelPath::Ball => "i8",
        _ => "f32",
    };
    Ok(Measurement {
        library: "nestlat",
        format: Format::Nestlat,
        name: preset.name().into(),
        entry: "matmul_rows",
        activations,
        backend: format!("{}/{}", path.name(), kernel::backend(path)),
        bits_stored: view.stored_bits_per_entry(),
        ns_per_product: ns,
        sqnr_db: output_sqnr_db(case.exact, &y),
        encode_mweights_per_s: Some(case.shape.entries() as f64 / encode_s / 1e6),
        process_threads: threads,
    })
}
