//! The output of `nestlat perplexity`: a table row or a JSON line per
//! setting, written as soon as the setting finishes.

use std::io::Write;

use serde::Serialize;

use crate::Failure;

/// The result of one setting.
#[derive(Serialize)]
pub struct SettingReport {
    /// `f32` for the weights of the file, else the weight coding.
    pub preset: String,
    /// Stored bits per weight over all coded linear weights, or 32 for `f32`.
    pub bits_stored: f64,
    /// Bits per entry of the coded linear-layer inputs, or `None` for `f32`.
    pub activation_bits: Option<u32>,
    /// The presets that code the inputs, such as `e8-4+e8-4`.
    pub activation_preset: Option<String>,
    pub perplexity: f64,
    pub top1_agreement: f64,
    pub kl_per_token: f64,
    /// Wall time of the setting. The first setting of a weight coding
    /// includes the coding of the weights.
    pub seconds: f64,
}

/// Writes reports as table rows or JSON lines.
pub struct ReportWriter<W: Write> {
    out: W,
    json: bool,
}

impl<W: Write> ReportWriter<W> {
    /// Creates the writer and writes the table header unless `json` is set.
    pub fn new(mut out: W, json: bool) -> Result<Self, Failure> {
        if !json {
            writeln!(
                out,
                "{:<10} {:>7} {:<11} {:>10} {:>6} {:>9} {:>8}",
                "preset", "bits", "activations", "perplexity", "top-1", "KL/token", "seconds"
            )?;
        }
        Ok(Self { out, json })
    }

    pub fn write(&mut self, report: &SettingReport) -> Result<(), Failure> {
        if self.json {
            let line = serde_json::to_string(report)
                .map_err(|error| Failure::Message(error.to_string()))?;
            writeln!(self.out, "{line}")?;
        } else {
            let activations = report
                .activation_preset
                .clone()
                .unwrap_or_else(|| "f32".to_string());
            writeln!(
                self.out,
                "{:<10} {:>7.4} {:<11} {:>10.4} {:>6.4} {:>9.5} {:>8.1}",
                report.preset,
                report.bits_stored,
                activations,
                report.perplexity,
                report.top1_agreement,
                report.kl_per_token,
                report.seconds
            )?;
        }
        self.out.flush()?;
        Ok(())
    }

    /// Writes the legend of the table, or nothing with `json`.
    pub fn finish(&mut self) -> Result<(), Failure> {
        if !self.json {
            writeln!(
                self.out,
                "bits: stored bits per weight of the coded linear weights. activations: the \
                 coding of every linear-layer input. top-1: fraction of positions whose most \
                 likely token is the reference file's. KL/token: mean KL(f32 run || setting) \
                 in nats."
            )?;
        }
        Ok(())
    }
}
