//! The `.nlat` container: round trips through `ContainerWriter` and
//! `Container::parse`, reading at odd addresses, rejection of truncated and
//! edited files with the documented `ContainerProblem`, the writer's input
//! checks, and random byte flips that must never cause a panic.
//!
//! The edits locate fields with `entry_layouts`, a walk of the directory
//! written from the layout tables in the module documentation of
//! `nestlat::container`, so a field that moves in the parser but not in the
//! documentation fails here.

use nestlat::Error;
use nestlat::container::{
    CONTAINER_MAGIC, CONTAINER_VERSION, Container, ContainerProblem, ContainerWriter,
    FILE_HEADER_LEN, MAX_NAME_LEN, MAX_RANK, MAX_TENSORS, PAYLOAD_ALIGN, QuantizedMatrixProblem,
    TensorEntry, TensorKind,
};
use nestlat::product::{matvec, scratch_len};
use nestlat::quant::{
    Orientation, Preset, QuantizedMatrix, QuantizedMatrixRef, QuantizerConfig, VectorSet,
};
use nestlat::rng::SplitMix64;
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------

fn gaussian(len: usize, seed: u64, offset: f32) -> Vec<f32> {
    let mut rng = SplitMix64::new(seed);
    (0..len)
        .map(|_| offset + rng.next_gaussian() as f32)
        .collect()
}

fn preset(name: &str) -> &'static Preset {
    Preset::by_name(name).unwrap_or_else(|| panic!("preset {name} not found"))
}

/// Quantizes a `rows x cols` Gaussian matrix whose vectors are its rows or
/// its columns.
fn quantize(
    rows: usize,
    cols: usize,
    orientation: Orientation,
    config: &QuantizerConfig,
    seed: u64,
) -> QuantizedMatrix {
    let data = gaussian(rows * cols, seed, 0.25);
    let vectors = VectorSet::new(&data, rows, cols, orientation).unwrap();
    QuantizedMatrix::quantize(&vectors, config).unwrap()
}

/// Returns `len` bytes of a fixed pattern. Raw payloads are stored verbatim,
/// so any bit pattern (NaN included) must come back unchanged.
fn pattern_bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(37).wrapping_add(seed))
        .collect()
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values
        .iter()
        .flat_map(|value| value.to_le_bytes())
        .collect()
}

/// Returns `y = W x` for a fixed `x`, with the bits of each result.
fn matvec_bits(matrix: &QuantizedMatrixRef<'_>) -> Vec<u32> {
    let x = gaussian(matrix.vector_len(), 99, -0.5);
    let mut scratch = vec![0.0f32; scratch_len(matrix.coded_len(), 1)];
    let mut y = vec![0.0f32; matrix.vector_count()];
    matvec(matrix, &x, &mut scratch, &mut y).unwrap();
    y.iter().map(|value| value.to_bits()).collect()
}

// ---------------------------------------------------------------------------
// The round-trip fixture
// ---------------------------------------------------------------------------

struct QuantizedTensor {
    name: &'static str,
    matrix: QuantizedMatrix,
    orientation: Orientation,
    shape: [u64; 2],
}

struct RawTensor {
    name: &'static str,
    kind: TensorKind,
    shape: Vec<u64>,
    payload: Vec<u8>,
}

enum Added {
    Quantized(Box<QuantizedTensor>),
    Raw(RawTensor),
}

impl Added {
    fn name(&self) -> &'static str {
        match self {
            Added::Quantized(tensor) => tensor.name,
            Added::Raw(tensor) => tensor.name,
        }
    }
}

fn quantized(
    name: &'static str,
    rows: usize,
    cols: usize,
    orientation: Orientation,
    config: QuantizerConfig,
    seed: u64,
) -> Added {
    Added::Quantized(Box::new(QuantizedTensor {
        name,
        matrix: quantize(rows, cols, orientation, &config, seed),
        orientation,
        shape: [rows as u64, cols as u64],
    }))
}

fn raw(name: &'static str, kind: TensorKind, shape: &[u64], payload: Vec<u8>) -> Added {
    Added::Raw(RawTensor {
        name,
        kind,
        shape: shape.to_vec(),
        payload,
    })
}

/// Returns quantized tensors of several presets, orientations and settings,
/// and raw tensors of every kind and of ranks 1 to 4 and 8, interleaved so
/// that payloads of odd lengths precede aligned ones.
fn round_trip_tensors() -> Vec<Added> {
    let rows = Orientation::Rows;
    let columns = Orientation::Columns;
    let dithered = QuantizerConfig::new(preset("e8-2"))
        .with_dither_seed(Some(0xD17E))
        .unwrap();
    vec![
        quantized(
            "layers.0.attn.q",
            5,
            77,
            rows,
            QuantizerConfig::new(preset("e8-4")),
            1,
        ),
        raw(
            "layers.0.attn.q.bias",
            TensorKind::F32,
            &[7],
            f32_bytes(&gaussian(7, 2, 0.0)),
        ),
        quantized(
            "layers.0.attn.k",
            24,
            6,
            columns,
            QuantizerConfig::new(preset("d4-3")).with_mean_removal(false),
            3,
        ),
        raw("norm.f16", TensorKind::F16, &[3, 5], pattern_bytes(30, 4)),
        quantized("layers.0.mlp.up", 3, 16, rows, dithered, 5),
        raw(
            "embed.bf16",
            TensorKind::Bf16,
            &[2, 3, 4],
            pattern_bytes(48, 6),
        ),
        quantized(
            "layers.0.mlp.down",
            4,
            10,
            rows,
            QuantizerConfig::new(preset("lloyd-3")).with_rotation_seed(None),
            7,
        ),
        raw("empty.f32", TensorKind::F32, &[2, 0, 3, 5], Vec::new()),
        quantized(
            "hierarchical",
            9,
            3,
            columns,
            QuantizerConfig::new(preset("e8h-2")),
            8,
        ),
        raw(
            "rank4.bf16",
            TensorKind::Bf16,
            &[1, 2, 3, 2],
            pattern_bytes(24, 9),
        ),
        quantized(
            "low.rate",
            2,
            40,
            rows,
            QuantizerConfig::new(preset("low-0.5")),
            10,
        ),
        quantized(
            "gewicht.ä.权重",
            2,
            8,
            rows,
            QuantizerConfig::new(preset("e8b-2")).with_rotation_seed(Some(7)),
            11,
        ),
        raw(
            "rank8.f16",
            TensorKind::F16,
            &[1, 2, 1, 1, 2, 1, 1, 3],
            pattern_bytes(24, 12),
        ),
        quantized(
            "no.rows",
            0,
            16,
            rows,
            QuantizerConfig::new(preset("e8-4")),
            13,
        ),
        quantized(
            "one.entry",
            1,
            1,
            rows,
            QuantizerConfig::new(preset("z-4")),
            14,
        ),
    ]
}

