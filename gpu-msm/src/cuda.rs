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
use openvm_cuda_common::{copy::MemCopyH2D, d_buffer::DeviceBuffer};
use rand_core::RngCore;
use rustacuda::device::{Device, DeviceAttribute};
use std::sync::{Arc, Mutex};

use crate::{
    msm::{check_lengths, drop_identities},
    no_panic, BackendError, BackendKind, CpuMsm, DeviceInfo, Fr, G1Affine, MsmBackend,
    ProverBackend, G1,
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

/// BN254 points kept on the GPU for many MSMs over the same bases (an SRS's, for commitments): uploaded once
/// by [`CudaMsm::upload_bases`], so that an MSM copies only its scalars ([`CudaMsm::msm_fixed`]) or nothing
/// ([`CudaMsm::msm_device`]). None of them is the identity (refused on upload).
pub struct DeviceBases {
    points: DeviceBuffer<G1Affine>,
    /// The first [`crate::GPU_MSM_THRESHOLD`] points on the host as well: shorter MSMs run on the CPU, as
    /// [`CudaMsm::msm`]'s do.
    head: Vec<G1Affine>,
}

impl DeviceBases {
    /// How many points.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }
}

impl std::fmt::Debug for DeviceBases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceBases")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

/// Scalars on the GPU ([`CudaMsm::upload_scalars`]), for [`CudaMsm::msm_device`].
pub struct DeviceScalars {
    values: DeviceBuffer<Fr>,
    /// A copy on the host when there are fewer than [`crate::GPU_MSM_THRESHOLD`] (their MSM runs on the CPU).
    short: Option<Vec<Fr>>,
}

impl DeviceScalars {
    /// How many scalars.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

impl std::fmt::Debug for DeviceScalars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceScalars")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

/// The longest piece [`CudaMsm::msm_device`] gives the GPU at once: 2^24 points, the largest MSM measured on
/// the GPU (docs/gpu.md).
const MAX_DEVICE_MSM: usize = 1 << 24;

/// `values` copied to the device (an empty buffer for none), the copy finished when it returns (so that its
/// errors are reported here, and its time counted here).
fn to_device<T>(values: &[T], what: &str) -> Result<DeviceBuffer<T>, BackendError> {
    if values.is_empty() {
        return Ok(DeviceBuffer::new());
    }
    no_panic(what, || {
        let ctx = &gpu::cuda::utils::HALO2_GPU_CTX;
        let buffer = values
            .to_device_on(ctx)
            .map_err(|e| BackendError::Gpu(format!("{what}: {e:?}")))?;
        ctx.stream
            .to_host_sync()
            .map_err(|e| BackendError::Gpu(format!("{what}: {e:?}")))?;
        Ok(buffer)
    })
}

fn check_prefix(scalars: usize, bases: &DeviceBases) -> Result<(), BackendError> {
    if scalars > bases.len() {
        return Err(BackendError::BadInput(format!(
            "{scalars} scalars for {} bases on the GPU",
            bases.len()
        )));
    }
    Ok(())
}

impl CudaMsm {
    /// `bases` copied to the GPU for [`CudaMsm::msm_fixed`] and [`CudaMsm::msm_device`]. An identity point
    /// is refused ([`BackendError::BadInput`]): the MSMs over device bases cannot drop it the way
    /// [`MsmBackend::msm`] does, and an SRS has none.
    pub fn upload_bases(&self, bases: &[G1Affine]) -> Result<DeviceBases, BackendError> {
        use halo2_axiom::halo2curves::group::prime::PrimeCurveAffine;
        if let Some(i) = bases.iter().position(|b| bool::from(b.is_identity())) {
            return Err(BackendError::BadInput(format!(
                "base {i} is the identity: bases kept on the GPU must not be (use msm for such inputs)"
            )));
        }
        Ok(DeviceBases {
            points: to_device(bases, "copying the bases to the GPU")?,
            head: bases[..bases.len().min(crate::GPU_MSM_THRESHOLD)].to_vec(),
        })
    }

    /// `scalars` copied to the GPU for [`CudaMsm::msm_device`].
    pub fn upload_scalars(&self, scalars: &[Fr]) -> Result<DeviceScalars, BackendError> {
        Ok(DeviceScalars {
            values: to_device(scalars, "copying the scalars to the GPU")?,
            short: (scalars.len() < crate::GPU_MSM_THRESHOLD).then(|| scalars.to_vec()),
        })
    }

    /// `sum scalars[i] * bases[i]` over the first `scalars.len()` bases, both already on the GPU
    /// (halo2-axiom-gpu's `multiexp_gpu_device_scalars_device_bases_chunked`, the MSM its prover runs on
    /// the SRS); below [`crate::GPU_MSM_THRESHOLD`] scalars, on the CPU. More scalars than bases are refused.
    pub fn msm_device(
        &self,
        scalars: &DeviceScalars,
        bases: &DeviceBases,
    ) -> Result<G1, BackendError> {
        check_prefix(scalars.len(), bases)?;
        if let Some(s) = &scalars.short {
            return CpuMsm.msm(s, &bases.head[..s.len()]);
        }
        no_panic("multiexp_gpu_device_scalars_device_bases", || {
            // In pieces of at most MAX_DEVICE_MSM points. (The library sizes its own pieces by the free
            // device memory through an `extern "C"` function, which this crate's `forbid(unsafe_code)`
            // keeps out; a piece whose scratch does not fit is an error here, not split further.)
            gpu::cuda::funcs::multiexp_gpu_device_scalars_device_bases_chunked::<G1Affine>(
                &scalars.values,
                &bases.points,
                MAX_DEVICE_MSM,
            )
            .map_err(|e| {
                BackendError::Gpu(format!("multiexp_gpu_device_scalars_device_bases: {e:?}"))
            })
        })
    }

    /// `sum scalars[i] * bases[i]` over the first `scalars.len()` bases kept on the GPU: the scalars are
    /// copied there first (below [`crate::GPU_MSM_THRESHOLD`], the CPU computes it).
    pub fn msm_fixed(&self, scalars: &[Fr], bases: &DeviceBases) -> Result<G1, BackendError> {
        check_prefix(scalars.len(), bases)?;
        if scalars.len() < crate::GPU_MSM_THRESHOLD {
            return CpuMsm.msm(scalars, &bases.head[..scalars.len()]);
        }
        self.msm_device(&self.upload_scalars(scalars)?, bases)
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
