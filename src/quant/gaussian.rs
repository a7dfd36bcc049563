//! The distortion of `A^T B` on iid N(0, 1) matrices, measured against the
//! limit Gamma(R) (feature `alloc`). `nestlat gaussian` prints it.
//!
//! `A` (`n x a`) and `B` (`n x b`) are drawn from a seed and quantized column
//! by column with the same setting. The distortion is per entry of the
//! product per unit of `n`, as in Ordentlich and Polyanskiy ("Optimal
//! quantization for matrix multiplication", ISIT 2025):
//! `D = ||A^T B - C_hat||_F^2 / (n a b)`.
//!
//! - `distortion`: both operands quantized, compared with Gamma(R);
//! - `distortion_weight_only`: `A` quantized and `B` exact, compared with
//!   the single-source limit `2^(-2R)`.
//!
//! `R` is the stored rate of both matrices together: every byte written,
//! headers, norms and means included.

use alloc::vec;
use alloc::vec::Vec;

use super::config::QuantizerConfig;
use super::owned::QuantizedMatrix;
use super::preset::{Family, LatticeKind, Preset};
use super::vectors::VectorSet;
use crate::Error;
use crate::bound::{gamma, gaussian_distortion};
use crate::product::{matmul_tn, matmul_tn_f32, scratch_len};
use crate::rng::SplitMix64;

/// Largest entry count of `A`, `B` or `A^T B`: 2^28 values, 1 GiB of `f32`.
pub const MAX_GAUSSIAN_ENTRIES: usize = 1 << 28;

/// Shapes, seed and quantizer options of one experiment. Zero sizes are
/// accepted and give NaN distortions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GaussianSetup {
    /// Rows of `A` and `B`: the length of each coded vector.
    pub n: usize,
    /// Columns of `A`.
    pub a: usize,
    /// Columns of `B`.
    pub b: usize,
    /// Seed of the Gaussian entries.
    pub seed: u64,
    /// Whether column means are removed and stored.
    pub remove_mean: bool,
    /// Whether columns are rotated.
    pub rotate: bool,
}

impl Default for GaussianSetup {
    /// Returns the setting of `nestlat gaussian` without options:
    /// `n = 4096`, `a = b = 64`, seed 1, means removed, rotated.
    fn default() -> Self {
        Self {
            n: 4096,
            a: 64,
            b: 64,
            seed: 1,
            remove_mean: true,
            rotate: true,
        }
    }
}

impl GaussianSetup {
    /// Tells whether `n a`, `n b` and `a b` are each at most
    /// [`MAX_GAUSSIAN_ENTRIES`].
    pub fn fits_limits(&self) -> bool {
        [
            self.n.checked_mul(self.a),
            self.n.checked_mul(self.b),
            self.a.checked_mul(self.b),
        ]
        .iter()
        .all(|size| size.is_some_and(|entries| entries <= MAX_GAUSSIAN_ENTRIES))
    }
}

/// The result for one preset.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "cli", derive(serde::Serialize))]
pub struct GaussianReport {
    /// Preset name.
    pub preset: &'static str,
    /// `"E8"`, `"D4"`, `"Z8"` or `"scalar"`.
    pub lattice: &'static str,
    /// Bits per entry of both matrices, everything written included.
    pub bits_stored: f64,
    /// `log2` of the code words' states per coded entry.
    pub bits_ideal: f64,
    /// Rows of `A` and `B`.
    pub n: usize,
    /// Columns of `A`.
    pub a: usize,
    /// Columns of `B`.
    pub b: usize,
    /// Both quantized, per entry per unit of `n`.
    pub distortion: f64,
    /// Gamma at `bits_stored`.
    pub gamma: f64,
    /// `10 log10(distortion / gamma)`.
    pub gap_db: f64,
    /// `A` quantized, `B` exact, per entry per unit of `n`.
    pub distortion_weight_only: f64,
    /// `10 log10(distortion_weight_only / 2^(-2 bits_stored))`.
    pub gap_weight_only_db: f64,
}

/// The drawn matrices and their exact product, shared by every preset.
#[derive(Clone, Debug)]
pub struct GaussianOperands {
    setup: GaussianSetup,
    a: Vec<f32>,
    b: Vec<f32>,
    exact: Vec<f64>,
}

impl GaussianOperands {
    /// Draws `A` from stream 0 and `B` from stream 1 of the seed and
    /// computes `A^T B` in `f64`.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeTooLarge`] when `n a`, `n b` or `a b` exceeds
    /// [`MAX_GAUSSIAN_ENTRIES`].
    pub fn draw(setup: GaussianSetup) -> Result<Self, Error> {
        if !setup.fits_limits() {
            return Err(Error::ShapeTooLarge {
                vector_len: setup.n,
                vector_count: setup.a.max(setup.b),
            });
        }

        let a = gaussian_matrix(setup.n, setup.a, setup.seed, 0);
        let b = gaussian_matrix(setup.n, setup.b, setup.seed, 1);
        let exact = exact_product(&a, &b, &setup);
        Ok(Self { setup, a, b, exact })
    }

