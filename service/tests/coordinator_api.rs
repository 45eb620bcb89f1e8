//! The coordinator's HTTP API in-process (no proving): the OpenAPI document matches the routes, and
//! unsigned, forged, replayed, malformed, oversized, unauthorised and over-rate requests get a 4xx with a
//! message, never a 500.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{json, Value};
use zkattr_service::{
    coord::{
        auth::sign_request,
        client::{Client, ClientError},
        server::{self, App, Config, EpochRequest},
        store::now_ms,
        JobKind,
    },
    datanet::record::test_key,
    proving::SrsSource,
};

struct Running {
    url: String,
    app: Arc<App>,
    _home: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

async fn start(tune: impl FnOnce(&mut Config)) -> Running {
    let home = tempfile::tempdir().unwrap();
    let mut cfg = Config::new(home.path().to_path_buf(), SrsSource::InsecureTest);
    cfg.operators = vec![alloy_primitives::Address::from_private_key(&test_key(
        "operator",
    ))];
    tune(&mut cfg);
    let app = App::open(cfg).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let a = app.clone();
    tokio::spawn(async move {
        server::serve(a, listener, async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    Running {
        url,
        app,
        _home: home,
        stop: Some(tx),
    }
}

fn status(e: &ClientError) -> StatusCode {
    e.status().unwrap_or_else(|| panic!("no HTTP status: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_lists_exactly_the_served_routes() {
    let c = start(|_| {}).await;
    let http = reqwest::Client::new();
    let doc: Value = http
        .get(format!("{}/openapi.json", c.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let mut listed = 0;
    for (path, ops) in paths {
        for (method, _) in ops.as_object().unwrap() {
            listed += 1;
            let concrete = path
                .replace("{address}", "0x0000000000000000000000000000000000000001")
                .replace("{id}", "1")
                .replace("{key}", "1-0x0000000000000000000000000000000000000001-1")
                .replace("{name}", "digits")
                .replace("{version}", "1")
                .replace(
                    "{contributor}",
                    "0x0000000000000000000000000000000000000001",
                );
            let resp = http
                .request(
                    method.to_uppercase().parse().unwrap(),
                    format!("{}{concrete}", c.url),
                )
                .send()
                .await
                .unwrap();
            let st = resp.status();
            let body = resp.text().await.unwrap();
            // A documented route exists (it may refuse the empty request, but not as an unknown route).
            assert_ne!(st, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert!(!body.contains("no route"), "{method} {path}: {body}");
            assert!(!st.is_server_error(), "{method} {path}: {st} {body}");
        }
    }
    assert_eq!(listed, server::ROUTES.len());
    // Every write is signed (the signature headers are checked before a POST body is read).
    for (method, path, signed, _) in server::ROUTES {
        assert_eq!(*method == "post", *signed, "{method} {path}");
    }
    // And an undocumented one is unknown: the check above can fail.
    let resp = http
        .get(format!("{}/v1/nothing", c.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert!(resp.text().await.unwrap().contains("no route"));
    let health: Value = http
        .get(format!("{}/health", c.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health, json!({"status": "ok", "database": "sqlite"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datanets_are_created_filled_and_sealed_through_the_api() {
    let c = start(|_| {}).await;
    let owner = Client::new(&c.url, Some(test_key("owner"))).unwrap();
    let other = Client::new(&c.url, Some(test_key("someone"))).unwrap();
    let operator = Client::new(&c.url, Some(test_key("operator"))).unwrap();
    let all = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../data/digits/records.jsonl"
    ))
    .unwrap();
    let lines: Vec<&str> = all.lines().take(6).collect();
    let created = owner.create_datanet("digits").await.unwrap();
    assert_eq!(
        created["owner"],
        format!(
            "{:#x}",
            alloy_primitives::Address::from_private_key(&test_key("owner"))
        )
    );
    let e = other.create_datanet("digits").await.unwrap_err();
    assert_eq!(status(&e), StatusCode::CONFLICT, "{e}");
    let e = owner.create_datanet("no spaces").await.unwrap_err();
    assert_eq!(status(&e), StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    // Anyone submits records; each carries its contributor's signature.
    let first = lines[..4].join("\n") + "\n";
    assert_eq!(
        other.add_records("digits", first.as_bytes()).await.unwrap()["items"],
        4
    );
    // A record whose label was changed after signing, a duplicate, nothing: refused, nothing added.
    let mut forged: Value = serde_json::from_str(lines[4]).unwrap();
    forged["label"] = "9".into();
    for (body, why) in [
        (format!("{}\n{forged}\n", lines[5]), "bad signature"),
        (format!("{}\n", lines[0]), "duplicate content"),
        (String::new(), "no records"),
    ] {
        let e = other
            .add_records("digits", body.as_bytes())
            .await
            .unwrap_err();
        assert_eq!(status(&e), StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert!(e.to_string().contains(why), "expected {why:?}: {e}");
    }
    let e = other
        .add_records("none", first.as_bytes())
        .await
        .unwrap_err();
    assert_eq!(status(&e), StatusCode::NOT_FOUND, "{e}");
    // Only the owner (or an operator) seals.
    let e = other.seal("digits").await.unwrap_err();
    assert_eq!(status(&e), StatusCode::FORBIDDEN, "{e}");
    let v1 = owner.seal("digits").await.unwrap();
    assert_eq!(
        (v1["version"].as_u64(), v1["items"].as_u64()),
        (Some(1), Some(4))
    );
    let e = owner.seal("digits").await.unwrap_err();
    assert_eq!(status(&e), StatusCode::CONFLICT, "{e}");
    owner
        .add_records("digits", (lines[4..6].join("\n") + "\n").as_bytes())
        .await
        .unwrap();
    let v2 = operator.seal("digits").await.unwrap();
    assert_eq!(
        (v2["version"].as_u64(), v2["items"].as_u64()),
        (Some(2), Some(6))
    );
    // What the API serves rebuilds to the same roots.
    let reader = Client::new(&c.url, None).unwrap();
    let summary = reader.get_json("/v1/datanets/digits").await.unwrap();
    assert_eq!(summary["versions"][1]["root"], v2["root"]);
    let served = reader
        .get_bytes("/v1/datanets/digits/versions/1/records")
        .await
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut nets = zkattr_service::datanet::Datanets::open(tmp.path()).unwrap();
    nets.create("copy").unwrap();
    nets.import(
        "copy",
        std::io::Cursor::new(served),
        "api",
        Default::default(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(
        nets.seal("copy").unwrap().root,
        v1["root"].as_str().unwrap()
    );
    assert_eq!(
        reader.get_json("/v1/datanets").await.unwrap()["datanets"],
        json!(["digits"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_a_clear_4xx() {
    let c = start(|cfg| {
        cfg.max_body_bytes = 4096;
        cfg.rate_per_minute = 40;
    })
    .await;
    let http = reqwest::Client::new();
    let worker = test_key("worker-1");
    let w = Client::new(&c.url, Some(worker.clone())).unwrap();

    // Unsigned write.
    let r = http
        .post(format!("{}/v1/workers", c.url))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("missing header x-zkattr-address"));

    // Signed by one key, body swapped afterwards: refused as not that key's.
    let body = br#"{"capabilities":{}}"#;
    let headers = sign_request(&worker, "POST", "/v1/workers", now_ms(), body);
    let mut req = http
        .post(format!("{}/v1/workers", c.url))
        .body(&br#"{"capabilities":{"gpu":1}}"#[..]);
    for (k, v) in &headers {
        req = req.header(*k, v);
    }
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await.unwrap().contains("signature is not"));

    // The genuine request once, then its replay.
    let send = || {
        let mut req = http.post(format!("{}/v1/workers", c.url)).body(&body[..]);
        for (k, v) in &headers {
            req = req.header(*k, v);
        }
        req.send()
    };
    assert_eq!(send().await.unwrap().status(), StatusCode::OK);
    let r = send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await.unwrap().contains("replay"));

    // Malformed JSON, properly signed.
    let bad = b"{not json";
    let mut req = http.post(format!("{}/v1/jobs/lease", c.url)).body(&bad[..]);
    for (k, v) in sign_request(&worker, "POST", "/v1/jobs/lease", now_ms(), bad) {
        req = req.header(k, v);
    }
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("request body"));

    // Oversized, signed: 413 as JSON. Unsigned: refused before its body is read.
    let big = vec![b' '; 8192];
    let e = w.add_records("digits", &big).await.unwrap_err();
    assert_eq!(status(&e), StatusCode::PAYLOAD_TOO_LARGE, "{e}");
    let r = http
        .post(format!("{}/v1/epochs", c.url))
        .body(vec![b' '; 32 << 10])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("missing header"),
        "{body}"
    );
    // A large unsigned body: answered 401 before it is read, so the sender may not even finish sending.
    match http
        .post(format!("{}/v1/jobs/1/result", c.url))
        .body(vec![b' '; 16 << 20])
        .send()
        .await
    {
        Ok(r) => assert_eq!(r.status(), StatusCode::UNAUTHORIZED),
        Err(e) => assert!(e.is_request() || e.is_body(), "{e}"),
    }

    // An unregistered worker leasing; a registered one acting on a lease it does not hold.
    let stranger = Client::new(&c.url, Some(test_key("stranger"))).unwrap();
    let e = stranger.lease(&JobKind::ALL, 0).await.unwrap_err();
    assert_eq!(status(&e), StatusCode::FORBIDDEN, "{e}");
    assert!(w.lease(&JobKind::ALL, 0).await.unwrap().is_none());
    let e = w.heartbeat(1, "nope", None).await.unwrap_err();
    assert_eq!(status(&e), StatusCode::NOT_FOUND, "{e}");

    // Only operators create epochs; an operator's request for a Datanet that does not exist is refused.
    let req = EpochRequest {
        datanet: "digits".into(),
        version: 1,
        params_toml: None,
        epoch: 1,
        pool: "1000".into(),
        chain_id: 31337,
        settlement: "0x0000000000000000000000000000000000000001".into(),
        queries: "{}".into(),
        seed: 1,
        steps: None,
    };
    let e = w.create_epoch(&req).await.unwrap_err();
    assert_eq!(status(&e), StatusCode::FORBIDDEN);
    let op = Client::new(&c.url, Some(test_key("operator"))).unwrap();
    let e = op.create_epoch(&req).await.unwrap_err();
    assert_eq!(status(&e), StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e.to_string().contains("no Datanet named"), "{e}");
    let mut bad_pool = req.clone();
    bad_pool.pool = "-1".into();
    let e = op.create_epoch(&bad_pool).await.unwrap_err();
    assert_eq!(status(&e), StatusCode::BAD_REQUEST, "{e}");

    // Unknown things.
    for path in ["/v1/jobs/99", "/v1/epochs/x", "/v1/datanets/none"] {
        let r = http.get(format!("{}{path}", c.url)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let r = http
        .get(format!("{}/v1/artifacts/../../etc/passwd", c.url))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());
    let r = http
        .get(format!("{}/v1/artifacts/0x12", c.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // Rate: 40 signed requests a minute per key.
    let mut limited = None;
    for _ in 0..45 {
        if let Err(e) = w.lease(&JobKind::ALL, 0).await {
            limited = Some(e);
            break;
        }
    }
    let e = limited.expect("the rate limit");
    assert_eq!(status(&e), StatusCode::TOO_MANY_REQUESTS);
    assert!(e.is_transient());

    // Every refusal is counted, and none was a 5xx.
    let m = http
        .get(format!("{}/metrics", c.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        m.contains("zkattr_http_requests_total{route=\"/v1/workers\",status=\"401\"} 3"),
        "{m}"
    );
    assert!(!m.contains("status=\"5"), "{m}");
    assert!(m.contains("zkattr_workers 1"), "{m}");
    assert_eq!(c.app.store().workers().await.unwrap().len(), 1);
}

/// Runs `zkattr --json --home HOME ARGS…` off the async runtime; the JSON output or the error's text.
async fn cli(home: &std::path::Path, args: &[&str]) -> Result<Value, String> {
    let mut argv: Vec<String> = ["zkattr", "--json", "--home", home.to_str().unwrap()]
        .iter()
        .map(|s| s.to_string())
        .collect();
    argv.extend(args.iter().map(|s| s.to_string()));
    tokio::task::spawn_blocking(move || {
        use clap::Parser;
        zkattr_service::cli::Cli::try_parse_from(&argv)
            .unwrap()
            .run()
            .map(|o| o.json)
            .map_err(|e| e.to_string())
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_homes_versions_are_pushed_with_the_same_roots() {
    let c = start(|_| {}).await;
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("owner.key");
    std::fs::write(
        &key,
        format!("0x{}\n", hex::encode(test_key("owner").to_bytes())),
    )
    .unwrap();
    let (key, url) = (key.to_str().unwrap(), c.url.as_str());
    let all = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../data/digits/records.jsonl"
    ))
    .unwrap();
    let lines: Vec<&str> = all.lines().take(14).collect();
    let home = tmp.path().join("home");
    let add = |home: std::path::PathBuf, part: &[&str]| {
        let file = tmp.path().join("part.jsonl");
        std::fs::write(&file, part.join("\n") + "\n").unwrap();
        async move {
            cli(&home, &["datanet", "add", "digits", file.to_str().unwrap()])
                .await
                .unwrap();
            cli(&home, &["datanet", "seal", "digits"]).await.unwrap()["root"].clone()
        }
    };
    cli(&home, &["datanet", "create", "digits"]).await.unwrap();
    let r1 = add(home.clone(), &lines[..5]).await;
    let r2 = add(home.clone(), &lines[5..8]).await;
    let push = [
        "datanet",
        "push",
        "digits",
        "--coordinator",
        url,
        "--key",
        key,
    ];
    let out = cli(&home, &push).await.unwrap();
    assert_eq!(out["pushed"].as_array().unwrap().len(), 2, "{out}");
    let reader = Client::new(url, None).unwrap();
    let remote = reader.get_json("/v1/datanets/digits").await.unwrap();
    assert_eq!(remote["versions"][0]["root"], r1);
    assert_eq!(remote["versions"][1]["root"], r2);
    // Nothing new: nothing pushed. A new version: only it.
    assert_eq!(cli(&home, &push).await.unwrap()["pushed"], json!([]));
    let r3 = add(home.clone(), &lines[8..10]).await;
    let out = cli(&home, &push).await.unwrap();
    assert_eq!(
        out["pushed"],
        json!([{"version": 3, "items": 10, "root": r3}])
    );
    // Unsealed records on the coordinator are never sealed by a push, even when they are exactly this
    // home's next version (a push cut off before its seal): the owner seals them, then the roots agree.
    let r4 = add(home.clone(), &lines[10..12]).await;
    let owner = Client::new(url, Some(test_key("owner"))).unwrap();
    owner
        .add_records("digits", (lines[10..12].join("\n") + "\n").as_bytes())
        .await
        .unwrap();
    let e = cli(&home, &push).await.unwrap_err();
    assert!(e.contains("2 unsealed items after version 3"), "{e}");
    assert_eq!(owner.seal("digits").await.unwrap()["root"], r4);
    assert_eq!(cli(&home, &push).await.unwrap()["pushed"], json!([]));
    // Someone else's unsealed records that happen to make up as many items: refused, nothing sealed.
    owner
        .add_records("digits", format!("{}\n", lines[13]).as_bytes())
        .await
        .unwrap();
    add(home.clone(), &lines[12..13]).await;
    let e = cli(&home, &push).await.unwrap_err();
    assert!(e.contains("1 unsealed items after version 4"), "{e}");
    assert_eq!(
        reader.get_json("/v1/datanets/digits").await.unwrap()["versions"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    // A Datanet of the same name owned by another key on the coordinator: refused before anything is added.
    cli(&home, &["datanet", "create", "theirs"]).await.unwrap();
    let file = tmp.path().join("theirs.jsonl");
    std::fs::write(&file, lines[..3].join("\n") + "\n").unwrap();
    cli(&home, &["datanet", "add", "theirs", file.to_str().unwrap()])
        .await
        .unwrap();
    cli(&home, &["datanet", "seal", "theirs"]).await.unwrap();
    Client::new(url, Some(test_key("someone")))
        .unwrap()
        .create_datanet("theirs")
        .await
        .unwrap();
    let e = cli(
        &home,
        &[
            "datanet",
            "push",
            "theirs",
            "--coordinator",
            url,
            "--key",
            key,
        ],
    )
    .await
    .unwrap_err();
    assert!(e.contains("is owned by"), "{e}");
    assert_eq!(
        reader.get_json("/v1/datanets/theirs").await.unwrap()["items"],
        0
    );
    // A home whose versions differ from the coordinator's: refused, naming the version.
    let other = tmp.path().join("other");
    cli(&other, &["datanet", "create", "digits"]).await.unwrap();
    add(other.clone(), &lines[1..6]).await;
    let e = cli(&other, &push).await.unwrap_err();
    assert!(e.contains("differs from this home's at version 1"), "{e}");
    // Publishing from the coordinator rebuilds the version locally and checks it (the chain is not
    // deployed in this home, which is the next thing it needs).
    let e = cli(
        &other,
        &[
            "datanet",
            "publish",
            "digits",
            "--version",
            "2",
            "--coordinator",
            url,
        ],
    )
    .await
    .unwrap_err();
    assert!(e.contains("deploy"), "{e}");
    assert!(other
        .join("snapshots")
        .join(format!(
            "digits-v2-{}",
            r2.as_str().unwrap().trim_start_matches("0x")
        ))
        .join("complete")
        .exists());
}

/// A signed request is accepted once by all coordinators sharing a database, and by a restarted one: the
/// digests seen are in the database, not in one process's memory (without the database check the second
/// coordinator accepts the replay: tried).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_request_is_accepted_once_by_every_coordinator_on_a_database() {
    let a = start(|_| {}).await;
    let db = format!(
        "sqlite://{}",
        a._home.path().join("coordinator.db").display()
    );
    let d = db.clone();
    let b = start(move |cfg| cfg.database_url = d).await;
    let http = reqwest::Client::new();
    let body = br#"{"capabilities":{}}"#;
    let headers = sign_request(&test_key("worker-9"), "POST", "/v1/workers", now_ms(), body);
    let send = |url: &str| {
        let mut req = http.post(format!("{url}/v1/workers")).body(&body[..]);
        for (k, v) in &headers {
            req = req.header(*k, v);
        }
        req.send()
    };
    assert_eq!(send(&a.url).await.unwrap().status(), StatusCode::OK);
    for c in [&b, &start(move |cfg| cfg.database_url = db).await] {
        let r = send(&c.url).await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(r.text().await.unwrap().contains("replay"));
    }
}
