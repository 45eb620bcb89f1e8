//! Native Poseidon over BN254, bit-for-bit the hash of halo2-base's `PoseidonHasher` chip.
//!
//! Parameters: width `T = 3`, rate `RATE = 2`, `R_F = 8` full rounds, `R_P = 57` partial rounds, S-box `x^5`,
//! round constants and MDS matrix from the Grain LFSR of the Poseidon paper with `SECURE_MDS = 0` — exactly
//! `OptimizedPoseidonSpec::<Fr, 3, 2>::new::<8, 57, 0>()` in halo2-base 0.5. The constants come from the
//! `poseidon-primitives` crate, which halo2-base itself uses to generate them, so the two cannot drift apart.
//!
//! Sponge (halo2-base's fixed-length mode): the state starts as `[2^64, 0, 0]`; the input is absorbed
//! `RATE` elements at a time into `s[1..]`, and a block shorter than `RATE` gets a single `1` after its last
//! element; when the input length is a multiple of `RATE` (including zero), one more permutation absorbs the
//! padding block `[1, 0]`. The output is `s[1]`. The halo2 test `native_and_circuit_poseidon_agree` checks
//! this against the chip.

use std::sync::OnceLock;

use ff::{Field, PrimeField};
use poseidon_primitives::poseidon::primitives::Spec;

use crate::field::Fr;

/// State width.
pub const T: usize = 3;
/// Rate (elements absorbed per permutation).
pub const RATE: usize = 2;
/// Number of full rounds.
pub const R_F: usize = 8;
/// Number of partial rounds.
pub const R_P: usize = 57;
/// halo2-base's `SECURE_MDS` index (which generated MDS candidate is used).
pub const SECURE_MDS: usize = 0;

#[derive(Debug)]
struct Bn254Spec;

impl Spec<Fr, T, RATE> for Bn254Spec {
    fn full_rounds() -> usize {
        R_F
    }
    fn partial_rounds() -> usize {
        R_P
    }
    fn sbox(val: Fr) -> Fr {
        sbox(val)
    }
    fn secure_mds() -> usize {
        SECURE_MDS
    }
}

#[inline(always)]
fn sbox(x: Fr) -> Fr {
    let x2 = x.square();
    x2.square() * x
}

struct Constants {
    round: Vec<[Fr; T]>,
    mds: [[Fr; T]; T],
}

fn constants() -> &'static Constants {
    static C: OnceLock<Constants> = OnceLock::new();
    C.get_or_init(|| {
        let (round, mds, _) = <Bn254Spec as Spec<Fr, T, RATE>>::constants();
        Constants { round, mds }
    })
}

/// The round constants, `R_F + R_P` rows of `T` (round `r` adds row `r` before its S-boxes).
pub fn round_constants() -> &'static [[Fr; T]] {
    &constants().round
}

/// The MDS matrix applied after each round's S-boxes: `s'_i = sum_j mds[i][j] s_j`.
pub fn mds() -> &'static [[Fr; T]; T] {
    &constants().mds
}

#[inline(always)]
fn apply_mds(s: &mut [Fr; T], mds: &[[Fr; T]; T]) {
    let old = *s;
    for (row, out) in mds.iter().zip(s.iter_mut()) {
        *out = row[0] * old[0] + row[1] * old[1] + row[2] * old[2];
    }
}

/// The Poseidon permutation on a width-3 state.
pub fn permute(s: &mut [Fr; T]) {
    let c = constants();
    let half = R_F / 2;
    for (r, rc) in c.round.iter().enumerate() {
        for (x, k) in s.iter_mut().zip(rc) {
            *x += k;
        }
        if r < half || r >= half + R_P {
            for x in s.iter_mut() {
                *x = sbox(*x);
            }
        } else {
            s[0] = sbox(s[0]);
        }
        apply_mds(s, &c.mds);
    }
}

fn initial_state() -> [Fr; T] {
    [Fr::from_u128(1u128 << 64), Fr::ZERO, Fr::ZERO]
}

/// Poseidon hash of a fixed-length input, equal to halo2-base's `PoseidonHasher::hash_fix_len_array`.
pub fn hash(inputs: &[Fr]) -> Fr {
    let mut s = initial_state();
    for chunk in inputs.chunks(RATE) {
        for (x, v) in s[1..].iter_mut().zip(chunk) {
            *x += v;
        }
        if chunk.len() < RATE {
            s[1 + chunk.len()] += Fr::ONE;
        }
        permute(&mut s);
    }
    if inputs.len().is_multiple_of(RATE) {
        s[1] += Fr::ONE;
        permute(&mut s);
    }
    s[1]
}

/// Hash of two elements (a Merkle node).
pub fn hash2(a: Fr, b: Fr) -> Fr {
    hash(&[a, b])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::to_hex;

    #[test]
    fn constants_have_the_expected_shape() {
        let c = constants();
        assert_eq!(c.round.len(), R_F + R_P);
        // The MDS matrix is invertible in practice: no zero entries in a Cauchy matrix.
        assert!(c.mds.iter().flatten().all(|x| !bool::from(x.is_zero())));
    }

    #[test]
    fn hash_separates_lengths_and_orders() {
        let a = Fr::from(1u64);
        let b = Fr::from(2u64);
        let outs = [
            hash(&[]),
            hash(&[a]),
            hash(&[a, b]),
            hash(&[b, a]),
            hash(&[a, b, Fr::ZERO]),
            hash(&[a, Fr::ZERO]),
        ];
        for i in 0..outs.len() {
            for j in i + 1..outs.len() {
                assert_ne!(outs[i], outs[j], "inputs {i} and {j} collide");
            }
        }
        assert_eq!(hash2(a, b), hash(&[a, b]));
    }

    /// Pinned values guard against an accidental change of the hash (which would change every Datanet root).
    /// They were produced by this implementation and are confirmed against the halo2-base chip by the
    /// `halo2::tests::native_and_circuit_poseidon_agree` test.
    #[test]
    fn pinned_values() {
        let one_two = hash(&[Fr::from(1u64), Fr::from(2u64)]);
        assert_eq!(to_hex(&one_two), PINNED_HASH_1_2);
    }

    const PINNED_HASH_1_2: &str =
        "0x305df2f9f9f1c0b591427aa9fd8ff8b8b8ad8a16953065fca066cb6a69deff53";
}