fn write(tensors: &[Added]) -> Vec<u8> {
    let mut writer = ContainerWriter::new();
    for tensor in tensors {
        match tensor {
            Added::Quantized(tensor) => writer
                .add_quantized(tensor.name, &tensor.matrix.view(), tensor.orientation)
                .unwrap(),
            Added::Raw(tensor) => writer
                .add_raw(
                    tensor.name,
                    tensor.kind,
                    &tensor.shape,
                    tensor.payload.clone(),
                )
                .unwrap(),
        }
    }
    writer.to_bytes().unwrap()
}

fn parse(bytes: &[u8]) -> Container<'_> {
    Container::parse(bytes).unwrap_or_else(|error| panic!("valid file rejected: {error}"))
}

/// Returns each added tensor with the parsed entry of the same position.
fn reopened(bytes: &[u8]) -> (Vec<Added>, Vec<TensorEntry<'_>>) {
    let tensors = round_trip_tensors();
    let entries: Vec<_> = parse(bytes).tensors().collect();
    assert_eq!(entries.len(), tensors.len(), "tensor count");
    (tensors, entries)
}

// ---------------------------------------------------------------------------
// Round trip
// ---------------------------------------------------------------------------

#[test]
fn round_trip_keeps_names_in_order() {
    let bytes = write(&round_trip_tensors());
    let names: Vec<_> = parse(&bytes).tensors().map(|entry| entry.name()).collect();
    let expected: Vec<_> = round_trip_tensors().iter().map(Added::name).collect();
    assert_eq!(names, expected);
}

#[test]
fn round_trip_reports_count() {
    let bytes = write(&round_trip_tensors());
    let container = parse(&bytes);
    assert_eq!(container.len(), round_trip_tensors().len());
    assert!(!container.is_empty());
}

#[test]
fn round_trip_keeps_kinds() {
    let bytes = write(&round_trip_tensors());
    let (tensors, entries) = reopened(&bytes);
    for (tensor, entry) in tensors.iter().zip(&entries) {
        let expected = match tensor {
            Added::Quantized(_) => TensorKind::Quantized,
            Added::Raw(tensor) => tensor.kind,
        };
        assert_eq!(entry.kind(), expected, "kind of {}", entry.name());
    }
}

#[test]
fn round_trip_keeps_shapes() {
    let bytes = write(&round_trip_tensors());
    let (tensors, entries) = reopened(&bytes);
    for (tensor, entry) in tensors.iter().zip(&entries) {
        let expected: &[u64] = match tensor {
            Added::Quantized(tensor) => &tensor.shape,
            Added::Raw(tensor) => &tensor.shape,
        };
        assert_eq!(entry.shape(), expected, "shape of {}", entry.name());
    }
}

#[test]
fn round_trip_keeps_payload_bytes() {
    let bytes = write(&round_trip_tensors());
    let (tensors, entries) = reopened(&bytes);
    for (tensor, entry) in tensors.iter().zip(&entries) {
        let expected: &[u8] = match tensor {
            Added::Quantized(tensor) => tensor.matrix.as_bytes(),
            Added::Raw(tensor) => &tensor.payload,
        };
        assert_eq!(entry.payload(), expected, "payload of {}", entry.name());
    }
}

#[test]
fn round_trip_keeps_quantization() {
    let bytes = write(&round_trip_tensors());
    let (tensors, entries) = reopened(&bytes);
    for (tensor, entry) in tensors.iter().zip(&entries) {
        let expected = match tensor {
            Added::Quantized(tensor) => Some((tensor.orientation, tensor.matrix.view().config())),
            Added::Raw(_) => None,
        };
        assert_eq!(
            entry.quantization(),
            expected,
            "setting of {}",
            entry.name()
        );
    }
}

#[test]
fn round_trip_matrix_views_match() {
    let bytes = write(&round_trip_tensors());
    let (tensors, entries) = reopened(&bytes);
    for (tensor, entry) in tensors.iter().zip(&entries) {
        let name = entry.name();
        let Added::Quantized(tensor) = tensor else {
            assert!(entry.matrix().is_none(), "raw {name} has a matrix view");
            continue;
        };
        let original = tensor.matrix.view();
        let view = entry.matrix().expect("view missing").expect("view invalid");
        assert_eq!(view.as_bytes(), original.as_bytes(), "bytes of {name}");
        assert_eq!(view.config(), original.config(), "setting of {name}");
        assert_eq!(view.vector_len(), original.vector_len(), "length of {name}");
        assert_eq!(
            view.vector_count(),
            original.vector_count(),
            "count of {name}"
        );
    }
}

#[test]
fn round_trip_matvec_is_bitwise_equal() {
    let bytes = write(&round_trip_tensors());
    let (tensors, entries) = reopened(&bytes);
    for (tensor, entry) in tensors.iter().zip(&entries) {
        let Added::Quantized(tensor) = tensor else {
            continue;
        };
        let view = entry.matrix().unwrap().unwrap();
        let expected = matvec_bits(&tensor.matrix.view());
        assert_eq!(matvec_bits(&view), expected, "W x of {}", entry.name());
    }
}

#[test]
fn round_trip_get_finds_each_name() {
    let bytes = write(&round_trip_tensors());
    let container = parse(&bytes);
    for entry in container.tensors() {
        let found = container.get(entry.name()).expect("name not found");
        assert_eq!(
            found.payload(),
            entry.payload(),
            "payload of {}",
            entry.name()
        );
    }
}

#[test]
fn get_unknown_name_is_none() {
    let bytes = write(&round_trip_tensors());
    assert!(parse(&bytes).get("layers.0.attn").is_none());
}

#[test]
fn payload_offsets_are_aligned() {
    let bytes = write(&round_trip_tensors());
    for entry in entry_layouts(&bytes) {
        assert_eq!(
            entry.payload_offset % PAYLOAD_ALIGN,
            0,
            "payload offset of the entry at {}",
            entry.start
        );
    }
}

#[test]
fn payloads_lie_at_stored_offsets() {
    let bytes = write(&round_trip_tensors());
    let container = parse(&bytes);
    for (entry, layout) in container.tensors().zip(entry_layouts(&bytes)) {
        let offset = entry.payload().as_ptr() as usize - bytes.as_ptr() as usize;
        assert_eq!(offset, layout.payload_offset, "payload of {}", entry.name());
    }
}

#[test]
fn header_follows_documented_layout() {
    let bytes = write(&round_trip_tensors());
    let directory_len: usize = entry_layouts(&bytes)
        .iter()
        .map(|entry| entry.end - entry.start)
        .sum();
    assert_eq!(bytes[..8], CONTAINER_MAGIC);
    assert_eq!(read_u16(&bytes, 8), CONTAINER_VERSION);
    assert_eq!(read_u16(&bytes, 10), 0, "reserved");
    assert_eq!(read_u32(&bytes, 12) as usize, round_trip_tensors().len());
    assert_eq!(read_u64(&bytes, 16) as usize, directory_len);
    assert_eq!(read_u64(&bytes, 24) as usize, bytes.len());
}

#[test]
fn file_ends_after_last_payload() {
    let bytes = write(&round_trip_tensors());
    let last = entry_layouts(&bytes).pop().unwrap();
    assert_eq!(last.payload_offset + last.payload_len, bytes.len());
}

