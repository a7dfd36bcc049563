//! Construction errors, scale selection against brute force, code words and
//! measured Gaussian distortion of the multi-scale Voronoi code.

use nestlat::Error;
use nestlat::code::{MultiScaleCode, MultiScaleIndex, ScaleSelection, VoronoiCode};
use nestlat::lattice::{Dn, E8, Lattice, Zn};
use nestlat::rng::SplitMix64;
use proptest::prelude::*;

/// Scales of the 4-bit E8 code (q = 13, k = 5) for unit-variance entries.
const SCALES_4_BITS: [f32; 5] = [0.240, 0.293, 0.340, 0.407, 0.578];

/// Scales of the 3-bit E8 code (q = 6, k = 9) for unit-variance entries.
const SCALES_3_BITS: [f32; 9] = [
    0.425, 0.504, 0.580, 0.654, 0.730, 0.815, 0.910, 1.046, 1.265,
];

/// Scales of the 2-bit E8 code (q = 3, k = 9) for unit-variance entries.
const SCALES_2_BITS: [f32; 9] = [
    0.755, 0.940, 1.114, 1.295, 1.474, 1.662, 1.893, 2.200, 2.768,
];

fn e8_code(q: u32, scales: &[f32], selection: ScaleSelection) -> MultiScaleCode<E8, 8> {
    let single = VoronoiCode::<E8, 8>::new(q).unwrap().with_deep_hole_shift();
    MultiScaleCode::new(single, scales, selection).unwrap()
}

fn bits<const N: usize>(x: &[f32; N]) -> [u32; N] {
    x.map(f32::to_bits)
}

/// Squared error summed in `f32` in coordinate order, as the encoder sums it.
fn squared_error<const N: usize>(x: &[f32; N], y: &[f32; N]) -> f32 {
    x.iter().zip(y).map(|(a, b)| (a - b) * (a - b)).sum()
}

#[test]
fn scale_count_is_checked() {
    let single = VoronoiCode::<E8, 8>::new(4).unwrap();
    assert_eq!(
        MultiScaleCode::new(single, &[], ScaleSelection::LowestError).err(),
        Some(Error::InvalidScaleCount { k: 0 })
    );

    let seventeen: Vec<f32> = (1..=17).map(|i| i as f32).collect();
    assert_eq!(
        MultiScaleCode::new(single, &seventeen, ScaleSelection::FirstFit).err(),
        Some(Error::InvalidScaleCount { k: 17 })
    );

    let sixteen = &seventeen[..16];
    let code = MultiScaleCode::new(single, sixteen, ScaleSelection::FirstFit).unwrap();
    assert_eq!(code.scales(), sixteen);
    assert_eq!(code.format().scale_count(), 16);
}

/// Returns the rejected scale of an `InvalidScale` error.
fn invalid_scale(scales: &[f32]) -> Option<(usize, f32)> {
    let single = VoronoiCode::<Dn<4>, 4>::new(3).unwrap();
    match MultiScaleCode::new(single, scales, ScaleSelection::LowestError) {
        Err(Error::InvalidScale { index, value }) => Some((index, value)),
        _ => None,
    }
}

#[test]
fn invalid_scales_are_rejected() {
    assert_eq!(invalid_scale(&[0.0, 1.0]), Some((0, 0.0)));
    assert_eq!(invalid_scale(&[-1.0, 1.0]), Some((0, -1.0)));
    assert_eq!(invalid_scale(&[0.5, 1.0, 1.0]), Some((2, 1.0)));
    assert_eq!(invalid_scale(&[0.5, 2.0, 1.0]), Some((2, 1.0)));
    assert_eq!(
        invalid_scale(&[0.5, f32::INFINITY]),
        Some((1, f32::INFINITY))
    );

    let (index, value) = invalid_scale(&[0.5, 1.0, f32::NAN]).unwrap();
    assert_eq!(index, 2);
    assert!(value.is_nan());

    assert_eq!(invalid_scale(&[f32::MIN_POSITIVE, 1e-30, 1.0, 1e30]), None);
    // A scale whose decoded values would overflow f32 is rejected.
    assert_eq!(invalid_scale(&[0.5, 1.0, f32::MAX]), Some((2, f32::MAX)));
}

