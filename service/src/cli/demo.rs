//! `zkattr demo`: the main job on the embedded sample Datanet.
//!
//! Today it creates the `digits` Datanet in a fresh `<home>/demo`, imports the embedded signed records,
//! seals version 1, writes an inclusion proof for one item and verifies it against the sealed root, trains the
//! model on the snapshot, extracts the attribution artifact for the embedded queries, and recomputes it. It
//! then proves epoch 1's reward allocation (the default governance parameters, the insecure test SRS: a demo,
//! not real rewards) into `<home>/demo/proof` and runs the checks of `zkattr verify` on that directory
//! (keys from `<home>/keys`, shared with `zkattr prove`), natively and, when the project's Solidity compiler
//! is installed (`scripts/setup-contracts.sh`), with the generated verifier in an in-process EVM. The proof is
//! bound to a placeholder settlement address until the contracts deploy one on the embedded chain.

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
/// The demo's chain id (the usual local development chain's).
const DEMO_CHAIN_ID: u64 = 31_337;
/// The settlement address the demo proof is bound to. A placeholder until the contracts deploy one on the
/// embedded chain.
const DEMO_SETTLEMENT: [u8; 20] = [
    0x5e, 0x77, 0x1e, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
];

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
            Some(prove_and_verify(
                ctx,
                &nets,
                name,
                sealed.version,
                &dir,
                &epoch_dir,
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

/// Proves epoch 1 of the demo Datanet into `<dir>/proof` and verifies the directory; returns the report's text
/// and JSON.
fn prove_and_verify(
    ctx: &Ctx,
    nets: &Datanets,
    name: &str,
    version: u64,
    dir: &Path,
    epoch_dir: &Path,
) -> Result<(String, serde_json::Value)> {
    let req = ProveRequest {
        datanet: name.into(),
        version,
        artifact: epoch_dir.to_path_buf(),
        params: zkattr_circuits::params::GovernanceParams::default(),
        epoch: 1,
        pool: DEMO_POOL,
        chain_id: DEMO_CHAIN_ID,
        settlement: DEMO_SETTLEMENT,
        srs: SrsSource::InsecureTest,
        keys_dir: ctx.home.join("keys"),
        out: dir.join("proof"),
    };
    if !ctx.json {
        eprintln!("proving epoch 1 (insecure test SRS; several minutes on 2 cores)");
    }
    let proved = proving::prove_epoch(nets, &req, &mut Spinner::new(ctx.json))?;
    let solc = installed_solc();
    if !ctx.json {
        eprintln!("verifying {}", req.out.display());
    }
    let checked = proving::verify_dir(
        &req.out,
        &req.srs,
        &req.keys_dir,
        solc.as_deref().ok(),
        &mut Spinner::new(ctx.json),
    )?;
    let st = &proved.statement;
    // verify_dir runs the EVM check whenever it is given a compiler, so only a missing one skips it.
    let evm_line = match (&checked.evm, &solc) {
        (Some(e), _) => format!(
            "the generated Solidity verifier ({} bytes) accepts it in revm: {} gas",
            e.runtime_bytes, e.gas
        ),
        (None, why) => format!(
            "EVM check skipped: no Solidity compiler ({}); scripts/setup-contracts.sh installs it",
            why.as_ref().err().map_or("none given", String::as_str)
        ),
    };

    let text = format!(
        "  proved epoch 1 (k = {}, proof {} bytes, INSECURE test SRS, placeholder settlement address 0x{}): \
         {} reward-list entries pay {} of a pool of {} base units (1,000,000 OPEN)\n  wrote {}\n  \
         verified the proof directory natively ({} receipts checked); {}\n\n{}",
        st.k,
        proved.proof_bytes,
        hex::encode(DEMO_SETTLEMENT),
        proved.rewards.len(),
        st.public_inputs.total_rewarded,
        st.public_inputs.pool,
        proved.out.display(),
        checked.receipts,
        evm_line,
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
        "evm": checked.evm,
        "evm_skipped": solc.err(),
        "timings": st.timings,
    });
    Ok((text, json))
}