#[test]
fn empty_container_round_trips() {
    let bytes = ContainerWriter::new().to_bytes().unwrap();
    let container = parse(&bytes);
    assert_eq!(bytes.len(), FILE_HEADER_LEN);
    assert!(container.is_empty());
    assert_eq!(container.len(), 0);
    assert!(container.tensors().next().is_none());
    assert!(container.get("anything").is_none());
}

/// A zero-size tensor at the end leaves the file ending in the padding
/// before its empty, aligned payload.
#[test]
fn zero_size_last_tensor_round_trips() {
    let mut writer = ContainerWriter::new();
    writer
        .add_raw("values", TensorKind::F32, &[3], f32_bytes(&[1.0, 2.0, 3.0]))
        .unwrap();
    writer
        .add_raw("nothing", TensorKind::Bf16, &[0, 4], Vec::new())
        .unwrap();
    let bytes = writer.to_bytes().unwrap();
    let last = parse(&bytes)
        .get("nothing")
        .expect("zero-size tensor missing");
    assert!(last.payload().is_empty());
    assert_eq!(last.shape(), [0, 4]);
    assert_eq!(bytes.len() % PAYLOAD_ALIGN, 0);
}

/// A matrix without vectors has a 40-byte payload whatever its vector
/// length, so a valid file can announce 2^32 - 1 entries per vector. Readers
/// must not size buffers from the vector length alone.
#[test]
fn empty_matrix_of_long_vectors_parses() {
    let empty = quantize(
        0,
        16,
        Orientation::Rows,
        &QuantizerConfig::new(preset("e8-4")),
        51,
    );
    let mut writer = ContainerWriter::new();
    writer
        .add_quantized("empty", &empty.view(), Orientation::Rows)
        .unwrap();
    let mut bytes = writer.to_bytes().unwrap();
    let entry = entry_layouts(&bytes)[0];
    put_u64(&mut bytes, entry.shape_at() + 8, u64::from(u32::MAX));
    // Bytes 16..20 of a quantized payload store the vector length.
    let len_at = entry.payload_offset + 16;
    bytes[len_at..len_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());

    let view = parse(&bytes)
        .get("empty")
        .unwrap()
        .matrix()
        .unwrap()
        .unwrap();
    assert_eq!(view.vector_len(), u32::MAX as usize);
    assert_eq!(view.vector_count(), 0);
}

#[test]
fn writer_counts_tensors() {
    let mut writer = ContainerWriter::new();
    assert!(writer.is_empty());
    writer
        .add_raw("a", TensorKind::F32, &[1], vec![0; 4])
        .unwrap();
    assert_eq!(writer.len(), 1);
}

#[test]
fn parse_works_at_odd_addresses() {
    let bytes = write(&round_trip_tensors());
    let expected: Vec<Vec<u32>> = parse(&bytes)
        .tensors()
        .filter_map(|entry| entry.matrix())
        .map(|view| matvec_bits(&view.unwrap()))
        .collect();

    for shift in 1..=3 {
        let mut buffer = vec![0xA5u8; bytes.len() + 8];
        buffer[shift..shift + bytes.len()].copy_from_slice(&bytes);
        let copy = &buffer[shift..shift + bytes.len()];
        let container = Container::parse(copy).unwrap_or_else(|error| {
            panic!("file at byte offset {shift} rejected: {error}");
        });

        let payloads: Vec<_> = container.tensors().map(|entry| entry.payload()).collect();
        let original: Vec<_> = parse(&bytes)
            .tensors()
            .map(|entry| entry.payload())
            .collect();
        assert_eq!(payloads, original, "payloads at byte offset {shift}");

        let products: Vec<Vec<u32>> = container
            .tensors()
            .filter_map(|entry| entry.matrix())
            .map(|view| matvec_bits(&view.unwrap()))
            .collect();
        assert_eq!(products, expected, "W x at byte offset {shift}");
    }
}

#[test]
fn longest_name_round_trips() {
    let name = "n".repeat(MAX_NAME_LEN);
    let mut writer = ContainerWriter::new();
    writer
        .add_raw(&name, TensorKind::F16, &[1], vec![0x00, 0x3C])
        .unwrap();
    let bytes = writer.to_bytes().unwrap();
    let entry = parse(&bytes).tensors().next().unwrap();
    assert_eq!(entry.name(), name);
}

#[test]
fn error_message_names_offset() {
    let mut bytes = sample().bytes;
    bytes[8] = 2;
    let message = Container::parse(&bytes).unwrap_err().to_string();
    assert!(message.contains("byte 8"), "message: {message}");
    assert!(message.contains("version 2"), "message: {message}");
}

// ---------------------------------------------------------------------------
// Truncation and extra bytes
// ---------------------------------------------------------------------------

#[test]
fn every_prefix_is_rejected() {
    let bytes = sample().bytes;
    for len in 0..bytes.len() {
        let result = Container::parse(&bytes[..len]);
        assert!(
            matches!(result, Err(Error::InvalidContainer { .. })),
            "prefix of {len} bytes: {result:?}"
        );
    }
}

/// Patches the stored length of each prefix so that the parser gets past
/// the header and has to find the missing bytes itself.
#[test]
fn every_prefix_with_fixed_length_is_rejected() {
    let bytes = sample().bytes;
    for len in FILE_HEADER_LEN..bytes.len() {
        let mut prefix = bytes[..len].to_vec();
        put_u64(&mut prefix, 24, len as u64);
        let result = Container::parse(&prefix);
        assert!(
            matches!(result, Err(Error::InvalidContainer { .. })),
            "prefix of {len} bytes: {result:?}"
        );
    }
}

#[test]
fn short_header_is_truncated() {
    let bytes = sample().bytes;
    expect_problem(
        &bytes[..FILE_HEADER_LEN - 1],
        0,
        ContainerProblem::Truncated,
    );
}

#[test]
fn extra_byte_is_rejected() {
    let mut bytes = sample().bytes;
    bytes.push(0);
    expect_problem(&bytes, 24, ContainerProblem::LengthMismatch);
}

#[test]
fn extra_byte_with_fixed_length_is_rejected() {
    let mut bytes = sample().bytes;
    let end = bytes.len();
    bytes.push(0);
    put_u64(&mut bytes, 24, end as u64 + 1);
    expect_problem(&bytes, end, ContainerProblem::LengthMismatch);
}

#[test]
fn trailing_bytes_after_empty_directory_are_rejected() {
    let mut bytes = ContainerWriter::new().to_bytes().unwrap();
    bytes.extend_from_slice(&[0; 64]);
    let len = bytes.len() as u64;
    put_u64(&mut bytes, 24, len);
    expect_problem(&bytes, FILE_HEADER_LEN, ContainerProblem::LengthMismatch);
}

// ---------------------------------------------------------------------------
// The fixture of the targeted edits
// ---------------------------------------------------------------------------

/// A small valid file: a quantized `e8-4` matrix of rows ("q0"), a raw
/// `f32` matrix ("r1"), and a quantized `lloyd-2` matrix of columns without
/// mean removal ("q2"). Every entry ends with padding, and every payload
/// but the first is preceded by a gap.
struct Sample {
    bytes: Vec<u8>,
    entries: Vec<EntryLayout>,
    q0_data: Vec<f32>,
}

