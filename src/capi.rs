//! The C interface (feature `capi`): quantized products over matrices that
//! a C program keeps as byte buffers, for example in flash.
//!
//! The interface keeps no state. Each call validates the matrix buffer it
//! receives as [`crate::quant::QuantizedMatrixRef::from_bytes`] does, which
//! costs one pass over the per-vector norms, and then runs the product.
//! Every function returns a [`NestlatStatus`]; `nestlat_status_message`
//! names it. `include/nestlat.h` is generated from this file by cbindgen.
//!
//! No call panics: the library's functions return errors for every input,
//! pointers and lengths are checked before any slice is formed, and under
//! `std` each call also runs inside `catch_unwind`, so a panic would come
//! back as [`NestlatStatus::Internal`].

use core::ffi::c_char;

use crate::Error;
use crate::product::{matvec, matvec_coded, scratch_len};
use crate::quant::QuantizedMatrixRef;

/// The result of a call: 0 on success, a negative code on failure.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NestlatStatus {
    /// The call succeeded.
    Ok = 0,
    /// A pointer is null while its length is not zero.
    NullPointer = -1,
    /// A `float` pointer is not aligned to 4 bytes.
    MisalignedPointer = -2,
    /// The matrix buffer is not a quantized matrix: wrong magic number,
    /// version, preset or header, or a length that does not match it.
    InvalidMatrix = -3,
    /// The data are invalid: a stored norm, mean or code word of a matrix,
    /// or NaN or infinity in an `f32` vector.
    InvalidData = -4,
    /// The shapes or settings of the operands do not fit together.
    ShapeMismatch = -5,
    /// The scratch buffer is shorter than `nestlat_scratch_len` returns.
    ScratchTooSmall = -6,
    /// A vector is too large for `f32` arithmetic.
    Overflow = -7,
    /// An internal error; please report it.
    Internal = -8,
}

/// The shape and settings of a quantized matrix.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NestlatMatrixInfo {
    /// Entries per vector (the columns of a weight matrix `W` in `y = W x`).
    pub vector_len: u32,
    /// Number of vectors (the rows of `W`).
    pub vector_count: u32,
    /// Padded vector length, `8 ceil(vector_len / 8)`.
    pub coded_len: u32,
    /// Preset id.
    pub preset_id: u16,
    /// 1 when the vectors had their means removed, else 0.
    pub removes_mean: u8,
}

/// Checks a quantized matrix and describes it.
///
/// # Safety
///
/// `bytes` must point to `len` readable bytes (any alignment), or be null
/// with `len` 0. `info` must be null or point to writable memory for one
/// `NestlatMatrixInfo`; it is written only on success.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nestlat_matrix_open(
    bytes: *const u8,
    len: usize,
    info: *mut NestlatMatrixInfo,
) -> NestlatStatus {
    guard(|| {
        // SAFETY: the caller guarantees `len` readable bytes at `bytes`.
        let buffer = unsafe { byte_slice(bytes, len) }?;
        let view = QuantizedMatrixRef::from_bytes(buffer).map_err(status_of)?;
        if info.is_null() {
            return Ok(());
        }
        let described = NestlatMatrixInfo {
            // The format stores both sizes as u32; the padded length is at
            // most 7 more than a u32 length and saturates in that case.
            vector_len: view.vector_len() as u32,
            vector_count: view.vector_count() as u32,
            coded_len: u32::try_from(view.coded_len()).unwrap_or(u32::MAX),
            preset_id: view.preset().id(),
            removes_mean: u8::from(view.removes_mean()),
        };
        // SAFETY: `info` is non-null and the caller guarantees it is writable.
        unsafe { info.write_unaligned(described) };
        Ok(())
    })
}

/// Returns the scratch length, in `float` values, that a product needs for
/// `right_count` right-hand vectors and a matrix of padded length
/// `coded_len`: `(coded_len + 1) * right_count`, saturated at `SIZE_MAX`.
#[unsafe(no_mangle)]
pub extern "C" fn nestlat_scratch_len(coded_len: u32, right_count: usize) -> usize {
    scratch_len(coded_len as usize, right_count)
}

