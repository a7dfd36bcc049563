//! The fast products of `nestlat::kernel` against the scalar reference of
//! `nestlat::product`: every shape, row ranges, batch tiles, coded
//! activations, invalid input, corrupt code words, long rows and real data.
//!
//! `E8Lanes` and `Groups` differ from the reference only in the order of
//! their `f32` operations. `Nibble` also rounds its levels and its
//! activations to `i8`, and `Ball` its activations. [`error_bound`] derives the largest difference each
//! path may show, and every comparison checks it.

mod bundled;

use std::ops::Range;

use nestlat::Error;
use nestlat::code::LloydMaxCode;
use nestlat::kernel::{self, Activations, BufferLengths, KernelPath};
use nestlat::product;
use nestlat::quant::{
    Family, HEADER_LEN, Preset, QuantizedMatrix, QuantizedMatrixRef, QuantizerConfig, VectorSet,
};
use nestlat::rng::SplitMix64;
use proptest::prelude::*;

/// One preset for each kernel path.
const PATH_PRESETS: [(&str, KernelPath); 4] = [
    ("lloyd-4", KernelPath::Nibble),
    ("e8b-2", KernelPath::Ball),
    ("e8-4", KernelPath::E8Lanes),
    ("z-4", KernelPath::Groups),
];

/// Rows, columns and batch sizes of the shape sweep: around the group of 8,
/// the column tile of 8, the E8 lane count of 16 and the `i8` block of 32.
const SIZES: [usize; 11] = [1, 2, 3, 7, 8, 9, 15, 16, 17, 64, 100];

/// Largest change of a unit-scale `lloyd-4` level by its rounding to `i8`:
/// half the step `max level / 127`, that is 2.7326 / 254 = 0.01076.
const LEVEL_ROUNDING: f64 = 0.0108;

/// Coordinates per `i8` activation block of the `Nibble` and `Ball` paths.
const NIBBLE_BLOCK: usize = 32;

/// Unit roundoff of `f32`, 2^-24.
const UNIT_ROUNDOFF: f64 = f32::EPSILON as f64 / 2.0;

fn preset(name: &str) -> &'static Preset {
    Preset::by_name(name).unwrap_or_else(|| panic!("unknown preset {name}"))
}

/// Returns `count` values drawn from N(`mean`, 1).
fn gaussian(count: usize, mean: f64, seed: u64) -> Vec<f32> {
    let mut rng = SplitMix64::new(seed);
    (0..count)
        .map(|_| (mean + rng.next_gaussian()) as f32)
        .collect()
}

/// Quantizes the rows of a `rows x cols` row-major matrix.
fn quantize(data: &[f32], rows: usize, cols: usize, config: &QuantizerConfig) -> QuantizedMatrix {
    let vectors = VectorSet::rows(data, rows, cols).unwrap();
    QuantizedMatrix::quantize(&vectors, config).unwrap()
}

/// Quantizes a Gaussian `rows x cols` matrix with mean 0.25.
fn random_matrix(
    name: &str,
    rows: usize,
    cols: usize,
    seed: u64,
    remove_mean: bool,
) -> QuantizedMatrix {
    let config = QuantizerConfig::new(preset(name)).with_mean_removal(remove_mean);
    quantize(&gaussian(rows * cols, 0.25, seed), rows, cols, &config)
}

/// Returns the byte offset of the first code word: after the header, the
/// `bf16` norm of each row and, when means are removed, its `f32` mean.
fn codes_offset(w: &QuantizedMatrixRef<'_>) -> usize {
    let means = if w.removes_mean() { 4 } else { 0 };
    HEADER_LEN + (2 + means) * w.vector_count()
}

/// Computes rows `rows` of `W X` with the kernel, in buffers of exactly the
/// lengths of [`BufferLengths::new`]. The output starts as NaN, so a value the
/// kernel does not write shows.
fn kernel_rows(
    w: &QuantizedMatrixRef<'_>,
    x: &VectorSet<'_>,
    rows: Range<usize>,
) -> Result<Vec<f32>, Error> {
    let lens = BufferLengths::new(w, x.vector_count())?;
    let mut floats = vec![0.0f32; lens.floats];
    let mut bytes = vec![0i8; lens.bytes];
    let activations = Activations::prepare(w, x, &mut floats, &mut bytes)?;
    let mut out = vec![f32::NAN; rows.len() * x.vector_count()];
    kernel::matmul_rows(w, &activations, rows, &mut out)?;
    Ok(out)
}

/// Computes `W X` over every row with the kernel.
fn kernel_product(w: &QuantizedMatrixRef<'_>, x: &VectorSet<'_>) -> Result<Vec<f32>, Error> {
    kernel_rows(w, x, 0..w.vector_count())
}

/// Computes `W X` with [`product::matmul_tn_f32`]: `c[i * batch + j]` is
/// row `i` of `w` times vector `j` of `x`, the layout of the kernel.
fn reference_product(w: &QuantizedMatrixRef<'_>, x: &VectorSet<'_>) -> Result<Vec<f32>, Error> {
    let batch = x.vector_count();
    let mut scratch = vec![0.0f32; product::scratch_len(w.coded_len(), batch)];
    let mut out = vec![f32::NAN; w.vector_count() * batch];
    product::matmul_tn_f32(w, x, &mut scratch, &mut out)?;
    Ok(out)
}

/// Returns the bit patterns of `values`, for exact comparisons that also
/// tell `0.0` from `-0.0` and compare NaN.
fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|value| value.to_bits()).collect()
}

/// A right-hand vector as both implementations multiply it: centered,
/// padded and rotated, or decoded from a coded operand.
struct Operand {
    values: Vec<f32>,
    mean: f32,
}

/// Prepares vector `j` of `x` for `w` as the reference does: centered by
/// its mean (the `f64` sum divided by the length, rounded to `f32`) when `w`
/// removes means, then padded and rotated.
fn rotated_operand(w: &QuantizedMatrixRef<'_>, x: &VectorSet<'_>, j: usize) -> Operand {
    let len = x.vector_len();
    let mut values = vec![0.0f32; w.coded_len()];
    x.copy_vector(j, &mut values[..len]).unwrap();
    let mut mean = 0.0f32;
    if w.removes_mean() && len > 0 {
        let sum: f64 = values[..len].iter().map(|&value| f64::from(value)).sum();
        mean = (sum / len as f64) as f32;
        for value in &mut values[..len] {
            *value -= mean;
        }
    }
    w.rotation().pad_and_rotate(&mut values).unwrap();
    Operand { values, mean }
}

/// Returns every vector of `x` prepared for `w`.
fn rotated_operands(w: &QuantizedMatrixRef<'_>, x: &VectorSet<'_>) -> Vec<Operand> {
    (0..x.vector_count())
        .map(|j| rotated_operand(w, x, j))
        .collect()
}

/// Decodes vector `j` of the coded `x` and scales it by its norm and gain in
/// `f32`, as a product of two coded operands multiplies it.
fn coded_operand(x: &QuantizedMatrixRef<'_>, j: usize) -> Operand {
    let mut values = vec![0.0f32; x.coded_len()];
    x.decode_unit(j, &mut values).unwrap();
    let scale = x.group_scale(j).unwrap();
    for value in &mut values {
        *value *= scale;
    }
    Operand {
        values,
        mean: x.vector_mean(j).unwrap(),
    }
}

