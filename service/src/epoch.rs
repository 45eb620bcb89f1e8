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
use zkattr_circuits::{field, params::GovernanceParams};
use zkattr_trainer::{
    data::{self, Example, ItemContent, SnapshotItem},
    influence::{AttributionArtifact, FeatureSettings, Mismatch, Queries},
    mlp::{default_device, MlpConfig, MlpWeights},
    text::{
        bert::{locate, Encoder, LoraConfig, LoraWeights, ENCODER_DIGEST, ENCODER_PACKAGE},
        model::{to_examples, TextConfig, TextModel},
    },
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

/// How to train. The model follows the snapshot: integer features train the digits MLP, texts the MiniLM
/// text model.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainOptions {
    /// Seed of every initialisation.
    pub seed: u64,
    /// Full-batch AdamW steps of the MLP (the text model's head); `None` for the model's default.
    pub steps: Option<usize>,
    /// The MiniLM encoder directory; `None` to [`locate`] it.
    pub encoder: Option<PathBuf>,
    /// LoRA rank for text models (`None`: frozen encoder, head only).
    pub lora_rank: Option<usize>,
    /// Joint LoRA + head steps.
    pub lora_steps: usize,
    /// The governance parameters the artifact is for: its feature dimension, widths and feature scale.
    pub params: GovernanceParams,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            seed: 2026,
            steps: None,
            encoder: None,
            lora_rank: None,
            lora_steps: 20,
            params: GovernanceParams::default(),
        }
    }
}

/// The text-model part of `model.json` (absent for the digits model).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextManifest {
    /// Class names; label `labels[c]` is class `c`.
    pub labels: Vec<String>,
    /// Tokens per text.
    pub max_tokens: usize,
    /// LoRA settings (weights in `lora.safetensors`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lora: Option<LoraConfig>,
    /// Where the encoder comes from.
    pub encoder_package: String,
    /// `keccak256` of the encoder files (`zkattr_trainer::text::bert::Encoder::digest`), `0x…`.
    pub encoder_digest: String,
}

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
    /// For text models: labels, tokens, LoRA and the encoder's digest. `config` is then the head's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<TextManifest>,
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

fn digits_examples(items: &[SnapshotItem], config: &MlpConfig) -> Result<Vec<Example>> {
    Ok(data::examples(
        items,
        config.inputs,
        MAX_VALUE,
        config.classes as u32,
    )?)
}

fn is_text(items: &[SnapshotItem]) -> bool {
    matches!(
        items.first().map(|i| &i.content),
        Some(ItemContent::Text(_))
    )
}

fn text_classes(items: &[SnapshotItem], config: &TextConfig) -> Result<Vec<u32>> {
    items
        .iter()
        .map(|it| {
            config.class(&it.label).ok_or_else(|| {
                zkattr_trainer::Error::BadItem {
                    item: it.index,
                    reason: format!(
                        "label {:?} is not one of the model's {:?}",
                        it.label, config.labels
                    ),
                }
                .into()
            })
        })
        .collect()
}

/// A trained model of either kind, with what the artifact needs.
struct Trained {
    head: MlpWeights,
    commitment: field::Fr,
    examples: Vec<Example>,
    lora: Option<LoraWeights>,
    text: Option<TextManifest>,
    /// Head inputs of the queries, and what the artifact records of them.
    queries: Option<(Queries, Vec<Vec<f32>>)>,
}

fn train_digits(
    items: &[SnapshotItem],
    opts: &TrainOptions,
    queries: Option<&str>,
    device: &candle_core::Device,
) -> Result<Trained> {
    let mut config = MlpConfig::digits(opts.seed);
    if let Some(s) = opts.steps {
        config.steps = s;
    }
    let examples = digits_examples(items, &config)?;
    let queries = queries
        .map(|q| data::parse_queries(q, config.inputs, MAX_VALUE))
        .transpose()?
        .map(|q| {
            let x = q
                .iter()
                .map(|v| v.iter().map(|&p| p as f32 / MAX_VALUE as f32).collect())
                .collect();
            (Queries::Features(q), x)
        });
    let head = MlpWeights::train(config, &examples, device)?;
    Ok(Trained {
        commitment: head.commitment(),
        head,
        examples,
        lora: None,
        text: None,
        queries,
    })
}

