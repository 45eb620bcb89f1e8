//! The digits model: a one-hidden-layer MLP classifier, trained with candle, deterministic.
//!
//! Weights are initialised from a seeded ChaCha20 stream (candle's CPU RNG cannot be seeded) and trained
//! full-batch with AdamW, so the same examples and config give the same weights on the same backend.
//! Inference and features use plain Rust loops in a fixed order ([`MlpWeights::hidden`], [`MlpWeights::logits`]),
//! so anyone holding the weights recomputes them bit-for-bit whatever the thread count.

use std::{collections::HashMap, path::Path};

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde::{Deserialize, Serialize};
use sha3::{Digest, Keccak256};
use zkattr_circuits::{
    field::{self, Fr},
    poseidon,
};

use crate::{
    data::Example,
    error::{Error, Result},
};

/// Shape and training schedule of the MLP.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MlpConfig {
    /// Input width.
    pub inputs: usize,
    /// Hidden width.
    pub hidden: usize,
    /// Number of classes.
    pub classes: usize,
    /// Full-batch AdamW steps.
    pub steps: usize,
    /// Learning rate.
    pub lr: f64,
    /// AdamW weight decay.
    pub weight_decay: f64,
    /// Seed of the weight initialisation.
    pub seed: u64,
}

impl MlpConfig {
    /// The digits model: 64 → 64 (ReLU) → 10, 60 full-batch steps. Longer schedules fit the mislabeled
    /// items and lose held-out accuracy and LDS (measured in `docs/attribution.md`).
    pub fn digits(seed: u64) -> Self {
        Self {
            inputs: 64,
            hidden: 64,
            classes: 10,
            steps: 60,
            lr: 1e-2,
            weight_decay: 1e-4,
            seed,
        }
    }

    /// Checks the sizes (each 1..=4096) and the schedule, so a config read from a file cannot ask for absurd
    /// allocations.
    pub fn validate(&self) -> Result<()> {
        for (name, v) in [
            ("inputs", self.inputs),
            ("hidden", self.hidden),
            ("classes", self.classes),
        ] {
            if !(1..=4096).contains(&v) {
                return Err(Error::BadWeights(format!(
                    "config {name} = {v}, must be 1..=4096"
                )));
            }
        }
        if !(self.lr.is_finite()
            && self.lr > 0.0
            && self.weight_decay.is_finite()
            && self.weight_decay >= 0.0)
        {
            return Err(Error::BadWeights(
                "config lr must be finite and positive, weight_decay finite and >= 0".into(),
            ));
        }
        Ok(())
    }

    /// Identifier of the architecture, part of the model commitment.
    pub fn model_id(&self) -> String {
        format!(
            "zkattr-mlp-{}-{}-{}-relu",
            self.inputs, self.hidden, self.classes
        )
    }
}

/// `model_commitment` (DESIGN §4) of a model with architecture id `model_id` and weights digest `digest`:
/// `Poseidon(domain, keccak(model_id) mod p, digest mod p)` with `domain` the ASCII bytes `zkattr.model`
/// read as an integer.
pub fn model_commitment(model_id: &str, digest: &[u8; 32]) -> Fr {
    let domain = {
        let tag = b"zkattr.model";
        let mut b = [0u8; 32];
        b[32 - tag.len()..].copy_from_slice(tag);
        field::from_bytes_be_reduced(&b)
    };
    let id: [u8; 32] = Keccak256::digest(model_id.as_bytes()).into();
    poseidon::hash(&[
        domain,
        field::from_bytes_be_reduced(&id),
        field::from_bytes_be_reduced(digest),
    ])
}

/// Trained weights, row-major: `w1` is `hidden × inputs`, `w2` is `classes × hidden`.
#[derive(Debug, Clone, PartialEq)]
pub struct MlpWeights {
    /// The architecture.
    pub config: MlpConfig,
    /// First layer weights.
    pub w1: Vec<f32>,
    /// First layer biases.
    pub b1: Vec<f32>,
    /// Output layer weights.
    pub w2: Vec<f32>,
    /// Output layer biases.
    pub b2: Vec<f32>,
}

fn uniform(rng: &mut ChaCha20Rng, n: usize, bound: f32) -> Vec<f32> {
    (0..n).map(|_| rng.gen_range(-bound..bound)).collect()
}

