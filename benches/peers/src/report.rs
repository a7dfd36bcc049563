//! Measurements, the ratios between them, and their output as a table or as
//! JSON lines.

use std::io::{self, Write};

use serde::Serialize;

use crate::options::Shape;

/// Weight format, which selects the reference of each ratio.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Format {
    #[serde(rename = "f32")]
    F32,
    #[serde(rename = "Q4_0")]
    Q4_0,
    #[serde(rename = "Q4_K")]
    Q4K,
    #[serde(rename = "nestlat")]
    Nestlat,
}

/// One kernel timed on one shape.
#[derive(Clone, Debug)]
pub struct Measurement {
    pub library: &'static str,
    pub format: Format,
    /// Preset or format name as the table shows it.
    pub name: String,
    /// The function that was timed.
    pub entry: &'static str,
    /// Type of the activations inside the kernel, such as `Q8_0`, `i8` or
    /// `f32`.
    pub activations: &'static str,
    /// SIMD path that ran.
    pub backend: String,
    pub bits_stored: f64,
    pub ns_per_product: f64,
    pub sqnr_db: f64,
    /// Rate of building the quantized weights from `f32`, in millions of
    /// weights per second; `None` for `f32`.
    pub encode_mweights_per_s: Option<f64>,
    /// Threads of the process right after the timed products.
    pub process_threads: Option<usize>,
}

/// One output line: a measurement with its rates and ratios.
#[derive(Debug, Serialize)]
pub struct Row {
    /// Record kind, `measurement`, which distinguishes these lines from the
    /// `setup` line.
    pub record: &'static str,
    pub library: &'static str,
    pub format: Format,
    pub name: String,
    pub entry: &'static str,
    pub activations: &'static str,
    pub backend: String,
    pub rows: usize,
    pub cols: usize,
    pub threads: usize,
    pub process_threads: Option<usize>,
    pub bits_stored: f64,
    pub ns_per_product: f64,
    pub gweights_per_s: f64,
    /// Speed over the `f32` baseline (`f32_ns / ns`).
    pub ratio_vs_f32: f64,
    /// Speed over the faster of candle's two Q4_0 entry points.
    pub ratio_vs_q4_0: f64,
    /// Speed over the faster of candle's two Q4_K entry points.
    pub ratio_vs_q4_k: f64,
    /// Output SQNR in dB against `W x` computed in `f64`. JSON writes
    /// infinity as `null`.
    pub sqnr_db: f64,
    pub encode_mweights_per_s: Option<f64>,
}

/// Builds the rows of one shape.
///
/// # Errors
///
/// Returns a message when the measurements of `shape` lack a format that
/// the ratios need.
pub fn rows_of_shape(shape: Shape, measurements: &[Measurement]) -> Result<Vec<Row>, String> {
    let fastest_ns = |format: Format| {
        measurements
            .iter()
            .filter(|measurement| measurement.format == format)
            .map(|measurement| measurement.ns_per_product)
            .min_by(f64::total_cmp)
            .ok_or_else(|| {
                format!(
                    "shape {}x{} has no {format:?} measurement",
                    shape.rows, shape.cols
                )
            })
    };
    let f32_ns = fastest_ns(Format::F32)?;
    let q4_0_ns = fastest_ns(Format::Q4_0)?;
    let q4_k_ns = fastest_ns(Format::Q4K)?;

    let rows = measurements
        .iter()
        .map(|m| Row {
            record: "measurement",
            library: m.library,
            format: m.format,
            name: m.name.clone(),
            entry: m.entry,
            activations: m.activations,
            backend: m.backend.clone(),
            rows: shape.rows,
            cols: shape.cols,
            threads: 1,
            process_threads: m.process_threads,
            bits_stored: m.bits_stored,
            ns_per_product: m.ns_per_product,
            gweights_per_s: shape.entries() as f64 / m.ns_per_product,
            ratio_vs_f32: f32_ns / m.ns_per_product,
            ratio_vs_q4_0: q4_0_ns / m.ns_per_product,
            ratio_vs_q4_k: q4_k_ns / m.ns_per_product,
            sqnr_db: m.sqnr_db,
            encode_mweights_per_s: m.encode_mweights_per_s,
        })
        .collect();
    Ok(rows)
}

