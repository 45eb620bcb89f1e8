//! `zkattr-gpu`: what this build and this machine offer for proving, and checks and timings of the backend
//! `auto` selects against the CPU. The lean binary to carry to a GPU machine (scripts/build-cuda.sh;
//! scripts/gpu-figures.sh runs it there).
//!
//! ```text
//! zkattr-gpu                          # build, devices, the backend `auto` selects (JSON)
//! zkattr-gpu --msm 1,1000,1048576     # per size: GPU MSM = CPU MSM?, both timings (JSON lines); on the GPU
//!                                     #   also over bases kept on the device, with the scalars copied per
//!                                     #   call (`cuda_fixed_bases_ms`) and already there (`cuda_device_inputs_ms`),
//!                                     #   from 2^14 points (below, the GPU backend uses the CPU)
//! zkattr-gpu --prove 4096,16384       # per size: attribution proofs on both, both verify with one key,
//!            [--cpu-max N]            #   timings and peak GPU memory (JSON lines); no CPU proof above N items
//!            [--evm DIR]              #   and both proofs in revm with DIR/verifier-N.hex, tampered calls refused
//! zkattr-gpu --write-verifiers 4096 DIR   # writes DIR/verifier-N.hex (needs solc: run it where the contracts
//!                                         # toolchain is, then carry DIR to the GPU machine)
//! ```
//!
//! The proofs are of synthetic epochs (dimension 64, 32 contributor slots, lookup bits 16) with the insecure
//! test SRS, as in the criterion bench `prove`. Verifying keys are deterministic, so a verifier written on one
//! machine accepts the proofs made on another. After the timed GPU proof of each size, `--prove` prints on
//! stderr where its time went (`phase` lines: each section of the GPU prover of at least 1 ms, nested, with its
//! share of the proof; `transfer` lines: the bytes it moved between host and device). Up to 16,384 items it
//! then makes one more GPU proof with the advice laid out by halo2's synthesis instead of directly
//! (`cuda_halo2_synthesis_s`), which is how proofs were made before `GatedCircuit::advice_columns`.

mod phases;

use std::{
    path::{Path, PathBuf},
    time::Instant,
};

use halo2_base::halo2_proofs::halo2curves::group::{Curve, Group};
use zkattr_circuits::{
    field::Fr,
    halo2::{
        attribution::AttributionWitness,
        evm::{
            compile_solidity, default_solc, verifier_solidity, DeployedVerifier, VERIFIER_CONTRACT,
        },
        prove::{
            choose_k, insecure_test_srs, keygen, prove_circuit_with, prove_with, prover_circuit,
            shape, verify, Keys,
        },
    },
    statement::synthetic_epoch,
};
use zkattr_gpu_msm::{
    probe_devices, sample_msm_input, select, BackendChoice, BackendKind, CpuMsm, CpuProver,
    CudaMsm, CudaProver, GpuMemoryPeak, MsmBackend, BUILT_WITH_CUDA, G1, GPU_MSM_THRESHOLD,
};

const LOOKUP_BITS: usize = 16;

/// Index of `total_rewarded` in the public inputs (statement order, DESIGN §4).
const TOTAL_REWARDED: usize = 9;

type Srs = halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG<
    halo2_base::halo2_proofs::halo2curves::bn256::Bn256,
>;

fn err(e: zkattr_circuits::Error) -> String {
    e.to_string()
}

/// The synthetic epoch of `n` items, its `k`, the test SRS and the keys (and the keygen time).
fn setup(n: usize) -> Result<(AttributionWitness, u32, Srs, Keys, f64), String> {
    let (w, _) = AttributionWitness::honest(synthetic_epoch(n, 64, 32)).map_err(err)?;
    let k = choose_k(&shape(&w, LOOKUP_BITS).map_err(err)?, LOOKUP_BITS);
    let srs = insecure_test_srs(k);
    let t = Instant::now();
    let keys = keygen(&srs, LOOKUP_BITS, &w).map_err(err)?;
    Ok((w, k, srs, keys, t.elapsed().as_secs_f64()))
}

