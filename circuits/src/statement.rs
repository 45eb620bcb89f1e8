//! The statement (DESIGN §4; version [`STATEMENT_VERSION`]) in plain Rust: the witness maths that the attribution circuit proves, and the
//! reference its outputs are tested against.
//!
//! Given a sealed snapshot (each item's contributor and content hash, in index order), the quantised item
//! features and query vector of the attribution artifact, the governance parameters, the pool and the
//! settlement context, [`evaluate`] computes:
//!
//! 1. `score_i = <phi_i, P>` exactly (integers; the bounds checked in [`EpochInput::validate`] keep every
//!    intermediate far below the field modulus, so the circuit's range checks can rule out wrap-around);
//! 2. per contributor `T_c = sum_{i in c} score_i`, then `S_c = max(0, T_c)`, and `S_c = 0` when
//!    `S_c < min_score`;
//! 3. `reward_c = min(floor(pool * S_c / sum S), floor(pool * max_share_bps / 10000))`, and 0 for everyone when
//!    `sum S = 0`; `total_rewarded = sum reward_c <= pool`;
//! 4. the reward list: one entry per contributor with at least one item (zero amounts included), addresses
//!    strictly increasing. Its bytes are `address (20 bytes) ‖ amount (uint256, 32 bytes big-endian)` per
//!    entry (Solidity `abi.encodePacked(address, uint256)`), `r = keccak256(bytes) mod p`, and with field
//!    elements `e_{2j} = address_j`, `e_{2j+1} = amount_j`, `y = sum_k e_k r^k`;
//! 5. the public inputs in the fixed order of [`PublicInputs::to_field_elements`].

use std::collections::BTreeMap;

use ruint::aliases::U256;
use serde::{Deserialize, Serialize};
use sha3::{Digest, Keccak256};

use crate::{
    commitments,
    error::{Error, Result},
    field::{self, Fr},
    merkle,
    params::GovernanceParams,
};

/// Version of the statement (the public-input layout, the reward-list encoding and the commitments'
/// hashes). 2: the Merkle trees' leaves and nodes are [`crate::poseidon::compress`] (one permutation per
/// node and Datanet leaf) instead of the padded sponge [`crate::poseidon::hash`] of version 1.
pub const STATEMENT_VERSION: u32 = 2;

/// One snapshot item as the statement sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementItem {
    /// Contributor address.
    pub contributor: [u8; 20],
    /// `content_hash` of the item (a leaf input of `datanet_root`).
    pub content_hash: Fr,
    /// Quantised features (`feature_dim` signed integers of `feature_bits`).
    pub features: Vec<i64>,
}

/// Everything an epoch's statement is computed from. Item `i` has index `i`.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochInput {
    /// Chain id of the settlement contract.
    pub chain_id: u64,
    /// Settlement contract address.
    pub settlement: [u8; 20],
    /// Epoch number.
    pub epoch: u64,
    /// Governance parameters.
    pub params: GovernanceParams,
    /// The snapshot's items in index order.
    pub items: Vec<StatementItem>,
    /// `model_commitment` (not recomputed by the statement: the circuit takes it as given, DESIGN §4).
    pub model_commitment: Fr,
    /// Scale of the query vector.
    pub query_scale_log2: i32,
    /// Quantised query vector `P` (`feature_dim` signed integers of `query_bits`).
    pub query: Vec<i64>,
    /// Reward pool, token base units.
    pub pool: u128,
}

/// One reward-list entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewardEntry {
    /// Contributor address.
    pub contributor: [u8; 20],
    /// Amount in token base units.
    pub amount: u128,
}

/// The public inputs, in statement order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicInputs {
    /// Chain id.
    pub chain_id: u64,
    /// Settlement contract.
    pub settlement: [u8; 20],
    /// Epoch.
    pub epoch: u64,
    /// `params_hash`.
    pub params_hash: Fr,
    /// `datanet_root`.
    pub datanet_root: Fr,
    /// `model_commitment`.
    pub model_commitment: Fr,
    /// `features_root`.
    pub features_root: Fr,
    /// `query_commitment`.
    pub query_commitment: Fr,
    /// Pool.
    pub pool: u128,
    /// Sum of the rewards.
    pub total_rewarded: u128,
    /// `r = keccak256(list bytes) mod p`.
    pub r: Fr,
    /// `y = sum_k e_k r^k`.
    pub y: Fr,
}

impl PublicInputs {
    /// Number of public inputs.
    pub const LEN: usize = 12;

