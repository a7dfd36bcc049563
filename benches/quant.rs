//! Throughput of the matrix quantizer per preset, and of the scalar
//! reference product `W x` against a plain `f32` matrix-vector product.
//!
//! Run with `cargo bench --features alloc --bench quant`. Encoding is
//! reported in weights per second, products in weights (matrix entries) per
//! second.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use nestlat::product::{matvec, scratch_len};
use nestlat::quant::{Preset, QuantizedMatrix, QuantizerConfig, VectorSet};
use nestlat::rng::SplitMix64;

const ROWS: usize = 256;
const COLS: usize = 4096;

fn gaussian(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = SplitMix64::new(seed);
    (0..len).map(|_| rng.next_gaussian() as f32).collect()
}

fn bench_encode(c: &mut Criterion) {
    let weights = gaussian(ROWS * COLS, 1);
    let vectors = VectorSet::rows(&weights, ROWS, COLS).unwrap();
    let mut group = c.benchmark_group("quantize");
    group.throughput(Throughput::Elements((ROWS * COLS) as u64));
    group.sample_size(10);

    for name in [
        "e8-4", "e8-3", "e8-2", "e8b-2", "d4-4", "z-4", "lloyd-4", "e8h-4", "low-0.5",
    ] {
        let config = QuantizerConfig::new(Preset::by_name(name).unwrap());
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| QuantizedMatrix::quantize(black_box(&vectors), &config).unwrap())
        });
    }
    group.finish();
}

/// Returns `W x` for a row-major `f32` matrix, summed in index order.
fn dense_matvec(weights: &[f32], x: &[f32], y: &mut [f32]) {
    for (row, out) in weights.chunks_exact(x.len()).zip(y.iter_mut()) {
        *out = row.iter().zip(x).map(|(w, v)| w * v).sum();
    }
}

fn bench_matvec(c: &mut Criterion) {
    let weights = gaussian(ROWS * COLS, 2);
    let x = gaussian(COLS, 3);
    let vectors = VectorSet::rows(&weights, ROWS, COLS).unwrap();
    let mut y = vec![0.0f32; ROWS];
    let mut group = c.benchmark_group("matvec");
    group.throughput(Throughput::Elements((ROWS * COLS) as u64));

    group.bench_function(BenchmarkId::from_parameter("f32"), |b| {
        b.iter(|| dense_matvec(black_box(&weights), black_box(&x), &mut y))
    });
    for name in ["e8-4", "e8b-2", "lloyd-4"] {
        let coded = QuantizedMatrix::quantize(
            &vectors,
            &QuantizerConfig::new(Preset::by_name(name).unwrap()),
        )
        .unwrap();
        let view = coded.view();
        let mut scratch = vec![0.0f32; scratch_len(view.coded_len(), 1)];
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| matvec(&view, black_box(&x), &mut scratch, &mut y).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench_encode, bench_matvec);
criterion_main!(benches);
