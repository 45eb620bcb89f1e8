//! The Datanet Merkle tree: binary, Poseidon, zero-padded to a power of two.
//!
//! - Leaf `i` is [`leaf_hash`]`(contributor, content_hash, i)` (DESIGN §4), with the contributor's address
//!   read as a 160-bit integer: [`poseidon::compress`]`(TAG_LEAF, i, [contributor, content_hash])`, one
//!   permutation (before statement version 2: [`poseidon::hash`], two).
//! - A tree over `n >= 1` leaves has depth `d = max(1, ceil(log2 n))`; positions `n..2^d` hold the padding
//!   leaf `0`. An inner node is [`node_hash`]`(left, right)` = `compress(TAG_NODE, 0, [left, right])`, one
//!   permutation (before version 2: two).
//! - The root alone does not state `n`; a sealed version publishes `n` and `d` beside it, and an
//!   inclusion proof carries both, so a verifier checks `index < n` and the path length `d`.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{
    error::{Error, Result},
    field::{self, Fr},
    poseidon,
};

/// The deepest tree supported (2^32 items).
pub const MAX_DEPTH: u32 = 32;

/// Levels at least this wide are hashed in parallel.
const PARALLEL_MIN: usize = 1 << 12;

/// The value of a padding leaf.
pub const PADDING_LEAF: Fr = Fr::zero();

/// Domain tag of Datanet leaves in [`poseidon::capacity`].
pub const TAG_LEAF: u64 = 1;
/// Domain tag of inner nodes (both trees).
pub const TAG_NODE: u64 = 2;
/// Domain tag of feature leaves ([`crate::commitments::features_leaf`]).
pub const TAG_FEATURES: u64 = 3;

/// Leaf of item `index`: `compress(TAG_LEAF, index, [contributor, content_hash])`.
pub fn leaf_hash(contributor: Fr, content_hash: Fr, index: u64) -> Fr {
    poseidon::compress(TAG_LEAF, index, &[contributor, content_hash])
}

/// Inner node: `compress(TAG_NODE, 0, [left, right])`.
pub fn node_hash(left: Fr, right: Fr) -> Fr {
    poseidon::compress(TAG_NODE, 0, &[left, right])
}

/// Depth of the tree over `leaves` leaves: `max(1, ceil(log2 leaves))`.
pub fn depth_for(leaves: usize) -> Result<u32> {
    if leaves == 0 {
        return Err(Error::EmptyTree);
    }
    match leaves
        .checked_next_power_of_two()
        .map(|p| p.trailing_zeros().max(1))
    {
        Some(depth) if depth <= MAX_DEPTH => Ok(depth),
        _ => Err(Error::TreeTooDeep {
            leaves,
            max_depth: MAX_DEPTH,
        }),
    }
}

/// Roots of all-padding subtrees: `zeros[h]` is the root of a subtree of height `h`.
pub fn zero_hashes(depth: u32) -> Vec<Fr> {
    let mut z = Vec::with_capacity(depth as usize + 1);
    z.push(PADDING_LEAF);
    for h in 0..depth as usize {
        z.push(node_hash(z[h], z[h]));
    }
    z
}

/// Hashes one level into the next; a missing right child is the padding subtree `zero`.
fn next_level(level: &[Fr], zero: Fr) -> Vec<Fr> {
    let pair = |c: &[Fr]| node_hash(c[0], c.get(1).copied().unwrap_or(zero));
    if level.len() >= PARALLEL_MIN {
        level.par_chunks(2).map(pair).collect()
    } else {
        level.chunks(2).map(pair).collect()
    }
}

/// The root over `leaves`, keeping only one level in memory at a time.
pub fn root(leaves: &[Fr]) -> Result<Fr> {
    let depth = depth_for(leaves.len())?;
    let zeros = zero_hashes(depth);
    let mut level = next_level(leaves, zeros[0]);
    for zero in &zeros[1..depth as usize] {
        level = next_level(&level, *zero);
    }
    Ok(level[0])
}

