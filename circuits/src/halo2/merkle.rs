//! In-circuit Datanet leaves and Merkle root.
//!
//! Callers guarantee nothing about the inputs: every hash is a permutation on the dedicated gate
//! ([`GatedPoseidon`]), tied to its input and output cells by copy constraints, and the padding leaves are
//! constants, so a satisfied circuit means the returned root is the [`crate::merkle`] root of the given
//! leaves.

use halo2_base::{
    gates::GateInstructions,
    poseidon::hasher::{spec::OptimizedPoseidonSpec, PoseidonHasher},
    AssignedValue, Context,
};

use super::gated::GatedPoseidon;
use crate::{
    field::Fr,
    merkle::{depth_for, PADDING_LEAF, TAG_LEAF, TAG_NODE},
    poseidon::{RATE, R_F, R_P, SECURE_MDS, T},
    Result,
};

/// halo2-base's Poseidon hasher with the parameters of [`crate::poseidon`], constants loaded (its
/// fixed-length sponge is [`crate::poseidon::hash`]; the benches compare it with the dedicated gate).
pub fn poseidon_hasher(
    ctx: &mut Context<Fr>,
    gate: &impl GateInstructions<Fr>,
) -> PoseidonHasher<Fr, T, RATE> {
    let mut hasher = PoseidonHasher::new(OptimizedPoseidonSpec::new::<R_F, R_P, SECURE_MDS>());
    hasher.initialize_consts(ctx, gate);
    hasher
}

/// Leaf of item `index`: [`crate::merkle::leaf_hash`], one permutation.
pub fn leaf_hash(
    ctx: &mut Context<Fr>,
    gate: &impl GateInstructions<Fr>,
    hasher: &mut GatedPoseidon,
    contributor: AssignedValue<Fr>,
    content_hash: AssignedValue<Fr>,
    index: u64,
) -> AssignedValue<Fr> {
    hasher.compress(ctx, gate, TAG_LEAF, index, &[contributor, content_hash])
}

/// Hashes one level into the next (pairs of nodes; the level has even length).
fn next_level(
    ctx: &mut Context<Fr>,
    gate: &impl GateInstructions<Fr>,
    hasher: &mut GatedPoseidon,
    level: &[AssignedValue<Fr>],
) -> Vec<AssignedValue<Fr>> {
    level
        .chunks(2)
        .map(|pair| hasher.compress(ctx, gate, TAG_NODE, 0, pair))
        .collect()
}

/// Root of the zero-padded tree over `leaves` (depth `max(1, ceil(log2 n))`).
pub fn merkle_root(
    ctx: &mut Context<Fr>,
    gate: &impl GateInstructions<Fr>,
    hasher: &mut GatedPoseidon,
    leaves: &[AssignedValue<Fr>],
) -> Result<AssignedValue<Fr>> {
    Ok(*merkle_left_spine(ctx, gate, hasher, leaves)?
        .last()
        .expect("the spine ends in the root"))
}

