//! The hyperparameters and weights of a Llama model read from a GGUF file.
//!
//! Names follow the GGUF tensor naming of llama.cpp: `token_embd.weight`,
//! `output_norm.weight`, an optional `output.weight`, and per block
//! `blk.N.attn_norm`, `attn_q`, `attn_k`, `attn_v`, `attn_output`,
//! `ffn_norm`, `ffn_gate`, `ffn_up` and `ffn_down`. A GGUF shape lists the
//! contiguous dimension first, so a linear weight of shape `[in, out]` is an
//! `out x in` row-major matrix `W` with `y = W x`.

use super::gguf::{Gguf, GgufError, Value};

/// GGUF names of the linear weights of a block, in the order of
/// [`Linears::matrices`].
pub const LINEAR_NAMES: [&str; 7] = [
    "attn_q",
    "attn_k",
    "attn_v",
    "attn_output",
    "ffn_gate",
    "ffn_up",
    "ffn_down",
];

/// The architecture hyperparameters, from the `llama.*` metadata keys.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub blocks: usize,
    pub dim: usize,
    pub ffn_dim: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    /// Leading dimensions of each head that RoPE rotates:
    /// `llama.rope.dimension_count`, or the head dimension without that key.
    pub rope_dims: usize,
    pub rope_base: f64,
    pub norm_eps: f32,
    pub vocab: usize,
    /// `llama.context_length`, when the file has it.
    pub context_len: Option<usize>,
}

/// A row-major `rows x cols` matrix.
pub struct Matrix {
    pub data: Vec<f32>,
    pub rows: usize,
    pub cols: usize,
}

/// The seven linear weights of a block.
pub struct Linears {
    pub matrices: [Matrix; 7],
}

impl Linears {
    pub fn q(&self) -> &Matrix {
        &self.matrices[0]
    }
    pub fn k(&self) -> &Matrix {
        &self.matrices[1]
    }
    pub fn v(&self) -> &Matrix {
        &self.matrices[2]
    }
    pub fn output(&self) -> &Matrix {
        &self.matrices[3]
    }
    pub fn gate(&self) -> &Matrix {
        &self.matrices[4]
    }
    pub fn up(&self) -> &Matrix {
        &self.matrices[5]
    }
    pub fn down(&self) -> &Matrix {
        &self.matrices[6]
    }
}

/// The RMSNorm weights of a block.
pub struct Norms {
    pub attention: Vec<f32>,
    pub ffn: Vec<f32>,
}

/// Everything of the model except the linear weights of the blocks, which
/// each setting replaces.
pub struct Model {
    pub config: Config,
    /// `vocab x dim`: row `t` is the embedding of token `t`.
    pub embedding: Matrix,
    /// `vocab x dim`, or `None` when the output head is the embedding.
    pub output: Option<Matrix>,
    pub output_norm: Vec<f32>,
    pub norms: Vec<Norms>,
}

impl Model {
    /// Returns the output head: `output.weight`, or the tied embedding.
    pub fn output_head(&self) -> &Matrix {
        self.output.as_ref().unwrap_or(&self.embedding)
    }
}

/// A reason why a GGUF file is not a Llama model this pass can run.
#[derive(Debug)]
pub enum ModelError {
    Gguf(GgufError),
    MissingKey(&'static str),
    InvalidKey {
        key: &'static str,
        value: Value,
        expected: &'static str,
    },
    Architecture(String),
    Inconsistent(String),
    Shape {
        tensor: String,
        expected: Vec<u64>,
        actual: Vec<u64>,
    },
}

impl From<GgufError> for ModelError {
    fn from(error: GgufError) -> Self {
        Self::Gguf(error)
    }
}

impl std::fmt::Display for ModelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Gguf(error) => error.fmt(f),
            Self::MissingKey(key) => write!(
                f,
                "metadata key {key} is missing; the forward pass needs it to run a Llama model"
            ),
            Self::InvalidKey {
                key,
                value,
                expected,
            } => write!(f, "metadata key {key} is {value}, expected {expected}"),
            Self::Architecture(name) => write!(
                f,
                "general.architecture is {name:?}; only \"llama\" models are supported"
            ),
            Self::Inconsistent(message) => f.write_str(message),
            Self::Shape {
                tensor,
                expected,
                actual,
            } => write!(
                f,
                "tensor {tensor:?} has GGUF shape {actual:?}, expected {expected:?} from the \
                 metadata"
            ),
        }
    }
}

