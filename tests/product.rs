//! Products from quantized matrices: agreement with the decoded matrices,
//! agreement between the entry points, the mean terms, and the distortion
//! against Gamma(R) on Gaussian matrices.

use nestlat::bound::gamma;
use nestlat::product::{dot, matmul_tn, matmul_tn_f32, matvec, matvec_coded, scratch_len};
use nestlat::quant::gaussian::{GaussianOperands, GaussianReport, GaussianSetup};
use nestlat::quant::{Preset, QuantizedMatrix, QuantizedMatrixRef, QuantizerConfig, VectorSet};
use nestlat::rng::SplitMix64;

fn gaussian_data(len: usize, seed: u64, offset: f32) -> Vec<f32> {
    let mut rng = SplitMix64::new(seed);
    (0..len)
        .map(|_| offset + rng.next_gaussian() as f32)
        .collect()
}

fn quantize_rows(
    data: &[f32],
    rows: usize,
    cols: usize,
    config: &QuantizerConfig,
) -> QuantizedMatrix {
    QuantizedMatrix::quantize(&VectorSet::rows(data, rows, cols).unwrap(), config).unwrap()
}

/// Returns every vector of `matrix` decoded at unit scale, in rotated
/// coordinates over the padded length.
fn decode_all(matrix: &QuantizedMatrixRef<'_>) -> Vec<Vec<f32>> {
    (0..matrix.vector_count())
        .map(|vector| {
            let mut out = vec![0.0f32; matrix.coded_len()];
            matrix.decode_unit(vector, &mut out).unwrap();
            out
        })
        .collect()
}

fn dot_f64(x: &[f32], y: &[f32]) -> f64 {
    x.iter()
        .zip(y)
        .map(|(&a, &b)| f64::from(a) * f64::from(b))
        .sum()
}

#[test]
fn products_follow_folding_formula() {
    // Coded with coded: (s_a g_a)(s_b g_b) <z_a, z_b> + n mu_a mu_b.
    // Coded with f32: s_a g_a <z_a, R (x - mu_x)> + n mu_a mu_x.
    let (rows, cols, count) = (5, 77, 3);
    let w = gaussian_data(rows * cols, 1, 0.3);
    let x = gaussian_data(count * cols, 2, -0.2);
    for preset in Preset::all() {
        let config = QuantizerConfig::new(preset);
        let w_coded = quantize_rows(&w, rows, cols, &config);
        let x_coded = quantize_rows(&x, count, cols, &config);
        let (w_view, x_view) = (w_coded.view(), x_coded.view());
        let w_unit = decode_all(&w_view);
        let x_unit = decode_all(&x_view);

        let mut scratch = vec![0.0f32; scratch_len(w_view.coded_len(), count)];
        let mut both = vec![0.0f32; rows * count];
        matmul_tn(&w_view, &x_view, &mut scratch, &mut both).unwrap();
        let mut weight_only = vec![0.0f32; rows * count];
        let x_vectors = VectorSet::rows(&x, count, cols).unwrap();
        matmul_tn_f32(&w_view, &x_vectors, &mut scratch, &mut weight_only).unwrap();

        for i in 0..rows {
            let w_scale = f64::from(w_view.group_scale(i).unwrap());
            let w_mean = f64::from(w_view.vector_mean(i).unwrap());
            for j in 0..count {
                // The means of w were removed, so x is centered first.
                let x_row = &x[j * cols..(j + 1) * cols];
                let x_sum: f64 = x_row.iter().map(|&value| f64::from(value)).sum();
                let x_center = (x_sum / cols as f64) as f32;
                let mut x_rotated: Vec<f32> = x_row.iter().map(|&value| value - x_center).collect();
                x_rotated.resize(w_view.coded_len(), 0.0);
                w_view.rotation().pad_and_rotate(&mut x_rotated).unwrap();

                let x_scale = f64::from(x_view.group_scale(j).unwrap());
                let x_mean = f64::from(x_view.vector_mean(j).unwrap());
                let expected_both = w_scale * x_scale * dot_f64(&w_unit[i], &x_unit[j])
                    + cols as f64 * w_mean * x_mean;
                let expected_weight = w_scale * dot_f64(&w_unit[i], &x_rotated)
                    + cols as f64 * w_mean * f64::from(x_center);

                // The library sums in f32 over 80 coordinates.
                let tolerance = 1e-4 * (1.0 + expected_both.abs());
                assert!(
                    (f64::from(both[i * count + j]) - expected_both).abs() < tolerance,
                    "{}: coded entry ({i}, {j}) {} against {expected_both}",
                    preset.name(),
                    both[i * count + j]
                );
                assert!(
                    (f64::from(weight_only[i * count + j]) - expected_weight).abs() < tolerance,
                    "{}: weight-only entry ({i}, {j}) {} against {expected_weight}",
                    preset.name(),
                    weight_only[i * count + j]
                );
            }
        }
    }
}

