//! MSM benches: the CPU backend (2^10 … 2^ZKATTR_MSM_LOG_MAX, default 2^18) and, when this build has CUDA
//! and a device is present, the CUDA backend (2^16 … 2^24).
//!
//! `cargo bench -p zkattr-gpu-msm --bench msm` (add `--features cuda` on a GPU machine).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use halo2_axiom::halo2curves::{
    ff::Field,
    group::{prime::PrimeCurveAffine, Curve},
};
use rand_chacha::{rand_core::SeedableRng, ChaCha20Rng};
use zkattr_gpu_msm::{
    select, BackendChoice, BackendKind, CpuMsm, CudaMsm, Fr, G1Affine, MsmBackend, G1,
};

/// `n` random scalars and `n` distinct bases (`g·r, g·(r+1), …`: additions, so 2^24 of them take seconds).
fn inputs(n: usize) -> (Vec<Fr>, Vec<G1Affine>) {
    let mut rng = ChaCha20Rng::seed_from_u64(n as u64);
    let scalars: Vec<Fr> = (0..n).map(|_| Fr::random(&mut rng)).collect();
    let g = G1Affine::generator();
    let mut p: G1 = g * Fr::random(&mut rng);
    let mut proj = Vec::with_capacity(n);
    for _ in 0..n {
        proj.push(p);
        p += g;
    }
    let mut bases = vec![G1Affine::identity(); n];
    G1::batch_normalize(&proj, &mut bases);
    (scalars, bases)
}

fn run(
    c: &mut Criterion,
    name: &str,
    backend: &dyn MsmBackend,
    logs: std::ops::RangeInclusive<u32>,
) {
    let mut group = c.benchmark_group(name);
    group.sample_size(10);
    for log in logs {
        let n = 1usize << log;
        let (s, b) = inputs(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(format!("2^{log}")),
            &n,
            |bench, _| bench.iter(|| backend.msm(&s, &b).expect("msm")),
        );
    }
    group.finish();
}

fn benches(c: &mut Criterion) {
    let max: u32 = std::env::var("ZKATTR_MSM_LOG_MAX")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(18);
    run(c, "msm_cpu", &CpuMsm, 10..=max);
    match select(BackendChoice::Cuda, 0) {
        Ok(s) if s.kind == BackendKind::Cuda => {
            let gpu =
                CudaMsm::new(s.device.expect("a CUDA selection has a device")).expect("cuda msm");
            run(c, "msm_cuda", &gpu, 16..=24);
        }
        Ok(_) => {}
        Err(e) => eprintln!("msm_cuda skipped: {e}"),
    }
}

criterion_group!(msm, benches);
criterion_main!(msm);
