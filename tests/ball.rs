//! The 2^16-point ball code of the half-integer coset of E8.

use nestlat::Error;
use nestlat::code::{BALL_PATTERNS, E8BallCode, ball_vector};
use proptest::prelude::*;

/// Returns the doubled absolute values of pattern `pattern`.
fn doubled_pattern(pattern: usize) -> [u32; 8] {
    ball_vector(pattern as u16).map(|value| (2.0 * value.abs()) as u32)
}

fn squares(pattern: &[u32; 8]) -> u32 {
    pattern.iter().map(|&value| value * value).sum()
}

#[test]
fn patterns_are_nearest_in_order() {
    let patterns: Vec<[u32; 8]> = (0..BALL_PATTERNS).map(doubled_pattern).collect();
    for pair in patterns.windows(2) {
        let key = |pattern: &[u32; 8]| (squares(pattern), *pattern);
        assert!(
            key(&pair[0]) < key(&pair[1]),
            "{:?} not before {:?}",
            pair[0],
            pair[1]
        );
    }
    for pattern in &patterns {
        assert!(
            pattern.iter().all(|&value| value % 2 == 1 && value <= 7),
            "{pattern:?}"
        );
    }

    // Every pattern of doubled squared norm up to 48 is present, and those of
    // norm 56 fill the rest.
    let mut small = 0;
    for code in 0u32..1 << 16 {
        let pattern: [u32; 8] = core::array::from_fn(|k| 2 * ((code >> (2 * k)) & 3) + 1);
        if squares(&pattern) <= 48 {
            small += 1;
        }
    }
    assert_eq!(small, 451);
    assert_eq!(
        patterns
            .iter()
            .filter(|pattern| squares(pattern) <= 48)
            .count(),
        451
    );
    assert!(patterns.iter().all(|pattern| squares(pattern) <= 56));
}

#[test]
fn codewords_are_distinct_coset_points() {
    let mut seen = std::collections::HashSet::new();
    for index in 0..=u16::MAX {
        let doubled = ball_vector(index).map(|value| (2.0 * value) as i32);
        assert!(
            doubled.iter().all(|value| value % 2 != 0),
            "index {index}: {doubled:?}"
        );
        let sum: i32 = doubled.iter().sum();
        assert_eq!(
            sum.rem_euclid(4),
            0,
            "index {index}: coordinate sum of {doubled:?} is odd"
        );
        assert!(seen.insert(doubled), "index {index} repeats {doubled:?}");
    }
}

#[test]
fn every_codeword_encodes_to_itself() {
    let code = E8BallCode::new(0.893).unwrap();
    for index in 0..=u16::MAX {
        let x = code.decode(index);
        assert_eq!(code.encode(&x), Ok(index), "codeword {x:?}");
    }
}

#[test]
fn invalid_input_is_rejected() {
    for beta in [0.0, -1.0, f32::NAN, f32::INFINITY, f32::MAX] {
        assert!(E8BallCode::new(beta).is_err(), "scale {beta}");
    }
    let code = E8BallCode::new(1.0).unwrap();
    let mut x = [0.5f32; 8];
    x[3] = f32::NAN;
    assert_eq!(
        code.encode(&x),
        Err(Error::NonFinite {
            block: 0,
            coordinate: 3
        })
    );
}

#[test]
fn huge_input_codes_to_largest_direction() {
    let code = E8BallCode::new(1.0).unwrap();
    let x = [f32::MAX, -f32::MAX, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
    let decoded = code.decode(code.encode(&x).unwrap());
    assert!(decoded[0] > 0.0, "{decoded:?}");
    assert!(decoded[1] < 0.0, "{decoded:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn encode_finds_nearest_codeword(x in prop::array::uniform8(-4.0f32..4.0)) {
        let code = E8BallCode::new(0.893).unwrap();
        let distance = |y: &[f32; 8]| -> f64 {
            x.iter().zip(y).map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2)).sum()
        };
        let chosen = distance(&code.decode(code.encode(&x).unwrap()));
        let nearest = (0..=u16::MAX)
            .map(|index| distance(&code.decode(index)))
            .fold(f64::INFINITY, f64::min);
        // The encoder scores in f32, so it may miss by rounding only.
        prop_assert!(chosen <= nearest + 1e-4, "chosen {} nearest {}", chosen, nearest);
    }
}
