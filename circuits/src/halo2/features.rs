//! In-circuit feature vectors: signed range checks, packing and feature leaves, the same encoding as
//! [`crate::commitments`].
//!
//! A signed value `v` is represented by its offset `u = v + 2^(b-1)`, which must pass a `b`-bit range check,
//! so `v` is a signed `b`-bit integer and cannot be a field element chosen to wrap around. Item features are
//! assigned as offsets only ([`load_packed_offsets`]); the query's values are cells of their own, with the
//! offsets computed from them ([`offsets`]). The packed elements are linear combinations of the `u` with
//! constant powers of `2^b`, and the leaf is the Poseidon compression of the packed elements with the item's
//! index in the capacity word.

use halo2_base::{
    gates::{GateInstructions, RangeChip, RangeInstructions},
    AssignedValue, Context, QuantumCell,
};

use super::gated::GatedPoseidon;
use crate::{
    commitments::values_per_element,
    field::{self, Fr},
    merkle::TAG_FEATURES,
};

/// Offsets `v + 2^(bits-1)` of `values`, each range-checked to `bits` bits.
pub fn offsets(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    bits: u32,
    values: &[AssignedValue<Fr>],
) -> Vec<AssignedValue<Fr>> {
    let half = field::from_u128(1u128 << (bits - 1));
    values
        .iter()
        .map(|v| {
            let u = range.gate().add(ctx, *v, QuantumCell::Constant(half));
            range.range_check(ctx, u, bits as usize);
            u
        })
        .collect()
}

/// Packs range-checked offsets (from [`offsets`]) `values_per_element(bits)` per element.
pub fn pack(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    bits: u32,
    offsets: &[AssignedValue<Fr>],
) -> Vec<AssignedValue<Fr>> {
    let m = values_per_element(bits);
    let shift = field::from_u128(1u128 << bits);
    let powers: Vec<Fr> = std::iter::successors(Some(Fr::from(1u64)), |p| Some(*p * shift))
        .take(m)
        .collect();
    offsets
        .chunks(m)
        .map(|chunk| {
            range.gate().inner_product(
                ctx,
                chunk.iter().copied(),
                powers[..chunk.len()]
                    .iter()
                    .map(|p| QuantumCell::Constant(*p)),
            )
        })
        .collect()
}

/// Range-checks signed `bits`-bit `values` and returns them packed (see the module documentation).
pub fn checked_pack(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    bits: u32,
    values: &[AssignedValue<Fr>],
) -> Vec<AssignedValue<Fr>> {
    let u = offsets(ctx, range, bits, values);
    pack(ctx, range, bits, &u)
}

/// Packed offsets of fresh signed values: each offset `v + 2^(bits-1)` of `values` (field elements, negative
/// ones as `p - |v|`) is assigned once, inside its packing's inner product, and range-checked to `bits` bits
/// there (one lookup cell per value and no extra advice when `bits` equals the lookup width, as in the
/// default parameters; a narrower `bits` costs halo2-base a multiplication and a second lookup). Returns the
/// offset cells and the packed elements. A value outside the signed `bits`-bit range, or a field element
/// chosen to wrap around, has no offset that passes.
pub fn load_packed_offsets(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    bits: u32,
    values: &[Fr],
) -> (Vec<AssignedValue<Fr>>, Vec<AssignedValue<Fr>>) {
    let m = values_per_element(bits);
    let half = field::from_u128(1u128 << (bits - 1));
    let shift = field::from_u128(1u128 << bits);
    let powers: Vec<Fr> = std::iter::successors(Some(Fr::from(1u64)), |p| Some(*p * shift))
        .take(m)
        .collect();
    let mut offsets = Vec::with_capacity(values.len());
    let mut packed = Vec::with_capacity(values.len().div_ceil(m));
    for chunk in values.chunks(m) {
        let (element, cells) = range.gate().inner_product_left(
            ctx,
            chunk.iter().map(|v| QuantumCell::Witness(*v + half)),
            powers[..chunk.len()]
                .iter()
                .map(|p| QuantumCell::Constant(*p)),
        );
        for u in &cells {
            range.range_check(ctx, *u, bits as usize);
        }
        offsets.extend(cells);
        packed.push(element);
    }
    (offsets, packed)
}