/// Returns the largest difference allowed between the kernel and the
/// reference for one output. The output is row `z` of `w` (unit-scale
/// values, factor `s` = norm times gain, mean `mu_w`) times one operand `v`
/// with mean `mu_x`, over `n` entries and `G` groups.
///
/// Both implementations sum the same `8 G` products and add `n mu_w mu_x`.
/// In either one, each term passes through fewer than `G + 32` roundings of
/// relative size `u = 2^-24`: the products, the group, block or lane sums,
/// the scaling and the conversion to `f32`. Let `M` bound `s sum_k |term_k|`
/// and `gamma = (G + 32) u / (1 - (G + 32) u)`. The two rounded results then
/// differ by at most `2 gamma (M + n |mu_w mu_x|)`.
///
/// `Nibble` also rounds each level `z_k` to `z'_k` in its `i8` table, with
/// `|z'_k - z_k| <= d` ([`LEVEL_ROUNDING`]). It rounds each activation `v_k`
/// of block `b` to `v'_k`, with `|v'_k - v_k| <= h_b`, half a step of
/// `max_(k in b) |v_k| / 127`. Because
/// `z' v' - z v = (z' - z) v + z' (v' - v)`, its exact sum is at most
/// `s sum_k (d |v_k| + (|z_k| + d) h_b)` away from the reference's, and
/// `M = s sum_k (|z_k| + d)(|v_k| + h_b)`. `Ball` rounds the activations
/// the same way but keeps its weights exact (`d = 0`). The other paths have
/// `d = h_b = 0`.
///
/// Underflow in subnormal products and activation steps loses at most
/// `2^-126` (`f32::MIN_POSITIVE`) per entry, which the last term allows.
fn error_bound(
    path: KernelPath,
    w: &QuantizedMatrixRef<'_>,
    z: &[f32],
    scale: f64,
    row_mean: f64,
    operand: &Operand,
) -> f64 {
    let nibble = path == KernelPath::Nibble;
    let rounds_activations = nibble || path == KernelPath::Ball;
    let level_rounding = if nibble { LEVEL_ROUNDING } else { 0.0 };

    let mut quantization = 0.0f64;
    let mut magnitude = 0.0f64;
    for (block_z, block_v) in z
        .chunks(NIBBLE_BLOCK)
        .zip(operand.values.chunks(NIBBLE_BLOCK))
    {
        let largest = block_v
            .iter()
            .fold(0.0f64, |acc, &value| acc.max(f64::from(value).abs()));
        let half_step = if rounds_activations {
            largest / 254.0
        } else {
            0.0
        };
        for (&level, &value) in block_z.iter().zip(block_v) {
            let level = f64::from(level).abs();
            let value = f64::from(value).abs();
            quantization += level_rounding * value + (level + level_rounding) * half_step;
            magnitude += (level + level_rounding) * (value + half_step);
        }
    }

    let mean_term = (w.vector_len() as f64 * row_mean * f64::from(operand.mean)).abs();
    let depth = (w.coded_len() / 8 + 32) as f64 * UNIT_ROUNDOFF;
    let gamma = depth / (1.0 - depth);
    let rounding = 2.0 * gamma * (scale * magnitude + mean_term);
    let underflow = (1.0 + scale) * (z.len() + 1) as f64 * f64::from(f32::MIN_POSITIVE);
    scale * quantization + rounding + underflow
}

/// The allowed difference for every row of a matrix against every operand.
struct Bounds {
    values: Vec<f64>,
    columns: usize,
}

impl Bounds {
    fn new(w: &QuantizedMatrixRef<'_>, operands: &[Operand]) -> Self {
        let path = KernelPath::of(w);
        let mut z = vec![0.0f32; w.coded_len()];
        let mut values = Vec::with_capacity(w.vector_count() * operands.len());
        for row in 0..w.vector_count() {
            w.decode_unit(row, &mut z).unwrap();
            let scale = f64::from(w.group_scale(row).unwrap());
            let mean = f64::from(w.vector_mean(row).unwrap());
            for operand in operands {
                values.push(error_bound(path, w, &z, scale, mean, operand));
            }
        }
        Self {
            values,
            columns: operands.len(),
        }
    }

    fn get(&self, row: usize, column: usize) -> f64 {
        self.values[row * self.columns + column]
    }
}

/// Asserts that the `rows x batch` products `kernel` and `reference` differ
/// by at most `bounds` at every output and that the kernel's are finite.
fn assert_within_bounds(
    context: &str,
    kernel: &[f32],
    reference: &[f32],
    bounds: &Bounds,
    batch: usize,
) {
    assert_eq!(kernel.len(), reference.len(), "{context}: output lengths");
    for (index, (&fast, &slow)) in kernel.iter().zip(reference).enumerate() {
        let (row, column) = (index / batch, index % batch);
        assert!(
            fast.is_finite(),
            "{context}: row {row} column {column} is {fast}"
        );
        let bound = bounds.get(row, column);
        let difference = (f64::from(fast) - f64::from(slow)).abs();
        assert!(
            difference <= bound,
            "{context}: row {row} column {column}: kernel {fast}, reference {slow}, \
             difference {difference:e} > bound {bound:e}"
        );
    }
}

/// Compares the kernel with the reference on `w` and `x`, within the bound.
fn check_against_reference(context: &str, w: &QuantizedMatrixRef<'_>, x: &VectorSet<'_>) {
    let fast = kernel_product(w, x).unwrap();
    let slow = reference_product(w, x).unwrap();
    let bounds = Bounds::new(w, &rotated_operands(w, x));
    assert_within_bounds(context, &fast, &slow, &bounds, x.vector_count());
}

#[test]
fn kernel_paths_by_preset() {
    for preset in Preset::all() {
        let config = QuantizerConfig::new(preset);
        let w = quantize(&gaussian(2 * 24, 0.0, 1), 2, 24, &config);
        let expected = match preset.name() {
            "lloyd-4" => KernelPath::Nibble,
            "e8b-2" => KernelPath::Ball,
            "e8-4" | "e8-3" | "e8-2" => KernelPath::E8Lanes,
            _ => KernelPath::Groups,
        };
        assert_eq!(KernelPath::of(&w.view()), expected, "{}", preset.name());
    }

    // A dither moves the E8 presets to the scalar decoder.
    let dithered = QuantizerConfig::new(preset("e8-4"))
        .with_dither_seed(Some(5))
        .unwrap();
    let w = quantize(&gaussian(2 * 24, 0.0, 1), 2, 24, &dithered);
    assert_eq!(KernelPath::of(&w.view()), KernelPath::Groups);

    assert_eq!(KernelPath::Nibble.name(), "nibble-i8");
    assert_eq!(KernelPath::Ball.name(), "ball-i8");
    assert_eq!(KernelPath::E8Lanes.name(), "e8-lanes");
    assert_eq!(KernelPath::Groups.name(), "groups-f32");
    let nibble = kernel::backend(KernelPath::Nibble);
    assert!(
        ["avx2", "neon", "portable"].contains(&nibble),
        "nibble backend {nibble}"
    );
    let lanes = kernel::backend(KernelPath::E8Lanes);
    assert!(
        ["avx2", "sse2", "neon", "portable"].contains(&lanes),
        "e8 backend {lanes}"
    );
    assert_eq!(kernel::backend(KernelPath::Groups), "scalar");
}

#[test]
fn level_rounding_is_within_bound() {
    // The Nibble table is round(127 level / max level) in steps of
    // max level / 127, as the kernel documents.
    let code = LloydMaxCode::gaussian(4).unwrap();
    let levels = code.levels();
    let largest = levels[15];
    let step = largest / 127.0;
    for &level in levels {
        let entry = (level / largest * 127.0).round();
        assert!(entry.abs() <= 127.0, "level {level} maps to {entry}");
        let error = (f64::from(entry) * f64::from(step) - f64::from(level)).abs();
        assert!(error <= LEVEL_ROUNDING, "level {level}: error {error}");
    }
}

