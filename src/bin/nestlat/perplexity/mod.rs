//! `nestlat perplexity`: next-token perplexity of a Llama GGUF model whose
//! linear weights, and optionally their inputs, are replaced by nestlat
//! codings.
//!
//! The first setting runs the weights of the file dequantized to `f32`. Each
//! further setting replaces the seven linear weights of every block by their
//! reconstructions, while the embedding, the norms and the output head stay
//! as in the file. Every setting is scored against the token ids and top-1
//! ids of a reference file and against the distributions of the `f32` run.

mod coding;
mod forward;
mod ggml;
mod gguf;
mod matmul;
mod metrics;
mod model;
mod reference;
mod report;
#[cfg(test)]
mod test_gguf;

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use nestlat::quant::{Family, Preset};

use crate::Failure;
use crate::weights::read_file;
use coding::{ActivationCoding, RTN_PREFIX, WeightCoding};
use gguf::Gguf;
use metrics::{LogProbs, Scores, score};
use model::{Linears, Model};
use reference::Reference;
use report::{ReportWriter, SettingReport};

/// Largest accepted sequence length. It bounds the logits and the
/// log-probabilities of a run, `tokens x vocab` values each.
const MAX_TOKENS: usize = 4096;

/// Options of `nestlat perplexity`.
#[derive(clap::Args)]
pub struct Args {
    /// The GGUF file of a Llama model with F32, F16, Q4_1 or Q8_0 tensors.
    model: PathBuf,
    /// JSON file with the token ids (`ids`), the next-token NLL in nats
    /// (`nll`), the top-1 ids (`top1`) and the perplexity (`ppl`) of the
    /// model dequantized to f32.
    #[arg(long, default_value = "tests/data/smollm2_ref_apache256.json")]
    reference: PathBuf,
    /// Comma-separated weight codings: nestlat preset names, or rtn-row-B for
    /// asymmetric round-to-nearest with B bits (1 to 8) and an f16 scale and
    /// minimum per row. By default every E8, D4, Z, E8-ball and Lloyd-Max
    /// preset of 2 to 4 bits, then rtn-row-4, rtn-row-3 and rtn-row-2.
    #[arg(long, value_delimiter = ',')]
    presets: Option<Vec<String>>,
    /// Comma-separated bits per entry (2, 3, 4, 6 or 8) of coded linear-layer
    /// inputs. Every weight setting, f32 included, runs once more for each.
    #[arg(long, value_delimiter = ',')]
    activation_bits: Vec<u32>,
    /// Print one JSON object per setting instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs the command.
pub fn run(args: &Args) -> Result<(), Failure> {
    let weight_codings = parse_weight_codings(args.presets.as_deref())?;
    let activation_codings = args
        .activation_bits
        .iter()
        .map(|&bits| ActivationCoding::for_bits(bits))
        .collect::<Result<Vec<_>, _>>()?;
    let reference = Reference::read(&args.reference)?;
    let (model, linears) = load_model(&args.model)?;
    check_ids(&reference, &model, &args.reference)?;

    let session = Session {
        model: &model,
        reference: &reference,
    };
    let mut writer = ReportWriter::new(io::stdout().lock(), args.json)?;
    let start = Instant::now();
    let (reference_run, scores) = session.evaluate(&linears, None, None)?;
    report_reproduction(&reference_run, &reference, &scores);
    writer.write(&setting_report(
        "f32".to_string(),
        32.0,
        None,
        &scores,
        start,
    ))?;
    session.write_coded_inputs(
        &mut writer,
        "f32",
        32.0,
        &linears,
        &activation_codings,
        &reference_run,
    )?;

    for coding in &weight_codings {
        let start = Instant::now();
        let (coded, bits_stored) = coding.code(&linears)?;
        let (_, scores) = session.evaluate(&coded, None, Some(&reference_run))?;
        writer.write(&setting_report(
            coding.name(),
            bits_stored,
            None,
            &scores,
            start,
        ))?;
        let name = coding.name();
        session.write_coded_inputs(
            &mut writer,
            &name,
            bits_stored,
            &coded,
            &activation_codings,
            &reference_run,
        )?;
    }
    writer.finish()
}

/// The model and reference file shared by all settings.
struct Session<'a> {
    model: &'a Model,
    reference: &'a Reference,
}

impl Session<'_> {
    /// Runs the weights `linears`, named `name`, once more with each
    /// activation coding and writes one report for each run.
    fn write_coded_inputs(
        &self,
        writer: &mut ReportWriter<impl Write>,
        name: &str,
        bits_stored: f64,
        linears: &[Linears],
        activation_codings: &[ActivationCoding],
        reference_run: &LogProbs,
    ) -> Result<(), Failure> {
        for activations in activation_codings {
            let start = Instant::now();
            let (_, scores) = self.evaluate(linears, Some(activations), Some(reference_run))?;
            let report = setting_report(
                name.to_string(),
                bits_stored,
                Some(activations),
                &scores,
                start,
            );
            writer.write(&report)?;
        }
        Ok(())
    }

    /// Runs the model with the block weights `linears` and scores it. The
    /// KL divergence is taken from `reference_run`, or from the run itself
    /// when it is the reference run.
    fn evaluate(
        &self,
        linears: &[Linears],
        activations: Option<&ActivationCoding>,
        reference_run: Option<&LogProbs>,
    ) -> Result<(LogProbs, Scores), Failure> {
        let logits = forward::logits(self.model, linears, activations, &self.reference.ids)?;
        let log_probs = LogProbs::new(&logits, self.model.config.vocab, self.reference.positions());
        let scores = score(
            &log_probs,
            self.reference,
            reference_run.unwrap_or(&log_probs),
        );
        Ok((log_probs, scores))
    }
}

