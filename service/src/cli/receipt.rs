//! `zkattr receipt verify|claim`: a contributor checks their receipt without trusting the operator, then
//! claims the reward it shows.

use std::path::{Path, PathBuf};

use alloy::{
    primitives::{Address, FixedBytes, U256},
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
};
use clap::{Args, Subcommand};
use serde_json::json;
use zkattr_circuits::receipt::{self, Check, Receipt, Report};

use super::{chain::ChainArgs, Ctx, Output};
use crate::{
    chain::{self, contracts::RewardDistributor, Chain},
    error::{Error, Result},
    proving::{self, SrsSource},
};

/// Contributor receipts.
#[derive(Debug, Subcommand)]
pub enum ReceiptCmd {
    /// Check a receipt: the proof, every path, the scores and the reward; optionally the chain.
    Verify(VerifyReceiptCmd),
    /// Claim the reward a receipt shows (the contributor's key).
    Claim(ClaimReceiptCmd),
}

impl ReceiptCmd {
    /// Runs the subcommand.
    pub fn run(&self, ctx: &Ctx) -> Result<Output> {
        match self {
            ReceiptCmd::Verify(c) => c.run(ctx),
            ReceiptCmd::Claim(c) => c.run(ctx),
        }
    }
}

/// `zkattr receipt verify`
#[derive(Debug, Args)]
pub struct VerifyReceiptCmd {
    /// The receipt (`receipts/0x….json` of a proof directory).
    pub file: PathBuf,
    /// Also re-derive the verifying key from this KZG setup and the circuit, and check that it is the
    /// receipt's (otherwise the key is taken from the receipt and its fingerprint shown).
    #[arg(long, value_name = "FILE", conflicts_with = "insecure_test_srs")]
    pub srs: Option<PathBuf>,
    /// Re-derive the verifying key from the seeded test setup (INSECURE; the demo's setup).
    #[arg(long)]
    pub insecure_test_srs: bool,
    /// Also check the chain: the embedded chain of --home.
    #[arg(long, conflicts_with = "rpc_url")]
    pub chain: bool,
    /// Also check the chain through this node's JSON-RPC.
    #[arg(long, value_name = "URL")]
    pub rpc_url: Option<String>,
}

/// `zkattr receipt claim`
#[derive(Debug, Args)]
pub struct ClaimReceiptCmd {
    /// The receipt.
    pub file: PathBuf,
    /// Chain and the contributor's key.
    #[command(flatten)]
    pub chain: ChainArgs,
}

/// Reads a receipt file, saying what is wrong with it when it cannot be read.
pub fn read_receipt(path: &Path) -> Result<Receipt> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| {
        Error::BadReceipt(format!(
            "{} is not a zkattr receipt ({}): {e}",
            path.display(),
            receipt::RECEIPT_FORMAT
        ))
    })
}

/// [`receipt::check`], with a panic of the verifying library (a crafted key it cannot handle) reported as
/// an error instead of a crash.
fn checked(r: &Receipt) -> Result<Report> {
    std::panic::catch_unwind(|| receipt::check(r)).map_err(|e| {
        let why = e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        Error::BadReceipt(format!(
            "the verifier could not process this receipt: {why}"
        ))
    })
}

/// The verifying key derived from `srs` and the circuit equals the receipt's.
fn key_check(r: &Receipt, srs: &SrsSource, keys_dir: &Path) -> std::result::Result<String, String> {
    let derived = proving::derive_verifier_key(r.params, r.snapshot_items as usize, srs, keys_dir)
        .map_err(|e| format!("could not derive the verifying key: {e}"))?;
    let file = derived.to_file();
    if file.vk_keccak != r.verifier.vk_keccak.to_lowercase() {
        return Err(format!(
            "the circuit's verifying key under this setup is {}; the receipt carries {}",
            file.vk_keccak, r.verifier.vk_keccak
        ));
    }
    if (&file.g1, &file.g2, &file.s_g2) != (&r.verifier.g1, &r.verifier.g2, &r.verifier.s_g2) {
        return Err("the receipt's setup points are not this setup's".into());
    }
    if file.constraint_system != r.verifier.constraint_system {
        return Err("the receipt's constraint system is not the attribution circuit's".into());
    }
    Ok(format!(
        "derived from the setup and the circuit: fingerprint {}",
        derived.fingerprint()
    ))
}

