//! A whole epoch on a chain, through the `zkattr` command line (run in-process): seal → train → deploy →
//! publish the root → prove for the deployed distributor → settle → every contributor with a reward claims,
//! with balances checked; and the refusals on the way (a proof bound to another contract, a flipped proof
//! byte, a second settlement, a second claim, a key with no entry). Once on the embedded chain, once against
//! a real anvil node (the npm binary of `scripts/setup-contracts.sh`, started and stopped here).
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::path::{Path, PathBuf};

use alloy::sol_types::SolCall;
use alloy::{
    node_bindings::Anvil,
    primitives::{Address, U256},
};
use clap::Parser;
use serde_json::Value;
use zkattr_service::{
    chain::{
        contracts::ParamsRegistry,
        deploy::{reward_balance, Deployment},
        Chain,
    },
    cli::Cli,
    sample::contributor_key,
};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// The sample records used: few, so that the circuit is small.
const ITEMS: usize = 8;
const POOL: &str = "1000000000000000000000";

#[path = "../../service/tests/common/keys.rs"]
mod keys;

fn run<A: AsRef<str> + std::fmt::Debug>(home: &Path, args: &[A]) -> Result<Value, String> {
    let mut argv = vec!["zkattr", "--json", "--home", home.to_str().unwrap()];
    // One key cache for the whole test run, shared with the service's tests.
    argv.extend(["--keys-dir", keys::shared_keys().to_str().unwrap()]);
    argv.extend(args.iter().map(AsRef::as_ref));
    let cli = Cli::try_parse_from(&argv).map_err(|e| e.to_string())?;
    cli.run().map(|o| o.json).map_err(|e| e.to_string())
}

