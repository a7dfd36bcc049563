//! Throughput of the product kernels (`nestlat::kernel`) against an `f32`
//! matrix-vector product on the same Gaussian matrix, one thread.
//!
//! Run with `cargo bench --features alloc --bench kernel`, and with
//! `RUSTFLAGS="-C target-cpu=x86-64-v3"` in a separate target folder for the
//! AVX2 build. Products are reported in weights (matrix entries times
//! activation vectors) per second; each kernel's time includes preparing
//! the activations.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use nestlat::kernel::{self, Activations, BufferLengths};
use nestlat::quant::{Preset, QuantizedMatrix, QuantizerConfig, VectorSet};
use nestlat::rng::SplitMix64;
use wide::f32x8;

/// Matrix shapes (rows, columns): one that fits the caches and the 4-bit
/// target size.
const SHAPES: [(usize, usize); 2] = [(1024, 1024), (4096, 4096)];

/// One preset per SIMD kernel (E8 lanes at every rate), and one on the
/// scalar group decoder.
const PRESETS: [&str; 6] = ["lloyd-4", "e8b-2", "e8-4", "e8-3", "e8-2", "z-4"];

fn gaussian(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = SplitMix64::new(seed);
    (0..len).map(|_| rng.next_gaussian() as f32).collect()
}

/// Returns `W X` for a row-major `f32` matrix with four `f32x8`
/// accumulators per dot product.
fn dense_matmul(weights: &[f32], x: &[f32], cols: usize, out: &mut [f32]) {
    let batch = x.len() / cols;
    for (row, values) in weights.chunks_exact(cols).zip(out.chunks_exact_mut(batch)) {
        for (value, vector) in values.iter_mut().zip(x.chunks_exact(cols)) {
            let mut sums = [f32x8::ZERO; 4];
            for (a, b) in row.chunks_exact(32).zip(vector.chunks_exact(32)) {
                for (k, sum) in sums.iter_mut().enumerate() {
                    let lanes_a = f32x8::from(&a[8 * k..8 * k + 8]);
                    let lanes_b = f32x8::from(&b[8 * k..8 * k + 8]);
                    *sum = lanes_a.mul_add(lanes_b, *sum);
                }
            }
            *value = (sums[0] + sums[1] + sums[2] + sums[3]).reduce_add();
        }
    }
}

fn bench_products(c: &mut Criterion, batch: usize) {
    for (rows, cols) in SHAPES {
        let weights = gaussian(rows * cols, 1);
        let x = gaussian(batch * cols, 2);
        let mut out = vec![0.0f32; rows * batch];
        let mut group = c.benchmark_group(format!("product/{rows}x{cols}/batch{batch}"));
        group.throughput(Throughput::Elements((rows * cols * batch) as u64));
        group.sample_size(10);

        group.bench_function(BenchmarkId::from_parameter("f32"), |b| {
            b.iter(|| dense_matmul(black_box(&weights), black_box(&x), cols, &mut out))
        });
        let vectors = VectorSet::rows(&weights, rows, cols).unwrap();
        let inputs = VectorSet::rows(&x, batch, cols).unwrap();
        for name in PRESETS {
            let config = QuantizerConfig::new(Preset::by_name(name).unwrap());
            let coded = QuantizedMatrix::quantize(&vectors, &config).unwrap();
            let view = coded.view();
            let lens = BufferLengths::new(&view, batch).unwrap();
            let mut floats = vec![0.0f32; lens.floats];
            let mut bytes = vec![0i8; lens.bytes];
            group.bench_function(BenchmarkId::from_parameter(name), |b| {
                b.iter(|| {
                    let activations =
                        Activations::prepare(&view, black_box(&inputs), &mut floats, &mut bytes)
                            .unwrap();
                    kernel::matmul_rows(&view, &activations, 0..rows, &mut out).unwrap()
                })
            });
        }
        group.finish();
    }
}

fn bench_matvec(c: &mut Criterion) {
    bench_products(c, 1);
}

fn bench_matmul(c: &mut Criterion) {
    bench_products(c, 8);
}

criterion_group!(benches, bench_matvec, bench_matmul);
criterion_main!(benches);
