//! Contributor receipts (`zkattr.receipt.v1`, `docs/receipts.md`): one file that lets a contributor check,
//! without trusting the operator, that their reward follows the committed data, features, query vector and
//! parameters, and that it is the amount the settlement contract will pay them.
//!
//! [`check`] runs every check a receipt allows offline and returns one [`Check`] per step, each with a
//! sentence saying what was found. It is the same code in `zkattr receipt verify` and, compiled to
//! WebAssembly, in the browser page (feature `verify`: the verifier key travels in the receipt, see
//! [`crate::verify`]).

use serde::{Deserialize, Serialize};

use crate::{
    commitments,
    field::{self, Fr},
    merkle::{self, MerklePath},
    params::GovernanceParams,
    statement::{self, PublicInputs, RewardEntry, STATEMENT_VERSION},
    verify::{VerifierKey, VerifierKeyFile},
};

/// Format tag of receipts.
pub const RECEIPT_FORMAT: &str = "zkattr.receipt.v1";

/// What the proof shows and what it does not, in plain words (carried in every receipt).
pub const STATEMENT: &str = "The proof shows that the reward list pays every contributor \
floor(pool * S_c / sum S) (capped at max_share_bps of the pool), where S_c is the sum of the scores of the \
contributor's items clamped at zero (and at min_score), each score is the exact integer dot product of the \
item's quantised features with the query vector, the items and their contributors are those of the sealed \
snapshot (datanet_root), the features are those committed in features_root, the query vector is the one \
committed in query_commitment, and the parameters hash to params_hash; the list is bound to the proof by r and \
y, and the proof to this chain, settlement contract and epoch. It does not show that the features and the \
query vector are what the committed model (model_commitment) gives on the data: anyone holding the model and \
the snapshot re-derives them bit for bit with `zkattr recompute`. The verifying key is trusted to be the \
attribution circuit's for these parameters: `zkattr receipt verify` re-derives it from the setup, and its \
fingerprint is shown so it can be compared.";

/// The public inputs by name (hex field elements, decimal amounts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedPublicInputs {
    /// Chain id.
    pub chain_id: u64,
    /// Settlement contract, `0x…`.
    pub settlement: String,
    /// Epoch.
    pub epoch: u64,
    /// `params_hash`.
    pub params_hash: String,
    /// `datanet_root`.
    pub datanet_root: String,
    /// `model_commitment`.
    pub model_commitment: String,
    /// `features_root`.
    pub features_root: String,
    /// `query_commitment`.
    pub query_commitment: String,
    /// Pool, token base units (decimal text: it can exceed JSON's exact integers).
    pub pool: String,
    /// Total rewarded, decimal text.
    pub total_rewarded: String,
    /// `r`.
    pub r: String,
    /// `y`.
    pub y: String,
}

/// `0x` + 40 hex digits, to bytes.
pub fn parse_address(s: &str) -> std::result::Result<[u8; 20], String> {
    let h = s
        .strip_prefix("0x")
        .ok_or_else(|| format!("address {s:?} does not start with 0x"))?;
    let b = hex::decode(h).map_err(|e| format!("address {s:?}: {e}"))?;
    b.try_into()
        .map_err(|_| format!("address {s:?} is not 20 bytes"))
}

/// `0x` + 40 lower-case hex digits.
pub fn address_hex(a: &[u8; 20]) -> String {
    format!("0x{}", hex::encode(a))
}

impl NamedPublicInputs {
    /// The named form of `p`.
    pub fn from_public(p: &PublicInputs) -> Self {
        Self {
            chain_id: p.chain_id,
            settlement: address_hex(&p.settlement),
            epoch: p.epoch,
            params_hash: field::to_hex(&p.params_hash),
            datanet_root: field::to_hex(&p.datanet_root),
            model_commitment: field::to_hex(&p.model_commitment),
            features_root: field::to_hex(&p.features_root),
            query_commitment: field::to_hex(&p.query_commitment),
            pool: p.pool.to_string(),
            total_rewarded: p.total_rewarded.to_string(),
            r: field::to_hex(&p.r),
            y: field::to_hex(&p.y),
        }
    }

