//! Tests of the code word and stream layout of `nestlat::pack`.
//!
//! Expected values come from independent arithmetic in `u128` and from a
//! bit-by-bit model of the stream, not from the packing code itself.

use nestlat::Error;
use nestlat::pack::BlockFormat;
use proptest::prelude::*;

/// Dimensions swept for every `(q, k)`: E8 blocks, 4-dimensional blocks and
/// scalar blocks.
const SWEPT_DIMS: [usize; 3] = [8, 4, 1];

/// Returns `k * q^dim`, or `None` where it exceeds `2^64`.
fn expected_states(q: u32, k: usize, dim: usize) -> Option<u128> {
    let states = u128::from(q).checked_pow(dim as u32)? * k as u128;
    (states <= 1u128 << 64).then_some(states)
}

/// Returns the smallest `b` with `2^b >= states`.
fn expected_bits(states: u128) -> u32 {
    let mut bits = 0;
    while (1u128 << bits) < states {
        bits += 1;
    }
    bits
}

/// Evaluates `id + k * (d_0 + q * (d_1 + ...))` as the sum of `d_j * q^j`.
fn expected_word(q: u32, k: usize, digits: &[u8], scale_id: usize) -> u128 {
    let mut index = 0u128;
    let mut weight = 1u128;
    for &digit in digits {
        index += u128::from(digit) * weight;
        weight *= u128::from(q);
    }
    scale_id as u128 + k as u128 * index
}

/// Returns stream bit `bit`: bit `bit % 8` of byte `bit / 8`, least
/// significant first.
fn stream_bit(stream: &[u8], bit: usize) -> bool {
    (stream[bit / 8] >> (bit % 8)) & 1 == 1
}

/// Returns every format accepted for `dim` in the sweep of all `q` and `k`.
fn accepted_formats(dim: usize) -> impl Iterator<Item = BlockFormat> {
    (2..=256u32)
        .flat_map(move |q| (1..=16usize).filter_map(move |k| BlockFormat::new(q, k, dim).ok()))
}

#[test]
fn pack_known_answer() {
    let format = BlockFormat::new(3, 2, 2).unwrap();
    assert_eq!(format.pack(&[1, 2], 1), Ok(15));

    let mut digits = [0u8; 2];
    assert_eq!(format.unpack(15, &mut digits), Ok(1));
    assert_eq!(digits, [1, 2]);
}

#[test]
fn known_bit_widths() {
    // (q, k, dim, bits per code word)
    let cases = [
        (13, 4, 8, 32),
        (13, 5, 8, 32),
        (6, 9, 8, 24),
        (3, 9, 8, 16),
        (4, 1, 8, 16),
        (16, 1, 8, 32),
        (2, 1, 8, 8),
        (256, 1, 8, 64),
        (16, 1, 16, 64),
        (3, 1, 40, 64),
        (13, 1, 17, 63),
        (2, 1, 1, 1),
        (3, 2, 2, 5),
    ];
    for (q, k, dim, bits) in cases {
        let format = BlockFormat::new(q, k, dim).unwrap();
        assert_eq!(format.bits(), bits, "q = {q}, k = {k}, dim = {dim}");
        assert_eq!(format.q(), q);
        assert_eq!(format.scale_count(), k);
        assert_eq!(format.dim(), dim);
        assert_eq!(
            format.stored_bits_per_entry(),
            f64::from(bits) / dim as f64,
            "q = {q}, k = {k}, dim = {dim}"
        );
    }

    let rates = [(13, 4, 4.0), (13, 5, 4.0), (6, 9, 3.0), (3, 9, 2.0)];
    for (q, k, rate) in rates {
        let format = BlockFormat::new(q, k, 8).unwrap();
        assert_eq!(format.stored_bits_per_entry(), rate, "q = {q}, k = {k}");
    }
}

#[test]
fn ideal_rate_matches_log2() {
    let format = BlockFormat::new(16, 1, 8).unwrap();
    assert_eq!(format.ideal_bits_per_entry(), 4.0);

    let format = BlockFormat::new(13, 4, 8).unwrap();
    let ideal = (4.0f64 * 13f64.powi(8)).log2() / 8.0;
    assert!((format.ideal_bits_per_entry() - ideal).abs() < 1e-12);
    assert!(format.ideal_bits_per_entry() <= format.stored_bits_per_entry());
}

