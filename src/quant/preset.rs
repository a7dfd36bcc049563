//! Named quantizer presets: a block code, its parameters and its gain.
//!
//! Every preset codes a vector in groups of 8 coordinates after the vector
//! has been normalized to unit energy per coordinate. The scale sets and
//! gains are tuned for iid N(0, 1) input by `quant::tune` (feature `alloc`),
//! which `nestlat tune` runs. The test suite checks that each stored set is
//! a local optimum of that procedure.
//!
//! | family | presets | code per group of 8 |
//! |---|---|---|
//! | E8 Voronoi | `e8-4`, `e8-3`, `e8-2` | one E8 block, shifted by a deep hole, `k` scales |
//! | E8 ball | `e8b-2` | one of the 2^16 half-integer E8 points nearest the origin |
//! | D4 Voronoi | `d4-4`, `d4-3`, `d4-2` | two D4 blocks that share one of `k` scales, each shifted by a deep hole |
//! | Z Voronoi | `z-4`, `z-3`, `z-2` | one Z^8 block, shifted by 1/2, `k` scales |
//! | Lloyd-Max | `lloyd-4`, `lloyd-3`, `lloyd-2` | 8 scalar Gaussian Lloyd-Max digits |
//! | hierarchical E8 | `e8h-4`, `e8h-3`, `e8h-2` | `M` layers of E8 with `q = 2`, one byte each |
//! | E8 shell | `shell-1` | one of the 256 E8 vectors of squared norm 2 |
//! | low rate | `low-0.75`, `low-0.5`, `low-0.25` | shell code on a fraction of the groups, nothing for the rest |
//!
//! The low-rate presets implement the regime below `R* = 0.906` bit of
//! Ordentlich and Polyanskiy ("Optimal quantization for matrix
//! multiplication", ISIT 2025). After the rotation only the first
//! `ceil(R * groups)` groups are coded, at one bit per coordinate. The
//! decoder uses zero for the others and does not rescale.

/// The lattice of a Voronoi preset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LatticeKind {
    /// The Gosset lattice E8, one block per group.
    E8,
    /// The checkerboard lattice D4, two blocks per group that share a scale.
    D4,
    /// The integer lattice Z^8, one block per group.
    Z8,
}

/// The block code of a preset and its parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Family {
    /// A multi-scale Voronoi code shifted by a deep hole of the lattice.
    Voronoi {
        /// The lattice.
        lattice: LatticeKind,
        /// The nesting ratio.
        q: u32,
        /// The scales, increasing, for unit-variance input.
        scales: &'static [f32],
    },
    /// A hierarchical E8 code with nesting ratio 2 per layer.
    Hierarchical {
        /// Number of layers, one bit per coordinate each.
        layers: usize,
        /// The scale of the fine lattice.
        beta: f32,
    },
    /// The 2^16-point ball code of the half-integer coset of E8, at one scale.
    Ball {
        /// The scale of the unit codewords.
        beta: f32,
    },
    /// The scalar Gaussian Lloyd-Max code.
    LloydMax {
        /// Bits per coordinate.
        bits: u32,
    },
    /// The 256-point E8 shell code on the first `ceil(groups * kept_quarters
    /// / 4)` groups of each vector.
    Shell {
        /// Kept fraction of the groups, in quarters (4 keeps all).
        kept_quarters: u32,
    },
}

/// A named quantizer setting.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Preset {
    name: &'static str,
    id: u16,
    nominal_bits: f32,
    family: Family,
    gain: f32,
}

impl Preset {
    /// Returns every preset, ordered by family and then by falling rate.
    pub fn all() -> &'static [Preset] {
        &PRESETS
    }

    /// Returns the preset called `name`, such as `"e8-4"`.
    pub fn by_name(name: &str) -> Option<&'static Preset> {
        PRESETS.iter().find(|preset| preset.name == name)
    }

    /// Returns the preset with the stored id `id`.
    pub fn by_id(id: u16) -> Option<&'static Preset> {
        PRESETS.iter().find(|preset| preset.id == id)
    }

    /// Returns the name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Returns the id stored in quantized matrices.
    pub fn id(&self) -> u16 {
        self.id
    }

    /// Returns the bits per coordinate of the codes, without the per-vector
    /// norm and mean.
    pub fn nominal_bits(&self) -> f32 {
        self.nominal_bits
    }

    /// Returns the block code and its parameters.
    pub fn family(&self) -> &Family {
        &self.family
    }

    /// Returns the factor applied to every decoded group, measured on
    /// Gaussian data as `E<x, x_hat> / E|x_hat|^2`.
    pub fn gain(&self) -> f32 {
        self.gain
    }
}

const fn voronoi(
    name: &'static str,
    id: u16,
    nominal_bits: f32,
    lattice: LatticeKind,
    q: u32,
    scales: &'static [f32],
    gain: f32,
) -> Preset {
    Preset {
        name,
        id,
        nominal_bits,
        family: Family::Voronoi { lattice, q, scales },
        gain,
    }
}

