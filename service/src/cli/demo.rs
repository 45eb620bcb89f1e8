//! `zkattr demo`: the main job on the embedded sample Datanet.
//!
//! The whole epoch on the embedded sample Datanet, in a fresh `<home>/demo`: create the `digits` Datanet,
//! import the embedded signed records, seal version 1, write an inclusion proof for one item and verify it
//! against the sealed root, train the model, extract the attribution artifact for the embedded queries and
//! recompute it. Then, on the demo's embedded chain (`<home>/demo/chain`; or a development node given with
//! `--rpc-url` and `--key`): deploy the contracts (with the
//! verifier generated for the default parameters and the insecure test SRS: a demo, not real rewards),
//! publish the sealed root, prove epoch 1 for the deployed distributor into `<home>/demo/proof` (keys from
//! `<home>/keys` or `--keys-dir`, shared with `zkattr prove`), verify that directory natively, show the
//! distributor refusing a copy with one proof byte flipped, settle with the real proof, and let the three
//! contributors with the largest rewards claim with their (public, test) keys; a second claim is refused. The generated verifier
//! needs the project's Solidity compiler (`scripts/setup-contracts.sh`); `--skip-proof` stops before.

use std::{io::Cursor, path::Path};

use clap::Args;
use serde_json::json;
use zkattr_circuits::field;

use super::{
    datanet::write_atomic,
    prove::{timing_table, Spinner},
    Ctx, Output,
};
use crate::{
    datanet::{Datanets, ImportOptions, InclusionProof},
    epoch,
    error::{Error, Result},
    proving::{self, ProveRequest, SrsSource},
    sample,
};

/// The demo epoch's reward pool: one million OPEN in 18-decimal base units (wei-like).
const DEMO_POOL: u128 = 1_000_000 * 10u128.pow(18);

/// The project's Solidity compiler when it is installed and runs, else why not.
fn installed_solc() -> std::result::Result<std::path::PathBuf, String> {
    let solc = zkattr_circuits::halo2::evm::default_solc();
    match std::process::Command::new(&solc).arg("--version").output() {
        Ok(out) if out.status.success() => Ok(solc),
        Ok(out) => Err(format!(
            "{} --version failed: {}",
            solc.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Err(format!("{}: {e}", solc.display())),
    }
}

/// Marker file that makes a directory recognisably the demo's own (and so safe to clear).
const MARKER: &str = ".zkattr-demo";

/// `zkattr demo`
#[derive(Debug, Args)]
pub struct DemoCmd {
    /// Which item to prove inclusion of.
    #[arg(long, default_value_t = 0)]
    pub item: u64,
    /// Stop after recomputing the attribution artifact: no proof (the proof takes minutes on a small machine).
    #[arg(long)]
    pub skip_proof: bool,
    /// Run the on-chain part against this node (a development node such as anvil: the demo gives the
    /// claiming contributors coin for gas with `anvil_setBalance`) instead of the embedded chain.
    #[arg(long, value_name = "URL", requires = "key")]
    pub rpc_url: Option<String>,
    /// With --rpc-url: the operator's private key file (deploys, funds the pool, settles).
    #[arg(long, value_name = "FILE")]
    pub key: Option<std::path::PathBuf>,
}

/// Empties `dir` if it is a previous demo's directory; refuses to touch anything else.
fn fresh_demo_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        if !dir.join(MARKER).exists() {
            return Err(Error::io(
                dir,
                std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "exists and is not a zkattr demo directory; not touching it",
                ),
            ));
        }
        std::fs::remove_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    std::fs::write(
        dir.join(MARKER),
        "created by `zkattr demo`; cleared by the next run\n",
    )
    .map_err(|e| Error::io(dir, e))
}