    /// The typed public inputs.
    pub fn to_public(&self) -> std::result::Result<PublicInputs, String> {
        let f = |name: &str, s: &str| field::from_hex(s).map_err(|e| format!("{name}: {e}"));
        let amount =
            |name: &str, s: &str| s.parse::<u128>().map_err(|e| format!("{name} {s:?}: {e}"));
        Ok(PublicInputs {
            chain_id: self.chain_id,
            settlement: parse_address(&self.settlement)?,
            epoch: self.epoch,
            params_hash: f("params_hash", &self.params_hash)?,
            datanet_root: f("datanet_root", &self.datanet_root)?,
            model_commitment: f("model_commitment", &self.model_commitment)?,
            features_root: f("features_root", &self.features_root)?,
            query_commitment: f("query_commitment", &self.query_commitment)?,
            pool: amount("pool", &self.pool)?,
            total_rewarded: amount("total_rewarded", &self.total_rewarded)?,
            r: f("r", &self.r)?,
            y: f("y", &self.y)?,
        })
    }
}

/// One of the contributor's items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptItem {
    /// Index in the snapshot.
    pub index: u64,
    /// `content_hash`, `0x…`.
    pub content_hash: String,
    /// Quantised features (`feature_dim` integers of `feature_bits` signed bits).
    pub features: Vec<i64>,
    /// `score_i = <features, query>` (decimal text).
    pub score: String,
    /// Siblings of the item's leaf in the `datanet_root` tree, leaf level first.
    pub datanet_path: Vec<String>,
    /// Siblings of the item's leaf in the `features_root` tree, leaf level first.
    pub features_path: Vec<String>,
}

/// The query vector `P`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptQuery {
    /// Scale: `P` holds `round(p * 2^scale_log2)`.
    pub scale_log2: i32,
    /// Values (`feature_dim` integers of `query_bits` signed bits).
    pub values: Vec<i64>,
}

/// One reward-list entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptEntry {
    /// Contributor, `0x…`.
    pub contributor: String,
    /// Amount, decimal text.
    pub amount: String,
}

/// A contributor's receipt (see the module documentation and `docs/receipts.md`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// Always [`RECEIPT_FORMAT`].
    pub format: String,
    /// The statement version the proof is for.
    pub statement_version: u32,
    /// What is proven and what is trusted.
    pub statement: String,
    /// Datanet name.
    pub datanet: String,
    /// Sealed version.
    pub version: u64,
    /// Items in the snapshot (the trees' size).
    pub snapshot_items: u64,
    /// The contributor, `0x…`.
    pub contributor: String,
    /// Their items.
    pub items: Vec<ReceiptItem>,
    /// The query vector.
    pub query: ReceiptQuery,
    /// The governance parameters.
    pub params: GovernanceParams,
    /// `T_c`: the sum of their items' scores (decimal text, may be negative).
    pub score_total: String,
    /// `S_c`: after clamping and the minimum score.
    pub score_clamped: String,
    /// `sum S` over every contributor.
    pub sum_clamped: String,
    /// Their reward, decimal text.
    pub amount: String,
    /// Position of their entry in the reward list.
    pub list_index: u64,
    /// The whole reward list in canonical order.
    pub reward_list: Vec<ReceiptEntry>,
    /// The keccak Merkle root of the list the settlement contract stores (`0x…`).
    pub reward_root: String,
    /// Their entry's path to `reward_root`, bottom up (OpenZeppelin `MerkleProof`).
    pub reward_path: Vec<String>,
    /// All public inputs.
    pub public_inputs: NamedPublicInputs,
    /// The proof, `0x…`.
    pub proof: String,
    /// What verifying the proof needs (the verifying key, its constraint system, three setup points).
    pub verifier: VerifierKeyFile,
}

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// Stable identifier (`format`, `params`, `reward_list`, …).
    pub id: String,
    /// What is checked, in a few words.
    pub title: String,
    /// Passed.
    pub ok: bool,
    /// What was found, in words.
    pub detail: String,
}

/// The result of [`check`]: every check, and a few facts to show.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// Every check passed.
    pub ok: bool,
    /// The checks in order.
    pub checks: Vec<Check>,
    /// The contributor.
    pub contributor: String,
    /// Their reward.
    pub amount: String,
    /// The pool.
    pub pool: String,
    /// Their items' indices and scores, for a chart.
    pub scores: Vec<(u64, String)>,
    /// The verifying key's fingerprint (`VerifierKey::fingerprint`: the key's transcript representative and
    /// the setup points), when it could be read.
    pub vk_fingerprint: Option<String>,
    /// keccak256 of the verifying key's bytes.
    pub vk_keccak: Option<String>,
}

