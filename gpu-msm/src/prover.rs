//! SHPLONK proofs over KZG/BN254 on the CPU or a GPU.

use halo2_axiom::{
    halo2curves::bn256::Bn256,
    plonk::{create_proof, Circuit, ProvingKey},
    poly::kzg::{
        commitment::{KZGCommitmentScheme, ParamsKZG},
        multiopen::ProverSHPLONK,
    },
    transcript::{EncodedChallenge, TranscriptWrite},
};
use rand_core::RngCore;

use crate::{BackendChoice, BackendError, BackendKind, CudaProver, Fr, G1Affine, Selection};

/// Makes SHPLONK proofs over KZG/BN254 for halo2-axiom circuits.
///
/// Every implementation takes halo2-axiom's own SRS, proving key and transcript, so the proofs of all of
/// them verify with the same verifying key, natively and on-chain.
pub trait ProverBackend {
    /// Where it runs.
    fn kind(&self) -> BackendKind;

    /// Proves `circuit` with public inputs `instances` (one slice per instance column), writing the proof
    /// to `transcript`.
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
        R: RngCore + Send + 'a;
}

/// halo2-axiom's prover, parallel over every core.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuProver;

impl ProverBackend for CpuProver {
    fn kind(&self) -> BackendKind {
        BackendKind::Cpu
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
        create_proof::<KZGCommitmentScheme<Bn256>, ProverSHPLONK<'_, Bn256>, _, _, _, _>(
            srs,
            pk,
            &[circuit],
            &[instances],
            rng,
            transcript,
        )
        .map_err(|e| BackendError::Proof(format!("{e:?}")))
    }
}

/// The prover a [`Selection`] names.
#[derive(Debug)]
pub enum Prover {
    /// On the CPU.
    Cpu(CpuProver),
    /// On a GPU.
    Cuda(CudaProver),
}

impl Prover {
    /// The prover for `selection`.
    pub fn new(selection: &Selection) -> Result<Self, BackendError> {
        match (&selection.kind, &selection.device) {
            (BackendKind::Cpu, _) => Ok(Prover::Cpu(CpuProver)),
            (BackendKind::Cuda, Some(d)) => Ok(Prover::Cuda(CudaProver::new(d.clone())?)),
            (BackendKind::Cuda, None) => Err(BackendError::Unavailable(
                "a CUDA selection without a device".into(),
            )),
        }
    }

    /// Chooses (see [`crate::select`]) and builds the prover for `choice`, for work that needs about
    /// `min_memory` bytes on a GPU.
    pub fn select(
        choice: BackendChoice,
        min_memory: u64,
    ) -> Result<(Self, Selection), BackendError> {
        let s = crate::select(choice, min_memory)?;
        Ok((Self::new(&s)?, s))
    }
}

impl ProverBackend for Prover {
    fn kind(&self) -> BackendKind {
        match self {
            Prover::Cpu(p) => p.kind(),
            Prover::Cuda(p) => p.kind(),
        }
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
        match self {
            Prover::Cpu(p) => p.create_proof(srs, pk, circuit, instances, rng, transcript),
            Prover::Cuda(p) => p.create_proof(srs, pk, circuit, instances, rng, transcript),
        }
    }
}
