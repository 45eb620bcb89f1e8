//! SHPLONK proofs over KZG/BN254 on the CPU or a GPU.

use halo2_axiom::{
    halo2curves::bn256::Bn256,
    plonk::{create_proof, create_proof_from_advice, Circuit, ProvingKey},
    poly::{
        commitment::Params,
        kzg::{
            commitment::{KZGCommitmentScheme, ParamsKZG},
            multiopen::ProverSHPLONK,
        },
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

    /// Proves a single-phase circuit from its advice columns, laid out by the caller instead of by halo2's
    /// `synthesize`: one vector of `2^k` values per advice column, in the constraint system's column order
    /// (the blinding rows at the end of each column may hold anything: they are overwritten). The proof is
    /// one [`ProverBackend::create_proof`] could make for a circuit whose synthesis assigns those columns:
    /// with the same rng its advice commitments, which come first, are the same (the rest is not
    /// reproducible even between two synthesised proofs: halo2-axiom also draws from the thread's rng).
    /// Columns of the wrong number or length, an SRS of another size than the key's, or a circuit with more
    /// than one phase, are refused with [`BackendError::Proof`] before anything is proven.
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
        check_advice(srs, pk, &advice, instances)?;
        // halo2-axiom panics on a witness it cannot prove (a lookup input missing from its table).
        crate::no_panic_as("the CPU prover", BackendError::Proof, || {
            create_proof_from_advice::<KZGCommitmentScheme<Bn256>, ProverSHPLONK<'_, Bn256>, _, _, _>(
                srs, pk, instances, advice, rng, transcript,
            )
            .map_err(|e| BackendError::Proof(format!("{e:?}")))
        })
    }
}

/// Refuses advice columns that [`ProverBackend::create_proof_from_advice`] cannot take for `pk`: the
/// provers assert on these (a panic), so they are checked first and reported as an error.
pub(crate) fn check_advice(
    srs: &ParamsKZG<Bn256>,
    pk: &ProvingKey<G1Affine>,
    advice: &[Vec<Fr>],
    instances: &[&[Fr]],
) -> Result<(), BackendError> {
    let cs = pk.get_vk().cs();
    let n = 1usize << srs.k();
    let refuse = |m: String| Err(BackendError::Proof(format!("advice columns: {m}")));
    let key_k = pk.get_vk().get_domain().k();
    if key_k != srs.k() {
        return refuse(format!(
            "the SRS has 2^{} points, the proving key is for 2^{key_k} rows",
            srs.k()
        ));
    }
    if cs.advice_column_phase().iter().any(|&p| p != 0) || !cs.challenge_phase().is_empty() {
        return refuse("the circuit has more than one phase; only single-phase circuits can be proven from their advice".into());
    }
    if advice.len() != cs.num_advice_columns() {
        return refuse(format!(
            "{} columns given, the circuit has {}",
            advice.len(),
            cs.num_advice_columns()
        ));
    }
    if let Some((i, c)) = advice.iter().enumerate().find(|(_, c)| c.len() != n) {
        return refuse(format!(
            "column {i} has {} rows, the SRS has 2^{} = {n}",
            c.len(),
            srs.k()
        ));
    }
    if instances.len() != cs.num_instance_columns() {
        return refuse(format!(
            "{} instance columns given, the circuit has {}",
            instances.len(),
            cs.num_instance_columns()
        ));
    }
    let usable = n - (cs.blinding_factors() + 1);
    if let Some(i) = instances.iter().position(|c| c.len() > usable) {
        return refuse(format!(
            "instance column {i} is longer than the {usable} usable rows"
        ));
    }
    Ok(())
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
        match self {
            Prover::Cpu(p) => {
                p.create_proof_from_advice(srs, pk, advice, instances, rng, transcript)
            }
            Prover::Cuda(p) => {
                p.create_proof_from_advice(srs, pk, advice, instances, rng, transcript)
            }
        }
    }
}
