//! A bounded load test of the coordinator on loopback: receipt queries and job leases.
//!
//! `cargo run --release -p zkattr-benches --example coordinator_load [-- SECONDS CLIENTS]`
//!
//! Starts the coordinator in this process (SQLite in a scratch home; PostgreSQL with
//! `ZKATTR_LOAD_DATABASE_URL=postgres://…`), fills it with one proven epoch whose proof bundle holds 200
//! receipts (fabricated through the store: no proving) and 100,000 queued jobs, then runs two phases of
//! SECONDS each (default 10) with CLIENTS concurrent clients (default 16):
//! - receipts: `GET /v1/receipts/{epoch}/{contributor}` for random contributors;
//! - leases: signed `POST /v1/jobs/lease` (no wait) by CLIENTS registered workers, each getting a job.
//!
//! Prints one Markdown table row per phase: requests, throughput, p50 / p99 / max latency. Results, with the
//! machine, go in docs/performance.md.

use std::time::{Duration, Instant};

use serde_json::json;
use zkattr_service::{
    coord::{
        bundle::{Artifacts, Bundle},
        client::Client,
        server::{self, App, Config},
        store::{now_ms, NewJob},
        JobKind,
    },
    datanet::record::test_key,
    proving::SrsSource,
};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn row(name: &str, mut lat: Vec<Duration>, errors: usize, elapsed: Duration) {
    lat.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "| {name} | {} | {errors} | {:.0} | {:.2} ms | {:.2} ms | {:.2} ms |",
        lat.len(),
        lat.len() as f64 / elapsed.as_secs_f64(),
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.99)),
        ms(*lat.last().expect("some requests")),
    );
}

/// Runs `clients` loops of `one` for `secs`; returns latencies and the error count.
async fn phase<F, Fut>(clients: usize, secs: u64, one: F) -> (Vec<Duration>, usize, Duration)
where
    F: Fn(usize, u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let one = one.clone();
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut errors, mut n) = (Vec::new(), 0usize, 0u64);
            while Instant::now() < end {
                let t = Instant::now();
                if one(c, n).await {
                    lat.push(t.elapsed());
                } else {
                    errors += 1;
                }
                n += 1;
            }
            (lat, errors)
        }));
    }
    let (mut lat, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (l, e) = t.await.expect("client task");
        lat.extend(l);
        errors += e;
    }
    (lat, errors, start.elapsed())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let secs: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10);
    let clients: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(16);
    let home = tempfile::tempdir().expect("scratch home");
    let mut cfg = Config::new(home.path().to_path_buf(), SrsSource::InsecureTest);
    if let Ok(url) = std::env::var("ZKATTR_LOAD_DATABASE_URL") {
        cfg.database_url = url;
    }
    cfg.rate_per_minute = u32::MAX;
    cfg.lease_ttl_ms = 3_600_000;
    let app = App::open(cfg).await.expect("coordinator");
    let store = app.store().clone();

    // One proven epoch with 200 receipts, through the store.
    let contributors: Vec<String> = (1..=200u32).map(|i| format!("0x{i:040x}")).collect();
    let mut bundle = Bundle::default();
    for (i, who) in contributors.iter().enumerate() {
        let receipt = json!({
            "format": "zkattr.receipt.v0", "contributor": who, "amount": "123456789012345678901",
            "list_index": i, "items": (0..10).map(|k| i * 10 + k).collect::<Vec<_>>(),
            "score_total": "987654321", "score_clamped": "987654321", "datanet": "digits", "version": 1,
            "public_inputs": {"chain_id": 31337, "settlement": "0x7fa9385be102ac3eac297483dd6233d62b3e1496",
                "epoch": 1, "params_hash": format!("0x{:064x}", 1), "datanet_root": format!("0x{:064x}", 2),
                "model_commitment": format!("0x{:064x}", 3), "features_root": format!("0x{:064x}", 4),
                "query_commitment": format!("0x{:064x}", 5), "pool": "1000000000000000000000000",
                "total_rewarded": "999999999999999999999999", "r": format!("0x{:064x}", 6), "y": format!("0x{:064x}", 7)},
            "proof_keccak": format!("0x{:064x}", 8), "trust": "x".repeat(400),
        });
        use base64::Engine;
        bundle.files.insert(
            format!("receipts/{who}.json"),
            base64::engine::general_purpose::STANDARD.encode(receipt.to_string()),
        );
    }
    let address = Artifacts::new(home.path().join("artifacts"))
        .put(&bundle.to_bytes())
        .expect("artifact");
    let prover = "0x00000000000000000000000000000000000000aa";
    store
        .register_worker(prover, &json!({}), now_ms())
        .await
        .expect("worker");
    let spec = json!({});
    let (train, prove) = store
        .create_epoch("load", &json!({}), "0x00", &spec, 3, now_ms())
        .await
        .expect("epoch");
    for job in [train, prove] {
        let l = store
            .lease(prover, &JobKind::ALL, now_ms(), 60_000)
            .await
            .expect("lease")
            .expect("a job");
        assert_eq!(l.job, job);
        store
            .accept(job, &l.lease_id, prover, &address, "0", now_ms())
            .await
            .expect("accept");
    }
    // Queued jobs for the lease phase.
    let queue = NewJob {
        epoch: "queue".into(),
        kind: JobKind::Prove,
        spec: json!({}),
        after: None,
        max_attempts: 1,
    };
    store
        .enqueue_all(&vec![queue; 100_000], now_ms())
        .await
        .expect("enqueue");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let served = app.clone();
    tokio::spawn(async move { server::serve(served, listener, std::future::pending()).await });

    println!(
        "coordinator on {url}, database {:?}, {clients} clients, {secs} s per phase, {} CPUs",
        store.dialect(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    println!("| phase | requests | errors | requests/s | p50 | p99 | max |");
    println!("|---|---|---|---|---|---|---|");

    let reader = Client::new(&url, None).expect("client");
    let (c, r) = (contributors.clone(), reader.clone());
    let (lat, errors, elapsed) = phase(clients, secs, move |client, n| {
        let (c, r) = (c.clone(), r.clone());
        async move {
            let who = &c[(client * 7919 + n as usize * 104_729) % c.len()];
            r.get_bytes(&format!("/v1/receipts/load/{who}"))
                .await
                .is_ok()
        }
    })
    .await;
    row("receipt queries", lat, errors, elapsed);

    let workers: Vec<Client> = (0..clients)
        .map(|i| Client::new(&url, Some(test_key(&format!("load-worker-{i}")))).expect("client"))
        .collect();
    for w in &workers {
        w.register(json!({})).await.expect("register");
    }
    let (lat, errors, elapsed) = phase(clients, secs, move |client, _| {
        let w = workers[client].clone();
        async move { matches!(w.lease(&[JobKind::Prove], 0).await, Ok(Some(_))) }
    })
    .await;
    row("job leases (signed)", lat, errors, elapsed);
}
