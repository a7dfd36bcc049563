//! Construction errors, round trips, the tie trap of E8 with q = 2, and the
//! E8 coset table of the hierarchical nested-lattice code.

mod common;

use std::collections::HashSet;

use common::e8_minimal_vectors;
use nestlat::Error;
use nestlat::code::{E8CosetTable, HierarchicalCode};
use nestlat::lattice::{Dn, E8, Lattice, Tie, nearest_point};
use nestlat::rng::SplitMix64;
use proptest::prelude::*;

fn bits<const N: usize>(x: &[f32; N]) -> [u32; N] {
    x.map(f32::to_bits)
}

/// Returns the digits of coset `byte`: bit `i` is digit `i`.
fn digits_of_byte(byte: u8) -> [u8; 8] {
    core::array::from_fn(|i| (byte >> i) & 1)
}

/// Returns the nearest E8 point to `p / 4` under `tie`, for `p` in doubled
/// representation, that is `Q(v / 2)` for the point `v = p / 2`.
fn nearest_to_half(p: &[i32; 8], tie: Tie) -> [i32; 8] {
    match tie {
        Tie::Up => nearest_point::<E8, 8>(&p.map(|value| value as f32 / 4.0)).unwrap(),
        Tie::Down => nearest_point::<E8, 8>(&p.map(|value| -value as f32 / 4.0))
            .unwrap()
            .map(|value| -value),
    }
}

#[test]
fn invalid_parameters_are_rejected() {
    for q in [0, 1, 257] {
        assert_eq!(
            HierarchicalCode::<E8, 8>::new(q, 2, 1.0),
            Err(Error::InvalidModulus { q })
        );
    }
    for layers in [0, 9, usize::MAX] {
        assert_eq!(
            HierarchicalCode::<E8, 8>::new(2, layers, 1.0),
            Err(Error::InvalidLayerCount { layers })
        );
    }

    let too_deep = [(256, 3), (5, 7), (41, 3), (17, 4)];
    for (q, layers) in too_deep {
        assert_eq!(
            HierarchicalCode::<E8, 8>::new(q, layers, 1.0),
            Err(Error::HierarchyTooDeep { q, layers }),
            "q = {q}"
        );
    }

    // Codes up to q^layers = 2^16 are accepted, that bound included.
    for (q, layers) in [(2, 8), (256, 2), (4, 8), (16, 4), (3, 8)] {
        let code = HierarchicalCode::<E8, 8>::new(q, layers, 1.0).unwrap();
        assert_eq!((code.q(), code.layer_count()), (q, layers));
    }

    for beta in [0.0, -0.0, -1.0, f32::INFINITY, f32::NEG_INFINITY] {
        assert_eq!(
            HierarchicalCode::<E8, 8>::new(2, 2, beta),
            Err(Error::InvalidScale {
                index: 0,
                value: beta
            })
        );
    }
    match HierarchicalCode::<E8, 8>::new(2, 2, f32::NAN) {
        Err(Error::InvalidScale { index: 0, value }) => assert!(value.is_nan()),
        other => panic!("NaN scale gives {other:?}"),
    }
}

#[test]
fn layer_ties_alternate() {
    for layer in 0..8 {
        let expected = if layer % 2 == 0 { Tie::Up } else { Tie::Down };
        assert_eq!(
            HierarchicalCode::<E8, 8>::layer_tie(layer),
            expected,
            "layer {layer}"
        );
    }
}

/// Encodes and decodes one block, checks the round trip when the block does
/// not overload, and returns whether it overloaded.
fn check_round_trip<L: Lattice<N>, const N: usize>(
    code: &HierarchicalCode<L, N>,
    x: &[f32; N],
) -> bool {
    let context = format!(
        "{} q = {} layers = {} x = {x:?}",
        L::NAME,
        code.q(),
        code.layer_count()
    );
    let index = code.encode(x).unwrap();
    assert_eq!(index.layers.len(), code.layer_count(), "{context}");
    for digits in &index.layers {
        assert!(
            digits.iter().all(|&digit| u32::from(digit) < code.q()),
            "digits {digits:?}: {context}"
        );
    }

    let decoded = code.decode(&index.layers).unwrap();
    if !index.overloaded {
        let fine = code.fine_quantize(x).unwrap();
        assert_eq!(
            bits(&decoded),
            bits(&fine),
            "decode differs from fine_quantize: {context}"
        );
    }

    // The decoded point needs no more layers than the code has.
    let again = code.encode(&decoded).unwrap();
    assert!(
        !again.overloaded,
        "decoded point {decoded:?} overloads: {context}"
    );
    assert_eq!(
        again.layers, index.layers,
        "decoded point {decoded:?} re-encodes differently: {context}"
    );

    index.overloaded
}

