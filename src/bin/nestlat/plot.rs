//! `nestlat plot`: an SVG of the distortion of `A^T B` against the rate on
//! iid N(0, 1) matrices, with the limits Gamma(R) and `2^(-2R)` of
//! Ordentlich and Polyanskiy ("Optimal quantization for matrix
//! multiplication", ISIT 2025).

use std::fs;
use std::io::{self, Write};
use std::path::PathBuf;

use nestlat::bound::{gamma, gaussian_distortion};
use nestlat::quant::gaussian::{GaussianOperands, GaussianSetup};
use nestlat::quant::{Family, LatticeKind, Preset};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::Failure;
use super::gaussian::check_sizes;

/// Width and height of the picture in pixels.
const PICTURE_SIZE: (u32, u32) = (960, 640);

/// Smallest upper end of the rate axis, in bits per entry. The axis grows
/// when a measured rate comes within [`RATE_MARGIN`] of it.
const MIN_RATE_AXIS_END: f64 = 4.5;

/// Space between the highest measured rate and the end of the rate axis.
const RATE_MARGIN: f64 = 0.25;

/// Largest lower end and smallest upper end of the distortion axis. The
/// axis grows by powers of ten to include every point and both curves.
const DISTORTION_AXIS: (f64, f64) = (1e-3, 1.0);

/// Relative distance of the ends of the distortion axis outside their
/// powers of ten, so that both ends get a label.
const AXIS_END_SLACK: f64 = 1e-9;

/// Points on each limit curve.
const CURVE_POINTS: usize = 400;

/// Font sizes as plotters takes them. Plotters 0.3.7 writes them to the SVG
/// divided by 1.24, so 15 becomes 12.1 pixels.
const CAPTION_FONT_SIZE: u32 = 20;
const LABEL_FONT_SIZE: u32 = 15;

/// Radius of the point markers in pixels.
const MARKER_SIZE: i32 = 4;

/// Options of `nestlat plot`.
#[derive(clap::Args)]
pub struct Args {
    /// Path of the SVG file to write.
    #[arg(short, long, default_value = "rate_distortion.svg")]
    output: PathBuf,
    /// Preset name, or "all" for every preset.
    #[arg(long, default_value = "all")]
    preset: String,
    /// Rows of A and B: the length of each coded vector. Smaller than the
    /// default of nestlat gaussian (4096), to keep the command quick.
    #[arg(long, default_value_t = 1024)]
    n: usize,
    /// Columns of A. Smaller than the default of nestlat gaussian (64).
    #[arg(long, default_value_t = 32)]
    a: usize,
    /// Columns of B. Smaller than the default of nestlat gaussian (64).
    #[arg(long, default_value_t = 32)]
    b: usize,
    /// Seed of the Gaussian entries.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// The measured distortions of one preset.
struct Point {
    /// Stored bits per entry of both matrices.
    rate: f64,
    /// Distortion with both matrices quantized.
    distortion: f64,
    /// Distortion with `A` quantized and `B` exact.
    distortion_weight_only: f64,
}

/// The points of one preset family, drawn in one color.
struct FamilyPoints {
    name: &'static str,
    color: RGBColor,
    points: Vec<Point>,
}

/// Runs the command.
pub fn run(args: &Args) -> Result<(), Failure> {
    let presets = super::select_presets(&args.preset)?;
    let setup = GaussianSetup {
        n: args.n,
        a: args.a,
        b: args.b,
        seed: args.seed,
        ..GaussianSetup::default()
    };
    check_sizes(&setup)?;
    let operands = GaussianOperands::draw(setup)?;

    let mut families: Vec<FamilyPoints> = Vec::new();
    for preset in presets {
        let report = operands.measure(preset)?;
        let point = Point {
            rate: report.bits_stored,
            distortion: report.distortion,
            distortion_weight_only: report.distortion_weight_only,
        };
        if !is_drawable(point.distortion) || !is_drawable(point.distortion_weight_only) {
            eprintln!(
                "warning: preset {} is left out of the plot because a log axis needs \
                 positive finite distortions, and it measured {} and {}",
                report.preset, point.distortion, point.distortion_weight_only
            );
            continue;
        }
        let (name, color) = family_style(preset);
        match families.iter_mut().find(|family| family.name == name) {
            Some(family) => family.points.push(point),
            None => families.push(FamilyPoints {
                name,
                color,
                points: vec![point],
            }),
        }
    }

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, PICTURE_SIZE).into_drawing_area();
        draw_chart(&root, args, &families)
            .and_then(|()| root.present())
            .map_err(|error| Failure::Message(format!("drawing the plot failed: {error}")))?;
    }
    fs::write(&args.output, svg).map_err(|error| {
        Failure::Message(format!(
            "writing {} failed: {error}; check that its folder exists and is writable, \
             or pass another path with --output",
            args.output.display()
        ))
    })?;

    writeln!(
        io::stdout().lock(),
        "wrote the rate-distortion plot to {}",
        args.output.display()
    )?;
    Ok(())
}

fn is_drawable(distortion: f64) -> bool {
    distortion.is_finite() && distortion > 0.0
}

