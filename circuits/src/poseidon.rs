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
//! this against the chip. Parameters, the query commitment and the in-circuit challenge use this sponge.
//!
//! [`compress`] is the fixed-length mode the Merkle trees use (leaves and inner nodes: the hashes an epoch's
//! proof makes per item). The capacity word carries a domain tag, an index and the input length
//! ([`capacity`]), so inputs of different domains, positions or lengths never share a first state, and no
//! padding permutation is needed: `n` inputs cost `ceil(n / 2)` permutations (a node or a Datanet leaf one,
//! a 64-entry feature leaf three), where [`hash`] costs `floor(n / 2) + 1`.

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
    fast: Fast,
}

/// The same permutation rearranged for fewer multiplications (the partial rounds' linear layers as sparse
/// matrices), see [`permute`].
struct Fast {
    /// The round constants of the first full rounds, then of the last full rounds with the partial rounds'
    /// constants for `s1` and `s2` carried into the first of them.
    full: Vec<[Fr; T]>,
    /// Each partial round's constant, added to `s0` only.
    partial: Vec<Fr>,
    /// Each partial round's matrix `[[a, b, c], [d, 1, 0], [e, 0, 1]]` as `[a, b, c, d, e]`.
    sparse: Vec<[Fr; 5]>,
    /// The 2x2 block (on `s1`, `s2`) left over after the last partial round.
    last: [[Fr; 2]; 2],
}

fn mat_vec(m: &[[Fr; T]; T], v: &[Fr; T]) -> [Fr; T] {
    let mut out = [Fr::ZERO; T];
    for (row, o) in m.iter().zip(out.iter_mut()) {
        *o = row[0] * v[0] + row[1] * v[1] + row[2] * v[2];
    }
    out
}

impl Fast {
    /// Derives the rearranged constants from the plain ones.
    ///
    /// Constants: a partial round's S-box touches `s0` only, so the part `(0, c1, c2)` of its constant
    /// passes through it and, after the matrix, is `M (0, c1, c2)` added to the next round's constant. Done
    /// from the first partial round on, every partial round keeps a constant on `s0` alone and the rest lands
    /// in the first full round after them.
    ///
    /// Matrices: any `A` with an invertible lower-right 2x2 block `B` factors as `diag(1, B) · S` with
    /// `S = [[A00, A01, A02], [d, 1, 0], [e, 0, 1]]`, `(d, e) = B^-1 (A10, A20)`. `diag(1, B)` leaves `s0`
    /// alone, so it commutes with the next partial round's constant and S-box and joins that round's matrix:
    /// round `j` applies `S_j` where `A_0 = M` and `A_j = M · diag(1, B_(j-1))`, and `diag(1, B)` of the
    /// last partial round is applied once after it. Every `B` is invertible: the first is a square block of
    /// the MDS matrix, each next one that block times the previous `B`.
    fn new(round: &[[Fr; T]], mds: &[[Fr; T]; T]) -> Self {
        let half = R_F / 2;
        let mut full: Vec<[Fr; T]> = round[..half].to_vec();
        let mut partial = Vec::with_capacity(R_P);
        let mut carry = [Fr::ZERO; T];
        for rc in &round[half..half + R_P] {
            let d = [rc[0] + carry[0], rc[1] + carry[1], rc[2] + carry[2]];
            partial.push(d[0]);
            carry = mat_vec(mds, &[Fr::ZERO, d[1], d[2]]);
        }
        let mut first_after = round[half + R_P];
        for (x, c) in first_after.iter_mut().zip(carry) {
            *x += c;
        }
        full.push(first_after);
        full.extend_from_slice(&round[half + R_P + 1..]);

        let mut sparse = Vec::with_capacity(R_P);
        let mut a = *mds;
        let mut b = [[Fr::ZERO; 2]; 2];
        for _ in 0..R_P {
            b = [[a[1][1], a[1][2]], [a[2][1], a[2][2]]];
            let det = b[0][0] * b[1][1] - b[0][1] * b[1][0];
            let inv = det
                .invert()
                .expect("an MDS matrix's square blocks are invertible");
            let (a10, a20) = (a[1][0], a[2][0]);
            let d = (b[1][1] * a10 - b[0][1] * a20) * inv;
            let e = (b[0][0] * a20 - b[1][0] * a10) * inv;
            sparse.push([a[0][0], a[0][1], a[0][2], d, e]);
            // A_(j+1) = M · diag(1, B_j).
            let mut next = [[Fr::ZERO; T]; T];
            for (i, row) in mds.iter().enumerate() {
                next[i][0] = row[0];
                next[i][1] = row[1] * b[0][0] + row[2] * b[1][0];
                next[i][2] = row[1] * b[0][1] + row[2] * b[1][1];
            }
            a = next;
        }
        Self {
            full,
            partial,
            sparse,
            last: b,
        }
    }
}

