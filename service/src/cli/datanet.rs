//! `zkattr datanet …`

use std::{
    fs::File,
    io::BufReader,
    path::{Path, PathBuf},
};

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use zkattr_circuits::field;

use super::{Ctx, Output};
use crate::{
    datanet::{store::DEFAULT_MAX_RECORD_BYTES, Datanets, ImportOptions, InclusionProof},
    error::{Error, Result},
};

/// Datanet commands.
#[derive(Debug, Subcommand)]
pub enum DatanetCmd {
    /// Create an empty Datanet.
    Create(CreateCmd),
    /// Import signed records from a JSONL file (all or nothing).
    Add(AddCmd),
    /// Seal the next immutable version: the Poseidon Merkle root over all items so far.
    Seal(SealCmd),
    /// Show a Datanet's items, contributors and versions.
    Show(ShowCmd),
    /// List the Datanets in this home.
    List(ListCmd),
    /// Write the inclusion proof of one item in one sealed version.
    ProveInclusion(ProveInclusionCmd),
    /// Check an inclusion proof file.
    VerifyInclusion(VerifyInclusionCmd),
    /// Register the Datanet on-chain (when needed) and seal a version's root there.
    Publish(super::chain::PublishCmd),
    /// Copy this home's sealed versions to a coordinator (`zkattr serve`), with the same roots.
    Push(PushCmd),
}

impl DatanetCmd {
    /// Runs the subcommand.
    pub fn run(&self, ctx: &Ctx) -> Result<Output> {
        match self {
            DatanetCmd::Create(c) => c.run(ctx),
            DatanetCmd::Add(c) => c.run(ctx),
            DatanetCmd::Seal(c) => c.run(ctx),
            DatanetCmd::Show(c) => c.run(ctx),
            DatanetCmd::List(c) => c.run(ctx),
            DatanetCmd::ProveInclusion(c) => c.run(ctx),
            DatanetCmd::VerifyInclusion(c) => c.run(ctx),
            DatanetCmd::Publish(c) => c.run(ctx),
            DatanetCmd::Push(c) => c.run(ctx),
        }
    }
}

/// `zkattr datanet create NAME`
#[derive(Debug, Args)]
pub struct CreateCmd {
    /// Name: letters, digits, '.', '_', '-'.
    pub name: String,
}

impl CreateCmd {
    /// Runs it.
    pub fn run(&self, ctx: &Ctx) -> Result<Output> {
        Datanets::open(&ctx.home)?.create(&self.name)?;
        Ok(Output {
            json: json!({ "datanet": self.name, "created": true }),
            text: format!("created Datanet {} in {}", self.name, ctx.home.display()),
        })
    }
}

/// `zkattr datanet add NAME FILE.jsonl`
#[derive(Debug, Args)]
pub struct AddCmd {
    /// The Datanet.
    pub name: String,
    /// JSONL file, one signed record per line.
    pub file: PathBuf,
    /// Refuse records (lines) longer than this many bytes.
    #[arg(long, default_value_t = DEFAULT_MAX_RECORD_BYTES)]
    pub max_record_bytes: u64,
}

/// A progress bar over the bytes of an import, drawn on standard error when it is a terminal.
pub fn import_progress(total: u64, hidden: bool) -> ProgressBar {
    let target = if hidden {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    let bar = ProgressBar::with_draw_target(Some(total), target);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} importing [{bar:30}] {bytes}/{total_bytes} ({eta})",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar
}

/// Imports one file with a progress bar.
pub fn import_file(
    nets: &mut Datanets,
    name: &str,
    path: &Path,
    opts: ImportOptions,
    hide_progress: bool,
) -> Result<crate::datanet::ImportSummary> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let total = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = import_progress(total, hide_progress);
    let out = nets.import(
        name,
        BufReader::new(file),
        &path.display().to_string(),
        opts,
        &mut |n| bar.set_position(n),
    );
    bar.finish_and_clear();
    out
}