#[test]
fn every_shape_matches_reference() {
    // Each (rows, cols) matrix is quantized once per path and multiplied by
    // the first `batch` of the same 100 activation vectors, so the bounds of
    // all batches come from one pass.
    let max_batch = SIZES[SIZES.len() - 1];
    for (name, path) in PATH_PRESETS {
        for (row_index, &rows) in SIZES.iter().enumerate() {
            for (col_index, &cols) in SIZES.iter().enumerate() {
                let seed = (100 * row_index + col_index) as u64;
                let matrix = random_matrix(name, rows, cols, seed, true);
                let w = matrix.view();
                assert_eq!(KernelPath::of(&w), path, "{name}");

                // Vectors of length cols: the rows of a batch x cols matrix.
                let x_all = gaussian(max_batch * cols, -0.5, 1000 + seed);
                let all = VectorSet::rows(&x_all, max_batch, cols).unwrap();
                let bounds = Bounds::new(&w, &rotated_operands(&w, &all));

                for &batch in &SIZES {
                    let x = VectorSet::rows(&x_all[..batch * cols], batch, cols).unwrap();
                    let fast = kernel_product(&w, &x).unwrap();
                    let slow = reference_product(&w, &x).unwrap();
                    let context = format!("{name} rows {rows} cols {cols} batch {batch}");
                    // The first `batch` operands of `all` are those of `x`,
                    // so `bounds` applies with its own column count.
                    let window = Bounds {
                        values: (0..rows)
                            .flat_map(|i| (0..batch).map(move |j| (i, j)))
                            .map(|(i, j)| bounds.get(i, j))
                            .collect(),
                        columns: batch,
                    };
                    assert_within_bounds(&context, &fast, &slow, &window, batch);
                }
            }
        }
    }
}

#[test]
fn column_orientation_matches_rows() {
    // The same vectors, stored as the columns of a cols x batch matrix.
    let (rows, cols, batch) = (9, 41, 5);
    let x = gaussian(batch * cols, 0.1, 3);
    let transposed: Vec<f32> = (0..cols)
        .flat_map(|i| (0..batch).map(move |j| (i, j)))
        .map(|(i, j)| x[j * cols + i])
        .collect();
    let by_rows = VectorSet::rows(&x, batch, cols).unwrap();
    let by_columns = VectorSet::columns(&transposed, cols, batch).unwrap();
    for (name, _) in PATH_PRESETS {
        let matrix = random_matrix(name, rows, cols, 4, true);
        let w = matrix.view();
        let from_rows = kernel_product(&w, &by_rows).unwrap();
        let from_columns = kernel_product(&w, &by_columns).unwrap();
        assert_eq!(bits(&from_rows), bits(&from_columns), "{name}");
    }
}

#[test]
fn row_ranges_equal_full_range() {
    let (rows, cols, batch) = (37, 45, 11);
    let x_data = gaussian(batch * cols, 0.3, 7);
    let x = VectorSet::rows(&x_data, batch, cols).unwrap();
    let mut rng = SplitMix64::new(8);

    for (name, _) in PATH_PRESETS {
        let matrix = random_matrix(name, rows, cols, 6, true);
        let w = matrix.view();
        let lens = BufferLengths::new(&w, batch).unwrap();
        let mut floats = vec![0.0f32; lens.floats];
        let mut bytes = vec![0i8; lens.bytes];
        let activations = Activations::prepare(&w, &x, &mut floats, &mut bytes).unwrap();
        let run = |range: Range<usize>| {
            let mut out = vec![f32::NAN; range.len() * batch];
            kernel::matmul_rows(&w, &activations, range, &mut out).unwrap();
            out
        };
        let full = run(0..rows);

        // Every single row and every empty range.
        for row in 0..rows {
            let single = run(row..row + 1);
            assert_eq!(
                bits(&single),
                bits(&full[row * batch..(row + 1) * batch]),
                "{name} row {row}"
            );
        }
        for row in 0..=rows {
            assert!(run(row..row).is_empty(), "{name} empty range at {row}");
        }

        // Fixed cuts with repeated points (empty parts) and random cuts.
        let mut partitions = vec![vec![0, 0, 1, 2, 2, 9, 16, 17, 30, 36, 37, 37]];
        for _ in 0..8 {
            let mut cuts: Vec<usize> = (0..6)
                .map(|_| (rng.next_u64() % (rows as u64 + 1)) as usize)
                .collect();
            cuts.extend([0, rows]);
            cuts.sort_unstable();
            partitions.push(cuts);
        }
        for cuts in partitions {
            let joined: Vec<f32> = cuts
                .windows(2)
                .flat_map(|pair| run(pair[0]..pair[1]))
                .collect();
            assert_eq!(bits(&joined), bits(&full), "{name} cuts {cuts:?}");
        }
    }
}

#[test]
fn invalid_row_ranges_are_rejected() {
    let (rows, cols, batch) = (10, 20, 3);
    let x_data = gaussian(batch * cols, 0.0, 9);
    let x = VectorSet::rows(&x_data, batch, cols).unwrap();
    for (name, _) in PATH_PRESETS {
        let matrix = random_matrix(name, rows, cols, 10, true);
        let w = matrix.view();
        let lens = BufferLengths::new(&w, batch).unwrap();
        let mut floats = vec![0.0f32; lens.floats];
        let mut bytes = vec![0i8; lens.bytes];
        let activations = Activations::prepare(&w, &x, &mut floats, &mut bytes).unwrap();
        let run = |range: Range<usize>, len: usize| {
            let mut out = vec![0.0f32; len];
            kernel::matmul_rows(&w, &activations, range, &mut out)
        };

        let reversed = Range { start: 5, end: 3 };
        assert_eq!(
            run(reversed, 0),
            Err(Error::InvalidRowRange {
                start: 5,
                end: 3,
                rows
            }),
            "{name} reversed"
        );
        assert_eq!(
            run(8..11, 3 * batch),
            Err(Error::InvalidRowRange {
                start: 8,
                end: 11,
                rows
            }),
            "{name} past the end"
        );
        assert_eq!(
            run(11..11, 0),
            Err(Error::InvalidRowRange {
                start: 11,
                end: 11,
                rows
            }),
            "{name} empty past the end"
        );
        assert_eq!(
            run(2..5, 3 * batch - 1),
            Err(Error::LengthMismatch {
                expected: 3 * batch,
                actual: 3 * batch - 1
            }),
            "{name} short output"
        );
        assert_eq!(
            run(2..5, 3 * batch + 1),
            Err(Error::LengthMismatch {
                expected: 3 * batch,
                actual: 3 * batch + 1
            }),
            "{name} long output"
        );
        assert_eq!(run(10..10, 0), Ok(()), "{name} empty range at the end");
    }
}

#[test]
fn batch_tiles_match_single_columns() {
    // Batches across the column tile of 8: each column must equal the
    // product with that vector alone, bit for bit.
    let (rows, cols, max_batch) = (13, 75, 20);
    let x_data = gaussian(max_batch * cols, 0.2, 11);
    for (name, _) in PATH_PRESETS {
        let matrix = random_matrix(name, rows, cols, 12, true);
        let w = matrix.view();
        let single: Vec<Vec<f32>> = x_data
            .chunks_exact(cols)
            .map(|vector| kernel_product(&w, &VectorSet::rows(vector, 1, cols).unwrap()).unwrap())
            .collect();
        for batch in 1..=max_batch {
            let x = VectorSet::rows(&x_data[..batch * cols], batch, cols).unwrap();
            let out = kernel_product(&w, &x).unwrap();
            for row in 0..rows {
                for column in 0..batch {
                    assert_eq!(
                        out[row * batch + column].to_bits(),
                        single[column][row].to_bits(),
                        "{name} batch {batch} row {row} column {column}"
                    );
                }
            }
        }
    }
}

