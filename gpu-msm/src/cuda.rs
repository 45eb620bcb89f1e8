//! The CUDA backends (feature `cuda`): halo2-axiom-gpu's prover and MSM, every call under `catch_unwind`.

use halo2_axiom::{
    halo2curves::bn256::Bn256,
    plonk::{Circuit, ProvingKey},
    poly::{
        commitment::{Params, ParamsProver},
        kzg::commitment::ParamsKZG,
    },
    transcript::{EncodedChallenge, TranscriptWrite},
    SerdeFormat,
};
use halo2_axiom_gpu as gpu;
use openvm_cuda_common::copy::MemCopyH2D;
use rand_core::RngCore;
use rustacuda::device::{Device, DeviceAttribute};
use std::sync::{Arc, Mutex};

use crate::{
    msm::{check_lengths, drop_identities},
    no_panic, BackendError, BackendKind, DeviceInfo, Fr, G1Affine, MsmBackend, ProverBackend, G1,
};

/// The CUDA devices the driver reports, or why it could not be asked.
pub fn probe_devices() -> Result<Vec<DeviceInfo>, String> {
    no_panic("the device probe", || {
        let e = |what: &str, e: rustacuda::error::CudaError| {
            BackendError::Unavailable(format!("{what}: {e}"))
        };
        rustacuda::init(rustacuda::CudaFlags::empty()).map_err(|x| e("cuInit", x))?;
        let n = Device::num_devices().map_err(|x| e("cuDeviceGetCount", x))?;
        (0..n)
            .map(|ordinal| {
                let d = Device::get_device(ordinal).map_err(|x| e("cuDeviceGet", x))?;
                let attr = |a| {
                    d.get_attribute(a)
                        .map(|v| u32::try_from(v).unwrap_or(0))
                        .map_err(|x| e("cuDeviceGetAttribute", x))
                };
                Ok(DeviceInfo {
                    ordinal,
                    name: d.name().map_err(|x| e("cuDeviceGetName", x))?,
                    total_memory: d.total_memory().map_err(|x| e("cuDeviceTotalMem", x))? as u64,
                    compute_capability: (
                        attr(DeviceAttribute::ComputeCapabilityMajor)?,
                        attr(DeviceAttribute::ComputeCapabilityMinor)?,
                    ),
                })
            })
            .collect()
    })
    .map_err(|e| match e {
        BackendError::Unavailable(m) => m,
        other => other.to_string(),
    })
}

/// Device memory in use now (all processes), in bytes.
pub fn gpu_memory_used() -> Option<u64> {
    no_panic("cudaMemGetInfo", || {
        Ok(openvm_cuda_common::memory_manager::device_memory_used() as u64)
    })
    .ok()
}

/// halo2-axiom-gpu's MSM (`multiexp_gpu`); MSMs shorter than [`crate::GPU_MSM_THRESHOLD`] run on the CPU.
#[derive(Debug)]
pub struct CudaMsm {
    device: DeviceInfo,
}

impl CudaMsm {
    /// The MSM backend on `device`.
    pub fn new(device: DeviceInfo) -> Result<Self, BackendError> {
        Ok(Self { device })
    }

    /// Its device.
    pub fn device(&self) -> &DeviceInfo {
        &self.device
    }
}

impl MsmBackend for CudaMsm {
    fn kind(&self) -> BackendKind {
        BackendKind::Cuda
    }

    fn msm(&self, scalars: &[Fr], bases: &[G1Affine]) -> Result<G1, BackendError> {
        check_lengths(scalars, bases)?;
        let (scalars, bases) = drop_identities(scalars, bases);
        no_panic("multiexp_gpu", || {
            gpu::cuda::funcs::multiexp_gpu::<G1Affine>(&scalars, &bases)
                .map_err(|e| BackendError::Gpu(format!("multiexp_gpu: {e:?}")))
        })
    }
}

/// halo2-axiom-gpu's SHPLONK prover.
///
/// It keeps the last SRS it was given, converted to halo2-axiom-gpu's type, together with the copy of its
/// points that the GPU prover uploads to the device on first use: the next proof with the same SRS (a worker
/// proving epoch after epoch) neither converts nor uploads it again. A different SRS replaces it.
pub struct CudaProver {
    device: DeviceInfo,
    params: Mutex<Option<Arc<GpuParams>>>,
}

type GpuParams = gpu::poly::kzg::commitment::ParamsKZG<Bn256>;

impl std::fmt::Debug for CudaProver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CudaProver")
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

impl CudaProver {
    /// The prover on `device`.
    pub fn new(device: DeviceInfo) -> Result<Self, BackendError> {
        Ok(Self {
            device,
            params: Mutex::new(None),
        })
    }

