//! Proving an epoch's reward allocation and checking the proof: what `zkattr prove` and `zkattr verify` do.
//!
//! `prove` reads a sealed snapshot, an attribution artifact (`zkattr train` output) and a governance
//! parameter file, computes the statement (DESIGN §4), checks that it reproduces the snapshot's
//! `datanet_root` and the artifact's `features_root`, `query_commitment` and `model_commitment`, proves it,
//! verifies the proof, and writes a proof directory:
//!
//! - `statement.json` (`zkattr.proof.v1`): the statement version, the Datanet and version, the parameters
//!   and `params_hash`, the circuit size, the SRS and verifying-key digests, the public inputs by name and as
//!   the field elements in statement order, the proof's keccak, and the phase timings;
//! - `proof.bin`: the proof (SHPLONK, Keccak transcript: the bytes the EVM verifier takes after the public
//!   inputs);
//! - `reward-list.bin`: exactly the bytes the settlement contract hashes for `r` (`address ‖ uint256` per
//!   entry, addresses strictly increasing), and `reward-list.json`, the same list readable;
//! - `receipts/0x….json`: one per contributor (`zkattr.receipt.v1`, `docs/receipts.md`): everything the
//!   contributor needs to check their reward offline, the proof and its verifier key included.
//!
//! Files are written to a temporary directory beside `out` and renamed into place last, so a crash leaves
//! either no proof directory or a complete one.
//!
//! `verify` re-derives everything a verifier can from the directory alone: the verifying key from the SRS
//! and the circuit shape (parameters and item count; the keys do not depend on the data), `r` and `y`
//! from the reward-list bytes, the total from the amounts; then it checks the proof.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::Instant,
};

use serde::{Deserialize, Serialize};
use sha3::{Digest, Keccak256};
use zkattr_circuits::{
    field,
    halo2::{
        attribution::AttributionWitness,
        prove::{
            choose_k, host_memory_estimate, insecure_test_srs, insecure_test_srs_digest,
            keygen_cached, load_srs, prove_with, shape, verify,
        },
    },
    params::GovernanceParams,
    statement::{
        self, list_bytes, list_challenge, list_evaluation, EpochInput, Outcome, RewardEntry,
        StatementItem, STATEMENT_VERSION,
    },
    verify::VerifierKeyFile,
};
use zkattr_trainer::influence::AttributionArtifact;

use crate::{
    cli::datanet::write_atomic,
    datanet::Datanets,
    epoch::{read_json, ModelManifest},
    error::{Error, Result},
};

/// Format tag of `statement.json`.
pub const PROOF_FORMAT: &str = "zkattr.proof.v1";
pub use zkattr_circuits::receipt::RECEIPT_FORMAT;

/// Where the KZG setup comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SrsSource {
    /// A setup file in the format of `zkattr_circuits::halo2::prove::load_srs`.
    File(PathBuf),
    /// The seeded test setup: anyone can forge proofs against it. For tests and demos only.
    InsecureTest,
}

/// The SRS as recorded in `statement.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SrsRecord {
    /// `file` or `insecure-test`.
    pub kind: String,
    /// keccak256 of the SRS file (`0x…`), or the fixed digest standing for the test setup.
    pub keccak: String,
}

/// One proving or verifying phase and how long it took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseTime {
    /// Phase name.
    pub phase: String,
    /// Seconds.
    pub seconds: f64,
    /// What it did, in a few words.
    pub detail: String,
}

use zkattr_circuits::receipt::address_hex;
pub use zkattr_circuits::receipt::NamedPublicInputs;

/// `statement.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatementFile {
    /// Always [`PROOF_FORMAT`].
    pub format: String,
    /// `STATEMENT_VERSION` of the circuit.
    pub statement_version: u32,
    /// Datanet name.
    pub datanet: String,
    /// Sealed version.
    pub version: u64,
    /// Items in the snapshot (a circuit-shape input).
    pub items: usize,
    /// The governance parameters.
    pub params: GovernanceParams,
    /// `params_hash`, `0x…`.
    pub params_hash: String,
    /// The circuit has `2^k` rows.
    pub k: u32,
    /// The SRS.
    pub srs: SrsRecord,
    /// keccak256 of the verifying key, `0x…`.
    pub vk_keccak: String,
    /// The public inputs by name.
    pub public_inputs: NamedPublicInputs,
    /// The public inputs as field elements in statement order, `0x…` each.
    pub public_field_elements: Vec<String>,
    /// keccak256 of `proof.bin`, `0x…`.
    pub proof_keccak: String,
    /// keccak256 of `reward-list.bin`, `0x…`.
    pub reward_list_keccak: String,
    /// How long each phase took.
    pub timings: Vec<PhaseTime>,
}

/// One line of `reward-list.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RewardLine {
    /// Contributor, `0x…`.
    pub contributor: String,
    /// Amount, decimal text.
    pub amount: String,
}

pub use zkattr_circuits::receipt::Receipt;

