//! Packing of block indices into code words, and of code words into byte
//! streams at the exact stored rate.
//!
//! # Code word
//!
//! A nested-lattice code with nesting ratio `q` (`2..=256`), `k` scales
//! (`1..=`[`MAX_SCALES`]) and block dimension `dim` describes one block by
//! `dim` digits `d_0, ..., d_{dim-1}`, each in `0..q`, and a scale id `s` in
//! `0..k`.
//! The block is stored as one code word, the mixed-radix number
//!
//! ```text
//! word = s + k * (d_0 + q * (d_1 + q * (d_2 + ... + q * d_{dim-1})))
//! ```
//!
//! The scale id is the least significant digit, in radix `k`. It is followed
//! by `d_0`, `d_1`, ..., `d_{dim-1}` in radix `q`, so `d_{dim-1}` is the most
//! significant digit. A code has `states = k * q^dim` code words, `0..states`,
//! and every code word takes `bits = ceil(log2(states))` bits, between 1 and
//! 64. Values in `states..2^bits` are never written, and [`BlockFormat::read`]
//! and [`BlockFormat::unpack`] reject them with [`Error::InvalidCodeWord`].
//! When `q` and `k` are powers of two, the formula is plain bit
//! concatenation: `s` fills the low `log2(k)` bits, `d_0` the next `log2(q)`
//! bits, and so on.
//!
//! Decoding inverts the formula: `s = word % k`, then `rest = word / k`, and
//! for `j` in `0..dim`, `d_j = rest % q` and `rest = rest / q`.
//!
//! # Stream
//!
//! A stream of `n` blocks is `ceil(n * bits / 8)` bytes with no header and no
//! padding between blocks. Block `i` occupies stream bits
//! `i * bits .. (i + 1) * bits`, and bit `j` of its code word (bit 0 is the
//! least significant) is stream bit `i * bits + j`. Stream bit `b` is bit
//! `b % 8` of byte `b / 8`, where bit 0 is the least significant bit of the
//! byte. In other words, the stream is one little-endian integer whose bits
//! `i * bits .. (i + 1) * bits` hold code word `i`. The bits after the last
//! block in the final byte are zero in streams from
//! `BlockFormat::pack_all` (feature `alloc`), and [`BlockFormat::write`] leaves them as they
//! were, so a reader should ignore them.
//!
//! To read block `i` on a target without this crate: let
//! `offset = i * bits`, load the bytes `offset / 8 ..= (offset + bits - 1) / 8`
//! (at most 9) as a little-endian integer of at least 72 bits, shift it right
//! by `offset % 8` and keep the low `bits` bits.
//!
//! # Example
//!
//! With `q = 3`, `k = 2` and `dim = 2`, the digits `[1, 2]` with scale id 1
//! give the code word `1 + 2 * (1 + 3 * 2) = 15`. The code has
//! `2 * 3^2 = 18` states, so each code word takes 5 bits.
//!
//! ```
//! use nestlat::pack::BlockFormat;
//!
//! let format = BlockFormat::new(3, 2, 2)?;
//! assert_eq!(format.bits(), 5);
//!
//! let word = format.pack(&[1, 2], 1)?;
//! assert_eq!(word, 15);
//!
//! let mut stream = [0u8; 2];
//! format.write(&mut stream, 1, word)?;
//! // Bits 5..10 of the stream hold 0b01111.
//! assert_eq!(stream, [0b1110_0000, 0b0000_0001]);
//!
//! let mut digits = [0u8; 2];
//! let scale_id = format.unpack(format.read(&stream, 1)?, &mut digits)?;
//! assert_eq!((digits, scale_id), ([1, 2], 1));
//! # Ok::<(), nestlat::Error>(())
//! ```

use crate::Error;
use crate::code::MAX_SCALES;

/// Smallest accepted nesting ratio.
const MIN_Q: u32 = 2;

/// Largest accepted nesting ratio, so that every digit fits in a `u8`.
const MAX_Q: u32 = 256;

/// Largest number of code words, so that every code word fits in a `u64`.
const MAX_STATES: u128 = 1 << 64;