/// Computes `y = W x` for a quantized `W` and `x` in `float`.
///
/// `x` has `vector_len` values, `y` has `vector_count` values, and
/// `scratch` at least `nestlat_scratch_len(coded_len, 1)` values.
///
/// # Safety
///
/// `w` must point to `w_len` readable bytes (any alignment). `x`, `scratch`
/// and `y` must point to that many `float` values, aligned to 4 bytes,
/// readable for `x` and writable for `scratch` and `y`. `y` and `scratch`
/// must not overlap each other or the inputs. Any pointer may be null when
/// its length is 0.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nestlat_matvec(
    w: *const u8,
    w_len: usize,
    x: *const f32,
    x_len: usize,
    scratch: *mut f32,
    scratch_len: usize,
    y: *mut f32,
    y_len: usize,
) -> NestlatStatus {
    guard(|| {
        // SAFETY: the caller guarantees each pointer and length, and the
        // helpers check null pointers and alignment first.
        let (w, x, scratch, y) = unsafe {
            (
                byte_slice(w, w_len)?,
                float_slice(x, x_len)?,
                float_slice_mut(scratch, scratch_len)?,
                float_slice_mut(y, y_len)?,
            )
        };
        let w = QuantizedMatrixRef::from_bytes(w).map_err(status_of)?;
        matvec(&w, x, scratch, y).map_err(status_of)
    })
}

/// Computes `y = W x` for a quantized `W` and vector `x_index` of the
/// quantized matrix `x`, which must share `W`'s vector length, rotation
/// seed and mean removal.
///
/// `y` has `vector_count` values of `W`, and `scratch` at least
/// `nestlat_scratch_len(coded_len, 1)` values.
///
/// # Safety
///
/// As `nestlat_matvec`, with `x` pointing to `x_len` readable bytes of a
/// quantized matrix.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nestlat_matvec_coded(
    w: *const u8,
    w_len: usize,
    x: *const u8,
    x_len: usize,
    x_index: usize,
    scratch: *mut f32,
    scratch_len: usize,
    y: *mut f32,
    y_len: usize,
) -> NestlatStatus {
    guard(|| {
        // SAFETY: the caller guarantees each pointer and length, and the
        // helpers check null pointers and alignment first.
        let (w, x, scratch, y) = unsafe {
            (
                byte_slice(w, w_len)?,
                byte_slice(x, x_len)?,
                float_slice_mut(scratch, scratch_len)?,
                float_slice_mut(y, y_len)?,
            )
        };
        let w = QuantizedMatrixRef::from_bytes(w).map_err(status_of)?;
        let x = QuantizedMatrixRef::from_bytes(x).map_err(status_of)?;
        matvec_coded(&w, &x, x_index, scratch, y).map_err(status_of)
    })
}

/// Returns a static, NUL-terminated English message for a status code.
#[unsafe(no_mangle)]
pub extern "C" fn nestlat_status_message(status: i32) -> *const c_char {
    let message: &'static [u8] = match status {
        0 => b"success\0",
        -1 => b"a pointer is null while its length is not zero\0",
        -2 => b"a float pointer is not aligned to 4 bytes\0",
        -3 => b"the buffer is not a valid quantized matrix of this version\0",
        -4 => b"a stored norm, mean or code word, or an input value, is invalid\0",
        -5 => b"the operands' shapes or settings do not fit together\0",
        -6 => b"the scratch buffer is too short; see nestlat_scratch_len\0",
        -7 => b"a vector is too large for f32 arithmetic\0",
        -8 => b"internal error in nestlat; please report it\0",
        _ => b"unknown status code\0",
    };
    message.as_ptr().cast()
}

/// Halts the core: the panic handler of a `no_std` static library for C
/// firmware (feature `capi-panic-handler`). No function of this interface
/// panics, so it only satisfies the linker.
#[cfg(all(feature = "capi-panic-handler", not(feature = "std"), not(test)))]
#[panic_handler]
fn halt(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}

