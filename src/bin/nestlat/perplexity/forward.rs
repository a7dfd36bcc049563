//! The Llama forward pass over one sequence on the CPU: RMSNorm, RoPE,
//! grouped-query attention with a causal mask, a SwiGLU feed-forward block
//! and the output head.
//!
//! RoPE is llama.cpp's "normal" mode, which rotates the adjacent pairs
//! `(2i, 2i + 1)` of each head. llama.cpp's converters store the rows of
//! `attn_q` and `attn_k` of Hugging Face Llama models permuted for that mode,
//! and with it the pass reproduces the perplexity of the reference file
//! (`tests/data/smollm2_ref_apache256.json`).

use std::borrow::Cow;

use rayon::prelude::*;

use super::coding::ActivationCoding;
use super::matmul::matmul_transposed;
use super::model::{Config, Linears, Matrix, Model, Norms};
use crate::Failure;

/// Returns the logits, `tokens x vocab`, of `model` with the block weights
/// `linears` on the token ids `ids`. With `activations`, the input of every
/// linear layer is replaced by its coded reconstruction first.
pub fn logits(
    model: &Model,
    linears: &[Linears],
    activations: Option<&ActivationCoding>,
    ids: &[u32],
) -> Result<Vec<f32>, Failure> {
    let config = &model.config;
    let mut hidden = embed(&model.embedding, ids);
    let rope = Rope::new(config, ids.len());
    for (block, (norms, weights)) in model.norms.iter().zip(linears).enumerate() {
        let layer = Layer {
            config,
            norms,
            weights,
            activations,
            block,
        };
        layer.apply(&mut hidden, &rope)?;
    }
    let normed = rms_norm(&hidden, &model.output_norm, config.norm_eps);
    Ok(matmul_transposed(
        &normed,
        &model.output_head().data,
        config.dim,
    ))
}

fn embed(embedding: &Matrix, ids: &[u32]) -> Vec<f32> {
    let mut hidden = Vec::with_capacity(ids.len() * embedding.cols);
    for &id in ids {
        let row = id as usize * embedding.cols;
        hidden.extend_from_slice(&embedding.data[row..row + embedding.cols]);
    }
    hidden
}

/// One transformer block with its settings.
struct Layer<'a> {
    config: &'a Config,
    norms: &'a Norms,
    weights: &'a Linears,
    activations: Option<&'a ActivationCoding>,
    block: usize,
}

impl Layer<'_> {
    fn apply(&self, hidden: &mut [f32], rope: &Rope) -> Result<(), Failure> {
        let normed = rms_norm(hidden, &self.norms.attention, self.config.norm_eps);
        let attention = self.attention(&normed, rope)?;
        add_in_place(hidden, &attention);
        let normed = rms_norm(hidden, &self.norms.ffn, self.config.norm_eps);
        let ffn = self.feed_forward(&normed)?;
        add_in_place(hidden, &ffn);
        Ok(())
    }

    fn attention(&self, normed: &[f32], rope: &Rope) -> Result<Vec<f32>, Failure> {
        let config = self.config;
        let input = self.code_input(normed, config.dim, "attn_q/k/v")?;
        let mut q = matmul_transposed(&input, &self.weights.q().data, config.dim);
        let mut k = matmul_transposed(&input, &self.weights.k().data, config.dim);
        let v = matmul_transposed(&input, &self.weights.v().data, config.dim);
        rope.apply(&mut q, config.heads);
        rope.apply(&mut k, config.kv_heads);

        let mixed = causal_attention(config, &q, &k, &v);
        let output = self.weights.output();
        let mixed = self.code_input(&mixed, output.cols, "attn_output")?;
        Ok(matmul_transposed(&mixed, &output.data, output.cols))
    }

    fn feed_forward(&self, normed: &[f32]) -> Result<Vec<f32>, Failure> {
        let dim = self.config.dim;
        let input = self.code_input(normed, dim, "ffn_gate/up")?;
        let gate = matmul_transposed(&input, &self.weights.gate().data, dim);
        let up = matmul_transposed(&input, &self.weights.up().data, dim);
        let product: Vec<f32> = gate
            .iter()
            .zip(&up)
            .map(|(&g, &u)| g / (1.0 + (-g).exp()) * u)
            .collect();
        let down = self.weights.down();
        let product = self.code_input(&product, down.cols, "ffn_down")?;
        Ok(matmul_transposed(&product, &down.data, down.cols))
    }

    /// Returns the input of a linear layer, coded and reconstructed when the
    /// setting codes activations.
    fn code_input<'a>(
        &self,
        input: &'a [f32],
        cols: usize,
        layer: &str,
    ) -> Result<Cow<'a, [f32]>, Failure> {
        let Some(coding) = self.activations else {
            return Ok(Cow::Borrowed(input));
        };
        let reconstruction = coding.reconstruct(input, cols).map_err(|error| {
            Failure::Message(format!(
                "coding the input of blk.{}.{layer} with {} failed: {error}",
                self.block,
                coding.name()
            ))
        })?;
        Ok(Cow::Owned(reconstruction))
    }
}

