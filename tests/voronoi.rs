//! Round trips, codebook completeness, dither statistics, overload and input
//! validation of the single-scale Voronoi code.

use std::collections::HashSet;

use nestlat::Error;
use nestlat::code::VoronoiCode;
use nestlat::lattice::{Dn, E8, Lattice, Zn, nearest_point};
use nestlat::rng::SplitMix64;
use proptest::prelude::*;

/// Nesting ratios under test, from the smallest to the largest accepted.
const MODULI: [u32; 7] = [2, 3, 4, 6, 13, 16, 256];

const DITHER_SEED: u64 = 0x5EED_D17E;

/// Returns the four codes of one lattice and ratio: plain, shifted by a deep
/// hole, dithered, and both shifted and dithered.
fn variants<L: Lattice<N>, const N: usize>(q: u32) -> [VoronoiCode<L, N>; 4] {
    // A generic `L` is not `Copy`, so neither is the code, and each variant
    // is built anew.
    let plain = || VoronoiCode::<L, N>::new(q).unwrap();
    [
        plain(),
        plain().with_deep_hole_shift(),
        plain().with_dither(DITHER_SEED),
        plain().with_deep_hole_shift().with_dither(DITHER_SEED + 1),
    ]
}

fn bits<const N: usize>(x: &[f32; N]) -> [u32; N] {
    x.map(f32::to_bits)
}

/// Encodes and decodes one block and checks every property that holds for
/// any input. Returns whether the block overloaded.
///
/// - Without overload, `decode` returns `fine_quantize` bit for bit, and the
///   fine point is within one cell of `x`.
/// - With overload, the decoded point differs from the fine point.
/// - The decoded point is a lattice point whose re-encoding returns the same
///   digits without overload.
fn check_block<L: Lattice<N>, const N: usize>(
    code: &VoronoiCode<L, N>,
    x: &[f32; N],
    beta: f32,
    block: u64,
) -> bool {
    let context = format!(
        "{} q = {} shifted = {} dither = {:?} x = {x:?} beta = {beta} block = {block}",
        L::NAME,
        code.q(),
        code.is_shifted(),
        code.dither_seed()
    );
    let index = code.encode(x, beta, block).unwrap();
    let fine = code.fine_quantize(x, beta, block).unwrap();
    let decoded = code.decode(&index.digits, beta, block).unwrap();

    if index.overloaded {
        assert_ne!(
            bits(&decoded),
            bits(&fine),
            "overloaded block decodes to its fine point: {context}"
        );
    } else {
        assert_eq!(
            bits(&decoded),
            bits(&fine),
            "decode differs from fine_quantize: {context}"
        );
        let bound = beta * L::CELL_COORDINATE_BOUND * (1.0 + 1e-5) + 1e-6 * beta;
        for i in 0..N {
            assert!(
                (x[i] - fine[i]).abs() <= bound + 1e-6 * x[i].abs(),
                "coordinate {i} of the fine point {fine:?} is farther than one cell: {context}"
            );
        }
    }

    let point = code.decode_point(&index.digits, block).unwrap();
    assert!(
        L::contains(&point),
        "decode_point {point:?} is not a lattice point: {context}"
    );

    let again = code.encode(&decoded, beta, block).unwrap();
    assert_eq!(
        again.digits, index.digits,
        "decoded point {decoded:?} re-encodes differently: {context}"
    );
    assert!(
        !again.overloaded,
        "decoded point {decoded:?} overloads: {context}"
    );

    index.overloaded
}

/// One random draw shared by every lattice, ratio and variant.
struct Draw {
    unit: [f32; 8],
    gaussian: [f32; 8],
    spread: f32,
    beta: f32,
    block: u64,
}

impl Draw {
    fn random(rng: &mut SplitMix64) -> Self {
        let unit = core::array::from_fn(|_| (2.0 * rng.next_f64() - 1.0) as f32);
        let gaussian = core::array::from_fn(|_| rng.next_gaussian() as f32);
        let spread = (0.05 + 1.45 * rng.next_f64()) as f32;
        let beta = libm::exp2(16.0 * rng.next_f64() - 8.0) as f32;
        Self {
            unit,
            gaussian,
            spread,
            beta,
            block: rng.next_u64(),
        }
    }