#[test]
fn sweep_accepts_exactly_64_bit_codes() {
    for dim in SWEPT_DIMS {
        for q in 2..=256u32 {
            for k in 1..=16usize {
                let result = BlockFormat::new(q, k, dim);
                let Some(states) = expected_states(q, k, dim) else {
                    assert_eq!(result, Err(Error::CodeTooWide { q, k, dim }));
                    continue;
                };

                let format = result.unwrap();
                assert_eq!(format.states(), states, "q = {q}, k = {k}, dim = {dim}");
                assert_eq!(format.bits(), expected_bits(states));
            }
        }
    }
}

#[test]
fn sweep_round_trips_extreme_blocks() {
    for dim in SWEPT_DIMS {
        for format in accepted_formats(dim) {
            let q = format.q();
            let k = format.scale_count();
            let mut digits = [0u8; 8];

            let zero = format.pack(&[0; 8][..dim], 0).unwrap();
            assert_eq!(zero, 0, "q = {q}, k = {k}, dim = {dim}");

            // The largest digits with the largest id give the last code word.
            let top = [(q - 1) as u8; 8];
            let last = format.pack(&top[..dim], k - 1).unwrap();
            assert_eq!(u128::from(last), format.states() - 1);
            assert_eq!(format.unpack(last, &mut digits[..dim]), Ok(k - 1));
            assert_eq!(digits[..dim], top[..dim]);
        }
    }
}

#[test]
fn power_of_two_codes_concatenate_bits() {
    // k = 4 takes 2 bits and q = 16 takes 4 bits per digit.
    let format = BlockFormat::new(16, 4, 2).unwrap();
    assert_eq!(format.bits(), 10);

    let word = format.pack(&[0xA, 0x5], 3).unwrap();
    assert_eq!(word, (0x5 << 6) | (0xA << 2) | 3);
}

#[test]
fn new_rejects_invalid_parameters() {
    for q in [0, 1, 257, u32::MAX] {
        assert_eq!(BlockFormat::new(q, 1, 8), Err(Error::InvalidModulus { q }));
    }
    for k in [0, 17, usize::MAX] {
        assert_eq!(
            BlockFormat::new(2, k, 8),
            Err(Error::InvalidScaleCount { k })
        );
    }
    assert_eq!(
        BlockFormat::new(2, 1, 0),
        Err(Error::InvalidDimension { dim: 0 })
    );
    assert!(
        Error::InvalidDimension { dim: 0 }
            .to_string()
            .contains("dimension 0")
    );

    // A huge dimension is rejected without iterating over it.
    assert_eq!(
        BlockFormat::new(2, 1, usize::MAX),
        Err(Error::CodeTooWide {
            q: 2,
            k: 1,
            dim: usize::MAX
        })
    );
    assert_eq!(
        BlockFormat::new(256, 2, 8),
        Err(Error::CodeTooWide {
            q: 256,
            k: 2,
            dim: 8
        })
    );
    assert_eq!(
        BlockFormat::new(2, 1, 65),
        Err(Error::CodeTooWide {
            q: 2,
            k: 1,
            dim: 65
        })
    );
}

#[test]
fn invalid_digits_and_ids_are_rejected() {
    let format = BlockFormat::new(13, 4, 8).unwrap();

    let digits = [0, 1, 13, 200, 0, 0, 0, 0];
    assert_eq!(
        format.pack(&digits, 0),
        Err(Error::InvalidDigit {
            index: 2,
            digit: 13,
            q: 13
        })
    );
    assert_eq!(
        format.pack(&[12; 8], 4),
        Err(Error::InvalidScaleId { id: 4, k: 4 })
    );
    assert_eq!(
        format.pack(&[0; 7], 0),
        Err(Error::LengthMismatch {
            expected: 8,
            actual: 7
        })
    );

    let mut long = [9u8; 9];
    assert_eq!(
        format.unpack(0, &mut long),
        Err(Error::LengthMismatch {
            expected: 8,
            actual: 9
        })
    );
    assert_eq!(long, [9u8; 9]);
}

#[test]
fn tampered_word_is_rejected() {
    let format = BlockFormat::new(13, 5, 8).unwrap();
    let states = format.states() as u64;
    let mut digits = [7u8; 8];

    assert_eq!(
        format.unpack(states, &mut digits),
        Err(Error::InvalidCodeWord { word: states })
    );
    assert_eq!(
        format.unpack(u64::MAX, &mut digits),
        Err(Error::InvalidCodeWord { word: u64::MAX })
    );
    assert_eq!(digits, [7u8; 8]);

    // All 32 bits set is a 32-bit value that is not a code word.
    let mut stream = [0xFFu8; 4];
    assert_eq!(
        format.read(&stream, 0),
        Err(Error::InvalidCodeWord { word: 0xFFFF_FFFF })
    );
    assert_eq!(
        format.write(&mut stream, 0, states),
        Err(Error::InvalidCodeWord { word: states })
    );
    assert_eq!(stream, [0xFFu8; 4]);

    // 3^40 < 2^64, so 64-bit words exist that are not code words.
    let format = BlockFormat::new(3, 1, 40).unwrap();
    assert_eq!(
        format.read(&[0xFF; 8], 0),
        Err(Error::InvalidCodeWord { word: u64::MAX })
    );
}

