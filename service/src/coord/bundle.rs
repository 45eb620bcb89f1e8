//! Bundles and the content-addressed artifact store.
//!
//! A job's result (a training output directory, a proof directory) travels as a *bundle*: a JSON object
//! `{"files": {"relative/path": "<base64>"}}` of the directory's regular files, at most one folder deep. The
//! coordinator keeps bundles (and anything else workers download) in a content-addressed store under
//! `<home>/artifacts/`, named by the keccak256 of their bytes, so an address names exactly one content and a
//! download can be checked by hashing it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha3::{Digest, Keccak256};

use crate::error::{Error, Result};

/// A directory's files, base64 each.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// Relative path → base64 of the contents.
    pub files: BTreeMap<String, String>,
}

/// Whether `name` is a relative path a bundle may hold: one or two components of `[A-Za-z0-9._-]`, none of
/// them `.` or `..`, so unpacking cannot leave the target directory.
pub fn valid_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('/').collect();
    (1..=2).contains(&parts.len())
        && parts.iter().all(|p| {
            !p.is_empty()
                && *p != "."
                && *p != ".."
                && p.len() <= 128
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        })
}

impl Bundle {
    /// The regular files of `dir` and of its direct subfolders.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let mut files = BTreeMap::new();
        let mut add = |rel: String, path: &Path| -> Result<()> {
            let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
            files.insert(rel, base64::engine::general_purpose::STANDARD.encode(bytes));
            Ok(())
        };
        for entry in read_dir(dir)? {
            let (name, path, is_dir) = entry;
            if is_dir {
                for (sub, p, sub_is_dir) in read_dir(&path)? {
                    if !sub_is_dir {
                        add(format!("{name}/{sub}"), &p)?;
                    }
                }
            } else {
                add(name, &path)?;
            }
        }
        let b = Bundle { files };
        b.check()?;
        Ok(b)
    }

    /// Checks every name (see [`valid_name`]) and that every file decodes.
    pub fn check(&self) -> Result<()> {
        for (name, data) in &self.files {
            if !valid_name(name) {
                return Err(Error::BadArtifact(format!(
                    "bundle file name {name:?} is not allowed (relative, at most one folder, [A-Za-z0-9._-])"
                )));
            }
            if let Some((folder, _)) = name.split_once('/') {
                if self.files.contains_key(folder) {
                    return Err(Error::BadArtifact(format!(
                        "bundle file {folder} is also the folder of {name}"
                    )));
                }
            }
            base64::engine::general_purpose::STANDARD
                .decode(data)
                .map_err(|e| Error::BadArtifact(format!("bundle file {name}: not base64: {e}")))?;
        }
        Ok(())
    }

    /// The contents of file `name`.
    pub fn file(&self, name: &str) -> Result<Vec<u8>> {
        let data = self
            .files
            .get(name)
            .ok_or_else(|| Error::BadArtifact(format!("the bundle has no file {name}")))?;
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| Error::BadArtifact(format!("bundle file {name}: not base64: {e}")))
    }

    /// Writes the files into `dir` (created; must not exist).
    pub fn to_dir(&self, dir: &Path) -> Result<()> {
        self.check()?;
        if dir.exists() {
            return Err(Error::io(
                dir,
                std::io::Error::new(std::io::ErrorKind::AlreadyExists, "already exists"),
            ));
        }
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        for name in self.files.keys() {
            let path = dir.join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            }
            std::fs::write(&path, self.file(name)?).map_err(|e| Error::io(&path, e))?;
        }
        Ok(())
    }

    /// The bundle's bytes as stored and sent.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a bundle serialises")
    }

    /// Parses a bundle.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let b: Bundle = serde_json::from_slice(bytes)
            .map_err(|e| Error::BadArtifact(format!("not a bundle: {e}")))?;
        b.check()?;
        Ok(b)
    }
}

fn read_dir(dir: &Path) -> Result<Vec<(String, PathBuf, bool)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        let ty = entry.file_type().map_err(|e| Error::io(&path, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if ty.is_dir() || ty.is_file() {
            out.push((name, path, ty.is_dir()));
        }
    }
    out.sort();
    Ok(out)
}

