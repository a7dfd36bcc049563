//! Tests of the matrix quantizer on bad and edge-case input: non-finite
//! entries, zero and subnormal vectors, lengths that are not a multiple of 8,
//! empty matrices, operands that do not fit together, and truncated,
//! tampered or misaligned buffers.
//!
//! The expected behavior is the "Bad input" list and the byte layout in the
//! documentation of `nestlat::quant`.

use nestlat::Error;
use nestlat::product::{dot, matmul_tn, matmul_tn_f32, matvec, matvec_coded, scratch_len};
use nestlat::quant::{
    HEADER_LEN, Preset, QuantizedMatrix, QuantizedMatrixRef, QuantizerConfig, VectorSet,
    quantize_into, quantize_scratch_len, quantized_len,
};
use nestlat::rng::SplitMix64;
use proptest::prelude::*;

/// One preset of each family, including a low-rate preset that stores only
/// a quarter of the groups.
const PRESET_NAMES: [&str; 6] = ["e8-4", "d4-3", "z-2", "lloyd-2", "e8h-3", "low-0.25"];

/// Vector lengths that are not a multiple of 8.
const ODD_LENGTHS: [usize; 7] = [1, 7, 9, 15, 17, 100, 1000];

/// Shape of the sample matrices: 3 vectors of 20 entries, so the last group
/// of each vector is half padding.
const SAMPLE_COUNT: usize = 3;
const SAMPLE_LEN: usize = 20;

/// Byte offsets of header fields, from the layout table of `nestlat::quant`.
const VERSION_OFFSET: usize = 4;
const PRESET_OFFSET: usize = 6;
const FLAGS_OFFSET: usize = 8;
const VECTOR_LEN_OFFSET: usize = 16;
const VECTOR_COUNT_OFFSET: usize = 20;
const ROTATION_SEED_OFFSET: usize = 24;
const DITHER_SEED_OFFSET: usize = 32;

/// Flag bits of byte 8.
const FLAG_ROTATED: u8 = 2;
const FLAG_DITHERED: u8 = 4;

fn preset(name: &str) -> &'static Preset {
    Preset::by_name(name).unwrap_or_else(|| panic!("preset {name} is missing"))
}

/// Returns the default setting of preset `name`: means removed, rotated.
fn config(name: &str) -> QuantizerConfig {
    QuantizerConfig::new(preset(name))
}

/// Returns `len` samples of N(0.25, 1) drawn from `seed`. The offset gives
/// every vector a non-zero mean.
fn sample_values(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = SplitMix64::new(seed);
    (0..len)
        .map(|_| (rng.next_gaussian() + 0.25) as f32)
        .collect()
}

/// Quantizes the rows of a row-major `rows x cols` matrix.
fn quantize_rows(
    data: &[f32],
    rows: usize,
    cols: usize,
    config: &QuantizerConfig,
) -> QuantizedMatrix {
    let vectors = VectorSet::rows(data, rows, cols).expect("data has rows * cols entries");
    QuantizedMatrix::quantize(&vectors, config).expect("finite data quantizes")
}

/// Returns a valid buffer of `SAMPLE_COUNT` vectors of `SAMPLE_LEN` entries
/// quantized with `config`.
fn sample_bytes(config: &QuantizerConfig, seed: u64) -> Vec<u8> {
    let data = sample_values(SAMPLE_COUNT * SAMPLE_LEN, seed);
    quantize_rows(&data, SAMPLE_COUNT, SAMPLE_LEN, config).into_bytes()
}

fn dequantized(view: &QuantizedMatrixRef<'_>, vector: usize) -> Result<Vec<f32>, Error> {
    let mut out = vec![0.0; view.coded_len()];
    view.dequantize(vector, &mut out)?;
    Ok(out)
}

/// Runs `matvec` with a scratch of exactly [`scratch_len`] values.
fn run_matvec(w: &QuantizedMatrixRef<'_>, x: &[f32]) -> Result<Vec<f32>, Error> {
    let mut scratch = vec![0.0; scratch_len(w.coded_len(), 1)];
    let mut y = vec![0.0; w.vector_count()];
    matvec(w, x, &mut scratch, &mut y)?;
    Ok(y)
}

/// Runs `matvec_coded` with a scratch of exactly [`scratch_len`] values.
fn run_matvec_coded(
    w: &QuantizedMatrixRef<'_>,
    x_matrix: &QuantizedMatrixRef<'_>,
    j: usize,
) -> Result<Vec<f32>, Error> {
    let mut scratch = vec![0.0; scratch_len(w.coded_len(), 1)];
    let mut y = vec![0.0; w.vector_count()];
    matvec_coded(w, x_matrix, j, &mut scratch, &mut y)?;
    Ok(y)
}

/// Runs `matmul_tn` with a scratch of exactly [`scratch_len`] values.
fn run_matmul_tn(
    a: &QuantizedMatrixRef<'_>,
    b: &QuantizedMatrixRef<'_>,
) -> Result<Vec<f32>, Error> {
    let mut scratch = vec![0.0; scratch_len(a.coded_len(), b.vector_count())];
    let mut c = vec![0.0; a.vector_count() * b.vector_count()];
    matmul_tn(a, b, &mut scratch, &mut c)?;
    Ok(c)
}

/// Runs `matmul_tn_f32` with a scratch of exactly [`scratch_len`] values.
fn run_matmul_tn_f32(a: &QuantizedMatrixRef<'_>, b: &VectorSet<'_>) -> Result<Vec<f32>, Error> {
    let mut scratch = vec![0.0; scratch_len(a.coded_len(), b.vector_count())];
    let mut c = vec![0.0; a.vector_count() * b.vector_count()];
    matmul_tn_f32(a, b, &mut scratch, &mut c)?;
    Ok(c)
}

/// Runs every product with `left` as the coded left operand, `right` as the
/// coded right operand and `x` as the dense operand, then `dequantize` on
/// every vector of `left`, and returns the results in a fixed order.
fn every_product(
    left: &QuantizedMatrixRef<'_>,
    right: &QuantizedMatrixRef<'_>,
    x: &[f32],
) -> Vec<Result<Vec<f32>, Error>> {
    let mut results = Vec::new();
    for i in 0..left.vector_count() {
        for j in 0..right.vector_count() {
            results.push(dot(left, i, right, j).map(|value| vec![value]));
        }
    }

    results.push(run_matvec(left, x));
    for j in 0..right.vector_count() {
        results.push(run_matvec_coded(left, right, j));
    }
    results.push(run_matmul_tn(left, right));
    let x_column = VectorSet::columns(x, x.len(), 1).expect("one column of x.len() entries");
    results.push(run_matmul_tn_f32(left, &x_column));

    for vector in 0..left.vector_count() {
        results.push(dequantized(left, vector));
    }
    results
}

/// Replaces every `f32` of `results` by its bits, so that comparisons tell
/// `0.0` from `-0.0` and compare NaN payloads.
fn result_bits(results: &[Result<Vec<f32>, Error>]) -> Vec<Result<Vec<u32>, Error>> {
    results
        .iter()
        .map(|result| match result {
            Ok(values) => Ok(values.iter().map(|value| value.to_bits()).collect()),
            Err(error) => Err(*error),
        })
        .collect()
}

/// A vector as `dequantize` returns it, split the way the coded products
/// see it: the residual over the padded length and the stored mean.
struct Reconstruction {
    /// The dequantized entries with the stored mean taken out of the first
    /// `len` entries. The padding keeps the quantization noise that the
    /// inverse rotation spreads into it.
    residual: Vec<f64>,
    mean: f64,
    len: usize,
}