    /// Returns a uniform block in a box of half-width `spread` coarse cells.
    fn uniform_block<L: Lattice<N>, const N: usize>(&self, q: u32) -> [f32; N] {
        let half_width = self.beta * q as f32 * L::CELL_COORDINATE_BOUND * self.spread;
        core::array::from_fn(|i| half_width * self.unit[i])
    }

    /// Returns a Gaussian block with a deviation of `spread / 2` coarse cells.
    fn gaussian_block<const N: usize>(&self, q: u32) -> [f32; N] {
        let deviation = 0.5 * self.beta * q as f32 * self.spread;
        core::array::from_fn(|i| deviation * self.gaussian[i])
    }
}

/// Overload counts of one code over many draws.
#[derive(Default)]
struct Tally {
    blocks: usize,
    overloaded: usize,
}

fn check_draw<L: Lattice<N>, const N: usize>(draw: &Draw, tallies: &mut Vec<(String, Tally)>) {
    for q in MODULI {
        for (variant, code) in variants::<L, N>(q).iter().enumerate() {
            let name = format!("{}{N} q = {q} variant {variant}", L::NAME);
            let position = match tallies.iter().position(|(known, _)| *known == name) {
                Some(position) => position,
                None => {
                    tallies.push((name, Tally::default()));
                    tallies.len() - 1
                }
            };
            for x in [draw.uniform_block::<L, N>(q), draw.gaussian_block::<N>(q)] {
                let overloaded = check_block(code, &x, draw.beta, draw.block);
                let tally = &mut tallies[position].1;
                tally.blocks += 1;
                tally.overloaded += usize::from(overloaded);
            }
        }
    }
}

fn check_draw_all_lattices(draw: &Draw, tallies: &mut Vec<(String, Tally)>) {
    check_draw::<E8, 8>(draw, tallies);
    check_draw::<Dn<4>, 4>(draw, tallies);
    check_draw::<Zn<1>, 1>(draw, tallies);
    check_draw::<Zn<8>, 8>(draw, tallies);
}

#[test]
fn decode_matches_fine_quantize() {
    let mut rng = SplitMix64::new(1);
    let mut tallies = Vec::new();
    for _ in 0..300 {
        check_draw_all_lattices(&Draw::random(&mut rng), &mut tallies);
    }

    // Both branches of check_block must run often for every code, or the
    // round trip above proved nothing.
    for (name, tally) in &tallies {
        let clean = tally.blocks - tally.overloaded;
        assert!(
            clean * 5 >= tally.blocks,
            "{name}: only {clean} of {} blocks not overloaded",
            tally.blocks
        );
        assert!(
            tally.overloaded > 0,
            "{name}: no block overloaded in {}",
            tally.blocks
        );
    }
}

/// Returns a block on a grid of quarter cells, where the searches meet ties.
fn quarter_grid_block<L: Lattice<N>, const N: usize>(
    steps: &[i32; 8],
    q: u32,
    beta: f32,
) -> [f32; N] {
    // Keep the grid within 0.6 coarse cells per coordinate, so that a good
    // share of the blocks do not overload.
    let limit = ((4.0 * q as f32 * L::CELL_COORDINATE_BOUND * 0.6) as i32).max(1);
    core::array::from_fn(|i| beta * (steps[i].rem_euclid(2 * limit + 1) - limit) as f32 / 4.0)
}