#[test]
fn full_64_bit_code_accepts_every_word() {
    let format = BlockFormat::new(256, 1, 8).unwrap();
    assert_eq!(format.states(), 1u128 << 64);

    let mut digits = [0u8; 8];
    assert_eq!(format.unpack(u64::MAX, &mut digits), Ok(0));
    assert_eq!(digits, [0xFF; 8]);

    let mut stream = [0u8; 9];
    format.write(&mut stream, 0, u64::MAX).unwrap();
    assert_eq!(stream, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0]);
    assert_eq!(format.read(&stream, 0), Ok(u64::MAX));
}

#[test]
fn stream_known_answer() {
    // q = 8, k = 1, dim = 4 gives 12-bit code words, so two words fill
    // three bytes of one little-endian integer 0x123ABC.
    let format = BlockFormat::new(8, 1, 4).unwrap();
    assert_eq!(format.bits(), 12);

    let mut stream = [0u8; 3];
    format.write(&mut stream, 0, 0xABC).unwrap();
    format.write(&mut stream, 1, 0x123).unwrap();
    assert_eq!(stream, [0xBC, 0x3A, 0x12]);
    assert_eq!(format.read(&stream, 0), Ok(0xABC));
    assert_eq!(format.read(&stream, 1), Ok(0x123));
}

#[cfg(feature = "alloc")]
#[test]
fn pack_all_known_answer() {
    let format = BlockFormat::new(8, 1, 4).unwrap();
    assert_eq!(format.pack_all(&[0xABC, 0x123]), Ok(vec![0xBC, 0x3A, 0x12]));

    // The bits after the last block are zero.
    assert_eq!(format.pack_all(&[0xFFF]), Ok(vec![0xFF, 0x0F]));
    assert_eq!(format.pack_all(&[]), Ok(vec![]));

    let format = BlockFormat::new(13, 4, 8).unwrap();
    let states = format.states() as u64;
    assert_eq!(
        format.pack_all(&[0, states]),
        Err(Error::InvalidCodeWord { word: states })
    );
}

#[test]
fn stream_bytes_rounds_up() {
    let format = BlockFormat::new(8, 1, 4).unwrap();
    assert_eq!(format.stream_bytes(0), Some(0));
    assert_eq!(format.stream_bytes(1), Some(2));
    assert_eq!(format.stream_bytes(2), Some(3));
    assert_eq!(format.stream_bytes(3), Some(5));

    let one_bit = BlockFormat::new(2, 1, 1).unwrap();
    assert_eq!(one_bit.stream_bytes(usize::MAX), Some(usize::MAX / 8 + 1));

    let full = BlockFormat::new(256, 1, 8).unwrap();
    assert_eq!(full.stream_bytes(usize::MAX), None);
    assert_eq!(full.stream_bytes(usize::MAX / 8), Some(usize::MAX / 8 * 8));
}

#[test]
fn truncated_buffer_is_rejected() {
    for (q, k, dim) in [(13, 4, 8), (3, 2, 2), (13, 1, 17), (256, 1, 8)] {
        let format = BlockFormat::new(q, k, dim).unwrap();
        for blocks in 1..=9 {
            let needed = format.stream_bytes(blocks).unwrap();
            let mut stream = vec![0u8; needed - 1];
            let expected = Err(Error::BufferTooSmall {
                needed,
                actual: needed - 1,
            });

            assert_eq!(format.read(&stream, blocks - 1), expected.map(|()| 0));
            assert_eq!(format.write(&mut stream, blocks - 1, 1), expected);
            assert!(stream.iter().all(|&byte| byte == 0));
        }

        let huge = format.read(&[0u8; 16], usize::MAX);
        assert!(
            matches!(huge, Err(Error::BufferTooSmall { actual: 16, .. })),
            "q = {q}, k = {k}, dim = {dim}: {huge:?}"
        );
        assert!(matches!(
            format.write(&mut [], 0, 0),
            Err(Error::BufferTooSmall { actual: 0, .. })
        ));
    }
}

