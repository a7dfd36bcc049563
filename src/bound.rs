//! Distortion limits of quantized matrix products, and the gap of a measured
//! distortion or of a lattice to those limits.
//!
//! Source: O. Ordentlich and Y. Polyanskiy, "Optimal Quantization for Matrix
//! Multiplication", ISIT 2025 (arXiv:2410.13780). Two matrices A and B with
//! iid N(0, 1) entries are compressed independently at R bits per entry, and
//! a decoder estimates A^T B from the two descriptions. The mean squared
//! error per output entry, divided by the inner dimension n, is at least
//! Gamma(R), and nested-lattice codes reach Gamma(R) as n grows. With
//!
//! - `D(R) = 2^(-2R)`, the distortion-rate function of a unit-variance
//!   Gaussian source ([`gaussian_distortion`]),
//! - `f(R) = 2 * 2^(-2R) - 2^(-4R) = 1 - (1 - D(R))^2`, the error of
//!   compressing both factors at rate R with optimal Gaussian codes and
//!   multiplying the reconstructions ([`gaussian_product_distortion`]),
//!
//! the limit is
//!
//! - `Gamma(R) = f(R)` for `R >= R*`,
//! - `Gamma(R) = 1 - (1 - f(R*)) * R / R*` for `0 <= R < R*` ([`gamma`]).
//!
//! Below R* the limit is reached by time sharing: code a fraction `R / R*` of
//! the coordinates at rate R* and drop the rest. So Gamma is the lower convex
//! envelope of f and the point (0, 1), and the line from (0, 1) touches f at
//! R*, the positive root of `2^(2R) = 1 + 4 ln(2) R` ([`r_star`], about
//! 0.9063 bits). There `f(R*)` is about 0.4883, and Gamma falls by about
//! 0.5646 per bit below R*.
//!
//! When only one factor is compressed, as in a product of quantized weights
//! and exact activations, the limit is `D(R) = 2^(-2R)` instead.
//!
//! A lattice quantizer with normalized second moment G loses
//! `10 log10(G * 2 pi e)` dB against the sphere bound `1 / (2 pi e)`
//! ([`gap_db`]): 1.53 dB for Z, 0.88 dB for E8.

use core::f64::consts::{E, LN_2, LOG10_2, PI};

use crate::Error;

/// Normalized second moment `1 / (2 pi e)` of a ball as the dimension grows,
/// the lower bound on the normalized second moment of any lattice.
pub const SPHERE_BOUND_NSM: f64 = 1.0 / (2.0 * PI * E);

/// Maximum number of Newton steps in [`r_star`], which stops after about
/// seven.
const MAX_NEWTON_STEPS: usize = 64;

/// Computes the distortion-rate function `2^(-2R)` of a unit-variance
/// Gaussian source at `rate` bits per entry.
///
/// Returns NaN for a NaN or negative rate and 0 for an infinite rate.
pub fn gaussian_distortion(rate: f64) -> f64 {
    if rate.is_nan() || rate < 0.0 {
        return f64::NAN;
    }
    libm::exp2(-2.0 * rate)
}

/// Computes `f(R) = 2 * 2^(-2R) - 2^(-4R)`, the product distortion when both
/// factors are compressed at `rate` bits per entry with optimal Gaussian
/// codes.
///
/// Returns NaN for a NaN or negative rate and 0 for an infinite rate.
pub fn gaussian_product_distortion(rate: f64) -> f64 {
    let distortion = gaussian_distortion(rate);
    // D * (2 - D) equals 1 - (1 - D)^2 without the cancellation near D = 0.
    distortion * (2.0 - distortion)
}

/// Solves `2^(2R) = 1 + 4 ln(2) R` for its positive root R*, about
/// 0.906323537 bits per entry, where Gamma changes from the time-sharing
/// line to f.
///
/// The root is computed with Newton's method on each call, which costs a few
/// `exp2` evaluations.
pub fn r_star() -> f64 {
    // g(R) = 2^(2R) - 1 - 4 ln(2) R is convex and increasing above R = 0.5,
    // and g(1) > 0. So Newton's iterates from R = 1 decrease monotonically to
    // the root, and the loop stops once rounding ends that decrease.
    let mut rate = 1.0;
    for _ in 0..MAX_NEWTON_STEPS {
        let power = libm::exp2(2.0 * rate);
        let value = power - 1.0 - 4.0 * LN_2 * rate;
        let derivative = 2.0 * LN_2 * (power - 2.0);
        let next = rate - value / derivative;
        if next >= rate {
            break;
        }
        rate = next;
    }
    rate
}

