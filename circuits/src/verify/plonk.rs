//! halo2's PLONK verifier (KZG commitments, SHPLONK openings, one proof) written for verifying only.
//!
//! halo2-axiom verifies through its `VerifyingKey`, which it builds only with a full `EvaluationDomain`:
//! FFT tables for `2^k` up to `2^extended_k` points that a verifier never reads (about 150 ms natively at
//! `k = 19`, most of a receipt check in the browser). Verifying reads only `n = 2^k`, the `n`-th root of
//! unity `omega` and the quotient's degree. So this module holds the key as its parts ([`Key`]: the
//! constraint system halo2 builds from a `CsDescription`, the fixed and permutation commitments) and runs
//! the verifier's algorithm on them:
//!
//! 1. the transcript: the key's representative, the public inputs, then the prover's commitments
//!    phase by phase with the challenges `theta`, `beta`, `gamma`, `y`, `x` squeezed between them, then
//!    the evaluations at `x` and its rotations;
//! 2. the vanishing argument: every gate, permutation and lookup constraint evaluated at `x` from those
//!    evaluations, folded with `y` and divided by `x^n - 1`, must be what the quotient's pieces open to;
//! 3. the SHPLONK multi-opening: all the queried commitments at all their points reduced to two
//!    commitments (`W`, `W'`) and one pairing check `e(W', s·g2) = e(F, g2)`.
//!
//! The order of everything read and every query is halo2's, which the prover follows; the key's
//! representative ([`Key::transcript_repr`]) is halo2's hash of the pinned key, the same value. The tests
//! in `zkattr_circuits::halo2::verifier` check that this verifier and halo2-axiom's accept and refuse the
//! same proofs, and that the representatives agree. One difference on purpose: bytes after the proof's end
//! are refused here (halo2 leaves them unread).

use std::io::Read;

use halo2_axiom::{
    arithmetic::best_multiexp,
    halo2curves::{
        bn256::{multi_miller_loop, G1Affine, G2Affine, G2Prepared, G1},
        ff::{BatchInvert, Field, FromUniformBytes, PrimeField},
        group::{Curve, Group},
        pairing::MillerLoopResult,
    },
    plonk::{permutation, Any, ConstraintSystem, Expression},
    transcript::{EncodedChallenge, Transcript, TranscriptRead},
};

use super::{bad, KeccakTranscript};
use crate::{error::Result, field::Fr};

/// What verifying needs of a verifying key.
#[derive(Debug, Clone)]
pub struct Key {
    /// log2 of the rows.
    pub k: u32,
    extended_k: u32,
    omega: Fr,
    omega_inv: Fr,
    cs: ConstraintSystem<Fr>,
    degree: usize,
    fixed: Vec<G1Affine>,
    sigma: Vec<G1Affine>,
    transcript_repr: Fr,
}

impl Key {
    /// The key of a circuit with constraint system `cs` (no selectors left, degree at least 3) on `2^k`
    /// rows, `k` at most the field's two-adicity: `read_key` checks all of it.
    pub(crate) fn new(
        k: u32,
        cs: ConstraintSystem<Fr>,
        fixed: Vec<G1Affine>,
        sigma: Vec<G1Affine>,
    ) -> Self {
        let degree = cs.degree();
        // The quotient has degree (degree - 1)·n: the smallest domain that holds it (what halo2 pins).
        let n = 1u64 << k;
        let mut extended_k = k;
        while (1u64 << extended_k) < n * (degree as u64 - 1) {
            extended_k += 1;
        }
        let mut omega = Fr::ROOT_OF_UNITY;
        for _ in k..Fr::S {
            omega = omega.square();
        }
        let omega_inv = omega.invert().expect("a root of unity is not zero");
        let mut key = Self {
            k,
            extended_k,
            omega,
            omega_inv,
            cs,
            degree,
            fixed,
            sigma,
            transcript_repr: Fr::ZERO,
        };
        key.transcript_repr = key.pinned_hash();
        key
    }