impl Reconstruction {
    fn from_view(view: &QuantizedMatrixRef<'_>, vector: usize) -> Self {
        let values: Vec<f64> = dequantized(view, vector)
            .expect("valid vector index")
            .iter()
            .map(|&value| f64::from(value))
            .collect();
        let mean = f64::from(view.vector_mean(vector).expect("valid vector index"));
        let len = view.vector_len();
        let residual = values
            .iter()
            .enumerate()
            .map(|(k, &value)| if k < len { value - mean } else { value })
            .collect();
        Self {
            residual,
            mean,
            len,
        }
    }

    /// Returns the Euclidean size that the rounding tolerance scales with:
    /// `||residual|| + sqrt(len) |mean|`, which bounds the norm of the
    /// vector and of each of its two parts.
    fn magnitude(&self) -> f64 {
        norm(&self.residual) + (self.len as f64).sqrt() * self.mean.abs()
    }

    /// Returns what a coded product computes from the two dequantized
    /// vectors: the residuals' inner product over the padded length plus
    /// `n mu_a mu_b`. This differs from the plain inner product of the first
    /// `len` entries by quantization noise in the padding and in the
    /// residual sums, which the coded products never see.
    fn coded_product(&self, other: &Self) -> f64 {
        let residuals: f64 = self
            .residual
            .iter()
            .zip(&other.residual)
            .map(|(a, b)| a * b)
            .sum();
        residuals + self.len as f64 * self.mean * other.mean
    }

    /// Returns what a dense product computes with `x`. When `centered` (the
    /// matrix had its means removed), `x` is centered first and the result is
    /// the residual against `x - mu_x` plus `n mu mu_x`. Otherwise the
    /// residual is the whole vector and `x` is used as it is.
    fn dense_product(&self, x: &[f32], centered: bool) -> f64 {
        let x_mean = if centered && !x.is_empty() {
            let sum: f64 = x.iter().map(|&value| f64::from(value)).sum();
            f64::from((sum / x.len() as f64) as f32)
        } else {
            0.0
        };
        let residual: f64 = self
            .residual
            .iter()
            .zip(x)
            .map(|(&a, &b)| a * f64::from(b - x_mean as f32))
            .sum();
        residual + self.len as f64 * self.mean * x_mean
    }
}

fn norm(values: &[f64]) -> f64 {
    values.iter().map(|value| value * value).sum::<f64>().sqrt()
}

/// Returns the largest float rounding expected between a product and the
/// same product formed from `dequantize` output, for operands of the given
/// [`Reconstruction::magnitude`] and padded length `coded_len`.
///
/// The bound counts roundings in units of `f32::EPSILON` times both
/// magnitudes. The decoded groups are exact. The `f32` sum of group products,
/// and the `f32` sum of `x` in a dense mean term, add up to `coded_len`.
/// Each rotation pass adds at most about `log2(coded_len) + 2`, and every
/// comparison goes through four passes: two inverse rotations of two passes
/// for coded products, one inverse and one forward rotation for dense ones.
/// The constant 16 covers the four `+ 2`, the scaling and the mean terms.
fn rounding_tolerance(coded_len: usize, magnitude_a: f64, magnitude_b: f64) -> f64 {
    let log_len = f64::from(usize::BITS - coded_len.leading_zeros());
    let steps = coded_len as f64 + 4.0 * log_len + 16.0;
    steps * f64::from(f32::EPSILON) * magnitude_a * magnitude_b
}

fn bf16_bytes(value: f32) -> [u8; 2] {
    // A bf16 is the upper half of an f32, and every value written here has
    // a zero lower half.
    let bits = (value.to_bits() >> 16) as u16;
    bits.to_le_bytes()
}

// NaN and infinity.

#[test]
fn non_finite_row_entry_rejected() {
    let (rows, cols) = (4, SAMPLE_LEN);
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        for (row, column) in [(0, 0), (2, 5), (3, 19)] {
            let mut data = sample_values(rows * cols, 1);
            data[row * cols + column] = bad;
            let vectors = VectorSet::rows(&data, rows, cols).unwrap();

            let result = QuantizedMatrix::quantize(&vectors, &config("e8-4"));

            assert_eq!(
                result.err(),
                Some(Error::NonFiniteEntry { row, column }),
                "{bad} at ({row}, {column})"
            );
        }
    }
}

#[test]
fn non_finite_column_entry_rejected() {
    let (rows, cols) = (SAMPLE_LEN, 4);
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        for (row, column) in [(0, 0), (5, 2), (19, 3)] {
            let mut data = sample_values(rows * cols, 2);
            data[row * cols + column] = bad;
            let vectors = VectorSet::columns(&data, rows, cols).unwrap();

            let result = QuantizedMatrix::quantize(&vectors, &config("lloyd-2"));

            assert_eq!(
                result.err(),
                Some(Error::NonFiniteEntry { row, column }),
                "{bad} at ({row}, {column})"
            );
        }
    }
}

#[test]
fn quantize_into_rejects_nan() {
    let (rows, cols) = (SAMPLE_COUNT, SAMPLE_LEN);
    let config = config("d4-3");
    let mut data = sample_values(rows * cols, 3);
    data[cols + 7] = f32::NAN;
    let vectors = VectorSet::rows(&data, rows, cols).unwrap();
    let mut out = vec![0u8; quantized_len(&config, cols, rows).unwrap()];
    let mut scratch = vec![0.0; quantize_scratch_len(cols)];

    let result = quantize_into(&vectors, &config, &mut out, &mut scratch);

    assert_eq!(result, Err(Error::NonFiniteEntry { row: 1, column: 7 }));
}

#[test]
fn matvec_rejects_nan_operand() {
    let bytes = sample_bytes(&config("e8-4"), 4);
    let w = QuantizedMatrixRef::from_bytes(&bytes).unwrap();
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut x = sample_values(SAMPLE_LEN, 5);
        x[13] = bad;

        let result = run_matvec(&w, &x);

        assert_eq!(
            result,
            Err(Error::NonFiniteEntry { row: 0, column: 13 }),
            "{bad}"
        );
    }
}

#[test]
fn matmul_tn_f32_rejects_nan_operand() {
    let bytes = sample_bytes(&config("e8-4"), 6);
    let a = QuantizedMatrixRef::from_bytes(&bytes).unwrap();
    let b_count = 3;

    let mut columns = sample_values(SAMPLE_LEN * b_count, 7);
    columns[11 * b_count + 2] = f32::NAN;
    let b = VectorSet::columns(&columns, SAMPLE_LEN, b_count).unwrap();
    assert_eq!(
        run_matmul_tn_f32(&a, &b),
        Err(Error::NonFiniteEntry { row: 11, column: 2 })
    );

    let mut rows = sample_values(b_count * SAMPLE_LEN, 8);
    rows[SAMPLE_LEN + 4] = f32::NEG_INFINITY;
    let b = VectorSet::rows(&rows, b_count, SAMPLE_LEN).unwrap();
    assert_eq!(
        run_matmul_tn_f32(&a, &b),
        Err(Error::NonFiniteEntry { row: 1, column: 4 })
    );
}

#[test]
fn huge_entries_give_norm_overflow() {
    // The RMS of +-f32::MAX over 16 entries, a multiple of 8 so that no
    // padding lowers it, is f32::MAX. That rounds up to infinity in bf16,
    // whose largest finite value is below it.
    let len = 16;
    let mut data = sample_values(SAMPLE_COUNT * len, 9);
    for (k, value) in data[len..2 * len].iter_mut().enumerate() {
        *value = if k % 2 == 0 { f32::MAX } else { -f32::MAX };
    }
    let vectors = VectorSet::rows(&data, SAMPLE_COUNT, len).unwrap();

    for remove_mean in [false, true] {
        let config = config("e8-4").with_mean_removal(remove_mean);

        let result = QuantizedMatrix::quantize(&vectors, &config);

        assert_eq!(
            result.err(),
            Some(Error::NormOverflow { vector: 1 }),
            "mean removal {remove_mean}"
        );
    }
}

