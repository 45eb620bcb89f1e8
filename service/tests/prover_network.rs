//! The prover network with real processes: a `zkattr serve` coordinator and `zkattr worker` processes run
//! an epoch (train → prove → verify) for a small sample Datanet (created, filled and sealed through the API), which then settles on the embedded chain,
//! exactly once; receipts come through the API. On the way, the faults: the coordinator is killed (SIGKILL)
//! mid-proof and restarted with its state intact; the worker proving is killed, its lease expires, and a
//! second worker proves the epoch; each accepted job is paid once. Runs on SQLite, and on PostgreSQL when
//! `ZKATTR_TEST_POSTGRES_URL` names a server (`scripts/test.sh` starts one).
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::Value;
use zkattr_service::{
    cli::Cli,
    coord::{bundle::Bundle, client::Client, server::EpochRequest},
    datanet::record::test_key,
};

const BIN: &str = env!("CARGO_BIN_EXE_zkattr");

#[path = "common/keys.rs"]
mod keys;
const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const ITEMS: usize = 8;
const POOL: &str = "1000000000000000000000";

/// A child process killed when dropped; its standard error is copied to ours, prefixed.
struct Proc {
    child: Child,
}

impl Proc {
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `zkattr` with `args`; returns it and, when `wait_for` is given, the first stderr line containing it.
fn spawn(name: &str, home: &Path, args: &[&str], wait_for: Option<&str>) -> (Proc, Option<String>) {
    let mut child = Command::new(BIN)
        .arg("--home")
        .arg(home)
        .args(args)
        .env("ZKATTR_KEYS_DIR", keys::shared_keys())
        .env("RUST_LOG", "info,halo2_base=error,sqlx=warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let name = name.to_string();
    let want = wait_for.map(str::to_string);
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("[{name}] {line}");
            if !sent && want.as_deref().is_some_and(|w| line.contains(w)) {
                let _ = tx.send(line);
                sent = true;
            }
        }
    });
    let line = wait_for.map(|w| {
        rx.recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("{w:?} not printed within 60 s"))
    });
    (Proc { child }, line)
}

fn cli(home: &Path, args: &[&str]) -> Value {
    let mut argv = vec!["zkattr", "--json", "--home", home.to_str().unwrap()];
    argv.extend(["--keys-dir", keys::shared_keys().to_str().unwrap()]);
    argv.extend(args);
    let c = Cli::try_parse_from(&argv).unwrap();
    c.run().unwrap_or_else(|e| panic!("{args:?}: {e}")).json
}

fn cli_err(home: &Path, args: &[&str]) -> String {
    let mut argv = vec!["zkattr", "--json", "--home", home.to_str().unwrap()];
    argv.extend(["--keys-dir", keys::shared_keys().to_str().unwrap()]);
    argv.extend(args);
    match Cli::try_parse_from(&argv).unwrap().run() {
        Ok(v) => panic!("{args:?} succeeded: {}", v.json),
        Err(e) => e.to_string(),
    }
}

fn key_file(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(format!("{name}.key"));
    let secret = test_key(name).to_bytes();
    std::fs::write(&p, format!("0x{}\n", hex::encode(secret))).unwrap();
    p
}

fn address(name: &str) -> String {
    format!(
        "{:#x}",
        alloy_primitives::Address::from_private_key(&test_key(name))
    )
}