    /// halo2's representative of the key: BLAKE2b-512 (personal `Halo2-Verify-Key`) of the length and the
    /// text of the pinned key (moduli, domain, constraint system, fixed and permutation commitments, as
    /// halo2's `PinnedVerificationKey` prints them), read as a field element.
    fn pinned_hash(&self) -> Fr {
        use halo2_axiom::halo2curves::bn256::Fq;
        let text = format!(
            "PinnedVerificationKey {{ base_modulus: {:?}, scalar_modulus: {:?}, domain: \
             PinnedEvaluationDomain {{ k: {:?}, extended_k: {:?}, omega: {:?} }}, cs: {:?}, \
             fixed_commitments: {:?}, permutation: {:?} }}",
            Fq::MODULUS,
            Fr::MODULUS,
            self.k,
            self.extended_k,
            self.omega,
            self.cs.pinned(),
            self.fixed,
            permutation::VerifyingKey::from_commitments(self.sigma.clone()),
        );
        let mut hasher = blake2b_simd::Params::new()
            .hash_length(64)
            .personal(b"Halo2-Verify-Key")
            .to_state();
        hasher.update(&(text.len() as u64).to_le_bytes());
        hasher.update(text.as_bytes());
        Fr::from_uniform_bytes(hasher.finalize().as_array())
    }

    /// The key's transcript representative: the first thing a proof's transcript absorbs.
    pub fn transcript_repr(&self) -> Fr {
        self.transcript_repr
    }

    /// `value · omega^rotation`.
    fn rotate(&self, value: Fr, rotation: i32) -> Fr {
        if rotation >= 0 {
            value * self.omega.pow_vartime([rotation as u64])
        } else {
            value
                * self
                    .omega_inv
                    .pow_vartime([u64::from(rotation.unsigned_abs())])
        }
    }

    /// The Lagrange basis polynomials `l_r` (1 at `omega^r`, 0 at the domain's other points) at `x`,
    /// for each `r` of `rotations`: `l_r(x) = omega^r (x^n - 1) / (n (x - omega^r))`.
    fn lagrange(
        &self,
        x: Fr,
        xn: Fr,
        rotations: impl Iterator<Item = i32> + Clone,
    ) -> Result<Vec<Fr>> {
        let mut out: Vec<Fr> = rotations
            .clone()
            .map(|r| x - self.rotate(Fr::ONE, r))
            .collect();
        if out.iter().any(|d| bool::from(d.is_zero())) {
            return Err(bad(
                "the proof does not verify: its challenge x is a point of the domain",
            ));
        }
        out.iter_mut().batch_invert();
        let n_inv = Fr::from(1u64 << self.k).invert().expect("n is not zero");
        let common = (xn - Fr::ONE) * n_inv;
        for (r, v) in rotations.zip(out.iter_mut()) {
            *v = self.rotate(*v * common, r);
        }
        Ok(out)
    }

    /// Verifies a proof (halo2's transcript read through [`KeccakTranscript`]) for one instance column's
    /// values per instance column. Every byte of `proof` must be read.
    pub fn verify(
        &self,
        proof: &[u8],
        instances: &[&[Fr]],
        g1: G1Affine,
        g2: G2Affine,
        s_g2: G2Affine,
    ) -> Result<()> {
        let mut t = KeccakTranscript::new(proof);
        let checked = self.run(&mut t, instances, g1)?;
        let mut rest = [0u8; 1];
        if t.reader.read(&mut rest).unwrap_or(0) != 0 {
            return Err(bad("the proof has bytes after its end"));
        }
        let (left, right) = checked;
        let s_g2 = G2Prepared::from(s_g2);
        let minus_g2 = G2Prepared::from(-g2);
        let ok = multi_miller_loop(&[(&left, &s_g2), (&right, &minus_g2)])
            .final_exponentiation()
            .is_identity();
        if bool::from(ok) {
            Ok(())
        } else {
            Err(bad(
                "the proof does not verify: its opening fails the pairing check",
            ))
        }
    }

