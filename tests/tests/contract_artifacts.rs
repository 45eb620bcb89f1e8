//! The contract artifacts zkattr embeds (`verifier-contracts/artifacts/`) are what forge builds from the
//! sources now: ABI and creation code, byte for byte. Regenerate them with `scripts/contract-artifacts.sh`.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::{path::Path, process::Command};

use zkattr_service::chain::contracts::ARTIFACTS;

#[test]
fn committed_artifacts_match_a_fresh_forge_build() {
    let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("../verifier-contracts");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let status = Command::new(project.join("bin/forge"))
        .args(["build", "--quiet", "--out"])
        .arg(&out)
        .arg("--cache-path")
        .arg(tmp.path().join("cache"))
        .status()
        .expect("verifier-contracts/bin/forge runs (scripts/setup-contracts.sh installs forge)");
    assert!(status.success(), "forge build failed");
    for (name, text) in ARTIFACTS {
        let committed: serde_json::Value = serde_json::from_str(text).unwrap();
        let built: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(out.join(format!("{name}.sol/{name}.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(
            committed["abi"], built["abi"],
            "{name}: the committed ABI differs from the sources; run scripts/contract-artifacts.sh"
        );
        assert_eq!(
            committed["bytecode"]["object"], built["bytecode"]["object"],
            "{name}: the committed creation code differs from the sources; run scripts/contract-artifacts.sh"
        );
    }
}