impl DemoCmd {
    /// Runs it.
    pub fn run(&self, ctx: &Ctx) -> Result<Output> {
        let dir = ctx.home.join("demo");
        fresh_demo_dir(&dir)?;
        let name = "digits";
        let mut nets = Datanets::open(&dir)?;
        nets.create(name)?;
        let bar = super::datanet::import_progress(sample::DIGITS_RECORDS.len() as u64, ctx.json);
        let import = nets.import(
            name,
            Cursor::new(sample::DIGITS_RECORDS),
            "embedded data/digits/records.jsonl",
            ImportOptions::default(),
            &mut |n| bar.set_position(n),
        )?;
        bar.finish_and_clear();
        let sealed = nets.seal(name)?;
        let summary = nets.show(name)?;

        let proof = nets.prove_inclusion(name, sealed.version, self.item)?;
        let path = dir.join(format!(
            "{name}-v{}-item{}.inclusion.json",
            sealed.version, self.item
        ));
        write_atomic(&path, &proof.to_json())?;
        // Read the file back as a contributor would and check it against the sealed root.
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let verified =
            InclusionProof::from_json(&text)?.verify(Some(field::from_hex(&sealed.root)?))?;

        let epoch_dir = dir.join("epoch");
        let trained = epoch::train(
            &nets,
            name,
            sealed.version,
            &epoch::TrainOptions::default(),
            Some(sample::DIGITS_QUERIES),
            &epoch_dir,
        )?;
        let recomputed = epoch::recompute(&nets, &epoch_dir, None)?;
        if !recomputed.mismatches.is_empty() {
            return Err(Error::RecomputeMismatch(format!(
                "{} difference(s) in the demo's own artifact",
                recomputed.mismatches.len()
            )));
        }
        let m = &trained.manifest;

        let proof = if self.skip_proof {
            None
        } else {
            Some(epoch_on_chain(
                ctx,
                &nets,
                name,
                &sealed,
                &dir,
                &epoch_dir,
                self.rpc_url.as_deref().zip(self.key.as_deref()),
            )?)
        };
        let text = format!(
            "demo in {}\n  imported {} signed records from {} contributors\n  sealed {name} v{}: root {} (depth {})\n  \
             inclusion proof of item {} by {} written to {} and verified against the sealed root\n  \
             trained {} ({:.1} s, train accuracy {:.3}): model_commitment {}\n  \
             attribution artifact for {} queries: features_root {}, query_commitment {}\n  \
             recomputed all {} items' features bit for bit\n{}",
            dir.display(),
            import.records,
            summary.contributors,
            sealed.version,
            sealed.root,
            sealed.depth,
            verified.item,
            verified.contributor,
            path.display(),
            m.model_id,
            trained.seconds,
            m.train_accuracy,
            m.model_commitment,
            sample::DIGITS_QUERIES.lines().filter(|l| !l.trim().is_empty()).count(),
            trained.features_root.as_deref().unwrap_or("-"),
            trained.query_commitment.as_deref().unwrap_or("-"),
            recomputed.items,
            proof.as_ref().map_or_else(
                || "  proof skipped (--skip-proof)\n".to_string(),
                |(text, _)| text.clone()
            ),
        );
        Ok(Output {
            json: json!({
                "home": dir,
                "datanet": name,
                "items": sealed.items,
                "contributors": summary.contributors,
                "version": sealed.version,
                "root": sealed.root,
                "inclusion_proof": path,
                "inclusion_verified": true,
                "item": verified.item,
                "contributor": verified.contributor,
                "model_commitment": m.model_commitment,
                "train_accuracy": m.train_accuracy,
                "features_root": trained.features_root,
                "query_commitment": trained.query_commitment,
                "recompute_matches": true,
                "proof": proof.map(|(_, json)| json),
            }),
            text,
        })
    }
}

/// Governance timings of the demo's deployment (a local chain: short vote, short timelock).
const DEMO_VOTING_PERIOD: u64 = 10;
const DEMO_TIMELOCK_DELAY: u64 = 60;
/// How many contributors claim in the demo.
const DEMO_CLAIMS: usize = 3;