fn check_quarter_grid<L: Lattice<N>, const N: usize>(steps: &[i32; 8], beta: f32, block: u64) {
    for q in MODULI {
        for code in variants::<L, N>(q) {
            let x = quarter_grid_block::<L, N>(steps, q, beta);
            check_block(&code, &x, beta, block);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn decode_matches_fine_quantize_random(
        unit in prop::array::uniform8(-1.0f32..1.0),
        gaussian_seed in any::<u64>(),
        spread in 0.05f32..1.5,
        beta_exponent in -8.0f64..8.0,
        block in any::<u64>(),
    ) {
        let mut rng = SplitMix64::new(gaussian_seed);
        let gaussian = core::array::from_fn(|_| rng.next_gaussian() as f32);
        let draw = Draw { unit, gaussian, spread, beta: libm::exp2(beta_exponent) as f32, block };
        check_draw_all_lattices(&draw, &mut Vec::new());
    }

    #[test]
    fn decode_matches_fine_quantize_at_ties(
        steps in prop::array::uniform8(-100_000i32..100_000),
        beta_exponent in -4i32..5,
        block in any::<u64>(),
    ) {
        // A power of two keeps x / beta on the grid exactly.
        let beta = libm::exp2(f64::from(beta_exponent)) as f32;
        check_quarter_grid::<E8, 8>(&steps, beta, block);
        check_quarter_grid::<Dn<4>, 4>(&steps, beta, block);
        check_quarter_grid::<Zn<1>, 1>(&steps, beta, block);
        check_quarter_grid::<Zn<8>, 8>(&steps, beta, block);
    }
}

/// Decodes every digit vector of a code and checks that the `q^N` decoded
/// points are distinct and re-encode to their digits without overload.
fn assert_codebook_complete<L: Lattice<N>, const N: usize>(code: &VoronoiCode<L, N>, block: u64) {
    let q = code.q();
    let count = (q as usize).pow(N as u32);
    let beta = 0.75;
    let mut points = HashSet::new();
    for number in 0..count {
        let digits: [u8; N] =
            core::array::from_fn(|i| (number / (q as usize).pow(i as u32) % q as usize) as u8);
        let point = code.decode_point(&digits, block).unwrap();
        assert!(
            L::contains(&point),
            "{digits:?} decodes to {point:?}, not a lattice point"
        );
        points.insert(point);

        let decoded = code.decode(&digits, beta, block).unwrap();
        let again = code.encode(&decoded, beta, block).unwrap();
        assert_eq!(
            again.digits,
            digits,
            "{} q = {q}: {decoded:?} re-encodes differently",
            L::NAME
        );
        assert!(
            !again.overloaded,
            "{} q = {q}: decoded point {decoded:?} overloads",
            L::NAME
        );
    }
    assert_eq!(
        points.len(),
        count,
        "{} q = {q}: decoded points are not distinct",
        L::NAME
    );
}

#[test]
fn codebook_is_complete() {
    for q in 2..=4 {
        for code in variants::<Dn<4>, 4>(q) {
            assert_codebook_complete(&code, 3);
        }
    }
    for q in 2..=6 {
        for code in variants::<Zn<2>, 2>(q) {
            assert_codebook_complete(&code, 5);
        }
    }
    for code in variants::<E8, 8>(2) {
        assert_codebook_complete(&code, 7);
    }
}

/// Returns the dither `z` of a code, `s - o`, for one block.
fn dither_of<L: Lattice<N>, const N: usize>(code: &VoronoiCode<L, N>, block: u64) -> [f32; N] {
    let shift = if code.is_shifted() {
        L::deep_hole()
    } else {
        [0.0; N]
    };
    let offset = code.offset(block);
    core::array::from_fn(|i| shift[i] - offset[i])
}

/// Checks that the dither lies in the Voronoi cell, has mean zero and the
/// second moment of the cell, `G V^(2/N)` per coordinate.
fn assert_dither_uniform<L: Lattice<N>, const N: usize>(code: &VoronoiCode<L, N>) {
    let blocks = 20_000;
    let mut sum = [0.0f64; N];
    let mut squares = 0.0f64;
    for block in 0..blocks {
        let z = dither_of(code, block);
        assert_eq!(
            nearest_point::<L, N>(&z),
            Ok([0; N]),
            "{} dither {z:?} of block {block} leaves the cell",
            L::NAME
        );
        for (total, &value) in sum.iter_mut().zip(&z) {
            *total += f64::from(value);
        }
        squares += z
            .iter()
            .map(|&value| f64::from(value) * f64::from(value))
            .sum::<f64>();
    }

    for (i, total) in sum.iter().enumerate() {
        let mean = total / blocks as f64;
        assert!(
            mean.abs() < 0.01,
            "{}: mean of dither coordinate {i} is {mean}",
            L::NAME
        );
    }
    let second_moment = squares / (blocks as f64 * N as f64);
    let expected = L::NORMALIZED_SECOND_MOMENT * libm::pow(L::CELL_VOLUME, 2.0 / N as f64);
    let relative = (second_moment - expected).abs() / expected;
    assert!(
        relative < 0.02,
        "{}: dither second moment {second_moment}, expected {expected}",
        L::NAME
    );
}

#[test]
fn dither_is_uniform_on_cell() {
    for shifted in [false, true] {
        let mut e8 = VoronoiCode::<E8, 8>::new(16).unwrap().with_dither(11);
        let mut d4 = VoronoiCode::<Dn<4>, 4>::new(3).unwrap().with_dither(12);
        let mut z1 = VoronoiCode::<Zn<1>, 1>::new(256).unwrap().with_dither(13);
        if shifted {
            e8 = e8.with_deep_hole_shift();
            d4 = d4.with_deep_hole_shift();
            z1 = z1.with_deep_hole_shift();
        }
        assert_dither_uniform(&e8);
        assert_dither_uniform(&d4);
        assert_dither_uniform(&z1);
    }
}

#[test]
fn dither_is_reproducible() {
    let first = VoronoiCode::<E8, 8>::new(13).unwrap().with_dither(99);
    let second = VoronoiCode::<E8, 8>::new(13).unwrap().with_dither(99);
    let other_seed = VoronoiCode::<E8, 8>::new(13).unwrap().with_dither(100);
    let x = [0.3, -1.2, 0.7, 0.05, -0.4, 1.1, -0.9, 0.2];
    for block in [0, 1, 2, 1000, u64::MAX] {
        assert_eq!(
            bits(&first.offset(block)),
            bits(&second.offset(block)),
            "block {block}"
        );
        assert_ne!(
            first.offset(block),
            other_seed.offset(block),
            "block {block}"
        );

        // Another code with the same seed decodes the first one's digits.
        let index = first.encode(&x, 0.5, block).unwrap();
        assert!(!index.overloaded, "block {block}");
        assert_eq!(
            bits(&second.decode(&index.digits, 0.5, block).unwrap()),
            bits(&first.fine_quantize(&x, 0.5, block).unwrap()),
            "block {block}"
        );
    }
}

#[test]
fn dither_differs_between_blocks() {
    let e8 = VoronoiCode::<E8, 8>::new(4).unwrap().with_dither(5);
    let e8_offsets: HashSet<[u32; 8]> = (0..1000).map(|block| bits(&e8.offset(block))).collect();
    assert_eq!(e8_offsets.len(), 1000);

    let d4 = VoronoiCode::<Dn<4>, 4>::new(4).unwrap().with_dither(5);
    let d4_offsets: HashSet<[u32; 4]> = (0..1000).map(|block| bits(&d4.offset(block))).collect();
    assert_eq!(d4_offsets.len(), 1000);

    // One coordinate with 2^16 values: 1000 draws collide about 7.6 times on
    // average (birthday bound), this seed 12 times.
    let z1 = VoronoiCode::<Zn<1>, 1>::new(4).unwrap().with_dither(5);
    let z1_offsets: HashSet<[u32; 1]> = (0..1000).map(|block| bits(&z1.offset(block))).collect();
    assert!(
        z1_offsets.len() >= 975,
        "only {} distinct offsets",
        z1_offsets.len()
    );
}

#[test]
fn dither_offsets_are_dyadic() {
    // Offsets are multiples of 2^-16 in integer representation.
    let code = VoronoiCode::<E8, 8>::new(16)
        .unwrap()
        .with_deep_hole_shift()
        .with_dither(3);
    for block in 0..200 {
        for value in code.offset(block) {
            let numerator = f64::from(value) * 2.0 * 65_536.0;
            assert_eq!(
                numerator.fract(),
                0.0,
                "offset coordinate {value} of block {block}"
            );
        }
    }
}

fn assert_shift_is_deep_hole<L: Lattice<N>, const N: usize>() {
    let plain = VoronoiCode::<L, N>::new(5).unwrap();
    assert!(!plain.is_shifted());
    assert_eq!(plain.offset(0), [0.0; N]);

    let shifted = plain.with_deep_hole_shift();
    assert!(shifted.is_shifted());
    for block in [0, 1, 12_345] {
        assert_eq!(
            shifted.offset(block),
            L::deep_hole(),
            "{} block {block}",
            L::NAME
        );
    }
}

#[test]
fn shift_offset_is_deep_hole() {
    assert_shift_is_deep_hole::<E8, 8>();
    assert_shift_is_deep_hole::<Dn<4>, 4>();
    assert_shift_is_deep_hole::<Zn<1>, 1>();
    assert_shift_is_deep_hole::<Zn<8>, 8>();
    assert_eq!(
        VoronoiCode::<E8, 8>::new(2)
            .unwrap()
            .with_deep_hole_shift()
            .offset(0),
        [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    );
}

fn assert_far_input_overloads<L: Lattice<N>, const N: usize>() {
    for q in MODULI {
        for code in variants::<L, N>(q) {
            let beta = 0.37;
            let far = [1000.0 * beta * q as f32; N];
            let mut mixed = [-1000.0 * beta * q as f32; N];
            mixed[0] = 3.0 * beta * q as f32;
            for x in [
                far,
                mixed,
                [1e30; N],
                [-1e30; N],
                [f32::MAX; N],
                [f32::MIN; N],
            ] {
                let index = code.encode(&x, beta, 9).unwrap();
                assert!(
                    index.overloaded,
                    "{} q = {q}: {x:?} does not overload",
                    L::NAME
                );
                // The digits still name a codebook point.
                code.decode(&index.digits, beta, 9).unwrap();
            }
            // A tiny scale makes the quotient x / beta infinite.
            let index = code.encode(&[1e30; N], f32::MIN_POSITIVE, 9).unwrap();
            assert!(
                index.overloaded,
                "{} q = {q}: quotient beyond f32 does not overload",
                L::NAME
            );
        }
    }
}

#[test]
fn far_input_overloads() {
    assert_far_input_overloads::<E8, 8>();
    assert_far_input_overloads::<Dn<4>, 4>();
    assert_far_input_overloads::<Zn<1>, 1>();
    assert_far_input_overloads::<Zn<8>, 8>();
}

#[test]
fn invalid_modulus_is_rejected() {
    for q in [0, 1, 257, u32::MAX] {
        assert_eq!(
            VoronoiCode::<E8, 8>::new(q),
            Err(Error::InvalidModulus { q })
        );
        assert_eq!(
            VoronoiCode::<Dn<4>, 4>::new(q),
            Err(Error::InvalidModulus { q })
        );
        assert_eq!(
            VoronoiCode::<Zn<1>, 1>::new(q),
            Err(Error::InvalidModulus { q })
        );
    }
    assert!(VoronoiCode::<E8, 8>::new(2).is_ok());
    assert!(VoronoiCode::<E8, 8>::new(256).is_ok());
}

#[test]
fn non_finite_input_is_rejected() {
    let code = VoronoiCode::<E8, 8>::new(16).unwrap().with_dither(1);
    for value in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        for coordinate in [0, 3, 7] {
            let mut x = [0.5f32; 8];
            x[coordinate] = value;
            let expected = Error::NonFinite {
                block: 4,
                coordinate,
            };
            assert_eq!(
                code.encode(&x, 1.0, 4),
                Err(expected),
                "{value} at {coordinate}"
            );
            assert_eq!(
                code.fine_quantize(&x, 1.0, 4),
                Err(expected),
                "{value} at {coordinate}"
            );
        }
    }
}

fn is_invalid_scale<T>(result: Result<T, Error>, expected: f32) -> bool {
    match result {
        Err(Error::InvalidScale { index: 0, value }) => value.to_bits() == expected.to_bits(),
        _ => false,
    }
}

#[test]
fn invalid_scale_is_rejected() {
    let code = VoronoiCode::<Dn<4>, 4>::new(6)
        .unwrap()
        .with_deep_hole_shift();
    let x = [0.1, 0.2, -0.3, 0.4];
    for beta in [0.0, -0.0, -1.0, f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        assert!(
            is_invalid_scale(code.encode(&x, beta, 0), beta),
            "encode at beta = {beta}"
        );
        assert!(
            is_invalid_scale(code.fine_quantize(&x, beta, 0), beta),
            "fine_quantize at beta = {beta}"
        );
        assert!(
            is_invalid_scale(code.decode(&[0; 4], beta, 0), beta),
            "decode at beta = {beta}"
        );
    }
}

#[test]
fn invalid_digit_is_rejected() {
    let code = VoronoiCode::<E8, 8>::new(13).unwrap();
    let mut digits = [12u8; 8];
    digits[5] = 13;
    let expected = Error::InvalidDigit {
        index: 5,
        digit: 13,
        q: 13,
    };
    assert_eq!(code.decode(&digits, 1.0, 0), Err(expected));
    assert_eq!(code.decode_point(&digits, 0), Err(expected));

    // The first invalid digit is reported.
    digits[2] = 255;
    assert_eq!(
        code.decode(&digits, 1.0, 0),
        Err(Error::InvalidDigit {
            index: 2,
            digit: 255,
            q: 13
        })
    );

    let full = VoronoiCode::<Zn<1>, 1>::new(256).unwrap();
    assert!(full.decode(&[255], 1.0, 0).is_ok());
    let binary = VoronoiCode::<Zn<1>, 1>::new(2).unwrap();
    assert_eq!(
        binary.decode_point(&[2], 0),
        Err(Error::InvalidDigit {
            index: 0,
            digit: 2,
            q: 2
        })
    );
}

/// Measures the mean squared error per coordinate over `blocks` blocks,
/// divided by `beta^2`, and checks that no block overloads.
fn normalized_error(
    code: &VoronoiCode<E8, 8>,
    beta: f32,
    blocks: u64,
    mut input: impl FnMut(u64) -> [f32; 8],
) -> f64 {
    let mut total = 0.0f64;
    for block in 0..blocks {
        let x = input(block);
        let index = code.encode(&x, beta, block).unwrap();
        assert!(!index.overloaded, "block {block} {x:?} overloads");
        let decoded = code.decode(&index.digits, beta, block).unwrap();
        total += x
            .iter()
            .zip(&decoded)
            .map(|(&a, &b)| f64::from(a - b) * f64::from(a - b))
            .sum::<f64>();
    }
    total / (blocks as f64 * 8.0 * f64::from(beta) * f64::from(beta))
}

#[test]
fn dithered_error_equals_second_moment() {
    // With subtractive dither the error is uniform on the cell whatever x is,
    // so one fixed block reaches G = 0.0716821 (E8 has cell volume 1).
    let beta = 0.2;
    let x = [0.3, -0.71, 0.05, 0.9, -0.2, 0.44, -0.6, 0.12];
    for code in [
        VoronoiCode::<E8, 8>::new(16).unwrap().with_dither(21),
        VoronoiCode::<E8, 8>::new(16)
            .unwrap()
            .with_deep_hole_shift()
            .with_dither(22),
    ] {
        let measured = normalized_error(&code, beta, 20_000, |_| x);
        let relative = (measured - 0.0716821).abs() / 0.0716821;
        assert!(
            relative < 0.02,
            "shifted = {}: MSE / beta^2 = {measured}",
            code.is_shifted()
        );
    }
}

#[test]
fn undithered_error_equals_second_moment() {
    // x / beta uniform on [-2, 2)^8, a union of fundamental cells of E8, and
    // well inside the coarse cell of q = 16 (inner radius 11.3).
    let beta = 0.25;
    for code in [
        VoronoiCode::<E8, 8>::new(16).unwrap(),
        VoronoiCode::<E8, 8>::new(16)
            .unwrap()
            .with_deep_hole_shift(),
    ] {
        let mut rng = SplitMix64::new(23);
        let measured = normalized_error(&code, beta, 20_000, |_| {
            core::array::from_fn(|_| (rng.next_f64() - 0.5) as f32)
        });
        let relative = (measured - 0.0716821).abs() / 0.0716821;
        assert!(
            relative < 0.02,
            "shifted = {}: MSE / beta^2 = {measured}",
            code.is_shifted()
        );
    }
}

#[test]
fn overflowing_scale_is_rejected() {
    let code = VoronoiCode::<Zn<1>, 1>::new(4).unwrap();
    assert_eq!(
        code.decode(&[2], f32::MAX, 0),
        Err(Error::InvalidScale {
            index: 0,
            value: f32::MAX
        })
    );
    assert_eq!(
        code.encode(&[1.0], f32::MAX, 0),
        Err(Error::InvalidScale {
            index: 0,
            value: f32::MAX
        })
    );
    // A large accepted scale still decodes to finite values.
    let beta = 1e30;
    let decoded = code.decode(&[2], beta, 0).unwrap();
    assert!(decoded[0].is_finite(), "decoded {decoded:?}");
}

#[test]
fn non_finite_error_names_block() {
    let code = VoronoiCode::<E8, 8>::new(4).unwrap();
    let mut x = [0.0f32; 8];
    x[5] = f32::NAN;
    assert_eq!(
        code.encode(&x, 1.0, 42),
        Err(Error::NonFinite {
            block: 42,
            coordinate: 5
        })
    );
}