fn setting_report(
    preset: String,
    bits_stored: f64,
    activations: Option<&ActivationCoding>,
    scores: &Scores,
    start: Instant,
) -> SettingReport {
    SettingReport {
        preset,
        bits_stored,
        activation_bits: activations.map(ActivationCoding::bits),
        activation_preset: activations.map(ActivationCoding::name),
        perplexity: scores.perplexity,
        top1_agreement: scores.top1_agreement,
        kl_per_token: scores.kl_per_token,
        seconds: start.elapsed().as_secs_f64(),
    }
}

/// Parses `--presets`, or returns the default list without it.
fn parse_weight_codings(names: Option<&[String]>) -> Result<Vec<WeightCoding>, Failure> {
    let Some(names) = names else {
        let mut codings: Vec<WeightCoding> = Preset::all()
            .iter()
            .filter(|preset| is_default_preset(preset))
            .map(WeightCoding::Preset)
            .collect();
        codings.extend([4, 3, 2].map(WeightCoding::RowRtn));
        return Ok(codings);
    };
    names
        .iter()
        .map(|name| {
            WeightCoding::parse(name).ok_or_else(|| {
                let presets: Vec<&str> = Preset::all().iter().map(|preset| preset.name()).collect();
                Failure::Message(format!(
                    "--presets: {name:?} is unknown; use {RTN_PREFIX}B with B from 1 to 8, or \
                     one of: {}",
                    presets.join(", ")
                ))
            })
        })
        .collect()
}

/// Selects the default presets: 2 to 4 bits, without the hierarchical E8
/// presets, whose distortion on Gaussian data is 8 to 14 dB above
/// `2^(-2R)`, and without the shell codes of 1 bit and less.
fn is_default_preset(preset: &Preset) -> bool {
    let family_fits = matches!(
        preset.family(),
        Family::Voronoi { .. } | Family::Ball { .. } | Family::LloydMax { .. }
    );
    family_fits && (2.0..=4.0).contains(&preset.nominal_bits())
}

/// Reads the GGUF file and dequantizes its weights to `f32`.
fn load_model(path: &Path) -> Result<(Model, Vec<Linears>), Failure> {
    let start = Instant::now();
    let bytes = read_file(path)?;
    let invalid =
        |error: &dyn std::fmt::Display| Failure::Message(format!("{}: {error}", path.display()));
    let gguf = Gguf::parse(&bytes).map_err(|error| invalid(&error))?;
    let loaded = model::load(&gguf).map_err(|error| invalid(&error))?;
    let config = &loaded.0.config;
    eprintln!(
        "loaded {}: {} blocks, dimension {}, {} heads ({} key/value), vocabulary {}, in {:.1} s",
        path.display(),
        config.blocks,
        config.dim,
        config.heads,
        config.kv_heads,
        config.vocab,
        start.elapsed().as_secs_f64()
    );
    Ok(loaded)
}

/// Checks the token ids against the vocabulary and the sequence length.
fn check_ids(reference: &Reference, model: &Model, path: &Path) -> Result<(), Failure> {
    let config = &model.config;
    let max_tokens = config.context_len.unwrap_or(MAX_TOKENS).min(MAX_TOKENS);
    if reference.ids.len() > max_tokens {
        return Err(Failure::Message(format!(
            "{} has {} token ids; the limit is {max_tokens} (the context length of the \
             model, at most {MAX_TOKENS}); shorten the sequence",
            path.display(),
            reference.ids.len()
        )));
    }
    let ids = reference.ids.iter().chain(&reference.top1);
    if let Some(id) = ids.copied().find(|&id| id as usize >= config.vocab) {
        return Err(Failure::Message(format!(
            "{} contains token id {id}, but the vocabulary of the model has {} tokens; \
             use the reference file of this model",
            path.display(),
            config.vocab
        )));
    }
    Ok(())
}

/// Prints on standard error how closely the `f32` run reproduces the
/// reference file.
fn report_reproduction(run: &LogProbs, reference: &Reference, scores: &Scores) {
    let max_difference = run
        .nll(&reference.ids)
        .iter()
        .zip(&reference.nll)
        .map(|(&ours, &theirs)| (ours - theirs).abs())
        .fold(0.0f64, f64::max);
    let positions = reference.positions();
    eprintln!(
        "f32 run: perplexity {:.4} (reference file {:.4}), max |NLL - reference NLL| {:.4} \
         nats, top-1 equal to the reference file at {} of {positions} positions",
        scores.perplexity,
        reference.ppl,
        max_difference,
        (scores.top1_agreement * positions as f64).round()
    );
}
