//! `zkattr train NAME --version V --out DIR`

use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use zkattr_circuits::field;
use zkattr_trainer::{
    data,
    mlp::{default_device, MlpConfig, MlpWeights},
};

use super::{datanet::write_atomic, Ctx, Output};
use crate::{
    datanet::Datanets,
    error::{Error, Result},
};

/// Format tag of `model.json`.
pub const MODEL_FORMAT: &str = "zkattr.model.v1";

/// Fine-tune the model on a sealed snapshot; writes `model.safetensors` and `model.json` to `--out`.
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
        let sealed = nets.version(&self.name, self.version)?;
        let items = nets.snapshot_items(&self.name, self.version)?;
        let config = MlpConfig {
            steps: self.steps,
            ..MlpConfig::digits(self.seed)
        };
        let examples = data::examples(&items, config.inputs, 16, config.classes as u32)?;
        let device = default_device();
        let started = std::time::Instant::now();
        let model = MlpWeights::train(config, &examples, &device)?;
        let seconds = started.elapsed().as_secs_f64();
        let accuracy = model.accuracy(&examples);
        let commitment = field::to_hex(&model.commitment());

        std::fs::create_dir_all(&self.out).map_err(|e| Error::io(&self.out, e))?;
        let weights = self.out.join("model.safetensors");
        let tmp = self.out.join(".model.safetensors.tmp");
        model.save(&tmp)?;
        std::fs::rename(&tmp, &weights).map_err(|e| Error::io(&weights, e))?;
        let manifest = json!({
            "format": MODEL_FORMAT,
            "model_id": config.model_id(),
            "config": config,
            "model_commitment": commitment,
            "datanet": self.name,
            "version": self.version,
            "datanet_root": sealed.root,
            "items": items.len(),
            "train_accuracy": accuracy,
            "device": format!("{device:?}"),
        });
        write_atomic(
            &self.out.join("model.json"),
            &serde_json::to_string_pretty(&manifest).expect("json"),
        )?;
        Ok(Output {
            text: format!(
                "trained {} on {} v{} ({} items, {:.1} s on {device:?}): train accuracy {:.3}, model_commitment {commitment}\n  wrote {}",
                config.model_id(),
                self.name,
                self.version,
                items.len(),
                seconds,
                accuracy,
                self.out.display()
            ),
            json: json!({
                "model_commitment": commitment,
                "model_id": config.model_id(),
                "items": items.len(),
                "train_accuracy": accuracy,
                "seconds": seconds,
                "out": self.out,
            }),
        })
    }
}