/// What [`prove_epoch`] needs.
#[derive(Debug, Clone)]
pub struct ProveRequest {
    /// Datanet name.
    pub datanet: String,
    /// Sealed version.
    pub version: u64,
    /// Directory of `zkattr train` output (`model.json`, `attribution.json`).
    pub artifact: PathBuf,
    /// Governance parameters.
    pub params: GovernanceParams,
    /// Epoch number.
    pub epoch: u64,
    /// Reward pool, token base units.
    pub pool: u128,
    /// Chain id.
    pub chain_id: u64,
    /// Settlement contract.
    pub settlement: [u8; 20],
    /// The KZG setup.
    pub srs: SrsSource,
    /// Key cache directory.
    pub keys_dir: PathBuf,
    /// Output directory (must not exist).
    pub out: PathBuf,
    /// Where to prove: `auto` (a GPU when this build has CUDA and one is usable), `cpu` or `cuda`.
    pub backend: zkattr_gpu_msm::BackendChoice,
    /// The memory (bytes) the keys and the proof may take; `None`: what the machine has available now
    /// ([`available_memory`]). A circuit whose estimate is above it is refused before any work.
    pub memory_limit: Option<u64>,
}

/// The memory (bytes) this machine can give new work now: `MemAvailable` plus `SwapFree` of
/// `/proc/meminfo`. `None` where that file does not exist (not Linux) or cannot be read.
pub fn available_memory() -> Option<u64> {
    parse_meminfo(&std::fs::read_to_string("/proc/meminfo").ok()?)
}

fn parse_meminfo(text: &str) -> Option<u64> {
    let field = |name: &str| {
        text.lines().find_map(|line| {
            let rest = line.strip_prefix(name)?.strip_prefix(':')?;
            let kib: u64 = rest.trim().strip_suffix("kB")?.trim().parse().ok()?;
            kib.checked_mul(1024)
        })
    };
    Some(field("MemAvailable")?.saturating_add(field("SwapFree").unwrap_or(0)))
}

/// Refuses a circuit of `2^k` rows whose estimated peak memory
/// ([`zkattr_circuits::halo2::prove::host_memory_estimate`]) is above `limit` (else what the machine has
/// available). Says what it compared, for the phase summary.
fn check_memory(k: u32, limit: Option<u64>, available: Option<u64>) -> Result<String> {
    let need = host_memory_estimate(k);
    let (limit, limit_what) = match (limit, available) {
        (Some(l), _) => (l, "--memory-limit"),
        (None, Some(a)) => (a, "the memory this machine has available"),
        (None, None) => return Ok("memory not checked (no /proc/meminfo)".into()),
    };
    if need > limit {
        return Err(Error::OutOfMemory {
            k,
            need: human_bytes(need),
            limit: human_bytes(limit),
            limit_what,
        });
    }
    Ok(format!(
        "about {} of {}",
        human_bytes(need),
        human_bytes(limit)
    ))
}

/// `512.0 MiB`, `4.0 GiB`.
fn human_bytes(b: u64) -> String {
    const GIB: f64 = (1u64 << 30) as f64;
    if b >= 1 << 30 {
        format!("{:.1} GiB", b as f64 / GIB)
    } else {
        format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64)
    }
}

/// What [`prove_epoch`] wrote.
#[derive(Debug, Clone)]
pub struct ProveReport {
    /// The statement file's contents.
    pub statement: StatementFile,
    /// The reward list.
    pub rewards: Vec<RewardEntry>,
    /// Proof size in bytes.
    pub proof_bytes: usize,
    /// Whether the keys came from the cache (otherwise why not).
    pub keys_cached: std::result::Result<(), String>,
    /// The output directory.
    pub out: PathBuf,
}

/// Phase notifications for progress display: `start(name)` before a phase, `done(time)` after it.
pub trait Progress {
    /// A phase begins.
    fn start(&mut self, phase: &str);
    /// The phase that began last has ended.
    fn done(&mut self, time: &PhaseTime);
}

/// A [`Progress`] that shows nothing.
#[derive(Debug, Default)]
pub struct Quiet;

impl Progress for Quiet {
    fn start(&mut self, _: &str) {}
    fn done(&mut self, _: &PhaseTime) {}
}

struct Phases<'a> {
    progress: &'a mut dyn Progress,
    times: Vec<PhaseTime>,
}

impl Phases<'_> {
    fn run<T>(&mut self, phase: &str, f: impl FnOnce() -> Result<(T, String)>) -> Result<T> {
        self.progress.start(phase);
        let t = Instant::now();
        let (value, detail) = f()?;
        let time = PhaseTime {
            phase: phase.into(),
            seconds: t.elapsed().as_secs_f64(),
            detail,
        };
        self.progress.done(&time);
        self.times.push(time);
        Ok(value)
    }
}

fn keccak_hex(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(Keccak256::digest(bytes)))
}

