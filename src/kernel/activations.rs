//! Activation vectors prepared once per product, in the layout of a kernel.

use super::KernelPath;
use super::e8::{LANES, TILE_VALUES};
use super::int8::{BLOCK, quantize_block, weight_step};
use crate::Error;
use crate::product::dense::rotate_vector;
use crate::product::{check_coded_pair, check_rotation};
use crate::quant::{GROUP_LEN, QuantizedMatrixRef, Rotation, VectorSet};

/// The buffer lengths that [`Activations::prepare`] needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BufferLengths {
    /// Values of the `f32` buffer.
    pub floats: usize,
    /// Values of the `i8` buffer (0 unless the kernel takes `i8` input).
    pub bytes: usize,
}

impl BufferLengths {
    /// Returns the lengths for `batch` activation vectors against `w`.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeTooLarge`] when a length overflows `usize`.
    pub fn new(w: &QuantizedMatrixRef<'_>, batch: usize) -> Result<Self, Error> {
        let too_large = Error::ShapeTooLarge {
            vector_len: w.vector_len(),
            vector_count: batch,
        };
        let per_vector = Shape::of(w).per_vector();
        // Each vector also has its mean and its power-of-two exponent.
        let floats = per_vector
            .floats
            .checked_add(2)
            .and_then(|values| values.checked_mul(batch))
            .and_then(|values| values.checked_add(w.coded_len()))
            .ok_or(too_large)?;
        let bytes = per_vector.bytes.checked_mul(batch).ok_or(too_large)?;
        Ok(Self { floats, bytes })
    }
}

/// Sizes of the prepared form of one activation vector.
#[derive(Clone, Copy)]
struct Shape {
    path: KernelPath,
    coded_len: usize,
}

impl Shape {
    fn of(w: &QuantizedMatrixRef<'_>) -> Self {
        Self {
            path: KernelPath::of(w),
            coded_len: w.coded_len(),
        }
    }

    /// Values per vector: block scales and `i8` values for `Nibble`, lane
    /// tiles for `E8Lanes`, the rotated vector for `Groups`.
    fn per_vector(self) -> BufferLengths {
        match self.path {
            KernelPath::Nibble | KernelPath::Ball => {
                let blocks = self.coded_len.div_ceil(BLOCK);
                BufferLengths {
                    floats: blocks,
                    bytes: blocks * BLOCK,
                }
            }
            KernelPath::E8Lanes => BufferLengths {
                floats: self.coded_len.div_ceil(GROUP_LEN * LANES) * TILE_VALUES,
                bytes: 0,
            },
            KernelPath::Groups => BufferLengths {
                floats: self.coded_len,
                bytes: 0,
            },
        }
    }
}

/// A batch of activation vectors, centered and rotated for one coded matrix
/// and laid out for its kernel, in caller-provided buffers.
#[derive(Debug)]
pub struct Activations<'a> {
    path: KernelPath,
    batch: usize,
    vector_len: usize,
    rotation: Rotation,
    removes_mean: bool,
    means: &'a [f32],
    exponents: &'a [f32],
    values: &'a [f32],
    bytes: &'a [i8],
}

impl<'a> Activations<'a> {
    /// Prepares the vectors of `x` for products with `w`. `floats` and
    /// `bytes` need at least the lengths of [`BufferLengths::new`].
    ///
    /// # Errors
    ///
    /// [`Error::LengthMismatch`] unless the vectors have the length of `w`,
    /// [`Error::ScratchTooSmall`] for a short `floats` buffer,
    /// [`Error::BufferTooSmall`] for a short `bytes` buffer,
    /// [`Error::NonFiniteEntry`] for NaN or infinity in `x`, and
    /// [`Error::NormOverflow`] for a vector whose centering or rotation
    /// overflows `f32`.
    pub fn prepare(
        w: &QuantizedMatrixRef<'_>,
        x: &VectorSet<'_>,
        floats: &'a mut [f32],
        bytes: &'a mut [i8],
    ) -> Result<Self, Error> {
        check_rotation(w, x.vector_len(), w.rotation())?;
        Self::fill(w, x.vector_count(), floats, bytes, |j, vector| {
            rotate_vector(w, x, j, vector)
        })
    }

    /// Prepares the coded vectors of `x` for products with `w`, for `W x`
    /// with both operands coded: each vector is decoded once, scaled by its
    /// norm and gain, and its stored mean enters the mean term.
    ///
    /// # Errors
    ///
    /// As [`Self::prepare`], [`Error::RotationMismatch`] when the operands
    /// were rotated by different maps, [`Error::MeanRemovalMismatch`] when
    /// only one had its means removed, and [`Error::InvalidCodeWord`] for a
    /// corrupt code word of `x`.
    pub fn prepare_coded(
        w: &QuantizedMatrixRef<'_>,
        x: &QuantizedMatrixRef<'_>,
        floats: &'a mut [f32],
        bytes: &'a mut [i8],
    ) -> Result<Self, Error> {
        check_coded_pair(w, x)?;
        Self::fill(w, x.vector_count(), floats, bytes, |j, vector| {
            x.decode_unit(j, vector)?;
            let scale = x.group_scale(j)?;
            for value in vector.iter_mut() {
                *value *= scale;
            }
            x.vector_mean(j)
        })
    }

    /// Returns the number of activation vectors.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Returns the kernel these activations were laid out for.
    pub fn path(&self) -> KernelPath {
        self.path
    }

