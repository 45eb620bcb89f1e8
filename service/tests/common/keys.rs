//! The key cache the end-to-end tests share (included by path from other test crates too; every including
//! crate lies one folder below the workspace root).

use std::{
    hash::Hasher,
    path::{Path, PathBuf},
};

/// The key cache shared by every test process of one test run (`<tmp>/shared-keys/<circuit>`), passed to
/// `zkattr` as `--keys-dir`: each circuit shape's keys (655 MB and about 35 s of key generation for the
/// sample's `k = 19`) are derived once per run instead of once per test home. The directory is named by a
/// hash of the circuit's sources (`circuits/src` under the workspace `root`), its manifest and `Cargo.lock`,
/// so a changed circuit or halo2 never reads keys an earlier one derived; caches of other sources are
/// removed, and so are files a killed writer left under temporary names.
pub fn shared_keys() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        shared_keys_in(
            Path::new(env!("CARGO_TARGET_TMPDIR")),
            &Path::new(env!("CARGO_MANIFEST_DIR")).join(".."),
        )
    })
}

fn shared_keys_in(tmp: &Path, root: &Path) -> PathBuf {
    fn add(h: &mut std::hash::DefaultHasher, path: &Path) {
        let mut entries: Vec<_> = std::fs::read_dir(path)
            .expect("the circuit's sources are readable")
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                add(h, &p);
            } else {
                h.write(p.strip_prefix(path).unwrap().as_os_str().as_encoded_bytes());
                h.write(&std::fs::read(&p).unwrap());
            }
        }
    }
    let mut h = std::hash::DefaultHasher::new();
    add(&mut h, &root.join("circuits/src"));
    for file in ["circuits/Cargo.toml", "Cargo.lock"] {
        h.write(&std::fs::read(root.join(file)).expect("the manifests are readable"));
    }
    let base = tmp.join("shared-keys");
    let dir = base.join(format!("{:016x}", h.finish()));
    if let Ok(entries) = std::fs::read_dir(&base) {
        for e in entries.flatten() {
            if e.path() != dir {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    std::fs::create_dir_all(&dir).expect("the shared key cache can be created");
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        if e.file_name().to_string_lossy().contains(".tmp-") {
            let _ = std::fs::remove_file(e.path());
        }
    }
    dir
}