/// Reads the hyperparameters and dequantizes all weights to `f32`. Returns
/// the model and the linear weights of each block.
pub fn load(gguf: &Gguf<'_>) -> Result<(Model, Vec<Linears>), ModelError> {
    let config = read_config(gguf)?;
    let embedding = read_matrix(gguf, "token_embd.weight", config.dim, config.vocab)?;
    let output = match gguf.tensor("output.weight") {
        Some(_) => Some(read_matrix(
            gguf,
            "output.weight",
            config.dim,
            config.vocab,
        )?),
        None => None,
    };
    let output_norm = read_vector(gguf, "output_norm.weight", config.dim)?;

    let mut norms = Vec::with_capacity(config.blocks);
    let mut linears = Vec::with_capacity(config.blocks);
    for block in 0..config.blocks {
        norms.push(Norms {
            attention: read_vector(gguf, &format!("blk.{block}.attn_norm.weight"), config.dim)?,
            ffn: read_vector(gguf, &format!("blk.{block}.ffn_norm.weight"), config.dim)?,
        });
        linears.push(read_linears(gguf, &config, block)?);
    }
    let model = Model {
        config,
        embedding,
        output,
        output_norm,
        norms,
    };
    Ok((model, linears))
}

fn read_linears(gguf: &Gguf<'_>, config: &Config, block: usize) -> Result<Linears, ModelError> {
    let q_dim = config.heads * config.head_dim;
    let kv_dim = config.kv_heads * config.head_dim;
    // (input features, output features) of each entry of LINEAR_NAMES.
    let shapes = [
        (config.dim, q_dim),
        (config.dim, kv_dim),
        (config.dim, kv_dim),
        (q_dim, config.dim),
        (config.dim, config.ffn_dim),
        (config.dim, config.ffn_dim),
        (config.ffn_dim, config.dim),
    ];
    let mut matrices = Vec::with_capacity(LINEAR_NAMES.len());
    for (name, (inputs, outputs)) in LINEAR_NAMES.iter().zip(shapes) {
        let tensor = format!("blk.{block}.{name}.weight");
        matrices.push(read_matrix(gguf, &tensor, inputs, outputs)?);
    }
    let matrices = matrices
        .try_into()
        .unwrap_or_else(|_| unreachable!("LINEAR_NAMES has seven names"));
    Ok(Linears { matrices })
}

/// Reads a tensor of GGUF shape `[cols, rows]` as a `rows x cols` matrix.
fn read_matrix(
    gguf: &Gguf<'_>,
    name: &str,
    cols: usize,
    rows: usize,
) -> Result<Matrix, ModelError> {
    check_shape(gguf, name, &[cols as u64, rows as u64])?;
    Ok(Matrix {
        data: gguf.dequantize(name)?,
        rows,
        cols,
    })
}

fn read_vector(gguf: &Gguf<'_>, name: &str, len: usize) -> Result<Vec<f32>, ModelError> {
    check_shape(gguf, name, &[len as u64])?;
    Ok(gguf.dequantize(name)?)
}

fn check_shape(gguf: &Gguf<'_>, name: &str, expected: &[u64]) -> Result<(), ModelError> {
    let tensor = gguf
        .tensor(name)
        .ok_or_else(|| GgufError::TensorNotFound(name.to_string()))?;
    if tensor.dims != expected {
        return Err(ModelError::Shape {
            tensor: name.to_string(),
            expected: expected.to_vec(),
            actual: tensor.dims.clone(),
        });
    }
    Ok(())
}

fn read_config(gguf: &Gguf<'_>) -> Result<Config, ModelError> {
    match gguf.value("general.architecture") {
        Some(Value::String(name)) if name == "llama" => {}
        Some(Value::String(name)) => return Err(ModelError::Architecture(name.clone())),
        Some(other) => {
            return Err(ModelError::InvalidKey {
                key: "general.architecture",
                value: other.clone(),
                expected: "a string",
            });
        }
        None => return Err(ModelError::MissingKey("general.architecture")),
    }
    let dim = positive(gguf, "llama.embedding_length")?;
    let heads = positive(gguf, "llama.attention.head_count")?;
    let kv_heads = positive(gguf, "llama.attention.head_count_kv")?;
    if dim % heads != 0 || heads % kv_heads != 0 {
        return Err(ModelError::Inconsistent(format!(
            "llama.embedding_length {dim}, llama.attention.head_count {heads} and \
             llama.attention.head_count_kv {kv_heads} do not divide evenly"
        )));
    }
    let head_dim = dim / heads;
    let rope_dims = match gguf.value("llama.rope.dimension_count") {
        Some(_) => positive(gguf, "llama.rope.dimension_count")?,
        None => head_dim,
    };
    if rope_dims > head_dim || rope_dims % 2 != 0 {
        return Err(ModelError::Inconsistent(format!(
            "llama.rope.dimension_count {rope_dims} must be even and at most the head \
             dimension {head_dim}"
        )));
    }
    let vocab = embedding_rows(gguf)?;
    let context_len = match gguf.value("llama.context_length") {
        Some(_) => Some(positive(gguf, "llama.context_length")?),
        None => None,
    };

    Ok(Config {
        blocks: positive(gguf, "llama.block_count")?,
        dim,
        ffn_dim: positive(gguf, "llama.feed_forward_length")?,
        heads,
        kv_heads,
        head_dim,
        rope_dims,
        rope_base: positive_float(gguf, "llama.rope.freq_base")?,
        norm_eps: positive_float(gguf, "llama.attention.layer_norm_rms_epsilon")? as f32,
        vocab,
        context_len,
    })
}