/// Returns `x / sqrt(mean(x^2) + eps) * weight` for every row of `x`.
fn rms_norm(x: &[f32], weight: &[f32], eps: f32) -> Vec<f32> {
    let mut out = Vec::with_capacity(x.len());
    for row in x.chunks_exact(weight.len()) {
        let mean_square = row
            .iter()
            .map(|&v| f64::from(v) * f64::from(v))
            .sum::<f64>()
            / row.len() as f64;
        let scale = (1.0 / (mean_square + f64::from(eps)).sqrt()) as f32;
        out.extend(row.iter().zip(weight).map(|(&v, &w)| v * scale * w));
    }
    out
}

fn add_in_place(target: &mut [f32], values: &[f32]) {
    for (t, &v) in target.iter_mut().zip(values) {
        *t += v;
    }
}

/// Cosines and sines of the rotary embedding, per position and pair.
struct Rope {
    head_dim: usize,
    pairs: usize,
    cos: Vec<f32>,
    sin: Vec<f32>,
}

impl Rope {
    /// Tabulates the angles `p base^(-2i / rope_dims)` for positions `p` below
    /// `tokens` and pairs `i` below `rope_dims / 2`.
    fn new(config: &Config, tokens: usize) -> Self {
        let pairs = config.rope_dims / 2;
        let mut cos = Vec::with_capacity(tokens * pairs);
        let mut sin = Vec::with_capacity(tokens * pairs);
        for position in 0..tokens {
            for pair in 0..pairs {
                let exponent = -2.0 * pair as f64 / config.rope_dims as f64;
                let angle = position as f64 * config.rope_base.powf(exponent);
                cos.push(angle.cos() as f32);
                sin.push(angle.sin() as f32);
            }
        }
        Self {
            head_dim: config.head_dim,
            pairs,
            cos,
            sin,
        }
    }

    /// Rotates the pairs `(2i, 2i + 1)` of every head of every row of `x`.
    fn apply(&self, x: &mut [f32], heads: usize) {
        for (position, row) in x.chunks_exact_mut(heads * self.head_dim).enumerate() {
            let cos = &self.cos[position * self.pairs..(position + 1) * self.pairs];
            let sin = &self.sin[position * self.pairs..(position + 1) * self.pairs];
            for head in row.chunks_exact_mut(self.head_dim) {
                for (pair, values) in head[..2 * self.pairs].chunks_exact_mut(2).enumerate() {
                    let (x0, x1) = (values[0], values[1]);
                    values[0] = x0 * cos[pair] - x1 * sin[pair];
                    values[1] = x0 * sin[pair] + x1 * cos[pair];
                }
            }
        }
    }
}

