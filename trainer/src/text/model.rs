//! The text model: the frozen MiniLM encoder, optional LoRA adapters on its attention, and a trained MLP
//! head on the sentence embedding. Influence features are the head's last-layer gradients (the same
//! extraction as the digits model, on embeddings instead of pixels).
//!
//! Training: embed every item with the frozen encoder, train the head on the embeddings (full-batch AdamW,
//! [`MlpWeights::train`]); with LoRA, then train adapters and head jointly (AdamW, mini-batches of
//! [`LORA_BATCH`] in snapshot order, cycling) through the encoder, and re-embed with the adapters.

use candle_core::Tensor;
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use serde::{Deserialize, Serialize};
use sha3::{Digest, Keccak256};
use zkattr_circuits::field::Fr;

use super::bert::{Encoder, LoraConfig, LoraTensors, LoraWeights, ENCODER_ID};
use crate::{
    data::Example,
    error::{Error, Result},
    mlp::{model_commitment, MlpConfig, MlpWeights},
};

/// Texts per step of LoRA training.
pub const LORA_BATCH: usize = 32;

/// Architecture and schedule of a text model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextConfig {
    /// Class names; label `labels[c]` is class `c`.
    pub labels: Vec<String>,
    /// Tokens per text, `[CLS]` and `[SEP]` included (longer texts are truncated).
    pub max_tokens: usize,
    /// The head on the embedding.
    pub head: MlpConfig,
    /// LoRA adapters, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lora: Option<LoraConfig>,
}

impl TextConfig {
    /// MiniLM (384-d embedding) → 64 (ReLU) → classes, 20 full-batch head steps, 256 tokens (the
    /// sentence-transformers `max_seq_length` of all-MiniLM-L6-v2), no LoRA.
    /// Longer head schedules fit the mislabeled items and lose LDS (measured in `docs/attribution.md`).
    pub fn minilm(labels: Vec<String>, seed: u64) -> Self {
        let classes = labels.len();
        Self {
            labels,
            max_tokens: 256,
            head: MlpConfig {
                inputs: 384,
                hidden: 64,
                classes,
                steps: 20,
                lr: 1e-2,
                weight_decay: 1e-4,
                seed,
            },
            lora: None,
        }
    }

    /// Checks the head, the labels (one per class, distinct, non-empty) and LoRA.
    pub fn validate(&self) -> Result<()> {
        self.head.validate()?;
        if self.labels.len() != self.head.classes || self.labels.len() < 2 {
            return Err(Error::BadWeights(format!(
                "{} labels for {} classes (need at least 2, one per class)",
                self.labels.len(),
                self.head.classes
            )));
        }
        let mut sorted = self.labels.clone();
        sorted.sort();
        sorted.dedup();
        if sorted.len() != self.labels.len() || sorted.iter().any(String::is_empty) {
            return Err(Error::BadWeights(
                "labels must be distinct and non-empty".into(),
            ));
        }
        if let Some(l) = &self.lora {
            l.validate()?;
        }
        Ok(())
    }

    /// Architecture id, part of the model commitment.
    pub fn model_id(&self) -> String {
        let lora = self
            .lora
            .map_or(String::new(), |l| format!("-lora-qv-r{}", l.rank));
        format!(
            "zkattr-text-{ENCODER_ID}-t{}-mean-l2{lora}+{}",
            self.max_tokens,
            self.head.model_id()
        )
    }

    /// Class of `label`.
    pub fn class(&self, label: &str) -> Option<u32> {
        self.labels
            .iter()
            .position(|l| l == label)
            .map(|c| c as u32)
    }
}

/// A trained text model (the encoder itself is loaded separately and pinned by its digest).
#[derive(Debug, Clone, PartialEq)]
pub struct TextModel {
    /// The configuration.
    pub config: TextConfig,
    /// The head.
    pub head: MlpWeights,
    /// The adapters, when the config has LoRA.
    pub lora: Option<LoraWeights>,
}

