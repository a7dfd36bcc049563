//! The randomized Hadamard rotation: orthogonality for every length, the
//! inverse, and the classic one-pass map for powers of two.

use nestlat::Error;
use nestlat::quant::Rotation;
use nestlat::rng::SplitMix64;
use proptest::prelude::*;

fn random_vector(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = SplitMix64::new(seed);
    (0..len).map(|_| rng.next_gaussian() as f32).collect()
}

fn padded(x: &[f32], coded_len: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; coded_len];
    out[..x.len()].copy_from_slice(x);
    out
}

fn dot(x: &[f32], y: &[f32]) -> f64 {
    x.iter()
        .zip(y)
        .map(|(&a, &b)| f64::from(a) * f64::from(b))
        .sum()
}

#[test]
fn coded_length_rounds_up_to_eight() {
    for (len, coded) in [(0, 0), (1, 8), (8, 8), (9, 16), (384, 384), (385, 392)] {
        assert_eq!(Rotation::hadamard(len, 1).unwrap().coded_len(), coded);
    }
}

#[test]
fn wrong_buffer_length_is_rejected() {
    let rotation = Rotation::hadamard(10, 3).unwrap();
    let mut short = vec![0.0f32; 10];
    assert_eq!(
        rotation.pad_and_rotate(&mut short),
        Err(Error::LengthMismatch {
            expected: 16,
            actual: 10
        })
    );
}

#[test]
fn power_of_two_is_one_hadamard_pass() {
    // For n' = 16 the map is H D / 4 with the signs of stream 0.
    let x = random_vector(16, 5);
    let seed = 99;
    let mut rotated = x.clone();
    Rotation::hadamard(16, seed)
        .unwrap()
        .pad_and_rotate(&mut rotated)
        .unwrap();

    let bits = SplitMix64::for_stream(seed, 0).next_u64();
    let signed: Vec<f32> = (0..16)
        .map(|i| if (bits >> i) & 1 != 0 { -x[i] } else { x[i] })
        .collect();
    for (row, &value) in rotated.iter().enumerate() {
        let expected: f32 = (0..16)
            .map(|column| {
                let parity = (row & column).count_ones() % 2;
                if parity == 0 {
                    signed[column]
                } else {
                    -signed[column]
                }
            })
            .sum::<f32>()
            / 4.0;
        assert!(
            (value - expected).abs() < 1e-5,
            "row {row}: {value} against {expected}"
        );
    }
}

#[test]
fn identity_only_pads() {
    let rotation = Rotation::identity(5).unwrap();
    let mut x = vec![1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 7.0, 7.0];
    rotation.pad_and_rotate(&mut x).unwrap();
    assert_eq!(x, [1.0, 2.0, 3.0, 4.0, 5.0, 0.0, 0.0, 0.0]);
}

#[test]
fn outlier_spreads_over_vector() {
    // A single spike must be spread so that no coordinate keeps more than a
    // small share of its energy, also for lengths that are not powers of two.
    // After two passes the spike is spread over a segment of at least half
    // the length, as random sums, so the bound allows 16 times the even
    // share over half the length.
    for len in [64, 384, 1000, 1536] {
        let rotation = Rotation::hadamard(len, 11).unwrap();
        let mut x = vec![0.0f32; rotation.coded_len()];
        x[len - 1] = 1.0;
        rotation.pad_and_rotate(&mut x).unwrap();
        let largest = x.iter().fold(0.0f32, |max, value| max.max(value.abs()));
        assert!(
            largest * largest <= 32.0 / len as f32,
            "length {len}: largest share {}",
            largest * largest
        );
    }
}

proptest! {
    #[test]
    fn rotation_preserves_inner_products(len in 0usize..700, seed in any::<u64>(), data_seed in any::<u64>()) {
        let rotation = Rotation::hadamard(len, seed).unwrap();
        let x = random_vector(len, data_seed);
        let y = random_vector(len, data_seed ^ 1);
        let mut rx = padded(&x, rotation.coded_len());
        let mut ry = padded(&y, rotation.coded_len());
        rotation.pad_and_rotate(&mut rx).unwrap();
        rotation.pad_and_rotate(&mut ry).unwrap();

        let tolerance = 1e-5 * (1.0 + len as f64);
        prop_assert!((dot(&rx, &rx) - dot(&x, &x)).abs() <= tolerance);
        prop_assert!((dot(&rx, &ry) - dot(&x, &y)).abs() <= tolerance);
    }

    #[test]
    fn unrotate_inverts_rotation(len in 0usize..700, seed in any::<u64>(), data_seed in any::<u64>()) {
        let rotation = Rotation::hadamard(len, seed).unwrap();
        let x = random_vector(len, data_seed);
        let mut buffer = padded(&x, rotation.coded_len());
        rotation.pad_and_rotate(&mut buffer).unwrap();
        rotation.unrotate(&mut buffer).unwrap();

        for (i, (&restored, &original)) in buffer.iter().zip(&x).enumerate() {
            prop_assert!((restored - original).abs() < 1e-5, "entry {}: {} against {}", i, restored, original);
        }
        for &padding in &buffer[len..] {
            prop_assert!(padding.abs() < 1e-5);
        }
    }
}