impl AddCmd {
    /// Runs it.
    pub fn run(&self, ctx: &Ctx) -> Result<Output> {
        let mut nets = Datanets::open(&ctx.home)?;
        let opts = ImportOptions {
            max_record_bytes: self.max_record_bytes,
        };
        let s = import_file(&mut nets, &self.name, &self.file, opts, ctx.json)?;
        Ok(Output {
            text: format!(
                "added {} records to {} (items {}..{}); {} items in all",
                s.records,
                s.datanet,
                s.first_item,
                s.items - 1,
                s.items
            ),
            json: serde_json::to_value(&s).expect("serialisable"),
        })
    }
}

/// `zkattr datanet seal NAME`
#[derive(Debug, Args)]
pub struct SealCmd {
    /// The Datanet.
    pub name: String,
}

impl SealCmd {
    /// Runs it.
    pub fn run(&self, ctx: &Ctx) -> Result<Output> {
        let v = Datanets::open(&ctx.home)?.seal(&self.name)?;
        Ok(Output {
            json: json!({ "root": v.root, "items": v.items, "version": v.version }),
            text: format!(
                "sealed {} version {}: {} items, depth {}, root {}",
                v.datanet, v.version, v.items, v.depth, v.root
            ),
        })
    }
}

/// `zkattr datanet show NAME`
#[derive(Debug, Args)]
pub struct ShowCmd {
    /// The Datanet.
    pub name: String,
}

impl ShowCmd {
    /// Runs it.
    pub fn run(&self, ctx: &Ctx) -> Result<Output> {
        let s = Datanets::open(&ctx.home)?.show(&self.name)?;
        let mut text = format!(
            "Datanet {}: {} items from {} contributors, {} imports, {} unsealed items\n",
            s.name, s.items, s.contributors, s.imports, s.unsealed_items
        );
        if s.versions.is_empty() {
            text.push_str("no sealed versions");
        }
        for v in &s.versions {
            text.push_str(&format!(
                "  v{}: {} items, depth {}, root {}\n",
                v.version, v.items, v.depth, v.root
            ));
        }
        Ok(Output {
            json: serde_json::to_value(&s).expect("serialisable"),
            text: text.trim_end().into(),
        })
    }
}

/// `zkattr datanet list`
#[derive(Debug, Args)]
pub struct ListCmd {}

impl ListCmd {
    /// Runs it.
    pub fn run(&self, ctx: &Ctx) -> Result<Output> {
        let names = match Datanets::open_existing(&ctx.home)? {
            Some(nets) => nets.list()?,
            None => vec![],
        };
        let text = if names.is_empty() {
            "no Datanets".to_owned()
        } else {
            names.join("\n")
        };
        Ok(Output {
            json: json!({ "datanets": names }),
            text,
        })
    }
}

/// `zkattr datanet prove-inclusion NAME --version V --item I`
#[derive(Debug, Args)]
pub struct ProveInclusionCmd {
    /// The Datanet.
    pub name: String,
    /// The sealed version.
    #[arg(long)]
    pub version: u64,
    /// The item index.
    #[arg(long)]
    pub item: u64,
    /// Where to write the proof (default: NAME-vV-itemI.inclusion.json in the current directory).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Leave the record's content out of the file (the proof still verifies).
    #[arg(long)]
    pub without_content: bool,
}

/// Writes `text` to `path` atomically (temporary file, then rename), so a crash leaves no half-written file.
pub fn write_atomic(path: &Path, text: &str) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

impl ProveInclusionCmd {
    /// Runs it.
    pub fn run(&self, ctx: &Ctx) -> Result<Output> {
        let mut proof =
            Datanets::open(&ctx.home)?.prove_inclusion(&self.name, self.version, self.item)?;
        if self.without_content {
            proof.item.content = None;
        }
        let path = self.out.clone().unwrap_or_else(|| {
            PathBuf::from(format!(
                "{}-v{}-item{}.inclusion.json",
                self.name, self.version, self.item
            ))
        });
        write_atomic(&path, &proof.to_json())?;
        Ok(Output {
            json: json!({ "file": path, "datanet": self.name, "version": self.version, "item": self.item, "root": proof.root }),
            text: format!(
                "wrote {} (item {} of {} v{}, root {})",
                path.display(),
                self.item,
                self.name,
                self.version,
                proof.root
            ),
        })
    }
}

