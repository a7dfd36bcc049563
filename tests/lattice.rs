//! Known answers, properties and Monte Carlo checks of the lattice searches.

mod common;

use common::e8_minimal_vectors;
use nestlat::Error;
use nestlat::lattice::{
    Dn, E8, Lattice, MAX_COORDINATE, Zn, nearest_point, nearest_points, squared_distance,
};
use nestlat::rng::SplitMix64;
use proptest::prelude::*;

/// Returns the minimal vectors `+-e_i +-e_j` of D_N.
fn dn_minimal_vectors<const N: usize>() -> Vec<[i32; N]> {
    let mut vectors = Vec::new();
    for i in 0..N {
        for j in i + 1..N {
            for (si, sj) in [(1, 1), (1, -1), (-1, 1), (-1, -1)] {
                let mut v = [0; N];
                v[i] = si;
                v[j] = sj;
                vectors.push(v);
            }
        }
    }
    vectors
}

fn to_lattice_units<L: Lattice<N>, const N: usize>(p: &[i32; N]) -> [f32; N] {
    p.map(|value| value as f32 / L::REPRESENTATION_SCALE as f32)
}

/// Checks that `p` is a nearest point of `L` to `x` by comparing it with its
/// neighbours `p + v` over the Voronoi-relevant vectors `v`, which is a
/// complete test of optimality.
fn assert_no_nearer_neighbour<L: Lattice<N>, const N: usize>(
    x: &[f32; N],
    p: &[i32; N],
    relevant: &[[i32; N]],
) {
    let distance = squared_distance::<L, N>(x, p);
    for v in relevant {
        let neighbour: [i32; N] = core::array::from_fn(|i| p[i] + v[i]);
        let neighbour_distance = squared_distance::<L, N>(x, &neighbour);
        assert!(
            distance <= neighbour_distance + 1e-9 * (1.0 + distance),
            "x = {x:?}: {p:?} at {distance} is farther than {neighbour:?} at {neighbour_distance}"
        );
    }
}

#[test]
fn e8_has_240_minimal_vectors() {
    let vectors = e8_minimal_vectors();
    assert_eq!(vectors.len(), 240);
    for v in &vectors {
        assert!(E8::contains(v), "{v:?} is not in E8");
        assert_eq!(v.iter().map(|value| value * value).sum::<i32>(), 8);
    }
}

#[test]
fn e8_minimal_vectors_decode_to_themselves() {
    for v in e8_minimal_vectors() {
        let x = to_lattice_units::<E8, 8>(&v);
        assert_eq!(nearest_point::<E8, 8>(&x), Ok(v));
    }
}

#[test]
fn z_halves_round_up() {
    let cases = [
        (0.5, 1),
        (-0.5, 0),
        (1.5, 2),
        (-1.5, -1),
        (2.5, 3),
        (0.25, 0),
    ];
    for (input, expected) in cases {
        assert_eq!(
            nearest_point::<Zn<1>, 1>(&[input]),
            Ok([expected]),
            "input {input}"
        );
    }
}

#[test]
fn d4_ties_follow_rule() {
    // Halfway between 0 and (1, 1, 0, 0): both round up, the sum is even.
    assert_eq!(
        nearest_point::<Dn<4>, 4>(&[0.5, 0.5, 0.0, 0.0]),
        Ok([1, 1, 0, 0])
    );
    // Halfway between 0 and (-1, -1, 0, 0): both round up to 0.
    assert_eq!(
        nearest_point::<Dn<4>, 4>(&[-0.5, -0.5, 0.0, 0.0]),
        Ok([0, 0, 0, 0])
    );
    // Odd sum with three equal rounding errors: the lowest index moves.
    assert_eq!(
        nearest_point::<Dn<4>, 4>(&[0.5, 0.5, 0.5, 0.0]),
        Ok([0, 1, 1, 0])
    );
    // Integer input with an odd sum: coordinate 0 moves up (error 0 counts as
    // non-negative).
    assert_eq!(
        nearest_point::<Dn<4>, 4>(&[1.0, 0.0, 0.0, 0.0]),
        Ok([2, 0, 0, 0])
    );
}