    /// `srs` as the GPU prover's type: the cached conversion when it holds the same points, else a new one
    /// (which replaces it).
    fn params_for(&self, srs: &ParamsKZG<Bn256>) -> Result<Arc<GpuParams>, BackendError> {
        let mut cached = self
            .params
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(p) = cached.as_ref() {
            if same_srs(srs, p) {
                return Ok(Arc::clone(p));
            }
        }
        *cached = None; // the old one's device copy is freed before the new one is made
        let _span = tracing::info_span!("zkattr_section", phase = "srs_to_gpu_params").entered();
        let p = Arc::new(gpu_params(srs)?);
        *cached = Some(Arc::clone(&p));
        Ok(p)
    }

    /// Its device.
    pub fn device(&self) -> &DeviceInfo {
        &self.device
    }
}

/// Whether `gpu` holds the points of `srs`: the same size, G2 points and powers of tau in G1 (the Lagrange
/// points follow from these). Every point is compared: milliseconds, against the conversion's and the
/// upload's much longer time.
fn same_srs(srs: &ParamsKZG<Bn256>, gpu: &GpuParams) -> bool {
    Params::k(srs) == gpu::poly::commitment::Params::k(gpu)
        && srs.g2() == gpu.g2()
        && srs.s_g2() == gpu.s_g2()
        && srs.get_g() == gpu.g()
}

/// halo2-axiom's SRS as halo2-axiom-gpu's type (the same points; the two serialise alike).
fn gpu_params(
    srs: &ParamsKZG<Bn256>,
) -> Result<gpu::poly::kzg::commitment::ParamsKZG<Bn256>, BackendError> {
    let mut bytes = Vec::new();
    srs.write_custom(&mut bytes, SerdeFormat::RawBytesUnchecked)
        .map_err(|e| BackendError::Gpu(format!("serialising the SRS: {e}")))?;
    gpu::poly::kzg::commitment::ParamsKZG::<Bn256>::read_custom(
        &mut bytes.as_slice(),
        SerdeFormat::RawBytesUnchecked,
    )
    .map_err(|e| BackendError::Gpu(format!("reading the SRS into the GPU prover: {e}")))
}

impl ProverBackend for CudaProver {
    fn kind(&self) -> BackendKind {
        BackendKind::Cuda
    }

    fn create_proof<'a, C, E, T, R>(
        &self,
        srs: &ParamsKZG<Bn256>,
        pk: &ProvingKey<G1Affine>,
        circuit: C,
        instances: &'a [&'a [Fr]],
        rng: R,
        transcript: &'a mut T,
    ) -> Result<(), BackendError>
    where
        C: Circuit<Fr>,
        E: EncodedChallenge<G1Affine>,
        T: TranscriptWrite<G1Affine, E>,
        R: RngCore + Send + 'a,
    {
        let params = self.params_for(srs)?;
        let params = params.as_ref();
        no_panic("the GPU prover", || {
            gpu::plonk::create_proof::<
                gpu::poly::kzg::commitment::KZGCommitmentScheme<Bn256>,
                gpu::poly::kzg::multiopen::ProverSHPLONK<'_, Bn256>,
                _,
                _,
                _,
                _,
            >(params, pk, &[circuit], &[instances], rng, transcript)
            .map_err(|e| match e {
                gpu::plonk::GpuError::Canonical(e) => BackendError::Proof(format!("{e:?}")),
                other => BackendError::Gpu(format!("{other:?}")),
            })
        })
    }

    fn create_proof_from_advice<'a, E, T, R>(
        &self,
        srs: &ParamsKZG<Bn256>,
        pk: &ProvingKey<G1Affine>,
        advice: Vec<Vec<Fr>>,
        instances: &'a [&'a [Fr]],
        rng: R,
        transcript: &'a mut T,
    ) -> Result<(), BackendError>
    where
        E: EncodedChallenge<G1Affine>,
        T: TranscriptWrite<G1Affine, E>,
        R: RngCore + Send + 'a,
    {
        crate::prover::check_advice(srs, pk, &advice, instances)?;
        let params = self.params_for(srs)?;
        let params = params.as_ref();
        no_panic("the GPU prover", || {
            let columns = {
                let _span =
                    tracing::info_span!("zkattr_section", phase = "advice_to_gpu").entered();
                advice
                    .iter()
                    .map(|c| c.to_device_on(&gpu::cuda::utils::HALO2_GPU_CTX))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| {
                        BackendError::Gpu(format!("copying the advice to the GPU: {e:?}"))
                    })?
            };
            // The copies are from pageable memory: each has left `advice` when it returns, but the columns are
            // dropped after the proof all the same.
            let proved = gpu::plonk::create_proof_from_advice::<
                gpu::poly::kzg::commitment::KZGCommitmentScheme<Bn256>,
                gpu::poly::kzg::multiopen::ProverSHPLONK<'_, Bn256>,
                _,
                _,
                _,
            >(params, pk, instances, columns, rng, transcript)
            .map_err(|e| match e {
                gpu::plonk::GpuError::Canonical(e) => BackendError::Proof(format!("{e:?}")),
                other => BackendError::Gpu(format!("{other:?}")),
            });
            drop(advice);
            proved
        })
    }
}