#[test]
fn matvec_matches_single_column() {
    let (rows, cols) = (21, 99);
    let x = gaussian(cols, 1.5, 13);
    for (name, _) in PATH_PRESETS {
        let matrix = random_matrix(name, rows, cols, 14, true);
        let w = matrix.view();
        let lens = BufferLengths::new(&w, 1).unwrap();
        let mut floats = vec![0.0f32; lens.floats];
        let mut bytes = vec![0i8; lens.bytes];
        let mut y = vec![f32::NAN; rows];
        kernel::matvec(&w, &x, &mut floats, &mut bytes, &mut y).unwrap();

        let column = VectorSet::rows(&x, 1, cols).unwrap();
        assert_eq!(
            bits(&y),
            bits(&kernel_product(&w, &column).unwrap()),
            "{name}"
        );

        let mut scratch = vec![0.0f32; product::scratch_len(w.coded_len(), 1)];
        let mut reference = vec![0.0f32; rows];
        product::matvec(&w, &x, &mut scratch, &mut reference).unwrap();
        let bounds = Bounds::new(&w, &rotated_operands(&w, &column));
        assert_within_bounds(name, &y, &reference, &bounds, 1);

        let mut short_y = vec![0.0f32; rows - 1];
        assert_eq!(
            kernel::matvec(&w, &x, &mut floats, &mut bytes, &mut short_y),
            Err(Error::LengthMismatch {
                expected: rows,
                actual: rows - 1
            }),
            "{name}"
        );
    }
}

#[test]
fn coded_activations_match_matvec_coded() {
    let (rows, cols, batch) = (23, 70, 9);
    let w_data = gaussian(rows * cols, 0.4, 15);
    let x_data = gaussian(batch * cols, -0.3, 16);
    let pairs = [
        ("e8-4", "e8-4"),
        ("lloyd-4", "lloyd-4"),
        ("lloyd-4", "e8-4"),
        ("z-4", "z-4"),
    ];
    for (w_name, x_name) in pairs {
        for remove_mean in [true, false] {
            let context = format!("{w_name} x {x_name} mean removal {remove_mean}");
            let w_config = QuantizerConfig::new(preset(w_name)).with_mean_removal(remove_mean);
            let x_config = QuantizerConfig::new(preset(x_name)).with_mean_removal(remove_mean);
            let w_matrix = quantize(&w_data, rows, cols, &w_config);
            let x_matrix = quantize(&x_data, batch, cols, &x_config);
            let (w, x) = (w_matrix.view(), x_matrix.view());

            let lens = BufferLengths::new(&w, batch).unwrap();
            let mut floats = vec![0.0f32; lens.floats];
            let mut bytes = vec![0i8; lens.bytes];
            let activations = Activations::prepare_coded(&w, &x, &mut floats, &mut bytes).unwrap();
            assert_eq!(activations.batch(), batch, "{context}");
            assert_eq!(activations.path(), KernelPath::of(&w), "{context}");
            let mut fast = vec![f32::NAN; rows * batch];
            kernel::matmul_rows(&w, &activations, 0..rows, &mut fast).unwrap();

            let mut slow = vec![0.0f32; rows * batch];
            let mut scratch = vec![0.0f32; product::scratch_len(w.coded_len(), 1)];
            let mut y = vec![0.0f32; rows];
            for j in 0..batch {
                product::matvec_coded(&w, &x, j, &mut scratch, &mut y).unwrap();
                for (i, &value) in y.iter().enumerate() {
                    slow[i * batch + j] = value;
                }
            }

            let operands: Vec<Operand> = (0..batch).map(|j| coded_operand(&x, j)).collect();
            let bounds = Bounds::new(&w, &operands);
            assert_within_bounds(&context, &fast, &slow, &bounds, batch);
        }
    }
}

#[test]
fn coded_operands_must_agree() {
    let (rows, cols, batch) = (4, 40, 3);
    let w_data = gaussian(rows * cols, 0.0, 17);
    let x_data = gaussian(batch * cols, 0.0, 18);
    for (name, _) in PATH_PRESETS {
        let w_matrix = quantize(&w_data, rows, cols, &QuantizerConfig::new(preset(name)));
        let w = w_matrix.view();
        let lens = BufferLengths::new(&w, batch).unwrap();
        let mut floats = vec![0.0f32; lens.floats];
        let mut bytes = vec![0i8; lens.bytes];
        let mut scratch = vec![0.0f32; product::scratch_len(w.coded_len(), 1)];
        let mut y = vec![0.0f32; rows];

        let kept_means = QuantizerConfig::new(preset(name)).with_mean_removal(false);
        let x_matrix = quantize(&x_data, batch, cols, &kept_means);
        let x = x_matrix.view();
        assert_eq!(
            Activations::prepare_coded(&w, &x, &mut floats, &mut bytes).err(),
            Some(Error::MeanRemovalMismatch),
            "{name} mean removal"
        );
        assert_eq!(
            product::matvec_coded(&w, &x, 0, &mut scratch, &mut y),
            Err(Error::MeanRemovalMismatch),
            "{name} reference mean removal"
        );

        let other_seed = QuantizerConfig::new(preset(name)).with_rotation_seed(Some(7));
        let x_matrix = quantize(&x_data, batch, cols, &other_seed);
        let x = x_matrix.view();
        assert_eq!(
            Activations::prepare_coded(&w, &x, &mut floats, &mut bytes).err(),
            Some(Error::RotationMismatch),
            "{name} rotation seed"
        );
        assert_eq!(
            product::matvec_coded(&w, &x, 0, &mut scratch, &mut y),
            Err(Error::RotationMismatch),
            "{name} reference rotation seed"
        );

        let shorter = random_matrix(name, batch, cols - 8, 19, true);
        assert_eq!(
            Activations::prepare_coded(&w, &shorter.view(), &mut floats, &mut bytes).err(),
            Some(Error::LengthMismatch {
                expected: cols,
                actual: cols - 8
            }),
            "{name} vector length"
        );
    }
}