    /// Quantizes both matrices with `preset` and measures the distortions.
    ///
    /// # Errors
    ///
    /// The errors of quantization and of the products, which valid shapes
    /// never trigger.
    pub fn measure(&self, preset: &'static Preset) -> Result<GaussianReport, Error> {
        let setup = &self.setup;
        let config = self.config(preset);
        let a_vectors = VectorSet::columns(&self.a, setup.n, setup.a)?;
        let b_vectors = VectorSet::columns(&self.b, setup.n, setup.b)?;
        let a_coded = QuantizedMatrix::quantize(&a_vectors, &config)?;
        let b_coded = QuantizedMatrix::quantize(&b_vectors, &config)?;
        let (a_view, b_view) = (a_coded.view(), b_coded.view());

        let mut scratch = vec![0.0f32; scratch_len(a_view.coded_len(), setup.b)];
        let mut both = vec![0.0f32; setup.a * setup.b];
        matmul_tn(&a_view, &b_view, &mut scratch, &mut both)?;
        let mut weight_only = vec![0.0f32; setup.a * setup.b];
        matmul_tn_f32(&a_view, &b_vectors, &mut scratch, &mut weight_only)?;

        let stored_bytes = a_coded.as_bytes().len() + b_coded.as_bytes().len();
        let entries = (setup.n * (setup.a + setup.b)) as f64;
        let bits_stored = stored_bytes as f64 * 8.0 / entries;
        let products = (setup.n * setup.a * setup.b) as f64;
        let distortion = squared_error(&self.exact, &both) / products;
        let distortion_weight_only = squared_error(&self.exact, &weight_only) / products;
        let bound = gamma(bits_stored);

        Ok(GaussianReport {
            preset: preset.name(),
            lattice: lattice_name(preset),
            bits_stored,
            bits_ideal: a_view.ideal_bits_per_entry(),
            n: setup.n,
            a: setup.a,
            b: setup.b,
            distortion,
            gamma: bound,
            gap_db: 10.0 * libm::log10(distortion / bound),
            distortion_weight_only,
            gap_weight_only_db: 10.0
                * libm::log10(distortion_weight_only / gaussian_distortion(bits_stored)),
        })
    }

    fn config(&self, preset: &'static Preset) -> QuantizerConfig {
        let config = QuantizerConfig::new(preset).with_mean_removal(self.setup.remove_mean);
        if self.setup.rotate {
            config
        } else {
            config.with_rotation_seed(None)
        }
    }
}

/// Draws an `n x columns` row-major matrix of iid N(0, 1) entries.
fn gaussian_matrix(n: usize, columns: usize, seed: u64, stream: u64) -> Vec<f32> {
    let mut rng = SplitMix64::for_stream(seed, stream);
    (0..n * columns)
        .map(|_| rng.next_gaussian() as f32)
        .collect()
}

/// Returns `A^T B` in `f64`, `a x b` row-major.
fn exact_product(a: &[f32], b: &[f32], setup: &GaussianSetup) -> Vec<f64> {
    let mut c = vec![0.0f64; setup.a * setup.b];
    for k in 0..setup.n {
        let a_row = &a[k * setup.a..(k + 1) * setup.a];
        let b_row = &b[k * setup.b..(k + 1) * setup.b];
        for (i, &left) in a_row.iter().enumerate() {
            let c_row = &mut c[i * setup.b..(i + 1) * setup.b];
            for (value, &right) in c_row.iter_mut().zip(b_row) {
                *value += f64::from(left) * f64::from(right);
            }
        }
    }
    c
}

fn squared_error(exact: &[f64], estimate: &[f32]) -> f64 {
    exact
        .iter()
        .zip(estimate)
        .map(|(&c, &c_hat)| {
            let error = c - f64::from(c_hat);
            error * error
        })
        .sum()
}

fn lattice_name(preset: &Preset) -> &'static str {
    match preset.family() {
        Family::Voronoi {
            lattice: LatticeKind::D4,
            ..
        } => "D4",
        Family::Voronoi {
            lattice: LatticeKind::Z8,
            ..
        } => "Z8",
        Family::LloydMax { .. } => "scalar",
        Family::Voronoi {
            lattice: LatticeKind::E8,
            ..
        }
        | Family::Hierarchical { .. }
        | Family::Ball { .. }
        | Family::Shell { .. } => "E8",
    }
}
