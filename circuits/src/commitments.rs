//! Commitments to the attribution inputs (DESIGN §4): `features_root` and `query_commitment`.
//!
//! Signed `b`-bit values are packed before hashing, so that a 64-entry int16 vector costs 3 Poseidon
//! permutations instead of 32 (in the circuit as natively): each value `v` becomes `u = v + 2^(b-1)` in
//! `[0, 2^b)`, and every `m = floor(252 / b)` consecutive values form one field element
//! `u_0 + u_1 2^b + … + u_(m-1) 2^(b(m-1))` (the last element holds the remainder). [`pack`] does this.
//!
//! - Feature leaf of item `i`: [`poseidon::compress`]`(TAG_FEATURES, i, pack(q_1..q_k))` (3 permutations
//!   for 64 int16 values: five packed elements).
//!   `features_root` is the [`crate::merkle`] root
//!   over these leaves in item order, the same tree shape as `datanet_root`, so item `i` is at the same
//!   position in both.
//! - `query_commitment = Poseidon(domain, scale_log2, pack(P_1..P_k))`, `domain` the ASCII bytes
//!   `zkattr.query`.
//!
//! The length `k` and the width `b` are governance shape parameters (`feature_dim`, `feature_bits`,
//! `query_bits`), bound by `params_hash`.

use crate::{
    error::{Error, Result},
    field::{self, Fr},
    merkle, poseidon,
};

/// Values per packed field element for width `bits`.
pub fn values_per_element(bits: u32) -> usize {
    (252 / bits) as usize
}

/// Packs signed `bits`-bit values (see the module documentation). Errors when `bits` is not in `2..=64` or
/// a value does not fit.
pub fn pack(bits: u32, values: &[i64]) -> Result<Vec<Fr>> {
    if !(2..=64).contains(&bits) {
        return Err(Error::InvalidStatement(format!(
            "packing width {bits} is not in 2..=64"
        )));
    }
    let half = 1i128 << (bits - 1);
    let m = values_per_element(bits);
    let shift = field::from_u128(1u128 << bits);
    values
        .chunks(m)
        .map(|chunk| {
            let mut acc = Fr::from(0u64);
            for &v in chunk.iter().rev() {
                let u = i128::from(v) + half;
                if !(0..2 * half).contains(&u) {
                    return Err(Error::InvalidStatement(format!(
                        "value {v} does not fit {bits} signed bits"
                    )));
                }
                acc = acc * shift + field::from_u128(u as u128);
            }
            Ok(acc)
        })
        .collect()
}

/// Leaf of item `index` in the features tree, for `bits`-bit features.
pub fn features_leaf(index: u64, bits: u32, values: &[i64]) -> Result<Fr> {
    if values.is_empty() {
        return Err(Error::InvalidStatement(
            "a feature vector has no entries".into(),
        ));
    }
    Ok(poseidon::compress(
        merkle::TAG_FEATURES,
        index,
        &pack(bits, values)?,
    ))
}

/// `features_root` over every item's quantised `bits`-bit features, item `i` being `items[i]`.
pub fn features_root(bits: u32, items: &[Vec<i64>]) -> Result<Fr> {
    // Check every value first, so the parallel leaf hashing below cannot fail.
    for it in items {
        pack(bits, it)?;
    }
    let leaves = merkle::leaves_par(items.len(), |i| {
        features_leaf(i as u64, bits, &items[i]).unwrap_or_default()
    });
    merkle::root(&leaves)
}

/// The domain tag of `query_commitment`: the ASCII bytes `zkattr.query` as an integer.
pub fn query_domain() -> Fr {
    let tag = b"zkattr.query";
    let mut b = [0u8; 32];
    b[32 - tag.len()..].copy_from_slice(tag);
    field::from_bytes_be(&b).expect("12 bytes are below the modulus")
}

/// `query_commitment` of the quantised `bits`-bit query vector `values` at scale `2^scale_log2`.
pub fn query_commitment(scale_log2: i32, bits: u32, values: &[i64]) -> Result<Fr> {
    let mut inputs = vec![query_domain(), field::from_i64(i64::from(scale_log2))];
    inputs.extend(pack(bits, values)?);
    Ok(poseidon::hash(&inputs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commitments_bind_every_value() {
        let items = vec![vec![1, -2, 3], vec![0, 5, -6], vec![7, 8, 9]];
        let root = features_root(16, &items).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let mut t = items.clone();
                t[i][j] += 1;
                assert_ne!(features_root(16, &t).unwrap(), root, "item {i} entry {j}");
            }
        }
        let mut swapped = items.clone();
        swapped.swap(0, 1);
        assert_ne!(features_root(16, &swapped).unwrap(), root);
        let q = query_commitment(10, 16, &[1, -1]).unwrap();
        assert_ne!(q, query_commitment(11, 16, &[1, -1]).unwrap());
        assert_ne!(q, query_commitment(10, 16, &[1, 1]).unwrap());
        assert_ne!(q, query_commitment(10, 16, &[1, -1, 0]).unwrap());
    }

    #[test]
    fn packing_layout_and_ranges() {
        // Two values per element at 126 bits; 15 per element at 16 bits.
        assert_eq!(values_per_element(16), 15);
        let p = pack(16, &[-32768, 0, 32767]).unwrap();
        assert_eq!(
            p,
            vec![
                Fr::from(0u64)
                    + Fr::from(32768u64) * Fr::from(1u64 << 16)
                    + Fr::from(65535u64) * Fr::from(1u64 << 32)
            ]
        );
        assert_eq!(pack(16, &[0; 64]).unwrap().len(), 5);
        // Every position of a full 64-entry vector matters, including the last element's.
        let base: Vec<i64> = (0..64).map(|j| j - 32).collect();
        let h = pack(16, &base).unwrap();
        for j in 0..64 {
            let mut t = base.clone();
            t[j] += 1;
            assert_ne!(pack(16, &t).unwrap(), h, "entry {j}");
        }
        assert!(pack(16, &[32768]).is_err());
        assert!(pack(16, &[-32769]).is_err());
        assert!(pack(1, &[0]).is_err());
        assert!(features_root(16, &[vec![1 << 20]]).is_err());
        // The packed element stays below 2^252 < p: 15 values of 16 bits are 240 bits.
        let max = pack(16, &[32767; 15]).unwrap()[0];
        assert_eq!(field::to_bytes_be(&max)[..2], [0, 0]);
    }
}
