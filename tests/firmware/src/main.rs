//! Runs nestlat's products on a Cortex-M4F (QEMU mps2-an386) and compares
//! every output bit for bit with the host's.
//!
//! The build script quantizes 16 rows of a real weight matrix and 4 real
//! activation rows on the host and stores the code bytes at odd flash
//! addresses. The firmware opens them in place, runs `W x` with `x` in
//! `f32` and with `x` coded, and prints `N passed, M failed` through
//! semihosting. It uses no heap: the scratch and output buffers live on the
//! stack.
//!
//! The reference products must match the host bit for bit. The fast kernel
//! (`nestlat::kernel`) runs its portable backend here and AVX2 or SSE2 on
//! the host. Its integer parts agree exactly, but the float sums are added
//! in another order. Its outputs must therefore agree within `2^-16` times
//! the largest output magnitude.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use nestlat::kernel;
use nestlat::product::{matvec, matvec_coded};
use nestlat::quant::QuantizedMatrixRef;
use panic_semihosting as _;

/// Bytes stored one past a 4-byte boundary.
#[repr(C, align(4))]
struct OddBytes<const N: usize> {
    pad: u8,
    bytes: [u8; N],
}

/// One preset: the coded weights and activations, and the host's outputs
/// of `W x` (dense `x`, then coded `x`, then the fast kernel with dense `x`)
/// for every token, as `f32` bits.
struct Case {
    preset: &'static str,
    weights: &'static [u8],
    activations: &'static [u8],
    dense: &'static [u32],
    coded: &'static [u32],
    kernel: &'static [u32],
}

include!(concat!(env!("OUT_DIR"), "/cases.rs"));

/// Scratch of one product: the padded input vector plus one value, as
/// `nestlat::product::scratch_len(COLS, 1)` gives for a width of 384.
const SCRATCH_LEN: usize = COLS + 1;

/// Buffers of the fast kernel for a width of 384: at most the transposed
/// or rotated vector, the padded vector, one mean and one exponent
/// (`BufferLengths`).
const KERNEL_FLOATS: usize = 2 * COLS + 2;
const KERNEL_BYTES: usize = COLS;

#[entry]
fn main() -> ! {
    let mut tally = Tally::default();
    for case in &CASES {
        run_case(case, &mut tally);
    }

    hprintln!(
        "nestlat firmware: {} passed, {} failed",
        tally.passed,
        tally.failed
    );
    if tally.failed == 0 {
        debug::exit(debug::EXIT_SUCCESS);
    } else {
        debug::exit(debug::EXIT_FAILURE);
    }
    loop {}
}

#[derive(Default)]
struct Tally {
    passed: u32,
    failed: u32,
}

impl Tally {
    fn check(&mut self, ok: bool, preset: &str, operation: &str, token: usize) {
        if ok {
            self.passed += 1;
        } else {
            self.failed += 1;
            hprintln!("FAILED: {} {} token {}", preset, operation, token);
        }
    }
}

fn run_case(case: &Case, tally: &mut Tally) {
    let odd =
        case.weights.as_ptr() as usize % 2 == 1 && case.activations.as_ptr() as usize % 2 == 1;
    tally.check(odd, case.preset, "odd flash address", 0);
    let (Ok(weights), Ok(activations)) = (
        QuantizedMatrixRef::from_bytes(case.weights),
        QuantizedMatrixRef::from_bytes(case.activations),
    ) else {
        tally.check(false, case.preset, "opening the views", 0);
        return;
    };

    let mut scratch = [0.0f32; SCRATCH_LEN];
    let mut y = [0.0f32; ROWS];
    for token in 0..TOKENS {
        let mut x = [0.0f32; COLS];
        for (value, &bits) in x.iter_mut().zip(&INPUTS[token * COLS..(token + 1) * COLS]) {
            *value = f32::from_bits(bits);
        }
        let expected = &case.dense[token * ROWS..(token + 1) * ROWS];
        let ok = matvec(&weights, &x, &mut scratch, &mut y).is_ok() && same_bits(&y, expected);
        tally.check(ok, case.preset, "matvec", token);

        let expected = &case.coded[token * ROWS..(token + 1) * ROWS];
        let ok = matvec_coded(&weights, &activations, token, &mut scratch, &mut y).is_ok()
            && same_bits(&y, expected);
        tally.check(ok, case.preset, "matvec_coded", token);

        let mut floats = [0.0f32; KERNEL_FLOATS];
        let mut bytes = [0i8; KERNEL_BYTES];
        let expected = &case.kernel[token * ROWS..(token + 1) * ROWS];
        let ok = kernel::matvec(&weights, &x, &mut floats, &mut bytes, &mut y).is_ok()
            && close(&y, expected);
        tally.check(ok, case.preset, "kernel::matvec", token);
    }
}

/// Tells whether each value differs from its expected value by at most
/// `2^-16` times the largest expected magnitude.
fn close(values: &[f32], expected: &[u32]) -> bool {
    let largest = expected
        .iter()
        .fold(0.0f32, |acc, &bits| acc.max(f32::from_bits(bits).abs()));
    let tolerance = largest / 65536.0;
    values.len() == expected.len()
        && values
            .iter()
            .zip(expected)
            .all(|(value, &bits)| (value - f32::from_bits(bits)).abs() <= tolerance)
}

fn same_bits(values: &[f32], expected: &[u32]) -> bool {
    values.len() == expected.len()
        && values
            .iter()
            .zip(expected)
            .all(|(value, &bits)| value.to_bits() == bits)
}