impl Check {
    /// The check `id` ("What is checked", `title`): passed with what was found, or failed with why.
    pub fn new(id: &str, title: &str, r: std::result::Result<String, String>) -> Self {
        Self {
            id: id.into(),
            title: title.into(),
            ok: r.is_ok(),
            detail: r.unwrap_or_else(|e| e),
        }
    }
}

impl Report {
    /// Adds a check made outside [`check`] (the key derivation, the chain); the report fails with it.
    pub fn add(&mut self, c: Check) {
        self.ok &= c.ok;
        self.checks.push(c);
    }
}

struct Checks(Vec<Check>);

impl Checks {
    fn add(&mut self, id: &str, title: &str, r: std::result::Result<String, String>) -> bool {
        let c = Check::new(id, title, r);
        let ok = c.ok;
        self.0.push(c);
        ok
    }
}

fn fr(what: &str, s: &str) -> std::result::Result<Fr, String> {
    field::from_hex(s).map_err(|e| format!("{what}: {e}"))
}

fn amount(what: &str, s: &str) -> std::result::Result<u128, String> {
    s.parse::<u128>()
        .map_err(|_| format!("{what} {s:?} is not a whole number of token units"))
}

fn bytes32(what: &str, s: &str) -> std::result::Result<[u8; 32], String> {
    let b = hex::decode(s.strip_prefix("0x").unwrap_or(s)).map_err(|e| format!("{what}: {e}"))?;
    b.try_into().map_err(|_| format!("{what} is not 32 bytes"))
}

fn entries(r: &Receipt) -> std::result::Result<Vec<RewardEntry>, String> {
    r.reward_list
        .iter()
        .enumerate()
        .map(|(i, e)| {
            Ok(RewardEntry {
                contributor: parse_address(&e.contributor)
                    .map_err(|m| format!("entry {i}: {m}"))?,
                amount: amount(&format!("entry {i}'s amount"), &e.amount)?,
            })
        })
        .collect()
}

fn path(what: &str, index: u64, siblings: &[String]) -> std::result::Result<MerklePath, String> {
    Ok(MerklePath {
        index,
        siblings: siblings
            .iter()
            .map(|s| fr(what, s))
            .collect::<std::result::Result<_, _>>()?,
    })
}

/// `f` over `items`, in parallel where threads exist (natively; the browser runs it on its one thread).
fn par_map<T: Sync, U: Send>(
    items: &[T],
    f: impl Fn(&T) -> std::result::Result<U, String> + Sync + Send,
) -> std::result::Result<Vec<U>, String> {
    use rayon::prelude::*;
    items.par_iter().map(f).collect()
}

/// Checks that every `leaves[j]` sits at `items[j].index` under `root`, with `paths[j]` its siblings from
/// the leaf level up, in a tree of depth `depth`. The paths share their upper levels, so the tree's nodes
/// are computed once each (a multi-proof): a sibling is taken from a path only where no item below it
/// computes it, and where one does, every path that gives it must agree with it. On failure the items are
/// checked one by one to name the first bad one: `(index, why)`.
fn included(
    items: &[ReceiptItem],
    leaves: &[Fr],
    paths: &[&[String]],
    depth: u32,
    root: Fr,
    what: &str,
) -> std::result::Result<(), (u64, String)> {
    use std::collections::BTreeMap;
    if items.is_empty() || items.len() != leaves.len() || items.len() != paths.len() {
        return Err((0, "no items to check".into()));
    }
    let parsed: Vec<MerklePath> = items
        .iter()
        .zip(paths)
        .map(|(it, p)| {
            if p.len() != depth as usize {
                return Err((
                    it.index,
                    format!("a path of {} hashes; the tree has depth {depth}", p.len()),
                ));
            }
            path(what, it.index, p).map_err(|e| (it.index, e))
        })
        .collect::<std::result::Result<_, _>>()?;
    let one_by_one = || {
        for (p, leaf) in parsed.iter().zip(leaves) {
            p.verify(*leaf, root)
                .map_err(|e| (p.index, e.to_string()))?;
        }
        Err((
            parsed[0].index,
            "the paths disagree with each other".to_string(),
        ))
    };
    let mut level: BTreeMap<u64, Fr> = BTreeMap::new();
    for (p, leaf) in parsed.iter().zip(leaves) {
        if level.insert(p.index, *leaf).is_some() {
            return Err((p.index, "the receipt lists this item twice".into()));
        }
    }
    for h in 0..depth as usize {
        // The sibling each path gives at this height, by node index; paths that give one node must agree.
        let mut given: BTreeMap<u64, Fr> = BTreeMap::new();
        for p in &parsed {
            let node = (p.index >> h) ^ 1;
            if *given.entry(node).or_insert(p.siblings[h]) != p.siblings[h] {
                return one_by_one();
            }
        }
        // A node computed from below must equal what every path gives for it.
        if level
            .iter()
            .any(|(i, v)| given.get(i).is_some_and(|g| g != v))
        {
            return one_by_one();
        }
        let mut next = BTreeMap::new();
        for (&i, &v) in &level {
            if i & 1 == 1 && level.contains_key(&(i ^ 1)) {
                continue; // the pair was hashed from its left child
            }
            let sib = match level.get(&(i ^ 1)) {
                Some(&computed) => computed,
                None => given[&(i ^ 1)],
            };
            let parent = if i & 1 == 0 {
                merkle::node_hash(v, sib)
            } else {
                merkle::node_hash(sib, v)
            };
            next.insert(i >> 1, parent);
        }
        level = next;
    }
    if level.len() == 1 && level.get(&0) == Some(&root) {
        Ok(())
    } else {
        one_by_one()
    }
}

