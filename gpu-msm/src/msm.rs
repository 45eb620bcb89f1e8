//! BN254 G1 multi-scalar multiplication backends.

use std::borrow::Cow;

use halo2_axiom::arithmetic::best_multiexp;
use halo2_axiom::halo2curves::group::prime::PrimeCurveAffine;

use crate::{BackendError, BackendKind, Fr, G1Affine, G1};

/// Computes `sum scalars[i] * bases[i]` over BN254 G1.
///
/// An implementation takes host slices of equal length (any length, zero included: the sum of nothing is
/// the identity) and must agree with [`CpuMsm`] on every input, including zero scalars, identity bases and
/// repeated or opposite points. The CUDA backend is one; an ICICLE backend for licensed installs would be
/// another (it would convert the scalars out of Montgomery form and the points to its affine layout, and
/// report its own errors as [`BackendError::Gpu`]).
pub trait MsmBackend: Send + Sync + std::fmt::Debug {
    /// Where it runs.
    fn kind(&self) -> BackendKind;
    /// The MSM.
    fn msm(&self, scalars: &[Fr], bases: &[G1Affine]) -> Result<G1, BackendError>;
}

/// halo2-axiom's Pippenger MSM (`best_multiexp`), parallel over every core with rayon.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuMsm;

pub(crate) fn check_lengths(scalars: &[Fr], bases: &[G1Affine]) -> Result<(), BackendError> {
    if scalars.len() != bases.len() {
        return Err(BackendError::BadInput(format!(
            "{} scalars for {} bases",
            scalars.len(),
            bases.len()
        )));
    }
    Ok(())
}

/// The pairs whose base is not the identity (which adds nothing). halo2-axiom's MSM panics on identity
/// bases once it batches affine additions (from about 2^14 points; found by the edge tests), so every
/// backend drops them first. Borrows when there are none (the usual case: an SRS has no identity).
pub(crate) fn drop_identities<'a>(
    scalars: &'a [Fr],
    bases: &'a [G1Affine],
) -> (Cow<'a, [Fr]>, Cow<'a, [G1Affine]>) {
    if !bases.iter().any(|b| bool::from(b.is_identity())) {
        return (Cow::Borrowed(scalars), Cow::Borrowed(bases));
    }
    let (s, b): (Vec<Fr>, Vec<G1Affine>) = scalars
        .iter()
        .zip(bases)
        .filter(|(_, b)| !bool::from(b.is_identity()))
        .map(|(s, b)| (*s, *b))
        .unzip();
    (Cow::Owned(s), Cow::Owned(b))
}

impl MsmBackend for CpuMsm {
    fn kind(&self) -> BackendKind {
        BackendKind::Cpu
    }

    fn msm(&self, scalars: &[Fr], bases: &[G1Affine]) -> Result<G1, BackendError> {
        check_lengths(scalars, bases)?;
        let (scalars, bases) = drop_identities(scalars, bases);
        Ok(best_multiexp(&scalars, &bases))
    }
}
