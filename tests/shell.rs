//! Codebook, encoder optimality, input validation and measured Gaussian
//! distortion of the 256-point E8 shell code.

use std::collections::HashSet;

use nestlat::Error;
use nestlat::code::E8ShellCode;
use nestlat::lattice::{E8, Lattice};
use nestlat::rng::SplitMix64;
use proptest::prelude::*;

/// Returns the 256 shell vectors, in index order, decoded at gain 1.
fn shell_vectors() -> Vec<[f32; 8]> {
    let code = E8ShellCode::new(1.0).unwrap();
    (0..=255u8).map(|index| code.decode(index)).collect()
}

fn inner_product(x: &[f32; 8], v: &[f32; 8]) -> f64 {
    x.iter()
        .zip(v)
        .map(|(&a, &b)| f64::from(a) * f64::from(b))
        .sum()
}

#[test]
fn shell_vectors_have_norm_two() {
    let vectors = shell_vectors();
    let distinct: HashSet<[u32; 8]> = vectors.iter().map(|v| v.map(f32::to_bits)).collect();
    assert_eq!(distinct.len(), 256);

    for (index, v) in vectors.iter().enumerate() {
        let norm = inner_product(v, v);
        assert!(
            (norm - 2.0).abs() < 1e-6,
            "vector {index} {v:?} has squared norm {norm}"
        );
    }
}

#[test]
fn first_240_are_minimal_vectors() {
    for (index, v) in shell_vectors().iter().enumerate().take(240) {
        let doubled = v.map(|value| 2.0 * value);
        assert!(
            doubled.iter().all(|value| value.fract() == 0.0),
            "vector {index} {v:?}"
        );
        let point = doubled.map(|value| value as i32);
        assert!(E8::contains(&point), "vector {index} {v:?} is not in E8");
        assert_eq!(
            point.iter().map(|value| value * value).sum::<i32>(),
            8,
            "vector {index}"
        );
    }
}

#[test]
fn last_16_are_axis_vectors() {
    let vectors = shell_vectors();
    for i in 0..8 {
        for (offset, sign) in [(0, 1.0), (1, -1.0)] {
            let index = 240 + 2 * i + offset;
            let mut expected = [0.0f32; 8];
            expected[i] = sign * core::f32::consts::SQRT_2;
            assert_eq!(vectors[index], expected, "vector {index}");
        }
    }
}