/// Any accepted format: `q` and `k` from their full ranges, and dimensions
/// up to 64 so that code word widths from 1 to 64 bits occur.
fn any_format() -> impl Strategy<Value = BlockFormat> {
    (2..=256u32, 1..=16usize, 1..=64usize)
        .prop_filter_map("code wider than 64 bits", |(q, k, dim)| {
            BlockFormat::new(q, k, dim).ok()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Reduces one draw of random digits and ids modulo `q` and `k` for every
    /// accepted `(q, k, dim)` of the sweep, which covers 12240 combinations.
    #[test]
    fn sweep_round_trips_random_blocks(raw_digits in any::<[u8; 8]>(), raw_id in any::<usize>()) {
        for dim in SWEPT_DIMS {
            for format in accepted_formats(dim) {
                let q = format.q();
                let k = format.scale_count();
                let mut digits = [0u8; 8];
                for (digit, &raw) in digits.iter_mut().zip(&raw_digits) {
                    *digit = (u32::from(raw) % q) as u8;
                }
                let scale_id = raw_id % k;

                let word = format.pack(&digits[..dim], scale_id).unwrap();
                prop_assert_eq!(u128::from(word), expected_word(q, k, &digits[..dim], scale_id));

                let mut unpacked = [0u8; 8];
                prop_assert_eq!(format.unpack(word, &mut unpacked[..dim]), Ok(scale_id));
                prop_assert_eq!(&unpacked[..dim], &digits[..dim]);
            }
        }
    }
}

/// Largest number of blocks in a random stream.
const MAX_BLOCKS: usize = 24;

/// Bytes of the longest random stream: `MAX_BLOCKS` 64-bit words and up to 3
/// bytes after them.
const MAX_STREAM_BYTES: usize = MAX_BLOCKS * 8 + 3;

proptest! {
    #[test]
    fn unpack_inverts_pack(
        format in any_format(),
        raw_digits in prop::collection::vec(any::<u8>(), 64),
        raw_id in any::<usize>(),
    ) {
        let dim = format.dim();
        let q = format.q();
        let digits: Vec<u8> = raw_digits[..dim]
            .iter()
            .map(|&raw| (u32::from(raw) % q) as u8)
            .collect();
        let scale_id = raw_id % format.scale_count();

        let word = format.pack(&digits, scale_id).unwrap();
        prop_assert!(u128::from(word) < format.states());

        let mut unpacked = vec![0u8; dim];
        prop_assert_eq!(format.unpack(word, &mut unpacked), Ok(scale_id));
        prop_assert_eq!(unpacked, digits);
    }

    #[test]
    fn write_keeps_neighbour_bits(
        format in any_format(),
        blocks in 1..=MAX_BLOCKS,
        raw_block in any::<usize>(),
        raw_word in any::<u64>(),
        extra_bytes in 0..=3usize,
        raw_poison in prop::collection::vec(any::<u8>(), MAX_STREAM_BYTES),
    ) {
        let bits = format.bits() as usize;
        let len = format.stream_bytes(blocks).unwrap() + extra_bytes;
        let poison = &raw_poison[..len];
        let block = raw_block % blocks;
        let word = (u128::from(raw_word) % format.states()) as u64;

        let mut stream = poison.to_vec();
        format.write(&mut stream, block, word).unwrap();
        prop_assert_eq!(format.read(&stream, block), Ok(word));

        let first = block * bits;
        for bit in 0..len * 8 {
            let expected = if (first..first + bits).contains(&bit) {
                (word >> (bit - first)) & 1 == 1
            } else {
                stream_bit(poison, bit)
            };
            prop_assert_eq!(stream_bit(&stream, bit), expected, "stream bit {}", bit);
        }
    }

    #[test]
    fn stream_round_trips_every_block(
        format in any_format(),
        raw_words in prop::collection::vec(any::<u64>(), 0..=40),
    ) {
        let words: Vec<u64> = raw_words
            .iter()
            .map(|&raw| (u128::from(raw) % format.states()) as u64)
            .collect();
        let len = format.stream_bytes(words.len()).unwrap();

        // Write in reverse order so that each write lands next to bits that
        // are already set.
        let mut stream = vec![0u8; len];
        for (block, &word) in words.iter().enumerate().rev() {
            format.write(&mut stream, block, word).unwrap();
        }
        for (block, &word) in words.iter().enumerate() {
            prop_assert_eq!(format.read(&stream, block), Ok(word), "block {}", block);
        }

        #[cfg(feature = "alloc")]
        prop_assert_eq!(format.pack_all(&words), Ok(stream));
    }
}