#[test]
fn e8_ties_follow_rule() {
    // Halfway between 0 and the minimal vector (1/2, ..., 1/2): the
    // half-integer candidate has the larger first coordinate.
    assert_eq!(nearest_point::<E8, 8>(&[0.25; 8]), Ok([1; 8]));
    // Halfway between 0 and -(1/2, ..., 1/2): 0 has the larger first coordinate.
    assert_eq!(nearest_point::<E8, 8>(&[-0.25; 8]), Ok([0; 8]));
    // Halfway between 0 and (1, 1, 0, ..., 0): the D8 search rounds both up.
    assert_eq!(
        nearest_point::<E8, 8>(&[0.5, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
        Ok([2, 2, 0, 0, 0, 0, 0, 0])
    );
    // Translating a tie by a lattice vector translates the result.
    let shifted = [1.25, 1.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25];
    assert_eq!(
        nearest_point::<E8, 8>(&shifted),
        Ok([3, 3, 1, 1, 1, 1, 1, 1])
    );
}

fn assert_generator_inverts<L: Lattice<N>, const N: usize>(seed: u64) {
    let g = L::generator();
    let mut rng = SplitMix64::new(seed);
    for _ in 0..1000 {
        let c: [i32; N] = core::array::from_fn(|_| (rng.next_u64() % 2001) as i32 - 1000);
        let p = L::from_coordinates(&c);
        let expected: [i32; N] = core::array::from_fn(|i| (0..N).map(|j| g[i][j] * c[j]).sum());
        assert_eq!(p, expected, "G c for c = {c:?}");
        assert!(L::contains(&p), "{p:?} = G {c:?} is not a lattice point");
        assert_eq!(L::to_coordinates(&p), c, "G^-1 G c for c = {c:?}");
    }
}

#[test]
fn generator_inverse_is_exact() {
    assert_generator_inverts::<Zn<3>, 3>(1);
    assert_generator_inverts::<Dn<1>, 1>(2);
    assert_generator_inverts::<Dn<4>, 4>(3);
    assert_generator_inverts::<Dn<8>, 8>(4);
    assert_generator_inverts::<E8, 8>(5);
}

#[test]
fn e8_generator_matches_basis() {
    let g = E8::generator();
    let mut expected = [[0; 8]; 8];
    expected[0][0] = 4;
    for j in 1..7 {
        expected[j][j] = 2;
        expected[j - 1][j] = -2;
    }
    for row in expected.iter_mut() {
        row[7] = 1;
    }
    assert_eq!(g, expected);
}

#[test]
fn lattice_points_map_back() {
    let mut rng = SplitMix64::new(11);
    for _ in 0..1000 {
        let x: [f32; 8] = core::array::from_fn(|_| (rng.next_gaussian() * 20.0) as f32);
        let p = nearest_point::<E8, 8>(&x).unwrap();
        assert_eq!(E8::from_coordinates(&E8::to_coordinates(&p)), p);
        let d = nearest_point::<Dn<8>, 8>(&x).unwrap();
        assert_eq!(Dn::<8>::from_coordinates(&Dn::<8>::to_coordinates(&d)), d);
    }
}

#[test]
fn non_finite_input_is_rejected() {
    let mut x = [0.0f32; 8];
    x[3] = f32::NAN;
    assert_eq!(
        nearest_point::<E8, 8>(&x),
        Err(Error::NonFinite {
            block: 0,
            coordinate: 3
        })
    );
    x[3] = f32::NEG_INFINITY;
    assert_eq!(
        nearest_point::<E8, 8>(&x),
        Err(Error::NonFinite {
            block: 0,
            coordinate: 3
        })
    );
}

#[test]
fn out_of_range_input_is_rejected() {
    let mut x = [0.0f32; 4];
    x[2] = 2.0 * MAX_COORDINATE;
    assert_eq!(
        nearest_point::<Dn<4>, 4>(&x),
        Err(Error::OutOfRange {
            block: 0,
            coordinate: 2,
            value: 2.0 * MAX_COORDINATE
        })
    );
    x[2] = MAX_COORDINATE;
    assert_eq!(nearest_point::<Dn<4>, 4>(&x), Ok([0, 0, 1_048_576, 0]));
}

#[test]
fn subnormal_and_zero_round_to_zero() {
    let x = [
        f32::MIN_POSITIVE / 2.0,
        -0.0,
        0.0,
        -f32::MIN_POSITIVE / 4.0,
        0.0,
        0.0,
        0.0,
        0.0,
    ];
    assert_eq!(nearest_point::<E8, 8>(&x), Ok([0; 8]));
}

#[test]
fn batch_reports_first_invalid_block() {
    let mut blocks = vec![[0.5f32; 8]; 20];
    blocks[11][6] = f32::INFINITY;
    blocks[13][0] = f32::NAN;
    let mut out = vec![[0i32; 8]; 20];
    assert_eq!(
        nearest_points::<E8, 8>(&blocks, &mut out),
        Err(Error::NonFinite {
            block: 11,
            coordinate: 6
        })
    );
    let mut short = vec![[0i32; 8]; 19];
    assert_eq!(
        nearest_points::<E8, 8>(&blocks, &mut short),
        Err(Error::LengthMismatch {
            expected: 20,
            actual: 19
        })
    );
}

#[test]
fn batch_accepts_empty_input() {
    let blocks: Vec<[f32; 8]> = Vec::new();
    let mut out: Vec<[i32; 8]> = Vec::new();
    assert_eq!(nearest_points::<E8, 8>(&blocks, &mut out), Ok(()));
}

/// Estimates the normalized second moment with `samples` points uniform on
/// `[0, 2)^N`, a union of fundamental cells of every lattice here, so the
/// error is uniform on the Voronoi cell.
fn normalized_second_moment<L: Lattice<N>, const N: usize>(samples: usize, seed: u64) -> f64 {
    let mut rng = SplitMix64::new(seed);
    let mut total = 0.0;
    for _ in 0..samples {
        let x: [f32; N] = core::array::from_fn(|_| (2.0 * rng.next_f64()) as f32);
        let p = nearest_point::<L, N>(&x).unwrap();
        total += squared_distance::<L, N>(&x, &p);
    }
    let volume_factor = libm::pow(L::CELL_VOLUME, 2.0 / N as f64);
    total / (samples as f64 * N as f64 * volume_factor)
}

#[test]
fn second_moments_match_theory() {
    let cases = [
        (
            "Z",
            normalized_second_moment::<Zn<1>, 1>(200_000, 21),
            1.0 / 12.0,
        ),
        (
            "D3",
            normalized_second_moment::<Dn<3>, 3>(200_000, 22),
            0.0787451,
        ),
        (
            "D4",
            normalized_second_moment::<Dn<4>, 4>(200_000, 23),
            0.0766032,
        ),
        (
            "D8",
            normalized_second_moment::<Dn<8>, 8>(200_000, 24),
            Dn::<8>::NORMALIZED_SECOND_MOMENT,
        ),
        (
            "E8",
            normalized_second_moment::<E8, 8>(200_000, 25),
            0.0716821,
        ),
    ];
    for (name, measured, expected) in cases {
        let relative = (measured - expected).abs() / expected;
        assert!(
            relative < 0.01,
            "{name}: measured {measured}, expected {expected}"
        );
    }
}

#[test]
fn second_moment_constants_match_published_values() {
    assert!((Zn::<1>::NORMALIZED_SECOND_MOMENT - 1.0 / 12.0).abs() < 1e-12);
    assert!((Dn::<2>::NORMALIZED_SECOND_MOMENT - 1.0 / 12.0).abs() < 1e-12);
    assert!((Dn::<3>::NORMALIZED_SECOND_MOMENT - 0.0787451).abs() < 1e-7);
    assert!((Dn::<4>::NORMALIZED_SECOND_MOMENT - 0.0766032).abs() < 1e-7);
    assert!((E8::NORMALIZED_SECOND_MOMENT - 0.0716821).abs() < 1e-7);
}

fn block8() -> impl Strategy<Value = [f32; 8]> {
    prop::array::uniform8(-1000.0f32..1000.0)
}

/// Blocks on a grid of quarters, where ties are frequent.
fn tie_block8() -> impl Strategy<Value = [f32; 8]> {
    prop::array::uniform8((-16i32..16).prop_map(|value| value as f32 / 4.0))
}

fn simd_equals_scalar<L: Lattice<N>, const N: usize>(blocks: &[[f32; N]]) {
    let mut out = vec![[0i32; N]; blocks.len()];
    nearest_points::<L, N>(blocks, &mut out).unwrap();
    for (block, simd) in blocks.iter().zip(&out) {
        assert_eq!(
            &nearest_point::<L, N>(block).unwrap(),
            simd,
            "block {block:?}"
        );
    }
}

proptest! {
    #[test]
    fn e8_search_is_optimal(x in block8()) {
        let p = nearest_point::<E8, 8>(&x).unwrap();
        prop_assert!(E8::contains(&p));
        assert_no_nearer_neighbour::<E8, 8>(&x, &p, &e8_minimal_vectors());
    }

    #[test]
    fn e8_search_is_optimal_at_ties(x in tie_block8()) {
        let p = nearest_point::<E8, 8>(&x).unwrap();
        assert_no_nearer_neighbour::<E8, 8>(&x, &p, &e8_minimal_vectors());
    }

    #[test]
    fn d4_search_beats_box_neighbours(x in prop::array::uniform4(-50.0f32..50.0)) {
        let p = nearest_point::<Dn<4>, 4>(&x).unwrap();
        prop_assert!(Dn::<4>::contains(&p));
        // Every D4 point within one step per coordinate of p.
        let mut neighbours = Vec::new();
        for code in 0..81 {
            let v: [i32; 4] = core::array::from_fn(|i| (code / 3i32.pow(i as u32)) % 3 - 1);
            if v.iter().sum::<i32>() % 2 == 0 {
                neighbours.push(v);
            }
        }
        assert_no_nearer_neighbour::<Dn<4>, 4>(&x, &p, &neighbours);
        assert_no_nearer_neighbour::<Dn<4>, 4>(&x, &p, &dn_minimal_vectors::<4>());
    }

    #[test]
    fn d8_search_is_optimal(x in block8()) {
        let p = nearest_point::<Dn<8>, 8>(&x).unwrap();
        assert_no_nearer_neighbour::<Dn<8>, 8>(&x, &p, &dn_minimal_vectors::<8>());
    }

    #[test]
    fn z_search_is_optimal(x in prop::array::uniform5(-1000.0f32..1000.0)) {
        let p = nearest_point::<Zn<5>, 5>(&x).unwrap();
        let relevant: Vec<[i32; 5]> = (0..10)
            .map(|k| core::array::from_fn(|i| if i == k / 2 { if k % 2 == 0 { 1 } else { -1 } } else { 0 }))
            .collect();
        assert_no_nearer_neighbour::<Zn<5>, 5>(&x, &p, &relevant);
    }

    #[test]
    fn search_is_idempotent_on_lattice_points(x in block8()) {
        let p = nearest_point::<E8, 8>(&x).unwrap();
        prop_assert_eq!(nearest_point::<E8, 8>(&to_lattice_units::<E8, 8>(&p)).unwrap(), p);
        let d = nearest_point::<Dn<8>, 8>(&x).unwrap();
        prop_assert_eq!(nearest_point::<Dn<8>, 8>(&to_lattice_units::<Dn<8>, 8>(&d)).unwrap(), d);
        let z = nearest_point::<Zn<8>, 8>(&x).unwrap();
        prop_assert_eq!(nearest_point::<Zn<8>, 8>(&to_lattice_units::<Zn<8>, 8>(&z)).unwrap(), z);
    }

    #[test]
    fn e8_translation_moves_result(x in tie_block8(), index in 0usize..240) {
        let v = e8_minimal_vectors()[index];
        let shifted: [f32; 8] = core::array::from_fn(|i| x[i] + v[i] as f32 / 2.0);
        let p = nearest_point::<E8, 8>(&x).unwrap();
        let expected: [i32; 8] = core::array::from_fn(|i| p[i] + v[i]);
        prop_assert_eq!(nearest_point::<E8, 8>(&shifted).unwrap(), expected);
    }

    #[test]
    fn simd_matches_scalar_e8(blocks in prop::collection::vec(block8(), 0..40)) {
        simd_equals_scalar::<E8, 8>(&blocks);
    }

    #[test]
    fn simd_matches_scalar_at_ties(blocks in prop::collection::vec(tie_block8(), 0..40)) {
        simd_equals_scalar::<E8, 8>(&blocks);
        simd_equals_scalar::<Dn<8>, 8>(&blocks);
        simd_equals_scalar::<Zn<8>, 8>(&blocks);
    }

    #[test]
    fn simd_matches_scalar_small_dims(
        blocks in prop::collection::vec(prop::array::uniform4(-MAX_COORDINATE..MAX_COORDINATE), 0..30),
        lines in prop::collection::vec(prop::array::uniform3(-8.0f32..8.0), 0..30),
    ) {
        simd_equals_scalar::<Dn<4>, 4>(&blocks);
        simd_equals_scalar::<Zn<4>, 4>(&blocks);
        simd_equals_scalar::<Dn<3>, 3>(&lines);
        simd_equals_scalar::<Zn<3>, 3>(&lines);
    }
}
