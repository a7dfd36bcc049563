//! Helpers shared by the integration tests.

/// Returns the 240 minimal vectors of E8 in doubled representation.
pub fn e8_minimal_vectors() -> Vec<[i32; 8]> {
    let mut vectors = Vec::new();
    for i in 0..8 {
        for j in i + 1..8 {
            for (si, sj) in [(2, 2), (2, -2), (-2, 2), (-2, -2)] {
                let mut v = [0; 8];
                v[i] = si;
                v[j] = sj;
                vectors.push(v);
            }
        }
    }
    for signs in 0u32..256 {
        if signs.count_ones() % 2 == 0 {
            vectors.push(core::array::from_fn(|i| {
                if signs >> i & 1 == 1 { -1 } else { 1 }
            }));
        }
    }
    vectors
}
