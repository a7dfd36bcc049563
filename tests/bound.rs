//! Tests of the distortion limits in `nestlat::bound`.
//!
//! Reference values with more than six digits were computed with mpmath at
//! 30 significant digits from the formulas in the module documentation.

use nestlat::Error;
use nestlat::bound::{
    SPHERE_BOUND_NSM, db_above_gamma, db_above_gaussian, gamma, gap_db, gaussian_distortion,
    gaussian_product_distortion, r_star,
};
use proptest::prelude::*;

const R_STAR_REFERENCE: f64 = 0.906_323_536_951_550_8;
const PRODUCT_DISTORTION_AT_R_STAR_REFERENCE: f64 = 0.488_300_325_835_375_3;
const SLOPE_REFERENCE: f64 = 0.564_588_310_136_734_9;

/// 10 log10(2), the dB value of a factor of 2.
const DB_OF_TWO: f64 = 3.010_299_956_639_812;

fn slope_below_r_star() -> f64 {
    (1.0 - gaussian_product_distortion(r_star())) / r_star()
}

/// Unwraps the value of an `InvalidMeasurement` error, and panics on any
/// other result.
fn rejected_value(result: Result<f64, Error>) -> f64 {
    match result {
        Err(Error::InvalidMeasurement { value }) => value,
        other => panic!("expected InvalidMeasurement, got {other:?}"),
    }
}

#[test]
fn r_star_matches_reference() {
    let rate = r_star();

    assert!((rate - 0.906_323_537).abs() < 1e-9, "R* = {rate}");
    assert!((rate - R_STAR_REFERENCE).abs() < 1e-12, "R* = {rate}");
}

#[test]
fn r_star_solves_tangency_equation() {
    let rate = r_star();
    let residual = 2f64.powf(2.0 * rate) - 1.0 - 4.0 * core::f64::consts::LN_2 * rate;

    assert!(residual.abs() < 1e-12, "residual {residual} at R* = {rate}");
}

#[test]
fn product_distortion_at_r_star() {
    let value = gaussian_product_distortion(r_star());

    assert!((value - 0.488_300).abs() < 1e-6, "f(R*) = {value}");
    assert!(
        (value - PRODUCT_DISTORTION_AT_R_STAR_REFERENCE).abs() < 1e-12,
        "f(R*) = {value}"
    );
}

#[test]
fn slope_below_r_star_matches_reference() {
    let slope = slope_below_r_star();

    assert!((slope - 0.564_588).abs() < 1e-6, "slope {slope}");
    assert!((slope - SLOPE_REFERENCE).abs() < 1e-12, "slope {slope}");
}

#[test]
fn time_sharing_line_tangent_at_r_star() {
    let rate = r_star();
    let step = 1e-5;
    let derivative = (gaussian_product_distortion(rate + step)
        - gaussian_product_distortion(rate - step))
        / (2.0 * step);

    assert!(
        (derivative + slope_below_r_star()).abs() < 1e-8,
        "f'(R*) = {derivative}"
    );
}

#[test]
fn gamma_table() {
    let cases = [
        (0.5, 0.717_706),
        (1.0, 0.437_5),
        (2.0, 0.121_094),
        (3.0, 0.031_005_9),
        (4.0, 0.007_797_24),
        (5.0, 0.001_952_17),
        (8.0, 3.051_73e-5),
    ];
    for (rate, expected) in cases {
        let value = gamma(rate);
        let error = (value - expected).abs();

        assert!(error < 1e-6, "Gamma({rate}) = {value}, expected {expected}");
        assert!(
            error < 1e-5 * expected,
            "Gamma({rate}) = {value}, expected {expected}"
        );
    }
}

#[test]
fn gamma_exact_above_r_star() {
    // f(1) = 2/4 - 1/16 and f(3) = 2/64 - 1/4096 are exact in f64.
    assert_eq!(gamma(1.0), 0.4375);
    assert_eq!(gamma(3.0), 0.031_005_859_375);
}

#[test]
fn gamma_at_zero_is_one() {
    assert_eq!(gamma(0.0), 1.0);
    assert_eq!(gamma(-0.0), 1.0);
}

#[test]
fn gamma_linear_below_r_star() {
    let critical_rate = r_star();
    let midpoint = gamma(critical_rate / 2.0);
    let expected = (1.0 + gaussian_product_distortion(critical_rate)) / 2.0;

    assert!(
        (midpoint - expected).abs() < 1e-15,
        "Gamma(R*/2) = {midpoint}"
    );
}

