//! `nestlat tune`: re-derives the scale sets and gains of the presets.

use nestlat::bound::gaussian_distortion;
use nestlat::quant::tune::{gaussian_groups, measure_preset, tune};
use nestlat::quant::{Family, Preset};

/// Options of `nestlat tune`.
#[derive(clap::Args)]
pub struct Args {
    /// Preset name, or "all" for every preset.
    #[arg(long, default_value = "all")]
    preset: String,
    /// Groups of 8 Gaussian values in the training sample.
    #[arg(long, default_value_t = 20_000)]
    samples: usize,
    /// Seed of the training sample.
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

/// Runs the command.
pub fn run(args: &Args) -> Result<(), String> {
    let presets = super::select_presets(&args.preset)?;
    let samples = gaussian_groups(args.samples, args.seed);
    for preset in presets {
        let stored = measure_preset(preset, &samples).map_err(|error| error.to_string())?;
        let tuned = tune(preset, &samples).map_err(|error| error.to_string())?;
        let rate = f64::from(preset.nominal_bits());
        let reference = gaussian_distortion(rate);
        println!("{}", preset.name());
        println!(
            "  stored scales {:?} gain {:.4}",
            stored_scales(preset),
            preset.gain()
        );
        println!(
            "  stored: mse {:.6} ({:+.3} dB above 2^-2R), measured gain {:.4}",
            stored.mse,
            10.0 * (stored.mse / reference).log10(),
            stored.gain
        );
        let rounded: Vec<f64> = tuned
            .scales
            .iter()
            .map(|&scale| (f64::from(scale) * 1000.0).round() / 1000.0)
            .collect();
        println!(
            "  tuned:  mse {:.6} ({:+.3} dB above 2^-2R), gain {:.4}, scales {rounded:?}",
            tuned.measurement.mse,
            10.0 * (tuned.measurement.mse / reference).log10(),
            tuned.measurement.gain
        );
    }
    Ok(())
}

fn stored_scales(preset: &Preset) -> Vec<f32> {
    match *preset.family() {
        Family::Voronoi { scales, .. } => scales.to_vec(),
        Family::Hierarchical { beta, .. } | Family::Ball { beta } => vec![beta],
        _ => Vec::new(),
    }
}
