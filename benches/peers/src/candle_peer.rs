//! candle's Q4_0 and Q4_K products, through `k_quants::matmul` and through
//! `QMatMul::forward`.
//!
//! Both entry points run on candle's barrier pool, which `main` sizes to one
//! thread (no worker threads) before candle is first called. On x86_64,
//! candle 0.11.1 picks its AVX2 dot products at run time
//! (`is_x86_feature_detected!("avx2")` and `"fma"`), not from
//! `target_feature`. `QMatMul::forward` on Q4_K takes another path there: it
//! repacks the weights on the first call into tiles of 16 rows with `f32`
//! scales and runs an AVX512-VNNI, AVX-VNNI or AVX2 kernel, whichever
//! [`repack_level`] names. On Q4_0 it falls back to `k_quants::matmul`.

use std::error::Error;
use std::hint::black_box;
use std::time::Instant;

use candle_core::quantized::k_quants::{self, BlockQ4_0, BlockQ4K, GgmlType};
use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{Device, Module, Tensor};

use crate::options::Shape;
use crate::report::{Format, Measurement};
use crate::timing::{Case, median_ns, output_sqnr_db, process_threads};

/// The version of `candle-core` that `Cargo.toml` pins with `=`.
pub const CANDLE_VERSION: &str = "0.11.1";

/// Measures candle's Q4_0 and Q4_K through both entry points.
///
/// # Errors
///
/// Any error of candle.
pub fn measure_all(case: &Case<'_>) -> Result<Vec<Measurement>, Box<dyn Error>> {
    Ok(vec![
        measure_k_quants::<BlockQ4_0>(case, Format::Q4_0)?,
        measure_qmatmul(case, GgmlDType::Q4_0, Format::Q4_0)?,
        measure_k_quants::<BlockQ4K>(case, Format::Q4K)?,
        measure_qmatmul(case, GgmlDType::Q4K, Format::Q4K)?,
    ])
}

/// Times `k_quants::matmul` on weights of block type `T`. Each product
/// quantizes `x` to `T::VecDotType` (Q8_0 for Q4_0, Q8K for Q4_K) inside the
/// timed call.
fn measure_k_quants<T: GgmlType>(
    case: &Case<'_>,
    format: Format,
) -> Result<Measurement, Box<dyn Error>> {
    let Shape { rows, cols } = case.shape;
    let start = Instant::now();
    let mut blocks = vec![T::zeros(); case.shape.entries() / T::BLCK_SIZE];
    T::from_float(case.weights, &mut blocks);
    let encode_s = start.elapsed().as_secs_f64();

    let mut y = vec![0.0f32; rows];
    let ns = median_ns(case.repeats, || {
        k_quants::matmul((1, cols, rows), case.x, &blocks, &mut y)?;
        black_box(&mut y);
        Ok::<_, candle_core::Error>(())
    })?;
    let threads = process_threads();

    Ok(Measurement {
        library: "candle",
        format,
        name: format_name(T::DTYPE).into(),
        entry: "k_quants::matmul",
        activations: format_name(T::VecDotType::DTYPE),
        backend: dot_backend().into(),
        bits_stored: (std::mem::size_of::<T>() * 8) as f64 / T::BLCK_SIZE as f64,
        ns_per_product: ns,
        sqnr_db: output_sqnr_db(case.exact, &y),
        encode_mweights_per_s: Some(case.shape.entries() as f64 / encode_s / 1e6),
        process_threads: threads,
    })
}

