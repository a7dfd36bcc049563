//! The quantization parameters of a directory entry.
//!
//! A reader rebuilds the canonical parameter block from the preset it finds
//! and compares it byte for byte with the stored one, so every stored
//! parameter is checked against the presets of this build.

use super::{ContainerProblem, invalid};
use crate::Error;
use crate::code::MAX_SCALES;
use crate::quant::{Family, LatticeKind, Orientation, Preset, QuantizerConfig};

/// Bytes of the parameter block before the scales.
pub(crate) const FIXED_LEN: usize = 40;

/// Bytes of the longest parameter block.
pub(crate) const MAX_LEN: usize = FIXED_LEN + 4 * MAX_SCALES;

/// Largest family code: 6, the E8 ball code.
const MAX_FAMILY_CODE: u8 = 6;

const FLAG_MEAN_REMOVED: u8 = 1;
const FLAG_ROTATED: u8 = 2;
const FLAG_DITHERED: u8 = 4;

/// Returns the length of the parameter block of `preset`.
pub(crate) fn block_len(preset: &Preset) -> usize {
    FIXED_LEN + 4 * family_fields(preset).2.len()
}

/// Writes the parameter block of a tensor into `out`, which has
/// [`block_len`] bytes.
pub(crate) fn write_block(out: &mut [u8], orientation: Orientation, config: &QuantizerConfig) {
    let preset = config.preset();
    let (family, parameter, scales) = family_fields(preset);
    let mut flags = 0;
    if config.removes_mean() {
        flags |= FLAG_MEAN_REMOVED;
    }
    if config.rotation_seed().is_some() {
        flags |= FLAG_ROTATED;
    }
    if config.dither_seed().is_some() {
        flags |= FLAG_DITHERED;
    }

    out.fill(0);
    out[0] = match orientation {
        Orientation::Rows => 0,
        Orientation::Columns => 1,
    };
    out[1] = family;
    out[2..4].copy_from_slice(&preset.id().to_le_bytes());
    out[4..6].copy_from_slice(&parameter.to_le_bytes());
    // At most MAX_SCALES = 16 scales, so the count fits a byte.
    out[6] = scales.len() as u8;
    out[7] = flags;
    out[8..12].copy_from_slice(&preset.gain().to_le_bytes());
    out[16..24].copy_from_slice(&config.rotation_seed().unwrap_or(0).to_le_bytes());
    out[24..32].copy_from_slice(&config.dither_seed().unwrap_or(0).to_le_bytes());
    for (i, scale) in scales.iter().enumerate() {
        let start = FIXED_LEN + 4 * i;
        out[start..start + 4].copy_from_slice(&scale.to_le_bytes());
    }
}

/// Reads the parameter block at `offset` of `bytes` and checks it against
/// the preset it names. Returns the orientation, the setting and the block
/// length.
pub(crate) fn read_block(
    bytes: &[u8],
    offset: usize,
) -> Result<(Orientation, QuantizerConfig, usize), Error> {
    let fixed = bytes
        .get(offset..offset.saturating_add(FIXED_LEN))
        .ok_or(invalid(offset, ContainerProblem::Truncated))?;

    let orientation = match fixed[0] {
        0 => Orientation::Rows,
        1 => Orientation::Columns,
        code => return Err(invalid(offset, ContainerProblem::UnknownCode(code))),
    };
    if fixed[1] > MAX_FAMILY_CODE {
        return Err(invalid(offset + 1, ContainerProblem::UnknownCode(fixed[1])));
    }
    let id = u16::from_le_bytes([fixed[2], fixed[3]]);
    let preset =
        Preset::by_id(id).ok_or(invalid(offset + 2, ContainerProblem::UnknownPreset(id)))?;
    let flags = fixed[7];
    let seed = |start: usize| {
        let mut value = [0u8; 8];
        value.copy_from_slice(&fixed[start..start + 8]);
        u64::from_le_bytes(value)
    };
    let rotation = (flags & FLAG_ROTATED != 0).then(|| seed(16));
    let dither = (flags & FLAG_DITHERED != 0).then(|| seed(24));
    let mismatch = invalid(offset, ContainerProblem::ParameterMismatch);
    let config = QuantizerConfig::new(preset)
        .with_mean_removal(flags & FLAG_MEAN_REMOVED != 0)
        .with_rotation_seed(rotation)
        .with_dither_seed(dither)
        .map_err(|_| mismatch)?;

    let len = block_len(preset);
    let stored = bytes
        .get(offset..offset.saturating_add(len))
        .ok_or(invalid(offset, ContainerProblem::Truncated))?;
    let mut expected = [0u8; MAX_LEN];
    write_block(&mut expected[..len], orientation, &config);
    if stored != &expected[..len] {
        return Err(mismatch);
    }
    Ok((orientation, config, len))
}

/// Returns the family code, the family parameter and the stored scales.
fn family_fields(preset: &Preset) -> (u8, u16, &[f32]) {
    match preset.family() {
        Family::Voronoi { lattice, q, scales } => {
            let code = match lattice {
                LatticeKind::E8 => 0,
                LatticeKind::D4 => 1,
                LatticeKind::Z8 => 2,
            };
            // Nesting ratios are at most 256.
            (code, *q as u16, scales)
        }
        Family::Hierarchical { layers, beta } => (3, *layers as u16, core::slice::from_ref(beta)),
        Family::LloydMax { bits } => (4, *bits as u16, &[]),
        Family::Shell { kept_quarters } => (5, *kept_quarters as u16, &[]),
        Family::Ball { beta } => (6, 0, core::slice::from_ref(beta)),
    }
}
