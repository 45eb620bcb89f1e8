//! `zkattr demo`: the main job on the embedded sample Datanet.
//!
//! Today it creates the `digits` Datanet in a fresh `<home>/demo`, imports the embedded signed records,
//! seals version 1, writes an inclusion proof for one item and verifies it against the sealed root, trains the
//! model on the snapshot, extracts the attribution artifact for the embedded queries, and recomputes it.
//! Proving and settlement join this pipeline as they land.

use std::{io::Cursor, path::Path};

use clap::Args;
use serde_json::json;
use zkattr_circuits::field;

use super::{datanet::write_atomic, Ctx, Output};
use crate::{
    datanet::{Datanets, ImportOptions, InclusionProof},
    epoch,
    error::{Error, Result},
    sample,
};

/// Marker file that makes a directory recognisably the demo's own (and so safe to clear).
const MARKER: &str = ".zkattr-demo";

/// `zkattr demo`
#[derive(Debug, Args)]
pub struct DemoCmd {
    /// Which item to prove inclusion of.
    #[arg(long, default_value_t = 0)]
    pub item: u64,
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

        let text = format!(
            "demo in {}\n  imported {} signed records from {} contributors\n  sealed {name} v{}: root {} (depth {})\n  \
             inclusion proof of item {} by {} written to {} and verified against the sealed root\n  \
             trained {} ({:.1} s, train accuracy {:.3}): model_commitment {}\n  \
             attribution artifact for {} queries: features_root {}, query_commitment {}\n  \
             recomputed all {} items' features bit for bit",
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
            }),
            text,
        })
    }
}