/// Maps a library error to a status code.
fn status_of(error: Error) -> NestlatStatus {
    match error {
        Error::NonFinite { .. }
        | Error::NonFiniteEntry { .. }
        | Error::InvalidStoredNorm { .. }
        | Error::InvalidStoredMean { .. }
        | Error::InvalidCodeWord { .. }
        | Error::InvalidDigit { .. }
        | Error::InvalidScaleId { .. } => NestlatStatus::InvalidData,
        Error::LengthMismatch { .. }
        | Error::RotationMismatch
        | Error::MeanRemovalMismatch
        | Error::KernelMismatch { .. }
        | Error::ActivationsMismatch { .. }
        | Error::InvalidRowRange { .. }
        | Error::InvalidVectorIndex { .. } => NestlatStatus::ShapeMismatch,
        Error::ScratchTooSmall { .. } => NestlatStatus::ScratchTooSmall,
        Error::NormOverflow { .. } | Error::ShapeTooLarge { .. } => NestlatStatus::Overflow,
        Error::BufferTooSmall { .. }
        | Error::InvalidMagic { .. }
        | Error::UnsupportedVersion { .. }
        | Error::UnknownPreset { .. }
        | Error::InvalidHeader { .. } => NestlatStatus::InvalidMatrix,
        _ => NestlatStatus::Internal,
    }
}

/// Runs one call and turns its result, or a panic under `std`, into a
/// status.
fn guard(call: impl FnOnce() -> Result<(), NestlatStatus>) -> NestlatStatus {
    #[cfg(feature = "std")]
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(call))
        .unwrap_or(Err(NestlatStatus::Internal));
    #[cfg(not(feature = "std"))]
    let result = call();

    match result {
        Ok(()) => NestlatStatus::Ok,
        Err(status) => status,
    }
}

/// Forms a byte slice, checking for a null pointer.
///
/// # Safety
///
/// A non-null `pointer` must point to `len` readable bytes that stay valid
/// and unchanged for `'a`.
unsafe fn byte_slice<'a>(pointer: *const u8, len: usize) -> Result<&'a [u8], NestlatStatus> {
    if len == 0 {
        return Ok(&[]);
    }
    if pointer.is_null() {
        return Err(NestlatStatus::NullPointer);
    }
    // SAFETY: non-null, and the caller guarantees `len` readable bytes.
    Ok(unsafe { core::slice::from_raw_parts(pointer, len) })
}

/// Forms a `float` slice, checking for a null or misaligned pointer.
///
/// # Safety
///
/// As [`byte_slice`], for `len` values.
unsafe fn float_slice<'a>(pointer: *const f32, len: usize) -> Result<&'a [f32], NestlatStatus> {
    if len == 0 {
        return Ok(&[]);
    }
    check_float_pointer(pointer)?;
    // SAFETY: non-null and aligned, and the caller guarantees `len` values.
    Ok(unsafe { core::slice::from_raw_parts(pointer, len) })
}

/// Forms a mutable `float` slice, checking for a null or misaligned pointer.
///
/// # Safety
///
/// A non-null `pointer` must point to `len` writable values that nothing
/// else reads or writes during `'a`.
unsafe fn float_slice_mut<'a>(
    pointer: *mut f32,
    len: usize,
) -> Result<&'a mut [f32], NestlatStatus> {
    if len == 0 {
        return Ok(&mut []);
    }
    check_float_pointer(pointer)?;
    // SAFETY: non-null and aligned, and the caller guarantees `len`
    // exclusively writable values.
    Ok(unsafe { core::slice::from_raw_parts_mut(pointer, len) })
}

fn check_float_pointer(pointer: *const f32) -> Result<(), NestlatStatus> {
    if pointer.is_null() {
        Err(NestlatStatus::NullPointer)
    } else if !pointer.is_aligned() {
        Err(NestlatStatus::MisalignedPointer)
    } else {
        Ok(())
    }
}