/// Returns the vocabulary size: the second GGUF dimension of the embedding.
fn embedding_rows(gguf: &Gguf<'_>) -> Result<usize, ModelError> {
    let name = "token_embd.weight";
    let tensor = gguf
        .tensor(name)
        .ok_or_else(|| GgufError::TensorNotFound(name.to_string()))?;
    match tensor.dims[..] {
        [_, rows] if rows > 0 => usize::try_from(rows).map_err(|_| {
            ModelError::Inconsistent(format!(
                "{name} has {rows} rows, more than this platform can address"
            ))
        }),
        _ => Err(ModelError::Inconsistent(format!(
            "{name} has GGUF shape {:?}; expected two dimensions [embedding_length, vocab]",
            tensor.dims
        ))),
    }
}

/// Largest accepted value of a size hyperparameter. It keeps products of
/// sizes far from overflow, and the sizes of real models are below 2^20.
const MAX_SIZE: i128 = 1 << 24;

fn positive(gguf: &Gguf<'_>, key: &'static str) -> Result<usize, ModelError> {
    match gguf.value(key) {
        Some(Value::Int(value)) if (1..=MAX_SIZE).contains(value) => Ok(*value as usize),
        Some(other) => Err(ModelError::InvalidKey {
            key,
            value: other.clone(),
            expected: "an integer from 1 to 2^24",
        }),
        None => Err(ModelError::MissingKey(key)),
    }
}