#[test]
fn oversized_shapes_rejected() {
    let config = config("e8-4");
    let too_many = u32::MAX as usize + 1;

    assert_eq!(
        quantized_len(&config, 8, too_many),
        Err(Error::ShapeTooLarge {
            vector_len: 8,
            vector_count: too_many
        })
    );
    assert_eq!(
        quantized_len(&config, too_many, 1),
        Err(Error::ShapeTooLarge {
            vector_len: too_many,
            vector_count: 1
        })
    );
    assert_eq!(
        VectorSet::rows(&[], usize::MAX, 2).err(),
        Some(Error::ShapeTooLarge {
            vector_len: 2,
            vector_count: usize::MAX
        })
    );

    // Vectors of length 0 need no data, so only the quantizer checks the count.
    let vectors = VectorSet::rows(&[], too_many, 0).unwrap();
    assert_eq!(
        QuantizedMatrix::quantize(&vectors, &config).err(),
        Some(Error::ShapeTooLarge {
            vector_len: 0,
            vector_count: too_many
        })
    );
}

// Zero and constant vectors.

#[test]
fn zero_vector_has_zero_norm() {
    for name in PRESET_NAMES {
        let mut data = sample_values(SAMPLE_COUNT * SAMPLE_LEN, 10);
        data[SAMPLE_LEN..2 * SAMPLE_LEN].fill(0.0);
        let matrix = quantize_rows(&data, SAMPLE_COUNT, SAMPLE_LEN, &config(name));
        let view = matrix.view();

        assert_eq!(view.norm(1), Ok(0.0), "{name}");
        assert_eq!(view.vector_mean(1), Ok(0.0), "{name}");
        let values = dequantized(&view, 1).unwrap();
        assert!(
            values.iter().all(|&value| value == 0.0),
            "{name}: {values:?}"
        );
    }
}

#[test]
fn zero_vector_products_are_zero() {
    for name in PRESET_NAMES {
        for remove_mean in [false, true] {
            let config = config(name).with_mean_removal(remove_mean);
            let case = format!("{name}, mean removal {remove_mean}");
            let mut a_data = sample_values(SAMPLE_COUNT * SAMPLE_LEN, 11);
            a_data[SAMPLE_LEN..2 * SAMPLE_LEN].fill(0.0);
            let a_matrix = quantize_rows(&a_data, SAMPLE_COUNT, SAMPLE_LEN, &config);
            let b_matrix =
                quantize_rows(&sample_values(2 * SAMPLE_LEN, 12), 2, SAMPLE_LEN, &config);
            let (a, b) = (a_matrix.view(), b_matrix.view());
            let x = sample_values(SAMPLE_LEN, 13);

            for j in 0..2 {
                assert_eq!(
                    dot(&a, 1, &b, j),
                    Ok(0.0),
                    "{case}: zero vector left, b vector {j}"
                );
                assert_eq!(
                    dot(&b, j, &a, 1),
                    Ok(0.0),
                    "{case}: zero vector right, b vector {j}"
                );
                assert_eq!(
                    run_matvec_coded(&a, &b, j).unwrap()[1],
                    0.0,
                    "{case}: matvec_coded, x vector {j}"
                );
            }
            assert_eq!(
                run_matvec_coded(&b, &a, 1),
                Ok(vec![0.0; 2]),
                "{case}: matvec_coded with zero x"
            );
            assert_eq!(run_matvec(&a, &x).unwrap()[1], 0.0, "{case}: matvec");
            assert_eq!(
                run_matvec(&a, &[0.0; SAMPLE_LEN]),
                Ok(vec![0.0; SAMPLE_COUNT]),
                "{case}: matvec with zero x"
            );
            assert_eq!(
                run_matmul_tn(&a, &b).unwrap()[2..4],
                [0.0; 2],
                "{case}: matmul_tn row 1"
            );
            let x_column = VectorSet::columns(&x, SAMPLE_LEN, 1).unwrap();
            assert_eq!(
                run_matmul_tn_f32(&a, &x_column).unwrap()[1],
                0.0,
                "{case}: matmul_tn_f32"
            );
        }
    }
}

#[test]
fn constant_vectors_give_mean_term() {
    // 0.1 and 0.3 are not dyadic fractions, so n mu_a mu_b rounds in f32,
    // unlike for 0.75 and -1.5.
    for (left, right) in [(0.75f32, -1.5f32), (0.1, 0.3)] {
        for name in PRESET_NAMES {
            let case = format!("{name}, {left} x {right}");
            let mut a_data = sample_values(SAMPLE_COUNT * SAMPLE_LEN, 14);
            a_data[..SAMPLE_LEN].fill(left);
            let mut b_data = sample_values(2 * SAMPLE_LEN, 15);
            b_data[SAMPLE_LEN..].fill(right);
            let a_matrix = quantize_rows(&a_data, SAMPLE_COUNT, SAMPLE_LEN, &config(name));
            let b_matrix = quantize_rows(&b_data, 2, SAMPLE_LEN, &config(name));
            let (a, b) = (a_matrix.view(), b_matrix.view());

            assert_eq!(a.norm(0), Ok(0.0), "{case}");
            assert_eq!(a.vector_mean(0), Ok(left), "{case}");
            assert_eq!(b.vector_mean(1), Ok(right), "{case}");

            // Two f32 roundings, of n mu_a and of its product with mu_b.
            let exact = SAMPLE_LEN as f64 * f64::from(left) * f64::from(right);
            let tolerance = exact.abs() * f64::from(f32::EPSILON);
            let product = dot(&a, 0, &b, 1).unwrap();
            assert!(
                (f64::from(product) - exact).abs() <= tolerance,
                "{case}: dot {product}, exact {exact}"
            );
            assert_eq!(
                run_matvec_coded(&a, &b, 1).unwrap()[0],
                product,
                "{case}: matvec_coded"
            );
            assert_eq!(
                run_matmul_tn(&a, &b).unwrap()[1],
                product,
                "{case}: matmul_tn"
            );
        }
    }
}

#[test]
fn constant_vector_dense_products_give_mean_term() {
    let mean = 0.1f32;
    let x = sample_values(SAMPLE_LEN, 16);
    let sum: f64 = x.iter().map(|&value| f64::from(value)).sum();
    let absolute_sum: f64 = x.iter().map(|&value| f64::from(value).abs()).sum();
    let exact = f64::from(mean) * sum;
    // The f32 sum of x rounds at most n times, by at most EPSILON times the
    // absolute sum, and the product with the mean once more.
    let tolerance =
        f64::from(f32::EPSILON) * f64::from(mean) * (SAMPLE_LEN as f64 * absolute_sum + sum.abs());

    for name in PRESET_NAMES {
        let mut data = sample_values(SAMPLE_COUNT * SAMPLE_LEN, 17);
        data[2 * SAMPLE_LEN..].fill(mean);
        let matrix = quantize_rows(&data, SAMPLE_COUNT, SAMPLE_LEN, &config(name));
        let view = matrix.view();

        let product = run_matvec(&view, &x).unwrap()[2];
        assert!(
            (f64::from(product) - exact).abs() <= tolerance,
            "{name}: matvec {product}, exact {exact}"
        );
        let x_column = VectorSet::columns(&x, SAMPLE_LEN, 1).unwrap();
        assert_eq!(
            run_matmul_tn_f32(&view, &x_column).unwrap()[2],
            product,
            "{name}: matmul_tn_f32"
        );
    }
}