#[test]
fn gamma_continuous_at_r_star() {
    let critical_rate = r_star();
    let below = gamma(critical_rate * (1.0 - 1e-12));
    let at = gamma(critical_rate);
    let above = gamma(critical_rate * (1.0 + 1e-12));

    assert!(
        (below - at).abs() < 1e-11,
        "Gamma below R* {below}, at R* {at}"
    );
    assert!(
        (above - at).abs() < 1e-11,
        "Gamma above R* {above}, at R* {at}"
    );
    assert_eq!(at, gaussian_product_distortion(critical_rate));
}

#[test]
fn gamma_convex_on_grid() {
    let step = 0.01;
    for index in 1..1000 {
        let rate = f64::from(index) * step;
        let second_difference = gamma(rate - step) - 2.0 * gamma(rate) + gamma(rate + step);

        assert!(
            second_difference >= -1e-12,
            "second difference {second_difference} at R = {rate}"
        );
    }
}

#[test]
fn gamma_convex_across_r_star() {
    // Chords that straddle R* must lie on or above the curve at the midpoint.
    let critical_rate = r_star();
    for offset in [1e-6, 1e-3, 0.1, 0.5] {
        let low = critical_rate - offset;
        let high = critical_rate + offset;
        let chord_midpoint = (gamma(low) + gamma(high)) / 2.0;

        assert!(
            chord_midpoint >= gamma(critical_rate) - 1e-15,
            "chord below Gamma at offset {offset}"
        );
    }
}

#[test]
fn rate_functions_nan_for_invalid_rate() {
    for rate in [f64::NAN, -1e-300, -1.0, f64::NEG_INFINITY] {
        assert!(gaussian_distortion(rate).is_nan(), "D({rate})");
        assert!(gaussian_product_distortion(rate).is_nan(), "f({rate})");
        assert!(gamma(rate).is_nan(), "Gamma({rate})");
    }
}

#[test]
fn rate_functions_vanish_at_infinite_rate() {
    assert_eq!(gaussian_distortion(f64::INFINITY), 0.0);
    assert_eq!(gaussian_product_distortion(f64::INFINITY), 0.0);
    assert_eq!(gamma(f64::INFINITY), 0.0);
}

#[test]
fn gaussian_distortion_values() {
    assert_eq!(gaussian_distortion(0.0), 1.0);
    assert_eq!(gaussian_distortion(1.0), 0.25);
    assert_eq!(gaussian_distortion(4.0), 1.0 / 256.0);
}

#[test]
fn gap_db_of_known_lattices() {
    let cases = [
        ("Z", 1.0 / 12.0, 1.53),
        ("D4", 0.076_603_2, 1.17),
        ("E8", 0.071_682_1, 0.88),
        ("Leech", 0.065_771_0, 0.51),
    ];
    for (name, nsm, expected) in cases {
        let gap = gap_db(nsm);

        assert!(
            (gap - expected).abs() < 0.01,
            "{name}: gap {gap} dB, expected {expected}"
        );
    }
}

#[test]
fn gap_db_of_sphere_bound_is_zero() {
    assert!(gap_db(SPHERE_BOUND_NSM).abs() < 1e-12);
    assert!((SPHERE_BOUND_NSM - 0.058_549_831_524_319_16).abs() < 1e-15);
}

#[test]
fn gap_db_invalid_moments() {
    assert!(gap_db(f64::NAN).is_nan());
    assert!(gap_db(-0.1).is_nan());
    assert_eq!(gap_db(0.0), f64::NEG_INFINITY);
}

#[test]
fn db_above_gamma_double_distortion() {
    for rate in [0.0, 0.5, r_star(), 3.0, 8.0] {
        let excess = db_above_gamma(2.0 * gamma(rate), rate).unwrap();

        assert!(
            (excess - DB_OF_TWO).abs() < 1e-9,
            "rate {rate}: {excess} dB"
        );
    }
    let excess = db_above_gamma(2.0 * gamma(3.0), 3.0).unwrap();
    assert!((excess - 3.0103).abs() < 1e-4, "{excess} dB");
}

#[test]
fn db_above_gaussian_double_distortion() {
    for rate in [0.0, 0.5, 3.0, 8.0] {
        let excess = db_above_gaussian(2.0 * gaussian_distortion(rate), rate).unwrap();

        assert!(
            (excess - DB_OF_TWO).abs() < 1e-9,
            "rate {rate}: {excess} dB"
        );
    }
}

