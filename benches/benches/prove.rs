//! Proving the attribution statement: synthetic epochs (dimension 64, 32 contributor slots, lookup bits 16)
//! of N items (`ZKATTR_PROVE_SIZES`, default 64), keys made once per size with the insecure test SRS, then
//! criterion times the proof (witness generation included) on the CPU (every core) and, when this build
//! has CUDA (`--features cuda`) and a usable GPU is present, on the GPU (`prove/attribution-cuda`).
//! `ZKATTR_PROVE_BACKENDS` (default `cpu,cuda`) picks the backends: `cuda` alone leaves out the CPU proofs,
//! which at N = 16,384 take minutes each, so a GPU machine's short call can bench the GPU (its CPU figures
//! come from `zkattr-gpu --prove`). Prints each size's `k`, cell counts, proof size, the peak resident memory
//! of one CPU proof (Linux: the high-water mark is reset through `/proc/self/clear_refs` first) and the peak
//! GPU memory of one GPU proof.
#![allow(clippy::unwrap_used)] // bench code: a panic is the failure report

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use zkattr_circuits::{
    halo2::{
        attribution::AttributionWitness,
        prove::{choose_k, insecure_test_srs, keygen, prove, prove_with, shape, verify},
    },
    statement::synthetic_epoch,
};
use zkattr_gpu_msm::{select, BackendChoice, BackendKind, CudaProver, GpuMemoryPeak};

const LOOKUP_BITS: usize = 16;

fn sizes() -> Vec<usize> {
    std::env::var("ZKATTR_PROVE_SIZES")
        .ok()
        .map(|s| s.split(',').map(|n| n.trim().parse().unwrap()).collect())
        .unwrap_or_else(|| vec![64])
}

/// The backends to bench, from `ZKATTR_PROVE_BACKENDS`: (cpu, cuda).
fn backends() -> (bool, bool) {
    let list = std::env::var("ZKATTR_PROVE_BACKENDS").unwrap_or_else(|_| "cpu,cuda".into());
    let names: Vec<&str> = list
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    for n in &names {
        assert!(
            matches!(*n, "cpu" | "cuda"),
            "ZKATTR_PROVE_BACKENDS: unknown backend {n:?} (cpu, cuda)"
        );
    }
    (names.contains(&"cpu"), names.contains(&"cuda"))
}

fn bench(c: &mut Criterion) {
    let (cpu, cuda) = backends();
    let gpu = match select(BackendChoice::Cuda, 0) {
        _ if !cuda => None,
        Ok(s) if s.kind == BackendKind::Cuda => Some(CudaProver::new(s.device.unwrap()).unwrap()),
        Ok(s) => {
            eprintln!("prove/attribution-cuda skipped: {}", s.reason);
            None
        }
        Err(e) => {
            eprintln!("prove/attribution-cuda skipped: {e}");
            None
        }
    };
    if !cpu && gpu.is_none() {
        // Nothing to time: no keys made for nothing (minutes at N = 16,384).
        eprintln!("prove/attribution: no backend left to bench (ZKATTR_PROVE_BACKENDS)");
        return;
    }
    let mut g = c.benchmark_group("prove/attribution");
    g.sample_size(10);
    for n in sizes() {
        let (w, _) = AttributionWitness::honest(synthetic_epoch(n, 64, 32)).unwrap();
        let s = shape(&w, LOOKUP_BITS).unwrap();
        let k = choose_k(&s, LOOKUP_BITS);
        eprintln!("N = {n}: k = {k}, {s:?}");
        let srs = insecure_test_srs(k);
        let keys = keygen(&srs, LOOKUP_BITS, &w).unwrap();
        g.throughput(Throughput::Elements(n as u64));
        if cpu {
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
            g.bench_with_input(BenchmarkId::from_parameter(n), &w, |b, w| {
                b.iter(|| prove(&srs, &keys, w).unwrap())
            });
        }
        if let Some(gpu) = &gpu {
            let peak = GpuMemoryPeak::start();
            let (proof, public) = prove_with(gpu, &srs, &keys, &w).unwrap();
            let peak = peak.stop();
            verify(&srs, keys.pk.get_vk(), &proof, &public).unwrap();
            eprintln!(
                "N = {n}: GPU proof {} bytes, verifies with the CPU keys; peak GPU memory {}",
                proof.len(),
                peak.map_or("unknown".into(), |b| format!("{} MiB", b >> 20))
            );
            g.bench_with_input(BenchmarkId::new("cuda", n), &w, |b, w| {
                b.iter(|| prove_with(gpu, &srs, &keys, w).unwrap())
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