    /// Reads the transcript and reduces the proof to the two points of the pairing check.
    fn run(
        &self,
        t: &mut KeccakTranscript<&[u8]>,
        instances: &[&[Fr]],
        g1: G1Affine,
    ) -> Result<(G1Affine, G1Affine)> {
        let cs = &self.cs;
        if instances.len() != cs.num_instance_columns() {
            return Err(bad(format!(
                "the proof does not verify: {} instance columns given, the circuit has {}",
                instances.len(),
                cs.num_instance_columns()
            )));
        }
        let squeeze = |t: &mut KeccakTranscript<&[u8]>| t.squeeze_challenge().get_scalar();
        let point = |t: &mut KeccakTranscript<&[u8]>, what: &'static str| {
            t.read_point().map_err(read_err(what))
        };
        let scalar = |t: &mut KeccakTranscript<&[u8]>, what: &'static str| {
            t.read_scalar().map_err(read_err(what))
        };

        // 1. The key and the public inputs.
        t.common_scalar(self.transcript_repr)
            .map_err(read_err("the key"))?;
        for column in instances {
            for v in column.iter() {
                t.common_scalar(*v).map_err(read_err("the public inputs"))?;
            }
        }
        // Advice commitments phase by phase, each phase's challenges after its columns.
        let phases = cs.advice_column_phase();
        let challenge_phases = cs.challenge_phase();
        let last_phase = phases.iter().copied().max().unwrap_or(0);
        let mut advice = vec![G1Affine::default(); cs.num_advice_columns()];
        let mut challenges = vec![Fr::ZERO; cs.num_challenges()];
        for phase in 0..=last_phase {
            for (c, p) in advice.iter_mut().zip(&phases) {
                if *p == phase {
                    *c = point(t, "an advice commitment")?;
                }
            }
            for (c, p) in challenges.iter_mut().zip(&challenge_phases) {
                if *p == phase {
                    *c = squeeze(t);
                }
            }
        }
        let theta = squeeze(t);
        let lookups = cs.lookups();
        let mut permuted = Vec::with_capacity(lookups.len());
        for _ in lookups {
            permuted.push((point(t, "a permuted input")?, point(t, "a permuted table")?));
        }
        let beta = squeeze(t);
        let gamma = squeeze(t);
        let columns = cs.permutation().get_columns();
        let chunk = self.degree - 2;
        let sets = columns.len().div_ceil(chunk);
        let products = (0..sets)
            .map(|_| point(t, "a permutation product"))
            .collect::<Result<Vec<_>>>()?;
        let lookup_products = (0..lookups.len())
            .map(|_| point(t, "a lookup product"))
            .collect::<Result<Vec<_>>>()?;
        let random = point(t, "the vanishing argument's random commitment")?;
        let y = squeeze(t);
        let h = (0..self.degree - 1)
            .map(|_| point(t, "a piece of the quotient"))
            .collect::<Result<Vec<_>>>()?;
        let x = squeeze(t);

        // 2. Evaluations at x.
        let n = 1u64 << self.k;
        let xn = x.pow_vartime([n]);
        let instance_evals = self.instance_evals(x, xn, instances)?;
        let advice_evals = (0..cs.advice_queries().len())
            .map(|_| scalar(t, "an advice evaluation"))
            .collect::<Result<Vec<_>>>()?;
        let fixed_evals = (0..cs.fixed_queries().len())
            .map(|_| scalar(t, "a fixed evaluation"))
            .collect::<Result<Vec<_>>>()?;
        let random_eval = scalar(t, "the random polynomial's evaluation")?;
        let sigma_evals = (0..self.sigma.len())
            .map(|_| scalar(t, "a permutation evaluation"))
            .collect::<Result<Vec<_>>>()?;
        // Per permutation set: z(x), z(omega x) and, for all but the last set, z(omega^last x).
        let mut set_evals = Vec::with_capacity(sets);
        for i in 0..sets {
            let at_x = scalar(t, "a permutation product evaluation")?;
            let next = scalar(t, "a permutation product evaluation")?;
            let last = if i + 1 < sets {
                Some(scalar(t, "a permutation product evaluation")?)
            } else {
                None
            };
            set_evals.push((at_x, next, last));
        }
        // Per lookup: z(x), z(omega x), A'(x), A'(omega^-1 x), S'(x).
        let mut lookup_evals = Vec::with_capacity(lookups.len());
        for _ in lookups {
            let mut e = [Fr::ZERO; 5];
            for v in e.iter_mut() {
                *v = scalar(t, "a lookup evaluation")?;
            }
            lookup_evals.push(e);
        }

        // The constraints at x.
        let blinding = cs.blinding_factors();
        let l = self.lagrange(x, xn, -(blinding as i32 + 1)..=0)?;
        let l_last = l[0];
        let l_blind: Fr = l[1..=blinding].iter().sum();
        let l_0 = l[blinding + 1];
        let active = Fr::ONE - (l_last + l_blind);
        let query_index =
            |queries: &[(usize, i32)], column: usize, rotation: i32| -> Result<usize> {
                queries
                    .iter()
                    .position(|&(c, r)| c == column && r == rotation)
                    .ok_or_else(|| bad("the constraint system queries a column it does not list"))
            };
        let advice_q: Vec<(usize, i32)> = cs
            .advice_queries()
            .iter()
            .map(|(c, r)| (c.index(), r.0))
            .collect();
        let fixed_q: Vec<(usize, i32)> = cs
            .fixed_queries()
            .iter()
            .map(|(c, r)| (c.index(), r.0))
            .collect();
        let instance_q: Vec<(usize, i32)> = cs
            .instance_queries()
            .iter()
            .map(|(c, r)| (c.index(), r.0))
            .collect();
        let eval = |e: &Expression<Fr>| -> Result<Fr> {
            e.evaluate(
                &|c| Ok(c),
                &|_| Err(bad("the constraint system has a selector left")),
                &|q| Ok(fixed_evals[query_index(&fixed_q, q.column_index(), q.rotation().0)?]),
                &|q| Ok(advice_evals[query_index(&advice_q, q.column_index(), q.rotation().0)?]),
                &|q| {
                    Ok(instance_evals
                        [query_index(&instance_q, q.column_index(), q.rotation().0)?])
                },
                &|c| Ok(challenges[c.index()]),
                &|a| Ok(-a?),
                &|a, b| Ok(a? + b?),
                &|a, b| Ok(a? * b?),
                &|a, s| Ok(a? * s),
            )
        };
        let column_eval = |c: &halo2_axiom::plonk::Column<Any>| -> Result<Fr> {
            Ok(match c.column_type() {
                Any::Advice(_) => advice_evals[query_index(&advice_q, c.index(), 0)?],
                Any::Fixed => fixed_evals[query_index(&fixed_q, c.index(), 0)?],
                Any::Instance => instance_evals[query_index(&instance_q, c.index(), 0)?],
            })
        };

        let mut constraints = Vec::new();
        for gate in cs.gates() {
            for p in gate.polynomials() {
                constraints.push(eval(p)?);
            }
        }
        // The permutation: the first product starts at 1, the last ends at 0 or 1, each set starts where
        // the previous one ended, and each set's product steps by its columns' (value + beta·sigma + gamma)
        // over (value + beta·delta^j·x + gamma) on the active rows.
        if let (Some(first), Some(last)) = (set_evals.first(), set_evals.last()) {
            constraints.push(l_0 * (Fr::ONE - first.0));
            constraints.push(l_last * (last.0.square() - last.0));
        }
        for i in 1..sets {
            let prev_last = set_evals[i - 1]
                .2
                .expect("every set but the last has a last evaluation");
            constraints.push((set_evals[i].0 - prev_last) * l_0);
        }
        for (i, (cols, sig)) in columns
            .chunks(chunk)
            .zip(sigma_evals.chunks(chunk))
            .enumerate()
        {
            let (at_x, next, _) = set_evals[i];
            let mut left = next;
            let mut right = at_x;
            let mut delta = beta * x * Fr::DELTA.pow_vartime([(i * chunk) as u64]);
            for (c, s) in cols.iter().zip(sig) {
                let v = column_eval(c)?;
                left *= v + beta * s + gamma;
                right *= v + delta + gamma;
                delta *= Fr::DELTA;
            }
            constraints.push((left - right) * active);
        }
        // Each lookup: its product starts at 1 and ends at 0 or 1, steps by the compressed inputs and table
        // over the permuted ones, and the permuted input starts at the permuted table and at each row
        // equals either the table's row or its own previous row.
        for (lookup, e) in lookups.iter().zip(&lookup_evals) {
            let [z, z_next, a, a_prev, s] = *e;
            let compress = |es: &[Expression<Fr>]| -> Result<Fr> {
                es.iter()
                    .try_fold(Fr::ZERO, |acc, e| Ok(acc * theta + eval(e)?))
            };
            let left = z_next * (a + beta) * (s + gamma);
            let right = z
                * (compress(lookup.input_expressions())? + beta)
                * (compress(lookup.table_expressions())? + gamma);
            constraints.push(l_0 * (Fr::ONE - z));
            constraints.push(l_last * (z.square() - z));
            constraints.push((left - right) * active);
            constraints.push(l_0 * (a - s));
            constraints.push((a - s) * (a - a_prev) * active);
        }
        // The quotient: h(x) must be the constraints folded with y over x^n - 1; h is committed in pieces
        // h_0 + x^n h_1 + x^2n h_2 + ...
        let vanishing = (xn - Fr::ONE).invert().into_option().ok_or_else(|| {
            bad("the proof does not verify: its challenge x is a root of x^n - 1")
        })?;
        let expected_h = constraints.iter().fold(Fr::ZERO, |acc, c| acc * y + c) * vanishing;

        // 3. Every opening: (commitment, point, value), in halo2's order. A commitment is a linear
        // combination of points; two queries of one commitment name the same one.
        let mut commitments: Vec<Vec<(Fr, G1Affine)>> = Vec::new();
        let mut add = |terms: Vec<(Fr, G1Affine)>| {
            commitments.push(terms);
            commitments.len() - 1
        };
        let advice_ids: Vec<usize> = advice.iter().map(|c| add(vec![(Fr::ONE, *c)])).collect();
        let product_ids: Vec<usize> = products.iter().map(|c| add(vec![(Fr::ONE, *c)])).collect();
        let lookup_ids: Vec<[usize; 3]> = permuted
            .iter()
            .zip(&lookup_products)
            .map(|((a, s), z)| {
                [
                    add(vec![(Fr::ONE, *a)]),
                    add(vec![(Fr::ONE, *s)]),
                    add(vec![(Fr::ONE, *z)]),
                ]
            })
            .collect();
        let fixed_ids: Vec<usize> = self
            .fixed
            .iter()
            .map(|c| add(vec![(Fr::ONE, *c)]))
            .collect();
        let sigma_ids: Vec<usize> = self
            .sigma
            .iter()
            .map(|c| add(vec![(Fr::ONE, *c)]))
            .collect();
        let mut xn_i = Fr::ONE;
        let mut h_terms = Vec::with_capacity(h.len());
        for c in &h {
            h_terms.push((xn_i, *c));
            xn_i *= xn;
        }
        let h_id = add(h_terms);
        let random_id = add(vec![(Fr::ONE, random)]);

        let x_next = self.rotate(x, 1);
        let x_prev = self.rotate(x, -1);
        let x_last = self.rotate(x, -(blinding as i32 + 1));
        let mut queries: Vec<(usize, Fr, Fr)> = Vec::new();
        for (&(c, r), v) in advice_q.iter().zip(&advice_evals) {
            queries.push((advice_ids[c], self.rotate(x, r), *v));
        }
        for (id, (at_x, next, _)) in product_ids.iter().zip(&set_evals) {
            queries.push((*id, x, *at_x));
            queries.push((*id, x_next, *next));
        }
        for (id, (_, _, last)) in product_ids.iter().zip(&set_evals).rev().skip(1) {
            queries.push((
                *id,
                x_last,
                last.expect("every set but the last has a last evaluation"),
            ));
        }
        for (&[a, s, z], [z_x, z_next, a_x, a_prev, s_x]) in lookup_ids.iter().zip(&lookup_evals) {
            queries.push((z, x, *z_x));
            queries.push((a, x, *a_x));
            queries.push((s, x, *s_x));
            queries.push((a, x_prev, *a_prev));
            queries.push((z, x_next, *z_next));
        }
        for (&(c, r), v) in fixed_q.iter().zip(&fixed_evals) {
            queries.push((fixed_ids[c], self.rotate(x, r), *v));
        }
        for (id, v) in sigma_ids.iter().zip(&sigma_evals) {
            queries.push((*id, x, *v));
        }
        queries.push((h_id, x, expected_h));
        queries.push((random_id, x, random_eval));

        shplonk(t, &commitments, &queries, g1)
    }

    /// The public inputs' polynomials at x and its queried rotations (they are not committed in SHPLONK:
    /// the verifier interpolates them itself).
    fn instance_evals(&self, x: Fr, xn: Fr, instances: &[&[Fr]]) -> Result<Vec<Fr>> {
        let queries = self.cs.instance_queries();
        if queries.is_empty() {
            return Ok(Vec::new());
        }
        let min = queries.iter().map(|(_, r)| r.0).min().unwrap_or(0).min(0);
        let max = queries.iter().map(|(_, r)| r.0).max().unwrap_or(0).max(0);
        let longest = instances.iter().map(|c| c.len()).max().unwrap_or(0) as i32;
        let l = self.lagrange(x, xn, -max..longest + min.abs())?;
        Ok(queries
            .iter()
            .map(|(column, rotation)| {
                let values = instances[column.index()];
                let offset = (max - rotation.0) as usize;
                values
                    .iter()
                    .zip(&l[offset..offset + values.len()])
                    .map(|(v, l)| *v * l)
                    .sum()
            })
            .collect())
    }
}

