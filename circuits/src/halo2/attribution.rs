//! The attribution circuit: the statement of DESIGN §4 (version [`crate::statement::STATEMENT_VERSION`]) on halo2-base, over the plain-Rust reference
//! [`crate::statement`].
//!
//! The prover supplies an [`AttributionWitness`]: the epoch's inputs (items, features, query, parameters,
//! pool, context) and its claims: which item positions are real, the list's addresses and amounts, each
//! slot's item count and score total, each contributor's uncapped share and the cap. Everything else is
//! computed in-circuit and constrained.
//!
//! The circuit has `M = max_items` item positions whatever the epoch's item count `n <= M`, so its shape,
//! keys and verifier are fixed by the governance parameters: one verifier per `params_hash` serves every
//! epoch. Position `i` is real when its flag `a_i` is 1; the flags are boolean, `a_0 = 1`, and
//! `a_(i+1) <= a_i` (the real items are a prefix). A padding position's leaves are 0 (the trees' padding
//! leaf) and it counts towards no contributor.
//!
//! 1. `params_hash`: Poseidon over the parameter encoding, shape values (and the statement version, last)
//!    as constants, value parameters (`feature_scale_log2`, `clamp`, `min_score`, `max_share_bps`) as
//!    witnesses bound by the hash;
//! 2. `datanet_root`: a leaf [`crate::merkle::leaf_hash`]`(contributor, content_hash, i)` per real item, 0 per padding
//!    position; the tree over the `M` positions, and the root is the leftmost node at level
//!    `max(1, ceil(log2 n))`, chosen by the flags at positions `2^(h-1)` and `2^h` (the tree over the `n`
//!    real leaves, as sealed);
//! 3. `features_root` (the same padding and level choice) and `query_commitment`, with signed range checks
//!    on every feature and query value ([`super::features`]);
//! 4. `score_i = <phi_i, P>`, computed from the offsets `u = phi + 2^(b-1)` that the range checks and the
//!    packing use, as `<u, P> - 2^(b-1) sum P`; no wrap-around since every factor is range-checked and
//!    `|score_i| * N < 2^63` ([`crate::statement::EpochInput::validate`]);
//! 5. per-contributor sums, in O(N + C) cells rather than an indicator per item and slot: the prover claims
//!    per slot `c` an address `A_c`, an item count `m_c` and a total `T_c` (signed 64-bit). A challenge
//!    `tau` is Poseidon over a domain tag, the computed `datanet_root`, `features_root` and
//!    `query_commitment` (which fix every real item's contributor and score, and the flags) and every
//!    slot's `(A_c, m_c, T_c)` ([`slot_challenge`]). With `d_i = a_i d'_i`, `d_i (tau - contributor_i) =
//!    a_i` per position (the mask makes a padding position's `d_i` 0: its contributor cell is bound by
//!    nothing and could be `tau`) and `e_c (tau - A_c) = 1` per slot, the circuit checks `sum_i d_i = sum_c m_c e_c` and
//!    `sum_i d_i score_i = sum_c T_c e_c`. These are the rational-function identities
//!    `sum_i a_i / (X - contributor_i) = sum_c m_c / (X - A_c)` (and the same with `score_i`, `T_c`) at a
//!    point chosen after everything in them is fixed; if either identity is false, it holds at `tau` with
//!    probability at most `(M + C) / p` per attempt (Schwartz-Zippel, Poseidon as a random oracle). Since
//!    active addresses are distinct (item 7) and inactive slots have `m_c = T_c = 0`, the identities say:
//!    every real item's contributor is a listed address, `m_c` is its item count and `T_c` the sum of its
//!    items' scores (exact integers: both sides are far below `p`). No real item has contributor 0: it
//!    would need an active slot with address 0;
//! 6. `S_c = T_c` if `T_c >= min_score`, else 0 (a 64-bit signed comparison; `min_score` is constrained
//!    to be non-negative, so this also zeroes every negative `T_c`);
//! 7. list shape: a slot is active iff `m_c != 0`; active slots form a prefix, their addresses are
//!    non-zero 160-bit values strictly increasing; inactive slots hold address 0 and `T_c = 0` (so amount
//!    0);
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
    features::{checked_pack, features_leaf, load_packed_offsets},
    gated::{GatedPoseidon, PermutationMemo},
    merkle::{leaf_hash, merkle_left_spine},
};
use crate::{
    commitments,
    error::{Error, Result},
    field::{self, Fr},
    merkle::{depth_for, PADDING_LEAF, TAG_FEATURES, TAG_LEAF, TAG_NODE},
    poseidon::{self, T},
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
    /// The reward list's slots, `max_contributors` of them: active entries first, then `(0, 0)`.
    pub list: Vec<RewardEntry>,
    /// Per slot, `m_c`: the number of items of its contributor (0 for an inactive slot).
    pub counts: Vec<u64>,
    /// Per slot, `T_c`: the unclamped sum of its contributor's item scores (0 for an inactive slot).
    pub totals: Vec<i64>,
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
        let m = input.params.circuit.max_items as usize;
        let active = (0..m).map(|i| i < input.items.len()).collect();
        let mut list = o.rewards.clone();
        list.resize(
            c,
            RewardEntry {
                contributor: [0; 20],
                amount: 0,
            },
        );
        let counts = list
            .iter()
            .map(|e| {
                input
                    .items
                    .iter()
                    .filter(|it| e.contributor != [0; 20] && it.contributor == e.contributor)
                    .count() as u64
            })
            .collect();
        let totals = list
            .iter()
            .map(|e| {
                let t = o.totals.get(&e.contributor).copied().unwrap_or(0);
                i64::try_from(t).map_err(|_| {
                    Error::InvalidStatement(format!("score total {t} exceeds 64 bits"))
                })
            })
            .collect::<Result<Vec<_>>>()?;
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
                list,
                counts,
                totals,
                shares,
                cap,
                r: o.public.r,
                input,
            },
            o,
        ))
    }
}

