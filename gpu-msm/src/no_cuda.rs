//! The CUDA backends of a build without the `cuda` feature: the same names, and every way in says
//! [`BackendError::NotBuilt`].

use halo2_axiom::{
    halo2curves::bn256::Bn256,
    plonk::{Circuit, ProvingKey},
    poly::kzg::commitment::ParamsKZG,
    transcript::{EncodedChallenge, TranscriptWrite},
};
use rand_core::RngCore;

use crate::{BackendError, BackendKind, DeviceInfo, Fr, G1Affine, MsmBackend, ProverBackend, G1};

/// The CUDA devices: none in this build.
pub fn probe_devices() -> Result<Vec<DeviceInfo>, String> {
    Err(BackendError::NotBuilt.to_string())
}

/// Device memory in use: unknown in this build.
pub fn gpu_memory_used() -> Option<u64> {
    None
}

/// The CUDA MSM backend; this build cannot make one.
#[derive(Debug)]
pub struct CudaMsm {
    _none: (),
}

impl CudaMsm {
    /// Always [`BackendError::NotBuilt`] in this build.
    pub fn new(_device: DeviceInfo) -> Result<Self, BackendError> {
        Err(BackendError::NotBuilt)
    }
}

impl MsmBackend for CudaMsm {
    fn kind(&self) -> BackendKind {
        BackendKind::Cuda
    }

    fn msm(&self, _scalars: &[Fr], _bases: &[G1Affine]) -> Result<G1, BackendError> {
        Err(BackendError::NotBuilt)
    }
}

/// Points kept on the GPU; this build cannot make them.
#[derive(Debug)]
pub struct DeviceBases {
    _none: (),
}

impl DeviceBases {
    /// How many points (none in this build).
    pub fn len(&self) -> usize {
        0
    }

    /// Whether there are none (always, in this build).
    pub fn is_empty(&self) -> bool {
        true
    }
}

/// Scalars on the GPU; this build cannot make them.
#[derive(Debug)]
pub struct DeviceScalars {
    _none: (),
}

impl DeviceScalars {
    /// How many scalars (none in this build).
    pub fn len(&self) -> usize {
        0
    }

    /// Whether there are none (always, in this build).
    pub fn is_empty(&self) -> bool {
        true
    }
}

impl CudaMsm {
    /// Always [`BackendError::NotBuilt`] in this build.
    pub fn upload_bases(&self, _bases: &[G1Affine]) -> Result<DeviceBases, BackendError> {
        Err(BackendError::NotBuilt)
    }

    /// Always [`BackendError::NotBuilt`] in this build.
    pub fn upload_scalars(&self, _scalars: &[Fr]) -> Result<DeviceScalars, BackendError> {
        Err(BackendError::NotBuilt)
    }

    /// Always [`BackendError::NotBuilt`] in this build.
    pub fn msm_device(
        &self,
        _scalars: &DeviceScalars,
        _bases: &DeviceBases,
    ) -> Result<G1, BackendError> {
        Err(BackendError::NotBuilt)
    }

    /// Always [`BackendError::NotBuilt`] in this build.
    pub fn msm_fixed(&self, _scalars: &[Fr], _bases: &DeviceBases) -> Result<G1, BackendError> {
        Err(BackendError::NotBuilt)
    }
}

/// The CUDA prover; this build cannot make one.
#[derive(Debug)]
pub struct CudaProver {
    _none: (),
}

impl CudaProver {
    /// Always [`BackendError::NotBuilt`] in this build.
    pub fn new(_device: DeviceInfo) -> Result<Self, BackendError> {
        Err(BackendError::NotBuilt)
    }
}

impl ProverBackend for CudaProver {
    fn kind(&self) -> BackendKind {
        BackendKind::Cuda
    }

    fn create_proof<'a, C, E, T, R>(
        &self,
        _srs: &ParamsKZG<Bn256>,
        _pk: &ProvingKey<G1Affine>,
        _circuit: C,
        _instances: &'a [&'a [Fr]],
        _rng: R,
        _transcript: &'a mut T,
    ) -> Result<(), BackendError>
    where
        C: Circuit<Fr>,
        E: EncodedChallenge<G1Affine>,
        T: TranscriptWrite<G1Affine, E>,
        R: RngCore + Send + 'a,
    {
        Err(BackendError::NotBuilt)
    }

    fn create_proof_from_advice<'a, E, T, R>(
        &self,
        _srs: &ParamsKZG<Bn256>,
        _pk: &ProvingKey<G1Affine>,
        _advice: Vec<Vec<Fr>>,
        _instances: &'a [&'a [Fr]],
        _rng: R,
        _transcript: &'a mut T,
    ) -> Result<(), BackendError>
    where
        E: EncodedChallenge<G1Affine>,
        T: TranscriptWrite<G1Affine, E>,
        R: RngCore + Send + 'a,
    {
        Err(BackendError::NotBuilt)
    }
}
