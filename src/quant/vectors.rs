//! A row-major `f32` matrix seen as a set of vectors: its rows or its columns.

use crate::Error;

/// The lines of a row-major matrix that form the vectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Orientation {
    /// Each row is a vector, as for a weight matrix `W` in `y = W x`.
    Rows,
    /// Each column is a vector, as for `A` and `B` in `A^T B`.
    Columns,
}

/// A borrowed row-major matrix and the orientation of its vectors.
#[derive(Clone, Copy, Debug)]
pub struct VectorSet<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    orientation: Orientation,
}

/// Formats the shape and orientation; the values are left out.
#[cfg(feature = "defmt")]
impl defmt::Format for VectorSet<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "VectorSet {{ rows: {=usize}, cols: {=usize}, orientation: {} }}",
            self.rows,
            self.cols,
            self.orientation
        );
    }
}

impl<'a> VectorSet<'a> {
    /// Views `data` as a `rows x cols` row-major matrix whose vectors are its
    /// rows.
    ///
    /// # Errors
    ///
    /// [`Error::LengthMismatch`] unless `data.len() == rows * cols`.
    pub fn rows(data: &'a [f32], rows: usize, cols: usize) -> Result<Self, Error> {
        Self::new(data, rows, cols, Orientation::Rows)
    }

    /// Views `data` as a `rows x cols` row-major matrix whose vectors are its
    /// columns.
    ///
    /// # Errors
    ///
    /// [`Error::LengthMismatch`] unless `data.len() == rows * cols`.
    pub fn columns(data: &'a [f32], rows: usize, cols: usize) -> Result<Self, Error> {
        Self::new(data, rows, cols, Orientation::Columns)
    }

    /// Views `data` as `rows x cols` with the given orientation.
    ///
    /// # Errors
    ///
    /// [`Error::LengthMismatch`] unless `data.len() == rows * cols`, and
    /// [`Error::ShapeTooLarge`] when `rows * cols` overflows.
    pub fn new(
        data: &'a [f32],
        rows: usize,
        cols: usize,
        orientation: Orientation,
    ) -> Result<Self, Error> {
        let expected = rows.checked_mul(cols).ok_or(Error::ShapeTooLarge {
            vector_len: cols,
            vector_count: rows,
        })?;
        if data.len() != expected {
            return Err(Error::LengthMismatch {
                expected,
                actual: data.len(),
            });
        }
        Ok(Self {
            data,
            rows,
            cols,
            orientation,
        })
    }

    /// Returns the number of entries of each vector.
    pub fn vector_len(&self) -> usize {
        match self.orientation {
            Orientation::Rows => self.cols,
            Orientation::Columns => self.rows,
        }
    }

    /// Returns the number of vectors.
    pub fn vector_count(&self) -> usize {
        match self.orientation {
            Orientation::Rows => self.rows,
            Orientation::Columns => self.cols,
        }
    }

    /// Returns the orientation.
    pub fn orientation(&self) -> Orientation {
        self.orientation
    }

    /// Copies vector `vector` into `out`, rejecting NaN and infinity.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidVectorIndex`] for a vector past the end,
    /// [`Error::LengthMismatch`] unless `out.len()` is the vector length, and
    /// [`Error::NonFiniteEntry`] naming the row and column of the first NaN
    /// or infinity.
    pub fn copy_vector(&self, vector: usize, out: &mut [f32]) -> Result<(), Error> {
        if vector >= self.vector_count() {
            return Err(Error::InvalidVectorIndex {
                index: vector,
                count: self.vector_count(),
            });
        }
        if out.len() != self.vector_len() {
            return Err(Error::LengthMismatch {
                expected: self.vector_len(),
                actual: out.len(),
            });
        }

        for (i, value) in out.iter_mut().enumerate() {
            let (row, column) = match self.orientation {
                Orientation::Rows => (vector, i),
                Orientation::Columns => (i, vector),
            };
            let entry = self.data[row * self.cols + column];
            if !entry.is_finite() {
                return Err(Error::NonFiniteEntry { row, column });
            }
            *value = entry;
        }
        Ok(())
    }
}