/// Runs every offline check on `r` (see the module documentation). Bad input fails a check with the reason;
/// the verifier key is validated before halo2 builds anything from it (sizes, rotations, phases).
pub fn check(r: &Receipt) -> Report {
    let mut c = Checks(Vec::new());
    let public = r.public_inputs.to_public();
    let list = entries(r);
    c.add(
        "format",
        "Receipt format",
        if r.format != RECEIPT_FORMAT {
            Err(format!(
                "the file is {:?}; this verifier reads {RECEIPT_FORMAT}",
                r.format
            ))
        } else if r.statement_version != STATEMENT_VERSION {
            Err(format!(
                "the proof is for statement version {}; this verifier checks version {STATEMENT_VERSION}",
                r.statement_version
            ))
        } else {
            match (&public, &list) {
                (Err(e), _) => Err(format!("public inputs: {e}")),
                (_, Err(e)) => Err(format!("reward list: {e}")),
                _ => Ok(format!(
                    "{RECEIPT_FORMAT}, statement version {STATEMENT_VERSION}, every field readable"
                )),
            }
        },
    );
    let (Ok(public), Ok(list)) = (public, list) else {
        return report(r, c, None);
    };
    let p = &r.params;
    let params_ok = c.add(
        "params",
        "Parameters hash to params_hash",
        match p.validate() {
            Err(e) => Err(format!("the parameters are not valid: {e}")),
            Ok(()) if p.hash() != public.params_hash => Err(format!(
                "the parameters hash to {}, but the proof's params_hash is {}",
                field::to_hex(&p.hash()),
                field::to_hex(&public.params_hash)
            )),
            Ok(()) => Ok(format!(
                "params_hash {}",
                field::to_hex(&public.params_hash)
            )),
        },
    );

    // The reward list: r, y, the total, and this contributor's entry and claim path.
    c.add("reward_list", "The reward list is the proven one", (|| {
        if list.is_empty() {
            return Err("the reward list is empty".to_string());
        }
        if let Some(i) = list.windows(2).position(|w| w[0].contributor >= w[1].contributor) {
            return Err(format!(
                "entries {i} and {} are not in strictly increasing address order",
                i + 1
            ));
        }
        let challenge = statement::list_challenge(&list);
        if challenge != public.r {
            return Err("keccak256 of the list is not the proof's r: the list is not the one proven".into());
        }
        if statement::list_evaluation(&list, challenge) != public.y {
            return Err("the list does not evaluate to the proof's y at r: the list is not the one proven".into());
        }
        let total = list
            .iter()
            .try_fold(0u128, |a, e| a.checked_add(e.amount))
            .ok_or("the amounts overflow")?;
        if total != public.total_rewarded || total > public.pool {
            return Err(format!(
                "the list pays {total}; the proof's total_rewarded is {} and the pool {}",
                public.total_rewarded, public.pool
            ));
        }
        Ok(format!(
            "{} entries, r and y match, {total} of {} paid",
            list.len(),
            public.pool
        ))
    })());
    let me = parse_address(&r.contributor);
    c.add(
        "entry",
        "Your entry in the list",
        (|| {
            let me = me.clone()?;
            let e = list
                .get(usize::try_from(r.list_index).unwrap_or(usize::MAX))
                .ok_or_else(|| format!("the list has no entry {}", r.list_index))?;
            if e.contributor != me {
                return Err(format!(
                    "entry {} is {}, not {}",
                    r.list_index,
                    address_hex(&e.contributor),
                    r.contributor
                ));
            }
            if e.amount.to_string() != r.amount {
                return Err(format!(
                    "entry {} pays {}, but the receipt says {}",
                    r.list_index, e.amount, r.amount
                ));
            }
            Ok(format!(
                "entry {} pays {} {}",
                r.list_index, r.contributor, e.amount
            ))
        })(),
    );
    c.add(
        "reward_path",
        "Claim path to the on-chain reward root",
        (|| {
            let root = statement::claims_root(&list);
            let stated = bytes32("reward_root", &r.reward_root)?;
            if stated != root {
                return Err(format!(
                    "the list's keccak Merkle root is 0x{}, the receipt says {}",
                    hex::encode(root),
                    r.reward_root
                ));
            }
            let proof = r
                .reward_path
                .iter()
                .map(|s| bytes32("reward_path", s))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            let index = usize::try_from(r.list_index).map_err(|_| "list_index is too large")?;
            let entry = list.get(index).ok_or("no entry at list_index")?;
            if !statement::verify_claim(&root, index, entry, &proof) {
                return Err(
                    "the claim path does not lead from your entry to the reward root".into(),
                );
            }
            Ok(format!("{} hashes to 0x{}", proof.len(), hex::encode(root)))
        })(),
    );

    // The items: inclusion in both trees, then the scores.
    let depth = usize::try_from(r.snapshot_items)
        .map_err(|_| "snapshot_items is too large".to_string())
        .and_then(|n| merkle::depth_for(n).map_err(|e| e.to_string()));
    let bits = p.fixed_point.feature_bits;
    let dim = p.attribution.feature_dim as usize;
    // The two trees are independent: hashed side by side where threads exist.
    let (datanet, features) = rayon::join(
        || {
            (|| {
                let depth = depth.clone()?;
                let me = me.clone()?;
                if r.items.is_empty() {
                    return Err("the receipt lists no items".into());
                }
                for it in &r.items {
                    if it.index >= r.snapshot_items {
                        return Err(format!(
                            "item {} is beyond the snapshot's {} items",
                            it.index, r.snapshot_items
                        ));
                    }
                }
                let leaves = par_map(&r.items, |it| {
                    Ok(merkle::leaf_hash(
                        field::from_address(&me),
                        fr("content_hash", &it.content_hash)?,
                        it.index,
                    ))
                })?;
                let paths = r
                    .items
                    .iter()
                    .map(|it| it.datanet_path.as_slice())
                    .collect::<Vec<_>>();
                included(
                    &r.items,
                    &leaves,
                    &paths,
                    depth,
                    public.datanet_root,
                    "datanet_path",
                )
                .map_err(|(index, e)| format!("item {index} is not yours in datanet_root: {e}"))?;
                Ok(format!(
                    "{} items under datanet_root {}",
                    r.items.len(),
                    field::to_hex(&public.datanet_root)
                ))
            })()
        },
        || {
            (|| {
                let depth = depth.clone()?;
                for it in &r.items {
                    if it.features.len() != dim {
                        return Err(format!(
                            "item {}: {} features; the parameters say {dim}",
                            it.index,
                            it.features.len()
                        ));
                    }
                }
                let leaves = par_map(&r.items, |it| {
                    commitments::features_leaf(it.index, bits, &it.features)
                        .map_err(|e| format!("item {}: {e}", it.index))
                })?;
                let paths = r
                    .items
                    .iter()
                    .map(|it| it.features_path.as_slice())
                    .collect::<Vec<_>>();
                included(
                    &r.items,
                    &leaves,
                    &paths,
                    depth,
                    public.features_root,
                    "features_path",
                )
                .map_err(|(index, e)| {
                    format!("item {index}'s features are not the committed ones: {e}")
                })?;
                Ok(format!(
                    "{} feature vectors under features_root {}",
                    r.items.len(),
                    field::to_hex(&public.features_root)
                ))
            })()
        },
    );
    c.add(
        "datanet_paths",
        "Your items are in the sealed snapshot",
        datanet,
    );
    c.add(
        "features_paths",
        "Your items' features are the committed ones",
        features,
    );
    c.add(
        "query",
        "The query vector is the committed one",
        (|| {
            if r.query.values.len() != dim {
                return Err(format!(
                    "{} query values; the parameters say {dim}",
                    r.query.values.len()
                ));
            }
            let q = commitments::query_commitment(
                r.query.scale_log2,
                p.fixed_point.query_bits,
                &r.query.values,
            )
            .map_err(|e| e.to_string())?;
            if q != public.query_commitment {
                return Err(format!(
                    "the query vector commits to {}, the proof's query_commitment is {}",
                    field::to_hex(&q),
                    field::to_hex(&public.query_commitment)
                ));
            }
            Ok(format!("query_commitment {}", field::to_hex(&q)))
        })(),
    );
    c.add(
        "scores",
        "Scores follow from the features and the query",
        (|| {
            let mut total: i128 = 0;
            for it in &r.items {
                let s: i128 = it
                    .features
                    .iter()
                    .zip(&r.query.values)
                    .try_fold(0i128, |acc, (a, b)| {
                        acc.checked_add(i128::from(*a) * i128::from(*b))
                    })
                    .ok_or_else(|| format!("item {}: the score overflows", it.index))?;
                if s.to_string() != it.score {
                    return Err(format!(
                        "item {}: <features, query> is {s}, the receipt says {}",
                        it.index, it.score
                    ));
                }
                total = total.checked_add(s).ok_or("the scores' sum overflows")?;
            }
            if total.to_string() != r.score_total {
                return Err(format!(
                    "your items' scores sum to {total}, the receipt says {}",
                    r.score_total
                ));
            }
            let min = i128::from(p.attribution.min_score);
            let clamped: u128 = if total < 0 || total < min {
                0
            } else {
                total as u128
            };
            if clamped.to_string() != r.score_clamped {
                return Err(format!(
                "clamped at zero and min_score {min}, your score is {clamped}; the receipt says {}",
                r.score_clamped
            ));
            }
            Ok(format!(
                "{} item scores, total {total}, clamped {clamped}",
                r.items.len()
            ))
        })(),
    );
    c.add(
        "reward",
        "Your reward follows from your score",
        (|| {
            if !params_ok {
                return Err("not checked: the parameters are not the proven ones".into());
            }
            let s = amount("score_clamped", &r.score_clamped)?;
            let sum = amount("sum_clamped", &r.sum_clamped)?;
            let mine = amount("amount", &r.amount)?;
            if s > sum {
                return Err(format!(
                    "your score {s} exceeds the sum of all scores {sum}"
                ));
            }
            let cap = statement::mul_div_floor(
                public.pool,
                u128::from(p.attribution.max_share_bps),
                10_000,
            );
            let expect = if sum == 0 {
                0
            } else {
                statement::mul_div_floor(public.pool, s, sum).min(cap)
            };
            if expect != mine {
                return Err(format!(
                    "floor({} * {s} / {sum}) capped at {cap} is {expect}; the receipt says {mine}",
                    public.pool
                ));
            }
            Ok(format!(
                "floor({} * {s} / {sum}) = {expect} ({:.4}% of the pool; the sum of everyone's scores is \
                 the operator's figure, bound by the proof only through the list)",
                public.pool,
                if public.pool == 0 {
                    0.0
                } else {
                    expect as f64 * 100.0 / public.pool as f64
                }
            ))
        })(),
    );
    let fingerprint = proof_check(r, &public, &mut c);
    report(r, c, fingerprint)
}