/// Checks that an attribution artifact was made under `p`: its feature dimension, widths and scale are the
/// governance parameters' (the scale is governed, `fixed_point.feature_scale_log2` bound by `params_hash`:
/// `min_score` is compared with integer score sums whose unit depends on it, docs/circuit.md). The
/// coordinator runs it on a training result before accepting it, since an artifact made under other
/// settings can never be proven for the epoch.
pub fn check_artifact_settings(artifact: &AttributionArtifact, p: &GovernanceParams) -> Result<()> {
    let settings = &artifact.settings;
    let pairs = [
        (
            "feature dimension",
            settings.k as i64,
            i64::from(p.attribution.feature_dim),
        ),
        (
            "feature_bits",
            i64::from(settings.feature_bits),
            i64::from(p.fixed_point.feature_bits),
        ),
        (
            "query_bits",
            i64::from(settings.query_bits),
            i64::from(p.fixed_point.query_bits),
        ),
        (
            "feature_scale_log2",
            i64::from(artifact.feature_scale_log2),
            i64::from(p.fixed_point.feature_scale_log2),
        ),
    ];
    for (what, a, g) in pairs {
        if a != g {
            return Err(Error::BadArtifact(format!(
                "the artifact's {what} is {a}, the governance parameters say {g}"
            )));
        }
    }
    Ok(())
}

/// Builds the epoch's statement input from the home's snapshot and the artifact, checking that they belong
/// together and fit the parameters.
pub fn epoch_input(nets: &Datanets, req: &ProveRequest) -> Result<(EpochInput, Outcome)> {
    let bad = |m: String| Error::BadArtifact(m);
    let sealed = nets.version(&req.datanet, req.version)?;
    let manifest: ModelManifest = read_json(&req.artifact.join("model.json"))?;
    let artifact: AttributionArtifact = read_json(&req.artifact.join("attribution.json"))?;
    if manifest.datanet != req.datanet || manifest.version != req.version {
        return Err(bad(format!(
            "the model in {} was trained on {} v{}, not {} v{}",
            req.artifact.display(),
            manifest.datanet,
            manifest.version,
            req.datanet,
            req.version
        )));
    }
    if manifest.datanet_root != sealed.root {
        return Err(bad(format!(
            "model.json records datanet_root {}, the sealed version has {}",
            manifest.datanet_root, sealed.root
        )));
    }
    if artifact.model_commitment != manifest.model_commitment {
        return Err(bad(format!(
            "attribution.json is for model {}, model.json has {}",
            artifact.model_commitment, manifest.model_commitment
        )));
    }
    check_artifact_settings(&artifact, &req.params)?;
    let leaves = nets.leaf_inputs(&req.datanet, req.version)?;
    let snapshot = nets.snapshot_items(&req.datanet, req.version)?;
    if artifact.items.len() != snapshot.len() {
        return Err(bad(format!(
            "the artifact has {} items, the snapshot {}",
            artifact.items.len(),
            snapshot.len()
        )));
    }
    let mut items = Vec::with_capacity(snapshot.len());
    for ((s, a), (_, content_hash)) in snapshot.iter().zip(&artifact.items).zip(&leaves) {
        if a.index != s.index || a.contributor.to_lowercase() != address_hex(&s.contributor) {
            return Err(bad(format!(
                "artifact item {} ({}) does not match snapshot item {} ({})",
                a.index,
                a.contributor,
                s.index,
                address_hex(&s.contributor)
            )));
        }
        items.push(StatementItem {
            contributor: s.contributor,
            content_hash: *content_hash,
            features: a.features.clone(),
        });
    }
    let input = EpochInput {
        chain_id: req.chain_id,
        settlement: req.settlement,
        epoch: req.epoch,
        params: req.params,
        items,
        model_commitment: field::from_hex(&artifact.model_commitment)?,
        query_scale_log2: artifact.query_scale_log2,
        query: artifact.query.clone(),
        pool: req.pool,
    };
    let outcome = statement::evaluate(&input)?;
    let public = &outcome.public;
    for (what, ours, theirs) in [
        (
            "datanet_root",
            field::to_hex(&public.datanet_root),
            &sealed.root,
        ),
        (
            "features_root",
            field::to_hex(&public.features_root),
            &artifact.features_root,
        ),
        (
            "query_commitment",
            field::to_hex(&public.query_commitment),
            &artifact.query_commitment,
        ),
    ] {
        if &ours != theirs {
            return Err(bad(format!(
                "the statement's {what} is {ours}, but the {} records {theirs}",
                if what == "datanet_root" {
                    "sealed version"
                } else {
                    "artifact"
                }
            )));
        }
    }
    Ok((input, outcome))
}

/// The Solidity verifier of the circuit that `params` fix, compiled with `solc`: its creation code and the
/// keccak of its verifying key (`0x…`). The keys come from `keys_dir` when cached there, else are derived
/// (and cached) from the SRS and the circuit shape.
pub fn verifier_creation_code(
    params: &GovernanceParams,
    srs_source: &SrsSource,
    keys_dir: &Path,
    solc: &Path,
) -> Result<(Vec<u8>, String)> {
    use zkattr_circuits::halo2::evm::{compile_solidity, verifier_solidity, VERIFIER_CONTRACT};
    params.validate()?;
    let lookup_bits = params.circuit.lookup_bits as usize;
    let (w, _) = AttributionWitness::honest(statement::placeholder_epoch(*params, 1))?;
    let k = choose_k(&shape(&w, lookup_bits)?, lookup_bits);
    let (srs, _, digest) = srs_for(srs_source, k)?;
    let c = keygen_cached(&srs, &digest, lookup_bits, &w, keys_dir)?;
    let source = verifier_solidity(&srs, c.keys.pk.get_vk());
    let code = compile_solidity(solc, &source, VERIFIER_CONTRACT)?;
    Ok((code, format!("0x{}", hex::encode(c.vk_keccak))))
}

