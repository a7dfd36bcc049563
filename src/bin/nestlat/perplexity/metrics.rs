//! Next-token scores of a run: perplexity, top-1 agreement with the
//! reference file and the KL divergence from the reference run.

use rayon::prelude::*;

use super::reference::Reference;

/// Log-probabilities of the next token, `positions x vocab`, one row for
/// each position that has a next token.
pub struct LogProbs {
    values: Vec<f32>,
    vocab: usize,
}

impl LogProbs {
    /// Applies a log-softmax to the rows of `logits` (`tokens x vocab`) and
    /// keeps the first `positions` rows.
    pub fn new(logits: &[f32], vocab: usize, positions: usize) -> Self {
        let values = logits[..positions * vocab]
            .par_chunks(vocab)
            .flat_map_iter(log_softmax)
            .collect();
        Self { values, vocab }
    }

    fn row(&self, position: usize) -> &[f32] {
        &self.values[position * self.vocab..(position + 1) * self.vocab]
    }

    fn rows(&self) -> usize {
        self.values.len() / self.vocab
    }

    /// Returns the negative log-likelihood of each next token of `ids`, in
    /// nats.
    pub fn nll(&self, ids: &[u32]) -> Vec<f64> {
        (0..self.rows())
            .map(|position| -f64::from(self.row(position)[ids[position + 1] as usize]))
            .collect()
    }
}

/// The scores of one run.
pub struct Scores {
    pub perplexity: f64,
    /// Fraction of positions whose most likely token is the reference
    /// file's top-1 token.
    pub top1_agreement: f64,
    /// Mean over positions of `KL(p_ref || p)` in nats, with `p_ref` the
    /// distribution of the reference run.
    pub kl_per_token: f64,
}

/// Scores `run` against the reference file and the reference run.
pub fn score(run: &LogProbs, reference: &Reference, reference_run: &LogProbs) -> Scores {
    let positions = run.rows();
    let nll = run.nll(&reference.ids);
    let mean_nll = nll.iter().sum::<f64>() / positions as f64;
    let agreeing = (0..positions)
        .filter(|&position| argmax(run.row(position)) == reference.top1[position] as usize)
        .count();
    let kl: f64 = (0..positions)
        .into_par_iter()
        .map(|position| kl_divergence(reference_run.row(position), run.row(position)))
        .collect::<Vec<f64>>()
        .iter()
        .sum();
    Scores {
        perplexity: mean_nll.exp(),
        top1_agreement: agreeing as f64 / positions as f64,
        kl_per_token: kl / positions as f64,
    }
}

/// Returns `log softmax(logits)`, computed in `f64`.
fn log_softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let sum: f64 = logits
        .iter()
        .map(|&v| (f64::from(v) - f64::from(max)).exp())
        .sum();
    let log_norm = f64::from(max) + sum.ln();
    logits
        .iter()
        .map(|&v| (f64::from(v) - log_norm) as f32)
        .collect()
}

/// Returns the index of the largest value, the first one among equals.
fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (index, &value) in values.iter().enumerate() {
        if value > values[best] {
            best = index;
        }
    }
    best
}

/// Returns `KL(p || q) = sum p (ln p - ln q)` from log-probabilities.
fn kl_divergence(log_p: &[f32], log_q: &[f32]) -> f64 {
    log_p
        .iter()
        .zip(log_q)
        .map(|(&lp, &lq)| f64::from(lp).exp() * (f64::from(lp) - f64::from(lq)))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_softmax_normalizes() {
        let values = log_softmax(&[1.0, 2.0, 3.0]);
        let total: f64 = values.iter().map(|&v| f64::from(v).exp()).sum();
        assert!((total - 1.0).abs() < 1e-6, "probabilities sum to {total}");
        assert!((values[2] - values[1] - 1.0).abs() < 1e-6);
    }

    #[test]
    fn kl_zero_for_same_distribution() {
        let log_p = log_softmax(&[0.5, -1.0, 2.0]);
        assert_eq!(kl_divergence(&log_p, &log_p), 0.0);
        let log_q = log_softmax(&[0.0, 0.0, 0.0]);
        assert!(kl_divergence(&log_p, &log_q) > 0.0);
    }

    #[test]
    fn argmax_first_of_equals() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0, 2.0]), 1);
    }
}