#[test]
fn zero_vector_times_large_x_is_zero() {
    // x is finite, sums to exactly 0, and its norm 3.2e38 is below f32::MAX,
    // so every entry of its exact rotation is finite too, and the rotation
    // must not overflow on the way.
    let len = 16;
    let x: Vec<f32> = (0..len)
        .map(|k| if k % 2 == 0 { 8.0e37 } else { -8.0e37 })
        .collect();
    for remove_mean in [false, true] {
        let mut data = sample_values(2 * len, 53);
        data[..len].fill(0.0);
        let config = config("e8-4").with_mean_removal(remove_mean);
        let matrix = quantize_rows(&data, 2, len, &config);

        let product = run_matvec(&matrix.view(), &x).unwrap()[0];

        assert_eq!(product, 0.0, "mean removal {remove_mean}");
    }
}

// Subnormal entries and tiny norms.

#[test]
fn subnormal_entries_are_accepted() {
    // Entries between 1e-40 and 1e-39 are subnormal in f32, and their RMS is
    // above the smallest bf16 subnormal, 2^-133 (about 9.2e-41).
    let subnormals: Vec<f32> = (0..SAMPLE_LEN)
        .map(|k| {
            if k % 2 == 0 {
                1.0e-39
            } else {
                -(1.0e-40 + k as f32 * 1.0e-41)
            }
        })
        .collect();
    assert!(subnormals.iter().all(|value| value.is_subnormal()));
    let mut mixed = sample_values(SAMPLE_LEN, 18);
    mixed[..SAMPLE_LEN / 2].copy_from_slice(&subnormals[..SAMPLE_LEN / 2]);
    let data = [subnormals, mixed].concat();
    let x = sample_values(SAMPLE_LEN, 19);

    for name in PRESET_NAMES {
        let matrix = quantize_rows(&data, 2, SAMPLE_LEN, &config(name).with_mean_removal(false));
        let view = matrix.view();

        assert!(view.norm(0).unwrap() > 0.0, "{name}: subnormal vector");
        let values = dequantized(&view, 0).unwrap();
        assert!(
            values.iter().all(|value| value.is_finite()),
            "{name}: {values:?}"
        );
        let products = run_matvec(&view, &x).unwrap();
        assert!(
            products.iter().all(|value| value.is_finite()),
            "{name}: {products:?}"
        );
        let self_product = dot(&view, 0, &view, 0).unwrap();
        assert!(self_product.is_finite(), "{name}: {self_product}");
    }
}

#[test]
fn tiny_rms_stored_as_zero() {
    // Entries of +-0.45 times the smallest bf16 subnormal, 2^-133, and of
    // +-the smallest f32 subnormal. Alternating signs keep the mean at 0, and
    // the RMS over the padded length 24 is |entry| sqrt(20 / 24), below
    // half of 2^-133, so it rounds to zero in bf16.
    let smallest_bf16 = 2.0f32.powi(-133);
    let cases = [
        ("0.45 * 2^-133", smallest_bf16 * 0.45),
        ("2^-149", f32::from_bits(1)),
    ];
    for (label, entry) in cases {
        let vector: Vec<f32> = (0..SAMPLE_LEN)
            .map(|k| if k % 2 == 0 { entry } else { -entry })
            .collect();
        let data = [vector, sample_values(SAMPLE_LEN, 20)].concat();
        for name in PRESET_NAMES {
            let matrix = quantize_rows(&data, 2, SAMPLE_LEN, &config(name));
            let view = matrix.view();

            assert_eq!(view.norm(0), Ok(0.0), "{name}: entries {label}");
            assert_eq!(dot(&view, 0, &view, 1), Ok(0.0), "{name}: entries {label}");
        }
    }
}

#[test]
fn norm_rounds_to_nearest_bf16() {
    // An RMS of 0.55 times the smallest bf16 subnormal, 2^-133, rounds up to
    // it rather than to zero. Only an RMS below about half of it, 4.6e-41,
    // gives a zero vector.
    let smallest_bf16 = 2.0f32.powi(-133);
    let padded_len = quantize_scratch_len(SAMPLE_LEN) as f32;
    let entry = 0.55 * smallest_bf16 * (padded_len / SAMPLE_LEN as f32).sqrt();
    let vector: Vec<f32> = (0..SAMPLE_LEN)
        .map(|k| if k % 2 == 0 { entry } else { -entry })
        .collect();
    let data = [vector, sample_values(SAMPLE_LEN, 21)].concat();
    let matrix = quantize_rows(&data, 2, SAMPLE_LEN, &config("e8-4"));

    assert_eq!(matrix.view().norm(0), Ok(smallest_bf16));
}

// Lengths that are not a multiple of 8.

#[test]
fn odd_lengths_match_quantized_len() {
    for name in PRESET_NAMES {
        for len in ODD_LENGTHS {
            let config = config(name);
            let data = sample_values(SAMPLE_COUNT * len, len as u64);
            let vectors = VectorSet::rows(&data, SAMPLE_COUNT, len).unwrap();
            let expected_len = quantized_len(&config, len, SAMPLE_COUNT).unwrap();
            let mut out = vec![0u8; expected_len];
            let mut scratch = vec![0.0; quantize_scratch_len(len)];

            assert_eq!(
                quantize_into(&vectors, &config, &mut out, &mut scratch),
                Ok(()),
                "{name}, n = {len}"
            );
            let owned = QuantizedMatrix::quantize(&vectors, &config).unwrap();
            assert_eq!(
                owned.as_bytes(),
                &out[..],
                "{name}, n = {len}: owned and borrowed bytes"
            );
            let view = QuantizedMatrixRef::from_bytes(&out).unwrap();
            assert_eq!(view.vector_len(), len, "{name}, n = {len}");
            assert_eq!(view.coded_len(), len.div_ceil(8) * 8, "{name}, n = {len}");
        }
    }
}