#[test]
fn activations_reject_other_matrices() {
    let (rows, cols, batch) = (6, 40, 2);
    let x_data = gaussian(batch * cols, 0.0, 20);
    let x = VectorSet::rows(&x_data, batch, cols).unwrap();
    let w_data = gaussian(rows * cols, 0.0, 21);
    let dithered = QuantizerConfig::new(preset("e8-4"))
        .with_dither_seed(Some(3))
        .unwrap();
    let matrices = [
        quantize(
            &w_data,
            rows,
            cols,
            &QuantizerConfig::new(preset("lloyd-4")),
        ),
        quantize(&w_data, rows, cols, &QuantizerConfig::new(preset("e8-4"))),
        quantize(&w_data, rows, cols, &QuantizerConfig::new(preset("z-4"))),
        quantize(&w_data, rows, cols, &dithered),
    ];

    for prepared_for in &matrices {
        let w = prepared_for.view();
        let lens = BufferLengths::new(&w, batch).unwrap();
        let mut floats = vec![0.0f32; lens.floats];
        let mut bytes = vec![0i8; lens.bytes];
        let activations = Activations::prepare(&w, &x, &mut floats, &mut bytes).unwrap();
        for used_with in &matrices {
            let other = used_with.view();
            let mut out = vec![0.0f32; rows * batch];
            let result = kernel::matmul_rows(&other, &activations, 0..rows, &mut out);
            let (prepared, needed) = (KernelPath::of(&w), KernelPath::of(&other));
            if prepared == needed {
                assert_eq!(
                    result,
                    Ok(()),
                    "{} with {}",
                    w.preset().name(),
                    other.preset().name()
                );
            } else {
                assert_eq!(
                    result,
                    Err(Error::KernelMismatch {
                        prepared: prepared.name(),
                        needed: needed.name(),
                    }),
                    "{} with {}",
                    w.preset().name(),
                    other.preset().name()
                );
            }
        }
    }

    for (name, _) in PATH_PRESETS {
        let base = random_matrix(name, rows, cols, 22, true);
        let w = base.view();
        let lens = BufferLengths::new(&w, batch).unwrap();
        let mut floats = vec![0.0f32; lens.floats];
        let mut bytes = vec![0i8; lens.bytes];
        let activations = Activations::prepare(&w, &x, &mut floats, &mut bytes).unwrap();
        let mut out = vec![0.0f32; rows * batch];

        let longer = random_matrix(name, rows, cols + 8, 23, true);
        assert_eq!(
            kernel::matmul_rows(&longer.view(), &activations, 0..rows, &mut out),
            Err(Error::ActivationsMismatch {
                setting: "vector length"
            }),
            "{name} vector length"
        );

        let other_seed = QuantizerConfig::new(preset(name)).with_rotation_seed(Some(99));
        let rotated = quantize(&w_data, rows, cols, &other_seed);
        assert_eq!(
            kernel::matmul_rows(&rotated.view(), &activations, 0..rows, &mut out),
            Err(Error::ActivationsMismatch {
                setting: "rotation"
            }),
            "{name} rotation seed"
        );

        let kept_means = random_matrix(name, rows, cols, 24, false);
        assert_eq!(
            kernel::matmul_rows(&kept_means.view(), &activations, 0..rows, &mut out),
            Err(Error::ActivationsMismatch {
                setting: "mean-removal setting"
            }),
            "{name} mean removal"
        );

        let wrong_len = gaussian(batch * (cols + 1), 0.0, 25);
        let wrong = VectorSet::rows(&wrong_len, batch, cols + 1).unwrap();
        let mut floats = vec![0.0f32; lens.floats];
        let mut bytes = vec![0i8; lens.bytes];
        assert_eq!(
            Activations::prepare(&w, &wrong, &mut floats, &mut bytes).err(),
            Some(Error::LengthMismatch {
                expected: cols,
                actual: cols + 1
            }),
            "{name} activation length"
        );
    }
}

#[test]
fn buffer_lengths_are_checked() {
    let (rows, cols, batch) = (5, 77, 10);
    let x_data = gaussian(batch * cols, 0.0, 26);
    let x = VectorSet::rows(&x_data, batch, cols).unwrap();
    for (name, path) in PATH_PRESETS {
        let matrix = random_matrix(name, rows, cols, 27, true);
        let w = matrix.view();
        let lens = BufferLengths::new(&w, batch).unwrap();
        let coded_len = w.coded_len();
        if path == KernelPath::Nibble || path == KernelPath::Ball {
            let blocks = coded_len.div_ceil(NIBBLE_BLOCK);
            assert_eq!(lens.bytes, blocks * NIBBLE_BLOCK * batch, "{name} bytes");
        } else {
            assert_eq!(lens.bytes, 0, "{name} bytes");
        }
        assert!(lens.floats > coded_len, "{name} floats");
        assert_eq!(
            BufferLengths::new(&w, 0).unwrap().bytes,
            0,
            "{name} empty batch"
        );

        let mut floats = vec![0.0f32; lens.floats - 1];
        let mut bytes = vec![0i8; lens.bytes];
        assert_eq!(
            Activations::prepare(&w, &x, &mut floats, &mut bytes).err(),
            Some(Error::ScratchTooSmall {
                needed: lens.floats,
                actual: lens.floats - 1
            }),
            "{name} short floats"
        );
        if lens.bytes > 0 {
            let mut floats = vec![0.0f32; lens.floats];
            let mut bytes = vec![0i8; lens.bytes - 1];
            assert_eq!(
                Activations::prepare(&w, &x, &mut floats, &mut bytes).err(),
                Some(Error::BufferTooSmall {
                    needed: lens.bytes,
                    actual: lens.bytes - 1
                }),
                "{name} short bytes"
            );
        }

        // Longer buffers, filled with garbage, give the same products.
        let mut floats = vec![f32::NAN; lens.floats + 13];
        let mut bytes = vec![-128i8; lens.bytes + 13];
        let activations = Activations::prepare(&w, &x, &mut floats, &mut bytes).unwrap();
        let mut out = vec![f32::NAN; rows * batch];
        kernel::matmul_rows(&w, &activations, 0..rows, &mut out).unwrap();
        assert_eq!(
            bits(&out),
            bits(&kernel_product(&w, &x).unwrap()),
            "{name} long buffers"
        );
    }
}

#[test]
fn non_finite_activations_are_rejected() {
    let (rows, cols, batch) = (3, 20, 3);
    for (name, _) in PATH_PRESETS {
        let matrix = random_matrix(name, rows, cols, 28, true);
        let w = matrix.view();
        let lens = BufferLengths::new(&w, batch).unwrap();
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let mut x_data = gaussian(batch * cols, 0.0, 29);
            x_data[2 * cols + 7] = bad;
            let x = VectorSet::rows(&x_data, batch, cols).unwrap();
            let mut floats = vec![0.0f32; lens.floats];
            let mut bytes = vec![0i8; lens.bytes];
            assert_eq!(
                Activations::prepare(&w, &x, &mut floats, &mut bytes).err(),
                Some(Error::NonFiniteEntry { row: 2, column: 7 }),
                "{name} {bad} in rows"
            );

            // The same entry as row 7, column 2 of a cols x batch matrix.
            let transposed: Vec<f32> = (0..cols)
                .flat_map(|i| (0..batch).map(move |j| (i, j)))
                .map(|(i, j)| x_data[j * cols + i])
                .collect();
            let x = VectorSet::columns(&transposed, cols, batch).unwrap();
            assert_eq!(
                Activations::prepare(&w, &x, &mut floats, &mut bytes).err(),
                Some(Error::NonFiniteEntry { row: 7, column: 2 }),
                "{name} {bad} in columns"
            );

            let single = &x_data[2 * cols..3 * cols];
            let mut y = vec![0.0f32; rows];
            let mut floats = vec![0.0f32; BufferLengths::new(&w, 1).unwrap().floats];
            assert_eq!(
                kernel::matvec(&w, single, &mut floats, &mut bytes, &mut y),
                Err(Error::NonFiniteEntry { row: 0, column: 7 }),
                "{name} {bad} in matvec"
            );
        }
    }
}