const Q0_ROWS: usize = 3;
const Q0_COLS: usize = 16;

fn sample() -> Sample {
    let q0_data = gaussian(Q0_ROWS * Q0_COLS, 21, 0.5);
    let q0 = QuantizedMatrix::quantize(
        &VectorSet::rows(&q0_data, Q0_ROWS, Q0_COLS).unwrap(),
        &QuantizerConfig::new(preset("e8-4")),
    )
    .unwrap();
    let q2_config = QuantizerConfig::new(preset("lloyd-2")).with_mean_removal(false);
    let q2 = quantize(16, 2, Orientation::Columns, &q2_config, 22);

    let mut writer = ContainerWriter::new();
    writer
        .add_quantized("q0", &q0.view(), Orientation::Rows)
        .unwrap();
    writer
        .add_raw(
            "r1",
            TensorKind::F32,
            &[2, 3],
            f32_bytes(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
        )
        .unwrap();
    writer
        .add_quantized("q2", &q2.view(), Orientation::Columns)
        .unwrap();
    let bytes = writer.to_bytes().unwrap();
    let entries = entry_layouts(&bytes);

    // The edits below rely on these properties of the fixture.
    assert!(entries.iter().all(|entry| entry.padding_len() > 0));
    assert!(entries[0].payload_offset > directory_end(&bytes));
    assert!(entries[1].payload_offset > entries[0].payload_end());
    Sample {
        bytes,
        entries,
        q0_data,
    }
}

/// The positions of the fields of one directory entry, from the documented
/// layout.
#[derive(Clone, Copy, Debug)]
struct EntryLayout {
    start: usize,
    end: usize,
    name_at: usize,
    name_len: usize,
    /// Start of the quantization parameters of a quantized tensor.
    block_at: Option<usize>,
    /// End of the fields, where the padding starts.
    fields_end: usize,
    payload_offset: usize,
    payload_len: usize,
}

impl EntryLayout {
    fn shape_at(&self) -> usize {
        self.start + 24
    }

    fn block(&self) -> usize {
        self.block_at.expect("entry is not quantized")
    }

    fn padding_len(&self) -> usize {
        self.end - self.fields_end
    }

    fn payload_end(&self) -> usize {
        self.payload_offset + self.payload_len
    }
}

fn entry_layouts(bytes: &[u8]) -> Vec<EntryLayout> {
    let count = read_u32(bytes, 12) as usize;
    let mut start = FILE_HEADER_LEN;
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        let name_len = usize::from(read_u16(bytes, start));
        let kind = bytes[start + 2];
        let rank = usize::from(bytes[start + 3]);
        let name_at = start + 24 + 8 * rank;
        let block_at = (kind == 0).then_some(name_at + name_len);
        let fields_end = match block_at {
            // 40 fixed bytes, then `k` scales of 4 bytes, `k` at byte 6.
            Some(block) => block + 40 + 4 * usize::from(bytes[block + 6]),
            None => name_at + name_len,
        };
        let end = fields_end.next_multiple_of(8);
        entries.push(EntryLayout {
            start,
            end,
            name_at,
            name_len,
            block_at,
            fields_end,
            payload_offset: read_u64(bytes, start + 8) as usize,
            payload_len: read_u64(bytes, start + 16) as usize,
        });
        start = end;
    }
    entries
}

fn directory_end(bytes: &[u8]) -> usize {
    FILE_HEADER_LEN + read_u64(bytes, 16) as usize
}

fn read_u16(bytes: &[u8], offset: usize) -> u16 {
    u16::from_le_bytes(bytes[offset..offset + 2].try_into().unwrap())
}

fn read_u32(bytes: &[u8], offset: usize) -> u32 {
    u32::from_le_bytes(bytes[offset..offset + 4].try_into().unwrap())
}

fn read_u64(bytes: &[u8], offset: usize) -> u64 {
    u64::from_le_bytes(bytes[offset..offset + 8].try_into().unwrap())
}

fn put_u16(bytes: &mut [u8], offset: usize, value: u16) {
    bytes[offset..offset + 2].copy_from_slice(&value.to_le_bytes());
}

fn put_u64(bytes: &mut [u8], offset: usize, value: u64) {
    bytes[offset..offset + 8].copy_from_slice(&value.to_le_bytes());
}

/// Returns the offset and problem of the error that `Container::parse`
/// returns for `bytes`.
fn parse_problem(bytes: &[u8]) -> (usize, ContainerProblem) {
    match Container::parse(bytes) {
        Err(Error::InvalidContainer { offset, problem }) => (offset, problem),
        Err(other) => panic!("expected Error::InvalidContainer, got {other:?}"),
        Ok(container) => panic!("edited file accepted with {} tensors", container.len()),
    }
}

fn expect_problem(bytes: &[u8], offset: usize, problem: ContainerProblem) {
    let (actual_offset, actual_problem) = parse_problem(bytes);
    assert_eq!(actual_problem, problem, "problem");
    assert_eq!(actual_offset, offset, "offset of {problem:?}");
}

#[test]
fn sample_is_valid() {
    let sample = sample();
    assert_eq!(parse(&sample.bytes).len(), 3);
}

// ---------------------------------------------------------------------------
// File header
// ---------------------------------------------------------------------------

#[test]
fn bad_magic_is_rejected() {
    let mut bytes = sample().bytes;
    bytes[0] = b'M';
    expect_problem(&bytes, 0, ContainerProblem::BadMagic);
}

#[test]
fn bad_magic_last_byte_is_rejected() {
    let mut bytes = sample().bytes;
    bytes[7] = b'\r';
    expect_problem(&bytes, 0, ContainerProblem::BadMagic);
}

#[test]
fn version_2_is_rejected() {
    let mut bytes = sample().bytes;
    put_u16(&mut bytes, 8, 2);
    expect_problem(&bytes, 8, ContainerProblem::UnsupportedVersion(2));
}

#[test]
fn reserved_header_bytes_are_rejected() {
    for offset in [10, 11] {
        let mut bytes = sample().bytes;
        bytes[offset] = 1;
        let (actual_offset, problem) = parse_problem(&bytes);
        assert_eq!(problem, ContainerProblem::NonZeroReserved, "byte {offset}");
        assert_eq!(actual_offset, 10, "byte {offset}");
    }
}

#[test]
fn wrong_file_length_is_rejected() {
    let mut bytes = sample().bytes;
    let len = bytes.len() as u64;
    put_u64(&mut bytes, 24, len - 1);
    expect_problem(&bytes, 24, ContainerProblem::LengthMismatch);
}

#[test]
fn huge_directory_length_overflows() {
    let mut bytes = sample().bytes;
    put_u64(&mut bytes, 16, u64::MAX);
    let (offset, problem) = parse_problem(&bytes);
    assert_eq!(offset, 16);
    assert!(
        matches!(
            problem,
            ContainerProblem::Overflow | ContainerProblem::Truncated
        ),
        "problem {problem:?}"
    );
}

