//! Proving and MSM backends for zkattr: the CPU (halo2-axiom, rayon) always, an NVIDIA GPU (halo2-axiom-gpu:
//! MSM, NTT, quotient, permutation and lookup arguments in CUDA) when built with the `cuda` feature.
//!
//! - [`ProverBackend`]: SHPLONK proofs over KZG/BN254 of any halo2-axiom circuit. Both provers take the same
//!   proving key and write the same transcript format, so one verifying key (and one on-chain verifier)
//!   accepts the proofs of either.
//! - [`MsmBackend`]: BN254 G1 multi-scalar multiplications outside the prover. Shaped so that another
//!   implementation (an ICICLE backend for licensed installs) can be added beside the two here: it takes
//!   host slices and returns a projective point or a [`BackendError`].
//! - [`select`]: which backend to use for a [`BackendChoice`] (`auto`, `cpu`, `cuda`), from what this build
//!   has and what the machine has (the driver loads, a device with enough memory is present). `auto` falls
//!   back to the CPU and says why; `cuda` is refused with the reason. The choice is logged.
//!
//! Without the `cuda` feature the CUDA types exist with the same names and every constructor returns
//! [`BackendError::NotBuilt`]. With it, every call into the GPU library runs under `catch_unwind`, so a driver
//! or device failure is an error, never a panic of the caller. A `cuda` build needs the NVIDIA driver's
//! `libcuda.so.1` and a device to start at all: halo2-axiom-gpu's memory manager selects the device in a
//! static constructor and aborts the process without one (docs/gpu.md). Within it, `auto` still falls back
//! to the CPU when device 0 is too old or too small for the work.

mod msm;
mod prover;
mod select;

#[cfg(feature = "cuda")]
mod cuda;
#[cfg(not(feature = "cuda"))]
#[path = "no_cuda.rs"]
mod cuda;

pub use cuda::{gpu_memory_used, probe_devices, CudaMsm, CudaProver, DeviceBases, DeviceScalars};
pub use msm::{CpuMsm, MsmBackend};
pub use prover::{CpuProver, Prover, ProverBackend};
pub use select::{decide, select, BackendChoice, BackendKind, DeviceInfo, Selection};

pub use halo2_axiom::halo2curves::bn256::{Fr, G1Affine, G1};

/// Whether this build has the CUDA backends (feature `cuda`).
pub const BUILT_WITH_CUDA: bool = cfg!(feature = "cuda");

/// Smallest MSM the CUDA backend sends to the GPU; shorter ones run on the CPU (the library's own
/// threshold, repeated here so that tests can probe both sides of it).
pub const GPU_MSM_THRESHOLD: usize = 1 << 14;

/// `n` random scalars and `n` distinct bases `g·r, g·(r+s), g·(r+2s), …` from `seed`: MSM inputs for tests,
/// benches and the `zkattr-gpu` check (additions and one batch normalisation, so 2^24 points take seconds).
pub fn sample_msm_input(n: usize, seed: u64) -> (Vec<Fr>, Vec<G1Affine>) {
    use halo2_axiom::halo2curves::{
        ff::Field,
        group::{prime::PrimeCurveAffine, Curve},
    };
    use rand_chacha::rand_core::SeedableRng;
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

/// Roughly the GPU memory (bytes) a proof of a circuit with `2^k` rows, `columns` columns (fixed, advice,
/// instance) and constraint degree `degree` needs: each column in two bases plus its permutation data, and
/// a few polynomials on the extended domain for the quotient. A guide for [`select`], not a bound: the GPU
/// prover itself works in chunks and keeps what does not fit on the host.
pub fn prover_memory_estimate(k: u32, columns: usize, degree: usize) -> u64 {
    let rows = 1u64 << k;
    let extended = degree.saturating_sub(1).next_power_of_two().max(1) as u64;
    32 * rows * (3 * columns as u64 + 4 * extended)
}

/// The peak of [`gpu_memory_used`] while it runs, sampled every 5 ms on a thread of its own (the device's
/// total use, so run nothing else on the GPU meanwhile). `None` in builds or on machines without a GPU.
#[derive(Debug)]
pub struct GpuMemoryPeak {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<Option<u64>>>,
}

impl GpuMemoryPeak {
    /// Starts sampling.
    pub fn start() -> Self {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut peak = gpu_memory_used()?;
            while !s.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(std::time::Duration::from_millis(5));
                peak = peak.max(gpu_memory_used()?);
            }
            Some(peak)
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops sampling; the peak in bytes.
    pub fn stop(mut self) -> Option<u64> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.take().and_then(|t| t.join().ok()).flatten()
    }
}

/// What went wrong in a backend.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// This build has no CUDA backend.
    #[error("this zkattr was built without CUDA support (feature `cuda`); build it with scripts/build-cuda.sh, or use the CPU backend")]
    NotBuilt,
    /// No usable GPU: the driver did not load, no device, too little memory.
    #[error("no usable CUDA device: {0}")]
    Unavailable(String),
    /// The inputs are inconsistent.
    #[error("bad input: {0}")]
    BadInput(String),
    /// The GPU library failed (an error it returned, or a panic caught at the boundary).
    #[error("CUDA backend failed: {0}")]
    Gpu(String),
    /// The proof could not be made (an unsatisfied circuit, a transcript error).
    #[error("proving failed: {0}")]
    Proof(String),
}

/// Runs `f`, turning a panic into [`BackendError::Gpu`] (what the GPU library does on some driver
/// failures).
#[cfg_attr(not(feature = "cuda"), allow(dead_code))]
pub(crate) fn no_panic<T>(
    what: &str,
    f: impl FnOnce() -> Result<T, BackendError>,
) -> Result<T, BackendError> {
    no_panic_as(what, BackendError::Gpu, f)
}

/// Runs `f`, turning a panic into `wrap(message)`.
pub(crate) fn no_panic_as<T>(
    what: &str,
    wrap: fn(String) -> BackendError,
    f: impl FnOnce() -> Result<T, BackendError>,
) -> Result<T, BackendError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|p| {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".into());
        Err(wrap(format!("{what}: {msg}")))
    })
}