#[test]
fn overflowing_activations_are_rejected() {
    for (name, _) in PATH_PRESETS {
        // Centering overflows: the mean is -MAX / 3, so the first entry
        // becomes 4 MAX / 3.
        let cols = 3;
        let matrix = random_matrix(name, 2, cols, 30, true);
        let w = matrix.view();
        let x_data = [0.5, 0.25, -1.0, f32::MAX, -f32::MAX, -f32::MAX];
        let x = VectorSet::rows(&x_data, 2, cols).unwrap();
        assert_eq!(
            kernel_product(&w, &x),
            Err(Error::NormOverflow { vector: 1 }),
            "{name} centering"
        );
        assert_eq!(
            reference_product(&w, &x),
            Err(Error::NormOverflow { vector: 1 }),
            "{name} reference centering"
        );

        // The rotation overflows. After the sign flips every entry is
        // +-MAX, so each of the 8 outputs of the normalized Hadamard
        // transform is an even integer times MAX / sqrt(8). The transform
        // keeps the norm, so the squares of those integers sum to 64, and
        // one of them is at least 4 in magnitude: its output is at least
        // 4 MAX / sqrt(8) > MAX.
        let cols = 8;
        let kept_means = QuantizerConfig::new(preset(name)).with_mean_removal(false);
        let matrix = quantize(&gaussian(2 * cols, 0.0, 31), 2, cols, &kept_means);
        let w = matrix.view();
        let mut x_data = gaussian(3 * cols, 0.0, 32);
        x_data[cols..2 * cols].fill(f32::MAX);
        let x = VectorSet::rows(&x_data, 3, cols).unwrap();
        assert_eq!(
            kernel_product(&w, &x),
            Err(Error::NormOverflow { vector: 1 }),
            "{name} rotation"
        );
        assert_eq!(
            reference_product(&w, &x),
            Err(Error::NormOverflow { vector: 1 }),
            "{name} reference rotation"
        );
    }
}

#[test]
fn large_finite_activations_match_reference() {
    // Entries of 3e36 and 1e37 rotate to at most sqrt(8) times that, and
    // the reference products stay below 1e38, under f32::MAX = 3.4e38. The
    // i8 kernels must fold their weight step into the activation scales:
    // summed in units of the i8 table, their f32 partial sums would reach
    // 32 * 127 * max|v| per block against about 2.7 max|v| per entry.
    let cols = 8;
    for (name, _) in PATH_PRESETS {
        let kept_means = QuantizerConfig::new(preset(name)).with_mean_removal(false);
        let matrix = quantize(&gaussian(2 * cols, 0.0, 31), 2, cols, &kept_means);
        let w = matrix.view();
        for magnitude in [3e36f32, 1e37] {
            let mut x_data = gaussian(3 * cols, 0.0, 32);
            x_data[cols..2 * cols].fill(magnitude);
            let x = VectorSet::rows(&x_data, 3, cols).unwrap();
            let reference = reference_product(&w, &x).unwrap();
            assert!(
                reference.iter().all(|value| value.abs() < 1e38),
                "{name} {reference:?}"
            );
            check_against_reference(&format!("{name} entries {magnitude:e}"), &w, &x);
        }
    }
}

#[test]
fn zero_and_constant_activations() {
    let (rows, cols, batch) = (7, 50, 3);
    for (name, _) in PATH_PRESETS {
        for remove_mean in [true, false] {
            let matrix = random_matrix(name, rows, cols, 33, remove_mean);
            let w = matrix.view();
            let zeros = vec![0.0f32; batch * cols];
            let x = VectorSet::rows(&zeros, batch, cols).unwrap();
            let out = kernel_product(&w, &x).unwrap();
            assert!(
                out.iter().all(|&value| value == 0.0),
                "{name} mean removal {remove_mean}: {out:?}"
            );
        }

        // With its mean removed a constant vector centers to zero, and
        // only the mean term n mu_w c is left. mu_w has 24 significant bits
        // and n c = 37.5 has 6, so both implementations compute the term
        // exactly in f64 and round it once.
        let matrix = random_matrix(name, rows, cols, 34, true);
        let w = matrix.view();
        let constant = 0.75f32;
        let x_data = vec![constant; batch * cols];
        let x = VectorSet::rows(&x_data, batch, cols).unwrap();
        let fast = kernel_product(&w, &x).unwrap();
        let slow = reference_product(&w, &x).unwrap();
        for row in 0..rows {
            let mean = f64::from(w.vector_mean(row).unwrap());
            let expected = (cols as f64 * mean * f64::from(constant)) as f32;
            for column in 0..batch {
                let index = row * batch + column;
                assert_eq!(fast[index], expected, "{name} row {row} column {column}");
                assert_eq!(
                    slow[index], expected,
                    "{name} reference row {row} column {column}"
                );
            }
        }
    }
}

#[test]
fn subnormal_activations() {
    let (rows, cols, batch) = (5, 70, 4);
    for (name, _) in PATH_PRESETS {
        for remove_mean in [true, false] {
            let matrix = random_matrix(name, rows, cols, 35, remove_mean);
            let w = matrix.view();
            // Entries around 1e-40: every one is subnormal.
            let x_data: Vec<f32> = gaussian(batch * cols, 0.1, 36)
                .iter()
                .map(|&value| value * 1e-40)
                .collect();
            assert!(x_data.iter().all(|value| !value.is_normal()));
            let x = VectorSet::rows(&x_data, batch, cols).unwrap();
            check_against_reference(&format!("{name} mean removal {remove_mean}"), &w, &x);
        }
    }
}

/// Returns `W X` computed in `f64` from the decoded rows and the operands
/// as the reference prepares them: the value every path approximates.
fn exact_product(w: &QuantizedMatrixRef<'_>, x: &VectorSet<'_>) -> Vec<f64> {
    let operands = rotated_operands(w, x);
    let mut z = vec![0.0f32; w.coded_len()];
    let mut out = Vec::new();
    for row in 0..w.vector_count() {
        w.decode_unit(row, &mut z).unwrap();
        let scale = f64::from(w.group_scale(row).unwrap());
        let mean = f64::from(w.vector_mean(row).unwrap());
        for operand in &operands {
            let dot: f64 = z
                .iter()
                .zip(&operand.values)
                .map(|(&a, &b)| f64::from(a) * f64::from(b))
                .sum();
            let mean_term = w.vector_len() as f64 * mean * f64::from(operand.mean);
            out.push(scale * dot + mean_term);
        }
    }
    out
}

#[test]
fn huge_entries_never_give_nan() {
    // One entry of f32::MAX: the products of some rows lie beyond the f32
    // range and others inside it. Inside, each output must be within the
    // bound of the f64 value, plus its rounding to f32. Beyond, it must be
    // infinite with the sign of the f64 value, never NaN.
    let cols = 133;
    for (name, _) in PATH_PRESETS {
        for remove_mean in [true, false] {
            let matrix = random_matrix(name, 6, cols, 7, remove_mean);
            let w = matrix.view();
            let mut x_data = gaussian(cols, 0.4, 8);
            x_data[7] = f32::MAX;
            let x = VectorSet::rows(&x_data, 1, cols).unwrap();
            let Ok(fast) = kernel_product(&w, &x) else {
                continue;
            };
            let bounds = Bounds::new(&w, &rotated_operands(&w, &x));
            for (row, (&value, &exact)) in fast.iter().zip(&exact_product(&w, &x)).enumerate() {
                let context = format!("{name} mean removal {remove_mean}: {value} against {exact}");
                assert!(!value.is_nan(), "{context}");
                let allowed = bounds.get(row, 0) + exact.abs() * UNIT_ROUNDOFF;
                if exact.abs() + allowed < f64::from(f32::MAX) {
                    assert!((f64::from(value) - exact).abs() <= allowed, "{context}");
                } else if exact.abs() - allowed > f64::from(f32::MAX) {
                    assert_eq!(value, exact.signum() as f32 * f32::INFINITY, "{context}");
                }
            }
        }
    }
}