fn srs_for(
    source: &SrsSource,
    k: u32,
) -> Result<(
    zkattr_circuits::halo2::halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG<
        zkattr_circuits::halo2::halo2_base::halo2_proofs::halo2curves::bn256::Bn256,
    >,
    SrsRecord,
    [u8; 32],
)> {
    Ok(match source {
        SrsSource::File(path) => {
            let (srs, digest) = load_srs(path, k)?;
            (
                srs,
                SrsRecord {
                    kind: "file".into(),
                    keccak: format!("0x{}", hex::encode(digest)),
                },
                digest,
            )
        }
        SrsSource::InsecureTest => {
            let digest = insecure_test_srs_digest();
            (
                insecure_test_srs(k),
                SrsRecord {
                    kind: "insecure-test".into(),
                    keccak: format!("0x{}", hex::encode(digest)),
                },
                digest,
            )
        }
    })
}

/// Proves the epoch described by `req` and writes the proof directory (see the module documentation).
pub fn prove_epoch(
    nets: &Datanets,
    req: &ProveRequest,
    progress: &mut dyn Progress,
) -> Result<ProveReport> {
    if req.out.exists() {
        return Err(Error::io(
            &req.out,
            std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "already exists; choose a new output directory",
            ),
        ));
    }
    let mut ph = Phases {
        progress,
        times: Vec::new(),
    };
    let lookup_bits = req.params.circuit.lookup_bits as usize;
    let (input, outcome, w) = ph.run("statement", || {
        let (input, outcome) = epoch_input(nets, req)?;
        let (w, _) = AttributionWitness::honest(input.clone())?;
        let detail = format!(
            "{} items, {} contributors, total {} of pool {}",
            input.items.len(),
            outcome.rewards.len(),
            outcome.public.total_rewarded,
            input.pool
        );
        Ok(((input, outcome, w), detail))
    })?;
    let k = ph.run("size", || {
        let s = shape(&w, lookup_bits)?;
        let k = choose_k(&s, lookup_bits);
        if k > req.params.circuit.k {
            return Err(Error::Statement(zkattr_circuits::Error::InvalidStatement(
                format!(
                    "the epoch needs a circuit of 2^{k} rows ({} advice cells); the governance parameters \
                     allow at most 2^{} (circuit.k)",
                    s.advice_cells, req.params.circuit.k
                ),
            )));
        }
        let memory = check_memory(k, req.memory_limit, available_memory())?;
        Ok((k, format!("k = {k}, {} advice cells, memory {memory}", s.advice_cells)))
    })?;
    let (srs, srs_record, srs_digest) = ph.run("srs", || {
        let (srs, record, digest) = srs_for(&req.srs, k)?;
        let detail = format!("{} {}", record.kind, record.keccak);
        Ok(((srs, record, digest), detail))
    })?;
    let cached = ph.run("keys", || {
        let c = keygen_cached(&srs, &srs_digest, lookup_bits, &w, &req.keys_dir)?;
        let detail = match &c.from_cache {
            Ok(()) => format!("from cache {}", c.id),
            Err(why) => format!("generated ({why})"),
        };
        Ok((c, detail))
    })?;
    let prover = ph.run("backend", || {
        let cs = cached.keys.pk.get_vk().cs();
        let need = zkattr_gpu_msm::prover_memory_estimate(
            k,
            cs.num_fixed_columns() + cs.num_advice_columns() + cs.num_instance_columns(),
            cs.degree(),
        );
        let (prover, s) = zkattr_gpu_msm::Prover::select(req.backend, need)
            .map_err(|e| Error::Statement(zkattr_circuits::Error::Backend(e.to_string())))?;
        Ok((prover, format!("{}: {}", s.kind, s.reason)))
    })?;
    let (proof, public) = ph.run("prove", || {
        let (proof, public) = prove_with(&prover, &srs, &cached.keys, &w)?;
        let detail = format!(
            "{} bytes on the {}",
            proof.len(),
            match zkattr_gpu_msm::ProverBackend::kind(&prover) {
                zkattr_gpu_msm::BackendKind::Cpu => "CPU",
                zkattr_gpu_msm::BackendKind::Cuda => "GPU (CUDA)",
            }
        );
        Ok(((proof, public), detail))
    })?;
    if public != outcome.public.to_field_elements().to_vec() {
        return Err(Error::Statement(zkattr_circuits::Error::InvalidStatement(
            "the circuit's public inputs differ from the statement reference".into(),
        )));
    }
    ph.run("self-check", || {
        verify(&srs, cached.keys.pk.get_vk(), &proof, &public)?;
        Ok(((), "the proof verifies natively".into()))
    })?;
    let named = NamedPublicInputs::from_public(&outcome.public);
    let list = list_bytes(&outcome.rewards);
    let mut statement = StatementFile {
        format: PROOF_FORMAT.into(),
        statement_version: STATEMENT_VERSION,
        datanet: req.datanet.clone(),
        version: req.version,
        items: input.items.len(),
        params: req.params,
        params_hash: field::to_hex(&req.params.hash()),
        k,
        srs: srs_record,
        vk_keccak: format!("0x{}", hex::encode(cached.vk_keccak)),
        public_inputs: named.clone(),
        public_field_elements: public.iter().map(field::to_hex).collect(),
        proof_keccak: keccak_hex(&proof),
        reward_list_keccak: keccak_hex(&list),
        timings: Vec::new(),
    };
    ph.run("write", || {
        let verifier =
            zkattr_circuits::halo2::verifier::verifier_key_file(&srs, cached.keys.pk.get_vk());
        write_dir(req, &input, &outcome, &statement, &proof, &list, &verifier)?;
        Ok(((), req.out.display().to_string()))
    })?;
    statement.timings = ph.times;
    // The timings are known only now: rewrite statement.json in place (atomically).
    write_atomic(
        &req.out.join("statement.json"),
        &serde_json::to_string_pretty(&statement).expect("serialisable"),
    )?;
    Ok(ProveReport {
        statement,
        rewards: outcome.rewards,
        proof_bytes: proof.len(),
        keys_cached: cached.from_cache,
        out: req.out.clone(),
    })
}