fn verifier_file(dir: &Path, n: usize) -> PathBuf {
    dir.join(format!("verifier-{n}.hex"))
}

/// Writes the creation bytecode of the generated verifier for each size (hex), for `--evm` elsewhere.
fn write_verifiers(sizes: &[usize], dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for &n in sizes {
        let (_, k, srs, keys, _) = setup(n)?;
        let source = verifier_solidity(&srs, keys.pk.get_vk());
        let creation =
            compile_solidity(&default_solc(), &source, VERIFIER_CONTRACT).map_err(err)?;
        let path = verifier_file(dir, n);
        std::fs::write(&path, hex::encode(&creation))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        println!(
            "{{\"items\":{n},\"k\":{k},\"verifier\":{},\"creation_bytes\":{}}}",
            json_str(&path.display().to_string()),
            creation.len()
        );
    }
    Ok(())
}

/// The EVM half of a size: deploys `DIR/verifier-N.hex`, runs each proof through it, then two tampered calls
/// with the first proof that must revert: one bit of the proof flipped, and the public input `total_rewarded`
/// (statement order, DESIGN §4) plus one. JSON fields, or a reason when there is no verifier for this size.
fn evm_check(
    dir: &Path,
    n: usize,
    public: &[Fr],
    proofs: &[(&str, &[u8])],
) -> Result<String, String> {
    let path = verifier_file(dir, n);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(format!(
            ",\"evm\":{}",
            json_str(&format!(
                "no {} (zkattr-gpu --write-verifiers)",
                path.display()
            ))
        ));
    };
    let creation = hex::decode(text.trim()).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut v = DeployedVerifier::deploy(creation).map_err(err)?;
    let mut out = format!(",\"evm_runtime_bytes\":{}", v.runtime_bytes);
    for (name, proof) in proofs {
        let gas = v
            .verify(public, proof)
            .map_err(|e| format!("the {name} proof of {n} items fails in revm: {e}"))?;
        out += &format!(",\"evm_gas_{name}\":{gas}");
    }
    if let Some((name, proof)) = proofs.first() {
        let mut bad = proof.to_vec();
        let i = bad.len() / 2;
        bad[i] ^= 1;
        if v.verify(public, &bad).is_ok() {
            return Err(format!("revm accepts a tampered {name} proof of {n} items"));
        }
        let mut wrong = public.to_vec();
        wrong[TOTAL_REWARDED] += Fr::from(1u64);
        if v.verify(&wrong, proof).is_ok() {
            return Err(format!(
                "revm accepts the {name} proof of {n} items with total_rewarded + 1"
            ));
        }
        out += ",\"evm_tampered_proof_refused\":true,\"evm_tampered_public_refused\":true";
    }
    Ok(out)
}