/// Computes leaves in parallel; `f(i)` gives leaf `i`.
pub fn leaves_par<F: Fn(usize) -> Fr + Sync + Send>(n: usize, f: F) -> Vec<Fr> {
    (0..n).into_par_iter().map(f).collect()
}

/// A tree with every level kept, for inclusion proofs.
#[derive(Debug, Clone)]
pub struct MerkleTree {
    /// `levels[0]` are the leaves (without padding), the last level is the root.
    levels: Vec<Vec<Fr>>,
    zeros: Vec<Fr>,
}

impl MerkleTree {
    /// Builds the tree over `leaves`.
    pub fn new(leaves: &[Fr]) -> Result<Self> {
        let depth = depth_for(leaves.len())?;
        let zeros = zero_hashes(depth);
        let mut levels = vec![leaves.to_vec()];
        for zero in &zeros[..depth as usize] {
            let next = next_level(levels.last().expect("at least the leaves"), *zero);
            levels.push(next);
        }
        Ok(Self { levels, zeros })
    }

    /// The root.
    pub fn root(&self) -> Fr {
        self.levels.last().expect("at least the leaves")[0]
    }

    /// The depth `d` (number of siblings in a path).
    pub fn depth(&self) -> u32 {
        (self.levels.len() - 1) as u32
    }

    /// Number of real (non-padding) leaves.
    pub fn len(&self) -> usize {
        self.levels[0].len()
    }

    /// Always false: a tree has at least one leaf.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The authentication path of leaf `index`.
    pub fn proof(&self, index: u64) -> Result<MerklePath> {
        let n = self.len() as u64;
        if index >= n {
            return Err(Error::IndexOutOfRange { index, leaves: n });
        }
        let siblings = self.levels[..self.levels.len() - 1]
            .iter()
            .enumerate()
            .map(|(h, level)| {
                let i = (index >> h) as usize ^ 1;
                level.get(i).copied().unwrap_or(self.zeros[h])
            })
            .collect();
        Ok(MerklePath { index, siblings })
    }
}

/// An authentication path: the sibling at every height, leaf level first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MerklePath {
    /// Index of the leaf.
    pub index: u64,
    /// Siblings from the leaf level up.
    #[serde(with = "field::serde_hex::vec")]
    pub siblings: Vec<Fr>,
}

/// Why an inclusion proof was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MerkleVerifyError {
    /// The path does not lead to the expected root.
    #[error("path leads to root {computed}, expected {expected}")]
    RootMismatch {
        /// The root the proof was checked against.
        expected: String,
        /// The root the path leads to.
        computed: String,
    },
    /// The path is empty or longer than [`MAX_DEPTH`].
    #[error("a path of {depth} siblings; paths have 1 to {MAX_DEPTH}")]
    BadDepth {
        /// The number of siblings.
        depth: usize,
    },
    /// The index does not fit a tree of the path's depth.
    #[error("index {index} does not fit a tree of depth {depth}")]
    IndexTooLarge {
        /// The index in the proof.
        index: u64,
        /// The number of siblings.
        depth: usize,
    },
}

impl MerklePath {
    /// The root this path leads to from `leaf`.
    pub fn compute_root(&self, leaf: Fr) -> Fr {
        self.siblings
            .iter()
            .enumerate()
            .fold(leaf, |acc, (h, sib)| {
                if self.index.checked_shr(h as u32).unwrap_or(0) & 1 == 0 {
                    node_hash(acc, *sib)
                } else {
                    node_hash(*sib, acc)
                }
            })
    }

