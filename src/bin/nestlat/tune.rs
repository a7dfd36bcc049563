//! `nestlat tune`: re-derives the scale sets and gains of the presets.

use std::io::{self, Write};

use nestlat::bound::gaussian_distortion;
use nestlat::quant::tune::{MAX_TUNING_GROUPS, Measurement, gaussian_groups, measure_preset, tune};
use nestlat::quant::{Family, Preset};

use super::Failure;

/// Options of `nestlat tune`.
#[derive(clap::Args)]
pub struct Args {
    /// Preset name, or "all" for every preset.
    #[arg(long, default_value = "all")]
    preset: String,
    /// Groups of 8 Gaussian values in the training sample (1 to 2^24).
    #[arg(long, default_value_t = 20_000)]
    samples: usize,
    /// Seed of the training sample.
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

/// Runs the command.
pub fn run(args: &Args) -> Result<(), Failure> {
    let presets = super::select_presets(&args.preset)?;
    if !(1..=MAX_TUNING_GROUPS).contains(&args.samples) {
        return Err(Failure::Message(format!(
            "--samples {} is invalid; use 1 to {MAX_TUNING_GROUPS} groups",
            args.samples
        )));
    }
    let samples = gaussian_groups(args.samples, args.seed)?;

    let mut out = io::stdout().lock();
    for preset in presets {
        let stored = measure_preset(preset, &samples)?;
        let tuned = tune(preset, &samples)?;
        let rounded: Vec<f64> = tuned
            .scales
            .iter()
            .map(|&scale| (f64::from(scale) * 1000.0).round() / 1000.0)
            .collect();

        writeln!(out, "{}", preset.name())?;
        writeln!(
            out,
            "  stored scales {:?} gain {:.4}",
            stored_scales(preset),
            preset.gain()
        )?;
        writeln!(out, "  stored: {}", describe(preset, &stored))?;
        writeln!(
            out,
            "  tuned:  {}, scales {rounded:?}",
            describe(preset, &tuned.measurement)
        )?;
    }
    Ok(())
}

/// Formats a measurement against `2^-2r`, where `r` is the rate of the code
/// on the groups it codes: 1 bit for the shell and low-rate presets.
fn describe(preset: &Preset, measurement: &Measurement) -> String {
    let (rate, note) = match preset.family() {
        Family::Shell { .. } => (1.0, " of the 1-bit shell code on the kept groups"),
        _ => (f64::from(preset.nominal_bits()), ""),
    };
    format!(
        "mse {:.6}{note} ({:+.3} dB above 2^-2R at R = {rate}), gain {:.4}",
        measurement.mse,
        10.0 * (measurement.mse / gaussian_distortion(rate)).log10(),
        measurement.gain
    )
}

fn stored_scales(preset: &Preset) -> Vec<f32> {
    match *preset.family() {
        Family::Voronoi { scales, .. } => scales.to_vec(),
        Family::Hierarchical { beta, .. } | Family::Ball { beta } => vec![beta],
        _ => Vec::new(),
    }
}