fn write_dir(
    req: &ProveRequest,
    input: &EpochInput,
    outcome: &Outcome,
    statement: &StatementFile,
    proof: &[u8],
    list: &[u8],
    verifier: &VerifierKeyFile,
) -> Result<()> {
    let name = req
        .out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "proof".into());
    let tmp = req.out.with_file_name(format!(".{name}.partial"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    let receipts = tmp.join("receipts");
    std::fs::create_dir_all(&receipts).map_err(|e| Error::io(&receipts, e))?;
    let write =
        |path: PathBuf, bytes: &[u8]| std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e));
    write(tmp.join("proof.bin"), proof)?;
    write(tmp.join("reward-list.bin"), list)?;
    let lines: Vec<RewardLine> = outcome
        .rewards
        .iter()
        .map(|e| RewardLine {
            contributor: address_hex(&e.contributor),
            amount: e.amount.to_string(),
        })
        .collect();
    write(
        tmp.join("reward-list.json"),
        serde_json::to_string_pretty(&lines)
            .expect("serialisable")
            .as_bytes(),
    )?;
    for receipt in make_receipts(req, input, outcome, statement, proof, verifier)? {
        write(
            receipts.join(format!("{}.json", receipt.contributor)),
            serde_json::to_string_pretty(&receipt)
                .expect("serialisable")
                .as_bytes(),
        )?;
    }
    write(
        tmp.join("statement.json"),
        serde_json::to_string_pretty(statement)
            .expect("serialisable")
            .as_bytes(),
    )?;
    std::fs::rename(&tmp, &req.out).map_err(|e| Error::io(&req.out, e))
}

/// One receipt per reward-list entry (`docs/receipts.md`): the contributor's items with their paths in both
/// trees, the query vector, the scores, the whole list with the entry's claim path, the public inputs, the
/// proof and its verifier key.
pub fn make_receipts(
    req: &ProveRequest,
    input: &EpochInput,
    outcome: &Outcome,
    statement: &StatementFile,
    proof: &[u8],
    verifier: &VerifierKeyFile,
) -> Result<Vec<Receipt>> {
    use zkattr_circuits::{
        commitments::features_leaf,
        merkle::{leaf_hash, MerkleTree},
        receipt::{ReceiptEntry, ReceiptItem, ReceiptQuery, STATEMENT},
        statement::{claim_proof, claims_root},
    };
    let bits = req.params.fixed_point.feature_bits;
    let datanet_leaves: Vec<_> = input
        .items
        .iter()
        .enumerate()
        .map(|(i, it)| {
            leaf_hash(
                field::from_address(&it.contributor),
                it.content_hash,
                i as u64,
            )
        })
        .collect();
    let feature_leaves = input
        .items
        .iter()
        .enumerate()
        .map(|(i, it)| features_leaf(i as u64, bits, &it.features))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let datanet_tree = MerkleTree::new(&datanet_leaves)?;
    let features_tree = MerkleTree::new(&feature_leaves)?;
    let hexes = |v: Vec<field::Fr>| v.iter().map(field::to_hex).collect::<Vec<_>>();
    let mut items_of: BTreeMap<[u8; 20], Vec<ReceiptItem>> = BTreeMap::new();
    for (i, it) in input.items.iter().enumerate() {
        items_of
            .entry(it.contributor)
            .or_default()
            .push(ReceiptItem {
                index: i as u64,
                content_hash: field::to_hex(&it.content_hash),
                features: it.features.clone(),
                score: outcome.scores[i].to_string(),
                datanet_path: hexes(datanet_tree.proof(i as u64)?.siblings),
                features_path: hexes(features_tree.proof(i as u64)?.siblings),
            });
    }
    let list: Vec<ReceiptEntry> = outcome
        .rewards
        .iter()
        .map(|e| ReceiptEntry {
            contributor: address_hex(&e.contributor),
            amount: e.amount.to_string(),
        })
        .collect();
    let root = format!("0x{}", hex::encode(claims_root(&outcome.rewards)));
    let proof_hex = format!("0x{}", hex::encode(proof));
    Ok(outcome
        .rewards
        .iter()
        .enumerate()
        .map(|(list_index, e)| Receipt {
            format: RECEIPT_FORMAT.into(),
            statement_version: statement.statement_version,
            statement: STATEMENT.into(),
            datanet: req.datanet.clone(),
            version: req.version,
            snapshot_items: input.items.len() as u64,
            contributor: address_hex(&e.contributor),
            items: items_of.remove(&e.contributor).unwrap_or_default(),
            query: ReceiptQuery {
                scale_log2: input.query_scale_log2,
                values: input.query.clone(),
            },
            params: req.params,
            score_total: outcome
                .totals
                .get(&e.contributor)
                .copied()
                .unwrap_or(0)
                .to_string(),
            score_clamped: outcome
                .clamped
                .get(&e.contributor)
                .copied()
                .unwrap_or(0)
                .to_string(),
            sum_clamped: outcome.sum_clamped.to_string(),
            amount: e.amount.to_string(),
            list_index: list_index as u64,
            reward_list: list.clone(),
            reward_root: root.clone(),
            reward_path: claim_proof(&outcome.rewards, list_index)
                .iter()
                .map(|h| format!("0x{}", hex::encode(h)))
                .collect(),
            public_inputs: statement.public_inputs.clone(),
            proof: proof_hex.clone(),
            verifier: verifier.clone(),
        })
        .collect())
}