const fn hierarchical(name: &'static str, id: u16, layers: usize, beta: f32, gain: f32) -> Preset {
    Preset {
        name,
        id,
        nominal_bits: layers as f32,
        family: Family::Hierarchical { layers, beta },
        gain,
    }
}

const fn ball(name: &'static str, id: u16, beta: f32, gain: f32) -> Preset {
    Preset {
        name,
        id,
        nominal_bits: 2.0,
        family: Family::Ball { beta },
        gain,
    }
}

const fn lloyd_max(name: &'static str, id: u16, bits: u32) -> Preset {
    Preset {
        name,
        id,
        nominal_bits: bits as f32,
        // The levels are centroids, so the least-squares gain is 1.
        family: Family::LloydMax { bits },
        gain: 1.0,
    }
}

const fn shell(name: &'static str, id: u16, kept_quarters: u32, gain: f32) -> Preset {
    Preset {
        name,
        id,
        nominal_bits: kept_quarters as f32 / 4.0,
        family: Family::Shell { kept_quarters },
        gain,
    }
}

/// Every preset. Ids are part of the stored format and never reused.
///
/// Scales and gains were found by `nestlat tune --samples 20000 --seed 7`
/// (scales rounded to 3 decimals, gains to 4). The tuner starts from the
/// stored scales, so a rerun moves them by a few thousandths at most, and
/// the test suite checks that they are local optima of its objective. The
/// Voronoi scale sets use q = 13, k = 5 at 4 bits, q = 6, k = 9 at 3 bits
/// and q = 3, k = 9 at 2 bits for every lattice, the largest `k` that fits
/// the word at each `q`.
const PRESETS: [Preset; 20] = [
    voronoi(
        "e8-4",
        1,
        4.0,
        LatticeKind::E8,
        13,
        &[0.234, 0.284, 0.332, 0.400, 0.552],
        0.9961,
    ),
    voronoi(
        "e8-3",
        2,
        3.0,
        LatticeKind::E8,
        6,
        &[
            0.429, 0.508, 0.577, 0.648, 0.726, 0.809, 0.910, 1.046, 1.281,
        ],
        0.9916,
    ),
    voronoi(
        "e8-2",
        3,
        2.0,
        LatticeKind::E8,
        3,
        &[
            0.801, 0.995, 1.148, 1.301, 1.474, 1.662, 1.884, 2.211, 2.734,
        ],
        0.9483,
    ),
    voronoi(
        "d4-4",
        4,
        4.0,
        LatticeKind::D4,
        13,
        &[0.210, 0.263, 0.306, 0.362, 0.523],
        0.9952,
    ),
    voronoi(
        "d4-3",
        5,
        3.0,
        LatticeKind::D4,
        6,
        &[
            0.369, 0.445, 0.514, 0.580, 0.655, 0.748, 0.855, 1.025, 1.288,
        ],
        0.9886,
    ),
    voronoi(
        "d4-2",
        6,
        2.0,
        LatticeKind::D4,
        3,
        &[
            0.718, 0.942, 1.125, 1.298, 1.478, 1.662, 1.921, 2.211, 2.775,
        ],
        0.9196,
    ),
    voronoi(
        "z-4",
        7,
        4.0,
        LatticeKind::Z8,
        13,
        &[0.278, 0.328, 0.383, 0.492, 0.669],
        0.9937,
    ),
    voronoi(
        "z-3",
        8,
        3.0,
        LatticeKind::Z8,
        6,
        &[
            0.405, 0.499, 0.580, 0.659, 0.745, 0.842, 0.973, 1.137, 1.463,
        ],
        0.9876,
    ),
    voronoi(
        "z-2",
        9,
        2.0,
        LatticeKind::Z8,
        3,
        &[
            0.713, 0.940, 1.161, 1.430, 1.740, 2.078, 2.419, 2.825, 3.478,
        ],
        0.8553,
    ),
    ball("e8b-2", 20, 0.893, 0.9996),
    lloyd_max("lloyd-4", 10, 4),
    lloyd_max("lloyd-3", 11, 3),
    lloyd_max("lloyd-2", 12, 2),
    // NOTE: with q = 2 each layer halves the point and adds up to the
    // covering radius, so the range grows far slower than 2^M and the
    // tuned scale is coarse: these presets are 8 to 14 dB above 2^(-2R).
    // They exist for table-lookup kernels, not for accuracy.
    hierarchical("e8h-4", 13, 4, 1.050, 0.9090),
    hierarchical("e8h-3", 14, 3, 1.916, 0.7682),
    hierarchical("e8h-2", 15, 2, 2.686, 0.6062),
    shell("shell-1", 16, 4, 1.6510),
    shell("low-0.75", 17, 3, 1.6510),
    shell("low-0.5", 18, 2, 1.6510),
    shell("low-0.25", 19, 1, 1.6510),
];
