//! Feeds arbitrary bytes to `Container::parse`. A file that parses is read
//! the way a firmware would: every tensor, `get` by name, the matrix view
//! of each quantized tensor and one `W x` product with it. None of this may
//! panic, and `matrix()` must accept every payload that the parse accepted.

#![no_main]

use libfuzzer_sys::fuzz_target;
use nestlat::container::Container;
use nestlat::product::{matvec, scratch_len};

/// Maximum vector length that the target multiplies. A valid file can
/// describe a matrix with no vectors and a vector length of 2^32 - 1, and an
/// `x` of that length (16 GiB) would exceed libFuzzer's memory limit without
/// showing a bug.
const MAX_VECTOR_LEN: usize = 1 << 16;

fuzz_target!(|data: &[u8]| {
    let Ok(container) = Container::parse(data) else {
        return;
    };

    let mut seen = 0;
    for entry in container.tensors() {
        seen += 1;
        let found = container
            .get(entry.name())
            .expect("get() does not find a name that tensors() returned");
        assert_eq!(found.payload(), entry.payload());

        let Some(view) = entry.matrix() else {
            let value_bytes = entry
                .kind()
                .value_bytes()
                .expect("raw kind without value size");
            let values: u64 = entry.shape().iter().product();
            assert_eq!(values * value_bytes as u64, entry.payload().len() as u64);
            continue;
        };
        let view = view.expect("matrix() rejects a payload that the parse accepted");
        if view.vector_len() > MAX_VECTOR_LEN {
            continue;
        }
        let x = vec![0.5f32; view.vector_len()];
        let mut scratch = vec![0.0f32; scratch_len(view.coded_len(), 1)];
        let mut y = vec![0.0f32; view.vector_count()];
        // A code word out of range is reported as an error, which is fine.
        let _ = matvec(&view, &x, &mut scratch, &mut y);
    }
    assert_eq!(seen, container.len());
});
