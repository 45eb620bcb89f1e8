//! The prover's side of [`crate::verify`]: the constraint system of the attribution circuit as data, and the
//! [`VerifierKey`] a receipt carries.

use halo2_base::halo2_proofs::{
    halo2curves::{
        bn256::{Bn256, G1Affine},
        group::GroupEncoding,
    },
    plonk::{Any, ConstraintSystem, Expression, VerifyingKey},
    poly::{commitment::ParamsProver, kzg::commitment::ParamsKZG},
    SerdeFormat,
};

use crate::{
    error::Result,
    field::Fr,
    verify::{ColumnRef, CsDescription, Expr, GateDesc, LookupDesc, VerifierKey, VerifierKeyFile},
};

fn expr(e: &Expression<Fr>, simple: &mut Vec<Option<bool>>) -> Expr {
    let b = |e: &Expression<Fr>, simple: &mut Vec<Option<bool>>| Box::new(expr(e, simple));
    match e {
        Expression::Constant(c) => Expr::Constant(*c),
        Expression::Selector(s) => {
            if let Some(slot) = simple.get_mut(s.index()) {
                *slot = Some(s.is_simple());
            }
            Expr::Selector(s.index())
        }
        Expression::Fixed(q) => Expr::Fixed(q.column_index(), q.rotation().0),
        Expression::Advice(q) => Expr::Advice(q.column_index(), q.rotation().0),
        Expression::Instance(q) => Expr::Instance(q.column_index(), q.rotation().0),
        Expression::Challenge(c) => Expr::Challenge(c.index()),
        Expression::Negated(a) => Expr::Negated(b(a, simple)),
        Expression::Sum(x, y) => Expr::Sum(b(x, simple), b(y, simple)),
        Expression::Product(x, y) => Expr::Product(b(x, simple), b(y, simple)),
        Expression::Scaled(a, c) => Expr::Scaled(b(a, simple), *c),
    }
}

/// A constraint system as data. Given a verifying key's (`vk.cs()`), selectors are already fixed columns.
pub fn describe(cs: &ConstraintSystem<Fr>) -> CsDescription {
    let mut simple = vec![None; cs.num_selectors()];
    let gates = cs
        .gates()
        .iter()
        .map(|g| GateDesc {
            name: g.name().to_string(),
            constraint_names: (0..g.polynomials().len())
                .map(|i| g.constraint_name(i).to_string())
                .collect(),
            polys: g
                .polynomials()
                .iter()
                .map(|p| expr(p, &mut simple))
                .collect(),
        })
        .collect();
    let lookups = cs
        .lookups()
        .iter()
        .map(|l| LookupDesc {
            name: l.name().to_string(),
            inputs: l
                .input_expressions()
                .iter()
                .map(|p| expr(p, &mut simple))
                .collect(),
            tables: l
                .table_expressions()
                .iter()
                .map(|p| expr(p, &mut simple))
                .collect(),
        })
        .collect();
    CsDescription {
        fixed_columns: cs.num_fixed_columns(),
        advice_phases: cs.advice_column_phase(),
        instance_columns: cs.num_instance_columns(),
        // A selector no polynomial uses is all zeros whatever its kind; halo2 makes `selector()`s simple.
        selectors_simple: simple.into_iter().map(|s| s.unwrap_or(true)).collect(),
        challenge_phases: cs.challenge_phase(),
        advice_queries: cs
            .advice_queries()
            .iter()
            .map(|(c, r)| (c.index(), r.0))
            .collect(),
        fixed_queries: cs
            .fixed_queries()
            .iter()
            .map(|(c, r)| (c.index(), r.0))
            .collect(),
        instance_queries: cs
            .instance_queries()
            .iter()
            .map(|(c, r)| (c.index(), r.0))
            .collect(),
        gates,
        permutation: cs
            .permutation()
            .get_columns()
            .iter()
            .map(|c| match c.column_type() {
                Any::Advice(_) => ColumnRef::Advice(c.index()),
                Any::Fixed => ColumnRef::Fixed(c.index()),
                Any::Instance => ColumnRef::Instance(c.index()),
            })
            .collect(),
        constants: cs.constants().iter().map(|c| c.index()).collect(),
        lookups,
        minimum_degree: cs.minimum_degree(),
    }
}