/// Deploys the contracts on the demo's embedded chain (or the node given), publishes the sealed root, proves epoch 1 for the
/// deployed distributor into `<dir>/proof`, verifies the directory natively, submits a copy with one proof
/// byte flipped (the contract must refuse it), settles with the real proof, and lets the three contributors
/// with the largest rewards claim. Returns the report's text and JSON.
fn epoch_on_chain(
    ctx: &Ctx,
    nets: &Datanets,
    name: &str,
    sealed: &crate::datanet::SealedVersion,
    dir: &Path,
    epoch_dir: &Path,
    node: Option<(&str, &Path)>,
) -> Result<(String, serde_json::Value)> {
    use crate::chain::{
        deploy::{self, DeployOptions, ProofDir},
        Chain,
    };
    use alloy::primitives::U256;

    let solc = installed_solc().map_err(|why| {
        Error::Chain(format!(
            "the demo deploys a generated Solidity verifier and needs the project's compiler ({why}); \
             install it with scripts/setup-contracts.sh, or stop before the proof with --skip-proof"
        ))
    })?;
    let params = zkattr_circuits::params::GovernanceParams::default();
    let keys_dir = ctx.keys.clone();
    let say = |msg: &str| {
        if !ctx.json {
            eprintln!("{msg}");
        }
    };

    let mut chain = Chain::open(dir, node.map(|(url, _)| url))?;
    let operator = match node {
        Some((_, key)) => crate::chain::read_key(key)?,
        None => super::chain::operator_key(dir)?,
    };
    say(&format!(
        "deploying the contracts on {} (the verifier needs the proving keys: keygen on first run)",
        chain.describe()
    ));
    let (code, vk) =
        proving::verifier_creation_code(&params, &SrsSource::InsecureTest, &keys_dir, &solc)?;
    let d = deploy::deploy(
        &mut chain,
        &operator,
        &DeployOptions {
            params,
            verifier_creation_code: code,
            reward_token: None,
            token_supply: U256::from(DEMO_POOL) * U256::from(1000u64),
            claim_window: 30 * 24 * 3600,
            voting_delay: 1,
            voting_period: DEMO_VOTING_PERIOD,
            timelock_delay: DEMO_TIMELOCK_DELAY,
        },
        &mut |_, _| {},
    )?;
    d.save(dir, &chain)?;
    let root = field::from_hex(&sealed.root)?;
    let published = deploy::publish_datanet(
        &mut chain,
        &operator,
        &d,
        name,
        sealed.version,
        &root,
        sealed.items,
    )?;

    let req = ProveRequest {
        datanet: name.into(),
        version: sealed.version,
        artifact: epoch_dir.to_path_buf(),
        params,
        epoch: 1,
        pool: DEMO_POOL,
        chain_id: chain.chain_id(),
        settlement: d.distributor.0 .0,
        srs: SrsSource::InsecureTest,
        keys_dir: keys_dir.clone(),
        out: dir.join("proof"),
        backend: zkattr_gpu_msm::BackendChoice::Auto,
        memory_limit: None,
    };
    say("proving epoch 1 (insecure test SRS; about a minute on 2 cores)");
    let proved = proving::prove_epoch(nets, &req, &mut Spinner::new(ctx.json))?;
    say(&format!("verifying {}", req.out.display()));
    let checked = proving::verify_dir(
        &req.out,
        &req.srs,
        &keys_dir,
        None,
        &mut Spinner::new(ctx.json),
    )?;

    // A tampered proof first: the contract must refuse it (and nothing is paid).
    let real = ProofDir::read(&req.out)?;
    let mut tampered = real.clone();
    let at = tampered.proof.len() / 2;
    tampered.proof[at] ^= 1;
    let refusal = match deploy::settle(&mut chain, &operator, &d, &tampered) {
        Err(Error::Reverted { reason, .. }) => reason,
        Err(e) => return Err(e),
        Ok(_) => {
            return Err(Error::ProofInvalid(
                "the distributor accepted a proof with a flipped byte".into(),
            ))
        }
    };
    say(&format!(
        "a proof with byte {at} flipped is refused on-chain: {refusal}"
    ));
    let settled = deploy::settle(&mut chain, &operator, &d, &real)?;

    // The three largest rewards are claimed by their contributors' keys (public test keys of the sample),
    // each through their receipt: checked offline (proof, paths, scores, reward), then against the chain,
    // then claimed with the receipt's claim path.
    let keys: Vec<_> = (0..20).map(sample::contributor_key).collect();
    let mut ranked: Vec<_> = real.entries.iter().filter(|e| e.amount > 0).collect();
    ranked.sort_by_key(|e| std::cmp::Reverse(e.amount));
    let mut claims = Vec::new();
    let mut receipt_ms = Vec::new();
    let receipt_of = |e: &zkattr_circuits::statement::RewardEntry| {
        req.out
            .join("receipts")
            .join(format!("0x{}.json", hex::encode(e.contributor)))
    };
    for e in ranked.iter().take(DEMO_CLAIMS) {
        let key = keys
            .iter()
            .find(|k| k.address().0 .0 == e.contributor)
            .ok_or_else(|| {
                Error::Deployment(format!(
                    "no sample key for 0x{}",
                    hex::encode(e.contributor)
                ))
            })?;
        let receipt = super::receipt::read_receipt(&receipt_of(e))?;
        let t0 = std::time::Instant::now();
        let report = zkattr_circuits::receipt::check(&receipt);
        receipt_ms.push(t0.elapsed().as_secs_f64() * 1e3);
        if let Some(c) = report.checks.iter().find(|c| !c.ok) {
            return Err(Error::ProofInvalid(format!(
                "{}'s receipt fails \"{}\": {}",
                receipt.contributor, c.title, c.detail
            )));
        }
        super::receipt::chain_check(&receipt, &mut chain).map_err(Error::Deployment)?;
        chain.fund_gas(key.address(), 10u128.pow(17))?;
        let (amount, r) = super::receipt::claim_with_receipt(&mut chain, key, &receipt)?;
        let balance = deploy::reward_balance(&mut chain, &d, key.address())?;
        if balance != U256::from(amount) {
            return Err(Error::Deployment(format!(
                "{} claimed {amount} but holds {balance}",
                key.address()
            )));
        }
        let after = super::receipt::chain_check(&receipt, &mut chain).map_err(Error::Deployment)?;
        if !after.ends_with("is claimed") {
            return Err(Error::Deployment(format!(
                "after the claim the chain says: {after}"
            )));
        }
        claims.push((key.address(), amount, r.gas_used));
    }
    let first = ranked
        .first()
        .ok_or_else(|| Error::Deployment("nobody is rewarded".into()))?;
    let again = super::receipt::claim_with_receipt(
        &mut chain,
        &keys
            .iter()
            .find(|k| k.address() == claims[0].0)
            .cloned()
            .expect("claimed key"),
        &super::receipt::read_receipt(&receipt_of(first))?,
    );
    let double_claim = match again {
        Err(Error::Reverted { reason, .. }) => reason,
        Err(e) => return Err(e),
        Ok(_) => {
            return Err(Error::Deployment(
                "a second claim of the same reward was paid".into(),
            ))
        }
    };
    let receipt_ms_max = receipt_ms.iter().copied().fold(0.0, f64::max);

    let st = &proved.statement;
    let gas_of = |prefix: &str| {
        settled
            .steps
            .iter()
            .find(|(w, _)| w.starts_with(prefix))
            .map_or(0, |(_, r)| r.gas_used)
    };
    let settle_gas = gas_of("settle");
    let claim_lines: Vec<String> = claims
        .iter()
        .map(|(a, amount, gas)| {
            format!("    {a} claimed {} OPEN ({gas} gas)", format_open(*amount))
        })
        .collect();
    let text = format!(
        "  deployed on {}: distributor {}, verifier for params_hash {} (vk {vk})\n  \
         published {name} v{} on-chain ({} transactions)\n  \
         proved epoch 1 (k = {}, proof {} bytes, INSECURE test SRS): {} reward-list entries pay {} OPEN of a \
         pool of {} OPEN\n  wrote {}; verified natively ({} receipts checked)\n  \
         a copy with one proof byte flipped: refused by the distributor ({refusal})\n  \
         settled epoch 1: {settle_gas} gas; reward root 0x{}\n  \
         {} contributors checked their receipts (offline: proof, paths, scores, reward, at most {receipt_ms_max:.1} ms; \
         then on-chain) and claimed with them:\n{}\n    a second claim is refused ({double_claim})\n  \
         check a receipt yourself: zkattr --home {} receipt verify {} --insecure-test-srs --chain\n\n{}",
        chain.describe(),
        d.distributor,
        st.params_hash,
        sealed.version,
        published.len(),
        st.k,
        proved.proof_bytes,
        proved.rewards.len(),
        format_open(proved.statement.public_inputs.total_rewarded.parse().unwrap_or(0)),
        format_open(DEMO_POOL),
        proved.out.display(),
        checked.receipts,
        hex::encode(settled.reward_root),
        claims.len(),
        claim_lines.join("\n"),
        dir.display(),
        receipt_of(first).display(),
        timing_table(&st.timings),
    );
    let json = json!({
        "dir": proved.out,
        "proof_bytes": proved.proof_bytes,
        "k": st.k,
        "insecure_test_srs": true,
        "public_inputs": st.public_inputs,
        "verified": true,
        "receipts_checked": checked.receipts,
        "timings": st.timings,
        "chain": {
            "chain_id": chain.chain_id(),
            "distributor": d.distributor.to_string(),
            "datanets": d.datanets.to_string(),
            "params": d.params.to_string(),
            "governor": d.governor.to_string(),
            "token": d.reward_token.to_string(),
            "deploy_gas": d.gas,
            "tampered_proof_refused": refusal,
            "settle_gas": settle_gas,
            "settle_steps": settled.steps.iter().map(|(w, r)| json!({"step": w, "gas": r.gas_used})).collect::<Vec<_>>(),
            "reward_root": format!("0x{}", hex::encode(settled.reward_root)),
            "claims": claims.iter().map(|(a, amount, gas)| json!({"account": a.to_string(), "amount": amount.to_string(), "gas": gas})).collect::<Vec<_>>(),
            "receipt_check_ms": receipt_ms,
            "double_claim_refused": double_claim,
        },
    });
    Ok((text, json))
}

/// `amount` base units as OPEN with up to 4 decimals.
fn format_open(amount: u128) -> String {
    let unit = 10u128.pow(18);
    let whole = amount / unit;
    let frac = (amount % unit) / 10u128.pow(14);
    format!("{whole}.{frac:04}")
}