impl TextModel {
    /// Trains on `texts` with classes `labels` (see the module documentation). Returns the model and the
    /// final embeddings of `texts`.
    pub fn train(
        config: TextConfig,
        encoder: &Encoder,
        texts: &[&str],
        labels: &[u32],
    ) -> Result<(Self, Vec<Vec<f32>>)> {
        config.validate()?;
        if texts.is_empty() {
            return Err(Error::Empty);
        }
        if texts.len() != labels.len() {
            return Err(Error::BadEval(format!(
                "{} texts but {} labels",
                texts.len(),
                labels.len()
            )));
        }
        if config.head.inputs != encoder.config.hidden_size {
            return Err(Error::BadWeights(format!(
                "head takes {} inputs, the encoder gives {}",
                config.head.inputs, encoder.config.hidden_size
            )));
        }
        let device = encoder.device().clone();
        let frozen = encoder.embed(texts, None)?;
        tracing::info!(texts = texts.len(), "embedded with the frozen encoder");
        let examples = to_examples(&frozen, labels);
        let mut head = MlpWeights::train(config.head, &examples, &device)?;
        let Some(lora_config) = config.lora else {
            return Ok((
                Self {
                    config,
                    head,
                    lora: None,
                },
                frozen,
            ));
        };
        let mut lora = LoraWeights::init(
            lora_config,
            encoder.config.num_hidden_layers,
            encoder.config.hidden_size,
        );
        let lora_vars = lora.vars(&device)?;
        let head_vars = head.vars(&device)?;
        let mut all = lora_vars.clone();
        all.extend(head_vars.iter().cloned());
        let mut opt = AdamW::new(
            all,
            ParamsAdamW {
                lr: lora_config.lr,
                weight_decay: 0.0,
                ..Default::default()
            },
        )?;
        let batches: Vec<(usize, usize)> = (0..texts.len())
            .step_by(LORA_BATCH)
            .map(|s| (s, (s + LORA_BATCH).min(texts.len())))
            .collect();
        for step in 0..lora_config.steps {
            let (s, e) = batches[step % batches.len()];
            let (ids, mask) = encoder.batch(&texts[s..e])?;
            let y = Tensor::from_slice(&labels[s..e], e - s, &device)?;
            let adapters = LoraTensors::from_vars(&lora_config, &lora_vars);
            let emb = encoder.forward(&ids, &mask, Some(&adapters))?;
            let logits = MlpWeights::forward_vars(&head_vars, &emb)?;
            let loss = candle_nn::loss::cross_entropy(&logits, &y)?;
            opt.backward_step(&loss)?;
            tracing::info!(
                step = step + 1,
                of = lora_config.steps,
                loss = loss.to_scalar::<f32>()?,
                "LoRA step"
            );
        }
        lora.set_from(&lora_vars)?;
        head.set_from(&head_vars)?;
        let model = Self {
            config,
            head,
            lora: Some(lora),
        };
        let adapted = model.embed(encoder, texts)?;
        Ok((model, adapted))
    }

    /// Embeddings of `texts` under this model's adapters (one text at a time, so bit-reproducible).
    pub fn embed(&self, encoder: &Encoder, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let adapters = self
            .lora
            .as_ref()
            .map(|l| LoraTensors::from_weights(l, encoder.device()))
            .transpose()?;
        encoder.embed(texts, adapters.as_ref())
    }

    /// `keccak256("zkattr.text.v1" ‖ keccak(config JSON) ‖ encoder digest ‖ LoRA digest (32 zero bytes
    /// without LoRA) ‖ head weights digest)`. The config JSON (`serde_json` of [`TextConfig`], fields in
    /// declaration order) binds the ordered labels, the token limit, the head schedule and LoRA's rank and
    /// alpha, all of which change what the weights compute.
    pub fn weights_digest(&self, encoder_digest: &[u8; 32]) -> [u8; 32] {
        let mut h = Keccak256::new();
        h.update(b"zkattr.text.v1");
        h.update(Keccak256::digest(
            serde_json::to_vec(&self.config).expect("serialisable"),
        ));
        h.update(encoder_digest);
        h.update(self.lora.as_ref().map_or([0u8; 32], LoraWeights::digest));
        h.update(self.head.weights_digest());
        h.finalize().into()
    }

    /// `model_commitment` (DESIGN §4) with this model's id and [`Self::weights_digest`].
    pub fn commitment(&self, encoder_digest: &[u8; 32]) -> Fr {
        model_commitment(
            &self.config.model_id(),
            &self.weights_digest(encoder_digest),
        )
    }
}

/// Examples from embeddings and classes.
pub fn to_examples(embeddings: &[Vec<f32>], labels: &[u32]) -> Vec<Example> {
    embeddings
        .iter()
        .zip(labels)
        .map(|(x, &y)| Example { x: x.clone(), y })
        .collect()
}
