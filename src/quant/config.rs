//! The settings of one quantization: preset, mean removal, rotation, dither.

use super::preset::{Family, Preset};
use crate::Error;

/// Rotation seed of [`QuantizerConfig::new`]. Any seed works, but the two
/// operands of a product must use the same one.
pub const DEFAULT_ROTATION_SEED: u64 = 0x6E65_7374_6C61_7401;

/// The settings of one quantization. Both operands of a product must agree on the
/// rotation seed, and on mean removal when both are coded.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct QuantizerConfig {
    preset: &'static Preset,
    remove_mean: bool,
    rotation_seed: Option<u64>,
    dither_seed: Option<u64>,
}

impl QuantizerConfig {
    /// Creates the default setting for `preset`: means removed, rotated with
    /// [`DEFAULT_ROTATION_SEED`], no dither.
    pub fn new(preset: &'static Preset) -> Self {
        Self {
            preset,
            remove_mean: true,
            rotation_seed: Some(DEFAULT_ROTATION_SEED),
            dither_seed: None,
        }
    }

    /// Sets whether each vector's mean is removed and stored.
    #[must_use]
    pub fn with_mean_removal(mut self, remove_mean: bool) -> Self {
        self.remove_mean = remove_mean;
        self
    }

    /// Sets the rotation seed, or turns the rotation off with `None`.
    #[must_use]
    pub fn with_rotation_seed(mut self, seed: Option<u64>) -> Self {
        self.rotation_seed = seed;
        self
    }

    /// Sets the subtractive dither seed of a Voronoi preset, or turns the
    /// dither off with `None`.
    ///
    /// # Errors
    ///
    /// [`Error::DitherUnsupported`] for a preset that is not a Voronoi code.
    pub fn with_dither_seed(mut self, seed: Option<u64>) -> Result<Self, Error> {
        let is_voronoi = matches!(self.preset.family(), Family::Voronoi { .. });
        if seed.is_some() && !is_voronoi {
            return Err(Error::DitherUnsupported {
                preset: self.preset.id(),
            });
        }
        self.dither_seed = seed;
        Ok(self)
    }

    /// Returns the preset.
    pub fn preset(&self) -> &'static Preset {
        self.preset
    }

    /// Tells whether means are removed.
    pub fn removes_mean(&self) -> bool {
        self.remove_mean
    }

    /// Returns the rotation seed, or `None` when vectors are not rotated.
    pub fn rotation_seed(&self) -> Option<u64> {
        self.rotation_seed
    }

    /// Returns the dither seed, or `None` without dither.
    pub fn dither_seed(&self) -> Option<u64> {
        self.dither_seed
    }
}