/// The [`VerifierKey`] of `vk` under `srs`.
///
/// The key travels without its selector assignments. halo2 keeps them in the key's bytes only to merge
/// selectors into fixed columns when it rebuilds the constraint system from `configure`; the verifier key
/// describes the constraint system after that merge ([`describe`] of `vk.cs()`), so there is nothing left to
/// merge and reading the key costs no work per row. The key read back is the same key: a test compares the
/// whole pinned key and the transcript representative.
pub fn verifier_key(srs: &ParamsKZG<Bn256>, vk: &VerifyingKey<G1Affine>) -> Result<VerifierKey> {
    VerifierKey::from_file(&verifier_key_file(srs, vk))
}

/// [`verifier_key`]'s JSON form, made without reading the key back (what receipts carry).
pub fn verifier_key_file(srs: &ParamsKZG<Bn256>, vk: &VerifyingKey<G1Affine>) -> VerifierKeyFile {
    use sha3::Digest;
    let bytes = vk.to_bytes(SerdeFormat::RawBytes);
    // version, k, compress_selectors, number of fixed commitments; the fixed and the permutation
    // commitments (uncompressed G1 points); then the selector assignments, dropped here.
    let head =
        1 + 4 + 1 + 4 + 64 * (vk.fixed_commitments().len() + vk.permutation().commitments().len());
    let bytes = &bytes[..head.min(bytes.len())];
    let hex = |b: &[u8]| format!("0x{}", hex::encode(b));
    VerifierKeyFile {
        k: vk.get_domain().k(),
        constraint_system: describe(vk.cs()),
        vk: hex(bytes),
        vk_keccak: hex(&sha3::Keccak256::digest(bytes)),
        g1: hex(srs.get_g()[0].to_bytes().as_ref()),
        g2: hex(srs.g2().to_bytes().as_ref()),
        s_g2: hex(srs.s_g2().to_bytes().as_ref()),
    }
}

