//! Sealing a Datanet: building the Poseidon Merkle root over 10^4, 10^5 and 10^6 leaves, plus the leaf hashes.
//!
//! Prints the RNG seed and, after each size (sizes ascend), the process's peak RSS, which is then the
//! peak for that size.
#![allow(clippy::unwrap_used)] // test and bench code: a panic is the failure report

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use zkattr_circuits::{field::Fr, merkle};

const SEED: u64 = 0x5eed_2026;

fn random_leaves(n: usize, rng: &mut ChaCha20Rng) -> Vec<Fr> {
    (0..n)
        .map(|_| Fr::from(rng.next_u64()) * Fr::from(rng.next_u64()))
        .collect()
}

fn seal(c: &mut Criterion) {
    eprintln!("seal bench: seed {SEED:#x}, {} cores available", cores());
    let mut rng = ChaCha20Rng::seed_from_u64(SEED);
    let mut g = c.benchmark_group("seal/merkle_root");
    g.sample_size(10);
    for n in [10_000usize, 100_000, 1_000_000] {
        let leaves = random_leaves(n, &mut rng);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &leaves, |b, l| {
            b.iter(|| merkle::root(l).unwrap())
        });
        eprintln!(
            "seal/merkle_root/{n}: peak RSS so far {} KiB",
            zkattr_benches::peak_rss_kib().unwrap_or(0)
        );
    }
    g.finish();

    let mut g = c.benchmark_group("seal/leaf_hashes");
    g.sample_size(10);
    let n = 10_000usize;
    let items: Vec<(Fr, Fr)> = random_leaves(2 * n, &mut rng)
        .chunks(2)
        .map(|c| (c[0], c[1]))
        .collect();
    g.throughput(Throughput::Elements(n as u64));
    g.bench_with_input(BenchmarkId::from_parameter(n), &items, |b, it| {
        b.iter(|| merkle::leaves_par(it.len(), |i| merkle::leaf_hash(it[i].0, it[i].1, i as u64)))
    });
    g.finish();
}

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

criterion_group!(benches, seal);
criterion_main!(benches);