    /// Returns the prepared values: block scales, lane tiles or rotated
    /// vectors, by path.
    pub(crate) fn values(&self) -> &'a [f32] {
        self.values
    }

    /// Returns the `i8` activations of the `Nibble` path.
    pub(crate) fn bytes(&self) -> &'a [i8] {
        self.bytes
    }

    /// Returns the mean of each vector that the means of `W` multiply.
    pub(crate) fn means(&self) -> &'a [f32] {
        self.means
    }

    /// Returns the exponent `e` of each vector: the kernels see the
    /// vector times `2^-e`, and their sums must be multiplied by `2^e`.
    pub(crate) fn exponents(&self) -> &'a [f32] {
        self.exponents
    }

    /// Checks that these activations were prepared for `w`'s shape, rotation,
    /// mean setting and kernel.
    pub(crate) fn check_matrix(&self, w: &QuantizedMatrixRef<'_>) -> Result<(), Error> {
        let setting = if w.vector_len() != self.vector_len {
            Some("vector length")
        } else if *w.rotation() != self.rotation {
            Some("rotation")
        } else if w.removes_mean() != self.removes_mean {
            Some("mean-removal setting")
        } else {
            None
        };
        if let Some(setting) = setting {
            return Err(Error::ActivationsMismatch { setting });
        }
        if KernelPath::of(w) != self.path {
            return Err(Error::KernelMismatch {
                prepared: self.path.name(),
                needed: KernelPath::of(w).name(),
            });
        }
        Ok(())
    }

    /// Writes every vector, rotated by `rotate` into the padded length, in
    /// the layout of `w`'s kernel.
    fn fill(
        w: &QuantizedMatrixRef<'_>,
        batch: usize,
        floats: &'a mut [f32],
        bytes: &'a mut [i8],
        mut rotate: impl FnMut(usize, &mut [f32]) -> Result<f32, Error>,
    ) -> Result<Self, Error> {
        let shape = Shape::of(w);
        let lens = BufferLengths::new(w, batch)?;
        let floats = take(floats, lens.floats)
            .map_err(|(needed, actual)| Error::ScratchTooSmall { needed, actual })?;
        let bytes = take(bytes, lens.bytes)
            .map_err(|(needed, actual)| Error::BufferTooSmall { needed, actual })?;
        let per_vector = shape.per_vector();
        let step = weight_step(w);

        let (means, rest) = floats.split_at_mut(batch);
        let (exponents, rest) = rest.split_at_mut(batch);
        let (values, work) = rest.split_at_mut(per_vector.floats * batch);
        for j in 0..batch {
            let vector = &mut work[..shape.coded_len];
            means[j] = rotate(j, vector)?;
            exponents[j] = normalize(vector) as f32;
            let out = &mut values[j * per_vector.floats..(j + 1) * per_vector.floats];
            let out_bytes = &mut bytes[j * per_vector.bytes..(j + 1) * per_vector.bytes];
            lay_out(shape.path, step, vector, out, out_bytes);
        }

        Ok(Self {
            path: shape.path,
            batch,
            vector_len: w.vector_len(),
            rotation: *w.rotation(),
            removes_mean: w.removes_mean(),
            means,
            exponents,
            values,
            bytes,
        })
    }
}

/// Scales `vector` by a power of two so that its largest magnitude lies in
/// `[0.5, 1)`, and returns the exponent `e` of the factor `2^-e` (0 for a
/// zero vector). The scaling is exact except for entries that become
/// subnormal, below `2^-126` of the largest. The kernels' sums then stay
/// far from the `f32` range at both ends: they cannot overflow, and the
/// `i8` block scales of a subnormal vector do not underflow.
fn normalize(vector: &mut [f32]) -> i32 {
    let largest = vector
        .iter()
        .fold(0.0f32, |acc, value| acc.max(value.abs()));
    if largest == 0.0 {
        return 0;
    }
    let (_, exponent) = libm::frexpf(largest);
    for value in vector.iter_mut() {
        *value = libm::scalbnf(*value, -exponent);
    }
    exponent
}

/// Returns the first `needed` values of a caller buffer, or the needed and
/// actual lengths when it is shorter.
fn take<T>(buffer: &mut [T], needed: usize) -> Result<&mut [T], (usize, usize)> {
    let actual = buffer.len();
    buffer.get_mut(..needed).ok_or((needed, actual))
}

/// Writes one rotated vector in the layout of `path`. `step` is the value
/// of one unit of the `i8` weights of the `Nibble` and `Ball` paths.
fn lay_out(path: KernelPath, step: f32, vector: &[f32], out: &mut [f32], out_bytes: &mut [i8]) {
    match path {
        KernelPath::Nibble | KernelPath::Ball => {
            // The weight step joins each block scale, so that the kernel's
            // sums are unit-scale group products, as in the reference.
            for ((block, scale), quantized) in vector
                .chunks(BLOCK)
                .zip(out.iter_mut())
                .zip(out_bytes.chunks_exact_mut(BLOCK))
            {
                *scale = quantize_block(block, quantized) * step;
            }
        }
        KernelPath::E8Lanes => transpose_into_tiles(vector, out),
        KernelPath::Groups => out.copy_from_slice(vector),
    }
}

/// Writes groups `16t..16t + 16` of `vector` as tile `t`: coordinate `i` of
/// group `16t + l` at `128 t + 16 i + l`. Groups past the end read as zero.
fn transpose_into_tiles(vector: &[f32], tiles: &mut [f32]) {
    tiles.fill(0.0);
    for (group, values) in vector.chunks_exact(GROUP_LEN).enumerate() {
        let tile = &mut tiles[(group / LANES) * TILE_VALUES..];
        let lane = group % LANES;
        for (i, &value) in values.iter().enumerate() {
            tile[i * LANES + lane] = value;
        }
    }
}