/// The code word and stream layout of one nested-lattice code: nesting ratio
/// `q`, scale count `k` and block dimension `dim`.
///
/// The module documentation describes the layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BlockFormat {
    q: u32,
    k: usize,
    dim: usize,
    bits: u32,
    /// `k * q^dim`, at most `2^64`.
    states: u128,
}

impl BlockFormat {
    /// Creates the format of a code with nesting ratio `q`, `k` scales and
    /// block dimension `dim`.
    ///
    /// # Errors
    ///
    /// - [`Error::InvalidModulus`] if `q` is outside `2..=256`.
    /// - [`Error::InvalidScaleCount`] if `k` is outside `1..=MAX_SCALES`.
    /// - [`Error::InvalidDimension`] if `dim` is 0.
    /// - [`Error::CodeTooWide`] if `k * q^dim` exceeds `2^64`.
    pub fn new(q: u32, k: usize, dim: usize) -> Result<Self, Error> {
        if !(MIN_Q..=MAX_Q).contains(&q) {
            return Err(Error::InvalidModulus { q });
        }
        if !(1..=MAX_SCALES).contains(&k) {
            return Err(Error::InvalidScaleCount { k });
        }
        if dim == 0 {
            return Err(Error::InvalidDimension { dim });
        }

        // Multiply by q once per digit and stop as soon as the count passes
        // 2^64. Because q >= 2, the loop runs at most 65 times whatever `dim`
        // is, and the product stays at most 2^64 * 256, far inside u128.
        let too_wide = Error::CodeTooWide { q, k, dim };
        let mut states = k as u128;
        for _ in 0..dim {
            states *= u128::from(q);
            if states > MAX_STATES {
                return Err(too_wide);
            }
        }

        // states >= 2, so states - 1 >= 1 and the width is 1..=64.
        let bits = u128::BITS - (states - 1).leading_zeros();
        Ok(Self {
            q,
            k,
            dim,
            bits,
            states,
        })
    }

    /// Returns the nesting ratio `q`.
    pub fn q(&self) -> u32 {
        self.q
    }

    /// Returns the number of scales `k`.
    pub fn scale_count(&self) -> usize {
        self.k
    }

    /// Returns the block dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Returns the number of bits of one code word, `ceil(log2(k * q^dim))`.
    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// Returns the number of code words, `k * q^dim`, which is at most
    /// `2^64`.
    pub fn states(&self) -> u128 {
        self.states
    }

    /// Returns the stored rate in bits per vector entry, `bits / dim`.
    pub fn stored_bits_per_entry(&self) -> f64 {
        f64::from(self.bits) / self.dim as f64
    }

    /// Returns the ideal rate in bits per vector entry,
    /// `log2(k * q^dim) / dim`, which a stream would reach if it did not
    /// round each code word up to whole bits.
    pub fn ideal_bits_per_entry(&self) -> f64 {
        libm::log2(self.k as f64) / self.dim as f64 + libm::log2(f64::from(self.q))
    }

    /// Packs the digits and the scale id of one block into its code word.
    ///
    /// # Errors
    ///
    /// - [`Error::LengthMismatch`] if `digits.len()` is not `dim`.
    /// - [`Error::InvalidDigit`] for the first digit that is not below `q`.
    /// - [`Error::InvalidScaleId`] if `scale_id` is not below `k`.
    pub fn pack(&self, digits: &[u8], scale_id: usize) -> Result<u64, Error> {
        self.check_len(digits.len())?;
        for (index, &digit) in digits.iter().enumerate() {
            if u32::from(digit) >= self.q {
                return Err(Error::InvalidDigit {
                    index,
                    digit: u32::from(digit),
                    q: self.q,
                });
            }
        }
        if scale_id >= self.k {
            return Err(Error::InvalidScaleId {
                id: scale_id,
                k: self.k,
            });
        }

        // Horner's rule from the most significant digit. Every partial value
        // is below q^dim and the result below k * q^dim <= 2^64, so nothing
        // overflows.
        let q = u64::from(self.q);
        let mut index = 0u64;
        for &digit in digits.iter().rev() {
            index = index * q + u64::from(digit);
        }
        Ok(index * self.k as u64 + scale_id as u64)
    }