/// The domain tag of [`slot_challenge`]: the ASCII bytes `zkattr.slots` as an integer.
pub fn slot_domain() -> Fr {
    let tag = b"zkattr.slots";
    let mut b = [0u8; 32];
    b[32 - tag.len()..].copy_from_slice(tag);
    field::from_bytes_be(&b).expect("12 bytes are below the modulus")
}

/// `tau`, the challenge of the per-contributor sums (module documentation, item 5): Poseidon over
/// [`slot_domain`], `datanet_root`, `features_root`, `query_commitment` and, per slot, the address, the item
/// count and the score total (signed, negative as `p - |T|`).
pub fn slot_challenge(
    datanet_root: Fr,
    features_root: Fr,
    query_commitment: Fr,
    list: &[RewardEntry],
    counts: &[u64],
    totals: &[i64],
) -> Fr {
    let mut inputs = vec![slot_domain(), datanet_root, features_root, query_commitment];
    for ((e, &m), &t) in list.iter().zip(counts).zip(totals) {
        inputs.extend([
            field::from_address(&e.contributor),
            Fr::from(m),
            field::from_i64(t),
        ]);
    }
    crate::poseidon::hash(&inputs)
}

/// `1 / x`, or 0 for `x = 0` (the constraint that uses it then fails: `tau` equal to an address).
fn inverse(x: Fr) -> Fr {
    Option::from(ff::Field::invert(&x)).unwrap_or(Fr::zero())
}

/// What a malicious prover may do with the inverses: given `tau`, rewrite the per-position `d'_i` and the
/// per-slot `e_c` before they are assigned.
type InverseHook<'a> = dyn Fn(Fr, &mut [Fr], &mut [Fr]) + 'a;