/// `zkattr datanet verify-inclusion FILE`
#[derive(Debug, Args)]
pub struct VerifyInclusionCmd {
    /// The proof file.
    pub file: PathBuf,
    /// The root to check against (for example the one registered on-chain). Without it, the root sealed in
    /// this home is used when the home has that Datanet version, else only the file's own root.
    #[arg(long)]
    pub root: Option<String>,
}

impl VerifyInclusionCmd {
    /// Runs it.
    pub fn run(&self, ctx: &Ctx) -> Result<Output> {
        let text = std::fs::read_to_string(&self.file).map_err(|e| Error::io(&self.file, e))?;
        let proof = InclusionProof::from_json(&text)?;
        let (expected, source) = match &self.root {
            Some(r) => (Some(field::from_hex(r)?), "--root".to_owned()),
            None => match Datanets::open_existing(&ctx.home)? {
                Some(nets) => match nets.version(&proof.datanet, proof.version) {
                    Ok(v) => (
                        Some(field::from_hex(&v.root)?),
                        format!("sealed in {}", ctx.home.display()),
                    ),
                    Err(Error::DatanetNotFound { .. } | Error::VersionNotFound { .. }) => {
                        (None, "file".into())
                    }
                    Err(e) => return Err(e),
                },
                None => (None, "file".into()),
            },
        };
        let v = proof.verify(expected)?;
        let note = if expected.is_none() {
            " (checked against the root in the file only: compare it with the registered root)"
        } else {
            ""
        };
        Ok(Output {
            text: format!(
                "valid: item {} of {} v{} was contributed by {} under root {} [root from {}]{}",
                v.item, v.datanet, v.version, v.contributor, v.root, source, note
            ),
            json: json!({ "valid": true, "root_source": source, "proof": v }),
        })
    }
}

/// `zkattr datanet push NAME --coordinator URL --key FILE`
#[derive(Debug, Args)]
pub struct PushCmd {
    /// Datanet name (in this home; created on the coordinator, owned by the key, when it is not there).
    pub name: String,
    /// The coordinator's URL.
    #[arg(long, value_name = "URL")]
    pub coordinator: String,
    /// Private key file that signs the requests: the coordinator's Datanet's owner (or an operator, with
    /// --operator), since it seals.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The key is one of the coordinator's operators (who may seal any Datanet): skip the owner check.
    #[arg(long)]
    pub operator: bool,
}