/// The verifier key of the attribution circuit for `items` items under `params`, derived from the setup
/// and the circuit alone (keys cached in `keys_dir`): what a receipt's `verifier` must be.
pub fn derive_verifier_key(
    params: GovernanceParams,
    items: usize,
    srs_source: &SrsSource,
    keys_dir: &Path,
) -> Result<zkattr_circuits::verify::VerifierKey> {
    let lookup_bits = params.circuit.lookup_bits as usize;
    let (w, _) = AttributionWitness::honest(statement::placeholder_epoch(params, items))?;
    let k = choose_k(&shape(&w, lookup_bits)?, lookup_bits);
    let (srs, _, digest) = srs_for(srs_source, k)?;
    let c = keygen_cached(&srs, &digest, lookup_bits, &w, keys_dir)?;
    Ok(zkattr_circuits::halo2::verifier::verifier_key(
        &srs,
        c.keys.pk.get_vk(),
    )?)
}

/// The generated Solidity verifier run in revm by [`verify_dir`].
#[derive(Debug, Clone, Serialize)]
pub struct EvmCheck {
    /// Runtime bytecode size of the verifier.
    pub runtime_bytes: usize,
    /// Gas of the verifying transaction (base cost and calldata included).
    pub gas: u64,
}

/// What [`verify_dir`] checked.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    /// The EVM check, when asked for.
    pub evm: Option<EvmCheck>,
    /// The statement file.
    pub statement: StatementFile,
    /// Reward-list entries.
    pub entries: usize,
    /// Receipts checked against the list.
    pub receipts: usize,
    /// Whether the keys came from the cache (otherwise why not).
    pub keys_cached: std::result::Result<(), String>,
    /// Phase timings.
    pub timings: Vec<PhaseTime>,
}

fn invalid(reason: impl Into<String>) -> Error {
    Error::ProofInvalid(reason.into())
}

/// Parses reward-list bytes (`address ‖ uint256` per entry).
pub fn parse_reward_list(bytes: &[u8]) -> std::result::Result<Vec<RewardEntry>, String> {
    if !bytes.len().is_multiple_of(52) {
        return Err(format!(
            "{} bytes is not a whole number of 52-byte entries",
            bytes.len()
        ));
    }
    bytes
        .chunks(52)
        .enumerate()
        .map(|(i, c)| {
            if c[20..36].iter().any(|&b| b != 0) {
                return Err(format!("entry {i}: amount exceeds 128 bits"));
            }
            Ok(RewardEntry {
                contributor: c[..20].try_into().expect("20 bytes"),
                amount: u128::from_be_bytes(c[36..].try_into().expect("16 bytes")),
            })
        })
        .collect()
}