fn start_coordinator(home: &Path, listen: &str, db: &str, params_hash_ops: &str) -> (Proc, String) {
    let (p, line) = spawn(
        "coordinator",
        home,
        &[
            "serve",
            "--listen",
            listen,
            "--database-url",
            db,
            "--operator",
            params_hash_ops,
            "--insecure-test-srs",
            "--lease-secs",
            "4",
            "--fee-per-job",
            "7",
        ],
        Some("listening on "),
    );
    let url = line
        .unwrap()
        .split("listening on ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_string();
    (p, url)
}

fn start_worker(home: &Path, url: &str, key: &Path, name: &str) -> Proc {
    start_worker_for(home, url, key, name, "train,prove")
}

fn start_worker_for(home: &Path, url: &str, key: &Path, name: &str, kinds: &str) -> Proc {
    spawn(
        name,
        home,
        &[
            "worker",
            "--coordinator",
            url,
            "--key",
            key.to_str().unwrap(),
            "--insecure-test-srs",
            "--kinds",
            kinds,
        ],
        Some("working for"),
    )
    .0
}

/// Polls `f` every 200 ms until it returns `Some`, for at most `secs`.
async fn until<T>(secs: u64, what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            Instant::now() < end,
            "timed out after {secs} s waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn network_epoch(db: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("coordinator");
    // The operator's Datanet, contracts and published root, in the coordinator's home.
    let records = tmp.path().join("records.jsonl");
    let all = std::fs::read_to_string(format!("{ROOT}/../data/digits/records.jsonl")).unwrap();
    let lines: Vec<&str> = all.lines().take(ITEMS).collect();
    std::fs::write(&records, lines.join("\n") + "\n").unwrap();
    // The coordinator first: the Datanet is created, filled and sealed through its API.
    let (mut coordinator, url) = start_coordinator(&home, "127.0.0.1:0", db, &address("operator"));
    let listen = url.trim_start_matches("http://").to_string();
    let owner = Client::new(&url, Some(test_key("owner"))).unwrap();
    owner.create_datanet("digits").await.unwrap();
    let added = owner
        .add_records("digits", std::fs::read(&records).unwrap().as_slice())
        .await
        .unwrap();
    assert_eq!(added["records"], ITEMS as u64);
    let sealed = owner.seal("digits").await.unwrap();
    assert_eq!(sealed["version"], 1);
    let mut p8 = zkattr_circuits::params::GovernanceParams::default();
    p8.circuit.max_items = 8;
    p8.circuit.shard_items = 8;
    p8.circuit.max_contributors = 8;
    let params = tmp.path().join("p8.toml");
    std::fs::write(&params, p8.to_toml().unwrap()).unwrap();
    let op_key = key_file(tmp.path(), "operator");
    let op = op_key.to_str().unwrap();
    let d = cli(
        &home,
        &[
            "deploy",
            "--insecure-test-srs",
            "--params",
            params.to_str().unwrap(),
            "--key",
            op,
        ],
    );
    let distributor = d["distributor"].as_str().unwrap().to_string();
    cli(
        &home,
        &[
            "datanet",
            "publish",
            "digits",
            "--version",
            "1",
            "--coordinator",
            &url,
            "--key",
            op,
        ],
    );

    let w1_key = key_file(tmp.path(), "worker-1");
    let w2_key = key_file(tmp.path(), "worker-2");
    let mut w1 = start_worker(&tmp.path().join("w1"), &url, &w1_key, "worker-1");

    let operator = Client::new(&url, Some(test_key("operator"))).unwrap();
    let request = EpochRequest {
        datanet: "digits".into(),
        version: 1,
        params_toml: Some(p8.to_toml().unwrap()),
        epoch: 1,
        pool: POOL.into(),
        chain_id: 31337,
        settlement: distributor.clone(),
        queries: std::fs::read_to_string(format!("{ROOT}/../data/digits/queries.jsonl")).unwrap(),
        seed: 2026,
        steps: Some(20),
    };
    let created = operator.create_epoch(&request).await.unwrap();
    let key = created["key"].as_str().unwrap().to_string();
    // The same epoch cannot be created twice.
    let again = operator.create_epoch(&request).await.unwrap_err();
    assert_eq!(
        again.status(),
        Some(reqwest::StatusCode::CONFLICT),
        "{again}"
    );
    let status = |c: &Client| {
        let (c, path) = (c.clone(), format!("/v1/epochs/{key}"));
        async move { c.get_json(&path).await.unwrap() }
    };
    let reader = Client::new(&url, None).unwrap();

    // Worker 1 trains, then starts proving: kill the coordinator mid-proof and restart it.
    until(300, "worker 1 to lease the proving job", async || {
        let s = status(&reader).await;
        (s["prove"]["state"] == "leased").then_some(())
    })
    .await;
    let before = status(&reader).await;
    assert_eq!(before["train"]["state"], "done");
    assert_eq!(before["train"]["worker"], address("worker-1"));
    assert_eq!(before["prove"]["worker"], address("worker-1"));
    coordinator.kill();
    let (mut coordinator, url2) = start_coordinator(&home, &listen, db, &address("operator"));
    assert_eq!(url2, url);
    let after = status(&reader).await;
    assert_eq!(
        after["train"], before["train"],
        "state intact across the restart"
    );
    assert_eq!(after["prove"]["state"], "leased");
    assert_eq!(after["model"], before["model"]);

    // Kill worker 1 mid-proof; its lease runs out and worker 2 proves the epoch.
    w1.kill();
    let mut w2 = start_worker(&tmp.path().join("w2"), &url, &w2_key, "worker-2");
    let done = until(600, "the epoch to be proven", async || {
        let s = status(&reader).await;
        assert_ne!(s["state"], "failed", "{s}");
        (s["state"] == "proven").then_some(s)
    })
    .await;
    assert_eq!(done["prove"]["worker"], address("worker-2"));
    assert_eq!(done["prove"]["attempts"], 2);
    let events = reader
        .get_json(&format!("/v1/jobs/{}", done["prove"]["id"]))
        .await
        .unwrap();
    let names: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["queued", "leased", "leased", "accepted"],
        "{events}"
    );
    // Each accepted job paid once, to the worker whose result was accepted.
    for (worker, job) in [("worker-1", &done["train"]), ("worker-2", &done["prove"])] {
        let w = reader
            .get_json(&format!("/v1/workers/{}", address(worker)))
            .await
            .unwrap();
        let fees = w["fees"].as_array().unwrap();
        assert_eq!(fees.len(), 1, "{w}");
        assert_eq!(fees[0]["job"], job["id"]);
        assert_eq!(fees[0]["amount"], "7");
        // What the worker advertised: no GPU here.
        let caps = &w["worker"]["capabilities"];
        assert_eq!(
            (
                caps["train_device"].as_str(),
                caps["prove_backend"].as_str()
            ),
            (Some("cpu"), Some("cpu")),
            "{w}"
        );
    }

    // The proof downloads, verifies, and settles once on the chain.
    let proof = Bundle::from_bytes(
        &reader
            .artifact(done["proof"].as_str().unwrap())
            .await
            .unwrap(),
    )
    .unwrap();
    let dir = tmp.path().join("proof");
    proof.to_dir(&dir).unwrap();
    cli(
        &home,
        &["verify", dir.to_str().unwrap(), "--insecure-test-srs"],
    );
    let settled = cli(&home, &["settle", dir.to_str().unwrap(), "--key", op]);
    assert_eq!(settled["epoch"], 1);
    assert!(
        cli_err(&home, &["settle", dir.to_str().unwrap(), "--key", op]).contains("already settled")
    );

    // Receipts through the API: exactly the proof's, for every contributor on the list.
    let list: Value = serde_json::from_slice(&proof.file("reward-list.json").unwrap()).unwrap();
    for entry in list.as_array().unwrap() {
        let who = entry["contributor"].as_str().unwrap().to_lowercase();
        let r = reader
            .get_bytes(&format!("/v1/receipts/{key}/{who}"))
            .await
            .unwrap();
        assert_eq!(r, proof.file(&format!("receipts/{who}.json")).unwrap());
    }
    let none = reader
        .get_bytes(&format!(
            "/v1/receipts/{key}/0x00000000000000000000000000000000000000ee"
        ))
        .await
        .unwrap_err();
    assert_eq!(none.status(), Some(reqwest::StatusCode::NOT_FOUND));

    // Worker 2 stops cleanly on SIGTERM.
    let pid = w2.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let end = Instant::now() + Duration::from_secs(30);
    let code = loop {
        if let Some(code) = w2.child.try_wait().unwrap() {
            break code;
        }
        assert!(Instant::now() < end, "worker 2 did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(code.success(), "worker 2 exited with {code}");

    // A dishonest worker on epoch 2: every result it sends that is not the epoch's own is rejected, counted
    // against it, and the job goes back to the queue.
    let mut second = request.clone();
    second.epoch = 2;
    let key2 = operator.create_epoch(&second).await.unwrap()["key"]
        .as_str()
        .unwrap()
        .to_string();
    let all = zkattr_service::coord::JobKind::ALL;
    // Each dishonest key is refused once per job: a worker whose result was rejected does not get it again.
    let cheat = async |name: &str| {
        let c = Client::new(&url, Some(test_key(name))).unwrap();
        c.register(serde_json::json!({})).await.unwrap();
        let grant = c.lease(&all, 5_000).await.unwrap().expect("a job to lease");
        (c, grant)
    };
    let refused = async |c: &Client,
                         grant: &zkattr_service::coord::server::LeaseGrant,
                         bundle: Bundle,
                         why: &str| {
        let e = c
            .submit(grant.lease.job, &grant.lease.lease_id, bundle.clone())
            .await
            .unwrap_err();
        assert_eq!(
            e.status(),
            Some(reqwest::StatusCode::UNPROCESSABLE_ENTITY),
            "{e}"
        );
        assert!(e.to_string().contains(why), "expected {why:?}: {e}");
        eprintln!("refused as expected: {e}");
        // The rejected lease is gone, and the job is not leased to this key again.
        let again = c
            .submit(grant.lease.job, &grant.lease.lease_id, bundle)
            .await
            .unwrap_err();
        assert_eq!(
            again.status(),
            Some(reqwest::StatusCode::CONFLICT),
            "{again}"
        );
        assert!(c.lease(&all, 0).await.unwrap().is_none());
    };
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let model = Bundle::from_bytes(
        &reader
            .artifact(done["model"].as_str().unwrap())
            .await
            .unwrap(),
    )
    .unwrap();
    // Training: an empty result; an artifact for other queries; then epoch 1's (valid: training does not
    // depend on the epoch number), accepted on the last allowed attempt.
    let (c1, t) = cheat("cheat-1").await;
    refused(
        &c1,
        &t,
        Bundle::default(),
        "result rejected: model.json: No such file",
    )
    .await;
    let (c2, t) = cheat("cheat-2").await;
    let mut other_queries = model.clone();
    let mut art: Value = serde_json::from_slice(&model.file("attribution.json").unwrap()).unwrap();
    art["queries"].as_array_mut().unwrap().pop();
    other_queries
        .files
        .insert("attribution.json".into(), b64(art.to_string().as_bytes()));
    refused(
        &c2,
        &t,
        other_queries,
        "attributes other queries than the epoch's",
    )
    .await;
    let (c3, t) = cheat("cheat-3").await;
    assert_eq!(t.lease.attempt, 3);
    c3.submit(t.lease.job, &t.lease.lease_id, model.clone())
        .await
        .unwrap();
    // Proving: epoch 1's valid proof; that proof with one byte flipped (and its digest updated, so only
    // the proof check stands); a statement of another shape.
    let p = c3.lease(&all, 5_000).await.unwrap().unwrap();
    refused(
        &c3,
        &p,
        proof.clone(),
        "not for this epoch: epoch is 1, the epoch's is 2",
    )
    .await;
    let (c4, p) = cheat("cheat-4").await;
    let mut flipped = proof.clone();
    let mut bytes = proof.file("proof.bin").unwrap();
    bytes[100] ^= 1;
    let mut st: Value = serde_json::from_slice(&proof.file("statement.json").unwrap()).unwrap();
    st["proof_keccak"] = zkattr_service::coord::bundle::address_of(&bytes).into();
    flipped.files.insert("proof.bin".into(), b64(&bytes));
    flipped
        .files
        .insert("statement.json".into(), b64(st.to_string().as_bytes()));
    refused(&c4, &p, flipped, "the epoch proof is not valid").await;
    let (c5, p) = cheat("cheat-5").await;
    let mut bigger = proof.clone();
    let mut st: Value = serde_json::from_slice(&proof.file("statement.json").unwrap()).unwrap();
    st["items"] = 100_000_000_000u64.into();
    bigger
        .files
        .insert("statement.json".into(), b64(st.to_string().as_bytes()));
    refused(&c5, &p, bigger, "statement.json is for 100000000000 items").await;
    // Three attempts spent: the proving job failed, and with it the epoch, until an operator requeues it.
    let s2 = reader
        .get_json(&format!("/v1/epochs/{key2}"))
        .await
        .unwrap();
    assert_eq!(
        (s2["state"].as_str(), s2["prove"]["state"].as_str()),
        (Some("failed"), Some("failed")),
        "{s2}"
    );
    // Epoch 3: a training result made under other feature settings than the epoch's parameters (here a
    // feature dimension one larger; such an artifact can be consistent with its own model and settings) could
    // never be proven for the epoch, and is refused before anything is re-derived.
    let mut third = request.clone();
    third.epoch = 3;
    operator.create_epoch(&third).await.unwrap();
    let (c6, t) = cheat("cheat-6").await;
    let mut other_settings = model.clone();
    let mut art: Value = serde_json::from_slice(&model.file("attribution.json").unwrap()).unwrap();
    let k = art["settings"]["k"].as_u64().unwrap();
    art["settings"]["k"] = (k + 1).into();
    other_settings
        .files
        .insert("attribution.json".into(), b64(art.to_string().as_bytes()));
    refused(
        &c6,
        &t,
        other_settings,
        &format!("the artifact's feature dimension is {}", k + 1),
    )
    .await;
    let job = s2["prove"]["id"].as_i64().unwrap();
    let e = c5.requeue(job).await.unwrap_err();
    assert_eq!(e.status(), Some(reqwest::StatusCode::FORBIDDEN), "{e}");
    operator.requeue(job).await.unwrap();
    let s2 = reader
        .get_json(&format!("/v1/epochs/{key2}"))
        .await
        .unwrap();
    assert_eq!(
        (s2["state"].as_str(), s2["prove"]["attempts"].as_i64()),
        (Some("proving"), Some(0)),
        "{s2}"
    );
    for (name, rejected, accepted) in [("cheat-1", 1, 0), ("cheat-3", 1, 1), ("cheat-5", 1, 0)] {
        let w = reader
            .get_json(&format!("/v1/workers/{}", address(name)))
            .await
            .unwrap();
        assert_eq!(
            (
                w["worker"]["rejected"].as_i64(),
                w["worker"]["accepted"].as_i64()
            ),
            (Some(rejected), Some(accepted)),
            "{w}"
        );
    }
    let m = String::from_utf8(reader.get_bytes("/metrics").await.unwrap()).unwrap();
    assert!(
        m.contains("zkattr_results_total{outcome=\"rejected\"} 6"),
        "{m}"
    );
    coordinator.kill();
}

/// The whole sample Datanet (1,857 items, 20 contributors, default parameters: `k = 19`) through the network:
/// a training worker and a proving worker, the coordinator checking both results; then settled on the
/// embedded chain, and every contributor's receipt fetched from the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_epoch_runs_through_the_network_and_settles() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("coordinator");
    let db = format!("sqlite://{}", tmp.path().join("jobs.db").display());
    let (mut coordinator, url) = start_coordinator(&home, "127.0.0.1:0", &db, &address("operator"));
    let owner = Client::new(&url, Some(test_key("owner"))).unwrap();
    owner.create_datanet("digits").await.unwrap();
    let added = owner
        .add_records("digits", zkattr_service::sample::DIGITS_RECORDS)
        .await
        .unwrap();
    assert_eq!(added["records"], 1857);
    owner.seal("digits").await.unwrap();
    // Deploying generates the verifier, and with it the keys the coordinator checks proofs with.
    let op_key = key_file(tmp.path(), "operator");
    let op = op_key.to_str().unwrap();
    let d = cli(&home, &["deploy", "--insecure-test-srs", "--key", op]);
    cli(
        &home,
        &[
            "datanet",
            "publish",
            "digits",
            "--version",
            "1",
            "--coordinator",
            &url,
            "--key",
            op,
        ],
    );
    let trainer = key_file(tmp.path(), "trainer");
    let prover = key_file(tmp.path(), "prover");
    let mut w1 = start_worker_for(&tmp.path().join("w1"), &url, &trainer, "trainer", "train");
    let mut w2 = start_worker_for(&tmp.path().join("w2"), &url, &prover, "prover", "prove");
    let operator = Client::new(&url, Some(test_key("operator"))).unwrap();
    let created = operator
        .create_epoch(&EpochRequest {
            datanet: "digits".into(),
            version: 1,
            params_toml: None,
            epoch: 1,
            pool: POOL.into(),
            chain_id: 31337,
            settlement: d["distributor"].as_str().unwrap().into(),
            queries: zkattr_service::sample::DIGITS_QUERIES.into(),
            seed: 2026,
            steps: None,
        })
        .await
        .unwrap();
    let key = created["key"].as_str().unwrap().to_string();
    let reader = Client::new(&url, None).unwrap();
    let done = until(1200, "the sample epoch to be proven", async || {
        let s = reader.get_json(&format!("/v1/epochs/{key}")).await.unwrap();
        assert_ne!(s["state"], "failed", "{s}");
        (s["state"] == "proven").then_some(s)
    })
    .await;
    assert_eq!(done["train"]["worker"], address("trainer"));
    assert_eq!(done["prove"]["worker"], address("prover"));
    let proof = Bundle::from_bytes(
        &reader
            .artifact(done["proof"].as_str().unwrap())
            .await
            .unwrap(),
    )
    .unwrap();
    let dir = tmp.path().join("proof");
    proof.to_dir(&dir).unwrap();
    let settled = cli(&home, &["settle", dir.to_str().unwrap(), "--key", op]);
    assert_eq!(settled["epoch"], 1);
    let list: Value = serde_json::from_slice(&proof.file("reward-list.json").unwrap()).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 20);
    for entry in list.as_array().unwrap() {
        let who = entry["contributor"].as_str().unwrap().to_lowercase();
        let r = reader
            .get_bytes(&format!("/v1/receipts/{key}/{who}"))
            .await
            .unwrap();
        assert_eq!(r, proof.file(&format!("receipts/{who}.json")).unwrap());
    }
    w1.kill();
    w2.kill();
    coordinator.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_epoch_survives_a_killed_coordinator_and_a_killed_worker_on_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", tmp.path().join("jobs.db").display());
    network_epoch(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_epoch_survives_a_killed_coordinator_and_a_killed_worker_on_postgres() {
    let Ok(server) = std::env::var("ZKATTR_TEST_POSTGRES_URL") else {
        if std::env::var("ZKATTR_REQUIRE_POSTGRES").as_deref() == Ok("1") {
            panic!("ZKATTR_REQUIRE_POSTGRES=1 but ZKATTR_TEST_POSTGRES_URL is not set");
        }
        eprintln!(
            "skipped on PostgreSQL: ZKATTR_TEST_POSTGRES_URL is not set (scripts/test.sh sets it)"
        );
        return;
    };
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(&server).await.unwrap();
    let name = format!("zkattr_network_{}", std::process::id());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let base = server.rsplit_once('/').unwrap().0;
    network_epoch(&format!("{base}/{name}")).await;
}