    /// Unpacks a code word into `digits` and returns its scale id.
    ///
    /// `digits` is left unchanged when an error is returned.
    ///
    /// # Errors
    ///
    /// - [`Error::LengthMismatch`] if `digits.len()` is not `dim`.
    /// - [`Error::InvalidCodeWord`] if `word` is not below `k * q^dim`.
    pub fn unpack(&self, word: u64, digits: &mut [u8]) -> Result<usize, Error> {
        self.check_len(digits.len())?;
        self.check_word(word)?;

        let k = self.k as u64;
        let q = u64::from(self.q);
        let scale_id = (word % k) as usize;
        let mut rest = word / k;
        for digit in digits.iter_mut() {
            // The remainder is below q <= 256, so it fits in a u8.
            *digit = (rest % q) as u8;
            rest /= q;
        }
        Ok(scale_id)
    }

    /// Returns the number of bytes of a stream of `blocks` code words,
    /// `ceil(blocks * bits / 8)`, or `None` if it does not fit in a `usize`.
    pub fn stream_bytes(&self, blocks: usize) -> Option<usize> {
        let total_bits = blocks as u128 * u128::from(self.bits);
        usize::try_from(total_bits.div_ceil(8)).ok()
    }

    /// Writes `word` as block `block` of the stream in `buf`.
    ///
    /// Only the `bits` bits of that block change. The other bits of the bytes
    /// it shares with its neighbours keep their values.
    ///
    /// # Errors
    ///
    /// - [`Error::InvalidCodeWord`] if `word` is not below `k * q^dim`.
    /// - [`Error::BufferTooSmall`] if the block does not fit in `buf`.
    pub fn write(&self, buf: &mut [u8], block: usize, word: u64) -> Result<(), Error> {
        self.check_word(word)?;
        write_bits(buf, block, self.bits, word)
    }

    /// Reads the code word of block `block` from the stream in `buf`.
    ///
    /// # Errors
    ///
    /// - [`Error::BufferTooSmall`] if the block does not fit in `buf`.
    /// - [`Error::InvalidCodeWord`] if the stored value is not below
    ///   `k * q^dim`, so the stream is corrupt or was written by another
    ///   format.
    pub fn read(&self, buf: &[u8], block: usize) -> Result<u64, Error> {
        let word = read_bits(buf, block, self.bits)?;
        self.check_word(word)?;
        Ok(word)
    }

    /// Writes `words` into a new stream of `stream_bytes(words.len())` bytes,
    /// with zero bits after the last block.
    ///
    /// # Errors
    ///
    /// - [`Error::InvalidCodeWord`] for the first word that is not below
    ///   `k * q^dim`.
    #[cfg(feature = "alloc")]
    pub fn pack_all(&self, words: &[u64]) -> Result<alloc::vec::Vec<u8>, Error> {
        // A slice of n u64 values already spans 8 * n bytes of memory, and the
        // stream needs at most that, so the byte count always fits.
        let len = self
            .stream_bytes(words.len())
            .ok_or(Error::BufferTooSmall {
                needed: usize::MAX,
                actual: 0,
            })?;
        let mut stream = alloc::vec![0u8; len];
        for (block, &word) in words.iter().enumerate() {
            self.write(&mut stream, block, word)?;
        }
        Ok(stream)
    }

    fn check_len(&self, len: usize) -> Result<(), Error> {
        if len != self.dim {
            return Err(Error::LengthMismatch {
                expected: self.dim,
                actual: len,
            });
        }
        Ok(())
    }

    fn check_word(&self, word: u64) -> Result<(), Error> {
        if u128::from(word) >= self.states {
            return Err(Error::InvalidCodeWord { word });
        }
        Ok(())
    }
}

