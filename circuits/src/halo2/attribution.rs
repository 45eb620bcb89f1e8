//! The attribution circuit's statement v1 (DESIGN §4) on halo2-base, over the plain-Rust reference
//! [`crate::statement`].
//!
//! The prover supplies an [`AttributionWitness`]: the epoch's inputs (items, features, query, parameters,
//! pool, context) and its claims: which item positions are real, the reward-list slot of every item, the
//! list's addresses and amounts, each contributor's uncapped share and the cap. Everything else is computed
//! in-circuit and constrained.
//!
//! The circuit has `M = max_items` item positions whatever the epoch's item count `n <= M`, so its shape,
//! keys and verifier are fixed by the governance parameters: one verifier per `params_hash` serves every
//! epoch. Position `i` is real when its flag `a_i` is 1; the flags are boolean, `a_0 = 1`, and
//! `a_(i+1) <= a_i` (the real items are a prefix). A padding position's leaves are 0 (the trees' padding
//! leaf), its contributor is 0 and it selects no list slot.
//!
//! 1. `params_hash`: Poseidon over the parameter encoding, shape values as constants, value parameters
//!    (`feature_scale_log2`, `clamp`, `min_score`, `max_share_bps`) as witnesses bound by the hash;
//! 2. `datanet_root`: a leaf `Poseidon(contributor, content_hash, i)` per real item, 0 per padding
//!    position; the tree over the `M` positions, and the root is the leftmost node at level
//!    `max(1, ceil(log2 n))`, chosen by the flags at positions `2^(h-1)` and `2^h` (the tree over the `n`
//!    real leaves, as sealed);
//! 3. `features_root` (the same padding and level choice) and `query_commitment`, with signed range checks
//!    on every feature and query value ([`super::features`]);
//! 4. `score_i = <phi_i, P>`; no wrap-around since every factor is range-checked and
//!    `|score_i| * N < 2^63` ([`crate::statement::EpochInput::validate`]);
//! 5. slot of item `i`: an indicator over the `C = max_contributors` list slots, one-hot for a real item and
//!    all zero for a padding position, whose selected address equals the item's contributor;
//!    `T_c = sum_i [slot_i = c] score_i`;
//! 6. `S_c = T_c` if `T_c >= min_score`, else 0 (a 64-bit signed comparison; `min_score` is constrained
//!    to be non-negative, so this also zeroes every negative `T_c`);
//! 7. list shape: a slot is active iff it has items; active slots form a prefix, their addresses are
//!    non-zero 160-bit values strictly increasing; inactive slots hold address 0 and amount 0;
//! 8. shares: with `sum S > 0`, `share_c * sum S <= pool * S_c < (share_c + 1) * sum S` (192-bit range
//!    checks on both gaps); with `sum S = 0`, `share_c = 0`. Cap: `cap * 10000 <= pool * bps < (cap + 1) *
//!    10000`; `amount_c = min(share_c, cap)`;
//! 9. `total_rewarded = sum amount_c <= pool` (`pool` and amounts 128-bit);
//! 10. `y = sum_k e_k r^k` over the slots' `[address, amount]` pairs, `r` public.
//!
//! Public inputs in [`PublicInputs::to_field_elements`] order.

use halo2_base::{
    gates::{circuit::builder::BaseCircuitBuilder, GateInstructions, RangeChip, RangeInstructions},
    AssignedValue, Context, QuantumCell,
};

use super::{
    features::{checked_pack, features_leaf},
    gated::GatedPoseidon,
    merkle::{index_constant, leaf_hash, merkle_left_spine},
};
use crate::{
    commitments,
    error::{Error, Result},
    field::{self, Fr},
    statement::{self, EpochInput, Outcome, PublicInputs, RewardEntry},
};

/// Width of the range checks on the share inequalities' gaps (products are below 2^191).
const GAP_BITS: usize = 192;
/// Offset that maps signed 64-bit values into `[0, 2^64)`.
const SIGNED_OFFSET: u128 = 1 << 63;

