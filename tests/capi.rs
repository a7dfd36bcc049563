//! The C interface: status codes through the `extern "C"` functions, and a
//! C program linked against the static library that must reproduce the
//! Rust outputs bit for bit. Needs `--features capi,std`.
#![cfg(all(feature = "capi", feature = "std"))]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use nestlat::capi::{
    NestlatMatrixInfo, NestlatStatus, nestlat_matrix_open, nestlat_matvec, nestlat_matvec_coded,
    nestlat_scratch_len, nestlat_status_message,
};
use nestlat::product::{matvec, matvec_coded, scratch_len};
use nestlat::quant::{Preset, QuantizedMatrix, QuantizerConfig, VectorSet};

const ROWS: usize = 16;
const COLS: usize = 384;
const TOKENS: usize = 4;
const PRESETS: [&str; 3] = ["e8-4", "e8b-2", "lloyd-4"];

fn read_f32(name: &str) -> Vec<f32> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path)
        .unwrap_or_else(|error| panic!("reading {path}: {error}"))
        .chunks_exact(4)
        .map(|chunk| f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]))
        .collect()
}

/// Returns the weight slice and activation rows shared with the C program:
/// 16 rows and 4 input rows of the MiniLM query layer.
fn real_slices() -> (Vec<f32>, Vec<f32>) {
    let weights = read_f32("minilm_l0_attention_self_query.f32");
    let inputs = read_f32("minilm_l0_attention_self_query_input.f32");
    (
        weights[..ROWS * COLS].to_vec(),
        inputs[..TOKENS * COLS].to_vec(),
    )
}

fn quantize(values: &[f32], rows: usize, preset: &str) -> QuantizedMatrix {
    let config = QuantizerConfig::new(Preset::by_name(preset).unwrap());
    QuantizedMatrix::quantize(&VectorSet::rows(values, rows, COLS).unwrap(), &config).unwrap()
}

#[test]
fn open_describes_matrix() {
    let (weights, _) = real_slices();
    let matrix = quantize(&weights, ROWS, "e8-4");
    let bytes = matrix.as_bytes();
    let mut info = NestlatMatrixInfo::default();
    // SAFETY: the buffer and the info struct are valid for the call.
    let status = unsafe { nestlat_matrix_open(bytes.as_ptr(), bytes.len(), &mut info) };
    assert_eq!(status, NestlatStatus::Ok);
    assert_eq!(info.vector_len, COLS as u32);
    assert_eq!(info.vector_count, ROWS as u32);
    assert_eq!(info.coded_len, COLS as u32);
    assert_eq!(info.preset_id, 1);
    assert_eq!(info.removes_mean, 1);
    assert_eq!(nestlat_scratch_len(info.coded_len, 1), COLS + 1);
}