/// Freedom a malicious prover has beyond an [`AttributionWitness`] (tests only): field values for the
/// contributor cells of some positions (a witness holds addresses) and rewritten inverses.
#[derive(Default)]
struct Tamper<'a> {
    contributor_cells: Vec<(usize, Fr)>,
    inverses: Option<&'a InverseHook<'a>>,
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

/// The permutations of both trees, leaves and inner nodes (all but a few dozen of the circuit's), computed
/// natively and in parallel from the witness before the builder code, which runs on one context, asks for
/// them one at a time ([`PermutationMemo`]). The states are the ones the builder code reaches for an honest
/// witness: each item position's Datanet leaf and feature leaf (zeros past the real items), the leaves
/// masked by the flags, padded to the tree's width with [`PADDING_LEAF`], and each level's nodes.
pub fn predicted_permutations(w: &AttributionWitness) -> PermutationMemo {
    use rayon::prelude::*;
    type Pairs = Vec<([Fr; T], [Fr; T])>;
    let input = &w.input;
    let p = &input.params;
    let m = p.circuit.max_items as usize;
    let fb = p.fixed_point.feature_bits;
    let zero_features = vec![0i64; p.attribution.feature_dim as usize];
    let leaves: Vec<(Fr, Fr, Pairs)> = (0..m)
        .into_par_iter()
        .map(|i| {
            let mut pairs = Vec::with_capacity(8);
            let mut record = |a: &[Fr; T], b: &[Fr; T]| pairs.push((*a, *b));
            let (contributor, content_hash, features) = match input.items.get(i) {
                Some(it) => (
                    field::from_address(&it.contributor),
                    it.content_hash,
                    &it.features[..],
                ),
                None => (Fr::zero(), Fr::zero(), &zero_features[..]),
            };
            let leaf = poseidon::compress_recording(
                TAG_LEAF,
                i as u64,
                &[contributor, content_hash],
                &mut record,
            );
            let feature_leaf = match commitments::pack(fb, features) {
                Ok(packed) if !packed.is_empty() => {
                    poseidon::compress_recording(TAG_FEATURES, i as u64, &packed, &mut record)
                }
                _ => Fr::zero(), // the builder code refuses these; nothing to predict
            };
            let active = w.active.get(i).copied().unwrap_or(false);
            let mask = |x: Fr| if active { x } else { Fr::zero() };
            (mask(leaf), mask(feature_leaf), pairs)
        })
        .collect();
    let tree = |leaves: Vec<Fr>| -> Pairs {
        let Ok(depth) = depth_for(leaves.len()) else {
            return vec![];
        };
        let mut level = leaves;
        level.resize(1 << depth, PADDING_LEAF);
        let mut pairs = Vec::with_capacity(level.len());
        while level.len() > 1 {
            let (next, level_pairs): (Vec<Fr>, Vec<Pairs>) = level
                .par_chunks(2)
                .map(|pair| {
                    let mut p = Vec::with_capacity(1);
                    let node =
                        poseidon::compress_recording(TAG_NODE, 0, pair, |a, b| p.push((*a, *b)));
                    (node, p)
                })
                .unzip();
            pairs.extend(level_pairs.into_iter().flatten());
            level = next;
        }
        pairs
    };
    let data = tree(leaves.iter().map(|l| l.0).collect());
    let features = tree(leaves.iter().map(|l| l.1).collect());
    PermutationMemo::new(
        leaves
            .into_iter()
            .flat_map(|l| l.2)
            .chain(data)
            .chain(features),
    )
}

/// Assigns the whole statement into `builder`'s first context and returns the public-input cells in
/// statement order (also pushed to instance column 0) with the Poseidon permutations it requested from the
/// dedicated gate ([`super::gated::GatedCircuit`] lays them out). The witness shape must match the parameters:
/// `list`, `counts`, `totals` and `shares` of `max_contributors` entries, `active` of `max_items`.
pub fn assign(
    builder: &mut BaseCircuitBuilder<Fr>,
    w: &AttributionWitness,
) -> Result<([AssignedValue<Fr>; PublicInputs::LEN], GatedPoseidon)> {
    w.input.validate()?;
    assign_unchecked(builder, w, &Tamper::default())
}