/// What the prover supplies.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributionWitness {
    /// The epoch's inputs.
    pub input: EpochInput,
    /// Per item position (`max_items` of them), whether it holds a real item: the first `n`.
    pub active: Vec<bool>,
    /// Per item position, the slot of its contributor in the reward list (`max_contributors`, out of range,
    /// for padding positions).
    pub slots: Vec<u64>,
    /// The reward list's slots, `max_contributors` of them: active entries first, then `(0, 0)`.
    pub list: Vec<RewardEntry>,
    /// Per slot, `floor(pool * S_c / sum S)` (0 when `sum S = 0`) before the cap.
    pub shares: Vec<u128>,
    /// `floor(pool * max_share_bps / 10000)`.
    pub cap: u128,
    /// `r`, the challenge the contract derives from the list bytes.
    pub r: Fr,
}

impl AttributionWitness {
    /// The honest witness for `input`, with the reference outcome.
    pub fn honest(input: EpochInput) -> Result<(Self, Outcome)> {
        let o = statement::evaluate(&input)?;
        let c = input.params.circuit.max_contributors as usize;
        let slot_of = |a: &[u8; 20]| {
            o.rewards
                .iter()
                .position(|e| &e.contributor == a)
                .map(|s| s as u64)
        };
        let m = input.params.circuit.max_items as usize;
        let mut slots = input
            .items
            .iter()
            .map(|it| {
                slot_of(&it.contributor)
                    .ok_or_else(|| Error::InvalidStatement("unlisted contributor".into()))
            })
            .collect::<Result<Vec<_>>>()?;
        slots.resize(m, c as u64);
        let active = (0..m).map(|i| i < input.items.len()).collect();
        let mut list = o.rewards.clone();
        list.resize(
            c,
            RewardEntry {
                contributor: [0; 20],
                amount: 0,
            },
        );
        let shares = list
            .iter()
            .map(|e| {
                let s = o.clamped.get(&e.contributor).copied().unwrap_or(0);
                if o.sum_clamped == 0 {
                    0
                } else {
                    statement::mul_div_floor(input.pool, s, o.sum_clamped)
                }
            })
            .collect();
        let cap = statement::mul_div_floor(
            input.pool,
            u128::from(input.params.attribution.max_share_bps),
            10_000,
        );
        Ok((
            Self {
                active,
                slots,
                list,
                shares,
                cap,
                r: o.public.r,
                input,
            },
            o,
        ))
    }
}

fn constant(x: Fr) -> QuantumCell<Fr> {
    QuantumCell::Constant(x)
}

/// Range-checks `a + 2^63` to 64 bits (a signed 64-bit value) and returns the offset cell.
fn signed64(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    a: AssignedValue<Fr>,
) -> AssignedValue<Fr> {
    let z = range
        .gate()
        .add(ctx, a, constant(field::from_u128(SIGNED_OFFSET)));
    range.range_check(ctx, z, 64);
    z
}

/// Assigns the whole statement into `builder`'s first context and returns the public-input cells in
/// statement order (also pushed to instance column 0) with the Poseidon permutations it requested from the
/// dedicated gate ([`super::gated::GatedCircuit`] lays them out). The witness shape must match the parameters:
/// `list`/`shares` of `max_contributors` entries, and `active`/`slots` of `max_items` entries.
pub fn assign(
    builder: &mut BaseCircuitBuilder<Fr>,
    w: &AttributionWitness,
) -> Result<([AssignedValue<Fr>; PublicInputs::LEN], GatedPoseidon)> {
    w.input.validate()?;
    assign_unchecked(builder, w)
}

