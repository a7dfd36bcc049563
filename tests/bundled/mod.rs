//! Reading the real data bundled in `tests/data`.

/// Reads `tests/data/FILE`, little-endian `f32` values.
pub fn load_f32(file: &str) -> Vec<f32> {
    let path = format!("{}/tests/data/{file}", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|error| panic!("reading {path}: {error}"));
    bytes
        .chunks_exact(4)
        .map(|chunk| f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]))
        .collect()
}