/// The leftmost node of every level of the zero-padded tree over `leaves`: entry `h` is the root of the
/// subtree over leaves `0..2^h` (entry 0 is leaf 0, the last entry the whole tree's root). For a prefix of
/// `n` real leaves followed by padding leaves, entry `max(1, ceil(log2 n))` is [`crate::merkle`]'s root of
/// the `n` real leaves.
pub fn merkle_left_spine(
    ctx: &mut Context<Fr>,
    gate: &impl GateInstructions<Fr>,
    hasher: &mut GatedPoseidon,
    leaves: &[AssignedValue<Fr>],
) -> Result<Vec<AssignedValue<Fr>>> {
    let depth = depth_for(leaves.len())?;
    let mut level = leaves.to_vec();
    if level.len() < 1 << depth {
        let pad = hasher.constant(ctx, PADDING_LEAF);
        level.resize(1 << depth, pad);
    }
    let mut spine = vec![level[0]];
    while level.len() > 1 {
        level = next_level(ctx, gate, hasher, &level);
        spine.push(level[0]);
    }
    Ok(spine)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{halo2::gated::mock_satisfied, merkle, poseidon};
    use ff::Field;
    use halo2_base::gates::{circuit::builder::BaseCircuitBuilder, GateChip};

    const K: usize = 14;

    /// Overwrites an advice cell after assignment, as a malicious prover would.
    /// Receives the advice offsets of `[leaf 0, contributor of item 2]`.
    type Tamper = dyn Fn(&mut Context<Fr>, &[usize]);

    /// Contributors, content hashes: a small Datanet of `n` items.
    fn items(n: u64) -> Vec<(Fr, Fr)> {
        (0..n)
            .map(|i| (Fr::from(0xc0ffee00 + i % 3), Fr::from(1_000_003 * i + 17)))
            .collect()
    }

    /// Builds the circuit: witnesses for every item, leaves and root in-circuit, root exposed as instance.
    /// `tamper` may overwrite one advice cell after assignment (a malicious prover's witness).
    fn run(items: &[(Fr, Fr)], public_root: Fr, tamper: Option<&Tamper>) -> bool {
        mock_satisfied(K as u32, vec![public_root], |builder, hasher| {
            let gate = GateChip::<Fr>::default();
            let ctx = builder.main(0);
            let mut leaves = Vec::new();
            let mut contributor_cells = Vec::new();
            for (i, (c, h)) in items.iter().enumerate() {
                let c = ctx.load_witness(*c);
                let h = ctx.load_witness(*h);
                leaves.push(leaf_hash(ctx, &gate, hasher, c, h, i as u64));
                contributor_cells.push(c);
            }
            let root = merkle_root(ctx, &gate, hasher, &leaves).unwrap();
            if let Some(t) = tamper {
                let offset = |v: &AssignedValue<Fr>| {
                    v.cell.expect("cells are tracked in keygen mode").offset
                };
                t(ctx, &[offset(&leaves[0]), offset(&contributor_cells[2])]);
            }
            vec![root]
        })
    }

    fn native_root(items: &[(Fr, Fr)]) -> Fr {
        let leaves: Vec<Fr> = items
            .iter()
            .enumerate()
            .map(|(i, (c, h))| merkle::leaf_hash(*c, *h, i as u64))
            .collect();
        merkle::root(&leaves).unwrap()
    }

    #[test]
    fn native_and_circuit_poseidon_agree() {
        let gate = GateChip::<Fr>::default();
        for len in 0..6u64 {
            let inputs: Vec<Fr> = (0..len).map(|i| Fr::from(i * 7 + 3)).collect();
            let mut builder = BaseCircuitBuilder::<Fr>::new(false)
                .use_k(K)
                .use_lookup_bits(8)
                .use_instance_columns(1);
            let ctx = builder.main(0);
            let hasher = poseidon_hasher(ctx, &gate);
            let cells = ctx.assign_witnesses(inputs.clone());
            let out = hasher.hash_fix_len_array(ctx, &gate, &cells);
            assert_eq!(*out.value(), poseidon::hash(&inputs), "length {len}");
        }
    }

    #[test]
    fn native_and_circuit_compress_agree() {
        for len in 1..6u64 {
            let inputs: Vec<Fr> = (0..len).map(|i| Fr::from(i * 7 + 3)).collect();
            let native = poseidon::compress(7, 9, &inputs);
            let ok = mock_satisfied(K as u32, vec![native], |b, hasher| {
                let gate = GateChip::<Fr>::default();
                let ctx = b.main(0);
                let cells = ctx.assign_witnesses(inputs.clone());
                let out = hasher.compress(ctx, &gate, 7, 9, &cells);
                assert_eq!(
                    hasher.requests.len() as u64,
                    len.div_ceil(2),
                    "length {len}"
                );
                vec![out]
            });
            assert!(ok, "length {len}");
        }
    }

    #[test]
    fn circuit_root_equals_native_root() {
        for n in [1u64, 2, 5, 8] {
            let it = items(n);
            assert!(run(&it, native_root(&it), None), "n = {n}");
        }
    }

    #[test]
    fn wrong_public_root_is_rejected() {
        let it = items(5);
        assert!(!run(&it, native_root(&it) + Fr::ONE, None));
        // The root of a Datanet with one content hash changed.
        let mut other = it.clone();
        other[3].1 += Fr::ONE;
        assert!(!run(&it, native_root(&other), None));
    }

    #[test]
    fn tampered_witnesses_are_rejected() {
        let it = items(5);
        fn bump(ctx: &mut Context<Fr>, offset: usize) {
            let v = ctx.advice[offset].evaluate();
            ctx.advice[offset] = halo2_base::halo2_proofs::plonk::Assigned::Trivial(v + Fr::ONE);
        }
        // Untouched, the witness passes (so the failures below come from the tampering).
        assert!(run(&it, native_root(&it), Some(&|_, _| {})));
        // A prover who replaces the computed first leaf by another value after the fact, keeping the honest
        // root as the public input, breaks the copies of that cell (into the gate's output row and the next
        // level's input row). `gated::tests` covers a forged output used consistently above it.
        assert!(!run(
            &it,
            native_root(&it),
            Some(&|ctx, cells| bump(ctx, cells[0]))
        ));
        // A prover who swaps in another contributor for item 2 breaks the copy into the leaf hash.
        assert!(!run(
            &it,
            native_root(&it),
            Some(&|ctx, cells| bump(ctx, cells[1]))
        ));
    }
}
