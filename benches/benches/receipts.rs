//! Checking a contributor's receipt natively (`zkattr receipt verify`'s offline checks): the demo's epoch
//! (1,857 items, 20 contributors, k = 19), the receipt with the most items.
//!
//! - `receipts/check_cold`: the first receipt a process checks, the verifier key prepared from the receipt
//!   (its bytes checked against their hash, its constraint system rebuilt and hashed);
//! - `receipts/check_warm`: the receipt check alone (it reads the key again: half a millisecond).
//!
//! The receipts come from `zkattr demo`, run once into `target/bench-receipts` (about a minute on 2 cores)
//! unless `$ZKATTR_RECEIPTS_DIR` names a `receipts/` folder.
#![allow(clippy::unwrap_used)] // test and bench code: a panic is the failure report

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use zkattr_circuits::{
    receipt::{check, Receipt},
    verify::VerifierKey,
};

fn receipts_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("ZKATTR_RECEIPTS_DIR") {
        return PathBuf::from(d);
    }
    let home = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/bench-receipts"
    ));
    let dir = home.join("demo/proof/receipts");
    if !dir.is_dir() {
        eprintln!("receipts bench: running the demo into {}", home.display());
        let ctx = zkattr_service::cli::Ctx {
            keys: home.join("keys"),
            home: home.clone(),
            json: true,
        };
        zkattr_service::cli::demo::DemoCmd {
            item: 0,
            skip_proof: false,
            rpc_url: None,
            key: None,
        }
        .run(&ctx)
        .unwrap();
    }
    dir
}

fn receipts(c: &mut Criterion) {
    let dir = receipts_dir();
    let largest = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let text = std::fs::read_to_string(&largest).unwrap();
    let r: Receipt = serde_json::from_str(&text).unwrap();
    assert!(check(&r).ok);
    eprintln!(
        "receipts bench: {} ({} items, {} bytes)",
        largest.display(),
        r.items.len(),
        text.len()
    );
    let mut g = c.benchmark_group("receipts");
    g.sample_size(10);
    g.bench_function("check_cold", |b| {
        b.iter(|| {
            // A fresh key: what one `zkattr receipt verify` pays.
            let key = VerifierKey::from_file(&r.verifier).unwrap();
            let r: Receipt = serde_json::from_str(&text).unwrap();
            (key, check(&r).ok)
        })
    });
    g.bench_function("check_warm", |b| {
        b.iter(|| {
            let r: Receipt = serde_json::from_str(&text).unwrap();
            check(&r).ok
        })
    });
    g.finish();
}

criterion_group!(benches, receipts);
criterion_main!(benches);