/// Writes the column titles of the table.
pub fn write_header(out: &mut impl Write) -> io::Result<()> {
    writeln!(
        out,
        "{:<12} {:<8} {:<18} {:<5} {:<22} {:>6} {:>12} {:>6} {:>6} {:>6} {:>7} {:>7} {:>8}",
        "shape",
        "format",
        "entry",
        "x as",
        "backend",
        "bits",
        "ns/product",
        "Gw/s",
        "SQNR",
        "vs f32",
        "vs Q4_0",
        "vs Q4_K",
        "enc Mw/s"
    )
}

/// Writes one row as a table line or as one JSON object.
pub fn write_row(out: &mut impl Write, row: &Row, json: bool) -> io::Result<()> {
    if json {
        let line = serde_json::to_string(row).map_err(io::Error::other)?;
        return writeln!(out, "{line}");
    }
    let encode = row
        .encode_mweights_per_s
        .map_or_else(|| "-".to_string(), |rate| format!("{rate:.1}"));
    writeln!(
        out,
        "{:<12} {:<8} {:<18} {:<5} {:<22} {:>6.3} {:>12.0} {:>6.2} {:>6.2} {:>6.2} {:>7.2} {:>7.2} {:>8}",
        format!("{}x{}", row.rows, row.cols),
        row.name,
        row.entry,
        row.activations,
        row.backend,
        row.bits_stored,
        row.ns_per_product,
        row.gweights_per_s,
        row.sqnr_db,
        row.ratio_vs_f32,
        row.ratio_vs_q4_0,
        row.ratio_vs_q4_k,
        encode
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measurement(format: Format, ns: f64) -> Measurement {
        Measurement {
            library: "test",
            format,
            name: format!("{format:?}"),
            entry: "entry",
            activations: "f32",
            backend: "scalar".into(),
            bits_stored: 4.5,
            ns_per_product: ns,
            sqnr_db: 20.0,
            encode_mweights_per_s: None,
            process_threads: Some(1),
        }
    }

    #[test]
    fn ratios_use_fastest_peer() {
        let shape = Shape { rows: 2, cols: 500 };
        let measurements = [
            measurement(Format::F32, 4000.0),
            measurement(Format::Q4_0, 2000.0),
            measurement(Format::Q4_0, 1000.0),
            measurement(Format::Q4K, 3000.0),
            measurement(Format::Nestlat, 500.0),
        ];
        let rows = rows_of_shape(shape, &measurements).unwrap();
        let ours = &rows[4];
        assert_eq!(ours.gweights_per_s, 2.0);
        assert_eq!(ours.ratio_vs_f32, 8.0);
        assert_eq!(ours.ratio_vs_q4_0, 2.0);
        assert_eq!(ours.ratio_vs_q4_k, 6.0);
        assert_eq!(rows[1].ratio_vs_q4_0, 0.5);
    }

    #[test]
    fn missing_peer_rejected() {
        let shape = Shape { rows: 2, cols: 256 };
        let error = rows_of_shape(shape, &[measurement(Format::F32, 1.0)]).unwrap_err();
        assert!(error.contains("Q4_0"), "{error}");
    }

    #[test]
    fn json_row_is_one_line() {
        let shape = Shape { rows: 1, cols: 256 };
        let mut only_f32 = measurement(Format::F32, 1.0);
        only_f32.sqnr_db = f64::INFINITY;
        let measurements = [
            only_f32,
            measurement(Format::Q4_0, 1.0),
            measurement(Format::Q4K, 1.0),
        ];
        let rows = rows_of_shape(shape, &measurements).unwrap();
        let mut out = Vec::new();
        write_row(&mut out, &rows[0], true).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 1);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["format"], "f32");
        assert!(value["sqnr_db"].is_null());
        assert_eq!(value["encode_mweights_per_s"], serde_json::Value::Null);
    }
}