/// Writes the low `bits` bits of `word` (`1..=64`) as block `block` of a
/// stream of equal-width blocks, leaving every other bit of `buf` as it was.
///
/// # Errors
///
/// [`Error::BufferTooSmall`] if the block does not fit in `buf`.
pub(crate) fn write_bits(buf: &mut [u8], block: usize, bits: u32, word: u64) -> Result<(), Error> {
    let span = ByteSpan::locate(buf.len(), block, bits)?;

    // A word of up to 64 bits shifted by up to 7 bits fits in a u128.
    let value = u128::from(word) << span.shift;
    let mask = word_mask(bits) << span.shift;
    for (i, byte) in buf[span.first..span.end].iter_mut().enumerate() {
        let byte_mask = (mask >> (8 * i)) as u8;
        let byte_value = (value >> (8 * i)) as u8;
        *byte = (*byte & !byte_mask) | (byte_value & byte_mask);
    }
    Ok(())
}

/// Reads block `block` of a stream of equal-width blocks of `bits` bits
/// (`1..=64`).
///
/// # Errors
///
/// [`Error::BufferTooSmall`] if the block does not fit in `buf`.
pub(crate) fn read_bits(buf: &[u8], block: usize, bits: u32) -> Result<u64, Error> {
    let span = ByteSpan::locate(buf.len(), block, bits)?;

    let mut value = 0u128;
    for (i, &byte) in buf[span.first..span.end].iter().enumerate() {
        value |= u128::from(byte) << (8 * i);
    }
    // The mask keeps at most 64 bits, so the cast is lossless.
    Ok(((value >> span.shift) & word_mask(bits)) as u64)
}

fn word_mask(bits: u32) -> u128 {
    (1u128 << bits) - 1
}

/// The bytes `first..end` of a stream that hold one block, whose bit 0 is bit
/// `shift` of byte `first`.
struct ByteSpan {
    first: usize,
    end: usize,
    shift: u32,
}

impl ByteSpan {
    /// Locates the bytes of block `block`, `bits` bits wide, in a buffer of
    /// `buf_len` bytes.
    fn locate(buf_len: usize, block: usize, bits: u32) -> Result<Self, Error> {
        // u128 holds usize::MAX * 64 + 64, so the bit positions cannot
        // overflow even for absurd block indices.
        let start_bit = block as u128 * u128::from(bits);
        let end_bit = start_bit + u128::from(bits);
        let needed = end_bit.div_ceil(8);
        if needed > buf_len as u128 {
            return Err(Error::BufferTooSmall {
                // NOTE: a byte count beyond usize::MAX is reported as
                // usize::MAX.
                needed: usize::try_from(needed).unwrap_or(usize::MAX),
                actual: buf_len,
            });
        }

        // Both values are at most `needed <= buf_len`, so they fit in usize.
        Ok(Self {
            first: (start_bit / 8) as usize,
            end: needed as usize,
            shift: (start_bit % 8) as u32,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_known_answer() {
        let format = BlockFormat::new(3, 2, 2).unwrap();
        assert_eq!(format.pack(&[1, 2], 1), Ok(15));

        let mut digits = [0u8; 2];
        assert_eq!(format.unpack(15, &mut digits), Ok(1));
        assert_eq!(digits, [1, 2]);
    }

    #[test]
    fn word_spans_nine_bytes() {
        // 13^17 lies between 2^62 and 2^63, so each code word takes 63 bits
        // and block 1 covers stream bits 63..126, in bytes 7..=15.
        let format = BlockFormat::new(13, 1, 17).unwrap();
        assert_eq!(format.bits(), 63);

        // An odd word above 2^62 sets both the first and the last bit.
        let word = (format.states() - 2) as u64;
        assert_eq!(word & 1, 1);
        assert_eq!(word >> 62, 1);

        let mut stream = [0u8; 16];
        format.write(&mut stream, 1, word).unwrap();
        assert_eq!(stream[..7], [0u8; 7]);
        assert_eq!(stream[7], 0x80);
        assert_eq!(stream[15] & 0x20, 0x20);
        assert_eq!(stream[15] & 0xC0, 0);
        assert_eq!(format.read(&stream, 1), Ok(word));
    }
}