/// Whether `key`'s setup points are those of `srs`.
pub fn same_setup(key: &VerifierKey, srs: &ParamsKZG<Bn256>) -> bool {
    let (g1, g2, s_g2) = key.setup_points();
    g1 == srs.get_g()[0].to_bytes().as_ref()
        && g2 == srs.g2().to_bytes().as_ref()
        && s_g2 == srs.s_g2().to_bytes().as_ref()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field;
    use crate::halo2::{
        attribution::AttributionWitness,
        prove::{insecure_test_srs, keygen, prove, verify},
    };
    use crate::statement::synthetic_epoch;
    use crate::verify::{VerifierKey, VerifierKeyFile};
    use halo2_base::halo2_proofs::{
        arithmetic::CurveAffine,
        halo2curves::{bn256::Fq, ff::PrimeField},
    };
    use sha3::Digest;

    #[test]
    fn the_light_verifier_accepts_and_refuses_what_the_evm_transcript_does() {
        let input = synthetic_epoch(6, 4, 3);
        let lookup_bits = input.params.circuit.lookup_bits as usize;
        let (w, outcome) = AttributionWitness::honest(input).unwrap();
        let s = crate::halo2::prove::shape(&w, lookup_bits).unwrap();
        let srs = &insecure_test_srs(crate::halo2::prove::choose_k(&s, lookup_bits));
        let keys = keygen(srs, lookup_bits, &w).unwrap();
        let pk = &keys.pk;
        let (proof, public) = prove(srs, &keys, &w).unwrap();
        assert_eq!(public, outcome.public.to_field_elements().to_vec());
        let key = verifier_key(srs, pk.get_vk()).unwrap();
        // The replayed constraint system is the circuit's: the transcript representatives (halo2's hash of
        // the whole pinned key: domain, constraint system, commitments), halo2's and the light verifier's
        // own, agree.
        assert_eq!(
            key.transcript_repr(),
            field::to_hex(&pk.get_vk().transcript_repr())
        );
        // Through JSON, as a receipt carries it.
        let file: VerifierKeyFile =
            serde_json::from_str(&serde_json::to_string(&key.to_file()).unwrap()).unwrap();
        let key = VerifierKey::from_file(&file).unwrap();
        assert!(same_setup(&key, srs));
        key.verify(&proof, &public).unwrap();
        verify(srs, pk.get_vk(), &proof, &public).unwrap();

        // A changed public input, a flipped byte anywhere, a truncated or extended proof: both refuse.
        let mut other = public.clone();
        other[2] += Fr::from(1u64);
        assert!(key.verify(&proof, &other).is_err());
        assert!(verify(srs, pk.get_vk(), &proof, &other).is_err());
        // One flipped bit in every 32-byte word of the proof (commitments, evaluations, the opening).
        for at in (0..proof.len()).step_by(32).flat_map(|w| [w, w + 31]) {
            let mut bad = proof.clone();
            bad[at] ^= 1;
            assert!(key.verify(&bad, &public).is_err(), "byte {at}");
            assert!(
                verify(srs, pk.get_vk(), &bad, &public).is_err(),
                "byte {at}"
            );
        }
        // Valid but wrong points: every point of the proof (the commitments, W and W') negated, which
        // keeps it on the curve so that only the algebra can refuse it, or replaced by the point at
        // infinity, which both transcripts read as (0, 0).
        let coordinate = |b: &[u8]| -> Option<Fq> {
            let mut repr = <Fq as PrimeField>::Repr::default();
            repr.as_mut().copy_from_slice(b);
            repr.as_mut().reverse();
            Option::from(Fq::from_repr(repr))
        };
        let mut points = 0;
        for at in (0..proof.len().saturating_sub(63)).step_by(32) {
            let (Some(x), Some(y)) = (
                coordinate(&proof[at..at + 32]),
                coordinate(&proof[at + 32..at + 64]),
            ) else {
                continue;
            };
            if y == Fq::zero() || bool::from(G1Affine::from_xy(x, y).is_none()) {
                continue;
            }
            points += 1;
            for (nx, ny) in [(x, -y), (Fq::zero(), Fq::zero())] {
                let mut bad = proof.clone();
                for (o, c) in [(at, nx), (at + 32, ny)] {
                    let mut repr = c.to_repr();
                    repr.as_mut().reverse();
                    bad[o..o + 32].copy_from_slice(repr.as_ref());
                }
                assert!(key.verify(&bad, &public).is_err(), "point at {at}");
                assert!(
                    verify(srs, pk.get_vk(), &bad, &public).is_err(),
                    "point at {at}"
                );
            }
        }
        // The advice, lookup, permutation, random and quotient commitments and the two opening points.
        assert!(points >= 15, "{points} points found in the proof");

        // Each public input changed.
        for i in 0..public.len() {
            let mut other = public.clone();
            other[i] -= Fr::from(1u64);
            assert!(key.verify(&proof, &other).is_err(), "public input {i}");
        }
        assert!(key.verify(&proof, &public[1..]).is_err());
        assert!(key.verify(&proof[..proof.len() - 32], &public).is_err());
        let mut longer = proof.clone();
        longer.push(0);
        assert!(key.verify(&longer, &public).is_err());

        // A key file that was tampered with is refused before any proof is looked at.
        let mut f = key.to_file();
        f.vk.replace_range(100..102, if &f.vk[100..102] == "00" { "01" } else { "00" });
        assert!(VerifierKey::from_file(&f)
            .unwrap_err()
            .to_string()
            .contains("vk_keccak"));
        // A consistent key for another circuit (two fixed commitments swapped, its hash recomputed): it
        // loads, its transcript representative differs, and the proof is refused.
        let mut f = key.to_file();
        let mut vk = hex::decode(f.vk.trim_start_matches("0x")).unwrap();
        let (a, b) = (10..74, 74..138);
        assert_ne!(vk[a.clone()], vk[b.clone()]);
        let first = vk[a.clone()].to_vec();
        vk.copy_within(b.clone(), a.start);
        vk[b].copy_from_slice(&first);
        f.vk = format!("0x{}", hex::encode(&vk));
        f.vk_keccak = format!("0x{}", hex::encode(sha3::Keccak256::digest(&vk)));
        let other_circuit = VerifierKey::from_file(&f).unwrap();
        assert_ne!(other_circuit.transcript_repr(), key.transcript_repr());
        assert!(other_circuit.verify(&proof, &public).is_err());
        let mut f = key.to_file();
        f.s_g2 = key.to_file().g2;
        let wrong_setup = VerifierKey::from_file(&f).unwrap();
        assert!(!same_setup(&wrong_setup, srs));
        // The fingerprint a contributor compares covers the setup points (a known-secret s·g2 would
        // let anyone forge openings), not only the key.
        assert_ne!(wrong_setup.fingerprint(), key.fingerprint());
        assert_eq!(wrong_setup.transcript_repr(), key.transcript_repr());
        assert!(wrong_setup.verify(&proof, &public).is_err());
    }
}
