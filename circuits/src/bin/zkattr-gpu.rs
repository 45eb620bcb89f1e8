//! `zkattr-gpu`: what this build and this machine offer for proving, and checks and timings of the backend
//! `auto` selects against the CPU. The lean binary to carry to a GPU machine (scripts/build-cuda.sh).
//!
//! ```text
//! zkattr-gpu                          # build, devices, the backend `auto` selects (JSON)
//! zkattr-gpu --msm 1,1000,1048576     # per size: GPU MSM = CPU MSM?, both timings (JSON lines)
//! zkattr-gpu --prove 4096,16384       # per size: attribution proofs on both, both verify with one key,
//!                                     # timings and peak GPU memory (JSON lines)
//! ```
//!
//! The proofs are of synthetic epochs (dimension 64, 32 contributor slots, lookup bits 16) with the insecure
//! test SRS, as in the criterion bench `prove`.

use std::time::Instant;

use halo2_base::halo2_proofs::halo2curves::group::{Curve, Group};
use zkattr_circuits::{
    halo2::{
        attribution::AttributionWitness,
        prove::{choose_k, insecure_test_srs, keygen, prove_with, shape, verify},
    },
    statement::synthetic_epoch,
};
use zkattr_gpu_msm::{
    probe_devices, sample_msm_input, select, BackendChoice, BackendKind, CpuMsm, CpuProver,
    CudaMsm, CudaProver, GpuMemoryPeak, MsmBackend, BUILT_WITH_CUDA, G1,
};

const LOOKUP_BITS: usize = 16;

/// Proves synthetic epochs of each size on the CPU and, when selected, the GPU.
fn prove_sizes(sizes: &[usize], gpu: Option<&CudaProver>) -> Result<(), String> {
    let e = |e: zkattr_circuits::Error| e.to_string();
    for &n in sizes {
        let (w, _) = AttributionWitness::honest(synthetic_epoch(n, 64, 32)).map_err(e)?;
        let k = choose_k(&shape(&w, LOOKUP_BITS).map_err(e)?, LOOKUP_BITS);
        let srs = insecure_test_srs(k);
        let t = Instant::now();
        let keys = keygen(&srs, LOOKUP_BITS, &w).map_err(e)?;
        let keygen_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let (proof, public) = prove_with(&CpuProver, &srs, &keys, &w).map_err(e)?;
        let cpu_s = t.elapsed().as_secs_f64();
        verify(&srs, keys.pk.get_vk(), &proof, &public).map_err(e)?;
        let gpu_part = match gpu {
            Some(g) => {
                let peak = GpuMemoryPeak::start();
                let t = Instant::now();
                let (proof, public) = prove_with(g, &srs, &keys, &w).map_err(e)?;
                let gpu_s = t.elapsed().as_secs_f64();
                let peak = peak.stop();
                verify(&srs, keys.pk.get_vk(), &proof, &public)
                    .map_err(|x| format!("the GPU proof of {n} items does not verify: {x}"))?;
                format!(
                    ",\"cuda_s\":{gpu_s:.3},\"speedup\":{:.2},\"peak_gpu_bytes\":{},\"gpu_proof_verifies\":true",
                    cpu_s / gpu_s,
                    peak.map_or("null".into(), |b| b.to_string())
                )
            }
            None => String::new(),
        };
        println!(
            "{{\"items\":{n},\"k\":{k},\"keygen_s\":{keygen_s:.3},\"cpu_s\":{cpu_s:.3},\"cpu_items_per_s\":{:.1},\"proof_bytes\":{}{gpu_part}}}",
            n as f64 / cpu_s,
            proof.len()
        );
    }
    Ok(())
}

fn list(arg: Option<&String>, what: &str) -> Result<Vec<usize>, String> {
    arg.ok_or_else(|| format!("{what} needs a list of sizes, e.g. 1,1000,1048576"))?
        .split(',')
        .map(|s| s.trim().parse().map_err(|e| format!("size {s:?}: {e}")))
        .collect()
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
        Some("--msm") => {
            let sizes = list(args.get(1), "--msm")?;
            let gpu: Option<CudaMsm> = match (&auto.kind, &auto.device) {
                (BackendKind::Cuda, Some(d)) => {
                    Some(CudaMsm::new(d.clone()).map_err(|e| e.to_string())?)
                }
                _ => None,
            };
            for n in sizes {
                let (s, b) = sample_msm_input(n, n as u64);
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
        Some("--prove") => {
            let sizes = list(args.get(1), "--prove")?;
            let gpu = match (&auto.kind, &auto.device) {
                (BackendKind::Cuda, Some(d)) => {
                    Some(CudaProver::new(d.clone()).map_err(|e| e.to_string())?)
                }
                _ => None,
            };
            prove_sizes(&sizes, gpu.as_ref())
        }
        Some(other) => Err(format!(
            "unknown argument {other:?} (--msm SIZES, --prove SIZES)"
        )),
    }
}

fn main() {
    if let Err(e) = run() {
        eprintln!("zkattr-gpu: {e}");
        std::process::exit(1);
    }
}
