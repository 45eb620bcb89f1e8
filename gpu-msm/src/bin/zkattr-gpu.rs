//! `zkattr-gpu`: what this build and this machine offer for proving, and an MSM check and timing of the
//! backend `auto` selects against the CPU. A small binary to carry to a GPU machine.
//!
//! ```text
//! zkattr-gpu                          # build, devices, the backend `auto` selects (JSON)
//! zkattr-gpu --msm 1,1000,1048576     # for each size: selected backend = CPU?, and both timings (JSON lines)
//! zkattr-gpu --expect-no-gpu          # exit 1 unless `auto` falls back to the CPU and `cuda` is refused
//! ```

use std::time::Instant;

use halo2_axiom::halo2curves::{
    ff::Field,
    group::{prime::PrimeCurveAffine, Curve, Group},
};
use rand_core::SeedableRng;
use zkattr_gpu_msm::{
    probe_devices, select, BackendChoice, BackendKind, CpuMsm, CudaMsm, Fr, G1Affine, MsmBackend,
    BUILT_WITH_CUDA, G1,
};

fn inputs(n: usize, seed: u64) -> (Vec<Fr>, Vec<G1Affine>) {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
    let scalars = (0..n).map(|_| Fr::random(&mut rng)).collect();
    let g = G1Affine::generator();
    let mut p: G1 = g * Fr::random(&mut rng);
    let step: G1 = g * Fr::random(&mut rng);
    let mut proj = Vec::with_capacity(n);
    for _ in 0..n {
        proj.push(p);
        p += step;
    }
    let mut bases = vec![G1Affine::identity(); n];
    G1::batch_normalize(&proj, &mut bases);
    (scalars, bases)
}

/// Median wall time of `runs` calls, in milliseconds, and the last result.
fn time(runs: usize, mut f: impl FnMut() -> Result<G1, String>) -> Result<(f64, G1), String> {
    let mut times = Vec::with_capacity(runs);
    let mut last = G1::identity();
    for _ in 0..runs {
        let t = Instant::now();
        last = f()?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    Ok((times[times.len() / 2], last))
}

fn json_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let probe = probe_devices();
    let auto = select(BackendChoice::Auto, 0).map_err(|e| e.to_string())?;
    let devices = match &probe {
        Ok(d) => d
            .iter()
            .map(|d| {
                format!(
                    "{{\"ordinal\":{},\"name\":{},\"memory_bytes\":{},\"compute_capability\":\"{}.{}\"}}",
                    d.ordinal,
                    json_str(&d.name),
                    d.total_memory,
                    d.compute_capability.0,
                    d.compute_capability.1
                )
            })
            .collect::<Vec<_>>()
            .join(","),
        Err(_) => String::new(),
    };
    println!(
        "{{\"built_with_cuda\":{BUILT_WITH_CUDA},\"devices\":[{devices}],\"probe_error\":{},\"auto\":{},\"reason\":{}}}",
        probe.as_ref().err().map_or("null".into(), |e| json_str(e)),
        json_str(auto.kind.as_str()),
        json_str(&auto.reason)
    );
    match args.first().map(String::as_str) {
        None => Ok(()),
        Some("--expect-no-gpu") => {
            match select(BackendChoice::Cuda, 0) {
                Err(refused) if auto.kind == BackendKind::Cpu => {
                    println!(
                        "no GPU, as expected: auto uses the CPU ({}); cuda is refused ({refused})",
                        auto.reason
                    );
                }
                cuda => {
                    return Err(format!(
                        "expected no usable GPU, got auto = {auto:?}, cuda = {cuda:?}"
                    ))
                }
            }
            Ok(())
        }
        Some("--msm") => {
            let sizes: Vec<usize> = args
                .get(1)
                .ok_or("--msm needs a list of sizes, e.g. 1,1000,1048576")?
                .split(',')
                .map(|s| s.trim().parse().map_err(|e| format!("size {s:?}: {e}")))
                .collect::<Result<_, String>>()?;
            let gpu: Option<CudaMsm> = match (&auto.kind, &auto.device) {
                (BackendKind::Cuda, Some(d)) => {
                    Some(CudaMsm::new(d.clone()).map_err(|e| e.to_string())?)
                }
                _ => None,
            };
            for n in sizes {
                let (s, b) = inputs(n, n as u64);
                let runs = if n >= 1 << 20 { 3 } else { 5 };
                let (cpu_ms, cpu) = time(runs, || CpuMsm.msm(&s, &b).map_err(|e| e.to_string()))?;
                let gpu_part = match &gpu {
                    Some(g) => {
                        let (ms, r) = time(runs, || g.msm(&s, &b).map_err(|e| e.to_string()))?;
                        let equal = r.to_affine() == cpu.to_affine();
                        if !equal {
                            return Err(format!("GPU MSM of {n} points differs from the CPU's"));
                        }
                        format!(",\"cuda_ms\":{ms:.3},\"equal\":{equal}")
                    }
                    None => String::new(),
                };
                println!("{{\"points\":{n},\"cpu_ms\":{cpu_ms:.3}{gpu_part}}}");
            }
            Ok(())
        }
        Some(other) => Err(format!(
            "unknown argument {other:?} (--msm SIZES, --expect-no-gpu)"
        )),
    }
}

fn main() {
    if let Err(e) = run() {
        eprintln!("zkattr-gpu: {e}");
        std::process::exit(1);
    }
}