fn constants() -> &'static Constants {
    static C: OnceLock<Constants> = OnceLock::new();
    C.get_or_init(|| {
        let (round, mds, _) = <Bn254Spec as Spec<Fr, T, RATE>>::constants();
        let fast = Fast::new(&round, &mds);
        Constants { round, mds, fast }
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

/// The Poseidon permutation on a width-3 state, as written: each round adds its constants
/// ([`round_constants`]), applies the S-box (to every element in the `R_F / 2` first and last rounds, to
/// `s0` alone in the `R_P` partial rounds between them) and the [`mds`] matrix. [`permute`] computes the
/// same with fewer multiplications; this is its reference in tests.
pub fn permute_plain(s: &mut [Fr; T]) {
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

/// The Poseidon permutation on a width-3 state: [`permute_plain`]'s result, with the partial rounds'
/// constants on `s0` alone and their matrices sparse (5 multiplications instead of 9; see `Fast::new`).
pub fn permute(s: &mut [Fr; T]) {
    let c = constants();
    let f = &c.fast;
    let half = R_F / 2;
    let full_round = |s: &mut [Fr; T], rc: &[Fr; T]| {
        for (x, k) in s.iter_mut().zip(rc) {
            *x = sbox(*x + k);
        }
        apply_mds(s, &c.mds);
    };
    for rc in &f.full[..half] {
        full_round(s, rc);
    }
    for (k, m) in f.partial.iter().zip(&f.sparse) {
        let x0 = sbox(s[0] + k);
        let (x1, x2) = (s[1], s[2]);
        s[0] = m[0] * x0 + m[1] * x1 + m[2] * x2;
        s[1] = m[3] * x0 + x1;
        s[2] = m[4] * x0 + x2;
    }
    let b = &f.last;
    let (x1, x2) = (s[1], s[2]);
    s[1] = b[0][0] * x1 + b[0][1] * x2;
    s[2] = b[1][0] * x1 + b[1][1] * x2;
    for rc in &f.full[half..] {
        full_round(s, rc);
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

/// The capacity word of [`compress`]: `index + 2^64 tag + 2^128 len`, for a domain `tag`, a position `index`
/// and the input length `len`.
pub fn capacity(tag: u64, index: u64, len: usize) -> Fr {
    Fr::from(index)
        + Fr::from_u128(u128::from(tag) << 64)
        + Fr::from_u128(1u128 << 64).square() * Fr::from(len as u64)
}

/// Fixed-length compression of `inputs` in domain `tag` at position `index`: the state starts as
/// `[capacity(tag, index, inputs.len()), 0, 0]`; the input is added `RATE` elements at a time into `s[1..]`
/// (a shorter last block leaves the rest as it is), with a permutation after each block; the output is
/// `s[1]`. Every domain has a fixed, non-zero input length; an empty input is a caller's bug and panics.
pub fn compress(tag: u64, index: u64, inputs: &[Fr]) -> Fr {
    compress_recording(tag, index, inputs, |_, _| {})
}

/// [`compress`], calling `record(input, output)` for each permutation it makes, in order (the states the
/// circuit's gate proves the same permutations on).
pub fn compress_recording(
    tag: u64,
    index: u64,
    inputs: &[Fr],
    mut record: impl FnMut(&[Fr; T], &[Fr; T]),
) -> Fr {
    assert!(!inputs.is_empty(), "compress of an empty input");
    let mut s = [capacity(tag, index, inputs.len()), Fr::ZERO, Fr::ZERO];
    for chunk in inputs.chunks(RATE) {
        for (x, v) in s[1..].iter_mut().zip(chunk) {
            *x += v;
        }
        let input = s;
        permute(&mut s);
        record(&input, &s);
    }
    s[1]
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
    fn the_fast_permutation_is_the_plain_one() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut inputs = vec![[Fr::ZERO; T], [Fr::ONE, Fr::ZERO, Fr::ZERO], [-Fr::ONE; T]];
        for _ in 0..200 {
            inputs
                .push([(); T].map(|_| Fr::from_u128(rng.gen::<u128>()) * Fr::from_u128(rng.gen())));
        }
        for input in inputs {
            let (mut a, mut b) = (input, input);
            permute(&mut a);
            permute_plain(&mut b);
            assert_eq!(a, b, "{input:?}");
        }
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
    }

    /// Pinned values guard against an accidental change of the hash (which would change every Datanet root).
    /// They were produced by this implementation and are confirmed against the halo2-base chip by the
    /// `halo2::tests::native_and_circuit_poseidon_agree` test.
    #[test]
    fn pinned_values() {
        let one_two = hash(&[Fr::from(1u64), Fr::from(2u64)]);
        assert_eq!(to_hex(&one_two), PINNED_HASH_1_2);
    }

    #[test]
    fn compress_separates_domains_indices_lengths_and_orders() {
        let (a, b) = (Fr::from(1u64), Fr::from(2u64));
        let outs = [
            compress(1, 0, &[a, b]),
            compress(2, 0, &[a, b]),
            compress(1, 1, &[a, b]),
            compress(1, 0, &[b, a]),
            compress(1, 0, &[a, b, Fr::ZERO]),
            compress(1, 0, &[a]),
            hash(&[a, b]),
        ];
        for i in 0..outs.len() {
            for j in i + 1..outs.len() {
                assert_ne!(outs[i], outs[j], "inputs {i} and {j} collide");
            }
        }
        // The capacity word's layout: index, then tag at 2^64, then length at 2^128.
        assert_eq!(
            capacity(3, 5, 2),
            Fr::from(5u64)
                + Fr::from_u128(3u128 << 64)
                + Fr::from_u128(1u128 << 127) * Fr::from(4u64)
        );
        // One permutation for two inputs, no padding permutation.
        let mut s = [capacity(2, 0, 2), a, b];
        permute(&mut s);
        assert_eq!(compress(2, 0, &[a, b]), s[1]);
        assert_eq!(to_hex(&compress(2, 0, &[a, b])), PINNED_COMPRESS_1_2);
    }

    /// Produced by this implementation (`halo2::merkle::tests::native_and_circuit_compress_agree` checks the
    /// circuit against it).
    const PINNED_COMPRESS_1_2: &str =
        "0x0df261c3971068c46da1becf1d9c0d875f2a6246facd6bd4cd5f469102bc7e46";

    const PINNED_HASH_1_2: &str =
        "0x305df2f9f9f1c0b591427aa9fd8ff8b8b8ad8a16953065fca066cb6a69deff53";
}
