//! The reference file: token ids and the next-token outputs of the
//! dequantized `f32` model that the forward pass must reproduce.

use std::path::Path;

use serde::Deserialize;

use crate::Failure;
use crate::weights::read_file;

/// The fields of the reference JSON file that the command reads.
#[derive(Deserialize)]
pub struct Reference {
    /// The token ids of the sequence.
    pub ids: Vec<u32>,
    /// `nll[i] = -ln p(ids[i + 1] | ids[..=i])` in nats.
    pub nll: Vec<f64>,
    /// The most likely next token after `ids[..=i]`.
    pub top1: Vec<u32>,
    /// `exp(mean(nll))`.
    pub ppl: f64,
}

impl Reference {
    /// Reads and checks the reference file at `path`.
    pub fn read(path: &Path) -> Result<Self, Failure> {
        let bytes = read_file(path)?;
        let reference: Self = serde_json::from_slice(&bytes).map_err(|error| {
            Failure::Message(format!(
                "{} is not a valid reference file: {error}; it needs the fields ids, nll, \
                 top1 and ppl",
                path.display()
            ))
        })?;
        reference.check(path)?;
        Ok(reference)
    }

    /// Returns the number of positions with a next token: `ids.len() - 1`.
    pub fn positions(&self) -> usize {
        self.ids.len() - 1
    }

    fn check(&self, path: &Path) -> Result<(), Failure> {
        if self.ids.len() < 2 {
            return Err(Failure::Message(format!(
                "{} has {} token ids; perplexity needs at least 2",
                path.display(),
                self.ids.len()
            )));
        }
        let positions = self.positions();
        if self.nll.len() != positions || self.top1.len() != positions {
            return Err(Failure::Message(format!(
                "{} has {} ids, {} nll values and {} top1 ids; nll and top1 need one entry \
                 per id but the last ({positions})",
                path.display(),
                self.ids.len(),
                self.nll.len(),
                self.top1.len()
            )));
        }
        Ok(())
    }
}
