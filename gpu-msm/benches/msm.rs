//! MSM benches: the CPU backend (2^10 … 2^ZKATTR_MSM_LOG_MAX, default 2^18) and, when this build has CUDA
//! and a device is present, the CUDA backend (2^16 … 2^24).
//!
//! `cargo bench -p zkattr-gpu-msm --bench msm` (add `--features cuda` on a GPU machine).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use zkattr_gpu_msm::{
    sample_msm_input, select, BackendChoice, BackendKind, CpuMsm, CudaMsm, MsmBackend,
};

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
        let (s, b) = sample_msm_input(n, n as u64);
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