#[test]
fn too_wide_code_is_rejected() {
    let z16 = VoronoiCode::<Zn<16>, 16>::new(256).unwrap();
    assert_eq!(
        MultiScaleCode::new(z16, &[1.0, 2.0], ScaleSelection::LowestError).err(),
        Some(Error::CodeTooWide {
            q: 256,
            k: 2,
            dim: 16
        })
    );

    let e8 = VoronoiCode::<E8, 8>::new(256).unwrap();
    assert_eq!(
        MultiScaleCode::new(e8, &[1.0, 2.0], ScaleSelection::LowestError).err(),
        Some(Error::CodeTooWide {
            q: 256,
            k: 2,
            dim: 8
        })
    );

    // 256^8 = 2^64 states fill the code word exactly.
    let widest = MultiScaleCode::new(e8, &[1.0], ScaleSelection::LowestError).unwrap();
    assert_eq!(widest.format().bits(), 64);
    let x = [3.0, -7.5, 100.0, 0.0, 1.0, 2.0, -50.0, 9.0];
    let word = widest.encode_word(&x, 0).unwrap();
    assert_eq!(
        bits(&widest.decode_word(word, 0).unwrap()),
        bits(&widest.decode(&widest.encode(&x, 0).unwrap(), 0).unwrap())
    );
}

#[test]
fn stored_rate_matches_scale_count() {
    let cases: [(u32, &[f32], u32); 3] = [
        (13, &SCALES_4_BITS, 32),
        (6, &SCALES_3_BITS, 24),
        (3, &SCALES_2_BITS, 16),
    ];
    for (q, scales, expected_bits) in cases {
        let code = e8_code(q, scales, ScaleSelection::LowestError);
        assert_eq!(
            code.format().bits(),
            expected_bits,
            "q = {q}, k = {}",
            scales.len()
        );
        assert_eq!(
            code.format().stored_bits_per_entry(),
            f64::from(expected_bits) / 8.0
        );
    }
}

/// Encodes `x` at every scale with the single-scale code and returns the
/// index and squared error of each, in scale order.
fn encode_at_every_scale<L: Lattice<N>, const N: usize>(
    code: &MultiScaleCode<L, N>,
    x: &[f32; N],
    block: u64,
) -> Vec<(MultiScaleIndex<N>, f32)> {
    let single = code.code();
    code.scales()
        .iter()
        .enumerate()
        .map(|(id, &beta)| {
            let index = single.encode(x, beta, block).unwrap();
            let decoded = single.decode(&index.digits, beta, block).unwrap();
            let index = MultiScaleIndex {
                digits: index.digits,
                scale_id: id as u8,
                overloaded: index.overloaded,
            };
            (index, squared_error(x, &decoded))
        })
        .collect()
}

/// Returns the candidate with the lowest error, the lowest id on equal errors.
fn lowest_error<const N: usize>(candidates: &[(MultiScaleIndex<N>, f32)]) -> MultiScaleIndex<N> {
    let mut best = candidates[0];
    for &candidate in &candidates[1..] {
        if candidate.1 < best.1 {
            best = candidate;
        }
    }
    best.0
}

/// Compares both selections with brute force and returns whether FirstFit
/// fell back to the lowest error because every scale overloaded.
fn check_selection<L: Lattice<N>, const N: usize>(
    lowest: &MultiScaleCode<L, N>,
    first_fit: &MultiScaleCode<L, N>,
    x: &[f32; N],
    block: u64,
) -> bool {
    let candidates = encode_at_every_scale(lowest, x, block);
    let expected_lowest = lowest_error(&candidates);
    assert_eq!(
        lowest.encode(x, block).unwrap(),
        expected_lowest,
        "LowestError for {x:?}"
    );

    let fitting = candidates.iter().find(|(index, _)| !index.overloaded);
    let expected_first = fitting.map_or(expected_lowest, |&(index, _)| index);
    assert_eq!(
        first_fit.encode(x, block).unwrap(),
        expected_first,
        "FirstFit for {x:?}"
    );

    // Both decode to the single-scale decoding at the chosen scale.
    for code in [lowest, first_fit] {
        let index = code.encode(x, block).unwrap();
        let beta = code.scales()[usize::from(index.scale_id)];
        let expected = code.code().decode(&index.digits, beta, block).unwrap();
        assert_eq!(bits(&code.decode(&index, block).unwrap()), bits(&expected));
        assert_eq!(
            bits(
                &code
                    .decode_word(code.encode_word(x, block).unwrap(), block)
                    .unwrap()
            ),
            bits(&expected)
        );
        assert_eq!(
            code.encode_word(x, block).unwrap(),
            code.format()
                .pack(&index.digits, usize::from(index.scale_id))
                .unwrap()
        );
    }

    fitting.is_none()
}