/// The settlement contract settled this epoch with this reward root; whether the entry was claimed.
pub fn chain_check(r: &Receipt, chain: &mut Chain) -> std::result::Result<String, String> {
    let p = &r.public_inputs;
    if chain.chain_id() != p.chain_id {
        return Err(format!(
            "the chain is {}; the receipt is for chain id {}",
            chain.chain_id(),
            p.chain_id
        ));
    }
    let at: Address = p
        .settlement
        .parse()
        .map_err(|e| format!("settlement {}: {e}", p.settlement))?;
    if !chain.has_code(at).map_err(|e| e.to_string())? {
        return Err(format!(
            "there is no contract at {at} on chain {}: nothing was settled there",
            p.chain_id
        ));
    }
    let info = chain
        .view(at, &RewardDistributor::epochInfoCall::new((p.epoch,)))
        .map_err(|e| format!("reading epoch {} at {at}: {e}", p.epoch))?;
    let root = format!("0x{}", hex::encode(info.rewardRoot.0));
    if !info.settled {
        return Err(format!("{at} has not settled epoch {}", p.epoch));
    }
    if root != r.reward_root.to_lowercase() {
        return Err(format!(
            "{at} settled epoch {} with reward root {root}; the receipt's is {}",
            p.epoch, r.reward_root
        ));
    }
    // What the contract proved against, beside the list: the parameters, the snapshot and the total.
    let fe = |s: &str| s.parse::<U256>().map_err(|e| format!("{s}: {e}"));
    if info.paramsHash != fe(&p.params_hash)? {
        return Err(format!(
            "{at} settled epoch {} under params_hash {:#066x}; the receipt's is {}",
            p.epoch, info.paramsHash, p.params_hash
        ));
    }
    if info.version != r.version {
        return Err(format!(
            "{at} settled epoch {} on snapshot version {}; the receipt's is {}",
            p.epoch, info.version, r.version
        ));
    }
    if info.totalRewarded.to_string() != p.total_rewarded {
        return Err(format!(
            "{at} settled epoch {} paying {} in all; the receipt's proof pays {}",
            p.epoch, info.totalRewarded, p.total_rewarded
        ));
    }
    let registry = chain
        .view(at, &RewardDistributor::datanetsCall::new(()))
        .map_err(|e| format!("reading the Datanet registry of {at}: {e}"))?;
    let registered = chain
        .view(
            registry,
            &crate::chain::contracts::DatanetRegistry::rootOfCall::new((
                info.datanet,
                info.version,
            )),
        )
        .map_err(|e| format!("reading the registered snapshot root: {e}"))?;
    if registered != fe(&p.datanet_root)? {
        return Err(format!(
            "the settled snapshot's registered root is {registered:#066x}; the receipt's datanet_root is {}",
            p.datanet_root
        ));
    }
    if info.cancelled || info.swept {
        return Err(format!(
            "{at} {} epoch {}: nothing can be claimed",
            if info.cancelled { "cancelled" } else { "swept" },
            p.epoch
        ));
    }
    let claimed = chain
        .view(
            at,
            &RewardDistributor::isClaimedCall::new((p.epoch, U256::from(r.list_index))),
        )
        .map_err(|e| format!("reading the claim bit: {e}"))?;
    if !claimed {
        let closes = chain
            .view(at, &RewardDistributor::claimsCloseAtCall::new((p.epoch,)))
            .map_err(|e| format!("reading the claim window: {e}"))?;
        let now = chain.timestamp().map_err(|e| e.to_string())?;
        if U256::from(now) > closes {
            return Err(format!(
                "the claim window of epoch {} closed at {closes} (chain time {now}); the reward was not claimed",
                p.epoch
            ));
        }
    }
    Ok(format!(
        "{at} settled epoch {} with this reward root, these parameters, this snapshot and this total; \
         your reward is {}",
        p.epoch,
        if claimed {
            "claimed"
        } else {
            "not claimed yet"
        }
    ))
}

fn render(report: &Report, file: &Path) -> (String, serde_json::Value) {
    let mut text = format!("receipt {}\n", file.display());
    for c in &report.checks {
        text.push_str(&format!(
            "  {} {:<44} {}\n",
            if c.ok { "ok  " } else { "FAIL" },
            c.title,
            c.detail
        ));
    }
    let failed = report.checks.iter().filter(|c| !c.ok).count();
    let key_derived = report.checks.iter().any(|c| c.id == "verifying_key");
    if report.ok {
        text.push_str(&format!(
            "valid: {} receives {} of the pool of {}",
            report.contributor, report.amount, report.pool
        ));
        if !key_derived {
            text.push_str(&format!(
                "\nnote: the proof was checked with the verifying key the receipt carries (fingerprint {}); \
                 --srs FILE re-derives the attribution circuit's key and checks it is that one",
                report.vk_fingerprint.as_deref().unwrap_or("?")
            ));
        }
    } else {
        text.push_str(&format!("INVALID: {failed} check(s) failed"));
    }
    let mut json = serde_json::to_value(report).expect("serialisable");
    json["key_derived"] = key_derived.into();
    (text, json)
}

