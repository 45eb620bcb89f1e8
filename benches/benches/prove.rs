//! Proving the attribution statement on the CPU: synthetic epochs (dimension 64, 32 contributor slots,
//! lookup bits 16) of N items, keys made once per size with the insecure test SRS, then criterion times
//! `prove` (witness generation included). Prints each size's `k`, cell counts, proof size and the peak
//! resident memory of one proof (Linux: the high-water mark is reset through `/proc/self/clear_refs` first).
#![allow(clippy::unwrap_used)] // bench code: a panic is the failure report

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use zkattr_circuits::{
    halo2::{
        attribution::AttributionWitness,
        prove::{choose_k, insecure_test_srs, keygen, prove, shape, verify},
    },
    statement::synthetic_epoch,
};

const LOOKUP_BITS: usize = 16;

fn sizes() -> Vec<usize> {
    std::env::var("ZKATTR_PROVE_SIZES")
        .ok()
        .map(|s| s.split(',').map(|n| n.trim().parse().unwrap()).collect())
        .unwrap_or_else(|| vec![64])
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("prove/attribution");
    g.sample_size(10);
    for n in sizes() {
        let (w, _) = AttributionWitness::honest(synthetic_epoch(n, 64, 32)).unwrap();
        let s = shape(&w, LOOKUP_BITS).unwrap();
        let k = choose_k(&s, LOOKUP_BITS);
        eprintln!("N = {n}: k = {k}, {s:?}");
        let srs = insecure_test_srs(k);
        let keys = keygen(&srs, LOOKUP_BITS, &w).unwrap();
        let reset = zkattr_benches::reset_peak_rss();
        let (proof, public) = prove(&srs, &keys, &w).unwrap();
        let peak = if reset {
            zkattr_benches::peak_rss_kib().map(|kib| kib / 1024)
        } else {
            None
        };
        verify(&srs, keys.pk.get_vk(), &proof, &public).unwrap();
        eprintln!(
            "N = {n}: proof {} bytes, peak RSS while proving {}",
            proof.len(),
            peak.map_or("unknown".into(), |m| format!("{m} MiB"))
        );
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &w, |b, w| {
            b.iter(|| prove(&srs, &keys, w).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