fn check_selection_e8(x: &[f32; 8], block: u64) -> bool {
    let mut fell_back = false;
    for (q, scales) in [
        (13, &SCALES_4_BITS[..]),
        (6, &SCALES_3_BITS[..]),
        (3, &SCALES_2_BITS[..]),
    ] {
        let lowest = e8_code(q, scales, ScaleSelection::LowestError);
        let first_fit = e8_code(q, scales, ScaleSelection::FirstFit);
        fell_back |= check_selection(&lowest, &first_fit, x, block);
    }

    let d4 = || VoronoiCode::<Dn<4>, 4>::new(4).unwrap().with_dither(8);
    let scales = [0.1, 0.3, 0.9];
    let lowest = MultiScaleCode::new(d4(), &scales, ScaleSelection::LowestError).unwrap();
    let first_fit = MultiScaleCode::new(d4(), &scales, ScaleSelection::FirstFit).unwrap();
    let head = [x[0], x[1], x[2], x[3]];
    fell_back |= check_selection(&lowest, &first_fit, &head, block);
    fell_back
}

#[test]
fn selection_matches_brute_force() {
    let mut rng = SplitMix64::new(31);
    let mut fallbacks = 0;
    let mut chosen = [0usize; 5];
    let lowest = e8_code(13, &SCALES_4_BITS, ScaleSelection::LowestError);
    for block in 0..2000 {
        // Deviations from 0.1 to 10 reach every scale and the overload of all.
        let deviation = libm::exp10(2.0 * rng.next_f64() - 1.0);
        let x: [f32; 8] = core::array::from_fn(|_| (deviation * rng.next_gaussian()) as f32);
        fallbacks += usize::from(check_selection_e8(&x, block));
        chosen[usize::from(lowest.encode(&x, block).unwrap().scale_id)] += 1;
    }
    assert!(
        fallbacks > 100,
        "only {fallbacks} blocks overloaded at every scale"
    );
    assert!(
        chosen.iter().all(|&count| count > 0),
        "some scale is never chosen: {chosen:?}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn selection_matches_brute_force_random(
        x in prop::array::uniform8(-8.0f32..8.0),
        block in any::<u64>(),
    ) {
        check_selection_e8(&x, block);
    }

    #[test]
    fn selection_matches_brute_force_at_ties(
        steps in prop::array::uniform8(-24i32..24),
        block in any::<u64>(),
    ) {
        // Multiples of 1/8 meet ties of the fine search at scales that are
        // powers of two.
        let x = steps.map(|step| step as f32 / 8.0);
        let single = || VoronoiCode::<E8, 8>::new(4).unwrap();
        let scales = [0.125, 0.25, 0.5, 1.0];
        let lowest = MultiScaleCode::new(single(), &scales, ScaleSelection::LowestError).unwrap();
        let first_fit = MultiScaleCode::new(single(), &scales, ScaleSelection::FirstFit).unwrap();
        check_selection(&lowest, &first_fit, &x, block);
    }
}

#[test]
fn equal_errors_keep_lower_scale() {
    // Without shift or dither, 0 and (1, 1, 0, ..., 0) are points of the fine
    // lattice at every scale here, so all scales reach error 0.
    let single = || VoronoiCode::<E8, 8>::new(16).unwrap();
    let scales = [0.25, 0.5, 1.0];
    for selection in [ScaleSelection::LowestError, ScaleSelection::FirstFit] {
        let code = MultiScaleCode::new(single(), &scales, selection).unwrap();
        for x in [[0.0; 8], [1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]] {
            let index = code.encode(&x, 0).unwrap();
            assert_eq!(index.scale_id, 0, "{selection:?} {x:?}");
            assert!(!index.overloaded, "{selection:?} {x:?}");
            assert_eq!(code.decode(&index, 0).unwrap(), x, "{selection:?}");
        }
    }
}

#[test]
fn invalid_code_word_is_rejected() {
    for (q, scales) in [
        (13, &SCALES_4_BITS[..]),
        (6, &SCALES_3_BITS[..]),
        (3, &SCALES_2_BITS[..]),
    ] {
        let code = e8_code(q, scales, ScaleSelection::LowestError);
        let states = code.format().states() as u64;
        assert!(code.decode_word(states - 1, 0).is_ok());
        for word in [states, states + 1, u64::MAX] {
            assert_eq!(
                code.decode_word(word, 0),
                Err(Error::InvalidCodeWord { word }),
                "q = {q}"
            );
        }
    }
}

