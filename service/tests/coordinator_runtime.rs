//! Checking a result never blocks the coordinator's async runtime: the coordinator runs in-process on a
//! single-threaded runtime (where one blocking call would stop every request), a worker submits a proof
//! whose check takes seconds (keys are derived for the epoch's shape, then the tampered proof fails), and
//! `/health` keeps answering all the while.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::time::Duration;

use serde_json::Value;
use zkattr_service::{
    coord::{
        bundle::{address_of, Bundle},
        client::Client,
        server::{self, App, Config, EpochRequest},
        JobKind,
    },
    datanet::{record::test_key, Datanets},
    epoch::{self, TrainOptions},
    proving::{self, ProveRequest, SrsSource},
};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

#[tokio::test(flavor = "current_thread")]
async fn a_long_result_check_leaves_the_runtime_free() {
    let home = tempfile::tempdir().unwrap();
    let mut cfg = Config::new(home.path().to_path_buf(), SrsSource::InsecureTest);
    cfg.operators = vec![alloy_primitives::Address::from_private_key(&test_key(
        "operator",
    ))];
    let app = App::open(cfg).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(server::serve(app, listener, std::future::pending()));

    // An 8-item Datanet through the API, and an epoch on it.
    let all = std::fs::read_to_string(format!("{ROOT}/../data/digits/records.jsonl")).unwrap();
    let records = all.lines().take(8).collect::<Vec<_>>().join("\n") + "\n";
    let owner = Client::new(&url, Some(test_key("owner"))).unwrap();
    owner.create_datanet("digits").await.unwrap();
    owner
        .add_records("digits", records.as_bytes())
        .await
        .unwrap();
    owner.seal("digits").await.unwrap();
    // The worker's own copy of the snapshot (what `zkattr worker` rebuilds from the served records).
    let local = tempfile::tempdir().unwrap();
    let mut nets = Datanets::open(local.path()).unwrap();
    nets.create("digits").unwrap();
    nets.import(
        "digits",
        std::io::Cursor::new(records.clone()),
        "test",
        Default::default(),
        &mut |_| {},
    )
    .unwrap();
    nets.seal("digits").unwrap();
    drop(nets);
    let mut params = zkattr_circuits::params::GovernanceParams::default();
    params.circuit.max_items = 8;
    params.circuit.shard_items = 8;
    params.circuit.max_contributors = 8;
    let request = EpochRequest {
        datanet: "digits".into(),
        version: 1,
        params_toml: Some(params.to_toml().unwrap()),
        epoch: 1,
        pool: "1000000".into(),
        chain_id: 31337,
        settlement: "0x00000000000000000000000000000000000000aa".into(),
        queries: std::fs::read_to_string(format!("{ROOT}/../data/digits/queries.jsonl")).unwrap(),
        seed: 2026,
        steps: Some(20),
    };
    let operator = Client::new(&url, Some(test_key("operator"))).unwrap();
    operator.create_epoch(&request).await.unwrap();

    // The worker's part, done here: train, then prove (on blocking threads, like the worker).
    let worker = Client::new(&url, Some(test_key("worker"))).unwrap();
    worker.register(serde_json::json!({})).await.unwrap();
    let t = worker.lease(&JobKind::ALL, 0).await.unwrap().unwrap();
    let work = tempfile::tempdir().unwrap();
    let (local_home, trained, p) = (
        local.path().to_path_buf(),
        work.path().join("trained"),
        params,
    );
    let queries = request.queries.clone();
    let t_dir = trained.clone();
    tokio::task::spawn_blocking(move || {
        let nets = Datanets::open(&local_home).unwrap();
        let opts = TrainOptions {
            steps: Some(20),
            params: p,
            ..Default::default()
        };
        epoch::train(&nets, "digits", 1, &opts, Some(&queries), &t_dir).unwrap();
    })
    .await
    .unwrap();
    worker
        .submit(
            t.lease.job,
            &t.lease.lease_id,
            Bundle::from_dir(&trained).unwrap(),
        )
        .await
        .unwrap();
    let pr = worker.lease(&JobKind::ALL, 0).await.unwrap().unwrap();
    let (local_home, out) = (local.path().to_path_buf(), work.path().join("proof"));
    let o = out.clone();
    let keys = work.path().join("keys");
    tokio::task::spawn_blocking(move || {
        let nets = Datanets::open(&local_home).unwrap();
        let mut settlement = [0u8; 20];
        settlement[19] = 0xaa;
        let req = ProveRequest {
            datanet: "digits".into(),
            version: 1,
            artifact: trained,
            params,
            epoch: 1,
            pool: 1_000_000,
            chain_id: 31337,
            settlement,
            srs: SrsSource::InsecureTest,
            keys_dir: keys,
            out: o,
            backend: Default::default(),
            memory_limit: None,
        };
        proving::prove_epoch(&nets, &req, &mut proving::Quiet).unwrap();
    })
    .await
    .unwrap();
    // Tamper with the proof (and its digest), so the check runs in full: keys, then a failed verification.
    let mut bundle = Bundle::from_dir(&out).unwrap();
    let mut bytes = std::fs::read(out.join("proof.bin")).unwrap();
    bytes[100] ^= 1;
    let mut st: Value =
        serde_json::from_slice(&std::fs::read(out.join("statement.json")).unwrap()).unwrap();
    st["proof_keccak"] = address_of(&bytes).into();
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    bundle.files.insert("proof.bin".into(), b64(&bytes));
    bundle
        .files
        .insert("statement.json".into(), b64(st.to_string().as_bytes()));

    let submit = tokio::spawn({
        let worker = worker.clone();
        async move {
            worker
                .submit(pr.lease.job, &pr.lease.lease_id, bundle)
                .await
        }
    });
    let http = reqwest::Client::new();
    let mut answered = 0usize;
    while !submit.is_finished() {
        let r = http.get(format!("{url}/health")).send().await.unwrap();
        assert!(r.status().is_success());
        answered += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let e = submit.await.unwrap().unwrap_err();
    assert!(
        e.to_string().contains("the epoch proof is not valid"),
        "{e}"
    );
    // On a single thread, a check run on the runtime would have let at most one or two through.
    assert!(
        answered >= 20,
        "only {answered} health checks answered during the result check"
    );
    eprintln!("{answered} health checks answered during the result check");
}