#[test]
fn tiny_entries_keep_relative_precision() {
    // Entries from 1e-43 to 1e-38 are subnormal; times 2^100 they are the
    // same values as normal numbers. Without rotation and centering, which
    // round on the subnormal grid, they reach the kernels unchanged. The
    // kernels scale every activation vector by a power of two first, so the
    // two products must agree up to that factor and the final rounding of a
    // subnormal result.
    let cols = 64;
    let factor = 2.0f32.powi(100);
    for (name, _) in PATH_PRESETS {
        let config = QuantizerConfig::new(preset(name))
            .with_rotation_seed(None)
            .with_mean_removal(false);
        let matrix = quantize(&gaussian(2 * cols, 0.0, 9), 2, cols, &config);
        let w = matrix.view();
        for magnitude in [1e-43f32, 2e-42, 5e-42, 1e-40, 1e-38] {
            let tiny: Vec<f32> = gaussian(cols, 0.5, 10)
                .iter()
                .map(|v| v * magnitude)
                .collect();
            let normal: Vec<f32> = tiny.iter().map(|v| v * factor).collect();
            let fast = kernel_product(&w, &VectorSet::rows(&tiny, 1, cols).unwrap()).unwrap();
            let scaled = kernel_product(&w, &VectorSet::rows(&normal, 1, cols).unwrap()).unwrap();
            for (&value, &reference) in fast.iter().zip(&scaled) {
                let expected = f64::from(reference) / f64::from(factor);
                let error = (f64::from(value) - expected).abs();
                let allowed = expected.abs() * 2.0 * UNIT_ROUNDOFF
                    + f64::from(f32::MIN_POSITIVE) * 2f64.powi(-23);
                let context =
                    format!("{name} entries {magnitude:e}: {value:e} against {expected:e}");
                assert!(error <= allowed, "{context}");
            }
        }
    }
}

#[test]
fn empty_shapes() {
    for (name, _) in PATH_PRESETS {
        // No rows.
        let matrix = random_matrix(name, 0, 16, 37, true);
        let w = matrix.view();
        let x_data = gaussian(3 * 16, 0.0, 38);
        let x = VectorSet::rows(&x_data, 3, 16).unwrap();
        assert_eq!(kernel_product(&w, &x), Ok(vec![]), "{name} no rows");
        assert_eq!(
            reference_product(&w, &x),
            Ok(vec![]),
            "{name} reference no rows"
        );

        // Vectors of length 0: every product is 0.
        let matrix = random_matrix(name, 4, 0, 39, true);
        let w = matrix.view();
        let x = VectorSet::rows(&[], 3, 0).unwrap();
        assert_eq!(
            kernel_product(&w, &x),
            Ok(vec![0.0; 12]),
            "{name} no columns"
        );
        assert_eq!(
            reference_product(&w, &x),
            Ok(vec![0.0; 12]),
            "{name} reference no columns"
        );

        // An empty batch.
        let matrix = random_matrix(name, 4, 16, 40, true);
        let w = matrix.view();
        let x = VectorSet::rows(&[], 0, 16).unwrap();
        assert_eq!(kernel_product(&w, &x), Ok(vec![]), "{name} no vectors");
        let lens = BufferLengths::new(&w, 0).unwrap();
        let mut floats = vec![0.0f32; lens.floats];
        let mut bytes = vec![0i8; lens.bytes];
        let activations = Activations::prepare(&w, &x, &mut floats, &mut bytes).unwrap();
        assert_eq!(activations.batch(), 0);
        let mut out = [0.0f32; 1];
        assert_eq!(
            kernel::matmul_rows(&w, &activations, 0..4, &mut out),
            Err(Error::LengthMismatch {
                expected: 0,
                actual: 1
            }),
            "{name} output for no vectors"
        );
    }
}

#[test]
fn corrupt_code_words_are_rejected() {
    // 25 groups per row: the last E8 tile of 16 groups is partial.
    let (rows, cols, batch) = (5, 200, 10);
    let groups = cols / 8;
    let x_data = gaussian(batch * cols, 0.0, 41);
    let x = VectorSet::rows(&x_data, batch, cols).unwrap();
    let cases = [("e8-4", 4), ("e8-3", 3), ("e8-2", 2), ("z-4", 4)];
    for (name, word_bytes) in cases {
        for remove_mean in [true, false] {
            let matrix = random_matrix(name, rows, cols, 42, remove_mean);
            let clean = matrix.view();
            let clean_out = kernel_product(&clean, &x).unwrap();
            let offset = codes_offset(&clean);
            assert_eq!(
                matrix.as_bytes().len(),
                offset + rows * groups * word_bytes,
                "{name} layout"
            );
            let word = (1u64 << (8 * word_bytes)) - 1;

            for (row, group) in [(0, 0), (3, 24), (4, 16), (2, 15)] {
                let context = format!("{name} mean removal {remove_mean} row {row} group {group}");
                let mut bytes = matrix.as_bytes().to_vec();
                let start = offset + (row * groups + group) * word_bytes;
                bytes[start..start + word_bytes].fill(0xff);
                let w = QuantizedMatrixRef::from_bytes(&bytes).unwrap();

                let expected = Err(Error::InvalidCodeWord { word });
                assert_eq!(kernel_product(&w, &x), expected, "{context}");
                assert_eq!(reference_product(&w, &x), expected, "{context} reference");
                assert_eq!(
                    kernel_rows(&w, &x, row..row + 1),
                    expected,
                    "{context} single row"
                );

                // Rows without the corrupt word are unaffected.
                for range in [0..row, row + 1..rows] {
                    let out = kernel_rows(&w, &x, range.clone()).unwrap();
                    let clean_rows = &clean_out[range.start * batch..range.end * batch];
                    assert_eq!(bits(&out), bits(clean_rows), "{context} rows {range:?}");
                }

                // The same word in a coded activation vector.
                let lens = BufferLengths::new(&clean, rows).unwrap();
                let mut floats = vec![0.0f32; lens.floats];
                let mut activation_bytes = vec![0i8; lens.bytes];
                assert_eq!(
                    Activations::prepare_coded(&clean, &w, &mut floats, &mut activation_bytes)
                        .err(),
                    Some(Error::InvalidCodeWord { word }),
                    "{context} coded activations"
                );
            }
        }
    }
}