impl VerifyReceiptCmd {
    /// Runs it.
    pub fn run(&self, ctx: &Ctx) -> Result<Output> {
        let r = read_receipt(&self.file)?;
        let mut report = checked(&r)?;
        let srs = match (&self.srs, self.insecure_test_srs) {
            (Some(p), _) => Some(SrsSource::File(p.clone())),
            (None, true) => Some(SrsSource::InsecureTest),
            (None, false) => None,
        };
        if let Some(srs) = srs {
            // Only for a receipt whose parameters and size can be a real circuit's.
            let sane = r.params.validate().is_ok()
                && r.snapshot_items >= 1
                && r.snapshot_items <= u64::from(r.params.circuit.max_items);
            let c = if sane {
                key_check(&r, &srs, &ctx.keys)
            } else {
                Err(
                    "not derived: the receipt's parameters or item count are not a circuit's"
                        .into(),
                )
            };
            report.add(Check::new(
                "verifying_key",
                "The verifying key is the circuit's",
                c,
            ));
        }
        if self.chain || self.rpc_url.is_some() {
            let c = Chain::open(&ctx.home, self.rpc_url.as_deref())
                .map_err(|e| e.to_string())
                .and_then(|mut chain| chain_check(&r, &mut chain));
            report.add(Check::new(
                "chain",
                "Settled on-chain with this reward root",
                c,
            ));
        }
        let (text, json) = render(&report, &self.file);
        if report.ok {
            Ok(Output { text, json })
        } else {
            Err(Error::ReceiptInvalid { text, json })
        }
    }
}

impl ClaimReceiptCmd {
    /// Runs it.
    pub fn run(&self, ctx: &Ctx) -> Result<Output> {
        let r = read_receipt(&self.file)?;
        let report = checked(&r)?;
        if !report.ok {
            let (text, json) = render(&report, &self.file);
            return Err(Error::ReceiptInvalid { text, json });
        }
        let (mut chain, key) = self.chain.open(&ctx.home)?;
        ensure_contributor(&key, &r)?;
        chain_check(&r, &mut chain).map_err(Error::Deployment)?;
        let (amount, tx) = claim_with_receipt(&mut chain, &key, &r)?;
        let at = &r.public_inputs.settlement;
        Ok(Output {
            text: format!(
                "{} claimed {amount} of epoch {} from {at} ({} gas)",
                key.address(),
                r.public_inputs.epoch,
                tx.gas_used
            ),
            json: json!({
                "account": key.address().to_string(),
                "amount": amount.to_string(),
                "epoch": r.public_inputs.epoch,
                "gas": tx.gas_used,
                "tx": tx.tx_hash.to_string(),
            }),
        })
    }
}

/// Refuses a key that is not the receipt's contributor's (the contract would pay nobody else anyway).
fn ensure_contributor(key: &PrivateKeySigner, r: &Receipt) -> Result<()> {
    if key.address().to_string().to_lowercase() != r.contributor.to_lowercase() {
        return Err(Error::Deployment(format!(
            "the key is {}'s; this receipt pays {}: claim with the contributor's key (--key FILE)",
            key.address(),
            r.contributor
        )));
    }
    Ok(())
}

/// Claims the reward receipt `r` shows with `key` (the contributor's), from the settlement contract the
/// receipt names, with the receipt's claim path. Returns the amount and the transaction's receipt.
pub fn claim_with_receipt(
    chain: &mut Chain,
    key: &PrivateKeySigner,
    r: &Receipt,
) -> Result<(u128, chain::Receipt)> {
    ensure_contributor(key, r)?;
    let amount: u128 = r.amount.parse().map_err(|_| {
        Error::BadReceipt(format!(
            "the receipt's amount {:?} is not a number",
            r.amount
        ))
    })?;
    if amount == 0 {
        return Err(Error::Deployment(format!(
            "{}'s reward in epoch {} is 0: nothing to claim",
            r.contributor, r.public_inputs.epoch
        )));
    }
    let at: Address = r
        .public_inputs
        .settlement
        .parse()
        .map_err(|e| Error::BadReceipt(format!("settlement: {e}")))?;
    let proof = r
        .reward_path
        .iter()
        .map(|h| h.parse::<FixedBytes<32>>())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::BadReceipt(format!("reward_path: {e}")))?;
    let tx = chain.transact(
        key,
        at,
        &RewardDistributor::claimCall::new((
            r.public_inputs.epoch,
            U256::from(r.list_index),
            U256::from(amount),
            proof,
        )),
        "claiming",
    )?;
    Ok((amount, tx))
}