#[test]
fn directory_beyond_file_is_truncated() {
    let mut bytes = sample().bytes;
    let len = bytes.len() as u64;
    put_u64(&mut bytes, 16, len);
    expect_problem(&bytes, 16, ContainerProblem::Truncated);
}

#[test]
fn directory_length_too_large_is_rejected() {
    let mut bytes = sample().bytes;
    let directory_len = read_u64(&bytes, 16);
    put_u64(&mut bytes, 16, directory_len + 8);
    expect_problem(&bytes, 16, ContainerProblem::DirectoryLength);
}

#[test]
fn directory_length_too_small_is_rejected() {
    let mut bytes = sample().bytes;
    let directory_len = read_u64(&bytes, 16);
    put_u64(&mut bytes, 16, directory_len - 8);
    expect_problem(&bytes, 16, ContainerProblem::DirectoryLength);
}

#[test]
fn tensor_count_too_small_is_rejected() {
    let mut bytes = sample().bytes;
    bytes[12] = 2;
    expect_problem(&bytes, 16, ContainerProblem::DirectoryLength);
}

#[test]
fn tensor_count_too_large_is_rejected() {
    let mut bytes = sample().bytes;
    bytes[12] = 4;
    expect_problem(&bytes, 16, ContainerProblem::DirectoryLength);
}

#[test]
fn directory_without_tensors_is_rejected() {
    let mut bytes = ContainerWriter::new().to_bytes().unwrap();
    bytes.extend_from_slice(&[0; 8]);
    put_u64(&mut bytes, 16, 8);
    let len = bytes.len() as u64;
    put_u64(&mut bytes, 24, len);
    expect_problem(&bytes, 16, ContainerProblem::DirectoryLength);
}

// ---------------------------------------------------------------------------
// Directory entries
// ---------------------------------------------------------------------------

#[test]
fn zero_length_name_is_rejected() {
    let Sample {
        mut bytes, entries, ..
    } = sample();
    put_u16(&mut bytes, entries[1].start, 0);
    expect_problem(&bytes, entries[1].start, ContainerProblem::BadName);
}

#[test]
fn overlong_name_length_is_rejected() {
    let Sample {
        mut bytes, entries, ..
    } = sample();
    put_u16(&mut bytes, entries[1].start, MAX_NAME_LEN as u16 + 1);
    expect_problem(&bytes, entries[1].start, ContainerProblem::BadName);
}

#[test]
fn non_utf8_name_is_rejected() {
    let Sample {
        mut bytes, entries, ..
    } = sample();
    bytes[entries[1].name_at + 1] = 0xFF;
    expect_problem(&bytes, entries[1].name_at, ContainerProblem::BadName);
}

/// The writer rejects repeated names, so the file is edited: "r1" becomes
/// "q0", the name of entry 0.
#[test]
fn repeated_name_is_rejected() {
    let Sample {
        mut bytes, entries, ..
    } = sample();
    let name_at = entries[1].name_at;
    assert_eq!(entries[1].name_len, 2);
    bytes[name_at..name_at + 2].copy_from_slice(b"q0");
    expect_problem(&bytes, name_at, ContainerProblem::BadName);
}

#[test]
fn unknown_kind_is_rejected() {
    for kind in [4, 255] {
        let Sample {
            mut bytes, entries, ..
        } = sample();
        bytes[entries[1].start + 2] = kind;
        let (offset, problem) = parse_problem(&bytes);
        assert_eq!(problem, ContainerProblem::UnknownKind(kind));
        assert_eq!(offset, entries[1].start + 2, "kind {kind}");
    }
}

#[test]
fn raw_kind_change_is_rejected() {
    let Sample {
        mut bytes, entries, ..
    } = sample();
    bytes[entries[1].start + 2] = 2;
    expect_problem(&bytes, entries[1].start + 16, ContainerProblem::BadPayload);
}

#[test]
fn rank_0_is_rejected() {
    let Sample {
        mut bytes, entries, ..
    } = sample();
    bytes[entries[1].start + 3] = 0;
    expect_problem(&bytes, entries[1].start + 3, ContainerProblem::BadRank(0));
}

#[test]
fn rank_9_is_rejected() {
    let Sample {
        mut bytes, entries, ..
    } = sample();
    bytes[entries[1].start + 3] = MAX_RANK as u8 + 1;
    expect_problem(&bytes, entries[1].start + 3, ContainerProblem::BadRank(9));
}

#[test]
fn quantized_rank_3_is_rejected() {
    let Sample {
        mut bytes, entries, ..
    } = sample();
    bytes[entries[0].start + 3] = 3;
    expect_problem(&bytes, entries[0].start + 3, ContainerProblem::BadRank(3));
}

#[test]
fn reserved_entry_bytes_are_rejected() {
    let Sample {
        mut bytes, entries, ..
    } = sample();
    bytes[entries[1].start + 7] = 1;
    expect_problem(
        &bytes,
        entries[1].start + 4,
        ContainerProblem::NonZeroReserved,
    );
}

#[test]
fn entry_padding_is_checked() {
    for index in 0..3 {
        let Sample {
            mut bytes, entries, ..
        } = sample();
        let entry = entries[index];
        bytes[entry.end - 1] = 1;
        let (offset, problem) = parse_problem(&bytes);
        assert_eq!(problem, ContainerProblem::NonZeroReserved, "entry {index}");
        assert_eq!(offset, entry.fields_end, "entry {index}");
    }
}

#[test]
fn raw_shape_overflow_is_rejected() {
    let Sample {
        mut bytes, entries, ..
    } = sample();
    put_u64(&mut bytes, entries[1].shape_at(), u64::MAX);
    expect_problem(&bytes, entries[1].shape_at(), ContainerProblem::Overflow);
}

// ---------------------------------------------------------------------------
// Payload placement
// ---------------------------------------------------------------------------

#[test]
fn misaligned_payload_is_rejected() {
    let Sample {
        mut bytes, entries, ..
    } = sample();
    let entry = entries[2];
    put_u64(&mut bytes, entry.start + 8, entry.payload_offset as u64 - 8);
    expect_problem(&bytes, entry.start + 8, ContainerProblem::BadPayload);
}

#[test]
fn payload_beyond_file_is_rejected() {
    let Sample {
        mut bytes, entries, ..
    } = sample();
    let entry = entries[2];
    let beyond = bytes.len().next_multiple_of(PAYLOAD_ALIGN) as u64;
    put_u64(&mut bytes, entry.start + 8, beyond);
    expect_problem(&bytes, entry.start + 8, ContainerProblem::BadPayload);
}

#[test]
fn payload_length_beyond_file_is_rejected() {
    let Sample {
        mut bytes, entries, ..
    } = sample();
    let entry = entries[2];
    put_u64(&mut bytes, entry.start + 16, entry.payload_len as u64 + 1);
    expect_problem(&bytes, entry.start + 8, ContainerProblem::BadPayload);
}