impl PushCmd {
    /// Runs it: the coordinator's versions must be the first of this home's (same items, same roots) with
    /// nothing unsealed after them; each later version's records are added in one request (all or nothing)
    /// and sealed, and the root the coordinator seals must be this home's.
    pub fn run(&self, ctx: &Ctx) -> Result<Output> {
        use crate::coord::client::{Client, ClientError};
        let nets = Datanets::open(&ctx.home)?;
        let local = nets.show(&self.name)?;
        if local.versions.is_empty() {
            return Err(Error::Coordinator(format!(
                "{} has no sealed version to push (seal one with `zkattr datanet seal {}`)",
                self.name, self.name
            )));
        }
        // Every sealed record, in item order (version v is the first `items` of them).
        let latest = local.versions.last().map_or(0, |v| v.version);
        let records = nets.export_records(&self.name, latest)?;
        drop(nets);
        let key = crate::chain::read_key(&self.key)?;
        let name = self.name.as_str();
        let fail = |what: &str, e: ClientError| Error::Coordinator(format!("{what}: {e}"));
        let pushed = super::network::run_async(async {
            let client = Client::new(&self.coordinator, Some(key.credential().clone()))
                .map_err(|e| fail("--coordinator", e))?;
            let summary = match client.get_json(&format!("/v1/datanets/{name}")).await {
                Ok(s) => s,
                Err(e) if e.status() == Some(reqwest::StatusCode::NOT_FOUND) => {
                    client
                        .create_datanet(name)
                        .await
                        .map_err(|e| fail("creating it on the coordinator", e))?;
                    client
                        .get_json(&format!("/v1/datanets/{name}"))
                        .await
                        .map_err(|e| fail("reading it back", e))?
                }
                Err(e) => return Err(fail("reading the coordinator's copy", e)),
            };
            // Checked before anything is added: records added under someone else's Datanet could not be
            // sealed by this key and would block every later push.
            let me = format!("{:#x}", key.address());
            let owner = summary["owner"].as_str().unwrap_or_default().to_lowercase();
            if !self.operator && owner != me {
                return Err(Error::Coordinator(format!(
                    "the coordinator's {name} is owned by {owner}, not by {me} (the key given); push with the \
                     owner's key, or with an operator's and --operator"
                )));
            }
            let remote: Vec<(u64, u64, String)> = summary["versions"]
                .as_array()
                .map(|vs| {
                    vs.iter()
                        .filter_map(|v| {
                            Some((
                                v["version"].as_u64()?,
                                v["items"].as_u64()?,
                                v["root"].as_str()?.to_string(),
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default();
            for (r, l) in remote.iter().zip(&local.versions) {
                if (r.0, r.1, r.2.as_str()) != (l.version, l.items, l.root.as_str()) {
                    return Err(Error::Coordinator(format!(
                        "the coordinator's {name} differs from this home's at version {}: {} items, root {} there; \
                         {} items, root {} here",
                        l.version, r.1, r.2, l.items, l.root
                    )));
                }
            }
            if remote.len() > local.versions.len() {
                return Err(Error::Coordinator(format!(
                    "the coordinator's {name} has {} versions, this home's only {}",
                    remote.len(),
                    local.versions.len()
                )));
            }
            let mut have = remote.last().map_or(0, |r| r.1);
            let remote_items = summary["items"].as_u64().unwrap_or(have);
            let mut pushed = Vec::new();
            if remote_items > have {
                // Never sealed blindly: they may be anyone's records (or this home's, from a push cut off
                // before its seal, which only a person can tell).
                return Err(Error::Coordinator(format!(
                    "the coordinator's {name} has {} unsealed items after version {}; a push adds only to a \
                     sealed Datanet (if they are this home's next version from a push that was cut off, have \
                     the owner seal them and push again: the roots are compared)",
                    remote_items - have,
                    remote.len()
                )));
            }
            for v in &local.versions[remote.len()..] {
                let body = records[have as usize..v.items as usize].join("\n") + "\n";
                client
                    .add_records(name, body.as_bytes())
                    .await
                    .map_err(|e| {
                        fail(&format!("adding the records of version {}", v.version), e)
                    })?;
                // Sealed only at exactly this version's item count: records someone added in between are
                // refused (409), not sealed into this version.
                let sealed = client
                    .seal_items(name, v.items)
                    .await
                    .map_err(|e| fail(&format!("sealing version {}", v.version), e))?;
                if sealed["version"].as_u64() != Some(v.version)
                    || sealed["root"].as_str() != Some(v.root.as_str())
                {
                    return Err(Error::Coordinator(format!(
                        "the coordinator sealed {sealed} for this home's version {} (root {})",
                        v.version, v.root
                    )));
                }
                have = v.items;
                pushed.push(json!({"version": v.version, "items": v.items, "root": v.root}));
            }
            Ok(pushed)
        })??;
        let text = if pushed.is_empty() {
            format!(
                "the coordinator already has every version of {} ({})",
                self.name,
                local.versions.len()
            )
        } else {
            pushed
                .iter()
                .map(|v| {
                    format!(
                        "{} v{}: {} items, root {} (the same on the coordinator)",
                        self.name,
                        v["version"],
                        v["items"],
                        v["root"].as_str().unwrap_or("")
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        Ok(Output {
            json: json!({"datanet": self.name, "coordinator": self.coordinator, "pushed": pushed}),
            text,
        })
    }
}