    /// Checks that `leaf` sits at `self.index` under `root`.
    pub fn verify(&self, leaf: Fr, root: Fr) -> std::result::Result<(), MerkleVerifyError> {
        let depth = self.siblings.len();
        if depth == 0 || depth > MAX_DEPTH as usize {
            return Err(MerkleVerifyError::BadDepth { depth });
        }
        if self.index >> depth != 0 {
            return Err(MerkleVerifyError::IndexTooLarge {
                index: self.index,
                depth,
            });
        }
        let computed = self.compute_root(leaf);
        if computed != root {
            return Err(MerkleVerifyError::RootMismatch {
                expected: field::to_hex(&root),
                computed: field::to_hex(&computed),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ff::Field;

    fn leaves(n: u64) -> Vec<Fr> {
        (0..n)
            .map(|i| leaf_hash(Fr::from(1000 + i), Fr::from(7 * i + 1), i))
            .collect()
    }

    /// Reference: pad explicitly to a power of two and hash pairwise.
    fn naive_root(leaves: &[Fr]) -> Fr {
        let depth = depth_for(leaves.len()).unwrap();
        let mut level = leaves.to_vec();
        level.resize(1 << depth, PADDING_LEAF);
        while level.len() > 1 {
            level = level.chunks(2).map(|c| node_hash(c[0], c[1])).collect();
        }
        level[0]
    }

    #[test]
    fn depth_rule() {
        assert!(depth_for(0).is_err());
        assert_eq!(depth_for(1).unwrap(), 1);
        assert_eq!(depth_for(2).unwrap(), 1);
        assert_eq!(depth_for(3).unwrap(), 2);
        assert_eq!(depth_for(1024).unwrap(), 10);
        assert_eq!(depth_for(1025).unwrap(), 11);
        assert_eq!(depth_for(1 << 32).unwrap(), 32);
        assert!(depth_for((1 << 32) + 1).is_err());
        assert!(depth_for(usize::MAX).is_err());
    }

    #[test]
    fn root_matches_explicit_padding() {
        for n in [1u64, 2, 3, 5, 8, 13, 64, 100] {
            let l = leaves(n);
            let r = root(&l).unwrap();
            assert_eq!(r, naive_root(&l), "n = {n}");
            assert_eq!(MerkleTree::new(&l).unwrap().root(), r, "n = {n}");
        }
    }

    #[test]
    fn parallel_levels_agree_with_serial() {
        let n = PARALLEL_MIN as u64 + 3;
        let l = leaves(n);
        assert_eq!(root(&l).unwrap(), naive_root(&l));
    }

    #[test]
    fn every_proof_verifies_and_tampering_fails() {
        let l = leaves(13);
        let tree = MerkleTree::new(&l).unwrap();
        for i in 0..13u64 {
            let p = tree.proof(i).unwrap();
            assert_eq!(p.siblings.len(), 4);
            p.verify(l[i as usize], tree.root()).unwrap();
            // wrong leaf
            assert!(p.verify(l[(i as usize + 1) % 13], tree.root()).is_err());
            // wrong index
            let mut q = p.clone();
            q.index ^= 1;
            assert!(q.verify(l[i as usize], tree.root()).is_err());
            // tampered sibling
            let mut q = p.clone();
            q.siblings[2] += Fr::ONE;
            assert!(q.verify(l[i as usize], tree.root()).is_err());
            // index beyond the depth
            let mut q = p.clone();
            q.index += 16;
            assert!(matches!(
                q.verify(l[i as usize], tree.root()),
                Err(MerkleVerifyError::IndexTooLarge { .. })
            ));
        }
        assert!(tree.proof(13).is_err());
        // Paths of no siblings or of more than MAX_DEPTH are refused, without overflow.
        let long = MerklePath {
            index: u64::MAX,
            siblings: vec![Fr::ZERO; 70],
        };
        assert!(matches!(
            long.verify(l[0], tree.root()),
            Err(MerkleVerifyError::BadDepth { depth: 70 })
        ));
        let empty = MerklePath {
            index: 0,
            siblings: vec![],
        };
        assert!(matches!(
            empty.verify(l[0], l[0]),
            Err(MerkleVerifyError::BadDepth { depth: 0 })
        ));
    }

    #[test]
    fn leaf_binds_every_field() {
        let base = leaf_hash(Fr::from(1u64), Fr::from(2u64), 3);
        assert_ne!(base, leaf_hash(Fr::from(9u64), Fr::from(2u64), 3));
        assert_ne!(base, leaf_hash(Fr::from(1u64), Fr::from(9u64), 3));
        assert_ne!(base, leaf_hash(Fr::from(1u64), Fr::from(2u64), 4));
    }
}