#[test]
fn dequantized_rows_are_close() {
    let (rows, cols) = (4, 100);
    let w = gaussian_data(rows * cols, 7, 1.5);
    let config = QuantizerConfig::new(Preset::by_name("e8-4").unwrap());
    let coded = quantize_rows(&w, rows, cols, &config);
    let view = coded.view();
    for i in 0..rows {
        let mut out = vec![0.0f32; view.coded_len()];
        view.dequantize(i, &mut out).unwrap();
        let row = &w[i * cols..(i + 1) * cols];
        let error: f64 = row
            .iter()
            .zip(&out)
            .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
            .sum::<f64>()
            / cols as f64;
        // 4-bit E8 codes leave about 0.0064 per entry of unit variance.
        assert!(error < 0.02, "row {i}: mean squared error {error}");
    }
}

#[test]
fn entry_points_agree_bit_for_bit() {
    let (rows, cols, count) = (6, 40, 4);
    let w = gaussian_data(rows * cols, 3, 0.0);
    let x = gaussian_data(count * cols, 4, 0.5);
    for name in ["e8-4", "d4-3", "lloyd-2", "e8h-2", "low-0.5"] {
        let config = QuantizerConfig::new(Preset::by_name(name).unwrap());
        let w_coded = quantize_rows(&w, rows, cols, &config);
        let x_coded = quantize_rows(&x, count, cols, &config);
        let (w_view, x_view) = (w_coded.view(), x_coded.view());

        let mut scratch = vec![0.0f32; scratch_len(w_view.coded_len(), count)];
        let mut c = vec![0.0f32; rows * count];
        matmul_tn(&w_view, &x_view, &mut scratch, &mut c).unwrap();
        let mut c_dense = vec![0.0f32; rows * count];
        let x_vectors = VectorSet::rows(&x, count, cols).unwrap();
        matmul_tn_f32(&w_view, &x_vectors, &mut scratch, &mut c_dense).unwrap();

        for j in 0..count {
            let mut y = vec![0.0f32; rows];
            matvec_coded(&w_view, &x_view, j, &mut scratch, &mut y).unwrap();
            let mut y_dense = vec![0.0f32; rows];
            matvec(
                &w_view,
                &x[j * cols..(j + 1) * cols],
                &mut scratch,
                &mut y_dense,
            )
            .unwrap();
            for i in 0..rows {
                let single = dot(&w_view, i, &x_view, j).unwrap();
                assert_eq!(
                    single.to_bits(),
                    c[i * count + j].to_bits(),
                    "{name}: dot ({i}, {j})"
                );
                assert_eq!(
                    y[i].to_bits(),
                    c[i * count + j].to_bits(),
                    "{name}: matvec_coded ({i}, {j})"
                );
                assert_eq!(
                    y_dense[i].to_bits(),
                    c_dense[i * count + j].to_bits(),
                    "{name}: matvec ({i}, {j})"
                );
            }
        }
    }
}

#[test]
fn mean_terms_are_folded_back() {
    // Rows with a large common offset: without mean removal the offset eats
    // the code's range, with it the products keep the small error of the
    // zero-mean part.
    let (rows, cols) = (8, 256);
    let w = gaussian_data(rows * cols, 5, 20.0);
    let x = gaussian_data(cols, 6, -30.0);
    let exact: Vec<f64> = (0..rows)
        .map(|i| dot_f64(&w[i * cols..(i + 1) * cols], &x))
        .collect();
    let preset = Preset::by_name("e8-4").unwrap();

    let error_with = |remove_mean: bool| {
        let config = QuantizerConfig::new(preset).with_mean_removal(remove_mean);
        let w_coded = quantize_rows(&w, rows, cols, &config);
        let x_coded = quantize_rows(&x, 1, cols, &config);
        let mut scratch = vec![0.0f32; scratch_len(w_coded.view().coded_len(), 1)];
        let mut y = vec![0.0f32; rows];
        matvec_coded(&w_coded.view(), &x_coded.view(), 0, &mut scratch, &mut y).unwrap();
        y.iter()
            .zip(&exact)
            .map(|(&estimate, &truth)| (f64::from(estimate) - truth).powi(2))
            .sum::<f64>()
    };

    let with_removal = error_with(true);
    let without_removal = error_with(false);
    // The zero-mean parts have energy about 256 per vector, so their product
    // error at 4 bits is about 2 * 256 * 0.0064 per entry.
    assert!(
        with_removal / (rows as f64) < 10.0,
        "error {with_removal} with mean removal"
    );
    assert!(
        without_removal > 10.0 * with_removal,
        "mean removal gains too little: {without_removal} against {with_removal}"
    );
}