/// The device to train on: CUDA when compiled with `cuda` and a GPU is present, else the CPU (logged).
pub fn default_device() -> Device {
    let device = Device::cuda_if_available(0).unwrap_or(Device::Cpu);
    tracing::info!(device = ?device, "training device");
    device
}

impl MlpWeights {
    /// Seeded initial weights (uniform in ±1/sqrt(fan_in), zero biases).
    pub fn init(config: MlpConfig) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(config.seed);
        let w1 = uniform(
            &mut rng,
            config.hidden * config.inputs,
            1.0 / (config.inputs as f32).sqrt(),
        );
        let w2 = uniform(
            &mut rng,
            config.classes * config.hidden,
            1.0 / (config.hidden as f32).sqrt(),
        );
        Self {
            config,
            w1,
            b1: vec![0.0; config.hidden],
            w2,
            b2: vec![0.0; config.classes],
        }
    }

    /// The weights as trainable variables `[w1, b1, w2, b2]`.
    pub fn vars(&self, device: &Device) -> Result<Vec<Var>> {
        self.tensors()
            .iter()
            .map(|(_, shape, v)| {
                Ok(Var::from_tensor(&Tensor::from_slice(
                    v,
                    shape.as_slice(),
                    device,
                )?)?)
            })
            .collect()
    }

    /// Copies trained variables (from [`Self::vars`]) back.
    pub fn set_from(&mut self, vars: &[Var]) -> Result<()> {
        let get = |v: &Var| -> Result<Vec<f32>> {
            Ok(v.as_tensor()
                .to_dtype(DType::F32)?
                .flatten_all()?
                .to_vec1()?)
        };
        let [w1, b1, w2, b2] = vars else {
            return Err(Error::BadWeights("expected 4 MLP variables".into()));
        };
        self.w1 = get(w1)?;
        self.b1 = get(b1)?;
        self.w2 = get(w2)?;
        self.b2 = get(b2)?;
        Ok(())
    }

    /// Logits `W2 relu(W1 x + b1) + b2` for a batch `x` `(n, inputs)`, differentiable in `vars`
    /// (from [`Self::vars`]).
    pub fn forward_vars(vars: &[Var], x: &Tensor) -> Result<Tensor> {
        let [w1, b1, w2, b2] = vars else {
            return Err(Error::BadWeights("expected 4 MLP variables".into()));
        };
        let h = x
            .matmul(&w1.as_tensor().t()?)?
            .broadcast_add(b1.as_tensor())?
            .relu()?;
        Ok(h.matmul(&w2.as_tensor().t()?)?
            .broadcast_add(b2.as_tensor())?)
    }

    /// Trains from [`Self::init`] on `examples`.
    pub fn train(config: MlpConfig, examples: &[Example], device: &Device) -> Result<Self> {
        Ok(Self::train_with_checkpoints(config, examples, device, 0)?.0)
    }

    /// Trains like [`Self::train`] and also returns the weights after every `every` steps (none when
    /// `every` is 0), for TracIn.
    pub fn train_with_checkpoints(
        config: MlpConfig,
        examples: &[Example],
        device: &Device,
        every: usize,
    ) -> Result<(Self, Vec<Self>)> {
        if examples.is_empty() {
            return Err(Error::Empty);
        }
        let init = Self::init(config);
        let n = examples.len();
        let x: Vec<f32> = examples.iter().flat_map(|e| e.x.iter().copied()).collect();
        let y: Vec<u32> = examples.iter().map(|e| e.y).collect();
        let x = Tensor::from_vec(x, (n, config.inputs), device)?;
        let y = Tensor::from_vec(y, n, device)?;
        let vars = init.vars(device)?;
        let params = ParamsAdamW {
            lr: config.lr,
            weight_decay: config.weight_decay,
            ..Default::default()
        };
        let mut opt = AdamW::new(vars.clone(), params)?;
        let snapshot = || -> Result<Self> {
            let mut w = init.clone();
            w.set_from(&vars)?;
            Ok(w)
        };
        let mut checkpoints = Vec::new();
        for step in 1..=config.steps {
            let logits = Self::forward_vars(&vars, &x)?;
            let loss = candle_nn::loss::cross_entropy(&logits, &y)?;
            opt.backward_step(&loss)?;
            if every > 0 && step % every == 0 {
                checkpoints.push(snapshot()?);
            }
        }
        Ok((snapshot()?, checkpoints))
    }

    /// Hidden activations `relu(W1 x + b1)`, summed in a fixed order.
    pub fn hidden(&self, x: &[f32]) -> Vec<f32> {
        let c = &self.config;
        (0..c.hidden)
            .map(|j| {
                let row = &self.w1[j * c.inputs..(j + 1) * c.inputs];
                let z = row
                    .iter()
                    .zip(x)
                    .fold(self.b1[j], |acc, (w, v)| acc + w * v);
                z.max(0.0)
            })
            .collect()
    }

    /// Logits `W2 h + b2`.
    pub fn logits(&self, h: &[f32]) -> Vec<f32> {
        let c = &self.config;
        (0..c.classes)
            .map(|k| {
                let row = &self.w2[k * c.hidden..(k + 1) * c.hidden];
                row.iter()
                    .zip(h)
                    .fold(self.b2[k], |acc, (w, v)| acc + w * v)
            })
            .collect()
    }

    /// Predicted class of `x`.
    pub fn predict(&self, x: &[f32]) -> u32 {
        let l = self.logits(&self.hidden(x));
        (0..l.len()).fold(0, |best, k| if l[k] > l[best] { k } else { best }) as u32
    }

    /// Fraction of `examples` classified as labelled.
    pub fn accuracy(&self, examples: &[Example]) -> f64 {
        let ok = examples
            .iter()
            .filter(|e| self.predict(&e.x) == e.y)
            .count();
        ok as f64 / examples.len().max(1) as f64
    }

    fn tensors(&self) -> [(&'static str, Vec<usize>, &[f32]); 4] {
        let c = &self.config;
        [
            ("w1", vec![c.hidden, c.inputs], &self.w1),
            ("b1", vec![c.hidden], &self.b1),
            ("w2", vec![c.classes, c.hidden], &self.w2),
            ("b2", vec![c.classes], &self.b2),
        ]
    }

    /// `keccak256` of the canonical weight bytes: for `w1, b1, w2, b2` in this order,
    /// `u32be(len name) ‖ name ‖ u32be(ndims) ‖ u32be(dim)… ‖ f32le(value)…`.
    pub fn weights_digest(&self) -> [u8; 32] {
        let mut h = Keccak256::new();
        for (name, shape, values) in self.tensors() {
            h.update((name.len() as u32).to_be_bytes());
            h.update(name.as_bytes());
            h.update((shape.len() as u32).to_be_bytes());
            for d in &shape {
                h.update((*d as u32).to_be_bytes());
            }
            for v in values {
                h.update(v.to_le_bytes());
            }
        }
        h.finalize().into()
    }

    /// `model_commitment` (DESIGN §4): `Poseidon(domain, keccak(model_id) mod p, keccak(weights) mod p)` with
    /// `domain` the ASCII bytes `zkattr.model` read as an integer.
    pub fn commitment(&self) -> Fr {
        model_commitment(&self.config.model_id(), &self.weights_digest())
    }

    /// Writes the weights as safetensors.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut map = HashMap::new();
        for (name, shape, values) in self.tensors() {
            map.insert(
                name.to_owned(),
                Tensor::from_slice(values, shape.as_slice(), &Device::Cpu)?,
            );
        }
        candle_core::safetensors::save(&map, path)?;
        Ok(())
    }

    /// Reads weights written by [`Self::save`], checking every shape against `config`.
    pub fn load(config: MlpConfig, path: &Path) -> Result<Self> {
        config.validate()?;
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut map = candle_core::safetensors::load_buffer(&bytes, &Device::Cpu)?;
        let mut take = |name: &str, shape: Vec<usize>| -> Result<Vec<f32>> {
            let t = map
                .remove(name)
                .ok_or_else(|| Error::BadWeights(format!("tensor {name} missing")))?;
            if t.dims() != shape.as_slice() {
                return Err(Error::BadWeights(format!(
                    "tensor {name} has shape {:?}, expected {shape:?}",
                    t.dims()
                )));
            }
            Ok(t.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?)
        };
        let c = &config;
        let w = Self {
            config,
            w1: take("w1", vec![c.hidden, c.inputs])?,
            b1: take("b1", vec![c.hidden])?,
            w2: take("w2", vec![c.classes, c.hidden])?,
            b2: take("b2", vec![c.classes])?,
        };
        if let Some(extra) = map.keys().next() {
            return Err(Error::BadWeights(format!("unexpected tensor {extra}")));
        }
        Ok(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A separable toy problem: class = which half of the inputs is brighter.
    fn toy(n: usize) -> Vec<Example> {
        let mut rng = ChaCha20Rng::seed_from_u64(9);
        (0..n)
            .map(|i| {
                let y = (i % 2) as u32;
                let x = (0..8)
                    .map(|j| {
                        let bright = (j < 4) == (y == 0);
                        rng.gen_range(0.0..0.5f32) + if bright { 0.5 } else { 0.0 }
                    })
                    .collect();
                Example { x, y }
            })
            .collect()
    }

    fn config() -> MlpConfig {
        MlpConfig {
            inputs: 8,
            hidden: 6,
            classes: 2,
            steps: 60,
            lr: 0.05,
            weight_decay: 0.0,
            seed: 3,
        }
    }

    #[test]
    fn learns_and_is_deterministic() {
        let ex = toy(200);
        let a = MlpWeights::train(config(), &ex, &Device::Cpu).unwrap();
        let b = MlpWeights::train(config(), &ex, &Device::Cpu).unwrap();
        assert_eq!(a, b, "same inputs must give bit-identical weights");
        assert!(a.accuracy(&ex) > 0.95, "accuracy {}", a.accuracy(&ex));
        let other = MlpWeights::train(
            MlpConfig {
                seed: 4,
                ..config()
            },
            &ex,
            &Device::Cpu,
        )
        .unwrap();
        assert_ne!(a.commitment(), other.commitment());
    }

    #[test]
    fn checkpoints_are_taken_along_the_same_run() {
        let ex = toy(50);
        let (model, cps) =
            MlpWeights::train_with_checkpoints(config(), &ex, &Device::Cpu, 15).unwrap();
        assert_eq!(cps.len(), 4);
        assert_eq!(
            cps[3], model,
            "the last checkpoint (step 60) is the trained model"
        );
        assert_eq!(
            model,
            MlpWeights::train(config(), &ex, &Device::Cpu).unwrap()
        );
        assert_ne!(cps[0], cps[1]);
    }

    #[test]
    fn plain_forward_matches_candle() {
        let w = MlpWeights::init(config());
        let ex = toy(5);
        let dev = Device::Cpu;
        let x: Vec<f32> = ex.iter().flat_map(|e| e.x.clone()).collect();
        let x = Tensor::from_vec(x, (5, 8), &dev).unwrap();
        let w1 = Tensor::from_slice(&w.w1, (6, 8), &dev).unwrap();
        let b1 = Tensor::from_slice(&w.b1, 6, &dev).unwrap();
        let w2 = Tensor::from_slice(&w.w2, (2, 6), &dev).unwrap();
        let b2 = Tensor::from_slice(&w.b2, 2, &dev).unwrap();
        let h = x
            .matmul(&w1.t().unwrap())
            .unwrap()
            .broadcast_add(&b1)
            .unwrap()
            .relu()
            .unwrap();
        let l: Vec<Vec<f32>> = h
            .matmul(&w2.t().unwrap())
            .unwrap()
            .broadcast_add(&b2)
            .unwrap()
            .to_vec2()
            .unwrap();
        for (e, want) in ex.iter().zip(l) {
            let got = w.logits(&w.hidden(&e.x));
            for (g, t) in got.iter().zip(want) {
                assert!((g - t).abs() < 1e-5, "{g} vs {t}");
            }
        }
    }

    #[test]
    fn save_load_round_trip_and_commitment_binds_weights() {
        let w = MlpWeights::train(config(), &toy(50), &Device::Cpu).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.safetensors");
        w.save(&p).unwrap();
        let back = MlpWeights::load(config(), &p).unwrap();
        assert_eq!(back, w);
        assert_eq!(back.commitment(), w.commitment());
        let mut changed = w.clone();
        changed.w2[3] = f32::from_bits(changed.w2[3].to_bits() ^ 1);
        assert_ne!(changed.commitment(), w.commitment());
        let wrong = MlpConfig {
            hidden: 7,
            ..config()
        };
        assert!(matches!(
            MlpWeights::load(wrong, &p),
            Err(Error::BadWeights(_))
        ));
    }
}
