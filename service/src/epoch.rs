//! The trainer's part of an epoch: train on a sealed snapshot, extract the attribution artifact, and
//! recompute it to check an operator's files.
//!
//! Files in the output directory:
//! - `model.safetensors`: the weights;
//! - `model.json` (`zkattr.model.v1`): model id, config, `model_commitment`, the snapshot it was trained on;
//! - `attribution.json` (`zkattr.attribution.v1`, when queries are given): quantised item features, the
//!   query vector, scales, `features_root` and `query_commitment` (see `zkattr_trainer::influence`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zkattr_circuits::field;
use zkattr_trainer::{
    data::{self, Example},
    influence::{AttributionArtifact, FeatureSettings, Mismatch},
    mlp::{default_device, MlpConfig, MlpWeights},
};

use crate::{
    cli::datanet::write_atomic,
    datanet::Datanets,
    error::{Error, Result},
};

/// Format tag of `model.json`.
pub const MODEL_FORMAT: &str = "zkattr.model.v1";
/// Largest pixel value of the digits model's inputs.
pub const MAX_VALUE: i32 = 16;

/// `model.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelManifest {
    /// Always [`MODEL_FORMAT`].
    pub format: String,
    /// Architecture id.
    pub model_id: String,
    /// Architecture and schedule.
    pub config: MlpConfig,
    /// `model_commitment`, `0x…`.
    pub model_commitment: String,
    /// Datanet trained on.
    pub datanet: String,
    /// Its sealed version.
    pub version: u64,
    /// That version's root.
    pub datanet_root: String,
    /// Items trained on.
    pub items: usize,
    /// Accuracy on the training items.
    pub train_accuracy: f64,
    /// The device used.
    pub device: String,
}

/// What [`train`] produced.
#[derive(Debug, Clone, Serialize)]
pub struct TrainReport {
    /// The manifest written.
    pub manifest: ModelManifest,
    /// Training time in seconds.
    pub seconds: f64,
    /// `features_root`, when an artifact was written.
    pub features_root: Option<String>,
    /// `query_commitment`, when an artifact was written.
    pub query_commitment: Option<String>,
    /// The output directory.
    pub out: PathBuf,
}

fn snapshot(
    nets: &Datanets,
    name: &str,
    version: u64,
    config: &MlpConfig,
) -> Result<(Vec<Example>, Vec<[u8; 20]>)> {
    let items = nets.snapshot_items(name, version)?;
    let examples = data::examples(&items, config.inputs, MAX_VALUE, config.classes as u32)?;
    Ok((examples, items.iter().map(|i| i.contributor).collect()))
}

/// Trains on `name` version `version` and writes the model (and, given `queries` text, the attribution
/// artifact) to `out`.
pub fn train(
    nets: &Datanets,
    name: &str,
    version: u64,
    config: MlpConfig,
    queries: Option<&str>,
    out: &Path,
) -> Result<TrainReport> {
    let sealed = nets.version(name, version)?;
    let (examples, contributors) = snapshot(nets, name, version, &config)?;
    let queries = queries
        .map(|q| data::parse_queries(q, config.inputs, MAX_VALUE))
        .transpose()?;
    let device = default_device();
    let started = std::time::Instant::now();
    let model = MlpWeights::train(config, &examples, &device)?;
    let seconds = started.elapsed().as_secs_f64();
    let manifest = ModelManifest {
        format: MODEL_FORMAT.into(),
        model_id: config.model_id(),
        config,
        model_commitment: field::to_hex(&model.commitment()),
        datanet: name.into(),
        version,
        datanet_root: sealed.root,
        items: examples.len(),
        train_accuracy: model.accuracy(&examples),
        device: format!("{device:?}"),
    };
    let artifact = queries
        .map(|q| {
            AttributionArtifact::build(
                &model,
                FeatureSettings::default(),
                &examples,
                &contributors,
                &q,
                MAX_VALUE,
            )
        })
        .transpose()?;

    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let weights = out.join("model.safetensors");
    let tmp = out.join(".model.safetensors.tmp");
    model.save(&tmp)?;
    std::fs::rename(&tmp, &weights).map_err(|e| Error::io(&weights, e))?;
    if let Some(a) = &artifact {
        write_atomic(
            &out.join("attribution.json"),
            &serde_json::to_string(a).expect("serialisable"),
        )?;
    }
    // The manifest last: a directory with a manifest is complete.
    write_atomic(
        &out.join("model.json"),
        &serde_json::to_string_pretty(&manifest).expect("serialisable"),
    )?;
    Ok(TrainReport {
        manifest,
        seconds,
        features_root: artifact.as_ref().map(|a| a.features_root.clone()),
        query_commitment: artifact.as_ref().map(|a| a.query_commitment.clone()),
        out: out.to_owned(),
    })
}

/// What [`recompute`] found.
#[derive(Debug, Clone, Serialize)]
pub struct RecomputeReport {
    /// Items checked.
    pub items: usize,
    /// Every difference (empty when the artifact is exactly reproduced).
    pub mismatches: Vec<Mismatch>,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::BadArtifact(format!("{}: {e}", path.display())))
}

/// Re-derives every feature of `dir`'s artifact from its model and the snapshot in `nets`, bit for bit.
pub fn recompute(nets: &Datanets, dir: &Path) -> Result<RecomputeReport> {
    let manifest: ModelManifest = read_json(&dir.join("model.json"))?;
    let artifact: AttributionArtifact = read_json(&dir.join("attribution.json"))?;
    let model = MlpWeights::load(manifest.config, &dir.join("model.safetensors"))?;
    let sealed = nets.version(&manifest.datanet, manifest.version)?;
    let mut mismatches = Vec::new();
    if sealed.root != manifest.datanet_root {
        mismatches.push(Mismatch {
            item: None,
            what: format!(
                "datanet_root: model.json has {}, the home has {}",
                manifest.datanet_root, sealed.root
            ),
        });
    }
    let commitment = field::to_hex(&model.commitment());
    if commitment != manifest.model_commitment {
        mismatches.push(Mismatch {
            item: None,
            what: format!(
                "model_commitment: model.json has {}, the weights give {commitment}",
                manifest.model_commitment
            ),
        });
    }
    let (examples, contributors) =
        snapshot(nets, &manifest.datanet, manifest.version, &manifest.config)?;
    mismatches.extend(artifact.check(
        &model,
        &examples,
        &contributors,
        MAX_VALUE,
        FeatureSettings::default(),
    )?);
    Ok(RecomputeReport {
        items: examples.len(),
        mismatches,
    })
}
