//! Throughput of the nearest-point searches and of the E8 Voronoi codes.
//!
//! Run with `cargo bench --bench lattice`; add
//! `RUSTFLAGS="-C target-cpu=x86-64-v3"` to measure the AVX2 path of `wide`.
//! Throughput is reported in blocks per second.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use nestlat::code::{MultiScaleCode, ScaleSelection, VoronoiCode};
use nestlat::lattice::{Dn, E8, Lattice, Zn, nearest_point, nearest_points};
use nestlat::rng::SplitMix64;

const BLOCKS: usize = 4096;

/// Scales for unit-variance input at 4.00 stored bits per entry.
const E8_Q13_SCALES: [f32; 5] = [0.240, 0.293, 0.340, 0.407, 0.578];

fn gaussian_blocks<const N: usize>(scale: f64, seed: u64) -> Vec<[f32; N]> {
    let mut rng = SplitMix64::new(seed);
    (0..BLOCKS)
        .map(|_| core::array::from_fn(|_| (rng.next_gaussian() * scale) as f32))
        .collect()
}

fn bench_search<L: Lattice<N>, const N: usize>(c: &mut Criterion, name: &str) {
    let blocks = gaussian_blocks::<N>(4.0, 1);
    let mut out = vec![[0i32; N]; BLOCKS];
    let mut group = c.benchmark_group(format!("nearest_point/{name}"));
    group.throughput(Throughput::Elements(BLOCKS as u64));

    group.bench_function(BenchmarkId::from_parameter("scalar"), |b| {
        b.iter(|| {
            for (block, point) in blocks.iter().zip(out.iter_mut()) {
                *point = nearest_point::<L, N>(black_box(block)).unwrap();
            }
        })
    });
    group.bench_function(BenchmarkId::from_parameter("simd"), |b| {
        b.iter(|| nearest_points::<L, N>(black_box(&blocks), &mut out).unwrap())
    });
    group.finish();
}

fn bench_searches(c: &mut Criterion) {
    bench_search::<E8, 8>(c, "E8");
    bench_search::<Dn<4>, 4>(c, "D4");
    bench_search::<Dn<8>, 8>(c, "D8");
    bench_search::<Zn<8>, 8>(c, "Z8");
}

fn bench_voronoi(c: &mut Criterion) {
    let blocks = gaussian_blocks::<8>(1.0, 2);
    let mut group = c.benchmark_group("voronoi/E8");
    group.throughput(Throughput::Elements(BLOCKS as u64));

    let single = VoronoiCode::<E8, 8>::new(16).unwrap();
    let digits: Vec<[u8; 8]> = blocks
        .iter()
        .map(|block| single.encode(block, 0.5, 0).unwrap().digits)
        .collect();
    group.bench_function("encode_q16", |b| {
        b.iter(|| {
            for block in &blocks {
                black_box(single.encode(black_box(block), 0.5, 0).unwrap());
            }
        })
    });
    group.bench_function("decode_q16", |b| {
        b.iter(|| {
            for block_digits in &digits {
                black_box(single.decode(black_box(block_digits), 0.5, 0).unwrap());
            }
        })
    });

    let code = VoronoiCode::<E8, 8>::new(13)
        .unwrap()
        .with_deep_hole_shift();
    let multi = MultiScaleCode::new(code, &E8_Q13_SCALES, ScaleSelection::LowestError).unwrap();
    let words: Vec<u64> = blocks
        .iter()
        .map(|block| multi.encode_word(block, 0).unwrap())
        .collect();
    group.bench_function("encode_q13_k5_shifted", |b| {
        b.iter(|| {
            for block in &blocks {
                black_box(multi.encode_word(black_box(block), 0).unwrap());
            }
        })
    });
    group.bench_function("decode_q13_k5_shifted", |b| {
        b.iter(|| {
            for &word in &words {
                black_box(multi.decode_word(black_box(word), 0).unwrap());
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench_searches, bench_voronoi);
criterion_main!(benches);