    /// `[chain_id, settlement, epoch, params_hash, datanet_root, model_commitment, features_root,
    /// query_commitment, pool, total_rewarded, r, y]`.
    pub fn to_field_elements(&self) -> [Fr; Self::LEN] {
        [
            Fr::from(self.chain_id),
            field::from_address(&self.settlement),
            Fr::from(self.epoch),
            self.params_hash,
            self.datanet_root,
            self.model_commitment,
            self.features_root,
            self.query_commitment,
            field::from_u128(self.pool),
            field::from_u128(self.total_rewarded),
            self.r,
            self.y,
        ]
    }
}

/// Everything [`evaluate`] derives: the witness of the circuit and its public inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// `score_i` per item.
    pub scores: Vec<i64>,
    /// Per contributor (ascending address): `T_c`, the unclamped sum of its items' scores.
    pub totals: BTreeMap<[u8; 20], i128>,
    /// Per contributor: `S_c` after clamping and the minimum score.
    pub clamped: BTreeMap<[u8; 20], u128>,
    /// `sum S_c`.
    pub sum_clamped: u128,
    /// The reward list in canonical order.
    pub rewards: Vec<RewardEntry>,
    /// The public inputs.
    pub public: PublicInputs,
}

fn bad(reason: impl Into<String>) -> Error {
    Error::InvalidStatement(reason.into())
}

fn signed_range(bits: u32) -> std::ops::RangeInclusive<i64> {
    let half = 1i64 << (bits - 1);
    -half..=half - 1
}

impl EpochInput {
    /// Checks shapes and bounds against the parameters: at least one item and at most `max_items`, at most
    /// `max_contributors` distinct contributors, vectors of `feature_dim` entries within their signed
    /// widths, and widths small enough that no sum or product the circuit forms can reach 2^200.
    pub fn validate(&self) -> Result<()> {
        self.params.validate()?;
        let p = &self.params;
        let dim = p.attribution.feature_dim as usize;
        let (fb, qb) = (p.fixed_point.feature_bits, p.fixed_point.query_bits);
        if self.items.is_empty() {
            return Err(bad("the epoch has no items"));
        }
        if self.items.len() > p.circuit.max_items as usize {
            return Err(bad(format!(
                "{} items exceed max_items {}",
                self.items.len(),
                p.circuit.max_items
            )));
        }
        // |score| < dim * 2^(fb-1) * 2^(qb-1); |T_c|, sum S < 2^63 (the circuit checks T_c as a signed 64-bit
        // value; `GovernanceParams::validate` above refuses parameters that allow more); pool * S_c < 2^191.
        if self.query.len() != dim {
            return Err(bad(format!(
                "query has {} entries, feature_dim is {dim}",
                self.query.len()
            )));
        }
        if let Some(v) = self.query.iter().find(|v| !signed_range(qb).contains(v)) {
            return Err(bad(format!(
                "query entry {v} does not fit {qb} signed bits"
            )));
        }
        for (i, it) in self.items.iter().enumerate() {
            if it.features.len() != dim {
                return Err(bad(format!(
                    "item {i} has {} features, feature_dim is {dim}",
                    it.features.len()
                )));
            }
            if let Some(v) = it.features.iter().find(|v| !signed_range(fb).contains(v)) {
                return Err(bad(format!(
                    "item {i}: feature {v} does not fit {fb} signed bits"
                )));
            }
        }
        let contributors: std::collections::BTreeSet<_> =
            self.items.iter().map(|i| i.contributor).collect();
        if contributors.len() > p.circuit.max_contributors as usize {
            return Err(bad(format!(
                "{} contributors exceed max_contributors {}",
                contributors.len(),
                p.circuit.max_contributors
            )));
        }
        if contributors.contains(&[0u8; 20]) {
            return Err(bad("the zero address cannot be a contributor"));
        }
        Ok(())
    }
}

