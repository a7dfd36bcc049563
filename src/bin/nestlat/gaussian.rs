//! `nestlat gaussian`: the distortion of `A^T B` on iid N(0, 1) matrices.

use std::io::{self, Write};

use nestlat::bound::gaussian_distortion;
use nestlat::quant::gaussian::{
    GaussianOperands, GaussianReport, GaussianSetup, MAX_GAUSSIAN_ENTRIES,
};

use super::Failure;

/// Below this vector length the per-vector norm and mean dominate the
/// stored rate.
const SHORT_VECTOR: usize = 64;

/// Below this number of products the estimate of the distortion is noisy.
const FEW_PRODUCTS: usize = 64;

/// Options of `nestlat gaussian`.
#[derive(clap::Args)]
pub struct Args {
    /// Preset name, or "all" for every preset.
    #[arg(long, default_value = "all")]
    preset: String,
    /// Rows of A and B: the length of each coded vector.
    #[arg(long, default_value_t = 4096)]
    n: usize,
    /// Columns of A.
    #[arg(long, default_value_t = 64)]
    a: usize,
    /// Columns of B.
    #[arg(long, default_value_t = 64)]
    b: usize,
    /// Seed of the Gaussian entries.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Keep the column means in the coded vectors instead of storing them.
    #[arg(long)]
    no_mean_removal: bool,
    /// Skip the randomized Hadamard rotation.
    #[arg(long)]
    no_rotation: bool,
    /// Print one JSON object per preset instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs the command.
pub fn run(args: &Args) -> Result<(), Failure> {
    let presets = super::select_presets(&args.preset)?;
    let setup = GaussianSetup {
        n: args.n,
        a: args.a,
        b: args.b,
        seed: args.seed,
        remove_mean: !args.no_mean_removal,
        rotate: !args.no_rotation,
    };
    check_sizes(&setup)?;
    let operands = GaussianOperands::draw(setup)?;
    warn_about_small_sizes(args);

    let mut out = io::stdout().lock();
    if !args.json {
        write_header(&mut out)?;
    }
    for preset in presets {
        let report = operands.measure(preset)?;
        if args.json {
            let line = serde_json::to_string(&report)
                .map_err(|error| Failure::Message(error.to_string()))?;
            writeln!(out, "{line}")?;
        } else {
            write_row(&mut out, &report)?;
        }
    }
    Ok(())
}

/// Rejects zero sizes, and sizes that [`GaussianOperands::draw`] rejects,
/// with a message that names the options.
pub fn check_sizes(setup: &GaussianSetup) -> Result<(), Failure> {
    if setup.n == 0 || setup.a == 0 || setup.b == 0 {
        return Err(Failure::Message(format!(
            "--n {}, --a {} and --b {} must each be at least 1",
            setup.n, setup.a, setup.b
        )));
    }
    if !setup.fits_limits() {
        return Err(Failure::Message(format!(
            "n x a, n x b and a x b must each be at most {MAX_GAUSSIAN_ENTRIES} entries; \
             lower --n, --a or --b"
        )));
    }
    Ok(())
}

fn warn_about_small_sizes(args: &Args) {
    if args.n < SHORT_VECTOR {
        eprintln!(
            "warning: with n = {} the per-vector norm and mean add {:.2} bits per entry, \
             so the stored rate is far above the preset's",
            args.n,
            48.0 / args.n as f64
        );
    }
    if args.a * args.b < FEW_PRODUCTS {
        eprintln!(
            "warning: {} products give a noisy estimate of the distortion; \
             use a x b >= {FEW_PRODUCTS}",
            args.a * args.b
        );
    }
}

fn write_header(out: &mut impl Write) -> io::Result<()> {
    writeln!(
        out,
        "{:<9} {:<7} {:>7} {:>7} {:>10} {:>10} {:>7} {:>10} {:>10} {:>7}",
        "preset",
        "lattice",
        "stored",
        "ideal",
        "D",
        "Gamma(R)",
        "gap dB",
        "D weight",
        "2^-2R",
        "gap dB"
    )
}

fn write_row(out: &mut impl Write, report: &GaussianReport) -> io::Result<()> {
    writeln!(
        out,
        "{:<9} {:<7} {:>7.4} {:>7.4} {:>10.6} {:>10.6} {:>7.2} {:>10.6} {:>10.6} {:>7.2}",
        report.preset,
        report.lattice,
        report.bits_stored,
        report.bits_ideal,
        report.distortion,
        report.gamma,
        report.gap_db,
        report.distortion_weight_only,
        gaussian_distortion(report.bits_stored),
        report.gap_weight_only_db
    )
}