#[test]
fn payload_length_overflow_is_rejected() {
    let Sample {
        mut bytes, entries, ..
    } = sample();
    let entry = entries[2];
    put_u64(&mut bytes, entry.start + 16, u64::MAX - 8);
    let (offset, problem) = parse_problem(&bytes);
    assert_eq!(offset, entry.start + 16);
    assert!(
        matches!(
            problem,
            ContainerProblem::Overflow | ContainerProblem::BadPayload
        ),
        "problem {problem:?}"
    );
}

#[test]
fn overlapping_payloads_are_rejected() {
    let Sample {
        mut bytes, entries, ..
    } = sample();
    // Entry 1 points into the middle of the payload of entry 0, with a
    // length that still fits the file.
    let inside = entries[0].payload_offset as u64;
    put_u64(&mut bytes, entries[1].start + 8, inside);
    let (_, problem) = parse_problem(&bytes);
    assert_eq!(problem, ContainerProblem::BadPayload);
}

#[test]
fn payload_inside_directory_is_rejected() {
    let Sample {
        mut bytes, entries, ..
    } = sample();
    put_u64(&mut bytes, entries[0].start + 8, 0);
    let (_, problem) = parse_problem(&bytes);
    assert_eq!(problem, ContainerProblem::BadPayload);
}

/// Entries 0 and 1 swap their payload offsets and lengths, so the payload
/// of entry 0 comes after that of entry 1.
#[test]
fn payloads_out_of_order_are_rejected() {
    let Sample {
        mut bytes, entries, ..
    } = sample();
    let (first, second) = (entries[0], entries[1]);
    put_u64(&mut bytes, first.start + 8, second.payload_offset as u64);
    put_u64(&mut bytes, first.start + 16, second.payload_len as u64);
    put_u64(&mut bytes, second.start + 8, first.payload_offset as u64);
    put_u64(&mut bytes, second.start + 16, first.payload_len as u64);
    let (_, problem) = parse_problem(&bytes);
    assert_eq!(problem, ContainerProblem::BadPayload);
}

/// Moves the last payload one alignment step further, with zero padding in
/// front of it. The layout promises zero padding between payloads but no
/// bound on it, so such a file is either valid or has a misplaced payload.
/// Its padding bytes are all zero, so `NonZeroReserved` is wrong for it.
#[test]
fn wide_zero_gap_is_not_reported_as_nonzero() {
    let Sample {
        mut bytes, entries, ..
    } = sample();
    let last = entries[2];
    let moved = last.payload_offset + PAYLOAD_ALIGN;
    let payload = bytes[last.payload_offset..].to_vec();
    bytes.truncate(last.payload_offset);
    bytes.resize(moved, 0);
    bytes.extend_from_slice(&payload);
    let len = bytes.len() as u64;
    put_u64(&mut bytes, 24, len);
    put_u64(&mut bytes, last.start + 8, moved as u64);

    if let Err(Error::InvalidContainer { problem, .. }) = Container::parse(&bytes) {
        assert_eq!(problem, ContainerProblem::BadPayload);
    }
}

#[test]
fn nonzero_gap_after_directory_is_rejected() {
    let Sample {
        mut bytes, entries, ..
    } = sample();
    let start = directory_end(&bytes);
    assert!(start < entries[0].payload_offset);
    bytes[entries[0].payload_offset - 1] = 1;
    expect_problem(&bytes, start, ContainerProblem::NonZeroReserved);
}

#[test]
fn nonzero_gap_between_payloads_is_rejected() {
    let Sample {
        mut bytes, entries, ..
    } = sample();
    let gap_start = entries[0].payload_end();
    bytes[entries[1].payload_offset - 1] = 0x80;
    expect_problem(&bytes, gap_start, ContainerProblem::NonZeroReserved);
}

#[test]
fn raw_shape_mismatch_is_rejected() {
    let Sample {
        mut bytes, entries, ..
    } = sample();
    put_u64(&mut bytes, entries[1].shape_at() + 8, 4);
    expect_problem(&bytes, entries[1].start + 16, ContainerProblem::BadPayload);
}

#[test]
fn raw_payload_length_mismatch_is_rejected() {
    let Sample {
        mut bytes, entries, ..
    } = sample();
    let entry = entries[1];
    put_u64(&mut bytes, entry.start + 16, entry.payload_len as u64 - 4);
    expect_problem(&bytes, entry.start + 16, ContainerProblem::BadPayload);
}

// ---------------------------------------------------------------------------
// Quantization parameters
// ---------------------------------------------------------------------------

#[test]
fn unknown_orientation_is_rejected() {
    let Sample {
        mut bytes, entries, ..
    } = sample();
    let block = entries[0].block();
    bytes[block] = 2;
    expect_problem(&bytes, block, ContainerProblem::UnknownCode(2));
}

#[test]
fn other_family_code_is_mismatch() {
    let Sample {
        mut bytes, entries, ..
    } = sample();
    let block = entries[0].block();
    bytes[block + 1] = 1;
    expect_problem(&bytes, block, ContainerProblem::ParameterMismatch);
}

/// `ContainerProblem::UnknownCode` is documented for an unknown orientation
/// or family code.
#[test]
fn unknown_family_code_is_rejected() {
    let Sample {
        mut bytes, entries, ..
    } = sample();
    let block = entries[0].block();
    bytes[block + 1] = 9;
    let (offset, problem) = parse_problem(&bytes);
    assert_eq!(problem, ContainerProblem::UnknownCode(9));
    assert_eq!(offset, block + 1);
}

#[test]
fn unknown_preset_is_rejected() {
    let Sample {
        mut bytes, entries, ..
    } = sample();
    let block = entries[0].block();
    put_u16(&mut bytes, block + 2, 999);
    expect_problem(&bytes, block + 2, ContainerProblem::UnknownPreset(999));
}

#[test]
fn family_parameter_change_is_mismatch() {
    let Sample {
        mut bytes, entries, ..
    } = sample();
    let block = entries[0].block();
    bytes[block + 4] ^= 1;
    expect_problem(&bytes, block, ContainerProblem::ParameterMismatch);
}

#[test]
fn scale_count_change_is_mismatch() {
    let Sample {
        mut bytes, entries, ..
    } = sample();
    let block = entries[0].block();
    bytes[block + 6] -= 1;
    expect_problem(&bytes, block, ContainerProblem::ParameterMismatch);
}

#[test]
fn changed_gain_is_mismatch() {
    let Sample {
        mut bytes, entries, ..
    } = sample();
    let block = entries[0].block();
    bytes[block + 8] ^= 1;
    expect_problem(&bytes, block, ContainerProblem::ParameterMismatch);
}

#[test]
fn changed_scale_is_mismatch() {
    let Sample {
        mut bytes, entries, ..
    } = sample();
    let block = entries[0].block();
    let last_scale = entries[0].fields_end - 4;
    bytes[last_scale] ^= 1;
    expect_problem(&bytes, block, ContainerProblem::ParameterMismatch);
}

#[test]
fn reserved_block_bytes_are_mismatch() {
    for field in [12, 32] {
        let Sample {
            mut bytes, entries, ..
        } = sample();
        let block = entries[0].block();
        bytes[block + field] = 1;
        let (offset, problem) = parse_problem(&bytes);
        assert_eq!(problem, ContainerProblem::ParameterMismatch, "byte {field}");
        assert_eq!(offset, block, "byte {field}");
    }
}

