//! In-circuit Datanet leaves and Merkle root.
//!
//! Callers guarantee nothing about the inputs: every hash is constrained by halo2-base's Poseidon chip,
//! and the padding leaves are constants, so a satisfied circuit means the returned root is the
//! [`crate::merkle`] root of the given leaves.

use halo2_base::{
    gates::GateInstructions,
    poseidon::hasher::{spec::OptimizedPoseidonSpec, PoseidonHasher},
    AssignedValue, Context,
};

use super::gated::Sponge;
use crate::{
    field::Fr,
    merkle::{depth_for, PADDING_LEAF},
    poseidon::{RATE, R_F, R_P, SECURE_MDS, T},
    Result,
};

/// halo2-base's Poseidon hasher with the parameters of [`crate::poseidon`], constants loaded.
pub fn poseidon_hasher(
    ctx: &mut Context<Fr>,
    gate: &impl GateInstructions<Fr>,
) -> PoseidonHasher<Fr, T, RATE> {
    let mut hasher = PoseidonHasher::new(OptimizedPoseidonSpec::new::<R_F, R_P, SECURE_MDS>());
    hasher.initialize_consts(ctx, gate);
    hasher
}

/// Leaf `Poseidon(contributor, content_hash, index)`.
pub fn leaf_hash(
    ctx: &mut Context<Fr>,
    gate: &impl GateInstructions<Fr>,
    hasher: &mut impl Sponge,
    contributor: AssignedValue<Fr>,
    content_hash: AssignedValue<Fr>,
    index: AssignedValue<Fr>,
) -> AssignedValue<Fr> {
    hasher.hash(ctx, gate, &[contributor, content_hash, index])
}

/// Root of the zero-padded tree over `leaves` (depth `max(1, ceil(log2 n))`).
pub fn merkle_root(
    ctx: &mut Context<Fr>,
    gate: &impl GateInstructions<Fr>,
    hasher: &mut impl Sponge,
    leaves: &[AssignedValue<Fr>],
) -> Result<AssignedValue<Fr>> {
    let depth = depth_for(leaves.len())?;
    let mut level = leaves.to_vec();
    level.resize_with(1 << depth, || ctx.load_constant(PADDING_LEAF));
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| hasher.hash(ctx, gate, pair))
            .collect();
    }
    Ok(level[0])
}

/// The leftmost node of every level of the zero-padded tree over `leaves`: entry `h` is the root of the
/// subtree over leaves `0..2^h` (entry 0 is leaf 0, the last entry the whole tree's root). For a prefix of
/// `n` real leaves followed by padding leaves, entry `max(1, ceil(log2 n))` is [`crate::merkle`]'s root of
/// the `n` real leaves.
pub fn merkle_left_spine(
    ctx: &mut Context<Fr>,
    gate: &impl GateInstructions<Fr>,
    hasher: &mut impl Sponge,
    leaves: &[AssignedValue<Fr>],
) -> Result<Vec<AssignedValue<Fr>>> {
    let depth = depth_for(leaves.len())?;
    let mut level = leaves.to_vec();
    level.resize_with(1 << depth, || ctx.load_constant(PADDING_LEAF));
    let mut spine = vec![level[0]];
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| hasher.hash(ctx, gate, pair))
            .collect();
        spine.push(level[0]);
    }
    Ok(spine)
}

/// Loads `index` as a constant cell (item indices are fixed by position in the circuit).
pub fn index_constant(ctx: &mut Context<Fr>, index: u64) -> AssignedValue<Fr> {
    ctx.load_constant(Fr::from(index))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{merkle, poseidon};
    use ff::Field;
    use halo2_base::{
        gates::{circuit::builder::BaseCircuitBuilder, GateChip},
        halo2_proofs::dev::MockProver,
    };

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
        let mut builder = BaseCircuitBuilder::<Fr>::new(false)
            .use_k(K)
            .use_lookup_bits(8)
            .use_instance_columns(1);
        let gate = GateChip::<Fr>::default();
        let ctx = builder.main(0);
        let mut hasher = poseidon_hasher(ctx, &gate);
        let mut leaves = Vec::new();
        let mut contributor_cells = Vec::new();
        for (i, (c, h)) in items.iter().enumerate() {
            let c = ctx.load_witness(*c);
            let h = ctx.load_witness(*h);
            let idx = index_constant(ctx, i as u64);
            leaves.push(leaf_hash(ctx, &gate, &mut hasher, c, h, idx));
            contributor_cells.push(c);
        }
        let root = merkle_root(ctx, &gate, &mut hasher, &leaves).unwrap();
        if let Some(t) = tamper {
            let offset =
                |v: &AssignedValue<Fr>| v.cell.expect("cells are tracked in keygen mode").offset;
            t(ctx, &[offset(&leaves[0]), offset(&contributor_cells[2])]);
        }
        builder.assigned_instances[0].push(root);
        builder.calculate_params(Some(9));
        MockProver::run(K as u32, &builder, vec![vec![public_root]])
            .unwrap()
            .verify()
            .is_ok()
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
            let mut hasher = poseidon_hasher(ctx, &gate);
            let cells = ctx.assign_witnesses(inputs.clone());
            let out = hasher.hash(ctx, &gate, &cells);
            assert_eq!(*out.value(), poseidon::hash(&inputs), "length {len}");
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
        // A prover who replaces the computed first leaf by another value, keeping the honest root as the
        // public input, breaks the Poseidon gates.
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