/// The address of `bytes` in the store: `0x` + keccak256, hex.
pub fn address_of(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(Keccak256::digest(bytes)))
}

/// The content-addressed store under a directory.
#[derive(Debug, Clone)]
pub struct Artifacts {
    dir: PathBuf,
}

impl Artifacts {
    /// The store in `dir` (created when first written).
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    fn path(&self, address: &str) -> Result<PathBuf> {
        let hex = address.strip_prefix("0x").unwrap_or("");
        if hex.len() != 64
            || !hex
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        {
            return Err(Error::BadArtifact(format!(
                "{address:?} is not an artifact address (0x + 64 lowercase hex digits)"
            )));
        }
        Ok(self.dir.join(&hex[..2]).join(hex))
    }

    /// Stores `bytes` (durably: written beside, synced, renamed) and returns their address.
    pub fn put(&self, bytes: &[u8]) -> Result<String> {
        use std::io::Write;
        let address = address_of(bytes);
        let path = self.path(&address)?;
        if path.exists() {
            return Ok(address);
        }
        let parent = path.parent().expect("two levels");
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        let mut tmp = tempfile::NamedTempFile::new_in(parent).map_err(|e| Error::io(parent, e))?;
        tmp.write_all(bytes).map_err(|e| Error::io(&path, e))?;
        tmp.as_file().sync_all().map_err(|e| Error::io(&path, e))?;
        tmp.persist(&path).map_err(|e| Error::io(&path, e.error))?;
        Ok(address)
    }

    /// The bytes at `address`, checked against it; `None` when absent.
    pub fn get(&self, address: &str) -> Result<Option<Vec<u8>>> {
        let path = self.path(address)?;
        match std::fs::read(&path) {
            Ok(bytes) => {
                if address_of(&bytes) != address {
                    return Err(Error::Corrupt(format!(
                        "artifact {address} does not hash to its address (damaged on disk)"
                    )));
                }
                Ok(Some(bytes))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_round_trips_and_bad_names_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        std::fs::create_dir_all(src.join("receipts")).unwrap();
        std::fs::write(src.join("proof.bin"), [0u8, 1, 2, 255]).unwrap();
        std::fs::write(src.join("receipts/0xab.json"), "{}").unwrap();
        let b = Bundle::from_dir(&src).unwrap();
        assert_eq!(b.files.len(), 2);
        let back = Bundle::from_bytes(&b.to_bytes()).unwrap();
        back.to_dir(&tmp.path().join("dst")).unwrap();
        assert_eq!(
            std::fs::read(tmp.path().join("dst/proof.bin")).unwrap(),
            [0u8, 1, 2, 255]
        );
        for bad in [
            "../x",
            "/etc/passwd",
            "a/b/c",
            "a/../b",
            "",
            "a//b",
            "sp ace",
            ".",
        ] {
            assert!(!valid_name(bad), "{bad:?}");
            let mut evil = b.clone();
            evil.files.insert(bad.into(), String::new());
            assert!(Bundle::from_bytes(&evil.to_bytes()).is_err(), "{bad:?}");
        }
        assert!(valid_name("receipts/0xab.json") && valid_name("model.safetensors"));
        // A file that is also another file's folder cannot be unpacked: refused as the sender's fault.
        let mut clash = b.clone();
        clash.files.insert("receipts".into(), String::new());
        let e = Bundle::from_bytes(&clash.to_bytes())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("is also the folder of receipts/0xab.json"),
            "{e}"
        );
    }

    #[test]
    fn the_store_is_content_addressed_and_checks_what_it_reads() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Artifacts::new(tmp.path().join("artifacts"));
        let a = store.put(b"hello").unwrap();
        assert_eq!(a, address_of(b"hello"));
        assert_eq!(store.put(b"hello").unwrap(), a);
        assert_eq!(store.get(&a).unwrap().unwrap(), b"hello");
        assert!(store.get(&address_of(b"other")).unwrap().is_none());
        assert!(store.get("0x../../etc").is_err());
        // A damaged file is reported, not served.
        let path = store.path(&a).unwrap();
        std::fs::write(&path, b"hellO").unwrap();
        assert!(matches!(store.get(&a), Err(Error::Corrupt(_))));
    }
}