/// Returns the legend name and the color of the family of `preset`. Each
/// family keeps its color whatever `--preset` selects.
fn family_style(preset: &Preset) -> (&'static str, RGBColor) {
    match preset.family() {
        Family::Voronoi {
            lattice: LatticeKind::E8,
            ..
        } => ("E8 Voronoi", RGBColor(31, 119, 180)),
        Family::Voronoi {
            lattice: LatticeKind::D4,
            ..
        } => ("D4 Voronoi", RGBColor(255, 127, 14)),
        Family::Voronoi {
            lattice: LatticeKind::Z8,
            ..
        } => ("Z8 Voronoi", RGBColor(44, 160, 44)),
        Family::Ball { .. } => ("E8 ball", RGBColor(214, 39, 40)),
        Family::LloydMax { .. } => ("Lloyd-Max scalar", RGBColor(148, 103, 189)),
        Family::Hierarchical { .. } => ("hierarchical E8", RGBColor(140, 86, 75)),
        Family::Shell { .. } => ("E8 shell", RGBColor(227, 119, 194)),
    }
}

/// Returns the upper end of the rate axis.
fn rate_axis_end(families: &[FamilyPoints]) -> f64 {
    families
        .iter()
        .flat_map(|family| &family.points)
        .map(|point| point.rate + RATE_MARGIN)
        .fold(MIN_RATE_AXIS_END, f64::max)
}

/// Returns the ends of the distortion axis: powers of ten around every
/// point and both curves up to `rate_end`.
fn distortion_axis(families: &[FamilyPoints], rate_end: f64) -> (f64, f64) {
    let (mut low, mut high) = DISTORTION_AXIS;
    // Both curves fall with the rate and start at 1, so their lowest value
    // is at the end of the axis. 2^(-2R) is the lower of the two.
    low = low.min(gaussian_distortion(rate_end));
    for point in families.iter().flat_map(|family| &family.points) {
        for distortion in [point.distortion, point.distortion_weight_only] {
            low = low.min(distortion);
            high = high.max(distortion);
        }
    }
    // The ends lie a little outside the powers of ten because plotters 0.3.7
    // puts the first label at 10^ceil(ln(low) / ln(10)), and for low = 1e-3
    // that ratio rounds to just above -3, which would drop the label 1e-3.
    (
        libm::pow(10.0, libm::floor(libm::log10(low))) * (1.0 - AXIS_END_SLACK),
        libm::pow(10.0, libm::ceil(libm::log10(high))) * (1.0 + AXIS_END_SLACK),
    )
}

/// Returns `CURVE_POINTS` points of `curve` from rate 0 to `rate_end`.
fn sample_curve(curve: fn(f64) -> f64, rate_end: f64) -> Vec<(f64, f64)> {
    (0..CURVE_POINTS)
        .map(|i| {
            let rate = rate_end * i as f64 / (CURVE_POINTS - 1) as f64;
            (rate, curve(rate))
        })
        .collect()
}

/// Draws the curves, the points and the legend on `root`.
fn draw_chart<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    args: &Args,
    families: &[FamilyPoints],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let rate_end = rate_axis_end(families);
    let (distortion_low, distortion_high) = distortion_axis(families, rate_end);

    root.fill(&WHITE)?;
    let caption = format!(
        "Distortion of A^T B on iid N(0, 1) matrices: n = {}, a = {}, b = {}, seed {}",
        args.n, args.a, args.b, args.seed
    );
    let mut chart = ChartBuilder::on(root)
        .caption(caption, ("sans-serif", CAPTION_FONT_SIZE))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..rate_end, (distortion_low..distortion_high).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("R: stored bits per entry, norms and means included")
        .y_desc("D = ||A^T B - C_hat||_F^2 / (n a b)")
        .y_label_formatter(&|distortion| format!("{distortion:.0e}"))
        .label_style(("sans-serif", LABEL_FONT_SIZE))
        .axis_desc_style(("sans-serif", LABEL_FONT_SIZE))
        .draw()?;

    chart
        .draw_series(LineSeries::new(
            sample_curve(gamma, rate_end),
            BLACK.stroke_width(2),
        ))?
        .label("Gamma(R): limit with A and B coded")
        .legend(|(x, y)| PathElement::new([(x - 10, y), (x + 10, y)], BLACK.stroke_width(2)));
    chart
        .draw_series(DashedLineSeries::new(
            sample_curve(gaussian_distortion, rate_end),
            6,
            4,
            BLACK.stroke_width(2),
        ))?
        .label("2^(-2R): limit with A coded, B exact")
        .legend(|(x, y)| {
            EmptyElement::at((x, y))
                + PathElement::new([(-10, 0), (-2, 0)], BLACK.stroke_width(2))
                + PathElement::new([(2, 0), (10, 0)], BLACK.stroke_width(2))
        });

    for family in families {
        let color = family.color;
        chart
            .draw_series(family.points.iter().map(|point| {
                Circle::new((point.rate, point.distortion), MARKER_SIZE, color.filled())
            }))?
            .label(family.name)
            .legend(move |(x, y)| Rectangle::new([(x - 8, y - 5), (x + 8, y + 5)], color.filled()));
        chart.draw_series(family.points.iter().map(|point| {
            Cross::new(
                (point.rate, point.distortion_weight_only),
                MARKER_SIZE,
                color.stroke_width(2),
            )
        }))?;
    }

    // Two entries without points explain the marker shapes.
    chart
        .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
        .label("dot: A and B coded")
        .legend(|(x, y)| Circle::new((x, y), MARKER_SIZE, BLACK.filled()));
    chart
        .draw_series(std::iter::empty::<Cross<(f64, f64), i32>>())?
        .label("cross: A coded, B exact")
        .legend(|(x, y)| Cross::new((x, y), MARKER_SIZE, BLACK.stroke_width(2)));

    // The legend goes to the lower left. At low rates both limit curves lie
    // far above the bottom of the axis, and the measured points lie near or
    // above them.
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", LABEL_FONT_SIZE))
        .draw()?;
    Ok(())
}