/// Verifies the proof directory `dir` (see the module documentation). Errors say what failed.
///
/// With `evm` (the Solidity compiler to use), the proof is also checked by the generated Solidity verifier,
/// compiled and deployed in an in-process EVM (revm).
pub fn verify_dir(
    dir: &Path,
    srs_source: &SrsSource,
    keys_dir: &Path,
    evm: Option<&Path>,
    progress: &mut dyn Progress,
) -> Result<VerifyReport> {
    let mut ph = Phases {
        progress,
        times: Vec::new(),
    };
    let (st, public, proof, entries) = ph.run("files", || {
        let st: StatementFile = read_json(&dir.join("statement.json"))?;
        if st.format != PROOF_FORMAT || st.statement_version != STATEMENT_VERSION {
            return Err(invalid(format!(
                "statement.json is {} statement v{}; this build verifies {PROOF_FORMAT} statement v{STATEMENT_VERSION}",
                st.format, st.statement_version
            )));
        }
        st.params.validate()?;
        if field::to_hex(&st.params.hash()) != st.params_hash {
            return Err(invalid("params_hash does not match the parameters in statement.json"));
        }
        let public = st.public_inputs.to_public().map_err(invalid)?;
        if public.params_hash != st.params.hash() {
            return Err(invalid("the public params_hash is not the hash of the parameters"));
        }
        let elements: Vec<String> = public.to_field_elements().iter().map(field::to_hex).collect();
        if elements != st.public_field_elements {
            return Err(invalid(
                "public_field_elements do not encode the named public inputs",
            ));
        }
        let proof_path = dir.join("proof.bin");
        let proof = std::fs::read(&proof_path).map_err(|e| Error::io(&proof_path, e))?;
        if keccak_hex(&proof) != st.proof_keccak {
            return Err(invalid("proof.bin does not match proof_keccak in statement.json"));
        }
        let list_path = dir.join("reward-list.bin");
        let list = std::fs::read(&list_path).map_err(|e| Error::io(&list_path, e))?;
        let entries = parse_reward_list(&list).map_err(|e| invalid(format!("reward-list.bin: {e}")))?;
        if entries.is_empty() {
            return Err(invalid("reward-list.bin is empty"));
        }
        if entries.windows(2).any(|w| w[0].contributor >= w[1].contributor) {
            return Err(invalid(
                "reward-list.bin: addresses are not strictly increasing",
            ));
        }
        let r = list_challenge(&entries);
        if r != public.r {
            return Err(invalid(
                "r is not keccak256(reward-list.bin) mod p: the list is not the one proven",
            ));
        }
        if list_evaluation(&entries, r) != public.y {
            return Err(invalid("the reward list does not evaluate to y at r"));
        }
        let total: u128 = entries.iter().try_fold(0u128, |a, e| a.checked_add(e.amount))
            .ok_or_else(|| invalid("the reward amounts overflow"))?;
        if total != public.total_rewarded || total > public.pool {
            return Err(invalid(format!(
                "the list pays {total}; total_rewarded is {}, the pool {}",
                public.total_rewarded, public.pool
            )));
        }
        let detail = format!("{} reward-list entries", entries.len());
        Ok(((st, public, proof, entries), detail))
    })?;
    let lookup_bits = st.params.circuit.lookup_bits as usize;
    let (srs, record, digest) = ph.run("srs", || {
        let (srs, record, digest) = srs_for(srs_source, st.k)?;
        if record != st.srs {
            return Err(invalid(format!(
                "the proof was made with SRS {} {}; this SRS is {} {}",
                st.srs.kind, st.srs.keccak, record.kind, record.keccak
            )));
        }
        let detail = format!("{} {}", record.kind, record.keccak);
        Ok(((srs, record, digest), detail))
    })?;
    let _ = record;
    let cached = ph.run("keys", || {
        // The verifying key from the shape alone: the placeholder epoch has the proof's size and parameters.
        let (w, _) = AttributionWitness::honest(statement::placeholder_epoch(st.params, st.items))?;
        let s = shape(&w, lookup_bits)?;
        if choose_k(&s, lookup_bits) != st.k {
            return Err(invalid(format!(
                "statement.json says k = {}, but {} items under these parameters give k = {}",
                st.k,
                st.items,
                choose_k(&s, lookup_bits)
            )));
        }
        let c = keygen_cached(&srs, &digest, lookup_bits, &w, keys_dir)?;
        if format!("0x{}", hex::encode(c.vk_keccak)) != st.vk_keccak {
            return Err(invalid(
                "the verifying key derived from the SRS and the circuit shape differs from the one recorded: \
                 the proof is for another circuit",
            ));
        }
        let detail = match &c.from_cache {
            Ok(()) => format!("from cache {}", c.id),
            Err(why) => format!("derived ({why})"),
        };
        Ok((c, detail))
    })?;
    ph.run("verify", || {
        verify(
            &srs,
            cached.keys.pk.get_vk(),
            &proof,
            &public.to_field_elements(),
        )
        .map_err(|e| invalid(e.to_string()))?;
        Ok(((), "the proof verifies".into()))
    })?;
    let evm = match evm {
        None => None,
        Some(solc) => Some(ph.run("evm", || {
            use zkattr_circuits::halo2::evm::{
                compile_solidity, verifier_solidity, DeployedVerifier, VERIFIER_CONTRACT,
            };
            let source = verifier_solidity(&srs, cached.keys.pk.get_vk());
            let creation = compile_solidity(solc, &source, VERIFIER_CONTRACT)?;
            let mut deployed = DeployedVerifier::deploy(creation)?;
            let gas = deployed
                .verify(&public.to_field_elements(), &proof)
                .map_err(|e| invalid(format!("the EVM verifier refuses the proof: {e}")))?;
            let check = EvmCheck {
                runtime_bytes: deployed.runtime_bytes,
                gas,
            };
            let detail = format!(
                "generated verifier ({} bytes) accepts it, {gas} gas",
                check.runtime_bytes
            );
            Ok((check, detail))
        })?),
    };
    // Receipts, when present, must agree with the list and the statement (checked last: a bad proof is the
    // more fundamental failure).
    let receipts = ph.run("receipts", || {
        let mut receipts = 0usize;
        let mut checked = Vec::new();
        let verifier =
            zkattr_circuits::halo2::verifier::verifier_key_file(&srs, cached.keys.pk.get_vk());
        let rdir = dir.join("receipts");
        if rdir.is_dir() {
            let mut names: Vec<PathBuf> = std::fs::read_dir(&rdir)
                .map_err(|e| Error::io(&rdir, e))?
                .map(|e| e.map(|e| e.path()).map_err(|e| Error::io(&rdir, e)))
                .collect::<Result<_>>()?;
            names.sort();
            for path in names {
                let r: Receipt = read_json(&path)?;
                let entry = entries.get(r.list_index as usize);
                // A receipt is found by its file name: it must be its contributor's.
                let named = path.file_name().and_then(|n| n.to_str())
                    == Some(format!("{}.json", r.contributor.to_lowercase()).as_str());
                let ok = named
                    && r.format == RECEIPT_FORMAT
                    && entry.is_some_and(|e| {
                        address_hex(&e.contributor) == r.contributor.to_lowercase()
                            && e.amount.to_string() == r.amount
                    })
                    && r.public_inputs == st.public_inputs
                    && keccak_hex(
                        &hex::decode(r.proof.trim_start_matches("0x")).unwrap_or_default(),
                    ) == st.proof_keccak
                    && r.verifier == verifier
                    && r.params == st.params
                    && r.datanet == st.datanet
                    && r.version == st.version;
                if !ok {
                    return Err(invalid(format!(
                        "{} does not agree with the reward list and statement",
                        path.display()
                    )));
                }
                checked.push((path, r));
                receipts += 1;
            }
        }
        // Then every check a contributor runs (the claim path, the items' inclusion paths and features, the
        // scores, the proof), so that no receipt is handed out that its contributor would find wrong.
        use rayon::prelude::*;
        checked.par_iter().try_for_each(|(path, r)| {
            let report = zkattr_circuits::receipt::check(r);
            match report.checks.iter().find(|c| !c.ok) {
                None if report.ok => Ok(()),
                failed => Err(invalid(format!(
                    "{} fails its own check{}",
                    path.display(),
                    failed.map_or(String::new(), |c| format!(" {}: {}", c.id, c.detail))
                ))),
            }
        })?;
        Ok((
            receipts,
            format!("{receipts} receipts agree with the list and pass their checks"),
        ))
    })?;
    Ok(VerifyReport {
        evm,
        statement: st,
        entries: entries.len(),
        receipts,
        keys_cached: cached.from_cache,
        timings: ph.times,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_gives_available_plus_swap() {
        let text = "MemTotal:       24607248 kB\nMemFree:         1000000 kB\n\
                    MemAvailable:   20000000 kB\nSwapTotal:       2097148 kB\nSwapFree:        1000000 kB\n";
        assert_eq!(parse_meminfo(text), Some(21_000_000 * 1024));
        // No swap line: available alone; no MemAvailable (very old kernels): unknown.
        assert_eq!(parse_meminfo("MemAvailable: 2048 kB\n"), Some(2048 * 1024));
        assert_eq!(parse_meminfo("MemTotal: 2048 kB\nSwapFree: 1 kB\n"), None);
        assert_eq!(parse_meminfo("MemAvailable: lots\n"), None);
        // This machine's, when there is one.
        if std::path::Path::new("/proc/meminfo").exists() {
            assert!(available_memory().unwrap() > 0);
        }
    }

    #[test]
    fn memory_beyond_the_limit_is_refused_before_work() {
        let gib = 1u64 << 30;
        // k = 20: about 4 GiB.
        assert!(check_memory(20, None, Some(8 * gib)).is_ok());
        let e = check_memory(20, None, Some(2 * gib))
            .unwrap_err()
            .to_string();
        assert!(e.contains("2^20 rows needs about 4.0 GiB"), "{e}");
        assert!(
            e.contains("the memory this machine has available is 2.0 GiB"),
            "{e}"
        );
        // An explicit limit wins over what the machine reports, both ways.
        assert!(check_memory(20, Some(5 * gib), Some(gib)).is_ok());
        let e = check_memory(20, Some(gib), Some(64 * gib))
            .unwrap_err()
            .to_string();
        assert!(e.contains("--memory-limit is 1.0 GiB"), "{e}");
        // Nothing known, nothing refused.
        assert!(check_memory(30, None, None)
            .unwrap()
            .contains("not checked"));
        assert_eq!(
            check_memory(17, None, Some(8 * gib)).unwrap(),
            "about 512.0 MiB of 8.0 GiB"
        );
    }

    #[test]
    fn reward_list_bytes_parse_back() {
        let list = vec![
            RewardEntry {
                contributor: [1; 20],
                amount: 5,
            },
            RewardEntry {
                contributor: [2; 20],
                amount: u128::MAX,
            },
        ];
        assert_eq!(parse_reward_list(&list_bytes(&list)).unwrap(), list);
        assert!(parse_reward_list(&[0; 51]).is_err());
        let mut wide = list_bytes(&list);
        wide[20] = 1;
        assert!(parse_reward_list(&wide).unwrap_err().contains("128 bits"));
    }
}
