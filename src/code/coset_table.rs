//! The 256 coset leaders of E8 / 2 E8 as a lookup table.

use super::hierarchical::{HierarchicalCode, coset_leader};
use crate::Error;
use crate::lattice::{E8, Tie};

/// Coset leaders of E8 modulo 2 E8 for the hierarchical E8 code with `q = 2`.
///
/// The digits of one layer are eight bits, so byte `b` (bit `i` is digit `i`)
/// names a coset, and its leader is eight small integers in the doubled
/// representation of E8, between -4 and 4. One table serves each tie
/// orientation, so a layer decodes with one lookup and no search.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct E8CosetTable {
    leaders: [[[i8; 8]; 256]; 2],
}

impl Default for E8CosetTable {
    fn default() -> Self {
        Self::new()
    }
}

impl E8CosetTable {
    /// Computes the table with the exact search of the hierarchical code.
    pub fn new() -> Self {
        let mut leaders = [[[0i8; 8]; 256]; 2];
        for (orientation, tie) in [Tie::Up, Tie::Down].into_iter().enumerate() {
            for byte in 0..=255u8 {
                leaders[orientation][usize::from(byte)] = leader_of(byte, tie);
            }
        }
        Self { leaders }
    }

    /// Returns the leader of coset `byte` under the tie orientation `tie`,
    /// in the doubled representation.
    pub fn leader(&self, byte: u8, tie: Tie) -> &[i8; 8] {
        let orientation = usize::from(tie == Tie::Down);
        &self.leaders[orientation][usize::from(byte)]
    }

    /// Decodes one block of a hierarchical E8 code with `q = 2` from one byte
    /// per layer, least significant layer first, at scale `beta`. Returns the
    /// same values as [`HierarchicalCode::decode`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidLayerCount`] for no byte or more than `MAX_LAYERS`,
    /// and the scale errors of [`HierarchicalCode::new`].
    pub fn decode(&self, bytes: &[u8], beta: f32) -> Result<[f32; 8], Error> {
        // The code validates the layer count and the scale, and reconstructs.
        let code = HierarchicalCode::<E8, 8>::new(2, bytes.len(), beta)?;

        let mut sum = [0i64; 8];
        for (layer, &byte) in bytes.iter().enumerate() {
            let leader = self.leader(byte, HierarchicalCode::<E8, 8>::layer_tie(layer));
            for (total, &value) in sum.iter_mut().zip(leader) {
                *total += i64::from(value) << layer;
            }
        }
        Ok(code.reconstruct(&sum))
    }

    /// Packs the digits of one layer (each 0 or 1) into the byte that names
    /// its coset.
    pub fn byte_of(digits: &[u8; 8]) -> u8 {
        digits
            .iter()
            .enumerate()
            .fold(0u8, |byte, (i, &digit)| byte | ((digit & 1) << i))
    }
}

/// Computes the leader of coset `byte` with the hierarchical code's search.
fn leader_of(byte: u8, tie: Tie) -> [i8; 8] {
    let digits: [u8; 8] = core::array::from_fn(|i| (byte >> i) & 1);
    coset_leader::<E8, 8>(&digits, 2, tie).map(|value| value as i8)
}

/// Formats the table's name only; its 4 KiB of leaders are left out.
#[cfg(feature = "defmt")]
impl defmt::Format for E8CosetTable {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "E8CosetTable");
    }
}