/// Proves synthetic epochs of each size on the GPU, when selected, and on the CPU (up to `cpu_max` items).
/// The GPU goes first, so that a run cut short by a time limit still has its figures; each phase is also
/// reported on stderr as it ends. Up to 16,384 items the GPU proves twice: the first proof pays for loading
/// the kernels and the memory pool, and the second is the one timed.
fn prove_sizes(
    sizes: &[usize],
    gpu: Option<(&CudaProver, &phases::Phases)>,
    cpu_max: usize,
    evm: Option<&Path>,
) -> Result<(), String> {
    for &n in sizes {
        let (w, k, srs, keys, keygen_s) = setup(n)?;
        eprintln!("{n} items: k = {k}, keygen {keygen_s:.1} s");
        let mut line = format!("{{\"items\":{n},\"k\":{k},\"keygen_s\":{keygen_s:.3}");
        let mut proofs: Vec<(&str, Vec<u8>)> = Vec::new();
        let mut public = None;
        let mut gpu_s = None;
        if let Some((g, phases)) = gpu {
            let runs = if n <= 16_384 { 2 } else { 1 };
            let mut times = Vec::new();
            let mut peak = None;
            let mut last = None;
            let mut table = Vec::new();
            for _ in 0..runs {
                phases.take();
                let sampler = GpuMemoryPeak::start();
                let t = Instant::now();
                let (proof, p) = {
                    let _s = tracing::info_span!("zkattr_section", phase = "prove_with").entered();
                    prove_with(g, &srs, &keys, &w).map_err(err)?
                };
                let elapsed = t.elapsed();
                times.push(elapsed.as_secs_f64());
                peak = peak.max(sampler.stop());
                table = phases.report(elapsed, std::time::Duration::from_millis(1));
                verify(&srs, keys.pk.get_vk(), &proof, &p)
                    .map_err(|x| format!("the GPU proof of {n} items does not verify: {x}"))?;
                eprintln!(
                    "{n} items: GPU proof {:.2} s, verifies",
                    times[times.len() - 1]
                );
                last = Some((proof, p));
            }
            let (proof, p) = last.expect("at least one GPU run");
            let s = times[times.len() - 1];
            for row in table {
                eprintln!("{n} items: phase {row}");
            }
            line += &format!(
                ",\"cuda_s\":{s:.3},\"cuda_first_s\":{:.3},\"cuda_items_per_s\":{:.1},\"peak_gpu_bytes\":{},\"gpu_proof_verifies\":true,\"proof_bytes\":{}",
                times[0],
                n as f64 / s,
                peak.map_or("null".into(), |b| b.to_string()),
                proof.len()
            );
            eprintln!(
                "{n} items: GPU {s:.2} s timed, {:.1} items/s, peak GPU memory {}",
                n as f64 / s,
                peak.map_or("unknown".into(), |b| format!("{b} bytes"))
            );
            if n <= 16_384 {
                // The same proof with the advice laid out by halo2's synthesis, one cell at a time (how every
                // proof was made before the direct layout): what the direct layout saves, on this machine.
                let t = Instant::now();
                let (circuit, p2) = prover_circuit(&keys, &w).map_err(err)?;
                let proof2 = prove_circuit_with(g, &srs, &keys.pk, circuit, &p2).map_err(err)?;
                let s2 = t.elapsed().as_secs_f64();
                verify(&srs, keys.pk.get_vk(), &proof2, &p2).map_err(|x| {
                    format!(
                        "the GPU proof of {n} items through halo2's synthesis does not verify: {x}"
                    )
                })?;
                eprintln!("{n} items: GPU proof through halo2's synthesis {s2:.2} s, verifies");
                line += &format!(",\"cuda_halo2_synthesis_s\":{s2:.3}");
            }
            gpu_s = Some(s);
            public = Some(p);
            proofs.push(("cuda", proof));
        }
        if n <= cpu_max {
            let t = Instant::now();
            let (proof, p) = prove_with(&CpuProver, &srs, &keys, &w).map_err(err)?;
            let s = t.elapsed().as_secs_f64();
            verify(&srs, keys.pk.get_vk(), &proof, &p).map_err(err)?;
            eprintln!("{n} items: CPU proof {s:.2} s, verifies");
            line += &format!(",\"cpu_s\":{s:.3},\"cpu_items_per_s\":{:.1}", n as f64 / s);
            if let Some(g) = gpu_s {
                line += &format!(",\"speedup\":{:.2}", s / g);
            }
            match &public {
                Some(g) if *g != p => {
                    return Err(format!(
                        "the CPU and GPU provers disagree on the public inputs of {n} items"
                    ))
                }
                Some(_) => {}
                None => line += &format!(",\"proof_bytes\":{}", proof.len()),
            }
            public = Some(p);
            proofs.push(("cpu", proof));
        }
        match (evm, &public) {
            (Some(dir), Some(public)) => {
                let list: Vec<(&str, &[u8])> =
                    proofs.iter().map(|(n, p)| (*n, p.as_slice())).collect();
                line += &evm_check(dir, n, public, &list)?;
            }
            (Some(_), None) => {
                line += ",\"evm\":\"no proof of this size (no GPU, above --cpu-max)\""
            }
            (None, _) => {}
        }
        println!("{line}}}");
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
                        // The first call of a size pays for allocations and transfers set-up;
                        // reported apart, then the median of the following calls.
                        let (first_ms, first) =
                            time(1, || g.msm(&s, &b).map_err(|e| e.to_string()))?;
                        let (ms, r) = time(10, || g.msm(&s, &b).map_err(|e| e.to_string()))?;
                        let equal = r.to_affine() == cpu.to_affine()
                            && first.to_affine() == cpu.to_affine();
                        if !equal {
                            return Err(format!("GPU MSM of {n} points differs from the CPU's"));
                        }
                        // The bases kept on the device (as an SRS is): each MSM copies its scalars
                        // (`fixed`), or nothing (`device`: scratch allocation, the kernels and the
                        // result's copy back, as the prover's commitments run). Below the GPU threshold
                        // these run on the CPU, so they are not reported there.
                        let base = format!(
                            ",\"cuda_ms\":{ms:.3},\"cuda_first_ms\":{first_ms:.3},\"equal\":{equal}"
                        );
                        if n < GPU_MSM_THRESHOLD {
                            println!("{{\"points\":{n},\"cpu_ms\":{cpu_ms:.3}{base}}}");
                            continue;
                        }
                        let e = |e: zkattr_gpu_msm::BackendError| e.to_string();
                        let t = Instant::now();
                        let bases = g.upload_bases(&b).map_err(e)?;
                        let upload_ms = t.elapsed().as_secs_f64() * 1e3;
                        let (fixed_ms, fixed) = time(10, || g.msm_fixed(&s, &bases).map_err(e))?;
                        let scalars = g.upload_scalars(&s).map_err(e)?;
                        let (device_ms, device) =
                            time(10, || g.msm_device(&scalars, &bases).map_err(e))?;
                        if fixed.to_affine() != cpu.to_affine()
                            || device.to_affine() != cpu.to_affine()
                        {
                            return Err(format!(
                                "GPU MSM of {n} points over device bases differs from the CPU's"
                            ));
                        }
                        format!(
                            "{base},\"bases_upload_ms\":{upload_ms:.3},\"cuda_fixed_bases_ms\":{fixed_ms:.3},\"cuda_device_inputs_ms\":{device_ms:.3}"
                        )
                    }
                    None => String::new(),
                };
                println!("{{\"points\":{n},\"cpu_ms\":{cpu_ms:.3}{gpu_part}}}");
            }
            Ok(())
        }
        Some("--prove") => {
            let sizes = list(args.get(1), "--prove")?;
            let mut cpu_max = usize::MAX;
            let mut evm = None;
            let mut rest = args[2..].iter();
            while let Some(flag) = rest.next() {
                let value = rest
                    .next()
                    .ok_or_else(|| format!("{flag} needs a value"))?;
                match flag.as_str() {
                    "--cpu-max" => {
                        cpu_max = value
                            .parse()
                            .map_err(|e| format!("--cpu-max {value:?}: {e}"))?
                    }
                    "--evm" => evm = Some(PathBuf::from(value)),
                    other => return Err(format!("unknown --prove option {other:?}")),
                }
            }
            let gpu = match (&auto.kind, &auto.device) {
                (BackendKind::Cuda, Some(d)) => {
                    Some(CudaProver::new(d.clone()).map_err(|e| e.to_string())?)
                }
                _ => None,
            };
            let phases = phases::Phases::default();
            {
                use tracing_subscriber::layer::SubscriberExt;
                tracing::subscriber::set_global_default(
                    tracing_subscriber::registry().with(phases.clone()),
                )
                .map_err(|e| format!("the phase recorder: {e}"))?;
            }
            prove_sizes(
                &sizes,
                gpu.as_ref().map(|g| (g, &phases)),
                cpu_max,
                evm.as_deref(),
            )
        }
        Some("--write-verifiers") => {
            let sizes = list(args.get(1), "--write-verifiers")?;
            let dir = args
                .get(2)
                .ok_or("--write-verifiers needs a folder after the sizes")?;
            write_verifiers(&sizes, Path::new(dir))
        }
        Some(other) => Err(format!(
            "unknown argument {other:?} (--msm SIZES, --prove SIZES [--cpu-max N] [--evm DIR], --write-verifiers SIZES DIR)"
        )),
    }
}

fn main() {
    if let Err(e) = run() {
        eprintln!("zkattr-gpu: {e}");
        std::process::exit(1);
    }
}