fn train_text(
    items: &[SnapshotItem],
    opts: &TrainOptions,
    queries: Option<&str>,
    device: &candle_core::Device,
) -> Result<Trained> {
    let texts = data::texts(items)?;
    let labels: std::collections::BTreeSet<&str> = items.iter().map(|i| i.label.as_str()).collect();
    let mut config = TextConfig::minilm(labels.into_iter().map(String::from).collect(), opts.seed);
    if let Some(s) = opts.steps {
        config.head.steps = s;
    }
    config.lora = opts
        .lora_rank
        .map(|r| LoraConfig::new(r, opts.lora_steps, opts.seed.wrapping_add(0x10a)));
    config.validate()?;
    let queries = queries.map(data::parse_text_queries).transpose()?;
    let classes = text_classes(items, &config)?;
    let dir = locate(opts.encoder.as_deref())?;
    let encoder = Encoder::load(&dir, config.max_tokens, device)?;
    let digest = format!("0x{}", hex::encode(encoder.digest()));
    let encoder_package = if digest == ENCODER_DIGEST {
        ENCODER_PACKAGE.to_owned()
    } else {
        tracing::warn!(dir = %dir.display(), %digest, "the encoder is not the files {ENCODER_PACKAGE} ships");
        format!("unknown (files at {})", dir.display())
    };
    let (model, embeddings) = TextModel::train(config.clone(), &encoder, &texts, &classes)?;
    // The artifact's embeddings always come from the CPU path, which recompute uses: GPU kernels sum in
    // other orders.
    let cpu_encoder;
    let (embeddings, artifact_encoder) = if device.is_cpu() {
        (embeddings, &encoder)
    } else {
        cpu_encoder = Encoder::load(&dir, config.max_tokens, &candle_core::Device::Cpu)?;
        (model.embed(&cpu_encoder, &texts)?, &cpu_encoder)
    };
    let queries = queries
        .map(|q| -> Result<_> {
            let refs: Vec<&str> = q.iter().map(String::as_str).collect();
            let x = model.embed(artifact_encoder, &refs)?;
            Ok((Queries::Texts(q), x))
        })
        .transpose()?;
    Ok(Trained {
        commitment: model.commitment(&encoder.digest()),
        examples: to_examples(&embeddings, &classes),
        text: Some(TextManifest {
            labels: config.labels,
            max_tokens: config.max_tokens,
            lora: config.lora,
            encoder_package,
            encoder_digest: digest,
        }),
        head: model.head,
        lora: model.lora,
        queries,
    })
}