#[test]
fn index_layout_known_answers() {
    let code = E8ShellCode::new(1.0).unwrap();
    assert_eq!(code.decode(0), [1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    assert_eq!(code.decode(1), [-1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    assert_eq!(code.decode(2), [1.0, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    // Pair 27 is (6, 7), the last in lexicographic order.
    assert_eq!(code.decode(111), [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0, -1.0]);
    assert_eq!(code.decode(112), [0.5; 8]);
    // m = 1: coordinate 0 negative, coordinate 7 negative for an even count.
    assert_eq!(code.decode(113), [-0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, -0.5]);
    assert_eq!(code.decode(239), [-0.5; 8]);
    let root2 = core::f32::consts::SQRT_2;
    assert_eq!(code.decode(240), [root2, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    assert_eq!(
        code.decode(255),
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -root2]
    );

    let scaled = E8ShellCode::new(3.0).unwrap();
    assert_eq!(scaled.gain(), 3.0);
    assert_eq!(scaled.decode(0), [3.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
}

#[test]
fn shell_vectors_encode_to_themselves() {
    // No other shell vector reaches the inner product 2 of a vector with
    // itself (every other one scores at most sqrt 2), so no tie is broken.
    let code = E8ShellCode::new(1.0).unwrap();
    for index in 0..=255u8 {
        assert_eq!(code.encode(&code.decode(index)), Ok(index));
        let scaled: [f32; 8] = code.decode(index).map(|value| 0.01 * value);
        assert_eq!(code.encode(&scaled), Ok(index));
    }
}

/// Checks that the encoder picks a shell vector with the largest inner
/// product, up to `f32` rounding, at every gain.
fn assert_encoder_is_optimal(x: &[f32; 8], vectors: &[[f32; 8]]) {
    let code = E8ShellCode::new(1.0).unwrap();
    let index = code.encode(x).unwrap();
    let chosen = inner_product(x, &vectors[usize::from(index)]);
    let (best_index, best) = vectors
        .iter()
        .enumerate()
        .map(|(i, v)| (i, inner_product(x, v)))
        .fold((0, f64::NEG_INFINITY), |best, candidate| {
            if candidate.1 > best.1 {
                candidate
            } else {
                best
            }
        });
    let l1: f64 = x.iter().map(|&value| f64::from(value.abs())).sum();
    assert!(
        chosen >= best - 1e-5 * (1.0 + l1),
        "x = {x:?}: index {index} scores {chosen}, index {best_index} scores {best}"
    );

    // The gain scales the decoded vector only.
    assert_eq!(E8ShellCode::new(7.5).unwrap().encode(x), Ok(index));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn encoder_is_optimal(x in prop::array::uniform8(-10.0f32..10.0)) {
        assert_encoder_is_optimal(&x, &shell_vectors());
    }

    #[test]
    fn encoder_is_optimal_on_grid(steps in prop::array::uniform8(-4i32..5)) {
        // Small integers make equal inner products frequent.
        assert_encoder_is_optimal(&steps.map(|step| step as f32 / 2.0), &shell_vectors());
    }
}

#[test]
fn encoder_is_optimal_on_gaussians() {
    let vectors = shell_vectors();
    let mut rng = SplitMix64::new(71);
    let mut seen = HashSet::new();
    for _ in 0..20_000 {
        let x: [f32; 8] = core::array::from_fn(|_| rng.next_gaussian() as f32);
        assert_encoder_is_optimal(&x, &vectors);
        seen.insert(E8ShellCode::new(1.0).unwrap().encode(&x).unwrap());
    }
    assert_eq!(seen.len(), 256, "some shell vectors are never chosen");
}

#[test]
fn ties_follow_documented_order() {
    let code = E8ShellCode::new(1.0).unwrap();
    assert_eq!(code.encode(&[0.0; 8]), Ok(0));
    assert_eq!(code.encode(&[-0.0; 8]), Ok(0));
    // Pair (0, 1) and the all-positive half vector both score 4: the pair wins.
    assert_eq!(
        code.encode(&[2.0, 2.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0]),
        Ok(0)
    );
    // Three equal magnitudes: the pair of the two lowest coordinates, (5, 6),
    // wins.
    assert_eq!(
        code.encode(&[0.0, 0.0, 0.0, 0.0, 0.0, 3.0, -3.0, 3.0]),
        Ok(4 * 25 + 2)
    );
    assert_eq!(
        code.encode(&[-1.0, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0]),
        Ok(3)
    );
    // Three minus signs: the half vector flips the lowest coordinate among the
    // equal smallest magnitudes, leaving coordinates 1 and 2 negative (m = 6).
    assert_eq!(
        code.encode(&[-1.0, -1.0, -1.0, 1.0, 1.0, 1.0, 1.0, 1.0]),
        Ok(112 + 6)
    );
}

#[test]
fn invalid_input_is_rejected() {
    let code = E8ShellCode::new(0.8).unwrap();
    for value in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut x = [0.1f32; 8];
        x[5] = value;
        assert_eq!(
            code.encode(&x),
            Err(Error::NonFinite {
                block: 0,
                coordinate: 5
            }),
            "{value}"
        );
    }

    for gain in [0.0, -0.0, -1.0, f32::INFINITY, f32::NEG_INFINITY] {
        assert_eq!(
            E8ShellCode::new(gain),
            Err(Error::InvalidGain { value: gain })
        );
    }
    match E8ShellCode::new(f32::NAN) {
        Err(Error::InvalidGain { value }) => assert!(value.is_nan()),
        other => panic!("NaN gain gives {other:?}"),
    }
    assert!(E8ShellCode::new(f32::MIN_POSITIVE).is_ok());
    // The decoded axis vectors, gain * sqrt(2), must stay finite.
    assert_eq!(
        E8ShellCode::new(f32::MAX),
        Err(Error::InvalidGain { value: f32::MAX })
    );
    let largest = E8ShellCode::new(f32::MAX / 2.0).unwrap();
    assert!(largest.decode(240).iter().all(|value| value.is_finite()));
}

#[test]
fn huge_blocks_pick_best_vector() {
    let code = E8ShellCode::new(1.0).unwrap();
    // All coordinates equal: the half vector (+1/2, ..., +1/2), index 112,
    // has inner product 4 x, the best of all 256.
    assert_eq!(code.encode(&[f32::MAX; 8]), Ok(112));
    let mut mixed = [2e38f32; 8];
    mixed[0] = -2e38;
    // One negative coordinate: the best is a half vector with two minus
    // signs or a pair vector; its score equals the scaled-down block's.
    let scaled: [f32; 8] = core::array::from_fn(|i| mixed[i] / 1e30);
    assert_eq!(code.encode(&mixed), code.encode(&scaled));
}

#[test]
fn gaussian_distortion_at_best_gain() {
    // Measured with `cargo test --features std --test shell gaussian` on
    // 20 000 blocks from seed 81: best gain 1.6446, MSE 0.3188 per entry,
    // 1.06 dB above the Shannon limit 2^-2 = 0.25 of one bit per entry (the
    // sign quantizer reaches 1 - 2 / pi = 0.3634). The bound leaves 2% of
    // margin.
    let blocks = 20_000;
    let unit = E8ShellCode::new(1.0).unwrap();
    let mut rng = SplitMix64::new(81);
    let mut samples = Vec::with_capacity(blocks);
    let mut correlation = 0.0f64;
    for _ in 0..blocks {
        let x: [f32; 8] = core::array::from_fn(|_| rng.next_gaussian() as f32);
        let index = unit.encode(&x).unwrap();
        correlation += inner_product(&x, &unit.decode(index));
        samples.push((x, index));
    }
    // Every shell vector has squared norm 2, so E|v|^2 = 2.
    let gain = (correlation / blocks as f64 / 2.0) as f32;
    assert!((1.62..1.67).contains(&gain), "best gain {gain}");

    let code = E8ShellCode::new(gain).unwrap();
    let mut total = 0.0f64;
    for (x, index) in &samples {
        assert_eq!(code.encode(x), Ok(*index));
        let decoded = code.decode(*index);
        total += x
            .iter()
            .zip(&decoded)
            .map(|(&a, &b)| f64::from(a - b) * f64::from(a - b))
            .sum::<f64>();
    }
    let mse = total / (blocks as f64 * 8.0);
    assert!(mse < 0.325, "MSE {mse} at gain {gain}");
    assert!(mse > 0.25, "MSE {mse} is below the Shannon limit");
}