/// Applies byte flips to a small quantized matrix and checks that nothing
/// panics, that the kernel fails exactly when the reference does, and that
/// its products are finite and within the bound otherwise.
fn check_flipped_bytes(name: &str, remove_mean: bool, flips: &[(usize, u8)]) {
    let matrix = random_matrix(name, 3, 24, 43, remove_mean);
    let mut bytes = matrix.as_bytes().to_vec();
    for &(index, mask) in flips {
        let len = bytes.len();
        bytes[index % len] ^= mask;
    }
    let Ok(w) = QuantizedMatrixRef::from_bytes(&bytes) else {
        return;
    };
    let cols = w.vector_len();
    let x_data = gaussian(2 * cols, 0.5, 44);
    let x = VectorSet::rows(&x_data, 2, cols).unwrap();
    let fast = kernel_product(&w, &x);
    let slow = reference_product(&w, &x);
    match (fast, slow) {
        (Ok(fast), Ok(slow)) => {
            let bounds = Bounds::new(&w, &rotated_operands(&w, &x));
            assert_within_bounds(&format!("{name} flips {flips:?}"), &fast, &slow, &bounds, 2);
        }
        (fast, slow) => assert_eq!(fast.err(), slow.err(), "{name} flips {flips:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn flipped_bytes_never_panic(
        lloyd in any::<bool>(),
        remove_mean in any::<bool>(),
        flips in prop::collection::vec((any::<usize>(), 1u8..=255), 1..6),
    ) {
        let name = if lloyd { "lloyd-4" } else { "e8-4" };
        check_flipped_bytes(name, remove_mean, &flips);
    }
}

#[test]
fn code_word_flips_never_panic() {
    // Flips confined to the code words: the header, norms and means stay
    // valid, so every case reaches the kernel.
    let mut rng = SplitMix64::new(45);
    for name in ["e8-4", "lloyd-4"] {
        for remove_mean in [true, false] {
            let matrix = random_matrix(name, 3, 24, 43, remove_mean);
            let offset = codes_offset(&matrix.view());
            let codes = matrix.as_bytes().len() - offset;
            for _ in 0..64 {
                let flips: Vec<(usize, u8)> = (0..3)
                    .map(|_| {
                        let index = offset + (rng.next_u64() as usize) % codes;
                        (index, (rng.next_u64() % 255 + 1) as u8)
                    })
                    .collect();
                check_flipped_bytes(name, remove_mean, &flips);
            }
        }
    }
}

#[test]
fn long_nibble_rows_at_extreme_levels() {
    // Without rotation and mean removal the activations reach the kernel
    // unchanged: a constant vector puts every i8 activation at +-127. The
    // digits 0xf (largest level, +127 in the table) and 0x0 (smallest,
    // -127) make every product +-127 * 127, and every block sum +-516128,
    // the accumulator bound. Row 2 alternates the two levels, so its sum
    // cancels to zero.
    let (rows, cols) = (3, 65536);
    let config = QuantizerConfig::new(preset("lloyd-4"))
        .with_mean_removal(false)
        .with_rotation_seed(None);
    let matrix = quantize(&gaussian(rows * cols, 0.0, 46), rows, cols, &config);
    let mut bytes = matrix.as_bytes().to_vec();
    let offset = codes_offset(&matrix.view());
    let row_bytes = cols / 2;
    for (row, digits) in [(0, 0xffu8), (1, 0x00), (2, 0x0f)] {
        let start = offset + row * row_bytes;
        bytes[start..start + row_bytes].fill(digits);
    }
    let w = QuantizedMatrixRef::from_bytes(&bytes).unwrap();
    assert_eq!(KernelPath::of(&w), KernelPath::Nibble);

    let mut x_data = vec![1000.0f32; cols];
    x_data.extend(vec![-1000.0f32; cols]);
    let x = VectorSet::rows(&x_data, 2, cols).unwrap();
    check_against_reference("lloyd-4 extreme levels", &w, &x);

    // Row 0 against x = 1000 is s * (largest level) * 1000 * 65536. The
    // largest level is exactly the table entry 127, so only f32 rounding
    // separates the kernel from it: the 2048 block sums lose about 2^-13.
    let out = kernel_product(&w, &x).unwrap();
    let largest = f64::from(LloydMaxCode::gaussian(4).unwrap().levels()[15]);
    let exact = f64::from(w.group_scale(0).unwrap()) * largest * 1000.0 * cols as f64;
    let relative = (f64::from(out[0]) - exact).abs() / exact;
    assert!(relative < 1e-3, "row 0: {} against {exact}", out[0]);
    assert!(out[1] < 0.0, "row 0 against x = -1000: {}", out[1]);
}

#[test]
fn long_e8_rows_match_reference() {
    let (rows, cols) = (3, 65536);
    let name = "e8-4";
    let matrix = random_matrix(name, rows, cols, 47, true);
    let mut bytes = matrix.as_bytes().to_vec();

    // Row 2 holds only the largest valid code word, k q^8 - 1.
    let Family::Voronoi { q, scales, .. } = *preset(name).family() else {
        unreachable!("e8-4 is a Voronoi preset")
    };
    let largest_word = u64::from(q).pow(8) * scales.len() as u64 - 1;
    let word = u32::try_from(largest_word).unwrap().to_le_bytes();
    let offset = codes_offset(&matrix.view());
    let groups = cols / 8;
    for group in 0..groups {
        let start = offset + (2 * groups + group) * 4;
        bytes[start..start + 4].copy_from_slice(&word);
    }
    let w = QuantizedMatrixRef::from_bytes(&bytes).unwrap();
    assert_eq!(KernelPath::of(&w), KernelPath::E8Lanes);

    // Large Gaussian entries with a large mean, and alternating +-1e4.
    let mut x_data: Vec<f32> = gaussian(cols, 0.3, 48)
        .iter()
        .map(|&value| value * 1000.0)
        .collect();
    x_data.extend((0..cols).map(|i| if i % 2 == 0 { 1e4 } else { -1e4 }));
    let x = VectorSet::rows(&x_data, 2, cols).unwrap();
    check_against_reference("e8-4 long rows", &w, &x);
}

#[test]
fn real_minilm_matrix() {
    let (rows, cols, tokens) = (384, 384, 128);
    let weights = bundled::load_f32("minilm_l0_attention_self_query.f32");
    let inputs = bundled::load_f32("minilm_l0_attention_self_query_input.f32");
    assert_eq!(weights.len(), rows * cols);
    assert_eq!(inputs.len(), tokens * cols);
    let x = VectorSet::rows(&inputs, tokens, cols).unwrap();
    for name in ["lloyd-4", "e8-4"] {
        let matrix = quantize(&weights, rows, cols, &QuantizerConfig::new(preset(name)));
        check_against_reference(&format!("{name} MiniLM query"), &matrix.view(), &x);
    }
}

/// Draws a preset, its settings, a shape and data, and checks the kernel
/// against the reference within the bound.
fn check_random_case(
    preset_index: usize,
    remove_mean: bool,
    rotation_seed: Option<u64>,
    dither_seed: Option<u64>,
    shape: (usize, usize, usize),
    seed: u64,
) {
    let (rows, cols, batch) = shape;
    let preset = &Preset::all()[preset_index % Preset::all().len()];
    let config = QuantizerConfig::new(preset)
        .with_mean_removal(remove_mean)
        .with_rotation_seed(rotation_seed);
    // Only the Voronoi presets take a dither.
    let config = config.with_dither_seed(dither_seed).unwrap_or(config);
    let matrix = quantize(&gaussian(rows * cols, 0.2, seed), rows, cols, &config);
    let w = matrix.view();

    let expected = match (preset.name(), config.dither_seed()) {
        ("lloyd-4", _) => KernelPath::Nibble,
        ("e8b-2", _) => KernelPath::Ball,
        ("e8-4" | "e8-3" | "e8-2", None) => KernelPath::E8Lanes,
        _ => KernelPath::Groups,
    };
    assert_eq!(KernelPath::of(&w), expected, "{}", preset.name());

    let x_data = gaussian(batch * cols, -0.7, seed ^ 0x5eed);
    let x = VectorSet::rows(&x_data, batch, cols).unwrap();
    let context = format!(
        "{} {config:?} rows {rows} cols {cols} batch {batch}",
        preset.name()
    );
    check_against_reference(&context, &w, &x);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn random_shapes_match_reference(
        preset_index in 0..Preset::all().len(),
        remove_mean in any::<bool>(),
        rotation_seed in prop::option::of(any::<u64>()),
        dither_seed in prop::option::weighted(0.3, any::<u64>()),
        rows in 0usize..24,
        cols in 0usize..160,
        batch in 0usize..12,
        seed in any::<u64>(),
    ) {
        check_random_case(preset_index, remove_mean, rotation_seed, dither_seed, (rows, cols, batch), seed);
    }
}
