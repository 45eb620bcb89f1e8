//! `zkattr train NAME --version V --out DIR [--queries FILE]` and `zkattr recompute DIR`.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use zkattr_trainer::mlp::MlpConfig;

use super::{Ctx, Output};
use crate::{
    datanet::Datanets,
    epoch,
    error::{Error, Result},
};

/// Train the model on a sealed snapshot (from a seeded initialisation); writes `model.safetensors`, `model.json` and, with `--queries`,
/// `attribution.json` to `--out`.
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
    /// The epoch's queries (JSONL, one {"features": [...]} per line): also write the attribution artifact.
    #[arg(long)]
    pub queries: Option<PathBuf>,
    /// Seed of the weight initialisation.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Full-batch AdamW steps.
    #[arg(long, default_value_t = MlpConfig::digits(0).steps)]
    pub steps: usize,
}

impl TrainCmd {
    /// Runs it.
    pub fn run(&self, ctx: &Ctx) -> Result<Output> {
        let nets = Datanets::open(&ctx.home)?;
        let queries = match &self.queries {
            Some(p) => Some(std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?),
            None => None,
        };
        let config = MlpConfig {
            steps: self.steps,
            ..MlpConfig::digits(self.seed)
        };
        let r = epoch::train(
            &nets,
            &self.name,
            self.version,
            config,
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
}

impl RecomputeCmd {
    /// Runs it; any difference is an error that lists the items concerned.
    pub fn run(&self, ctx: &Ctx) -> Result<Output> {
        let nets = Datanets::open(&ctx.home)?;
        let r = epoch::recompute(&nets, &self.dir)?;
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