#[test]
fn unknown_flag_is_mismatch() {
    let Sample {
        mut bytes, entries, ..
    } = sample();
    let block = entries[0].block();
    bytes[block + 7] |= 0x08;
    expect_problem(&bytes, block, ContainerProblem::ParameterMismatch);
}

#[test]
fn dither_flag_on_lloyd_is_mismatch() {
    let Sample {
        mut bytes, entries, ..
    } = sample();
    let block = entries[2].block();
    bytes[block + 7] |= 0x04;
    expect_problem(&bytes, block, ContainerProblem::ParameterMismatch);
}

#[test]
fn cleared_rotation_flag_is_mismatch() {
    let Sample {
        mut bytes, entries, ..
    } = sample();
    let block = entries[0].block();
    bytes[block + 7] &= !0x02;
    expect_problem(&bytes, block, ContainerProblem::ParameterMismatch);
}

/// A changed seed or mean flag gives a consistent block that disagrees
/// with the payload's own header.
#[test]
fn changed_rotation_seed_is_mismatch() {
    let Sample {
        mut bytes, entries, ..
    } = sample();
    let block = entries[0].block();
    bytes[block + 16] ^= 1;
    expect_problem(
        &bytes,
        entries[0].start,
        ContainerProblem::ParameterMismatch,
    );
}

#[test]
fn changed_mean_flag_is_mismatch() {
    let Sample {
        mut bytes, entries, ..
    } = sample();
    let block = entries[0].block();
    bytes[block + 7] ^= 0x01;
    expect_problem(
        &bytes,
        entries[0].start,
        ContainerProblem::ParameterMismatch,
    );
}

#[test]
fn changed_orientation_is_mismatch() {
    let Sample {
        mut bytes, entries, ..
    } = sample();
    let block = entries[0].block();
    bytes[block] = 1;
    expect_problem(
        &bytes,
        entries[0].start,
        ContainerProblem::ParameterMismatch,
    );
}

#[test]
fn quantized_shape_edit_is_mismatch() {
    let Sample {
        mut bytes, entries, ..
    } = sample();
    put_u64(&mut bytes, entries[0].shape_at(), Q0_ROWS as u64 + 1);
    expect_problem(
        &bytes,
        entries[0].start,
        ContainerProblem::ParameterMismatch,
    );
}

/// Replaces the payload of "q0" (`e8-4`) with the same matrix quantized by
/// another preset whose payload has the same length.
#[test]
fn payload_of_other_preset_is_mismatch() {
    let Sample {
        mut bytes,
        entries,
        q0_data,
    } = sample();
    let entry = entries[0];
    let vectors = VectorSet::rows(&q0_data, Q0_ROWS, Q0_COLS).unwrap();
    let other = Preset::all()
        .iter()
        .filter(|preset| preset.name() != "e8-4")
        .map(|preset| QuantizedMatrix::quantize(&vectors, &QuantizerConfig::new(preset)).unwrap())
        .find(|matrix| matrix.as_bytes().len() == entry.payload_len)
        .expect("no other preset has a payload of the same length");

    let payload = entry.payload_offset..entry.payload_end();
    assert_ne!(&bytes[payload.clone()], other.as_bytes());
    bytes[payload].copy_from_slice(other.as_bytes());
    expect_problem(&bytes, entry.start, ContainerProblem::ParameterMismatch);
}

#[test]
fn payload_vector_count_edit_is_bad_header() {
    let Sample {
        mut bytes, entries, ..
    } = sample();
    let entry = entries[0];
    // Bytes 20..24 of a quantized payload store the vector count.
    bytes[entry.payload_offset + 20] += 1;
    expect_problem(
        &bytes,
        entry.start + 8,
        ContainerProblem::BadMatrix(QuantizedMatrixProblem::Header),
    );
}

#[test]
fn payload_bad_magic_is_bad_header() {
    let Sample {
        mut bytes, entries, ..
    } = sample();
    let entry = entries[2];
    bytes[entry.payload_offset] = b'X';
    expect_problem(
        &bytes,
        entry.start + 8,
        ContainerProblem::BadMatrix(QuantizedMatrixProblem::Header),
    );
}

#[test]
fn corrupt_norm_is_bad_values() {
    for norm in [0x7FC0u16, 0x7F80, 0x8000 | 0x3F80] {
        let Sample {
            mut bytes, entries, ..
        } = sample();
        let entry = entries[0];
        // The norm of vector 1 as bf16, after the 40-byte payload header.
        put_u16(&mut bytes, entry.payload_offset + 42, norm);
        let (offset, problem) = parse_problem(&bytes);
        let expected = ContainerProblem::BadMatrix(QuantizedMatrixProblem::Values);
        assert_eq!(problem, expected, "norm {norm:#06x}");
        assert_eq!(offset, entry.start + 8, "norm {norm:#06x}");
    }
}