/// Computes Gamma(R), the minimum product distortion per output entry and
/// per unit of the inner dimension when both factors, with iid N(0, 1)
/// entries, are compressed at `rate` bits per entry.
///
/// Returns 1 at rate 0, NaN for a NaN or negative rate and 0 for an infinite
/// rate.
pub fn gamma(rate: f64) -> f64 {
    if rate.is_nan() || rate < 0.0 {
        return f64::NAN;
    }
    let critical_rate = r_star();
    if rate >= critical_rate {
        return gaussian_product_distortion(rate);
    }
    let drop_per_bit = (1.0 - gaussian_product_distortion(critical_rate)) / critical_rate;
    1.0 - drop_per_bit * rate
}

/// Computes the gap `10 log10(G * 2 pi e)` in dB between a lattice with
/// normalized second moment `nsm` and the sphere bound [`SPHERE_BOUND_NSM`].
///
/// Returns NaN for a NaN or negative `nsm` and -inf for 0.
pub fn gap_db(nsm: f64) -> f64 {
    10.0 * libm::log10(nsm / SPHERE_BOUND_NSM)
}

/// Computes `10 log10(D / Gamma(R))`, how many dB a measured product
/// `distortion` D lies above the limit [`gamma`] at the stored `rate` R.
///
/// D is the mean squared error per output entry divided by the inner
/// dimension, for factors scaled to unit variance. A distortion of 0 gives
/// -inf. The result stays finite at rates where Gamma underflows `f64`.
///
/// # Errors
///
/// [`Error::InvalidMeasurement`] when `distortion` or `rate` is negative,
/// NaN or infinite. The distortion is checked first.
pub fn db_above_gamma(distortion: f64, rate: f64) -> Result<f64, Error> {
    validate_measurement(distortion)?;
    validate_measurement(rate)?;
    Ok(10.0 * libm::log10(distortion) - gamma_db(rate))
}

/// Computes `10 log10(D / 2^(-2R))`, how many dB a measured weight-only
/// product `distortion` D lies above the one-factor limit
/// [`gaussian_distortion`] at the stored `rate` R.
///
/// D is normalized as in [`db_above_gamma`]. A distortion of 0 gives -inf.
/// The result stays finite at rates where `2^(-2R)` underflows `f64`.
///
/// # Errors
///
/// [`Error::InvalidMeasurement`] when `distortion` or `rate` is negative,
/// NaN or infinite. The distortion is checked first.
pub fn db_above_gaussian(distortion: f64, rate: f64) -> Result<f64, Error> {
    validate_measurement(distortion)?;
    validate_measurement(rate)?;
    Ok(10.0 * libm::log10(distortion) + gaussian_rate_db(rate))
}

/// Rejects a rate or distortion that is negative, NaN or infinite. Negative
/// zero passes.
fn validate_measurement(value: f64) -> Result<(), Error> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidMeasurement { value })
    }
}

/// Computes `-10 log10(2^(-2R)) = 20 log10(2) R` without forming `2^(-2R)`,
/// which underflows above about 537 bits.
fn gaussian_rate_db(rate: f64) -> f64 {
    rate * (20.0 * LOG10_2)
}

/// Computes `10 log10(Gamma(R))` for a valid rate. At and above R* it uses
/// `log10(f) = log10(2^(-2R)) + log10(2 - 2^(-2R))`, which stays finite where
/// f underflows.
fn gamma_db(rate: f64) -> f64 {
    if rate < r_star() {
        return 10.0 * libm::log10(gamma(rate));
    }
    10.0 * libm::log10(2.0 - gaussian_distortion(rate)) - gaussian_rate_db(rate)
}
