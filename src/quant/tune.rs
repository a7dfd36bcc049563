//! Tuning of preset parameters on iid N(0, 1) groups (feature `alloc`).
//!
//! The procedure that produced the scale sets and gains of [`Preset`]:
//!
//! 1. draw `count` groups of 8 iid N(0, 1) values from a seed;
//! 2. for a Voronoi, hierarchical or ball preset, minimize the per-entry
//!    squared error by coordinate descent on the logarithms of the scales.
//!    Each scale in turn is multiplied by `1 + step`, or divided by it, when
//!    that lowers the error and keeps the scales increasing. `step` halves,
//!    from 8% down to 0.25%, whenever a full sweep changes nothing;
//! 3. measure the gain `E<x, x_hat> / E|x_hat|^2` of the final code.
//!
//! The error minimized is the one after the gain, `E|x - g x_hat|^2`, so
//! the scales and the gain are tuned together. Scales are selected per
//! block by the lowest error before the gain, as the encoder does.

use alloc::vec::Vec;

use super::codec::GroupCodec;
use super::preset::{Family, Preset};
use super::rotation::GROUP_LEN;
use crate::Error;
use crate::rng::SplitMix64;

/// Largest sample that [`gaussian_groups`] draws: 2^24 groups, 512 MiB.
pub const MAX_TUNING_GROUPS: usize = 1 << 24;

/// First relative step of the coordinate descent.
const FIRST_STEP: f32 = 0.08;

/// The step below which the descent stops.
const LAST_STEP: f32 = 0.0025;

/// The error of a code on a sample and its least-squares gain.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Measurement {
    /// Per-entry squared error after the gain, `E|x - g x_hat|^2 / 8`.
    pub mse: f64,
    /// The least-squares gain `g = E<x, x_hat> / E|x_hat|^2`.
    pub gain: f64,
}

/// Parameters found by [`tune`].
#[derive(Clone, Debug, PartialEq)]
pub struct Tuned {
    /// The scales (one for a hierarchical or ball preset, none for the
    /// others).
    pub scales: Vec<f32>,
    /// The measurement with the tuned scales.
    pub measurement: Measurement,
}

/// Draws `count` groups of iid N(0, 1) values from `seed`.
///
/// # Errors
///
/// [`Error::ShapeTooLarge`] when `count` exceeds [`MAX_TUNING_GROUPS`].
pub fn gaussian_groups(count: usize, seed: u64) -> Result<Vec<[f32; GROUP_LEN]>, Error> {
    if count > MAX_TUNING_GROUPS {
        return Err(Error::ShapeTooLarge {
            vector_len: GROUP_LEN,
            vector_count: count,
        });
    }
    let mut rng = SplitMix64::new(seed);
    Ok((0..count)
        .map(|_| core::array::from_fn(|_| rng.next_gaussian() as f32))
        .collect())
}

/// Measures the error and gain of `preset` as stored, before its gain. For
/// the low-rate presets this is the error of the shell code on the groups
/// they keep. An empty sample gives an error and a gain of 0.
///
/// # Errors
///
/// The construction errors of the preset's code.
pub fn measure_preset(preset: &Preset, samples: &[[f32; GROUP_LEN]]) -> Result<Measurement, Error> {
    measure(&GroupCodec::new(preset.family(), None)?, samples)
}

/// Measures the error and gain of a preset family with other scales: the
/// scale set of a Voronoi family, or the one scale of a hierarchical or ball
/// family.
/// Other families ignore `scales`.
///
/// # Errors
///
/// The construction errors of the code, such as [`Error::InvalidScale`] for
/// scales that are not increasing.
pub fn measure_with_scales(
    family: &Family,
    scales: &[f32],
    samples: &[[f32; GROUP_LEN]],
) -> Result<Measurement, Error> {
    let codec = match *family {
        Family::Voronoi { lattice, q, .. } => GroupCodec::voronoi(lattice, q, scales, None)?,
        Family::Hierarchical { layers, .. } => {
            let beta = *scales.first().ok_or(Error::InvalidScaleCount { k: 0 })?;
            GroupCodec::new(&Family::Hierarchical { layers, beta }, None)?
        }
        Family::Ball { .. } => {
            let beta = *scales.first().ok_or(Error::InvalidScaleCount { k: 0 })?;
            GroupCodec::new(&Family::Ball { beta }, None)?
        }
        _ => GroupCodec::new(family, None)?,
    };
    measure(&codec, samples)
}

/// Tunes the scales of `preset` on `samples`, starting from its stored
/// scales, and measures the gain.
///
/// # Errors
///
/// The construction errors of the preset's code.
pub fn tune(preset: &Preset, samples: &[[f32; GROUP_LEN]]) -> Result<Tuned, Error> {
    let family = preset.family();
    let mut scales: Vec<f32> = match *family {
        Family::Voronoi { scales, .. } => scales.to_vec(),
        Family::Hierarchical { beta, .. } | Family::Ball { beta } => alloc::vec![beta],
        _ => Vec::new(),
    };
    let mut best = measure_with_scales(family, &scales, samples)?;

    let mut step = FIRST_STEP;
    while !scales.is_empty() && step >= LAST_STEP {
        let mut improved = false;
        for index in 0..scales.len() {
            for factor in [1.0 + step, 1.0 / (1.0 + step)] {
                let mut candidate = scales.clone();
                candidate[index] *= factor;
                if !is_increasing(&candidate) {
                    continue;
                }
                let measurement = measure_with_scales(family, &candidate, samples)?;
                if measurement.mse < best.mse {
                    best = measurement;
                    scales = candidate;
                    improved = true;
                }
            }
        }
        if !improved {
            step /= 2.0;
        }
    }

    Ok(Tuned {
        scales,
        measurement: best,
    })
}

fn is_increasing(scales: &[f32]) -> bool {
    scales.windows(2).all(|pair| pair[0] < pair[1])
}

/// Encodes and decodes every sample and returns the error after the
/// least-squares gain.
fn measure(codec: &GroupCodec, samples: &[[f32; GROUP_LEN]]) -> Result<Measurement, Error> {
    let mut signal = 0.0f64;
    let mut cross = 0.0f64;
    let mut decoded_energy = 0.0f64;
    for (index, x) in samples.iter().enumerate() {
        let word = codec.encode(x, index as u64)?;
        let x_hat = codec.decode(word, index as u64)?;
        for (&value, &estimate) in x.iter().zip(&x_hat) {
            signal += f64::from(value) * f64::from(value);
            cross += f64::from(value) * f64::from(estimate);
            decoded_energy += f64::from(estimate) * f64::from(estimate);
        }
    }

    let entries = (samples.len() * GROUP_LEN).max(1) as f64;
    let gain = if decoded_energy > 0.0 {
        cross / decoded_energy
    } else {
        0.0
    };
    let error = signal - gain * cross;
    Ok(Measurement {
        mse: error / entries,
        gain,
    })
}