#[test]
fn corrupt_mean_is_bad_values() {
    let Sample {
        mut bytes, entries, ..
    } = sample();
    let entry = entries[0];
    // The `f32` means follow the 3 norms. Mean 0 becomes NaN.
    let mean_at = entry.payload_offset + 40 + 2 * Q0_ROWS;
    bytes[mean_at..mean_at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    expect_problem(
        &bytes,
        entry.start + 8,
        ContainerProblem::BadMatrix(QuantizedMatrixProblem::Values),
    );
}

// ---------------------------------------------------------------------------
// Writer input checks
// ---------------------------------------------------------------------------

fn writer_problem(result: Result<(), Error>) -> (usize, ContainerProblem) {
    match result {
        Err(Error::InvalidContainer { offset, problem }) => (offset, problem),
        other => panic!("expected Error::InvalidContainer, got {other:?}"),
    }
}

fn small_matrix() -> QuantizedMatrix {
    quantize(
        2,
        8,
        Orientation::Rows,
        &QuantizerConfig::new(preset("e8-4")),
        31,
    )
}

#[test]
fn writer_rejects_empty_name() {
    let mut writer = ContainerWriter::new();
    let result = writer.add_raw("", TensorKind::F32, &[1], vec![0; 4]);
    assert_eq!(writer_problem(result), (0, ContainerProblem::BadName));
}

#[test]
fn writer_rejects_empty_quantized_name() {
    let matrix = small_matrix();
    let mut writer = ContainerWriter::new();
    let result = writer.add_quantized("", &matrix.view(), Orientation::Rows);
    assert_eq!(writer_problem(result), (0, ContainerProblem::BadName));
}

#[test]
fn writer_rejects_overlong_name() {
    let name = "n".repeat(MAX_NAME_LEN + 1);
    let mut writer = ContainerWriter::new();
    let result = writer.add_raw(&name, TensorKind::F32, &[1], vec![0; 4]);
    assert_eq!(writer_problem(result), (0, ContainerProblem::BadName));
}

#[test]
fn writer_rejects_overlong_quantized_name() {
    let name = "n".repeat(MAX_NAME_LEN + 1);
    let matrix = small_matrix();
    let mut writer = ContainerWriter::new();
    let result = writer.add_quantized(&name, &matrix.view(), Orientation::Rows);
    assert_eq!(writer_problem(result), (0, ContainerProblem::BadName));
}

#[test]
fn writer_rejects_repeated_name() {
    let matrix = small_matrix();
    let mut writer = ContainerWriter::new();
    writer
        .add_raw("w", TensorKind::F32, &[1], vec![0; 4])
        .unwrap();
    let raw = writer.add_raw("w", TensorKind::F16, &[1], vec![0; 2]);
    let quantized = writer.add_quantized("w", &matrix.view(), Orientation::Rows);
    assert_eq!(writer_problem(raw), (0, ContainerProblem::BadName));
    assert_eq!(writer_problem(quantized), (0, ContainerProblem::BadName));
    assert_eq!(writer.len(), 1);
}

#[test]
fn writer_rejects_raw_quantized_kind() {
    let mut writer = ContainerWriter::new();
    let result = writer.add_raw("w", TensorKind::Quantized, &[4], vec![0; 4]);
    assert_eq!(
        writer_problem(result),
        (0, ContainerProblem::UnknownKind(0))
    );
}

#[test]
fn writer_rejects_rank_0() {
    let mut writer = ContainerWriter::new();
    let result = writer.add_raw("w", TensorKind::F32, &[], vec![0; 4]);
    assert_eq!(writer_problem(result), (0, ContainerProblem::BadRank(0)));
}

#[test]
fn writer_rejects_rank_9() {
    let mut writer = ContainerWriter::new();
    let result = writer.add_raw("w", TensorKind::F32, &[1; 9], vec![0; 4]);
    assert_eq!(writer_problem(result), (0, ContainerProblem::BadRank(9)));
}

#[test]
fn writer_rejects_payload_length_mismatch() {
    for len in [11, 13] {
        let mut writer = ContainerWriter::new();
        let result = writer.add_raw("w", TensorKind::F16, &[2, 3], vec![0; len]);
        assert_eq!(
            writer_problem(result),
            (0, ContainerProblem::BadPayload),
            "{len} bytes"
        );
    }
}

#[test]
fn writer_rejects_shape_overflow() {
    let mut writer = ContainerWriter::new();
    let result = writer.add_raw("w", TensorKind::F32, &[u64::MAX, 2], Vec::new());
    assert_eq!(writer_problem(result), (0, ContainerProblem::BadPayload));
}

#[test]
fn rejected_add_leaves_writer_unchanged() {
    let mut writer = ContainerWriter::new();
    let _ = writer.add_raw("w", TensorKind::F32, &[2], vec![0; 4]);
    assert!(writer.is_empty());
}

// ---------------------------------------------------------------------------
// Random byte flips
// ---------------------------------------------------------------------------

/// Returns a valid file with two quantized tensors and one raw tensor.
fn flip_target() -> Vec<u8> {
    let rows = quantize(
        3,
        20,
        Orientation::Rows,
        &QuantizerConfig::new(preset("e8-3")),
        41,
    );
    let dithered = QuantizerConfig::new(preset("z-2"))
        .with_dither_seed(Some(5))
        .unwrap()
        .with_mean_removal(false);
    let columns = quantize(9, 2, Orientation::Columns, &dithered, 42);

    let mut writer = ContainerWriter::new();
    writer
        .add_quantized("rows", &rows.view(), Orientation::Rows)
        .unwrap();
    writer
        .add_raw("bias", TensorKind::Bf16, &[5], pattern_bytes(10, 43))
        .unwrap();
    writer
        .add_quantized("columns", &columns.view(), Orientation::Columns)
        .unwrap();
    writer.to_bytes().unwrap()
}

/// Maximum vector length that `walk` multiplies. A flipped header could
/// describe an empty matrix of 2^32 - 1 entries per vector, whose `x` would
/// not fit memory.
const MAX_WALK_VECTOR_LEN: usize = 1 << 16;

/// Uses every accessor of a parsed container the way a reader would.
/// Returns the number of products that succeeded.
fn walk(container: &Container<'_>) -> Result<usize, TestCaseError> {
    let mut products = 0;
    let mut seen = 0;
    for entry in container.tensors() {
        seen += 1;
        let found = container.get(entry.name());
        prop_assert!(found.is_some(), "get({:?}) is None", entry.name());
        prop_assert_eq!(found.unwrap().payload(), entry.payload());

        let Some(view) = entry.matrix() else {
            let value_bytes = entry.kind().value_bytes().unwrap() as u64;
            let values: u64 = entry.shape().iter().product();
            prop_assert_eq!(values * value_bytes, entry.payload().len() as u64);
            continue;
        };
        prop_assert!(view.is_ok(), "matrix() of {:?}: {:?}", entry.name(), view);
        let view = view.unwrap();
        if view.vector_len() > MAX_WALK_VECTOR_LEN {
            continue;
        }
        let x = vec![0.5f32; view.vector_len()];
        let mut scratch = vec![0.0f32; scratch_len(view.coded_len(), 1)];
        let mut y = vec![0.0f32; view.vector_count()];
        // A flipped code word may be out of range, so an error is allowed.
        if matvec(&view, &x, &mut scratch, &mut y).is_ok() {
            products += 1;
        }
    }
    prop_assert_eq!(seen, container.len());
    Ok(products)
}

#[test]
fn flip_target_walks_cleanly() {
    let bytes = flip_target();
    let products = walk(&parse(&bytes)).unwrap();
    assert_eq!(products, 2);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn flipped_bytes_never_panic(
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..8),
    ) {
        let mut bytes = flip_target();
        for (index, mask) in &flips {
            let at = index.index(bytes.len());
            bytes[at] ^= mask;
        }
        if let Ok(container) = Container::parse(&bytes) {
            walk(&container)?;
        }
    }

    /// Flips only bytes of the header and the directory, where most checks
    /// of the parser live.
    #[test]
    fn flipped_directory_never_panics(
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..4),
    ) {
        let mut bytes = flip_target();
        let directory_end = directory_end(&bytes);
        for (index, mask) in &flips {
            let at = index.index(directory_end);
            bytes[at] ^= mask;
        }
        if let Ok(container) = Container::parse(&bytes) {
            walk(&container)?;
        }
    }
}

#[test]
fn tensor_count_above_cap_is_rejected() {
    let mut bytes = sample().bytes;
    bytes[12..16].copy_from_slice(&(MAX_TENSORS as u32 + 1).to_le_bytes());
    expect_problem(&bytes, 12, ContainerProblem::TooManyTensors);
}

#[test]
fn writer_rejects_too_many_tensors() {
    let mut writer = ContainerWriter::new();
    for index in 0..=MAX_TENSORS {
        writer
            .add_raw(&format!("t{index}"), TensorKind::F32, &[1], vec![0; 4])
            .unwrap();
    }
    assert_eq!(
        writer.to_bytes(),
        Err(Error::InvalidContainer {
            offset: 12,
            problem: ContainerProblem::TooManyTensors
        })
    );
}
