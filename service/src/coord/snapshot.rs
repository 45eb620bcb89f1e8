//! Local snapshots of a coordinator's Datanet versions: a home's Datanet rebuilt from the signed records,
//! for the trainer and prover (workers) and for re-deriving a training result (the coordinator's check).

use std::path::{Path, PathBuf};

use super::client::Client;
use crate::datanet::{store::validate_name, Datanets, ImportOptions};
use crate::error::{Error, Result};

/// Where the snapshot of version `version` of `name`, with root `root`, lives:
/// `<home>/snapshots/<name>-v<version>-<root>` (the version too: the same items may carry another version
/// number on another coordinator).
pub(crate) fn dir(home: &Path, name: &str, version: u64, root: &str) -> Result<PathBuf> {
    validate_name(name)?;
    let root = root.trim_start_matches("0x");
    if root.is_empty() || !root.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::BadArtifact(format!(
            "{root:?} is not a snapshot root"
        )));
    }
    Ok(home
        .join("snapshots")
        .join(format!("{name}-v{version}-{root}")))
}

/// Whether the snapshot in `dir` was built completely (it is renamed into place only then).
pub(crate) fn is_complete(dir: &Path) -> bool {
    dir.join("complete").exists()
}

/// Builds the snapshot of `name` up to `version` in `dir` (see [`dir`]) from the signed `records` (JSON
/// lines, item order) and the version list `versions` (`(version, items, root)`, ascending, up to
/// `version`): every record's signature is checked on import, every version's root must be the one claimed
/// and the last one `root`. Built in a temporary folder and renamed into place, so a crash leaves nothing
/// half-built; when another builder got there first, its copy is used.
pub(crate) fn build(
    dir: &Path,
    name: &str,
    version: u64,
    root: &str,
    versions: &[(u64, u64, String)],
    records: &[u8],
) -> Result<PathBuf> {
    if is_complete(dir) {
        return Ok(dir.to_path_buf());
    }
    let (text, dir2) = (records, dir.to_path_buf());
    let parent = dir2.parent().expect("under snapshots/");
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let tmp = tempfile::tempdir_in(parent).map_err(|e| Error::io(parent, e))?;
    let mut nets = Datanets::open(tmp.path())?;
    nets.create(name)?;
    let lines: Vec<&[u8]> = text
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let mut done = 0usize;
    let mut last_root = None;
    for (v, items, want) in versions {
        let items = *items as usize;
        if items > lines.len() || items < done {
            return Err(Error::BadArtifact(format!(
                "the coordinator's version {v} has {items} items but sent {} records",
                lines.len()
            )));
        }
        let chunk = lines[done..items].join(&b'\n');
        nets.import(
            name,
            std::io::Cursor::new(chunk),
            "coordinator",
            ImportOptions::default(),
            &mut |_| {},
        )?;
        let sealed = nets.seal(name)?;
        if sealed.version != *v || &sealed.root != want {
            return Err(Error::BadArtifact(format!(
            "version {v} rebuilt from the coordinator's records has root {}, not the {want} it claims",
            sealed.root
        )));
        }
        done = items;
        last_root = Some(sealed.root);
    }
    if last_root.as_deref() != Some(root) {
        return Err(Error::BadArtifact(format!(
        "the job's snapshot root {root} is not version {version} of the coordinator's {name} (rebuilt: {last_root:?})"
        )));
    }
    drop(nets);
    std::fs::write(tmp.path().join("complete"), b"").map_err(|e| Error::io(tmp.path(), e))?;
    let kept = tmp.keep();
    match std::fs::rename(&kept, &dir2) {
        Ok(()) => Ok(dir2),
        // Another builder (job, check) finished it meanwhile.
        Err(_) if dir2.join("complete").exists() => {
            let _ = std::fs::remove_dir_all(&kept);
            Ok(dir2)
        }
        Err(e) => Err(Error::io(&dir2, e)),
    }
}

/// Fetches sealed `version` of `name` from the coordinator behind `client` and rebuilds it under `home`
/// (see [`build`]; cached). With `root`, the version must have that root. Returns the snapshot's folder and
/// the version's root.
pub(crate) async fn fetch(
    client: &Client,
    home: &Path,
    name: &str,
    version: u64,
    root: Option<&str>,
) -> Result<(PathBuf, String)> {
    if let Some(root) = root {
        let dir = dir(home, name, version, root)?;
        if is_complete(&dir) {
            return Ok((dir, root.to_string()));
        }
    }
    validate_name(name)?;
    let summary = client
        .get_json(&format!("/v1/datanets/{name}"))
        .await
        .map_err(client_err)?;
    let versions: Vec<(u64, u64, String)> = summary["versions"]
        .as_array()
        .ok_or_else(|| Error::BadArtifact("the coordinator's Datanet has no version list".into()))?
        .iter()
        .filter_map(|v| {
            Some((
                v["version"].as_u64()?,
                v["items"].as_u64()?,
                v["root"].as_str()?.to_string(),
            ))
        })
        .filter(|v| v.0 <= version)
        .collect();
    let claimed = match versions.iter().find(|v| v.0 == version) {
        Some(v) => v.2.clone(),
        None => {
            return Err(Error::VersionNotFound {
                name: name.into(),
                version,
                latest: versions.last().map_or(0, |v| v.0),
            })
        }
    };
    let root = root.unwrap_or(&claimed).to_string();
    let dir = dir(home, name, version, &root)?;
    if is_complete(&dir) {
        return Ok((dir, root));
    }
    let text = client
        .get_bytes(&format!("/v1/datanets/{name}/versions/{version}/records"))
        .await
        .map_err(client_err)?;
    let name = name.to_string();
    tokio::task::spawn_blocking(move || {
        build(&dir, &name, version, &root, &versions, &text).map(|dir| (dir, root))
    })
    .await
    .map_err(|e| Error::Coordinator(format!("snapshot thread: {e}")))?
}

fn client_err(e: super::client::ClientError) -> Error {
    Error::Coordinator(format!("coordinator: {e}"))
}