/// The error for a proof that ends or holds a non-canonical value where `what` was to be read.
fn read_err(what: &'static str) -> impl Fn(std::io::Error) -> crate::error::Error {
    move |e| bad(format!("the proof does not verify: {what}: {e}"))
}

/// SHPLONK: the openings grouped by the set of points each commitment is opened at, reduced with the
/// challenges `y` (within a group), `v` (across groups) and `u` to `W'` and `F` with `e(W', s·g2) =
/// e(F, g2)` exactly when every opening holds. Groups and their members come in the order they first
/// appear in `queries`, as the prover made them.
fn shplonk(
    t: &mut KeccakTranscript<&[u8]>,
    commitments: &[Vec<(Fr, G1Affine)>],
    queries: &[(usize, Fr, Fr)],
    g1: G1Affine,
) -> Result<(G1Affine, G1Affine)> {
    // A commitment opened twice at one point is refused (halo2 refuses it: two values could disagree).
    for (i, (c, p, _)) in queries.iter().enumerate() {
        if queries[..i].iter().any(|(c2, p2, _)| c2 == c && p2 == p) {
            return Err(bad(
                "the proof does not verify: a commitment is opened twice at one point",
            ));
        }
    }
    // Each commitment's points, in order of first appearance.
    let mut per_commitment: Vec<(usize, Vec<Fr>)> = Vec::new();
    let mut all_points: Vec<Fr> = Vec::new();
    for (c, p, _) in queries {
        if !all_points.contains(p) {
            all_points.push(*p);
        }
        match per_commitment.iter_mut().find(|(id, _)| id == c) {
            Some((_, points)) => points.push(*p),
            None => per_commitment.push((*c, vec![*p])),
        }
    }
    let same_set = |a: &[Fr], b: &[Fr]| a.len() == b.len() && a.iter().all(|p| b.contains(p));
    // Groups: (points, commitments).
    let mut groups: Vec<(Vec<Fr>, Vec<usize>)> = Vec::new();
    for (c, points) in per_commitment {
        match groups.iter_mut().find(|(set, _)| same_set(set, &points)) {
            Some((_, members)) => members.push(c),
            None => groups.push((points, vec![c])),
        }
    }
    let value = |c: usize, p: Fr| -> Fr {
        queries
            .iter()
            .find(|(c2, p2, _)| *c2 == c && *p2 == p)
            .map(|q| q.2)
            .expect("every group's point is one of its commitments' queries")
    };

    let opening = read_err("the opening proof");
    let y = t.squeeze_challenge().get_scalar();
    let v = t.squeeze_challenge().get_scalar();
    let w = t.read_point().map_err(&opening)?;
    let u = t.squeeze_challenge().get_scalar();
    let w2 = t.read_point().map_err(&opening)?;

    let vanish = |points: &[Fr]| points.iter().fold(Fr::ONE, |acc, p| acc * (u - p));
    let mut scalars: Vec<Fr> = Vec::new();
    let mut bases: Vec<G1Affine> = Vec::new();
    let mut r_total = Fr::ZERO;
    let mut z_0 = Fr::ZERO;
    let mut z_diff_0_inv = Fr::ZERO;
    let mut v_i = Fr::ONE;
    for (i, (points, members)) in groups.iter().enumerate() {
        let others: Vec<Fr> = all_points
            .iter()
            .filter(|p| !points.contains(p))
            .copied()
            .collect();
        let mut z_diff = vanish(&others);
        if i == 0 {
            z_0 = vanish(points);
            z_diff_0_inv = z_diff.invert().into_option().ok_or_else(|| {
                bad("the proof does not verify: its challenge u is an opening point")
            })?;
            z_diff = Fr::ONE;
        } else {
            z_diff *= z_diff_0_inv;
        }
        // The interpolation through the group's points (Lagrange form) at u.
        let mut denominators: Vec<Fr> = Vec::new();
        for (j, pj) in points.iter().enumerate() {
            for (m, pm) in points.iter().enumerate() {
                if m != j {
                    denominators.push(*pj - pm);
                }
            }
        }
        denominators.iter_mut().batch_invert();
        let basis: Vec<Fr> = (0..points.len())
            .map(|j| {
                let per = points.len() - 1;
                (0..points.len())
                    .filter(|&m| m != j)
                    .zip(&denominators[j * per..(j + 1) * per])
                    .fold(Fr::ONE, |acc, (m, d)| acc * (u - points[m]) * d)
            })
            .collect();
        let mut y_j = Fr::ONE;
        let mut r_group = Fr::ZERO;
        let scale = v_i * z_diff;
        for &c in members {
            let r: Fr = points
                .iter()
                .zip(&basis)
                .map(|(p, b)| value(c, *p) * b)
                .sum();
            r_group += y_j * r;
            for (s, b) in &commitments[c] {
                scalars.push(scale * y_j * s);
                bases.push(*b);
            }
            y_j *= y;
        }
        r_total += scale * r_group;
        v_i *= v;
    }
    scalars.extend([-r_total, -z_0, u]);
    bases.extend([g1, w, w2]);
    let f: G1 = best_multiexp(&scalars, &bases);
    Ok((w2, f.to_affine()))
}