/// The bytes of a reward list: `address ‖ uint256 amount` per entry.
pub fn list_bytes(list: &[RewardEntry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(list.len() * 52);
    for e in list {
        out.extend_from_slice(&e.contributor);
        out.extend_from_slice(&[0u8; 16]);
        out.extend_from_slice(&e.amount.to_be_bytes());
    }
    out
}

/// `r = keccak256(list bytes) mod p`.
pub fn list_challenge(list: &[RewardEntry]) -> Fr {
    let digest: [u8; 32] = Keccak256::digest(list_bytes(list)).into();
    field::from_bytes_be_reduced(&digest)
}

/// The list's field elements `e_{2j} = address_j`, `e_{2j+1} = amount_j`.
pub fn list_elements(list: &[RewardEntry]) -> Vec<Fr> {
    list.iter()
        .flat_map(|e| {
            [
                field::from_address(&e.contributor),
                field::from_u128(e.amount),
            ]
        })
        .collect()
}

/// `y = sum_k e_k r^k` (Horner, from the last element).
pub fn list_evaluation(list: &[RewardEntry], r: Fr) -> Fr {
    list_elements(list)
        .iter()
        .rev()
        .fold(<Fr as ff::Field>::ZERO, |acc, e| acc * r + e)
}

/// The claims tree's leaf of entry `index` (the settlement contract's `RewardList.leaf`):
/// `keccak256(keccak256(abi.encode(uint256 index, address account, uint256 amount)))`.
pub fn claim_leaf(index: usize, entry: &RewardEntry) -> [u8; 32] {
    let mut enc = [0u8; 96];
    enc[24..32].copy_from_slice(&(index as u64).to_be_bytes());
    enc[44..64].copy_from_slice(&entry.contributor);
    enc[80..96].copy_from_slice(&entry.amount.to_be_bytes());
    Keccak256::digest(Keccak256::digest(enc)).into()
}

fn hash_pair(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    let mut h = Keccak256::new();
    h.update(lo);
    h.update(hi);
    h.finalize().into()
}

/// The levels of the claims tree, leaves first: pairs hashed in sorted order, an odd last node carried up
/// unchanged (as the settlement contract builds it).
fn claim_levels(list: &[RewardEntry]) -> Vec<Vec<[u8; 32]>> {
    let mut levels = vec![list
        .iter()
        .enumerate()
        .map(|(i, e)| claim_leaf(i, e))
        .collect::<Vec<_>>()];
    while levels.last().map_or(0, Vec::len) > 1 {
        let prev = levels.last().expect("non-empty");
        let next = prev
            .chunks(2)
            .map(|c| {
                if c.len() == 2 {
                    hash_pair(&c[0], &c[1])
                } else {
                    c[0]
                }
            })
            .collect();
        levels.push(next);
    }
    levels
}

/// The root of the claims tree the settlement contract stores for `list` (non-empty).
pub fn claims_root(list: &[RewardEntry]) -> [u8; 32] {
    claim_levels(list)
        .last()
        .and_then(|l| l.first().copied())
        .unwrap_or([0u8; 32])
}

/// The Merkle proof of entry `index` against [`claims_root`], bottom up (OpenZeppelin `MerkleProof`).
pub fn claim_proof(list: &[RewardEntry], index: usize) -> Vec<[u8; 32]> {
    let mut proof = Vec::new();
    let mut i = index;
    for level in claim_levels(list).iter().take_while(|l| l.len() > 1) {
        if let Some(sibling) = level.get(i ^ 1) {
            proof.push(*sibling);
        }
        i /= 2;
    }
    proof
}

/// Checks `proof` for entry `index` against `root` (OpenZeppelin `MerkleProof.verify`).
pub fn verify_claim(
    root: &[u8; 32],
    index: usize,
    entry: &RewardEntry,
    proof: &[[u8; 32]],
) -> bool {
    let top = proof
        .iter()
        .fold(claim_leaf(index, entry), |acc, p| hash_pair(&acc, p));
    &top == root
}

/// `floor(a * b / c)` for `c > 0` and `b <= c`, exact in 256 bits (`a`, `b` below 2^128).
pub fn mul_div_floor(a: u128, b: u128, c: u128) -> u128 {
    let q = U256::from(a) * U256::from(b) / U256::from(c);
    // q <= a when b <= c, which holds for every call below (S_c <= sum S, bps <= 10000).
    q.to::<u128>()
}

/// Computes the statement for `input` (see the module documentation).
pub fn evaluate(input: &EpochInput) -> Result<Outcome> {
    input.validate()?;
    let p = &input.params;
    let scores: Vec<i64> = input
        .items
        .iter()
        .map(|it| {
            it.features
                .iter()
                .zip(&input.query)
                .map(|(a, b)| a * b)
                .sum()
        })
        .collect();
    let mut totals: BTreeMap<[u8; 20], i128> = BTreeMap::new();
    for (it, s) in input.items.iter().zip(&scores) {
        *totals.entry(it.contributor).or_default() += i128::from(*s);
    }
    let min = i128::from(p.attribution.min_score);
    let clamped: BTreeMap<[u8; 20], u128> = totals
        .iter()
        .map(|(c, &t)| {
            let s = if t < 0 || t < min { 0 } else { t as u128 };
            (*c, s)
        })
        .collect();
    let sum_clamped: u128 = clamped.values().sum();
    let cap = mul_div_floor(input.pool, u128::from(p.attribution.max_share_bps), 10_000);
    let rewards: Vec<RewardEntry> = clamped
        .iter()
        .map(|(c, &s)| RewardEntry {
            contributor: *c,
            amount: if sum_clamped == 0 {
                0
            } else {
                mul_div_floor(input.pool, s, sum_clamped).min(cap)
            },
        })
        .collect();
    let total_rewarded: u128 = rewards.iter().map(|e| e.amount).sum();
    debug_assert!(total_rewarded <= input.pool);

    let leaves: Vec<Fr> = input
        .items
        .iter()
        .enumerate()
        .map(|(i, it)| {
            merkle::leaf_hash(
                field::from_address(&it.contributor),
                it.content_hash,
                i as u64,
            )
        })
        .collect();
    let features: Vec<Vec<i64>> = input.items.iter().map(|i| i.features.clone()).collect();
    let r = list_challenge(&rewards);
    let public = PublicInputs {
        chain_id: input.chain_id,
        settlement: input.settlement,
        epoch: input.epoch,
        params_hash: p.hash(),
        datanet_root: merkle::root(&leaves)?,
        model_commitment: input.model_commitment,
        features_root: commitments::features_root(p.fixed_point.feature_bits, &features)?,
        query_commitment: commitments::query_commitment(
            input.query_scale_log2,
            p.fixed_point.query_bits,
            &input.query,
        )?,
        pool: input.pool,
        total_rewarded,
        r,
        y: list_evaluation(&rewards, r),
    };
    Ok(Outcome {
        scores,
        totals,
        clamped,
        sum_clamped,
        rewards,
        public,
    })
}

/// An epoch of `n` items with `params` and every value zero (one contributor). The circuit's shape follows
/// the parameters alone (`max_items` positions), so this epoch has the shape of every epoch under `params`
/// and a verifier derives the verifying key from it without the prover's data.
pub fn placeholder_epoch(params: GovernanceParams, n: usize) -> EpochInput {
    let dim = params.attribution.feature_dim as usize;
    EpochInput {
        chain_id: 0,
        settlement: [0; 20],
        epoch: 0,
        params,
        items: (0..n)
            .map(|_| StatementItem {
                contributor: [1; 20],
                content_hash: Fr::zero(),
                features: vec![0; dim],
            })
            .collect(),
        model_commitment: Fr::zero(),
        query_scale_log2: 0,
        query: vec![0; dim],
        pool: 0,
    }
}

/// A synthetic epoch for sizing and benches: `n` items spread round-robin over `slots` contributors,
/// dimension `dim`, deterministic feature and query values well inside int16, default parameters otherwise
/// (`max_items` is `n` rounded up to a power of two, so the circuit has that many item positions).
pub fn synthetic_epoch(n: usize, dim: usize, slots: u8) -> EpochInput {
    let mut params = GovernanceParams::default();
    params.attribution.feature_dim = dim as u32;
    params.circuit.max_contributors = u32::from(slots);
    params.circuit.max_items = n.next_power_of_two() as u32;
    params.circuit.shard_items = params.circuit.shard_items.min(params.circuit.max_items);
    params.circuit.k = params
        .circuit
        .k
        .max(n.next_power_of_two().trailing_zeros() + 1);
    EpochInput {
        chain_id: 1,
        settlement: [0x42; 20],
        epoch: 1,
        params,
        items: (0..n)
            .map(|i| StatementItem {
                contributor: [1 + (i % usize::from(slots)) as u8; 20],
                content_hash: Fr::from(i as u64),
                features: (0..dim)
                    .map(|j| ((i * 31 + j * 7) % 2000) as i64 - 1000)
                    .collect(),
            })
            .collect(),
        model_commitment: Fr::from(1u64),
        query_scale_log2: 0,
        query: (0..dim).map(|j| (j as i64 * 13) % 500 - 250).collect(),
        pool: 1_000_000,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_has_a_claim_proof_and_only_its_own() {
        for n in [1usize, 2, 3, 4, 5, 7, 8, 9, 20] {
            let list: Vec<RewardEntry> = (0..n)
                .map(|i| RewardEntry {
                    contributor: [i as u8 + 1; 20],
                    amount: 1000 + i as u128,
                })
                .collect();
            let root = claims_root(&list);
            for (i, e) in list.iter().enumerate() {
                let p = claim_proof(&list, i);
                assert!(verify_claim(&root, i, e, &p), "n {n} entry {i}");
                let more = RewardEntry {
                    amount: e.amount + 1,
                    ..*e
                };
                assert!(
                    !verify_claim(&root, i, &more, &p),
                    "n {n} entry {i}: amount"
                );
                if n > 1 {
                    assert!(
                        !verify_claim(&root, (i + 1) % n, e, &p),
                        "n {n} entry {i}: index"
                    );
                }
            }
        }
        // The leaf is abi.encode(uint256, address, uint256), hashed twice.
        let e = RewardEntry {
            contributor: [0xab; 20],
            amount: 5,
        };
        let mut enc = vec![0u8; 96];
        enc[31] = 3;
        enc[44..64].fill(0xab);
        enc[95] = 5;
        let want: [u8; 32] = Keccak256::digest(Keccak256::digest(&enc)).into();
        assert_eq!(claim_leaf(3, &e), want);
    }
    use crate::params::GovernanceParams;

    fn addr(b: u8) -> [u8; 20] {
        [b; 20]
    }

    fn params(dim: u32) -> GovernanceParams {
        let mut p = GovernanceParams::default();
        p.attribution.feature_dim = dim;
        p
    }

    fn item(c: u8, features: Vec<i64>) -> StatementItem {
        StatementItem {
            contributor: addr(c),
            content_hash: Fr::from(u64::from(c) * 1000 + features.len() as u64),
            features,
        }
    }

    fn input(items: Vec<StatementItem>, query: Vec<i64>, pool: u128) -> EpochInput {
        EpochInput {
            chain_id: 31337,
            settlement: addr(0xee),
            epoch: 7,
            params: params(query.len() as u32),
            items,
            model_commitment: Fr::from(99u64),
            query_scale_log2: 10,
            query,
            pool,
        }
    }

    #[test]
    fn scores_clamps_and_floors() {
        // Contributor 3: scores 5 and -2 (T = 3); contributor 1: 4 (T = 4); contributor 2: -6 (clamped to 0).
        let e = input(
            vec![
                item(3, vec![1, 2]),
                item(1, vec![2, 1]),
                item(2, vec![-2, -2]),
                item(3, vec![0, -1]),
            ],
            vec![1, 2],
            100,
        );
        let o = evaluate(&e).unwrap();
        assert_eq!(o.scores, vec![5, 4, -6, -2]);
        assert_eq!(o.totals[&addr(3)], 3);
        assert_eq!(o.clamped[&addr(2)], 0);
        assert_eq!(o.sum_clamped, 7);
        // floor(100 * 4 / 7) = 57, floor(100 * 3 / 7) = 42; canonical order by address.
        assert_eq!(
            o.rewards,
            vec![
                RewardEntry {
                    contributor: addr(1),
                    amount: 57
                },
                RewardEntry {
                    contributor: addr(2),
                    amount: 0
                },
                RewardEntry {
                    contributor: addr(3),
                    amount: 42
                },
            ]
        );
        assert_eq!(o.public.total_rewarded, 99);
        // The two-sided inequality the circuit proves.
        for (e, s) in o.rewards.iter().zip(o.clamped.values()) {
            assert!(
                e.amount * o.sum_clamped <= 100 * s && 100 * s < (e.amount + 1) * o.sum_clamped
            );
        }
    }

    #[test]
    fn min_score_and_max_share() {
        let mut e = input(vec![item(1, vec![10]), item(2, vec![1])], vec![1], 1000);
        e.params.attribution.min_score = 2;
        let o = evaluate(&e).unwrap();
        assert_eq!(o.clamped[&addr(2)], 0, "below min_score");
        assert_eq!(o.rewards[0].amount, 1000);
        e.params.attribution.max_share_bps = 2500;
        let o = evaluate(&e).unwrap();
        assert_eq!(o.rewards[0].amount, 250, "capped at 25% of the pool");
        assert_eq!(o.public.total_rewarded, 250);
        // Nobody positive: nothing is paid.
        let o = evaluate(&input(vec![item(1, vec![-1])], vec![1], 1000)).unwrap();
        assert_eq!(o.rewards[0].amount, 0);
        assert_eq!(o.public.total_rewarded, 0);
    }

    #[test]
    fn large_pool_is_exact() {
        let pool = u128::MAX / 3;
        let o = evaluate(&input(
            vec![item(1, vec![3]), item(2, vec![1])],
            vec![1],
            pool,
        ))
        .unwrap();
        assert_eq!(o.rewards[0].amount, pool / 4 * 3 + (pool % 4) * 3 / 4);
        assert!(o.public.total_rewarded <= pool);
    }

    #[test]
    fn list_encoding_and_evaluation() {
        let list = [
            RewardEntry {
                contributor: addr(1),
                amount: 5,
            },
            RewardEntry {
                contributor: addr(2),
                amount: 1 << 100,
            },
        ];
        let bytes = list_bytes(&list);
        assert_eq!(bytes.len(), 104);
        assert_eq!(&bytes[..20], &[1u8; 20]);
        assert_eq!(bytes[51], 5);
        let r = Fr::from(3u64);
        let e = list_elements(&list);
        let direct = e[0] + e[1] * r + e[2] * r.square() + e[3] * r.square() * r;
        assert_eq!(list_evaluation(&list, r), direct);
        // Changing any amount, address or the order changes r and y.
        let base = (
            list_challenge(&list),
            list_evaluation(&list, list_challenge(&list)),
        );
        let mut swapped = list;
        swapped.swap(0, 1);
        let mut bumped = list;
        bumped[1].amount += 1;
        for l in [swapped, bumped] {
            let r = list_challenge(&l);
            assert_ne!((r, list_evaluation(&l, r)), base);
        }
    }

    #[test]
    fn public_inputs_bind_the_context_and_the_commitments() {
        let e = input(
            vec![item(1, vec![1, 0]), item(2, vec![0, 1])],
            vec![1, 1],
            10,
        );
        let o = evaluate(&e).unwrap();
        let pi = o.public.to_field_elements();
        assert_eq!(pi[0], Fr::from(31337u64));
        assert_eq!(pi[2], Fr::from(7u64));
        assert_eq!(pi[3], e.params.hash());
        let leaves: Vec<Fr> = e
            .items
            .iter()
            .enumerate()
            .map(|(i, it)| {
                merkle::leaf_hash(
                    field::from_address(&it.contributor),
                    it.content_hash,
                    i as u64,
                )
            })
            .collect();
        assert_eq!(pi[4], merkle::root(&leaves).unwrap());
        assert_eq!(
            pi[6],
            commitments::features_root(16, &[vec![1, 0], vec![0, 1]]).unwrap()
        );
        assert_eq!(
            pi[7],
            commitments::query_commitment(10, 16, &[1, 1]).unwrap()
        );
        assert_eq!(pi[9], Fr::from(10u64));
    }

    #[test]
    fn bad_inputs_are_refused() {
        let ok = input(vec![item(1, vec![1, 2])], vec![1, 2], 10);
        assert!(evaluate(&ok).is_ok());
        type Mutation = Box<dyn Fn(&mut EpochInput)>;
        let cases: Vec<(Mutation, &str)> = vec![
            (Box::new(|e| e.items.clear()), "no items"),
            (Box::new(|e| e.query.push(0)), "query has 3"),
            (
                Box::new(|e| e.items[0].features.pop().map(|_| ()).unwrap_or(())),
                "item 0 has 1",
            ),
            (
                Box::new(|e| e.items[0].features[0] = 1 << 15),
                "does not fit 16",
            ),
            (Box::new(|e| e.query[1] = -(1 << 15) - 1), "does not fit 16"),
            (
                Box::new(|e| e.items[0].contributor = [0; 20]),
                "zero address",
            ),
            (Box::new(|e| e.params.circuit.max_items = 0), "max_items"),
            (
                Box::new(|e| {
                    e.params.circuit.max_contributors = 1;
                    e.items.push(item(2, vec![0, 0]));
                }),
                "exceed max_contributors",
            ),
            (
                Box::new(|e| {
                    e.params.fixed_point.feature_bits = 32;
                    e.params.fixed_point.query_bits = 32;
                }),
                "63",
            ),
        ];
        for (mutate, needle) in cases {
            let mut e = ok.clone();
            mutate(&mut e);
            let err = evaluate(&e).unwrap_err().to_string();
            assert!(err.contains(needle), "{needle}: {err}");
        }
    }
}
