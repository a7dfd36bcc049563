//! Nested-lattice codes built on the lattices of [`crate::lattice`].

/// Largest number of scales a multi-scale code accepts per block.
pub const MAX_SCALES: usize = 16;

/// Largest number of layers a hierarchical code accepts.
pub const MAX_LAYERS: usize = 8;

mod ball;
mod coset_table;
mod dither;
mod hierarchical;
mod lloyd_max;
mod multiscale;
mod shell;
mod voronoi;

pub(crate) use ball::pattern_word;
pub use ball::{BALL_PATTERNS, E8BallCode, ball_doubled, ball_vector};
pub use coset_table::E8CosetTable;
pub use hierarchical::{HierarchicalCode, HierarchicalIndex};
pub use lloyd_max::{LloydMaxCode, MAX_LLOYD_MAX_BITS, solve_gaussian_levels};
pub use multiscale::{MultiScaleCode, MultiScaleIndex, ScaleSelection};
pub use shell::{E8ShellCode, shell_vector};
pub(crate) use voronoi::validate_finite;
pub use voronoi::{VoronoiCode, VoronoiIndex};