/// Times `QMatMul::forward` on a `QTensor` of `dtype`, with `x` as a
/// `1 x cols` tensor. The first (untimed) call builds any repacked copy.
fn measure_qmatmul(
    case: &Case<'_>,
    dtype: GgmlDType,
    format: Format,
) -> Result<Measurement, Box<dyn Error>> {
    let Shape { rows, cols } = case.shape;
    let device = Device::Cpu;
    let start = Instant::now();
    let weights = Tensor::from_slice(case.weights, (rows, cols), &device)?;
    let coded = QTensor::quantize(&weights, dtype)?;
    let encode_s = start.elapsed().as_secs_f64();
    drop(weights);
    let bits_stored = (coded.storage_size_in_bytes() * 8) as f64 / case.shape.entries() as f64;
    let matmul = QMatMul::from_qtensor(coded)?;
    if !matches!(matmul, QMatMul::QTensor(_)) {
        return Err("candle dequantized the weights; unset CANDLE_DEQUANTIZE_ALL and CANDLE_DEQUANTIZE_ALL_F16".into());
    }
    let input = Tensor::from_slice(case.x, (1, cols), &device)?;

    let mut output = None;
    let ns = median_ns(case.repeats, || {
        output = Some(black_box(matmul.forward(&input)?));
        Ok::<_, candle_core::Error>(())
    })?;
    let threads = process_threads();
    let y: Vec<f32> = output
        .ok_or("QMatMul::forward was never called")?
        .flatten_all()?
        .to_vec1()?;

    let backend = match (dtype, repack_level()) {
        (GgmlDType::Q4K, Some(level)) if cols % 256 == 0 && rows % 16 == 0 => {
            format!("repack/{level}")
        }
        _ => dot_backend().into(),
    };
    let activations = if backend.starts_with("repack") {
        "Q8K"
    } else {
        format_name(dtype_vec_dot(dtype))
    };
    Ok(Measurement {
        library: "candle",
        format,
        name: format_name(dtype).into(),
        entry: "QMatMul::forward",
        activations,
        backend,
        bits_stored,
        ns_per_product: ns,
        sqnr_db: output_sqnr_db(case.exact, &y),
        encode_mweights_per_s: Some(case.shape.entries() as f64 / encode_s / 1e6),
        process_threads: threads,
    })
}

/// Returns the activation type that `k_quants` pairs with `dtype`.
fn dtype_vec_dot(dtype: GgmlDType) -> GgmlDType {
    match dtype {
        GgmlDType::Q4_0 => <BlockQ4_0 as GgmlType>::VecDotType::DTYPE,
        GgmlDType::Q4K => <BlockQ4K as GgmlType>::VecDotType::DTYPE,
        other => other,
    }
}

/// Returns the ggml name of the formats this program measures.
fn format_name(dtype: GgmlDType) -> &'static str {
    match dtype {
        GgmlDType::Q4_0 => "Q4_0",
        GgmlDType::Q4K => "Q4_K",
        GgmlDType::Q8_0 => "Q8_0",
        GgmlDType::Q8K => "Q8K",
        _ => "other",
    }
}

/// Returns the dot-product path of `k_quants` on this machine: `avx2` where
/// the CPU has AVX2 and FMA, the way candle 0.11.1 decides it.
fn dot_backend() -> &'static str {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        return "avx2";
    }
    #[cfg(target_arch = "aarch64")]
    return "neon";
    #[allow(unreachable_code)]
    "scalar"
}

/// Returns the kernel level of candle's x86 repacked Q4_K path, as the
/// private `repack_x86::level` of candle 0.11.1 chooses it (including its
/// `MISTRALRS_FORCE_AVX2` and `MISTRALRS_FORCE_AVXVNNI` overrides), or
/// `None` where that path does not run.
pub fn repack_level() -> Option<&'static str> {
    #[cfg(target_arch = "x86_64")]
    {
        let forced = |name: &str| std::env::var(name).as_deref() == Ok("1");
        let force_avx2 = forced("MISTRALRS_FORCE_AVX2");
        let force_vnni = forced("MISTRALRS_FORCE_AVXVNNI");
        if !force_avx2
            && !force_vnni
            && is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512vnni")
        {
            return Some("avx512vnni");
        }
        if !force_avx2
            && (force_vnni || is_x86_feature_detected!("avxvnni"))
            && is_x86_feature_detected!("avx2")
        {
            return Some("avxvnni");
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            return Some("avx2");
        }
    }
    None
}