/// [`assign`] without the input's validation: what a malicious prover can do, so the tests use it to present
/// witnesses the statement's rules refuse.
fn assign_unchecked(
    builder: &mut BaseCircuitBuilder<Fr>,
    w: &AttributionWitness,
    tamper: &Tamper<'_>,
) -> Result<([AssignedValue<Fr>; PublicInputs::LEN], GatedPoseidon)> {
    let input = &w.input;
    let p = &input.params;
    let c = p.circuit.max_contributors as usize;
    let m = p.circuit.max_items as usize;
    let (fb, qb) = (p.fixed_point.feature_bits, p.fixed_point.query_bits);
    if w.active.len() != m
        || [w.list.len(), w.counts.len(), w.totals.len(), w.shares.len()] != [c; 4]
    {
        return Err(Error::InvalidStatement(format!(
            "witness shape: {} flags for {m} item positions; {} list entries, {} counts, {} totals and {} \
             shares for {c} slots",
            w.active.len(),
            w.list.len(),
            w.counts.len(),
            w.totals.len(),
            w.shares.len()
        )));
    }
    let range = builder.range_chip();
    let gate = range.gate().clone();
    let ctx = builder.main(0);
    let mut hasher = GatedPoseidon::with_memo(predicted_permutations(w));

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
    // score_i = <u_i, P> - 2^(fb-1) sum P, with u_i the range-checked feature offsets.
    let query_sum = gate.sum(ctx, query.iter().copied());
    let feature_half = field::from_u128(1u128 << (fb - 1));

    let list_addresses: Vec<AssignedValue<Fr>> = w
        .list
        .iter()
        .map(|e| ctx.load_witness(field::from_address(&e.contributor)))
        .collect();
    let mut data_leaves = Vec::with_capacity(m);
    let mut feature_leaves = Vec::with_capacity(m);
    let mut contributors = Vec::with_capacity(m);
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
        let contributor_value = tamper
            .contributor_cells
            .iter()
            .find(|(j, _)| *j == i)
            .map_or_else(|| field::from_address(&it.contributor), |(_, v)| *v);
        let contributor = ctx.load_witness(contributor_value);
        let content_hash = ctx.load_witness(it.content_hash);
        let leaf = leaf_hash(ctx, &gate, &mut hasher, contributor, content_hash, i as u64);
        data_leaves.push(gate.mul(ctx, leaf, a));
        let phi: Vec<Fr> = it.features.iter().map(|&v| field::from_i64(v)).collect();
        let (u, packed) = load_packed_offsets(ctx, &range, fb, &phi);
        let fleaf = features_leaf(ctx, &gate, &mut hasher, i as u64, &packed);
        feature_leaves.push(gate.mul(ctx, fleaf, a));
        let uq = gate.inner_product(ctx, u, query.iter().map(|q| QuantumCell::Existing(*q)));
        scores.push(gate.sub_mul(ctx, uq, query_sum, constant(feature_half)));
        contributors.push(contributor);
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

    // Per-contributor sums (module documentation, item 5): the claimed counts and totals, the challenge,
    // and the two identities.
    let counts: Vec<AssignedValue<Fr>> = w
        .counts
        .iter()
        .map(|&n| ctx.load_witness(Fr::from(n)))
        .collect();
    let totals: Vec<AssignedValue<Fr>> = w
        .totals
        .iter()
        .map(|&t| ctx.load_witness(field::from_i64(t)))
        .collect();
    let mut challenge_inputs = vec![
        ctx.load_constant(slot_domain()),
        datanet_root,
        features_root,
        query_commitment,
    ];
    for s in 0..c {
        challenge_inputs.extend([list_addresses[s], counts[s], totals[s]]);
    }
    let tau = hasher.hash(ctx, &gate, &challenge_inputs);
    let tau_value = *tau.value();
    let mut item_inverses: Vec<Fr> = (0..m)
        .map(|i| *flags[i].value() * inverse(tau_value - contributors[i].value()))
        .collect();
    let mut slot_inverses: Vec<Fr> = list_addresses
        .iter()
        .map(|a| inverse(tau_value - a.value()))
        .collect();
    if let Some(hook) = tamper.inverses {
        hook(tau_value, &mut item_inverses, &mut slot_inverses);
    }
    // d_i = a_i d'_i and d_i (tau - contributor_i) = a_i, as d_i contributor_i + a_i = d_i tau. The mask
    // matters: nothing binds a padding position's contributor cell (its leaf is multiplied by 0), so with
    // contributor_i = tau an unmasked d_i would be free and could absorb any false claim.
    let mut ds = Vec::with_capacity(m);
    for i in 0..m {
        let raw = ctx.load_witness(item_inverses[i]);
        let d = gate.mul(ctx, raw, flags[i]);
        let lhs = gate.mul_add(ctx, d, contributors[i], flags[i]);
        let rhs = gate.mul(ctx, d, tau);
        ctx.constrain_equal(&lhs, &rhs);
        ds.push(d);
    }
    // e_c (tau - A_c) = 1.
    let mut es = Vec::with_capacity(c);
    for s in 0..c {
        let e = ctx.load_witness(slot_inverses[s]);
        let lhs = gate.mul_add(ctx, e, list_addresses[s], constant(Fr::from(1u64)));
        let rhs = gate.mul(ctx, e, tau);
        ctx.constrain_equal(&lhs, &rhs);
        es.push(e);
    }
    let items_count = gate.sum(ctx, ds.iter().copied());
    let slots_count = gate.inner_product(
        ctx,
        counts.iter().copied(),
        es.iter().map(|e| QuantumCell::Existing(*e)),
    );
    ctx.constrain_equal(&items_count, &slots_count);
    let items_total = gate.inner_product(
        ctx,
        ds.iter().copied(),
        scores.iter().map(|x| QuantumCell::Existing(*x)),
    );
    let slots_total = gate.inner_product(
        ctx,
        totals.iter().copied(),
        es.iter().map(|e| QuantumCell::Existing(*e)),
    );
    ctx.constrain_equal(&items_total, &slots_total);

    // Per slot: activity, S_c.
    let mut clamped = Vec::with_capacity(c);
    let mut active = Vec::with_capacity(c);
    for s in 0..c {
        let t = totals[s];
        let empty = gate.is_zero(ctx, counts[s]);
        active.push(gate.not(ctx, empty));
        // An inactive slot's total is 0.
        let hidden = gate.mul(ctx, t, empty);
        gate.assert_is_const(ctx, &hidden, &Fr::from(0u64));
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
    hasher.drop_memo();
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

    /// The list as the contract receives it: the active (non-zero address) slots' entries.
    fn listed(w: &AttributionWitness) -> Vec<RewardEntry> {
        w.list
            .iter()
            .copied()
            .filter(|e| e.contributor != [0; 20])
            .collect()
    }

    /// Public inputs the way an attacker would present them for `w`: the context and commitments of the
    /// honest epoch `honest`, the list-derived values (`total`, `r`, `y`) of `w`'s own list.
    fn public_for(honest: &PublicInputs, w: &AttributionWitness) -> Vec<Fr> {
        let active = listed(w);
        let r = list_challenge(&active);
        let mut p = *honest;
        p.total_rewarded = w.list.iter().map(|e| e.amount).sum();
        p.r = r;
        p.y = list_evaluation(&active, r);
        p.to_field_elements().to_vec()
    }

    fn run(w: &AttributionWitness, public: Vec<Fr>) -> bool {
        run_with(w, public, &Tamper::default())
    }

    fn run_with(w: &AttributionWitness, public: Vec<Fr>, tamper: &Tamper<'_>) -> bool {
        let mut builder = BaseCircuitBuilder::<Fr>::new(false)
            .use_k(K as usize)
            .use_lookup_bits(10)
            .use_instance_columns(1);
        let (_, poseidon) = assign_unchecked(&mut builder, w, tamper).unwrap();
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
        accepts_with(w, honest, &Tamper::default())
    }

    fn accepts_with(w: &AttributionWitness, honest: &PublicInputs, tamper: &Tamper<'_>) -> bool {
        let mut w = w.clone();
        w.r = list_challenge(&listed(&w));
        let public = public_for(honest, &w);
        run_with(&w, public, tamper)
    }

    fn with_inverses<'a>(hook: &'a InverseHook<'a>) -> Tamper<'a> {
        Tamper {
            inverses: Some(hook),
            ..Tamper::default()
        }
    }

    /// `w` with shares and amounts recomputed from its (possibly tampered) totals: what an attacker who
    /// changes the totals presents, so that only the sums' identities stand in the way.
    fn rebalanced(w: &AttributionWitness) -> AttributionWitness {
        let mut t = w.clone();
        let min = i128::from(t.input.params.attribution.min_score);
        let s: Vec<u128> = t
            .totals
            .iter()
            .map(|&x| if i128::from(x) >= min { x as u128 } else { 0 })
            .collect();
        let sum: u128 = s.iter().sum();
        for ((share, entry), &s_c) in t.shares.iter_mut().zip(t.list.iter_mut()).zip(&s) {
            *share = if sum == 0 {
                0
            } else {
                statement::mul_div_floor(t.input.pool, s_c, sum)
            };
            entry.amount = (*share).min(t.cap);
        }
        t
    }

    /// `w` with item `k`'s score credited to slot `to` instead of its contributor's slot `from`.
    fn credit_moved(
        w: &AttributionWitness,
        o: &Outcome,
        k: usize,
        from: usize,
        to: usize,
    ) -> AttributionWitness {
        let mut t = w.clone();
        t.totals[from] -= o.scores[k];
        t.totals[to] += o.scores[k];
        rebalanced(&t)
    }

    /// The predicted permutations are every leaf's and every inner node's of both trees (checked to fail
    /// with the leaves of the padding positions left unmasked), so the builder code permutes only the few sponge hashes (parameters, query, slot
    /// challenge) itself; a state the memo does not hold is permuted as asked.
    #[test]
    fn the_memo_predicts_every_tree_permutation() {
        let (w, _) = AttributionWitness::honest(epoch()).unwrap();
        let memo = predicted_permutations(&w);
        let mut builder = BaseCircuitBuilder::<Fr>::new(false)
            .use_k(K as usize)
            .use_lookup_bits(10)
            .use_instance_columns(1);
        let (_, poseidon) = assign(&mut builder, &w).unwrap();
        let p = &w.input.params;
        let m = p.circuit.max_items as usize;
        let packed = (p.attribution.feature_dim as usize)
            .div_ceil(commitments::values_per_element(p.fixed_point.feature_bits));
        let nodes = (1usize << depth_for(m).unwrap()) - 1;
        let trees = m * (1 + packed.div_ceil(poseidon::RATE)) + 2 * nodes;
        let hits = poseidon
            .requests
            .iter()
            .filter(|r| memo.contains(&r.input.map(|c| *c.value())))
            .count();
        assert!(w.input.items.len() < m, "the epoch has padding positions");
        // Equal states (the padding subtrees' nodes) are held once.
        assert!(memo.len() <= trees);
        assert_eq!(hits, trees, "of {} requests", poseidon.requests.len());
        let outside = [Fr::from(5u64), Fr::from(6u64), Fr::from(7u64)];
        let mut expected = outside;
        poseidon::permute(&mut expected);
        assert!(!memo.contains(&outside));
        assert_eq!(memo.permute(outside), expected);
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
        // Item 3 (contributor 3, slot 2, a positive score) credited to contributor 1 (slot 0), with the
        // counts moved too or not.
        assert_eq!(w.input.items[3].contributor, w.list[2].contributor);
        assert!(o.scores[3] > 0);
        cases.push((
            "score credited to another contributor",
            credit_moved(&w, &o, 3, 2, 0),
        ));
        let mut t = credit_moved(&w, &o, 3, 2, 0);
        t.counts[2] -= 1;
        t.counts[0] += 1;
        cases.push(("item moved to another contributor", t));
        let mut t = w.clone();
        t.counts[0] += 1;
        cases.push(("item count changed", t));
        let mut e = epoch();
        e.items[1].contributor = addr(3);
        cases.push((
            "item's contributor changed",
            AttributionWitness::honest(e).unwrap().0,
        ));
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
        t.counts.swap(0, 1);
        t.totals.swap(0, 1);
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
        t.counts[2] = 0;
        t.totals[2] = 0;
        cases.push(("list entry omitted", rebalanced(&t)));
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
        // A cap below the true one (here still above every share, so the amounts are unchanged): only the
        // upper half of the cap's inequality refuses it; without it an operator could claim cap = 0 and pay
        // nothing.
        let mut t = w.clone();
        assert!(t.shares.iter().all(|&s| s < t.cap - 1));
        t.cap -= 1;
        cases.push(("cap below pool * bps / 10000", t));
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
        t.counts.insert(1, 0);
        t.counts.pop();
        t.totals.insert(1, 0);
        t.totals.pop();
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
            t.input.items[i].contributor = [0; 20];
        }
        // The filler is not counted: contributor 1 (slot 0) has its 2 real items and the hidden one.
        t.counts[0] -= 3;
        assert!(t.active[9]);
        assert!(!accepts(&t, &h), "an item past the sealed tree was counted");
        // Dropping a real item (presented as padding) changes the roots.
        let mut t = w.clone();
        t.active[5] = false;
        t.input.items[5].contributor = [0; 20];
        t.counts[2] -= 1;
        t.totals[2] -= o.scores[5];
        assert!(!accepts(&t, &h), "a real item dropped");
    }

    #[test]
    fn forged_inverses_are_rejected() {
        // With d_i or e_c free, a prover could satisfy both sums' identities for totals that credit item 3's
        // score (contributor 3, slot 2) to contributor 1 (slot 0). Each hook solves for such values; only
        // the constraint tying the inverses to tau refuses them.
        let (w, o) = AttributionWitness::honest(epoch()).unwrap();
        let h = o.public;
        let t = credit_moved(&w, &o, 3, 2, 0);
        let shift = field::from_i64(o.scores[3]);
        let (s1, s4) = (field::from_i64(o.scores[1]), field::from_i64(o.scores[4]));
        // Items 1 and 4 (contributor 1, different scores) take up the change of sum_c T_c e_c; their d sum
        // stays the same.
        assert_ne!(o.scores[1], o.scores[4]);
        let items = move |_tau: Fr, d: &mut [Fr], e: &mut [Fr]| {
            let change = shift * (e[0] - e[2]);
            let delta = change * inverse(s1 - s4);
            d[1] += delta;
            d[4] -= delta;
        };
        assert!(
            !accepts_with(&t, &h, &with_inverses(&items)),
            "forged item inverses: accepted"
        );
        // e_0 and e_2 solved from the two identities with the tampered totals.
        let (m0, m2) = (Fr::from(t.counts[0]), Fr::from(t.counts[2]));
        let (t0, t2) = (field::from_i64(t.totals[0]), field::from_i64(t.totals[2]));
        let (h0, h2) = (field::from_i64(w.totals[0]), field::from_i64(w.totals[2]));
        let slots = move |_tau: Fr, _d: &mut [Fr], e: &mut [Fr]| {
            let p = m0 * e[0] + m2 * e[2];
            let q = h0 * e[0] + h2 * e[2];
            let det = inverse(m0 * t2 - m2 * t0);
            e[0] = (p * t2 - m2 * q) * det;
            e[2] = (m0 * q - t0 * p) * det;
        };
        assert!(
            !accepts_with(&t, &h, &with_inverses(&slots)),
            "forged slot inverses: accepted"
        );
        // The hooks themselves are sound: the honest witness passes through one, and the circuit's tau is
        // slot_challenge of the public roots and the slots.
        let tau = std::cell::Cell::new(Fr::zero());
        let record = |x: Fr, _: &mut [Fr], _: &mut [Fr]| tau.set(x);
        assert!(accepts_with(&w, &h, &with_inverses(&record)));
        let native = slot_challenge(
            h.datanet_root,
            h.features_root,
            h.query_commitment,
            &w.list,
            &w.counts,
            &w.totals,
        );
        assert_eq!(tau.get(), native);
    }

    #[test]
    fn padding_positions_credit_nothing() {
        // A padding position's contributor cell is bound by nothing (its leaf is masked), so the attacker sets
        // two of them to tau, which makes d (tau - contributor) = 0 hold for any d. Positions 6 (score 0) and
        // 7 (score 3) then carry d values solved so that both identities hold for totals that credit item 3
        // (contributor 3, slot 2) to contributor 1 (slot 0). Only d = a d' refuses it.
        let (w, o) = AttributionWitness::honest(epoch()).unwrap();
        let h = o.public;
        let mut t = credit_moved(&w, &o, 3, 2, 0);
        for (i, f) in [(6u64, [0i64, 0, 0, 0]), (7, [1, 0, 0, 0])] {
            t.input.items.push(StatementItem {
                contributor: addr(9),
                content_hash: Fr::from(i),
                features: f.to_vec(),
            });
        }
        let tau = slot_challenge(
            h.datanet_root,
            h.features_root,
            h.query_commitment,
            &t.list,
            &t.counts,
            &t.totals,
        );
        let e = |c: usize| inverse(tau - field::from_address(&t.list[c].contributor));
        let change = field::from_i64(o.scores[3]) * (e(0) - e(2));
        let d7 = change * inverse(Fr::from(3u64));
        let forge = move |_: Fr, d: &mut [Fr], _: &mut [Fr]| {
            d[6] = -d7;
            d[7] = d7;
        };
        let tamper = Tamper {
            contributor_cells: vec![(6, tau), (7, tau)],
            inverses: Some(&forge),
        };
        assert!(
            !accepts_with(&t, &h, &tamper),
            "padding positions absorbed a false claim"
        );
    }

    #[test]
    fn a_total_hidden_in_inactive_slots_is_rejected() {
        // Five slots, two inactive: +X and -X in them cancel in the identities (both have address 0), and
        // slot 3's S = X inflates sum S. The attacker's contract-side list carries the (0x0, amount) entry,
        // so r and y match; only the rule that inactive totals are 0 refuses it.
        let mut e = epoch();
        e.params.circuit.max_contributors = 5;
        let (w, o) = AttributionWitness::honest(e).unwrap();
        assert!(run(&w, o.public.to_field_elements().to_vec()));
        let mut t = w.clone();
        t.totals[3] = 1_000_000;
        t.totals[4] = -1_000_000;
        let mut t = rebalanced(&t);
        assert!(t.list[3].amount > 0 && t.list[3].contributor == [0; 20]);
        t.r = list_challenge(&t.list[..4]);
        let mut p = o.public;
        p.total_rewarded = t.list.iter().map(|e| e.amount).sum();
        p.r = t.r;
        p.y = list_evaluation(&t.list[..4], t.r);
        assert!(
            !run(&t, p.to_field_elements().to_vec()),
            "a total hidden in inactive slots: accepted"
        );
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