#[test]
fn invalid_index_is_rejected() {
    let code = e8_code(6, &SCALES_3_BITS, ScaleSelection::LowestError);
    let bad_id = MultiScaleIndex {
        digits: [0; 8],
        scale_id: 9,
        overloaded: false,
    };
    assert_eq!(
        code.decode(&bad_id, 0),
        Err(Error::InvalidScaleId { id: 9, k: 9 })
    );

    let bad_digit = MultiScaleIndex {
        digits: [0, 0, 0, 6, 0, 0, 0, 0],
        scale_id: 1,
        overloaded: false,
    };
    assert_eq!(
        code.decode(&bad_digit, 0),
        Err(Error::InvalidDigit {
            index: 3,
            digit: 6,
            q: 6
        })
    );

    let mut x = [0.0f32; 8];
    x[6] = f32::NAN;
    assert_eq!(
        code.encode(&x, 0),
        Err(Error::NonFinite {
            block: 0,
            coordinate: 6
        })
    );
    assert_eq!(
        code.encode_word(&x, 0),
        Err(Error::NonFinite {
            block: 0,
            coordinate: 6
        })
    );
}

#[test]
fn huge_input_overloads_every_scale() {
    for selection in [ScaleSelection::LowestError, ScaleSelection::FirstFit] {
        let code = e8_code(13, &SCALES_4_BITS, selection);
        for x in [[1e30f32; 8], [f32::MAX; 8], [-3e38; 8]] {
            let index = code.encode(&x, 0).unwrap();
            assert!(index.overloaded, "{selection:?} {x:?}");
            assert!(code.decode(&index, 0).is_ok());
        }
    }
}

/// Returns the mean squared error per entry of a code on `blocks` blocks of
/// iid N(0, 1) entries.
fn gaussian_mse(code: &MultiScaleCode<E8, 8>, blocks: u64, seed: u64) -> f64 {
    let mut rng = SplitMix64::new(seed);
    let mut total = 0.0f64;
    for block in 0..blocks {
        let x: [f32; 8] = core::array::from_fn(|_| rng.next_gaussian() as f32);
        let decoded = code
            .decode_word(code.encode_word(&x, block).unwrap(), block)
            .unwrap();
        total += x
            .iter()
            .zip(&decoded)
            .map(|(&a, &b)| f64::from(a - b) * f64::from(a - b))
            .sum::<f64>();
    }
    total / (blocks as f64 * 8.0)
}

// Measured with `cargo test --features std --test multiscale gaussian` on
// 20 000 blocks from seed 41, shifted E8, LowestError, at the stored rate R:
// - 4 bits (q = 13, k = 5): MSE 0.006218, 2.02 dB above 2^-8;
// - 3 bits (q = 6, k = 9): MSE 0.02651, 2.30 dB above 2^-6;
// - 2 bits (q = 3, k = 9): MSE 0.1333, 3.29 dB above 2^-4.
// The sample is fixed, so the values repeat exactly. The bounds leave about
// 2% of margin for changes in the search that keep its quality, and each
// MSE must stay above the Shannon limit 2^(-2R) of a Gaussian source.

/// Checks the Gaussian MSE of a shifted E8 code against the bound measured
/// for it and against the Shannon limit 2^(-2R) of its stored rate.
fn assert_gaussian_mse(q: u32, scales: &[f32], upper: f64, stored_bits: i32) {
    let mse = gaussian_mse(&e8_code(q, scales, ScaleSelection::LowestError), 20_000, 41);
    let shannon_limit = 0.25f64.powi(stored_bits);
    assert!(mse < upper, "MSE {mse}");
    assert!(
        mse > shannon_limit,
        "MSE {mse} is below the Shannon limit {shannon_limit}"
    );
}

#[test]
fn gaussian_distortion_4_bits() {
    assert_gaussian_mse(13, &SCALES_4_BITS, 0.00634, 4);
}

#[test]
fn gaussian_distortion_3_bits() {
    assert_gaussian_mse(6, &SCALES_3_BITS, 0.0270, 3);
}

#[test]
fn gaussian_distortion_2_bits() {
    assert_gaussian_mse(3, &SCALES_2_BITS, 0.1360, 2);
}