#[test]
fn db_above_at_the_limit_is_zero() {
    assert!(db_above_gamma(gamma(2.0), 2.0).unwrap().abs() < 1e-12);
    assert!(
        db_above_gaussian(gaussian_distortion(2.0), 2.0)
            .unwrap()
            .abs()
            < 1e-12
    );
}

#[test]
fn db_above_zero_distortion() {
    assert_eq!(db_above_gamma(0.0, 2.0), Ok(f64::NEG_INFINITY));
    assert_eq!(db_above_gaussian(0.0, 2.0), Ok(f64::NEG_INFINITY));
    assert_eq!(db_above_gamma(-0.0, 2.0), Ok(f64::NEG_INFINITY));
}

#[test]
fn db_above_finite_where_limit_underflows() {
    // 2^(-1200) underflows f64, so Gamma(600) = 0 while the dB values are
    // finite: 10 log10(2^(-1200)) = -12000 log10(2), and
    // 10 log10(f(600)) = 10 log10(2 * 2^(-1200)) = -11990 log10(2).
    let log10_2 = core::f64::consts::LOG10_2;
    let gaussian = db_above_gaussian(1e-300, 600.0).unwrap();
    let product = db_above_gamma(1e-300, 600.0).unwrap();

    assert_eq!(gamma(600.0), 0.0);
    assert!(
        (gaussian - (-3000.0 + 12000.0 * log10_2)).abs() < 1e-9,
        "{gaussian} dB"
    );
    assert!(
        (product - (-3000.0 + 11990.0 * log10_2)).abs() < 1e-9,
        "{product} dB"
    );
}

#[test]
fn db_above_rejects_invalid_distortion() {
    for distortion in [-1e-300, -1.0, f64::INFINITY, f64::NEG_INFINITY] {
        assert_eq!(rejected_value(db_above_gamma(distortion, 2.0)), distortion);
        assert_eq!(
            rejected_value(db_above_gaussian(distortion, 2.0)),
            distortion
        );
    }
    assert!(rejected_value(db_above_gamma(f64::NAN, 2.0)).is_nan());
    assert!(rejected_value(db_above_gaussian(f64::NAN, 2.0)).is_nan());
}

#[test]
fn db_above_rejects_invalid_rate() {
    for rate in [-1e-300, -1.0, f64::INFINITY, f64::NEG_INFINITY] {
        assert_eq!(rejected_value(db_above_gamma(0.1, rate)), rate);
        assert_eq!(rejected_value(db_above_gaussian(0.1, rate)), rate);
    }
    assert!(rejected_value(db_above_gamma(0.1, f64::NAN)).is_nan());
    assert!(rejected_value(db_above_gaussian(0.1, f64::NAN)).is_nan());
}

#[test]
fn db_above_checks_distortion_first() {
    assert_eq!(rejected_value(db_above_gamma(-2.0, -3.0)), -2.0);
    assert_eq!(rejected_value(db_above_gaussian(-2.0, -3.0)), -2.0);
}

#[test]
fn invalid_measurement_message_names_value() {
    let error = db_above_gamma(-2.5, 1.0).unwrap_err();

    assert!(error.to_string().contains("-2.5"), "message: {error}");
}

proptest! {
    #[test]
    fn gamma_between_gaussian_limits(rate in 0.0..20.0f64) {
        let value = gamma(rate);
        let tolerance = 1e-14 * value;

        prop_assert!(value <= gaussian_product_distortion(rate) + tolerance);
        prop_assert!(value >= gaussian_distortion(rate) - tolerance);
    }

    #[test]
    fn gamma_non_increasing(first in 0.0..20.0f64, second in 0.0..20.0f64) {
        let low = first.min(second);
        let high = first.max(second);

        prop_assert!(gamma(high) <= gamma(low) * (1.0 + 4.0 * f64::EPSILON));
    }

    #[test]
    fn db_above_gamma_inverts_scaling(rate in 0.0..30.0f64, excess in -20.0..20.0f64) {
        let distortion = gamma(rate) * 10f64.powf(excess / 10.0);
        let measured = db_above_gamma(distortion, rate).unwrap();

        prop_assert!((measured - excess).abs() < 1e-9, "measured {} dB", measured);
    }
}