/// Returns the codes of the round-trip tests, all at scale `beta`.
fn e8_codes(beta: f32) -> Vec<HierarchicalCode<E8, 8>> {
    let mut codes = Vec::new();
    for layers in 1..=8 {
        codes.push(HierarchicalCode::<E8, 8>::new(2, layers, beta).unwrap());
    }
    for q in [3, 4] {
        for layers in 2..=4 {
            codes.push(HierarchicalCode::<E8, 8>::new(q, layers, beta).unwrap());
        }
    }
    codes
}

/// Returns the range `q^layers` of a code, in lattice units.
fn range<L: Lattice<N>, const N: usize>(code: &HierarchicalCode<L, N>) -> f32 {
    (code.q() as f32).powi(code.layer_count() as i32)
}

#[test]
fn decode_matches_fine_quantize() {
    let mut rng = SplitMix64::new(51);
    let beta = 0.3;
    let codes = e8_codes(beta);
    let d4 = HierarchicalCode::<Dn<4>, 4>::new(4, 2, beta).unwrap();
    let mut overloaded = vec![0usize; codes.len() + 1];
    let draws = 400;
    for _ in 0..draws {
        // Deviations up to 0.7 of the range reach both outcomes.
        let spread = 0.7 * rng.next_f64() as f32;
        let gaussian: [f32; 8] = core::array::from_fn(|_| rng.next_gaussian() as f32);
        for (count, code) in overloaded.iter_mut().zip(&codes) {
            let x = gaussian.map(|value| value * spread * beta * range(code));
            *count += usize::from(check_round_trip(code, &x));
        }
        let x = core::array::from_fn(|i| gaussian[i] * spread * beta * range(&d4));
        overloaded[codes.len()] += usize::from(check_round_trip(&d4, &x));
    }

    for (code, &count) in overloaded.iter().enumerate() {
        assert!(count > 0, "code {code}: no block overloaded");
        assert!(
            count * 5 < draws * 4,
            "code {code}: {count} of {draws} blocks overloaded"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn decode_matches_fine_quantize_at_ties(
        steps in prop::array::uniform8(-400i32..400),
        beta_exponent in -3i32..4,
    ) {
        // Quarter steps at a power-of-two scale put x / beta on ties of E8.
        let beta = libm::exp2(f64::from(beta_exponent)) as f32;
        for code in e8_codes(beta) {
            let limit = (range(&code) as i32).max(1);
            let x = steps.map(|step| beta * (step % limit) as f32 / 4.0);
            check_round_trip(&code, &x);
        }
        let d4 = HierarchicalCode::<Dn<4>, 4>::new(4, 2, beta).unwrap();
        let x = core::array::from_fn(|i| beta * (steps[i] % 16) as f32 / 4.0);
        check_round_trip(&d4, &x);
    }

    #[test]
    fn lower_layers_do_not_depend_on_depth(x in prop::array::uniform8(-40.0f32..40.0)) {
        // Each layer depends only on the layers below it, so a deeper code
        // extends the digits of a shallower one.
        let deepest = HierarchicalCode::<E8, 8>::new(2, 8, 0.5).unwrap().encode(&x).unwrap();
        for layers in 1..8 {
            let shallow = HierarchicalCode::<E8, 8>::new(2, layers, 0.5).unwrap().encode(&x).unwrap();
            prop_assert_eq!(&shallow.layers[..], &deepest.layers[..layers]);
        }
    }
}

#[test]
fn minimal_vectors_survive_tie_trap() {
    for layers in 2..=8 {
        let code = HierarchicalCode::<E8, 8>::new(2, layers, 1.0).unwrap();
        for v in e8_minimal_vectors() {
            let x = v.map(|value| value as f32 / 2.0);
            let index = code.encode(&x).unwrap();
            assert!(!index.overloaded, "layers = {layers}: {x:?} overloads");
            assert_eq!(code.decode(&index.layers).unwrap(), x, "layers = {layers}");
        }
    }
}

#[test]
fn fixed_tie_rule_would_trap_half() {
    // A minimal vector v is a fixed point of t -> Q(t / 2) when the tie at
    // v / 2 (as near to v as to 0) breaks toward v. Under one fixed rule
    // that holds for 120 of the 240, which then never reach 0.
    let vectors = e8_minimal_vectors();
    let fixed_up = vectors
        .iter()
        .filter(|v| nearest_to_half(v, Tie::Up) == **v)
        .count();
    let fixed_down = vectors
        .iter()
        .filter(|v| nearest_to_half(v, Tie::Down) == **v)
        .count();
    assert_eq!(fixed_up, 120);
    assert_eq!(fixed_down, 120);

    for v in &vectors {
        // Every v / 2 is a tie: the rule picks 0 or v.
        let up = nearest_to_half(v, Tie::Up);
        assert!(up == [0; 8] || up == *v, "{v:?} goes to {up:?}");

        // Under one rule v stays a fixed point for all layers.
        let mut fixed = *v;
        for _ in 0..8 {
            fixed = nearest_to_half(&fixed, Tie::Up);
        }
        assert_eq!(fixed == *v, up == *v, "{v:?}");

        // Alternating rules reach 0 within two layers.
        let alternating = nearest_to_half(&nearest_to_half(v, Tie::Up), Tie::Down);
        assert_eq!(alternating, [0; 8], "{v:?}");
    }

    // A single layer has no second rule, so the trapped half overloads.
    let one_layer = HierarchicalCode::<E8, 8>::new(2, 1, 1.0).unwrap();
    let overloaded = vectors
        .iter()
        .filter(|v| {
            one_layer
                .encode(&v.map(|value| value as f32 / 2.0))
                .unwrap()
                .overloaded
        })
        .count();
    assert_eq!(overloaded, 120);
}

#[test]
fn coset_table_matches_search() {
    let table = E8CosetTable::new();
    assert_eq!(table, E8CosetTable::default());
    let code = HierarchicalCode::<E8, 8>::new(2, 1, 1.0).unwrap();
    for tie in [Tie::Up, Tie::Down] {
        let mut leaders = HashSet::new();
        for byte in 0..=255u8 {
            let digits = digits_of_byte(byte);
            assert_eq!(E8CosetTable::byte_of(&digits), byte);

            let searched = code.coset_leader(&digits, tie).unwrap();
            let leader = table.leader(byte, tie);
            assert_eq!(
                *leader,
                searched.map(|value| value as i8),
                "byte {byte} {tie:?}"
            );
            leaders.insert(*leader);

            let point = leader.map(i32::from);
            assert!(E8::contains(&point), "byte {byte} {tie:?}: {point:?}");
            assert!(
                point.iter().all(|value| value.abs() <= 4),
                "byte {byte} {tie:?}: {point:?}"
            );
            // The leader lies in the coset named by its digits.
            let coordinates = E8::to_coordinates(&point).map(|value| value.rem_euclid(2) as u8);
            assert_eq!(coordinates, digits, "byte {byte} {tie:?}");
            // The leader lies in 2 V: its squared norm is at most 4 (twice
            // the covering radius 1, squared), 16 in doubled representation,
            // and halving it rounds to 0 under the same rule.
            assert!(
                point.iter().map(|value| value * value).sum::<i32>() <= 16,
                "byte {byte} {tie:?}: {point:?}"
            );
            assert_eq!(
                nearest_to_half(&point, tie),
                [0; 8],
                "byte {byte} {tie:?}: {point:?}"
            );
        }
        assert_eq!(leaders.len(), 256, "{tie:?}: leaders are not distinct");
        assert_eq!(*table.leader(0, tie), [0; 8]);
    }
}

#[test]
fn byte_of_known_answers() {
    assert_eq!(E8CosetTable::byte_of(&[0; 8]), 0);
    assert_eq!(E8CosetTable::byte_of(&[1; 8]), 0xFF);
    assert_eq!(E8CosetTable::byte_of(&[1, 0, 0, 0, 0, 0, 0, 1]), 0x81);
    assert_eq!(E8CosetTable::byte_of(&[0, 1, 1, 0, 0, 0, 0, 0]), 0x06);
}

#[test]
fn coset_table_decodes_like_code() {
    let table = E8CosetTable::new();
    let mut rng = SplitMix64::new(61);
    for trial in 0..2000 {
        let layers = 1 + trial % 8;
        let beta = libm::exp2(6.0 * rng.next_f64() - 3.0) as f32;
        let code = HierarchicalCode::<E8, 8>::new(2, layers, beta).unwrap();

        // Encodings of random blocks, some of them overloaded.
        let spread = beta * (1u32 << layers) as f32 * rng.next_f64() as f32;
        let x: [f32; 8] = core::array::from_fn(|_| spread * rng.next_gaussian() as f32);
        let index = code.encode(&x).unwrap();
        let bytes: Vec<u8> = index.layers.iter().map(E8CosetTable::byte_of).collect();
        assert_eq!(
            bits(&table.decode(&bytes, beta).unwrap()),
            bits(&code.decode(&index.layers).unwrap()),
            "layers = {layers} beta = {beta} x = {x:?}"
        );

        // Arbitrary bytes, which need not come from an encoder.
        let bytes: Vec<u8> = (0..layers).map(|_| rng.next_u64() as u8).collect();
        let digits: Vec<[u8; 8]> = bytes.iter().map(|&byte| digits_of_byte(byte)).collect();
        assert_eq!(
            bits(&table.decode(&bytes, beta).unwrap()),
            bits(&code.decode(&digits).unwrap()),
            "layers = {layers} beta = {beta} bytes = {bytes:?}"
        );
    }
}

#[test]
fn coset_table_rejects_invalid_input() {
    let table = E8CosetTable::new();
    assert_eq!(
        table.decode(&[], 1.0),
        Err(Error::InvalidLayerCount { layers: 0 })
    );
    assert_eq!(
        table.decode(&[0; 9], 1.0),
        Err(Error::InvalidLayerCount { layers: 9 })
    );
    assert!(table.decode(&[0; 8], 1.0).is_ok());
    for beta in [0.0, -1.0, f32::INFINITY] {
        assert_eq!(
            table.decode(&[1, 2], beta),
            Err(Error::InvalidScale {
                index: 0,
                value: beta
            })
        );
    }
    match table.decode(&[1, 2], f32::NAN) {
        Err(Error::InvalidScale { index: 0, value }) => assert!(value.is_nan()),
        other => panic!("NaN scale gives {other:?}"),
    }
}

#[test]
fn code_rejects_invalid_input() {
    let code = HierarchicalCode::<E8, 8>::new(3, 3, 0.5).unwrap();
    assert_eq!(
        code.decode(&[[0; 8]; 2]),
        Err(Error::LengthMismatch {
            expected: 3,
            actual: 2
        })
    );
    assert_eq!(
        code.decode(&[[0; 8]; 4]),
        Err(Error::LengthMismatch {
            expected: 3,
            actual: 4
        })
    );
    assert_eq!(
        code.decode(&[]),
        Err(Error::LengthMismatch {
            expected: 3,
            actual: 0
        })
    );

    let mut layers = [[2u8; 8]; 3];
    layers[1][4] = 3;
    assert_eq!(
        code.decode(&layers),
        Err(Error::InvalidDigit {
            index: 4,
            digit: 3,
            q: 3
        })
    );
    assert_eq!(
        code.coset_leader(&layers[1], Tie::Down),
        Err(Error::InvalidDigit {
            index: 4,
            digit: 3,
            q: 3
        })
    );

    let mut x = [0.0f32; 8];
    x[2] = f32::INFINITY;
    assert_eq!(
        code.encode(&x),
        Err(Error::NonFinite {
            block: 0,
            coordinate: 2
        })
    );
    assert_eq!(
        code.fine_quantize(&x),
        Err(Error::NonFinite {
            block: 0,
            coordinate: 2
        })
    );
}

#[test]
fn huge_input_overloads() {
    for code in e8_codes(0.25) {
        for x in [[1e30f32; 8], [f32::MAX; 8], [-3e38; 8]] {
            let index = code.encode(&x).unwrap();
            assert!(
                index.overloaded,
                "q = {} layers = {}: {x:?}",
                code.q(),
                code.layer_count()
            );
            assert!(code.decode(&index.layers).is_ok());
        }
    }
}

#[test]
fn overflowing_scale_is_rejected() {
    assert_eq!(
        HierarchicalCode::<E8, 8>::new(2, 8, f32::MAX / 16.0),
        Err(Error::InvalidScale {
            index: 0,
            value: f32::MAX / 16.0
        })
    );
    assert_eq!(
        E8CosetTable::new().decode(&[1, 2], f32::MAX),
        Err(Error::InvalidScale {
            index: 0,
            value: f32::MAX
        })
    );
}