#[test]
fn bad_buffers_give_status_codes() {
    let (weights, inputs) = real_slices();
    let matrix = quantize(&weights, ROWS, "e8-4");
    let bytes = matrix.as_bytes();
    let mut scratch = vec![0.0f32; COLS + 1];
    let mut y = vec![0.0f32; ROWS];
    let x = &inputs[..COLS];

    let (scratch_ptr, y_ptr) = (scratch.as_mut_ptr(), y.as_mut_ptr());
    // SAFETY: every pointer is valid for its length, except the null and
    // misaligned ones, which the functions must reject before use.
    unsafe {
        let null = nestlat_matrix_open(core::ptr::null(), 4, core::ptr::null_mut());
        assert_eq!(null, NestlatStatus::NullPointer);
        let truncated = nestlat_matrix_open(bytes.as_ptr(), bytes.len() - 1, core::ptr::null_mut());
        assert_eq!(truncated, NestlatStatus::InvalidMatrix);
        let garbage = [0u8; 64];
        let wrong = nestlat_matrix_open(garbage.as_ptr(), garbage.len(), core::ptr::null_mut());
        assert_eq!(wrong, NestlatStatus::InvalidMatrix);

        let call = |x_ptr: *const f32, x_len: usize, scratch_len: usize, y_len: usize| {
            nestlat_matvec(
                bytes.as_ptr(),
                bytes.len(),
                x_ptr,
                x_len,
                scratch_ptr,
                scratch_len,
                y_ptr,
                y_len,
            )
        };
        assert_eq!(call(x.as_ptr(), COLS, COLS + 1, ROWS), NestlatStatus::Ok);
        assert_eq!(
            call(x.as_ptr(), COLS, 2, ROWS),
            NestlatStatus::ScratchTooSmall
        );
        assert_eq!(
            call(x.as_ptr(), COLS - 1, COLS + 1, ROWS),
            NestlatStatus::ShapeMismatch
        );
        assert_eq!(
            call(x.as_ptr(), COLS, COLS + 1, ROWS - 1),
            NestlatStatus::ShapeMismatch
        );
        assert_eq!(
            call(core::ptr::null(), COLS, COLS + 1, ROWS),
            NestlatStatus::NullPointer
        );
        let misaligned = x.as_ptr().cast::<u8>().add(1).cast::<f32>();
        assert_eq!(
            call(misaligned, COLS, COLS + 1, ROWS),
            NestlatStatus::MisalignedPointer
        );

        let mut bad_x = x.to_vec();
        bad_x[5] = f32::NAN;
        assert_eq!(
            call(bad_x.as_ptr(), COLS, COLS + 1, ROWS),
            NestlatStatus::InvalidData
        );

        let other = quantize(&inputs, TOKENS, "e8-4");
        let other_bytes = other.as_bytes();
        let coded = nestlat_matvec_coded(
            bytes.as_ptr(),
            bytes.len(),
            other_bytes.as_ptr(),
            other_bytes.len(),
            TOKENS,
            scratch_ptr,
            COLS + 1,
            y_ptr,
            ROWS,
        );
        assert_eq!(coded, NestlatStatus::ShapeMismatch);
    }
}

#[test]
fn status_messages_are_text() {
    for status in [0, -1, -2, -3, -4, -5, -6, -7, -8, 42] {
        // SAFETY: the function returns a static NUL-terminated string.
        let message = unsafe { std::ffi::CStr::from_ptr(nestlat_status_message(status)) };
        assert!(!message.to_bytes().is_empty(), "status {status}");
    }
}

/// Writes the C header `vectors.h`: the inputs, and per preset the coded
/// weights and activations (at odd addresses) with the Rust outputs.
fn write_vectors(path: &Path) {
    let (weights, inputs) = real_slices();
    let mut header = String::new();
    writeln!(header, "/* Written by tests/capi.rs. */").unwrap();
    writeln!(
        header,
        "#define ROWS {ROWS}\n#define COLS {COLS}\n#define TOKENS {TOKENS}"
    )
    .unwrap();
    writeln!(
        header,
        "static const uint32_t INPUTS[] = {{{}}};",
        bits_list(&inputs)
    )
    .unwrap();
    writeln!(
        header,
        "struct test_case {{ const char *preset; const uint8_t *weights; size_t weights_len; \
         const uint8_t *activations; size_t activations_len; const uint32_t *dense; \
         const uint32_t *coded; }};"
    )
    .unwrap();

    let mut cases = Vec::new();
    for (index, preset) in PRESETS.iter().enumerate() {
        let w = quantize(&weights, ROWS, preset);
        let x = quantize(&inputs, TOKENS, preset);
        let (w_view, x_view) = (w.view(), x.view());
        let mut scratch = vec![0.0f32; scratch_len(w_view.coded_len(), 1)];
        let (mut dense, mut coded) = (Vec::new(), Vec::new());
        for token in 0..TOKENS {
            let mut y = vec![0.0f32; ROWS];
            matvec(
                &w_view,
                &inputs[token * COLS..(token + 1) * COLS],
                &mut scratch,
                &mut y,
            )
            .unwrap();
            dense.extend_from_slice(&y);
            matvec_coded(&w_view, &x_view, token, &mut scratch, &mut y).unwrap();
            coded.extend_from_slice(&y);
        }

        // One leading byte after a 4-byte boundary puts the codes at an odd
        // address.
        for (name, bytes) in [("WEIGHTS", w.as_bytes()), ("ACTIVATIONS", x.as_bytes())] {
            let list: Vec<String> = bytes.iter().map(u8::to_string).collect();
            writeln!(
                header,
                "static const uint8_t {name}_{index}[] __attribute__((aligned(4))) = {{0, {}}};",
                list.join(",")
            )
            .unwrap();
        }
        writeln!(
            header,
            "static const uint32_t DENSE_{index}[] = {{{}}};",
            bits_list(&dense)
        )
        .unwrap();
        writeln!(
            header,
            "static const uint32_t CODED_{index}[] = {{{}}};",
            bits_list(&coded)
        )
        .unwrap();
        cases.push(format!(
            "{{\"{preset}\", WEIGHTS_{index} + 1, {}, ACTIVATIONS_{index} + 1, {}, DENSE_{index}, CODED_{index}}}",
            w.as_bytes().len(),
            x.as_bytes().len()
        ));
    }
    writeln!(
        header,
        "static const struct test_case CASES[] = {{{}}};",
        cases.join(",\n")
    )
    .unwrap();
    std::fs::write(path, header).unwrap();
}

