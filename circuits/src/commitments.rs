//! Commitments to the attribution inputs (DESIGN §4): `features_root` and `query_commitment`.
//!
//! - Feature leaf of item `i`: `Poseidon(i, q_1, …, q_k)`, the quantised features as field elements (negative
//!   values as `p - |q|`). `features_root` is the [`crate::merkle`] root over these leaves in item order, the
//!   same tree shape as `datanet_root`, so item `i` is at the same position in both.
//! - `query_commitment = Poseidon(domain, scale_log2, P_1, …, P_k)`, `domain` the ASCII bytes `zkattr.query`.

use crate::{
    error::Result,
    field::{self, Fr},
    merkle, poseidon,
};

/// Leaf of item `index` in the features tree.
pub fn features_leaf(index: u64, values: &[i64]) -> Fr {
    let mut inputs = Vec::with_capacity(values.len() + 1);
    inputs.push(Fr::from(index));
    inputs.extend(values.iter().map(|&v| field::from_i64(v)));
    poseidon::hash(&inputs)
}

/// `features_root` over every item's quantised features, item `i` being `items[i]`.
pub fn features_root(items: &[Vec<i64>]) -> Result<Fr> {
    let leaves = merkle::leaves_par(items.len(), |i| features_leaf(i as u64, &items[i]));
    merkle::root(&leaves)
}

fn query_domain() -> Fr {
    let tag = b"zkattr.query";
    let mut b = [0u8; 32];
    b[32 - tag.len()..].copy_from_slice(tag);
    field::from_bytes_be(&b).expect("12 bytes are below the modulus")
}

/// `query_commitment` of the quantised query vector `values` at scale `2^scale_log2`.
pub fn query_commitment(scale_log2: i32, values: &[i64]) -> Fr {
    let mut inputs = Vec::with_capacity(values.len() + 2);
    inputs.push(query_domain());
    inputs.push(field::from_i64(i64::from(scale_log2)));
    inputs.extend(values.iter().map(|&v| field::from_i64(v)));
    poseidon::hash(&inputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commitments_bind_every_value() {
        let items = vec![vec![1, -2, 3], vec![0, 5, -6], vec![7, 8, 9]];
        let root = features_root(&items).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let mut t = items.clone();
                t[i][j] += 1;
                assert_ne!(features_root(&t).unwrap(), root, "item {i} entry {j}");
            }
        }
        let mut swapped = items.clone();
        swapped.swap(0, 1);
        assert_ne!(features_root(&swapped).unwrap(), root);
        let q = query_commitment(10, &[1, -1]);
        assert_ne!(q, query_commitment(11, &[1, -1]));
        assert_ne!(q, query_commitment(10, &[1, 1]));
        assert_ne!(q, query_commitment(10, &[1, -1, 0]));
    }
}