/// Trains on `name` version `version` and writes the model (and, given `queries` text, the attribution
/// artifact) to `out`. Integer-feature snapshots train the digits MLP, text snapshots the MiniLM text model.
pub fn train(
    nets: &Datanets,
    name: &str,
    version: u64,
    opts: &TrainOptions,
    queries: Option<&str>,
    out: &Path,
) -> Result<TrainReport> {
    let sealed = nets.version(name, version)?;
    let items = nets.snapshot_items(name, version)?;
    let contributors: Vec<[u8; 20]> = items.iter().map(|i| i.contributor).collect();
    let device = default_device();
    let started = std::time::Instant::now();
    let t = if is_text(&items) {
        train_text(&items, opts, queries, &device)?
    } else {
        train_digits(&items, opts, queries, &device)?
    };
    let seconds = started.elapsed().as_secs_f64();
    let model_id = match &t.text {
        Some(m) => TextConfig {
            labels: m.labels.clone(),
            max_tokens: m.max_tokens,
            head: t.head.config,
            lora: m.lora,
        }
        .model_id(),
        None => t.head.config.model_id(),
    };
    let manifest = ModelManifest {
        format: MODEL_FORMAT.into(),
        model_id,
        config: t.head.config,
        model_commitment: field::to_hex(&t.commitment),
        datanet: name.into(),
        version,
        datanet_root: sealed.root,
        items: t.examples.len(),
        train_accuracy: t.head.accuracy(&t.examples),
        device: format!("{device:?}"),
        text: t.text.clone(),
    };
    let artifact = t
        .queries
        .map(|(q, x)| {
            AttributionArtifact::build_with(
                &t.head,
                t.commitment,
                FeatureSettings::for_params(&opts.params),
                &t.examples,
                &contributors,
                q,
                &x,
            )
        })
        .transpose()?;

    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    // A stale manifest must not describe a half-written directory: remove it first, write it last.
    let manifest_path = out.join("model.json");
    if manifest_path.exists() {
        std::fs::remove_file(&manifest_path).map_err(|e| Error::io(&manifest_path, e))?;
    }
    let weights = out.join("model.safetensors");
    let tmp = out.join(".model.safetensors.tmp");
    t.head.save(&tmp)?;
    std::fs::rename(&tmp, &weights).map_err(|e| Error::io(&weights, e))?;
    let lora_path = out.join("lora.safetensors");
    match &t.lora {
        Some(l) => {
            let tmp = out.join(".lora.safetensors.tmp");
            l.save(&tmp)?;
            std::fs::rename(&tmp, &lora_path).map_err(|e| Error::io(&lora_path, e))?;
        }
        None if lora_path.exists() => {
            std::fs::remove_file(&lora_path).map_err(|e| Error::io(&lora_path, e))?;
        }
        None => {}
    }
    let artifact_path = out.join("attribution.json");
    match &artifact {
        Some(a) => write_atomic(
            &artifact_path,
            &serde_json::to_string(a).expect("serialisable"),
        )?,
        None if artifact_path.exists() => {
            std::fs::remove_file(&artifact_path).map_err(|e| Error::io(&artifact_path, e))?;
        }
        None => {}
    }
    // The manifest last: a directory with a manifest is complete.
    write_atomic(
        &manifest_path,
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

/// Reads a JSON file of the epoch directory; a malformed one is a bad artifact, named by path.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::BadArtifact(format!("{}: {e}", path.display())))
}

/// Re-derives every feature of `dir`'s artifact from its model and the snapshot in `nets`, bit for bit.
/// `encoder` names the MiniLM directory for text models (`None` to [`locate`] it).
pub fn recompute(nets: &Datanets, dir: &Path, encoder: Option<&Path>) -> Result<RecomputeReport> {
    let manifest: ModelManifest = read_json(&dir.join("model.json"))?;
    let artifact: AttributionArtifact = read_json(&dir.join("attribution.json"))?;
    let head = MlpWeights::load(manifest.config, &dir.join("model.safetensors"))?;
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
    if artifact.queries.is_empty() {
        return Err(Error::BadArtifact("attribution.json has no queries".into()));
    }
    if manifest.device != "Cpu" {
        tracing::info!(
            device = %manifest.device,
            "the model was trained on another device; its artifact features were still computed on the CPU"
        );
    }
    let items = nets.snapshot_items(&manifest.datanet, manifest.version)?;
    let contributors: Vec<[u8; 20]> = items.iter().map(|i| i.contributor).collect();
    let (commitment, examples, query_inputs) = match &manifest.text {
        None => {
            if manifest.config.model_id() != manifest.model_id {
                mismatches.push(Mismatch {
                    item: None,
                    what: format!(
                        "model_id: model.json has {}, its config gives {}",
                        manifest.model_id,
                        manifest.config.model_id()
                    ),
                });
            }
            let examples = digits_examples(&items, &manifest.config)?;
            let Queries::Features(q) = &artifact.queries else {
                return Err(Error::BadArtifact(
                    "attribution.json has text queries but model.json is the digits model".into(),
                ));
            };
            for (i, v) in q.iter().enumerate() {
                data::check_features(v, manifest.config.inputs, MAX_VALUE).map_err(|reason| {
                    zkattr_trainer::Error::BadQuery {
                        line: i as u64 + 1,
                        reason,
                    }
                })?;
            }
            let x = q
                .iter()
                .map(|v| v.iter().map(|&p| p as f32 / MAX_VALUE as f32).collect())
                .collect();
            (head.commitment(), examples, x)
        }
        Some(t) => {
            let config = TextConfig {
                labels: t.labels.clone(),
                max_tokens: t.max_tokens,
                head: manifest.config,
                lora: t.lora,
            };
            config.validate()?;
            let labels: std::collections::BTreeSet<&str> =
                items.iter().map(|i| i.label.as_str()).collect();
            if !labels
                .iter()
                .copied()
                .eq(config.labels.iter().map(String::as_str))
            {
                mismatches.push(Mismatch {
                    item: None,
                    what: format!(
                        "labels: model.json has {:?}, the snapshot's distinct labels in order are {labels:?}",
                        config.labels
                    ),
                });
            }
            if config.model_id() != manifest.model_id {
                mismatches.push(Mismatch {
                    item: None,
                    what: format!(
                        "model_id: model.json has {}, its config gives {}",
                        manifest.model_id,
                        config.model_id()
                    ),
                });
            }
            // Always the CPU: the path that `train` computes the artifact's embeddings on.
            let encoder = Encoder::load(
                &locate(encoder)?,
                config.max_tokens,
                &candle_core::Device::Cpu,
            )?;
            let digest = format!("0x{}", hex::encode(encoder.digest()));
            if digest != t.encoder_digest {
                mismatches.push(Mismatch {
                    item: None,
                    what: format!(
                        "encoder_digest: model.json has {}, the encoder here gives {digest}",
                        t.encoder_digest
                    ),
                });
            }
            let lora = config
                .lora
                .map(|l| {
                    LoraWeights::load(
                        l,
                        encoder.config.num_hidden_layers,
                        encoder.config.hidden_size,
                        &dir.join("lora.safetensors"),
                    )
                })
                .transpose()?;
            let model = TextModel {
                config: config.clone(),
                head: head.clone(),
                lora,
            };
            let texts = data::texts(&items)?;
            let classes = text_classes(&items, &config)?;
            let examples = to_examples(&model.embed(&encoder, &texts)?, &classes);
            let Queries::Texts(q) = &artifact.queries else {
                return Err(Error::BadArtifact(
                    "attribution.json has feature queries but model.json is a text model".into(),
                ));
            };
            let refs: Vec<&str> = q.iter().map(String::as_str).collect();
            let x = model.embed(&encoder, &refs)?;
            (model.commitment(&encoder.digest()), examples, x)
        }
    };
    let commitment_hex = field::to_hex(&commitment);
    if commitment_hex != manifest.model_commitment {
        mismatches.push(Mismatch {
            item: None,
            what: format!(
                "model_commitment: model.json has {}, the weights give {commitment_hex}",
                manifest.model_commitment
            ),
        });
    }
    mismatches.extend(artifact.check_with(
        &head,
        commitment,
        &examples,
        &contributors,
        &query_inputs,
        // Dimension, widths and scale are the governance parameters' (the prover checks them against the
        // parameter set it proves under); the projection seed and damping are fixed.
        FeatureSettings {
            k: artifact.settings.k,
            feature_bits: artifact.settings.feature_bits,
            query_bits: artifact.settings.query_bits,
            feature_scale_log2: artifact.settings.feature_scale_log2,
            ..FeatureSettings::default()
        },
    )?);
    Ok(RecomputeReport {
        items: examples.len(),
        mismatches,
    })
}