#[test]
fn dense_mean_adds_no_error() {
    // W x with a large mean in x: centering x keeps the error of the
    // zero-mean case, up to f32 rounding of the larger values.
    let (rows, cols) = (16, 512);
    let w = gaussian_data(rows * cols, 8, 0.0);
    let config = QuantizerConfig::new(Preset::by_name("e8-4").unwrap());
    let coded = quantize_rows(&w, rows, cols, &config);
    let view = coded.view();

    let error_for = |offset: f32| {
        let x = gaussian_data(cols, 9, offset);
        let mut scratch = vec![0.0f32; scratch_len(view.coded_len(), 1)];
        let mut y = vec![0.0f32; rows];
        matvec(&view, &x, &mut scratch, &mut y).unwrap();
        (0..rows)
            .map(|i| {
                let exact = dot_f64(&w[i * cols..(i + 1) * cols], &x);
                (f64::from(y[i]) - exact).powi(2)
            })
            .sum::<f64>()
    };

    let centered = error_for(0.0);
    let shifted = error_for(100.0);
    assert!(
        shifted < 1.5 * centered,
        "error {shifted} with mean 100 against {centered}"
    );
}

#[test]
fn cancelling_large_terms_give_no_nan() {
    // Orthogonal rows of size 1e20: the scale product and the mean term both
    // exceed f32 and cancel. The estimate may still exceed f32, because the
    // 4-bit error on 8 entries is a large share of 1e39, but it is never NaN.
    let len = 8;
    let mut data = vec![0.0f32; 2 * len];
    data[0] = 1.0e20;
    data[len + 1] = 1.0e20;
    for name in ["e8-4", "shell-1", "lloyd-4"] {
        let config = QuantizerConfig::new(Preset::by_name(name).unwrap());
        let coded = quantize_rows(&data, 2, len, &config);
        let value = dot(&coded.view(), 0, &coded.view(), 1).unwrap();
        assert!(!value.is_nan(), "{name}: {value}");
    }
}

fn reports() -> Vec<GaussianReport> {
    let operands = GaussianOperands::draw(GaussianSetup::default()).unwrap();
    Preset::all()
        .iter()
        .map(|preset| operands.measure(preset).unwrap())
        .collect()
}

fn report<'a>(reports: &'a [GaussianReport], name: &str) -> &'a GaussianReport {
    reports.iter().find(|report| report.preset == name).unwrap()
}

#[test]
fn gaussian_gaps_meet_targets() {
    // `nestlat gaussian` with its defaults: n = 4096, a = b = 64, seed 1.
    let reports = reports();

    let e8_4 = report(&reports, "e8-4");
    assert!(e8_4.gap_db <= 2.5, "e8-4 gap {} dB", e8_4.gap_db);
    assert!(
        e8_4.gap_weight_only_db <= 2.5,
        "e8-4 weight-only gap {} dB",
        e8_4.gap_weight_only_db
    );
    let e8_3 = report(&reports, "e8-3");
    assert!(e8_3.gap_db <= 2.8, "e8-3 gap {} dB", e8_3.gap_db);

    let best_2 = reports
        .iter()
        .filter(|report| report.bits_stored < 2.1 && report.bits_stored > 1.9)
        .map(|report| report.gap_db)
        .fold(f64::INFINITY, f64::min);
    assert!(best_2 <= 3.0, "best 2-bit gap {best_2} dB");
    assert!(
        report(&reports, "e8b-2").distortion < report(&reports, "lloyd-2").distortion,
        "the E8 ball code does not beat the scalar code at 2 bits"
    );

    for (e8, others) in [("e8-4", ["d4-4", "z-4"]), ("e8-3", ["d4-3", "z-3"])] {
        for other in others {
            assert!(
                report(&reports, e8).distortion < report(&reports, other).distortion,
                "{e8} not below {other}"
            );
        }
    }
}

#[test]
fn low_rate_stays_near_gamma() {
    // The 1-bit shell code has a product efficiency of about 0.45 per bit,
    // below the 0.5646 of the bound's linear part. The ratio to Gamma
    // therefore grows with the rate: measured 1.06, 1.11 and 1.16 at 0.25,
    // 0.5 and 0.75 bits (plus 0.013 stored bits of norms and means).
    let reports = reports();
    for (name, limit) in [("low-0.25", 1.1), ("low-0.5", 1.13), ("low-0.75", 1.18)] {
        let report = report(&reports, name);
        let ratio = report.distortion / gamma(report.bits_stored);
        assert!(ratio <= limit, "{name}: distortion / Gamma = {ratio}");
    }
}