/// [`assign`] without the input's validation: what a malicious prover can do, so the tests use it to present
/// witnesses the statement's rules refuse.
fn assign_unchecked(
    builder: &mut BaseCircuitBuilder<Fr>,
    w: &AttributionWitness,
) -> Result<([AssignedValue<Fr>; PublicInputs::LEN], GatedPoseidon)> {
    let input = &w.input;
    let p = &input.params;
    let c = p.circuit.max_contributors as usize;
    let m = p.circuit.max_items as usize;
    let (fb, qb) = (p.fixed_point.feature_bits, p.fixed_point.query_bits);
    if w.slots.len() != m || w.active.len() != m || w.list.len() != c || w.shares.len() != c {
        return Err(Error::InvalidStatement(format!(
            "witness shape: {} slots and {} flags for {m} item positions, {} list entries and {} shares for \
             {c} slots",
            w.slots.len(),
            w.active.len(),
            w.list.len(),
            w.shares.len()
        )));
    }
    let range = builder.range_chip();
    let gate = range.gate().clone();
    let ctx = builder.main(0);
    let mut hasher = GatedPoseidon::default();

    // Context and parameters.
    let chain_id = ctx.load_witness(Fr::from(input.chain_id));
    range.range_check(ctx, chain_id, 64);
    let settlement = ctx.load_witness(field::from_address(&input.settlement));
    range.range_check(ctx, settlement, 160);
    let epoch = ctx.load_witness(Fr::from(input.epoch));
    range.range_check(ctx, epoch, 64);
    let encoding = p.to_field_elements();
    // Value parameters (indices 3, 6, 7, 8 of the encoding) are witnesses; the rest fix the circuit's shape.
    let mut params_cells = Vec::with_capacity(encoding.len());
    for (i, v) in encoding.iter().enumerate() {
        params_cells.push(if matches!(i, 3 | 6 | 7 | 8) {
            ctx.load_witness(*v)
        } else {
            ctx.load_constant(*v)
        });
    }
    // Governance keeps min_score >= 0 (params validation); the circuit enforces it, so `T_c < min_score`
    // covers `T_c < 0` and one comparison is the whole clamp.
    let min_score = params_cells[7];
    range.range_check(ctx, min_score, 63);
    let min_offset = gate.add(ctx, min_score, constant(field::from_u128(SIGNED_OFFSET)));
    let bps = params_cells[8];
    range.check_less_than_safe(ctx, bps, 10_001);
    let params_hash = hasher.hash(ctx, &gate, &params_cells);

    // Items: Datanet leaves, feature leaves, scores.
    let query_values: Vec<Fr> = input.query.iter().map(|&v| field::from_i64(v)).collect();
    let query = ctx.assign_witnesses(query_values);
    let mut query_inputs = vec![
        ctx.load_constant(commitments::query_domain()),
        ctx.load_witness(field::from_i64(i64::from(input.query_scale_log2))),
    ];
    query_inputs.extend(checked_pack(ctx, &range, qb, &query));
    let query_commitment = hasher.hash(ctx, &gate, &query_inputs);

    let list_addresses: Vec<AssignedValue<Fr>> = w
        .list
        .iter()
        .map(|e| ctx.load_witness(field::from_address(&e.contributor)))
        .collect();
    let mut data_leaves = Vec::with_capacity(m);
    let mut feature_leaves = Vec::with_capacity(m);
    let mut indicators = Vec::with_capacity(m);
    let mut scores = Vec::with_capacity(m);
    let mut flags: Vec<AssignedValue<Fr>> = Vec::with_capacity(m);
    let zero_item = statement::StatementItem {
        contributor: [0; 20],
        content_hash: Fr::zero(),
        features: vec![0; p.attribution.feature_dim as usize],
    };
    for i in 0..m {
        let it = input.items.get(i).unwrap_or(&zero_item);
        // The real items are a prefix: a_0 = 1, a_i boolean, a_i <= a_(i-1).
        let a = ctx.load_witness(Fr::from(u64::from(w.active[i])));
        gate.assert_bit(ctx, a);
        match flags.last() {
            None => gate.assert_is_const(ctx, &a, &Fr::from(1u64)),
            Some(&prev) => {
                let rise = gate.mul_not(ctx, prev, a);
                gate.assert_is_const(ctx, &rise, &Fr::from(0u64));
            }
        }
        flags.push(a);
        let contributor = ctx.load_witness(field::from_address(&it.contributor));
        let content_hash = ctx.load_witness(it.content_hash);
        let idx = index_constant(ctx, i as u64);
        let leaf = leaf_hash(ctx, &gate, &mut hasher, contributor, content_hash, idx);
        data_leaves.push(gate.mul(ctx, leaf, a));
        let phi = ctx.assign_witnesses(it.features.iter().map(|&v| field::from_i64(v)));
        let fleaf = features_leaf(ctx, &range, &mut hasher, fb, idx, &phi);
        feature_leaves.push(gate.mul(ctx, fleaf, a));
        scores.push(gate.inner_product(ctx, phi, query.iter().map(|q| QuantumCell::Existing(*q))));
        // The item's slot: an indicator with exactly a_i ones (one-hot for a real item, none for padding)
        // selecting its contributor's address (so a padding position's contributor is 0).
        let slot = ctx.load_witness(Fr::from(w.slots[i]));
        let ind = gate.idx_to_indicator(ctx, slot, c);
        let ones = gate.sum(ctx, ind.iter().copied());
        ctx.constrain_equal(&ones, &a);
        let selected =
            gate.select_by_indicator(ctx, list_addresses.iter().copied(), ind.iter().copied());
        ctx.constrain_equal(&selected, &contributor);
        indicators.push(ind);
    }
    // The sealed tree has depth max(1, ceil(log2 n)): level h is chosen when a_(2^(h-1)) = 1 and
    // a_(2^h) = 0 (level 1 when a_2 = 0), flags past the last position counting as 0.
    let flag = |j: usize| flags.get(j).copied();
    let depth = crate::merkle::depth_for(m)? as usize;
    let mut level_choice = Vec::with_capacity(depth);
    for h in 1..=depth {
        let below = if h == 1 { None } else { flag(1 << (h - 1)) };
        let above = flag(1 << h);
        let chosen = match (below, above) {
            (None, None) => ctx.load_constant(Fr::from(1u64)),
            (None, Some(up)) => gate.not(ctx, up),
            (Some(b), None) => b,
            (Some(b), Some(up)) => gate.mul_not(ctx, up, b),
        };
        level_choice.push(chosen);
    }
    let data_spine = merkle_left_spine(ctx, &gate, &mut hasher, &data_leaves)?;
    let datanet_root = gate.inner_product(
        ctx,
        data_spine[1..].iter().copied(),
        level_choice.iter().map(|c| QuantumCell::Existing(*c)),
    );
    let feature_spine = merkle_left_spine(ctx, &gate, &mut hasher, &feature_leaves)?;
    let features_root = gate.inner_product(
        ctx,
        feature_spine[1..].iter().copied(),
        level_choice.iter().map(|c| QuantumCell::Existing(*c)),
    );

    // Per slot: T_c, S_c, activity.
    let mut clamped = Vec::with_capacity(c);
    let mut active = Vec::with_capacity(c);
    for s in 0..c {
        let t = gate.inner_product(
            ctx,
            scores.iter().copied(),
            indicators.iter().map(|ind| QuantumCell::Existing(ind[s])),
        );
        let count = gate.sum(ctx, indicators.iter().map(|ind| ind[s]));
        let empty = gate.is_zero(ctx, count);
        active.push(gate.not(ctx, empty));
        let t_offset = signed64(ctx, &range, t);
        let below_min = range.is_less_than(ctx, t_offset, min_offset, 64);
        let keep = gate.not(ctx, below_min);
        clamped.push(gate.mul(ctx, t, keep));
    }
    let sum_clamped = gate.sum(ctx, clamped.iter().copied());
    let sum_is_zero = gate.is_zero(ctx, sum_clamped);

    // List shape.
    for s in 0..c {
        let addr = list_addresses[s];
        range.range_check(ctx, addr, 160);
        let inactive = gate.not(ctx, active[s]);
        let masked = gate.mul(ctx, addr, inactive);
        gate.assert_is_const(ctx, &masked, &Fr::from(0u64));
        let addr_zero = gate.is_zero(ctx, addr);
        let bad = gate.and(ctx, active[s], addr_zero);
        gate.assert_is_const(ctx, &bad, &Fr::from(0u64));
        if s + 1 < c {
            // Active slots form a prefix: active[s+1] implies active[s].
            let gap = gate.mul_not(ctx, active[s], active[s + 1]);
            gate.assert_is_const(ctx, &gap, &Fr::from(0u64));
            // Strictly increasing addresses between consecutive active slots.
            let less = range.is_less_than(ctx, addr, list_addresses[s + 1], 160);
            let violation = gate.mul_not(ctx, less, active[s + 1]);
            gate.assert_is_const(ctx, &violation, &Fr::from(0u64));
        }
    }

    // Pool, cap, shares and amounts.
    let pool = ctx.load_witness(field::from_u128(input.pool));
    range.range_check(ctx, pool, 128);
    let cap = ctx.load_witness(field::from_u128(w.cap));
    range.range_check(ctx, cap, 128);
    let pool_bps = gate.mul(ctx, pool, bps);
    let ten_k = Fr::from(10_000u64);
    let cap_lo = gate.mul(ctx, cap, constant(ten_k));
    let gap_lo = gate.sub(ctx, pool_bps, cap_lo);
    range.range_check(ctx, gap_lo, GAP_BITS);
    let cap_hi = gate.add(ctx, cap_lo, constant(ten_k));
    let gap_hi = gate.sub(ctx, cap_hi, pool_bps);
    let gap_hi = gate.sub(ctx, gap_hi, constant(Fr::from(1u64)));
    range.range_check(ctx, gap_hi, GAP_BITS);
    let not_zero = gate.not(ctx, sum_is_zero);
    let mut amounts = Vec::with_capacity(c);
    for ((&share_value, entry), &s_c) in w.shares.iter().zip(&w.list).zip(&clamped) {
        let share = ctx.load_witness(field::from_u128(share_value));
        range.range_check(ctx, share, 128);
        // sum S = 0: the share is 0.
        let forced = gate.mul(ctx, share, sum_is_zero);
        gate.assert_is_const(ctx, &forced, &Fr::from(0u64));
        // sum S > 0: share * sum S <= pool * S_c < (share + 1) * sum S; gaps zeroed when sum S = 0.
        let mid = gate.mul(ctx, pool, s_c);
        let lo = gate.mul(ctx, share, sum_clamped);
        let g1 = gate.sub(ctx, mid, lo);
        let g1 = gate.mul(ctx, g1, not_zero);
        range.range_check(ctx, g1, GAP_BITS);
        let hi = gate.add(ctx, lo, sum_clamped);
        let g2 = gate.sub(ctx, hi, mid);
        let g2 = gate.sub(ctx, g2, constant(Fr::from(1u64)));
        let g2 = gate.mul(ctx, g2, not_zero);
        range.range_check(ctx, g2, GAP_BITS);
        let capped = range.is_less_than(ctx, cap, share, 128);
        let amount = gate.select(ctx, cap, share, capped);
        // The claimed list amount is the computed one.
        let claimed = ctx.load_witness(field::from_u128(entry.amount));
        ctx.constrain_equal(&claimed, &amount);
        amounts.push(amount);
    }
    let total = gate.sum(ctx, amounts.iter().copied());
    range.range_check(ctx, total, 128);
    let headroom = gate.sub(ctx, pool, total);
    range.range_check(ctx, headroom, 128);

    // y = sum_k e_k r^k, Horner from the last element.
    let r = ctx.load_witness(w.r);
    let mut y = ctx.load_constant(Fr::from(0u64));
    for s in (0..c).rev() {
        y = gate.mul_add(ctx, y, r, amounts[s]);
        y = gate.mul_add(ctx, y, r, list_addresses[s]);
    }

    let model_commitment = ctx.load_witness(input.model_commitment);
    let public = [
        chain_id,
        settlement,
        epoch,
        params_hash,
        datanet_root,
        model_commitment,
        features_root,
        query_commitment,
        pool,
        total,
        r,
        y,
    ];
    builder.assigned_instances[0].extend(public);
    Ok((public, hasher))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::halo2::gated::{GatedCircuit, GatedParams};
    use crate::{
        params::GovernanceParams,
        statement::{list_challenge, list_evaluation, StatementItem},
    };
    use halo2_base::halo2_proofs::dev::MockProver;

    const K: u32 = 15;

    fn addr(b: u8) -> [u8; 20] {
        let mut a = [0u8; 20];
        a[0] = b;
        a[19] = 1;
        a
    }

    /// Six items of three contributors (3 positive, 1 negative overall, 2 mixed), dimension 4, 4 slots.
    fn epoch() -> EpochInput {
        let mut params = GovernanceParams::default();
        params.attribution.feature_dim = 4;
        params.circuit.max_contributors = 4;
        params.circuit.max_items = 16;
        params.circuit.shard_items = 8;
        let items = [
            (3u8, [100i64, -20, 7, 0]),
            (1, [-50, 30, 2, 9]),
            (2, [-300, -10, -1, -32768]),
            (3, [12, 12, 12, 12]),
            (1, [80, -5, 0, 100]),
            (3, [32767, 1, -1, 0]),
        ];
        EpochInput {
            chain_id: 31337,
            settlement: [0xab; 20],
            epoch: 3,
            params,
            items: items
                .iter()
                .enumerate()
                .map(|(i, (c, f))| StatementItem {
                    contributor: addr(*c),
                    content_hash: Fr::from(1000 + i as u64),
                    features: f.to_vec(),
                })
                .collect(),
            model_commitment: Fr::from(77u64),
            query_scale_log2: 9,
            query: vec![3, -2, 5, 1],
            pool: 1_000_000_007,
        }
    }

    /// Public inputs the way an attacker would present them for `w`: the context and commitments of the
    /// honest epoch `honest`, the list-derived values (`total`, `r`, `y`) of `w`'s own list.
    fn public_for(honest: &PublicInputs, w: &AttributionWitness) -> Vec<Fr> {
        let active: Vec<RewardEntry> = w
            .list
            .iter()
            .copied()
            .filter(|e| e.contributor != [0; 20])
            .collect();
        let r = list_challenge(&active);
        let mut p = *honest;
        p.total_rewarded = w.list.iter().map(|e| e.amount).sum();
        p.r = r;
        p.y = list_evaluation(&active, r);
        p.to_field_elements().to_vec()
    }

    fn run(w: &AttributionWitness, public: Vec<Fr>) -> bool {
        let mut builder = BaseCircuitBuilder::<Fr>::new(false)
            .use_k(K as usize)
            .use_lookup_bits(10)
            .use_instance_columns(1);
        let (_, poseidon) = assign_unchecked(&mut builder, w).unwrap();
        let base = builder.calculate_params(Some(9));
        let circuit = GatedCircuit {
            params: GatedParams {
                base,
                permutations: poseidon.requests.len(),
            },
            builder,
            poseidon,
        };
        MockProver::run(K, &circuit, vec![public])
            .unwrap()
            .verify()
            .is_ok()
    }

    /// Runs `w` with its list-consistent public inputs, and with its list's `r` recomputed.
    fn accepts(w: &AttributionWitness, honest: &PublicInputs) -> bool {
        let mut w = w.clone();
        let active: Vec<RewardEntry> = w
            .list
            .iter()
            .copied()
            .filter(|e| e.contributor != [0; 20])
            .collect();
        w.r = list_challenge(&active);
        let public = public_for(honest, &w);
        run(&w, public)
    }

    #[test]
    fn honest_epoch_proves_and_matches_the_reference() {
        let (w, o) = AttributionWitness::honest(epoch()).unwrap();
        // The reference: contributor 2 is negative and clamped; the others share the pool.
        assert_eq!(o.clamped[&addr(2)], 0);
        assert!(o.clamped[&addr(1)] > 0 && o.clamped[&addr(3)] > 0);
        let mut builder = BaseCircuitBuilder::<Fr>::new(false)
            .use_k(K as usize)
            .use_lookup_bits(10)
            .use_instance_columns(1);
        let (cells, _) = assign(&mut builder, &w).unwrap();
        let values: Vec<Fr> = cells.iter().map(|c| *c.value()).collect();
        assert_eq!(values, o.public.to_field_elements().to_vec());
        assert!(run(&w, o.public.to_field_elements().to_vec()));
        // min_score and the cap take effect too.
        let mut e = epoch();
        e.params.attribution.max_share_bps = 6000;
        let (w2, o2) = AttributionWitness::honest(e).unwrap();
        assert!(o2.rewards.iter().any(|r| r.amount == w2.cap));
        assert!(run(&w2, o2.public.to_field_elements().to_vec()));
    }

    #[test]
    fn wrong_public_inputs_are_rejected() {
        let (w, o) = AttributionWitness::honest(epoch()).unwrap();
        let honest = o.public.to_field_elements().to_vec();
        for i in 0..PublicInputs::LEN {
            let mut p = honest.clone();
            p[i] += Fr::from(1u64);
            assert!(!run(&w, p), "public input {i} changed and accepted");
        }
    }

    #[test]
    fn tampered_witnesses_are_rejected() {
        let (w, o) = AttributionWitness::honest(epoch()).unwrap();
        let h = o.public;
        assert!(accepts(&w, &h), "the honest witness through the same path");
        let mut cases: Vec<(&str, AttributionWitness)> = Vec::new();
        let mut t = w.clone();
        t.input.items[4].features[1] += 1;
        cases.push(("wrong feature", t));
        let mut t = w.clone();
        t.input.query[2] += 1;
        cases.push(("wrong query (scores)", t));
        let mut t = w.clone();
        t.slots[2] = 0;
        cases.push(("item moved to another contributor", t));
        let mut t = w.clone();
        t.slots[2] = 7;
        cases.push(("slot out of range", t));
        let mut t = w.clone();
        t.input.items[1].contributor = addr(3);
        t.slots[1] = t.slots[0];
        cases.push(("item's contributor changed", t));
        // Slots 0 and 2 hold the positive contributors (1 and 3); +1 breaks the lower inequality, -1 the
        // upper one.
        for s in [0, 2] {
            for (name, delta) in [("reward one too high", 1i128), ("reward one too low", -1)] {
                let mut t = w.clone();
                t.shares[s] = (t.shares[s] as i128 + delta) as u128;
                t.list[s].amount = t.shares[s];
                cases.push((name, t));
            }
        }
        // Clamp skipped: contributor 2's negative total is counted, giving the others more.
        let mut t = w.clone();
        let neg = o.totals[&addr(2)];
        assert!(neg < 0);
        let pos: Vec<u128> = t
            .list
            .iter()
            .map(|e| o.clamped.get(&e.contributor).copied().unwrap_or(0))
            .collect();
        let skewed_sum = (o.sum_clamped as i128 + neg) as u128;
        for (s, e) in t.list.iter_mut().enumerate() {
            if pos[s] > 0 {
                e.amount = statement::mul_div_floor(w.input.pool, pos[s], skewed_sum).min(w.cap);
                t.shares[s] = e.amount;
            }
        }
        cases.push(("clamp skipped", t));
        let mut t = w.clone();
        t.list[0].amount += 1;
        cases.push(("list amount changed", t));
        let mut t = w.clone();
        t.list[1].contributor[5] ^= 1;
        cases.push(("list address changed", t));
        let mut t = w.clone();
        t.list.swap(0, 1);
        t.shares.swap(0, 1);
        for s in t.slots.iter_mut() {
            *s = match *s {
                0 => 1,
                1 => 0,
                x => x,
            };
        }
        cases.push(("list reordered", t));
        // A duplicate of the last entry in the unused slot (amount 0, so the share rules hold): only the
        // rule that inactive slots are empty refuses it.
        let mut t = w.clone();
        t.list[3] = RewardEntry {
            contributor: t.list[2].contributor,
            amount: 0,
        };
        cases.push(("list entry duplicated", t));
        // The same with a larger address: not a duplicate, still a phantom entry.
        let mut t = w.clone();
        t.list[3] = RewardEntry {
            contributor: [0xff; 20],
            amount: 0,
        };
        cases.push(("phantom list entry", t));
        let mut t = w.clone();
        t.list[2] = RewardEntry {
            contributor: [0; 20],
            amount: 0,
        };
        t.shares[2] = 0;
        cases.push(("list entry omitted", t));
        let mut t = w.clone();
        t.input.params.attribution.min_score = 5;
        cases.push(("wrong params", t));
        // min_score ignored: with min_score above contributor 1's total, the honest epoch pays contributor 3
        // everything; an attacker keeps paying contributor 1 (the honest list of min_score 0).
        let mut e = epoch();
        e.params.attribution.min_score = i64::try_from(o.totals[&addr(1)]).unwrap() + 1;
        let (w_min, o_min) = AttributionWitness::honest(e.clone()).unwrap();
        assert_eq!(o_min.clamped[&addr(1)], 0);
        assert!(accepts(&w_min, &o_min.public));
        let mut t = w.clone();
        t.input = e;
        let h_min = o_min.public;
        assert!(!accepts(&t, &h_min), "min_score ignored: accepted");
        let mut t = w.clone();
        t.cap += 1;
        cases.push(("wrong cap", t));
        let mut t = w.clone();
        for (e, s) in t.list.iter_mut().zip(t.shares.iter_mut()) {
            if e.contributor != [0; 20] {
                *s = w.input.pool;
                e.amount = w.input.pool;
            }
        }
        cases.push(("total above pool", t));
        // A hole in the list (slot 1 empty, contributors 2 and 3 in slots 2 and 3), presented with the `r`
        // and `y` of the list bytes including the empty entry: only the prefix rule refuses it.
        let mut t = w.clone();
        t.list.insert(
            1,
            RewardEntry {
                contributor: [0; 20],
                amount: 0,
            },
        );
        t.list.pop();
        t.shares.insert(1, 0);
        t.shares.pop();
        for s in t.slots.iter_mut() {
            if *s >= 1 {
                *s += 1;
            }
        }
        t.r = list_challenge(&t.list);
        let mut p = h;
        p.r = t.r;
        p.y = list_evaluation(&t.list, t.r);
        assert!(
            !run(&t, p.to_field_elements().to_vec()),
            "hole in the list: accepted"
        );
        for (name, t) in cases {
            assert!(!accepts(&t, &h), "{name}: accepted");
        }
    }

    #[test]
    fn hidden_items_past_the_sealed_tree_are_rejected() {
        // The honest epoch has 6 items: its sealed trees cover positions 0..8; the circuit has 16.
        let (w, o) = AttributionWitness::honest(epoch()).unwrap();
        let h = o.public;
        assert!(w.active[5] && !w.active[6]);
        // The attacker's epoch: the same 6 items, zero-score filler of contributor 1 at positions 6..9, and
        // at position 9 an item that gives contributor 1 a large score. The filler is presented as padding
        // (no slot, contributor 0, leaf 0), so the trees up to position 8 are the sealed ones and only the
        // prefix rule on the flags stands between the hidden item and the rewards.
        let mut e = epoch();
        for i in 6..9 {
            e.items.push(StatementItem {
                contributor: addr(1),
                content_hash: Fr::from(5000 + i as u64),
                features: vec![0; 4],
            });
        }
        e.items.push(StatementItem {
            contributor: addr(1),
            content_hash: Fr::from(9999u64),
            features: vec![30_000, -30_000, 30_000, 30_000],
        });
        let (mut t, o_att) = AttributionWitness::honest(e).unwrap();
        assert!(o_att.clamped[&addr(1)] > o.clamped[&addr(1)]);
        for i in 6..9 {
            t.active[i] = false;
            t.slots[i] = 4;
            t.input.items[i].contributor = [0; 20];
        }
        assert!(t.active[9]);
        assert!(!accepts(&t, &h), "an item past the sealed tree was counted");
        // Dropping a real item (presented as padding) changes the roots.
        let mut t = w.clone();
        t.active[5] = false;
        t.slots[5] = 4;
        t.input.items[5].contributor = [0; 20];
        assert!(!accepts(&t, &h), "a real item dropped");
    }

    /// A random small epoch: 1..=8 items of up to `contributors` contributors, dimension 3, 4 slots.
    fn random_epoch(
        seed: u64,
        contributors: u8,
        pool: u128,
        bps: u32,
        min_score: i64,
    ) -> EpochInput {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
        let mut params = GovernanceParams::default();
        params.attribution.feature_dim = 3;
        params.attribution.max_share_bps = bps;
        params.attribution.min_score = min_score;
        params.circuit.max_contributors = 4;
        params.circuit.max_items = 16;
        params.circuit.shard_items = 8;
        let n = rng.gen_range(1..=8);
        let v = |rng: &mut rand_chacha::ChaCha20Rng| rng.gen_range(-32_768i64..32_768);
        EpochInput {
            chain_id: rng.gen(),
            settlement: rng.gen(),
            epoch: rng.gen(),
            params,
            items: (0..n)
                .map(|i| StatementItem {
                    contributor: addr(rng.gen_range(1..=contributors)),
                    content_hash: Fr::from(rng.gen::<u64>() + i),
                    features: (0..3).map(|_| v(&mut rng)).collect(),
                })
                .collect(),
            model_commitment: Fr::from(rng.gen::<u64>()),
            query_scale_log2: rng.gen_range(-20..20),
            query: (0..3).map(|_| v(&mut rng)).collect(),
            pool,
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(10))]

        /// On random small epochs the circuit's public outputs equal the reference's and the honest witness
        /// satisfies every constraint.
        #[test]
        fn circuit_matches_the_reference_on_random_epochs(
            seed in proptest::prelude::any::<u64>(),
            contributors in 1u8..=4,
            pool in 0u128..(1u128 << 127),
            bps in 1u32..=10_000,
            min_score in 0i64..2_000_000_000,
        ) {
            let (w, o) = AttributionWitness::honest(random_epoch(seed, contributors, pool, bps, min_score)).unwrap();
            let mut builder = BaseCircuitBuilder::<Fr>::new(false)
                .use_k(K as usize)
                .use_lookup_bits(10)
                .use_instance_columns(1);
            let (cells, _) = assign(&mut builder, &w).unwrap();
            let values: Vec<Fr> = cells.iter().map(|c| *c.value()).collect();
            proptest::prop_assert_eq!(&values, &o.public.to_field_elements().to_vec());
            proptest::prop_assert!(run(&w, values));
        }
    }
}