fn proof_check(r: &Receipt, public: &PublicInputs, c: &mut Checks) -> Option<(String, String)> {
    let key = VerifierKey::from_file(&r.verifier);
    let facts = key.as_ref().ok().map(|k| (k.fingerprint(), k.vk_keccak()));
    c.add(
        "proof",
        "The proof verifies",
        (|| {
            let key = key.map_err(|e| format!("the verifier key cannot be used: {e}"))?;
            let proof = hex::decode(r.proof.strip_prefix("0x").unwrap_or(&r.proof))
                .map_err(|e| format!("the proof is not hex: {e}"))?;
            key.verify(&proof, &public.to_field_elements())
                .map_err(|e| e.to_string())?;
            Ok(format!(
                "{} bytes verify against all public inputs with verifying key {}",
                proof.len(),
                key.fingerprint()
            ))
        })(),
    );
    facts
}

fn report(r: &Receipt, c: Checks, key: Option<(String, String)>) -> Report {
    let (vk_fingerprint, vk_keccak) = match key {
        Some((f, k)) => (Some(f), Some(k)),
        None => (None, None),
    };
    Report {
        ok: !c.0.is_empty() && c.0.iter().all(|x| x.ok),
        checks: c.0,
        contributor: r.contributor.clone(),
        amount: r.amount.clone(),
        pool: r.public_inputs.pool.clone(),
        scores: r.items.iter().map(|i| (i.index, i.score.clone())).collect(),
        vk_fingerprint,
        vk_keccak,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::MerkleTree;

    fn items_for(tree: &MerkleTree, idx: &[u64]) -> (Vec<ReceiptItem>, Vec<Vec<String>>) {
        let items = idx
            .iter()
            .map(|&i| ReceiptItem {
                index: i,
                content_hash: String::new(),
                features: Vec::new(),
                score: String::new(),
                datanet_path: Vec::new(),
                features_path: Vec::new(),
            })
            .collect();
        let paths = idx
            .iter()
            .map(|&i| {
                tree.proof(i)
                    .unwrap()
                    .siblings
                    .iter()
                    .map(field::to_hex)
                    .collect()
            })
            .collect();
        (items, paths)
    }

    #[test]
    fn the_multi_proof_accepts_exactly_what_single_paths_accept() {
        let leaves: Vec<Fr> = (0..37u64).map(|i| Fr::from(i * 7 + 3)).collect();
        let tree = MerkleTree::new(&leaves).unwrap();
        let depth = tree.depth();
        for idx in [
            vec![0u64],
            vec![36],
            vec![0, 1],
            vec![1, 2, 3, 36],
            (0..37).collect::<Vec<_>>(),
            vec![5, 9, 17, 33],
        ] {
            let (items, paths) = items_for(&tree, &idx);
            let refs: Vec<&[String]> = paths.iter().map(Vec::as_slice).collect();
            let ls: Vec<Fr> = idx.iter().map(|&i| leaves[i as usize]).collect();
            assert!(
                included(&items, &ls, &refs, depth, tree.root(), "p").is_ok(),
                "{idx:?}"
            );
            // Every sibling of every path matters, even those the multi-proof computes itself.
            for j in 0..idx.len() {
                for h in 0..depth as usize {
                    let mut bad = paths.clone();
                    bad[j][h] =
                        field::to_hex(&(field::from_hex(&bad[j][h]).unwrap() + Fr::from(1u64)));
                    let refs: Vec<&[String]> = bad.iter().map(Vec::as_slice).collect();
                    let err = included(&items, &ls, &refs, depth, tree.root(), "p").unwrap_err();
                    assert_eq!(err.0, idx[j], "{idx:?} path {j} height {h}: {err:?}");
                }
            }
            // A wrong leaf is named.
            let mut ls2 = ls.clone();
            ls2[idx.len() - 1] += Fr::from(1u64);
            let refs: Vec<&[String]> = paths.iter().map(Vec::as_slice).collect();
            let err = included(&items, &ls2, &refs, depth, tree.root(), "p").unwrap_err();
            assert_eq!(err.0, idx[idx.len() - 1]);
        }
        // The same item twice, a path of the wrong depth.
        let (items, paths) = items_for(&tree, &[4, 4]);
        let refs: Vec<&[String]> = paths.iter().map(Vec::as_slice).collect();
        let ls = vec![leaves[4], leaves[4]];
        assert!(included(&items, &ls, &refs, depth, tree.root(), "p")
            .unwrap_err()
            .1
            .contains("twice"));
        let (items, mut paths) = items_for(&tree, &[4]);
        paths[0].pop();
        let refs: Vec<&[String]> = paths.iter().map(Vec::as_slice).collect();
        assert!(
            included(&items, &[leaves[4]], &refs, depth, tree.root(), "p")
                .unwrap_err()
                .1
                .contains("depth")
        );
    }
}