#[test]
fn odd_length_coded_products_match_dequantized() {
    for name in PRESET_NAMES {
        for len in ODD_LENGTHS {
            for remove_mean in [false, true] {
                let case = format!("{name}, n = {len}, mean removal {remove_mean}");
                let config = config(name).with_mean_removal(remove_mean);
                let a_matrix = quantize_rows(
                    &sample_values(SAMPLE_COUNT * len, 22),
                    SAMPLE_COUNT,
                    len,
                    &config,
                );
                let b_matrix = quantize_rows(&sample_values(2 * len, 23), 2, len, &config);
                let (a, b) = (a_matrix.view(), b_matrix.view());
                let a_vectors: Vec<_> = (0..SAMPLE_COUNT)
                    .map(|i| Reconstruction::from_view(&a, i))
                    .collect();
                let b_vectors: Vec<_> = (0..2).map(|j| Reconstruction::from_view(&b, j)).collect();
                let matmul = run_matmul_tn(&a, &b).unwrap();

                for (i, left) in a_vectors.iter().enumerate() {
                    for (j, right) in b_vectors.iter().enumerate() {
                        let expected = left.coded_product(right);
                        let tolerance =
                            rounding_tolerance(a.coded_len(), left.magnitude(), right.magnitude());
                        let product = f64::from(dot(&a, i, &b, j).unwrap());
                        assert!(
                            (product - expected).abs() <= tolerance,
                            "{case}: dot({i}, {j}) = {product}, dequantized {expected}, tolerance {tolerance}"
                        );
                        let product = f64::from(matmul[i * 2 + j]);
                        assert!(
                            (product - expected).abs() <= tolerance,
                            "{case}: matmul_tn[{i}, {j}] = {product}, dequantized {expected}, tolerance {tolerance}"
                        );
                        let product = f64::from(run_matvec_coded(&a, &b, j).unwrap()[i]);
                        assert!(
                            (product - expected).abs() <= tolerance,
                            "{case}: matvec_coded[{i}] with x {j} = {product}, dequantized {expected}, tolerance {tolerance}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn odd_length_dense_products_match_dequantized() {
    let b_count = 2;
    for name in PRESET_NAMES {
        for len in ODD_LENGTHS {
            let case = format!("{name}, n = {len}");
            let a_matrix = quantize_rows(
                &sample_values(SAMPLE_COUNT * len, 24),
                SAMPLE_COUNT,
                len,
                &config(name),
            );
            let a = a_matrix.view();
            // Column j of the row-major len x 2 matrix is dense vector j.
            let b_data = sample_values(len * b_count, 25);
            let b = VectorSet::columns(&b_data, len, b_count).unwrap();
            let dense: Vec<Vec<f32>> = (0..b_count)
                .map(|j| (0..len).map(|k| b_data[k * b_count + j]).collect())
                .collect();
            let matmul = run_matmul_tn_f32(&a, &b).unwrap();

            for (j, x) in dense.iter().enumerate() {
                let x_norm = norm(&x.iter().map(|&value| f64::from(value)).collect::<Vec<_>>());
                let matvec_output = run_matvec(&a, x).unwrap();
                for i in 0..SAMPLE_COUNT {
                    let left = Reconstruction::from_view(&a, i);
                    let expected = left.dense_product(x, a.removes_mean());
                    let tolerance = rounding_tolerance(a.coded_len(), left.magnitude(), x_norm);
                    let product = f64::from(matmul[i * b_count + j]);
                    assert!(
                        (product - expected).abs() <= tolerance,
                        "{case}: matmul_tn_f32[{i}, {j}] = {product}, dequantized {expected}, tolerance {tolerance}"
                    );
                    let product = f64::from(matvec_output[i]);
                    assert!(
                        (product - expected).abs() <= tolerance,
                        "{case}: matvec[{i}] with x {j} = {product}, dequantized {expected}, tolerance {tolerance}"
                    );
                }
            }
        }
    }
}

// Empty matrices.

#[test]
fn zero_vector_count_gives_header_only() {
    for name in PRESET_NAMES {
        let config = config(name);
        let vectors = VectorSet::rows(&[], 0, SAMPLE_LEN).unwrap();

        assert_eq!(
            quantized_len(&config, SAMPLE_LEN, 0),
            Ok(HEADER_LEN),
            "{name}"
        );
        let matrix = QuantizedMatrix::quantize(&vectors, &config).unwrap();
        assert_eq!(matrix.as_bytes().len(), HEADER_LEN, "{name}");
        let view = QuantizedMatrixRef::from_bytes(matrix.as_bytes()).unwrap();
        assert_eq!(view.vector_count(), 0, "{name}");
        assert_eq!(view.vector_len(), SAMPLE_LEN, "{name}");
        assert_eq!(
            dequantized(&view, 0),
            Err(Error::InvalidVectorIndex { index: 0, count: 0 }),
            "{name}"
        );
    }
}

#[test]
fn zero_vector_count_products_are_empty() {
    let config = config("e8-4");
    let empty_matrix =
        QuantizedMatrix::quantize(&VectorSet::rows(&[], 0, SAMPLE_LEN).unwrap(), &config).unwrap();
    let other_bytes = sample_bytes(&config, 26);
    let (empty, other) = (
        empty_matrix.view(),
        QuantizedMatrixRef::from_bytes(&other_bytes).unwrap(),
    );
    let x = sample_values(SAMPLE_LEN, 27);
    let x_columns = VectorSet::columns(&x, SAMPLE_LEN, 1).unwrap();
    let no_columns = VectorSet::columns(&[], SAMPLE_LEN, 0).unwrap();

    assert_eq!(run_matvec(&empty, &x), Ok(vec![]));
    assert_eq!(run_matvec_coded(&empty, &other, 0), Ok(vec![]));
    assert_eq!(run_matmul_tn(&empty, &other), Ok(vec![]));
    assert_eq!(run_matmul_tn(&other, &empty), Ok(vec![]));
    assert_eq!(run_matmul_tn(&empty, &empty), Ok(vec![]));
    assert_eq!(run_matmul_tn_f32(&empty, &x_columns), Ok(vec![]));
    assert_eq!(run_matmul_tn_f32(&other, &no_columns), Ok(vec![]));
    assert_eq!(
        run_matvec_coded(&other, &empty, 0),
        Err(Error::InvalidVectorIndex { index: 0, count: 0 })
    );
    assert_eq!(
        dot(&other, 0, &empty, 0),
        Err(Error::InvalidVectorIndex { index: 0, count: 0 })
    );
    assert_eq!(
        run_matvec_coded(&empty, &other, SAMPLE_COUNT),
        Err(Error::InvalidVectorIndex {
            index: SAMPLE_COUNT,
            count: SAMPLE_COUNT
        })
    );
}

#[test]
fn zero_length_vectors_give_zeros() {
    for name in PRESET_NAMES {
        for remove_mean in [false, true] {
            let case = format!("{name}, mean removal {remove_mean}");
            let config = config(name).with_mean_removal(remove_mean);
            let a_matrix =
                QuantizedMatrix::quantize(&VectorSet::rows(&[], 3, 0).unwrap(), &config).unwrap();
            let b_matrix =
                QuantizedMatrix::quantize(&VectorSet::columns(&[], 0, 2).unwrap(), &config)
                    .unwrap();
            let (a, b) = (a_matrix.view(), b_matrix.view());
            let no_entries = VectorSet::columns(&[], 0, 2).unwrap();

            assert_eq!(a.vector_count(), 3, "{case}");
            assert_eq!(a.coded_len(), 0, "{case}");
            assert_eq!(a.norm(2), Ok(0.0), "{case}");
            assert_eq!(a.vector_mean(2), Ok(0.0), "{case}");
            assert_eq!(dequantized(&a, 2), Ok(vec![]), "{case}");
            assert_eq!(dot(&a, 2, &b, 1), Ok(0.0), "{case}");
            assert_eq!(run_matvec(&a, &[]), Ok(vec![0.0; 3]), "{case}");
            assert_eq!(run_matvec_coded(&a, &b, 1), Ok(vec![0.0; 3]), "{case}");
            assert_eq!(run_matmul_tn(&a, &b), Ok(vec![0.0; 6]), "{case}");
            assert_eq!(
                run_matmul_tn_f32(&a, &no_entries),
                Ok(vec![0.0; 6]),
                "{case}"
            );
        }
    }
}

#[test]
fn zero_length_vectors_round_trip() {
    for remove_mean in [false, true] {
        let config = config("e8-4").with_mean_removal(remove_mean);
        let matrix =
            QuantizedMatrix::quantize(&VectorSet::rows(&[], 3, 0).unwrap(), &config).unwrap();

        let norm = matrix.view().norm(0).unwrap();
        assert_eq!(
            norm.to_bits(),
            0,
            "mean removal {remove_mean}: stored norm {norm:?}, expected +0.0"
        );
        let reread = QuantizedMatrixRef::from_bytes(matrix.as_bytes());
        assert_eq!(reread.err(), None, "mean removal {remove_mean}");
    }
}

#[test]
fn zero_by_zero_matrix_quantizes() {
    let matrix =
        QuantizedMatrix::quantize(&VectorSet::rows(&[], 0, 0).unwrap(), &config("e8-4")).unwrap();
    let view = matrix.view();

    assert_eq!(matrix.as_bytes().len(), HEADER_LEN);
    assert_eq!(run_matmul_tn(&view, &view), Ok(vec![]));
    assert_eq!(run_matvec(&view, &[]), Ok(vec![]));
}

// Operands that do not fit together.

#[test]
fn mismatched_lengths_rejected() {
    let config = config("e8-4");
    let a_bytes = sample_bytes(&config, 28);
    let b_matrix = quantize_rows(&sample_values(2 * 24, 29), 2, 24, &config);
    let (a, b) = (
        QuantizedMatrixRef::from_bytes(&a_bytes).unwrap(),
        b_matrix.view(),
    );
    let mismatch = Err(Error::LengthMismatch {
        expected: SAMPLE_LEN,
        actual: 24,
    });
    let x = sample_values(24, 30);

    assert_eq!(dot(&a, 0, &b, 0).map(|value| vec![value]), mismatch);
    assert_eq!(run_matvec_coded(&a, &b, 0), mismatch);
    assert_eq!(run_matmul_tn(&a, &b), mismatch);
    assert_eq!(run_matvec(&a, &x), mismatch);
    let x_column = VectorSet::columns(&x, 24, 1).unwrap();
    assert_eq!(run_matmul_tn_f32(&a, &x_column), mismatch);
}

#[test]
fn mismatched_rotation_seeds_rejected() {
    let base = config("e8-4");
    let a_bytes = sample_bytes(&base, 31);
    let a = QuantizedMatrixRef::from_bytes(&a_bytes).unwrap();
    for seed in [Some(7), None] {
        let b_bytes = sample_bytes(&base.with_rotation_seed(seed), 32);
        let b = QuantizedMatrixRef::from_bytes(&b_bytes).unwrap();

        assert_eq!(
            dot(&a, 0, &b, 0),
            Err(Error::RotationMismatch),
            "seed {seed:?}"
        );
        assert_eq!(
            run_matvec_coded(&a, &b, 0),
            Err(Error::RotationMismatch),
            "seed {seed:?}"
        );
        assert_eq!(
            run_matmul_tn(&a, &b),
            Err(Error::RotationMismatch),
            "seed {seed:?}"
        );
    }
}

#[test]
fn mismatched_mean_removal_rejected() {
    let with_mean = config("e8-4");
    let a_bytes = sample_bytes(&with_mean, 33);
    let b_bytes = sample_bytes(&with_mean.with_mean_removal(false), 34);
    let (a, b) = (
        QuantizedMatrixRef::from_bytes(&a_bytes).unwrap(),
        QuantizedMatrixRef::from_bytes(&b_bytes).unwrap(),
    );

    assert_eq!(dot(&a, 0, &b, 0), Err(Error::MeanRemovalMismatch));
    assert_eq!(dot(&b, 0, &a, 0), Err(Error::MeanRemovalMismatch));
    assert_eq!(run_matvec_coded(&a, &b, 0), Err(Error::MeanRemovalMismatch));
    assert_eq!(run_matmul_tn(&b, &a), Err(Error::MeanRemovalMismatch));
}

#[test]
fn wrong_output_length_rejected() {
    let config = config("e8-4");
    let bytes = sample_bytes(&config, 35);
    let a = QuantizedMatrixRef::from_bytes(&bytes).unwrap();
    let x = sample_values(SAMPLE_LEN, 36);
    let x_columns = VectorSet::columns(&x, SAMPLE_LEN, 1).unwrap();
    let mut scratch = vec![0.0; scratch_len(a.coded_len(), SAMPLE_COUNT)];

    for wrong in [SAMPLE_COUNT - 1, SAMPLE_COUNT + 1] {
        let mut out = vec![0.0; wrong];
        let vector_mismatch = Err(Error::LengthMismatch {
            expected: SAMPLE_COUNT,
            actual: wrong,
        });
        assert_eq!(
            matvec(&a, &x, &mut scratch, &mut out),
            vector_mismatch,
            "matvec, {wrong} outputs"
        );
        assert_eq!(
            matvec_coded(&a, &a, 0, &mut scratch, &mut out),
            vector_mismatch,
            "matvec_coded, {wrong} outputs"
        );
        assert_eq!(
            matmul_tn_f32(&a, &x_columns, &mut scratch, &mut out),
            vector_mismatch,
            "matmul_tn_f32, {wrong} outputs"
        );
    }

    let matrix_len = SAMPLE_COUNT * SAMPLE_COUNT;
    for wrong in [matrix_len - 1, matrix_len + 1] {
        let mut out = vec![0.0; wrong];
        let matrix_mismatch = Err(Error::LengthMismatch {
            expected: matrix_len,
            actual: wrong,
        });
        assert_eq!(
            matmul_tn(&a, &a, &mut scratch, &mut out),
            matrix_mismatch,
            "matmul_tn, {wrong} outputs"
        );
    }
}

#[test]
fn short_scratch_rejected() {
    let config = config("e8-4");
    let bytes = sample_bytes(&config, 37);
    let a = QuantizedMatrixRef::from_bytes(&bytes).unwrap();
    let x = sample_values(SAMPLE_LEN, 38);
    let x_columns = VectorSet::columns(&x, SAMPLE_LEN, 1).unwrap();
    let mut y = vec![0.0; SAMPLE_COUNT];
    let mut c = vec![0.0; SAMPLE_COUNT * SAMPLE_COUNT];
    let is_short = |result: Result<(), Error>, given: usize| match result {
        Err(Error::ScratchTooSmall { needed, actual }) => actual == given && needed > given,
        _ => false,
    };

    // Each product gets one value less than the padded length times its
    // number of right-hand vectors, which is short for every product.
    let one_vector = a.coded_len() - 1;
    let mut scratch = vec![0.0; one_vector];
    assert!(
        is_short(matvec(&a, &x, &mut scratch, &mut y), one_vector),
        "matvec"
    );
    assert!(
        is_short(matvec_coded(&a, &a, 0, &mut scratch, &mut y), one_vector),
        "matvec_coded"
    );
    assert!(
        is_short(
            matmul_tn_f32(&a, &x_columns, &mut scratch, &mut y),
            one_vector
        ),
        "matmul_tn_f32"
    );
    let all_vectors = a.coded_len() * SAMPLE_COUNT - 1;
    let mut scratch = vec![0.0; all_vectors];
    assert!(
        is_short(matmul_tn(&a, &a, &mut scratch, &mut c), all_vectors),
        "matmul_tn"
    );

    let mut empty: [f32; 0] = [];
    assert!(
        is_short(matvec(&a, &x, &mut empty, &mut y), 0),
        "matvec, empty scratch"
    );
    assert!(
        is_short(matmul_tn(&a, &a, &mut empty, &mut c), 0),
        "matmul_tn, empty scratch"
    );
}

#[test]
fn dense_scratch_needs_documented_length() {
    // The dense products keep the sums of the dense vectors after the
    // rotated vectors, so they need the full scratch_len.
    let bytes = sample_bytes(&config("e8-4"), 39);
    let a = QuantizedMatrixRef::from_bytes(&bytes).unwrap();
    let x = sample_values(SAMPLE_LEN, 40);
    let needed = scratch_len(a.coded_len(), 1);
    let mut scratch = vec![0.0; needed - 1];
    let mut y = vec![0.0; SAMPLE_COUNT];

    assert_eq!(
        matvec(&a, &x, &mut scratch, &mut y),
        Err(Error::ScratchTooSmall {
            needed,
            actual: needed - 1
        })
    );
}

#[test]
fn vector_index_out_of_range_rejected() {
    let config = config("e8-4");
    let a_bytes = sample_bytes(&config, 41);
    let b_matrix = quantize_rows(&sample_values(2 * SAMPLE_LEN, 42), 2, SAMPLE_LEN, &config);
    let (a, b) = (
        QuantizedMatrixRef::from_bytes(&a_bytes).unwrap(),
        b_matrix.view(),
    );
    let past_a = Some(Error::InvalidVectorIndex {
        index: SAMPLE_COUNT,
        count: SAMPLE_COUNT,
    });
    let past_b = Some(Error::InvalidVectorIndex { index: 2, count: 2 });

    assert_eq!(dot(&a, SAMPLE_COUNT, &b, 0).err(), past_a);
    assert_eq!(dot(&a, 0, &b, 2).err(), past_b);
    assert_eq!(
        dot(&a, usize::MAX, &b, 0).err(),
        Some(Error::InvalidVectorIndex {
            index: usize::MAX,
            count: SAMPLE_COUNT
        })
    );
    assert_eq!(run_matvec_coded(&a, &b, 2).err(), past_b);
    assert_eq!(dequantized(&a, SAMPLE_COUNT).err(), past_a);
    assert_eq!(a.norm(SAMPLE_COUNT).err(), past_a);
    assert_eq!(a.vector_mean(SAMPLE_COUNT).err(), past_a);
}

#[test]
fn index_checked_for_zero_length_vectors() {
    // With vectors of length 0 no group is decoded, so the index check must
    // not depend on decoding.
    let config = config("e8-4");
    let a_matrix =
        QuantizedMatrix::quantize(&VectorSet::rows(&[], 3, 0).unwrap(), &config).unwrap();
    let empty_matrix =
        QuantizedMatrix::quantize(&VectorSet::rows(&[], 0, 0).unwrap(), &config).unwrap();
    let (a, empty) = (a_matrix.view(), empty_matrix.view());
    let past_a = Some(Error::InvalidVectorIndex { index: 3, count: 3 });

    assert_eq!(dot(&a, 3, &a, 0).err(), past_a);
    assert_eq!(dot(&a, 0, &a, 3).err(), past_a);
    assert_eq!(run_matvec_coded(&a, &a, 3).err(), past_a);
    assert_eq!(run_matvec_coded(&empty, &a, 3).err(), past_a);
}

// Truncated and overlong buffers.

#[test]
fn every_truncation_rejected() {
    for name in ["e8-4", "low-0.25"] {
        let bytes = sample_bytes(&config(name), 43);
        for len in 0..bytes.len() {
            let needed = if len < HEADER_LEN {
                HEADER_LEN
            } else {
                bytes.len()
            };

            let result = QuantizedMatrixRef::from_bytes(&bytes[..len]);

            assert_eq!(
                result.err(),
                Some(Error::BufferTooSmall {
                    needed,
                    actual: len
                }),
                "{name}, {len} bytes"
            );
        }
    }
}

#[test]
fn extra_byte_rejected() {
    let mut bytes = sample_bytes(&config("e8-4"), 44);
    let expected = bytes.len();
    bytes.push(0);

    assert_eq!(
        QuantizedMatrixRef::from_bytes(&bytes).err(),
        Some(Error::LengthMismatch {
            expected,
            actual: expected + 1
        })
    );
    assert_eq!(
        QuantizedMatrix::from_bytes(bytes).err(),
        Some(Error::LengthMismatch {
            expected,
            actual: expected + 1
        })
    );
}

// Tampered buffers.

/// Returns the error of `from_bytes` on the sample buffer of `config` after
/// `tamper` changed it.
fn tampered_error(config: &QuantizerConfig, tamper: impl FnOnce(&mut Vec<u8>)) -> Option<Error> {
    let mut bytes = sample_bytes(config, 45);
    tamper(&mut bytes);
    QuantizedMatrixRef::from_bytes(&bytes).err()
}

#[test]
fn wrong_magic_rejected() {
    let error = tampered_error(&config("e8-4"), |bytes| bytes[3] = b'X');

    assert_eq!(error, Some(Error::InvalidMagic { found: *b"NLQX" }));
}

#[test]
fn other_versions_rejected() {
    for version in [0u16, 2, u16::MAX] {
        let error = tampered_error(&config("e8-4"), |bytes| {
            bytes[VERSION_OFFSET..VERSION_OFFSET + 2].copy_from_slice(&version.to_le_bytes());
        });

        assert_eq!(
            error,
            Some(Error::UnsupportedVersion { version }),
            "version {version}"
        );
    }
}

#[test]
fn unknown_preset_rejected() {
    let largest_id = Preset::all().iter().map(Preset::id).max().unwrap();
    for id in [0, largest_id + 1, u16::MAX] {
        let error = tampered_error(&config("e8-4"), |bytes| {
            bytes[PRESET_OFFSET..PRESET_OFFSET + 2].copy_from_slice(&id.to_le_bytes());
        });

        assert_eq!(error, Some(Error::UnknownPreset { id }), "id {id}");
    }
}

#[test]
fn unknown_flag_rejected() {
    let config = config("e8-4");
    let flags = sample_bytes(&config, 45)[FLAGS_OFFSET];
    for bit in 3..8 {
        let value = flags | 1 << bit;
        let error = tampered_error(&config, |bytes| bytes[FLAGS_OFFSET] = value);

        assert_eq!(
            error,
            Some(Error::InvalidHeader {
                offset: FLAGS_OFFSET,
                value
            }),
            "bit {bit}"
        );
    }
}

#[test]
fn reserved_byte_rejected() {
    for offset in 9..16 {
        let error = tampered_error(&config("e8-4"), |bytes| bytes[offset] = 0xA5);

        assert_eq!(
            error,
            Some(Error::InvalidHeader {
                offset,
                value: 0xA5
            }),
            "offset {offset}"
        );
    }
}

#[test]
fn seed_without_flag_rejected() {
    let config = config("e8-4");

    // The default rotation seed ends in 0x01, its first byte in little-endian
    // order.
    let error = tampered_error(&config, |bytes| bytes[FLAGS_OFFSET] &= !FLAG_ROTATED);
    assert_eq!(
        error,
        Some(Error::InvalidHeader {
            offset: ROTATION_SEED_OFFSET,
            value: 0x01
        })
    );

    let error = tampered_error(&config, |bytes| bytes[DITHER_SEED_OFFSET + 5] = 0x40);
    assert_eq!(
        error,
        Some(Error::InvalidHeader {
            offset: DITHER_SEED_OFFSET + 5,
            value: 0x40
        })
    );
}

#[test]
fn dither_flag_on_lloyd_rejected() {
    let config = config("lloyd-2");
    let flags = sample_bytes(&config, 45)[FLAGS_OFFSET] | FLAG_DITHERED;

    let error = tampered_error(&config, |bytes| bytes[FLAGS_OFFSET] = flags);

    assert_eq!(
        error,
        Some(Error::InvalidHeader {
            offset: FLAGS_OFFSET,
            value: flags
        })
    );
}

#[test]
fn invalid_stored_norm_rejected() {
    let norm_offset = HEADER_LEN + 2;
    for bad in [-1.0f32, f32::INFINITY, f32::NEG_INFINITY] {
        let error = tampered_error(&config("e8-4"), |bytes| {
            bytes[norm_offset..norm_offset + 2].copy_from_slice(&bf16_bytes(bad));
        });

        assert_eq!(
            error,
            Some(Error::InvalidStoredNorm {
                vector: 1,
                value: bad
            }),
            "norm {bad}"
        );
    }

    let error = tampered_error(&config("e8-4"), |bytes| {
        bytes[norm_offset..norm_offset + 2].copy_from_slice(&bf16_bytes(f32::NAN));
    });
    assert!(
        matches!(error, Some(Error::InvalidStoredNorm { vector: 1, value }) if value.is_nan()),
        "NaN norm gave {error:?}"
    );
}

#[test]
fn invalid_stored_mean_rejected() {
    let mean_offset = HEADER_LEN + 2 * SAMPLE_COUNT + 4 * 2;
    for bad in [f32::INFINITY, f32::NEG_INFINITY] {
        let error = tampered_error(&config("e8-4"), |bytes| {
            bytes[mean_offset..mean_offset + 4].copy_from_slice(&bad.to_le_bytes());
        });

        assert_eq!(
            error,
            Some(Error::InvalidStoredMean {
                vector: 2,
                value: bad
            }),
            "mean {bad}"
        );
    }

    let error = tampered_error(&config("e8-4"), |bytes| {
        bytes[mean_offset..mean_offset + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    });
    assert!(
        matches!(error, Some(Error::InvalidStoredMean { vector: 2, value }) if value.is_nan()),
        "NaN mean gave {error:?}"
    );
}

#[test]
fn changed_vector_count_rejected() {
    let config = config("e8-4");
    let actual = quantized_len(&config, SAMPLE_LEN, SAMPLE_COUNT).unwrap();
    let set_count = |count: u32| {
        move |bytes: &mut Vec<u8>| {
            bytes[VECTOR_COUNT_OFFSET..VECTOR_COUNT_OFFSET + 4]
                .copy_from_slice(&count.to_le_bytes());
        }
    };

    for count in [SAMPLE_COUNT + 1, u32::MAX as usize] {
        let needed = quantized_len(&config, SAMPLE_LEN, count).unwrap();
        let error = tampered_error(&config, set_count(count as u32));
        assert_eq!(
            error,
            Some(Error::BufferTooSmall { needed, actual }),
            "count {count}"
        );
    }
    for count in [0, SAMPLE_COUNT - 1] {
        let expected = quantized_len(&config, SAMPLE_LEN, count).unwrap();
        let error = tampered_error(&config, set_count(count as u32));
        assert_eq!(
            error,
            Some(Error::LengthMismatch { expected, actual }),
            "count {count}"
        );
    }
}

#[test]
fn changed_vector_length_rejected() {
    let config = config("e8-4");
    let actual = quantized_len(&config, SAMPLE_LEN, SAMPLE_COUNT).unwrap();
    let set_len = |len: u32| {
        move |bytes: &mut Vec<u8>| {
            bytes[VECTOR_LEN_OFFSET..VECTOR_LEN_OFFSET + 4].copy_from_slice(&len.to_le_bytes());
        }
    };

    // Lengths 17 to 24 pad to the same 3 groups as 20, so the buffer cannot
    // tell them apart. Length 25 needs a fourth group.
    for len in [25, u32::MAX as usize] {
        let needed = quantized_len(&config, len, SAMPLE_COUNT).unwrap();
        let error = tampered_error(&config, set_len(len as u32));
        assert_eq!(
            error,
            Some(Error::BufferTooSmall { needed, actual }),
            "length {len}"
        );
    }
    for len in [0, 16] {
        let expected = quantized_len(&config, len, SAMPLE_COUNT).unwrap();
        let error = tampered_error(&config, set_len(len as u32));
        assert_eq!(
            error,
            Some(Error::LengthMismatch { expected, actual }),
            "length {len}"
        );
    }
}

/// Presets and settings of the property tests: every family, with and
/// without mean removal, rotation and dither.
fn fuzzed_configs() -> Vec<QuantizerConfig> {
    let mut configs: Vec<QuantizerConfig> = PRESET_NAMES.iter().map(|name| config(name)).collect();
    configs.push(
        config("e8-2")
            .with_mean_removal(false)
            .with_rotation_seed(None),
    );
    configs.push(config("z-4").with_dither_seed(Some(99)).unwrap());
    configs.push(config("shell-1"));
    configs
}

/// Checks that a view over `bytes` and every product with it either succeed
/// or return an error. A panic fails the property test that calls this.
fn exercise_tampered(bytes: &[u8], config: &QuantizerConfig) {
    let Ok(view) = QuantizedMatrixRef::from_bytes(bytes) else {
        return;
    };
    let clean_bytes = sample_bytes(config, 46);
    let clean = QuantizedMatrixRef::from_bytes(&clean_bytes).unwrap();
    let x = sample_values(SAMPLE_LEN, 47);

    let _ = every_product(&view, &view, &x);
    let _ = every_product(&view, &clean, &x);
    let _ = every_product(&clean, &view, &x);
    for vector in 0..view.vector_count() {
        let _ = view.norm(vector);
        let _ = view.vector_mean(vector);
    }
    let _ = view.stored_bits_per_entry();
    let _ = view.ideal_bits_per_entry();
}

proptest! {
    #[test]
    fn flipped_body_bytes_never_panic(
        config_index in 0..8usize,
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1..=255u8), 1..8),
    ) {
        let config = fuzzed_configs()[config_index];
        let mut bytes = sample_bytes(&config, 48);
        let body_len = bytes.len() - HEADER_LEN;
        for (position, mask) in flips {
            bytes[HEADER_LEN + position.index(body_len)] ^= mask;
        }

        exercise_tampered(&bytes, &config);
    }

    #[test]
    fn flipped_header_bytes_never_panic(
        config_index in 0..8usize,
        flips in prop::collection::vec((0..HEADER_LEN, 1..=255u8), 1..4),
    ) {
        let config = fuzzed_configs()[config_index];
        let mut bytes = sample_bytes(&config, 49);
        for (offset, mask) in flips {
            bytes[offset] ^= mask;
        }

        exercise_tampered(&bytes, &config);
    }
}

// Misaligned buffers.

#[test]
fn misaligned_views_match_original() {
    for name in PRESET_NAMES {
        let config = config(name);
        let bytes = sample_bytes(&config, 50);
        let partner_bytes = sample_bytes(&config, 51);
        let original = QuantizedMatrixRef::from_bytes(&bytes).unwrap();
        let partner = QuantizedMatrixRef::from_bytes(&partner_bytes).unwrap();
        let x = sample_values(SAMPLE_LEN, 52);
        let expected_left = result_bits(&every_product(&original, &partner, &x));
        let expected_right = result_bits(&every_product(&partner, &original, &x));

        for shift in 1..=3 {
            // The copy starts at an address that is `shift` past a multiple
            // of 8, whatever the alignment of the allocation.
            let mut storage = vec![0u8; bytes.len() + 8];
            let base = storage.as_ptr() as usize;
            let start = (0..8).find(|start| (base + start) % 8 == shift).unwrap();
            storage[start..start + bytes.len()].copy_from_slice(&bytes);
            let shifted =
                QuantizedMatrixRef::from_bytes(&storage[start..start + bytes.len()]).unwrap();

            assert_eq!(
                result_bits(&every_product(&shifted, &partner, &x)),
                expected_left,
                "{name}, offset {shift}, as left operand"
            );
            assert_eq!(
                result_bits(&every_product(&partner, &shifted, &x)),
                expected_right,
                "{name}, offset {shift}, as right operand"
            );
        }
    }
}