fn positive_float(gguf: &Gguf<'_>, key: &'static str) -> Result<f64, ModelError> {
    match gguf.value(key) {
        Some(Value::Float(value)) if value.is_finite() && *value > 0.0 => Ok(*value),
        Some(other) => Err(ModelError::InvalidKey {
            key,
            value: other.clone(),
            expected: "a positive finite float",
        }),
        None => Err(ModelError::MissingKey(key)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::gguf::value_type;
    use super::super::test_gguf::{Builder, f32_bytes};
    use super::*;

    /// The changes a test makes to the tiny model file.
    #[derive(Default)]
    struct Changes {
        omit_key: &'static str,
        architecture: Option<&'static str>,
        kv_heads: Option<u32>,
        k_rows: Option<u64>,
    }

    /// Returns a Llama file with one block, dimension 8, two query heads
    /// and one key/value head of 4 dimensions, FFN dimension 16 and a
    /// vocabulary of 5, all in F32, without `output.weight`.
    fn tiny_llama(changes: &Changes) -> Vec<u8> {
        let u32_keys = [
            ("llama.block_count", 1),
            ("llama.embedding_length", 8),
            ("llama.feed_forward_length", 16),
            ("llama.attention.head_count", 2),
            (
                "llama.attention.head_count_kv",
                changes.kv_heads.unwrap_or(1),
            ),
        ];
        let f32_keys = [
            ("llama.rope.freq_base", 10_000.0f32),
            ("llama.attention.layer_norm_rms_epsilon", 1e-5),
        ];
        let mut builder = Builder::new().string(
            "general.architecture",
            changes.architecture.unwrap_or("llama"),
        );
        for (key, value) in u32_keys {
            if key != changes.omit_key {
                builder = builder.u32(key, value);
            }
        }
        for (key, value) in f32_keys {
            if key != changes.omit_key {
                builder = builder.raw(key, value_type::F32, &value.to_le_bytes());
            }
        }

        let k_rows = changes.k_rows.unwrap_or(4);
        let tensors: [(&str, &[u64]); 11] = [
            ("token_embd.weight", &[8, 5]),
            ("output_norm.weight", &[8]),
            ("blk.0.attn_norm.weight", &[8]),
            ("blk.0.ffn_norm.weight", &[8]),
            ("blk.0.attn_q.weight", &[8, 8]),
            ("blk.0.attn_k.weight", &[8, k_rows]),
            ("blk.0.attn_v.weight", &[8, 4]),
            ("blk.0.attn_output.weight", &[8, 8]),
            ("blk.0.ffn_gate.weight", &[8, 16]),
            ("blk.0.ffn_up.weight", &[8, 16]),
            ("blk.0.ffn_down.weight", &[16, 8]),
        ];
        for (index, (name, dims)) in tensors.iter().enumerate() {
            let len = dims.iter().product::<u64>() as usize;
            let values: Vec<f32> = (0..len)
                .map(|i| ((i * 7 + index * 3) % 11) as f32 / 11.0 - 0.5)
                .collect();
            builder = builder.tensor(name, dims, 0, &f32_bytes(&values));
        }
        builder.build()
    }

    fn load_error(changes: &Changes) -> ModelError {
        let bytes = tiny_llama(changes);
        let gguf = Gguf::parse(&bytes).expect("valid GGUF file");
        match load(&gguf) {
            Ok(_) => panic!("the model loaded"),
            Err(error) => error,
        }
    }

    #[test]
    fn tiny_model_loads() {
        let bytes = tiny_llama(&Changes::default());
        let gguf = Gguf::parse(&bytes).expect("valid GGUF file");
        let (model, linears) = load(&gguf).expect("valid model");
        let config = model.config;
        assert_eq!(config.blocks, 1);
        assert_eq!(config.dim, 8);
        assert_eq!(config.head_dim, 4);
        assert_eq!(config.rope_dims, 4, "the head dimension without the key");
        assert_eq!(config.vocab, 5);
        assert_eq!(config.context_len, None);
        assert_eq!(config.rope_base, 10_000.0);
        assert!(model.output.is_none());
        assert_eq!(model.output_head().rows, 5, "tied embedding");
        assert_eq!(linears.len(), 1);
        let k = linears[0].k();
        assert_eq!((k.rows, k.cols, k.data.len()), (4, 8, 32));
        let down = linears[0].down();
        assert_eq!((down.rows, down.cols), (8, 16));
    }

    #[test]
    fn tiny_model_forward_finite() {
        let bytes = tiny_llama(&Changes::default());
        let gguf = Gguf::parse(&bytes).expect("valid GGUF file");
        let (model, linears) = load(&gguf).expect("valid model");
        let Ok(logits) = super::super::forward::logits(&model, &linears, None, &[0, 4, 2]) else {
            panic!("the forward pass failed");
        };
        assert_eq!(logits.len(), 3 * 5);
        assert!(logits.iter().all(|value| value.is_finite()), "{logits:?}");
    }

    #[test]
    fn missing_key_named() {
        let error = load_error(&Changes {
            omit_key: "llama.attention.layer_norm_rms_epsilon",
            ..Changes::default()
        });
        assert!(
            matches!(
                error,
                ModelError::MissingKey("llama.attention.layer_norm_rms_epsilon")
            ),
            "{error}"
        );
    }

    #[test]
    fn other_architecture_rejected() {
        let error = load_error(&Changes {
            architecture: Some("gpt2"),
            ..Changes::default()
        });
        assert!(
            matches!(&error, ModelError::Architecture(name) if name == "gpt2"),
            "{error}"
        );
    }

    #[test]
    fn uneven_heads_rejected() {
        let error = load_error(&Changes {
            kv_heads: Some(3),
            ..Changes::default()
        });
        assert!(matches!(error, ModelError::Inconsistent(_)), "{error}");
        let error = load_error(&Changes {
            kv_heads: Some(0),
            ..Changes::default()
        });
        assert!(
            matches!(
                error,
                ModelError::InvalidKey {
                    key: "llama.attention.head_count_kv",
                    ..
                }
            ),
            "{error}"
        );
    }

    #[test]
    fn wrong_shape_named() {
        let error = load_error(&Changes {
            k_rows: Some(8),
            ..Changes::default()
        });
        let ModelError::Shape {
            tensor,
            expected,
            actual,
        } = error
        else {
            panic!("expected a shape error, got {error}");
        };
        assert_eq!(tensor, "blk.0.attn_k.weight");
        assert_eq!(expected, [8, 4]);
        assert_eq!(actual, [8, 8]);
    }
}
