//! Trainer throughput: per-item feature extraction (last-layer gradient + projection) and training the digits
//! MLP, on synthetic digit-shaped data (64 inputs in 0..=16, 10 classes) of the sample's size.
#![allow(clippy::unwrap_used)] // bench code: a panic is the failure report

use candle_core::Device;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use zkattr_trainer::{
    data::Example,
    features::{self, Projection},
    mlp::{MlpConfig, MlpWeights},
};

const SEED: u64 = 0x7a11;

fn examples(n: usize) -> Vec<Example> {
    let mut rng = ChaCha20Rng::seed_from_u64(SEED);
    (0..n)
        .map(|_| Example {
            x: (0..64)
                .map(|_| rng.gen_range(0..=16) as f32 / 16.0)
                .collect(),
            y: rng.gen_range(0..10),
        })
        .collect()
}

fn trainer(c: &mut Criterion) {
    eprintln!("trainer bench: seed {SEED:#x}");
    let config = MlpConfig::digits(1);
    let ex = examples(1857);
    let model = MlpWeights::train(config, &ex, &Device::Cpu).unwrap();
    let proj = Projection::new(&model, 64, 7);

    let mut g = c.benchmark_group("trainer/features");
    g.sample_size(20);
    for n in [1857usize, 10_000] {
        let ex = examples(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &ex, |b, ex| {
            b.iter(|| features::features(&model, &proj, ex))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("trainer/train_digits_mlp");
    g.sample_size(10);
    g.bench_function("1857_items_60_steps", |b| {
        b.iter(|| MlpWeights::train(config, &ex, &Device::Cpu).unwrap())
    });
    g.finish();
}

criterion_group!(benches, trainer);
criterion_main!(benches);