/// Returns the attention output, `tokens x (heads head_dim)`, for `q`
/// (`tokens x heads head_dim`) and `k`, `v` (`tokens x kv_heads head_dim`).
/// Query head `h` reads key and value head `h / (heads / kv_heads)`.
fn causal_attention(config: &Config, q: &[f32], k: &[f32], v: &[f32]) -> Vec<f32> {
    let head_dim = config.head_dim;
    let tokens = q.len() / (config.heads * head_dim);
    let group = config.heads / config.kv_heads;
    let heads: Vec<Vec<f32>> = (0..config.heads)
        .into_par_iter()
        .map(|head| {
            let kv_head = head / group;
            let q_head = gather_head(q, config.heads, head, head_dim);
            let k_head = gather_head(k, config.kv_heads, kv_head, head_dim);
            let v_head = transpose(
                &gather_head(v, config.kv_heads, kv_head, head_dim),
                head_dim,
            );
            let mut scores = matmul_transposed(&q_head, &k_head, head_dim);
            causal_softmax(&mut scores, tokens, 1.0 / (head_dim as f32).sqrt());
            matmul_transposed(&scores, &v_head, tokens)
        })
        .collect();

    let width = config.heads * head_dim;
    let mut out = vec![0.0f32; tokens * width];
    for (head, values) in heads.iter().enumerate() {
        for (t, row) in values.chunks_exact(head_dim).enumerate() {
            let start = t * width + head * head_dim;
            out[start..start + head_dim].copy_from_slice(row);
        }
    }
    out
}

/// Copies head `head` of every row of `x` (`tokens x heads head_dim`) into a
/// `tokens x head_dim` matrix.
fn gather_head(x: &[f32], heads: usize, head: usize, head_dim: usize) -> Vec<f32> {
    x.chunks_exact(heads * head_dim)
        .flat_map(|row| &row[head * head_dim..(head + 1) * head_dim])
        .copied()
        .collect()
}

/// Returns the transpose of the row-major `rows x cols` matrix `x`.
fn transpose(x: &[f32], cols: usize) -> Vec<f32> {
    let rows = x.len() / cols;
    let mut out = vec![0.0f32; x.len()];
    for (r, row) in x.chunks_exact(cols).enumerate() {
        for (c, &value) in row.iter().enumerate() {
            out[c * rows + r] = value;
        }
    }
    out
}

/// Scales row `t` of the `tokens x tokens` scores and replaces it by the
/// softmax over columns `0..=t`, with zeros after column `t`.
fn causal_softmax(scores: &mut [f32], tokens: usize, scale: f32) {
    for (t, row) in scores.chunks_exact_mut(tokens).enumerate() {
        let (visible, masked) = row.split_at_mut(t + 1);
        let max = visible
            .iter()
            .fold(f32::NEG_INFINITY, |m, &s| m.max(s * scale));
        let mut sum = 0.0f32;
        for value in visible.iter_mut() {
            *value = (*value * scale - max).exp();
            sum += *value;
        }
        for value in visible.iter_mut() {
            *value /= sum;
        }
        masked.fill(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causal_softmax_masks_future() {
        let mut scores = vec![1.0, 5.0, 2.0, 3.0];
        causal_softmax(&mut scores, 2, 1.0);
        assert_eq!(scores[0], 1.0);
        assert_eq!(scores[1], 0.0, "position 0 must not see position 1");
        let e = (-1.0f32).exp();
        assert!((scores[2] - e / (1.0 + e)).abs() < 1e-6);
        assert!((scores[3] - 1.0 / (1.0 + e)).abs() < 1e-6);
    }

    #[test]
    fn rope_rotates_adjacent_pairs() {
        let config = Config {
            blocks: 1,
            dim: 4,
            ffn_dim: 4,
            heads: 1,
            kv_heads: 1,
            head_dim: 4,
            rope_dims: 4,
            rope_base: 100.0,
            norm_eps: 1e-5,
            vocab: 1,
            context_len: None,
        };
        let rope = Rope::new(&config, 2);
        let mut x = vec![1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0];
        rope.apply(&mut x, 1);
        assert_eq!(&x[..4], &[1.0, 0.0, 1.0, 0.0], "position 0 is not rotated");
        // Position 1: pair 0 turns by 1 radian, pair 1 by 100^(-1/2) = 0.1.
        let expected = [1f32.cos(), 1f32.sin(), 0.1f32.cos(), 0.1f32.sin()];
        for (got, want) in x[4..].iter().zip(expected) {
            assert!((got - want).abs() < 1e-6, "{:?} vs {expected:?}", &x[4..]);
        }
    }

    #[test]
    fn rms_norm_unit_rows() {
        let out = rms_norm(&[3.0, 4.0], &[1.0, 2.0], 0.0);
        let rms = (12.5f32).sqrt();
        assert!((out[0] - 3.0 / rms).abs() < 1e-6);
        assert!((out[1] - 8.0 / rms).abs() < 1e-6);
    }
}