/// Feature leaf of item `index` from its packed offsets (from [`load_packed_offsets`]):
/// [`crate::commitments::features_leaf`], `ceil(len / 2)` permutations.
pub fn features_leaf(
    ctx: &mut Context<Fr>,
    gate: &impl GateInstructions<Fr>,
    hasher: &mut GatedPoseidon,
    index: u64,
    packed: &[AssignedValue<Fr>],
) -> AssignedValue<Fr> {
    hasher.compress(ctx, gate, TAG_FEATURES, index, packed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        commitments,
        halo2::{gated::mock_satisfied, merkle::merkle_root},
    };
    use ff::Field;

    const K: usize = 14;
    const BITS: u32 = 16;

    /// Overwrites advice after assignment (a malicious prover); receives the offset of item 1's feature 3.
    type Tamper = dyn Fn(&mut Context<Fr>, usize);

    fn items() -> Vec<Vec<i64>> {
        (0..3i64)
            .map(|i| {
                (0..20)
                    .map(|j| (i * 7919 + j * 104_729) % 65_536 - 32_768)
                    .collect()
            })
            .collect()
    }

    /// Loads every feature's offset as a witness (features as field elements, negative as p - |v|), computes
    /// the leaves and the root in-circuit and exposes the root.
    fn run(witness: &[Vec<Fr>], public_root: Fr, tamper: Option<&Tamper>) -> bool {
        mock_satisfied(K as u32, vec![public_root], |builder, hasher| {
            let range = builder.range_chip();
            let ctx = builder.main(0);
            let mut leaves = Vec::new();
            let mut target = 0;
            for (i, values) in witness.iter().enumerate() {
                let (cells, packed) = load_packed_offsets(ctx, &range, BITS, values);
                if i == 1 {
                    target = cells[3].cell.expect("tracked").offset;
                }
                leaves.push(features_leaf(ctx, range.gate(), hasher, i as u64, &packed));
            }
            let root = merkle_root(ctx, range.gate(), hasher, &leaves).unwrap();
            if let Some(t) = tamper {
                t(ctx, target);
            }
            vec![root]
        })
    }

    fn as_field(items: &[Vec<i64>]) -> Vec<Vec<Fr>> {
        items
            .iter()
            .map(|v| v.iter().map(|&x| field::from_i64(x)).collect())
            .collect()
    }

    #[test]
    fn circuit_root_equals_native_features_root() {
        let it = items();
        let root = commitments::features_root(BITS, &it).unwrap();
        assert!(run(&as_field(&it), root, None));
        // Extremes of the range are accepted.
        let edge = vec![vec![-32_768, 32_767, 0, -1]];
        assert!(run(
            &as_field(&edge),
            commitments::features_root(BITS, &edge).unwrap(),
            None
        ));
    }

    #[test]
    fn a_changed_feature_is_rejected() {
        let it = items();
        let root = commitments::features_root(BITS, &it).unwrap();
        let mut other = it.clone();
        other[1][3] += 1;
        // Honest witness of other features against the committed root.
        assert!(!run(&as_field(&other), root, None));
        // A prover who overwrites a feature's offset cell after assignment breaks the packing's inner
        // product and the copy into the lookup.
        let bump = |ctx: &mut Context<Fr>, offset: usize| {
            let v = ctx.advice[offset].evaluate();
            ctx.advice[offset] = halo2_base::halo2_proofs::plonk::Assigned::Trivial(v + Fr::ONE);
        };
        assert!(run(&as_field(&it), root, Some(&|_, _| {})));
        assert!(!run(&as_field(&it), root, Some(&bump)));
    }

    #[test]
    fn out_of_range_and_wrapping_values_are_rejected() {
        // 2^15 and -2^15 - 1 do not fit 16 signed bits; p - 2^40 is a "negative" value chosen to wrap. Each
        // is given a root computed from the same packing the circuit does, so only the range check can
        // refuse it.
        for bad in [
            field::from_i64(32_768),
            field::from_i64(-32_769),
            -Fr::from(1u64 << 40),
        ] {
            let mut w = as_field(&items());
            w[1][3] = bad;
            let half = Fr::from(1u64 << 15);
            let shift = Fr::from(1u64 << 16);
            let leaves: Vec<Fr> = w
                .iter()
                .enumerate()
                .map(|(i, vals)| {
                    let mut inputs = vec![];
                    for chunk in vals.chunks(15) {
                        inputs.push(
                            chunk
                                .iter()
                                .rev()
                                .fold(Fr::ZERO, |acc, v| acc * shift + v + half),
                        );
                    }
                    crate::poseidon::compress(TAG_FEATURES, i as u64, &inputs)
                })
                .collect();
            let root = crate::merkle::root(&leaves).unwrap();
            assert!(!run(&w, root, None), "{bad:?} accepted");
        }
    }
}