fn bits_list(values: &[f32]) -> String {
    let list: Vec<String> = values
        .iter()
        .map(|value| format!("{:#010x}u", value.to_bits()))
        .collect();
    list.join(",")
}

/// Returns a fresh temporary folder with `vectors.h` written into it.
fn vectors_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nestlat-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    write_vectors(&dir.join("vectors.h"));
    dir
}

fn run_checked(command: &mut Command, description: &str) -> String {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("{description} could not start: {error}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{description} failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
#[ignore = "needs the Cortex-M static library; .ci/run builds it and sets NESTLAT_STATICLIB_CORTEX_M"]
fn cortex_m_program_matches_rust() {
    let library = std::env::var("NESTLAT_STATICLIB_CORTEX_M").unwrap_or_else(|_| {
        panic!(
            "NESTLAT_STATICLIB_CORTEX_M is not set; build the library for thumbv7em-none-eabihf \
             with `cargo rustc --lib --release --features capi-panic-handler --crate-type \
             staticlib --target thumbv7em-none-eabihf -Zbuild-std=core` (see .ci/run)"
        )
    });
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = vectors_dir("capi-cortex-m");
    let program = dir.join("capi_test.elf");

    run_checked(
        Command::new("arm-none-eabi-gcc")
            .args([
                "-mcpu=cortex-m4",
                "-mthumb",
                "-mfloat-abi=hard",
                "-mfpu=fpv4-sp-d16",
            ])
            .args([
                "-std=c11",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-O2",
                "--specs=rdimon.specs",
            ])
            .arg("-T")
            .arg(root.join("tests/c/cortex-m/mps2-an386.ld"))
            .arg("-I")
            .arg(root.join("include"))
            .arg("-I")
            .arg(&dir)
            .arg(root.join("tests/c/capi_test.c"))
            .arg(root.join("tests/c/cortex-m/startup.c"))
            .arg(&library)
            .args(["-lm", "-o"])
            .arg(&program),
        "compiling the C test for Cortex-M",
    );
    let stdout = run_checked(
        Command::new("timeout")
            .args([
                "120",
                "qemu-system-arm",
                "-machine",
                "mps2-an386",
                "-cpu",
                "cortex-m4",
            ])
            .args([
                "-nographic",
                "-semihosting-config",
                "enable=on,target=native",
                "-kernel",
            ])
            .arg(&program),
        "the C test on qemu-system-arm",
    );
    assert!(
        stdout.contains(" passed, 0 failed"),
        "C test output: {stdout}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
#[ignore = "needs the static library; .ci/run builds it and sets NESTLAT_STATICLIB"]
fn c_program_matches_rust() {
    let library = std::env::var("NESTLAT_STATICLIB").unwrap_or_else(|_| {
        panic!(
            "NESTLAT_STATICLIB is not set; build the library with `cargo rustc --lib --release \
             --features capi,std --crate-type staticlib --target-dir target/capi` and set it to \
             target/capi/release/libnestlat.a"
        )
    });
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = vectors_dir("capi-host");
    let program = dir.join("capi_test");

    run_checked(
        Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".to_string()))
            .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-O2"])
            .arg("-I")
            .arg(root.join("include"))
            .arg("-I")
            .arg(&dir)
            .arg(root.join("tests/c/capi_test.c"))
            .arg(&library)
            .args(["-lpthread", "-ldl", "-lm", "-o"])
            .arg(&program),
        "compiling the C test",
    );
    let stdout = run_checked(&mut Command::new(&program), "the C test");
    assert!(
        stdout.contains(" passed, 0 failed"),
        "C test output: {stdout}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