fn ok<A: AsRef<str> + std::fmt::Debug>(home: &Path, args: &[A]) -> Value {
    run(home, args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn refused<A: AsRef<str> + std::fmt::Debug>(home: &Path, args: &[A], why: &str) {
    match run(home, args) {
        Ok(v) => panic!("{args:?} succeeded: {v}"),
        Err(e) => assert!(e.contains(why), "{args:?}: expected {why:?}, got: {e}"),
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn write_key(dir: &Path, name: &str, secret: &[u8]) -> PathBuf {
    let p = dir.join(format!("{name}.key"));
    std::fs::write(&p, format!("0x{}\n", hex::encode(secret))).unwrap();
    p
}

/// The epoch on the chain at `rpc` (the embedded chain when `None`), sent from `operator`.
fn epoch(tmp: &Path, rpc: Option<&str>, operator: &[u8]) {
    let home = tmp.join("home");
    let records = tmp.join("records.jsonl");
    let all = std::fs::read_to_string(format!("{ROOT}/../data/digits/records.jsonl")).unwrap();
    let lines: Vec<&str> = all.lines().take(ITEMS).collect();
    std::fs::write(&records, lines.join("\n") + "\n").unwrap();
    ok(&home, &["datanet", "create", "digits"]);
    ok(&home, &["datanet", "add", "digits", s(&records)]);
    ok(&home, &["datanet", "seal", "digits"]);
    let trained = tmp.join("epoch");
    let queries = format!("{ROOT}/../data/digits/queries.jsonl");
    ok(
        &home,
        &[
            "train",
            "digits",
            "--version",
            "1",
            "--steps",
            "20",
            "--out",
            s(&trained),
            "--queries",
            &queries,
        ],
    );
    let params = tmp.join("p8.toml");
    let defaults = zkattr_circuits::params::GovernanceParams::default();
    let mut p8 = defaults;
    p8.circuit.max_items = 8;
    p8.circuit.shard_items = 8;
    p8.circuit.max_contributors = 8;
    std::fs::write(&params, p8.to_toml().unwrap()).unwrap();

    let op_key = write_key(tmp, "operator", operator);
    let mut chain_args: Vec<&str> = vec!["--key", s(&op_key)];
    if let Some(url) = rpc {
        chain_args.extend(["--rpc-url", url]);
    }
    let with = |args: &[&'static str], extra: &[&str]| -> Vec<String> {
        args.iter()
            .map(|a| a.to_string())
            .chain(extra.iter().map(|a| a.to_string()))
            .collect()
    };
    let call = |args: Vec<String>| -> Vec<String> {
        args.into_iter()
            .chain(chain_args.iter().map(|a| a.to_string()))
            .collect()
    };
    let go = |v: Vec<String>| ok(&home, &v);
    let deny = |v: Vec<String>, why: &str| refused(&home, &v, why);

    // Deployment settings that cannot work are refused before anything is sent.
    deny(
        call(with(
            &["deploy", "--insecure-test-srs", "--claim-window", "60"],
            &["--params", s(&params)],
        )),
        "--claim-window 60 s would close claims",
    );
    deny(
        call(with(
            &["deploy", "--insecure-test-srs", "--voting-period", "0"],
            &["--params", s(&params)],
        )),
        "--voting-period must be",
    );
    let d = go(call(with(
        &[
            "deploy",
            "--insecure-test-srs",
            "--voting-period",
            "10",
            "--timelock-delay",
            "60",
        ],
        &["--params", s(&params)],
    )));
    let distributor = d["distributor"].as_str().unwrap().to_string();
    go(call(with(
        &["datanet", "publish", "digits", "--version", "1"],
        &[],
    )));
    // Publishing again changes nothing.
    let again = go(call(with(
        &["datanet", "publish", "digits", "--version", "1"],
        &[],
    )));
    assert_eq!(again["transactions"].as_array().unwrap().len(), 0);

    let proof = tmp.join("proof");
    ok(
        &home,
        &[
            "prove",
            "--datanet",
            "digits",
            "--version",
            "1",
            "--artifact",
            s(&trained),
            "--params",
            s(&params),
            "--epoch",
            "1",
            "--pool",
            POOL,
            "--chain-id",
            "31337",
            "--settlement",
            &distributor,
            "--insecure-test-srs",
            "--out",
            s(&proof),
        ],
    );

    // A proof bound to another contract is refused before anything is sent.
    let other = tmp.join("proof-other");
    copy_dir(&proof, &other);
    let st_path = other.join("statement.json");
    let mut st: Value = serde_json::from_str(&std::fs::read_to_string(&st_path).unwrap()).unwrap();
    st["public_inputs"]["settlement"] = "0x00000000000000000000000000000000000000ee".into();
    std::fs::write(&st_path, st.to_string()).unwrap();
    deny(
        call(with(&["settle"], &[s(&other)])),
        "bound to settlement contract",
    );
    // One flipped proof byte: the distributor's verifier refuses it.
    let flipped = tmp.join("proof-flipped");
    copy_dir(&proof, &flipped);
    let mut bytes = std::fs::read(flipped.join("proof.bin")).unwrap();
    bytes[100] ^= 1;
    std::fs::write(flipped.join("proof.bin"), bytes).unwrap();
    deny(call(with(&["settle"], &[s(&flipped)])), "InvalidProof()");

    let settled = go(call(with(&["settle"], &[s(&proof)])));
    assert_eq!(settled["epoch"], 1);
    deny(call(with(&["settle"], &[s(&proof)])), "already settled");

    // Every contributor with a reward claims it with their own key; balances follow.
    let list: Value =
        serde_json::from_str(&std::fs::read_to_string(proof.join("reward-list.json")).unwrap())
            .unwrap();
    // The embedded chain's state lives in a file the commands rewrite: read it afresh for every balance.
    let balance = |who| {
        let mut chain = Chain::open(&home, rpc).unwrap();
        let d = Deployment::load(&home, &mut chain).unwrap();
        let who = if who == Address::ZERO {
            d.distributor
        } else {
            who
        };
        reward_balance(&mut chain, &d, who).unwrap()
    };
    let mut paid = 0u128;
    let mut on_behalf = 0;
    let keys: Vec<_> = (0..20).map(contributor_key).collect();
    for (n, entry) in list.as_array().unwrap().iter().enumerate() {
        let who = entry["contributor"].as_str().unwrap().to_lowercase();
        let amount: u128 = entry["amount"].as_str().unwrap().parse().unwrap();
        let key = keys
            .iter()
            .find(|k| k.address().to_string().to_lowercase() == who)
            .unwrap();
        Chain::open(&home, rpc)
            .unwrap()
            .fund_gas(key.address(), 10u128.pow(18))
            .unwrap();
        let file = write_key(tmp, &who, &key.to_bytes().0);
        let claim = |v: &[&str]| -> Vec<String> {
            let mut a: Vec<String> = v.iter().map(|x| x.to_string()).collect();
            a.extend(["--key".to_string(), s(&file).to_string()]);
            if let Some(url) = rpc {
                a.extend(["--rpc-url".to_string(), url.to_string()]);
            }
            a
        };
        if amount == 0 {
            deny(claim(&["claim", s(&proof)]), "nothing to claim");
            continue;
        }
        // Every other contributor claims through their receipt, after checking it against the chain.
        let receipt = proof.join("receipts").join(format!("{who}.json"));
        let on_chain = |state: &str| {
            let mut a = vec![
                "receipt".to_string(),
                "verify".to_string(),
                s(&receipt).to_string(),
            ];
            a.push(rpc.map_or("--chain".to_string(), |u| format!("--rpc-url={u}")));
            let v = go(a);
            let chain = v["checks"].as_array().unwrap().last().unwrap().clone();
            assert_eq!(chain["id"], "chain");
            assert!(
                chain["detail"].as_str().unwrap().ends_with(state),
                "{chain}"
            );
        };
        let c = if n % 2 == 1 {
            on_chain("not claimed yet");
            let c = go(claim(&["receipt", "claim", s(&receipt)]));
            on_chain("is claimed");
            c
        } else if n % 4 == 0 {
            // Claimed on the contributor's behalf by the operator's key (claimFor): paid to the
            // contributor, gas paid by the operator.
            let c = go(call(with(&["claim"], &[s(&proof), "--for", &who])));
            assert_eq!(c["account"].as_str().unwrap().to_lowercase(), who);
            assert_ne!(c["sender"], c["account"]);
            on_behalf += 1;
            c
        } else {
            go(claim(&["claim", s(&proof)]))
        };
        assert_eq!(c["amount"].as_str().unwrap(), amount.to_string());
        assert_eq!(balance(key.address()), U256::from(amount));
        deny(claim(&["claim", s(&proof)]), "AlreadyClaimed");
        deny(claim(&["receipt", "claim", s(&receipt)]), "AlreadyClaimed");
        paid += amount;
    }
    assert!(paid > 0);
    assert!(
        on_behalf > 0,
        "no reward was claimed on a contributor's behalf"
    );
    let total: u128 = settled["total_rewarded"].as_str().unwrap().parse().unwrap();
    assert_eq!(paid, total, "everything proven was claimed");
    let pool: u128 = POOL.parse().unwrap();
    assert_eq!(
        balance(Address::ZERO),
        U256::from(pool - paid),
        "the distributor keeps the unpaid rest"
    );
    // Governance switches the parameter set off: delegate, propose, vote, queue, wait out the timelock,
    // execute. Executing before the delay is refused by the timelock.
    let hash = d["verifiers"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    go(call(with(&["gov", "delegate"], &[])));
    go(call(with(&["chain", "advance"], &[])));
    let proposal = go(call(with(
        &["gov", "propose", "--description", "switch p8 off"],
        &["--deactivate", &hash],
    )));
    let id = proposal["id"].as_str().unwrap().to_string();
    go(call(with(&["chain", "advance", "--blocks", "2"], &[])));
    go(call(with(&["gov", "vote", "--support", "for"], &[&id])));
    deny(
        call(with(&["gov", "queue"], &[&id])),
        "GovernorUnexpectedProposalState",
    );
    go(call(with(&["chain", "advance", "--blocks", "11"], &[])));
    assert_eq!(
        go(call(with(&["gov", "status"], &[&id])))["state"],
        "Succeeded"
    );
    go(call(with(&["gov", "queue"], &[&id])));
    deny(
        call(with(&["gov", "execute"], &[&id])),
        "TimelockUnexpectedOperationState",
    );
    go(call(with(&["chain", "advance", "--seconds", "61"], &[])));
    assert_eq!(
        go(call(with(&["gov", "execute"], &[&id])))["state"],
        "Executed"
    );
    {
        let mut chain = Chain::open(&home, rpc).unwrap();
        let dep = Deployment::load(&home, &mut chain).unwrap();
        let h: U256 = hash.parse().unwrap();
        let err = chain
            .view(dep.params, &ParamsRegistry::activeVerifierCall::new((h,)))
            .unwrap_err()
            .to_string();
        assert!(err.contains("InactiveParams"), "{err}");
    }

    // A key with no entry in the list.
    let stranger = write_key(tmp, "stranger", &[7u8; 32]);
    let mut a = vec![
        "claim".to_string(),
        s(&proof).to_string(),
        "--key".into(),
        s(&stranger).to_string(),
    ];
    if let Some(url) = rpc {
        a.extend(["--rpc-url".to_string(), url.to_string()]);
    }
    deny(a, "has no entry");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn an_epoch_settles_and_pays_on_the_embedded_chain() {
    let tmp = tempfile::tempdir().unwrap();
    epoch(tmp.path(), None, &[0x11; 32]);
}

#[test]
fn an_epoch_settles_and_pays_on_anvil() {
    let bin = Path::new(ROOT)
        .join("../verifier-contracts/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
    assert!(
        bin.exists(),
        "{} is missing: install the toolchain with scripts/setup-contracts.sh",
        bin.display()
    );
    let anvil = Anvil::at(bin).spawn();
    let tmp = tempfile::tempdir().unwrap();
    let key = anvil.keys()[0].to_bytes();
    epoch(tmp.path(), Some(&anvil.endpoint()), &key);
}

/// The README's main job, `zkattr demo`, with its on-chain part against anvil instead of the embedded chain:
/// the sample epoch (1,857 items, 20 contributors, `k = 19`) deployed, settled and claimed on a real node,
/// balances read back from the node.
#[test]
fn the_sample_epoch_settles_on_anvil() {
    let bin = Path::new(ROOT)
        .join("../verifier-contracts/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
    assert!(
        bin.exists(),
        "{} is missing: run scripts/setup-contracts.sh",
        bin.display()
    );
    let anvil = Anvil::at(bin).spawn();
    let tmp = tempfile::tempdir().unwrap();
    let key = write_key(tmp.path(), "operator", &anvil.keys()[0].to_bytes());
    let home = tmp.path().join("home");
    let url = anvil.endpoint();
    let v = ok(&home, &["demo", "--rpc-url", &url, "--key", s(&key)]);
    let chain_report = &v["proof"]["chain"];
    assert_eq!(chain_report["chain_id"], 31337);
    assert_eq!(chain_report["tampered_proof_refused"], "InvalidProof()");
    assert!(chain_report["double_claim_refused"]
        .as_str()
        .unwrap()
        .starts_with("AlreadyClaimed"));
    let demo = home.join("demo");
    let mut chain = Chain::open(&demo, Some(&url)).unwrap();
    let d = Deployment::load(&demo, &mut chain).unwrap();
    assert_eq!(
        d.distributor.to_string(),
        chain_report["distributor"].as_str().unwrap()
    );
    let mut claimed = U256::ZERO;
    for c in chain_report["claims"].as_array().unwrap() {
        let who: Address = c["account"].as_str().unwrap().parse().unwrap();
        let amount: U256 = c["amount"].as_str().unwrap().parse().unwrap();
        assert!(amount > U256::ZERO);
        assert_eq!(
            reward_balance(&mut chain, &d, who).unwrap(),
            amount,
            "{who}"
        );
        claimed += amount;
    }
    let pool: U256 = v["proof"]["public_inputs"]["pool"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        reward_balance(&mut chain, &d, d.distributor).unwrap(),
        pool - claimed
    );
}
